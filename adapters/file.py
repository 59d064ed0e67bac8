"""`file:PATH`: replay predictions made elsewhere.

Accepts a Tarsier prediction file (annotation lines plus `text.prediction`, matched on
`dataset` + `idx`), a Tarsier2 prediction file (`messages` lines whose answer slot, the assistant
item with the `reference`, holds the model's text; matched the same way), or one of our own
predictions.jsonl files (`sample_id` + `text`).

A prediction is text. `null` is a missing prediction (the sample is counted as failed with that
reason, never scored as the text "None"); anything else that is not a string is refused with its
line. Several lines for one sample are fine when they agree (or when errors precede the answer,
as in our own logs); two different answers for one sample are refused, naming the samples.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.adapter import Adapter, AdapterOptions
from harness.annotations import messages_prediction
from harness.errors import BadInput, validation_summary
from harness.jsonl import iter_user_jsonl
from harness.store import pick_predictions
from harness.types import Prediction, Sample


class FileAdapter(Adapter):
    family = "replay"
    needs = "a prediction file"
    needs_video = False
    backend = "file"

    def __init__(self, model: str, options: AdapterOptions):
        super().__init__(model, options)
        self.path = Path(model.split(":", 1)[1])
        if not self.path.is_file():
            raise BadInput(f"prediction file not found: {self.path}; pass --model file:PATH to an existing file")
        self.sha256 = hashlib.sha256(self.path.read_bytes()).hexdigest()
        self._by_key: dict[tuple[str, str], Prediction] | None = None
        self._by_id: dict[str, Prediction] | None = None

    @property
    def name(self) -> str:
        return self.options.display_name or f"file:{self.path.stem}"

    def spec_fields(self) -> dict[str, Any]:
        return {"model_revision": self.sha256[:12], "backend": self.backend,
                "generation": {"file_sha256": self.sha256}}

    def load(self) -> None:
        by_key: list[tuple[tuple[str, str], str, Prediction]] = []
        by_id: list[tuple[str, str, Prediction]] = []
        n_messages = n_empty = 0
        for lineno, row in iter_user_jsonl(self.path):
            if "sample_id" in row:
                pred = self._harness_record(row, lineno)
                by_id.append((pred.sample_id, f"line {lineno}", pred))
            elif isinstance(row.get("text"), dict) and "prediction" in row["text"]:
                by_key.append((self._tarsier_key(row, lineno), f"line {lineno}",
                               self._tarsier_prediction(row["text"]["prediction"], lineno)))
            elif isinstance(row.get("messages"), list):
                pred = self._tarsier_prediction(messages_prediction(row), lineno)
                by_key.append((self._tarsier_key(row, lineno), f"line {lineno}", pred))
                n_messages += 1
                n_empty += not pred.text
            else:
                raise BadInput(
                    f"{self.path}:{lineno}: neither a Tarsier prediction line (text.prediction), a Tarsier2 "
                    "prediction line (messages) nor a harness prediction (sample_id, text)"
                )
        if n_messages and n_empty == n_messages:
            raise BadInput(f"{self.path}: every answer slot is empty: an annotation file, not predictions?")
        self._by_id = pick_predictions(by_id, str(self.path))
        self._by_key = pick_predictions(by_key, str(self.path), describe=lambda k: f"{k[0]} idx {k[1]}")

    def _missing(self, lineno: int) -> str:
        return f"missing: the prediction is null in {self.path.name} line {lineno}"

    def _harness_record(self, row: dict[str, Any], lineno: int) -> Prediction:
        try:
            pred = Prediction.model_validate(row)
        except ValueError as exc:
            raise BadInput(f"{self.path}:{lineno}: not a prediction record ({validation_summary(exc)})") from None
        if pred.text is None and pred.error is None:
            pred = pred.model_copy(update={"error": self._missing(lineno)})
        return pred

    def _tarsier_key(self, row: dict[str, Any], lineno: int) -> tuple[str, str]:
        dataset, idx = row.get("dataset"), row.get("idx")
        if not isinstance(dataset, str) or isinstance(idx, bool) or not isinstance(idx, (int, str)):
            raise BadInput(f"{self.path}:{lineno}: a Tarsier prediction line needs `dataset` (text) and "
                           f"`idx` (an integer or text) to match its sample")
        return dataset, str(idx)

    def _tarsier_prediction(self, value: Any, lineno: int) -> Prediction:
        if value is None:
            return Prediction(sample_id="", error=self._missing(lineno))
        if not isinstance(value, str):
            raise BadInput(f"{self.path}:{lineno}: text.prediction must be text (or null for a missing "
                           f"prediction), not {type(value).__name__}")
        return Prediction(sample_id="", text=value)

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        assert self._by_key is not None and self._by_id is not None
        out = []
        for s in samples:
            if s.id in self._by_id:
                replay = self._by_id[s.id]
                out.append(replay.model_copy(update={"meta": {**replay.meta, "replayed_from": str(self.path)}}))
            elif (s.dataset, str(s.idx)) in self._by_key:
                out.append(self._by_key[(s.dataset, str(s.idx))].model_copy(update={"sample_id": s.id}))
            else:
                out.append(Prediction(sample_id=s.id, error=f"missing: no prediction for {s.dataset} idx {s.idx} in {self.path.name}"))
        return out
