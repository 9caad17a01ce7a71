"""Retrieved hits -> the reader -> an answer with citations, agreement and abstention.

1. Evidence: the best ``reader_passages`` chunks, plus the best chunk of every other source
   among the retrieved pool (up to ``agreement_sources``), read in one batch.
2. The answer is the span most likely to be right (the calibrated probability weighs the
   reader's span score against its passage's retrieval score and rank); it is cut at the end of the sentence it starts in,
   so it is always shown inside one verbatim sentence.
3. Its probability of being right comes from the reader's calibration (``abstain``); below the
   threshold ``qa`` declines.
4. Agreement: for every other source, the reader's best span in that source's passages is
   that source's answer, if the same calibration would answer with it. Equal values support;
   different values are a conflict. A source never counts for merely mentioning a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from qa.answering.abstain import Calibration, features
from qa.answering.agreement import same_answer
from qa.answering.readers.base import PassageText, ReaderSpan, SpanReader
from qa.index import LoadedIndex
from qa.lexical import terms
from qa.models import Answer, Citation, Conflict, Passage, Response, Sentence
from qa.retrieve import Hit, diverse

NO_ANSWER = "No answer in the corpus"


@dataclass(frozen=True, slots=True)
class ReadingPlan:
    reader_passages: int = 3
    """Best chunks the reader reads for the answer."""
    agreement_sources: int = 4
    """Other sources whose best chunk is read too, for agreement and conflicts."""
    pool: int = 30
    """Retrieved chunks in which other sources' best chunks are looked for."""


@dataclass
class Trace:
    """What happened, for calibration and debugging (``QAService.explain``)."""

    passages: list[tuple[str, int, float]] = field(default_factory=list)
    """(source, chunk id, retrieval score) of every chunk read."""
    features: dict[str, float] | None = None
    text: str = ""
    score: float = 0.0
    source_answers: dict[str, tuple[str, float]] = field(default_factory=dict)
    """source -> (its answer, its probability) for every source read."""


def evidence(index: LoadedIndex, hits: Sequence[Hit], plan: ReadingPlan) -> list[Hit]:
    chosen = list(hits[: plan.reader_passages])
    seen = {index.chunks[h.chunk].source for h in chosen}
    for h in hits[: plan.pool]:
        if len(chosen) >= plan.reader_passages + plan.agreement_sources:
            break
        src = index.chunks[h.chunk].source
        if src not in seen:
            chosen.append(h)
            seen.add(src)
    return chosen


