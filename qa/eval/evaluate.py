"""Evaluation: question sets, SQuAD conversion, metrics and the runner.

Pure and UI-free: the runner takes anything with ``ask(question, history)`` and
returns an :class:`EvalReport`; it prints nothing. ``qa.eval.command`` draws it.

Question sets are JSON Lines (one :class:`EvalQuestion` per line) or SQuAD v1.1/v2.0
JSON files, which are turned into a corpus with one text file per article.
Metric definitions, including the edge cases, are in ``eval/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from qa.answering.squad_metrics import best_of, exact_match, normalize_answer, token_f1  # noqa: F401 (re-exported)
from qa.errors import EvalError
from qa.models import CorpusInfo, Response

RANK_CUTOFF = 10
"""Passages looked at for recall@k and mrr@10; the runner needs at least this many per answer."""

UNTYPED = "untyped"
"""by_type key for questions without a ``type``."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --- question sets ------------------------------------------------------------------


class GoldSpan(_Strict):
    """Where a gold answer sits in the corpus (filled in by the SQuAD conversion)."""

    source: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str


class EvalQuestion(_Strict):
    """One line of a question set."""

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answers: list[str] = Field(description="Acceptable answers, verbatim; empty when the corpus does not answer.")
    sources: list[str] = Field(description="Corpus files (relative paths) that contain an acceptable answer.")
    history: list[str] = Field(default=[], description="Earlier questions of the same conversation, oldest first.")
    type: str | None = Field(default=None, description="Free label used to break results down.")
    spans: list[GoldSpan] = Field(default=[], description="Located gold answers, when known (SQuAD input).")

    @field_validator("id", "question")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("answers", "sources", "history")
    @classmethod
    def _no_blank_items(cls, values: list[str]) -> list[str]:
        if any(not v.strip() for v in values):
            raise ValueError("must not contain blank strings")
        return values

    @model_validator(mode="after")
    def _sources_match_answers(self) -> EvalQuestion:
        if self.answers and not self.sources:
            raise ValueError("an answerable question needs at least one source")
        if not self.answers and (self.sources or self.spans):
            raise ValueError("a question without answers (unanswerable) must not list sources")
        return self

    @property
    def answerable(self) -> bool:
        return bool(self.answers)


class QuestionFile(_Strict):
    """A loaded question set; for SQuAD input also the corpus it implies."""

    path: str
    format: Literal["jsonl", "squad"]
    questions: list[EvalQuestion]
    sha12: str = Field(description="First 12 hex digits of the file's sha256.")
    articles: dict[str, str] = Field(default={}, description="SQuAD only: corpus file name -> text.")


def load_questions(path: Path) -> QuestionFile:
    """Read a JSON Lines question set or a SQuAD v1.1/v2.0 file (told apart by content)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalError(f"cannot read question set {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    sha12 = hashlib.sha256(data).hexdigest()[:12]
    whole = _json_or_none(text)
    if isinstance(whole, dict) and "data" in whole:
        questions, articles = squad_to_questions(whole, str(path))
        return QuestionFile(path=str(path), format="squad", questions=questions, sha12=sha12, articles=articles)
    return QuestionFile(path=str(path), format="jsonl", questions=parse_jsonl(text, str(path)), sha12=sha12)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_jsonl(text: str, name: str) -> list[EvalQuestion]:
    """Parse question-set lines; an error names ``name:line``. Blank lines are skipped."""
    questions: list[EvalQuestion] = []
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit in a string
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            raise EvalError(f"{name}:{lineno}: invalid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise EvalError(f"{name}:{lineno}: expected a JSON object, got {type(raw).__name__}")
        try:
            question = EvalQuestion.model_validate(raw)
        except ValidationError as exc:
            raise EvalError(f"{name}:{lineno}: {_first_error(exc)}") from None
        if question.id in first_line:
            raise EvalError(f"{name}:{lineno}: duplicate id {question.id!r} (first on line {first_line[question.id]})")
        first_line[question.id] = lineno
        questions.append(question)
    if not questions:
        raise EvalError(f"{name}: no questions")
    return questions


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(p) for p in error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def missing_sources(questions: Iterable[EvalQuestion], corpus: Path) -> list[str]:
    """``"id: source"`` for each listed source that is not a file of ``corpus``."""
    return [f"{q.id}: {s}" for q in questions for s in q.sources if not (corpus / s).is_file()]


# --- SQuAD --------------------------------------------------------------------------


class _SquadAnswer(BaseModel):
    text: str
    answer_start: int


class _SquadQA(BaseModel):
    id: str
    question: str
    answers: list[_SquadAnswer] = []
    is_impossible: bool = False


class _SquadParagraph(BaseModel):
    context: str
    qas: list[_SquadQA]


class _SquadArticle(BaseModel):
    title: str = ""
    paragraphs: list[_SquadParagraph]


class _SquadFile(BaseModel):
    data: list[_SquadArticle]


PARAGRAPH_SEPARATOR = "\n\n"


def slugify(title: str, max_len: int = 80) -> str:
    """A file-name-safe slug: ASCII letters and digits joined by '-', lowercase."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-").lower()
    return slug[:max_len].rstrip("-") or "article"


