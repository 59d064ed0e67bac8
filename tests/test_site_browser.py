"""The built site in real headless Chromium (file://, no server): sorting, filtering, detail rows,
the per-sample explorer's navigation, and script payloads that must never run.

Skipped only when Chromium is absent (Debian: `apt-get install -y chromium`; or set
HARNESS_CHROMIUM to the binary). A screenshot of the index is written to tests/artifacts/.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from test_leaderboard import (EVIL_MODEL, EVIL_RUN_MODEL, LIMIT_MODEL, N_DREAM, N_NEXTQA, PAYLOAD, SHORT_MODEL, build,
                              synthetic_dream)

CHROMIUM = os.environ.get("HARNESS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "tests" / "artifacts"

pytestmark = [pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason=f"Chromium not found ({CHROMIUM})"),
              pytest.mark.slow]  # the browser: the whole module (`pytest -m 'not slow'` skips it)


def off_the_loop(fn, *args):
    """Run fn in a thread of its own: the harness runs its own asyncio loop, which cannot start inside
    the loop of a Playwright browser that is already open in this thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    report, results, runs = off_the_loop(build, root)
    from harness.results import load_dir

    return {"site": root / "site", "records": load_dir(results), "report": report,
            "dream_explorer": f"explore/{synthetic_dream(root / 'site')}/index.html"}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page that records console errors, uncaught exceptions and dialogs; none are allowed."""
    pg = browser.new_page(viewport={"width": 1360, "height": 900})
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))

    def on_dialog(d):
        problems.append(f"dialog: {d.message}")
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.problems = problems
    yield pg
    pg.close()
    assert problems == [], problems


def url(site, rel: str) -> str:
    rel = rel.replace("explore/dream/index.html", site["dream_explorer"])  # the synthetic runs' explorer
    rel, _, frag = rel.partition("#")
    rel, _, query = rel.partition("?")
    return (site["site"] / rel).as_uri() + (f"?{query}" if query else "") + (f"#{frag}" if frag else "")


ROWS = "index.html?view=rows"  # every source on its own row (the default view is one row per model)


SHOWN = "els => els.filter(tb => getComputedStyle(tb).display !== 'none')"


def visible_rows(page, table: str):
    return page.eval_on_selector_all(
        f"{table} tbody.row",
        SHOWN + """.map(tb => ({
            name: tb.querySelector('a.model').textContent,
            prov: tb.getAttribute('data-prov'), weights: tb.getAttribute('data-weights'),
            flags: tb.getAttribute('data-flags'),
            badge: (tb.querySelector('.source .badge') || {}).textContent,
            src: (tb.querySelector('.source .src') || {}).textContent,
        }))""")


def column_values(page, table: str, col: str):
    return page.eval_on_selector_all(
        f"{table} tbody.row", SHOWN + f""".map(tb => tb.querySelector('td[data-col="{col}"]'))
            .map(td => td ? td.getAttribute('data-v') : null)""")


DREAM = "#table-detailed-caption table.lb:not(.unranked)"
DREAM_APART = "#table-detailed-caption table.unranked"


def ranks(page, table: str):
    """(model, rank text, shown value) of the visible rows, in display order."""
    return page.eval_on_selector_all(
        f"{table} tbody.row",
        """(els, col) => els.filter(tb => getComputedStyle(tb).display !== 'none').map(tb => [
            tb.getAttribute('data-model'), tb.querySelector('td.rank').textContent,
            (tb.querySelector('td[data-col="' + col + '"] .val') || {}).textContent || null])""",
        page.get_attribute(table, "data-default-sort"))


def test_index_shows_every_dream_row_sorted_by_f1(site, page):
    page.goto(url(site, ROWS))
    col = page.get_attribute(DREAM, "data-default-sort")
    assert "f1-gpt-35-turbo-0125" in col
    assert page.get_attribute(f'{DREAM} th[data-col="{col}"]', "aria-sort") == "descending"
    rows = visible_rows(page, DREAM)
    dream = [r for r in site["records"] if r.benchmark == "dream"]
    assert len(rows) == len(dream) - 2  # the --limit and the 100-line runs are apart
    reported = [r for r in rows if r["prov"] != "reproduced"]
    assert len(reported) == 69
    for r in reported:
        assert r["badge"] in ("reported", "reported (quoted)", "third-party") and r["src"].strip()
    values = [float(v) for v in column_values(page, DREAM, col) if v]
    assert values == sorted(values, reverse=True) and values[0] == 42.0
    shown = ranks(page, DREAM)
    _check_model_ranks(shown)
    numbered = {m: r for m, r, _ in shown if r}
    assert numbered["Tarsier2-7B"] == "1" and [m for m, r, _ in shown].count("Tarsier2-7B") > 1
    assert numbered["GPT-4o mini"] == numbered["LLaVA-Video-72B"]  # both 34.0: one shared rank
    assert numbered["LLaVA-OneVision-72B"] == numbered["Qwen2-VL-72B"] == numbered["VILA-1.5-34B"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "index.png"))
    page.screenshot(path=str(ARTIFACTS / "index-full.png"), full_page=True)
    assert page.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")


def _check_model_ranks(rows) -> None:
    """'#' ranks models, not rows: one number per model (on its best row), models whose values read
    the same share it, the next one skips (1, 2, 2, 4)."""
    numbered = [(m, int(r), float(v)) for m, r, v in rows if r]
    models = {m for m, _, v in rows if v is not None}
    assert len(numbered) == len({m for m, _, _ in numbered}) == len(models)
    for m, r, v in numbered:
        assert r == 1 + len({m2 for m2, _, v2 in numbered if v2 > v}), (m, r, v)
    assert min(r for _, r, _ in numbered) == 1


def test_sorting(site, page):
    page.goto(url(site, ROWS))
    page.click(f'{DREAM} th[data-col="model"] button')
    assert page.get_attribute(f'{DREAM} th[data-col="model"]', "aria-sort") == "ascending"
    names = [r["name"].lower() for r in visible_rows(page, DREAM)]
    assert names == sorted(names)
    col = page.get_attribute(DREAM, "data-default-sort")
    page.click(f'{DREAM} th[data-col="{col}"] button')  # a number column starts best first
    page.click(f'{DREAM} th[data-col="{col}"] button')  # then worst first, empty cells still last
    vals = column_values(page, DREAM, col)
    filled = [float(v) for v in vals if v]
    assert filled == sorted(filled) and all(v == "" for v in vals[len(filled):])
    size = page.get_attribute(DREAM, "data-default-sort")
    page.click(f'{DREAM} th[data-col="size"] button')
    sizes = column_values(page, DREAM, "size")
    nums = [float(s) for s in sizes if s]
    assert nums == sorted(nums, reverse=True) and size


def test_filters(site, page):
    page.goto(url(site, ROWS))
    total = len(visible_rows(page, DREAM))
    page.uncheck('form[data-filters] input[name="weights"][value="closed"]')
    rows = visible_rows(page, DREAM)
    assert rows and all(r["weights"] != "closed" for r in rows) and len(rows) < total
    assert page.text_content("#table-detailed-caption [data-count]").startswith(f"showing {len(rows)} of {total}")
    page.check('form[data-filters] input[name="weights"][value="closed"]')
    for prov in ("original", "citing", "third-party"):
        page.uncheck(f'form[data-filters] input[name="prov"][value="{prov}"]')
    rows = visible_rows(page, DREAM)
    assert rows and {r["prov"] for r in rows} == {"reproduced"}
    for prov in ("original", "citing", "third-party"):
        page.check(f'form[data-filters] input[name="prov"][value="{prov}"]')
    page.uncheck('form[data-filters] input[name="size"][value="gt40"]')
    assert all(r["name"] not in ("LLaVA-Video-72B", "Qwen2-VL-72B") for r in visible_rows(page, DREAM))
    page.check('form[data-filters] input[name="size"][value="gt40"]')
    page.uncheck('form[data-filters] input[name="superseded"]')
    rows = visible_rows(page, DREAM)
    assert all(not r["flags"] for r in rows) and len(rows) == total - 5
    page.check('form[data-filters] input[name="superseded"]')
    page.fill('form[data-filters] input[name="q"]', "tarsier2")
    rows = visible_rows(page, DREAM)
    assert rows and all(r["name"].lower().startswith("tarsier2") for r in rows)
    # every table on the page follows the same filters
    assert all("tarsier2" in r["name"].lower() for r in visible_rows(page, "#table-mc table"))


def test_detail_row_shows_provenance(site, page):
    """Every fact of a number (coverage, provenance, judge, frames, protocol, comparisons) is one tap on
    the number away, or Enter on the row's button: no hover-only title."""
    page.goto(url(site, ROWS))
    first = page.locator(f"{DREAM} tbody.row.src").first
    detail = first.locator("tr.detail")
    assert not detail.is_visible()
    first.locator("td.num").first.click()  # a tap on the number
    assert detail.is_visible()
    text = detail.inner_text()
    for part in ("Tarsier2", "gpt-35-turbo-0125", "no interval", "Coverage", "Judge", "Frames", "Protocol",
                 "reported"):
        assert part in text, part
    first.locator("td.num").first.click()
    assert not detail.is_visible()
    first.locator("button.expand").focus()
    page.keyboard.press("Enter")
    assert detail.is_visible() and first.locator("button.expand").get_attribute("aria-expanded") == "true"
    assert page.eval_on_selector_all(f"{DREAM} td.num[title]", "els => els.length") == 0


