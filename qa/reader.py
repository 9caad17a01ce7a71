"""The extractive reader: pick the sentences that answer a question and the span inside them.

Given the candidate sentences of the top retrieved chunks (each with its embedding cosine to
the question and its chunk's fused retrieval score), :func:`read` scores every sentence and
extracts one span per sentence:

Sentence score (in [0, 1]): a weighted mean of

- the embedding cosine (clipped at 0),
- lexical overlap: idf-weighted share of the question's stemmed content terms found in it,
- bigram overlap: share of the question's consecutive term pairs found consecutively,
- proximity: how tightly the matched terms sit together (distinct matches / window),
- type fit: for entity/quantity questions, how well its best candidate span fits the type,
- the chunk's retrieval score.

Span: for entity and quantity questions (see :mod:`qa.qtypes`), candidates are typed values
(:func:`qa.values.find_values`), capitalised name sequences with person/place/organisation
cues, quoted strings, or for other "what/which X" questions noun phrases (runs of words
between question terms, function words and punctuation). A candidate made only of question
words is never proposed. Its local score is type fit x closeness to the question's terms in
the sentence x novelty (share of words not in the question); the span score mixes that with
the sentence score. Questions of type ``sentence`` (why, how did, what happened ...), and
typed questions whose sentence has no fitting candidate, get the whole sentence.

All offsets are character offsets into the source file: ``span.start = sentence.start +
local offset``, and ``span.text == sentence.text[span.start - sentence.start : span.end -
sentence.start]`` always holds.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from qa.lexical import STOPWORDS, Token, terms, tokenize
from qa.lexical import stem as _stem
from qa.qtypes import analyse_question, classify_question
from qa.values import find_values, parse_number, same_value, value_key

__all__ = [
    "ReaderWeights",
    "SentenceCandidate",
    "SpanCandidate",
    "classify_question",
    "read",
    "is_vague",
    "same_value",
    "terms",
    "value_key",
    "warm_up",
]


@dataclass(frozen=True, slots=True)
class SentenceCandidate:
    text: str
    """The sentence, verbatim."""
    source: str
    """Corpus file."""
    start: int
    """Offset of the sentence in its file."""
    cosine: float
    """cosine(question embedding, sentence embedding), in [-1, 1]."""
    passage_score: float
    """Fused retrieval score of the sentence's chunk, in [0, 1] (1 = best chunk)."""


@dataclass(frozen=True, slots=True)
class SpanCandidate:
    sentence: int
    """Index into the candidates given to :func:`read`."""
    start: int
    """File offset of the span's first character."""
    end: int
    """File offset one past the span's last character."""
    text: str
    """The span, verbatim: ``sentence.text[start - sentence.start : end - sentence.start]``."""
    qtype: str
    """The question type it answers, or ``'sentence'`` when it is a whole sentence."""
    score: float
    """In [0, 1], higher is better; comparable across the spans of one question."""
    sentence_score: float
    """The sentence's own relevance score, in [0, 1]."""


@dataclass(frozen=True, slots=True)
class ReaderWeights:
    """Weights of the sentence and span scores (defaults tuned on SQuAD 2.0 dev, see eval/reader_dev.py)."""

    cosine: float = 1.0
    lexical: float = 2.0
    bigram: float = 0.3
    proximity: float = 0.1
    type_fit: float = 0.6
    passage: float = 0.5
    span_floor: float = 0.6
    """Share of a span's score that comes from its sentence alone (the rest from the span's local score)."""
    closeness_floor: float = 0.4
    """Share of a span's local score that does not depend on its distance to the question's terms."""
    thing_spans: bool = True
    """Answer 'what/which X' questions of no known type with a noun phrase (False: with the sentence)."""


DEFAULT_WEIGHTS: Final = ReaderWeights()

# --- tokens and terms ---------------------------------------------------------------------

# --- question ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Question:
    qtype: str
    weights: dict[str, float]
    """Stemmed content term -> weight (idf)."""
    total: float
    bigrams: frozenset[tuple[str, str]]
    words: frozenset[str]
    """Lowercased question words (all, stopwords included), to keep spans off question words."""
    focus: str
    """Stem of the word a what/which question asks about, or ''."""
    verb: str = ""
    """For 'who <verb> ...' questions, the verb's stem: the answer is its subject."""


