"""Judge audits on the board: a run audited under two loopback judges (real DREAM-1K annotations) shows both
numbers side by side with their agreement and a link to the audit page, whose samples link into the explorer;
a result answered by another model than the one asked is flagged. HTML-level, then in headless Chromium."""

from __future__ import annotations

import contextlib
import html
import io
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, tarsier_predictions
from judge_server import JudgeServer, use_fast_judge_env, write_dream_predictions

DREAM = ANNOTATIONS / "DREAM-1k.jsonl"
MSVD = ANNOTATIONS / "MSVD-QA-val.jsonl"
CHROMIUM = os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def cli(*argv):
    from harness.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    assert rc == 0, err.getvalue()
    return out.getvalue()


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from harness.leaderboard.build import BuildOptions, build_site

    mp = pytest.MonkeyPatch()
    use_fast_judge_env(mp)
    mp.setenv("HARNESS_JUDGE_TIMEOUT", "60")  # a request sent twice would shift the per-ask rule of a repeat
    tmp = tmp_path_factory.mktemp("audit-board")
    preds = write_dream_predictions(DREAM, tmp / "preds.jsonl")
    cli("run", "--model", f"file:{preds}", "--model-name", "Demo-VLM", "--bench", "dream", "--annotations",
        str(DREAM), "--limit", "60", "--stage", "generate", "--out", str(tmp / "runs"), "--no-progress")
    (run_dir,) = [p.parent for p in (tmp / "runs").glob("*/dream/*/spec.json")]
    qa_preds = tarsier_predictions(MSVD, tmp / "qa.jsonl", lambda i, r: r["text"]["response"])
    with JudgeServer() as lenient, JudgeServer() as strict:
        strict.entail_threshold = 0.8
        audit = json.loads(cli("judge-audit", str(run_dir), "--judge", f"gpt-35-turbo-0125@{lenient.url}",
                               "--judge", f"strict-judge@{strict.url}", "--cache-dir", str(tmp / "c"),
                               "--no-progress", "--json"))
        strict.repeat_entail = [0.8, 0.7]  # asked again, this judge is less strict
        repeats = json.loads(cli("judge-audit", str(run_dir), "--judge", f"strict-judge@{strict.url}",
                                 "--judge-repeats", "2", "--cache-dir", str(tmp / "c"), "--no-progress", "--json"))
        lenient.answer_model = "llama-3-8b-instruct"  # a proxy that answers with another model
        cli("run", "--model", f"file:{qa_preds}", "--model-name", "QA-VLM", "--bench", "msvd-qa", "--annotations",
            str(MSVD), "--limit", "5", "--out", str(tmp / "runs"), "--cache-dir", str(tmp / "c"), "--no-progress",
            "--judge-base-url", lenient.url)
    (tmp / "results").mkdir()
    report = build_site(BuildOptions(results=tmp / "results", runs=tmp / "runs", out=tmp / "site", include_runs=True,
                                     annotation_dirs=[str(ANNOTATIONS)], plots=False, strip_frames=0))
    mp.undo()
    return {"site": tmp / "site", "audit": audit, "repeats": repeats, "run": run_dir, "report": report}


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row_of(page: str, audit_id: str) -> str:
    return re.search(rf'<tr data-audit="{audit_id}">(.*?)</tr>', page, re.S).group(1)


def test_the_board_shows_both_judges_numbers_side_by_side_with_their_agreement(board):
    site, audit = board["site"], board["audit"]
    index = (site / "index.html").read_text()
    assert '<a href="audits/index.html" >Judge audits</a>' in index or 'href="audits/index.html"' in index
    page = (site / "audits" / "index.html").read_text()
    row = row_of(page, audit["id"])
    folders = [json.loads((board["run"] / j["folder"] / "result.json").read_text()) for j in audit["judges"]]
    a_cell = text(re.search(r'<td class="num judge-a">(.*?)</td>', row, re.S).group(1))
    b_cell = text(re.search(r'<td class="num judge-b">(.*?)</td>', row, re.S).group(1))
    for cell, result, judge in zip((a_cell, b_cell), folders, audit["judges"]):
        lo, hi = result["intervals"]["f1"]
        # each judge's own result, as its score folder holds it, with its interval and the dates of its calls
        assert cell.startswith(f"{result['metrics']['f1']:.1f} [{lo:.1f}, {hi:.1f}] {judge['name']} 60/60 scored")
        assert f"calls {result['judge']['first_call']}" in cell
    assert folders[0]["metrics"]["f1"] > folders[1]["metrics"]["f1"] + 1  # the strict judge: a lower number
    (pair,) = audit["pairs"]
    head = pair["headline"]["f1"]
    assert text(re.search(r'<td class="num diff">(.*?)</td>', row, re.S).group(1)) == \
        f"{head['diff']:+.1f} [{head['interval'][0]:+.1f}, {head['interval'][1]:+.1f}] {head['p_text']}"
    assert text(re.search(r'<td class="num agreement">(.*?)</td>', row, re.S).group(1)) == \
        f"{100 * pair['labels']['agreement']:.1f}% of {pair['labels']['n']}"
    assert text(re.search(r'<td class="num kappa">(.*?)</td>', row, re.S).group(1)) == f"{pair['labels']['kappa']:.3f}"
    assert f'<a href="../audits/{audit["id"]}.html">audit →</a>' in row
    assert "Demo-VLM" in row


