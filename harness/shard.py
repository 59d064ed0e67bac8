"""Manual sharding for schedulers without Ray (a SLURM array, several machines by hand).

`harness run ... --shard I/N` generates shard I of N (0 <= I < N): after `--limit`, the sample at
position k of the benchmark's annotation order belongs to shard k mod N. Round robin rather
than blocks, because annotation files are grouped by subtask and video length, and blocks
would give one shard all the long videos.

A shard is a run of its own: its RunSpec has `shard="I/N"`, so it has its own directory, and
the directory holds `shard.json` (the rule, the total, and the position and id of each of its
samples). A shard only generates; scoring happens on the merged run.

`harness merge SHARD_DIR... --out ROOT` checks that the shards share one spec apart from
`shard`, that they are shards 0..N-1 of the same N exactly once, and that every sample has a
prediction (an error prediction counts: the unsharded run retries it, like any failed sample).
It writes one record per sample, in annotation order, to the directory the unsharded run would
use (same spec with shard=None, same hash), so `harness run ...` without `--shard` resumes or
scores it. A single clean run writes the same records in the same order, so the two
predictions.jsonl files are byte-identical (apart from adapters' timing fields, see
harness.runner.generate).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from harness.errors import BadInput
from harness.jsonl import write_json_atomic
from harness.store import RunStore
from harness.types import Prediction, RunSpec, Sample

MANIFEST = "shard.json"
RULE = "position mod N"


def parse(text: str) -> tuple[int, int]:
    """'I/N' -> (I, N), with 0 <= I < N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise BadInput(f"--shard takes I/N (e.g. 0/4 for the first of four shards), not '{text}'")
    i, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 0 <= i < n:
        raise BadInput(f"--shard {text}: need 0 <= I < N (shards are numbered from 0)")
    return i, n


def normalize(text: str) -> str:
    i, n = parse(text)
    return f"{i}/{n}"


def select(samples: list[Sample], shard: str) -> list[Sample]:
    i, n = parse(shard)
    return samples[i::n]


def write_manifest(store: RunStore, samples: list[Sample], shard: str) -> None:
    """Record which samples this shard covers; an existing manifest must agree."""
    i, n = parse(shard)
    manifest = {"shard": f"{i}/{n}", "rule": RULE, "n_total": len(samples),
                "samples": [[k, s.id] for k, s in enumerate(samples) if k % n == i]}
    path = store.dir / MANIFEST
    if path.exists():
        if json.loads(path.read_text(encoding="utf-8")) != manifest:
            raise BadInput(f"{path} lists other samples than this run would; remove the directory to start over")
        return
    write_json_atomic(path, manifest)


@dataclass
class MergeOutcome:
    run_dir: Path
    n_samples: int
    n_failed: int  # samples whose prediction is an error (the unsharded run retries them)
    already: bool = False  # the target already held exactly this merge


@dataclass
class _Shard:
    dir: Path
    store: RunStore
    index: int
    n: int
    manifest: dict


def _open(path: str | Path) -> _Shard:
    store = RunStore.open(path)
    if store.spec.shard is None:
        raise BadInput(f"{path} is not a shard run (its spec has no shard); pass directories made with --shard")
    i, n = parse(store.spec.shard)
    mpath = Path(path) / MANIFEST
    if not mpath.is_file():
        raise BadInput(f"{path} has no {MANIFEST}; was it made by `harness run --shard`?")
    manifest = json.loads(mpath.read_text(encoding="utf-8"))
    if manifest.get("rule") != RULE or manifest.get("shard") != f"{i}/{n}":
        raise BadInput(f"{mpath} does not match the shard in its spec ({store.spec.shard})")
    return _Shard(Path(path), store, i, n, manifest)


def _unsharded(spec: RunSpec) -> RunSpec:
    return spec.model_copy(update={"shard": None})


def _spec_diff(a: RunSpec, b: RunSpec) -> str:
    da = a.model_dump(mode="json", exclude={"shard", "annotations"})
    db = b.model_dump(mode="json", exclude={"shard", "annotations"})
    return ", ".join(k for k in sorted(set(da) | set(db)) if da.get(k) != db.get(k)) or "?"