def respond(
    question: str,
    reader_question: str,
    query: str,
    index: LoadedIndex,
    hits: Sequence[Hit],
    reader: SpanReader,
    calibration: Calibration,
    *,
    top_k: int,
    plan: ReadingPlan = ReadingPlan(),
    min_score: float | None = None,
    notices: Sequence[str] = (),
    trace: Trace | None = None,
) -> Response:
    total = index.manifest.counts.get("files", 0)
    shown = [_passage(index, h) for h in diverse(index, hits, top_k)]
    base = dict(question=question, passages=shown, total_sources=total, notices=list(notices), query=query)
    read = evidence(index, hits, plan)
    trace = trace if trace is not None else Trace()
    trace.passages = [(index.chunks[h.chunk].source, h.chunk, h.score) for h in read]
    if not read:
        return Response(answered=False, message=NO_ANSWER, **base)
    chunks = [index.chunks[h.chunk] for h in read]
    output = reader.read(reader_question, [PassageText(c.source, c.start, c.text) for c in chunks])
    top = read[0].score or 1.0

    qterms = terms(reader_question)

    def probability(span: ReaderSpan) -> tuple[float, dict[str, float]]:
        chunk = chunks[span.passage]
        sentence = _sentence_at(index, chunk.sentence_start, chunk.sentence_end, span.start).text
        feats = features(span, read[span.passage].score / top, span.passage, qterms, chunk.text, sentence,
                         index.bm25.idf)
        return calibration.probability(feats), feats

    # Spans ranked by their probability of being right, which weighs the reader's score against
    # the retrieval of its passage; each source's answer is its most probable span.
    ranked = sorted(((probability(span), span) for span in output.spans), key=lambda x: -x[0][0])
    by_source: dict[str, tuple[ReaderSpan, float]] = {}
    for (p, _), span in ranked:
        by_source.setdefault(chunks[span.passage].source, (span, p))
    trace.source_answers = {s: (sp.text, p) for s, (sp, p) in by_source.items()}
    if not ranked:
        return Response(answered=False, message=NO_ANSWER, **base)
    (score, feats), best = ranked[0]
    trace.features, trace.text, trace.score = feats, best.text, score
    threshold = calibration.threshold if min_score is None else min_score
    if score < threshold:
        return Response(answered=False, message=NO_ANSWER, confidence=round(score, 4), **base)

    lead_source = chunks[best.passage].source
    support = [_citation(index, chunks[best.passage].sentence_start, chunks[best.passage].sentence_end, best)]
    others: list[tuple[str, Citation]] = []
    for src, (span, p) in by_source.items():
        if src == lead_source or p < threshold:
            continue
        chunk = chunks[span.passage]
        cite = _citation(index, chunk.sentence_start, chunk.sentence_end, span)
        if same_answer(span.text, best.text):
            support.append(cite)
        else:
            others.append((cite.value or span.text, cite))
    support = _fullest_first(support) if not others else support
    lead = support[0]
    answer = Answer(
        text=lead.value, sentence=lead.text, source=lead.source, start=lead.value_start, end=lead.value_end,
        line=lead.line_start + lead.text.count("\n", 0, lead.value_start - lead.start), score=round(score, 4),
        sentence_start=lead.start, sentence_end=lead.end,
    )
    conflicts: list[Conflict] = []
    if others:
        groups: list[tuple[str, list[Citation]]] = [(lead.value, support)]
        for value, cite in others:
            for gvalue, cites in groups[1:]:
                if same_answer(value, gvalue):
                    cites.append(cite)
                    break
            else:
                groups.append((value, [cite]))
        conflicts = [Conflict(value=v, sources=sorted({c.source for c in cs}), citations=cs) for v, cs in groups]
        message = "Sources disagree: " + "; ".join(f"{c.value} ({', '.join(c.sources)})" for c in conflicts)
    else:
        n = len({c.source for c in support})
        message = f"Reported by {n} of {total} source{'s' if total != 1 else ''}"
    return Response(
        answered=True, answer=answer, citations=support, conflicts=conflicts,
        supporting_sources=len({c.source for c in support}), message=message, confidence=round(score, 4), **base,
    )


def _sentence_at(index: LoadedIndex, first: int, last: int, offset: int) -> Sentence:
    for sid in range(first, last):
        s = index.sentences[sid]
        if s.start <= offset < s.end:
            return s
    # between sentences (white space): the next one
    return next((index.sentences[sid] for sid in range(first, last) if index.sentences[sid].start >= offset),
                index.sentences[last - 1])


def _citation(index: LoadedIndex, first: int, last: int, span: ReaderSpan) -> Citation:
    """The sentence holding the span's start, with the span cut at that sentence's end."""
    sent = _sentence_at(index, first, last, span.start)
    start = max(span.start, sent.start)
    end = max(start, min(span.end, sent.end))
    value = sent.text[start - sent.start : end - sent.start]
    stripped = value.rstrip()
    end -= len(value) - len(stripped)
    return Citation(
        source=sent.source, start=sent.start, end=sent.end, line_start=sent.line_start, line_end=sent.line_end,
        text=sent.text, value=stripped, value_start=start, value_end=end,
    )


def _fullest_first(citations: list[Citation]) -> list[Citation]:
    """Lead with the fullest wording of an agreed value ('Ruslan Zinin' over 'Zinin')."""
    first = citations[0]
    words = (first.value or "").lower().split()
    fuller = [c for c in citations[1:] if c.value and len(c.value) > len(first.value or "")
              and all(w in c.value.lower().split() for w in words)]
    if not fuller:
        return citations
    lead = max(fuller, key=lambda c: len(c.value or ""))
    return [lead] + [c for c in citations if c is not lead]


def _passage(index: LoadedIndex, hit: Hit) -> Passage:
    c = index.chunks[hit.chunk]
    return Passage(source=c.source, start=c.start, end=c.end, line_start=c.line_start, line_end=c.line_end,
                   score=round(hit.score, 4), text=c.text)
