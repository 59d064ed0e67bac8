"""CIDEr-D and the pure-Python PTB tokenizer against their oracles.

The tokenizer's oracle is pycocoevalcap's PTBTokenizer (Java) on the same text. CIDEr's oracle is
Tarsier's caption pipeline (PROTOCOLS.md): Python's `str.lower()` on every caption, then
pycocoevalcap with Java, references and predictions in two tokenizer calls. The Java tokenizer
runs once per batch (one JVM per call), so the whole file needs only a handful of JVM starts.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import warnings

import numpy as np
import pytest

from conftest import ANNOTATIONS, read_jsonl
from harness import registry
from harness.metric import ScoreContext
from harness.metrics.cider import Cider, CorpusNgrams, cider_d, tokenize_captions
from harness.metrics.ptb_tokenizer import LineBreakWarning, tokenize, tokenize_corpus, tokenize_lines
from harness.types import Prediction, SampleScore

pytestmark = pytest.mark.skipif(shutil.which("java") is None,
                                reason="java not installed: pycocoevalcap's PTBTokenizer (the oracle) needs it")

TOL = 1e-12


def java_tokenize(captions: dict) -> dict:
    """pycocoevalcap's PTBTokenizer on {id: [caption, ...]} (one JVM run)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    return PTBTokenizer().tokenize({k: [{"caption": c} for c in v] for k, v in captions.items()})


def java_lines(lines: list[str]) -> list[str]:
    out = java_tokenize({i: [s] for i, s in enumerate(lines)})
    assert len(out) == len(lines), "the Java tokenizer lost lines (a line break in the input?)"
    return [out[i][0] for i in range(len(lines))]


def assert_same_lines(lines: list[str]) -> None:
    ours, theirs = tokenize_lines(lines), java_lines(lines)
    bad = [(s, t, o) for s, t, o in zip(lines, theirs, ours) if t != o]
    assert not bad, f"{len(bad)} of {len(lines)} differ, e.g. (input, java, ours): {bad[:5]}"


def coco_cider(refs: dict, preds: dict, lower: bool = True) -> tuple[float, dict]:
    """Tarsier's pipeline: str.lower() on every caption, then pycocoevalcap (Java tokenizer, Cider).

    lower=False is pycocoevalcap alone on the raw captions (not the protocol)."""
    from pycocoevalcap.cider.cider import Cider as CocoCider

    case = str.lower if lower else str
    gts = java_tokenize({k: [case(c) for c in v] for k, v in refs.items()})
    res = java_tokenize({k: [case(p)] for k, p in preds.items()})
    score, scores = CocoCider().compute_score(gts, res)
    return float(score), dict(zip(gts, scores))


@pytest.fixture(scope="module")
def msvd() -> dict[str, list[str]]:
    return {str(r["idx"]): r["text"]["response"] for r in read_jsonl(ANNOTATIONS / "MSVD-Caption-test.jsonl")}


