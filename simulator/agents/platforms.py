"""Platform: a feed policy with its knobs, and the platform's running state."""

from __future__ import annotations

import mesa

from ..config import PlatformConfig
from ..feeds.slots import make_policy


class Platform(mesa.Agent):
    """One platform (e.g. 'douyin'). Holds its config, its ranking policy, the Gini
    steering exponent and its money."""

    def __init__(self, model, name: str, index: int, cfg: PlatformConfig):
        super().__init__(model)
        self.name, self.index, self.cfg = name, index, cfg
        self.policy = make_policy(cfg)
        self.steering = 0.0  # exponent of the creator-fairness penalty (Gini steering)
        self.active_today = 0
        self.ad_revenue_today = 0.0
        self.ad_revenue = 0.0

    @property
    def expected_dau(self) -> float:
        return self.model.users.n * self.cfg.adoption * self.cfg.daily_active

    def pool_size(self, level):
        """Weighted impressions an item must collect before its pool level is judged."""
        return self.cfg.pool_base * max(self.expected_dau, 1.0) * self.cfg.pool_growth ** level

    def steer(self, gini: float) -> None:
        """Move the fairness exponent toward the Gini target (Kuaishou-style steering)."""
        if self.cfg.gini_target is None:
            return
        self.steering = min(5.0, max(0.0, self.steering + 0.1 * self.cfg.gini_gain * (gini - self.cfg.gini_target)))

    def __repr__(self) -> str:
        return f"Platform({self.name!r}, policy={self.cfg.policy!r})"
