"""`harness describe` and `harness chat` as a user runs them: against a loopback OpenAI-compatible server
(tests/fake_api_servers.py), in a real terminal for chat (tmux), and on tiny local checkpoints (slow)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from conftest import DEMO_VIDEO, REPO, assert_one_line, harness_cli
from fake_api_servers import OpenAIServer
from tiny_models import make_video

from harness.conversation import Transcript, check_messages, conversation_sample, input_sample
from harness.errors import BadInput

API_ENV = {"OPENAI_API_KEY": "sk-test", "HARNESS_API_RETRIES": "1"}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """A GIF of 10 frames, a PNG, a folder of 5 frame images, and a text file named like a video."""
    from PIL import Image

    root = tmp_path_factory.mktemp("media")
    frames = [Image.new("RGB", (48, 32), (25 * i, 100, 200 - 20 * i)) for i in range(10)]
    frames[0].save(root / "clip.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[3].save(root / "still.png")
    (root / "frames").mkdir()
    for i in (1, 2, 10, 3, 4):  # name order, numbers read as numbers: 1 2 3 4 10
        frames[i % 10].save(root / "frames" / f"f{i}.png")
    (root / "notes.mp4").write_text("this is not a video\n")
    return root


# -- the conversation's pieces -------------------------------------------------------------------
def test_inputs_and_conversations_are_checked(media, tmp_path):
    folder = input_sample(media / "frames")
    assert [os.path.basename(f) for f in folder.extra["frame_files"]] == ["f1.png", "f2.png", "f3.png", "f4.png", "f10.png"]
    with pytest.raises(BadInput, match="no such file"):
        input_sample(tmp_path / "nope.mp4")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="no image file"):
        input_sample(tmp_path / "empty")
    with pytest.raises(BadInput, match="not a video, GIF or image"):
        input_sample(REPO / "README.md")
    with pytest.raises(BadInput, match="end with a user message"):
        check_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    with pytest.raises(BadInput, match="message 2: expected a assistant turn"):
        check_messages([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    s = conversation_sample(input_sample(DEMO_VIDEO), [{"role": "user", "content": "What?"},
                                                       {"role": "assistant", "content": "A man."},
                                                       {"role": "user", "content": "Then?"}])
    assert s.prompt == "<video>\nWhat?" and [t["content"] for t in s.extra["turns"]] == ["A man.", "Then?"]
    t = Transcript(str(DEMO_VIDEO), "gpt-4o", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    assert Transcript.load(t.save(tmp_path / "t.json")) == t
    (tmp_path / "odd.json").write_text(json.dumps({"messages": [{"role": "user", "content": "a"}]}))
    with pytest.raises(BadInput, match="question without an answer"):
        Transcript.load(tmp_path / "odd.json")


# -- describe --------------------------------------------------------------------------------------
def test_describe_with_gpt4o_sends_the_profiles_16_frames(tmp_path):
    with OpenAIServer() as srv:
        proc = harness_cli("describe", str(DEMO_VIDEO), "--model", "gpt-4o", "--base-url", srv.url,
                           "--cache-dir", str(tmp_path / "c"), env=API_ENV)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "(A) saw 16 images\n"
        (body,) = srv.chat_bodies
        assert body["model"] == "gpt-4o-2024-05-13" and body["stream"] is True
        content = body["messages"][0]["content"]
        assert content[0] == {"type": "text", "text": "Describe the video in detail."}
        assert [p["image_url"]["detail"] for p in content[1:]] == ["high"] * 16
        # the endpoint from the environment works the same way; --json gives the inputs record
        proc = harness_cli("describe", str(DEMO_VIDEO), "--model", "gpt-4o", "--json", "--cache-dir",
                           str(tmp_path / "c"), env={**API_ENV, "OPENAI_BASE_URL": srv.url})
        assert proc.returncode == 0, proc.stderr
        assert len(srv.chat_bodies) == 1  # the same request: answered from the cache
    out = json.loads(proc.stdout)
    assert out["text"] == "(A) saw 16 images" and out["profile"] == "gpt-4o" and out["overridden"] == {}
    inputs = out["inputs"]
    assert inputs["frame_indices"] == [0, 6, 11, 17, 22, 28, 33, 39, 44, 50, 55, 61, 66, 72, 77, 83]
    assert inputs["decoded_wh"] == [1920, 800] and inputs["resized_wh"] == [1843, 768] and inputs["images"] == 16
    assert inputs["prompt"] == "USER: Describe the video in detail.<image>*16" and len(inputs["prompt_sha256"]) == 64


def test_describe_a_gif_a_png_and_a_folder_of_frames(media, tmp_path):
    with OpenAIServer() as srv:
        proc = harness_cli("describe", str(media / "clip.gif"), str(media / "still.png"), str(media / "frames"),
                           "--model", "gpt-4o", "--base-url", srv.url, "--cache-dir", str(tmp_path / "c"),
                           "--instruction", "What is shown?", env=API_ENV)
        assert proc.returncode == 0, proc.stderr
        counts = [sum(p["type"] == "image_url" for p in b["messages"][0]["content"]) for b in srv.chat_bodies]
    # a GIF gets the profile's 16 frames (its 10 repeated, as for any short clip); an image is one frame;
    # a folder is a list of frame files, each read once
    assert counts == [16, 1, 5]
    assert proc.stdout.count("(A) saw 16 images") == 1 and "(A) saw 1 images" in proc.stdout
    assert "== " + str(media / "clip.gif") + " (16 frames at 48x32" in proc.stdout
    assert "saw 5 images" in proc.stdout
    assert all(b["messages"][0]["content"][0]["text"] == "What is shown?" for b in srv.chat_bodies)


def test_describe_bad_input_is_one_line_and_exit_2(media, tmp_path):
    with OpenAIServer() as srv:
        common = ("--model", "gpt-4o", "--base-url", srv.url, "--cache-dir", str(tmp_path / "c"))
        assert_one_line(harness_cli("describe", str(tmp_path / "missing.mp4"), *common, env=API_ENV), "no such file")
        assert_one_line(harness_cli("describe", str(media / "notes.mp4"), *common, env=API_ENV), "notes.mp4", "cannot decode")
        assert_one_line(harness_cli("describe", str(DEMO_VIDEO), "--model", "nope", env=API_ENV), "unknown model 'nope'")
        assert_one_line(harness_cli("describe", str(DEMO_VIDEO), "--model", "gpt-4o", "--frames", "86", *common[2:],
                             env=API_ENV), "at most 85 frames")
        assert srv.chat_bodies == []  # nothing was asked
        # one bad input among good ones: the good one is described, the bad one named, exit 2
        proc = harness_cli("describe", str(media / "still.png"), str(media / "notes.mp4"), *common, env=API_ENV)
        assert proc.returncode == 2 and "(A) saw 1 images" in proc.stdout and "notes.mp4" in proc.stderr
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "describe", str(DEMO_VIDEO), "--model", "gpt-4o"],
                          capture_output=True, text=True, env=env, cwd=REPO)
    assert_one_line(proc, "needs OPENAI_API_KEY")


def test_describe_a_local_model_without_a_gpu_or_weights_is_one_line(tmp_path):
    pytest.importorskip("torch")
    proc = harness_cli("describe", str(DEMO_VIDEO), "--model", "tarsier-7b",
                       env={"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "hf"),
                            "CUDA_VISIBLE_DEVICES": ""})
    assert_one_line(proc, "no CUDA GPU", "not in the Hugging Face cache")


# -- chat in a terminal ------------------------------------------------------------------------
class Tmux:
    """A terminal the test types into (tmux on its own socket, so nothing else is touched)."""

    def __init__(self, command: str, env: dict[str, str]):
        self.sock = f"harness-test-{uuid.uuid4().hex[:8]}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run(["tmux", "-L", self.sock, "new-session", "-d", "-s", "t", "-x", "220", "-y", "60",
                        f"env {exports} {command}; echo EXIT=$?; sleep 60"], check=True, cwd=REPO)

    def screen(self) -> str:
        return subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-S", "-200", "-t", "t"],
                              capture_output=True, text=True).stdout

    def wait(self, text: str, count: int = 1, timeout: float = 120) -> str:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} x{count} never appeared:\n{self.screen()}")

    def type(self, line: str) -> None:
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", "-l", line], check=True)
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", "Enter"], check=True)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_chat_in_a_terminal_holds_a_three_turn_conversation(tmp_path):
    def reply(body):
        return f"answer {sum(m['role'] == 'user' for m in body['messages'])}"

    with OpenAIServer(reply=reply) as srv:
        env = {**API_ENV, "PYTHONPATH": str(REPO)}
        term = Tmux(f"{shlex.quote(sys.executable)} -m harness.cli chat {shlex.quote(str(DEMO_VIDEO))} --model gpt-4o "
                    f"--base-url {srv.url} --cache-dir {tmp_path / 'c'}", env)
        try:
            term.wait("you>")  # tmux drops trailing spaces
            assert "gpt-4o sees" in term.screen() and "16 frames at 1920x800" in term.screen()
            for i, q in enumerate(["What happens first?", "Who is there?", "What happens last?"], 1):
                term.type(q)
                term.wait(f"gpt-4o> answer {i}")
            term.type(f"/save {tmp_path / 'talk.json'}")
            term.wait("saved 3 turns")
            term.type("/clear")
            term.wait("conversation cleared")
            term.type("Again?")
            term.wait("gpt-4o> answer 1", count=2)  # after /clear the model sees one question
            term.type(f"/load {tmp_path / 'talk.json'}")
            term.wait("loaded 3 turns")
            term.type(f"/load {tmp_path / 'missing.json'}")
            term.wait("missing.json: no such file")  # a bad command is a line; the chat goes on
            term.type("And after that?")
            term.wait("gpt-4o> answer 4")
            term.type("/quit")
            term.wait("EXIT=0")
        finally:
            term.close()
        bodies = srv.chat_bodies
    assert len(bodies) == 5 and all(b["stream"] for b in bodies)
    third = bodies[2]["messages"]
    assert [m["role"] for m in third] == ["user", "assistant", "user", "assistant", "user"]
    assert third[0]["content"][0]["text"] == "What happens first?"  # the frames go with the first question
    assert sum(p["type"] == "image_url" for p in third[0]["content"]) == 16
    assert [m["content"] for m in third[1:]] == ["answer 1", "Who is there?", "answer 2", "What happens last?"]
    assert len(bodies[3]["messages"]) == 1  # after /clear
    assert [m["content"] for m in bodies[4]["messages"][1:]][-2:] == ["answer 3", "And after that?"]
    saved = json.loads((tmp_path / "talk.json").read_text())
    assert saved["input"] == str(DEMO_VIDEO) and saved["model"] == "gpt-4o" and len(saved["messages"]) == 6


def test_chat_with_a_missing_input_is_one_line():
    assert_one_line(harness_cli("chat", "/no/such/clip.mp4", "--model", "gpt-4o", "--base-url", "http://127.0.0.1:9/v1",
                         env=API_ENV), "no such file")


# -- tiny local checkpoints (slow) -------------------------------------------------------------
@pytest.mark.slow
def test_describe_a_tiny_local_checkpoint_shows_loading(tmp_path):
    pytest.importorskip("torch")
    from tiny_models import build_tarsier1

    ckpt = build_tarsier1(tmp_path / "t1")
    clip = make_video(tmp_path / "c.mp4", n_frames=12, size=(64, 48))
    proc = harness_cli("describe", str(clip), "--model", "tarsier-7b", "--model-path", str(ckpt), "--device", "cpu",
                       "--max-new-tokens", "6", "--json", "--cache-dir", str(tmp_path / "c"))
    assert proc.returncode == 0, proc.stderr
    assert f"loading tarsier-7b from {ckpt} on cpu" in proc.stderr and "tarsier-7b loaded in" in proc.stderr
    out = json.loads(proc.stdout)
    assert out["error"] is None and isinstance(out["text"], str) and out["n_frames"] == 8
    assert out["inputs"]["visual_tokens"] == 8 * out["inputs"]["tokens_per_frame"]
    assert out["inputs"]["prompt"].startswith("USER: <image>*8\nDescribe the video in detail. ASSISTANT: ")
    assert out["overridden"]["model_path"] == {"profile": None, "run": "local checkpoint"}


@pytest.mark.slow
@pytest.mark.parametrize("model", ["tarsier-7b", "tarsier2-7b", "qwen2-vl-7b"])
def test_local_models_continue_a_conversation_in_their_own_format(model, tmp_path):
    """The second question reaches the model after the first answer, in the model's chat format, and the
    reply streams (pieces handed over as they are made, together the whole answer)."""
    pytest.importorskip("torch")
    import tiny_models

    from harness import registry
    from harness.adapter import AdapterOptions

    build = {"tarsier-7b": tiny_models.build_tarsier1, "tarsier2-7b": tiny_models.build_tarsier2,
             "qwen2-vl-7b": tiny_models.build_qwen2vl}[model]
    ckpt = build(tmp_path / "ckpt")
    clip = make_video(tmp_path / "c.mp4", n_frames=12, size=(64, 48))
    a = registry.adapter(model, AdapterOptions(model_path=str(ckpt), device="cpu", frames=4, max_new_tokens=5,
                                               cache_dir=str(tmp_path / "c")))
    a.load()
    streamers = []
    generate = a.model_obj.generate

    def spy(*args, **kw):  # the real generate, noting the streamer chat() hands it
        streamers.append(kw.get("streamer"))
        return generate(*args, **kw)

    a.model_obj.generate = spy
    pieces: list[str] = []
    turns = [{"role": "user", "content": "describe the video in detail."},
             {"role": "assistant", "content": "a man walks to the door"}, {"role": "user", "content": "why?"}]
    pred = a.chat(input_sample(clip), turns, on_text=pieces.append)
    assert pred.ok, pred.error
    assert len(streamers) == 1 and streamers[0] is not None  # streamed by transformers, not handed over whole
    assert "".join(pieces).strip() == pred.text and pred.meta["inputs"]["frame_indices"] == [0, 4, 7, 11]
    prompt = pred.meta["inputs"]["prompt"]
    first, answer, second = prompt.find("describe the video"), prompt.find("a man walks to the door"), prompt.find("why?")
    assert -1 < first < answer < second, prompt
    if model == "tarsier-7b":  # the official demo's format: answer, end of sequence, the next USER turn
        eos = a.tokenizer.eos_token
        assert f"a man walks to the door{eos}USER: why? ASSISTANT: " in prompt and prompt.endswith("ASSISTANT: ")
    else:  # the chat template, the generation prompt open at the end
        assert prompt.endswith("<|im_start|>assistant\n") and "a man walks to the door<|im_end|>" in prompt
    a.close()


def test_gemini_gets_the_conversation_as_contents_with_the_video_first(tmp_path):
    pytest.importorskip("google.genai")
    from fake_api_servers import GeminiServer

    from harness import registry
    from harness.adapter import AdapterOptions
    from harness.settings import Environment

    clip = make_video(tmp_path / "c.mp4", n_frames=12, size=(64, 48))
    with GeminiServer() as srv:
        env = Environment.load({"GEMINI_API_KEY": "g-test", "HARNESS_GEMINI_POLL": "0.01"})
        a = registry.adapter("gemini-1.5-pro", AdapterOptions(base_url=srv.url, cache_dir=str(tmp_path / "c"), env=env,
                                                              extra={"fps": 1.0}))
        pieces: list[str] = []
        turns = [{"role": "user", "content": "What happens?"}]
        first = a.chat(input_sample(clip), turns, on_text=pieces.append)
        turns += [{"role": "assistant", "content": first.text}, {"role": "user", "content": "Why?"}]
        second = a.chat(input_sample(clip), turns)
        a.close()
        assert first.ok and second.ok
        assert pieces == ["A ", "video ", "(1 ", "files, ", "0 ", "images)."]  # streamed as it came
        assert srv.count("POST", "/upload/v1beta/files") == 1  # one upload for the whole conversation
        assert srv.count("POST", ":streamGenerateContent") == 1 and srv.count("POST", ":generateContent") == 1
        body = [r["json"] for r in srv.requests if "GenerateContent" in r["path"] or "generateContent" in r["path"]][-1]
    roles = [c["role"] for c in body["contents"]]
    assert roles == ["user", "model", "user"]
    assert "fileData" in body["contents"][0]["parts"][0] and body["contents"][0]["parts"][1]["text"] == "What happens?"
    assert body["contents"][2]["parts"] == [{"text": "Why?"}]
