"""Who judged a result, named by what really answered (never a secret).

A result's judge is more than a model name: a local server that calls itself gpt-35-turbo-0125 is
not Azure's gpt-35-turbo-0125. The identity keeps the model asked for, the models that answered
(the `model` field of each answer, cached with it), the provider, the endpoint's host and the API
version, and whether this is the protocol's own judge (PROTOCOLS.md: Azure gpt-35-turbo-0125).
An answer from another model than the one asked (a deployment pointing elsewhere, a proxy that swaps
models) is flagged, and such a judge is never the protocol's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from harness.types import JudgeIdentity, JudgeSpec

OFFICIAL_MODEL = "gpt-35-turbo-0125"
OFFICIAL_PROVIDER = "azure"
OPENAI_HOST = "api.openai.com"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
_VERSION = re.compile(r"\d{4}(-\d{2}-\d{2})?(-preview)?")


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


def _model_key(name: str) -> str:
    return name.strip().lower().replace("gpt-3.5", "gpt-35")


def same_model(asked: str, answered: str) -> bool:
    """Is `answered` (an answer's `model` field) the model `asked` for?

    The same name (Azure's gpt-35 and OpenAI's gpt-3.5 spelling alike), or one name is the other plus a
    version suffix (`-0125`, `-2024-07-18`, optionally `-preview`): an alias answered by its dated snapshot
    (gpt-4o-mini -> gpt-4o-mini-2024-07-18), or Azure's family name for a versioned deployment
    (gpt-35-turbo-0125 -> gpt-35-turbo). Anything else differs (gpt-4o is not gpt-4o-mini).
    """
    a, b = _model_key(asked), _model_key(answered)
    short, long = sorted((a, b), key=len)
    return a == b or (long.startswith(short + "-") and bool(_VERSION.fullmatch(long[len(short) + 1:])))


def identify(spec: JudgeSpec, answered: Iterable[str | None] = (), call_times: Iterable[float] = ()) -> JudgeIdentity:
    """The identity of a judge from its score spec, the answers' model names and their Unix times."""
    provider = provider_of(spec)
    times = sorted(t for t in call_times if t)
    names = sorted({a for a in answered if a})
    differs = any(not same_model(spec.model, a) for a in names)
    return JudgeIdentity(
        model=spec.model,
        answered=names,
        answered_differs=differs,
        provider=provider,  # type: ignore[arg-type]
        host=safe_url(spec.base_url or OPENAI_DEFAULT_URL),
        api_version=spec.api_version,
        official=spec.model == OFFICIAL_MODEL and provider == OFFICIAL_PROVIDER and not differs,
        first_call=_day(times[0]) if times else None,
        last_call=_day(times[-1]) if times else None,
    )


def merge(a: JudgeIdentity, b: JudgeIdentity) -> JudgeIdentity:
    """One identity for the answers behind two identities of the same judge (e.g. an earlier result's and
    this invocation's): every model that answered, the widest date range."""
    names = sorted(set(a.answered) | set(b.answered))
    differs = any(not same_model(a.model, n) for n in names)
    firsts = [d for d in (a.first_call, b.first_call) if d]
    lasts = [d for d in (a.last_call, b.last_call) if d]
    return a.model_copy(update={"answered": names, "answered_differs": differs,
                                "official": a.official and b.official and not differs,
                                "first_call": min(firsts) if firsts else None,
                                "last_call": max(lasts) if lasts else None})


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d")
