"""The purchase model, the customer book and placing orders.

Every purchase in every channel goes through one model (:meth:`PurchaseModel.probability`):

    z = intercept + buy_offset[category] + w_match·match + λ·(w_intimacy·intimacy + w_trust·trust)
        − price_sensitivity·ln(price / reference_price) + ln(live_multiplier)·live
    P(buy) = sigmoid(z)   (0 while the buyer is within the category's repurchase interval)

with λ the platform's ``fan_trust`` ("laotie" trust, 1 on WeChat) and trust the buyer's
trust in the merchant from past orders (the customer book).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..feeds.numpy_kernels import sorted_inserter
from ..feeds.numpy_kernels import splitmix64 as _splitmix64
from ..feeds.numpy_kernels import splitmix64_in_place
from ..state.arrays import find_sorted, sigmoid, unique_sorted
from ..state.graphs import fan_tier

NEVER = -(10**6)  # "last order" day of a buyer who never ordered


class CustomerBook:
    """Buyer–merchant relationships: (user, merchant) pairs kept sorted by key, with trust,
    the day of the last order and the order count."""

    def __init__(self, n_merchants: int):
        self.n_merchants = max(n_merchants, 1)
        self.keys = np.zeros(0, np.int64)
        self.trust = np.zeros(0, np.float32)
        self.last_day = np.zeros(0, np.int32)
        self.orders = np.zeros(0, np.int32)

    def __len__(self) -> int:
        return len(self.keys)

    def key(self, users, merchants) -> np.ndarray:
        return users.astype(np.int64) * self.n_merchants + merchants.astype(np.int64)

    def lookup(self, users: np.ndarray, merchants: np.ndarray) -> np.ndarray:
        """Row of each (user, merchant) pair, -1 where the user never bought from the merchant."""
        return find_sorted(self.keys, self.key(users, merchants))

    def ensure(self, users: np.ndarray, merchants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each pair, adding the missing ones; and a mask of the pairs that were new."""
        new = self.lookup(users, merchants) < 0
        if new.any():
            q = unique_sorted(self.key(users[new], merchants[new]))
            # np.insert at these places, found once for the four columns
            into = sorted_inserter(len(self.keys), np.searchsorted(self.keys, q))
            self.keys = into(self.keys, q)
            self.trust = into(self.trust, np.zeros(len(q), np.float32))
            self.last_day = into(self.last_day, np.full(len(q), NEVER, np.int32))
            self.orders = into(self.orders, np.zeros(len(q), np.int32))
        return self.lookup(users, merchants), new

    def record(self, rows: np.ndarray, trust_gain: np.ndarray, day: int) -> None:
        """An order on each of ``rows``: trust grows toward 1, last order today."""
        self.trust[rows] += trust_gain * (1.0 - self.trust[rows])
        self.last_day[rows] = day
        self.orders[rows] += 1


class PurchaseModel:
    def __init__(self, scenario, merchants, book: CustomerBook):
        self.cfg = cfg = scenario.commerce
        self.merchants, self.book = merchants, book
        cats = cfg.categories.ordered()
        self.price = np.array([c.price for c in cats])
        self.buy_offset = np.array([c.buy_offset for c in cats])
        self.repurchase = np.array([c.repurchase_days for c in cats])
        self.intimacy_gain = np.array([c.intimacy_gain for c in cats], dtype=np.float32)
        self.trust_gain = np.array([c.trust_gain for c in cats], dtype=np.float32)
        self.fan_trust = np.array([pc.fan_trust for pc in scenario.platforms.values()])

    def probability(self, day: int, users, merchants, match, intimacy, live=None, platform=None, offset=None) -> np.ndarray:
        """P(buy) for each (user, merchant) opportunity. ``platform`` (scalar or per
        opportunity) sets the platform's ``fan_trust``; None (WeChat) counts relationships fully.
        ``offset`` (scalar or per opportunity) is added to the logit (a shelf platform's
        conversion bonus and price fit, :mod:`.shelf`)."""
        c, book = self.cfg, self.book
        lam = 1.0 if platform is None else self.fan_trust[platform]
        cat = self.merchants.category[merchants]
        row = book.lookup(users, merchants)
        if len(book):
            trust = np.where(row >= 0, book.trust[np.maximum(row, 0)], 0.0)
            last = np.where(row >= 0, book.last_day[np.maximum(row, 0)], NEVER)
        else:
            trust, last = np.zeros(len(users)), np.full(len(users), NEVER)
        z = (c.intercept + self.buy_offset[cat] + c.w_match * match + lam * (c.w_intimacy * intimacy + c.w_trust * trust)
             - c.price_sensitivity * np.log(self.price[cat] / c.reference_price))
        if live is not None:
            z = z + np.log(c.live_multiplier) * live
        if offset is not None:
            z = z + offset
        p = sigmoid(z)
        p[day - last < self.repurchase[cat]] = 0.0
        return p


