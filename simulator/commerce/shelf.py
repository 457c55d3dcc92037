"""Shelf e-commerce (货架电商, Taobao-like): search with purchase intent, SMS recall, and
the leak of recalled buyers back into public traffic (docs/ODD.md 7.12; docs/sources.md
mechanism 6, source 003).

A platform with ``kind = "shelf"`` has no creator feed (:func:`simulator.feeds.slots.build_feed`
makes no impressions there, no ad slots are sold) and no accounts live on it (homes are
feed platforms). Every active merchant not banned there has a shop on it, in its category,
with a *price band* drawn once, uniform in [0, 1]; every user has a price band too. Each
day, on each shelf platform, in this order:

1. **Recall** (on days t with t mod ``recall_every`` = 0): each shop texts each of its
   eligible past buyers with probability ``recall_rate`` (eligible: a user of the platform
   who bought from the merchant on this platform, whose last order with the merchant, in
   the customer book, is at least the category's ``repurchase_days`` and at most
   ``recall_window`` days old). An SMS costs ``sms_cost`` yuan, booked as the merchant's
   operating cost. A recalled user buys at the shop with the shelf purchase probability
   below (GMV domain ``private_platform``, order source ``recall``).
2. **Leak** (``leak``): a recalled user who did not buy searches the same category the
   same day, the recalling shop excluded; a purchase there (at another shop, GMV domain
   ``public``) is a *leak*.
3. **Search**: each user of the platform arrives with purchase intent with probability
   ``intent_rate`` and searches one category, drawn from ``merchants.category_mix``
   (a user with a leak session today has that one session only). The search scores the
   open shops of the category (at most ``candidates`` of them, a random sample per block
   of searches when there are more)

       score = w_match · match(user, shop's account topic) + w_price · fit + temperature · Gumbel
       fit   = 1 − |user's band − shop's band|

   shows the best ``results`` and the user considers them in rank order, buying at the
   first that converts (at most one order per search; GMV domain ``public``, source
   ``search``).

Every purchase goes through the one purchase model (:class:`.purchase.PurchaseModel`,
with the shelf platform's ``fan_trust``) with ``buy_offset + w_price · (fit − 1)`` added
to its logit, and through :func:`.purchase.place_orders` (customer book and trust, the
ledger with the platform's commission schedule); so shelf buyers can be diverted to
WeChat and recalled later. The random draws come from the shelves' own stream (spawn key
(15, 3) of the scenario's seed): a scenario without a shelf platform draws nothing more.
"""

from __future__ import annotations

import numpy as np

from ..state.arrays import union_sorted, unique_sorted
from ..state.vocabulary import CATEGORIES
from .ledger import PUBLIC_G, PRIVATE_PLATFORM, RECALL, SEARCH
from .purchase import place_orders

SHELF_SPAWN_KEY = (15, 3)
BLOCK = 4096  # searches scored together against one candidate set of shops (at most)
CELLS = 2**22  # at most this many (search, shop) scores in one block
COUNTERS = ("searches", "search_orders", "recalls", "recall_orders", "recall_leaks", "sms_cost")


