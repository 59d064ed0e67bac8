"""Preflight: every problem that would stop a run, found before any work and named at once.

The checks are the ones the harness always makes (an adapter's `check()`, the annotation loader, the
runner's judge, video and prediction checks, the output folder); each still raises its BadInput. A
`Problems` collector runs them one after the other and keeps each failure's line instead of stopping
at the first, so a user with nothing configured reads every missing piece in one go:

    problems = Problems()
    adapter = problems.run("model", registry.adapter, model, options)
    problems.run("judge", check_judge, metric, request, bench)
    problems.raise_if_any()          # PreflightFailed: one line per problem, exit 2

A check whose topic already failed is not run again (the model named once, not once per benchmark),
and a check that needs what a failed one would have given is simply not reached.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from harness.errors import BadInput

T = TypeVar("T")


class PreflightFailed(BadInput):
    """Problems found before any work; the CLI prints one line for each."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = list(lines)


class Problems:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.failed: set[str] = set()  # topics with a problem

    def run(self, topic: str, check: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """check(*args, **kwargs), or None with its line kept when it raises BadInput."""
        if topic in self.failed:
            return None
        try:
            return check(*args, **kwargs)
        except PreflightFailed as exc:
            self._fail(topic, exc.lines)
        except BadInput as exc:
            self._fail(topic, [str(exc)])
        return None

    def _fail(self, topic: str, lines: list[str]) -> None:
        self.failed.add(topic)
        self.lines += [line for line in lines if line not in self.lines]

    def __bool__(self) -> bool:
        return bool(self.lines)

    def raise_if_any(self) -> None:
        if self.lines:
            raise PreflightFailed(self.lines)
