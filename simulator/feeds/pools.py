"""Traffic pools (流量池): how the algorithmic recommender learns which items deserve reach.

A new item enters pool level 0, whose quota is ``pool_base`` × daily active users
impressions; each level is ``pool_growth`` times larger. The quota counts real
impressions (every impression of the item on the platform, whoever saw it and through
whichever slot). Once an item has collected its pool's quota it is judged: if its
*weighted* engagement rate Σ w·engaged / Σ w reaches ``pool_threshold`` it is promoted to
the next level (a fresh, larger pool), otherwise it stalls. Retrieval draws an item in
proportion to what is left of its quota (an item in the top level keeps the whole top
quota; an item whose pool is full but not yet judged keeps ``pool_quota_floor`` of it; a
stalled item ``stall_weight`` of it).

The weight of an impression is ``1 + beta·intimacy`` (:meth:`TrafficPools.weight`;
intimacy is 0 for a non-fan): the flywheel, the closer the fan, the more their engagement
counts. beta = 0 is neutral (fans count like anyone). The weights only shape the rate an
item is judged on (and its lifetime rate ``obs_num / obs_den``, the ``perf`` the ranking
score uses), never how many impressions fill a pool.
"""

from __future__ import annotations

import numpy as np

from ..config import PlatformConfig
from . import numpy_kernels


class TrafficPools:
    """The pool rules of one platform (its state lives in the item store's per-platform
    columns ``level``, ``stalled``, ``pool_seen`` (real impressions in the current pool),
    ``pool_den`` / ``pool_num`` (weighted impressions / weighted engaged impressions in the
    current pool) and ``obs_den`` / ``obs_num`` (the same, whole life))."""

    def __init__(self, cfg: PlatformConfig, expected_dau: float):
        self.cfg = cfg
        self.expected_dau = expected_dau

    def size(self, level):
        """Impressions (real, not weighted) an item must collect before its pool level is judged."""
        return self.cfg.pool_base * max(self.expected_dau, 1.0) * self.cfg.pool_growth ** level

    def weight(self, intimacy: np.ndarray) -> np.ndarray:
        """Weight of an impression's engagement in the pool signal: ``1 + beta·intimacy``
        (intimacy 0 for a non-fan, so strangers weigh 1 and beta = 0 is neutral)."""
        w = intimacy.astype(np.float64)
        w *= self.cfg.beta  # (in place: the same float64 operations as 1 + beta · w, no temporaries)
        w += 1.0
        return w

    def retrieval_weight(self, level: np.ndarray, quota: np.ndarray, pool_seen: np.ndarray,
                         stalled: np.ndarray) -> np.ndarray:
        """Traffic an item draws: ∝ what is left of its quota (see the module docstring)."""
        c = self.cfg
        top = level >= c.pool_levels - 1
        remaining = np.where(top, quota, np.maximum(quota - pool_seen, c.pool_quota_floor * quota))
        return np.where(stalled, c.stall_weight * quota, remaining)

    def counts(self, items, impressions, reactions) -> tuple | None:
        """On a large day (the compiled kernel): today's impressions, weighted impressions
        and weighted engaged impressions per live item (``kernels.pool_tally``), which
        :meth:`observe` adds; None on a small day (``observe`` counts them itself). Reads the
        day's trace only."""
        if not numpy_kernels.compiled(len(impressions)):
            return None
        return numpy_kernels.compiled_kernels().pool_tally(impressions.item, reactions.intimacy, reactions.complete, reactions.like,
                                  float(self.cfg.beta), items.n)

    def observe(self, items, platform: int, day: int, impressions, reactions, counts=None) -> None:
        """Add today's impressions of ``platform`` to the items' pools (real ones to the
        quota, weighted ones and weighted engagements to the rate), then promote or stall
        the items whose pool is full. ``counts``: :meth:`counts` if already counted (a
        future), else counted here."""
        cfg = self.cfg
        n = items.n
        counted = self.counts(items, impressions, reactions) if counts is None else counts.result()
        if counted is not None:  # large days: one pass, no per-impression temporaries
            real, seen, engaged = counted
        else:
            weight = self.weight(reactions.intimacy)
            real = getattr(reactions, "item_impressions", None)  # record_exposure's count, if taken
            if real is None or len(real) != n:
                real = np.bincount(impressions.item, minlength=n)
            item = getattr(reactions, "item_index", None)  # the items as intp, if record_exposure kept them
            if item is None or len(item) != len(impressions):
                item = impressions.item
            seen = np.bincount(item, weights=weight, minlength=n)
            weight *= reactions.engaged  # (weight is this call's own array)
            engaged = np.bincount(item, weights=weight, minlength=n)
        items.pool_seen[platform] += real.astype(np.int32)
        items.pool_den[platform] += seen.astype(np.float32)
        items.pool_num[platform] += engaged.astype(np.float32)
        items.obs_den[platform] += seen.astype(np.float32)
        items.obs_num[platform] += engaged.astype(np.float32)
        # judge every item the platform can still show: recommendable (max_item_age) or in
        # followers' follow feeds (follow_window), whose impressions fill its pool too
        lo = items.first_since(day - max(cfg.max_item_age, cfg.follow_window) + 1)
        level, stalled = items.level[platform, lo:], items.stalled[platform, lo:]
        pool_seen = items.pool_seen[platform, lo:]
        pool_den, pool_num = items.pool_den[platform, lo:], items.pool_num[platform, lo:]
        full = (pool_seen >= self.size(level.astype(np.float64))) & ~stalled
        rate = np.divide(pool_num, pool_den, out=np.zeros_like(pool_num), where=pool_den > 0)
        passed = rate >= cfg.pool_threshold
        promote = full & passed & (level < cfg.pool_levels - 1)
        level[promote] += 1
        pool_seen[promote] = 0
        pool_den[promote] = 0.0
        pool_num[promote] = 0.0
        stalled[full & ~passed] = True
