"""qa.eval.evaluate: metrics checked against hand-computed values, question-set parsing, SQuAD conversion.

No model: the runner is driven by a fake service that returns canned Responses.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from qa.errors import EvalError
from qa.eval.evaluate import (
    EvalQuestion,
    Metrics,
    aggregate,
    check_floors,
    contains_answer,
    exact_match,
    load_questions,
    missing_sources,
    normalize_answer,
    parse_jsonl,
    percentile,
    run_eval,
    score_question,
    slugify,
    squad_cache_dir,
    token_f1,
    worst,
    write_corpus,
)
from qa.models import Answer, Citation, Passage, Response

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "eval"
SEEDS = ROOT / "seeds"
SEED_QUESTIONS = ROOT / "eval" / "questions.jsonl"
HELD_OUT_QUESTIONS = ROOT / "eval" / "held-out.jsonl"


# --- builders -----------------------------------------------------------------------


def passage(source: str, text: str) -> Passage:
    return Passage(source=source, start=0, end=len(text), line_start=1, line_end=1, score=0.5, text=text)


def answer(text: str, sentence: str, source: str, line: int = 1) -> Answer:
    return Answer(
        text=text,
        sentence=sentence,
        source=source,
        start=0,
        end=len(text),
        line=line,
        score=0.9,
        sentence_start=0,
        sentence_end=len(sentence),
    )


def respond(
    question: str,
    given: Answer | None = None,
    passages: Sequence[Passage] = (),
    citations: Sequence[Citation] = (),
) -> Response:
    return Response(
        question=question,
        answered=given is not None,
        answer=given,
        passages=list(passages),
        citations=list(citations),
        message="" if given else "No answer in the corpus",
    )


def question(
    qid: str, text: str, answers: list[str], sources: list[str], type_: str | None = None, history: list[str] | None = None
) -> EvalQuestion:
    return EvalQuestion(id=qid, question=text, answers=answers, sources=sources, type=type_, history=history or [])


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeService:
    """Canned responses by question text; each ask advances the clock by that question's latency."""

    def __init__(self, responses: dict[str, Response], latency_s: dict[str, float], clock: FakeClock) -> None:
        self.responses = responses
        self.latency_s = latency_s
        self.clock = clock
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def ask(self, question: str, history: Sequence[str] = ()) -> Response:
        self.calls.append((question, tuple(history)))
        self.clock.now += self.latency_s[question]
        return self.responses[question]


def filler(n: int) -> list[Passage]:
    return [passage("x.txt", f"unrelated passage {i}") for i in range(n)]


# --- the hand-computed fixture --------------------------------------------------------
# Six questions; the comments give each one's per-question scores.
#
# Q1 single, gold "Ruslan Zinin" in b.txt. Answered "Ruslan Zinin" from b.txt, sentence holds it;
#    passage 1 is a hit.                      em 1, f1 1, answer_hit 1, citation 1, rank 1
# Q2 conflict, gold "261,000" in a.txt. Answered "261,000 men" from c.txt (wrong file), sentence holds it;
#    f1: pred [261000, men] vs gold [261000] -> P 1/2, R 1 -> 2/3.
#    passages: c.txt holds it (wrong source), a.txt without it, a.txt with it -> rank 3.
#                                             em 0, f1 2/3, answer_hit 1, citation 0, rank 3
# Q3 paraphrase, gold "Sochi" in b.txt. Declined; the hit is passage 7.
#                                             em 0, f1 0, answer_hit 0, citation -, rank 7
# Q4 unanswerable. Declined.                  em 1, f1 1
# Q5 unanswerable. Answered "Monday".         em 0, f1 0
# Q6 single, gold "Igor Kobzev" in c.txt. Answered "Kobzev" from c.txt, sentence holds the gold;
#    f1: pred [kobzev] vs gold [igor, kobzev] -> P 1, R 1/2 -> 2/3. Only hit is passage 11 (past the cutoff).
#                                             em 0, f1 2/3, answer_hit 1, citation 1, rank -
# Latencies (ms): 10, 20, 30, 40, 50, 60.

