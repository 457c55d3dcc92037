"""How users react to impressions (one logistic model)."""


from simulator import TrafficModel

from ..conftest import small


def test_engagement_rises_with_intimacy():
    m = TrafficModel(small(), seed=2)
    m.step()
    imp, r = m.day_logs[0].impressions, m.day_logs[0].reactions
    close = r.intimacy > 0.3
    stranger = imp.edge < 0
    assert r.like[close].mean() > r.like[stranger].mean()


def test_a_world_without_follows_reacts():
    """graph.mean_follows = 0 is allowed: reactions must not index an empty follow graph
    (it raised IndexError before)."""
    m = TrafficModel(small({"graph": {"mean_follows": 0.0}}), seed=1, agents=False)
    assert m.follows.n_edges == 0
    m.step()  # the first day: nobody follows anybody yet
    r = m.day_logs[0].reactions
    assert len(r.intimacy) > 0 and not r.intimacy.any()
    m.step()  # engaged viewers followed: the second day has fans
    assert m.follows.n_edges > 0 and m.day_logs[0].reactions.intimacy.any()
