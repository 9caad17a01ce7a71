"""Corpus edge cases: every odd file is either indexed with exact offsets or skipped with a
one-line reason, and the other files are indexed all the same.

Documented behaviour (README "How it works"): files that are binary, not UTF-8, empty, too
large (``index.max_file_mb``) or unreadable are skipped with a one-line reason; symlinks out
of the corpus and symlink loops are not followed; a leading BOM is removed and line endings
are kept, so ``read_source(f)[start:end] == text`` and line numbers count ``\\n``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from helpers_reliability import assert_one_line_error, hashing_settings, run_qa

from qa.corpus.ingest import FileRef, list_files, read_document, split_sentences
from qa.errors import CorpusError
from qa.index import folder as store
from qa.index.build import refresh
from qa.runtime.embedder import HashingEmbedder
from qa.service import QAService

GOOD = "The lighthouse keeper of Carrick Point is Moira Dunne.\n\nShe has kept the light since 1998.\n"
BOM_TEXT = "The ferry to Inishbeg leaves at seven o'clock.\nTickets cost twelve euro.\n"
CRLF_TEXT = (
    "Harbour news from Kilmore.\r\n"
    "The regatta was cancelled because of the storm.\r\n"
    "\r\n"
    "The new pier was designed by Aoife Byrne.\r\n"
    "It opened in May.\r\n"
)


def _write_bad_files(corpus: Path, outside: Path) -> dict[str, str]:
    """Write one file of each kind to skip; return {source: pattern of its skip reason}."""
    (corpus / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00 looks like a zip file \x00\x01\x02")
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 au lait co\u00fbte tr\u00e8s cher.".encode("latin-1"))
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("   \n\t\n\r\n")
    with (corpus / "huge.txt").open("wb") as fh:  # a sparse 50 MB file: instant, no disk used
        fh.truncate(50_000_000)
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "no-such-file.txt")
    outside.mkdir()
    (outside / "secret.txt").write_text("The launch code is 0000. It is a secret outside the corpus.\n")
    (corpus / "outside.txt").symlink_to(outside / "secret.txt")
    (corpus / "outside_dir").symlink_to(outside, target_is_directory=True)
    (corpus / "sub").mkdir()
    (corpus / "sub" / "again").symlink_to(corpus, target_is_directory=True)
    return {
        "binary.txt": r"^binary file \(contains NUL bytes\)$",
        "latin1.txt": r"^not valid UTF-8 \(byte 3\)$",
        "empty.txt": r"^empty file$",
        "blank.md": r"^no text \(only whitespace\)$",
        "huge.txt": r"^too large \(50\.0 MB > 20\.0 MB limit, index\.max_file_mb\)$",
        "loop_a.txt": r"^broken symlink or symlink loop$",
        "loop_b.txt": r"^broken symlink or symlink loop$",
        "dangling.txt": r"^broken symlink or symlink loop$",
        "outside.txt": r"^symlink points outside the corpus$",
        "outside_dir": r"^symlink points outside the corpus$",
        "sub/again": r"^symlink loop$",
    }


@pytest.fixture
def odd_corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD)
    (corpus / "bom.txt").write_bytes(b"\xef\xbb\xbf" + BOM_TEXT.encode())
    (corpus / "crlf.txt").write_bytes(CRLF_TEXT.encode())
    (corpus / "notes.pdf").write_bytes(b"%PDF-1.4 not a corpus file")
    (corpus / ".hidden.txt").write_text("Hidden files are not part of the corpus.\n")
    return corpus, _write_bad_files(corpus, tmp_path / "outside")


INDEXED = {"good.txt", "bom.txt", "crlf.txt"}


def test_odd_files_are_skipped_with_a_reason_and_the_others_indexed(odd_corpus, tmp_path):
    corpus, expected = odd_corpus
    settings = hashing_settings(corpus, tmp_path / "index")
    report = refresh(settings, HashingEmbedder)

    reasons = {s.source: s.reason for s in report.skipped}
    assert set(reasons) == set(expected), reasons
    for source, pattern in expected.items():
        assert re.match(pattern, reasons[source]), (source, reasons[source])
        assert "\n" not in reasons[source]
    assert report.files_indexed == len(INDEXED)

    loaded = store.load_build(store.current_build(settings.index_dir))
    assert {c.source for c in loaded.chunks} == INDEXED
    assert not any("launch code" in c.text for c in loaded.chunks)

    service = QAService(settings)
    response = service.ask("Who is the lighthouse keeper of Carrick Point?")
    assert response.answer is not None and response.answer.text == "Moira Dunne"
    assert response.total_sources == len(INDEXED)


@pytest.mark.slow
def test_qa_index_prints_one_line_per_skipped_file(odd_corpus, tmp_path):
    corpus, expected = odd_corpus
    # A hostile file name: its escape sequence must reach the terminal as text.
    (corpus / "evil\x1b[2J\x1b]0;pwned\x07.txt").write_bytes(b"\x00binary")
    done = run_qa("index", "--corpus", str(corpus), "--index", str(tmp_path / "index"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "\x1b" not in done.stdout + done.stderr and "\x07" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(expected) + 1
    assert all(line.startswith("qa: skipped ") for line in lines)
    for source in expected:
        assert any(line.startswith(f"qa: skipped {source}: ") for line in lines), source
    assert "qa: skipped evil\\x1b[2J\\x1b]0;pwned\\x07.txt: binary file (contains NUL bytes)" in lines
    summary = done.stdout.strip().splitlines()
    assert len(summary) == 1
    assert summary[0].startswith(f"3 files indexed, {len(expected) + 1} skipped")


def _check_offsets(text: str, rows) -> None:
    for row in rows:
        assert text[row.start : row.end] == row.text
        assert row.line_start == text.count("\n", 0, row.start) + 1
        assert row.line_end == text.count("\n", 0, row.end - 1) + 1


def test_bom_is_removed_and_offsets_index_the_decoded_text(odd_corpus, tmp_path):
    corpus, _ = odd_corpus
    settings = hashing_settings(corpus, tmp_path / "index")
    refresh(settings, HashingEmbedder)
    service = QAService(settings)
    text = service.read_source("bom.txt")
    assert text == BOM_TEXT and not text.startswith("\ufeff")
    loaded = store.load_build(store.current_build(settings.index_dir))
    rows = [r for r in [*loaded.chunks, *loaded.sentences] if r.source == "bom.txt"]
    assert rows and rows[0].start == 0 and rows[0].text.startswith("The ferry")
    _check_offsets(text, rows)

    response = service.ask("How much do tickets to Inishbeg cost?")
    assert any(c.source == "bom.txt" for c in response.citations) or response.passages[0].source == "bom.txt"
    for item in [*response.citations, *response.passages]:
        assert service.read_source(item.source)[item.start : item.end] == item.text


def test_crlf_keeps_offsets_and_line_numbers(odd_corpus, tmp_path):
    corpus, _ = odd_corpus
    settings = hashing_settings(corpus, tmp_path / "index")
    refresh(settings, HashingEmbedder)
    service = QAService(settings)
    text = service.read_source("crlf.txt")
    assert text == CRLF_TEXT  # line endings unchanged
    loaded = store.load_build(store.current_build(settings.index_dir))
    sentences = [s for s in loaded.sentences if s.source == "crlf.txt"]
    assert [s.text for s in sentences] == [
        "Harbour news from Kilmore.",
        "The regatta was cancelled because of the storm.",
        "The new pier was designed by Aoife Byrne.",
        "It opened in May.",
    ]
    assert [s.line_start for s in sentences] == [1, 2, 4, 5]
    assert not any("\r" in s.text for s in sentences)
    _check_offsets(text, [*sentences, *(c for c in loaded.chunks if c.source == "crlf.txt")])

    response = service.ask("Who designed the new pier in Kilmore?")
    assert response.answer is not None and response.answer.text == "Aoife Byrne"
    assert response.answer.line == 4
    assert text[response.answer.start : response.answer.end] == "Aoife Byrne"


def test_file_deleted_between_listing_and_reading_is_skipped(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("a.txt", "b.txt", "c.txt"):
        (corpus / name).write_text(f"File {name} reports that the river rose by two metres.\n")
    settings = hashing_settings(corpus, tmp_path / "index")

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "reading" and done == 1:  # the list is made; b.txt goes before it is read
            (corpus / "b.txt").unlink()

    report = refresh(settings, HashingEmbedder, progress)
    assert [(s.source, s.reason) for s in report.skipped] == [("b.txt", "deleted while reading")]
    assert report.files_indexed == 2

    # The next refresh notices that b.txt is gone and drops it.
    again = refresh(settings, HashingEmbedder)
    assert again.removed_files == ["b.txt"] and again.skipped == []


def test_read_document_of_a_vanished_file():
    ref = FileRef(source="gone.txt", path=Path("/nonexistent/gone.txt"), size=10, mtime_ns=0)
    with pytest.raises(ValueError, match="^deleted while reading$"):
        read_document(ref)


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    """Tests run as root, where chmod 000 does not stop reads: simulate the EACCES the OS gives."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("The council met on Tuesday to discuss the budget.\n")
    (corpus / "locked.txt").write_text("You should not be able to read this.\n")
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = refresh(hashing_settings(corpus, tmp_path / "index"), HashingEmbedder)
    assert [(s.source, s.reason) for s in report.skipped] == [("locked.txt", "unreadable (Permission denied)")]
    assert report.files_indexed == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode; see the monkeypatched test")
