"""argparse types for numbers with a range: out of range is a usage error (one line, exit 2),
never clipped, never read as a default."""

from __future__ import annotations

import argparse
import math


def count(lo: int = 1, hi: int | None = None):
    """An integer in [lo, hi] (hi None: no upper bound)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < lo or (hi is not None and value > hi):
            span = f"at least {lo}" if hi is None else f"from {lo} to {hi}"
            raise argparse.ArgumentTypeError(f"must be {span}, got {value}")
        return value

    return parse


def number(lo: float = 0.0, hi: float | None = None):
    """A finite real number in [lo, hi]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value < lo or (hi is not None and value > hi):
            span = f"at least {lo:g}" if hi is None else f"from {lo:g} to {hi:g}"
            raise argparse.ArgumentTypeError(f"must be a number {span}, got {text}")
        return value

    return parse


fraction = number(0.0, 1.0)  # --max-failed: a share of the samples
