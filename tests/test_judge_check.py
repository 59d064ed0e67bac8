"""`harness judge-check` (a canary for judge drift) and `--judge-check` before scoring: questions with known
answers built at run time from the real DREAM-1K and MSVD-QA annotations, asked of loopback judges whose rules
are known (tests/judge_server.py). The expected agreement is computed here from what the judges were asked."""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re

import pytest

from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions, write_jsonl
from judge_server import JudgeServer, qa_verdict, relationship, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"
STRICT = {"entail": 0.8, "contradict": 0.4}


def cli(*argv):
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def judges():
    with JudgeServer() as lenient, JudgeServer() as strict:
        strict.entail_threshold, strict.contradict_threshold = STRICT["entail"], STRICT["contradict"]
        yield lenient, strict


@pytest.fixture(autouse=True)
def patient_judge(env, monkeypatch):
    """The fast test settings, but a judge request is not timed out after 1 s on a busy machine: a request sent
    twice would count twice on the loopback judge (its call counts and its per-ask rules are asserted)."""
    monkeypatch.setenv("HARNESS_JUDGE_TIMEOUT", "60")


def between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i:text.index(end, i)]


def by_hand(srv, rule) -> dict[str, list[bool]]:
    """Per part, whether each known answer was given, from the questions the judge received and its rule."""
    dream = read_jsonl(DREAM)
    owner = {json.dumps(r["extra_info"]["events"]): r for r in dream}
    parts: dict[str, list[bool]] = {"entail-own": [], "entail-unrelated": [], "qa-right": [], "qa-wrong": []}
    for body in srv.bodies():
        user = body["messages"][-1]["content"]
        if user.startswith("Given a video description"):
            desc = between(user, "Video Description:\n", "\n\nEvents: ")
            events = ast.literal_eval(between(user, "\n\nEvents: ", "\nOutput a JSON formed as:"))
            row = owner[json.dumps(events)]  # the events are one sample's annotated events, as they are
            labels = [relationship(desc, e, rule["entail"], rule["contradict"]) for e in events]
            if desc == row["text"]["response"].lower():
                parts["entail-own"] += [x == "entailment" for x in labels]
            else:  # the description of a sample of another subset
                other = next(r for r in dream if r["text"]["response"].lower() == desc)
                assert other["dataset"] != row["dataset"]
                parts["entail-unrelated"] += [x != "entailment" for x in labels]
        else:
            answer = between(user, "Correct Answer: ", "\nPredicted Answer: ")
            prediction = between(user, "Predicted Answer: ", "\n\nProvide your evaluation")
            verdict = qa_verdict(answer, prediction, rule.get("qa_exact", False))[0]
            if answer == prediction:
                parts["qa-right"].append(verdict == "yes")
            else:
                assert not set(re.findall(r"\w+", answer)) & set(re.findall(r"\w+", prediction))
                parts["qa-wrong"].append(verdict == "no")
    return parts


def test_judge_check_gives_the_known_answer_shares_and_flags_the_strict_judge(env, judges, tmp_path):
    lenient, strict = judges
    for srv in judges:
        srv.reset()
    rc, out, err = cli("judge-check", "--judge", f"lenient@{lenient.url}", "--judge", f"strict@{strict.url}",
                       "--dream", str(DREAM), "--qa", str(MSVD), "--json")
    report = json.loads(out)
    assert rc == 1 and err.count("\n") == 1 and "judge strict@" in err and "lenient" not in err, err
    assert "entail-own" in err and "below the threshold" in err
    assert report["questions"] == len(lenient.requests) == len(strict.requests) == 80  # 20 samples a part
    for got, srv, rule in zip(report["judges"], judges, ({"entail": 0.6, "contradict": 0.25}, STRICT)):
        want = by_hand(srv, rule)
        for part, answers in want.items():
            assert got["parts"][part]["n"] == len(answers) and got["parts"][part]["agree"] == sum(answers), part
        n = sum(len(a) for a in want.values())
        assert got["n"] == n and got["agreement"] == pytest.approx(sum(map(sum, want.values())) / n)
        assert got["passed"] == all(sum(a) / len(a) >= 0.8 for a in want.values())
    assert [j["passed"] for j in report["judges"]] == [True, False]
    assert report["judges"][1]["parts"]["entail-own"]["agreement"] < 0.8 < report["judges"][0]["parts"]["entail-own"]["agreement"]
    # asked live every time: a judge that drifted since the cache was written must answer for itself
    rc, out2, _ = cli("judge-check", "--judge", f"lenient@{lenient.url}", "--dream", str(DREAM), "--qa", str(MSVD),
                      "--json")
    assert rc == 0 and len(lenient.requests) == 160
    assert json.loads(out2)["judges"][0] == report["judges"][0]


