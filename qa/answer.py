"""From retrieved chunks to a Response: the extractive answer, its sources, conflicts, abstention.

Pure functions over a loaded index; no model call happens here (the question
vector is given), so this is testable without the UI or the model.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from qa.answering.agreement import fullest_first
from qa.index import LoadedIndex
from qa.lexical import terms
from qa.models import Answer, Citation, Conflict, Response, Sentence
from qa.reader import SentenceCandidate, SpanCandidate, is_vague, read, same_value
from qa.retrieve import Hit, shown_passages

NO_ANSWER = "No answer in the corpus"
READER_CHUNKS = 8  # best chunks whose sentences the reader sees
PER_SOURCE_POOL = 30  # ... plus the best chunk of every source among this many
CONFLICT_RATIO = 0.55  # a conflicting value must score this share of the answer's score
SAME_SENTENCE_COS = 0.72  # for sentence answers: another source's sentence this close says the same
CONFLICT_COS = 0.5  # a different value counts as a conflict only in a sentence this close to the answer's
AGREE_RATIO = 0.35  # the same value in another source supports the answer from this share of its score
QUALITY_SLACK = 0.25  # a conflicting span may fit its sentence this much worse than the answer fits its own


# --- calibration ----------------------------------------------------------------------


@lru_cache(maxsize=1)
def calibration() -> dict:
    """Logistic weights for the answer score, fitted by eval/calibrate.py (see README)."""
    with resources.files("qa").joinpath("calibration.json").open(encoding="utf-8") as fh:
        return json.load(fh)


FEATURES = (
    "span", "sentence", "passage", "cosine", "coverage", "typed", "bm25",
    "sentence_coverage", "missing", "name_missing",
)


def features(
    question: str, span: SpanCandidate, cand: SentenceCandidate, top: Hit, context: str, idf: dict[str, float]
) -> dict:
    """Evidence that the answer is right. ``context`` is the text of the answer's chunk.

    Besides the reader's and retriever's scores: how much of the question (idf-weighted)
    the chunk and the sentence cover, how rare the rarest question term missing from the
    chunk is, and whether a name from the question is missing from it. Questions the
    corpus cannot answer often ask about something the best passage never mentions.
    """
    qterms = terms(question)
    have = set(terms(context))
    missing = [idf.get(t, 1.0) for t in set(qterms) if t not in have]
    top_idf = max((idf.get(t, 1.0) for t in qterms), default=1.0) or 1.0
    return {
        "span": span.score,
        "sentence": span.sentence_score,
        "passage": top.score,
        "cosine": cand.cosine,
        "coverage": coverage(qterms, context, idf),
        "typed": 1.0 if span.qtype != "sentence" else 0.0,
        "bm25": top.bm25,
        "sentence_coverage": coverage(qterms, cand.text, idf),
        "missing": max(missing, default=0.0) / top_idf,
        "name_missing": 1.0 if any(terms(n)[0] not in have for n in _question_names(question) if terms(n)) else 0.0,
    }


_NAME_IN_QUESTION = re.compile(r"(?<=\S )[A-Z][\w'’-]+")


def _question_names(question: str) -> list[str]:
    """Capitalised words of a question other than its first word ('Who met Putin in Sochi?')."""
    return _NAME_IN_QUESTION.findall(question)


def answer_probability(feats: dict) -> float:
    cal = calibration()
    z = cal["bias"] + sum(cal["weights"][k] * feats[k] for k in FEATURES)
    return 1.0 / (1.0 + math.exp(-z))


def coverage(question_terms: Sequence[str], text: str, idf: dict[str, float]) -> float:
    """idf-weighted share of the question's terms found in ``text``."""
    qs = set(question_terms)
    if not qs:
        return 0.0
    have = set(terms(text))
    total = sum(idf.get(t, 1.0) for t in qs)
    return sum(idf.get(t, 1.0) for t in qs if t in have) / total if total else 0.0


# --- composing the response -----------------------------------------------------------


@dataclass
class Evidence:
    """What the reader looked at: candidate sentences (parallel to ``candidates``)."""

    sentences: list[Sentence]
    candidates: list[SentenceCandidate]


