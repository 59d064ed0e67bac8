"""The official frame-index rules against ../shared/golden/frame_indices.json, every case.

The golden file was produced by running the official Tarsier loaders with only the decoder
replaced (its README says how). Here the same cases go through harness.frame_rules and, for
GIFs and frame lists, through real files sampled by harness.video.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED

from harness.errors import VideoError
from harness.frame_rules import (frame_list_files, gif_indices, tarsier2_v1_indices, uniform_indices,
                                 video_indices)

GOLDEN = json.loads((SHARED / "golden" / "frame_indices.json").read_text())
CASES = GOLDEN["cases"]
TIME_CASES = GOLDEN["time_cases"]
LIST_CASES = GOLDEN["tarsier1_image_list_cases"]


def _id(c):
    return f"N{c['total_frames']}-n{c['n_frames']}"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_video_indices_match_the_official_loaders(case):
    N, n = case["total_frames"], case["n_frames"]
    assert video_indices("tarsier1", N, n) == case["tarsier1_video_indices"]
    assert len(case["tarsier1_video_indices"]) == case["tarsier1_video_num_frames"]
    t2 = video_indices("tarsier2", N, n)
    assert t2 == case["tarsier2_video_indices"] and len(t2) == case["tarsier2_num_frames"]
    assert 2 * len(t2) == case["tarsier2_num_images_after_doubling"]
    assert video_indices("uniform", N, n) == uniform_indices(N, n)  # the harness default: n frames


@pytest.mark.parametrize("case", [c for c in CASES if "tarsier1_gif_frames_returned" in c], ids=_id)
def test_gif_indices_match_the_official_loaders(case):
    N, n = case["total_frames"], case["n_frames"]
    assert gif_indices("tarsier1", N, n) == case["tarsier1_gif_frames_returned"]
    assert gif_indices("tarsier2", N, n) == case["tarsier2_gif_frames_returned"] == case["tarsier2_gif_indices"]


@pytest.mark.parametrize("case", TIME_CASES, ids=lambda c: f"{c['name']}-n{c['n_frames']}")
def test_clip_windows_int_for_tarsier1_round_for_tarsier2(case):
    args = (case["total_frames"], case["n_frames"], case["fps"], case["start_time"], case["end_time"])
    assert video_indices("tarsier1", *args) == case["tarsier1_indices"]
    t2 = video_indices("tarsier2", *args)
    assert t2 == case["tarsier2_indices"] and len(t2) == case["tarsier2_num_frames"]


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: f"{c['num_image_files']}-n{c['max_n_frames']}")
def test_frame_lists_keep_each_file_once(case):
    files = [f"frames/{i:05d}.jpg" for i in range(case["num_image_files"])]
    kept = frame_list_files("tarsier1", files, case["max_n_frames"])
    assert kept == case["files_kept"] == case["sample_frame_indices"]
    assert frame_list_files("uniform", files, case["max_n_frames"]) == kept


def test_rules_edge_cases():
    assert tarsier2_v1_indices(5, 1) == [0]
    # Tarsier-1 with one frame and a window still reads frame 0 (its sampler returns [0] first)
    assert video_indices("tarsier1", 900, 1, 30.0, 3.2, 9.7) == [0]
    assert video_indices("tarsier2", 900, 1, 30.0, 3.2, 9.7) == [96]
    # Tarsier-1 keeps only .jpg/.jpeg/.png/.tif files of a list; Tarsier2 reads them all
    files = ["a.jpg", "b.webp", "c.png"]
    assert frame_list_files("tarsier1", files, 8) == [0, 2]
    assert frame_list_files("tarsier2", files, 8) == [0, 1, 2]
    with pytest.raises(VideoError, match="no frame"):
        video_indices("tarsier2", 300, 8, 30.0, 20.0, 30.0)  # the window starts past the clip
    with pytest.raises(VideoError, match="frame rate"):
        video_indices("tarsier2", 300, 8, None, 1.0, 2.0)


# -- through real files ------------------------------------------------------------------------

def _gif(path, n):
    frames = [Image.fromarray(np.full((8, 8, 3), i * 9 % 256, np.uint8)) for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


@pytest.mark.parametrize("n_total", [1, 5, 9])
def test_short_gif_gives_each_frame_once_under_the_tarsier_samplers(tmp_path, n_total):
    from harness.video import sample_frames

    gif = _gif(tmp_path / "g.gif", n_total)
    case = next(c for c in CASES if c["total_frames"] == n_total and c["n_frames"] == 8)
    for sampler, key in (("tarsier1", "tarsier1_gif_frames_returned"), ("tarsier2", "tarsier2_gif_indices")):
        s = sample_frames(gif, 8, sampler=sampler)
        assert s.indices == case[key] and len(s.images) == len(case[key])
        assert s.requested == 8 and s.sampler == sampler
    assert len(sample_frames(gif, 8).images) == 8  # the harness default keeps n frames


def test_frame_list_is_sampled_from_the_files(tmp_path):
    from harness.video import sample_frame_list

    files = []
    for i in range(30):
        f = tmp_path / f"{i:05d}.jpg"
        Image.fromarray(np.full((6, 10, 3), i * 8, np.uint8)).save(f, quality=100)
        files.append(str(f))
    s = sample_frame_list(files, 16, sampler="tarsier1")
    case = next(c for c in LIST_CASES if c["num_image_files"] == 30 and c["max_n_frames"] == 16)
    assert s.indices == case["files_kept"] and len(s.images) == 16
    assert s.n_total == 30 and s.fps is None and (s.width, s.height) == (10, 6)
    assert s.images[1].getpixel((0, 0))[0] in range(14, 19)  # file 2 (value 16, JPEG-rounded)


# -- MVBench rows: windows and frame lists reach the model's sampler -----------------------------

def test_mvbench_windows_and_frame_lists_reach_the_sampler(tmp_path):
    from tiny_models import make_video

    from harness import registry
    from harness.adapter import AdapterOptions
    from harness.benchmark import Annotations

    make_video(tmp_path / "clip.mp4", n_frames=40, size=(32, 24), fps=10)
    for i in range(5):
        Image.fromarray(np.full((6, 10, 3), 40 * i, np.uint8)).save(tmp_path / f"f{i}.png")
    q = "USER: <video> what happens?\n(A) x\n(B) y\nASSISTANT: Answer: ("
    rows = [
        {"idx": 0, "dataset": "MVBench/Action Sequence", "vid": "clip.mp4", "video_file": "clip.mp4",
         "start_time": 1.26, "end_time": 2.5, "text": {"prompt": q, "response": "A"}},
        {"idx": 1, "dataset": "MVBench/Episodic Reasoning", "vid": "ep1",
         "video_file": [f"f{i}.png" for i in range(5)], "text": {"prompt": q, "response": "B"}},
    ]
    bench = registry.benchmark("mvbench")
    window, frames = bench.samples(Annotations(rows, "x", "0"), str(tmp_path))
    assert (window.extra["clip_start"], window.extra["clip_end"]) == (1.26, 2.5)
    assert frames.extra["frame_files"] == [str(tmp_path / f"f{i}.png") for i in range(5)]
    assert frames.video == str(tmp_path / "f0.png")
    opts = dict(cache_dir=str(tmp_path / "cache"), device="cpu")
    t1 = registry.adapter("tarsier-7b", AdapterOptions(**opts))
    t2 = registry.adapter("tarsier2-7b", AdapterOptions(**opts))
    # 10 fps: Tarsier-1 truncates 12.6 -> 12, Tarsier2 rounds 12.6 -> 13; both end at 25
    assert t1.load_frames(window).indices == video_indices("tarsier1", 40, 8, 10.0, 1.26, 2.5)
    assert t1.load_frames(window).indices[0] == 12 and t2.load_frames(window).indices[0] == 13
    assert t2.load_frames(window).indices == list(range(13, 26))[:13] and len(t2.load_frames(window).indices) == 13
    assert t1.load_frames(frames).indices == [0, 1, 2, 3, 4] and len(t1.load_frames(frames).images) == 5
    assert t2.load_frames(frames).indices == [0, 1, 2, 3, 4]
    generic = registry.adapter("qwen2-vl-7b", AdapterOptions(**opts, frames=8))
    assert generic.frames.sampler == "uniform"
    assert registry.adapter("qwen2-vl-7b", AdapterOptions(**opts, protocol="tarsier")).frames.sampler == "tarsier1"
