"""Moderation: bans for diversion and over-marketing, and what a ban takes away."""

from __future__ import annotations

import numpy as np

from simulator.commerce.ledger import PRIVATE_WECHAT

from ..commerce.worlds import groups, model, totals


def test_banned_merchant_keeps_selling_on_wechat_but_loses_platform_reach():
    m = model(merchants={"diversion_share": 1.0}, platforms={"douyin": {"ban_per_diversion": 0.01}})
    after_ban_wechat = after_ban_platform = 0.0
    for _ in range(m.scenario.steps):
        m.step()
        o = m.ledger.today_orders()
        ms = m.merchants
        earlier = ms.banned[0] & (ms.ban_day[0] < m.day - 1)
        hit = earlier[o.merchant.astype(np.int64)]
        after_ban_wechat += o.price[hit & (o.domain == PRIVATE_WECHAT)].sum()
        own = o.seller == ms.account[o.merchant.astype(np.int64)]
        after_ban_platform += o.price[hit & own & (o.domain != PRIVATE_WECHAT)].sum()
    ms = m.merchants
    assert ms.banned.any()
    assert after_ban_wechat > 0  # "traffic insurance"
    assert after_ban_platform == 0  # the banned account sells nothing on the platform
    banned_accounts = ms.account[ms.banned[0]]
    assert not np.isin(m.follows.creator, banned_accounts).any()  # its followers are gone
    assert totals(m)["bans"] == ms.banned.sum()


def test_ban_on_one_platform_ends_reach_there_and_followers_only_at_home():
    """Two platforms share the follow graph; only platform a bans. An account banned on a
    gets no impressions there at all (follow tab and cold start included, though its
    followers may follow it again through b); it loses its followers only when a is its home."""
    m = model("scenarios/base.toml", steps=14, merchants={"diversion_share": 1.0},
              platforms={"a": {"policy": "douyin", "ban_per_diversion": 0.05}, "b": {"policy": "kuaishou"}})
    ms, cr = m.merchants, m.creators
    before = cr.impressions[0].sum(axis=1).copy()
    checked = 0
    for _ in range(m.scenario.steps):
        m.step()
        now = cr.impressions[0].sum(axis=1).copy()
        earlier = ms.banned[0] & (ms.ban_day[0] < m.day - 1)
        assert (now - before)[ms.account[earlier]].sum() == 0
        checked += int(earlier.sum())
        before = now
    assert checked > 0 and not ms.banned[1].any()
    home = cr.home[ms.account]
    followers = np.bincount(m.follows.creator, minlength=cr.n)[ms.account]
    at_home, away = ms.banned[0] & (home == 0), ms.banned[0] & (home == 1)
    assert at_home.any() and away.any()
    # banned at home: followers were removed (only those regained through b since);
    # banned away from home: the following at home stays
    assert followers[away].mean() > 2 * max(followers[at_home].mean(), 1.0)


def test_over_marketing_gets_accounts_banned_at_home():
    def bans(ppd, hazard):
        m = model("scenarios/base.toml", steps=10, **groups(ppd, 0.0, overmarketing_pushes=3.0),
                  platforms={"a": {"policy": "douyin", "ban_per_excess_push": hazard}, "b": {"policy": "kuaishou"}})
        m.run()
        return m.merchants.banned, m.creators.home[m.merchants.account]

    banned, home = bans(8.0, 0.2)
    assert banned[0].any() and not banned[1].any()  # only the platform with the knob bans ...
    assert (home[banned[0]] == 0).all()  # ... and only accounts whose groups run there
    assert not bans(2.0, 0.2)[0].any()  # at or under the threshold: no ban
    assert not bans(8.0, 0.0)[0].any()


def test_over_marketing_risk_only_for_accounts_that_pushed_to_members():
    """Every account pushes 8 promotions a day (limit 3, ban certain per excess push), but
    nobody joins on their own: an own account whose group has no member pushes to nobody
    and is not banned; the one own account given a member is (guards the member filter of
    the over-marketing risk in ``FanGroups.run_day``; without it every own account was at
    risk, members or not)."""
    m = model(steps=3, **groups(8.0, 0.0, join_rate=0.0, overmarketing_pushes=3.0, tolerance_mean=1000.0),
              platforms={"douyin": {"ban_per_excess_push": 1.0}})
    fg, cr, ms = m.follows, m.creators, m.merchants
    partner = (cr.seller[fg.creator] >= 0) & (cr.merchant[fg.creator] < 0)
    table = m.commerce.groups.table
    table.insert(np.flatnonzero(partner)[:1], annoy=0.0, joined=0)  # a partner creator's group has a member
    m.step()
    assert not ms.banned.any()  # no own account had members
    target = 3
    edge = np.flatnonzero(fg.creator == ms.account[target])[0]
    table.insert(np.array([edge]), annoy=0.0, joined=0)
    m.step()
    assert np.array_equal(np.flatnonzero(ms.banned[0]), [target])


def test_a_ban_adds_its_lost_edges_to_the_days_mask_and_keeps_the_others():
    """``Moderation.apply(out=mask)`` (the step's mask of the day's lost edges, which holds
    the annoyed members' edges already): a ban at home adds its account's followers and
    keeps every edge already marked; a day without a ban leaves the mask as it was."""
    m = model(steps=3)
    m.step()
    fg, ms = m.follows, m.merchants
    home = m.creators.home[ms.account]
    target = int(np.flatnonzero(home == 0)[0])
    marked = np.zeros(fg.n_edges, dtype=bool)
    marked[::7] = True
    mask = marked.copy()
    assert m.moderation.apply(out=mask) is mask and np.array_equal(mask, marked)  # nobody hit: unchanged
    m.moderation.pending[0, target] = True
    m.moderation.apply(out=mask)
    followers = fg.creator == ms.account[target]
    assert followers.any() and not followers.all()
    assert np.array_equal(mask, marked | followers)
    assert ms.banned[0, target]
