"""Derived shares, one name each, computed in one place from a run's (or a step's)
totals: ``<domain>_share_impressions`` = impressions of the domain / all impressions
(NaN when there were none)."""

from __future__ import annotations

from ..state.vocabulary import DOMAINS

SHARE_NAMES = tuple(f"{d}_share_impressions" for d in DOMAINS)


def impression_shares(totals) -> dict:
    """``{"public_share_impressions": ..., ...}`` from ``impressions_<domain>`` and
    ``impressions_total`` of a dict of numbers or a DataFrame (then the values are columns)."""
    total = totals["impressions_total"]
    if hasattr(total, "where"):  # a pandas column
        total = total.where(total > 0)
    elif total <= 0:
        total = float("nan")
    return {name: totals[f"impressions_{d}"] / total for name, d in zip(SHARE_NAMES, DOMAINS)}
