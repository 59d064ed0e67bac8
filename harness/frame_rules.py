"""Which frames of a clip a model is shown: the official index rules, as pure functions.

Three samplers (FrameSpec.sampler):
- "uniform": the harness default. index_i = round(i * (N - 1) / (n - 1)); a clip shorter than n
  repeats frames, so every model gets n frames (GIFs too).
- "tarsier1": Tarsier-1's loader (bytedance/tarsier, branch `tarsier`, dataset/utils.py:22-84,
  dataset/mm_dataset.py:37-57). Videos as "uniform" (decord returns repeated indices), but GIFs
  and lists of frame files keep each frame once. Clip windows truncate: start = int(fps * start_time)
  when start_time > 0, end = int(fps * end_time) when end_time > 0, both clamped to the clip.
- "tarsier2": Tarsier2's loader (branch `main`, dataset/custom_data_parsers/utils.py:66-72,
  231-322). A clip with no more frames than asked gives every frame once (range(N)). Windows only
  when both start_time and end_time are given, rounded (Python's round, ties to even); an end
  equal to N becomes N - 1; indices past the clip are dropped, not clamped.

Python's round on the float quotient is written exactly as the official code writes it: int(),
floor(x + 0.5) or numpy.linspace would differ on ties or by float error.
"""

from __future__ import annotations

from harness.errors import BadInput, VideoError

SAMPLERS = ("uniform", "tarsier1", "tarsier2")
# Tarsier-1 keeps only these files of a frame list (dataset/utils.py:96-106 get_visual_type).
TARSIER1_IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".tif")


def check_sampler(sampler: str) -> str:
    if sampler not in SAMPLERS:
        raise BadInput(f"unknown frame sampler {sampler!r}; expected one of {', '.join(SAMPLERS)}")
    return sampler


def uniform_indices(n_total: int, n: int) -> list[int]:
    """index_i = round(i * (N - 1) / (n - 1)); first and last included; n = 1 -> [0].

    Ties go to the even integer (N=4, n=3 gives [0, 2, 3]); N < n repeats indices.
    """
    if n < 1 or n_total < 1:
        raise BadInput(f"uniform_indices needs n >= 1 and n_total >= 1, got n={n}, n_total={n_total}")
    if n == 1:
        return [0]
    return [round(i * (n_total - 1) / (n - 1)) for i in range(n)]


def tarsier2_v1_indices(n_total: int, n: int) -> list[int]:
    """Tarsier2's `v1` sampler: range(N) when N <= n, else the uniform rule (n = 1 -> [0])."""
    if n < 1 or n_total < 1:
        raise BadInput(f"frame sampling needs n >= 1 and n_total >= 1, got n={n}, n_total={n_total}")
    if n == 1:
        return [0]
    if n_total <= n:
        return list(range(n_total))
    return uniform_indices(n_total, n)


def tarsier1_window(n_total: int, fps: float | None, start_time: float | None,
                    end_time: float | None) -> tuple[int, int]:
    """Tarsier-1's (start_frame, end_frame): int() truncation, clamped into the clip."""
    start, end = 0, n_total - 1
    if (start_time or 0) > 0 or (end_time is not None and end_time > 0):
        if not fps:
            raise VideoError("a start_time/end_time window needs the clip's frame rate, and it has none")
    if start_time is not None and start_time > 0:
        start = min(n_total - 1, int(fps * start_time))
    if end_time is not None and end_time > 0:
        end = min(max(start, int(fps * end_time)), n_total - 1)
    return start, end


def tarsier2_window(n_total: int, fps: float | None, start_time: float | None,
                    end_time: float | None) -> tuple[int, int]:
    """Tarsier2's (start_frame, end_frame): round(), only when both times are given; not clamped."""
    if start_time is None or end_time is None:
        return 0, n_total - 1
    if not fps:
        raise VideoError("a start_time/end_time window needs the clip's frame rate, and it has none")
    start, end = round(start_time * fps), round(end_time * fps)
    if end == n_total:
        end -= 1
    return start, end


def video_indices(sampler: str, n_total: int, n: int, fps: float | None = None,
                  start_time: float | None = None, end_time: float | None = None) -> list[int]:
    """Indices read from a video of n_total frames (repeats possible under uniform/tarsier1)."""
    check_sampler(sampler)
    if sampler == "tarsier2":
        start, end = tarsier2_window(n_total, fps, start_time, end_time)
        indices = [i + start for i in tarsier2_v1_indices(end - start + 1, n)]
        if indices and indices[-1] == n_total:  # check_frame_indices: the last index may touch N
            indices[-1] = n_total - 1
        indices = [i for i in indices if 0 <= i < n_total]  # dropped, not clamped
    else:
        start, end = tarsier1_window(n_total, fps, start_time, end_time)
        if n == 1:
            return [0]  # Tarsier-1 returns frame 0 before adding start_frame (dataset/utils.py:23-24)
        indices = [i + start for i in uniform_indices(end - start + 1, n)]
    if not indices:
        raise VideoError(f"the window {start_time}s-{end_time}s holds no frame of this "
                         f"{n_total}-frame clip")
    return indices


def gif_indices(sampler: str, n_total: int, n: int, fps: float | None = None,
                start_time: float | None = None, end_time: float | None = None) -> list[int]:
    """Frames taken from a GIF. Both Tarsier readers collect frames with `if i in indices` while
    iterating the GIF, so repeats collapse (a 5-frame GIF at n=8 gives 5 frames); Tarsier-1 ignores
    clip windows on GIFs. The harness default keeps repeats, as for videos."""
    check_sampler(sampler)
    if sampler == "uniform":
        return video_indices("uniform", n_total, n, fps, start_time, end_time)
    if sampler == "tarsier1":
        return sorted(set(video_indices("tarsier1", n_total, n)))
    return sorted(set(video_indices("tarsier2", n_total, n, fps, start_time, end_time)))


def frame_list_files(sampler: str, files: list[str], n: int) -> list[int]:
    """Positions of the files kept from a list of frame images (MVBench's Episodic Reasoning rows).

    Tarsier-1 keeps only image files (.jpg .jpeg .png .tif), takes min(len, n) uniform indices and
    keeps each listed file once (dataset/mm_dataset.py:43-50); Tarsier2 reads the list as a clip
    (ImageSeqReader) with its v1 sampler. The harness default follows Tarsier-1 here (no repeats).
    """
    check_sampler(sampler)
    if sampler == "tarsier2":
        if not files:
            raise VideoError("the frame list is empty")
        return tarsier2_v1_indices(len(files), n)
    images = [i for i, f in enumerate(files) if f.lower().endswith(TARSIER1_IMAGE_EXTS)]
    if not images:
        raise VideoError(f"the frame list holds no image file ({', '.join(TARSIER1_IMAGE_EXTS)})")
    wanted = set(uniform_indices(len(images), min(len(images), n)))
    return [pos for k, pos in enumerate(images) if k in wanted]
