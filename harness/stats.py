"""Uncertainty of headline numbers: clustered bootstrap intervals and paired comparisons.

The resampling unit is the video (`Sample.cluster`): questions about the same video are
correlated (Video-MME has 3 per video, NExT-QA about 9), so videos are drawn with
replacement and carry all their questions along. Only successfully scored rows take part,
exactly as in `Metric.aggregate`.

Two ways to evaluate a metric on a resample:
- fast: the metric gives per-sample columns (`Metric.per_sample_values`); a resample's column
  mean is (weights @ per-video sums) / (weights @ per-video counts), for all resamples at once,
  and `Metric.combine_means` turns column means into headline values. It is used only when
  it reproduces `headline_values` on the full data.
- generic: `Metric.headline_values` on each resample's rows (duplicates included), which
  recomputes corpus-level metrics (CIDEr, AutoDQ F1) from scratch every time.

Intervals are percentile intervals. Comparisons of two runs on the same samples use the
same resampled videos for both runs (paired bootstrap) for the interval of B - A, and a
sign-flip permutation test over videos (each video's A and B scores swapped with
probability 1/2) for the two-sided p-value. Everything is seeded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from harness.metric import Metric, Row

N_RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
_CHUNK = 256  # resamples evaluated per matrix product (bounds memory on large sets)


@dataclass
class Intervals:
    values: dict[str, float | None]  # point estimates on the full data
    intervals: dict[str, tuple[float, float]]
    method: str | None
    n_rows: int = 0
    n_clusters: int = 0
    path: str = "none"  # "fast" | "generic" | "none"


@dataclass
class Comparison:
    a: dict[str, float | None]
    b: dict[str, float | None]
    diff: dict[str, float | None]  # B - A
    intervals: dict[str, tuple[float, float]]
    p_values: dict[str, float]
    n_common: int
    n_clusters: int
    interval_method: str
    test_method: str
    path: str = "none"
    keys: list[str] = field(default_factory=list)
    n_resamples: int = 0  # permutations behind the p-values (their resolution is 1 / (1 + n))


def format_p(p: float | None, n_resamples: int) -> str:
    """'p = 0.0345', or 'p < 0.001' when no permutation was as extreme as the data: the test cannot
    resolve a smaller p, so printing 1/(1 + n) (0.000999) would claim a precision it does not have."""
    if p is None or math.isnan(p):
        return "p -"
    if n_resamples > 0 and p <= (1.0 + 1e-9) / (1 + n_resamples):
        bound = 1.0 / n_resamples
        digits = math.floor(math.log10(bound))
        return f"p < {_round_up(bound, digits):g}"
    return f"p = {p:.3g}"


def _round_up(x: float, digits: int) -> float:
    """x rounded up to one significant digit at 10**digits (1/999 -> 0.002, 1/1000 -> 0.001)."""
    step = 10.0 ** digits
    return math.ceil(x / step - 1e-9) * step


# -- the design: which rows belong to which video ----------------------------------------
class _Clusters:
    def __init__(self, rows: list[Row]):
        index: dict[str, int] = {}
        codes = np.empty(len(rows), dtype=np.int64)
        members: list[list[int]] = []
        for i, (sample, _) in enumerate(rows):
            c = index.setdefault(sample.cluster, len(index))
            if c == len(members):
                members.append([])
            members[c].append(i)
            codes[i] = c
        self.codes = codes
        self.members = members
        self.n = len(members)

    def draw(self, n_resamples: int, seed: int) -> np.ndarray:
        """(n_resamples, n_clusters) indices of the videos drawn, with replacement."""
        rng = np.random.default_rng(seed)
        return rng.integers(0, self.n, size=(n_resamples, self.n))

    def flips(self, n_permutations: int, seed: int) -> np.ndarray:
        """(n_permutations, n_clusters) booleans: swap this video's A and B scores."""
        rng = np.random.default_rng([seed, 1])  # a stream apart from the bootstrap's
        return rng.random((n_permutations, self.n)) < 0.5

    def weights(self, idx: np.ndarray) -> np.ndarray:
        """How many times each video was drawn, per resample (float matrix)."""
        b, c = idx.shape
        flat = (idx + (np.arange(b) * c)[:, None]).ravel()
        return np.bincount(flat, minlength=b * c).reshape(b, c).astype(np.float64)

    def rows_of(self, clusters) -> list[int]:
        out: list[int] = []
        for c in clusters:
            out.extend(self.members[c])
        return out


