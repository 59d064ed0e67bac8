"""`harness leaderboard build`: what the static site contains, built from the committed records,
a file: run on NExT-QA and synthetic DREAM-1K runs, with script payloads in model names,
predictions, references and judge reasons. (The same site is opened in Chromium in
test_site_browser.py.)"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, REPO, harness_cli, tarsier_predictions
from harness import registry
from harness.errors import BadInput
from harness.results import ModelInfo, Reported, Reproduced, ResultRecord, load_dir, write_record

RESULTS = REPO / "results"
NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'
PAYLOAD = SCRIPT + IMG
EVIL_MODEL = "Evil" + PAYLOAD
EVIL_RUN_MODEL = "EvilRun" + PAYLOAD
N_NEXTQA = 200
N_DREAM = 40


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_site", REPO / "bench" / "site.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _reproduced(rid, bench, name, value, iv, judge=None, metric="accuracy", split="val"):
    return ResultRecord(
        id=rid, benchmark=bench, benchmark_title=registry.benchmark(bench).title, split=split,
        model=ModelInfo(name=name), metric=metric, metrics={metric: value}, intervals={metric: iv},
        interval_method="bootstrap-percentile 95% (test)", n_scored=1000, n_total=1000, protocol="strict",
        judge=judge, provenance=Reproduced(spec_hash=f"{abs(hash(rid)) % 16**16:016x}", harness_version="0.1.0"),
        date="2025-06-01")


def make_inputs(root: Path) -> tuple[Path, Path]:
    """results/ (the committed records plus a few test records) and runs/ (a file: run, DREAM runs)."""
    from harness.adapter import AdapterOptions
    from harness.runner import RunRequest, run

    results = root / "results"
    shutil.copytree(RESULTS, results)
    write_record(results, ResultRecord(
        id="next-qa.evil.paper", benchmark="next-qa", benchmark_title="NExT-QA" + PAYLOAD, split="val",
        model=ModelInfo(name=EVIL_MODEL, checkpoint="ck" + PAYLOAD, org=PAYLOAD), metric="accuracy",
        metrics={"accuracy": 33.3}, protocol="strict" + PAYLOAD,
        provenance=Reported(source="A paper" + PAYLOAD, label="evil" + PAYLOAD, where="Table" + PAYLOAD,
                            url="javascript:window.__xss=3"),
        notes=["note" + PAYLOAD]))
    write_record(results, _reproduced("next-qa.tie-a.x", "next-qa", "Tie-A", 61.0, (59.0, 63.0)))
    write_record(results, _reproduced("next-qa.tie-b.x", "next-qa", "Tie-B", 60.0, (58.0, 62.0)))
    write_record(results, _reproduced("next-qa.apart.x", "next-qa", "Apart-C", 40.0, (39.0, 41.0)))
    write_record(results, _reproduced("dream.other-judge.x", "dream", "Judged-Elsewhere", 33.0, (32.0, 34.0),
                                      judge="gpt-4o-mini-2024-07-18", metric="f1", split="overall"))
    write_record(results, _reproduced("next-qa.formula.x", "next-qa", "=HYPERLINK(1)", 10.0, (9.0, 11.0)))

    runs = root / "runs"
    preds = tarsier_predictions(NEXTQA, root / "preds.jsonl", lambda i, row: "ABCDE"[i % 5] + PAYLOAD)
    run(RunRequest(model=f"file:{preds}", bench="next-qa", annotations=str(NEXTQA), limit=N_NEXTQA,
                   out=str(runs), progress=False, options=AdapterOptions(display_name=EVIL_RUN_MODEL)))
    _bench_module().make_runs(root / "dream", 3, N_DREAM, random.Random(1),
                              names=["Dream-A", "Dream-B", "Dream" + PAYLOAD], payload=PAYLOAD)
    for d in (root / "dream" / "runs").iterdir():
        shutil.move(str(d), str(runs / d.name))
    return results, runs


def build(root: Path, plots: bool = True):
    from harness.leaderboard.build import BuildOptions, build_site

    results, runs = make_inputs(root)
    report = build_site(BuildOptions(results=results, runs=runs, out=root / "site", plots=plots))
    return report, results, runs


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("lb")
    report, results, runs = build(root)
    return {"root": root, "site": root / "site", "report": report, "records": load_dir(results), "runs": runs}


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start:html.index("</table>\n</div>", start)]


def _rows(table_html: str) -> list[str]:
    return table_html.split('<tbody class="row"')[1:]


def test_index_dream_table_has_every_record_sorted_by_f1(site):
    html = (site["site"] / "index.html").read_text()
    table = _table(html, "table-detailed-caption")
    dream = [r for r in site["records"] if r.benchmark == "dream"]
    rows = _rows(table)
    assert len(rows) == len(dream) + 3  # the records (one reproduced) and the three DREAM runs
    reported = [r for r in rows if 'data-prov="reproduced"' not in r]
    assert len(reported) == len(dream) - 1 == 69
    for row in reported:  # each marked with its provenance and source
        assert re.search(r'class="badge prov-(original|citing|third-party)"', row)
        assert 'class="src"' in row
    # default sort: F1 under the reference judge, best first
    m = re.search(r'data-default-sort="([^"]+)"', table)
    assert m and "f1-gpt-35-turbo-0125" in m.group(1)
    first = re.findall(r'data-col="%s" data-v="([^"]*)"' % re.escape(m.group(1)), table)
    values = [float(v) for v in first if v]
    assert values == sorted(values, reverse=True) and values[0] == 42.0


def test_judges_splits_and_egoschema_are_separate_columns(site):
    html = (site["site"] / "index.html").read_text()
    dream = _table(html, "table-detailed-caption")
    for judge in ("judge gpt-35-turbo-0125", "judge unknown", "judge gpt-4o-mini-2024-07-18"):
        assert judge in dream
    mc = _table(html, "table-mc")
    heads = re.findall(r'<th colspan="\d+" class="group">(.*?)</th>', mc)
    ego = [h for h in heads if h.startswith("EgoSchema")]
    assert ego and all("subset" in h for h in ego)
    nextqa = [h for h in heads if h.startswith("NExT-QA")]
    assert len(nextqa) >= 3  # val (reproduced), test and not-stated splits never share a column
    bench = (site["site"] / "benchmarks" / "egoschema.html").read_text()
    assert "EgoSchema (subset and full set)" in bench


def test_reproduced_run_rows_and_explorer(site):
    html = (site["site"] / "index.html").read_text()
    mc = _table(html, "table-mc")
    evil = [r for r in _rows(mc) if r.split(">")[0].count("data-name=\"evilrun")]
    assert len(evil) == 1 and 'data-prov="reproduced"' in evil[0]
    assert "no interval" not in evil[0].split('class="detail"')[0]  # the run has its bootstrap interval
    meta = (site["site"] / "explore" / "next-qa" / "data" / "meta.js").read_text()
    data = json.loads(meta[meta.index("=") + 1:].strip().rstrip(";"))
    assert len(data["samples"]) == N_NEXTQA and data["has_samples"]
    assert data["runs"][0]["model"] == EVIL_RUN_MODEL
    chunks = sorted((site["site"] / "explore" / "next-qa" / "data").glob("chunk-*.js"))
    assert len(chunks) == N_NEXTQA // 25
    # the model page lists the run and links its explorer
    model_pages = [p for p in (site["site"] / "models").glob("*.html") if "EvilRun" in p.read_text()]
    assert any("explore/next-qa/index.html#run=" in p.read_text() for p in model_pages)


def test_dream_explorer_keeps_events_and_verdicts(site):
    ex = site["site"] / "explore" / "dream"
    meta = (ex / "data" / "meta.js").read_text()
    data = json.loads(meta[meta.index("=") + 1:].strip().rstrip(";"))
    assert [r["model"] for r in data["runs"]] == ["Dream-A", "Dream-B", "Dream" + PAYLOAD]
    assert set(data["subsets"]) == {"DREAM/movie_animation", "DREAM/movie_live_action", "DREAM/vertical_video",
                                    "DREAM/videvo", "DREAM/youtube"}
    chunk = (ex / "data" / "chunk-000.js").read_text()
    entries = json.loads(chunk[chunk.index("] = ") + 4:].strip().rstrip(";"))
    first = entries[0]
    assert first["events"] and first["references"]
    fields = next(iter(first["runs"][0]["scores"].values()))["fields"]
    assert {"recall_events", "precision_events"} <= set(fields)
    assert {"event", "label", "reason"} <= set(fields["recall_events"][0])


def test_everything_is_escaped(site):
    root = site["site"]
    pages = list(root.rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        text = page.read_text()
        assert "<script>window.__xss" not in text, page
        assert "<img src=x" not in text, page
        assert "javascript:" not in text, page
        assert "onerror=" not in text or "onerror=&#34;" in text or "onerror=&quot;" in text, page
    index = (root / "index.html").read_text()
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in index
    # data files carry the text only as JSON strings (the viewer renders them as text)
    found = False
    for js in [p for p in root.rglob("*.js") if p.parent.name == "data"]:
        body = js.read_text()
        sep = "] = " if js.name.startswith("chunk-") else "= "
        data = json.loads(body[body.index(sep) + len(sep):].strip().rstrip(";"))
        found = found or any(PAYLOAD in text for text in _strings(data))
    assert found
    # no inline script anywhere; a CSP forbids them too
    for page in pages:
        text = page.read_text()
        assert re.search(r"<script>(?!window)", text) is None, page
        assert "Content-Security-Policy" in text and "script-src 'self'" in text


def test_ties_are_marked_only_with_intervals(site):
    html = (site["site"] / "benchmarks" / "next-qa.html").read_text()
    table = _table(html, "table-next-qa")
    rows = {name: r for r in _rows(table) for name in ("Tie-A", "Tie-B", "Apart-C") if f">{name}<" in r}
    assert 'class="tie"' in rows["Tie-A"] and 'class="tie"' in rows["Tie-B"]
    assert "95% intervals overlap" in rows["Tie-A"]
    assert 'class="tie"' not in rows["Apart-C"]
    assert "different from Tie-B (95% intervals do not overlap)" in rows["Apart-C"]
    reported = [r for r in _rows(table) if 'data-prov="citing"' in r]
    assert reported and all('class="tie"' not in r and "no interval" in r for r in reported)
    # runs on the same samples are compared by a paired test, even with reported rows between them
    dream = (site["site"] / "benchmarks" / "dream.html").read_text()
    assert "paired test on the same samples, p = " in dream


def test_pages_figures_and_downloads(site):
    root = site["site"]
    with_records = [b for b in registry.builtin_names() if (RESULTS / b).is_dir()]
    assert len(with_records) > 1
    for b in with_records:  # every benchmark with a record has its page, titled as declared
        page = (root / "benchmarks" / f"{b}.html").read_text()
        declared = registry.benchmark(b)
        assert f"<h1>{declared.board.title or declared.title}</h1>" in page and declared.description[:40] in page
    dream = (root / "benchmarks" / "dream.html").read_text()
    assert "Per subset" in dream and "Live-action" in dream and "Per bucket: number of subjects" in dream
    for src in re.findall(r'<img src="([^"]+)"', (root / "index.html").read_text()) + \
            [s.replace("../", "") for s in re.findall(r'<img src="([^"]+)"', dream)]:
        assert (root / src).is_file() and (root / src).stat().st_size > 1000
    with (root / "downloads" / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    payload = json.loads((root / "downloads" / "results.json").read_text())
    assert len(payload["records"]) == site["report"].n_records == len({r["id"] for r in rows})
    assert len(rows) == sum(len(rec["metrics"]) for rec in payload["records"])
    assert {r["provenance"] for r in rows} == {"reported", "reproduced"}
    formula = [r for r in rows if "HYPERLINK" in r["model"]]
    assert formula and all(r["model"].startswith("'=") for r in formula)


def test_refuses_to_overwrite_a_foreign_folder(tmp_path):
    from harness.leaderboard.build import BuildOptions, build_site

    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(BadInput, match="refusing to overwrite"):
        build_site(BuildOptions(results=RESULTS, out=tmp_path, plots=False))
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_cli_builds_from_committed_results_only(tmp_path):
    """`harness leaderboard build --out site` in a clean folder: the committed records only."""
    out = tmp_path / "site"
    r = harness_cli("leaderboard", "build", "--results", str(RESULTS), "--out", str(out), "--no-plots",
                    cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "site written to" in r.stdout
    html = (out / "index.html").read_text()
    assert html.count('data-prov="original"') >= 60
    payload = json.loads((out / "downloads" / "results.json").read_text())
    assert len(payload["records"]) == len(load_dir(RESULTS))
    r = harness_cli("leaderboard", "build", "--results", str(tmp_path / "nope"), "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "results folder not found" in r.stderr


def test_frame_strips_when_the_video_is_local(tmp_path, monkeypatch):
    """The explorer shows the frames the model sees (harness.video's uniform rule) as thumbnails."""
    from conftest import DEMO_VIDEO
    from harness.leaderboard.build import BuildOptions, build_site
    from harness.video import sample_frames

    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    _bench_module().make_runs(tmp_path / "w", 1, 2, random.Random(3), video=str(DEMO_VIDEO))
    (tmp_path / "results").mkdir()
    build_site(BuildOptions(results=tmp_path / "results", runs=tmp_path / "w" / "runs", out=tmp_path / "site",
                            plots=False, strip_frames=4))
    ex = tmp_path / "site" / "explore" / "dream"
    chunk = (ex / "data" / "chunk-000.js").read_text()
    entries = json.loads(chunk[chunk.index("] = ") + 4:].strip().rstrip(";"))
    frames = entries[0]["frames"]
    assert [f["index"] for f in frames] == sample_frames(DEMO_VIDEO, 4).indices
    for f in frames:
        assert (ex / f["src"]).is_file() and (ex / f["src"]).stat().st_size > 1000
