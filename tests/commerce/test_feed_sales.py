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
