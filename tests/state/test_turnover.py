"""Creators and merchants enter and exit (state/turnover.py, docs/ODD.md 7.10)."""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.agents import Creator
from simulator.observation.measurements import Turnover as TurnoverMeasurement
from simulator.observation.views import views
from tests.conftest import small

TINY = {"population": {"users": 800, "creators": 60, "merchants": 4}}


def tiny(overrides: dict | None = None) -> dict:
    return small({**TINY, **(overrides or {})})


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


OFF = {"creators": {"entry_rate": 0.0, "exit_impressions": 0.0, "exit_income": 0.0, "exit_window": 3},
       "merchants": {"exit_loss_days": 0, "entrant_pool": 0, "entry_rate": 0.5, "entry_memory": 3}}


def test_off_is_the_static_model():
    """Guards that entry and exit switched off explicitly (with their other knobs moved)
    give the default's metrics bit for bit: nothing runs and no random number is drawn
    (mutation checked: ``Turnover.creator_exit = True`` whatever the bars, so that every
    creator past exit_window days exits, fails)."""
    a = TrafficModel(tiny(), seed=3).run(6)
    b = TrafficModel(_merge(tiny(), OFF), seed=3).run(6)
    pd.testing.assert_frame_equal(a.metrics_frame(), b.metrics_frame())
    pd.testing.assert_frame_equal(a.creators_frame(), b.creators_frame())
    assert (a.metrics_frame()["creators_entered"] == 0).all()
    assert (a.metrics_frame()["creators_active"].iloc[-1] == 60)


ECOSYSTEM = {"platforms": {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou"},
                           "taobao": {"policy": "douyin", "kind": "shelf",
                                      "shelf": {"intent_rate": 0.2, "recall_every": 2}}},
             "merchants": {"learning": True},
             "creators": {"multi_homing": True, "cross_post_share": 0.3, "expand_rate": 0.2, "expand_window": 3},
             "attention": {"enabled": True, "adopt_rate": 0.05}}


@pytest.mark.parametrize("world", ["one feed", "ecosystem"])
def test_a_pool_of_merchants_who_never_enter_shifts_no_other_draws(world):
    """Guards ODD 7.10's promise that an entry pool shifts no other submodel's draws: a
    scenario with potential merchants who never enter (entry_rate 0: their dormant rows
    wait all run) gives the metrics of the same scenario without them, on one feed and
    with learning merchants, multi-homing, expansion, attention and a shelf platform.
    Their rows draw no posts, group or WeChat pushes, diversion bans, presence or
    expansion draws, and their shelf price bands come from a stream of their own
    (mutation checked, each on its own: drawing every creator row's posts and zeroing the
    inactive ones after, as the code did; the bans' draw over every merchant; the
    expansion's over every creator; the shop bands from the shelves' stream). Equal up to
    float summation order (zero rows in the sums)."""
    base = {"merchants": {"diversion_share": 1.0}, "commerce": {"wechat": {"pushes_per_day": 0.5}}}
    if world == "ecosystem":
        base = _merge(base, ECOSYSTEM)
    pool = _merge(base, {"merchants": {"entrant_pool": 6, "entry_rate": 0.0}})
    a = TrafficModel(tiny(base), seed=5).run(12)
    b = TrafficModel(tiny(pool), seed=5).run(12)
    assert b.creators.n == a.creators.n + 6 and not b.creators.active[-6:].any()
    frame = a.metrics_frame()
    assert frame["wechat_contacts"].max() > 0  # the WeChat pushes ran
    if world == "ecosystem":
        assert frame["creators_expanded"].sum() > 0 and frame["recalls"].sum() > 0
    pd.testing.assert_frame_equal(frame, b.metrics_frame(), check_exact=False, rtol=1e-12)


def test_arrivals_are_poisson_at_the_rate():
    """Guards the entry rate: mean entrants a day = entry_rate × population.creators
    (mutation checked: Poisson(entry_rate) without × creators fails; so does × 2)."""
    m = TrafficModel(tiny({"creators": {"entry_rate": 0.1}}), seed=5)
    m.run(30)
    df = m.metrics_frame()
    entered = df.loc[df["platform"] == "all", "creators_entered"].to_numpy()
    expected = 0.1 * 60  # 6 a day; the mean of 30 days has sd sqrt(6/30) ≈ 0.45
    assert abs(entered.mean() - expected) < 4 * np.sqrt(expected / 30)
    assert entered.var() > 0  # random, not a fixed count
    assert m.creators.n == 60 + entered.sum()
    assert m.creators.entrant.sum() == entered.sum()


