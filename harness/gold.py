"""Gold data checks: a row whose answer, references, events or id cannot be scored is refused.

A missing, empty or out-of-range answer would otherwise be scored as a wrong answer, a reference
that is a list or a dict as precision 0, and an idx `true` would match the prediction of idx 1:
each is a one-line error naming the row and the field instead (RowError; the benchmark adds
file and line).
"""

from __future__ import annotations

from typing import Any

from harness.annotations import RowError

# how each format names a field, for the error line
_NAMES = {
    "response": {"text": "text.response", "messages": "reference (the assistant item's)",
                 "dream-metadata": "description"},
    "question": {"text": "text.question", "messages": "the user text", "dream-metadata": "question"},
    "prompt": {"text": "text.prompt", "messages": "the user text", "dream-metadata": "prompt"},
}


def field_name(kind: str, fmt: str, columns: Any = None) -> str:
    if fmt == "table" and columns is not None:
        return getattr(columns, "answer" if kind == "response" else kind, kind)
    return _NAMES[kind].get(fmt, kind)


def check_idx(idx: Any) -> int | str:
    """An int or a non-empty string; a bool is neither (JSON `true` is not idx 1)."""
    if (type(idx) is int) or (isinstance(idx, str) and idx.strip()):
        return idx
    if idx is None:
        raise RowError("idx", "missing")
    raise RowError("idx", f"must be an integer or a string, not {_show(idx)}")


def check_events(extra: dict[str, Any]) -> None:
    events = extra.get("events", None)
    if "events" in extra and not (isinstance(events, list) and all(isinstance(e, str) for e in events)):
        raise RowError("extra_info.events", f"must be a list of strings, not {_show(events)}")


def gold(kind: str, text: dict[str, Any], options: list[str], fmt: str, columns: Any = None
         ) -> tuple[str | None, list[str]]:
    """(answer, references) for a metric's gold kind (harness.metric.Metric.gold)."""
    name = field_name("response", fmt, columns)
    present = "response" in text
    value = text.get("response")
    if kind == "choice":
        return choice(value, present, options, name), []
    if not present or value is None:
        raise RowError(name, "missing: the sample has no gold answer" if kind != "description"
                       else "missing: the sample has no reference description")
    if kind == "references":
        refs = [value] if isinstance(value, str) else value
        if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r.strip() for r in refs):
            raise RowError(name, f"must be a caption or a list of captions, not {_show(value)}")
        return None, refs
    if kind == "description":
        if not isinstance(value, str) or not value.strip():
            raise RowError(name, f"must be one reference description (a non-empty string), not {_show(value)}")
        return None, [value]
    if type(value) is int:
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise RowError(name, f"must be a non-empty answer string, not {_show(value)}")
    return value, []


def choice(value: Any, present: bool, options: list[str], name: str) -> str:
    """The answer letter, read as Tarsier does (parentheses dropped, first character), and checked
    against the sample's options: "A", "(A)", "(A) the text", "A. the text"; never "Apple"."""
    if not present or value is None:
        raise RowError(name, "missing: the question has no gold answer")
    if not isinstance(value, str):
        raise RowError(name, f"must be an option letter, not {_show(value)}")
    s = value.replace("(", "").replace(")", "").strip()
    if not s:
        raise RowError(name, "empty: the question has no gold answer")
    letter = s[0]
    if not ("A" <= letter <= "Z") or (len(s) > 1 and s[1].isalnum()):
        raise RowError(name, f"{value!r} is not an option letter")
    if len(options) < 2:
        raise RowError(name, "the question lists no options '(A) ...', so its answer cannot be checked")
    if ord(letter) - ord("A") >= len(options):
        last = chr(ord("A") + len(options) - 1)
        raise RowError(name, f"{value!r} is out of range: the question has {len(options)} options (A-{last})")
    return letter


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return f"a {type(value).__name__}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)[:40]
