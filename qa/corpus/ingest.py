"""Read the corpus, split it into sentences and chunks, keep exact offsets.

Invariant: for every sentence and chunk ``document.text[x.start:x.end] == x.text``.
Offsets index the decoded text of the file (UTF-8, a leading BOM removed, line
endings kept as they are); line numbers count ``\\n`` and are 1-based.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from syntok import segmenter

from qa.errors import CorpusError
from qa.models import Document, SkippedFile

SUFFIXES = (".txt", ".md")
BOM = "\ufeff"

CountTokens = Callable[[Sequence[str]], list[int]]


@dataclass(frozen=True, slots=True)
class FileRef:
    """A corpus file found by :func:`list_files`: its path relative to the corpus and on disk."""

    source: str
    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Piece:
    """A sentence or chunk before it is numbered into the index tables."""

    start: int
    end: int
    line_start: int
    line_end: int
    text: str
    paragraph: int = 0
    sentence_start: int = 0  # for chunks: local index of the first sentence
    sentence_end: int = 0
    n_tokens: int = 0


def list_files(corpus: Path) -> tuple[list[FileRef], list[SkippedFile]]:
    """Every .txt/.md file under ``corpus``, recursively, sorted by relative path.

    Symlinks are followed only when they resolve inside the corpus folder; links
    out of it, broken links and directory loops are reported as skipped.
    """
    if not corpus.exists():
        raise CorpusError(f"corpus folder {corpus} does not exist")
    if not corpus.is_dir():
        raise CorpusError(f"corpus {corpus} is not a folder")
    root = corpus.resolve()
    found: list[FileRef] = []
    skipped: list[SkippedFile] = []
    seen_dirs: set[Path] = set()

    def walk(folder: Path, rel: str) -> None:
        real = folder.resolve()
        if real in seen_dirs:
            skipped.append(SkippedFile(source=rel or ".", reason="symlink loop"))
            return
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedFile(source=rel or ".", reason=f"unreadable folder ({exc.strerror})"))
            return
        for entry in entries:
            name = f"{rel}/{entry.name}" if rel else entry.name
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                try:
                    target = path.resolve(strict=True)
                except (OSError, RuntimeError):
                    skipped.append(SkippedFile(source=name, reason="broken symlink or symlink loop"))
                    continue
                if not target.is_relative_to(root):
                    if target.is_dir() or target.suffix.lower() in SUFFIXES:
                        skipped.append(SkippedFile(source=name, reason="symlink points outside the corpus"))
                    continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                walk(path, name)
            elif entry.name.lower().endswith(SUFFIXES):
                try:
                    st = path.stat()
                except OSError as exc:
                    skipped.append(SkippedFile(source=name, reason=f"cannot stat ({exc.strerror})"))
                    continue
                found.append(FileRef(source=name, path=path, size=st.st_size, mtime_ns=st.st_mtime_ns))

    walk(corpus, "")
    found.sort(key=lambda f: f.source)
    return found, skipped


def decode(data: bytes) -> str:
    """Decode a corpus file's bytes; raise ValueError with a short reason when it is not text."""
    if not data:
        raise ValueError("empty file")
    if b"\x00" in data[:8192] or b"\x00" in data:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not valid UTF-8 (byte {exc.start})") from None
    if text.startswith(BOM):
        text = text[1:]
    if not text.strip():
        raise ValueError("no text (only whitespace)")
    return text


def read_document(ref: FileRef, max_bytes: int | None = None) -> Document:
    """Read and decode one file. Raises ValueError (reason) for files to skip."""
    if max_bytes is not None and ref.size > max_bytes:
        raise ValueError(f"too large ({ref.size / 1e6:.1f} MB > {max_bytes / 1e6:.1f} MB limit, index.max_file_mb)")
    try:
        data = ref.path.read_bytes()
    except FileNotFoundError:
        raise ValueError("deleted while reading") from None
    except OSError as exc:
        raise ValueError(f"unreadable ({exc.strerror or exc})") from None
    text = decode(data)
    return Document(
        source=ref.source,
        text=text,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        mtime_ns=ref.mtime_ns,
    )


class LineIndex:
    """Offset -> 1-based line number, by binary search over newline positions."""

    def __init__(self, text: str) -> None:
        self._newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def split_sentences(text: str) -> list[Piece]:
    """Sentences with exact offsets, from syntok's segmenter (paragraphs split on blank lines).

    Each sentence runs from its first token to the end of its last token, so it
    never starts or ends with white space.
    """
    lines = LineIndex(text)
    out: list[Piece] = []
    for p_no, paragraph in enumerate(_paragraphs(text)):
        for sentence in paragraph:
            first, last = sentence[0], sentence[-1]
            start = first.offset
            end = last.offset + len(last.value)
            if end <= start or not text[start:end].strip():
                continue
            # syntok ends a sentence without final punctuation with an empty token placed after the
            # trailing white space, and counts some str.isspace() characters (\x1c-\x1f) as text.
            while text[start].isspace():
                start += 1
            while text[end - 1].isspace():
                end -= 1
            line_start = lines.line(start)
            line_end = lines.line(end - 1)
            out.append(Piece(start, end, line_start, line_end, text[start:end], paragraph=p_no))
    return out


def _paragraphs(text: str) -> Iterator[list]:
    # syntok treats "\r" inconsistently; analyze() keeps offsets into the string it is given.
    yield from segmenter.analyze(text)


def chunk_sentences(
    text: str,
    sentences: Sequence[Piece],
    n_tokens: Sequence[int],
    max_tokens: int,
    overlap: int,
) -> list[Piece]:
    """Greedy runs of whole sentences within ``max_tokens``; ``overlap`` sentences repeat.

    A chunk that is already half full closes at a paragraph break, so chunks follow
    the article's structure where they can. A sentence longer than the budget is
    a chunk of its own (the model truncates it when embedding).
    """
    if not sentences:
        return []
    lines = LineIndex(text)
    chunks: list[Piece] = []
    i = 0
    n = len(sentences)
    while i < n:
        j = i
        used = 0
        while j < n:
            cost = n_tokens[j]
            if j > i and used + cost > max_tokens:
                break
            if j > i and sentences[j].paragraph != sentences[j - 1].paragraph and used >= max_tokens // 2:
                break
            used += cost
            j += 1
        start, end = sentences[i].start, sentences[j - 1].end
        chunks.append(
            Piece(
                start,
                end,
                lines.line(start),
                lines.line(end - 1),
                text[start:end],
                paragraph=sentences[i].paragraph,
                sentence_start=i,
                sentence_end=j,
                n_tokens=used,
            )
        )
        if j >= n:
            break
        i = max(j - overlap, i + 1)
    return chunks
