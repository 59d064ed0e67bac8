"""Shared test helpers. Real data comes from ../shared (or $HARNESS_SHARED), never copied here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HARNESS_SHARED", REPO.parent / "shared"))
ANNOTATIONS = SHARED / "data" / "annotations"
DEMO_VIDEO = SHARED / "data" / "videos" / "demo_test.mp4"


def require_modules(*names: str) -> None:
    """Skip the calling test module when one of these libraries is not installed, without importing them
    (collection stays fast: torch and transformers load only when a test that needs them runs)."""
    import importlib.util

    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}", allow_module_level=True)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(path: Path, rows) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def tarsier_predictions(annotation: Path, out: Path, predict) -> Path:
    """A Tarsier prediction file: each annotation line plus text.prediction = predict(i, row)."""
    rows = read_jsonl(annotation)
    for i, row in enumerate(rows):
        row["text"]["prediction"] = predict(i, row)
    return write_jsonl(out, rows)


def harness_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `harness` command in a subprocess (exit codes and stderr as a user sees them)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          cwd=cwd or REPO, env=full_env, timeout=600)


def assert_one_line(proc, *needles: str) -> str:
    """A bad input's answer: exit 2, one line on stderr holding each needle, no traceback."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-300:], proc.stderr[-1500:])
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def read_only_mount(tmp_path: Path) -> Path:
    """A folder that a private mount namespace (`unshare -m`) can mount read-only (root ignores chmod);
    skips the test where that is impossible. The caller mounts it in its own `unshare -m` command."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare(1) to mount a read-only file system")
    ro = tmp_path / "ro"
    ro.mkdir()
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {ro}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a read-only file system here: {probe.stderr.decode().strip()}")
    return ro


@pytest.fixture
def cli(capsys):
    """The real `harness` entry point in this process (what a subprocess would run, minus its start-up)."""
    from types import SimpleNamespace

    from harness.cli import main

    def call(*args: str):
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return SimpleNamespace(returncode=code, stdout=out, stderr=err)

    return call


@pytest.fixture(scope="session")
def shared() -> Path:
    if not ANNOTATIONS.is_dir():
        pytest.fail(f"shared data not found at {SHARED}; set HARNESS_SHARED")
    return SHARED


@pytest.fixture(scope="module")
def server():
    """A loopback OpenAI-compatible judge server, one per test module (tests/judge_server.py)."""
    from judge_server import JudgeServer

    with JudgeServer() as srv:
        yield srv


@pytest.fixture
def env(monkeypatch):
    """Short judge timeouts and retry waits, and no real credentials from the shell."""
    from judge_server import use_fast_judge_env

    use_fast_judge_env(monkeypatch)
