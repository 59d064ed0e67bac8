"""Video pixels for LLaVA-OneVision, LLaVA-Video and LLaVA-NeXT-Video without torchvision.

transformers' video processors for these models are torchvision-based, and its processors accept
no other video processor (a type check against BaseVideoProcessor). Where torchvision cannot be
installed (PyPI's torchvision needs PyPI's CUDA torch; the CPU-only torch build has no matching
torchvision on PyPI), the adapters build the same tensors here, from the checkpoint's
video_preprocessor_config.json (or preprocessor_config.json): resize (PIL bicubic: the slow image
processors' filter, not torchvision's antialiased bicubic, so pixels may differ by a rounding
step), optional centre crop, rescale, normalise. The visual-token count of each family is the one
its transformers processor writes into the prompt.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VideoSettings:
    size: dict[str, int]
    crop_size: dict[str, int] | None = None
    rescale_factor: float = 1 / 255
    image_mean: tuple[float, ...] = CLIP_MEAN
    image_std: tuple[float, ...] = CLIP_STD
    source: str = "defaults"

    @classmethod
    def from_checkpoint(cls, folder: str | Path, default_size: dict[str, int],
                        default_crop: dict[str, int] | None = None) -> "VideoSettings":
        for name in ("video_preprocessor_config.json", "preprocessor_config.json"):
            f = Path(folder) / name
            if f.is_file():
                c = json.loads(f.read_text(encoding="utf-8"))
                crop = c.get("crop_size", default_crop) if c.get("do_center_crop", default_crop is not None) else None
                return cls(size=c.get("size") or default_size, crop_size=crop,
                           rescale_factor=float(c.get("rescale_factor", 1 / 255)),
                           image_mean=tuple(c.get("image_mean", CLIP_MEAN)),
                           image_std=tuple(c.get("image_std", CLIP_STD)), source=str(f))
        return cls(size=default_size, crop_size=default_crop)


def _resized(img, size: dict[str, int]):
    from PIL import Image

    w, h = img.size
    if "height" in size and "width" in size:
        nw, nh = size["width"], size["height"]
    else:  # shortest edge to size, aspect kept (transformers' default_to_square=False rule)
        s = size["shortest_edge"]
        short, long_ = (w, h) if w <= h else (h, w)
        new_long = int(s * long_ / short)
        nw, nh = (s, new_long) if w <= h else (new_long, s)
    return img if (nw, nh) == (w, h) else img.resize((nw, nh), Image.Resampling.BICUBIC)


def _cropped(img, crop: dict[str, int] | None):
    if not crop:
        return img
    w, h = img.size
    cw, ch = crop["width"], crop["height"]
    left, top = (w - cw) // 2, (h - ch) // 2
    return img.crop((left, top, left + cw, top + ch))


def pixel_values(videos: list[list], s: VideoSettings):
    """(batch, frames, 3, H, W) float32 tensor of the given PIL frames."""
    import numpy as np
    import torch

    mean = np.asarray(s.image_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(s.image_std, dtype=np.float32)[:, None, None]
    out = []
    for frames in videos:
        arrs = []
        for img in frames:
            a = np.asarray(_cropped(_resized(img.convert("RGB"), s.size), s.crop_size), dtype=np.float32)
            a = a.transpose(2, 0, 1) * np.float32(s.rescale_factor)
            arrs.append((a - mean) / std)
        out.append(np.stack(arrs))
    return torch.from_numpy(np.stack(out))


def onevision_tokens(frames: int, height: int, patch: int) -> int:
    """LLaVA-OneVision: each frame pooled to ceil(patches/2)^2 tokens, one newline per video."""
    pooled = math.ceil((height // patch) / 2)
    return frames * pooled * pooled + 1


def next_video_tokens(frames: int, height: int, width: int, patch: int) -> int:
    """LLaVA-NeXT-Video: patches / 4 per frame (2x2 average pooling)."""
    return (height // patch) * (width // patch) // 4 * frames


def torchvision_ok() -> bool:
    """torchvision imports here (PyPI's wheel fails beside a CPU-only torch build)."""
    try:
        import torchvision  # noqa: F401
    except Exception:
        return False
    return True


def describe(settings: VideoSettings) -> dict[str, Any]:
    return {"video_processor": "harness PIL (no torchvision)", "size": settings.size, "crop": settings.crop_size,
            "settings_from": settings.source}
