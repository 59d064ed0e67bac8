"""`harness demo --model M`: a web page (Gradio) to upload a video, GIF or image, see the frames the model
receives, ask about it in turns, and clear. The model is loaded once, with the settings `harness run` would use.
Bound to 127.0.0.1 unless --host says otherwise; uploads are size-limited and read by content; the model's
answers are shown as text, never as HTML; a bad upload is a message on the page and the demo keeps running."""

from __future__ import annotations

from harness.cli.help import examples

import html
import queue
import sys
import threading
from pathlib import Path
from typing import Any

from harness.cli.model_session import add_model_arguments, frames_line, open_model, read_input
from harness.cli.numbers import count
from harness.conversation import DEFAULT_INSTRUCTION
from harness.errors import BadInput, HarnessError

EPILOG = examples("harness demo --model tarsier-7b                      # then open http://127.0.0.1:7860",
                  "harness demo --model gpt-4o --port 8080 --max-upload-mb 50")

UPLOAD_TYPES = [".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".png", ".jpg", ".jpeg", ".webp", ".bmp"]
THUMB_WIDTH = 320  # frames shown on the page are scaled down to this width (the model gets them full size)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="a web page to talk with a model about an uploaded video, GIF or image",
                       description=__doc__, epilog=EPILOG)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 opens it to the "
                        "network, with no login)")
    p.add_argument("--port", type=count(1, 65535), default=7860, help="port to listen on (default: 7860)")
    p.add_argument("--max-upload-mb", type=count(1), default=200,
                   help="largest upload accepted, in MB (default: 200)")
    add_model_arguments(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    from harness.adapters._base import require

    require(("gradio",), "harness demo", "demo")
    adapter = open_model(args)
    try:
        page = Demo(adapter, args.max_upload_mb).page()
        if args.host not in LOCAL_HOSTS:
            print(f"harness: the demo listens on {args.host}: anyone who can reach this machine can use the model "
                  "(no login)", file=sys.stderr)
        print(f"harness: demo of {adapter.name} on http://{args.host}:{args.port} (Ctrl-C stops it)", file=sys.stderr)
        page.queue(default_concurrency_limit=1).launch(
            server_name=args.host, server_port=args.port, max_file_size=f"{args.max_upload_mb}mb",
            show_error=True, quiet=True)
    finally:
        adapter.close()
    return 0


def shown(text: str) -> str:
    """A text as the page shows it: escaped (never HTML), line breaks kept."""
    return html.escape(text).replace("\n", "<br>")


class Demo:
    """The page's handlers. One model for every visitor, one request at a time (concurrency_id 'model');
    each visitor's input and conversation live in their own gr.State."""

    def __init__(self, adapter, max_upload_mb: int):
        self.adapter = adapter
        self.max_bytes = max_upload_mb * 2**20

    # -- handlers --------------------------------------------------------------------------
    def upload(self, path: str | None, state: dict[str, Any]):
        """A new input: its frames shown, the conversation started afresh. A bad file is a message, and the
        upload box is emptied for the next one."""
        if not path:
            return None, [], "Upload a video, GIF or image.", [], {}
        name = Path(path).name
        try:
            size = Path(path).stat().st_size
            if size > self.max_bytes:
                raise BadInput(f"{name} is {size / 2**20:.0f} MB; the limit is {self.max_bytes // 2**20} MB")
            media, frames = read_input(self.adapter, path)
        except (HarnessError, OSError) as exc:
            return None, [], f"Could not use {name}: {_reason(exc)}. Upload another file.", [], {}
        gallery = self.thumbnails(frames)
        status = f"{name}: {self.adapter.name} sees {frames_line(frames)}. Ask a question."
        return path, gallery, status, [], {"path": media.video, "messages": []}

    def ask(self, question: str, state: dict[str, Any]):
        """One turn, streamed into the conversation as the model writes it."""
        question = (question or "").strip() or (DEFAULT_INSTRUCTION if not state.get("messages") else "")
        if not state.get("path"):
            yield _display([]), "Upload a video, GIF or image first.", state, question
            return
        if not question:
            yield _display(state["messages"]), "Type a question.", state, ""
            return
        from harness.conversation import input_sample

        asked = state["messages"] + [{"role": "user", "content": question}]
        pieces: queue.Queue = queue.Queue()
        done: dict[str, Any] = {}

        def work():
            try:
                done["pred"] = self.adapter.chat(input_sample(state["path"]), asked, on_text=pieces.put)
            except Exception as exc:  # noqa: BLE001 - shown on the page; the demo keeps running
                done["error"] = _reason(exc)
            pieces.put(None)

        threading.Thread(target=work, daemon=True).start()
        text = ""
        while (piece := pieces.get()) is not None:
            text += piece
            yield _display(asked + [{"role": "assistant", "content": text}]), "Answering ...", state, ""
        pred = done.get("pred")
        if pred is None or not pred.ok:
            reason = done.get("error") or (pred.error if pred is not None else "no answer")
            yield _display(state["messages"]), f"No answer: {reason}", state, question
            return
        state = {**state, "messages": asked + [{"role": "assistant", "content": pred.text}]}
        turns = len(state["messages"]) // 2
        yield _display(state["messages"]), f"{turns} turn{'s' * (turns != 1)}. Ask more, or Clear.", state, ""

    @staticmethod
    def clear():
        return None, [], [], "Cleared. Upload a video, GIF or image.", {}, ""

    def thumbnails(self, frames) -> list[tuple[Any, str]]:
        if frames is None:
            return []
        out = []
        for i, (img, index, t) in enumerate(zip(frames.images, frames.indices, frames.timestamps)):
            small = img if img.width <= THUMB_WIDTH else img.resize(
                (THUMB_WIDTH, max(1, round(img.height * THUMB_WIDTH / img.width))))
            out.append((small, f"frame {i}: index {index}" + (f", {t:.2f} s" if t is not None else "")))
        return out

    # -- the page --------------------------------------------------------------------------
    def page(self):
        import gradio as gr

        with gr.Blocks(analytics_enabled=False, title=f"harness demo: {self.adapter.name}") as page:
            gr.Markdown(f"### {html.escape(self.adapter.name)}: upload a video, GIF or image, then ask about it")
            state = gr.State({})
            with gr.Row():
                with gr.Column(scale=1):
                    upload = gr.File(label="Video, GIF or image", file_types=UPLOAD_TYPES, type="filepath",
                                     elem_id="upload")
                    gallery = gr.Gallery(label="Frames the model receives", columns=4, height=320, elem_id="frames")
                with gr.Column(scale=2):
                    chat = gr.Chatbot(label="Conversation", render_markdown=False, sanitize_html=True,
                                      latex_delimiters=[], height=420, elem_id="chat")
                    question = gr.Textbox(label="Question", placeholder=DEFAULT_INSTRUCTION, elem_id="question")
                    with gr.Row():
                        send = gr.Button("Send", variant="primary", elem_id="send")
                        clear = gr.Button("Clear", elem_id="clear")
                    status = gr.Textbox(label="Status", interactive=False, value="Upload a video, GIF or image.",
                                        elem_id="status")
            model = {"concurrency_id": "model", "concurrency_limit": 1}
            upload.upload(self.upload, [upload, state], [upload, gallery, status, chat, state], **model)
            for trigger in (send.click, question.submit):
                trigger(self.ask, [question, state], [chat, status, state, question], **model)
            clear.click(self.clear, None, [upload, gallery, chat, status, state, question], **model)
        return page


def _display(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": shown(m["content"])} for m in messages]


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, HarnessError) else getattr(exc, "strerror", None) or str(exc)
    return " ".join(text.split())[:300] or type(exc).__name__
