"""Coverage: the annotation file against the benchmark's canonical one, rows and subsets covered,
on the real annotation files (the leaderboard's use of it is in test_leaderboard.py)."""

from __future__ import annotations

import json

from conftest import ANNOTATIONS, read_jsonl, write_jsonl
from harness import registry
from harness.annotations import annotations_status
from harness.coverage import content_fingerprint, coverage_of, describe, problems


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
    # all 1000 rows with one reference edited: another benchmark in all but name
    edited = [dict(r, text=dict(r["text"])) for r in rows]
    edited[500]["text"]["response"] += " Then it rains."
    bench, ann, samples = _load("dream", write_jsonl(tmp_path / "edited.jsonl", edited))
    assert coverage_of(bench, ann.sha256, samples, samples).canonical is False
    assert annotations_status(bench, ann, samples) == "modified"


def test_the_same_content_in_another_file_is_canonical(tmp_path):
    """The canonical set is its content: the release's rows written again with other bytes, or DREAM-1K's
    rows as the Hugging Face hub's json/metadata.json holds them (every field a string), are the same
    samples, so their results rank; the fingerprint is the declared one for both release formats."""
    bench = registry.benchmark("dream")
    for name in ("DREAM-1k.jsonl", "DREAM-1k.messages.jsonl"):
        _, _, samples = _load("dream", ANNOTATIONS / name)
        assert content_fingerprint(bench, samples) == bench.canonical_content
    rows = read_jsonl(ANNOTATIONS / "DREAM-1k.jsonl")
    copy = tmp_path / "copy.jsonl"
    copy.write_text("".join(json.dumps(r, indent=None, separators=(", ", ": "), sort_keys=True) + "\n" for r in rows))
    hub = tmp_path / "metadata.json"
    hub.write_text(json.dumps([{"idx": str(r["idx"]), "video_file": f"video/{r['vid']}.mp4",
                                "source": r["dataset"].split("/", 1)[1], "duration": str(r["extra_info"]["duration"]),
                                "description": r["text"]["response"], "events": json.dumps(r["extra_info"]["events"]),
                                "n_subjects": str(r["extra_info"]["n_subjects"]),
                                "n_shots": str(r["extra_info"]["n_shots"]),
                                "n_events": str(r["extra_info"]["n_events"])} for r in rows]))
    for path in (copy, hub):
        _, ann, samples = _load("dream", path)
        assert ann.sha256 not in bench.canonical_sha256
        cov = coverage_of(bench, ann.sha256, samples, samples)
        assert cov.canonical is True and problems(cov) == [] and cov.n_subsets_expected == 5
        assert annotations_status(bench, ann, samples) == "canonical"
        part = coverage_of(bench, ann.sha256, samples[:100], samples)  # --limit on it: partial, as on the release file
        assert problems(part) == ["100/1000", "1 of 5 subsets"]


def test_a_benchmark_without_canonical_facts_is_unverified():
    """A user-brought file of a benchmark that declares no canonical file (MSR-VTT-QA here, in the
    same format as MSVD-QA): not ranked apart for that, but never called canonical."""
    bench, ann, samples = _load("msr-vtt-qa", ANNOTATIONS / "MSVD-QA-val.jsonl")
    cov = coverage_of(bench, ann.sha256, samples, samples)
    assert cov.canonical is None and cov.n_canonical is None and problems(cov) == []
    assert "annotations unverified" in describe(cov)
    assert problems(coverage_of(bench, ann.sha256, samples[:10], samples)) == [f"10/{len(samples)}"]
