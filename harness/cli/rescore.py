"""`harness rescore RUN_DIR --judge-model X`: score a run's predictions again under another judge.

The predictions are read from the run folder; the annotations are reloaded from where the run
spec says they came from (or --annotations) and must match the recorded checksum. The scores go to
the score folder of the new (metric, protocol, judge) spec: existing score folders are never
touched, and the same command resumes (finished scores are not redone).
"""

from __future__ import annotations

import json
import sys

from harness.cli.help import examples
from harness.cli.judge_args import add_judge_arguments
from harness.cli.judge_check import add_check_arguments, canary
from harness.cli.numbers import fraction
from harness.cli.output import print_result
from harness.errors import BadInput
from harness.store import RunStore
from harness.types import ScoreSpec


def add_parser(sub) -> None:
    p = sub.add_parser("rescore", help="score a run's predictions again (another judge or protocol)",
                       epilog=examples("harness rescore runs/tarsier-7b/dream/1f2e3d4c5b6a7988 --judge-model gpt-4o-mini",
                                       "harness rescore runs/file_preds/next-qa/0c99aaf5abc6efe1 --protocol tarsier"))
    p.add_argument("run_dir", help="a run folder (holds spec.json and predictions.jsonl)")
    p.add_argument("--annotations", help="the annotation file, when it moved since the run (checksum verified)")
    p.add_argument("--protocol", choices=["strict", "tarsier"], default="strict",
                   help="strict: invalid answers count as wrong; tarsier: the published code's rules (docs/protocols.md)")
    p.add_argument("--json", action="store_true", help="print the Result as JSON on stdout")
    p.add_argument("--max-failed", type=fraction, default=0.0,
                   help="fraction of failed samples above which the exit code is 1 (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    add_judge_arguments(p)
    add_check_arguments(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from harness.runner import run_samples, score

    store = RunStore.open(args.run_dir)
    if store.spec.shard is not None:
        raise BadInput(f"{store.dir} is shard {store.spec.shard}, which only generates; merge the shards "
                       "with `harness merge` and rescore the merged run")
    if not store.predictions_path.exists():
        raise BadInput(f"{store.dir} has no predictions yet: run `harness run ... --stage generate` first")
    bench, all_samples, n_run, status = run_samples(store, args.annotations)
    samples = all_samples[:n_run]
    metric = bench.make_metric()
    judge = None
    if bench.needs_judge:
        from harness.cli.judge_args import judge_config
        from harness.settings import Environment

        judge = judge_config(args, Environment.load())
        if not judge.configured():
            from harness.errors import JudgeNotConfigured

            raise JudgeNotConfigured(
                f"benchmark {bench.name} is scored by an LLM judge and none is configured: pass "
                "--judge-base-url URL (OpenAI-compatible) or set OPENAI_API_KEY, or AZURE_OPENAI_ENDPOINT "
                "and AZURE_OPENAI_API_KEY")
    score_spec = ScoreSpec(metric=metric.name, protocol=args.protocol, judge=judge.spec() if judge else None)
    if args.judge_check and judge is not None:
        canary(judge, args.judge_check_threshold)(all_samples, metric)
    with store.lock():  # one writer per run folder
        result = score(store, samples, metric, score_spec, judge, not args.no_progress, len(all_samples),
                       all_samples, status)
    print(f"harness: {bench.name}: scores in {store.score_dir(score_spec)}", file=sys.stderr)
    from harness.cli.run import report_failures
    from harness.failures import failure_summary

    # the prediction file is named by the failures' reasons (the run spec keeps its name, not its path)
    report_failures(result, failure_summary(store.scores(score_spec), samples), bench.name, "", args.max_failed)
    exit_code = 1 if result.n_total and result.n_failed / result.n_total > args.max_failed else 0
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print_result(result)
    return exit_code
