"""Fuzzing annotation and prediction lines (hypothesis): whatever a file holds, `harness run` gives a
score or one line naming what to fix (exit 2). Never a traceback, never a silently wrong score.

Prediction files are checked against an exact oracle: the answers that are letters are scored
as the parser reads them, null and absent ones are failed samples, and anything else (a value
that is not text, two different answers for one sample, a line that is not a prediction) is a
refusal. Annotation files are checked for the one-line property; whether a wrong field type is
refused rather than scored is the benchmark declarations' part (issue 12, item 1).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ANNOTATIONS, read_jsonl
from harness.cli import main

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
ROWS = read_jsonl(NEXTQA)[:6]
ANSWERS = [r["text"]["response"] for r in ROWS]
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10)
def _one_line_of(s):
    return s.map(lambda b: b.replace(b"\n", b" ")).filter(lambda b: b.strip() != b"")


# a line that is not a JSON object: bytes, text, a JSON value of another type
not_objects = _one_line_of(st.one_of(
    st.binary(min_size=1, max_size=60),
    st.text(max_size=60).map(lambda t: t.encode("utf-8")),
    json_values.filter(lambda v: not isinstance(v, dict)).map(lambda v: json.dumps(v).encode()),
))
# ... or an object with some of the keys a line has
junk_lines = not_objects | st.dictionaries(st.sampled_from(["idx", "dataset", "text", "vid", "x"]), json_values,
                                           max_size=3).map(lambda d: json.dumps(d).encode())

# What one sample's prediction lines are: (kind, value). Scored or missing:
ok_plans = st.one_of(
    st.tuples(st.just("letter"), st.sampled_from("ABCDE")),
    st.tuples(st.just("null"), st.none()),
    st.tuples(st.just("absent"), st.none()),
    st.tuples(st.just("same twice"), st.sampled_from("ABCDE")),
)
# ... or refused (one sample's is enough)
refused_plans = st.one_of(
    st.tuples(st.just("not text"), json_values.filter(lambda v: v is not None and not isinstance(v, str))),
    st.tuples(st.just("two answers"), st.tuples(st.sampled_from("ABCDE"), st.sampled_from("ABCDE"))
              .filter(lambda ab: ab[0] != ab[1])),
)
# a file: six plans, then at most one spoiler (a refused plan for one sample, or a junk line)
spoilers = st.one_of(st.none(), st.tuples(st.integers(0, len(ROWS) - 1), refused_plans), junk_lines)


def _cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def _line(fmt: str, row: dict, value) -> bytes:
    if fmt == "harness":
        return json.dumps({"sample_id": str(row["idx"]), "text": value}).encode()
    return json.dumps({"dataset": row["dataset"], "idx": row["idx"], "text": {"prediction": value}}).encode()


def _assert_one_line(code: int, err: str, *needles: str) -> None:
    assert code == 2, (code, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("harness: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@FUZZ
@given(fmt=st.sampled_from(["tarsier", "harness"]), plans=st.lists(ok_plans, min_size=6, max_size=6),
       spoiler=spoilers, order=st.randoms(use_true_random=False))
@pytest.mark.slow
def test_prediction_lines_give_the_exact_score_or_one_line(fmt, plans, spoiler, order):
    junk = spoiler if isinstance(spoiler, bytes) else None
    if isinstance(spoiler, tuple):
        plans[spoiler[0]] = spoiler[1]
    lines: list[bytes] = []
    refuse = junk is not None
    correct = n_ok = n_missing = 0
    for row, answer, (kind, value) in zip(ROWS, ANSWERS, plans):
        if kind == "letter":
            lines.append(_line(fmt, row, value))
            n_ok += 1
            correct += value == answer
        elif kind == "same twice":
            lines += [_line(fmt, row, value)] * 2
            n_ok += 1
            correct += value == answer
        elif kind == "null":
            lines.append(_line(fmt, row, None))
            n_missing += 1
        elif kind == "absent":
            n_missing += 1
        else:  # not text, two answers: the file is refused
            lines += [_line(fmt, row, v) for v in (value if kind == "two answers" else [value])]
            refuse = True
    if junk is not None:
        lines.append(junk)
    order.shuffle(lines)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ann = tmp / "ann.jsonl"
        ann.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
        preds = tmp / "preds.jsonl"
        preds.write_bytes(b"\n".join(lines) + b"\n")
        code, out, err = _cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                              "--out", str(tmp / "runs"), "--json", "--no-progress", "--max-failed", "1")
        if refuse:
            _assert_one_line(code, err, "preds.jsonl")
            assert not list((tmp / "runs").rglob("predictions.jsonl"))
            return
        assert code == 0, err
        res = json.loads(out)
        assert (res["n_total"], res["n_scored"], res["n_failed"], res["n_invalid"]) == (6, n_ok, n_missing, 0)
        expected = None if n_ok == 0 else 100.0 * correct / n_ok
        assert res["metrics"]["accuracy"] == pytest.approx(expected) if expected is not None else \
            res["metrics"]["accuracy"] is None


@pytest.mark.slow
@FUZZ
@given(where=st.integers(0, len(ROWS) - 1), junk=not_objects)
def test_an_annotation_line_that_is_not_an_object_is_one_line(where, junk):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lines = [json.dumps(r).encode() for r in ROWS]
        lines[where] = junk
        ann = tmp / "ann.jsonl"
        ann.write_bytes(b"\n".join(lines) + b"\n")
        preds = tmp / "preds.jsonl"
        preds.write_text("".join(_line("tarsier", r, "A").decode() + "\n" for r in ROWS))
        code, out, err = _cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                              "--out", str(tmp / "runs"), "--json", "--no-progress", "--max-failed", "1")
        if _is_json_object(junk):
            assert code in (0, 2), err  # "{}": an object after all; the benchmark judges its fields
        else:
            _assert_one_line(code, err, f"ann.jsonl:{where + 1}:")


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False


FIELDS = ["idx", "dataset", "text", "vid", "video_file", "extra_info", "text.prompt", "text.response",
          "text.question"]


@FUZZ
@given(where=st.integers(0, len(ROWS) - 1), field=st.sampled_from(FIELDS), value=json_values,
       delete=st.booleans())
@pytest.mark.slow
def test_annotation_fields_of_any_type_give_a_score_or_one_line(where, field, value, delete):
    rows = json.loads(json.dumps(ROWS))
    target, _, key = field.rpartition(".")
    obj = rows[where][target] if target else rows[where]
    if isinstance(obj, dict):
        if delete:
            obj.pop(key, None)
        else:
            obj[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ann = tmp / "ann.jsonl"
        ann.write_text("".join(json.dumps(r) + "\n" for r in rows))
        preds = tmp / "preds.jsonl"
        preds.write_text("".join(_line("tarsier", r, "A").decode() + "\n" for r in ROWS))
        code, out, err = _cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                              "--out", str(tmp / "runs"), "--json", "--no-progress", "--max-failed", "1")
        assert code in (0, 2), err
        if code == 2:
            _assert_one_line(code, err, "ann.jsonl")
