import numpy as np

from simulator import Creator, Merchant, Platform, TrafficModel, User

from ..conftest import small


def test_agents_by_type_are_views_on_state():
    """Guards the agents as views on the columnar state: a creator's fans, their
    intimacy and tiers, and its impressions, a user's follows and a merchant's account
    read the model's arrays (per tier, per edge, per platform and domain), so an agent
    that reads a wrong row, a wrong column or misassigns tiers fails."""
    from simulator.state.vocabulary import DOMAINS, TIERS

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
    by_tier = m.follows.fans_by_tier()
    for c in (max(creators, key=lambda c: c.followers), creators[7]):
        fans = c.fans()
        assert len(fans["user"]) == c.followers == m.follows.followers()[c.row]
        edges = m.follows.lookup(fans["user"], np.full(c.followers, c.row))
        assert (edges >= 0).all() and (fans["intimacy"] == m.follows.intimacy[edges]).all()
        assert (fans["tier"] == np.array(TIERS)[m.follows.tier[edges]]).all()
        assert list(c.fans_by_tier().values()) == by_tier[c.row].tolist()
        assert c.impressions()["douyin"] == dict(zip(DOMAINS, m.creators.impressions[0, c.row].tolist()))
    assert len({t for t in TIERS if by_tier[:, TIERS.index(t)].any()}) >= 3  # tiers are told apart
    u = m.agents_by_type[User][int(np.argmax(np.diff(m.follows.indptr)))]
    follows = u.follows()
    assert len(follows) == m.follows.indptr[u.row + 1] - m.follows.indptr[u.row] > 1
    for cid, w in follows.items():
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
    """Guards ``model.feed_of``: one row per impression of the user on the last day, in
    order, with the impression's item, creator, source, domain, match, the intimacy at
    viewing and the boost log(1 + beta·intimacy); the user is picked to have fan
    impressions, so a zeroed intimacy column fails."""
    from simulator.state.vocabulary import DOMAINS, SOURCES

    m = TrafficModel(small(platform="kuaishou", follow_share=0.4), seed=1).run(3)
    imp, r = m.day_logs[0].impressions, m.day_logs[0].reactions
    user = int(imp.user[np.flatnonzero(imp.edge >= 0)[0]])
    feed = m.feed_of(user)
    rows = np.flatnonzero(imp.user == user)
    assert len(feed) == len(rows) and (feed.intimacy > 0).any()
    assert (feed.item.to_numpy() == imp.item[rows]).all()
    assert (feed.creator.to_numpy() == m.items.creator[imp.item[rows]]).all()
    assert feed.source.tolist() == [SOURCES[s] for s in imp.source[rows]]
    assert feed.domain.tolist() == [DOMAINS[d] for d in imp.domain()[rows]]
    assert np.allclose(feed.match, imp.match[rows]) and np.allclose(feed.intimacy, r.intimacy[rows])
    assert np.allclose(feed.intimacy_boost, np.log1p(m.platforms["kuaishou"].cfg.beta * feed.intimacy))
    assert (feed[feed.source == "follow"].domain == "private").all()
