"""Tiny random-weight checkpoints, built offline, saved in the real checkpoints' layouts.

- `build_tarsier1(dir)`: a LLaVA config with Tarsier's extras (architectures
  TarsierForConditionalGeneration, image_token_index 32000, image_newline_idx 32002,
  image_new_idx 32003), a CLIP vision tower, a Llama LM, weights saved under the old LLaVA key
  names Tarsier's release uses (language_model.model.*, language_model.lm_head.*,
  vision_tower.*, multi_modal_projector.*), a CLIP image processor and a fast tokenizer trained
  here with `tokenizers`, its vocabulary padded so `<image>` is id 32000 as in Tarsier.
- `build_qwen2vl(dir)`: a Qwen2-VL checkpoint in the original Qwen2-VL key layout (model.*,
  visual.*, lm_head.*), with a Qwen2-style tokenizer and chat template.
- `build_tarsier2(dir)`: Tarsier2 as released (bytedance/tarsier main; ../shared/golden/
  tarsier2_checkpoint_layout.json): a LLaVA wrapper config (model_type llava, architectures
  TarsierForConditionalGeneration, a qwen2_vl text_config and vision_config, image_token_index)
  and weights named vision_tower.*, language_model.model.*, language_model.lm_head.*; a processor
  chat template (chat_template.json) that, like the official processor's, writes
  `num_vision_tokens` image tokens for the video and honours `strip_final_eos`; a generation
  config with a repetition penalty, so both backends must apply it.

Small enough to build, load and generate on CPU in a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = [
    "USER: describe the video in detail. ASSISTANT: a man walks to the door and opens it.",
    "how do the two man play the instrument (A) roll the handle (B) tap their feet",
    "Answer: ( A B C D E ) the woman picks up a cup, then drinks from it while talking.",
    "A character emerges from smoke and fire, then half knelt on the ground.",
    "system user assistant You are a helpful assistant. what why where when who 0 1 2 3 4 5 6 7 8 9",
]

QWEN_CHAT_TEMPLATE = (
    "{% set has_system = messages[0]['role'] == 'system' %}"
    "{% if not has_system %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bpe(special: list[str], vocab_size: int = 300):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def _padded_bpe(special: list[str], size: int):
    """A trained byte-level BPE whose vocabulary is padded with unused entries up to `size` ids."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    trained = _bpe(special)
    state = json.loads(trained.to_str())
    vocab = dict(state["model"]["vocab"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in state["model"]["merges"]]
    for i in range(len(vocab), size):
        vocab[f"<unused{i}>"] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    return tok


def build_tarsier1(out: str | Path, *, image_size: int = 56, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import save_file
    from tokenizers import AddedToken, processors
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, PreTrainedTokenizerFast)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    tok = _padded_bpe(["<unk>", "<s>", "</s>"], 32000)
    tok.add_special_tokens([AddedToken("<image>", normalized=False, special=True),
                            AddedToken("<pad>", normalized=False, special=True)])
    assert tok.token_to_id("<image>") == 32000 and tok.token_to_id("<pad>") == 32001
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                     unk_token="<unk>", pad_token="<pad>", padding_side="left")
    hf_tok.save_pretrained(out)

    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=image_size, patch_size=14, projection_dim=32)
    text = LlamaConfig(vocab_size=32064, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                       bos_token_id=1, eos_token_id=2, pad_token_id=32001)
    cfg = LlavaConfig(vision_config=vision, text_config=text, image_token_index=32000,
                      vision_feature_layer=-2, vision_feature_select_strategy="default",
                      projector_hidden_act="gelu", pad_token_id=32001)
    model = LlavaForConditionalGeneration(cfg).eval()
    # Distinct, non-zero embeddings for Tarsier's two layout tokens (a test looks for them).
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[32002] = torch.linspace(1.0, 2.0, emb.shape[1])
        emb[32003] = torch.linspace(-2.0, -1.0, emb.shape[1])

    state = {}
    for k, v in model.state_dict().items():  # back to the layout of Tarsier's release
        if k.startswith("model.language_model."):
            k = "language_model.model." + k[len("model.language_model."):]
        elif k.startswith("model.vision_tower."):
            k = "vision_tower." + k[len("model.vision_tower."):]
        elif k.startswith("model.multi_modal_projector."):
            k = "multi_modal_projector." + k[len("model.multi_modal_projector."):]
        elif k.startswith("lm_head."):
            k = "language_model." + k
        state[k] = v.detach().clone().contiguous()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})

    conf = cfg.to_dict()
    conf.update({"architectures": ["TarsierForConditionalGeneration"], "model_type": "llava",
                 "image_newline_idx": 32002, "image_new_idx": 32003, "torch_dtype": "float16"})
    (out / "config.json").write_text(json.dumps(conf, indent=2))
    CLIPImageProcessor(size={"shortest_edge": image_size},
                       crop_size={"height": image_size, "width": image_size}).save_pretrained(out)
    return out


