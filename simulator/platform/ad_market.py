"""The ad market (商域, commercial traffic): each platform sells its ad slots to merchants.

Each merchant in the market (not exited, not waiting to enter: state/turnover.py) wants
budget / CPM impressions a day. Its daily budget is split over the platforms that can sell
it ads that day (:func:`can_sell`: a feed platform, no shelf platform, with ``ad_load`` > 0,
where the merchant is not banned and, with multi-homing, its account is present): evenly,
or for a merchant that learns its channel mix (``merchants.learning``) by its learned
platform split renormalised over those platforms, bidding once per targeting with the
budget its mix puts there (:mod:`simulator.commerce.learning`). A merchant no platform can
sell to leaves its budget unspent that day. When together they want more than there are ad slots, the CPM rises to
``cpm × (demand / supply) ** cpm_elasticity`` (public-domain saturation) and what still
does not fit is rationed. Slots go first to fan-targeted ads (the merchant's own
followers among today's ad viewers), then to look-alike ads (non-fans drawn from the
interest segments of the merchant's fans), then to broad ads (anyone); a targeted
merchant whose audience is used up spends less. Unsold slots return to the feed. An ad
shows one of the merchant's recent items, which carry its product link; the impression is
tagged with the targeting that bought the slot, and an order it brings carries the tag
(attribution of the learning merchants' returns). Spend is booked
in the ledger (:mod:`simulator.commerce.ledger`), once every platform's feed is built
(:class:`AdSales`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..feeds import numpy_kernels
from ..feeds.impressions import Impressions
from ..state.arrays import expand_rows, indptr_from_rows, random_in_rows
from ..state.vocabulary import ADS, TARGETING

BROAD, FANS, LOOKALIKE = (TARGETING.index(t) for t in ("broad", "fans", "lookalike"))


def sell_ad_slots(model, platform, active, n, rng):
    """Sell ``n`` ad slots per active user (see the module docstring); returns the ad
    impressions (each tagged with the targeting that bought it) and each one's position
    in ``active``."""
    merchants, cfg, p = model.merchants, platform.cfg, platform.index
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0 or merchants.n == 0:
        return Impressions.empty(), pos[:0]
    recent = model.item_indexes.recent(cfg.max_item_age)
    has_item = np.diff(recent.indptr)[merchants.account] > 0
    bid_m, bid_t, bid_budget = _bids(model, p)  # (nothing where the platform cannot sell the merchant ads today)
    # a merchant whose account has no recent item to show, or out of the market, spends nothing here
    budget = np.where(~has_item[bid_m] | ~merchants.active[bid_m], 0.0, bid_budget)
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
    users = active.take(pos)  # (take: fancy indexing's values, quicker)
    market = _AdMarket(supply, left, rng)
    follows = model.follows
    accounts = AccountEdges(model)  # the day's follow edges to the merchants' accounts, found once
    targeted = (bid_t != BROAD) & (left > 0)
    if targeted.any() and follows.n_edges:
        # own fans: every (ad slot of a fan, fan-targeted bid) pair is a candidate
        fan_edge, fan_b = accounts.audience(np.flatnonzero(targeted & (bid_t == FANS)), bid_m)
        slot_of = np.full(model.users.n, -1, dtype=np.int64)
        slot_ptr = np.zeros(len(active) + 1, dtype=np.int64)  # (pos repeats each active user n times)
        np.cumsum(np.broadcast_to(n, (len(active),)), out=slot_ptr[1:])
        slot_of[active.astype(np.intp)] = np.arange(len(active))  # (intp: int32 indices are converted on use)
        fan_slot = slot_of.take(follows.src.take(fan_edge))
        fans = fan_slot >= 0
        which, slot = expand_rows(slot_ptr, fan_slot.compress(fans))
        market.assign(slot, fan_b.compress(fans).take(which))
        # look-alikes: draw a segment from the merchant's fans' segments, then a free slot in it
        look = np.flatnonzero((bid_t == LOOKALIKE) & (market.left > 0))
        if len(look):
            look_edge, look_b = accounts.audience(look, bid_m)
            market.assign(*_lookalike_candidates(model, cfg, look, look_edge, look_b, bid_m, users, market, rng,
                                                 accounts))
    broad = np.flatnonzero((bid_t == BROAD) & (market.left > 0))
    if len(broad):
        free = rng.permutation(np.flatnonzero(~market.taken))
        want_slots = np.repeat(broad, market.left[broad])
        k = min(len(free), len(want_slots))
        market.assign_all(free[:k], rng.permutation(want_slots)[:k])  # (distinct free slots, within each bid's left)
    if numpy_kernels.compiled(supply):  # the sold slots' rows in one compiled pass (the same rows and draws)
        ad_rows = numpy_kernels.compiled_kernels().ad_rows
        # (random_in_rows' uniforms, one a sold slot)
        s, bid, sold_to, viewer, item, edge, targeting = ad_rows(
            market.merchant, bid_m, bid_t, merchants.account, recent.indptr, recent.items,
            rng.random(int(np.count_nonzero(market.merchant >= 0))), users, follows.indptr, follows.creator,
            merchants.n)
    else:
        s = np.flatnonzero(market.merchant >= 0)
        bid = market.merchant.take(s)
        merchant = bid_m.take(bid)
        item = recent.items.take(random_in_rows(recent.indptr, merchants.account.take(merchant).astype(np.int64),
                                                rng))
        sold_to = np.bincount(merchant, minlength=merchants.n)
        # an ad's item is one of its merchant's account's: the viewer's follow edge to that account
        viewer = users.take(s)
        edge, targeting = accounts.lookup(viewer, merchant), bid_t.take(bid)
    sales = AdSales(p, sold_to, cpm, bid_m, bid_t, None)
    if model.commerce.learning is not None:  # each bid's spend, for the learners' returns
        sold = np.bincount(bid, minlength=len(bid_m))
        sales.bid_spend = sold * cpm / 1000.0
    pending = getattr(model, "ad_sales", None)  # set while TrafficModel.build_feeds runs: booked after the feeds
    if pending is None:
        sales.book(model)
    else:
        pending[p] = sales
    return Impressions.make(model, viewer, item, ADS, edge, targeting=targeting), pos.take(s)


@dataclass
class AdSales:
    """One platform's ad sales of the day, to book in the ledger (and the learners' spend).

    While the day's feeds are built (``TrafficModel.build_feeds``, ``model.ad_sales``) the
    sales are kept and booked after the last feed, platform by platform in scenario
    order: the platforms' feeds may be built in threads, and the learners' spend
    (``learning.cost_today``) sums over the platforms, a float sum whose bits depend on its
    order. Nothing in the feeds reads what is booked."""

    platform: int
    sold: np.ndarray  # ad impressions sold to each merchant
    cpm: float
    bid_m: np.ndarray  # the day's bids: merchant, targeting, and each one's spend (learning merchants only)
    bid_t: np.ndarray
    bid_spend: np.ndarray | None

    def book(self, model) -> None:
        model.ledger.book_ad_sales(self.platform, self.sold, self.cpm)
        if self.bid_spend is not None:
            model.commerce.learning.book_ad_spend(self.platform, self.bid_m, self.bid_t, self.bid_spend)


def _bids(model, p: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The day's bids on platform ``p``: (merchant, targeting, budget in yuan) per bid, in
    merchant order. A static merchant bids once, with its one targeting and its daily
    budget split evenly over the platforms that can sell it ads today
    (:func:`static_split`; 0 on the others); a learning merchant (``merchants.learning``) bids once per targeting,
    with the budget its channel mix and its platform split renormalised over those
    platforms put there (:meth:`ChannelLearner.ad_budget`)."""
    merchants = model.merchants
    learner = model.commerce.learning
    if learner is None:
        return (np.arange(merchants.n), merchants.targeting.astype(np.int64),
                merchants.daily_budget * static_split(model)[:, p])
    budget = learner.ad_budget(p)  # (M, targetings)
    M, T = budget.shape
    return np.repeat(np.arange(M), T), np.tile(np.arange(T), M), budget.ravel()


