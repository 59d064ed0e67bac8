"""Video-MME (without subtitles): 900 videos x 3 questions, broken down by extra_info."""

from harness.benchmark import Benchmark

BENCHMARK = Benchmark(
    name="video-mme",
    title="Video-MME (w/o subs)",
    metric="multiple_choice",
    family="mc",
    annotation_file="Video-MME.jsonl",
    video_rule="{vid}.mp4",
    group_keys=("duration", "domain", "sub_category", "task_type"),
    default_frames=16,
    # the Tarsier release's Video-MME.jsonl
    canonical_sha256=(
        "ee2a3a1c31fb84c5d7ff1cfccfdefacd6f60127f4cc39bec60c2ec9ce2addfab",
    ),
    canonical_rows=2700,
)