def _question(question: str, idf: Mapping[str, float] | None) -> _Question:
    info = analyse_question(question)
    toks = tokenize(question)
    stems = [stem for _, _, word, stem in toks if stem and word not in info.skip]
    weights = {s: (max(idf.get(s, _DEFAULT_IDF), 0.0) if idf is not None else 1.0) for s in stems}
    bigrams = frozenset(zip(stems, stems[1:]))
    return _Question(
        qtype=info.qtype,
        weights=weights,
        total=sum(weights.values()),
        bigrams=bigrams,
        words=frozenset(word for _, _, word, _ in toks),
        focus=_stem(info.focus) if info.focus else "",
        verb=toks[1][3] if len(toks) > 1 and toks[0][2] == "who" and toks[1][3] else "",
    )


_DEFAULT_IDF: Final = 5.0
"""Weight of a question term missing from the idf table (a rare word)."""


# --- sentence analysis (cached per sentence text) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class _Sentence:
    toks: tuple[Token, ...]
    starts: tuple[int, ...]
    """Start offset of each token (for bisecting)."""
    positions: dict[str, tuple[int, ...]]
    """Stem -> indices of the tokens with that stem."""
    pairs: frozenset[tuple[str, str]]
    """Consecutive content stems."""
    runs: tuple[tuple[int, ...], ...]
    """Token indices between function words, verb forms and punctuation: noun-phrase material."""


@lru_cache(maxsize=16384)
def _analyse(text: str) -> _Sentence:
    toks = tokenize(text)
    positions: dict[str, list[int]] = {}
    content: list[str] = []
    for i, (_, _, _, stem) in enumerate(toks):
        if stem:
            content.append(stem)
            positions.setdefault(stem, []).append(i)
    runs: list[tuple[int, ...]] = []
    run: list[int] = []
    for k, tok in enumerate(toks):
        if run and text[toks[k - 1][1] : tok[0]].strip(" -'’/"):
            runs.append(tuple(run))
            run = []
        if tok[2] in _BREAK_WORDS or _verbish(text, tok):
            if run:
                runs.append(tuple(run))
                run = []
            continue
        run.append(k)
    if run:
        runs.append(tuple(run))
    return _Sentence(
        toks=toks,
        starts=tuple(t[0] for t in toks),
        positions={k: tuple(v) for k, v in positions.items()},
        pairs=frozenset(zip(content, content[1:])),
        runs=tuple(runs),
    )


@dataclass(slots=True)
class _Match:
    lexical: float
    bigram: float
    proximity: float
    positions: list[tuple[int, float]]
    """(token index, term weight) of each token in the sentence matching a question term, in order."""


def _match(q: _Question, sent: _Sentence) -> _Match:
    positions: list[tuple[int, float]] = []
    found = 0
    matched = 0.0
    for stem, w in q.weights.items():
        idx = sent.positions.get(stem)
        if idx:
            found += 1
            matched += w
            positions.extend((i, w) for i in idx)
    positions.sort()
    lexical = matched / q.total if q.total > 0 else 0.0
    bigram = len(q.bigrams & sent.pairs) / len(q.bigrams) if q.bigrams else 0.0
    proximity = 0.0
    if found >= 2:
        proximity = min(1.0, found / (positions[-1][0] - positions[0][0] + 1))
    return _Match(lexical, bigram, proximity, positions)


# --- span candidates ---------------------------------------------------------------------------

# fit of a typed value of some kind (rows) for a question type (columns)
_VALUE_FIT: Final[dict[str, dict[str, float]]] = {
    "number": {"number": 1.0, "measure": 0.7, "distance": 0.6, "percent": 0.5, "money": 0.5, "duration": 0.5,
               "age": 0.4, "date": 0.1},
    "money": {"money": 1.0, "number": 0.5, "measure": 0.2},
    "percent": {"percent": 1.0, "number": 0.4},
    "age": {"age": 1.0, "number": 0.5, "duration": 0.4},
    "duration": {"duration": 1.0, "date": 0.4, "number": 0.3},
    "distance": {"distance": 1.0, "measure": 0.7, "number": 0.4},
    "measure": {"measure": 1.0, "distance": 1.0, "percent": 0.6, "money": 0.5, "number": 0.6, "duration": 0.4},
    "date": {"date": 1.0, "number": 0.1},
}
_NAME_QTYPES: Final = frozenset({"person", "organization", "place", "name"})

