"""From result records (and run directories) to the tables the site shows.

A table has rows (one model variant from one source) and columns (one benchmark, split,
headline metric and judge). Numbers under different judges are different columns, never one;
numbers from different sources are different rows, never merged. Each cell keeps its record,
so the page can show value, interval, coverage, provenance, judge, frames and protocol.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from harness.results import ModelInfo, Reported, ResultRecord, judge_key, slugify

# -- benchmark vocabulary ------------------------------------------------------------------
# Family blurbs (titles come from harness.benchmark.FAMILIES; a family the board does not know is
# shown under its own name). Everything about a benchmark comes from its declaration.
FAMILY_BLURBS = {
    "detailed-caption": "Long descriptions scored by AutoDQ: events entailed between the description and the "
                        "reference, judged by an LLM. F1 of event recall and precision.",
    "mc": "Accuracy on multiple-choice questions; no judge involved.",
    "open-qa": "Accuracy and score (0-5) of free-form answers, judged by an LLM (Video-ChatGPT protocol).",
    "caption": "CIDEr-D against reference captions; LLM-judged caption scores are separate columns.",
}
OTHER = ("other", "Other benchmarks", "")
METRIC_LABELS = {
    "f1": "F1", "precision": "Precision", "recall": "Recall", "accuracy": "Accuracy",
    "score": "Score (0-5)", "cider": "CIDEr", "llm_judge_accuracy": "LLM-judge accuracy",
    "llm_judge_score": "LLM-judge score (0-5)",
}
METRIC_SHORT = {"f1": "F1", "precision": "P", "recall": "R", "accuracy": "Acc.", "score": "Score",
                "cider": "CIDEr", "llm_judge_accuracy": "Judge acc.", "llm_judge_score": "Judge score"}

# Benchmarks the records name that are not built in (a user's YAML): their declaration as the
# records carry it (title, family, description). Filled by `site_data` for the build at hand.
_FROM_RECORDS: dict[str, Any] = {}


def declaration(bench: str) -> Any:
    """A benchmark's declaration: the built-in one, else the one its records describe."""
    from harness import registry
    from harness.benchmark import Benchmark

    if registry.is_builtin(bench):
        return registry.benchmark(bench)
    if bench not in _FROM_RECORDS:
        _FROM_RECORDS[bench] = Benchmark.model_construct(name=bench, title=bench, family=OTHER[0])
    return _FROM_RECORDS[bench]


def learn_declarations(records: list[ResultRecord]) -> None:
    """What the records say about benchmarks that are not built in (the most common value wins)."""
    from harness import registry
    from harness.benchmark import Benchmark

    _FROM_RECORDS.clear()
    by_bench: dict[str, list[ResultRecord]] = defaultdict(list)
    for r in records:
        if not registry.is_builtin(r.benchmark):
            by_bench[r.benchmark].append(r)
    for bench, recs in by_bench.items():
        def common(values):
            values = [v for v in values if v]
            return Counter(values).most_common(1)[0][0] if values else None
        _FROM_RECORDS[bench] = Benchmark.model_construct(
            name=bench, title=common(r.benchmark_title for r in recs) or bench,
            family=common(r.benchmark_family for r in recs) or OTHER[0],
            description=common(r.benchmark_description for r in recs) or "",
            split=common(r.split for r in recs) or "test")


def split_label(bench: str, split: str) -> str:
    return declaration(bench).split_label(split)


def size_bucket(params_b: float | None) -> str:
    if params_b is None:
        return "undisclosed"
    if params_b <= 10:
        return "le10"
    if params_b <= 40:
        return "10to40"
    return "gt40"


SIZE_LABELS = {"le10": "≤10B", "10to40": "10-40B", "gt40": ">40B", "undisclosed": "undisclosed"}
ROLE_LABELS = {"original": "reported", "citing": "reported (quoted)", "third-party": "third-party",
               "reproduced": "reproduced"}


def split_group_key(key: str) -> tuple[str, str]:
    """'subset=DREAM/movie_animation' -> (subset, ...); 'subjects <=1' (AutoDQ buckets) -> (subjects, <=1)."""
    import re

    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", key)
    if m:
        return m.group(1), m.group(2)
    head, sep, rest = key.partition(" ")
    if sep and rest:
        return head, rest
    return "group", key


