"""`harness compare` on real runs made through `harness run --model file:P` on NExT-QA."""

from __future__ import annotations

import json
import shutil
import zlib

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
EGOSCHEMA = ANNOTATIONS / "EgoSchema_subset.jsonl"
N_PLANTED = 200  # wrong answers of A that B gets right


def _wrong(letter: str) -> str:
    return "ABCDE"[("ABCDE".index(letter) + 1) % 5]


def _a_prediction(i: int, row: dict) -> str:
    h = zlib.crc32(f"a{i}".encode()) % 100
    if h < 2:
        return "no idea"  # invalid under the Tarsier parser
    return row["text"]["response"] if h < 62 else _wrong(row["text"]["response"])


def _run(*args: str) -> None:
    proc = harness_cli("run", "--no-progress", *args)
    assert proc.returncode in (0, 1), proc.stderr


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert "\n" not in err and err.startswith("harness: "), err
    for needle in needles:
        assert needle in err, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compare")
    out = tmp / "runs"
    rows = read_jsonl(NEXTQA)
    a_preds = [_a_prediction(i, r) for i, r in enumerate(rows)]
    wrong = [i for i, (p, r) in enumerate(zip(a_preds, rows)) if p in "ABCDE" and p != r["text"]["response"]]
    fixed = set(wrong[::3][:N_PLANTED])
    a = tarsier_predictions(NEXTQA, tmp / "a.jsonl", lambda i, r: a_preds[i])
    b = tarsier_predictions(NEXTQA, tmp / "b.jsonl",
                            lambda i, r: r["text"]["response"] if i in fixed else a_preds[i])
    base = ["--bench", "next-qa", "--annotations", str(NEXTQA), "--out", str(out)]
    for model in (a, b):
        for protocol in ("strict", "tarsier"):
            _run("--model", f"file:{model}", *base, "--protocol", protocol)
    return {"tmp": tmp, "out": out, "a": next((out / "file_a" / "next-qa").iterdir()),
            "b": next((out / "file_b" / "next-qa").iterdir()), "n": len(rows)}


