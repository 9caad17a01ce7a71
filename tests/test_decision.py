"""The decision to answer: tiers, agreement as evidence, spans that stop at the quote, and the eval's view of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.answering.abstain import Calibration, features
from qa.answering.pipeline import ReadingPlan, evidence, quote_end
from qa.answering.readers.base import ReaderSpan
from qa.commands import format_response
from qa.eval.evaluate import EvalQuestion, aggregate, score_question, threshold_curve
from qa.models import Answer, Response
from qa.retrieval.retrieve import Hit
from tests.test_answering_pipeline import ScriptedReader, service

CAL = Calibration(weights={"margin": 1.0}, bias=0.0, threshold=0.7, tentative_threshold=0.3)


@pytest.mark.parametrize(("p", "tier"), [(0.9, "answered"), (0.7, "answered"), (0.5, "tentative"), (0.3, "tentative"),
                                         (0.29, "declined"), (0.0, "declined")])
def test_each_probability_falls_in_one_tier(p, tier):
    assert CAL.status(p) == tier


def test_overridden_thresholds_move_the_tiers():
    assert CAL.overridden(threshold=0.9).status(0.8) == "tentative"
    assert CAL.overridden(0.9, 1.0).status(0.8) == "declined"  # the tier turned off
    assert CAL.overridden(threshold=0.2).status(0.22) == "answered"  # an answer threshold below the tentative one
    assert CAL.overridden(threshold=0.2).status(0.1) == "declined"
    assert Calibration(weights={}, bias=0.0, threshold=0.5).status(0.4) == "declined"  # no tier without one


def test_a_calibration_keeps_its_tentative_threshold(tmp_path: Path):
    path = tmp_path / "r.calibration.json"
    path.write_text(CAL.to_json(), encoding="utf-8")
    assert Calibration.load(path) == CAL
    old = {"features": ["margin"], "weights": {"margin": 1.0}, "bias": 0.0, "threshold": 0.6}
    path.write_text(json.dumps(old), encoding="utf-8")
    assert Calibration.load(path).tentative_threshold is None  # files from before the tier still load


def test_agreement_raises_the_probability_and_is_capped():
    cal = Calibration(weights={"margin": 0.5, "agree": 1.0}, bias=0.0, threshold=0.7)
    span = ReaderSpan(0, 0, 5, "Zinin", 3.0, 2.0)
    alone = cal.probability(features(span, 1.0, 0))
    agreed = cal.probability(features(span, 1.0, 0, agree=0.8))
    assert agreed > alone
    assert features(span, 1.0, 0, agree=7.0)["agree"] == features(span, 1.0, 0, agree=2.0)["agree"]


@pytest.mark.parametrize(
    ("text", "span", "kept"),
    [
        ('"Nobody will go!" he shouted at the men.', '"Nobody will go!" he shouted', '"Nobody will go!"'),
        ('He said "we will all go home now" and fired.', 'we will all go home now" and fired', "we will all go home now"),
        ("He shouted \u201cno one will fight\u201d twice.", "\u201cno one will fight\u201d twice",
         "\u201cno one will fight\u201d"),
        ("Ruslan Zinin, 25, walked in.", "Ruslan Zinin", "Ruslan Zinin"),  # no quotation: untouched
    ],
)
def test_a_quoted_answer_stops_where_the_quotation_closes(text, span, kept):
    start = text.index(span)
    assert text[start : start + quote_end(text, start, start + len(span))] == kept


class _Chunk:
    def __init__(self, source):
        self.source = source


class _Index:
    def __init__(self, sources):
        self.chunks = [_Chunk(s) for s in sources]

    def chunk(self, cid):
        return self.chunks[cid]


def test_evidence_reads_every_source_then_second_chunks_of_all_sources():
    # chunks 0..5: a (caption), b, a (the fact), c, b, c
    index = _Index(["a", "b", "a", "c", "b", "c"])
    hits = [Hit(i, 1.0 - i / 10, 0.0, 0.0, 0.0) for i in range(6)]
    read = evidence(index, hits, ReadingPlan(reader_passages=2, agreement_sources=2))
    assert [h.chunk for h in read] == [0, 1, 3, 2]  # c heard first, then a's second chunk (a source's best is not
    read = evidence(index, hits, ReadingPlan(reader_passages=1, agreement_sources=9))  # always the one with the fact)
    assert [h.chunk for h in read] == [0, 1, 3, 4, 2, 5]


def test_a_low_confidence_answer_is_offered_tentatively_with_its_citation(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 1.0, "300,000": -5.0})  # P = logistic(margin 1.0) ~ 0.73
    svc = service(tmp_path, reader, min_score=0.9, tentative_min_score=0.5)
    r = svc.ask("How many people left the region?")
    assert r.status == "tentative" and not r.answered
    assert r.answer is not None and r.answer.text == "261,000" and r.citations
    assert r.message.startswith("Possible answer — low confidence · Reported by")
    printed = format_response(r)
    assert printed.splitlines()[0] == "Possible answer — low confidence."
    assert "Possible answer: 261,000" in printed
    data = json.loads(r.model_dump_json())
    assert (data["status"], data["answered"]) == ("tentative", False)


def test_below_the_tentative_threshold_qa_declines(tmp_path):
    reader = ScriptedReader(r"\d[\d,]*", {"261,000": 1.0, "300,000": -5.0})
    r = service(tmp_path, reader, min_score=0.9, tentative_min_score=0.85).ask("How many people left the region?")
    assert r.status == "declined" and r.answer is None and r.message == "No answer in the corpus"


def test_response_status_and_answered_agree():
    old = Response(question="q", answered=True, answer=None, message="").model_dump()
    old.pop("status")
    assert Response.model_validate(old).status == "answered"  # JSON from before the tiers
    with pytest.raises(ValueError):
        Response(question="q", answered=True, status="tentative")


def _result(qid, answers, got, status, confidence):
    q = EvalQuestion(id=qid, question=qid, answers=answers, sources=["a.txt"] if answers else [])
    ans = Answer(text=got, sentence=got, source="a.txt", start=0, end=len(got), line=1, score=confidence,
                 sentence_start=0, sentence_end=len(got)) if status != "declined" else None
    r = Response(question=qid, answered=status == "answered", status=status, answer=ans, confidence=confidence,
                 message="" if ans else "No answer in the corpus")
    return score_question(q, r, 1.0)


def test_eval_counts_tentative_answers_and_reports_each_tiers_precision():
    results = [
        _result("a", ["Zinin"], "Zinin", "answered", 0.9),
        _result("b", ["Peskov"], "Putin", "answered", 0.8),
        _result("c", ["25"], "25", "tentative", 0.4),
        _result("d", [], "Monday", "tentative", 0.3),
        _result("e", [], "", "declined", 0.1),
        _result("f", ["Kobzev"], "", "declined", 0.05),
    ]
    m = aggregate(results)
    assert m.n_tentative == 2 and m.n_declined == 2
    assert m.f1 == pytest.approx((1 + 0 + 1 + 0 + 1 + 0) / 6)  # the tentative "25" scores
    assert (m.answered_precision, m.tentative_precision, m.declined_precision) == (0.5, 0.5, 0.5)
    curve = {p.threshold: p for p in threshold_curve(results)}
    assert curve[0.5].answerable_declined == pytest.approx(2 / 4)  # c and f
    assert curve[0.5].unanswerable_answered == 0.0
    assert curve[0.2].unanswerable_answered == pytest.approx(1 / 2)  # d
    assert curve[0.5].f1 == pytest.approx((1 + 0 + 0 + 1 + 1 + 0) / 6)
    assert curve[0.05].f1 is None  # f was declined although above: what it would have answered is not known
