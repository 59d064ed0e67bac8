"""`--backend vllm`: open models through vLLM's offline engine, for throughput.

The model's adapter builds each request (`adapter.vllm_request(sample, frames)` -> {"prompt",
"multi_modal_data", "record"}) from the same frames, prompt and settings as its transformers
path; this module runs them. vLLM is imported only here, only when this backend is chosen.
Versions: Tarsier is in vLLM 0.9.1 .. 0.24.0, Tarsier2 in 0.9.2 .. 0.23.0 (dropped afterwards);
the `[vllm]` extra pins one that has both.

What keeps vLLM computing what the transformers path computes:
- Tarsier-1 frames are stretched to squares before they are sent (vLLM's CLIP processor would
  centre-crop them instead). Its prompt (8 x 601 frame tokens plus text, about 4,830 tokens)
  exceeds Vicuna's 4,096 positions: the limit is raised in the model config vLLM builds
  (hf_overrides), as the transformers path ignores it too (Llama's rotary embedding does not
  depend on it). No environment variable is set: this process's os.environ stays as it was.
- Tarsier2 runs as vLLM's own Tarsier2 architecture (hf_overrides, as vLLM documents it), with
  the frames already doubled and resized exactly as the transformers path resizes them (so
  vLLM's Qwen2-VL processor has nothing left to resize) and the same chat-template prompt, its
  run of image tokens written as vLLM's one video placeholder.
- Sampling: greedy, the same max tokens, and what the checkpoint's generation_config.json sets
  that matters under greedy decoding (repetition penalty, end tokens), given explicitly.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from harness.errors import BadInput, MissingDependency
from harness.types import Prediction, Sample

from harness.adapters._base import error_prediction, version_tuple
from harness.adapters.generation import checkpoint_generation

PROMPT_MARGIN = 512  # text tokens around the frames, generously


def required_model_len(adapter) -> int:
    """Tokens a request may need: frames x tokens per frame + prompt margin + the answer."""
    per_frame = adapter.vllm_tokens_per_frame() if hasattr(adapter, "vllm_tokens_per_frame") else 1280
    frames = adapter.frames.n_frames
    return frames * per_frame + PROMPT_MARGIN + adapter.max_new_tokens


def limit_mm_per_prompt(adapter) -> dict[str, int]:
    if hasattr(adapter, "video_token"):  # Qwen2-VL family: one video per prompt
        return {"video": 1}
    return {"image": adapter.frames.n_frames}


def sampling_kwargs(adapter) -> dict[str, Any]:
    """SamplingParams for vLLM: the transformers path's generate settings, field by field."""
    gen = checkpoint_generation(adapter.source, adapter.options.revision)
    if gen.get("no_repeat_ngram_size") or gen.get("bad_words_ids"):
        raise BadInput(f"{adapter.source}: its generation_config sets n-gram or word bans, which vLLM cannot "
                       "apply as transformers does; use --backend transformers")
    kw: dict[str, Any] = {"temperature": 0.0, "max_tokens": adapter.max_new_tokens, "skip_special_tokens": True}
    if "repetition_penalty" in gen:
        kw["repetition_penalty"] = gen["repetition_penalty"]
    if "eos_token_id" in gen:
        kw["stop_token_ids"] = list(gen["eos_token_id"])
    return kw


