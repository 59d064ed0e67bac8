"""`--executor ray` on this machine (CPU): same predictions as the local executor and as merged
shards, and a replica killed mid-run loses nothing and duplicates nothing.

The model is a test double (EchoAdapter: sleeps a little and answers the annotated letter),
registered through the real adapter registry; everything else is the real code. One Ray
instance, started by the executor's own start(), serves the whole module.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import zlib
from pathlib import Path

import pytest

from conftest import ANNOTATIONS, harness_cli, read_jsonl, tarsier_predictions

ray = pytest.importorskip("ray")

from harness import runner, shard  # noqa: E402
from harness.adapter import Adapter, AdapterOptions  # noqa: E402
from harness.adapters import MODELS  # noqa: E402
from harness.errors import BadInput  # noqa: E402
from harness.executors import ExecutorSettings, RayExecutor  # noqa: E402
from harness.types import Prediction  # noqa: E402

pytestmark = pytest.mark.slow  # Ray: the whole module (`pytest -m 'not slow'` skips it)

NEXTQA = ANNOTATIONS / "Next-QA-val-multi_choice.jsonl"
N = 120


class EchoAdapter(Adapter):
    """A model double: answers the annotated letter after a short, uneven sleep.

    options.extra: sleep (seconds per sample, scaled 0.5x..1.5x by the sample id so replicas
    finish out of order), die_on (a sample id), die_flag (a file: the replica whose batch holds
    die_on removes it and kills its own process, so exactly one replica dies), die_always
    (kill the process whenever die_on is in the batch), refuse (check() fails, as on a node
    without the GPU the model needs).
    """

    family = "test"
    needs_video = False
    backend = "test-echo"

    def check(self) -> None:
        if self.options.extra.get("refuse"):
            raise BadInput("test-echo needs a GPU and this node has none")

    def load(self) -> None:
        self.extra = self.options.extra

    def generate(self, samples):
        die_on = self.extra.get("die_on")
        if die_on is not None and any(s.id == die_on for s in samples):
            if self.extra.get("die_always"):
                os._exit(1)
            flag = self.extra.get("die_flag")
            if flag:
                try:
                    os.unlink(flag)  # only one replica wins the flag
                except FileNotFoundError:
                    pass
                else:
                    Path(flag + ".died").write_text(str(os.getpid()))
                    os._exit(1)
        out = []
        for s in samples:
            jitter = 0.5 + (zlib.crc32(s.id.encode()) % 100) / 100
            time.sleep(self.extra.get("sleep", 0.0) * jitter)
            out.append(Prediction(sample_id=s.id, text=s.answer or "A", meta={"echo": True}))
        return out


@pytest.fixture(scope="module")
def ray_here():
    # the double lives in a test module Ray workers cannot import: ship it by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    executor = RayExecutor(ExecutorSettings(kind="ray", replicas=3))
    assert executor.start()  # the executor's own local start (no address, no dashboard)
    yield
    ray.shutdown()


@pytest.fixture
def echo(monkeypatch):
    monkeypatch.setitem(MODELS, "test-echo", f"{__name__}:EchoAdapter")


def _run(out: Path, executor=None, shard_id=None, stage="all", **extra):
    opts = AdapterOptions(batch_size=extra.pop("batch_size", 4), extra={"sleep": 0.005, **extra})
    req = runner.RunRequest(model="test-echo", bench="next-qa", options=opts, annotations=str(NEXTQA), limit=N,
                            out=str(out), stage=stage, progress=False, executor=executor, shard=shard_id)
    return runner.run(req)


def _records(run_dir: Path, strip_timing: bool = True) -> list[dict]:
    rows = read_jsonl(run_dir / "predictions.jsonl")
    if strip_timing:  # `seconds` is the one field that differs between two runs of a real model
        for r in rows:
            r.pop("seconds")
    return rows


def _same_result(a, b) -> None:
    da, db = a.model_dump(mode="json"), b.model_dump(mode="json")
    da.pop("date"), db.pop("date")
    assert da == db


def test_local_ray_and_merged_shards_give_the_same_predictions(tmp_path, ray_here, echo):
    local = _run(tmp_path / "local")
    on_ray = _run(tmp_path / "ray", ExecutorSettings(kind="ray", replicas=2))
    assert on_ray.run_dir.name == local.run_dir.name  # same spec, same hash
    for i in range(2):  # shard 0 on Ray, shard 1 here
        _run(tmp_path / "sharded", ExecutorSettings(kind="ray", replicas=2) if i == 0 else None, f"{i}/2",
             stage="generate")
    shard_dirs = sorted(p for p in (tmp_path / "sharded").glob("*/next-qa/*") if (p / "shard.json").exists())
    merged = shard.merge(shard_dirs, tmp_path / "sharded")
    assert merged.run_dir.name == local.run_dir.name and merged.n_samples == N
    scored = _run(tmp_path / "sharded", stage="score")
    assert scored.run_dir == merged.run_dir and scored.n_generated == 0

    expected = _records(local.run_dir)
    assert [r["sample_id"] for r in expected] == [str(i) for i in range(N)]  # annotation order
    assert _records(on_ray.run_dir) == expected
    assert _records(merged.run_dir) == expected
    assert all(r["seconds"] > 0 for r in _records(on_ray.run_dir, strip_timing=False))
    _same_result(on_ray.result, local.result)
    _same_result(scored.result, local.result)
    assert local.result.metrics["accuracy"] == 100.0


def test_replica_killed_mid_run_loses_and_duplicates_nothing(tmp_path, ray_here, echo, caplog):
    flag = tmp_path / "kill-once"
    flag.write_text("")
    caplog.set_level(logging.WARNING, logger="harness.executors")
    out = _run(tmp_path / "r", ExecutorSettings(kind="ray", replicas=2), die_on="57", die_flag=str(flag))
    assert not flag.exists() and (tmp_path / "kill-once.died").exists()  # one replica did die, mid-run
    assert "died" in caplog.text and "replacement" in caplog.text
    rows = _records(out.run_dir)
    assert [r["sample_id"] for r in rows] == [str(i) for i in range(N)]  # each once, in order
    assert all("error" not in r for r in rows)
    assert out.result.n_failed == 0 and out.result.metrics["accuracy"] == 100.0


def test_a_batch_that_keeps_killing_replicas_is_failed_then_retried(tmp_path, ray_here, echo):
    settings = ExecutorSettings(kind="ray", replicas=2, batch_attempts=2)
    out = _run(tmp_path / "r", settings, stage="generate", die_on="9", die_always=True)
    rows = read_jsonl(out.run_dir / "predictions.jsonl")
    assert [r["sample_id"] for r in rows] == [str(i) for i in range(N)]
    failed = [r["sample_id"] for r in rows if "error" in r]
    assert failed == ["8", "9", "10", "11"]  # its batch only, counted as failed, never dropped
    assert "replica died 2 times" in rows[9]["error"]
    again = _run(tmp_path / "r")  # the next run (a healthy model) retries exactly those
    assert again.n_generated == 4 and again.result.n_failed == 0


def test_a_replica_that_refuses_its_node_is_the_same_one_line_error(tmp_path, ray_here, echo):
    with pytest.raises(BadInput, match="^test-echo needs a GPU and this node has none$"):
        _run(tmp_path / "r", ExecutorSettings(kind="ray", replicas=1), refuse=True)
    assert not list((tmp_path / "r").rglob("predictions.jsonl"))


@pytest.mark.slow
def test_cli_local_ray_and_shards_are_byte_identical(tmp_path):
    """The file: adapter records no timing, so here the files are compared byte for byte."""
    preds = tarsier_predictions(NEXTQA, tmp_path / "p.jsonl",
                                lambda i, r: r["text"]["response"] if i % 4 else "no idea")
    base = ["run", "--model", f"file:{preds}", "--bench", "next-qa", "--annotations", str(NEXTQA),
            "--limit", "300", "--no-progress", "--batch-size", "8"]

    def run(*args):
        proc = harness_cli(*base, *args)
        assert proc.returncode == 0, proc.stderr
        return proc

    local = json.loads(run("--out", str(tmp_path / "a"), "--json").stdout)
    on_ray = json.loads(run("--out", str(tmp_path / "b"), "--json", "--executor", "ray", "--replicas", "2").stdout)
    for i in range(3):
        run("--out", str(tmp_path / "c"), "--shard", f"{i}/3")
    shards = [str(p) for p in (tmp_path / "c").glob("*/next-qa/*")]
    merged = harness_cli("merge", *shards, "--out", str(tmp_path / "c"))
    assert merged.returncode == 0, merged.stderr
    from_shards = json.loads(run("--out", str(tmp_path / "c"), "--json", "--stage", "score").stdout)

    files = [next((tmp_path / d).glob(f"*/next-qa/{local['provenance']['spec_hash']}/predictions.jsonl"))
             for d in "abc"]
    assert files[0].read_bytes() == files[1].read_bytes() == files[2].read_bytes()
    assert "seconds" not in files[0].read_text()
    for r in (local, on_ray, from_shards):
        r.pop("date")
    assert local == on_ray == from_shards
    assert local["metrics"]["accuracy"] == 75.0
