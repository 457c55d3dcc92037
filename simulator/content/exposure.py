"""Exposure records: each item's and creator's cumulative impressions (by platform, and
by domain and by slot source) and engagements (by action). The recommender reads them the next day (exposure
caps, popularity, the creators' exposure shares behind Gini steering)."""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from ..state.vocabulary import DOMAINS, SOURCES


def _sum_rows_by(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``values`` (n × k) by ``group`` (n,) into (n_groups × k)."""
    k = values.shape[1]
    idx = (group[:, None] * k + np.arange(k)).ravel()
    return np.bincount(idx, weights=values.ravel(), minlength=n_groups * k).reshape(n_groups, k).astype(np.int64)


def exposure_counts(items, creators, impressions, reactions) -> tuple | None:
    """On a compiled day: one platform's counts of today that :func:`record_exposure`
    adds to the records, ``(item_domain, item_source, item_action, creator_domain,
    creator_source, creator_action)`` (int64), and a dict of the counts of its trace the
    views read (``source_domain``, ``actions``, ``comments``: on days under
    ``COMPILED_FROM`` impressions, counted in the same pass; empty on larger ones); None on
    a numpy day (the phase counts them itself). Reads the day's trace and the items' creators only, so that
    large days count a platform's in the background (``TrafficModel._in_background``)."""
    if not numpy_kernels.compiled(len(impressions)):
        return None
    kernels = numpy_kernels.compiled_kernels()
    if len(impressions) < numpy_kernels.COMPILED_FROM:
        # a small day (kernels compiled ahead, or a long run's): the creators' counts and
        # the views' counts of the trace in the same pass (kernels.tally_exposure_trace;
        # large days count the trace in the background: TrafficModel._in_background)
        *counts, source_domain, comments = kernels.tally_exposure_trace(
            impressions.item, impressions.domain(), impressions.source, *reactions.columns(), items.creator, items.n,
            creators.n, len(DOMAINS), len(SOURCES))
        return (*counts, {"source_domain": source_domain.reshape(len(SOURCES), len(DOMAINS)),
                          "actions": counts[2].sum(axis=0), "comments": comments})
    item_domain, item_source, item_action = kernels.tally_impressions(
        impressions.item, impressions.domain(), impressions.source, *reactions.columns(), items.n, len(DOMAINS),
        len(SOURCES))
    creator_of = items.creator.astype(np.int64)
    return (item_domain, item_source, item_action, _sum_rows_by(creator_of, item_domain, creators.n),
            _sum_rows_by(creator_of, item_source, creators.n), _sum_rows_by(creator_of, item_action, creators.n), {})


def record_exposure(items, creators, platform: int, impressions, reactions, counts=None) -> dict[str, np.ndarray]:
    """Add one platform's impressions and engagements of today to the items' and creators'
    records (the items' counts in one compiled pass over the impressions on compiled days,
    ``kernels.tally_exposure_trace`` under ``COMPILED_FROM`` impressions, else
    ``kernels.tally_impressions``). Returns today's impressions of the platform per item
    and domain (``item_domain``, live rows × domains) and per creator and domain
    (``creator_domain``, creators × domains, int64) and, on days under ``COMPILED_FROM``
    impressions, its engagements by action (``actions``, int64) and impressions by
    (source, domain) (``source_domain``, sources × domains, int64), and on compiled ones
    its comments by domain (``comments``), which the measurements read (the day log's
    ``tally``) instead of counting the impressions again. ``counts``: the platform's
    :func:`exposure_counts` if already counted (a future), else counted here."""
    n, D, S = items.n, len(DOMAINS), len(SOURCES)
    tally = {}
    counted = exposure_counts(items, creators, impressions, reactions) if counts is None else counts.result()
    if counted is not None:  # compiled: one pass over the impressions
        item_domain, item_source, item_action, creator_domain, creator_source, creator_action, trace = counted
        tally.update(trace)
    else:  # a bincount of (source, domain) pairs and one of the action combinations (the reactions' codes)
        item_index = impressions.item.astype(np.intp)  # bincount's index dtype, kept for the traffic pools
        item_domain, item_source, item_action = numpy_kernels.tally_by_codes(
            item_index, impressions.domain(), impressions.source, reactions.codes(), n, D, S, tally)
        tally["actions"] = item_action.sum(axis=0)
        if hasattr(reactions, "item_index"):  # the traffic pools' items and impressions per item (feeds/pools.py;
            reactions.item_index = item_index  # on large days their compiled pass counts them itself)
            reactions.item_impressions = item_domain.sum(axis=1)
        creator_of = items.creator.astype(np.int64)
        creator_domain = _sum_rows_by(creator_of, item_domain, creators.n)
        creator_source = _sum_rows_by(creator_of, item_source, creators.n)
        creator_action = _sum_rows_by(creator_of, item_action, creators.n)
    items.impressions[platform] += item_domain.astype(np.int32)
    creators.impressions[platform] += creator_domain
    items.impressions_by_source[platform] += item_source.astype(np.int32)
    creators.impressions_by_source[platform] += creator_source
    items.engagements[:] += item_action.astype(np.int32)
    creators.engagements += creator_action
    tally.update(item_domain=item_domain, creator_domain=creator_domain)
    return tally
