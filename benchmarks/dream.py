"""DREAM-1K: detailed video description, scored by AutoDQ (events recall/precision/F1)."""

from __future__ import annotations

import ast
import json
from pathlib import PurePosixPath
from typing import Any

from harness.benchmark import Benchmark, normalize_row

PROMPT = "<video>\nDescribe the video in detail."  # the Tarsier release's DREAM-1K prompt


class DreamBenchmark(Benchmark):
    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        if "description" in row and "text" not in row and "messages" not in row:
            return from_hub_row(row)
        return normalize_row(row)


def from_hub_row(row: dict[str, Any]) -> dict[str, Any]:
    """A line of the hub's json/metadata.json (idx, video_file, source, duration, description,
    events, n_subjects, n_shots, n_events; the card types every field as a string)."""
    video_file = str(row["video_file"])
    return {
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


BENCHMARK = DreamBenchmark(
    name="dream",
    title="DREAM-1K",
    metric="autodq",
    family="detailed-caption",
    annotation_file="DREAM-1k.jsonl",
    video_rule="{vid}.mp4",  # inside video/video.zip of the hub dataset
    group_keys=("subset",),
    hub_dataset="omni-research/DREAM-1K",
    hub_file="json/metadata.json",
    # the Tarsier release's DREAM-1k.jsonl (text format, branch tarsier) and
    # DREAM-1k.messages.jsonl (messages format, branch main)
    canonical_sha256=(
        "171d7c14c0c49407eadf3d96a4dc2a6d5314fc2e2281cd247a97250a16cc2f15",
        "f1d1e15c8568a7a30e32354bf9e9db18d16746c6b52b786452819eccbc7353b4",
    ),
    canonical_rows=1000,
)
