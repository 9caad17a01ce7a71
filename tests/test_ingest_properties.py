"""Property tests (hypothesis) for the offset and line-number invariants, and the eval file parser.

- Sentences and chunks of any Unicode text: ``text[x.start:x.end] == x.text``, lines count ``\\n``.
- Reader spans: every span is the slice of its sentence it claims to be.
- Answers, citations and passages of the whole service: slices of the file ``read_source`` returns.
- Question-set parser: valid lines round-trip whatever their text; a malformed line is reported
  as ``name:LINE: ...`` on one line, LINE counted as an editor counts lines.
"""

from __future__ import annotations

import json

import pytest
from helpers_reliability import hashing_settings
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from qa.corpus.ingest import BOM, chunk_sentences, decode, split_sentences
from qa.errors import EvalError, QuestionError
from qa.eval.evaluate import parse_jsonl
from qa.service import QAService

# --- text strategies -------------------------------------------------------------------------

WORDS = ["the", "mayor", "Helena", "Quist", "said", "on", "Monday", "3.5", "km", "1,200", "U.S.", "Dr.", "e.g.",
         "«quoted»", "naïve", "Zürich", "東京", "مرحبا", "שלום", "🙂", "—", "(", ")", '"', "'s", "...", "?!", "#"]
SEPARATORS = [" ", " ", " ", ". ", "! ", "? ", ".\n", "\n", "\r\n", "\n\n", "\r\n\r\n", "\t", "\u00a0", "\u2028",
              "\r", "\x0c", "\x85", "  "]

news_text = st.lists(
    st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), min_size=1, max_size=120
).map(lambda pairs: "".join(w + s for w, s in pairs))

any_text = st.one_of(
    st.text(max_size=400),  # arbitrary Unicode (no lone surrogates: files are decoded UTF-8)
    st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "Z", "S", "Cc"]), max_size=400),
    news_text,
)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _check_span(text: str, piece) -> None:
    assert 0 <= piece.start < piece.end <= len(text)
    assert text[piece.start : piece.end] == piece.text
    assert piece.line_start == _line(text, piece.start)
    assert piece.line_end == _line(text, piece.end - 1)


# --- sentences and chunks --------------------------------------------------------------------


@FAST
@given(any_text)
def test_sentences_are_exact_slices_with_correct_lines(text):
    sentences = split_sentences(text)
    previous_end = 0
    for s in sentences:
        _check_span(text, s)
        assert s.text.strip() == s.text  # a sentence never starts or ends with white space
        assert s.start >= previous_end  # in order, not overlapping
        previous_end = s.end
    paragraphs = [s.paragraph for s in sentences]
    assert paragraphs == sorted(paragraphs)


@FAST
@given(any_text, st.integers(min_value=1, max_value=60), st.integers(min_value=0, max_value=4), st.randoms())
def test_chunks_are_exact_slices_of_whole_sentences(text, max_tokens, overlap, rnd):
    sentences = split_sentences(text)
    counts = [rnd.randint(0, 30) for _ in sentences]
    chunks = chunk_sentences(text, sentences, counts, max_tokens, overlap)
    assert bool(chunks) == bool(sentences)
    covered = set()
    last_first = -1
    for c in chunks:
        _check_span(text, c)
        assert 0 <= c.sentence_start < c.sentence_end <= len(sentences)
        assert c.start == sentences[c.sentence_start].start
        assert c.end == sentences[c.sentence_end - 1].end
        assert c.n_tokens == sum(counts[c.sentence_start : c.sentence_end])
        assert c.n_tokens <= max_tokens or c.sentence_end - c.sentence_start == 1
        assert c.sentence_start > last_first  # always moves forward
        last_first = c.sentence_start
        covered.update(range(c.sentence_start, c.sentence_end))
    assert covered == set(range(len(sentences)))
    for a, b in zip(chunks, chunks[1:]):
        assert b.sentence_start >= a.sentence_end - overlap


