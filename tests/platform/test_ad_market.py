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


def test_new_ad_buyers_over_the_first_and_last_30_days_are_the_cac_windows_denominators():
    """new_buyers_ad_first_30d / _last_30d are the per-step new_buyers_ad summed over the
    run's first and last 30 days (overlapping in a 40-day run), per platform and in all;
    ad spend over the same days divided by them is cac_ad_first_30d / _last_30d (mutation
    checked: counting every new buyer, not only the ad-acquired ones, fails)."""
    m = model(steps=40)
    rows = m.run().metrics_frame()
    summary = m.summary()
    for name, values in [("all", summary["totals"]), *summary["platforms"].items()]:
        r = rows[rows.platform == name]
        first, last = r.iloc[:30], r.iloc[-30:]
        assert values["new_buyers_ad_first_30d"] == pytest.approx(first.new_buyers_ad.sum())
        assert values["new_buyers_ad_last_30d"] == pytest.approx(last.new_buyers_ad.sum())
        assert first.new_buyers_ad.sum() < first.new_buyers.sum()  # (the check can tell the two apart)
        assert values["cac_ad_first_30d"] == pytest.approx(first.ad_revenue.sum() / first.new_buyers_ad.sum())
        assert values["cac_ad_last_30d"] == pytest.approx(last.ad_revenue.sum() / last.new_buyers_ad.sum())
    short = model(steps=5)
    short.run()
    assert np.isnan(short.summary()["totals"]["new_buyers_ad_last_30d"])


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


def _assign_reference(market, slot, merchant):
    """The ad market's assign by its definition (before issue #17's eleventh pass): the
    candidates shuffled, the taken slots dropped, each slot's first candidate, shuffled
    again, then each bid's first ``left`` by a stable sort and ranks."""
    from simulator.platform.ad_market import first_of_each
    from simulator.state.arrays import rank_within_sorted

    rng = market.rng
    perm = rng.permutation(len(slot))
    slot, merchant = slot[perm], merchant[perm]
    ok = ~market.taken[slot]
    slot, merchant = slot[ok], merchant[ok]
    first = rng.permutation(first_of_each(slot, len(market.taken)))
    slot, merchant = slot[first], merchant[first]
    order = np.argsort(merchant, kind="stable")
    keep = np.zeros(len(slot), dtype=bool)
    keep[order] = rank_within_sorted(merchant[order]) < market.left[merchant[order]]
    slot, merchant = slot[keep], merchant[keep]
    market.taken[slot] = True
    market.merchant[slot] = merchant
    market.left -= np.bincount(merchant, minlength=len(market.left))


def _markets(supply, left, seed):
    from simulator.platform.ad_market import _AdMarket

    return (_AdMarket(supply, np.asarray(left, dtype=np.int64), np.random.default_rng(seed)),
            _AdMarket(supply, np.asarray(left, dtype=np.int64), np.random.default_rng(seed)))


def _same_market(a, b):
    assert np.array_equal(a.taken, b.taken) and np.array_equal(a.merchant, b.merchant)
    assert np.array_equal(a.left, b.left)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("supply", [1, 7, 300, 5000])
