"""Ranking policies: a retrieval prior per item and a score per (user, item).

The algorithmic policy (Douyin-like and Kuaishou-like are one policy at different knob
settings, see :mod:`simulator.config.presets`) also *learns*: after the day's reactions
it moves its traffic pools (:mod:`.pools`). Reference policies (random, popularity,
interest) neither learn nor use the intimacy boost or the cold-start pool.

Adding a policy = one class here and one entry in ``POLICIES``.
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np

from ..config import PlatformConfig
from ..content.presence import blocked_creators
from ..state.vocabulary import ACTIONS, RECOMMEND
from .pools import TrafficPools

FOLLOW_ACTION = ACTIONS.index("follow")


@dataclass
class Block:
    """What a ranking policy sees for a block of users × candidate items."""

    match: np.ndarray  # (b, m) float32 interest match in [0, 1]
    intimacy: np.ndarray | None  # (b, m) float32, 0 where the user does not follow the creator (None: see fans)
    quality: np.ndarray  # (m,) float32 in [0, 1]
    perf: np.ndarray  # (m,) float32 observed engagement rate (shrunk to a prior)
    age: np.ndarray  # (m,) int days
    popularity: np.ndarray  # (m,) float32 impressions so far on this platform (all slot sources)
    engagements: np.ndarray  # (m,) float32 engagements so far (all platforms)
    # the nonzero entries of ``intimacy`` as (distinct flat indices in any order, values):
    # the recommender passes these instead of the dense matrix (fans are sparse)
    fans: tuple[np.ndarray, np.ndarray] | None = None

    def fan_entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct flat indices, intimacies) of the nonzero intimacies."""
        if self.fans is not None:
            return self.fans
        flat = self.intimacy.ravel()
        fan = np.flatnonzero(flat)
        return fan, flat[fan]


@dataclass
class PriorContext:
    """What a policy sees of the recommendable items (the last ``max_item_age`` days)."""

    age: np.ndarray
    level: np.ndarray
    quota: np.ndarray  # the current pool's size (impressions)
    pool_seen: np.ndarray  # impressions collected in the current pool
    stalled: np.ndarray
    quality: np.ndarray
    perf: np.ndarray
    impressions: np.ndarray  # impressions so far on this platform, per item, all slot sources
    recommended: np.ndarray  # recommendation-slot impressions so far on this platform, per item (what the exposure cap counts)
    engagements: np.ndarray
    creator_share: np.ndarray  # per item: its creator's exposure relative to the mean creator
    dau: float
    steering: float  # the platform's current Gini-steering exponent
    blocked: np.ndarray | None = None  # per item: its account is banned on, or absent from, this platform


def perf_rate(engaged: np.ndarray, seen: np.ndarray, prior_mean: float, prior_weight: float) -> np.ndarray:
    """Observed engagement rate shrunk toward ``prior_mean`` (a Beta prior of ``prior_weight`` impressions)."""
    return ((engaged + prior_mean * prior_weight) / (seen + prior_weight)).astype(np.float32)


def exposure_allowance(cap: float, dau: float) -> int:
    """Recommendation impressions an item may get in all under the exposure cap: cap · DAU
    rounded down to whole impressions, ⌊cap · DAU⌋, so that no item's recommendation
    impressions ever exceed cap · DAU (a cap, not a target: at cap · DAU = 10.5 an item
    gets at most 10). A float product within a relative 1e-9 of a whole number is that
    number: 0.29 · 100 is 28.999999999999996 in floats, and its allowance is 29, not 28."""
    x = cap * dau
    whole = round(x)
    return int(whole) if abs(x - whole) <= 1e-9 * max(1.0, abs(x)) else int(math.floor(x))