Candidate = tuple[int, int, float]
"""(start, end, type fit) with offsets into the sentence."""


MIN_FIT: Final = 0.3
"""Candidates fitting the asked type less than this are not proposed: a place is no answer to 'who'."""
MAX_AGE: Final = 130


def _typed_candidates(qtype: str, text: str, toks: tuple[Token, ...]) -> list[Candidate]:
    out: list[Candidate] = []
    fits = _VALUE_FIT.get(qtype)
    if fits is not None:
        for start, end, kind in find_values(text):
            fit = fits.get(kind, 0.0)
            if qtype == "age" and kind != "age" and not _plausible_age(text[start:end]):
                continue
            if kind == "number" and is_vague(text[start:end]):
                fit *= VAGUE_FIT  # 'thousands', 'dozens': an answer only when nothing precise is said
            if fit >= MIN_FIT:
                out.append((start, end, fit))
    if qtype in _NAME_QTYPES:
        for name in names(text):
            fit = name.fit(qtype)
            if fit >= MIN_FIT:
                out.append((name.start, name.end, fit))
    if qtype == "quote":
        for m in _QUOTE.finditer(text):
            start, end = m.span(1)
            out.append((start, end, 1.0))
    return out


VAGUE_FIT: Final = 0.3


def is_vague(value: str) -> bool:
    """A quantity with no figure in it ('thousands', 'tens of thousands', 'several hundred')."""
    return not any(ch.isdigit() for ch in value) and not any(
        parse_number(w) is not None for w in value.lower().replace("-", " ").split()
    )


def _plausible_age(value: str) -> bool:
    """A bare number can be an age only when it is a small whole number ('25', 'twenty-five')."""
    number = parse_number(value.split()[0]) if value.split() else None
    return number is not None and number == int(number) and 0 < number <= MAX_AGE


@dataclass(frozen=True, slots=True)
class Name:
    """A capitalised name sequence in a sentence and how much it looks like each kind of name."""

    start: int
    end: int
    person: float
    place: float
    organization: float

    def fit(self, qtype: str) -> float:
        if qtype == "person":
            return self.person
        if qtype == "place":
            return self.place
        if qtype == "organization":
            return self.organization
        return max(self.person, self.place, self.organization)


