"""The README stays true: its CPU-only walk-through prints what the README shows, and it points nowhere
outside the repository but the tests' data."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _blocks(text: str) -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", text, re.S)


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    from harness.cli import main

    monkeypatch.chdir(tmp_path)

    def call(*args):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return call


def test_the_walk_through_prints_what_the_readme_shows(cli):
    blocks = _blocks(README)
    i = next(k for k, b in enumerate(blocks) if "examples/demo-predictions.jsonl" in b and "pip install" in b)
    command = next(line for line in blocks[i].splitlines() if line.startswith("harness run"))
    shown = blocks[i + 1].splitlines()
    args = command.split()[1:]
    args = [str(REPO / a) if a.startswith("examples/") else a for a in args]
    args = [a.replace("file:examples/", f"file:{REPO}/examples/") for a in args]
    proc = cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [line for line in shown if not line.startswith("harness:")]
    assert [line for line in shown if line.startswith("harness:")] == proc.stderr.splitlines()

    listed = cli("show", "runs/")
    table = blocks[i + 3].splitlines()
    assert listed.stdout.splitlines() == table[:2]


def test_the_readme_points_inside_the_repository():
    """`../shared` is the tests' data: only the test command may name it; the protocols are docs/protocols.md."""
    lines = [line for line in README.splitlines() if "../shared" in line]
    assert lines and all("test" in line for line in lines), lines
    assert "PROTOCOLS.md" not in README and "docs/protocols.md" in README and "docs/data.md" in README
    for path in re.findall(r"`((?:docs|examples)/[\w./-]+)`", README):
        assert (REPO / path).exists(), path
