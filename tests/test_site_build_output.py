"""`harness leaderboard build` builds into a fresh folder beside --out and swaps it in only when the
build succeeded: a failed build deletes nothing, and an --out that cannot be written is one line."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, harness_cli, read_only_mount
from harness.cli import main

RESULTS = REPO / "results"


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _build(out: Path, *extra: str) -> int:
    return main(["leaderboard", "build", "--results", str(RESULTS), "--out", str(out), "--no-plots", *extra])


@pytest.fixture
def site(tmp_path, capsys):
    out = tmp_path / "site"
    assert _build(out) == 0, capsys.readouterr().err
    (out / "index.html").write_text((out / "index.html").read_text() + "<!-- the published build -->")
    return out


@pytest.mark.parametrize("failure", [OSError(errno.ENOSPC, "No space left on device", "results.csv"),
                                     KeyboardInterrupt()])
@pytest.mark.slow
def test_a_failed_build_leaves_the_existing_site_as_it_was(site, capsys, monkeypatch, failure):
    from harness.leaderboard import build

    before = _tree(site)

    def fail(*a, **kw):  # the disk fills up (or the user presses ^C) when the site is nearly written
        raise failure

    monkeypatch.setattr(build, "write_downloads", fail)
    code = _build(site)
    err = capsys.readouterr().err
    assert code == (2 if isinstance(failure, OSError) else 130), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert _tree(site) == before  # every page of the old site, byte for byte
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"]  # no half-built folder left behind


def test_a_successful_build_replaces_the_whole_site(site, capsys):
    (site / "stale.html").write_text("from an older build")
    assert _build(site) == 0, capsys.readouterr().err
    assert not (site / "stale.html").exists()
    assert "the published build" not in (site / "index.html").read_text()
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"]
    assert oct(site.stat().st_mode & 0o777) == oct(0o777 & ~_umask())  # readable like any folder made here


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_out_is_a_file_or_under_a_file(tmp_path):
    f = tmp_path / "a-file"
    f.write_text("not a folder")
    for out in (f, f / "site"):
        r = harness_cli("leaderboard", "build", "--results", str(RESULTS), "--out", str(out), "--no-plots")
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in r.stderr and str(f) in lines[0], r.stderr
    assert f.read_text() == "not a folder"


def test_out_on_a_read_only_mount(tmp_path):
    """A real read-only file system (a private mount namespace; root ignores chmod)."""
    ro = read_only_mount(tmp_path)
    script = (f"mount -t tmpfs -o ro tmpfs {ro} && exec {sys.executable} -m harness.cli leaderboard build "
              f"--results {RESULTS} --out {ro / 'site'} --no-plots")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Read-only file system" in lines[0] and "Traceback" not in r.stderr, r.stderr
