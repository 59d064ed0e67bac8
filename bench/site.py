"""Benchmark of `harness leaderboard build`: build time and page weights.

    python bench/site.py [--out bench/out/site] [--models 20] [--samples 1000] [--runs 5] [--json]

Synthetic data, generated here (nothing from ../shared): result records for MODELS models x every
runnable built-in benchmark (reproduced, with intervals and groups), and RUNS runs of a DREAM-1K-like
benchmark with SAMPLES samples each, with AutoDQ-style per-sample scores (every event judged with
a reason), so the per-sample explorer is as heavy as a real one. Goal: the build under 10 s.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

SUBSETS = ["DREAM/movie_animation", "DREAM/movie_live_action", "DREAM/vertical_video", "DREAM/videvo",
           "DREAM/youtube"]
WORDS = ("a man woman dog child walks runs turns looks picks up puts down the red blue ball door car street "
         "camera slowly quickly towards away from table chair smiles waves jumps sits stands opens closes").split()


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def runnable_benchmarks() -> list:
    from harness import registry

    return [b for b in map(registry.benchmark, registry.builtin_names()) if b.metric is not None]


def make_records(root: Path, n_models: int, rng: random.Random) -> int:
    from harness.results import ModelInfo, Reported, Reproduced, ResultRecord, write_record

    n = 0
    benches = runnable_benchmarks()
    for m in range(n_models):
        size = rng.choice([7, 8, 13, 34, 72, None])
        info = ModelInfo(name=f"Synthetic-{m:02d}" + (f"-{size}B" if size else ""),
                         params=f"{size}B" if size else None, params_b=float(size) if size else None,
                         open_weights=size is not None, org="Bench Lab")
        for declared in benches:
            b = declared.name
            metric = declared.metric_class.headline
            v = rng.uniform(20, 80)
            metrics = {metric: v}
            groups = {}
            if b == "dream":
                metrics.update({"precision": v + rng.uniform(-3, 3), "recall": v + rng.uniform(-3, 3)})
                groups = {f"subset={s}": {"f1": v + rng.uniform(-6, 6), "n": 200, "n_failed": 0} for s in SUBSETS}
            if b == "video-mme":
                groups = {f"duration={d}": {"accuracy": v + rng.uniform(-8, 8), "n": 900} for d in ("short", "medium", "long")}
            reported = m % 3 == 0
            w = rng.uniform(0.8, 2.5)
            prov = (Reported(source=f"Synthetic paper {m}", label=f"paper {m}", where="Table 1") if reported else
                    Reproduced(spec_hash=f"{rng.getrandbits(64):016x}", harness_version="0.1.0"))
            rec = ResultRecord(
                id=f"{b}.synthetic-{m:02d}", benchmark=b, benchmark_title=b.upper(), split=declared.split,
                model=info, metric=metric, metrics=metrics,
                intervals={} if reported else {metric: (v - w, v + w)},
                interval_method=None if reported else "synthetic", n_scored=None if reported else 1000,
                n_total=None if reported else 1000, groups=groups, protocol="strict",
                judge="gpt-35-turbo-0125" if declared.needs_judge else None,
                frames=8, provenance=prov, date="2025-01-01")
            write_record(root, rec)
            n += 1
    return n


def make_runs(root: Path, n_runs: int, n_samples: int, rng: random.Random, *, names: list[str] | None = None,
              payload: str = "", video: str | None = None) -> Path:
    """A DREAM-like annotation file and n_runs runs with AutoDQ-style scores; returns the annotations.

    names: the runs' model names (default Synthetic-00, ...); payload: text appended to every
    reference, event, prediction and judge reason (the tests put script payloads there).
    """
    names = names or [f"Synthetic-{k:02d}" for k in range(n_runs)]
    import hashlib

    from harness.jsonl import LogWriter, write_json_atomic
    from harness.store import RunStore
    from harness.types import JudgeSpec, Provenance, Result, RunSpec, ScoreSpec

    ann = root / "DREAM-synthetic.jsonl"
    ann.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n_samples):
        events = [sentence(rng, rng.randint(4, 9)) + payload for _ in range(rng.randint(3, 9))]
        rows.append({"idx": i, "dataset": SUBSETS[i * len(SUBSETS) // n_samples], "vid": f"v{i}",
                     "video_file": video or "<placeholder>",
                     "text": {"prompt": "<video>\nDescribe the video in detail.",
                              "response": " ".join(events + [sentence(rng, 12) for _ in range(4)]) + payload},
                     "extra_info": {"events": events, "n_subjects": rng.randint(1, 4), "n_shots": rng.randint(1, 4),
                                    "n_events": len(events)}})
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    sha = hashlib.sha256(ann.read_bytes()).hexdigest()
    runs_root = root / "runs"
    rels = ["entailment", "neutral", "contradiction"]
    for k in range(n_runs):
        spec = RunSpec(model=f"synthetic-{k}", benchmark="dream", annotations=str(ann), annotation_sha256=sha,
                       backend="synthetic")
        store = RunStore.create(runs_root, names[k], spec)
        score_spec = ScoreSpec(metric="autodq", protocol="tarsier", judge=JudgeSpec(model="gpt-35-turbo-0125"))
        sdir = store.score_dir(score_spec)
        quality = 0.3 + 0.1 * k
        rs, ps = [], []
        by_group: dict[str, list[tuple[float, float]]] = {}
        with LogWriter(store.predictions_path) as pw, LogWriter(sdir / "scores.jsonl") as sw:
            for r in rows:
                sid = str(r["idx"])
                pred_events = [sentence(rng, rng.randint(4, 9)) for _ in range(rng.randint(3, 9))]
                pw.write({"sample_id": sid, "text": " ".join(pred_events) + payload, "seconds": 1.5})
                if rng.random() < 0.01:
                    sw.write({"sample_id": sid, "status": "failed", "reason": "judge: invalid JSON 10 times",
                              "fields": {}, "judge_calls": []})
                    continue
                rj = [{"event": e, "label": rng.choices(rels, [quality, 0.5, 0.2])[0],
                       "reason": sentence(rng, 14) + payload} for e in r["extra_info"]["events"]]
                pj = [{"event": e, "label": rng.choices(rels, [quality, 0.5, 0.2])[0],
                       "reason": sentence(rng, 14) + payload} for e in pred_events]
                rec = sum(j["label"] == "entailment" for j in rj) / len(rj)
                prec = sum(j["label"] == "entailment" for j in pj) / len(pj)
                rs.append(rec)
                ps.append(prec)
                n_sub = r["extra_info"]["n_subjects"]
                bucket = "<=1" if n_sub <= 1 else ("==2" if n_sub == 2 else ("==3" if n_sub == 3 else ">=4"))
                for g in (f"subset={r['dataset']}", f"subjects {bucket}"):
                    by_group.setdefault(g, []).append((rec, prec))
                sw.write({"sample_id": sid, "status": "ok", "fields": {
                    "recall": rec, "precision": prec, "n_events_gt": len(rj), "n_events_pred": len(pj),
                    "events_pred": pred_events, "recall_events": rj, "precision_events": pj}, "judge_calls": []})
        R, P = sum(rs) / len(rs), sum(ps) / len(ps)
        F = 2 * R * P / (R + P)
        groups = {}
        for g, vals in sorted(by_group.items()):
            gr, gp = sum(v[0] for v in vals) / len(vals), sum(v[1] for v in vals) / len(vals)
            groups[g] = {"f1": 100 * (2 * gr * gp / (gr + gp) if gr + gp else 0.0), "precision": 100 * gp,
                         "recall": 100 * gr, "n": len(vals)}
        result = Result(benchmark="dream", model=names[k], backend="synthetic", protocol="tarsier",
                        metric="f1", metrics={"f1": 100 * F, "precision": 100 * P, "recall": 100 * R},
                        intervals={"f1": (100 * F - 1.2, 100 * F + 1.2)}, interval_method="synthetic",
                        frames=8, judge_model="gpt-35-turbo-0125", n_total=n_samples, n_scored=len(rs),
                        n_failed=n_samples - len(rs), groups=groups,
                        provenance=Provenance(kind="reproduced", spec_hash=spec.hash(), score_hash=score_spec.hash()),
                        harness_version="0.1.0")
        write_json_atomic(sdir / "result.json", result.model_dump(mode="json"))
    return ann


def weights(site: Path) -> dict:
    def size(p: Path) -> int:
        return p.stat().st_size if p.is_file() else 0

    static = sum(size(p) for p in (site / "static").iterdir())
    index = size(site / "index.html") + sum(size(p) for p in (site / "img").glob("dream-*.svg"))
    bench_pages = sorted((site / "benchmarks").glob("*.html"))
    model_pages = sorted((site / "models").glob("*.html"))
    ex = site / "explore" / "dream"
    chunks = sorted((ex / "data").glob("chunk-*.js"))
    return {
        "index_html_kb": size(site / "index.html") / 1024,
        "index_with_figures_kb": index / 1024,
        "static_css_js_kb": static / 1024,
        "benchmark_page_max_kb": max((size(p) for p in bench_pages), default=0) / 1024,
        "model_page_max_kb": max((size(p) for p in model_pages), default=0) / 1024,
        "explorer_first_load_kb": (size(ex / "index.html") + size(ex / "data" / "meta.js") +
                                   (size(chunks[0]) if chunks else 0)) / 1024,
        "explorer_meta_kb": size(ex / "data" / "meta.js") / 1024,
        "explorer_chunk_max_kb": max((size(c) for c in chunks), default=0) / 1024,
        "explorer_chunks": len(chunks),
        "explorer_total_mb": sum(size(p) for p in ex.rglob("*")) / 1024 / 1024,
        "site_total_mb": sum(size(p) for p in site.rglob("*") if p.is_file()) / 1024 / 1024,
        "pages": sum(1 for _ in site.rglob("*.html")),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench/out/site")
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from harness.leaderboard.build import BuildOptions, build_site

    work = Path(args.out)
    if work.exists():
        shutil.rmtree(work)
    rng = random.Random(args.seed)
    t = time.perf_counter()
    n_records = make_records(work / "results", args.models, rng)
    make_runs(work, args.runs, args.samples, rng)
    t_gen = time.perf_counter() - t

    t = time.perf_counter()
    report = build_site(BuildOptions(results=work / "results", runs=work / "runs", out=work / "site"))
    t_build = time.perf_counter() - t
    out = {"models": args.models, "benchmarks": len(runnable_benchmarks()), "records": n_records,
           "runs": args.runs, "samples": args.samples, "generate_s": round(t_gen, 2),
           "build_s": round(t_build, 2), "steps_s": {k: round(v, 2) for k, v in report.timings.items()},
           "goal_s": 10.0, "ok": t_build < 10.0,
           **{k: round(v, 1) if isinstance(v, float) else v for k, v in weights(work / "site").items()}}
    if report.warnings:
        out["warnings"] = report.warnings[:5]
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k:>26}: {v}")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
