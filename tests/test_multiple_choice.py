"""Multiple-choice scoring end to end on the real NExT-QA, EgoSchema and Video-MME annotations."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions
from harness.metrics.multiple_choice import parse_choice

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.mark.parametrize(
    "text,expected",
    [("A", "A"), ("(C) strum the string", "C"), ("  (B)", "B"), ("1", "B"), ("5", None), ("0", None),
     ("", None), ("()", None), ("the answer is A", None), ("I think", "I"), ("E.", "E"), ("4", "E")],
)
def test_tarsier_parser(text, expected):
    # "5" maps to chr(5 + 65) = "F", a letter: valid but wrong for 5-way questions.
    if text == "5":
        expected = "F"
    assert parse_choice(text) == expected


def _sixty_thirty_ten(i, row):
    answer = row["text"]["response"]
    k = i % 10
    if k < 6:
        return answer + ") " + "because"
    if k < 9:
        return "ABCDE"[("ABCDE".index(answer) + 1) % 5]
    return "no idea"  # garbage: not a letter -> invalid


@pytest.mark.slow
def test_nextqa_strict_and_tarsier(tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", _sixty_thirty_ten)
    out = tmp_path / "runs"
    common = ["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
              "--limit", "1000", "--out", str(out), "--json", "--no-progress"]
    strict = harness_cli(*common)
    assert strict.returncode == 0, strict.stderr
    res = json.loads(strict.stdout)
    assert res["metrics"]["accuracy"] == pytest.approx(60.0)
    assert (res["n_total"], res["n_scored"], res["n_failed"], res["n_invalid"]) == (1000, 1000, 0, 100)
    assert res["protocol"] == "strict" and res["benchmark"] == "next-qa"
    assert res["n_benchmark"] == 4996  # --limit 1000 cut the run: the result says so

    # a partial run is never shown as complete: coverage counts the whole benchmark
    from harness.results import from_result
    from harness.types import Result

    record = from_result(Result.model_validate(res), run="r")
    assert (record.n_scored, record.n_total) == (1000, 4996)
    assert "partial run: 1000 of 4996 samples (--limit)" in record.notes

    tarsier = harness_cli(*common, "--protocol", "tarsier")
    assert tarsier.returncode == 0, tarsier.stderr
    res_t = json.loads(tarsier.stdout)
    assert round(res_t["metrics"]["accuracy"], 1) == 66.7  # 600 of the 900 valid

    pred_file = next(out.glob("*/next-qa/*/predictions.jsonl"))
    n_lines = len(pred_file.read_text().splitlines())
    again = harness_cli(*common)
    assert again.returncode == 0
    assert json.loads(again.stdout)["metrics"] == res["metrics"]
    assert len(pred_file.read_text().splitlines()) == n_lines  # resumed: nothing regenerated
    assert "0 new predictions" in again.stderr


@pytest.mark.slow
def test_missing_predictions_are_counted_not_dropped(tmp_path):
    rows = read_jsonl(NEXTQA)[:50]
    for r in rows[:40]:
        r["text"]["prediction"] = r["text"]["response"]
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows[:40]))
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
                       "--limit", "50", "--out", str(tmp_path / "r"), "--json", "--no-progress")
    assert proc.returncode == 1  # 10 failed > --max-failed 0
    res = json.loads(proc.stdout)
    assert (res["n_total"], res["n_scored"], res["n_failed"]) == (50, 40, 10)
    assert res["metrics"]["accuracy"] == pytest.approx(100.0)
    assert res["failed_reasons"] == {"prediction": 10}
    ok = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
                     "--limit", "50", "--out", str(tmp_path / "r"), "--json", "--no-progress", "--max-failed", "0.25")
    assert ok.returncode == 0


@pytest.mark.slow
def test_video_mme_tarsier_drops_whole_video(tmp_path):
    ann = ANNOTATIONS / "Video-MME.jsonl"
    rows = read_jsonl(ann)[:30]  # 10 videos x 3 questions

    def predict(i, row):
        if i == 0:
            return "garbage"  # invalid: drops all 3 questions of the first video under tarsier
        return row["text"]["response"] if i % 2 else "ABCD"[("ABCD".index(row["text"]["response"]) + 1) % 4]

    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", predict)
    base = ["run", "--model", f"file:{preds}", "--bench", "video-mme", "--annotations", str(ann), "--limit", "30",
            "--out", str(tmp_path / "r"), "--json", "--no-progress"]
    strict = json.loads(harness_cli(*base).stdout)
    tarsier = json.loads(harness_cli(*base, "--protocol", "tarsier").stdout)
    correct = [i % 2 == 1 for i in range(30)]
    assert strict["metrics"]["accuracy"] == pytest.approx(100 * sum(correct) / 30)
    assert tarsier["metrics"]["accuracy"] == pytest.approx(100 * sum(correct[3:]) / 27)
    assert strict["n_invalid"] == 1
    durations = {k for k in strict["groups"] if k.startswith("duration=")}
    assert durations == {f"duration={rows[0]['extra_info']['duration']}"}
    assert any(k.startswith("domain=") for k in strict["groups"])


def _unsure_or_sentence(i, row):
    """Answers a strict reader must not take as a choice: 'I am not sure' (I), 'The answer is (C)'
    (T), '5' (the off-by-one maps it to F, not an option of a 5-way question)."""
    k = i % 10
    if k == 7:
        return "I am not sure"
    if k == 8:
        return "The answer is (" + row["text"]["response"] + ")"
    if k == 9:
        return "5"
    return row["text"]["response"]


@pytest.mark.slow
def test_strict_letter_outside_the_options_is_invalid(tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", _unsure_or_sentence)
    common = ["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
              "--limit", "500", "--out", str(tmp_path / "runs"), "--json", "--no-progress"]
    strict = json.loads(harness_cli(*common).stdout)
    assert (strict["n_scored"], strict["n_invalid"]) == (500, 150)  # I, T and F are not among A-E
    assert strict["invalid_pct"] == pytest.approx(30.0)
    assert strict["metrics"]["accuracy"] == pytest.approx(70.0)
    # tarsier keeps the published parser bit for bit: I, T and F are letters, valid and wrong
    tarsier = json.loads(harness_cli(*common, "--protocol", "tarsier").stdout)
    assert (tarsier["n_invalid"], tarsier["invalid_pct"]) == (0, 0.0)
    assert tarsier["metrics"]["accuracy"] == pytest.approx(70.0)
    # the per-sample record says why an answer is invalid
    run_dir = next((tmp_path / "runs").glob("*/next-qa/*"))
    strict_scores = [json.loads(line) for f in run_dir.glob("scores/*/scores.jsonl") for line in f.open()]
    reasons = {s["fields"].get("invalid") for s in strict_scores if not s["fields"]["valid"]}
    assert reasons == {"I is not one of the options A-E", "T is not one of the options A-E",
                       "F is not one of the options A-E"}
    shown = harness_cli("show", str(run_dir))
    assert shown.returncode == 0, shown.stderr
    assert "invalid 150 (30.0% of answers)" in shown.stdout and "invalid 0 (0.0% of answers)" in shown.stdout
    assert "frames: none (predictions replayed from a file)" in shown.stdout and "frames 8" not in shown.stdout
    assert "coverage: 500 of 4996 canonical samples; canonical annotation file; not comparable" in shown.stdout


def test_strict_without_listed_options_fails_the_sample_by_name():
    """Under strict an answer is checked against the sample's options; a question that lists none
    cannot be checked, so the sample fails with its reason instead of being read as wrong."""
    import asyncio

    from harness import registry
    from harness.metric import ScoreContext
    from harness.types import Prediction

    bench = registry.benchmark("next-qa")
    sample = bench.samples(bench.load_annotations(str(NEXTQA)))[0]
    metric = registry.metric("multiple_choice")
    bare = sample.model_copy(update={"options": []})
    pred = Prediction(sample_id=sample.id, text=sample.answer)
    strict = asyncio.run(metric.score(bare, pred, ScoreContext(protocol="strict")))
    assert strict.status == "failed" and "no options" in strict.reason
    tarsier = asyncio.run(metric.score(bare, pred, ScoreContext(protocol="tarsier")))
    assert tarsier.ok and tarsier.fields["correct"]
    no_answer = asyncio.run(metric.score(sample.model_copy(update={"answer": None}), pred, ScoreContext()))
    assert no_answer.status == "failed" and "no answer" in no_answer.reason
