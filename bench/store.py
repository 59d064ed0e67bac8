"""Benchmark: what durability costs in the run logs (harness.jsonl.LogWriter), per-record fsync
(the previous writer) against fsync in groups (100 records or 1 s, and at close).

    python bench/store.py [--records 2000] [--repeat 3] [--no-contention]

1. In-process: N appends of a DREAM-sized score record (about 1 KB) to a fresh log, best of R.
2. Whole process: a warm DREAM-1K re-score through `harness run` (file: predictions, the loopback
   judge in its own process, the judge cache filled by one cold run first, a fresh run folder each
   time: 1000 prediction and 1000 score records), median of R; the fsync calls each made.
3. Both again while another process writes and fsyncs 1 MiB blocks to the same disk (contention),
   the unfavourable case for per-record fsync; --no-contention skips it.

The baseline is the same code with LogWriter.GROUP_RECORDS = 1 (fsync after every record, as the
writer did before). Logs go to the system temporary folder; say which disk that is when quoting.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))

from judge_server import write_dream_predictions  # noqa: E402

from harness.jsonl import LogWriter  # noqa: E402

# `harness` with LogWriter.GROUP_RECORDS from BENCH_GROUP, counting fsync calls (printed last on stderr)
WRAPPER = """
import atexit, os, sys
import harness.jsonl
if os.environ.get("BENCH_GROUP"):
    harness.jsonl.LogWriter.GROUP_RECORDS = int(os.environ["BENCH_GROUP"])
calls = [0]
real_fsync = os.fsync
def fsync(fd):
    calls[0] += 1
    real_fsync(fd)
os.fsync = fsync
atexit.register(lambda: sys.stderr.write(f"BENCH_FSYNCS {calls[0]}\\n"))
from harness.cli import main
sys.exit(main(sys.argv[1:]))
"""

RECORD = {"sample_id": "1234", "status": "ok", "fields": {
    "recall": 0.6, "precision": 0.5, "events": ["A character emerges from smoke and fire."] * 6,
    "relationships": ["entailment", "neutral", "contradiction"] * 4}, "judge_calls": ["0" * 64] * 4}


def _judge_server():
    spec = importlib.util.spec_from_file_location("bench_judge", REPO / "bench" / "judge.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.Server(0.0)


def appends(folder: Path, n: int, group: int) -> float:
    path = folder / f"log-{group}-{time.monotonic_ns()}.jsonl"
    t0 = time.perf_counter()
    with LogWriter(path, group=group) as w:
        for i in range(n):
            w.write({**RECORD, "sample_id": str(i)})
    wall = time.perf_counter() - t0
    path.unlink()
    return wall


def rescore(preds: Path, ann: Path, url: str, cache: Path, out: Path, group: int | None) -> tuple[float, int]:
    cmd = [sys.executable, "-c", WRAPPER, "run", "--model", f"file:{preds}", "--bench", "dream",
           "--annotations", str(ann), "--judge-base-url", url, "--cache-dir", str(cache), "--out", str(out),
           "--json", "--no-progress"]
    env = {**os.environ, "OPENAI_API_KEY": "sk-bench", "BENCH_GROUP": str(group or "")}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"harness run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    fsyncs = int(proc.stderr.rsplit("BENCH_FSYNCS", 1)[1].split()[0])
    return wall, fsyncs


@contextmanager
def contention(folder: Path, on: bool):
    """Another process writing and fsyncing 1 MiB blocks to the same disk, while the block runs."""
    if not on:
        yield
        return
    code = ("import os, sys\nfd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)\nblock = os.urandom(1 << 20)\n"
            "while True:\n    os.write(fd, block); os.fsync(fd)\n    if os.lseek(fd, 0, 1) > 256 << 20: os.lseek(fd, 0, 0)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder / "contention.bin")])
    try:
        time.sleep(0.5)
        yield
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000, help="appends in the in-process test (default 2000)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of each measurement (default 3)")
    ap.add_argument("--no-contention", action="store_true", help="skip the runs under disk contention")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        tmp = Path(tmp)
        print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}; "
              f"logs in {tmp} ({os.statvfs(tmp).f_bsize}-byte blocks)")
        ann = SHARED / "data" / "annotations" / "DREAM-1k.jsonl"
        preds = write_dream_predictions(ann, tmp / "dream-predictions.jsonl")
        server = _judge_server()
        try:
            cache = tmp / "cache"
            cold, _ = rescore(preds, ann, server.url, cache, tmp / "runs-cold", None)
            print(f"cold DREAM-1K run (fills the judge cache): {cold:.2f} s")
            for busy in ([False] if args.no_contention else [False, True]):
                with contention(tmp, busy):
                    per = min(appends(tmp, args.records, 1) for _ in range(args.repeat))
                    grouped = min(appends(tmp, args.records, LogWriter.GROUP_RECORDS) for _ in range(args.repeat))
                    runs: dict[str, list[tuple[float, int]]] = {"per-record": [], "grouped": []}
                    for i in range(args.repeat):  # interleaved, so drift hits both alike
                        for name, group in (("per-record", 1), ("grouped", None)):
                            runs[name].append(rescore(preds, ann, server.url, cache, tmp / f"runs-{name}-{busy}-{i}", group))
                label = "under disk contention" if busy else "quiet disk"
                print(f"\n{label}:")
                print(f"  in-process, {args.records} appends (best of {args.repeat}): per-record fsync {per:.3f} s, "
                      f"grouped {grouped:.3f} s, ratio {per / grouped:.1f}x")
                (pw, pf), (gw, gf) = (min(runs[k], key=lambda r: r[0]) for k in ("per-record", "grouped"))
                pm = statistics.median(w for w, _ in runs["per-record"])
                gm = statistics.median(w for w, _ in runs["grouped"])
                print(f"  whole process, warm DREAM-1K re-score (median of {args.repeat}, wall incl. start-up): "
                      f"per-record {pm:.2f} s ({pf} fsyncs), grouped {gm:.2f} s ({gf} fsyncs), ratio {pm / gm:.2f}x")
                print(f"    all runs: per-record {json.dumps([round(w, 2) for w, _ in runs['per-record']])}, "
                      f"grouped {json.dumps([round(w, 2) for w, _ in runs['grouped']])}")
        finally:
            server.close()


if __name__ == "__main__":
    main()