def build_qwen2vl(out: str | Path, *, seed: int = 0) -> Path:
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)

    hf_tok, ids = _qwen_tokenizer(chat_template=QWEN_CHAT_TEMPLATE)
    vocab = hf_tok.backend_tokenizer.get_vocab_size()

    cfg = Qwen2VLConfig(
        vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=4096, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        vision_config={"depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2,
                       "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2, "in_chans": 3},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"],
        tie_word_embeddings=False)
    model = Qwen2VLForConditionalGeneration(cfg).eval()
    state = {}
    for k, v in model.state_dict().items():  # the original Qwen2-VL layout (Tarsier2's release)
        if k.startswith("model.language_model."):
            k = "model." + k[len("model.language_model."):]
        elif k.startswith("model.visual."):
            k = "visual." + k[len("model.visual."):]
        state[k] = v.detach().clone().contiguous()
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    conf = cfg.to_dict()
    conf["architectures"] = ["Qwen2VLForConditionalGeneration"]
    (out / "config.json").write_text(json.dumps(conf, indent=2))

    Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=28 * 28 * 16).save_pretrained(out)
    hf_tok.save_pretrained(out)  # with its chat template (Tarsier2 uses the tokenizer's)
    return out


# A stand-in for the template shipped with Tarsier2's weights (not in any repository): the video
# item becomes num_vision_tokens <|image_pad|> tokens; strip_final_eos leaves the last turn open.
TARSIER2_CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'video' %}<|vision_start|>{% for _ in range(part['num_vision_tokens']) %}"
    "<|image_pad|>{% endfor %}<|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}"
    "{% if not (loop.last and strip_final_eos) %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tarsier2(out: str | Path, *, seed: int = 0, rename: tuple[str, str] | None = None) -> Path:
    """`rename=(old, new)` renames one weight (a damaged checkpoint the loader must refuse)."""
    import torch
    from safetensors.torch import save_file
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLImageProcessor

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    hf_tok, ids = _qwen_tokenizer(chat_template=None)
    text = dict(vocab_size=len(hf_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}, rope_theta=1000000.0,
                image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"],
                pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False, rms_norm_eps=1e-6)
    vision = {"depth": 1, "embed_dim": 32, "hidden_size": 32, "num_heads": 2, "mlp_ratio": 2, "patch_size": 14,
              "spatial_merge_size": 2, "temporal_patch_size": 2, "in_chans": 3}
    model = Qwen2VLForConditionalGeneration(Qwen2VLConfig(**text, vision_config=vision)).eval()
    state = {}
    for k, v in model.state_dict().items():  # back to the official wrapper's names
        for ours, official in (("model.visual.", "vision_tower."), ("visual.", "vision_tower."),
                               ("model.language_model.", "language_model.model."), ("model.", "language_model.model."),
                               ("lm_head.", "language_model.lm_head.")):
            if k.startswith(ours):
                k = official + k[len(ours):]
                break
        state[k] = v.detach().clone().contiguous()
    if rename:
        state[rename[1]] = state.pop(rename[0])
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    conf = {"architectures": ["TarsierForConditionalGeneration"], "model_type": "llava",
            "image_token_index": ids["<|image_pad|>"], "projection_head": None, "torch_dtype": "bfloat16",
            "text_config": {"model_type": "qwen2_vl", "architectures": ["Qwen2VLForCausalLM"], **text},
            "vision_config": {"model_type": "qwen2_vl", **vision}}
    (out / "config.json").write_text(json.dumps(conf, indent=2))
    (out / "generation_config.json").write_text(json.dumps(
        {"bos_token_id": ids["<|endoftext|>"], "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]],
         "pad_token_id": ids["<|endoftext|>"], "do_sample": True, "temperature": 0.01, "top_p": 0.001,
         "top_k": 1, "repetition_penalty": 1.05}))
    Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=28 * 28 * 16).save_pretrained(out)
    hf_tok.save_pretrained(out)
    (out / "chat_template.json").write_text(json.dumps({"chat_template": TARSIER2_CHAT_TEMPLATE}))
    return out


def _qwen_tokenizer(chat_template: str | None):
    from tokenizers import AddedToken
    from transformers import Qwen2TokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
    tok = _bpe([], vocab_size=300)
    tok.add_special_tokens([AddedToken(s, normalized=False, special=True) for s in specials])
    ids = {s: tok.token_to_id(s) for s in specials}
    hf_tok = Qwen2TokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                unk_token=None, bos_token=None, padding_side="left", chat_template=chat_template)
    return hf_tok, ids


LLAVA_VIDEO_TEMPLATE = (  # llava-hf style: the video item is one <video> placeholder
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% for part in message['content'] %}{% if part['type'] == 'video' %}<video>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _llava_tokenizer():

    hf_tok, ids = _qwen_tokenizer(chat_template=LLAVA_VIDEO_TEMPLATE)
    hf_tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>"]})
    ids.update({t: hf_tok.convert_tokens_to_ids(t) for t in ("<image>", "<video>")})
    return hf_tok, ids