def test_reproduced_run_and_explorer_navigation(site, page):
    page.goto(url(site, "index.html"))
    rows = [r for r in visible_rows(page, "#table-mc table") if r["prov"] == "reproduced"]
    assert any(r["name"] == EVIL_RUN_MODEL for r in rows)  # shown as text, not markup
    page.locator("#table-mc a.model", has_text="EvilRun").first.click()
    page.click('a:text("samples →")')
    assert "explore/next-qa/index.html#run=" in page.url
    page.wait_for_selector("#ex-sample h2")
    assert page.text_content("#ex-sample h2") == "Sample 0"
    assert page.text_content("#ex-pos") == f"sample 1 of {N_NEXTQA}"
    page.click("#ex-next")
    page.wait_for_selector('#ex-sample h2:text-is("Sample 1")')
    assert "s=1" in page.url
    page.keyboard.press("k")
    page.wait_for_selector('#ex-sample h2:text-is("Sample 0")')
    page.keyboard.press("ArrowRight")
    page.wait_for_selector('#ex-sample h2:text-is("Sample 1")')
    page.go_back()
    page.wait_for_selector('#ex-sample h2:text-is("Sample 0")')
    # permalinks open the sample, in another chunk too
    page.goto(url(site, "explore/next-qa/index.html#s=137"))
    page.wait_for_selector('#ex-sample h2:text-is("Sample 137")')
    assert page.get_attribute("#ex-permalink", "href").startswith("#s=137")
    # filter by score: only correct answers
    page.fill('#ex-controls input[name="min"]', "1")
    page.wait_for_function("document.getElementById('ex-pos').textContent.indexOf('(of 200)') > 0")
    n = int(page.text_content("#ex-pos").split(" of ")[1].split(" ")[0])
    assert 0 < n < N_NEXTQA
    for _ in range(3):
        assert page.text_content(".pred .score") == "100"  # the tables' scale: accuracy in %
        page.click("#ex-next")
        page.wait_for_timeout(50)
    assert "min=1" in page.url


