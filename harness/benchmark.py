"""A benchmark is a declaration: one pydantic model, for the built-in benchmarks (benchmarks/*.yaml,
shipped with the package) and a user's YAML file alike.

A declaration owns every fact about its benchmark: name, title, family, split, description, its
published source, where its annotations come from and in which format, their canonical checksums
and row count, how a sample is built (prompt template, video file rule, sample id, grouping keys),
the metric with its arguments, the protocol rules, whether a judge is needed, and how the board
shows it. Nothing else in the code lists benchmarks: the registry (harness.benchmarks) names the
built-in declaration files, and every other module asks a declaration.
"""

from __future__ import annotations

import os
import re
import string
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from harness import gold as G
from harness.annotations import PLACEHOLDER, Annotations, RowError, read_file, read_folder, read_hub, to_text_row
from harness.errors import BadInput
from harness.metric import ProtocolRules
from harness.types import Sample, content_hash

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".gif", ".m4v")
OPTION_RE = re.compile(r"^\(([A-Z])\)\s*(.*)$")
NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,63}$"
# Families the board knows (key: title); a declaration may name a new one.
FAMILIES = {"detailed-caption": "Detailed video description", "mc": "Multiple-choice video QA",
            "open-qa": "Open-ended video QA", "caption": "Short captioning"}
FAMILY_ALIASES = {"description": "detailed-caption", "detailed description": "detailed-caption",
                  "multiple-choice": "mc", "multiple-choice qa": "mc", "multiple choice": "mc",
                  "open-ended qa": "open-qa", "open-ended": "open-qa", "captioning": "caption"}
FORMATS = {"tarsier": ("text", "messages"), "text": ("text",), "messages": ("messages",),
           "table": ("table",), "dream-metadata": ("dream-metadata",)}
TEMPLATE_SLOTS = {"prompt", "question", "options"}
DEFAULT_PROMPTS = {"choice": "USER: <video>\nQuestion: {question}\n{options}\nASSISTANT: Answer: (",
                   "answer": "<video>\n{question}", "references": "<video>\n{question}",
                   "description": "<video>\n{question}"}
_STRICT = ConfigDict(frozen=True, extra="forbid")


class Source(BaseModel):
    """Where the benchmark was published."""

    model_config = _STRICT
    citation: str = Field(min_length=1)
    url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")  # shown as a link: http(s) only


class AnnotationSource(BaseModel):
    """Where annotations come from when `--annotations` does not say."""

    model_config = _STRICT
    path: str | None = None  # a file or a folder (relative to the declaration's folder)
    file: str | None = None  # the file's name in a release folder (`--annotations DIR` picks it)
    hub: str | None = None  # a Hugging Face dataset id
    split: str = "test"  # the hub dataset's split
    hub_file: str | None = None  # or a JSON-lines file inside the hub dataset


class HubData(BaseModel):
    """The benchmark's files in a Hugging Face dataset repository, for `harness data fetch`."""

    model_config = _STRICT
    repo: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # owner/name
    revision: str = "main"  # a branch, tag or commit
    gated: bool = False  # users accept its terms on the hub first
    annotations: str | None = None  # the annotation file in the repository
    videos: list[str] = Field(default_factory=list)  # zip archives (unpacked) or video files in the repository

    @field_validator("videos")
    @classmethod
    def _archives(cls, names: list[str]) -> list[str]:
        for name in names:
            if not name.lower().endswith((".zip",) + VIDEO_EXTENSIONS):
                raise ValueError(f"{name!r}: a zip archive or a video file ({', '.join(VIDEO_EXTENSIONS)})")
        return names


class DataSource(BaseModel):
    """Where the benchmark's data comes from: fetched from the hub, or where a user gets it by hand."""

    model_config = _STRICT
    hub: HubData | None = None
    annotations_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")  # the published annotation file
    videos_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")  # where the videos are published
    videos: str | None = None  # what to download and how to lay it out, when the `video` rule does not say it all


class Columns(BaseModel):
    """Column names of a plain table (format: table)."""

    model_config = _STRICT
    question: str = "question"
    options: str | list[str] | None = "options"  # a list column, or one column per option; None: no options
    answer: str = "answer"
    answer_form: Literal["letter", "index0", "index1", "text"] = "letter"  # how the answer names its option
    video: str = "video"
    id: str | None = None  # default: the row's position
    dataset: str | None = None  # default: the benchmark's `dataset` (or name)


