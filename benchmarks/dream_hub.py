"""The DREAM-1K hub's json/metadata.json rows as Tarsier text rows (the `dream-metadata` format).

The benchmark itself is declared in dream.yaml; this is only the reader of the hub's own layout.
"""

from __future__ import annotations

import ast
import json
from pathlib import PurePosixPath
from typing import Any

PROMPT = "<video>\nDescribe the video in detail."  # the Tarsier release's DREAM-1K prompt


def from_hub_row(row: dict[str, Any]) -> dict[str, Any]:
    """A line of the hub's json/metadata.json (idx, video_file, source, duration, description,
    events, n_subjects, n_shots, n_events; the card types every field as a string)."""
    video_file = str(row["video_file"])
    out = {
        "idx": int(row["idx"]),
        "dataset": f"DREAM/{row['source']}",
        "text": {"prompt": PROMPT, "response": row["description"]},
        "video_file": "<placeholder>",
        "vid": PurePosixPath(video_file).stem,
        "extra_info": {
            "duration": _number(row.get("duration")),
            "events": _events(row.get("events")),
            "n_subjects": _number(row.get("n_subjects")),
            "n_shots": _number(row.get("n_shots")),
            "n_events": _number(row.get("n_events")),
        },
    }
    if out["extra_info"]["events"] is None:  # no events on the card: AutoDQ extracts them from the reference
        del out["extra_info"]["events"]
    return out


def _events(value: Any) -> list[str] | None:
    if value is None or isinstance(value, list):
        return value
    text = str(value).strip()
    for parse in (json.loads, ast.literal_eval):  # a list serialised as JSON or as a Python repr
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError):
            continue
        if isinstance(parsed, list):
            return [str(e) for e in parsed]
    raise ValueError(f"events is not a list: {text[:60]!r}")


def _number(value: Any) -> int | float | None:
    if value is None or isinstance(value, (int, float)):
        return value
    number = float(value)
    return int(number) if number.is_integer() else number
