"""The run store: append-only records, torn last lines, resume, and specs that never mix."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, harness_cli, tarsier_predictions
from harness.errors import BadInput
from harness.jsonl import LogWriter, read_log
from harness.store import RunStore
from harness.types import FrameSpec, RunSpec

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


def _spec(**kw) -> RunSpec:
    base = dict(model="m", benchmark="next-qa", annotations="a.jsonl", annotation_sha256="0" * 64)
    return RunSpec(**{**base, **kw})


def test_spec_hash_is_stable_and_sensitive():
    assert _spec().hash() == _spec().hash()
    assert _spec(annotations="elsewhere.jsonl").hash() == _spec().hash()  # where it came from is not identity
    for change in ({"frames": FrameSpec(n_frames=16)}, {"model_revision": "abc"}, {"backend": "vllm"},
                   {"annotation_sha256": "1" * 64}, {"limit": 10}, {"generation": {"max_new_tokens": 256}}):
        assert _spec(**change).hash() != _spec().hash(), change


def test_torn_last_line_is_tolerated_and_repaired(tmp_path):
    path = tmp_path / "log.jsonl"
    with LogWriter(path) as w:
        w.write({"sample_id": "1", "text": "A"})
        w.write({"sample_id": "2", "text": "B"})
    with path.open("a") as fh:
        fh.write('{"sample_id": "3", "te')  # crash mid-write
    assert [r["sample_id"] for r in read_log(path)] == ["1", "2"]
    with LogWriter(path) as w:  # appending cuts the torn tail first
        w.write({"sample_id": "3", "text": "C"})
    assert [r["sample_id"] for r in read_log(path)] == ["1", "2", "3"]
    path.write_text('{"a": 1}\n{broken\n{"a": 2}\n')
    with pytest.raises(BadInput, match="corrupt record"):
        list(read_log(path))


def test_different_specs_never_share_a_directory(tmp_path):
    a = RunStore.create(tmp_path, "m", _spec())
    b = RunStore.create(tmp_path, "m", _spec(frames=FrameSpec(n_frames=16)))
    assert a.dir != b.dir
    # a folder whose spec.json was altered is refused rather than mixed into
    spec_path = a.dir / "spec.json"
    data = json.loads(spec_path.read_text())
    data["limit"] = 3
    spec_path.write_text(json.dumps(data))
    with pytest.raises(BadInput, match="different run spec"):
        RunStore.create(tmp_path, "m", _spec())


@pytest.mark.slow
def test_interrupted_run_resumes_without_redoing(tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    args = ["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
            "--limit", "200", "--out", str(tmp_path / "r"), "--json", "--no-progress"]
    first = harness_cli(*args)
    assert first.returncode == 0, first.stderr
    pred_path = next((tmp_path / "r").glob("*/next-qa/*/predictions.jsonl"))
    lines = pred_path.read_text().splitlines()
    # simulate a crash: the last 50 predictions never made it, the one before is torn
    pred_path.write_text("\n".join(lines[:149]) + "\n" + lines[149][:20])
    second = harness_cli(*args)
    assert second.returncode == 0, second.stderr
    assert "51 new predictions" in second.stderr
    ids = [json.loads(line)["sample_id"] for line in pred_path.read_text().splitlines()]
    assert len(ids) == len(set(ids)) == 200
    assert json.loads(second.stdout)["metrics"] == json.loads(first.stdout)["metrics"] == {"accuracy": 100.0}
    show = harness_cli("show", str(pred_path.parent))
    assert show.returncode == 0 and "200 ok" in show.stdout and "accuracy 100.00" in show.stdout


def test_records_are_readable_at_once_and_fsynced_in_groups(tmp_path, monkeypatch):
    """A killed process loses nothing (each record reaches the OS as written); fsync, which blocks the
    scoring loop for milliseconds, runs once per group and on close, not once per record."""
    import harness.jsonl as jsonl

    synced = []
    real = jsonl.os.fsync
    monkeypatch.setattr(jsonl.os, "fsync", lambda fd: synced.append(fd) or real(fd))
    path = tmp_path / "scores.jsonl"
    with LogWriter(path, seconds=3600) as w:  # groups by count only here: 150 records = 1 full group + 50
        for i in range(150):
            w.write({"sample_id": str(i)})
            assert len(list(read_log(path))) == i + 1  # another reader sees it at once
        during = len(synced)
    assert during == 1 and len(synced) == 2  # the last, partial group on close
