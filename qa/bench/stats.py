"""Small, pure statistics for the benchmark: every figure is a median over repeats."""

from __future__ import annotations

import math
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    """The median (mean of the two middle values for an even count); NaN for no values."""
    xs = sorted(float(v) for v in values)
    n = len(xs)
    if n == 0:
        return math.nan
    mid = n // 2
    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2.0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), linear between the closest ranks (numpy's default)."""
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    xs = sorted(float(v) for v in values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN when the denominator is zero or either is NaN."""
    if denominator == 0 or math.isnan(numerator) or math.isnan(denominator):
        return math.nan
    return numerator / denominator


def paired_ratio(numerators: Sequence[float], denominators: Sequence[float]) -> float:
    """Median of the per-repeat ratios of interleaved measurements (each pair ran back to back)."""
    if len(numerators) != len(denominators):
        raise ValueError("paired_ratio needs as many numerators as denominators")
    return median([ratio(a, b) for a, b in zip(numerators, denominators)])


def recall_at_k(found, truth) -> float:
    """Mean share of each row of ``truth`` (true neighbour ids) present in the same row of ``found``."""
    rows = list(zip(found, truth))
    if not rows:
        return math.nan
    total = 0.0
    for got, want in rows:
        want_set = {int(x) for x in want if int(x) >= 0}
        if want_set:
            total += len(want_set.intersection(int(x) for x in got)) / len(want_set)
        else:
            total += 1.0
    return total / len(rows)

