"""Human-readable printing of results (JSON output is just the Result model)."""

from __future__ import annotations

from harness.types import Result


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def print_result(result: Result, indent: str = "") -> None:
    head = ", ".join(f"{k} {fmt(v)}" + _interval(result, k) for k, v in result.metrics.items())
    print(f"{indent}{result.benchmark} | {result.model} | {result.protocol}: {head}")
    print(f"{indent}  scored {result.n_scored}/{result.n_total}, failed {result.n_failed}, invalid {result.n_invalid}")
    if result.annotations_status in ("modified", "foreign"):
        print(f"{indent}  annotations: {result.annotations_status} (not the benchmark's canonical file; "
              "not comparable with published numbers)")
    for reason, count in result.failed_reasons.items():
        print(f"{indent}    failed ({reason}): {count}")
    for group, values in result.groups.items():
        vals = ", ".join(f"{k} {fmt(v)}" for k, v in values.items())
        print(f"{indent}  {group}: {vals}")


def _interval(result: Result, key: str) -> str:
    if key in result.intervals:
        lo, hi = result.intervals[key]
        return f" [{lo:.2f}, {hi:.2f}]"
    return ""
