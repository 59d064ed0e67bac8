"""A judge audit's repeats (ClientConfig.repeat): the same question asked again gets its own cache entries,
apart from repeat 0 (the run's own answers) and from every re-ask number, with the same request on the wire."""

from __future__ import annotations

import asyncio
import hashlib
import json

from harness.client.config import ClientConfig
from harness.client.core import REPLAY_FACTOR, ModelClient
from judge_server import JudgeServer

QUESTION = [{"role": "user", "content": "Is a man running?"}]  # the loopback judge echoes it


def config(tmp_path, url="http://127.0.0.1:9/v1", **fields) -> ClientConfig:
    return ClientConfig(model="judge-x", endpoint=url, explicit_endpoint=True, api_key="EMPTY",
                        cache_root=str(tmp_path), **fields)


def keys_of(cfg: ClientConfig, attempts: range) -> list[str]:
    async def main():
        client = ModelClient(cfg)
        try:
            return [client.cache_key(QUESTION, None, a) for a in attempts]
        finally:
            await client.aclose()

    return asyncio.run(main())


def test_repeat_keys_never_meet_reask_numbers_and_repeat_0_keys_as_before(tmp_path):
    every_reask = range(10 * REPLAY_FACTOR + 1)  # every answer number `ask` can reach
    by_repeat = {r: keys_of(config(tmp_path, repeat=r), every_reask) for r in (0, 1, 2, 7)}
    flat = [k for ks in by_repeat.values() for k in ks]
    assert len(set(flat)) == len(flat) == 4 * len(every_reask)
    # repeat 0 is the key the client always used: the run's own cached answers stay warm
    blob = json.dumps({"v": 1, "provider": "openai", "endpoint": "http://127.0.0.1:9/v1", "api_version": None,
                       "model": "judge-x", "messages": QUESTION, "params": {}, "attempt": 3},
                      sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert by_repeat[0][3] == hashlib.sha256(blob.encode()).hexdigest()


def test_each_repeat_is_asked_once_and_sends_the_same_request(tmp_path):
    with JudgeServer() as srv:
        async def ask(repeat: int, **fields):
            client = ModelClient(config(tmp_path, srv.url, repeat=repeat, **fields))
            try:
                return (await client.ask(QUESTION, str)).value
            finally:
                await client.aclose()

        for r in (0, 1, 2, 1, 0, 2):
            asyncio.run(ask(r))
        assert len(srv.requests) == 3  # one call per repeat; the second round comes from the cache
        assert len({json.dumps(b, sort_keys=True) for b in srv.bodies()}) == 1  # the wire never shows the repeat
        asyncio.run(ask(1, params={"temperature": 0.7}))  # a temperature given for the repeats: its own answers
        assert len(srv.requests) == 4 and srv.bodies()[-1]["temperature"] == 0.7
