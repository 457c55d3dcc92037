"""Platform: a feed policy with its knobs, and the platform's running state."""

from __future__ import annotations

import mesa
import numpy as np

from ..config import PlatformConfig
from ..feeds.policies import make_policy


class Platform(mesa.Agent):
    """One platform (e.g. 'douyin'): its config, its ranking policy (with the traffic
    pools it learns), the Gini-steering exponent, its feed's random stream and today's
    active users and the slots they were offered. Its money is in the model's ledger."""

    def __init__(self, model, name: str, index: int, cfg: PlatformConfig, feed_rng: np.random.Generator):
        super().__init__(model)
        self.name, self.index, self.cfg = name, index, cfg
        self.feed_rng = feed_rng
        self.policy = make_policy(cfg, self.expected_dau)
        self.steering = 0.0  # exponent of the creator-fairness penalty (Gini steering)
        self.active_today = 0
        self.active_users = np.zeros(0, np.int32)  # rows of today's active users (sorted)
        self.slots_today = 0  # slots offered to today's active users (their feed_slots, or session lengths)

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

    @property
    def ad_revenue(self) -> float:
        """Cumulative ad revenue (yuan)."""
        return float(self.model.ledger.ad_revenue[self.index])

    def __repr__(self) -> str:
        return f"Platform({self.name!r}, policy={self.cfg.policy!r})"