Q = [
    question("q1", "Who shot the officer?", ["Ruslan Zinin"], ["b.txt"], "single"),
    question("q2", "How many men left?", ["261,000"], ["a.txt"], "conflict"),
    question("q3", "Where did the two leaders get together?", ["Sochi"], ["b.txt"], "paraphrase"),
    question("q4", "What weapon was used?", [], [], "unanswerable"),
    question("q5", "What was the weather?", [], [], "unanswerable"),
    question("q6", "Who is the governor?", ["Igor Kobzev"], ["c.txt"], "single"),
]
ZININ = "In the attack, 25-year-old resident Ruslan Zinin walked into the enlistment office."
LEFT = "Novaya Gazeta reported that 261,000 men left Russia."
KOBZEV = "According to Irkutsk Region Governor Igor Kobzev, the recruiter is at a hospital."
RESPONSES = {
    Q[0].question: respond(Q[0].question, answer("Ruslan Zinin", ZININ, "b.txt"), [passage("b.txt", ZININ)]),
    Q[1].question: respond(
        Q[1].question,
        answer("261,000 men", LEFT, "c.txt"),
        [passage("c.txt", LEFT), passage("a.txt", "Something else."), passage("a.txt", LEFT)],
    ),
    Q[2].question: respond(Q[2].question, None, [*filler(6), passage("b.txt", "They met in SOCHI on Monday."), *filler(5)]),
    Q[3].question: respond(Q[3].question, None, filler(3)),
    Q[4].question: respond(Q[4].question, answer("Monday", "On Monday it rained.", "a.txt"), filler(3)),
    Q[5].question: respond(Q[5].question, answer("Kobzev", KOBZEV, "c.txt"), [*filler(10), passage("c.txt", KOBZEV)]),
}
LATENCY_S = {q.question: 0.010 * (i + 1) for i, q in enumerate(Q)}


def run_fixture() -> tuple[FakeService, object]:
    clock = FakeClock()
    service = FakeService(RESPONSES, LATENCY_S, clock)
    report = run_eval(service, Q, clock=clock)
    return service, report


def test_overall_metrics_match_hand_computed_values() -> None:
    _, report = run_fixture()
    m = report.metrics  # type: ignore[attr-defined]
    assert (m.n, m.n_answerable, m.n_declined) == (6, 4, 2)
    assert m.exact_match == pytest.approx(2 / 6)  # Q1, Q4
    assert m.f1 == pytest.approx((1 + 2 / 3 + 0 + 1 + 0 + 2 / 3) / 6)  # = 5/9
    assert m.has_answer_f1 == pytest.approx((1 + 2 / 3 + 0 + 2 / 3) / 4)  # = 7/12
    assert m.answer_recall == pytest.approx(3 / 4)  # Q1, Q2, Q6
    assert m.recall_at_1 == pytest.approx(1 / 4)  # Q1
    assert m.recall_at_5 == pytest.approx(2 / 4)  # Q1, Q2
    assert m.recall_at_10 == pytest.approx(3 / 4)  # Q1, Q2, Q3
    assert m.mrr_at_10 == pytest.approx((1 + 1 / 3 + 1 / 7 + 0) / 4)  # = 31/84
    assert m.citation_accuracy == pytest.approx(2 / 3)  # answered answerable: Q1, Q2, Q6; right: Q1, Q6
    assert m.abstention_precision == pytest.approx(1 / 2)  # declined Q3, Q4; unanswerable: Q4
    assert m.abstention_recall == pytest.approx(1 / 2)  # unanswerable Q4, Q5; declined: Q4
    # sorted 10..60 ms: p50 at position 2.5 -> 35; p95 at position 4.75 -> 50 + 0.75 * 10
    assert m.latency_ms_p50 == pytest.approx(35.0)
    assert m.latency_ms_p95 == pytest.approx(57.5)


def test_per_question_results() -> None:
    _, report = run_fixture()
    r = {x.id: x for x in report.questions}  # type: ignore[attr-defined]
    assert [r[i].first_hit_rank for i in ("q1", "q2", "q3", "q6")] == [1, 3, 7, None]
    assert [r[i].citation_ok for i in ("q1", "q2", "q3", "q4", "q6")] == [True, False, None, None, True]
    assert [r[i].answer_hit for i in ("q1", "q2", "q3", "q4", "q6")] == [True, True, False, None, True]
    assert r["q2"].got == "261,000 men" and r["q2"].source == "c.txt" and r["q2"].f1 == pytest.approx(2 / 3)
    assert r["q3"].got == "" and not r["q3"].answered and r["q3"].source is None
    assert (r["q4"].em, r["q5"].em) == (1.0, 0.0)
    assert len(r["q6"].retrieved) == 10  # only the top 10 passages are kept
    assert r["q1"].latency_ms == pytest.approx(10.0)


