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