def gather(index: LoadedIndex, hits: Sequence[Hit], qvec: np.ndarray) -> Evidence:
    """Sentences of the best chunks, plus the best chunk of every source in the pool."""
    if not hits:
        return Evidence([], [])
    chosen: list[Hit] = list(hits[:READER_CHUNKS])
    seen_sources = {index.chunks[h.chunk].source for h in chosen}
    for h in hits[:PER_SOURCE_POOL]:
        src = index.chunks[h.chunk].source
        if src not in seen_sources:
            chosen.append(h)
            seen_sources.add(src)
    top = hits[0].score or 1.0
    best_for: dict[int, float] = {}
    for h in chosen:
        c = index.chunks[h.chunk]
        for sid in range(c.sentence_start, c.sentence_end):
            best_for[sid] = max(best_for.get(sid, 0.0), h.score / top)
    ids = sorted(best_for)
    sims = np.asarray(index.sentence_vectors[ids] @ qvec, dtype=np.float32) if ids else np.zeros(0)
    sentences = [index.sentences[i] for i in ids]
    candidates = [
        SentenceCandidate(
            text=s.text, source=s.source, start=s.start, cosine=float(sim), passage_score=min(1.0, best_for[s.id])
        )
        for s, sim in zip(sentences, sims)
    ]
    return Evidence(sentences, candidates)


def model_spans(span_reader, question: str, index: LoadedIndex, hits: Sequence[Hit], evidence: Evidence) -> list[SpanCandidate]:
    """Spans from a transformers QA model over the best chunks, placed in their sentences.

    A span that runs past its sentence is cut at the sentence's end, so the answer is
    still shown inside one verbatim sentence.
    """
    passages = [(index.chunks[h.chunk].source, index.chunks[h.chunk].start, index.chunks[h.chunk].text)
                for h in hits[:READER_CHUNKS]]
    where = {(s.source, s.start): i for i, s in enumerate(evidence.sentences)}
    by_source: dict[str, list[Sentence]] = {}
    for s in evidence.sentences:
        by_source.setdefault(s.source, []).append(s)
    out: list[SpanCandidate] = []
    for ms in span_reader.read(question, passages, top_n=READER_CHUNKS):
        sent = next((s for s in by_source.get(ms.source, []) if s.start <= ms.start < s.end), None)
        if sent is None:
            continue
        end = min(ms.end, sent.end)
        text = sent.text[ms.start - sent.start : end - sent.start]
        if text.strip():
            out.append(SpanCandidate(where[(sent.source, sent.start)], ms.start, end, text, "span", ms.score, ms.score))
    return out


def compose(
    question: str,
    reader_question: str,
    query: str,
    index: LoadedIndex,
    hits: Sequence[Hit],
    qvec: np.ndarray,
    top_k: int,
    min_score: float | None,
    total_sources: int,
    notices: Sequence[str] = (),
    explain: dict | None = None,
    span_reader=None,
) -> Response:
    """Build the Response. ``explain``, when given, receives the reader's features (for calibration)."""
    passages = shown_passages(index, hits, top_k)
    base = dict(question=question, passages=passages, total_sources=total_sources, notices=list(notices), query=query)
    evidence = gather(index, hits, qvec)
    if span_reader is not None:
        spans = model_spans(span_reader, reader_question, index, hits, evidence)
    else:
        spans = read(reader_question, evidence.candidates, index.bm25.idf, top_n=len(evidence.candidates))
    if not spans:
        return Response(answered=False, message=NO_ANSWER, **base)
    best = spans[0]
    cand = evidence.candidates[best.sentence]
    chunk_text = index.chunks[evidence.sentences[best.sentence].chunk].text
    feats = features(reader_question, best, cand, hits[0], chunk_text, index.bm25.idf)
    score = answer_probability(feats)
    if explain is not None:
        explain.update(features=feats, text=best.text, qtype=best.qtype, score=score)
    if score < (calibration()["threshold"] if min_score is None else min_score):
        return Response(answered=False, message=NO_ANSWER, confidence=round(score, 4), **base)

    citations, conflicts = _sources(index, evidence, spans, best)
    if not conflicts and best.qtype in NAME_TYPES:
        citations = fullest_first(citations)
    lead = citations[0]
    answer = Answer(
        text=lead.value, sentence=lead.text, source=lead.source, start=lead.value_start, end=lead.value_end,
        line=lead.line_start + lead.text.count("\n", 0, lead.value_start - lead.start), score=round(score, 4),
        sentence_start=lead.start, sentence_end=lead.end,
    )
    supporting = len({c.source for c in citations})
    if conflicts:
        message = "Sources disagree: " + "; ".join(
            f"{c.value} ({', '.join(c.sources)})" for c in conflicts
        )
    else:
        message = f"Reported by {supporting} of {total_sources} source{'s' if total_sources != 1 else ''}"
    return Response(
        answered=True, answer=answer, citations=citations, conflicts=conflicts,
        supporting_sources=supporting, message=message, confidence=round(score, 4), **base,
    )


