"""Convert the transcribed published numbers (../shared/published/*.csv) into result records.

    harness results import-published [--published ../shared/published] [--out results]

The CSVs are read at conversion time; the records it writes are committed in results/.
Every number is kept as published (fractions are scaled to percent, which is exact and
noted); one record per (model variant, benchmark, source); conflicting numbers for one name
stay separate records, distinguished by checkpoint, frames and source.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.results import JudgeInfo, ModelInfo, Reported, ResultRecord, check_file, slugify

# What PROTOCOLS.md says about the judge behind the Tarsier team's own numbers.
TARSIER_JUDGE = "gpt-35-turbo-0125"
TARSIER_JUDGE_NOTE = ("not restated in the source; the published Tarsier numbers were produced with "
                      "the Tarsier evaluation code, whose judge is gpt-35-turbo-0125 (PROTOCOLS.md)")
TARSIER_JUDGE_IDENTITY = JudgeInfo(model=TARSIER_JUDGE, provider="azure", official=True,
                                   basis="PROTOCOLS.md: the Tarsier evaluation code's judge is Azure "
                                         "gpt-35-turbo-0125")

# Links pin exactly what a source names: a commit for a file or a page's HTML in its repository, a
# version for an arXiv paper (the version the transcription names), a stored copy when that is what
# was read.
TARSIER1_COMMIT = "e3f27ef6d901422db471efbf0c8e0ae502fea0f1"  # bytedance/tarsier, branch tarsier
TARSIER2_COMMIT = "63de87a760c2aec6b31470a08046969a13787126"  # bytedance/tarsier, branch main
LB_NEW_COMMIT = "3b3fa95053c0386ffe9175fb98a15320484be3f0"  # tarsier-vlm/tarsier-vlm.github.io
LB_OLD_COMMIT = "1a72cdae022a4f07d1923261776777a85fc4d46a"
BLIP3_COPY_COMMIT = "ecac2d662bbd987f0be076551960b4ebc5c9bb0c"  # deep-diver/ai-paper-reviewer


def github_file(repo: str, commit: str, path: str) -> str:
    return f"https://github.com/{repo}/blob/{commit}/{path}"


T1_FIGURE_URL = github_file("bytedance/tarsier", TARSIER1_COMMIT, "assets/figures/dream_1k_results.png")
T2_REPORT_URL = "https://arxiv.org/abs/2501.07888v3"
README_URL = github_file("bytedance/tarsier", TARSIER2_COMMIT, "README.md")
LB_NEW_URL = github_file("tarsier-vlm/tarsier-vlm.github.io", LB_NEW_COMMIT, "index.html")
LB_OLD_URL = github_file("tarsier-vlm/tarsier-vlm.github.io", LB_OLD_COMMIT, "index.html")
BLIP3_COPY_URL = github_file("deep-diver/ai-paper-reviewer", BLIP3_COPY_COMMIT,
                             "content/paper-reviews/2410.16267/index.md")
BLIP3_COPY = " (read from the stored copy deep-diver/ai-paper-reviewer @ecac2d66)"

DREAM_SPLITS = ("animation", "live_action", "shorts", "stock", "youtube")



def published_benchmarks() -> dict[str, Any]:
    """Benchmark name as the tables print it -> its declaration (the declarations' published_names)."""
    from harness import registry

    return {printed: b for b in map(registry.benchmark, registry.builtin_names()) for printed in b.published_names}

METRIC_NAMES = {"gpt_score_0-5": "score", "llm_judge_score_0-5": "llm_judge_score"}


# -- models -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Meta:
    org: str | None
    params: str | None
    params_b: float | None
    open_weights: bool | None


def _m(org, params=None, open_weights=True):
    b = None
    if params:
        m = re.match(r"^(\d+)(?:x(\d+))?B$", params.replace("×", "x"))
        if m:
            b = float(m.group(1)) * (float(m.group(2)) if m.group(2) else 1.0)
    return Meta(org, params, b, open_weights)


BD, NTU, SH = "ByteDance Research", "ByteDance & NTU S-Lab", "Shanghai AI Lab"
MODELS: dict[str, Meta] = {
    "Tarsier-7B": _m(BD, "7B"), "Tarsier-34B": _m(BD, "34B"), "Tarsier2-7B": _m(BD, "7B"),
    "Tarsier2-Recap-7B": _m(BD, "7B"), "Tarsier (size not stated)": _m(BD),
    "GPT-4V": _m("OpenAI", None, False), "GPT-4o": _m("OpenAI", None, False),
    "GPT-4o mini": _m("OpenAI", None, False), "Claude 3.5 Sonnet": _m("Anthropic", None, False),
    "Gemini 1.5 Pro": _m("Google", None, False), "Gemini 1.5 Flash": _m("Google", None, False),
    "LLaVA-Video-7B": _m(NTU, "7B"), "LLaVA-Video-32B": _m(NTU, "32B"), "LLaVA-Video-72B": _m(NTU, "72B"),
    "LLaVA-OneVision-7B": _m(NTU, "7B"), "LLaVA-OneVision-72B": _m(NTU, "72B"),
    "LLaVA-NeXT-Video": _m("ByteDance & NTU S-Lab"),
    "VILA-1.5-7B": _m("NVIDIA & MIT", "7B"), "VILA-1.5-34B": _m("NVIDIA & MIT", "34B"),
    "VILA-1.5-40B": _m("NVIDIA & MIT", "40B"),
    "Qwen2-VL-7B": _m("Alibaba", "7B"), "Qwen2-VL-72B": _m("Alibaba", "72B"),
    "Qwen3-VL-8B": _m("Alibaba", "8B"),
    "InternVL2-7B": _m(SH, "7B"), "InternVL2-8B": _m(SH, "8B"), "InternVL2-72B": _m(SH, "72B"),
    "InternVL2.5-8B": _m(SH, "8B"), "InternVL2.5-78B": _m(SH, "78B"),
    "MiniCPM-V 2.6": _m("OpenBMB", "7B"), "VITA": _m("Tencent Youtu Lab & NJU", "8x7B"),
    "PLLaVA-34B": _m("ByteDance & NUS & NYU", "34B"),
    "VideoLLaMA2-7B": _m("Alibaba", "7B"), "VideoLLaMA2-72B": _m("Alibaba", "72B"),
    "VideoChat2-Mistral": _m(SH, "7B"), "Video-LLaVA-7B": _m("PKU", "7B"),
    "ShareGPT4Video": _m(SH, "8B"), "MiniGPT-4V": _m(None),
}

# printed name -> (canonical name, checkpoint or None, note or None)
ALIASES: dict[str, tuple[str, str | None, str | None]] = {
    "Gemini-1.5-Pro": ("Gemini 1.5 Pro", None, None),
    "Gemini-1.5-Flash": ("Gemini 1.5 Flash", None, None),
    "LLaVA-OV-7B": ("LLaVA-OneVision-7B", None, None),
    "LLaVA-OV-72B": ("LLaVA-OneVision-72B", None, None),
    "Video-LLaVA": ("Video-LLaVA-7B", None, None),
    "VideoLLaMA 2-7B": ("VideoLLaMA2-7B", None, None),
    "VideoLLaMA 2-72B": ("VideoLLaMA2-72B", None, None),
    "VideoChat2‡": ("VideoChat2-Mistral", None,
                    "printed as 'VideoChat2‡' (mark not explained); the DREAM-1K leaderboard lists the "
                    "same numbers as VideoChat2-Mistral (7B, 16 frames)"),
    "MiniGPT-4V†": ("MiniGPT-4V", None, "printed as 'MiniGPT-4V†' (mark not explained in the figure)"),
    "LLaVA-NeXT-Video*": ("LLaVA-NeXT-Video", None,
                          "printed as 'LLaVA-NeXT-Video*' (mark not explained; size not stated)"),
    "Tarsier2-7B(-0115)": ("Tarsier2-7B", "Tarsier2-7B-0115", None),
    "Tarsier2-7B-0115 (third-party reproduction)": ("Tarsier2-7B", "Tarsier2-7B-0115", None),
    "InternVL2-8B (third-party reproduction)": ("InternVL2-8B", None, None),
    "Qwen2-VL-7B-Instruct (VLMEvalKit, 2fps)": ("Qwen2-VL-7B", "Qwen2-VL-7B-Instruct", None),
    "Qwen3-VL-8B-Instruct (VLMEvalKit, 1fps)": ("Qwen3-VL-8B", "Qwen3-VL-8B-Instruct", None),
    "Tarsier-7B (re-evaluated by BLIP-3-Video)": ("Tarsier-7B", None, None),
    "Tarsier-34B (re-evaluated by BLIP-3-Video)": ("Tarsier-34B", None, None),
    "Tarsier-7B (third-party reproduction)": ("Tarsier-7B", None, None),
    "Tarsier-34B (third-party reproduction)": ("Tarsier-34B", None, None),
    "Tarsier-7B (evaluated by BLIP-3-Video)": ("Tarsier-7B", None, None),
}

SKIP_MODELS = re.compile(r"^Previous SOTA")


def model_info(printed: str, checkpoint: str | None = None) -> tuple[ModelInfo, str | None]:
    name, ckpt, note = ALIASES.get(printed, (printed, None, None))
    meta = MODELS.get(name)
    if meta is None:
        raise BadInput(f"published model {printed!r} has no metadata; add it to harness.published.MODELS")
    info = ModelInfo(name=name, printed_name=printed, checkpoint=checkpoint or ckpt, params=meta.params,
                     params_b=meta.params_b, open_weights=meta.open_weights, org=meta.org)
    return info, note


# -- sources ----------------------------------------------------------------------------
@dataclass
class Source:
    key: str  # short, in record ids
    label: str  # short, in tables
    match: str  # substring of the CSV `source` column
    citation: str
    url: str | None
    where: str
    role: str = "original"
    date: str | None = None
    judge: str | None = None  # for judged benchmarks (None: decided per benchmark below)
    judge_note: str | None = None
    protocol: str = "unknown"
    frames: int | None = None
    checkpoint: dict[str, str] = field(default_factory=dict)  # canonical name -> checkpoint
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


T1_PAPER = "Wang et al., Tarsier: Recipes for Training and Evaluating Large Video Description Models (arXiv:2407.00634)"
T2_REPORT = "Yuan et al., Tarsier2: Advancing Large Vision-Language Models from Detailed Video Description to Comprehensive Video Understanding (arXiv:2501.07888v3)"
LEADERBOARD = "DREAM-1K leaderboard, tarsier-vlm.github.io"
README = "bytedance/tarsier README.md @63de87a"
BLIP3 = "Ryoo et al., xGen-MM-Vid (BLIP-3-Video) (arXiv:2410.16267)"
T2_0115 = {"Tarsier2-7B": "Tarsier2-7B-0115"}
T2_0115_NOTE = "the shared transcription notes identify the report's Tarsier2-7B as Tarsier2-7B-0115"
LB_CKPT = {"Tarsier2-7B": "leaderboard entry dated 2024/09/20"}

SOURCES: list[Source] = [
    Source("tarsier-paper", "Tarsier paper", "assets/figures/dream_1k_results.png", T1_PAPER, T1_FIGURE_URL,
           "DREAM-1K results table (README Figure 6, assets/figures/dream_1k_results.png @e3f27ef)",
           date="2024-07", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE, protocol="tarsier"),
    Source("tarsier2-report-t1", "Tarsier2 report", "Tarsier2 report) Table 1", T2_REPORT, T2_REPORT_URL,
           "Table 1", date="2025-01", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE, protocol="tarsier",
           checkpoint=T2_0115, notes=[T2_0115_NOTE]),
    Source("tarsier2-report-t3", "Tarsier2 report", "Tarsier2 report) Table 3", T2_REPORT, T2_REPORT_URL,
           "Table 3 (short-video QA)", date="2025-01", checkpoint=T2_0115, notes=[T2_0115_NOTE]),
    Source("tarsier2-report-t4", "Tarsier2 report", "Tarsier2 report) Table 4", T2_REPORT, T2_REPORT_URL,
           "Table 4 (long-video QA)", date="2025-01", checkpoint=T2_0115, notes=[T2_0115_NOTE]),
    Source("leaderboard-old", "DREAM-1K leaderboard (old)", "@1a72cdae022a4f07d1923261776777a85fc4d46a", LEADERBOARD + " (older version, index.html @1a72cdae)",
           LB_OLD_URL, "leaderboard table", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE,
           protocol="tarsier", checkpoint=LB_CKPT, flags=["superseded"],
           notes=["older stored version of the page; its numbers were later revised"]),
    Source("leaderboard", "DREAM-1K leaderboard", "@3b3fa95053c0386ffe9175fb98a15320484be3f0", LEADERBOARD + " (index.html @3b3fa950)",
           LB_NEW_URL, "leaderboard table", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE,
           protocol="tarsier", checkpoint=LB_CKPT),
    Source("readme-eval", "Tarsier README (eval)", "Benchmark Inference and Evaluation", README, README_URL,
           "Benchmark Inference and Evaluation (evaluation script output)", judge=TARSIER_JUDGE,
           judge_note=TARSIER_JUDGE_NOTE, protocol="tarsier"),
    Source("readme-notes", "Tarsier README (notes)", "Release Notes [2025/02/12]", README, README_URL,
           "Release Notes [2025/02/12]", date="2025-02-12", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE,
           protocol="tarsier", checkpoint=T2_0115, notes=[T2_0115_NOTE]),
    Source("issue-28", "tarsier issue #28", "bytedance/tarsier/issues/28", "GitHub issue bytedance/tarsier#28",
           "https://github.com/bytedance/tarsier/issues/28", "issue text", role="third-party",
           judge="unknown", judge_note="no prompt, sampling or judge details published"),
    Source("issue-45", "tarsier issue #45", "bytedance/tarsier/issues/45", "GitHub issue bytedance/tarsier#45",
           "https://github.com/bytedance/tarsier/issues/45", "issue text", role="third-party", date="2026-03-09",
           judge="gpt-3.5-turbo (another API provider)", protocol="tarsier",
           judge_note="official evaluation code with a GPT-3.5-turbo from a different API provider"),
    Source("vlmevalkit-pr1335", "VLMEvalKit PR #1335", "VLMEvalKit/pull/1335", "GitHub pull request open-compass/VLMEvalKit#1335",
           "https://github.com/open-compass/VLMEvalKit/pull/1335", "results table in the PR description",
           role="third-party", judge="unknown", protocol="vlmevalkit",
           judge_note="the judge used through VLMEvalKit is not stated in the stored excerpt"),
    Source("issue-10", "tarsier issue #10", "bytedance/tarsier/issues/10", "GitHub issue bytedance/tarsier#10",
           "https://github.com/bytedance/tarsier/issues/10", "issue text", role="third-party",
           notes=["run before the 2024-10-30 prompt fix in data/annotations; the maintainers say the paper "
                  "numbers need the updated prompts"]),
    Source("blip3-reeval", "BLIP-3-Video (re-evaluation)", "RE-EVALUATED by BLIP-3-Video", BLIP3, BLIP3_COPY_URL,
           "Table 1 (rows marked *: re-evaluated by the BLIP-3-Video authors)" + BLIP3_COPY, role="third-party", date="2024-10",
           judge="unknown", frames=8, notes=["official checkpoint and code, 8 frames at 384x384"]),
    Source("blip3-captions", "BLIP-3-Video", "Table 6: caption evaluation", BLIP3, BLIP3_COPY_URL,
           "Table 6 (caption evaluation with a VideoChatGPT-style LLM judge)" + BLIP3_COPY, role="third-party", date="2024-10",
           judge="unknown", frames=8, notes=["LLM-judged caption accuracy/score, not CIDEr"]),
    Source("blip3-t1", "BLIP-3-Video", "Table 1 (open-ended QA", BLIP3, BLIP3_COPY_URL,
           "Table 1 (open-ended QA, accuracy/score), quoting the Tarsier paper" + BLIP3_COPY, role="citing", date="2024-10",
           protocol="tarsier", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE),
    Source("blip3-t2", "BLIP-3-Video", "Table 2 (MCQ)", BLIP3, BLIP3_COPY_URL,
           "Table 2 (multiple-choice QA), quoting the Tarsier paper" + BLIP3_COPY, role="citing", date="2024-10",
           protocol="tarsier"),
    Source("hicom", "HICom paper", "HICom paper", "HICom: Hybrid-level Instruction Injection for Video Token Compression",
           None, "Tables 2-3, rows 'Tarsier [51] 7B 16 frames', quoting the Tarsier paper", role="citing",
           frames=16, protocol="tarsier", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE),
    Source("arxiv-2502.19680", "arXiv:2502.19680", "arXiv:2502.19680", "M-LLM Based Video Frame Selection (arXiv:2502.19680v1)",
           "https://arxiv.org/abs/2502.19680v1", "comparison tables citing 'Tarsier 34B' (as summarised in a paper note)",
           role="citing", date="2025-02", protocol="tarsier", judge=TARSIER_JUDGE, judge_note=TARSIER_JUDGE_NOTE),
    Source("hyperai-pwc", "PwC mirror (hyper.ai)", "beta.hyper.ai", "Papers-with-Code mirror at beta.hyper.ai (paper 2407.00634)",
           "https://beta.hyper.ai/en/papers/2407.00634", "row 'video-question-answering-on-mvbench | Tarsier (34B)'",
           role="citing", protocol="tarsier"),
    Source("wizwand", "PwC mirror (wizwand)", "wizwand.com", "Papers-with-Code mirror at wizwand.com",
           "https://www.wizwand.com/paper/68fa74e41e209131cea64782", "results list (model size not stated)",
           role="citing", protocol="tarsier"),
]


def find_source(text: str) -> Source:
    for src in SOURCES:  # order matters: the specific patterns come first
        if src.match in text:
            return src
    raise BadInput(f"published source not recognised: {text[:120]!r}; add it to harness.published.SOURCES")


# -- conversion -------------------------------------------------------------------------
FILES = {
    "dream1k_tarsier1_paper_table.csv": "dream",
    "dream1k_tarsier2_report_table1.csv": "dream",
    "dream1k_leaderboard_site.csv": "dream",
    "tarsier2_readme_eval_tables.csv": "dream",
    "dream1k_thirdparty_reproductions.csv": "dream",
    "tarsier1_video_understanding_secondary.csv": "qa",
    "tarsier2_report_table3_short_video_qa.csv": "qa",
    "tarsier2_report_table4_long_video_qa.csv": "qa",
    "tarsier1_captioning_thirdparty.csv": "qa",
}


def default_published_dir() -> Path:
    from harness.settings import Environment

    return Path(Environment.load().shared or "../shared") / "published"


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"benchmark", "split", "model", "metric", "value", "source"}
    if rows and not need <= set(rows[0]):
        raise BadInput(f"{path}: expected the columns {', '.join(sorted(need))}")
    return rows


