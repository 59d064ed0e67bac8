"""MVBench: 20 temporal subtasks, multiple choice; `dataset` is MVBench/<subtask>.

Two row shapes the official loaders read (Tarsier-1 dataset/mm_dataset.py:39-57):
- `start_time`/`end_time` (seconds) beside `video_file`: the model sees that part of the clip;
- `video_file` as a list of frame images (Episodic Reasoning): the frames are the clip.
Both reach the adapter through Sample.extra: `clip_start`, `clip_end`, `frame_files`
(absolute paths); `video` then names the first frame file, so the pre-flight check sees it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.benchmark import PLACEHOLDER, Benchmark
from harness.errors import BadInput
from harness.types import Sample


class MVBenchBenchmark(Benchmark):
    def build_sample(self, row: dict[str, Any], video_root: str | None) -> Sample:
        files = row.get("video_file")
        frame_list = isinstance(files, list)
        if frame_list:
            row = {**row, "video_file": PLACEHOLDER}
        sample = super().build_sample(row, video_root)
        extra = dict(sample.extra)
        for key, name in (("start_time", "clip_start"), ("end_time", "clip_end")):
            if row.get(key) is not None:
                extra[name] = float(row[key])
        update: dict[str, Any] = {"extra": extra}
        if frame_list:
            extra["frame_files"] = [_frame_path(str(f), video_root) for f in files]
            update["video"] = extra["frame_files"][0] if extra["frame_files"] else None
        return sample.model_copy(update=update)


def _frame_path(name: str, video_root: str | None) -> str:
    """An annotated frame file: absolute as is, else under --video-root (never outside it)."""
    p = Path(name)
    if p.is_absolute() or not video_root:
        return str(p)
    root = Path(video_root).resolve()
    full = (root / p).resolve()
    if not full.is_relative_to(root):
        raise BadInput(f"frame path {name!r} escapes --video-root {root}; refusing it")
    return str(full)


BENCHMARK = MVBenchBenchmark(
    name="mvbench",
    title="MVBench",
    metric="multiple_choice",
    family="mc",
    annotation_file="MVBench.jsonl",
    video_rule="{vid}",  # annotations carry the file name; extensions are tried too
    group_keys=("subtask",),
    unique_idx=False,  # idx restarts per subtask
)
