"""`harness leaderboard build`: result records (+ run directories) -> a static site.

    site/index.html                 overview: one table per benchmark family, filters, plots
    site/benchmarks/<bench>.html    every metric, per subset / subtask / bucket, figures
    site/models/<slug>.html         every result of a model, its metadata and runs
    site/explore/<bench>/           the per-sample explorer (runs side by side)
    site/audits/                    judge audits of the runs (harness.leaderboard.audits)
    site/downloads/results.{csv,json}
    site/static/                    CSS and JS (no CDN, no server: works from file://)

The site is built in a fresh folder beside --out (`.site.building-*`) and swapped in only when the
build succeeded, so a failed or interrupted build leaves the previous site exactly as it was.

All text is escaped by jinja2's autoescape; model output in the explorer is data that the
viewer renders with textContent. A Content-Security-Policy forbids inline scripts as a
second line of defence.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.results import ResultRecord, load_dir, record_dict, slugify

from harness.leaderboard import audits
from harness.leaderboard import data as D
from harness.leaderboard.explorer import RunInfo, build_explorer, find_runs, load_samples, paired_tests

MARKER = ".harness-site"
HERE = Path(__file__).resolve().parent


@dataclass
class BuildOptions:
    results: str | Path = "results"
    runs: str | Path | None = None
    out: str | Path = "site"
    video_roots: list[str] = field(default_factory=list)
    annotation_dirs: list[str] = field(default_factory=list)
    strip_frames: int = 8
    plots: bool = True
    include_runs: bool = False  # runs not published to results/ enter the tables too, marked unpublished
    run_files: bool = True  # copy each run's files (spec, predictions, scores, result) into site/runs/<hash>/
    title: str = "Video-language model leaderboard"


@dataclass
class BuildReport:
    out: Path
    n_records: int = 0
    n_runs: int = 0
    n_pages: int = 0
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    explorers: list[dict] = field(default_factory=list)


# -- output folder ---------------------------------------------------------------------------
def check_out(out: Path) -> None:
    """--out may be (re)placed by a build: a new folder, an empty one, or an earlier build."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise BadInput(f"--out {out} is a file; give a folder for the site")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise BadInput(f"--out {out} is not empty and was not built by `harness leaderboard build`; "
                           "refusing to overwrite it (choose an empty or new folder)")


