"""Paths built from data (model and benchmark names, record ids) never leave the folder the user named.

Names that come from files a user or a tool wrote (a spec.json, a result record, a prediction
file's name) become slugs before they name a file or folder, and every such path is checked to
stay under its root: a `../` or an absolute name is refused, never followed.
"""

from __future__ import annotations

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
