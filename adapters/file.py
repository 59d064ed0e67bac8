"""`file:PATH`: replay predictions made elsewhere.

Accepts a Tarsier prediction file (annotation lines plus `text.prediction`, matched on
`dataset` + `idx`), a Tarsier2 prediction file (`messages` lines whose answer slot, the assistant
item with the `reference`, holds the model's text; matched the same way), or one of our own
predictions.jsonl files (`sample_id` + `text`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from harness.adapter import Adapter, AdapterOptions
from harness.annotations import messages_prediction
from harness.errors import BadInput
from harness.jsonl import read_user_jsonl
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
        self._by_key: dict[tuple[str, str], str] | None = None
        self._by_id: dict[str, Prediction] | None = None

    @property
    def name(self) -> str:
        return self.options.display_name or f"file:{self.path.stem}"

    def spec_fields(self) -> dict[str, Any]:
        return {"model_revision": self.sha256[:12], "backend": self.backend,
                "generation": {"file_sha256": self.sha256}}

    def load(self) -> None:
        rows = read_user_jsonl(self.path)
        self._by_key, self._by_id = {}, {}
        n_messages = n_empty = 0
        for lineno, row in enumerate(rows, 1):
            if "sample_id" in row:
                try:
                    pred = Prediction.model_validate(row)
                except ValueError as exc:
                    raise BadInput(f"{self.path}:{lineno}: not a prediction record ({exc.errors()[0]['msg']})") from None
                self._by_id[pred.sample_id] = pred
            elif isinstance(row.get("text"), dict) and "prediction" in row["text"]:
                key = (str(row.get("dataset")), str(row.get("idx")))
                self._by_key[key] = str(row["text"]["prediction"])
            elif isinstance(row.get("messages"), list):
                text = messages_prediction(row)
                if not isinstance(text, str):
                    raise BadInput(f"{self.path}:{lineno}: messages: the assistant's answer slot (the item with "
                                   "the reference) holds no text to read as the prediction")
                self._by_key[(str(row.get("dataset")), str(row.get("idx")))] = text
                n_messages += 1
                n_empty += not text
            else:
                raise BadInput(
                    f"{self.path}:{lineno}: neither a Tarsier prediction line (text.prediction), a Tarsier2 "
                    "prediction line (messages) nor a harness prediction (sample_id, text)"
                )
        if n_messages and n_empty == n_messages:
            raise BadInput(f"{self.path}: every answer slot is empty: an annotation file, not predictions?")

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        assert self._by_key is not None and self._by_id is not None
        out = []
        for s in samples:
            if s.id in self._by_id:
                replay = self._by_id[s.id]
                out.append(replay.model_copy(update={"meta": {**replay.meta, "replayed_from": str(self.path)}}))
            elif (s.dataset, str(s.idx)) in self._by_key:
                out.append(Prediction(sample_id=s.id, text=self._by_key[(s.dataset, str(s.idx))]))
            else:
                out.append(Prediction(sample_id=s.id, error=f"missing: no prediction for {s.dataset} idx {s.idx} in {self.path.name}"))
        return out
