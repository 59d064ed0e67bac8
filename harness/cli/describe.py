"""`harness describe INPUT... --model M`: the quick start. Each input (a video, GIF, image or folder of frames)
described by the model, as `harness run` would ask it (same adapter, frames, cache and settings)."""

from __future__ import annotations

from harness.cli.help import examples

import json
import sys

from harness.cli.model_session import (add_model_arguments, failure_code, frames_line, open_model, read_input)
from harness.conversation import DEFAULT_INSTRUCTION
from harness.errors import BadInput

EPILOG = examples("harness describe clip.mp4 --model tarsier-7b",
                  "harness describe clip.mp4 cat.gif photo.png --model gpt-4o --json   # with OPENAI_API_KEY set")


def add_parser(sub) -> None:
    p = sub.add_parser("describe", help="describe videos, GIFs, images or folders of frames with a model",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a video, a GIF, an image, or a folder of frame images (read in name order); several may "
                        "be given")
    p.add_argument("--instruction", default=DEFAULT_INSTRUCTION,
                   help=f"what to ask about each input (default: {DEFAULT_INSTRUCTION!r}, the DREAM-1K prompt)")
    p.add_argument("--json", action="store_true",
                   help="print JSON (one object per input: text, inputs record with frames, sizes and prompt, "
                        "timing) instead of text (default: text)")
    add_model_arguments(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    if not args.instruction.strip():
        raise BadInput("--instruction is empty; say what to ask, e.g. --instruction 'Describe the video in detail.'")
    adapter = open_model(args)
    code, out = 0, []
    try:
        for path in args.inputs:
            try:
                media, frames = read_input(adapter, path)
            except BadInput as exc:
                print(f"harness: {exc}", file=sys.stderr)
                code = 2
                continue
            result = _describe(adapter, args, path, media, frames)
            if result["error"]:
                print(f"harness: {path}: {result['error']}", file=sys.stderr)
                code = max(code, failure_code(result["error"]))
            out.append(result)
    finally:
        adapter.close()
    if args.json:
        print(json.dumps(out[0] if len(out) == 1 and len(args.inputs) == 1 else out, indent=2, ensure_ascii=False))
    return code


def _describe(adapter, args, path: str, media, frames) -> dict:
    """One input's description; in text mode printed as the model makes it."""
    stream = None
    if not args.json:
        if len(args.inputs) > 1:
            print(f"== {path} ({frames_line(frames)})", flush=True)

        def stream(piece: str) -> None:
            sys.stdout.write(piece)
            sys.stdout.flush()

    pred = adapter.chat(media, [{"role": "user", "content": args.instruction}], on_text=stream)
    if stream is not None and pred.ok:
        print(flush=True)
    inputs = dict(pred.meta.get("inputs") or {})
    return {"input": path, "model": adapter.name, "instruction": args.instruction, "text": pred.text,
            "error": pred.error, "seconds": pred.seconds, "prompt_tokens": pred.prompt_tokens,
            "completion_tokens": pred.completion_tokens, "n_frames": pred.n_frames, "inputs": inputs,
            "profile": (adapter.options.profile or {}).get("id"),
            "overridden": (adapter.options.profile or {}).get("overridden") or {}}
