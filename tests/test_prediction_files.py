"""Bad predictions are named, never coerced: `null` is a missing prediction (not the text "None"),
a prediction that is not text is refused with its line, and two different predictions for one
sample are refused with the sample ids (identical repeats are harmless)."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, assert_one_line, harness_cli, read_jsonl, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.fixture
def ann(tmp_path):
    return write_jsonl(tmp_path / "ann.jsonl", read_jsonl(NEXTQA)[:6])


def _tarsier_preds(ann_path, path, values):
    rows = read_jsonl(ann_path)
    out = []
    for row, value in zip(rows, values):
        row = dict(row)
        row["text"] = {**row["text"], "prediction": value}
        out.append(row)
    return write_jsonl(path, out)


def _run(tmp_path, ann, preds, *extra):
    return harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--json", "--no-progress", "--max-failed", "1", *extra)


def _failed(tmp_path):
    """{sample id: reason} of the failed samples of the one scored run under tmp_path/runs."""
    (scores,) = (tmp_path / "runs").rglob("scores.jsonl")
    return {r["sample_id"]: r["reason"] for r in read_jsonl(scores) if r["status"] == "failed"}


def _answers(ann):
    return [r["text"]["response"] for r in read_jsonl(ann)]


def test_null_tarsier_prediction_is_a_missing_prediction(tmp_path, ann):
    values = _answers(ann)
    values[1] = None  # the model produced nothing for idx 1
    proc = _run(tmp_path, ann, _tarsier_preds(ann, tmp_path / "p.jsonl", values))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert (res["n_total"], res["n_scored"], res["n_failed"]) == (6, 5, 1)
    assert res["metrics"]["accuracy"] == 100.0  # the five real answers, all right; nothing read from "None"
    (reason,) = _failed(tmp_path).values()
    assert "null" in reason and "p.jsonl line 2" in reason, reason


def test_null_harness_prediction_is_a_missing_prediction(tmp_path, ann):
    answers = _answers(ann)
    recs = [{"sample_id": str(r["idx"]), "text": a} for r, a in zip(read_jsonl(ann), answers)]
    recs[2]["text"] = None
    preds = write_jsonl(tmp_path / "predictions.jsonl", recs)
    res = json.loads(_run(tmp_path, ann, preds).stdout)
    assert (res["n_scored"], res["n_failed"]) == (5, 1)
    assert _failed(tmp_path) == {recs[2]["sample_id"]: "prediction: missing: the prediction is null in "
                                                        "predictions.jsonl line 3"}


@pytest.mark.slow
@pytest.mark.parametrize("value", [3, ["A"], {"answer": "A"}, True])
def test_a_prediction_that_is_not_text_is_refused_with_its_line(tmp_path, ann, value):
    values = _answers(ann)
    values[3] = value
    proc = _run(tmp_path, ann, _tarsier_preds(ann, tmp_path / "p.jsonl", values))
    assert_one_line(proc, "p.jsonl:4", "prediction")
    assert not list((tmp_path / "runs").rglob("predictions.jsonl"))


def test_conflicting_duplicate_tarsier_lines_are_refused_with_the_ids(tmp_path, ann):
    values = _answers(ann)
    rows = read_jsonl(_tarsier_preds(ann, tmp_path / "p.jsonl", values))
    for k in (2, 4):
        dup = json.loads(json.dumps(rows[k]))
        dup["text"]["prediction"] = "Z" + dup["text"]["prediction"]  # a different answer for the same sample
        rows.append(dup)
    preds = write_jsonl(tmp_path / "p.jsonl", rows)
    line = assert_one_line(_run(tmp_path, ann, preds), "conflicting")
    idx = [str(r["idx"]) for r in read_jsonl(ann)]
    assert f"idx {idx[2]}" in line and f"idx {idx[4]}" in line, line
    assert not list((tmp_path / "runs").rglob("predictions.jsonl"))


def test_identical_duplicate_lines_are_accepted(tmp_path, ann):
    rows = read_jsonl(_tarsier_preds(ann, tmp_path / "p.jsonl", _answers(ann)))
    preds = write_jsonl(tmp_path / "p.jsonl", rows + rows[:2])
    proc = _run(tmp_path, ann, preds)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert (res["n_scored"], res["n_failed"], res["metrics"]["accuracy"]) == (6, 0, 100.0)


@pytest.mark.slow
def test_conflicting_harness_records_are_refused_but_a_retry_after_an_error_is_not(tmp_path, ann):
    answers = _answers(ann)
    ids = [str(r["idx"]) for r in read_jsonl(ann)]
    recs = [{"sample_id": i, "text": a} for i, a in zip(ids, answers)]
    # our own log: a failed attempt, then the retry that succeeded: one prediction, not a conflict
    retried = [{"sample_id": ids[0], "error": "api: timeout"}] + recs
    res = json.loads(_run(tmp_path, ann, write_jsonl(tmp_path / "a.jsonl", retried)).stdout)
    assert (res["n_scored"], res["n_failed"]) == (6, 0)
    clash = recs + [{"sample_id": ids[5], "text": "Q"}]
    assert_one_line(_run(tmp_path, ann, write_jsonl(tmp_path / "b.jsonl", clash)), "conflicting", ids[5])


@pytest.mark.slow
def test_a_run_log_with_two_different_answers_for_one_sample_is_refused(tmp_path, ann):
    """Two writers in one run folder once could leave this behind; scoring it would pick one silently."""
    preds = _tarsier_preds(ann, tmp_path / "p.jsonl", _answers(ann))
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--stage", "generate", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    (log,) = (tmp_path / "runs").rglob("predictions.jsonl")
    first = json.loads(log.read_text().splitlines()[0])
    with log.open("a") as fh:
        fh.write(json.dumps({**first, "text": "E"}) + "\n")
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--no-progress")
    assert_one_line(proc, "conflicting", first["sample_id"], str(log))