_CONNECTORS: Final = frozenset("of de del della da dos das van von der den al bin ibn la le du y".split())
_TITLES: Final = frozenset(
    """president presidents prime minister ministers secretary governor mayor king queen prince princess pope
    general colonel captain lieutenant sergeant senator chancellor spokesman spokeswoman spokesperson
    commissioner commissar commander chief director judge mr mrs ms dr sir lord lady rev gen col capt lt sgt sen
    rep gov deputy vice foreign defence defense ambassador envoy emperor empress tsar czar sheikh
    archbishop bishop cardinal father patriarch professor prof officer adviser advisor premier leader
    chairman chairwoman ceo founder head""".split()
)
_ORG_WORDS: Final = frozenset(
    """university college school institute academy company corporation corp inc ltd llc plc group party ministry
    department agency council committee commission association union bank service services office network
    channel broadcasting news times post gazette gazeta press media government parliament assembly army navy
    force forces club team foundation church court board authority kremlin fsb nato un eu bbc cnn reuters
    airlines airways railway railways society federation league organization organisation trust fund guard""".split()
)
_PLACE_WORDS: Final = frozenset(
    """city county region province republic river lake mountains mountain mount desert island islands valley bay
    sea ocean street square park airport oblast krai state states kingdom coast peninsula gulf strait district
    territory territories village town port canal highway beach falls forest hills""".split()
)
_PLACE_BEFORE: Final = frozenset(
    "in at near from to into across outside inside around throughout towards toward across via reached entered".split()
)
_PLACE_OF: Final = frozenset("city town village region province republic capital state country port district".split())
_PERSON_AFTER: Final = frozenset("said says told added wrote stated who aged".split())
_COMPASS: Final = frozenset(
    "north south east west northeast northwest southeast southwest northern southern eastern western central".split()
)
_DEMONYM_ENDINGS: Final = ("ian", "ean", "ese", "ish")
_PLACE_SUFFIXES: Final = ("sk", "grad", "burg", "stan", "land", "ia", "abad", "pol", "ville", "shire")
_CALENDAR: Final = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
    september october november december""".split()
)
_QUOTE = re.compile(r"[\"“«]([^\"“”«»]{2,400}?)[\"”»]")


@lru_cache(maxsize=8192)
def names(text: str) -> tuple[Name, ...]:
    """Capitalised name sequences of a sentence ('Ruslan Zinin', 'Ust-Ilimsk', 'University of California').

    Titles are left out of person names ('President Vladimir Putin' -> 'Vladimir Putin');
    a sentence's first word counts only when it is not a function word.
    """
    toks = tokenize(text)
    out: list[Name] = []
    i = 0
    n = len(toks)
    while i < n:
        if not _is_cap(toks, i, text):
            i += 1
            continue
        j = i + 1
        while j < n:
            gap = text[toks[j - 1][1] : toks[j][0]]
            if not (gap in ("-", ". ") or (len(gap) == 1 and gap.isspace() and gap != "\n")):
                break
            if _is_cap(toks, j, text) or (toks[j][2].isdigit() and j + 1 < n and _is_cap(toks, j + 1, text)):
                j += 1
                continue
            if toks[j][2] in _CONNECTORS and j + 1 < n and _is_cap(toks, j + 1, text) and gap == " ":
                j += 1
                continue
            break
        out.extend(_name(text, toks, i, j))
        i = j
    return tuple(out)


def _is_cap(toks: tuple[Token, ...], i: int, text: str) -> bool:
    start, _, word, _ = toks[i]
    first = text[start]
    if not first.isupper():
        return False
    if word in _CALENDAR:
        return False
    return not (word in STOPWORDS and (i == 0 or _sentence_initial(toks, i, text)))


def _sentence_initial(toks: tuple[Token, ...], i: int, text: str) -> bool:
    before = text[toks[i - 1][1] : toks[i][0]] if i > 0 else ""
    return i == 0 or any(ch in before for ch in ".!?:\"“(")


def _name(text: str, toks: tuple[Token, ...], i: int, j: int) -> list[Name]:
    words = [t[2] for t in toks[i:j]]
    # leading 'The', titles and nationality adjectives before a title
    last_title = max((k for k, w in enumerate(words) if w in _TITLES), default=-1)
    person_cue = 0.0
    if 0 <= last_title < len(words) - 1:
        i, words = i + last_title + 1, words[last_title + 1 :]
        person_cue = 0.9
    while words and (words[0] == "the" or words[0] in _CONNECTORS):
        i, words = i + 1, words[1:]
    while words and words[-1] in _CONNECTORS:
        j, words = j - 1, words[:-1]
    if not words or (len(words) == 1 and words[0] in _TITLES):
        return []
    start, end = toks[i][0], toks[j - 1][1]
    if text[end - 2 : end] in ("'s", "’s"):
        end -= 2
    before = toks[i - 1][2] if i > 0 else ""
    before2 = toks[i - 2][2] if i > 1 else ""
    after = toks[j][2] if j < len(toks) else ""
    prev_text = text[toks[i - 1][1] : start] if i > 0 else ""
    if i > 0 and toks[i - 1][2] in _TITLES and text[toks[i - 1][0]].islower():
        person_cue = max(person_cue, 0.8)  # 'spokesman Dmitry Peskov'
    if after in _PERSON_AFTER:
        person_cue = max(person_cue, 0.7)
    org = 0.9 if any(w in _ORG_WORDS for w in words) else 0.0
    place = 0.9 if any(w in _PLACE_WORDS for w in words) else 0.0
    if before in _PLACE_BEFORE and "," not in prev_text:
        place = max(place, 0.7)
    if before == "of" and (before2 in _PLACE_OF or before2 in _COMPASS):
        place = max(place, 0.9)  # 'city of Ust-Ilimsk', '600 miles east of Moscow'
    if before in _COMPASS and not prev_text.strip():
        place = max(place, 0.6)
    if text[end : end + 2] == ", " and j < len(toks) and _is_cap(toks, j, text):
        place = max(place, 0.6)
    if words[-1].endswith(_PLACE_SUFFIXES):
        place = max(place, 0.6)
    acronym = len(words) == 1 and text[start:end].isupper() and len(words[0]) >= 2
    if acronym:
        org = max(org, 0.6)
    if person_cue:
        person = person_cue
    elif org or place:
        person = 0.1
    elif len(words) >= 2:
        person = 0.7
    else:
        person = 0.5
    base = 0.4
    if not org and not place:
        org, place = base, base
    if len(words) == 1 and words[0].endswith(_DEMONYM_ENDINGS) and after and text[toks[j][0]].islower():
        # 'Siberian city', 'Russian men': an adjective, a name only for 'what nationality/language'
        person = place = org = 0.15
    initial = _sentence_initial(toks, i, text) and j - i == 1
    scale = 0.6 if initial else 1.0
    if _title_case(text):
        scale *= 0.5  # a headline: every word is capitalised, so capitals say little
    return [Name(start, end, person * scale, place * scale, org * scale)]


@lru_cache(maxsize=8192)
def _title_case(text: str) -> bool:
    """Whether most content words are capitalised, as in a headline."""
    toks = tokenize(text)
    content = [t for t in toks if t[3] and not t[2][0].isdigit()]
    if len(content) < 4:
        return False
    return sum(1 for t in content if text[t[0]].isupper()) >= 0.7 * len(content)


_BREAK_WORDS: Final = frozenset(
    """is was are were be been being am has have had do does did will would can could may might shall should must
    which that who whom whose where when while because although though if but as than so not also such this these
    those it its they them their he she his her him we our you your i there here then thus however whether into
    in on at for to by with from about between through during after before under over against since until upon
    among within without across toward towards via per like unlike including include includes included""".split()
)
_EDGE_WORDS: Final = frozenset("the a an of and or".split())
NP_MAX: Final = 6
"""Longest noun phrase proposed, in words."""
NP_BASE: Final = 0.6
NP_FOCUS: Final = 0.4
"""Added to a noun phrase's fit when it is next to the question's focus word."""
NP_CAPS: Final = 0.1
"""Added when it starts with a capital letter."""
NP_FALLBACK: Final[Mapping[str, float]] = MappingProxyType(
    {"place": 0.1, "organization": 0.1, "name": 0.1, "date": 0.1, "measure": 0.1}
)
"""Fit factor of noun phrases for typed questions whose sentence may lack a typed span (0: none)."""


_VERBS: Final = frozenset(
    """known called made make makes become became becomes began begin begins said say says took take takes gave
    give gives got get gets went go goes came come comes held hold holds led lead leads built build builds won win
    wins set put left leave leaves found find finds seen see sees given taken shown show shows grown grow grows
    drawn begun run runs ran used use uses include includes included remain remains remained consist consists
    known means mean meant brought bring brings kept keep keeps sent send sends told tell tells thought think
    thinks lost lose loses paid pay pays met meet meets stood stand stands""".split()
)


def _verbish(text: str, tok: Token) -> bool:
    """A lowercase verb form or adverb ('continued', 'explicitly', 'became'): not part of a noun phrase."""
    word = tok[2]
    if not text[tok[0]].islower():
        return False
    if word in _VERBS:
        return True
    return len(word) > 4 and (word.endswith("ed") or word.endswith("ly") or word.endswith("ing"))


def _noun_phrases(text: str, sent: _Sentence, q: _Question) -> list[Candidate]:
    """Noun-phrase material split at question words, trimmed of articles and 'of/and/or', at most NP_MAX words.

    A phrase next to the question's focus word ('Sky Digital' before 'platform' for 'what
    platform ...') fits best; capitalised phrases a little better than others.
    """
    toks = sent.toks
    out: list[Candidate] = []
    focus_at = frozenset(sent.positions.get(q.focus, ())) if q.focus else frozenset()

    def emit(run: list[int]) -> None:
        lo, hi = 0, len(run)
        while lo < hi and toks[run[lo]][2] in _EDGE_WORDS:
            lo += 1
        while hi > lo and toks[run[hi - 1]][2] in _EDGE_WORDS:
            hi -= 1
        if hi <= lo or not any(toks[k][3] for k in run[lo:hi]):
            return
        first, last = run[lo], run[min(hi, lo + NP_MAX) - 1]
        fit = NP_BASE
        if focus_at and (first - 1 in focus_at or last + 1 in focus_at):
            fit += NP_FOCUS
        if text[toks[first][0]].isupper():
            fit += NP_CAPS
        out.append((toks[first][0], toks[last][1], min(1.0, fit)))

    for static in sent.runs:
        run: list[int] = []
        for k in static:
            _, _, word, stem = toks[k]
            if word in q.words or (stem and stem in q.weights):
                if run:
                    emit(run)
                    run = []
            else:
                run.append(k)
        if run:
            emit(run)
    return out


# --- scoring -----------------------------------------------------------------------------------


def _token_range(sent: _Sentence, start: int, end: int) -> tuple[int, int]:
    first = bisect.bisect_left(sent.starts, start)
    if first > 0 and sent.toks[first - 1][1] > start:
        first -= 1
    return first, max(first, bisect.bisect_left(sent.starts, end) - 1)


def _closeness(first: int, last: int, positions: list[tuple[int, float]]) -> float:
    """Weighted mean of 1 / d over the question terms in the sentence (d = token distance, 1 = adjacent)."""
    total = num = 0.0
    for idx, w in positions:
        if idx < first:
            num += w / (first - idx)
        elif idx > last:
            num += w / (idx - last)
        else:
            continue
        total += w
    return num / total if total > 0 else 0.0


def _novelty(sent: _Sentence, first: int, last: int, q: _Question) -> float:
    """Share of the span's words that are not question words (0 = made only of question words)."""
    inside = sent.toks[first : last + 1]
    if not inside:
        return 0.0
    new = sum(1 for t in inside if t[2] not in q.words and not (t[3] and t[3] in q.weights))
    return new / len(inside)


