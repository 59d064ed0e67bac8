"""Bad gold data is refused, never scored: one line naming file, line and field, exit 2.

A missing, empty or out-of-range answer would be scored as a wrong answer, a DREAM reference that
is a list or a dict as precision 0, an idx `true` would match the prediction of idx 1.
"""

from __future__ import annotations

import copy
import json

import pytest

from conftest import ANNOTATIONS, assert_one_line, harness_cli, read_jsonl, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
DREAM_MESSAGES = ANNOTATIONS / "DREAM-1k.messages.jsonl"


def _broken(rows, line, change):
    rows = copy.deepcopy(rows)
    change(rows[line - 1])
    return rows


def _assistant(row):
    return next(m for m in row["messages"] if m["role"] == "assistant")["content"][-1]


NEXTQA_CASES = {  # line 3 of five real NExT-QA rows, broken in one field
    "missing answer": (lambda r: r["text"].pop("response"), "text.response", "missing"),
    "null answer": (lambda r: r["text"].update(response=None), "text.response", "missing"),
    "empty answer": (lambda r: r["text"].update(response=" "), "text.response", "empty"),
    "answer beyond the options": (lambda r: r["text"].update(response="F"), "text.response", "out of range"),
    "answer that is no letter": (lambda r: r["text"].update(response="Apple"), "text.response", "not an option letter"),
    "answer that is a list": (lambda r: r["text"].update(response=["A"]), "text.response", "a list"),
    "idx true": (lambda r: r.update(idx=True), "idx", "not true"),
    "idx a float": (lambda r: r.update(idx=1.5), "idx", "not 1.5"),
    "idx an object": (lambda r: r.update(idx={"n": 1}), "idx", "not a dict"),
}


def _run(ann, bench, preds, out):
    return harness_cli("run", "--model", f"file:{preds}", "--bench", bench, "--annotations", str(ann),
                       "--out", str(out), "--json", "--no-progress")


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(NEXTQA_CASES))
def test_multiple_choice_gold_is_refused(tmp_path, case):
    change, field, problem = NEXTQA_CASES[case]
    rows = read_jsonl(NEXTQA)[:5]
    ann = write_jsonl(tmp_path / "ann.jsonl", _broken(rows, 3, change))
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "B"}} for r in rows])
    proc = _run(ann, "next-qa", preds, tmp_path / "runs")
    assert_one_line(proc, f"ann.jsonl:3: {field}:", problem)
    assert not (tmp_path / "runs").exists()  # refused before any work


def test_true_idx_does_not_match_the_prediction_of_idx_1(tmp_path):
    rows = read_jsonl(NEXTQA)[:3]
    rows[0]["idx"], rows[1]["idx"] = True, 1  # would collide with idx 1 if read as a number
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "A"}} for r in rows])
    proc = _run(ann, "next-qa", preds, tmp_path / "runs")
    assert proc.returncode == 2 and "ann.jsonl:1: idx: must be an integer or a string, not true" in proc.stderr


DREAM_CASES = {
    "missing reference": (lambda r: r["text"].pop("response"), "text.response", "missing"),
    "null reference": (lambda r: r["text"].update(response=None), "text.response", "missing"),
    "list reference": (lambda r: r["text"].update(response=["a", "b"]), "text.response", "not a list"),
    "dict reference": (lambda r: r["text"].update(response={"a": 1}), "text.response", "not a dict"),
    "events a string": (lambda r: r["extra_info"].update(events="A man runs."), "extra_info.events",
                        "list of strings"),
    "events of numbers": (lambda r: r["extra_info"].update(events=[1, 2]), "extra_info.events", "list of strings"),
    "events null": (lambda r: r["extra_info"].update(events=None), "extra_info.events", "not null"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(DREAM_CASES))
def test_dream_gold_is_refused_before_the_judge(tmp_path, case):
    """No judge is configured: the refusal comes first, from the annotations alone."""
    change, field, problem = DREAM_CASES[case]
    rows = read_jsonl(DREAM)[:4]
    ann = write_jsonl(tmp_path / "ann.jsonl", _broken(rows, 2, change))
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "x"}} for r in rows])
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--stage", "generate", "--no-progress")
    assert_one_line(proc, f"ann.jsonl:2: {field}:", problem)


@pytest.mark.slow
@pytest.mark.parametrize("reference", ["drop", None, ["a"], {"a": 1}])
def test_messages_row_without_a_usable_reference(tmp_path, reference):
    rows = read_jsonl(DREAM_MESSAGES)[:3]
    slot = _assistant(rows[1])
    if reference == "drop":
        slot.pop("reference")
    else:
        slot["reference"] = reference
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{"sample_id": "1", "text": "x"}])
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(ann),
                       "--stage", "generate", "--out", str(tmp_path / "runs"), "--no-progress")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "ann.jsonl:2: reference (the assistant item's):" in lines[0], lines[0]


def test_a_blank_line_does_not_shift_the_line_named(tmp_path):
    rows = read_jsonl(NEXTQA)[:3]
    rows[2]["text"]["response"] = "Z"
    path = tmp_path / "ann.jsonl"
    path.write_text(json.dumps(rows[0]) + "\n\n" + json.dumps(rows[1]) + "\n" + json.dumps(rows[2]) + "\n")
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "A"}} for r in rows])
    proc = _run(path, "next-qa", preds, tmp_path / "runs")
    assert proc.returncode == 2 and "ann.jsonl:4: text.response: 'Z' is out of range" in proc.stderr


@pytest.mark.slow
def test_sound_gold_in_every_accepted_spelling(tmp_path):
    """'(B)', '(B) text' and 'B. text' are read as B, as Tarsier's scorer reads them."""
    rows = read_jsonl(NEXTQA)[:3]
    for r, spelled in zip(rows, ["(B)", "(B) tap their feet", "B. tap"]):
        r["text"]["response"] = spelled
    ann = write_jsonl(tmp_path / "ann.jsonl", rows)
    preds = write_jsonl(tmp_path / "p.jsonl", [{**r, "text": {**r["text"], "prediction": "B"}} for r in rows])
    proc = _run(ann, "next-qa", preds, tmp_path / "runs")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metrics"]["accuracy"] == 100.0
