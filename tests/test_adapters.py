"""Adapters without weights: prompts, Tarsier's layout rule, vLLM requests, the frame cache,
pre-flight messages, and the API adapters against loopback OpenAI and Gemini servers."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from conftest import ANNOTATIONS, REPO, harness_cli, read_jsonl, write_jsonl
from fake_api_servers import GeminiServer, OpenAIServer
from tiny_models import make_video, tiny_qwen2vl  # noqa: F401 (fixture)

from harness import registry
from harness.adapter import AdapterOptions
from harness.errors import BadInput, MissingDependency
from harness.types import Sample

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
QA_PROMPT = "USER: <video> how do\n(A) x\n(B) y\nASSISTANT: Answer: ("


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    make_video(root / "v1.mp4", n_frames=12, size=(64, 48), seed=1)
    make_video(root / "v2.mp4", n_frames=20, size=(80, 48), seed=2)
    return root


def nextqa_subset(tmp_path, videos, n=3):
    """Real NExT-QA lines pointed at the generated clips (two questions share v1)."""
    rows = read_jsonl(NEXTQA)[:n]
    for i, r in enumerate(rows):
        r["vid"] = "v1" if i < 2 else "v2"
    return write_jsonl(tmp_path / "nextqa.jsonl", rows)


def sample(video, prompt=QA_PROMPT, sid="s1"):
    return Sample(id=sid, benchmark="next-qa", idx=0, dataset="x", video=str(video), prompt=prompt, cluster="c")


# -- listing ---------------------------------------------------------------------------------
def test_list_models_shows_ids_and_needs_without_heavy_imports():
    code = ("import sys, io, contextlib\nfrom harness.cli import main\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n    main(['list', 'models'])\n"
            "heavy = [m for m in ('torch', 'transformers', 'vllm', 'google.genai') if m in sys.modules]\n"
            "print(buf.getvalue()); print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO).stdout
    assert "HEAVY []" in out
    for model in ("tarsier-7b", "tarsier-34b", "tarsier2-7b", "gpt-4o", "gemini-1.5-pro", "qwen2-vl-7b",
                  "llava-onevision-7b", "internvl3-8b", "openai-compatible:..."):
        assert model in out
    line = next(ln for ln in out.splitlines() if ln.startswith("tarsier-34b"))
    assert "GPU" in line and "device_map auto" in line and "--backend vllm" in line
    assert "OPENAI_API_KEY" in next(ln for ln in out.splitlines() if ln.startswith("gpt-4o "))


# -- prompts ---------------------------------------------------------------------------------
def test_tarsier1_prompt_wraps_plain_prompts_and_keeps_qa_turns():
    from harness.adapters.tarsier import tarsier1_prompt

    assert tarsier1_prompt("<video>\nDescribe the video in detail.", 8) == \
        "USER: " + "<image>" * 8 + "\nDescribe the video in detail. ASSISTANT: "
    assert tarsier1_prompt(QA_PROMPT, 2) == "USER: <image><image> how do\n(A) x\n(B) y\nASSISTANT: Answer: ("
    assert tarsier1_prompt("Describe.", 1) == "USER: <image>\nDescribe. ASSISTANT: "


def test_chat_prompt_split():
    from harness.adapters._base import split_chat_prompt, user_text_without_video

    assert split_chat_prompt(QA_PROMPT) == ("<video> how do\n(A) x\n(B) y", "Answer: (")
    assert user_text_without_video("<video>\nDescribe the video in detail.") == ("Describe the video in detail.", "")


def test_tarsier_layout_rows_newlines_and_frame_end():
    import torch

    from harness.adapters.tarsier import tarsier_frame_layout

    f, side, d = 3, 24, 8
    feats = torch.randn(f, side * side, d)
    nl, end = torch.full((d,), 7.0), torch.full((d,), -7.0)
    out = tarsier_frame_layout(feats, nl, end)
    assert out.shape == (f, 601, d)  # 24 x 25 + 1, not LLaVA's 576
    grid = feats.reshape(f, side, side, d)
    for r in range(side):
        row = out[:, r * (side + 1): (r + 1) * (side + 1)]
        assert torch.equal(row[:, :side], grid[:, r])
        assert torch.equal(row[:, side], nl.expand(f, d))
    assert torch.equal(out[:, -1], end.expand(f, d))


# -- pre-flight ------------------------------------------------------------------------------
@pytest.mark.slow
def test_tarsier_without_gpu_or_weights_says_what_is_missing(tmp_path):
    pytest.importorskip("torch")
    proc = harness_cli("run", "--model", "tarsier-7b", "--bench", "dream",
                       env={"HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HOME": str(tmp_path / "hf"),
                            "CUDA_VISIBLE_DEVICES": "", "HARNESS_DATA_DIR": str(tmp_path / "data")})
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    # the preflight names every problem (the model's, then data and judge), one line each
    model = [ln for ln in lines if "tarsier-7b cannot run here" in ln]
    assert len(model) == 1 and len(lines) == 4, lines
    assert "no CUDA GPU" in model[0] and "--device cpu" in model[0]
    assert "omni-research/Tarsier-7b is not in the Hugging Face cache" in model[0]


@pytest.mark.slow
def test_missing_model_path_is_one_line(tmp_path):
    proc = harness_cli("run", "--model", "tarsier2-7b", "--model-path", str(tmp_path / "nope"), "--device", "cpu",
                       "--bench", "dream")
    assert proc.returncode == 2 and "no checkpoint folder" in proc.stderr, proc.stderr


def test_unknown_backend_and_missing_vllm():
    with pytest.raises(BadInput, match="backend"):
        registry.adapter("tarsier-7b", AdapterOptions(backend="onnx"))
    a = registry.adapter("tarsier-7b", AdapterOptions(backend="vllm"))
    if "vllm" not in sys.modules:
        try:
            import vllm  # noqa: F401
        except ImportError:
            with pytest.raises(MissingDependency, match=r"\[vllm\]"):
                a.check()


def test_tarsier_frame_bounds_and_why():
    """Tarsier-1: 16 frames at most (4,096 trained positions hold 5 frames of 601 tokens, yet the published
    setting is 8 and the official demo 16); Tarsier2: the per-sample pixel cap keeps any clip far inside
    Qwen2-VL's 32,768 positions, so the harness's 256 binds."""
    from harness.adapters import tarsier2_inputs as t2
    from harness.types import MAX_FRAMES

    assert (4096 - 512 - 30) // 601 == 5
    for model in ("tarsier-7b", "tarsier-34b"):
        assert registry.adapter(model, AdapterOptions(frames=16)).frames.n_frames == 16
        with pytest.raises(BadInput, match="at most 16 frames"):
            registry.adapter(model, AdapterOptions(frames=17))
    a = registry.adapter("tarsier2-7b", AdapterOptions(frames=MAX_FRAMES))
    assert a.max_frames == MAX_FRAMES
    for w, h in ((1920, 1080), (1080, 1920), (4000, 60), (336, 336)):
        for n in (16, 64, MAX_FRAMES):
            assert t2.layout(w, h, n).visual_tokens + 512 + 512 < 32_768


# -- vLLM requests (no vLLM needed) ---------------------------------------------------------
def test_vllm_tarsier1_request_square_frames_and_long_context(videos, tmp_path):
    a = registry.adapter("tarsier-7b", AdapterOptions(backend="vllm", cache_dir=str(tmp_path)))
    s = sample(videos / "v1.mp4", "<video>\nDescribe the video in detail.")
    frames = a.load_frames(s)
    assert all(im.size == (64, 64) for im in frames.images)  # 64x48 stretched to 64x64
    req = a.vllm_request(s, frames)
    assert req["prompt"].startswith("USER: " + "<image>" * 8 + "\n")
    assert len(req["multi_modal_data"]["image"]) == 8
    gen = a.spec_fields()["generation"]
    assert gen["max_model_len"] >= 8 * 601 + 512 and gen["limit_mm_per_prompt"] == {"image": 8}
    frames.images[0] = frames.images[0].resize((64, 48))
    with pytest.raises(BadInput, match="square"):
        a.vllm_request(s, frames)


# -- the frame cache -------------------------------------------------------------------------
def test_frame_cache_returns_identical_frames_and_skips_decoding(videos, tmp_path, monkeypatch):
    import numpy as np

    from harness import video as video_mod
    from harness.frame_cache import FrameCache

    cache = FrameCache(tmp_path / "frames")
    first = cache.get(videos / "v2.mp4", 8, resize="square-stretch")
    calls = []
    real = video_mod.sample_frames
    monkeypatch.setattr(video_mod, "sample_frames", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = FrameCache(tmp_path / "frames").get(videos / "v2.mp4", 8, resize="square-stretch")
    assert calls == [] and again.indices == first.indices
    fresh = real(videos / "v2.mp4", 8, resize="square-stretch")
    for a, b in zip(again.images, fresh.images):
        assert np.array_equal(np.asarray(a), np.asarray(b))
    other = FrameCache(tmp_path / "frames").get(videos / "v2.mp4", 4)  # another n / policy: decoded
    assert calls == [1] and len(other.images) == 4


# -- OpenAI and compatible servers -----------------------------------------------------------
@pytest.mark.slow
def test_gpt4o_sends_its_profile_16_high_detail_png_frames_and_resumes_without_calls(videos, tmp_path):
    """gpt-4o's profile (the DREAM-1K row, the official GPT-4o script): the dated snapshot, 16 frames,
    detail high, PNG, the text before the frames; every prediction records what was sent."""
    ann = nextqa_subset(tmp_path, videos)
    with OpenAIServer() as srv:
        args = ("run", "--model", "gpt-4o", "--bench", "next-qa", "--annotations", str(ann), "--video-root",
                str(videos), "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                "--no-progress")
        env = {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.url}  # honoured as the SDK does
        proc = harness_cli(*args, env=env)
        assert proc.returncode == 0, proc.stderr
        bodies = srv.chat_bodies
        assert len(bodies) == 3
        for b in bodies:
            assert b["model"] == "gpt-4o-2024-05-13" and b["temperature"] == 0 and b["max_tokens"] == 4096
            content = b["messages"][0]["content"]
            images = [p for p in content if p["type"] == "image_url"]
            assert len(images) == 16 and len(content) == 17  # one text part, then the frames
            assert all(p["image_url"]["detail"] == "high" and p["image_url"]["url"].startswith("data:image/png;base64,")
                       for p in images)
            assert content[0]["type"] == "text" and content[0]["text"].endswith("Answer: (")  # text first
        assert {k.lower(): v for k, v in srv.requests[0]["headers"].items()}["authorization"] == "Bearer sk-test"
        proc = harness_cli(*args, env=env)  # everything finished: nothing is sent
        assert proc.returncode == 0, proc.stderr
        assert len(srv.chat_bodies) == 3
    run_dir = next((tmp_path / "runs").rglob("spec.json")).parent
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["backend"] == "openai" and spec["frames"]["n_frames"] == 16 and spec["model_revision"] == "gpt-4o-2024-05-13"
    gen = spec["generation"]
    assert (gen["detail"], gen["image_format"], gen["content_order"]) == ("high", "png", "text-first")
    assert spec["profile"]["id"] == "gpt-4o" and spec["profile"]["overridden"] == {}
    assert "temperature" in spec["profile"]["not_followed"]
    preds = read_jsonl(run_dir / "predictions.jsonl")
    assert len(preds) == 3 and all(p["text"] == "(A) saw 16 images" and p["n_frames"] == 16 for p in preds)
    inputs = preds[2]["meta"]["inputs"]  # v2.mp4: 20 frames of 80x48, sent as they are (below 768 px)
    assert inputs["frame_indices"] == [round(i * 19 / 15) for i in range(16)] and len(inputs["timestamps"]) == 16
    assert (inputs["images"], inputs["resized_wh"], inputs["detail"]) == (16, [80, 48], "high")
    assert inputs["visual_tokens"] == 16 * (85 + 170) and inputs["decoded_wh"] == [80, 48]
    prompts = {r["sha256"]: r["prompt"] for r in read_jsonl(run_dir / "prompts.jsonl")}
    text = prompts[inputs["prompt_sha256"]]  # the prompt beside the predictions, images written <image>*16
    assert text.startswith("USER: ") and text.endswith("Answer: (<image>*16") and "prompt" not in inputs
    expanded = text.replace("<image>*16", "<image>" * 16)
    assert hashlib.sha256(expanded.encode()).hexdigest() == inputs["prompt_sha256"]
    # `harness show` prints the frames the predictions record, not only the spec's
    for p in preds[:2]:
        p["n_frames"] = 5
    write_jsonl(run_dir / "predictions.jsonl", preds)
    shown = harness_cli("show", str(run_dir))
    assert shown.returncode == 0, shown.stderr
    assert "frames 16 asked, used: 5 in 2, 16 in 1 predictions" in shown.stdout


def test_gpt4o_frames_and_detail_override_the_profile_and_are_labelled(videos, tmp_path):
    ann = nextqa_subset(tmp_path, videos, n=1)
    with OpenAIServer() as srv:
        proc = harness_cli("run", "--model", "gpt-4o", "--bench", "next-qa", "--annotations", str(ann), "--video-root",
                           str(videos), "--out", str(tmp_path / "runs"), "--cache-dir", str(tmp_path / "cache"),
                           "--frames", "8", "--detail", "low", "--no-progress", "--json",
                           env={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.url})
        assert proc.returncode == 0, proc.stderr
        (body,) = srv.chat_bodies
    images = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"]
    assert len(images) == 8 and {p["image_url"]["detail"] for p in images} == {"low"}
    result = json.loads(proc.stdout)
    assert result["profile"] == "gpt-4o"
    assert result["overridden"] == {"frames": {"profile": 16, "run": 8}, "detail": {"profile": "high", "run": "low"}}


def test_api_frame_bounds_follow_context_and_request_limits():
    """--frames is bounded by what one request holds: gpt-4o at high detail by its 128k context
    (1,445 tokens a frame at worst), at low detail by the harness's 256 (below OpenAI's 500 images);
    gpt-4o-mini's low-detail frames cost 2,833 tokens."""
    from harness.adapters.openai_api import frame_bound, image_tokens, sent_size

    assert sent_size(1920, 1080, "high") == (1365, 768) and image_tokens("gpt-4o", "high", 1920, 1080) == 85 + 6 * 170
    assert sent_size(4000, 1000, "high") == (2048, 512) and sent_size(300, 200, "high") == (300, 200)
    assert sent_size(1920, 1080, "low") == (512, 288)
    assert frame_bound("gpt-4o", "high", 4096) == (128_000 - 4096 - 512) // 1445 == 85
    assert frame_bound("gpt-4o", "low", 512) == 256 and frame_bound(None, None, 512) == 256
    assert frame_bound("gpt-4o-mini", "low", 512) == (128_000 - 1024) // 2833
    assert registry.adapter("gpt-4o", AdapterOptions(detail="high", max_new_tokens=4096, frames=85)).frames.n_frames == 85
    with pytest.raises(BadInput, match="at most 85 frames"):
        registry.adapter("gpt-4o", AdapterOptions(detail="high", max_new_tokens=4096, frames=86))
    assert registry.adapter("gpt-4o", AdapterOptions(detail="low", frames=256)).frames.n_frames == 256
    assert registry.adapter("gemini-1.5-pro", AdapterOptions(frames=256, extra={"gemini_input": "frames"})).max_frames == 256


