"""The stages: samples -> predictions -> scores -> result. Each stage writes before the next.

Every stage resumes: finished predictions and scores are read back and never redone.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from tqdm import tqdm

import harness
from harness import registry
from harness.adapter import Adapter, AdapterOptions
from harness.annotations import annotations_status, check_annotations
from harness.benchmark import Benchmark
from harness.errors import BadInput, HarnessError, JudgeNotConfigured
from harness.failures import FailureSummary, failure_summary
from harness.metric import Metric, ScoreContext, failed_reasons, pct
from harness.paths import check_writable
from harness.preflight import Problems
from harness.store import RunStore
from harness.types import (
    Prediction,
    Provenance,
    Result,
    RunSpec,
    Sample,
    SampleScore,
    ScoreSpec,
)


@dataclass
class RunRequest:
    model: str
    bench: str | Benchmark  # a built-in name, or a declaration (harness.registry.bench_arg)
    options: AdapterOptions = field(default_factory=AdapterOptions)
    annotations: str | None = None
    video_root: str | None = None
    limit: int | None = None
    protocol: str = "strict"
    out: str = "runs"
    stage: str = "all"  # generate | score | all
    judge: Any = None  # the judge's harness.client.config.ClientConfig, when given
    progress: bool = True
    executor: Any = None  # harness.executors.ExecutorSettings; None: the local executor
    shard: str | None = None  # "I/N": generate only that shard into its own run (harness.shard)
    allow_foreign: bool = False  # score annotations that do not fit the benchmark (marked foreign)
    # asked before any work when the run scores with a judge: judge_check(file_samples, metric) raises
    # (JudgeCheckFailed) when the judge gives too few known answers (harness.judge_check)
    judge_check: Any = None


@dataclass
class RunOutcome:
    run_dir: Path
    result: Result | None
    n_generated: int = 0
    failures: FailureSummary | None = None  # what the failed samples need (harness.failures)


# -- preparation ---------------------------------------------------------------------------
class Loaded(NamedTuple):
    samples: list[Sample]  # the run's (after --limit)
    source: str
    sha256: str
    file_samples: list[Sample]  # every sample of the annotation file
    status: str  # harness.annotations.annotations_status


def load_samples(bench: Benchmark, annotations: str | None, video_root: str | None,
                 limit: int | None, allow_foreign: bool = False) -> Loaded:
    """The run's samples, where they came from, their checksum, every sample of the file, and the
    file's status.

    Annotations that do not fit the benchmark (another benchmark's file) are refused unless
    allowed; then the result says `foreign`."""
    ann = bench.load_annotations(annotations)
    check_annotations(bench, ann, allow_foreign)  # another benchmark's file stops here (unless allowed)
    file_samples = bench.samples(ann, video_root)
    status = annotations_status(bench, ann, file_samples)
    if limit is not None and limit < 1:  # samples[:-1] would silently drop the last one
        raise BadInput(f"--limit must be at least 1, got {limit}")
    samples = file_samples[:limit] if limit is not None else file_samples
    return Loaded(samples, ann.source, ann.sha256, file_samples, status)


class RunSamples(NamedTuple):
    bench: Benchmark
    samples: list[Sample]  # every sample of the annotation file
    n_run: int  # how many of them the run covers (--limit)
    status: str  # harness.annotations.annotations_status


def run_samples(store: RunStore, annotations: str | None = None) -> RunSamples:
    """A finished run's benchmark, all samples of its annotation file (checked against the run's
    sha256, so ids mean the same questions), and how many of them the run covers (--limit)."""
    spec = store.spec
    bench: Benchmark = registry.benchmark_of_run(store)
    source = annotations or spec.annotations
    try:
        if annotations is None and source.startswith("hf:"):
            ann = bench.load_annotations(None, hub=source[3:])
        else:
            ann = bench.load_annotations(source)
    except BadInput:
        raise BadInput(f"{bench.name}: the run's annotation file {source} is not there; "
                       "pass --annotations PATH to the file the run used") from None
    if ann.sha256 != spec.annotation_sha256:
        raise BadInput(f"{bench.name}: {ann.source} is not the annotation file the run used (sha256 "
                       f"{ann.sha256[:12]} != {spec.annotation_sha256[:12]}); pass --annotations PATH to that file")
    samples = bench.samples(ann)
    n_run = len(samples) if spec.limit is None else min(spec.limit, len(samples))
    return RunSamples(bench, samples, n_run, annotations_status(bench, ann, samples))


def build_spec(adapter: Adapter, bench: Benchmark, source: str, sha256: str, limit: int | None,
               shard: str | None = None) -> RunSpec:
    from harness.redact import redact_tree
    from harness.registry import is_builtin

    fields = redact_tree(adapter.spec_fields())  # e.g. an endpoint given as http://user:KEY@host
    return RunSpec(
        model=adapter.model if adapter.backend != "file" else adapter.name,
        frames=adapter.frames,
        benchmark=bench.name,
        benchmark_fingerprint=None if is_builtin(bench.name) else bench.sample_fingerprint(),
        annotations=source,
        annotation_sha256=sha256,
        limit=limit,
        shard=shard,
        profile=getattr(adapter.options, "profile", None),
        **fields,
    )


def check_videos(samples: list[Sample], video_root: str | None, bench: str | None = None) -> None:
    """Before any work: every sample's video must exist (else one line naming what to pass)."""
    missing = [s for s in samples if not s.video or not Path(s.video).exists()]
    if not missing:
        return
    fetch = f"`harness data fetch {bench}` fetches them or says where to get them" if bench else ""
    if not video_root and all(not s.video for s in missing):
        raise BadInput(f"{bench or 'the benchmark'} needs its {len(samples)} videos and no --video-root is given: "
                       + (f"{fetch}; then " if fetch else "") + "pass --video-root DIR")
    first = missing[0].video or f"(no path for {missing[0].id})"
    where = f"under --video-root {video_root}" if video_root else "(no --video-root given)"
    check = f"; `harness data check --bench {bench} --video-root DIR` lists them" if bench else ""
    raise BadInput(f"{len(missing)} of {len(samples)} videos missing {where}, e.g. {first}; pass --video-root DIR"
                   + check)


