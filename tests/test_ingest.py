from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from qa.corpus.ingest import LineIndex, chunk_sentences, decode, list_files, read_document, split_sentences
from qa.errors import CorpusError


def _count(texts):
    return [len(t.split()) for t in texts]


def test_sentences_and_chunks_keep_exact_offsets_and_lines(seed_corpus: Path):
    refs, skipped = list_files(seed_corpus)
    assert [r.source for r in refs] == sorted(p.name for p in seed_corpus.glob("*.txt"))
    assert skipped == []
    for ref in refs:
        doc = read_document(ref)
        sents = split_sentences(doc.text)
        assert len(sents) > 10
        for s in sents:
            assert doc.text[s.start : s.end] == s.text
            assert s.line_start == doc.text.count("\n", 0, s.start) + 1
            assert s.line_end == doc.text.count("\n", 0, s.end - 1) + 1
        chunks = chunk_sentences(doc.text, sents, _count([s.text for s in sents]), 60, 1)
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
        # every sentence lands in some chunk; consecutive chunks share one sentence
        # (unless the earlier chunk is that one sentence)
        covered = set()
        for c in chunks:
            covered.update(range(c.sentence_start, c.sentence_end))
        assert covered == set(range(len(sents)))
        for a, b in zip(chunks, chunks[1:]):
            assert b.sentence_start == max(a.sentence_end - 1, a.sentence_start + 1)


def test_known_sentence_is_segmented_whole(seed_corpus: Path):
    ref = next(r for r in list_files(seed_corpus)[0] if r.source.startswith("002"))
    doc = read_document(ref)
    texts = [s.text for s in split_sentences(doc.text)]
    assert "Zinin was arrested and officials vowed tough punishment." in texts


def test_chunks_respect_the_token_budget():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    sents = split_sentences(text)
    counts = _count([s.text for s in sents])
    for c in chunk_sentences(text, sents, counts, 20, 0):
        assert c.n_tokens <= 20 or c.sentence_end - c.sentence_start == 1


def test_long_sentence_becomes_its_own_chunk():
    text = "Short one. " + "word " * 100 + "end. Another short."
    sents = split_sentences(text)
    chunks = chunk_sentences(text, sents, _count([s.text for s in sents]), 20, 0)
    assert any(c.n_tokens > 20 and c.sentence_end - c.sentence_start == 1 for c in chunks)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"abc\x00def", "binary"),
        (b"caf\xe9 au lait", "UTF-8"),
        (b"   \n\n  ", "no text"),
    ],
)
def test_decode_rejects_non_text_with_a_reason(data: bytes, reason: str):
    with pytest.raises(ValueError, match=reason):
        decode(data)


def test_bom_is_removed_and_crlf_kept():
    text = decode("\ufeffFirst line.\r\nSecond line here.\r\n".encode())
    assert text.startswith("First")
    sents = split_sentences(text)
    for s in sents:
        assert text[s.start : s.end] == s.text
    assert sents[-1].line_start == 2


def test_listing_is_recursive_sorted_and_skips_links_out(tmp_path: Path):
    corpus = tmp_path / "c"
    (corpus / "b").mkdir(parents=True)
    (corpus / "b" / "z.md").write_text("Zed.")
    (corpus / "a.txt").write_text("Ay.")
    (corpus / "ignored.pdf").write_bytes(b"%PDF")
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret.")
    os.symlink(outside, corpus / "link.txt")
    os.symlink(corpus / "a.txt", corpus / "inside.txt")
    os.symlink(corpus, corpus / "b" / "loop")
    refs, skipped = list_files(corpus)
    assert [r.source for r in refs] == ["a.txt", "b/z.md", "inside.txt"]
    reasons = {s.source: s.reason for s in skipped}
    assert "outside the corpus" in reasons["link.txt"]


def test_missing_corpus_is_a_corpus_error(tmp_path: Path):
    with pytest.raises(CorpusError, match="does not exist"):
        list_files(tmp_path / "nope")


@hsettings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_offsets_hold_for_arbitrary_unicode(text: str):
    sents = split_sentences(text)
    lines = LineIndex(text)
    for s in sents:
        assert text[s.start : s.end] == s.text
        assert s.line_start == lines.line(s.start) == text.count("\n", 0, s.start) + 1
    for c in chunk_sentences(text, sents, _count([s.text for s in sents]), 8, 1):
        assert text[c.start : c.end] == c.text
