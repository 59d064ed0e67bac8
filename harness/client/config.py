"""What one model client needs to know: endpoint, credentials, limits, cache, transport. Typed, frozen.

Built from typed values only (the CLI's flags and harness.settings.Environment), by the builders below:
`openai_config` for OpenAI, Azure OpenAI and OpenAI-compatible servers, `gemini_config` for Gemini. The
role says who holds the client (the judge, or the model under test); it changes messages, not behaviour.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from harness.errors import BadInput
from harness.judge_identity import OFFICIAL_MODEL, safe_url
from harness.types import JudgeSpec

if TYPE_CHECKING:
    from harness.settings import Environment

DEFAULT_JUDGE_MODEL = OFFICIAL_MODEL  # the protocol's judge (PROTOCOLS.md)
DEFAULT_AZURE_API_VERSION = "2024-06-01"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# One cache for every chat call. Its folder name predates the shared client; it stays, so the caches
# written by earlier versions answer warm re-runs as they did.
CACHE_FOLDER = "judge"

# List prices, USD per million tokens (input, output). Estimates for the budget and the report only.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-35-turbo-0125": (0.5, 1.5),
    "gpt-3.5-turbo-0125": (0.5, 1.5),
    "gpt-35-turbo-1106": (1.0, 2.0),
    "gpt-3.5-turbo-1106": (1.0, 2.0),
    "gpt-35-turbo-0613": (1.5, 2.0),
    "gpt-3.5-turbo-0613": (1.5, 2.0),
    "gpt-3.5-turbo": (0.5, 1.5),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-2024-05-13": (5.0, 15.0),
    "gpt-4o-2024-08-06": (2.5, 10.0),
    "gpt-4o-2024-11-20": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
    "gpt-4o-mini-2024-07-18": (0.15, 0.6),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4-1106-preview": (10.0, 30.0),
    "gpt-4-0613": (30.0, 60.0),
    "gpt-4": (30.0, 60.0),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
}


class ClientConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Literal["judge", "model"] = "judge"
    model: str = DEFAULT_JUDGE_MODEL
    provider: Literal["openai", "azure", "gemini"] = "openai"
    endpoint: str = OPENAI_DEFAULT_URL  # OpenAI: the /v1 URL; Azure: the resource URL; Gemini: "" = the SDK's
    explicit_endpoint: bool = False  # chosen by the user (a flag or a variable): part of the judge's identity
    api_key: SecretStr | None = None
    api_version: str | None = None  # Azure only
    concurrency: int = Field(64, ge=1)
    timeout: float = 60.0  # s per HTTP request
    retries: int = 6  # HTTP tries per attempt (1 = no retry)
    retry_wait: float = 1.0
    retry_max_wait: float = 60.0
    retry_deadline: float = 300.0  # s per attempt, retries included
    unavailable_after: int = 32  # consecutive exhausted calls before the run stops
    price: tuple[float, float] | None = None  # USD per million (input, output); None = unknown
    budget: float | None = None  # USD for this invocation
    cache_root: str | None = None  # None = the user cache directory
    cache: bool = True
    params: dict[str, Any] = Field(default_factory=dict)  # request parameters on every call (none: API defaults)
    # the same questions asked again for a judge audit (harness judge-audit --judge-repeats): repeat r > 0 keys
    # every answer apart from repeat 0's (the run's own) and from every re-ask number; the request is unchanged
    repeat: int = Field(0, ge=0)
    mode: Literal["online", "batch"] = "online"
    batch_wait: float = 86400.0  # s this invocation waits for batches, then stops (resumable)
    batch_poll: float = 30.0
    batch_max_requests: int = 50000
    scrub: tuple[SecretStr, ...] = ()  # every credential of the environment, scrubbed from error texts

    # -- identity ------------------------------------------------------------------------------
    def configured(self) -> bool:
        return self.api_key is not None  # a local server given by URL gets the key "EMPTY"

    def spec(self) -> JudgeSpec:
        """The judge's part of the score identity (never a secret; a user:KEY@ in the URL is dropped)."""
        if self.provider == "gemini":
            raise BadInput("a Gemini model cannot be the judge")
        return JudgeSpec(model=self.model, base_url=safe_url(self.endpoint) if self.explicit_endpoint else None,
                         provider=self.provider, api_version=self.api_version)

    def cache_path(self) -> Path:
        return cache_root(self.cache_root) / CACHE_FOLDER

    @property
    def label(self) -> str:
        """How messages name the client: 'judge' or 'API'."""
        return "judge" if self.role == "judge" else "API"

    @property
    def flag_hint(self) -> str:
        return ("check --judge-model and --judge-base-url" if self.role == "judge"
                else "check --model, --revision and --base-url")

    @property
    def key_hint(self) -> str:
        return {"openai": "check OPENAI_API_KEY", "azure": "check AZURE_OPENAI_API_KEY",
                "gemini": "check GEMINI_API_KEY"}[self.provider]