class GroupValue(BaseModel):
    model_config = _STRICT
    key: str  # the name results use
    title: str | None = None  # as the board shows it
    aliases: list[str] = Field(default_factory=list)  # other spellings in annotations and published tables


class GroupKey(BaseModel):
    """A grouping key and how each row's value is read."""

    model_config = _STRICT
    name: str
    field: str = "dataset"  # a row field (dataset, vid, task, a table column) or extra_info.<key>
    after: str | None = None  # keep the text after the first occurrence of this separator ("/")
    optional: bool = False  # rows without the field have no value (else such a row is refused)
    title: str | None = None  # the board's table title ("Per subtask")
    values: list[GroupValue] = Field(default_factory=list)  # order, titles, other spellings

    def read(self, row: dict[str, Any]) -> str | None:
        if self.field.startswith("extra_info."):
            value = (row.get("extra_info") or {}).get(self.field.removeprefix("extra_info."))
        else:
            value = row.get(self.field)
        if value is None or value == "":
            if self.optional:
                return None
            raise RowError(self.field, f"missing (the grouping key {self.name!r} is read from it)")
        if isinstance(value, (dict, list)):
            raise RowError(self.field, f"a {type(value).__name__} cannot be a group value")
        text = str(value)
        if self.after is not None:
            if self.after not in text:
                raise RowError(self.field, f"{text!r} has no {self.after!r} (the grouping key {self.name!r} "
                                           "is the text after it)")
            text = text.split(self.after, 1)[1]
        return text

    def canonical(self, value: str) -> str:
        """A value's key: the declared key of any of its spellings, else the value itself."""
        for v in self.values:
            if value == v.key or value in v.aliases:
                return v.key
        return value

    def value_title(self, key: str) -> str:
        return next((v.title or v.key for v in self.values if v.key == key), key)


class Board(BaseModel):
    """How the board shows the benchmark, where the defaults do not fit."""

    model_config = _STRICT
    title: str | None = None  # the benchmark page's title, e.g. when it mixes splits
    split_labels: dict[str, str] = Field(default_factory=dict)  # split key -> label
    split_notes: dict[str, str] = Field(default_factory=dict)  # split key -> note on published numbers of it
    group_titles: dict[str, str] = Field(default_factory=dict)  # titles of groups the metric adds
    notes: list[str] = Field(default_factory=list)