def _split_key(bench: Any, split: str) -> str:
    s = split.lower()
    if bench.split == "overall":  # one set, whatever the table calls it
        return "overall"
    if s.startswith("unspecified") or s in ("multi-choice", "as cited"):
        return "unspecified"
    if s.startswith("test"):
        return "test"
    if s == "fullset":
        return "full"
    return s


def _leaderboard_models(published: Path) -> dict[tuple[str, str], dict[str, str]]:
    path = published / "dream1k_leaderboard_site_models.csv"
    out = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            out[(row["model"], row["snapshot_commit"][:8])] = row
    return out


def _frames(text: str) -> tuple[int | None, str | None]:
    text = (text or "").strip()
    if re.fullmatch(r"\d+", text):
        return int(text), None
    if text and text not in ("-", "?"):
        return None, text
    return None, None


def convert(published: str | Path) -> list[ResultRecord]:
    """Every record the published CSVs give, sorted by id."""
    published = Path(published)
    if not published.is_dir():
        raise BadInput(f"published numbers not found at {published}; pass --published DIR "
                       "(the folder with the transcribed CSVs, ../shared/published)")
    lb_models = _leaderboard_models(published)
    known = published_benchmarks()
    groups: dict[tuple, list[dict[str, str]]] = defaultdict(list)
    for name, kind in FILES.items():
        path = published / name
        if not path.is_file():
            raise BadInput(f"{path}: missing; the conversion needs every transcribed table")
        for row in _read(path):
            if row["benchmark"] not in known or SKIP_MODELS.match(row["model"]):
                continue
            declared = known[row["benchmark"]]
            whole = declared.split == "overall"  # one number set per source (DREAM-1K: subsets as groups)
            if kind == "qa" and whole:
                continue
            src = find_source(row["source"])
            key = (name, declared.name, row["model"], src.key, "" if whole else row["split"],
                   "" if whole else row["source"])
            groups[key].append(row)
    records: dict[str, ResultRecord] = {}
    for (name, bench, printed, src_key, split, _), rows in sorted(groups.items()):
        rec = _record(name, known[rows[0]["benchmark"]], printed, find_source(rows[0]["source"]), rows, lb_models)
        if rec.id in records:
            if records[rec.id].metrics == rec.metrics:  # one table transcribed in two files
                continue
            raise BadInput(f"two published records would share the id {rec.id} with different numbers")
        records[rec.id] = rec
    return [records[k] for k in sorted(records)]


