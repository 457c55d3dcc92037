"""Feeds: one per platform per active user per day, assembled from slots.

Slot sources (``state.SOURCES``):

* ``follow`` (关注): items of creators the user follows; the user opens the follow tab
  for a share of their slots (drawn per user around the platform's ``follow_share``) and
  looks at more intimate creators first.
* ``same_city`` (同城): items from creators in the user's city.
* ``ads`` (商域, commercial): slots sold to merchants at the platform's CPM.
* ``cold_start``: the platform's cold-start pool. A new item is first offered to its
  creator's fans, each with probability ``cold_start_rate × intimacy``.
* ``recommend`` (推荐, public): the algorithm's choice, the rest of the slots.

The recommender is two-stage. *Retrieval*: for a block of users with similar interests,
draw ``candidates`` items with probability ∝ exp(policy prior + affinity × match to the
block's interests); the prior carries the traffic pool (an item that passed pool level L
gets ``pool_growth**L`` times the traffic), age decay, the exposure cap and the Gini
steering. *Ranking*: the policy scores every (user, candidate) pair, Gumbel noise of scale
``temperature`` is added, and each user keeps the top k (Gumbel-top-k = sampling without
replacement from softmax(score / temperature)). No Python loop runs over users: the loop
is over blocks of ``block_users`` users.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import PlatformConfig
from .kernels import gumbel_table, gumbel_top_k
from ..state.arrays import expand_rows, indptr_from_rows, random_in_rows, rank_within_sorted, weighted_in_rows
from ..state.vocabulary import ADS, COLD_START, FOLLOW, RECOMMEND, SAME_CITY

# --------------------------------------------------------------------------- impressions


@dataclass
class Impressions:
    """One row per impression. ``edge`` is the viewer's follow edge to the item's creator
    (-1 when the viewer does not follow), so the domain follows from it and the source."""

    user: np.ndarray  # int32
    item: np.ndarray  # int64
    source: np.ndarray  # int8
    edge: np.ndarray  # int64
    match: np.ndarray  # float32 interest match of viewer and item

    FIELDS = ("user", "item", "source", "edge", "match")

    @staticmethod
    def empty() -> "Impressions":
        return Impressions(np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int64),
                           np.zeros(0, np.float32))

    @staticmethod
    def make(model, users: np.ndarray, items: np.ndarray, source: int, edge: np.ndarray) -> "Impressions":
        """Impressions of one source; computes the interest match."""
        match = np.einsum("ij,ij->i", model.users.interest[users], model.items.topic[items]) if len(users) else np.zeros(0, np.float32)
        return Impressions(users.astype(np.int32), items.astype(np.int64), np.full(len(users), source, np.int8),
                           edge.astype(np.int64), match.astype(np.float32))

    @staticmethod
    def concat(parts: list["Impressions"]) -> "Impressions":
        parts = [p for p in parts if len(p.user)] or [Impressions.empty()]
        return Impressions(*(np.concatenate([getattr(p, f) for p in parts]) for f in Impressions.FIELDS))

    def __len__(self) -> int:
        return len(self.user)

    def domain(self) -> np.ndarray:
        """0 public, 1 commercial (ad slots), 2 private (viewer follows the creator).
        Computed once (impressions do not change after the feed is built)."""
        d = self.__dict__.get("_domain")
        if d is None or len(d) != len(self.edge):
            d = np.where(self.edge >= 0, 2, 0).astype(np.int8)
            d[self.source == ADS] = 1
            self.__dict__["_domain"] = d
        return d


# --------------------------------------------------------------------------- policies


@dataclass
class Block:
    """What a ranking policy sees for a block of users × candidate items."""

    match: np.ndarray  # (b, m) float32 interest match in [0, 1]
    intimacy: np.ndarray  # (b, m) float32, 0 where the user does not follow the creator
    quality: np.ndarray  # (m,) float32 in [0, 1]
    perf: np.ndarray  # (m,) float32 observed engagement rate (shrunk to a prior)
    age: np.ndarray  # (m,) int days
    popularity: np.ndarray  # (m,) float32 impressions so far on this platform
    engagements: np.ndarray  # (m,) float32 engagements so far (all platforms)


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

    def __init__(self, cfg: PlatformConfig):
        self.cfg = cfg

    def item_prior(self, ctx: "PriorContext") -> np.ndarray:
        """Log-weight per recommendable item for retrieval; -inf excludes the item."""
        return np.zeros(len(ctx.age))

    def score(self, block: Block) -> np.ndarray:
        """(users × candidates) log-scores; Gumbel noise is added by the caller."""
        raise NotImplementedError

    def exposure_left(self, ctx: "PriorContext") -> np.ndarray | None:
        """Impressions each item may still get today (None = no limit)."""
        return None


@dataclass
class PriorContext:
    age: np.ndarray
    level: np.ndarray
    quota: np.ndarray  # the current pool's size (weighted impressions)
    pool_den: np.ndarray  # weighted impressions collected in the current pool
    stalled: np.ndarray
    quality: np.ndarray
    perf: np.ndarray
    exposure: np.ndarray  # impressions so far on this platform, per item
    engagements: np.ndarray
    creator_share: np.ndarray  # per item: its creator's exposure relative to the mean creator
    dau: float
    steering: float  # the platform's current Gini-steering exponent
    blocked: np.ndarray | None = None  # per item: its account is banned on this platform


class AlgorithmicPolicy(RankingPolicy):
    """The engagement-optimizing recommender of Douyin and Kuaishou.

    Both styles are this one policy; the scenario's knobs (``POLICY_PRESETS``) place a
    platform between centralized (no cap, steep pools, little follow share) and
    decentralized (exposure cap, fast age decay, Gini steering, large follow share).
    """

    name = "algorithmic"
    algorithmic = True

    def item_prior(self, ctx: PriorContext) -> np.ndarray:
        """Traffic pools: an item draws traffic ∝ what is left of its pool's quota
        (``pool_size(level)`` weighted impressions); an item in the top pool keeps the
        whole top quota (no upper limit); a stalled item keeps ``stall_weight`` of its
        quota. Then age decay, the exposure cap and the Gini steering."""
        c = self.cfg
        top = ctx.level >= c.pool_levels - 1
        remaining = np.where(top, ctx.quota, np.maximum(ctx.quota - ctx.pool_den, 0.05 * ctx.quota))
        weight = np.where(ctx.stalled, c.stall_weight * ctx.quota, remaining)
        with np.errstate(divide="ignore"):
            prior = np.log(weight) - c.age_decay * ctx.age
        if c.exposure_cap is not None:
            prior = np.where(self.exposure_left(ctx) <= 0, -np.inf, prior)
        if ctx.steering > 0:
            prior = prior - ctx.steering * np.log(ctx.creator_share)
        return prior

    def exposure_left(self, ctx: PriorContext) -> np.ndarray | None:
        if self.cfg.exposure_cap is None:
            return None
        return self.cfg.exposure_cap * ctx.dau - ctx.exposure

    def score(self, block: Block) -> np.ndarray:
        c = self.cfg
        item = c.w_quality * block.quality + c.w_perf * block.perf - c.age_decay * block.age
        s = c.w_match * block.match + item.astype(np.float32)
        if c.beta > 0:
            s = np.ascontiguousarray(s)  # so that s.ravel() below is a view
            flat = block.intimacy.ravel()
            fan = np.flatnonzero(flat)  # sparse: most candidates are not the viewer's creators
            s.ravel()[fan] += np.log1p(np.float32(c.beta) * flat[fan])
        return s


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
        return np.log1p(ctx.exposure.astype(np.float64))

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


def make_policy(cfg: PlatformConfig) -> RankingPolicy:
    return POLICIES[cfg.policy](cfg)


def perf_rate(num: np.ndarray, den: np.ndarray, prior_mean: float = 0.4, prior_n: float = 10.0) -> np.ndarray:
    """Observed engagement rate shrunk toward ``prior_mean`` (a Beta prior of weight ``prior_n``)."""
    return ((num + prior_mean * prior_n) / (den + prior_n)).astype(np.float32)


# --------------------------------------------------------------------------- feed assembly


def build_feed(model, platform, rng: np.random.Generator) -> Impressions:
    """Every active user's feed on ``platform`` for today, as impressions."""
    cfg: PlatformConfig = platform.cfg
    users, items = model.users, model.items
    p = platform.index
    active = np.flatnonzero(users.uses[:, p] & (rng.random(users.n) < cfg.daily_active)).astype(np.int32)
    platform.active_today = len(active)
    if len(active) == 0 or items.n == 0:
        return Impressions.empty()
    K = cfg.feed_slots
    n_ad = rng.binomial(K, cfg.ad_load, len(active))
    n_follow = rng.binomial(K - n_ad, users.follow_share[active, p])
    n_city = rng.binomial(K - n_ad - n_follow, cfg.same_city_share)
    free = np.full(len(active), K, dtype=np.int64)  # slots not yet filled, per active user

    parts = []
    for fill, n in ((_follow_slots, n_follow), (_same_city_slots, n_city), (_ad_slots, n_ad)):
        imp, pos = fill(model, platform, active, n, rng)
        free -= np.bincount(pos, minlength=len(active))
        parts.append(imp)
    if platform.policy.algorithmic and cfg.cold_start_rate > 0 and cfg.cold_start_slots > 0:
        imp, pos = _cold_start_slots(model, platform, active, free, rng)
        free -= np.bincount(pos, minlength=len(active))
        parts.append(imp)
    parts.extend(_recommend_slots(model, platform, active, free, rng))
    return Impressions.concat(parts)


