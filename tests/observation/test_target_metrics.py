"""The summary metrics the issue-16 targets read (follower dependence, loyal fans, live
share, monthly group churn), on hand-built numbers and on small runs checked against
independent readings of the state."""

import math

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.observation.measurements import LoyalFans, follower_slope, monthly_churn, true_fan_values
from simulator.state.vocabulary import PRIVATE, PUBLIC

from ..conftest import small


def test_follower_slope_recovers_a_known_elasticity():
    """Guards the regression: views per item = (1 + followers)^0.5 − 1 gives slope 0.5;
    creators without items are left out; too few creators or no spread give NaN."""
    followers = np.array([0, 3, 10, 50, 200, 1000, 7])
    items = np.array([4, 2, 5, 1, 3, 10, 0])
    per_item = (1.0 + followers) ** 0.5 - 1.0
    per_item[-1] = 1e9  # no items: must not count
    assert follower_slope(followers, per_item * items, items) == pytest.approx(0.5)
    assert math.isnan(follower_slope(followers[:2], per_item[:2] * items[:2], items[:2]))
    assert math.isnan(follower_slope(np.full(5, 9), np.arange(5.0), np.ones(5)))


def test_follower_slope_of_a_run_is_that_of_its_creators_table():
    """The summary's slope equals the one computed from creators.csv's columns (organic
    impressions, followers, items; merchants' own accounts left out)."""
    m = TrafficModel(small({"steps": 4}), seed=3, agents=False)
    m.run()
    df = m.creators_frame()
    df = df[(df.merchant < 0) & (df.items_published > 0)]
    organic = df["impressions_public_douyin"] + df["impressions_private_douyin"]
    x = np.log1p(df["followers"].to_numpy(float))
    y = np.log1p(organic.to_numpy(float) / df["items_published"].to_numpy(float))
    expected = np.polyfit(x, y, 1)[0]
    assert m.summary()["totals"]["follower_slope"] == pytest.approx(expected)
    assert m.summary()["platforms"]["douyin"]["follower_slope"] == pytest.approx(expected)


def test_true_fan_values_on_hand_counts():
    """True fans: 6 of 10 follower orders from 25 of 325 edge-days -> share 0.6,
    per-head rate (6/25) / (4/300) = 18."""
    v = true_fan_values(np.array([1.0, 1.0, 2.0, 6.0]), np.array([100.0, 100.0, 100.0, 25.0]))
    assert v["true_fan_order_share"] == pytest.approx(0.6)
    assert v["true_fan_rate_ratio"] == pytest.approx(18.0)
    none = true_fan_values(np.zeros(4), np.array([1.0, 1.0, 1.0, 1.0]))
    assert math.isnan(none["true_fan_order_share"]) and math.isnan(none["true_fan_rate_ratio"])


def test_loyal_fans_summary_weights_days_by_their_follow_edges():
    """Over the run, per-head rates divide by edge-days: a day with 10 true-fan edges of
    100 and a day with 50 of 100 give 60 true edge-days against 140 others."""
    rows = pd.DataFrame({"seller_followers": [100, 100], "true_fan_share_followers": [0.1, 0.5],
                         "orders_potential": [1, 1], "orders_passerby": [1, 1], "orders_liking": [1, 1],
                         "orders_true": [3, 3]})
    out = LoyalFans().summarize(rows, None)
    assert out["true_fan_share_followers"] == 0.5 and out["seller_followers"] == 100
    assert out["true_fan_order_share"] == pytest.approx(6 / 12)
    assert out["true_fan_rate_ratio"] == pytest.approx((6 / 60) / (6 / 140))


def test_loyal_fans_per_step_counts_only_selling_accounts():
    """seller_followers is the follow edges whose creator sells (creators.seller >= 0),
    and the true-fan share is taken among them."""
    m = TrafficModel(small({"steps": 2}), seed=4, agents=False)
    m.run()
    f = m.follows
    sells = m.creators.seller[f.creator] >= 0
    assert 0 < sells.sum() < f.n_edges
    row = m.metrics_frame().iloc[-1]
    assert row["seller_followers"] == sells.sum()
    assert row["true_fan_share_followers"] == pytest.approx(np.mean(f.tier[sells] == 3))


