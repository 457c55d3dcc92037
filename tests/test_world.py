import json

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
