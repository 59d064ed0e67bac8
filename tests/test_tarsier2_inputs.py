"""Tarsier2's visual input against ../shared/golden (values the official code produced).

tarsier2_resize.json: every row (frame size x frame count) -> cap, first resize, final size, grid,
tokens, through the pure size rule and through the real image processor.
tarsier2_pixels.json: the whole pipeline on the golden's synthetic 16-frame 1920x800 video, down
to the SHA-256 of the float32 pixel_values (bit-identical with transformers 4.57.6 + Pillow 13).
"""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED

from harness.adapters.tarsier2_inputs import (ImageProcessorSettings, first_resize, layout, pixel_inputs,
                                              sample_cap)

pytestmark = pytest.mark.slow  # the official image processor on full-size frames: the whole module (`pytest -m 'not slow'` skips it)

GOLDEN = SHARED / "golden"
RESIZE = json.loads((GOLDEN / "tarsier2_resize.json").read_text())
PIXELS = json.loads((GOLDEN / "tarsier2_pixels.json").read_text())
ROWS = RESIZE["rows"]


def _id(r):
    return f"{r['input_w']}x{r['input_h']}-n{r['n_frames']}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_sizes_grids_and_tokens_match_every_golden_row(row):
    got = layout(row["input_w"], row["input_h"], row["n_frames"])
    assert got.images == row["images_after_doubling"] == row["num_images_for_cap"]
    assert (got.cap_max_pixels, got.cap_min_pixels) == (row["effective_max_pixels"], row["effective_min_pixels"])
    assert got.step1_wh == (row["step1_w"], row["step1_h"])
    assert got.final_wh == (row["final_w"], row["final_h"])
    assert list(got.grid_thw) == row["grid_thw"] and got.visual_tokens == row["visual_tokens"]
    # the golden's alternative image-processor setting changes exactly the rows it says
    alt = layout(row["input_w"], row["input_h"], row["n_frames"], ImageProcessorSettings(max_pixels=460800))
    a = row["alt_if_image_processor_max_pixels_460800"]
    assert (alt.final_wh, list(alt.grid_thw), alt.visual_tokens) == ((a["final_w"], a["final_h"]), a["grid_thw"],
                                                                     a["visual_tokens"])


def test_cap_rule():
    assert sample_cap(16) == (460800, 0) and sample_cap(64) == (294912, 0) and sample_cap(256) == (73728, 0)
    assert sample_cap(42) == (449389, 0)  # 21 frames: the first count the cap bites


@pytest.mark.parametrize("row", [r for r in ROWS if r["n_frames"] == 32], ids=_id)  # the cap bites at 32
def test_the_image_processor_gives_the_golden_grid(row):
    """The real (slow) Qwen2-VL image processor, on frames of the source size sampled n times."""
    from harness.adapters.tarsier2_inputs import image_processor

    ip = image_processor(None)
    frame = Image.new("RGB", (row["input_w"], row["input_h"]), (90, 120, 200))
    images = first_resize([frame] * row["n_frames"], row["n_frames"])
    assert len(images) == row["images_after_doubling"] and images[0].size == (row["step1_w"], row["step1_h"])
    out = pixel_inputs(ip, images)
    assert out["grid_thw"].tolist() == [row["grid_thw"]]
    assert list(out["pixel_values"].shape) == row["pixel_values_shape"]


def _golden_video():
    H, W = 800, 1920
    y = np.arange(H, dtype=np.int64)[:, None]
    x = np.arange(W, dtype=np.int64)[None, :]
    frames = []
    for k in range(16):
        r = (x * 255) // (W - 1) + 0 * y
        g = (y * 255) // (H - 1) + 0 * x
        b = (x // 8 + y // 8 + 37 * k) % 256
        frames.append(Image.fromarray(np.stack([r, g, b], axis=-1).astype(np.uint8)))
    return frames


@pytest.fixture(scope="module")
def golden_pixels():
    from harness.adapters.tarsier2_inputs import image_processor

    images = first_resize(_golden_video(), 16)
    return images, pixel_inputs(image_processor(None), images)


def test_first_resize_of_frame_0_is_the_official_one(golden_pixels):
    images, _ = golden_pixels
    want = PIXELS["intermediate_step1_frame0"]
    a = np.asarray(images[0])
    assert list(images[0].size) == want["size_wh"] and images[1] is images[0]  # each frame twice
    assert int(a.astype(np.int64).sum()) == want["uint8_sum"]
    assert hashlib.sha256(a.tobytes()).hexdigest() == want["sha256_uint8"]
    for p in want["pixels"]:
        assert a[p["yx"][0], p["yx"][1]].tolist() == p["rgb"]


def test_pixel_values_are_the_official_ones(golden_pixels):
    _, out = golden_pixels
    pv = out["pixel_values"].numpy()
    o = PIXELS["output"]
    assert list(pv.shape) == o["pixel_values_shape"] and str(pv.dtype) == o["dtype"]
    assert out["grid_thw"].tolist() == [o["grid_thw"]]
    t, h, w = o["grid_thw"]
    assert t * h * w // 4 == o["tokens"]
    s = PIXELS["stats"]
    flat = pv.astype(np.float64).ravel()
    assert math.isclose(math.fsum(flat), s["sum_exact_fsum"], rel_tol=1e-12)
    assert (float(pv.min()), float(pv.max())) == (s["min"], s["max"])
    per_t = [math.fsum(pv[i * h * w:(i + 1) * h * w].astype(np.float64).ravel()) for i in range(t)]
    for got, want in zip(per_t, s["sum_per_grid_t_float64"]):
        assert math.isclose(got, want, rel_tol=1e-9)
    for e in PIXELS["elements"]:
        assert abs(float(pv[e["index"][0], e["index"][1]]) - e["value"]) <= 1e-6, e
    assert hashlib.sha256(np.ascontiguousarray(pv, dtype=np.float32).tobytes()).hexdigest() == \
        s["sha256_of_float32_row_major_bytes"]


def test_settings_from_a_preprocessor_config(tmp_path):
    old = {"min_pixels": 3136, "max_pixels": 460800, "patch_size": 14, "merge_size": 2, "temporal_patch_size": 2}
    new = {"size": {"shortest_edge": 3136, "longest_edge": 460800}}
    for cfg in (old, new, {"size": {"min_pixels": 3136, "max_pixels": 460800}}):
        (tmp_path / "preprocessor_config.json").write_text(json.dumps(cfg))
        s = ImageProcessorSettings.from_checkpoint(tmp_path)
        assert (s.min_pixels, s.max_pixels, s.factor) == (3136, 460800, 28)
    assert ImageProcessorSettings.from_checkpoint(tmp_path / "none") == ImageProcessorSettings()
