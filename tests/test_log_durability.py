"""Run logs: a killed process loses nothing (every record reaches the OS at once, as one whole line),
and fsync, which only a power loss needs, runs once per group of records instead of per record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO
from harness.jsonl import LogWriter, read_log


@pytest.fixture
def fsyncs(monkeypatch):
    """Count the real fsync calls LogWriter makes (they still reach the disk)."""
    calls = []
    real = os.fsync

    def counted(fd):
        calls.append(fd)
        return real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    return calls


def test_fsync_runs_per_group_not_per_record(tmp_path, fsyncs):
    path = tmp_path / "log.jsonl"
    with LogWriter(path, seconds=3600) as w:
        for i in range(250):
            w.write({"sample_id": str(i), "text": "x" * 200})
        assert len(fsyncs) == 2  # after records 100 and 200
    assert len(fsyncs) == 3  # and at close, for the last 50
    assert [r["sample_id"] for r in read_log(path)] == [str(i) for i in range(250)]


def test_a_group_also_ends_after_its_time(tmp_path, fsyncs):
    with LogWriter(tmp_path / "log.jsonl", seconds=0) as w:  # every record is a second old: sync each
        for i in range(5):
            w.write({"i": i})
    assert len(fsyncs) == 5


def test_a_killed_writer_loses_no_record_it_wrote(tmp_path):
    """SIGKILL in the middle of a group: every record written before it is there, none torn."""
    path = tmp_path / "log.jsonl"
    code = ("import os, signal, sys\n"
            "from harness.jsonl import LogWriter\n"
            "w = LogWriter(sys.argv[1], seconds=3600)\n"
            "for i in range(137):\n"
            "    w.write({'sample_id': str(i), 'text': 'y' * 5000})\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO)
    assert proc.returncode == -signal.SIGKILL
    assert [r["sample_id"] for r in read_log(path)] == [str(i) for i in range(137)]
    assert path.read_bytes().endswith(b"\n")


def test_a_torn_tail_is_cut_before_appending(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3, "b": "tor')
    with LogWriter(path) as w:
        w.write({"a": 4})
    assert [r["a"] for r in read_log(path)] == [1, 2, 4]
    assert json.loads(path.read_text().splitlines()[-1]) == {"a": 4}


def test_a_run_fsyncs_in_groups(tmp_path, fsyncs):
    """The runner's logs go through LogWriter: a 300-sample file: run makes a handful of fsyncs, not 600."""
    from conftest import ANNOTATIONS, read_jsonl, tarsier_predictions, write_jsonl
    from harness.cli import main

    ann = write_jsonl(tmp_path / "ann.jsonl", read_jsonl(ANNOTATIONS / "Next-QA-val-multi_choice.jsonl")[:300])
    preds = tarsier_predictions(ann, tmp_path / "p.jsonl", lambda i, r: "ABCDE"[i % 5])
    assert main(["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(ann),
                 "--out", str(tmp_path / "runs"), "--no-progress"]) == 0
    assert len(fsyncs) <= 20, len(fsyncs)  # 3 + 3 for the two logs, a few for spec and result files
