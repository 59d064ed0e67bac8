"""AutoDQ (DREAM-1K): prompts byte-identical to PROTOCOLS.md, parsing and repair, aggregation, and
whole runs through `harness run` against a real HTTP judge on 127.0.0.1 (tests/judge_server.py),
on the real DREAM-1K annotations from ../shared."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, REPO, SHARED, read_jsonl
from harness.metrics.autodq import (ENTAIL_PROMPT, EXTRACT_PROMPT, AutoDQ, Invalid, make_entail_parser,
                                    parse_events, repair_json)
from harness.types import Sample, SampleScore
from judge_server import FAST, extract_events, use_fast_judge_env, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
DREAM_MESSAGES = ANNOTATIONS / "DREAM-1k.messages.jsonl"


# -- the protocol text -----------------------------------------------------------------------
def protocol_block(marker: str) -> str:
    """The first fenced block after `marker` in PROTOCOLS.md, verbatim."""
    text = (SHARED / "PROTOCOLS.md").read_text(encoding="utf-8")
    start = text.index("\n```\n", text.index(marker)) + len("\n```\n")
    return text[start:text.index("\n```", start)]


def fill(template: str, **values: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


PROMPT_A = protocol_block("Prompt A, event extraction")
PROMPT_B = protocol_block("Prompt B, entailment")


def test_prompts_are_byte_identical_to_protocols():
    assert EXTRACT_PROMPT == PROMPT_A
    assert ENTAIL_PROMPT == PROMPT_B
    assert "Bellow is" in PROMPT_A and "Requirements\n:- An event" in PROMPT_A
    assert '"relationship": "put class name here",  "reason"' in PROMPT_B


def expected_prompts(reference: str, prediction: str, events: list[str] | None) -> list[str]:
    """What the judge must receive for one sample (PROTOCOLS.md), with the fake judge's extraction."""
    r, p = reference.lower(), prediction.lower()
    caption = p.replace('"', "'")
    pred_events = extract_events(caption)
    gt = events if events else [r.replace("\n", " ")]
    return [fill(PROMPT_A, caption=caption),
            fill(PROMPT_B, description=p, events=str(gt)),
            fill(PROMPT_B, description=r, events=str(pred_events or [p.replace("\n", " ")]))]


# -- parsing ---------------------------------------------------------------------------------
def test_parse_events():
    assert parse_events("{'events': ['a man runs.', \"it's raining.\"]}") == ["a man runs.", "it's raining."]
    assert parse_events('```python\n{"events": ["x"]}\n```') == ["x"]
    assert parse_events('```json\n{"events": []}\n```') == []
    for bad in ['{"events": "x"}', '{"evts": []}', "['a']", "not python", '```\n{"events": []}\n```',
                '{"events": [1, 2]}', " {'events': [" + "]" * 3]:
        with pytest.raises(Invalid):
            parse_events(bad)


def test_repair_steps():
    items = [{"event": "a", "relationship": "entailment", "reason": "r"},
             {"event": "b", "relationship": "neutral", "reason": "s"}]
    good = {"events": items}
    cases = [
        '```json\n{\n  "events": [\n    ' + ',\n    '.join(json.dumps(i) for i in items) + ',\n  ],\n}\n```',
        '"events": [' + ", ".join(json.dumps(i) for i in items) + "]",
        '{"events": [' + " ".join(json.dumps(i) for i in items) + "]}",
        '{"events": [' + "".join(json.dumps(i) for i in items) + "]}",
        '{Events: {"events": [' + ", ".join(json.dumps(i) for i in items) + "]}",
        '```python\n{"events": [' + ", ".join(json.dumps(i) for i in items) + "]}```",
        '  \n\n{"events":\n\n\n[' + ", ".join(json.dumps(i) for i in items) + "]}\n",
    ]
    for raw in cases:
        assert json.loads(repair_json(raw)) == good, raw
    assert json.loads(repair_json('{"ok": True, "no": False, "x": [Placeholder]}')) == {"ok": True, "no": False, "x": None}
    assert repair_json("a\n\n\nb   c") == "{a b c}"