def _compare(*args: str) -> dict:
    proc = harness_cli("compare", *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_every_result_carries_a_clustered_interval(runs):
    for protocol_dir in (runs["a"] / "scores").iterdir():
        res = json.loads((protocol_dir / "result.json").read_text())
        lo, hi = res["intervals"]["accuracy"]
        assert lo < res["metrics"]["accuracy"] < hi and hi - lo < 5
        assert res["interval_method"] == \
            "bootstrap-percentile 95%, 1000 resamples, seed 0, clustered by video (570 videos)"


@pytest.mark.slow
def test_identical_runs(runs):
    out = _compare(str(runs["a"]), str(runs["a"]), "--protocol", "strict")
    (c,) = out["comparisons"]
    acc = c["metrics"]["accuracy"]
    assert acc["diff"] == 0.0 and acc["interval"] == [0.0, 0.0] and acc["p_value"] == 1.0
    assert acc["p_text"] == "p = 1"
    assert c["n_common"] == runs["n"] and c["n_clusters"] == 570


@pytest.mark.slow
def test_planted_difference(runs):
    out = _compare(str(runs["a"]), str(runs["b"]), "--protocol", "strict")
    (c,) = out["comparisons"]
    acc = c["metrics"]["accuracy"]
    planted = 100 * N_PLANTED / runs["n"]
    assert acc["diff"] == pytest.approx(planted)
    assert acc["b"] - acc["a"] == pytest.approx(planted)
    lo, hi = acc["interval"]
    assert lo < planted < hi and lo > 0
    assert acc["p_value"] < 0.01
    # no permutation was as extreme: the test's resolution is 1/1000, so "p < 0.001", not 0.000999
    assert acc["p_value"] == pytest.approx(1 / 1001) and acc["p_text"] == "p < 0.001"
    text = harness_cli("compare", str(runs["a"]), str(runs["b"]), "--protocol", "strict").stdout
    line = next(l for l in text.splitlines() if l.strip().startswith("accuracy"))
    assert line.endswith("p < 0.001") and "0.000999" not in text
    assert (c["benchmark"], c["protocol"], c["n_common"], c["n_scored_a"], c["n_scored_b"], c["n_total_a"]) == \
        ("next-qa", "strict", runs["n"], runs["n"], runs["n"], runs["n"])
    assert "paired bootstrap-percentile 95%, 1000 resamples, seed 0" in c["interval_method"]
    assert c["test_method"].startswith("sign-flip permutation test over videos, two-sided, 1000 permutations, seed 0")
    # seeded: the same numbers every time
    assert _compare(str(runs["a"]), str(runs["b"]), "--protocol", "strict") == out


@pytest.mark.slow
def test_readable_table(runs):
    proc = harness_cli("compare", str(runs["a"]), str(runs["b"]), "--protocol", "tarsier")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "next-qa (multiple_choice, protocol tarsier): B - A on 4996 common samples (570 videos); " \
        "scored A 4996 of 4996, B 4996 of 4996" in text
    assert "95% interval" in text and "accuracy" in text and "p-value: sign-flip" in text
    line = next(l for l in text.splitlines() if l.strip().startswith("accuracy"))
    assert "+" in line and "[" in line


@pytest.mark.slow
def test_model_folders_are_compared_per_benchmark(runs):
    out = _compare(str(runs["out"] / "file_a"), str(runs["out"] / "file_b"), "--protocol", "tarsier")
    assert [c["benchmark"] for c in out["comparisons"]] == ["next-qa"]
    assert out["comparisons"][0]["metrics"]["accuracy"]["diff"] > 0


@pytest.mark.slow
def test_both_protocols_present_is_ambiguous(runs):
    _one_line_error(harness_cli("compare", str(runs["a"]), str(runs["b"])), "--protocol", "strict", "tarsier")


@pytest.mark.slow
def test_bad_inputs_are_one_line(runs):
    tmp = runs["tmp"]
    _one_line_error(harness_cli("compare", str(tmp / "nope"), str(runs["b"])), "not a run directory")
    (tmp / "empty").mkdir(exist_ok=True)
    _one_line_error(harness_cli("compare", str(tmp / "empty"), str(runs["b"])), "not a run directory")
    ego = tarsier_predictions(EGOSCHEMA, tmp / "ego.jsonl", lambda i, r: r["text"]["response"])
    _run("--model", f"file:{ego}", "--bench", "egoschema", "--annotations", str(EGOSCHEMA), "--limit", "20",
         "--out", str(tmp / "ego_runs"))
    ego_run = next((tmp / "ego_runs" / "file_ego" / "egoschema").iterdir())
    _one_line_error(harness_cli("compare", str(runs["a"]), str(ego_run)), "different benchmarks", "next-qa", "egoschema")


@pytest.mark.slow
def test_partial_and_no_overlap(runs):
    tmp = runs["tmp"]
    rows = read_jsonl(NEXTQA)
    later = [dict(r, text={**r["text"], "prediction": r["text"]["response"]}) for r in rows[100:200]]
    p = write_jsonl(tmp / "later.jsonl", later)
    out = tmp / "partial"
    _run("--model", f"file:{p}", "--bench", "next-qa", "--annotations", str(NEXTQA), "--limit", "200", "--out", str(out))
    _run("--model", f"file:{p}", "--bench", "next-qa", "--annotations", str(NEXTQA), "--limit", "100", "--out", str(out))
    by_limit = {json.loads((d / "spec.json").read_text())["limit"]: d for d in (out / "file_later" / "next-qa").iterdir()}
    res = _compare(str(runs["a"]), str(by_limit[200]), "--protocol", "strict")
    c = res["comparisons"][0]
    assert (c["n_common"], c["n_scored_a"], c["n_total_a"], c["n_scored_b"], c["n_total_b"]) == (100, 4996, 4996, 100, 200)
    assert c["metrics"]["accuracy"]["b"] == 100.0
    _one_line_error(harness_cli("compare", str(by_limit[200]), str(by_limit[100])), "no sample is scored successfully in both")


@pytest.mark.slow
def test_annotations_moved_since_the_run(runs):
    tmp = runs["tmp"]
    copy = tmp / "moved" / NEXTQA.name
    copy.parent.mkdir()
    shutil.copy(NEXTQA, copy)
    preds = tarsier_predictions(NEXTQA, tmp / "m.jsonl", _a_prediction)
    _run("--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(copy), "--limit", "50",
         "--out", str(tmp / "mruns"))
    run_dir = next((tmp / "mruns" / "file_m" / "next-qa").iterdir())
    copy.unlink()
    _one_line_error(harness_cli("compare", str(run_dir), str(run_dir)), "--annotations")
    out = _compare(str(run_dir), str(run_dir), "--annotations", str(NEXTQA))
    assert out["comparisons"][0]["n_common"] == 50
    wrong_file = harness_cli("compare", str(run_dir), str(run_dir), "--annotations", str(EGOSCHEMA))
    _one_line_error(wrong_file)