def test_entrants_start_without_followers_and_get_items_and_impressions():
    """Guards that a new creator is a blank account that still reaches viewers: no
    followers at entry (followers = gained − lost), items published, impressions
    (mutation checked: appending entrants with active=False, so they never post, fails)."""
    m = TrafficModel(tiny({"creators": {"entry_rate": 0.1}}), seed=2)
    m.run(8)
    df = m.creators_frame()
    new = df[df["entry_day"] >= 0].loc[lambda d: d.index >= 60]
    assert len(new) > 20
    assert (new["followers_start"] == 0).all()
    assert (new["followers"] == new["follows_gained"] - new["follows_lost"]).all()
    assert (new["active"]).all() and (new["exit_day"] == -1).all()
    early = new[new["entry_day"] <= 5]
    assert (early["items_published"] > 0).mean() > 0.5
    impressions = early.filter(like="impressions_").sum(axis=1)
    # without fans they are seen through recommendation and same city only, which on a
    # centralized feed concentrates on few items (as for the initial creators' items)
    assert (impressions > 0).mean() > 0.2
    assert (early["followers"] > 0).any()


def test_creators_csv_marks_the_entrants_also_those_of_day_0():
    """docs/outputs.md: creators.csv's ``entrant`` is true for the creators that arrived by
    creator entry, day 0 included (their entry_day is 0, as the initial creators': entry_day
    cannot tell them apart), false for the initial creators and for merchants' accounts,
    the potential merchants' dormant ones included (mutation checked: no column fails, and
    so does ``entry_day > 0``, which reads day 0's entrants as initial)."""
    m = TrafficModel(tiny({"creators": {"entry_rate": 0.1}, "merchants": {"entrant_pool": 3}}), seed=2)
    m.run(4)
    df = m.creators_frame()
    initial, pool = 60, 3  # the potential merchants' accounts follow the initial creators
    arrived = df.index >= initial + pool
    assert (df["entrant"] == arrived).all()
    assert (df.loc[arrived, "entry_day"] == 0).sum() > 0  # day 0's entrants
    assert ((df["entry_day"] == 0) & ~df["entrant"]).sum() == initial
    assert not df.loc[df["merchant"] >= 0, "entrant"].any()
    entered = df.loc[initial:initial + pool - 1, "entry_day"] > 0  # potential merchants' accounts that entered
    assert entered.any()
    # creators_entered counts the entrants and the accounts of the merchants that entered
    every = m.metrics_frame().query("platform == 'all'")
    assert int(df["entrant"].sum()) + int(entered.sum()) == int(every["creators_entered"].sum())


@pytest.mark.parametrize("income", [0.0, 0.5])
def test_creator_exit_fires_exactly_by_the_threshold(income):
    """Guards the exit rule: on each day, exactly the active non-merchant creators at
    least exit_window days old whose mean daily impressions over the last exit_window
    days are below exit_impressions (and, with exit_income set, whose mean daily income
    is below it too) stop posting; a creator above stays (mutation checked: a window of
    exit_window − 1 days fails; dropping the age condition fails; treating the two bars
    as 'either' instead of 'both' fails the income case)."""
    W, bar = 3, 15.0
    m = TrafficModel(tiny({"creators": {"exit_impressions": bar, "exit_income": income, "exit_window": W},
                           "merchants": {"daily_ad_budget": 0.0}}), seed=4)
    cum_imp, cum_inc = [np.zeros(m.creators.n)], [np.zeros(m.creators.n)]
    exits = stays = 0
    for t in range(10):
        active_before = m.creators.active.copy()
        m.step()
        c = m.creators
        if t >= W:
            mean_imp = (cum_imp[t] - cum_imp[t - W]) / W
            mean_inc = (cum_inc[t] - cum_inc[t - W]) / W
            low = mean_imp < bar
            if income > 0:
                low &= mean_inc < income
            eligible = active_before & (c.merchant < 0)
            expected = eligible & low
            assert np.array_equal(active_before & ~c.active, expected), t
            assert (c.exit_day[expected] == t).all()
            exits += int(expected.sum())
            stays += int((eligible & ~low).sum())
        else:
            assert c.active.all()
        cum_imp.append(c.impressions.sum(axis=(0, 2)).astype(float))
        cum_inc.append(m.ledger.creator_sales_income + m.ledger.creator_tips)
    assert exits > 0 and stays > 0
    assert (m.creators.active[m.creators.merchant >= 0]).all()  # accounts never exit on their own
    df = m.metrics_frame()
    assert df.loc[df["platform"] == "all", "creators_exited"].sum() == exits


