"""The model client as every caller sees it: the same identities and caches as before it was shared, one
settings object, no HTTP client imported for a warm re-score, the Gemini transport under the one policy."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import ANNOTATIONS, REPO, harness_cli
from fake_api_servers import GeminiServer
from judge_server import write_dream_predictions
from tiny_models import make_video

from harness import registry
from harness.adapter import AdapterOptions
from harness.cli.judge_args import judge_config
from harness.client.config import model_limits, openai_config
from harness.client.core import ModelClient
from harness.errors import BadInput, EndpointRefused
from harness.settings import Environment
from harness.types import Sample, ScoreSpec

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
EXTRACT = [{"role": "user", "content": "Bellow is a description of a video clip:\nVideo Description: a man runs."}]
QA_PROMPT = "USER: <video> how do\n(A) x\n(B) y\nASSISTANT: Answer: ("


def judge(url=None, **env):
    args = SimpleNamespace(judge_model="gpt-35-turbo-0125", judge_base_url=url, judge_concurrency=64,
                           judge_budget=None, cache_dir=None, judge_mode="online", batch_wait=None)
    return judge_config(args, Environment.load(env))


def keys(config, messages, *calls):
    async def main():
        client = ModelClient(config)
        try:
            return [client.cache_key(messages, params, attempt) for params, attempt in calls]
        finally:
            await client.aclose()

    return asyncio.run(main())


# Score hashes and cache keys computed by the judge client this one replaced (harness/judge.py before the
# shared client): the same judge keeps its score folders, and its cached answers stay warm.
def test_score_identity_and_cache_keys_are_those_of_the_client_before(tmp_path):
    cases = {
        "local": (judge("http://user:sk-x@127.0.0.1:8000/v1/", HARNESS_CACHE_DIR=str(tmp_path)), "7528a96c0a5ec92e",
                  ["333a4cb4d493e9e087281278aea9221d6665d641b645ae562e619d99859cb448",
                   "390dbd4de0be700cf68343b29e7c11043d5587793c5a7de6aa79c72fdd05ef21",
                   "54e81471a1bff90db85c4e8b39d7ee34478830a128f0017c6343e048238370d5"]),
        "openai": (judge(OPENAI_API_KEY="sk-a", HARNESS_CACHE_DIR=str(tmp_path)), "c492cbe1664a7468",
                   ["5936ebfc5fb526fb9859ad63216ca556984ac5bba04efb35243984d3a26b6e8c",
                    "5ce12c142ff827e43d89bdfc048af094d361ed33d312f0b8a1f9b4f3f61818df",
                    "f5c657c5e80eb3b1c4b314017767e00a1b0e10d46f2adf9b61b6d647d0b4389a"]),
        "azure": (judge(AZURE_OPENAI_ENDPOINT="https://res.openai.azure.com/", AZURE_OPENAI_API_KEY="k",
                        AZURE_OPENAI_API_VERSION="2024-06-01", HARNESS_CACHE_DIR=str(tmp_path)), "ad15df8a37ceeb0c",
                  ["0ee25c44d041ae85b7e0515cf2b0114e01f10e5a82185f5cc4ab4aff03c8a5dc",
                   "5eea09bc01af591fdbb021f0855fc3474db1c56c6ef3ee16229f23eb7594283e",
                   "d55301c49fb7b4f3d6bba6417ede6c0c75c23e81e89f20d6a7749afe8e4d0570"]),
    }
    for name, (config, score_hash, expected) in cases.items():
        assert ScoreSpec(metric="autodq", protocol="tarsier", judge=config.spec()).hash() == score_hash, name
        assert keys(config, EXTRACT, (None, 0), (None, 3), ({"temperature": 0, "max_tokens": 512}, 0)) == expected, name

    # the GPT-4o adapter's requests: the key the adapter's old settings gave (no Azure, the explicit URL)
    env = Environment.load({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "AZURE_OPENAI_API_KEY": "k"})
    gpt4o = openai_config(env, role="model", model="gpt-4o", base_url="http://127.0.0.1:9/v1", allow_azure=False,
                          **model_limits(env, str(tmp_path), 16))
    image = [{"role": "user", "content": [
        {"type": "text", "text": "how do"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA", "detail": "low"}},
        {"type": "text", "text": "Answer: ("}]}]
    assert keys(gpt4o, image, ({"temperature": 0, "max_tokens": 512}, 0)) == [
        "75981588641e12063f6ccc084050b6a97153824dcdc26202c26e3e7ec264e2f9"]


def test_a_malformed_variable_is_one_line_naming_it(tmp_path):
    with pytest.raises(BadInput, match=r"^HARNESS_JUDGE_TIMEOUT='soon': .*number"):
        Environment.load({"HARNESS_JUDGE_TIMEOUT": "soon"})
    with pytest.raises(BadInput, match=r"^HARNESS_JUDGE_PRICE='1': must be 'IN,OUT'"):
        Environment.load({"HARNESS_JUDGE_PRICE": "1"})
    assert Environment.load({"GOOGLE_API_KEY": "g"}).gemini_api_key.get_secret_value() == "g"
    assert "g-secret" not in repr(Environment.load({"GEMINI_API_KEY": "g-secret"}))

    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM),
                       "--judge-base-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "r"),
                       env={"HARNESS_JUDGE_RETRIES": "0"})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("harness: HARNESS_JUDGE_RETRIES='0': ") and not (tmp_path / "r").exists()


# A re-score answered by the cache makes no call and imports no HTTP client (openai costs ~1.5 s to import).
WARM = ("import sys\nfrom harness.cli import main\nrc = main(sys.argv[1:])\n"
        "print('HTTP', sorted(m for m in ('openai', 'httpx', 'httpx2', 'aiohttp') if m in sys.modules), "
        "file=sys.stderr)\nsys.exit(rc)\n")


@pytest.mark.slow
def test_a_warm_rescore_makes_no_call_and_imports_no_http_client(env, server, tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")

    def run(out):
        cmd = [sys.executable, "-c", WARM, "run", "--model", f"file:{preds}", "--bench", "dream", "--annotations",
               str(DREAM), "--limit", "30", "--protocol", "tarsier", "--judge-base-url", server.url, "--cache-dir",
               str(tmp_path / "c"), "--out", str(tmp_path / out), "--json", "--no-progress"]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout), proc.stderr.strip().splitlines()[-1]

    server.reset()
    cold, cold_http = run("cold")
    assert len(server.requests) == 90 and cold_http == "HTTP ['aiohttp']"  # the lean client, not the SDK
    server.reset()
    warm, warm_http = run("warm")  # a fresh run folder: every sample scored again, from the cache
    assert len(server.requests) == 0 and warm_http == "HTTP []"
    assert warm["extra"]["judge_usage"]["cache_hits"] == 90 and warm["metrics"] == cold["metrics"]
    assert warm["judge"] == cold["judge"]


# -- Gemini: the same client, cache and policy --------------------------------------------------------
def gemini(srv, cache, tmp_path, **env):
    options = AdapterOptions(base_url=srv.url, cache_dir=str(cache),
                             env=Environment.load({"GEMINI_API_KEY": "g-test", "HARNESS_GEMINI_POLL": "0.01", **env}))
    return registry.adapter("gemini-1.5-pro", options)


@pytest.fixture
def video(tmp_path):
    return make_video(tmp_path / "v1.mp4", n_frames=12, size=(64, 48), seed=1)


def test_gemini_answers_from_the_cache_of_the_adapter_before(video, tmp_path):
    """Gemini had a cache of its own (<cache>/gemini); its answers move into the shared cache once."""
    pytest.importorskip("google.genai")
    import diskcache

    video = Path(video)
    media = hashlib.sha256(video.read_bytes()).hexdigest()
    config = {"temperature": 0.0, "max_output_tokens": 512}
    # the old key: model, input, media hash, text before and after the video, generation config
    old_key = hashlib.sha256(json.dumps(["gemini-1.5-pro", "video", media, "", "how do\n(A) x\n(B) y\nAnswer: (",
                                         config], sort_keys=True).encode()).hexdigest()
    with diskcache.Cache(str(tmp_path / "cache" / "gemini")) as old:
        old.set(old_key, {"text": "(B) from the old cache", "prompt_tokens": 300, "completion_tokens": 7})
    sample = Sample(id="s1", benchmark="next-qa", idx=0, dataset="x", video=str(video), prompt=QA_PROMPT, cluster="c")
    with GeminiServer() as srv:
        a = gemini(srv, tmp_path / "cache", tmp_path)
        (pred,) = a.generate([sample])
        a.close()
        assert srv.count("POST", ":generateContent") == 0
    assert pred.text == "(B) from the old cache" and pred.meta.get("cached") is True
    assert (tmp_path / "cache" / "gemini.imported").is_dir() and not (tmp_path / "cache" / "gemini").exists()


@pytest.mark.slow
def test_gemini_retries_under_the_one_policy_and_a_refused_key_stops(video, tmp_path):
    pytest.importorskip("google.genai")
    sample = Sample(id="s1", benchmark="next-qa", idx=0, dataset="x", video=str(video), prompt=QA_PROMPT, cluster="c")
    with GeminiServer() as srv:
        srv.faults = [503]
        a = gemini(srv, tmp_path / "c1", tmp_path)
        (pred,) = a.generate([sample])
        a.close()
        assert pred.ok and pred.text.startswith("A video (1 files") and srv.count("POST", ":generateContent") == 2

        srv.faults = [401]
        a = gemini(srv, tmp_path / "c2", tmp_path)
        with pytest.raises(EndpointRefused, match="refused the credentials"):
            a.generate([sample])
        a.close()

        srv.faults = [400]  # the request itself is refused: one failed sample, the run goes on
        a = gemini(srv, tmp_path / "c3", tmp_path)
        (pred,) = a.generate([sample])
        a.close()
        assert not pred.ok and pred.error.startswith("api: BadRequestError 400")


def test_adapters_hold_the_model_client_and_know_no_judge():
    """The judge is a role of the one client: no adapter names it or borrows its settings."""
    for path in (REPO / "adapters").glob("*.py"):
        assert "Judge" not in path.read_text(encoding="utf-8"), path


# -- streaming (harness chat / describe / demo) ------------------------------------------------
def _client(srv, cache):
    env = Environment.load({"OPENAI_API_KEY": "sk-test", "HARNESS_API_RETRIES": "3"})
    return ModelClient(openai_config(env, role="model", model="m", base_url=srv.url, allow_azure=False,
                                     **model_limits(env, str(cache), 1)))


def test_a_streamed_answer_comes_in_pieces_and_is_cached_as_the_whole_answer(tmp_path):
    from fake_api_servers import OpenAIServer

    msgs = [{"role": "user", "content": "describe"}]
    pieces: list[str] = []

    async def go(on_text):
        client = _client(srv, tmp_path / "cache")
        try:
            return await client.complete(msgs, {"temperature": 0}, on_text=on_text)
        finally:
            await client.aclose()

    with OpenAIServer(reply="a man opens the door slowly") as srv:
        record = asyncio.run(go(pieces.append))
        assert pieces == ["a ", "man ", "opens ", "the ", "door ", "slowly"] and record["text"] == "".join(pieces)
        (body,) = srv.chat_bodies
        assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
        assert record["prompt_tokens"] == 20 and record["completion_tokens"] == 5 and record["finish_reason"] == "stop"
        again = asyncio.run(go(None))  # the same request without streaming: answered from the cache
        assert len(srv.chat_bodies) == 1 and again["text"] == record["text"]


def test_a_stream_that_breaks_off_is_not_asked_again(tmp_path):
    """Retrying a stream that already showed text would show it twice: it fails once, with its reason."""
    from fake_api_servers import OpenAIServer

    from harness.errors import CallFailed

    pieces: list[str] = []

    async def go():
        client = _client(srv, tmp_path / "cache")
        try:
            return await client.complete([{"role": "user", "content": "x"}], None, on_text=pieces.append)
        finally:
            await client.aclose()

    with OpenAIServer(reply="one two three four") as srv:
        srv.cut_stream = True
        with pytest.raises(CallFailed, match="stream ended.*broke off after 8 characters"):
            asyncio.run(go())
        assert len(srv.chat_bodies) == 1 and pieces == ["one ", "two "]
