"""Nothing is written outside the folder the user named: names that come from data (benchmark and
model names in records, results and run specs) become slugs or are refused, whatever `../` they hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, assert_one_line, harness_cli, read_jsonl, tarsier_predictions, write_jsonl

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


def _snapshot(root: Path, skip: tuple[Path, ...]) -> set[str]:
    """Every path under root except those under the folders a command may write."""
    def skipped(p: Path) -> bool:
        return any(p == s or s in p.parents for s in skip)

    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        out.update(str(Path(dirpath) / f) for f in filenames + dirnames if not skipped(Path(dirpath) / f))
    return out


@pytest.fixture
def scored_run(tmp_path):
    """A finished next-qa run (file: predictions) under tmp_path/work/runs."""
    work = tmp_path / "work"
    work.mkdir()
    ann = write_jsonl(work / "ann.jsonl", read_jsonl(NEXTQA)[:6])
    preds = tarsier_predictions(ann, work / "p.jsonl", lambda i, r: "ABCDE"[i % 5])
    proc = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                       "--out", str(work / "runs"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    (result,) = (work / "runs").rglob("result.json")
    return work, result.parents[2]


def _tamper(result_json: Path, **fields) -> None:
    data = json.loads(result_json.read_text())
    data.update(fields)
    result_json.write_text(json.dumps(data))


@pytest.mark.slow
def test_results_publish_refuses_a_benchmark_name_that_climbs(tmp_path, scored_run):
    work, run_dir = scored_run
    (result,) = run_dir.rglob("result.json")
    _tamper(result, benchmark="../../escaped")  # results/../.. is tmp_path
    before = _snapshot(tmp_path, ())
    proc = harness_cli("results", "publish", str(run_dir), "--results", str(work / "site" / "results"))
    assert_one_line(proc, "benchmark")
    assert _snapshot(tmp_path, ()) == before  # nothing written anywhere


@pytest.mark.slow
def test_leaderboard_build_writes_nothing_outside_out_for_a_tampered_run(tmp_path, scored_run):
    work, run_dir = scored_run
    (result,) = run_dir.rglob("result.json")
    _tamper(result, benchmark="../../../escaped", model="../../../escaped-model")  # site/benchmarks/../../.. is tmp_path
    results = work / "results"
    results.mkdir()
    out = work / "site"
    before = _snapshot(tmp_path, (out,))
    proc = harness_cli("leaderboard", "build", "--results", str(results), "--runs", str(work / "runs"),
                       "--out", str(out), "--no-plots")
    assert "Traceback" not in proc.stderr, proc.stderr
    assert _snapshot(tmp_path, (out,)) == before
    if proc.returncode == 0:  # the tampered result is not shown, and says why
        assert "escaped" in proc.stderr and "benchmark" in proc.stderr


@pytest.mark.slow
def test_leaderboard_build_writes_nothing_outside_out_for_a_tampered_record(tmp_path):
    """A record file placed so that its `../` benchmark passes the folder check (results/<b> is results/)."""
    work = tmp_path / "w"
    results = work / "results"
    results.mkdir(parents=True)
    bench = f"../../{work.name}/results"  # resolves back to results/ itself
    assert (results / bench).resolve() == results.resolve()
    rec = {"schema_version": 1, "id": "evil.m.src", "benchmark": bench, "benchmark_title": "Evil", "split": "val",
           "model": {"name": "M"}, "metric": "accuracy", "metrics": {"accuracy": 50.0}, "protocol": "strict",
           "provenance": {"kind": "reported", "source": "Some paper", "where": "Table 2"}}
    (results / "evil.m.src.json").write_text(json.dumps(rec))
    out = work / "site"
    before = _snapshot(tmp_path, (out,))
    proc = harness_cli("leaderboard", "build", "--results", str(results), "--out", str(out), "--no-plots")
    assert_one_line(proc, "benchmark")
    assert _snapshot(tmp_path, (out,)) == before
    assert harness_cli("results", "check", "--results", str(results)).returncode == 2


@pytest.mark.slow
def test_run_and_publish_with_a_model_name_that_climbs(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    ann = write_jsonl(work / "ann.jsonl", read_jsonl(NEXTQA)[:4])
    preds = tarsier_predictions(ann, work / "p.jsonl", lambda i, r: "A")
    runs, published = work / "runs", work / "results"
    before = _snapshot(tmp_path, (runs, published))
    for name in ("..", "../../..", "/etc/evil", ".hidden"):
        proc = harness_cli("run", "--model", f"file:{preds}", "--model-name", name, "--bench", "next-qa",
                           "--annotations", str(ann), "--out", str(runs), "--no-progress", "--publish", str(published))
        assert proc.returncode == 0, proc.stderr
    assert _snapshot(tmp_path, (runs, published)) == before
    models = sorted(p.name for p in runs.iterdir())
    assert all(m and not m.startswith(".") for m in models), models
    for rec in published.rglob("*.json"):
        assert json.loads(rec.read_text())["model"]["name"] in ("..", "../../..", "/etc/evil", ".hidden")


def test_slug_and_inside():
    from harness.errors import BadInput
    from harness.paths import inside, slug

    for name in ("..", ".", "../x", "/abs", "", "...", "a/../../b", "\x00", "-"):
        s = slug(name)
        assert s and s not in (".", "..") and "/" not in s and not s.startswith("."), (name, s)
    assert slug("Tarsier2-7B_0115.v1") == "Tarsier2-7B_0115.v1"
    root = Path("/tmp/root")
    assert inside(root, "a", "b") == root / "a" / "b"
    with pytest.raises(BadInput, match="outside"):
        inside(root, "..", "x")