class Shelves:
    """The shelf platforms' state: price bands, each shelf's past buyers, today's counts."""

    def __init__(self, model):
        self.model = model
        sc = model.scenario
        self.index = [j for j, feed in enumerate(sc.feed_platforms()) if not feed]
        self.rng = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=SHELF_SPAWN_KEY))
        self.user_band = self.rng.random(model.users.n, dtype=np.float32)
        # the merchants in the market at day 0 from this stream, the potential merchants
        # (7.10) from one of their own: an entry pool shifts none of the shelves' draws
        merchants = model.merchants
        initial = np.flatnonzero(merchants.active)
        pool = np.flatnonzero(~merchants.active)
        self.shop_band = np.zeros(merchants.n, dtype=np.float32)
        self.shop_band[initial] = self.rng.random(len(initial)).astype(np.float32)
        if len(pool):
            pool_rng = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=SHELF_SPAWN_KEY + (1,)))
            self.shop_band[pool] = pool_rng.random(len(pool)).astype(np.float32)
        self.n_keys = max(model.merchants.n, 1)
        # per shelf platform: sorted keys user · n_keys + merchant of the pairs who ordered there
        self.buyers = {p: np.zeros(0, np.int64) for p in self.index}
        self.today = {k: np.zeros(len(sc.platforms)) for k in COUNTERS}

    def run_day(self) -> None:
        """Recall, leak and search on every shelf platform (module docstring)."""
        model = self.model
        self.today = {k: np.zeros(len(model.platforms)) for k in COUNTERS}
        platforms = list(model.platforms.values())
        for p in self.index:
            self._day(platforms[p])

    # ------------------------------------------------------------------ one platform

    def _day(self, platform) -> None:
        model, p, cfg = self.model, platform.index, platform.cfg.shelf
        users, merchants, rng = model.users, model.merchants, self.rng
        visitors = [np.zeros(0, np.int64)]
        if model.scenario.commerce.enabled and merchants.n > 0:
            open_shop = merchants.active & ~merchants.banned[p]
            leak = self._recall(platform, open_shop, visitors)
            intent = np.flatnonzero(users.uses[:, p])
            intent = intent[rng.random(len(intent)) < cfg.intent_rate]
            mix = np.asarray(model.scenario.merchants.category_mix, dtype=np.float64)
            category = rng.choice(len(CATEGORIES), len(intent), p=mix / mix.sum())
            user = np.concatenate([leak[0], intent])
            cat = np.concatenate([leak[1], category]).astype(np.int64)
            excluded = np.concatenate([leak[2], np.full(len(intent), -1, np.int64)])
            _, first = np.unique(user, return_index=True)  # one session a user: the leak session first
            first.sort()
            user, cat, excluded = user[first], cat[first], excluded[first]
            self.today["searches"][p] += len(user)
            visitors.append(user)
            s, m = self._search(platform, open_shop, user, cat, excluded)
            orders = place_orders(model, platform=np.full(len(s), p), merchant=m, seller=merchants.account[m],
                                  user=user[s], domain=np.full(len(s), PUBLIC_G), source=np.full(len(s), SEARCH))
            self._remember(p, orders)
            self.today["search_orders"][p] += len(s)
            self.today["recall_leaks"][p] += int(np.count_nonzero(excluded[s] >= 0))
        active = unique_sorted(np.concatenate(visitors)).astype(np.int32)
        platform.active_users, platform.active_today = active, len(active)

    def _recall(self, platform, open_shop, visitors) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Today's SMS campaigns on ``platform``; returns the leak sessions (user, category,
        the recalling merchant) of the recalled users who did not buy (none without ``leak``)."""
        model, p, cfg = self.model, platform.index, platform.cfg.shelf
        merchants, book, rng = model.merchants, model.commerce.book, self.rng
        none = (np.zeros(0, np.int64),) * 3
        key = self.buyers[p]
        if cfg.recall_rate <= 0 or model.day % cfg.recall_every != 0 or len(key) == 0:
            return none
        user, m = key // self.n_keys, key % self.n_keys
        row = book.lookup(user, m)
        age = model.day - book.last_day[row].astype(np.int64)
        cat = merchants.category[m].astype(np.int64)
        ok = (row >= 0) & open_shop[m] & model.users.uses[user, p]
        ok &= (age >= model.commerce.purchase.repurchase[cat]) & (age <= cfg.recall_window)
        user, m = user[ok], m[ok]
        hit = rng.random(len(user)) < cfg.recall_rate
        user, m = user[hit], m[hit]
        cost = np.bincount(m, minlength=merchants.n) * cfg.sms_cost
        model.ledger.book_operating_cost(cost)
        self.today["recalls"][p] += len(user)
        self.today["sms_cost"][p] += float(cost.sum())
        visitors.append(user)
        buy = rng.random(len(user)) < self.probability(platform, user, m)
        orders = place_orders(model, platform=np.full(int(buy.sum()), p), merchant=m[buy], seller=merchants.account[m[buy]],
                              user=user[buy], domain=np.full(int(buy.sum()), PRIVATE_PLATFORM),
                              source=np.full(int(buy.sum()), RECALL))
        self._remember(p, orders)
        self.today["recall_orders"][p] += int(buy.sum())
        if not cfg.leak:
            return none
        lost = ~buy
        return user[lost], merchants.category[m[lost]].astype(np.int64), m[lost]

    def _search(self, platform, open_shop, user, cat, excluded) -> tuple[np.ndarray, np.ndarray]:
        """Searches of ``user`` in category ``cat`` (``excluded``: a shop not shown, -1 none);
        returns the sessions that bought (indices into ``user``) and the merchant each bought from."""
        model, cfg, rng = self.model, platform.cfg.shelf, self.rng
        merchants = model.merchants
        out_s, out_m = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for c in range(len(CATEGORIES)):
            sel = np.flatnonzero(cat == c)
            shops = np.flatnonzero(open_shop & (merchants.category == c))
            if len(sel) == 0 or len(shops) == 0:
                continue
            n_cand = min(len(shops), cfg.candidates)
            block = max(1, min(BLOCK, CELLS // n_cand))
            for start in range(0, len(sel), block):
                s = sel[start:start + block]
                cand = shops if len(shops) <= cfg.candidates else np.sort(rng.choice(shops, n_cand, replace=False))
                u = user[s]
                score = self.score(cfg, u, cand)
                if cfg.temperature > 0:
                    score += cfg.temperature * rng.gumbel(size=score.shape)
                score[excluded[s][:, None] == cand[None, :]] = -np.inf
                k = min(cfg.results, len(cand))
                top = np.argpartition(-score, k - 1, axis=1)[:, :k]
                top_score = np.take_along_axis(score, top, axis=1)
                rank = np.argsort(-top_score, axis=1, kind="stable")
                top, top_score = np.take_along_axis(top, rank, axis=1), np.take_along_axis(top_score, rank, axis=1)
                # every shown shop's purchase probability in one evaluation (nothing it reads
                # changes during the search), not one a rank (issue #17: ~2 ms a call at 1 M users)
                shown = cand[top]
                prob = self.probability(platform, np.repeat(u, k), shown.ravel()).reshape(len(s), k)
                pending = np.ones(len(s), dtype=bool)
                for r in range(k):  # the shown shops in rank order; the first that converts sells
                    idx = np.flatnonzero(pending & np.isfinite(top_score[:, r]))
                    m = shown[idx, r]
                    buy = rng.random(len(idx)) < prob[idx, r]
                    out_s.append(s[idx[buy]])
                    out_m.append(m[buy])
                    pending[idx[buy]] = False
        return np.concatenate(out_s), np.concatenate(out_m)

    # ------------------------------------------------------------------ the terms

    def fit(self, user: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """Price fit 1 − |user's band − shop's band| of paired (or broadcast) rows."""
        return 1.0 - np.abs(self.user_band[user] - self.shop_band[merchant])

    def score(self, cfg, user: np.ndarray, cand: np.ndarray) -> np.ndarray:
        """(users × candidate shops) search score without the noise."""
        model = self.model
        match = model.users.interest[user] @ model.creators.topic[model.merchants.account[cand]].T
        fit = 1.0 - np.abs(self.user_band[user][:, None] - self.shop_band[cand][None, :])
        return (cfg.w_match * match + cfg.w_price * fit).astype(np.float64)

    def probability(self, platform, user: np.ndarray, merchant: np.ndarray) -> np.ndarray:
        """P(buy) at the shop: the purchase model on this platform with the shelf's
        ``buy_offset + w_price · (fit − 1)`` in the logit."""
        model, cfg = self.model, platform.cfg.shelf
        account = model.merchants.account[merchant].astype(np.int64)
        # (take(axis=0): the same rows as fancy indexing, several times quicker on rows of a few floats)
        match = np.einsum("ij,ij->i", model.users.interest.take(user, axis=0), model.creators.topic.take(account, axis=0))
        intimacy = model.follows.intimacy_of(user, account)  # (0 where the user does not follow)
        offset = cfg.buy_offset + cfg.w_price * (self.fit(user, merchant) - 1.0)
        return model.commerce.purchase.probability(model.day, user, merchant, match, intimacy,
                                                   platform=platform.index, offset=offset)

    def _remember(self, p: int, orders) -> None:
        """The (user, merchant) pairs of today's orders on shelf ``p``: recall candidates."""
        if orders is not None and len(orders):
            key = orders.user.astype(np.int64) * self.n_keys + orders.merchant.astype(np.int64)
            self.buyers[p] = union_sorted(self.buyers[p], key)  # np.union1d's set, without its sort of all of it

    # ------------------------------------------------------------------ read by the measurements

    def readings(self, index: int | None) -> dict[str, float]:
        """Today's counts on platform ``index`` (None: all platforms)."""
        return {k: float(v.sum() if index is None else v[index]) for k, v in self.today.items()}
