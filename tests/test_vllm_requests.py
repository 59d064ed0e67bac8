"""Both backends build the same inputs per sample. vLLM cannot run here (no GPU), so what is
compared is what each backend is handed: the prompt, the frames as the model's processor sees
them, the engine and sampling settings. vLLM itself is not imported."""

from __future__ import annotations

import os

import pytest

from conftest import require_modules
from tiny_models import make_video, tiny_tarsier1, tiny_tarsier2  # noqa: F401 (fixtures)

from harness import registry
from harness.adapter import AdapterOptions
from harness.types import Sample

require_modules("torch", "transformers")

pytestmark = pytest.mark.slow  # tiny models: the whole module (`pytest -m 'not slow'` skips it)

MC = "USER: <video> what happens?\n(A) x\n(B) y\nASSISTANT: Answer: ("


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("vllm-videos")
    make_video(root / "a.mp4", n_frames=40, size=(96, 56), seed=3)
    make_video(root / "b.mp4", n_frames=9, size=(64, 48), seed=4)
    return root


def sample(video, prompt=MC, sid="s"):
    return Sample(id=sid, benchmark="x", idx=0, dataset="d", video=str(video), prompt=prompt, cluster=sid)


def both(model, path, tmp_path):
    opts = dict(model_path=str(path), device="cpu", cache_dir=str(tmp_path / "cache"))
    return (registry.adapter(model, AdapterOptions(**opts)),
            registry.adapter(model, AdapterOptions(**opts, backend="vllm")))


@pytest.mark.parametrize("clip", ["a.mp4", "b.mp4"])
def test_tarsier2_same_prompt_frames_and_settings(tiny_tarsier2, videos, tmp_path, clip):
    import numpy as np
    import torch

    from harness.adapters import tarsier2_inputs as t2
    from harness.adapters.vllm_engine import engine_kwargs, sampling_kwargs

    hf, vl = both("tarsier2-7b", tiny_tarsier2, tmp_path)
    hf.load_processor()
    vl.load_processor()
    s = sample(videos / clip)
    ours = hf.sample_inputs(s, hf.load_frames(s))
    req = vl.vllm_request(s, vl.load_frames(s))
    # the prompt: vLLM's one video placeholder stands where the transformers prompt has its image tokens
    n = ours["record"]["visual_tokens"]
    assert req["prompt"].count("<|video_pad|>") == 1 and "<|image_pad|>" not in req["prompt"]
    assert req["prompt"].replace("<|video_pad|>", "<|image_pad|>" * n) == ours["text"]
    assert req["record"] == ours["record"]
    # the frames: already the size the image processor makes, so its resize is the identity and
    # its pixels equal the transformers path's, bit for bit
    video = req["multi_modal_data"]["video"]
    assert video.shape[0] == 2 * len(hf.load_frames(s).images) and (video[0::2] == video[1::2]).all()
    ip = t2.image_processor(tiny_tarsier2)
    again = t2.pixel_inputs(ip, [__import__("PIL.Image", fromlist=["Image"]).fromarray(f) for f in video])
    assert torch.equal(again["pixel_values"], ours["pixel_values"])
    assert again["grid_thw"].tolist() == ours["grid_thw"].tolist()
    assert np.asarray(t2.final_resize(ours["images"][:1], t2.settings_of(ip))[0]).shape == video.shape[1:]
    # engine: vLLM's Tarsier2 architecture; sampling: the transformers generate settings
    kw = engine_kwargs(vl)
    assert kw["hf_overrides"]["architectures"] == ["Tarsier2ForConditionalGeneration"]
    assert kw["dtype"] == "bfloat16" and kw["limit_mm_per_prompt"] == {"video": 1}
    gen = hf.generate_kwargs()
    samp = sampling_kwargs(vl)
    assert samp["temperature"] == 0.0 and gen["do_sample"] is False
    assert samp["max_tokens"] == gen["max_new_tokens"] == 512
    assert samp["repetition_penalty"] == gen["repetition_penalty"] == 1.05
    assert samp["stop_token_ids"] == gen["eos_token_id"]


def test_tarsier1_same_prompt_and_frames_and_a_raised_position_limit(tiny_tarsier1, videos, tmp_path):
    import transformers

    from harness.adapters.tarsier import tarsier1_prompt
    from harness.adapters.vllm_engine import engine_kwargs, required_model_len, sampling_kwargs

    hf, vl = both("tarsier-7b", tiny_tarsier1, tmp_path)
    s = sample(videos / "a.mp4", "<video>\nDescribe the video in detail.")
    frames_hf, frames_vl = hf.load_frames(s), vl.load_frames(s)
    env = dict(os.environ)
    req = vl.vllm_request(s, frames_vl)
    assert req["prompt"] == tarsier1_prompt(s.prompt, 8) == "USER: " + "<image>" * 8 + "\nDescribe the video in detail. ASSISTANT: "
    assert [im.tobytes() for im in req["multi_modal_data"]["image"]] == [im.tobytes() for im in frames_hf.images]
    assert all(im.size == (96, 96) for im in frames_hf.images)  # stretched to squares for both
    side = 56 // 14  # the tiny CLIP: 4 x 4 patches, so 4 x 5 + 1 = 21 tokens a frame (601 at 336 px)
    assert req["record"]["visual_tokens"] == 8 * (side * (side + 1) + 1) and req["record"]["frame_indices"] == frames_hf.indices
    kw = engine_kwargs(vl)
    need = required_model_len(vl)
    assert kw["max_model_len"] == need > 4096 + 512
    config = transformers.AutoConfig.from_pretrained(tiny_tarsier1)
    assert config.text_config.max_position_embeddings == 4096
    raised = kw["hf_overrides"](config)  # what vLLM applies to the config it builds
    assert raised.text_config.max_position_embeddings == need
    assert dict(os.environ) == env and "VLLM_ALLOW_LONG_MAX_MODEL_LEN" not in os.environ
    assert sampling_kwargs(vl)["temperature"] == 0.0 and sampling_kwargs(vl)["max_tokens"] == 512
    import pickle

    assert pickle.loads(pickle.dumps(kw["hf_overrides"]))(config) is config  # crosses process boundaries
