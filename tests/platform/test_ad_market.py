"""The ad market: saturation, fixed CPM, targeting."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.state.vocabulary import ADS

from ..commerce.worlds import model, totals


def test_more_merchants_competing_for_ads_raise_cac():
    cac = {n: totals(model(population={"merchants": n}).run()) for n in (3, 30)}
    assert cac[30]["cpm_effective"] > 2 * cac[3]["cpm_effective"]
    assert cac[30]["cac_blended"] > 1.5 * cac[3]["cac_blended"]
    assert cac[30]["cac_ad"] > cac[3]["cac_ad"]
    assert cac[30]["cac_blended_last_30d"] > cac[3]["cac_blended_last_30d"]


def test_fixed_cpm_when_saturation_is_off():
    t = totals(model(population={"merchants": 30}, platforms={"douyin": {"cpm_elasticity": 0.0}}, steps=5).run())
    assert t["cpm_effective"] == pytest.approx(model().scenario.platforms["douyin"].cpm)


@pytest.mark.parametrize("mix,fans", [([0, 1, 0], True), ([0, 0, 1], False)])
def test_ad_targeting_reaches_fans_or_lookalikes(mix, fans):
    m = model(steps=3, merchants={"targeting_mix": mix})
    m.run()
    imp = m.day_logs[0].impressions
    ads = imp.source == ADS
    assert ads.sum() > 20
    if fans:
        assert (imp.edge[ads] >= 0).all()
    else:
        assert (imp.edge[ads] < 0).all()
        # look-alikes come from the interest segments of the merchant's fans
        fg = m.follows
        acc = m.items.creator[imp.item[ads]]
        fan_segs = {int(c): set(m.users.segment[fg.src[fg.creator == c]].tolist()) for c in np.unique(acc)}
        seg = m.users.segment[imp.user[ads]]
        assert all(int(s) in fan_segs[int(c)] for s, c in zip(seg, acc))


def test_first_of_each_is_np_uniques_first_index():
    from simulator.platform.ad_market import first_of_each

    rng = np.random.default_rng(3)
    for n, size in ((50, 200), (1000, 300), (1000, 30), (10_000, 0), (7, 7)):
        a = rng.integers(0, n, size)
        want = np.unique(a, return_index=True)[1]
        got = first_of_each(a, n)
        assert np.array_equal(got, want) and got.dtype == want.dtype
    distinct = rng.permutation(5000)[:3000]  # the broad slots: no repeats
    assert np.array_equal(first_of_each(distinct, 5000), np.argsort(distinct))


def test_narrow_keeps_the_stable_order_of_the_bids():
    from simulator.platform.ad_market import narrow

    rng = np.random.default_rng(4)
    for n in (3, 127, 128, 1000, 20_000, 40_000):
        a = rng.integers(0, n, 5000)
        got = narrow(a, n)
        assert np.array_equal(got.astype(np.int64), a)
        assert np.array_equal(np.argsort(got, kind="stable"), np.argsort(a, kind="stable"))


def test_account_edges_are_the_follow_graphs_lookup():
    from simulator.platform import ad_market
    from simulator.platform.ad_market import AccountEdges

    m = model(steps=3)
    m.run()
    rng = np.random.default_rng(5)
    users = rng.integers(0, m.users.n, 4000)
    merchant = rng.integers(0, m.merchants.n, 4000)
    to_account = np.flatnonzero(np.isin(m.follows.creator, m.merchants.account))[:2000]  # pairs that are edges
    users[:len(to_account)] = m.follows.src[to_account]
    merchant[:len(to_account)] = np.searchsorted(m.merchants.account, m.follows.creator[to_account])
    want = m.follows.lookup(users, m.merchants.account[merchant])
    assert (want >= 0).sum() > 100 and (want < 0).sum() > 100
    got = AccountEdges(m).lookup(users, merchant)
    assert np.array_equal(got, want) and got.dtype == want.dtype
    limit = ad_market.ACCOUNT_TABLE_LIMIT
    try:  # the fallback (the table too large): the lookup itself
        ad_market.ACCOUNT_TABLE_LIMIT = 0
        assert np.array_equal(AccountEdges(m).lookup(users, merchant), want)
    finally:
        ad_market.ACCOUNT_TABLE_LIMIT = limit


def test_account_edges_audiences_are_the_masks_over_every_edge():
    """Guards ``AccountEdges.audience`` (the audiences from the day's edges to the accounts,
    found once): the edges to the bids' accounts in edge order and each one's bid, as the
    mask over every edge gives them, for any subset of the bids."""
    from simulator.platform.ad_market import AccountEdges

    m = model(steps=3)
    m.run()
    rng = np.random.default_rng(6)
    bid_m = np.arange(m.merchants.n)
    accounts = AccountEdges(m)
    for bids in (np.arange(m.merchants.n), np.sort(rng.permutation(m.merchants.n)[:4]), np.zeros(0, np.int64)):
        bid_of_account = np.full(m.creators.n, -1)
        bid_of_account[m.merchants.account[bid_m[bids]]] = bids
        want = np.flatnonzero(bid_of_account[m.follows.creator] >= 0)
        edge, bid = accounts.audience(bids, bid_m)
        assert np.array_equal(edge, want) and np.array_equal(bid, bid_of_account[m.follows.creator[want]])
        assert len(bids) == 0 or len(edge) > 0


def test_account_edges_found_once_a_day_and_compiled_alike(monkeypatch):
    """Guards ``AccountEdges.edges`` (issue #17: one pass over every edge for the day's
    ad sales on every platform): the compiled pass (large graphs) finds the same edges as
    the numpy mask; while the feeds are built (``model.feed_cache``) the platforms share
    one array, and without the cache each AccountEdges finds its own."""
    from simulator.feeds import numpy_kernels
    from simulator.platform.ad_market import AccountEdges

    m = model(steps=3)
    m.run()
    want = np.flatnonzero(np.isin(m.follows.creator, m.merchants.account))
    assert 0 < len(want) < m.follows.n_edges
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)  # (set once a process built long runs)
    numpy_form = AccountEdges(m)
    assert not numpy_form.compiled and np.array_equal(numpy_form.edges(), want)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0)
    compiled = AccountEdges(m)
    assert compiled.compiled and np.array_equal(compiled.edges(), want) and compiled.edges().dtype == np.int64
    bid_m = np.arange(m.merchants.n)
    bids = np.arange(0, m.merchants.n, 2)
    for got, expect in zip(compiled.audience(bids, bid_m), numpy_form.audience(bids, bid_m)):
        assert np.array_equal(got, expect)
    m.feed_cache = {}
    first = AccountEdges(m).edges()
    assert AccountEdges(m).edges() is first  # the second platform's ad sales reuse it
    m.feed_cache = None
    assert AccountEdges(m).edges() is not first
