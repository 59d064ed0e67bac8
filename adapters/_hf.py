"""Open models run locally: through transformers (default) or vLLM (`--backend vllm`).

`LocalAdapter` holds what every local model shares: where the weights are (a hub id in the
Hugging Face cache, or `--model-path`), the device and dtype, the pre-flight check, batching
with left padding, greedy decoding, and the versions recorded in the run spec.
`ChatTemplateAdapter` is the processor-driven path for models transformers supports natively
(Qwen2-VL, Qwen2.5-VL, LLaVA-OneVision, LLaVA-NeXT-Video, InternVL, Tarsier2).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, ClassVar

from harness.adapter import AdapterOptions
from harness.errors import BadInput, MissingDependency
from harness.types import Prediction, Sample

from harness.adapters.tarsier2_inputs import smart_resize  # Qwen2-VL's size rule, one copy
from harness.adapters._base import (VideoAdapter, chat_turns, error_prediction, frames_record, prompt_hash, require,
                                    user_text_without_video, version_tuple, versions)

DTYPES = {"float16": "float16", "fp16": "float16", "half": "float16", "bfloat16": "bfloat16",
          "bf16": "bfloat16", "float32": "float32", "fp32": "float32"}


class LocalAdapter(VideoAdapter):
    family = "local"
    backend = "transformers"
    default_backend: ClassVar[str] = "transformers"
    backends: ClassVar[tuple[str, ...]] = ("transformers", "vllm")
    hub_id: ClassVar[str] = ""
    extra: ClassVar[str] = "tarsier"  # pip extra with torch + transformers
    min_transformers: ClassVar[str] = "4.44"
    default_dtype: ClassVar[str] = "float16"
    gpu_memory_gb: ClassVar[int] = 16
    multi_gpu: ClassVar[bool] = False  # device_map="auto" across the visible GPUs
    default_max_new_tokens: ClassVar[int] = 512
    default_batch_size: ClassVar[int] = 1
    requires_modules: ClassVar[tuple[str, ...]] = ()  # beyond torch + transformers

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.batch_size = options.batch_size or self.default_batch_size
        self.max_new_tokens = options.max_new_tokens or self.default_max_new_tokens
        self.device = options.device or "cuda"
        dtype = (options.extra.get("dtype") or self.default_dtype).lower()
        if dtype not in DTYPES:
            raise BadInput(f"unknown --dtype {dtype!r}; use float16, bfloat16 or float32")
        self.dtype = DTYPES[dtype]
        if options.model_path:
            self.source = str(Path(options.model_path).expanduser())
        else:
            self.source = self.hub_id
        self.model_obj = None
        self._engine = None  # vLLM engine when backend == "vllm"

    # -- identity ------------------------------------------------------------------------
    def generation_settings(self) -> dict[str, Any]:
        return {"do_sample": False, "max_new_tokens": self.max_new_tokens, "use_cache": True,
                "dtype": self.dtype, "batch_padding": "left"}

    def spec_fields(self) -> dict[str, Any]:
        gen = self.generation_settings()
        if self.backend == "vllm":
            from harness.adapters.vllm_engine import vllm_generation_settings

            gen = {**gen, **vllm_generation_settings(self)}
            libs = versions("vllm", "torch", "transformers")
        else:
            gen["device"] = "cpu" if self.device == "cpu" else self.device.split(":")[0]
            libs = versions("torch", "transformers")
        revision = self.options.revision
        if self.options.model_path:
            gen["checkpoint"] = "local"
            revision = revision or _local_checkpoint_id(self.source)
        return {"model_revision": revision, "backend": self.backend, "backend_versions": libs,
                "generation": gen}

    # -- pre-flight ----------------------------------------------------------------------
    def check(self) -> None:
        if self.backend == "vllm":
            from harness.adapters.vllm_engine import check_vllm

            check_vllm(self)
        else:
            require(("torch", "transformers") + self.requires_modules, self.model, self.extra)
            import transformers

            if version_tuple(transformers.__version__) < version_tuple(self.min_transformers):
                raise MissingDependency(
                    f"{self.model} needs transformers >= {self.min_transformers} "
                    f"(installed: {transformers.__version__}): pip install -U 'video-harness[{self.extra}]'")
        problems = []
        hint = ""
        if self.backend == "vllm" or self.device.startswith("cuda"):
            gpu = _gpu_problem(self.device, self.gpu_memory_gb, self.multi_gpu)
            if gpu:
                problems.append(gpu)
                if self.backend != "vllm":
                    hint = " (--device cpu exists for small test checkpoints)"
        elif self.device not in ("cpu", "mps") and not self.device.startswith(("xpu", "npu")):
            raise BadInput(f"unknown --device {self.device!r}; use cuda, cuda:N or cpu")
        weights = self._weights_problem()
        if weights:
            problems.append(weights)
        if problems:
            raise BadInput(f"{self.model} cannot run here: {'; '.join(problems)}{hint}")

    def _weights_problem(self) -> str | None:
        if self.options.model_path:
            p = Path(self.source)
            if not p.is_dir():
                return f"no checkpoint folder at --model-path {p}"
            if not (p / "config.json").is_file():
                return f"--model-path {p} has no config.json (not a Hugging Face checkpoint folder)"
            return None
        if _in_hf_cache(self.hub_id, self.options.revision):
            return None
        return (f"no weights: {self.hub_id} is not in the Hugging Face cache ({_hf_cache_dir()}); "
                f"download it with `hf download {self.hub_id}` or pass --model-path DIR")

    # -- loading -------------------------------------------------------------------------
    def torch_dtype(self):
        import torch

        return getattr(torch, self.dtype)

    def dtype_kwargs(self) -> dict[str, Any]:
        """`dtype=` (transformers >= 4.56) or `torch_dtype=` (older)."""
        import transformers

        name = "dtype" if version_tuple(transformers.__version__) >= (4, 56) else "torch_dtype"
        return {name: self.torch_dtype()}

    def pretrained_kwargs(self) -> dict[str, Any]:
        kw: dict[str, Any] = {"revision": self.options.revision}
        if not self.options.model_path:
            kw["local_files_only"] = True  # check() found it in the cache; never download mid-run
        return kw

    def device_map(self):
        if self.multi_gpu and self.device == "cuda":
            return "auto"
        return {"": self.device}

    def load(self) -> None:
        if self.backend == "vllm":
            if self._engine is None:
                from harness.adapters.vllm_engine import VllmEngine

                self._engine = VllmEngine(self)
            return
        if self.model_obj is None:
            try:
                self.load_transformers()
            except (OSError, ValueError) as exc:
                raise BadInput(f"cannot load {self.model} from {self.source}: "
                               f"{' '.join(str(exc).split())[:300]}") from None

    def load_transformers(self) -> None:
        raise NotImplementedError

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        if self.backend == "vllm":
            return self._engine.generate(samples)
        out: dict[str, Prediction] = {}
        ready = []
        for s in samples:
            try:
                ready.append((s, self.load_frames(s)))
            except Exception as exc:
                out[s.id] = error_prediction(s, "video", exc)
        if ready:
            t0 = time.perf_counter()
            try:
                preds = self.generate_transformers(ready)
            except Exception as exc:
                if _is_oom(exc):
                    _free_cuda_cache()
                preds = [error_prediction(s, "generation", exc) for s, _ in ready]
            per = (time.perf_counter() - t0) / len(ready)
            for p in preds:
                out[p.sample_id] = p if p.seconds is not None else p.model_copy(update={"seconds": per})
        return [out[s.id] for s in samples if s.id in out]

    def generate_transformers(self, batch: list[tuple[Sample, Any]]) -> list[Prediction]:
        raise NotImplementedError

    def generate_kwargs(self) -> dict[str, Any]:
        kw = {"do_sample": False, "num_beams": 1, "max_new_tokens": self.max_new_tokens,
              "use_cache": True, "temperature": None, "top_p": None, "top_k": None}
        if self.stream is not None and self.stream.listener is not None:  # chat: the reply as it is made
            kw["streamer"] = text_streamer(self.tokenizer, self.stream)
        return kw

    def decode_new_tokens(self, tokenizer, new_tokens, stop_ids=None) -> tuple[list[str], list[int]]:
        """Texts and token counts of generated ids (batch x new), stopping at EOS / padding
        (or at any of `stop_ids`, the generation config's end tokens)."""
        texts, counts = [], []
        stop = {t for t in (tokenizer.eos_token_id, tokenizer.pad_token_id) if t is not None}
        if stop_ids is not None:
            stop |= set(stop_ids if isinstance(stop_ids, (list, tuple)) else [stop_ids])
        for row in new_tokens.tolist():
            n = len(row)
            for i, t in enumerate(row):
                if t in stop:
                    n = i
                    break
            texts.append(tokenizer.decode(row[:n], skip_special_tokens=True).strip())
            counts.append(n)
        return texts, counts

    # -- vLLM request construction (per family; see vllm_engine) --------------------------
    def vllm_request(self, sample: Sample, frames) -> dict[str, Any]:
        raise BadInput(f"{self.model} has no vLLM backend here; use --backend transformers")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        super().close()


class ChatTemplateAdapter(LocalAdapter):
    """Models whose processor takes `videos=` and whose chat template places the video tokens."""

    model_class: ClassVar[str] = "AutoModelForImageTextToText"
    template_source: ClassVar[str] = "processor"  # or "tokenizer" (Tarsier2)
    system_prompt: ClassVar[str | None] = None

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.processor = None

    def load_transformers(self) -> None:
        import transformers

        kw = self.pretrained_kwargs()
        self.processor = transformers.AutoProcessor.from_pretrained(self.source, **kw)
        tok = self.tokenizer
        tok.padding_side = "left"
        if tok.pad_token_id is None:
            tok.pad_token = tok.eos_token
        self.model_obj = self.load_model_class(kw)
        self.configure_processor()

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def load_model_class(self, kw: dict[str, Any]):
        """The checkpoint in transformers' class for this family, in eval mode."""
        import transformers

        cls = getattr(transformers, self.model_class, None)
        if cls is None:
            raise MissingDependency(f"{self.model} needs transformers with {self.model_class} "
                                    f"(installed {transformers.__version__}): pip install -U transformers")
        model = cls.from_pretrained(self.source, device_map=self.device_map(), **self.dtype_kwargs(), **kw)
        return model.eval()

    def configure_processor(self) -> None:
        """Hook: adjust processor settings after loading."""

    def video_frames(self, frames) -> list:
        """Hook: the PIL frames handed to the processor (after sampling and caching)."""
        images = list(frames.images)
        if self.repeat > 1:
            images = [im for im in images for _ in range(self.repeat)]
        return images

    def messages(self, sample: Sample) -> list[dict[str, Any]]:
        user, _ = user_text_without_video(sample.prompt)
        msgs = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        msgs.append({"role": "user", "content": [{"type": "video"}, {"type": "text", "text": user}]})
        msgs += [{"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in chat_turns(sample)]
        return msgs

    def chat_text(self, sample: Sample) -> str:
        _, prefix = user_text_without_video(sample.prompt)
        msgs = self.messages(sample)
        renderer = self.tokenizer if self.template_source == "tokenizer" else self.processor
        if getattr(renderer, "chat_template", None) is None:
            renderer = self.processor if renderer is self.tokenizer else self.tokenizer
        if getattr(renderer, "chat_template", None) is None:
            raise BadInput(f"{self.source} has no chat template (tokenizer or processor)")
        text = renderer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
        return text + prefix

    def processor_inputs(self, texts: list[str], videos: list[list]) -> Any:
        return self.processor(text=texts, videos=videos, return_tensors="pt", padding=True)

    def generate_transformers(self, batch):
        import torch

        texts = [self.chat_text(s) for s, _ in batch]
        videos = [self.video_frames(f) for _, f in batch]
        inputs = self.processor_inputs(texts, videos)
        device = self.model_obj.get_input_embeddings().weight.device
        inputs = inputs.to(device)
        for k, v in list(inputs.items()):
            if hasattr(v, "is_floating_point") and v.is_floating_point():
                inputs[k] = v.to(self.torch_dtype())
        with torch.inference_mode():
            out = self.model_obj.generate(**inputs, **self.generate_kwargs())
        n_in = inputs["input_ids"].shape[1]
        outs, counts = self.decode_new_tokens(self.tokenizer, out[:, n_in:])
        mask = inputs["attention_mask"]
        return [Prediction(sample_id=s.id, text=t, prompt_tokens=int(mask[i].sum()),
                           completion_tokens=c, n_frames=len(f.images),
                           meta={"inputs": self.inputs_record(f, v, inputs, i, text)})
                for i, ((s, f), v, text, t, c) in enumerate(zip(batch, videos, texts, outs, counts))]

    def inputs_record(self, frames, video: list, inputs, row: int, text: str) -> dict[str, Any]:
        """Frames, sizes, visual tokens (counted in the model input) and the hash of the text the
        processor was given (its one video placeholder is expanded by the processor)."""
        cfg = self.model_obj.config
        tok_id = getattr(cfg, "video_token_id", None) or getattr(cfg, "video_token_index", None)
        if "pixel_values_videos" not in inputs and "video_grid_thw" not in inputs:
            tok_id = getattr(cfg, "image_token_id", None) or getattr(cfg, "image_token_index", None)
        input_ids = inputs["input_ids"][row]
        pix = inputs.get("pixel_values_videos", inputs.get("pixel_values"))
        size = [int(pix.shape[-1]), int(pix.shape[-2])] if pix is not None and pix.dim() >= 4 else \
            (list(video[0].size) if video else None)
        rec = frames_record(frames)
        rec.update({"images": len(video), "resized_wh": size,
                    "visual_tokens": int((input_ids == tok_id).sum()) if tok_id is not None else None,
                    "prompt_sha256": prompt_hash(text), "prompt": text})
        return rec


# -- helpers -------------------------------------------------------------------------------
def text_streamer(tokenizer, stream):
    """A transformers streamer handing each finished piece of the reply to `stream` (a TextStream)."""
    from transformers import TextStreamer

    class _ToStream(TextStreamer):
        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            stream.put(text)

    return _ToStream(tokenizer, skip_prompt=True, skip_special_tokens=True)


def _gpu_problem(device: str, gb: int, multi: bool) -> str | None:
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    if not torch.cuda.is_available():
        need = f"{gb} GB of GPU memory" + (" (several GPUs)" if multi else "")
        return f"no CUDA GPU (torch sees none; it needs about {need})"
    if ":" in device:
        idx = int(device.split(":", 1)[1] or 0)
        if idx >= torch.cuda.device_count():
            return f"--device {device}: only {torch.cuda.device_count()} GPU(s) visible"
    return None


def _hf_cache_dir() -> str:
    try:
        from huggingface_hub import constants

        return str(constants.HF_HUB_CACHE)
    except Exception:
        return os.environ.get("HF_HUB_CACHE", "~/.cache/huggingface/hub")


def _in_hf_cache(repo_id: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    got = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    return isinstance(got, str)


def _local_checkpoint_id(path: str) -> str | None:
    """A short fingerprint of a local checkpoint (config + weight index), so runs of different
    local checkpoints never share a run directory."""
    import hashlib

    p = Path(path)
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors.index.json", "generation_config.json"):
        f = p / name
        if f.is_file():
            h.update(name.encode() + b"\0" + f.read_bytes())
    for f in sorted(p.glob("*.safetensors")):
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}".encode())
    return "local-" + h.hexdigest()[:12]


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def _free_cuda_cache() -> None:
    try:
        import torch

        torch.cuda.empty_cache()
    except Exception:
        pass


class QwenVLAdapter(ChatTemplateAdapter):
    """Qwen2-VL-style models (Tarsier2 too).

    Frames are resized by Qwen's rule (sides multiples of 28, area capped at `max_pixels`) here,
    once, with PIL bicubic; the checkpoint's Qwen2-VL image processor then patches them (its own
    resize is the identity on such sizes) and the `<|video_pad|>` placeholder is expanded to
    grid_t * grid_h * grid_w / merge_size**2 tokens. This path needs no torchvision and gives
    the same pixels on every transformers version from 4.45 on.
    """

    model_class: ClassVar[str] = "Qwen2VLForConditionalGeneration"
    template_source: ClassVar[str] = "tokenizer"
    min_transformers: ClassVar[str] = "4.45"
    max_pixels: ClassVar[int | None] = 360 * 420
    video_token: ClassVar[str] = "<|video_pad|>"

    @property
    def sampler_max_pixels(self) -> int | None:
        return None  # cached frames are full size; smart_resize below applies the cap once

    def generation_settings(self) -> dict[str, Any]:
        return {**super().generation_settings(), "frame_resize": "qwen-smart-resize(28), PIL bicubic"}

    def load_transformers(self) -> None:
        import transformers

        kw = self.pretrained_kwargs()
        self.processor = load_tokenizer(self.source, kw)
        self.image_processor = transformers.AutoImageProcessor.from_pretrained(self.source, use_fast=False, **kw)
        self.model_obj = self.load_model_class(kw)
        if self.tokenizer.convert_tokens_to_ids(self.video_token) != getattr(self.model_obj.config, "video_token_id", None):
            raise BadInput(f"{self.source}: tokenizer and config disagree on the id of {self.video_token}")

    def input_layout(self, frames) -> dict[str, Any]:
        w, h = frames.width, frames.height
        nh, nw = smart_resize(h, w, 28, min_pixels=56 * 56, max_pixels=self.max_pixels or 10**12)
        images = len(frames.images) * self.repeat
        images += images % 2  # the temporal patch takes frames in pairs
        return {"images": images, "resized_wh": [nw, nh], "grid_thw": [images // 2, nh // 14, nw // 14],
                "visual_tokens": images // 2 * (nh // 28) * (nw // 28)}

    def vllm_tokens_per_frame(self) -> int:
        """Upper bound of LLM tokens per sampled frame (a merged 2x2 patch of 28 px is one token
        per pair of frames; with repeat 2 each sampled frame is one pair)."""
        return math.ceil((self.max_pixels or 28 * 28 * 1280) / (28 * 28)) + 2

    def _min_pixels(self) -> int:
        ip = getattr(self, "image_processor", None)
        v = getattr(ip, "min_pixels", None)
        if v is None and isinstance(getattr(ip, "size", None), dict):
            v = ip.size.get("shortest_edge") or ip.size.get("min_pixels")
        return int(v) if v else 56 * 56

    def resize_frame(self, img):
        from PIL import Image

        w, h = img.size
        nh, nw = smart_resize(h, w, 28, min_pixels=self._min_pixels(), max_pixels=self.max_pixels or 10**12)
        if (nw, nh) != (w, h):
            img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        return img

    def video_frames(self, frames) -> list:
        images = [self.resize_frame(im) for im in frames.images]
        if self.repeat > 1:
            images = [im for im in images for _ in range(self.repeat)]
        elif len(images) % 2:  # the temporal patch takes frames in pairs: repeat the last, explicitly
            images = images + [images[-1]]
        return images

    def processor_inputs(self, texts: list[str], videos: list[list]) -> Any:
        import numpy as np

        ip = self.image_processor
        # no resizing here: frames already have Qwen sizes (smart_resize above)
        with _quiet("transformers.models.qwen2_vl.image_processing_qwen2_vl"):  # the BC-path notice
            vis = ip(images=None, videos=videos, do_resize=False, return_tensors="pt")
        grids = vis["video_grid_thw"]
        merge = int(getattr(ip, "merge_size", 2)) ** 2
        expanded = []
        for text, grid in zip(texts, grids):
            if text.count(self.video_token) != 1:
                raise BadInput(f"the chat template gave {text.count(self.video_token)} video placeholders, expected 1")
            n = int(np.prod(grid.tolist())) // merge
            expanded.append(text.replace(self.video_token, self.video_token * n))
        enc = self.tokenizer(expanded, return_tensors="pt", padding=True, add_special_tokens=False)
        enc["pixel_values_videos"] = vis["pixel_values_videos"]
        enc["video_grid_thw"] = grids
        return enc


class _quiet:
    """Silence one logger for a block (a deprecation notice repeated every batch)."""

    def __init__(self, name: str):
        import logging

        self.logger = logging.getLogger(name)

    def __enter__(self):
        self.level = self.logger.level
        self.logger.setLevel(40)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def checkpoint_folder(source: str, revision: str | None = None) -> str | None:
    """A checkpoint's folder: --model-path itself, or the hub id's snapshot in the Hugging Face cache."""
    if Path(source).is_dir():
        return source
    try:
        from huggingface_hub import try_to_load_from_cache

        got = try_to_load_from_cache(source, "config.json", revision=revision)
    except ImportError:
        return None
    return str(Path(got).parent) if isinstance(got, str) else None


def load_tokenizer(source: str, kw: dict, template: bool = True) -> Any:
    """The checkpoint's tokenizer for batched generation: left padding, a pad token, and (template) the
    checkpoint's chat template file when the tokenizer carries none."""
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(source, **kw)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    if template and getattr(tok, "chat_template", None) is None:
        tok.chat_template = _chat_template_file(source, kw)
    return tok


def _chat_template_file(source: str, kw: dict) -> str | None:
    """chat_template.json / .jinja of a checkpoint whose tokenizer has no template."""
    import json

    for name in ("chat_template.jinja", "chat_template.json"):
        try:
            if Path(source).is_dir():
                f = Path(source) / name
                if not f.is_file():
                    continue
                path = str(f)
            else:
                from huggingface_hub import hf_hub_download

                path = hf_hub_download(source, name, revision=kw.get("revision"), local_files_only=True)
        except Exception:
            continue
        text = Path(path).read_text(encoding="utf-8")
        return json.loads(text)["chat_template"] if name.endswith(".json") else text
    return None
