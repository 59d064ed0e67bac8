"""A score folder keeps the date range of the judge calls behind its result, whoever made them (this
invocation, an earlier one it resumed, the cache, a provider batch), and a result answered by another model
than the one asked is flagged. Real MSVD-QA annotations, the loopback judge (tests/judge_server.py)."""

from __future__ import annotations

import contextlib
import io
import json
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from conftest import ANNOTATIONS, tarsier_predictions
from harness.judge_identity import identify, same_model
from harness.types import JudgeSpec

MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"
PAST = datetime(2024, 3, 5, 12, 0, tzinfo=timezone.utc).timestamp()
TODAY = lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d")  # noqa: E731


def cli(*argv):
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def msvd(preds, srv, tmp_path, out="r", *extra):
    return ("run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", str(MSVD), "--limit", "6",
            "--judge-base-url", srv.url, "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / out),
            "--json", "--no-progress", *extra)


@pytest.fixture
def preds(tmp_path):
    return tarsier_predictions(MSVD, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])


def past_clock(monkeypatch):
    """The client's wall clock (the `created` of its answers) set to PAST; timers keep running."""
    from harness.client import core

    monkeypatch.setattr(core, "time", SimpleNamespace(time=lambda: PAST, perf_counter=time.perf_counter,
                                                      monotonic=time.monotonic))


def test_a_resumed_scoring_keeps_the_dates_of_the_calls_it_reused(env, server, preds, tmp_path, monkeypatch):
    server.reset()
    with monkeypatch.context() as mp:
        past_clock(mp)
        server.script = ["400"]  # one question refused: its sample fails, nothing of it is cached
        rc, out, err = cli(*msvd(preds, server, tmp_path))
    first = json.loads(out)
    assert rc == 1 and first["n_failed"] == 1 and first["n_scored"] == 5, err
    assert first["judge"]["first_call"] == first["judge"]["last_call"] == "2024-03-05"
    server.reset()
    rc, out, err = cli(*msvd(preds, server, tmp_path))  # today: only the failed sample is judged
    again = json.loads(out)
    assert rc == 0 and again["n_scored"] == 6 and len(server.requests) == 1, err
    assert again["extra"]["judge_usage"]["calls"] == 1 and again["extra"]["judge_usage"]["cache_hits"] == 0
    # the result stands on five answers of 2024-03-05 and one of today
    assert (again["judge"]["first_call"], again["judge"]["last_call"]) == ("2024-03-05", TODAY())


def test_answers_from_the_cache_keep_the_date_they_were_made(env, server, preds, tmp_path, monkeypatch):
    server.reset()
    with monkeypatch.context() as mp:
        past_clock(mp)
        rc, out, err = cli(*msvd(preds, server, tmp_path))
    assert rc == 0, err
    rc, out, err = cli(*msvd(preds, server, tmp_path, "other-out"))  # another run folder, the same cache
    res = json.loads(out)
    assert rc == 0 and res["extra"]["judge_usage"]["cache_hits"] == 6 and res["extra"]["judge_usage"]["calls"] == 0
    assert res["judge"]["first_call"] == res["judge"]["last_call"] == "2024-03-05"


def test_batch_answers_are_dated_when_the_provider_made_them(env, server, preds, tmp_path):
    server.reset()
    server.batch_created = int(PAST)  # the batch ran on 2024-03-05; its output is read today
    try:
        rc, out, err = cli(*msvd(preds, server, tmp_path, "r", "--judge-mode", "batch"))
    finally:
        server.batch_created = None
    res = json.loads(out)
    assert rc == 0 and res["extra"]["judge_usage"]["batch_calls"] == 6, err
    assert res["judge"]["first_call"] == res["judge"]["last_call"] == "2024-03-05"


# -- the model that answered -----------------------------------------------------------------------
def test_same_model_allows_snapshots_and_provider_spellings_only():
    assert same_model("gpt-4o-mini", "gpt-4o-mini-2024-07-18")  # an alias answered by its snapshot
    assert same_model("gpt-35-turbo-0125", "gpt-35-turbo")  # Azure names the family, not the version
    assert same_model("gpt-3.5-turbo-0125", "gpt-35-turbo-0125")
    assert not same_model("gpt-35-turbo-0125", "gpt-35-turbo-1106")
    assert not same_model("gpt-35-turbo-0125", "gpt-4o")
    assert not same_model("gpt-4o", "gpt-4o-mini")  # a prefix of the name is not the same model
    azure = JudgeSpec(model="gpt-35-turbo-0125", base_url="https://x.openai.azure.com", provider="azure")
    assert identify(azure, ["gpt-35-turbo"]).official and not identify(azure, ["gpt-35-turbo"]).answered_differs
    swapped = identify(azure, ["gpt-35-turbo", "gpt-4o-2024-08-06"])
    assert swapped.answered_differs and not swapped.official  # not the protocol's judge, whatever was asked


def test_a_result_answered_by_another_model_is_flagged_and_published_so(env, server, preds, tmp_path):
    from harness.leaderboard.data import judge_origin
    from harness.results import load_dir

    server.reset()
    server.answer_model = "llama-3-8b-instruct"
    try:
        rc, out, err = cli(*msvd(preds, server, tmp_path, "r", "--publish", str(tmp_path / "results")))
    finally:
        server.answer_model = None
    judge = json.loads(out)["judge"]
    assert rc == 0 and judge["answered"] == ["llama-3-8b-instruct"] and judge["answered_differs"] is True, err
    (record,) = load_dir(tmp_path / "results")
    assert record.judge_identity.answered_differs is True
    assert "answered as llama-3-8b-instruct" in judge_origin(record)  # its own flagged column on the board
