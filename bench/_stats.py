"""Order statistics of the benchmarks: every median and percentile in bench/ comes from here.

Two kinds of middle on purpose: `median` averages the two middle values of an even count (a
figure), `middle` returns the upper of them (a real sample, e.g. the run whose figures are shown).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any


def percentile(values: Iterable[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float | None:
    """The median, the mean of the two middle values for an even count; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def middle(items: Iterable[Any], key: Callable[[Any], Any] | None = None) -> Any:
    """The item at len // 2 once sorted (by `key`): for an even count the upper middle one, so the
    result is one of the items, not a mean. None for no items."""
    ordered = sorted(items, key=key)
    return ordered[len(ordered) // 2] if ordered else None


def rnd(x: float | None, digits: int = 2) -> float | None:
    """round() that lets None through (a figure that was not measured stays null in the JSON)."""
    return None if x is None else round(x, digits)
