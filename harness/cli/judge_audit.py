"""`harness judge-audit RUN_DIR --judge A --judge B`: how far do two judges agree on the same predictions?

Each judge scores the run as `harness rescore` would (its own score folder; nothing already judged is asked
again), then every pair of judges is compared (harness.judge_audit): label agreement with Cohen's kappa and a
confusion table, the paired difference of the headline with its clustered bootstrap interval and p-value,
the samples where they disagree most (with explorer permalinks); `--judge-repeats K` adds each judge's own
variance. The audit is written to RUN_DIR/audits/<hash>.json, where `harness leaderboard build` finds it.
"""

from __future__ import annotations

from harness.cli.help import examples

import json
import sys
from typing import Any

from harness import stats
from harness.cli.judge_args import add_judge_arguments, named_judge_configs
from harness.cli.numbers import count, fraction, number
from harness.errors import BadInput
from harness.store import RunStore

EXAMPLE = examples("harness judge-audit runs/tarsier-7b/dream/0123abcd4567ef89 "
                   "--judge gpt-35-turbo-0125@http://127.0.0.1:8000/v1 --judge gpt-4o-mini --judge-repeats 3")


def add_parser(sub) -> None:
    p = sub.add_parser("judge-audit", help="score a run under several judges and measure how far they agree",
                       description=__doc__.splitlines()[0], epilog=EXAMPLE)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder (holds spec.json and predictions.jsonl)")
    p.add_argument("--judge", action="append", required=True, metavar="MODEL[@BASE_URL]",
                   help="a judge: MODEL (OpenAI or Azure from the environment, as --judge-model) or MODEL@BASE_URL "
                        "(an OpenAI-compatible endpoint, key from OPENAI_API_KEY, as --judge-base-url); give it "
                        "twice or more (once is enough with --judge-repeats 2 or more); required")
    p.add_argument("--judge-repeats", type=count(1, 20), default=1, metavar="K",
                   help="ask every judge question K times (K-1 more times than the scoring did; each its own cache "
                        "entries) and report the headline's spread from the judge alone (default 1: no repeats)")
    p.add_argument("--judge-temperature", type=number(0.0, 2.0), metavar="T",
                   help="ask all K repeats at this temperature (default: none sent, the protocol's API default; "
                        "repeat 0 is then the judge's own scoring)")
    p.add_argument("--protocol", choices=["strict", "tarsier"], default="strict",
                   help="the protocol the judges score under (default strict)")
    p.add_argument("--annotations", help="the run's annotation file, when it moved since the run (checksum "
                                         "verified; default: the path the run recorded)")
    p.add_argument("--resamples", type=count(1), default=stats.N_RESAMPLES,
                   help=f"bootstrap resamples and permutations for the paired difference (default {stats.N_RESAMPLES})")
    p.add_argument("--seed", type=int, default=stats.SEED, help=f"random seed (default {stats.SEED})")
    p.add_argument("--top", type=count(0, 1000), default=10,
                   help="disagreeing samples listed per pair of judges (default 10)")
    p.add_argument("--max-failed", type=fraction, default=0.0,
                   help="fraction of failed samples (under any judge) above which the exit code is 1 (default 0)")
    p.add_argument("--json", action="store_true", help="print the audit as JSON on stdout (default: a report)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: bars on stderr)")
    add_judge_arguments(p, which=False)
    p.set_defaults(handler=run)


def judge_configs(args, env) -> list[tuple[str, Any]]:
    from harness.judge_audit import MAX_JUDGES

    if len(args.judge) > MAX_JUDGES:
        raise BadInput(f"at most {MAX_JUDGES} judges in one audit, got {len(args.judge)}")
    if args.judge_temperature is not None and args.judge_repeats < 2:
        raise BadInput("--judge-temperature applies to the repeats: give --judge-repeats 2 or more")
    if len(args.judge) < 2 and args.judge_repeats < 2:
        raise BadInput("an audit needs two judges (--judge A --judge B), or one judge with --judge-repeats 2 or more")
    return named_judge_configs(args.judge, args, env)


def run(args) -> int:
    from harness.judge_audit import Plan, Settings, audit, comparer_for, score_judges, write_audit
    from harness.runner import run_samples
    from harness.settings import Environment

    store = RunStore.open(args.run_dir)
    if store.spec.shard is not None:
        raise BadInput(f"{store.dir} is shard {store.spec.shard}, which only generates; merge the shards "
                       "with `harness merge` and audit the merged run")
    bench, all_samples, n_run, status = run_samples(store, args.annotations)
    metric = bench.make_metric()
    if not bench.needs_judge:
        raise BadInput(f"{bench.name} is scored without a judge ({metric.name}): there is no judge to audit")
    comparer_for(metric)
    judges = judge_configs(args, Environment.load())
    if not store.predictions_path.exists():
        raise BadInput(f"{store.dir} has no predictions yet; run `harness run ... --stage generate` first")
    plan = Plan(store, all_samples[:n_run], all_samples, status, metric, args.protocol, judges,
                args.judge_repeats, args.judge_temperature, not args.no_progress)
    settings = Settings(args.resamples, args.seed, args.top)
    with store.lock():
        scored = score_judges(plan)
        report = audit(plan, scored, settings)
        path = write_audit(store, report)
    print(f"harness: {bench.name}: audit written to {path}", file=sys.stderr)
    exit_code = 0
    for j in report["judges"]:
        if j["n_total"] and j["n_failed"] / j["n_total"] > args.max_failed:
            print(f"harness: {bench.name}: judge {j['label']} ({j['name']}): {j['n_failed']} of {j['n_total']} "
                  f"samples failed (above --max-failed {args.max_failed}); run the same command to retry them",
                  file=sys.stderr)
            exit_code = 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_audit(report)
    return exit_code