def test_exited_creators_publish_nothing():
    """Guards that an exited creator stops posting (mutation checked: removing
    ``posts[~creators.active] = 0`` from publishing fails)."""
    m = TrafficModel(tiny({"creators": {"exit_impressions": 15.0, "exit_window": 2}}), seed=4)
    m.run(8)
    gone = np.flatnonzero(m.creators.exit_day >= 0)
    assert len(gone) > 0
    items = m.items_frame()
    exit_day = pd.Series(m.creators.exit_day[gone], index=gone)
    late = items[items["creator"].isin(gone)]
    assert (late["day"] < exit_day.loc[late["creator"]].to_numpy()).all()


def test_growth_keeps_every_array_consistent():
    """Guards the one growth path: after 20 days of heavy entry every creator-sized
    array has one row per creator (CreatorState fields of every shape, the ledger's
    per-creator money, the follow graph's key base, the exit rings, agents, tables),
    and creators_active moves by entered − exited (mutation checked: leaving out
    ledger.grow_creators or follows.grow_creators fails)."""
    m = TrafficModel(tiny({"creators": {"entry_rate": 0.3, "exit_impressions": 10.0, "exit_window": 4},
                           "merchants": {"entrant_pool": 3, "exit_loss_days": 4, "entry_rate": 0.5}}), seed=8)
    m.run(20)
    c, C = m.creators, m.creators.n
    assert C > 60 + 3 + 200
    for f in fields(c):
        arr = getattr(c, f.name)
        assert arr.shape[c.CREATOR_AXIS.get(f.name, 0)] == C, f.name
    for name in m.ledger.CREATOR_ARRAYS:
        assert len(getattr(m.ledger, name)) == C, name
    assert m.follows.n_creators == C
    assert m.turnover.cum_impressions.shape[1] == C and m.turnover.cum_income.shape[1] == C
    assert len(m.agents_by_type[Creator]) == C
    assert len(m.creators_frame()) == C
    assert m.follows.followers().shape == (C,)
    assert m.items.creator.max() < C
    # follow keys still find every edge after the key base grew
    assert (m.follows.lookup(m.follows.src, m.follows.creator) == np.arange(m.follows.n_edges)).all()
    df = m.metrics_frame()
    for name in m.platforms.keys() | {"all"}:
        d = df[df["platform"] == name]
        a = d["creators_active"].to_numpy()
        assert (np.diff(a) == (d["creators_entered"] - d["creators_exited"]).to_numpy()[1:]).all(), name
    assert df.loc[df["platform"] == "all", "creators_active"].iloc[-1] == c.active.sum()


def test_new_creator_success_is_exact_on_a_constructed_case():
    """Guards the success metric: the cohort is the entrants with entry day in
    [t − 2S + 2, t − S + 1] (success is recorded before day t's metrics, so day t − S + 1's
    entrants have had their S days; mutation checked: the earlier [t − 2S + 1, t − S]
    fails) and success means success_day − entry_day < S (mutation checked: ``<= S``
    fails; a cohort of [t − S, t] fails), and record() dates success on the first day a
    threshold is reached (mutation checked: not recording fails)."""
    on = {"exit_impressions": 1.0, "exit_window": 365}  # turnover on, no exit within the test
    m = TrafficModel(tiny({"metrics": {"success_days": 5}, "creators": on}), seed=1)
    turnover = m.turnover
    entry = np.array([0, 1, 2, 3, 4, 5])
    success = np.array([2, -1, 7, 8, 4, -1])
    rows = turnover.grow_creators(6, active=True, entry_day=entry, entrant=True, success_day=success,
                                  home=np.zeros(6, np.int8))
    m.run(1)  # a day of metrics to make views from
    measure = TurnoverMeasurement()
    for day, share in ((9, 1 / 5), (10, 1 / 4), (8, 2 / 5), (4, 1.0), (3, float("nan"))):
        m.day = day
        out = measure.measure(views(m)[-1])
        assert out["new_creator_success"] == pytest.approx(share, nan_ok=True), day
    assert np.isnan(turnover.success_share(4, 0, 1))  # no entrant has platform 1 as home
    # record(): an entrant reaching the follower threshold is dated today
    m.day = 3
    c = rows[1]
    m.creators.success_day[c] = -1
    need = m.scenario.metrics.success_followers
    m.follows.add(np.arange(need), np.full(need, c), 0.1)
    turnover.record()
    assert m.creators.success_day[c] == 3
    assert m.creators.success_day[rows[5]] == -1


def _loss_world(**merchants):
    return tiny({"population": {"users": 800, "creators": 60, "merchants": 6},
                 "merchants": {"daily_ad_budget": 1e6, "budget_sigma": 0.0, "diversion_share": 1.0, **merchants},
                 "commerce": {"enabled": True, "partner_share": 0.5, "intercept": -2.0,
                              "groups": {"enabled": True, "join_rate": 1.0, "join_intimacy": 0.0},
                              "wechat": {"accept_rate": 1.0}}})


