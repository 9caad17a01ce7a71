"""Retrieved hits -> the reader -> an answer with citations, agreement and abstention.

1. Evidence: the best ``reader_passages`` chunks, plus the best chunk of every other source
   among the retrieved pool (up to ``agreement_sources``), read in one batch. With a
   ``window_tokens`` budget the reader reads, of each chunk, only the sentence closest to the
   question (the index's sentence vectors) and its neighbours, closest first, up to the budget:
   the answer's sentence is nearly always that one or next to it, and the reader's time grows
   with the tokens it reads.
2. The answer is the span most likely to be right (the calibrated probability weighs the
   reader's span score against its passage's retrieval score and rank, and, for the best few
   spans, how many other sources extract the same value); it is cut at the end of the sentence
   it starts in (and at the close of a quotation it opens), so it is always shown inside one
   verbatim sentence.
3. Its probability of being right comes from the reader's calibration (``abstain``), which
   picks the tier: answered, tentative (shown as a possible answer, low confidence) or declined.
4. Agreement: every other source is read on its own terms. It supports the answer when the
   reader, in that source's passages, prefers a span with the same value to 'no answer', or
   finds it probable enough that, that source alone, qa would offer it at least tentatively
   (two extractions agreeing). It conflicts only when its most probable span has another value and
   is one ``qa`` would answer with (the calibrated threshold): a disagreement is a strong claim.
   A source never counts for merely mentioning a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from qa.answering.abstain import Calibration, features
from qa.answering.agreement import fullest_first, same_answer
from qa.answering.question import Question
from qa.answering.readers.base import PassageText, ReaderSpan, SpanReader
from qa.index.lexical import terms
from qa.index.store import IndexView
from qa.models import TENTATIVE, Answer, Chunk, Citation, Conflict, Response, Sentence
from qa.retrieval.retrieve import Hit, shown_passages

NO_ANSWER = "No answer in the corpus"
AGREEMENT_CANDIDATES = 5
"""The most probable spans (before agreement) whose agreement across sources is weighed."""


@dataclass(frozen=True, slots=True)
class ReadingPlan:
    """What the reader reads; the service builds it from the ``answer.*`` settings (their defaults live there)."""

    reader_passages: int
    """Best chunks the reader reads for the answer."""
    agreement_sources: int
    """Chunks of other sources read too, for agreement and conflicts."""
    per_source: int = 2
    """Chunks read per other source."""
    pool: int = 30
    """Retrieved chunks in which other sources' best chunks are looked for."""
    window_tokens: int = 0
    """Read about this many tokens of each chunk around its sentence closest to the question (0: whole chunks)."""
    window_lexical: float = 0.0
    """Weight of the question's content terms, against the cosine, in choosing the sentences of a window."""


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
    candidates: list[tuple[dict[str, float], str]] = field(default_factory=list)
    """(features, text) of every span weighed for the answer (the calibration fits on them)."""


def evidence(index: IndexView, hits: Sequence[Hit], plan: ReadingPlan) -> list[Hit]:
    """The best chunks, then up to ``agreement_sources`` more, breadth-first over the sources: every
    source not yet read gets its best chunk first (so as many sources as possible are heard), then
    each source (those of the best chunks too) its next best, up to ``per_source`` chunks each.
    A source's best chunk is not always the one that holds the fact (a photo caption can rank first)."""
    chosen = list(hits[: plan.reader_passages])
    taken = {h.chunk for h in chosen}
    read_of: dict[str, int] = {}
    for h in chosen:
        src = index.chunk(h.chunk).source
        read_of[src] = read_of.get(src, 0) + 1
    of_source: dict[str, list[Hit]] = {}
    for h in hits[: plan.pool]:
        if h.chunk not in taken:
            of_source.setdefault(index.chunk(h.chunk).source, []).append(h)
    for depth in range(plan.per_source):  # depth 0 adds only sources not read yet
        for src in of_source:  # in order of each source's best hit
            if len(chosen) - plan.reader_passages >= plan.agreement_sources:
                return chosen
            found, have = of_source[src], read_of.get(src, 0)
            if have <= depth and found:
                chosen.append(found.pop(0))
                read_of[src] = have + 1
    return chosen


def window(index: IndexView, c: Chunk, qvec: np.ndarray | None, budget: int,
           query_terms: Sequence[str] = (), lexical: float = 0.0) -> tuple[int, int]:
    """Sentence rows [first, last) of a chunk to read: its sentence closest to the question, grown by
    whichever neighbour is closer to the question, while the chunk's tokens (shared out over its
    sentences by length) stay within ``budget``. The whole chunk when there is no budget.

    "Closer" is the cosine with ``qvec`` plus ``lexical`` times the sentence's share of ``query_terms``
    (:func:`overlap`): a sentence model can rank a neighbour above the sentence that holds the answer."""
    first, last = c.sentence_start, c.sentence_end
    if qvec is None or budget <= 0 or c.n_tokens <= budget or last - first <= 1:
        return first, last
    sents = index.sentence_range(first, last)
    sims = np.asarray(index.vectors_of_sentences(first, last) @ qvec, dtype=np.float32)
    if lexical and query_terms:
        sims = sims + lexical * overlap([s.text for s in sents], query_terms)
    per_char = c.n_tokens / max(1, c.end - c.start)

    def cost(row: int) -> float:
        sent = sents[row - first]
        return (sent.end - sent.start) * per_char

    lo = first + int(np.argmax(sims))
    hi, used = lo + 1, cost(lo)
    while True:
        options = [r for r in (lo - 1, hi) if first <= r < last and used + cost(r) <= budget]
        if not options:
            return lo, hi
        r = max(options, key=lambda r: sims[r - first])
        used += cost(r)
        lo, hi = min(lo, r), max(hi, r + 1)


