"""OpenAI vision models (gpt-4o, gpt-4o-mini, gpt-4.1, ...) and any OpenAI-compatible server
(`openai-compatible:NAME --base-url URL`: vLLM, SGLang, Ollama, ...).

A video is sent as its sampled frames (the shared sampler and frame cache, so the frames are the
ones a local model sees), each a base64 image part with an explicit `detail`. Where the parts go:
`placeholder` (default) puts the frames where the prompt's `<video>` stands; `text-first` sends the
whole text, then the frames (the official Tarsier GPT-4o script's layout; gpt-4o's profile). The
chat API cannot prefill an answer, so an assistant prefix (`Answer: (`) ends the user text.

Frames are sent at the size the API would reduce them to anyway (detail low: within 512 x 512;
high or auto: within 2048 x 2048, then the short side at most 768), PIL bicubic: fewer bytes, the
same image tokens. OpenAI-compatible servers get the frames as sampled (their resize is theirs).

Requests go through the model client (harness.client): bounded concurrency, retries with exponential
jitter honouring Retry-After, and the on-disk cache keyed by endpoint, model, messages and parameters,
so a re-run pays for nothing it already has. OPENAI_API_KEY and OPENAI_BASE_URL are honoured as the
OpenAI SDK honours them; `--base-url` wins.
"""

from __future__ import annotations

import asyncio
import base64
import io
import math
import time
from typing import Any, ClassVar

from harness.adapter import AdapterOptions
from harness.errors import BadInput, CallFailed, VideoError
from harness.types import MAX_FRAMES, Prediction, Sample

from harness.adapters._base import (VideoAdapter, chat_turns, compact_prompt, error_prediction, frames_record,
                                    prompt_hash, split_chat_prompt, split_on_video, versions)

# OpenAI's vision guide: image tokens (base, per 512-px tile of the high-detail image; low = base only),
# the context each model holds, and what one request may carry.
IMAGE_TOKENS = {"gpt-4o-mini": (2833, 5667), "gpt-4o": (85, 170), "gpt-4.1": (85, 170)}
CONTEXT = {"gpt-4o-mini": 128_000, "gpt-4o": 128_000, "gpt-4.1": 1_047_576}
MAX_IMAGES = 500  # images per request
MAX_IMAGE_BYTES = 50 * 2**20  # image bytes per request
PROMPT_MARGIN = 512  # text tokens of the prompt, generously
IMAGE_TOKEN = "<image>"  # how the inputs record writes an image part
CONTENT_ORDERS = ("placeholder", "text-first")
IMAGE_FORMATS = ("jpeg", "png")


def api_family(api_model: str) -> str | None:
    """The IMAGE_TOKENS key of a model name or dated snapshot (gpt-4o-2024-05-13 -> gpt-4o)."""
    for name in sorted(IMAGE_TOKENS, key=len, reverse=True):
        if api_model == name or api_model.startswith(name + "-"):
            return name
    return None


def sent_size(width: int, height: int, detail: str | None) -> tuple[int, int]:
    """The size the API reduces an image to (and we send): low within 512 x 512; high and auto
    within 2048 x 2048, then the short side at most 768; never enlarged."""
    if detail == "low":
        scale = min(1.0, 512 / width, 512 / height)
    elif detail in ("high", "auto"):
        scale = min(1.0, 2048 / width, 2048 / height)
        scale *= min(1.0, 768 / (min(width, height) * scale))
    else:
        return width, height
    return max(1, round(width * scale)), max(1, round(height * scale))


def image_tokens(family: str | None, detail: str | None, width: int, height: int) -> int | None:
    """Tokens one image costs (None when the model's table is not known)."""
    if family is None:
        return None
    base, tile = IMAGE_TOKENS[family]
    if detail == "low":
        return base
    w, h = sent_size(width, height, "high")
    return base + tile * math.ceil(w / 512) * math.ceil(h / 512)


