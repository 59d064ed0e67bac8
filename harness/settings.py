"""Every environment variable the harness reads, in one typed settings object (pydantic-settings).

    env = Environment.load()              # os.environ, read once by the CLI and handed down
    env = Environment.load({"OPENAI_API_KEY": "sk-..."})   # an explicit mapping (tests), nothing else read

Nothing else in the harness reads os.environ. A malformed value is one BadInput naming the variable.
Credentials are SecretStr: they never show in a repr, a log or a file.

Variables:
- credentials and endpoints: OPENAI_API_KEY, OPENAI_BASE_URL, AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY,
  AZURE_OPENAI_API_VERSION (or OPENAI_API_VERSION), GEMINI_API_KEY (or GOOGLE_API_KEY);
- places: HARNESS_CACHE_DIR (root of every cache, below --cache-dir), HARNESS_DATA_DIR (where `harness data fetch`
  puts benchmark data and `harness run` finds it; default: the user data folder), HARNESS_SHARED (../shared),
  HARNESS_NO_FRAME_CACHE, HARNESS_NO_API_CACHE (API models answer without the on-disk cache);
- the judge role: HARNESS_JUDGE_TIMEOUT (s per call, default 60, the protocol's), HARNESS_JUDGE_RETRIES (HTTP tries
  per attempt, 6), HARNESS_JUDGE_RETRY_WAIT (first backoff, s, 1), HARNESS_JUDGE_RETRY_MAX_WAIT (cap of one wait,
  s, 60), HARNESS_JUDGE_RETRY_DEADLINE (s per attempt, 300), HARNESS_JUDGE_UNAVAILABLE_AFTER (consecutive
  exhausted calls before the run stops, 32), HARNESS_JUDGE_PRICE ("IN,OUT" USD per million tokens, for models
  not in harness.client.config.PRICES), HARNESS_JUDGE_BATCH_POLL (s between batch polls, 30),
  HARNESS_JUDGE_BATCH_MAX_REQUESTS (requests per batch file, 50000);
- the API models under test: HARNESS_API_TIMEOUT (s per call, 120), HARNESS_API_RETRIES (6),
  HARNESS_GEMINI_ACTIVE_TIMEOUT (s an uploaded video may take to become ACTIVE, 600), HARNESS_GEMINI_POLL (s, 2).
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any, Mapping

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from harness.errors import BadInput

_EXPLICIT: ContextVar[bool] = ContextVar("harness_explicit_environ", default=False)


def _var(default: Any, *names: str, **constraints: Any) -> Any:
    alias = names[0] if len(names) == 1 else AliasChoices(*names)
    return Field(default, validation_alias=alias, **constraints)


class Environment(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, case_sensitive=True, env_ignore_empty=True)

    # credentials and endpoints
    openai_api_key: SecretStr | None = _var(None, "OPENAI_API_KEY")
    openai_base_url: str | None = _var(None, "OPENAI_BASE_URL")
    azure_openai_endpoint: str | None = _var(None, "AZURE_OPENAI_ENDPOINT")
    azure_openai_api_key: SecretStr | None = _var(None, "AZURE_OPENAI_API_KEY")
    azure_openai_api_version: str | None = _var(None, "AZURE_OPENAI_API_VERSION", "OPENAI_API_VERSION")
    gemini_api_key: SecretStr | None = _var(None, "GEMINI_API_KEY", "GOOGLE_API_KEY")
    # places
    cache_dir: str | None = _var(None, "HARNESS_CACHE_DIR")
    data_dir: str | None = _var(None, "HARNESS_DATA_DIR")
    shared: str | None = _var(None, "HARNESS_SHARED")
    no_frame_cache: bool = _var(False, "HARNESS_NO_FRAME_CACHE")
    no_api_cache: bool = _var(False, "HARNESS_NO_API_CACHE")
    # the judge role
    judge_timeout: float = _var(60.0, "HARNESS_JUDGE_TIMEOUT", ge=0, allow_inf_nan=False)
    judge_retries: int = _var(6, "HARNESS_JUDGE_RETRIES", ge=1)
    judge_retry_wait: float = _var(1.0, "HARNESS_JUDGE_RETRY_WAIT", ge=0, allow_inf_nan=False)
    judge_retry_max_wait: float = _var(60.0, "HARNESS_JUDGE_RETRY_MAX_WAIT", ge=0, allow_inf_nan=False)
    judge_retry_deadline: float = _var(300.0, "HARNESS_JUDGE_RETRY_DEADLINE", ge=0, allow_inf_nan=False)
    judge_unavailable_after: int = _var(32, "HARNESS_JUDGE_UNAVAILABLE_AFTER", ge=1)
    judge_price: tuple[float, float] | None = _var(None, "HARNESS_JUDGE_PRICE")
    judge_batch_poll: float = _var(30.0, "HARNESS_JUDGE_BATCH_POLL", ge=0, allow_inf_nan=False)
    judge_batch_max_requests: int = _var(50000, "HARNESS_JUDGE_BATCH_MAX_REQUESTS", ge=1)
    # the API models under test
    api_timeout: float = _var(120.0, "HARNESS_API_TIMEOUT", ge=0, allow_inf_nan=False)
    api_retries: int = _var(6, "HARNESS_API_RETRIES", ge=1)
    gemini_active_timeout: float = _var(600.0, "HARNESS_GEMINI_ACTIVE_TIMEOUT", ge=0, allow_inf_nan=False)
    gemini_poll: float = _var(2.0, "HARNESS_GEMINI_POLL", ge=0, allow_inf_nan=False)

    @field_validator("judge_price", mode="before")
    @classmethod
    def _price(cls, value: Any) -> Any:
        """'IN,OUT' (USD per million input and output tokens)."""
        if isinstance(value, str):
            try:
                a, b = (float(x) for x in value.split(","))
            except ValueError:
                raise ValueError("must be 'IN,OUT' (USD per million tokens)") from None
            if not (a >= 0 and b >= 0):
                raise ValueError("must be 'IN,OUT' with non-negative prices")
            return (a, b)
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        # an explicit mapping is the only source: nothing from the process environment leaks in
        return (init_settings,) if _EXPLICIT.get() else (init_settings, env_settings)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None) -> "Environment":
        token = _EXPLICIT.set(environ is not None)
        try:
            if environ is None:
                return cls()
            return cls(**{k: v for k, v in environ.items() if k in variable_names() and v != ""})
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err.get("loc") else "environment"
            raw = (os.environ if environ is None else environ).get(name, err.get("input"))
            msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            raise BadInput(f"{name}={raw!r}: {msg}") from None
        finally:
            _EXPLICIT.reset(token)


def variable_names() -> set[str]:
    names: set[str] = set()
    for field in Environment.model_fields.values():
        alias = field.validation_alias
        names.update(alias.choices if isinstance(alias, AliasChoices) else [alias])  # type: ignore[list-item]
    return names