def _num(text: str) -> float:
    return float(text.strip())


def _record(csv_name: str, declared: Any, printed: str, src: Source, rows: list[dict[str, str]],
            lb_models: dict) -> ResultRecord:
    info, alias_note = model_info(printed)
    if info.checkpoint is None and info.name in src.checkpoint:
        info = info.model_copy(update={"checkpoint": src.checkpoint[info.name]})
    notes = list(src.notes)
    if alias_note:
        notes.append(alias_note)
    flags = list(src.flags)
    frames, rate = src.frames, None
    date = src.date
    metrics: dict[str, float | None] = {}
    groups: dict[str, dict[str, float | int | None]] = {}
    n_scored = n_total = n_failed = None
    scaled = False

    if declared.family == "detailed-caption":
        for row in rows:
            metric, value = row["metric"], row["value"].strip()
            target = metrics if row["split"] == "overall" else groups.setdefault(f"subset={row['split']}", {})
            if metric in ("n_success", "n_failed"):
                n = int(value)
                if row["split"] == "overall":
                    if metric == "n_success":
                        n_scored = n
                    else:
                        n_failed = n
                else:
                    target["n" if metric == "n_success" else "n_failed"] = n
                continue
            if metric.endswith("_fraction"):
                metric, v = metric.removesuffix("_fraction"), round(_num(value) * 100, 4)
                scaled = True
            else:
                v = _num(value)
            target[metric] = v
        if n_scored is not None and n_failed is not None:
            n_total = n_scored + n_failed
        headline = "f1"
        split, split_printed = "overall", "overall (5 subsets x 200 clips)"
        if src.key in ("leaderboard", "leaderboard-old"):
            commit = "3b3fa950" if src.key == "leaderboard" else "1a72cdae"
            meta = lb_models.get((printed, commit))
            if meta:
                frames, rate = _frames(meta["frames"])
                # the page's date column dates the model entry (GPT-4V: 2023/09/25), not the result
                notes.append(f"date shown on the leaderboard for this model entry: {meta['date']}")
                if meta["displayed"].startswith("no"):
                    flags.append("hidden-at-source")
                    notes.append("the row is commented out in the page's HTML (not displayed)")
        m = re.search(r"\((?:VLMEvalKit, )?(\d+)\s*fps\)", printed)
        if m:
            rate = f"{m.group(1)} fps"
        if scaled:
            notes.append("published as fractions with 3 decimals (e.g. 0.420); shown here x100")
        if n_failed:
            notes.append(f"{n_failed} of {n_total} videos failed in the judge and were left out of the average")
        if "f1" not in metrics:
            raise BadInput(f"{csv_name}: {printed} has no overall F1")
        judge, judge_note = src.judge or "unknown", src.judge_note
    else:
        split_printed = rows[0]["split"]
        split = _split_key(declared, split_printed)
        for row in rows:
            metric = METRIC_NAMES.get(row["metric"], row["metric"])
            metrics[metric] = _num(row["value"])
        headline = "accuracy" if "accuracy" in metrics else next(iter(metrics))
        if "llm_judge_accuracy" in metrics:
            headline = "llm_judge_accuracy"
        judged = (declared.needs_judge and declared.family == "open-qa") or headline.startswith("llm_judge")
        judge = (src.judge or "unknown") if judged else None
        judge_note = src.judge_note if judged else None
        notes.append(declared.board.split_notes.get(split, ""))
        if declared.split == "val" and split in ("test", "unspecified"):
            notes.append("the harness evaluates the val split (the Tarsier release's annotation file); "
                         "this number is labelled '" + split_printed + "' by its source")
        if src.key == "tarsier2-report-t4" and info.name == "Tarsier2-7B":
            frames = 128
            notes.append("Table 4 caption: Tarsier2 used 128 frames")
        if "size not stated" in printed:
            notes.append("model size not stated by the source")
        if src.key == "tarsier2-report-t3" and info.name.startswith("Tarsier-"):
            notes.append("the report cites this Tarsier row from the Tarsier paper")
        protocol = src.protocol
        if src.key.startswith("tarsier2-report") and not info.name.startswith("Tarsier"):
            protocol = "unknown"
        notes = [n for n in notes if n]
        return _finish(csv_name, declared, split, split_printed, info, headline, metrics, groups,
                       n_scored, n_total, n_failed, protocol, judge, judge_note, frames, rate, src, rows,
                       date, flags, notes)

    protocol = src.protocol
    return _finish(csv_name, declared, split, split_printed, info, headline, metrics, groups,
                   n_scored, n_total, n_failed, protocol, judge, judge_note, frames, rate, src, rows,
                   date, flags, notes)


