"""WordNet 3.0 synonyms for the reader's training data (``paraphrased`` positives, see train.py).

Reads the dictionary's own files (Debian's ``wordnet-base`` puts them in /usr/share/wordnet):
``index.<pos>`` maps a lemma to its synsets, most frequent sense first, and ``data.<pos>`` holds
each synset's words at the byte offset the index names. Only training uses this, and only when
``--paraphrase-rate`` is set: nothing at run time or in the tests needs the dictionary installed.

A word's synonyms are the other words of its commonest sense, in the part of speech where that
word is most often tagged (WordNet's ``tagsense_cnt``), so "large" -> "big", "begin" -> "start" (single words only);
a regular plural noun keeps its "s". A synonym is kept only when that sense is its own commonest
one too ("shooter" is not "taw", a marble, though one sense of each is) and it is seen in WordNet's
tagged corpus at all ("year" is not "twelvemonth"), and words that share their
first four letters with the word are left out (they are inflections, not other words).
"""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_ROOT = Path("/usr/share/wordnet")
POS = ("noun", "verb", "adj", "adv")
_MARKER = re.compile(r"\([a-z]+\)$")
_IRREGULAR_PLURAL = re.compile(r"(?:s|x|z|ch|sh|y|man)$")
"""Nouns whose plural is not the word plus "s" (metropolis, box, city, chairman): not used for a plural."""


class WordNet:
    """Lemma -> synonyms of its commonest sense, from a WordNet 3.0 dictionary folder."""

    def __init__(self, root: Path | str = DEFAULT_ROOT):
        self.root = Path(root)
        missing = [p for p in POS if not (self.root / f"index.{p}").is_file() or not (self.root / f"data.{p}").is_file()]
        if missing:
            raise FileNotFoundError(
                f"no WordNet dictionary in {self.root} (index/data for {', '.join(missing)}): "
                "install it with `apt-get install wordnet-base`"
            )
        # lemma -> (tagged-sense count, pos, offset of its first synset)
        self._first: dict[str, tuple[int, str, int]] = {}
        for pos in POS:
            with open(self.root / f"index.{pos}", encoding="utf-8") as handle:
                for line in handle:
                    if line.startswith(" "):
                        continue  # the licence header
                    parts = line.split()
                    try:
                        p_cnt = int(parts[3])
                        tagged = int(parts[5 + p_cnt])
                        offset = int(parts[6 + p_cnt])
                    except (IndexError, ValueError):
                        continue
                    best = self._first.get(parts[0])
                    if best is None or tagged > best[0]:
                        self._first[parts[0]] = (tagged, pos, offset)
        self._cache: dict[str, tuple[str, ...]] = {}

    def _synset_words(self, pos: str, offset: int) -> list[str]:
        """The words of the synset at ``offset`` (a phrase joins its words with "_", as WordNet writes it)."""
        with open(self.root / f"data.{pos}", "rb") as handle:
            handle.seek(offset)
            parts = handle.readline().decode("utf-8", "replace").split()
        try:
            count = int(parts[3], 16)
        except (IndexError, ValueError):
            return []
        return [_MARKER.sub("", w) for w in parts[4 : 4 + 2 * count : 2]]

    def _sense_of(self, word: str) -> tuple[str, int] | None:
        """The commonest sense of ``word`` when it is ever tagged in WordNet's corpus (rare words are not)."""
        entry = self._first.get(word.lower())
        return entry[1:] if entry is not None and entry[0] > 0 else None

    def _lemma_synonyms(self, lemma: str) -> tuple[str, ...]:
        if lemma in self._cache:
            return self._cache[lemma]
        found: tuple[str, ...] = ()
        entry = self._first.get(lemma)
        if entry is not None:
            sense = entry[1:]
            found = tuple(
                w for w in self._synset_words(entry[1], entry[2])
                if "_" not in w and w.lower() != lemma and w.lower()[:4] != lemma[:4] and w.isascii()
                and self._sense_of(w) == sense
            )
        self._cache[lemma] = found
        return found

    def synonyms(self, word: str) -> tuple[str, ...]:
        """Other words for ``word`` (lowercase; a regular plural keeps its "s"), or ()."""
        lowered = word.lower()
        direct = self._lemma_synonyms(lowered)
        if direct:
            return direct
        if lowered.endswith("s") and not lowered.endswith("ss") and len(lowered) > 4:
            entry = self._first.get(lowered[:-1])
            if entry is not None and entry[1] == "noun":
                return tuple(w + "s" for w in self._lemma_synonyms(lowered[:-1]) if not _IRREGULAR_PLURAL.search(w))
        return ()
