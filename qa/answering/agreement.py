"""Whether two sources give the same answer, judged from the answers' text alone.

Numbers compare by value (``'261,000'`` = ``'261,000 men'``; ``'more than 260,000'`` is
260,000, another value), with units canonicalised and qualifiers dropped by ``qa.answering.values``;
other answers match when one's words are the other's with words added at one end: a fuller
wording of the same value (``'Zinin'`` / ``'Ruslan Zinin'``, ``'Monday'`` / ``'Monday afternoon'``),
not a word taken from inside another phrase (``'Russian'`` is not ``'a young Russian man'``: there it
only describes the man).
"""

from __future__ import annotations

from functools import lru_cache

from qa.answering.values import WORD_NUMBERS, fuller_wording, normalize_text, value_key
from qa.models import Citation


@lru_cache(maxsize=8192)
def same_answer(a: str, b: str) -> bool:
    """Whether answers ``a`` and ``b`` give the same value (memoised: one answer is compared with every
    source's spans, the same pairs again and again)."""
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        va, _, ua = na.partition(" ")
        vb, _, ub = nb.partition(" ")
        return va == vb and (ua == ub or not ua or not ub)
    if (na is None) != (nb is None) and (na or nb) and _has_digit(a) and _has_digit(b):
        return False
    ka, kb = normalize_text(a), normalize_text(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    return fuller_wording(ka, kb)


def is_quantity(text: str) -> bool:
    """Whether ``text`` states a number (digits or number words, with or without a unit)."""
    return _number(text) is not None


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _number(text: str) -> str | None:
    """'<number>[ <unit>]' when the answer is a quantity, else None."""
    if not _has_digit(text) and not any(w in text.lower() for w in _NUMBER_WORDS):
        return None
    key = value_key(text, "number")
    head = key.partition(" ")[0]
    try:
        float(head)
    except ValueError:
        return None
    return key


_NUMBER_WORDS = (*WORD_NUMBERS, "hundred", "thousand", "million", "billion", "dozen")
"""Words that may make an answer a quantity (checked then by ``value_key``): every number word ``values`` reads."""


def fullest_first(citations: list[Citation]) -> list[Citation]:
    """Lead with the fullest wording of an agreed value ('Ruslan Zinin' over 'Zinin')."""
    first = citations[0]
    words = (first.value or "").lower().split()
    fuller = [c for c in citations[1:] if c.value and len(c.value) > len(first.value or "")
              and all(w in c.value.lower().split() for w in words)]
    if not fuller:
        return citations
    lead = max(fuller, key=lambda c: len(c.value or ""))
    return [lead] + [c for c in citations if c is not lead]
