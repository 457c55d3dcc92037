"""Creators post where they are present and expand where it pays (docs/ODD.md 7.11,
content/presence.py)."""

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.state.vocabulary import ADS, COLD_START, FOLLOW, RECOMMEND, SAME_CITY

from ..conftest import small

SOURCES = {"follow": FOLLOW, "same_city": SAME_CITY, "cold_start": COLD_START, "recommend": RECOMMEND}


def two_platforms(creators: dict, douyin: dict | None = None, kuaishou: dict | None = None, **over) -> dict:
    """The small world on two platforms (every user on both), ``creators`` keys set."""
    knobs = {"adoption": 1.0, "same_city_share": 0.15, "follow_share": 0.3}
    return small({"creators": creators, **over,
                  "platforms": {"douyin": {**knobs, **(douyin or {})},
                                "kuaishou": {"policy": "kuaishou", **knobs, **(kuaishou or {})}}})


def impressions_by_source(sc: dict, days: int, seed: int = 2):
    """(platforms × creators × sources) impressions over ``days`` days, and the model."""
    m = TrafficModel(sc, seed=seed)
    out = None
    for _ in range(days):
        m.step()
        day = np.zeros((len(m.platforms), m.creators.n, len(SOURCES)))
        for log in m.day_logs:
            imp = log.impressions
            creator = m.items.creator[imp.item]
            for j, s in enumerate(SOURCES.values()):
                day[log.platform.index, :, j] = np.bincount(creator[imp.source == s], minlength=m.creators.n)
        if out is not None:  # creators who entered today
            day[:, :out.shape[1]] += out
        out = day
    return out, m


def test_absent_creators_reach_nobody_in_any_slot_source():
    """Guards presence (ODD 7.11): a creator not present on a platform gets no impression
    there from the follow tab, same city, cold start or recommendations (nor ads: a
    merchant's account is on every platform, and its ads are counted where it is), while
    the same creators, with multi-homing off, get impressions there from every one of
    these sources (so each source is really filtered). Fails when absence does not block
    (e.g. ``blocked_creators`` ignores presence) or blocks only some sources."""
    on, m = impressions_by_source(two_platforms({"multi_homing": True, "cross_post_share": 0.0}), 4)
    off, _ = impressions_by_source(two_platforms({"multi_homing": False}), 4)
    present = m.presence.present
    assert (present[m.creators.home.astype(int), np.arange(m.creators.n)]).all()
    merchants = m.creators.merchant >= 0
    assert present[:, merchants].all() and not present[:, ~merchants].all()
    absent = ~present
    assert on[absent].sum() == 0
    for j, name in enumerate(SOURCES):
        assert off[..., j][absent].sum() > 0, name  # they would be reached there
        assert on[..., j][present].sum() > 0, name
    df = m.metrics_frame()
    last = df[df.step == df.step.max()].set_index("platform")["creators_present"]
    assert last["douyin"] == present[0].sum() < m.creators.n and last["all"] == m.creators.n


def test_cross_post_share_puts_creators_everywhere():
    """Guards day-0 presence: with cross_post_share 1 every creator is on every platform
    (multi-homing on but nothing absent); with 0.5 about half of the ordinary creators
    are. Fails when cross_post_share is ignored."""
    m = TrafficModel(two_platforms({"multi_homing": True, "cross_post_share": 1.0}), seed=1)
    assert m.presence.present.all()
    m = TrafficModel(two_platforms({"multi_homing": True, "cross_post_share": 0.5}), seed=1)
    ordinary = m.creators.merchant < 0
    share = m.presence.present[:, ordinary].all(axis=0).mean()
    assert 0.35 < share < 0.65


