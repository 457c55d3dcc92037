"""Selling in the feed: order attribution by slot source and relationship."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.commerce.ledger import PRIVATE_WECHAT
from simulator.state.vocabulary import ADS

from ..commerce.worlds import groups, model


def test_orders_are_attributed_by_slot_source_and_relationship():
    """Each order's domain follows from where it was made (ad slot: commercial; group,
    visit/DM: private on the account's home platform; WeChat: private_wechat; a feed slot:
    private exactly when the buyer was a fan of the seller), and the per-domain GMV
    columns of metrics.csv are the sums of those orders."""
    from simulator.commerce.ledger import COMMERCIAL_G, GROUP, PRIVATE_PLATFORM, PUBLIC_G, VISIT, WECHAT
    from simulator.state.vocabulary import GMV_DOMAINS, SOURCES

    m = model("scenarios/base.toml", steps=20, **groups(2.0, 0.5),
              merchants={"category_mix": [1, 1, 1, 1], "diversion_share": 1.0, "daily_ad_budget": 30.0},
              platforms={"a": {"policy": "douyin"}, "b": {"policy": "kuaishou", "adoption": 0.6}})
    seen = set()
    for _ in range(m.scenario.steps):
        m.step()
        o = m.ledger.today_orders()
        src, dom = o.source, o.domain
        ads = src == ADS
        feed = (src < len(SOURCES)) & ~ads
        channel = (src == GROUP) | (src == VISIT)
        assert (dom[ads] == COMMERCIAL_G).all()
        assert np.isin(dom[feed], [PUBLIC_G, PRIVATE_PLATFORM]).all()
        assert ((dom[feed] == PRIVATE_PLATFORM) == (o.buyer_tier[feed] > 0)).all()
        assert (dom[channel] == PRIVATE_PLATFORM).all()
        assert (o.platform[channel] == m.creators.home[o.seller[channel]]).all()
        assert (dom[src == WECHAT] == PRIVATE_WECHAT).all()
        rows = m.metrics_frame()
        rows = rows[rows["step"] == m.day - 1].set_index("platform")
        for p, name in enumerate(m.platforms):
            for d, dn in enumerate(GMV_DOMAINS):
                assert rows.loc[name, f"gmv_{dn}"] == pytest.approx(o.price[(o.platform == p) & (dom == d)].sum())
        seen |= {(int(s), int(d)) for s, d in zip(src, dom)}
    sources = {s for s, _ in seen}
    assert {ADS, GROUP, VISIT, WECHAT, SOURCES.index("recommend")} <= sources
    assert {d for _, d in seen} == set(range(4))


def _sell_on_reference(model, platform, impressions, reactions):
    """feed_sales._sell_on as it selected before issue #17's small-day pass: every engaged
    impression, then its item's live session and product link (the definition)."""
    from simulator.commerce.ledger import PRIVATE_PLATFORM
    from simulator.state.arrays import lognormal_with_mean, sigmoid

    items, cfg, rng = model.items, model.scenario.commerce, model.streams.commerce
    domain = impressions.domain()
    engaged = np.flatnonzero(reactions.engaged)
    item = impressions.item[engaged]
    live, merchant = items.live[item], items.merchant[item]
    on_live = np.flatnonzero(live)
    if len(on_live):
        k = engaged[on_live]
        fan_trust = model.commerce.purchase.fan_trust[platform]
        tip = rng.random(len(k)) < sigmoid(cfg.tip_intercept + fan_trust * cfg.tip_w_intimacy * reactions.intimacy[k])
        k = k[tip]
        amount = lognormal_with_mean(rng, cfg.tip_mean, 1.0, len(k))
        model.ledger.book_tips(platform, items.creator[impressions.item[k]].astype(np.int64), domain[k], amount)
    linked = np.flatnonzero(merchant >= 0)
    if not model.merchants.active.all():
        linked = linked[model.merchants.active[merchant[linked]]]
    if len(linked) == 0:
        return None
    k = engaged[linked]
    m = merchant[linked].astype(np.int64)
    user = impressions.user[k].astype(np.int64)
    prob = model.commerce.purchase.probability(model.day, user, m, impressions.match[k], reactions.intimacy[k],
                                               live[linked], platform)
    buy = rng.random(len(k)) < prob
    k, m, user = k[buy], m[buy], user[buy]
    return dict(platform=np.full(len(k), platform, np.int64), merchant=m,
                seller=items.creator[impressions.item[k]].astype(np.int64), user=user,
                domain=np.minimum(domain[k], PRIVATE_PLATFORM).astype(np.int64),
                source=impressions.source[k].astype(np.int64), targeting=impressions.targeting[k].astype(np.int64),
                item=impressions.item[k].astype(np.int64) + items.offset)