def prior_context(model, platform, lo: int) -> PriorContext:
    """The context of the items from row ``lo`` on, for ``platform``'s policy."""
    items, p, cfg = model.items, platform.index, platform.cfg
    creator_exposure = model.creators.impressions[p].sum(axis=1).astype(np.float64)
    active = model.creators.active & model.presence.on(p)  # vs the mean active creator present here (every creator's once none is left)
    share = (creator_exposure + 1.0) / (creator_exposure[active if active.any() else slice(None)].mean() + 1.0)
    blocked = blocked_creators(model, p)  # banned here, or (multi-homing) not present here
    return PriorContext(
        age=(model.day - items.day[lo:]).astype(np.float32),
        level=items.level[p, lo:].astype(np.float64),
        quota=platform.policy.pools.size(items.level[p, lo:].astype(np.float64)),
        pool_seen=items.pool_seen[p, lo:],
        stalled=items.stalled[p, lo:],
        quality=items.quality[lo:],
        perf=perf_rate(items.obs_num[p, lo:], items.obs_den[p, lo:], cfg.perf_prior_mean, cfg.perf_prior_weight),
        impressions=items.impressions[p, lo:].sum(axis=1),
        recommended=items.impressions_by_source[p, lo:, RECOMMEND],
        engagements=items.engagements[lo:, :FOLLOW_ACTION].sum(axis=1),  # complete, like, comment, share
        creator_share=share[items.creator[lo:]],
        dau=max(platform.policy.pools.expected_dau, 1.0),  # today's (model.build_feeds)
        steering=platform.steering,
        blocked=None if blocked is None else blocked[items.creator[lo:]],
    )


class RankingPolicy:
    """A recommender: a retrieval prior per item and a score per (user, item).

    Subclasses set ``name`` and override :meth:`item_prior` and :meth:`score`.
    ``algorithmic`` policies use the intimacy boost, the cold-start pool and the traffic
    pools; reference policies do not. ``targeted`` policies draw candidates toward the
    block's interests.
    """

    name = "base"
    algorithmic = False
    targeted = True
    linear = False  # True: score() = w_match·match + item_score + fan_score (see AlgorithmicPolicy)

    def __init__(self, cfg: PlatformConfig, expected_dau: float):
        self.cfg = cfg
        self.pools = TrafficPools(cfg, expected_dau)

    def item_prior(self, ctx: PriorContext) -> np.ndarray:
        """Log-weight per recommendable item for retrieval; -inf excludes the item."""
        return np.zeros(len(ctx.age))

    def score(self, block: Block) -> np.ndarray:
        """(users × candidates) log-scores; Gumbel noise is added by the caller."""
        raise NotImplementedError

    def exposure_left(self, ctx: PriorContext) -> np.ndarray | None:
        """Recommendation impressions each item may still get, whole (int64; ≤ 0: none,
        the item is out of retrieval; None = no limit)."""
        return None

    def learn(self, items, platform: int, day: int, impressions, reactions, counts=None) -> None:
        """Update what the policy knows from today's impressions and reactions (nothing by
        default). ``counts``: its :meth:`learn_counts` if already counted (a future)."""

    def learn_counts(self, items, impressions, reactions):
        """What :meth:`learn` counts of today's trace alone, if the policy can take it
        counted beforehand (large days count a platform's in the background:
        ``TrafficModel._in_background``), else None (nothing by default)."""
        return None


