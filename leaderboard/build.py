"""`harness leaderboard build`: result records (+ run directories) -> a static site.

    site/index.html                 overview: one table per benchmark family, filters, plots
    site/benchmarks/<bench>.html    every metric, per subset / subtask / bucket, figures
    site/models/<slug>.html         every result of a model, its metadata and runs
    site/explore/<bench>/           the per-sample explorer (runs side by side)
    site/downloads/results.{csv,json}
    site/static/                    CSS and JS (no CDN, no server: works from file://)

All text is escaped by jinja2's autoescape; model output in the explorer is data that the
viewer renders with textContent. A Content-Security-Policy forbids inline scripts as a
second line of defence.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.results import ResultRecord, load_dir, record_dict, slugify

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
def prepare_out(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise BadInput(f"--out {out} is a file; give a folder for the site")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise BadInput(f"--out {out} is not empty and was not built by `harness leaderboard build`; "
                           "refusing to overwrite it (choose an empty or new folder)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("built by harness leaderboard build; the whole folder is replaced on rebuild\n")


def _env():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                      autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(
        fmt=D.fmt, digits_for=D.digits_for, frames_text=D.frames_text, split_label=D.split_label,
        role_of=D.role_of, safe_url=D.safe_url, metric_short=D.METRIC_SHORT, role_labels=D.ROLE_LABELS,
        size_labels=D.SIZE_LABELS,
    )
    return env


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
def build_site(opts: BuildOptions) -> BuildReport:
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
    published = {(r.provenance.spec_hash, r.provenance.score_hash) for r in records if r.kind == "reproduced"}
    for run in runs:
        for rec in run.records:
            if (rec.provenance.spec_hash, rec.provenance.score_hash) not in published:
                records.append(rec)
                published.add((rec.provenance.spec_hash, rec.provenance.score_hash))
    timings["load"] = time.perf_counter() - t
    report.n_records, report.n_runs = len(records), len(runs)

    prepare_out(out)
    site = D.site_data(records)
    slugs = {name: page.slug for name, page in site.models.items()}
    for run in runs:  # a run's model gets a page even before it has a scored result
        if run.model not in slugs:
            slugs[run.model] = slugify(run.model, 60) + "-run"

    # explorers (and paired tests, which need the same samples and scores)
    t = time.perf_counter()
    runs_by_bench: dict[str, list[RunInfo]] = defaultdict(list)
    for run in runs:
        runs_by_bench[run.benchmark].append(run)
    pairs: dict = {}
    explorer_of_bench: dict[str, str] = {}
    run_explorer: dict[str, str] = {}
    for bench, bruns in sorted(runs_by_bench.items()):
        bruns = [r for r in bruns if (r.dir / "predictions.jsonl").is_file()]
        if not bruns:
            continue
        samples = load_samples(bench, bruns, opts.annotation_dirs, _video_root_for(bench, opts.video_roots),
                               report.warnings)
        title = next((r.benchmark_title for r in records if r.benchmark == bench), None) or D.declaration(bench).title
        edir = out / "explore" / slugify(bench)
        summary = build_explorer(bench, title, bruns, edir, samples=samples, strip_frames=opts.strip_frames,
                                 warnings=report.warnings, model_slugs=slugs, root="../../")
        explorer_of_bench[bench] = f"explore/{slugify(bench)}/index.html"
        for run in bruns:
            run_explorer[run.spec_hash] = f"explore/{slugify(bench)}/index.html#run={run.spec_hash}"
        report.explorers.append(summary)
        pairs.update(paired_tests(bruns, samples))
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
        table = D.make_table(f"table-{key}", ftitle, "", recs, slugs, metrics="headline", pairs=pairs)
        bviews = [_bench_summary(b, site.benchmarks[b], explorer_of_bench, runs_by_bench) for b in benches]
        plots = []
        if key == "detailed-caption":
            plots = _plan_plots("", table, recs, plot_jobs, limit_to_headline=True)
            for b in benches:
                plots += _plan_subsets_plot("", b, site.benchmarks[b], plot_jobs)
        fam_views.append({"key": key, "title": ftitle, "blurb": blurb, "table": table, "benchmarks": bviews,
                          "plots": plots})
        for b in benches:
            brecs = site.benchmarks[b]
            btitle = bviews[benches.index(b)]["title"]
            btable = D.make_table(f"table-{slugify(b)}", f"All results on {btitle}", "", brecs, slugs,
                                  metrics="all", pairs=pairs)
            group_tables = _group_tables(b, brecs, slugs)
            bplots = _plan_plots("../", btable, brecs, plot_jobs, limit_to_headline=True) + \
                _plan_subsets_plot("../", b, brecs, plot_jobs)
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
    env.globals["site"] = siteinfo
    kinds = Counter(r.kind for r in records)
    pages = 0
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
        mruns = [_run_view(run, explorer_of_bench, records) for run in runs if run.model == name]
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
    if report.explorers:
        _render(out, "explore_index.html", out / "explore" / "index.html", env=env, root="../", nav="explore",
                explorers=report.explorers)
        pages += 1
        for e in report.explorers:
            _render(out, "explorer.html", out / "explore" / slugify(e["benchmark"]) / "index.html", env=env,
                    root="../../", nav="explore", e=e)
            pages += 1
    timings["pages"] = time.perf_counter() - t

    t = time.perf_counter()
    write_downloads(out / "downloads", records)
    static = out / "static"
    static.mkdir(exist_ok=True)
    for f in (HERE / "static").iterdir():
        if f.is_file():
            shutil.copyfile(f, static / f.name)
    timings["downloads"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
    report.n_pages = pages
    return report


def _render(out: Path, template: str, path: Path, env, **ctx) -> None:
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


def _run_view(run: RunInfo, explorers: dict, records: list[ResultRecord]) -> dict:
    scored = "–"
    for ss in run.score_sets:
        if ss.result is not None:
            scored = f"{ss.result.n_scored}/{max(ss.result.n_total, ss.result.n_benchmark or 0)}"
            break
    title = next((r.benchmark_title for r in records if r.benchmark == run.benchmark), run.benchmark)
    exp = explorers.get(run.benchmark)
    return {"bench_title": title, "rel": run.rel, "backend": run.spec.backend, "revision": run.spec.model_revision,
            "frames": "–" if run.spec.backend == "file" else run.spec.frames.n_frames, "scored": scored,
            "explorer": f"{exp}#run={run.spec_hash}" if exp else None}


# -- group tables (per subset / subtask / duration / bucket) ---------------------------------
def _group_title(bench: str, prefix: str) -> str:
    declared = D.declaration(bench)
    key = declared.group(prefix)
    return (key.title if key is not None else None) or declared.board.group_titles.get(prefix) or f"Per {prefix}"


def _group_rank(bench: str, prefix: str) -> tuple[int, str]:
    """Declared grouping keys first (in declaration order), then the metric's own groups."""
    names = [g.name for g in D.declaration(bench).groups] + list(D.declaration(bench).board.group_titles)
    return (names.index(prefix) if prefix in names else len(names), prefix)


