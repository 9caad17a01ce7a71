"""The extractive reader: question types, spans per type, offsets, scores and odd input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.reader import (
    ReaderWeights,
    SentenceCandidate,
    SpanCandidate,
    classify_question,
    clear_caches,
    names,
    read,
    terms,
    warm_up,
)

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
FAZ = "000_1e59f56b4bd2b559.txt"
CBC = "002_5a7fdab8de9f5a87.txt"
MORNING = "003_fe46f044fe634529.txt"


def seed(source: str, sentence: str, cosine: float = 0.5, passage: float = 1.0) -> SentenceCandidate:
    """A candidate for a sentence of a seed article, verbatim (its own spaces and line breaks) at its offset."""
    text = (SEEDS / source).read_text(encoding="utf-8")
    match = re.search(r"\s+".join(re.escape(word) for word in sentence.split()), text)
    assert match is not None, sentence
    return SentenceCandidate(match.group(), source, match.start(), cosine, passage)


def synthetic(*sentences: str, cosine: float = 0.5) -> list[SentenceCandidate]:
    out, offset = [], 0
    for s in sentences:
        out.append(SentenceCandidate(s, "synthetic.txt", offset, cosine, 1.0))
        offset += len(s) + 1
    return out


def assert_offsets(spans: list[SpanCandidate], cands: list[SentenceCandidate]) -> None:
    for span in spans:
        cand = cands[span.sentence]
        assert span.text == cand.text[span.start - cand.start : span.end - cand.start]
        assert cand.start <= span.start <= span.end <= cand.start + len(cand.text)
        assert 0.0 <= span.score <= 1.0 and 0.0 <= span.sentence_score <= 1.0


ZININ = (
    'In the attack in the Siberian city of Ust-Ilimsk, 25-year-old resident Ruslan Zinin walked into the '
    'enlistment office saying "no one will go to fight" and "we will all go home now," according to local media.'
)
FLED = (
    "The exile offshoot of Russia's Novaya Gazeta, citing a source in the presidential administration, reported that "
    "261,000 men left Russia between Putin's mobilization announcement and last Saturday evening."
)
QUEUE = (
    "The FSB secret service, which is also responsible for border protection, even sent an infantry fighting vehicle "
    "to a crossing between the Republic of North Ossetia and Georgia on Monday, at which the line is said to have been "
    "20 kilometers on Monday morning."
)
IZHEVSK = "A gunman wearing a shirt with a swastika stormed a school in Izhevsk, 600 miles east of Moscow, and opened fire."
PUTIN_SPOKE = (
    'Last Wednesday, President Vladimir Putin spoke of a "partial mobilization" of reservists, especially those who '
    "had served in the armed forces and had relevant experience."
)
SOCHI = (
    "Putin and his Belarusian counterpart Alexander Lukashenko, meanwhile, held an unannounced meeting Monday in the "
    "southern Russian city of Sochi and claimed they were ready to co-operate with the West — \"if they treat us with "
    'respect," Putin said.'
)
PESKOV = (
    "Kremlin spokesperson Dmitry Peskov said Monday no date has been set for recognizing the regions as part of Russia "
    "but it could be just days away."
)
SHOUT = "“Nobody is going to fight!” the gunman shouted as he fired at middle-aged military commissar Alexander Eliseev."
ARRESTS = "At least 2,000 people have been arrested in protests across Russia since conscription was announced"
WHY = (
    "Later reports, however, claimed Zinin got outraged because not he himself, but his best friend, had been "
    "mobilized even though he’d not served in the Russian military."
)


# --- question types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("Who shot the military commissioner?", "person"),
        ("Whom did the gunman shoot?", "person"),
        ("When did Putin announce the mobilization?", "date"),
        ("In what year did the Normans invade?", "date"),
        ("The census from which year?", "date"),
        ("Where did the shooting happen?", "place"),
        ("In which city did the shooting happen?", "place"),
        ("Which Russian city saw the attack?", "place"),
        ("How many men left Russia?", "number"),
        ("How many kilometres long was the queue?", "distance"),
        ("How old was the shooter?", "age"),
        ("What age was Zinin?", "age"),
        ("How long was the line at the border?", "distance"),
        ("How long did the voting last?", "duration"),
        ("How far is Izhevsk from Moscow?", "distance"),
        ("How much did Sky pay for the rights?", "money"),
        ("What percentage of farmland grows wheat?", "percent"),
        ("What is the name of the shooter?", "name"),
        ("Which party is strongest in Melbourne?", "organization"),
        ("What did the gunman shout?", "quote"),
        ("Why did the young man shoot the recruiter?", "sentence"),
        ("How did the Kremlin react?", "sentence"),
        ("What happened in Ust-Ilimsk?", "sentence"),
        ("What kind of region is it?", "thing"),
        ("What platform did BSkyB launch?", "thing"),
        ("Los Angeles is in the lower part of what?", "thing"),
        ("Tell me about the shooting", "sentence"),
        ("", "sentence"),
    ],
)
def test_classify_question(question: str, qtype: str) -> None:
    assert classify_question(question) == qtype


# --- spans per question type ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sentence", "source", "answer", "qtype"),
    [
        ("Who walked into the enlistment office?", ZININ, CBC, "Ruslan Zinin", "person"),
        ("How many men left Russia?", FLED, FAZ, "261,000", "number"),
        ("In which city was the enlistment office attacked?", ZININ, CBC, "Ust-Ilimsk", "place"),
        ("Where is the enlistment office that was attacked?", ZININ, CBC, "Ust-Ilimsk", "place"),
        ("How old was the resident who walked into the office?", ZININ, CBC, "25-year-old", "age"),
        ("How long was the line at the crossing?", QUEUE, FAZ, "20 kilometers", "distance"),
        ("How far is Izhevsk from Moscow?", IZHEVSK, MORNING, "600 miles", "distance"),
        ("When did Putin speak of a partial mobilization?", PUTIN_SPOKE, FAZ, "Last Wednesday", "date"),
        ("Which city did Putin and Lukashenko meet in?", SOCHI, CBC, "Sochi", "place"),
        ("Who is the Kremlin spokesperson?", PESKOV, CBC, "Dmitry Peskov", "person"),
        ("What did the gunman shout?", SHOUT, MORNING, "Nobody is going to fight!", "quote"),
        ("How many people have been arrested in protests?", ARRESTS, CBC, "2,000", "number"),
    ],
)
def test_span_per_question_type(question: str, sentence: str, source: str, answer: str, qtype: str) -> None:
    cands = [seed(source, sentence)]
    spans = read(question, cands)
    assert_offsets(spans, cands)
    assert spans[0].text == answer
    assert spans[0].qtype == qtype


def test_why_question_gets_the_whole_sentence() -> None:
    cands = [seed(MORNING, WHY), seed(CBC, PESKOV, cosine=0.1)]
    spans = read("Why did Zinin get outraged?", cands)
    assert spans[0].qtype == "sentence"
    assert spans[0].text == cands[0].text
    assert spans[0].start == cands[0].start and spans[0].end == cands[0].start + len(cands[0].text)


def test_whole_sentence_is_trimmed_of_whitespace() -> None:
    cands = synthetic("  The mobilization began last week.\n")
    [span] = read("Why did it begin?", cands)
    assert span.text == "The mobilization began last week."
    assert_offsets([span], cands)


def test_best_sentence_among_several() -> None:
    cands = [
        seed(CBC, PESKOV, cosine=0.2),
        seed(FAZ, FLED, cosine=0.6),
        seed(MORNING, IZHEVSK, cosine=0.1),
        seed(CBC, ARRESTS, cosine=0.3),
    ]
    spans = read("How many men left Russia after the mobilization announcement?", cands, top_n=3)
    assert spans[0].text == "261,000"
    assert spans[0].sentence == 1
    assert len(spans) <= 3
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert len({s.sentence for s in spans}) == len(spans)


def test_span_is_never_made_of_question_words() -> None:
    cands = [seed(CBC, PESKOV)]
    spans = read("Who is Dmitry Peskov?", cands)
    assert all(s.text not in ("Dmitry Peskov", "Peskov", "Dmitry") for s in spans)


def test_number_in_the_question_is_not_the_answer() -> None:
    cands = synthetic("In 2010 the census counted 22,680,010 people in the region.")
    [span] = read("How many people did the 2010 census count?", cands)
    assert span.text == "22,680,010"


def test_typed_question_without_a_fitting_span_falls_back_to_the_sentence() -> None:
    cands = synthetic("The attack was condemned by everyone.")
    [span] = read("How many people died?", cands)
    assert span.qtype == "sentence"
    assert span.text == cands[0].text


def test_what_question_gets_a_noun_phrase() -> None:
    cands = synthetic("The Kremlin announced the launch of the Sky Digital platform on Monday.")
    [span] = read("What platform did the Kremlin announce?", cands)
    assert span.text == "Sky Digital"
    assert span.qtype == "thing"


def test_what_question_as_sentence_when_configured() -> None:
    cands = synthetic("The Kremlin announced the launch of the Sky Digital platform on Monday.")
    [span] = read("What platform did the Kremlin announce?", cands, weights=ReaderWeights(thing_spans=False))
    assert span.qtype == "sentence"


def test_titles_are_left_out_of_person_names() -> None:
    text = "Irkutsk Region Governor Igor Kobzev said the recruiter is in hospital."
    found = [text[n.start : n.end] for n in names(text)]
    assert "Igor Kobzev" in found


def test_adjectives_of_nationality_are_weak_names() -> None:
    text = "Russian men flee the Siberian city."
    assert all(n.person < 0.5 for n in names(text))


def test_idf_weights_rare_terms() -> None:
    cands = synthetic("Officials said 13 people died in Izhevsk.", "Officials said 40 people died in the fire.")
    idf = {"izhevsk": 8.0, "offici": 0.1, "peopl": 0.1, "die": 0.5, "fire": 3.0}
    assert read("How many people died in Izhevsk?", cands, idf)[0].text == "13"
    assert read("How many people died in the fire?", cands, idf)[0].text == "40"


def test_top_n_and_pruning_agree_with_the_full_ranking() -> None:
    sentences = [ZININ, FLED, QUEUE, IZHEVSK, PUTIN_SPOKE, SOCHI, PESKOV, SHOUT, ARRESTS, WHY]
    cands = synthetic(*sentences)
    for question in ("How many men left Russia?", "Who is the spokesperson?", "What platform was it?", "Why?"):
        full = read(question, cands, top_n=len(cands))
        for n in (1, 3):
            assert read(question, cands, top_n=n) == full[:n]


def test_warm_up_and_clear_caches_do_not_change_results() -> None:
    cands = [seed(FAZ, FLED), seed(CBC, ZININ)]
    before = read("How many men left Russia?", cands)
    clear_caches()
    warm_up(c.text for c in cands)
    assert read("How many men left Russia?", cands) == before


# --- terms ------------------------------------------------------------------------------------------


def test_terms_are_lowercase_stems_without_stopwords() -> None:
    assert terms("The Arrests of Protesters in Russia's cities") == ["arrest", "protest", "russia", "citi"]
    assert terms("What is it?") == []
    assert terms("mobilisation") == terms("mobilization")


# --- odd input ----------------------------------------------------------------------------------


ODD = ["", " ", "\x00", "🙂🙂", "שלום עולם", "مرحبا بالعالم 123", "the of and", "\u202eevil", "İstanbul İİİ 5 km", "?!"]


@pytest.mark.parametrize("question", ODD + ["How many?", "Who?", "What is the what?"])
@pytest.mark.parametrize("sentence", ODD)
def test_odd_input_never_crashes(question: str, sentence: str) -> None:
    cands = synthetic(sentence, "Zinin, 25, fired 6 shots.")
    spans = read(question, cands)
    assert_offsets(spans, cands)
    assert classify_question(question) in {
        "person", "organization", "place", "name", "date", "number", "money", "percent",
        "age", "duration", "distance", "measure", "quote", "thing", "sentence",
    }


def test_no_candidates_or_no_room() -> None:
    assert read("Who?", []) == []
    assert read("Who?", synthetic("Zinin fired."), top_n=0) == []


def test_out_of_range_scores_are_clipped() -> None:
    cands = [SentenceCandidate("Zinin fired 6 shots.", "x", 0, 7.0, -3.0)]
    [span] = read("How many shots did Zinin fire?", cands)
    assert span.text == "6"
    assert 0.0 <= span.score <= 1.0


_sentences = st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=8)
_questions = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda wh, rest: f"{wh} {rest}?",
        st.sampled_from(["Who", "When", "Where", "How many", "How old", "How long", "How far", "Which city", "What",
                         "Why", "What did he say", "How much"]),
        st.text(max_size=40),
    ),
)


@settings(max_examples=300, deadline=None)
@given(_questions, _sentences, st.integers(min_value=0, max_value=10_000), st.floats(-1, 1), st.integers(1, 6))
def test_every_span_is_the_slice_of_its_sentence(
    question: str, sentences: list[str], offset: int, cosine: float, top_n: int
) -> None:
    cands = [SentenceCandidate(s, "f.txt", offset + 200 * i, cosine, 0.5) for i, s in enumerate(sentences)]
    spans = read(question, cands, top_n=top_n)
    assert len(spans) <= top_n
    assert len({s.sentence for s in spans}) == len(spans)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    assert_offsets(spans, cands)
    for span in spans:
        assert span.text.strip() or not span.text