def test_by_type_breakdown() -> None:
    _, report = run_fixture()
    by_type = report.by_type  # type: ignore[attr-defined]
    assert sorted(by_type) == ["conflict", "paraphrase", "single", "unanswerable"]
    single = by_type["single"]  # Q1 and Q6
    assert (single.n, single.n_answerable) == (2, 2)
    assert single.exact_match == pytest.approx(0.5)
    assert single.f1 == pytest.approx((1 + 2 / 3) / 2)
    assert (single.recall_at_1, single.recall_at_10, single.mrr_at_10) == (0.5, 0.5, 0.5)
    assert single.citation_accuracy == 1.0
    # nothing declined and nothing unanswerable: both abstention metrics are 1.0 by definition
    assert (single.abstention_precision, single.abstention_recall) == (1.0, 1.0)
    assert single.latency_ms_p50 == pytest.approx(35.0)  # midway between 10 and 60
    unanswerable = by_type["unanswerable"]  # Q4 declined, Q5 answered
    assert (unanswerable.exact_match, unanswerable.f1) == (0.5, 0.5)
    assert unanswerable.abstention_precision == 1.0  # one declined, it was unanswerable
    assert unanswerable.abstention_recall == 0.5
    # no answerable question: answerable-only metrics are undefined
    assert unanswerable.has_answer_f1 is None and unanswerable.recall_at_5 is None
    assert unanswerable.mrr_at_10 is None and unanswerable.citation_accuracy is None
    paraphrase = by_type["paraphrase"]  # Q3, declined, answerable
    assert paraphrase.abstention_precision == 0.0 and paraphrase.abstention_recall == 1.0
    assert paraphrase.citation_accuracy is None  # nothing answered


def test_runner_warms_up_once_and_passes_history() -> None:
    clock = FakeClock()
    followup = question("f", "How old was he?", ["25"], ["b.txt"], "followup", ["Who shot the officer?"])
    responses = {followup.question: respond(followup.question)}
    service = FakeService(responses, {followup.question: 0.5}, clock)
    done: list[tuple[int, int]] = []
    report = run_eval(service, [followup], clock=clock, progress=lambda d, t: done.append((d, t)))
    history = ("Who shot the officer?",)
    assert service.calls == [("How old was he?", history), ("How old was he?", history)]  # warm-up + measured
    assert report.metrics.latency_ms_p50 == pytest.approx(500.0)  # the warm-up is not measured
    assert done == [(1, 1)]


def test_json_report_uses_the_contract_names() -> None:
    _, report = run_fixture()
    data = json.loads(report.to_json())  # type: ignore[attr-defined]
    assert {"metrics", "by_type", "questions"} <= data.keys()
    expected_metrics = {
        "exact_match", "f1", "has_answer_f1", "answer_recall", "recall@1", "recall@5", "recall@10", "mrr@10",
        "citation_accuracy", "abstention_precision", "abstention_recall", "latency_ms_p50", "latency_ms_p95",
        "n", "n_answerable",
    }  # fmt: skip
    assert expected_metrics <= data["metrics"].keys()
    assert expected_metrics <= data["by_type"]["single"].keys()
    row = data["questions"][1]
    assert {"id", "question", "type", "expected", "got", "answered", "source", "f1", "em"} <= row.keys()
    assert (row["id"], row["got"], row["source"], row["expected"]) == ("q2", "261,000 men", "c.txt", ["261,000"])


# --- single-question edge cases ------------------------------------------------------


def test_answered_flag_without_an_answer_counts_as_declined() -> None:
    q = question("u", "Anything?", [], [])
    broken = Response(question="Anything?", answered=True, answer=None)
    result = score_question(q, broken, 1.0)
    assert not result.answered and result.em == 1.0


