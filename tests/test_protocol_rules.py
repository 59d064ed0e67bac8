"""Protocol rules are declared by a benchmark, never inferred from the names of its grouping keys."""

from __future__ import annotations

import pytest

from harness import registry
from harness.metric import ProtocolRules
from harness.metrics.multiple_choice import MultipleChoice
from harness.types import Sample, SampleScore


def rows(spec):
    """spec: (group dict, video, outcome) with outcome 1 right, 0 wrong, None unparseable."""
    out = []
    for i, (groups, video, outcome) in enumerate(spec):
        s = Sample(id=str(i), benchmark="t", idx=i, dataset="t", prompt="p", answer="A", cluster=video,
                   groups=groups, options=["x", "y"])
        valid = outcome is not None
        out.append((s, SampleScore(sample_id=str(i), fields={"choice": "A" if outcome else ("B" if valid else None),
                                                              "valid": valid, "correct": bool(outcome)})))
    return out


# two subtasks of unequal size, and a video with one invalid answer among three questions
DATA = rows([({"subtask": "a", "duration": "short"}, "v1", 1), ({"subtask": "a", "duration": "short"}, "v1", None),
             ({"subtask": "a", "duration": "short"}, "v1", 1), ({"subtask": "a", "duration": "long"}, "v2", 0),
             ({"subtask": "b", "duration": "long"}, "v3", 1), ({"subtask": "b", "duration": "long"}, "v4", 1)])


def test_group_names_alone_change_nothing():
    """A benchmark that merely has keys called `subtask` and `duration` gets the pooled accuracy."""
    plain = MultipleChoice()
    agg = plain.aggregate(DATA, "tarsier")
    assert agg.metrics["accuracy"] == pytest.approx(100 * 4 / 5)  # valid answers only, pooled
    assert agg.n_scored == 6


def test_declared_rules_apply_under_their_protocol_only():
    rules = {"tarsier": ProtocolRules(mean_over="subtask", drop_video_if_invalid=True)}
    mc = MultipleChoice().configure(rules=rules)
    tarsier = mc.aggregate(DATA, "tarsier")
    # v1 dropped whole: a = [v2: 0] -> 0 %, b = 100 %; mean over subtasks = 50
    assert tarsier.metrics["accuracy"] == pytest.approx(50.0)
    assert tarsier.n_scored == 3
    strict = mc.aggregate(DATA, "strict")
    assert strict.metrics["accuracy"] == pytest.approx(100 * 4 / 6)


def test_builtin_declarations_name_their_rules():
    assert registry.benchmark("mvbench").rules["tarsier"] == ProtocolRules(mean_over="subtask")
    assert registry.benchmark("video-mme").rules["tarsier"] == ProtocolRules(drop_video_if_invalid=True)
    assert "strict" not in registry.benchmark("mvbench").rules
    for name in registry.builtin_names():
        if name not in ("mvbench", "video-mme"):
            assert not any(r.names() for r in registry.benchmark(name).rules.values()), name


def test_the_metric_gets_its_rules_from_the_benchmark():
    metric = registry.benchmark("mvbench").make_metric()
    assert metric.rule("tarsier").mean_over == "subtask" and metric.rule("strict").mean_over is None
