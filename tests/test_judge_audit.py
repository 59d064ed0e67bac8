"""`harness judge-audit`: two loopback judges that disagree in a known way (tests/judge_server.py: one has a
stricter entailment rule, or an exact QA rule) on the real DREAM-1K and MSVD-QA annotations. The expected
agreement, kappa, confusion table and differences are computed here by hand from the servers' rules."""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from collections import Counter
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions
from judge_server import JudgeServer, extract_events, qa_verdict, relationship, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"
CLASSES = ("entailment", "neutral", "contradiction")
LENIENT = {"entail": 0.6, "contradict": 0.25}  # the loopback judge's default rule
STRICT = {"entail": 0.8, "contradict": 0.4}


def cli(*argv):
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(list(argv))
        except SystemExit as exc:  # a usage error (argparse)
            rc = exc.code
    return rc, out.getvalue(), err.getvalue()


def generate(preds: Path, bench: str, ann: Path, out: Path, *extra: str) -> Path:
    rc, _, err = cli("run", "--model", f"file:{preds}", "--bench", bench, "--annotations", str(ann), "--stage",
                     "generate", "--out", str(out), "--no-progress", *extra)
    assert rc == 0, err
    (spec,) = list(out.glob(f"*/{bench}/*/spec.json"))
    return spec.parent


@pytest.fixture(autouse=True)
def patient_judge(env, monkeypatch):
    """The fast test settings, but a judge request is not timed out after 1 s on a busy machine: a request sent
    twice would count twice on the loopback judge (its call counts and its per-ask rules are asserted)."""
    monkeypatch.setenv("HARNESS_JUDGE_TIMEOUT", "60")


# -- the hand computation ------------------------------------------------------------------------------
def kappa(pairs, classes):
    n = len(pairs)
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(sum(a == c for a, _ in pairs) * sum(b == c for _, b in pairs) for c in classes) / n ** 2
    return (p_o - p_e) / (1 - p_e)


def dream_by_hand(rows, preds, rule):
    """Per sample: the labels of the recall and precision events, recall and precision (the servers' rules)."""
    out = {}
    for row in rows:
        r_low, p_low = row["text"]["response"].lower(), preds[row["idx"]].lower()
        gt = row["extra_info"]["events"]
        pred_events = extract_events(p_low.replace('"', "'"))
        rec = [relationship(p_low, e, rule["entail"], rule["contradict"]) for e in gt or [r_low.replace("\n", " ")]]
        prec = [relationship(r_low, e, rule["entail"], rule["contradict"])
                for e in pred_events or [p_low.replace("\n", " ")]]
        recall = rec.count("entailment") / len(gt) if gt else 1.0
        precision = prec.count("entailment") / len(pred_events) if pred_events else 1.0
        out[str(row["idx"])] = {"labels": rec + prec, "recall": recall, "precision": precision,
                                "subset": row["dataset"], "n_pred": len(pred_events)}
    return out


def f1_macro(per_sample):
    subsets = sorted({v["subset"] for v in per_sample.values()})
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    R = mean([mean([v["recall"] for v in per_sample.values() if v["subset"] == s]) for s in subsets])
    P = mean([mean([v["precision"] for v in per_sample.values() if v["subset"] == s]) for s in subsets])
    return 100 * 2 * R * P / (R + P)


def f1(v):
    r, p = v["recall"], v["precision"]
    return 0.0 if r + p == 0 else 100 * 2 * r * p / (r + p)


# -- DREAM-1K --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def judges():
    with JudgeServer() as lenient, JudgeServer() as strict:
        strict.entail_threshold, strict.contradict_threshold = STRICT["entail"], STRICT["contradict"]
        yield lenient, strict


