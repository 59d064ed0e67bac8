"""Help that explains itself: every option's default shown, every command ending with an example.

Every parser of the `harness` command is built by harness.cli's parser class, which uses
`HelpFormatter`, so a subcommand module gets the defaults in its help for free. What a module adds is
its example, as the parser's epilog:

    p = sub.add_parser("demo", help="...", epilog=examples("harness demo --model tarsier2-7b"))

A test walks every subcommand's parser: each option has help text, each default shows, each
command has an example.
"""

from __future__ import annotations

import argparse
from pathlib import Path


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Epilogs (examples) keep their lines; an option's help ends with its default, unless the
    text already says it or there is none to say (no value, a flag that is off)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text or default is None or default is False
                or default is argparse.SUPPRESS or default == []):
            return text
        shown = str(default) if not isinstance(default, Path) else default.as_posix()
        return f"{text} (default: {shown.replace('%', '%%')})"


def examples(*commands: str) -> str:
    """A command's epilog: its example command lines."""
    head = "example:" if len(commands) == 1 else "examples:"
    return head + "\n" + "\n".join(f"  {c}" for c in commands)