AGENT_BONUS: Final = 1.6
"""Local-score factor for a name that is the subject of the question's verb ('Zinin who shot', 'shot by Zinin')."""
_AGENT_GLUE: Final = frozenset("who that which then had has have was were allegedly reportedly also".split())


def _is_agent(sent: _Sentence, first: int, last: int, verb: str) -> bool:
    """Whether the question's verb follows the span (with at most two glue words between: 'X who
    shot'), or the span follows 'VERB by' (passive: 'was shot by X')."""
    toks = sent.toks
    for k in range(last + 1, min(last + 4, len(toks))):
        if toks[k][3] == verb:
            return True
        if toks[k][2] not in _AGENT_GLUE:
            break
    return first >= 2 and toks[first - 1][2] == "by" and toks[first - 2][3] == verb


def _best_span(q: _Question, text: str, sent: _Sentence, match: _Match, w: ReaderWeights) -> tuple[int, int, float] | None:
    """The sentence's best span as (start, end, local score), offsets into the sentence."""
    qtype = q.qtype
    if qtype == "thing":
        cands = _noun_phrases(text, sent, q)
    else:
        cands = _typed_candidates(qtype, text, sent.toks)
        fallback = NP_FALLBACK.get(qtype, 0.0)
        if fallback > 0:
            cands += [(s, e, fit * fallback) for s, e, fit in _noun_phrases(text, sent, q)]
    best: tuple[int, int, float] | None = None
    floor = w.closeness_floor
    for start, end, fit in cands:
        if best is not None and fit <= best[2]:
            continue  # cannot win: local <= fit
        first, last = _token_range(sent, start, end)
        novelty = _novelty(sent, first, last, q)
        if novelty <= 0:
            continue
        local = fit * novelty * (floor + (1 - floor) * _closeness(first, last, match.positions))
        if q.verb and _is_agent(sent, first, last, q.verb):
            local = min(1.0, local * AGENT_BONUS)
        if best is None or local > best[2]:
            best = (start, end, local)
    return best


