"""`harness results check|import-published|publish`: the committed result records (results/)."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.cli.help import examples
from harness.errors import BadInput


def add_parser(sub) -> None:
    p = sub.add_parser("results", help="check, import or publish result records (results/)",
                       epilog=examples("harness results check", "harness results publish runs/tarsier-7b/dream/1f2e3d4c5b6a7988"))
    rs = p.add_subparsers(dest="results_command", required=True, parser_class=type(p))

    c = rs.add_parser("check", help="validate every record; one line per problem, exit 2 if any",
                      epilog=examples("harness results check", "harness results check results/dream/tarsier-7b.json"))
    c.add_argument("--results", default="results", help="records folder (default: results/)")
    c.add_argument("paths", nargs="*", help="only these record files (default: every record in --results)")
    c.set_defaults(handler=check)

    i = rs.add_parser("import-published", help="convert the transcribed published CSVs into records",
                      epilog=examples("harness results import-published --published ../published --out results"))
    i.add_argument("--published", help="folder of the CSVs (default: $HARNESS_SHARED/published or ../shared/published)")
    i.add_argument("--out", default="results", help="records folder (default: results/)")
    i.set_defaults(handler=import_published)

    u = rs.add_parser("publish", help="write reproduced records for a finished run directory",
                      epilog=examples("harness results publish runs/tarsier-7b/dream/1f2e3d4c5b6a7988 --runs runs"))
    u.add_argument("run_dir", nargs="+", help="finished run directories (runs/<model>/<bench>/<hash>)")
    u.add_argument("--results", default="results", help="records folder (default: results/)")
    u.add_argument("--runs", help="run store root, to record the run's path relative to it")
    u.set_defaults(handler=publish)


def check(args) -> int:
    from harness.results import check_dir, check_file

    if args.paths:
        problems, n = [], 0
        for p in args.paths:
            path = Path(p)
            if not path.is_file():
                problems.append(f"{path}: no such file")
                continue
            rec, probs = check_file(path)
            problems += probs
            n += rec is not None
    else:
        records, problems = check_dir(args.results)
        n = len(records)
    for line in problems:
        print(f"harness: {line}", file=sys.stderr)
    if problems:
        return 2
    print(f"harness: {n} records ok")
    return 0


def import_published(args) -> int:
    from harness.published import default_published_dir, import_published as run_import

    src = Path(args.published) if args.published else default_published_dir()
    written, unchanged, removed = run_import(src, args.out)
    print(f"harness: {written} records written, {unchanged} unchanged, {removed} stale removed in {args.out}/")
    return 0


def publish(args) -> int:
    from harness.results import publish_run

    for run_dir in args.run_dir:
        if not Path(run_dir).is_dir():
            raise BadInput(f"not a run directory: {run_dir}")
        for path in publish_run(run_dir, args.results, runs_root=args.runs):
            print(f"harness: published {path}")
    return 0
