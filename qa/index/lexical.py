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
from typing import Final

import numpy as np
import Stemmer

TOKENIZER_VERSION: Final = 2
"""Bumped whenever :func:`terms` changes, so indexes built with the old terms are rebuilt."""

STOPWORDS: Final = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each either else ever few for from further had hadn't has hasn't have haven't having he he'd he'll he's her
    here here's hers herself him himself his how how's however i i'd i'll i'm i've if in into is isn't it it's its
    itself just let's many may me might more most much must mustn't my myself neither no nor not now of off on
    once only or other ought our ours ourselves out over own same shall shan't she she'd she'll she's should
    shouldn't so some such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through thus to too under until up upon us very via was wasn't we
    we'd we'll we're we've were weren't what what's when when's where where's whether which while who who's whom
    whose why why's will with within without won't would wouldn't yes yet you you'd you'll you're you've your
    yours yourself yourselves""".split()
)

# Irregular verb and noun forms -> base, so "fled" meets "flee", "shot" "shoot", "men" "man".
_IRREGULAR: Final = {
    past: base
    for base, forms in {
        "arise": "arose arisen", "become": "became", "begin": "began begun", "bite": "bit bitten",
        "blow": "blew blown", "break": "broke broken", "bring": "brought", "build": "built", "burn": "burnt",
        "buy": "bought", "catch": "caught", "choose": "chose chosen", "come": "came", "cost": "cost",
        "deal": "dealt", "die": "died", "draw": "drew drawn", "drink": "drank drunk", "drive": "drove driven",
        "eat": "ate eaten", "fall": "fell fallen", "feel": "felt", "fight": "fought", "find": "found",
        "flee": "fled", "fly": "flew flown", "forget": "forgot forgotten", "freeze": "froze frozen",
        "get": "got gotten", "give": "gave given", "go": "went gone", "grow": "grew grown", "hang": "hung",
        "hear": "heard", "hide": "hid hidden", "hold": "held", "keep": "kept", "know": "knew known",
        "lay": "laid", "lead": "led", "leave": "left", "lend": "lent", "lie": "lay lain", "lose": "lost",
        "make": "made", "mean": "meant", "meet": "met", "pay": "paid", "ride": "rode ridden", "ring": "rang rung",
        "rise": "rose risen", "run": "ran", "say": "said", "see": "saw seen", "seek": "sought", "sell": "sold",
        "send": "sent", "shake": "shook shaken", "shoot": "shot", "sing": "sang sung", "sink": "sank sunk",
        "sit": "sat", "sleep": "slept", "speak": "spoke spoken", "spend": "spent", "stand": "stood",
        "steal": "stole stolen", "strike": "struck stricken", "swear": "swore sworn", "swim": "swam swum",
        "take": "took taken", "teach": "taught", "tear": "tore torn", "tell": "told", "think": "thought",
        "throw": "threw thrown", "understand": "understood", "wake": "woke woken", "wear": "wore worn",
        "win": "won", "write": "wrote written",
        "man": "men", "woman": "women", "child": "children", "person": "people",
    }.items()
    for past in forms.split()
}

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*(?:[^\W\d_]+)?|[^\W_]+(?:['’][^\W_]+)*")
_STEMMER = Stemmer.Stemmer("english")

Token = tuple[int, int, str, str]
"""(start, end, lowercased word, stem or '' for a stopword), offsets into the analysed text."""


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Stem of a lowercased word ('' for a stopword); British -isation spelled -ization."""
    word = word.replace("’", "'")
    if word in STOPWORDS:
        return ""
    word = _IRREGULAR.get(word, word)
    if word.endswith(("isation", "isations")):
        word = word.replace("isation", "ization")
    return _STEMMER.stemWord(word)


@lru_cache(maxsize=16384)
def tokenize(text: str) -> tuple[Token, ...]:
    """Word tokens of ``text`` with offsets, lowercased, and their stems (``''`` for stopwords).

    Numbers with separators stay one token ("2,000", "1.2"), as do words with inner apostrophes.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters change length when lowercased
        return tuple((m.start(), m.end(), (w := m.group().lower()), stem(w)) for m in _TOKEN.finditer(text))
    out = []
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        word = lowered[start:end]
        out.append((start, end, word, stem(word)))
    return tuple(out)


def terms(text: str) -> list[str]:
    """Stemmed content terms, stopwords dropped: the vocabulary of BM25 and of lexical overlap."""
    return [s for _, _, _, s in tokenize(text) if s]


def words(text: str) -> list[str]:
    """Lower-cased word tokens, stopwords included."""
    return [w for _, _, w, _ in tokenize(text)]


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
