"""Frame sampling: the uniform rule of PROTOCOLS.md ("Frame sampling"), exact frames, fast.

A video is indexed by demuxing its packets (no decoding): one packet is one frame, and frame
i is the packet with the i-th smallest pts, i.e. the i-th frame a full decode outputs. This is
also how decord (Tarsier's decoder) counts. Wanted frames are then reached by seeking to the
keyframe before each one and decoding forward; anything that makes seeking doubtful (no or
duplicate pts, a landing we cannot place) falls back to one sequential decode.

A file is read as what it holds, checked against its name: an image named .mp4 (FFmpeg would
open it as a one-frame "video", and uniform sampling would repeat that frame n times), a PNG
named .gif, or an animated GIF named .png (only its first frame would be read) is refused with
what it really is.

Damaged files are refused, never sampled approximately: a container that lists more frames
than it holds, a packet flagged corrupt, or a decode yielding a different number of frames
than the index raises VideoError. Sampling uniformly over the part that survives would
silently show the model a different clip than the benchmark intended.
"""

from __future__ import annotations

import math
import os
from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image

from harness.errors import BadInput, HarnessError, VideoError
from harness.frame_rules import (check_sampler, frame_list_files, gif_indices, uniform_indices,  # noqa: F401
                                 video_indices)
from harness.types import MAX_FRAMES

SAMPLER_VERSION = "1"

VIDEO_EXTS = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv",
                        ".mpg", ".mpeg", ".ts", ".3gp", ".ogv"})
GIF_EXTS = frozenset({".gif"})
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
RESIZE_MODES = ("none", "square-stretch")


@dataclass
class FrameSample:
    indices: list[int]  # positions in the full decode, one per returned image
    timestamps: list[float | None]  # seconds from the first frame (None: a list of frame files)
    images: list[Image.Image]  # RGB, after resizing
    n_total: int  # N: frames in the clip
    fps: float | None
    width: int  # source frame size, before any resizing
    height: int
    source: str
    requested: int = 0  # frames asked for (more than returned: a short clip under a Tarsier rule)
    sampler: str = "uniform"  # harness.frame_rules sampler that chose the indices
    window: tuple[float | None, float | None] | None = None  # (start_time, end_time) in seconds


def sample_frames(path: str | os.PathLike, n: int = 8, *, max_pixels: int | None = None,
                  resize: str = "none", sampler: str = "uniform", start_time: float | None = None,
                  end_time: float | None = None) -> FrameSample:
    """The frames of a video, GIF or image (an image gives one frame) that `sampler` picks
    (harness.frame_rules), inside the start_time/end_time window when one is given."""
    if not 1 <= n <= MAX_FRAMES:
        raise BadInput(f"number of frames must be from 1 to {MAX_FRAMES}, got {n}")
    check_sampler(sampler)
    if resize not in RESIZE_MODES:
        raise BadInput(f"unknown resize mode {resize!r}; expected one of {', '.join(RESIZE_MODES)}")
    if max_pixels is not None and max_pixels < 1:
        raise BadInput(f"max_pixels must be >= 1, got {max_pixels}")
    p = Path(path)
    if not p.exists():
        raise VideoError(f"{p}: no such file")
    if not p.is_file():
        raise VideoError(f"{p}: not a regular file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: empty file")
    ext = p.suffix.lower()
    try:
        window = (start_time, end_time)
        if ext in GIF_EXTS:
            sample = _sample_gif(p, n, sampler, window)
        elif ext in IMAGE_EXTS:
            sample = _sample_image(p)
        elif ext in VIDEO_EXTS:
            sample = _sample_video(p, n, sampler, window)
        else:
            raise VideoError(f"{p}: unsupported file type {ext or '(no extension)'!r}; expected a video "
                             f"({', '.join(sorted(VIDEO_EXTS))}), a GIF or an image")
        sample.images = [_resize(im, resize, max_pixels) for im in sample.images]
        sample.requested, sample.sampler = n, sampler
        sample.window = window if window != (None, None) else None
    except HarnessError:
        raise
    except Exception as exc:  # PyAV, Pillow, OS errors: one typed error, one line
        reason = exc.strerror if isinstance(exc, av.FFmpegError) and exc.strerror else str(exc)
        reason = " ".join(reason.split()) or type(exc).__name__
        raise VideoError(f"{p}: cannot decode ({reason}): not a valid {ext[1:]} file, "
                         "or truncated or corrupt") from exc
    return sample


