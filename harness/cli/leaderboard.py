"""`harness leaderboard build`: the static leaderboard site with its per-sample explorer."""

from __future__ import annotations

import sys
import time

from harness.cli.help import examples
from harness.cli.numbers import count


def add_parser(sub) -> None:
    p = sub.add_parser("leaderboard", help="build the static leaderboard site",
                       epilog=examples("harness leaderboard build --runs runs --out site"))
    ls = p.add_subparsers(dest="leaderboard_command", required=True, parser_class=type(p))
    b = ls.add_parser("build", help="build the site from results/ (and runs/ for the explorer)",
                      epilog=examples("harness leaderboard build --runs runs --out site   # then open site/index.html",
                                      "harness leaderboard build --runs runs --include-runs --video-root dream=DREAM-1K/videos"))
    b.add_argument("--results", default="results", help="records folder (default: results/)")
    b.add_argument("--runs", default=None,
                   help="run store root for the per-sample explorer (default: runs/ when it exists); its "
                        "results enter the tables only when published to results/ (or with --include-runs)")
    b.add_argument("--include-runs", action="store_true",
                   help="also show the runs' unpublished results in the tables, marked unpublished and "
                        "never ranked")
    b.add_argument("--out", default="site", help="output folder (default: site/)")
    b.add_argument("--video-root", action="append", default=[],
                   help="folder with benchmark videos, for the explorer's frame strips (repeatable; "
                        "DIR or BENCH=DIR)")
    b.add_argument("--annotations", action="append", default=[], metavar="DIR",
                   help="folder with the annotation files the runs used, when they are no longer at "
                        "their recorded path (repeatable)")
    b.add_argument("--frames", type=count(0, 64), default=8,
                   help="frames per strip in the explorer (default 8; 0: no strips)")
    b.add_argument("--no-plots", action="store_true", help="skip the matplotlib figures")
    b.add_argument("--no-run-files", action="store_true",
                   help="do not copy each run's files (spec, predictions, scores, result) into the site "
                        "(default: copied to site/runs/<hash>/ and linked from its run page and the explorer)")
    b.add_argument("--timings", action="store_true", help="print how long each step took")
    b.add_argument("--title", default="Video-language model leaderboard", help="the site's title")
    b.set_defaults(handler=build)


def build(args) -> int:
    from harness.leaderboard.build import BuildOptions, build_site

    t0 = time.perf_counter()
    report = build_site(BuildOptions(
        results=args.results, runs=args.runs, out=args.out, video_roots=args.video_root,
        annotation_dirs=args.annotations,
        strip_frames=args.frames, plots=not args.no_plots, title=args.title, include_runs=args.include_runs,
        run_files=not args.no_run_files,
    ))
    if args.timings:
        print("harness: " + ", ".join(f"{k} {v:.2f} s" for k, v in report.timings.items()), file=sys.stderr)
    for line in report.warnings:
        print(f"harness: warning: {line}", file=sys.stderr)
    print(f"harness: site written to {report.out} ({report.n_records} records, {report.n_runs} runs, "
          f"{report.n_pages} pages) in {time.perf_counter() - t0:.1f} s; open {report.out / 'index.html'}")
    return 0