def _finish(model, users, items, source) -> Impressions:
    """Impressions of slots that may or may not go to fans: look the follow edge up."""
    edge = model.follows.lookup(users, model.items.creator[items])
    return Impressions.make(model, users, items, source, edge)


def _follow_slots(model, platform, active, n, rng):
    """Follow tab: pick a followed creator (∝ intimacy + 0.05), then one of its recent items."""
    fg = model.follows
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0 or fg.n_edges == 0:
        return Impressions.empty(), pos[:0]
    cumw = np.cumsum(fg.intimacy + np.float32(0.05), dtype=np.float64)
    e = weighted_in_rows(fg.indptr, cumw, active[pos].astype(np.int64), rng)
    ok = e >= 0
    blocked = model.blocked_creators(platform.index)
    if blocked is not None:  # a banned account has no reach here, even among followers it regained elsewhere
        ok[ok] = ~blocked[fg.creator[e[ok]]]
    pos, e = pos[ok], e[ok]
    recent = model.recent_items(platform.cfg.follow_window)
    it = random_in_rows(recent.indptr, fg.creator[e].astype(np.int64), rng)
    ok = it >= 0
    pos, e, it = pos[ok], e[ok], recent.items[it[ok]]
    imp = Impressions.make(model, active[pos], it, FOLLOW, e)
    return imp, pos