def row_hash(salt: int, *columns) -> np.ndarray:
    """A pseudo-random uint64 per row, hashed from (salt, the row's values in ``columns``):
    a row gets the same value wherever it stands in its batch."""
    n = len(columns[0])
    # the salt's hash is every row's: hashed once (the same value as hashing each row's copy)
    h = np.full(n, _splitmix64(np.array([salt % 2**64], dtype=np.uint64))[0])
    t = np.empty(n, dtype=np.uint64)
    for c in columns:
        h ^= np.asarray(c).astype(np.int64, copy=False).view(np.uint64)
        splitmix64_in_place(h, t)
    return h


def place_orders(model, *, platform, merchant, seller, user, domain, source, item=None, targeting=None):
    """Place orders, one per (user, merchant) pair in the batch: the customer book
    (trust, last order, count), the buyer's intimacy with the seller grows by the
    category's ``intimacy_gain``, and the ledger books the money.

    When a pair converts more than once in the batch (two feed impressions, two slot
    sources, visits to the merchant's account and a partner's), the order goes to one of
    its candidates drawn uniformly, by the smallest hash of (run seed, day, the
    candidate's platform, seller, domain, source and ``item``): the choice does not
    depend on where a candidate stands in the batch (e.g. the order in which the feed
    concatenates its slot sources). Orders are booked in (user, merchant) order.
    ``targeting``: the targeting of the ad slot a candidate came from (-1 otherwise, the
    default), carried to the order for the channel attribution of merchants who learn
    (:mod:`.learning`); it does not enter the hash."""
    merchants, follows, purchase = model.merchants, model.follows, model.commerce.purchase
    if len(user) == 0:
        return None
    columns = [np.asarray(a, np.int64) for a in (platform, merchant, seller, user, domain, source)]
    platform, merchant, seller, user, domain, source = columns
    key = user * max(merchants.n, 1) + merchant
    tie = row_hash(_day_salt(model), *columns, *(() if item is None else (np.asarray(item, np.int64),)))
    order = np.lexsort((tie, key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    platform, merchant, seller, user, domain, source = (a[first] for a in columns)
    targeting = np.full(len(first), -1, np.int64) if targeting is None else np.asarray(targeting, np.int64)[first]
    category = merchants.category[merchant]
    row, new = model.commerce.book.ensure(user, merchant)
    model.commerce.book.record(row, purchase.trust_gain[category], model.day)
    edge = follows.lookup(user, seller)
    fan = edge >= 0
    tier = np.zeros(len(user), np.int64)
    tier[fan] = 1 + fan_tier(follows.intimacy[edge[fan]], follows.thresholds).astype(np.int64)
    fan_edge = edge[fan]
    follows.intimacy[fan_edge] += purchase.intimacy_gain[category[fan]] * (1.0 - follows.intimacy[fan_edge])
    return model.ledger.book_orders(platform=platform, merchant=merchant, seller=seller, user=user, domain=domain,
                                    source=source, new_buyer=new, buyer_tier=tier, day=model.day, targeting=targeting)


def _day_salt(model) -> int:
    """The attribution hash's salt: the run's seed and today."""
    return _salt_of(int(model.scenario.seed), int(model.day))


@lru_cache(maxsize=16)
def _salt_of(seed: int, day: int) -> int:
    """:func:`_day_salt` of (seed, day), hashed once (a day places orders three times or more)."""
    return int(row_hash(seed, np.array([day]))[0])
