"""Run directories -> reproduced records and the per-sample explorer's data files.

One explorer per benchmark, showing every run of that benchmark side by side. Its data is
plain JavaScript (loaded by <script src>, which works from file://, unlike fetch):

    explore/<bench>/data/meta.js        runs, and one line per sample (id, subset, scores)
    explore/<bench>/data/chunk-NNN.js   full samples (prompt, references, events, frames)
                                        and every run's prediction and scores, CHUNK at a time
    explore/<bench>/frames/NNNNN-I.jpg  the sampled frames, when the video is available locally

Everything here is model output or annotation text: it is written as JSON data and the viewer
puts it on the page with textContent only, never as HTML.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.jsonl import read_log
from harness.results import ResultRecord, from_result, judge_key

CHUNK = 25


@dataclass
class ScoreSet:
    id: str  # score spec hash
    metric: str
    protocol: str
    judge: str | None
    result: Any  # harness.types.Result or None
    scores: dict[str, Any] = field(default_factory=dict)  # sample id -> SampleScore dict


@dataclass
class RunInfo:
    dir: Path
    rel: str
    model: str
    benchmark: str
    spec: Any  # RunSpec
    spec_hash: str
    score_sets: list[ScoreSet]
    records: list[ResultRecord]
    annotations: str
    annotation_sha256: str
    predictions: dict[str, Any] = field(default_factory=dict)
    declared: Any = None  # the benchmark's declaration (harness.benchmark.Benchmark)

    @property
    def id(self) -> str:
        return self.spec_hash

    @property
    def label(self) -> str:
        return self.model


def _one_line(exc: Exception) -> str:
    from pydantic import ValidationError

    from harness.errors import validation_summary

    text = validation_summary(exc) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:200]


def find_runs(root: str | Path, warnings: list[str]) -> list[RunInfo]:
    from harness.store import RunStore
    from harness.types import Result, ScoreSpec

    from harness.registry import benchmark_of_run

    root = Path(root)
    out: list[RunInfo] = []
    for spec_path in sorted(root.rglob("spec.json")):
        run_dir = spec_path.parent
        if "scores" in run_dir.parts[len(root.parts):]:
            continue
        try:
            store = RunStore.open(run_dir)
            name = store.model_name
            bench = benchmark_of_run(store)
        except Exception as exc:  # a damaged run must not break the site
            warnings.append(f"{run_dir}: skipped ({_one_line(exc)})")
            continue
        rel = run_dir.resolve().relative_to(root.resolve()).as_posix()
        sets: list[ScoreSet] = []
        records: list[ResultRecord] = []
        for sdir in sorted((run_dir / "scores").glob("*/")):
            try:
                sspec = ScoreSpec.model_validate_json((sdir / "score_spec.json").read_text())
            except Exception:
                continue
            result = None
            if (sdir / "result.json").is_file():
                try:
                    result = Result.model_validate_json((sdir / "result.json").read_text())
                except Exception as exc:
                    warnings.append(f"{sdir / 'result.json'}: unreadable ({type(exc).__name__})")
            sets.append(ScoreSet(sdir.name, sspec.metric, sspec.protocol,
                                 sspec.judge.model if sspec.judge else None, result))
            if result is not None and result.metrics.get(result.metric) is not None:
                try:
                    records.append(from_result(result, run=rel, bench=bench))
                except Exception as exc:
                    warnings.append(f"{sdir / 'result.json'}: not shown ({_one_line(exc)})")
        out.append(RunInfo(run_dir, rel, name, store.spec.benchmark, store.spec, store.spec.hash(), sets,
                           records, store.spec.annotations, store.spec.annotation_sha256, declared=bench))
    return out


# -- samples ---------------------------------------------------------------------------------
def load_samples(bench_name: str, runs: list[RunInfo], annotation_dirs: list[str], video_root: str | None,
                 warnings: list[str]) -> list[Any] | None:
    """The benchmark's samples from the annotations a run recorded (checksum must match)."""
    bench = next((r.declared for r in runs if r.declared is not None), None)
    if bench is None:
        return None
    tried: set[str] = set()
    for run in runs:
        candidates = [Path(run.annotations)]
        for d in annotation_dirs:
            candidates.append(Path(d) / Path(run.annotations).name)
        for path in candidates:
            key = str(path)
            if key in tried or run.annotations.startswith("hf:"):
                continue
            tried.add(key)
            if not path.is_file():
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            if digest != run.annotation_sha256:
                continue
            try:
                ann = bench.load_annotations(str(path))
                return bench.samples(ann, video_root)
            except Exception as exc:
                warnings.append(f"{path}: annotations not loadable for the explorer ({str(exc)[:120]})")
    if runs:
        warnings.append(f"{bench_name}: annotations {runs[0].annotations} not found (or changed); the explorer "
                        "shows predictions and scores without prompts and references (pass --annotations DIR)")
    return None


