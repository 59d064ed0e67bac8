"""`harness run --model M --bench B[,B2,...]`: generate, score and report, resumably."""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

from harness import registry
from harness.adapter import AdapterOptions
from harness.cli.help import examples
from harness.cli.judge_args import add_judge_arguments, judge_config
from harness.cli.judge_check import add_check_arguments, canary
from harness.cli.numbers import count, fraction, number
from harness.types import MAX_FRAMES
from harness.cli.output import print_result
from harness.errors import BadInput
from harness.runner import RunRequest


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run a model on benchmarks and score it",
                       epilog=examples(
                           "harness run --model tarsier-7b --bench dream            # after `harness data fetch dream`",
                           "harness run --model file:preds.jsonl --bench next-qa --annotations "
                           "Next-QA-val-multi_choice.jsonl",
                           "harness run --model gpt-4o --bench video-mme --annotations DIR --video-root videos --limit 50"))
    p.add_argument("--model", required=True, help="model id (see `harness list models`), file:PATH, ...")
    p.add_argument("--bench", required=True,
                   help="benchmark name(s), comma-separated, or a declaration file (mybench.yaml), "
                        "or an annotation file with --metric")
    p.add_argument("--metric", help="with --bench FILE.jsonl: score that annotation file (a Tarsier format) "
                                    "with this metric, no declaration needed (e.g. multiple_choice)")
    p.add_argument("--allow-foreign-annotations", action="store_true",
                   help="score annotations that do not fit the benchmark (another benchmark's file); "
                        "the result is marked foreign")
    p.add_argument("--limit", type=count(1), help="only the first N samples (the summary says how much of the "
                                                  "benchmark that covers)")
    p.add_argument("--annotations", help="annotation JSONL (Tarsier text or messages format), or a folder of them "
                                         "(default: what `harness data fetch` put in place)")
    p.add_argument("--video-root", help="folder holding the benchmark's videos (default: what `harness data fetch` "
                                        "put in place)")
    p.add_argument("--frames", type=count(1, MAX_FRAMES),
                   help="frames per video (default: the model's; at most what its context holds)")
    p.add_argument("--protocol", choices=["strict", "tarsier"], default="strict",
                   help="strict: invalid answers count as wrong; tarsier: the published code's rules "
                        "(docs/protocols.md)")
    p.add_argument("--out", default="runs", help="run store root (default: runs/)")
    p.add_argument("--stage", choices=["generate", "score", "all"],
                   help="default: all (generate with --shard)")
    p.add_argument("--json", action="store_true", help="print the Result(s) as JSON on stdout")
    p.add_argument("--max-failed", type=fraction, default=0.0,
                   help="fraction of failed samples above which the exit code is 1 (default 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    p.add_argument("--publish", nargs="?", const="results", metavar="DIR",
                   help="write each finished result as a reproduced record into DIR (default: results/)")
    g = p.add_argument_group("model")
    g.add_argument("--model-name", help="name to file and show the run under")
    g.add_argument("--model-path", help="local checkpoint folder instead of the hub id")
    g.add_argument("--revision", help="hub revision (commit) of the checkpoint")
    g.add_argument("--device", help="cuda, cuda:1, cpu ... (default: cuda for local models)")
    g.add_argument("--backend", help="transformers (default) or vllm for local models")
    g.add_argument("--base-url", help="endpoint for openai-compatible:NAME models")
    g.add_argument("--batch-size", type=count(1), help="samples per batch for local models (default: the model's)")
    g.add_argument("--max-new-tokens", type=count(1), help="generation length (default: the model's profile, 512 "
                                                           "for Tarsier)")
    g.add_argument("--concurrency", type=count(1), default=16, help="parallel requests for API models")
    g.add_argument("--detail", choices=["low", "high", "auto"], help="image detail for OpenAI vision models")
    g.add_argument("--dtype", choices=["float16", "bfloat16", "float32"],
                   help="weights dtype for local models (default: the model's published one)")
    g.add_argument("--gemini-input", choices=["video", "frames"],
                   help="Gemini: upload the video (default) or send the sampled frames")
    x = p.add_argument_group("execution")
    x.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: this process (default); ray: model replicas as Ray actors")
    x.add_argument("--ray-address", metavar="ADDR",
                   help="join this Ray cluster (e.g. auto, HOST:6379, ray://HOST:10001); default: start Ray here")
    x.add_argument("--replicas", type=count(1), metavar="N",
                   help="model replicas (default: one per --gpus-per-replica GPUs in the cluster, or 1)")
    x.add_argument("--gpus-per-replica", type=number(0), metavar="N", help="GPUs per replica (default 0)")
    x.add_argument("--cpus-per-replica", type=number(0), metavar="N", help="CPUs per replica (default 1)")
    x.add_argument("--shard", metavar="I/N",
                   help="generate only shard I of N (samples at positions k with k mod N = I) into its own "
                        "run directory; combine the shards with `harness merge`")
    add_judge_arguments(p)
    add_check_arguments(p)
    p.set_defaults(handler=run)


def adapter_options(args, env, bench=None) -> AdapterOptions:
    """The options of the run: the command line, then the model's profile for what it leaves open
    (a benchmark that fixes its frame count gives it unless --frames does)."""
    from harness.adapters.profiles import profile_options

    name = getattr(bench, "name", bench)
    return profile_options(args.model, name, _options(args, env, bench))[0]


def _options(args, env, bench=None) -> AdapterOptions:
    frames = args.frames if args.frames is not None else getattr(bench, "frames", None)
    return AdapterOptions(
        model_path=args.model_path, revision=args.revision, device=args.device, backend=args.backend,
        base_url=args.base_url, frames=frames, batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens, concurrency=args.concurrency, detail=args.detail,
        cache_dir=args.cache_dir, display_name=args.model_name, protocol=getattr(args, "protocol", "strict"),
        env=env,
        extra={k: v for k, v in (("dtype", getattr(args, "dtype", None)),
                                 ("gemini_input", getattr(args, "gemini_input", None))) if v},
    )


