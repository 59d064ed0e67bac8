"""Tarsier2 (omni-research/Tarsier2-7b-0115) as its official code runs it (bytedance/tarsier main).

- Weights: the released LLaVA-style wrapper mapped onto transformers' Qwen2-VL classes
  (tarsier2_checkpoint.py); a missing or unexpected weight stops the run.
- Frames: Tarsier2's sampler (range(N) for short clips, windows rounded), each frame twice, the
  per-sample cap and first resize, then the checkpoint's slow Qwen2-VL image processor
  (tarsier2_inputs.py).
- Prompt: the checkpoint's processor chat template, called as TarsierProcessor calls it at
  inference (dataset/tarsier_processor.py:100-112): the messages end with the assistant turn of
  the annotation (empty, or " Answer: (" then empty), so add_generation_prompt=False and
  strip_final_eos=True. The video item carries num_vision_tokens, which the template writes out
  as image tokens; the model replaces one token id (config.image_token_index) for frames.
- Generation: bf16, greedy, 512 new tokens (tasks/inference_benchmark.py:79-81,150-156,
  scripts/run_inference_benchmark.sh:60-72), plus what the checkpoint's generation_config.json
  sets that still matters under greedy decoding (repetition penalty, end tokens), passed
  explicitly so both backends apply the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from harness.errors import BadInput
from harness.types import MAX_FRAMES, Prediction, Sample

from harness.adapters import tarsier2_inputs as t2
from harness.adapters._base import chat_turns, inputs_record, split_on_video
from harness.adapters._hf import LocalAdapter, _chat_template_file, checkpoint_folder, load_tokenizer
from harness.adapters.generation import checkpoint_generation

VISION_PAD = ("<|image_pad|>", "<|video_pad|>")


def user_and_prefix(sample: Sample) -> tuple[str, str]:
    """The user text (placeholder removed) and the assistant prefix kept verbatim.

    The prefix is Sample.extra["assistant_prefix"] when the benchmark gives it (the messages
    format's assistant text, e.g. " Answer: ("); else the text after the last "ASSISTANT:" of a
    Tarsier text-format prompt, leading space included, as the messages format writes it."""
    prompt = sample.prompt
    prefix = sample.extra.get("assistant_prefix")
    if "ASSISTANT:" in prompt:
        head, _, tail = prompt.rpartition("ASSISTANT:")
        prompt = head
        if prefix is None:
            prefix = tail
    prompt = prompt.strip()
    if prompt.startswith("USER:"):
        prompt = prompt[len("USER:"):]
    before, after = split_on_video(prompt)
    return "\n".join(t for t in (before, after) if t), prefix or ""


def official_messages(user: str, prefix: str, num_vision_tokens: int) -> list[dict[str, Any]]:
    """The messages TarsierProcessor renders for one sample at inference."""
    assistant = [{"type": "text", "text": prefix}, {"type": "text", "text": ""}] if prefix else \
        [{"type": "text", "text": ""}]
    return [{"role": "user", "content": [{"type": "video", "num_vision_tokens": num_vision_tokens},
                                         {"type": "text", "text": user}]},
            {"role": "assistant", "content": assistant}]


class Tarsier2Adapter(LocalAdapter):
    family = "tarsier"
    hub_id = "omni-research/Tarsier2-7b-0115"
    needs = "GPU ~20 GB (bf16), weights omni-research/Tarsier2-7b-0115, extra [tarsier]"
    gpu_memory_gb = 20
    min_transformers: ClassVar[str] = "4.45"
    default_frames: ClassVar[int] = 16
    # Qwen2-VL-7B's 32,768 positions never bind: the per-sample pixel cap (128*384*384 over the doubled
    # frames) keeps a video under 15,000 visual tokens whatever the frame count and aspect (tarsier2_inputs.py),
    # so the harness's own bound (memory: every frame is held decoded) is the limit.
    max_frames: ClassVar[int] = MAX_FRAMES
    sampler: ClassVar[str] = "tarsier2"
    repeat: ClassVar[int] = 2
    max_pixels: ClassVar[int | None] = t2.STEP1_MAX_PIXELS  # the first resize's cap (before the per-sample cap)
    default_dtype: ClassVar[str] = "bfloat16"
    default_max_new_tokens: ClassVar[int] = 512
    vllm_min: ClassVar[str] = "0.9.2"
    vllm_max: ClassVar[str] = "0.23.0"
    video_token: ClassVar[str] = "<|video_pad|>"  # vLLM's Qwen2-VL placeholder

    def __init__(self, model, options):
        super().__init__(model, options)
        self.tokenizer = None
        self.image_processor = None
        self.chat_template = None
        self.image_token_id = None

    @property
    def sampler_max_pixels(self) -> int | None:
        return None  # frames are cached at full size; the first resize depends on the frame count

    # -- identity --------------------------------------------------------------------------
    def generation_settings(self) -> dict[str, Any]:
        gen = super().generation_settings()
        gen.update(checkpoint_generation(self.source, self.options.revision))
        gen.update({"frames": "each twice; first resize <= 460800 px (128*384*384 // images per sample), "
                              "PIL bicubic; then the checkpoint's Qwen2-VL image processor",
                    "prompt": "processor chat template, assistant turn kept open (strip_final_eos)"})
        return gen

    def generate_kwargs(self) -> dict[str, Any]:
        kw = super().generate_kwargs()
        gen = checkpoint_generation(self.source, self.options.revision)
        if "repetition_penalty" in gen:
            kw["repetition_penalty"] = gen["repetition_penalty"]
        if "eos_token_id" in gen:
            kw["eos_token_id"] = gen["eos_token_id"]
        return kw

    # -- loading ---------------------------------------------------------------------------
    def load_transformers(self) -> None:
        from harness.adapters.tarsier2_checkpoint import load

        self.load_processor()
        self.model_obj = load(self.source, self.pretrained_kwargs(), self.dtype_kwargs(), self.device_map())

    def load_processor(self) -> None:
        """Tokenizer, chat template and image processor (no weights): all the inputs need."""
        kw = self.pretrained_kwargs()
        self.tokenizer = tok = load_tokenizer(self.source, kw, template=False)
        # the processor's own template first (TarsierProcessor passes chat_template=self.chat_template)
        self.chat_template = _chat_template_file(self.source, kw) or getattr(tok, "chat_template", None)
        if not self.chat_template:
            raise BadInput(f"{self.source} has no chat template (chat_template.json or the tokenizer's)")
        self.image_processor = t2.image_processor(self.source, **kw)
        conf = _wrapper_config(self.source, kw)
        from harness.adapters.tarsier2_checkpoint import qwen2vl_config

        qwen2vl_config(conf, self.source)  # the released layout, or one line saying it is not
        self.image_token_id = conf.get("image_token_index") or (conf.get("text_config") or {}).get("image_token_id")
        if self.image_token_id is None:
            raise BadInput(f"{self.source}: config.json names no image token (image_token_index)")

    # -- inputs ----------------------------------------------------------------------------
    def sample_inputs(self, sample: Sample, frames) -> dict[str, Any]:
        """Everything one sample sends to the model, and the record of it (both backends)."""
        images = t2.first_resize(frames.images, len(frames.images))
        pix = t2.pixel_inputs(self.image_processor, images)
        grid = [int(x) for x in pix["grid_thw"][0].tolist()]
        merge = int(self.image_processor.merge_size) ** 2
        n_tokens = grid[0] * grid[1] * grid[2] // merge
        text, how = self.render_prompt(sample, n_tokens)
        image_tok = self.tokenizer.convert_ids_to_tokens(int(self.image_token_id))
        record = inputs_record(frames, images, grid, n_tokens, text, image_tok)
        record["prompt_render"] = how
        return {"text": text, "pixel_values": pix["pixel_values"], "grid_thw": pix["grid_thw"], "images": images,
                "record": record}

    def render_prompt(self, sample: Sample, n_tokens: int) -> tuple[str, dict[str, str]]:
        """The prompt text with n_tokens image tokens, rendered as TarsierProcessor renders it."""
        user, prefix = user_and_prefix(sample)
        tok = self.tokenizer
        turns = chat_turns(sample)
        if turns:  # a conversation, as the official demo renders it (tools/conversation.py@63de87a):
            # the turns so far, then the generation prompt
            messages = official_messages(user, "", n_tokens)[:1] + [
                {"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in turns]
            text = tok.apply_chat_template(messages, chat_template=self.chat_template, tokenize=False,
                                           add_generation_prompt=True)
        else:
            text = tok.apply_chat_template(official_messages(user, prefix, n_tokens), chat_template=self.chat_template,
                                           tokenize=False, add_generation_prompt=False, strip_final_eos=True)
        how = {"eos": "template"}
        eos = tok.eos_token or ""
        if eos and text.rstrip().endswith(eos) and not prefix.rstrip().endswith(eos):
            text = text[:text.rstrip().rfind(eos)]  # a template without strip_final_eos: do what it means
            how["eos"] = "stripped here"
        image_tok = tok.convert_ids_to_tokens(int(self.image_token_id))
        count = text.count(image_tok)
        if count != n_tokens:
            pads = [p for p in VISION_PAD if text.count(p) == 1]
            if count > 1 or not pads:
                raise BadInput(f"the chat template wrote {count} {image_tok} tokens for a video of {n_tokens}")
            text = text.replace(pads[0], image_tok * n_tokens)  # one placeholder: expand it here
            how["video_tokens"] = "expanded here"
        return text, how

    def generate_transformers(self, batch):
        import torch

        prepared = [self.sample_inputs(s, f) for s, f in batch]
        tok = self.tokenizer
        enc = tok([p["text"] for p in prepared], return_tensors="pt", padding=True, add_special_tokens=False)
        device = self.model_obj.get_input_embeddings().weight.device
        inputs = {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device),
                  "pixel_values": torch.cat([p["pixel_values"] for p in prepared]).to(device, self.torch_dtype()),
                  "image_grid_thw": torch.cat([p["grid_thw"] for p in prepared]).to(device)}
        with torch.inference_mode():
            out = self.model_obj.generate(**inputs, **self.generate_kwargs())
        n_in = inputs["input_ids"].shape[1]
        texts, counts = self.decode_new_tokens(tok, out[:, n_in:])
        mask = inputs["attention_mask"]
        return [Prediction(sample_id=s.id, text=t, prompt_tokens=int(mask[i].sum()), completion_tokens=c,
                           n_frames=len(f.images), meta={"inputs": p["record"]})
                for i, ((s, f), p, t, c) in enumerate(zip(batch, prepared, texts, counts))]

    def decode_new_tokens(self, tokenizer, new_tokens, stop_ids=None):
        stop = checkpoint_generation(self.source, self.options.revision).get("eos_token_id")
        return super().decode_new_tokens(tokenizer, new_tokens, stop_ids=stop)

    def input_layout(self, frames) -> dict[str, Any]:
        """The official sizes and token count for these frames (the checkpoint's image processor
        settings when its preprocessor_config.json is at hand, Qwen2-VL's otherwise)."""
        folder = checkpoint_folder(self.source, self.options.revision)
        settings = t2.ImageProcessorSettings.from_checkpoint(folder)
        out = t2.layout(frames.width, frames.height, len(frames.images), settings).as_dict()
        out["image_processor"] = {"min_pixels": settings.min_pixels, "max_pixels": settings.max_pixels,
                                  "source": settings.source}
        return out

    # -- vLLM ------------------------------------------------------------------------------
    def vllm_request(self, sample: Sample, frames) -> dict[str, Any]:
        """The same frames at the size the image processor makes them (so vLLM's own resize is the
        identity), and the same prompt with the image-token run as vLLM's one video placeholder."""
        import numpy as np

        prepared = self.sample_inputs(sample, frames)
        settings = t2.settings_of(self.image_processor)
        video = np.stack([np.asarray(im) for im in t2.final_resize(prepared["images"], settings)])
        image_tok = self.tokenizer.convert_ids_to_tokens(int(self.image_token_id))
        n = prepared["record"]["visual_tokens"]
        prompt = prepared["text"].replace(image_tok * n, self.video_token, 1)
        if image_tok in prompt:
            raise BadInput(f"sample {sample.id}: image tokens outside the video in the prompt")
        return {"prompt": prompt, "multi_modal_data": {"video": video}, "record": prepared["record"]}

    def vllm_tokens_per_frame(self) -> int:
        return t2.STEP1_MAX_PIXELS // (28 * 28) + 2

    def vllm_engine_overrides(self) -> dict[str, Any]:
        """vLLM's own Tarsier2 architecture (hf_overrides, as vLLM documents it)."""
        import importlib.util

        over: dict[str, Any] = {"architectures": ["Tarsier2ForConditionalGeneration"]}
        if importlib.util.find_spec("vllm") and importlib.util.find_spec("vllm.transformers_utils.configs.tarsier2"):
            over["model_type"] = "tarsier2"  # vLLM versions with a Tarsier2Config want it named
        return {"hf_overrides": over, "limit_mm_per_prompt": {"video": 1}}


def _wrapper_config(source: str, kw: dict[str, Any]) -> dict[str, Any]:
    import json

    p = Path(source)
    if p.is_dir():
        f = p / "config.json"
    else:
        from huggingface_hub import hf_hub_download

        f = Path(hf_hub_download(source, "config.json", revision=kw.get("revision"), local_files_only=True))
    return json.loads(f.read_text(encoding="utf-8"))
