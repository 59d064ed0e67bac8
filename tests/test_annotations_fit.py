"""Annotations are checked against their benchmark: another benchmark's file is refused in one line
(or scored with --allow-foreign-annotations and marked foreign); every result says whether its
annotations were the canonical file."""

from __future__ import annotations

import json

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions, write_jsonl
from harness import registry
from harness.annotations import annotations_status, check_annotations
from harness.errors import BadInput

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
EGOSCHEMA = ANNOTATIONS / "EgoSchema_subset.jsonl"
DREAM_MESSAGES = ANNOTATIONS / "DREAM-1k.messages.jsonl"


@pytest.fixture(scope="module")
def nextqa_preds(tmp_path_factory):
    return tarsier_predictions(NEXTQA, tmp_path_factory.mktemp("p") / "p.jsonl", lambda i, r: r["text"]["response"])


@pytest.mark.slow
@pytest.mark.parametrize("bench", ["mvbench", "egoschema", "video-mme"])
def test_nextqa_file_given_to_another_mc_benchmark_is_refused(tmp_path, nextqa_preds, bench):
    proc = harness_cli("run", "--model", f"file:{nextqa_preds}", "--bench", bench, "--annotations", str(NEXTQA),
                       "--out", str(tmp_path / "runs"), "--no-progress")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert f"Next-QA-val-multi_choice.jsonl is not a {bench} annotation file" in lines[0]
    assert "'Next-QA-val-multi_choice'" in lines[0] and "--allow-foreign-annotations" in lines[0]
    assert not (tmp_path / "runs").exists()


def test_a_file_too_large_for_the_benchmark_is_refused(tmp_path):
    """EgoSchema rows, but more of them than the 500-question subset has (e.g. the full set)."""
    rows = read_jsonl(EGOSCHEMA)
    extra = [{**r, "idx": r["idx"] + 500} for r in rows[:20]]
    path = write_jsonl(tmp_path / "ego.jsonl", rows + extra)
    bench = registry.benchmark("egoschema")
    with pytest.raises(BadInput, match="it has 520 rows; egoschema has 500"):
        check_annotations(bench, bench.load_annotations(str(path)))


@pytest.mark.slow
def test_allowed_foreign_file_is_scored_and_marked(tmp_path, nextqa_preds):
    proc = harness_cli("run", "--model", f"file:{nextqa_preds}", "--bench", "egoschema", "--annotations", str(NEXTQA),
                       "--limit", "20", "--out", str(tmp_path / "runs"), "--no-progress", "--json",
                       "--allow-foreign-annotations", "--publish", str(tmp_path / "results"))
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout)
    assert res["coverage"]["foreign"] is True and res["metrics"]["accuracy"] == 100.0
    rec = json.loads(next((tmp_path / "results" / "egoschema").glob("*.json")).read_text())
    assert any("another benchmark's annotations" in n for n in rec["notes"])
    run_dir = next((tmp_path / "runs").glob("*/egoschema/*/"))  # a rescore keeps the mark
    again = harness_cli("rescore", str(run_dir), "--json", "--no-progress")
    assert again.returncode == 0 and json.loads(again.stdout)["coverage"]["foreign"] is True


def test_status_canonical_modified_unverified(tmp_path):
    nextqa = registry.benchmark("next-qa")
    assert annotations_status(nextqa, nextqa.load_annotations(str(NEXTQA))) == "canonical"
    part = write_jsonl(tmp_path / "part.jsonl", read_jsonl(NEXTQA)[:100])
    assert annotations_status(nextqa, nextqa.load_annotations(str(part))) == "modified"
    dream = registry.benchmark("dream")  # the messages release file is canonical too
    assert annotations_status(dream, dream.load_annotations(str(DREAM_MESSAGES))) == "canonical"
    mvbench = registry.benchmark("mvbench")  # no canonical checksum declared: fits, but unverified
    rows = [{"idx": 0, "dataset": "MVBench/Action Sequence", "vid": "a.mp4", "video_file": "<placeholder>",
             "text": {"prompt": "USER: <video> Q?\n(A) x\n(B) y\nASSISTANT: Answer: (", "response": "A"}}]
    mv = write_jsonl(tmp_path / "mv.jsonl", rows)
    assert annotations_status(mvbench, mvbench.load_annotations(str(mv))) == "unverified"


def test_modified_file_result_says_so(tmp_path):
    rows = read_jsonl(NEXTQA)[:30]
    ann = write_jsonl(tmp_path / "part.jsonl", rows)
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: r["text"]["response"])
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(tmp_path / "runs"), "--no-progress", "--json", "--publish", str(tmp_path / "res"))
    assert proc.returncode == 0, proc.stderr
    cov = json.loads(proc.stdout)["coverage"]
    assert cov["canonical"] is False and cov["foreign"] is False
    rec = json.loads(next((tmp_path / "res" / "next-qa").glob("*.json")).read_text())
    assert any("not the canonical annotation file" in n for n in rec["notes"])
