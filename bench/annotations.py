"""Benchmark of loading annotations into samples (reading, format conversion, gold checks, fit check).

    python bench/annotations.py [--baseline DIR] [--repeat 5] [--json]

For every release file in ../shared/data/annotations that a built-in benchmark names: the median
in-process time of `load_annotations` + `samples` (+ the fit check where this checkout has one), and
the whole process (interpreter start, imports, one load), for this checkout and, side by side, for a
baseline checkout (a folder holding an older harness/ with its package folders linked inside, run
with PYTHONPATH=DIR). Ratios are this / baseline: above 1 is slower.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))

SNIPPET = r"""
import json, statistics, sys, time
from harness import registry
names = json.loads(sys.argv[1]); repeat = int(sys.argv[2]); out = {}
check_annotations = None
if sys.argv[3] == "check":  # this checkout: the fit check is part of loading
    from harness.annotations import check_annotations
for name, path in names.items():
    bench = registry.benchmark(name)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        ann = bench.load_annotations(path)
        if check_annotations is not None:
            check_annotations(bench, ann)
        samples = bench.samples(ann)
        times.append(time.perf_counter() - t)
    out[name] = {"median_s": statistics.median(times), "n": len(samples)}
print(json.dumps(out))
"""


def files() -> dict[str, str]:
    sys.path.insert(0, str(REPO))
    from harness import registry

    out = {}
    for name in registry.builtin_names():
        b = registry.benchmark(name)
        path = SHARED / "data" / "annotations" / (b.annotations.file or "")
        if b.annotations.file and path.is_file():
            out[name] = str(path)
    return out


def measure(pythonpath: str | None, names: dict[str, str], repeat: int) -> tuple[dict, float]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SNIPPET, json.dumps(names), str(repeat),
                           "nocheck" if pythonpath else "check"], capture_output=True,
                          text=True, env=env, cwd=pythonpath or REPO)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"bench/annotations.py: run failed: {proc.stderr.strip().splitlines()[-1]}")
    return json.loads(proc.stdout), wall


def whole_process(pythonpath: str | None, name: str, path: str) -> float:
    """One process: interpreter start, imports, one load of one file."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", SNIPPET, json.dumps({name: path}), "1", "nocheck" if pythonpath else "check"],
                   capture_output=True, env=env,
                   cwd=pythonpath or REPO, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="a baseline checkout folder (run with PYTHONPATH=DIR)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = files()
    ours, _ = measure(None, names, args.repeat)
    base = measure(args.baseline, names, args.repeat)[0] if args.baseline else {}
    rows = []
    for name in names:
        row = {"benchmark": name, "samples": ours[name]["n"], "ms": 1000 * ours[name]["median_s"]}
        if name in base:
            row["baseline_ms"] = 1000 * base[name]["median_s"]
            row["ratio"] = row["ms"] / row["baseline_ms"]
        rows.append(row)
    biggest = max(names, key=lambda n: ours[n]["n"])
    proc = {"file": biggest, "s": whole_process(None, biggest, names[biggest])}
    if args.baseline:
        proc["baseline_s"] = whole_process(args.baseline, biggest, names[biggest])
        proc["ratio"] = proc["s"] / proc["baseline_s"]
    if args.json:
        print(json.dumps({"in_process": rows, "whole_process": proc}, indent=2))
        return
    print(f"{'benchmark':<14}{'samples':>8}{'ms':>10}{'baseline ms':>13}{'ratio':>8}")
    for r in rows:
        print(f"{r['benchmark']:<14}{r['samples']:>8}{r['ms']:>10.1f}{r.get('baseline_ms', float('nan')):>13.1f}"
              f"{r.get('ratio', float('nan')):>8.2f}")
    print(f"whole process ({proc['file']}): {proc['s']:.2f} s" + (
        f", baseline {proc['baseline_s']:.2f} s, ratio {proc['ratio']:.2f}" if "ratio" in proc else ""))


if __name__ == "__main__":
    main()
