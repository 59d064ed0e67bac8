"""`harness chat INPUT --model M`: a conversation about one video, GIF, image or folder of frames in the
terminal. Each question goes to the model with the conversation so far, in the model's own chat format (API
models get it as messages); answers stream where the backend can. Commands: /clear (start again, same
input), /load FILE (a saved conversation), /save FILE (the transcript as JSON), /quit."""

from __future__ import annotations

from harness.cli.help import examples

import sys

from harness.cli.model_session import add_model_arguments, frames_line, open_model, read_input
from harness.conversation import Transcript
from harness.errors import BadInput

EPILOG = examples("harness chat clip.mp4 --model tarsier-7b   # then: you> What is the man doing?  you> /save talk.json")

HELP = "commands: /clear (forget the conversation), /load FILE, /save FILE (JSON transcript), /quit"


def add_parser(sub) -> None:
    p = sub.add_parser("chat", help="talk with a model about one video, GIF, image or folder of frames",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("input", metavar="INPUT", help="a video, a GIF, an image, or a folder of frame images")
    add_model_arguments(p)
    p.set_defaults(handler=run)


class Session:
    """The conversation so far and the commands that change it."""

    def __init__(self, adapter, path: str):
        self.adapter = adapter
        self.path = path
        self.media, self.frames = read_input(adapter, path)
        self.messages: list[dict[str, str]] = []

    def command(self, line: str) -> bool:
        """Run a /command; False on /quit."""
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name in ("/quit", "/exit"):
            return False
        if name == "/clear":
            self.messages = []
            say("conversation cleared")
        elif name == "/save" and arg:
            try:
                where = Transcript(self.path, self.adapter.name, self.messages).save(arg)
            except OSError as exc:
                raise BadInput(f"cannot write {arg}: {exc.strerror or exc}") from None
            say(f"saved {len(self.messages) // 2} turns to {where}")
        elif name == "/load" and arg:
            self.load(arg)
        else:
            say(HELP)
        return True

    def load(self, file: str) -> None:
        t = Transcript.load(file)
        if t.input and t.input != self.path:
            self.media, self.frames = read_input(self.adapter, t.input)
            self.path = t.input
            say(f"input: {self.path}: {frames_line(self.frames)}")
        if t.model and t.model != self.adapter.name:
            say(f"saved with {t.model}; {self.adapter.name} continues it")
        self.messages = t.messages
        say(f"loaded {len(self.messages) // 2} turns from {file}")

    def ask(self, question: str) -> None:
        """One turn: the answer printed as it comes; the turn kept only when answered."""
        asked = self.messages + [{"role": "user", "content": question}]
        sys.stdout.write(f"{self.adapter.name}> ")
        sys.stdout.flush()
        pred = self.adapter.chat(self.media, asked, on_text=_write)
        if not pred.ok:
            print()
            say(f"no answer: {pred.error}; ask again, or /quit")
            return
        print(flush=True)
        self.messages = asked + [{"role": "assistant", "content": pred.text}]


def _write(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def say(text: str) -> None:
    print(f"harness: {text}", file=sys.stderr, flush=True)


def run(args) -> int:
    adapter = open_model(args)
    try:
        session = Session(adapter, args.input)
        say(f"{adapter.name} sees {args.input}: {frames_line(session.frames)}. {HELP}")
        _loop(session)
    finally:
        adapter.close()
    return 0


def _loop(session: Session) -> None:
    try:
        import readline  # noqa: F401 - line editing and history for input(), where the platform has it
    except ImportError:
        pass
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the prompt: the end of the chat
            print()
            return
        if not line:
            continue
        if line.startswith("/"):
            try:
                if not session.command(line):
                    return
            except BadInput as exc:  # a file that is not there or not a transcript: say so, keep talking
                say(str(exc))
            continue
        try:
            session.ask(line)
        except KeyboardInterrupt:  # Ctrl-C during an answer: that turn is dropped, the chat goes on
            print()
            say("answer interrupted; the question is not kept")