# -- per-sample values -------------------------------------------------------------------------
def sample_value(fields: dict[str, Any], metric: str | None = None) -> float | None:
    """One number per sample for sorting and filtering, on the tables' scale (x100): 100 = a correct
    answer or a 'yes' of the judge, F1 and CIDEr x100."""
    if not isinstance(fields, dict):
        return None
    if metric == "open_qa" or ("pred" in fields and "correct" not in fields):
        return {"yes": 100.0, "no": 0.0}.get(str(fields.get("pred", "")).strip().lower())
    if "f1" not in fields and _num(fields.get("recall")) is not None and _num(fields.get("precision")) is not None:
        r, p = _num(fields["recall"]), _num(fields["precision"])
        return 0.0 if r + p == 0 else 100.0 * 2 * r * p / (r + p)
    for k in ("f1", "correct", "cider", "accuracy", "recall", "precision"):
        if k in fields:
            v = _num(fields[k])
            return None if v is None else 100.0 * v
    return None


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float)) and math.isfinite(v):
        return float(v)
    return None


def subset_of(sample: Any, keys: list[str]) -> str | None:
    """The sample's value of the first of the benchmark's grouping keys it has (the explorer's filter)."""
    if sample is None:
        return None
    g = getattr(sample, "groups", {}) or {}
    for key in keys:
        if key in g:
            return str(g[key])
    return None


# -- writing ---------------------------------------------------------------------------------
def _js(var: str, obj: Any, chunk: int | None = None) -> str:
    # ensure_ascii: no raw U+2028/2029; the file is a script, never parsed as HTML
    blob = json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    if chunk is None:
        return f"window.{var} = {blob};\n"
    return f"(window.{var} = window.{var} || {{}})[{chunk}] = {blob};\n"