class Benchmark(BaseModel):
    model_config = _STRICT

    name: str = Field(pattern=NAME_RE)
    title: str = Field(min_length=1)
    family: str = Field(min_length=1)
    description: str = ""
    split: str = "test"  # what the annotation file holds: val, test, subset, overall ...
    note: str | None = None  # shown with every result (e.g. "subset: ...")
    source: Source | None = None
    published_names: list[str] = Field(default_factory=list)  # as published tables print it
    dataset: str | None = None  # rows' `dataset` is this, or this/<subset>
    annotations: AnnotationSource = Field(default_factory=AnnotationSource)
    data: DataSource = Field(default_factory=DataSource)  # where annotations and videos come from (harness data)
    format: tuple[str, ...] = ("text", "messages")
    columns: Columns | None = None
    metric: str | None = None  # a registered metric; None: shown from published numbers only
    metric_args: dict[str, Any] = Field(default_factory=dict)
    judged: bool | None = None  # None: as the metric says
    groups: list[GroupKey] = Field(default_factory=list)
    rules: dict[Literal["strict", "tarsier"], ProtocolRules] = Field(default_factory=dict)
    frames: int | None = Field(default=None, ge=1)  # the protocol's frame count (None: the model's)
    prompt: str | None = None  # template over {prompt} {question} {options}; None: the annotation's prompt
    video: str = "{vid}.mp4"  # the video's file name under --video-root
    id: Literal["idx", "dataset+idx"] = "idx"  # what identifies a sample
    canonical_sha256: tuple[str, ...] = ()  # sha256 of each accepted official annotation file
    canonical_rows: int | None = Field(default=None, ge=1)
    # harness.coverage.content_fingerprint of the canonical samples: the same content in another file
    # (another format, the hub's copy) counts as canonical too
    canonical_content: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    board: Board = Field(default_factory=Board)

    _origin: str | None = PrivateAttr(default=None)  # the YAML file it came from (user benchmarks)

    # -- validation ------------------------------------------------------------------------
    @field_validator("family", mode="before")
    @classmethod
    def _family(cls, v: Any) -> Any:
        return FAMILY_ALIASES.get(v.strip().lower(), v.strip()) if isinstance(v, str) else v

    @field_validator("format", mode="before")
    @classmethod
    def _format(cls, v: Any) -> Any:
        names = [v] if isinstance(v, str) else v
        if not isinstance(names, (list, tuple)):
            return v
        out: list[str] = []
        for n in names:
            if n not in FORMATS:
                raise ValueError(f"unknown format {n!r}; use {', '.join(FORMATS)}")
            out += [f for f in FORMATS[n] if f not in out]
        return tuple(out)

    @model_validator(mode="after")
    def _consistent(self) -> "Benchmark":
        if "table" in self.format and self.columns is None:
            object.__setattr__(self, "columns", Columns())
        if self.metric is not None:
            self._check_metric()
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError("groups: two grouping keys share a name")
        for protocol, rules in self.rules.items():
            if rules.mean_over is not None and rules.mean_over not in names:
                raise ValueError(f"rules.{protocol}.mean_over: {rules.mean_over!r} is not a grouping key "
                                 f"(groups: {', '.join(names) or 'none'})")
        for field, template, slots in (("prompt", self.prompt, TEMPLATE_SLOTS), ("video", self.video,
                                                                                 {"vid", "idx", "dataset"})):
            if template is not None:
                _check_template(field, template, slots)
        return self

    def _check_metric(self) -> None:
        from harness.metrics import METRICS

        if self.metric not in METRICS:
            raise ValueError(f"metric: unknown metric {self.metric!r}; known: {', '.join(sorted(METRICS))}")
        cls = self.metric_class
        extra = sorted(set(self.metric_args) - set(cls.arguments))
        if extra:
            raise ValueError(f"metric_args: {self.metric} takes no argument {extra[0]!r}"
                             + (f" (it takes {', '.join(sorted(cls.arguments))})" if cls.arguments else ""))
        for protocol, rules in self.rules.items():
            unknown = [r for r in rules.names() if r not in cls.applies_rules]
            if unknown:
                raise ValueError(f"rules.{protocol}.{unknown[0]}: the {self.metric} metric does not apply this rule")
        if self.judged is not None and self.judged != cls.needs_judge:
            raise ValueError(f"judged: the {self.metric} metric {'needs' if cls.needs_judge else 'has no'} judge")

    # -- facts other modules ask for ---------------------------------------------------------
    @property
    def metric_class(self) -> Any:
        from harness.metrics import METRICS
        from harness.registry import load_object

        if self.metric is None:
            raise BadInput(f"benchmark {self.name} is shown from published numbers only: it declares no metric")
        return load_object(METRICS[self.metric])

    def make_metric(self) -> Any:
        """The benchmark's metric, configured with its arguments and protocol rules."""
        return self.metric_class().configure(rules=self.rules, args=self.metric_args)

    @property
    def needs_judge(self) -> bool:
        if self.judged is not None:
            return self.judged
        return bool(self.metric is not None and self.metric_class.needs_judge)

    @property
    def family_title(self) -> str:
        return FAMILIES.get(self.family, self.family)

    @property
    def origin(self) -> str | None:
        return self._origin

    def group(self, name: str) -> GroupKey | None:
        return next((g for g in self.groups if g.name == name), None)

    def split_label(self, split: str) -> str:
        if split in self.board.split_labels:
            return self.board.split_labels[split]
        return {"overall": "", "unspecified": "split not stated", "wo_subs": "w/o subtitles"}.get(split, split)

    def sample_fingerprint(self) -> str:
        """Hash of what shapes a sample's prompt and video (a run of a user benchmark keeps it)."""
        return content_hash(self.model_dump(mode="json", include={"format", "columns", "prompt", "video", "id"}))

    def declaration(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=True)

    # -- annotations ---------------------------------------------------------------------------
    @property
    def annotation_file(self) -> str:
        """How the annotations are named in messages."""
        return self.annotations.file or self.annotations.path or self.annotations.hub or f"the {self.name} file"

    def load_annotations(self, path: str | None = None, hub: str | None = None) -> Annotations:
        path = path or (None if hub else self.annotations.path)
        if path:
            p = Path(path)
            if p.is_dir() and self.annotations.file and (p / self.annotations.file).is_file():
                p = p / self.annotations.file  # a release folder: pick this benchmark's file
            elif p.is_dir() and self.annotations.file and p != Path(self.annotations.path or ""):
                raise BadInput(f"annotation file not found: {p / self.annotations.file}; pass --annotations "
                               f"PATH to the {self.name} file ({self.annotations.file})")
            if p.is_dir():
                return read_folder(p)
            if not p.is_file():
                raise BadInput(f"annotation file not found: {p}; pass --annotations PATH to the {self.name} "
                               f"file ({self.annotation_file})")
            return read_file(p)
        hub = hub or self.annotations.hub
        if not hub:
            how = (f"fetch them with `harness data fetch {self.name}`" if self.data.hub is not None
                   else f"`harness data fetch {self.name}` says where to get them")
            raise BadInput(f"no {self.name} annotations: {how}, or pass --annotations PATH ({self.annotation_file})")
        return read_hub(hub, self.annotations.split, self.annotations.hub_file if hub == self.annotations.hub
                        else None, self.annotation_file)

    def samples(self, ann: Annotations, video_root: str | None = None) -> list[Sample]:
        """Every row as a Sample; a row that cannot be one is a one-line error naming file, line and field."""
        gold = self.metric_class.gold if self.metric else "answer"
        out: list[Sample] = []
        seen: set[str] = set()
        for i, raw in enumerate(ann.rows):
            try:
                row = to_text_row(raw, self.format, self.columns, i, self.dataset or self.name)
                sample = self.build_sample(row, video_root, gold)
            except RowError as exc:
                raise BadInput(f"{ann.where(i)}: {exc.field}: {exc.problem} (a {self.name} annotation)") from None
            except (KeyError, TypeError, ValueError) as exc:
                raise BadInput(f"{ann.where(i)}: not a {self.name} annotation ({type(exc).__name__}: {exc})") from None
            if sample.id in seen:
                hint = "; set `id: dataset+idx` when idx restarts per subset" if self.id == "idx" else ""
                raise BadInput(f"{ann.where(i)}: duplicate sample id {sample.id}{hint}")
            seen.add(sample.id)
            out.append(sample)
        return out

    # -- one sample ------------------------------------------------------------------------------
    def build_sample(self, row: dict[str, Any], video_root: str | None, gold: str = "answer") -> Sample:
        idx = G.check_idx(row.get("idx"))
        dataset = row.get("dataset")
        if not isinstance(dataset, str) or not dataset:
            raise RowError("dataset", f"must be a non-empty string, not {dataset!r}")
        text = row.get("text")
        if not isinstance(text, dict):
            raise RowError("text", "must be an object with prompt and response")
        question = text.get("question")
        for key, value in (("question", question), ("prompt", text.get("prompt"))):
            if value is not None and not isinstance(value, str):
                raise RowError(G.field_name(key, row["format"], self.columns),
                               f"must be text, not {type(value).__name__}")
        options = row["options"] if "options" in row else parse_options(question or text.get("prompt") or "")
        extra = row.get("extra_info") or {}
        if not isinstance(extra, dict):
            raise RowError("extra_info", f"must be an object, not {type(extra).__name__}")
        G.check_events(extra)
        answer, references = G.gold(gold, text, options, row["format"], self.columns)
        if gold == "answer" and not isinstance(question, str):
            raise RowError(G.field_name("question", row["format"], self.columns),
                           "missing: open-ended QA needs the question (the judge reads it)")
        extra, frame_files = clip_extra(row, extra, video_root)
        return Sample(
            id=str(idx) if self.id == "idx" else f"{dataset}:{idx}",
            benchmark=self.name,
            idx=idx,
            dataset=dataset,
            video=frame_files[0] if frame_files else self.resolve_video(row, video_root),
            prompt=self.render_prompt(text.get("prompt"), question, options, gold),
            question=question,
            options=options,
            answer=answer,
            references=references,
            groups={g.name: v for g in self.groups if (v := g.read(row)) is not None},
            cluster=str(row.get("vid", idx)),
            extra=extra,
        )

    def render_prompt(self, prompt: Any, question: Any, options: list[str], gold: str) -> str:
        template = self.prompt or (None if isinstance(prompt, str) else DEFAULT_PROMPTS[gold])
        if template is None:
            return prompt
        if "{prompt}" in template and not isinstance(prompt, str):
            raise RowError("text.prompt", "missing (the declaration's prompt template uses {prompt})")
        if "{question}" in template and not isinstance(question, str):
            raise RowError("question", "missing (the prompt template uses {question})")
        lines = "\n".join(f"({chr(ord('A') + i)}) {o}" for i, o in enumerate(options))
        return template.format(prompt=prompt, question=question, options=lines)

    def resolve_video(self, row: dict[str, Any], video_root: str | None) -> str | None:
        """The video's path: a real annotated path as is, else under the root (sub-folders allowed).

        The root may be a tree of symbolic links: the check that a name stays inside the root is
        made on the path as written (no `..` climbing out), and the link is followed only to read.
        Returns None when nothing resolves (the runner reports missing videos up front).
        """
        annotated = row.get("video_file")
        if isinstance(annotated, str) and annotated != PLACEHOLDER and Path(annotated).is_absolute() \
                and Path(annotated).exists():
            return annotated
        if not video_root:
            return None
        root = Path(os.path.normpath(Path(video_root).absolute()))
        first = None
        for name in self._video_names(row, annotated):
            candidate = Path(os.path.normpath(root / name))
            if not candidate.is_relative_to(root):
                raise BadInput(f"video path {name!r} escapes --video-root {root}; refusing it")
            first = first or candidate
            if candidate.exists():
                return str(candidate)
        return str(first)  # does not exist; the runner's pre-flight check names it

    def _video_names(self, row: dict[str, Any], annotated: Any) -> list[str]:
        names = []
        if isinstance(annotated, str) and annotated and annotated != PLACEHOLDER and not Path(annotated).is_absolute():
            names.append(annotated)
        vid = str(row.get("vid", row.get("idx")))
        if Path(vid).suffix.lower() in VIDEO_EXTENSIONS:
            names.append(vid)  # the vid is already a file name (Tarsier2 rows: "task/clip.avi")
        rule_name = self.video.format(vid=vid, idx=row.get("idx"), dataset=row.get("dataset"))
        names.append(rule_name)
        stem = Path(rule_name).with_suffix("") if Path(rule_name).suffix in VIDEO_EXTENSIONS else Path(rule_name)
        names += [f"{stem}{ext}" for ext in VIDEO_EXTENSIONS]
        return names


