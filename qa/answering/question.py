"""The question as the answering path sees it: checked text, follow-up resolution, retrieval query.

A follow-up ("How old was he?") leans on the conversation: its pronoun is replaced by the
previous answer for the reader, and the previous question and answer are added to the
retrieval query so the same passages come back. An answer that cannot be what a pronoun points
at (a number, an age, a quotation) leaves the referent where it was: after "Who shot the
officer?" -> Ruslan Zinin and "How old was he?" -> 25, "What did he shout?" still asks about
Ruslan Zinin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.index.lexical import terms, words


@dataclass(frozen=True, slots=True)
class Question:
    asked: str
    """As typed: shown back to the user."""
    text: str
    """What is answered: control characters and escapes removed, truncated to the limit."""
    reader_text: str
    """What the reader reads: ``text`` with a follow-up's pronoun resolved."""
    query: str
    """What retrieval searches for."""
    notices: tuple[str, ...] = ()
    """Warnings about the input (e.g. truncation)."""
    referent: str | None = None
    """What the follow-up's pronoun was read as (None: not a follow-up, or nothing to point at);
    the next follow-up keeps it when its own previous answer cannot be pointed at."""

    @classmethod
    def standalone(cls, asked: str, text: str, notices: tuple[str, ...] = ()) -> Question:
        return cls(asked, text, text, text, notices)

    def following(self, previous_question: str, previous_answer: str | None,
                  previous_referent: str | None = None) -> Question:
        """This question read as a follow-up of ``previous_question`` (answered ``previous_answer``; itself
        read with ``previous_referent`` when it was a follow-up too)."""
        referent = referent_of(previous_answer, previous_referent)
        reader_text = _with_referent(self.text, referent)
        query = " ".join([reader_text, previous_question, *([previous_answer] if previous_answer else [])])
        # no pronoun to replace: nothing new was pointed at, the earlier referent still stands
        return Question(self.asked, self.text, reader_text, query, self.notices,
                        referent if reader_text != self.text else previous_referent)


_SUBJECT = {"he", "she", "they", "him", "them", "it"}
_POSSESSIVE = {"his", "her", "their", "its"}
_DEICTIC = {"this", "that", "there", "these", "those"}
_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def refers_back(question: str) -> bool:
    """Whether a question leans on the conversation: a pronoun, or almost no content words."""
    toks = words(question)
    if any(t in _SUBJECT or t in _POSSESSIVE or t in _DEICTIC for t in toks):
        return True
    return len(terms(question)) <= 1


_QUOTES = "\"'\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"


def can_be_referred_to(answer: str) -> bool:
    """Whether a pronoun can point at ``answer``: a short answer that is no quantity (digits or a
    number word: an age, a count, a date) and no quotation (speech is not a 'he' or an 'it')."""
    from qa.answering.agreement import is_quantity

    text = answer.strip()
    return (bool(text) and len(text.split()) <= 6 and not any(ch.isdigit() for ch in text)
            and not is_quantity(text) and text[0] not in _QUOTES and text[-1] not in "!?")


def referent_of(previous_answer: str | None, previous_referent: str | None = None) -> str | None:
    """What a follow-up's pronoun points at: the previous answer when a pronoun can point at it, else
    what the previous question's pronoun pointed at (None: nothing)."""
    return previous_answer if previous_answer and can_be_referred_to(previous_answer) else previous_referent


def resolve_followup(question: str, previous_question: str, previous_answer: str | None,
                     previous_referent: str | None = None) -> tuple[str, str]:
    """(question for the reader, query for retrieval) for a follow-up.

    The referent (:func:`referent_of`) replaces the first pronoun ("How old was he?" -> "How old
    was Ruslan Zinin?"); the previous question's words and answer are added to the retrieval query
    so the same passages come back.
    """
    q = Question.standalone(question, question).following(previous_question, previous_answer, previous_referent)
    return q.reader_text, q.query


def _with_referent(question: str, referent: str | None) -> str:
    """``question`` with its first pronoun replaced by ``referent`` (a possessive gets "'s")."""
    if referent:
        for m in _WORD_RE.finditer(question):
            w = m.group().lower()
            if w in _SUBJECT or w in _POSSESSIVE:
                return question[: m.start()] + referent + ("'s" if w in _POSSESSIVE else "") + question[m.end() :]
    return question

