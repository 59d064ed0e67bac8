"""Result records: the committed source of truth of the leaderboard (results/**/*.json).

One JSON file per (model variant, benchmark, source). A record is either
- `reported`: a number someone published, with the citation and where in it it was read; or
- `reproduced`: a number this harness computed, with the run's spec hash and harness version.

Numbers are never merged: two sources, two checkpoints or two frame counts for one model name
are different records (e.g. Tarsier2-7B on DREAM-1K: 42.0 / 40.1 / 38.9). Numbers under
different judges are different columns on the leaderboard; every record names its judge
("unknown" when a judged number does not say which judge produced it).

`check_dir` returns one line per problem; `load_dir` raises BadInput on the first one.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from harness.errors import BadInput
from harness.types import Coverage

SCHEMA_VERSION = 1
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,199}$")
# A benchmark name names the folder of its records and its page on the site: a plain name, so no
# record can place a file outside results/ or the site (no '/', no leading '.', nothing to climb).
BENCH_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
HASH_RE = re.compile(r"^[0-9a-f]{16}$")

# The range of every metric a record may rank by: percentages, the judge's 0-5 score, CIDEr-D x 100
# (at most 10 per sample before scaling). A value outside its range is a transcription or unit
# error (a fraction where a percentage belongs, a score where an accuracy belongs).
METRIC_RANGES: dict[str, tuple[float, float]] = {
    "accuracy": (0, 100), "f1": (0, 100), "precision": (0, 100), "recall": (0, 100),
    "llm_judge_accuracy": (0, 100), "score": (0, 5), "llm_judge_score": (0, 5), "cider": (0, 1000),
}

# A number is a JSON number: no "64.5" text, no true/false read as 1/0.
Number = Annotated[float, Strict()]
Count = Annotated[int, Strict(), Field(ge=0)]

def builtin_benchmark(name: str) -> Any:
    """The built-in declaration of a record's benchmark, or None (a user's benchmark, or a slug)."""
    from harness import registry

    return registry.benchmark(name) if registry.is_builtin(name) else None


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)  # canonical name: one model page per name
    printed_name: str | None = None  # exactly as the source printed it (footnote marks kept)
    checkpoint: str | None = None  # the variant: released checkpoint, hub revision, dated version
    params: str | None = None  # LLM parameters as usually written: "7B", "8x7B"; None = undisclosed
    params_b: float | None = None  # the same in billions, for size filters
    open_weights: bool | None = None
    org: str | None = None
    backend: str | None = None  # how a reproduced run ran it (transformers, vllm, api, file)


class JudgeInfo(BaseModel):
    """Who judged a record's numbers, as far as it is known: for a reproduced record, what really
    answered (harness.types.JudgeIdentity); for a reported one, what the source (or the protocol
    it follows) says. Never a secret: the host is scheme://host[:port][/path]."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)  # the model asked for
    answered: list[str] = Field(default_factory=list)  # models that answered (reproduced records)
    answered_differs: bool | None = None  # an answer came from another model than the one asked
    provider: Literal["openai", "azure", "openai-compatible"] | None = None  # None: not stated
    host: str | None = None
    api_version: str | None = None
    official: bool | None = None  # the protocol's own judge; None: cannot tell
    first_call: str | None = None
    last_call: str | None = None
    basis: str | None = None  # where a reported record's judge facts come from

    @field_validator("host")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        if v is not None and ("@" in v or "?" in v or "#" in v):
            raise ValueError("must be scheme://host[:port][/path], without credentials or query")
        return v

    @property
    def where(self) -> str:
        """'azure', 'openai-compatible http://127.0.0.1:8000/v1', 'provider not stated'."""
        return " ".join(x for x in (self.provider or "provider not stated", self.host) if x)


