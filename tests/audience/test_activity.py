"""Users' activity responds to their feed (docs/ODD.md 7.2.1, audience/activity.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.audience.activity import LAPSE_DAYS, rise, unbiased_round
from simulator.state.vocabulary import ADS

from ..conftest import small


def scenario(activity: dict | None = None, overrides: dict | None = None, **platform_knobs) -> dict:
    """The small one-platform world with ``platforms.douyin.activity`` set to ``activity``."""
    sc = small(overrides, **platform_knobs)
    if activity is not None:
        sc["platforms"]["douyin"]["activity"] = activity
    return sc


def metrics(sc: dict, days: int, seed: int = 3) -> pd.DataFrame:
    m = TrafficModel(sc, seed=seed)
    m.run(days)
    return m.metrics_frame()


def douyin(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["platform"] == "douyin"].reset_index(drop=True)


# ---------------------------------------------------------------------------- off = the static model


def test_off_and_sensitivity_zero_are_the_static_model():
    """Guards that the mechanism is off by default and inert at sensitivity 0: a scenario
    with activity explicitly off (and its other knobs far from their defaults), and one
    with it on at both sensitivities 0, give exactly the default's metrics (every column,
    every day; satisfaction is measured in all three). Fails when an off platform's open
    probability or slots are computed from satisfaction, when the sensitivities do not
    leave daily_active and feed_slots exact, or when the activity draws come from the
    feed's stream instead of their own."""
    days = 6
    knobs = {"memory": 2.0, "recovery": 3.0, "reference": 0.9, "ad_aversion": 3.0, "push_aversion": 1.0, "max_session": 1.2}
    default = metrics(scenario(), days)
    off = metrics(scenario({"enabled": False, "sensitivity": 40.0, "session_sensitivity": 40.0, **knobs}), days)
    flat = metrics(scenario({"enabled": True, "sensitivity": 0.0, "session_sensitivity": 0.0, **knobs}), days)
    static = default.drop(columns="mean_satisfaction")
    pd.testing.assert_frame_equal(off.drop(columns="mean_satisfaction"), static)
    pd.testing.assert_frame_equal(flat.drop(columns="mean_satisfaction"), static)
    pd.testing.assert_frame_equal(off, flat)  # same satisfaction knobs, same measured satisfaction
    assert (douyin(default)["slots_per_active"] == 12).all()


