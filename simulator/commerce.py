"""Commerce and the private channels: purchases, tips, fan groups, DMs, WeChat, bans, money.

Where an order comes from decides its *GMV domain* (``state.GMV_DOMAINS``):

* ``public`` / ``commercial`` / ``private_platform``: a purchase on an engaged feed
  impression of a product item, in the impression's domain (private when the buyer already
  follows the seller; commercial in an ad slot). Group pushes and homepage visits / DMs
  are ``private_platform`` too.
* ``private_wechat``: a purchase from a WeChat push, after the merchant diverted the buyer.

Every purchase goes through one model (:meth:`Commerce.purchase_prob`):

    z = intercept + buy_offset[category] + w_match·match + λ·(w_intimacy·intimacy + w_trust·trust)
        − price_sensitivity·ln(price / 40) + ln(live_multiplier)·live
    P(buy) = sigmoid(z)   (0 while the buyer is within the category's repurchase interval)

with λ the platform's ``fan_trust`` (1 on WeChat).

Money per order: the buyer pays the price; the platform takes the commission (its schedule:
intro rate in a merchant's first days, then by category; WeChat 0); a partner creator takes
``creator_share``; the merchant keeps the rest. Tips go to the creator minus the platform's
``tip_cut``. Ad spend was booked when the ad slots were sold (:mod:`simulator.feeds.slots`).

Fan groups live on follow edges (columns ``group``, ``annoy``, ``joined`` of the follow
graph); WeChat contacts are their own edge list (user, merchant) that survives unfollows
and bans ("traffic insurance"). All phases work on whole arrays; there is no loop over
users, edges or orders.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .config import CATEGORIES
from .state.arrays import rank_within_sorted
from .state.vocabulary import GMV_DOMAINS, SOURCES
from .state.arrays import sigmoid

ORDER_SOURCES = SOURCES + ("group", "visit", "wechat")
GROUP, VISIT, WECHAT = len(SOURCES), len(SOURCES) + 1, len(SOURCES) + 2
PUBLIC_G, COMMERCIAL_G, PRIVATE_PLATFORM, PRIVATE_WECHAT = range(4)
BUYER_TIERS = ("non_fan", "potential", "passerby", "liking", "true")
_NEVER = -(10**6)


@dataclass
class Orders:
    """A batch of orders, one row each."""

    platform: np.ndarray  # int64: the platform it is attributed to (WeChat: where the contact came from)
    merchant: np.ndarray  # int64
    seller: np.ndarray  # int64: creator row whose item, group or homepage sold it
    user: np.ndarray  # int64
    price: np.ndarray  # float64
    domain: np.ndarray  # int64: index into GMV_DOMAINS
    source: np.ndarray  # int64: index into ORDER_SOURCES
    new_buyer: np.ndarray  # bool: the buyer's first order from this merchant
    buyer_tier: np.ndarray  # int64: index into BUYER_TIERS (fan tier with the seller at the time)
    rate: np.ndarray  # float64: commission rate applied
    commission: np.ndarray  # float64
    creator_cut: np.ndarray  # float64

    @staticmethod
    def concat(parts: list["Orders"]) -> "Orders":
        names = [f.name for f in fields(Orders)]
        if not parts:
            return Orders(*(np.zeros(0) for _ in names))
        return Orders(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))

    def __len__(self) -> int:
        return len(self.user)


class CustomerBook:
    """Buyer–merchant relationships: (user, merchant) pairs kept sorted by key, with trust,
    the day of the last order and the order count."""

    def __init__(self, n_merchants: int):
        self.M = max(n_merchants, 1)
        self.keys = np.zeros(0, np.int64)
        self.trust = np.zeros(0, np.float32)
        self.last_day = np.zeros(0, np.int32)
        self.orders = np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self.keys)

    def _key(self, users, merchants):
        return users.astype(np.int64) * self.M + merchants.astype(np.int64)

    def lookup(self, users: np.ndarray, merchants: np.ndarray) -> np.ndarray:
        q = self._key(users, merchants)
        pos = np.searchsorted(self.keys, q)
        if len(self.keys) == 0:
            return np.full(len(q), -1, np.int64)
        pc = np.minimum(pos, len(self.keys) - 1)
        return np.where((pos < len(self.keys)) & (self.keys[pc] == q), pc, -1)

    def ensure(self, users: np.ndarray, merchants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each pair, adding the missing ones; and a mask of the pairs that were new."""
        new = self.lookup(users, merchants) < 0
        if new.any():
            q = np.unique(self._key(users[new], merchants[new]))
            pos = np.searchsorted(self.keys, q)
            self.keys = np.insert(self.keys, pos, q)
            self.trust = np.insert(self.trust, pos, np.float32(0))
            self.last_day = np.insert(self.last_day, pos, np.int32(_NEVER))
            self.orders = np.insert(self.orders, pos, np.int32(0))
        return self.lookup(users, merchants), new