def check_video_root(video_root: str | None, bench: str) -> None:
    """A run that reads videos needs a --video-root that is a folder (checked even when the annotations
    did not load, so that both are named at once)."""
    if not video_root:
        raise BadInput(f"{bench} needs its videos and no --video-root is given: `harness data fetch {bench}` fetches "
                       "them or says where to get them; then pass --video-root DIR")
    if not Path(video_root).is_dir():
        raise BadInput(f"--video-root {video_root}: no such folder (it holds the {bench} videos; `harness data fetch "
                       f"{bench}` fetches them or says where to get them)")


def check_predictions_exist(run_dir: Path) -> None:
    """--stage score needs the predictions of a generate stage (of the same spec, so the same folder)."""
    if not (run_dir / "predictions.jsonl").is_file():
        raise BadInput(f"no predictions to score in {run_dir}: run the same command with --stage generate first "
                       "(or --stage all)")


def check_file_matches(adapter: Adapter, samples: list[Sample], bench: Benchmark) -> None:
    """A prediction file whose lines match no sample of the benchmark (`samples`: every sample of its
    annotation file) is the wrong file: say so before anything is written. A file that lacks some samples,
    or all of a --limit window, is scored, its gaps counted as failed."""
    from harness.failures import not_in_file

    adapter.load()
    preds = adapter.generate(samples)
    if preds and all(not p.ok and not_in_file(p.error) for p in preds):
        first = samples[0]
        raise BadInput(f"{getattr(adapter, 'path', adapter.model)}: none of its predictions matches a sample of "
                       f"{bench.name} (matched on dataset and idx, or sample_id; the first sample is "
                       f"{first.dataset} idx {first.idx}, id {first.id}); is it this benchmark's prediction file?")


