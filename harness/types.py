"""Core types, validated at every boundary (pydantic)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Sample(BaseModel):
    """One benchmark item, built by a benchmark definition from an annotation line."""

    model_config = ConfigDict(frozen=True)

    id: str
    benchmark: str
    idx: int | str
    dataset: str  # source subset as annotated, e.g. "DREAM/movie_animation"
    video: str | None = None  # resolved path (or the annotation's placeholder when unresolved)
    prompt: str
    question: str | None = None
    options: list[str] = Field(default_factory=list)
    answer: str | None = None  # MC letter or open-ended answer
    references: list[str] = Field(default_factory=list)  # captions / DREAM description
    groups: dict[str, str] = Field(default_factory=dict)  # e.g. {"subset": ..., "duration": ...}
    cluster: str  # video id: resampling unit for clustered bootstrap
    extra: dict[str, Any] = Field(default_factory=dict)  # DREAM events, counts, ...


class FrameSpec(BaseModel):
    """How frames are taken from a video. Part of the run's identity."""

    model_config = ConfigDict(frozen=True)

    n_frames: int = 8
    rule: Literal["uniform-first-last"] = "uniform-first-last"
    fps_cap: float | None = None
    max_pixels: int | None = None
    resize: str = "none"  # e.g. "square-stretch" (Tarsier-1), "none"
    repeat: int = 1  # Tarsier2 passes each frame twice
    decoder: str = "pyav"
    sampler_version: str = "1"


class Prediction(BaseModel):
    """A model's answer for one sample, or the error that prevented it."""

    sample_id: str
    text: str | None = None
    error: str | None = None
    seconds: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    n_frames: int | None = None
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


class SampleScore(BaseModel):
    """A metric's verdict for one sample."""

    sample_id: str
    status: Literal["ok", "failed"] = "ok"
    reason: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)
    judge_calls: list[str] = Field(default_factory=list)  # cache keys of the judge calls made

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class JudgeSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    model: str
    base_url: str | None = None  # None = the provider's default endpoint
    provider: Literal["openai", "azure"] = "openai"
    api_version: str | None = None


class JudgeIdentity(BaseModel):
    """Who judged a result: what was asked for and what really answered. Never a secret.

    Filled by the model client (the judge role) and carried by Result and result records, so the
    board can keep numbers of different judges apart even when the model names agree.
    """

    model: str  # the model asked for (the request's `model`)
    answered: list[str] = Field(default_factory=list)  # `model` fields of the answers, distinct, sorted
    provider: Literal["openai", "azure", "openai-compatible"] = "openai"
    host: str | None = None  # scheme://host[:port][/path] of the endpoint, credentials removed
    api_version: str | None = None
    official: bool = False  # the protocol's own judge (model and provider as published)
    first_call: str | None = None  # ISO dates of the calls behind the result, when known
    last_call: str | None = None


class RunSpec(BaseModel):
    """Everything that determines the predictions. Its hash names the run directory.

    Scoring (protocol, judge) is a separate ScoreSpec, so a different protocol or judge
    re-scores the same predictions instead of re-running the model.
    """

    model_config = ConfigDict(frozen=True)

    model: str
    model_revision: str | None = None
    backend: str = "none"
    backend_versions: dict[str, str] = Field(default_factory=dict)
    generation: dict[str, Any] = Field(default_factory=dict)
    frames: FrameSpec = Field(default_factory=FrameSpec)
    prompt_template: str | None = None
    benchmark: str
    # a user benchmark's declaration of how samples are built (Benchmark.sample_fingerprint);
    # None for built-in benchmarks, and then left out of the hash (older run folders keep theirs)
    benchmark_fingerprint: str | None = None
    annotations: str  # where they came from (path or hub id), informational
    annotation_sha256: str
    limit: int | None = None
    shard: str | None = None  # "I/N" for manual sharding

    def hash(self) -> str:
        exclude = {"annotations"} | ({"benchmark_fingerprint"} if self.benchmark_fingerprint is None else set())
        return content_hash(self.model_dump(mode="json", exclude=exclude))


class ScoreSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    protocol: Literal["strict", "tarsier"] = "strict"
    judge: JudgeSpec | None = None

    def hash(self) -> str:
        return content_hash(self.model_dump(mode="json"))


class Provenance(BaseModel):
    kind: Literal["reported", "reproduced"]
    source: str | None = None  # citation for reported numbers
    where: str | None = None  # table / figure / page
    url: str | None = None
    spec_hash: str | None = None  # run spec hash for reproduced numbers
    score_hash: str | None = None


class Result(BaseModel):
    """A benchmark result: what the leaderboard shows."""

    benchmark: str
    # canonical: the benchmark's own annotation file; modified: another file that fits it (a subset,
    # an edit); foreign: a file of another benchmark (--allow-foreign-annotations); unverified: the
    # benchmark declares no canonical checksum (harness.annotations.annotations_status)
    annotations_status: Literal["canonical", "modified", "foreign", "unverified"] | None = None
    model: str
    model_revision: str | None = None
    backend: str | None = None
    protocol: str
    metric: str  # headline metric key
    metrics: dict[str, float | None]
    intervals: dict[str, tuple[float, float]] = Field(default_factory=dict)
    interval_method: str | None = None
    frames: int | None = None
    judge_model: str | None = None
    judge: JudgeIdentity | None = None  # the judge's full identity (judged metrics only)
    n_total: int
    n_scored: int
    n_failed: int = 0
    n_invalid: int = 0
    # samples in the benchmark's annotations: more than n_total when --limit cut the run short
    n_benchmark: int | None = None
    failed_reasons: dict[str, int] = Field(default_factory=dict)
    groups: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance
    harness_version: str | None = None
    date: str = Field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d"))


def content_hash(obj: Any) -> str:
    """Stable short hash of a JSON-able object (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
