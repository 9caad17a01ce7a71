"""Question typing: which kind of answer a question asks for.

Types:

- ``person``, ``organization``, ``place``, ``name`` (any proper name: language, nationality ...)
- ``date`` (dates, days, months, years, centuries, times of day)
- ``number`` (counts), ``money``, ``percent``, ``age``, ``duration``, ``distance``
  (lengths, heights, depths), ``measure`` (any quantity with a unit: area, weight, speed ...)
- ``quote`` (what did X say)
- ``thing``: a "what/which X" question whose X is no known type noun; the reader answers
  with a short noun phrase
- ``sentence``: why, how did, what happened, and anything without a question word; the
  reader answers with the best sentence

The rules look at the first question word (``who/whom/whose/what/which/when/where/why/how``)
wherever it is ("In what year ...", "... known as what?") and the few words after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

QTYPES: Final = (
    "person",
    "organization",
    "place",
    "name",
    "date",
    "number",
    "money",
    "percent",
    "age",
    "duration",
    "distance",
    "measure",
    "quote",
    "thing",
    "sentence",
)


def _nouns(qtype: str, words: str) -> dict[str, str]:
    return {w: qtype for w in words.split()}


TYPE_NOUNS: Final[dict[str, str]] = (
    _nouns("date", "year years day days date dates month months century centuries decade decades time era")
    | _nouns(
        "place",
        "city cities town towns village villages country countries nation state states region regions province "
        "county counties place places location locations continent river rivers lake mountain mountains island "
        "islands capital district districts neighborhood neighbourhood street port republic territory sea ocean "
        "desert valley site venue airport suburb municipality area areas border",
    )
    | _nouns(
        "person",
        "person persons man men woman women president leader leaders king kings queen prince princess emperor "
        "minister official officials spokesman spokeswoman spokesperson governor mayor author writer player actor "
        "singer scientist architect founder ceo director chairman chancellor general commander pope duke saint "
        "philosopher poet composer artist mathematician physicist explorer individual son daughter father mother "
        "wife husband brother sister gunman shooter suspect victim recruiter commissioner commissar officer "
        "journalist reporter correspondent senator lawmaker politician judge lawyer ruler monarch bishop priest",
    )
    | _nouns(
        "organization",
        "company companies organization organisation organizations organisations agency agencies party parties team "
        "teams group groups network networks channel channels broadcaster newspaper newspapers magazine university "
        "universities college school schools institution institutions firm firms business corporation club band "
        "government ministry department union alliance bank outlet airline brand manufacturer court army",
    )
    | _nouns("name", "name names title language languages nationality religion ethnicity")
    | _nouns("number", "number numbers population total count quantity")
    | _nouns("percent", "percentage percent proportion share rate")
    | _nouns("money", "price cost costs salary fee budget revenue worth fine")
    | _nouns("age", "age")
    | _nouns("distance", "distance length height depth width altitude elevation")
    | _nouns("measure", "area weight speed temperature capacity volume size")
)

_HOW: Final[dict[str, str]] = (
    _nouns("number", "many")
    | _nouns("age", "old")
    | _nouns("distance", "far tall high deep wide")
    | _nouns("measure", "big large heavy fast hot cold much")
    | _nouns("duration", "long")
)
"""Adjective after 'how' -> type (refined for 'how much', 'how many', 'how long' below)."""

_WH = re.compile(r"\b(who|whom|whose|what|which|when|where|why|how)\b", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_AUX: Final = frozenset(
    "is was are were be been 's do does did has have had will would can could should might may shall must".split()
)
_DETERMINERS: Final = frozenset(
    "the a an this that these those its their his her kind type sort of most least more less".split()
)
_KIND: Final = frozenset("kind type sort".split())
_MONEY_CUES = re.compile(
    r"\b(?:cost|costs|costing|pay|paid|pays|spend|spent|price|money|worth|earn|earned|budget|revenue|fund|funds|"
    r"funding|dollars?|pounds?|euros?|rubles?|roubles?|salary|fine|fined|tax|raise|raised|invest|invested|sold|"
    r"buy|bought|charge|charged)\b|[$£€]"
)
_PERCENT_CUES = re.compile(r"\b(?:percent|percentage|per cent)\b|%")
_LENGTH_THINGS = re.compile(
    r"\b(?:line|lines|queue|queues|river|road|bridge|border|tunnel|wall|coast|coastline|track|route|runway|canal|"
    r"trail|street|pipeline|railway|highway|beach|distance|jam|convoy|fence)\b"
)
_DURATION_UNITS = re.compile(r"^(?:seconds|minutes|hours|days|weeks|months|years|decades|centuries)\b")
_LENGTH_UNITS = re.compile(r"^(?:miles|kilometers|kilometres|km|meters|metres|feet|yards)\b")
_SAY = re.compile(r"\b(?:say|said|says|tell|told|shout|shouted|shouting|declare|declared|claim|claimed|write|wrote)\b")
_SENTENCE_WHAT = re.compile(
    r"^what\s+(?:happened|happens|happen|caused|causes|cause|led|leads|lead|made|makes|prompted|prompts|"
    r"triggered|drove|drives|motivated|is\s+happening|was\s+happening|did\s+\w+(?:\s+\w+)?\s+do|do(?:es)?\s+\w+\s+do"
    r"|(?:is|was|are|were)\s+the\s+(?:reason|reasons|purpose|cause|causes|effect|effects|result|results|impact|"
    r"consequence|consequences|significance|goal|aim|motive|point))\b"
)


@dataclass(frozen=True, slots=True)
class QuestionInfo:
    """What a question asks for."""

    qtype: str
    skip: frozenset[str]
    """Lowercased words of the question phrase itself ('how many', 'how long') not to match in sentences."""
    focus: str = ""
    """For what/which questions, the lowercased word the question asks about ('platform' in 'what platform ...')."""
    kind: bool = False
    """The question asks for a kind or type of something ('what kind of region')."""


def classify_question(question: str) -> str:
    """The answer type a question asks for: one of :data:`QTYPES`."""
    return analyse_question(question).qtype


@lru_cache(maxsize=1024)
def analyse_question(question: str) -> QuestionInfo:
    """The question's type and the words of its question phrase."""
    text = " ".join(question.lower().replace("’", "'").split())
    match = _WH.search(text)
    if match is None:
        return QuestionInfo("sentence", frozenset())
    wh = match.group(1)
    after = text[match.end() :]
    words = _WORD.findall(after)
    if wh in ("who", "whom", "whose"):
        return QuestionInfo("person", frozenset())
    if wh == "when":
        return QuestionInfo("date", frozenset())
    if wh == "where":
        return QuestionInfo("place", frozenset())
    if wh == "why":
        return QuestionInfo("sentence", frozenset())
    if wh == "how":
        return _how(text, words)
    return _what(wh, text[match.start() :], words)


