"""Annotation files: reading them, turning each row into the Tarsier text form, checking their benchmark.

Where rows come from: a JSONL, CSV or parquet file, a folder (the benchmark's release file in it,
or every annotation file in it), or a Hugging Face dataset (a split, or a JSON-lines file in it).

Row formats (a benchmark declares which it accepts):
- text: the Tarsier release's lines: `idx`, `dataset`, `text.prompt` (with `<video>`),
  `text.response`, `text.question`, `video_file`, `vid`, `extra_info`;
- messages: Tarsier2's chat lines: a user turn of video and text items, then an assistant turn
  whose items hold the text before the answer (e.g. " Answer: (") and the `reference`. As in
  Tarsier2, the assistant text before the reference is part of the prompt: the row becomes
  `USER: <user text>\\nASSISTANT:<that text>`, the form every adapter splits into a user message
  and the start of the reply;
- table: plain rows whose columns the declaration names (question, options, answer, video);
- dream-metadata: the DREAM-1K hub's json/metadata.json rows (harness.benchmarks.dream_hub).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from harness.errors import BadInput
from harness.jsonl import read_user_jsonl

if TYPE_CHECKING:
    from harness.benchmark import Benchmark, Columns

PLACEHOLDER = "<placeholder>"
TABLE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
Status = Literal["canonical", "modified", "foreign", "unverified"]


@dataclass(frozen=True)
class Annotations:
    rows: list[dict[str, Any]]
    source: str  # path or hf:<id>
    sha256: str
    places: tuple[str, ...] = ()  # where each row is ("FILE:LINE", "FILE: row N"), for error lines

    def where(self, i: int) -> str:
        return self.places[i] if i < len(self.places) else f"{self.source}: row {i + 1}"


class RowError(ValueError):
    """A row that cannot become a sample: the field to fix and what is wrong with it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field, self.problem = field, problem


# -- files --------------------------------------------------------------------------------
def read_file(path: Path) -> Annotations:
    """One annotation file: JSON lines, CSV or parquet (by suffix; anything else is read as JSON lines), or
    a .json file holding one array of objects (the DREAM-1K hub's json/metadata.json)."""
    if path.suffix.lower() in (".csv", ".parquet"):
        rows = _read_table(path)
        places = tuple(f"{path}: row {i}" for i in range(1, len(rows) + 1))
    elif path.suffix.lower() == ".json" and _starts_with(path, b"["):
        rows = _read_array(path)
        places = tuple(f"{path}: item {i}" for i in range(1, len(rows) + 1))
    else:
        rows = read_user_jsonl(path)
        with path.open("r", encoding="utf-8") as fh:  # the line of each row, skipping blank lines as the reader does
            places = tuple(f"{path}:{n}" for n, line in enumerate(fh, 1) if line.strip())
    return Annotations(rows, str(path), hashlib.sha256(path.read_bytes()).hexdigest(), places)


def _starts_with(path: Path, char: bytes) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")  # a byte-order mark, white space
    return head.startswith(char)


def _read_array(path: Path) -> list[dict[str, Any]]:
    from harness.jsonl import read_json_file

    rows = read_json_file(path, "annotation file")
    if not isinstance(rows, list):
        raise BadInput(f"{path}: expected a JSON array of objects")
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise BadInput(f"{path}: item {i}: expected a JSON object, got {type(row).__name__}")
    return rows


def read_folder(folder: Path) -> Annotations:
    """Every annotation file of a folder, in name order, as one set (e.g. one file per task)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
    if not files:
        raise BadInput(f"{folder}: no annotation file (.jsonl, .csv, .parquet) in this folder")
    parts = [read_file(p) for p in files]
    digest = hashlib.sha256("".join(f"{Path(a.source).name}\t{a.sha256}\n" for a in parts).encode()).hexdigest()
    return Annotations([r for a in parts for r in a.rows], str(folder), digest,
                       tuple(w for a in parts for w in a.places))


def _read_table(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else \
            pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # a damaged or foreign file: one line, never a traceback
        raise BadInput(f"{path}: not a readable {path.suffix[1:]} table ({type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:120] if str(exc) else ''})") from None
    return [_plain(r) for r in frame.to_dict(orient="records")]


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy arrays (parquet list columns) as lists, so rows look like JSON."""
    return {str(k): (v.tolist() if hasattr(v, "tolist") and not isinstance(v, (str, bytes)) else v)
            for k, v in row.items()}


