"""Why samples failed, and advice that works for each reason.

"Run the same command to retry" is only said of failures a retry can fix (a judge or an API that failed,
an interrupted run). A prediction file that lacks samples, a video that cannot be read, predictions never
generated or an annotation the metric cannot use stay failed however often the command runs: each gets
the advice that fixes it instead.

A failed sample's reason is its SampleScore.reason: `prediction: <the prediction's error>` (an adapter's
`<stage>: ...`, the prediction file's `missing: ...`, `not generated yet`), `judge: ...`, or a metric's own
reason (`no references` ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from harness.types import Sample, SampleScore

# The file adapter's reasons (adapters/file.py): a sample the file has no line for, a line whose prediction is null.
NOT_IN_FILE = "missing: no prediction for"
NULL_IN_FILE = "missing: the prediction is null"
NOT_GENERATED = "not generated yet"

RETRY, NOT_IN_FILE_KIND, NULL_KIND, NOT_GENERATED_KIND, VIDEO, ANNOTATION = (
    "retry", "not in file", "null in file", "not generated", "video", "annotation")


def not_in_file(error: str | None) -> bool:
    return bool(error) and error.startswith(NOT_IN_FILE)


def kind(reason: str | None) -> str:
    """What a failed sample needs: RETRY, or the fix a retry cannot make."""
    reason = reason or ""
    if reason.startswith("prediction: "):
        error = reason.removeprefix("prediction: ")
        if error.startswith(NOT_IN_FILE):
            return NOT_IN_FILE_KIND
        if error.startswith(NULL_IN_FILE):
            return NULL_KIND
        if error.startswith(NOT_GENERATED):
            return NOT_GENERATED_KIND
        if error.startswith("video:"):
            return VIDEO
        return RETRY  # api, generation, a replica that died, an adapter that returned nothing
    if reason.startswith("judge") or reason in ("not scored", "unknown", ""):
        return RETRY
    return ANNOTATION  # the metric cannot use the annotation (no references, no answer, no options)


@dataclass
class FailureSummary:
    n_samples: int
    counts: Counter = field(default_factory=Counter)  # kind -> failed samples
    examples: dict[str, str] = field(default_factory=dict)  # kind -> the first sample's reason

    @property
    def n_failed(self) -> int:
        return sum(self.counts.values())


def failure_summary(scores: dict[str, SampleScore], samples: Iterable[Sample]) -> FailureSummary:
    samples = list(samples)
    summary = FailureSummary(len(samples))
    for s in samples:
        sc = scores.get(s.id)
        if sc is not None and sc.ok:
            continue
        k = kind(sc.reason if sc is not None else "not scored")
        summary.counts[k] += 1
        summary.examples.setdefault(k, (sc.reason if sc is not None else "not scored") or "")
    return summary


def advice(summary: FailureSummary, bench: str, prediction_file: str | None = None) -> list[str]:
    """One line per kind of failure, saying how many and what fixes them."""
    c, n = summary.counts, summary.n_samples
    lines = []
    if c[NOT_IN_FILE_KIND]:
        example, _, name = summary.examples[NOT_IN_FILE_KIND].removeprefix(f"prediction: {NOT_IN_FILE} ").rpartition(" in ")
        where = prediction_file or name or "the prediction file"
        lines.append(f"{where} lacks predictions for {c[NOT_IN_FILE_KIND]} of {n} samples (e.g. {example}): add "
                     "them to the file, or accept the gap with --max-failed")
    if c[NULL_KIND]:
        where = prediction_file or summary.examples[NULL_KIND].rpartition(" in ")[2].rpartition(" line ")[0]
        lines.append(f"{where or 'the prediction file'} has a null prediction for {c[NULL_KIND]} of {n} samples: counted as failed, "
                     "never scored")
    if c[NOT_GENERATED_KIND]:
        lines.append(f"{c[NOT_GENERATED_KIND]} of {n} samples have no prediction yet: run the same command with "
                     "--stage generate (or --stage all) first")
    if c[VIDEO]:
        lines.append(f"{c[VIDEO]} videos could not be read (e.g. {_short(summary.examples[VIDEO])}): "
                     f"`harness data check --bench {bench} --video-root DIR` lists them; fix or replace them, then "
                     "run the same command")
    if c[ANNOTATION]:
        lines.append(f"{c[ANNOTATION]} samples cannot be scored from their annotation "
                     f"({summary.examples[ANNOTATION]}): fix the annotation file")
    if c[RETRY]:
        lines.append(f"{c[RETRY]} failed on the way (e.g. {_short(summary.examples[RETRY])}; every reason is in the "
                     "run folder): run the same command to retry them; finished work is kept")
    return lines


def _short(reason: str) -> str:
    """'api: APIConnectionError' from 'prediction: api: APIConnectionError: Connection error: ... host:port':
    what failed, without the details (addresses, payloads) a summary line has no room for."""
    parts = [p.strip() for p in reason.removeprefix("prediction: ").split(":")]
    return ": ".join(parts[:2])[:120]
