"""The `harness` command. Each subcommand is one module with add_parser(sub) and run(args).

Only this module turns typed errors into a one-line message and an exit code
(0 ok, 1 finished but too many samples failed, 2 bad input or usage). Two untyped errors are
the user's input too and get the same one line: a file that cannot be written or read (OSError:
an --out that is a file, read-only, full) and data that fails its schema (pydantic's
ValidationError, summarised as field and problem).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from harness.errors import HarnessError, validation_summary
from harness.redact import redact_urls

# One line per subcommand module (harness/cli/<name>.py).
COMMANDS = ["run", "list", "show", "results", "leaderboard", "compare", "merge", "frames", "rescore",
            "describe", "chat", "demo", "judge_audit", "judge_check"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # usage errors: one line, exit 2
        sys.stderr.write(f"harness: error: {_one_line(message)}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Evaluate video-language models exactly as published.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"harness.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except HarnessError as exc:
        sys.stderr.write(f"harness: {_one_line(str(exc))}\n")
        return exc.exit_code
    except BrokenPipeError:  # stdout closed by its reader (`| head`): nothing to say to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:
        sys.stderr.write(f"harness: {os_error_line(exc)}\n")
        return 2
    except ValueError as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        sys.stderr.write(f"harness: invalid {exc.title}: {_one_line(validation_summary(exc))}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("harness: interrupted; finished work is saved, run the same command to resume\n")
        return 130


def os_error_line(exc: OSError) -> str:
    """'PATH: Read-only file system' from an OSError (no errno numbers, no traceback)."""
    what = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(str(p) for p in paths)
    return _one_line(f"{where}: {what}" if where else str(exc) or what)


def _one_line(text: str) -> str:
    return redact_urls(" ".join(text.split()))  # a URL in a message never shows its credentials


def entry() -> None:
    raise SystemExit(main())
