"""Judge audits on the board: every `<run>/audits/<hash>.json` (harness judge-audit) of the runs given to the
build, shown as the same model's numbers under two judges side by side, with their agreement, and a page per
audit (confusion table, judge variance, the samples they disagree on most, linked into the explorer).

    site/audits/index.html          every audited pair of judges, and every result whose answers came from
                                    another model than the one asked (JudgeIdentity.answered_differs)
    site/audits/<id>.html, <id>.json  one audit, and the audit file itself

Self-contained: build.py calls write_pages() once; the pages use templates/audits.html, audit.html and the
partial _audits.html. Everything shown is escaped by the templates' autoescape.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.leaderboard.explorer import RunInfo

_ID = re.compile(r"[0-9a-f]{16}")


def find_audits(runs: list[RunInfo], warnings: list[str]) -> list[tuple[RunInfo, dict[str, Any]]]:
    """The audits of the runs (newest settings first within a run); a damaged file is a warning."""
    found = []
    for run in runs:
        for path in sorted((run.dir / "audits").glob("*.json")):
            try:
                audit = json.loads(path.read_text(encoding="utf-8"))
                if not (isinstance(audit, dict) and audit.get("kind") == "judge-audit" and audit.get("schema") == 1
                        and _ID.fullmatch(str(audit.get("id"))) and isinstance(audit.get("judges"), list)
                        and isinstance(audit.get("pairs"), list)):
                    raise ValueError("not a judge audit (schema 1)")
            except (OSError, ValueError) as exc:
                warnings.append(f"{path}: audit not shown ({type(exc).__name__}: {str(exc)[:100]})")
                continue
            found.append((run, audit))
    return found


def _explorer(link: str | None, sample_id: str, spec_hash: str, root: str) -> str | None:
    from harness.judge_audit import explorer_link

    if not link:
        return None
    return root + explorer_link("", sample_id, spec_hash, page=link)


def pair_rows(run: RunInfo, audit: dict[str, Any], slugs: dict[str, str], root: str) -> list[dict[str, Any]]:
    """One row per pair of judges: both numbers side by side, the difference, the agreement, the links."""
    judges = {j["label"]: j for j in audit["judges"]}
    headline = audit.get("headline")
    rows = []
    for pair in audit["pairs"]:
        a, b = judges.get(pair["a"]), judges.get(pair["b"])
        if a is None or b is None:
            continue
        head = (pair.get("headline") or {}).get(headline) or {}
        labels = pair.get("labels") or {}
        page = f"{root}models/{slugs[run.model]}.html" if run.model in slugs else None
        rows.append({"model": run.model, "model_page": page,
                     "benchmark": audit["run"]["benchmark"], "headline": headline, "a": a, "b": b, "diff": head,
                     "n_common": pair.get("n_common"), "agreement": labels.get("agreement"),
                     "kappa": labels.get("kappa"), "n_labels": labels.get("n"),
                     "page": f"{root}audits/{audit['id']}.html", "id": audit["id"], "run": run.rel})
    return rows


def repeat_rows(run: RunInfo, audit: dict[str, Any], root: str) -> list[dict[str, Any]]:
    """One row per judge asked several times: its headline over the repeats beside the interval over videos."""
    headline = audit.get("headline")
    rows = []
    for j in audit["judges"]:
        spread = ((j.get("repeats") or {}).get("spread") or {}).get(headline)
        if spread:
            iv = spread.get("video_interval")
            rows.append({"model": run.model, "benchmark": audit["run"]["benchmark"], "headline": headline,
                         "judge": j["name"], "k": j["repeats"]["k"], "values": spread.get("values") or [],
                         "sd": spread.get("sd"), "width": iv[1] - iv[0] if iv else None,
                         "kappas": [x.get("kappa") for x in j["repeats"].get("self_agreement") or []],
                         "page": f"{root}audits/{audit['id']}.html"})
    return rows


def answered_elsewhere(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Results of the runs whose judge answers came from another model than the one asked."""
    out = []
    for run in runs:
        for ss in run.score_sets:
            judge = getattr(ss.result, "judge", None)
            if judge is not None and judge.answered_differs:
                out.append({"model": run.model, "benchmark": run.benchmark, "asked": judge.model,
                            "answered": judge.answered, "host": judge.host, "run": run.rel, "score": ss.id,
                            "first_call": judge.first_call, "last_call": judge.last_call})
    return out


def write_pages(out: Path, env, runs: list[RunInfo], run_explorer: dict[str, str], slugs: dict[str, str],
                warnings: list[str]) -> int:
    """Write the audits pages (when there is anything to show); returns how many pages were written.

    Sets site.audits (the navigation shows the page) before any page is rendered."""
    audits = find_audits(runs, warnings)
    elsewhere = answered_elsewhere(runs)
    site = env.globals["site"]
    site["audits"] = bool(audits or elsewhere)
    if not site["audits"]:
        return 0
    folder = out / "audits"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [row for run, audit in audits for row in pair_rows(run, audit, slugs, "../")]
    repeats = [row for run, audit in audits for row in repeat_rows(run, audit, "../")]
    (folder / "index.html").write_text(env.get_template("audits.html").render(
        root="../", nav="audits", rows=rows, repeats=repeats, elsewhere=elsewhere), encoding="utf-8")
    for run, audit in audits:
        link = run_explorer.get(audit["run"]["spec_hash"])
        for pair in audit["pairs"]:
            for d in pair.get("disagreements") or []:
                d["link"] = _explorer(link, str(d.get("sample_id")), audit["run"]["spec_hash"], "../")
        (folder / f"{audit['id']}.html").write_text(env.get_template("audit.html").render(
            root="../", nav="audits", audit=audit, run=run, rows=pair_rows(run, audit, slugs, "../"),
            judges={j["label"]: j for j in audit["judges"]}), encoding="utf-8")
        (folder / f"{audit['id']}.json").write_text(json.dumps(audit, indent=1, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
    return 1 + len(audits)
