"""The WordNet reader behind the ``paraphrased`` training positives, on a tiny dictionary in WordNet's own file format."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from qa.answering.synonyms import WordNet
from qa.answering.train import Example, _paraphrase, make_examples

# synsets: (pos, key, words); index rows: (lemma, pos, tagged-sense count, synset keys, commonest first)
SYNSETS = [
    ("noun", "city", ["city", "metropolis", "urban_center"]),
    ("noun", "town", ["town", "burg"]),
    ("noun", "marble", ["taw", "shooter"]),
    ("noun", "taw", ["taw"]),
    ("noun", "year", ["year", "twelvemonth"]),
    ("adj", "large", ["large", "big(a)"]),  # "(a)": WordNet's position marker on adjectives
    ("verb", "begin", ["begin", "commence", "beginning"]),
]
INDEX = [
    ("city", "noun", 5, ["city"]), ("metropolis", "noun", 1, ["city"]), ("urban_center", "noun", 1, ["city"]),
    ("town", "noun", 4, ["town"]), ("burg", "noun", 1, ["town"]),
    ("shooter", "noun", 2, ["marble"]), ("taw", "noun", 1, ["taw", "marble"]),
    ("year", "noun", 9, ["year"]), ("twelvemonth", "noun", 0, ["year"]),
    ("large", "adj", 7, ["large"]), ("big", "adj", 8, ["large"]),
    ("begin", "verb", 6, ["begin"]), ("commence", "verb", 2, ["begin"]), ("beginning", "verb", 1, ["begin"]),
]


def tiny_wordnet(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    offsets: dict[str, int] = {}
    for pos in ("noun", "verb", "adj", "adv"):
        header = "  1 This software and database is being provided to you, the LICENSEE, by Princeton University\n"
        body = header.encode()
        for spos, key, words in SYNSETS:
            if spos != pos:
                continue
            offsets[key] = len(body)
            members = " ".join(f"{w} 0" for w in words)
            body += f"{len(body):08d} 05 {pos[0]} {len(words):02x} {members} 000 | a gloss\n".encode()
        (root / f"data.{pos}").write_bytes(body)
    for pos in ("noun", "verb", "adj", "adv"):
        rows = [header]
        for lemma, lpos, tagged, keys in sorted(INDEX):
            if lpos == pos:
                rows.append(f"{lemma} {pos[0]} {len(keys)} 1 @ {len(keys)} {tagged} "
                            + " ".join(f"{offsets[k]:08d}" for k in keys) + "  \n")
        (root / f"index.{pos}").write_text("".join(rows))
    return root


@pytest.fixture
def wordnet(tmp_path) -> WordNet:
    return WordNet(tiny_wordnet(tmp_path / "wn"))


def test_synonyms_are_other_words_of_the_commonest_sense(wordnet):
    assert wordnet.synonyms("large") == ("big",)
    assert wordnet.synonyms("Big") == ("large",)
    # "urban center" is two words; "beginning" shares the word's first letters (an inflection)
    assert wordnet.synonyms("city") == ("metropolis",)
    assert wordnet.synonyms("begin") == ("commence",)
    # a regular plural keeps its "s"; an irregular one ("metropoliss") is not made
    assert wordnet.synonyms("towns") == ("burgs",)
    assert wordnet.synonyms("cities") == ()


def test_a_sense_that_is_not_the_synonyms_own_commonest_or_a_rare_word_is_not_used(wordnet):
    assert wordnet.synonyms("shooter") == ()  # "taw" is first a marble
    assert wordnet.synonyms("year") == ()  # "twelvemonth" is never tagged
    assert wordnet.synonyms("unknownword") == ()


def test_a_missing_dictionary_says_how_to_install_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install wordnet-base"):
        WordNet(tmp_path / "nowhere")


def test_paraphrase_keeps_names_numbers_and_the_answer():
    syn = {"large": ("big",), "city": ("metropolis",), "born": ("delivered",), "where": ("wherever",)}.get
    rng = random.Random(0)
    seen = {_paraphrase("Which large city was Anna born in 1990?", "Anna", lambda w: syn(w.lower(), ()), rng)
            for _ in range(30)}
    seen.discard(None)
    assert seen and all("Anna" in q and "1990" in q for q in seen)
    assert "Which big metropolis was Anna born in 1990?" in seen or any(
        q.count(" ") == 7 and q != "Which large city was Anna born in 1990?" for q in seen)
    # a word of the answer is never replaced, and a capitalised first word keeps its capital
    assert _paraphrase("Large cities?", "large cities", lambda w: syn(w.lower(), ()), rng) is None
    assert _paraphrase("City of what?", "x", lambda w: syn(w.lower(), ()), rng) == "Metropolis of what?"


def test_paraphrased_positives_keep_their_answer(tmp_path):
    from qa.answering.train import read_squad
    from tests.test_train_reader import tiny_squad

    data = read_squad(tiny_squad(tmp_path / "t.json.gz"))
    syn = {"born": ("delivered",), "year": ("twelvemonth",)}
    ex = make_examples(data, random.Random(3), removed_rate=0.0, other_rate=0.0, paraphrase_rate=1.0,
                       synonyms=lambda w: syn.get(w.lower(), ()))
    paraphrased = [e for e in ex if e.kind == "paraphrased"]
    positives = {(e.context, e.answer_start): e for e in ex if e.kind == "positive"}
    assert len(paraphrased) == len(positives)  # every question here has "born" in it
    for e in paraphrased:
        orig: Example = positives[(e.context, e.answer_start)]
        assert e.answer_text == orig.answer_text and e.question != orig.question
        assert "delivered" in e.question or "twelvemonth" in e.question
    # off by default: the recipes of earlier revisions make the same examples as before
    assert not [e for e in make_examples(data, random.Random(3), removed_rate=0.0, other_rate=0.0)
                if e.kind == "paraphrased"]
