"""The chat's life cycle as messages. Workers post them; the chat screen handles them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

from qa.models import BuildReport, CorpusInfo, Response

if TYPE_CHECKING:
    from qa.service import Service


@dataclass(frozen=True)
class SourceRef:
    """A place to show in the source viewer: the cited range and the span to highlight inside it."""

    source: str
    start: int
    end: int
    highlight: tuple[int, int] | None = None
    """Offsets of the span to highlight (the answer or the value a source gives); None: the whole range."""


@dataclass
class QuestionSent(Message):
    question: str


@dataclass
class AnswerReady(Message):
    chat: int
    question: str
    response: Response


@dataclass
class AnswerFailed(Message):
    chat: int
    question: str
    title: str
    message: str


@dataclass
class AnswerSelected(Message):
    response: Response


@dataclass
class IndexProgress(Message):
    stage: str
    done: int
    total: int


@dataclass
class ServiceReady(Message):
    service: Service
    info: CorpusInfo
    report: BuildReport
    rebuilt: bool


@dataclass
class ServiceFailed(Message):
    service: Service | None
    title: str
    message: str


@dataclass
class SourceRequested(Message):
    ref: SourceRef


@dataclass
class SourceLoaded(Message):
    ref: SourceRef
    text: str


@dataclass
class SourceFailed(Message):
    title: str
    message: str