def clip_extra(row: dict[str, Any], extra: dict[str, Any], video_root: str | None) -> tuple[dict[str, Any], list[str]]:
    """The two clip shapes the official loaders read (Tarsier-1 dataset/mm_dataset.py:39-57), for the
    adapter through Sample.extra: `start_time`/`end_time` (seconds) -> `clip_start`/`clip_end`, the part
    of the video the model sees; `video_file` as a list of frame images -> `frame_files` (the clip)."""
    out = dict(extra)
    for key, name in (("start_time", "clip_start"), ("end_time", "clip_end")):
        value = row.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RowError(key, f"must be a non-negative number of seconds, not {value!r}")
        out[name] = float(value)
    files = row.get("video_file")
    if not isinstance(files, list):
        return out, []
    if not files or not all(isinstance(f, str) and f for f in files):
        raise RowError("video_file", "a list of frame files must hold file names")
    out["frame_files"] = [_frame_path(f, video_root) for f in files]
    return out, out["frame_files"]


def _frame_path(name: str, video_root: str | None) -> str:
    """An annotated frame file: absolute as is, else under --video-root (never outside it)."""
    p = Path(name)
    if p.is_absolute() or not video_root:
        return str(p)
    root = Path(os.path.normpath(Path(video_root).absolute()))
    full = Path(os.path.normpath(root / p))
    if not full.is_relative_to(root):
        raise BadInput(f"frame path {name!r} escapes --video-root {root}; refusing it")
    return str(full)


