"""Open video-language models that transformers supports natively, through their processors
and chat templates: Qwen2-VL, Qwen2.5-VL, LLaVA-OneVision, LLaVA-NeXT-Video, InternVL3.

Frames come from the shared sampler and frame cache (uniform, first and last included), so
every model sees the same frames for the same FrameSpec; each processor then resizes them its
own way. The prompt's user part goes into the model's chat template after the video; an
assistant prefix (`Answer: (`) is appended after the generation prompt.
"""

from __future__ import annotations

from typing import Any, ClassVar

from harness.adapters import pil_video
from harness.errors import BadInput
from harness.adapters._hf import ChatTemplateAdapter, QwenVLAdapter, checkpoint_folder, load_tokenizer


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


class PILVideoAdapter(ChatTemplateAdapter):
    """LLaVA video models: transformers' processor where torchvision imports, else the same tensors
    and token counts built by harness.adapters.pil_video (no torchvision needed)."""

    video_size: ClassVar[dict[str, int]] = {"height": 384, "width": 384}
    video_crop: ClassVar[dict[str, int] | None] = None

    def __init__(self, model, options):
        super().__init__(model, options)
        self.pil = None  # VideoSettings when the harness builds the video tensors

    def generation_settings(self) -> dict[str, Any]:
        how = "transformers video processor (torchvision)" if pil_video.torchvision_ok() else \
            "harness PIL video tensors (no torchvision): bicubic resize, rescale, normalise"
        return {**super().generation_settings(), "video_processor": how}

    def load_transformers(self) -> None:
        if pil_video.torchvision_ok():
            return super().load_transformers()
        kw = self.pretrained_kwargs()
        self.processor = load_tokenizer(self.source, kw)
        self.model_obj = self.load_model_class(kw)
        folder = checkpoint_folder(self.source, self.options.revision)
        self.pil = pil_video.VideoSettings.from_checkpoint(folder or "", self.video_size, self.video_crop)

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        raise NotImplementedError

    def processor_inputs(self, texts: list[str], videos: list[list]) -> Any:
        if self.pil is None:
            return super().processor_inputs(texts, videos)
        cfg = self.model_obj.config
        pv = pil_video.pixel_values(videos, self.pil)
        n = self.video_tokens(pv.shape[1], pv.shape[-2], pv.shape[-1])
        token = self.tokenizer.convert_ids_to_tokens(cfg.video_token_index)
        for t in texts:
            if t.count(token) != 1:
                raise BadInput(f"the chat template gave {t.count(token)} video placeholders, expected 1")
        enc = self.tokenizer([t.replace(token, token * n) for t in texts], return_tensors="pt", padding=True,
                             add_special_tokens=False)
        enc["pixel_values_videos"] = pv
        return enc


class LlavaOneVision7B(PILVideoAdapter):
    family = "llava-onevision"
    hub_id = "llava-hf/llava-onevision-qwen2-7b-ov-hf"
    needs = "GPU ~20 GB (fp16), weights llava-hf/llava-onevision-qwen2-7b-ov-hf, extra [tarsier]"
    gpu_memory_gb = 20
    model_class: ClassVar[str] = "LlavaOnevisionForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.45"
    default_frames: ClassVar[int] = 32
    max_frames: ClassVar[int] = 160  # 32k context (Qwen2-7B), 196 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        return pil_video.onevision_tokens(frames, height, self.model_obj.config.vision_config.patch_size)


class LlavaNextVideo7B(PILVideoAdapter):
    family = "llava-next-video"
    video_size: ClassVar[dict[str, int]] = {"shortest_edge": 224}
    video_crop: ClassVar[dict[str, int] | None] = {"height": 224, "width": 224}
    hub_id = "llava-hf/LLaVA-NeXT-Video-7B-hf"
    needs = "GPU ~16 GB (fp16), weights llava-hf/LLaVA-NeXT-Video-7B-hf, extra [tarsier]"
    gpu_memory_gb = 16
    model_class: ClassVar[str] = "LlavaNextVideoForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.45"
    default_frames: ClassVar[int] = 32
    max_frames: ClassVar[int] = 56  # 8k positions (Vicuna-7B, linear RoPE x2), 144 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        return pil_video.next_video_tokens(frames, height, width, self.model_obj.config.vision_config.patch_size)


class LlavaVideo7B(LlavaOneVision7B):
    """LLaVA-Video-7B-Qwen2 (lmms-lab), in transformers' LLaVA-OneVision classes (llava-hf conversion)."""

    family = "llava-video"
    hub_id = "llava-hf/LLaVA-Video-7B-Qwen2-hf"
    needs = "GPU ~20 GB (fp16), weights llava-hf/LLaVA-Video-7B-Qwen2-hf, extra [tarsier]"


class InternVL3_8B(PILVideoAdapter):
    """InternVL3 (transformers' -hf conversion): each frame is one 448 px tile, written into the prompt
    as `FrameK: <img><IMG_CONTEXT>*image_seq_length</img>` lines, its pixels as `pixel_values`."""

    family = "internvl"
    hub_id = "OpenGVLab/InternVL3-8B-hf"
    needs = "GPU ~20 GB (bf16), weights OpenGVLab/InternVL3-8B-hf, transformers >= 4.52, extra [tarsier]"
    gpu_memory_gb = 20
    model_class: ClassVar[str] = "InternVLForConditionalGeneration"
    min_transformers: ClassVar[str] = "4.52"
    default_dtype: ClassVar[str] = "bfloat16"
    default_frames: ClassVar[int] = 8
    max_frames: ClassVar[int] = 120  # 32k context, 256 tokens a frame
    backends: ClassVar[tuple[str, ...]] = ("transformers",)
    video_size: ClassVar[dict[str, int]] = {"height": 448, "width": 448}

    def processor_inputs(self, texts: list[str], videos: list[list]) -> Any:
        if self.pil is None:
            return super().processor_inputs(texts, videos)
        tok = self.tokenizer
        start, end = getattr(tok, "start_image_token", "<img>"), getattr(tok, "end_image_token", "</img>")
        context = tok.convert_ids_to_tokens(self.model_obj.config.image_token_id)
        video = getattr(tok, "video_token", "<video>")
        seq = int(self.model_obj.config.image_seq_length)
        pv = pil_video.pixel_values(videos, self.pil)
        expanded = []
        for t, frames in zip(texts, videos):
            if t.count(video) != 1:
                raise BadInput(f"the chat template gave {t.count(video)} video placeholders, expected 1")
            lines = "\n".join(f"Frame{i + 1}: {start}{context * seq}{end}" for i in range(len(frames)))
            expanded.append(t.replace(video, lines))
        enc = tok(expanded, return_tensors="pt", padding=True, add_special_tokens=False)
        enc["pixel_values"] = pv.flatten(0, 1)
        return enc
