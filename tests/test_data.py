"""`harness data fetch` and `harness data check`: a benchmark's data in one command, its videos checked by
content before a run.

The hub is a stand-in on 127.0.0.1 (tests/fake_hub.py) reached through HF_ENDPOINT, so the download is
huggingface_hub's own code: its cache under HF_HOME, its resumed partial downloads, its errors (a gated
dataset answers 403 GatedRepo as the hub does).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, DEMO_VIDEO, harness_cli, read_jsonl, write_jsonl
from fake_hub import COMMIT, FakeHub
from harness import registry
from harness.errors import BadInput
from tiny_models import make_video

DREAM = "omni-research/DREAM-1K"
N_ROWS = 6


def _hub_rows(rows: list[dict]) -> list[dict]:
    """DREAM-1K rows as the hub's json/metadata.json holds them (every field a string, as on its card)."""
    return [{"idx": str(r["idx"]), "video_file": f"video/{r['vid']}.mp4", "source": r["dataset"].split("/", 1)[1],
             "duration": str(r["extra_info"]["duration"]), "description": r["text"]["response"],
             "events": json.dumps(r["extra_info"]["events"]), "n_subjects": str(r["extra_info"]["n_subjects"]),
             "n_shots": str(r["extra_info"]["n_shots"]), "n_events": str(r["extra_info"]["n_events"])} for r in rows]


@pytest.fixture(scope="module")
def dream_repo(tmp_path_factory) -> dict[str, bytes]:
    """A small DREAM-1K repository: the first rows' metadata as one JSON array, and video/video.zip with
    the clips as DREAM-1K_videos/<vid>.mp4, all but the last one."""
    tmp = tmp_path_factory.mktemp("dream-repo")
    rows = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[:N_ROWS]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i, r in enumerate(rows[:-1]):
            clip = make_video(tmp / f"{r['vid']}.mp4", n_frames=6, size=(32, 24), seed=i)
            zf.write(clip, f"DREAM-1K_videos/{r['vid']}.mp4")
    return {"json/metadata.json": json.dumps(_hub_rows(rows), indent=1).encode(),
            "video/video.zip": buf.getvalue(), "README.md": b"# DREAM-1K\n"}


def _env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
            "HARNESS_DATA_DIR": str(tmp_path / "data"), "HF_TOKEN": ""}


def test_every_scorable_benchmark_says_where_its_data_comes_from():
    for name in registry.builtin_names():
        bench = registry.benchmark(name)
        if bench.metric is None:
            continue
        assert bench.data.hub is not None or (bench.data.annotations_url and bench.data.videos_url), name
        if bench.data.hub is None:
            from harness.data import where_to_get

            text = "\n".join(where_to_get(bench))
            assert bench.data.annotations_url in text and "--video-root DIR" in text, text


def test_fetch_of_a_benchmark_not_on_the_hub_says_where_to_get_it_and_the_layout(cli):
    proc = cli("data", "fetch", "next-qa")
    assert proc.returncode == 0, proc.stderr
    bench = registry.benchmark("next-qa")
    assert bench.data.annotations_url in proc.stdout and bench.data.videos_url in proc.stdout
    assert "DIR/<vid>.mp4" in proc.stdout and "sha256 883f885cc5be" in proc.stdout
    assert "nothing fetched" in proc.stderr
    assert cli("data", "fetch", "mira-caption").stdout.count("published numbers only") == 1


