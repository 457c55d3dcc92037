"""Relationships: intimacy growth and decay, new follows, fan tiers."""

import numpy as np

from simulator import TrafficModel
from simulator.config import RelationshipConfig
from simulator.audience.relationships import update_intimacy

from ..conftest import small


def test_intimacy_grows_with_interaction_and_decays():
    cfg = RelationshipConfig(decay=0.1)
    w = np.array([0.5, 0.5, 0.5], np.float32)
    update_intimacy(w, np.array([0.0, 0.1, 1.0]), cfg)
    assert w[0] == np.float32(0.45)  # decay only
    assert w[0] < w[1] < w[2] <= 1.0


def test_engaged_non_followers_follow_and_graph_grows():
    m = TrafficModel(small(), seed=2)
    before = m.follows.n_edges
    m.step()
    r = m.day_logs[0].reactions
    imp = m.day_logs[0].impressions
    assert r.follow.sum() > 0 and (imp.edge[r.follow] < 0).all() and r.engaged[r.follow].all()
    assert m.follows.n_edges > before - m.follows_lost_today.sum()


def test_tiers_follow_intimacy_thresholds():
    m = TrafficModel(small(), seed=2).run(3)
    t, w = m.follows.tier, m.follows.intimacy
    th = m.scenario.relationship.tier_thresholds
    assert (t[w >= th[2]] == 3).all() and (t[w < th[0]] == 0).all()
