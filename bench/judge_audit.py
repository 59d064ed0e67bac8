"""Benchmark: what a judge audit costs, and what reading back the answers behind a resumed scoring costs.

    python bench/judge_audit.py [--samples 1000] [--repeat 3]

1. `harness judge-audit` on DREAM-1K (file: predictions) under two loopback judges (tests/judge_server.py,
   one stricter), whole process: the cold audit (every judge question asked once), then the warm audit
   (everything answered, 0 calls) as a user reruns it, median of R; and in-process the comparison alone
   (harness.judge_audit.audit: label agreement, kappa, the paired bootstrap and permutation test).
2. A resumed scoring whose last sample is left to judge (`harness rescore` after removing one score line),
   whole process, median of R: with the judge identity read back from the cache for the finished samples
   (ModelClient.recall, the default) against the baseline without it (recall a no-op), side by side.
Everything runs in the system temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
DREAM = SHARED / "data" / "annotations" / "DREAM-1k.jsonl"

from judge_server import FAST, JudgeServer, write_dream_predictions  # noqa: E402

# `harness` with ModelClient.recall a no-op when BENCH_NO_RECALL is set (the baseline of part 2)
WRAPPER = """
import os, sys
if os.environ.get("BENCH_NO_RECALL"):
    import harness.client.core
    harness.client.core.ModelClient.recall = lambda self, keys: None
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""


def harness(*args: str, env: dict | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True,
                          env={**os.environ, **FAST, **(env or {})}, cwd=REPO)
    if proc.returncode != 0:
        sys.exit(f"harness {' '.join(args[:2])} failed: {proc.stderr[-500:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    preds = write_dream_predictions(DREAM, tmp / "preds.jsonl")
    harness("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM), "--limit",
            str(args.samples), "--stage", "generate", "--out", str(tmp / "runs"), "--no-progress")
    (run_dir,) = [p.parent for p in (tmp / "runs").glob("*/dream/*/spec.json")]
    with JudgeServer() as lenient, JudgeServer() as strict:
        strict.entail_threshold = 0.8
        audit = ("judge-audit", str(run_dir), "--judge", f"gpt-35-turbo-0125@{lenient.url}", "--judge",
                 f"strict@{strict.url}", "--cache-dir", str(tmp / "cache"), "--no-progress", "--json")
        cold = harness(*audit)
        calls = len(lenient.requests) + len(strict.requests)
        warm = [harness(*audit) for _ in range(args.repeat)]
        assert len(lenient.requests) + len(strict.requests) == calls
        in_process = compare_only(run_dir, lenient.url, strict.url, tmp / "cache", args.repeat)

        rescore = ("rescore", str(run_dir), "--judge-base-url", lenient.url, "--cache-dir", str(tmp / "cache"),
                   "--no-progress", "--json")
        (folder,) = [d for d in (run_dir / "scores").iterdir()
                     if json.loads((d / "score_spec.json").read_text())["judge"]["model"] == "gpt-35-turbo-0125"]
        lines = (folder / "scores.jsonl").read_text().splitlines(keepends=True)
        times: dict[str, list[float]] = {"recall": [], "baseline": []}
        for _ in range(args.repeat):
            for name, env in (("recall", {}), ("baseline", {"BENCH_NO_RECALL": "1"})):
                (folder / "scores.jsonl").write_text("".join(lines[:-1]))  # the last sample left to judge
                times[name].append(harness(*rescore, env=env))
    print(f"DREAM-1K, {args.samples} samples, two loopback judges, {os.cpu_count()} CPUs")
    print(f"judge-audit, whole process: cold {cold:.2f} s ({calls} calls); warm (0 calls) median "
          f"{statistics.median(warm):.2f} s of {args.repeat}")
    print(f"judge-audit, in-process comparison only (agreement, kappa, paired bootstrap and permutations): "
          f"median {statistics.median(in_process):.3f} s")
    r, b = statistics.median(times["recall"]), statistics.median(times["baseline"])
    print(f"resumed rescore (1 sample left), whole process, median of {args.repeat}: with recall {r:.3f} s, "
          f"baseline {b:.3f} s, ratio {r / b:.3f}")


def compare_only(run_dir: Path, url_a: str, url_b: str, cache: Path, repeat: int) -> list[float]:
    from harness.client.config import ClientConfig
    from harness.judge_audit import Plan, Settings, audit, score_judges
    from harness.runner import run_samples
    from harness.store import RunStore

    store = RunStore.open(run_dir)
    bench, samples, n_run, status = run_samples(store)
    judges = [(name, ClientConfig(model=name, endpoint=url, explicit_endpoint=True, api_key="EMPTY",
                                  cache_root=str(cache))) for name, url in (("gpt-35-turbo-0125", url_a), ("strict", url_b))]
    plan = Plan(store, samples[:n_run], samples, status, bench.make_metric(), "strict", judges, progress=False)
    scored = score_judges(plan)
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        audit(plan, scored, Settings())
        out.append(time.perf_counter() - t)
    return out


if __name__ == "__main__":
    main()