def read(
    question: str,
    candidates: Sequence[SentenceCandidate],
    idf: Mapping[str, float] | None = None,
    top_n: int = 5,
    weights: ReaderWeights = DEFAULT_WEIGHTS,
) -> list[SpanCandidate]:
    """Best spans first, at most one per sentence, at most ``top_n``.

    ``idf`` maps stemmed terms (as :func:`terms` makes them) to their idf over the corpus;
    terms missing from it weigh as rare words; without it every term weighs 1. Each
    sentence contributes its best span for the question's type (see :mod:`qa.qtypes`), or
    itself (qtype ``'sentence'``, whitespace trimmed) when the question wants a sentence or it
    holds no fitting span. Span score = sentence score x (``span_floor`` + (1 -
    ``span_floor``) x local score), where a whole sentence answering a typed question has
    local score 0 and one answering a ``sentence`` question 1. Blank sentences are skipped;
    equal scores keep the candidates' order. Sentences whose best possible score cannot reach
    the ``top_n`` best are not searched for spans (the result is the same).
    """
    if top_n <= 0 or not candidates:
        return []
    q = _question(question, idf)
    wants_span = q.qtype != "sentence" and (q.qtype != "thing" or weights.thing_spans)
    typed = wants_span and q.qtype != "thing"
    wsum = weights.cosine + weights.lexical + weights.bigram + weights.proximity + weights.passage
    if typed:
        wsum += weights.type_fit
    if wsum <= 0:
        wsum = 1.0
    scored: list[tuple[float, int, float, _Sentence, _Match]] = []
    for index, cand in enumerate(candidates):
        sent = _analyse(cand.text)
        if not sent.toks and not cand.text.strip():
            continue
        match = _match(q, sent)
        raw = (
            weights.cosine * max(0.0, min(1.0, cand.cosine))
            + weights.lexical * match.lexical
            + weights.bigram * match.bigram
            + weights.proximity * match.proximity
            + weights.passage * max(0.0, min(1.0, cand.passage_score))
        )
        bound = (raw + (weights.type_fit if typed else 0.0)) / wsum
        scored.append((bound, index, raw, sent, match))
    scored.sort(key=lambda x: (-x[0], x[1]))
    best: list[tuple[float, int, SpanCandidate]] = []
    floor = weights.span_floor
    for bound, index, raw, sent, match in scored:
        if len(best) >= top_n and min(1.0, bound) < best[-1][0]:
            break
        cand = candidates[index]
        text = cand.text
        span = _best_span(q, text, sent, match, weights) if wants_span else None
        if typed:
            raw += weights.type_fit * (span[2] if span is not None else 0.0)
        sentence_score = min(1.0, max(0.0, raw / wsum))
        if span is None:
            start, end = _trim_whitespace(text)
            local, qtype = (0.0 if wants_span else 1.0), "sentence"
        else:
            (start, end, local), qtype = span, q.qtype
        score = min(1.0, max(0.0, sentence_score * (floor + (1 - floor) * local)))
        result = SpanCandidate(index, cand.start + start, cand.start + end, text[start:end], qtype, score, sentence_score)
        bisect.insort(best, (score, index, result), key=lambda x: (-x[0], x[1]))
        del best[top_n:]
    return [r for _, _, r in best]


def _trim_whitespace(text: str) -> tuple[int, int]:
    lo, hi = 0, len(text)
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def warm_up(texts: Iterable[str]) -> None:
    """Analyse sentences ahead of questions (tokens, stems, names, values), e.g. the corpus's at start-up.

    Only speeds later :func:`read` calls; the caches keep the 16,384 most recent sentences.
    """
    for text in texts:
        _analyse(text)
        names(text)
        find_values(text)


def clear_caches() -> None:
    """Empty the per-text caches (tokens, stems, names, values, question types); for timing and tests."""
    for cached in (tokenize, _stem, _analyse, names, find_values, analyse_question, value_key):
        cached.cache_clear()