def overlap(texts: Sequence[str], query_terms: Sequence[str]) -> np.ndarray:
    """Per text: the share of the question's content terms it contains, each term weighted by 1 / the
    number of ``texts`` holding it, so a term the texts share counts less than one only this text has."""
    wanted = set(query_terms)
    held = [wanted.intersection(terms(t)) for t in texts]
    df = {t: sum(t in h for h in held) for t in wanted}
    weight = {t: 1.0 / df[t] if df[t] else 1.0 for t in wanted}
    total = sum(weight.values()) or 1.0
    return np.array([sum(weight[t] for t in h) / total for h in held], dtype=np.float32)


def _passage(index: IndexView, c: Chunk, rows: tuple[int, int]) -> PassageText:
    if rows == (c.sentence_start, c.sentence_end):
        return PassageText(c.source, c.start, c.text)
    start, end = index.sentence(rows[0]).start, index.sentence(rows[1] - 1).end
    return PassageText(c.source, start, c.text[start - c.start : end - c.start])


def respond(
    question: Question,
    index: IndexView,
    hits: Sequence[Hit],
    reader: SpanReader,
    calibration: Calibration,
    *,
    top_k: int,
    plan: ReadingPlan,
    min_score: float | None = None,
    tentative_min_score: float | None = None,
    trace: Trace | None = None,
    query_vector: np.ndarray | None = None,
) -> Response:
    """``query_vector`` (the question's embedding) picks the sentences read when ``plan.window_tokens`` is set."""
    total = index.manifest.counts.get("files", 0)
    shown = shown_passages(index, hits, top_k)
    base = dict(question=question.asked, passages=shown, total_sources=total, notices=list(question.notices),
                query=question.query)
    read = evidence(index, hits, plan)
    trace = trace if trace is not None else Trace()
    trace.passages = [(index.chunk(h.chunk).source, h.chunk, h.score) for h in read]
    if not read:
        return Response(answered=False, status="declined", message=NO_ANSWER, **base)
    chunks = [index.chunk(h.chunk) for h in read]
    qterms = terms(question.query) if plan.window_lexical else []
    passages = [_passage(index, c, window(index, c, query_vector, plan.window_tokens, qterms, plan.window_lexical))
                for c in chunks]
    output = reader.read(question.reader_text, passages)
    top = read[0].score or 1.0

    first_of: dict[str, int] = {}
    for i, c in enumerate(chunks):
        first_of.setdefault(c.source, i)

    def probability(span: ReaderSpan, alone: bool = False) -> tuple[float, dict[str, float]]:
        """P(right) of a span before agreement; ``alone``: as if the span's source were the whole corpus (its own
        best passage the reference for the passage score and rank), for agreement between sources."""
        chunk = chunks[span.passage]
        if alone:
            ref = first_of[chunk.source]
            rank = sum(1 for c in chunks[ref : span.passage] if c.source == chunk.source)
            rel = read[span.passage].score / (read[ref].score or 1.0)
        else:
            rank, rel = span.passage, read[span.passage].score / top
        feats = features(span, rel, rank)
        return calibration.probability(feats), feats

    # What each source answers: its spans, most probable first (as if it were the whole corpus).
    answers_of: dict[str, list[tuple[float, ReaderSpan]]] = {}
    for span in output.spans:
        answers_of.setdefault(chunks[span.passage].source, []).append((probability(span, alone=True)[0], span))
    for found in answers_of.values():
        found.sort(key=lambda x: -x[0])
    trace.source_answers = {s: (found[0][1].text, found[0][0]) for s, found in answers_of.items()}

    decision = calibration.overridden(min_score, tentative_min_score)
    threshold, support_at = decision.threshold, decision.offer_at

    def agreeing(span: ReaderSpan, src: str, soft: bool = False) -> tuple[float, ReaderSpan] | None:
        """(probability, span) of ``src``'s span with the same value as ``span``, when the reader
        prefers it to 'no answer' or, ``src`` read alone, qa would at least offer it tentatively:
        then ``src`` is cited as reporting it. ``soft`` (for the agreement feature, which weighs each
        source by its probability): also when it is ``src``'s most probable reading."""
        for i, (p, other) in enumerate(answers_of.get(src, ())):
            if ((soft and i == 0) or other.margin > 0 or p >= support_at) and same_answer(other.text, span.text):
                return p, other
        return None

    def agreement(span: ReaderSpan) -> float:
        """Summed probability (each source read alone) of the other sources extracting the same value."""
        own = chunks[span.passage].source
        return sum(found[0] for src in answers_of
                   if src != own and (found := agreeing(span, src, soft=True)) is not None)

    # The answer: the span most likely to be right, which weighs the reader's score against the
    # retrieval of its passage, then, for the best few and each source's own best, how strongly
    # other sources extract the same value.
    ranked = sorted(((probability(span), span) for span in output.spans), key=lambda x: -x[0][0])
    if not ranked:
        return Response(answered=False, status="declined", message=NO_ANSWER, **base)
    p_global = {span: p for (p, _), span in ranked}
    feats_of = {span: f for (_, f), span in ranked}
    candidates = [span for _, span in ranked[:AGREEMENT_CANDIDATES]]
    candidates += [found[0][1] for found in answers_of.values() if found[0][1] not in candidates]
    finalists = []
    for span in candidates:
        agree = agreement(span)
        base_feats = feats_of[span]
        final = features(span, base_feats["passage"], span.passage, agree) if agree else base_feats
        finalists.append((calibration.probability(final), final, span))
    score, feats, best = max(finalists, key=lambda x: x[0])
    trace.candidates = [(f, span.text) for _, f, span in finalists]
    trace.features, trace.text, trace.score = feats, best.text, score
    status = decision.status(score)
    if status == "declined":
        return Response(answered=False, status="declined", message=NO_ANSWER, confidence=round(score, 4), **base)

    lead_source = chunks[best.passage].source
    support = [_citation(index, chunks[best.passage].sentence_start, chunks[best.passage].sentence_end, best)]
    others: list[tuple[str, Citation]] = []
    for src, found in answers_of.items():
        if src == lead_source:
            continue
        # Support: the reader, reading this source, prefers the same value to 'no answer'.
        found_same = agreeing(best, src)
        if found_same is not None:
            same = found_same[1]
            chunk = chunks[same.passage]
            support.append(_citation(index, chunk.sentence_start, chunk.sentence_end, same))
            continue
        # A conflict needs more: the source's most probable value must be one qa would answer with.
        rival = max((span for _, span in found), key=p_global.__getitem__)
        if p_global[rival] >= threshold:
            chunk = chunks[rival.passage]
            cite = _citation(index, chunk.sentence_start, chunk.sentence_end, rival)
            others.append((cite.value or rival.text, cite))
    support = fullest_first(support) if not others else support
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
    if status == "tentative":
        message = f"{TENTATIVE} · {message}"
    return Response(
        answered=status == "answered", status=status, answer=answer, citations=support, conflicts=conflicts,
        supporting_sources=len({c.source for c in support}), message=message, confidence=round(score, 4), **base,
    )


