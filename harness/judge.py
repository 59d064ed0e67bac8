"""The judge client: one client for every LLM-judge call (OpenAI-compatible endpoints and Azure).

    settings = JudgeSettings.from_args(args)        # what the user asked for (no secrets held)
    settings.configured() -> bool                     # an endpoint and a key are available
    settings.spec() -> JudgeSpec                      # part of the score identity, never a secret
    client = settings.open(progress=tqdm_bar)         # inside a running event loop
    answer = await client.ask(messages, parse)        # re-asks until parse() accepts, at most 10 tries
    client.usage() -> dict                            # calls, cache hits, tokens, cost, latency
    await client.aclose()

Guarantees:
- bounded concurrency: at most `concurrency` HTTP requests in flight (a semaphore around each request,
  never held while waiting to retry);
- transient failures (429, 5xx, 408/409, timeouts, dropped connections) are retried with exponential
  jitter, honouring Retry-After / retry-after-ms, bounded in count and in time (tenacity). The SDK's own
  retries are off (max_retries=0), so these are the only ones. A call that still fails is one failed
  attempt of `ask` (API failures count as attempts, PROTOCOLS.md); 400/422 end the question at once
  (the same request would be rejected again); 401/403/404 stop the run (JudgeConfigError);
  many consecutive exhausted calls stop the run (JudgeUnavailable) instead of failing every sample;
- every successful HTTP answer is cached on disk (diskcache) under a hash of provider, endpoint, model,
  messages, parameters and the answer number. The raw text is cached, never a verdict: validation runs
  on every read, so an invalid answer is re-asked under the next answer number (a new key), and a warm
  re-run replays the same sequence without a single call. Replayed answers are not tries of this run,
  so a question that failed in an earlier run gets fresh tries in the next one;
- tokens, latency, cache hits and estimated cost per call and summed; a budget (USD) stops the run
  cleanly (BudgetExceeded) before it would be exceeded, counting the calls in flight at their worst case.

Test and tuning knobs (environment): HARNESS_JUDGE_TIMEOUT (s per call, default 60, the protocol's),
HARNESS_JUDGE_RETRIES (HTTP tries per attempt, default 6), HARNESS_JUDGE_RETRY_WAIT (first backoff, s,
default 1), HARNESS_JUDGE_RETRY_MAX_WAIT (cap of one wait, s, default 60), HARNESS_JUDGE_RETRY_DEADLINE
(s per attempt, default 300), HARNESS_JUDGE_UNAVAILABLE_AFTER (consecutive exhausted calls, default 32),
HARNESS_JUDGE_PRICE ("IN,OUT" USD per million tokens, for models not in PRICES),
HARNESS_JUDGE_BATCH_POLL (s between batch polls, default 30), HARNESS_JUDGE_BATCH_MAX_REQUESTS (per batch
file, default 50000).

`--judge-mode batch` sends the requests that are not cached through the provider's batch API instead
(harness.judge_batch): same bodies, same cache keys, batch prices.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import json
import math
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, TypeVar

from harness.errors import BadInput, BudgetExceeded, HarnessError
from harness.types import JudgeSpec

T = TypeVar("T")

DEFAULT_MODEL = "gpt-35-turbo-0125"
DEFAULT_AZURE_API_VERSION = "2024-06-01"
CACHE_VERSION = 1
POOL_SIZE = 32  # concurrent requests per HTTP connection pool
REPLAY_FACTOR = 20  # a question gives up for good after max_attempts x this many invalid answers

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


# -- errors ------------------------------------------------------------------------------------
class JudgeConfigError(HarnessError):
    """The endpoint rejects us for every request (bad key, unknown model, wrong URL): stop, exit 2."""


class JudgeUnavailable(HarnessError):
    """The endpoint keeps failing; the run stops cleanly (finished scores are saved) and resumes later."""

    exit_code = 1


class InvalidAnswer(ValueError):
    """Raised by a parse function when the judge's answer is unusable (it will be re-asked)."""


STOP_ERRORS = (BudgetExceeded, JudgeConfigError, JudgeUnavailable)


