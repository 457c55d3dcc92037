"""Creator: a view on one row of ``model.creators`` (a merchant's own account is one too)."""

from __future__ import annotations

from .._mesa import mesa
import numpy as np

from ..state.graphs import fan_tier
from ..state.vocabulary import TIERS
from ..state.vocabulary import DOMAINS
from ..state.arrays import sigmoid


class Creator(mesa.Agent):
    """A creator. ``fans()`` gives the fan edges with intimacy and tier."""

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def topic(self) -> np.ndarray:
        return self.model.creators.topic[self.row]

    @property
    def quality(self) -> float:
        """Typical item quality in (0, 1): the sigmoid of the creator's latent mean (its items' median)."""
        return float(sigmoid(self.model.creators.quality_mean[self.row]))

    @property
    def post_rate(self) -> float:
        return float(self.model.creators.post_rate[self.row])

    @property
    def mcn(self) -> bool:
        return bool(self.model.creators.mcn[self.row])

    @property
    def is_merchant_account(self) -> bool:
        return bool(self.model.creators.merchant[self.row] >= 0)

    @property
    def followers(self) -> int:
        return int(np.count_nonzero(self.model.follows.creator == self.row))

    def fans(self) -> dict[str, np.ndarray]:
        """Fan users with their intimacy and tier name."""
        users, intim = self.model.follows.of_creator(self.row)
        tier = fan_tier(intim, self.model.follows.thresholds)
        return {"user": users, "intimacy": intim, "tier": np.array(TIERS)[tier]}

    def fans_by_tier(self) -> dict[str, int]:
        t = self.fans()["tier"]
        return {name: int(np.count_nonzero(t == name)) for name in TIERS}

    def items(self) -> np.ndarray:
        """Ids (items.csv's ``item``) of every item this creator published, archived ones included."""
        return np.flatnonzero(self.model.items.reported("creator") == self.row)

    def impressions(self) -> dict[str, dict[str, int]]:
        """Cumulative impressions by platform and domain."""
        imp = self.model.creators.impressions[:, self.row]
        return {p: dict(zip(DOMAINS, imp[j].tolist())) for j, p in enumerate(self.model.platforms)}

    def __repr__(self) -> str:
        return f"Creator(row={self.row}, quality={self.quality:.2f}, followers={self.followers})"