@FAST
@given(any_text, st.booleans(), st.booleans())
def test_decoding_removes_only_a_leading_bom(text, bom, crlf):
    if crlf:
        text = text.replace("\n", "\r\n")
    data = ((BOM if bom else "") + text).encode("utf-8")
    # exactly one leading BOM goes: the added one, or else the text's own
    expected = text if bom or not text.startswith(BOM) else text[1:]
    assume(expected.strip())
    if "\x00" in text:
        with pytest.raises(ValueError, match="binary"):
            decode(data)
        return
    assert decode(data) == expected


# --- reader spans ----------------------------------------------------------------------------

# --- whole answers against the file ----------------------------------------------------------

ODD_FILES = {
    "crlf.txt": "The mayor of Brightwater is Helena Quist.\r\nShe was elected in 2019 with 12,400 votes.\r\n\r\n"
    "The harbour in Eastport reopened on Monday.\r\nIt cost 3.5 million euro.\r\n",
    "bom.txt": "\ufeffThe ferry to Inishbeg leaves at 7 a.m. every day.\nTickets cost twelve euro.\n\n"
    "Dr. Aoife Byrne designed the new pier in Kilmore.\n",
    "unicode.txt": "Zürich’s naïve «café» opened in 1999 — said Ms. Lévy.\u2028Its owner is Jonas Berg.\n\n"
    "東京 hosted the summit on 4 May 2021. 🙂 Attendance: 1,200 people.\n",
    "tabs.md": "# Heading\n\n\tThe council met on Tuesday.\tIt approved 40 new homes.\n\n- item one\n- item two\n",
}


@pytest.fixture(scope="module")
def odd_service(tmp_path_factory) -> QAService:
    base = tmp_path_factory.mktemp("props")
    corpus = base / "corpus"
    corpus.mkdir()
    for name, text in ODD_FILES.items():
        (corpus / name).write_bytes(text.encode("utf-8"))
    service = QAService(hashing_settings(corpus, base / "index", answer={"min_score": 0.0}))
    service.prepare()
    return service


ASK_WORDS = sorted({w.strip(".,:;!?«»’") for text in ODD_FILES.values() for w in text.split()} - {""})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.sampled_from(["Who", "What", "When", "Where", "How many", "How much", "Which", "Why", ""]),
    st.lists(st.sampled_from(ASK_WORDS), min_size=1, max_size=6),
)
def test_every_answer_citation_and_passage_is_a_slice_of_its_file(odd_service, wh, words):
    question = f"{wh} {' '.join(words)}?"
    try:
        response = odd_service.ask(question)
    except QuestionError:
        return
    texts = {}

    def file_text(source: str) -> str:
        if source not in texts:
            texts[source] = odd_service.read_source(source)
        return texts[source]

    if response.answer is not None:
        a = response.answer
        text = file_text(a.source)
        assert text[a.start : a.end] == a.text
        assert text[a.sentence_start : a.sentence_end] == a.sentence
        assert a.sentence_start <= a.start <= a.end <= a.sentence_end
        assert a.line == _line(text, a.start)
    citations = [*response.citations, *(c for conflict in response.conflicts for c in conflict.citations)]
    for c in citations:
        text = file_text(c.source)
        assert text[c.start : c.end] == c.text
        assert c.line_start == _line(text, c.start) and c.line_end == _line(text, c.end - 1)
        if c.value is not None:
            assert text[c.value_start : c.value_end] == c.value
    for p in response.passages:
        text = file_text(p.source)
        assert text[p.start : p.end] == p.text
        assert p.line_start == _line(text, p.start) and p.line_end == _line(text, p.end - 1)


# --- question-set parser ---------------------------------------------------------------------

nonblank = st.text(min_size=1, max_size=40).filter(lambda s: s.strip())


@st.composite
def eval_items(draw) -> dict:
    answerable = draw(st.booleans())
    item = {"id": draw(nonblank), "question": draw(nonblank)}
    if answerable:
        item["answers"] = draw(st.lists(nonblank, min_size=1, max_size=3))
        item["sources"] = draw(st.lists(nonblank, min_size=1, max_size=2))
    else:
        item["answers"], item["sources"] = [], []
    if draw(st.booleans()):
        item["history"] = draw(st.lists(nonblank, max_size=2))
    if draw(st.booleans()):
        item["type"] = draw(st.one_of(st.none(), nonblank))
    return item