# -- the report --------------------------------------------------------------------------------------
def _f(v: Any, digits: int = 2, sign: bool = False) -> str:
    if not isinstance(v, (int, float)):
        return "-"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def _pct(v: Any) -> str:
    return "-" if not isinstance(v, (int, float)) else f"{100 * v:.1f}%"


def print_audit(a: dict[str, Any]) -> None:
    run = a["run"]
    print(f"{run['benchmark']} ({a['metric']}, protocol {a['protocol']}): {run['model']}, {run['n_samples']} samples; "
          f"judge calls in this audit: {a['usage']['calls']} (+{a['usage']['batch_calls']} batch), "
          f"{a['usage']['cache_hits']} from the cache")
    for j in a["judges"]:
        print_judge(j, a["headline"])
    for pair in a["pairs"]:
        print_pair(pair, a)


def print_judge(j: dict[str, Any], headline: str) -> None:
    iv = j["intervals"].get(headline)
    ident = j["identity"] or {}
    dates = f", calls {ident.get('first_call')} to {ident.get('last_call')}" if ident.get("first_call") else ""
    flag = "  ANSWERED BY ANOTHER MODEL" if ident.get("answered_differs") else ""
    print(f"  {j['label']} = {j['name']}: {headline} {_f(j['metrics'].get(headline))}"
          f"{f' [{_f(iv[0])}, {_f(iv[1])}]' if iv else ''}, scored {j['n_scored']}/{j['n_total']}, "
          f"failed {j['n_failed']}; answered by {', '.join(ident.get('answered') or []) or '-'}{dates}{flag}")
    rep = j.get("repeats")
    if rep:
        s = rep["spread"].get(headline) or {}
        vals = ", ".join(_f(v) for v in s.get("values") or [])
        iv = s.get("video_interval")
        width = _f(iv[1] - iv[0]) if iv else "-"
        spread = _f(s["max"] - s["min"]) if s.get("min") is not None else "-"
        kappas = ", ".join(_f(x["kappa"], 3) for x in rep["self_agreement"])
        print(f"    {rep['k']} repeats on {rep['n_common']} samples: {headline} {vals}; judge alone: sd "
              f"{_f(s.get('sd'))}, range {spread} (videos: 95% interval width {width}); kappa with repeat 0: {kappas}")


def print_pair(p: dict[str, Any], a: dict[str, Any]) -> None:
    print(f"{p['b']} vs {p['a']} on {p['n_common']} samples scored by both ({p.get('n_clusters', 0)} videos):")
    lab = p.get("labels")
    if lab is None:
        print("  no sample was scored by both")
        return
    what = "event labels" if a["metric"] == "autodq" else "yes/no verdicts"
    print(f"  {what}: {lab['n']} pairs, agreement {_pct(lab['agreement'])}, Cohen's kappa {_f(lab['kappa'], 3)}")
    classes = lab["classes"]
    width = max(len(c) for c in classes) + 2
    print("    " + f"{p['a']} \\ {p['b']}".ljust(width + 2) + "".join(c.rjust(width) for c in classes))
    for c in classes:
        print("    " + c.ljust(width + 2) + "".join(str(lab["confusion"][c][d]).rjust(width) for d in classes))
    for side, v in (lab.get("by_side") or {}).items():
        print(f"    {side} side: {v['n']} pairs, agreement {_pct(v['agreement'])}, kappa {_f(v['kappa'], 3)}"
              + (f", {v['samples_not_aligned']} samples with different events" if v["samples_not_aligned"] else ""))
    if "extracted_events" in p:
        e, f1 = p["extracted_events"], p["per_sample_f1"]
        print(f"  extracted events: different counts on {_pct(e['share_different'])} of samples, mean "
              f"{p['b']} - {p['a']} {_f(e['mean_diff'], 2, True)}")
        print(f"  per-sample F1: mean {p['b']} - {p['a']} {_f(f1['mean_diff'], 2, True)}, mean |difference| "
              f"{_f(f1['mean_abs_diff'])}, different on {_pct(f1['share_different'])} of samples")
    if "scores" in p:
        sc = p["scores"]
        print(f"  scores (0-5): Pearson r {_f(sc['pearson'], 3)}, mean {p['b']} - {p['a']} "
              f"{_f(sc['mean_diff'], 2, True)}")
    for k, h in p["headline"].items():
        iv = h["interval"]
        print(f"  {k}: {p['a']} {_f(h['a'])}, {p['b']} {_f(h['b'])}, {p['b']} - {p['a']} {_f(h['diff'], 2, True)}"
              f"{f' [{_f(iv[0], 2, True)}, {_f(iv[1], 2, True)}]' if iv else ''}, {h['p_text']}")
    if p["disagreements"]:
        print(f"  most disagreeing samples ({p['n_disagreeing']} in all):")
        for d in p["disagreements"]:
            print(f"    {d['sample_id']}: {_side(d['a'])} vs {_side(d['b'])}  {d['explorer']}")


def _side(v: dict[str, Any]) -> str:
    if "f1" in v:
        return f"F1 {_f(v['f1'], 1)} ({v['n_events_pred']} events)"
    return f"{v['pred']} {_f(v['score'], 1)}"