def _finish(csv_name, declared, split, split_printed, info, headline, metrics, groups, n_scored,
            n_total, n_failed, protocol, judge, judge_note, frames, rate, src, rows, date, flags,
            notes) -> ResultRecord:
    bench, title, whole = declared.name, declared.title, declared.split == "overall"
    parts = [bench, slugify(info.name, 40)]
    if info.checkpoint and info.checkpoint != info.name:
        ck = info.checkpoint
        m = re.match(r"leaderboard entry dated (\d{4})/(\d{2})/(\d{2})", ck)
        parts.append(f"lb{m.group(1)}{m.group(2)}{m.group(3)}" if m else slugify(ck.replace(info.name, ""), 30))
    if frames:
        parts.append(f"{frames}f")
    elif rate:
        parts.append(slugify(rate))
    parts.append(src.key)
    if not whole and split not in ("test", "overall", declared.split):
        parts.append(slugify(split))
    if info.name == "Tarsier (size not stated)":
        parts[1] = "tarsier-size-not-stated"
    rid = ".".join(p for p in parts if p)
    where = src.where
    if whole and src.key == "readme-eval":
        where = "Benchmark Inference and Evaluation (per-subtask evaluation script output)"
    transcript = csv_name + ": " + re.sub(r" ?\[subtask [^\]]*\]", "", rows[0]["source"])
    return ResultRecord(judge_identity=_judge_identity(judge, judge_note),
        id=rid, benchmark=bench, benchmark_title=title, split=split, split_printed=split_printed,
        model=info, metric=headline, metrics=metrics, groups=groups,
        n_scored=n_scored, n_total=n_total, n_failed=n_failed, protocol=protocol, judge=judge,
        judge_note=judge_note, frames=frames, frame_rate=rate,
        provenance=Reported(source=src.citation, label=src.label, where=where, url=src.url, role=src.role, transcript=transcript),
        date=date, flags=sorted(set(flags)), notes=notes,
    )