def check_judge(metric: Metric, req: RunRequest, bench: Benchmark) -> None:
    if bench.needs_judge and req.stage in ("score", "all") and (req.judge is None or not req.judge.configured()):
        raise JudgeNotConfigured(
            f"benchmark {bench.name} is scored by an LLM judge and none is configured: pass "
            "--judge-base-url URL (OpenAI-compatible) or set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT "
            "and AZURE_OPENAI_API_KEY; or run --stage generate"
        )


# -- generation ----------------------------------------------------------------------------
def generate(adapter: Adapter, store: RunStore, samples: list[Sample], progress: bool = True,
             executor: Any = None) -> int:
    """Predict every sample without a finished prediction; returns how many were written.

    The executor (harness.executors; default: local) runs the batches and hands back each
    batch's predictions as it finishes, in any order; only this function writes the store. It
    writes records in sample order: a batch that finishes early waits in memory until the ones
    before it are written, and each record is flushed as soon as everything before it is. So a
    clean run writes the same records in the same order whatever the executor, and a crash
    loses at most the batches that were still in flight or waiting.

    `seconds` (generation time per sample, the batch's wall time split evenly) is the one field
    that differs between two runs of the same model; replayed predictions (file:) get none.
    """
    from harness.executors import LocalExecutor

    executor = executor or LocalExecutor()
    done = store.predictions()
    todo = [s for s in samples if not (s.id in done and done[s.id].ok)]
    if not todo:
        return 0
    batches = [todo[start:start + adapter.batch_size] for start in range(0, len(todo), adapter.batch_size)]
    timed = adapter.backend != "file"
    finished: dict[int, list[dict]] = {}  # batch index -> records, waiting for the batches before it
    next_batch = 0
    written = 0
    known_prompts = set(store.prompts())
    with executor.session(adapter, len(batches)) as session:  # loads the model (or starts the replicas)
        bar = tqdm(total=len(todo), desc=f"generate {store.spec.benchmark}", unit="sample",
                   file=sys.stderr, disable=not progress, dynamic_ncols=True)
        try:
            with store.prediction_writer() as writer, store.prompt_writer() as prompt_writer:
                for out in session.run(batches):
                    if out.index < next_batch or out.index in finished:
                        continue  # never written twice
                    batch = batches[out.index]
                    by_id = {p.sample_id: p for p in out.predictions}
                    records = []
                    for s in batch:
                        pred = by_id.get(s.id) or Prediction(sample_id=s.id, error="adapter returned no prediction")
                        if timed and pred.seconds is None and out.seconds is not None:
                            pred = pred.model_copy(update={"seconds": out.seconds / len(batch)})
                        records.append(pred.model_dump(mode="json", exclude_none=True))
                    finished[out.index] = records
                    bar.update(len(batch))
                    while next_batch in finished:
                        for rec in finished.pop(next_batch):
                            _file_prompt(rec, prompt_writer, known_prompts)
                            writer.write(rec)
                            written += 1
                        next_batch += 1
        finally:
            bar.close()
    return written


def _file_prompt(rec: dict, writer, known: set[str]) -> None:
    """Move a prediction's prompt text into prompts.jsonl (once per distinct prompt); the
    prediction keeps its prompt_sha256."""
    inputs = (rec.get("meta") or {}).get("inputs")
    if not isinstance(inputs, dict) or "prompt" not in inputs:
        return
    text = inputs.pop("prompt")
    digest = inputs.get("prompt_sha256")
    if digest and digest not in known:
        writer.write({"sha256": digest, "prompt": text})
        known.add(digest)