def squad_to_questions(raw: Mapping[str, Any], name: str) -> tuple[list[EvalQuestion], dict[str, str]]:
    """Turn SQuAD JSON into questions and ``{file name: article text}`` (paragraphs joined by a blank line)."""
    try:
        squad = _SquadFile.model_validate(raw)
    except ValidationError as exc:
        raise EvalError(f"{name}: not a SQuAD file: {_first_error(exc)}") from None
    questions: list[EvalQuestion] = []
    articles: dict[str, str] = {}
    seen: set[str] = set()
    for article in squad.data:
        source = _unique_name(slugify(article.title), articles)
        offset = 0
        contexts: list[str] = []
        for paragraph in article.paragraphs:
            contexts.append(paragraph.context)
            for qa in paragraph.qas:
                if qa.id in seen:
                    raise EvalError(f"{name}: duplicate question id {qa.id!r}")
                seen.add(qa.id)
                questions.append(_squad_question(qa, paragraph.context, source, offset))
            offset += len(paragraph.context) + len(PARAGRAPH_SEPARATOR)
        articles[source] = PARAGRAPH_SEPARATOR.join(contexts)
    if not questions:
        raise EvalError(f"{name}: no questions")
    return questions, articles


def _unique_name(slug: str, taken: Mapping[str, str]) -> str:
    name, n = f"{slug}.txt", 1
    while name in taken:
        n += 1
        name = f"{slug}-{n}.txt"
    return name


def _squad_question(qa: _SquadQA, context: str, source: str, offset: int) -> EvalQuestion:
    answers: list[str] = []
    spans: list[GoldSpan] = []
    if not qa.is_impossible:
        for answer in qa.answers:
            if not answer.text.strip():
                continue
            if answer.text not in answers:
                answers.append(answer.text)
            start = _locate(context, answer.text, answer.answer_start)
            if start is not None:
                span = GoldSpan(source=source, start=offset + start, end=offset + start + len(answer.text), text=answer.text)
                if span not in spans:
                    spans.append(span)
    return EvalQuestion(
        id=qa.id,
        question=qa.question,
        answers=answers,
        sources=[source] if answers else [],
        type="answerable" if answers else "unanswerable",
        spans=spans,
    )


def _locate(context: str, text: str, hint: int) -> int | None:
    """``hint`` when the answer is there (the usual case), else the occurrence nearest to it."""
    if context[hint : hint + len(text)] == text:
        return hint
    starts = [m.start() for m in re.finditer(re.escape(text), context)]
    return min(starts, key=lambda s: abs(s - hint)) if starts else None


def corpus_settings(question_file: QuestionFile, corpus: Path | None = None, index_dir: Path | None = None):
    """Settings for running a question set: for SQuAD input its own corpus (written to the
    cache folder) and index there unless ``index_dir`` is given; otherwise the given or
    configured corpus and index."""
    from qa.config import load_settings

    if question_file.format == "squad":
        cache = squad_cache_dir(question_file)
        write_corpus(question_file.articles, cache / "corpus")
        return load_settings(corpus=cache / "corpus", index_dir=index_dir or cache / "index")
    return load_settings(corpus=corpus, index_dir=index_dir)


def squad_cache_dir(question_file: QuestionFile, cache_root: Path = Path(".qa-cache")) -> Path:
    """``<cache_root>/squad-<sha12>``: holds ``corpus/`` and, by default, ``index/``."""
    return cache_root / f"squad-{question_file.sha12}"


