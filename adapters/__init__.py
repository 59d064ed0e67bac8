"""Model registry: one line per model id; prefix adapters take an argument after ':'.

Each adapter module imports its heavy dependencies (torch, transformers, vllm, google-genai)
inside the adapter, so listing models stays cheap.
"""

MODELS = {
    "tarsier-7b": "harness.adapters.tarsier:Tarsier7B",
    "tarsier-34b": "harness.adapters.tarsier:Tarsier34B",
    "tarsier2-7b": "harness.adapters.tarsier2:Tarsier2Adapter",
    "qwen2-vl-7b": "harness.adapters.hf_video:Qwen2VL7B",
    "qwen2.5-vl-7b": "harness.adapters.hf_video:Qwen25VL7B",
    "llava-onevision-7b": "harness.adapters.hf_video:LlavaOneVision7B",
    "llava-next-video-7b": "harness.adapters.hf_video:LlavaNextVideo7B",
    "llava-video-7b": "harness.adapters.hf_video:LlavaVideo7B",
    "internvl3-8b": "harness.adapters.hf_video:InternVL3_8B",
    "gpt-4o": "harness.adapters.openai_api:GPT4o",
    "gpt-4o-mini": "harness.adapters.openai_api:GPT4oMini",
    "gpt-4.1": "harness.adapters.openai_api:GPT41",
    "gemini-1.5-pro": "harness.adapters.gemini:GeminiAdapter",
    "gemini-1.5-flash": "harness.adapters.gemini:GeminiAdapter",
    "gemini-2.0-flash": "harness.adapters.gemini:GeminiAdapter",
}

# "file:PATH", "openai-compatible:NAME": the part after ':' is the adapter's argument.
PREFIXES = {
    "file": "harness.adapters.file:FileAdapter",
    "openai-compatible": "harness.adapters.openai_api:OpenAICompatibleAdapter",
}