class _CallFailed(Exception):
    """One attempt's HTTP call failed for good (after its retries). Internal."""

    def __init__(self, reason: str, final: bool = False):
        super().__init__(reason)
        self.final = final  # re-asking the same request is pointless (400/422)


# -- settings ----------------------------------------------------------------------------------
def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BadInput(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise BadInput(f"{name}={raw!r} must be a non-negative number")
    return value


def _norm_url(url: str | None) -> str | None:
    return url.rstrip("/") if url else None


@dataclass
class JudgeSettings:
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    concurrency: int = 64
    budget: float | None = None  # USD for this invocation
    cache_dir: str | None = None  # the judge cache lives in <cache_dir>/judge
    timeout: float = 60.0
    retries: int = 6  # HTTP tries per attempt (1 = no retry)
    retry_wait: float = 1.0
    retry_max_wait: float = 60.0
    retry_deadline: float = 300.0
    unavailable_after: int = 32
    price: tuple[float, float] | None = None  # USD per million (input, output); None = unknown
    params: dict[str, Any] = field(default_factory=dict)  # extra request parameters (none: API defaults)
    mode: str = "online"  # online | batch (the provider's batch API, harness.judge_batch)
    batch_wait: float = 86400.0  # s this invocation waits for batches, then exits (resumable)
    batch_poll: float = 30.0  # s between two polls of a batch
    batch_max_requests: int = 50000  # requests per batch file (OpenAI's limit)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    @classmethod
    def from_args(cls, args: Any, env: Mapping[str, str] | None = None) -> "JudgeSettings":
        env = dict(os.environ if env is None else env)
        model = getattr(args, "judge_model", None) or DEFAULT_MODEL
        concurrency = int(getattr(args, "judge_concurrency", None) or 64)
        if concurrency < 1:
            raise BadInput("--judge-concurrency must be at least 1")
        budget = getattr(args, "judge_budget", None)
        if budget is not None and (not math.isfinite(budget) or budget <= 0):
            raise BadInput("--judge-budget must be a positive amount in USD")
        price = PRICES.get(model)
        if env.get("HARNESS_JUDGE_PRICE"):
            try:
                a, b = (float(x) for x in env["HARNESS_JUDGE_PRICE"].split(","))
                price = (a, b)
            except ValueError:
                raise BadInput("HARNESS_JUDGE_PRICE must be 'IN,OUT' (USD per million tokens)") from None
        if budget is not None and price is None:
            raise BadInput(f"--judge-budget needs a price for judge model {model}; set "
                           "HARNESS_JUDGE_PRICE=IN,OUT (USD per million input, output tokens)")
        retries = int(_env_float(env, "HARNESS_JUDGE_RETRIES", 6))
        mode = getattr(args, "judge_mode", None) or "online"
        if mode not in ("online", "batch"):
            raise BadInput(f"--judge-mode {mode!r}: choose online or batch")
        batch_wait = getattr(args, "batch_wait", None)
        if batch_wait is not None:
            if mode != "batch":
                raise BadInput("--batch-wait applies to --judge-mode batch")
            if not math.isfinite(batch_wait) or batch_wait < 0:
                raise BadInput("--batch-wait must be a non-negative number of seconds")
        return cls(
            model=model,
            base_url=_norm_url(getattr(args, "judge_base_url", None)),
            concurrency=concurrency,
            budget=budget,
            cache_dir=getattr(args, "cache_dir", None),
            timeout=_env_float(env, "HARNESS_JUDGE_TIMEOUT", 60.0),
            retries=max(1, retries),
            retry_wait=_env_float(env, "HARNESS_JUDGE_RETRY_WAIT", 1.0),
            retry_max_wait=_env_float(env, "HARNESS_JUDGE_RETRY_MAX_WAIT", 60.0),
            retry_deadline=_env_float(env, "HARNESS_JUDGE_RETRY_DEADLINE", 300.0),
            unavailable_after=max(1, int(_env_float(env, "HARNESS_JUDGE_UNAVAILABLE_AFTER", 32))),
            price=price,
            mode=mode,
            batch_wait=86400.0 if batch_wait is None else float(batch_wait),
            batch_poll=_env_float(env, "HARNESS_JUDGE_BATCH_POLL", 30.0),
            batch_max_requests=max(1, int(_env_float(env, "HARNESS_JUDGE_BATCH_MAX_REQUESTS", 50000))),
            env=env,
        )

    # -- which endpoint ----------------------------------------------------------------------
    @property
    def provider(self) -> str:
        """An explicit --judge-base-url wins; then Azure (endpoint and key); then OpenAI."""
        if self.base_url:
            return "openai"
        if self.env.get("AZURE_OPENAI_ENDPOINT") and self.env.get("AZURE_OPENAI_API_KEY"):
            return "azure"
        return "openai"

    def configured(self) -> bool:
        if self.base_url:
            return True
        if self.env.get("AZURE_OPENAI_ENDPOINT") and self.env.get("AZURE_OPENAI_API_KEY"):
            return True
        return bool(self.env.get("OPENAI_API_KEY"))

    def endpoint(self) -> str:
        if self.base_url:
            return self.base_url
        if self.provider == "azure":
            return _norm_url(self.env["AZURE_OPENAI_ENDPOINT"]) or ""
        return _norm_url(self.env.get("OPENAI_BASE_URL")) or "https://api.openai.com/v1"

    def api_version(self) -> str | None:
        if self.provider != "azure":
            return None
        return (self.env.get("AZURE_OPENAI_API_VERSION") or self.env.get("OPENAI_API_VERSION")
                or DEFAULT_AZURE_API_VERSION)

    def spec(self) -> JudgeSpec:
        explicit = self.base_url or (self.provider == "azure") or bool(self.env.get("OPENAI_BASE_URL"))
        from harness.judge_identity import safe_url  # a user:KEY@ in the URL never reaches a file

        return JudgeSpec(model=self.model, base_url=safe_url(self.endpoint()) if explicit else None,
                         provider=self.provider, api_version=self.api_version())

    def cache_path(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir) / "judge"
        import platformdirs

        return Path(platformdirs.user_cache_dir("video-harness")) / "judge"

    def open(self, progress: Any = None) -> "JudgeClient":
        if not self.configured():
            raise BadInput("no judge configured: pass --judge-base-url URL, or set OPENAI_API_KEY, "
                           "or AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY")
        return JudgeClient(self, progress=progress)


# -- answers and usage -------------------------------------------------------------------------
@dataclass
class JudgeAnswer(Generic[T]):
    value: T | None
    ok: bool
    reason: str | None = None  # why it failed (None when ok)
    raw: str | None = None  # the last raw answer text
    attempts: int = 0  # answers examined (replayed from the cache or new)
    keys: list[str] = field(default_factory=list)  # cache keys of every answer examined
    calls: int = 0  # live calls made for it in this run (failed ones included)


@dataclass
class _Usage:
    started: float = field(default_factory=time.perf_counter)
    calls: int = 0  # answered HTTP requests (paid)
    requests: int = 0  # HTTP requests sent, failed ones included
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    latency_sum: float = 0.0
    latency_max: float = 0.0
    errors: Counter = field(default_factory=Counter)
    invalid_answers: int = 0
    reserved: float = 0.0  # worst-case cost of the calls in flight
    batch_calls: int = 0  # answers taken from batch output files (harness.judge_batch), at batch prices


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    name = type(exc).__name__
    if status is not None:
        msg = getattr(exc, "message", "") or str(exc)
        return f"{name} {status}: {' '.join(str(msg).split())[:160]}"
    return f"{name}: {' '.join(str(exc).split())[:160]}"


_KEYLIKE = re.compile(r"\b(?:sk-[A-Za-z0-9_*.\-]{6,}|[A-Fa-f0-9]{32})\b")


def _is_transient(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APIConnectionError):  # timeouts and dropped connections included
        return True
    status = _status(exc)
    return status is not None and (status in (408, 409, 429) or status >= 500)


# -- the client --------------------------------------------------------------------------------
class JudgeClient:
    def __init__(self, settings: JudgeSettings, progress: Any = None):
        import diskcache

        self.settings = settings
        self.model = settings.model
        self.endpoint = settings.endpoint()
        self.provider = settings.provider
        self.api_version = settings.api_version()
        self.params = dict(settings.params)
        self.progress = progress
        self._usage = _Usage()
        self._pending: dict[str, asyncio.Future] = {}
        self._consecutive_failures = 0
        self._stopped: BaseException | None = None
        self._last_postfix = 0.0
        self.status_note: str | None = None  # shown after the numbers (e.g. a batch's status)
        self._in_flight = 0
        self._max_in_flight = 0
        self._max_completion_seen = 0
        self._answered: Counter = Counter()  # `model` of every answer used (live, cached or batch)
        self._call_times: list[float] = []  # first and last `created` of those answers
        self._budget_released = asyncio.Event()
        path = settings.cache_path()
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(path), size_limit=2**40, eviction_policy="none")
        except OSError as exc:
            raise BadInput(f"judge cache directory {path} is not usable ({exc.strerror}); pass --cache-dir DIR") from None
        self._sdks = self._make_sdks()
        self._slots: asyncio.Queue[int] = asyncio.Queue()  # the concurrency bound: a request holds a slot
        for slot in range(max(1, settings.concurrency)):
            self._slots.put_nowait(slot)

    def _make_sdks(self) -> list[Any]:
        """SDK clients, one per POOL_SIZE concurrent requests.

        httpx's connection pool scans all of its connections for every request, so one pool with
        hundreds of connections costs O(concurrency) per call; pools of POOL_SIZE keep it flat.
        """
        import openai

        limits_cls = type(openai.DEFAULT_CONNECTION_LIMITS)  # httpx's Limits, whichever httpx the SDK uses
        env = self.settings.env
        n = self.settings.concurrency
        sdks = []
        for start in range(0, n, POOL_SIZE):
            conns = min(POOL_SIZE, n - start)
            http_client = openai.DefaultAsyncHttpxClient(
                limits=limits_cls(max_connections=conns, max_keepalive_connections=conns),
                timeout=self.settings.timeout,
            )
            common = dict(timeout=self.settings.timeout, max_retries=0, http_client=http_client)
            if self.provider == "azure":
                sdks.append(openai.AsyncAzureOpenAI(azure_endpoint=self.endpoint, api_key=env["AZURE_OPENAI_API_KEY"],
                                                    api_version=self.api_version, **common))
            else:
                # local servers (vLLM, SGLang, Ollama) accept any key; the SDK insists on one
                sdks.append(openai.AsyncOpenAI(base_url=self.endpoint, api_key=env.get("OPENAI_API_KEY") or "EMPTY",
                                               **common))
        return sdks

    async def aclose(self) -> None:
        try:
            for sdk in self._sdks:
                await sdk.close()
        finally:
            self._cache.close()
            self._show(force=True)

    # -- identity ------------------------------------------------------------------------------
    def cache_key(self, messages: list[dict[str, Any]], params: Mapping[str, Any] | None = None,
                  attempt: int = 0) -> str:
        blob = json.dumps({
            "v": CACHE_VERSION, "provider": self.provider, "endpoint": self.endpoint,
            "api_version": self.api_version, "model": self.model, "messages": messages,
            "params": {**self.params, **(params or {})}, "attempt": attempt,
        }, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # -- the general method ---------------------------------------------------------------------
    async def ask(self, messages: list[dict[str, Any]], parse: Callable[[str], T], max_attempts: int = 10,
                  params: Mapping[str, Any] | None = None) -> JudgeAnswer[T]:
        """Ask until parse() accepts the answer: at most max_attempts tries in this run, API failures included.

        Answer number i is cached under its own key (attempt index i), so a re-ask after an invalid
        answer gets a new answer, and a re-run replays the same sequence from the cache without a
        call. Replayed answers do not count as tries of this run: a question that failed in an earlier
        run (all its answers invalid) gets max_attempts new tries. A failed API call is retried under
        the same index (no answer was stored there). Raises only the run-stopping errors
        (BudgetExceeded, JudgeConfigError, JudgeUnavailable); everything else is in the answer.
        """
        keys: list[str] = []
        raw: str | None = None
        reason = "no attempt made"
        tries = 0  # live calls of this run, failed ones included
        index = 0  # answer number: advances on an invalid answer only
        limit = max_attempts * REPLAY_FACTOR
        while tries < max_attempts and index < limit:
            key = self.cache_key(messages, params, index)
            if not keys or keys[-1] != key:
                keys.append(key)
            record = self._lookup(key)
            if record is None:
                tries += 1
                try:
                    record = await self._fetch(messages, params, key)
                except _CallFailed as exc:
                    reason = f"api: {exc}"
                    if exc.final:
                        break
                    continue
            raw = record["text"]
            try:
                value = parse(raw)
            except Exception as exc:  # noqa: BLE001 - any parse failure is an invalid answer
                self._usage.invalid_answers += 1
                detail = str(exc) or type(exc).__name__
                reason = f"invalid answer: {' '.join(detail.split())[:160]}"
                index += 1
                continue
            return JudgeAnswer(value, True, None, raw, index + 1, keys, tries)
        what = f"{tries} tries in this run" if index < limit else f"{index} invalid answers over several runs"
        return JudgeAnswer(None, False, f"{what} failed; last: {reason}", raw, index, keys, tries)

    async def complete(self, messages: list[dict[str, Any]], params: Mapping[str, Any] | None = None,
                       attempt: int = 0) -> dict[str, Any]:
        """One cached chat completion: {"text", "prompt_tokens", "completion_tokens", "model", ...}.

        Raises _CallFailed-free errors only: an API failure after retries raises RuntimeError.
        """
        key = self.cache_key(messages, params, attempt)
        record = self._lookup(key)
        if record is not None:
            return record
        try:
            return await self._fetch(messages, params, key)
        except _CallFailed as exc:
            raise RuntimeError(f"judge call failed: {exc}") from None

    def _lookup(self, key: str) -> dict[str, Any] | None:
        if self._stopped is not None:
            raise self._stopped
        record = self._cache.get(key)
        if record is not None:
            self._usage.cache_hits += 1
            self._note_answer(record)
            self._show()
        return record

    def _note_answer(self, record: Mapping[str, Any]) -> None:
        """Remember who answered and when (the judge's identity on the result)."""
        self._answered[record.get("model") or ""] += 1
        created = record.get("created")
        if isinstance(created, (int, float)):
            times = self._call_times
            self._call_times = [min(times[0], created), max(times[-1], created)] if times else [created, created]

    async def _fetch(self, messages, params, key: str) -> dict[str, Any]:
        """A live call for `key` (shared with a concurrent identical request), then cached."""
        pending = self._pending.get(key)
        if pending is not None:  # the same request is already on its way: share its answer
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            record = await self._live(messages, params)
            self._cache.set(key, record)
            future.set_result(record)
            return record
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved; waiters (if any) get it through await
            raise
        finally:
            del self._pending[key]

    # -- the live call --------------------------------------------------------------------------
    async def _live(self, messages, params) -> dict[str, Any]:
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay
        from tenacity.wait import wait_random_exponential

        s = self.settings
        backoff = wait_random_exponential(multiplier=s.retry_wait, max=s.retry_max_wait)

        def wait(state) -> float:
            exc = state.outcome.exception() if state.outcome else None
            base = backoff(state)
            after = _retry_after(exc) if exc is not None else None
            if after is not None:
                base = max(base, after)
            return min(base, s.retry_max_wait)

        def before_sleep(state) -> None:
            self._usage.retries += 1

        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_attempt(s.retries) | stop_after_delay(s.retry_deadline),
            wait=wait,
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            record = await retrying(self._once, messages, params)
        except STOP_ERRORS:
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            return self._failed(exc)
        self._consecutive_failures = 0
        return record

    def _failed(self, exc: Exception):
        import openai

        status = _status(exc)
        desc = self._redact(_describe(exc))
        if status in (401, 403):
            self._stop(JudgeConfigError(f"judge endpoint {self.endpoint} refused the credentials ({desc}); "
                                        "check OPENAI_API_KEY or AZURE_OPENAI_API_KEY"))
        if status == 404:
            hint = ""
            if self.model.startswith("gpt-35-") and self.provider == "openai":
                hint = f"; on OpenAI the model is named {self.model.replace('gpt-35-', 'gpt-3.5-')}"
            self._stop(JudgeConfigError(f"judge model {self.model} not found at {self.endpoint} ({desc}){hint}; "
                                        "check --judge-model and --judge-base-url"))
        if isinstance(exc, (openai.OpenAIError, OSError, ValueError)) or status is not None:
            if _is_transient(exc):
                self._consecutive_failures += 1
                if self._consecutive_failures >= self.settings.unavailable_after:
                    self._stop(JudgeUnavailable(
                        f"judge endpoint {self.endpoint} unavailable: {self._consecutive_failures} calls in a "
                        f"row failed after retries (last: {desc}); finished scores are saved, run the same "
                        "command again to resume"))
                raise _CallFailed(desc)
            raise _CallFailed(desc, final=True)  # 400, 422, ...: the same request would fail again
        raise exc  # a bug, not an API failure

    def _redact(self, text: str) -> str:
        """Error texts end up in score files and on screen: never with a key in them."""
        for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY"):
            secret = self.settings.env.get(name)
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return _KEYLIKE.sub("***", text)

    def _stop(self, exc: BaseException):
        if self._stopped is None:
            self._stopped = exc
        raise self._stopped

    async def _once(self, messages, params) -> dict[str, Any]:
        u = self._usage
        slot = await self._slots.get()
        reserve = 0.0
        try:
            if self._stopped is not None:
                raise self._stopped
            reserve = await self._reserve(messages)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            u.requests += 1
            t0 = time.perf_counter()
            try:
                response = await self._sdks[slot // POOL_SIZE].chat.completions.create(
                    **self.request_body(messages, params))
            except Exception as exc:
                u.errors[type(exc).__name__] += 1
                raise
            finally:
                self._in_flight -= 1
            return self._account(response, time.perf_counter() - t0)
        finally:
            if reserve:
                u.reserved -= reserve
                self._budget_released.set()  # wake calls waiting for this reservation
                self._budget_released = asyncio.Event()
            self._slots.put_nowait(slot)

    def _account(self, response: Any, latency: float) -> dict[str, Any]:
        u = self._usage
        choices = getattr(response, "choices", None) or []
        message = choices[0].message if choices else None
        text = (message.content if message is not None else None) or ""
        usage = getattr(response, "usage", None)
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        cost = self._cost(prompt_tokens, completion_tokens)
        u.calls += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens
        u.cost += cost or 0.0
        u.latency_sum += latency
        u.latency_max = max(u.latency_max, latency)
        self._max_completion_seen = max(self._max_completion_seen, completion_tokens)
        self._show()
        record = {
            "text": text,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
            "latency_s": round(latency, 4),
            "model": getattr(response, "model", None),
            "finish_reason": choices[0].finish_reason if choices else None,
            "created": time.time(),
        }
        self._note_answer(record)
        return record

    # -- money ----------------------------------------------------------------------------------
    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.settings.price is None:
            return None
        p_in, p_out = self.settings.price
        return (prompt_tokens * p_in + completion_tokens * p_out) / 1e6

    async def _reserve(self, messages) -> float:
        """Hold the worst-case cost of one more call while it runs; stop when even one call could overspend.

        When only the reservations of calls in flight stand in the way, wait for them to settle.
        """
        budget = self.settings.budget
        if budget is None or self.settings.price is None:
            return 0.0
        worst = self.worst_case_cost(messages)
        u = self._usage
        while True:
            if self._stopped is not None:
                raise self._stopped
            if u.cost + worst > budget:
                self._stop(BudgetExceeded(
                    f"judge budget ${budget:.4f} reached: ${u.cost:.4f} spent on {u.calls} calls "
                    f"({u.cache_hits} answered from the cache); finished scores are saved, run again "
                    "(with a larger --judge-budget) to continue"))
            if u.cost + u.reserved + worst <= budget:
                u.reserved += worst
                return worst
            await self._budget_released.wait()

    def worst_case_cost(self, messages) -> float:
        """A generous estimate of one call's cost (USD at online prices; 0 without a price)."""
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        # a token is 3-4 characters of English; count 3 (more tokens = safer). Completions have no
        # max_tokens (protocol): reserve the largest seen so far, at least 1024.
        return self._cost(chars // 3 + 16 * len(messages), max(1024, self._max_completion_seen)) or 0.0

    # -- the batch path (harness.judge_batch) ----------------------------------------------------
    def request_body(self, messages: list[dict[str, Any]], params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Exactly what the online path sends for these messages (a batch line's body is this)."""
        return {"model": self.model, "messages": messages, **{**self.params, **(params or {})}}

    @property
    def sdk(self) -> Any:
        return self._sdks[0]

    def cached(self, key: str) -> bool:
        """Whether an answer is stored under `key` (not counted as a cache hit)."""
        if self._stopped is not None:
            raise self._stopped
        return key in self._cache

    def check_stopped(self) -> None:
        if self._stopped is not None:
            raise self._stopped

    def store_batch_answer(self, key: str, body: Mapping[str, Any], batch_id: str, price_factor: float) -> dict[str, Any]:
        """Cache one answer from a batch output file, like a live answer (same record, same key).

        An answer already stored under `key` (e.g. by an online run meanwhile) is kept: a cached
        sequence of answers never changes under a score that was computed from it.
        Raises ValueError when `body` is not a chat completion.
        """
        choices = body.get("choices") if isinstance(body, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise ValueError("no choices in the answer")
        message = choices[0].get("message")
        text = (message.get("content") if isinstance(message, Mapping) else None) or ""
        if not isinstance(text, str):
            raise ValueError("the answer's content is not text")
        usage = body.get("usage") if isinstance(body.get("usage"), Mapping) else {}
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        cost = self._cost(prompt_tokens, completion_tokens)
        cost = None if cost is None else cost * price_factor
        u = self._usage
        u.batch_calls += 1
        u.prompt_tokens += prompt_tokens
        u.completion_tokens += completion_tokens
        u.cost += cost or 0.0
        self._max_completion_seen = max(self._max_completion_seen, completion_tokens)
        record = {
            "text": text,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cost_usd": cost,
            "latency_s": None,
            "model": body.get("model"),
            "finish_reason": choices[0].get("finish_reason"),
            "created": time.time(),
            "batch_id": batch_id,
        }
        self._cache.add(key, record)
        self._note_answer(record)
        self._show()
        return record

    # -- reporting ------------------------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        u = self._usage
        seconds = time.perf_counter() - u.started
        return {
            "model": self.model,
            "provider": self.provider,
            "calls": u.calls,
            "batch_calls": u.batch_calls,
            "requests": u.requests,
            "cache_hits": u.cache_hits,
            "retries": u.retries,
            "invalid_answers": u.invalid_answers,
            "errors": dict(u.errors),
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "cost_usd": round(u.cost, 9) if self.settings.price is not None else None,
            "price_usd_per_million": list(self.settings.price) if self.settings.price else None,
            "budget_usd": self.settings.budget,
            "seconds": round(seconds, 3),
            "calls_per_s": round(u.calls / seconds, 2) if seconds > 0 else None,
            "latency_mean_s": round(u.latency_sum / u.calls, 4) if u.calls else None,
            "latency_max_s": round(u.latency_max, 4) if u.calls else None,
            "max_in_flight": self._max_in_flight,
            "concurrency": self.settings.concurrency,
            "answered": sorted(m for m in self._answered if m),
            "call_times": list(self._call_times),
        }

    def _show(self, force: bool = False) -> None:
        bar = self.progress
        if bar is None:
            return
        now = time.perf_counter()
        if not force and now - self._last_postfix < 0.25:
            return
        self._last_postfix = now
        u = self._usage
        rate = u.calls / max(1e-9, now - u.started)
        tokens = u.prompt_tokens + u.completion_tokens
        cost = f", ${u.cost:.4f}" if self.settings.price is not None else ""
        try:
            note = f", {self.status_note}" if self.status_note else ""
            bar.set_postfix_str(f"judge {rate:.1f} calls/s, {u.cache_hits} cached, {tokens} tok{cost}{note}",
                                refresh=False)
        except Exception:  # noqa: BLE001 - a progress bar never breaks a run
            pass
