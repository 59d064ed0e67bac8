"""Online chat completions on OpenAI, Azure OpenAI and OpenAI-compatible servers: the client's hot path.

The request JSON is built and the answer read here, on one shared aiohttp session (its connection pool
sized to the client's concurrency). The OpenAI SDK cost 2-3 ms of CPU per call in request transforms,
pydantic models and httpx's pool scans (bench/judge.py); this costs a fraction of a millisecond, which is
what lets one process keep hundreds of calls in flight at the server's pace. aiohttp is imported on the
first call, so a run answered from the cache imports no HTTP client at all.

Same bytes as the SDK sent: POST {endpoint}/chat/completions with `Authorization: Bearer KEY`; on Azure
POST {endpoint}/openai/deployments/{model}/chat/completions?api-version=V with `api-key: KEY`.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Mapping

from harness.client.retry import CallError, connection_error, status_error


class OpenAIChat:
    def __init__(self, config):
        self.config = config
        key = config.api_key.get_secret_value() if config.api_key is not None else ""
        if config.provider == "azure":
            self.url = (f"{config.endpoint}/openai/deployments/{config.model}/chat/completions"
                        f"?api-version={config.api_version}")
            self.headers = {"api-key": key, "Content-Type": "application/json"}
        else:
            self.url = f"{config.endpoint}/chat/completions"
            self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.url, basic = _split_userinfo(self.url)
        if basic:  # user:password@ in the URL: HTTP basic auth, as httpx (the SDK's client) sends it
            self.headers["Authorization"] = basic
        self._session = None
        self._proxy: str | None = None
        self._errors: tuple[type[BaseException], ...] = ()

    def body(self, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        """The request body: the model, the messages, and nothing else than the given parameters."""
        return {"model": self.config.model, "messages": messages, **params}

    def _open(self):
        import asyncio

        import aiohttp

        self._errors = (aiohttp.ClientError, asyncio.TimeoutError, OSError)
        connector = aiohttp.TCPConnector(limit=self.config.concurrency, limit_per_host=0, ttl_dns_cache=300)
        # proxies (HTTP(S)_PROXY, NO_PROXY) are looked up once here, not per request in a thread as
        # aiohttp's trust_env does; no cookies are kept
        self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                              headers=self.headers,
                                              timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        self._proxy = _proxy_for(self.url)
        return self._session

    async def send(self, messages: list[dict[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
        """One HTTP request; the answer as {text, prompt_tokens, completion_tokens, model, finish_reason}."""
        session = self._session or self._open()
        data = json.dumps(self.body(messages, params), ensure_ascii=False).encode("utf-8")
        try:
            async with session.post(self.url, data=data, proxy=self._proxy) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except self._errors as exc:
            raise connection_error(exc) from None
        if status != 200:
            raise status_error(status, error_message(raw), headers)
        try:
            return read_completion(json.loads(raw))
        except ValueError as exc:  # a broken answer: like a dropped connection, worth another try
            raise CallError("APIResponseValidationError", f"unusable answer: {exc}", status, transient=True) from None

    async def stream(self, messages: list[dict[str, Any]], params: Mapping[str, Any],
                     on_text: Callable[[str], None]) -> dict[str, Any]:
        """One streamed request (server-sent events): each piece of text to on_text as it arrives; the
        answer as send() returns it (usage from the final chunk, which stream_options asks for)."""
        session = self._session or self._open()
        body = {**self.body(messages, params), "stream": True, "stream_options": {"include_usage": True}}
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        answer = {"text": "", "prompt_tokens": 0, "completion_tokens": 0, "model": None, "finish_reason": None}
        try:
            async with session.post(self.url, data=data, proxy=self._proxy) as resp:
                if resp.status != 200:
                    raise status_error(resp.status, error_message(await resp.read()), resp.headers)
                done = False
                async for line in resp.content:
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":
                        done = True
                        break
                    read_chunk(json.loads(payload), answer, on_text)
            if not done and answer["finish_reason"] is None:  # the connection closed mid-answer
                raise CallError("APIConnectionError", "the answer's stream ended before its end", transient=True)
        except self._errors as exc:
            raise connection_error(exc) from None
        except ValueError as exc:  # a chunk that is no JSON: like a dropped connection
            raise CallError("APIResponseValidationError", f"unusable stream: {exc}", 200, transient=True) from None
        return answer

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _proxy_for(url: str) -> str | None:
    """The proxy the environment names for this URL (the standard library's reading of HTTP(S)_PROXY, NO_PROXY)."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


def _split_userinfo(url: str) -> tuple[str, str | None]:
    """The URL without user:password@, and the basic Authorization header they stand for."""
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    netloc = parts.netloc.rpartition("@")[2]
    token = base64.b64encode(f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()).decode()
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), f"Basic {token}"


def read_completion(body: Any) -> dict[str, Any]:
    """The parts of a chat.completion the client keeps; ValueError when it is not one."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices in the answer")
    message = choices[0].get("message")
    text = (message.get("content") if isinstance(message, dict) else None) or ""
    if not isinstance(text, str):
        raise ValueError("the answer's content is not text")
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    return {"text": text, "prompt_tokens": int(usage.get("prompt_tokens") or 0),
            "completion_tokens": int(usage.get("completion_tokens") or 0), "model": body.get("model"),
            "finish_reason": choices[0].get("finish_reason")}


def read_chunk(chunk: Any, answer: dict[str, Any], on_text: Callable[[str], None]) -> None:
    """Fold one chat.completion.chunk into `answer`, handing its new text to on_text."""
    if not isinstance(chunk, dict):
        raise ValueError("a chunk that is not an object")
    if isinstance(chunk.get("error"), dict):  # some servers report a failure inside the stream
        raise CallError("APIError", str(chunk["error"].get("message") or chunk["error"]), transient=False)
    answer["model"] = chunk.get("model") or answer["model"]
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        piece = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(piece, str) and piece:
            answer["text"] += piece
            on_text(piece)
        if isinstance(choice, dict) and choice.get("finish_reason"):
            answer["finish_reason"] = choice["finish_reason"]
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        answer["prompt_tokens"] = int(usage.get("prompt_tokens") or 0)
        answer["completion_tokens"] = int(usage.get("completion_tokens") or 0)


def error_message(raw: bytes) -> str:
    try:
        obj = json.loads(raw)
    except ValueError:
        return raw[:200].decode("utf-8", errors="replace")
    err = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"])
    return json.dumps(obj)[:200]
