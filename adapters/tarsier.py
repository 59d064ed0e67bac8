"""Tarsier (omni-research/Tarsier-7b, Tarsier-34b) and Tarsier2 (Tarsier2-7b-0115).

Tarsier-1 checkpoints say `model_type: llava` and load into transformers'
LlavaForConditionalGeneration with no missing keys, but LLaVA's forward computes something
else: Tarsier puts the embedding of token `image_newline_idx` after every row of patches and
the embedding of token `image_new_idx` after every frame (24 x (24 + 1) + 1 = 601 positions a
frame at 336 px, not LLaVA's 576). So this adapter takes LLaVA's parts (vision tower,
projector, embeddings, language model) and builds Tarsier's input itself:

    projector features (frame, rows, cols, D) -> + newline after each row -> + frame end
    -> in place of each `<image>` token of `USER: <image>x8\\n{prompt} ASSISTANT: `
    -> inputs_embeds (left-padded batch) -> greedy generate

Tarsier-1 inputs: 8 uniform frames, each stretched to a square of side max(w, h) (aspect not
kept), then the checkpoint's CLIP image processor (336 px); BOS added; fp16; greedy, 512 new
tokens, KV cache on.

Tarsier2 is in tarsier2.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import BadInput
from harness.types import Prediction, Sample

from harness.adapters._hf import LocalAdapter
from harness.adapters._base import chat_turns, compact_prompt, frames_record, prompt_hash, split_chat_prompt

IMAGE_TOKEN = "<image>"
_VISUAL = re.compile(r"(<image>|<video>)\n*")


def tarsier1_prompt(prompt: str, n_frames: int, image_token: str = IMAGE_TOKEN,
                    turns: list[dict[str, str]] | None = None, eos: str = "</s>") -> str:
    """The text Tarsier-1 saw: `<video>` -> n image tokens, wrapped in USER:/ASSISTANT:.

    Annotation prompts that already hold the turn (the QA sets: `USER: <video> ... ASSISTANT:
    Answer: (`) are kept verbatim apart from the placeholder. A conversation goes on as the official
    demo writes it (tools/conversation.py get_prompt@e3f27ef6): `{answer}{eos}USER: {question}
    ASSISTANT: ` per turn, visual tokens removed from later questions.
    """
    images = image_token * n_frames
    if "<video>" in prompt:
        body = prompt.replace("<video>", images, 1).replace("<video>", "")
    else:
        body = f"{images}\n{prompt}"
    user, _ = split_chat_prompt(prompt)
    text = body if user != prompt else f"USER: {body} ASSISTANT: "  # already a USER:/ASSISTANT: turn
    for t in turns or ():
        if t["role"] == "assistant":
            text += t["content"] + eos
        else:
            text += f"USER: {_VISUAL.sub('', t['content'])} ASSISTANT: "
    return text


def tarsier_frame_layout(features, newline, frame_end):
    """Tarsier's per-frame token layout.

    features: (frames, patches, D) projector output, patches a square number (rows x cols);
    newline, frame_end: (D,) embeddings of image_newline_idx / image_new_idx.
    Returns (frames, rows * (cols + 1) + 1, D): each row followed by `newline`, each frame
    closed by `frame_end`.
    """
    import torch

    f, p, d = features.shape
    side = int(round(p ** 0.5))
    if side * side != p:
        raise BadInput(f"Tarsier expects a square patch grid, got {p} patches a frame")
    grid = features.reshape(f, side, side, d)
    nl = newline.to(features.dtype).reshape(1, 1, 1, d).expand(f, side, 1, d)
    rows = torch.cat([grid, nl], dim=2).reshape(f, side * (side + 1), d)
    end = frame_end.to(features.dtype).reshape(1, 1, d).expand(f, 1, d)
    return torch.cat([rows, end], dim=1)


class Tarsier1Adapter(LocalAdapter):
    family = "tarsier"
    needs = "GPU >=16 GB (fp16); weights omni-research/Tarsier-7b; extra [tarsier]"
    resize: ClassVar[str] = "square-stretch"
    sampler: ClassVar[str] = "tarsier1"
    default_frames: ClassVar[int] = 8
    # The LLMs (Vicuna-7B, Yi-34B) were trained on 4,096 positions; at 601 tokens a frame that holds
    # (4096 - 512 answer - ~30 text) // 601 = 5 frames, yet the published setting is 8 (about 4,830
    # positions: the official code lets the rotary embedding run past the trained length) and the
    # official Gradio demo defaults to 16 (tasks/demo_gradio.py:30@e3f27ef6, ~10,150 positions with
    # the answer). 16 is the most the authors ever ran; more is refused rather than silently degraded.
    max_frames: ClassVar[int] = 16
    default_dtype: ClassVar[str] = "float16"
    default_max_new_tokens: ClassVar[int] = 512
    min_transformers: ClassVar[str] = "4.44"

    def __init__(self, model, options):
        super().__init__(model, options)
        self.tokenizer = None
        self.image_processor = None
        self.cfg = None

    def generation_settings(self) -> dict[str, Any]:
        return {**super().generation_settings(), "prompt": "USER: <image>xN\\n{prompt} ASSISTANT: ",
                "layout": "tarsier: row newline + frame end", "bos": True}

    # -- loading -------------------------------------------------------------------------
    def load_transformers(self) -> None:
        import transformers

        kw = self.pretrained_kwargs()
        cfg = transformers.AutoConfig.from_pretrained(self.source, **kw)
        if getattr(cfg, "model_type", None) != "llava":
            raise BadInput(f"{self.source} is not a Tarsier-1 checkpoint (model_type "
                           f"{getattr(cfg, 'model_type', None)!r}, expected 'llava')")
        missing = [k for k in ("image_newline_idx", "image_new_idx") if getattr(cfg, k, None) is None]
        if missing:
            raise BadInput(f"{self.source} is a plain LLaVA config without Tarsier's {', '.join(missing)}; "
                           "it is not a Tarsier checkpoint")
        self.cfg = cfg
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.source, **kw)
        self.tokenizer.padding_side = "left"
        self.image_processor = transformers.AutoImageProcessor.from_pretrained(
            self.source, use_fast=False, **kw)
        model = transformers.LlavaForConditionalGeneration.from_pretrained(
            self.source, config=cfg, device_map=self.device_map(), **self.dtype_kwargs(), **kw)
        model.eval()
        self.model_obj = model
        tok_id = self.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
        if tok_id != cfg.image_token_index:
            raise BadInput(f"{self.source}: tokenizer id of {IMAGE_TOKEN} is {tok_id}, config says "
                           f"image_token_index {cfg.image_token_index}")

    # -- the computation -----------------------------------------------------------------
    def frame_embeddings(self, images: list) -> Any:
        """(frames, tokens per frame, D): vision tower -> projector -> Tarsier layout."""
        import torch

        model, cfg = self.model_obj, self.cfg
        vt = model.vision_tower
        vt_param = next(vt.parameters())
        pixels = self.image_processor(images=images, return_tensors="pt")["pixel_values"]
        pixels = pixels.to(device=vt_param.device, dtype=vt_param.dtype)
        layer = cfg.vision_feature_layer
        strategy = cfg.vision_feature_select_strategy
        hidden = vt(pixels, output_hidden_states=True).hidden_states
        if isinstance(layer, int):
            feats = hidden[layer]
            if strategy == "default":
                feats = feats[:, 1:]
        else:
            feats = torch.cat([hidden[i][:, 1:] if strategy == "default" else hidden[i] for i in layer], dim=-1)
        feats = model.multi_modal_projector(feats)
        emb = model.get_input_embeddings()
        ids = torch.tensor([cfg.image_newline_idx, cfg.image_new_idx], device=emb.weight.device)
        special = emb(ids).to(feats.device)
        return tarsier_frame_layout(feats, special[0], special[1])

    def build_inputs(self, batch: list[tuple[Sample, Any]]):
        """inputs_embeds (B, T, D) left-padded, attention_mask (B, T), prompt lengths."""
        import torch

        model, cfg = self.model_obj, self.cfg
        emb = model.get_input_embeddings()
        device = emb.weight.device
        image_tok = self.tokenizer.convert_ids_to_tokens(cfg.image_token_index)
        all_images = [im for _, f in batch for im in f.images]
        frames = self.frame_embeddings(all_images).to(device=device, dtype=emb.weight.dtype)
        seqs = []
        k = 0
        for s, f in batch:
            n = len(f.images)
            text = self.prompt_text(s, n, image_tok)
            ids = self.tokenizer(text, add_special_tokens=True)["input_ids"]
            if ids.count(cfg.image_token_index) != n:
                raise BadInput(f"sample {s.id}: prompt holds {ids.count(cfg.image_token_index)} image "
                               f"tokens for {n} frames")
            ids_t = torch.tensor(ids, device=device)
            text_emb = emb(ids_t)
            parts, start = [], 0
            for pos in (ids_t == cfg.image_token_index).nonzero().flatten().tolist():
                parts.append(text_emb[start:pos])
                parts.append(frames[k])
                k += 1
                start = pos + 1
            parts.append(text_emb[start:])
            seqs.append(torch.cat(parts, dim=0))
        longest = max(x.shape[0] for x in seqs)
        d = seqs[0].shape[1]
        embeds = torch.zeros(len(seqs), longest, d, dtype=emb.weight.dtype, device=device)
        mask = torch.zeros(len(seqs), longest, dtype=torch.long, device=device)
        for i, x in enumerate(seqs):
            embeds[i, longest - x.shape[0]:] = x
            mask[i, longest - x.shape[0]:] = 1
        return embeds, mask, [x.shape[0] for x in seqs]

    def generate_transformers(self, batch):
        import torch

        with torch.inference_mode():
            embeds, mask, lengths = self.build_inputs(batch)
            out = self.model_obj.generate(inputs_embeds=embeds, attention_mask=mask,
                                          pad_token_id=self._pad_id(), **self.generate_kwargs())
        # With inputs_embeds only, generate returns just the new tokens.
        texts, counts = self.decode_new_tokens(self.tokenizer, out)
        image_tok = self.tokenizer.convert_ids_to_tokens(self.cfg.image_token_index)
        return [Prediction(sample_id=s.id, text=t, prompt_tokens=n, completion_tokens=c, n_frames=len(f.images),
                           meta={"inputs": self.inputs_record(f, self.prompt_text(s, len(f.images), image_tok))})
                for (s, f), t, n, c in zip(batch, texts, lengths, counts)]

    def prompt_text(self, sample: Sample, n_frames: int, image_token: str = IMAGE_TOKEN) -> str:
        """The sample's prompt with its frames' image tokens (and the conversation so far, in chat)."""
        turns = chat_turns(sample)
        if turns and self.tokenizer is None:  # vLLM: the end-of-turn text is the tokenizer's
            import transformers

            self.tokenizer = transformers.AutoTokenizer.from_pretrained(self.source, **self.pretrained_kwargs())
        eos = getattr(self.tokenizer, "eos_token", None) or "</s>"
        return tarsier1_prompt(sample.prompt, n_frames, image_token, turns, eos)

    def frame_side(self) -> int:
        """Pixels a side of the square the CLIP processor makes (336 for the released models)."""
        ip = self.image_processor
        crop = getattr(ip, "crop_size", None) if ip is not None else None
        if crop is None and Path(self.source).is_dir():  # `harness frames` before loading
            f = Path(self.source) / "preprocessor_config.json"
            crop = json.loads(f.read_text()).get("crop_size") if f.is_file() else None
        if isinstance(crop, dict) and crop.get("height"):
            return int(crop["height"])
        if isinstance(crop, int):
            return crop
        return 336

    def input_layout(self, frames) -> dict[str, Any]:
        side = self.frame_side() // 14
        per = side * (side + 1) + 1
        return {"images": len(frames.images), "stretched_wh": list(frames.images[0].size),
                "resized_wh": [self.frame_side()] * 2, "tokens_per_frame": per,
                "visual_tokens": per * len(frames.images),
                "note": "each frame stretched to a square (aspect not kept), then the CLIP processor"}

    def inputs_record(self, frames, prompt: str) -> dict[str, Any]:
        """Frames, sizes (stretched square -> CLIP side), 601 tokens a frame at 336 px, prompt hash."""
        side = self.frame_side() // 14
        rec = frames_record(frames)
        rec.update({"images": len(frames.images), "stretched_wh": list(frames.images[0].size) if frames.images else None,
                    "resized_wh": [self.frame_side()] * 2, "tokens_per_frame": side * (side + 1) + 1,
                    "visual_tokens": len(frames.images) * (side * (side + 1) + 1),
                    "prompt_sha256": prompt_hash(prompt), "prompt": compact_prompt(prompt, IMAGE_TOKEN)})
        return rec

    def _pad_id(self) -> int:
        tok = self.tokenizer
        for t in (tok.pad_token_id, tok.unk_token_id, tok.eos_token_id):
            if t is not None:
                return t
        return 0

    # -- vLLM (0.9.1 <= vllm <= 0.24.0 has TarsierForConditionalGeneration) ----------------
    vllm_min: ClassVar[str] = "0.9.1"
    vllm_max: ClassVar[str] = "0.24.0"

    def vllm_request(self, sample: Sample, frames) -> dict[str, Any]:
        # Frames arrive already stretched to squares (FrameSpec resize "square-stretch"): vLLM's
        # CLIP processor would otherwise centre-crop them, which Tarsier never did.
        images = list(frames.images)
        for im in images:
            if im.width != im.height:
                raise BadInput(f"sample {sample.id}: frames must be square-stretched for Tarsier on vLLM")
        prompt = self.prompt_text(sample, len(images))
        return {"prompt": prompt, "multi_modal_data": {"image": images}, "record": self.inputs_record(frames, prompt)}

    def vllm_tokens_per_frame(self) -> int:
        return 24 * 25 + 1


class Tarsier7B(Tarsier1Adapter):
    hub_id = "omni-research/Tarsier-7b"
    needs = "GPU ~16 GB (fp16), weights omni-research/Tarsier-7b, extra [tarsier]"
    gpu_memory_gb = 16


class Tarsier34B(Tarsier1Adapter):
    hub_id = "omni-research/Tarsier-34b"
    needs = "GPUs ~70 GB total (fp16, device_map auto), weights omni-research/Tarsier-34b, extra [tarsier]"
    gpu_memory_gb = 70
    multi_gpu = True
