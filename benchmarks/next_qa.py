"""NExT-QA validation, 5-way multiple choice."""

from harness.benchmark import Benchmark

BENCHMARK = Benchmark(
    name="next-qa",
    title="NExT-QA (val, MC)",
    metric="multiple_choice",
    family="mc",
    annotation_file="Next-QA-val-multi_choice.jsonl",
    video_rule="{vid}.mp4",
    # no grouping: the Tarsier release's file has no question type (causal / temporal / descriptive)
    group_keys=(),
    # the Tarsier release's Next-QA-val-multi_choice.jsonl
    canonical_sha256=(
        "883f885cc5bec736864d9a3a2ad574ed2605d831088b3b68649dc8cc63e0accc",
    ),
    canonical_rows=4996,
)