# -- the tokenizer -----------------------------------------------------------------------------
HARD = [
    # contractions and clitics
    "I can't believe it's Mr. Smith's dog, isn't it? You're right; they'll go and we'd've stayed.",
    "Don't, won't, ain't, shan't -- y'all gonna wanna gotta lemme gimme cannot 'twas 'tis rock'n'roll",
    "o'clock O'Malley d'Avignon l'amour 'em '90s 'til 'till 'cause Dunkin' somethin' ol' cont'd c'mon",
    "it’s don’t ‘quoted’ “double” «guillemets» ‹single› „low‟ ‚x‛",
    "`latex' ``both'' \"plain\" 'a 'ab",
    # brackets, symbols, entities
    "(round) [square] {curly} <b>tag</b> <a href=\"x y\"> <!-- c --> << >> < 3 > &lt;x&gt;",
    "AT&T R&D S&P-500 &amp; &quot;q&quot; &apos;s &mdash; &nbsp; &eacute;t&eacute; a&b c++ c# f#",
    "$5 US$10 C$ # #5 € £ ¢ ¥ 50% ~ ^ | \\ / * ** *** = == + @ @user #hashtag #1 ½ ⅓ ¾ x² H₂O ①",
    # numbers, dates, phones, fractions
    "Pi is 3.14, not 3,14 or 1,000.5; -5 +3 5-6 1/2 3 1/2 3-1/2 12:30 2nd 1st 9mm xbox360 .5 ,5",
    "Call 555-1234 or (555) 555-1234 or 555.555.5555 or +44 20 7946 0958 on 12/25/2014 or 1-2-2014.",
    # abbreviations and acronyms
    "Mr. Mrs. Dr. Prof. Gen. St. Mt. Ave. Jr. Sr. Inc. Corp. Ltd. Co. vs. v. etc. al. cf. a.k.a. p.m.",
    "He works at Acme Inc. The U.S. is big. Jan. Feb. Calif. Mass. No. 5 Fig. 3 ca. 1900 pp. 12 e.g. x",
    "U.S. The U.S.A. I. A. x. B. Lincoln Ph.D. Ed.D. U.K. non-U.S. Canada-U.S. U.S.-U.K. Pty. Ltd.",
    "a b c d e f g. i. x. The end of the U.S.",
    # dashes, ellipses, repeated punctuation
    "Wait... what?! A--b -- c - d --- e ---- f ----- g — h – i ― j … k . . . l .... m ..... n .. o",
    "Really?? Yes!!! No?! Hmm;; ok:: fine,, end.",
    # URLs, e-mails, files
    "visit http://www.example.com/path?x=1&y=2. or www.google.com/maps or x.org, foo@bar.com <a@b.c>",
    "files: report.pdf a.txt 3file.txt x.py, HTTPS://X.COM/A mailto:me@you.org",
    # unicode, emoji, scripts, spacing
    "café naïve Zürich İstanbul ΣΟΦΟΣ ΟΔΟΣ straße ﬁ ǅ ı ſ \u212a Ǆ cafe\u0301 nai\u0308ve 'Tıs ſt.",
    "😀 emoji 👍🏽 👨\u200d👩\u200d👧 🇺🇸 ♥ ★ ✓ → ∀ © ® ™ ° ± × ÷ § ¶ • · † ‡ ‰ ′ ″",
    "中文 日本語です 한국어 العربية עברית हिन्दी ไทย Ελληνικά русский",
    "tab\there nbsp\u00a0here ideo\u3000sp zw\u200bsp em\u2003sp soft\u00adhyphen \ufeffbom del\x7fchar",
    "smileys :) :-( ;) :D :P =) :-| ^_^ (^_^) o_O <3 x_x -_-",
    "   leading and trailing spaces   ",
    "",
    ".",
    "'",
    "\"\"",
    "A man is playing a guitar.",
    "The U.S.",
    "The cat sat on the mat in No.",
    "5 cats",
]


def _random_lines(n: int, seed: int) -> list[str]:
    """Deterministic noise from the pieces above plus random characters and separators."""
    rng = random.Random(seed)
    pieces = " ".join(HARD).split()
    chars = list(".,;:!?'\"`()[]{}<>-_/\\*&#@$%^~=+|0123456789aAzZnt") + list("’‘“”—–\u00ad\u00a0é\u0301ıİſ\u212a…½")
    seps = ["", " ", " ", " ", "  ", "\t", "\u00a0"]
    out = []
    for _ in range(n):
        s = ""
        for _ in range(rng.randint(1, 10)):
            if rng.random() < 0.7:
                s += rng.choice(pieces)
            else:
                s += "".join(rng.choice(chars) for _ in range(rng.randint(1, 4)))
            s += rng.choice(seps)
        out.append(s)
    return out


@pytest.mark.slow
def test_tokenizer_matches_java_on_hard_strings():
    # each hard string alone, then followed by lines that change its last token (an
    # abbreviation is followed by an upper-case word, a digit, an SGML tag, or the end)
    lines = list(HARD)
    for s in HARD:
        lines += [s, "The next caption", s, "5 more", s, "<b> tag", s, "lower case"]
    lines += _random_lines(4000, seed=0)
    assert_same_lines(lines)


def test_lower_cased_captions_match_java():
    """Tarsier lower-cases before the tokenizer: the lower-cased hard strings (str.lower() turns
    'İ' into two code points, 'Σ' into 'σ') must tokenize as Java tokenizes them."""
    lines = [s.lower() for s in HARD + _random_lines(2000, seed=1)]
    assert tokenize_captions(HARD + _random_lines(2000, seed=1)) == java_lines(lines)


