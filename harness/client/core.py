"""The model client: every chat call goes through one of these, whoever makes it (a judged metric, an API model).

    client = ModelClient(config, progress=bar, batch_dir=score_folder)   # inside a running event loop
    answer = await client.ask(messages, parse)      # re-asks until parse() accepts, at most 10 tries
    record = await client.complete(messages, params)  # one cached completion (CallFailed when it fails)
    record = await client.complete(messages, params, on_text=print)  # the same, its text streamed as it comes
    client.usage() -> dict                          # calls, cache hits, tokens, cost, who answered
    await client.aclose()

Guarantees:
- bounded concurrency: at most `concurrency` HTTP requests in flight (a semaphore around each try, never
  held while waiting to retry);
- one retry policy (harness.client.retry): transient failures (429, 5xx, 408/409, timeouts, dropped
  connections) are retried with exponential jitter, honouring Retry-After, bounded in count and in time. A
  call that still fails is one failed attempt of `ask` (API failures count as attempts, PROTOCOLS.md);
  400/422 end the question at once; 401/403/404 stop the run (EndpointRefused); many consecutive exhausted
  calls stop the run (EndpointUnavailable) instead of failing every sample;
- one cache (diskcache) keyed by a hash of provider, endpoint, model, messages, parameters and the answer
  number (and a judge audit's repeat number, ClientConfig.repeat). The raw text is cached, never a verdict:
  validation runs on every read, so an invalid answer is re-asked under the next answer number (a new key),
  and a warm re-run replays the same sequence without a call. Replayed answers are not tries of this run,
  so a question that failed before gets fresh tries;
- transports: online (harness.client.openai_chat: OpenAI, Azure, OpenAI-compatible; harness.client.gemini),
  and in batch mode the provider's batch API for first answers (harness.client.batch): the same request
  bodies and cache keys, a future per key, batch prices, re-asks online;
- tokens, latency, cache hits, cost per call and summed; a budget (USD) stops the run cleanly
  (BudgetExceeded) before it would be exceeded, counting the calls in flight at their worst case; the
  model that answered and when, for every answer used (live, cached or batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Mapping, TypeVar

from harness.client.config import ClientConfig
from harness.client.retry import CallError, policy
from harness.errors import BadInput, BudgetExceeded, CallFailed, EndpointRefused, EndpointUnavailable

T = TypeVar("T")

CACHE_VERSION = 1
REPLAY_FACTOR = 20  # a question gives up for good after max_attempts x this many invalid answers
_KEYLIKE = re.compile(r"\b(?:sk-[A-Za-z0-9_*.\-]{6,}|[A-Fa-f0-9]{32})\b")


@dataclass
class Answer(Generic[T]):
    value: T | None
    ok: bool
    reason: str | None = None  # why it failed (None when ok)
    raw: str | None = None  # the last raw answer text
    attempts: int = 0  # answers examined (replayed from the cache or new)
    keys: list[str] = field(default_factory=list)  # cache keys of every answer examined
    calls: int = 0  # live calls made for it in this run (failed ones included)


@dataclass
class Usage:
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
    batch_calls: int = 0  # answers taken from batch output files, at batch prices


def make_transport(config: ClientConfig):
    if config.provider == "gemini":
        from harness.client.gemini import GeminiChat

        return GeminiChat(config)
    from harness.client.openai_chat import OpenAIChat

    return OpenAIChat(config)


def open_cache(path: Path):
    import diskcache

    try:
        path.mkdir(parents=True, exist_ok=True)
        return diskcache.Cache(str(path), size_limit=2**40, eviction_policy="none")
    except OSError as exc:
        raise BadInput(f"cache directory {path} is not usable ({exc.strerror}); pass --cache-dir DIR") from None


class ModelClient:
    def __init__(self, config: ClientConfig, progress: Any = None, batch_dir: str | Path | None = None):
        self.config = config
        self.model = config.model
        self.provider = config.provider
        self.endpoint = config.endpoint
        self.api_version = config.api_version
        self.params = dict(config.params)
        self.progress = progress
        self.status_note: str | None = None  # shown after the numbers (e.g. a batch's status)
        self.transport = make_transport(config)
        self._usage = Usage()
        self._pending: dict[str, asyncio.Future] = {}
        self._consecutive_failures = 0
        self._stopped: BaseException | None = None
        self._last_postfix = 0.0
        self.live_calls = 0  # callers inside a live call (its retry waits included)
        self._in_flight = 0
        self._max_in_flight = 0
        self._max_completion_seen = 0
        self._answered: Counter = Counter()  # `model` of every answer used (live, cached or batch)
        self._call_times: list[float] = []  # first and last `created` of those answers
        self._budget_released = asyncio.Event()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._cache = open_cache(config.cache_path()) if config.cache else None
        self._unwritten: dict[str, dict[str, Any]] = {}  # answers of this loop turn, written together at its end
        if self._cache is not None and config.provider == "gemini":
            import_cache(self._cache, config.cache_path().parent / "gemini")
        self._batch = None
        if config.mode == "batch":
            from harness.client.batch import BatchTransport

            if batch_dir is None:
                raise BadInput("batch mode needs a folder for its record of batches")
            self._batch = BatchTransport(self, Path(batch_dir))

    async def aclose(self) -> None:
        try:
            if self._batch is not None:
                await self._batch.aclose()
            await self.transport.aclose()
        finally:
            if self._cache is not None:
                self._write()
                self._cache.close()
            self._show(force=True)

    # -- identity ------------------------------------------------------------------------------
    def cache_key(self, messages: list[dict[str, Any]], params: Mapping[str, Any] | None = None,
                  attempt: int = 0) -> str:
        identity = {
            "v": CACHE_VERSION, "provider": self.provider, "endpoint": self.endpoint,
            "api_version": self.api_version, "model": self.model, "messages": messages,
            "params": {**self.params, **(params or {})}, "attempt": attempt,
        }
        if self.config.repeat:  # a field of its own: never one of the answer numbers; repeat 0 keys as before
            identity["repeat"] = self.config.repeat
        blob = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def request_body(self, messages: list[dict[str, Any]], params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Exactly what the online path sends for these messages (a batch line's body is this)."""
        return self.transport.body(messages, {**self.params, **(params or {})})

    # -- asking ---------------------------------------------------------------------------------
    async def ask(self, messages: list[dict[str, Any]], parse: Callable[[str], T], max_attempts: int = 10,
                  params: Mapping[str, Any] | None = None) -> Answer[T]:
        """Ask until parse() accepts the answer: at most max_attempts tries in this run, API failures included.

        Answer number i is cached under its own key, so a re-ask after an invalid answer gets a new answer
        and a re-run replays the same sequence from the cache. A failed API call is retried under the same
        number (no answer was stored there). Raises only the run-stopping errors (BudgetExceeded,
        EndpointRefused, EndpointUnavailable, and in batch mode BatchWaiting, BatchEnded).
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
                    record = await self._answer(key, messages, params, index)
                except CallFailed as exc:
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
            return Answer(value, True, None, raw, index + 1, keys, tries)
        what = f"{tries} tries in this run" if index < limit else f"{index} invalid answers over several runs"
        return Answer(None, False, f"{what} failed; last: {reason}", raw, index, keys, tries)

    async def complete(self, messages: Any, params: Mapping[str, Any] | None = None, attempt: int = 0,
                       key: str | None = None, on_text: Callable[[str], None] | None = None) -> dict[str, Any]:
        """One cached completion: {"text", "prompt_tokens", "completion_tokens", "model", ...}.

        `key`: the cache key, for requests that are not JSON (Gemini parts); by default a hash of the request.
        `on_text`: a live call streams (where the transport can), each piece of the text handed over as it
        comes; cached under the same key as the call without it. An answer from the cache is not streamed.
        Raises CallFailed when the call fails for good, and the run-stopping errors.
        """
        key = key or self.cache_key(messages, params, attempt)
        record = self._lookup(key)
        if record is None:
            if on_text is not None and self._batch is None:
                record = await self._fetch(key, messages, params, on_text)
            else:
                record = await self._answer(key, messages, params, attempt)
        return record

    def _lookup(self, key: str) -> dict[str, Any] | None:
        self.raise_if_stopped()
        if self._cache is None:
            return None
        record = self._unwritten.get(key) or self._cache.get(key)
        if record is not None:
            self._usage.cache_hits += 1
            self._note_answer(record)
            self._show()
        return record

    def cached(self, key: str) -> bool:
        return self._cache is not None and (key in self._unwritten or key in self._cache)

    def _store(self, key: str, record: dict[str, Any]) -> None:
        """Cache a live answer. Answers arriving in the same loop turn are written in one transaction at its
        end (one commit instead of one each: the commit's write blocks the loop); a lookup sees them at once."""
        if not self._unwritten:
            asyncio.get_running_loop().call_soon(self._write)
        self._unwritten[key] = record

    def _write(self) -> None:
        if not self._unwritten or self._cache is None:
            return
        unwritten, self._unwritten = self._unwritten, {}
        with self._cache.transact():
            for key, record in unwritten.items():
                self._cache.set(key, record)

    async def _answer(self, key: str, messages, params, attempt: int) -> dict[str, Any]:
        """A new answer for `key`: a first answer from a batch in batch mode, else (or if the batch failed
        it) a live call."""
        if self._batch is not None and attempt == 0:
            record = await self._batch.answer(key, self.request_body(messages, params), messages)
            if record is not None:
                return record
        return await self._fetch(key, messages, params)

    async def _fetch(self, key: str, messages, params, on_text=None) -> dict[str, Any]:
        """A live call for `key` (shared with a concurrent identical request), then cached."""
        pending = self._pending.get(key)
        if pending is not None:  # the same request is already on its way: share its answer
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            record = await self._live(messages, params, on_text)
            if self._cache is not None:
                self._store(key, record)
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
    async def _live(self, messages, params, on_text=None) -> dict[str, Any]:
        """One call under the retry policy. The first try runs bare (nearly every call ends there, and
        tenacity's machinery costs a tenth of a call's CPU); after a failure the policy takes over, with
        that failure replayed as its first attempt, so counts, waits and the deadline are the policy's."""
        self.live_calls += 1
        params = {**self.params, **(params or {})}
        started = time.monotonic()
        try:
            try:
                record = await self._try(messages, params, on_text)
            except CallError as exc:
                replay = [exc]

                async def attempt():
                    if replay:
                        raise replay.pop()
                    return await self._try(messages, params, on_text)

                record = await policy(self.config, self._on_retry, spent=time.monotonic() - started)(attempt)
        except CallError as exc:
            self._failed(exc)
        finally:
            self.live_calls -= 1
        self._consecutive_failures = 0
        return record

    async def _stream(self, messages, params: dict[str, Any], on_text) -> dict[str, Any]:
        """One streamed try. A failure after some text was handed over is not retried (the text would
        come twice); one before it is retried as any call."""
        shown = []

        def forward(piece: str) -> None:
            shown.append(piece)
            on_text(piece)

        try:
            return await self.transport.stream(messages, params, forward)
        except CallError as exc:
            if shown:
                exc.transient = False
                exc.message = f"{exc.message} (the answer broke off after {sum(map(len, shown))} characters)"
            raise

    def _on_retry(self, state) -> None:
        self._usage.retries += 1

    async def _try(self, messages, params: dict[str, Any], on_text=None) -> dict[str, Any]:
        u = self._usage
        async with self._slots:
            self.raise_if_stopped()
            reserve = await self._reserve(messages)
            try:
                self._in_flight += 1
                self._max_in_flight = max(self._max_in_flight, self._in_flight)
                u.requests += 1
                t0 = time.perf_counter()
                try:
                    if on_text is None or not hasattr(self.transport, "stream"):
                        reply = await self.transport.send(messages, params)
                    else:
                        reply = await self._stream(messages, params, on_text)
                except CallError as exc:
                    u.errors[exc.kind] += 1
                    raise
                finally:
                    self._in_flight -= 1
                return self._account(reply, time.perf_counter() - t0)
            finally:
                if reserve:
                    u.reserved -= reserve
                    self._budget_released.set()  # wake calls waiting for this reservation
                    self._budget_released = asyncio.Event()

    def _failed(self, exc: CallError):
        """Turn a call that failed for good into a stop of the run or one failed attempt (CallFailed)."""
        c = self.config
        desc = self.redact(exc.describe())
        where = self.endpoint or f"the {self.provider} API"
        if exc.status in (401, 403):
            self._stop(EndpointRefused(f"{c.label} endpoint {where} refused the credentials ({desc}); {c.key_hint}"))
        if exc.status == 404:
            hint = ""
            if self.model.startswith("gpt-35-") and self.provider == "openai":
                hint = f"; on OpenAI the model is named {self.model.replace('gpt-35-', 'gpt-3.5-')}"
            self._stop(EndpointRefused(f"{c.label} model {self.model} not found at {where} ({desc}){hint}; "
                                       f"{c.flag_hint}"))
        if exc.transient:
            self._consecutive_failures += 1
            if self._consecutive_failures >= c.unavailable_after:
                self._stop(EndpointUnavailable(
                    f"{c.label} endpoint {where} unavailable: {self._consecutive_failures} calls in a row failed "
                    f"after retries (last: {desc}); finished work is saved, run the same command again to resume"))
            raise CallFailed(desc)
        raise CallFailed(desc, final=True)  # 400, 422, ...: the same request would fail again

    def _account(self, reply: dict[str, Any], latency: float) -> dict[str, Any]:
        u = self._usage
        cost = self._cost(reply["prompt_tokens"], reply["completion_tokens"])
        u.calls += 1
        u.prompt_tokens += reply["prompt_tokens"]
        u.completion_tokens += reply["completion_tokens"]
        u.cost += cost or 0.0
        u.latency_sum += latency
        u.latency_max = max(u.latency_max, latency)
        self._max_completion_seen = max(self._max_completion_seen, reply["completion_tokens"])
        record = {**reply, "cost_usd": cost, "latency_s": round(latency, 4), "created": time.time()}
        self._note_answer(record)
        self._show()
        return record

    def store_batch_answer(self, key: str, body: Mapping[str, Any], batch_id: str, price_factor: float) -> dict[str, Any]:
        """Cache one answer from a batch output file, like a live answer (same record, same key).

        An answer already stored under `key` (e.g. by an online run meanwhile) is kept: a cached sequence
        of answers never changes under a score computed from it. ValueError when `body` is no completion.
        """
        from harness.client.openai_chat import read_completion

        reply = read_completion(body)
        cost = self._cost(reply["prompt_tokens"], reply["completion_tokens"])
        cost = None if cost is None else cost * price_factor
        u = self._usage
        u.batch_calls += 1
        u.prompt_tokens += reply["prompt_tokens"]
        u.completion_tokens += reply["completion_tokens"]
        u.cost += cost or 0.0
        self._max_completion_seen = max(self._max_completion_seen, reply["completion_tokens"])
        record = {**reply, "cost_usd": cost, "latency_s": None, "created": _made_at(body), "batch_id": batch_id}
        if self._cache is not None:
            if key in self._unwritten:
                record = self._unwritten[key]
            else:
                self._cache.add(key, record)
                record = self._cache.get(key, record)
        self._note_answer(record)
        self._show()
        return record

    def recall(self, keys: Iterable[str]) -> None:
        """Note who answered and when for answers an earlier invocation used (the finished samples a resumed
        scoring keeps), from the cache; they are not this invocation's work, so nothing is counted."""
        if self._cache is None:
            return
        for key in keys:
            record = self._unwritten.get(key) or self._cache.get(key)
            if record is not None:
                self._note_answer(record)

    def _note_answer(self, record: Mapping[str, Any]) -> None:
        """Remember who answered and when (the judge's identity on the result)."""
        self._answered[record.get("model") or ""] += 1
        created = record.get("created")
        if isinstance(created, (int, float)):
            times = self._call_times
            self._call_times = [min(times[0], created), max(times[-1], created)] if times else [created, created]

    # -- stopping -------------------------------------------------------------------------------
    def _stop(self, exc: BaseException):
        self.stop(exc)
        raise self._stopped

    def stop(self, exc: BaseException) -> None:
        """Stop the run: every later call, and every call waiting on a batch, raises `exc` (the first one)."""
        if self._stopped is None:
            self._stopped = exc
            if self._batch is not None:
                self._batch.fail(exc)

    @property
    def stopped(self) -> bool:
        return self._stopped is not None

    def raise_if_stopped(self) -> None:
        if self._stopped is not None:
            raise self._stopped

    def redact(self, text: str) -> str:
        """Error texts end up in score files and on screen: never with a key in them."""
        for secret in (self.config.api_key, *self.config.scrub):
            value = secret.get_secret_value() if secret is not None else ""
            if len(value) >= 4:
                text = text.replace(value, "***")
        return _KEYLIKE.sub("***", text)

    # -- money ----------------------------------------------------------------------------------
    def _cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        if self.config.price is None:
            return None
        p_in, p_out = self.config.price
        return (prompt_tokens * p_in + completion_tokens * p_out) / 1e6

    @property
    def spent(self) -> float:
        return self._usage.cost

    @property
    def reserved(self) -> float:
        return self._usage.reserved

    async def _reserve(self, messages) -> float:
        """Hold the worst-case cost of one more call while it runs; stop when even one call could overspend.

        When only the reservations of calls in flight stand in the way, wait for them to settle.
        """
        budget = self.config.budget
        if budget is None or self.config.price is None:
            return 0.0
        worst = self.worst_case_cost(messages)
        u = self._usage
        while True:
            self.raise_if_stopped()
            if u.cost + worst > budget:
                self._stop(BudgetExceeded(
                    f"{self.config.label} budget ${budget:.4f} reached: ${u.cost:.4f} spent on {u.calls} calls "
                    f"({u.cache_hits} answered from the cache); finished work is saved, run again "
                    "(with a larger --judge-budget) to continue"))
            if u.cost + u.reserved + worst <= budget:
                u.reserved += worst
                return worst
            await self._budget_released.wait()

    def worst_case_cost(self, messages) -> float:
        """A generous estimate of one call's cost (USD at online prices; 0 without a price)."""
        if self.config.price is None:
            return 0.0
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        # a token is 3-4 characters of English; count 3 (more tokens = safer). Completions have no
        # max_tokens (protocol): reserve the largest seen so far, at least 1024.
        return self._cost(chars // 3 + 16 * len(messages), max(1024, self._max_completion_seen)) or 0.0

    # -- reporting ------------------------------------------------------------------------------
    def usage(self) -> dict[str, Any]:
        u = self._usage
        seconds = time.perf_counter() - u.started
        out = {
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
            "cost_usd": round(u.cost, 9) if self.config.price is not None else None,
            "price_usd_per_million": list(self.config.price) if self.config.price else None,
            "budget_usd": self.config.budget,
            "seconds": round(seconds, 3),
            "calls_per_s": round(u.calls / seconds, 2) if seconds > 0 else None,
            "latency_mean_s": round(u.latency_sum / u.calls, 4) if u.calls else None,
            "latency_max_s": round(u.latency_max, 4) if u.calls else None,
            "max_in_flight": self._max_in_flight,
            "concurrency": self.config.concurrency,
            "answered": sorted(m for m in self._answered if m),
            "call_times": list(self._call_times),
        }
        if self._batch is not None:
            out["batch"] = dict(self._batch.summary)
        return out

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
        cost = f", ${u.cost:.4f}" if self.config.price is not None else ""
        try:
            note = f", {self.status_note}" if self.status_note else ""
            bar.set_postfix_str(f"{self.config.label} {rate:.1f} calls/s, {u.cache_hits} cached, {tokens} tok"
                                f"{cost}{note}", refresh=False)
        except Exception:  # noqa: BLE001 - a progress bar never breaks a run
            pass


def _made_at(body: Mapping[str, Any]) -> float:
    """When a batch answer was made: the provider's `created` (a batch can run for a day before its output
    is read), else now."""
    made = body.get("created")
    now = time.time()
    if isinstance(made, (int, float)) and not isinstance(made, bool) and 0 < made <= now + 86400:
        return float(made)
    return now


def import_cache(cache, folder: Path) -> None:
    """Move the answers of a cache from an earlier version (Gemini's own) into the shared one, once."""
    if not (folder / "cache.db").is_file():
        return
    import diskcache

    with diskcache.Cache(str(folder)) as old:
        for key in old:
            record = old.get(key)
            if record is not None:
                cache.add(key, record)
    folder.rename(folder.with_name(folder.name + ".imported"))
