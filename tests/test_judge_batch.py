"""The judge through the batch API (`--judge-mode batch`, the batch transport harness/client/batch.py) against
the loopback server's files and batches endpoints (tests/judge_server.py), on the real DREAM-1K and MSVD-QA
annotations from ../shared."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions
from harness.cli.judge_args import judge_config
from harness.client.batch import LOG_NAME
from harness.metric import Metric
from harness.settings import Environment
from harness.types import Prediction, Sample, SampleScore
from judge_server import FAST, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"
WAITING = re.compile(r"^harness: batch (\S+) still (validating|in_progress); run the same command again to continue\n$")


@pytest.fixture
def srv(server):
    server.reset()
    server.batch_api, server.batch_polls, server.poison = True, 3, set()
    yield server
    server.reset()
    server.batch_api, server.batch_polls = True, 3


def cli(*argv):
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def dream(preds, srv, out, cache, *extra):
    return ("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM), "--out", str(out),
            "--cache-dir", str(cache), "--judge-base-url", srv.url, "--no-progress", "--json", *extra)


def score_folder(out: Path) -> Path:
    (d,) = list(Path(out).glob("*/*/*/scores/*"))
    return d


def scores_of(out: Path) -> dict[str, dict]:
    """Score records by sample; judge keys sorted (AutoDQ lists them in the order its two sides finish)."""
    path = score_folder(out) / "scores.jsonl"
    return {r["sample_id"]: {**r, "judge_calls": sorted(r["judge_calls"])} for r in read_jsonl(path)} if path.exists() else {}


def canon(bodies) -> list[str]:
    return sorted(json.dumps(b, sort_keys=True) for b in bodies)


def posts(srv, what: str) -> int:
    return sum(1 for m, p in srv.batch_calls if m == "POST" and p.endswith("/" + what))


# -- DREAM-1K end to end ---------------------------------------------------------------------------
@pytest.mark.slow
def test_dream_batch_survives_a_restart_and_scores_exactly_like_online(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    batch = dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "50", "--judge-mode", "batch")

    # 1. submit, then the wait runs out: one line, exit 1, nothing scored, nothing failed
    rc, out, err = cli(*batch, "--batch-wait", "0")
    m = WAITING.match(err)
    assert rc == 1 and out == "" and m, err
    first_id = m.group(1)
    assert [b["id"] for b in srv.batches_created()] == [first_id]
    assert scores_of(tmp_path / "rb") == {} and not srv.requests
    folder = score_folder(tmp_path / "rb")
    log = read_jsonl(folder / LOG_NAME)
    assert [r["event"] for r in log] == ["uploaded", "submitted"] and log[1]["batch_id"] == first_id
    mapping = log[0]["requests"]
    assert len(mapping) == 100 and len(set(mapping.values())) == 100  # round 1: extraction + recall per sample

    # the batch file: one POST line per request, custom_id from the stored map, the online body
    lines = read_jsonl(folder / log[0]["input"])
    assert [ln["custom_id"] for ln in lines] == list(mapping)
    assert all(ln["method"] == "POST" and ln["url"] == "/v1/chat/completions" for ln in lines)
    assert all(set(ln["body"]) == {"model", "messages"} and ln["body"]["model"] == "gpt-35-turbo-0125"
               for ln in lines)
    upload = srv.files[log[0]["file_id"]]
    assert upload["purpose"] == "batch" and upload["data"] == (folder / log[0]["input"]).read_bytes()
    assert srv.batches[first_id]["endpoint"] == "/v1/chat/completions"
    assert srv.batches[first_id]["completion_window"] == "24h"

    # 2. the same command re-attaches (no second batch for the first questions), then asks the precision
    #    questions that needed their answers in a second batch
    rc, out, err = cli(*batch, "--batch-wait", "30")
    assert rc == 0, err
    res = json.loads(out)
    assert res["n_scored"] == 50 and res["n_failed"] == 0
    created = srv.batches_created()
    assert [b["id"] for b in created] == [first_id, "batch_0002"] and posts(srv, "batches") == 2
    assert [b["status"] for b in created] == ["completed", "completed"]
    sent = srv.batch_bodies()
    assert len(sent) == 150 and len(set(canon(sent))) == 150  # no request went out twice
    assert not srv.requests  # nothing online
    assert len(read_jsonl(folder / "scores.jsonl")) == 50  # every sample written once, as online
    usage = res["extra"]["judge_usage"]
    assert usage["batch"]["reattached"] == [first_id] and usage["batch"]["batches"] == ["batch_0002"]
    assert usage["batch_calls"] == 150 and usage["calls"] == 0 and usage["batch"]["price_factor"] == 0.5

    # 3. online on a fresh cache: the same request bodies, the same scores, twice the price
    rc, out, err = cli(*dream(preds, srv, tmp_path / "ro", tmp_path / "co", "--limit", "50"))
    assert rc == 0, err
    online = json.loads(out)
    assert canon(srv.bodies()) == canon(sent)
    assert scores_of(tmp_path / "ro") == scores_of(tmp_path / "rb")  # every field, judge keys included
    assert online["metrics"] == res["metrics"] and online["groups"] == res["groups"]
    assert online["provenance"]["score_hash"] == res["provenance"]["score_hash"]
    assert usage["cost_usd"] == pytest.approx(online["extra"]["judge_usage"]["cost_usd"] / 2)

    # 4. the caches are interchangeable: batch on the online-warm cache, online on the batch-warm one
    srv.reset()
    rc, out, err = cli(*dream(preds, srv, tmp_path / "r3", tmp_path / "co", "--limit", "50", "--judge-mode", "batch"))
    assert rc == 0 and json.loads(out)["metrics"] == res["metrics"], err
    rc, out, err = cli(*dream(preds, srv, tmp_path / "r4", tmp_path / "cb", "--limit", "50"))
    assert rc == 0 and json.loads(out)["metrics"] == res["metrics"], err
    assert not srv.requests and not srv.batch_calls


def test_error_entry_and_invalid_answer_are_asked_online(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    srv.batch_script = ["error", "garbage"]  # the first two lines of the first batch
    rc, out, err = cli(*dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "6", "--judge-mode", "batch"))
    assert rc == 0, err
    res = json.loads(out)
    assert res["n_scored"] == 6 and res["n_failed"] == 0
    first_two = [ln["body"] for ln in srv.batch_lines[:2]]
    assert canon(srv.bodies()) == canon(first_two)  # exactly these two went online, once each
    log = read_jsonl(score_folder(tmp_path / "rb") / LOG_NAME)
    finished = [r for r in log if r["event"] == "finished"]
    assert len(finished) == 2 and len(finished[0]["errored"]) == 1 and "500" in next(iter(finished[0]["errored"].values()))
    assert res["extra"]["judge_usage"]["calls"] == 2 and res["extra"]["judge_usage"]["invalid_answers"] >= 1

    # the same fields as an online run (the re-asked question has one more answer in its keys)
    rc, out, err = cli(*dream(preds, srv, tmp_path / "ro", tmp_path / "co", "--limit", "6"))
    assert rc == 0, err
    a, b = scores_of(tmp_path / "rb"), scores_of(tmp_path / "ro")
    assert {k: v["fields"] for k, v in a.items()} == {k: v["fields"] for k, v in b.items()}
    assert sum(len(v["judge_calls"]) for v in a.values()) == sum(len(v["judge_calls"]) for v in b.values()) + 1


@pytest.mark.slow
@pytest.mark.parametrize("end", ["failed", "expired", "cancelled"])
def test_a_batch_that_ends_badly_is_one_line_and_resubmitted(env, srv, tmp_path, end):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    args = dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "4", "--judge-mode", "batch")
    srv.batch_end = [end]
    rc, out, err = cli(*args)
    assert rc == 1 and out == "" and err.count("\n") == 1, err
    assert re.match(rf"^harness: batch batch_0001 {end}\b.*will be submitted again", err), err
    assert "fake batch failure" in err if end == "failed" else True
    assert scores_of(tmp_path / "rb") == {}
    first = srv.batches_created()[0]
    lines = read_jsonl(score_folder(tmp_path / "rb") / "judge_batches" / "input-0001.jsonl")
    answered = {ln["custom_id"] for ln in srv.batch_lines}
    assert len(answered) == (0 if end == "failed" else len(lines) // 2)

    rc, out, err = cli(*args)
    assert rc == 0, err
    assert json.loads(out)["n_scored"] == 4
    second = srv.batches_created()[1]
    resent = read_jsonl(score_folder(tmp_path / "rb") / "judge_batches" / "input-0002.jsonl")
    # the unanswered requests of the first batch again, never an answered one (with the requests that
    # the answered ones made possible: precision after an extraction)
    again = set(canon(ln["body"] for ln in resent))
    assert set(canon(ln["body"] for ln in lines if ln["custom_id"] not in answered)) <= again
    assert not set(canon(ln["body"] for ln in lines if ln["custom_id"] in answered)) & again
    if end == "failed":
        assert canon(ln["body"] for ln in resent) == canon(ln["body"] for ln in lines)
    assert first["status"] == end and second["status"] == "completed" and not srv.requests


def test_a_lost_create_answer_never_makes_a_second_batch(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    srv.batch_api_faults = ["drop"]  # the batch is created, the answer never arrives
    rc, out, err = cli(*dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "3", "--judge-mode", "batch"))
    assert rc == 0, err
    assert len(srv.batches_created()) == 2  # round 1 (found again by its input file) and round 2
    assert len(set(canon(srv.batch_bodies()))) == len(srv.batch_bodies()) == 9


def test_an_upload_whose_batch_was_never_created_is_submitted_on_the_next_run(env, srv, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_JUDGE_RETRIES", "2")
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    args = dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "3", "--judge-mode", "batch")
    srv.batch_api_faults = ["500", "500"]
    rc, out, err = cli(*args)
    assert rc == 1 and err.count("\n") == 1 and "unavailable" in err and "run the same command again" in err, err
    assert posts(srv, "files") == 1 and not srv.batches
    rc, out, err = cli(*args)
    assert rc == 0, err
    assert posts(srv, "files") == 2  # round 1's file was not uploaded again; round 2's is new
    assert srv.batches_created()[0]["input_file_id"] == "file-0001"


def test_no_batch_api_and_flag_checks_are_one_line_exit_2(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    srv.batch_api = False
    rc, out, err = cli(*dream(preds, srv, tmp_path / "r", tmp_path / "c", "--limit", "2", "--judge-mode", "batch"))
    assert rc == 2 and err.count("\n") == 1 and "no batch API" in err and "--judge-mode online" in err, err
    rc, out, err = cli(*dream(preds, srv, tmp_path / "r", tmp_path / "c", "--limit", "2", "--batch-wait", "5"))
    assert rc == 2 and "--batch-wait applies to --judge-mode batch" in err


def test_budget_holds_back_what_does_not_fit(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    rc, out, err = cli(*dream(preds, srv, tmp_path / "r", tmp_path / "c", "--limit", "20", "--judge-mode", "batch",
                              "--judge-budget", "0.001"))
    assert rc == 1 and err.count("\n") == 1 and "judge budget $0.0010 reached" in err, err
    assert 0 < len(srv.batch_lines) < 40  # part of round 1 went out, within the budget at batch prices
    assert scores_of(tmp_path / "r") == {}


# -- other commands and metrics ------------------------------------------------------------------
@pytest.mark.slow
def test_msvd_qa_in_batch_mode_and_rescore_under_another_judge(env, srv, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_JUDGE_BATCH_MAX_REQUESTS", "12")  # 30 requests: three batch files per round
    preds = tarsier_predictions(MSVD, tmp_path / "p.jsonl",
                                lambda i, r: r["text"]["response"].upper() if i % 3 else "I do not know")
    base = ("--judge-base-url", srv.url, "--cache-dir", str(tmp_path / "c"), "--no-progress", "--json")
    rc, out, err = cli("run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", str(MSVD),
                       "--limit", "30", "--out", str(tmp_path / "r"), "--judge-mode", "batch", *base)
    assert rc == 0, err
    res = json.loads(out)
    assert res["n_scored"] == 30 and len(srv.batches_created()) == 3 and len(srv.batch_lines) == 30
    assert [b["request_counts"]["total"] for b in srv.batches_created()] == [12, 12, 6]
    assert res["extra"]["judge_usage"]["batch"]["batches"] == ["batch_0001", "batch_0002", "batch_0003"]

    (run_dir,) = [p.parent for p in (tmp_path / "r").glob("*/msvd-qa/*/spec.json")]
    rc, out, err = cli("rescore", str(run_dir), "--judge-model", "gpt-4o-mini", "--judge-mode", "batch",
                       "--batch-wait", "0", *base)
    assert rc == 1 and "(and 2 more)" in err and WAITING.match(err.replace(" (and 2 more)", "")), err
    rc, out, err = cli("rescore", str(run_dir), "--judge-model", "gpt-4o-mini", "--judge-mode", "batch", *base)
    assert rc == 0, err
    assert json.loads(out)["judge_model"] == "gpt-4o-mini" and json.loads(out)["n_scored"] == 30
    assert len(srv.batches_created()) == 6 and {b["model"] for b in srv.batch_bodies()[30:]} == {"gpt-4o-mini"}
    assert not srv.requests


# -- the contract with metrics ----------------------------------------------------------------------
class Swallowing(Metric):
    """A careless metric: it catches everything around the judge and reports a failure."""

    name = "swallowing"
    headline = "x"
    needs_judge = True

    async def score(self, sample, prediction, ctx):
        try:
            ans = await ctx.judge.ask([{"role": "user", "content": sample.id}], str)
        except BaseException:  # noqa: BLE001 - deliberately careless
            return SampleScore(sample_id=sample.id, status="failed", reason="swallowed")
        return SampleScore(sample_id=sample.id, fields={"echo": ans.value}, judge_calls=ans.keys)


def test_a_waiting_sample_is_never_emitted_even_by_a_careless_metric(env, srv, tmp_path):
    from harness.runner import _score_async
    from harness.types import ScoreSpec

    items = [(Sample(id=f"s{i}", benchmark="b", idx=i, dataset="d", prompt="p", cluster=f"v{i}"),
              Prediction(sample_id=f"s{i}", text="t")) for i in range(3)]
    emitted: list[SampleScore] = []

    async def go(wait):
        args = SimpleNamespace(judge_model="m", judge_base_url=srv.url, judge_concurrency=8, judge_budget=None,
                               judge_mode="batch", batch_wait=wait, cache_dir=str(tmp_path / "c"))
        config = judge_config(args, Environment.load(FAST))
        usage = await _score_async(Swallowing(), items, ScoreSpec(metric="swallowing"), config, emitted.append, None,
                                   tmp_path / "s")
        return usage["batch"]

    with pytest.raises(Exception, match="still validating"):
        asyncio.run(go(0))
    assert emitted == []
    summary = asyncio.run(go(10))
    assert sorted(sc.fields["echo"] for sc in emitted) == ["s0", "s1", "s2"] and summary["reattached"] == ["batch_0001"]


def test_a_batch_the_provider_no_longer_has_is_submitted_again(env, srv, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    args = dream(preds, srv, tmp_path / "rb", tmp_path / "cb", "--limit", "3", "--judge-mode", "batch")
    rc, out, err = cli(*args, "--batch-wait", "0")
    assert rc == 1 and WAITING.match(err), err
    srv.batches.clear()  # deleted on the provider's side (or a different account)
    rc, out, err = cli(*args)
    assert rc == 1 and err.count("\n") == 1 and "batch batch_0001 gone" in err and "6 unanswered" in err, err
    rc, out, err = cli(*args)
    assert rc == 0 and json.loads(out)["n_scored"] == 3, err
    assert len(srv.batch_lines) == 9 and not srv.requests
