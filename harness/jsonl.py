"""JSON Lines: strict reading of user files, tolerant reading of our own append-only logs.

User files are read line by line as bytes, so a binary or non-UTF-8 file, a line that is not
one JSON object, JSON nested too deeply to be data, NaN or Infinity (not JSON), or a key given
twice in one object is one BadInput naming the file and line, never a traceback or a guess.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterator

from harness.errors import BadInput

MAX_DEPTH = 64  # nesting of a user's JSON value; annotations and predictions need a handful of levels


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"key {dup!r} appears twice in one object")
    return obj


def _depth(value: Any) -> int:
    """Nesting depth of a parsed JSON value (iterative: deep values must not overflow the stack)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        if isinstance(v, list):
            deepest = max(deepest, d)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((x, d + 1) for x in v)
    return deepest


def parse_json(text: str | bytes, where: str) -> Any:
    """One JSON value from a user's file; BadInput (`where: what`) for anything that is not plain JSON."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"{where}: not UTF-8 text (byte 0x{text[exc.start]:02x} at offset {exc.start}); "
                           "expected JSON") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark is encoding, not content
    try:
        value = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object_pairs)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{where}: malformed JSON ({exc.msg} at column {exc.colno}); fix or remove it") from None
    except RecursionError:
        raise BadInput(f"{where}: JSON nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:  # NaN/Infinity, a repeated key, an integer too long to convert
        raise BadInput(f"{where}: not plain JSON ({exc})") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise BadInput(f"{where}: JSON nested too deeply (more than {MAX_DEPTH} levels)")
    return value


def read_json_file(path: str | Path, what: str = "JSON file") -> Any:
    """A whole JSON file (spec.json, result.json, a record): BadInput when missing, unreadable or not JSON."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{what} not found: {path}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_json(data, str(path))


def iter_user_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a user's JSONL file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"file not found: {path}")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            obj = parse_json(raw, f"{path}:{lineno}")
            if not isinstance(obj, dict):
                raise BadInput(f"{path}:{lineno}: expected a JSON object per line, got {type(obj).__name__}")
            yield lineno, obj


def read_user_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a user-supplied JSONL file; any malformed line is a one-line BadInput."""
    return [obj for _, obj in iter_user_jsonl(path)]


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
            rec = json.loads(raw)
        except (ValueError, RecursionError):  # JSONDecodeError, bad UTF-8, absurd nesting
            if i >= len(lines) - 2:  # only the last record may be torn
                return
            raise BadInput(f"{path}:{i + 1}: corrupt record in the middle of a run log") from None
        if not isinstance(rec, dict):
            raise BadInput(f"{path}:{i + 1}: corrupt record in a run log (not a JSON object)")
        yield rec


class LogWriter:
    """Append-only JSONL writer: each record reaches the OS at once, the disk in groups.

    Every record is one write() of one whole line to a file opened for appending, so a killed
    process loses nothing and leaves at most a torn last line, which readers skip and the next
    writer cuts off. fsync, which a power loss needs and which costs milliseconds, runs once per
    group: after `group` records, on the first record written a second or more after the last
    fsync, and on close. A power loss can thus cost the records of the last group; they are
    redone on resume like any record that was never written.
    """

    GROUP_RECORDS = 100
    GROUP_SECONDS = 1.0

    def __init__(self, path: str | Path, *, group: int | None = None, seconds: float | None = None):
        self.path = Path(path)
        self.group = self.GROUP_RECORDS if group is None else group
        self.seconds = self.GROUP_SECONDS if seconds is None else seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._unsynced = 0
        self._last_sync = time.monotonic()

    def _repair_torn_tail(self) -> None:
        # A torn last line would glue onto the next record; cut it off before appending.
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            data = fh.read()
            fh.truncate(data.rfind(b"\n") + 1)

    def write(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path}: write after close")
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:  # one write() for a regular file; the loop only guards a short write
            view = view[os.write(self._fd, view):]
        self._unsynced += 1
        if self._unsynced >= self.group or time.monotonic() - self._last_sync >= self.seconds:
            self.sync()

    def sync(self) -> None:
        """fsync what was written so far (the end of a group)."""
        if self._fd is not None and self._unsynced:
            os.fsync(self._fd)
            self._unsynced = 0
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            self.sync()
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "LogWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write a JSON file whole or not at all (a temporary file, fsynced, then renamed over it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
