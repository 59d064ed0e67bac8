"""The `harness` command. Each subcommand is one module with add_parser(sub) and run(args).

Only this module turns typed errors into a one-line message and an exit code
(0 ok, 1 finished but too many samples failed, 2 bad input or usage). Two untyped errors are
the user's input too and get the same one line: a file that cannot be written or read (OSError:
an --out that is a file, read-only, full) and data that fails its schema (pydantic's
ValidationError, summarised as field and problem). A preflight that found several problems
(harness.preflight) prints one line for each.

`harness` alone prints the help and exits 2: no command was given, which is a usage error (a script
whose command word came out empty must not pass); the help goes to stdout so `harness | less` works.
A closed stdout (`harness list models | head -1`) ends the command quietly with 141, as SIGPIPE would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

import harness
from harness.cli.help import HelpFormatter, examples
from harness.errors import HarnessError, validation_summary
from harness.redact import redact_urls

# One line per subcommand module (harness/cli/<name>.py).
COMMANDS = ["run", "list", "show", "data", "results", "leaderboard", "compare", "merge", "frames", "rescore",
            "describe", "chat", "demo", "judge_audit", "judge_check"]
EPIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a writer whose reader went away

EXAMPLES = examples(
    "harness data fetch dream                      # DREAM-1K's annotations and videos (Hugging Face hub)",
    "harness run --model tarsier-7b --bench dream  # the main job (a GPU, the weights, a judge)",
    "harness run --model file:preds.jsonl --bench next-qa --annotations Next-QA-val-multi_choice.jsonl",
    "harness leaderboard build --runs runs --out site",
)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)  # every subcommand shows its defaults
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # usage errors: one line, exit 2
        sys.stderr.write(f"harness: error: {_one_line(message)}\n")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description="Evaluate video-language models exactly as published.",
                     epilog=EXAMPLES)
    parser.add_argument("--version", action="version", version=f"harness {harness.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"harness.cli.{name}")
        module.add_parser(sub)
    _describe_commands(parser)
    return parser


def _describe_commands(parser: argparse.ArgumentParser) -> None:
    """A subcommand's one-line help (shown in its parent's list) is also the top of its own --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                child = action.choices[choice.dest]
                if child.description is None and choice.help:
                    child.description = choice.help[:1].upper() + choice.help[1:] + "."
                _describe_commands(child)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.handler(args) or 0)
    except HarnessError as exc:
        for line in getattr(exc, "lines", None) or [str(exc)]:  # a preflight: one line per problem
            sys.stderr.write(f"harness: {_one_line(line)}\n")
        return exc.exit_code
    except BrokenPipeError:  # stdout closed by its reader (`| head`): nothing to say to anyone
        _quiet()
        return EPIPE_EXIT
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


def _quiet() -> None:
    """Point stdout and stderr at /dev/null, so the interpreter's last flush meets no closed pipe."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):
            pass


def os_error_line(exc: OSError) -> str:
    """'PATH: Read-only file system' from an OSError (no errno numbers, no traceback)."""
    what = exc.strerror or type(exc).__name__
    paths = [p for p in (exc.filename, exc.filename2) if p is not None]
    where = " -> ".join(str(p) for p in paths)
    return _one_line(f"{where}: {what}" if where else str(exc) or what)


def _one_line(text: str) -> str:
    return redact_urls(" ".join(text.split()))  # a URL in a message never shows its credentials


def entry() -> None:
    try:
        try:
            code = main()
        except SystemExit as stop:  # argparse's --help, --version and usage errors
            code = stop.code
        sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at interpreter exit
    except BrokenPipeError:  # the reader went away after main returned, or stderr is closed too
        _quiet()
        code = EPIPE_EXIT
    raise SystemExit(code)
