"""The chat screen (the conversation and the workers that call the service) and the source viewer."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Header, Static

from qa.errors import QAError
from qa.models import CorpusInfo, Response
from qa.textsafe import one_line
from qa.tui.export import write_markdown
from qa.tui.messages import (
    AnswerFailed,
    AnswerReady,
    AnswerSelected,
    IndexProgress,
    QuestionSent,
    ServiceFailed,
    ServiceReady,
    SourceFailed,
    SourceLoaded,
    SourceRef,
    SourceRequested,
)
from qa.tui.palette import ChatCommands
from qa.tui.render import corpus_summary, lines_label, source_view
from qa.tui.widgets import AnswerCard, ChatLog, ErrorLine, EvidencePanel, QuestionBubble, QuestionInput, StatusBar

if TYPE_CHECKING:
    from qa.service import Service

ServiceFactory = Callable[[], "Service"]
T = TypeVar("T")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Failure:
    title: str
    message: str


def _guarded(call: Callable[[], T]) -> T | _Failure:
    """Run ``call`` at a worker boundary: a QAError becomes its title and message; anything else is logged."""
    try:
        return call()
    except QAError as exc:
        return _Failure(exc.title, exc.message)
    except Exception as exc:  # the worker boundary: log it, show one line, keep the app alive
        _log.exception("unexpected error in a chat worker")
        return _Failure("Unexpected error", f"{type(exc).__name__}: {exc}")


class ChatScreen(Screen[None]):
    """Questions go into a queue and are answered one at a time, once the service is ready."""

    AUTO_FOCUS = "#question"
    COMMANDS = {ChatCommands}
    BINDINGS = [
        Binding("ctrl+n", "new_chat", "New chat"),
        Binding("ctrl+t", "toggle_evidence", "Evidence"),
        Binding("ctrl+o", "open_citation", "Open source"),
        Binding("ctrl+s", "export", "Export"),
        Binding("escape", "focus_question", "Back to question", show=False),
    ]

    def __init__(self, service_factory: ServiceFactory, corpus: str, export_dir: Path) -> None:
        super().__init__()
        self._factory = service_factory
        self._corpus = corpus
        self._export_dir = export_dir
        self._service: Service | None = None
        self._info: CorpusInfo | None = None
        self._loading = False
        self._progress: tuple[str, int, int] | None = None
        self._failure: str | None = None
        self._asking = False
        self._queue: deque[str] = deque()
        self._history: list[str] = []
        self._responses: list[Response] = []
        self._chat = 0
        self._selected: AnswerCard | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="body"):
            yield ChatLog(id="chat")
            yield EvidencePanel(id="evidence")
        yield StatusBar(id="status")
        yield QuestionInput(id="question", placeholder="Ask a question about the articles and press Enter")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"{one_line(self._corpus)} · loading…"
        self._loading = True
        self._show_status()
        self.call_after_refresh(self._load, False, None)  # after the first paint

    # --- the service ------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="service")
    def _load(self, rebuild: bool, service: Service | None) -> None:
        """Create the service (the real factory imports QAService here, off the UI thread) and prepare it."""

        def progress(stage: str, done: int, total: int) -> None:
            self.post_message(IndexProgress(stage, done, total))

        ready = _guarded(self._factory) if service is None else service
        if isinstance(ready, _Failure):
            self.post_message(ServiceFailed(None, ready.title, ready.message))
            return
        result = _guarded(lambda: (ready.rebuild(progress) if rebuild else ready.prepare(progress), ready.info()))
        if isinstance(result, _Failure):
            self.post_message(ServiceFailed(ready, result.title, result.message))
        else:
            self.post_message(ServiceReady(ready, result[1], result[0], rebuild))

    def on_index_progress(self, message: IndexProgress) -> None:
        self._progress = (message.stage, message.done, message.total)
        self._show_status()

    def on_service_ready(self, message: ServiceReady) -> None:
        self._service, self._info = message.service, message.info
        self._loading, self._progress, self._failure = False, None, None
        self.sub_title = corpus_summary(message.info)
        if message.rebuilt:
            report = message.report
            done = f"{report.files_indexed} files, {report.chunks} chunks in {report.seconds:.1f} s"
            self.notify(f"Index rebuilt: {done}", title="Index", markup=False)
        self._show_status()
        self._next()

    async def on_service_failed(self, message: ServiceFailed) -> None:
        self._service, self._info = message.service, None
        self._loading, self._progress = False, None
        self._failure = f"{message.title}: {message.message}"
        self.sub_title = f"{one_line(self._corpus)} · not loaded"
        await self._report(message.title, message.message)
        if self._queue:
            self._restore(self._queue[0])
            self._queue.clear()
        self._show_status()

    def _show_status(self) -> None:
        waiting = f" · {len(self._queue)} question(s) waiting" if self._queue else ""
        status = self.query_one(StatusBar)
        if self._loading:
            stage, done, total = self._progress or ("", 0, 0)
            step = f" {stage} {done}/{total}" if total else ""
            status.show(f"Loading the model and the index…{step}{waiting}", progress=(done, total) if total else None)
        elif self._failure:
            status.show(f"{self._failure} — fix it, then run “Rebuild index” (ctrl+p).", error=True)
        elif self._asking:
            status.show(f"Answering…{waiting}")
        else:
            status.show("Ready.")

    # --- questions and answers ----------------------------------------------------------

    async def on_question_sent(self, message: QuestionSent) -> None:
        await self._add(QuestionBubble(message.question))
        if self._failure and not self._loading:
            await self._report("Not answered", "the index is not loaded (see the status line)")
            self._restore(message.question)
            return
        self._queue.append(message.question)
        self._next()
        self._show_status()

    def _next(self) -> None:
        if self._asking or self._loading or not self._queue or self._service is None or self._info is None:
            return
        question = self._queue.popleft()
        self._asking = True
        self._ask(self._service, self._chat, question, tuple(self._history))
        self._show_status()

    @work(thread=True, exclusive=True, group="ask")
    def _ask(self, service: Service, chat: int, question: str, history: Sequence[str]) -> None:
        result = _guarded(lambda: service.ask(question, history))
        if isinstance(result, _Failure):
            self.post_message(AnswerFailed(chat, question, result.title, result.message))
        else:
            self.post_message(AnswerReady(chat, question, result))

    async def on_answer_ready(self, message: AnswerReady) -> None:
        self._asking = False
        if message.chat == self._chat:
            self._history.append(message.question)
            self._responses.append(message.response)
            card = AnswerCard(message.response)
            await self._add(card)
            await self._select(card)
        self._show_status()
        self._next()

    async def on_answer_failed(self, message: AnswerFailed) -> None:
        self._asking = False
        if message.chat == self._chat:
            await self._report(message.title, message.message)
            self._restore(message.question)
        self._show_status()
        self._next()

    async def on_answer_selected(self, message: AnswerSelected) -> None:
        card = next((c for c in self.query(AnswerCard) if c.response is message.response), None)
        if card is not None and card is not self._selected:
            await self._select(card)

    async def _select(self, card: AnswerCard) -> None:
        for other in self.query(AnswerCard):
            other.set_class(other is card, "-selected")
        self._selected = card
        await self.query_one(EvidencePanel).show(card.response)

    async def _add(self, widget: Widget) -> None:
        await self.query_one(ChatLog).mount(widget)

    async def _report(self, title: str, message: str) -> None:
        """The one place errors are shown: a line in the chat and a notification."""
        await self._add(ErrorLine(title, message))
        self.notify(one_line(message), title=one_line(title), severity="error", markup=False)

    def _restore(self, question: str) -> None:
        """Put a question that was not answered back into the input (unless the user is typing another)."""
        field = self.query_one(QuestionInput)
        if not field.value:
            field.value = question
            field.cursor_position = len(question)

    # --- sources ------------------------------------------------------------------------

    def on_source_requested(self, message: SourceRequested) -> None:
        if self._service is None:
            self.notify("The index is still loading; try again in a moment.", severity="warning", markup=False)
            return
        self._read_source(self._service, message.ref)

    @work(thread=True, exclusive=True, group="source")
    def _read_source(self, service: Service, ref: SourceRef) -> None:
        result = _guarded(lambda: service.read_source(ref.source))
        if isinstance(result, _Failure):
            self.post_message(SourceFailed(result.title, result.message))
        else:
            self.post_message(SourceLoaded(ref, result))

    def on_source_loaded(self, message: SourceLoaded) -> None:
        self.app.push_screen(SourceScreen(message.ref, message.text))

    def on_source_failed(self, message: SourceFailed) -> None:
        self.notify(one_line(message.message), title=one_line(message.title), severity="error", markup=False)

    # --- actions ------------------------------------------------------------------------

    async def action_new_chat(self) -> None:
        self._chat += 1
        self._history.clear()
        self._responses.clear()
        self._queue.clear()
        self._selected = None
        await self.query_one(ChatLog).clear()
        await self.query_one(EvidencePanel).show(None)
        self._show_status()
        self.query_one(QuestionInput).focus()

    def action_toggle_evidence(self) -> None:
        self.toggle_class("-evidence")

    def action_focus_question(self) -> None:
        self.query_one(QuestionInput).focus()

    def action_open_citation(self) -> None:
        response = self._selected.response if self._selected else None
        ref: SourceRef | None = None
        if response is not None and response.answer is not None:
            answer = response.answer
            ref = SourceRef(answer.source, answer.sentence_start, answer.sentence_end, (answer.start, answer.end))
        elif response is not None and response.passages:
            passage = response.passages[0]
            ref = SourceRef(passage.source, passage.start, passage.end)
        if ref is None:
            self.notify("No answer with a source is selected.", severity="warning", markup=False)
        else:
            self.post_message(SourceRequested(ref))

    def action_export(self) -> None:
        if not self._responses:
            self.notify("Nothing to export yet: ask a question first.", severity="warning", markup=False)
            return
        try:
            path = write_markdown(self._responses, self._info, self._export_dir)
        except OSError as exc:
            self.notify(one_line(str(exc)), title="Export failed", severity="error", markup=False)
            return
        self.notify(f"Saved the chat to {one_line(str(path))}", title="Exported", markup=False)

    def action_rebuild(self) -> None:
        if self._loading:
            self.notify("The index is already loading.", severity="warning", markup=False)
        elif self._asking:
            self.notify("Wait for the current answer, then rebuild.", severity="warning", markup=False)
        else:
            self._loading, self._failure, self._progress = True, None, None
            self._show_status()
            self._load(True, self._service)


class SourceScreen(Screen[None]):
    """A corpus file, scrolled to the cited lines, with the span highlighted. Escape returns to the chat."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back to chat"),
        Binding("q", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, ref: SourceRef, text: str) -> None:
        super().__init__()
        self.ref = ref
        self.view = source_view(text, ref.start, ref.end, ref.highlight)

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="source"):
            if self.view.before is not None:
                yield Static(self.view.before, markup=False, classes="lines")
            yield Static(self.view.cited, markup=False, id="cited", classes="lines")
            if self.view.after is not None:
                yield Static(self.view.after, markup=False, classes="lines")
        yield Footer()

    def on_mount(self) -> None:
        view = self.view
        lines = lines_label(view.line_start, view.line_end)
        self.title = one_line(self.ref.source)
        self.sub_title = lines if view.exact else f"{lines} · the file changed since it was indexed"
        self.call_after_refresh(self._scroll_to_citation)

    def _scroll_to_citation(self) -> None:
        self.query_one("#source", VerticalScroll).scroll_to_center(self.query_one("#cited"), animate=False)
