"""How users react to impressions, and how relationships and items learn from it.

One logistic model for every platform (the platforms differ in what they show, not in
how people respond):

    z = intercept + w_match·match + w_quality·quality + w_intimacy·intimacy
    P(action) = sigmoid(z + offset_action)       action ∈ complete, like, comment, share
    P(follow) = sigmoid(z + offset_follow)        only for non-followers who completed or liked

Intimacy on a fan edge grows with what the fan did,
``intimacy ← 1 − (1 − intimacy)·exp(−Σ gains)`` (view < complete < like < comment < share),
then decays by ``decay`` a day; fans under ``unfollow_threshold`` drift away at
``unfollow_rate`` a day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import EngagementConfig, RelationshipConfig
from ..feeds.slots import Impressions
from ..feeds.kernels import draw_actions

@dataclass
class Reactions:
    complete: np.ndarray
    like: np.ndarray
    comment: np.ndarray
    share: np.ndarray
    follow: np.ndarray
    intimacy: np.ndarray  # the viewer's intimacy with the creator at the time of viewing

    def columns(self) -> list[np.ndarray]:
        """The five action masks in ``state.ACTIONS`` order."""
        return [self.complete, self.like, self.comment, self.share, self.follow]


    @property
    def engaged(self) -> np.ndarray:
        return self.complete | self.like


def react(imp: Impressions, quality: np.ndarray, intimacy: np.ndarray, cfg: EngagementConfig,
          rng: np.random.Generator) -> Reactions:
    """Draw every impression's actions at once (compiled kernel ``kernels.draw_actions``)."""
    fan = imp.edge >= 0
    intim = np.where(fan, intimacy[np.maximum(imp.edge, 0)], np.float32(0)).astype(np.float32)
    coef = np.array([cfg.intercept, cfg.w_match, cfg.w_quality, cfg.w_intimacy])
    offsets = np.array([cfg.offset_complete, cfg.offset_like, cfg.offset_comment, cfg.offset_share, cfg.offset_follow])
    acts = draw_actions(imp.match, quality[imp.item], intim, fan, coef, offsets, int(rng.integers(2**63)))
    return Reactions(acts[0], acts[1], acts[2], acts[3], acts[4], intim)


def intimacy_gains(imp: Impressions, r: Reactions, cfg: RelationshipConfig, n_edges: int) -> np.ndarray:
    """Summed gains per follow edge from today's impressions."""
    fan = np.flatnonzero(imp.edge >= 0)
    gain = np.full(len(fan), cfg.gain_view, dtype=np.float32)
    for w, hit in ((cfg.gain_complete, r.complete), (cfg.gain_like, r.like), (cfg.gain_comment, r.comment),
                   (cfg.gain_share, r.share)):
        gain += np.float32(w) * hit[fan]
    return np.bincount(imp.edge[fan], weights=gain, minlength=n_edges)


def update_intimacy(intimacy: np.ndarray, gains: np.ndarray, cfg: RelationshipConfig) -> None:
    """Saturating growth by the day's gains, then daily decay (in place)."""
    touched = np.flatnonzero(gains)
    w = intimacy[touched]
    intimacy[touched] = 1.0 - (1.0 - w) * np.exp(-gains[touched]).astype(np.float32)
    intimacy *= np.float32(1.0 - cfg.decay)
    np.clip(intimacy, 0.0, 1.0, out=intimacy)


def drifting_fans(intimacy: np.ndarray, cfg: RelationshipConfig, rng: np.random.Generator) -> np.ndarray:
    """Mask of fan edges that unfollow today (cold relationships drift away)."""
    low = intimacy < cfg.unfollow_threshold
    out = np.zeros(len(intimacy), dtype=bool)
    idx = np.flatnonzero(low)
    out[idx] = rng.random(len(idx)) < cfg.unfollow_rate
    return out
