"""Tarsier2 on a tiny random-weight checkpoint saved in the official release's layout
(../shared/golden/tarsier2_checkpoint_layout.json), through the real loader, prompt and CLI."""

from __future__ import annotations

import json
import re

import pytest

from conftest import ANNOTATIONS, SHARED, harness_cli, read_jsonl, require_modules, write_jsonl
from tiny_models import TARSIER2_CHAT_TEMPLATE, build_tarsier2, make_video, tiny_tarsier2  # noqa: F401

from harness import registry
from harness.adapter import AdapterOptions
from harness.types import Sample

pytestmark = pytest.mark.slow  # tiny models: the whole module (`pytest -m 'not slow'` skips it)

require_modules("torch", "transformers")

LAYOUT = json.loads((SHARED / "golden" / "tarsier2_checkpoint_layout.json").read_text())
MC = "USER: <video> what happens?\n(A) x\n(B) y\nASSISTANT: Answer: ("


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("t2-videos")
    make_video(root / "1.mp4", n_frames=12, size=(64, 48), seed=1)
    make_video(root / "2.mp4", n_frames=40, size=(80, 48), seed=2)
    return root


def sample(video, prompt, sid="s", **extra):
    return Sample(id=sid, benchmark="x", idx=0, dataset="d", video=str(video), prompt=prompt, cluster=sid, extra=extra)


def adapter(path, tmp_path, **kw):
    return registry.adapter("tarsier2-7b", AdapterOptions(model_path=str(path), device="cpu",
                                                          cache_dir=str(tmp_path / "cache"), **kw))


def test_tiny_checkpoint_has_the_official_weight_names(tiny_tarsier2):
    from safetensors import safe_open

    with safe_open(str(tiny_tarsier2 / "model.safetensors"), "pt") as fh:
        names = {re.sub(r"(blocks|layers)\.\d+\.", r"\1.{i}.", k) for k in fh.keys()}
    assert names == set(LAYOUT["official_loader"]["weight_names_generalized"])
    conf = json.loads((tiny_tarsier2 / "config.json").read_text())
    assert conf["model_type"] == "llava" and conf["architectures"] == ["TarsierForConditionalGeneration"]


def test_every_weight_lands_where_the_official_name_says(tiny_tarsier2):
    import torch
    from safetensors.torch import load_file

    from harness.adapters.tarsier2_checkpoint import load

    model = load(str(tiny_tarsier2), {}, {"dtype": torch.float32}, {"": "cpu"})
    official = load_file(str(tiny_tarsier2 / "model.safetensors"))
    assert torch.equal(model.get_input_embeddings().weight, official["language_model.model.embed_tokens.weight"])
    assert torch.equal(model.lm_head.weight, official["language_model.lm_head.weight"])
    visual = model.model.visual if hasattr(model.model, "visual") else model.visual
    assert torch.equal(visual.patch_embed.proj.weight, official["vision_tower.patch_embed.proj.weight"])
    assert torch.equal(visual.merger.mlp[2].weight, official["vision_tower.merger.mlp.2.weight"])


def test_plain_from_pretrained_would_have_loaded_nothing(tiny_tarsier2):
    """Why the loader maps names: transformers alone initialises every weight at random."""
    from transformers import Qwen2VLForConditionalGeneration

    from harness.adapters.tarsier2_checkpoint import qwen2vl_config, read_config

    config = qwen2vl_config(read_config(tiny_tarsier2), "tiny")
    _, info = Qwen2VLForConditionalGeneration.from_pretrained(tiny_tarsier2, config=config, output_loading_info=True)
    assert len(info["missing_keys"]) > 40 and len(info["unexpected_keys"]) > 40


def test_a_renamed_weight_is_one_line_naming_it(tmp_path, videos):
    bad = build_tarsier2(tmp_path / "bad", rename=("vision_tower.blocks.0.attn.qkv.weight",
                                                   "vision_tower.blocks.0.attn.qkv_renamed.weight"))
    ann = write_jsonl(tmp_path / "d.jsonl", read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[:1])
    proc = harness_cli("run", "--model", "tarsier2-7b", "--model-path", str(bad), "--device", "cpu", "--bench",
                       "dream", "--annotations", str(ann), "--video-root", str(videos), "--out", str(tmp_path / "r"),
                       "--cache-dir", str(tmp_path / "c"), "--stage", "generate", "--no-progress")
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "vision_tower.blocks.0.attn.qkv.weight" in lines[0] and "missing" in lines[0]
    assert "vision_tower.blocks.0.attn.qkv_renamed.weight" in lines[0]
    assert not list((tmp_path / "r").rglob("predictions.jsonl")) or \
        not read_jsonl(next((tmp_path / "r").rglob("predictions.jsonl")))


def test_prompt_is_rendered_the_official_way(tiny_tarsier2, tmp_path):
    a = adapter(tiny_tarsier2, tmp_path)
    a.load_processor()
    text, how = a.render_prompt(sample("v", MC), 3)
    assert text.endswith("<|im_start|>assistant\n Answer: (")  # the prefix kept, its space too; no EOS
    assert text.count("<|image_pad|>") == 3 and "<|vision_start|><|image_pad|>" in text
    assert "what happens?\n(A) x\n(B) y<|im_end|>" in text and how == {"eos": "template"}
    dream, _ = a.render_prompt(sample("v", "<video>\nDescribe the video in detail."), 2)
    assert dream.endswith("Describe the video in detail.<|im_end|>\n<|im_start|>assistant\n")
    # the messages format's prefix, when the benchmark gives it
    given, _ = a.render_prompt(sample("v", "<video>\nQuestion: q?\n(A) x", assistant_prefix=" Answer: ("), 1)
    assert given.endswith("Question: q?\n(A) x<|im_end|>\n<|im_start|>assistant\n Answer: (")
    # a template that ignores strip_final_eos, or writes one placeholder: handled, and said so
    a.chat_template = TARSIER2_CHAT_TEMPLATE.replace("{% if not (loop.last and strip_final_eos) %}", "{% if true %}")
    text2, how2 = a.render_prompt(sample("v", MC), 3)
    assert text2 == text and how2 == {"eos": "stripped here"}
    a.chat_template = TARSIER2_CHAT_TEMPLATE.replace(
        "{% for _ in range(part['num_vision_tokens']) %}<|image_pad|>{% endfor %}", "<|video_pad|>")
    text3, how3 = a.render_prompt(sample("v", MC), 3)
    assert text3 == text and how3["video_tokens"] == "expanded here"