class AlgorithmicPolicy(RankingPolicy):
    """The engagement-optimizing recommender of Douyin and Kuaishou.

    Both styles are this one policy; the scenario's knobs (``POLICY_PRESETS``) place a
    platform between centralized (no cap, steep pools, little follow share) and
    decentralized (exposure cap, fast age decay, Gini steering, large follow share).

    The flywheel has two channels, each one small method: the delivery boost in the
    ranking score (:meth:`delivery_boost`) and the weight of fans' engagement in the
    traffic pools (:meth:`TrafficPools.weight`).
    """

    name = "algorithmic"
    algorithmic = True

    def item_prior(self, ctx: PriorContext) -> np.ndarray:
        """Traffic pools (what is left of the item's quota, :meth:`TrafficPools.retrieval_weight`),
        then age decay (the only place it applies: weight × exp(−age_decay · age)), the
        exposure cap and the Gini steering."""
        c = self.cfg
        weight = self.pools.retrieval_weight(ctx.level, ctx.quota, ctx.pool_seen, ctx.stalled)
        with np.errstate(divide="ignore"):
            prior = np.log(weight) - c.age_decay * ctx.age
        if c.exposure_cap is not None:
            prior = np.where(self.exposure_left(ctx) <= 0, -np.inf, prior)
        if ctx.steering > 0:  # Gini steering penalizes only creators above the mean exposure
            prior = prior - ctx.steering * np.log(np.maximum(ctx.creator_share, 1.0))
        return prior

    def exposure_left(self, ctx: PriorContext) -> np.ndarray | None:
        """The exposure cap counts and blocks only the algorithm's own distribution:
        the whole allowance ⌊``exposure_cap`` · DAU⌋ (:func:`exposure_allowance`) minus the
        item's recommendation-slot impressions so far (follow tab, same city, ads and cold
        start neither count nor are blocked), int64. Retrieval (``item_prior``: out at ≤ 0),
        the ranking (-inf at ≤ 0) and the grants (``kernels.within_cap``) all read this one
        whole number, so an item stays a candidate exactly while it can still be granted a
        pick (with the fractional cap · DAU − impressions, an item between ⌊cap · DAU⌋ and
        cap · DAU stayed a candidate that no grant could take)."""
        if self.cfg.exposure_cap is None:
            return None
        return exposure_allowance(self.cfg.exposure_cap, ctx.dau) - ctx.recommended.astype(np.int64)

    def delivery_boost(self, intimacy: np.ndarray) -> np.ndarray:
        """Factor by which a fan's intimacy multiplies an item's softmax weight (pick odds)
        for them: ``1 + beta·intimacy`` (1 for a non-fan)."""
        return 1.0 + np.float32(self.cfg.beta) * intimacy

    def score(self, block: Block) -> np.ndarray:
        """w_match·match + w_quality·quality + w_perf·perf + T·log(delivery boost).

        The caller samples from softmax(score / T) (T = ``temperature``), so the w_* terms
        are log-weights divided by T, while the intimacy term is scaled by T so that the
        item's softmax weight (its pick odds against any other candidate) is multiplied by
        exactly ``1 + beta·intimacy`` at any temperature.
        Age does not enter here (it is in the retrieval prior, :meth:`item_prior`)."""
        s = self.w_match * block.match + self.item_score(block)
        s = np.ascontiguousarray(s)  # so that s.ravel() below is a view
        fan, intimacy = block.fan_entries()  # sparse: most candidates are not the viewer's creators
        if len(fan):
            s.ravel()[fan] += self.fan_score(intimacy)
        return s

    # The score is linear: w_match·match + a per-candidate term + a per-fan-pair term. The
    # recommender computes it with these three parts, inside its compiled ranking kernel
    # (kernels.score_top_k, row by row) or with a dense table of the fans' boosts on small
    # days (RecommendDay._rank), with the same float32 operations as score().
    linear = True

    @property
    def w_match(self) -> np.float32:
        """The interest match's weight, as the float32 that multiplies the float32 match."""
        return np.float32(self.cfg.w_match)

    def item_score(self, block: Block) -> np.ndarray:
        """The per-candidate part: w_quality·quality + w_perf·perf (float32)."""
        c = self.cfg
        return (c.w_quality * block.quality + c.w_perf * block.perf).astype(np.float32)

    def fan_score(self, intimacy: np.ndarray) -> np.ndarray:
        """The per-fan-pair part: T·log(delivery boost) of each nonzero intimacy (float32)."""
        return np.float32(self.cfg.temperature) * np.log(self.delivery_boost(intimacy))

    def learn(self, items, platform: int, day: int, impressions, reactions, counts=None) -> None:
        """Traffic pools escalate or stall (:meth:`TrafficPools.observe`)."""
        self.pools.observe(items, platform, day, impressions, reactions, counts)

    def learn_counts(self, items, impressions, reactions):
        """The traffic pools' counts of today's trace (:meth:`TrafficPools.counts`)."""
        return self.pools.counts(items, impressions, reactions)


class RandomPolicy(RankingPolicy):
    """Reference: every recommendable item equally likely, for every user."""

    name = "random"
    targeted = False

    def score(self, block: Block) -> np.ndarray:
        return np.zeros(block.match.shape, dtype=np.float32)


class PopularityPolicy(RankingPolicy):
    """Reference: the most-watched items for everyone (no personalization, no intimacy)."""

    name = "popularity"
    targeted = False

    def item_prior(self, ctx: PriorContext) -> np.ndarray:
        return np.log1p(ctx.impressions.astype(np.float64))

    def score(self, block: Block) -> np.ndarray:
        return np.broadcast_to(np.log1p(block.engagements).astype(np.float32), block.match.shape).copy()


class InterestPolicy(RankingPolicy):
    """Reference: interest match only (no intimacy boost, no traffic pools, no cold start)."""

    name = "interest"

    def score(self, block: Block) -> np.ndarray:
        return self.cfg.w_match * block.match


POLICIES: dict[str, type[RankingPolicy]] = {
    "douyin": AlgorithmicPolicy,
    "kuaishou": AlgorithmicPolicy,
    "random": RandomPolicy,
    "popularity": PopularityPolicy,
    "interest": InterestPolicy,
}


def make_policy(cfg: PlatformConfig, expected_dau: float) -> RankingPolicy:
    return POLICIES[cfg.policy](cfg, expected_dau)
