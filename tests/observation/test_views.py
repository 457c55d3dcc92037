"""Traffic accounting closes: every impression has one platform, one source, one domain."""

import numpy as np

from simulator import TrafficModel
from simulator.state.vocabulary import DOMAINS, SOURCES

from ..conftest import small


def two_platform_world():
    d = small()
    d["platforms"] = {"douyin": {"policy": "douyin", "adoption": 0.8},
                      "kuaishou": {"policy": "kuaishou", "adoption": 0.6}}
    return d


def test_domains_and_sources_sum_to_total_every_step():
    m = TrafficModel(two_platform_world(), seed=3)
    for _ in range(6):
        m.step()
        for log in m.day_logs:
            n = len(log.impressions)
            dom = log.impressions.domain()
            assert np.bincount(dom, minlength=3).sum() == n
            assert set(np.unique(dom)) <= {0, 1, 2}
            assert set(np.unique(log.impressions.source)) <= set(range(len(SOURCES)))
    df = m.metrics_frame()
    assert len(df) == 6 * 3  # 2 platforms + all, per step
    dom_sum = sum(df[f"impressions_{d}"] for d in DOMAINS)
    src_sum = sum(df[f"source_{s}"] for s in SOURCES)
    assert (dom_sum == df["impressions_total"]).all()
    assert (src_sum == df["impressions_total"]).all()
    for _, g in df.groupby("step"):
        per_platform = g[g.platform != "all"]["impressions_total"].sum()
        assert per_platform == g[g.platform == "all"]["impressions_total"].item()


def test_creator_and_item_ledgers_match_metrics():
    m = TrafficModel(two_platform_world(), seed=4).run(5)
    df = m.metrics_frame()
    for name, pl in m.platforms.items():
        rows = df[df.platform == name]
        for j, d in enumerate(DOMAINS):
            total = rows[f"impressions_{d}"].sum()
            assert m.creators.impressions[pl.index, :, j].sum() == total
            assert m.items.impressions[pl.index, :, j].sum() == total


def test_domain_rules():
    """Ad slots are commercial; otherwise private exactly when the viewer follows the creator."""
    m = TrafficModel(small(platform="kuaishou"), seed=5)
    m.step()
    imp = m.day_logs[0].impressions
    dom = imp.domain()
    assert (dom[imp.source == SOURCES.index("ads")] == 1).all()
    non_ad = imp.source != SOURCES.index("ads")
    assert ((dom[non_ad] == 2) == (imp.edge[non_ad] >= 0)).all()
    # follow-slot and cold-start impressions are always private (the viewer is a fan)
    fan_only = np.isin(imp.source, [SOURCES.index("follow"), SOURCES.index("cold_start")])
    assert fan_only.any() and (dom[fan_only] == 2).all()


def test_follow_counts_are_new_edges_and_lost_edges_per_platform():
    """metrics.csv's follows_gained counts new follow edges (not follow actions: a second
    follow of the same account, on the same or another platform, adds no edge) and
    follows_lost counts lost edges on the creator's home platform: the platform rows add
    up to the all row, they differ between platforms, and over the run the all row
    matches creators.csv (end followers = start + gained − lost)."""
    m = TrafficModel(two_platform_world(), seed=5).run(6)
    df = m.metrics_frame()
    rows = df[df.platform != "all"].groupby("step")[["follows_gained", "follows_lost"]].sum()
    every = df[df.platform == "all"].set_index("step")[["follows_gained", "follows_lost"]]
    assert (rows == every).all().all()
    gained, lost = every["follows_gained"].sum(), every["follows_lost"].sum()
    assert gained == m.creators.follows_gained.sum() > 0
    assert lost == m.creators.follows_lost.sum() > 0
    assert m.follows.n_edges == m.creators.followers_start.sum() + gained - lost
    by_platform = df[df.platform != "all"].groupby("platform")["follows_lost"].sum()
    assert by_platform["douyin"] != by_platform["kuaishou"]
    home = np.bincount(m.creators.home, weights=m.creators.follows_lost, minlength=2)
    assert by_platform["douyin"] == home[m.platforms["douyin"].index]
    actions = sum(int(np.count_nonzero(log.reactions.follow)) for log in m.day_logs)
    assert actions >= every["follows_gained"].iloc[-1]


