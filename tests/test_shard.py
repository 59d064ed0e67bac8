"""Manual sharding: `--shard I/N` runs merged by `harness merge` equal one unsharded run, and
merges that would mix specs or miss or double samples are refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions, write_jsonl
from harness import shard
from harness.cli import main
from harness.errors import BadInput

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
LIMIT = 100


@pytest.fixture
def preds(tmp_path):
    return tarsier_predictions(NEXTQA, tmp_path / "p.jsonl",
                               lambda i, r: r["text"]["response"] if i % 5 else "(F) unsure")


def _cli(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _run(capsys, preds, out, *extra, limit=LIMIT):
    code, stdout, err = _cli(capsys, "run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations",
                             str(NEXTQA), "--limit", str(limit), "--out", str(out), "--no-progress", *extra)
    assert code == 0, err
    return stdout, err


def _shards(capsys, preds, out, n, **kw) -> list[Path]:
    dirs = []
    for i in range(n):
        _, err = _run(capsys, preds, out, "--shard", f"{i}/{n}", "--batch-size", "3", **kw)
        dirs.append(Path(err.strip().rsplit(" ", 1)[-1]))
    return dirs


def _one_line_refusal(capsys, *args) -> str:
    code, _, err = _cli(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    return lines[0]


def test_shard_rule_is_round_robin_and_partitions_the_samples():
    samples = list(range(10))
    parts = [shard.select(samples, f"{i}/3") for i in range(3)]
    assert parts == [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    assert sorted(sum(parts, [])) == samples
    assert shard.normalize(" 1 / 4 ") == "1/4"
    for bad in ("4/4", "1", "a/b", "0/0", "-1/2"):
        with pytest.raises(BadInput, match="--shard"):
            shard.parse(bad)


@pytest.mark.slow
def test_merged_shards_are_byte_identical_to_one_run_and_score_the_same(tmp_path, capsys, preds):
    single, _ = _run(capsys, preds, tmp_path / "one", "--json")
    dirs = _shards(capsys, preds, tmp_path / "many", 3)
    assert len({d.name for d in dirs}) == 3  # each shard is its own run
    assert all(json.loads((d / "spec.json").read_text())["shard"] == f"{i}/3" for i, d in enumerate(dirs))
    code, stdout, err = _cli(capsys, "merge", *map(str, dirs), "--out", str(tmp_path / "many"))
    assert code == 0, err
    merged = Path(stdout.strip())
    one = next((tmp_path / "one").glob("*/next-qa/*"))
    assert merged.name == one.name  # exactly where the unsharded run lives
    assert (merged / "predictions.jsonl").read_bytes() == (one / "predictions.jsonl").read_bytes()
    scored, err = _run(capsys, preds, tmp_path / "many", "--stage", "score", "--json")
    assert "0 new predictions" in err
    a, b = json.loads(single), json.loads(scored)
    a.pop("date"), b.pop("date")
    assert a == b and a["metrics"]["accuracy"] == 80.0
    # merging again is a no-op; the unsharded command finds nothing left to generate
    code, _, err = _cli(capsys, "merge", *map(str, dirs), "--out", str(tmp_path / "many"))
    assert code == 0 and "already merged" in err
    _, err = _run(capsys, preds, tmp_path / "many", "--stage", "generate")
    assert "0 new predictions" in err


def test_a_shard_generates_only_and_resumes(tmp_path, capsys, preds):
    line = _one_line_refusal(capsys, "run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations",
                             str(NEXTQA), "--limit", "10", "--shard", "0/2", "--stage", "all", "--out", str(tmp_path))
    assert "--shard only generates" in line
    (d,) = _shards(capsys, preds, tmp_path, 1)
    assert [r["sample_id"] for r in read_jsonl(d / "predictions.jsonl")] == [str(i) for i in range(LIMIT)]
    manifest = json.loads((d / "shard.json").read_text())
    assert manifest["n_total"] == LIMIT and manifest["rule"] == "position mod N"
    _, err = _run(capsys, preds, tmp_path, "--shard", "0/1")
    assert "0 new predictions" in err


@pytest.mark.slow
def test_merge_refuses_mixed_missing_doubled_or_unfinished_shards(tmp_path, capsys, preds):
    a = _shards(capsys, preds, tmp_path / "a", 2)
    other_limit = _shards(capsys, preds, tmp_path / "b", 2, limit=LIMIT + 1)
    three = _shards(capsys, preds, tmp_path / "c", 3)
    out = str(tmp_path / "merged")

    assert "different run specs" in _one_line_refusal(capsys, "merge", str(a[0]), str(other_limit[1]), "--out", out)
    assert "differ in limit" in _one_line_refusal(capsys, "merge", str(a[0]), str(other_limit[1]), "--out", out)
    assert "split the run different ways" in _one_line_refusal(capsys, "merge", str(a[0]), str(three[1]), "--out", out)
    assert "shard(s) 1/2 missing" in _one_line_refusal(capsys, "merge", str(a[0]), "--out", out)
    assert "given twice" in _one_line_refusal(capsys, "merge", str(a[0]), str(a[0]), str(a[1]), "--out", out)
    _run(capsys, preds, tmp_path / "one")
    unsharded = next((tmp_path / "one").glob("*/next-qa/*"))
    assert "not a shard run" in _one_line_refusal(capsys, "merge", str(unsharded), "--out", out)

    # an unfinished shard (it crashed after 20 predictions): refused, nothing written
    path = a[1] / "predictions.jsonl"
    full = path.read_text()
    path.write_text("".join(full.splitlines(keepends=True)[:20]))
    line = _one_line_refusal(capsys, "merge", str(a[0]), str(a[1]), "--out", out)
    assert "incomplete" in line and "30 of its 50" in line
    assert not (tmp_path / "merged").exists() or not list((tmp_path / "merged").rglob("predictions.jsonl"))
    path.write_text(full)

    # the target already holds other predictions (a partial unsharded run): never overwritten
    target = unsharded / "predictions.jsonl"
    target.write_text("".join(target.read_text().splitlines(keepends=True)[:10]))
    line = _one_line_refusal(capsys, "merge", str(a[0]), str(a[1]), "--out", str(tmp_path / "one"))
    assert "already holds predictions" in line
    assert len(target.read_text().splitlines()) == 10


def test_failed_predictions_in_a_shard_are_merged_and_retried_unsharded(tmp_path, capsys):
    rows = read_jsonl(NEXTQA)[:LIMIT]
    for i, r in enumerate(rows):
        r["text"]["prediction"] = r["text"]["response"]
    partial = write_jsonl(tmp_path / "p.jsonl", [r for i, r in enumerate(rows) if i not in (4, 7)])
    dirs = _shards(capsys, partial, tmp_path / "r", 2)
    code, _, err = _cli(capsys, "merge", *map(str, dirs), "--out", str(tmp_path / "r"))
    assert code == 0 and "2 samples have failed predictions" in err
    _, err = _run(capsys, partial, tmp_path / "r", "--stage", "generate")
    assert "2 new predictions" in err  # the unsharded run retried exactly the failed ones
