"""A credential inside a URL (http://user:KEY@host) reaches no file, log line or page: not the run
folder (spec.json, logs), not the published record, not the site, not stdout or stderr, even when
the endpoint fails."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, DEMO_VIDEO, harness_cli, read_jsonl, write_jsonl
from judge_server import FAST, JudgeServer, write_dream_predictions

SECRET = "S3CRETKEY"
NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
DREAM = ANNOTATIONS / "DREAM-1k.jsonl"


def _with_key(url: str) -> str:
    return url.replace("http://", f"http://alice:{SECRET}@")


def _leaks(root: Path, *outputs: str) -> list[str]:
    found = [s[:200] for s in outputs if SECRET in s]
    for p in root.rglob("*"):
        if p.is_file() and "cache" not in p.parts and SECRET.encode() in p.read_bytes():
            found.append(str(p))
    return found


@pytest.fixture
def videos(tmp_path):
    rows = read_jsonl(NEXTQA)[:3]
    (tmp_path / "videos").mkdir()
    for i, row in enumerate(rows):
        row["vid"] = f"v{i}"
        shutil.copy(DEMO_VIDEO, tmp_path / "videos" / f"v{i}.mp4")
    return write_jsonl(tmp_path / "ann.jsonl", rows), tmp_path / "videos"


@pytest.mark.slow
def test_a_model_endpoint_with_credentials(tmp_path, videos):
    ann, video_root = videos
    env = {**FAST, "OPENAI_API_KEY": "sk-test"}
    with JudgeServer() as srv:  # the model under test, OpenAI-compatible
        run = harness_cli("run", "--model", "openai-compatible:m", "--base-url", _with_key(srv.url), "--bench",
                          "next-qa", "--annotations", str(ann), "--video-root", str(video_root), "--frames", "2",
                          "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), "--json",
                          "--max-failed", "1", "--publish", str(tmp_path / "results"), env=env)
        assert run.returncode == 0, run.stderr
    spec = json.loads(next((tmp_path / "runs").rglob("spec.json")).read_text())
    assert spec["generation"]["base_url"] == srv.url  # host, port and path kept
    down = harness_cli("run", "--model", "openai-compatible:m", "--base-url", f"http://bob:{SECRET}@127.0.0.1:9/v1",
                       "--bench", "next-qa", "--annotations", str(ann), "--video-root", str(video_root),
                       "--frames", "2", "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                       "--max-failed", "1", env={**env, "HARNESS_API_RETRIES": "1"})
    assert down.returncode == 0 and "127.0.0.1:9" not in down.stderr, down.stderr  # failed samples, saved
    assert any("error" in r for p in (tmp_path / "runs").rglob("predictions.jsonl") for r in read_jsonl(p))
    site = harness_cli("leaderboard", "build", "--results", str(tmp_path / "results"), "--runs",
                       str(tmp_path / "runs"), "--out", str(tmp_path / "site"), "--no-plots")
    assert site.returncode == 0, site.stderr
    assert _leaks(tmp_path, run.stdout, run.stderr, down.stdout, down.stderr, site.stdout, site.stderr) == []


@pytest.mark.slow
def test_a_judge_endpoint_with_credentials_that_fails(tmp_path):
    preds = write_dream_predictions(DREAM, tmp_path / "p.jsonl")
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--annotations", str(DREAM),
                       "--limit", "3", "--judge-base-url", f"http://bob:{SECRET}@127.0.0.1:9/v1",
                       "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"), "--no-progress",
                       env={**FAST, "OPENAI_API_KEY": "sk-test"})
    assert proc.returncode != 0 and "127.0.0.1:9" in proc.stderr, proc.stderr
    assert _leaks(tmp_path, proc.stdout, proc.stderr) == []


def test_redact_urls():
    from harness.redact import redact_tree, redact_urls

    assert redact_urls("at https://u:p@h.example:8443/v1/x?q=1 and ftp://a@b/c") == \
        "at https://h.example:8443/v1/x?q=1 and ftp://b/c"
    assert redact_urls("mail me: bob@example.org, see http://host/a@b") == \
        "mail me: bob@example.org, see http://host/a@b"
    assert redact_tree({"a": ["http://x:y@z/"], "n": 3}) == {"a": ["http://z/"], "n": 3}
