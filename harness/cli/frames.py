"""`harness frames PATH [--model M [--bench B]]`: which frames a model would see, at what size,
as how many visual tokens; optionally save them. Loads no weights, calls no API."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.help import examples
from harness.cli.numbers import count
from harness.errors import BadInput
from harness.types import MAX_FRAMES


def add_parser(sub) -> None:
    p = sub.add_parser("frames", help="the frames (and, with --model, sizes and tokens) a model would get",
                       epilog=examples("harness frames clip.mp4 --model tarsier2-7b",
                                       "harness frames clip.mp4 --n 8 --out frames/ --json"))
    p.add_argument("path", help="video, GIF or image file")
    p.add_argument("--model", help="model id: its sampler, frame count, resize and token count")
    p.add_argument("--bench", help="with --model: the settings of that benchmark's profile")
    p.add_argument("--model-path", help="with --model: a local checkpoint (its image processor settings)")
    p.add_argument("--protocol", choices=["strict", "tarsier"], default="strict",
                   help="tarsier: the model's frames as the official loader reads them (Tarsier-1's rule for "
                        "other models too)")
    p.add_argument("--n", "--frames", dest="n", type=count(1, MAX_FRAMES), default=None,
                   help=f"number of frames (default 8, or the model's; at most {MAX_FRAMES})")
    p.add_argument("--out", type=Path, help="write the frames as PNGs into this folder")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--max-pixels", type=count(1), default=None, help="without --model: downsize frames above this area")
    p.add_argument("--resize", default="none", help="without --model: none | square-stretch (Tarsier-1)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from harness.video import SAMPLER_VERSION, sample_frames

    layout = None
    if args.model:
        s, layout, label = _for_model(args)
    else:
        if args.bench or args.model_path:
            raise BadInput("--bench and --model-path need --model")
        s = sample_frames(args.path, args.n or 8, max_pixels=args.max_pixels, resize=args.resize)
        label = None
    files = _write(s, args.out) if args.out is not None else []
    if args.json:
        out = {"source": s.source, "n_total": s.n_total, "fps": s.fps, "width": s.width, "height": s.height,
               "sampler": s.sampler, "sampler_version": SAMPLER_VERSION, "frames_requested": s.requested,
               "indices": s.indices, "timestamps": s.timestamps, "files": [str(f) for f in files]}
        if args.model:
            out.update({"model": args.model, "profile": label, "inputs": layout})
        print(json.dumps(out))
        return 0
    fps = f"{s.fps:.3f} fps" if s.fps else "fps unknown"
    print(f"{s.source}: {s.n_total} frames, {fps}, {s.width}x{s.height}; {len(s.indices)} sampled of "
          f"{s.requested} asked (sampler {s.sampler}, v{SAMPLER_VERSION})")
    for i, (index, t) in enumerate(zip(s.indices, s.timestamps)):
        print(f"frame {i}: index {index}  t={t:.3f}s")
    if layout is not None:
        print(f"{args.model} ({label}): " + "; ".join(f"{k} {_show(v)}" for k, v in layout.items() if v is not None))
    if files:
        print(f"wrote {len(files)} PNGs to {args.out}")
    return 0


def _for_model(args):
    from harness import registry
    from harness.adapter import AdapterOptions
    from harness.adapters.profiles import profile_options
    from harness.video import sample_frames

    opts = AdapterOptions(model_path=args.model_path, frames=args.n, protocol=args.protocol)
    opts, label = profile_options(args.model, args.bench, opts)
    adapter = registry.adapter(args.model, opts)
    spec = getattr(adapter, "frames", None)
    if spec is None or not getattr(adapter, "needs_video", True) or not hasattr(adapter, "input_layout"):
        raise BadInput(f"{args.model} takes no sampled frames (see `harness list models`)")
    s = sample_frames(args.path, spec.n_frames, resize=spec.resize,
                      max_pixels=getattr(adapter, "sampler_max_pixels", spec.max_pixels), sampler=spec.sampler)
    return s, adapter.input_layout(s), label


def _show(v) -> str:
    if isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return f"{v[0]}x{v[1]}"
    if isinstance(v, dict):
        return ", ".join(f"{k} {x}" for k, x in v.items())
    return str(v)


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
