import json

from simulator import TrafficModel

from .conftest import small


def summary(seed):
    return json.dumps(TrafficModel(small(), seed=seed).run(5).summary(), sort_keys=True)


def test_same_seed_same_summary():
    assert summary(11) == summary(11)


def test_different_seed_different_summary():
    assert summary(11) != summary(12)