def _resize(img: Image.Image, resize: str, max_pixels: int | None) -> Image.Image:
    if resize == "square-stretch":  # Tarsier-1: PIL resize to (max, max), default bicubic
        side = max(img.size)
        if img.size != (side, side):
            img = img.resize((side, side), Image.Resampling.BICUBIC)
    w, h = img.size
    if max_pixels is not None and w * h > max_pixels:
        scale = math.sqrt(max_pixels / (w * h))
        nw, nh = max(1, int(w * scale)), max(1, int(h * scale))
        while nw * nh > max_pixels:  # float error; shrink the longer side
            if nw >= nh:
                nw -= 1
            else:
                nh -= 1
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    return img


# Images and GIFs: Pillow, as in Tarsier (GIF frames need their predecessors, so sequential).

def _sample_image(p: Path) -> FrameSample:
    with Image.open(p) as im:
        if getattr(im, "is_animated", False):
            raise VideoError(f"{p}: an animated {im.format} named {p.suffix}; only its first frame would be "
                             "read: convert it to a video or a GIF")
        img = im.convert("RGB")
    return FrameSample([0], [0.0], [img], 1, None, img.width, img.height, str(p))


def _sample_gif(p: Path, n: int, sampler: str, window) -> FrameSample:
    with Image.open(p) as im:
        if im.format != "GIF":
            raise VideoError(f"{p}: holds a {im.format} image, not a GIF")
        n_total = getattr(im, "n_frames", 1)
        # Tarsier2's GIF reader takes its frame rate from the first frame's duration (window only).
        first = im.info.get("duration", 0) or 0
        indices = gif_indices(sampler, n_total, n, 1000 / first if first else None, *window)
        wanted = set(indices)
        got: dict[int, tuple[float, Image.Image]] = {}
        t_ms = 0
        for i in range(max(wanted) + 1):
            im.seek(i)
            if i in wanted:
                got[i] = (t_ms / 1000, im.convert("RGB"))
            t_ms += im.info.get("duration", 0) or 0
        if n_total > 1:  # total duration, for fps only
            for i in range(max(wanted) + 1, n_total):
                im.seek(i)
                t_ms += im.info.get("duration", 0) or 0
        size = im.size
    fps = n_total / (t_ms / 1000) if t_ms > 0 else None
    return FrameSample(indices, [got[i][0] for i in indices], [got[i][1] for i in indices],
                       n_total, fps, size[0], size[1], str(p))


def sample_frame_list(files: list[str | os.PathLike], n: int = 8, *, max_pixels: int | None = None,
                      resize: str = "none", sampler: str = "uniform") -> FrameSample:
    """A clip given as a list of frame images (MVBench's Episodic Reasoning rows): the files the
    sampler keeps (harness.frame_rules.frame_list_files), each read once."""
    if n < 1:
        raise BadInput(f"number of frames must be >= 1, got {n}")
    names = [str(f) for f in files]
    keep = frame_list_files(check_sampler(sampler), names, n)
    images = []
    for pos in keep:
        f = Path(names[pos])
        if not f.is_file():
            raise VideoError(f"{f}: no such file (frame {pos} of the list)")
        try:
            with Image.open(f) as im:
                images.append(im.convert("RGB"))
        except Exception as exc:
            raise VideoError(f"{f}: cannot decode frame {pos} of the list ({' '.join(str(exc).split())})") from exc
    w, h = images[0].size
    sample = FrameSample(keep, [None] * len(keep), [_resize(im, resize, max_pixels) for im in images],
                         len(names), None, w, h, str(Path(names[0]).parent), requested=n, sampler=sampler)
    return sample


# Videos: PyAV.

