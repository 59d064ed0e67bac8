"""Where generation runs: here (the local executor) or on Ray actors holding model replicas.

    with executor.session(adapter, n_batches) as session:   # load the model / start replicas
        for done in session.run(batches): ...               # BatchDone, in completion order

An executor takes the batches of samples still to predict and yields each batch's predictions
as it finishes, in any order. It never touches the run store: the runner alone writes
predictions.jsonl, in sample order, with the same resume semantics whichever executor ran.

Ray (`--executor ray`): each actor builds one replica from the adapter's class, model id and
AdapterOptions and calls check() and load() where it runs. The driver hands out batches to
idle replicas as they free up, one batch at a time per replica (waiting with ray.wait on what is
in flight), so when a replica dies (its process or its node) the batch it was running is known
for certain: with two queued, the answer of a batch that finished just before the death can be
lost with it, and the wrong batch would be blamed. That batch goes back to the front of the queue
and the replica is replaced, at most `max_replica_failures` times per run (then ExecutorError;
what finished is saved); a batch running during `batch_attempts` deaths is recorded as failed
predictions (retried by the next run, like any failed sample) rather than taking down replica
after replica.

Without --ray-address, Ray starts on this machine for the run and stops after it: no
dashboard, num_cpus = replicas x cpus_per_replica (Ray's own processes still listen on all
interfaces, as Ray does; its token authentication is on by default).

Ray is imported only here and only for `--executor ray`; without it the user gets one line
naming the extra to install.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from harness.adapter import Adapter
from harness.errors import BadInput, HarnessError, MissingDependency
from harness.types import Prediction, Sample, content_hash


class ExecutorError(HarnessError):
    """Generation stopped because replicas kept dying; what finished is saved, rerun to resume."""

    exit_code = 1


@dataclass
class ExecutorSettings:
    kind: str = "local"  # local | ray
    ray_address: str | None = None  # None: start Ray on this machine
    replicas: int | None = None  # None: one per `gpus_per_replica` GPUs in the cluster, or 1 on CPU
    gpus_per_replica: float = 0.0
    cpus_per_replica: float = 1.0
    batch_attempts: int = 3  # replicas a batch may take down before its samples are marked failed
    max_replica_failures: int | None = None  # replicas replaced before giving up; None: max(3, 2 * replicas)


@dataclass
class BatchDone:
    index: int  # position in the list of batches handed to run()
    predictions: list[Prediction]
    seconds: float | None  # wall time of adapter.generate for the batch; None when it never ran


def make_executor(settings: ExecutorSettings | None = None):
    settings = settings or ExecutorSettings()
    if settings.kind == "local":
        return LocalExecutor()
    if settings.kind == "ray":
        return RayExecutor(settings)
    raise BadInput(f"unknown executor '{settings.kind}'; known: local, ray")


class LocalExecutor:
    """One replica in this process, batches in order."""

    def check(self, adapter: Adapter) -> None:
        adapter.check()

    @contextmanager
    def session(self, adapter: Adapter, n_batches: int) -> Iterator["_LocalSession"]:
        adapter.load()
        try:
            yield _LocalSession(adapter)
        finally:
            adapter.close()


class _LocalSession:
    def __init__(self, adapter: Adapter):
        self.adapter = adapter

    def run(self, batches: list[list[Sample]]) -> Iterator[BatchDone]:
        for i, batch in enumerate(batches):
            t0 = time.perf_counter()
            preds = self.adapter.generate(batch)
            yield BatchDone(i, preds, time.perf_counter() - t0)


# -- Ray -----------------------------------------------------------------------------------
def import_ray():
    try:
        import ray
    except ImportError:
        raise MissingDependency("--executor ray needs Ray: pip install video-harness[ray]") from None
    return ray


def replica_identity(adapter: Adapter) -> dict[str, Any]:
    """What a replica must share with the driver for its predictions to belong to the run."""
    return {"name": adapter.name, "frames": adapter.frames.model_dump(mode="json"),
            "spec_fields": adapter.spec_fields()}


class _Replica:
    """A Ray actor's body: one adapter, built and loaded where the actor runs."""

    def __init__(self, adapter_cls: type, model: str, options: Any):
        self._args = (adapter_cls, model, options)
        self.adapter: Adapter | None = None

    def setup(self) -> dict[str, Any]:
        adapter_cls, model, options = self._args
        self.adapter = adapter_cls(model, options)
        self.adapter.check()
        self.adapter.load()
        identity = replica_identity(self.adapter)
        return {"identity": content_hash(_jsonable(identity)), "detail": identity,
                "pid": os.getpid(), "host": os.uname().nodename}

    def generate(self, batch: list[Sample]) -> tuple[list[Prediction], float]:
        assert self.adapter is not None, "setup() first"
        t0 = time.perf_counter()
        preds = self.adapter.generate(batch)
        return preds, time.perf_counter() - t0

    def close(self) -> None:
        if self.adapter is not None:
            self.adapter.close()


