"""Benchmark: our CIDEr-D (pure-Python PTB tokenizer + numpy) against Tarsier's pipeline
(str.lower(), then pycocoevalcap's PTBTokenizer through Java + Cider), end to end on
MSVD-Caption-test, same predictions, in-process and as whole processes.

    .venv/bin/python bench/cider.py [--reps 5] [--predictions held-out|generic]

held-out: each video's first reference is the prediction, scored against the other references;
generic: "A man is doing something." for every video, against all references. Captions are lower-cased
first (`str.lower()`, the first step of Tarsier's caption evaluation, PROTOCOLS.md), on both sides, so
the two agree whether or not the scorer does it itself. Ours is whatever `harness.metrics.cider.cider_d`
computes; pycocoevalcap starts Java through its tokenizer twice per run, as in normal use.

Each repetition times, paired: both scorers in this process (from raw text to scores), then each as a
whole process (`python bench/cider.py --worker ours|coco`: interpreter start-up, imports, reading the
annotations, Java for pycocoevalcap, scoring). Scores must agree to 1e-12, per video and for the corpus,
and the processes must print the same corpus scores. Every repetition is printed, then the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
ANNOTATION = SHARED / "data" / "annotations" / "MSVD-Caption-test.jsonl"


def load(kind: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    rows = [json.loads(line) for line in ANNOTATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    caps = {str(r["idx"]): [c.lower() for c in r["text"]["response"]] for r in rows}
    if kind == "held-out":
        return {k: v[1:] for k, v in caps.items()}, {k: v[0] for k, v in caps.items()}
    return caps, {k: "A man is doing something.".lower() for k in caps}


def ours(refs, preds):
    from harness.metrics.cider import cider_d

    return cider_d(refs, preds)


def coco(refs, preds):
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()  # Tarsier lower-cases every caption first (PROTOCOLS.md)
    gts = tok.tokenize({k: [{"caption": c.lower()} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": p.lower()}] for k, p in preds.items()})
    score, scores = Cider().compute_score(gts, res)
    return float(score), dict(zip(gts, scores))


SCORERS = {"ours": ours, "coco": coco}


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def whole_process(scorer: str, kind: str) -> tuple[float, float]:
    """(seconds, corpus score) of one `--worker` process, from spawn to exit."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", scorer, "--predictions", kind],
                          capture_output=True, text=True, cwd=REPO)
    dt = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{scorer} worker failed: {proc.stderr[-1000:]}")
    return dt, json.loads(proc.stdout.strip().splitlines()[-1])["corpus"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--predictions", choices=["held-out", "generic"], default="held-out")
    ap.add_argument("--worker", choices=sorted(SCORERS), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:  # one whole-process run: load, score, print the corpus score
        refs, preds = load(args.predictions)
        print(json.dumps({"corpus": SCORERS[args.worker](refs, preds)[0]}))
        return
    refs, preds = load(args.predictions)
    n_refs = sum(map(len, refs.values()))
    print(f"MSVD-Caption-test: {len(refs)} videos, {n_refs} references, predictions: {args.predictions}, lower-cased")
    print(f"{'rep':>3} | {'in-process: ours':>16} {'pycocoevalcap':>13} {'ratio':>6} | "
          f"{'whole process: ours':>19} {'pycocoevalcap':>13} {'ratio':>6}")
    times: dict[str, list[float]] = {"ours": [], "coco": [], "ours_proc": [], "coco_proc": []}
    for rep in range(args.reps):
        dt_o, (c_o, per_o) = timed(ours, refs, preds)
        dt_c, (c_c, per_c) = timed(coco, refs, preds)
        assert abs(c_o - c_c) <= 1e-12, (c_o, c_c)
        assert max(abs(per_o[k] - per_c[k]) for k in per_c) <= 1e-12
        pt_o, pc_o = whole_process("ours", args.predictions)
        pt_c, pc_c = whole_process("coco", args.predictions)
        assert abs(pc_o - c_o) <= 1e-12 and abs(pc_c - c_c) <= 1e-12, (pc_o, pc_c, c_o)
        for name, value in (("ours", dt_o), ("coco", dt_c), ("ours_proc", pt_o), ("coco_proc", pt_c)):
            times[name].append(value)
        print(f"{rep + 1:>3} | {dt_o:>14.3f} s {dt_c:>11.3f} s {dt_c / dt_o:>5.1f}x | "
              f"{pt_o:>17.3f} s {pt_c:>11.3f} s {pt_c / pt_o:>5.1f}x", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"CIDEr-D x100 = {100 * c_o:.4f} (both; max per-video difference "
          f"{max(abs(per_o[k] - per_c[k]) for k in per_c):.1e})")
    print(f"median of {args.reps}: in-process ours {med['ours']:.3f} s, lower + pycocoevalcap {med['coco']:.3f} s -> "
          f"{med['coco'] / med['ours']:.1f}x; whole process ours {med['ours_proc']:.3f} s, pycocoevalcap "
          f"{med['coco_proc']:.3f} s -> {med['coco_proc'] / med['ours_proc']:.1f}x")


if __name__ == "__main__":
    main()
