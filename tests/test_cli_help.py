"""A CLI that explains itself: --version, usage for a bare `harness`, every option's help with its default,
an example at the end of every command's help, and a quiet end when the reader of stdout goes away."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import pytest

import harness
from conftest import ANNOTATIONS, REPO, tarsier_predictions
from harness.cli import build_parser, main


def _parsers(parser: argparse.ArgumentParser, path: str = "harness"):
    """(command path, parser) for the top-level parser and every subcommand, nested ones included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"harness {harness.__version__}"


def test_bare_harness_prints_the_usage_and_exits_2(capsys):
    """No command is a usage error (exit 2): a script whose command word came out empty must not pass."""
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: harness") and "data" in out and "run" in out and "example" in out


def test_every_option_has_help_and_shows_its_default():
    problems = []
    for path, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
                continue
            name = "/".join(action.option_strings) or action.dest
            if not action.help or action.help == argparse.SUPPRESS:
                problems.append(f"{path} {name}: no help text")
                continue
            shown = formatter._get_help_string(action) % {**vars(action), "prog": parser.prog}
            has_default = action.default not in (None, False, [], argparse.SUPPRESS)
            if action.option_strings and has_default and "default" not in shown:
                problems.append(f"{path} {name}: default {action.default!r} not shown")
    assert not problems, "\n".join(problems)


def test_every_command_ends_its_help_with_an_example():
    parsers = list(_parsers(build_parser()))
    assert len(parsers) > 12  # run, list, show, data fetch, data check, results check ...
    for path, parser in parsers:
        text = parser.format_help()
        assert parser.epilog and parser.epilog.startswith("example"), path
        assert text.rstrip().splitlines()[-1].strip().startswith("harness "), (path, text[-300:])
        assert "harness " in parser.epilog, path


def test_a_default_shows_in_the_help_text(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--judge-concurrency JUDGE_CONCURRENCY judge requests in flight at once (default: 64)" in out
    assert "--protocol {strict,tarsier}" in out and "(default: strict)" in out


# -- a closed pipe --------------------------------------------------------------------------------
def _env_without_unbuffered() -> dict[str, str]:
    """A user's shell: stdout block-buffered (PYTHONUNBUFFERED would hide a failing last flush)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """The command with stdout a real pipe whose reader has already gone (what `| head -1` leaves behind)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], stdout=write, stderr=subprocess.PIPE,
                              text=True, cwd=REPO, env=_env_without_unbuffered(), timeout=300)
    finally:
        os.close(write)


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipe")
    ann = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
    preds = tarsier_predictions(ann, tmp / "p.jsonl", lambda i, r: "A")
    assert main(["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann), "--limit", "30",
                 "--out", str(tmp / "runs"), "--no-progress"]) == 0
    return tmp


COMMANDS = {
    "list models": ["list", "models"],
    "list benchmarks": ["list", "benchmarks"],
    "help": ["run", "--help"],
    "show runs": ["show", "{runs}"],
    "show run json": ["show", "{run}", "--json"],
    "results check": ["results", "check"],
    "data fetch": ["data", "fetch", "video-mme"],
    "frames": ["frames", str(ANNOTATIONS.parent / "videos" / "demo_test.mp4"), "--n", "4", "--json"],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_closed_pipe_ends_quietly(name, scored_run):
    run_dir = next((scored_run / "runs").glob("*/*/*/spec.json")).parent
    args = [a.format(runs=scored_run / "runs", run=run_dir) for a in COMMANDS[name]]
    proc = _into_a_closed_pipe(*args)
    assert proc.returncode in (0, 141), (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
    assert "Exception ignored" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_head_reads_the_first_line_and_the_command_ends_quietly():
    proc = subprocess.run(f"{sys.executable} -m harness.cli list models | head -1", shell=True, capture_output=True,
                          text=True, cwd=REPO, env=_env_without_unbuffered(), timeout=300)
    assert proc.stdout.split()[:3] == ["model", "family", "backend"], proc.stdout
    assert proc.stderr == "", proc.stderr
    closed = _into_a_closed_pipe("list", "benchmarks")
    assert closed.returncode == 141 and closed.stderr == "", closed.stderr