def test_the_audit_page_has_the_confusion_table_and_explorer_permalinks(board):
    site, audit = board["site"], board["audit"]
    (pair,) = audit["pairs"]
    page = (site / "audits" / f"{audit['id']}.html").read_text()
    table = re.search(r'<table class="plain confusion">(.*?)</table>', page, re.S).group(1)
    for a, counts in pair["labels"]["confusion"].items():
        line = re.search(rf"<tr><th>{a}</th>(.*?)</tr>", table).group(1)
        assert [int(x) for x in re.findall(r">(\d+)<", line)] == [counts[b] for b in pair["labels"]["classes"]]
    assert json.loads((site / "audits" / f"{audit['id']}.json").read_text())["id"] == audit["id"]
    links = re.findall(r'<a href="(\.\./explore/[^"]+)">sample →</a>', page)
    assert len(links) == len(pair["disagreements"]) == 10
    meta = (site / "explore" / "dream" / "data" / "meta.js").read_text()
    ids = {row[0] for row in json.loads(meta.split("=", 1)[1].rstrip(";\n"))["samples"]}
    for link, d in zip(links, pair["disagreements"]):
        assert html.unescape(link) == f"../explore/dream/index.html#s={d['sample_id']}&run={audit['run']['spec_hash']}"
        assert d["sample_id"] in ids
    assert (site / "audits" / link.split("#")[0]).resolve().is_file()


def test_a_result_answered_by_another_model_is_flagged_on_the_board(board):
    page = (board["site"] / "audits" / "index.html").read_text()
    table = re.search(r'<table class="plain answered-elsewhere">(.*?)</table>', page, re.S).group(1)
    assert "QA-VLM" in table and "msvd-qa" in table and '<span class="flag">llama-3-8b-instruct</span>' in table
    assert "Demo-VLM" not in table  # the audited judges answered as themselves


@pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"Chromium not found ({CHROMIUM})")
def test_in_a_browser_an_audit_link_opens_the_sample_in_the_explorer(board):
    from playwright.sync_api import sync_playwright

    audit = board["audit"]
    first = audit["pairs"][0]["disagreements"][0]["sample_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        problems = []
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto((board["site"] / "audits" / "index.html").as_uri())
        page.click(f'tr[data-audit="{audit["id"]}"] a:text("audit →")')
        page.wait_for_selector("table.confusion")
        page.click("table.disagreements a >> nth=0")
        page.wait_for_selector(f'#ex-sample h2:text-is("Sample {first}")')
        assert page.eval_on_selector('#ex-controls select[name="run"]', "s => s.value") == audit["run"]["spec_hash"]
        browser.close()
    assert problems == []


def test_the_board_shows_a_judge_asked_twice_beside_the_video_interval(board):
    page = (board["site"] / "audits" / "index.html").read_text()
    table = re.search(r'<table class="plain judge-repeats">(.*?)</table>', page, re.S).group(1)
    (judge,) = board["repeats"]["judges"]
    spread = judge["repeats"]["spread"]["f1"]
    lo, hi = spread["video_interval"]
    assert spread["values"][0] != spread["values"][1]
    cells = text(re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1))
    assert cells.startswith(f"Demo-VLM dream f1 {judge['name']} 2 {spread['values'][0]:.2f}, {spread['values'][1]:.2f} "
                            f"{spread['sd']:.2f} {hi - lo:.2f}")
    assert f'href="../audits/{board["repeats"]["id"]}.html"' in table
    assert (board["site"] / "audits" / f"{board['repeats']['id']}.html").is_file()
