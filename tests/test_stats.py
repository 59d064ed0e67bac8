"""Bootstrap intervals and paired comparisons (harness.stats) on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import ANNOTATIONS
from harness import registry, stats
from harness.metric import Aggregate, Metric, ok_rows
from harness.metrics.multiple_choice import MultipleChoice
from harness.types import Sample, SampleScore

MC = MultipleChoice()


class GenericMC(MultipleChoice):
    """The same metric without the fast path: headline_values on every resample."""

    def per_sample_values(self, rows, protocol):
        return None


def mc_rows(correct, clusters=None, valid=None, groups=None, failed=()):
    """Multiple-choice rows: correct[i] in {0, 1}; cluster i's video id; invalid answers; failed rows."""
    n = len(correct)
    clusters = clusters if clusters is not None else [str(i) for i in range(n)]
    valid = valid if valid is not None else [True] * n
    rows = []
    for i in range(n):
        s = Sample(id=str(i), benchmark="t", idx=i, dataset="t", prompt="p", answer="A",
                   cluster=str(clusters[i]), groups=(groups[i] if groups else {}))
        if i in failed:
            sc = SampleScore(sample_id=str(i), status="failed", reason="judge: gave up")
        else:
            sc = SampleScore(sample_id=str(i), fields={"choice": "A" if valid[i] else None, "valid": bool(valid[i]),
                                                       "correct": bool(valid[i] and correct[i])})
        rows.append((s, sc))
    return rows


def width(iv):
    return iv[1] - iv[0]


# -- one run ---------------------------------------------------------------------------------
def test_bernoulli_interval_matches_normal_approximation():
    rng = np.random.default_rng(1)
    n, p = 4000, 0.7
    correct = (rng.random(n) < p).astype(int)
    res = stats.bootstrap(MC, mc_rows(correct), "strict")
    acc = 100 * correct.mean()
    assert res.values["accuracy"] == pytest.approx(acc)
    lo, hi = res.intervals["accuracy"]
    normal = 2 * 1.96 * 100 * math.sqrt(acc / 100 * (1 - acc / 100) / n)
    assert lo < acc < hi
    assert width((lo, hi)) == pytest.approx(normal, rel=0.1)
    assert res.method == "bootstrap-percentile 95%, 1000 resamples, seed 0, clustered by video (4000 videos)"
    assert res.path == "fast"


@pytest.mark.slow
def test_coverage_of_the_true_rate_is_about_95_percent():
    rng = np.random.default_rng(7)
    p, n, trials, hits = 0.6, 300, 300, 0
    for t in range(trials):
        correct = (rng.random(n) < p).astype(int)
        lo, hi = stats.bootstrap(MC, mc_rows(correct), "strict", n_resamples=400, seed=t).intervals["accuracy"]
        hits += lo <= 100 * p <= hi
    assert 0.90 <= hits / trials <= 0.99  # 95% nominal; binomial noise of 300 trials is about +-2.5%


def test_clustering_widens_intervals_when_questions_of_a_video_agree():
    rng = np.random.default_rng(3)
    videos, per_video = 300, 10
    video_ok = rng.random(videos) < 0.6
    # questions of a video mostly share its outcome (strong within-video correlation)
    correct = [int(video_ok[v] if rng.random() < 0.9 else not video_ok[v]) for v in range(videos) for _ in range(per_video)]
    clusters = [v for v in range(videos) for _ in range(per_video)]
    clustered = stats.bootstrap(MC, mc_rows(correct, clusters), "strict")
    naive = stats.bootstrap(MC, mc_rows(correct), "strict")  # every question its own video
    assert clustered.n_clusters == videos and naive.n_clusters == videos * per_video
    ratio = width(clustered.intervals["accuracy"]) / width(naive.intervals["accuracy"])
    assert ratio > 2.0  # design effect 1 + (m - 1) * icc is about 6 here, so about 2.5x wider