def test_entailment_validation():
    one = '{"events": [{"event": "e", "relationship": " Entailment ", "reason": "r"}]}'
    assert make_entail_parser(1)(one) == [{"relationship": "entailment", "reason": "r", "judge_event": "e"}]
    assert make_entail_parser(0)(one)[0]["relationship"] == "entailment"  # 0 sent: exactly 1 back is fine
    with pytest.raises(Invalid, match="1 judgements for 2 events"):
        make_entail_parser(2)(one)
    two = '{"events": [{"relationship": "neutral"}, {"relationship": "neutral"}]}'
    with pytest.raises(Invalid):
        make_entail_parser(0)(two)
    for bad in ['{"events": [{"relationship": "entails"}]}', '{"events": [{"relationship": null}]}',
                '{"events": ["entailment"]}', '{"events": {"a": 1}}', "[1]", "garbage"]:
        with pytest.raises(Invalid):
            make_entail_parser(1)(bad)


# -- aggregation -----------------------------------------------------------------------------
def row(i, subset, r, p, n_subjects=1, n_shots=1, n_events=3, ok=True):
    s = Sample(id=str(i), benchmark="dream", idx=i, dataset=subset, prompt="x", references=["ref"],
               groups={"subset": subset}, cluster=str(i),
               extra={"events": ["e"], "n_subjects": n_subjects, "n_shots": n_shots, "n_events": n_events})
    if not ok:
        return s, SampleScore(sample_id=s.id, status="failed", reason="judge: x")
    return s, SampleScore(sample_id=s.id, fields={"recall": r, "precision": p})


def test_aggregate_macro_over_subsets_f1_of_means_buckets_first_match():
    rows = [row(0, "DREAM/b", 1.0, 0.5, n_subjects=0, n_events=4), row(1, "DREAM/b", 0.0, 0.5, n_subjects=2, n_events=5),
            row(2, "DREAM/a", 0.5, 1.0, n_subjects=7, n_shots=3, n_events=8), row(3, "DREAM/a", 0.0, 0.0, ok=False),
            row(4, "DREAM/c", 0.0, 0.0, ok=False)]
    agg = AutoDQ().aggregate(rows, "strict")
    R = (0.5 + 0.5) / 2  # subset means: b 0.5, a 0.5 (c has no success and stays out)
    P = (0.5 + 1.0) / 2
    assert agg.metrics == pytest.approx({"f1": 100 * 2 * R * P / (R + P), "precision": 100 * P, "recall": 100 * R})
    assert list(agg.groups)[:3] == ["subset=DREAM/a", "subset=DREAM/b", "subset=DREAM/c"]
    assert agg.groups["subset=DREAM/a"] == pytest.approx({"f1": 100 * 2 * .5 / 1.5, "precision": 100.0, "recall": 50.0,
                                                          "n": 1, "n_failed": 1})
    assert agg.groups["subset=DREAM/c"] == {"f1": None, "precision": None, "recall": None, "n": 0, "n_failed": 1}
    assert agg.n_scored == 3
    b = agg.extra["buckets"]
    assert list(b) == ["subjects", "shots", "events"]
    assert {k: v["n"] for k, v in b["subjects"].items()} == {"<=1": 1, "==2": 1, "==3": 0, ">=4": 1}
    assert {k: v["n"] for k, v in b["shots"].items()} == {"<=1": 2, "==2": 0, "==3": 1, ">=4": 0}
    assert {k: v["n"] for k, v in b["events"].items()} == {"<=3": 0, "4-5": 2, "6-7": 0, ">=8": 1}
    assert b["events"]["4-5"]["recall"] == 50.0 and b["events"]["4-5"]["precision"] == 50.0
    assert b["events"]["<=3"]["f1"] is None
    assert agg.groups["events 4-5"] == b["events"]["4-5"]
    # the bootstrap's fast path reproduces the headline values
    assert AutoDQ().headline_values(rows, "strict") == pytest.approx(agg.metrics)


def test_bootstrap_fast_path_matches():
    from harness import stats

    rows = [row(i, f"DREAM/{'abc'[i % 3]}", (i % 5) / 4, (i % 3) / 2) for i in range(60)]
    boot = stats.bootstrap(AutoDQ(), rows, "strict", n_resamples=200)
    assert boot.path == "fast" and set(boot.intervals) == {"f1", "precision", "recall"}


# -- whole runs through the CLI ------------------------------------------------------------------
def cli(*argv: str) -> tuple[int, str, str]:
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def dream_args(preds, ann, srv, cache, out, *extra):
    return ("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(ann),
            "--judge-base-url", srv.url, "--judge-model", "gpt-35-turbo-0125", "--cache-dir", str(cache),
            "--out", str(out), "--no-progress", *extra)