def natural_key(s: str):
    import re

    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", str(s)) if t]


def bound_key(value: str):
    """Order group values by their numeric bounds: '<=3' < '4-5' < '6-7' < '>=8', '<=1' < '==2';
    values without bounds after them, in natural order."""
    import re

    m = re.fullmatch(r"\s*(<=|<|>=|>|==)?\s*(\d+(?:\.\d+)?)(?:\s*-\s*(\d+(?:\.\d+)?))?\s*", str(value))
    if not m:
        return (1, 0.0, 0.0, natural_key(value))
    op, a, b = m.group(1), float(m.group(2)), float(m.group(3) or m.group(2))
    lo, hi = {"<=": (-math.inf, a), "<": (-math.inf, a), ">=": (a, math.inf), ">": (a, math.inf)}.get(op, (a, b))
    return (0, lo, hi, [])


def fmt(v: float | None, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}"


def digits_for(record: ResultRecord, value: float | None) -> int:
    if record.kind == "reproduced":
        return 1 if record.metric not in ("score", "llm_judge_score") else 2
    # as published: as many decimals as the source printed (up to 2)
    if value is None:
        return 1
    text = repr(float(value))
    if "." in text:
        return min(2, max(1, len(text.split(".")[1].rstrip("0")) or 1))
    return 1


# -- model pages ---------------------------------------------------------------------------
@dataclass
class ModelPage:
    name: str
    slug: str
    info: ModelInfo
    records: list[ResultRecord] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)  # explorer.RunInfo

    @property
    def checkpoints(self) -> list[str]:
        return sorted({r.model.checkpoint for r in self.records if r.model.checkpoint})

    @property
    def backends(self) -> list[str]:
        return sorted({r.model.backend for r in self.records if r.model.backend})


# -- tables ---------------------------------------------------------------------------------
@dataclass
class Column:
    key: tuple
    benchmark: str
    bench_title: str
    split: str
    metric: str
    judge: str | None  # as displayed; None = no judge
    n: int = 0
    judge_origin: str = ""  # "" = the judge as published; else why this judge is not the official one

    @property
    def id(self) -> str:
        parts = [self.benchmark, self.split, self.metric, judge_key(self.judge) or "nojudge"]
        if self.judge_origin:
            parts.append(self.judge_origin)
        return slugify("-".join(parts), 160)

    @property
    def unofficial(self) -> bool:
        return bool(self.judge_origin)

    @property
    def split_text(self) -> str:
        return split_label(self.benchmark, self.split)

    @property
    def metric_label(self) -> str:
        return METRIC_LABELS.get(self.metric, self.metric)

    @property
    def metric_short(self) -> str:
        return METRIC_SHORT.get(self.metric, self.metric)

    @property
    def judge_text(self) -> str:
        if self.judge is None:
            return ""
        return "judge unknown" if judge_key(self.judge) == "unknown" else f"judge {self.judge}"


@dataclass
class Cell:
    record: ResultRecord
    metric: str
    value: float | None
    interval: tuple[float, float] | None
    tie: str | None = None  # text when statistically tied with a neighbour
    tie_basis: str | None = None
    note: str | None = None  # e.g. a group's other values and size
    compared: list[str] = field(default_factory=list)  # "different from X (95% intervals do not overlap)"

    @property
    def text(self) -> str:
        return fmt(self.value, digits_for(self.record, self.value))

    @property
    def interval_text(self) -> str:
        if self.interval is None:
            return "no interval"
        d = digits_for(self.record, self.value)
        return f"[{fmt(self.interval[0], d)}, {fmt(self.interval[1], d)}]"

    @property
    def coverage(self) -> str:
        r = self.record
        if r.n_scored is None or r.n_total is None:
            return "coverage not reported"
        text = f"{r.n_scored}/{r.n_total} scored"
        if r.coverage is not None:
            from harness.coverage import describe

            text += "; " + describe(r.coverage).removeprefix("coverage: ")
        return text + invalid_text(r)

    @property
    def sort_value(self) -> str:
        return "" if self.value is None else repr(float(self.value))

    def facts(self) -> list[str]:
        """Everything known about this number, shown in its row's disclosure (tap or keyboard)."""
        r = self.record
        lines = [f"coverage: {self.coverage}", provenance_text(r), "judge: " + judge_text(r),
                 f"frames: {frames_text(r)}", f"protocol: {r.protocol}"]
        if self.note:
            lines.insert(0, self.note)
        return lines + ([self.tie] if self.tie else []) + self.compared

    def fresh(self) -> "Cell":
        """The same number without comparisons (they belong to the table it is compared in)."""
        import dataclasses

        return dataclasses.replace(self, tie=None, tie_basis=None, compared=[])


