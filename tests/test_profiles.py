"""Model profiles: each id carries the settings of the number it reproduces; the command line
overrides them and the run says so (RunSpec.profile, Result.profile/overridden); `harness
frames --model` shows the inputs a model would get, without weights."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, DEMO_VIDEO, SHARED, harness_cli, read_jsonl, write_jsonl

from harness.adapter import AdapterOptions
from harness.adapters import MODELS
from harness.adapters.profiles import PROFILES, profile_options

RESIZE = json.loads((SHARED / "golden" / "tarsier2_resize.json").read_text())


def test_every_listed_model_has_a_profile_with_a_source():
    for model in MODELS:
        if model in ("gpt-4o-mini", "gpt-4.1", "gemini-2.0-flash"):
            continue
        p = PROFILES[model]
        assert p.source and (p.reproduces is None or any(c.isdigit() for c in p.reproduces)), model
    assert PROFILES["gpt-4o"].settings == {"frames": 16, "revision": "gpt-4o-2024-05-13", "detail": "high",
                                           "image_format": "png", "content_order": "text-first", "max_new_tokens": 4096}
    assert set(PROFILES["gpt-4o"].not_followed) == {"temperature"}  # kept at 0, with the reason
    assert all(p.applied for p in PROFILES.values())
    assert "llava-video-7b" in MODELS and PROFILES["llava-video-7b"].settings["frames"] == 32


def test_profile_fills_what_the_command_line_leaves_open_and_names_overrides():
    opts, label = profile_options("llava-onevision-7b", "dream", AdapterOptions())
    assert opts.frames == 16 and label["overridden"] == {} and label["bench"] == "dream"
    opts, label = profile_options("tarsier2-7b", None, AdapterOptions(frames=8, extra={"dtype": "float16"}))
    assert opts.frames == 8 and opts.extra["dtype"] == "float16"
    assert label["overridden"] == {"frames": {"profile": 16, "run": 8}, "dtype": {"profile": "bfloat16", "run": "float16"}}
    _, label = profile_options("tarsier-7b", None, AdapterOptions(revision="abc", frames=8))
    assert label["overridden"] == {"revision": {"profile": None, "run": "abc"}}  # same frames: not an override
    opts, label = profile_options("gpt-4o", None, AdapterOptions(detail="low"))
    assert (opts.frames, opts.revision, opts.detail, opts.extra["image_format"]) == (16, "gpt-4o-2024-05-13", "low", "png")
    assert label["overridden"] == {"detail": {"profile": "high", "run": "low"}}
    opts, label = profile_options("gemini-1.5-pro", None, AdapterOptions(extra={"gemini_input": "frames"}))
    assert opts.extra["fps"] == 1.0 and label["overridden"] == {"gemini_input": {"profile": "video", "run": "frames"}}


@pytest.mark.slow
def test_an_overridden_run_is_labelled_in_spec_and_result(tmp_path):
    from tiny_models import build_tarsier1, make_video

    ckpt = build_tarsier1(tmp_path / "t1")
    make_video(tmp_path / "v" / "1.mp4", n_frames=12, size=(64, 48))
    ann = write_jsonl(tmp_path / "nq.jsonl", [dict(read_jsonl(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl")[0], vid="1")])
    proc = harness_cli("run", "--model", "tarsier-7b", "--model-path", str(ckpt), "--device", "cpu", "--bench", "next-qa",
                       "--annotations", str(ann), "--video-root", str(tmp_path / "v"), "--out", str(tmp_path / "r"),
                       "--cache-dir", str(tmp_path / "c"), "--frames", "4", "--max-new-tokens", "2", "--json",
                       "--no-progress")
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    assert result["profile"] == "tarsier-7b"
    assert result["overridden"]["frames"] == {"profile": 8, "run": 4} and "model_path" in result["overridden"]
    spec = json.loads(next((tmp_path / "r").rglob("spec.json")).read_text())
    assert spec["profile"]["reproduces"].startswith("DREAM-1K F1 34.6") and spec["frames"]["n_frames"] == 4


def test_list_models_shows_the_profile():
    proc = harness_cli("list", "models")
    assert proc.returncode == 0, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("tarsier2-7b "))
    assert "16 x2" in line and "tarsier2 rule" in line and "0.420" in line and "dtype=bfloat16" in line
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("gpt-4o "))
    assert "gpt-4o-2024-05-13" in line and "detail=high" in line and "not applied" not in line
    assert "(--frames up to 85)" in line


@pytest.mark.slow
def test_frames_for_tarsier2_reports_the_golden_sizes_and_tokens():
    proc = harness_cli("frames", str(DEMO_VIDEO), "--model", "tarsier2-7b", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    row = next(r for r in RESIZE["rows"] if (r["input_w"], r["input_h"], r["n_frames"]) == (out["width"], out["height"], 16))
    inputs = out["inputs"]
    assert out["indices"] == [0, 6, 11, 17, 22, 28, 33, 39, 44, 50, 55, 61, 66, 72, 77, 83] and out["sampler"] == "tarsier2"
    assert inputs["step1_wh"] == [row["step1_w"], row["step1_h"]] and inputs["final_wh"] == [row["final_w"], row["final_h"]]
    assert inputs["grid_thw"] == row["grid_thw"] and inputs["visual_tokens"] == row["visual_tokens"] == 9728
    assert inputs["images"] == 32 and out["profile"]["id"] == "tarsier2-7b"


@pytest.mark.slow
def test_frames_for_tarsier1_shows_the_square_stretch_and_601_tokens():
    proc = harness_cli("frames", str(DEMO_VIDEO), "--model", "tarsier-7b", "--json")
    out = json.loads(proc.stdout)
    assert out["indices"] == [0, 12, 24, 36, 47, 59, 71, 83]
    assert out["inputs"]["stretched_wh"] == [1920, 1920] and out["inputs"]["resized_wh"] == [336, 336]
    assert out["inputs"]["visual_tokens"] == 8 * 601
    text = harness_cli("frames", str(DEMO_VIDEO), "--model", "tarsier-7b").stdout
    assert "visual_tokens 4808" in text and "stretched_wh 1920x1920" in text
    bad = harness_cli("frames", str(DEMO_VIDEO), "--model", "nope")
    assert bad.returncode == 2 and "unknown model" in bad.stderr