def _unique_ids(items: list[dict]) -> list[dict]:
    return [dict(item, id=f"{i}-{item['id']}") for i, item in enumerate(items)]


BLANK_LINES = st.sampled_from(["", "   ", "\t", "\r"])


@st.composite
def jsonl_files(draw) -> tuple[list[dict], list[str]]:
    """Valid items and the file's lines: each item on its own line, blank lines between, any JSON spelling."""
    items = _unique_ids(draw(st.lists(eval_items(), min_size=1, max_size=6)))
    lines = []
    for item in items:
        lines += draw(st.lists(BLANK_LINES, max_size=2))
        lines.append(json.dumps(item, ensure_ascii=draw(st.booleans())) + draw(st.sampled_from(["", "\r", " "])))
    return items, lines


@settings(max_examples=150, deadline=None)
@given(jsonl_files())
def test_valid_question_files_round_trip_whatever_their_text(file):
    items, lines = file
    questions = parse_jsonl("\n".join(lines), "q.jsonl")
    assert len(questions) == len(items)
    for q, item in zip(questions, items):
        assert (q.id, q.question, q.answers, q.sources) == (item["id"], item["question"], item["answers"], item["sources"])
        assert q.history == item.get("history", []) and q.type == item.get("type")


MALFORMED = st.one_of(
    st.sampled_from([
        "{", "[1, 2]", '"just a string"', "42", "null", "{'single': 'quotes'}", '{"id": "x"}',
        '{"id": "", "question": "q", "answers": [], "sources": []}',
        '{"id": "x", "question": "   ", "answers": [], "sources": []}',
        '{"id": "x", "question": "q", "answers": ["a"], "sources": []}',
        '{"id": "x", "question": "q", "answers": [], "sources": ["s.txt"]}',
        '{"id": "x", "question": "q", "answers": [""], "sources": ["s.txt"]}',
        '{"id": "x", "question": "q", "answers": [], "sources": [], "extra": 1}',
        '{"id": 5, "question": "q", "answers": [], "sources": []}',
        '{"id": "x", "question": "q", "answers": "a", "sources": []}',
        '{"id": "x", "question": "q\u2028still the same line", "answers": [], "sources": [], "oops": true}',
    ]),
    st.text(max_size=30).filter(lambda s: s.strip() and "\n" not in s),  # mostly not JSON at all
)


@settings(max_examples=200, deadline=None)
@given(jsonl_files(), st.data())
def test_a_malformed_line_is_reported_with_its_line_number(file, data):
    items, lines = file
    bad = data.draw(MALFORMED)
    try:
        parsed = json.loads(bad)
        assume(not isinstance(parsed, dict) or parsed.get("id") not in {i["id"] for i in items})
    except ValueError:
        pass
    position = data.draw(st.integers(min_value=0, max_value=len(lines)))
    lines = [*lines[:position], bad, *lines[position:]]
    lineno = position + 1
    try:
        parse_jsonl("\n".join(lines), "q.jsonl")
    except EvalError as exc:
        message = str(exc)
    else:
        # Only a line that happens to be a valid question (random text cannot be) may pass.
        pytest.fail(f"accepted a malformed line: {bad!r}")
    assert message.startswith(f"q.jsonl:{lineno}: "), (message, lineno)
    assert "\n" not in message and "\r" not in message


@settings(max_examples=100, deadline=None)
@given(jsonl_files())
def test_a_duplicate_id_names_both_lines(file):
    items, lines = file
    first = next(i for i, line in enumerate(lines) if line.strip())
    lines = [*lines, lines[first]]
    with pytest.raises(EvalError) as caught:
        parse_jsonl("\n".join(lines), "q.jsonl")
    assert str(caught.value).startswith(f"q.jsonl:{len(lines)}: duplicate id ")
    assert str(caught.value).endswith(f"(first on line {first + 1})")


@given(st.lists(BLANK_LINES, max_size=5))
def test_a_file_with_no_questions_is_an_error(lines):
    with pytest.raises(EvalError, match=r"^q\.jsonl: no questions$"):
        parse_jsonl("\n".join(lines), "q.jsonl")