def test_citation_text_from_the_answer_source_counts_but_other_sources_do_not() -> None:
    q = question("c", "Who?", ["Igor Kobzev"], ["c.txt"])
    given = answer("Kobzev", "He said so.", "c.txt")
    same = Citation(source="c.txt", start=0, end=10, line_start=1, line_end=1, text=KOBZEV)
    other = Citation(source="b.txt", start=0, end=10, line_start=1, line_end=1, text=KOBZEV)
    assert score_question(q, respond("Who?", given, citations=[same]), 1.0).citation_ok is True
    assert score_question(q, respond("Who?", given, citations=[other]), 1.0).citation_ok is False
    assert score_question(q, respond("Who?", given), 1.0).answer_hit is False  # the sentence lacks the gold


def test_passage_from_a_gold_source_without_the_answer_is_not_a_hit() -> None:
    q = question("p", "Who?", ["Zinin"], ["b.txt"])
    result = score_question(q, respond("Who?", None, [passage("b.txt", "No name here."), passage("a.txt", "Zinin")]), 1)
    assert result.first_hit_rank is None


def test_all_metrics_undefined_or_vacuous_when_no_answerable_question_is_answered() -> None:
    q = question("a", "Who?", ["Zinin"], ["b.txt"])
    m = aggregate([score_question(q, respond("Who?"), 1.0)])
    assert (m.exact_match, m.f1, m.answer_recall, m.citation_accuracy) == (0.0, 0.0, 0.0, None)
    assert (m.abstention_precision, m.abstention_recall) == (0.0, 1.0)


# --- SQuAD metric functions ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Ruslan Zinin.", "ruslan zinin"),
        ("an  infantry\nfighting vehicle", "infantry fighting vehicle"),
        ("261,000", "261000"),
        ("Theatre", "theatre"),  # articles only as whole words
        ("A", ""),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def test_exact_match_and_f1() -> None:
    assert exact_match("the Sochi", "Sochi") == 1.0
    assert exact_match("Sochi.", "Sochi residence") == 0.0
    # pred [bocharov, ruchei, residence, in, sochi] vs gold [bocharov, ruchei, residence]:
    # common 3, P 3/5, R 1 -> F1 = 2 * 3/5 / (8/5) = 3/4
    assert token_f1("the Bocharov Ruchei residence in Sochi", "Bocharov Ruchei residence") == pytest.approx(0.75)
    # repeated tokens count once per occurrence: pred [a?] -> "zinin zinin" vs "zinin": common 1, P 1/2, R 1 -> 2/3
    assert token_f1("Zinin Zinin", "Zinin") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0 and token_f1("the", "Sochi") == 0.0 and token_f1("Moscow", "Sochi") == 0.0


def test_contains_answer_ignores_case_and_whitespace_runs() -> None:
    assert contains_answer("They met in\nSOCHI  on Monday", ["sochi on monday"])
    assert not contains_answer("They met in Sochi", ["Moscow", "Minsk"])
    assert not contains_answer("anything", [])


def test_percentile_interpolates_linearly() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)  # position 1.5
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0], 95) == pytest.approx(10.5)  # 9.5


def test_worst_lists_wrong_answers_lowest_f1_first() -> None:
    _, report = run_fixture()
    # f1 0: q5 (a wrong answer) before q3 (a decline); f1 2/3: q6 (gold never retrieved) before q2 (rank 3)
    assert [r.id for r in worst(report.questions)] == ["q5", "q3", "q6", "q2"]  # type: ignore[attr-defined]
    assert [r.id for r in worst(report.questions, 1)] == ["q5"]  # type: ignore[attr-defined]


def test_check_floors_names_each_failed_floor() -> None:
    _, report = run_fixture()
    m: Metrics = report.metrics  # type: ignore[attr-defined]
    floors = {"f1": 0.6, "recall@5": 0.5, "citation_accuracy": 0.7, "exact_match": 0.1}
    assert check_floors(m, floors) == ["f1 0.5556 < 0.6000", "citation_accuracy 0.6667 < 0.7000"]
    undefined = m.model_copy(update={"citation_accuracy": None})
    assert check_floors(undefined, {"citation_accuracy": 0.5}) == ["citation_accuracy undefined < 0.5000"]
    assert check_floors(undefined, {"citation_accuracy": 0.0}) == []


# --- question-set parsing --------------------------------------------------------------

GOOD = '{"id": "a", "question": "Who?", "answers": ["Zinin"], "sources": ["b.txt"]}'


