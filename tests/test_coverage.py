"""Coverage: the annotation file against the benchmark's canonical one, rows and subsets covered,
on the real annotation files (the leaderboard's use of it is in test_leaderboard.py)."""

from __future__ import annotations

from conftest import ANNOTATIONS, write_jsonl, read_jsonl
from harness import registry
from harness.coverage import coverage_of, describe, problems


def _load(bench_name: str, path):
    bench = registry.benchmark(bench_name)
    ann = bench.load_annotations(str(path))
    return bench, ann, bench.samples(ann)


def test_both_dream_formats_are_canonical_and_a_limit_run_is_partial():
    for name in ("DREAM-1k.jsonl", "DREAM-1k.messages.jsonl"):
        bench, ann, samples = _load("dream", ANNOTATIONS / name)
        full = coverage_of(bench, ann.sha256, samples, samples)
        assert full.canonical is True and (full.n_run, full.n_file, full.n_canonical) == (1000, 1000, 1000)
        assert len(full.subsets) == full.n_subsets_expected == 5 and problems(full) == []
        part = coverage_of(bench, ann.sha256, samples[:100], samples)
        assert problems(part) == ["100/1000", "1 of 5 subsets"]
        assert describe(part) == ("coverage: 100 of 1000 canonical samples, 1 of 5 subsets; canonical annotation "
                                  "file; not comparable with full runs")


def test_another_file_is_not_canonical_even_when_its_rows_are(tmp_path):
    rows = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")
    short = write_jsonl(tmp_path / "DREAM-1k.jsonl", rows[:100])
    bench, ann, samples = _load("dream", short)
    cov = coverage_of(bench, ann.sha256, samples, samples)
    assert cov.canonical is False and (cov.n_run, cov.n_file, cov.n_canonical) == (100, 100, 1000)
    assert cov.n_subsets_expected is None  # not knowable from this file; the board supplies it
    assert problems(cov) == ["not the canonical annotation file", "100/1000"]
    assert problems(cov, n_subsets_expected=5) == ["not the canonical annotation file", "100/1000", "1 of 5 subsets"]
    # the same 1000 rows written again (a different file, byte for byte) are not the canonical file either
    same = write_jsonl(tmp_path / "copy.jsonl", rows)
    bench, ann, samples = _load("dream", same)
    assert coverage_of(bench, ann.sha256, samples, samples).canonical is False


def test_a_benchmark_without_canonical_facts_is_unverified():
    """A user-brought file of a benchmark that declares no canonical file (MSR-VTT-QA here, in the
    same format as MSVD-QA): not ranked apart for that, but never called canonical."""
    bench, ann, samples = _load("msr-vtt-qa", ANNOTATIONS / "MSVD-QA-val.jsonl")
    cov = coverage_of(bench, ann.sha256, samples, samples)
    assert cov.canonical is None and cov.n_canonical is None and problems(cov) == []
    assert "annotations unverified" in describe(cov)
    assert problems(coverage_of(bench, ann.sha256, samples[:10], samples)) == [f"10/{len(samples)}"]
