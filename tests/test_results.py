"""Result records: the committed results/, the conversion of the published tables, `results check`
(one line per problem, exit 2) and publishing a finished run as a reproduced record."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, REPO, SHARED, harness_cli, tarsier_predictions
from harness.cli import main
from harness.published import convert
from harness.results import check_dir, dump_record, load_dir

RESULTS = REPO / "results"
PUBLISHED = SHARED / "published"
NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"


@pytest.fixture(scope="module")
def committed():
    return load_dir(RESULTS)


@pytest.mark.slow
def test_committed_records_are_valid(committed):
    records, problems = check_dir(RESULTS)
    assert problems == []
    assert len(records) == len(committed) >= 120
    r = harness_cli("results", "check", "--results", str(RESULTS))
    assert r.returncode == 0, r.stderr
    assert f"{len(records)} records ok" in r.stdout


def test_committed_records_are_exactly_the_conversion(shared, committed):
    """The records in results/ are what the converter makes of ../shared/published (no drift)."""
    converted = {r.id: r for r in convert(PUBLISHED)}
    reported = {r.id: r for r in committed if r.kind == "reported"}
    assert set(converted) == set(reported)
    for rid, rec in converted.items():
        path = RESULTS / rec.benchmark / f"{rid}.json"
        assert path.read_text(encoding="utf-8") == dump_record(rec), rid


def _csv(name):
    with (PUBLISHED / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_published_dream_f1_has_its_own_record(shared, committed):
    dream = [r for r in committed if r.benchmark == "dream" and r.kind == "reported"]
    files = ["dream1k_tarsier1_paper_table.csv", "dream1k_tarsier2_report_table1.csv",
             "dream1k_leaderboard_site.csv", "dream1k_thirdparty_reproductions.csv"]
    expected = [(row["model"], float(row["value"])) for f in files for row in _csv(f)
                if row["split"] == "overall" and row["metric"] == "f1"]
    expected += [(row["model"], float(row["value"])) for row in _csv("tarsier2_readme_eval_tables.csv")
                 if row["benchmark"] == "DREAM-1K" and row["split"] == "overall" and row["metric"] in ("f1",)]
    expected += [(row["model"], round(float(row["value"]) * 100, 4)) for row in _csv("tarsier2_readme_eval_tables.csv")
                 if row["benchmark"] == "DREAM-1K" and row["split"] == "overall" and row["metric"] == "f1_fraction"]
    got = sorted((r.model.printed_name, r.metrics["f1"]) for r in dream)
    assert got == sorted(expected)
    for r in dream:  # every one sourced, with where in the source
        assert r.provenance.source and r.provenance.where and r.judge


def test_conflicting_tarsier2_numbers_stay_separate(committed):
    t2 = {(r.metrics["f1"], r.model.checkpoint, r.frames, r.provenance.label) for r in committed
          if r.benchmark == "dream" and r.model.name == "Tarsier2-7B"}
    values = {v for v, *_ in t2}
    assert {42.0, 40.1, 38.9} <= values
    lb16 = [x for x in t2 if x[0] == 40.1]
    lb8 = [x for x in t2 if x[0] == 38.9]
    report = [x for x in t2 if x[0] == 42.0 and x[3] == "Tarsier2 report"]
    assert lb16 and lb16[0][2] == 16 and lb8 and lb8[0][2] == 8
    assert report and report[0][1] == "Tarsier2-7B-0115"
    assert len({(c, f, src) for _, c, f, src in t2}) == len(t2)  # every number keyed apart


def test_readme_coverage_and_flags(committed):
    by_id = {r.id: r for r in committed}
    r = by_id["dream.tarsier2-7b.0115.readme-eval"]
    assert (r.n_scored, r.n_total, r.metrics["f1"]) == (999, 1000, 42.0)
    assert r.groups["subset=stock"]["n_failed"] == 1
    assert "superseded" in by_id["dream.tarsier2-7b.lb20240920.8f.leaderboard-old"].flags
    assert "hidden-at-source" in by_id["dream.tarsier-7b.8f.leaderboard"].flags
    ego = [x for x in committed if x.benchmark == "egoschema"]
    assert ego and all(x.split in ("full", "unspecified") for x in ego)  # never passed off as the subset


# -- check: malformed or unsourced records are refused -------------------------------------
GOOD = {
    "schema_version": 1, "id": "next-qa.m.test", "benchmark": "next-qa", "benchmark_title": "NExT-QA",
    "split": "val", "model": {"name": "M"}, "metric": "accuracy", "metrics": {"accuracy": 50.0},
    "protocol": "strict", "provenance": {"kind": "reported", "source": "Some paper", "where": "Table 2"},
}


def _write(root: Path, data: dict, name: str | None = None) -> Path:
    bench = data.get("benchmark", "next-qa")
    path = root / bench / f"{name or data.get('id', 'x')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if isinstance(data, dict) else data)
    return path


@pytest.mark.parametrize("change, message", [
    ({"provenance": None}, "provenance: missing"),
    ({"provenance": {"kind": "reported", "source": "Some paper"}}, "provenance.reported.where"),
    ({"provenance": {"kind": "reported", "source": "     ", "where": "T1"}}, "must not be blank"),
    ({"provenance": {"source": "x", "where": "y"}}, "provenance.kind: missing"),
    ({"provenance": {"kind": "reproduced", "spec_hash": "zz", "harness_version": "0.1"}}, "16-hex-digit"),
    ({"provenance": {"kind": "reproduced", "spec_hash": "0123456789abcdef"}}, "harness_version"),
    ({"metrics": {"accuracy": None}}, "headline 'accuracy' has no value"),
    ({"intervals": {"accuracy": [60, 70]}, "interval_method": "x"}, "does not contain 50.0"),
    ({"n_scored": 10, "n_total": 5}, "n_scored 10 > n_total 5"),
    ({"benchmark": "dream", "id": "dream.m.test", "metric": "f1", "metrics": {"f1": 30.0}}, "judge"),
    ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ({"date": "March 2024"}, "date: "),
    ({"judge": "j", "judge_identity": {"model": "j", "host": "http://bob:sk-x@127.0.0.1:9/v1"}}, "without credentials"),
    ({"judge": "j", "judge_identity": {"model": "gpt-4o"}}, "is not the judge"),
    ({"judge": "j", "judge_identity": {"model": "j", "provider": "somewhere"}}, "judge_identity.provider"),
    ({"n_invalid": 7, "n_total": 5}, "n_invalid 7 > n_total 5"),
    ({"coverage": {"annotation_sha256": "x", "n_run": 9, "n_file": 5}}, "covers 9 samples of a 5-sample file"),
])
def test_check_rejects_bad_records(tmp_path, capsys, change, message):
    _write(tmp_path, {**GOOD, "id": "next-qa.good"})  # a good neighbour is not reported
    bad = {**GOOD, **change}
    if bad.get("provenance") is None:
        bad.pop("provenance")
    _write(tmp_path, bad)
    assert main(["results", "check", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("harness: ") for line in lines)
    assert any(message in line for line in lines), err
    assert not any("next-qa.good" in line for line in lines)


def test_check_one_line_per_problem_and_file_level_errors(tmp_path):
    (tmp_path / "next-qa").mkdir()
    (tmp_path / "next-qa" / "broken.json").write_text("{not json")
    _write(tmp_path, {**GOOD, "id": "next-qa.other"}, "wrong-name")
    _write(tmp_path, {**GOOD, "id": "next-qa.two", "metrics": {"accuracy": 50.0}}, "next-qa.two")
    _write(tmp_path, {**GOOD, "id": "next-qa.three", "metrics": {"accuracy": 51.0}}, "next-qa.three")
    r = harness_cli("results", "check", "--results", str(tmp_path))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3, r.stderr
    text = "\n".join(lines)
    assert "broken.json: malformed JSON" in text
    assert "differs from the file name" in text
    assert "different numbers" in text  # same variant, source, frames and judge: must not carry two numbers


@pytest.mark.slow
def test_publish_a_file_run_as_reproduced(tmp_path):
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl", lambda i, row: "ABCDE"[i % 5])
    out, res = tmp_path / "runs", tmp_path / "results"
    r = harness_cli("run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
                    "--limit", "300", "--out", str(out), "--no-progress", "--publish", str(res))
    assert r.returncode == 0, r.stderr
    [path] = list(res.rglob("*.json"))
    rec = json.loads(path.read_text())
    run_dir = next(out.rglob("spec.json")).parent
    assert rec["provenance"]["kind"] == "reproduced"
    assert rec["provenance"]["spec_hash"] == run_dir.name
    assert rec["provenance"]["run"] == run_dir.relative_to(out).as_posix()
    assert rec["provenance"]["harness_version"]
    assert (rec["n_scored"], rec["n_total"]) == (300, 4996) and rec["split"] == "val"  # a --limit 300 run
    assert "partial run: 300 of 4996 samples (--limit)" in rec["notes"]
    assert (rec["n_invalid"], rec["invalid_pct"]) == (0, 0.0)  # every answer is one of A-E
    cov = rec["coverage"]
    assert cov["canonical"] is True and (cov["n_run"], cov["n_file"], cov["n_canonical"]) == (300, 4996, 4996)
    assert rec["judge_identity"] is None and rec["judge"] is None
    lo, hi = rec["intervals"]["accuracy"]
    assert lo <= rec["metrics"]["accuracy"] <= hi
    assert harness_cli("results", "check", "--results", str(res)).returncode == 0
    # the same again through `harness results publish RUN_DIR` overwrites the same record
    r = harness_cli("results", "publish", str(run_dir), "--results", str(res), "--runs", str(out))
    assert r.returncode == 0, r.stderr
    assert [p.name for p in res.rglob("*.json")] == [path.name]


# -- sources link to exactly what they name ------------------------------------------------
@pytest.mark.slow
def test_import_published_again_changes_nothing(shared, tmp_path):
    import shutil

    shutil.copytree(RESULTS, tmp_path / "results")
    r = harness_cli("results", "import-published", "--published", str(PUBLISHED), "--out", str(tmp_path / "results"))
    assert r.returncode == 0, r.stderr
    n = len(list(RESULTS.rglob("*.json")))
    assert f"0 records written, {n} unchanged, 0 stale removed" in r.stdout


def test_sources_link_to_exactly_what_they_name(committed):
    import re

    linked = [r for r in committed if r.kind == "reported" and r.provenance.url]
    assert len(linked) > 100
    for r in linked:
        url, named = r.provenance.url, f"{r.provenance.source} {r.provenance.where} {r.provenance.transcript}"
        assert url.startswith("https://"), r.id
        if "arxiv.org/abs/" in url:  # a versioned paper, the version the source names
            m = re.fullmatch(r"https://arxiv\.org/abs/(\d{4}\.\d{5})(v\d+)", url)
            assert m, (r.id, url)
            assert f"{m.group(1)}{m.group(2)}" in named, (r.id, url)
        if "github.com" in url and "/blob/" in url:  # a file: pinned to a full commit
            m = re.search(r"/blob/([0-9a-f]{40})/", url)
            assert m, (r.id, url)
            assert re.search(r"@" + m.group(1)[:7], named), (r.id, url)
        for short in re.findall(r"@([0-9a-f]{7,40})\b", named):  # every commit named is the one linked
            assert "/blob/" in url and re.search(r"/blob/" + short, url), (r.id, short, url)
    by_id = {r.id: r for r in committed}
    readme = by_id["dream.tarsier2-7b.0115.readme-eval"].provenance.url
    assert readme == "https://github.com/bytedance/tarsier/blob/63de87a760c2aec6b31470a08046969a13787126/README.md"
    paper = by_id["dream.tarsier-7b.tarsier-paper"].provenance.url
    assert paper.startswith("https://github.com/bytedance/tarsier/blob/e3f27ef6d901422db471efbf0c8e0ae502fea0f1/")
    assert by_id["dream.tarsier2-7b.0115.tarsier2-report-t1"].provenance.url == "https://arxiv.org/abs/2501.07888v3"
    # the leaderboard page changed between versions: each record links the page version it was read from
    old = by_id["dream.tarsier2-7b.lb20240920.8f.leaderboard-old"].provenance.url
    new = by_id["dream.tarsier2-7b.lb20240920.16f.leaderboard"].provenance.url
    assert "1a72cdae022a4f07d1923261776777a85fc4d46a/index.html" in old
    assert "3b3fa95053c0386ffe9175fb98a15320484be3f0/index.html" in new


def test_reported_records_keep_what_the_source_says_about_the_judge(committed):
    tarsier = [r for r in committed if r.judge == "gpt-35-turbo-0125"]
    assert tarsier and all(r.judge_identity and r.judge_identity.official and r.judge_identity.provider == "azure"
                           and "PROTOCOLS" in r.judge_identity.basis for r in tarsier)
    other = [r for r in committed if r.judge and "another API provider" in r.judge]
    assert other and all(r.judge_identity and r.judge_identity.official is False for r in other)
    assert all(r.judge_identity is None for r in committed if r.judge == "unknown")
