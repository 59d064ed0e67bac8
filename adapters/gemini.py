"""Gemini models (gemini-1.5-pro, gemini-1.5-flash, gemini-2.0-flash, ...) through google-genai.

Two inputs, recorded in the run spec:
- `video` (default): the video file itself, uploaded once per distinct content (SHA-256) through
  the Files API, waited on (bounded) until ACTIVE, shared by every question on that video and
  deleted when the run's generation stage ends. Gemini samples it itself (1 fps).
- `frames` (`--gemini-input frames`): the shared sampler's frames as inline JPEG parts, the
  frames a local model sees.

Requests go through the model client (harness.client, Gemini transport): bounded concurrency, the one
retry policy, and the shared on-disk cache keyed by model, content hash, prompt and settings, so a
re-run pays for nothing it already has. Keys: GEMINI_API_KEY or GOOGLE_API_KEY, as the SDK reads
them; `--base-url` points the client elsewhere (tests use a loopback server).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import mimetypes
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

from harness.adapter import AdapterOptions
from harness.errors import BadInput, CallFailed, VideoError
from harness.types import MAX_FRAMES, FrameSpec, Prediction, Sample

from harness.adapters._base import (VideoAdapter, chat_turns, compact_prompt, error_prediction, frames_record,
                                    prompt_hash, require, split_chat_prompt, split_on_video, versions)

INPUTS = ("video", "frames")
MAX_INLINE_BYTES = 20 * 2**20  # a request with inline data may carry 20 MB (Gemini API)
IMAGE_TOKEN = "<image>"  # how the inputs record writes an image part (and VIDEO_TOKEN the uploaded video)
VIDEO_TOKEN = "<video>"


class GeminiAdapter(VideoAdapter):
    family = "gemini"
    backend = "gemini"
    default_backend: ClassVar[str] = "gemini"
    backends: ClassVar[tuple[str, ...]] = ("gemini",)
    needs = "GEMINI_API_KEY or GOOGLE_API_KEY, extra [gemini]; native video (1 fps) or --gemini-input frames"
    default_frames: ClassVar[int] = 8
    # --gemini-input frames: 3,600 images a request and 258 tokens each in a 1M/2M context are beyond the
    # harness's own bound; what binds is the request size (20 MB inline), checked per request
    max_frames: ClassVar[int] = MAX_FRAMES
    default_max_new_tokens: ClassVar[int] = 512

    def __init__(self, model: str, options: AdapterOptions):
        self.input = options.extra.get("gemini_input") or "video"
        self.fps = options.extra.get("fps")  # video: frames a second Gemini samples (None: the API's default, 1)
        if self.input not in INPUTS:
            raise BadInput(f"--gemini-input must be one of {', '.join(INPUTS)}, not {self.input!r}")
        super().__init__(model, options)
        self.api_model = options.revision or model
        self.max_new_tokens = options.max_new_tokens or self.default_max_new_tokens
        self.concurrency = max(1, options.concurrency or 16)
        self.batch_size = options.batch_size or self.concurrency * 4
        self.base_url = options.base_url
        self.env = options.environment()
        self.active_timeout = self.env.gemini_active_timeout
        self.poll_seconds = self.env.gemini_poll
        self._client = None  # the google-genai SDK, for the uploads
        self._uploads: dict[str, Any] = {}  # sha256 -> File (ACTIVE)
        self._upload_locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.uploaded: list[str] = []  # names uploaded by this run, deleted in close()

    def frame_spec(self, n: int) -> FrameSpec:
        if self.input == "video":  # Gemini samples the video itself
            return FrameSpec(n_frames=0, fps_cap=self.fps or 1.0, decoder="gemini", sampler_version="gemini")
        return super().frame_spec(n)

    def config(self) -> dict[str, Any]:
        return {"temperature": 0.0, "max_output_tokens": self.max_new_tokens}

    def spec_fields(self) -> dict[str, Any]:
        gen = {**self.config(), "input": self.input, "api_model": self.api_model}
        if self.input == "video" and self.fps is not None:
            gen["video_fps"] = self.fps
        if self.input == "frames":
            gen["image_format"] = "jpeg q90"
        if self.base_url:
            gen["base_url"] = self.base_url
        return {"model_revision": self.options.revision, "backend": self.backend,
                "backend_versions": versions("google-genai"), "generation": gen}

    def check(self) -> None:
        require(("google.genai",), self.model, "gemini")
        if self.env.gemini_api_key is None:
            raise BadInput(f"{self.model} needs GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment")

    # -- client --------------------------------------------------------------------------
    def client_config(self):
        from harness.client.config import gemini_config, model_limits

        return gemini_config(self.env, model=self.api_model, base_url=self.base_url,
                             **model_limits(self.env, self.options.cache_dir, self.concurrency))

    def load(self) -> None:
        if self._client is None:
            from harness.client.gemini import gemini_sdk

            config = self.client_config()
            self._client = gemini_sdk(config, attempts=config.retries)  # uploads

    def close(self) -> None:
        try:
            if self._client is not None:
                for name in self.uploaded:
                    try:
                        self._client.files.delete(name=name)
                    except Exception:  # already gone (expired) or the network is down: not fatal
                        pass
                self.uploaded.clear()
                self._uploads.clear()
        finally:
            super().close()

    # -- uploads -------------------------------------------------------------------------
    def video_file(self, path: str):
        """The ACTIVE uploaded File for this content, uploading it once per run."""
        digest = self.frame_cache.content_hash(path)
        with self._lock:
            lock = self._upload_locks.setdefault(digest, threading.Lock())
        with lock:
            if digest in self._uploads:
                return digest, self._uploads[digest]
            mime = mimetypes.guess_type(path)[0] or "video/mp4"
            f = self._client.files.upload(file=path, config={"mime_type": mime, "display_name": digest[:32]})
            self.uploaded.append(f.name)
            f = self._wait_active(f)
            self._uploads[digest] = f
            return digest, f

    def _wait_active(self, f):
        deadline = time.monotonic() + self.active_timeout
        while True:
            state = str(getattr(f.state, "name", f.state) or "").upper()
            if state.endswith("ACTIVE"):
                return f
            if state.endswith("FAILED"):
                raise VideoError(f"Gemini could not process the uploaded video ({f.name})")
            if time.monotonic() > deadline:
                raise VideoError(f"uploaded video {f.name} not ACTIVE after {self.active_timeout:.0f} s "
                                 "(HARNESS_GEMINI_ACTIVE_TIMEOUT)")
            time.sleep(self.poll_seconds)
            f = self._client.files.get(name=f.name)

    # -- requests ------------------------------------------------------------------------
    def contents(self, sample: Sample) -> tuple[list[Any], str, dict[str, Any]]:
        """(contents, content key, inputs record) for one sample: the video or its frames in the first
        user turn, then the conversation so far (chat)."""
        from google.genai import types

        user, prefix = split_chat_prompt(sample.prompt)
        before, after = split_on_video(user)
        after = "\n".join(t for t in (after, prefix) if t)
        parts: list[Any] = []
        if before:
            parts.append(types.Part.from_text(text=before))
        if self.input == "video":
            media_key, record, media = self.video_part(sample)
        else:
            media_key, record, media = self.frame_parts(sample)
        parts += media
        if after:
            parts.append(types.Part.from_text(text=after))
        turns = chat_turns(sample)
        contents = [types.Content(role="user", parts=parts)] + [
            types.Content(role="model" if t["role"] == "assistant" else "user", parts=[types.Part.from_text(text=t["content"])])
            for t in turns]
        key_parts: list[Any] = [self.api_model, self.input, media_key, before, after, self.config()]
        if self.input == "video" and self.fps is not None:
            key_parts.append({"fps": self.fps})
        if turns:
            key_parts.append(turns)
        key = hashlib.sha256(json.dumps(key_parts, sort_keys=True).encode()).hexdigest()
        token = VIDEO_TOKEN if self.input == "video" else IMAGE_TOKEN
        text = "\n".join(f"{'ASSISTANT' if c.role == 'model' else 'USER'}: "
                         + "".join(p.text if p.text is not None else token for p in c.parts) for c in contents)
        record.update({"prompt_sha256": prompt_hash(text), "prompt": compact_prompt(text, IMAGE_TOKEN)})
        return contents, key, record

    def video_part(self, sample: Sample) -> tuple[str, dict[str, Any], list[Any]]:
        """The uploaded video's part (Gemini samples it at `fps`), its content hash and record."""
        from google.genai import types

        if not sample.video:
            raise VideoError(f"sample {sample.id} has no video")
        digest, f = self.video_file(sample.video)
        part = types.Part(file_data=types.FileData(file_uri=f.uri, mime_type=f.mime_type))
        if self.fps is not None:
            part.video_metadata = types.VideoMetadata(fps=self.fps)
        return digest, {"video_sha256": digest, "input": "video", "fps": self.fps or 1.0}, [part]

    def frame_parts(self, sample: Sample) -> tuple[str, dict[str, Any], list[Any]]:
        """The sampled frames as inline JPEG parts, their hash and record."""
        from google.genai import types

        frames = self.load_frames(sample)
        blobs = []
        for im in frames.images:
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=90)
            blobs.append(buf.getvalue())
        total = sum(len(b) for b in blobs)
        if total > MAX_INLINE_BYTES:
            raise VideoError(f"{len(blobs)} frames make {total / 2**20:.1f} MB of JPEG, above the "
                             f"{MAX_INLINE_BYTES // 2**20} MB a Gemini request may carry; use fewer --frames "
                             "or --gemini-input video")
        record = frames_record(frames)
        record.update({"input": "frames", "images": len(blobs), "image_format": "jpeg q90", "image_bytes": total,
                       "resized_wh": list(frames.images[0].size) if frames.images else None})
        parts = [types.Part.from_bytes(data=b, mime_type="image/jpeg") for b in blobs]
        return hashlib.sha256(b"".join(blobs)).hexdigest(), record, parts

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        if self._client is None:
            self.load()
        return asyncio.run(self._generate(samples))

    async def _generate(self, samples: list[Sample]) -> list[Prediction]:
        from harness.client.core import ModelClient

        client = ModelClient(self.client_config())
        try:
            with ThreadPoolExecutor(max_workers=self.concurrency) as pool:  # uploads and frames
                return list(await asyncio.gather(*(self._one(client, pool, s) for s in samples)))
        finally:
            await client.aclose()

    async def _one(self, client, pool, sample: Sample) -> Prediction:
        try:
            contents, key, inputs = await asyncio.get_running_loop().run_in_executor(pool, self.contents, sample)
        except Exception as exc:
            return error_prediction(sample, "video", exc)
        n_frames = inputs.get("images")
        meta: dict[str, Any] = {"inputs": inputs}
        cached = client.cached(key)
        t0 = time.perf_counter()
        try:
            listener = self.stream.listener if self.stream is not None else None
            record = await client.complete(contents, self.config(), key=key, on_text=listener)
        except CallFailed as exc:
            return error_prediction(sample, "api", exc, n_frames=n_frames, meta=meta)
        return Prediction(sample_id=sample.id, text=record["text"].strip(),
                          seconds=None if cached else time.perf_counter() - t0,
                          prompt_tokens=record.get("prompt_tokens"), completion_tokens=record.get("completion_tokens"),
                          n_frames=n_frames, meta={**meta, "cached": True} if cached else meta)
