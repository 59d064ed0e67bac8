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
    print(f"{indent}{result.benchmark} | {result.model} | {result.protocol}: {head}{partial_text(result)}")
    print(f"{indent}  scored {result.n_scored}/{result.n_total}, failed {result.n_failed}{invalid_text(result)}")
    if result.coverage is not None:
        from harness.coverage import describe

        print(f"{indent}  {describe(result.coverage)}")
    for reason, count in result.failed_reasons.items():
        print(f"{indent}    failed ({reason}): {count}")
    for group, values in result.groups.items():
        vals = ", ".join(f"{k} {fmt(v)}" for k, v in values.items())
        print(f"{indent}  {group}: {vals}")


def invalid_text(result: Result) -> str:
    """', invalid 53 (1.1% of answers)' for metrics whose answers can be invalid."""
    if result.invalid_pct is None:
        return f", invalid {result.n_invalid}" if result.n_invalid else ""
    return f", invalid {result.n_invalid} ({result.invalid_pct:.1f}% of answers)"


def _interval(result: Result, key: str) -> str:
    if key in result.intervals:
        lo, hi = result.intervals[key]
        return f" [{lo:.2f}, {hi:.2f}]"
    return ""


def partial_text(result: Result) -> str:
    """' (on 10 of 4996 samples of next-qa: 0.2%)' when the run covers part of the benchmark (--limit)."""
    cov = result.coverage
    total = (cov.n_canonical or cov.n_file) if cov is not None else result.n_benchmark
    if not total or result.n_total >= total:
        return ""
    return f" (on {result.n_total} of {total} samples of {result.benchmark}: {100 * result.n_total / total:.1f}%)"