def test_gpt4o_lost_predictions_are_answered_from_the_cache(videos, tmp_path):
    opts = dict(base_url=None, cache_dir=str(tmp_path / "cache"))
    with OpenAIServer() as srv:
        opts["base_url"] = srv.url
        s = sample(videos / "v1.mp4")
        a = registry.adapter("gpt-4o", AdapterOptions(**opts))
        first = a.generate([s])
        b = registry.adapter("gpt-4o", AdapterOptions(**opts))
        second = b.generate([s])
        assert len(srv.chat_bodies) == 1 and first[0].text == second[0].text


def test_openai_compatible_sends_lossless_frames(videos, tmp_path):
    with OpenAIServer(reply="a person walks") as srv:
        a = registry.adapter("openai-compatible:Qwen/Qwen2-VL-7B-Instruct",
                             AdapterOptions(base_url=srv.url, cache_dir=str(tmp_path), frames=4))
        a.check()
        pred = a.generate([sample(videos / "v1.mp4", "<video>\nDescribe the video in detail.")])[0]
        assert pred.text == "a person walks"
        body = srv.chat_bodies[0]
        assert body["model"] == "Qwen/Qwen2-VL-7B-Instruct"
        images = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"]
        assert len(images) == 4 and all(p["image_url"]["url"].startswith("data:image/png") for p in images)
        assert all("detail" not in p["image_url"] for p in images)
    with pytest.raises(BadInput, match="--base-url"):
        registry.adapter("openai-compatible:x", AdapterOptions()).check()