# -- scoring -------------------------------------------------------------------------------
def score(store: RunStore, samples: list[Sample], metric: Metric, score_spec: ScoreSpec,
          judge: Any = None, progress: bool = True, n_benchmark: int | None = None,
          file_samples: list[Sample] | None = None, annotations_status: str | None = None) -> Result:
    """Score the run's samples; file_samples (every sample of the annotation file) lets the result
    say which of the benchmark's subsets it covers, and annotations_status whether the file is
    another benchmark's (harness.annotations). `judge`: the judge's ClientConfig (judged metrics)."""
    predictions = store.predictions()
    existing = {} if metric.corpus_level else store.scores(score_spec)
    todo: list[tuple[Sample, Prediction]] = []
    unpredicted: list[SampleScore] = []
    for s in samples:
        if s.id in existing and existing[s.id].ok:
            continue
        pred = predictions.get(s.id)
        if pred is None or not pred.ok:
            reason = pred.error if pred is not None else "not generated yet"
            unpredicted.append(SampleScore(sample_id=s.id, status="failed", reason=f"prediction: {reason}"))
        else:
            todo.append((s, pred))

    run_ids = {s.id for s in samples}
    reused = [k for sid, sc in existing.items() if sc.ok and sid in run_ids for k in sc.judge_calls]
    judge_usage: dict[str, Any] | None = None
    with store.score_writer(score_spec, truncate=metric.corpus_level) as writer:
        for sc in unpredicted:
            writer.write(sc.model_dump(mode="json"))
        if todo:
            bar = tqdm(total=len(todo), desc=f"score {store.spec.benchmark}", unit="sample",
                       file=sys.stderr, disable=not progress, dynamic_ncols=True)
            n_emitted = 0

            def emit(sc: SampleScore) -> None:
                nonlocal n_emitted
                writer.write(sc.model_dump(mode="json"))
                n_emitted += 1
                bar.update(1)

            try:
                judge_usage = asyncio.run(_score_async(metric, todo, score_spec, judge, emit, bar,
                                                       store.score_dir(score_spec), reused))
            except HarnessError as exc:  # a judge budget or outage stop: say how far this run got
                if getattr(exc, "keep_message", False):  # a batch still running or ended: one line as is
                    raise
                raise type(exc)(f"{exc} ({n_emitted} of {len(todo)} samples scored in this run)") from None
            finally:
                bar.close()

    scores = store.scores(score_spec)
    rows = [(s, scores.get(s.id) or SampleScore(sample_id=s.id, status="failed", reason="not scored"))
            for s in samples]
    result = make_result(store, metric, score_spec, rows, n_benchmark, file_samples,
                         foreign=annotations_status == "foreign")
    if judge_usage is not None:  # calls, cache hits, tokens, cost of this invocation
        result.extra["judge_usage"] = judge_usage
    result.judge = judge_identity(store, score_spec, judge_usage, resumed=bool(reused))
    store.write_result(score_spec, result)
    return result


def judge_identity(store: RunStore, score_spec: ScoreSpec, usage: dict[str, Any] | None, resumed: bool = False):
    """Who judged: from this invocation's answers (those of the finished samples it kept included, read
    back from the cache), merged with the last result's when it resumed one; nothing left to judge: the
    last result's."""
    from harness.judge_identity import identify, merge

    if score_spec.judge is None:
        return None
    previous = next((r.judge for s, r in store.results() if s.hash() == score_spec.hash()), None) \
        if usage is None or resumed else None
    if usage is None:
        return previous or identify(score_spec.judge)
    now = identify(score_spec.judge, usage.get("answered", ()), usage.get("call_times", ()))
    return merge(previous, now) if previous is not None else now


async def _score_async(metric, todo, score_spec, judge_config, emit, bar,
                       score_dir: Path | None = None, reused: list[str] = ()) -> dict[str, Any] | None:
    """Score `todo`, the judge (if the metric needs one) a model client in its role. In batch mode every
    sample starts at once, so the batch transport sees every first question before it submits. `reused`:
    the judge calls of the finished samples kept from earlier invocations (their answerers and dates count)."""
    from harness.client.core import ModelClient

    if not metric.needs_judge:
        await metric.score_all(todo, ScoreContext(protocol=score_spec.protocol), emit)
        return None
    judge = ModelClient(judge_config, progress=bar, batch_dir=score_dir)
    window = len(todo) if judge_config.mode == "batch" else 2 * judge_config.concurrency
    ctx = ScoreContext(protocol=score_spec.protocol, judge=judge, concurrency=judge_config.concurrency, window=window)

    def emit_unless_stopped(sc: SampleScore) -> None:
        # after a run-stopping error, a failed score may be its echo (a metric that caught it): the sample
        # is left for the next run instead
        if sc.ok or not judge.stopped:
            emit(sc)

    try:
        await metric.score_all(todo, ctx, emit_unless_stopped)
        judge.raise_if_stopped()
        judge.recall(reused)
    finally:
        await judge.aclose()
    return judge.usage()


