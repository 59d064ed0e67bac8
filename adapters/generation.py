"""What a checkpoint's generation_config.json adds to greedy decoding, read once, applied by
both backends alike.

The official scripts pass do_sample/temperature/top_p/max_new_tokens explicitly; transformers'
generate takes every other field from the checkpoint's generation_config.json. Under greedy
decoding only a few of them change the output: the repetition penalty and the end tokens (and
n-gram bans, which vLLM cannot apply). vLLM, given explicit SamplingParams, would apply none of
them, so they are read here and handed to both backends explicitly.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

GREEDY_FIELDS = ("repetition_penalty", "eos_token_id", "no_repeat_ngram_size", "bad_words_ids")


@functools.lru_cache(maxsize=32)
def _read(source: str, revision: str | None) -> dict[str, Any]:
    p = Path(source)
    f = p / "generation_config.json" if p.is_dir() else None
    if f is None and not p.exists():
        try:
            from huggingface_hub import try_to_load_from_cache

            got = try_to_load_from_cache(source, "generation_config.json", revision=revision)
            f = Path(got) if isinstance(got, str) else None
        except ImportError:
            f = None
    if f is None or not f.is_file():
        return {}
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except ValueError:
        return {}


def checkpoint_generation(source: str, revision: str | None = None) -> dict[str, Any]:
    """The generation_config.json fields that matter under greedy decoding (empty without one)."""
    conf = _read(source, revision)
    out: dict[str, Any] = {}
    rp = conf.get("repetition_penalty")
    if rp is not None and float(rp) != 1.0:
        out["repetition_penalty"] = float(rp)
    eos = conf.get("eos_token_id")
    if eos is not None:
        out["eos_token_id"] = [int(e) for e in (eos if isinstance(eos, list) else [eos])]
    for key in ("no_repeat_ngram_size", "bad_words_ids"):
        if conf.get(key):
            out[key] = conf[key]
    return out
