"""Per-group intervals (harness.stats.group_bootstrap): every subset, subtask, bucket and duration of a
result gets its bootstrap interval from the headline's resamples, each group's value recomputed on its
rows in every resample. Checked against the definition (the metric's own aggregate on each resample)
on real annotation files with planted per-sample scores."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ANNOTATIONS
from harness import registry, stats
from harness.types import SampleScore
from test_stats import GenericMC, mc_rows


def _samples(bench: str, file: str, limit: int | None = None):
    b = registry.benchmark(bench)
    samples = b.samples(b.load_annotations(str(ANNOTATIONS / file)))
    return b, samples[:limit] if limit else samples


def _definition(metric, rows, protocol, groups, n_resamples):
    """Each group's interval by brute force: the metric's aggregate on every resample of the videos
    (the same draws as the headline's), the group's value read off it."""
    ok = [r for r in rows if r[1].ok]
    design = stats._Clusters(ok)
    idx = design.draw(n_resamples, stats.SEED)
    draws = {g: {k: [] for k in stats._targets(v)} for g, v in groups.items()}
    for b in range(n_resamples):
        got = metric.aggregate([ok[i] for i in design.rows_of(idx[b])], protocol).groups
        for g, keys in draws.items():
            for k in keys:
                v = (got.get(g) or {}).get(k)
                keys[k].append(np.nan if v is None else float(v))
    return {g: {k: stats._percentile(np.asarray(v), stats.LEVEL) for k, v in keys.items()}
            for g, keys in draws.items()}


def dream_rows(seed=3):
    b, samples = _samples("dream", "DREAM-1k.jsonl")
    rng = np.random.default_rng(seed)
    rows = []
    for i, s in enumerate(samples):
        if i % 97 == 5:
            rows.append((s, SampleScore(sample_id=s.id, status="failed", reason="judge: gave up")))
            continue
        rows.append((s, SampleScore(sample_id=s.id, fields={"recall": float(rng.beta(3, 4)),
                                                            "precision": float(rng.beta(4, 3))})))
    return b.make_metric(), rows


def test_dream_subsets_and_buckets_match_the_definition():
    metric, rows = dream_rows()
    groups = metric.aggregate(rows, "tarsier").groups
    res = stats.group_bootstrap(metric, rows, "tarsier", groups, n_resamples=200)
    subsets = [g for g in groups if g.startswith("subset=")]
    buckets = [g for g in groups if not g.startswith("subset=") and groups[g]["n"]]
    assert len(subsets) == 5 and len(buckets) >= 10
    # a subset keeps the metric's own per-subset columns; a bucket pools rows across subsets
    assert {res.paths[g] for g in subsets} == {"split"} and {res.paths[g] for g in buckets} == {"pooled"}
    want = _definition(metric, rows, "tarsier", {g: groups[g] for g in subsets + buckets}, 200)
    for g in subsets + buckets:
        assert set(res.intervals[g]) == {"f1", "precision", "recall"}
        for k, (lo, hi) in res.intervals[g].items():
            assert (lo, hi) == pytest.approx(want[g][k], abs=1e-9), (g, k)
            assert lo <= groups[g][k] <= hi


def test_f1_of_a_subset_is_recomputed_from_its_recall_and_precision():
    """AutoDQ's F1 per subset is a ratio: the interval of F1 is not the F1 of the recall and precision
    intervals' ends, and not a mean of per-sample F1s."""
    metric, rows = dream_rows()
    groups = metric.aggregate(rows, "tarsier").groups
    g = next(k for k in groups if k.startswith("subset="))
    iv = stats.group_bootstrap(metric, rows, "tarsier", {g: groups[g]}, n_resamples=300).intervals[g]
    r, p = iv["recall"], iv["precision"]
    naive = (200 * r[0] * p[0] / (r[0] + p[0]), 200 * r[1] * p[1] / (r[1] + p[1]))
    assert iv["f1"][1] - iv["f1"][0] < naive[1] - naive[0]


@pytest.mark.parametrize("protocol", ["strict", "tarsier"])
def test_video_mme_groups_fast_equals_generic(protocol):
    """Video-MME under tarsier drops every question of a video with an invalid answer, also in the
    groups; the fast way must agree with the metric's aggregate on every resample."""
    b, samples = _samples("video-mme", "Video-MME.jsonl", 900)
    rng = np.random.default_rng(4)
    correct = (rng.random(len(samples)) < 0.6).astype(int)
    valid = rng.random(len(samples)) > 0.05
    rows = []
    for s, c, v in zip(samples, correct, valid):
        rows.append((s, SampleScore(sample_id=s.id, fields={"choice": "A" if v else None, "valid": bool(v),
                                                            "correct": bool(v and c)})))
    fast_m, slow_m = b.make_metric(), GenericMC().configure(b.rules)
    groups = fast_m.aggregate(rows, protocol).groups
    assert {k.split("=")[0] for k in groups} == {"duration", "domain", "sub_category", "task_type"}
    fast = stats.group_bootstrap(fast_m, rows, protocol, groups, n_resamples=150)
    slow = stats.group_bootstrap(slow_m, rows, protocol, groups, n_resamples=150)
    assert set(slow.paths.values()) == {"generic"} and "generic" not in set(fast.paths.values())
    assert fast.intervals.keys() == slow.intervals.keys() == {g for g, v in groups.items() if v["accuracy"] is not None}
    for g in fast.intervals:
        assert fast.intervals[g]["accuracy"] == pytest.approx(slow.intervals[g]["accuracy"], abs=1e-9), g


def test_mvbench_subtasks_under_the_subtask_mean():
    rows = mc_rows([1, 0, 1, 1, 0] * 40, groups=[{"subtask": f"t{i % 4}"} for i in range(200)])
    metric = registry.benchmark("mvbench").make_metric()
    groups = metric.aggregate(rows, "tarsier").groups
    res = stats.group_bootstrap(metric, rows, "tarsier", groups)
    assert set(res.paths.values()) == {"split"} and len(res.intervals) == 4
    for g, iv in res.intervals.items():
        assert iv["accuracy"][0] <= groups[g]["accuracy"] <= iv["accuracy"][1]


def test_nothing_to_resample():
    metric, rows = dream_rows()
    assert stats.group_bootstrap(metric, [], "tarsier", {}).intervals == {}
    failed = [(s, SampleScore(sample_id=s.id, status="failed", reason="x")) for s, _ in rows[:5]]
    assert stats.group_bootstrap(metric, failed, "tarsier", {"subset=a": {"f1": 1.0}}).intervals == {}


def test_a_run_stores_group_intervals_and_old_results_still_read(tmp_path):
    """`harness run` on Video-MME: result.json and the published record carry every group's interval;
    a result.json written before group intervals existed still reads (none shown)."""
    import json

    from conftest import harness_cli, tarsier_predictions
    from harness.results import load_dir
    from harness.types import Result

    ann = ANNOTATIONS / "Video-MME.jsonl"
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, row: "ABCD"[(i * 7) % 4])
    r = harness_cli("run", "--model", f"file:{preds}", "--bench", "video-mme", "--annotations", str(ann),
                    "--limit", "300", "--out", str(tmp_path / "runs"), "--no-progress",
                    "--publish", str(tmp_path / "results"))
    assert r.returncode == 0, r.stderr
    path = next((tmp_path / "runs").rglob("result.json"))
    result = Result.model_validate_json(path.read_text())
    assert result.group_intervals and set(result.group_intervals) == {
        g for g, v in result.groups.items() if v.get("accuracy") is not None}
    for g, ivs in result.group_intervals.items():
        lo, hi = ivs["accuracy"]
        assert lo <= result.groups[g]["accuracy"] <= hi
    assert sum(ivs["accuracy"][0] < ivs["accuracy"][1] for ivs in result.group_intervals.values()) > 10
    rec = load_dir(tmp_path / "results")[0]
    assert rec.group_intervals == {g: {k: tuple(v) for k, v in ivs.items()} for g, ivs in result.group_intervals.items()}
    old = json.loads(path.read_text())
    del old["group_intervals"]
    assert Result.model_validate(old).group_intervals == {}


def test_a_record_whose_group_interval_misses_its_value_is_refused():
    from pydantic import ValidationError

    from harness.results import ModelInfo, Reproduced, ResultRecord

    base = dict(id="video-mme.x.y", benchmark="video-mme", benchmark_title="Video-MME", split="test",
                model=ModelInfo(name="X"), metric="accuracy", metrics={"accuracy": 50.0},
                intervals={"accuracy": (48.0, 52.0)}, interval_method="bootstrap", n_scored=10, n_total=10,
                groups={"duration=short": {"accuracy": 40.0, "n": 5}}, protocol="strict",
                provenance=Reproduced(spec_hash="0" * 16, harness_version="0.1.0"), date="2025-01-01")
    ResultRecord(**base, group_intervals={"duration=short": {"accuracy": (30.0, 50.0)}})
    for bad in ({"duration=short": {"accuracy": (41.0, 50.0)}}, {"duration=long": {"accuracy": (30.0, 50.0)}},
                {"duration=short": {"accuracy": (30.0, 150.0)}}):
        with pytest.raises(ValidationError, match="group_intervals"):
            ResultRecord(**base, group_intervals=bad)