def prepare_out(out: Path) -> None:
    check_out(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by harness leaderboard build; the whole folder is replaced on rebuild\n")


def _folder_beside(out: Path, kind: str) -> Path:
    """An empty folder next to --out (same file system, so renames are cheap and whole)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.{kind}-", dir=out.parent))


def _swap_in(work: Path, out: Path) -> None:
    """Put the finished build at --out; the previous site is removed only after that."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(work, (out.stat().st_mode if out.is_dir() else 0o777 & ~mask) & 0o7777)  # mkdtemp made it 0700
    old = None
    if out.exists():
        old = _folder_beside(out, "old")
        os.replace(out, old)  # onto an empty folder: a rename
    os.replace(work, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_site(opts: BuildOptions) -> BuildReport:
    """Build the site beside --out and swap it in when done; a failed build changes nothing there."""
    out = Path(opts.out)
    check_out(out)
    work = _folder_beside(out, "building")
    try:
        report = _build_site(dataclasses.replace(opts, out=work))
        _swap_in(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    report.out = out
    return report


def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        fmt=D.fmt, digits_for=D.digits_for, frames_text=D.frames_text, split_label=D.split_label,
        role_of=D.role_of, safe_url=D.safe_url, metric_short=D.METRIC_SHORT, role_labels=D.ROLE_LABELS,
        size_labels=D.SIZE_LABELS, judge_text=D.judge_text, coverage_text=_coverage_text,
        source_rule=D.SOURCE_RULE, size_text=_size_text,
    )
    return env


def _size_text(n: int) -> str:
    from harness.leaderboard.runs import size_text

    return size_text(n)


def _coverage_text(cov) -> str:
    from harness.coverage import describe

    return describe(cov).removeprefix("coverage: ")


def _video_root_for(bench: str, roots: list[str]) -> str | None:
    plain = None
    for r in roots:
        if "=" in r and not Path(r).exists():
            b, _, d = r.partition("=")
            if b == bench:
                return d
        elif plain is None:
            plain = r
    if plain and (Path(plain) / bench).is_dir():
        return str(Path(plain) / bench)
    return plain


# -- the build -------------------------------------------------------------------------------
def _build_site(opts: BuildOptions) -> BuildReport:
    t_all = time.perf_counter()
    out = Path(opts.out)
    report = BuildReport(out=out)
    timings = report.timings

    t = time.perf_counter()
    results_dir = Path(opts.results)
    if not results_dir.is_dir():
        raise BadInput(f"results folder not found: {results_dir}; pass --results DIR")
    records = load_dir(results_dir)
    runs_root = Path(opts.runs) if opts.runs else (Path("runs") if Path("runs").is_dir() else None)
    if opts.runs and not Path(opts.runs).is_dir():
        raise BadInput(f"runs folder not found: {opts.runs}; pass --runs DIR (a run store root)")
    runs: list[RunInfo] = find_runs(runs_root, report.warnings) if runs_root else []
    unpublished = _unpublished_records(records, runs) if opts.include_runs else []
    records += unpublished
    unpublished_ids = {r.id for r in unpublished}
    timings["load"] = time.perf_counter() - t
    report.n_records, report.n_runs = len(records), len(runs)

    prepare_out(out)
    site = D.site_data(records)
    n_subsets = D.subset_counts(records)
    slugs = {name: page.slug for name, page in site.models.items()}
    for run in runs:  # a run's model gets a page even before it has a scored result
        if run.model not in slugs:
            slugs[run.model] = slugify(run.model, 60) + "-run"

    # each run's page and files
    t = time.perf_counter()
    run_views = _copy_runs(out, runs) if opts.run_files else {}
    run_page = {rel: f"runs/{v['folder']}/index.html" for rel, v in run_views.items()}

    def run_page_for(rec: ResultRecord) -> str | None:
        return run_page.get(getattr(rec.provenance, "run", None) or "")
    timings["run files"] = time.perf_counter() - t

    # explorers (and paired tests, which need the same samples and scores)
    t = time.perf_counter()
    runs_by_bench: dict[str, list[RunInfo]] = defaultdict(list)
    for run in runs:
        runs_by_bench[run.benchmark].append(run)
    explorer_of_bench, run_explorer, pairs = _build_explorers(opts, out, runs_by_bench, records, slugs, report,
                                                              run_page)
    timings["explorer"] = time.perf_counter() - t

    def explorer_for(rec: ResultRecord) -> str | None:
        return run_explorer.get(getattr(rec.provenance, "spec_hash", None) or "")


    # tables and figures
    t = time.perf_counter()
    fam_views = []
    bench_views = {}
    plot_jobs: list[tuple] = []
    for key, ftitle, blurb, benches in site.families:
        recs = [r for b in benches for r in site.benchmarks[b]]
        table = D.make_table(f"table-{key}", ftitle, "", recs, slugs, metrics="headline", pairs=pairs,
                             unpublished=unpublished_ids, n_subsets=n_subsets)
        bviews = [_bench_summary(b, site.benchmarks[b], explorer_of_bench, runs_by_bench) for b in benches]
        plots = []
        if key == "detailed-caption":
            plots = _plan_plots("", table, recs, plot_jobs, limit_to_headline=True)
            for b in benches:
                ranked = [r for r in site.benchmarks[b] if not D.apart_reasons(r, r.id in unpublished_ids, n_subsets.get(b))]
                plots += _plan_subsets_plot("", b, ranked, plot_jobs)
        fam_views.append({"key": key, "title": ftitle, "blurb": blurb, "table": table, "benchmarks": bviews,
                          "plots": plots})
        for b in benches:
            brecs = site.benchmarks[b]
            btitle = bviews[benches.index(b)]["title"]
            btable = D.make_table(f"table-{slugify(b)}", f"All results on {btitle}", "", brecs, slugs,
                                  metrics="all", pairs=pairs, unpublished=unpublished_ids, n_subsets=n_subsets)
            apart = {r.id: D.apart_reasons(r, r.id in unpublished_ids, n_subsets.get(b)) for r in brecs}
            group_tables = _group_tables(b, brecs, slugs, apart)
            bplots = _plan_plots("../", btable, brecs, plot_jobs, limit_to_headline=True) + \
                _plan_subsets_plot("../", b, [r for r in brecs if not apart[r.id]], plot_jobs)
            declared = D.declaration(b)
            bench_views[b] = {**bviews[benches.index(b)], "table": btable, "group_tables": group_tables,
                              "plots": bplots, "description": declared.description,
                              "source": declared.source, "family": declared.family_title,
                              "notes": _bench_notes(b, brecs)}
    timings["tables"] = time.perf_counter() - t

    t = time.perf_counter()
    if opts.plots:
        _draw(out, plot_jobs, report.warnings)
    else:
        for f in fam_views:
            f["plots"] = []
        for v in bench_views.values():
            v["plots"] = []
    timings["plots"] = time.perf_counter() - t

    # pages
    t = time.perf_counter()
    siteinfo = {
        "title": opts.title, "built": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "version": _version(), "n_records": len(records), "n_runs": len(runs), "explorers": bool(report.explorers),
    }
    env = _env()
    env.globals["explorer_for"] = explorer_for
    env.globals["run_page_for"] = run_page_for
    env.globals["site"] = siteinfo
    siteinfo["n_unpublished"] = len(unpublished_ids)
    kinds = Counter(r.kind for r in records)
    pages = audits.write_pages(out, env, runs, run_explorer, slugs, report.warnings)  # first: sets site.audits
    _render(out, "index.html", out / "index.html", env=env, root="", nav="index", families=fam_views,
            n_models=len(site.models), n_benchmarks=len(site.benchmarks), n_reported=kinds["reported"],
            n_reproduced=kinds["reproduced"])
    pages += 1
    bench_families = [{"title": f["title"], "benchmarks": f["benchmarks"]} for f in fam_views]
    _render(out, "benchmarks.html", out / "benchmarks" / "index.html", env=env, root="../", nav="benchmarks",
            families=bench_families)
    pages += 1
    for b, view in bench_views.items():
        _render(out, "benchmark.html", out / "benchmarks" / f"{b}.html", env=env, root="../", nav="benchmarks",
                bench=view)
        pages += 1
    model_list = []
    for name, page in sorted(site.models.items(), key=lambda kv: kv[0].lower()):
        recs = sorted(page.records, key=lambda r: (D.bench_sort_key(r.benchmark), r.split, r.kind, r.id))
        mruns = [_run_view(run, run_explorer, records, run_page) for run in runs if run.model == name]
        page.n_benchmarks = len({r.benchmark for r in recs})  # type: ignore[attr-defined]
        page.n_reproduced = sum(r.kind == "reproduced" for r in recs)  # type: ignore[attr-defined]
        _render(out, "model.html", out / "models" / f"{page.slug}.html", env=env, root="../", nav="models",
                model=page, records=recs, runs=mruns, n_reported=len(recs) - page.n_reproduced,
                n_reproduced=page.n_reproduced, n_benchmarks=page.n_benchmarks)
        model_list.append(page)
        pages += 1
    _render(out, "models.html", out / "models" / "index.html", env=env, root="../", nav="models", models=model_list)
    _render(out, "about.html", out / "about.html", env=env, root="", nav="about")
    pages += 2
    for run in runs:
        if run.rel in run_views:
            _render(out, "run.html", out / run_page[run.rel], env=env, root="../../", nav="models", run=run,
                    files=run_views[run.rel], explorer=run_explorer.get(run.spec_hash),
                    model_slug=slugs.get(run.model, slugify(run.model)),
                    bench_title=next((r.benchmark_title for r in records if r.benchmark == run.benchmark),
                                     run.benchmark))
            pages += 1
    if report.explorers:
        _render(out, "explore_index.html", out / "explore" / "index.html", env=env, root="../", nav="explore",
                explorers=report.explorers)
        pages += 1
        for e in report.explorers:
            _render(out, "explorer.html", out / "explore" / e["folder"] / "index.html", env=env,
                    root="../../", nav="explore", e=e)
            pages += 1
    timings["pages"] = time.perf_counter() - t

    t = time.perf_counter()
    write_downloads(out / "downloads", records, unpublished_ids, n_subsets)
    static = out / "static"
    static.mkdir(exist_ok=True)
    for f in (HERE / "static").iterdir():
        if f.is_file():
            shutil.copyfile(f, static / f.name)
    timings["downloads"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    report.n_pages = pages
    return report


def _build_explorers(opts: BuildOptions, out: Path, runs_by_bench: dict[str, list[RunInfo]],
                     records: list[ResultRecord], slugs: dict[str, str], report: BuildReport,
                     run_pages: dict[str, str]):
    """One explorer per benchmark and annotation file: runs side by side share sample ids only when
    they ran on the same file. The benchmark's canonical file (else the file most runs used) gets
    explore/<bench>/, any other file explore/<bench>-<sha256[:8]>/.

    Returns (benchmark -> its main explorer, run spec hash -> its explorer link, paired tests)."""
    explorer_of_bench: dict[str, str] = {}
    run_explorer: dict[str, str] = {}
    pairs: dict = {}
    for bench, bruns in sorted(runs_by_bench.items()):
        groups: dict[str, list[RunInfo]] = defaultdict(list)
        for r in bruns:
            if (r.dir / "predictions.jsonl").is_file():
                groups[r.annotation_sha256].append(r)
        canonical = set(getattr(_benchmark(bench), "canonical_sha256", ()) or ())
        order = sorted(groups, key=lambda sha: (sha not in canonical, -len(groups[sha]), sha))
        title = next((r.benchmark_title for r in records if r.benchmark == bench), None) or D.declaration(bench).title
        for i, sha in enumerate(order):
            truns = groups[sha]
            folder = slugify(bench) if i == 0 else f"{slugify(bench)}-{sha[:8]}"
            samples = load_samples(bench, truns, opts.annotation_dirs, _video_root_for(bench, opts.video_roots),
                                   report.warnings)
            summary = build_explorer(bench, title, truns, out / "explore" / folder, samples=samples,
                                     strip_frames=opts.strip_frames, warnings=report.warnings, model_slugs=slugs,
                                     root="../../", run_pages=run_pages)
            summary["folder"] = folder
            summary["annotations"] = truns[0].annotations
            explorer_of_bench.setdefault(bench, f"explore/{folder}/index.html")
            for run in truns:
                run_explorer[run.spec_hash] = f"explore/{folder}/index.html#run={run.spec_hash}"
            report.explorers.append(summary)
            pairs.update(paired_tests(truns, samples))
    return explorer_of_bench, run_explorer, pairs


def _benchmark(name: str):
    try:
        from harness import registry

        return registry.benchmark(name)
    except Exception:
        return None


def _unpublished_records(records: list[ResultRecord], runs: list[RunInfo]) -> list[ResultRecord]:
    """The runs' results that are not published in results/ (--include-runs): shown, marked unpublished."""
    published = {(r.provenance.spec_hash, r.provenance.score_hash) for r in records if r.kind == "reproduced"}
    out = []
    for run in runs:
        for rec in run.records:
            key = (rec.provenance.spec_hash, rec.provenance.score_hash)
            if key not in published:
                out.append(rec)
                published.add(key)
    return out


def _render(out: Path, template: str, path: Path, env, **ctx) -> None:
    if not path.resolve().is_relative_to(out.resolve()):  # names are slugs; this keeps it so
        raise BadInput(f"{path} would be written outside {out}; refusing it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(env.get_template(template).render(**ctx), encoding="utf-8")


def _version() -> str:
    import harness

    return harness.__version__


def _bench_summary(b: str, recs: list[ResultRecord], explorers: dict, runs_by_bench: dict) -> dict:
    declared = D.declaration(b)
    title = declared.board.title or (Counter(r.benchmark_title for r in recs).most_common(1)[0][0] if recs
                                     else declared.title)
    return {"name": b, "title": title, "n": len(recs), "n_reported": sum(r.kind == "reported" for r in recs),
            "n_reproduced": sum(r.kind == "reproduced" for r in recs),
            "n_models": len({r.model.name for r in recs}), "explorer": explorers.get(b),
            "n_runs": len(runs_by_bench.get(b, []))}


def _bench_notes(b: str, recs: list[ResultRecord]) -> list[str]:
    notes = list(D.declaration(b).board.notes)
    splits = Counter(r.split for r in recs)
    if len(splits) > 1:
        notes.append("Different splits are different columns: " + ", ".join(
            f"{D.split_label(b, s) or s} ({n})" for s, n in splits.most_common()) + ".")
    judges = Counter(r.judge for r in recs if r.judge)
    if len(judges) > 1:
        notes.append("Different judges are different columns: " + ", ".join(
            f"{j} ({n})" for j, n in judges.most_common()) + ".")
    if all(r.kind == "reported" for r in recs):
        notes.append("Only reported numbers so far: no intervals, so no ties can be marked.")
    return notes


def _copy_runs(out: Path, runs: list[RunInfo]) -> dict[str, dict]:
    from harness.leaderboard.runs import copy_run, run_folders

    folders = run_folders(runs)
    return {run.rel: copy_run(run, out, folders[run.rel]) for run in runs}


def _run_view(run: RunInfo, explorers: dict, records: list[ResultRecord], pages: dict[str, str]) -> dict:
    scored = "–"
    for ss in run.score_sets:
        if ss.result is not None:
            scored = f"{ss.result.n_scored}/{max(ss.result.n_total, ss.result.n_benchmark or 0)}"
            break
    title = next((r.benchmark_title for r in records if r.benchmark == run.benchmark), run.benchmark)
    return {"bench_title": title, "rel": run.rel, "backend": run.spec.backend, "revision": run.spec.model_revision,
            "frames": "–" if run.spec.backend == "file" else run.spec.frames.n_frames, "scored": scored,
            "explorer": explorers.get(run.spec_hash), "page": pages.get(run.rel)}


# -- group tables (per subset / subtask / duration / bucket) ---------------------------------
def _group_title(bench: str, prefix: str) -> str:
    declared = D.declaration(bench)
    key = declared.group(prefix)
    return (key.title if key is not None else None) or declared.board.group_titles.get(prefix) or f"Per {prefix}"


def _group_rank(bench: str, prefix: str) -> tuple[int, str]:
    """Declared grouping keys first (in declaration order), then the metric's own groups."""
    names = [g.name for g in D.declaration(bench).groups] + list(D.declaration(bench).board.group_titles)
    return (names.index(prefix) if prefix in names else len(names), prefix)


def _group_tables(bench: str, recs: list[ResultRecord], slugs: dict, apart: dict[str, list[str]]) -> list[D.Table]:
    declared = D.declaration(bench)
    by_prefix: dict[str, list[tuple[ResultRecord, str, dict, dict]]] = defaultdict(list)
    for r in recs:
        for gkey, vals in r.groups.items():
            prefix, value = D.split_group_key(gkey)
            key = declared.group(prefix)
            by_prefix[prefix].append((r, key.canonical(value) if key is not None else value, vals,
                                      r.group_intervals.get(gkey, {})))
    tables = []
    for prefix in sorted(by_prefix, key=lambda p: _group_rank(bench, p)):
        table = _group_table(bench, prefix, by_prefix[prefix], slugs, apart)
        if table is not None:
            tables.append(table)
    return tables


def _group_table(bench: str, prefix: str, items: list, slugs: dict, apart: dict[str, list[str]]) -> D.Table | None:
    """One table of per-group values (a column per subset, subtask or bucket); records that are not
    ranked go below, apart, as in the main tables."""
    declared = D.declaration(bench)
    cols: dict[tuple, D.Column] = {}
    rows: dict[str, D.Row] = {}
    for r, value, vals, ivs in items:
        metric = r.metric if r.metric in vals else next(
            (k for k, v in vals.items() if k not in ("n", "n_failed") and isinstance(v, (int, float))), None)
        if metric is None or vals.get(metric) is None:
            continue
        ckey = (bench, prefix, value, metric, D.judge_key(r.judge), D.judge_origin(r))
        if ckey not in cols:
            key = declared.group(prefix)
            vtitle = key.value_title(value) if key is not None else value
            cols[ckey] = D.Column(ckey, f"{bench}-{prefix}-{value}", vtitle, "", metric, r.judge,
                                  judge_origin=D.judge_origin(r))
        cols[ckey].n += 1
        row = rows.get(r.id)
        if row is None:
            row = rows[r.id] = D.Row((r.id,), r.model, slugs.get(r.model.name, slugify(r.model.name)), r.kind,
                                     D.role_of(r), D.source_label(r), D.provenance_text(r), list(r.flags),
                                     D.source_where(r), apart=list(apart.get(r.id, [])))
        extra = ", ".join(f"{D.METRIC_SHORT.get(k, k)} {D.fmt(v, D.digits_for(r, v)) if isinstance(v, float) else v}"
                          for k, v in vals.items() if v is not None)
        iv = ivs.get(metric)
        row.cells[ckey] = D.Cell(r, metric, float(vals[metric]), tuple(iv) if iv else None,
                                 note=f"{prefix} {value}: {extra}")
    if not cols:
        return None
    key = declared.group(prefix)
    if key is not None and key.values:  # the declared order (e.g. DREAM-1K's subsets)
        rank = {v.key: (i,) for i, v in enumerate(key.values)}
        order = lambda v: rank.get(v, (99,))  # noqa: E731
    else:
        order = D.bound_key  # numeric bounds first: <=3, 4-5, 6-7, >=8
    columns = sorted(cols.values(), key=lambda c: (order(c.key[2]), c.key[4] == "unknown", c.key[4], c.key[5]))
    columns = columns[:40]
    table = D.Table(f"groups-{slugify(bench)}-{slugify(prefix)}", _group_title(bench, prefix),
                    "Values per group as the source or the run reports them, with the run's 95% bootstrap "
                    "interval of each group (reported numbers have none); open a row for every value and the "
                    "group size.", columns,
                    [row for row in rows.values() if not row.apart],
                    apart=[row for row in rows.values() if row.apart])
    D.mark_ties(table, {})
    D.finish_table(table, {})
    return table


# -- figures ---------------------------------------------------------------------------------
def _plan_plots(prefix: str, table: D.Table, recs: list[ResultRecord], jobs: list, *,
                limit_to_headline: bool) -> list[dict]:
    """Queue the figures of a table; returns what the page shows (paths relative to the page)."""
    out = []
    headline = Counter(r.metric for r in recs).most_common(1)[0][0] if recs else None
    for col in table.columns:
        if limit_to_headline and col.metric != headline:
            continue
        items = []
        for row in table.rows:
            cell = row.cells.get(col.key)
            if cell is None or cell.value is None:
                continue
            label = row.model.name + (f" ({row.variant})" if row.variant else "") + f" · {row.source_label}"
            items.append({"label": label, "value": cell.value, "interval": cell.interval, "role": row.role})
        if len(items) < 2:
            continue
        name = f"img/{slugify(col.id, 100)}.svg"
        title = f"{col.bench_title}{' · ' + col.split_text if col.split_text else ''}: {col.metric_label}"
        xlabel = col.metric_label + (f" ({col.judge_text})" if col.judge else "")
        jobs.append(("scores", name, title, xlabel, items))
        out.append({"src": f"{prefix}{name}", "alt": f"{title}, {len(items)} results, best first",
                    "caption": f"{title} ({col.judge_text or 'no judge'}). Bars: value; whiskers: 95% interval "
                               "where one exists (reported numbers have none)."})
    return out


def _plan_subsets_plot(prefix: str, bench: str, recs: list[ResultRecord], jobs: list) -> list[dict]:
    """F1 per subset (dots) and overall (bar), for a benchmark whose `subset` key declares its values."""
    declared = D.declaration(bench)
    key = declared.group("subset")
    if key is None or not key.values:
        return []
    rows = []
    for r in recs:
        subs = {}
        for gkey, vals in r.groups.items():
            p, v = D.split_group_key(gkey)
            if p == "subset" and isinstance(vals.get("f1"), (int, float)):
                subs[key.canonical(v)] = float(vals["f1"])
        if subs:
            label = r.model.name + (f" ({r.model.checkpoint})" if r.model.checkpoint else "") + \
                f" · {D.source_label(r)}"
            rows.append({"label": label, "overall": r.metrics.get("f1"), "subsets": subs})
    if not rows:
        return []
    name = f"img/{slugify(bench)}-subsets.svg"
    title = f"{declared.title} F1 per subset"
    if not any(j[1] == name for j in jobs):
        jobs.append(("subsets", name, title, rows, [(v.key, v.title or v.key) for v in key.values]))
    return [{"src": f"{prefix}{name}", "alt": f"{title} for every result that reports subsets",
             "caption": f"{title} (dots) and overall (bar), for every result that reports subsets."}]


def _draw(out: Path, jobs: list, warnings: list[str]) -> None:
    from harness.leaderboard import plots

    done = set()
    for job in jobs:
        kind, name = job[0], job[1]
        if name in done:
            continue
        done.add(name)
        path = out / name
        try:
            if kind == "scores":
                plots.scores_plot(path, job[2], job[3], job[4])
            else:
                plots.subsets_plot(path, job[2], job[3], job[4])
        except Exception as exc:  # a figure must never break the site
            warnings.append(f"figure {name} not drawn ({type(exc).__name__}: {str(exc)[:100]})")


# -- downloads -------------------------------------------------------------------------------
CSV_COLUMNS = ["id", "benchmark", "benchmark_title", "split", "model", "checkpoint", "printed_name", "params",
               "open_weights", "org", "backend", "metric", "headline", "value", "ci_low", "ci_high",
               "interval_method", "n_scored", "n_total", "n_failed", "n_invalid", "invalid_pct", "ranked",
               "not_ranked_because", "published", "annotation_canonical", "annotation_sha256", "n_run",
               "n_canonical", "subsets_covered", "n_subsets_expected", "protocol", "judge", "judge_official",
               "judge_provider", "judge_host", "judge_api_version", "judge_answered", "judge_first_call",
               "judge_last_call", "judge_basis", "frames", "frame_rate", "provenance", "role", "source", "where",
               "url", "spec_hash", "score_hash", "harness_version", "run", "date", "flags", "notes"]


def _csv_safe(v: Any) -> Any:
    # a cell starting with = + @ is a formula to spreadsheet programs: keep it text
    if isinstance(v, str) and v[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + v
    return v


def _record_columns(r: ResultRecord, apart: list[str], published: bool) -> dict[str, Any]:
    """The columns of a record that do not depend on the metric (coverage, judge, provenance)."""
    p, cov, ji = r.provenance, r.coverage, r.judge_identity
    return {
        "id": r.id, "benchmark": r.benchmark, "benchmark_title": r.benchmark_title, "split": r.split,
        "model": r.model.name, "checkpoint": r.model.checkpoint, "printed_name": r.model.printed_name,
        "params": r.model.params, "open_weights": r.model.open_weights, "org": r.model.org,
        "backend": r.model.backend, "n_scored": r.n_scored, "n_total": r.n_total, "n_failed": r.n_failed,
        "n_invalid": r.n_invalid, "invalid_pct": r.invalid_pct, "ranked": not apart,
        "not_ranked_because": "; ".join(apart), "published": published,
        "annotation_canonical": cov.canonical if cov else None, "annotation_sha256": cov.annotation_sha256 if cov else None,
        "n_run": cov.n_run if cov else None, "n_canonical": cov.n_canonical if cov else None,
        "subsets_covered": ";".join(cov.subsets) if cov else None,
        "n_subsets_expected": cov.n_subsets_expected if cov else None,
        "protocol": r.protocol, "judge": r.judge, "judge_official": ji.official if ji else None,
        "judge_provider": ji.provider if ji else None, "judge_host": ji.host if ji else None,
        "judge_api_version": ji.api_version if ji else None,
        "judge_answered": ";".join(ji.answered) if ji else None, "judge_first_call": ji.first_call if ji else None,
        "judge_last_call": ji.last_call if ji else None, "judge_basis": ji.basis if ji else None,
        "frames": r.frames, "frame_rate": r.frame_rate, "provenance": r.kind, "role": D.role_of(r),
        "source": getattr(p, "source", None), "where": getattr(p, "where", None),
        "url": getattr(p, "url", None), "spec_hash": getattr(p, "spec_hash", None),
        "score_hash": getattr(p, "score_hash", None), "harness_version": getattr(p, "harness_version", None),
        "run": getattr(p, "run", None), "date": r.date, "flags": ";".join(r.flags), "notes": " | ".join(r.notes),
    }


GROUP_COLUMNS = ["id", "benchmark", "model", "checkpoint", "provenance", "protocol", "judge", "group", "metric",
                 "value", "ci_low", "ci_high", "interval_method", "n", "n_failed"]


def _write_group_csv(path: Path, records: list[ResultRecord]) -> None:
    """groups.csv: one row per group value (subset, subtask, bucket, duration) with its interval."""
    import pandas as pd

    rows = []
    for r in sorted(records, key=lambda x: x.id):
        for g, vals in r.groups.items():
            ivs = r.group_intervals.get(g, {})
            for k, v in vals.items():
                if k in ("n", "n_failed") or not isinstance(v, (int, float)):
                    continue
                iv = ivs.get(k)
                rows.append({k2: _csv_safe(v2) for k2, v2 in {
                    "id": r.id, "benchmark": r.benchmark, "model": r.model.name, "checkpoint": r.model.checkpoint,
                    "provenance": r.kind, "protocol": r.protocol, "judge": r.judge, "group": g, "metric": k,
                    "value": v, "ci_low": iv[0] if iv else None, "ci_high": iv[1] if iv else None,
                    "interval_method": r.interval_method if iv else None, "n": vals.get("n"),
                    "n_failed": vals.get("n_failed")}.items()})
    df = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    for c in ("n", "n_failed"):
        df[c] = df[c].astype("Int64")
    df.to_csv(path, index=False)


def write_downloads(folder: Path, records: list[ResultRecord], unpublished: set[str] | None = None,
                    n_subsets: dict[str, int] | None = None) -> None:
    """results.csv (one row per value) and results.json (the records, and which are ranked)."""
    import pandas as pd

    unpublished, n_subsets = unpublished or set(), n_subsets or {}
    folder.mkdir(parents=True, exist_ok=True)
    rows, board = [], {}
    for r in sorted(records, key=lambda x: x.id):
        apart = D.apart_reasons(r, r.id in unpublished, n_subsets.get(r.benchmark))
        board[r.id] = {"ranked": not apart, "not_ranked_because": apart, "published": r.id not in unpublished}
        base = _record_columns(r, apart, r.id not in unpublished)
        for metric, value in r.metrics.items():
            iv = r.intervals.get(metric)
            row = {**base, "metric": metric, "headline": metric == r.metric, "value": value,
                   "ci_low": iv[0] if iv else None, "ci_high": iv[1] if iv else None,
                   "interval_method": r.interval_method if iv else None}
            rows.append({k: _csv_safe(v) for k, v in row.items()})
    df = pd.DataFrame(rows, columns=CSV_COLUMNS)
    for c in ("frames", "n_scored", "n_total", "n_failed", "n_invalid", "n_run", "n_canonical", "n_subsets_expected"):
        df[c] = df[c].astype("Int64")
    df.to_csv(folder / "results.csv", index=False)
    _write_group_csv(folder / "groups.csv", records)
    payload = {"schema_version": 1, "records": [record_dict(r) for r in sorted(records, key=lambda x: x.id)],
               "board": board}
    (folder / "results.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
