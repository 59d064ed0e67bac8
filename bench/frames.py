"""Benchmark: harness.video.sample_frames (index + seek) against decoding every frame.

    .venv/bin/python bench/frames.py [--reps 3]

Makes four 60 s 1280x720 H.264 clips once (cached in bench/out/, gitignored): at 30 fps one with a
keyframe every 2 s (GOP 60, common for streamed video) and one with x264's default maximum GOP of 250
frames; at 25 fps one with GOP 30 and one with GOP 250, where the keyframes fall between the sampled
indices, so a sampled frame is reached by seeking to an earlier keyframe and decoding forward (n = 8:
none of the six inner indices is a keyframe; n = 16: 3 of 14 are at GOP 30 (300, 500, 600), 1 at GOP 250;
by contrast at 30 fps GOP 60, n = 16 puts 7 of 14 on keyframes, the favourable case). All
x264 veryfast, CRF 23, 3 B-frames. The content is a slow pan over smooth noise with a moving square, so
the bitrate is that of real footage rather than a still image. Every clip and frame count is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import av
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.video import sample_frames, uniform_indices  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
W, H, SECONDS = 1280, 720, 60
CLIPS = {"gop60_2s.mp4": (30, 60), "gop250.mp4": (30, 250),  # name: (fps, keyframe interval)
         "25fps_gop30.mp4": (25, 30), "25fps_gop250.mp4": (25, 250)}


def make_clip(path: Path, fps: int, gop: int) -> None:
    rng = np.random.default_rng(0)
    small = (rng.random((90, 200, 3)) * 255).astype(np.uint8)
    texture = np.asarray(Image.fromarray(small).resize((W * 2, H + 200), Image.Resampling.BICUBIC))
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=fps, options={
            "preset": "veryfast", "crf": "23", "bf": "3", "g": str(gop),
            "x264-params": f"keyint={gop}:min-keyint={min(gop, 25)}"})
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(fps * SECONDS):
            x = int(i * (W / (fps * SECONDS)))
            y = int(100 + 100 * np.sin(i / 90))
            frame = texture[y:y + H, x:x + W].copy()
            bx, by = (i * 7) % (W - 100), (i * 3) % (H - 100)
            frame[by:by + 100, bx:bx + 100] = (255, 40, 40)
            for pkt in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    tmp.rename(path)


def naive(path: Path, n: int) -> list[Image.Image]:
    """Decode every frame (same threading as ours) and keep the chosen ones."""
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        wanted = set(uniform_indices(stream.frames, n))  # MP4 from our encoder: count is right
        kept = {}
        count = 0
        for count, frame in enumerate(c.decode(stream), start=1):
            if count - 1 in wanted:
                kept[count - 1] = frame.to_image()
    assert count == stream.frames
    return [kept[i] for i in uniform_indices(count, n)]


def timed(fn, reps: int):
    times, result = [], None
    for _ in range(reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    for name, (fps, gop) in CLIPS.items():
        if not (OUT / name).exists():
            print(f"making {name} (once) ...", flush=True)
            make_clip(OUT / name, fps, gop)

    print(f"{W}x{H} {SECONDS} s H.264, {args.reps} reps, median (min) seconds")
    print(f"{'clip':<17} {'fps':>3} {'GOP':>4} {'n':>3} {'sample_frames':>16} {'decode all':>16} {'speedup':>8}")
    for name, (fps, gop) in CLIPS.items():
        path = OUT / name
        for n in (8, 16):
            ours, s = timed(lambda: sample_frames(path, n), args.reps)
            base, frames = timed(lambda: naive(path, n), args.reps)
            assert [a.tobytes() for a in s.images] == [b.tobytes() for b in frames], "frames differ"
            mo, mb = statistics.median(ours), statistics.median(base)
            print(f"{name:<17} {fps:>3} {gop:>4} {n:>3} {mo:>8.3f} ({min(ours):.3f}) {mb:>8.3f} ({min(base):.3f})"
                  f" {mb / mo:>7.1f}x", flush=True)
    print("frames identical between the two: yes")


if __name__ == "__main__":
    main()
