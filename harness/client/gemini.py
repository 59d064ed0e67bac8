"""Gemini (the Developer API, through google-genai) as a transport of the model client.

The SDK's own retries are off (one attempt): the client's retry policy retries, as for every call. Its
errors become CallError: APIError by its HTTP code, transport errors (aiohttp, httpx) as connection errors.
The SDK is imported on the first call.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Mapping

from harness.client.retry import CallError, connection_error, status_error
from harness.errors import BadInput

_TRANSPORT_MODULES = ("aiohttp", "httpx", "httpcore", "httpx2", "httpcore2")


def gemini_sdk(config, attempts: int = 1):
    """A google-genai Client for this config. Chat calls: one attempt (the client's policy retries); the
    adapter's uploads and file polls, which are no chat calls, keep the SDK's own retries (attempts)."""
    from google import genai
    from google.genai import types

    http: dict[str, Any] = {"timeout": int(config.timeout * 1000)}
    if config.endpoint:
        http["base_url"] = config.endpoint
    if hasattr(types, "HttpRetryOptions"):
        http["retry_options"] = types.HttpRetryOptions(attempts=attempts)
    key = config.api_key.get_secret_value() if config.api_key is not None else None
    return genai.Client(api_key=key, http_options=types.HttpOptions(**http))


class GeminiChat:
    def __init__(self, config):
        self.config = config
        self._sdk = None

    def body(self, messages: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        raise BadInput("Gemini answers online only (no batch mode for it here)")

    async def send(self, contents: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        from google.genai import types

        sdk = self._open()
        with _call_errors():
            resp = await sdk.aio.models.generate_content(
                model=self.config.model, contents=contents, config=types.GenerateContentConfig(**params))
        if resp.text is None:
            reason = getattr(getattr(resp, "prompt_feedback", None), "block_reason", None)
            raise CallError("", f"no text in the answer (block {reason}, finish {_finish(resp)})")
        return self._answer(resp.text, resp)

    async def stream(self, contents: Any, params: Mapping[str, Any], on_text: Callable[[str], None]) -> dict[str, Any]:
        """The answer as it is made (generateContent's server-sent events): each piece to on_text."""
        from google.genai import types

        sdk = self._open()
        text, last = "", None
        with _call_errors():
            async for chunk in await sdk.aio.models.generate_content_stream(
                    model=self.config.model, contents=contents, config=types.GenerateContentConfig(**params)):
                last = chunk
                if chunk.text:
                    text += chunk.text
                    on_text(chunk.text)
        if last is None or not text:
            raise CallError("", f"no text in the answer (finish {_finish(last)})")
        return self._answer(text, last)

    def _open(self):
        if self._sdk is None:
            self._sdk = gemini_sdk(self.config)
        return self._sdk

    def _answer(self, text: str, resp) -> dict[str, Any]:
        """The client's record of an answer (usage and finish from the response, or the stream's last chunk)."""
        usage = getattr(resp, "usage_metadata", None)
        finish = _finish(resp)
        return {"text": text, "prompt_tokens": int(getattr(usage, "prompt_token_count", 0) or 0),
                "completion_tokens": int(getattr(usage, "candidates_token_count", 0) or 0),
                "model": getattr(resp, "model_version", None) or self.config.model,
                "finish_reason": str(getattr(finish, "name", finish)) if finish is not None else None}

    async def aclose(self) -> None:
        if self._sdk is not None:
            try:
                await self._sdk.aio.aclose()
            except Exception:  # noqa: BLE001 - older SDKs have nothing to close
                pass
            self._sdk = None


def _finish(resp) -> Any:
    return resp.candidates[0].finish_reason if getattr(resp, "candidates", None) else None


@contextlib.contextmanager
def _call_errors():
    """The SDK's failures as the client's CallError (APIError by its HTTP code, transport errors as connection errors)."""
    from google.genai import errors

    try:
        yield
    except errors.APIError as exc:
        headers = getattr(getattr(exc, "response", None), "headers", None)
        raise status_error(int(exc.code or 500), exc.message or str(exc), headers) from None
    except Exception as exc:
        if isinstance(exc, (OSError, TimeoutError)) or type(exc).__module__.split(".")[0] in _TRANSPORT_MODULES:
            raise connection_error(exc) from None
        raise
