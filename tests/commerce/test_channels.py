"""Who the private channels reach, how an order is attributed when a pair converts more
than once, and the repurchase interval across channels."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from simulator.commerce.ledger import GROUP, PRIVATE_PLATFORM, PUBLIC_G, VISIT
from simulator.commerce.purchase import place_orders
from simulator.config.loading import deep_merge
from simulator.state.vocabulary import FOLLOW, RECOMMEND, SAME_CITY

from ..commerce.worlds import groups, model

TWO_PLATFORMS = {"a": {"policy": "douyin", "adoption": 0.5, "group_effect": 1.0},
                 "b": {"policy": "kuaishou", "adoption": 0.5, "group_effect": 1.0}}


def test_private_channels_reach_only_users_of_the_accounts_home_platform():
    """Fan groups and homepage visits / DMs run on the account's home platform. Two
    platforms each used by half the users share one follow graph: no group member, visit
    buyer or group buyer may be a non-user of the account's home platform (guards the
    ``uses`` filter of ``Commerce.selling_edges``; without it about half of them are)."""
    m = model("scenarios/base.toml", steps=8, platforms=TWO_PLATFORMS,
              **deep_merge(groups(2.0, 0.5, join_rate=0.5, join_intimacy=0.0), {"commerce": {"visit_rate": 0.5}}))
    uses, home, fg = m.users.uses, m.creators.home, m.follows
    channel_orders = members_seen = 0
    for _ in range(m.scenario.steps):
        m.step()
        mem = m.commerce.groups.member_edges()
        assert uses[fg.src[mem], home[fg.creator[mem]]].all()
        members_seen += len(mem)
        o = m.ledger.today_orders()
        ch = np.flatnonzero((o.source == GROUP) | (o.source == VISIT))
        assert (o.platform[ch] == home[o.seller[ch]]).all()
        assert uses[o.user[ch], o.platform[ch]].all()
        channel_orders += len(ch)
    assert members_seen > 100 and channel_orders > 20
    assert (~uses).any(axis=0).all()  # each platform has non-users who follow accounts


def _pairs_with_two_sources(m, n_users: int, sources=(FOLLOW, RECOMMEND)):
    """A batch in which each of ``n_users`` users converts twice with merchant 0, once per
    source, listed in ``sources`` order (as the feed concatenates its slot sources)."""
    account = int(m.merchants.account[0])
    user = np.repeat(np.arange(n_users), len(sources))
    source = np.tile(np.array(sources), n_users)
    item = np.tile(np.arange(len(sources)), n_users)
    n = len(user)
    return dict(platform=np.zeros(n, np.int64), merchant=np.zeros(n, np.int64), seller=np.full(n, account),
                user=user, domain=np.full(n, PUBLIC_G), source=source, item=item)


def test_order_attribution_does_not_depend_on_the_batch_order():
    """When a user converts with one merchant through two slot sources, the order goes to
    one of them chosen by a hash, not by position: the same purchases in reverse or
    shuffled order are attributed to the same sources, and with two equally likely
    sources each wins about half the pairs (guards the hash tie-break of ``place_orders``;
    "the first one" gives every pair to the source listed first)."""
    n_users = 3000
    out = []
    for perm in ("as is", "reversed", "shuffled"):
        m = model(steps=2)
        batch = _pairs_with_two_sources(m, n_users)
        idx = np.arange(len(batch["user"]))
        if perm == "reversed":
            idx = idx[::-1]
        elif perm == "shuffled":
            idx = np.random.default_rng(0).permutation(idx)
        o = place_orders(m, **{k: v[idx] for k, v in batch.items()})
        assert len(o) == n_users and len(np.unique(o.user)) == n_users
        out.append(o.source[np.argsort(o.user)])
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[0], out[2])
    follow_share = float(np.mean(out[0] == FOLLOW))
    assert abs(follow_share - 0.5) < 0.04  # sd ~0.009
    # three sources: about a third each
    m = model(steps=2)
    o = place_orders(m, **_pairs_with_two_sources(m, n_users, (FOLLOW, SAME_CITY, RECOMMEND)))
    shares = np.bincount(o.source, minlength=5)[[FOLLOW, SAME_CITY, RECOMMEND]] / n_users
    assert np.all(np.abs(shares - 1 / 3) < 0.04)


def test_attribution_differs_between_days_and_seeds():
    """The tie-break hash is salted with the run's seed and the day: the same batch on
    another day (or in another run) is attributed independently (a fixed hash would give
    every pair the same source forever)."""
    def sources(seed, days):
        m = model(steps=days, seed=seed)
        m.run(days)
        o = place_orders(m, **_pairs_with_two_sources(m, 2000))
        return o.source[np.argsort(o.user)]

    base = sources(1, 1)
    for other in (sources(1, 2), sources(2, 1)):
        agree = float(np.mean(base == other))
        assert 0.4 < agree < 0.6


def test_a_buyer_orders_once_per_repurchase_interval_across_channels_and_platforms():
    """Every channel (both platforms' feeds, visits and DMs, fan groups, WeChat) asks the
    one purchase model, which is 0 within the category's repurchase interval, and the
    day's channels run one after another: a (user, merchant) pair never has two orders
    closer than ``repurchase_days``, however many channels reach the buyer the same day
    (guards the repurchase rule of ``PurchaseModel.probability`` across channels)."""
    days = 3  # fmcg only; repurchase shortened so that repeat orders exist at all
    commerce = {"visit_rate": 0.5, "intercept": -1.0, "categories": {"fmcg": {"repurchase_days": days}},
                "wechat": {"accept_rate": 1.0, "pushes_per_day": 2.0, "value_share": 0.0}}
    m = model("scenarios/base.toml", steps=14,
              platforms={"a": {"policy": "douyin", "group_effect": 1.0, "fan_trust": 2.0},
                         "b": {"policy": "kuaishou", "group_effect": 1.0, "fan_trust": 2.0}},
              merchants={"diversion_share": 1.0, "category_mix": [1, 0, 0, 0]},
              **deep_merge(groups(2.0, 0.3, join_rate=0.5, join_intimacy=0.0), {"commerce": commerce}))
    seen = []
    for _ in range(m.scenario.steps):
        m.step()
        o = m.ledger.today_orders()
        seen.append(np.stack([o.user, o.merchant, np.full(len(o), m.day - 1), o.source], axis=1))
    rows = np.concatenate(seen)
    assert len(np.unique(rows[:, 3])) >= 5  # feed sources, group, visit and WeChat all sold
    key = rows[:, 0] * m.merchants.n + rows[:, 1]
    order = np.lexsort((rows[:, 2], key))
    key, day = key[order], rows[order, 2]
    same = key[1:] == key[:-1]
    gaps = (day[1:] - day[:-1])[same]
    assert len(gaps) > 50  # repeat buyers exist ...
    assert gaps.min() >= days  # ... and none within the interval, on the same day included
    # and so diversion never adds a pair twice; the relationship states stay in range
    contacts, book, fg = m.commerce.wechat, m.commerce.book, m.follows
    assert len(contacts) > 50
    assert len(np.unique(contacts.user * m.merchants.n + contacts.merchant)) == len(contacts)
    assert (book.trust >= 0).all() and (book.trust <= 1).all() and book.trust.max() > 0.1
    assert (fg.intimacy >= 0).all() and (fg.intimacy <= 1).all()
    assert (m.commerce.groups.table["annoy"] >= 0).all() and (contacts.annoy >= 0).all()


def test_a_pair_converting_on_two_platforms_is_attributed_by_the_hash_not_the_platform_order():
    """The feed's purchases of all platforms form one batch: when a buyer converts with
    the same merchant on two platforms the same day, each platform wins about half the
    pairs, and listing the platforms' day logs in the other order attributes every order
    the same way (guards the one batch of ``feed_sales.sell_in_feed``; placing each
    platform's orders before the next platform's gives every pair to the first one)."""
    from simulator.audience.engagement import Reactions
    from simulator.commerce.feed_sales import sell_in_feed
    from simulator.feeds.impressions import Impressions
    from simulator.model import DayLog

    n_users = 3000

    def attributed(reverse: bool) -> np.ndarray:
        m = model("scenarios/base.toml", steps=2, platforms={"a": {"policy": "douyin"}, "b": {"policy": "kuaishou"}},
                  population={"users": n_users}, commerce={"intercept": 20.0, "live_share": 0.0})
        m.step()
        product = np.flatnonzero(m.items.merchant >= 0)
        user = np.arange(n_users, dtype=np.int32)
        item = product[user % len(product)]
        imp = Impressions(user=user, item=item.astype(np.int64), source=np.full(n_users, RECOMMEND, np.int8),
                          edge=np.full(n_users, -1, np.int64), match=np.ones(n_users, np.float32))
        yes, no = np.ones(n_users, bool), np.zeros(n_users, bool)
        reactions = Reactions(complete=yes, like=no, comment=no, share=no, follow=no,
                              intimacy=np.zeros(n_users, np.float32))
        logs = [DayLog(p, imp, reactions) for p in m.platforms.values()]
        m.ledger.begin_day()
        sell_in_feed(m, logs[::-1] if reverse else logs)
        o = m.ledger.today_orders()
        assert len(o) == len(np.unique(o.user)) and len(o) > 0.5 * n_users
        return o.platform[np.argsort(o.user)], o.user
    first, users = attributed(False)
    again, _ = attributed(True)
    assert np.array_equal(first, again)
    assert abs(float(np.mean(first == 0)) - 0.5) < 0.04


def test_the_attribution_hash_hashes_the_salt_once_per_batch():
    """Guards purchase.row_hash and _day_salt (issue #17: the salt's hash computed once a
    batch and once per (seed, day)): each row's hash is splitmix64 chained over the salt
    and its columns, as hashing every row's own copy of the salt gives."""
    from simulator.commerce.purchase import _day_salt, row_hash
    from simulator.feeds.numpy_kernels import splitmix64

    rng = np.random.default_rng(41)
    cols = [rng.integers(-5, 10**6, 300) for _ in range(3)]
    for salt in (0, 12345, 2**63 + 17, -3):
        want = splitmix64(np.full(300, np.uint64(salt % 2**64)))
        with np.errstate(over="ignore"):
            for c in cols:
                want = splitmix64(want ^ c.astype(np.int64).view(np.uint64))
        assert np.array_equal(row_hash(salt, *cols), want)
        assert len(row_hash(salt, np.zeros(0, np.int64))) == 0
    m = SimpleNamespace(scenario=SimpleNamespace(seed=9), day=4)
    want = int(splitmix64(splitmix64(np.full(1, np.uint64(9))) ^ np.array([4], np.int64).view(np.uint64))[0])
    assert _day_salt(m) == want and _day_salt(SimpleNamespace(scenario=SimpleNamespace(seed=9), day=5)) != want


def test_the_customer_book_inserts_new_pairs_in_key_order():
    """Guards CustomerBook.ensure (issue #17: its four columns' inserts at places found
    once): rows of known pairs keep their trust, last order and count; new pairs (repeats
    in one batch once) enter at their key's sorted place with trust 0, no order yet; the
    rows returned are each pair's."""
    from simulator.commerce.purchase import NEVER, CustomerBook

    rng = np.random.default_rng(42)
    book = CustomerBook(7)
    for day in range(4):
        users, merchants = rng.integers(0, 50, 60), rng.integers(0, 7, 60)
        keys, trust, last, orders = book.keys.copy(), book.trust.copy(), book.last_day.copy(), book.orders.copy()
        row, new = book.ensure(users, merchants)
        q = users * 7 + merchants
        assert np.array_equal(book.keys[row], q)
        # (a no-op on small books; large ones, e.g. once a process prefers the compiled
        # kernels, keep the day's new pairs in a tail until then, and their rows move)
        book.settle()
        row = book.lookup(users, merchants)
        assert np.array_equal(new, ~np.isin(q, keys)) and np.array_equal(book.keys, np.union1d(keys, q))
        assert np.array_equal(book.keys[row], q)
        old = np.isin(book.keys, keys)
        assert np.array_equal(book.trust[old], trust) and np.array_equal(book.last_day[old], last)
        assert np.array_equal(book.orders[old], orders)
        assert (book.trust[~old] == 0).all() and (book.last_day[~old] == NEVER).all() and (book.orders[~old] == 0).all()
        assert book.trust.dtype == np.float32 and book.last_day.dtype == book.orders.dtype == np.int32
        book.record(row[:20], np.full(20, 0.3, np.float32), day)
    assert new.any() and not new.all()


def _random_book_batches(rng, n_users, n_merchants, days, per_day):
    """Batches of (user, merchant) orders, a few per day, with repeats within and across batches."""
    return [[(rng.integers(0, n_users, n), rng.integers(0, n_merchants, n)) for n in rng.integers(0, per_day, 4)]
            for _ in range(days)]


def _run_book(batches, n_merchants, tail: bool, monkeypatch):
    """A customer book through ``batches`` (ensure, then record on the rows; lookups checked
    against the keys mid-day), settled each day; returns its columns after each day."""
    from simulator.commerce.purchase import CustomerBook
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", tail)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if tail else 10**9)
    book, out = CustomerBook(n_merchants), []
    for day, batch in enumerate(batches):
        for users, merchants in batch:
            row, new = book.ensure(users, merchants)
            assert np.array_equal(book.keys[row], users * n_merchants + merchants)
            assert np.array_equal(book.lookup(users, merchants), row)
            absent = users + 10**6  # users never seen: no row
            assert (book.lookup(absent, merchants) == -1).all()
            book.record(row, np.full(len(row), 0.25, np.float32), day)
        book.settle()
        assert book.n_main is None
        out.append(tuple(getattr(book, c).copy() for c in book.COLUMNS))
    return book, out


def test_the_customer_books_tail_leaves_the_same_book(monkeypatch):
    """Guards the large book's tail (CustomerBook.ensure / settle, issue #17's tenth pass):
    a day's new pairs kept after the rows in key order and merged in at the day's end
    leave the same four columns every day as inserting each batch at its places (the
    small book's path), and every row handed out mid-day is its pair's; the users' first
    rows and merchants' bits (``_index``) carried along by ``settle`` equal ones made afresh."""
    rng = np.random.default_rng(3)
    batches = _random_book_batches(rng, 400, 70, 6, 300)  # 70 merchants: bits merchant % 64 shared
    batches[2] = []  # a day without orders
    batches[3][0] = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # an empty batch
    batches[4] = [(np.array([399 + 5]), np.array([69]))]  # one order, of a user beyond all before
    _, small = _run_book(batches, 70, False, monkeypatch)
    book, large = _run_book(batches, 70, True, monkeypatch)
    for a, b in zip(small, large):
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and np.array_equal(x, y)
    carried = book._index.copy()
    book._index = None
    assert np.array_equal(carried, book._user_index(len(book)))


def test_merge_into_tail_is_its_numpy_form():
    """Guards kernels.merge_into_tail (issue #17, sixteenth pass: the book's new pairs
    into the day's tail in one pass) against its numpy form (``np.insert`` at the
    searched places, then a search of the merged tail): the same four buffers and rows;
    no tail yet, no new keys, new keys before, between and after the tail's, an empty
    book, queries of the main rows (unchanged), of the tail and new ones."""
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(83)
    for trial in range(60):
        n_main, n_tail, k = (int(rng.integers(0, m)) for m in (50, 30, 25))
        if trial < 4:
            n_main, n_tail, k = ((0, 0, 3), (5, 0, 0), (0, 6, 4), (0, 0, 0))[trial]
        pool = rng.choice(10**4, n_main + n_tail + k, replace=False)
        main, tail, q = np.sort(pool[:n_main]), np.sort(pool[n_main:n_main + n_tail]), np.sort(pool[n_main + n_tail:])
        if trial % 5 == 4 and k:
            q = np.sort(rng.choice(np.arange(10**4, 2 * 10**4), k, replace=False))  # all after the tail
        n, room = n_main + n_tail, k + int(rng.integers(0, 5))
        cols = (np.concatenate([main, tail, np.full(room, 7)]).astype(np.int64),
                rng.random(n + room).astype(np.float32), rng.integers(-9, 9, n + room).astype(np.int32),
                rng.integers(0, 9, n + room).astype(np.int32))
        # queries: main rows, tail rows, new keys (rows -1), repeated
        pick = rng.integers(0, 3, 40)
        key = np.where(pick == 0, main[rng.integers(0, max(n_main, 1), 40)] if n_main else -1,
                       np.where(pick == 1, tail[rng.integers(0, max(n_tail, 1), 40)] if n_tail else -1,
                                q[rng.integers(0, max(k, 1), 40)] if k else -1))
        ok = key >= 0
        key = key[ok].astype(np.int64)
        row = np.where(np.isin(key, main), np.searchsorted(main, key),
                       np.where(np.isin(key, tail), n_main + np.searchsorted(tail, key), -1)).astype(np.int64)
        out = []
        for fn in (kernels.merge_into_tail, numpy_kernels.merge_into_tail):
            c, r = tuple(x.copy() for x in cols), row.copy()
            fn(*c, n_main, n, q.astype(np.int64), -(10**6), key, r)
            out.append((c, r))
        (c, r), (c2, r2) = out
        for x, y in zip(c + (r,), c2 + (r2,)):
            assert x.dtype == y.dtype and np.array_equal(x[: n + k], y[: n + k]), trial
        merged = np.sort(np.concatenate([tail, q]))
        assert np.array_equal(c[0][: n + k], np.concatenate([main, merged]))
        assert np.array_equal(c[0][r], key)
        new = np.isin(c[0][: n + k], q)
        assert (c[1][: n + k][new] == 0).all() and (c[2][: n + k][new] == -(10**6)).all()


def _random_book(rng, n_main: int, n_tail: int, M: int):
    """A random customer book's search columns for the book kernels' tests: ``keys`` (a
    main run of ``n_main`` ascending keys user · M + merchant, then a tail of ``n_tail``)
    and ``index`` (each user's first main row and a bitmask of its merchants, bit
    merchant % 64)."""
    pool = rng.choice(1000 * M, n_main + n_tail, replace=False)
    main, tail = np.sort(pool[:n_main]), np.sort(pool[n_main:])
    keys = np.concatenate([main, tail]).astype(np.int64)
    users = main // M
    n_users = int(users[-1]) + 1 if len(main) else 0
    index = np.zeros((n_users + 1, 2), np.int64)
    index[1:, 0] = np.cumsum(np.bincount(users, minlength=n_users))
    np.bitwise_or.at(index[:, 1], users, np.left_shift(np.int64(1), main % M % 64))
    return keys, index


def _book_queries(rng, keys, M: int):
    """Queries (users, merchants) of ``keys`` present, shifted by ±64 (the same bit,
    mostly absent) and random, shuffled."""
    q = np.concatenate([keys, keys + 64, keys - 64, rng.integers(0, 1100 * M, 500)])
    q = q[q >= 0]
    rng.shuffle(q)
    return q // M, q % M


def test_find_in_book_kernel_matches_its_numpy_form():
    """kernels.find_in_book (each user's merchants' bits, a search of the user's rows,
    then the tail) against its numpy form (both runs searched whole) on random books of
    100 merchants (bits merchant % 64 shared by two): queries present in the main run, in
    the tail, absent (with their bit set or not), of users beyond the index, int32 and
    int64; empty runs and one row."""
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(11)
    M = 100
    for n_main, n_tail in ((0, 0), (1, 0), (0, 1), (1, 1), (300, 0), (0, 40), (300, 40), (2000, 300)):
        keys, index = _random_book(rng, n_main, n_tail, M)
        u, m = _book_queries(rng, keys, M)
        q = u * M + m
        for dtype in (np.int64, np.int32):
            for s in (slice(None), slice(0, 1), slice(0, 0)):
                qu, qm = u[s].astype(dtype), m[s].astype(dtype)
                want = numpy_kernels.find_in_book(keys, n_main, None, M, qu, qm)
                got = kernels.find_in_book(keys, n_main, index, M, qu, qm)
                assert got.dtype == np.int64 and np.array_equal(got, want)
                present = want >= 0
                assert np.array_equal(keys[want[present]], q[s][present])
                assert not np.isin(q[s][~present], keys).any()


def test_visiting_edges_kernel_matches_its_numpy_form():
    """kernels.visiting_edges (the homepage visits' draw, large days) against its numpy
    form and numpy's expression with a Python float rate (float32 products, NEP 50):
    draws equal to the float32 product (no visit) and just below it (a visit), no edges,
    one edge."""
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(21)
    for rate in (0.05, 0.3, 1.0 / 3.0):
        for n_edges, n_sel in ((0, 0), (1, 1), (5000, 3000)):
            intimacy = rng.random(n_edges).astype(np.float32)
            edge = np.sort(rng.choice(n_edges, n_sel, replace=False)).astype(np.int64)
            draw = rng.random(n_sel, dtype=np.float32)
            at = np.float32(rate) * intimacy[edge]  # the float32 product numpy compares with
            draw[::3] = at[::3]
            draw[1::3] = np.nextafter(at[1::3], np.float32(0))
            want = edge[draw < rate * intimacy[edge]]
            got = kernels.visiting_edges(edge, draw, intimacy, np.float32(rate))
            numpy_form = numpy_kernels.visiting_edges(edge, draw, intimacy, np.float32(rate))
            assert got.dtype == np.int64 and np.array_equal(got, want) and np.array_equal(numpy_form, want)


def test_a_customer_book_saved_with_a_tail_settles_the_same(monkeypatch):
    """CustomerBook's pickle (``__getstate__``/``__setstate__``): a book saved in the middle
    of a day, with a tail, keeps its rows; loaded, it answers the same lookups and settles
    to the same columns as the one that was not saved (its columns come back without their
    buffers' room and without the users' first rows, made again)."""
    import pickle

    rng = np.random.default_rng(9)
    batches = _random_book_batches(rng, 300, 6, 3, 200)
    book, _ = _run_book(batches[:2], 6, True, monkeypatch)
    for users, merchants in batches[2]:
        row, _ = book.ensure(users, merchants)
        book.record(row, np.full(len(row), 0.5, np.float32), 7)
    assert book.n_main is not None and book.n_main < len(book)
    saved = pickle.loads(pickle.dumps(book))
    assert saved._buffers == {} and saved._index is None and saved.n_main == book.n_main
    users, merchants = rng.integers(0, 320, 500), rng.integers(0, 6, 500)
    assert np.array_equal(saved.lookup(users, merchants), book.lookup(users, merchants))
    saved.settle()
    book.settle()
    for c in book.COLUMNS:
        assert np.array_equal(getattr(saved, c), getattr(book, c))


def test_a_pairs_order_goes_to_its_hash_chosen_candidate_and_distinct_pairs_are_not_hashed(monkeypatch):
    """Guards place_orders' choice among a pair's candidates (issue #17: the hash computed
    only for a batch where some (user, merchant) pair has several): in a shuffled batch
    with repeated pairs each pair's order is the candidate of the smallest hash (lexsort by
    key, then the hash of (salt, columns, item)), in key order; a batch of distinct pairs
    gives every candidate, in key order, without computing the hash. Mutation-checked: the
    hash skipped always fails the first part, computed always the second."""
    from simulator.commerce import purchase
    from simulator.commerce.purchase import _day_salt, row_hash

    m = model(steps=2)
    rng = np.random.default_rng(8)
    n, M = 600, max(m.merchants.n, 1)
    merchant = rng.integers(0, m.merchants.n, n)
    batch = dict(platform=np.zeros(n, np.int64), merchant=merchant,
                 seller=m.merchants.account[merchant].astype(np.int64), user=rng.integers(0, 120, n),
                 domain=np.full(n, PUBLIC_G), source=rng.choice([FOLLOW, SAME_CITY, RECOMMEND], n),
                 item=rng.integers(0, 40, n))
    key = batch["user"] * M + batch["merchant"]
    assert len(np.unique(key)) < n  # repeated pairs
    cols = [batch[c] for c in ("platform", "merchant", "seller", "user", "domain", "source")]
    order = np.lexsort((row_hash(_day_salt(m), *cols, batch["item"]), key))
    first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
    o = place_orders(m, **batch)
    for c in ("user", "merchant", "source", "seller"):
        assert np.array_equal(getattr(o, c), batch[c][first]), c
    # distinct pairs, shuffled: every candidate is an order, in key order, and nothing is hashed
    _, one = np.unique(key, return_index=True)
    one = rng.permutation(one)

    def no_hash(*args, **kwargs):
        raise AssertionError("a batch of distinct pairs was hashed")

    monkeypatch.setattr(purchase, "row_hash", no_hash)
    o = place_orders(model(steps=2), **{k: v[one] for k, v in batch.items()})
    by_key = one[np.argsort(key[one])]
    for c in ("user", "merchant", "source", "seller"):
        assert np.array_equal(getattr(o, c), batch[c][by_key]), c


# ------------------------------------------------------------------ AFTER (issue #17, thirteenth pass)


def test_book_trust_last_kernel_matches_the_gathers_at_the_rows():
    """kernels.book_trust_last (the trust and last day at find_in_book's rows, 0 and NEVER
    without one, in one pass) against numpy's np.where over find_in_book's rows, as
    PurchaseModel.probability computed them, bit for bit and dtype for dtype: random books
    of 100 merchants with a tail, queries present in either run or absent, of users beyond
    the index, int32 and int64; trusts of -0.0, 0, subnormal and 1; empty runs, one row,
    no query and one."""
    from simulator.commerce.purchase import NEVER
    from simulator.feeds import kernels

    rng = np.random.default_rng(13)
    M = 100
    for n_main, n_tail in ((0, 0), (1, 0), (0, 1), (1, 1), (300, 0), (0, 40), (300, 40), (2000, 300)):
        keys, index = _random_book(rng, n_main, n_tail, M)
        trust = rng.random(len(keys)).astype(np.float32)
        trust[: min(4, len(trust))] = np.array([-0.0, 0.0, 1e-45, 1.0], np.float32)[: min(4, len(trust))]
        last = rng.integers(-5, 400, len(keys)).astype(np.int32)
        u, m = _book_queries(rng, keys, M)
        for dtype in (np.int64, np.int32):
            for s in (slice(None), slice(0, 1), slice(0, 0)):
                qu, qm = u[s].astype(dtype), m[s].astype(dtype)
                row = kernels.find_in_book(keys, n_main, index, M, qu, qm)
                if len(keys):
                    want_t = np.where(row >= 0, trust[np.maximum(row, 0)], 0.0)
                    want_l = np.where(row >= 0, last[np.maximum(row, 0)], NEVER)
                else:  # (an empty book: no row to gather from)
                    want_t, want_l = np.zeros(len(qu), np.float32), np.full(len(qu), NEVER, np.int32)
                got_t, got_l = kernels.book_trust_last(keys, n_main, index, M, qu, qm, trust, last, NEVER)
                assert got_t.dtype == want_t.dtype == np.float32 and got_l.dtype == want_l.dtype == np.int32
                assert np.array_equal(got_t.view(np.int32), want_t.view(np.int32))
                assert np.array_equal(got_l, want_l)
                if len(keys) and s == slice(None):
                    assert 0 < np.count_nonzero(row >= 0) < len(row)


def test_purchase_probability_on_a_large_book_matches_the_small_books_path(monkeypatch):
    """PurchaseModel.probability with the book's compiled trust and last days (large
    books: CustomerBook.trust_and_last) against the small book's numpy path (lookup, then
    the gathers), bit for bit, on a model's book re-made with a tail of new pairs (rows
    mid-day), for pairs in the book and random ones."""
    from simulator.commerce.purchase import CustomerBook
    from simulator.feeds import numpy_kernels

    m = model(seed=5)
    m.run(8)
    # (the small book's path whatever the runs this process built before: numpy_kernels.prefer_compiled_for)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    purchase, book = m.commerce.purchase, m.commerce.book
    assert len(book) > 50 and book.trust_and_last(book.keys[:1], book.keys[:1]) is None  # small: numpy
    rng = np.random.default_rng(3)
    users = np.concatenate([book.keys // book.n_merchants, rng.integers(0, m.users.n, 3000)])
    merchants = np.concatenate([book.keys % book.n_merchants, rng.integers(0, m.merchants.n, 3000)])
    match = rng.random(len(users))
    intimacy = rng.random(len(users)).astype(np.float32)
    platform = rng.integers(0, len(m.platforms), len(users))
    want = purchase.probability(m.day, users, merchants, match, intimacy, platform=platform)
    assert 0 < np.count_nonzero(want) < len(want)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", True)
    tail = CustomerBook(book.n_merchants)  # the same pairs, half of them in today's tail
    half = len(book) // 2
    for part in (slice(0, half), slice(None)):
        row, _ = tail.ensure(book.keys[part] // book.n_merchants, book.keys[part] % book.n_merchants)
        tail.trust[row], tail.last_day[row] = book.trust[part], book.last_day[part]
        if part.stop == half:
            tail.settle()
    assert tail.n_main is not None and tail.n_main < len(tail)
    monkeypatch.setattr(purchase, "book", tail)
    got = purchase.probability(m.day, users, merchants, match, intimacy, platform=platform)
    assert got.dtype == want.dtype and np.array_equal(got.view(np.int64), want.view(np.int64))


def test_only_the_candidates_of_repeated_pairs_are_hashed_and_orders_are_lexsorts(monkeypatch):
    """Guards place_orders' hash of only the candidates of pairs with several (issue #17,
    thirteenth pass): in shuffled batches of mostly distinct pairs and a few repeated ones
    (two to five candidates, two identical but for their ad targeting, which the hash
    does not read: the first in the batch wins), the orders are those of a lexsort of the
    whole batch by (key, hash of every candidate) and then position, in every column
    (targeting included), and the hash sees only the repeated pairs' candidates."""
    from simulator.commerce import purchase
    from simulator.commerce.purchase import _day_salt, row_hash

    rng = np.random.default_rng(31)
    for n_single, n_multi in ((400, 3), (50, 20), (0, 4), (1, 1)):
        m = model(steps=2)
        M = max(m.merchants.n, 1)
        pairs = rng.choice(m.users.n * M, n_single + n_multi, replace=False)  # (users of the model)
        times = np.r_[np.ones(n_single, np.int64), 2, rng.integers(2, 6, n_multi - 1)]
        key = np.repeat(pairs, times)
        n = len(key)
        batch = dict(platform=np.zeros(n, np.int64), merchant=key % M, seller=rng.integers(0, 50, n), user=key // M,
                     domain=np.full(n, PUBLIC_G), source=rng.choice([FOLLOW, SAME_CITY, RECOMMEND], n),
                     item=rng.integers(0, 40, n), targeting=rng.integers(-1, 3, n))
        twin = n_single  # the first repeated pair (two candidates): the second as the first but for the targeting
        for c in ("seller", "source", "item"):
            batch[c][twin + 1] = batch[c][twin]
        batch["targeting"][twin], batch["targeting"][twin + 1] = 7, 8
        shuffle = rng.permutation(n)
        batch = {k: v[shuffle] for k, v in batch.items()}
        key = key[shuffle]
        cols = [batch[c] for c in ("platform", "merchant", "seller", "user", "domain", "source")]
        order = np.lexsort((row_hash(_day_salt(m), *cols, batch["item"]), key))
        first = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        hashed = []

        def counted(salt, *columns):
            hashed.append(len(columns[0]))
            return row_hash(salt, *columns)

        monkeypatch.setattr(purchase, "row_hash", counted)
        o = place_orders(m, **batch)
        assert hashed == [int(times[n_single:].sum())]
        for c in ("user", "merchant", "source", "seller", "platform", "targeting"):
            assert np.array_equal(getattr(o, c), batch[c][first]), c
        won, lost = (7, 8) if np.flatnonzero(batch["targeting"] == 7)[0] < np.flatnonzero(batch["targeting"] == 8)[0] else (8, 7)
        assert won in o.targeting and lost not in o.targeting  # the identical twins: the first in the batch
        monkeypatch.undo()


# ---------------------------------------------------------------- SLOTS (issue #17, fourteenth pass)


def test_the_small_books_table_finds_the_rows_a_search_finds(monkeypatch):
    """Guards ``purchase._rows_by_table`` (a small book's lookups by a table of rows kept
    per thread, never cleared): on random books and queries (present and absent pairs,
    users past the book's last and past the table, one key, the empty book) it gives
    ``find_in_book``'s rows; a table left by other keys arrays (another book, the same
    book before its inserts) is filled again for a new array and its stale entries are
    never read as rows; below ``BOOK_TABLE_FROM`` queries a new array is searched
    (None), while the array the table holds is read at any size."""
    from simulator.commerce import purchase
    from simulator.feeds.numpy_kernels import find_in_book

    monkeypatch.setattr(purchase, "_BOOK_TABLE", purchase.threading.local())
    monkeypatch.setattr(purchase, "BOOK_TABLE_FROM", 50)
    rng = np.random.default_rng(7)
    for trial in range(60):
        n_merchants = int(rng.integers(1, 9))
        n_users = int(rng.integers(1, 300))
        size = int(rng.integers(0, 3)) if trial % 10 == 0 else int(rng.integers(1, n_users * n_merchants + 1))
        keys = np.unique(rng.integers(0, n_users * n_merchants, size)).astype(np.int64)
        n = int(rng.integers(50, 400))
        users = rng.integers(0, n_users + 5, n)  # some past the book's last user
        merchants = rng.integers(0, n_merchants, n)
        if len(keys):  # present pairs too
            hit = keys[rng.integers(0, len(keys), n // 2)]
            users[: n // 2], merchants[: n // 2] = hit // n_merchants, hit % n_merchants
        users[-1] = 10**7  # past any table
        want = find_in_book(keys, len(keys), None, n_merchants, users, merchants)
        got = purchase._rows_by_table(keys, n_merchants, users, merchants)
        if len(keys) == 0:
            assert got is None
            continue
        assert np.array_equal(got, want) and got.dtype == np.int64
        # the same array again: read from the table, at any size
        few = slice(0, 3)
        assert np.array_equal(purchase._rows_by_table(keys, n_merchants, users[few], merchants[few]), want[few])
    # a new keys array (the book after an insert: rows moved) with few queries: searched, not filled
    keys = np.arange(0, 400, 3, dtype=np.int64)
    users, merchants = np.arange(0, 100), np.zeros(100, np.int64)
    assert purchase._rows_by_table(keys, 1, users, merchants) is not None
    moved = np.r_[1, keys + 2]  # every row one down, the old keys' entries stale
    assert purchase._rows_by_table(moved, 1, users[:3], merchants[:3]) is None
    assert np.array_equal(purchase._rows_by_table(moved, 1, users, merchants),
                          find_in_book(moved, len(moved), None, 1, users, merchants))


def test_the_customer_book_lookups_are_the_same_with_the_table(monkeypatch):
    """A small book's ``lookup`` through the table (``BOOK_TABLE_FROM`` lowered so that
    every lookup fills or reads it) and through the search give the same rows, day after
    day of inserts (each a new keys array) and orders."""
    from simulator.commerce import purchase

    batches = _random_book_batches(np.random.default_rng(3), 80, 5, 6, 60)
    monkeypatch.setattr(purchase, "_BOOK_TABLE", purchase.threading.local())
    monkeypatch.setattr(purchase, "BOOK_TABLE_FROM", 1)
    _, with_table = _run_book(batches, 5, False, monkeypatch)
    monkeypatch.setattr(purchase, "BOOK_TABLE_LIMIT", 0)  # no table: the search
    _, searched = _run_book(batches, 5, False, monkeypatch)
    for a, b in zip(with_table, searched):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