class WeChatContacts:
    """Personal-WeChat friends of merchants: one row per (user, merchant)."""

    COLS = {"user": np.int64, "merchant": np.int64, "trust": np.float32, "annoy": np.float32,
            "joined": np.int32, "origin": np.int64}

    def __init__(self, n_merchants: int):
        self.M = max(n_merchants, 1)
        for name, dt in self.COLS.items():
            setattr(self, name, np.zeros(0, dt))

    def __len__(self) -> int:
        return len(self.user)

    def has(self, users: np.ndarray, merchants: np.ndarray) -> np.ndarray:
        have = np.sort(self.user * self.M + self.merchant)
        q = users.astype(np.int64) * self.M + merchants
        pos = np.minimum(np.searchsorted(have, q), max(len(have) - 1, 0))
        return (have[pos] == q) if len(have) else np.zeros(len(q), bool)

    def add(self, **cols) -> None:
        for name, dt in self.COLS.items():
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(cols[name], dt)]))

    def drop(self, mask: np.ndarray) -> None:
        keep = ~mask
        for name in self.COLS:
            setattr(self, name, getattr(self, name)[keep])

    def per_merchant(self) -> np.ndarray:
        return np.bincount(self.merchant, minlength=self.M)


def churn_share(joined: np.ndarray, left: np.ndarray, days: int, window: int) -> float:
    """Mean over the days t in [0, days − window) of the share of members at t (joined ≤ t
    < left) who have left by t + window; members still in have ``left`` beyond the run."""
    T = days - window
    if T <= 0:
        return float("nan")

    def per_day(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """How many episodes cover each day t in [0, T), episode k covering [lo_k, hi_k)."""
        lo, hi = np.clip(lo, 0, T), np.clip(hi, 0, T)
        ok = hi > lo
        return np.cumsum(np.bincount(lo[ok], minlength=T + 1) - np.bincount(hi[ok], minlength=T + 1))[:T]

    members = per_day(joined, left)
    leavers = per_day(np.maximum(joined, left - window), left)
    has = members > 0
    return float(np.mean(leavers[has] / members[has])) if has.any() else float("nan")


class Commerce:
    """Today's and the run's commerce on one model. The model calls, each day:
    :meth:`begin_day`, :meth:`sell_in_feed` per platform (after reactions),
    :meth:`private_channels` (after relationships), :meth:`end_day`."""

    def __init__(self, model):
        self.model = model
        sc = model.scenario
        self.cfg = cfg = sc.commerce
        cats = cfg.categories.ordered()
        self.price = np.array([c.price for c in cats])
        self.buy_offset = np.array([c.buy_offset for c in cats])
        self.repurchase = np.array([c.repurchase_days for c in cats])
        self.intimacy_gain = np.array([c.intimacy_gain for c in cats], dtype=np.float32)
        self.trust_gain = np.array([c.trust_gain for c in cats], dtype=np.float32)
        self.margin = np.array([c.margin for c in cats])
        pcs = list(sc.platforms.values())
        self.P = P = len(pcs)
        self.rates = np.array([pc.commission.rates() for pc in pcs])  # (P, categories)
        self.intro = np.array([pc.commission.intro for pc in pcs])
        self.intro_days = np.array([pc.commission.intro_days for pc in pcs])
        self.tip_cut = np.array([pc.tip_cut for pc in pcs])
        self.group_effect = np.array([pc.group_effect for pc in pcs])
        self.fan_trust = np.array([pc.fan_trust for pc in pcs])
        self.ban_per_diversion = np.array([pc.ban_per_diversion for pc in pcs])
        self.ban_per_excess_push = np.array([pc.ban_per_excess_push for pc in pcs])
        M, C = model.merchants.n, model.creators.n
        self.book = CustomerBook(M)
        self.wechat = WeChatContacts(M)
        fg = model.follows
        fg.add_column("group", np.bool_, False)
        fg.add_column("annoy", np.float32, 0.0)
        fg.add_column("joined", np.int32, 0)
        self.episodes: list[np.ndarray] = []  # closed group memberships: rows (platform, joined, left)
        # cumulative, per creator and per platform
        self.creator_gmv = np.zeros((C, 4))
        self.creator_sales_income = np.zeros(C)
        self.creator_tips = np.zeros(C)
        self.creator_purchases_by_tier = np.zeros((C, len(BUYER_TIERS)), np.int64)
        self.commission_revenue = np.zeros(P)
        self.tip_revenue = np.zeros(P)
        self.gmv_by_source = np.zeros((P, len(ORDER_SOURCES)))  # cumulative, by ORDER_SOURCES
        self.spend_by_day: list[np.ndarray] = []  # (days × P × M): ad spend, for CAC over time
        self.new_buyers_by_day: list[np.ndarray] = []  # (days × P × M): first-time buyers
        self.begin_day()

    # ------------------------------------------------------------------ day bookkeeping

    def begin_day(self) -> None:
        P, M = self.P, self.model.merchants.n
        self.today = {
            "gmv": np.zeros((P, 4)), "tips": np.zeros((P, 3)), "comments": np.zeros((P, 3)),
            "commission": np.zeros(P), "tip_revenue": np.zeros(P), "orders": np.zeros(P),
            "new_buyers": np.zeros(P), "bans": np.zeros(P), "ad_spend": np.zeros((P, M)),
            "new_by_merchant": np.zeros((P, M)),
        }
        self.orders_today: list[Orders] = []
        self._ban = np.zeros((P, M), dtype=bool)

    def end_day(self) -> None:
        self.spend_by_day.append(self.today["ad_spend"].copy())
        self.new_buyers_by_day.append(self.today["new_by_merchant"].copy())

    def today_orders(self) -> Orders:
        return Orders.concat(self.orders_today)

    @property
    def rng(self) -> np.random.Generator:
        return self.model.rng_commerce

    # ------------------------------------------------------------------ the purchase model

    def purchase_prob(self, users, merchants, match, intimacy, live=None, platform=None) -> np.ndarray:
        """P(buy) for each (user, merchant) opportunity, from the one purchase model.
        ``platform`` (scalar or per opportunity) sets the platform's ``fan_trust``; None
        (WeChat) counts relationships fully."""
        c = self.cfg
        lam = 1.0 if platform is None else self.fan_trust[platform]
        cat = self.model.merchants.category[merchants]
        row = self.book.lookup(users, merchants)
        trust = np.where(row >= 0, self.book.trust[np.maximum(row, 0)], 0.0) if len(self.book) else np.zeros(len(users))
        last = np.where(row >= 0, self.book.last_day[np.maximum(row, 0)], _NEVER) if len(self.book) else np.full(len(users), _NEVER)
        z = (c.intercept + self.buy_offset[cat] + c.w_match * match + lam * (c.w_intimacy * intimacy + c.w_trust * trust)
             - c.price_sensitivity * np.log(self.price[cat] / 40.0))
        if live is not None:
            z = z + np.log(c.live_multiplier) * live
        p = sigmoid(z)
        p[self.model.day - last < self.repurchase[cat]] = 0.0
        return p

    def _record(self, platform, merchant, seller, user, domain, source) -> Orders:
        """Book orders (one per buyer–merchant pair in the batch): the customer book, trust
        and intimacy, commission, creator cut, and every tally."""
        model, ms, fg = self.model, self.model.merchants, self.model.follows
        if len(user) == 0:
            return Orders.concat([])
        key = user.astype(np.int64) * max(ms.n, 1) + merchant
        _, first = np.unique(key, return_index=True)
        first.sort()
        platform, merchant, seller, user, domain, source = (np.asarray(a, np.int64)[first] for a in
                                                            (platform, merchant, seller, user, domain, source))
        cat = ms.category[merchant]
        price = self.price[cat]
        row, new = self.book.ensure(user, merchant)
        b = self.book
        b.trust[row] += self.trust_gain[cat] * (1.0 - b.trust[row])
        b.last_day[row] = model.day
        b.orders[row] += 1
        e = fg.lookup(user, seller)
        fan = e >= 0
        w = fg.intimacy[e[fan]]
        tier = np.zeros(len(user), np.int64)
        tier[fan] = 1 + sum((w >= t).astype(np.int64) for t in fg.thresholds)
        ef = e[fan]
        fg.intimacy[ef] += self.intimacy_gain[cat[fan]] * (1.0 - fg.intimacy[ef])
        on_platform = domain != PRIVATE_WECHAT
        age = ms.age0[merchant] + model.day
        rate = np.where(age < self.intro_days[platform], self.intro[platform], self.rates[platform, cat])
        rate = np.where(on_platform, rate, 0.0)
        commission = rate * price
        partner = seller != ms.account[merchant]
        creator_cut = np.where(partner, self.cfg.creator_share * price, 0.0)
        o = Orders(platform, merchant, seller, user, price, domain, source, new, tier, rate, commission, creator_cut)
        self.orders_today.append(o)
        self._tally(o, cat)
        return o

    def _tally(self, o: Orders, cat: np.ndarray) -> None:
        ms, t, P, M = self.model.merchants, self.today, self.P, self.model.merchants.n
        C = self.model.creators.n

        def by(idx, n, w=None):
            return np.bincount(idx, weights=w, minlength=n)

        ms.gmv += by(o.merchant * 4 + o.domain, M * 4, o.price).reshape(M, 4)
        ms.orders += by(o.merchant, M).astype(np.int64)
        ms.new_buyers += by(o.merchant[o.new_buyer], M).astype(np.int64)
        ms.commission_paid += by(o.merchant, M, o.commission)
        ms.creator_paid += by(o.merchant, M, o.creator_cut)
        ms.cost_of_goods += by(o.merchant, M, o.price * (1.0 - self.margin[cat]))
        self.creator_gmv += by(o.seller * 4 + o.domain, C * 4, o.price).reshape(C, 4)
        self.creator_sales_income += by(o.seller, C, o.creator_cut)
        self.creator_purchases_by_tier += by(o.seller * 5 + o.buyer_tier, C * 5).reshape(C, 5).astype(np.int64)
        t["gmv"] += by(o.platform * 4 + o.domain, P * 4, o.price).reshape(P, 4)
        t["commission"] += by(o.platform, P, o.commission)
        t["orders"] += by(o.platform, P)
        t["new_buyers"] += by(o.platform[o.new_buyer], P)
        t["new_by_merchant"] += by(o.platform[o.new_buyer] * M + o.merchant[o.new_buyer], P * M).reshape(P, M)
        self.commission_revenue += by(o.platform, P, o.commission)
        S = len(ORDER_SOURCES)
        self.gmv_by_source += by(o.platform * S + o.source, P * S, o.price).reshape(P, S)

    # ------------------------------------------------------------------ the feed

    def sell_in_feed(self, p: int, imp, r) -> None:
        """Tips on engaged live impressions; purchases on engaged product impressions;
        comments by domain."""
        items, cfg = self.model.items, self.cfg
        dom = imp.domain()
        self.today["comments"][p] += np.bincount(dom[r.comment], minlength=3)
        if not cfg.enabled:
            return
        eng = np.flatnonzero(r.engaged)
        it = imp.item[eng]
        live = items.live[it]
        merchant = items.merchant[it]
        # tips (live sessions)
        lv = np.flatnonzero(live)
        if len(lv):
            k = eng[lv]
            tip = self.rng.random(len(k)) < sigmoid(cfg.tip_intercept + self.fan_trust[p] * cfg.tip_w_intimacy * r.intimacy[k])
            k = k[tip]
            amount = cfg.tip_mean * np.exp(self.rng.normal(-0.5, 1.0, len(k)))
            creator = items.creator[imp.item[k]].astype(np.int64)
            self.creator_tips += np.bincount(creator, weights=amount * (1 - self.tip_cut[p]), minlength=self.model.creators.n)
            self.today["tips"][p] += np.bincount(dom[k], weights=amount, minlength=3)
            self.today["tip_revenue"][p] += amount.sum() * self.tip_cut[p]
            self.tip_revenue[p] += amount.sum() * self.tip_cut[p]
        # purchases (product links)
        pr = np.flatnonzero(merchant >= 0)
        if len(pr) == 0:
            return
        k = eng[pr]
        m = merchant[pr].astype(np.int64)
        u = imp.user[k].astype(np.int64)
        prob = self.purchase_prob(u, m, imp.match[k], r.intimacy[k], live[pr], p)
        buy = self.rng.random(len(k)) < prob
        k, m, u = k[buy], m[buy], u[buy]
        domain = np.minimum(dom[k], PRIVATE_PLATFORM).astype(np.int64)
        self._record(np.full(len(k), p), m, items.creator[imp.item[k]], u, domain, imp.source[k])

    # ------------------------------------------------------------------ private channels

    def private_channels(self) -> np.ndarray:
        """Homepage visits and DMs, fan groups, WeChat, diversion, bans (in this order).
        Returns the mask of follow edges to drop today (annoyed members who unfollow,
        followers of newly banned accounts); the model removes them with the day's drift."""
        fg = self.model.follows
        self.unfollow = np.zeros(fg.n_edges, dtype=bool)
        if not self.cfg.enabled or self.model.merchants.n == 0:
            return self.unfollow
        self._selling = self._selling_edges()
        self._visits()
        if self.cfg.groups.enabled:
            self._groups()
        self._wechat_pushes()
        self._divert()
        self._apply_bans()
        return self.unfollow

    def _selling_edges(self) -> np.ndarray:
        """Follow edges to accounts that sell and are not banned on their home platform."""
        model, fg, cr = self.model, self.model.follows, self.model.creators
        ok = cr.seller >= 0
        own = cr.merchant >= 0
        ok[own] &= ~model.merchants.banned[cr.home[own], cr.merchant[own]]
        return np.flatnonzero(ok[fg.creator])

    def _match(self, users, creators) -> np.ndarray:
        m = self.model
        return np.einsum("ij,ij->i", m.users.interest[users], m.creators.topic[creators])

    def _visits(self) -> None:
        """User-initiated: a fan visits the homepage or sends a DM with probability
        visit_rate × intimacy; the visit may convert; it never annoys."""
        fg, cr = self.model.follows, self.model.creators
        e = self._selling
        e = e[self.rng.random(len(e), dtype=np.float32) < self.cfg.visit_rate * fg.intimacy[e]]
        if len(e) == 0:
            return
        u, c = fg.src[e].astype(np.int64), fg.creator[e].astype(np.int64)
        m = cr.seller[c].astype(np.int64)
        prob = self.purchase_prob(u, m, self._match(u, c), fg.intimacy[e], platform=cr.home[c].astype(np.int64))
        buy = self.rng.random(len(e)) < prob
        u, c, m = u[buy], c[buy], m[buy]
        self._record(cr.home[c], m, c, u, np.full(len(u), PRIVATE_PLATFORM), np.full(len(u), VISIT))

    def _pushes(self, n_senders: int, pushes_per_day: float, value_share: float) -> tuple[np.ndarray, np.ndarray]:
        """Value and promotional pushes per sender today."""
        whole = int(pushes_per_day)
        n = whole + (self.rng.random(n_senders) < pushes_per_day - whole)
        value = self.rng.binomial(n, value_share)
        return value, n - value

    def _push_effects(self, intimacy, annoy, n_value, n_promo, effect):
        """Annoyance decays then grows with promotions; intimacy grows with value content
        (× effect) and is worn down by promotions (in place)."""
        g = self.cfg.groups
        annoy *= np.float32(1.0 - g.annoyance_decay)
        annoy += np.float32(g.promo_annoyance) * n_promo
        gain = (g.value_gain * effect * n_value).astype(np.float32)
        intimacy[:] = (1.0 - (1.0 - intimacy) * np.exp(-gain)) * np.float32(1.0 - g.promo_intimacy_cost) ** n_promo

    def _promo_sales(self, users, merchants, creators_for_match, intimacy, n_promo, effect, platform=None):
        """Members who buy after today's promotional pushes (``platform``: per member, None on WeChat)."""
        g = self.cfg.groups
        k = np.flatnonzero(n_promo > 0)
        if len(k) == 0:
            return k
        p1 = np.minimum(1.0, g.promo_conversion * effect[k] * self.purchase_prob(
            users[k], merchants[k], self._match(users[k], creators_for_match[k]), intimacy[k],
            platform=None if platform is None else platform[k]))
        p_any = 1.0 - (1.0 - p1) ** n_promo[k]
        return k[self.rng.random(len(k)) < p_any]

    def _groups(self) -> None:
        model, fg, cr, g = self.model, self.model.follows, self.model.creators, self.cfg.groups
        day = model.day
        group, annoy, joined = fg.extra["group"], fg.extra["annoy"], fg.extra["joined"]
        e = self._selling
        # joining: close enough fans, a few a day
        cand = e[~group[e] & (fg.intimacy[e] >= g.join_intimacy)]
        j = cand[self.rng.random(len(cand)) < g.join_rate]
        group[j], annoy[j], joined[j] = True, 0.0, day
        # pushes reach every member
        n_value, n_promo = self._pushes(cr.n, g.pushes_per_day, g.value_share)
        mem = np.flatnonzero(group)
        if len(mem) == 0:
            return
        c = fg.creator[mem].astype(np.int64)
        u = fg.src[mem].astype(np.int64)
        home = cr.home[c].astype(np.int64)
        effect = self.group_effect[home]
        w, a = fg.intimacy[mem], annoy[mem]
        self._push_effects(w, a, n_value[c], n_promo[c], effect)
        fg.intimacy[mem], annoy[mem] = w, a
        m = cr.seller[c].astype(np.int64)
        k = self._promo_sales(u, m, c, w, n_promo[c], effect, home)
        self._record(home[k], m[k], c[k], u[k], np.full(len(k), PRIVATE_PLATFORM), np.full(len(k), GROUP))
        # over-marketing: a merchant's own account pushing too many promotions risks a ban
        own = np.flatnonzero(cr.merchant >= 0)
        excess = np.maximum(0.0, n_promo[own] - g.overmarketing_pushes)
        hz = 1.0 - (1.0 - self.ban_per_excess_push[cr.home[own]]) ** excess
        hit = own[self.rng.random(len(own)) < hz]
        self._ban[cr.home[hit], cr.merchant[hit]] = True
        # annoyed members leave; the most annoyed also unfollow
        tol = model.users.tolerance[u]
        leave = a > tol
        self.leave_groups(mem[leave])
        self.unfollow[mem[a > g.unfollow_factor * tol]] = True

    def leave_groups(self, edges: np.ndarray) -> None:
        """Members on ``edges`` leave their groups (the membership is logged for churn)."""
        fg = self.model.follows
        group = fg.extra["group"]
        edges = edges[group[edges]]
        if len(edges) == 0:
            return
        home = self.model.creators.home[fg.creator[edges]].astype(np.int64)
        self.episodes.append(np.stack([home, fg.extra["joined"][edges].astype(np.int64),
                                       np.full(len(edges), self.model.day, np.int64)], axis=1))
        group[edges] = False

    def _wechat_pushes(self) -> None:
        wc, w = self.wechat, self.cfg.wechat
        if len(wc) == 0:
            return
        ms, model = self.model.merchants, self.model
        n_value, n_promo = self._pushes(ms.n, w.pushes_per_day, w.value_share)
        m = wc.merchant
        effect = np.full(len(wc), w.effect)
        trust, annoy = wc.trust.copy(), wc.annoy.copy()
        self._push_effects(trust, annoy, n_value[m], n_promo[m], effect)
        wc.trust, wc.annoy = trust, annoy
        acc = ms.account[m].astype(np.int64)
        k = self._promo_sales(wc.user, m, acc, trust, n_promo[m], effect)
        self._record(wc.origin[k], m[k], acc[k], wc.user[k], np.full(len(k), PRIVATE_WECHAT), np.full(len(k), WECHAT))
        wc.drop(annoy > model.users.tolerance[wc.user])

    def _divert(self) -> None:
        """Diverting merchants put a WeChat card in every on-platform parcel of the day;
        each card risks a ban; buyers add the merchant with probability accept_rate ×
        (0.5 + trust), within the friend cap and the daily add limit of the accounts."""
        ms, wc, w = self.model.merchants, self.wechat, self.cfg.wechat
        if not ms.diverts.any():
            return
        o = self.today_orders()
        sel = np.flatnonzero((o.domain != PRIVATE_WECHAT) & ms.diverts[o.merchant.astype(np.int64)]) if len(o) else np.zeros(0, np.int64)
        if len(sel) == 0:
            return
        u, m, p = o.user[sel].astype(np.int64), o.merchant[sel].astype(np.int64), o.platform[sel].astype(np.int64)
        cards = np.bincount(p * ms.n + m, minlength=self.P * ms.n).reshape(self.P, ms.n)
        hz = 1.0 - (1.0 - self.ban_per_diversion[:, None]) ** cards
        self._ban |= self.rng.random(hz.shape) < hz
        row = self.book.lookup(u, m)
        trust = self.book.trust[row]
        ok = (self.rng.random(len(u)) < w.accept_rate * (0.5 + trust)) & ~wc.has(u, m)
        u, m, p, trust = u[ok], m[ok], p[ok], trust[ok]
        accounts = ms.wechat_accounts.astype(np.int64)
        room = np.minimum(w.adds_per_day * accounts, w.friend_cap * accounts - wc.per_merchant()[: ms.n])
        order = np.lexsort((self.rng.random(len(m)), m))  # by merchant, first come in random order
        keep = np.zeros(len(m), dtype=bool)
        keep[order] = rank_within_sorted(m[order]) < room[m[order]]
        n = int(keep.sum())
        wc.add(user=u[keep], merchant=m[keep], trust=trust[keep], annoy=np.zeros(n), joined=np.full(n, self.model.day),
               origin=p[keep])

    def _apply_bans(self) -> None:
        """A banned account loses its reach on the platform that banned it (feeds skip
        it there) and, when that is its home platform, its followers (and so its groups;
        the follow graph is shared by the platforms); its WeChat contacts stay."""
        ms, model = self.model.merchants, self.model
        new = self._ban & ~ms.banned
        if not new.any():
            return
        ms.banned |= new
        ms.ban_day[new] = model.day
        self.today["bans"] += new.sum(axis=1)
        at_home = new[model.creators.home[ms.account].astype(np.int64), np.arange(ms.n)]
        if not at_home.any():
            return
        accounts = np.zeros(model.creators.n, dtype=bool)
        accounts[ms.account[at_home]] = True
        self.unfollow |= accounts[model.follows.creator]

    # ------------------------------------------------------------------ readings

    def readings(self, p: int) -> dict[str, float]:
        """Today's money and private-channel figures on platform ``p`` (flows), with the
        current group members and WeChat contacts (stocks)."""
        t = self.today
        out = {f"gmv_{d}": float(t["gmv"][p, j]) for j, d in enumerate(GMV_DOMAINS)}
        out.update({f"tips_{d}": float(t["tips"][p, j]) for j, d in enumerate(("public", "commercial", "private"))})
        out.update({f"comments_{d}": float(t["comments"][p, j]) for j, d in enumerate(("public", "commercial", "private"))})
        out.update(commission_revenue=float(t["commission"][p]), tip_revenue=float(t["tip_revenue"][p]),
                   orders=float(t["orders"][p]), new_buyers=float(t["new_buyers"][p]), bans=float(t["bans"][p]),
                   group_members=float(self.group_members()[p]), wechat_contacts=float(self.wechat_contacts()[p]))
        return out

    def group_members(self) -> np.ndarray:
        """Current members per platform (by the account's home platform)."""
        fg = self.model.follows
        mem = fg.extra["group"]
        return np.bincount(self.model.creators.home[fg.creator[mem]].astype(np.int64), minlength=self.P)

    def wechat_contacts(self) -> np.ndarray:
        """WeChat contacts per platform they were diverted from."""
        return np.bincount(self.wechat.origin, minlength=self.P)

    def group_churn(self, window: int = 30, platform: int | None = None) -> float:
        """Share of members at day t who have left by day t + window, averaged over the
        days t with t + window within the run (window shortened to half the run when the
        run is shorter than twice the window)."""
        model, fg = self.model, self.model.follows
        days = model.day  # days simulated so far (the model's day counter is the next day)
        if days < 2:
            return float("nan")
        window = min(window, max(1, days // 2))
        closed = np.concatenate(self.episodes) if self.episodes else np.zeros((0, 3), np.int64)
        mem = np.flatnonzero(fg.extra["group"])
        open_ = np.stack([self.model.creators.home[fg.creator[mem]].astype(np.int64),
                          fg.extra["joined"][mem].astype(np.int64), np.full(len(mem), 10**9)], axis=1)
        ep = np.concatenate([closed, open_])
        if platform is not None:
            ep = ep[ep[:, 0] == platform]
        return churn_share(ep[:, 1], ep[:, 2], days, window)

    def cac(self, first: bool, platform: int | None = None) -> float:
        """Ad spend / new buyers over the first (or last) 30 days (half the run when shorter)."""
        if not self.spend_by_day:
            return float("nan")
        spend = np.stack(self.spend_by_day)  # (days, P, M)
        new = np.stack(self.new_buyers_by_day)
        if platform is not None:
            spend, new = spend[:, platform], new[:, platform]
        w = min(30, max(1, len(spend) // 2))
        sl = slice(0, w) if first else slice(len(spend) - w, len(spend))
        n = new[sl].sum()
        return float(spend[sl].sum() / n) if n > 0 else float("nan")

    def merchants_frame(self):
        import pandas as pd

        from .state.vocabulary import TARGETING

        ms = self.model.merchants
        spend = ms.ad_spend.sum(axis=0)
        gmv = ms.gmv.sum(axis=1)
        profit = gmv - ms.cost_of_goods - ms.commission_paid - ms.creator_paid - spend
        cost = spend + ms.commission_paid + ms.creator_paid
        df = pd.DataFrame({
            "merchant": np.arange(ms.n), "account": ms.account,
            "category": np.array(CATEGORIES)[ms.category],
            "targeting": np.array(TARGETING)[ms.targeting],
            "diverts": ms.diverts,
            "strategy": [f"{t}{'+wechat' if d else ''}" for t, d in zip(np.array(TARGETING)[ms.targeting], ms.diverts)],
            "daily_budget": ms.daily_budget, "ad_spend": spend, "ad_impressions": ms.ad_impressions.sum(axis=0),
        })
        for d, name in enumerate(GMV_DOMAINS):
            df[f"gmv_{name}"] = ms.gmv[:, d]
        df["gmv_total"] = gmv
        df["orders"] = ms.orders
        df["new_buyers"] = ms.new_buyers
        df["cac"] = np.divide(spend, ms.new_buyers, out=np.full(ms.n, np.nan), where=ms.new_buyers > 0)
        df["commission_paid"] = ms.commission_paid
        df["creator_paid"] = ms.creator_paid
        df["profit"] = profit
        df["roi"] = np.divide(profit, cost, out=np.full(ms.n, np.nan), where=cost > 0)
        df["wechat_contacts"] = self.wechat.per_merchant()[: ms.n]
        for j, name in enumerate(self.model.platforms):
            df[f"banned_{name}"] = ms.banned[j]
        return df