def raise_position_limit(config, need: int):
    """hf_overrides callable: the text config admits `need` positions (vLLM reads its limit there)."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else getattr(config, "text_config", config)
    if (getattr(text, "max_position_embeddings", None) or 0) < need:
        text.max_position_embeddings = need
    return config


def engine_kwargs(adapter) -> dict[str, Any]:
    """Keyword arguments of vllm.LLM for this adapter (no vLLM needed to build them)."""
    need = required_model_len(adapter)
    kw: dict[str, Any] = {"model": adapter.source, "dtype": adapter.dtype, "max_model_len": need,
                          "limit_mm_per_prompt": limit_mm_per_prompt(adapter), "seed": 0}
    if adapter.options.revision:
        kw["revision"] = adapter.options.revision
    overrides = adapter.vllm_engine_overrides() if hasattr(adapter, "vllm_engine_overrides") else {}
    kw.update(overrides)
    limit = _config_max_len(adapter.source)
    if limit is not None and need > limit and "hf_overrides" not in kw:
        kw["hf_overrides"] = functools.partial(raise_position_limit, need=need)
    return kw


def vllm_generation_settings(adapter) -> dict[str, Any]:
    kw = engine_kwargs(adapter)
    over = kw.get("hf_overrides")
    return {"engine": "vllm offline LLM.generate", **sampling_kwargs(adapter), "max_model_len": kw["max_model_len"],
            "limit_mm_per_prompt": kw["limit_mm_per_prompt"],
            "hf_overrides": over if isinstance(over, dict) or over is None else
            f"max_position_embeddings >= {kw['max_model_len']}"}


def check_vllm(adapter) -> None:
    import importlib.util

    if importlib.util.find_spec("vllm") is None:
        raise MissingDependency(f"{adapter.model} with --backend vllm needs vLLM: "
                                "pip install 'video-harness[vllm]' (a CUDA machine)")
    import importlib.metadata

    have = importlib.metadata.version("vllm")
    lo = getattr(adapter, "vllm_min", "")
    hi = getattr(adapter, "vllm_max", "")
    if (lo and version_tuple(have) < version_tuple(lo)) or (hi and version_tuple(have) > version_tuple(hi)):
        raise MissingDependency(f"{adapter.model} on vLLM needs {lo or 'any'} <= vllm <= {hi or 'any'} "
                                f"(installed {have}; later versions dropped it): pip install 'video-harness[vllm]'")


class VllmEngine:
    def __init__(self, adapter):
        self.adapter = adapter
        from vllm import LLM, SamplingParams

        if hasattr(adapter, "load_processor"):  # tokenizer, template, image processor: no weights
            adapter.load_processor()
        self.llm = LLM(**engine_kwargs(adapter))
        self.params = SamplingParams(**sampling_kwargs(adapter))
        if hasattr(adapter, "processor") and adapter.processor is None:  # chat-template models
            adapter.processor = self.llm.get_tokenizer()

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        out: dict[str, Prediction] = {}
        requests, ready = [], []
        for s in samples:
            try:
                frames = self.adapter.load_frames(s)
                req = dict(self.adapter.vllm_request(s, frames))
                record = req.pop("record", None)
                requests.append(req)
                ready.append((s, frames, record))
            except Exception as exc:
                out[s.id] = error_prediction(s, "video", exc)
        if requests:
            t0 = time.perf_counter()
            try:
                results = self.llm.generate(requests, self.params, use_tqdm=False)
            except Exception as exc:
                results = None
                for s, _, _ in ready:
                    out[s.id] = error_prediction(s, "generation", exc)
            if results is not None:
                per = (time.perf_counter() - t0) / len(ready)
                for (s, frames, record), r in zip(ready, results):
                    c = r.outputs[0]
                    meta = {"finish_reason": c.finish_reason}
                    meta["inputs"] = record or {"frame_indices": list(frames.indices)}
                    out[s.id] = Prediction(sample_id=s.id, text=c.text.strip(), seconds=per,
                                           prompt_tokens=len(r.prompt_token_ids or []),
                                           completion_tokens=len(c.token_ids), n_frames=len(frames.images), meta=meta)
        return [out[s.id] for s in samples if s.id in out]

    def close(self) -> None:
        self.llm = None


def _config_max_len(source: str) -> int | None:
    """The position limit in the checkpoint's (text) config, read from config.json."""
    import json
    from pathlib import Path

    f = Path(source) / "config.json"
    if not f.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            got = try_to_load_from_cache(source, "config.json")
            f = Path(got) if isinstance(got, str) else f
        except ImportError:
            return None
    try:
        conf = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    text = conf.get("text_config") if isinstance(conf.get("text_config"), dict) else conf
    value = text.get("max_position_embeddings")
    return int(value) if value else None
