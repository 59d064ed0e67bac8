"""Each run's own page and files on the site: site/runs/<spec-hash>/.

    runs/<hash>/index.html                      what the run was (spec), its scorings, downloads
    runs/<hash>/spec.json, predictions.jsonl, prompts.jsonl
    runs/<hash>/scores/<score-hash>/score_spec.json, scores.jsonl, result.json

Only files of the run store's own layout are copied, under names this module chooses: the folder is
the run's spec hash as the harness computes it, a scoring's folder its score hash (a folder whose
name is not a score hash is skipped), and every path is checked to stay inside the site.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from harness.paths import inside

HASH = re.compile(r"^[0-9a-f]{16}$")
RUN_FILES = (("spec.json", "the run spec: model, revision, backend, frames, prompt, annotations and their checksum"),
             ("predictions.jsonl", "one prediction per sample, with what the model was given (meta.inputs)"),
             ("prompts.jsonl", "the exact prompt texts behind each prediction's prompt_sha256"))
SCORE_FILES = (("score_spec.json", "the score spec: metric, protocol, judge"),
               ("scores.jsonl", "one score per sample (failed ones with their reason)"),
               ("result.json", "the result: every value, intervals, groups, coverage, judge identity"))


def run_folders(runs: list[Any]) -> dict[str, str]:
    """Each run's folder under site/runs/: its spec hash (a second run of the same spec gets -2, ...)."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for run in runs:
        base = run.spec_hash if HASH.match(run.spec_hash) else "run"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        out[run.rel] = name
    return out


def _copy(src: Path, site: Path, *parts: str) -> dict | None:
    if not src.is_file():
        return None
    dest = inside(site, *parts)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return {"name": parts[-1], "href": "/".join(parts[2:]), "bytes": dest.stat().st_size}


def copy_run(run: Any, site: Path, folder: str) -> dict:
    """Copy a run's files into site/runs/<folder>/; returns what the run page lists."""
    files = []
    for name, what in RUN_FILES:
        got = _copy(run.dir / name, site, "runs", folder, name)
        if got:
            files.append({**got, "what": what})
    scorings = []
    for ss in run.score_sets:
        if not HASH.match(ss.id):
            continue
        sfiles = []
        for name, what in SCORE_FILES:
            got = _copy(run.dir / "scores" / ss.id / name, site, "runs", folder, "scores", ss.id, name)
            if got:
                sfiles.append({**got, "what": what})
        res = ss.result
        scorings.append({"id": ss.id, "metric": ss.metric, "protocol": ss.protocol, "judge": ss.judge,
                         "result": res, "files": sfiles})
    return {"folder": folder, "files": files, "scorings": scorings}


def size_text(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
