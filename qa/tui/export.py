"""The chat as Markdown: questions, answers with their citations, disagreements and closest passages.

Corpus and user text cannot inject anything: control characters are escaped by
``visible()``; the characters that open links, images, HTML, code spans, emphasis,
headings and tables are backslash-escaped, as are list and setext markers at the
start of a line; quoted text sits in quote blocks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from qa.models import TENTATIVE, Citation, CorpusInfo, Response
from qa.textsafe import one_line, visible
from qa.tui.render import lines_label

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~&])")
_LINE_MARKER = re.compile(r"^(\s*)([-+=]|\d+(?=[.)]))")


def _escape(line: str) -> str:
    line = _SPECIAL.sub(r"\\\1", line)
    marker = _LINE_MARKER.match(line)
    if marker is None:
        return line
    if marker.group(2)[0].isdigit():  # "1. item" -> "1\. item"
        return line[: marker.end()] + "\\" + line[marker.end() :]
    return f"{marker.group(1)}\\{line[marker.end(1) :]}"


def md(text: str) -> str:
    """One line of untrusted text, safe as Markdown inline content."""
    return _escape(one_line(text))


def quote(text: str) -> str:
    """Untrusted text as a Markdown quote block, line breaks kept."""
    return "\n".join(f"> {_escape(line)}".rstrip() for line in visible(text).split("\n"))


def _where(source: str, line_start: int, line_end: int) -> str:
    return f"{md(source)}, {lines_label(line_start, line_end)}"


def _citation(citation: Citation) -> str:
    return f"- {_where(citation.source, citation.line_start, citation.line_end)}: “{md(citation.text)}”"


def _response(number: int, response: Response) -> list[str]:
    out = [f"## Question {number}", "", md(response.question), ""]
    out += [f"*Note: {md(notice)}*\n" for notice in response.notices]
    answer = response.answer
    if response.status != "declined" and answer is not None:
        label = f"*{TENTATIVE}.* **Possible answer:**" if response.status == "tentative" else "**Answer:**"
        out += [f"{label} {md(answer.text)}", "", quote(answer.sentence), ""]
        if response.total_sources:
            out += [f"Reported by {response.supporting_sources} of {response.total_sources} sources.", ""]
        out += ["Sources:", "", *map(_citation, response.citations), ""]
    else:
        out += [f"**{md(response.message or 'No answer in the corpus')}**", ""]
        if response.passages:
            out += ["Closest passages:", ""]
            out += [
                f"- {_where(p.source, p.line_start, p.line_end)} (score {p.score:.2f}): “{md(p.text)}”"
                for p in response.passages
            ]
            out.append("")
    if response.conflicts:
        out += ["Sources disagree:", ""]
        for conflict in response.conflicts:
            out.append(f"- “{md(conflict.value)}”: {', '.join(md(source) for source in conflict.sources)}")
            out += [f"  {_citation(citation)}" for citation in conflict.citations]
        out.append("")
    return out


def to_markdown(responses: Sequence[Response], info: CorpusInfo | None, when: datetime) -> str:
    out = ["# qa chat", "", f"Exported {when:%Y-%m-%d %H:%M:%S}."]
    if info is not None:
        out.append(f"Corpus: {md(info.corpus)}, {info.files} files, {info.chunks} chunks; model {md(info.model)}.")
    out.append("")
    for number, response in enumerate(responses, 1):
        out += _response(number, response)
    return "\n".join(out).rstrip() + "\n"


def write_markdown(responses: Sequence[Response], info: CorpusInfo | None, directory: Path) -> Path:
    """Write a new ``qa-chat-YYYYmmdd-HHMMSS.md`` in ``directory`` (never overwriting) and return its path."""
    when = datetime.now()
    text = to_markdown(responses, info, when)
    stem = f"qa-chat-{when:%Y%m%d-%H%M%S}"
    for attempt in range(100):
        path = directory / (f"{stem}.md" if attempt == 0 else f"{stem}-{attempt}.md")
        try:
            with path.open("x", encoding="utf-8") as file:
                file.write(text)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{directory / stem}.md and 99 numbered variants exist")
