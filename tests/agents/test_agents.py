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


def test_datacollector_collects_the_models_own_totals_every_step():
    """Guards Mesa's DataCollector wiring (model.REPORTED, ``latest_total``): on every
    step each collected column equals that step's ``all`` row of the model's own metrics
    (the shares derived from it, the seed from the scenario). Fails when the reporters
    read a platform's row instead of ``all``, a stale (previous) step, or a wrong column."""
    from simulator.model import REPORTED
    from simulator.observation.derived import SHARE_NAMES, impression_shares

    d = small()
    d["platforms"] = {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou", "adoption": 0.5}}
    m = TrafficModel(d, seed=1, agents=False).run(3)
    df = m.datacollector.get_model_vars_dataframe()
    totals = m.metrics_frame().query("platform == 'all'").reset_index(drop=True)
    assert len(df) == len(totals) == 3 and list(df.columns) == list(REPORTED)
    expected = totals.assign(seed=m.scenario.seed, **impression_shares(totals))
    assert set(SHARE_NAMES) <= set(df.columns)
    for step in range(3):
        for name in REPORTED:
            assert np.array_equal([df[name][step]], [expected[name][step]], equal_nan=True), (step, name)
    platforms = m.metrics_frame().query("platform != 'all'")
    assert (df["impressions_total"].to_numpy() == platforms.groupby("step")["impressions_total"].sum().to_numpy()).all()


def test_feed_of_explains_one_users_day():
    m = TrafficModel(small(platform="kuaishou", follow_share=0.4), seed=1).run(3)
    user = int(m.day_logs[0].impressions.user[0])
    feed = m.feed_of(user)
    assert len(feed) == int((m.day_logs[0].impressions.user == user).sum())
    fans = feed[feed.intimacy > 0]
    assert np.allclose(fans.intimacy_boost, np.log1p(m.platforms["kuaishou"].cfg.beta * fans.intimacy))
    assert (feed[feed.source == "follow"].domain == "private").all()