def test_ad_market_assign_is_its_definition(supply):
    """Guards ``_AdMarket.assign`` (issue #17, eleventh pass: the taken slots dropped
    from the table of slots, the kept ones by counts): the same market and the same
    generator state as the definition, over rounds that fill the market (duplicate
    candidates, taken slots, bids with nothing left, one candidate, none, both branches
    of the first occurrences)."""
    rng = np.random.default_rng(supply)
    for trial in range(20):
        n_bids = int(rng.integers(1, 40))
        left = rng.integers(0, max(2, supply // 4), n_bids)
        new, ref = _markets(supply, left, trial)
        for _ in range(4):
            n = int(rng.choice([0, 1, 3, supply // 20 + 1, supply * 2]))
            slot = rng.integers(0, supply, n)
            merchant = rng.integers(0, n_bids, n)
            new.assign(slot, merchant)
            _assign_reference(ref, slot, merchant)
            _same_market(new, ref)


@pytest.mark.parametrize("supply", [1, 50, 4000])
def test_ad_market_assign_all_is_assign_of_the_broad_bids(supply):
    """Guards ``_AdMarket.assign_all`` (the broad bids: distinct free slots, no bid with
    more candidates than it can pay for): the same market and generator state as assign."""
    rng = np.random.default_rng(supply + 1)
    for trial in range(20):
        n_bids = int(rng.integers(1, 30))
        new, ref = _markets(supply, rng.integers(0, max(2, supply // 8), n_bids), trial)
        taken = rng.random(supply) < rng.random()
        new.taken[:], ref.taken[:] = taken, taken
        new.merchant[taken], ref.merchant[taken] = 0, 0
        free = rng.permutation(np.flatnonzero(~taken))
        want = rng.permutation(np.repeat(np.arange(n_bids), new.left))
        k = min(len(free), len(want))
        new.assign_all(free[:k], want[:k])
        _assign_reference(ref, free[:k], want[:k])
        _same_market(new, ref)


def test_first_free_of_each_is_first_of_each_of_the_free():
    from simulator.platform.ad_market import first_free_of_each

    rng = np.random.default_rng(3)
    for n, size in [(1, 0), (1, 5), (10, 30), (5000, 50), (5000, 20000), (64, 64)]:
        a = rng.integers(0, n, size)
        taken = rng.random(n) < 0.4
        idx, first = np.unique(a, return_index=True)
        got = first_free_of_each(a, taken)
        assert got.dtype.kind == "i" and np.array_equal(got, first[~taken[idx]])


def two_feeds(douyin: dict | None = None, kuaishou: dict | None = None, **merchants):
    """Two feed platforms with cheap fixed-CPM ads (20 yuan per 1,000, no saturation, ad
    slots to spare) and broad static merchants whose accounts post ~5 items a day: a
    merchant with an item to show spends its budget share on a platform to within one
    impression's price."""
    from simulator import TrafficModel
    from ..conftest import small

    d = small({"population": {"merchants": 6}, "creators": {"post_rate_mean": 5.0, "post_rate_sigma": 0.0},
               "merchants": {"daily_ad_budget": 5.0, "targeting_mix": [1, 0, 0], **merchants}})
    ads = {"cpm": 20.0, "cpm_elasticity": 0.0, "ad_load": 0.1}
    d["platforms"] = {"douyin": {"policy": "douyin", **ads, **(douyin or {})},
                      "kuaishou": {"policy": "kuaishou", **ads, **(kuaishou or {})}}
    return TrafficModel(d, seed=3, agents=False)


def test_a_platform_without_ad_slots_leaves_the_whole_budget_to_the_others():
    """ad_load 0 on the second platform: a static merchant's whole daily budget goes to
    the first, where it is spent (to within one impression's price), none to the second
    (mutation checked: splitting the budget over every feed platform, as before, spends
    half of it)."""
    m = two_feeds(kuaishou={"ad_load": 0.0})
    m.step()
    spend, budget = m.ledger.ad_spend, m.merchants.daily_budget
    assert (spend[1] == 0).all()
    spent = spend[0] > 0
    assert spent.sum() >= 5
    np.testing.assert_allclose(spend[0][spent], budget[spent], atol=0.02)


def test_a_banned_merchants_budget_goes_to_the_platforms_where_it_is_not_banned():
    """Merchant 0 banned on the first platform, merchant 1 on both: merchant 0's whole
    budget goes to the second platform, merchant 1 bids nowhere (its budget is not spent),
    the others split theirs evenly; the merchant_effort metric follows the day's split,
    its all row is every budget (mutation checked: splitting over every feed platform
    spends half of merchant 0's budget; a metric split over every feed platform counts
    banned merchants' budgets)."""
    from simulator.platform.ad_market import _bids

    m = two_feeds()
    m.moderation.pending[0, [0, 1]] = True
    m.moderation.pending[1, 1] = True
    m.moderation.apply()
    m.step()
    budget = m.merchants.daily_budget
    bids = np.array([_bids(m, p)[2] for p in (0, 1)])
    np.testing.assert_array_equal(bids[:, 0], [0.0, budget[0]])
    np.testing.assert_array_equal(bids[:, 1], [0.0, 0.0])
    np.testing.assert_array_equal(bids[:, 2:], np.tile(budget[2:] / 2, (2, 1)))
    spend = m.ledger.ad_spend
    assert spend[0, 0] == 0 and spend[1, 0] == pytest.approx(budget[0], abs=0.02)
    assert (spend[:, 1] == 0).all()
    spent = (spend[:, 2:] > 0).all(axis=0)
    assert spent.sum() >= 3
    np.testing.assert_allclose(spend[:, 2:][:, spent], np.tile(budget[2:][spent] / 2, (2, 1)), atol=0.02)
    rows = m.metrics_frame().set_index("platform")["merchant_effort"]
    assert rows["douyin"] == pytest.approx(budget[2:].sum() / 2)
    assert rows["kuaishou"] == pytest.approx(budget[0] + budget[2:].sum() / 2)
    assert rows["all"] == pytest.approx(budget.sum())