def scores_of(run_dir: Path) -> dict[str, dict]:
    (path,) = list((run_dir / "scores").glob("*/scores.jsonl"))
    out = {}
    for rec in read_jsonl(path):
        out[rec["sample_id"]] = rec
    return out


def run_dir_of(out: Path) -> Path:
    (spec,) = list(out.glob("*/dream/*/spec.json"))
    return spec.parent


@pytest.fixture(scope="module")
def env():
    mp = pytest.MonkeyPatch()
    use_fast_judge_env(mp)
    yield
    mp.undo()


@pytest.fixture(scope="module")
def clean(env, server, tmp_path_factory):
    """All 1000 DREAM-1K samples scored against a clean judge (cold cache)."""
    tmp = tmp_path_factory.mktemp("dream-clean")
    preds = write_dream_predictions(DREAM, tmp / "preds.jsonl")
    server.reset()
    rc, out, err = cli(*dream_args(preds, DREAM, server, tmp / "cache", tmp / "runs", "--json"))
    assert rc == 0, err
    return {"result": json.loads(out), "preds": preds, "cache": tmp / "cache", "runs": tmp / "runs",
            "requests": list(server.requests), "tmp": tmp}


@pytest.mark.slow
def test_dream_run_prints_overall_subsets_buckets_and_failures(clean):
    res = clean["result"]
    m = res["metrics"]
    assert list(m) == ["f1", "precision", "recall"] and res["metric"] == "f1"
    assert m["f1"] == pytest.approx(2 * m["recall"] * m["precision"] / (m["recall"] + m["precision"]))
    assert 10 < m["recall"] < 100 and 10 < m["precision"] <= 100  # x100
    assert res["n_total"] == 1000 and res["n_scored"] == 1000 and res["n_failed"] == 0
    subsets = [k for k in res["groups"] if k.startswith("subset=")]
    assert subsets == sorted(subsets) == [f"subset=DREAM/{s}" for s in
                                          ("movie_animation", "movie_live_action", "shorts", "stock", "youtube")]
    assert all(res["groups"][s]["n"] == 200 and res["groups"][s]["n_failed"] == 0 for s in subsets)
    assert m["recall"] == pytest.approx(sum(res["groups"][s]["recall"] for s in subsets) / 5)
    assert m["precision"] == pytest.approx(sum(res["groups"][s]["precision"] for s in subsets) / 5)
    for family, labels in (("subjects", ["<=1", "==2", "==3", ">=4"]), ("shots", ["<=1", "==2", "==3", ">=4"]),
                           ("events", ["<=3", "4-5", "6-7", ">=8"])):
        assert list(res["extra"]["buckets"][family]) == labels
        assert sum(res["groups"][f"{family} {lab}"]["n"] for lab in labels) == 1000
    assert res["judge_model"] == "gpt-35-turbo-0125"
    usage = res["extra"]["judge_usage"]
    assert usage["calls"] == len(clean["requests"]) and usage["calls"] + usage["cache_hits"] <= 3000
    assert usage["cost_usd"] > 0

    # independent recomputation from the saved per-sample scores
    rows = read_jsonl(DREAM)
    scores = scores_of(run_dir_of(clean["runs"]))
    by_subset: dict[str, list] = {}
    for r in rows:
        by_subset.setdefault(r["dataset"], []).append(scores[str(r["idx"])]["fields"])
    R = sum(sum(f["recall"] for f in v) / len(v) for v in by_subset.values()) / 5
    P = sum(sum(f["precision"] for f in v) / len(v) for v in by_subset.values()) / 5
    assert m["recall"] == pytest.approx(100 * R, abs=1e-9) and m["precision"] == pytest.approx(100 * P, abs=1e-9)


@pytest.mark.slow
def test_dream_judge_received_exactly_the_protocol_prompts(clean):
    bodies = [r["body"] for r in clean["requests"]]
    assert all(set(b) == {"model", "messages"} and b["model"] == "gpt-35-turbo-0125" for b in bodies)
    assert all(len(b["messages"]) == 1 and b["messages"][0]["role"] == "user" for b in bodies)
    got = [b["messages"][0]["content"] for b in bodies]
    assert len(got) == len(set(got))  # nothing asked (and paid for) twice
    preds = {(r["dataset"], r["idx"]): r["text"]["prediction"] for r in read_jsonl(clean["preds"])}
    want = set()
    for r in read_jsonl(DREAM):
        want.update(expected_prompts(r["text"]["response"], preds[(r["dataset"], r["idx"])], r["extra_info"]["events"]))
    assert set(got) == want


