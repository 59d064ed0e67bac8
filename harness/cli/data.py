"""`harness data fetch BENCH` and `harness data check --bench B`: a benchmark's data, fetched or checked.

fetch: a benchmark whose annotations and videos are on the Hugging Face hub (its declaration's `data.hub`)
is downloaded through huggingface_hub into the data folder, its videos unpacked and every file's
checksum recorded (harness.data); for the others it prints where their files are published and how
--video-root must be laid out (and fetches nothing; exit 0).
check: every video of the benchmark, missing or unreadable (probed by content), before a run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import registry
from harness.cli.help import examples
from harness.errors import BadInput

SHOWN = 5  # names listed per kind of problem (all of them with --all)


def add_parser(sub) -> None:
    p = sub.add_parser("data", help="fetch a benchmark's data, or check its videos before a run",
                       epilog=examples("harness data fetch dream", "harness data check --bench dream"))
    ds = p.add_subparsers(dest="data_command", required=True, metavar="{fetch,check}", parser_class=type(p))

    f = ds.add_parser("fetch", help="download a benchmark's annotations and videos (Hugging Face hub), or say "
                                    "where to get them",
                      epilog=examples("harness data fetch dream                 # into the data folder",
                                      "harness data fetch dream --to /big/disk  # then HARNESS_DATA_DIR=/big/disk",
                                      "harness data fetch next-qa               # where to get it, and the layout"))
    f.add_argument("bench", metavar="BENCH", help="a benchmark name (see `harness list benchmarks`) or a declaration "
                                                  "file (mybench.yaml) with a data: block")
    f.add_argument("--to", metavar="DIR", help="data folder (default: $HARNESS_DATA_DIR, else the user data folder, "
                                               "e.g. ~/.local/share/video-harness); the files go to DIR/BENCH/")
    f.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    f.set_defaults(handler=fetch)

    c = ds.add_parser("check", help="list a benchmark's missing and unreadable videos (by content), before a run",
                      epilog=examples("harness data check --bench dream",
                                      "harness data check --bench next-qa --annotations Next-QA-val-multi_choice.jsonl "
                                      "--video-root videos/nextqa"))
    c.add_argument("--bench", required=True, help="benchmark name or declaration file (mybench.yaml)")
    c.add_argument("--video-root", help="folder holding the benchmark's videos (default: the fetched one)")
    c.add_argument("--annotations", help="annotation file or folder (default: the fetched one, or the declaration's)")
    c.add_argument("--limit", type=_positive, help="only the first N samples (as `harness run --limit`)")
    c.add_argument("--all", action="store_true", help=f"name every missing or unreadable video (default: the first "
                                                       f"{SHOWN} of each)")
    c.add_argument("--workers", type=_positive, default=2, help="videos probed at once")
    c.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    c.set_defaults(handler=check)


def _positive(text: str) -> int:
    from harness.cli.numbers import count

    return count(1)(text)


def fetch(args) -> int:
    from harness import data

    bench = registry.benchmark(args.bench)
    if bench.data.hub is None:
        for line in data.where_to_get(bench):
            print(line)
        print(f"harness: {bench.name}: nothing fetched (its data is not on the Hugging Face hub)", file=sys.stderr)
        return 0
    from harness.settings import Environment

    default = data.default_root(Environment.load())
    root = Path(args.to) if args.to else default
    report = data.fetch(bench, root, progress=not args.no_progress)
    print(f"{bench.name}: fetched from {bench.data.hub.repo}"
          + (f" (commit {report.commit[:12]})" if report.commit else "") + f" into {report.folder}")
    print(f"  annotations: {report.annotations} (sha256 {_sha_of(report, bench.data.hub.annotations)}; "
          f"{_status_text(report.status)})")
    if report.video_root is not None:
        state = "unpacked" if report.unpacked else "already in place"
        print(f"  videos: {report.n_found} of the {report.n_samples} samples' videos in {report.video_root} ({state})")
    print(f"  checksums: {report.folder / data.SUMS} and {report.folder / data.MANIFEST}")
    where = "" if Path(root).resolve() == default.resolve() else f"HARNESS_DATA_DIR={root} "
    print(f"next: {where}harness data check --bench {bench.name}")
    print(f"      {where}harness run --model MODEL --bench {bench.name}   (or pass --annotations {report.annotations}"
          + (f" --video-root {report.video_root})" if report.video_root else ")"))
    if report.video_root is not None and report.n_found < report.n_samples:
        print(f"harness: {bench.name}: {report.n_samples - report.n_found} of {report.n_samples} videos are not in "
              f"the archive; `harness data check --bench {bench.name}` names them", file=sys.stderr)
    return 0


def _sha_of(report, name: str | None) -> str:
    entry = report.files.get(name or "", {})
    return entry.get("sha256", "?")[:12] + "..."


def _status_text(status: str) -> str:
    return {"canonical": "the canonical annotation set (its file, or the same samples in another file)",
            "modified": "not one of the benchmark's canonical files: results on it are marked so and never ranked "
                        "with full runs",
            "unverified": "the benchmark declares no canonical checksum"}.get(status, status)


def check(args) -> int:
    from harness.data import check_videos
    from harness.runner import load_samples

    bench = registry.bench_arg(args.bench)
    annotations, video_root = data_defaults(bench, args.annotations, args.video_root)
    if video_root is None:
        raise BadInput(f"no --video-root given and no fetched {bench.name} videos: `harness data fetch {bench.name}` "
                       "fetches them or says where to get them")
    loaded = load_samples(bench, annotations, video_root, args.limit, allow_foreign=True)
    result = check_videos(loaded.samples, args.workers, not args.no_progress)
    n_ok = result.n - len(result.missing) - len(result.unreadable)
    print(f"{bench.name}: {result.n} videos under {video_root}: {n_ok} readable, {len(result.missing)} missing, "
          f"{len(result.unreadable)} unreadable")
    shown = None if args.all else SHOWN
    if result.missing:
        names = [_relative(s.video, video_root) if s.video else f"(no path for sample {s.id})" for s in result.missing]
        print(f"  missing ({len(names)}): " + ", ".join(names[:shown]) + _more(len(names), shown))
    if result.unreadable:
        print(f"  unreadable ({len(result.unreadable)}):")
        for s, problem in result.unreadable[:shown]:
            print(f"    {_relative(s.video, video_root)}: {problem.split(': ', 1)[-1]}")
        if shown is not None and len(result.unreadable) > shown:
            print(f"    ... and {len(result.unreadable) - shown} more (--all lists them)")
    return 0 if result.ok else 2


def _relative(path: str, root: str) -> str:
    try:
        return str(Path(path).relative_to(Path(root).absolute()))
    except ValueError:
        return path


def _more(n: int, shown: int | None) -> str:
    return f" ... and {n - shown} more (--all lists them)" if shown is not None and n > shown else ""


def data_defaults(bench, annotations: str | None, video_root: str | None) -> tuple[str | None, str | None]:
    """--annotations and --video-root, else what `harness data fetch` put in place for the benchmark (the
    declaration's own annotation path wins over fetched data)."""
    if annotations is not None and video_root is not None:
        return annotations, video_root
    from harness.data import default_root, fetched
    from harness.settings import Environment

    got = fetched(bench.name, default_root(Environment.load()))
    if got is None:
        return annotations, video_root
    if annotations is None and not bench.annotations.path and got.annotations is not None:
        annotations = str(got.annotations)
    if video_root is None and got.video_root is not None:
        video_root = str(got.video_root)
    return annotations, video_root
