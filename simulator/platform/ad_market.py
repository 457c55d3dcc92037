"""The ad market (商域, commercial traffic): each platform sells its ad slots to merchants.

Each merchant in the market (not exited, not waiting to enter: state/turnover.py) wants
budget / CPM impressions a day (its daily budget split evenly over
the platforms). When together they want more than there are ad slots, the CPM rises to
``cpm × (demand / supply) ** cpm_elasticity`` (public-domain saturation) and what still
does not fit is rationed. Slots go first to fan-targeted ads (the merchant's own
followers among today's ad viewers), then to look-alike ads (non-fans drawn from the
interest segments of the merchant's fans), then to broad ads (anyone); a targeted
merchant whose audience is used up spends less. Unsold slots return to the feed. An ad
shows one of the merchant's recent items, which carry its product link. Spend is booked
in the ledger (:mod:`simulator.commerce.ledger`).
"""

from __future__ import annotations

import numpy as np

from ..feeds.impressions import Impressions
from ..state.arrays import expand_rows, indptr_from_rows, random_in_rows, rank_within_sorted
from ..state.vocabulary import ADS, TARGETING

BROAD, FANS, LOOKALIKE = (TARGETING.index(t) for t in ("broad", "fans", "lookalike"))


def sell_ad_slots(model, platform, active, n, rng):
    """Sell ``n`` ad slots per active user (see the module docstring); returns the ad
    impressions and each one's position in ``active``."""
    merchants, cfg, p = model.merchants, platform.cfg, platform.index
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0 or merchants.n == 0:
        return Impressions.empty(), pos[:0]
    recent = model.item_indexes.recent(cfg.max_item_age)
    has_item = np.diff(recent.indptr)[merchants.account] > 0
    budget = np.where(merchants.banned[p] | ~has_item | ~merchants.active, 0.0, merchants.daily_budget / len(model.platforms))
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
    users = active[pos]
    market = _AdMarket(supply, left, rng)
    follows = model.follows
    targeted = (merchants.targeting != BROAD) & (left > 0)
    if targeted.any() and follows.n_edges:
        m_of_account = np.full(model.creators.n, -1, dtype=np.int64)
        m_of_account[merchants.account[targeted]] = np.flatnonzero(targeted)
        fan_edge = np.flatnonzero(m_of_account[follows.creator] >= 0)
        fan_m = m_of_account[follows.creator[fan_edge]]
        # own fans: every (ad slot of a fan, merchant) pair is a candidate
        slot_of = np.full(model.users.n, -1, dtype=np.int64)
        slot_ptr = indptr_from_rows(pos, len(active))
        slot_of[active] = np.arange(len(active))
        fans = (merchants.targeting[fan_m] == FANS) & (slot_of[follows.src[fan_edge]] >= 0)
        which, slot = expand_rows(slot_ptr, slot_of[follows.src[fan_edge[fans]]])
        market.assign(slot, fan_m[fans][which])
        # look-alikes: draw a segment from the merchant's fans' segments, then a free slot in it
        look = np.flatnonzero((merchants.targeting == LOOKALIKE) & (market.left > 0))
        if len(look):
            market.assign(*_lookalike_candidates(model, cfg, look, fan_edge, fan_m, users, market, rng))
    broad = np.flatnonzero((merchants.targeting == BROAD) & (market.left > 0))
    if len(broad):
        free = rng.permutation(np.flatnonzero(~market.taken))
        want_slots = np.repeat(broad, market.left[broad])
        k = min(len(free), len(want_slots))
        market.assign(free[:k], rng.permutation(want_slots)[:k])
    s = np.flatnonzero(market.merchant >= 0)
    merchant = market.merchant[s]
    item = recent.items[random_in_rows(recent.indptr, merchants.account[merchant].astype(np.int64), rng)]
    model.ledger.book_ad_sales(p, np.bincount(merchant, minlength=merchants.n), cpm)
    return Impressions.of_slots(model, users[s], item, ADS), pos[s]


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


def _lookalike_candidates(model, cfg, look, fan_edge, fan_m, users, market, rng):
    """Candidate (slot, merchant) pairs for look-alike targeting: ``lookalike_oversample``
    draws per impression each merchant can pay for, segments in proportion to its fans'
    segments, non-fans only."""
    follows, seg_of = model.follows, model.users.segment
    n_seg = int(seg_of.max()) + 1
    row_of = np.full(model.merchants.n, -1, dtype=np.int64)
    row_of[look] = np.arange(len(look))
    mine = row_of[fan_m] >= 0
    w = np.bincount(row_of[fan_m[mine]] * n_seg + seg_of[follows.src[fan_edge[mine]]], minlength=len(look) * n_seg)
    w = w.reshape(len(look), n_seg).astype(np.float64)
    has = w.sum(axis=1) > 0
    look, w = look[has], w[has]
    if len(look) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    draws = np.repeat(np.arange(len(look)), cfg.lookalike_oversample * market.left[look])
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
    non_fan = follows.lookup(users[slot], model.merchants.account[m]) < 0
    return slot[non_fan], m[non_fan]
