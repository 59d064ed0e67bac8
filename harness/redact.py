"""Credentials never reach a file, a log line or a page: `user:password@` is cut from any URL.

A URL given on the command line (--base-url, --judge-base-url) may carry credentials. The judge's
identity keeps only scheme, host, port and path (harness.judge_identity.safe_url); this module is
the net under everything else that may print or store a URL: the CLI's error line and the run spec.
"""

from __future__ import annotations

import re
from typing import Any

# scheme://userinfo@ where userinfo holds no '/', '@' or whitespace
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@")


def redact_urls(text: str) -> str:
    """The text with the credentials of every URL in it removed (host, port and path kept)."""
    return _USERINFO.sub(r"\1", text)


def redact_tree(value: Any) -> Any:
    """redact_urls applied to every string in a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return redact_urls(value)
    if isinstance(value, dict):
        return {k: redact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_tree(v) for v in value)
    return value
