"""Model profiles: the settings of the published number each model id is meant to reproduce.

A run of `--model M` takes M's profile for every setting the user did not give. A setting given
on the command line (--frames, --revision, --max-new-tokens, --dtype, --detail) that differs
from the profile overrides it, and the run says so: RunSpec.profile and Result.profile /
Result.overridden carry the profile id and each overridden setting ({"frames": {"profile": 16,
"run": 8}}), so the board can label the run instead of presenting it as the profile's number.

`settings` are AdapterOptions fields (frames, revision, detail, max_new_tokens) or its `extra`
(dtype, gemini_input, fps, image_format, content_order). `not_followed` names what the source does
that the profile deliberately does not, each with the reason (recorded in every run's spec.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

OPTION_FIELDS = ("frames", "revision", "detail", "max_new_tokens")
EXTRA_FIELDS = ("dtype", "gemini_input", "fps", "image_format", "content_order")

LEADERBOARD = "DREAM-1K leaderboard, tarsier-vlm.github.io index.html @3b3fa950 (its row in results/dream/)"


@dataclass(frozen=True)
class Profile:
    reproduces: str | None  # the published number, or None: no published row this id reproduces
    source: str
    settings: dict[str, Any] = field(default_factory=dict)
    not_followed: dict[str, str] = field(default_factory=dict)  # what the source does and runs do not: why
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
        "DREAM-1K F1 42.0 (printed 0.420; Tarsier2-7B-0115, README eval table, 16 frames)",
        "bytedance/tarsier README.md@63de87a7 (its row in results/dream/); "
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
        None, "Tarsier paper DREAM-1K table, arXiv 2407.00634 (its row in results/dream/)", {"frames": 32},
        note="the paper does not state the frame count"),
    "internvl3-8b": Profile(None, "-", {"frames": 8}),
    "gpt-4o": Profile(
        "DREAM-1K F1 39.2 (GPT-4o, 16 frames, 2024/05/13)",
        LEADERBOARD + " (16 frames, dated 2024/05/13); bytedance/tarsier tools/gpt_api.py:76-104@e3f27ef6 "
        "(call_azure_gpt4v_api: `gpt-4o-2024-05-13` named beside its model, the prompt text before the "
        "frames, frames as data:image/png, detail high, no max_tokens, temperature 0.7, top_p 0.95)",
        {"frames": 16, "revision": "gpt-4o-2024-05-13", "detail": "high", "image_format": "png",
         "content_order": "text-first", "max_new_tokens": 4096},
        not_followed={
            "temperature": "the script samples (temperature 0.7, top_p 0.95); no caller of it in the official "
                           "code (branches tarsier, main) shows that the leaderboard row was made this way, "
                           "so runs keep temperature 0: an answer that can be asked for again"},
        note="The row gives only the frame count and the date; the rest is the official script's, which no "
             "official evaluation script calls. No max_tokens in the script = the snapshot's own limit, 4096. "
             "Frames are sent at the size the API's high-detail rule makes them (fit 2048, short side 768)."),
    "gemini-1.5-pro": Profile(
        "DREAM-1K F1 36.2 (Gemini 1.5 Pro, 1 fps)", LEADERBOARD + " (frames column: 1 fps)",
        {"gemini_input": "video", "fps": 1.0},
        note="native video; fps 1.0 sent explicitly (video_metadata), the API's documented default"),
    "gemini-1.5-flash": Profile(
        "DREAM-1K F1 34.8 (Gemini 1.5 Flash, 1 fps)", LEADERBOARD + " (frames column: 1 fps)",
        {"gemini_input": "video", "fps": 1.0}, note="as gemini-1.5-pro"),
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
    if p.not_followed:
        label["not_followed"] = dict(p.not_followed)
    if bench:
        label["bench"] = bench
    return replace(opts, extra=extra, profile=label, **fields), label
