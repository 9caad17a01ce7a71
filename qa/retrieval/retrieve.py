"""Hybrid retrieval: dense chunks + dense sentences + BM25, fused on their scores.

Rank-only fusion (RRF) throws away how *much* better one passage is than the next,
which matters where the retrievers disagree; so each signal is put on a common
0..1 scale for the query and the signals are mixed with weights measured on
SQuAD (README: Retrieval). Plain RRF is kept for comparison (``fusion="rrf"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.index.store import IndexView
from qa.models import Passage

# Weights of the fused score (dense chunk, best dense sentence, BM25), measured on SQuAD dev.
W_CHUNK = 0.35
W_SENTENCE = 0.30
W_BM25 = 0.35
RRF_K = 60


@dataclass(frozen=True, slots=True)
class Hit:
    chunk: int
    score: float  # fused, in [0, 1]
    dense: float  # cosine(question, chunk)
    sentence: float  # best cosine(question, sentence of the chunk)
    bm25: float  # BM25 score / best BM25 score for this query


def retrieve(
    index: IndexView,
    qvec: np.ndarray,
    qterms: Sequence[str],
    k: int,
    candidates: int = 50,
    fusion: str = "score",
) -> list[Hit]:
    """The ``k`` best chunks for a query, best first."""
    if index.n_chunks == 0:
        return []
    q = np.ascontiguousarray(qvec.reshape(-1), dtype=np.float32)
    _, c_ids = index.search_chunks(q, candidates)
    s_scores, s_chunks = index.search_sentences(q, candidates * 2)
    bm_ids, bm_scores = index.bm25_top(qterms, candidates)
    bm_max = float(bm_scores.max()) if bm_scores.size else 0.0

    cand: dict[int, None] = {}
    for cid in c_ids:
        cand[int(cid)] = None
    sent_best: dict[int, float] = {}
    for cid, sc in zip(s_chunks, s_scores):
        cid = int(cid)
        if sc > sent_best.get(cid, -1.0):
            sent_best[cid] = float(sc)
        cand[cid] = None
    for cid in bm_ids:
        cand[int(cid)] = None
    ids = np.fromiter(cand, dtype=np.int64)
    index.prefetch(ids)
    dense = np.asarray(index.vectors_of_chunks(ids) @ q, dtype=np.float32)
    sent = np.array([_sentence_best(index, int(c), q, sent_best) for c in ids], dtype=np.float32)
    raw_bm = np.asarray(index.bm25_of(qterms, ids), dtype=np.float32)
    lex = raw_bm / bm_max if bm_max > 0 else np.zeros(len(ids), dtype=np.float32)

    if fusion == "rrf":
        fused = _rrf(dense, lex, sent, raw_bm)
    elif fusion == "dense":
        fused = dense
    elif fusion == "bm25":
        fused = lex
    else:
        fused = W_CHUNK * np.clip(dense, 0, 1) + W_SENTENCE * np.clip(sent, 0, 1) + W_BM25 * lex
    order = np.argsort(-fused, kind="stable")[:k]
    return [
        Hit(int(ids[i]), float(np.clip(fused[i], 0.0, 1.0)), float(dense[i]), float(sent[i]), float(lex[i]))
        for i in order
    ]


def _sentence_best(index: IndexView, cid: int, q: np.ndarray, known: dict[int, float]) -> float:
    chunk = index.chunk(cid)
    rows = index.vectors_of_sentences(chunk.sentence_start, chunk.sentence_end)
    best = float(np.max(rows @ q)) if len(rows) else 0.0
    return max(best, known.get(cid, -1.0))


def _rrf(dense: np.ndarray, lex: np.ndarray, sent: np.ndarray, raw_bm: np.ndarray) -> np.ndarray:
    def ranks(x: np.ndarray) -> np.ndarray:
        r = np.empty(len(x), dtype=np.float64)
        r[np.argsort(-x, kind="stable")] = np.arange(1, len(x) + 1)
        return r

    score = 1.0 / (RRF_K + ranks(dense)) + 1.0 / (RRF_K + ranks(lex))
    score[raw_bm <= 0] -= 1.0 / (RRF_K + len(lex))  # no lexical match is no lexical evidence
    return score / (2.0 / (RRF_K + 1))


def diverse(index: IndexView, hits: Sequence[Hit], k: int, max_overlap: float = 0.5, max_cos: float = 0.95) -> list[Hit]:
    """Drop near-duplicates: chunks overlapping an earlier pick by more than ``max_overlap`` of
    their length (same file), or nearly identical in meaning (cosine above ``max_cos``, any file)."""
    picked: list[Hit] = []
    for hit in hits:
        c = index.chunk(hit.chunk)
        dup = False
        for p in picked:
            o = index.chunk(p.chunk)
            if o.source == c.source:
                overlap = min(o.end, c.end) - max(o.start, c.start)
                if overlap > max_overlap * min(o.end - o.start, c.end - c.start):
                    dup = True
                    break
            elif float(np.dot(*index.vectors_of_chunks(np.array([p.chunk, hit.chunk])))) > max_cos:
                dup = True
                break
        if not dup:
            picked.append(hit)
        if len(picked) >= k:
            break
    return picked


def shown_passages(index: IndexView, hits: Sequence[Hit], k: int) -> list[Passage]:
    """The passages a Response shows: the best ``k`` hits with near-duplicates dropped."""
    out = []
    for hit in diverse(index, hits, k):
        c = index.chunk(hit.chunk)
        out.append(Passage(source=c.source, start=c.start, end=c.end, line_start=c.line_start,
                           line_end=c.line_end, score=round(hit.score, 4), text=c.text))
    return out
