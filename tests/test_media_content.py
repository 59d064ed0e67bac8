"""Media are checked by what they hold, not by their name: an image named .mp4 is refused (never
eight copies of its one frame), and a sample whose video is a directory, empty, cut short or not a
video at all fails with its reason while the others are scored."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from conftest import ANNOTATIONS, DEMO_VIDEO, harness_cli, read_jsonl, write_jsonl
from harness.errors import VideoError
from harness.video import sample_frames

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


def _still(path, fmt):
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path, fmt)
    return path


def _animated(path):
    frames = [Image.new("RGB", (32, 32), (40 * i, 0, 0)) for i in range(5)]
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return path


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".avi"])
def test_an_image_named_as_a_video_is_refused(tmp_path, fmt, ext):
    path = _still(tmp_path / f"clip{ext}", fmt)
    with pytest.raises(VideoError, match=rf"holds a {fmt} image, not a video") as err:
        sample_frames(path, 8)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_an_animated_gif_named_mp4_is_refused(tmp_path):
    with pytest.raises(VideoError, match="holds a GIF image, not a video"):
        sample_frames(_animated(tmp_path / "anim.mp4"), 8)


def test_image_and_gif_names_must_match_their_content(tmp_path):
    with pytest.raises(VideoError, match="holds a PNG image, not a GIF"):
        sample_frames(_still(tmp_path / "still.gif", "PNG"), 8)
    with pytest.raises(VideoError, match=r"an animated GIF.*\.png"):
        sample_frames(_animated(tmp_path / "anim.png"), 8)  # would silently give its first frame
    shutil.copy(DEMO_VIDEO, tmp_path / "clip.png")
    with pytest.raises(VideoError):
        sample_frames(tmp_path / "clip.png", 1)


def test_what_matches_its_name_still_works(tmp_path):
    assert len(sample_frames(_still(tmp_path / "a.png", "PNG"), 8).images) == 1  # an image: one frame
    assert sample_frames(_still(tmp_path / "b.jpg", "PNG"), 8).n_total == 1  # an image is an image
    assert sample_frames(_animated(tmp_path / "c.gif"), 3).indices == [0, 2, 4]
    shutil.copy(DEMO_VIDEO, tmp_path / "demo.mkv")  # one video container named as another: still a video
    assert sample_frames(tmp_path / "demo.mkv", 4).indices == sample_frames(DEMO_VIDEO, 4).indices


@pytest.mark.slow
def test_bad_videos_are_per_sample_failures_with_their_reason(tmp_path):
    from judge_server import JudgeServer

    rows = read_jsonl(NEXTQA)[:6]
    names = ["good", "png", "dir", "empty", "cut", "text"]
    for row, name in zip(rows, names):
        row["vid"] = name
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(DEMO_VIDEO, videos / "good.mp4")
    _still(videos / "png.mp4", "PNG")
    (videos / "dir.mp4").mkdir()
    (videos / "empty.mp4").write_bytes(b"")
    data = DEMO_VIDEO.read_bytes()
    (videos / "cut.mp4").write_bytes(data[: len(data) // 2])
    (videos / "text.mp4").write_text("this is not a video\n")
    with JudgeServer() as srv:  # speaks the OpenAI API: the model under test answers with an echo
        proc = harness_cli("run", "--model", "gpt-4o", "--bench", "next-qa", "--annotations", str(ann),
                           "--video-root", str(videos), "--frames", "2", "--out", str(tmp_path / "runs"),
                           "--no-progress", "--json", "--max-failed", "1", "--cache-dir", str(tmp_path / "cache"),
                           env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.url})
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert (res["n_total"], res["n_failed"]) == (6, 5)
    (log,) = (tmp_path / "runs").rglob("predictions.jsonl")
    errors = {r["sample_id"]: r.get("error") for r in read_jsonl(log)}
    by_name = {name: errors[str(row["idx"])] for row, name in zip(rows, names)}
    assert by_name["good"] is None
    assert "holds a PNG image, not a video" in by_name["png"]
    assert "not a regular file" in by_name["dir"]
    assert "empty file" in by_name["empty"]
    assert "truncated" in by_name["cut"] or "cannot decode" in by_name["cut"]
    assert "cannot decode" in by_name["text"]
