"""A deterministic stand-in for ``qa.service.QAService`` that answers from the real seed files.

Every offset and line number is computed from the file text with ``str.find``, so
``text[start:end] == span`` holds as it does for the real service.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from qa.errors import CorpusError
from qa.models import Answer, BuildReport, Citation, Conflict, CorpusInfo, Passage, Response
from qa.service import Progress

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
DOCUMENTS: dict[str, str] = {path.name: path.read_text(encoding="utf-8-sig") for path in sorted(SEEDS.glob("*.txt"))}

ZININ_FILE = "002_5a7fdab8de9f5a87.txt"
ZININ_SENTENCE = (
    "In the attack in the Siberian city of Ust-Ilimsk, 25-year-old resident Ruslan Zinin walked into the "
    'enlistment office saying "no one will go to fight" and "we will all go home now," according to local media.'
)
OTHER_FILE = "003_fe46f044fe634529.txt"
OTHER_SENTENCE = (
    "Mobile phone footage caught part of the moment when the 25-year-old shooter named Ruslan Zinin walked to "
    "the recruiting officer and started firing at him at close range."
)
EXODUS_FILE = "000_1e59f56b4bd2b559.txt"
EXODUS_SENTENCE = (
    "The exile offshoot of Russia's Novaya Gazeta, citing a source in the presidential administration, "
    "reported that 261,000 men left Russia between Putin's mobilization announcement and last Saturday evening."
)
FLEE_SENTENCE = "It caused more than 260,000 military-aged males to flee the country within five days"

# A corpus file that tries to inject markup and terminal escapes; the fake serves it next to the seeds.
EVIL_FILE = "evil[bold].txt"
EVIL_ANSWER = "[@click=app.quit]quit[/]"
EVIL_SENTENCE = (
    f"The code word is [bold]red[/bold] {EVIL_ANSWER} [link=file:///etc/passwd]pw[/link] "
    "\x1b[2J\x1b]52;c;aGVsbG8=\x07\x1b]8;;http://evil.example\x1b\\here\x1b]8;;\x1b\\ end."
)
EVIL_TEXT = f"A harmless first line.\n{EVIL_SENTENCE}\nA harmless last line.\n"
DOCUMENTS[EVIL_FILE] = EVIL_TEXT

INFO = CorpusInfo(corpus="seeds", index_dir="index", files=3, chunks=14, sentences=96, model="fake-model")


def _locate(source: str, needle: str) -> tuple[int, int, int, int]:
    """start, end, line_start, line_end of ``needle`` in ``source`` (which must contain it)."""
    text = DOCUMENTS[source]
    start = text.find(needle)
    if start < 0:
        raise ValueError(f"{needle!r} is not in {source}")
    end = start + len(needle)
    return start, end, text.count("\n", 0, start) + 1, text.count("\n", 0, end - 1) + 1


def citation(source: str, sentence: str, value: str | None = None) -> Citation:
    start, end, line_start, line_end = _locate(source, sentence)
    return Citation(
        source=source, start=start, end=end, line_start=line_start, line_end=line_end, text=sentence, value=value
    )


def passage(source: str, text: str, score: float) -> Passage:
    start, end, line_start, line_end = _locate(source, text)
    return Passage(
        source=source, start=start, end=end, line_start=line_start, line_end=line_end, score=score, text=text
    )


def answer(source: str, sentence: str, text: str, score: float) -> Answer:
    sentence_start, sentence_end, _, _ = _locate(source, sentence)
    start = sentence_start + sentence.index(text)
    line = DOCUMENTS[source].count("\n", 0, start) + 1
    return Answer(
        text=text, sentence=sentence, source=source, start=start, end=start + len(text), line=line,
        score=score, sentence_start=sentence_start, sentence_end=sentence_end,
    )


def zinin_response(question: str) -> Response:
    return Response(
        question=question,
        answered=True,
        answer=answer(ZININ_FILE, ZININ_SENTENCE, "Ruslan Zinin", 0.91),
        citations=[
            citation(ZININ_FILE, ZININ_SENTENCE, "Ruslan Zinin"),
            citation(OTHER_FILE, OTHER_SENTENCE, "Ruslan Zinin"),
        ],
        passages=[
            passage(ZININ_FILE, ZININ_SENTENCE, 0.83),
            passage(OTHER_FILE, OTHER_SENTENCE, 0.79),
            passage(EXODUS_FILE, EXODUS_SENTENCE, 0.31),
        ],
        supporting_sources=2,
        total_sources=3,
        query=question,
    )


def conflict_response(question: str) -> Response:
    exodus = citation(EXODUS_FILE, EXODUS_SENTENCE, "261,000")
    flee = citation(OTHER_FILE, FLEE_SENTENCE, "more than 260,000")
    return Response(
        question=question,
        answered=True,
        answer=answer(EXODUS_FILE, EXODUS_SENTENCE, "261,000", 0.64),
        citations=[exodus, flee],
        conflicts=[
            Conflict(value="261,000", sources=[EXODUS_FILE], citations=[exodus]),
            Conflict(value="more than 260,000", sources=[OTHER_FILE], citations=[flee]),
        ],
        passages=[passage(EXODUS_FILE, EXODUS_SENTENCE, 0.77), passage(OTHER_FILE, FLEE_SENTENCE, 0.74)],
        supporting_sources=1,
        total_sources=3,
        query=question,
    )


def evil_response(question: str) -> Response:
    return Response(
        question=question,
        answered=True,
        answer=answer(EVIL_FILE, EVIL_SENTENCE, EVIL_ANSWER, 0.88),
        citations=[citation(EVIL_FILE, EVIL_SENTENCE, EVIL_ANSWER)],
        passages=[passage(EVIL_FILE, EVIL_SENTENCE, 0.88)],
        supporting_sources=1,
        total_sources=4,
        query=question,
    )


def tentative_response(question: str) -> Response:
    """The best candidate below the answer threshold: shown, marked as low confidence."""
    return Response(
        question=question,
        answered=False,
        status="tentative",
        answer=answer(OTHER_FILE, OTHER_SENTENCE, "25-year-old", 0.41),
        citations=[citation(OTHER_FILE, OTHER_SENTENCE, "25-year-old")],
        passages=[passage(OTHER_FILE, OTHER_SENTENCE, 0.52), passage(ZININ_FILE, ZININ_SENTENCE, 0.47)],
        supporting_sources=1,
        total_sources=3,
        message="Possible answer — low confidence · Reported by 1 of 3 sources",
        confidence=0.41,
        query=question,
    )


def no_answer_response(question: str) -> Response:
    return Response(
        question=question,
        answered=False,
        passages=[passage(OTHER_FILE, OTHER_SENTENCE, 0.22), passage(EXODUS_FILE, EXODUS_SENTENCE, 0.18)],
        total_sources=3,
        message="No answer in the corpus",
        notices=["Question truncated to 60 characters"] if len(question) > 60 else [],
        query=question[:60],
    )


def respond(question: str) -> Response:
    """Route a question to a canned response by keyword."""
    lowered = question.lower()
    if "code word" in lowered:
        return evil_response(question)
    if "how many" in lowered:
        return conflict_response(question)
    if "how old" in lowered:
        return tentative_response(question)
    if "shot" in lowered or "shooter" in lowered or "his name" in lowered:
        return zinin_response(question)
    return no_answer_response(question)


class FakeService:
    """Implements the ``qa.service.Service`` protocol. Failures are configurable; every call is recorded."""

    def __init__(
        self,
        *,
        prepare_error: Exception | None = None,
        ask_errors: Sequence[Exception] = (),
        read_error: Exception | None = None,
        gate: threading.Event | None = None,
    ) -> None:
        self.prepare_error = prepare_error
        self.ask_errors = list(ask_errors)
        self.read_error = read_error
        self.gate = gate
        self.asked: list[tuple[str, tuple[str, ...]]] = []
        self.rebuilds = 0

    def _build(self, progress: Progress | None, full: bool) -> BuildReport:
        if self.gate is not None and not self.gate.wait(timeout=10):
            raise TimeoutError("the test never opened the gate")
        for done in range(1, INFO.files + 1):
            if progress is not None:
                progress("files", done, INFO.files)
        if self.prepare_error is not None:
            raise self.prepare_error
        return BuildReport(files_indexed=INFO.files, chunks=INFO.chunks, sentences=INFO.sentences, full_rebuild=full)

    def prepare(self, progress: Progress | None = None) -> BuildReport:
        return self._build(progress, full=False)

    def rebuild(self, progress: Progress | None = None) -> BuildReport:
        self.rebuilds += 1
        self.prepare_error = None
        return self._build(progress, full=True)

    def info(self) -> CorpusInfo:
        return INFO

    def ask(self, question: str, history: Sequence[str] = ()) -> Response:
        self.asked.append((question, tuple(history)))
        if self.ask_errors:
            raise self.ask_errors.pop(0)
        return respond(question)

    def read_source(self, source: str) -> str:
        if self.read_error is not None:
            raise self.read_error
        if source not in DOCUMENTS:
            raise CorpusError(f"no file {source!r} in the corpus")
        return DOCUMENTS[source]