def test_unreadable_file_is_skipped_for_real(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "ok.txt").write_text("The council met on Tuesday to discuss the budget.\n")
    locked = corpus / "locked.txt"
    locked.write_text("You should not be able to read this.\n")
    locked.chmod(0)
    try:
        report = refresh(hashing_settings(corpus, tmp_path / "index"), HashingEmbedder)
    finally:
        locked.chmod(0o644)
    assert [(s.source, s.reason) for s in report.skipped] == [("locked.txt", "unreadable (Permission denied)")]


def test_listing_follows_symlinks_inside_the_corpus_only(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "sub" / "real.txt").write_text("Real text.\n")
    (corpus / "alias.txt").symlink_to(corpus / "sub" / "real.txt")
    (tmp_path / "out.txt").write_text("Outside.\n")
    (corpus / "escape.txt").symlink_to(Path("..") / "out.txt")  # relative link out of the corpus
    refs, skipped = list_files(corpus)
    assert [r.source for r in refs] == ["alias.txt", "sub/real.txt"]
    assert [(s.source, s.reason) for s in skipped] == [("escape.txt", "symlink points outside the corpus")]


def test_missing_corpus_folder_is_a_one_line_error(tmp_path):
    settings = hashing_settings(tmp_path / "no-such-folder", tmp_path / "index")
    with pytest.raises(CorpusError, match=r"^corpus folder .*no-such-folder does not exist$"):
        refresh(settings, HashingEmbedder)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CorpusError, match=r"^corpus .*file\.txt is not a folder$"):
        refresh(hashing_settings(tmp_path / "file.txt", tmp_path / "index"), HashingEmbedder)


