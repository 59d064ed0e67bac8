"""A fake OpenAI-compatible judge on 127.0.0.1, for tests and benchmarks (no network beyond loopback).

    with JudgeServer(latency=0.0) as srv:          # starts an asyncio HTTP/1.1 server in a thread
        url = srv.url                               # http://127.0.0.1:PORT/v1
        srv.rates = {"500": .1, "429": .1}          # random faults (seeded), at most srv.max_faults per prompt
        srv.script = ["429", "drop"]                # faults for the next requests, in arrival order
        srv.poison = {"some text"}                  # prompts containing it always get garbage
        ...
        srv.requests, srv.max_in_flight, srv.bodies()

Speaks POST /v1/chat/completions (and the Azure path /openai/deployments/NAME/chat/completions),
GET /stats. Answers are deterministic functions of the prompt:
- AutoDQ event extraction: the caption split into clauses (at most 10), as a Python dict string;
- AutoDQ entailment: per event, word overlap with the description (>= 0.6 entailment, < 0.25
  contradiction, else neutral), as JSON;
- open-ended QA: 'yes' (score 5) when the correct answer's words all occur in the prediction, else
  'no' (score 1), as a Python dict string;
- anything else: an echo.
Judges that disagree in a known way (judge audits): srv.entail_threshold (0.6) and srv.contradict_threshold
(0.25) move the entailment rule; srv.qa_exact = True makes the QA rule strict ('yes' only when the
prediction's words are exactly the answer's; 'no' with score 2 when it holds them and more); srv.repeat_entail
= [t0, t1, ...] gives the n-th ask of the same messages the entailment threshold t[n % len] (a judge whose
answers vary between repeats); srv.answer_model names the model in every answer (default: the one asked);
srv.batch_created fixes the `created` time of batch answers.
Faults: "500", "400", "401", "404", "429" (with Retry-After: srv.retry_after), "garbage", "messy" (repairable: fences,
trailing commas, Python True/False, missing braces, `} {`), "count" (wrong number of events),
"badrel" (an unknown relationship), "slow" (answers after srv.slow_seconds), "drop" (closes the
connection without an answer).

The batch API too (OpenAI's shapes): POST /v1/files (multipart, purpose "batch"), GET /v1/files/{id}
and /v1/files/{id}/content, POST /v1/batches, GET /v1/batches (list) and /v1/batches/{id}. A batch is
"validating" at its first poll, "in_progress" until its srv.batch_polls-th poll, then ends with the next
status in srv.batch_end (default "completed"; "failed" answers nothing; "expired"/"cancelled" answer the
first half of the lines). Its lines are answered like online requests; srv.batch_script holds faults for
the next lines ("error" -> a 500 entry in the error file, "error400", "skip" -> no line at all, or any
answer fault such as "garbage"); srv.poison applies too. srv.batch_api_faults: faults for the next
POST /v1/batches ("500"; "drop" = create the batch, then close the connection without an answer).
srv.batch_api = False: no batch API (404). srv.batch_calls logs (method, path) of these routes;
srv.batches, srv.batch_lines (every request line of every batch, in order), srv.batch_bodies().

Run standalone (used by bench/judge.py): python tests/judge_server.py --latency 0.5 [--port 0]
prints "PORT <n>" and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import threading
import time
from pathlib import Path
from typing import Any

FAULTS = ("500", "429", "garbage", "messy", "count", "badrel", "slow", "drop", "400", "401", "404")
FAILING = set(FAULTS) - {"messy"}

STOP = {"a", "an", "the", "and", "or", "of", "to", "in", "on", "at", "with", "is", "are", "was", "were",
        "his", "her", "their", "its", "it", "he", "she", "they", "then", "while", "by", "from", "into", "up",
        "down", "as", "for", "that", "this", "be", "been", "one", "another", "other", "some"}

# -- deterministic answers ---------------------------------------------------------------------


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in STOP}


def extract_events(caption: str) -> list[str]:
    parts = re.split(r"[.!?;]|,\s*(?:then|and|while)\s|\s+then\s", caption)
    events = []
    for part in parts:
        part = part.strip(" ,'\"\n")
        if len(part.split()) >= 2:
            events.append(part + ".")
    return events[:10]


def relationship(description: str, event: str, entail: float = 0.6, contradict: float = 0.25) -> str:
    ev = words(event)
    if not ev:
        return "neutral"
    share = len(ev & words(description)) / len(ev)
    return "entailment" if share >= entail else "contradiction" if share < contradict else "neutral"


def qa_verdict(answer: str, prediction: str, exact: bool = False) -> tuple[str, int]:
    ok = words(answer) <= words(prediction) and bool(words(answer) or answer.strip() in prediction)
    if exact and ok and words(answer) != words(prediction):
        return ("no", 2)  # the strict judge: the right answer among other words is not a match
    return ("yes", 5) if ok else ("no", 1)


RULES = {"entail": 0.6, "contradict": 0.25, "qa_exact": False}


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "a": "\a", "b": "\b", "f": "\f",
            "v": "\v"}
_HEX = {"x": 2, "u": 4, "U": 8}


def str_list(text: str) -> list[str]:
    """The strings of str(list_of_str), read back without ast: CPython 3.11's ast is not thread-safe (two threads
    in ast at once can fail with 'AST constructor recursion depth mismatch'), and this server's thread runs
    beside a client that parses its answers with ast.literal_eval."""
    out: list[str] = []
    i = text.index("[") + 1
    while True:
        while text[i] in " ,":
            i += 1
        if text[i] == "]":
            return out
        quote, i, chars = text[i], i + 1, []
        while text[i] != quote:
            if text[i] != "\\":
                chars.append(text[i])
                i += 1
            elif text[i + 1] in _HEX:
                width = _HEX[text[i + 1]]
                chars.append(chr(int(text[i + 2:i + 2 + width], 16)))
                i += 2 + width
            else:
                chars.append(_ESCAPES[text[i + 1]])
                i += 2
        out.append("".join(chars))
        i += 1


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i:text.index(end, i)]


def kind_of(messages: list[dict[str, Any]]) -> str:
    user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if isinstance(user, list):
        user = " ".join(str(p.get("text", "")) for p in user if isinstance(p, dict))
    if user.startswith("Bellow is a description of a video clip:"):
        return "extract"
    if user.startswith("Given a video description and a list of events."):
        return "entail"
    if user.startswith("Please evaluate the following video-based question-answer pair:"):
        return "qa"
    return "echo"


def answer_for(messages: list[dict[str, Any]], fault: str | None = None, variant: int = 0,
               rules: dict[str, Any] | None = None) -> str:
    """The judge's answer text; `fault` in garbage/messy/count/badrel changes it; `rules` (RULES) its strictness."""
    rules = {**RULES, **(rules or {})}
    user = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    kind = kind_of(messages)
    if fault == "garbage":
        return ["I am sorry, I cannot help with that.", '{"events": [', "events: none", "{'pred': 'maybe'",
                "```\nnot a dict\n```"][variant % 5]
    if kind == "extract":
        caption = _between(user, "Video Description: ", "\n\nExtract at most 10 key events")
        events = extract_events(caption)
        text = repr({"events": events})
        if fault == "messy":
            return ["```python\n" + text + "\n```", "```json\n" + json.dumps({"events": events}) + "\n```"][variant % 2]
        return text
    if kind == "entail":
        description = _between(user, "Video Description:\n", "\n\nEvents: ")
        events = str_list(_between(user, "\n\nEvents: ", "\nOutput a JSON formed as:"))
        items = []
        for e in events:
            rel = relationship(description, e, rules["entail"], rules["contradict"])
            items.append({"event": e, "relationship": rel,
                          "reason": f"{len(words(e) & words(description))} of {len(words(e))} words found"})
        if fault == "count":
            items = items[:-1] if len(items) > 1 else items * 2
        if fault == "badrel" and items:
            items[0] = {**items[0], "relationship": "entails"}
        if fault == "messy":
            return _messy_json(items, variant)
        return json.dumps({"events": items}, indent=2)
    if kind == "qa":
        answer = _between(user, "Correct Answer: ", "\nPredicted Answer: ")
        prediction = _between(user, "Predicted Answer: ", "\n\nProvide your evaluation")
        pred, score = qa_verdict(answer, prediction, rules["qa_exact"])
        if fault == "messy":
            return f"```python\n{{'pred': '{pred}', 'score': {score}}}\n```"
        return repr({"pred": pred, "score": score})
    return user if isinstance(user, str) else json.dumps(user)


