"""Benchmark: the model client at the server's limit, and DREAM-1K scoring through the CLI, cold and warm.

    .venv/bin/python bench/judge.py [--latency 1,0.2] [--waves 6] [--dream-latency 0.2] [--skip-dream]
                                    [--profile C,L] [--baseline-python PY]

1. Throughput. A fake OpenAI-compatible server (tests/judge_server.py, its own process) answers every request
   after a fixed latency L. For C = 16, 64, 256 a client in the judge role (concurrency C, cold cache) asks
   waves x C distinct questions at once, after one warm-up wave; calls/s is compared with the ideal C / L
   (goals: >= 0.9 at L = 1 s for every C, and at C = 64 for L = 0.2 s). Printed beside it: the largest number
   of requests the server held at once, and the client's CPU time per call (HTTP, JSON, retry policy, cache),
   which bounds the rate near C / (L + C x cpu) when many answers arrive together. --profile C,L runs that one
   case under cProfile and prints where the CPU goes.
2. DREAM-1K (all 1000 samples, ../shared/data/annotations/DREAM-1k.jsonl, protocol tarsier) scored through
   `harness run` in a subprocess against a server with latency --dream-latency (default 0.2 s) and the
   default judge concurrency (64): a cold cache, then a re-score into a fresh run folder on the warm cache.
   The scoring alone is timed (the judge client's own clock, from its first question to its last answer:
   result.extra.judge_usage.seconds), next to the whole process (Python start-up, imports, annotations)
   and its CPU time per call. Goals: cold >= 0.8 x C/L; warm: 0 calls, and neither openai, httpx nor aiohttp
   imported. --baseline-python runs the same DREAM part through another interpreter whose `harness` is
   another checkout (e.g. main), paired run by run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
CONCURRENCY = (16, 64, 256)
DREAM_CONCURRENCY = 64  # the CLI's default --judge-concurrency
HTTP_MODULES = ("openai", "httpx", "httpx2", "aiohttp")

# Runs the CLI and reports, on its last stderr line, which HTTP client modules the process imported.
CLI = ("import sys\nfrom harness.cli import main\nrc = main(sys.argv[1:])\n"
       "print('IMPORTED ' + ','.join(m for m in %r if m in sys.modules), file=sys.stderr)\nsys.exit(rc)\n"
       % (HTTP_MODULES,))


class Server:
    """tests/judge_server.py in a subprocess, so its work does not share our interpreter."""

    def __init__(self, latency: float):
        self.proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "judge_server.py"), "--latency", str(latency)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"judge server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/stats", timeout=10) as r:
            return json.loads(r.read())

    def reset(self) -> None:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/reset", data=b"{}", method="POST")
        urllib.request.urlopen(req, timeout=10).read()

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def throughput(url: str, concurrency: int, n_calls: int, cache_dir: str) -> tuple[float, float, dict]:
    from harness.cli.judge_args import judge_config
    from harness.client.core import ModelClient
    from harness.settings import Environment

    args = types.SimpleNamespace(judge_model="gpt-35-turbo-0125", judge_base_url=url, judge_concurrency=concurrency,
                                 judge_budget=None, cache_dir=cache_dir, judge_mode="online", batch_wait=None)
    client = ModelClient(judge_config(args, Environment.load()))
    try:  # one warm-up wave first: the lazy imports and the C connections are one-time costs
        await asyncio.gather(*(client.ask([{"role": "user", "content": f"warm-up {concurrency} {i}"}], str)
                               for i in range(concurrency)))
        t0, c0 = time.perf_counter(), time.process_time()
        answers = await asyncio.gather(*(client.ask([{"role": "user", "content": f"bench {concurrency} question {i}"}],
                                                    str) for i in range(n_calls)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        assert all(a.ok for a in answers)
        return wall, cpu, client.usage()
    finally:
        await client.aclose()


def throughput_table(latencies: list[float], waves: int, tmp: Path) -> None:
    for latency in latencies:
        server = Server(latency)
        try:
            print(f"\nthroughput: server latency L = {latency:.3f} s, {waves} x C distinct questions, cold cache")
            print(f"{'C':>5} {'calls':>6} {'wall s':>8} {'calls/s':>9} {'C/L':>8} {'ratio':>6} "
                  f"{'server max in flight':>21} {'client CPU ms/call':>19}")
            for c in CONCURRENCY:
                server.reset()
                n = waves * c
                wall, cpu, _ = asyncio.run(throughput(server.url, c, n, str(tmp / f"cache-{latency}-{c}")))
                ideal, rate = c / latency, n / wall
                print(f"{c:>5} {n:>6} {wall:>8.2f} {rate:>9.1f} {ideal:>8.1f} {rate / ideal:>6.3f} "
                      f"{server.stats()['max_in_flight']:>21} {1000 * cpu / n:>19.3f}", flush=True)
        finally:
            server.close()


def profile(case: str, waves: int, tmp: Path) -> None:
    import cProfile
    import pstats

    c, latency = int(case.split(",")[0]), float(case.split(",")[1])
    server = Server(latency)
    try:
        prof = cProfile.Profile()
        prof.enable()
        wall, cpu, _ = asyncio.run(throughput(server.url, c, waves * c, str(tmp / "cache-profile")))
        prof.disable()
    finally:
        server.close()
    print(f"\nprofile C = {c}, L = {latency}: {waves * c / wall:.1f} calls/s of {c / latency:.1f}, "
          f"{1000 * cpu / (waves * c):.3f} ms CPU per call (under the profiler)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def harness_run(python: str, cwd: Path, preds: Path, ann: Path, url: str, cache: Path, out: Path) -> dict:
    """`harness run` on DREAM-1K in a subprocess; its result, wall and CPU time, and the HTTP modules it imported."""
    cmd = [python, "-c", CLI, "run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(ann),
           "--protocol", "tarsier", "--judge-base-url", url, "--judge-model", "gpt-35-turbo-0125",
           "--cache-dir", str(cache), "--out", str(out), "--json", "--no-progress"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"harness run failed ({proc.returncode}): {proc.stderr[-2000:]}")
    imported = proc.stderr.strip().splitlines()[-1].partition("IMPORTED")[2].strip()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"result": json.loads(proc.stdout), "wall": wall, "cpu": cpu, "imported": imported or "none"}


def dream(latency: float, tmp: Path, pythons: dict[str, tuple[str, Path]]) -> None:
    from judge_server import write_dream_predictions

    ann = SHARED / "data" / "annotations" / "DREAM-1k.jsonl"
    preds = write_dream_predictions(ann, tmp / "dream-predictions.jsonl")
    ideal = DREAM_CONCURRENCY / latency
    print(f"\nDREAM-1K through `harness run` (protocol tarsier, judge concurrency {DREAM_CONCURRENCY}, server latency "
          f"{latency:.3f} s, C/L = {ideal:.0f} calls/s); scoring timed by the judge client, whole process beside it")
    print(f"{'code':<9} {'cache':<5} {'calls':>6} {'scoring s':>10} {'calls/s':>8} {'ratio':>6} {'process s':>10} "
          f"{'CPU ms/call':>12} {'f1':>6} {'failed':>6}  HTTP modules imported")
    for name, (python, cwd) in pythons.items():
        server = Server(latency)
        try:
            runs = {}
            for kind in ("cold", "warm"):
                server.reset()
                runs[kind] = harness_run(python, cwd, preds, ann, server.url, tmp / f"cache-dream-{name}",
                                         tmp / f"runs-{name}-{kind}")
                runs[kind]["calls"] = server.stats()["requests"]
        finally:
            server.close()
        for kind, r in runs.items():
            res, usage = r["result"], r["result"]["extra"].get("judge_usage", {})
            seconds, calls = usage.get("seconds") or 0.0, r["calls"]
            rate = calls / seconds if seconds and calls else 0.0
            per_call = f"{1000 * r['cpu'] / calls:12.3f}" if calls else f"{'-':>12}"
            ratio = f"{rate / ideal:6.3f}" if calls else f"{'-':>6}"
            print(f"{name:<9} {kind:<5} {calls:>6} {seconds:>10.2f} {rate:>8.1f} {ratio} {r['wall']:>10.2f} "
                  f"{per_call} {res['metrics']['f1']:>6.2f} {res['n_failed']:>6}  {r['imported']}", flush=True)
        same = runs["cold"]["result"]["metrics"] == runs["warm"]["result"]["metrics"]
        print(f"{name:<9} warm re-score: same metrics as cold: {same}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", default="1,0.2", help="server latency L in seconds, comma-separated (default 1,0.2)")
    ap.add_argument("--waves", type=int, default=6, help="questions per run = waves x C (default 6)")
    ap.add_argument("--dream-latency", type=float, default=0.2)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-dream", action="store_true")
    ap.add_argument("--profile", metavar="C,L", help="profile one throughput case (e.g. 256,1) and print the top")
    ap.add_argument("--baseline-python", metavar="PY",
                    help="also run the DREAM part with this interpreter (its `harness` is the baseline checkout)")
    ap.add_argument("--baseline-repo", metavar="DIR", help="working directory for --baseline-python")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-judge-") as tmp:
        tmp = Path(tmp)
        print(f"machine: {os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        if args.profile:
            profile(args.profile, args.waves, tmp)
            return
        if not args.skip_throughput:
            throughput_table([float(x) for x in args.latency.split(",")], args.waves, tmp)
        if not args.skip_dream:
            pythons = {"this": (sys.executable, REPO)}
            if args.baseline_python:
                pythons = {"baseline": (args.baseline_python, Path(args.baseline_repo or "/")), **pythons}
            dream(args.dream_latency, tmp, pythons)
        print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