def merge(shard_dirs: list[str | Path], out_root: str | Path) -> MergeOutcome:
    if not shard_dirs:
        raise BadInput("merge needs the shard directories")
    shards = [_open(d) for d in shard_dirs]
    first = shards[0]
    target_spec = _unsharded(first.store.spec)
    model_name = first.store.model_name
    for sh in shards[1:]:
        if _unsharded(sh.store.spec).hash() != target_spec.hash() or sh.store.model_name != model_name:
            what = _spec_diff(first.store.spec, sh.store.spec) if sh.store.model_name == model_name else "model name"
            raise BadInput(f"shards come from different run specs: {first.dir} and {sh.dir} differ in {what}")
    n = first.n
    if any(sh.n != n for sh in shards):
        counts = sorted({sh.store.spec.shard for sh in shards})
        raise BadInput(f"shards split the run different ways: {', '.join(counts)}")
    by_index: dict[int, _Shard] = {}
    for sh in shards:
        if sh.index in by_index:
            raise BadInput(f"overlapping shards: {sh.index}/{n} given twice ({by_index[sh.index].dir}, {sh.dir})")
        by_index[sh.index] = sh
    missing = [f"{i}/{n}" for i in range(n) if i not in by_index]
    if missing:
        raise BadInput(f"incomplete: shard(s) {', '.join(missing)} missing; generate them with --shard")
    totals = {sh.manifest.get("n_total") for sh in shards}
    if len(totals) != 1:
        raise BadInput(f"shards list different sample totals ({sorted(totals)}); were they run with the same --limit?")
    total = totals.pop()

    ordered: list[Prediction | None] = [None] * total
    seen: dict[str, Path] = {}
    for sh in (by_index[i] for i in range(n)):
        preds = sh.store.predictions()
        ids = set()
        lacking = []
        for k, sample_id in sh.manifest["samples"]:
            if k % n != sh.index or not 0 <= k < total or ordered[k] is not None:
                raise BadInput(f"{sh.dir / MANIFEST}: position {k} does not belong to shard {sh.index}/{n}")
            if sample_id in seen:
                raise BadInput(f"overlapping shards: sample {sample_id} is in {seen[sample_id]} and {sh.dir}")
            seen[sample_id] = sh.dir
            ids.add(sample_id)
            if sample_id not in preds:
                lacking.append(sample_id)
                continue
            ordered[k] = preds[sample_id]
        if lacking:
            raise BadInput(f"incomplete: shard {sh.index}/{n} ({sh.dir}) has no prediction for {len(lacking)} of its "
                           f"{len(ids)} samples (e.g. {lacking[0]}); finish it with the same `harness run --shard` command")
        strays = sorted(set(preds) - ids)
        if strays:
            raise BadInput(f"{sh.dir} holds predictions for samples outside its shard (e.g. {strays[0]})")
    holes = [k for k, p in enumerate(ordered) if p is None]
    if holes:
        raise BadInput(f"incomplete: no shard covers sample position {holes[0]} ({len(holes)} in all)")

    body = "".join(json.dumps(p.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"
                   for p in ordered)  # same serialisation as the runner's LogWriter
    n_failed = sum(not p.ok for p in ordered)
    store = RunStore.create(out_root, model_name, target_spec)
    with store.lock():  # one writer per run folder
        declared = by_index[0].store.benchmark_declaration()
        if declared is not None:  # a user benchmark: the merged run keeps its declaration
            store.write_benchmark(declared)
        path = store.predictions_path
        if path.exists() and path.stat().st_size:
            if path.read_text(encoding="utf-8") == body:
                return MergeOutcome(store.dir, total, n_failed, already=True)
            raise BadInput(f"{store.dir} already holds predictions; remove it or merge into another --out")
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        write_json_atomic(store.dir / "merged_from.json",
                          {"rule": RULE, "shards": [{"shard": f"{i}/{n}", "dir": str(by_index[i].dir),
                                                     "spec_hash": by_index[i].store.spec.hash()} for i in range(n)]})
    return MergeOutcome(store.dir, total, n_failed)
