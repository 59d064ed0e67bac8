"""What `harness describe`, `harness chat` and `harness demo` share: the model flags (those of `harness run`
that decide what a model sees), the adapter built from them with the model's profile, loaded once (a local
model says it is loading, and how long it took), and an input checked before anyone waits on the model."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from harness.cli.numbers import count
from harness.errors import BadInput, VideoError
from harness.types import MAX_FRAMES, Sample


def add_model_arguments(p) -> None:
    p.add_argument("--model", required=True,
                   help="model id (required; see `harness list models`), or openai-compatible:NAME with --base-url")
    g = p.add_argument_group("model (as for `harness run`; the model's profile fills what is not given)")
    g.add_argument("--model-path", help="local checkpoint folder instead of the hub id (default: the hub id's "
                                        "weights in the Hugging Face cache)")
    g.add_argument("--revision", help="hub revision of the checkpoint, or an API snapshot (default: the profile's)")
    g.add_argument("--device", help="cuda, cuda:1, cpu ... for local models (default: cuda)")
    g.add_argument("--backend", help="transformers or vllm for local models (default: transformers)")
    g.add_argument("--base-url", help="the /v1 endpoint of an OpenAI-compatible server (default: OPENAI_BASE_URL, "
                                      "else api.openai.com)")
    g.add_argument("--frames", type=count(1, MAX_FRAMES),
                   help="frames per video (default: the model's profile; at most what its context holds)")
    g.add_argument("--max-new-tokens", type=count(1), help="longest answer, in tokens (default: the profile's)")
    g.add_argument("--detail", choices=["low", "high", "auto"],
                   help="image detail for OpenAI vision models (default: the profile's; gpt-4o: high)")
    g.add_argument("--dtype", choices=["float16", "bfloat16", "float32"],
                   help="weights dtype for local models (default: the model's published one)")
    g.add_argument("--gemini-input", choices=["video", "frames"],
                   help="Gemini: upload the video (default) or send the sampled frames")
    g.add_argument("--protocol", choices=["strict", "tarsier"], default="strict",
                   help="tarsier: generic models read clips as Tarsier-1's loader did (default: strict)")
    g.add_argument("--cache-dir", help="API answer and frame cache (default: $HARNESS_CACHE_DIR, else the user "
                                       "cache directory)")


def open_model(args: argparse.Namespace):
    """The adapter `harness run` would use for these flags, checked (GPU, weights, keys) and loaded."""
    from harness import registry
    from harness.cli.run import adapter_options
    from harness.settings import Environment

    for name, value in (("batch_size", None), ("concurrency", 1), ("model_name", None)):
        if not hasattr(args, name):
            setattr(args, name, value)
    adapter = registry.adapter(args.model, adapter_options(args, Environment.load()))
    if not getattr(adapter, "needs_video", True):
        raise BadInput(f"{args.model} replays predictions made elsewhere; describe, chat and demo need a model")
    adapter.check()
    load(adapter)
    return adapter


def load(adapter) -> None:
    """Load the weights (or open the API's client) once; a local model shows that it is loading."""
    local = hasattr(adapter, "gpu_memory_gb")  # harness.adapters._hf.LocalAdapter, without importing it
    t0 = time.perf_counter()
    if local:
        where = getattr(adapter, "source", adapter.model)
        print(f"harness: loading {adapter.model} from {where} on {getattr(adapter, 'device', '?')} "
              f"({adapter.backend}) ...", file=sys.stderr, flush=True)
    adapter.load()
    if local:
        print(f"harness: {adapter.model} loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def read_input(adapter, path: str) -> tuple[Sample, Any]:
    """The input as a Sample and its frames as the model will get them (None when the provider samples the
    video itself); BadInput naming the file when it is missing, of a wrong type, corrupt or cut short."""
    from harness.conversation import input_sample

    media = input_sample(path)
    if adapter.frames.n_frames == 0 and media.extra.get("frame_files"):
        raise BadInput(f"{path}: a folder of frames; {adapter.model} is sent the video file itself "
                       "(--gemini-input frames sends frames)")
    try:
        if adapter.frames.n_frames > 0:
            return media, adapter.load_frames(media)
        from harness.video import sample_frames

        sample_frames(media.video, 1)  # read once: the upload would fail later, and less clearly
        return media, None
    except VideoError as exc:
        raise BadInput(str(exc)) from None


def failure_code(error: str) -> int:
    """Exit code of a failed reply: 2 for the input (the video), 1 for the model or its API."""
    return 2 if error.startswith("video:") else 1


def frames_line(frames) -> str:
    """'16 frames at 1920x800 (indices 0, 6, ..., 83)' for what the model gets."""
    if frames is None:
        return "the video itself (the provider samples it)"
    idx = frames.indices
    shown = ", ".join(map(str, idx)) if len(idx) <= 8 else f"{', '.join(map(str, idx[:4]))}, ..., {idx[-1]}"
    size = f"{frames.images[0].width}x{frames.images[0].height}" if frames.images else "?"
    return f"{len(idx)} frame{'s' * (len(idx) != 1)} at {size} (indices {shown})"