def test_dream_explorer_events_and_subsets(site, page):
    page.goto(url(site, "explore/dream/index.html#s=3"))
    page.wait_for_selector('#ex-sample h2:text-is("Sample 3")')
    classes = page.eval_on_selector_all(".verdicts li", "els => els.map(e => e.className)")
    assert classes and set(classes) <= {"entailment", "neutral", "contradiction"} and len(set(classes)) >= 2
    assert page.locator(".verdicts .reason").count() == len(classes)
    assert page.locator(".pred").count() == 3
    assert page.locator("#ex-sample ol.events li").count() > 0  # the reference events
    page.select_option('#ex-controls select[name="subset"]', "DREAM/movie_live_action")
    page.wait_for_function("document.getElementById('ex-pos').textContent.indexOf('of 8') > 0")
    assert f"(of {N_DREAM})" in page.text_content("#ex-pos")
    assert "Live-action" in page.text_content("#ex-sample .kvline")
    assert "subset=DREAM%2Fmovie_live_action" in page.url


PAGES = ["index.html", "benchmarks/next-qa.html", "benchmarks/dream.html", "models/index.html", "about.html",
         "explore/index.html", "explore/next-qa/index.html#s=3", "explore/dream/index.html#s=0",
         "explore/dream/index.html#s=21"]