@pytest.mark.slow
def test_fetch_dream_through_huggingface_hub_then_check_and_run_without_paths(tmp_path, dream_repo):
    with FakeHub({DREAM: dream_repo}) as hub:
        env = _env(hub, tmp_path)
        proc = harness_cli("data", "fetch", "dream", "--no-progress", env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        folder = tmp_path / "data" / "dream"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["hub"] == {"repo": DREAM, "revision": "main", "commit": COMMIT}
        for name in ("json/metadata.json", "video/video.zip"):  # the checksum of what was fetched
            assert manifest["files"][name]["sha256"] == hashlib.sha256(dream_repo[name]).hexdigest()
        assert manifest["video_root"] == "videos/DREAM-1K_videos"
        assert manifest["videos"] == {"found": N_ROWS - 1, "samples": N_ROWS}
        sums = [line.split("  ", 1) for line in (folder / "SHA256SUMS").read_text().splitlines()]
        assert len(sums) == N_ROWS  # the annotation file and every unpacked clip
        for digest, name in sums:
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
        assert (tmp_path / "hf" / "hub" / "datasets--omni-research--DREAM-1K").is_dir()  # huggingface_hub's cache
        assert f"{N_ROWS - 1} of the {N_ROWS} samples' videos" in proc.stdout
        assert "harness run --model MODEL --bench dream" in proc.stdout

        hub.log.clear()  # again: everything comes from the cache, nothing is unpacked twice
        again = harness_cli("data", "fetch", "dream", "--no-progress", env=env, cwd=tmp_path)
        assert again.returncode == 0 and "already in place" in again.stdout, again.stderr
        assert not [entry for entry in hub.log if entry[0] == "GET"], hub.log

    check = harness_cli("data", "check", "--bench", "dream", "--no-progress", env=env, cwd=tmp_path)
    missing = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[N_ROWS - 1]["vid"]
    assert check.returncode == 2, check.stderr
    assert f"{N_ROWS} videos under" in check.stdout and f"{N_ROWS - 1} readable, 1 missing, 0 unreadable" in check.stdout
    assert f"missing (1): {missing}.mp4" in check.stdout

    # `harness run` without --annotations uses the fetched annotation file
    preds = write_jsonl(tmp_path / "preds.jsonl", [
        {**r, "text": {**r["text"], "prediction": "A man walks."}} for r in read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[:N_ROWS]])
    run = harness_cli("run", "--model", f"file:{preds}", "--bench", "dream", "--stage", "generate", "--out",
                      str(tmp_path / "runs"), "--no-progress", env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    spec = json.loads(next((tmp_path / "runs").glob("*/dream/*/spec.json")).read_text())
    assert spec["annotations"] == str(folder / "annotations" / "metadata.json")


@pytest.mark.slow
def test_a_gated_dataset_says_accept_the_terms_then_log_in(tmp_path, dream_repo):
    with FakeHub({DREAM: dream_repo}, gated={DREAM}) as hub:
        proc = harness_cli("data", "fetch", "dream", "--no-progress", env=_env(hub, tmp_path), cwd=tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"accept the terms at {hub.url}/datasets/{DREAM} then `hf auth login`" in lines[0], lines[0]
    assert not (tmp_path / "data" / "dream" / "manifest.json").exists()


@pytest.mark.slow
def test_an_interrupted_download_resumes_where_it_stopped(tmp_path, dream_repo):
    """A partial file left in huggingface_hub's cache is continued with a Range request, not started again."""
    data = dream_repo["video/video.zip"]
    blobs = tmp_path / "hf" / "hub" / "datasets--omni-research--DREAM-1K" / "blobs"
    blobs.mkdir(parents=True)
    half = len(data) // 2
    (blobs / f"{hashlib.sha256(data).hexdigest()}.incomplete").write_bytes(data[:half])
    with FakeHub({DREAM: dream_repo}) as hub:
        proc = harness_cli("data", "fetch", "dream", "--no-progress", env=_env(hub, tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ranges = [rng for method, path, rng in hub.log if method == "GET" and path.endswith("video.zip")]
    assert ranges == [f"bytes={half}-"], hub.log
    manifest = json.loads((tmp_path / "data" / "dream" / "manifest.json").read_text())
    assert manifest["files"]["video/video.zip"]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_offline_and_not_cached_is_one_line(tmp_path):
    env = {"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HARNESS_DATA_DIR": str(tmp_path / "data")}
    proc = harness_cli("data", "fetch", "dream", "--no-progress", env=env, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "cannot be reached" in proc.stderr, proc.stderr


def test_an_archive_member_that_climbs_out_is_refused(tmp_path):
    from harness.data import _unpack

    archive = tmp_path / "video.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("clips/1.mp4", b"x")
        zf.writestr("../../evil.mp4", b"x")
    with pytest.raises(BadInput, match="outside the data folder"):
        _unpack([archive], tmp_path / "data" / "videos", progress=False)
    assert not (tmp_path / "evil.mp4").exists() and not (tmp_path / "data" / "videos").exists()


def _nextqa_videos(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    rows = read_jsonl(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl")
    vids = list(dict.fromkeys(str(r["vid"]) for r in rows))[:5]
    ann = write_jsonl(tmp_path / "ann.jsonl", [r for r in rows if str(r["vid"]) in vids])
    videos = tmp_path / "videos"
    make_video(videos / f"{vids[0]}.mp4", n_frames=6, size=(32, 24))
    make_video(videos / f"{vids[1]}.mp4", n_frames=6, size=(32, 24), seed=1)
    data = DEMO_VIDEO.read_bytes()
    (videos / f"{vids[2]}.mp4").write_bytes(data[: len(data) // 2])  # cut short
    from PIL import Image

    Image.new("RGB", (8, 8)).save(videos / f"{vids[3]}.mp4", format="PNG")  # an image named .mp4
    return ann, videos, vids  # vids[4]: missing


def test_data_check_counts_and_names_missing_and_unreadable_videos(tmp_path, cli):
    ann, videos, vids = _nextqa_videos(tmp_path)
    proc = cli("data", "check", "--bench", "next-qa", "--annotations", ann, "--video-root", videos, "--no-progress")
    assert proc.returncode == 2, proc.stderr
    assert "5 videos under" in proc.stdout and "2 readable, 1 missing, 2 unreadable" in proc.stdout, proc.stdout
    assert f"missing (1): {vids[4]}.mp4" in proc.stdout
    assert f"{vids[2]}.mp4: cannot decode" in proc.stdout and "truncated or corrupt" in proc.stdout
    assert f"{vids[3]}.mp4: holds a PNG image" in proc.stdout
    shutil.rmtree(videos)
    ok_videos = tmp_path / "ok"
    for i, v in enumerate(vids):
        make_video(ok_videos / f"{v}.mp4", n_frames=4, size=(16, 16), seed=i)
    proc = cli("data", "check", "--bench", "next-qa", "--annotations", ann, "--video-root", ok_videos, "--no-progress")
    assert proc.returncode == 0 and "5 readable, 0 missing, 0 unreadable" in proc.stdout, proc.stdout


def test_a_hub_annotation_file_that_is_one_json_array_reads_as_rows(tmp_path):
    rows = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")[:3]
    path = tmp_path / "metadata.json"
    path.write_text(json.dumps(_hub_rows(rows)))
    bench = registry.benchmark("dream")
    samples = bench.samples(bench.load_annotations(str(path)))
    assert [s.idx for s in samples] == [r["idx"] for r in rows]
    assert samples[0].references == [rows[0]["text"]["response"]]
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(BadInput, match="item 1: expected a JSON object"):
        bench.load_annotations(str(path))


def test_the_data_page_agrees_with_the_declarations():
    """docs/data.md's table is checked against the declarations, which own these facts."""
    from conftest import REPO

    rows = {line.split("|")[1].strip().strip("`"): line for line in (REPO / "docs" / "data.md").read_text().splitlines()
            if line.startswith("| `")}
    for name in registry.builtin_names():
        bench = registry.benchmark(name)
        if bench.metric is None:
            continue
        row = rows[name]
        d = bench.data
        for fact in (d.annotations_url, d.videos_url) if d.hub is None else (d.hub.repo, d.hub.annotations):
            assert fact in row, (name, fact)
        assert f"`{bench.video.replace('{vid}', '<vid>')}`" in row, (name, bench.video)
