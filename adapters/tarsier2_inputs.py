"""Tarsier2's visual input, as its official code builds it (bytedance/tarsier, branch `main`).

    sampled frames -> each frame twice -> per-sample pixel cap -> first resize (ours)
    -> the checkpoint's Qwen2-VL image processor (its own resize, patches) -> visual tokens

- Frames twice: configs/tarser2_default_config.yaml:12 (use_multi_images_for_video),
  dataset/custom_data_parsers/standard_vision_parser.py:238-242.
- Cap: dataset/tarsier_processor.py:49,68-76. num_images is the doubled count; when
  128*384*384 // num_images < max_pixels (460,800, configs/tarser2_default_config.yaml:3), that
  quotient becomes max_pixels and min_pixels = min(min_pixels, max_pixels).
- First resize: dataset/tarsier_processor.py:149-154,198-202. smart_resize with factor 1 (no
  multiple-of-28 rule; floored when over the cap; min_pixels 0, so never upscaled), then PIL
  resize with its default filter (bicubic for RGB).
- Then Qwen2VLImageProcessor(images=None, videos=[frames]) (dataset/tarsier_processor.py:88-91):
  smart_resize with factor 28 rounds to the nearest multiple (so 1051x438 -> 1064x448, above the
  cap), PIL bicubic, rescale, normalise, patch 14, temporal patch 2, merge 2; tokens =
  grid_t * grid_h * grid_w / 4 (dataset/tarsier_processor.py:204-211).

The image processor's settings come from the checkpoint's preprocessor_config.json; without one
(`harness frames` before the weights are there) Qwen2-VL-7B-Instruct's, as in ../shared/golden.
Pure functions here; PIL only where pixels are made.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STEP1_MAX_PIXELS = 460_800  # 1280 * 720 // 2
STEP1_MIN_PIXELS = 0
PIXELS_PER_SAMPLE = 128 * 384 * 384  # TarsierProcessor.max_pixels_per_sample
FRAME_COPIES = 2


@dataclass(frozen=True)
class ImageProcessorSettings:
    """What the Qwen2-VL image processor of a checkpoint does (Qwen2-VL-7B-Instruct's by default)."""

    min_pixels: int = 3136
    max_pixels: int = 12_845_056
    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    do_resize: bool = True
    image_mean: tuple[float, ...] = (0.48145466, 0.4578275, 0.40821073)
    image_std: tuple[float, ...] = (0.26862954, 0.26130258, 0.27577711)
    source: str = "Qwen2-VL-7B-Instruct defaults (no preprocessor_config.json at hand)"

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    @classmethod
    def from_config(cls, config: dict[str, Any], source: str) -> "ImageProcessorSettings":
        """From a preprocessor_config.json: `min_pixels`/`max_pixels`, or `size` written either way
        ({min_pixels, max_pixels} up to transformers 4.47, {shortest_edge, longest_edge} after)."""
        size = config.get("size") or {}
        lo = config.get("min_pixels", size.get("min_pixels", size.get("shortest_edge")))
        hi = config.get("max_pixels", size.get("max_pixels", size.get("longest_edge")))
        d = cls()
        return cls(min_pixels=int(lo if lo is not None else d.min_pixels),
                   max_pixels=int(hi if hi is not None else d.max_pixels),
                   patch_size=int(config.get("patch_size", d.patch_size)),
                   merge_size=int(config.get("merge_size", d.merge_size)),
                   temporal_patch_size=int(config.get("temporal_patch_size", d.temporal_patch_size)),
                   do_resize=bool(config.get("do_resize", True)),
                   image_mean=tuple(config.get("image_mean", d.image_mean)),
                   image_std=tuple(config.get("image_std", d.image_std)), source=source)

    @classmethod
    def from_checkpoint(cls, folder: str | Path | None) -> "ImageProcessorSettings":
        f = Path(folder) / "preprocessor_config.json" if folder else None
        if f is None or not f.is_file():
            return cls()
        return cls.from_config(json.loads(f.read_text(encoding="utf-8")), str(f))


def smart_resize(height: int, width: int, factor: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """Qwen2-VL's size rule (transformers' image_processing_qwen2_vl.smart_resize, 4.57 form):
    sides rounded to multiples of `factor`; over max_pixels, scaled down and floored; under
    min_pixels, scaled up and ceiled. (4.47 also refuses a side below `factor`.)"""
    if min(height, width) < 1:
        raise ValueError(f"empty frame {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio above 200 ({width}x{height})")
    h = round(height / factor) * factor
    w = round(width / factor) * factor
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def sample_cap(num_images: int, max_pixels: int = STEP1_MAX_PIXELS,
               min_pixels: int = STEP1_MIN_PIXELS) -> tuple[int, int]:
    """(max_pixels, min_pixels) of the first resize for a sample of num_images images (doubled)."""
    if num_images > 0 and PIXELS_PER_SAMPLE // num_images < max_pixels:
        max_pixels = PIXELS_PER_SAMPLE // num_images
        min_pixels = min(min_pixels, max_pixels)
    return max_pixels, min_pixels


@dataclass(frozen=True)
class Tarsier2Layout:
    """Sizes and counts of one sample's visual input (what `harness frames` shows)."""

    frames: int  # frames sampled
    images: int  # after doubling
    cap_max_pixels: int
    cap_min_pixels: int
    source_wh: tuple[int, int]
    step1_wh: tuple[int, int]
    final_wh: tuple[int, int]
    grid_thw: tuple[int, int, int]
    visual_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def layout(width: int, height: int, n_frames: int, ip: ImageProcessorSettings | None = None) -> Tarsier2Layout:
    """The official sizes for n_frames sampled frames of width x height."""
    ip = ip or ImageProcessorSettings()
    images = FRAME_COPIES * n_frames
    cap, floor_ = sample_cap(images)
    h1, w1 = smart_resize(height, width, 1, floor_, cap)
    if ip.do_resize:
        h2, w2 = smart_resize(h1, w1, ip.factor, ip.min_pixels, ip.max_pixels)
    else:
        h2, w2 = h1, w1
    grid = (images // ip.temporal_patch_size, h2 // ip.patch_size, w2 // ip.patch_size)
    tokens = grid[0] * grid[1] * grid[2] // ip.merge_size ** 2
    return Tarsier2Layout(n_frames, images, cap, floor_, (width, height), (w1, h1), (w2, h2), grid, tokens)


def first_resize(images: list, n_frames: int) -> list:
    """The frames after the official first resize, each twice (the list the image processor gets)."""
    from PIL import Image

    cap, floor_ = sample_cap(FRAME_COPIES * n_frames)
    out = []
    for img in images:
        w, h = img.size
        nh, nw = smart_resize(h, w, 1, floor_, cap)
        if (nw, nh) != (w, h):  # PIL's default filter for RGB, named
            img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        out.extend([img] * FRAME_COPIES)
    return out


def final_resize(images: list, ip: ImageProcessorSettings) -> list:
    """What the image processor's own resize makes of them (PIL bicubic, as the slow Qwen2-VL
    image processor does on uint8 frames): frames vLLM can take without resizing again."""
    from PIL import Image

    out = []
    for img in images:
        w, h = img.size
        nh, nw = smart_resize(h, w, ip.factor, ip.min_pixels, ip.max_pixels) if ip.do_resize else (h, w)
        out.append(img if (nw, nh) == (w, h) else img.resize((nw, nh), Image.Resampling.BICUBIC))
    return out


def image_processor(folder: str | Path | None, **kw):
    """The checkpoint's slow (PIL) Qwen2-VL image processor, or one with Qwen2-VL's defaults.

    The slow processor is the one the official code ran (transformers 4.47 had no fast one);
    torch-based processors resize differently."""
    import transformers

    if folder:
        p = Path(folder)
        if (p / "preprocessor_config.json").is_file() or not p.exists():  # a checkpoint folder or a hub id
            return transformers.AutoImageProcessor.from_pretrained(str(folder), use_fast=False, **kw)
    d = ImageProcessorSettings()
    return transformers.Qwen2VLImageProcessor(min_pixels=d.min_pixels, max_pixels=d.max_pixels,
                                              patch_size=d.patch_size, merge_size=d.merge_size,
                                              temporal_patch_size=d.temporal_patch_size,
                                              image_mean=list(d.image_mean), image_std=list(d.image_std))


def settings_of(ip) -> ImageProcessorSettings:
    """ImageProcessorSettings of a loaded Qwen2-VL image processor."""
    return ImageProcessorSettings(
        min_pixels=int(ip.min_pixels), max_pixels=int(ip.max_pixels), patch_size=int(ip.patch_size),
        merge_size=int(ip.merge_size), temporal_patch_size=int(ip.temporal_patch_size),
        do_resize=bool(ip.do_resize), image_mean=tuple(ip.image_mean), image_std=tuple(ip.image_std),
        source=type(ip).__name__)


def pixel_inputs(ip, images: list) -> dict[str, Any]:
    """pixel_values and grid of one sample's doubled, first-resized frames (the official call)."""
    import logging

    log = logging.getLogger("transformers.models.qwen2_vl.image_processing_qwen2_vl")
    level = log.level
    log.setLevel(logging.ERROR)  # a deprecation notice about videos= on every call
    try:
        out = ip(images=None, videos=[images], return_tensors="pt")
    finally:
        log.setLevel(level)
    return {"pixel_values": out["pixel_values_videos"], "grid_thw": out["video_grid_thw"]}
