"""Model profiles: the settings of the published number each model id is meant to reproduce.

A run of `--model M` takes M's profile for every setting the user did not give. A setting given
on the command line (--frames, --revision, --max-new-tokens, --dtype, --detail) that differs
from the profile overrides it, and the run says so: RunSpec.profile and Result.profile /
Result.overridden carry the profile id and each overridden setting ({"frames": {"profile": 16,
"run": 8}}), so the board can label the run instead of presenting it as the profile's number.

`settings` are AdapterOptions fields (frames, revision, detail, max_new_tokens) or its `extra`
(dtype, gemini_input). `pending` lists what the profile needs but the model's adapter does not
apply yet; `applied=False` profiles are shown but not yet applied to runs (their adapters are being
rewritten; see `pending`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

OPTION_FIELDS = ("frames", "revision", "detail", "max_new_tokens")
EXTRA_FIELDS = ("dtype", "gemini_input")

LEADERBOARD = ("DREAM-1K leaderboard, tarsier-vlm.github.io index.html @3b3fa950 "
               "(../shared/published/dream1k_leaderboard_site*.csv)")


@dataclass(frozen=True)
class Profile:
    reproduces: str | None  # the published number, or None: no published row this id reproduces
    source: str
    settings: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, Any] = field(default_factory=dict)  # needed, not yet applied by the adapter
    applied: bool = True
    note: str = ""

    def summary(self) -> str:
        what = self.reproduces or "no published row"
        bits = [f"{k}={v}" for k, v in self.settings.items()]
        if not self.applied:
            bits.append("not applied yet")
        return f"{what}" + (f" [{', '.join(bits)}]" if bits else "")


PROFILES: dict[str, Profile] = {
    "tarsier-7b": Profile(
        "DREAM-1K F1 34.6 (Tarsier-7B, 8 frames)", LEADERBOARD + " older page @1a72cdae; bytedance/tarsier "
        "tasks/inference_benchmark.py:78-81@e3f27ef6 (8 frames, fp16, greedy, 512 tokens)",
        {"frames": 8, "dtype": "float16", "max_new_tokens": 512}),
    "tarsier-34b": Profile(
        "DREAM-1K F1 36.3 (Tarsier-34B, 8 frames)", LEADERBOARD + "; bytedance/tarsier "
        "tasks/inference_benchmark.py:78-81@e3f27ef6", {"frames": 8, "dtype": "float16", "max_new_tokens": 512}),
    "tarsier2-7b": Profile(
        "DREAM-1K F1 0.420 (Tarsier2-7B-0115, README eval table, 16 frames)",
        "bytedance/tarsier README.md@63de87a7 (../shared/published/tarsier2_readme_eval_tables.csv); "
        "configs/tarser2_default_config.yaml:2, scripts/run_inference_benchmark.sh:60-72 (bf16, greedy, 512)",
        {"frames": 16, "dtype": "bfloat16", "max_new_tokens": 512},
        note="the leaderboard's Tarsier2-7B row (40.1, 2024/09/20) is an earlier checkpoint than 0115"),
    "qwen2-vl-7b": Profile(
        None, LEADERBOARD, {"frames": 16},
        note="the published rows sample at 2 fps; this id samples a fixed frame count"),
    "qwen2.5-vl-7b": Profile(None, "-", {"frames": 16}),
    "llava-onevision-7b": Profile("DREAM-1K F1 31.7 (LLaVA-OneVision-7B, 16 frames)", LEADERBOARD, {"frames": 16}),
    "llava-video-7b": Profile("DREAM-1K F1 32.5 (LLaVA-Video-7B, 32 frames)", LEADERBOARD, {"frames": 32}),
    "llava-next-video-7b": Profile(
        None, "Tarsier paper DREAM-1K table (../shared/published/dream1k_tarsier1_paper_table.csv)", {"frames": 32},
        note="the paper does not state the frame count"),
    "internvl3-8b": Profile(None, "-", {"frames": 8}),
    "gpt-4o": Profile(
        "DREAM-1K F1 39.2 (GPT-4o, 16 frames, 2024/05/13)",
        LEADERBOARD + "; bytedance/tarsier tools/gpt_api.py:78-104@e3f27ef6 (model gpt-4o-2024-05-13, "
        "detail high, PNG frames after the text, temperature 0.7, top_p 0.95)",
        {"frames": 16, "revision": "gpt-4o-2024-05-13", "detail": "high"},
        pending={"image_format": "png", "content_order": "text first, then the frames",
                 "temperature": 0.7, "top_p": 0.95},
        applied=False, note="adapters/openai_api.py is being rewritten (#15); the lead wires `pending`"),
    "gemini-1.5-pro": Profile(
        "DREAM-1K F1 36.2 (Gemini 1.5 Pro, 1 fps)", LEADERBOARD, {"gemini_input": "video"},
        pending={"fps": 1.0}, applied=False,
        note="native video at 1 fps, the leaderboard's input rate; adapters/gemini.py is being rewritten (#15)"),
    "gemini-1.5-flash": Profile(
        "DREAM-1K F1 34.8 (Gemini 1.5 Flash, 1 fps)", LEADERBOARD, {"gemini_input": "video"},
        pending={"fps": 1.0}, applied=False, note="as gemini-1.5-pro"),
}


def _given(opts, key: str):
    return opts.extra.get(key) if key in EXTRA_FIELDS else getattr(opts, key, None)


def profile_options(model: str, bench: str | None, opts):
    """(options with the profile's settings filled in, the label recorded in RunSpec.profile)."""
    p = PROFILES.get(model)
    if p is None or not p.applied:
        return opts, None
    overrides: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    extra = dict(opts.extra)
    for key, value in p.settings.items():
        given = _given(opts, key)
        if given is None:
            if key in EXTRA_FIELDS:
                extra[key] = value
            else:
                fields[key] = value
        elif given != value:
            overrides[key] = {"profile": value, "run": given}
    for key in OPTION_FIELDS + EXTRA_FIELDS:  # set by the user where the profile says nothing
        given = _given(opts, key)
        if key not in p.settings and given is not None:
            overrides[key] = {"profile": None, "run": given}
    if opts.model_path:
        overrides["model_path"] = {"profile": None, "run": "local checkpoint"}
    label = {"id": model, "reproduces": p.reproduces, "source": p.source, "settings": dict(p.settings),
             "overridden": overrides}
    if bench:
        label["bench"] = bench
    return replace(opts, extra=extra, profile=label, **fields), label
