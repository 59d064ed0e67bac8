"""Paths built from data (model and benchmark names, record ids) never leave the folder the user named.

Names that come from files a user or a tool wrote (a spec.json, a result record, a prediction
file's name) become slugs before they name a file or folder, and every such path is checked to
stay under its root: a `../` or an absolute name is refused, never followed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from harness.errors import BadInput

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SLUG = 120  # well under the 255 bytes a file name may have


def slug(name: str, fallback: str = "x") -> str:
    """Letters, digits, '.', '_' and '-' only; never empty, '.', '..', nor hidden (no leading dot)."""
    s = _UNSAFE.sub("_", str(name)).strip("._-")
    return s[:MAX_SLUG].rstrip("._-") or fallback


def inside(root: str | Path, *parts: str) -> Path:
    """root/parts..., refused (BadInput) if it would resolve outside root."""
    root = Path(root)
    path = root.joinpath(*parts)
    base = root.resolve()
    if not path.resolve().is_relative_to(base):
        raise BadInput(f"{'/'.join(parts)!r} would be written outside {root}; refusing it")
    return path


def check_writable(folder: str | Path, flag: str = "--out") -> None:
    """BadInput unless `folder` can be written (created if missing): checked on the folder or its nearest
    existing parent, before any work, and without writing anything."""
    path = Path(folder)
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"{flag} {folder}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        read_only = bool(os.statvfs(probe).f_flag & os.ST_RDONLY)
        raise BadInput(f"{flag} {folder}: {probe}: {'Read-only file system' if read_only else 'Permission denied'}")
