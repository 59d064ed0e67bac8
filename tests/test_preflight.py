"""Preflight names every problem at once, before any work; the advice after a run works for its failures.

- the main job with nothing configured: model (GPU, weights), annotations, videos, judge, output folder,
  one line each, exit 2, nothing written;
- "run the same command to retry" only for failures a retry can fix; a prediction file that lacks samples
  says how many and which file; `--stage score` with no predictions says to generate first and writes no
  result; a prediction file whose ids match nothing in the benchmark says so;
- a --limit run says in its summary line how much of the benchmark it covers.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions, write_jsonl
from harness.errors import BadInput

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """The real `harness` entry point in this process, with no credential and an empty data folder."""
    from harness.cli import main

    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "no-data"))

    def call(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err, lines=[ln for ln in err.splitlines() if ln])

    return call


@pytest.mark.slow
def test_the_main_job_with_nothing_configured_names_every_missing_piece_at_once(cli, tmp_path):
    read_only = tmp_path / "a-file"
    read_only.write_text("x")
    proc = cli("run", "--model", "tarsier-7b", "--bench", "dream", "--judge-model", "gpt-35-turbo-0125",
               "--out", read_only / "runs")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    text = proc.stderr
    assert "no CUDA GPU" in text and "no weights" in text  # the model's own check (GPU, weights)
    assert "no dream annotations: fetch them with `harness data fetch dream`" in text
    assert "dream needs its videos and no --video-root is given" in text
    assert "scored by an LLM judge and none is configured" in text
    assert f"--out {read_only / 'runs'}: {read_only} is a file, not a folder" in text
    assert len(proc.lines) == 5 and all(ln.startswith("harness: ") for ln in proc.lines), proc.lines
    assert read_only.read_text() == "x"


def test_problems_of_several_benchmarks_and_a_missing_video_folder_come_together(cli, tmp_path):
    proc = cli("run", "--model", "gpt-4o", "--bench", "next-qa,egoschema,nobench", "--annotations", tmp_path,
               "--video-root", tmp_path / "videos", "--out", tmp_path / "runs")
    assert proc.returncode == 2
    assert "unknown benchmark 'nobench'" in proc.stderr
    assert "gpt-4o needs OPENAI_API_KEY" in proc.stderr
    assert "Next-QA-val-multi_choice.jsonl" in proc.stderr and "EgoSchema_subset.jsonl" in proc.stderr
    assert f"--video-root {tmp_path / 'videos'}: no such folder" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_check_whose_topic_failed_is_not_run_again():
    from harness.preflight import PreflightFailed, Problems

    calls = []

    def failing(what):
        calls.append(what)
        raise BadInput(f"{what} is missing")

    problems = Problems()
    assert problems.run("model", failing, "weights") is None
    assert problems.run("model", failing, "weights again") is None  # the model is named once
    assert problems.run("judge", lambda: 42) == 42
    problems.run("videos", failing, "videos")
    with pytest.raises(PreflightFailed) as stop:
        problems.raise_if_any()
    assert stop.value.lines == ["weights is missing", "videos is missing"] and calls == ["weights", "videos"]


def test_a_prediction_file_that_lacks_samples_says_how_many_and_which_file(cli, tmp_path):
    rows = read_jsonl(NEXTQA)[:20]
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    preds = write_jsonl(tmp_path / "preds.jsonl", [{**r, "text": {**r["text"], "prediction": "A"}} for r in rows[:12]])
    proc = cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", ann, "--out",
               tmp_path / "runs", "--no-progress")
    assert proc.returncode == 1
    assert f"{preds} lacks predictions for 8 of 20 samples (e.g. Next-QA-val-multi_choice idx {rows[12]['idx']})" \
        in proc.stderr, proc.stderr
    assert "8 of 20 samples failed (above --max-failed 0)" in proc.stderr
    assert "run the same command" not in proc.stderr  # a retry cannot add the missing lines
    accepted = cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", ann, "--out",
                   tmp_path / "runs", "--no-progress", "--max-failed", "0.5")
    assert accepted.returncode == 0 and "lacks predictions for 8 of 20 samples" in accepted.stderr


def test_failures_a_retry_can_fix_say_run_the_same_command(cli, tmp_path, server, env, monkeypatch):
    """A judge that keeps failing: the samples are counted failed, and the same command retries them."""
    monkeypatch.setenv("HARNESS_JUDGE_TIMEOUT", "60")  # a busy machine must not turn the retry into a timeout
    rows = read_jsonl(ANNOTATIONS / "MSVD-QA-val.jsonl")[:4]
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: "a cat")
    server.poison = {"Predicted Answer: a cat"}  # the judge answers garbage to these samples
    proc = cli("run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", ann, "--out",
               tmp_path / "runs", "--no-progress", "--judge-base-url", server.url, "--cache-dir", tmp_path / "cache")
    server.poison = set()
    assert proc.returncode == 1, proc.stderr
    assert "4 failed on the way" in proc.stderr and "run the same command to retry them" in proc.stderr, proc.stderr
    again = cli("run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", ann, "--out",
                tmp_path / "runs", "--no-progress", "--judge-base-url", server.url, "--cache-dir", tmp_path / "cache")
    assert again.returncode == 0 and "failed" not in again.stderr, again.stderr


@pytest.mark.slow
def test_stage_score_without_predictions_says_generate_first_and_writes_nothing(cli, tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: "A")
    args = ["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", NEXTQA, "--limit", "10",
            "--out", tmp_path / "runs", "--no-progress"]
    proc = cli(*args, "--stage", "score")
    assert proc.returncode == 2 and len(proc.lines) == 1, proc.stderr
    assert "no predictions to score" in proc.lines[0] and "--stage generate first" in proc.lines[0]
    assert not (tmp_path / "runs").exists()
    assert cli(*args, "--stage", "generate").returncode == 0
    scored = cli(*args, "--stage", "score")
    assert scored.returncode == 0 and "accuracy" in scored.stdout


def test_a_prediction_file_matching_nothing_in_the_benchmark_says_so(cli, tmp_path):
    rows = read_jsonl(NEXTQA)[:5]
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "dataset": "EgoSchema", "text": {**r["text"], "prediction": "A"}}
                                               for r in rows])
    proc = cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", NEXTQA, "--out",
               tmp_path / "runs", "--no-progress")
    assert proc.returncode == 2 and len(proc.lines) == 1, proc.stderr
    assert f"{preds}: none of its predictions matches a sample of next-qa" in proc.lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_limit_run_prints_its_coverage_of_the_whole_benchmark_in_the_summary_line(cli, tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: "A")
    proc = cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", NEXTQA, "--limit", "50",
               "--out", tmp_path / "runs", "--no-progress")
    assert proc.returncode == 0
    summary = proc.stdout.splitlines()[0]
    assert summary.startswith("next-qa | file:p | strict: accuracy") and summary.endswith(
        "(on 50 of 4996 samples of next-qa: 1.0%)"), summary
    shown = cli("show", tmp_path / "runs")
    assert shown.returncode == 0
    header, row = shown.stdout.splitlines()[:2]
    assert header.split() == ["model", "benchmark", "run", "predictions", "coverage", "results"]
    assert row.split()[:3] == ["file:p", "next-qa", next((tmp_path / "runs").glob("*/*/*")).name]
    assert "50/4996" in row and "strict: accuracy" in row and "(50/50 scored)" in row


def test_each_kind_of_failure_gets_the_advice_that_fixes_it():
    """Only failures a retry can fix are told to run the same command again."""
    from harness.failures import FailureSummary, advice, failure_summary
    from harness.types import Sample, SampleScore

    reasons = {
        "a": "prediction: api: APIConnectionError: Connection error: Cannot connect to host 10.0.0.1:443",
        "b": "judge: entailment failed after 10 attempts",
        "c": "prediction: video: /v/3.mp4: truncated: the container lists 120 frames, 64 are present",
        "d": "prediction: not generated yet",
        "e": "prediction: missing: no prediction for Demo/x idx 4 in preds.jsonl",
        "f": "prediction: missing: the prediction is null in preds.jsonl line 6",
        "g": "no references",
    }
    samples = [Sample(id=k, benchmark="b", idx=i, dataset="Demo/x", prompt="p", cluster=k)
               for i, k in enumerate([*reasons, "ok"])]
    scores = {k: SampleScore(sample_id=k, status="failed", reason=r) for k, r in reasons.items()}
    scores["ok"] = SampleScore(sample_id="ok", status="ok")
    summary = failure_summary(scores, samples)
    assert isinstance(summary, FailureSummary) and summary.n_failed == 7 and summary.n_samples == 8
    lines = advice(summary, "b")
    retry = [ln for ln in lines if "run the same command to retry" in ln]
    assert len(retry) == 1 and retry[0].startswith("2 failed on the way (e.g. api: APIConnectionError;")
    assert "10.0.0.1" not in "\n".join(lines)
    assert any(ln.startswith("preds.jsonl lacks predictions for 1 of 8 samples (e.g. Demo/x idx 4)") for ln in lines)
    assert any(ln.startswith("preds.jsonl has a null prediction for 1 of 8") for ln in lines)
    assert any("--stage generate" in ln and ln.startswith("1 of 8 samples have no prediction yet") for ln in lines)
    assert any(ln.startswith("1 videos could not be read (e.g. video: /v/3.mp4)") and "harness data check" in ln
               for ln in lines)
    assert any(ln.startswith("1 samples cannot be scored from their annotation (no references)") for ln in lines)
