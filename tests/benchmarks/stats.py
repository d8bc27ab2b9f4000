"""Figures the benchmarks print."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """Return the q-th percentile (0..100) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]
