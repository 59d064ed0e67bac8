"""A conversation about one input (`harness describe`, `harness chat`, `harness demo`).

Every adapter answers a conversation through `Adapter.chat(media, messages)`: the same frames,
frame cache, prompt building and settings as `harness run`, because chat() hands the adapter one
Sample built here. Its prompt is the first user turn written as a benchmark writes it
(`<video>\\n{text}`), so a one-turn description is the request `harness run` would make for it; the
turns after it travel in `extra["turns"]`, which each adapter's prompt builder appends in the
model's own chat format.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from harness.errors import BadInput
from harness.types import Sample

ROLES = ("user", "assistant")
DEFAULT_INSTRUCTION = "Describe the video in detail."  # the DREAM-1K prompt and Tarsier's quick start


def _natural(name: str) -> list:
    """frame2.png before frame10.png."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def input_sample(path: str | Path) -> Sample:
    """The input as a Sample: a video, GIF or image file, or a folder of frame images (read in name
    order, as a list of frame files). BadInput when it is not there or a folder holds no image."""
    from harness.video import GIF_EXTS, IMAGE_EXTS, VIDEO_EXTS

    p = Path(path).expanduser()
    if not p.exists():
        raise BadInput(f"{p}: no such file or folder")
    extra: dict[str, Any] = {}
    if p.is_dir():
        files = sorted((f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTS),
                       key=lambda f: _natural(f.name))
        if not files:
            raise BadInput(f"{p}: a folder with no image file ({', '.join(sorted(IMAGE_EXTS))}); give a video, "
                           "a GIF, an image or a folder of frames")
        extra["frame_files"] = [str(f) for f in files]
    elif p.suffix.lower() not in VIDEO_EXTS | GIF_EXTS | IMAGE_EXTS:
        raise BadInput(f"{p}: not a video, GIF or image (extension {p.suffix or 'none'}; videos: "
                       f"{', '.join(sorted(VIDEO_EXTS))})")
    return Sample(id=p.name or str(p), benchmark="chat", idx=0, dataset="chat", video=str(p),
                  prompt=f"<video>\n{DEFAULT_INSTRUCTION}", cluster=str(p), extra=extra)


def check_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """user, assistant, user, ... ending with a user turn, each a non-empty text (BadInput otherwise)."""
    if not messages:
        raise BadInput("a conversation needs at least one user message")
    out = []
    for i, m in enumerate(messages):
        role, text = (m.get("role"), m.get("content")) if isinstance(m, dict) else (None, None)
        if role != ROLES[i % 2]:
            raise BadInput(f"message {i + 1}: expected a {ROLES[i % 2]} turn, got {role!r} "
                           "(turns alternate user, assistant, starting with the user)")
        if not isinstance(text, str) or not text.strip():
            raise BadInput(f"message {i + 1}: its content must be non-empty text")
        out.append({"role": role, "content": text})
    if out[-1]["role"] != "user":
        raise BadInput("the conversation must end with a user message (the one to answer)")
    return out


def conversation_sample(media: Sample, messages: list[dict[str, Any]]) -> Sample:
    """The Sample an adapter answers: the input, the first user turn as its prompt, the rest in extra."""
    messages = check_messages(messages)
    extra = dict(media.extra)
    extra.pop("turns", None)
    if len(messages) > 1:
        extra["turns"] = messages[1:]
    return media.model_copy(update={"prompt": f"<video>\n{messages[0]['content']}", "extra": extra})


class TextStream:
    """Where a reply's text goes as the model makes it: each piece once, then what was not streamed
    (a backend that cannot stream, an answer from the cache) in one piece at the end."""

    def __init__(self, on_text: Callable[[str], None] | None):
        self.on_text = on_text
        self.sent = ""

    @property
    def listener(self) -> Callable[[str], None] | None:
        """What a backend hands pieces to, or None when nobody listens (then it need not stream)."""
        return self.put if self.on_text is not None else None

    def put(self, piece: str) -> None:
        if piece and self.on_text is not None:
            self.sent += piece
            self.on_text(piece)

    def finish(self, text: str) -> None:
        if not self.sent.strip():
            self.put(text)


@dataclass
class Transcript:
    """A conversation as `harness chat` saves and loads it (/save FILE, /load FILE)."""

    input: str
    model: str
    messages: list[dict[str, str]] = field(default_factory=list)

    def save(self, path: str | Path) -> Path:
        p = Path(path).expanduser()
        body = {"input": self.input, "model": self.model, "messages": self.messages}
        p.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | Path) -> "Transcript":
        p = Path(path).expanduser()
        try:
            body = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInput(f"{p}: no such file") from None
        except (OSError, ValueError) as exc:
            raise BadInput(f"{p}: not a transcript ({' '.join(str(exc).split())[:120]})") from None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise BadInput(f"{p}: not a transcript (a JSON object with `messages`, as /save writes)")
        messages = body["messages"]
        if len(messages) % 2:  # a saved conversation ends with the model's answer
            raise BadInput(f"{p}: the last message is a question without an answer")
        try:
            check_messages(messages + [{"role": "user", "content": "next"}])
        except BadInput as exc:
            raise BadInput(f"{p}: {exc}") from None
        return cls(input=str(body.get("input") or ""), model=str(body.get("model") or ""), messages=messages)
