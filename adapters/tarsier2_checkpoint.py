"""Loading a Tarsier2 checkpoint as released into transformers' Qwen2-VL classes.

The release is a LLaVA-style wrapper (bytedance/tarsier main, models/modeling_tarsier.py:27-84,
273-297): config.json says model_type "llava" with a Qwen2-VL `text_config` and `vision_config`,
and the weights are named vision_tower.*, language_model.model.*, language_model.lm_head.*
(no projector). transformers' Qwen2VLForConditionalGeneration names the same tensors otherwise,
and differently across versions (../shared/golden/tarsier2_checkpoint_layout.json):

    official                  transformers >= 4.52          transformers <= 4.51
    vision_tower.             model.visual.                 visual.
    language_model.model.     model.language_model.         model.
    language_model.lm_head.   lm_head.                      lm_head.

from_pretrained on the official names loads nothing and initialises every weight at random, so
the names are mapped here, for the installed version (read off the model class itself), and any
weight missing or left over is one BadInput naming it: never a model with random weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.errors import BadInput

OFFICIAL_PREFIXES = ("vision_tower.", "language_model.model.", "language_model.lm_head.")
# the released Qwen2-VL names (what transformers <= 4.51 uses), per official prefix
LEGACY_NAMES = {"vision_tower.": "visual.", "language_model.model.": "model.", "language_model.lm_head.": "lm_head."}
_NOT_QWEN_KEYS = ("model_type", "auto_map", "architectures", "_name_or_path", "transformers_version")


def read_config(folder: Path) -> dict[str, Any]:
    f = folder / "config.json"
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"{f}: not a readable config.json ({exc})") from None


def qwen2vl_config(conf: dict[str, Any], source: str):
    """The transformers Qwen2VLConfig of a Tarsier2 wrapper config (flat text keys + vision_config)."""
    import transformers

    text, vision = conf.get("text_config"), conf.get("vision_config")
    if conf.get("model_type") != "llava" or not isinstance(text, dict) or text.get("model_type") != "qwen2_vl":
        raise BadInput(f"{source} is not a Tarsier2 checkpoint as released (expected model_type 'llava' with a "
                       f"qwen2_vl text_config; found model_type {conf.get('model_type')!r})")
    if not isinstance(vision, dict):
        raise BadInput(f"{source}: config.json has no vision_config")
    token = conf.get("image_token_index")
    if token is not None and text.get("image_token_id") not in (None, token):
        raise BadInput(f"{source}: image_token_index {token} differs from text_config.image_token_id "
                       f"{text.get('image_token_id')}; the official model uses one id for both")
    kw = {k: v for k, v in text.items() if k not in _NOT_QWEN_KEYS}
    kw["vision_config"] = {k: v for k, v in vision.items() if k not in _NOT_QWEN_KEYS}
    if token is not None:
        kw["image_token_id"] = token
    return transformers.Qwen2VLConfig(**kw)


def checkpoint_keys(folder: Path) -> list[str]:
    """Tensor names of a safetensors checkpoint (sharded or not), read from headers only."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return sorted(json.loads(index.read_text(encoding="utf-8"))["weight_map"])
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise BadInput(f"{folder} has no .safetensors weights")
    from safetensors import safe_open

    keys: list[str] = []
    for f in files:
        with safe_open(str(f), framework="pt") as fh:
            keys.extend(fh.keys())
    return sorted(keys)


def module_names(model_class, config) -> set[str]:
    """The parameter and buffer names the installed transformers expects (built on the meta device)."""
    import torch

    with torch.device("meta"):
        model = model_class(config)
    names = set(model.state_dict())
    if getattr(config, "tie_word_embeddings", False) or getattr(getattr(config, "text_config", None),
                                                                  "tie_word_embeddings", False):
        names.discard("lm_head.weight")
    return names


def key_mapping(expected: set[str]) -> dict[str, str]:
    """Regex renames official -> installed names: the legacy names, then the class's own renames."""
    new_layout = any(k.startswith("model.visual.") for k in expected)
    out = {}
    for official, legacy in LEGACY_NAMES.items():
        target = legacy
        if new_layout and legacy == "visual.":
            target = "model.visual."
        elif new_layout and legacy == "model.":
            target = "model.language_model."
        out["^" + official.replace(".", r"\.")] = target
    return out


def rename(keys: list[str], mapping: dict[str, str]) -> dict[str, str]:
    import re

    out = {}
    for k in keys:
        new = k
        for pattern, repl in mapping.items():
            new, n = re.subn(pattern, repl, k)
            if n:
                break
        out[k] = new
    return out


def check_names(keys: list[str], expected: set[str], mapping: dict[str, str], source: str) -> None:
    """One BadInput naming the first weight that is missing or left over, with the counts."""
    renamed = rename(keys, mapping)
    unexpected = sorted(k for k, new in renamed.items() if new not in expected)
    missing = sorted(expected - set(renamed.values()))
    if not unexpected and not missing:
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} weight(s) missing, e.g. {_official_name(missing[0], mapping)}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]}")
    raise BadInput(f"{source} does not match the Tarsier2 layout ({'; '.join(parts)}); refusing to run "
                   "with randomly initialised weights")


def _official_name(name: str, mapping: dict[str, str]) -> str:
    """An expected weight's name in the official layout (for the message)."""
    for pattern, target in mapping.items():
        if name.startswith(target):
            return pattern.lstrip("^").replace("\\.", ".") + name[len(target):]
    return name


def load(source: str, kw: dict[str, Any], dtype_kw: dict[str, Any], device_map) -> Any:
    """The checkpoint in Qwen2VLForConditionalGeneration, every weight accounted for, in eval mode."""
    import transformers

    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(source, revision=kw.get("revision"), local_files_only=True))
    config = qwen2vl_config(read_config(folder), source)
    cls = transformers.Qwen2VLForConditionalGeneration
    expected = module_names(cls, config)
    mapping = key_mapping(expected)
    check_names(checkpoint_keys(folder), expected, mapping, source)
    model, info = _load_renamed(cls, folder, config, mapping, dtype_kw, device_map)
    bad = list(info.get("missing_keys", [])) + list(info.get("unexpected_keys", []))
    bad += [str(m[0]) if isinstance(m, tuple) else str(m) for m in info.get("mismatched_keys", [])]
    if bad:
        raise BadInput(f"{source}: weight {bad[0]} did not load ({len(bad)} in all); refusing to run with "
                       "randomly initialised weights")
    return model.eval()


def _load_renamed(cls, folder: Path, config, mapping: dict[str, str], dtype_kw, device_map):
    """Read the tensors, rename them, load from the dict (with output_loading_info).

    Not from_pretrained(key_mapping=...): transformers >= 4.50 has it, but decides whether a
    checkpoint holds the base model from the names before mapping, and none of the official
    names starts with `model.`, so it refuses the checkpoint as corrupted. The dict costs host
    memory once the size of the weights (about 16 GB for the 7B in bf16)."""
    from safetensors.torch import load_file

    state: dict[str, Any] = {}
    for f in sorted(folder.glob("*.safetensors")):
        state.update(load_file(str(f)))
    names = rename(list(state), mapping)
    state = {names[k]: v for k, v in state.items()}
    return cls.from_pretrained(None, config=config, state_dict=state, device_map=device_map,
                               output_loading_info=True, **dtype_kw)
