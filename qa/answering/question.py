"""The question as the answering path sees it: checked text, follow-up resolution, retrieval query.

A follow-up ("How old was he?") leans on the conversation: its pronoun is replaced by the
previous answer for the reader, and the previous question and answer are added to the
retrieval query so the same passages come back.
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

    @classmethod
    def standalone(cls, asked: str, text: str, notices: tuple[str, ...] = ()) -> Question:
        return cls(asked, text, text, text, notices)

    def following(self, previous_question: str, previous_answer: str | None) -> Question:
        """This question read as a follow-up of ``previous_question`` (answered ``previous_answer``)."""
        reader_text, query = resolve_followup(self.text, previous_question, previous_answer)
        return Question(self.asked, self.text, reader_text, query, self.notices)


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


def resolve_followup(question: str, previous_question: str, previous_answer: str | None) -> tuple[str, str]:
    """(question for the reader, query for retrieval) for a follow-up.

    A short previous answer (an entity or value) replaces the first pronoun ("How old
    was he?" -> "How old was Ruslan Zinin?"); the previous question's words are added to
    the retrieval query so the same passages come back.
    """
    reader_q = question
    if previous_answer and len(previous_answer.split()) <= 6:
        for m in _WORD_RE.finditer(question):
            w = m.group().lower()
            if w in _SUBJECT or w in _POSSESSIVE:
                repl = previous_answer + ("'s" if w in _POSSESSIVE else "")
                reader_q = question[: m.start()] + repl + question[m.end() :]
                break
    extra = [previous_question]
    if previous_answer:
        extra.append(previous_answer)
    return reader_q, " ".join([reader_q, *extra])