def write_corpus(articles: Mapping[str, str], corpus: Path) -> int:
    """Write the article files into ``corpus``; unchanged files are left alone. Returns files written."""
    corpus.mkdir(parents=True, exist_ok=True)
    written = 0
    for name, text in articles.items():
        target = corpus / name
        data = text.encode("utf-8")
        if target.is_file() and target.read_bytes() == data:
            continue
        fd, tmp = tempfile.mkstemp(dir=corpus, prefix=".tmp-", suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
        written += 1
    for stale in corpus.glob("*.txt"):
        if stale.name not in articles:
            stale.unlink()
    return written


# --- metrics ------------------------------------------------------------------------

def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """Whether ``text`` contains one of ``golds``, ignoring case and runs of whitespace."""
    haystack = " ".join(text.casefold().split())
    return any(" ".join(g.casefold().split()) in haystack for g in golds)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def roc_auc(scores: Sequence[float | None], positive: Sequence[bool]) -> float | None:
    """Probability that a random positive scores above a random negative (ties count half);
    None without both classes."""
    pos = [s or 0.0 for s, p in zip(scores, positive) if p]
    neg = [s or 0.0 for s, p in zip(scores, positive) if not p]
    if not pos or not neg:
        return None
    neg.sort()
    wins = sum(bisect_left(neg, x) + 0.5 * (bisect_right(neg, x) - bisect_left(neg, x)) for x in pos)
    return wins / (len(pos) * len(neg))


def ratio(hits: float, total: int) -> float | None:
    """hits / total, or None when total is 0 (the metric is undefined)."""
    return hits / total if total else None


# --- results ------------------------------------------------------------------------


class QuestionResult(_Strict):
    """How one question went."""

    id: str
    question: str
    type: str | None
    history: list[str]
    expected: list[str]
    expected_sources: list[str]
    expected_spans: list[GoldSpan] = []
    answerable: bool
    answered: bool = Field(description="qa gave an answer: status 'answered' or 'tentative' (both count for EM/F1).")
    status: Literal["answered", "tentative", "declined"] = Field(
        default="declined", description="The response's tier (see Response.status)."
    )
    got: str = Field(description="The answer text; '' when the system declined.")
    source: str | None = None
    line: int | None = None
    sentence: str | None = None
    score: float | None = None
    confidence: float | None = None
    em: float
    f1: float
    answer_hit: bool | None = Field(description="Answer sentence holds a gold answer (answerable questions only).")
    citation_ok: bool | None = Field(description="Cited source and span are right (answered, answerable only).")
    first_hit_rank: int | None = Field(description=f"1-based rank of the first gold passage in the top {RANK_CUTOFF}.")
    retrieved: list[str] = Field(description=f"Sources of the top {RANK_CUTOFF} passages, in rank order.")
    conflicts: int = Field(description="Different values the sources give (0 when they agree).")
    message: str = ""
    latency_ms: float


def score_question(question: EvalQuestion, response: Response, latency_ms: float) -> QuestionResult:
    """Score one response against its question (pure). A tentative answer is scored as an answer."""
    answer = response.answer if response.status != "declined" else None
    answered = answer is not None
    got = answer.text if answer is not None else ""
    golds = question.answers
    if not question.answerable:
        em = f1 = 0.0 if answered else 1.0
    else:
        em = best_of(exact_match, got, golds) if answered else 0.0
        f1 = best_of(token_f1, got, golds) if answered else 0.0
    passages = response.passages[:RANK_CUTOFF]
    rank = None
    if question.answerable:
        rank = next(
            (i for i, p in enumerate(passages, start=1) if p.source in question.sources and contains_answer(p.text, golds)),
            None,
        )
    citation_ok = None
    if question.answerable and answer is not None:
        cited = [answer.sentence] + [c.text for c in response.citations if c.source == answer.source]
        citation_ok = answer.source in question.sources and any(contains_answer(t, golds) for t in cited)
    return QuestionResult(
        id=question.id,
        question=question.question,
        type=question.type,
        history=question.history,
        expected=golds,
        expected_sources=question.sources,
        expected_spans=question.spans,
        answerable=question.answerable,
        answered=answered,
        status=response.status if answered else "declined",
        got=got,
        source=answer.source if answer is not None else None,
        line=answer.line if answer is not None else None,
        sentence=answer.sentence if answer is not None else None,
        score=answer.score if answer is not None else None,
        confidence=response.confidence,
        em=em,
        f1=f1,
        answer_hit=(answer is not None and contains_answer(answer.sentence, golds)) if question.answerable else None,
        citation_ok=citation_ok,
        first_hit_rank=rank,
        retrieved=[p.source for p in passages],
        conflicts=len(response.conflicts),
        message=response.message,
        latency_ms=latency_ms,
    )


class Metrics(BaseModel):
    """Aggregate metrics; ``None`` where the denominator is empty (see eval/README.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    n: int
    n_answerable: int
    n_declined: int
    n_tentative: int = Field(default=0, description="Questions answered tentatively (counted as answered).")
    exact_match: float
    f1: float
    has_answer_f1: float | None
    answer_recall: float | None
    recall_at_1: float | None = Field(alias="recall@1")
    recall_at_5: float | None = Field(alias="recall@5")
    recall_at_10: float | None = Field(alias="recall@10")
    mrr_at_10: float | None = Field(alias="mrr@10")
    citation_accuracy: float | None
    abstention_precision: float
    abstention_recall: float
    abstention_auc: float | None = Field(
        default=None, description="How well the confidence ranks answerable above unanswerable questions (ROC AUC)."
    )
    answered_precision: float | None = Field(
        default=None, description="Share of confident answers that are right (answerable, F1 >= 0.5).")
    tentative_precision: float | None = Field(
        default=None, description="Share of tentative answers that are right (answerable, F1 >= 0.5).")
    declined_precision: float | None = Field(
        default=None, description="Share of declines that are to unanswerable questions.")
    answer_words: float | None = Field(
        default=None, description="Mean words of the answers given to answerable questions.")
    gold_words: float | None = Field(
        default=None, description="Mean words of the closest gold answer of the same questions (by F1).")
    latency_ms_p50: float | None
    latency_ms_p95: float | None

    def value(self, name: str) -> float | None:
        """A metric by its report name, e.g. ``'recall@5'``."""
        return self.model_dump()[name]


def aggregate(results: Sequence[QuestionResult]) -> Metrics:
    """Metrics over ``results`` (at least one)."""
    n = len(results)
    answerable = [r for r in results if r.answerable]
    n_ans = len(answerable)
    declined = [r for r in results if not r.answered]
    unanswerable = [r for r in results if not r.answerable]
    cited = [r for r in answerable if r.answered]
    latencies = [r.latency_ms for r in results]
    tier = {name: [r for r in results if r.status == name] for name in ("answered", "tentative")}

    def right(r: QuestionResult) -> bool:
        return r.answerable and r.f1 >= RIGHT_F1

    def closest_gold(r: QuestionResult) -> str:
        return max(r.expected, key=lambda g: token_f1(r.got, g))

    def recall_at(k: int) -> float | None:
        return ratio(sum(r.first_hit_rank is not None and r.first_hit_rank <= k for r in answerable), n_ans)

    mrr = sum(1 / r.first_hit_rank for r in answerable if r.first_hit_rank is not None)
    return Metrics(
        n=n,
        n_answerable=n_ans,
        n_declined=len(declined),
        n_tentative=len(tier["tentative"]),
        exact_match=sum(r.em for r in results) / n,
        f1=sum(r.f1 for r in results) / n,
        has_answer_f1=ratio(sum(r.f1 for r in answerable), n_ans),
        answer_recall=ratio(sum(bool(r.answer_hit) for r in answerable), n_ans),
        recall_at_1=recall_at(1),
        recall_at_5=recall_at(5),
        recall_at_10=recall_at(10),
        mrr_at_10=ratio(mrr, n_ans),
        citation_accuracy=ratio(sum(bool(r.citation_ok) for r in cited), len(cited)),
        # 0/0: nothing declined means no wrong abstention; no unanswerable question means none missed.
        abstention_precision=sum(not r.answerable for r in declined) / len(declined) if declined else 1.0,
        abstention_recall=sum(not r.answered for r in unanswerable) / len(unanswerable) if unanswerable else 1.0,
        abstention_auc=roc_auc([r.confidence for r in results], [r.answerable for r in results]),
        answered_precision=ratio(sum(map(right, tier["answered"])), len(tier["answered"])),
        tentative_precision=ratio(sum(map(right, tier["tentative"])), len(tier["tentative"])),
        declined_precision=ratio(sum(not r.answerable for r in declined), len(declined)),
        answer_words=ratio(sum(len(r.got.split()) for r in cited), len(cited)),
        gold_words=ratio(sum(len(closest_gold(r).split()) for r in cited), len(cited)),
        latency_ms_p50=percentile(latencies, 50),
        latency_ms_p95=percentile(latencies, 95),
    )


RIGHT_F1 = 0.5
"""An answer counts as right for the tiers' precision when its token F1 against a gold answer is at least this."""

CURVE_THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


class CurvePoint(_Strict):
    """What answering only at or above ``threshold`` (of the confidence) would do."""

    threshold: float
    answerable_declined: float | None = Field(description="Share of answerable questions declined.")
    unanswerable_answered: float | None = Field(description="Share of unanswerable questions answered.")
    f1: float | None = Field(description="Overall F1 at this threshold; None below the lowest answer qa gave "
                             "(the answers it declined are not known).")


def threshold_curve(results: Sequence[QuestionResult]) -> list[CurvePoint]:
    """The decision threshold's effect, from each question's confidence (set also when qa declines)."""
    answerable = [r for r in results if r.answerable]
    unanswerable = [r for r in results if not r.answerable]
    points = []
    for t in CURVE_THRESHOLDS:
        above = [(r.confidence or 0.0) >= t for r in results]
        known = all(r.answered for r, a in zip(results, above) if a)
        f1 = sum((r.f1 if a else 0.0) if r.answerable else (0.0 if a else 1.0) for r, a in zip(results, above))
        points.append(CurvePoint(
            threshold=t,
            answerable_declined=ratio(sum((r.confidence or 0.0) < t for r in answerable), len(answerable)),
            unanswerable_answered=ratio(sum((r.confidence or 0.0) >= t for r in unanswerable), len(unanswerable)),
            f1=f1 / len(results) if known else None,
        ))
    return points


def by_type(results: Sequence[QuestionResult]) -> dict[str, Metrics]:
    groups: dict[str, list[QuestionResult]] = {}
    for r in results:
        groups.setdefault(r.type or UNTYPED, []).append(r)
    return {name: aggregate(group) for name, group in sorted(groups.items())}


def worst(results: Sequence[QuestionResult], limit: int = 10) -> list[QuestionResult]:
    """Questions not answered exactly, worst first: lowest F1, then wrong answers before abstentions,
    then those whose gold passage was not retrieved."""
    wrong = [r for r in results if r.em < 1.0]
    return sorted(wrong, key=lambda r: (r.f1, not r.answered, r.first_hit_rank is not None))[:limit]


# --- the runner ---------------------------------------------------------------------


class Asker(Protocol):
    def ask(self, question: str, history: Sequence[str] = ()) -> Response: ...


EvalProgress = Callable[[int, int], None]
"""progress(done, total) after each question."""


class EvalReport(BaseModel):
    """What ``qa eval`` writes as JSON: run context, ``metrics``, ``by_type`` and ``questions``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question_set: str = ""
    format: Literal["jsonl", "squad"] = "jsonl"
    created_at: str = ""
    model: str | None = None
    corpus: CorpusInfo | None = None
    settings: dict[str, Any] | None = None
    limit: int | None = None
    seconds: float = Field(default=0.0, description="Wall time of the question loop.")
    metrics: Metrics
    by_type: dict[str, Metrics]
    curve: list[CurvePoint] = Field(default=[], description="The threshold's effect (see threshold_curve).")
    questions: list[QuestionResult]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2, by_alias=True)


def run_eval(
    service: Asker,
    questions: Sequence[EvalQuestion],
    *,
    progress: EvalProgress | None = None,
    clock: Callable[[], float] = time.perf_counter,
    warmup: bool = True,
) -> EvalReport:
    """Ask every question (after one unmeasured warm-up ask) and score the answers."""
    if not questions:
        raise EvalError("no questions to evaluate")
    if warmup:
        service.ask(questions[0].question, questions[0].history)
    results: list[QuestionResult] = []
    started = clock()
    for done, question in enumerate(questions, start=1):
        t0 = clock()
        response = service.ask(question.question, question.history)
        latency_ms = (clock() - t0) * 1000.0
        results.append(score_question(question, response, latency_ms))
        if progress is not None:
            progress(done, len(questions))
    return EvalReport(
        created_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        seconds=clock() - started,
        metrics=aggregate(results),
        by_type=by_type(results),
        curve=threshold_curve(results),
        questions=results,
    )


# --- floors -------------------------------------------------------------------------


def check_floors(metrics: Metrics, floors: Mapping[str, float]) -> list[str]:
    """One message per floor not met, e.g. ``'f1 0.4120 < 0.5000'``. An undefined metric fails a floor above 0."""
    failed = []
    for name, floor in floors.items():
        value = metrics.value(name)
        if value is None:
            if floor > 0:
                failed.append(f"{name} undefined < {floor:.4f}")
        elif value < floor:
            failed.append(f"{name} {value:.4f} < {floor:.4f}")
    return failed