def can_sell(model) -> np.ndarray:
    """(M × P) bool: whether platform p can sell merchant m ads now: a feed platform (a
    shelf platform, docs/ODD.md 7.12, has no ad slots) whose ``ad_load`` is above 0 (it
    may adapt down to 0, docs/ODD.md 7.3.1), on which m is not banned and, with
    multi-homing (7.11), m's account is present (merchants' accounts are on every
    platform, so this does not bind as the model stands). A merchant's ad budget is split over these
    platforms; whether the merchant is in the market or has an item to show is not asked
    here (out of the market it has no budget; without a recent item its share on the
    platform is not spent)."""
    merchants, presence = model.merchants, getattr(model, "presence", None)
    ok = np.zeros((merchants.n, len(model.platforms)), dtype=bool)
    for platform in model.platforms.values():  # (a few platforms: columns of the merchants' arrays)
        cfg, p = platform.cfg, platform.index
        if cfg.kind == "shelf" or cfg.ad_load <= 0:
            continue
        ok[:, p] = ~merchants.banned[p]
        absent = presence.absent(p) if presence is not None else None
        if absent is not None:
            ok[:, p] &= ~absent[merchants.account]
    return ok


def open_ad_day(model) -> None:
    """Fix today's :func:`can_sell` (``model.commerce.ad_sellable``), as the day's feeds
    start: the ad market's bids on every platform and the learners' returns (read after
    the day's bans, phase 9, and the platforms' adaptation of ``ad_load``, phase 12) split
    the budget over the same platforms."""
    model.commerce.ad_sellable = can_sell(model)


