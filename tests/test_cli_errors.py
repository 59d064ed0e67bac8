"""Bad input: one line on stderr naming what to fix, exit 2, no traceback, no lost work."""

from __future__ import annotations

import pytest

from conftest import ANNOTATIONS, assert_one_line, harness_cli, read_jsonl, tarsier_predictions, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.fixture
def preds(tmp_path):
    return tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: "A")


def test_missing_annotation_file(tmp_path, preds):
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations",
                       str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "r"))
    assert_one_line(proc, "annotation file not found", "nope.jsonl")


def test_unknown_benchmark(tmp_path, preds):
    assert_one_line(harness_cli("run", "--model", f"file:{preds}", "--bench", "nextqa"), "unknown benchmark 'nextqa'")


def test_unknown_model(tmp_path):
    assert_one_line(harness_cli("run", "--model", "gpt-5-video", "--bench", "next-qa", "--annotations", str(NEXTQA)),
                     "unknown model 'gpt-5-video'")


def test_malformed_jsonl_line(tmp_path, preds):
    lines = NEXTQA.read_text().splitlines()[:5]
    lines[3] = lines[3][:40]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    assert_one_line(harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(bad),
                                 "--out", str(tmp_path / "r")), "bad.jsonl:4", "malformed JSON")


def test_malformed_prediction_file(tmp_path):
    bad = write_jsonl(tmp_path / "p.jsonl", [{"idx": 1, "text": {"prompt": "x"}}])
    assert_one_line(harness_cli("run", "--model", f"file:{bad}", "--bench", "next-qa", "--annotations", str(NEXTQA),
                                 "--out", str(tmp_path / "r")), "p.jsonl:1")


def test_missing_video(tmp_path):
    """A model that needs videos: missing files are named before any work."""
    (tmp_path / "videos").mkdir()
    rows = read_jsonl(NEXTQA)[:3]
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    from harness.errors import BadInput
    from harness.runner import check_videos
    from harness import registry

    bench = registry.benchmark("next-qa")
    samples = bench.samples(bench.load_annotations(str(ann)), str(tmp_path / "videos"))
    with pytest.raises(BadInput, match=r"3 of 3 videos missing under --video-root .*4010069381\.mp4"):
        check_videos(samples, str(tmp_path / "videos"))


def test_usage_error_is_one_line():
    assert_one_line(harness_cli("run", "--bench", "next-qa"), "--model")
    assert_one_line(harness_cli("show", "/nonexistent/run"), "not a run directory")


@pytest.mark.slow
def test_missing_video_through_the_cli(tmp_path):
    """A model that reads videos: a missing file is one line before any request is made."""
    (tmp_path / "videos").mkdir()
    proc = harness_cli("run", "--model", "gpt-4o", "--bench", "next-qa", "--annotations", str(NEXTQA),
                       "--limit", "3", "--video-root", str(tmp_path / "videos"), "--out", str(tmp_path / "r"),
                       env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})
    assert_one_line(proc, "3 of 3 videos missing", "--video-root")
    assert not list((tmp_path / "r").rglob("predictions.jsonl"))  # nothing generated, nothing lost