def test_parse_jsonl_reads_every_field_and_skips_blank_lines() -> None:
    line = '{"id": "f", "question": "How old?", "answers": [], "sources": [], "history": ["Who?"], "type": "followup"}'
    questions = parse_jsonl(f"{GOOD}\n\n{line}\n", "set.jsonl")
    assert [q.id for q in questions] == ["a", "f"]
    assert questions[1].history == ["Who?"] and questions[1].type == "followup" and not questions[1].answerable
    assert questions[0].type is None and questions[0].answerable


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "b", "question": "Who?", "answers": [], "sources": []', r"set\.jsonl:3: invalid JSON"),
        ('["not", "an", "object"]', r"set\.jsonl:3: expected a JSON object, got list"),
        ('{"id": "b", "question": "Who?", "answers": []}', r"set\.jsonl:3: sources: Field required"),
        ('{"id": "b", "question": "Who?", "answers": [], "sources": [], "anwsers": []}', r"set\.jsonl:3: anwsers: Extra"),
        ('{"id": "b", "question": "  ", "answers": [], "sources": []}', r"set\.jsonl:3: question: must not be blank"),
        ('{"id": "b", "question": "Who?", "answers": "Zinin", "sources": []}', r"set\.jsonl:3: answers: Input should"),
        ('{"id": 7, "question": "Who?", "answers": [], "sources": []}', r"set\.jsonl:3: id: Input should be a valid str"),
        ('{"id": "b", "question": "Who?", "answers": ["Zinin"], "sources": []}', r"set\.jsonl:3: an answerable question"),
        ('{"id": "b", "question": "Who?", "answers": [], "sources": ["b.txt"]}', r"set\.jsonl:3: a question without"),
        (GOOD, r"set\.jsonl:3: duplicate id 'a' \(first on line 1\)"),
    ],
)
def test_parse_jsonl_errors_name_the_file_and_line(bad_line: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        parse_jsonl(f"{GOOD}\n\n{bad_line}\n", "set.jsonl")


def test_parse_jsonl_counts_only_newlines_as_line_breaks() -> None:
    odd = '{"id": "s", "question": "Who\u2028said\x85it?", "answers": [], "sources": []}'
    assert parse_jsonl(f"{GOOD}\r\n{odd}\r\n", "set.jsonl")[1].question == "Who\u2028said\x85it?"
    with pytest.raises(EvalError, match=r"set\.jsonl:3: "):
        parse_jsonl(f"{GOOD}\n{odd}\n{{", "set.jsonl")


def test_parse_jsonl_rejects_an_empty_set() -> None:
    with pytest.raises(EvalError, match=r"empty\.jsonl: no questions"):
        parse_jsonl("\n  \n", "empty.jsonl")


def test_load_questions_reads_jsonl_and_reports_unreadable_files(tmp_path: Path) -> None:
    loaded = load_questions(FIXTURES / "mini.jsonl")
    assert loaded.format == "jsonl" and [q.id for q in loaded.questions] == ["zinin", "age", "weapon"]
    assert loaded.articles == {}
    one = tmp_path / "one.json"
    one.write_text(GOOD, encoding="utf-8")  # a one-line set that happens to be valid JSON is still a set
    assert load_questions(one).format == "jsonl"
    with pytest.raises(EvalError, match="cannot read question set"):
        load_questions(tmp_path / "missing.jsonl")


def test_missing_sources_lists_sources_not_in_the_corpus() -> None:
    qs = [question("a", "Who?", ["Zinin"], ["002_5a7fdab8de9f5a87.txt", "nope.txt"])]
    assert missing_sources(qs, SEEDS) == ["a: nope.txt"]


# --- SQuAD -------------------------------------------------------------------------------


def test_squad_v2_is_converted_with_located_answers() -> None:
    squad = load_questions(FIXTURES / "squad-v2.json")
    assert squad.format == "squad"
    assert list(squad.articles) == ["ust-ilimsk-city.txt", "ust-ilimsk-city-2.txt"]  # slug clash resolved
    first = squad.articles["ust-ilimsk-city.txt"]
    assert first == "Ust-Ilimsk is a town in Irkutsk Oblast, Russia.\n\nIt lies on the Angara River."
    q = {x.id: x for x in squad.questions}
    assert q["q1"].answers == ["Irkutsk Oblast", "Irkutsk Oblast, Russia"]  # duplicates dropped, order kept
    assert q["q1"].sources == ["ust-ilimsk-city.txt"] and q["q1"].type == "answerable"
    assert not q["q2"].answers and not q["q2"].sources and q["q2"].type == "unanswerable"  # is_impossible
    # second paragraph: 47 characters + the blank line (2) + 15 into the paragraph
    assert [(s.start, s.end) for s in q["q3"].spans] == [(64, 76)]
    # a wrong answer_start is repaired by searching; an answer not in the paragraph keeps no span
    assert q["q4"].answers == ["2001", "1999"] and [(s.start, s.text) for s in q["q4"].spans] == [(21, "2001")]
    for item in squad.questions:
        for span in item.spans:
            assert squad.articles[span.source][span.start : span.end] == span.text


def test_squad_v1_questions_are_all_answerable() -> None:
    squad = load_questions(FIXTURES / "squad-v1.json")
    (only,) = squad.questions
    assert only.answers == ["Normandy"] and only.sources == ["normans.txt"] and only.spans[0].start == 20


def test_squad_file_with_a_bad_shape_is_an_eval_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "v2.0", "data": [{"title": "x"}]}', encoding="utf-8")
    with pytest.raises(EvalError, match=r"bad\.json: not a SQuAD file: data\.0\.paragraphs: Field required"):
        load_questions(bad)


