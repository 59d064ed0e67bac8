"""The judge flags, shared by `harness run` and `harness rescore`."""

from __future__ import annotations

from harness.cli.numbers import count, number


def add_judge_arguments(parser) -> None:
    j = parser.add_argument_group("judge")
    j.add_argument("--judge-model", default="gpt-35-turbo-0125")
    j.add_argument("--judge-base-url", help="OpenAI-compatible endpoint (vLLM, SGLang, Ollama, ...)")
    j.add_argument("--judge-concurrency", type=count(1), default=64)
    j.add_argument("--judge-budget", type=number(0), help="stop cleanly before spending more than this (USD)")
    j.add_argument("--judge-mode", choices=["online", "batch"], default="online",
                   help="online (default): live calls; batch: the provider's batch API at batch prices, "
                        "resumable (the same command re-attaches to the open batches)")
    j.add_argument("--batch-wait", type=number(0), metavar="SECONDS",
                   help="with --judge-mode batch: wait this long for batches, then exit 1 with nothing lost "
                        "(default 86400)")
    j.add_argument("--cache-dir", help="judge and frame cache (default: the user cache directory)")