def _jsonable(obj: Any) -> Any:
    import json

    return json.loads(json.dumps(obj, sort_keys=True, default=str))


class RayExecutor:
    """Model replicas as Ray actors; the driver hands out batches and collects predictions."""

    def __init__(self, settings: ExecutorSettings):
        self.settings = settings
        self.ray = import_ray()  # fail before any work when Ray is missing
        self.log = logging.getLogger("harness.executors")

    def check(self, adapter: Adapter) -> None:
        """Nothing here: each replica checks the machine it lands on (the driver may have no GPU)."""

    # ---- cluster ----------------------------------------------------------------------
    def start(self) -> bool:
        """Connect to --ray-address, or start Ray on this machine. True when this call started it."""
        ray, s = self.ray, self.settings
        if ray.is_initialized():
            return False
        common = dict(logging_level=logging.WARNING, namespace="harness")
        if s.ray_address:
            try:
                ray.init(address=s.ray_address, **common)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise BadInput(f"cannot join the Ray cluster at --ray-address {s.ray_address}: "
                               f"{_init_error(exc)}") from None
        else:
            num_cpus = None  # GPU replicas without --replicas: Ray counts this machine's CPUs
            if s.replicas is not None or not s.gpus_per_replica:
                num_cpus = max(1, math.ceil(s.cpus_per_replica * (s.replicas or 1)))
            ray.init(num_cpus=num_cpus, include_dashboard=False, **common)
        return True

    def plan_replicas(self) -> int:
        s = self.settings
        if s.replicas is not None and s.replicas < 1:
            raise BadInput("--replicas must be at least 1")
        resources = self.ray.cluster_resources()
        gpus = resources.get("GPU", 0)
        if s.gpus_per_replica and gpus < s.gpus_per_replica:
            raise BadInput(f"--gpus-per-replica {s.gpus_per_replica:g}: the Ray cluster has {gpus:g} GPUs")
        if s.cpus_per_replica > resources.get("CPU", 0):
            raise BadInput(f"--cpus-per-replica {s.cpus_per_replica:g}: the Ray cluster has "
                           f"{resources.get('CPU', 0):g} CPUs")
        if s.replicas is not None:
            return s.replicas
        return max(1, int(gpus // s.gpus_per_replica)) if s.gpus_per_replica else 1

    # ---- the work ---------------------------------------------------------------------
    @contextmanager
    def session(self, adapter: Adapter, n_batches: int) -> Iterator["_Pool"]:
        """Start (or join) Ray, start the replicas, return once one of them is ready."""
        started = self.start()
        pool = None
        try:
            pool = _Pool(self, adapter, min(self.plan_replicas(), max(1, n_batches)))
            pool.start()
            yield pool
        finally:
            if pool is not None:
                pool.shutdown()
            if started:
                self.ray.shutdown()


class _Pool:
    def __init__(self, executor: RayExecutor, adapter: Adapter, replicas: int):
        from ray import exceptions as rx

        self.ray = executor.ray
        # what a lost replica looks like (its process or its node died, or its result is gone)
        self.died = (rx.RayActorError, rx.ObjectLostError, rx.WorkerCrashedError, rx.NodeDiedError,
                     rx.ActorPlacementGroupRemoved)
        self.task_error = rx.RayTaskError  # the adapter itself raised
        self.s = executor.settings
        self.log = executor.log
        self.adapter = adapter
        self.replicas = replicas
        self.budget = self.s.max_replica_failures
        if self.budget is None:
            self.budget = max(3, 2 * replicas)
        self.expected = content_hash(_jsonable(replica_identity(adapter)))
        self.remote_cls = self.ray.remote(_Replica).options(
            num_cpus=self.s.cpus_per_replica, num_gpus=self.s.gpus_per_replica or None,
            max_restarts=0, max_task_retries=0)
        self.actors: dict[int, Any] = {}  # replica number -> handle (alive, set up or being set up)
        self.ready: list[int] = []  # set up, accepting work, in order of readiness
        self.busy: dict[int, int] = {}  # replica -> the one batch it is running
        self.setups: dict[Any, int] = {}  # setup ref -> replica
        self.work: dict[Any, tuple[int, int]] = {}  # generate ref -> (replica, batch index)
        self.failures = 0
        self._next_id = 0
        self.batches: list[list[Sample]] = []
        self.pending: deque[int] = deque()

    def spawn(self) -> None:
        rid = self._next_id
        self._next_id += 1
        handle = self.remote_cls.remote(type(self.adapter), self.adapter.model, self.adapter.options)
        self.actors[rid] = handle
        self.setups[handle.setup.remote()] = rid

    def lost(self, rid: int, exc: BaseException) -> None:
        """A replica died (process or node): drop it and start a replacement, within the budget."""
        if rid not in self.actors:
            return  # already replaced (several of its batches fail one by one)
        handle = self.actors.pop(rid)
        if rid in self.ready:
            self.ready.remove(rid)
        try:
            self.ray.kill(handle, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.failures += 1
        reason = _first_line(exc)
        if self.failures > self.budget:
            raise ExecutorError(f"{self.failures} model replicas died (last: {reason}); finished predictions "
                                "are saved, run the same command to resume")
        self.log.warning("harness: replica %d died (%s); starting a replacement (%d of %d allowed)",
                         rid, reason, self.failures, self.budget)
        self.spawn()

    def dispatch(self) -> None:
        for rid in self.ready:
            if self.pending and rid not in self.busy:
                b = self.pending.popleft()
                ref = self.actors[rid].generate.remote(self.batches[b])
                self.work[ref] = (rid, b)
                self.busy[rid] = b

    def start(self) -> None:
        for _ in range(self.replicas):
            self.spawn()
        while not self.ready:  # the first replica's errors (no GPU there, missing file) surface here
            done, _ = self.ray.wait(list(self.setups), num_returns=1)
            self._setup_done(done[0])

    def _setup_done(self, ref) -> None:
        rid = self.setups.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.task_error as exc:  # the adapter refused that machine: same as a local run
            _reraise_cause(exc)
        except self.died as exc:
            if getattr(exc, "actor_init_failed", False):  # e.g. the adapter's module is missing there
                raise BadInput(f"a model replica could not start: {_init_error(exc)} (is the adapter "
                               "importable on every Ray node?)") from None
            self.lost(rid, exc)
            return
        if info["identity"] != self.expected:
            raise BadInput(
                f"replica on {info['host']} would produce a different run spec than this driver "
                f"({_diff(replica_identity(self.adapter), info['detail'])}); make the nodes "
                "match (same files, versions and options)")
        self.ready.append(rid)

    def run(self, batches: list[list[Sample]]) -> Iterator[BatchDone]:
        self.batches = batches
        self.pending: deque[int] = deque(range(len(batches)))
        attempts = [0] * len(batches)
        while self.pending or self.work:
            self.dispatch()
            done, _ = self.ray.wait(list(self.setups) + list(self.work), num_returns=1)
            ref = done[0]
            if ref in self.setups:
                self._setup_done(ref)
                continue
            rid, b = self.work.pop(ref)
            try:
                preds, seconds = self.ray.get(ref)
            except self.task_error as exc:  # the adapter raised: fail as the local executor would
                _reraise_cause(exc)
            except self.died as exc:
                del self.busy[rid]  # the batch it was running when it died: one attempt
                attempts[b] += 1
                if attempts[b] >= self.s.batch_attempts:
                    reason = f"replica died {attempts[b]} times on this batch: {_first_line(exc)}"
                    yield BatchDone(b, [Prediction(sample_id=s.id, error=reason) for s in batches[b]], None)
                else:
                    self.pending.appendleft(b)  # first in line for the next idle replica
                self.lost(rid, exc)
                continue
            del self.busy[rid]
            yield BatchDone(b, preds, seconds)

    def shutdown(self) -> None:
        ray = self.ray
        closing = []
        for rid in self.ready:
            if rid in self.actors:
                closing.append(self.actors[rid].close.remote())
        if closing:
            try:
                ray.wait(closing, num_returns=len(closing), timeout=30)
            except Exception:  # noqa: BLE001 - best effort on the way out
                pass
        for handle in self.actors.values():
            try:
                ray.kill(handle, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        self.actors.clear()


def _reraise_cause(exc: BaseException):
    cause = getattr(exc, "cause", None)
    if isinstance(cause, HarnessError):
        raise cause from None
    raise exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _init_error(exc: BaseException) -> str:
    """The error that stopped an actor's creation (Ray puts it on the message's last line)."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def _diff(a: dict, b: dict) -> str:
    a, b = _jsonable(a), _jsonable(b)
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return "differs in " + ", ".join(keys) if keys else "differs"