@dataclass(frozen=True)
class _Packet:
    pts: int | None
    dts: int | None
    key: bool
    discard: bool  # demuxer says decode but do not show (edit lists): fed, never counted


def _image_format(demuxer: str) -> str | None:
    """The image format FFmpeg's demuxer stands for ('png_pipe' -> 'PNG'); None for a video container."""
    if demuxer.endswith("_pipe"):
        return demuxer.removesuffix("_pipe").upper()
    return {"gif": "GIF", "apng": "APNG", "image2": "still"}.get(demuxer)


def _open(p: Path):
    container = av.open(str(p))
    image = _image_format(container.format.name)
    if image is not None:
        container.close()
        raise VideoError(f"{p}: holds a {image} image, not a video (named {p.suffix}); convert it to a "
                         "video, or name it by what it is")
    streams = [s for s in container.streams.video
               if not s.disposition & av.stream.Disposition.attached_pic]  # cover art is no video
    if not streams:
        container.close()
        raise VideoError(f"{p}: no video stream")
    stream = streams[0]
    stream.thread_type = "AUTO"
    return container, stream


def _scan(p: Path, container, stream) -> list[_Packet]:
    packets = []
    for pkt in container.demux(stream):
        if pkt.size == 0:  # PyAV's end-of-stream marker
            continue
        if pkt.is_corrupt:
            raise VideoError(f"{p}: corrupt or truncated video data (packet {len(packets)})")
        packets.append(_Packet(pkt.pts, pkt.dts, bool(pkt.is_keyframe), bool(pkt.is_discard)))
    _check_complete(p, container, stream, packets)
    return packets


def _check_complete(p: Path, container, stream, packets: list[_Packet]) -> None:
    """Refuse a file cut short, where the container says how much it should hold."""
    fmt = container.format.name
    if "mp4" in fmt:  # MP4/MOV index every sample: fewer packets read means data is missing
        if stream.frames and len(packets) != stream.frames:
            raise VideoError(f"{p}: truncated: the container lists {stream.frames} frames, "
                             f"{len(packets)} are present")
    elif "matroska" in fmt and packets:  # Matroska has no count, only a track duration tag
        declared = _parse_hms(stream.metadata.get("DURATION"))
        if declared is None and len(container.streams) == 1 and container.duration:
            declared = container.duration / 1_000_000
        shown = [k.pts for k in packets if not k.discard and k.pts is not None]
        rate = stream.average_rate or stream.guessed_rate
        if declared is None or not shown or not rate:
            return
        # Muxers write the end time (from zero, not from the first frame), so compare ends.
        present = float(max(shown) * stream.time_base) + 1 / float(rate)
        if declared - present > max(3 / float(rate), 0.01 * declared):
            raise VideoError(f"{p}: truncated: the container says {declared:.2f} s of video, "
                             f"{present:.2f} s are present")


def _parse_hms(text: str | None) -> float | None:
    try:
        h, m, sec = (text or "").split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _sample_video(p: Path, n: int, sampler: str, window) -> FrameSample:
    container, stream = _open(p)
    with container:
        packets = _scan(p, container, stream)
        frames = [k for k in packets if not k.discard]
        if not frames:
            raise VideoError(f"{p}: no video frames")
        n_total = len(frames)
        fps = stream.average_rate or stream.guessed_rate
        fps = float(fps) if fps else None
        indices = video_indices(sampler, n_total, n, fps, *window)
        time_base = stream.time_base
        pts = [k.pts for k in frames]
        images = None
        if None not in pts and len(set(pts)) == len(pts):
            pts.sort()
            wanted = [pts[i] for i in indices]
            images = _decode_by_seeking(container, stream, packets, set(wanted))
        if images is not None:
            t0 = pts[0]
            times = [float((w - t0) * time_base) for w in wanted]
            chosen = [images[w] for w in wanted]
    if images is None:
        chosen, times = _decode_sequential(p, indices, n_total, fps)
    w, h = chosen[0].size
    return FrameSample(indices, times, chosen, n_total, fps, w, h, str(p))