def test_the_set_depends_on_the_annotations_not_their_order(env, judges, tmp_path):
    lenient, _ = judges
    reversed_file = write_jsonl(tmp_path / "DREAM-reversed.jsonl", list(reversed(read_jsonl(DREAM))))

    def set_of(*argv):
        rc, out, err = cli("judge-check", "--judge", f"lenient@{lenient.url}", *argv, "--json")
        assert rc == 0, err
        return json.loads(out)["set_sha256"]

    first = set_of("--dream", str(DREAM))
    assert set_of("--dream", str(reversed_file)) == first  # selected by the hash of each sample's id
    assert set_of("--dream", str(DREAM), "--n", "5") != first
    assert set_of("--qa", str(MSVD)) != first


def test_run_and_rescore_check_the_judge_before_scoring(env, judges, tmp_path):
    lenient, strict = judges
    preds = write_dream_predictions(DREAM, tmp_path / "preds.jsonl")
    base = ("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM), "--limit", "10",
            "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"), "--no-progress", "--judge-check")
    strict.reset()
    rc, out, err = cli(*base, "--judge-base-url", strict.url)
    assert rc == 1 and out == "" and err.count("\n") == 1 and "nothing was scored" in err, err
    assert len(strict.requests) == 40  # the check only: 20 own and 20 unrelated questions
    assert not list((tmp_path / "runs").glob("*/dream/*/scores"))
    rc, out, err = cli(*base, "--judge-base-url", lenient.url)
    assert rc == 0 and "harness: judge-check: judge gpt-35-turbo-0125 gives" in err and ": ok\n" in err, err
    (run_dir,) = [p.parent for p in (tmp_path / "runs").glob("*/dream/*/spec.json")]
    assert len(list((run_dir / "scores").iterdir())) == 1
    rc, out, err = cli("rescore", str(run_dir), "--judge-base-url", strict.url, "--judge-model", "strict",
                       "--cache-dir", str(tmp_path / "c"), "--no-progress", "--judge-check")
    assert rc == 1 and err.count("\n") == 1 and "below the threshold" in err, err
    assert len(list((run_dir / "scores").iterdir())) == 1  # nothing scored under the judge that failed


def test_msvd_qa_run_checks_with_qa_questions(env, tmp_path):
    preds = tarsier_predictions(MSVD, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    with JudgeServer() as srv:
        rc, out, err = cli("run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", str(MSVD),
                           "--limit", "5", "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "c"),
                           "--no-progress", "--judge-base-url", srv.url, "--judge-check")
        kinds = {b["messages"][-1]["content"].split("\n", 1)[0] for b in srv.bodies()}
    assert rc == 0 and "of 40 known answers; qa-" in err, err  # 20 right and 20 wrong answers, then 5 scored
    assert kinds == {"Please evaluate the following video-based question-answer pair:"} and len(srv.requests) == 45


def test_judge_check_bad_input_is_one_line_exit_2(env, tmp_path):
    cases = [(("--judge", "x@http://127.0.0.1:9/v1"), "needs annotations"),
             (("--judge", "x@http://127.0.0.1:9/v1", "--dream", str(tmp_path / "missing.jsonl")), "missing.jsonl"),
             (("--judge", "x@http://127.0.0.1:9/v1", "--dream", str(MSVD)), "no check could be built")]
    for argv, message in cases:
        rc, out, err = cli("judge-check", *argv)
        assert rc == 2 and out == "" and err.count("\n") == 1 and message in err, (argv, err)
