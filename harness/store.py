"""The run store: runs/<model>/<benchmark>/<spec-hash>/ with append-only records.

    spec.json               the frozen RunSpec (its hash names the folder)
    benchmark.json          the declaration of a benchmark that is not built in (a user's YAML)
    predictions.jsonl       one Prediction per line; a sample's last ok record wins. `meta.inputs`
                            says what the model was given: frame indices and timestamps, sampler
                            and clip window, decoded and resized sizes, visual tokens, and the
                            SHA-256 of the exact prompt text
    prompts.jsonl           {"sha256", "prompt"} once per distinct prompt: the text behind each
                            prediction's prompt_sha256 (a run of k visual tokens written TOKEN*k)
    scores/<score-hash>/    one folder per ScoreSpec (metric, protocol, judge):
        score_spec.json, scores.jsonl, result.json
    run.lock                held (flock) by the one process writing this folder
    run.lock.owner          who holds it, while it is held: pid, host, start time

One writer per run folder: `lock()` is held for a whole run (generate and score), a rescore or a
merge. The operating system releases it when its process dies, however it dies, so a killed
run's lock is simply taken by the next one.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from harness.errors import BadInput, validation_summary
from harness.jsonl import LogWriter, read_json_file, read_log, write_json_atomic
from harness.paths import inside, slug
from harness.types import Prediction, Result, RunSpec, SampleScore, ScoreSpec

K = TypeVar("K", bound=Hashable)
LOCK_NAME = "run.lock"
OWNER_NAME = "run.lock.owner"


class RunInUse(BadInput):
    """Another process holds the run folder's lock."""


