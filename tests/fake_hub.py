"""A stand-in for the Hugging Face hub on 127.0.0.1: the two requests huggingface_hub makes to download a
file of a dataset repository (HEAD for its metadata, GET for its bytes, with Range for a resumed
download), so that `harness data fetch` runs huggingface_hub's own download code against it.

    with FakeHub({"owner/name": {"json/metadata.json": b"..."}}) as hub:
        env = {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp / "hf")}   # for the harness subprocess

`gated` repositories answer as the hub does for an account that has not accepted their terms (403 with
X-Error-Code: GatedRepo). Every request is logged (method, path, Range header).
"""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    def __init__(self, repos: dict[str, dict[str, bytes]], gated: set[str] | None = None):
        self.repos = repos
        self.gated = gated or set()
        self.log: list[tuple[str, str, str | None]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                hub.log.append((self.command, self.path, self.headers.get("Range")))
                found = hub._find(unquote(self.path.split("?", 1)[0]))
                if found is None:
                    return self._error(404, "EntryNotFound", "Entry not found")
                repo, data = found
                if repo in hub.gated:
                    return self._error(403, "GatedRepo", f"Access to dataset {repo} is restricted. You must have "
                                                         "access to it and be authenticated to access it.")
                etag = hashlib.sha256(data).hexdigest()
                start = 0
                rng = self.headers.get("Range")
                if body and rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-", 1)[0] or 0)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if body:
                    self.wfile.write(data[start:])

            def _error(self, status: int, code: str, message: str):
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _find(self, path: str):
        # /datasets/<owner>/<name>/resolve/<revision>/<file path>
        parts = path.strip("/").split("/")
        if len(parts) < 6 or parts[0] != "datasets" or parts[3] != "resolve":
            return None
        repo, name = "/".join(parts[1:3]), "/".join(parts[5:])
        files = self.repos.get(repo)
        if files is None or name not in files:
            return None
        return repo, files[name]

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
