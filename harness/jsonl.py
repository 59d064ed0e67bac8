"""JSON Lines: strict reading of user files, tolerant reading of our own append-only logs."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from harness.errors import BadInput


def read_user_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a user-supplied JSONL file; any malformed line is a one-line BadInput."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"file not found: {path}")
    rows = []
    with path.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{path}:{lineno}: malformed JSON line ({exc.msg}); fix or remove it") from None
            if not isinstance(obj, dict):
                raise BadInput(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(obj)
    return rows


def read_log(path: str | Path) -> Iterator[dict[str, Any]]:
    """Read our own append-only log. A torn last line (a crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as fh:
        lines = fh.read().split(b"\n")
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            yield json.loads(raw)
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # only the last record may be torn
                return
            raise BadInput(f"{path}:{i + 1}: corrupt record in the middle of a run log") from None


class LogWriter:
    """Append-only JSONL writer. Every record is flushed to the OS as it is written, so a killed process
    loses nothing; records are fsynced in groups (at most every `sync_every` seconds, and on close), so a
    power loss costs at most the last group, which the next run redoes. An fsync per record blocked the
    scoring loop for milliseconds per sample."""

    def __init__(self, path: str | Path, sync_every: float = 0.5):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self._fh = self.path.open("a", encoding="utf-8")
        self._sync_every = sync_every
        self._synced = time.monotonic()
        self._dirty = False

    def _repair_torn_tail(self) -> None:
        # A torn last line would glue onto the next record; cut it off before appending.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            data = fh.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)

    def write(self, record: dict[str, Any]) -> None:
        self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._fh.flush()
        self._dirty = True
        if time.monotonic() - self._synced >= self._sync_every:
            self.sync()

    def sync(self) -> None:
        if self._dirty:
            os.fsync(self._fh.fileno())
            self._dirty = False
        self._synced = time.monotonic()

    def close(self) -> None:
        try:
            self.sync()
        finally:
            self._fh.close()

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_json_atomic(path: str | Path, obj: Any) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