@pytest.mark.slow
def test_dream_per_sample_fields_keep_events_labels_and_reasons(clean):
    scores = scores_of(run_dir_of(clean["runs"]))
    ann = {str(r["idx"]): r for r in read_jsonl(DREAM)}
    for sid, sc in scores.items():
        f = sc["fields"]
        assert sc["status"] == "ok" and len(sc["judge_calls"]) >= 3
        gt = ann[sid]["extra_info"]["events"]
        assert f["n_events_gt"] == len(gt) and f["n_events_pred"] == len(f["events_pred"])
        for side, n in (("recall", len(gt)), ("precision", len(f["events_pred"]))):
            judged = f[f"{side}_events"]
            assert len(judged) == max(n, 1)
            assert all(j["label"] in ("entailment", "neutral", "contradiction") and j["reason"] for j in judged)
            hits = sum(j["label"] == "entailment" for j in judged)
            assert f[side] == (1.0 if n == 0 else hits / n)  # entailment only; an empty list scores 1.0
        if not gt:  # the empty-events rule: the whole reference was the single event
            assert f["recall"] == 1.0
            assert f["recall_events"][0]["event"] == ann[sid]["text"]["response"].lower().replace("\n", " ")
    assert sum(1 for sid in scores if not ann[sid]["extra_info"]["events"]) == 4


@pytest.mark.slow
def test_dream_messages_format_gives_the_same_numbers_from_the_cache(clean, server):
    tmp = clean["tmp"]
    preds = write_dream_predictions(DREAM_MESSAGES, tmp / "preds-messages.jsonl")
    server.reset()
    rc, out, err = cli(*dream_args(preds, DREAM_MESSAGES, server, clean["cache"], tmp / "runs-messages"))
    assert rc == 0, err
    assert len(server.requests) == 0  # same prompts: all answers come from the cache
    assert "subset=DREAM/vertical_video" in out and "subset=DREAM/videvo" in out and "failed 0" in out
    res = json.loads(next((tmp / "runs-messages").glob("*/dream/*/scores/*/result.json")).read_text())
    base = clean["result"]
    assert res["metrics"] == base["metrics"]  # exactly
    rename = {"shorts": "vertical_video", "stock": "videvo"}
    for key, values in base["groups"].items():
        if key.startswith("subset=DREAM/"):
            name = key.split("/", 1)[1]
            key = f"subset=DREAM/{rename.get(name, name)}"
        assert res["groups"][key] == values
    assert res["extra"]["judge_usage"]["calls"] == 0 and res["extra"]["judge_usage"]["cache_hits"] >= 2999


@pytest.mark.slow
def test_dream_flaky_judge_gives_identical_scores(clean, server, tmp_path):
    limit = "300"
    server.reset()
    server.rates = {"500": .06, "429": .06, "garbage": .05, "count": .03, "badrel": .03, "drop": .04, "slow": .01,
                    "messy": .25}
    server.retry_after = "0.01"
    try:
        rc, out, err = cli(*dream_args(clean["preds"], DREAM, server, tmp_path / "cache", tmp_path / "runs",
                                       "--limit", limit, "--json"))
    finally:
        server.rates = {}
    assert rc == 0, err
    faults = {r["fault"] for r in server.requests}
    assert {"500", "429", "garbage", "count", "badrel", "drop", "slow", "messy"} <= faults
    flaky = json.loads(out)
    assert flaky["n_failed"] == 0 and flaky["n_scored"] == 300
    clean_scores = scores_of(run_dir_of(clean["runs"]))
    for sid, sc in scores_of(run_dir_of(tmp_path / "runs")).items():
        assert sc["fields"] == clean_scores[sid]["fields"], sid
    # the same numbers as a clean judge on the same 300 (answered from the clean run's cache)
    server.reset()
    rc, out, err = cli(*dream_args(clean["preds"], DREAM, server, clean["cache"], tmp_path / "runs-clean",
                                   "--limit", limit, "--json"))
    assert rc == 0 and len(server.requests) == 0
    ref = json.loads(out)
    assert flaky["metrics"] == ref["metrics"] and flaky["groups"] == ref["groups"]


