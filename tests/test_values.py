"""Typed values in text and the keys that decide whether two sources agree."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answering.values import find_values, normalize_text, parse_number, same_value, value_key


def spans(text: str) -> list[tuple[str, str]]:
    return [(text[s:e], kind) for s, e, kind in find_values(text)]


# --- agreement (the examples) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "qtype"),
    [
        ("2,000", "at least 2,000", "number"),
        ("2,000", "more than 2,000", "number"),
        ("at least 2,000", "more than 2,000", "number"),
        ("300,000", "300,000 men", "number"),
        ("at least 300,000 troops", "300,000 men", "number"),
        ("Ruslan Zinin", "Zinin", "person"),
        ("Zinin's", "Ruslan Zinin", "person"),
        ("25-year-old", "25", "age"),
        ("aged 25", "25-year-old", "age"),
        ("1.2 million", "1,200,000", "number"),
        ("eleven", "11", "number"),
        ("five days", "5 days", "duration"),
        ("$5 million", "5 million dollars", "money"),
        ("20 kilometers", "20 km", "distance"),
        ("18-kilometre", "18 kilometres", "distance"),
        ("Monday", "Monday afternoon", "date"),
        ("45 per cent", "45%", "percent"),
    ],
)
def test_same_value(a: str, b: str, qtype: str) -> None:
    assert same_value(a, b, qtype)
    assert same_value(b, a, qtype)


@pytest.mark.parametrize(
    ("a", "b", "qtype"),
    [
        ("20 kilometers", "18-kilometre", "distance"),
        ("261,000", "more than 260,000", "number"),
        ("261,000", "260,000", "number"),
        ("Ruslan Zinin", "Mikhail Filatov", "person"),
        ("25-year-old", "35-year-old", "age"),
        ("5 days", "5 weeks", "duration"),
        ("Sochi", "Moscow", "place"),
        ("", "Moscow", "place"),
    ],
)
def test_different_values(a: str, b: str, qtype: str) -> None:
    assert not same_value(a, b, qtype)


@pytest.mark.parametrize(
    ("text", "qtype", "key"),
    [
        ("2,000", "number", "2000"),
        ("at least 2,000", "number", "2000"),
        ("more than 2,000", "number", "2000"),
        ("300,000 men", "number", "300000"),
        ("20 kilometers", "distance", "20 km"),
        ("18-kilometre", "distance", "18 km"),
        ("25-year-old", "age", "25"),
        ("1.2 million", "number", "1200000"),
        ("£304m", "money", "304000000 £"),
        ("61.1%", "percent", "61.1 %"),
        ("two weeks", "duration", "2 week"),
        ("The Kremlin", "organization", "kremlin"),
        ("several hundred", "number", "several hundred"),
    ],
)
def test_value_key(text: str, qtype: str, key: str) -> None:
    assert value_key(text, qtype) == key


def test_normalize_text_is_squad_like() -> None:
    assert normalize_text("The  Zinin's, “gun”!") == "zinin gun"


@pytest.mark.parametrize(("text", "value"), [("2,000", 2000), ("1.5", 1.5), ("twenty-five", 25), ("a dozen", 12)])
def test_parse_number(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "many", "1.2.3", "twenty-many"])
def test_parse_number_rejects(text: str) -> None:
    assert parse_number(text) is None


# --- finding values ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 25-year-old man shouted", [("25-year-old", "age")]),
        ("Zinin, aged 25, was arrested", [("25", "age"), ("25", "number")]),
        ("261,000 men left Russia", [("261,000", "number")]),
        ("the line was 20 kilometers long", [("20 kilometers", "distance")]),
        ("an 18-kilometre line", [("18-kilometre", "distance")]),
        ("26,000 square kilometres of farmland", [("26,000 square kilometres", "measure")]),
        ("costs of $5.3 billion", [("$5.3 billion", "money")]),
        ("Sky paid £304m", [("£304m", "money")]),
        ("about 45 per cent", [("45 per cent", "percent")]),
        ("within five days", [("five days", "duration")]),
        ("on 5 March 1066", [("5 March 1066", "date")]),
        ("Last Wednesday, Putin spoke", [("Last Wednesday", "date")]),
        ("on Monday afternoon", [("Monday afternoon", "date")]),
        ("since the 1920s", [("1920s", "date")]),
        ("in the 10th century", [("the 10th century", "date")]),
        ("September 2007", [("September 2007", "date")]),
        ("tens of thousands had fled", [("tens of thousands", "number")]),
        ("at least eleven offices", [("eleven", "number")]),
    ],
)
def test_find_values(text: str, expected: list[tuple[str, str]]) -> None:
    assert spans(text) == expected


def test_year_is_a_date_and_a_number() -> None:
    assert set(spans("the census of 2010 said")) == {("2010", "date"), ("2010", "number")}


def test_no_values_in_plain_words() -> None:
    assert find_values("Nobody is going to fight, the gunman shouted.") == ()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_find_values_offsets_are_in_range(text: str) -> None:
    for start, end, kind in find_values(text):
        assert 0 <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        assert kind


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60), st.text(max_size=60), st.sampled_from(["number", "person", "date", "age", "sentence"]))
def test_keys_never_crash_and_same_value_is_symmetric(a: str, b: str, qtype: str) -> None:
    assert isinstance(value_key(a, qtype), str)
    assert same_value(a, b, qtype) == same_value(b, a, qtype)
