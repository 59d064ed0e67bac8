"""Pieces every frame-consuming adapter shares: frame loading through the shared frame cache,
prompt splitting, per-sample error records, library versions for the run spec.

Nothing heavy is imported here; torch, transformers, vllm and google-genai are imported by
the adapter that needs them, when it needs them.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from typing import Any, ClassVar

from harness.adapter import Adapter, AdapterOptions
from harness.errors import BadInput, HarnessError, MissingDependency, VideoError
from harness.types import FrameSpec, Prediction, Sample

VIDEO_PLACEHOLDER = "<video>"
_USER_RE = re.compile(r"^\s*USER:\s?", re.S)


class VideoAdapter(Adapter):
    """An adapter that sees a video as frames sampled by harness.video (through the cache)."""

    # Shown by `harness list models` (class attributes, so listing loads no weights).
    default_frames: ClassVar[int] = 8
    default_backend: ClassVar[str] = ""
    backends: ClassVar[tuple[str, ...]] = ()
    resize: ClassVar[str] = "none"  # harness.video resize mode applied before caching
    max_pixels: ClassVar[int | None] = None  # pixel cap applied before caching (None: full size)
    repeat: ClassVar[int] = 1  # each frame passed this many times (Tarsier2: 2)

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.backend = options.backend or self.default_backend or self.backend
        if self.backends and self.backend not in self.backends:
            raise BadInput(f"{model} runs on backend {' or '.join(self.backends)}, not {self.backend!r}")
        n = options.frames or self.default_frames
        if n < 1:
            raise BadInput(f"--frames must be >= 1, got {n}")
        self.frames = self.frame_spec(n)
        self._frame_cache = None

    def frame_spec(self, n: int) -> FrameSpec:
        return FrameSpec(n_frames=n, resize=self.resize, max_pixels=self.max_pixels,
                         repeat=self.repeat, sampler_version=_sampler_version())

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
        """The FrameSample for a sample's video (VideoError when it cannot be decoded)."""
        if not sample.video:
            raise VideoError(f"sample {sample.id} has no video")
        return self.frame_cache.get(sample.video, self.frames.n_frames, resize=self.frames.resize,
                                    max_pixels=self.sampler_max_pixels)

    def close(self) -> None:
        if self._frame_cache is not None:
            self._frame_cache.close()
            self._frame_cache = None


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


def user_text_without_video(prompt: str) -> tuple[str, str]:
    """(user text with the placeholder removed, assistant prefix) for chat-template models."""
    user, prefix = split_chat_prompt(prompt)
    before, after = split_on_video(user)
    return "\n".join(t for t in (before, after) if t), prefix


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