# -- Gemini ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_gemini_uploads_each_video_once_waits_and_deletes(videos, tmp_path, monkeypatch):
    pytest.importorskip("google.genai")
    ann = nextqa_subset(tmp_path, videos)
    with GeminiServer(polls_until_active=2) as srv:
        proc = harness_cli("run", "--model", "gemini-1.5-pro", "--bench", "next-qa", "--annotations", str(ann),
                           "--video-root", str(videos), "--base-url", srv.url, "--out", str(tmp_path / "runs"),
                           "--cache-dir", str(tmp_path / "cache"), "--stage", "generate", "--no-progress",
                           env={"GEMINI_API_KEY": "g-test", "HARNESS_GEMINI_POLL": "0.01"})
        assert proc.returncode == 0, proc.stderr
        assert srv.count("POST", "/upload/v1beta/files") == 2  # v1 twice in the annotations, uploaded once
        assert srv.count("GET", "/v1beta/files/") >= 2  # waited until ACTIVE
        assert srv.count("POST", ":generateContent") == 3
        assert sorted(srv.deleted) == sorted(f"files/{u}" for u in srv.uploads) and not srv.files
        gen = [r["json"] for r in srv.requests if ":generateContent" in r["path"]]
        assert all(any("fileData" in p for p in g["contents"][0]["parts"]) for g in gen)
        # the profile's input rate (the leaderboard's 1 fps), sent with the video
        video_parts = [p for g in gen for p in g["contents"][0]["parts"] if "fileData" in p]
        assert all(p["videoMetadata"] == {"fps": 1.0} for p in video_parts)
        assert gen[0]["generationConfig"]["temperature"] == 0.0
    preds = read_jsonl(next((tmp_path / "runs").rglob("predictions.jsonl")))
    assert len(preds) == 3 and all(p["text"].startswith("A video (1 files") for p in preds)
    inputs = preds[0]["meta"]["inputs"]
    assert inputs["input"] == "video" and inputs["fps"] == 1.0 and len(inputs["video_sha256"]) == 64
    assert len(inputs["prompt_sha256"]) == 64
    spec = json.loads(next((tmp_path / "runs").rglob("spec.json")).read_text())
    assert spec["profile"]["id"] == "gemini-1.5-pro" and spec["generation"]["video_fps"] == 1.0


@pytest.mark.slow
def test_gemini_frames_on_request(videos, tmp_path, monkeypatch):
    pytest.importorskip("google.genai")
    monkeypatch.setenv("GEMINI_API_KEY", "g-test")
    with GeminiServer() as srv:
        a = registry.adapter("gemini-1.5-pro", AdapterOptions(base_url=srv.url, cache_dir=str(tmp_path),
                                                              extra={"gemini_input": "frames"}))
        a.check()
        a.load()
        pred = a.generate([sample(videos / "v1.mp4")])[0]
        a.close()
        assert pred.ok and pred.text == "A video (0 files, 8 images)." and pred.n_frames == 8
        assert srv.count("POST", "/upload") == 0
        inputs = pred.meta["inputs"]
        assert inputs["frame_indices"] == [0, 2, 3, 5, 6, 8, 9, 11] and inputs["images"] == 8
        assert inputs["resized_wh"] == [64, 48] and inputs["prompt"].count("<image>*8") == 1
        assert a.spec_fields()["generation"]["input"] == "frames" and a.frames.n_frames == 8