def _check_template(field: str, template: str, slots: set[str]) -> None:
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{field}: not a valid template ({exc}); write literal braces as {{{{ and }}}}") from None
    unknown = sorted(used - slots)
    if unknown:
        raise ValueError(f"{field}: unknown placeholder {{{unknown[0]}}}; use "
                         + ", ".join("{" + s + "}" for s in sorted(slots)))


def parse_options(text: str) -> list[str]:
    """Options written as lines '(A) ...' in the question or prompt."""
    opts = []
    for line in text.splitlines():
        m = OPTION_RE.match(line.strip())
        if m and ord(m.group(1)) - ord("A") == len(opts):
            opts.append(m.group(2).strip())
    return opts


# -- declarations from files ---------------------------------------------------------------------
def from_mapping(data: Any, where: str) -> Benchmark:
    """A declaration from parsed YAML/JSON; a wrong field is one line naming it and `where`."""
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a benchmark declaration is a mapping of fields (name, title, family, metric ...)")
    try:
        return Benchmark.model_validate(data)
    except ValidationError as err:
        raise BadInput(f"{where}: {summarize(err)}") from None


def summarize(err: ValidationError) -> str:
    """Pydantic's first problem as 'field: what' on one line."""
    e = err.errors()[0]
    loc = ".".join(str(x) for x in e["loc"])
    msg = e["msg"].removeprefix("Value error, ")
    if e["type"] == "extra_forbidden":
        msg = "unknown field" + (f" (known: {', '.join(_known_fields(e['loc']))})" if _known_fields(e["loc"]) else "")
    elif e["type"] == "missing":
        msg = "missing (required)"
    more = f" (and {len(err.errors()) - 1} more)" if len(err.errors()) > 1 else ""
    return " ".join(f"{loc}: {msg}{more}".split()) if loc else " ".join(f"{msg}{more}".split())