def test_feed_sales_draw_from_the_same_impressions_as_selecting_among_all_engaged(monkeypatch):
    """Guards feed_sales._sell_on's early selection (issue #17: the engaged impressions of
    items that tip or sell, before the items' gathers): the tips booked, the candidate
    orders and the commerce stream's state after the draws equal the definition's, which
    selects the live and linked items among every engaged impression."""
    import copy

    from simulator.commerce.feed_sales import _sell_on

    m = model("scenarios/base.toml", steps=5, commerce={"live_share": 0.2, "link_share": 0.3})
    m.run(3)
    log = m.day_logs[0]
    booked = []
    monkeypatch.setattr(m.ledger, "book_tips", lambda *a: booked.append([np.asarray(x).copy() for x in a[1:]]))
    start = copy.deepcopy(m.streams.commerce.bit_generator.state)
    got = _sell_on(m, log.platform.index, log.impressions, log.reactions)
    after = m.streams.commerce.bit_generator.state
    m.streams.commerce.bit_generator.state = start
    want = _sell_on_reference(m, log.platform.index, log.impressions, log.reactions)
    assert m.streams.commerce.bit_generator.state == after
    assert len(booked) == 2 and all(np.array_equal(a, b) for a, b in zip(*booked)) and len(booked[0][0]) > 0
    assert got.keys() == want.keys() and len(got["user"]) > 0
    assert all(np.array_equal(got[k], want[k]) for k in got)
    sells = m.items.live | (m.items.merchant >= 0)
    assert not sells[log.impressions.item[log.reactions.engaged]].all()  # some engaged impressions sell nothing


def test_engaged_selling_numpy_form():
    """numpy_kernels.engaged_selling (selling_offer_rows' numpy form reads it) on random
    impressions: empty, one row, none and all engaged."""
    from simulator.feeds import numpy_kernels

    rng = np.random.default_rng(5)
    for n in (0, 1, 7, 5000):
        item = rng.integers(0, 50, n).astype(np.int32)
        sells = rng.random(50) < 0.4
        for p in (0.0, 0.3, 1.0):
            complete, like = rng.random(n) < p, rng.random(n) < p / 2
            got = numpy_kernels.engaged_selling(complete, like, item, sells)
            assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero((complete | like) & sells[item]))


def test_selling_offer_rows_kernel_matches_its_numpy_form():
    """kernels.selling_offer_rows (the feed sales' opportunities in two passes over the
    impressions) against its numpy form on random impressions: empty, one row, none and
    all engaged, no live item, no product link, exited merchants; the numpy form against
    the selection it replaced (engaged, then live sessions and active merchants' links)."""
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(7)
    for n in (0, 1, 7, 5000):
        item = rng.integers(0, 50, n).astype(np.int32)
        user = rng.integers(0, 1000, n).astype(np.int32)
        match = rng.random(n).astype(np.float32)
        intimacy = rng.random(n).astype(np.float32)
        for p_live, p_link, p_active in ((0.2, 0.5, 1.0), (0.0, 0.5, 0.6), (0.3, 0.0, 1.0), (1.0, 1.0, 0.0)):
            live = rng.random(50) < p_live
            merchant = np.where(rng.random(50) < p_link, rng.integers(0, 6, 50), -1).astype(np.int32)
            active = rng.random(6) < p_active
            for p in (0.0, 0.3, 1.0):
                complete, like = rng.random(n) < p, rng.random(n) < p / 2
                args = (complete, like, item, live, merchant, active, user, match, intimacy)
                want = numpy_kernels.selling_offer_rows(*args)
                got = kernels.selling_offer_rows(*args)
                assert len(got) == len(want) == 8
                for g, w in zip(got, want):
                    assert g.dtype == w.dtype and np.array_equal(g, w)
                engaged = complete | like
                tip = np.flatnonzero(engaged & live[item])
                buy = np.flatnonzero(engaged & (merchant[item] >= 0) & active[np.maximum(merchant[item], 0)])
                assert np.array_equal(want[0], tip) and np.array_equal(want[1], intimacy[tip])
                assert np.array_equal(want[2], buy) and np.array_equal(want[3], merchant[item[buy]])
                assert want[3].dtype == want[4].dtype == np.int64 and np.array_equal(want[4], user[buy])
                assert np.array_equal(want[5], match[buy]) and np.array_equal(want[6], intimacy[buy])
                assert np.array_equal(want[7], live[item[buy]])