@pytest.fixture(scope="module")
def dream_audit(judges, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    from judge_server import use_fast_judge_env

    use_fast_judge_env(mp)
    mp.setenv("HARNESS_JUDGE_TIMEOUT", "60")  # as patient_judge
    tmp = tmp_path_factory.mktemp("dream-audit")
    preds = write_dream_predictions(DREAM, tmp / "preds.jsonl")
    run_dir = generate(preds, "dream", DREAM, tmp / "runs")
    lenient, strict = judges
    args = ("judge-audit", str(run_dir), "--judge", f"gpt-35-turbo-0125@{lenient.url}",
            "--judge", f"strict-judge@{strict.url}", "--cache-dir", str(tmp / "cache"), "--no-progress")
    rc, out, err = cli(*args, "--json")
    assert rc == 0, err
    yield {"audit": json.loads(out), "args": args, "run": run_dir, "preds": preds, "tmp": tmp,
           "calls": (len(lenient.requests), len(strict.requests))}
    mp.undo()


def test_dream_audit_gives_the_hand_computed_agreement_kappa_and_difference(dream_audit):
    audit = dream_audit["audit"]
    rows = read_jsonl(DREAM)
    preds = {r["idx"]: r["text"]["prediction"] for r in read_jsonl(dream_audit["preds"])}
    a, b = dream_by_hand(rows, preds, LENIENT), dream_by_hand(rows, preds, STRICT)
    pairs = [pair for sid in a for pair in zip(a[sid]["labels"], b[sid]["labels"])]

    (pair,) = audit["pairs"]
    assert pair["a"] == "A" and pair["b"] == "B" and pair["n_common"] == 1000
    labels = pair["labels"]
    assert labels["n"] == len(pairs) > 6000
    assert labels["agreement"] == pytest.approx(sum(x == y for x, y in pairs) / len(pairs), abs=1e-12)
    assert labels["kappa"] == pytest.approx(kappa(pairs, CLASSES), abs=1e-12)
    assert 0 < labels["kappa"] < 1
    assert labels["confusion"] == {x: {y: Counter(pairs)[(x, y)] for y in CLASSES} for x in CLASSES}
    assert labels["confusion"]["neutral"]["entailment"] == 0  # a stricter judge never entails more
    assert labels["by_side"]["recall"]["samples_not_aligned"] == labels["by_side"]["precision"]["samples_not_aligned"] == 0
    # the same extraction rule: the same events, the same counts
    assert pair["extracted_events"]["share_different"] == 0 and pair["extracted_events"]["mean_diff"] == 0
    diffs = [f1(b[sid]) - f1(a[sid]) for sid in a]
    assert pair["per_sample_f1"]["mean_diff"] == pytest.approx(sum(diffs) / 1000, abs=1e-9)
    assert pair["per_sample_f1"]["share_different"] == pytest.approx(sum(abs(d) > 1e-12 for d in diffs) / 1000)

    head = pair["headline"]["f1"]
    assert head["a"] == pytest.approx(f1_macro(a), abs=1e-9) and head["b"] == pytest.approx(f1_macro(b), abs=1e-9)
    assert head["diff"] == pytest.approx(f1_macro(b) - f1_macro(a), abs=1e-9) and head["diff"] < -1
    lo, hi = head["interval"]
    assert lo < head["diff"] < hi < 0 and head["p_text"] == "p < 0.001"
    assert "clustered by video (1000 videos)" in pair["interval_method"]
    assert [j["metrics"]["f1"] for j in audit["judges"]] == pytest.approx([f1_macro(a), f1_macro(b)], abs=1e-9)

    # the samples where they disagree most: the largest F1 differences, each with its explorer permalink
    worst = pair["disagreements"]
    assert len(worst) == 10 and pair["n_disagreeing"] == sum(
        abs(d) > 1e-12 or a[s]["labels"] != b[s]["labels"] for s, d in zip(a, diffs))
    assert [abs(d["diff"]) for d in worst] == sorted((abs(d) for d in diffs), reverse=True)[:10]
    spec_hash = audit["run"]["spec_hash"]
    assert worst[0]["explorer"] == f"explore/dream/index.html#s={worst[0]['sample_id']}&run={spec_hash}"


def test_a_second_audit_makes_no_call_and_writes_the_same_audit(dream_audit, judges):
    lenient, strict = judges
    rc, out, err = cli(*dream_audit["args"])
    assert rc == 0, err
    assert (len(lenient.requests), len(strict.requests)) == dream_audit["calls"]  # 0 calls: all judged already
    for srv in judges:  # 3 questions per sample (a few are the same question; a timed-out request is sent again)
        assert 2990 <= len({json.dumps(b["messages"]) for b in srv.bodies()}) <= 3000
    path = dream_audit["run"] / "audits" / f"{dream_audit['audit']['id']}.json"
    again = json.loads(path.read_text())
    assert again["usage"] == {"calls": 0, "batch_calls": 0, "cache_hits": 0}
    assert again["pairs"] == dream_audit["audit"]["pairs"]  # seeded: the same numbers
    assert "event labels: " in out and "Cohen's kappa" in out and "most disagreeing samples" in out
    assert f"audit written to {path}" in err


def test_each_judge_has_exactly_the_score_folder_rescore_writes(dream_audit, judges):
    lenient, strict = judges
    before = len(strict.requests)
    rc, out, err = cli("rescore", str(dream_audit["run"]), "--judge-model", "strict-judge", "--judge-base-url",
                       strict.url, "--cache-dir", str(dream_audit["tmp"] / "cache"), "--no-progress", "--json")
    assert rc == 0 and len(strict.requests) == before, err
    folder = dream_audit["audit"]["judges"][1]["folder"]
    assert f"scores in {dream_audit['run'] / folder}\n" in err
    assert json.loads(out)["metrics"] == dream_audit["audit"]["judges"][1]["metrics"]
    assert len(list((dream_audit["run"] / "scores").iterdir())) == 2


# -- MSVD-QA ---------------------------------------------------------------------------------------------
def qa_prediction(i: int, row: dict) -> str:
    answer = row["text"]["response"]
    return [answer, f"I think it is {answer} here", "I do not know"][i % 3]


def test_msvd_qa_audit_gives_the_hand_computed_agreement_kappa_correlation_and_difference(env, tmp_path):
    n = 300
    preds = tarsier_predictions(MSVD, tmp_path / "p.jsonl", qa_prediction)
    run_dir = generate(preds, "msvd-qa", MSVD, tmp_path / "runs", "--limit", str(n))
    with JudgeServer() as lenient, JudgeServer() as exact:
        exact.qa_exact = True
        args = ("judge-audit", str(run_dir), "--judge", f"gpt-35-turbo-0125@{lenient.url}", "--judge",
                f"exact-judge@{exact.url}", "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json")
        rc, out, err = cli(*args)
        assert rc == 0, err
        assert len(lenient.requests) == len(exact.requests) == n
        rc, out2, err = cli(*args)
        assert rc == 0 and len(lenient.requests) == len(exact.requests) == n  # 0 calls the second time
    rows, pred_rows = read_jsonl(MSVD)[:n], read_jsonl(preds)[:n]
    va = [qa_verdict(r["text"]["response"].lower(), p["text"]["prediction"].lower()) for r, p in zip(rows, pred_rows)]
    vb = [qa_verdict(r["text"]["response"].lower(), p["text"]["prediction"].lower(), exact=True)
          for r, p in zip(rows, pred_rows)]
    pairs = [(x[0], y[0]) for x, y in zip(va, vb)]
    audit = json.loads(out)
    (pair,) = audit["pairs"]
    assert pair["labels"]["n"] == n and pair["labels"]["classes"] == ["yes", "no"]
    assert pair["labels"]["agreement"] == pytest.approx(sum(x == y for x, y in pairs) / n, abs=1e-12)
    assert pair["labels"]["kappa"] == pytest.approx(kappa(pairs, ("yes", "no")), abs=1e-12)
    assert pair["labels"]["confusion"]["no"]["yes"] == 0 and pair["labels"]["confusion"]["yes"]["no"] > 50
    sa, sb = [x[1] for x in va], [y[1] for y in vb]
    assert pair["scores"]["pearson"] == pytest.approx(statistics.correlation(sa, sb), abs=1e-12)
    assert pair["scores"]["mean_diff"] == pytest.approx((sum(sb) - sum(sa)) / n, abs=1e-12)
    acc = pair["headline"]["accuracy"]
    yes_a, yes_b = sum(x[0] == "yes" for x in va), sum(y[0] == "yes" for y in vb)
    assert acc["a"] == pytest.approx(100 * yes_a / n) and acc["b"] == pytest.approx(100 * yes_b / n)
    assert acc["diff"] == pytest.approx(100 * (yes_b - yes_a) / n, abs=1e-9)
    assert acc["interval"][0] < acc["diff"] < acc["interval"][1] < 0 and acc["p_text"] == "p < 0.001"
    assert pair["headline"]["score"]["diff"] == pytest.approx((sum(sb) - sum(sa)) / n, abs=1e-9)
    # a yes against a no comes first; the list names each sample's verdicts and its explorer permalink
    first = pair["disagreements"][0]
    assert (first["a"]["pred"], first["b"]["pred"]) == ("yes", "no")
    assert first["explorer"].startswith("explore/msvd-qa/index.html#s=")
    assert json.loads(out2)["pairs"] == audit["pairs"]


# -- the judge's own variance ------------------------------------------------------------------------------
def test_repeats_give_the_judge_alone_spread_beside_the_video_interval(env, tmp_path):
    n = 40
    preds = write_dream_predictions(DREAM, tmp_path / "preds.jsonl")
    run_dir = generate(preds, "dream", DREAM, tmp_path / "runs", "--limit", str(n))
    thresholds = [0.6, 0.5, 0.75]  # the n-th ask of a question uses the n-th rule: a judge that wavers
    with JudgeServer() as srv:
        srv.repeat_entail = thresholds
        args = ("judge-audit", str(run_dir), "--judge", f"wavering@{srv.url}", "--judge-repeats", "3",
                "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json")
        rc, out, err = cli(*args)
        assert rc == 0, err
        assert len(srv.requests) == 3 * 3 * n  # 3 questions a sample, each asked 3 times
        rc, _, err = cli(*args)
        assert rc == 0 and len(srv.requests) == 3 * 3 * n  # the repeats are cached like any answer
    rows = read_jsonl(DREAM)[:n]
    pred_text = {r["idx"]: r["text"]["prediction"] for r in read_jsonl(preds)}
    by_rule = [dream_by_hand(rows, pred_text, {"entail": t, "contradict": 0.25}) for t in thresholds]
    expected = [f1_macro(x) for x in by_rule]
    (judge,) = json.loads(out)["judges"]
    rep = judge["repeats"]
    spread = rep["spread"]["f1"]
    assert rep["k"] == 3 and rep["n_common"] == n
    assert spread["values"] == pytest.approx(expected, abs=1e-9)
    assert spread["sd"] == pytest.approx(statistics.stdev(expected), abs=1e-9) and spread["sd"] > 0.5
    assert spread["video_interval"] == judge["intervals"]["f1"]
    for r in (1, 2):
        pairs = [p for sid in by_rule[0] for p in zip(by_rule[0][sid]["labels"], by_rule[r][sid]["labels"])]
        got = rep["self_agreement"][r - 1]
        assert got["repeat"] == r and got["kappa"] == pytest.approx(kappa(pairs, CLASSES), abs=1e-12)
    # repeat 0 is the judge's own score folder; the others stay out of scores/ (never a result on the board)
    assert rep["folders"][0] == judge["folder"] and rep["folders"][1].startswith("audits/repeats/")
    assert len(list((run_dir / "scores").iterdir())) == 1


def test_repeats_at_a_given_temperature_are_asked_at_it(env, tmp_path):
    n = 5
    preds = write_dream_predictions(DREAM, tmp_path / "preds.jsonl")
    run_dir = generate(preds, "dream", DREAM, tmp_path / "runs", "--limit", str(n))
    with JudgeServer() as srv:
        rc, out, err = cli("judge-audit", str(run_dir), "--judge", f"j@{srv.url}", "--judge-repeats", "2",
                           "--judge-temperature", "0.7", "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json")
        assert rc == 0, err
        temps = Counter(b.get("temperature") for b in srv.bodies())
    assert temps == {None: 3 * n, 0.7: 2 * 3 * n}  # the scoring as the protocol says; both repeats at 0.7
    rep = json.loads(out)["judges"][0]["repeats"]
    assert [f.rsplit("/", 1)[-1] for f in rep["folders"]] == ["r0-t0.7", "r1-t0.7"]


# -- what is refused --------------------------------------------------------------------------------------
def test_bad_audits_are_one_line_exit_2(env, tmp_path):
    preds = tarsier_predictions(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl", tmp_path / "mc.jsonl",
                                lambda i, r: "A")
    mc_run = generate(preds, "next-qa", ANNOTATIONS / "Next-QA-val-multi_choice.jsonl", tmp_path / "runs",
                      "--limit", "3")
    qa_run = generate(tarsier_predictions(MSVD, tmp_path / "qa.jsonl", qa_prediction), "msvd-qa", MSVD,
                      tmp_path / "runs", "--limit", "3")
    url = "http://127.0.0.1:9/v1"
    cases = [
        ((str(mc_run), "--judge", f"a@{url}", "--judge", f"b@{url}"), "no judge to audit"),
        ((str(qa_run), "--judge", f"a@{url}"), "needs two judges"),
        ((str(qa_run), "--judge", f"a@{url}", "--judge", f"a@{url}/"), "is the same judge as"),
        ((str(qa_run), "--judge", "a@ftp://x", "--judge", f"b@{url}"), "write MODEL or MODEL@BASE_URL"),
        ((str(tmp_path), "--judge", f"a@{url}", "--judge", f"b@{url}"), "not a run directory"),
        ((str(qa_run), "--judge", "gpt-4o", "--judge", f"b@{url}"), "no credentials"),
        ((str(qa_run), "--judge", f"a@{url}", "--judge", f"b@{url}", "--judge-temperature", "1"), "applies to the repeats"),
        ((str(qa_run), "--judge", f"a@{url}", "--judge-repeats", "0"), "must be from 1 to 20"),
    ]
    for argv, message in cases:
        rc, out, err = cli("judge-audit", *argv, "--cache-dir", str(tmp_path / "c"), "--no-progress")
        assert rc == 2 and out == "" and err.count("\n") == 1 and message in err, (argv, err)


def test_failed_samples_are_counted_and_left_out_of_the_pairs_and_no_key_is_written(env, tmp_path):
    n = 12
    preds = tarsier_predictions(MSVD, tmp_path / "p.jsonl", qa_prediction)
    run_dir = generate(preds, "msvd-qa", MSVD, tmp_path / "runs", "--limit", str(n))
    poisoned = read_jsonl(MSVD)[4]["text"]["question"]
    with JudgeServer() as lenient, JudgeServer() as flaky:
        flaky.poison = {poisoned}  # this judge never gives a valid answer about sample 4
        secret_url = flaky.url.replace("http://", "http://alice:sk-TOPSECRET99@")
        args = ("judge-audit", str(run_dir), "--judge", f"gpt-35-turbo-0125@{lenient.url}", "--judge",
                f"flaky@{secret_url}", "--cache-dir", str(tmp_path / "c"), "--no-progress")
        rc, out, err = cli(*args, "--json")
        assert rc == 1 and "judge B (flaky@" in err and "1 of 12 samples failed" in err, err
        audit = json.loads(out)
        rc, _, err = cli(*args, "--max-failed", "0.1")
        assert rc == 0, err
        rc, text, err = cli(*args, "--max-failed", "0.1")
    assert [(j["n_scored"], j["n_failed"]) for j in audit["judges"]] == [(12, 0), (11, 1)]
    assert audit["judges"][1]["failed_reasons"] == {"judge": 1}
    (pair,) = audit["pairs"]
    assert pair["n_common"] == pair["labels"]["n"] == 11  # the failed sample is in no pair, and counted
    assert "B vs A on 11 samples scored by both" in text
    written = "".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())
    assert "TOPSECRET" not in written + out + text + err and "alice" not in written + out + text + err
    assert audit["judges"][1]["name"] == f"flaky@{flaky.url}"


def test_the_loopback_judge_reads_event_lists_back_exactly():
    from judge_server import str_list

    lists = [r["extra_info"]["events"] for r in read_jsonl(DREAM)]
    lists += [extract_events(r["text"]["response"].lower()) for r in read_jsonl(DREAM)]
    lists.append(["it's", 'say "hi"', "both ' and \"", "back\\slash", "tab\there\nnl", "\x00\x7f\u200b\U0001F600é", ""])
    assert all(str_list(str(x)) == x for x in lists)
