"""Benchmark: our CIDEr-D (pure-Python PTB tokenizer + numpy) against Tarsier's pipeline
(str.lower(), then pycocoevalcap's PTBTokenizer through Java + Cider), end to end on
MSVD-Caption-test, same predictions.

    .venv/bin/python bench/cider.py [--reps 5] [--predictions held-out|generic]

held-out: each video's first reference is the prediction, scored against the other references;
generic: "A man is doing something." for every video, against all references. Both sides start
from raw text each repetition (Java is started by pycocoevalcap's tokenizer, twice per run, as
in normal use). Scores must agree to 1e-12, per video and for the corpus.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from harness.metrics.cider import cider_d  # noqa: E402
from harness.metrics.ptb_tokenizer import tokenize_corpus  # noqa: E402

SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
ANNOTATION = SHARED / "data" / "annotations" / "MSVD-Caption-test.jsonl"


def load(kind: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    import json

    rows = [json.loads(line) for line in ANNOTATION.read_text(encoding="utf-8").splitlines() if line.strip()]
    caps = {str(r["idx"]): r["text"]["response"] for r in rows}
    if kind == "held-out":
        return {k: v[1:] for k, v in caps.items()}, {k: v[0] for k, v in caps.items()}
    return caps, {k: "A man is doing something." for k in caps}


def ours(refs, preds):
    return cider_d(refs, preds)


def coco(refs, preds):
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    tok = PTBTokenizer()  # Tarsier lower-cases every caption first (PROTOCOLS.md)
    gts = tok.tokenize({k: [{"caption": c.lower()} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": p.lower()}] for k, p in preds.items()})
    score, scores = Cider().compute_score(gts, res)
    return float(score), dict(zip(gts, scores))


def timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--predictions", choices=["held-out", "generic"], default="held-out")
    args = ap.parse_args()
    refs, preds = load(args.predictions)
    n_refs = sum(map(len, refs.values()))
    print(f"MSVD-Caption-test: {len(refs)} videos, {n_refs} references, predictions: {args.predictions}")
    t_ours, t_coco, t_tok = [], [], []
    for rep in range(args.reps):
        dt_o, (c_o, per_o) = timed(ours, refs, preds)
        dt_c, (c_c, per_c) = timed(coco, refs, preds)
        dt_t, _ = timed(tokenize_corpus, refs)
        assert abs(c_o - c_c) <= 1e-12, (c_o, c_c)
        assert max(abs(per_o[k] - per_c[k]) for k in per_c) <= 1e-12
        t_ours.append(dt_o), t_coco.append(dt_c), t_tok.append(dt_t)
        print(f"rep {rep + 1}: ours {dt_o:6.3f} s   pycocoevalcap {dt_c:6.3f} s   ratio {dt_c / dt_o:5.1f}x"
              f"   (our reference tokenizing alone {dt_t:.3f} s)")
    mo, mc = statistics.median(t_ours), statistics.median(t_coco)
    print(f"CIDEr-D x100 = {100 * c_o:.4f} (both; max per-video difference "
          f"{max(abs(per_o[k] - per_c[k]) for k in per_c):.1e})")
    print(f"median of {args.reps}: ours {mo:.3f} s, lower + pycocoevalcap {mc:.3f} s -> {mc / mo:.1f}x faster")


if __name__ == "__main__":
    main()
