"""LLaVA-OneVision, LLaVA-Video, LLaVA-NeXT-Video and InternVL3 run on tiny random-weight
checkpoints saved as transformers saves the released conversions. Without torchvision (it does
not import beside the CPU-only torch of the test extra) their video tensors are built by
harness.adapters.pil_video; the model itself checks that the prompt holds exactly as many video
tokens as its vision tower produces features, so a wrong count fails here."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, require_modules, write_jsonl
from tiny_models import build_internvl, build_llava_next_video, build_llava_onevision, make_video

from harness import registry
from harness.adapter import AdapterOptions
from harness.types import Sample

pytestmark = pytest.mark.slow  # tiny models: the whole module (`pytest -m 'not slow'` skips it)

require_modules("torch", "transformers")

MC = "USER: <video> what happens?\n(A) x\n(B) y\nASSISTANT: Answer: ("
CASES = {  # model id: (builder, visual tokens for 4 frames)
    "llava-onevision-7b": (build_llava_onevision, 4 * 1 + 1),
    "llava-video-7b": (build_llava_onevision, 4 * 1 + 1),
    "llava-next-video-7b": (build_llava_next_video, 4 * 1),
    "internvl3-8b": (build_internvl, 4 * 1),
}


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("hfv") / "1.mp4", n_frames=20, size=(80, 48), seed=5)


@pytest.mark.parametrize("model", list(CASES))
def test_generates_on_a_tiny_checkpoint(model, video, tmp_path):
    build, tokens = CASES[model]
    ckpt = build(tmp_path / "ckpt")
    a = registry.adapter(model, AdapterOptions(model_path=str(ckpt), device="cpu", cache_dir=str(tmp_path / "c"),
                                               frames=4, max_new_tokens=3, extra={"dtype": "float32"}))
    a.check()  # no torchvision needed
    a.load()
    s = Sample(id="a", benchmark="x", idx=0, dataset="d", video=str(video), prompt=MC, cluster="a")
    pred = a.generate([s])[0]
    assert pred.ok, pred.error
    rec = pred.meta["inputs"]
    assert pred.n_frames == 4 and rec["frame_indices"] == [0, 6, 13, 19] and rec["visual_tokens"] == tokens
    assert rec["resized_wh"] == [28, 28] and rec["decoded_wh"] == [80, 48]
    if not __import__("harness.adapters.pil_video", fromlist=["x"]).torchvision_ok():
        assert "PIL" in a.spec_fields()["generation"]["video_processor"]


def test_video_tensors_follow_the_checkpoint_config(tmp_path):
    import numpy as np
    from PIL import Image

    from harness.adapters.pil_video import VideoSettings, pixel_values

    ckpt = build_llava_next_video(tmp_path / "nv")
    s = VideoSettings.from_checkpoint(ckpt, {"shortest_edge": 224}, {"height": 224, "width": 224})
    assert s.size == {"shortest_edge": 28} and s.crop_size == {"height": 28, "width": 28}
    img = Image.fromarray(np.full((48, 80, 3), 255, np.uint8))
    pv = pixel_values([[img, img]], s)
    assert tuple(pv.shape) == (1, 2, 3, 28, 28)
    want = (1.0 - 0.48145466) / 0.26862954
    assert abs(float(pv[0, 0, 0, 0, 0]) - want) < 1e-5


@pytest.mark.slow
def test_llava_onevision_end_to_end_through_harness_run(video, tmp_path):
    ckpt = build_llava_onevision(tmp_path / "ov")
    ann = write_jsonl(tmp_path / "nq.jsonl", [dict(r, vid="1") for r in read_jsonl(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl")[:2]])
    proc = harness_cli("run", "--model", "llava-onevision-7b", "--model-path", str(ckpt), "--device", "cpu",
                       "--dtype", "float32", "--bench", "next-qa", "--annotations", str(ann), "--video-root",
                       str(video.parent), "--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"),
                       "--max-new-tokens", "2", "--json", "--no-progress")
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    assert result["n_total"] == 2 and result["frames"] == 16 and result["profile"] == "llava-onevision-7b"
    preds = read_jsonl(next((tmp_path / "r").rglob("predictions.jsonl")))
    assert all(p["meta"]["inputs"]["visual_tokens"] == 16 + 1 for p in preds)
