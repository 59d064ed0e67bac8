"""The metric interface: samples + predictions (+ a judge) -> per-sample scores -> aggregate.

Metrics are pure: they never touch the run store, the network (except through the judge
client they are handed) or the CLI.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, ClassVar, Iterable

from pydantic import BaseModel, ConfigDict, Field

from harness.types import Prediction, Sample, SampleScore

Row = tuple[Sample, SampleScore]


class ProtocolRules(BaseModel):
    """Aggregation rules a benchmark declares for one protocol (a metric never guesses them).

    mean_over: the headline is the unweighted mean over the values of this grouping key
        (MVBench under `tarsier`: the mean over subtasks), not the pooled mean.
    drop_video_if_invalid: one invalid answer removes every question of its video
        (Video-MME under `tarsier`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mean_over: str | None = None
    drop_video_if_invalid: bool = False

    def names(self) -> list[str]:
        """The rules in force, by field name."""
        return [k for k, v in self.model_dump().items() if v not in (None, False)]


NO_RULES = ProtocolRules()


@dataclass
class ScoreContext:
    protocol: str = "strict"
    judge: Any = None  # a harness.client.core.ModelClient (the judge role) when the metric needs one
    concurrency: int = 64
    window: int | None = None  # samples in flight at once (default: twice the concurrency; batch mode: all)


class Aggregate(BaseModel):
    metrics: dict[str, float | None]
    groups: dict[str, dict[str, float | int | None]] = Field(default_factory=dict)
    n_scored: int
    n_invalid: int = 0
    extra: dict[str, Any] = Field(default_factory=dict)


class Metric:
    name: ClassVar[str]
    headline: ClassVar[str]  # the metric key leaderboards sort by
    needs_judge: ClassVar[bool] = False
    corpus_level: ClassVar[bool] = False  # per-sample values depend on the whole set: rescore all
    reports_invalid: ClassVar[bool] = False  # answers can be invalid (multiple choice): report the rate
    # What each sample's gold data must be (checked when the annotations load, never at scoring):
    # "choice" an option letter of the sample's options, "answer" a short answer and a question,
    # "references" one or more reference captions, "description" one reference description.
    gold: ClassVar[str] = "answer"
    # Protocol rules (ProtocolRules fields) this metric applies, and the arguments it accepts.
    applies_rules: ClassVar[frozenset[str]] = frozenset()
    arguments: ClassVar[frozenset[str]] = frozenset()
    # Set by `configure` from the benchmark's declaration; empty: no rule applies.
    rules: dict[str, ProtocolRules] = {}
    args: dict[str, Any] = {}

    def configure(self, rules: dict[str, ProtocolRules] | None = None,
                  args: dict[str, Any] | None = None) -> "Metric":
        """Give the metric its benchmark's protocol rules and arguments (validated by the declaration)."""
        self.rules = dict(rules or {})
        self.args = dict(args or {})
        return self

    def rule(self, protocol: str) -> ProtocolRules:
        return self.rules.get(protocol, NO_RULES)

    async def score(self, sample: Sample, prediction: Prediction, ctx: ScoreContext) -> SampleScore:
        raise NotImplementedError

    async def score_all(
        self,
        items: list[tuple[Sample, Prediction]],
        ctx: ScoreContext,
        emit: Callable[[SampleScore], None],
    ) -> None:
        """Score every item, emitting each score as soon as it is known (so it is saved).

        A window of twice the judge's concurrency keeps the judge busy without creating a
        task per sample up front; the judge client bounds the calls themselves.
        """
        await bounded_map(items, lambda item: self.score(item[0], item[1], ctx), emit,
                          window=ctx.window or 2 * max(1, ctx.concurrency))

    def aggregate(self, rows: list[Row], protocol: str) -> Aggregate:
        """Aggregate over successful rows (failed ones are counted by the runner)."""
        raise NotImplementedError

    def headline_values(self, rows: list[Row], protocol: str) -> dict[str, float | None]:
        """Headline metric(s) for a (re)sample of rows; used by the bootstrap.

        Rows may repeat (a bootstrap resample draws videos with replacement): a repeated row
        counts once per copy.
        """
        return self.aggregate(rows, protocol).metrics

    # -- fast bootstrap path (optional; see harness.stats) -------------------------------
    def per_sample_values(self, rows: list[Row], protocol: str) -> dict[str, Any] | None:
        """Per-sample columns for metrics that are means (or functions of means) of per-sample values.

        Return {column: float numpy array aligned with rows}, NaN where a row does not count
        (e.g. an invalid answer under tarsier). A column's value on a resample is the mean of
        the rows that count; `combine_means` turns column means into the headline values.
        `rows` holds successful rows only. None (the default): the bootstrap calls
        `headline_values` once per resample instead (needed for corpus-level metrics).
        """
        return None

    def combine_means(self, means: dict[str, Any], protocol: str) -> dict[str, Any]:
        """Headline values from column means (each an array over resamples; NaN = no rows).

        Default: the columns are the headline values themselves.
        """
        return means


def ok_rows(rows: list[Row]) -> list[Row]:
    return [(s, sc) for s, sc in rows if sc.ok]


def failed_reasons(rows: list[Row]) -> dict[str, int]:
    return dict(Counter((sc.reason or "unknown").split(":", 1)[0] for _, sc in rows if not sc.ok))


def pct(num: float, den: float) -> float | None:
    return None if den == 0 else 100.0 * num / den


async def bounded_map(items: Iterable[Any], fn: Callable[[Any], Awaitable[Any]], emit: Callable[[Any], None],
                      window: int) -> None:
    """Run fn over items with at most `window` in flight, emitting each result as it is known.

    When one raises (a budget stop, an unavailable judge, a bug), no new item starts; the ones in
    flight finish (their paid answers land in the cache, their scores are emitted), then the first
    error is raised.
    """
    iterator = iter(items)
    running: set[asyncio.Task] = set()
    error: BaseException | None = None

    def launch() -> bool:
        try:
            item = next(iterator)
        except StopIteration:
            return False
        running.add(asyncio.ensure_future(fn(item)))
        return True

    while len(running) < max(1, window) and launch():
        pass
    try:
        while running:
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                running.discard(task)
                exc = task.exception()
                if exc is not None:
                    error = error or exc
                    continue
                emit(task.result())
            while error is None and len(running) < window and launch():
                pass
    except BaseException:
        for task in running:
            task.cancel()
        raise
    if error is not None:
        raise error
