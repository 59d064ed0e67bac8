"""`harness judge-check --judge MODEL[@URL] --dream FILE --qa FILE`: does the judge still give known answers?

A canary for judge drift (harness.judge_check): judge questions with known answers, built from your DREAM-1K
and open-ended QA annotation files at run time, asked live. Exit 0 when every judge agrees with at least
--threshold of the known answers, 1 (one line on stderr) when one falls below it, 2 on bad input.
`harness run ... --judge-check` and `harness rescore ... --judge-check` ask the same kind of set, built from
the run's own annotation file, before they score (and score nothing when the judge falls below).
"""

from __future__ import annotations

from harness.cli.help import examples

import json
import sys
from typing import Any

from harness.cli.judge_args import named_judge_configs
from harness.cli.numbers import count, fraction
from harness.errors import BadInput, JudgeCheckFailed

EXAMPLE = examples("harness judge-check --judge gpt-35-turbo-0125 --judge gpt-4o-mini@http://127.0.0.1:8000/v1 "
                   "--dream DREAM-1k.jsonl --qa MSVD-QA-val.jsonl")


def add_parser(sub) -> None:
    from harness.judge_check import DEFAULT_N, DEFAULT_THRESHOLD

    p = sub.add_parser("judge-check", help="ask judges questions with known answers (a canary for judge drift)",
                       description=__doc__.splitlines()[0], epilog=EXAMPLE)
    p.add_argument("--judge", action="append", required=True, metavar="MODEL[@BASE_URL]",
                   help="a judge to check: MODEL (OpenAI or Azure from the environment) or MODEL@BASE_URL (an "
                        "OpenAI-compatible endpoint, key from OPENAI_API_KEY); repeat for several; required")
    p.add_argument("--dream", metavar="FILE", help="DREAM-1K annotations (Tarsier format): AutoDQ checks from "
                                                   "their reference events and descriptions (default: none)")
    p.add_argument("--qa", metavar="FILE", help="open-ended QA annotations in the Tarsier format (MSVD-QA, "
                                                "MSR-VTT-QA, ...): yes/no checks (default: none)")
    p.add_argument("--n", type=count(1, 500), default=DEFAULT_N,
                   help=f"samples taken per part of the set (default {DEFAULT_N})")
    p.add_argument("--threshold", type=fraction, default=DEFAULT_THRESHOLD,
                   help=f"least share of known answers a judge must give (default {DEFAULT_THRESHOLD})")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout (default: a table)")
    p.add_argument("--judge-concurrency", type=count(1), default=64, help="requests in flight per judge")
    # asked live, online, once: no budget, batch or cache flags (judge_config reads them)
    p.set_defaults(handler=run, judge_budget=None, judge_mode="online", batch_wait=None, cache_dir=None)


def add_check_arguments(parser) -> None:
    """--judge-check for `run` and `rescore`."""
    from harness.judge_check import DEFAULT_THRESHOLD

    g = parser.add_argument_group("judge check")
    g.add_argument("--judge-check", action="store_true",
                   help="before scoring, ask the judge questions with known answers built from the run's annotation "
                        "file (harness judge-check); below the threshold, score nothing and exit 1 (default: off)")
    g.add_argument("--judge-check-threshold", type=fraction, default=DEFAULT_THRESHOLD, metavar="SHARE",
                   help=f"least share of known answers the judge must give (default {DEFAULT_THRESHOLD})")


def _load(bench_name: str, path: str):
    from harness import registry

    bench = registry.benchmark(bench_name)
    return bench.samples(bench.load_annotations(path))


def run(args) -> int:
    from harness.judge_check import autodq_checks, qa_checks, run_check, set_sha256
    from harness.settings import Environment

    if not args.dream and not args.qa:
        raise BadInput("judge-check needs annotations to build its questions from: --dream FILE and/or --qa FILE")
    judges = named_judge_configs(args.judge, args, Environment.load())
    checks = []
    if args.dream:
        checks += autodq_checks(_load("dream", args.dream), args.n)
    if args.qa:
        checks += qa_checks(_load("msvd-qa", args.qa), args.n)
    if not checks:
        raise BadInput("no check could be built: the files hold no DREAM-1K events or QA answers")
    set_hash = set_sha256(checks)
    verdicts = run_check(judges, checks, args.threshold)
    if args.json:
        print(json.dumps({"set_sha256": set_hash, "questions": len(checks), "threshold": args.threshold,
                          "judges": [v.to_json() for v in verdicts]}, indent=2))
    else:
        print_verdicts(verdicts, set_hash)
    failed = [v for v in verdicts if not v.passed]
    if failed:
        print("harness: judge-check: " + "; ".join(v.line(set_hash) for v in failed) + ": below the threshold",
              file=sys.stderr)
        return 1
    return 0


def print_verdicts(verdicts, set_hash: str) -> None:
    print(f"check set {set_hash} ({len(verdicts[0].outcomes) if verdicts else 0} questions)")
    for v in verdicts:
        j = v.to_json()
        print(f"  {'ok  ' if v.passed else 'LOW '}{v.line(set_hash)}")
        for part, p in j["parts"].items():
            failed = f", {p['failed_questions']} questions without a valid answer" if p["failed_questions"] else ""
            print(f"      {part}: {p['agree']}/{p['n']} ({100 * p['agreement']:.1f}%){failed}")


def canary(judge: Any, threshold: float):
    """The check `run --judge-check` and `rescore --judge-check` ask before scoring: a callable of the run's
    samples and metric that says how the judge did on stderr, and raises JudgeCheckFailed below the threshold."""
    from harness.judge_check import checks_for, run_check, set_sha256

    def check(samples, metric) -> None:
        checks = checks_for(metric.name, samples)
        if not checks:
            raise BadInput(f"--judge-check: no check can be built from these annotations for {metric.name}")
        (verdict,) = run_check([(judge.model, judge)], checks, threshold)
        set_hash = set_sha256(checks)
        if not verdict.passed:
            raise JudgeCheckFailed(f"judge-check: {verdict.line(set_hash)}: below the threshold; nothing was "
                                   "scored (run `harness judge-check` for details, or drop --judge-check)")
        print(f"harness: judge-check: {verdict.line(set_hash)}: ok", file=sys.stderr)

    return check
