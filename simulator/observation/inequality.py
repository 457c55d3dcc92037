"""Inequality of exposure: Gini coefficient, top shares, Lorenz curve."""

from __future__ import annotations

import numpy as np


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = one takes all); NaN when
    there is nothing to share (no values, or all 0): no concentration, not equality."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n, s = len(x), x.sum()
    if n == 0 or not s > 0:
        return float("nan")
    return float((2.0 * np.sum(np.arange(1, n + 1) * x) / (n * s)) - (n + 1.0) / n)


def top_share(x: np.ndarray, frac: float) -> float:
    """Share of the total held by the top ``frac`` of entries (at least one entry); NaN
    when there is nothing to share (no values, or all 0)."""
    x = np.asarray(x, dtype=np.float64)
    s = x.sum()
    if len(x) == 0 or not s > 0:
        return float("nan")
    k = max(1, int(round(frac * len(x))))
    return float(np.sort(x)[-k:].sum() / s)


def lorenz(x: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: (share of creators, share of exposure), poorest first."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    cum = cum / cum[-1] if cum[-1] > 0 else np.linspace(0, 1, len(cum))
    pop = np.linspace(0, 1, len(cum))
    grid = np.linspace(0, 1, points)
    return grid, np.interp(grid, pop, cum)