def describe(n_resamples: int, seed: int, n_clusters: int, level: float = LEVEL) -> str:
    return (f"bootstrap-percentile {level:.0%}, {n_resamples} resamples, seed {seed}, "
            f"clustered by video ({n_clusters} videos)")


# -- evaluating a metric on many resamples -----------------------------------------------
class _Fast:
    """Per-video sums and counts of a metric's per-sample columns."""

    def __init__(self, names: list[str], sums: np.ndarray, counts: np.ndarray):
        self.names, self.sums, self.counts = names, sums, counts

    @classmethod
    def build(cls, metric: Metric, rows: list[Row], protocol: str, design: _Clusters) -> "_Fast | None":
        cols = metric.per_sample_values(rows, protocol)
        if cols is None:
            return None
        names = sorted(cols)
        if not names:
            return None
        x = np.column_stack([np.asarray(cols[n], dtype=np.float64).reshape(-1) for n in names])
        if x.shape[0] != len(rows):
            return None
        counted = ~np.isnan(x)
        sums = np.zeros((design.n, len(names)))
        counts = np.zeros((design.n, len(names)))
        np.add.at(sums, design.codes, np.where(counted, x, 0.0))
        np.add.at(counts, design.codes, counted.astype(np.float64))
        return cls(names, sums, counts)

    def headline(self, metric: Metric, protocol: str, sums: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)
        out = metric.combine_means({n: means[:, j] for j, n in enumerate(self.names)}, protocol)
        return {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in out.items()}

    def weighted(self, metric: Metric, protocol: str, w: np.ndarray) -> dict[str, np.ndarray]:
        return self.headline(metric, protocol, w @ self.sums, w @ self.counts)


def _as_float(v: Any) -> float:
    if v is None:
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _same(fast: dict[str, np.ndarray], exact: dict[str, float | None]) -> bool:
    """Does the fast path reproduce headline_values on the full data?"""
    if set(fast) != set(exact):
        return False
    for k, v in exact.items():
        f, e = float(fast[k][0]), _as_float(v)
        if math.isnan(e) != math.isnan(f):
            return False
        if not math.isnan(e) and abs(f - e) > 1e-9 * max(1.0, abs(e)):
            return False
    return True


def _fast_for(metric: Metric, rows: list[Row], protocol: str, design: _Clusters,
              exact: dict[str, float | None]) -> _Fast | None:
    try:
        fast = _Fast.build(metric, rows, protocol, design)
        if fast is None:
            return None
        full = fast.weighted(metric, protocol, np.ones((1, design.n)))
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    return fast if _same(full, exact) else None


def _generic(metric: Metric, protocol: str, row_sets: Callable[[], Any], keys: list[str]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in keys}
    for rows in row_sets():
        vals = metric.headline_values(rows, protocol)
        for k in keys:
            out[k].append(_as_float(vals.get(k)))
    return out


