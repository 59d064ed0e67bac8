"""Agreement between two raters of the same items (two judges, or one judge asked twice).

Pairs are (label of A, label of B). Cohen's kappa corrects the observed agreement p_o for the agreement
expected by chance from each rater's own label frequencies, p_e = sum over classes of pA(c) * pB(c):
kappa = (p_o - p_e) / (1 - p_e). It is undefined (None) when p_e = 1 (both raters gave one and the same
class to every item): nothing varies, so there is no disagreement to correct for.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def agreement(pairs: Sequence[tuple[str, str]]) -> float | None:
    """The share of pairs with the same label (None without pairs)."""
    return sum(a == b for a, b in pairs) / len(pairs) if pairs else None


def confusion(pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> dict[str, dict[str, int]]:
    """counts[label of A][label of B], every class in both directions (zeros included)."""
    counts = Counter(pairs)
    return {a: {b: counts[(a, b)] for b in classes} for a in classes}


def cohen_kappa(pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> float | None:
    if not pairs:
        return None
    n = len(pairs)
    a_freq = Counter(a for a, _ in pairs)
    b_freq = Counter(b for _, b in pairs)
    p_o = sum(a == b for a, b in pairs) / n
    p_e = math.fsum(a_freq[c] * b_freq[c] for c in classes) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's correlation (None with fewer than two items or a constant side)."""
    n = len(xs)
    if n < 2 or n != len(ys):
        return None
    mx, my = math.fsum(xs) / n, math.fsum(ys) / n
    sxy = math.fsum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = math.fsum((x - mx) ** 2 for x in xs)
    syy = math.fsum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def summary(pairs: Sequence[tuple[str, str]], classes: Sequence[str]) -> dict:
    """n, agreement, kappa and the confusion table of a list of label pairs."""
    return {"n": len(pairs), "agreement": agreement(pairs), "kappa": cohen_kappa(pairs, classes),
            "classes": list(classes), "confusion": confusion(pairs, classes)}