def sellable_today(model) -> np.ndarray:
    """(M × P) today's :func:`can_sell`, fixed as the feeds started (:func:`open_ad_day`;
    before a model's first day, :func:`can_sell` now)."""
    ok = model.commerce.ad_sellable
    return can_sell(model) if ok is None else ok


def static_split(model) -> np.ndarray:
    """(M × P) a static merchant's split of its ad budget today: even over the platforms
    that can sell it ads (:func:`sellable_today`), 0 everywhere when none can."""
    ok = sellable_today(model)
    n = np.count_nonzero(ok, axis=1)[:, None]
    return np.where(ok, 1.0 / np.maximum(n, 1), 0.0)


# the largest users × merchants table of follow edges AccountEdges.lookup builds (int32: 16 MiB)
ACCOUNT_TABLE_LIMIT = 1 << 22


class AccountEdges:
    """The follow edges to the merchants' accounts, for one platform's ad sales: found in
    one pass over the edges' creators (a gather of bytes on small graphs, the compiled
    ``edges_to_marked`` on large ones) and shared by the audiences of the fan and
    look-alike bids and the ad viewers' edges (four passes over every edge before); while
    the day's feeds are built, one pass for every platform (``model.feed_cache``: neither
    the follow graph nor the merchants' accounts change during the feeds)."""

    KEY = ("account_edges",)  # their entry in ``model.feed_cache``

    def __init__(self, model):
        self.model = model
        self.compiled = numpy_kernels.compiled(model.follows.n_edges)
        self._edge = self._table = self._creator = None

    @staticmethod
    def accounts(model) -> np.ndarray:
        """A bool per creator: whether it is a merchant's account."""
        mark = np.zeros(model.creators.n, dtype=bool)
        mark[model.merchants.account] = True
        return mark

    def edges(self) -> np.ndarray:
        """The edges whose creator is a merchant's account, ascending (on large graphs
        while the feeds are built, found by the pass that sums the follow tab's pick
        weights: feeds/slots.py ``fill_follow_caches``)."""
        if self._edge is None:
            model = self.model
            cache = getattr(model, "feed_cache", None)
            key = self.KEY
            if cache is not None and key in cache:
                self._edge = cache[key]
                return self._edge
            if self.compiled:  # large graphs: one pass over the edges, no temporaries
                edges_to_marked = numpy_kernels.compiled_kernels().edges_to_marked

                mark = np.full(model.creators.n, -1, dtype=np.int64)
                mark[model.merchants.account] = 0
                self._edge = edges_to_marked(model.follows.creator, mark)[0]
            else:
                self._edge = np.flatnonzero(self.accounts(model).take(model.follows.creator))  # (take: fancy indexing's values, quicker)
            if cache is not None:
                cache[key] = self._edge
        return self._edge

    def audience(self, bids: np.ndarray, bid_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Follow edges to the accounts of ``bids``' merchants (a merchant has at most one
        bid of each targeting), in edge order, and each edge's bid."""
        follows = self.model.follows
        bid_of_account = np.full(self.model.creators.n, -1, dtype=np.int64)
        bid_of_account[self.model.merchants.account[bid_m[bids]]] = bids
        edge = self.edges()  # (the accounts' edges: a subset of them, in the same order)
        bid = bid_of_account.take(self.creators())
        mine = bid >= 0
        return edge.compress(mine), bid.compress(mine)

    def creators(self) -> np.ndarray:
        """The creator (an account) of each of :meth:`edges`, gathered once for the
        audiences and the table."""
        if self._creator is None:
            self._creator = self.model.follows.creator.take(self.edges())
        return self._creator

    def lookup(self, users: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """``follows.lookup(users, merchants.account[merchant])``: each user's follow edge to
        the merchant's account, or -1 (int64). The accounts are a few creators, so where a
        users × merchants table is small (``ACCOUNT_TABLE_LIMIT``) and the accounts
        distinct, their edges are set in that table (once) and read from it: the same edges
        as the search of every key (~0.1 against ~0.8 ms for a 10,000-user day's ads)."""
        model = self.model
        follows, account = model.follows, model.merchants.account
        if self._table is None:
            self._table = False  # (no table: the lookup)
            n_users, n_merchants = model.users.n, len(account)
            merchant_of = np.full(model.creators.n, -1, dtype=np.int64)
            merchant_of[account] = np.arange(n_merchants)
            # not with two merchants on one account
            if (not self.compiled and n_users * n_merchants <= ACCOUNT_TABLE_LIMIT
                    and np.array_equal(merchant_of[account], np.arange(n_merchants))):
                edge = self.edges()
                table = np.full(n_users * n_merchants, -1, dtype=np.int32)  # (edge rows fit int32: build_feed checks)
                cell = follows.src.take(edge).astype(np.int64)
                cell *= n_merchants
                cell += merchant_of.take(self.creators())
                table[cell] = edge
                self._table = table
        if self._table is False:
            return follows.lookup(users, account[merchant])
        cell = users.astype(np.int64)
        cell *= len(account)
        cell += merchant
        return self._table.take(cell).astype(np.int64)


class _AdMarket:
    """Ad slots being handed out: which bid (``merchant``: an index into the day's bids,
    one per merchant for static merchants) has each slot, and how many impressions each
    bid can still pay for."""

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
        slot = slot[perm]
        # the first candidate of each free slot, by slot (a slot's candidates are all free
        # or all taken, so these are the first of the free candidates); restore a random order:
        first = rng.permutation(first_free_of_each(slot, self.taken))
        # each bid keeps its first ``left`` candidates in this order; the slots are distinct,
        # so the order in which the kept ones are written does not matter (one compiled pass
        # where the kernels are, kernels.assign_kept; else its numpy form's passes)
        assign_kept = numpy_kernels.kernel("assign_kept", numpy_kernels.compiled(len(slot)))
        assign_kept(slot, merchant, perm, first, self.taken, self.merchant, self.left)

    def assign_all(self, slot: np.ndarray, merchant: np.ndarray) -> None:
        """:meth:`assign` where the candidate slots are free and distinct and no bid has
        more candidates than it can pay for (the broad bids): every pair is kept, and
        assign's two shuffles only reorder pairs of distinct slots, so they are drawn (the
        generator ends in the same state) and not applied: the same market."""
        self.rng.permutation(len(slot))
        self.rng.permutation(len(slot))
        self.taken[slot] = True
        self.merchant[slot] = merchant
        self.left -= np.bincount(merchant, minlength=len(self.left))


def first_of_each(a: np.ndarray, n: int) -> np.ndarray:
    """``np.unique(a, return_index=True)[1]`` for ``a`` of integers in [0, n): the index of
    each distinct value's first occurrence, by value. Without np.unique's stable argsort
    (~0.5 ms for the ~10,000 broad ad slots of a 10,000-user day): the smallest index of
    each value by ``np.minimum.at`` over a table of ``n`` (a few values in a large range:
    np.unique's sort)."""
    if len(a) * 16 < n:
        return np.unique(a, return_index=True)[1]
    first = np.full(n, len(a), dtype=np.int64)
    np.minimum.at(first, a, np.arange(len(a)))
    return first[first < len(a)]


def first_free_of_each(a: np.ndarray, taken: np.ndarray) -> np.ndarray:
    """:func:`first_of_each` of ``a`` (integers in [0, len(taken))) keeping only the
    values not ``taken``: the index of each free value's first occurrence, by value (the
    taken ones dropped from the table of values, not from ``a``)."""
    n = len(taken)
    if len(a) * 16 < n:
        first = np.unique(a, return_index=True)[1]
        return first.compress(~taken.take(a.take(first)))
    first = np.full(n, len(a), dtype=np.int64)
    np.minimum.at(first, a, np.arange(len(a)))
    return first.compress((first < len(a)) & ~taken)


def narrow(a: np.ndarray, n: int) -> np.ndarray:
    """Integers ``a`` in [0, n) in the narrowest of int8, int16, int64 that holds them: a
    stable argsort gives the same order in any of them, and numpy sorts 8- and 16-bit
    keys by radix (~6× quicker than int64's for the ad market's bids)."""
    if n <= np.iinfo(np.int8).max:
        return a.astype(np.int8)
    return a.astype(np.int16) if n <= np.iinfo(np.int16).max else a


def _lookalike_candidates(model, cfg, look, fan_edge, fan_b, bid_m, users, market, rng, accounts=None):
    """Candidate (slot, bid) pairs for look-alike targeting (``look``: the look-alike bids,
    ``fan_edge`` / ``fan_b``: their merchants' follow edges and each edge's bid):
    ``lookalike_oversample`` draws per impression each bid can pay for, segments in
    proportion to its merchant's fans' segments, non-fans only."""
    follows, seg_of = model.follows, model.users.segment
    n_seg = int(seg_of.max()) + 1
    row_of = np.full(len(market.left), -1, dtype=np.int64)
    row_of[look] = np.arange(len(look))
    row = row_of.take(fan_b)
    mine = row >= 0
    code = row.compress(mine)
    code *= n_seg
    code += seg_of.take(follows.src.take(fan_edge.compress(mine)))
    w = np.bincount(code, minlength=len(look) * n_seg)
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
    if numpy_kernels.compiled(len(market.taken)):  # the picks and the fans' search in one compiled pass
        lookalike_slots = numpy_kernels.compiled_kernels().lookalike_slots
        # (random_in_rows' uniforms, drawn where it draws them)
        return lookalike_slots(market.taken, users, seg_of, n_seg, seg, rng.random(len(seg)), look, draws, bid_m,
                               model.merchants.account, follows.indptr, follows.creator)
    free = np.flatnonzero(~market.taken)
    fseg = seg_of.take(users.take(free))
    o = np.argsort(narrow(fseg, n_seg), kind="stable")  # (8- or 16-bit keys: a radix sort, the same stable order)
    ptr = indptr_from_rows(fseg, n_seg)  # (counts: in any order)
    k = random_in_rows(ptr, seg, rng)
    ok = k >= 0
    slot, b = free.take(o.take(k.compress(ok))), look.take(draws.compress(ok))
    non_fan = (accounts or AccountEdges(model)).lookup(users.take(slot), bid_m.take(b)) < 0
    return slot.compress(non_fan), b.compress(non_fan)
