"""The purchase model, the customer book and placing orders.

Every purchase in every channel goes through one model (:meth:`PurchaseModel.probability`):

    z = intercept + buy_offset[category] + w_match·match + λ·(w_intimacy·intimacy + w_trust·trust)
        − price_sensitivity·ln(price / reference_price) + ln(live_multiplier)·live
    P(buy) = sigmoid(z)   (0 while the buyer is within the category's repurchase interval)

with λ the platform's ``fan_trust`` ("laotie" trust, 1 on WeChat) and trust the buyer's
trust in the merchant from past orders (the customer book).
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np

from ..feeds import numpy_kernels
from ..feeds.numpy_kernels import sorted_inserter
from ..feeds.numpy_kernels import splitmix64 as _splitmix64
from ..feeds.numpy_kernels import splitmix64_in_place
from ..state.arrays import buffer_room, regrow_buffers, sigmoid, unique_sorted
from ..state.graphs import fan_tier

NEVER = -(10**6)  # "last order" day of a buyer who never ordered


class CustomerBook:
    """Buyer–merchant relationships: (user, merchant) pairs kept sorted by key, with trust,
    the day of the last order and the order count.

    On large books (``numpy_kernels.compiled``) the pairs a day adds do not go to their
    places at once: they go to a sorted *tail* after the first ``n_main`` rows, in the
    columns' buffers with room, and :meth:`settle` merges the tail in, in place, at the
    end of the day's commerce (:meth:`simulator.commerce.Commerce.run_private_channels`).
    Issue #17: each of a day's ~6 batches of orders copied the four columns (20 bytes a
    pair; 9.1 M pairs at 1 M users by day 365). Between days the rows are in key order,
    as on small books; a row is a handle valid until the next :meth:`ensure` or
    :meth:`settle`."""

    COLUMNS = ("keys", "trust", "last_day", "orders")

    def __init__(self, n_merchants: int):
        self.n_merchants = max(n_merchants, 1)
        self.keys = np.zeros(0, np.int64)
        self.trust = np.zeros(0, np.float32)
        self.last_day = np.zeros(0, np.int32)
        self.orders = np.zeros(0, np.int32)
        self.n_main: int | None = None  # rows in key order before today's tail; None: no tail
        # large books: each column's buffer when the column is a view of its first entries
        self._buffers: dict[str, np.ndarray] = {}
        # large books: each user's first row before the tail and a bitmask of its merchants there
        # (kernels.find_in_book), made when first needed, moved along by settle (16 bytes a user); None: to be made
        self._index: np.ndarray | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        # (a pickle keeps the columns only; the room and the users' first rows are made again when needed)
        state["_buffers"], state["_index"] = {}, None
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_buffers", {})  # models saved before the tail
        state.setdefault("n_main", None)
        state.setdefault("_index", None)
        self.__dict__.update(state)

    def __len__(self) -> int:
        return len(self.keys)

    def key(self, users, merchants) -> np.ndarray:
        return users.astype(np.int64) * self.n_merchants + merchants.astype(np.int64)

    def lookup(self, users: np.ndarray, merchants: np.ndarray) -> np.ndarray:
        """Row of each (user, merchant) pair, -1 where the user never bought from the merchant."""
        n_main = len(self.keys) if self.n_main is None else self.n_main
        if not numpy_kernels.compiled(len(self.keys)):
            if not self._buffers:  # (no tail ever: the keys are never written in place)
                rows = _rows_by_table(self.keys, self.n_merchants, users, merchants)
                if rows is not None:
                    return rows
            return numpy_kernels.find_in_book(self.keys, n_main, None, self.n_merchants, users, merchants)
        find_in_book = numpy_kernels.compiled_kernels().find_in_book

        # (a binary search of a user's few rows, when its merchants' bits allow, not of the whole book,
        # and no keys made: issue #17, ~9 M pairs and ~4 M lookups a day at 1 M users late in a year)
        return find_in_book(self.keys, n_main, self._user_index(n_main), self.n_merchants, users, merchants)

    def trust_and_last(self, users: np.ndarray, merchants: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """On large books, each pair's trust (float32) and last order day (int32), 0 and
        ``NEVER`` where the user never bought from the merchant: the gathers at
        :meth:`lookup`'s rows in one compiled pass, without the rows (``kernels.book_trust_last``);
        None on small books (numba not imported)."""
        if not numpy_kernels.compiled(len(self.keys)):
            return None
        kernels = numpy_kernels.compiled_kernels()
        n_main = len(self.keys) if self.n_main is None else self.n_main
        return kernels.book_trust_last(self.keys, n_main, self._user_index(n_main), self.n_merchants, users, merchants,
                                       self.trust, self.last_day, NEVER)

    def _user_index(self, n_main: int) -> np.ndarray:
        """Each user's first row in ``keys[:n_main]`` and a bitmask of its merchants there
        (bit merchant % 64): int64, (users up to the last one there + 1) × 2."""
        if self._index is None:
            main = self.keys[:n_main]
            users = main // self.n_merchants
            n_users = int(users[-1]) + 1 if n_main else 0
            index = np.zeros((n_users + 1, 2), np.int64)
            index[1:, 0] = np.cumsum(np.bincount(users, minlength=n_users))
            if n_main:  # (the rows are in user order: one reduction a user with rows, not np.bitwise_or.at)
                first = index[np.flatnonzero(index[1:, 0] > index[:-1, 0]), 0]
                bits = np.left_shift(np.int64(1), main % self.n_merchants % 64)
                index[users[first], 1] = np.bitwise_or.reduceat(bits, first)
            self._index = index
        return self._index

    def ensure(self, users: np.ndarray, merchants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row of each pair, adding the missing ones; and a mask of the pairs that were new."""
        row = self.lookup(users, merchants)
        new = row < 0
        if not new.any():
            return row, new
        key = self.key(users, merchants)
        q = unique_sorted(key[new])
        if self.n_main is None and not numpy_kernels.compiled(len(self.keys)):
            # np.insert at these places, found once for the four columns
            into = sorted_inserter(len(self.keys), np.searchsorted(self.keys, q))
            self.keys = into(self.keys, q)
            self.trust = into(self.trust, np.zeros(len(q), np.float32))
            self.last_day = into(self.last_day, np.full(len(q), NEVER, np.int32))
            self.orders = into(self.orders, np.zeros(len(q), np.int32))
            self._index = None
            # every pair is in the book now: its row is its key's place (one search, not a second lookup)
            return np.searchsorted(self.keys, key), new
        self._add_to_tail(q, key, row)
        return row, new

    def _add_to_tail(self, q: np.ndarray, key: np.ndarray, row: np.ndarray) -> None:
        """The new keys ``q`` (ascending, in no row) into today's tail, in its key order;
        then the rows ``row`` of the queries ``key`` that were new (-1) or in the tail
        are set to their rows in the merged tail (the rows before it did not move). In
        the buffers, by ``kernels.merge_into_tail`` (compiled: one pass, not ~30 numpy
        calls a batch; its numpy form: ``np.insert``'s places found once for the four
        columns, then a search)."""
        n, k = len(self.keys), len(q)
        if self.n_main is None:
            self.n_main = n
        if self._room() < k:
            self._regrow(max(4 * k, n // 64))
        merge_into_tail = numpy_kernels.kernel("merge_into_tail", numpy_kernels.compiled(n))
        b = self._buffers
        merge_into_tail(b["keys"], b["trust"], b["last_day"], b["orders"], self.n_main, n, q, NEVER, key, row)
        for name in self.COLUMNS:
            setattr(self, name, b[name][:n + k])

    def settle(self) -> None:
        """Merge today's tail into its places (in place, in the buffers): every row in key
        order again, the columns as inserting each batch at its places would have left them."""
        n_main, n = self.n_main, len(self.keys)
        self.n_main = None
        if n_main is None or n_main == n:
            return
        insert_in_place = numpy_kernels.compiled_kernels().insert_in_place  # (a tail exists on large books only)

        if any(getattr(self, name).base is not self._buffers.get(name) for name in self.COLUMNS):
            self._regrow(0)  # (a model saved with a tail: its columns come back as plain arrays)
        pos = np.searchsorted(self.keys[:n_main], self.keys[n_main:])
        if self._index is not None:  # each user's first row moves up by the tail's rows of the users before it
            tail = self.keys[n_main:]
            users = tail // self.n_merchants
            old = self._index
            n_users = max(len(old) - 1, int(users[-1]) + 1)
            index = np.zeros((n_users + 1, 2), np.int64)
            index[:len(old)] = old
            index[len(old):, 0] = old[-1, 0]
            index[1:, 0] += np.cumsum(np.bincount(users, minlength=n_users))
            np.bitwise_or.at(index[:, 1], users, np.left_shift(np.int64(1), tail % self.n_merchants % 64))
            self._index = index
        for name in self.COLUMNS:
            buf = self._buffers[name]
            insert_in_place(buf, n_main, pos, buf[n_main:n].copy())

    def _room(self) -> int:
        """How many pairs the tail can take in place, in every column."""
        return buffer_room(self, self.COLUMNS, self._buffers, len(self.keys))

    def _regrow(self, room: int) -> None:
        regrow_buffers(self, self.COLUMNS, self._buffers, len(self.keys), room)

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
        cat = self.merchants.category.take(merchants)  # (take: fancy indexing's values, quicker)
        found = book.trust_and_last(users, merchants)  # large books: one compiled pass (the same arrays)
        if found is not None:
            trust, last = found
        elif len(book):
            row = book.lookup(users, merchants)
            # (take: a row of -1 reads the last entry, which the where drops; no np.maximum pass)
            has = row >= 0
            trust = np.where(has, book.trust.take(row), 0.0)
            last = np.where(has, book.last_day.take(row), NEVER)
        else:
            trust, last = np.zeros(len(users)), np.full(len(users), NEVER)
        # the per-category terms computed per category, then gathered: the same elementwise
        # operations (a scalar and a category's value) as on the gathered values
        z = ((c.intercept + self.buy_offset).take(cat) + c.w_match * match
             + lam * (c.w_intimacy * intimacy + c.w_trust * trust)
             - c.price_sensitivity * np.log((self.price / c.reference_price).take(cat)))
        if live is not None:
            z = z + np.log(c.live_multiplier) * live
        if offset is not None:
            z = z + offset
        p = sigmoid(z)
        p[day - last < self.repurchase.take(cat)] = 0.0
        return p


def row_hash(salt: int, *columns) -> np.ndarray:
    """A pseudo-random uint64 per row, hashed from (salt, the row's values in ``columns``):
    a row gets the same value wherever it stands in its batch."""
    n = len(columns[0])
    # the salt's hash is every row's: hashed once (the same value as hashing each row's copy)
    h = np.full(n, _salt_hash(salt % 2**64))
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
    # the first candidate of each pair in key order; the hash orders a pair's candidates, so
    # it is computed only for a batch where some pair has several (most batches have none:
    # a visit's or a group's few orders; its ~100 numpy calls were most of a small batch's
    # cost). With every key distinct, the order by key is lexsort's by (key, hash).
    order = np.argsort(key, kind="stable")
    ko = key.take(order)
    first_of_key = np.empty(len(ko), dtype=bool)
    first_of_key[0] = True
    np.not_equal(ko[1:], ko[:-1], out=first_of_key[1:])
    if not first_of_key.all():
        # only the candidates of pairs with several are hashed and ordered by (key, hash): a
        # row's hash is its own (row_hash), and lexsort of the whole batch by (key, hash) and
        # then the row would move only these rows, among the places their pairs hold in key
        # order (issue #17: the hash and the sort of every candidate, ~8 ms a step at 200 k users)
        group = np.cumsum(first_of_key) - 1
        several = (np.bincount(group) > 1)[group]  # (in key order)
        rows = order[several]  # (a pair's candidates in batch order: argsort was stable)
        tie = row_hash(_day_salt(model), *(c[rows] for c in columns),
                       *(() if item is None else (np.asarray(item, np.int64)[rows],)))
        order[several] = rows[np.lexsort((tie, ko[several]))]
    first = order[first_of_key]
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


@lru_cache(maxsize=64)
def _salt_hash(salt: int) -> np.uint64:
    """splitmix64 of ``salt`` (in [0, 2**64)), the first step of every row's :func:`row_hash`."""
    return _splitmix64(np.array([salt], dtype=np.uint64))[0]


@lru_cache(maxsize=16)
def _salt_of(seed: int, day: int) -> int:
    """:func:`_day_salt` of (seed, day), hashed once (a day places orders three times or more)."""
    return int(row_hash(seed, np.array([day]))[0])


# ---------------------------------------------------------------- SLOTS (issue #17, fourteenth pass)

# the largest span of keys _rows_by_table keeps a table for (int32: 16 MiB)
BOOK_TABLE_LIMIT = 1 << 22
# the queries from which _rows_by_table fills its table for a new keys array (below: a search)
BOOK_TABLE_FROM = 4096
# per thread: the keys array the table was last filled from, and the table
_BOOK_TABLE = threading.local()


def _rows_by_table(keys: np.ndarray, n_merchants: int, users: np.ndarray, merchants: np.ndarray) -> np.ndarray | None:
    """:meth:`CustomerBook.lookup` on a small book whose keys are never written in place
    (no tail), by a table instead of a search of the keys: each key's row is written at
    the key, and a query reads the row at its key and keeps it where the key at that row
    is the query (the keys are distinct: then it is the query's row, whatever else the
    table holds), else -1. The table is kept per thread and never cleared (what other keys
    left in it is never read as a row); it is filled for a new keys array (a small book's
    inserts make one) by one scatter of the book, on a call of at least
    ``BOOK_TABLE_FROM`` queries whose keys span at most ``BOOK_TABLE_LIMIT``, and read by
    every call while the book keeps that array. A 10,000-user day's feed sales ask
    ~20,000 pairs of a ~7,000-pair book: ~0.5 ms searched, ~0.2 ms by the table with its
    fill. None: not used (the search)."""
    if len(keys) == 0:
        return None
    held = getattr(_BOOK_TABLE, "held", None)
    if held is None or held[0] is not keys:
        span = int(keys[-1]) + 1
        if span > BOOK_TABLE_LIMIT or len(users) < BOOK_TABLE_FROM:
            return None
        table = held[1] if held is not None and len(held[1]) >= span else np.zeros(max(span, 1 << 16), np.int32)
        table[keys] = np.arange(len(keys), dtype=np.int32)
        _BOOK_TABLE.held = held = (keys, table)
    table = held[1]
    q = users.astype(np.int64) * n_merchants
    q += merchants
    # (clip: a key past the table reads its last entry, a row read past the book its last
    # key: neither is taken unless the key there is the query)
    row = table.take(q, mode="clip").astype(np.int64)
    return np.where(keys.take(row, mode="clip") == q, row, -1)