@pytest.mark.slow
def test_tokenizer_matches_java_on_dream():
    lines = []
    for row in read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl"):
        lines.append(row["text"]["response"])
        lines.extend(row["extra_info"]["events"])
    assert_same_lines(lines)  # descriptions hold "\n\n", which both pipelines turn into spaces


def test_tokenizer_examples():
    assert tokenize("He can't (really) go to the U.S. -- Mr. Smith's 3.14 dogs...") == (
        "he ca n't -lrb- really -rrb- go to the u.s. mr. smith 's 3.14 dogs")
    assert tokenize("A man is playing a guitar.") == "a man is playing a guitar"
    assert tokenize_corpus({"b": ["Hi there!", "Yes."], "a": ["No"]}) == {"b": ["hi there", "yes"], "a": ["no"]}


def test_line_breaks_become_spaces_with_a_warning():
    for ch in ["\r", "\x0b", "\x0c", "\u2028", "\u2029"]:
        with pytest.warns(LineBreakWarning):
            assert tokenize_lines([f"a man{ch}runs.", "b"]) == ["a man runs", "b"]
    # Java itself ends the line there: the caption is cut and every later caption shifts
    assert java_tokenize({0: ["a man\rruns."], 1: ["b"]}) == {0: ["a man"], 1: ["runs"]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "\n" is replaced by pycocoevalcap itself; U+0085 is an ellipsis
        assert tokenize_lines(["a\nb", "c\u0085d"]) == java_lines(["a\nb", "c\u0085d"]) == ["a b", "c d"]


# -- CIDEr-D -----------------------------------------------------------------------------------
def _punctuated(ref: str, i: int) -> str:
    forms = [
        '"{}" -- said Mr. Smith\'s dog (U.S.)...',
        "[{}] {{e.g.}} isn't it?! 3.14 & 1/2 ...",
        "`{}' e.g. i.e. a.k.a. Inc. -- Ph.D.'s view; won't they?",
        "{} (see www.x.com/a, No. 5) -- 'quoted' “curly” ‘single’",
    ]
    return forms[i % len(forms)].format(ref.rstrip("."))


def _check_cider(refs: dict, preds: dict) -> float:
    c_ours, per_ours = cider_d(refs, preds)
    c_tarsier, per_tarsier = coco_cider(refs, preds)
    assert abs(c_ours - c_tarsier) <= TOL
    assert per_ours.keys() == per_tarsier.keys()
    assert max(abs(per_ours[k] - per_tarsier[k]) for k in per_tarsier) <= TOL
    return c_ours


def _capitalised(ref: str, i: int) -> str:
    """Abbreviations and capitals the Java tokenizer treats differently from their lower case."""
    forms = ["Dr. Smith says {}", "{} in the U.S. Army", "MR. LEE: {}!", "{} (No. 5, Inc.) St. Louis",
             "THE {}", "{}, e.g. Mt. Fuji vs. Co. Ltd."]
    return forms[i % len(forms)].format(ref.rstrip("."))


@pytest.mark.slow
def test_cider_matches_tarsier_pipeline_on_msvd(msvd):
    """Every MSVD-Caption-test video, several prediction sets: ours == str.lower() + pycocoevalcap."""
    refs, preds = {k: v[1:] for k, v in msvd.items()}, {k: v[0] for k, v in msvd.items()}
    # a held-out reference as the prediction, scored against the remaining ones
    held_out = _check_cider(refs, preds)
    assert round(100 * held_out, 4) == 112.5442
    # pycocoevalcap on the raw captions is not the protocol: 112.5460, a fifth of the videos differ
    raw, raw_per = coco_cider(refs, preds, lower=False)
    assert round(100 * raw, 4) == 112.5460
    _, per = cider_d(refs, preds)
    assert sum(abs(per[k] - raw_per[k]) > TOL for k in per) == 136
    # one generic sentence for every video, against all references
    generic = _check_cider(msvd, {k: "A man is doing something." for k in msvd})
    assert generic < held_out
    # heavy punctuation, brackets, quotes and abbreviations; capitals and sentence starts
    _check_cider(msvd, {k: _punctuated(v[0], i) for i, (k, v) in enumerate(msvd.items())})
    _check_cider(msvd, {k: _capitalised(v[-1], i) for i, (k, v) in enumerate(msvd.items())})
    _check_cider({k: [r.upper() for r in v] for k, v in msvd.items()}, {k: v[2].title() for k, v in msvd.items()})


def test_cider_edge_cases():
    refs = {"a": ["p q r"], "b": ["x y", "y z w"], "c": ["k l"]}
    c, per = cider_d(refs, {"a": "", "b": "x y", "c": "k l m"}, tokenized=True)
    assert per["a"] == 0.0 and per["b"] > 0 and per["c"] > 0
    assert c == pytest.approx(sum(per.values()) / 3, abs=TOL)
    # an n-gram in every video's references weighs nothing
    assert cider_d({"a": ["x y"], "b": ["x y"]}, {"a": "x y", "b": "x y"}, tokenized=True)[0] == 0.0
    with pytest.raises(ValueError):
        cider_d(refs, {"a": "x"})
    with pytest.raises(ValueError):
        cider_d({"a": []}, {"a": "x"})


# -- the metric in the harness -----------------------------------------------------------------
@pytest.mark.slow
def test_metric_scores_aggregates_and_resamples(msvd):
    bench = registry.benchmark("msvd-caption")
    samples = bench.samples(bench.load_annotations(str(ANNOTATIONS)))
    metric = registry.metric("cider")
    assert isinstance(metric, Cider) and metric.corpus_level and metric.headline == "cider"
    preds = [Prediction(sample_id=s.id, text=f"A man is {s.references[0][2:]}") for s in samples]
    scores: list[SampleScore] = []
    asyncio.run(metric.score_all(list(zip(samples, preds)), ScoreContext(), scores.append))
    assert len(scores) == len(samples) and all(sc.ok for sc in scores)
    rows = list(zip(samples, scores))

    refs = {s.id: list(s.references) for s in samples}
    corpus, per = cider_d(refs, {p.sample_id: p.text for p in preds})
    agg = metric.aggregate(rows, "strict")
    assert agg.n_scored == len(samples)
    assert abs(agg.metrics["cider"] - 100 * corpus) <= 100 * TOL
    assert max(abs(sc.fields["cider"] - per[sc.sample_id]) for sc in scores) <= TOL

    # a bootstrap resample (videos drawn twice count twice, df included) equals pycocoevalcap
    # run on the resample with the duplicates as separate videos
    rng = np.random.default_rng(0)
    pick = rng.integers(0, len(rows), len(rows))
    resample = [rows[i] for i in pick]
    fresh = Cider()  # also checks that a metric without a cache re-tokenizes the references
    value = fresh.headline_values(resample, "strict")["cider"]
    gts = {f"{j}": list(rows[i][0].references) for j, i in enumerate(pick)}
    res = {f"{j}": preds[i].text for j, i in enumerate(pick)}
    c_coco, _ = coco_cider(gts, res)
    assert abs(value - 100 * c_coco) <= 100 * TOL
    assert abs(metric.headline_values(resample, "strict")["cider"] - value) <= 100 * TOL

    # failed rows are left out; no references -> failed, not scored
    failed = [(s, SampleScore(sample_id=s.id, status="failed", reason="x")) for s, _ in rows[:5]]
    assert metric.aggregate(failed + rows[5:], "strict").n_scored == len(rows) - 5
    empty = samples[0].model_copy(update={"references": []})
    out: list[SampleScore] = []
    asyncio.run(metric.score_all([(empty, preds[0])], ScoreContext(), out.append))
    assert [o.status for o in out] == ["failed"]


def test_corpus_weights_match_duplicated_documents():
    hyps = ["a b c", "b c d e", ""]
    refs = [["a b c d", "a b"], ["b c", "c d e f", "b c d"], ["e f"]]
    corpus = CorpusNgrams(hyps, refs)
    weighted = corpus.scores(np.array([2.0, 1.0, 0.0]))
    copies = CorpusNgrams([hyps[0], hyps[0], hyps[1]], [refs[0], refs[0], refs[1]]).scores()
    assert np.isnan(weighted[2])
    assert np.allclose(weighted[:2], copies[1:], rtol=0, atol=TOL) and abs(copies[0] - copies[1]) <= TOL