def _same_city_slots(model, platform, active, n, rng):
    """Same-city tab: a random recommendable item from a creator in the user's city."""
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0:
        return Impressions.empty(), pos
    by_city = model.city_items(platform.cfg.max_item_age)
    u = active[pos]
    it = random_in_rows(by_city.indptr, model.users.city[u].astype(np.int64), rng)
    ok = it >= 0
    pos, u, it = pos[ok], u[ok], by_city.items[it[ok]]
    blocked = model.blocked_creators(platform.index)
    if blocked is not None:
        ok = ~blocked[model.items.creator[it]]
        pos, u, it = pos[ok], u[ok], it[ok]
    imp = _finish(model, u, it, SAME_CITY)
    return imp, pos


def _ad_slots(model, platform, active, n, rng):
    """Commercial traffic (商域). Each merchant wants budget / CPM impressions today; when
    together they want more than there are ad slots, the CPM rises to
    ``cpm × (demand / supply) ** cpm_elasticity`` (public-domain saturation) and what still
    does not fit is rationed. Slots go first to fan-targeted ads (the merchant's own
    followers among today's ad viewers), then to look-alike ads (non-fans drawn from the
    interest segments of the merchant's fans), then to broad ads (anyone); a targeted
    merchant whose audience is used up spends less. Unsold slots return to the feed. An ad
    shows one of the merchant's recent items, which carry its product link."""
    ms, cfg, p = model.merchants, platform.cfg, platform.index
    pos = np.repeat(np.arange(len(active)), n)
    platform.cpm_today = cfg.cpm
    if len(pos) == 0 or ms.n == 0:
        return Impressions.empty(), pos[:0]
    recent = model.recent_items(cfg.max_item_age)
    has_item = np.diff(recent.indptr)[ms.account] > 0
    budget = np.where(ms.banned[p] | ~has_item, 0.0, ms.daily_budget / len(model.platforms))
    supply = len(pos)
    want = budget / cfg.cpm * 1000.0 if cfg.cpm > 0 else np.where(budget > 0, float(supply), 0.0)
    if want.sum() <= 0:
        return Impressions.empty(), pos[:0]
    cpm = cfg.cpm
    if cfg.cpm > 0 and want.sum() > supply:
        cpm = cfg.cpm * (want.sum() / supply) ** cfg.cpm_elasticity
    afford = want * (cfg.cpm / cpm if cpm > 0 else 1.0)
    if afford.sum() > supply:
        afford *= supply / afford.sum()
    left = np.floor(afford).astype(np.int64)
    platform.cpm_today = cpm
    users = active[pos]
    market = _AdMarket(supply, left, rng)
    fg = model.follows
    targeted = (ms.targeting > 0) & (left > 0)
    if targeted.any() and fg.n_edges:
        m_of_account = np.full(model.creators.n, -1, dtype=np.int64)
        m_of_account[ms.account[targeted]] = np.flatnonzero(targeted)
        fan_edge = np.flatnonzero(m_of_account[fg.creator] >= 0)
        fan_m = m_of_account[fg.creator[fan_edge]]
        # own fans: every (ad slot of a fan, merchant) pair is a candidate
        slot_of = np.full(model.users.n, -1, dtype=np.int64)
        slot_ptr = indptr_from_rows(pos, len(active))
        slot_of[active] = np.arange(len(active))
        fans = (ms.targeting[fan_m] == 1) & (slot_of[fg.src[fan_edge]] >= 0)
        which, slot = expand_rows(slot_ptr, slot_of[fg.src[fan_edge[fans]]])
        market.assign(slot, fan_m[fans][which])
        # look-alikes: draw a segment from the merchant's fans' segments, then a free slot in it
        look = np.flatnonzero((ms.targeting == 2) & (market.left > 0))
        if len(look):
            market.assign(*_lookalike_candidates(model, look, fan_edge, fan_m, users, market, rng))
    broad = np.flatnonzero((ms.targeting == 0) & (market.left > 0))
    if len(broad):
        free = rng.permutation(np.flatnonzero(~market.taken))
        want_slots = np.repeat(broad, market.left[broad])
        k = min(len(free), len(want_slots))
        market.assign(free[:k], rng.permutation(want_slots)[:k])
    s = np.flatnonzero(market.merchant >= 0)
    merchant = market.merchant[s]
    it = recent.items[random_in_rows(recent.indptr, ms.account[merchant].astype(np.int64), rng)]
    sold = np.bincount(merchant, minlength=ms.n)
    spend = sold * cpm / 1000.0
    ms.ad_impressions[p] += sold
    ms.ad_spend[p] += spend
    platform.ad_revenue_today += float(spend.sum())
    model.commerce.today["ad_spend"][p] += spend
    return _finish(model, users[s], it, ADS), pos[s]