def test_script_payloads_never_run(site, page):
    evil_pages = [p.relative_to(site["site"]).as_posix() for p in (site["site"] / "models").glob("*.html")
                  if "evil" in p.name]
    assert evil_pages
    for rel in PAGES + evil_pages:
        page.goto(url(site, rel))
        page.wait_for_load_state("load")
        if "explore/" in rel and "#" in rel:
            page.wait_for_selector("#ex-sample h2")
        page.wait_for_timeout(30)
        assert page.evaluate("typeof window.__xss") == "undefined", rel
        assert page.evaluate("document.querySelectorAll('img[src=\"x\"], script:not([src])').length") == 0, rel
    # and the payloads are there, as text
    page.goto(url(site, "explore/dream/index.html#s=0"))
    page.wait_for_selector("#ex-sample h2")
    texts = page.eval_on_selector_all(".pred .textbox, .verdicts .reason, #ex-sample .textbox",
                                      "els => els.map(e => e.textContent)")
    assert any(PAYLOAD in t for t in texts)
    page.goto(url(site, "index.html"))
    names = page.eval_on_selector_all("tbody.model a.model", "els => els.map(e => e.textContent)")
    assert names.count(EVIL_MODEL) == 1
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_partial_and_other_file_runs_are_visible_and_never_ranked(site, page):
    """A --limit 100 DREAM-1K run and a run on a 100-line DREAM annotation file, both published: on
    the page, below the ranking, with their coverage in the row; never numbered, never among the
    ranked rows whatever the sorting; their loopback judge has its own, flagged column."""
    page.goto(url(site, ROWS))
    apart = {r["name"]: r for r in visible_rows(page, DREAM_APART)}
    assert {LIMIT_MODEL, SHORT_MODEL} <= set(apart)
    texts = dict(page.eval_on_selector_all(
        f"{DREAM_APART} tbody.row", "els => els.map(tb => [tb.getAttribute('data-model'), tb.querySelector('td.model-col').innerText])"))
    assert "100/1000" in texts[LIMIT_MODEL] and "1 of 5 subsets" in texts[LIMIT_MODEL]
    assert "not the canonical annotation file" in texts[SHORT_MODEL] and "100/1000" in texts[SHORT_MODEL]
    assert page.locator(f"{DREAM_APART} .apart-flag", has_text="100/1000").first.is_visible()
    assert set(page.eval_on_selector_all(f"{DREAM_APART} td.rank", "els => els.map(e => e.textContent)")) == {"–"}
    ranked = {r["name"] for r in visible_rows(page, DREAM)}
    assert not ranked & {LIMIT_MODEL, SHORT_MODEL}
    # their judge: a loopback server calling itself gpt-35-turbo-0125, a column of its own, flagged
    flag = page.locator(f"{DREAM} th .judge-flag", has_text="127.0.0.1").first
    assert flag.is_visible() and "not the official judge" in flag.text_content()
    official = page.get_attribute(DREAM, "data-default-sort")
    assert "openai-compatible" not in official
    assert page.eval_on_selector_all(f'{DREAM_APART} tbody.row td[data-col="{official}"]',
                                     "els => els.map(e => e.getAttribute('data-v'))") == [""] * len(apart)
    # sorting either table keeps them apart; ranks stay per model, best first
    col = page.get_attribute(DREAM, "data-default-sort")
    page.click(f'{DREAM} th[data-col="{col}"] button')  # ascending
    _check_model_ranks(ranks(page, DREAM))
    assert not {r["name"] for r in visible_rows(page, DREAM)} & {LIMIT_MODEL, SHORT_MODEL}
    page.click(f'{DREAM_APART} th[data-col="model"] button')
    assert set(page.eval_on_selector_all(f"{DREAM_APART} td.rank", "els => els.map(e => e.textContent)")) == {"–"}
    # filtering: ranks are recomputed over the models still shown
    page.fill('form[data-filters] input[name="q"]', "gpt")
    _check_model_ranks(ranks(page, DREAM))