def _how(text: str, words: list[str]) -> QuestionInfo:
    if not words or words[0] not in _HOW:
        return QuestionInfo("sentence", frozenset())
    adjective = words[0]
    skip = frozenset({adjective})
    rest = " ".join(words[1:])
    qtype = _HOW[adjective]
    if adjective == "many":
        if _DURATION_UNITS.match(rest):
            qtype = "duration"
        elif _LENGTH_UNITS.match(rest):
            qtype = "distance"
    elif adjective == "much":
        if _MONEY_CUES.search(text):
            qtype = "money"
        elif _PERCENT_CUES.search(text):
            qtype = "percent"
    elif adjective == "long":
        if _LENGTH_THINGS.search(rest) and not re.match(r"(?:did|does|do|will|has|have|had)\b", rest):
            qtype = "distance"
    return QuestionInfo(qtype, skip)


def _what(wh: str, text: str, words: list[str]) -> QuestionInfo:
    if wh == "what":
        if _SENTENCE_WHAT.match(text):
            return QuestionInfo("sentence", frozenset())
        if words and words[0] in ("did", "does", "do", "will", "would", "has", "have", "had") and _SAY.search(text):
            return QuestionInfo("quote", frozenset())
    # the noun phrase after the question word ('what Russian city', 'what is the name of the
    # desert'): its first known type noun gives the type, unless it asks for a kind of thing
    phrase: list[str] = []
    for word in words[:8]:
        if word in _AUX or word in _DETERMINERS or word.endswith("'s"):
            if phrase and word in _AUX:
                break
            if word in _KIND:
                phrase.append(word)
            continue
        if any(w not in _KIND for w in phrase) and word.endswith(("ed", "ing")):
            break
        phrase.append(word)
        if len([w for w in phrase if w not in _KIND]) >= 3:
            break
    focus = next((w for w in phrase if w not in _KIND), "")
    if phrase and phrase[0] in _KIND:
        return QuestionInfo("thing", frozenset(), focus, kind=True)
    for word in phrase:
        if word in TYPE_NOUNS:
            return QuestionInfo(TYPE_NOUNS[word], frozenset(), word)
    return QuestionInfo("thing", frozenset(), focus)
