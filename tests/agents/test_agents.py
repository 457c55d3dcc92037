import numpy as np

from simulator import Creator, Merchant, Platform, TrafficModel, User

from ..conftest import small


def test_agents_by_type_are_views_on_state():
    m = TrafficModel(small(), seed=1)
    assert len(m.agents_by_type[User]) == 2000
    assert len(m.agents_by_type[Creator]) == 120
    assert len(m.agents_by_type[Merchant]) == 4
    assert len(m.agents_by_type[Platform]) == 1
    m.run(3)
    creators = m.agents_by_type[Creator]
    median = np.median([c.followers for c in creators])
    big = creators.select(lambda c: c.followers > median)
    assert 0 < len(big) < len(creators)
    c = max(creators, key=lambda c: c.followers)
    fans = c.fans()
    assert len(fans["user"]) == c.followers == m.follows.followers()[c.row]
    assert sum(c.fans_by_tier().values()) == c.followers
    u = m.agents_by_type[User][0]
    for cid, w in u.follows().items():
        assert m.follows.intimacy[m.follows.lookup(np.array([u.row]), np.array([cid]))[0]] == w
    merchant = m.agents_by_type[Merchant][0]
    assert m.creators.merchant[merchant.account] == merchant.row


def test_datacollector_collects_totals():
    m = TrafficModel(small(), seed=1).run(3)
    df = m.datacollector.get_model_vars_dataframe()
    assert len(df) == 3 and (df["impressions_total"] > 0).all()


def test_feed_of_explains_one_users_day():
    m = TrafficModel(small(platform="kuaishou", follow_share=0.4), seed=1).run(3)
    user = int(m.day_logs[0].impressions.user[0])
    feed = m.feed_of(user)
    assert len(feed) == int((m.day_logs[0].impressions.user == user).sum())
    fans = feed[feed.intimacy > 0]
    assert np.allclose(fans.intimacy_boost, np.log1p(m.platforms["kuaishou"].cfg.beta * fans.intimacy))
    assert (feed[feed.source == "follow"].domain == "private").all()
