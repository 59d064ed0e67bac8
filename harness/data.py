"""Benchmark data on this machine: fetched from the Hugging Face hub, or brought by the user.

Where a benchmark's data comes from is part of its declaration (`data:` in benchmarks/<name>.yaml).
A benchmark whose annotations and videos are on the hub is fetched through huggingface_hub (its cache,
its resumed downloads, its progress bars, its login) into one folder per benchmark:

    <data root>/<benchmark>/          the root: --to, else HARNESS_DATA_DIR, else the user data folder
        manifest.json                 what was fetched: repository, revision and commit, each file's sha256
                                      and size, the annotation file and the video folder
        SHA256SUMS                    the checksum of every file beside it (`sha256sum -c SHA256SUMS`)
        annotations/<file>            the annotation file
        videos/...                    the unpacked video archives

`harness run` without --annotations or --video-root uses what is there. For the other benchmarks,
`where_to_get` says where their files are published and how --video-root must be laid out.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput, HarnessError
from harness.jsonl import read_json_file, write_json_atomic
from harness.paths import inside

if TYPE_CHECKING:
    from harness.benchmark import Benchmark, HubData
    from harness.settings import Environment
    from harness.types import Sample

MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
CHUNK = 1 << 20


def default_root(env: "Environment") -> Path:
    """HARNESS_DATA_DIR, else the user data folder (~/.local/share/video-harness on Linux)."""
    if env.data_dir:
        return Path(env.data_dir)
    import platformdirs

    return Path(platformdirs.user_data_dir("video-harness"))


# -- what is in place ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fetched:
    folder: Path
    annotations: Path | None
    video_root: Path | None


def fetched(bench: str, root: str | Path) -> Fetched | None:
    """What `harness data fetch` put in place for `bench` under `root`, or None."""
    folder = Path(root) / bench
    if not (folder / MANIFEST).is_file():
        return None
    manifest = read_json_file(folder / MANIFEST, "data manifest")
    if not isinstance(manifest, dict):
        raise BadInput(f"{folder / MANIFEST}: damaged data manifest (not an object); run `harness data fetch {bench}`")

    def place(key: str) -> Path | None:
        value = manifest.get(key)
        return inside(folder, value) if isinstance(value, str) and value else None  # never outside its folder

    return Fetched(folder, place("annotations"), place("video_root"))


# -- where to get what cannot be fetched ---------------------------------------------------------------
def video_layout(bench: "Benchmark") -> str:
    """How --video-root must look, from the declaration's `video` rule."""
    rule = bench.video.replace("{vid}", "<vid>").replace("{idx}", "<idx>").replace("{dataset}", "<dataset>")
    return (f"--video-root DIR holding DIR/{rule} for each annotation line (<vid> is the line's vid; sub-folders "
            "in it are kept, and the other video extensions are tried too)")


def where_to_get(bench: "Benchmark") -> list[str]:
    """Lines telling a user where the benchmark's files are published and how to lay them out."""
    d = bench.data
    if bench.metric is None:
        return [f"{bench.name} ({bench.title}) is shown from published numbers only: there is nothing to fetch"]
    lines = [f"{bench.name} ({bench.title}): not on the Hugging Face hub in a form the harness reads; get it by hand:"]
    ann = bench.annotations.file or "the annotation file"
    checksum = f" (sha256 {bench.canonical_sha256[0][:12]}..., the canonical file)" if bench.canonical_sha256 else ""
    lines.append(f"  annotations: {ann}" + (f" from {d.annotations_url}" if d.annotations_url else "") + checksum)
    if d.videos_url or d.videos:
        lines.append("  videos: " + "; ".join(x for x in (d.videos, d.videos_url) if x))
    lines.append(f"  layout: {video_layout(bench)}")
    lines.append(f"  then: harness data check --bench {bench.name} --annotations {ann} --video-root DIR")
    lines.append(f"        harness run --model MODEL --bench {bench.name} --annotations {ann} --video-root DIR")
    return lines


# -- fetching from the hub -------------------------------------------------------------------------------
@dataclass
class FetchReport:
    folder: Path
    annotations: Path
    video_root: Path | None
    files: dict[str, dict[str, Any]]  # repository path -> sha256, size
    n_found: int
    n_samples: int
    status: str  # the annotations' status (harness.annotations)
    commit: str | None
    unpacked: bool  # False: the videos were already in place


