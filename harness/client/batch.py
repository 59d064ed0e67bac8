"""The provider's batch API as a transport (`--judge-mode batch`): the same answers, at batch prices.

A first answer that is not cached becomes a future under its cache key (`answer`). A driver task collects
the waiting requests until every caller waits on a batch (no live call in flight, nothing new for a few
loop turns), then uploads them as batch JSONL files (custom_id, POST, the online request body), submits
them (completion window 24h), polls, and when a batch ends caches its answers under the keys an online call
would have used and resolves the futures. Callers never see the difference: metrics score and write each
sample once, as online. A request in a batch's error file, or missing from a completed batch, resolves to
"ask online"; an invalid answer is re-asked online like any other (answer number 1 and up).

Everything needed to continue lives in the score folder: judge_batches.jsonl (one record per upload,
submission and finished batch, with the custom_id -> cache key map) and judge_batches/ (input, output and
error files). A restart re-attaches: a request whose key is in an open batch waits for that batch instead
of going out again; an upload whose submission was not recorded is looked up, else submitted.

The run stops (the waiting calls raise, nothing is written for them) when the wait runs out (--batch-wait:
BatchWaiting, exit 1, "run the same command again"), when a batch ends failed, expired, cancelled or gone
(BatchEnded, exit 1; its unanswered requests go out again next run), when the budget cannot cover one more
request at batch prices (BudgetExceeded), or when the batch API refuses or fails (EndpointRefused,
EndpointUnavailable). Batch API calls go through the client's one retry policy.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Awaitable, Callable

from harness.client.retry import CallError, connection_error, policy, status_error
from harness.errors import BatchEnded, BatchWaiting, BudgetExceeded, EndpointRefused, EndpointUnavailable, HarnessError
from harness.jsonl import LogWriter, read_log

BATCH_PRICE_FACTOR = 0.5  # OpenAI and Azure OpenAI bill batch requests at half the online price
TERMINAL = ("completed", "failed", "expired", "cancelled")
MAX_BATCH_BYTES = 190 * 2**20  # OpenAI accepts input files up to 200 MB
LOG_NAME = "judge_batches.jsonl"
FILES_DIR = "judge_batches"
COMPLETION_WINDOW = "24h"
SETTLE_TICKS = 5  # loop turns without a new request before the waiting ones go out
SETTLE_PAUSE = 0.02  # s between two looks while live calls may still add requests


class BatchBook:
    """judge_batches.jsonl: append-only; replayed on open."""

    def __init__(self, folder: Path):
        self.dir = Path(folder)
        self.path = self.dir / LOG_NAME
        self.files = self.dir / FILES_DIR
        self.uploads: dict[str, dict[str, Any]] = {}  # input file id -> "uploaded" record
        self.batch_of: dict[str, str] = {}  # input file id -> batch id
        self.file_of: dict[str, str] = {}  # batch id -> input file id
        self.finished: dict[str, dict[str, Any]] = {}  # batch id -> "finished" record
        self.abandoned: set[str] = set()  # input file ids that never became a batch
        for rec in read_log(self.path):
            self._apply(rec)

    def _apply(self, rec: dict[str, Any]) -> None:
        event = rec.get("event")
        if event == "uploaded":
            self.uploads[rec["file_id"]] = rec
        elif event == "submitted":
            self.batch_of[rec["file_id"]] = rec["batch_id"]
            self.file_of[rec["batch_id"]] = rec["file_id"]
        elif event == "finished":
            self.finished[rec["batch_id"]] = rec
        elif event == "abandoned":
            self.abandoned.add(rec["file_id"])

    def log(self, rec: dict[str, Any]) -> None:
        rec = {**rec, "t": round(time.time(), 3)}
        with LogWriter(self.path) as writer:
            writer.write(rec)
        self._apply(rec)

    def open_batches(self) -> list[str]:
        return [b for b in self.file_of if b not in self.finished]

    def unsubmitted(self) -> list[str]:
        """Uploads whose batch creation was not recorded (a crash or an error in between)."""
        return [f for f in self.uploads if f not in self.batch_of and f not in self.abandoned]

    def requests(self, batch_id: str) -> dict[str, str]:
        return self.uploads[self.file_of[batch_id]]["requests"]

    def online_keys(self) -> set[str]:
        keys: set[str] = set()
        for rec in self.finished.values():
            keys.update(rec.get("errored") or {})
        return keys

    def next_index(self) -> int:
        return len(self.uploads) + 1


class BatchTransport:
    def __init__(self, client, folder: Path):
        self.client = client
        self.config = client.config
        self.book = BatchBook(folder)
        self.deadline = time.monotonic() + self.config.batch_wait
        self.summary: dict[str, Any] = {"mode": "batch", "price_factor": BATCH_PRICE_FACTOR, "batches": [],
                                        "reattached": [], "requests_submitted": 0, "answered": 0, "errored": 0}
        self._futures: dict[str, asyncio.Future] = {}  # cache key -> the waiting callers' future
        self._requests: dict[str, tuple[dict[str, Any], Any]] = {}  # key -> (request body, messages)
        self._queue: dict[str, None] = {}  # keys to submit, in order of arrival
        self._status: dict[str, str] = {}  # batch id -> its last known status
        self._online = self.book.online_keys()  # keys whose batch request failed: asked online
        self._batch_of: dict[str, str] = {}  # key -> open batch (or orphan upload) that will answer it
        self._reserved: dict[str, float] = {}  # batch id -> worst-case cost, until its answers are in
        self._held = False  # the budget held requests back: wait for a batch to end before trying again
        self._wake = asyncio.Event()
        self._driver: asyncio.Task | None = None
        self._sdk = None
        for batch_id in self.book.open_batches():
            for key in self.book.requests(batch_id).values():
                self._batch_of[key] = batch_id
        for file_id in self.book.unsubmitted():
            for key in self.book.uploads[file_id]["requests"].values():
                self._batch_of[key] = file_id

    # -- what the client calls -------------------------------------------------------------------
    async def answer(self, key: str, body: dict[str, Any], messages: Any) -> dict[str, Any] | None:
        """The answer to a first question from a batch (cached on arrival), or None: ask it online."""
        future = self._futures.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._futures[key] = future
            self._requests[key] = (body, messages)
            if key in self._online:
                future.set_result(None)
            elif key not in self._batch_of:
                self._queue[key] = None
            if self._driver is None:
                self._driver = asyncio.ensure_future(self._drive())
            self._wake.set()
        return await asyncio.shield(future)

    def fail(self, exc: BaseException) -> None:
        """The run stops: every waiting caller gets `exc` (nothing is written for their samples)."""
        for future in self._futures.values():
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: waiters get it through await
        self._queue.clear()

    async def aclose(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - its error already stopped the client
                pass
        if self._sdk is not None:
            await self._sdk.close()

    # -- the driver ------------------------------------------------------------------------------
    async def _drive(self) -> None:
        try:
            await self._resume()
            next_poll = 0.0
            while not self.client.stopped:
                if self._queue and not self._held:
                    if await self._settled():
                        await self._submit()
                        next_poll = 0.0
                        continue
                open_ = self._open_batches()
                if open_ and time.monotonic() >= next_poll:
                    await self._poll(open_)
                    next_poll = time.monotonic() + max(0.0, self.config.batch_poll)
                    self._check_deadline()
                    continue
                pause = max(0.0, next_poll - time.monotonic()) if open_ else None
                if self._queue and not self._held:
                    pause = SETTLE_PAUSE if pause is None else min(pause, SETTLE_PAUSE)
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), pause)
                except asyncio.TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a stop (HarnessError) or a bug: the waiting callers get it
            self.client.stop(exc)

    async def _settled(self) -> bool:
        """True when every caller waits on a batch: no live call in flight, no new request for a few turns."""
        size, stable = -1, 0
        while stable < SETTLE_TICKS:
            await asyncio.sleep(0)
            if self.client.live_calls or self.client.stopped:
                return False
            stable = stable + 1 if len(self._queue) == size else 0
            size = len(self._queue)
        return bool(self._queue)

    def _open_batches(self) -> list[str]:
        """Open batches this run polls: those answering a request it knows of, or submitted by it."""
        owners = set(self._batch_of.values())
        return [b for b in self.book.open_batches() if b in owners or b in self._reserved]

    def _check_deadline(self) -> None:
        awaited = {self._batch_of.get(k) for k, f in self._futures.items() if not f.done()}
        waiting = [b for b in self._open_batches() if b in awaited]
        if waiting and time.monotonic() >= self.deadline:
            first = waiting[0]
            more = f" (and {len(waiting) - 1} more)" if len(waiting) > 1 else ""
            raise BatchWaiting(f"batch {first} still {self._status.get(first, 'open')}{more}; run the same command "
                               "again to continue")

    # -- messages ----------------------------------------------------------------------------------
    def note(self, text: str) -> None:
        bar = self.client.progress
        if bar is None or getattr(bar, "disable", True):
            return
        try:
            bar.write(f"harness: {text}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - a progress bar never breaks a run
            pass

    def show(self, text: str | None) -> None:
        self.client.status_note = text
        self.client._show(force=True)
        if self.client.progress is not None:
            try:
                self.client.progress.refresh()
            except Exception:  # noqa: BLE001 - a progress bar never breaks a run
                pass

    # -- the batch API -----------------------------------------------------------------------------
    def sdk(self):
        """The OpenAI SDK for files and batches (its own retries off: the client's policy retries)."""
        if self._sdk is None:
            import openai

            c = self.config
            key = c.api_key.get_secret_value() if c.api_key is not None else "EMPTY"
            if c.provider == "azure":
                self._sdk = openai.AsyncAzureOpenAI(azure_endpoint=c.endpoint, api_key=key, api_version=c.api_version,
                                                    timeout=c.timeout, max_retries=0)
            else:
                self._sdk = openai.AsyncOpenAI(base_url=c.endpoint, api_key=key, timeout=c.timeout, max_retries=0)
        return self._sdk

    async def _api(self, what: str, call: Callable[[], Awaitable[Any]], gone_ok: bool = False) -> Any:
        """One batch API call under the client's retry policy; failures become one-line typed errors.

        gone_ok: a 404 returns None (a batch or file we know of that the provider no longer has).
        """
        try:
            return await policy(self.config, self.client._on_retry)(_sdk_call, call)
        except CallError as exc:
            if gone_ok and exc.status == 404:
                return None
            raise self._api_error(what, exc) from None

    def _api_error(self, what: str, exc: CallError) -> HarnessError:
        c = self.config
        desc = self.client.redact(exc.describe())
        if exc.status in (401, 403):
            return EndpointRefused(f"{c.label} endpoint {c.endpoint} refused the credentials while {what} ({desc}); "
                                   f"{c.key_hint}")
        if exc.status in (404, 405):
            hint = ("; on Azure, batches need AZURE_OPENAI_API_VERSION 2024-10-21 or later and a Global Batch "
                    "deployment" if c.provider == "azure" else "")
            return EndpointRefused(f"{c.label} endpoint {c.endpoint} has no batch API ({what}: {desc}){hint}; "
                                   "use --judge-mode online")
        if exc.transient:
            return EndpointUnavailable(f"{c.label} batch API at {c.endpoint} unavailable while {what} ({desc}); "
                                       "nothing is lost, run the same command again to continue")
        return EndpointRefused(f"{c.label} batch API at {c.endpoint} refused {what} ({desc})")

    async def _find_batch(self, file_id: str):
        """The batch made from `file_id`, if one exists (the most recent 100 batches are searched)."""
        page = await self._api("listing batches", lambda: self.sdk().batches.list(limit=100))
        for batch in getattr(page, "data", None) or []:
            if getattr(batch, "input_file_id", None) == file_id:
                return batch
        return None

    async def _create_batch(self, file_id: str):
        """batches.create, never twice for one file: after a lost answer, look before trying again."""
        endpoint = "/chat/completions" if self.config.provider == "azure" else "/v1/chat/completions"
        batch = None
        try:
            async for attempt in policy(self.config, self.client._on_retry):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        batch = await self._find_batch(file_id)
                    if batch is None:
                        batch = await _sdk_call(lambda: self.sdk().batches.create(
                            input_file_id=file_id, endpoint=endpoint, completion_window=COMPLETION_WINDOW))
        except CallError as exc:
            raise self._api_error("creating a batch", exc) from None
        return batch

    # -- resuming ----------------------------------------------------------------------------------
    async def _resume(self) -> None:
        """Uploads an earlier invocation left without a recorded batch: find their batch, or create it."""
        for file_id in self.book.unsubmitted():
            found = await self._find_batch(file_id)  # credentials and a missing batch API fail here
            if found is None:
                try:
                    found = await self._create_batch(file_id)
                except EndpointUnavailable:
                    raise
                except HarnessError as exc:  # the uploaded file is gone or refused: its requests go out again
                    self.book.log({"event": "abandoned", "file_id": file_id, "reason": str(exc)[:300]})
                    self._requeue([k for k, b in self._batch_of.items() if b == file_id])
                    continue
            self.book.log({"event": "submitted", "file_id": file_id, "batch_id": found.id})
            for key, owner in list(self._batch_of.items()):
                if owner == file_id:
                    self._batch_of[key] = found.id
        reattached = self.book.open_batches()
        if reattached:
            self.summary["reattached"].extend(reattached)
            self.note(f"{self.config.label}: re-attaching to {len(reattached)} open batch(es): {', '.join(reattached)}")

    def _requeue(self, keys: list[str]) -> None:
        """Requests whose batch will not answer them: out again in the next batch (or online)."""
        for key in keys:
            self._batch_of.pop(key, None)
            future = self._futures.get(key)
            if future is not None and not future.done():
                if key in self._online:
                    future.set_result(None)
                else:
                    self._queue[key] = None

    # -- submitting --------------------------------------------------------------------------------
    def _budgeted(self, keys: list[str]) -> list[str]:
        c = self.config
        if c.budget is None or c.price is None:
            return keys
        spent = self.client.spent
        room = c.budget - spent - self.client.reserved - sum(self._reserved.values())
        kept, total = [], 0.0
        for key in keys:
            worst = self.client.worst_case_cost(self._requests[key][1]) * BATCH_PRICE_FACTOR
            if total + worst > room:
                break
            kept.append(key)
            total += worst
        if not kept and not self._reserved:
            worst = self.client.worst_case_cost(self._requests[keys[0]][1]) * BATCH_PRICE_FACTOR
            raise BudgetExceeded(
                f"{c.label} budget ${c.budget:.4f} reached: ${spent:.4f} spent, and the next batch request could cost "
                f"up to ${worst:.4f}; finished work is saved, run again (with a larger --judge-budget) to continue")
        if len(kept) < len(keys):
            self._held = True  # the rest waits until a batch's real cost is known
            self.note(f"{c.label} budget: {len(kept)} of {len(keys)} requests fit in this batch")
        return kept

    def _chunks(self, lines: list[tuple[str, bytes]]) -> list[list[tuple[str, bytes]]]:
        chunks: list[list[tuple[str, bytes]]] = [[]]
        size = 0
        for key, line in lines:
            if chunks[-1] and (len(chunks[-1]) >= self.config.batch_max_requests or size + len(line) > MAX_BATCH_BYTES):
                chunks.append([])
                size = 0
            chunks[-1].append((key, line))
            size += len(line)
        return [c for c in chunks if c]

    async def _submit(self) -> None:
        keys = self._budgeted(list(self._queue))
        if not keys:
            self._held = True
            return
        url = "/chat/completions" if self.config.provider == "azure" else "/v1/chat/completions"
        lines = [(k, json.dumps(self._requests[k][0], ensure_ascii=False).encode("utf-8")) for k in keys]
        for chunk in self._chunks(lines):
            await self._submit_chunk(chunk, url)

    async def _submit_chunk(self, chunk: list[tuple[str, bytes]], url: str) -> None:
        index = self.book.next_index()
        ids = {f"b{index:04d}-{j:06d}": key for j, (key, _) in enumerate(chunk)}
        data = b"".join(
            b'{"custom_id": ' + json.dumps(cid).encode() + b', "method": "POST", "url": ' + json.dumps(url).encode()
            + b', "body": ' + line + b"}\n" for cid, (_, line) in zip(ids, chunk))
        self.book.files.mkdir(parents=True, exist_ok=True)
        path = self.book.files / f"input-{index:04d}.jsonl"
        path.write_bytes(data)
        worst = sum(self.client.worst_case_cost(self._requests[k][1]) for k in ids.values()) * BATCH_PRICE_FACTOR
        upload = await self._api("uploading a batch file", lambda: self.sdk().files.create(
            file=(path.name, data, "application/jsonl"), purpose="batch", timeout=max(600.0, self.config.timeout)))
        self.book.log({"event": "uploaded", "file_id": upload.id, "input": f"{FILES_DIR}/{path.name}",
                       "n": len(ids), "requests": ids})
        for key in ids.values():  # from here on a restart finds these requests in the book
            self._batch_of[key] = upload.id
            self._queue.pop(key, None)
        batch = await self._create_batch(upload.id)
        self.book.log({"event": "submitted", "file_id": upload.id, "batch_id": batch.id})
        for key in ids.values():
            self._batch_of[key] = batch.id
        self._reserved[batch.id] = worst
        self.summary["batches"].append(batch.id)
        self.summary["requests_submitted"] += len(ids)
        self.note(f"{self.config.label} batch {batch.id}: {len(ids)} requests submitted")

    # -- polling and answers -----------------------------------------------------------------------
    async def _poll(self, batch_ids: list[str]) -> None:
        ended: list[tuple[str, str, str, int]] = []
        for batch_id in batch_ids:
            batch = await self._api(f"polling batch {batch_id}", lambda: self.sdk().batches.retrieve(batch_id),
                                    gone_ok=True)
            if batch is None:  # the provider no longer knows it: its requests go out again
                batch = SimpleNamespace(id=batch_id, status="gone", request_counts=None, errors=None,
                                        output_file_id=None, error_file_id=None)
            self._status[batch_id] = batch.status
            counts = getattr(batch, "request_counts", None)
            done = f" {(counts.completed or 0) + (counts.failed or 0)}/{counts.total}" if counts and counts.total else ""
            self.show(f"batch {batch_id} {batch.status}{done}")
            if batch.status in TERMINAL or batch.status == "gone":
                unanswered = await self._ingest(batch)
                if batch.status != "completed":
                    ended.append((batch_id, batch.status, _batch_reason(batch), unanswered))
        if not self._open_batches():
            self.show(None)
        if ended:
            batch_id, state, reason, unanswered = ended[0]
            more = f" (and {len(ended) - 1} more batches)" if len(ended) > 1 else ""
            why = f" ({reason})" if reason else ""
            raise BatchEnded(f"batch {batch_id} {state}{why}{more}; its {unanswered} unanswered requests will be "
                             "submitted again: run the same command again to continue")

    async def _download(self, file_id: str, name: str) -> str | None:
        content = await self._api(f"downloading batch file {file_id}", lambda: self.sdk().files.content(
            file_id, timeout=max(600.0, self.config.timeout)), gone_ok=True)
        if content is None:
            return None
        data = content.content if hasattr(content, "content") else bytes(content)
        self.book.files.mkdir(parents=True, exist_ok=True)
        (self.book.files / name).write_bytes(data)
        return data.decode("utf-8", errors="replace")

    async def _ingest(self, batch) -> int:
        """Cache the answers of an ended batch, resolve their futures; return how many are unanswered."""
        mapping = self.book.requests(batch.id)
        answers: dict[str, dict[str, Any] | None] = {}  # key -> record, or None: ask online
        errored: dict[str, str] = {}
        lost = False  # a result file the provider no longer has: its requests go out again
        for file_id, suffix in ((getattr(batch, "output_file_id", None), "output"),
                                (getattr(batch, "error_file_id", None), "errors")):
            if not file_id:
                continue
            text = await self._download(file_id, f"{batch.id}.{suffix}.jsonl")
            if text is None:
                lost = True
                continue
            self._read_results(text, mapping, batch.id, answers, errored)
        missing = [k for k in mapping.values() if k not in answers and k not in errored]
        if batch.status == "completed" and not lost:  # a finished batch that skipped a request: ask it online
            errored.update({key: "no answer in the batch output" for key in missing})
            missing = []
        self.book.log({"event": "finished", "batch_id": batch.id, "status": batch.status,
                       "answered": len(answers), "errored": errored, "unanswered": len(missing),
                       "reason": _batch_reason(batch)})
        self.summary["answered"] += len(answers)
        self.summary["errored"] += len(errored)
        if errored:
            self.note(f"{self.config.label} batch {batch.id}: {len(errored)} requests failed in the batch; "
                      "asking them online")
        self._online.update(errored)
        self._reserved.pop(batch.id, None)
        self._held = False
        for key, record in [*answers.items(), *((k, None) for k in errored)]:
            self._batch_of.pop(key, None)
            future = self._futures.get(key)
            if future is not None and not future.done():
                future.set_result(record)
        for key in missing:
            self._batch_of.pop(key, None)
        return len(missing)

    def _read_results(self, text: str, mapping: dict[str, str], batch_id: str,
                      answers: dict[str, Any], errored: dict[str, str]) -> None:
        for line in text.splitlines():
            try:
                obj = json.loads(line) if line.strip() else None
            except json.JSONDecodeError:
                continue  # a broken line: its request counts as unanswered
            key = mapping.get(obj.get("custom_id")) if isinstance(obj, dict) else None
            if key is None or key in answers or key in errored:
                continue
            response = obj.get("response") if isinstance(obj.get("response"), dict) else {}
            body = response.get("body")
            if response.get("status_code") == 200 and isinstance(body, dict) and not obj.get("error"):
                try:
                    answers[key] = self.client.store_batch_answer(key, body, batch_id, BATCH_PRICE_FACTOR)
                except ValueError as exc:
                    errored[key] = f"unusable answer: {exc}"
                continue
            errored[key] = self.client.redact(_line_error(obj))


async def _sdk_call(call: Callable[[], Awaitable[Any]]) -> Any:
    """An OpenAI SDK call whose failures become CallError (so the one retry policy can judge them)."""
    import openai

    try:
        return await call()
    except openai.APIStatusError as exc:
        raise status_error(exc.status_code, getattr(exc, "message", "") or str(exc), exc.response.headers) from None
    except (openai.APIConnectionError, OSError) as exc:
        raise connection_error(exc) from None


def _batch_reason(batch) -> str:
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    parts = []
    for err in errors[:2]:
        code = getattr(err, "code", None)
        msg = getattr(err, "message", None)
        parts.append(" ".join(f"{code or ''}: {msg or ''}".strip(": ").split())[:160])
    return "; ".join(p for p in parts if p)


def _line_error(obj: dict[str, Any]) -> str:
    err = obj.get("error")
    if isinstance(err, dict) and (err.get("message") or err.get("code")):
        return " ".join(f"{err.get('code') or 'error'}: {err.get('message') or ''}".split())[:200]
    response = obj.get("response") if isinstance(obj.get("response"), dict) else {}
    body = response.get("body")
    detail = ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        detail = str(body["error"].get("message") or "")
    return " ".join(f"status {response.get('status_code')}: {detail}".split())[:200]