def _decode_by_seeking(container, stream, packets: list[_Packet], wanted: set[int]):
    """{pts: image} for the wanted frames, or None when seeking cannot be trusted."""
    pos = {k.pts: j for j, k in enumerate(packets)}
    keys = [j for j, k in enumerate(packets) if k.key]

    def start_of(t: int) -> int | None:
        i = bisect_right(keys, pos[t]) - 1
        # A frame shown before its keyframe may refer to the previous GOP (open GOP).
        while i >= 0 and packets[keys[i]].pts > t:
            i -= 1
        return keys[i] if i >= 0 else None

    runs: list[list[int]] = []  # [first packet, last packet] decoded without a break
    for t in sorted(wanted, key=pos.__getitem__):
        s = start_of(t)
        if s is None:
            return None
        if runs and s <= runs[-1][1] + 1:  # closer to keep decoding than to seek
            runs[-1][0] = min(runs[-1][0], s)
            runs[-1][1] = max(runs[-1][1], pos[t])
        else:
            runs.append([s, pos[t]])

    got: dict[int, Image.Image] = {}
    codec = stream.codec_context
    for start, end in runs:
        need = {t for t in wanted if start <= pos[t] <= end and t not in got}
        if not need:
            continue
        it = _seek(container, stream, packets, pos, keys, start)
        if it is None:
            return None
        min_pts = packets[start].pts  # earlier-shown frames of this GOP may be broken
        codec.flush_buffers()
        for pkt in it:
            if pkt is not None:  # only wanted frames need decoding, plus what they refer to
                codec.skip_frame = "DEFAULT" if pkt.pts in need else "NONREF"
            for frame in codec.decode(pkt):
                t = frame.pts
                if t in wanted and t not in got and t is not None and t >= min_pts:
                    got[t] = frame.to_image()
                    need.discard(t)
            if not need:
                break
        it.close()
        codec.flush_buffers()
        codec.skip_frame = "DEFAULT"
        if need:  # the decoder never produced them: let the sequential decode judge the file
            return None
    return got


def _seek(container, stream, packets: list[_Packet], pos: dict[int, int], keys: list[int],
          start: int):
    """Packets from keyframe `start` on (then None: drain), or None if we cannot land there."""
    i = keys.index(start)
    for target in keys[max(0, i - 2):i + 1][::-1] + [0]:  # it, two earlier, the very start
        # By pts: MP4 and Matroska then land on this very keyframe (by dts they land a GOP early).
        container.seek(packets[target].pts, stream=stream, backward=True, any_frame=False)
        demux = (pkt for pkt in container.demux(stream) if pkt.size)
        first = next(demux, None)
        j = pos.get(first.pts) if first is not None else None
        if j is not None and j <= start:
            return _follow(demux, first, j, start, packets)
    return None


def _follow(demux, first, j: int, start: int, packets: list[_Packet]):
    """Skip (without decoding) up to `start`, then yield packets checked against the index."""
    pkt = first
    while pkt is not None:
        if j >= len(packets) or pkt.pts != packets[j].pts:  # disagrees with the index: stop
            return
        if j >= start:
            yield pkt
        j += 1
        pkt = next(demux, None)
    yield None  # drain the decoder's delayed frames


def _decode_sequential(p: Path, indices: list[int], n_total: int, fps: float | None):
    container, stream = _open(p)
    wanted = set(indices)
    got: dict[int, tuple[float, Image.Image]] = {}
    t0 = None
    count = 0
    with container:
        for count, frame in enumerate(container.decode(stream), start=1):
            i = count - 1
            if frame.pts is not None and t0 is None:
                t0 = frame.pts
            if i in wanted:
                if frame.pts is not None:
                    t = float((frame.pts - t0) * Fraction(stream.time_base))
                else:
                    t = i / fps if fps else 0.0
                got[i] = (t, frame.to_image())
    if count != n_total:
        raise VideoError(f"{p}: truncated or corrupt: {n_total} frames indexed, {count} decode")
    return [got[i][1] for i in indices], [got[i][0] for i in indices]