def _group_tables(bench: str, recs: list[ResultRecord], slugs: dict) -> list[D.Table]:
    declared = D.declaration(bench)
    by_prefix: dict[str, list[tuple[ResultRecord, str, dict]]] = defaultdict(list)
    for r in recs:
        for gkey, vals in r.groups.items():
            prefix, value = D.split_group_key(gkey)
            key = declared.group(prefix)
            by_prefix[prefix].append((r, key.canonical(value) if key is not None else value, vals))
    tables = []
    for prefix in sorted(by_prefix, key=lambda p: _group_rank(bench, p)):
        items = by_prefix[prefix]
        cols: dict[tuple, D.Column] = {}
        rows: dict[str, D.Row] = {}
        order_values: list[str] = []
        for r, value, vals in items:
            metric = r.metric if r.metric in vals else next(
                (k for k, v in vals.items() if k not in ("n", "n_failed") and isinstance(v, (int, float))), None)
            if metric is None or vals.get(metric) is None:
                continue
            if value not in order_values:
                order_values.append(value)
            ckey = (bench, prefix, value, metric, D.judge_key(r.judge))
            if ckey not in cols:
                key = declared.group(prefix)
                vtitle = key.value_title(value) if key is not None else value
                cols[ckey] = D.Column(ckey, f"{bench}-{prefix}-{value}", vtitle, "", metric, r.judge)
            cols[ckey].n += 1
            row = rows.get(r.id)
            if row is None:
                row = rows[r.id] = D.Row((r.id,), r.model, slugs.get(r.model.name, slugify(r.model.name)), r.kind,
                                         D.role_of(r), D.source_label(r), D.provenance_text(r), list(r.flags),
                                         D.source_where(r))
            extra = ", ".join(f"{D.METRIC_SHORT.get(k, k)} {D.fmt(v, D.digits_for(r, v)) if isinstance(v, float) else v}"
                              for k, v in vals.items() if v is not None)
            iv = None
            cell = D.Cell(r, metric, float(vals[metric]), iv, note=f"{prefix} {value}: {extra}")
            row.cells[ckey] = cell
        if not cols:
            continue
        declared_values = [v.key for v in declared.group(prefix).values] if declared.group(prefix) else []
        rank = {v: i for i, v in enumerate(declared_values or sorted(order_values, key=D.natural_key))}
        columns = sorted(cols.values(), key=lambda c: (rank.get(c.key[2], 99), c.key[4] == "unknown", c.key[4]))
        if len(columns) > 40:
            columns = columns[:40]
        table = D.Table(f"groups-{slugify(bench)}-{slugify(prefix)}", _group_title(bench, prefix),
                        "Values as the source or the run reports them per group (no intervals); hover a cell "
                        "for every value and the group size.", columns, list(rows.values()), show_ci=False)
        first = columns[0]
        table.sort_column = first.id
        table.rows.sort(key=lambda row: D._row_sort(row, first.key))
        tables.append(table)
    return tables


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
               "interval_method", "n_scored", "n_total", "n_failed", "protocol", "judge", "frames", "frame_rate",
               "provenance", "role", "source", "where", "url", "spec_hash", "score_hash", "harness_version",
               "run", "date", "flags", "notes"]