# -- phones, shareable views, the A/B explorer, contrast -------------------------------------------
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1400, "height": 1000}


@pytest.fixture(params=[PHONE, DESKTOP], ids=["390x844", "1400x1000"])
def sized(browser, request):
    ctx = browser.new_context(viewport=request.param)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.width = request.param["width"]
    yield pg
    ctx.close()
    assert errors == []


def _box(page, selector):
    return page.eval_on_selector(selector, "e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.top, r.bottom]; }")


def test_dream_table_shows_model_and_f1_together(site, sized):
    """The DREAM-1K table on a phone: the model and its F1 stay side by side, on screen, however far the
    table is scrolled sideways; no page is wider than the screen; figures fit it."""
    page = sized
    page.goto(url(site, "index.html"))
    col = page.get_attribute(DREAM, "data-default-sort")
    first = f"{DREAM} tbody.row.model"
    for scroll in (0, 10_000):
        page.eval_on_selector("#table-detailed-caption .scroll", f"e => {{ e.scrollLeft = {scroll}; }}")
        page.eval_on_selector(first, "e => e.scrollIntoView({block: 'center'})")
        name, f1 = _box(page, f"{first} a.model"), _box(page, f'{first} td[data-col="{col}"] .val')
        assert 0 <= name[0] < name[1] <= f1[0] < f1[1] <= page.width, (scroll, name, f1)
        assert page.text_content(f'{first} td[data-col="{col}"] .val') == "42.0"
        assert page.eval_on_selector(f"{first} a.model", "e => e.textContent") == "Tarsier2-7B"
        # nothing covers them: the element at the centre of each is itself
        for sel in (f"{first} a.model", f'{first} td[data-col="{col}"] .val'):
            assert page.eval_on_selector(sel, """e => { const r = e.getBoundingClientRect();
                const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
                return e === hit || e.contains(hit); }"""), sel
    for rel in ("index.html", "benchmarks/dream.html", "models/index.html", "explore/dream/index.html#s=3"):
        page.goto(url(site, rel))
        page.wait_for_timeout(100)
        assert page.evaluate("document.documentElement.scrollWidth") <= page.width, rel
        widths = page.eval_on_selector_all(".plots img", "els => els.map(i => [i.getBoundingClientRect().width, i.naturalWidth])")
        for shown, natural in widths:  # at its own size, or shrunk to fit the screen: never enlarged
            assert shown <= min(natural, page.width) + 0.5, (rel, shown, natural)


def _view(page):
    return {"rows": visible_rows(page, DREAM), "ranks": ranks(page, DREAM),
            "mc": [r["name"] for r in visible_rows(page, "#table-mc table.lb:not(.unranked)")],
            "form": page.eval_on_selector_all("form[data-filters] input", "els => els.map(i => [i.name, i.value, i.checked])")}


