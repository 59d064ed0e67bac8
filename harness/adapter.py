"""The adapter interface: frames + text in, text out. One adapter per model family.

An adapter is constructed cheaply (no weights loaded) so the run spec, and hence the run
directory, can be known before any heavy work; `load()` does the heavy part on first use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from harness.errors import BadInput
from harness.types import MAX_FRAMES, FrameSpec, Prediction, Sample

if TYPE_CHECKING:
    from harness.conversation import TextStream
    from harness.settings import Environment


@dataclass
class AdapterOptions:
    """What the CLI knows about the model the user asked for."""

    model_path: str | None = None
    revision: str | None = None
    device: str | None = None
    backend: str | None = None
    base_url: str | None = None
    frames: int | None = None
    batch_size: int | None = None
    max_new_tokens: int | None = None
    concurrency: int = 16
    detail: str | None = None
    cache_dir: str | None = None
    display_name: str | None = None
    profile: dict[str, Any] | None = None  # harness.adapters.profiles label: the id, and what was overridden
    protocol: str = "strict"  # the run's --protocol: "tarsier" makes generic models load clips as Tarsier-1 did
    extra: dict[str, Any] = field(default_factory=dict)
    # the environment, read once by the CLI (credentials, cache root, API timeouts); None: read it when needed
    env: "Environment | None" = None

    def environment(self) -> "Environment":
        from harness.settings import Environment

        return self.env if self.env is not None else Environment.load()


def frame_count(model: str, asked: int | None, default: int, maximum: int) -> int:
    """--frames, or the model's default when not given (0 is not "not given"), within [1, maximum]."""
    n = default if asked is None else asked
    if n < 1:
        raise BadInput(f"--frames must be at least 1, got {n}")
    if n > maximum:
        raise BadInput(f"--frames {n}: {model} takes at most {maximum} frames (what its context holds)")
    return n


class Adapter:
    # Shown by `harness list models`.
    family: ClassVar[str] = ""
    needs: ClassVar[str] = ""
    needs_video: ClassVar[bool] = True
    backend: str = "none"
    stream: "TextStream | None" = None  # during chat(): where the reply's text goes as it is made

    def __init__(self, model: str, options: AdapterOptions):
        self.model = model
        self.options = options
        self.frames = FrameSpec(n_frames=frame_count(model, options.frames, 8, MAX_FRAMES))
        self.batch_size = options.batch_size or 1

    @property
    def name(self) -> str:
        """Name runs are filed under and the leaderboard shows."""
        return self.options.display_name or self.model

    def spec_fields(self) -> dict[str, Any]:
        """Fields of the RunSpec this adapter determines (revision, backend, settings)."""
        return {"model_revision": self.options.revision, "backend": self.backend, "generation": {}}

    def check(self) -> None:
        """Fail fast with BadInput when the model cannot run here (no GPU, no weights, no key)."""

    def load(self) -> None:
        """Load weights or open clients; called once before the first batch."""

    def generate(self, samples: list[Sample]) -> list[Prediction]:
        """One batch. A sample that fails gets a Prediction with `error`, never an exception."""
        raise NotImplementedError

    def chat(self, media: Sample, messages: list[dict[str, str]],
             on_text: Callable[[str], None] | None = None) -> Prediction:
        """One reply in a conversation about one input (`harness describe`, `chat`, `demo`).

        media: the input (harness.conversation.input_sample: a video, GIF, image or folder of frames);
        messages: [{"role": "user" | "assistant", "content": text}, ...], alternating, ending with the
        user turn to answer; the input goes with the first user turn. on_text receives the reply as it
        is made (token by token where the backend streams; else whole, once). The reply is generate()'s
        for one sample (harness.conversation.conversation_sample), so frames, cache, prompt and
        settings are those of `harness run`. A failure is a Prediction with `error`, as in generate().
        """
        from harness.conversation import TextStream, conversation_sample

        if not self.needs_video:
            raise BadInput(f"{self.model} replays predictions made elsewhere; it cannot answer a conversation")
        sample = conversation_sample(media, messages)
        stream = TextStream(on_text)
        self.stream = stream
        try:
            preds = self.generate([sample])
        finally:
            self.stream = None
        pred = next((p for p in preds if p.sample_id == sample.id), None)
        if pred is None:
            return Prediction(sample_id=sample.id, error="generation: the model gave no answer")
        if pred.ok:
            stream.finish(pred.text)
        return pred

    def close(self) -> None:
        """Release what load() took (uploaded files, clients)."""
