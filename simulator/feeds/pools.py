"""Traffic pools (流量池): how the algorithmic recommender learns which items deserve reach.

A new item enters pool level 0, whose quota is ``pool_base`` × daily active users
impressions (weighted, see below); each level is ``pool_growth`` times larger. Once an
item has collected its pool's quota it is judged: if its weighted engagement rate reaches
``pool_threshold`` it is promoted to the next level (a fresh, larger pool), otherwise it
stalls. Retrieval draws an item in proportion to what is left of its quota (an item in
the top level keeps the whole top quota; an item whose pool is full but not yet judged
keeps ``pool_quota_floor`` of it; a stalled item ``stall_weight`` of it).

The algorithm observes each impression with weight 1 for a non-fan and ``beta·intimacy``
for a fan (the flywheel: the closer the fan, the more their engagement counts).
"""

from __future__ import annotations

import numpy as np

from ..config import PlatformConfig


class TrafficPools:
    """The pool rules of one platform (its state lives in the item store's per-platform
    columns ``level``, ``stalled``, ``pool_den``, ``pool_num``, ``obs_den``, ``obs_num``)."""

    def __init__(self, cfg: PlatformConfig, expected_dau: float):
        self.cfg = cfg
        self.expected_dau = expected_dau

    def size(self, level):
        """Weighted impressions an item must collect before its pool level is judged."""
        return self.cfg.pool_base * max(self.expected_dau, 1.0) * self.cfg.pool_growth ** level

    def retrieval_weight(self, level: np.ndarray, quota: np.ndarray, pool_den: np.ndarray,
                         stalled: np.ndarray) -> np.ndarray:
        """Traffic an item draws: ∝ what is left of its quota (see the module docstring)."""
        c = self.cfg
        top = level >= c.pool_levels - 1
        remaining = np.where(top, quota, np.maximum(quota - pool_den, c.pool_quota_floor * quota))
        return np.where(stalled, c.stall_weight * quota, remaining)

    def observe(self, items, platform: int, day: int, impressions, reactions) -> None:
        """Add today's weighted impressions and engagements of ``platform`` to the items'
        pools, then promote or stall the items whose pool is full."""
        cfg = self.cfg
        n = items.n
        weight = np.where(impressions.edge >= 0, cfg.beta * reactions.intimacy, 1.0)
        seen = np.bincount(impressions.item, weights=weight, minlength=n)
        engaged = np.bincount(impressions.item, weights=weight * reactions.engaged, minlength=n)
        items.pool_den[platform] += seen.astype(np.float32)
        items.pool_num[platform] += engaged.astype(np.float32)
        items.obs_den[platform] += seen.astype(np.float32)
        items.obs_num[platform] += engaged.astype(np.float32)
        lo = items.first_since(day - cfg.max_item_age + 1)
        level, stalled = items.level[platform, lo:], items.stalled[platform, lo:]
        pool_den, pool_num = items.pool_den[platform, lo:], items.pool_num[platform, lo:]
        full = (pool_den >= self.size(level.astype(np.float64))) & ~stalled
        rate = np.divide(pool_num, pool_den, out=np.zeros_like(pool_num), where=pool_den > 0)
        passed = rate >= cfg.pool_threshold
        promote = full & passed & (level < cfg.pool_levels - 1)
        level[promote] += 1
        pool_den[promote] = 0.0
        pool_num[promote] = 0.0
        stalled[full & ~passed] = True
