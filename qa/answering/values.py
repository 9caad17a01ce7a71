"""Typed values inside a sentence, and the keys that say whether two sources give the same value.

:func:`find_values` locates numbers (with multipliers and units), money, percentages, ages,
durations, distances and other measurements, and dates/times in a piece of text, as
``(start, end, kind)`` triples with end-exclusive offsets into that text. The regular
expressions are compiled once at import.

:func:`value_key` turns an answer's text into a normalised key: numbers are parsed
(``'2,000'`` -> ``2000``, ``'1.2 million'`` -> ``1200000``, ``'eleven'`` -> ``11``), vague
qualifiers are dropped (``'at least'``, ``'more than'``, ``'about'`` ...), measurement units
are canonicalised (``'kilometers'``, ``'kilometre'``, ``'km'`` -> ``km``) and counted nouns are
dropped (``'300,000 men'`` -> ``300000``). Other values fall back to SQuAD-style text
normalisation. :func:`same_value` compares two answers: equal keys, or for names and dates,
one's tokens extending the other's at one end (``'Zinin'`` and ``'Ruslan Zinin'``; :func:`fuller_wording`).
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache
from typing import Final

# --- numbers --------------------------------------------------------------------------

_UNITS_WORDS: Final = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS_WORDS: Final = "twenty thirty forty fifty sixty seventy eighty ninety".split()
WORD_NUMBERS: Final[dict[str, int]] = {w: i for i, w in enumerate(_UNITS_WORDS)} | {
    w: 20 + 10 * i for i, w in enumerate(_TENS_WORDS)
}
WORD_NUMBERS["dozen"] = 12
SCALES: Final[dict[str, float]] = {
    "hundred": 1e2,
    "thousand": 1e3,
    "million": 1e6,
    "billion": 1e9,
    "trillion": 1e12,
    "bn": 1e9,
    "mn": 1e6,
    "m": 1e6,
    "k": 1e3,
}

_DIGITS = r"(?<![\w.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d,]\d)"
_WORDNUM = (
    r"\b(?i:(?:" + "|".join(_TENS_WORDS) + r")(?:[- ](?:one|two|three|four|five|six|seven|eight|nine))?"
    r"|(?:a\s+)?dozen|" + "|".join(sorted(_UNITS_WORDS[1:], key=len, reverse=True)) + r")\b"
)
_SCALE = r"(?:\s+(?i:hundred|thousand|million|billion|trillion)\b)"
NUMBER: Final = rf"(?:{_DIGITS}|{_WORDNUM}){_SCALE}*"
_VAGUE = (
    r"\b(?i:(?:tens|hundreds)\s+of\s+(?:thousands|millions)|several\s+(?:hundred|thousand|dozen|million)"
    r"|(?:a\s+)?few\s+(?:hundred|thousand|dozen|million)|hundreds|thousands|millions|dozens)\b"
)

# --- units ------------------------------------------------------------------------------

_LENGTH = (
    r"kilomet(?:re|er)s?|km|miles?|met(?:re|er)s?|feet|foot|ft|yards?|inch(?:es)?|"
    r"centimet(?:re|er)s?|cm|millimet(?:re|er)s?|mm|nautical\s+miles?|light[- ]years?"
)
_DURATION = (
    r"seconds?|minutes?|hours?|days?|weeks?|fortnights?|months?|years?|decades?|centur(?:y|ies)|millenni(?:um|a)"
)
_MEASURE = (
    r"(?:square|sq\.?|cubic)\s+(?:" + _LENGTH + r")|km2|km²|m2|m²|acres?|hectares?|"
    r"tonnes?|tons?|kilo(?:gram(?:me)?)?s?|kg|grams?|lbs?|ounces?|litres?|liters?|gallons?|barrels?|"
    r"km/h|mph|knots?|miles\s+per\s+hour|kilomet(?:re|er)s\s+per\s+hour|°\s?[CF]|degrees?(?:\s+(?:celsius|fahrenheit))?|"
    r"megawatts?|gigawatts?|kilowatts?|watts?|[kMG]W|[kMG]?Hz|volts?|calories|"
    r"[KMGT]B|[kMG]bit/s|bits?|bytes?|kilobytes?|megabytes?|gigabytes?|pixels?|lines"
)
_CURRENCY_WORDS = (
    r"dollars?|pounds?(?:\s+sterling)?|euros?|rubles?|roubles?|yen|yuan|francs?|cents?|pence|rupees?|hryvnias?"
)
_CURRENCY_SIGN = r"(?:US|A|C|NZ|HK)?[$£€¥₽]"

_UNIT_TAIL = r"(?:\s*|-)"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_MONTH = (
    r"(?:January|February|March|April|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Jun\.|Jul\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_MONTH_MAY = r"(?:" + _MONTH[3:-1] + r"|May)"
_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_PART_OF_DAY = r"(?:\s+(?:morning|afternoon|evening|night))"
_ORDINAL_WORD = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
    r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-first)"
)
_YEAR = r"(?<![\w$£€.,])(?:1[0-9]|20)\d\d(?:s\b|(?!\w|[.,]\d))"

# (kind, pattern). A pattern's group "v" (when present) is the value; otherwise the whole match.
_VALUE_PATTERNS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (kind, _compile(pattern))
    for kind, pattern in (
        (
            "age",
            rf"(?P<v>(?:{NUMBER})[- ](?:year|yr)s?[- ]old\b)|\b(?:aged|age of|ages of)\s+(?P<w>{NUMBER})\b",
        ),
        (
            "money",
            rf"{_CURRENCY_SIGN}\s?(?:{_DIGITS})(?:{_SCALE}|\s?(?:bn|mn|m|k)\b)*"
            rf"|(?:{NUMBER})\s+(?i:{_CURRENCY_WORDS})\b",
        ),
        ("percent", rf"(?:{NUMBER})\s?(?:%|(?i:per\s?cent|percent|percentage\s+points?)\b)"),
        ("distance", rf"(?:{NUMBER}){_UNIT_TAIL}(?i:{_LENGTH})\b(?!\s*(?:per|/))"),
        ("measure", rf"(?:{NUMBER}){_UNIT_TAIL}(?i:{_MEASURE})(?!\w)"),
        ("duration", rf"(?:{NUMBER}|{_VAGUE}|\b(?i:a|an|several|a\s+few))(?:{_UNIT_TAIL})(?i:{_DURATION})\b"),
        (
            "date",
            rf"\b(?:{_MONTH_MAY}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?"
            rf"{_MONTH_MAY}(?:,?\s+\d{{4}})?|{_MONTH_MAY},?\s+\d{{4}}|{_MONTH}|(?:early|mid|late)[- ]{_MONTH_MAY})"
            rf"|\b{_DAY}(?:,?\s+{_MONTH_MAY}\s+\d{{1,2}}(?:,?\s+\d{{4}})?|{_PART_OF_DAY})?\b"
            rf"|\b(?:the\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)|{_ORDINAL_WORD})[- ]century\b"
            rf"|\b(?:(?:AD|BC)\s+\d{{1,4}}|\d{{1,4}}\s+(?:AD|BC|BCE|CE))\b"
            rf"|\b\d{{1,2}}(?::\d\d)?\s?(?:a\.m\.|p\.m\.|(?i:am|pm)\b)|\b\d{{1,2}}:\d\d\b|\b(?:noon|midnight)\b"
            rf"|\b(?i:yesterday|today|tonight|tomorrow|(?:last|next|this)\s+(?:week|month|year|weekend))\b"
            rf"|\b(?i:last|next|this)\s+{_DAY}{_PART_OF_DAY}?\b"
            rf"|{_YEAR}(?:\s*[-–]\s*\d{{2,4}}\b)?",
        ),
        ("number", rf"{NUMBER}|{_VAGUE}"),
    )
)

VALUE_KINDS: Final = frozenset(kind for kind, _ in _VALUE_PATTERNS)
_PATTERNS: Final = dict(_VALUE_PATTERNS)

# A value starts at a digit, a currency sign or one of these words: each says which patterns to try.
_ALL_KINDS: Final = tuple(kind for kind, _ in _VALUE_PATTERNS)
_DATE_STARTS: Final = (
    "january february march april may june july august september october november december jan feb mar apr jun "
    "jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday the ad bc noon midnight "
    "yesterday today tonight tomorrow last next this early mid late " + _ORDINAL_WORD[3:-1].replace("|", " ")
)
_ANCHORS: Final[dict[str, tuple[str, ...]]] = (
    {w: ("date",) for w in _DATE_STARTS.split()}
    | {w: ("money",) for w in ("us", "nz", "hk", "c")}
    | {w: ("age",) for w in ("aged", "age", "ages")}
    | {w: ("duration", "number") for w in ("a", "an", "several", "few")}
    | {w: _ALL_KINDS for w in [*WORD_NUMBERS, "tens", "hundreds", "thousands", "millions", "dozens"]}
)
_CURRENCY_CHARS: Final = "$£€¥₽"
_SCAN = re.compile(r"[^\W_]+|[$£€¥₽]")


@lru_cache(maxsize=8192)
def find_values(text: str) -> tuple[tuple[int, int, str], ...]:
    """All typed values in ``text`` as ``(start, end, kind)``, sorted by position.

    The same stretch may carry several kinds (``'aged 35'`` gives ``'35'`` as an age and as a
    number); a value strictly inside a longer value is dropped (``'1066'`` inside
    ``'5 March 1066'``, ``'25-year'`` inside ``'25-year-old'``). Patterns are tried only where
    a value can start (a digit, a currency sign, a number, month or day word ...).
    """
    found: list[tuple[int, int, str]] = []
    for anchor in _SCAN.finditer(text):
        word = anchor.group()
        first = word[0]
        if first.isdigit():
            kinds: tuple[str, ...] = _ALL_KINDS
        elif first in _CURRENCY_CHARS:
            kinds = ("money",)
        else:
            kinds = _ANCHORS.get(word.lower(), ())
        for kind in kinds:
            m = _PATTERNS[kind].match(text, anchor.start())
            if m is None:
                continue
            groups = m.groupdict()
            group = "v" if groups.get("v") is not None else "w" if groups.get("w") is not None else 0
            start, end = _trim(text, *m.span(group))
            if end > start:
                found.append((start, end, kind))
    result = {
        (s, e, k) for s, e, k in found if not any(ts <= s and e <= te and te - ts > e - s for ts, te, _ in found)
    }
    return tuple(sorted(result))


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    return start, end


# --- keys ------------------------------------------------------------------------------------

NUMERIC_QTYPES: Final = frozenset({"number", "money", "percent", "age", "duration", "distance", "measure"})
NAME_QTYPES: Final = frozenset({"person", "place", "organization", "name", "date"})

_QUALIFIER = re.compile(
    r"^(?:(?:at\s+least|at\s+most|more\s+than|less\s+than|fewer\s+than|over|under|about|around|roughly|"
    r"approximately|approx\.?|nearly|almost|some|up\s+to|as\s+many\s+as|as\s+much\s+as|close\s+to|"
    r"just\s+over|just\s+under|well\s+over|an\s+estimated|estimated|a\s+total\s+of|only|just|a|an|the)\s+)+",
    re.IGNORECASE,
)
_KEY_NUMBER = re.compile(
    rf"(?P<sign>{_CURRENCY_SIGN})?\s?(?P<num>{_DIGITS}|{_WORDNUM})(?P<scales>(?:{_SCALE}|\s?(?:bn|mn|m|k)\b)*)"
    r"(?P<rest>.*)",
    re.DOTALL,
)
_UNIT_CANON: Final[tuple[tuple[re.Pattern[str], str], ...]] = tuple(
    (re.compile(p, re.IGNORECASE), u)
    for p, u in (
        (r"^(?:%|per\s?cent\b|percent\b|percentage)", "%"),
        (r"^(?:square|sq\.?)\s+(?:kilomet(?:re|er)s?|km)\b|^km2|^km²", "km2"),
        (r"^(?:square|sq\.?)\s+miles?\b", "mi2"),
        (r"^(?:square|sq\.?)\s+(?:met(?:re|er)s?|m)\b|^m2|^m²", "m2"),
        (r"^(?:kilomet(?:re|er)s?|km)\b(?!\s*(?:per|/))", "km"),
        (r"^(?:miles?|mi)\b(?!\s*per)", "mi"),
        (r"^(?:met(?:re|er)s?|m)\b", "m"),
        (r"^(?:feet|foot|ft)\b", "ft"),
        (r"^(?:centimet(?:re|er)s?|cm)\b", "cm"),
        (r"^(?:millimet(?:re|er)s?|mm)\b", "mm"),
        (r"^(?:yards?|yds?)\b", "yd"),
        (r"^(?:tonnes?|tons?)\b", "t"),
        (r"^(?:kilo(?:gram(?:me)?)?s?|kg)\b", "kg"),
        (r"^(?:km/h|kilomet(?:re|er)s\s+per\s+hour)", "km/h"),
        (r"^(?:mph|miles\s+per\s+hour)", "mph"),
        (r"^(?:acres?)\b", "acre"),
        (r"^(?:hectares?)\b", "ha"),
        (r"^(?:seconds?|secs?)\b", "second"),
        (r"^(?:minutes?|mins?)\b", "minute"),
        (r"^(?:hours?|hrs?)\b", "hour"),
        (r"^days?\b", "day"),
        (r"^weeks?\b", "week"),
        (r"^months?\b", "month"),
        (r"^(?:years?|yrs?)\b(?![- ]old)", "year"),
        (r"^decades?\b", "decade"),
        (r"^centur(?:y|ies)\b", "century"),
        (r"^(?:dollars?)\b", "$"),
        (r"^(?:euros?)\b", "€"),
        (r"^(?:pounds?(?:\s+sterling)?)\b", "£"),
        (r"^(?:rubles?|roubles?)\b", "₽"),
    )
)
_SIGN_CANON: Final = {"$": "$", "£": "£", "€": "€", "¥": "¥", "₽": "₽"}
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = frozenset(string.punctuation) | frozenset("‘’“”«»–—…")
_POSSESSIVE = re.compile(r"['’]s\b")


def normalize_text(text: str) -> str:
    """SQuAD normalisation: NFKC, lowercase, no punctuation, no articles, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in _POSSESSIVE.sub("", text))
    return " ".join(_ARTICLES.sub(" ", text).split())