def _judge_identity(judge: str | None, note: str | None) -> JudgeInfo | None:
    """What the source (or the protocol it follows) says about its judge; None when it says nothing."""
    if judge == TARSIER_JUDGE:
        return TARSIER_JUDGE_IDENTITY
    if judge and judge != "unknown":  # a named judge that is not the protocol's (issue #45)
        return JudgeInfo(model=judge, official=False, basis=note)
    return None


def is_imported(record: ResultRecord) -> bool:
    t = getattr(record.provenance, "transcript", None) or ""
    return any(t.startswith(name + ":") for name in FILES)


def import_published(published: str | Path, out: str | Path) -> tuple[int, int, int]:
    """Write the converted records under out/<benchmark>/; remove stale imported ones.

    Returns (written, unchanged, removed). Reproduced records are never touched.
    """
    from harness.results import dump_record, record_path

    out = Path(out)
    records = convert(published)
    ids = {r.id for r in records}
    removed = 0
    if out.is_dir():
        for path in sorted(out.rglob("*.json")):
            old, _ = check_file(path)
            if old is not None and old.kind == "reported" and is_imported(old) and old.id not in ids:
                path.unlink()
                removed += 1
    written = unchanged = 0
    for rec in records:
        path = record_path(out, rec)
        text = dump_record(rec)
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            unchanged += 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1
    return written, unchanged, removed