def test_a_filtered_sorted_view_reloads_from_its_url(site, sized):
    page = sized
    page.goto(url(site, "index.html"))
    page.uncheck('form[data-filters] input[name="weights"][value="closed"]')
    page.uncheck('form[data-filters] input[name="prov"][value="citing"]')
    page.fill('form[data-filters] input[name="q"]', "a")
    page.click(f'{DREAM} th[data-col="model"] button')  # by name, A to Z
    for _ in range(2):  # the headline column, worst first
        page.click('#table-mc table.lb:not(.unranked) th.pin button')
    before = _view(page)
    names = [r["name"] for r in before["rows"]]
    assert names == sorted(names, key=str.lower) and all(r["weights"] != "closed" for r in before["rows"])
    shared = page.url
    assert "weights=" in shared and "sort=" in shared and "q=a" in shared
    for link in (shared, page.get_attribute("[data-share]", "href")):
        other = page.context.new_page()
        other.goto(link if link.startswith("file:") else url(site, "index.html" + link))
        assert _view(other) == before
        other.close()
    # the other view, every source on its own row, is in the URL too
    page.check('form[data-filters] input[name="view"][value="rows"]')
    rows_view = _view(page)
    assert len(rows_view["rows"]) > len(before["rows"]) and "view=rows" in page.url
    page.reload()
    assert _view(page) == rows_view


@pytest.fixture(scope="module")
def ab_site(tmp_path_factory):
    """Two file: runs on the same 200 NExT-QA questions, answers planted so that they disagree."""
    root = tmp_path_factory.mktemp("ab")
    off_the_loop(_ab_runs, root)
    return root


def _ab_runs(root):
    from harness.adapter import AdapterOptions
    from harness.leaderboard.build import BuildOptions, build_site
    from harness.runner import RunRequest, run
    from conftest import tarsier_predictions
    from test_leaderboard import NEXTQA

    words = ["zebra", "kettle", "violin"]
    def wrong(row):
        return "B" if row["text"]["response"] == "A" else "A"

    for name, pick in (("Model-A", lambda i, row: row["text"]["response"] if i % 3 else wrong(row)),
                       ("Model-B", lambda i, row: row["text"]["response"] if i % 4 else wrong(row))):
        preds = tarsier_predictions(NEXTQA, root / f"{name}.jsonl",
                                    lambda i, row, pick=pick, name=name: f"{pick(i, row)} ({name} saw a {words[i % 3]})")
        run(RunRequest(model=f"file:{preds}", bench="next-qa", annotations=str(NEXTQA), limit=N_NEXTQA,
                       out=str(root / "runs"), progress=False, options=AdapterOptions(display_name=name)))
    (root / "results").mkdir()
    build_site(BuildOptions(results=root / "results", runs=root / "runs", out=root / "site", plots=False))


def _scores(root, model):
    import json

    path = next((root / "runs").glob(f"{model}/*/*/scores/*/scores.jsonl"))
    return {json.loads(line)["sample_id"]: json.loads(line) for line in path.read_text().splitlines() if line.strip()}


def _listed(page):
    page.wait_for_timeout(50)
    return page.eval_on_selector_all("#ex-list a", "els => els.map(a => a.getAttribute('data-sample'))")