@pytest.mark.parametrize("live_share", [0.0, 0.3, 1.0])
def test_live_share_counts_impressions_of_live_items(live_share):
    """The share of impressions on live sessions equals the one read from the items'
    own impression counts (nothing is archived in a 3-day run); 0 without live items,
    1 when every item is live (ads show merchants' items, live ones included)."""
    m = TrafficModel(small({"steps": 3, "commerce": {"live_share": live_share}}), seed=2, agents=False)
    m.run()
    t = m.summary()["totals"]
    assert m.items.offset == 0
    per_item = m.items.impressions.sum(axis=(0, 2))
    assert t["impressions_live"] == per_item[m.items.live].sum()
    assert t["live_share_impressions"] == pytest.approx(per_item[m.items.live].sum() / per_item.sum())
    assert t["live_share_impressions"] == {0.0: 0.0, 0.3: pytest.approx(t["live_share_impressions"]), 1.0: 1.0}[live_share]
    if live_share == 0.3:
        assert 0.1 < t["live_share_impressions"] < 0.6


def test_monthly_churn_is_the_constant_rate_that_matches_the_leavers():
    """200 members from day 0 of a 30-day run, 37 leave on day 15: the leaving rate is
    37 per (37·15 + 163·30) member-days; churn = 1 − exp(−30 · rate). No leavers: 0."""
    joined = np.zeros(200, np.int64)
    left = np.full(200, 10**9)
    left[:37] = 15
    rate = 37 / (37 * 15 + 163 * 30)
    assert monthly_churn(joined, left, 30, 30) == pytest.approx(1 - math.exp(-30 * rate))
    assert monthly_churn(joined, np.full(200, 10**9), 30, 30) == 0
    assert math.isnan(monthly_churn(np.zeros(0, np.int64), np.zeros(0, np.int64), 30, 30))
    # a constant daily rate h over a month gives about 1 − exp(−30 h) (the source's 200 -> 163)
    h = -math.log(163 / 200) / 30
    rng = np.random.default_rng(0)
    stay = rng.exponential(1 / h, 20000)
    left = np.where(stay < 300, np.floor(stay).astype(np.int64), 10**9)
    assert monthly_churn(np.zeros(20000, np.int64), left, 300, 30) == pytest.approx(0.185, abs=0.01)


def test_group_churn_monthly_reads_the_run_memberships():
    """More promotion (value_share 0 vs 1) drives more members out: the run's monthly rate
    rises (guards that the metric reads the groups' memberships, not a constant)."""
    rates = []
    for value_share in (1.0, 0.0):
        m = TrafficModel(small({"steps": 6, "commerce": {"groups": {"value_share": value_share, "pushes_per_day": 3}}},
                               platform="kuaishou"), seed=1, agents=False)
        m.run()
        joined, left = m.commerce.groups.memberships()
        assert len(joined) > 0
        rates.append(m.summary()["totals"]["group_churn_monthly"])
        assert rates[-1] == pytest.approx(monthly_churn(joined, left, m.day, 30))
    assert rates[1] > rates[0]


def test_the_targets_metrics_only_read(monkeypatch):
    """Measuring the targets' metrics changes nothing: a run without them has the same
    values in every other column (guards against a draw or a state change in them)."""
    from simulator.observation import measurements as M

    def run():
        m = TrafficModel(small({"steps": 4}, platform="kuaishou"), seed=6, agents=False)
        m.run()
        return m.metrics_frame()

    with_them = run()
    new = (M.FollowerDependence, M.LoyalFans, M.LiveShare, M.GroupChurnRate)
    monkeypatch.setattr(M, "MEASUREMENTS", [x for x in M.MEASUREMENTS if not isinstance(x, new)])
    without = run()
    assert list(with_them.columns[: len(without.columns)]) == list(without.columns)
    pd.testing.assert_frame_equal(with_them[without.columns], without)