def parse_number(text: str) -> float | None:
    """The number a numeral or number word stands for (``'2,000'`` -> 2000, ``'twenty-five'`` -> 25)."""
    t = text.strip().lower()
    if not t:
        return None
    if t[0].isdigit():
        try:
            return float(t.replace(",", ""))
        except ValueError:
            return None
    t = re.sub(r"^a\s+", "", t)
    total = 0
    for part in re.split(r"[- ]+", t):
        if part not in WORD_NUMBERS:
            return None
        total += WORD_NUMBERS[part]
    return float(total)


def _format_number(value: float) -> str:
    return str(int(value)) if value == int(value) and abs(value) < 1e18 else f"{value:g}"


@lru_cache(maxsize=4096)
def value_key(text: str, qtype: str) -> str:
    """Normalised value of an answer text for agreement between sources.

    For numeric question types the key is ``'<number>'`` or ``'<number> <unit>'`` with
    qualifiers and counted nouns dropped; for ages the unit is dropped too
    (``'25-year-old'`` -> ``'25'``). A text without a parsable number, and every other type,
    gets :func:`normalize_text`.
    """
    if qtype in NUMERIC_QTYPES:
        key = _numeric_key(text, qtype)
        if key is not None:
            return key
    return normalize_text(text)


def _numeric_key(text: str, qtype: str) -> str | None:
    t = " ".join(unicodedata.normalize("NFKC", text).split())
    t = _QUALIFIER.sub("", t)
    m = _KEY_NUMBER.match(t)
    if m is None:
        # the number may come later: 'aged 25', 'the age of 25'
        first = re.search(rf"{_CURRENCY_SIGN}?\s?(?:{_DIGITS}|{_WORDNUM})", t)
        if first is None:
            return None
        m = _KEY_NUMBER.match(t[first.start() :])
        if m is None:
            return None
    value = parse_number(m.group("num"))
    if value is None:
        return None
    for scale in re.findall(r"[a-z]+", m.group("scales").lower()):
        value *= SCALES.get(scale, 1.0)
    unit = ""
    if m.group("sign"):
        unit = _SIGN_CANON.get(m.group("sign")[-1], m.group("sign"))
    rest = m.group("rest").lstrip(" -")
    if not unit:
        for pattern, canon in _UNIT_CANON:
            if pattern.match(rest):
                unit = canon
                break
    if qtype == "age" or (unit == "year" and re.match(r"(?:years?|yrs?)[- ]old", rest, re.IGNORECASE)):
        unit = ""
    number = _format_number(value)
    return f"{number} {unit}" if unit else number


def same_value(a: str, b: str, qtype: str) -> bool:
    """Whether two answer texts give the same value for a question of type ``qtype``.

    Equal :func:`value_key`; numbers compare by value when only one side has a unit; for
    names and dates one side's words extending the other's at one end count as the same
    (``'Zinin'`` / ``'Ruslan Zinin'``, ``'Monday'`` / ``'Monday afternoon'``).
    """
    ka, kb = value_key(a, qtype), value_key(b, qtype)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    if qtype in NUMERIC_QTYPES:
        na, _, ua = ka.partition(" ")
        nb, _, ub = kb.partition(" ")
        return na == nb and (not ua or not ub) and _is_number(na)
    if qtype in NAME_QTYPES:
        return fuller_wording(ka, kb)
    return False


def fuller_wording(a: str, b: str) -> bool:
    """Whether one of two normalised answers is the other with words added at one end ('zinin' /
    'ruslan zinin', 'monday' / 'monday afternoon'); a word from inside a phrase is not ('russian' /
    'young russian man': there it only describes the man)."""
    ta, tb = a.split(), b.split()
    short, long = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    n = len(short)
    return n > 0 and (long[:n] == short or long[-n:] == short)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
