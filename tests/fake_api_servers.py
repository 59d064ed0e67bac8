"""Loopback servers speaking the OpenAI chat-completions API and the Gemini (Developer API)
HTTP protocol: Files API resumable upload, file get/delete, models/*:generateContent and its stream.

Both record every request (method, path, headers, JSON body) for the tests to inspect, and
answer deterministically. Bound to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server:
    def __init__(self):
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        handler = type("H", (_Handler,), {"owner": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(entry)

    def handle(self, h: "_Handler", method: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    owner: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _do(self, method: str) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        status, headers, payload = self.owner.handle(self, method, body)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self):
        self._do("GET")

    def do_POST(self):
        self._do("POST")

    def do_DELETE(self):
        self._do("DELETE")


def _json(obj: Any, status: int = 200, extra: dict[str, str] | None = None):
    return status, {"Content-Type": "application/json", **(extra or {})}, json.dumps(obj).encode()


class OpenAIServer(_Server):
    """POST /v1/chat/completions -> '(A) saw <n> images' (images in the whole request), or `reply`: a text,
    or a function of the request body giving the text. `"stream": true` gets the answer as server-sent
    events, a chunk per word, usage in the last chunk; with `cut_stream`, the stream stops after two words
    (a connection lost mid-answer)."""

    def __init__(self, reply=None):
        super().__init__()
        self.reply = reply
        self.cut_stream = False
        self.url = f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_bodies(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def handle(self, h, method, body):
        data = json.loads(body) if body else None
        self.record({"method": method, "path": h.path, "headers": dict(h.headers), "json": data})
        if method != "POST" or not h.path.endswith("/chat/completions"):
            return _json({"error": {"message": "not found"}}, 404)
        n_images = sum(1 for m in data["messages"] if isinstance(m["content"], list)
                       for p in m["content"] if isinstance(p, dict) and p.get("type") == "image_url")
        text = self.reply(data) if callable(self.reply) else self.reply or f"(A) saw {n_images} images"
        usage = {"prompt_tokens": 85 * n_images + 20, "completion_tokens": 5, "total_tokens": 85 * n_images + 25}
        model = data["model"] + "-2024-08-06"
        if data.get("stream"):
            return 200, {"Content-Type": "text/event-stream"}, _events(text, model, usage, self.cut_stream)
        return _json({
            "id": "chatcmpl-" + uuid.uuid4().hex[:8], "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": usage,
        })


def _events(text: str, model: str, usage: dict[str, int], cut: bool = False) -> bytes:
    """A chat completion as the stream of chunks OpenAI sends (cut: only its first two words)."""
    pieces = re.findall(r"\S+\s*|\s+", text) or [""]
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
    if cut:
        chunks = chunks[:2]
    else:
        chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        chunks.append({"choices": [], "usage": usage})
    out = b""
    for c in chunks:
        c.update({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model})
        out += b"data: " + json.dumps(c).encode() + b"\n\n"
    return out if cut else out + b"data: [DONE]\n\n"


class GeminiServer(_Server):
    """The parts of generativelanguage.googleapis.com the Gemini adapter uses.

    Files start PROCESSING and turn ACTIVE after `polls_until_active` GETs. `faults`: HTTP statuses the next
    generateContent requests get instead of an answer, in order.
    """

    def __init__(self, polls_until_active: int = 1):
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.polls_until_active = polls_until_active
        self.deleted: list[str] = []
        self.faults: list[int] = []

    def count(self, method: str, fragment: str) -> int:
        return sum(1 for r in self.requests if r["method"] == method and fragment in r["path"])

    def handle(self, h, method, body):
        path = h.path.split("?", 1)[0]
        m = re.match(r"^(/upload)?/(v1beta|v1alpha|v1)(/.*)$", path)
        version = "v1beta"
        if m:  # the SDK's API version may change; the routes are the same
            version = m.group(2)
            path = (m.group(1) or "") + "/v1beta" + m.group(3)
        try:
            data = json.loads(body) if body and not path.startswith("/upload-session/") else None
        except ValueError:
            data = None
        self.record({"method": method, "path": path, "headers": dict(h.headers), "json": data, "size": len(body)})
        if method == "POST" and path.endswith("/upload/v1beta/files"):
            sid = uuid.uuid4().hex[:10]
            self.uploads[sid] = {"meta": (data or {}).get("file", {}), "data": b""}
            return _json({}, 200, {"X-Goog-Upload-URL": f"{self.url}/upload-session/{sid}",
                                   "X-Goog-Upload-Status": "active"})
        if method == "POST" and path.startswith("/upload-session/"):
            sid = path.rsplit("/", 1)[1]
            up = self.uploads[sid]
            up["data"] += body
            if "finalize" in (h.headers.get("X-Goog-Upload-Command") or ""):
                name = f"files/{sid}"
                f = {"name": name, "displayName": up["meta"].get("displayName"),
                     "mimeType": up["meta"].get("mimeType", "video/mp4"), "sizeBytes": str(len(up["data"])),
                     "uri": f"{self.url}/{version}/{name}", "state": "PROCESSING", "_polls": 0}
                self.files[name] = f
                return _json({"file": _public(f)}, 200, {"X-Goog-Upload-Status": "final"})
            return _json({}, 200, {"X-Goog-Upload-Status": "active"})
        if path.startswith("/v1beta/files/"):
            name = path[len("/v1beta/"):]
            f = self.files.get(name)
            if f is None:
                return _json({"error": {"code": 404, "message": "no such file", "status": "NOT_FOUND"}}, 404)
            if method == "GET":
                f["_polls"] += 1
                if f["_polls"] >= self.polls_until_active:
                    f["state"] = "ACTIVE"
                return _json(_public(f))
            if method == "DELETE":
                del self.files[name]
                self.deleted.append(name)
                return _json({})
        generate = ":generateContent" in path or ":streamGenerateContent" in path
        if method == "POST" and generate and self.faults:
            status = self.faults.pop(0)
            return _json({"error": {"code": status, "message": f"fake fault {status}", "status": "FAKE"}}, status)
        if method == "POST" and generate:
            parts = [p for c in data["contents"] for p in c["parts"]]
            # protobuf JSON: the API accepts lowerCamel and snake_case field names alike
            videos = [p["fileData"].get("fileUri") or p["fileData"].get("file_uri") for p in parts if "fileData" in p]
            for uri in videos:
                name = "files/" + uri.rsplit("/files/", 1)[1]
                if self.files.get(name, {}).get("state") != "ACTIVE":
                    return _json({"error": {"code": 400, "message": f"file {name} is not ACTIVE",
                                            "status": "FAILED_PRECONDITION"}}, 400)
            n_images = sum(1 for p in parts if "inlineData" in p or "inline_data" in p)
            text = f"A video ({len(videos)} files, {n_images} images)."
            usage = {"promptTokenCount": 300, "candidatesTokenCount": 7, "totalTokenCount": 307}
            if ":streamGenerateContent" in path:  # server-sent events, a chunk per word, usage at the end
                words = re.findall(r"\S+\s*", text)
                events = [{"candidates": [{"content": {"role": "model", "parts": [{"text": w}]}, "index": 0}]}
                          for w in words]
                events[-1]["candidates"][0]["finishReason"] = "STOP"
                events[-1]["usageMetadata"] = usage
                body = b"".join(b"data: " + json.dumps(e).encode() + b"\r\n\r\n" for e in events)
                return 200, {"Content-Type": "text/event-stream"}, body
            return _json({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                          "finishReason": "STOP", "index": 0}], "usageMetadata": usage})
        return _json({"error": {"code": 404, "message": f"unknown {method} {path}", "status": "NOT_FOUND"}}, 404)


def _public(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if not k.startswith("_")}