class _AdMarket:
    """Ad slots being handed out: which merchant has each slot, and how many impressions
    each merchant can still pay for."""

    def __init__(self, supply: int, left: np.ndarray, rng: np.random.Generator):
        self.taken = np.zeros(supply, dtype=bool)
        self.merchant = np.full(supply, -1, dtype=np.int64)
        self.left = left.copy()
        self.rng = rng

    def assign(self, slot: np.ndarray, merchant: np.ndarray) -> None:
        """Give each free candidate slot to one of its candidate merchants at random,
        each merchant taking at most what it can still pay for."""
        rng = self.rng
        perm = rng.permutation(len(slot))
        slot, merchant = slot[perm], merchant[perm]
        ok = ~self.taken[slot]
        slot, merchant = slot[ok], merchant[ok]
        _, first = np.unique(slot, return_index=True)
        first = rng.permutation(first)  # np.unique sorts by slot; restore a random order
        slot, merchant = slot[first], merchant[first]
        order = np.argsort(merchant, kind="stable")
        keep = np.zeros(len(slot), dtype=bool)
        keep[order] = rank_within_sorted(merchant[order]) < self.left[merchant[order]]
        slot, merchant = slot[keep], merchant[keep]
        self.taken[slot] = True
        self.merchant[slot] = merchant
        self.left -= np.bincount(merchant, minlength=len(self.left))


