"""`harness compare RUN_A RUN_B`: is B better than A on the same samples, and how sure is that?

RUN_A and RUN_B are run directories (runs/<model>/<benchmark>/<hash>), or folders holding
run directories (e.g. runs/<model>), compared benchmark by benchmark. For each benchmark:
the scores of the same metric, protocol and judge in both runs, on the samples scored
successfully in both; B - A for every headline value, its paired bootstrap 95% interval
(the same resampled videos for both runs) and a two-sided p-value from a sign-flip
permutation test over videos (harness.stats). Seeded, so reruns print the same numbers.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import registry, stats
from harness.cli.help import examples
from harness.errors import BadInput
from harness.runner import run_samples
from harness.store import RunStore, load_model
from harness.types import Sample, SampleScore, ScoreSpec


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help="difference B - A between two runs, with interval and p-value",
                       epilog=examples("harness compare runs/tarsier-7b runs/tarsier2-7b",
                                       "harness compare runs/a/dream/1f2e3d4c5b6a7988 runs/b/dream/8a7b6c5d4e3f2a1b --json"))
    p.add_argument("run_a", metavar="RUN_A", help="run directory (or a folder of run directories)")
    p.add_argument("run_b", metavar="RUN_B", help="run directory (or a folder of run directories)")
    p.add_argument("--protocol", choices=["strict", "tarsier"],
                   help="which scores to compare when a run holds both protocols")
    p.add_argument("--judge-model", help="which judge's scores to compare when a run holds several")
    p.add_argument("--annotations", help="annotation file the runs used, when it is no longer at its recorded path")
    p.add_argument("--resamples", type=int, default=stats.N_RESAMPLES,
                   help="bootstrap resamples and permutations")
    p.add_argument("--seed", type=int, default=stats.SEED, help="random seed (the same seed prints the same numbers)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout")
    p.set_defaults(handler=run)


# -- finding runs and scores ---------------------------------------------------------------
def find_runs(path: str) -> dict[str, list[RunStore]]:
    """Run directories at or below `path` (two levels: runs/<model>/<bench>/<hash>), by benchmark."""
    root = Path(path)
    if not root.is_dir():
        raise BadInput(f"not a run directory: {root}")
    if (root / "spec.json").is_file():
        store = RunStore.open(root)
        return {store.spec.benchmark: [store]}
    found: dict[str, list[RunStore]] = {}
    for pattern in ("*/spec.json", "*/*/spec.json"):
        for spec_path in sorted(root.glob(pattern)):
            store = RunStore.open(spec_path.parent)
            found.setdefault(store.spec.benchmark, []).append(store)
        if found:
            break
    if not found:
        raise BadInput(f"not a run directory (no spec.json in it or the folders below it): {root}")
    return found


def _key(spec: ScoreSpec) -> tuple[str, str, str | None]:
    return (spec.metric, spec.protocol, spec.judge.model if spec.judge else None)


def _label(key: tuple[str, str, str | None]) -> str:
    metric, protocol, judge = key
    return f"{metric}/{protocol}" + (f"/judge {judge}" if judge else "")


def score_specs(store: RunStore) -> dict[tuple[str, str, str | None], list[ScoreSpec]]:
    out: dict[tuple[str, str, str | None], list[ScoreSpec]] = {}
    for spec_path in sorted((store.dir / "scores").glob("*/score_spec.json")):
        if not (spec_path.parent / "scores.jsonl").is_file():
            continue
        spec = load_model(ScoreSpec, spec_path)
        out.setdefault(_key(spec), []).append(spec)
    return out


def pick_scores(a: RunStore, b: RunStore, protocol: str | None, judge: str | None) -> tuple[ScoreSpec, ScoreSpec]:
    """The one (metric, protocol, judge) both runs are scored under; one-line error otherwise."""
    bench = a.spec.benchmark
    metric = registry.benchmark_of_run(a).metric
    sa, sb = score_specs(a), score_specs(b)

    def wanted(key) -> bool:
        return key[0] == metric and (protocol is None or key[1] == protocol) and (judge is None or key[2] == judge)

    common = sorted(k for k in set(sa) & set(sb) if wanted(k))
    if not common:
        have_a = ", ".join(_label(k) for k in sorted(sa)) or "none"
        have_b = ", ".join(_label(k) for k in sorted(sb)) or "none"
        want = " ".join(x for x in (f"--protocol {protocol}" if protocol else "",
                                     f"--judge-model {judge}" if judge else "") if x)
        raise BadInput(f"{bench}: no scores in common{' for ' + want if want else ''} (A has {have_a}; "
                       f"B has {have_b}); score both with `harness run ... --stage score`")
    if len(common) > 1:
        labels = ", ".join(_label(k) for k in common)
        hint = "--judge-model" if len({k[1] for k in common}) == 1 else "--protocol"
        raise BadInput(f"{bench}: both runs are scored several ways ({labels}); choose one with {hint}")
    key = common[0]
    for store, specs in ((a, sa), (b, sb)):
        if len(specs[key]) > 1:
            raise BadInput(f"{bench}: {store.dir} holds {len(specs[key])} score folders for {_label(key)} "
                           "(same judge model, different endpoints); compare their run directories by hand")
    return sa[key][0], sb[key][0]


def _limited(samples: list[Sample], store: RunStore) -> list[Sample]:
    return samples[: store.spec.limit] if store.spec.limit is not None else samples


# -- one benchmark ---------------------------------------------------------------------------
@dataclass
class BenchComparison:
    benchmark: str
    run_a: RunStore
    run_b: RunStore
    score_spec: ScoreSpec
    n_total_a: int
    n_total_b: int
    n_scored_a: int
    n_scored_b: int
    result: stats.Comparison

    def to_json(self) -> dict[str, Any]:
        r = self.result
        metrics = {}
        for k in r.keys:
            iv = r.intervals.get(k)
            metrics[k] = {"a": r.a[k], "b": r.b[k], "diff": r.diff[k],
                          "interval": list(iv) if iv else None, "p_value": r.p_values.get(k),
                          "p_text": stats.format_p(r.p_values.get(k), r.n_resamples)}
        return {
            "benchmark": self.benchmark,
            "run_a": str(self.run_a.dir), "run_b": str(self.run_b.dir),
            "model_a": self.run_a.model_name, "model_b": self.run_b.model_name,
            "metric": self.score_spec.metric, "protocol": self.score_spec.protocol,
            "judge_model": self.score_spec.judge.model if self.score_spec.judge else None,
            "n_total_a": self.n_total_a, "n_total_b": self.n_total_b,
            "n_scored_a": self.n_scored_a, "n_scored_b": self.n_scored_b,
            "n_common": r.n_common, "n_clusters": r.n_clusters,
            "metrics": metrics,
            "interval_method": r.interval_method, "test_method": r.test_method,
        }


def compare_runs(a: RunStore, b: RunStore, protocol: str | None, judge: str | None,
                 annotations: str | None, resamples: int, seed: int) -> BenchComparison:
    bench = a.spec.benchmark
    if b.spec.benchmark != bench:
        raise BadInput(f"different benchmarks: A is {bench}, B is {b.spec.benchmark}")
    if a.spec.annotation_sha256 != b.spec.annotation_sha256:
        raise BadInput(f"{bench}: the runs used different annotation files (checksums differ); "
                       "their sample ids need not mean the same questions")
    spec_a, spec_b = pick_scores(a, b, protocol, judge)
    declared, samples, _, _ = run_samples(a, annotations)
    samples_a, samples_b = _limited(samples, a), _limited(samples, b)
    scores_a = _ok_scores(a.scores(spec_a), samples_a)
    scores_b = _ok_scores(b.scores(spec_b), samples_b)
    rows_a, rows_b = [], []
    for s in samples:
        if s.id in scores_a and s.id in scores_b:
            rows_a.append((s, scores_a[s.id]))
            rows_b.append((s, scores_b[s.id]))
    if not rows_a:
        raise BadInput(f"{bench}: no sample is scored successfully in both runs "
                       f"(A: {len(scores_a)} of {len(samples_a)}, B: {len(scores_b)} of {len(samples_b)})")
    metric = declared.make_metric()  # with the benchmark's protocol rules (MVBench: mean over subtasks)
    result = stats.paired_compare(metric, rows_a, rows_b, spec_a.protocol, n_resamples=resamples, seed=seed)
    return BenchComparison(bench, a, b, spec_a, len(samples_a), len(samples_b), len(scores_a), len(scores_b), result)


def _ok_scores(scores: dict[str, SampleScore], samples: list[Sample]) -> dict[str, SampleScore]:
    ids = {s.id for s in samples}
    return {k: v for k, v in scores.items() if v.ok and k in ids}


# -- the command -----------------------------------------------------------------------------
def run(args) -> int:
    if args.resamples < 1:
        raise BadInput("--resamples must be at least 1")
    runs_a, runs_b = find_runs(args.run_a), find_runs(args.run_b)
    common = sorted(set(runs_a) & set(runs_b))
    if not common:
        raise BadInput(f"different benchmarks: A has {', '.join(sorted(runs_a))}; B has {', '.join(sorted(runs_b))}")
    for bench in common:
        for side, runs in (("A", runs_a), ("B", runs_b)):
            if len(runs[bench]) > 1:
                dirs = ", ".join(str(s.dir) for s in runs[bench])
                raise BadInput(f"{bench}: {side} holds {len(runs[bench])} runs ({dirs}); pass the run directory itself")
    skipped = sorted(set(runs_a) ^ set(runs_b))
    comparisons = [compare_runs(runs_a[b][0], runs_b[b][0], args.protocol, args.judge_model, args.annotations,
                                args.resamples, args.seed) for b in common]
    if skipped:
        print(f"harness: compared {', '.join(common)}; only in one run: {', '.join(skipped)}", file=sys.stderr)
    if args.json:
        print(json.dumps({"comparisons": [c.to_json() for c in comparisons], "only_in_one": skipped}, indent=2))
    else:
        for i, c in enumerate(comparisons):
            if i:
                print()
            print_comparison(c)
    return 0


def _num(v: float | None, sign: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:+.2f}" if sign else f"{v:.2f}"


def print_comparison(c: BenchComparison) -> None:
    r = c.result
    judge = f", judge {c.score_spec.judge.model}" if c.score_spec.judge else ""
    print(f"{c.benchmark} ({c.score_spec.metric}, protocol {c.score_spec.protocol}{judge}): "
          f"B - A on {r.n_common} common samples ({r.n_clusters} videos); "
          f"scored A {c.n_scored_a} of {c.n_total_a}, B {c.n_scored_b} of {c.n_total_b}")
    print(f"  A = {c.run_a.model_name}  ({c.run_a.dir})")
    print(f"  B = {c.run_b.model_name}  ({c.run_b.dir})")
    table = [("metric", "A", "B", "B - A", "95% interval", "p-value")]
    for k in r.keys:
        iv = r.intervals.get(k)
        table.append((k, _num(r.a[k]), _num(r.b[k]), _num(r.diff[k], sign=True),
                      f"[{_num(iv[0], True)}, {_num(iv[1], True)}]" if iv else "-", stats.format_p(r.p_values.get(k), r.n_resamples)))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                               for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    print(f"  interval: {r.interval_method}")
    print(f"  p-value: {r.test_method}")
