"""Platform: a feed policy with its knobs, and the platform's running state."""

from __future__ import annotations

from .._mesa import mesa
import numpy as np

from ..config import PlatformConfig
from ..feeds.policies import make_policy


class Platform(mesa.Agent):
    """One platform (e.g. 'douyin'): its config, its ranking policy (with the traffic
    pools it learns), the Gini-steering exponent, its feed's random stream and today's
    active users and the slots they were offered. Its money is in the model's ledger.
    A platform that adapts (``adapt.enabled``) changes its knobs only through
    :meth:`reconfigure`, so every reader sees the current ``cfg``."""

    def __init__(self, model, name: str, index: int, cfg: PlatformConfig, feed_rng: np.random.Generator):
        super().__init__(model)
        self.name, self.index, self.cfg = name, index, cfg
        self.feed_rng = feed_rng
        self.policy = make_policy(cfg, self.expected_dau)
        self.steering = 0.0  # exponent of the creator-fairness penalty (Gini steering)
        self.active_today = 0
        self.active_users = np.zeros(0, np.int32)  # rows of today's active users (sorted)
        self.slots_today = 0  # slots offered to today's active users (their feed_slots, or session lengths)
        self.follow_tab_users = 0  # today's active users who got a follow-tab impression
        self._follow_share0: tuple[np.ndarray, float] | None = None  # users' day-0 follow shares (see reconfigure)

    @property
    def expected_dau(self) -> float:
        """Users expected to open the app today, what the pools' sizes and the exposure cap
        are shares of: users × ``adoption`` × ``daily_active``, and where users' activity
        responds (``activity.enabled``) times the mean of the platform's users' open
        probabilities today relative to ``daily_active`` (1 at the reference), so that
        those knobs keep meaning a share of today's DAU. Where users' attention shifts
        (``[attention]``), the platform's users change and each user's open probability
        carries their attention factor: then it is the sum of today's open probabilities
        of the platform's users (audience/attention.py)."""
        attention = getattr(self.model, "attention", None)
        if attention is not None and attention.enabled:
            return attention.expected_dau(self)
        activity = getattr(self.model, "activity", None)
        factor = activity.open_factor(self) if activity is not None else 1.0
        return self.model.users.n * self.cfg.adoption * self.cfg.daily_active * factor

    def reconfigure(self, **update) -> None:
        """Replace knobs of this platform from today on (platform adaptation,
        :mod:`simulator.platform.adaptation`): ``cfg`` becomes a copy with ``update`` and
        every reader sees it, the policy and its pools (they hold ``cfg``), and the model's
        arrays that cache a platform's knob: the ledger's commission rates, the purchase
        model's ``fan_trust``, the fan groups' ``group_effect``, and the users' own follow
        shares, which keep their day-0 draw's rank and spread: a user's share s0 (drawn
        around the initial ``follow_share`` m0) becomes s0·m/m0 for a mean m ≤ m0 and
        1 − (1 − s0)(1 − m)/(1 − m0) above it (the mean is exactly m); where m0 is 0 or 1 no
        spread was drawn, and every user takes m. The scenario
        (``model.scenario``) keeps the initial values."""
        old, cfg = self.cfg, self.cfg.model_copy(update=update)
        self.cfg = self.policy.cfg = self.policy.pools.cfg = cfg
        model, p = self.model, self.index
        if cfg.commission != old.commission:
            model.ledger.set_commission(p, cfg.commission)
        model.commerce.purchase.fan_trust[p] = cfg.fan_trust
        model.commerce.groups.group_effect[p] = cfg.group_effect
        if cfg.follow_share != old.follow_share:
            users = model.users
            if self._follow_share0 is None:  # the day-0 draw and its mean, kept for every later move
                self._follow_share0 = (users.follow_share[:, p].copy(), model.scenario.platforms[self.name].follow_share)
            s0, m0 = self._follow_share0
            m = cfg.follow_share
            if not 0.0 < m0 < 1.0:
                s = np.full_like(s0, m)
            elif m <= m0:
                s = s0 * np.float32(m / m0)
            else:
                s = 1 - (1 - s0) * np.float32((1 - m) / (1 - m0))
            users.follow_share[:, p] = s

    @property
    def ad_revenue(self) -> float:
        """Cumulative ad revenue (yuan)."""
        return float(self.model.ledger.ad_revenue[self.index])

    def __repr__(self) -> str:
        return f"Platform({self.name!r}, policy={self.cfg.policy!r})"