def test_slugify() -> None:
    assert slugify("Sky_(United_Kingdom)") == "sky-united-kingdom"
    assert slugify("Île-de-France / Paris") == "ile-de-france-paris"
    assert slugify("../../etc/passwd") == "etc-passwd"
    assert slugify("東京") == "article"
    assert len(slugify("x" * 500)) == 80


def test_squad_corpus_is_cached_by_hash_and_not_rewritten(tmp_path: Path) -> None:
    squad = load_questions(FIXTURES / "squad-v2.json")
    cache = squad_cache_dir(squad, tmp_path / ".qa-cache")
    assert cache.name == f"squad-{squad.sha12}" and len(squad.sha12) == 12
    corpus = cache / "corpus"
    assert write_corpus(squad.articles, corpus) == 2
    target = corpus / "ust-ilimsk-city.txt"
    assert target.read_text(encoding="utf-8") == squad.articles["ust-ilimsk-city.txt"]
    os.utime(target, ns=(1, 1))
    (corpus / "stale.txt").write_text("old", encoding="utf-8")
    assert write_corpus(squad.articles, corpus) == 0  # unchanged: index staleness checks see the same mtime
    assert target.stat().st_mtime_ns == 1
    assert sorted(p.name for p in corpus.iterdir()) == ["ust-ilimsk-city-2.txt", "ust-ilimsk-city.txt"]


# --- the seed question set ------------------------------------------------------------


def _seed_texts() -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8-sig") for p in sorted(SEEDS.glob("*.txt"))}


def test_seed_question_set_shape() -> None:
    questions = load_questions(SEED_QUESTIONS).questions
    types = Counter(q.type for q in questions)
    assert len(questions) >= 60
    assert set(types) == {"single", "multi", "conflict", "paraphrase", "unanswerable", "followup"}
    assert 12 <= types["unanswerable"] <= 20
    assert all(q.history for q in questions if q.type == "followup")
    assert all(not q.answerable for q in questions if q.type == "unanswerable")
    assert all(len(q.sources) >= 2 for q in questions if q.type in ("multi", "conflict"))


@pytest.mark.parametrize("path", [SEED_QUESTIONS, HELD_OUT_QUESTIONS], ids=["seed set", "held-out set"])
def test_seed_answers_are_verbatim_and_sources_are_complete(path) -> None:
    texts = _seed_texts()
    problems = []
    for q in load_questions(path).questions:
        for gold in q.answers:  # verbatim (case-sensitive) in at least one listed source
            if not any(gold in texts[s] for s in q.sources):
                problems.append(f"{q.id}: {gold!r} is in none of its sources")
        for name, text in texts.items():  # listed <=> holds an answer, with the metrics' own matching
            if contains_answer(text, q.answers) != (name in q.sources):
                why = "is listed but lacks" if name in q.sources else "holds but is not listed for"
                problems.append(f"{q.id}: {name} {why} an answer")
    assert problems == []