def pick_predictions(records: Iterable[tuple[K, str, Prediction]], source: str,
                     describe: Callable[[K], str] = str) -> dict[K, Prediction]:
    """The prediction of each sample from (key, where, prediction) in file order.

    A sample's last ok record wins and an error never replaces an ok one (a retry that
    succeeded, or a failed retry of a finished sample). Two ok records with different text are
    two different answers to one question: BadInput naming the samples, never a silent choice.
    """
    out: dict[K, Prediction] = {}
    where_ok: dict[K, list[str]] = {}
    conflicts: list[K] = []
    for key, where, pred in records:
        prev = out.get(key)
        if pred.ok and prev is not None and prev.ok and prev.text != pred.text:
            if key not in conflicts:
                conflicts.append(key)
        if pred.ok:
            where_ok.setdefault(key, []).append(where)
        if pred.ok or prev is None or not prev.ok:
            out[key] = pred
    if conflicts:
        shown = "; ".join(f"{describe(k)} ({', '.join(where_ok[k][:3])})" for k in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise BadInput(f"{source}: conflicting predictions (different answers) for {len(conflicts)} "
                       f"sample(s): {shown}{more}; keep one prediction per sample")
    return out


class RunStore:
    def __init__(self, run_dir: Path, spec: RunSpec):
        self.dir = Path(run_dir)
        self.spec = spec

    @staticmethod
    def path_for(root: str | Path, model_name: str, spec: RunSpec) -> Path:
        """The run's folder under `root` (nothing is created)."""
        # model and benchmark names come from data (a prediction file's name, a spec.json, a
        # user's declaration): slugs, and the folder must stay under the root
        return inside(root, slug(model_name), slug(spec.benchmark), spec.hash())

    @classmethod
    def create(cls, root: str | Path, model_name: str, spec: RunSpec) -> "RunStore":
        run_dir = cls.path_for(root, model_name, spec)
        spec_path = run_dir / "spec.json"
        if spec_path.exists():
            existing = _read_spec(spec_path)
            if existing.hash() != spec.hash():  # never mix two specs in one folder
                raise BadInput(f"{run_dir} holds a different run spec; remove it or choose another --out")
        else:
            write_json_atomic(spec_path, {"model_name": model_name, **spec.model_dump(mode="json")})
        return cls(run_dir, spec)

    @classmethod
    def open(cls, run_dir: str | Path) -> "RunStore":
        run_dir = Path(run_dir)
        spec_path = run_dir / "spec.json"
        if not spec_path.is_file():
            raise BadInput(f"not a run directory (no spec.json): {run_dir}")
        return cls(run_dir, _read_spec(spec_path))

    # -- the benchmark's declaration (user benchmarks; built-in ones come with the harness) -----
    def write_benchmark(self, declaration: dict) -> None:
        write_json_atomic(self.dir / "benchmark.json", declaration)

    def benchmark_declaration(self) -> dict | None:
        path = self.dir / "benchmark.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise BadInput(f"{path}: damaged benchmark declaration (not JSON)") from None
        return data

    @property
    def model_name(self) -> str:
        name = _spec_data(self.dir / "spec.json").get("model_name", self.spec.model)
        return name if isinstance(name, str) and name else self.spec.model

    # -- one writer ----------------------------------------------------------------------
    @contextmanager
    def lock(self) -> Iterator["RunStore"]:
        """Hold the folder's lock (RunInUse at once when another process holds it)."""
        from filelock import FileLock, Timeout

        self.dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.dir / LOCK_NAME))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise RunInUse(f"{self.dir} is in use by another harness process{self._owner()}; let it finish "
                           "(or stop it), then run the same command again: it resumes") from None
        owner = self.dir / OWNER_NAME
        try:
            write_json_atomic(owner, {"pid": os.getpid(), "host": socket.gethostname(),
                                      "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
            yield self
        finally:
            owner.unlink(missing_ok=True)  # while held only (a killed holder's is overwritten by the next)
            lock.release()

    def _owner(self) -> str:
        try:
            who = json.loads((self.dir / OWNER_NAME).read_text(encoding="utf-8"))
            return f" (pid {who['pid']} on {who['host']}, since {who['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    # -- predictions ---------------------------------------------------------------------
    @property
    def predictions_path(self) -> Path:
        return self.dir / "predictions.jsonl"

    def predictions(self) -> dict[str, Prediction]:
        path = self.predictions_path

        def records():
            for n, rec in enumerate(read_log(path), 1):
                pred = _validated(Prediction, rec, f"{path}: record {n}")
                yield pred.sample_id, f"record {n}", pred

        return pick_predictions(records(), str(path))

    def prediction_writer(self) -> LogWriter:
        return LogWriter(self.predictions_path)

    @property
    def prompts_path(self) -> Path:
        return self.dir / "prompts.jsonl"

    def prompts(self) -> dict[str, str]:
        """prompt_sha256 -> prompt text (visual-token runs compacted), for the run's predictions."""
        return {r["sha256"]: r["prompt"] for r in read_log(self.prompts_path) if "sha256" in r}

    def prompt_writer(self) -> LogWriter:
        return LogWriter(self.prompts_path)

    # -- scores --------------------------------------------------------------------------
    def score_dir(self, score_spec: ScoreSpec) -> Path:
        d = self.dir / "scores" / score_spec.hash()
        if not (d / "score_spec.json").exists():
            write_json_atomic(d / "score_spec.json", score_spec.model_dump(mode="json"))
        return d

    def scores(self, score_spec: ScoreSpec) -> dict[str, SampleScore]:
        out: dict[str, SampleScore] = {}
        path = self.score_dir(score_spec) / "scores.jsonl"
        for n, rec in enumerate(read_log(path), 1):
            score = _validated(SampleScore, rec, f"{path}: record {n}")
            out[score.sample_id] = score
        return out

    def score_writer(self, score_spec: ScoreSpec, *, truncate: bool = False) -> LogWriter:
        path = self.score_dir(score_spec) / "scores.jsonl"
        if truncate and path.exists():
            path.unlink()
        return LogWriter(path)

    def write_result(self, score_spec: ScoreSpec, result: Result) -> Path:
        path = self.score_dir(score_spec) / "result.json"
        write_json_atomic(path, result.model_dump(mode="json"))
        return path

    def results(self) -> list[tuple[ScoreSpec, Result]]:
        out = []
        for spec_path in sorted((self.dir / "scores").glob("*/score_spec.json")):
            res_path = spec_path.parent / "result.json"
            if res_path.exists():
                out.append((load_model(ScoreSpec, spec_path), load_model(Result, res_path)))
        return out


def load_model(model, path: Path):
    """A pydantic model from a JSON file we wrote (spec, score spec, result); damage is one line."""
    return _validated(model, read_json_file(path), str(path))


def _validated(model, data, where: str):
    """A pydantic model from data we wrote earlier; a damaged file is one line naming it."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadInput(f"{where}: damaged ({validation_summary(err)}); remove or restore it") from None


def _spec_data(spec_path: Path) -> dict:
    data = read_json_file(spec_path, "spec.json")
    if not isinstance(data, dict):
        raise BadInput(f"{spec_path}: damaged (not a JSON object); remove or restore it")
    return data


def _read_spec(spec_path: Path) -> RunSpec:
    data = dict(_spec_data(spec_path))
    data.pop("model_name", None)
    return _validated(RunSpec, data, str(spec_path))
