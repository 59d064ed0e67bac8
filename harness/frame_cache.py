"""A frame cache shared by every adapter: decode a video once, reuse its frames everywhere.

Entries are keyed by the file's content hash (SHA-256), the sampler version, the number of
frames, the resize policy and the pixel cap, so a local model and an API model asking for the
same FrameSpec see bit-identical frames, and a re-run (or a second model) skips decoding.
Frames are stored losslessly (PNG), so a cached frame equals a freshly decoded one.

Failures are never cached: a video that cannot be decoded raises VideoError every time.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import VideoError

DEFAULT_SIZE_LIMIT = 20 * 2**30  # bytes; least recently used entries go first
_HASH_CHUNK = 1 << 20


def default_cache_root(cache_dir: str | os.PathLike | None = None, env: Any = None) -> Path:
    """`--cache-dir`, else $HARNESS_CACHE_DIR (harness.settings.Environment), else the user cache directory."""
    from harness.client.config import cache_root

    if not cache_dir:
        from harness.settings import Environment

        cache_dir = (env or Environment.load()).cache_dir
    return cache_root(cache_dir)


@dataclass(frozen=True)
class FrameKey:
    sha256: str
    sampler_version: str
    n: int
    resize: str
    max_pixels: int | None
    sampler: str = "uniform"
    window: tuple[float | None, float | None] | None = None

    def digest(self) -> str:
        blob = f"{self.sha256}|v{self.sampler_version}|n{self.n}|{self.resize}|{self.max_pixels}"
        if self.sampler != "uniform" or self.window:  # the default keeps its old keys
            blob += f"|{self.sampler}|{self.window}"
        return hashlib.sha256(blob.encode()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class FrameCache:
    """Sampled frames on disk (diskcache), plus a path -> content-hash memo.

    `root=None` disables the disk (every call decodes); useful in tests and one-off runs.
    Safe to share between threads (API adapters fetch frames concurrently).
    """

    def __init__(self, root: str | os.PathLike | None, size_limit: int = DEFAULT_SIZE_LIMIT):
        self.root = Path(root) if root is not None else None
        self._cache = None
        self._size_limit = size_limit
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_options(cls, cache_dir: str | None, env: Any = None) -> "FrameCache":
        """The frame cache under `--cache-dir` (env: the CLI's harness.settings.Environment; None: read it)."""
        from harness.settings import Environment

        env = env or Environment.load()
        if env.no_frame_cache:
            return cls(None)
        return cls(default_cache_root(cache_dir, env) / "frames")

    def _disk(self):
        if self.root is None:
            return None
        with self._lock:
            if self._cache is None:
                import diskcache

                self.root.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(self.root), size_limit=self._size_limit,
                                              eviction_policy="least-recently-used")
        return self._cache

    def content_hash(self, path: str | os.PathLike) -> str:
        """SHA-256 of the file, memoised by (absolute path, size, mtime) so big files hash once."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError as exc:
            raise VideoError(f"{p}: {exc.strerror or exc}") from None
        if not stat.S_ISREG(st.st_mode):  # a directory, a FIFO: the sampler's own wording
            raise VideoError(f"{p}: not a regular file")
        disk = self._disk()
        memo = ("sha256", str(p.resolve()), st.st_size, st.st_mtime_ns)
        if disk is not None:
            got = disk.get(memo)
            if got is not None:
                return got
        try:
            digest = file_sha256(p)
        except OSError as exc:
            raise VideoError(f"{p}: {exc.strerror or exc}") from None
        if disk is not None:
            disk.set(memo, digest)
        return digest

    def key(self, path: str | os.PathLike, n: int, resize: str = "none",
            max_pixels: int | None = None, sampler: str = "uniform", window=None) -> FrameKey:
        from harness.video import SAMPLER_VERSION

        return FrameKey(self.content_hash(path), SAMPLER_VERSION, int(n), resize, max_pixels, sampler,
                        tuple(window) if window and window != (None, None) else None)

    def get(self, path: str | os.PathLike, n: int, *, resize: str = "none",
            max_pixels: int | None = None, sampler: str = "uniform", window=None):
        """The FrameSample for `path` (harness.video.sample_frames), from the cache when present."""
        from harness.video import sample_frames

        start, end = window or (None, None)

        def sample():
            return sample_frames(path, n, max_pixels=max_pixels, resize=resize, sampler=sampler,
                                 start_time=start, end_time=end)

        disk = self._disk()
        if disk is None:
            self.misses += 1
            return sample()
        key = self.key(path, n, resize, max_pixels, sampler, window)
        record = disk.get(("frames", key.digest()))
        if record is not None:
            try:
                sample = _decode_record(record, str(path))
                self.hits += 1
                return sample
            except Exception:  # a damaged entry is dropped and recomputed, never trusted
                disk.delete(("frames", key.digest()))
        self.misses += 1
        got = sample()
        disk.set(("frames", key.digest()), _encode_record(got, key))
        return got

    def frames_for(self, spec, path: str | os.PathLike, window=None):
        """Frames as a FrameSpec asks for them (n, sampler, resize, max_pixels). Repeats are the adapter's."""
        return self.get(path, spec.n_frames, resize=spec.resize, max_pixels=spec.max_pixels,
                        sampler=spec.sampler, window=window)

    def close(self) -> None:
        with self._lock:
            if self._cache is not None:
                self._cache.close()
                self._cache = None


def _encode_record(sample, key: FrameKey) -> dict[str, Any]:
    pngs = []
    for img in sample.images:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1)
        pngs.append(buf.getvalue())
    return {
        "key": key.__dict__,
        "indices": list(sample.indices),
        "timestamps": list(sample.timestamps),
        "n_total": sample.n_total,
        "fps": sample.fps,
        "width": sample.width,
        "height": sample.height,
        "requested": sample.requested,
        "sampler": sample.sampler,
        "window": list(sample.window) if sample.window else None,
        "pngs": pngs,
    }


def _decode_record(record: dict[str, Any], source: str):
    from PIL import Image

    from harness.video import FrameSample

    images = []
    for blob in record["pngs"]:
        with Image.open(io.BytesIO(blob)) as im:
            images.append(im.convert("RGB"))
    if len(images) != len(record["indices"]):
        raise ValueError("frame count mismatch")
    return FrameSample(indices=list(record["indices"]), timestamps=list(record["timestamps"]),
                       images=images, n_total=record["n_total"], fps=record["fps"],
                       width=record["width"], height=record["height"], source=source,
                       requested=record.get("requested", len(images)), sampler=record.get("sampler", "uniform"),
                       window=tuple(record["window"]) if record.get("window") else None)
