"""Pieces every frame-consuming adapter shares: frame loading through the shared frame cache,
prompt splitting, per-sample error records, library versions for the run spec.

Nothing heavy is imported here; torch, transformers, vllm and google-genai are imported by
the adapter that needs them, when it needs them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
from typing import Any, ClassVar

from harness.adapter import Adapter, AdapterOptions, frame_count
from harness.errors import BadInput, HarnessError, MissingDependency, VideoError
from harness.types import MAX_FRAMES, FrameSpec, Prediction, Sample

VIDEO_PLACEHOLDER = "<video>"
_USER_RE = re.compile(r"^\s*USER:\s?", re.S)


class VideoAdapter(Adapter):
    """An adapter that sees a video as frames sampled by harness.video (through the cache)."""

    # Shown by `harness list models` (class attributes, so listing loads no weights).
    default_frames: ClassVar[int] = 8
    # The most frames the model's context holds (with room for the prompt and the answer); a model
    # family sets its own, from its context length and tokens per frame. --frames above it is refused.
    max_frames: ClassVar[int] = MAX_FRAMES
    default_backend: ClassVar[str] = ""
    backends: ClassVar[tuple[str, ...]] = ()
    resize: ClassVar[str] = "none"  # harness.video resize mode applied before caching
    max_pixels: ClassVar[int | None] = None  # pixel cap applied before caching (None: full size)
    repeat: ClassVar[int] = 1  # each frame passed this many times (Tarsier2: 2)
    # harness.frame_rules sampler: the model's official loader ("tarsier1", "tarsier2"), or the
    # harness default ("uniform"), which follows Tarsier-1's loader under --protocol tarsier
    sampler: ClassVar[str] = "uniform"

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.backend = options.backend or self.default_backend or self.backend
        if self.backends and self.backend not in self.backends:
            raise BadInput(f"{model} runs on backend {' or '.join(self.backends)}, not {self.backend!r}")
        self.frames = self.frame_spec(frame_count(model, options.frames, self.default_frames, self.max_frames))
        self._frame_cache = None
        self._last_frames = None  # (clip key, FrameSample) of the last clip read

    def frame_spec(self, n: int) -> FrameSpec:
        sampler = self.sampler
        if sampler == "uniform" and self.options.protocol == "tarsier":
            sampler = "tarsier1"  # the reference protocol's loader (GIFs and frame lists: no repeats)
        return FrameSpec(n_frames=n, resize=self.resize, max_pixels=self.max_pixels,
                         repeat=self.repeat, sampler=sampler, sampler_version=_sampler_version())

    @property
    def frame_cache(self):
        if self._frame_cache is None:
            from harness.frame_cache import FrameCache

            self._frame_cache = FrameCache.for_options(self.options.cache_dir, self.options.env)
        return self._frame_cache

    @property
    def sampler_max_pixels(self) -> int | None:
        """Pixel cap applied when sampling (an adapter that resizes by its own rule returns None)."""
        return self.frames.max_pixels

    def load_frames(self, sample: Sample):
        """The FrameSample for a sample's clip (VideoError when it cannot be decoded): its video
        (within the clip window, when the annotation gives one) or its list of frame files. The last
        clip is kept in memory: consecutive questions on one video (and every turn of a chat) reuse it, so
        callers read the frames and never change them."""
        key = (sample.video, _stamp(sample.video), tuple(sample.extra.get("frame_files") or ()), clip_window(sample))
        last = self._last_frames
        if last is not None and last[0] == key:
            return last[1]
        frames = self._read_frames(sample)
        self._last_frames = (key, frames)
        return frames

    def _read_frames(self, sample: Sample):
        files = sample.extra.get("frame_files")
        if files:
            from harness.video import sample_frame_list

            return sample_frame_list(files, self.frames.n_frames, resize=self.frames.resize,
                                     max_pixels=self.sampler_max_pixels, sampler=self.frames.sampler)
        if not sample.video:
            raise VideoError(f"sample {sample.id} has no video")
        return self.frame_cache.get(sample.video, self.frames.n_frames, resize=self.frames.resize,
                                    max_pixels=self.sampler_max_pixels, sampler=self.frames.sampler,
                                    window=clip_window(sample))

    def input_layout(self, frames) -> dict[str, Any]:
        """What the model is given for these frames, without loading weights (`harness frames`):
        image count, sizes, visual tokens (None where only the model's processor knows)."""
        images = len(frames.images) * self.repeat
        return {"images": images, "resized_wh": list(frames.images[0].size) if frames.images else None,
                "visual_tokens": None, "note": "sizes after the harness's resize; the model's processor resizes again"}

    def close(self) -> None:
        if self._frame_cache is not None:
            self._frame_cache.close()
            self._frame_cache = None


def _stamp(path: str | None) -> tuple[int, int] | None:
    """(size, mtime) of a file: a file rewritten in place is read again."""
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if st else None


def clip_window(sample: Sample) -> tuple[float | None, float | None] | None:
    """(start_time, end_time) in seconds when the annotation restricts the clip, else None."""
    start, end = sample.extra.get("clip_start"), sample.extra.get("clip_end")
    if start is None and end is None:
        return None
    return (start, end)


def _sampler_version() -> str:
    from harness.video import SAMPLER_VERSION

    return str(SAMPLER_VERSION)


# -- prompts ------------------------------------------------------------------------------
def split_chat_prompt(prompt: str) -> tuple[str, str]:
    """('USER: ... ASSISTANT: prefix') -> (user text, assistant prefix); plain text -> (text, '').

    The Tarsier QA annotations write the whole turn (`USER: <video> question ... ASSISTANT:
    Answer: (`); chat models get the user part as the user message and the assistant prefix
    as the start of their reply (or, for APIs that cannot prefill, at the end of the message).
    """
    if "USER:" in prompt and "ASSISTANT:" in prompt:
        head, _, tail = prompt.rpartition("ASSISTANT:")
        user = _USER_RE.sub("", head, count=1).rstrip()
        return user, tail.lstrip()
    return prompt, ""


def split_on_video(text: str) -> tuple[str, str]:
    """Text before and after the first `<video>` placeholder (no placeholder: video first)."""
    if VIDEO_PLACEHOLDER in text:
        before, _, after = text.partition(VIDEO_PLACEHOLDER)
        return before.strip(), after.replace(VIDEO_PLACEHOLDER, "").strip()
    return "", text.strip()


def chat_turns(sample: Sample) -> list[dict[str, str]]:
    """The conversation after a sample's prompt (`Adapter.chat`): assistant and user turns in order,
    ending with the user turn to answer; [] for a benchmark sample."""
    return list(sample.extra.get("turns") or ())


def user_text_without_video(prompt: str) -> tuple[str, str]:
    """(user text with the placeholder removed, assistant prefix) for chat-template models."""
    user, prefix = split_chat_prompt(prompt)
    before, after = split_on_video(user)
    return "\n".join(t for t in (before, after) if t), prefix


# -- the record of a prediction's inputs ------------------------------------------------------
def inputs_record(frames, images: list, grid: list[int], n_tokens: int, prompt: str,
                  image_token: str = "<|image_pad|>") -> dict[str, Any]:
    """What a prediction was made from: frames (indices, times, rule), sizes, tokens, prompt hash."""
    record = frames_record(frames)
    record.update({"images": len(images), "resized_wh": list(images[0].size) if images else None,
                   "grid_thw": grid, "visual_tokens": n_tokens, "prompt_sha256": prompt_hash(prompt),
                   "prompt": compact_prompt(prompt, image_token)})
    return record


def frames_record(frames) -> dict[str, Any]:
    return {"frame_indices": list(frames.indices), "timestamps": [None if t is None else round(t, 6)
                                                                  for t in frames.timestamps],
            "frames_requested": frames.requested or len(frames.indices), "sampler": frames.sampler,
            "window": list(frames.window) if frames.window else None, "n_total": frames.n_total,
            "fps": frames.fps, "decoded_wh": [frames.width, frames.height]}


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact_prompt(text: str, token: str) -> str:
    """The prompt with each run of k visual tokens written `{token}*k` (the hash is of the full text)."""
    return re.sub(f"(?:{re.escape(token)}){{2,}}", lambda m: f"{token}*{len(m.group(0)) // len(token)}", text)



# -- errors and bookkeeping ----------------------------------------------------------------
def error_prediction(sample: Sample, stage: str, exc: BaseException, **kw: Any) -> Prediction:
    """A failed sample's record; the runner retries it on the next run."""
    if isinstance(exc, HarnessError):
        reason = str(exc)
    else:
        reason = f"{type(exc).__name__}: {exc}"
    reason = " ".join(reason.split())[:500]
    return Prediction(sample_id=sample.id, error=f"{stage}: {reason}", **kw)


def versions(*dists: str) -> dict[str, str]:
    """Installed versions of the given distributions (for RunSpec.backend_versions)."""
    out = {}
    for d in dists:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            out[d] = "missing"
    return out


def require(modules: tuple[str, ...], model: str, extra: str, pip: str | None = None) -> None:
    """MissingDependency naming the extra, when an optional library is not installed."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        how = pip or f"pip install 'video-harness[{extra}]'"
        raise MissingDependency(f"{model} needs {', '.join(missing)} (the [{extra}] extra): {how}")


def version_tuple(v: str) -> tuple[int, ...]:
    parts = []
    for p in re.split(r"[.+-]", v):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts)