def test_creators_expand_toward_the_platform_that_pays():
    """Guards expansion (ODD 7.11): Kuaishou's users see five times Douyin's slots, so its
    impressions per present creator are far above what most Douyin-homed creators get; with
    expand_rate 0.3 most Douyin-only creators (those below the margin) join Kuaishou within a few days after the
    window, far more than Kuaishou-only creators join Douyin (there only those well below
    Douyin's mean do); with expand_margin 1000 only creators whose own pay was below
    1/1001 of the platform's expand (checked day by day from the rule's rings), under half
    as many. Fails when the pay comparison is ignored or reversed."""
    base = {"multi_homing": True, "cross_post_share": 0.0, "expand_rate": 0.3, "expand_window": 3}
    sc = two_platforms(base, douyin={"feed_slots": 4}, kuaishou={"feed_slots": 20})
    m = TrafficModel(sc, seed=3)
    ordinary = m.creators.merchant < 0
    home = m.creators.home.astype(int)
    m.run(10)
    present = m.presence.present
    on_d_only = ordinary & (home == 0)
    on_k_only = ordinary & (home == 1)
    assert present[1, on_d_only].mean() > 0.5
    assert present[0, on_k_only].mean() < present[1, on_d_only].mean() - 0.3
    df = m.metrics_frame()
    assert df.query("platform == 'kuaishou'")["creators_expanded"].sum() == present[1, on_d_only].sum()
    expanded = present[:, ordinary].sum() - ordinary.sum()
    m = TrafficModel(two_platforms({**base, "expand_margin": 1000.0}, douyin={"feed_slots": 4},
                                   kuaishou={"feed_slots": 20}), seed=3)
    W, pr = 3, m.presence
    for _ in range(10):
        before = pr.present.copy()
        m.step()
        t = pr.days  # the pay means the rule used today, from the rings
        own = (pr.cum[t % (W + 1)] - pr.cum[(t - W) % (W + 1)]) / W
        pay = pr.pay.mean(axis=0)
        new = pr.present & ~before
        assert (pay[:, None] > 1001.0 * own[None, :])[new].all()  # only who got next to nothing
    assert pr.present[:, ordinary].sum() - ordinary.sum() < 0.5 * expanded


def test_entrants_start_on_their_home_platform_only():
    """Guards that creators who enter later (creators.entry_rate) are on their home
    platform only (no expansion here), and reach nobody elsewhere. Fails when new rows
    are made present everywhere."""
    sc = two_platforms({"multi_homing": True, "cross_post_share": 1.0, "entry_rate": 0.2})
    out, m = impressions_by_source(sc, 4)
    new = m.creators.entrant & (m.creators.merchant < 0)
    assert new.sum() > 20
    home = m.creators.home.astype(int)
    present = m.presence.present
    assert present[home[new], np.flatnonzero(new)].all()
    assert present[:, new].sum() == new.sum()
    other = np.zeros_like(present)
    other[1 - home[new], np.flatnonzero(new)] = True
    assert out[other].sum() == 0


def test_an_absent_account_buys_no_ads_there():
    """Guards the ad source of presence: merchants' accounts are on every platform, but an
    account taken off a platform (here by hand) sells no ad impression there, while it
    still advertises on the other. Fails when the ad market ignores absence."""
    sc = two_platforms({"multi_homing": True, "cross_post_share": 0.0}, merchants={"daily_ad_budget": 1e4})
    m = TrafficModel(sc, seed=4)
    account = m.merchants.account
    m.presence.present[1, account] = False
    m.run(2)
    for log in m.day_logs:
        imp = log.impressions
        ads = m.items.creator[imp.item[imp.source == ADS]]
        assert np.isin(ads, account).sum() > 0 if log.platform.index == 0 else len(ads) == 0


def test_exposure_inequality_and_steering_count_only_the_creators_present():
    """Guards that a platform's exposure Gini (metrics) and its Gini steering (7.3) are
    over the active creators present on it: with cross_post_share 0 half the creators are
    absent from each platform, with zero impressions there, which would raise both. The
    day's exposure_gini equals the Gini of the present creators' impressions, and the
    Kuaishou-like platform's steering exponent after one day equals the rule applied to
    them. Fails when the absent creators are counted (measurement or steering)."""
    from simulator.observation.inequality import gini
    sc = two_platforms({"multi_homing": True, "cross_post_share": 0.0})
    m = TrafficModel(sc, seed=5)
    m.step()
    row = m.metrics_frame().set_index("platform")
    for log in m.day_logs:
        p = log.platform.index
        mine = m.creators.active & m.presence.present[p]
        x = log.impressions.per_creator(m.items.creator, m.creators.n)
        assert row.loc[log.platform.name, "exposure_gini"] == gini(x[mine])
        assert gini(x[m.creators.active]) > gini(x[mine]) + 0.1
    ks = m.platforms["kuaishou"]
    cfg = ks.cfg
    x = m.day_logs[1].impressions.per_creator(m.items.creator, m.creators.n)[m.creators.active & m.presence.present[1]]
    expected = min(cfg.steering_max, max(0.0, cfg.steering_step * cfg.gini_gain * (gini(x) - cfg.gini_target)))
    assert ks.steering == expected