def _lookalike_candidates(model, look, fan_edge, fan_m, users, market, rng):
    """Candidate (slot, merchant) pairs for look-alike targeting: twice as many draws as
    each merchant can pay for, segments in proportion to its fans' segments, non-fans only."""
    fg, seg_of = model.follows, model.users.segment
    n_seg = int(seg_of.max()) + 1
    row_of = np.full(model.merchants.n, -1, dtype=np.int64)
    row_of[look] = np.arange(len(look))
    mine = row_of[fan_m] >= 0
    w = np.bincount(row_of[fan_m[mine]] * n_seg + seg_of[fg.src[fan_edge[mine]]], minlength=len(look) * n_seg)
    w = w.reshape(len(look), n_seg).astype(np.float64)
    has = w.sum(axis=1) > 0
    look, w = look[has], w[has]
    if len(look) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    draws = np.repeat(np.arange(len(look)), 2 * market.left[look])
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    flat = (cdf + np.arange(len(look))[:, None]).ravel()
    seg = np.searchsorted(flat, draws + rng.random(len(draws)), side="right") - draws * n_seg
    seg = np.minimum(seg, n_seg - 1)
    free = np.flatnonzero(~market.taken)
    fseg = seg_of[users[free]].astype(np.int64)
    o = np.argsort(fseg, kind="stable")
    ptr = indptr_from_rows(fseg[o], n_seg)
    k = random_in_rows(ptr, seg, rng)
    ok = k >= 0
    slot, m = free[o[k[ok]]], look[draws[ok]]
    non_fan = fg.lookup(users[slot], model.merchants.account[m]) < 0
    return slot[non_fan], m[non_fan]


def _cold_start_slots(model, platform, active, free, rng):
    """Cold-start pool: each of today's new items is offered to each fan of its creator
    with probability cold_start_rate × intimacy; a user takes at most cold_start_slots."""
    fg, items = model.follows, model.items
    cfg = platform.cfg
    first_new = items.first_since(model.day)
    if first_new >= items.n or fg.n_edges == 0:
        return Impressions.empty(), np.zeros(0, np.int64)
    new_creator = items.creator[first_new:].astype(np.int64)
    o = np.argsort(new_creator, kind="stable")
    new_ptr = indptr_from_rows(new_creator[o], model.creators.n)
    posted = np.diff(new_ptr) > 0
    pos_of = np.full(model.users.n, -1, dtype=np.int64)
    pos_of[active] = np.arange(len(active))
    offered = posted
    blocked = model.blocked_creators(platform.index)
    if blocked is not None:
        offered = posted & ~blocked
    cand = np.flatnonzero(offered[fg.creator] & (pos_of[fg.src] >= 0))
    hit = rng.random(len(cand), dtype=np.float32) < cfg.cold_start_rate * fg.intimacy[cand]
    e = cand[hit]  # edges are sorted by user
    pos = pos_of[fg.src[e]]
    keep = rank_within_sorted(pos) < np.minimum(cfg.cold_start_slots, free[pos])
    e, pos = e[keep], pos[keep]
    k = random_in_rows(new_ptr, fg.creator[e].astype(np.int64), rng)
    it = first_new + o[k]
    return Impressions.make(model, active[pos], it, COLD_START, e), pos