def test_merchant_exits_after_sustained_losses_and_its_ads_stop():
    """Guards merchant exit: with a budget far above what sales earn every merchant
    loses, exits on the first day it has exit_loss_days days of losses behind it, then
    buys no ads, sells nothing (feed, groups, visits, WeChat), its account posts nothing,
    its and its partners' fan groups close and its WeChat contacts go (mutation checked,
    each fails: leaving ``~merchants.active`` out of the ad market's budget; the exit rule
    neutralised; feed sales not skipping exited merchants; selling_edges not requiring an
    active account; not dropping the WeChat contacts; not closing the groups; partners
    keeping the link)."""
    L = 3
    m = TrafficModel(_loss_world(exit_loss_days=L), seed=2)
    m.run(L)
    assert m.merchants.active.all()
    spend_before = m.ledger.ad_spend.sum(axis=0).copy()
    assert (spend_before > 0).all()
    sellers = m.creators.seller >= 0
    members = m.commerce.groups.member_edges()
    assert sellers[m.follows.creator[members]].any() and len(m.commerce.wechat) > 0
    m.step()  # day L: the first with L days behind
    assert not m.merchants.active.any()
    assert (m.merchants.exit_day == L).all()
    assert not m.creators.active[m.merchants.account].any()
    spend, orders = m.ledger.ad_spend.sum(axis=0).copy(), m.ledger.orders.copy()
    m.run(3)
    assert np.array_equal(m.ledger.ad_spend.sum(axis=0), spend)
    assert np.array_equal(m.ledger.orders, orders)
    items = m.items_frame()
    assert not ((items["creator"].isin(m.merchants.account)) & (items["day"] >= L)).any()
    df = m.metrics_frame()
    assert df.loc[df["platform"] == "all", "merchants_exited"].sum() == 6
    assert df.loc[df["platform"] == "all", "merchants_active"].iloc[-1] == 0
    assert len(m.commerce.selling_edges()) == 0  # no private channel sells for an exited merchant
    assert not sellers[m.follows.creator[m.commerce.groups.member_edges()]].any()  # its and its partners' groups closed
    assert len(m.commerce.wechat) == 0  # its WeChat contacts dropped
    assert (m.creators.seller[sellers & (m.creators.merchant < 0)] == -1).all()  # partners carry no link


@pytest.mark.parametrize("profitable", [False, True])
def test_merchants_enter_only_when_incumbents_profit(profitable):
    """Guards merchant entry: potential merchants enter only when their category's
    incumbents made a profit (mutation checked: dropping ``expected > 0`` fails the
    losing case), and an entrant's account activates on its entry day."""
    budget = 0.0 if profitable else 1e6
    m = TrafficModel(tiny({"population": {"users": 800, "creators": 60, "merchants": 4},
                           "merchants": {"daily_ad_budget": budget, "budget_sigma": 0.0, "entrant_pool": 5,
                                         "entry_rate": 1.0, "entry_memory": 3, "category_mix": (1.0, 0.0, 0.0, 0.0)}}),
                      seed=3)
    pool = np.arange(4, 9)
    assert not m.merchants.active[pool].any() and (m.merchants.entry_day[pool] == -1).all()
    assert m.follows.followers()[m.merchants.account[pool]].sum() == 0
    m.run(4)
    entered = m.merchants.active[pool]
    if profitable:
        assert np.nanmean(m.turnover.mean_profit(3)[:4]) > 0
        assert entered.all()
        assert (m.merchants.entry_day[pool] == 1).all()  # day 0 has no history
        assert (m.creators.entry_day[m.merchants.account[pool]] == 1).all()
        assert m.creators.active[m.merchants.account[pool]].all()
    else:
        assert not entered.any()
        assert (m.merchants.entry_day[pool] == -1).all()


def test_intro_commission_runs_from_the_entry_day():
    """Guards the per-merchant intro period: a new merchant entering on day 5 pays the
    intro rate on day 31 (26 days in) and the category's rate on day 35 (mutation
    checked: the static rule ``day < intro_days`` fails)."""
    m = TrafficModel(tiny(), seed=1)
    ledger, merchants = m.ledger, m.merchants
    merchants.new[0], merchants.entry_day[0] = True, 5
    intro_days = ledger.intro_days[0]
    one = np.array([0])
    kw = dict(platform=one, merchant=one, seller=merchants.account[one].astype(np.int64), user=one, domain=one,
              source=one, new_buyer=np.array([False]), buyer_tier=one)
    assert ledger.book_orders(**kw, day=5 + intro_days - 4).rate[0] == ledger.intro[0]
    assert ledger.book_orders(**kw, day=5 + intro_days).rate[0] == ledger.rates[0, merchants.category[0]]
