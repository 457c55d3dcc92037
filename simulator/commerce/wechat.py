"""WeChat (私域 off the platform): diversion (导流) and selling to personal-WeChat friends.

A diverting merchant puts a WeChat card in every on-platform parcel of the day (a merchant
who learns its channel mix, :mod:`.learning`, in each with probability min(1, its cards
today / its buyers today)); each
card risks a ban on the platform that sold the order (:mod:`simulator.platform.moderation`);
the buyer adds the merchant with probability ``accept_rate × (accept_base + trust)``,
within the friend cap and the daily add limit of the merchant's WeChat accounts (adds
rationed in random order). Contacts survive unfollows and bans ("traffic insurance").
The merchant pushes to its contacts (:mod:`.pushes`, effect ``wechat.effect``); the
relationship a push works on is the buyer's trust in the merchant, the one value the
customer book keeps per (user, merchant) (value pushes raise it, promotions wear it down;
the purchase model, on the platforms too, and the next diversion read it); promotions
sell with 0% commission (GMV domain private_wechat), the purchase model counting that
trust once (as trust; no intimacy on WeChat); contacts whose annoyance exceeds their
tolerance delete the merchant.
"""

from __future__ import annotations

import numpy as np

from ..state.arrays import find_sorted, rank_within_sorted
from .ledger import PRIVATE_WECHAT, WECHAT
from .purchase import place_orders
from .pushes import apply_push_effects, draw_pushes, promo_buyers


class WeChatContacts:
    """Personal-WeChat friends of merchants: one row per (user, merchant). The contact's
    trust in the merchant is not here: it is the customer book's (every contact was a
    buyer, so the book has a row for each)."""

    COLUMNS = {"user": np.int64, "merchant": np.int64, "annoy": np.float32, "joined": np.int32, "origin": np.int64}

    def __init__(self, n_merchants: int):
        self.n_merchants = max(n_merchants, 1)
        for name, dtype in self.COLUMNS.items():
            setattr(self, name, np.zeros(0, dtype))

    def __len__(self) -> int:
        return len(self.user)

    def has(self, users: np.ndarray, merchants: np.ndarray) -> np.ndarray:
        have = np.sort(self.user * self.n_merchants + self.merchant)
        return find_sorted(have, users.astype(np.int64) * self.n_merchants + merchants) >= 0

    def add(self, **columns) -> None:
        for name, dtype in self.COLUMNS.items():
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(columns[name], dtype)]))

    def drop(self, mask: np.ndarray) -> None:
        keep = ~mask
        for name in self.COLUMNS:
            setattr(self, name, getattr(self, name)[keep])

    def per_merchant(self) -> np.ndarray:
        return np.bincount(self.merchant, minlength=self.n_merchants)

    def per_platform(self, n_platforms: int) -> np.ndarray:
        """Contacts per platform they were diverted from."""
        return np.bincount(self.origin, minlength=n_platforms)


def push_to_contacts(model) -> None:
    contacts, cfg = model.commerce.wechat, model.scenario.commerce
    if len(contacts) == 0:
        return
    merchants = model.merchants
    n_value, n_promo = draw_pushes(model.streams.commerce, merchants.active, cfg.wechat.pushes_per_day,
                                   cfg.wechat.value_share)
    m = contacts.merchant
    effect = np.full(len(contacts), cfg.wechat.effect)
    book = model.commerce.book
    row = book.lookup(contacts.user, m)
    if (row < 0).any():
        raise RuntimeError("a WeChat contact without a customer-book row (contacts are added from orders)")
    trust, annoy = book.trust[row], contacts.annoy.copy()
    apply_push_effects(cfg.groups, trust, annoy, n_value[m], n_promo[m], effect)
    book.trust[row], contacts.annoy = trust, annoy
    account = merchants.account[m].astype(np.int64)
    no_intimacy = np.zeros(len(contacts), np.float32)  # the relationship is the book's trust, counted once
    k = promo_buyers(model, contacts.user, m, account, no_intimacy, n_promo[m], effect)
    place_orders(model, platform=contacts.origin[k], merchant=m[k], seller=account[k], user=contacts.user[k],
                 domain=np.full(len(k), PRIVATE_WECHAT), source=np.full(len(k), WECHAT))
    contacts.drop(annoy > model.users.tolerance[contacts.user])


def divert_buyers(model) -> None:
    merchants, contacts, cfg = model.merchants, model.commerce.wechat, model.scenario.commerce.wechat
    rng, learner = model.streams.commerce, model.commerce.learning
    if learner is None and not merchants.diverts.any():
        return
    orders = model.ledger.today_orders()
    if len(orders) == 0:
        return
    if learner is None:
        sel = np.flatnonzero((orders.domain != PRIVATE_WECHAT) & merchants.diverts[orders.merchant.astype(np.int64)])
    else:  # each buyer gets one of the merchant's cards with probability min(1, cards / buyers)
        sel = np.flatnonzero(orders.domain != PRIVATE_WECHAT)
        m = orders.merchant[sel].astype(np.int64)
        q = learner.card_probability(np.bincount(m, minlength=merchants.n))
        sel = sel[model.streams.learning.random(len(sel)) < q[m]]
        learner.book_cards(np.bincount(orders.merchant[sel].astype(np.int64), minlength=merchants.n))
    if len(sel) == 0:
        return
    user, m = orders.user[sel].astype(np.int64), orders.merchant[sel].astype(np.int64)
    platform = orders.platform[sel].astype(np.int64)
    n_platforms = len(model.platforms)
    cards = np.bincount(platform * merchants.n + m, minlength=n_platforms * merchants.n).reshape(n_platforms, merchants.n)
    model.moderation.risk_diversion(cards, rng)
    trust = model.commerce.book.trust[model.commerce.book.lookup(user, m)]
    ok = (rng.random(len(user)) < cfg.accept_rate * (cfg.accept_base + trust)) & ~contacts.has(user, m)
    user, m, platform = user[ok], m[ok], platform[ok]
    accounts = merchants.wechat_accounts.astype(np.int64)
    room = np.minimum(cfg.adds_per_day * accounts, cfg.friend_cap * accounts - contacts.per_merchant()[: merchants.n])
    order = np.lexsort((rng.random(len(m)), m))  # by merchant, first come in random order
    keep = np.zeros(len(m), dtype=bool)
    keep[order] = rank_within_sorted(m[order]) < room[m[order]]
    n = int(keep.sum())
    contacts.add(user=user[keep], merchant=m[keep], annoy=np.zeros(n),
                 joined=np.full(n, model.day), origin=platform[keep])
