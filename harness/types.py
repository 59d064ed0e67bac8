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


# The most frames one sample may ask for: more than any model here takes, and a bound on memory
# (a sample's frames are held decoded at once: 256 frames of 1080p are about 1.6 GB).
MAX_FRAMES = 256


class FrameSpec(BaseModel):
    """How frames are taken from a video. Part of the run's identity."""

    model_config = ConfigDict(frozen=True)

    n_frames: int = 8  # 0: the provider samples the video itself (Gemini's native 1 fps)
    rule: Literal["uniform-first-last"] = "uniform-first-last"
    fps_cap: float | None = None
    max_pixels: int | None = None
    resize: str = "none"  # e.g. "square-stretch" (Tarsier-1), "none"
    repeat: int = 1  # Tarsier2 passes each frame twice
    sampler: Literal["uniform", "tarsier1", "tarsier2"] = "uniform"  # harness.frame_rules
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
    # an answer came from another model than `model` (harness.judge_identity.same_model): flagged, never official
    answered_differs: bool = False
    provider: Literal["openai", "azure", "openai-compatible"] = "openai"
    host: str | None = None  # scheme://host[:port][/path] of the endpoint, credentials removed
    api_version: str | None = None
    official: bool = False  # the protocol's own judge (model and provider as published)
    # ISO dates (UTC) of the first and last answer behind the result: live, cached (the day it was made),
    # from a provider batch (the provider's time) or from an earlier invocation that this one resumed
    first_call: str | None = None
    last_call: str | None = None


class Coverage(BaseModel):
    """What a result covers of its benchmark: the annotation file against the canonical one, how
    many of the canonical rows the run took, which subsets. A result that covers less, or another
    file, is not comparable with full runs on the canonical set (harness.coverage says why)."""

    model_config = ConfigDict(extra="forbid")

    annotation_sha256: str
    # one of the benchmark's canonical files; None: the benchmark declares none (unverified)
    canonical: bool | None = None
    n_run: int  # samples the run covered (its annotation file, cut by --limit)
    n_file: int  # samples in the run's annotation file
    n_canonical: int | None = None  # rows of the canonical file, when the benchmark declares it
    subsets: list[str] = Field(default_factory=list)  # annotation `dataset` values the run covered
    n_subsets_expected: int | None = None  # subsets of the canonical file (known when the file is canonical)
    # a file that does not fit the benchmark (another benchmark's), scored with --allow-foreign-annotations
    foreign: bool = False


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
    limit: int | None = Field(default=None, ge=1)
    shard: str | None = None  # "I/N" for manual sharding
    # the model profile the run follows (harness.adapters.profiles): id, the published number it is
    # meant to reproduce, its source, and `overridden` ({setting: {"profile", "run"}}). Descriptive:
    # the settings themselves are in the fields above, so it is not part of the hash.
    profile: dict[str, Any] | None = None

    def hash(self) -> str:
        exclude = {"annotations", "profile"} | ({"benchmark_fingerprint"} if self.benchmark_fingerprint is None else set())
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
    # invalid answers in percent of the answers scored (None: the metric has no invalid answers)
    invalid_pct: float | None = None
    # samples in the benchmark's annotations: more than n_total when --limit cut the run short
    n_benchmark: int | None = None
    coverage: Coverage | None = None  # the annotation file and how much of the canonical set the run covers
    failed_reasons: dict[str, int] = Field(default_factory=dict)
    groups: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    # 95% intervals of the groups' values (group -> value key -> [low, high]), by the headline's method;
    # results written before they existed have none
    group_intervals: dict[str, dict[str, tuple[float, float]]] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance
    profile: str | None = None  # model profile id the run followed (None: no profile)
    overridden: dict[str, Any] = Field(default_factory=dict)  # profile settings the run changed: not the profile's number
    harness_version: str | None = None
    date: str = Field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d"))


def content_hash(obj: Any) -> str:
    """Stable short hash of a JSON-able object (sorted keys, no whitespace)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]
