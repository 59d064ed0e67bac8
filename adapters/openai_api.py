"""OpenAI vision models (gpt-4o, gpt-4o-mini, gpt-4.1, ...) and any OpenAI-compatible server
(`openai-compatible:NAME --base-url URL`: vLLM, SGLang, Ollama, ...).

A video is sent as its sampled frames (the shared sampler and frame cache, so the frames are the
ones a local model sees), each a base64 image part with an explicit `detail` (OpenAI: `low` by
default = 85 tokens a frame), placed where the prompt's `<video>` placeholder stands. The chat
API cannot prefill an answer, so an assistant prefix (`Answer: (`) ends the user message.

Requests go through the model client (harness.client): bounded concurrency, retries with exponential
jitter honouring Retry-After, and the on-disk cache keyed by endpoint, model, messages and parameters,
so a re-run pays for nothing it already has. OPENAI_API_KEY and OPENAI_BASE_URL are honoured as the
OpenAI SDK honours them; `--base-url` wins.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any, ClassVar

from harness.adapter import AdapterOptions
from harness.errors import BadInput, CallFailed
from harness.types import Prediction, Sample

from harness.adapters._base import VideoAdapter, error_prediction, split_chat_prompt, split_on_video, versions

DETAIL_TOKENS = {"low": 85}


class OpenAIVisionAdapter(VideoAdapter):
    family = "openai"
    backend = "openai"
    default_backend: ClassVar[str] = "openai"
    backends: ClassVar[tuple[str, ...]] = ("openai",)
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured)"
    default_frames: ClassVar[int] = 8
    default_detail: ClassVar[str | None] = "low"
    image_format: ClassVar[str] = "jpeg"  # jpeg (quality 90) or png (lossless)
    default_max_new_tokens: ClassVar[int] = 512

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.api_model = self.resolve_api_model(model, options)
        self.detail = options.detail or self.default_detail
        self.max_new_tokens = options.max_new_tokens or self.default_max_new_tokens
        self.concurrency = max(1, options.concurrency or 16)
        self.batch_size = options.batch_size or self.concurrency * 4
        self.env = options.environment()
        self.base_url = (options.base_url or self.env.openai_base_url or "").rstrip("/") or None

    def resolve_api_model(self, model: str, options: AdapterOptions) -> str:
        # --revision pins a snapshot (gpt-4o-2024-08-06); the alias alone moves over time
        return options.revision or model

    # -- identity ------------------------------------------------------------------------
    def request_params(self) -> dict[str, Any]:
        return {"temperature": 0, "max_tokens": self.max_new_tokens}

    def spec_fields(self) -> dict[str, Any]:
        gen = {**self.request_params(), "detail": self.detail, "image_format": self.image_format,
               "image_box": self.image_box(), "api_model": self.api_model,
               "assistant_prefix": "appended to the user message"}
        if self.detail in DETAIL_TOKENS:
            gen["tokens_per_frame"] = DETAIL_TOKENS[self.detail]
        if self.base_url:
            gen["base_url"] = self.base_url
        return {"model_revision": self.options.revision, "backend": self.backend,
                "backend_versions": versions("openai"), "generation": gen}

    # -- pre-flight ----------------------------------------------------------------------
    def check(self) -> None:
        if not self.base_url and self.env.openai_api_key is None:
            raise BadInput(f"{self.model} needs OPENAI_API_KEY in the environment "
                           "(or --base-url URL for an OpenAI-compatible server)")

    # -- requests ------------------------------------------------------------------------
    def image_box(self) -> list[int] | None:
        """The largest size worth sending: what the API would downscale to anyway."""
        if self.detail == "low":
            return [512, 512]
        if self.image_format == "png":
            return None
        return [2048, 2048]

    def encode_image(self, img) -> str:
        from PIL import Image

        box = self.image_box()
        if box and (img.width > box[0] or img.height > box[1]):
            scale = min(box[0] / img.width, box[1] / img.height)
            img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                             Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        if self.image_format == "png":
            img.save(buf, format="PNG")
            mime = "image/png"
        else:
            img.save(buf, format="JPEG", quality=90)
            mime = "image/jpeg"
        return f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode('ascii')}"

    def image_part(self, img) -> dict[str, Any]:
        url: dict[str, Any] = {"url": self.encode_image(img)}
        if self.detail:
            url["detail"] = self.detail
        return {"type": "image_url", "image_url": url}

    def messages(self, sample: Sample, frames) -> list[dict[str, Any]]:
        user, prefix = split_chat_prompt(sample.prompt)
        before, after = split_on_video(user)
        after = "\n".join(t for t in (after, prefix) if t)
        content: list[dict[str, Any]] = []
        if before:
            content.append({"type": "text", "text": before})
        content.extend(self.image_part(im) for im in frames.images)
        if after:
            content.append({"type": "text", "text": after})
        return [{"role": "user", "content": content}]

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
            msgs = await asyncio.to_thread(self.messages, sample, frames)
        except Exception as exc:
            return error_prediction(sample, "video", exc)
        t0 = time.perf_counter()
        try:  # a refused key, an unknown model or an endpoint gone stops the run (the client's typed errors)
            record = await client.complete(msgs, self.request_params())
        except CallFailed as exc:
            return error_prediction(sample, "api", exc, n_frames=len(frames.images))
        return Prediction(sample_id=sample.id, text=(record.get("text") or "").strip(),
                          seconds=time.perf_counter() - t0,
                          prompt_tokens=record.get("prompt_tokens"), completion_tokens=record.get("completion_tokens"),
                          n_frames=len(frames.images),
                          meta={"frame_indices": list(frames.indices), "api_model": record.get("model"),
                                "finish_reason": record.get("finish_reason")})


class GPT4o(OpenAIVisionAdapter):
    needs = "OPENAI_API_KEY (OPENAI_BASE_URL honoured); detail low = 85 tokens/frame"


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

    def check(self) -> None:
        if not self.base_url:
            raise BadInput(f"{self.model} needs --base-url URL (the server's /v1 endpoint)")