def read_hub(hub: str, split: str, hub_file: str | None, wanted: str) -> Annotations:
    try:
        import datasets

        if hub_file:
            ds = datasets.load_dataset("json", data_files=f"hf://datasets/{hub}/{hub_file}", split="train")
        else:
            ds = datasets.load_dataset(hub, split=split)
    except Exception as exc:  # network, auth (gated), missing file: all the same to the user
        raise BadInput(f"could not load {hub} from the Hugging Face hub ({type(exc).__name__}); "
                       f"pass --annotations PATH to a local {wanted}") from None
    rows = [_plain(dict(r)) for r in ds]
    digest = hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()
    return Annotations(rows, f"hf:{hub}", digest, tuple(f"hf:{hub}: row {i}" for i in range(1, len(rows) + 1)))


# -- rows -> the Tarsier text form -----------------------------------------------------------
def to_text_row(row: dict[str, Any], formats: tuple[str, ...], columns: "Columns | None", position: int,
                default_dataset: str) -> dict[str, Any]:
    """A row of any accepted format as a Tarsier text row (plus `format`, and `options` for tables)."""
    if "messages" in row and "messages" in formats:
        return {**from_messages(row), "format": "messages"}
    if "text" in row and "text" in formats:
        return {**row, "format": "text"}
    if "dream-metadata" in formats and "description" in row:
        from harness.benchmarks.dream_hub import from_hub_row

        return {**from_hub_row(row), "format": "dream-metadata"}
    if "table" in formats and columns is not None:
        return {**from_table(row, columns, position, default_dataset), "format": "table"}
    wanted = {"text": "`text` (Tarsier text)", "messages": "`messages` (Tarsier2)",
              "dream-metadata": "`description` (DREAM-1K hub metadata)", "table": "the declared columns"}
    raise RowError("format", "this row has none of " + ", ".join(wanted[f] for f in formats))


def from_messages(row: dict[str, Any]) -> dict[str, Any]:
    """A Tarsier2 chat row as a text row. The assistant text before the reference is the reply's start."""
    messages = row["messages"]
    if not isinstance(messages, list):
        raise RowError("messages", "must be a list of {role, content} turns")
    user_parts: list[str] = []
    answer_items: list[dict[str, Any]] = []
    video_file = row.get("video_file", PLACEHOLDER)
    for t, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or not all(isinstance(item, dict) for item in content):
            raise RowError(f"messages[{t}]", "must be a {role, content: [items]} turn")
        if message.get("role") == "assistant":
            answer_items += content
            continue
        if message.get("role") != "user":
            continue
        for item in content:
            if item.get("type") == "video":
                user_parts.append("<video>")
                if isinstance(item.get("video"), dict):
                    video_file = item["video"].get("video_file", video_file)
            elif item.get("type") == "text" and isinstance(item.get("text"), str):
                user_parts.append(item["text"])
    # the answer slot is the item with the reference (the last item when none has one)
    with_ref = [i for i, item in enumerate(answer_items) if item.get("reference") is not None]
    if len(with_ref) > 1:
        raise RowError("messages", "more than one assistant item carries a reference")
    slot = with_ref[0] if with_ref else len(answer_items) - 1
    prefix = "".join(item["text"] for item in answer_items[:max(slot, 0)] if isinstance(item.get("text"), str))
    user = "\n".join(user_parts)
    out = {k: v for k, v in row.items() if k != "messages"}
    out["text"] = {"prompt": f"USER: {user}\nASSISTANT:{prefix}" if prefix.strip() else user,
                   "question": "\n".join(p for p in user_parts if p != "<video>")}
    if with_ref:
        out["text"]["response"] = answer_items[slot]["reference"]
    out["video_file"] = video_file
    return out


def from_table(row: dict[str, Any], columns: "Columns", position: int, default_dataset: str) -> dict[str, Any]:
    """A plain row (JSONL, CSV, parquet, HF) with the declared columns as a text row."""
    def column(name: str) -> Any:
        if name not in row:
            raise RowError(name, f"missing column (the declaration's columns name it; this row has "
                                 f"{', '.join(sorted(row)[:8])})")
        return row[name]

    options = None
    if columns.options is not None:
        options = _options(columns.options, column)
    response = column(columns.answer)
    if options is not None and response is not None:
        response = _answer_letter(response, columns.answer_form, options, columns.answer)
    idx = column(columns.id) if columns.id else position
    dataset = column(columns.dataset) if columns.dataset else default_dataset
    out = {k: v for k, v in row.items()}  # every column stays readable (grouping keys)
    out.update({"idx": idx, "dataset": dataset, "vid": column(columns.video), "video_file": PLACEHOLDER,
                "text": {"prompt": None, "question": column(columns.question), "response": response}})
    if options is not None:
        out["options"] = options
    return out