def make_result(store: RunStore, metric: Metric, score_spec: ScoreSpec, rows,
                n_benchmark: int | None = None, file_samples: list[Sample] | None = None,
                foreign: bool = False) -> Result:
    from harness import stats
    from harness.coverage import coverage_of

    agg = metric.aggregate(rows, score_spec.protocol)
    spec = store.spec
    # 95% clustered bootstrap interval for every headline value (failed rows excluded)
    boot = stats.bootstrap(metric, rows, score_spec.protocol)
    intervals = {k: v for k, v in boot.intervals.items() if k in agg.metrics}
    # and for every group's values (subsets, subtasks, buckets, durations), from the same resamples
    group_intervals = stats.group_bootstrap(metric, rows, score_spec.protocol, agg.groups).intervals
    extra = dict(agg.extra)
    bench = registry.benchmark_of_run(store)
    note = bench.note
    if note:  # e.g. EgoSchema: the public 500-question subset
        extra.setdefault("note", note)
    return Result(
        benchmark=spec.benchmark,
        model=store.model_name,
        model_revision=spec.model_revision,
        backend=spec.backend,
        protocol=score_spec.protocol,
        metric=metric.headline,
        metrics=agg.metrics,
        intervals=intervals,
        interval_method=boot.method if intervals or group_intervals else None,
        frames=spec.frames.n_frames if spec.backend != "file" else None,
        judge_model=score_spec.judge.model if score_spec.judge else None,
        n_total=len(rows),
        n_benchmark=n_benchmark,
        coverage=coverage_of(bench, spec.annotation_sha256, [s for s, _ in rows], file_samples, n_benchmark,
                             foreign),
        n_scored=agg.n_scored,
        n_failed=sum(not sc.ok for _, sc in rows),
        n_invalid=agg.n_invalid,
        invalid_pct=pct(agg.n_invalid, sum(sc.ok for _, sc in rows)) if metric.reports_invalid else None,
        failed_reasons=failed_reasons(rows),
        groups=agg.groups,
        group_intervals=group_intervals,
        extra=extra,
        provenance=Provenance(kind="reproduced", spec_hash=spec.hash(), score_hash=score_spec.hash()),
        profile=(spec.profile or {}).get("id"),
        overridden=dict((spec.profile or {}).get("overridden") or {}),
        harness_version=harness.__version__,
    )


# -- the whole job -------------------------------------------------------------------------
@dataclass
class Plan:
    """A run whose preflight passed: everything it needs, nothing written yet."""

    req: RunRequest
    bench: Benchmark
    metric: Metric
    adapter: Adapter
    loaded: Loaded
    spec: RunSpec
    shard_id: str | None


