"""EgoSchema: only the 500-question subset has public answers, and it is labelled so."""

from harness.benchmark import Benchmark

BENCHMARK = Benchmark(
    name="egoschema",
    title="EgoSchema (500-question public subset)",
    metric="multiple_choice",
    family="mc",
    annotation_file="EgoSchema_subset.jsonl",
    video_rule="{vid}.mp4",
    group_keys=(),
    note="subset: the 500 questions with public answers, not the full 5,031-question test set",
    # the Tarsier release's EgoSchema_subset.jsonl
    canonical_sha256=(
        "f7f969ed6e8484b403bec5c9755f54e13ee37375baa72312e381534609620d20",
    ),
    canonical_rows=500,
)
