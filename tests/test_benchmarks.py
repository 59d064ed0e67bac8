"""Every built-in benchmark is a sound declaration; those whose release file is in ../shared load it in
both Tarsier formats and build sound samples."""

from __future__ import annotations

import hashlib
import json

import pytest

from conftest import ANNOTATIONS, write_jsonl
from harness import registry
from harness.benchmark import from_mapping
from harness.errors import BadInput
from harness.metrics import METRICS

BUILTIN = [registry.benchmark(n) for n in registry.builtin_names()]
# the built-in benchmarks whose release file ../shared holds (found by their declared file name)
REAL = {b.name: b.annotations.file for b in BUILTIN if b.annotations.file and (ANNOTATIONS / b.annotations.file).is_file()}


def test_builtin_declarations():
    assert len(REAL) >= 6  # the data this suite scores for real is there
    for b in BUILTIN:
        assert b.metric is None or b.metric in METRICS
        assert b.title and b.family and b.split
        if b.metric is not None:
            assert b.dataset and b.annotations.file, b.name  # refusing another benchmark's file needs both
        if b.name in REAL:  # the canonical checksum and size are the shared file's
            path = ANNOTATIONS / REAL[b.name]
            assert hashlib.sha256(path.read_bytes()).hexdigest() in b.canonical_sha256
            assert b.canonical_rows == sum(1 for line in path.read_text().splitlines() if line.strip())


@pytest.mark.parametrize("name,file", sorted(REAL.items()))
def test_real_annotations_load(name, file):
    bench = registry.benchmark(name)
    samples = bench.samples(bench.load_annotations(str(ANNOTATIONS / file)))
    n_lines = sum(1 for line in (ANNOTATIONS / file).read_text().splitlines() if line.strip())
    assert len(samples) == n_lines
    assert len({s.id for s in samples}) == n_lines
    for s in samples:
        assert "<video>" in s.prompt
        if bench.metric == "multiple_choice":
            assert s.answer and "A" <= s.answer <= "Z"
            assert len(s.options) >= 3 and ord(s.answer) - ord("A") < len(s.options)
        elif bench.metric == "cider":
            assert len(s.references) >= 1
        else:
            assert s.answer or s.references


def test_dream_samples_and_both_formats_agree():
    bench = registry.benchmark("dream")
    text = bench.samples(bench.load_annotations(str(ANNOTATIONS / "DREAM-1k.jsonl")))
    msgs = bench.samples(bench.load_annotations(str(ANNOTATIONS / "DREAM-1k.messages.jsonl")))
    assert len(text) == len(msgs) == 1000
    by_id = {s.id: s for s in msgs}
    renamed = {"DREAM/shorts": "DREAM/vertical_video", "DREAM/stock": "DREAM/videvo"}
    for s in text:
        m = by_id[s.id]
        assert m.prompt == s.prompt == "<video>\nDescribe the video in detail."
        assert m.references == s.references and len(s.references) == 1 and s.answer is None
        assert m.extra["events"] == s.extra["events"]
        assert m.groups["subset"] == renamed.get(s.groups["subset"], s.groups["subset"])
        assert s.cluster == str(s.extra.get("vid", s.idx)) or s.cluster
    assert sum(1 for s in text if not s.extra["events"]) == 4
    assert {s.groups["subset"] for s in text} == {
        "DREAM/movie_animation", "DREAM/movie_live_action", "DREAM/shorts", "DREAM/stock", "DREAM/youtube"}


def test_video_mme_groups_and_clusters():
    bench = registry.benchmark("video-mme")
    samples = bench.samples(bench.load_annotations(str(ANNOTATIONS / "Video-MME.jsonl")))
    assert set(samples[0].groups) == {"duration", "domain", "sub_category", "task_type"}
    clusters = {}
    for s in samples:
        clusters.setdefault(s.cluster, 0)
        clusters[s.cluster] += 1
    assert len(clusters) == 900 and set(clusters.values()) == {3}
    assert {s.groups["duration"] for s in samples} == {"short", "medium", "long"}