def cache_root(cache_dir: str | Path | None) -> Path:
    if cache_dir:
        return Path(cache_dir)
    import platformdirs

    return Path(platformdirs.user_cache_dir("video-harness"))


def _norm_url(url: str | None) -> str | None:
    return url.rstrip("/") if url else None


def _credentials(env: Environment) -> tuple[SecretStr, ...]:
    return tuple(s for s in (env.openai_api_key, env.azure_openai_api_key, env.gemini_api_key) if s is not None)


def openai_config(env: Environment, *, role: Literal["judge", "model"], model: str, base_url: str | None = None,
                  allow_azure: bool = True, **fields: Any) -> ClientConfig:
    """OpenAI, Azure OpenAI or an OpenAI-compatible server.

    An explicit base URL wins (local servers take any key: "EMPTY" when none is set); then Azure, when its
    endpoint and key are set (and allowed); then OpenAI at OPENAI_BASE_URL or its default URL.
    """
    base_url = _norm_url(base_url)
    key = env.openai_api_key
    if base_url:
        return ClientConfig(role=role, model=model, provider="openai", endpoint=base_url, explicit_endpoint=True,
                            api_key=key or SecretStr("EMPTY"), scrub=_credentials(env), **fields)
    if allow_azure and env.azure_openai_endpoint and env.azure_openai_api_key:
        return ClientConfig(role=role, model=model, provider="azure", endpoint=_norm_url(env.azure_openai_endpoint),
                            explicit_endpoint=True, api_key=env.azure_openai_api_key,
                            api_version=env.azure_openai_api_version or DEFAULT_AZURE_API_VERSION,
                            scrub=_credentials(env), **fields)
    endpoint = _norm_url(env.openai_base_url)
    return ClientConfig(role=role, model=model, provider="openai", endpoint=endpoint or OPENAI_DEFAULT_URL,
                        explicit_endpoint=bool(endpoint), api_key=key, scrub=_credentials(env), **fields)


def gemini_config(env: Environment, *, model: str, base_url: str | None = None, **fields: Any) -> ClientConfig:
    return ClientConfig(role="model", model=model, provider="gemini", endpoint=_norm_url(base_url) or "",
                        explicit_endpoint=bool(base_url), api_key=env.gemini_api_key, scrub=_credentials(env),
                        **fields)


def model_limits(env: Environment, cache_dir: str | None, concurrency: int) -> dict[str, Any]:
    """The fields every API model under test shares: its timeouts and retries, the cache, no price."""
    return {"concurrency": max(1, concurrency), "timeout": env.api_timeout, "retries": env.api_retries,
            "cache_root": cache_dir or env.cache_dir, "cache": not env.no_api_cache}


def judge_limits(env: Environment) -> dict[str, Any]:
    """The judge's timeouts, retries and batch settings from the environment."""
    return {"timeout": env.judge_timeout, "retries": env.judge_retries, "retry_wait": env.judge_retry_wait,
            "retry_max_wait": env.judge_retry_max_wait, "retry_deadline": env.judge_retry_deadline,
            "unavailable_after": env.judge_unavailable_after, "batch_poll": env.judge_batch_poll,
            "batch_max_requests": env.judge_batch_max_requests}


def check_positive(value: float | None, flag: str, what: str) -> None:
    if value is not None and (not math.isfinite(value) or value <= 0):
        raise BadInput(f"{flag} must be {what}")
