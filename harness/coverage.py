"""Coverage: is a result comparable with full runs on the benchmark's canonical annotations?

A run can cover less than its benchmark (--limit), run on another annotation file (a checksum
that is not one of the benchmark's canonical files), or on a file that lacks some subsets. Such
a result is still a result, but it is never ranked with full ones: `problems` says why, in words
short enough for a table row ("100/1000", "1 of 5 subsets").
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from harness.types import Coverage, Sample


def content_fingerprint(bench: Any, samples: Iterable[Sample]) -> str:
    """A hash of what a benchmark's samples ask and expect, whatever the file's format: each sample's id,
    prompt, options, gold answer or references, annotated events and groups (subset names in their
    declared spelling, so the two release formats agree). The same questions and gold from another
    file (e.g. DREAM-1K's metadata on the Hugging Face hub) give the same fingerprint."""
    rows = []
    for s in sorted(samples, key=lambda x: x.id):
        groups = {}
        for name, value in sorted(s.groups.items()):
            key = bench.group(name) if hasattr(bench, "group") else None
            groups[name] = key.canonical(value) if key is not None else value
        rows.append([s.id, s.prompt, s.options, s.answer, s.references, s.extra.get("events"), groups])
    blob = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def is_canonical(bench: Any, sha256: str, samples: list[Sample] | None = None) -> bool | None:
    """One of the benchmark's canonical files (by checksum), or the same content in another file (by the
    declared content fingerprint); None when the benchmark declares neither (unverified)."""
    accepted = tuple(getattr(bench, "canonical_sha256", ()) or ())
    content = getattr(bench, "canonical_content", None)
    if not accepted and not content:
        return None
    if sha256 in accepted:
        return True
    return bool(content and samples is not None and content_fingerprint(bench, samples) == content)


def coverage_of(bench: Any, sha256: str, samples: Iterable[Sample], file_samples: list[Sample] | None,
                n_file: int | None = None, foreign: bool = False) -> Coverage:
    """The coverage of a run of `bench` on the annotation file with this checksum.

    samples: the run's samples (after --limit); file_samples: every sample of the file, when
    known. The canonical facts come from the benchmark's declaration (canonical_sha256,
    canonical_rows); a benchmark without them is unverified (canonical None).
    """
    samples = list(samples)
    canonical = is_canonical(bench, sha256, file_samples)
    n_file = len(file_samples) if file_samples is not None else (n_file or len(samples))
    expected = len({s.dataset for s in file_samples}) if canonical and file_samples is not None else None
    return Coverage(annotation_sha256=sha256, canonical=canonical, n_run=len(samples), n_file=n_file,
                    n_canonical=getattr(bench, "canonical_rows", None),
                    subsets=sorted({s.dataset for s in samples}), n_subsets_expected=expected, foreign=foreign)


def problems(cov: Coverage, n_subsets_expected: int | None = None) -> list[str]:
    """Why a result is not comparable with full runs (empty: it covers the whole canonical set).

    n_subsets_expected: the benchmark's subset count when the coverage itself does not know it
    (a run on another file); the leaderboard takes it from the canonical results it shows.
    """
    out = []
    if cov.foreign:
        out.append("another benchmark's annotations")
    elif cov.canonical is False:
        out.append("not the canonical annotation file")
    total = cov.n_canonical or cov.n_file
    if cov.n_run < total or (cov.n_canonical and cov.n_run != cov.n_canonical):
        out.append(f"{cov.n_run}/{total}")
    expected = cov.n_subsets_expected or n_subsets_expected
    if expected and len(cov.subsets) < expected:
        out.append(f"{len(cov.subsets)} of {expected} subsets")
    return out


def describe(cov: Coverage) -> str:
    """One line for `harness show` and run output."""
    total = cov.n_canonical or cov.n_file
    what = f"{cov.n_run} of {total} {'canonical ' if cov.n_canonical else ''}samples"
    if cov.n_subsets_expected and cov.n_subsets_expected > 1:
        what += f", {len(cov.subsets)} of {cov.n_subsets_expected} subsets"
    elif len(cov.subsets) > 1 or cov.canonical is False:
        what += f", {len(cov.subsets)} subset{'s' if len(cov.subsets) != 1 else ''}"
    if cov.canonical is None:
        state = "annotations unverified (the benchmark declares no canonical file)"
    elif cov.canonical:
        state = "canonical annotation file"
    elif cov.foreign:
        state = f"FOREIGN annotations, not a file of this benchmark (sha256 {cov.annotation_sha256[:12]})"
    else:
        state = f"NOT the canonical annotation file (sha256 {cov.annotation_sha256[:12]})"
    verdict = "; not comparable with full runs" if problems(cov) else ""
    return f"coverage: {what}; {state}{verdict}"
