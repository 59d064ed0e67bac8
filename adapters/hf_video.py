"""Open video-language models that transformers supports natively, through their processors
and chat templates: Qwen2-VL, Qwen2.5-VL, LLaVA-OneVision, LLaVA-NeXT-Video, InternVL3.

Frames come from the shared sampler and frame cache (uniform, first and last included), so
every model sees the same frames for the same FrameSpec; each processor then resizes them its
own way. The prompt's user part goes into the model's chat template after the video; an
assistant prefix (`Answer: (`) is appended after the generation prompt.
"""

from __future__ import annotations

from typing import ClassVar

from harness.adapters._hf import ChatTemplateAdapter, QwenVLAdapter


class Qwen2VL7B(QwenVLAdapter):
    family = "qwen2-vl"
    hub_id = "Qwen/Qwen2-VL-7B-Instruct"
    needs = "GPU ~20 GB (bf16), weights Qwen/Qwen2-VL-7B-Instruct, extra [tarsier]"
    gpu_memory_gb = 20
    default_frames: ClassVar[int] = 16
    # 32k context; at 360x420 pixels two frames share about 193 tokens: the sampler's cap binds first
    max_frames: ClassVar[int] = 256
    default_dtype: ClassVar[str] = "bfloat16"
    max_pixels: ClassVar[int | None] = 360 * 420
    vllm_min: ClassVar[str] = "0.6.1"
    vllm_max: ClassVar[str] = ""

    def vllm_request(self, sample, frames):
        import numpy as np

        video = np.stack([np.asarray(im) for im in self.video_frames(frames)])
        return {"prompt": self.chat_text(sample), "multi_modal_data": {"video": video}}


class Qwen25VL7B(Qwen2VL7B):
    family = "qwen2.5-vl"
    hub_id = "Qwen/Qwen2.5-VL-7B-Instruct"
    needs = "GPU ~20 GB (bf16), weights Qwen/Qwen2.5-VL-7B-Instruct, extra [tarsier]"
    model_class: ClassVar[str] = "Qwen2_5_VLForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.49"


class LlavaOneVision7B(ChatTemplateAdapter):
    requires_modules: ClassVar[tuple[str, ...]] = ("torchvision",)  # transformers' video processors
    family = "llava-onevision"
    hub_id = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
    needs = "GPU ~20 GB (fp16), weights llava-hf/llava-onevision-qwen2-7b-ov-hf, extra [tarsier], torchvision"
    gpu_memory_gb = 20
    model_class: ClassVar[str] = "LlavaOnevisionForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.45"
    default_frames: ClassVar[int] = 32
    max_frames: ClassVar[int] = 160  # 32k context (Qwen2-7B), 196 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)


class LlavaVideo7B(ChatTemplateAdapter):
    requires_modules: ClassVar[tuple[str, ...]] = ("torchvision",)  # transformers' video processors
    family = "llava-next-video"
    hub_id = "llava-hf/LLaVA-NeXT-Video-7B-hf"
    needs = "GPU ~16 GB (fp16), weights llava-hf/LLaVA-NeXT-Video-7B-hf, extra [tarsier], torchvision"
    gpu_memory_gb = 16
    model_class: ClassVar[str] = "LlavaNextVideoForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.45"
    default_frames: ClassVar[int] = 32
    max_frames: ClassVar[int] = 56  # 8k positions (Vicuna-7B, linear RoPE x2), 144 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)


class InternVL3_8B(ChatTemplateAdapter):
    requires_modules: ClassVar[tuple[str, ...]] = ("torchvision",)  # transformers' video processors
    family = "internvl"
    hub_id = "OpenGVLab/InternVL3-8B-hf"
    needs = "GPU ~20 GB (bf16), weights OpenGVLab/InternVL3-8B-hf, transformers >= 4.52, extra [tarsier], torchvision"
    gpu_memory_gb = 20
    model_class: ClassVar[str] = "InternVLForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.52"
    default_dtype: ClassVar[str] = "bfloat16"
    default_frames: ClassVar[int] = 8
    max_frames: ClassVar[int] = 120  # 32k context, 256 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)