def _messy_json(items: list[dict[str, Any]], variant: int) -> str:
    """Broken JSON that the AutoDQ repair steps turn back into `{"events": items}`."""
    objs = [json.dumps(it) for it in items]
    v = variant % 5
    if v == 0:  # fenced, with trailing commas
        return "```json\n{\n  \"events\": [\n    " + ",\n    ".join(objs) + ",\n  ],\n}\n```"
    if v == 1:  # outer braces missing
        return "\"events\": [" + ", ".join(objs) + "]"
    if v == 2:  # objects without commas between them, Python booleans
        objs = [o[:-1] + ", \"certain\": True}" for o in objs]
        return "{\"events\": [" + " ".join(objs) + "]}"
    if v == 3:  # glued objects and a placeholder
        objs = [o[:-1] + ", \"note\": [Placeholder]}" for o in objs]
        return "{\"events\": [" + "".join(objs) + "]}"
    return "{Events: {\"events\": [" + ", ".join(objs) + "]}"  # "{Events:" prefix, closing brace added by repair


# -- the server --------------------------------------------------------------------------------
class JudgeServer:
    def __init__(self, latency: float = 0.0, host: str = "127.0.0.1", port: int = 0, seed: int = 0):
        self.latency = latency
        self.host = host
        self.port = port
        self.rates: dict[str, float] = {}
        self.max_faults = 3  # per distinct prompt, for random faults (so every prompt succeeds eventually)
        self.script: list[str] = []
        self.poison: set[str] = set()
        self.retry_after = "1"
        self.retry_after_ms: str | None = None
        self.slow_seconds = 3.0
        self.drop_after_read = True
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.fault_counts: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._lock = threading.RLock()  # re-entered: batch lines are answered under it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._record = True
        # the batch API
        self.batch_api = True
        self.batch_polls = 3
        self.batch_end: list[str] = []
        self.batch_script: list[str] = []
        self.batch_api_faults: list[str] = []
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.batch_lines: list[dict[str, Any]] = []
        self.batch_calls: list[tuple[str, str]] = []
        self._ids = {"file": 0, "batch": 0}  # ids are never reused (not even after srv.batches.clear())
        # how strict this judge is (RULES), and how its answers vary between repeats of one question
        self.entail_threshold = RULES["entail"]
        self.contradict_threshold = RULES["contradict"]
        self.qa_exact = RULES["qa_exact"]
        self.repeat_entail: list[float] | None = None
        self.asked: dict[str, int] = {}  # times each distinct messages JSON was asked
        self.answer_model: str | None = None
        self.batch_created: int | None = None

    # -- control ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> "JudgeServer":
        self._thread = threading.Thread(target=self._run, name="judge-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("judge server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "JudgeServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0
            self.fault_counts.clear()
            self.script.clear()
            self.files.clear()
            self.batches.clear()
            self.batch_lines.clear()
            self.batch_calls.clear()
            self.batch_end.clear()
            self.batch_script.clear()
            self.batch_api_faults.clear()
            self.asked.clear()
            self._ids = {"file": 0, "batch": 0}

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def prompts(self) -> list[str]:
        return [b["messages"][-1]["content"] for b in self.bodies()]

    def rules_for(self, prompt: str) -> dict[str, Any]:
        """This judge's rules for the next ask of `prompt` (the messages as sorted JSON)."""
        with self._lock:
            n = self.asked.get(prompt, 0)
            self.asked[prompt] = n + 1
        entail = self.repeat_entail[n % len(self.repeat_entail)] if self.repeat_entail else self.entail_threshold
        return {"entail": entail, "contradict": self.contradict_threshold, "qa_exact": self.qa_exact}

    # -- faults ----------------------------------------------------------------------------------
    def _choose(self, prompt: str) -> str | None:
        with self._lock:
            if self.poison and any(p in prompt for p in self.poison):
                return "garbage"
            if self.script:
                return self.script.pop(0)
            if not self.rates:
                return None
            digest = hashlib.sha1(prompt.encode()).hexdigest()
            x = self._rng.random()
            for fault, rate in self.rates.items():
                if x < rate:
                    if fault in FAILING:
                        if self.fault_counts.get(digest, 0) >= self.max_faults:
                            return None
                        self.fault_counts[digest] = self.fault_counts.get(digest, 0) + 1
                    return fault
                x -= rate
            return None

    # -- HTTP ------------------------------------------------------------------------------------
    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, self.host, self.port, backlog=2048)
            self.port = self._server.sockets[0].getsockname()[1]

        loop.run_until_complete(start())
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while True:
                    h = await reader.readline()
                    if h in (b"\r\n", b"\n", b""):
                        break
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                keep = await self._respond(method, path, headers, body, writer)
                if not keep or headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            return
        except asyncio.CancelledError:  # shutting down (returning keeps asyncio's stream callback quiet)
            return
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _respond(self, method, path, headers, raw, writer) -> bool:
        if method == "GET" and path.startswith("/stats"):
            with self._lock:
                stats = {"requests": len(self.requests), "max_in_flight": self.max_in_flight}
            await self._send(writer, 200, stats)
            return True
        if method == "POST" and path.startswith("/reset"):
            self.reset()
            await self._send(writer, 200, {"ok": True})
            return True
        if re.search(r"/(files|batches)(/[^/]+)*$", path.split("?")[0].rstrip("/")):
            return await self._batch_route(method, path, headers, raw, writer)
        if method != "POST" or not path.split("?")[0].rstrip("/").endswith("/chat/completions"):
            await self._send(writer, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            return True
        body = json.loads(raw)
        messages = body.get("messages") or []
        prompt = json.dumps(messages, sort_keys=True)
        fault = self._choose(prompt)
        record = {"t": time.time(), "path": path, "body": body, "fault": fault,
                  "auth": headers.get("authorization") or headers.get("api-key")}
        with self._lock:
            self.requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if fault == "drop":
                return False  # close without a word
            if fault == "slow":
                await asyncio.sleep(self.slow_seconds)
            if self.latency:
                await asyncio.sleep(self.latency)
            if fault == "500":
                await self._send(writer, 500, {"error": {"message": "internal error", "type": "server_error"}})
                return True
            if fault in ("400", "401", "404"):
                await self._send(writer, int(fault), {"error": {"message": f"fault {fault}", "type": "invalid_request_error"}})
                return True
            if fault == "429":
                extra = {"Retry-After": self.retry_after}
                if self.retry_after_ms is not None:
                    extra["retry-after-ms"] = self.retry_after_ms
                await self._send(writer, 429, {"error": {"message": "rate limited", "type": "rate_limit"}}, extra)
                return True
            payload = self.completion(body, fault, len(self.requests), self.rules_for(prompt), self.answer_model)
            record["status"] = 200
            record["usage"] = payload["usage"]
            await self._send(writer, 200, payload)
            return True
        finally:
            with self._lock:
                self.in_flight -= 1

    @staticmethod
    def completion(body: dict[str, Any], fault: str | None, variant: int, rules: dict[str, Any] | None = None,
                   model: str | None = None, created: int | None = None) -> dict[str, Any]:
        """A chat.completion object answering `body` (the same for an online call and a batch line)."""
        messages = body.get("messages") or []
        text = answer_for(messages, fault, variant, rules)
        user = messages[-1].get("content", "") if messages else ""
        return {
            "id": f"chatcmpl-{variant}", "object": "chat.completion",
            "created": int(time.time()) if created is None else created,
            "model": model or body.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": len(str(user)) // 4 + 8, "completion_tokens": len(text) // 4 + 1,
                      "total_tokens": len(str(user)) // 4 + 8 + len(text) // 4 + 1},
        }

    # -- the batch API ---------------------------------------------------------------------------
    def batch_bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [line["body"] for line in self.batch_lines]

    def batches_created(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.batches.values())

    @staticmethod
    def _multipart(headers: dict[str, str], raw: bytes) -> dict[str, tuple[str | None, bytes]]:
        m = re.search(r'boundary="?([^";]+)"?', headers.get("content-type", ""))
        if not m:
            return {}
        out: dict[str, tuple[str | None, bytes]] = {}
        for part in raw.split(b"--" + m.group(1).encode())[1:]:
            if part.startswith(b"--"):
                break
            head, _, data = part.partition(b"\r\n\r\n")
            if data.endswith(b"\r\n"):
                data = data[:-2]
            name = re.search(rb'name="([^"]*)"', head)
            filename = re.search(rb'filename="([^"]*)"', head)
            if name:
                out[name.group(1).decode()] = (filename.group(1).decode() if filename else None, data)
        return out

    def _file_object(self, file_id: str) -> dict[str, Any]:
        f = self.files[file_id]
        return {"id": file_id, "object": "file", "bytes": len(f["data"]), "created_at": f["created_at"],
                "filename": f["filename"], "purpose": f["purpose"], "status": "processed"}

    def _batch_object(self, b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _add_file(self, data: bytes, filename: str, purpose: str) -> str:
        self._ids["file"] += 1
        file_id = f"file-{self._ids['file']:04d}"
        self.files[file_id] = {"data": data, "filename": filename, "purpose": purpose, "created_at": int(time.time())}
        return file_id

    def _finish_batch(self, b: dict[str, Any], end: str) -> None:
        """Answer the batch's lines (all, half or none, by how it ends) into output and error files."""
        lines = [json.loads(x) for x in self.files[b["input_file_id"]]["data"].decode().splitlines() if x.strip()]
        answer = lines if end == "completed" else lines[:len(lines) // 2] if end in ("expired", "cancelled") else []
        out, err = [], []
        for n, line in enumerate(answer):
            self.batch_lines.append(line)
            body = line["body"]
            fault = self.batch_script.pop(0) if self.batch_script else None
            if fault is None and self.poison and any(x in json.dumps(body["messages"], sort_keys=True)
                                                     for x in self.poison):
                fault = "garbage"
            rid = f"batch_req_{b['id']}_{n}"
            if fault == "skip":
                continue
            if fault in ("error", "error400"):
                status = 500 if fault == "error" else 400
                err.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                            "response": {"status_code": status, "request_id": rid,
                                         "body": {"error": {"message": f"fake batch fault {status}",
                                                            "type": "server_error"}}}})
                continue
            prompt = json.dumps(body.get("messages") or [], sort_keys=True)
            payload = self.completion(body, fault, len(self.batch_lines), self.rules_for(prompt), self.answer_model,
                                      self.batch_created)
            out.append({"id": rid, "custom_id": line["custom_id"], "error": None,
                        "response": {"status_code": 200, "request_id": rid, "body": payload}})
        if out:
            b["output_file_id"] = self._add_file("".join(json.dumps(x) + "\n" for x in out).encode(),
                                                 f"{b['id']}_output.jsonl", "batch_output")
        if err:
            b["error_file_id"] = self._add_file("".join(json.dumps(x) + "\n" for x in err).encode(),
                                                f"{b['id']}_error.jsonl", "batch_output")
        b["request_counts"] = {"total": len(lines), "completed": len(out), "failed": len(err)}
        if end == "failed":
            b["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "fake batch failure",
                                                      "line": None, "param": None}]}
        b["status"] = end
        b[f"{end}_at"] = int(time.time())

    async def _batch_route(self, method, path, headers, raw, writer) -> bool:
        route = path.split("?")[0].rstrip("/")
        with self._lock:
            self.batch_calls.append((method, route))
        if not self.batch_api:
            await self._send(writer, 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}})
            return True
        parts = route.split("/")
        i = max(j for j, x in enumerate(parts) if x in ("files", "batches"))
        kind, rest = parts[i], parts[i + 1:]
        with self._lock:
            if kind == "files" and method == "POST" and not rest:
                form = self._multipart(headers, raw)
                filename, data = form.get("file", (None, b""))
                purpose = form.get("purpose", (None, b""))[1].decode()
                file_id = self._add_file(data, filename or "upload.jsonl", purpose)
                status, obj = 200, self._file_object(file_id)
            elif kind == "files" and method == "GET" and rest and rest[0] in self.files:
                if rest[1:] == ["content"]:
                    data = self.files[rest[0]]["data"]
                    status, obj = 200, data
                else:
                    status, obj = 200, self._file_object(rest[0])
            elif kind == "batches" and method == "POST" and not rest:
                req = json.loads(raw or b"{}")
                fault = self.batch_api_faults.pop(0) if self.batch_api_faults else None
                if fault == "500":
                    status, obj = 500, {"error": {"message": "internal error", "type": "server_error"}}
                elif req.get("input_file_id") not in self.files:
                    status, obj = 400, {"error": {"message": "no such input file", "type": "invalid_request_error"}}
                else:
                    self._ids["batch"] += 1
                    batch_id = f"batch_{self._ids['batch']:04d}"
                    self.batches[batch_id] = {
                        "id": batch_id, "object": "batch", "endpoint": req.get("endpoint"),
                        "input_file_id": req["input_file_id"], "completion_window": req.get("completion_window"),
                        "status": "validating", "created_at": int(time.time()), "output_file_id": None,
                        "error_file_id": None, "errors": None,
                        "request_counts": {"total": 0, "completed": 0, "failed": 0},
                        "metadata": req.get("metadata"),
                        "_polls": 0, "_end": self.batch_end.pop(0) if self.batch_end else "completed",
                    }
                    status, obj = 200, self._batch_object(self.batches[batch_id])
                    if fault == "drop":
                        return False  # created, but the client never hears of it
            elif kind == "batches" and method == "GET" and not rest:
                data = [self._batch_object(b) for b in reversed(list(self.batches.values()))]
                status, obj = 200, {"object": "list", "data": data, "has_more": False,
                                    "first_id": data[0]["id"] if data else None,
                                    "last_id": data[-1]["id"] if data else None}
            elif kind == "batches" and method == "GET" and len(rest) == 1 and rest[0] in self.batches:
                b = self.batches[rest[0]]
                if b["status"] not in ("completed", "failed", "expired", "cancelled"):
                    b["_polls"] += 1
                    if b["_polls"] >= self.batch_polls:
                        self._finish_batch(b, b["_end"])
                    elif b["_polls"] > 1:
                        b["status"] = "in_progress"
                        b.setdefault("in_progress_at", int(time.time()))
                status, obj = 200, self._batch_object(b)
            else:
                status, obj = 404, {"error": {"message": f"no route {method} {path}", "type": "not_found"}}
        if isinstance(obj, bytes):
            head = ["HTTP/1.1 200 OK", "Content-Type: application/octet-stream", f"Content-Length: {len(obj)}",
                    "Connection: keep-alive"]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + obj)
            await writer.drain()
            return True
        await self._send(writer, status, obj)
        return True

    @staticmethod
    async def _send(writer, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
                  500: "Internal Server Error"}.get(status, "X")
        head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
                f"Content-Length: {len(data)}", "Connection: keep-alive"]
        head += [f"{k}: {v}" for k, v in (extra or {}).items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await writer.drain()


# -- DREAM-1K predictions for tests and benchmarks ------------------------------------------------
def dream_prediction(i: int, reference: str) -> str:
    """A prediction made from the reference: some sentences dropped, a few words changed, case mixed."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", reference) if s]
    kept = [s for j, s in enumerate(sentences) if (i + j) % 4 != 3] or sentences[:1]
    text = " ".join(kept)
    if i % 3 == 0:
        text = text.replace(" walks", " runs").replace(" man", " woman")
    if i % 5 == 0:
        text = text.upper()
    if i % 7 == 0:
        text += " The camera shakes while a dog barks loudly in the distance."
    return text


def write_dream_predictions(annotation: str | Path, out: str | Path) -> Path:
    """A Tarsier prediction file for a DREAM-1K annotation file (text or messages format)."""
    out = Path(out)
    lines = []
    for i, line in enumerate(Path(annotation).read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        if "text" in row:
            reference = row["text"]["response"]
        else:
            reference = next(c["reference"] for m in row["messages"] if m["role"] == "assistant"
                             for c in m["content"] if c.get("reference") is not None)
        lines.append(json.dumps({"idx": row["idx"], "dataset": row["dataset"], "vid": row.get("vid"),
                                 "text": {"prediction": dream_prediction(i, reference)}}))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency", type=float, default=0.0)
    args = ap.parse_args()
    srv = JudgeServer(latency=args.latency, port=args.port)
    srv._thread = None
    loop = asyncio.new_event_loop()
    srv._loop = loop

    async def serve() -> None:
        srv._server = await asyncio.start_server(srv._handle, srv.host, srv.port, backlog=4096)
        srv.port = srv._server.sockets[0].getsockname()[1]
        print(f"PORT {srv.port}", flush=True)
        await asyncio.Event().wait()

    try:
        loop.run_until_complete(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()


# Short timeouts and retry waits for tests, and no real credentials leaking in from the shell.
FAST = {"HARNESS_JUDGE_TIMEOUT": "1", "HARNESS_JUDGE_RETRY_WAIT": "0.01", "HARNESS_JUDGE_RETRY_MAX_WAIT": "0.05",
        "HARNESS_JUDGE_BATCH_POLL": "0.01"}
SECRETS = ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL")


def use_fast_judge_env(mp) -> None:
    """Apply FAST and remove SECRETS through a pytest MonkeyPatch."""
    for k, v in FAST.items():
        mp.setenv(k, v)
    for k in SECRETS:
        mp.delenv(k, raising=False)