def test_a_follow_on_two_platforms_counts_once_by_a_rule_that_ignores_platform_order():
    """follow_engaged_viewers attributes each new edge to one platform: the creator's home
    if the follow happened there, else the platform whose name sorts first; duplicates
    and existing edges count nothing; the answer does not depend on the logs' order."""
    from types import SimpleNamespace as NS

    from simulator.audience.relationships import follow_engaged_viewers
    from simulator.state.graphs import FollowGraph

    def world():
        follows = FollowGraph(5, 2, np.array([3]), np.array([0]), np.array([0.5]), (0.2, 0.4, 0.7))
        creators = NS(n=2, home=np.array([2, 0], dtype=np.int8), follows_gained=np.zeros(2, np.int64))
        return NS(follows=follows, creators=creators, platforms={"b": 0, "a": 1, "c": 2},
                  items=NS(creator=np.array([0, 1])), scenario=NS(relationship=NS(follow_intimacy=0.1)))

    def log(index, name, users, items):
        return NS(platform=NS(index=index, name=name),
                  reactions=NS(follow=np.ones(len(users), bool)),
                  impressions=NS(user=np.array(users), item=np.array(items)))

    logs = [log(0, "b", [0, 2, 2, 3], [0, 1, 1, 0]),  # u0→c0; u2→c1 twice; u3→c0 already follows
            log(1, "a", [1], [1]),  # u1→c1: also on c, creator 1's home (b) is not among them: a sorts first
            log(2, "c", [0, 1], [0, 1])]  # u0→c0 also on b: creator 0's home is c
    for order in (logs, logs[::-1], [logs[2], logs[0], logs[1]]):
        m = world()
        gained = follow_engaged_viewers(m, order)
        assert gained.tolist() == [1, 1, 1]  # b: u2→c1, a: u1→c1, c: u0→c0
        assert m.creators.follows_gained.tolist() == [1, 2] and m.follows.n_edges == 4


def test_orders_by_buyer_tier_add_up_and_match_the_orders():
    """metrics.csv's orders_<tier> / gmv_buyer_<tier> count each day's orders on the
    platform by the buyer's fan tier with the seller (the ledger's buyer_tier): they
    match the booked orders, add up to orders / gmv_total, and the all row is the sum."""
    from simulator.commerce.ledger import BUYER_TIERS

    d = two_platform_world()
    d["population"]["merchants"] = 12
    m = TrafficModel(d, seed=6)
    fans = 0
    for _ in range(5):
        m.step()
        o = m.ledger.today_orders()
        rows = m.metrics_frame()
        rows = rows[rows["step"] == m.day - 1].set_index("platform")
        for name, pl in m.platforms.items():
            mine = o.platform == pl.index
            counts = np.bincount(o.buyer_tier[mine].astype(np.int64), minlength=len(BUYER_TIERS))
            gmv = np.bincount(o.buyer_tier[mine].astype(np.int64), weights=o.price[mine], minlength=len(BUYER_TIERS))
            r = rows.loc[name]
            assert [r[f"orders_{b}"] for b in BUYER_TIERS] == counts.tolist()
            assert np.allclose([r[f"gmv_buyer_{b}"] for b in BUYER_TIERS], gmv)
            fans += counts[1:].sum()
        for _, r in rows.iterrows():
            assert sum(r[f"orders_{b}"] for b in BUYER_TIERS) == r["orders"]
            assert np.isclose(sum(r[f"gmv_buyer_{b}"] for b in BUYER_TIERS), r["gmv_total"])
        for b in BUYER_TIERS:
            assert rows.loc["all", f"orders_{b}"] == rows.drop("all")[f"orders_{b}"].sum()
    assert fans > 0
