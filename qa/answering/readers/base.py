"""What every span reader takes and returns. Readers see passages, never citations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PassageText:
    """A piece of a corpus file given to a reader: ``file_text[start:start + len(text)] == text``."""

    source: str
    start: int
    text: str


@dataclass(frozen=True, slots=True)
class ReaderSpan:
    passage: int
    """Index into the passages given to ``read``."""
    start: int
    """File offset of the span's first character."""
    end: int
    text: str
    """Verbatim: the passage's text between ``start`` and ``end`` (file offsets)."""
    score: float
    """The reader's span score (start + end logit): comparable across passages of one question."""
    null: float
    """The no-answer score of the window the span was read in, in the same units."""

    @property
    def margin(self) -> float:
        """How far the span beats 'no answer' in its own window."""
        return self.score - self.null


@dataclass(frozen=True, slots=True)
class ReaderOutput:
    spans: tuple[ReaderSpan, ...]
    """Best first, at most a few per passage."""
    null: float
    """The strongest no-answer score over all windows read."""


class SpanReader(Protocol):
    name: str
    """Identifies the reader (and its calibration)."""

    def warm_up(self) -> None: ...

    def read(self, question: str, passages: Sequence[PassageText]) -> ReaderOutput: ...
