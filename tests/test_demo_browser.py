"""`harness demo` in a real headless Chromium: upload the clip, see its frames, ask, get the answer, clear; a
model answer holding HTML stays text; a text file uploaded as a video is a message and the next upload works.
The model is gpt-4o against a loopback OpenAI-compatible server (tests/fake_api_servers.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import DEMO_VIDEO, REPO
from fake_api_servers import OpenAIServer

CHROMIUM = os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script> **not bold**'

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"Chromium not found ({CHROMIUM})")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reply(body) -> str:
    last = body["messages"][-1]["content"]
    text = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last)
    if "html" in text:
        return PAYLOAD
    images = sum(1 for m in body["messages"] if isinstance(m["content"], list)
                 for p in m["content"] if p.get("type") == "image_url")
    return f"A man in the snow, seen in {images} frames.\nSecond line."


@contextlib.contextmanager
def running_demo(tmp: Path, *extra: str):
    """`harness demo --model gpt-4o` against a loopback server, on a free port, until the block ends."""
    port = _free_port()
    with OpenAIServer(reply=_reply) as srv, open(tmp / "demo.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "demo", "--model", "gpt-4o", "--base-url", srv.url,
                                 "--port", str(port), "--cache-dir", str(tmp / "cache"), "--frames", "8", *extra],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "OPENAI_API_KEY": "sk-test", "GRADIO_ANALYTICS_ENABLED": "False"})
        url = f"http://127.0.0.1:{port}/"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    assert proc.poll() is None, (tmp / "demo.log").read_text()
                    time.sleep(0.5)
            yield {"url": url, "proc": proc, "server": srv, "tmp": tmp}
        finally:
            proc.terminate()
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    pytest.importorskip("gradio")
    with running_demo(tmp_path_factory.mktemp("demo")) as d:
        yield d


@contextlib.contextmanager
def browser_page(url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(url)
        pg.wait_for_selector("#upload input[type=file]", state="attached", timeout=60_000)
        yield pg
        browser.close()
        assert errors == []


@pytest.fixture
def page(demo):
    with browser_page(demo["url"]) as pg:
        yield pg


def status(pg) -> str:
    return pg.input_value("#status textarea")


def wait_status(pg, text: str) -> str:
    pg.wait_for_function("t => document.querySelector('#status textarea').value.includes(t)", arg=text,
                         timeout=120_000)
    return status(pg)


def upload(pg, path) -> None:
    pg.set_input_files("#upload input[type=file]", str(path))


def ask(pg, question: str, expect: str) -> None:
    pg.fill("#question textarea", question)
    pg.click("#send")
    wait_status(pg, expect)


def test_upload_ask_answer_clear(demo, page):
    upload(page, DEMO_VIDEO)
    line = wait_status(page, "Ask a question")
    assert "gpt-4o sees 8 frames at 1920x800" in line
    assert page.locator("#frames img").count() == 8  # the frames the model receives
    ask(page, "What happens?", "1 turn.")
    chat = page.inner_text("#chat")
    assert "What happens?" in chat and "A man in the snow, seen in 8 frames." in chat and "Second line." in chat
    ask(page, "And then?", "2 turns.")
    last = demo["server"].chat_bodies[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user"] and last[2]["content"] == "And then?"
    page.click("#clear")
    wait_status(page, "Cleared")
    assert page.locator("#frames img").count() == 0 and "What happens?" not in page.inner_text("#chat")
    ask(page, "Anything?", "Upload a video, GIF or image first")


def test_model_output_is_text_never_html(demo, page):
    upload(page, DEMO_VIDEO)
    wait_status(page, "Ask a question")
    ask(page, "answer with html", "1 turn.")
    assert page.evaluate("window.__xss") is None  # neither the onerror nor the script ran
    chat = page.locator("#chat")
    assert chat.locator("img").count() == 0 and chat.locator("script").count() == 0
    assert chat.locator("strong").count() == 0  # no markdown either
    text = chat.inner_text()
    assert '<img src=x onerror="window.__xss=1">' in text and "<script>window.__xss=2</script>" in text
    assert "**not bold**" in text


def test_a_bad_upload_is_a_message_and_the_next_upload_works(demo, page):
    fake = demo["tmp"] / "clip.mp4"
    fake.write_text("this is a text file, not a video\n")
    upload(page, fake)
    line = wait_status(page, "Could not use")
    assert "clip.mp4" in line and "cannot decode" in line and "Upload another file" in line
    assert page.locator("#frames img").count() == 0
    assert demo["proc"].poll() is None  # the demo keeps running
    upload(page, DEMO_VIDEO)
    wait_status(page, "Ask a question")
    ask(page, "What happens?", "1 turn.")
    assert "seen in 8 frames" in page.inner_text("#chat")


def test_an_upload_above_the_size_limit_is_refused_on_the_page(tmp_path):
    pytest.importorskip("gradio")
    with running_demo(tmp_path, "--max-upload-mb", "1") as d, browser_page(d["url"]) as pg:
        upload(pg, DEMO_VIDEO)  # 2.9 MB
        pg.wait_for_function("document.body.innerText.includes('exceed the maximum allowed size of 1.0 Mb')",
                             timeout=60_000)
        assert "Ask a question" not in status(pg) and d["server"].chat_bodies == []
        assert d["proc"].poll() is None
