import json

import numpy as np

from simulator import TrafficModel

from .conftest import small


def summary(seed):
    return json.dumps(TrafficModel(small(), seed=seed).run(5).summary(), sort_keys=True)


def test_same_seed_same_summary():
    assert summary(11) == summary(11)


def test_different_seed_different_summary():
    assert summary(11) != summary(12)


def test_platform_style_does_not_change_the_population():
    from simulator import load_scenario

    from .conftest import SCENARIOS

    d = TrafficModel(load_scenario(SCENARIOS / "douyin.toml"), seed=3, agents=False)
    k = TrafficModel(load_scenario(SCENARIOS / "kuaishou.toml"), seed=3, agents=False)
    assert (d.users.interest == k.users.interest).all() and (d.creators.quality_mean == k.creators.quality_mean).all()
    assert (d.follows.keys == k.follows.keys).all() and (d.follows.intimacy == k.follows.intimacy).all()


def test_adding_a_platform_does_not_change_who_the_agents_are():
    """Paired comparisons (issue 12 item 7): douyin.toml alone and with a Kuaishou-like
    platform (and a longer intro period there) get the same users, creators, merchants,
    social graph and initial follow graph for the same seed; the first platform's own
    attributes are unchanged too. Guards the separate streams for ``creators.home``
    (an ``integers(0, 1, C)`` draws nothing, so drawing it from the commerce stream
    shifted the merchants' categories, targeting and diversion) and the merchants' ages
    not depending on the platforms' ``intro_days``."""
    from simulator import load_scenario
    from simulator.world import build_world

    from .conftest import SCENARIOS

    pop = {"population": {"users": 1500, "creators": 150, "merchants": 30}}
    one = build_world(load_scenario(SCENARIOS / "douyin.toml", overrides=pop))
    two = build_world(load_scenario(SCENARIOS / "douyin.toml", overrides={
        **pop, "platforms": {"kuaishou": {"policy": "kuaishou", "commission": {"intro_days": 90}}}}))
    assert two.users.uses.shape[1] == 2
    same = {
        "users": ("interest", "segment", "city", "tolerance"),
        "creators": ("topic", "segment", "city", "quality_mean", "post_rate", "mcn", "merchant", "seller"),
        "merchants": ("account", "daily_budget", "category", "targeting", "diverts", "wechat_accounts", "new"),
        "social": ("indptr", "indices"),
        "follows": ("src", "creator", "intimacy"),
    }
    for part, names in same.items():
        for name in names:
            a, b = getattr(getattr(one, part), name), getattr(getattr(two, part), name)
            assert np.array_equal(a, b), f"{part}.{name} differs with a second platform"
    assert np.array_equal(one.users.uses[:, 0], two.users.uses[:, 0])
    assert np.array_equal(one.users.follow_share[:, 0], two.users.follow_share[:, 0])
    assert set(np.unique(two.creators.home)) == {0, 1}


def test_each_platform_has_its_own_session_stream_and_the_first_keeps_the_old_one():
    """Guards world.session_seeds: the first platform's session stream is the one stream
    every platform drew from before 2026-11-29 (spawn key (ACTIVITY_KEY,): one-platform
    scenarios with responsive activity, douyin_year.toml, kept their results), and the
    other platforms' streams are their own (none repeats another's draws). Fails when the
    first platform's key changes or two platforms share a stream."""
    from simulator.config.loading import scenario_with
    from simulator.world import ACTIVITY_KEY, build_world

    sc = scenario_with(small({"platforms": {"kuaishou": {"policy": "kuaishou"}}, "seed": 5}))
    streams = build_world(sc).streams
    assert len(streams.sessions) == 2
    old = np.random.default_rng(np.random.SeedSequence(sc.seed, spawn_key=(ACTIVITY_KEY,))).random(8)
    first, second = (s.random(8) for s in streams.sessions)
    np.testing.assert_array_equal(first, old)
    assert not np.array_equal(first, second)