def executor_settings(args):
    from harness.executors import ExecutorSettings

    if args.executor != "ray":
        for flag in ("ray_address", "replicas", "gpus_per_replica", "cpus_per_replica"):
            if getattr(args, flag) is not None:
                raise BadInput(f"--{flag.replace('_', '-')} applies to --executor ray")
        return ExecutorSettings()
    if args.replicas is not None and args.replicas < 1:
        raise BadInput("--replicas must be at least 1")
    gpus = args.gpus_per_replica or 0.0
    cpus = 1.0 if args.cpus_per_replica is None else args.cpus_per_replica
    if gpus < 0 or cpus < 0:
        raise BadInput("--gpus-per-replica and --cpus-per-replica cannot be negative")
    from harness.executors import import_ray

    import_ray()  # a missing Ray is one line before any work
    return ExecutorSettings(kind="ray", ray_address=args.ray_address, replicas=args.replicas,
                            gpus_per_replica=gpus, cpus_per_replica=cpus)


def run(args) -> int:
    from harness.cli.data import data_defaults
    from harness.preflight import Problems
    from harness.runner import plan
    from harness.settings import Environment

    names = [b.strip() for b in args.bench.split(",") if b.strip()]
    if not names:
        raise BadInput("--bench needs at least one benchmark name")
    if args.annotations and len(names) > 1 and not Path(args.annotations).is_dir():
        raise BadInput("with several benchmarks, --annotations must be a folder holding their annotation files")
    if args.stage is None:
        args.stage = "generate" if args.shard else "all"
    # Preflight: every check before any work, each problem one line, all of them at once (harness.preflight).
    problems = Problems()
    benches = [b for b in (problems.run(f"bench {n}", _benchmark, n, args.metric) for n in names) if b is not None]
    executor = problems.run("executor", executor_settings, args)
    env = problems.run("environment", Environment.load)  # every environment variable, read once
    if env is None:
        problems.raise_if_any()
    if benches and args.stage != "score" and args.executor == "local":
        # can this model run here at all? (GPU, weights, extras, API keys; Ray checks where its actors run)
        problems.run("model check", lambda: registry.adapter(args.model, adapter_options(args, env, benches[0])).check())
    judge = None
    if any(b.needs_judge for b in benches) and args.stage != "generate":
        judge = problems.run("judge", judge_config, args, env)
    if args.publish:
        from harness.paths import check_writable

        problems.run("publish", check_writable, args.publish, "--publish")
    plans = []
    for declared in benches:
        annotations, video_root = problems.run(f"{declared.name} data", data_defaults, declared, args.annotations,
                                               args.video_root) or (args.annotations, args.video_root)
        options = problems.run("model", adapter_options, args, env, declared)
        if options is None:
            continue
        req = RunRequest(
            model=args.model, bench=declared, options=options,
            annotations=annotations, video_root=video_root, limit=args.limit, protocol=args.protocol,
            out=args.out, stage=args.stage, judge=judge, progress=not args.no_progress,
            executor=executor, shard=args.shard, allow_foreign=args.allow_foreign_annotations,
            judge_check=canary(judge, args.judge_check_threshold) if args.judge_check and judge else None,
        )
        plans.append(plan(req, problems))
    problems.raise_if_any()

    results, exit_code = [], 0
    for p in plans:
        result = _run_one(p, args)
        if result is None:
            continue
        results.append(result)
        if result.n_total and result.n_failed / result.n_total > args.max_failed:
            exit_code = 1
    if args.json:
        payload = [r.model_dump(mode="json") for r in results]
        print(json.dumps(payload[0] if len(payload) == 1 else payload, indent=2))
    else:
        for r in results:
            print_result(r)
    return exit_code


def _benchmark(name: str, metric: str | None):
    bench = registry.bench_arg(name, metric)  # unknown names fail before any work
    if bench.metric is None:
        raise BadInput(f"benchmark {bench.name} is shown from published numbers only: it declares no metric")
    return bench


def _run_one(p, args):
    """One planned benchmark: run it, say where it went and what its failures need."""
    from harness.runner import execute

    bench = p.bench.name
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries results only (Ray's worker
        outcome = execute(p)                      # and raylet messages print to sys.stdout)
    print(f"harness: {bench}: {outcome.n_generated} new predictions; run directory {outcome.run_dir}",
          file=sys.stderr)
    result = outcome.result
    if result is None:
        return None
    if args.publish:
        from harness.results import publish_result

        path = publish_result(result, args.publish, run_dir=outcome.run_dir, runs_root=args.out, bench=p.bench)
        print(f"harness: {bench}: published {path}", file=sys.stderr)
    report_failures(result, outcome.failures, bench, args.model, args.max_failed)
    return result


def report_failures(result, failures, bench: str, model: str, max_failed: float) -> None:
    """What failed, and advice that works for each reason (a retry only where a retry can fix it)."""
    from harness.failures import advice
    from harness.redact import redact_urls

    if not result.n_failed or failures is None:
        return
    if result.n_total and result.n_failed / result.n_total > max_failed:
        print(f"harness: {bench}: {result.n_failed} of {result.n_total} samples failed (above --max-failed "
              f"{max_failed:g})", file=sys.stderr)
    prediction_file = model.split(":", 1)[1] if model.startswith("file:") else None
    for line in advice(failures, bench, prediction_file):
        print(f"harness: {bench}: {redact_urls(line)}", file=sys.stderr)