def frame_bound(family: str | None, detail: str | None, max_new_tokens: int) -> int:
    """The most frames a request holds: the images a request may carry, and the context with room for
    the prompt and the answer at the worst aspect ratio (768 x 2048 at high detail: 8 tiles)."""
    if family is None:
        return MAX_FRAMES
    worst = image_tokens(family, detail, 768, 2048)
    room = CONTEXT[family] - max_new_tokens - PROMPT_MARGIN
    return max(1, min(MAX_FRAMES, MAX_IMAGES, room // worst))


def messages_text(messages: list[dict[str, Any]]) -> str:
    """The text of chat messages with each image written IMAGE_TOKEN (the inputs record's prompt)."""
    lines = []
    for m in messages:
        content = m["content"]
        if not isinstance(content, str):
            content = "".join(p["text"] if p["type"] == "text" else IMAGE_TOKEN for p in content)
        lines.append(f"{m['role'].upper()}: {content}")
    return "\n".join(lines)


class OpenAIVisionAdapter(VideoAdapter):
    family = "openai"
    backend = "openai"
    default_backend: ClassVar[str] = "openai"
    backends: ClassVar[tuple[str, ...]] = ("openai",)
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured)"
    default_frames: ClassVar[int] = 8
    default_detail: ClassVar[str | None] = "low"
    image_format: ClassVar[str] = "jpeg"  # jpeg (quality 90) or png (lossless)
    content_order: ClassVar[str] = "placeholder"
    default_max_new_tokens: ClassVar[int] = 512

    def __init__(self, model: str, options: AdapterOptions):
        self.api_model = self.resolve_api_model(model, options)
        self.detail = options.detail or self.default_detail
        self.max_new_tokens = options.max_new_tokens or self.default_max_new_tokens
        self.image_format = options.extra.get("image_format") or self.image_format
        self.content_order = options.extra.get("content_order") or self.content_order
        if self.image_format not in IMAGE_FORMATS or self.content_order not in CONTENT_ORDERS:
            raise BadInput(f"{model}: image format {self.image_format!r} or content order {self.content_order!r} "
                           f"unknown (formats {', '.join(IMAGE_FORMATS)}; orders {', '.join(CONTENT_ORDERS)})")
        self.api_family = self.token_family()
        self._last_parts = None  # (frames, parts, record) of the last frames encoded
        self.max_frames = frame_bound(self.api_family, self.detail, self.max_new_tokens)
        super().__init__(model, options)
        self.concurrency = max(1, options.concurrency or 16)
        self.batch_size = options.batch_size or self.concurrency * 4
        self.env = options.environment()
        self.base_url = (options.base_url or self.env.openai_base_url or "").rstrip("/") or None

    def token_family(self) -> str | None:
        """Whose image-token table and context apply (None: unknown, no bound but the harness's)."""
        return api_family(self.api_model)

    def resolve_api_model(self, model: str, options: AdapterOptions) -> str:
        # --revision pins a snapshot (gpt-4o-2024-08-06); the alias alone moves over time
        return options.revision or model

    # -- identity ------------------------------------------------------------------------
    def request_params(self) -> dict[str, Any]:
        return {"temperature": 0, "max_tokens": self.max_new_tokens}

    def spec_fields(self) -> dict[str, Any]:
        gen = {**self.request_params(), "detail": self.detail, "image_format": self.image_format,
               "image_resize": self.image_resize(), "content_order": self.content_order, "api_model": self.api_model,
               "assistant_prefix": "appended to the user message"}
        if self.detail == "low" and self.api_family:
            gen["tokens_per_frame"] = IMAGE_TOKENS[self.api_family][0]
        if self.base_url:
            gen["base_url"] = self.base_url
        return {"model_revision": self.options.revision, "backend": self.backend,
                "backend_versions": versions("openai"), "generation": gen}

    # -- pre-flight ----------------------------------------------------------------------
    def check(self) -> None:
        if not self.base_url and self.env.openai_api_key is None:
            raise BadInput(f"{self.model} needs OPENAI_API_KEY in the environment "
                           "(or --base-url URL for an OpenAI-compatible server)")

    # -- images --------------------------------------------------------------------------
    def image_resize(self) -> str:
        if self.detail == "low":
            return "within 512x512, PIL bicubic"
        if self.detail in ("high", "auto"):
            return "within 2048x2048, then short side <= 768 (the API's high-detail size), PIL bicubic"
        return "none"

    def encode_image(self, img) -> tuple[str, tuple[int, int], int]:
        """(data URL, size sent, bytes) of one frame."""
        from PIL import Image

        size = sent_size(img.width, img.height, self.detail)
        if size != img.size:
            img = img.resize(size, Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        if self.image_format == "png":  # the fastest zlib level: the same pixels, 3x less CPU, ~20% more bytes
            img.save(buf, format="PNG", compress_level=1)
            mime = "image/png"
        else:
            img.save(buf, format="JPEG", quality=90)
            mime = "image/jpeg"
        data = buf.getvalue()
        return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}", size, len(data)

    def image_parts(self, images: list) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The image parts of the frames, and what was sent (sizes, bytes, tokens). The last frames'
        parts are kept: the next question on the same clip (a chat's next turn) sends them again."""
        last = self._last_parts
        if last is not None and last[0] is images:
            return last[1], dict(last[2])
        parts, sent = self._encode_parts(images)
        self._last_parts = (images, parts, sent)
        return parts, dict(sent)

    def _encode_parts(self, images: list) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        parts, sizes, total = [], [], 0
        for img in images:
            url, size, n = self.encode_image(img)
            image_url: dict[str, Any] = {"url": url}
            if self.detail:
                image_url["detail"] = self.detail
            parts.append({"type": "image_url", "image_url": image_url})
            sizes.append(list(size))
            total += n
        if total > MAX_IMAGE_BYTES:
            raise VideoError(f"{len(images)} frames make {total / 2**20:.1f} MB of images, above the "
                             f"{MAX_IMAGE_BYTES // 2**20} MB a request may carry; use fewer --frames")
        tokens = [image_tokens(self.api_family, self.detail, *s) for s in sizes]
        sent = {"images": len(parts), "resized_wh": sizes[0] if sizes else None, "detail": self.detail,
                "image_format": self.image_format, "image_bytes": total,
                "visual_tokens": None if None in tokens else sum(tokens)}
        if len({tuple(s) for s in sizes}) > 1:
            sent["sizes_wh"] = sizes
        return parts, sent

    def input_layout(self, frames) -> dict[str, Any]:
        """What a request would carry for these frames (`harness frames --model`): count, size sent, tokens."""
        size = list(sent_size(frames.images[0].width, frames.images[0].height, self.detail)) if frames.images else None
        per = image_tokens(self.api_family, self.detail, *size) if size else None
        return {"images": len(frames.images), "resized_wh": size, "detail": self.detail,
                "image_format": self.image_format, "content_order": self.content_order,
                "visual_tokens": None if per is None else per * len(frames.images)}

    # -- requests ------------------------------------------------------------------------
    def messages(self, sample: Sample, frames) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The request's messages (the frames in the first user turn, then the conversation so far)
        and the record of what they hold."""
        user, prefix = split_chat_prompt(sample.prompt)
        before, after = split_on_video(user)
        images, sent = self.image_parts(frames.images)
        if self.content_order == "text-first":
            text = "\n".join(t for t in (before, after, prefix) if t)
            content = ([{"type": "text", "text": text}] if text else []) + images
        else:
            after = "\n".join(t for t in (after, prefix) if t)
            content = ([{"type": "text", "text": before}] if before else []) + images
            if after:
                content.append({"type": "text", "text": after})
        msgs = [{"role": "user", "content": content}]
        msgs += [{"role": t["role"], "content": t["content"]} for t in chat_turns(sample)]
        text = messages_text(msgs)
        record = frames_record(frames)
        record.update(sent)
        record.update({"content_order": self.content_order, "prompt_sha256": prompt_hash(text),
                       "prompt": compact_prompt(text, IMAGE_TOKEN)})
        return msgs, record

    # -- the client ----------------------------------------------------------------------
    def client_config(self):
        from harness.client.config import model_limits, openai_config

        return openai_config(self.env, role="model", model=self.api_model, base_url=self.base_url, allow_azure=False,
                             **model_limits(self.env, self.options.cache_dir, self.concurrency))

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        return asyncio.run(self._generate(samples))

    async def _generate(self, samples: list[Sample]) -> list[Prediction]:
        from harness.client.core import ModelClient

        client = ModelClient(self.client_config())
        try:
            return list(await asyncio.gather(*(self._one(client, s) for s in samples)))
        finally:
            await client.aclose()

    async def _one(self, client, sample: Sample) -> Prediction:
        try:
            frames = await asyncio.to_thread(self.load_frames, sample)
            msgs, record = await asyncio.to_thread(self.messages, sample, frames)
        except Exception as exc:
            return error_prediction(sample, "video", exc)
        t0 = time.perf_counter()
        listener = self.stream.listener if self.stream is not None else None
        try:  # a refused key, an unknown model or an endpoint gone stops the run (the client's typed errors)
            reply = await client.complete(msgs, self.request_params(), on_text=listener)
        except CallFailed as exc:
            return error_prediction(sample, "api", exc, n_frames=len(frames.images), meta={"inputs": record})
        return Prediction(sample_id=sample.id, text=(reply.get("text") or "").strip(),
                          seconds=time.perf_counter() - t0,
                          prompt_tokens=reply.get("prompt_tokens"), completion_tokens=reply.get("completion_tokens"),
                          n_frames=len(frames.images),
                          meta={"inputs": record, "api_model": reply.get("model"),
                                "finish_reason": reply.get("finish_reason")})


class GPT4o(OpenAIVisionAdapter):
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured); profile: 16 frames, detail high (about 1,105 tokens a 16:9 frame)"
    # the profile's detail high: 128k context, 1,445 tokens a frame at worst, 4,096 for the answer
    max_frames: ClassVar[int] = frame_bound("gpt-4o", "high", 4096)


class GPT4oMini(OpenAIVisionAdapter):
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured); detail low = 2,833 tokens/frame"
    max_frames: ClassVar[int] = frame_bound("gpt-4o-mini", "low", 512)


class GPT41(OpenAIVisionAdapter):
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured); detail low = 85 tokens/frame"
    max_frames: ClassVar[int] = frame_bound("gpt-4.1", "low", 512)


class OpenAICompatibleAdapter(OpenAIVisionAdapter):
    """`openai-compatible:NAME --base-url URL`: any server speaking the chat completions API."""

    family = "openai-compatible"
    backend = "openai-compatible"
    default_backend: ClassVar[str] = "openai-compatible"
    backends: ClassVar[tuple[str, ...]] = ("openai-compatible",)
    needs = "--base-url URL of a vLLM / SGLang / Ollama server (frames sent as PNG images)"
    default_detail: ClassVar[str | None] = None  # servers differ; sent only when asked for
    image_format: ClassVar[str] = "png"  # lossless: the server sees the sampler's exact pixels

    def resolve_api_model(self, model: str, options: AdapterOptions) -> str:
        name = model.split(":", 1)[1] if ":" in model else ""
        if not name:
            raise BadInput("openai-compatible needs a model name: --model openai-compatible:NAME --base-url URL")
        return name

    def token_family(self) -> str | None:
        return None  # a server's own model, whatever its name

    def check(self) -> None:
        if not self.base_url:
            raise BadInput(f"{self.model} needs --base-url URL (the server's /v1 endpoint)")