def build_llava_onevision(out: str | Path, *, seed: int = 0) -> Path:
    """LLaVA-OneVision (and LLaVA-Video, same classes) as llava-hf saves it: SigLIP tower (28 px,
    2x2 patches -> 1 pooled token a frame), Qwen2 LM, a 28x28 video processor config."""
    import torch
    from transformers import LlavaOnevisionConfig, LlavaOnevisionForConditionalGeneration

    out = Path(out)
    torch.manual_seed(seed)
    tok, ids = _llava_tokenizer()
    cfg = LlavaOnevisionConfig(
        vision_config={"model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 28, "patch_size": 14},
        text_config={"model_type": "qwen2", "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 4096, "eos_token_id": ids["<|im_end|>"]},
        image_token_index=ids["<image>"], video_token_index=ids["<video>"], vision_feature_layer=-1,
        vision_feature_select_strategy="full", image_grid_pinpoints=[[28, 28]], tie_word_embeddings=False)
    LlavaOnevisionForConditionalGeneration(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(json.dumps(
        {"size": {"height": 28, "width": 28}, "do_center_crop": False, "rescale_factor": 1 / 255,
         "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    return out


def build_llava_next_video(out: str | Path, *, seed: int = 0) -> Path:
    """LLaVA-NeXT-Video as llava-hf saves it: CLIP tower (28 px, 2x2 patches, pooled 2x2 -> 1
    token a frame), Llama-style LM, shortest edge 28 + centre crop 28."""
    import torch
    from transformers import LlavaNextVideoConfig, LlavaNextVideoForConditionalGeneration

    out = Path(out)
    torch.manual_seed(seed)
    tok, ids = _llava_tokenizer()
    cfg = LlavaNextVideoConfig(
        vision_config={"model_type": "clip_vision_model", "hidden_size": 32, "intermediate_size": 64,
                       "num_hidden_layers": 2, "num_attention_heads": 2, "image_size": 28, "patch_size": 14,
                       "projection_dim": 32},
        text_config={"model_type": "llama", "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
                     "max_position_embeddings": 4096, "eos_token_id": ids["<|im_end|>"]},
        image_token_index=ids["<image>"], video_token_index=ids["<video>"], vision_feature_layer=-2,
        vision_feature_select_strategy="default", spatial_pool_mode="average", spatial_pool_stride=2,
        image_grid_pinpoints=[[28, 28]], tie_word_embeddings=False)
    LlavaNextVideoForConditionalGeneration(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(json.dumps(
        {"size": {"shortest_edge": 28}, "do_center_crop": True, "crop_size": {"height": 28, "width": 28}}))
    return out


def build_internvl(out: str | Path, *, seed: int = 0) -> Path:
    """InternVL3 as transformers' -hf conversion saves it: InternViT (28 px tiles, 2x2 patches,
    pixel shuffle 0.5 -> 1 token a frame), Qwen2 LM, <img>/<IMG_CONTEXT>/</img> tokens."""
    import torch
    from transformers import InternVLConfig, InternVLForConditionalGeneration

    out = Path(out)
    torch.manual_seed(seed)
    tok, ids = _llava_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<image>", "<video>", "<img>", "</img>", "<IMG_CONTEXT>"]})
    cfg = InternVLConfig(
        vision_config={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": [28, 28], "patch_size": [14, 14]},
        text_config={"model_type": "qwen2", "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64,
                     "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
                     "max_position_embeddings": 4096, "eos_token_id": ids["<|im_end|>"]},
        image_token_id=tok.convert_tokens_to_ids("<IMG_CONTEXT>"), image_seq_length=1, downsample_ratio=0.5,
        tie_word_embeddings=False)
    InternVLForConditionalGeneration(cfg).eval().save_pretrained(out)
    tok.save_pretrained(out)
    (out / "video_preprocessor_config.json").write_text(json.dumps({"size": {"height": 28, "width": 28}}))
    return out


def make_video(path: str | Path, n_frames: int = 12, size: tuple[int, int] = (64, 48), fps: int = 8,
               seed: int = 0) -> Path:
    """A small H.264 MP4 with moving content (PyAV)."""
    import av
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        for i in range(n_frames):
            img = np.roll(base, shift=i * 3, axis=1)
            img[: 8, : 8] = (i * 20) % 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


# -- pytest fixtures (import them into a test module) ---------------------------------------
try:
    import pytest
except ImportError:  # builders are usable without pytest
    pytest = None

if pytest is not None:
    def _built(tmp_path_factory, name, builder):
        root = tmp_path_factory.getbasetemp() / name
        if not (root / "config.json").is_file():  # built once per session, shared by modules
            builder(root)
        return root

    @pytest.fixture(scope="session")
    def tiny_tarsier1(tmp_path_factory):
        pytest.importorskip("transformers")
        return _built(tmp_path_factory, "tiny-tarsier1", build_tarsier1)

    @pytest.fixture(scope="session")
    def tiny_tarsier2(tmp_path_factory):
        pytest.importorskip("transformers")
        return _built(tmp_path_factory, "tiny-tarsier2", build_tarsier2)

    @pytest.fixture(scope="session")
    def tiny_qwen2vl(tmp_path_factory):
        pytest.importorskip("transformers")
        return _built(tmp_path_factory, "tiny-qwen2vl", build_qwen2vl)
