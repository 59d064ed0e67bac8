"""`harness frames PATH`: show which frames a model would see, and optionally save them."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.numbers import count
from harness.errors import BadInput
from harness.types import MAX_FRAMES


def add_parser(sub) -> None:
    p = sub.add_parser("frames", help="sample frames from a video, GIF or image and list them")
    p.add_argument("path", help="video, GIF or image file")
    p.add_argument("--n", type=count(1, MAX_FRAMES), default=8, help=f"number of frames (default 8, at most {MAX_FRAMES})")
    p.add_argument("--out", type=Path, help="write the frames as PNGs into this folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--max-pixels", type=count(1), default=None, help="downsize frames above this area")
    p.add_argument("--resize", default="none", help="none | square-stretch (Tarsier-1)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from harness.video import SAMPLER_VERSION, sample_frames

    s = sample_frames(args.path, args.n, max_pixels=args.max_pixels, resize=args.resize)
    files = _write(s, args.out) if args.out is not None else []
    if args.json:
        print(json.dumps({
            "source": s.source, "n_total": s.n_total, "fps": s.fps, "width": s.width,
            "height": s.height, "sampler_version": SAMPLER_VERSION, "indices": s.indices,
            "timestamps": s.timestamps, "files": [str(f) for f in files],
        }))
        return 0
    fps = f"{s.fps:.3f} fps" if s.fps else "fps unknown"
    print(f"{s.source}: {s.n_total} frames, {fps}, {s.width}x{s.height}; "
          f"{len(s.indices)} sampled (sampler {SAMPLER_VERSION})")
    for i, (index, t) in enumerate(zip(s.indices, s.timestamps)):
        print(f"frame {i}: index {index}  t={t:.3f}s")
    if files:
        print(f"wrote {len(files)} PNGs to {args.out}")
    return 0


def _write(s, out: Path) -> list[Path]:
    files = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for i, (index, img) in enumerate(zip(s.indices, s.images)):
            f = out / f"frame_{i:02d}_idx{index:06d}.png"
            img.save(f)
            files.append(f)
    except OSError as exc:
        raise BadInput(f"cannot write frames to {out}: {exc.strerror or exc}") from exc
    return files