def test_mvbench_ids_and_subtasks(tmp_path):
    rows = []
    for task in ("Action Sequence", "Object Shuffle"):
        for idx in range(3):  # idx restarts per subtask, as in Tarsier's MVBench file
            rows.append({"idx": idx, "dataset": f"MVBench/{task}", "vid": f"{task}_{idx}.mp4",
                         "video_file": "<placeholder>",
                         "text": {"prompt": "USER: <video> Q?\n(A) x\n(B) y\nASSISTANT: Answer: (", "response": "A"}})
    path = write_jsonl(tmp_path / "mvbench.jsonl", rows)
    bench = registry.benchmark("mvbench")
    samples = bench.samples(bench.load_annotations(str(path)))
    assert len({s.id for s in samples}) == 6
    assert samples[0].groups == {"subtask": "Action Sequence"}


def test_egoschema_is_labelled_subset():
    bench = registry.benchmark("egoschema")
    assert bench.split == "subset" and "subset" in (bench.note or "")
    assert "500" in bench.split_label(bench.split)


def test_video_resolution(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    (root / "7.mp4").write_bytes(b"x")
    (root / "abc.avi").write_bytes(b"x")
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(b"x")
    dream = registry.benchmark("dream")
    row = {"idx": 1, "vid": 7, "dataset": "DREAM/x", "video_file": "<placeholder>"}
    assert dream.resolve_video(row, str(root)) == str(root / "7.mp4")
    assert dream.resolve_video(row, None) is None
    # a real absolute annotated path is used as is
    assert dream.resolve_video({**row, "video_file": str(outside)}, str(root)) == str(outside)
    # the rule's extension is not required to match: other video extensions are tried
    msvd = registry.benchmark("msvd-qa")
    assert msvd.resolve_video({"idx": 0, "vid": "abc", "dataset": "m", "video_file": "<placeholder>"}, str(root)) \
        == str(root / "abc.avi")
    # a relative annotated path that escapes the root is refused
    with pytest.raises(BadInput, match="escapes"):
        dream.resolve_video({**row, "video_file": "../elsewhere.mp4"}, str(root))


def test_bad_annotation_files(tmp_path):
    bench = registry.benchmark("next-qa")
    with pytest.raises(BadInput, match="not found"):
        bench.load_annotations(str(tmp_path / "nope.jsonl"))
    bad = tmp_path / "bad.jsonl"
    good = (ANNOTATIONS / "Next-QA-val-multi_choice.jsonl").read_text().splitlines()[:3]
    bad.write_text("\n".join(good[:2] + ['{"idx": 5, "text": ']) + "\n")
    with pytest.raises(BadInput, match=r"bad.jsonl:3: malformed JSON"):
        bench.load_annotations(str(bad))
    wrong = write_jsonl(tmp_path / "wrong.jsonl", [{"idx": 1, "dataset": "x"}])
    with pytest.raises(BadInput, match=r"wrong.jsonl:1: format: .*text"):
        bench.samples(bench.load_annotations(str(wrong)))
    dup = write_jsonl(tmp_path / "dup.jsonl", [json.loads(good[0])] * 2)
    with pytest.raises(BadInput, match="duplicate"):
        bench.samples(bench.load_annotations(str(dup)))


def test_hub_unreachable_is_one_line(monkeypatch, tmp_path):
    """A declaration that reads its annotations from a hub dataset (`annotations.hub`) through `datasets`."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    bench = from_mapping({"name": "hubbench", "title": "Hub bench", "family": "mc", "metric": "multiple_choice",
                          "annotations": {"hub": "someone/hubbench", "split": "test"}}, "hubbench.yaml")
    with pytest.raises(BadInput, match="someone/hubbench.*--annotations"):
        bench.load_annotations(None)


def test_dream_without_annotations_says_how_to_fetch_them():
    """DREAM-1K's annotations come from `harness data fetch dream` (its declaration's data.hub), never from a
    silent download in the middle of a run."""
    with pytest.raises(BadInput, match="harness data fetch dream.*--annotations"):
        registry.benchmark("dream").load_annotations(None)


def test_annotation_folder_picks_each_benchmarks_file():
    for name in REAL:
        bench = registry.benchmark(name)
        ann = bench.load_annotations(str(ANNOTATIONS))
        assert ann.source.endswith(bench.annotations.file)
    with pytest.raises(BadInput, match="MVBench.jsonl"):
        registry.benchmark("mvbench").load_annotations(str(ANNOTATIONS))


def test_dream_hub_metadata_rows_become_the_same_samples(tmp_path):
    """The hub's json/metadata.json (fields typed as strings on its card) gives the same samples."""
    bench = registry.benchmark("dream")
    text_rows = [json.loads(line) for line in (ANNOTATIONS / "DREAM-1k.jsonl").read_text().splitlines()[:20]]
    hub_rows = [{"idx": str(r["idx"]), "video_file": f"{r['vid']}.mp4", "source": r["dataset"].split("/", 1)[1],
                 "duration": str(r["extra_info"]["duration"]), "description": r["text"]["response"],
                 "events": json.dumps(r["extra_info"]["events"]) if i % 2 else repr(r["extra_info"]["events"]),
                 "n_subjects": str(r["extra_info"]["n_subjects"]), "n_shots": str(r["extra_info"]["n_shots"]),
                 "n_events": str(r["extra_info"]["n_events"])} for i, r in enumerate(text_rows)]
    ours = bench.samples(bench.load_annotations(str(write_jsonl(tmp_path / "a.jsonl", text_rows))))
    hub = bench.samples(bench.load_annotations(str(write_jsonl(tmp_path / "h.jsonl", hub_rows))))
    assert [s.model_dump() for s in hub] == [s.model_dump() for s in ours]