def _options(spec: str | list[str], column) -> list[str]:
    if isinstance(spec, list):  # one column per option; empty trailing cells are absent options
        values = [column(c) for c in spec]
        while values and values[-1] in (None, ""):
            values.pop()
        name = ", ".join(spec)
    else:
        values, name = column(spec), spec
        if isinstance(values, str):
            text = values.strip()
            values = json.loads(text) if text.startswith("[") else [v for v in text.splitlines() if v.strip()]
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise RowError(name, "options must be a list of non-empty strings")
    if len(values) < 2:
        raise RowError(name, f"{len(values)} option(s); a multiple-choice question needs at least 2")
    return [v.strip() for v in values]


def _answer_letter(value: Any, form: str, options: list[str], name: str) -> Any:
    """The gold option as a letter: given as a letter, a 0- or 1-based index, or the option's text."""
    if form == "letter":
        return value
    if form == "text":
        hits = [i for i, o in enumerate(options) if isinstance(value, str) and o == value.strip()]
        if len(hits) != 1:
            raise RowError(name, f"{value!r} is not exactly one of the options")
        return chr(ord("A") + hits[0])
    base = 0 if form == "index0" else 1
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if type(value) is not int or not base <= value < len(options) + base:
        raise RowError(name, f"{value!r} is not an option index ({base}-{len(options) - 1 + base})")
    return chr(ord("A") + value - base)


# -- does a file belong to its benchmark? -----------------------------------------------------
def misfit(bench: "Benchmark", ann: Annotations) -> str | None:
    """Why these annotations are not the benchmark's (its `dataset` name, its size), or None."""
    if bench.dataset:
        names = [r.get("dataset") for r in ann.rows if "description" not in r]  # hub metadata rows have none
        foreign = sorted({str(n) for n in names if not _belongs(n, bench.dataset)})
        if foreign:
            shown = ", ".join(repr(n) for n in foreign[:3]) + (" ..." if len(foreign) > 3 else "")
            return (f"its rows are dataset {shown}; {bench.name} rows are dataset {bench.dataset!r} "
                    f"or {bench.dataset + '/<subset>'!r}")
    if bench.canonical_rows is not None and len(ann.rows) > bench.canonical_rows:
        return f"it has {len(ann.rows)} rows; {bench.name} has {bench.canonical_rows}"
    return None


def _belongs(name: Any, dataset: str) -> bool:
    return isinstance(name, str) and (name == dataset or name.startswith(dataset + "/"))


def annotations_status(bench: "Benchmark", ann: Annotations, samples: list | None = None) -> Status:
    """canonical: the benchmark's own file, or its content in another file (given the file's samples,
    harness.coverage.is_canonical); modified: another file that fits the benchmark (a subset, an
    edit); foreign: a file that does not fit (scored only with --allow-foreign-annotations);
    unverified: it fits, and the benchmark declares nothing canonical to compare with."""
    from harness.coverage import is_canonical

    canonical = is_canonical(bench, ann.sha256, samples)
    if canonical:
        return "canonical"
    if misfit(bench, ann) is not None:
        return "foreign"
    return "modified" if canonical is False else "unverified"


def check_annotations(bench: "Benchmark", ann: Annotations, allow_foreign: bool = False,
                      samples: list | None = None) -> Status:
    """The annotations' status; a foreign file is refused in one line unless allowed."""
    why = misfit(bench, ann)
    if why is not None and not allow_foreign:
        raise BadInput(f"{ann.source} is not a {bench.name} annotation file: {why}; pass the {bench.name} "
                       "file, or --allow-foreign-annotations to score it anyway (the result is marked foreign)")
    return annotations_status(bench, ann, samples)


def messages_prediction(row: dict[str, Any]) -> Any:
    """A Tarsier2 prediction line's answer: the text of the assistant item that carries the reference
    (where Tarsier2 writes it), or of the last assistant item. None when there is no such text."""
    items = [item for m in row.get("messages") or [] if isinstance(m, dict) and m.get("role") == "assistant"
             for item in (m.get("content") or []) if isinstance(item, dict)]
    with_ref = [item for item in items if item.get("reference") is not None]
    slot = with_ref[0] if with_ref else (items[-1] if items else {})
    return slot.get("text")
