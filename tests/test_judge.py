"""The model client in the judge role against a real HTTP server on 127.0.0.1 (tests/judge_server.py)."""

from __future__ import annotations

import asyncio
import json
import socket
from types import SimpleNamespace

import pytest

from harness.cli.judge_args import judge_config
from harness.client.config import PRICES
from harness.client.core import ModelClient
from harness.errors import BudgetExceeded, EndpointRefused, EndpointUnavailable
from harness.metric import bounded_map
from harness.settings import Environment
from judge_server import FAST, JudgeServer



@pytest.fixture
def srv(server):
    server.reset()
    server.rates, server.poison, server.latency = {}, set(), 0.0
    server.retry_after, server.retry_after_ms, server.slow_seconds = "1", None, 3.0
    yield server
    server.reset()
    server.rates, server.poison, server.latency = {}, set(), 0.0


def judge_args(model="gpt-35-turbo-0125", url=None, concurrency=64, budget=None, cache=None, mode="online"):
    return SimpleNamespace(judge_model=model, judge_base_url=url, judge_concurrency=concurrency, judge_budget=budget,
                           cache_dir=None if cache is None else str(cache), judge_mode=mode, batch_wait=None)


def settings(url, cache, concurrency=8, budget=None, model="gpt-35-turbo-0125", **env):
    return judge_config(judge_args(model, url, concurrency, budget, cache), Environment.load({**FAST, **env}))


def q(i=0, text="hello"):
    return [{"role": "user", "content": f"{text} {i}"}]


def run(settings_, fn):
    async def main():
        client = ModelClient(settings_)
        try:
            return await fn(client), client.usage()
        finally:
            await client.aclose()

    return asyncio.run(main())


def gaps(srv):
    t = [r["t"] for r in srv.requests]
    return [b - a for a, b in zip(t, t[1:])]


# -- settings ---------------------------------------------------------------------------------
def test_endpoint_selection_and_spec_has_no_secret():
    args = judge_args()
    none = judge_config(args, Environment.load({}))
    assert not none.configured()
    assert not judge_config(args, Environment.load({"OPENAI_BASE_URL": "http://x/v1"})).configured()

    openai_ = judge_config(args, Environment.load({"OPENAI_API_KEY": "sk-secret-1"}))
    assert openai_.configured() and openai_.provider == "openai"
    assert openai_.spec().base_url is None

    azure = judge_config(args, Environment.load({
        "AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com/", "AZURE_OPENAI_API_KEY": "secret-2",
        "OPENAI_API_VERSION": "2024-02-01", "OPENAI_API_KEY": "sk-secret-1"}))
    spec = azure.spec()
    assert azure.configured() and spec.provider == "azure"
    assert spec.base_url == "https://res.openai.azure.com" and spec.api_version == "2024-02-01"
    assert "secret" not in spec.model_dump_json() and "secret" not in repr(azure.spec()) and "secret" not in repr(azure)

    args.judge_base_url = "http://127.0.0.1:9/v1/"
    local = judge_config(args, Environment.load({"AZURE_OPENAI_ENDPOINT": "x", "AZURE_OPENAI_API_KEY": "y"}))
    assert local.configured() and local.spec().provider == "openai"
    assert local.spec().base_url == "http://127.0.0.1:9/v1"  # explicit URL wins, trailing slash dropped

    with pytest.raises(Exception, match="HARNESS_JUDGE_PRICE"):
        judge_config(judge_args("my-local-judge", budget=1.0), Environment.load({}))
    priced = judge_config(judge_args("my-local-judge", budget=1.0), Environment.load({"HARNESS_JUDGE_PRICE": "0.1,0.2"}))
    assert priced.price == (0.1, 0.2)
    assert PRICES["gpt-35-turbo-0125"] == (0.5, 1.5)


def test_azure_deployment_path_and_key_header(srv, tmp_path):
    env = {"AZURE_OPENAI_ENDPOINT": f"http://127.0.0.1:{srv.port}", "AZURE_OPENAI_API_KEY": "azure-key",
           "AZURE_OPENAI_API_VERSION": "2024-06-01"}
    s = settings(None, tmp_path, **env)
    answer, usage = run(s, lambda c: c.ask(q(), str))
    assert answer.ok and answer.value == "hello 0"
    (req,) = srv.requests
    assert req["path"] == "/openai/deployments/gpt-35-turbo-0125/chat/completions?api-version=2024-06-01"
    assert req["auth"] == "azure-key"
    assert req["body"] == {"model": "gpt-35-turbo-0125", "messages": q()}  # nothing else sent


# -- transient failures -------------------------------------------------------------------------
@pytest.mark.slow
def test_500_drop_timeout_and_429_are_retried(srv, tmp_path):
    srv.script = ["500", "drop", "slow", "429"]
    srv.retry_after = "0"
    answer, usage = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), str))
    assert answer.ok and answer.value == "hello 0" and answer.calls == 1
    assert [r["fault"] for r in srv.requests] == ["500", "drop", "slow", "429", None]
    assert usage["retries"] == 4 and usage["calls"] == 1 and usage["requests"] == 5
    assert set(usage["errors"]) == {"InternalServerError", "APIConnectionError", "APITimeoutError", "RateLimitError"}