def _sources(
    index: LoadedIndex, evidence: Evidence, spans: Sequence[SpanCandidate], best: SpanCandidate
) -> tuple[list[Citation], list[Conflict]]:
    """Citations of every source that supports the answer, and conflicting values with theirs.

    A source supports the answer when one of its spans of the same type (scoring at least
    AGREE_RATIO of the answer) has the same value. It conflicts when it has no such span but
    reports the same fact with another value: among its spans that answer as well as ours
    (CONFLICT_RATIO, QUALITY_SLACK, not vague), the one whose sentence is closest in meaning
    to the answer's sentence and to the question, if its closeness to the answer's sentence
    reaches CONFLICT_COS. For sentence answers,
    a source supports when one of its sentences says nearly the same thing.
    """
    best_sent = evidence.sentences[best.sentence]
    best_vec = index.sentence_vectors[best_sent.id]
    support: dict[str, Citation] = {best_sent.source: _citation(best_sent, best)}
    by_source: dict[str, list[tuple[SpanCandidate, Sentence]]] = {}
    floor = best.score * CONFLICT_RATIO
    for span in spans[1:]:
        sent = evidence.sentences[span.sentence]
        if sent.source != best_sent.source:
            by_source.setdefault(sent.source, []).append((span, sent))
    conflicting: dict[str, tuple[SpanCandidate, Sentence]] = {}
    for source, found in by_source.items():
        if best.qtype == "sentence":
            sims = [float(index.sentence_vectors[sent.id] @ best_vec) for _, sent in found]
            i = int(np.argmax(sims))
            if sims[i] >= SAME_SENTENCE_COS:
                support[source] = _citation(found[i][1], None)
            continue
        same_type = [(sp, st) for sp, st in found if sp.qtype == best.qtype]
        agree = [(sp, st) for sp, st in same_type
                 if sp.score >= best.score * AGREE_RATIO and same_value(sp.text, best.text, best.qtype)]
        if agree:
            support[source] = _citation(agree[0][1], agree[0][0])
            continue
        # A conflicting value must answer the question as well as ours does: a relevant
        # sentence, a span as good inside its sentence, and not a vague quantity
        # ('thousands' does not contradict '261,000').
        relevant = [
            (sp, st) for sp, st in same_type
            if sp.score >= floor and _span_quality(sp) >= _span_quality(best) - QUALITY_SLACK
            and (not is_vague(sp.text) or is_vague(best.text))
        ]
        if relevant:
            # The same fact: close to the answer's sentence and to the question alike.
            sims = [float(index.sentence_vectors[st.id] @ best_vec) for _, st in relevant]
            fit = [sim + evidence.candidates[sp.sentence].cosine for sim, (sp, _) in zip(sims, relevant)]
            i = int(np.argmax(fit))
            if sims[i] >= CONFLICT_COS:
                conflicting[source] = relevant[i]
    citations = list(support.values())
    if not conflicting:
        return citations, []
    groups: list[tuple[str, list[Citation]]] = [(best.text, citations)]
    for span, sent in conflicting.values():
        for value, cites in groups[1:]:
            if same_value(span.text, value, best.qtype):
                cites.append(_citation(sent, span))
                break
        else:
            groups.append((span.text, [_citation(sent, span)]))
    conflicts = [
        Conflict(value=value, sources=sorted({c.source for c in cites}), citations=cites) for value, cites in groups
    ]
    return citations, conflicts


NAME_TYPES = frozenset({"person", "place", "organization", "name"})


def _span_quality(span: SpanCandidate) -> float:
    """How well the span answers within its sentence (its score relative to the sentence's)."""
    return span.score / span.sentence_score if span.sentence_score > 0 else 0.0


def _citation(sent: Sentence, span: SpanCandidate | None) -> Citation:
    return Citation(
        source=sent.source, start=sent.start, end=sent.end, line_start=sent.line_start, line_end=sent.line_end,
        text=sent.text, value=span.text if span else None,
        value_start=span.start if span else None, value_end=span.end if span else None,
    )
