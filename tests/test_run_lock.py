"""One writer per run folder: a second `harness run` on the same folder stops with one line while the
first runs; a lock left by a killed process is taken over; two concurrent runs write every sample
once and ask the judge each question once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, REPO, assert_one_line, harness_cli, read_jsonl, tarsier_predictions
from judge_server import FAST, SECRETS, JudgeServer, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"

def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update(FAST)
    env.update(extra)
    return env

def _spawn(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

@pytest.mark.slow
def test_two_concurrent_dream_runs_write_each_sample_once_and_ask_each_question_once(tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "dream_preds.jsonl")
    limit = 40
    with JudgeServer(latency=0.03) as srv:
        args = ("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM),
                "--limit", str(limit), "--out", str(tmp_path / "runs"), "--judge-base-url", srv.url,
                "--judge-concurrency", "4", "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--json")
        env = _env(OPENAI_API_KEY="sk-test", HARNESS_JUDGE_TIMEOUT="30")
        procs = [_spawn(*args, env=env) for _ in range(2)]
        outs = [p.communicate(timeout=600) for p in procs]
        bodies = srv.bodies()
    codes = [p.returncode for p in procs]
    for code, (out, err) in zip(codes, outs):
        assert "Traceback" not in err, err
        if code == 2:  # the one that found the folder taken: one line, naming it
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1 and "in use by another harness process" in lines[0], err
        else:
            assert code == 0, err
            assert json.loads(out)["n_scored"] == limit
    assert 0 in codes

    (run_dir,) = {p.parent for p in (tmp_path / "runs").rglob("predictions.jsonl")}
    pred_ids = Counter(r["sample_id"] for r in read_jsonl(run_dir / "predictions.jsonl"))
    assert len(pred_ids) == limit and set(pred_ids.values()) == {1}, pred_ids.most_common(3)
    (scores,) = run_dir.rglob("scores.jsonl")
    score_ids = Counter(r["sample_id"] for r in read_jsonl(scores))
    assert len(score_ids) == limit and set(score_ids.values()) == {1}, score_ids.most_common(3)
    asked = Counter(json.dumps(b["messages"], sort_keys=True) for b in bodies)
    assert bodies and max(asked.values()) == 1, f"{len(bodies)} requests for {len(asked)} questions"

def _holder(run_dir: Path) -> subprocess.Popen:
    """Another process holding the run folder's lock, as a `harness run` in progress would."""
    code = ("import sys, time; from harness.store import RunStore\n"
            "with RunStore.open(sys.argv[1]).lock():\n"
            "    print('locked', flush=True); time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(run_dir)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc

@pytest.mark.slow
def test_a_busy_folder_stops_a_second_run_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    rows = read_jsonl(NEXTQA)[:5]
    ann = tmp_path / "ann.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: "A")
    args = ("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
            "--out", str(tmp_path / "runs"), "--no-progress")
    first = harness_cli(*args, "--stage", "generate", "--limit", "2")
    assert first.returncode == 0, first.stderr
    (run_dir,) = (tmp_path / "runs").glob("*/*/*")  # the spec of a 2-sample run
    full = harness_cli(*args, "--stage", "generate")
    assert full.returncode == 0, full.stderr
    (full_dir,) = set((tmp_path / "runs").glob("*/*/*")) - {run_dir}
    before = (full_dir / "predictions.jsonl").read_bytes()

    holder = _holder(full_dir)
    try:
        proc = harness_cli(*args)
        assert_one_line(proc, str(full_dir), f"pid {holder.pid}")
        assert (full_dir / "predictions.jsonl").read_bytes() == before
        assert not (full_dir / "scores").exists()  # nothing written while the folder was taken
    finally:
        holder.send_signal(signal.SIGKILL)  # dies holding the lock: no chance to clean up
        holder.wait()
    assert (full_dir / "run.lock").exists()
    proc = harness_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert (full_dir / "predictions.jsonl").read_bytes() == before  # resumed: nothing redone
    assert list(full_dir.rglob("result.json"))

@pytest.mark.slow
def test_rescore_takes_the_lock_too(tmp_path):
    rows = read_jsonl(NEXTQA)[:3]
    ann = tmp_path / "ann.jsonl"
    ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: "B")
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").glob("*/*/*")
    holder = _holder(run_dir)
    try:
        proc = harness_cli("rescore", str(run_dir), "--protocol", "tarsier", "--no-progress")
    finally:
        holder.kill()
        holder.wait()
    assert_one_line(proc, "in use by another harness process")
    assert len(list(run_dir.rglob("result.json"))) == 1  # the strict one only
