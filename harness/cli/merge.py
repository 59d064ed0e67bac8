"""`harness merge SHARD_DIR... --out ROOT`: combine `--shard I/N` runs into the unsharded run.

The merged run lands where `harness run` without --shard would put it (same spec, same hash),
so the same command with `--stage score` scores it (see harness.shard for the rules).
"""

from __future__ import annotations

import sys

from harness.cli.help import examples
from harness.shard import merge


def add_parser(sub) -> None:
    p = sub.add_parser("merge", help="combine the shards of a run made with --shard I/N",
                       epilog=examples("harness merge shard0/tarsier-7b/dream/* shard1/tarsier-7b/dream/* --out runs"))
    p.add_argument("shard_dirs", nargs="+", metavar="SHARD_DIR", help="run directories made with --shard")
    p.add_argument("--out", default="runs", help="run store root for the merged run (default: runs/)")
    p.set_defaults(handler=run)


def run(args) -> int:
    outcome = merge(args.shard_dirs, args.out)
    verb = "already merged" if outcome.already else "merged"
    print(f"harness: {verb} {len(args.shard_dirs)} shards, {outcome.n_samples} samples; run directory "
          f"{outcome.run_dir}", file=sys.stderr)
    if outcome.n_failed:
        print(f"harness: {outcome.n_failed} samples have failed predictions; `harness run` without --shard "
              "retries them in the merged run", file=sys.stderr)
    print(outcome.run_dir)
    return 0