def test_creator_share_is_relative_to_the_creators_present():
    """Guards the recommender's creator share (7.3, what Gini steering divides by) with
    multi-homing: a creator's cumulative exposure on the platform relative to the mean
    active creator *present there* (the absent ones, at zero, would make everyone present
    look over-exposed). Fails when the mean counts the absent creators."""
    from simulator.feeds.policies import prior_context
    m = TrafficModel(two_platforms({"multi_homing": True, "cross_post_share": 0.0}), seed=5)
    m.run(2)
    pl = m.platforms["kuaishou"]
    ctx = prior_context(m, pl, 0)
    exposure = m.creators.impressions[1].sum(axis=1).astype(np.float64)
    mine = m.creators.active & m.presence.present[1]
    expected = (exposure + 1.0) / (exposure[mine].mean() + 1.0)
    np.testing.assert_allclose(ctx.creator_share, expected[m.items.creator[0:]], rtol=1e-12)


def test_a_shelf_platform_has_no_creators_present():
    """creators_present counts creators whose items reach a platform's feed: a shelf
    platform (no feed, docs/ODD.md 7.12) has none, with or without multi-homing. Fails
    when the shelf counts the merchants' accounts and cross-posters as present."""
    from simulator import TrafficModel
    from ..conftest import small

    for on in (False, True):
        sc = small({"creators": {"multi_homing": on, "cross_post_share": 0.5},
                    "platforms": {"douyin": {}, "taobao": {"policy": "douyin", "kind": "shelf"}}})
        m = TrafficModel(sc, seed=1).run(2)
        rows = m.metrics_frame()
        assert (rows[rows.platform == "taobao"]["creators_present"] == 0).all()
        assert (rows[rows.platform == "douyin"]["creators_present"] > 0).all()


def test_follow_tab_share_on_a_platform_is_follow_share_among_reachable_follows():
    """Guards the follow tab with multi-homing (ODD 7.3, 7.11): on the Kuaishou-like
    platform, where the Douyin-homed creators are absent (cross_post_share 0: over half
    the creators), a user's follow slots go to the followed creators present there, so an
    active user all of whose present followed creators have a recent item gets the share
    of the slots their follow_share says (ad_load 0: Binomial(slots, share) follow
    slots, in expectation slots × share), and no follow-tab impression goes to an absent
    creator nor to a user who follows none present. Fails when the pick weighs the absent
    creators' edges too (~0.4 of the expected follow impressions, the rest left to the
    recommender)."""
    from simulator.content.presence import blocked_creators

    sc = two_platforms({"multi_homing": True, "cross_post_share": 0.0}, kuaishou={"ad_load": 0.0, "follow_window": 14})
    m = TrafficModel(sc, seed=2)
    m.run(4)
    log = next(log for log in m.day_logs if log.platform.index == 1)
    platform, imp = log.platform, log.impressions
    follows = m.follows
    blocked = blocked_creators(m, 1)
    assert blocked.mean() > 0.5
    follow = imp.source == FOLLOW
    assert follow.sum() > 1000 and not blocked[m.items.creator[imp.item[follow]]].any()
    has_item = np.diff(m.item_indexes.recent(platform.cfg.follow_window).indptr)[:m.creators.n] > 0
    src = np.repeat(np.arange(m.users.n), np.diff(follows.indptr))
    reach = ~blocked[follows.creator]
    n_reach = np.bincount(src, weights=reach, minlength=m.users.n)
    served = (n_reach > 0) & (np.bincount(src, weights=reach & ~has_item[follows.creator], minlength=m.users.n) == 0)
    active = platform.active_users
    got = np.bincount(imp.user[follow], minlength=m.users.n)
    mine = active[served[active]]
    assert len(mine) > 500
    assert platform.slots_today == platform.cfg.feed_slots * len(active)  # (every active user has feed_slots)
    expected = platform.cfg.feed_slots * m.users.follow_share[mine, 1].astype(np.float64).sum()
    assert got[mine].sum() == pytest.approx(expected, rel=0.06)  # (binomial noise: ~1.3%)
    assert got[active[n_reach[active] == 0]].sum() == 0