@dataclass
class Row:
    key: tuple
    model: ModelInfo
    model_slug: str
    kind: str
    role: str
    source_label: str
    source_title: str
    flags: list[str]
    source_where: str = ""
    cells: dict[tuple, Cell] = field(default_factory=dict)
    apart: list[str] = field(default_factory=list)  # why the row is not ranked ("100/1000", "unpublished run")
    notes: list[str] = field(default_factory=list)  # shown in the row, not a reason to leave the ranking
    why: list[str] = field(default_factory=list)  # how this source differs from the one its model row shows
    uid: str = ""  # the row's id on the page (its disclosure's target)

    @property
    def records(self) -> list[ResultRecord]:
        seen, out = set(), []
        for c in self.cells.values():
            if c.record.id not in seen:
                seen.add(c.record.id)
                out.append(c.record)
        return out

    @property
    def size(self) -> str:
        return size_bucket(self.model.params_b)

    @property
    def weights(self) -> str:
        return {True: "open", False: "closed"}.get(self.model.open_weights, "unknown")

    @property
    def frames(self) -> str:
        vals = sorted({frames_text(r) for r in self.records})
        return ", ".join(vals)

    @property
    def variant(self) -> str:
        return self.model.checkpoint or ""

    @property
    def dates(self) -> str:
        return ", ".join(sorted({r.date for r in self.records if r.date}))


@dataclass
class Table:
    id: str
    title: str
    blurb: str
    columns: list[Column]
    rows: list[Row]  # ranked
    sort_column: str | None = None
    show_ci: bool = True
    apart: list[Row] = field(default_factory=list)  # shown below, never ranked: partial, non-canonical, unpublished
    models: list["ModelRow"] = field(default_factory=list)  # the default view: one row per model

    @property
    def sort_col(self) -> "Column | None":
        return next((c for c in self.columns if c.id == self.sort_column), None)

    @property
    def column_groups(self) -> list[tuple[str, str, int]]:
        """(benchmark title, split label, colspan) runs of adjacent columns."""
        out: list[list] = []
        for c in self.columns:
            head = (c.bench_title, c.split_text)
            if out and (out[-1][0], out[-1][1]) == head:
                out[-1][2] += 1
            else:
                out.append([head[0], head[1], 1])
        return [tuple(x) for x in out]


# -- one row per model: the best-sourced number of each column -------------------------------
SOURCE_RULE = ("Each model shows its best-sourced number: reproduced by this harness (a ranked run) before "
               "a number reported by the model's or the benchmark's authors, before a third-party evaluation, "
               "before a number quoted by a citing paper; among equals, one not flagged superseded or hidden "
               "at its source, then the most recent source, then one that states its frame count. Open a model "
               "(▸) for every number and why they differ; \u201cevery source\u201d lists all of them as rows.")
ROLE_ORDER = {"reproduced": 0, "original": 1, "third-party": 2, "citing": 3}


def _date_key(date: str | None) -> tuple:
    """Newest first; undated last."""
    if not date:
        return (1,)
    return (0,) + tuple(-int(x) for x in date.split("-"))


def source_priority(row: Row) -> tuple:
    newest = min((_date_key(r.date) for r in row.records), default=(1,))
    states_frames = any(r.frames or r.frame_rate for r in row.records)
    return (ROLE_ORDER.get(row.role, 9), bool(row.flags), newest, not states_frames, row.source_label, row.key)


