"""The intimacy boost and the flywheel: close fans lift a creator's public reach only
through beta. Intimacy is made exogenous here (a follow graph file where even creators'
fans are close and odd creators' fans are distant, and no intimacy dynamics), so any
public-reach gap between the two halves is caused by the algorithm."""

import csv

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.config import PlatformConfig
from simulator.feeds.policies import AlgorithmicPolicy, Block

USERS, CREATORS = 6000, 240
FROZEN = {
    "relationship": {"gain_view": 0, "gain_complete": 0, "gain_like": 0, "gain_comment": 0, "gain_share": 0,
                     "decay": 0, "unfollow_rate": 0},
    "engagement": {"offset_follow": -20},
}


@pytest.fixture(scope="module")
def split_graph(tmp_path_factory):
    rng = np.random.default_rng(0)
    u = np.repeat(np.arange(USERS), 8)
    c = rng.integers(0, CREATORS, len(u))
    w = np.where(c % 2 == 0, 0.9, 0.05)
    path = tmp_path_factory.mktemp("graph") / "follows.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["user", "creator", "intimacy"])
        out.writerows(zip(u.tolist(), c.tolist(), w.tolist()))
    return str(path)


def ratio(graph, beta, seeds=(1, 2, 3)):
    vals = []
    for s in seeds:
        m = TrafficModel({"population": {"users": USERS, "creators": CREATORS, "merchants": 2},
                          "graph": {"follow_graph_file": graph},
                          "platforms": {"douyin": {"policy": "douyin", "beta": beta}}, **FROZEN}, seed=s, agents=False)
        m.run(10)
        vals.append(m.summary()["totals"]["flywheel_ratio"])
    return float(np.mean(vals))


def test_beta_zero_removes_the_intimacy_advantage(split_graph):
    assert 0.8 < ratio(split_graph, 0.0) < 1.25


def test_beta_raises_public_reach_of_high_intimacy_creators(split_graph):
    r0, r1, r3 = ratio(split_graph, 0.0), ratio(split_graph, 1.0), ratio(split_graph, 3.0)
    assert r1 > 1.2
    assert r3 > r1 > r0


def test_score_ignores_intimacy_when_beta_is_zero():
    b = Block(match=np.full((2, 3), 0.5, np.float32), intimacy=np.array([[0, 0.5, 1.0]] * 2, np.float32),
              quality=np.full(3, 0.5, np.float32), perf=np.full(3, 0.4, np.float32), age=np.zeros(3),
              popularity=np.zeros(3, np.float32), engagements=np.zeros(3, np.float32))
    flat = AlgorithmicPolicy(PlatformConfig(beta=0.0), expected_dau=1000.0).score(b)
    assert np.allclose(flat[:, 0], flat[:, 2])
    boosted = AlgorithmicPolicy(PlatformConfig(beta=2.0), expected_dau=1000.0).score(b)
    assert boosted[0, 2] - boosted[0, 0] == pytest.approx(np.log(1 + 2.0), rel=1e-5)


def test_fans_engagement_feeds_pools_only_with_beta():
    """With beta = 0 an item seen only by its fans collects no pool signal."""
    for beta, expect_signal in ((0.0, False), (2.0, True)):
        m = TrafficModel({"population": {"users": 2000, "creators": 100, "merchants": 2},
                          "platforms": {"douyin": {"policy": "douyin", "beta": beta, "follow_share": 1.0,
                                                   "ad_load": 0.0, "follow_share_concentration": 1e6}}}, seed=1,
                         agents=False)
        m.step()
        imp = m.day_logs[0].impressions
        fan_items = np.unique(imp.item[imp.edge >= 0])
        stranger_items = np.unique(imp.item[imp.edge < 0])
        only_fans = np.setdiff1d(fan_items, stranger_items)
        assert len(only_fans) > 10
        got = m.items.obs_den[0, only_fans]
        assert (got > 0).any() == expect_signal