def _csv_safe(v: Any) -> Any:
    # a cell starting with = + @ is a formula to spreadsheet programs: keep it text
    if isinstance(v, str) and v[:1] in ("=", "+", "@", "\t", "\r"):
        return "'" + v
    return v


def write_downloads(folder: Path, records: list[ResultRecord]) -> None:
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for r in sorted(records, key=lambda x: x.id):
        p = r.provenance
        for metric, value in r.metrics.items():
            iv = r.intervals.get(metric)
            rows.append({k: _csv_safe(v) for k, v in {
                "id": r.id, "benchmark": r.benchmark, "benchmark_title": r.benchmark_title, "split": r.split,
                "model": r.model.name, "checkpoint": r.model.checkpoint, "printed_name": r.model.printed_name,
                "params": r.model.params, "open_weights": r.model.open_weights, "org": r.model.org,
                "backend": r.model.backend, "metric": metric, "headline": metric == r.metric, "value": value,
                "ci_low": iv[0] if iv else None, "ci_high": iv[1] if iv else None,
                "interval_method": r.interval_method if iv else None, "n_scored": r.n_scored,
                "n_total": r.n_total, "n_failed": r.n_failed, "protocol": r.protocol, "judge": r.judge,
                "frames": r.frames, "frame_rate": r.frame_rate, "provenance": r.kind, "role": D.role_of(r),
                "source": getattr(p, "source", None), "where": getattr(p, "where", None),
                "url": getattr(p, "url", None), "spec_hash": getattr(p, "spec_hash", None),
                "score_hash": getattr(p, "score_hash", None), "harness_version": getattr(p, "harness_version", None),
                "run": getattr(p, "run", None), "date": r.date, "flags": ";".join(r.flags),
                "notes": " | ".join(r.notes),
            }.items()})
    df = pd.DataFrame(rows, columns=CSV_COLUMNS)
    df["frames"] = df["frames"].astype("Int64")
    for c in ("n_scored", "n_total", "n_failed"):
        df[c] = df[c].astype("Int64")
    df.to_csv(folder / "results.csv", index=False)
    payload = {"schema_version": 1, "records": [record_dict(r) for r in sorted(records, key=lambda x: x.id)]}
    (folder / "results.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