def _clean(obj: Any) -> Any:
    """JSON-able, NaN-free copy."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def frame_strip(sample: Any, n: int, out_dir: Path, stem: str, warnings: list[str], cache: Any = None) -> list[dict]:
    """Thumbnails of the n frames a model sees (harness.video's uniform rule), when the video is here."""
    video = getattr(sample, "video", None)
    if not video or not Path(video).is_file() or n < 1:
        return []
    try:
        if cache is not None:  # the adapters' frame cache: a run that decoded these frames already paid
            fs = cache.get(video, n)
        else:
            from harness.video import sample_frames

            fs = sample_frames(video, n)
    except ImportError:
        return []
    except Exception as exc:  # VideoError, BadInput: the page says "no frames"
        warnings.append(f"{video}: no frame strip ({str(exc)[:100]})")
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for i, (img, idx, ts) in enumerate(zip(fs.images, fs.indices, fs.timestamps)):
        thumb = img.convert("RGB")
        thumb.thumbnail((240, 136))
        name = f"{stem}-{i}.jpg"
        thumb.save(out_dir / name, "JPEG", quality=78)
        frames.append({"src": f"frames/{name}", "index": int(idx), "t": round(float(ts), 2)})
    return frames


def frame_strips(samples: list[Any], n: int, out_dir: Path, warnings: list[str]) -> dict[str, list[dict]]:
    """Every sample's strip, decoded in parallel (PyAV releases the GIL while decoding)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = [(i, s) for i, s in enumerate(samples) if getattr(s, "video", None) and Path(s.video).is_file()]
    if not todo or n < 1:
        return {}
    cache = None
    try:
        from harness.frame_cache import FrameCache

        cache = FrameCache.for_options(None)
    except Exception:
        cache = None
    out: dict[str, list[dict]] = {}
    workers = max(1, min(8, (os.cpu_count() or 2)))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(lambda item: (item[1].id, frame_strip(item[1], n, out_dir, f"{item[0]:05d}",
                                                                     warnings, cache)), todo)
            for sid, frames in results:
                out[sid] = frames
    finally:
        if cache is not None:
            cache.close()
    return out


def build_explorer(bench: str, bench_title: str, runs: list[RunInfo], out_dir: Path, *,
                   samples: list[Any] | None, strip_frames: int, warnings: list[str],
                   model_slugs: dict[str, str], root: str, run_pages: dict[str, str] | None = None) -> dict[str, Any]:
    """Write the explorer data for one benchmark; returns a summary for the templates."""
    from harness.store import RunStore
    from harness.types import Prediction

    data_dir = out_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    for run in runs:  # predictions and per-sample scores
        store = RunStore(run.dir, run.spec)
        run.predictions = {}
        for rec in read_log(store.predictions_path):
            try:
                pred = Prediction.model_validate(rec)
            except Exception:
                continue
            old = run.predictions.get(pred.sample_id)
            if pred.ok or old is None or not old.ok:
                run.predictions[pred.sample_id] = pred
        for ss in run.score_sets:
            ss.scores = {}
            for rec in read_log(run.dir / "scores" / ss.id / "scores.jsonl"):
                if isinstance(rec, dict) and "sample_id" in rec:
                    ss.scores[str(rec["sample_id"])] = rec

    ids: set[str] = set()  # the samples some run predicted or scored (a --limit run has fewer)
    for run in runs:
        ids |= set(run.predictions)
        for ss in run.score_sets:
            ids |= set(ss.scores)
    if samples is not None:
        order = [s.id for s in samples if s.id in ids]
        by_id = {s.id: s for s in samples}
    else:
        order = sorted(ids, key=_natural)
        by_id = {}

    runs_meta = []
    for run in runs:
        sets = []
        for ss in run.score_sets:
            res = ss.result
            sets.append({
                "id": ss.id, "metric": ss.metric, "protocol": ss.protocol, "judge": ss.judge,
                "headline": res.metric if res else None,
                "value": _clean(res.metrics.get(res.metric)) if res else None,
                "interval": _clean(list(res.intervals.get(res.metric, ()))) if res and res.intervals.get(res.metric) else None,
                "n_scored": res.n_scored if res else None,
                "n_total": max(res.n_total, res.n_benchmark or 0) if res else None,
                "n_failed": res.n_failed if res else None,
                "files": bool(re.fullmatch(r"[0-9a-f]{16}", ss.id)),
            })
        runs_meta.append({
            "id": run.id, "model": run.model, "rel": run.rel, "backend": run.spec.backend,
            "revision": run.spec.model_revision,
            "frames": None if run.spec.backend == "file" else run.spec.frames.n_frames,
            "model_page": f"{root}models/{model_slugs[run.model]}.html" if run.model in model_slugs else None,
            "page": (run_pages or {}).get(run.rel),
            "score_sets": sets,
        })

    index_rows = []
    subsets: list[str] = []
    declared = next((r.declared for r in runs if r.declared is not None), None)
    group_keys = [g.name for g in declared.groups] if declared is not None else []
    frames_dir = out_dir / "frames"
    strips = frame_strips([by_id[sid] for sid in order if sid in by_id], strip_frames, frames_dir, warnings) \
        if samples is not None else {}
    n_chunks = max(1, math.ceil(len(order) / CHUNK))
    chunk_bytes = 0
    texts: list[list] = []  # full-text search: references and predictions, loaded when a search starts
    for c in range(n_chunks):
        part = order[c * CHUNK:(c + 1) * CHUNK]
        chunk_samples = []
        for j, sid in enumerate(part):
            n = c * CHUNK + j
            sample = by_id.get(sid)
            subset = subset_of(sample, group_keys)
            if subset and subset not in subsets:
                subsets.append(subset)
            per_run = []
            values = []
            for run in runs:
                pred = run.predictions.get(sid)
                scores = {}
                first_value = None
                for ss in run.score_sets:
                    sc = ss.scores.get(sid)
                    if sc is None:
                        continue
                    v = sample_value(sc.get("fields") or {}, ss.metric) if sc.get("status", "ok") == "ok" else None
                    if first_value is None:
                        first_value = v
                    scores[ss.id] = {"status": sc.get("status", "ok"), "reason": sc.get("reason"),
                                     "value": v, "fields": sc.get("fields") or {}}
                values.append(first_value)
                status = "missing" if pred is None else ("ok" if pred.ok else "error")
                per_run.append({
                    "status": status,
                    "text": pred.text if pred is not None else None,
                    "error": pred.error if pred is not None else None,
                    "seconds": pred.seconds if pred is not None else None,
                    "inputs": inputs_record(pred),
                    "scores": scores,
                })
            entry: dict[str, Any] = {"n": n, "id": sid, "runs": per_run}
            if sample is not None:
                extra = dict(sample.extra or {})
                events = extra.pop("events", None)
                entry.update({
                    "dataset": sample.dataset, "groups": sample.groups, "prompt": sample.prompt,
                    "question": sample.question, "options": sample.options, "answer": sample.answer,
                    "references": sample.references[:20], "n_references": len(sample.references),
                    "events": events if isinstance(events, list) else None,
                    "extra": {k: v for k, v in extra.items() if isinstance(v, (str, int, float, bool))},
                    "video": Path(sample.video).name if sample.video else None,
                    "frames": strips.get(sid, []),
                })
            chunk_samples.append(entry)
            index_rows.append([sid, subset, [_clean(v) for v in values],
                               [pr["status"] for pr in per_run]])
            texts.append([_reference_text(sample), [pr["text"] or "" for pr in per_run]])
        text = _js("EXPLORER_CHUNKS", _clean(chunk_samples), chunk=c)
        (data_dir / f"chunk-{c:03d}.js").write_text(text, encoding="utf-8")
        chunk_bytes += len(text)
    meta = {
        "benchmark": bench, "title": bench_title, "chunk": CHUNK, "n_chunks": n_chunks,
        "has_samples": samples is not None, "subsets": subsets,
        "subset_titles": _subset_titles(declared.groups[0] if declared is not None and declared.groups else None,
                                        subsets),
        "runs": runs_meta,
        "samples": index_rows,
        "value_hint": _value_hint(runs),
    }
    meta_text = _js("EXPLORER_META", _clean(meta))
    (data_dir / "meta.js").write_text(meta_text, encoding="utf-8")
    text_js = _js("EXPLORER_TEXT", _clean(texts))
    (data_dir / "text.js").write_text(text_js, encoding="utf-8")
    return {"benchmark": bench, "title": bench_title, "n_samples": len(order), "runs": runs_meta,
            "meta_bytes": len(meta_text), "chunk_bytes": chunk_bytes, "n_chunks": n_chunks, "text_bytes": len(text_js),
            "has_samples": samples is not None}


INPUT_KEYS = ("frames_requested", "frame_indices", "timestamps", "sampler", "window", "n_total", "fps", "decoded_wh",
              "resized_wh", "grid_thw", "images", "visual_tokens", "prompt_sha256")


def inputs_record(pred: Any) -> dict[str, Any] | None:
    """What the model was given for this sample (the prediction's meta.inputs), the known keys only."""
    rec = (getattr(pred, "meta", None) or {}).get("inputs") if pred is not None else None
    if not isinstance(rec, dict):
        return None
    out = {k: rec[k] for k in INPUT_KEYS if k in rec}
    return out or None


def _reference_text(sample: Any) -> str:
    """Everything a search in the references reads: question, options, answer, references, events."""
    if sample is None:
        return ""
    events = (sample.extra or {}).get("events")
    parts = [sample.question or "", *sample.options, sample.answer or "", *sample.references,
             *(e for e in events if isinstance(e, str))] if isinstance(events, list) else \
        [sample.question or "", *sample.options, sample.answer or "", *sample.references]
    return "\n".join(p for p in parts if p)


def _subset_titles(key: Any, subsets: list[str]) -> dict[str, str]:
    """Each value of the filter's grouping key as the benchmark's declaration titles it."""
    return {s: key.value_title(key.canonical(s)) if key is not None else s for s in subsets}


def _value_hint(runs: list[RunInfo]) -> str:
    metrics = {ss.metric for run in runs for ss in run.score_sets}
    if metrics == {"multiple_choice"}:
        return "100 = correct, 0 = wrong (accuracy, as in the tables)"
    if metrics == {"autodq"}:
        return "per-sample F1 of event recall and precision x100 (as in the tables)"
    if metrics == {"open_qa"}:
        return "100 = judged correct, 0 = not (accuracy, as in the tables)"
    if metrics == {"cider"}:
        return "per-video CIDEr x100 (as in the tables)"
    return "per-sample score x100"


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


# -- paired tests between adjacent runs --------------------------------------------------------
def paired_tests(runs: list[RunInfo], samples: list[Any] | None) -> dict:
    """{((record_a, record_b), metric): (p, permutations)} for runs of one benchmark.

    Only where both runs were scored with the same metric, protocol and judge on the same
    samples, and the metric has the fast (per-sample mean) bootstrap path.
    """
    if samples is None:
        return {}
    try:
        from harness import registry, stats
        from harness.types import SampleScore
    except Exception:
        return {}
    by_id = {s.id: s for s in samples}
    groups: dict[tuple, list[tuple[RunInfo, ScoreSet, ResultRecord]]] = {}
    for run in runs:
        for ss in run.score_sets:
            rec = next((r for r in run.records if r.provenance.score_hash == ss.id), None)
            if rec is None or ss.result is None:
                continue
            groups.setdefault((ss.metric, ss.protocol, judge_key(ss.judge), rec.split), []).append((run, ss, rec))
    out: dict = {}
    for (metric_name, protocol, _, _), items in groups.items():
        if len(items) < 2:
            continue
        try:  # the benchmark's metric with its protocol rules (MVBench: mean over subtasks)
            declared = items[0][0].declared
            metric = declared.make_metric() if declared is not None and declared.metric == metric_name \
                else registry.metric(metric_name)
        except Exception:
            continue
        items.sort(key=lambda t: -(t[2].metrics.get(t[2].metric) or -1e9))
        for (ra, sa, reca), (rb, sb, recb) in zip(items, items[1:]):
            common = [sid for sid in by_id
                      if sa.scores.get(sid, {}).get("status") == "ok" and sb.scores.get(sid, {}).get("status") == "ok"]
            if len(common) < 2:
                continue
            try:
                rows_a = [(by_id[s], SampleScore.model_validate(sa.scores[s])) for s in common]
                rows_b = [(by_id[s], SampleScore.model_validate(sb.scores[s])) for s in common]
                if metric.per_sample_values(rows_a, protocol) is None:
                    continue  # corpus-level metric: the interval overlap stands in
                cmp = stats.paired_compare(metric, rows_a, rows_b, protocol)
            except Exception:
                continue
            for key, p in cmp.p_values.items():
                out[((reca.id, recb.id), key)] = (p, cmp.n_resamples)
    return out