def fetch(bench: "Benchmark", root: str | Path, progress: bool = True) -> FetchReport:
    """Fetch the benchmark's hub files into root/<bench>/, unpack its videos, record their checksums."""
    hub = bench.data.hub
    if hub is None or hub.annotations is None:
        raise BadInput(f"{bench.name} has no annotations on the Hugging Face hub to fetch")
    folder = inside(root, bench.name)
    folder.mkdir(parents=True, exist_ok=True)
    previous = _read_manifest(folder)
    downloaded = {name: _download(hub, name) for name in [hub.annotations, *hub.videos]}
    files = {name: _describe(path, previous.get("files", {}).get(name), progress)
             for name, path in downloaded.items()}
    annotations = folder / "annotations" / PurePosixPath(hub.annotations).name
    annotations.parent.mkdir(exist_ok=True)
    shutil.copyfile(downloaded[hub.annotations], annotations)
    video_sums = dict(previous.get("video_sha256", {}))
    unpacked = False
    if hub.videos and (not (folder / "videos").is_dir() or any(
            files[v]["sha256"] != previous.get("files", {}).get(v, {}).get("sha256") for v in hub.videos)):
        video_sums = _unpack([downloaded[v] for v in hub.videos], folder / "videos", progress)
        unpacked = True
    ann, samples, status = _samples(bench, annotations)
    video_root, n_found = _find_video_root(bench, ann, folder / "videos") if hub.videos else (None, 0)
    commit = _commit_of(downloaded[hub.annotations])
    manifest = {
        "benchmark": bench.name,
        "hub": {"repo": hub.repo, "revision": hub.revision, "commit": commit},
        "annotations": annotations.relative_to(folder).as_posix(),
        "annotations_sha256": ann.sha256,
        "annotations_status": status,
        "video_root": video_root.relative_to(folder).as_posix() if video_root else None,
        "videos": {"found": n_found, "samples": len(samples)},
        "files": files,
        "video_sha256": video_sums,
        "fetched": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_sums(folder, {annotations.relative_to(folder).as_posix(): ann.sha256,
                         **{f"videos/{k}": v for k, v in video_sums.items()}})
    write_json_atomic(folder / MANIFEST, manifest)
    return FetchReport(folder, annotations, video_root, files, n_found, len(samples), status, commit, unpacked)


def _read_manifest(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _download(hub: "HubData", name: str) -> Path:
    """One file through huggingface_hub: its cache, a resumed partial download, its progress bar."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (EntryNotFoundError, GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    page = f"{constants.ENDPOINT}/datasets/{hub.repo}"
    try:
        return Path(hf_hub_download(hub.repo, name, repo_type="dataset", revision=hub.revision))
    except GatedRepoError:
        raise BadInput(f"{hub.repo} is a gated dataset and this account has no access yet: accept the terms at "
                       f"{page} then `hf auth login` (or set HF_TOKEN), and run the same command") from None
    except RepositoryNotFoundError:
        raise BadInput(f"{hub.repo}: no such dataset on the hub, or it needs a login: accept its terms at {page} "
                       "then `hf auth login` (or set HF_TOKEN)") from None
    except RevisionNotFoundError:
        raise BadInput(f"{hub.repo} has no revision {hub.revision!r} (the benchmark declaration's data.hub.revision)") \
            from None
    except LocalEntryNotFoundError:
        raise BadInput(f"cannot download {name} from {hub.repo}: the hub cannot be reached (offline, or "
                       "HF_HUB_OFFLINE is set) and the file is not in the Hugging Face cache; connect and run the "
                       "same command (a partial download resumes)") from None
    except EntryNotFoundError:
        raise BadInput(f"{hub.repo} has no file {name} at revision {hub.revision} (the benchmark declaration's "
                       "data.hub)") from None
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        raise BadInput(f"the hub refused {name} from {hub.repo} (HTTP {status}); run the same command later "
                       "(a partial download resumes)") from None
    except Exception as exc:  # the connection (requests' or httpx's errors), a full disk
        raise BadInput(f"cannot download {name} from {hub.repo} ({type(exc).__name__}: {_first_line(exc)}); run the "
                       "same command to resume the download") from None


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _commit_of(path: Path) -> str | None:
    """The commit a file in the hub cache belongs to (…/snapshots/<commit>/<path>)."""
    parts = path.parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts[:-1] else None


def _describe(path: Path, known: dict[str, Any] | None, progress: bool) -> dict[str, Any]:
    """sha256 and size of a fetched file (not hashed again when its size and time are the ones recorded)."""
    real = path.resolve()
    st = real.stat()
    if known and known.get("size") == st.st_size and known.get("mtime_ns") == st.st_mtime_ns and known.get("sha256"):
        return dict(known)
    return {"sha256": sha256_file(real, progress), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def sha256_file(path: Path, progress: bool = False) -> str:
    from tqdm import tqdm

    h = hashlib.sha256()
    size = path.stat().st_size
    with path.open("rb") as fh, tqdm(total=size, unit="B", unit_scale=True, desc=f"sha256 {path.name}",
                                     file=sys.stderr, disable=not progress or size < 64 * CHUNK) as bar:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def _unpack(archives: list[Path], dest: Path, progress: bool) -> dict[str, str]:
    """Unpack the archives (a video file is copied) into dest, through a partial folder swapped in at the
    end; returns each file's sha256, computed as it is written. A member that would land outside dest is
    refused (no `..`, no absolute name)."""
    from tqdm import tqdm

    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    sums: dict[str, str] = {}
    for archive in archives:
        if not archive.name.lower().endswith(".zip"):
            sums[archive.name] = _copy(archive, partial / archive.name)
            continue
        try:
            with zipfile.ZipFile(archive) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                names = [_member_name(m.filename, archive) for m in members]
                with tqdm(total=sum(m.file_size for m in members), unit="B", unit_scale=True,
                          desc=f"unpack {archive.name}", file=sys.stderr, disable=not progress) as bar:
                    for m, name in zip(members, names):
                        sums[name] = _extract(zf, m, partial / name, bar)
        except zipfile.BadZipFile as exc:
            raise BadInput(f"{archive}: not a readable zip archive ({exc}); delete it and run the same command "
                           "to download it again") from None
    if dest.exists():
        shutil.rmtree(dest)
    partial.rename(dest)
    return sums


def _member_name(name: str, archive: Path) -> str:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts:
        raise BadInput(f"{archive}: member {name!r} would be written outside the data folder; refusing the archive")
    return p.as_posix()


def _extract(zf: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path, bar) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with zf.open(member) as src, target.open("wb") as out:
        while chunk := src.read(CHUNK):
            out.write(chunk)
            h.update(chunk)
            bar.update(len(chunk))
    return h.hexdigest()


def _copy(src: Path, target: Path) -> str:
    shutil.copyfile(src, target)
    return sha256_file(target)


def _samples(bench: "Benchmark", annotations: Path):
    from harness.annotations import annotations_status, check_annotations

    ann = bench.load_annotations(str(annotations))
    check_annotations(bench, ann)
    samples = bench.samples(ann)
    return ann, samples, annotations_status(bench, ann, samples)


def _find_video_root(bench: "Benchmark", ann, videos: Path) -> tuple[Path, int]:
    """The folder under `videos` (itself, or one a few levels down) where most of the annotations' videos are."""
    candidates = [videos] + sorted(p for depth in ("*", "*/*", "*/*/*") for p in videos.glob(depth) if p.is_dir())
    best, best_n = videos, -1
    for folder in candidates:
        n = sum(1 for s in bench.samples(ann, str(folder)) if s.video and Path(s.video).is_file())
        if n > best_n:
            best, best_n = folder, n
    return best, max(best_n, 0)


def _write_sums(folder: Path, sums: dict[str, str]) -> None:
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    tmp = folder / (SUMS + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / SUMS)


# -- checking videos before a run ---------------------------------------------------------------
@dataclass
class VideoCheck:
    n: int
    missing: list["Sample"] = field(default_factory=list)
    unreadable: list[tuple["Sample", str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.unreadable


def check_videos(samples: list["Sample"], workers: int = 2, progress: bool = True) -> VideoCheck:
    """Every sample's video: missing (no file), or unreadable by content (the checks harness.video makes
    before it samples frames: what the file really holds, a container cut short, corrupt packets, a first
    frame that will not decode). One entry per distinct file."""
    from tqdm import tqdm

    by_file: dict[str, Sample] = {}
    missing: dict[str, Sample] = {}
    for s in samples:
        if not s.video or not Path(s.video).exists():
            missing.setdefault(s.video or f"sample {s.id}", s)
        else:
            by_file.setdefault(s.video, s)
    result = VideoCheck(len(by_file) + len(missing), list(missing.values()))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, \
            tqdm(total=len(by_file), desc="check videos", unit="video", file=sys.stderr, disable=not progress) as bar:
        for s, problem in zip(by_file.values(), pool.map(_probe, by_file.values())):
            bar.update(1)
            if problem is not None:
                result.unreadable.append((s, problem))
    return result


def _probe(sample: "Sample") -> str | None:
    from harness.video import sample_frame_list, sample_frames

    try:
        files = sample.extra.get("frame_files")
        if files:
            missing = [f for f in files if not Path(f).is_file()]
            if missing:
                return f"{missing[0]}: no such file ({len(missing)} of the {len(files)} frame files)"
            sample_frame_list(files, 1)
        else:
            sample_frames(sample.video, 1)
    except HarnessError as exc:
        return str(exc)
    return None
