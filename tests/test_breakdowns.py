"""Breakdowns: Video-MME by duration / domain / sub-category / task type (on the real annotations),
MVBench by subtask, NExT-QA (no question type in the annotation: no breakdown, none advertised),
EgoSchema subset."""

from __future__ import annotations

import json
import zlib
from collections import defaultdict

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions, write_jsonl
from harness import registry

VIDEO_MME = ANNOTATIONS / "Video-MME.jsonl"
NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
EGOSCHEMA = ANNOTATIONS / "EgoSchema_subset.jsonl"
GROUP_KEYS = ("duration", "domain", "sub_category", "task_type")


def _predict(i: int, row: dict) -> str:
    """Deterministic: about 3% unparseable, 55% right, the rest a wrong letter."""
    h = zlib.crc32(f"vmme{i}".encode()) % 100
    if h < 3:
        return "unsure"  # lower-case first character: unparseable
    answer = row["text"]["response"]
    return answer if h < 58 else "ABCD"[("ABCD".index(answer) + 1 + h % 3) % 4]


def _run_json(*args: str) -> dict:
    proc = harness_cli("run", "--no-progress", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _expected(rows: list[dict], preds: list[str], protocol: str):
    """Accuracy overall and per group, computed straight from the annotation lines."""
    valid = [p[0] in "ABCD" for p in preds]
    correct = [p[0] == r["text"]["response"] for p, r in zip(preds, rows)]
    keep = list(range(len(rows)))
    if protocol == "tarsier":  # one invalid answer removes every question of that video
        bad = {rows[i]["vid"] for i in keep if not valid[i]}
        keep = [i for i in keep if rows[i]["vid"] not in bad]
    groups = defaultdict(list)
    for i in keep:
        for key in GROUP_KEYS:
            groups[f"{key}={rows[i]['extra_info'][key]}"].append(i)
    acc = lambda idx: 100 * sum(correct[i] for i in idx) / len(idx)  # noqa: E731
    return acc(keep), {g: (acc(idx), len(idx)) for g, idx in groups.items()}, len(keep), sum(not v for v in valid)


@pytest.fixture(scope="module")
def video_mme(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("vmme")
    rows = read_jsonl(VIDEO_MME)
    preds = [_predict(i, r) for i, r in enumerate(rows)]
    path = tarsier_predictions(VIDEO_MME, tmp / "p.jsonl", lambda i, r: preds[i])
    base = ["--model", f"file:{path}", "--bench", "video-mme", "--annotations", str(VIDEO_MME), "--out", str(tmp / "r")]
    return rows, preds, {p: _run_json(*base, "--protocol", p) for p in ("strict", "tarsier")}


def test_video_mme_annotation_carries_every_breakdown_key():
    rows = read_jsonl(VIDEO_MME)
    assert len(rows) == 2700
    assert all(set(GROUP_KEYS) <= set(r["extra_info"]) for r in rows)
    bench = registry.benchmark("video-mme")
    samples = bench.samples(bench.load_annotations(str(VIDEO_MME)))
    assert all(set(s.groups) == set(GROUP_KEYS) for s in samples)
    durations = defaultdict(int)
    for s in samples:
        durations[s.groups["duration"]] += 1
    assert dict(durations) == {"short": 900, "medium": 900, "long": 900}


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["strict", "tarsier"])
def test_video_mme_breakdowns_match_the_annotations(video_mme, protocol):
    rows, preds, results = video_mme
    res = results[protocol]
    overall, groups, n_kept, n_invalid = _expected(rows, preds, protocol)
    assert n_invalid > 20  # the data exercises the drop rule
    assert res["metrics"]["accuracy"] == pytest.approx(overall)
    assert res["n_invalid"] == n_invalid
    assert set(res["groups"]) == set(groups)
    for name, (acc, n) in groups.items():
        assert res["groups"][name]["accuracy"] == pytest.approx(acc), name
        assert res["groups"][name]["n"] == n, name
    keys = {g.split("=", 1)[0] for g in res["groups"]}
    assert keys == set(GROUP_KEYS)
    assert {g for g in res["groups"] if g.startswith("duration=")} == \
        {"duration=short", "duration=medium", "duration=long"}
    assert len([g for g in res["groups"] if g.startswith("domain=")]) == 6
    if protocol == "tarsier":
        assert res["n_scored"] == n_kept and n_kept % 3 == 0 and n_kept < 2700
        for d in ("short", "medium", "long"):  # per duration: whole videos only
            assert res["groups"][f"duration={d}"]["n"] % 3 == 0
    else:
        assert res["n_scored"] == 2700


@pytest.mark.slow
def test_video_mme_interval_is_clustered_by_video(video_mme):
    _, _, results = video_mme
    for res in results.values():
        lo, hi = res["intervals"]["accuracy"]
        assert lo < res["metrics"]["accuracy"] < hi
        # tarsier's dropped videos are drawn too; they just do not count, as in the aggregate
        assert res["interval_method"] == "bootstrap-percentile 95%, 1000 resamples, seed 0, clustered by video (900 videos)"


@pytest.mark.slow
def test_mvbench_per_subtask(tmp_path):
    tasks = {"Action Sequence": [1, 1, 0, 0], "Object Shuffle": [1, 0, 0, 0, 0, 0, 0, 0],
             "Unexpected Action": [None, None]}  # 1 right, 0 wrong, None unparseable
    rows = []
    for task, outcomes in tasks.items():
        for idx, outcome in enumerate(outcomes):
            rows.append({"idx": idx, "dataset": f"MVBench/{task}", "vid": f"{task}_{idx}.mp4",
                         "video_file": "<placeholder>",
                         "text": {"prompt": "USER: <video> Q?\n(A) x\n(B) y\nASSISTANT: Answer: (", "response": "A",
                                  "prediction": {1: "A", 0: "B", None: "hmm"}[outcome]}})
    ann = write_jsonl(tmp_path / "mvbench.jsonl",
                      [{**r, "text": {k: v for k, v in r["text"].items() if k != "prediction"}} for r in rows])
    preds = write_jsonl(tmp_path / "preds.jsonl", rows)
    base = ["--model", f"file:{preds}", "--bench", "mvbench", "--annotations", str(ann), "--out", str(tmp_path / "r")]
    strict = _run_json(*base)
    tarsier = _run_json(*base, "--protocol", "tarsier")
    assert strict["metrics"]["accuracy"] == pytest.approx(100 * 3 / 14)  # pooled; unparseable = wrong
    assert tarsier["metrics"]["accuracy"] == pytest.approx((50.0 + 12.5) / 2)  # unweighted, valid subtasks only
    assert strict["groups"]["subtask=Action Sequence"] == {"accuracy": 50.0, "n": 4}
    assert strict["groups"]["subtask=Object Shuffle"] == {"accuracy": 12.5, "n": 8}
    assert strict["groups"]["subtask=Unexpected Action"] == {"accuracy": 0.0, "n": 2}
    assert tarsier["groups"]["subtask=Unexpected Action"]["accuracy"] is None
    for res in (strict, tarsier):
        lo, hi = res["intervals"]["accuracy"]
        assert lo <= res["metrics"]["accuracy"] <= hi


@pytest.mark.slow
def test_nextqa_has_no_question_type_so_no_breakdown(tmp_path):
    rows = read_jsonl(NEXTQA)
    # The Tarsier NExT-QA file carries no question type (causal / temporal / descriptive), so
    # none is inferred (e.g. from "why"/"how" in the question): NExT-QA has no breakdown.
    assert not any("type" in r or "type" in r["text"] or "type" in (r.get("extra_info") or {}) for r in rows)
    bench = registry.benchmark("next-qa")
    assert all(s.groups == {} for s in bench.samples(bench.load_annotations(str(NEXTQA))))
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    res = _run_json("--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
                    "--limit", "40", "--out", str(tmp_path / "r"))
    assert res["groups"] == {} and res["metrics"]["accuracy"] == 100.0


@pytest.mark.slow
def test_nextqa_advertises_no_grouping_the_file_cannot_provide(tmp_path):
    """The annotation file has no question type, so `harness list benchmarks` promises none; a file
    that does carry a type is not grouped by it either (no half-supported breakdown)."""
    listed = harness_cli("list", "benchmarks")
    assert listed.returncode == 0, listed.stderr
    line = next(l for l in listed.stdout.splitlines() if l.startswith("next-qa "))
    assert "type" not in line
    assert not registry.benchmark("next-qa").groups
    rows = read_jsonl(NEXTQA)[:20]
    for i, r in enumerate(rows):
        r["extra_info"] = {"type": "CW" if i < 10 else "TN"}
    ann = write_jsonl(tmp_path / "a.jsonl", rows)
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    res = _run_json("--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                    "--out", str(tmp_path / "r"))
    assert res["groups"] == {}


def test_egoschema_result_says_subset(tmp_path):
    preds = tarsier_predictions(EGOSCHEMA, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    res = _run_json("--model", f"file:{preds}", "--bench", "egoschema", "--annotations", str(EGOSCHEMA),
                    "--limit", "10", "--out", str(tmp_path / "r"))
    assert "subset" in res["extra"]["note"] and "500" in res["extra"]["note"]
    assert registry.benchmark("egoschema").split == "subset"