@dataclass
class ModelRow:
    """A model's row in the default view: per column, the cell of its best-sourced row that has one."""

    name: str
    slug: str
    info: ModelInfo
    sources: list[Row]  # every ranked row of the model, best-sourced first
    cells: dict[tuple, Cell] = field(default_factory=dict)
    chosen: dict[tuple, int] = field(default_factory=dict)  # column key -> index into sources
    rank: int | None = None
    uid: str = ""

    @property
    def model(self) -> ModelInfo:
        return self.info

    @property
    def variant(self) -> str:
        return ""

    @property
    def model_slug(self) -> str:
        return self.slug

    apart: tuple = ()  # a model row is always ranked
    why: tuple = ()

    @property
    def size(self) -> str:
        return size_bucket(self.info.params_b)

    @property
    def weights(self) -> str:
        return {True: "open", False: "closed"}.get(self.info.open_weights, "unknown")

    def source_for(self, key: tuple) -> Row:
        return self.sources[self.chosen[key]]

    @property
    def shown(self) -> list[Row]:
        """The source rows whose numbers the model row shows, best first."""
        return [self.sources[i] for i in sorted(set(self.chosen.values()))]

    @property
    def roles(self) -> str:
        return " ".join(dict.fromkeys(r.role for r in self.shown))

    @property
    def flags(self) -> list[str]:
        return list(dict.fromkeys(f for r in self.shown for f in r.flags))

    @property
    def frames(self) -> str:
        return ", ".join(dict.fromkeys(r.frames for r in self.shown))

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.shown if r.variant))

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(n for r in self.shown for n in r.notes))


def why_differs(row: Row, shown: Row) -> list[str]:
    """What sets a source row apart from the one its model row shows: checkpoint, frames, protocol,
    judge, source, flags (the reasons two numbers for one model can differ)."""
    def protocols(x: Row) -> str:
        return ", ".join(sorted({r.protocol for r in x.records}))

    def judges(x: Row) -> str:
        return ", ".join(sorted({(r.judge or "none") + (f" ({judge_origin(r)})" if judge_origin(r) else "")
                                 for r in x.records}))

    out = []
    if row.variant != shown.variant:
        out.append(f"checkpoint {row.variant or 'not stated'} (shown: {shown.variant or 'not stated'})")
    if row.frames != shown.frames:
        out.append(f"{row.frames} (shown: {shown.frames})")
    if protocols(row) != protocols(shown):
        out.append(f"protocol {protocols(row)} (shown: {protocols(shown)})")
    if judges(row) != judges(shown):
        out.append(f"judge {judges(row)} (shown: {judges(shown)})")
    if (row.role, row.source_label) != (shown.role, shown.source_label):
        out.append(f"source {ROLE_LABELS.get(row.role, row.role)}: {row.source_label} "
                   f"(shown: {ROLE_LABELS.get(shown.role, shown.role)}: {shown.source_label})")
    out += [f"{f} at its source" if f == "hidden-at-source" else f for f in row.flags]
    return out


def model_rows(rows: list[Row], columns: list[Column], info_of: dict[str, ModelInfo] | None = None) -> list[ModelRow]:
    """One row per model from the ranked rows: each column's cell from the best-sourced row that has it."""
    by_model: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_model[row.model.name].append(row)
    out = []
    for name, srcs in by_model.items():
        srcs = sorted(srcs, key=source_priority)
        info = (info_of or {}).get(name) or next((r.model for r in srcs if r.model.params is not None), srcs[0].model)
        m = ModelRow(name, srcs[0].model_slug, info, srcs)
        for col in columns:
            i = next((k for k, r in enumerate(srcs) if r.cells.get(col.key) is not None), None)
            if i is not None:
                m.chosen[col.key] = i
                m.cells[col.key] = srcs[i].cells[col.key].fresh()
        shown = m.shown[0] if m.chosen else srcs[0]
        for r in srcs:
            r.why = why_differs(r, shown) if r is not shown else []
        out.append(m)
    return out


def competition_ranks(items: list, value) -> None:
    """Ties share a rank, the next one skips (1, 2, 2, 4), on the values as shown; sets item.rank."""
    shown = [(it, value(it)) for it in items]
    for it, v in shown:
        it.rank = None if v is None else 1 + sum(1 for _, w in shown if w is not None and w > v)


def frames_text(r: ResultRecord) -> str:
    if r.frames:
        return f"{r.frames} frames"
    if r.frame_rate:
        return r.frame_rate
    return "not stated" if r.kind == "reported" else "not recorded"


