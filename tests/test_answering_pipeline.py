"""The answering pipeline with a scripted reader: what counts as support, what as a conflict, offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from qa.answering.agreement import same_answer
from qa.answering.readers.base import PassageText, ReaderOutput, ReaderSpan
from qa.service import QAService
from tests.conftest import hashing_settings


class ScriptedReader:
    """Answers with the first match of a pattern per passage, scored by a table: a stand-in for a model."""

    name = "scripted"

    def __init__(self, pattern: str, scores: dict[str, float], null: float = 0.0) -> None:
        self.pattern = re.compile(pattern)
        self.scores = scores
        self.null = null
        self.seen: list[list[PassageText]] = []

    def warm_up(self) -> None:
        pass

    def read(self, question: str, passages: Sequence[PassageText]) -> ReaderOutput:
        self.seen.append(list(passages))
        spans = []
        for i, p in enumerate(passages):
            m = self.pattern.search(p.text)
            if m:
                spans.append(ReaderSpan(i, p.start + m.start(), p.start + m.end(), m.group(),
                                        self.scores.get(m.group(), 0.0), self.null))
        spans.sort(key=lambda s: -s.score)
        return ReaderOutput(tuple(spans), self.null)


def write_corpus(root: Path, files: dict[str, str]) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


CORPUS = {
    "a.txt": "The storm hit the coast on Monday.\n\nOfficials said 261,000 people left the region.\n",
    "b.txt": "A storm reached the coast.\n\nAbout 261,000 men left the region, officials said.\n",
    "c.txt": "The storm was strong.\n\nMore than 300,000 people left the region, a charity said.\n",
}


def service(tmp_path: Path, reader: ScriptedReader, files: dict[str, str] = CORPUS, **answer) -> QAService:
    corpus = write_corpus(tmp_path / "corpus", files)
    settings = hashing_settings(corpus, tmp_path / "index", answer={"min_score": 0.5, **answer})
    svc = QAService(settings, reader=reader)
    svc.prepare()
    return svc


def test_sources_that_give_the_same_value_support_it(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 5.0, "300,000": -5.0})
    r = service(tmp_path, reader).ask("How many people left the region?")
    assert r.answered and r.answer.text == "261,000"
    assert sorted(c.source for c in r.citations) == ["a.txt", "b.txt"]
    assert r.supporting_sources == 2 and not r.conflicts  # c.txt's value is below the threshold: not counted


def test_a_conflict_shows_only_values_the_reader_answers_with(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 5.0, "300,000": 4.0})
    r = service(tmp_path, reader).ask("How many people left the region?")
    assert {c.value for c in r.conflicts} == {"261,000", "300,000"}
    by_value = {c.value: c.sources for c in r.conflicts}
    assert by_value["261,000"] == ["a.txt", "b.txt"] and by_value["300,000"] == ["c.txt"]


def test_a_source_that_merely_mentions_the_answer_does_not_count(tmp_path):
    # Every file mentions "storm", but the reader answers "storm" only where it scores it highly.
    corpus = {"a.txt": "Zinin shot the officer.\n", "b.txt": "Zinin was seen in town.\n", "c.txt": "Nobody knows.\n"}
    root = write_corpus(tmp_path / "corpus", corpus)

    class PerSource(ScriptedReader):
        def read(self, question, passages):
            out = super().read(question, passages)
            spans = [ReaderSpan(s.passage, s.start, s.end, s.text, 5.0 if "shot" in passages[s.passage].text else -3.0,
                                0.0) for s in out.spans]
            return ReaderOutput(tuple(sorted(spans, key=lambda s: -s.score)), 0.0)

    settings = hashing_settings(root, tmp_path / "index", answer={"min_score": 0.5})
    svc = QAService(settings, reader=PerSource(r"Zinin", {}))
    svc.prepare()
    r = svc.ask("Who shot the officer?")
    assert r.answered and r.answer.text == "Zinin"
    assert [c.source for c in r.citations] == ["a.txt"]
    assert r.message == "Reported by 1 of 3 sources"


def test_declines_when_the_reader_prefers_no_answer(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": -2.0, "300,000": -3.0}, null=1.0)
    r = service(tmp_path, reader).ask("How many people left the region?")
    assert not r.answered and r.message == "No answer in the corpus"
    assert r.passages  # the closest passages are still shown


def test_answer_offsets_are_the_file_text(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 5.0, "300,000": 4.0})
    svc = service(tmp_path, reader)
    r = svc.ask("How many people left the region?")
    for c in [r.answer] if r.answer else []:
        text = (svc.settings.corpus / c.source).read_text()
        assert text[c.start : c.end] == c.text
        assert text[c.sentence_start : c.sentence_end] == c.sentence
    for c in r.citations + [c for k in r.conflicts for c in k.citations]:
        text = (svc.settings.corpus / c.source).read_text()
        assert text[c.start : c.end] == c.text
        assert text[c.value_start : c.value_end] == c.value


def test_reader_reads_every_source_once_within_the_plan(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 5.0})
    service(tmp_path, reader, reader_passages=1, agreement_sources=2).ask("How many people left the region?")
    (passages,) = reader.seen
    assert len(passages) == 3 and len({p.source for p in passages}) == 3


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Zinin", "Ruslan Zinin", True),
        ("261,000", "261,000 men", True),
        ("more than 260,000", "261,000", False),
        ("300,000", "261,000", False),
        ("20 kilometers", "20 km", True),
        ("20 kilometers", "18-kilometre", False),
        ("25-year-old", "25", True),
        ("Moscow", "Irkutsk", False),
        ("Dmitry Peskov", "Peskov", True),
        ("Monday", "Monday afternoon", True),
        ("Sochi", "the Bocharov Ruchei residence in Sochi", True),
        ("Russian", "A young Russian man", False),
        ("Ruslan Zinin", "Zinin Ruslan", False),
        ("military commissioner", "the local military commissioner in the city", False),
    ],
)
def test_same_answer_is_decided_by_the_text(a, b, same):
    assert same_answer(a, b) is same
    assert same_answer(b, a) is same


def test_a_follow_up_question_reads_with_the_previous_answer():
    from qa.answering.question import Question, refers_back

    q = Question.standalone("How old was he?", "How old was he?")
    assert refers_back(q.text)
    f = q.following("Who shot the officer?", "Ruslan Zinin")
    assert f.asked == "How old was he?" and f.reader_text == "How old was Ruslan Zinin?"
    assert "Who shot the officer?" in f.query and "Ruslan Zinin" in f.query
    assert q.reader_text == "How old was he?"  # frozen: following() returns a new question


def test_a_chain_of_follow_ups_keeps_pointing_at_the_person_when_an_answer_is_a_number_or_a_quote():
    from qa.answering.question import Question, can_be_referred_to

    age = Question.standalone("How old was he?", "How old was he?").following("Who shot the officer?", "Ruslan Zinin")
    assert age.referent == "Ruslan Zinin"
    shout = Question.standalone("What did he shout?", "What did he shout?").following(
        "How old was he?", "25", age.referent)
    assert shout.reader_text == "What did Ruslan Zinin shout?" and shout.referent == "Ruslan Zinin"
    assert "25" in shout.query  # the previous answer still guides retrieval
    why = Question.standalone("Why did he shout it?", "Why did he shout it?").following(
        "What did he shout?", '"Nobody is going to fight!"', shout.referent)
    assert why.reader_text == "Why did Ruslan Zinin shout it?"
    office = Question.standalone("Where is it?", "Where is it?").following("Which office was attacked?", "the enlistment office")
    assert office.reader_text == "Where is the enlistment office?"  # a new referent replaces the old one
    for not_a_referent in ("25", "twelve", "261,000 men", "Nobody is going to fight!", "\u201cWe will all go home\u201d"):
        assert not can_be_referred_to(not_a_referent), not_a_referent
    nothing = Question.standalone("How old was he?", "How old was he?").following("How many fled?", "261,000")
    assert nothing.reader_text == "How old was he?" and nothing.referent is None


LONG = (
    "The harbour was quiet in the morning. Fishing boats stayed tied up along the pier. "
    "A ferry to the islands left late because of fog. Tourists waited in the cafes by the water. "
    "The mayor opened the new lighthouse at noon with 400 guests. Musicians played on the square. "
    "Children ran along the breakwater. The market sold fish and bread until dark. "
    "Rain came in from the sea at night. The streets emptied before the last bus.\n"
)
GUESTS = "How many guests came when the mayor opened the new lighthouse?"


def test_a_reading_window_reads_the_sentence_closest_to_the_question_and_its_neighbours(tmp_path):
    reader = ScriptedReader(r"\d+", {"400": 5.0})
    r = service(tmp_path, reader, {"town.txt": LONG}, reader_window_tokens=40).ask(GUESTS)
    (passages,) = reader.seen
    (p,) = passages
    assert "The mayor opened the new lighthouse at noon with 400 guests." in p.text
    assert len(p.text) < len(LONG) / 2  # not the whole chunk
    assert LONG[p.start : p.start + len(p.text)] == p.text  # passages keep file offsets
    assert r.answered and r.answer.text == "400" and LONG[r.answer.start : r.answer.end] == "400"


def test_without_a_reading_window_the_whole_chunk_is_read(tmp_path):
    reader = ScriptedReader(r"\d+", {"400": 5.0})
    service(tmp_path, reader, {"town.txt": LONG}, reader_window_tokens=0).ask(GUESTS)
    (passages,) = reader.seen
    assert passages[0].text.strip() == LONG.strip()


class _SentenceTable:
    """The part of an index a reading window looks at: sentences and their vectors."""

    def __init__(self, texts: list[str], vectors: list[list[float]]) -> None:
        from qa.models import Sentence

        self.sentences, pos = [], 0
        for i, t in enumerate(texts):
            self.sentences.append(Sentence(source="f.txt", start=pos, end=pos + len(t), line_start=1, line_end=1,
                                           text=t, id=i, chunk=0, paragraph=0))
            pos += len(t) + 1
        self.vectors = np.asarray(vectors, dtype=np.float32)

    def sentence(self, row: int):
        return self.sentences[row]

    def sentence_range(self, first: int, last: int):
        return self.sentences[first:last]

    def vectors_of_sentences(self, first: int, last: int):
        return self.vectors[first:last]


def test_the_window_starts_at_the_sentence_holding_the_questions_words_when_the_cosine_points_elsewhere():
    from qa.answering.pipeline import window
    from qa.index.lexical import terms
    from qa.models import Chunk

    texts = ["The officer was shot in the city of Ust-Ilimsk in the Siberian region of Irkutsk.",
             "The latter was seriously wounded, according to the authorities.",
             "Video recordings are said to show the incident.",
             "People ran away screaming."]
    # The embedding prefers the second sentence (as a sentence model can); the words are in the first.
    table = _SentenceTable(texts, [[0.6, 0.8], [0.8, 0.6], [0.0, 1.0], [0.0, 1.0]])
    whole = " ".join(texts)
    chunk = Chunk(source="f.txt", start=0, end=len(whole), line_start=1, line_end=1, text=whole, id=0,
                  sentence_start=0, sentence_end=4, n_tokens=64)
    q = np.array([1.0, 0.0], dtype=np.float32)
    qterms = terms("In which Siberian region is Ust-Ilimsk?")
    budget = 20  # about one sentence
    assert window(table, chunk, q, budget) == (1, 2)  # the cosine alone misses the answer's sentence
    assert window(table, chunk, q, budget, qterms, lexical=0.3) == (0, 1)
    assert window(table, chunk, q, budget, qterms, lexical=0.0) == (1, 2)  # weight 0: as before
