"""Rich ``Text`` builders for corpus and user text.

Every string from a corpus file or from the user goes through ``qa.textsafe.visible``
and into a ``Text`` object, never through markup parsing, so ``[bold]`` or an ESC
shows as the characters it is. Highlights are built from pieces
(visible(before) + styled visible(span) + visible(after)) because ``visible``
changes lengths.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.table import Table
from rich.text import Text

from qa.models import Answer, CorpusInfo
from qa.textsafe import one_line, visible

HIGHLIGHT = Style(bold=True, reverse=True)
"""The answer span, in the chat and in the source viewer (reverse reads in any theme)."""


def literal(text: str, style: str | Style = "") -> Text:
    return Text(visible(text), style=style)


def highlighted(text: str, start: int, end: int, style: Style = HIGHLIGHT) -> Text:
    """``text`` with ``text[start:end]`` styled; offsets are clamped to the text."""
    start = max(0, min(start, len(text)))
    end = max(start, min(end, len(text)))
    return Text.assemble(visible(text[:start]), (visible(text[start:end]), style), visible(text[end:]))


def answer_in_sentence(answer: Answer) -> Text:
    """The answer's sentence with the answer span highlighted, located by offsets (by search as a fallback)."""
    start = answer.start - answer.sentence_start
    end = answer.end - answer.sentence_start
    if not (0 <= start <= end <= len(answer.sentence) and answer.sentence[start:end] == answer.text):
        start = answer.sentence.find(answer.text)
        end = start + len(answer.text)
    if start < 0:
        return Text.assemble((visible(answer.text), HIGHLIGHT), " — ", visible(answer.sentence))
    return highlighted(answer.sentence, start, end)


def lines_label(line_start: int, line_end: int) -> str:
    return f"line {line_start}" if line_end <= line_start else f"lines {line_start}–{line_end}"


def location(source: str, line_start: int, line_end: int) -> str:
    return f"{one_line(source)}, {lines_label(line_start, line_end)}"


def corpus_summary(info: CorpusInfo) -> str:
    return one_line(f"{info.corpus} · {info.files} files · {info.chunks} chunks · model {info.model}")


def line_of(text: str, offset: int) -> int:
    """1-based line holding ``text[offset]``."""
    return text.count("\n", 0, max(0, min(offset, len(text)))) + 1


def _clamp(text: str, start: int, end: int) -> tuple[int, int]:
    start = max(0, min(start, len(text)))
    return start, max(start, min(end, len(text)))


@dataclass(frozen=True)
class SourceView:
    """A corpus file cut into three numbered blocks: before, the cited lines, after."""

    before: Table | None
    cited: Table
    after: Table | None
    line_start: int
    line_end: int
    exact: bool
    """False when the offsets fall outside the file (it changed since it was indexed)."""


def source_view(text: str, start: int, end: int, highlight: tuple[int, int] | None = None) -> SourceView:
    """Number the lines of ``text``, cut out the lines of ``[start, end)``, highlight ``highlight`` (or that range)."""
    hl_start, hl_end = highlight or (start, end)
    exact = 0 <= start <= end <= len(text) and 0 <= hl_start <= hl_end <= len(text)
    start, end = _clamp(text, start, end)
    hl_start, hl_end = _clamp(text, hl_start, hl_end)
    first = line_of(text, min(start, hl_start))
    last = line_of(text, max(start, end - 1, hl_end - 1))
    rows: list[Text] = []
    offset = 0
    for line in text.split("\n"):
        a, b = hl_start - offset, hl_end - offset
        rows.append(highlighted(line, a, b) if a < len(line) and b > 0 and a < b else literal(line))
        offset += len(line) + 1
    width = len(str(len(rows)))

    def block(lo: int, hi: int) -> Table | None:  # 1-based, inclusive
        if lo > hi:
            return None
        table = Table.grid(expand=True, padding=(0, 1))
        table.add_column(justify="right", style="dim", no_wrap=True, width=width)
        table.add_column(ratio=1, overflow="fold")
        for number in range(lo, hi + 1):
            table.add_row(str(number), rows[number - 1])
        return table

    cited = block(first, last)
    assert cited is not None
    return SourceView(block(1, first - 1), cited, block(last + 1, len(rows)), first, last, exact)