def _known_fields(loc: tuple) -> list[str]:
    """The fields a model accepts at `loc` (list items and dict values included), for 'unknown field'."""
    import typing

    model: Any = Benchmark
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            continue  # a list index or a dict key: the items' model
        candidates = [field.annotation, *typing.get_args(field.annotation)]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)


def from_text(text: str, where: str, base: Path | None = None) -> Benchmark:
    """A declaration from YAML text. Relative annotation paths are relative to `base`."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{where}: not valid YAML{at} ({getattr(exc, 'problem', None) or type(exc).__name__})") \
            from None
    if base is not None and isinstance(data, dict) and isinstance(data.get("annotations"), dict) \
            and isinstance(data["annotations"].get("path"), str):
        path = Path(data["annotations"]["path"])
        data = {**data, "annotations": {**data["annotations"], "path": str(path if path.is_absolute()
                                                                          else (base / path).absolute())}}
    return from_mapping(data, where)


def from_yaml(path: str | Path) -> Benchmark:
    """A user's declaration file."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"benchmark file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"{path}: not UTF-8 text") from None
    bench = from_text(text, str(path), path.parent)
    bench._origin = str(path)
    return bench


def zero_config(path: str | Path, metric: str) -> Benchmark:
    """`--bench FILE --metric M`: a benchmark declared by its annotation file alone (Tarsier formats).

    Samples are named by dataset and idx, grouped by the rows' `dataset`, and scored without any
    protocol rule; write a YAML declaration for anything more.
    """
    from harness.metrics import METRICS

    path = Path(path)
    if not path.exists():
        raise BadInput(f"annotation file not found: {path}")
    if metric not in METRICS:
        raise BadInput(f"unknown metric '{metric}'; known: {', '.join(sorted(METRICS))}")
    family = {"multiple_choice": "mc", "open_qa": "open-qa", "cider": "caption", "autodq": "detailed-caption"}
    name = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "benchmark"
    bench = from_mapping({"name": name[:64], "title": path.stem, "family": family.get(metric, metric),
                          "annotations": {"path": str(path.absolute())}, "metric": metric, "id": "dataset+idx",
                          "groups": [{"name": "dataset", "field": "dataset"}]}, str(path))
    bench._origin = str(path)
    return bench
