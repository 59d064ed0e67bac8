"""Numbers in range: counts and fractions on the command line, frames per model, and the values a
result record carries. Out of range is one line and exit 2, never read as a default or clipped."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, DEMO_VIDEO, assert_one_line, harness_cli, read_jsonl, tarsier_predictions, write_jsonl
from harness.cli import main

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.fixture
def small(tmp_path):
    ann = write_jsonl(tmp_path / "ann.jsonl", read_jsonl(NEXTQA)[:4])
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    return ann, preds


def _run(tmp_path, small, *extra):
    ann, preds = small
    return harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--no-progress", *extra)


@pytest.mark.slow
@pytest.mark.parametrize("limit", ["0", "-1", "2.5", "many"])
def test_limit_must_be_a_positive_count(tmp_path, small, limit):
    """--limit -1 used to drop the last sample silently (samples[:-1])."""
    assert_one_line(_run(tmp_path, small, "--limit", limit), "--limit")
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "inf"])
def test_max_failed_is_a_fraction(tmp_path, small, value):
    assert_one_line(_run(tmp_path, small, "--max-failed", value), "--max-failed")


@pytest.mark.slow
def test_max_failed_bounds_are_accepted(tmp_path, small):
    for value in ("0", "1"):
        proc = _run(tmp_path, small, "--max-failed", value)
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("frames", ["0", "-3"])
def test_frames_zero_is_refused_not_read_as_the_default(tmp_path, frames):
    proc = harness_cli("run", "--model", "gpt-4o", "--bench", "next-qa", "--annotations", str(NEXTQA),
                       "--frames", frames, "--limit", "1", "--out", str(tmp_path / "runs"),
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert_one_line(proc, "--frames")
    assert not (tmp_path / "runs").exists()


def test_frames_above_the_models_context_are_refused(tmp_path):
    from harness import registry
    from harness.adapter import AdapterOptions
    from harness.errors import BadInput

    cls = type(registry.adapter("llava-next-video-7b", AdapterOptions()))
    assert 1 <= cls.default_frames <= cls.max_frames
    registry.adapter("llava-next-video-7b", AdapterOptions(frames=cls.max_frames))  # the bound itself is fine
    with pytest.raises(BadInput, match=rf"at most {cls.max_frames} frames"):
        registry.adapter("llava-next-video-7b", AdapterOptions(frames=cls.max_frames + 1))
    with pytest.raises(BadInput, match="at least 1"):
        registry.adapter("qwen2-vl-7b", AdapterOptions(frames=0))  # the library refuses it too
    proc = harness_cli("run", "--model", "tarsier-7b", "--bench", "dream", "--frames", "100000",
                       "--annotations", str(ANNOTATIONS / "DREAM-1k.jsonl"), "--out", str(tmp_path / "runs"))
    assert_one_line(proc, "--frames")


@pytest.mark.slow
@pytest.mark.parametrize("n", ["0", "-1", "100000"])
def test_frames_command_n_is_bounded(tmp_path, n):
    proc = harness_cli("frames", str(DEMO_VIDEO), "--n", n, "--json")
    assert_one_line(proc, "--n")


def test_frames_command_accepts_a_normal_n():
    proc = harness_cli("frames", str(DEMO_VIDEO), "--n", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["indices"]) == 4


GOOD = {
    "schema_version": 1, "id": "next-qa.m.src", "benchmark": "next-qa", "benchmark_title": "NExT-QA",
    "split": "val", "model": {"name": "M"}, "metric": "accuracy", "metrics": {"accuracy": 50.0},
    "protocol": "strict", "provenance": {"kind": "reported", "source": "Some paper", "where": "Table 2"},
}


@pytest.mark.parametrize("change, message", [
    ({"metrics": {"accuracy": 142.0}}, "accuracy: 142.0 is outside [0, 100]"),
    ({"metrics": {"accuracy": -1}}, "outside [0, 100]"),
    ({"metrics": {"accuracy": "64.5"}}, "metrics.accuracy: Input should be a valid number"),
    ({"metrics": {"accuracy": True}}, "metrics.accuracy: Input should be a valid number"),
    ({"metric": "score", "metrics": {"score": 7.5, "accuracy": 50.0}}, "score: 7.5 is outside [0, 5]"),
    ({"metric": "mystery", "metrics": {"mystery": 1.0}}, "no known range"),
    ({"n_total": "12"}, "n_total: Input should be a valid integer"),
    ({"frames": 8.5}, "frames: Input should be a valid integer"),
    ({"intervals": {"accuracy": [40, 101]}, "interval_method": "x"}, "outside [0, 100]"),
])
def test_results_check_refuses_values_out_of_range_or_of_the_wrong_type(tmp_path, capsys, change, message):
    bad = {**GOOD, **change}
    path = tmp_path / "next-qa" / f"{bad['id']}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(bad))
    assert main(["results", "check", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert any(message in line for line in err.splitlines()), err


def test_results_check_accepts_the_edges_of_each_range(tmp_path, capsys):
    for i, (metric, value) in enumerate([("accuracy", 0), ("accuracy", 100.0), ("score", 5.0), ("cider", 139.9)]):
        rec = {**GOOD, "id": f"next-qa.m.src{i}", "metric": metric, "metrics": {metric: value},
               "provenance": {"kind": "reported", "source": "Some paper", "where": f"Table {i}"}}
        path = tmp_path / "next-qa" / f"{rec['id']}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(rec))
    assert main(["results", "check", "--results", str(tmp_path)]) == 0, capsys.readouterr().err