def _sentence_at(index: IndexView, first: int, last: int, offset: int) -> Sentence:
    rows = index.sentence_range(first, last)
    for s in rows:
        if s.start <= offset < s.end:
            return s
    # between sentences (white space): the next one
    return next((s for s in rows if s.start >= offset), rows[-1])


def _citation(index: IndexView, first: int, last: int, span: ReaderSpan) -> Citation:
    """The sentence holding the span's start, with the span cut at that sentence's end."""
    sent = _sentence_at(index, first, last, span.start)
    start = max(span.start, sent.start)
    end = max(start, min(span.end, sent.end))
    end = start + quote_end(sent.text, start - sent.start, end - sent.start)
    value = sent.text[start - sent.start : end - sent.start]
    stripped = value.rstrip()
    end -= len(value) - len(stripped)
    return Citation(
        source=sent.source, start=sent.start, end=sent.end, line_start=sent.line_start, line_end=sent.line_end,
        text=sent.text, value=stripped, value_start=start, value_end=end,
    )


_CLOSERS = {'"': '"', "\u201c": "\u201d", "\u00ab": "\u00bb", "\u201e": "\u201c\u201d", "\u2039": "\u203a"}
"""Opening quotation mark -> the marks that close it (straight, English, guillemets, German)."""


def quote_end(text: str, start: int, end: int) -> int:
    """Length of ``text[start:end]`` kept so that a span inside or at the start of a quotation
    stops where the quotation closes: '"Nobody will go!" he shouted' -> '"Nobody will go!"';
    'Nobody will go!" he shouted' (the quotation opened just before) -> 'Nobody will go!', its
    closing mark left out as the opening one is. Other spans are kept whole."""
    value = text[start:end]
    if not value:
        return 0
    if _opens(text, start):
        closers, first = _CLOSERS[value[0]], 1
        keep = 1  # the closing mark is part of the quoted answer
    elif start > 0 and _opens(text, start - 1):
        closers, first = _CLOSERS[text[start - 1]], 0
        keep = 0
    else:
        return len(value)
    close = next((i for i in range(first, len(value)) if value[i] in closers), None)
    if close is None or (keep and not value[close + 1 :].strip()):
        return len(value)
    return close + keep


def _opens(text: str, i: int) -> bool:
    """``text[i]`` opens a quotation (a straight '"' does when an even number of them precede it)."""
    ch = text[i]
    if ch not in _CLOSERS:
        return False
    return ch != '"' or text.count('"', 0, i) % 2 == 0