@pytest.mark.parametrize("content", ["none", "only-skipped"])
def test_corpus_with_nothing_to_index_is_a_one_line_error(tmp_path, content):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if content == "only-skipped":
        (corpus / "empty.txt").write_bytes(b"")
        (corpus / "notes.pdf").write_bytes(b"%PDF")
    settings = hashing_settings(corpus, tmp_path / "index")
    with pytest.raises(CorpusError, match=r"^nothing to index in .*corpus") as caught:
        refresh(settings, HashingEmbedder)
    assert "\n" not in str(caught.value)
    if content == "only-skipped":
        assert "empty.txt: empty file" in str(caught.value)
    assert store.current_build(settings.index_dir) is None


@pytest.mark.slow
@pytest.mark.parametrize("which", ["missing", "empty"])
def test_qa_commands_on_a_missing_or_empty_corpus_print_one_line(tmp_path, which):
    corpus = tmp_path / "corpus"
    if which == "empty":
        corpus.mkdir()
    for args in (("index",), ("ask", "Who is the mayor?")):
        done = run_qa(*args, "--corpus", str(corpus), "--index", str(tmp_path / "index"), cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        line = assert_one_line_error(done.stderr)
        expected = "does not exist" if which == "missing" else "nothing to index"
        assert line.startswith("qa: corpus error: ") and expected in line, line
        assert done.stdout == ""


def test_corpus_emptied_after_a_build_is_reported_not_answered_from(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(GOOD)
    settings = hashing_settings(corpus, tmp_path / "index")
    QAService(settings).prepare()
    (corpus / "a.txt").unlink()
    with pytest.raises(CorpusError, match="nothing to index"):
        QAService(settings).prepare()


def test_sentences_never_start_or_end_with_white_space_on_odd_line_endings():
    text = "One.\rTwo words here.\r\rThree after CR CR.\n\u2028Four after a line separator.\x0c Five.\n"
    sentences = split_sentences(text)
    assert sentences
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert s.text == s.text.strip()
