"""Benchmark definitions: where annotations come from and how a sample is built.

Each benchmark is one file in benchmarks/ that instantiates `Benchmark` (or a subclass),
plus one line in `harness.benchmarks.BENCHMARKS`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.jsonl import read_user_jsonl
from harness.types import Sample

PLACEHOLDER = "<placeholder>"
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".gif", ".m4v")
OPTION_RE = re.compile(r"^\(([A-Z])\)\s*(.*)$")


@dataclass(frozen=True)
class Annotations:
    rows: list[dict[str, Any]]
    source: str  # path or hub id
    sha256: str


@dataclass
class Benchmark:
    name: str
    title: str
    metric: str  # key in harness.metrics.METRICS
    family: str  # "caption" | "mc" | "open-qa" | "detailed-caption"
    annotation_file: str  # Tarsier release file name (for the error message)
    video_rule: str = "{vid}.mp4"
    group_keys: tuple[str, ...] = ("subset",)
    hub_dataset: str | None = None
    hub_file: str | None = None
    unique_idx: bool = True  # idx alone identifies a sample (else dataset + idx)
    note: str | None = None
    default_frames: int = 8
    tags: tuple[str, ...] = field(default_factory=tuple)
    # The canonical annotation set: sha256 of each accepted official file (any format) and its row
    # count. A run on another file, or on part of it, is not comparable with published numbers.
    canonical_sha256: tuple[str, ...] = ()
    canonical_rows: int | None = None

    # -- loading -----------------------------------------------------------------------
    def load_annotations(self, path: str | None = None, hub: str | None = None) -> Annotations:
        if path:
            p = Path(path)
            if p.is_dir():  # a folder of Tarsier annotation files: pick this benchmark's
                p = p / self.annotation_file
            if not p.is_file():
                raise BadInput(
                    f"annotation file not found: {p}; pass --annotations PATH to the {self.name} "
                    f"file ({self.annotation_file} in the Tarsier release)"
                )
            rows = read_user_jsonl(p)
            return Annotations(rows, str(p), hashlib.sha256(p.read_bytes()).hexdigest())
        hub = hub or self.hub_dataset
        if not hub:
            raise BadInput(
                f"benchmark {self.name} needs --annotations PATH ({self.annotation_file} in the Tarsier release)"
            )
        return self._load_from_hub(hub)

    def _load_from_hub(self, hub: str) -> Annotations:
        try:
            import datasets

            data_files = f"hf://datasets/{hub}/{self.hub_file}" if self.hub_file else None
            ds = datasets.load_dataset("json", data_files=data_files, split="train") if data_files else \
                datasets.load_dataset(hub, split="test")
        except Exception as exc:  # network, auth (gated), missing file: all the same to the user
            raise BadInput(
                f"could not load {hub} from the Hugging Face hub ({type(exc).__name__}); "
                f"pass --annotations PATH to a local {self.annotation_file}"
            ) from None
        rows = [dict(r) for r in ds]
        digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
        return Annotations(rows, f"hf:{hub}", digest)

    def samples(self, ann: Annotations, video_root: str | None = None) -> list[Sample]:
        out: list[Sample] = []
        seen: set[str] = set()
        for lineno, row in enumerate(ann.rows, 1):
            try:
                sample = self.build_sample(self.normalize(row), video_root)
            except (KeyError, TypeError, ValueError) as exc:
                raise BadInput(f"{ann.source}: line {lineno}: not a {self.name} annotation ({exc})") from None
            if sample.id in seen:
                raise BadInput(f"{ann.source}: line {lineno}: duplicate sample id {sample.id}")
            seen.add(sample.id)
            out.append(sample)
        return out

    # -- per-sample construction (override for special cases) ---------------------------
    def normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        """Any accepted annotation format -> the Tarsier `text` format."""
        return normalize_row(row)

    def sample_id(self, row: dict[str, Any]) -> str:
        return str(row["idx"]) if self.unique_idx else f"{row['dataset']}:{row['idx']}"

    def build_sample(self, row: dict[str, Any], video_root: str | None) -> Sample:
        text = row["text"]
        response = text.get("response")
        refs: list[str] = []
        answer = None
        if isinstance(response, list):
            refs = [str(r) for r in response]
        elif response is not None and self.family in ("caption", "detailed-caption"):
            refs = [str(response)]  # a description is a reference, not an answer
        elif response is not None:
            answer = str(response)
        extra = dict(row.get("extra_info") or {})
        return Sample(
            id=self.sample_id(row),
            benchmark=self.name,
            idx=row["idx"],
            dataset=row["dataset"],
            video=self.resolve_video(row, video_root),
            prompt=text["prompt"],
            question=text.get("question"),
            options=parse_options(text.get("question") or text["prompt"]),
            answer=answer,
            references=refs,
            groups=self.groups(row, extra),
            cluster=str(row.get("vid", row["idx"])),
            extra=extra,
        )

    def groups(self, row: dict[str, Any], extra: dict[str, Any]) -> dict[str, str]:
        out = {}
        for key in self.group_keys:
            if key == "subset":
                out["subset"] = row["dataset"]
            elif key == "subtask":  # "MVBench/Action Sequence" -> "Action Sequence"
                out["subtask"] = row["dataset"].split("/", 1)[-1]
            elif key in extra:
                out[key] = str(extra[key])
        return out

    def resolve_video(self, row: dict[str, Any], video_root: str | None) -> str | None:
        """The video's path: a real annotated path as is, else the root plus the file-name rule.

        Returns None when nothing resolves (the runner reports missing videos up front).
        """
        annotated = row.get("video_file")
        if annotated and annotated != PLACEHOLDER and Path(annotated).is_absolute() and Path(annotated).exists():
            return str(annotated)
        if not video_root:
            return None
        root = Path(video_root).resolve()
        names = []
        if annotated and annotated != PLACEHOLDER and not Path(annotated).is_absolute():
            names.append(annotated)
        vid = str(row.get("vid", row["idx"]))
        rule_name = self.video_rule.format(vid=vid, idx=row["idx"])
        names.append(rule_name)
        stem = Path(rule_name).with_suffix("") if Path(rule_name).suffix in VIDEO_EXTENSIONS else Path(rule_name)
        names += [f"{stem}{ext}" for ext in VIDEO_EXTENSIONS]
        first = None
        for name in names:
            candidate = (root / name).resolve()
            if not candidate.is_relative_to(root):
                raise BadInput(f"video path {name!r} escapes --video-root {root}; refusing it")
            first = first or candidate
            if candidate.exists():
                return str(candidate)
        return str(first)  # does not exist; the runner's pre-flight check names it


def normalize_row(row: dict[str, Any]) -> dict[str, Any]:
    """Turn the chat `messages` annotation format into the `text` format."""
    if "text" in row or "messages" not in row:
        return row
    prompt_parts: list[str] = []
    response: Any = None
    video_file = row.get("video_file", PLACEHOLDER)
    for message in row["messages"]:
        for item in message.get("content") or []:
            if message.get("role") == "user":
                if item.get("type") == "video":
                    prompt_parts.append("<video>")
                    video_file = (item.get("video") or {}).get("video_file", video_file)
                elif item.get("type") == "text" and item.get("text") is not None:
                    prompt_parts.append(item["text"])
            elif message.get("role") == "assistant":
                ref = item.get("reference")
                if ref is not None:
                    response = ref
    out = {k: v for k, v in row.items() if k != "messages"}
    out["text"] = {"prompt": "\n".join(prompt_parts), "response": response}
    out["video_file"] = video_file
    return out


def parse_options(text: str) -> list[str]:
    """Options written as lines '(A) ...' in the question or prompt."""
    opts = []
    for line in text.splitlines():
        m = OPTION_RE.match(line.strip())
        if m and ord(m.group(1)) - ord("A") == len(opts):
            opts.append(m.group(2).strip())
    return opts
