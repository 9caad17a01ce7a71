"""Lexical side: the word tokenizer shared by BM25 and the reader, and the BM25 index (bm25s).

bm25s stores its sparse score matrix as .npy (allow_pickle=False) and its vocabulary
and parameters as JSON, so nothing here unpickles.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he
    her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves also s t don
    """.split()
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _stemmer().stemWord(word)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, inner apostrophes kept)."""
    return [w.replace("’", "'") for w in _WORD.findall(text.lower())]


def terms(text: str) -> list[str]:
    """Stemmed content terms: stopwords dropped. Used for BM25 and lexical overlap alike."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


class BM25Index:
    """BM25 over a list of texts, with scores for every document and per-term idf."""

    def __init__(self, retriever) -> None:
        self._bm25 = retriever
        vocab: dict[str, int] = retriever.vocab_dict
        self._vocab = vocab
        indptr = np.asarray(retriever.scores["indptr"])
        n_docs = int(retriever.scores["num_docs"])
        self.n_docs = n_docs
        df = np.diff(indptr)  # the score matrix is stored by term: one row per vocabulary id
        self.idf = {
            term: math.log(1.0 + (n_docs - int(df[i]) + 0.5) / (int(df[i]) + 0.5))
            for term, i in vocab.items()
            if i < len(df)
        }

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Index:
        import bm25s

        tokenized = [terms(t) or ["\u2205"] for t in texts]
        retriever = bm25s.BM25()
        retriever.index(tokenized, show_progress=False)
        return cls(retriever)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        import bm25s

        return cls(bm25s.BM25.load(str(folder), allow_pickle=False, load_corpus=False))

    def scores(self, query_terms: Sequence[str]) -> np.ndarray:
        """BM25 score of every document (zeros when no query term is in the vocabulary)."""
        ids = [self._vocab[t] for t in query_terms if t in self._vocab]
        if not ids or self.n_docs == 0:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)
