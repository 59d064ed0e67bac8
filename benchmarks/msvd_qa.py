"""MSVD-QA: open-ended QA judged by an LLM (Video-ChatGPT protocol)."""

from harness.benchmark import Benchmark

BENCHMARK = Benchmark(
    name="msvd-qa",
    title="MSVD-QA",
    metric="open_qa",
    family="open-qa",
    annotation_file="MSVD-QA-val.jsonl",
    video_rule="{vid}.avi",
    group_keys=(),
    # the Tarsier release's MSVD-QA-val.jsonl
    canonical_sha256=(
        "5c9998c6647af9fde0627662da7b6a194a44226328581a4b646023574a69db65",
    ),
    canonical_rows=6415,
)