def _recommend_slots(model, platform, active, free, rng) -> list[Impressions]:
    """The recommendation feed (public domain): retrieval per block, ranking, Gumbel-top-k.

    Blocks draw their randomness from generators seeded by (today's seed, block number);
    the Gumbel-top-k selection is a compiled kernel (``kernels.gumbel_top_k``) that runs
    rows in parallel with counter-based noise, so results do not depend on the number of
    threads. Blocks run in order: with an exposure cap each sees what is left."""
    cfg = platform.cfg
    lo = model.items.first_since(model.day - cfg.max_item_age + 1)
    if lo >= model.items.n or free.max(initial=0) <= 0:
        return []
    day = _RecommendDay(model, platform, lo, rng)
    if day.m_target == 0:
        return []
    # blocks small enough that, over the day, the items that really compete for
    # traffic are drawn ``candidate_coverage`` times each on average
    n_blocks = max(-(-len(active) // cfg.block_users), int(np.ceil(cfg.candidate_coverage * day.wanting / day.m_target)))
    B = max(1, -(-len(active) // n_blocks))
    base = int(rng.integers(2**62))
    day.row_in_block = np.full(model.users.n, -1, dtype=np.int64)
    day.row_in_block[active] = np.arange(len(active)) % B
    return [imp for j, b0 in enumerate(range(0, len(active), B))
            if (imp := day.rank_block(active[b0 : b0 + B], free[b0 : b0 + B], np.random.default_rng([base, j]))) is not None]


class _RecommendDay:
    """Today's recommendable items on one platform, prepared once for all blocks."""

    def __init__(self, model, platform, lo: int, rng: np.random.Generator):
        cfg, policy = platform.cfg, platform.policy
        self.cfg, self.policy, self.users, self.fg = cfg, policy, model.users, model.follows
        self.n_creators = model.creators.n
        items = model.items
        ctx = model.prior_context(platform, lo)
        prior = policy.item_prior(ctx)
        if ctx.blocked is not None:
            prior = np.where(ctx.blocked, -np.inf, prior)
        ok = np.isfinite(prior)
        self.pool = lo + np.flatnonzero(ok)
        self.m_target = min(cfg.candidates, len(self.pool))
        self.prior = prior[ok]
        self.topic = items.topic[self.pool]
        self.quality = items.quality[self.pool]
        self.perf = ctx.perf[ok]
        self.age = ctx.age[ok]
        self.popularity = ctx.exposure[ok].astype(np.float32)
        self.engagements = ctx.engagements[ok].astype(np.float32)
        self.creator = items.creator[self.pool].astype(np.int64)
        left = policy.exposure_left(ctx)
        self.left = None if left is None else left[ok].astype(np.float64)
        # how many items really compete for traffic: the participation ratio of the
        # retrieval weights, (Σw)² / Σw² (= the item count when all weigh the same)
        w = np.exp(self.prior - self.prior.max()) if len(self.pool) else np.zeros(0)
        self.wanting = float(w.sum() ** 2 / max((w * w).sum(), 1e-300)) if len(w) else 0.0
        self.temp = np.float32(cfg.temperature)
        self.noise = gumbel_table(rng)
        # retrieval weights per interest segment, as CDFs for inverse-transform draws
        self.cdf = {}
        for s in np.unique(model.users.segment).tolist():
            logw = self.prior + (cfg.candidate_affinity * self.topic[:, s] if policy.targeted else 0.0)
            self.cdf[s] = np.cumsum(np.exp(logw - logw.max()))

    def rank_block(self, bu: np.ndarray, k_u: np.ndarray, rng: np.random.Generator):
        """Candidates, scores and picks for one block of users (sorted user ids)."""
        kmax = int(k_u.max(initial=0))
        if kmax <= 0 or len(bu) == 0:
            return None
        users, fg = self.users, self.fg
        # retrieval: candidates split across the interest segments present in the block
        seg = users.segment[bu]  # users are numbered by segment, so a block's segments are runs
        starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
        segs, counts = seg[starts], np.diff(np.r_[starts, len(seg)])
        draws = []
        for s, c in zip(segs.tolist(), counts.tolist()):
            cw = self.cdf[s]
            k = max(1, int(round(self.m_target * c / len(bu))))
            draws.append(np.searchsorted(cw, rng.random(k) * cw[-1], side="right"))
        cand = np.unique(np.minimum(np.concatenate(draws), len(self.pool) - 1))
        m = len(cand)
        kb = min(kmax, m)
        # the block's follow edges to the candidates' creators: dense users × creators
        ucre, inv = np.unique(self.creator[cand], return_inverse=True)
        col_of = np.full(self.n_creators, -1, dtype=np.int64)
        col_of[ucre] = np.arange(len(ucre))
        es, ee = fg.indptr[bu[0]], fg.indptr[bu[-1] + 1]
        ec = col_of[fg.creator[es:ee]]
        er = self.row_in_block[fg.src[es:ee]]  # -1 for users not active today
        sel = np.flatnonzero((ec >= 0) & (er >= 0))
        edge_dense = np.full((len(bu), len(ucre)), -1, dtype=np.int64)
        edge_dense[er[sel], ec[sel]] = es + sel
        if self.policy.algorithmic:
            intim_dense = np.zeros((len(bu), len(ucre)), dtype=np.float32)
            intim_dense[er[sel], ec[sel]] = fg.intimacy[es + sel]
            intim = intim_dense[:, inv]
        else:
            intim = np.zeros((len(bu), m), dtype=np.float32)
        match = users.interest[bu] @ self.topic[cand].T
        block = Block(match=match, intimacy=intim, quality=self.quality[cand],
                      perf=self.perf[cand], age=self.age[cand], popularity=self.popularity[cand],
                      engagements=self.engagements[cand])
        key = self.policy.score(block)
        left = self.left
        if left is not None:
            key[:, left[cand] <= 0] = -np.inf
        # with a cap, look a few places further down each list to replace capped picks
        kx = min(m, kb + (8 if left is not None else 0))
        top = gumbel_top_k(key, kx, float(self.temp), int(rng.integers(2**63)), self.noise)
        valid = top >= 0
        if left is not None:
            valid &= _within_cap(top, left[cand])
        keep = valid & (np.cumsum(valid, axis=1) <= k_u[:, None])
        rows = np.broadcast_to(np.arange(len(bu))[:, None], top.shape)[keep]
        cols = top[keep]
        if left is not None:
            left[cand] -= np.bincount(cols, minlength=m)
        return Impressions(bu[rows], self.pool[cand[cols]], np.full(len(rows), RECOMMEND, np.int8),
                           edge_dense[rows, inv[cols]], match[rows, cols])


def _within_cap(top: np.ndarray, left: np.ndarray) -> np.ndarray:
    """Mask of picks (users × ranked columns) that fit each column's remaining cap,
    granting a column first to the users who ranked it highest."""
    b, k = top.shape
    col = np.where(top >= 0, top, len(left)).ravel()  # padding goes to a column with no cap left
    left = np.append(left, 0.0)
    rank = np.repeat(np.arange(k)[None, :], b, axis=0).ravel()
    order = np.lexsort((rank, col))
    pos = np.empty(len(col), dtype=np.int64)
    pos[order] = rank_within_sorted(col[order])
    return (pos < np.floor(np.maximum(left, 0))[col]).reshape(b, k)