def test_a_messages_row_keeps_its_assistant_text_as_written(tiny_tarsier2, tmp_path):
    """TarsierProcessor renders a `messages` row's assistant items concatenated as written
    (dataset/tarsier_processor.py@63de87a): the prefix " Answer: (" keeps its leading space through
    the harness's text prompt (`USER: ...\nASSISTANT: Answer: (`) and the Tarsier2 rendering."""
    from harness.adapters.tarsier2 import user_and_prefix
    from harness.annotations import from_messages

    row = {"messages": [{"role": "user", "content": [{"type": "video", "video": {"video_file": "v.mp4"}},
                                                     {"type": "text", "text": "Question: how many?\n(A) one\n(B) two"}]},
                        {"role": "assistant", "content": [{"type": "text", "text": " Answer: ("},
                                                          {"type": "text", "text": "", "reference": "B"}]}],
           "dataset": "X", "idx": 0}
    prompt = from_messages(row)["text"]["prompt"]
    assert prompt.endswith("ASSISTANT: Answer: (")
    s = sample("v", prompt)
    assert user_and_prefix(s) == ("Question: how many?\n(A) one\n(B) two", " Answer: (")
    a = adapter(tiny_tarsier2, tmp_path)
    a.load_processor()
    ours, _ = a.render_prompt(s, 2)
    official = [{"role": "user", "content": [{"type": "video", "num_vision_tokens": 2}, row["messages"][0]["content"][1]]},
                {"role": "assistant", "content": [{"type": "text", "text": " Answer: ("}, {"type": "text", "text": ""}]}]
    assert ours == a.tokenizer.apply_chat_template(official, chat_template=a.chat_template, tokenize=False,
                                                   add_generation_prompt=False, strip_final_eos=True)
    assert ours.endswith("<|im_start|>assistant\n Answer: (")


def test_model_inputs_are_the_official_ones(tiny_tarsier2, videos, tmp_path):
    import torch

    from harness.adapters import tarsier2_inputs as t2

    a = adapter(tiny_tarsier2, tmp_path)
    a.load_processor()
    s = sample(videos / "2.mp4", MC)
    frames = a.load_frames(s)
    assert frames.indices == [0, 3, 5, 8, 10, 13, 16, 18, 21, 23, 26, 29, 31, 34, 36, 39]
    got = a.sample_inputs(s, frames)
    images = t2.first_resize(frames.images, 16)
    want = t2.pixel_inputs(t2.image_processor(tiny_tarsier2), images)
    assert torch.equal(got["pixel_values"], want["pixel_values"]) and got["grid_thw"].tolist() == [[16, 4, 6]]
    rec = got["record"]
    assert rec["visual_tokens"] == 16 * 4 * 6 // 4 == got["text"].count("<|image_pad|>")
    assert rec["images"] == 32 and rec["decoded_wh"] == [80, 48] and rec["resized_wh"] == [80, 48]
    assert rec["prompt"].count("<|image_pad|>*96") == 1  # compact; the hash is of the full text


@pytest.mark.slow
def test_end_to_end_through_harness_run_with_the_inputs_recorded(tiny_tarsier2, videos, tmp_path):
    rows = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[:2]
    ann = write_jsonl(tmp_path / "dream2.jsonl", rows)
    out = tmp_path / "runs"
    proc = harness_cli("run", "--model", "tarsier2-7b", "--model-path", str(tiny_tarsier2), "--device", "cpu",
                       "--bench", "dream", "--annotations", str(ann), "--video-root", str(videos), "--out", str(out),
                       "--cache-dir", str(tmp_path / "cache"), "--stage", "generate", "--max-new-tokens", "4",
                       "--no-progress")
    assert proc.returncode == 0, proc.stderr
    run_dir = next(out.rglob("spec.json")).parent
    spec = json.loads((run_dir / "spec.json").read_text())
    assert spec["frames"]["n_frames"] == 16 and spec["frames"]["repeat"] == 2 and spec["frames"]["sampler"] == "tarsier2"
    gen = spec["generation"]
    assert gen["dtype"] == "bfloat16" and gen["do_sample"] is False and gen["repetition_penalty"] == 1.05
    preds = read_jsonl(run_dir / "predictions.jsonl")
    prompts = {r["sha256"]: r["prompt"] for r in read_jsonl(run_dir / "prompts.jsonl")}
    assert len(preds) == 2
    short = next(p for p in preds if p["sample_id"] == "1")  # 1.mp4: 12 frames, fewer than 16
    inputs = short["meta"]["inputs"]
    assert short["n_frames"] == 12 and inputs["frame_indices"] == list(range(12)) and inputs["frames_requested"] == 16
    assert inputs["timestamps"][1] == 0.125 and inputs["images"] == 24 and inputs["visual_tokens"] == 12 * 2 * 2 // 4 * 4
    assert "prompt" not in inputs and prompts[inputs["prompt_sha256"]].endswith("<|im_start|>assistant\n")