def _percentile(values: np.ndarray, level: float) -> tuple[float, float] | None:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(values, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _ok(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r[1].ok]


# -- one run: an interval for every headline value ---------------------------------------
def bootstrap(metric: Metric, rows: list[Row], protocol: str, *, n_resamples: int = N_RESAMPLES,
              seed: int = SEED, level: float = LEVEL) -> Intervals:
    """Percentile intervals for each headline value, resampling videos with replacement."""
    rows = _ok(rows)
    values = metric.headline_values(rows, protocol) if rows else {}
    keys = [k for k, v in values.items() if not math.isnan(_as_float(v))]
    if not rows or not keys or n_resamples < 1:
        return Intervals(values, {}, None, len(rows), 0)
    design = _Clusters(rows)
    idx = design.draw(n_resamples, seed)
    fast = _fast_for(metric, rows, protocol, design, values)
    if fast is not None:
        parts = [fast.weighted(metric, protocol, design.weights(idx[i:i + _CHUNK]))
                 for i in range(0, n_resamples, _CHUNK)]
        draws = {k: np.concatenate([p[k] for p in parts]) for k in keys}
    else:
        def row_sets():
            for b in range(n_resamples):
                yield [rows[i] for i in design.rows_of(idx[b])]
        draws = {k: np.asarray(v) for k, v in _generic(metric, protocol, row_sets, keys).items()}
    intervals = {}
    for k in keys:
        iv = _percentile(draws[k], level)
        if iv is not None:
            intervals[k] = iv
    return Intervals(values, intervals, describe(n_resamples, seed, design.n, level), len(rows), design.n,
                     "fast" if fast is not None else "generic")


# -- two runs on the same samples --------------------------------------------------------
def paired_compare(metric: Metric, rows_a: list[Row], rows_b: list[Row], protocol: str, *,
                   n_resamples: int = N_RESAMPLES, seed: int = SEED, level: float = LEVEL) -> Comparison:
    """B - A for each headline value on the same samples (rows aligned, all scored ok).

    Interval: paired percentile bootstrap (the same resampled videos for both runs).
    p-value: two-sided sign-flip permutation test over videos, (1 + #|d*| >= |d|) / (1 + n).
    """
    if len(rows_a) != len(rows_b) or any(a[0].id != b[0].id for a, b in zip(rows_a, rows_b)):
        raise ValueError("paired_compare needs rows of the same samples in the same order")
    if not rows_a:
        raise ValueError("paired_compare needs at least one sample")
    va = metric.headline_values(rows_a, protocol)
    vb = metric.headline_values(rows_b, protocol)
    keys = [k for k in va if k in vb]
    diff = {k: (None if math.isnan(_as_float(va[k]) - _as_float(vb[k])) else _as_float(vb[k]) - _as_float(va[k]))
            for k in keys}
    design = _Clusters(rows_a)
    idx = design.draw(n_resamples, seed)
    flips = design.flips(n_resamples, seed)
    fa = _fast_for(metric, rows_a, protocol, design, va)
    fb = _fast_for(metric, rows_b, protocol, design, vb) if fa is not None else None
    if fb is not None and fb.names != fa.names:
        fa = fb = None

    if fa is not None and fb is not None:
        boot: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        perm: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        for i in range(0, n_resamples, _CHUNK):
            w = design.weights(idx[i:i + _CHUNK])
            ha, hb = fa.weighted(metric, protocol, w), fb.weighted(metric, protocol, w)
            f = flips[i:i + _CHUNK].astype(np.float64)
            keep = 1.0 - f
            # swapped videos: A' takes B's scores and B' takes A's
            a_sums, a_counts = keep @ fa.sums + f @ fb.sums, keep @ fa.counts + f @ fb.counts
            b_sums, b_counts = f @ fa.sums + keep @ fb.sums, f @ fa.counts + keep @ fb.counts
            pa = fa.headline(metric, protocol, a_sums, a_counts)
            pb = fb.headline(metric, protocol, b_sums, b_counts)
            for k in keys:
                boot[k].append(hb[k] - ha[k])
                perm[k].append(pb[k] - pa[k])
        boot_d = {k: np.concatenate(v) for k, v in boot.items()}
        perm_d = {k: np.concatenate(v) for k, v in perm.items()}
        path = "fast"
    else:
        def boot_sets():
            for b in range(n_resamples):
                sel = design.rows_of(idx[b])
                yield [rows_a[i] for i in sel], [rows_b[i] for i in sel]

        def perm_sets():
            for p in range(n_resamples):
                swap = flips[p][design.codes]
                yield ([rows_b[i] if s else rows_a[i] for i, s in enumerate(swap)],
                       [rows_a[i] if s else rows_b[i] for i, s in enumerate(swap)])

        boot_d = _paired_generic(metric, protocol, boot_sets, keys)
        perm_d = _paired_generic(metric, protocol, perm_sets, keys)
        path = "generic"

    intervals, p_values = {}, {}
    for k in keys:
        d = diff[k]
        if d is None:
            continue
        iv = _percentile(boot_d[k], level)
        if iv is not None:
            intervals[k] = iv
        null = perm_d[k]
        tol = 1e-9 * max(1.0, abs(d))
        extreme = np.isnan(null) | (np.abs(null) >= abs(d) - tol)  # an undefined draw counts against
        p_values[k] = float((1 + int(extreme.sum())) / (1 + null.size))
    test = (f"sign-flip permutation test over videos, two-sided, {n_resamples} permutations, "
            f"seed {seed}, p = (1 + #extreme) / (1 + {n_resamples})")
    return Comparison(
        a={k: va[k] for k in keys}, b={k: vb[k] for k in keys}, diff=diff, intervals=intervals,
        p_values=p_values, n_common=len(rows_a), n_clusters=design.n,
        interval_method="paired " + describe(n_resamples, seed, design.n, level), test_method=test,
        path=path, keys=keys, n_resamples=n_resamples,
    )


def _paired_generic(metric: Metric, protocol: str, pair_sets, keys: list[str]) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = {k: [] for k in keys}
    for ra, rb in pair_sets():
        a, b = metric.headline_values(ra, protocol), metric.headline_values(rb, protocol)
        for k in keys:
            out[k].append(_as_float(b.get(k)) - _as_float(a.get(k)))
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


# -- per-group intervals (subsets, subtasks, buckets, durations) ---------------------------
COUNT_KEYS = frozenset({"n", "n_failed"})


@dataclass
class GroupIntervals:
    intervals: dict[str, dict[str, tuple[float, float]]]  # group -> value key -> 95% interval
    paths: dict[str, str]  # group -> "split" | "pooled" | "generic" (how its resamples were evaluated)


def _targets(vals: dict[str, Any]) -> dict[str, float]:
    """The values of a group that get an interval: numbers that are not counts."""
    return {k: float(v) for k, v in vals.items()
            if k not in COUNT_KEYS and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def _members(metric: Metric, rows: list[Row], protocol: str) -> dict[str, np.ndarray]:
    """Which rows each group holds, as the metric's own aggregate assigns them: each row alone,
    without protocol rules (a rule such as dropping a video decides what counts, not where a row belongs)."""
    import copy

    bare = copy.copy(metric)
    bare.rules = {}
    out: dict[str, np.ndarray] = {}
    for i, row in enumerate(rows):
        for g, vals in bare.aggregate([row], protocol).groups.items():
            if isinstance(vals.get("n"), int) and vals["n"] > 0:
                out.setdefault(g, np.zeros(len(rows), dtype=bool))[i] = True
    return out


def _pooled(rows: list[Row]) -> list[Row]:
    """The rows as one group: every grouping value and the source subset made the same (the video stays),
    so a metric that averages over subsets or subtasks pools the rows instead."""
    return [(s.model_copy(update={"groups": {k: "·" for k in s.groups}, "dataset": "·"}), sc) for s, sc in rows]


class _GroupColumns:
    """Per-video sums and counts of the metric's per-sample columns restricted to each group's rows."""

    def __init__(self, metric: Metric, rows: list[Row], protocol: str, design: _Clusters):
        self.metric, self.protocol, self.design = metric, protocol, design
        self.cols = None
        try:
            cols = metric.per_sample_values(rows, protocol)
            if cols:
                self.cols = {k: np.asarray(v, dtype=np.float64).reshape(-1) for k, v in cols.items()}
                if any(v.size != len(rows) for v in self.cols.values()):
                    self.cols = None
        except (ValueError, TypeError, KeyError, IndexError):
            self.cols = None

    def fast(self, mask: np.ndarray) -> _Fast | None:
        if self.cols is None:
            return None
        names = sorted(self.cols)
        x = np.column_stack([np.where(mask, self.cols[n], np.nan) for n in names])
        counted = ~np.isnan(x)
        sums = np.zeros((self.design.n, len(names)))
        counts = np.zeros((self.design.n, len(names)))
        np.add.at(sums, self.design.codes, np.where(counted, x, 0.0))
        np.add.at(counts, self.design.codes, counted.astype(np.float64))
        return _Fast(names, sums, counts)

    def reproduces(self, fast: _Fast, targets: dict[str, float]) -> bool:
        try:
            full = fast.weighted(self.metric, self.protocol, np.ones((1, self.design.n)))
        except (ValueError, TypeError, KeyError, IndexError):
            return False
        return all(k in full and _same({k: full[k]}, {k: v}) for k, v in targets.items())


def group_bootstrap(metric: Metric, rows: list[Row], protocol: str, groups: dict[str, dict[str, Any]], *,
                    n_resamples: int = N_RESAMPLES, seed: int = SEED, level: float = LEVEL) -> GroupIntervals:
    """Percentile intervals for every group's values (the `groups` of `metric.aggregate(rows)`), from the
    headline's resamples: the same videos drawn (same seed), each group's value recomputed on the rows
    of that group in every resample. A ratio such as AutoDQ's F1 of a subset is recomputed from the
    resampled group's recall and precision, never averaged per sample.

    Each group is evaluated by the first way that reproduces its value on the full data exactly:
    "split", the metric's per-sample columns kept to the group's rows (a subset, a subtask);
    "pooled", the same with the rows' grouping values made one (a bucket or a duration that spans
    subsets, whose value pools its rows); else "generic", the metric's aggregate on every resample.
    """
    rows = _ok(rows)
    targets = {g: t for g, t in ((g, _targets(v)) for g, v in groups.items()) if t}
    if not rows or not targets or n_resamples < 1:
        return GroupIntervals({}, {})
    design = _Clusters(rows)
    idx = design.draw(n_resamples, seed)
    members = _members(metric, rows, protocol)
    ways = [("split", _GroupColumns(metric, rows, protocol, design))]
    plan: dict[str, _Fast] = {}
    paths: dict[str, str] = {}
    generic: list[str] = []
    for g, want in targets.items():
        mask = members.get(g)
        for name, cols in ([] if mask is None else ways):
            fast = cols.fast(mask)
            if fast is not None and cols.reproduces(fast, want):
                plan[g], paths[g] = fast, name
                break
            if name == "split" and len(ways) == 1:
                ways.append(("pooled", _GroupColumns(metric, _pooled(rows), protocol, design)))
        else:
            generic.append(g)
            paths[g] = "generic"
    draws: dict[str, dict[str, list[np.ndarray]]] = {g: {k: [] for k in targets[g]} for g in targets}
    for i in range(0, n_resamples, _CHUNK):
        w = design.weights(idx[i:i + _CHUNK])
        for g, fast in plan.items():
            out = fast.weighted(metric, protocol, w)
            for k in targets[g]:
                draws[g][k].append(out[k])
    for b in range(n_resamples if generic else 0):
        got = metric.aggregate([rows[i] for i in design.rows_of(idx[b])], protocol).groups
        for g in generic:
            for k in targets[g]:
                draws[g][k].append(np.asarray([_as_float((got.get(g) or {}).get(k))]))
    out_iv: dict[str, dict[str, tuple[float, float]]] = {}
    for g, per_key in draws.items():
        for k, parts in per_key.items():
            iv = _percentile(np.concatenate(parts), level) if parts else None
            if iv is not None:
                out_iv.setdefault(g, {})[k] = iv
    return GroupIntervals(out_iv, paths)