def provenance_text(r: ResultRecord) -> str:
    p = r.provenance
    if isinstance(p, Reported):
        role = {"original": "reported", "citing": "reported (quoted by a citing source)",
                "third-party": "reported by a third party"}[p.role]
        return f"{role}: {p.source}, {p.where}"
    return f"reproduced: run {p.spec_hash}, harness {p.harness_version}"


def judge_text(r: ResultRecord) -> str:
    """'gpt-35-turbo-0125 (azure, official)', 'gpt-35-turbo-0125 (not the official judge: ...)'."""
    if not r.judge:
        return "none"
    origin = judge_origin(r)
    ji = r.judge_identity
    if origin:
        return f"{r.judge} (not the official judge: {origin})"
    if ji is not None and ji.official:
        return f"{r.judge} ({ji.where}, the protocol's judge" + (f"; {ji.basis}" if ji.basis and r.kind == "reported" else "") + ")"
    return r.judge


def judge_origin(r: ResultRecord) -> str:
    """Why a record's judge is not the official one ('' when it is, or as its source states it).

    Numbers of different judges are different columns even when the model names agree: a local
    server calling itself gpt-35-turbo-0125 is not Azure's gpt-35-turbo-0125.
    """
    if r.judge is None or judge_key(r.judge) == "unknown":
        return ""
    ji = r.judge_identity
    if ji is None:
        return "" if r.kind == "reported" else "identity not recorded"
    if ji.official:
        return ""
    answered = f", answered as {', '.join(ji.answered)}" if ji.answered and ji.answered != [ji.model] else ""
    return f"{ji.where}{answered}"


def invalid_text(r: ResultRecord) -> str:
    if r.invalid_pct is None:
        return f"; {r.n_invalid} invalid answers" if r.n_invalid else ""
    return f"; {r.n_invalid} invalid answers ({r.invalid_pct:.1f}%)"


def apart_reasons(r: ResultRecord, unpublished: bool = False, n_subsets: int | None = None) -> list[str]:
    """Why a record is shown apart from the ranking (empty: ranked). Reported numbers are taken as
    their source published them; a reproduced one must cover the whole canonical set."""
    from harness.coverage import problems

    out = ["unpublished run"] if unpublished else []
    if r.kind == "reported":
        return out
    if r.coverage is not None:
        return out + problems(r.coverage, n_subsets)
    if r.n_scored is not None and r.n_total is not None and r.n_scored + (r.n_failed or 0) < r.n_total:
        out.append(f"{r.n_scored + (r.n_failed or 0)}/{r.n_total}")
    return out


def row_notes(r: ResultRecord) -> list[str]:
    """Facts shown in a ranked row itself: unverified annotations, invalid answers."""
    out = []
    if r.kind == "reproduced" and (r.coverage is None or r.coverage.canonical is None):
        out.append("annotations unverified")
    if r.n_invalid:
        out.append(f"{r.n_invalid} invalid" + (f" ({r.invalid_pct:.1f}%)" if r.invalid_pct is not None else ""))
    return out


def role_of(r: ResultRecord) -> str:
    p = r.provenance
    return p.role if isinstance(p, Reported) else "reproduced"


def source_label(r: ResultRecord) -> str:
    p = r.provenance
    if isinstance(p, Reported):
        return p.label or (p.source if len(p.source) <= 40 else p.source[:38] + "…")
    return f"harness run {p.spec_hash[:8]}"


def safe_url(url: str | None) -> str | None:
    """Only http(s) links become links; anything else (javascript:, data:) stays text."""
    if not url:
        return None
    u = url.strip()
    low = u.lower()
    if (low.startswith("https://") or low.startswith("http://")) and not any(ch in u for ch in "\"'<> \n\t"):
        return u
    return None


def source_where(r: ResultRecord) -> str:
    p = r.provenance
    if isinstance(p, Reported):
        w = p.where.split(" (")[0]
        return w if len(w) <= 40 else w[:38] + "…"
    return f"{r.protocol} protocol"


def row_key(r: ResultRecord) -> tuple:
    p = r.provenance
    frames = r.frames or r.frame_rate or ""
    if isinstance(p, Reported):
        return (r.model.name, r.model.checkpoint or "", frames, "reported", p.source, p.role, tuple(r.flags))
    return (r.model.name, r.model.checkpoint or "", frames, "reproduced", r.protocol, r.model.backend or "")