class Reported(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["reported"] = "reported"
    source: str = Field(min_length=3)  # citation of the document
    label: str | None = None  # short name shown in tables: "Tarsier2 report"
    where: str = Field(min_length=1)  # table / figure / section / line in it
    url: str | None = None
    # original: the source's own claim; citing: a paper quoting another's number;
    # third-party: someone else ran the model and reported what they got
    role: Literal["original", "citing", "third-party"] = "original"
    transcript: str | None = None  # where the number was read, verbatim from the transcription

    @field_validator("source", "where")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v


class Reproduced(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["reproduced"] = "reproduced"
    spec_hash: str  # the run's RunSpec hash (names its directory)
    score_hash: str | None = None  # the ScoreSpec hash (metric, protocol, judge)
    harness_version: str = Field(min_length=1)
    run: str | None = None  # runs/<model>/<bench>/<spec-hash>, relative to the run store root

    @field_validator("spec_hash")
    @classmethod
    def _hash(cls, v: str) -> str:
        if not HASH_RE.match(v):
            raise ValueError("must be the 16-hex-digit run spec hash")
        return v

    @field_validator("score_hash")
    @classmethod
    def _score_hash(cls, v: str | None) -> str | None:
        if v is not None and not HASH_RE.match(v):
            raise ValueError("must be the 16-hex-digit score spec hash")
        return v


Provenance = Annotated[Union[Reported, Reproduced], Field(discriminator="kind")]


class ResultRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str  # file stem; unique
    benchmark: str = Field(min_length=1)  # harness benchmark name ("dream", "next-qa") or a slug
    benchmark_title: str = Field(min_length=1)  # shown: "DREAM-1K", "EgoSchema"
    # a user benchmark's family and description, for the board (built-in ones come from their declaration)
    benchmark_family: str | None = None
    benchmark_description: str | None = None
    split: str = Field(min_length=1)  # normalised: overall | test | val | subset | full | unspecified | ...
    split_printed: str | None = None  # as the source printed it
    model: ModelInfo
    metric: str  # the headline key, sorted by
    metrics: dict[str, Number | None]
    intervals: dict[str, tuple[Number, Number]] = Field(default_factory=dict)  # 95%
    interval_method: str | None = None
    n_scored: Count | None = None
    n_total: Count | None = None
    n_failed: Count | None = None
    n_invalid: Count | None = None  # invalid answers (multiple choice); None: not reported
    invalid_pct: float | None = Field(default=None, ge=0, le=100)  # of the answers scored
    # the annotation file and how much of the canonical set the run covered (reproduced records)
    coverage: Coverage | None = None
    groups: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    # 95% intervals of the groups' values (group -> value key -> [low, high]), by interval_method
    group_intervals: dict[str, dict[str, tuple[Number, Number]]] = Field(default_factory=dict)
    protocol: str = Field(min_length=1)  # tarsier | strict | unknown | <other harness>
    judge: str | None = None  # None: no judge involved; "unknown": judged, judge not stated
    judge_note: str | None = None
    judge_identity: JudgeInfo | None = None  # provider, host, API version, official or not
    frames: Annotated[int, Strict(), Field(ge=1)] | None = None
    frame_rate: str | None = None  # when frames are given as a rate: "1 fps"
    provenance: Provenance
    date: str | None = None  # YYYY, YYYY-MM or YYYY-MM-DD: publication date or run date
    flags: list[Literal["superseded", "hidden-at-source"]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    @field_validator("benchmark")
    @classmethod
    def _benchmark(cls, v: str) -> str:
        if not BENCH_RE.match(v):
            raise ValueError(f"{v!r} is not a plain benchmark name (lower-case letters, digits, '.', '_' "
                             "or '-', starting with a letter or digit)")
        return v

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '.', '_' or '-' (3-200 characters)")
        return v

    @field_validator("date")
    @classmethod
    def _date(cls, v: str | None) -> str | None:
        if v is not None and not DATE_RE.match(v):
            raise ValueError("must be YYYY, YYYY-MM or YYYY-MM-DD")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> "ResultRecord":
        if not self.metrics:
            raise ValueError("metrics: at least one value is needed")
        for k, v in self.metrics.items():
            if v is not None and not math.isfinite(v):
                raise ValueError(f"metrics.{k}: not a finite number")
        if self.metrics.get(self.metric) is None:
            raise ValueError(f"metric: the headline {self.metric!r} has no value in metrics")
        if self.metric not in METRIC_RANGES:
            raise ValueError(f"metric: no known range for the headline {self.metric!r} (known: "
                             f"{', '.join(METRIC_RANGES)}); add it to harness.results.METRIC_RANGES")
        for k, v in self.metrics.items():
            _in_range(f"metrics.{k}", k, v)
        for k, pair in self.intervals.items():
            for v in pair:
                _in_range(f"intervals.{k}", k, v)
        for k, (lo, hi) in self.intervals.items():
            v = self.metrics.get(k)
            if v is None:
                raise ValueError(f"intervals.{k}: no such value in metrics")
            if not (lo <= hi) or not (lo - 1e-9 <= v <= hi + 1e-9):
                raise ValueError(f"intervals.{k}: [{lo}, {hi}] does not contain {v}")
        for g, ivs in self.group_intervals.items():
            for k, (lo, hi) in ivs.items():
                v = self.groups.get(g, {}).get(k)
                if not isinstance(v, (int, float)):
                    raise ValueError(f"group_intervals.{g}.{k}: no such value in groups")
                _in_range(f"group_intervals.{g}.{k}", k, lo)
                _in_range(f"group_intervals.{g}.{k}", k, hi)
                if not (lo <= hi) or not (lo - 1e-9 <= v <= hi + 1e-9):
                    raise ValueError(f"group_intervals.{g}.{k}: [{lo}, {hi}] does not contain {v}")
        if (self.intervals or self.group_intervals) and not self.interval_method:
            raise ValueError("interval_method: say how the intervals were computed")
        if self.n_scored is not None and self.n_total is not None and self.n_scored > self.n_total:
            raise ValueError(f"n_scored {self.n_scored} > n_total {self.n_total}")
        declared = builtin_benchmark(self.benchmark)
        if declared is not None and declared.needs_judge and not self.judge:
            raise ValueError(f"judge: {self.benchmark} is judged by an LLM; name the judge or say 'unknown'")
        if self.judge_identity is not None and judge_key(self.judge_identity.model) != judge_key(self.judge):
            raise ValueError(f"judge_identity.model: {self.judge_identity.model!r} is not the judge {self.judge!r}")
        if self.n_invalid is not None and self.n_total is not None and self.n_invalid > self.n_total:
            raise ValueError(f"n_invalid {self.n_invalid} > n_total {self.n_total}")
        cov = self.coverage
        if cov is not None and (cov.n_run > cov.n_file or cov.n_run < 0):
            raise ValueError(f"coverage: the run covers {cov.n_run} samples of a {cov.n_file}-sample file")
        if isinstance(self.provenance, Reproduced):
            if self.date is None:
                raise ValueError("date: a reproduced record needs the run date")
            if self.n_total is None or self.n_scored is None:
                raise ValueError("n_scored/n_total: a reproduced record knows its coverage")
        return self

    # -- derived keys used by the leaderboard ------------------------------------------
    @property
    def kind(self) -> str:
        return self.provenance.kind

    @property
    def judge_key(self) -> str:
        return judge_key(self.judge)

    def row_key(self) -> tuple:
        """Records of one row of a family table: one model variant from one source."""
        p = self.provenance
        src = p.source if isinstance(p, Reported) else "harness"
        return (self.model.name, self.model.checkpoint or "", src, self.kind, tuple(self.flags))

    def identity(self) -> tuple:
        """What must not carry two different numbers."""
        p = self.provenance
        where = (p.source, p.where) if isinstance(p, Reported) else (p.spec_hash, p.score_hash)
        return (self.benchmark, self.split, self.model.name, self.model.checkpoint, self.frames,
                self.frame_rate, self.protocol, self.judge_key, self.kind, where, tuple(self.flags))


def _in_range(field: str, metric: str, value: float | None) -> None:
    lo, hi = METRIC_RANGES.get(metric, (-math.inf, math.inf))
    if value is not None and not lo <= value <= hi:
        raise ValueError(f"{field}: {value} is outside [{lo:g}, {hi:g}], the range of {metric}")


def judge_key(judge: str | None) -> str:
    """Group judges: 'gpt-35-turbo-0125' (Azure's spelling) and 'gpt-3.5-turbo-0125' are one model."""
    if judge is None:
        return ""
    return judge.strip().lower().replace("gpt-3.5", "gpt-35")


# -- files ------------------------------------------------------------------------------
def record_path(root: str | Path, record: ResultRecord) -> Path:
    from harness.paths import inside

    return inside(root, record.benchmark, f"{record.id}.json")


# written only when set, so records of built-in benchmarks read as before
_OPTIONAL_FIELDS = ("benchmark_family", "benchmark_description")


def record_dict(record: ResultRecord) -> dict[str, Any]:
    unset: dict[str, Any] = {k: True for k in _OPTIONAL_FIELDS if getattr(record, k) is None}
    if not record.group_intervals:  # records without them (reported numbers) read as before
        unset["group_intervals"] = True
    if record.judge_identity is not None and record.judge_identity.answered_differs is None:
        unset["judge_identity"] = {"answered_differs"}  # reported records cannot tell: written as before
    return record.model_dump(mode="json", exclude=unset)


def dump_record(record: ResultRecord) -> str:
    return json.dumps(record_dict(record), indent=2, ensure_ascii=False) + "\n"


def write_record(root: str | Path, record: ResultRecord) -> Path:
    from harness.jsonl import write_json_atomic

    path = record_path(root, record)
    write_json_atomic(path, record_dict(record))
    return path


def _problems_of(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        out.append(f"{loc}: {msg}" if loc else msg)
    return out


def check_file(path: Path, root: Path | None = None) -> tuple[ResultRecord | None, list[str]]:
    """Parse and validate one record file; the problems as 'path: field: what' lines."""
    from harness.jsonl import read_json_file

    try:
        data = read_json_file(path, "record")  # not UTF-8, malformed, NaN, nested past any record
    except BadInput as exc:
        return None, [str(exc)]
    if not isinstance(data, dict):
        return None, [f"{path}: expected one JSON object"]
    if isinstance(data.get("provenance"), dict) and "kind" not in data["provenance"]:
        return None, [f"{path}: provenance.kind: missing; say 'reported' (with source and where) or 'reproduced'"]
    if data.get("provenance") is None:
        return None, [f"{path}: provenance: missing; an unsourced number is not a result"]
    try:
        rec = ResultRecord.model_validate(data)
    except ValidationError as err:
        return None, [f"{path}: {p}" for p in _problems_of(err)]
    problems = []
    if rec.id != path.stem:
        problems.append(f"{path}: id: {rec.id!r} differs from the file name {path.stem!r}")
    if root is not None and path.parent.resolve() != (root / rec.benchmark).resolve():
        problems.append(f"{path}: benchmark: the file belongs in {root / rec.benchmark}/")
    return (rec if not problems else None), problems


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def check_dir(root: str | Path) -> tuple[list[ResultRecord], list[str]]:
    """Every record under root, and one line per problem (empty when all is well)."""
    root = Path(root)
    if not root.is_dir():
        return [], [f"{root}: no such results folder"]
    records: list[ResultRecord] = []
    problems: list[str] = []
    seen_ids: dict[str, Path] = {}
    seen_identity: dict[tuple, ResultRecord] = {}
    for path in _files(root):
        rec, probs = check_file(path, root)
        problems += probs
        if rec is None:
            continue
        if rec.id in seen_ids:
            problems.append(f"{path}: id: {rec.id!r} is also used by {seen_ids[rec.id]}")
            continue
        seen_ids[rec.id] = path
        key = rec.identity()
        other = seen_identity.get(key)
        if other is not None and other.metrics != rec.metrics:
            problems.append(
                f"{path}: same model variant, source, frames and judge as {other.id} but different "
                "numbers; give each its checkpoint or frames so they stay separate records")
            continue
        seen_identity[key] = rec
        records.append(rec)
    return records, problems


def load_dir(root: str | Path) -> list[ResultRecord]:
    records, problems = check_dir(root)
    if problems:
        more = f" (and {len(problems) - 1} more; run `harness results check`)" if len(problems) > 1 else ""
        raise BadInput(problems[0] + more)
    return records


# -- reproduced records from a finished run ----------------------------------------------
def slugify(text: str, max_len: int = 60) -> str:
    s = text.lower()
    s = s.replace("×", "x").replace("+", "plus")
    s = re.sub(r"[^a-z0-9.]+", "-", s).strip("-.")
    return s[:max_len].strip("-.") or "x"


def from_result(result: Any, *, run: str | None = None, model: ModelInfo | None = None,
                benchmark_title: str | None = None, split: str | None = None, bench: Any = None) -> ResultRecord:
    """A reproduced record from a harness Result (harness.types.Result) of the benchmark `bench`
    (its declaration; default: the built-in one of that name)."""
    prov = result.provenance
    if getattr(prov, "kind", None) != "reproduced" or not prov.spec_hash:
        raise BadInput("only a reproduced Result (with its run spec hash) can be published")
    bench = bench if bench is not None else builtin_benchmark(result.benchmark)
    user = bench is not None and builtin_benchmark(bench.name) is None
    info = model or ModelInfo(name=result.model)
    if info.checkpoint is None and result.model_revision:
        info = info.model_copy(update={"checkpoint": result.model_revision})
    if info.backend is None:
        info = info.model_copy(update={"backend": result.backend})
    score_hash = prov.score_hash
    rid = f"{slugify(result.benchmark)}.{slugify(info.name, 40)}.{prov.spec_hash}"
    if score_hash:
        rid += f".{score_hash[:8]}"
    metrics = {k: v for k, v in result.metrics.items()}
    intervals = {k: (float(lo), float(hi)) for k, (lo, hi) in result.intervals.items()
                 if metrics.get(k) is not None}
    group_intervals = {g: {k: (float(lo), float(hi)) for k, (lo, hi) in ivs.items()}
                       for g, ivs in result.group_intervals.items() if ivs}
    return ResultRecord(
        id=rid,
        benchmark=result.benchmark,
        benchmark_title=benchmark_title or (bench.title if bench is not None else result.benchmark),
        benchmark_family=bench.family if user else None,
        benchmark_description=(bench.description or None) if user else None,
        split=split or (bench.split if bench is not None else "test"),
        model=info,
        metric=result.metric,
        metrics=metrics,
        intervals=intervals,
        interval_method=result.interval_method if intervals or group_intervals else None,
        n_scored=result.n_scored,
        n_total=max(result.n_total, result.n_benchmark or 0),  # coverage of the whole benchmark
        n_failed=result.n_failed,
        n_invalid=result.n_invalid if result.invalid_pct is not None or result.n_invalid else None,
        invalid_pct=result.invalid_pct,
        coverage=result.coverage,
        groups=result.groups,
        group_intervals=group_intervals,
        protocol=result.protocol,
        judge=result.judge_model,
        judge_identity=JudgeInfo(**result.judge.model_dump()) if result.judge is not None else None,
        frames=result.frames,
        provenance=Reproduced(spec_hash=prov.spec_hash, score_hash=score_hash,
                              harness_version=result.harness_version or "unknown", run=run),
        date=result.date or datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        notes=_coverage_notes(result),
    )


def _coverage_notes(result: Any) -> list[str]:
    from harness.coverage import problems

    notes = []
    if result.n_benchmark and result.n_benchmark > result.n_total:
        notes.append(f"partial run: {result.n_total} of {result.n_benchmark} samples (--limit)")
    if result.coverage is not None and problems(result.coverage):
        notes.append("not comparable with full runs: " + ", ".join(problems(result.coverage)))
    return notes


def _run_rel(run_dir: str | Path, runs_root: str | Path | None) -> str:
    run_dir = Path(run_dir).resolve()
    if runs_root is not None:
        try:
            return run_dir.relative_to(Path(runs_root).resolve()).as_posix()
        except ValueError:
            pass
    return "/".join(run_dir.parts[-3:])


def publish_result(result: Any, results_root: str | Path, *, run_dir: str | Path | None = None,
                   runs_root: str | Path | None = None, model: ModelInfo | None = None, bench: Any = None) -> Path:
    """Write the reproduced record of one finished Result; returns its path."""
    if result.metrics.get(result.metric) is None:
        raise BadInput(f"{result.benchmark}: no {result.metric} to publish ({result.n_scored} of "
                       f"{result.n_total} samples scored)")
    run = _run_rel(run_dir, runs_root) if run_dir is not None else None
    try:
        rec = from_result(result, run=run, model=model, bench=bench)
    except ValidationError as err:
        raise BadInput(f"{result.benchmark}: cannot publish this result: {_problems_of(err)[0]}") from None
    return write_record(results_root, rec)


def publish_run(run_dir: str | Path, results_root: str | Path, *, runs_root: str | Path | None = None,
                model: ModelInfo | None = None) -> list[Path]:
    """Write one reproduced record per scored result of a run directory."""
    from harness.store import RunStore

    store = RunStore.open(run_dir)
    results = store.results()
    if not results:
        raise BadInput(f"{run_dir}: no scored result to publish; run the score stage first")
    from harness.registry import benchmark_of_run

    bench = benchmark_of_run(store)
    return [publish_result(result, results_root, run_dir=run_dir, runs_root=runs_root, model=model, bench=bench)
            for _, result in results]