def test_video_root_of_symbolic_links_and_sub_folders(tmp_path):
    """A --video-root that is a tree of links (usual on clusters) resolves; `..` still cannot climb out."""
    store = tmp_path / "store"
    (store / "blobs").mkdir(parents=True)
    (store / "blobs" / "x1.avi").write_bytes(b"x")
    (store / "elsewhere.mp4").write_bytes(b"x")
    root = tmp_path / "root"
    (root / "action_antonym").mkdir(parents=True)
    (root / "action_antonym" / "S010.avi").symlink_to(store / "blobs" / "x1.avi")  # a linked file
    (root / "clips").symlink_to(store / "blobs", target_is_directory=True)  # a linked folder
    linked_root = tmp_path / "root-link"
    linked_root.symlink_to(root, target_is_directory=True)  # the root itself a link
    mvbench = registry.benchmark("mvbench")
    tvbench_row = {"idx": 0, "dataset": "MVBench/Action Antonym", "vid": "action_antonym/S010.avi",
                   "video_file": "<placeholder>"}
    for r in (root, linked_root):
        assert mvbench.resolve_video(tvbench_row, str(r)) == str(r / "action_antonym" / "S010.avi")
        assert mvbench.resolve_video({**tvbench_row, "vid": "clips/x1.avi"}, str(r)) == str(r / "clips" / "x1.avi")
    # a vid that already names its file works with a `{vid}.mp4` rule too
    dream = registry.benchmark("dream")
    assert dream.resolve_video({**tvbench_row, "dataset": "DREAM/x"}, str(root)) == \
        str(root / "action_antonym" / "S010.avi")
    with pytest.raises(BadInput, match="escapes"):
        mvbench.resolve_video({**tvbench_row, "vid": "../store/elsewhere.mp4"}, str(root))
    with pytest.raises(BadInput, match="escapes"):
        mvbench.resolve_video({**tvbench_row, "vid": "clips/../../store/elsewhere.mp4"}, str(root))