def column_key(r: ResultRecord, metric: str) -> tuple:
    return (r.benchmark, r.split, metric, judge_key(r.judge), judge_origin(r))


def bench_sort_key(bench: str) -> tuple:
    """Built-in benchmarks in registry order, then the others by name."""
    from harness import registry

    order = registry.builtin_names()
    return (order.index(bench) if bench in order else len(order), bench)


SPLIT_ORDER = ["overall", "subset", "val", "test", "wo_subs", "full", "unspecified"]


def split_sort_key(bench: str, split: str) -> tuple:
    first = 0 if declaration(bench).split == split else 1
    return (first, SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def make_table(tid: str, title: str, blurb: str, records: list[ResultRecord], slugs: dict[str, str],
               metrics: str = "headline", pairs: dict | None = None, unpublished: set[str] | None = None,
               n_subsets: dict[str, int] | None = None) -> Table:
    """metrics: 'headline' (one column per headline) or 'all' (every metric of the records).

    unpublished: ids of records that come from run directories, not from results/; n_subsets: each
    benchmark's subset count (for "1 of 5 subsets"). Records that are partial, non-canonical or
    unpublished go to table.apart, one row each, never ranked with the others.
    """
    unpublished, n_subsets = unpublished or set(), n_subsets or {}
    columns, col_records = _columns(records, metrics)
    rows: dict[tuple, Row] = {}
    apart: list[Row] = []
    for r in sorted(records, key=lambda x: x.id):
        why = apart_reasons(r, r.id in unpublished, n_subsets.get(r.benchmark))
        if why:
            row = _new_row((r.id,), r, slugs)
            row.apart = why
            apart.append(row)
        else:
            row = _row_for(rows, r, metrics, slugs)
        _fill_cells(row, r, metrics)
        for note in row_notes(r):
            if note not in row.notes:
                row.notes.append(note)
    table = Table(tid, title, blurb, columns, list(rows.values()), apart=apart)
    mark_ties(table, pairs or {})
    if columns:
        # default order: the first column whose metric is a headline, best first (and first on the page:
        # it stays beside the model's name on a phone)
        first = next((c for c in columns if c.metric == _headline_of(col_records[c.key])), columns[0])
        table.columns.remove(first)
        table.columns.insert(0, first)
    finish_table(table, pairs or {})
    return table


def finish_table(table: Table, pairs: dict) -> None:
    """Sort the rows by the first column (best first), build the one-row-per-model view with its own
    ties and ranks, and give every row its id on the page."""
    first = table.columns[0] if table.columns else None
    if first is not None:
        table.sort_column = first.id
        table.rows.sort(key=lambda row: _row_sort(row, first.key))
        table.apart.sort(key=lambda row: _row_sort(row, first.key))
    table.models = model_rows(table.rows, table.columns)
    _mark_ties(table.columns, table.models, pairs)  # type: ignore[arg-type]
    if first is not None:
        table.models.sort(key=lambda m: _row_sort(m, first.key))  # type: ignore[arg-type]
        competition_ranks(table.models, lambda m: _shown(m.cells.get(first.key)))
    for n, m in enumerate(table.models):
        m.uid = f"{table.id}-m{n}"
    for n, row in enumerate(table.rows + table.apart):
        row.uid = f"{table.id}-r{n}"


def _shown(cell: "Cell | None") -> float | None:
    if cell is None or cell.value is None:
        return None
    try:
        return float(cell.text)
    except ValueError:
        return None


def _columns(records: list[ResultRecord], metrics: str) -> tuple[list[Column], dict[tuple, list[ResultRecord]]]:
    col_records: dict[tuple, list[ResultRecord]] = defaultdict(list)
    col_meta: dict[tuple, Column] = {}
    metric_order: dict[str, list[str]] = defaultdict(list)
    for r in records:
        for m in _names(r, metrics):
            key = column_key(r, m)
            col_records[key].append(r)
            if key not in col_meta:
                col_meta[key] = Column(key, r.benchmark, r.benchmark_title, r.split, m, r.judge,
                                       judge_origin=judge_origin(r))
            if m not in metric_order[r.benchmark]:
                metric_order[r.benchmark].append(m)
    for key, col in col_meta.items():
        col.n = len(col_records[key])
    judge_rank = Counter()
    for key, recs in col_records.items():
        judge_rank[(key[0], key[3])] += len(recs)

    def col_sort(c: Column):
        jk = judge_key(c.judge)
        return (bench_sort_key(c.benchmark), split_sort_key(c.benchmark, c.split),
                jk == "unknown", -judge_rank[(c.benchmark, jk)], jk, c.judge_origin,
                _metric_rank(c.metric, metric_order[c.benchmark]))

    return sorted(col_meta.values(), key=col_sort), col_records


def _names(r: ResultRecord, metrics: str) -> list[str]:
    names = [r.metric] if metrics == "headline" else _metric_names(r)
    return [m for m in names if r.metrics.get(m) is not None]


def _new_row(key: tuple, r: ResultRecord, slugs: dict[str, str]) -> Row:
    return Row(key, r.model, slugs.get(r.model.name, slugify(r.model.name)), r.kind, role_of(r),
               source_label(r), provenance_text(r), list(r.flags), source_where(r))


def _row_for(rows: dict[tuple, Row], r: ResultRecord, metrics: str, slugs: dict[str, str]) -> Row:
    """The ranked row of this record's model variant and source (a new one when its cells are taken)."""
    base = key = row_key(r)
    ckeys = [column_key(r, m) for m in _names(r, metrics)]
    n = 1
    while key in rows and any(ck in rows[key].cells and rows[key].cells[ck].record.id != r.id for ck in ckeys):
        n += 1
        key = base + (n,)
    if key not in rows:
        rows[key] = _new_row(key, r, slugs)
    return rows[key]


def _fill_cells(row: Row, r: ResultRecord, metrics: str) -> None:
    for m in _names(r, metrics):
        iv = r.intervals.get(m)
        row.cells[column_key(r, m)] = Cell(r, m, r.metrics[m], tuple(iv) if iv else None)


def _headline_of(recs: list[ResultRecord]) -> str:
    return Counter(r.metric for r in recs).most_common(1)[0][0] if recs else ""


def _row_sort(row: Row, key: tuple):
    c = row.cells.get(key)
    if c is None or c.value is None:
        return (1, 0.0, row.model.name.lower())
    return (0, -c.value, row.model.name.lower())


def _metric_names(r: ResultRecord) -> list[str]:
    names = [r.metric] + [m for m in r.metrics if m != r.metric]
    return [m for m in names if m in METRIC_LABELS or m == r.metric]


def _metric_rank(metric: str, order: list[str]) -> int:
    preferred = ["f1", "precision", "recall", "accuracy", "score", "cider", "llm_judge_accuracy", "llm_judge_score"]
    return preferred.index(metric) if metric in preferred else 100 + (order.index(metric) if metric in order else 0)


# -- statistical ties ------------------------------------------------------------------------
def mark_ties(table: Table, pairs: dict) -> None:
    """Neighbouring results (in value order) whose difference is not significant are marked tied.

    Only cells with an interval take part (reported numbers have none: the page says "no
    interval"); each is compared with the next one below it that has an interval. pairs:
    {((record_a, record_b), metric): (p_value, permutations)} from paired tests on the same
    samples; without one, two overlapping 95% intervals count as tied. Ranked rows and the rows
    apart from the ranking are compared among themselves, never with each other.
    """
    for rows in (table.rows, table.apart):
        _mark_ties(table.columns, rows, pairs)


def _mark_ties(columns: list[Column], rows: list[Row], pairs: dict) -> None:
    for col in columns:
        cells = [(row, row.cells[col.key]) for row in rows if col.key in row.cells]
        cells = [(row, c) for row, c in cells if c.value is not None and c.interval is not None]
        cells.sort(key=lambda rc: -rc[1].value)
        for (row_a, a), (row_b, b) in zip(cells, cells[1:]):
            verdict = _tied(a, b, pairs)
            if verdict is None:
                continue
            tied, basis = verdict
            for me, other_row in ((a, row_b), (b, row_a)):
                name = other_row.model.name + (f" ({other_row.variant})" if other_row.variant else "")
                if tied:
                    text = f"statistically tied with {name} ({basis})"
                    me.tie = text if me.tie is None else me.tie + "; " + text.replace("statistically tied with ", "")
                    me.tie_basis = basis
                else:
                    me.compared.append(f"different from {name} ({basis})")


def _tied(a: Cell, b: Cell, pairs: dict) -> tuple[bool, str] | None:
    key = (a.record.id, b.record.id)
    rkey = (b.record.id, a.record.id)
    m = a.metric
    for k in (key, rkey):
        if (k, m) in pairs:
            from harness.stats import format_p

            p, n_resamples = pairs[(k, m)]
            return (p >= 0.05, f"paired test on the same samples, {format_p(p, n_resamples)}")
    if a.interval is None or b.interval is None:
        return None
    overlap = a.interval[0] <= b.interval[1] and b.interval[0] <= a.interval[1]
    return (overlap, "95% intervals overlap" if overlap else "95% intervals do not overlap")


# -- everything the site shows -------------------------------------------------------------
@dataclass
class SiteData:
    records: list[ResultRecord]
    models: dict[str, ModelPage]
    benchmarks: dict[str, list[ResultRecord]]
    families: list[tuple[str, str, str, list[str]]]  # key, title, blurb, benchmarks


def model_slugs(names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(set(names)):
        base = slugify(name, 60)
        slug, n = base, 1
        while slug in used:
            n += 1
            slug = f"{base}-{n}"
        used.add(slug)
        out[name] = slug
    return out


def enrich(info: ModelInfo) -> ModelInfo:
    """Fill size / weights / org of a reproduced model from the published metadata, by name."""
    if info.params is not None or info.open_weights is not None:
        return info
    from harness.published import MODELS

    lookup = {k.lower(): (k, v) for k, v in MODELS.items()}
    hit = lookup.get(info.name.lower())
    if hit is None:
        return info
    _, meta = hit
    return info.model_copy(update={"params": meta.params, "params_b": meta.params_b,
                                   "open_weights": meta.open_weights, "org": info.org or meta.org})


def subset_counts(records: list[ResultRecord]) -> dict[str, int]:
    """Each benchmark's number of subsets, as its canonical results show it: the subsets of a run on
    the canonical file, else the subset groups of the published numbers (DREAM-1K: 5)."""
    out: dict[str, int] = {}
    for r in records:
        n = r.coverage.n_subsets_expected if r.coverage is not None else None
        if n is None and r.kind == "reported":
            declared = declaration(r.benchmark)
            names = set()
            for k in r.groups:
                prefix, value = split_group_key(k)
                key = declared.group(prefix) if prefix in ("subset", "subtask") else None
                if prefix in ("subset", "subtask"):
                    names.add(key.canonical(value) if key is not None else value)
            n = len(names) or None
        if n:
            out[r.benchmark] = max(out.get(r.benchmark, 0), n)
    return out


def site_data(records: list[ResultRecord]) -> SiteData:
    learn_declarations(records)
    records = [r.model_copy(update={"model": enrich(r.model)}) if r.kind == "reproduced" else r for r in records]
    slugs = model_slugs([r.model.name for r in records])
    models: dict[str, ModelPage] = {}
    for r in records:
        page = models.get(r.model.name)
        if page is None:
            page = models[r.model.name] = ModelPage(r.model.name, slugs[r.model.name], r.model)
        page.records.append(r)
        if page.info.params is None and r.model.params is not None:
            page.info = r.model
    benchmarks: dict[str, list[ResultRecord]] = defaultdict(list)
    for r in records:
        benchmarks[r.benchmark].append(r)
    return SiteData(records, models, dict(benchmarks), families_of(sorted(benchmarks, key=bench_sort_key)))


def families_of(benches: list[str]) -> list[tuple[str, str, str, list[str]]]:
    """(key, title, blurb, benchmarks): the known families in their order, then new ones, then `other`."""
    from harness.benchmark import FAMILIES

    fam_benches: dict[str, list[str]] = defaultdict(list)
    for b in benches:
        fam_benches[declaration(b).family].append(b)
    keys = [k for k in FAMILIES if k in fam_benches]
    keys += sorted(k for k in fam_benches if k not in FAMILIES and k != OTHER[0])
    keys += [OTHER[0]] if OTHER[0] in fam_benches else []
    return [(k, FAMILIES.get(k, OTHER[1] if k == OTHER[0] else k), FAMILY_BLURBS.get(k, ""), fam_benches[k])
            for k in keys]