def test_independent_questions_are_not_widened_by_clustering():
    rng = np.random.default_rng(4)
    correct = (rng.random(3000) < 0.5).astype(int)
    clustered = stats.bootstrap(MC, mc_rows(correct, [i // 3 for i in range(3000)]), "strict")
    naive = stats.bootstrap(MC, mc_rows(correct), "strict")
    assert width(clustered.intervals["accuracy"]) == pytest.approx(width(naive.intervals["accuracy"]), rel=0.15)


def test_seeded_and_deterministic():
    rng = np.random.default_rng(5)
    rows = mc_rows((rng.random(500) < 0.5).astype(int), [i // 5 for i in range(500)])
    a = stats.bootstrap(MC, rows, "strict", seed=0)
    b = stats.bootstrap(MC, rows, "strict", seed=0)
    c = stats.bootstrap(MC, rows, "strict", seed=1)
    assert a.intervals == b.intervals
    assert a.intervals != c.intervals
    assert "seed 1" in c.method and "1000 resamples" in c.method


def test_failed_rows_are_excluded_like_the_aggregate():
    rng = np.random.default_rng(6)
    correct = (rng.random(400) < 0.5).astype(int)
    failed = set(range(0, 400, 7))
    with_failed = stats.bootstrap(MC, mc_rows(correct, failed=failed), "strict")
    kept = [r for r in mc_rows(correct) if int(r[0].id) not in failed]
    without = stats.bootstrap(MC, kept, "strict")
    assert with_failed.values == without.values
    assert with_failed.values["accuracy"] == MC.aggregate(mc_rows(correct, failed=failed), "strict").metrics["accuracy"]
    assert with_failed.intervals == without.intervals
    assert with_failed.n_rows == 400 - len(failed)


def test_no_interval_without_a_value():
    rows = mc_rows([1, 0, 1], valid=[False, False, False])
    res = stats.bootstrap(MC, rows, "tarsier")  # every answer invalid: no accuracy under tarsier
    assert res.values["accuracy"] is None and res.intervals == {} and res.method is None
    assert stats.bootstrap(MC, [], "strict").intervals == {}


def _video_mme_like(n_videos=60, seed=8):
    rng = np.random.default_rng(seed)
    n = n_videos * 3
    correct = (rng.random(n) < 0.55).astype(int)
    valid = rng.random(n) > 0.08
    clusters = [i // 3 for i in range(n)]
    groups = [{"duration": ("short", "medium", "long")[(i // 3) % 3]} for i in range(n)]
    return mc_rows(correct, clusters, valid, groups)


def _mvbench_like(seed=9):
    rng = np.random.default_rng(seed)
    tasks = ["Action Sequence", "Object Shuffle", "Fine-grained Pose", "Empty Task"]
    sizes = [40, 25, 60, 5]
    correct, valid, groups = [], [], []
    for t, size in zip(tasks, sizes):
        for _ in range(size):
            correct.append(int(rng.random() < 0.5))
            valid.append(t != "Empty Task" and rng.random() > 0.1)  # "Empty Task" has no valid answer
            groups.append({"subtask": t})
    return mc_rows(correct, valid=valid, groups=groups)


def _rules_of(bench: str):
    """The protocol rules the benchmark declares (Video-MME drops videos, MVBench averages subtasks)."""
    return registry.benchmark(bench).rules


@pytest.mark.parametrize("protocol", ["strict", "tarsier"])
@pytest.mark.parametrize("make,bench", [(_video_mme_like, "video-mme"), (_mvbench_like, "mvbench")])
def test_fast_path_equals_the_generic_path(make, bench, protocol):
    rows = make()
    fast = stats.bootstrap(MultipleChoice().configure(_rules_of(bench)), rows, protocol, n_resamples=300)
    slow = stats.bootstrap(GenericMC().configure(_rules_of(bench)), rows, protocol, n_resamples=300)
    assert (fast.path, slow.path) == ("fast", "generic")
    assert fast.values == slow.values
    assert fast.intervals["accuracy"] == pytest.approx(slow.intervals["accuracy"], abs=1e-9)


def test_video_mme_tarsier_resamples_keep_whole_videos_out():
    rows = _video_mme_like()
    metric = registry.benchmark("video-mme").make_metric()
    agg = metric.aggregate(rows, "tarsier")
    assert agg.n_scored < len(rows) and agg.n_scored % 3 == 0  # whole videos dropped
    res = stats.bootstrap(metric, rows, "tarsier")
    assert res.values["accuracy"] == agg.metrics["accuracy"]
    lo, hi = res.intervals["accuracy"]
    assert lo < agg.metrics["accuracy"] < hi


def test_mvbench_tarsier_is_the_unweighted_subtask_mean_per_resample():
    rows = _mvbench_like()
    metric = registry.benchmark("mvbench").make_metric()
    agg = metric.aggregate(rows, "tarsier")
    subtask = [v["accuracy"] for k, v in agg.groups.items() if k.startswith("subtask=") and v["accuracy"] is not None]
    assert agg.metrics["accuracy"] == pytest.approx(sum(subtask) / len(subtask))
    assert len(subtask) == 3  # the subtask without a valid answer is left out
    res = stats.bootstrap(metric, rows, "tarsier")
    assert res.path == "fast" and res.values["accuracy"] == pytest.approx(agg.metrics["accuracy"])


class BrokenFastPath(MultipleChoice):
    """A fast path that disagrees with headline_values must not be trusted."""

    def per_sample_values(self, rows, protocol):
        return {"accuracy": np.zeros(len(ok_rows(rows)))}


def test_a_fast_path_that_disagrees_falls_back_to_the_generic_path():
    rows = mc_rows([1, 0, 1, 1] * 20)
    res = stats.bootstrap(BrokenFastPath(), rows, "strict", n_resamples=50)
    assert res.path == "generic" and res.values["accuracy"] == 75.0
    assert res.intervals["accuracy"][0] < 75.0 < res.intervals["accuracy"][1]


# -- a corpus-level metric: F1 from macro-averaged recall and precision (AutoDQ-like) ---------
class MacroF1(Metric):
    name = "macro_f1"
    headline = "f1"

    def aggregate(self, rows, protocol):
        rows = ok_rows(rows)
        subsets = sorted({s.dataset for s, _ in rows})
        rs, ps = [], []
        for sub in subsets:
            g = [sc for s, sc in rows if s.dataset == sub]
            rs.append(sum(sc.fields["recall"] for sc in g) / len(g))
            ps.append(sum(sc.fields["precision"] for sc in g) / len(g))
        if not rows:
            return Aggregate(metrics={"f1": None, "precision": None, "recall": None}, n_scored=0)
        r, p = sum(rs) / len(rs), sum(ps) / len(ps)
        f1 = 2 * r * p / (r + p) if r + p else 0.0
        return Aggregate(metrics={"f1": 100 * f1, "precision": 100 * p, "recall": 100 * r}, n_scored=len(rows))


class FastMacroF1(MacroF1):
    def per_sample_values(self, rows, protocol):
        rows = ok_rows(rows)
        subsets = np.array([s.dataset for s, _ in rows], dtype=object)
        out = {}
        for sub in sorted(set(subsets)):
            inside = subsets == sub
            out[f"recall|{sub}"] = np.where(inside, [sc.fields["recall"] for _, sc in rows], np.nan)
            out[f"precision|{sub}"] = np.where(inside, [sc.fields["precision"] for _, sc in rows], np.nan)
        return out

    def combine_means(self, means, protocol):
        r = np.nanmean(np.vstack([v for k, v in means.items() if k.startswith("recall|")]), axis=0)
        p = np.nanmean(np.vstack([v for k, v in means.items() if k.startswith("precision|")]), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(r + p > 0, 2 * r * p / (r + p), 0.0)
        return {"f1": 100 * f1, "precision": 100 * p, "recall": 100 * r}


def dream_like_rows(n=500, shift=0.0, seed=10):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        s = Sample(id=str(i), benchmark="t", idx=i, dataset=f"DREAM/{('a', 'b', 'c', 'd', 'e')[i % 5]}",
                   prompt="p", cluster=str(i))
        rec = float(np.clip(rng.beta(4, 4) + shift, 0, 1))
        prec = float(np.clip(rng.beta(5, 3) + shift, 0, 1))
        rows.append((s, SampleScore(sample_id=str(i), fields={"recall": rec, "precision": prec})))
    return rows


def test_corpus_metric_intervals_for_f1_precision_and_recall():
    rows = dream_like_rows()
    slow = stats.bootstrap(MacroF1(), rows, "tarsier", n_resamples=200)
    fast = stats.bootstrap(FastMacroF1(), rows, "tarsier", n_resamples=200)
    assert (slow.path, fast.path) == ("generic", "fast")
    assert set(slow.intervals) == {"f1", "precision", "recall"}
    for k in slow.intervals:
        assert slow.intervals[k] == pytest.approx(fast.intervals[k], abs=1e-9)
        assert slow.intervals[k][0] < slow.values[k] < slow.intervals[k][1]


# -- two runs ----------------------------------------------------------------------------------
def test_identical_runs_differ_by_exactly_zero_with_p_one():
    rng = np.random.default_rng(11)
    rows = mc_rows((rng.random(600) < 0.6).astype(int), [i // 6 for i in range(600)])
    for metric in (MC, GenericMC()):
        c = stats.paired_compare(metric, rows, rows, "strict", n_resamples=200 if metric is not MC else 1000)
        assert c.diff["accuracy"] == 0.0
        assert c.intervals["accuracy"] == (0.0, 0.0)
        assert c.p_values["accuracy"] == 1.0


def planted_pair(n=3000, planted=4.0, seed=12, per_video=3):
    """A at about 60%; B = A with planted/100 * n wrong answers turned right: B - A = planted exactly."""
    rng = np.random.default_rng(seed)
    a = (rng.random(n) < 0.6).astype(int)
    b = a.copy()
    wrong = np.flatnonzero(a == 0)
    b[rng.choice(wrong, size=int(round(planted / 100 * n)), replace=False)] = 1
    clusters = [i // per_video for i in range(n)]
    return mc_rows(a, clusters), mc_rows(b, clusters)


def test_planted_difference_is_detected_and_bracketed():
    rows_a, rows_b = planted_pair()
    c = stats.paired_compare(MC, rows_a, rows_b, "strict")
    assert c.diff["accuracy"] == pytest.approx(4.0)
    lo, hi = c.intervals["accuracy"]
    assert lo < 4.0 < hi and lo > 2.5 and hi < 5.5
    assert c.p_values["accuracy"] < 0.01
    assert c.n_common == 3000 and c.n_clusters == 1000
    reverse = stats.paired_compare(MC, rows_b, rows_a, "strict")
    assert reverse.diff["accuracy"] == pytest.approx(-4.0)
    assert reverse.intervals["accuracy"] == pytest.approx((-hi, -lo))


def test_no_difference_gives_a_high_p_value():
    rng = np.random.default_rng(13)
    n = 2000
    a = (rng.random(n) < 0.6).astype(int)
    b = a.copy()
    swap = rng.choice(n, size=200, replace=False)  # shuffle outcomes among 200 questions: same mean
    b[swap] = a[rng.permutation(swap)]
    c = stats.paired_compare(MC, mc_rows(a), mc_rows(b), "strict")
    assert c.diff["accuracy"] == pytest.approx(0.0)
    assert c.p_values["accuracy"] > 0.5
    assert c.intervals["accuracy"][0] <= 0 <= c.intervals["accuracy"][1]


def test_paired_fast_path_equals_generic_and_is_deterministic():
    rows_a, rows_b = planted_pair(n=300, planted=5.0)
    fast = stats.paired_compare(MC, rows_a, rows_b, "strict", n_resamples=300)
    slow = stats.paired_compare(GenericMC(), rows_a, rows_b, "strict", n_resamples=300)
    assert (fast.path, slow.path) == ("fast", "generic")
    assert fast.intervals["accuracy"] == pytest.approx(slow.intervals["accuracy"], abs=1e-9)
    assert fast.p_values == slow.p_values
    again = stats.paired_compare(MC, rows_a, rows_b, "strict", n_resamples=300)
    assert (again.intervals, again.p_values) == (fast.intervals, fast.p_values)
    assert "sign-flip" in fast.test_method and "seed 0" in fast.test_method


def test_paired_corpus_metric_detects_a_planted_shift():
    a, b = dream_like_rows(shift=0.0), dream_like_rows(shift=0.05)
    c = stats.paired_compare(MacroF1(), a, b, "tarsier", n_resamples=300)
    assert c.path == "generic"
    for k in ("f1", "precision", "recall"):
        assert 0 < c.diff[k] < 6 and c.p_values[k] < 0.01 and c.intervals[k][0] > 0


def test_paired_compare_needs_aligned_rows():
    rows_a, rows_b = planted_pair(n=30)
    with pytest.raises(ValueError):
        stats.paired_compare(MC, rows_a, rows_b[::-1], "strict")


# -- speed on the real NExT-QA annotations -------------------------------------------------------
def test_bootstrap_is_fast_on_nextqa():
    bench = registry.benchmark("next-qa")
    samples = bench.samples(bench.load_annotations(str(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl")))
    rng = np.random.default_rng(14)
    rows = [(s, SampleScore(sample_id=s.id, fields={"valid": True, "correct": bool(rng.random() < 0.7)}))
            for s in samples]
    res = stats.bootstrap(MC, rows, "strict")
    c = stats.paired_compare(MC, rows, rows, "strict")
    assert len(rows) == 4996 and res.n_clusters == 570 and c.n_clusters == 570
    # the vectorised path is taken (speed itself is measured outside tests: machines are noisy)
    assert res.path == "fast" and c.path == "fast"
