"""MSVD-Caption: short captions scored by CIDEr-D against many references."""

from harness.benchmark import Benchmark

BENCHMARK = Benchmark(
    name="msvd-caption",
    title="MSVD-Caption",
    metric="cider",
    family="caption",
    annotation_file="MSVD-Caption-test.jsonl",
    video_rule="{vid}.avi",
    group_keys=(),
    # the Tarsier release's MSVD-Caption-test.jsonl
    canonical_sha256=(
        "835befe772ed64b087a827f31b8dad36bec6a678654eff5b95fbed38b0a50746",
    ),
    canonical_rows=670,
)
