"""The decision to answer: the reader's evidence -> a calibrated probability -> a tier.

A logistic model over a few features of the best span, fitted per reader by
``eval/calibrate.py`` (on the shared SQuAD 2.0 dev articles plus the seed question set,
weighted to a realistic share of unanswerable questions) and stored beside the reader's
weights as ``<reader>.calibration.json`` with two thresholds chosen from the cost of each
error (docs/reader.md): at or above ``threshold`` qa answers; at or above
``tentative_threshold`` it shows the best candidate as a *tentative* answer; below, it
declines. A reader without a calibration file falls back to a plain logistic of its margin
(declining when the span does not beat 'no answer', no tentative tier).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from qa.answering.readers.base import ReaderSpan

FEATURES = ("margin", "score", "passage", "rank", "agree")
"""margin: span score - its window's no-answer score; score: the span score; passage: the
retrieval score of the span's passage relative to the best; rank: 1 / (1 + the passage's rank);
agree: the other sources that extract the same value (``qa.answering.pipeline``), each counted
by its probability when read on its own, summed and capped at ``MAX_AGREE``.

Lexical features (the share of the question's terms found in the passage, the rarest missing
term) were tried: they raise the AUC on SQuAD 2.0 dev from 0.64 to 0.68 but with a negative
weight on coverage (SQuAD's unanswerable questions were written to reuse the paragraph's
words), which cost 8 points of F1 on the seed questions; they are left out."""


MAX_AGREE = 2.0
"""Agreement beyond two sure sources adds no evidence the calibration can measure (few questions have more)."""

Status = Literal["answered", "tentative", "declined"]


def features(span: ReaderSpan, passage_score: float, rank: int, agree: float = 0.0) -> dict[str, float]:
    return {"margin": span.margin, "score": span.score, "passage": passage_score, "rank": 1.0 / (1 + rank),
            "agree": float(min(agree, MAX_AGREE))}


@dataclass(frozen=True, slots=True)
class Calibration:
    weights: dict[str, float]
    bias: float
    threshold: float
    """At or above: answer."""
    tentative_threshold: float | None = None
    """At or above (and below ``threshold``): a tentative answer. None: no tentative tier."""

    def overridden(self, threshold: float | None = None, tentative: float | None = None) -> Calibration:
        """This calibration with the answer and/or tentative threshold set by the user (None keeps the calibrated)."""
        return replace(self, threshold=self.threshold if threshold is None else threshold,
                       tentative_threshold=self.tentative_threshold if tentative is None else tentative)

    @property
    def offer_at(self) -> float:
        """The lowest probability at which a candidate is shown at all (tentatively or not);
        the tentative threshold never exceeds the answer one."""
        t = self.tentative_threshold
        return self.threshold if t is None else min(t, self.threshold)

    def status(self, p: float) -> Status:
        """The tier for probability ``p``."""
        if p >= self.threshold:
            return "answered"
        return "tentative" if p >= self.offer_at else "declined"

    def probability(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(self.weights.get(k, 0.0) * feats[k] for k in FEATURES)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    @classmethod
    def default(cls) -> Calibration:
        """For a reader without a calibration: a logistic of its margin, declining below 'no answer'."""
        return cls(weights={"margin": 1.0}, bias=0.0, threshold=0.5)

    @classmethod
    def load(cls, path: Path) -> Calibration:
        if not path.is_file():
            return cls.default()
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(weights=raw["weights"], bias=raw["bias"], threshold=raw["threshold"],
                   tentative_threshold=raw.get("tentative_threshold"))

    def to_json(self, **extra) -> str:
        return json.dumps({"features": list(FEATURES), "weights": self.weights, "bias": self.bias,
                           "threshold": self.threshold, "tentative_threshold": self.tentative_threshold,
                           **extra}, indent=2) + "\n"


def calibration_path(weights: Path) -> Path:
    return weights.with_suffix(".calibration.json")
