"""Who judged a result, named by what really answered (never a secret).

A result's judge is more than a model name: a local server that calls itself gpt-35-turbo-0125 is
not Azure's gpt-35-turbo-0125. The identity keeps the model asked for, the models that answered
(the `model` field of each answer, cached with it), the provider, the endpoint's host and the API
version, and whether this is the protocol's own judge (PROTOCOLS.md: Azure gpt-35-turbo-0125).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from harness.types import JudgeIdentity, JudgeSpec

OFFICIAL_MODEL = "gpt-35-turbo-0125"
OFFICIAL_PROVIDER = "azure"
OPENAI_HOST = "api.openai.com"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


def safe_url(url: str | None) -> str | None:
    """The URL without credentials, query or fragment: scheme, host, port and path only."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a malformed port: keep nothing that could hide a secret
        port = None
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")).rstrip("/") or None


def provider_of(spec: JudgeSpec) -> str:
    if spec.provider == "azure":
        return "azure"
    host = urlsplit(spec.base_url).hostname if spec.base_url else OPENAI_HOST
    return "openai" if host == OPENAI_HOST else "openai-compatible"


def identify(spec: JudgeSpec, answered: Iterable[str | None] = (), call_times: Iterable[float] = ()) -> JudgeIdentity:
    """The identity of a judge from its score spec, the answers' model names and their Unix times."""
    provider = provider_of(spec)
    times = sorted(t for t in call_times if t)
    return JudgeIdentity(
        model=spec.model,
        answered=sorted({a for a in answered if a}),
        provider=provider,  # type: ignore[arg-type]
        host=safe_url(spec.base_url or OPENAI_DEFAULT_URL),
        api_version=spec.api_version,
        official=spec.model == OFFICIAL_MODEL and provider == OFFICIAL_PROVIDER,
        first_call=_day(times[0]) if times else None,
        last_call=_day(times[-1]) if times else None,
    )


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")
