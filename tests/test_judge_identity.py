"""The judge is named by what really answered: provider, host, API version, answering model; no secret."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions
from judge_server import FAST, JudgeServer

from harness.judge_identity import identify, safe_url
from harness.types import JudgeSpec

MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"


def test_safe_url_keeps_scheme_host_port_path_only():
    assert safe_url("http://user:sk-SECRET@127.0.0.1:8000/v1/?key=sk-SECRET#x") == "http://127.0.0.1:8000/v1"
    assert safe_url("https://tok@[::1]:9/v1") == "https://[::1]:9/v1"
    assert safe_url("https://my.openai.azure.com/") == "https://my.openai.azure.com"
    assert safe_url(None) is None


def test_only_azure_gpt35_0125_is_the_official_judge():
    azure = JudgeSpec(model="gpt-35-turbo-0125", base_url="https://x.openai.azure.com", provider="azure",
                      api_version="2024-06-01")
    local = JudgeSpec(model="gpt-35-turbo-0125", base_url="http://127.0.0.1:8000/v1")
    openai = JudgeSpec(model="gpt-35-turbo-0125")
    assert identify(azure, ["gpt-35-turbo"]).official
    assert identify(azure).provider == "azure" and identify(azure).api_version == "2024-06-01"
    assert not identify(local).official and identify(local).provider == "openai-compatible"
    assert identify(openai).provider == "openai" and identify(openai).host == "https://api.openai.com/v1"
    assert not identify(openai).official
    assert not identify(azure.model_copy(update={"model": "gpt-4o-mini"})).official


@pytest.mark.slow
def test_run_records_who_answered_and_no_credential(tmp_path, env):
    preds = tarsier_predictions(MSVD, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    with JudgeServer() as srv:
        url = srv.url.replace("http://", "http://alice:sk-TOPSECRET123@")
        args = ["run", "--model", f"file:{preds}", "--bench", "msvd-qa", "--annotations", str(MSVD),
                "--limit", "5", "--judge-base-url", url, "--cache-dir", str(tmp_path / "c"),
                "--out", str(tmp_path / "r"), "--json", "--no-progress"]
        first = harness_cli(*args, env=FAST)
        assert first.returncode == 0, first.stderr
        n_calls = len(srv.requests)
        again = harness_cli(*args, env=FAST)  # all scored already: no client, same identity
        assert again.returncode == 0 and len(srv.requests) == n_calls
    for proc in (first, again):
        judge = json.loads(proc.stdout)["judge"]
        assert judge["model"] == "gpt-35-turbo-0125" and judge["answered"] == ["gpt-35-turbo-0125"]
        assert judge["provider"] == "openai-compatible" and judge["official"] is False
        assert judge["host"] == srv.url and judge["first_call"] and judge["last_call"]
    written = "".join(p.read_text(errors="replace") for p in (tmp_path / "r").rglob("*") if p.is_file())
    assert "TOPSECRET" not in written and "alice" not in written
    assert "TOPSECRET" not in first.stderr + first.stdout
    assert len(read_jsonl(preds)) == 6415