@pytest.mark.slow
def test_retry_after_is_honoured(srv, tmp_path):
    srv.script = ["429"]
    srv.retry_after = "1"
    s = settings(srv.url, tmp_path, HARNESS_JUDGE_RETRY_MAX_WAIT="5")
    answer, _ = run(s, lambda c: c.ask(q(1), str))
    assert answer.ok
    assert 0.95 <= gaps(srv)[0] < 3

    srv.reset()
    srv.script = ["429"]
    srv.retry_after, srv.retry_after_ms = "30", "300"  # retry-after-ms is the precise one
    answer, _ = run(s, lambda c: c.ask(q(2), str))
    assert answer.ok
    assert 0.28 <= gaps(srv)[0] < 3


def test_retries_are_bounded_and_api_failures_count_as_attempts(srv, tmp_path):
    srv.script = ["500"] * 6
    s = settings(srv.url, tmp_path, HARNESS_JUDGE_RETRIES="2")
    answer, usage = run(s, lambda c: c.ask(q(), str, max_attempts=3))
    assert not answer.ok and answer.calls == 3
    assert "api: InternalServerError 500" in answer.reason
    assert len(srv.requests) == 6  # 3 attempts x 2 tries
    srv.script = []
    answer, usage = run(s, lambda c: c.ask(q(), str, max_attempts=3))  # nothing was cached: asked again
    assert answer.ok and len(srv.requests) == 7


def test_bad_request_ends_the_question_and_auth_errors_stop_the_run(srv, tmp_path):
    srv.script = ["400"]
    answer, usage = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), str))
    assert not answer.ok and "400" in answer.reason and len(srv.requests) == 1
    srv.script = ["401"]
    with pytest.raises(EndpointRefused, match="credentials"):
        run(settings(srv.url, tmp_path), lambda c: c.ask(q(1), str))
    srv.script = ["404"]
    with pytest.raises(EndpointRefused, match="not found"):
        run(settings(srv.url, tmp_path, model="gpt-35-turbo-0125"), lambda c: c.ask(q(2), str))


def test_unreachable_endpoint_stops_the_run(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused
    s = settings(f"http://127.0.0.1:{port}/v1", tmp_path, HARNESS_JUDGE_RETRIES="2",
                 HARNESS_JUDGE_UNAVAILABLE_AFTER="3")
    with pytest.raises(EndpointUnavailable, match="unavailable"):
        run(s, lambda c: asyncio.gather(*(c.ask(q(i), str) for i in range(20))))


# -- validation, re-asks and the cache --------------------------------------------------------
def only_hello(text: str) -> str:
    if not text.startswith("hello"):
        raise ValueError("not a greeting")
    return text


def test_reask_after_invalid_answers_and_warm_replay(srv, tmp_path):
    srv.script = ["garbage", "garbage"]
    answer, usage = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), only_hello))
    assert answer.ok and answer.value == "hello 0" and answer.attempts == 3 and answer.calls == 3
    assert len(answer.keys) == 3 and len(set(answer.keys)) == 3  # a new key per answer number
    assert usage["invalid_answers"] == 2 and len(srv.requests) == 3

    answer2, usage2 = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), only_hello))
    assert len(srv.requests) == 3  # a warm re-run makes no call...
    assert (answer2.value, answer2.attempts, answer2.keys, answer2.calls) == ("hello 0", 3, answer.keys, 0)
    assert usage2["cache_hits"] == 3 and usage2["calls"] == 0  # ...and replays the same sequence


def test_invalid_answer_is_never_served_as_valid_and_failed_question_retries_next_run(srv, tmp_path):
    srv.poison = {"hello 0"}
    answer, _ = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), only_hello, max_attempts=4))
    assert not answer.ok and answer.calls == 4 and len(srv.requests) == 4
    assert "4 tries in this run failed" in answer.reason and "invalid answer: not a greeting" in answer.reason

    # the same run again: the cached garbage is replayed for free and rejected again, then new tries
    answer, usage = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), only_hello, max_attempts=4))
    assert not answer.ok and answer.calls == 4 and len(srv.requests) == 8 and usage["cache_hits"] == 4

    srv.poison = set()  # the judge behaves now: the next run succeeds with one call
    answer, usage = run(settings(srv.url, tmp_path), lambda c: c.ask(q(), only_hello, max_attempts=4))
    assert answer.ok and answer.calls == 1 and answer.attempts == 9 and len(srv.requests) == 9


