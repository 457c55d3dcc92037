"""Commerce and the private channels (issue #3): money that closes, push policy, groups,
WeChat diversion and bans, ad targeting and saturation."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from simulator.commerce.ledger import ORDER_SOURCES, PRIVATE_WECHAT
from simulator.config import CATEGORIES, ScenarioError, load_scenario
from simulator.model import TrafficModel
from simulator.state.vocabulary import ADS

SMALL = {"population": {"users": 3000, "creators": 150, "merchants": 10}, "steps": 30,
         "merchants": {"category_mix": [1, 0, 0, 0]}}


def model(scenario="scenarios/douyin.toml", seed=1, **over) -> TrafficModel:
    ov = copy.deepcopy(SMALL)
    _merge(ov, over)
    return TrafficModel(scenario, seed=seed, overrides=ov)


def _merge(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v


def groups(ppd, value, **extra):
    g = {"pushes_per_day": ppd, "value_share": value, "join_rate": 0.2, "join_intimacy": 0.2}
    return {"commerce": {"groups": {**g, **extra}}}


def totals(m: TrafficModel) -> dict:
    return m.summary()["totals"]


# --------------------------------------------------------------------------- money


def expected_rate(m: TrafficModel, platform: str, merchant: int, domain: int) -> float:
    """The commission schedule, read from the scenario (independently of the model's code)."""
    if domain == PRIVATE_WECHAT:
        return 0.0
    sched = m.scenario.platforms[platform].commission
    age = int(m.merchants.age0[merchant]) + m.day
    if age < sched.intro_days:
        return sched.intro
    return getattr(sched, CATEGORIES[int(m.merchants.category[merchant])])


def test_money_closes_every_step():
    """Two platforms with different schedules, partner creators, all four categories,
    diversion and bans: every step, GMV by domain sums to the total, commissions equal
    Σ rate × on-platform GMV with the rate from the schedule, and nobody's money is negative."""
    m = model("scenarios/base.toml", steps=12,
              merchants={"category_mix": [1, 1, 1, 1], "diversion_share": 0.5, "new_share": 0.5, "daily_ad_budget": 30.0},
              platforms={"a": {"policy": "douyin", "commission": {"intro_days": 5}, "ban_per_diversion": 0.02},
                         "b": {"policy": "kuaishou", "commission": {"intro": 0.0, "fmcg": 0.04}, "adoption": 0.6}})
    names = list(m.platforms)
    gmv_sum = 0.0
    for _ in range(m.scenario.steps):
        spend_before = m.ledger.ad_spend.copy()
        m.step()
        m.day -= 1  # the orders were booked on the day just simulated
        o = m.ledger.today_orders()
        rows = m.metrics_frame()
        rows = rows[rows["step"] == m.day].set_index("platform")
        for p, name in enumerate(names):
            r = rows.loc[name]
            parts = r[["gmv_public", "gmv_commercial", "gmv_private_platform", "gmv_private_wechat"]].sum()
            assert r["gmv_total"] == pytest.approx(parts)
            mine = np.flatnonzero(o.platform == p)
            want = sum(expected_rate(m, name, int(o.merchant[i]), int(o.domain[i])) * o.price[i] for i in mine)
            assert r["commission_revenue"] == pytest.approx(want, abs=1e-6)
            assert r["platform_revenue"] == pytest.approx(r["ad_revenue"] + r["commission_revenue"] + r["tip_revenue"])
            assert r["gmv_total"] == pytest.approx(o.price[mine].sum())
        assert rows.loc["all", "gmv_total"] == pytest.approx(sum(rows.loc[n, "gmv_total"] for n in names))
        m.day += 1
        # no negative money: every order pays commission and creator cut out of its price
        assert (o.rate >= 0).all() and (o.commission >= 0).all() and (o.creator_cut >= 0).all()
        assert (o.commission + o.creator_cut <= o.price + 1e-9).all()
        # ad spend never exceeds the day's budget
        spent = (m.ledger.ad_spend - spend_before).sum(axis=0)
        assert (spent <= m.merchants.daily_budget + 1e-6).all()
        gmv_sum += float(rows.loc["all", "gmv_total"])
    assert gmv_sum > 0
    assert m.ledger.gmv.sum() == pytest.approx(gmv_sum)
    assert m.ledger.creator_gmv.sum() == pytest.approx(gmv_sum)
    assert m.ledger.gmv_by_source.sum() == pytest.approx(gmv_sum)
    assert (m.ledger.creator_tips >= 0).all() and (m.ledger.creator_sales_income >= 0).all()
    mf = m.merchants_frame()
    assert mf[[f"gmv_{d}" for d in ("public", "commercial", "private_platform", "private_wechat")]].sum(axis=1).to_numpy() \
        == pytest.approx(mf["gmv_total"].to_numpy())


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


def test_creator_income_is_sales_share_plus_tips_net_of_the_platform_cut():
    m = model(steps=10, platforms={"douyin": {"tip_cut": 0.3}})
    cuts = np.zeros(m.creators.n)
    partner = 0.0
    for _ in range(m.scenario.steps):
        m.step()
        o = m.ledger.today_orders()
        cuts += np.bincount(o.seller, weights=o.creator_cut, minlength=m.creators.n)
        own = o.seller == m.merchants.account[o.merchant]
        assert (o.creator_cut[own] == 0).all()
        share = m.scenario.commerce.creator_share
        assert o.creator_cut[~own] == pytest.approx(share * o.price[~own])
        partner += o.price[~own].sum()
    t = totals(m)
    assert t["tips_total"] > 0 and partner > 0
    assert m.ledger.creator_tips.sum() == pytest.approx(0.7 * t["tips_total"])
    assert t["tip_revenue"] == pytest.approx(0.3 * t["tips_total"])
    assert m.ledger.creator_sales_income == pytest.approx(cuts)


def test_intro_commission_then_category_rate():
    m = model(steps=8, merchants={"new_share": 1.0},
              platforms={"douyin": {"commission": {"intro": 0.01, "intro_days": 4, "fmcg": 0.05}}})
    seen = {}
    for _ in range(8):
        m.step()
        o = m.ledger.today_orders()
        on = o.domain != PRIVATE_WECHAT
        seen[m.day - 1] = set(np.round(o.rate[on], 6).tolist())
    assert all(s <= {0.01} for d, s in seen.items() if d < 4)
    assert all(s <= {0.05} for d, s in seen.items() if d >= 4)
    assert {0.01, 0.05} <= set().union(*seen.values())


# --------------------------------------------------------------------------- fan groups and pushes


def test_more_promotional_pushes_raise_churn_and_past_a_point_cut_private_gmv():
    runs = {ppd: totals(model(**groups(ppd, 0.0)).run()) for ppd in (0.0, 1.0, 2.0, 8.0)}
    churn = [runs[p]["group_churn_30d"] for p in (1.0, 2.0, 8.0)]
    assert churn[0] < churn[1] < churn[2]
    assert runs[0.0]["group_churn_30d"] == 0.0  # no pushes, nobody is annoyed
    private = {p: runs[p]["gmv_private_platform"] + runs[p]["gmv_private_wechat"] for p in runs}
    assert private[1.0] > private[0.0]  # some promotion sells ...
    assert private[8.0] < 0.8 * private[1.0]  # ... too much drives members (and fans) away
    assert runs[8.0]["group_members_end"] < 0.2 * runs[1.0]["group_members_end"]


def test_group_churn_by_hand():
    """Members at day t who are gone by t + window, averaged over t in [0, days - window)."""
    from simulator.commerce.groups import churn_share

    never = 10**9
    # days 0..9, window 3, so t = 0..6. A: in 0..9 (never leaves); B: joins 0, leaves 2;
    # C: joins 4, leaves 8. Shares by t: t0 {A,B}: B leaves by 3 -> 1/2; t1 {A,B} -> 1/2;
    # t2,t3 {A} -> 0; t4 {A,C}: C leaves 8 > 7 -> 0; t5 {A,C}: 8 <= 8 -> 1/2; t6 -> 1/2
    joined, left = np.array([0, 0, 4]), np.array([never, 2, 8])
    assert churn_share(joined, left, 10, 3) == pytest.approx((0.5 + 0.5 + 0 + 0 + 0 + 0.5 + 0.5) / 7)
    # days with no members do not count; nothing closes when the window covers the run
    assert churn_share(np.array([5]), np.array([6]), 10, 3) == pytest.approx(1.0)
    assert np.isnan(churn_share(joined, left, 3, 3))


def test_cac_windows_split_the_run():
    m = model(steps=11).run()
    spend, new = np.stack(m.ledger.spend_by_day), np.stack(m.ledger.new_buyers_by_day)
    assert m.ledger.cac(first=True) == pytest.approx(spend[:5].sum() / new[:5].sum())
    assert m.ledger.cac(first=False) == pytest.approx(spend[6:].sum() / new[6:].sum())


def test_every_push_reaches_every_member():
    """Two promotional pushes a day, no decay, nobody leaves: each member's annoyance is
    exactly 2 × the days they have been in the group (a push skipping members would show)."""
    m = model(steps=8, **groups(2.0, 0.0, promo_annoyance=1.0, annoyance_decay=0.0, tolerance_mean=1000.0,
                                 tolerance_sigma=0.0))
    m.run()
    fg = m.follows
    mem = np.flatnonzero(fg.extra["group"])
    assert len(mem) > 50
    days_in = (m.day - 1) - fg.extra["joined"][mem].astype(np.int64) + 1
    assert np.array_equal(fg.extra["annoy"][mem], 2.0 * days_in)


def test_value_content_lowers_churn_and_raises_intimacy():
    out = {}
    for value in (0.0, 0.6):
        m = model(**groups(2.0, value)).run()
        fg = m.follows
        selling = m.creators.seller[fg.creator] >= 0
        out[value] = (totals(m)["group_churn_30d"], float(fg.intimacy[selling].mean()))
    assert out[0.6][0] < out[0.0][0] - 0.05
    assert out[0.6][1] > out[0.0][1] + 0.03


def test_group_pushes_are_attributed_to_the_group_channel_and_are_private():
    m = model(steps=10, **groups(1.0, 0.0))
    m.run()
    g = ORDER_SOURCES.index("group")
    assert m.ledger.gmv_by_source[0, g] > 0
    off = model(steps=10, **groups(1.0, 0.0, enabled=False)).run()
    assert off.ledger.gmv_by_source[0, g] == 0
    assert totals(off)["group_members_end"] == 0


def test_weak_groups_sell_less_through_pushes():
    g = ORDER_SOURCES.index("group")
    strong = model(**groups(1.0, 0.3), platforms={"douyin": {"group_effect": 1.0}}).run()
    weak = model(**groups(1.0, 0.3), platforms={"douyin": {"group_effect": 0.2}}).run()
    assert weak.ledger.gmv_by_source[0, g] < 0.5 * strong.ledger.gmv_by_source[0, g]


# --------------------------------------------------------------------------- WeChat and bans


def test_diversion_moves_private_gmv_to_wechat_and_cuts_commission():
    base = totals(model().run())
    div = totals(model(merchants={"diversion_share": 1.0}).run())
    assert base["gmv_private_wechat"] == 0
    assert div["gmv_private_wechat"] > 0.02 * div["gmv_total"]
    assert div["wechat_contacts"] > 0
    assert div["commission_revenue"] < base["commission_revenue"]


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


def test_wechat_friend_cap_and_add_limit():
    m = model(merchants={"diversion_share": 1.0, "wechat_accounts": 2},
              commerce={"wechat": {"friend_cap": 6, "adds_per_day": 2, "accept_rate": 1.0}})
    prev = np.zeros(m.merchants.n, dtype=np.int64)
    for _ in range(15):
        m.step()
        now = m.commerce.wechat.per_merchant()[: m.merchants.n]
        assert (now <= 12).all()  # 6 friends × 2 accounts
        assert (now - prev <= 4).all()  # 2 adds a day × 2 accounts (contacts may also leave)
        prev = now
    assert now.max() == 12


# --------------------------------------------------------------------------- ads


def test_more_merchants_competing_for_ads_raise_cac():
    cac = {n: totals(model(population={"merchants": n}).run()) for n in (3, 30)}
    assert cac[30]["cpm_effective"] > 2 * cac[3]["cpm_effective"]
    assert cac[30]["cac"] > 1.5 * cac[3]["cac"]
    assert cac[30]["cac_last_30d"] > cac[3]["cac_last_30d"]


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


# --------------------------------------------------------------------------- switches and validation


def test_commerce_off_sells_nothing():
    t = totals(model(commerce={"enabled": False}, steps=5).run())
    assert t["gmv_total"] == 0 and t["tips_total"] == 0 and t["group_members_end"] == 0
    assert t["ad_revenue"] > 0  # ads are still sold (commercial traffic)


@pytest.mark.parametrize("key,value,needle", [
    ("platforms.douyin.commission.fmcg", "1.5", "allowed 0.0..1.0"),
    ("commerce.groups.value_share", "-0.1", "allowed 0.0..1.0"),
    ("merchants.wechat_accounts", "5", "allowed 1..4"),
    ("commerce.wechat.friend_cap", "0", "allowed 1..1000000"),
    ("merchants.category_mix", "[0, 0, 0, 0]", "category_mix"),
    ("commerce.groups.pushes", "1", "unknown key"),
])
def test_commerce_knobs_are_validated(key, value, needle):
    with pytest.raises(ScenarioError) as err:
        load_scenario("scenarios/douyin.toml", sets=[f"{key}={value}"])
    msg = str(err.value)
    assert needle in msg
    assert key.rsplit(".", 1)[0] in msg


def test_four_wechat_accounts_at_the_real_friend_cap_add_contacts():
    """10,000 friends x 4 accounts = 40,000 (once overflowed a 16-bit count)."""
    m = model(steps=5, merchants={"diversion_share": 1.0, "wechat_accounts": 4})
    m.run()
    assert len(m.commerce.wechat) > 0