@pytest.mark.slow
def test_dream_failing_sample_is_counted_excluded_and_retried_next_run(clean, server, tmp_path):
    preds = tmp_path / "preds.jsonl"
    rows = read_jsonl(clean["preds"])[:12]
    rows[5]["text"]["prediction"] += " Zzyzx-poison appears."
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = dream_args(preds, DREAM, server, tmp_path / "cache", tmp_path / "runs", "--limit", "12", "--json")
    server.reset()
    server.poison = {"zzyzx-poison"}
    try:
        rc, out, err = cli(*args)
        res = json.loads(out)
        assert rc == 1 and "1 of 12 samples failed" in err  # above --max-failed 0
        assert res["n_failed"] == 1 and res["n_scored"] == 11 and res["failed_reasons"] == {"judge": 1}
        assert res["groups"]["subset=DREAM/movie_animation"]["n_failed"] == 1
        assert res["groups"]["subset=DREAM/movie_animation"]["n"] == 11
        bad = scores_of(run_dir_of(tmp_path / "runs"))[str(rows[5]["idx"])]
        assert bad["status"] == "failed" and "10 tries in this run failed" in bad["reason"]
        assert "invalid answer" in bad["reason"]
        poisoned = [r for r in server.requests if "zzyzx-poison" in r["body"]["messages"][0]["content"]]
        assert len(poisoned) == len(server.requests) - 33 == 20  # extraction and recall, 10 attempts each
        # the next run retries it (and only it) with fresh attempts; --max-failed lets the run pass
        server.reset()
        rc, out, _ = cli(*args, "--max-failed", "0.1")
        assert rc == 0 and json.loads(out)["n_failed"] == 1 and len(server.requests) == 20
    finally:
        server.poison = set()
    server.reset()  # the judge behaves now: the next run scores that sample with one new answer per question
    rc, out, err = cli(*args)
    res = json.loads(out)
    assert rc == 0 and res["n_failed"] == 0 and res["n_scored"] == 12
    assert len(server.requests) == 3


@pytest.mark.slow
def test_dream_killed_mid_run_resumes_with_same_scores_without_paying_twice(clean, server, tmp_path):
    args = dream_args(clean["preds"], DREAM, server, tmp_path / "cache", tmp_path / "runs", "--limit", "300",
                      "--judge-concurrency", "4")
    server.reset()
    server.latency = 0.02
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env={**os.environ, **FAST},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            found = list((tmp_path / "runs").glob("*/dream/*/scores/*/scores.jsonl"))
            if found and found[0].read_text().count("\n") >= 40:
                break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        server.latency = 0.0
        if proc.poll() is None:
            proc.kill()
    saved_before = scores_of(run_dir_of(tmp_path / "runs"))
    first = list(server.requests)
    assert 40 <= len(saved_before) < 300
    server.reset()
    rc, out, err = cli(*args, "--json")
    assert rc == 0, err
    res = json.loads(out)
    assert res["n_failed"] == 0 and res["n_scored"] == 300
    clean_scores = scores_of(run_dir_of(clean["runs"]))
    final = scores_of(run_dir_of(tmp_path / "runs"))
    assert all(final[sid]["fields"] == clean_scores[sid]["fields"] for sid in final)
    # no judged sample is paid for again: none of its prompts reach the judge after the restart
    preds = {str(r["idx"]): r["text"]["prediction"].lower() for r in read_jsonl(clean["preds"])[:300]}
    refs = {str(r["idx"]): r["text"]["response"].lower() for r in read_jsonl(DREAM)[:300]}
    saved_texts = set()
    for sid in saved_before:
        saved_texts |= {preds[sid], preds[sid].replace('"', "'"), refs[sid]}
    second = [r["body"]["messages"][0]["content"] for r in server.requests]
    described = [re.search(r"Video Description:[ \n](.*?)\n\n", p, re.S).group(1) for p in second]
    assert not [d for d in described if d in saved_texts]
    # and nothing answered before the kill was asked again, apart from the calls in flight at the kill
    answered_before = {r["body"]["messages"][0]["content"] for r in first if r.get("status") == 200}
    assert len(answered_before & set(second)) <= 4