def test_same_seed_same_run_with_activity_on():
    """Guards determinism with the mechanism on: the same scenario and seed give identical
    metrics; another seed gives others (the activity stream is seeded from the scenario).
    Fails when the mechanism draws from an unseeded or global generator."""
    sc = scenario({"enabled": True, "sensitivity": 8.0, "session_sensitivity": 4.0})
    a, b, c = metrics(sc, 5), metrics(sc, 5), metrics(sc, 5, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


# ---------------------------------------------------------------------------- the rule, exactly


def test_satisfaction_follows_its_update_rule():
    """Guards the satisfaction rule (ODD 7.2.1), on each of two platforms: for each user
    who opened the platform, S ← S + (x − S)/memory with x = engaged/k −
    ad_aversion·ads/k − push_aversion·push (push: the annoyance today's promotional pushes
    of fan groups on *that* platform added); for a user of the platform who did not open
    it, S ← S + (reference − S)/recovery; users of the other platform only keep their S.
    Checked against the day logs, recomputed here, on a day with ads and pushes. Fails
    when a term is dropped, memory or recovery is ignored, or the push annoyance is not
    that day's or not that platform's."""
    a = {"enabled": True, "memory": 4.0, "recovery": 9.0, "reference": 0.45, "ad_aversion": 2.0, "push_aversion": 0.2,
         "sensitivity": 6.0, "session_sensitivity": 3.0}
    over = {"merchants": {"daily_ad_budget": 1e5},
            "commerce": {"groups": {"join_intimacy": 0.0, "join_rate": 1.0, "value_share": 0.0}},
            "platforms": {"douyin": {"ad_load": 0.3, "adoption": 0.8, "activity": a},
                          "kuaishou": {"policy": "kuaishou", "adoption": 0.6,
                                       "activity": {**a, "memory": 2.0, "recovery": 5.0, "push_aversion": 0.5}}}}
    m = TrafficModel(small(over), seed=5)
    m.run(3)
    before = m.activity.satisfaction.astype(np.float64).copy()
    m.step()
    day, n = m.day - 1, m.users.n
    user, platform, annoy = m.commerce.groups.promo_annoyance_received(day)
    for log in m.day_logs:
        p, cfg = log.platform.index, log.platform.cfg.activity
        imp, engaged = log.impressions, log.reactions.engaged
        k = np.bincount(imp.user, minlength=n)
        hits = np.bincount(imp.user[engaged], minlength=n)
        ads = np.bincount(imp.user[imp.source == ADS], minlength=n)
        push = np.bincount(user[platform == p], weights=annoy[platform == p], minlength=n)
        assert push.sum() > 50 and ads.sum() > 100  # the day has both
        x = (hits - cfg.ad_aversion * ads) / np.maximum(k, 1) - cfg.push_aversion * push
        opened = np.zeros(n, bool)
        opened[log.platform.active_users] = True
        uses = m.users.uses[:, p]
        assert opened.sum() > 0.1 * n and (uses & ~opened).sum() > 0.1 * n and (~uses).sum() > 0.1 * n
        s0 = before[:, p]
        expected = np.where(opened, s0 + (x - s0) / cfg.memory,
                            np.where(uses, s0 + (cfg.reference - s0) / cfg.recovery, s0))
        np.testing.assert_allclose(m.activity.satisfaction[:, p], expected, atol=2e-6, err_msg=log.platform.name)
        last = m.activity.last_open[:, p]
        assert (last[opened] == day).all() and (last[~opened] < day).all()


def test_open_probability_and_session_length_follow_satisfaction():
    """Guards the response (ODD 7.2.1): tomorrow each user opens with probability
    min(1, daily_active · 2σ(sensitivity · Δ)) and an active user gets feed_slots ·
    min(max_session, 2σ(session_sensitivity · Δ)) slots in expectation (Δ = satisfaction − reference),
    never more than ⌈max_session · feed_slots⌉. Checked against the next day's active
    users (in two halves of Δ, so the slope shows) and slots offered, within 5 standard
    errors. Fails when the feed ignores the open probability or the session length, when
    sensitivity or max_session is ignored, or when slots are rounded with a bias."""
    a = {"enabled": True, "memory": 1.0, "reference": 0.6, "sensitivity": 6.0, "session_sensitivity": 4.0, "max_session": 1.5}
    m = TrafficModel(scenario(a, daily_active=0.6, feed_slots=10), seed=6)
    m.run(3)
    s = m.activity.satisfaction[:, 0].astype(np.float64)
    delta = s - a["reference"]
    assert delta.std() > 0.1  # users differ
    p = np.minimum(1.0, 0.6 * 2.0 / (1.0 + np.exp(-a["sensitivity"] * delta)))
    m.step()
    platform = m.platforms["douyin"]
    opened = np.zeros(m.users.n, bool)
    opened[platform.active_users] = True
    low = delta < np.median(delta)
    for half in (low, ~low):
        expected, sd = p[half].sum(), math.sqrt((p[half] * (1 - p[half])).sum())
        assert abs(opened[half].sum() - expected) < 5 * sd, (opened[half].sum(), expected)
    assert opened[~low].mean() > opened[low].mean() + 0.1
    K = 10 * np.minimum(1.5, 2.0 / (1.0 + np.exp(-a["session_sensitivity"] * delta[opened])))
    assert (K == 15).mean() > 0.02 and (K < 8).mean() > 0.02  # the cap binds for some, others watch less
    frac = K - np.floor(K)
    assert abs(platform.slots_today - K.sum()) < 5 * math.sqrt((frac * (1 - frac)).sum()) + 1
    assert np.bincount(m.day_logs[0].impressions.user).max() <= math.ceil(1.5 * 10)
    row = douyin(m.metrics_frame()).iloc[-1]
    assert row["slots_per_active"] == pytest.approx(platform.slots_today / platform.active_today)


def test_rise_and_unbiased_round():
    """Guards the two helpers: R = 2σ rises from 0 through exactly 1 at 0 to 2; the
    rounding has the exact mean and stays within ⌈x⌉. Fails on a biased rounding (e.g.
    plain floor or round) or an R not 1 at the reference."""
    y = np.linspace(-30, 30, 61)
    f = rise(y)
    assert rise(0.0) == 1.0 and np.all(np.diff(f) > 0) and f[0] < 1e-12 and f[-1] == pytest.approx(2.0)
    np.testing.assert_allclose(f, 1.0 + np.tanh(y / 2), atol=1e-15)  # 2σ(y)
    x = np.full(200_000, 12.3)
    k = unbiased_round(x, np.random.default_rng(0))
    assert set(np.unique(k)) == {12, 13} and abs(k.mean() - 12.3) < 5 * math.sqrt(0.21 / len(x))
    assert (unbiased_round(np.full(10, 7.0), np.random.default_rng(0)) == 7).all()


def test_rise_far_below_the_reference_is_zero_without_a_warning():
    """sensitivity up to 1000 and satisfaction below the reference by more than 0.71 (an
    ad_aversion of 1 can do it) put y below −709, where e^(−y) overflows: R must be exactly
    0 there, and no RuntimeWarning reach the user (``trafficsim run`` printed numpy's
    'overflow encountered in exp' at legal settings). Fails without the errstate."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f = rise(np.array([-1000.0, -710.0, 0.0, 1000.0]))
        assert rise(-5000.0) == 0.0
    assert f[0] == 0.0 and f[1] == 0.0 and f[2] == 1.0 and f[3] == 2.0


# ---------------------------------------------------------------------------- what it does in a run


def test_ads_lower_activity_only_when_it_responds():
    """Guards that satisfied users open more and watch more: at equal everything else, a
    high ad load lowers DAU and slots per active user when activity responds, and leaves
    DAU where it is (within noise) when it does not. Fails when the open probability or
    the session length ignores satisfaction, or satisfaction ignores the ads."""
    over = {"merchants": {"daily_ad_budget": 1e5}}
    on = {"enabled": True}
    runs = {(ad, act is not None): douyin(metrics(scenario(act, over, ad_load=ad), 10)).iloc[4:]
            for ad in (0.05, 0.4) for act in (None, on)}
    for responds in (False, True):
        lo, hi = runs[(0.05, responds)], runs[(0.4, responds)]
        assert hi["source_ads"].sum() > 4 * lo["source_ads"].sum()
        drop = 1 - hi["active_users"].mean() / lo["active_users"].mean()
        if responds:
            assert drop > 0.08, drop
            assert hi["slots_per_active"].mean() < lo["slots_per_active"].mean() - 0.3
            assert hi["mean_satisfaction"].iloc[-1] < lo["mean_satisfaction"].iloc[-1] - 0.03
        else:
            assert abs(drop) < 0.03, drop
            assert (hi["slots_per_active"] == 12).all() and (lo["slots_per_active"] == 12).all()


def test_push_annoyance_lowers_activity():
    """Guards the push term: with promotion-only fan-group pushes, group members open the
    platform less when push_aversion is positive than when it is 0, and their satisfaction
    is lower; other users are not affected as much. Fails when the push annoyance does not
    reach satisfaction or is read from the wrong platform."""
    over = {"population": {"merchants": 20},
            "commerce": {"groups": {"join_intimacy": 0.0, "join_rate": 1.0, "pushes_per_day": 1.0, "value_share": 0.0}}}
    rates = {}
    for aversion in (0.0, 0.3):
        m = TrafficModel(scenario({"enabled": True, "push_aversion": aversion}, over), seed=3)
        opened = []
        for _ in range(10):
            m.step()
            opened.append(np.isin(np.arange(m.users.n), m.platforms["douyin"].active_users))
        members = np.zeros(m.users.n, bool)
        members[m.follows.src[m.commerce.groups.member_edges()]] = True
        assert members.mean() > 0.2
        rates[aversion] = np.array(opened)[-4:, members].mean(), m.activity.satisfaction[members, 0].mean()
    assert rates[0.3][0] < rates[0.0][0] - 0.2, rates
    assert rates[0.3][1] < rates[0.0][1] - 0.1, rates


def test_users_lapse_and_come_back():
    """Guards lapse and return: users whose feed falls far below their reference (bad days)
    stop opening the platform (lapsed_users counts those who did not open it for 7 days),
    and, as their satisfaction drifts back toward the reference on the days they stay
    away, they open it again. Fails when non-openers' satisfaction does not drift (the
    lapsed never return) or when lapsed_users is not counted from the last open."""
    a = {"enabled": True, "reference": 0.9, "sensitivity": 15.0, "memory": 1.0, "recovery": 8.0}
    m = TrafficModel(scenario(a), seed=8)
    opened = []
    for _ in range(30):
        m.step()
        opened.append(np.isin(np.arange(m.users.n), m.platforms["douyin"].active_users))
    opened = np.array(opened)  # days × users
    df = douyin(m.metrics_frame())
    assert df["lapsed_users"].max() > 0.3 * m.users.n
    # lapsed_users is the count of users with no open in the last LAPSE_DAYS days
    last = opened[-LAPSE_DAYS:].any(axis=0)
    assert df["lapsed_users"].iloc[-1] == int((~last).sum())
    # users who opened, then stayed away for at least LAPSE_DAYS days, then opened again
    user, day = np.nonzero(opened.T)  # by user, then day
    gap = (np.diff(day) > LAPSE_DAYS) & (np.diff(user) == 0)
    returned = len(np.unique(user[1:][gap]))
    assert returned > 0.5 * m.users.n, returned


def test_pools_and_cap_are_shares_of_todays_expected_dau():
    """pool_base and exposure_cap are shares of daily active users: where activity
    responds, the traffic pools and the cap take today's expected DAU (users × adoption
    × daily_active × the users' mean open probability relative to daily_active), not the
    static value (mutation checked: the static formula for every platform fails)."""
    m = TrafficModel(scenario({"enabled": True, "sensitivity": 5.0}, exposure_cap=0.05), seed=3)
    static = m.users.n * 1.0 * m.platforms["douyin"].cfg.daily_active
    m.activity.satisfaction[:, 0] = m.platforms["douyin"].cfg.activity.reference + 0.2  # happy users open more
    m.step()
    platform = m.platforms["douyin"]
    expected = platform.expected_dau  # today's open probabilities, relative to daily_active
    # the pools took the value the day started with (satisfaction has moved since)
    assert platform.policy.pools.expected_dau > 1.3 * static
    assert platform.policy.pools.size(0) == pytest.approx(platform.cfg.pool_base * platform.policy.pools.expected_dau)
    assert expected > 1.3 * static  # and the property reads today's probabilities
    off = TrafficModel(scenario(), seed=3)
    off.step()
    assert off.platforms["douyin"].policy.pools.expected_dau == off.users.n * 1.0 * off.platforms["douyin"].cfg.daily_active


@pytest.mark.parametrize("feed_columns", [[0, 1, 2, 3], [0, 2, 3]])
def test_activity_readings_are_what_lapsed_and_mean_satisfaction_computed_one_by_one(feed_columns):
    """Guards Activity.readings (issue #17: one pass for every platform, shared by one
    step's views): lapsed users per platform and on all platforms used, and the mean
    satisfaction per platform and over user-platform pairs, equal (bit for bit) to the
    one-platform-at-a-time formulas they replaced, on a state of random opens, uses and
    satisfactions, with users of no platform and a platform nobody uses. With a shelf
    platform (column 1 not a feed column) the all readings (index None) are over the feed
    platforms only (docs/outputs.md; mutation checked: the all readings over every
    column fail)."""
    from types import SimpleNamespace

    from simulator.audience.activity import Activity

    rng = np.random.default_rng(8)
    n, n_p, day = 3000, 4, 20
    a = Activity.__new__(Activity)
    uses = rng.random((n, n_p)) < 0.5
    uses[:, 3] = False
    a.model = SimpleNamespace(day=day, users=SimpleNamespace(uses=uses))
    a.cfgs = [None] * n_p
    a.feed_columns = feed_columns
    a.last_open = rng.integers(-1, day + 1, (n, n_p)).astype(np.int32)
    a.satisfaction = rng.random((n, n_p)).astype(np.float32)
    cut = day - LAPSE_DAYS
    readings = a.readings()
    for index in [None, 0, 1, 2, 3]:
        if index is not None:
            lapsed = int(np.count_nonzero(uses[:, index] & (a.last_open[:, index] <= cut)))
        else:
            feed_uses = uses[:, feed_columns]
            recent = np.where(feed_uses, a.last_open[:, feed_columns], np.iinfo(np.int32).min).max(axis=1)
            lapsed = int(np.count_nonzero(feed_uses.any(axis=1) & (recent <= cut)))
        cols = [index] if index is not None else feed_columns
        values = [a.satisfaction[uses[:, p], p] for p in cols]
        count = sum(len(v) for v in values)
        mean = float(sum(v.sum(dtype=np.float64) for v in values) / count) if count else float("nan")
        assert a.lapsed(index) == a.lapsed(index, readings) == lapsed
        got = a.mean_satisfaction(index, readings)
        assert (math.isnan(got) and math.isnan(mean)) or got == mean


@pytest.mark.parametrize("responds", [False, True])
def test_the_compiled_satisfaction_pass_gives_the_numpy_forms_floats(monkeypatch, responds):
    """Guards kernels.satisfaction_day (issue #17: a large day's satisfaction counts, the
    active users' moves and last opens and the away users' recovery in one compiled call)
    against Activity.update's numpy form, bit for bit: the ecosystem's two feeds and its
    shelf (last opens only), fan-group pushes that annoy (the push term), users away, the
    activity response off (satisfaction measured only) and on (it feeds back)."""
    from simulator.config import load_scenario
    from simulator.feeds import numpy_kernels

    sets = {"population": {"users": 3000, "creators": 80, "merchants": 4}}
    if responds:
        sets["platforms"] = {"douyin": {"activity": {"enabled": True}}, "kuaishou": {"activity": {"enabled": True}}}

    def run(threshold):
        monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
        monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
        m = TrafficModel(load_scenario("scenarios/ecosystem.toml", overrides=sets), seed=4)
        monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
        pushed = 0
        for _ in range(4):
            m.step()
            pushed += len(m.commerce.groups.promo_annoyance_received(m.day - 1)[0])
        return m.activity.satisfaction.copy(), m.activity.last_open.copy(), pushed

    (s_np, open_np, pushed), (s_c, open_c, _) = run(10**12), run(0)
    assert pushed > 0 and (open_np >= 0).any(axis=0).all()
    assert np.array_equal(open_np, open_c)
    assert np.array_equal(s_np.view(np.int32), s_c.view(np.int32))


# ----------------------------------------------------------- FEEDS (issue #17, thirteenth pass)


def test_a_feed_computes_the_open_rule_once_for_who_opens_and_the_sessions(monkeypatch):
    """Guards the activity rule's open probability computed once a feed platform a day and
    handed to ``open_probability`` and ``session_slots`` (feeds/slots.py ``build_feed``,
    issue #17): each day, each platform's active users, slots and feed are those of the two
    methods computing the rule themselves (as before), on two feed platforms whose users'
    satisfaction differs, activity and attention on; while the feeds are built the rule's
    pass runs once a platform."""
    from simulator.audience import activity as activity_mod
    from simulator.audience.activity import Activity
    from simulator.config import load_scenario

    sets = {"population": {"users": 3000, "creators": 80, "merchants": 4},
            "platforms": {"douyin": {"activity": {"enabled": True, "sensitivity": 8.0}},
                          "kuaishou": {"activity": {"enabled": True}}}}
    real_open, real_sessions, real_rise = Activity.open_probability, Activity.session_slots, activity_mod.rise

    def run(each_computes):
        with monkeypatch.context() as mp:
            if each_computes:  # the rule argument ignored: each method computes the rule
                mp.setattr(Activity, "open_probability", lambda self, platform, rule=None: real_open(self, platform))
                mp.setattr(Activity, "session_slots",
                           lambda self, platform, active, rule=None: real_sessions(self, platform, active))
            passes = []
            mp.setattr(activity_mod, "rise", lambda y: passes.append(m.feed_cache is not None) or real_rise(y))
            m = TrafficModel(load_scenario("scenarios/ecosystem.toml", overrides=sets), seed=4)
            out = []
            for _ in range(5):
                passes.clear()
                m.step()
                out.append([(p.active_users.copy(), p.slots_today, log.impressions.item.copy(), log.impressions.user.copy())
                            for p, log in zip(m.platforms.values(), m.day_logs)] + [sum(passes)])
        return out, m

    once, m = run(False)
    each, _ = run(True)
    sat = m.activity.satisfaction
    assert not np.array_equal(sat[:, 0], sat[:, 1])  # the platforms' rules differ
    for day_once, day_each in zip(once, each):
        for (a_o, s_o, i_o, u_o), (a_e, s_e, i_e, u_e) in zip(day_once[:-1], day_each[:-1]):
            assert np.array_equal(a_o, a_e) and s_o == s_e and np.array_equal(i_o, i_e) and np.array_equal(u_o, u_e)
        # rise's calls in the feeds, per feed platform: the rule once and the sessions' own, against
        # (with build_feed's, now unread) the rule in each method too
        assert (day_once[-1], day_each[-1]) == (4, 8)
