"""The run store: runs/<model>/<benchmark>/<spec-hash>/ with append-only records.

    spec.json               the frozen RunSpec (its hash names the folder)
    benchmark.json          the declaration of a benchmark that is not built in (a user's YAML)
    predictions.jsonl       one Prediction per line; the last record of a sample wins
    scores/<score-hash>/    one folder per ScoreSpec (metric, protocol, judge):
        score_spec.json, scores.jsonl, result.json
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from harness.errors import BadInput
from harness.jsonl import LogWriter, read_log, write_json_atomic
from harness.types import Prediction, Result, RunSpec, SampleScore, ScoreSpec


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"


class RunStore:
    def __init__(self, run_dir: Path, spec: RunSpec):
        self.dir = Path(run_dir)
        self.spec = spec

    @classmethod
    def create(cls, root: str | Path, model_name: str, spec: RunSpec) -> "RunStore":
        run_dir = Path(root) / slug(model_name) / spec.benchmark / spec.hash()
        spec_path = run_dir / "spec.json"
        if spec_path.exists():
            existing = RunSpec.model_validate_json(spec_path.read_text())
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
        data = json.loads(spec_path.read_text())
        data.pop("model_name", None)
        return cls(run_dir, RunSpec.model_validate(data))

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
        return json.loads((self.dir / "spec.json").read_text()).get("model_name", self.spec.model)

    # -- predictions ---------------------------------------------------------------------
    @property
    def predictions_path(self) -> Path:
        return self.dir / "predictions.jsonl"

    def predictions(self) -> dict[str, Prediction]:
        out: dict[str, Prediction] = {}
        for rec in read_log(self.predictions_path):
            pred = Prediction.model_validate(rec)
            # an ok prediction is never replaced by a later error record
            if pred.ok or pred.sample_id not in out or not out[pred.sample_id].ok:
                out[pred.sample_id] = pred
        return out

    def prediction_writer(self) -> LogWriter:
        return LogWriter(self.predictions_path)

    # -- scores --------------------------------------------------------------------------
    def score_dir(self, score_spec: ScoreSpec) -> Path:
        d = self.dir / "scores" / score_spec.hash()
        if not (d / "score_spec.json").exists():
            write_json_atomic(d / "score_spec.json", score_spec.model_dump(mode="json"))
        return d

    def scores(self, score_spec: ScoreSpec) -> dict[str, SampleScore]:
        out: dict[str, SampleScore] = {}
        for rec in read_log(self.score_dir(score_spec) / "scores.jsonl"):
            score = SampleScore.model_validate(rec)
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
                out.append((ScoreSpec.model_validate_json(spec_path.read_text()),
                            Result.model_validate_json(res_path.read_text())))
        return out
