"""`harness show RUN_DIR`: the spec, prediction counts and every result in a run.
`harness show runs/`: one line per run under a folder (model, benchmark, hash, coverage, results)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from harness.cli.help import examples
from harness.cli.output import print_result
from harness.errors import BadInput
from harness.store import RunStore


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="show a run directory, or list the runs under a folder",
                       epilog=examples("harness show runs/                                  # every run, one line each",
                                       "harness show runs/file_preds/next-qa/0c99aaf5abc6efe1  # one run in full"))
    p.add_argument("run_dir", metavar="PATH", help="a run directory (runs/<model>/<bench>/<hash>), or a folder of "
                                                   "runs (runs/, runs/<model>)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=run)


def run(args) -> int:
    path = Path(args.run_dir)
    if path.is_dir() and not (path / "spec.json").is_file():
        return list_runs(path, args.json)
    store = RunStore.open(args.run_dir)
    results = store.results()
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for _, r in results], indent=2))
        return 0
    preds = store.predictions()
    n_ok = sum(p.ok for p in preds.values())
    spec = store.spec
    print(f"run {store.dir}")
    print(f"  model {store.model_name} ({spec.backend}), benchmark {spec.benchmark}, "
          f"{frames_used(spec, preds.values())}, spec {spec.hash()}")
    print(f"  predictions: {n_ok} ok, {len(preds) - n_ok} failed")
    for score_spec, result in results:
        judge = f", judge {score_spec.judge.model}" if score_spec.judge else ""
        print(f"  scored with {score_spec.metric}, protocol {score_spec.protocol}{judge}:")
        print_result(result, indent="    ")
    return 0


def find_run_dirs(root: Path) -> list[Path]:
    """Run directories at or below `root`: runs/, runs/<model> or runs/<model>/<bench> (three levels at most)."""
    found = []
    for pattern in ("*/spec.json", "*/*/spec.json", "*/*/*/spec.json"):
        found += [p.parent for p in root.glob(pattern)]
    return sorted(found)


def list_runs(root: Path, as_json: bool = False) -> int:
    from harness.cli.list import print_table
    from harness.coverage import problems

    dirs = find_run_dirs(root)
    if not dirs:
        raise BadInput(f"no runs under {root} (a run directory holds spec.json; runs are in "
                       "runs/<model>/<bench>/<hash>)")
    rows, records = [("model", "benchmark", "run", "predictions", "coverage", "results")], []
    for d in dirs:
        store = RunStore.open(d)
        results = store.results()
        preds = store.predictions()
        n_ok = sum(p.ok for p in preds.values())
        cov = next((r.coverage for _, r in results if r.coverage is not None), None)
        coverage = ("full" if not problems(cov) else ", ".join(problems(cov))) if cov is not None else "-"
        shown = "; ".join(_headline(s, r) for s, r in results) or "not scored"
        rows.append((store.model_name, store.spec.benchmark, d.name, f"{n_ok} ok, {len(preds) - n_ok} failed",
                     coverage, shown))
        records.append({"run_dir": str(d), "model": store.model_name, "benchmark": store.spec.benchmark,
                        "spec_hash": d.name, "predictions_ok": n_ok, "predictions_failed": len(preds) - n_ok,
                        "coverage": coverage, "results": [r.model_dump(mode="json") for _, r in results]})
    if as_json:
        print(json.dumps(records, indent=2))
    else:
        print_table(rows)
    return 0


def _headline(score_spec, result) -> str:
    from harness.cli.output import fmt

    judge = f", judge {score_spec.judge.model}" if score_spec.judge else ""
    value = result.metrics.get(result.metric) if result.metric else None
    return f"{result.protocol}{judge}: {result.metric} {fmt(value)} ({result.n_scored}/{result.n_total} scored)"


def frames_used(spec, predictions) -> str:
    """The frames the model really saw, from the predictions (none for replayed predictions)."""
    if spec.backend == "file":
        return "frames: none (predictions replayed from a file)"
    used = Counter(p.n_frames for p in predictions if p.ok and p.n_frames is not None)
    asked = spec.frames.n_frames
    if not used:
        return f"frames {asked} asked (the predictions do not record how many were used)"
    if set(used) == {asked}:
        return f"frames {asked}"
    counts = ", ".join(f"{n} in {c}" for n, c in sorted(used.items(), key=lambda kv: -kv[1]))
    return f"frames {asked} asked, used: {counts} predictions"