def plan(req: RunRequest, problems: Problems | None = None) -> Plan | None:
    """Every check a run makes before any work: the model can be built, the judge is configured, the
    annotations load, the shard is sound, the output folder can be written, the videos are there (or the
    prediction file matches), and --stage score has predictions to score.

    With `problems` (harness.preflight) every failing check adds its line and the others still run; the
    plan is None when any failed. Without, the first failure raises."""
    own = problems is None
    problems = Problems() if own else problems
    before = len(problems.lines)
    bench: Benchmark = req.bench if isinstance(req.bench, Benchmark) else registry.benchmark(req.bench)
    metric: Metric = bench.make_metric()
    adapter = problems.run("model", registry.adapter, req.model, req.options)
    problems.run("judge", check_judge, metric, req, bench)
    loaded = problems.run(f"{bench.name} annotations", _load_samples, req, bench)
    shard_id = problems.run("shard", _shard_id, req)
    problems.run("out", check_writable, req.out)
    spec = None
    if adapter is not None and loaded is not None:
        spec = problems.run("spec", build_spec, adapter, bench, loaded.source, loaded.sha256, req.limit, shard_id)
    if spec is not None and req.stage == "score":
        problems.run(f"{bench.name} predictions", check_predictions_exist,
                     RunStore.path_for(req.out, adapter.name, spec))
    videos = f"{bench.name} videos"
    if adapter is not None and adapter.needs_video and req.stage in ("generate", "all") and not _annotated_paths(loaded):
        problems.run(videos, check_video_root, req.video_root, bench.name)
    if adapter is not None and loaded is not None and req.stage in ("generate", "all"):
        samples = loaded.samples
        if shard_id is not None:
            from harness import shard

            samples = shard.select(samples, shard_id)
        if adapter.needs_video:
            problems.run(videos, check_videos, samples, req.video_root, bench.name)
        if adapter.backend == "file":
            problems.run(f"{bench.name} predictions", check_file_matches, adapter, loaded.file_samples, bench)
    if own:
        problems.raise_if_any()
    if len(problems.lines) > before or adapter is None or loaded is None or spec is None:
        return None  # the CLI raises the problems once every benchmark is planned
    return Plan(req, bench, metric, adapter, loaded, spec, shard_id)


def _annotated_paths(loaded: Loaded | None) -> bool:
    """Every video is named by an absolute path in the annotations (no --video-root needed)."""
    return loaded is not None and all(s.video and Path(s.video).is_absolute() and Path(s.video).exists()
                                      for s in loaded.samples)


def _load_samples(req: RunRequest, bench: Benchmark) -> Loaded:
    loaded = load_samples(bench, req.annotations, req.video_root, req.limit, req.allow_foreign)
    if not loaded.samples:
        raise BadInput(f"no samples in the {bench.name} annotations")
    return loaded


def _shard_id(req: RunRequest) -> str | None:
    if req.shard is None:
        return None
    from harness import shard

    shard_id = shard.normalize(req.shard)
    if req.stage != "generate":
        raise BadInput("--shard only generates: merge the shards with `harness merge`, then run the "
                       "same command without --shard and with --stage score")
    return shard_id


def execute(p: Plan) -> RunOutcome:
    """The run itself: generate and/or score into the run folder, under its lock."""
    req, bench, metric, adapter = p.req, p.bench, p.metric, p.adapter
    samples, file_samples = p.loaded.samples, p.loaded.file_samples
    if req.judge_check is not None and metric.needs_judge and req.stage in ("score", "all"):
        req.judge_check(file_samples, metric)  # a judge that fails the canary scores nothing
    store = RunStore.create(req.out, adapter.name, p.spec)
    with store.lock():  # one writer per run folder, for the whole run
        if not registry.is_builtin(bench.name):  # rescore, compare and the board read it from the run folder
            store.write_benchmark(bench.declaration())
        if p.shard_id is not None:
            from harness import shard

            shard.write_manifest(store, samples, p.shard_id)
            samples = shard.select(samples, p.shard_id)
        n_generated = 0
        if req.stage in ("generate", "all"):
            from harness.executors import make_executor

            executor = make_executor(req.executor)
            executor.check(adapter)
            n_generated = generate(adapter, store, samples, req.progress, executor)
        result = failures = None
        if req.stage in ("score", "all"):
            score_spec = ScoreSpec(metric=metric.name, protocol=req.protocol,
                                   judge=req.judge.spec() if metric.needs_judge else None)
            result = score(store, samples, metric, score_spec, req.judge, req.progress,
                           len(file_samples), file_samples, p.loaded.status)
            failures = failure_summary(store.scores(score_spec), samples)
    return RunOutcome(store.dir, result, n_generated, failures)


def run(req: RunRequest) -> RunOutcome:
    """Preflight, then the run (the library's one call; the CLI plans every benchmark first)."""
    return execute(plan(req))
