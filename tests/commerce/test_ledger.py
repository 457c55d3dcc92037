"""The ledger: money closes every step, commissions, creator income, CAC windows."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.commerce.ledger import PRIVATE_WECHAT

from ..commerce.worlds import expected_rate, model, totals


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


def test_cac_windows_are_real_windows_and_nan_when_the_run_is_shorter():
    """ledger.cac: ad spend / new buyers (all, or only those whose first order came from
    an ad) over exactly the first or last ``window`` days; NaN, not a shorter window,
    when the run is shorter (so the 30-day summary metrics are NaN in an 11-day run)."""
    m = model(steps=11).run()
    spend, new = np.stack(m.ledger.spend_by_day), np.stack(m.ledger.new_buyers_by_day)
    new_ad = np.stack(m.ledger.new_buyers_ad_by_day)
    assert 0 < new_ad.sum() < new.sum()
    assert m.ledger.cac(first=True, window=5) == pytest.approx(spend[:5].sum() / new[:5].sum())
    assert m.ledger.cac(first=False, window=5) == pytest.approx(spend[6:].sum() / new[6:].sum())
    assert m.ledger.cac(first=True, window=5, ad_only=True) == pytest.approx(spend[:5].sum() / new_ad[:5].sum())
    assert m.ledger.cac(first=False, window=11) == pytest.approx(spend.sum() / new.sum())
    assert np.isnan(m.ledger.cac(first=True, window=12))
    t = totals(m)
    for kind in ("ad", "blended"):
        assert np.isnan(t[f"cac_{kind}_first_30d"]) and np.isnan(t[f"cac_{kind}_last_30d"])
    assert np.isnan(t["group_churn_30d"])


def test_ad_attributed_and_blended_cac():
    """cac_ad counts only new buyers whose first order with the merchant came from an ad
    impression (order source ads); cac_blended all new buyers: in metrics.csv, summary
    and merchants.csv, from the orders themselves."""
    from simulator.commerce.ledger import ADS
    from simulator.io.frames import merchants_frame

    m = model(steps=6)
    new_ad, new_all = np.zeros(m.merchants.n), np.zeros(m.merchants.n)
    for _ in range(6):
        m.step()
        o = m.ledger.today_orders()
        new_all += np.bincount(o.merchant[o.new_buyer].astype(np.int64), minlength=m.merchants.n)
        first_from_ad = o.new_buyer & (o.source == ADS)
        new_ad += np.bincount(o.merchant[first_from_ad].astype(np.int64), minlength=m.merchants.n)
    assert 0 < new_ad.sum() < new_all.sum()
    spend = m.ledger.ad_spend.sum()
    t = totals(m)
    assert t["new_buyers_ad"] == new_ad.sum() and t["new_buyers"] == new_all.sum()
    assert t["cac_ad"] == pytest.approx(spend / new_ad.sum())
    assert t["cac_blended"] == pytest.approx(spend / new_all.sum())
    df = merchants_frame(m)
    assert (df["new_buyers_ad"] == new_ad).all() and (df["new_buyers"] == new_all).all()
    ok = new_ad > 0
    assert np.allclose(df["cac_ad"][ok], m.ledger.ad_spend.sum(axis=0)[ok] / new_ad[ok])
    assert "cac" not in t and "cac" not in df.columns


def test_commerce_off_sells_nothing():
    t = totals(model(commerce={"enabled": False}, steps=5).run())
    assert t["gmv_total"] == 0 and t["tips_total"] == 0 and t["group_members_end"] == 0
    assert t["ad_revenue"] > 0  # ads are still sold (commercial traffic)
