"""The judge flags, shared by `harness run` and `harness rescore`, and the judge's client config built from them.

The judge is a role of the model client (harness.client): these flags and the environment decide which
endpoint, model, limits and transport it gets. Only the CLI reads them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from harness.cli.numbers import count, number
from harness.errors import BadInput
from harness.judge_identity import OFFICIAL_MODEL as DEFAULT_JUDGE_MODEL  # the protocol's judge

if TYPE_CHECKING:
    from harness.client.config import ClientConfig
    from harness.settings import Environment


def add_judge_arguments(parser, which: bool = True) -> None:
    """The judge flags; which=False leaves out --judge-model and --judge-base-url (a command naming its
    judges otherwise, such as judge-audit's --judge MODEL@URL)."""
    j = parser.add_argument_group("judge")
    if which:
        j.add_argument("--judge-model", default=DEFAULT_JUDGE_MODEL,
                       help="the judge's model name (the protocol's own by default; another one is its own column)")
        j.add_argument("--judge-base-url", help="OpenAI-compatible endpoint (vLLM, SGLang, Ollama, ...)")
    j.add_argument("--judge-concurrency", type=count(1), default=64, help="judge requests in flight at once")
    j.add_argument("--judge-budget", type=number(0), help="stop cleanly before spending more than this (USD)")
    j.add_argument("--judge-mode", choices=["online", "batch"], default="online",
                   help="online (default): live calls; batch: the provider's batch API at batch prices, "
                        "resumable (the same command re-attaches to the open batches)")
    j.add_argument("--batch-wait", type=number(0), metavar="SECONDS",
                   help="with --judge-mode batch: wait this long for batches, then exit 1 with nothing lost "
                        "(default 86400)")
    j.add_argument("--cache-dir", help="judge, API model and frame cache (default: $HARNESS_CACHE_DIR, else the "
                                       "user cache directory)")


def judge_config(args, env: "Environment") -> "ClientConfig":
    """The judge's client config from the parsed flags and the environment (one line of BadInput when wrong)."""
    from harness.client.config import PRICES, judge_limits, openai_config

    model = args.judge_model or DEFAULT_JUDGE_MODEL
    if args.judge_concurrency < 1:
        raise BadInput("--judge-concurrency must be at least 1")
    budget = args.judge_budget
    if budget is not None and (not math.isfinite(budget) or budget <= 0):
        raise BadInput("--judge-budget must be a positive amount in USD")
    price = env.judge_price or PRICES.get(model)
    if budget is not None and price is None:
        raise BadInput(f"--judge-budget needs a price for judge model {model}; set "
                       "HARNESS_JUDGE_PRICE=IN,OUT (USD per million input, output tokens)")
    batch_wait = args.batch_wait
    if batch_wait is not None:
        if args.judge_mode != "batch":
            raise BadInput("--batch-wait applies to --judge-mode batch")
        if not math.isfinite(batch_wait) or batch_wait < 0:
            raise BadInput("--batch-wait must be a non-negative number of seconds")
    return openai_config(env, role="judge", model=model, base_url=args.judge_base_url,
                         concurrency=args.judge_concurrency, budget=budget, price=price,
                         cache_root=args.cache_dir or env.cache_dir, mode=args.judge_mode,
                         batch_wait=86400.0 if batch_wait is None else float(batch_wait), **judge_limits(env))


def named_judge_configs(texts: list[str], args, env: "Environment") -> list[tuple[str, "ClientConfig"]]:
    """(name, ClientConfig) for each MODEL or MODEL@BASE_URL (judge-audit's and judge-check's --judge): each
    built as --judge-model MODEL --judge-base-url BASE_URL would be, with the command's other judge flags."""
    import argparse

    from harness.errors import JudgeNotConfigured
    from harness.judge_audit import parse_judge
    from harness.judge_identity import safe_url

    out = []
    for text in texts:
        model, url = parse_judge(text)
        config = judge_config(argparse.Namespace(**{**vars(args), "judge_model": model, "judge_base_url": url}), env)
        name = model + (f"@{safe_url(url)}" if url else "")
        if not config.configured():
            raise JudgeNotConfigured(f"--judge {name}: no credentials for it: set OPENAI_API_KEY, or "
                                     "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY, or give MODEL@BASE_URL")
        out.append((name, config))
    return out
