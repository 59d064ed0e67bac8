"""Frame sampling: the chosen frames are exactly the frames a full decode has at those indices.

Test clips are generated here; each frame shows its own index in binary as black and white
blocks, which survive lossy coding, so a decoded image says which frame it is.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

import harness.video as video
from harness.errors import BadInput, VideoError
from harness.video import FrameSample, sample_frames, uniform_indices

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
DEMO = SHARED / "data/videos/demo_test.mp4"

W, H, BITS, BLOCK = 160, 32, 10, 16
RATE = 25


def pattern(i: int) -> np.ndarray:
    a = np.zeros((H, W, 3), np.uint8)
    for b in range(BITS):
        if i >> b & 1:
            a[:, b * BLOCK:(b + 1) * BLOCK] = 255
    return a


def identity(img: Image.Image) -> int:
    a = np.asarray(img.convert("L"), dtype=np.float32)
    bits = [a[4:-4, b * BLOCK + 4:(b + 1) * BLOCK - 4].mean() > 128 for b in range(BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


def make_video(path: Path, n: int, codec: str, options=None, fmt_options=None, offset: int = 0):
    with av.open(str(path), "w", options=fmt_options or {}) as out:
        s = out.add_stream(codec, rate=RATE, options=options or {})
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            f = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            f.pts, f.time_base = i + offset, Fraction(1, RATE)
            for pkt in s.encode(f):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    return path


def make_gif(path: Path, n: int) -> Path:
    frames = [Image.fromarray(pattern(i)) for i in range(n)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40, loop=0)
    return path


X264_B = "b-adapt=0:scenecut=0"  # force B-frames: the test pattern would not get any
VIDEOS = {  # name: (codec, encoder options, muxer options, first pts)
    "h264_small_gop.mp4": ("libx264", {"g": "5", "bf": "2", "x264-params": X264_B}, None, 0),
    "h264_long_gop.mp4": ("libx264", {"g": "250", "bf": "3",
                                      "x264-params": X264_B + ":b-pyramid=normal"}, None, 0),
    "h264_faststart.mp4": ("libx264", {"g": "12", "bf": "3", "x264-params": X264_B},
                           {"movflags": "faststart"}, 0),
    "h264_offset.mp4": ("libx264", {"g": "6", "bf": "2", "x264-params": X264_B}, None, 50),
    "h264.mov": ("libx264", {"g": "7", "bf": "2", "x264-params": X264_B}, None, 0),
    "h264_open_gop.mkv": ("libx264", {"g": "10", "bf": "3", "x264-params":
                                      X264_B + ":open-gop=1:keyint=10:min-keyint=10"}, None, 0),
    "mpeg4.avi": ("mpeg4", {"g": "12", "bf": "2"}, None, 0),
    "vp9.webm": ("libvpx-vp9", {"g": "20", "deadline": "good", "cpu-used": "8",
                                "auto-alt-ref": "1", "lag-in-frames": "16"}, None, 0),
    "vp8.webm": ("libvpx", {"g": "20"}, None, 0),
}
N_FRAMES = 60
SHORT = 5  # a clip with fewer frames than asked for


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {}
    for name, (codec, opts, fmt_opts, offset) in VIDEOS.items():
        if codec in av.codecs_available:
            out[name] = make_video(d / name, N_FRAMES, codec, opts, fmt_opts, offset)
    out["short.mp4"] = make_video(d / "short.mp4", SHORT, "libx264", VIDEOS["h264_small_gop.mp4"][1])
    out["anim.gif"] = make_gif(d / "anim.gif", 23)
    out["short.gif"] = make_gif(d / "short.gif", SHORT)
    Image.fromarray(pattern(37)).save(d / "still.png")
    out["still.png"] = d / "still.png"
    return out


_full_cache: dict[Path, list[Image.Image]] = {}


def full_decode(path: Path) -> list[Image.Image]:
    """Every frame, in order, by the plainest decode there is."""
    if path not in _full_cache:
        if path.suffix == ".gif":
            with Image.open(path) as im:
                frames = []
                for i in range(im.n_frames):
                    im.seek(i)
                    frames.append(im.convert("RGB"))
        else:
            with av.open(str(path)) as c:
                frames = [f.to_image() for f in c.decode(video=0)]
        _full_cache[path] = frames
    return _full_cache[path]


def assert_exact(s: FrameSample, path: Path, n: int) -> None:
    full = full_decode(path)
    assert s.n_total == len(full)
    assert s.indices == uniform_indices(len(full), n)
    assert len(s.images) == len(s.timestamps) == n
    for index, img in zip(s.indices, s.images):
        assert img.mode == "RGB"
        assert img.tobytes() == full[index].tobytes(), f"frame {index} differs from the full decode"


# -- the index rule ---------------------------------------------------------------------------

def test_uniform_indices_rule():
    assert uniform_indices(84, 8) == [0, 12, 24, 36, 47, 59, 71, 83]
    assert uniform_indices(100, 1) == [0]
    assert uniform_indices(1, 4) == [0, 0, 0, 0]
    assert uniform_indices(3, 5) == [0, 0, 1, 2, 2]  # 0.5 -> 0, 1.5 -> 2: Python round
    assert uniform_indices(4, 3) == [0, 2, 3]  # 1.5 -> 2
    assert uniform_indices(6, 3) == [0, 2, 5]  # 2.5 -> 2 (ties to even, as in Tarsier)
    for n_total in (1, 2, 7, 84, 1801):
        for n in (1, 2, 8, 16, 32):
            idx = uniform_indices(n_total, n)
            assert len(idx) == n and idx[0] == 0 and idx == sorted(idx)
            assert n == 1 or idx[-1] == n_total - 1
    with pytest.raises(BadInput):
        uniform_indices(10, 0)
    with pytest.raises(BadInput):
        uniform_indices(0, 8)


# -- exact frames ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(VIDEOS))
@pytest.mark.parametrize("n", [1, 8, 16])
def test_video_frames_are_exact(clips, name, n):
    if name not in clips:
        pytest.skip(f"{VIDEOS[name][0]} is not in this PyAV build")
    path = clips[name]
    s = sample_frames(path, n)
    assert_exact(s, path, n)
    assert [identity(im) for im in s.images] == s.indices
    assert s.fps == pytest.approx(RATE)
    assert (s.width, s.height) == (W, H)
    assert s.timestamps == pytest.approx([i / RATE for i in s.indices], abs=1e-3)  # from frame 0


@pytest.mark.parametrize("name", ["h264_small_gop.mp4", "h264_long_gop.mp4", "h264_open_gop.mkv",
                                  "h264_offset.mp4", "vp9.webm", "mpeg4.avi"])
def test_seeking_is_used_and_sequential_agrees(clips, name, monkeypatch):
    if name not in clips:
        pytest.skip("codec not in this PyAV build")
    path = clips[name]
    monkeypatch.setattr(video, "_decode_sequential", lambda *a: pytest.fail("fell back"))
    by_seek = sample_frames(path, 16)
    monkeypatch.undo()
    monkeypatch.setattr(video, "_decode_by_seeking", lambda *a: None)
    by_decode = sample_frames(path, 16)
    assert by_seek.indices == by_decode.indices
    assert by_seek.timestamps == pytest.approx(by_decode.timestamps)
    assert [a.tobytes() for a in by_seek.images] == [b.tobytes() for b in by_decode.images]


SLOPPY = {  # how a demuxer might answer seek(ts): time base 1/12800, GOP 5 frames = 2560
    "early": lambda ts: ts - 10**7,  # lands on the first keyframe: skip packets undecoded
    "late": lambda ts: ts + 2560 if ts > 0 else ts,  # a GOP late: retry from an earlier one
    "nowhere": lambda ts: 10**9,  # always the last keyframe: give up, decode sequentially
}


@pytest.mark.parametrize("mode", list(SLOPPY))
def test_sloppy_seeks_still_give_exact_frames(clips, monkeypatch, mode):
    real_open, real_sequential = video._open, video._decode_sequential
    sequential = []

    class SloppySeek:
        def __init__(self, container):
            self._c = container

        def __getattr__(self, name):
            return getattr(self._c, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._c.close()

        def seek(self, ts, **kw):
            self._c.seek(SLOPPY[mode](ts), **kw)

    def opener(p):
        container, stream = real_open(p)
        return SloppySeek(container), stream

    monkeypatch.setattr(video, "_open", opener)
    monkeypatch.setattr(video, "_decode_sequential",
                        lambda *a: sequential.append(1) or real_sequential(*a))
    path = clips["h264_small_gop.mp4"]
    assert_exact(sample_frames(path, 16), path, 16)
    assert bool(sequential) == (mode == "nowhere")


@pytest.mark.parametrize("n", [8, 16])
def test_fewer_frames_than_asked_repeat(clips, n):
    for name in ("short.mp4", "short.gif"):
        s = sample_frames(clips[name], n)
        assert s.n_total == SHORT
        assert s.indices == uniform_indices(SHORT, n)
        assert [identity(im) for im in s.images] == s.indices
        assert_exact(s, clips[name], n)


@pytest.mark.parametrize("n", [1, 8, 16])
def test_gif(clips, n):
    s = sample_frames(clips["anim.gif"], n)
    assert_exact(s, clips["anim.gif"], n)
    assert [identity(im) for im in s.images] == s.indices
    assert s.timestamps == pytest.approx([i * 0.04 for i in s.indices])
    assert s.fps == pytest.approx(25)


def test_image_is_one_frame(clips):
    s = sample_frames(clips["still.png"], 8)
    assert (s.indices, s.timestamps, s.n_total, s.fps) == ([0], [0.0], 1, None)
    assert identity(s.images[0]) == 37 and s.images[0].mode == "RGB"


def test_resize(clips):
    s = sample_frames(clips["h264_small_gop.mp4"], 2, resize="square-stretch")
    assert [im.size for im in s.images] == [(W, W)] * 2
    s = sample_frames(clips["h264_small_gop.mp4"], 2, max_pixels=1000)
    w, h = s.images[0].size
    assert w * h <= 1000 and abs(w / h - W / H) < 0.5
    assert (s.width, s.height) == (W, H)  # the source size
    s = sample_frames(clips["still.png"], 1, max_pixels=W * H)  # not above: untouched
    assert s.images[0].size == (W, H)
    with pytest.raises(BadInput):
        sample_frames(clips["still.png"], 1, resize="crop")
    with pytest.raises(BadInput):
        sample_frames(clips["still.png"], 0)


@pytest.mark.slow
@pytest.mark.skipif(not DEMO.exists(), reason="shared demo clip not present")
def test_demo_clip():
    s = sample_frames(DEMO, 8)
    assert s.n_total == 84
    assert s.indices[0] == 0 and s.indices[-1] == 83
    assert s.indices == [0, 12, 24, 36, 47, 59, 71, 83]
    assert_exact(s, DEMO, 8)


# -- damaged and unsupported inputs ------------------------------------------------------------

def _cut(src: Path, dst: Path, frac: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * frac)])
    return dst


def test_bad_inputs_raise_video_error(clips, tmp_path):
    rng = np.random.default_rng(0)
    bad = {
        "random.mp4": rng.bytes(20000),
        "random.png": rng.bytes(5000),
        "random.gif": b"GIF89a" + rng.bytes(3000),
        "empty.mp4": b"",
        "notes.txt": b"hello\n",
    }
    paths = []
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        paths.append(tmp_path / name)
    paths += [
        _cut(clips["h264_long_gop.mp4"], tmp_path / "half.mp4", 0.5),  # index at the end: lost
        _cut(clips["h264_faststart.mp4"], tmp_path / "half_fast.mp4", 0.5),  # index kept, data lost
        _cut(clips["h264_faststart.mp4"], tmp_path / "most_fast.mp4", 0.9),
        _cut(clips["h264_open_gop.mkv"], tmp_path / "half.mkv", 0.5),
        tmp_path / "missing.mp4",
        tmp_path,  # a directory
    ]
    if "vp9.webm" in clips:
        paths.append(_cut(clips["vp9.webm"], tmp_path / "most.webm", 0.9))
    if DEMO.exists():
        paths.append(_cut(DEMO, tmp_path / "demo_half.mp4", 0.5))
    for p in paths:
        with pytest.raises(VideoError) as err:
            sample_frames(p, 8)
        msg = str(err.value)
        assert str(p) in msg and "\n" not in msg, msg


def test_decode_count_mismatch_is_refused(clips, monkeypatch):
    # Damage no container check sees: the decode yields fewer frames than the packet index.
    monkeypatch.setattr(video, "_decode_by_seeking", lambda *a: None)
    real_open = video._open
    opened = []

    class LosesLastFrames:
        def __init__(self, container):
            self.container = container

        def decode(self, stream):
            return itertools.islice(self.container.decode(stream), N_FRAMES - 3)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.container.close()

    def opener(p):
        container, stream = real_open(p)
        opened.append(p)
        return (container, stream) if len(opened) == 1 else (LosesLastFrames(container), stream)

    monkeypatch.setattr(video, "_open", opener)
    with pytest.raises(VideoError, match="60 frames indexed, 57 decode"):
        sample_frames(clips["h264_small_gop.mp4"], 8)


# -- the command -------------------------------------------------------------------------------

def _registered() -> bool:
    try:
        from harness import cli
    except ImportError:
        return False
    return "frames" in getattr(cli, "COMMANDS", [])


def test_cli_run(clips, tmp_path, capsys):
    from harness.cli import frames

    parser = argparse.ArgumentParser()
    frames.add_parser(parser.add_subparsers())
    args = parser.parse_args(["frames", str(clips["h264_small_gop.mp4"]), "--n", "4",
                              "--out", str(tmp_path / "out")])
    assert frames.run(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert "60 frames" in out[0] and "25.000 fps" in out[0] and f"{W}x{H}" in out[0]
    assert out[1:5] == ["frame 0: index 0  t=0.000s", "frame 1: index 20  t=0.800s",
                        "frame 2: index 39  t=1.560s", "frame 3: index 59  t=2.360s"]
    pngs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert pngs == ["frame_00_idx000000.png", "frame_01_idx000020.png",
                    "frame_02_idx000039.png", "frame_03_idx000059.png"]
    assert identity(Image.open(tmp_path / "out" / pngs[2])) == 39

    args = parser.parse_args(["frames", str(clips["anim.gif"]), "--n", "3", "--json"])
    assert frames.run(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["indices"] == [0, 11, 22] and data["n_total"] == 23

    args = parser.parse_args(["frames", str(tmp_path / "nope.mp4")])
    with pytest.raises(VideoError):
        frames.run(args)


@pytest.mark.slow
@pytest.mark.skipif(not _registered(), reason="`frames` not yet in harness.cli.COMMANDS")
def test_cli_subprocess(clips, tmp_path):
    cmd = [sys.executable, "-m", "harness.cli", "frames"]
    ok = subprocess.run(cmd + [str(clips["h264_small_gop.mp4"]), "--n", "2"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert "frame 1: index 59  t=2.360s" in ok.stdout
    bad = subprocess.run(cmd + [str(tmp_path / "nope.mp4")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no such file" in bad.stderr
