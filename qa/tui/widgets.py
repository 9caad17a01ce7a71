"""The chat's widgets. They display what they are given and post messages; none of them calls the service."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, ProgressBar, Static

from qa.models import TENTATIVE, Answer, Citation, Passage, Response
from qa.textsafe import one_line
from qa.tui.messages import AnswerSelected, QuestionSent, SourceRef, SourceRequested
from qa.tui.render import answer_in_sentence, literal, location

WELCOME = (
    "Ask a question about the articles. Answers quote the corpus and cite their sources.\n"
    "Tab moves between citations, Enter or a click opens one; ctrl+p lists every command."
)


class SourceLink(Static, can_focus=True):
    """A reference to a place in a corpus file; Enter or a click opens it in the source viewer."""

    BINDINGS = [Binding("enter", "open", "Open source")]

    def __init__(self, ref: SourceRef, label: Text) -> None:
        super().__init__(label, markup=False)
        self.ref = ref

    @classmethod
    def for_citation(cls, citation: Citation, answer: Answer | None = None) -> SourceLink:
        label = Text.assemble(
            ("▸ ", "dim"),
            (location(citation.source, citation.line_start, citation.line_end), "bold"),
            "  ",
            (one_line(citation.text), "italic"),
        )
        return cls(SourceRef(citation.source, citation.start, citation.end, _highlight(citation, answer)), label)

    @classmethod
    def for_passage(cls, passage: Passage, rank: int) -> SourceLink:
        label = Text.assemble(
            (f"{rank}. ", "dim"),
            (location(passage.source, passage.line_start, passage.line_end), "bold"),
            (f"  score {passage.score:.2f}", "dim"),
        )
        return cls(SourceRef(passage.source, passage.start, passage.end), label)

    def action_open(self) -> None:
        self.post_message(SourceRequested(self.ref))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.action_open()


def _highlight(citation: Citation, answer: Answer | None) -> tuple[int, int] | None:
    """The answer when the citation holds it, else the value this source gives, else None (the whole citation)."""
    if answer is not None and answer.source == citation.source:
        if citation.start <= answer.start <= answer.end <= citation.end:
            return answer.start, answer.end
    if citation.value:
        found = citation.text.find(citation.value)
        if found >= 0:
            return citation.start + found, citation.start + found + len(citation.value)
    return None


class QuestionBubble(Static):
    def __init__(self, question: str) -> None:
        super().__init__(Text.assemble(("You  ", "bold"), literal(question)), markup=False)


class ErrorLine(Static):
    def __init__(self, title: str, message: str) -> None:
        super().__init__(Text.assemble((f"⚠ {one_line(title)}: ", "bold"), one_line(message)), markup=False)


class AnswerCard(Widget):
    """One response: the answer in its sentence and its sources, or the no-answer state with the closest passages."""

    _STATES = {"answered": ("-answered", "Answer"), "tentative": ("-tentative", "Possible answer"),
               "declined": ("-no-answer", "No answer")}

    def __init__(self, response: Response) -> None:
        shown = response.status if response.answer is not None else "declined"
        css, title = self._STATES[shown]
        super().__init__(classes=css)
        self.response = response
        self.border_title = title

    def compose(self) -> ComposeResult:
        response = self.response
        for notice in response.notices:
            yield Static(Text(f"⚠ {one_line(notice)}"), markup=False, classes="notice")
        answer = response.answer
        if response.status != "declined" and answer is not None:
            if response.status == "tentative":
                yield Static(Text(TENTATIVE), markup=False, classes="tentative-note")
            yield Static(literal(answer.text), markup=False, classes="value")
            yield Static(answer_in_sentence(answer), markup=False, classes="sentence")
            if response.total_sources:
                reported = f"Reported by {response.supporting_sources} of {response.total_sources} sources"
                yield Static(Text(f"{reported} · confidence {answer.score:.0%}"), markup=False, classes="meta")
            in_conflicts = {(c.source, c.start, c.end) for k in response.conflicts for c in k.citations}
            for citation in response.citations:  # those under "Sources disagree" are listed there
                if (citation.source, citation.start, citation.end) not in in_conflicts:
                    yield SourceLink.for_citation(citation, answer)
        else:
            yield Static(literal(response.message or "No answer in the corpus"), markup=False, classes="value")
            if response.passages:
                yield Static("Closest passages:", markup=False, classes="meta")
            for rank, passage in enumerate(response.passages, 1):
                yield SourceLink.for_passage(passage, rank)
        if response.conflicts:
            yield Static("Sources disagree:", markup=False, classes="conflict-title")
            for conflict in response.conflicts:
                sources = ", ".join(one_line(source) for source in conflict.sources)
                value = Text.assemble(("“", "dim"), (one_line(conflict.value), "bold"), ("” — ", "dim"), sources)
                yield Static(value, markup=False, classes="conflict")
                for citation in conflict.citations:
                    yield SourceLink.for_citation(citation, answer).add_class("conflict-source")

    def on_click(self) -> None:
        self.post_message(AnswerSelected(self.response))

    def on_descendant_focus(self) -> None:
        self.post_message(AnswerSelected(self.response))


class ChatLog(VerticalScroll):
    """Questions and answers, anchored to the bottom."""

    def compose(self) -> ComposeResult:
        yield Static(WELCOME, markup=False, classes="welcome")

    def on_mount(self) -> None:
        self.anchor()

    async def clear(self) -> None:
        await self.remove_children()
        await self.mount_compose(self.compose())


class EvidencePanel(VerticalScroll):
    """The passages retrieved for the selected answer, with their scores and sources."""

    def compose(self) -> ComposeResult:
        yield Static("Ask a question to see the passages behind its answer.", markup=False)

    async def show(self, response: Response | None) -> None:
        await self.remove_children()
        if response is None:
            await self.mount_compose(self.compose())
            return
        query = Text.assemble(("Retrieved for  ", "bold"), literal(response.query or response.question))
        widgets: list[Widget] = [Static(query, markup=False, classes="query")]
        for rank, passage in enumerate(response.passages, 1):
            widgets.append(SourceLink.for_passage(passage, rank))
            widgets.append(Static(literal(passage.text), markup=False, classes="passage"))
        if not response.passages:
            widgets.append(Static("No passages were retrieved.", markup=False))
        await self.mount_all(widgets)


class StatusBar(Horizontal):
    """One line: what the app is doing, with a progress bar while the index loads."""

    def compose(self) -> ComposeResult:
        yield Static("Starting…", markup=False, id="status-text")
        yield ProgressBar(show_eta=False, id="status-progress")

    def show(self, text: str, *, error: bool = False, progress: tuple[int, int] | None = None) -> None:
        self.query_one("#status-text", Static).update(Text(one_line(text)))
        self.set_class(error, "-error")
        bar = self.query_one(ProgressBar)
        bar.display = progress is not None
        if progress is not None:
            bar.update(total=max(progress[1], 1), progress=progress[0])


class QuestionInput(Input):
    """The question line: Enter sends, Up/Down recall earlier questions."""

    BINDINGS = [
        Binding("up", "recall(-1)", "Previous question", show=False),
        Binding("down", "recall(1)", "Next question", show=False),
    ]

    def __init__(self, **kwargs: str) -> None:
        super().__init__(**kwargs)
        self._asked: list[str] = []
        self._position = 0
        self._draft = ""

    async def action_submit(self) -> None:
        question = self.value.strip()
        if not question:
            return
        if not self._asked or self._asked[-1] != question:
            self._asked.append(question)
        self._position = len(self._asked)
        self.value = ""
        self.post_message(QuestionSent(question))

    def action_recall(self, step: int) -> None:
        if self._position == len(self._asked):
            self._draft = self.value
        position = max(0, min(len(self._asked), self._position + step))
        if position == self._position:
            return
        self._position = position
        self.value = self._asked[position] if position < len(self._asked) else self._draft
        self.cursor_position = len(self.value)
