"""What a user sees from `ask` over the seeds, with the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.answering.question import refers_back, resolve_followup
from qa.errors import QuestionError
from qa.models import Response

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"

pytestmark = pytest.mark.slow


def file_text(source: str) -> str:
    return (SEEDS / source).read_text(encoding="utf-8")


def assert_offsets(r: Response) -> None:
    if r.answer is not None:
        a = r.answer
        text = file_text(a.source)
        assert text[a.start : a.end] == a.text
        assert text[a.sentence_start : a.sentence_end] == a.sentence
        assert a.text in a.sentence
        assert a.line == text.count("\n", 0, a.start) + 1
        assert 0.0 <= a.score <= 1.0
    for c in r.citations + [c for conflict in r.conflicts for c in conflict.citations]:
        text = file_text(c.source)
        assert text[c.start : c.end] == c.text
        assert c.line_start == text.count("\n", 0, c.start) + 1
        if c.value is not None:
            assert text[c.value_start : c.value_end] == c.value
    for p in r.passages:
        assert file_text(p.source)[p.start : p.end] == p.text


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Who shot the recruiting officer in Irkutsk?", "Zinin"),
        ("In which Siberian city was the military commissioner shot?", "Ust-Ilimsk"),
        ("How many people were killed in the school shooting in Izhevsk?", "13"),
        ("What was the name of the military commissar who was shot?", "Eliseev"),
    ],
)
def test_factoid_questions_get_short_cited_spans(seed_service, question, expected):
    r = seed_service.ask(question)
    assert r.answered, r.message
    assert expected in r.answer.text
    assert len(r.answer.text) < 40
    assert r.citations and r.citations[0].source == r.answer.source
    assert_offsets(r)


def test_fact_reported_by_several_outlets_lists_each_source(seed_service):
    # "the shooter" alone is ambiguous in the seeds (one article also reports a school shooter and
    # another attacker); the event the three outlets share is the Irkutsk shooting.
    r = seed_service.ask("How old was the shooter in Irkutsk?")
    sources = {c.source for c in r.citations}
    assert len(sources) >= 2 and r.supporting_sources == len(sources)
    assert r.total_sources == 3
    assert all("25" in (c.value or "") for c in r.citations)
    assert r.message == f"Reported by {len(sources)} of 3 sources"


@pytest.mark.parametrize(
    "question",
    [
        "How long was the queue at the Georgian border?",
        "How many men fled Russia?",
        "How many men left Russia after the mobilization?",
        "Who shot the recruiting officer?",
        "How many protesters have been arrested or detained since the mobilization was announced?",
    ],
)
def test_supporting_and_conflicting_values_are_each_sources_own_extraction(seed_service, question):
    """Every supporting source gives the answer's value; every value in a conflict is cut from its
    own source's text (the reader's extraction there), and differs from the other groups' values."""
    from qa.answering.agreement import same_answer

    r = seed_service.ask(question)
    assert_offsets(r)
    if not r.answered:
        return
    for c in r.citations:
        assert c.value and same_answer(c.value, r.answer.text), (c.value, r.answer.text)
    for group in r.conflicts:
        for c in group.citations:
            assert c.value and same_answer(c.value, group.value)
    values = [g.value for g in r.conflicts]
    assert all(not same_answer(a, b) for i, a in enumerate(values) for b in values[i + 1 :])


def test_question_outside_the_corpus_abstains_with_closest_passages(seed_service):
    r = seed_service.ask("What is the boiling point of mercury in Fahrenheit?")
    assert not r.answered and r.answer is None
    assert r.message == "No answer in the corpus"
    assert r.passages


def test_follow_up_uses_the_conversation(seed_service):
    first = "Who shot the recruiting officer in Irkutsk?"
    r = seed_service.ask("How old was he?", history=[first])
    assert r.answered and "25" in r.answer.text
    assert_offsets(r)


def test_a_second_follow_up_about_the_same_man_asks_about_him_not_his_age(seed_service):
    """"Who shot ...?" -> Zinin, "How old was he?" -> 25, then "What did he shout?" is about Zinin."""
    history = ["Who shot the recruiting officer in Irkutsk?", "How old was he?"]
    r = seed_service.ask("What did he shout?", history=history)
    assert r.answer is not None and ("fight" in r.answer.text.lower() or "home" in r.answer.text.lower()), r.answer
    assert_offsets(r)


def test_followup_resolution_substitutes_the_previous_answer():
    assert refers_back("How old was he?")
    assert not refers_back("Who shot the recruiting officer in Irkutsk?")
    reader_q, query = resolve_followup("How old was he?", "Who shot him?", "Ruslan Zinin")
    assert reader_q == "How old was Ruslan Zinin?"
    assert "Who shot him?" in query


def test_bad_questions_are_clear_errors(seed_service):
    for bad in ("", "   \n\t", "\x00\x01"):
        with pytest.raises(QuestionError):
            seed_service.ask(bad)
    r = seed_service.ask("Who shot the officer? " * 200)
    assert any("truncated" in n for n in r.notices)


def test_ask_cli_json_schema(seed_service):
    env_index = str(seed_service.settings.index_dir)
    out = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "Who shot the recruiting officer in Irkutsk?", "--json",
         "--corpus", str(SEEDS), "--index", env_index],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"question", "answered", "answer", "citations", "conflicts", "passages"} <= set(data)
    assert {"text", "sentence", "source", "start", "end", "line", "score"} <= set(data["answer"])
    assert {"source", "start", "end", "line_start", "line_end", "text"} <= set(data["citations"][0])
    assert {"source", "start", "end", "score", "text"} <= set(data["passages"][0])
    assert "Traceback" not in out.stderr


def test_ask_cli_empty_question_exits_2(tmp_path):
    out = subprocess.run([sys.executable, "-m", "qa.cli", "ask", "  "], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "empty question" in out.stderr