def test_cache_key_covers_model_endpoint_messages_params_attempt(srv, tmp_path):
    async def keys(c):
        return {c.cache_key(q(), None, 0), c.cache_key(q(1), None, 0), c.cache_key(q(), {"temperature": 0}, 0),
                c.cache_key(q(), None, 1)}

    k1, _ = run(settings(srv.url, tmp_path), keys)
    k2, _ = run(settings(srv.url, tmp_path, model="gpt-4o"), keys)
    k3, _ = run(settings(srv.url.replace("127.0.0.1", "localhost"), tmp_path), keys)
    assert len(k1) == 4 and not k1 & k2 and not k1 & k3


def test_identical_concurrent_questions_make_one_call(srv, tmp_path):
    srv.latency = 0.1
    answers, usage = run(settings(srv.url, tmp_path), lambda c: asyncio.gather(*(c.ask(q(), str) for _ in range(5))))
    assert all(a.ok for a in answers) and len(srv.requests) == 1


# -- concurrency and money ---------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("concurrency,n", [(16, 48), (64, 160)])
def test_concurrency_is_reached_and_never_exceeded(tmp_path, concurrency, n):
    # A server of its own: a slow request left over from another test would count as in flight.
    # Latency long enough that a loaded machine still fills every slot, and a timeout far above it
    # (a request the client timed out on would still count on the server). No wall-time assertion:
    # machines are noisy, throughput is measured in bench/judge.py.
    with JudgeServer(latency=0.5) as srv:
        answers, usage = run(settings(srv.url, tmp_path, concurrency=concurrency, HARNESS_JUDGE_TIMEOUT="30"),
                             lambda c: asyncio.gather(*(c.ask(q(i), str) for i in range(n))))
        assert all(a.ok for a in answers) and len(srv.requests) == n  # none timed out and was retried
        assert srv.max_in_flight == concurrency and usage["max_in_flight"] == concurrency


def test_budget_stops_before_it_is_exceeded(srv, tmp_path):
    budget = 0.01
    s = settings(srv.url, tmp_path, concurrency=4, budget=budget)
    with pytest.raises(BudgetExceeded, match=r"judge budget \$0.0100 reached"):
        run(s, lambda c: asyncio.gather(*(c.ask(q(i, "x" * 2000), str) for i in range(200))))
    paid = [r["usage"] for r in srv.requests if r.get("usage")]
    spent = sum(u["prompt_tokens"] * 0.5 + u["completion_tokens"] * 1.5 for u in paid) / 1e6
    assert 0 < len(paid) < 200 and spent <= budget


def test_usage_counts_tokens_cost_and_cache_hits(srv, tmp_path):
    answers, usage = run(settings(srv.url, tmp_path), lambda c: asyncio.gather(*(c.ask(q(i), str) for i in range(3))))
    tokens = [r["usage"] for r in srv.requests]
    assert usage["calls"] == 3 and usage["cache_hits"] == 0
    assert usage["prompt_tokens"] == sum(t["prompt_tokens"] for t in tokens)
    assert usage["completion_tokens"] == sum(t["completion_tokens"] for t in tokens)
    assert usage["cost_usd"] == pytest.approx((usage["prompt_tokens"] * 0.5 + usage["completion_tokens"] * 1.5) / 1e6)
    assert usage["price_usd_per_million"] == [0.5, 1.5]
    json.dumps(usage)
    _, usage = run(settings(srv.url, tmp_path), lambda c: asyncio.gather(*(c.ask(q(i), str) for i in range(3))))
    assert usage["calls"] == 0 and usage["cache_hits"] == 3 and usage["cost_usd"] == 0


def test_progress_bar_shows_rate_cache_tokens_and_cost(srv, tmp_path):
    class Bar:
        text = ""

        def set_postfix_str(self, text, refresh=True):
            self.text = text

    bar = Bar()

    async def main():
        client = ModelClient(settings(srv.url, tmp_path), progress=bar)
        await client.ask(q(), str)
        await client.aclose()

    asyncio.run(main())
    assert "calls/s" in bar.text and "cached" in bar.text and "tok" in bar.text and "$" in bar.text


def test_judge_map_stops_cleanly_and_drains_work_in_flight():
    emitted = []

    async def fn(i):
        await asyncio.sleep(0.05 if i != 3 else 0.01)
        if i == 3:
            raise BudgetExceeded("stop")
        return i

    with pytest.raises(BudgetExceeded):
        asyncio.run(bounded_map(range(100), fn, emitted.append, window=5))
    assert sorted(emitted) == [0, 1, 2, 4]  # the ones in flight finished and were emitted; nothing new started


def test_error_texts_never_carry_a_key(srv, tmp_path):
    s = settings(srv.url, tmp_path, OPENAI_API_KEY="sk-test-abcdef123456")
    client = None

    async def main():
        nonlocal client
        client = ModelClient(s)
        text = client.redact("Incorrect API key provided: sk-test-abcdef123456 and sk-proj-****abcd, "
                              "key 0123456789abcdef0123456789abcdef")
        await client.aclose()
        return text

    text = asyncio.run(main())
    assert "abcdef123456" not in text and "sk-proj" not in text and "0123456789abcdef" not in text