def test_explorer_a_right_b_wrong_is_the_hand_count(ab_site, sized):
    page = sized
    a, b = _scores(ab_site, "Model-A"), _scores(ab_site, "Model-B")
    ok = lambda s: s.get("status", "ok") == "ok"  # noqa: E731
    hand = sorted(sid for sid in a if ok(a[sid]) and sid in b and ok(b[sid])
                  and a[sid]["fields"]["correct"] and not b[sid]["fields"]["correct"])
    assert 10 < len(hand) < N_NEXTQA
    page.goto((ab_site / "site" / "explore" / "next-qa" / "index.html").as_uri())
    runs = page.eval_on_selector_all('#ex-controls select[name="run"] option', "els => els.map(o => [o.textContent, o.value])")
    ids = {label.split(" · ")[0]: value for label, value in runs}
    page.select_option('#ex-controls select[name="run"]', ids["Model-A"])
    page.select_option('#ex-controls select[name="b"]', ids["Model-B"])
    page.select_option('#ex-controls select[name="rel"]', "ab")
    assert sorted(_listed(page)) == hand
    assert page.text_content("#ex-pos").startswith(f"sample 1 of {len(hand)} ")
    # the selection is in the URL: reloaded, the same samples
    page.reload()
    assert sorted(_listed(page)) == hand
    # the other way round, and sorted by the difference: B right and A wrong first
    page.select_option('#ex-controls select[name="rel"]', "")
    page.select_option('#ex-controls select[name="sort"]', "-diff")
    first = _listed(page)[0]
    assert not a[first]["fields"]["correct"] and b[first]["fields"]["correct"]
    # full-text search in the predictions
    page.select_option('#ex-controls select[name="sort"]', "")
    page.fill('#ex-controls input[name="text"]', "Zebra")
    for _ in range(100):  # the texts load on the first search
        if page.text_content("#ex-pos").startswith("sample 1 of"):
            break
        page.wait_for_timeout(50)
    assert len(_listed(page)) == len([i for i in range(N_NEXTQA) if i % 3 == 0])
    # and the run's files are one click away
    href = page.get_attribute('a:text("predictions")', "href")
    assert (ab_site / "site" / "explore" / "next-qa" / href).resolve().is_file()


AXE_VERSION = "4.14.1"


@pytest.fixture(scope="module")
def axe_js():
    """axe-core's one-file build, installed from npm on first use into .cache/ (or $HARNESS_AXE_JS)."""
    import subprocess

    given = os.environ.get("HARNESS_AXE_JS")
    cache = REPO / ".cache" / f"axe-core-{AXE_VERSION}"
    path = Path(given) if given else cache / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        npm = shutil.which("npm")
        if npm is None:
            if os.environ.get("CI"):
                pytest.fail("npm not found: the contrast check needs axe-core from npm (apt-get install -y npm)")
            pytest.skip("npm not found (the contrast check installs axe-core from npm)")
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-save", "--prefix", str(cache),
                        f"axe-core@{AXE_VERSION}"], check=True, capture_output=True, timeout=600)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390x844", "1400x1000"])
def test_no_accessibility_violations(site, browser, axe_js, viewport):
    """axe-core (WCAG 2.0/2.1 A and AA: contrast, names, landmarks...) finds nothing on the index (both
    views, a model opened), a benchmark page, a model page, a run page and the explorers."""
    ctx = browser.new_context(bypass_csp=True, viewport=viewport)  # to inject axe; the site's CSP stays tested above
    model_page = next(p for p in (site["site"] / "models").glob("*.html") if "<h1>Tarsier2-7B</h1>" in p.read_text())
    run_page = next((site["site"] / "runs").glob("*/index.html"))
    pages = ["index.html", "index.html?view=rows", "benchmarks/dream.html", f"models/{model_page.name}",
             run_page.relative_to(site["site"]).as_posix(), "explore/dream/index.html#s=3",
             "explore/next-qa/index.html#s=2&rel=ab"]
    found = []
    for rel in pages:
        page = ctx.new_page()
        page.goto(url(site, rel))
        page.wait_for_timeout(150)
        if rel == "index.html":  # the disclosures' contents too
            page.click(f"{DREAM} tbody.model button.expand")
            page.click(f"{DREAM} tbody.src.shown td.num")
        page.add_script_tag(content=axe_js)
        res = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})")
        found += [f"{rel}: {v['id']} ({len(v['nodes'])}x, e.g. {v['nodes'][0]['target']})" for v in res["violations"]]
        page.close()
    ctx.close()
    assert found == []


def test_skip_link_and_signs_beside_colour(site, page):
    page.goto(url(site, "explore/dream/index.html#s=3"))
    page.wait_for_selector("#ex-sample h2")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    signs = page.eval_on_selector_all("#ex-list .dot", "els => els.map(d => d.textContent)")
    assert signs and set(signs) <= {"✓", "✗", "+", "−", "–"} and len(set(signs)) > 1
