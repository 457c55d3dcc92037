"""Traffic accounting closes: every impression has one platform, one source, one domain."""

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.state.vocabulary import (
    ACTIONS,
    ADS,
    COLD_START,
    COMMERCIAL,
    DOMAINS,
    FOLLOW,
    PRIVATE,
    PUBLIC,
    SOURCES,
)

from ..conftest import small


def two_platform_world():
    d = small()
    d["platforms"] = {"douyin": {"policy": "douyin", "adoption": 0.8},
                      "kuaishou": {"policy": "kuaishou", "adoption": 0.6}}
    return d


def test_domains_follow_their_definition_and_metrics_count_them_every_step():
    """Guards the impression domains (docs/ODD.md: commercial in ad slots, else private
    exactly when the viewer follows the creator, else public) on real impressions: the
    follow graph is snapshotted at the start of each day and every impression's domain,
    follow edge and intimacy at viewing are checked against it; then every metric row
    (per platform and ``all``) must count the same impressions by domain and source, the
    same engagements and the same comments by domain. Fails when ``Impressions.domain()``
    ignores the ad slots or the follow edge (e.g. returns all zeros), when feeds look up
    the wrong edge, or when a metric column reads the wrong axis."""
    m = TrafficModel(two_platform_world(), seed=3)
    nc = m.creators.n
    seen = np.zeros(len(DOMAINS), int)
    for _ in range(4):
        keys, intimacy = m.follows.keys.copy(), m.follows.intimacy.copy()  # the graph the day's feeds see
        m.step()
        rows = m.metrics_frame().query("step == @m.day - 1").set_index("platform")
        for log in m.day_logs:
            imp, r = log.impressions, log.reactions
            key = imp.user.astype(np.int64) * nc + m.items.creator[imp.item]
            followed = np.isin(key, keys)
            expected = np.where(imp.source == ADS, COMMERCIAL, np.where(followed, PRIVATE, PUBLIC))
            assert (imp.domain() == expected).all()
            assert ((imp.edge >= 0) == followed).all() and (keys[imp.edge[followed]] == key[followed]).all()
            assert (r.intimacy == np.where(followed, intimacy[np.maximum(imp.edge, 0)], 0)).all()
            fan_only = np.isin(imp.source, [FOLLOW, COLD_START])  # slots that only go to fans
            assert followed[fan_only].all()
            seen += np.bincount(expected, minlength=len(DOMAINS))
            row = rows.loc[log.platform.name]
            assert row["impressions_total"] == len(imp)
            for j, d in enumerate(DOMAINS):
                assert row[f"impressions_{d}"] == np.count_nonzero(expected == j)
            for j, s in enumerate(SOURCES):
                assert row[f"source_{s}"] == np.count_nonzero(imp.source == j)
            for a, hit in zip(ACTIONS, r.columns()):
                assert row[f"engagements_{a}"] == np.count_nonzero(hit)
            assert row["comments_total"] == np.count_nonzero(r.comment)
            assert row["comments_private"] == np.count_nonzero(r.comment & (expected == PRIVATE))
        summed = [f"impressions_{d}" for d in ("total", *DOMAINS)] + [f"source_{s}" for s in SOURCES] + \
                 [f"engagements_{a}" for a in ACTIONS] + ["comments_total", "comments_private"]
        per_platform = rows.drop(index="all")[summed].sum()
        assert (per_platform == rows.loc["all", summed]).all()
    assert (seen > 0).all()  # every domain occurred, so the checks above are not vacuous


def test_creator_and_item_ledgers_match_metrics():
    m = TrafficModel(two_platform_world(), seed=4).run(5)
    df = m.metrics_frame()
    for name, pl in m.platforms.items():
        rows = df[df.platform == name]
        for j, d in enumerate(DOMAINS):
            total = rows[f"impressions_{d}"].sum()
            assert m.creators.impressions[pl.index, :, j].sum() == total
            assert m.items.impressions[pl.index, :, j].sum() == total


def test_concentration_tiers_and_fill_read_the_right_state():
    """Guards what the stock and concentration columns read: per step, exposure Gini and
    top shares of the day's impressions per creator (the platform's; for ``all`` the
    platforms' sum), the fan tiers and mean intimacy of the follow graph at the end of the
    day, a platform's daily active users and its feed fill = impressions / (active users ×
    feed slots); the summary's Gini is of the run's cumulative impressions. Fails when a column reads cumulative instead of
    daily exposure (or the reverse), another platform, or a stale graph."""
    from simulator.observation.inequality import gini, top_share
    from simulator.state.vocabulary import TIERS

    m = TrafficModel(two_platform_world(), seed=6, agents=False)
    for _ in range(3):
        m.step()
        rows = m.metrics_frame().query("step == @m.day - 1").set_index("platform")
        per_creator = {log.platform.name: np.bincount(m.items.creator[log.impressions.item], minlength=m.creators.n)
                       for log in m.day_logs}
        per_creator["all"] = sum(per_creator.values())
        tiers = np.bincount(m.follows.tier, minlength=len(TIERS))
        for name, x in per_creator.items():
            row = rows.loc[name]
            assert row["exposure_gini"] == pytest.approx(gini(x)) and row["top10_share"] == pytest.approx(top_share(x, 0.1))
            assert row["top1_share"] == pytest.approx(top_share(x, 0.01))
            assert [row[f"fans_{t}"] for t in TIERS] == tiers.tolist()
            assert row["mean_intimacy"] == pytest.approx(float(m.follows.intimacy.mean()))
        for p in m.platforms.values():
            assert rows.loc[p.name, "active_users"] == p.active_today
            assert rows.loc[p.name, "feed_fill"] == pytest.approx(
                rows.loc[p.name, "impressions_total"] / (p.active_today * p.cfg.feed_slots))
        assert len({rows.loc[p, "exposure_gini"] for p in rows.index}) == 3  # the three rows differ
    cumulative = m.creators.impressions.sum(axis=(0, 2))
    assert m.summary()["totals"]["exposure_gini"] == pytest.approx(gini(cumulative))
    assert gini(cumulative) != pytest.approx(rows.loc["all", "exposure_gini"])


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


def test_all_rows_active_users_are_the_days_users_active_anywhere():
    """The all row's active_users counts the users active on at least one platform that
    day (not everyone who uses a platform): at most the platforms' sum, at least their
    maximum, and exactly the union of the feeds' active users (guards the union in
    ``views``; counting ``uses.any`` gave the same constant every day)."""
    m = TrafficModel(two_platform_world(), seed=8)
    seen = set()
    for _ in range(3):
        m.step()
        rows = m.metrics_frame().query("step == @m.day - 1").set_index("platform")["active_users"]
        union = set(np.concatenate([p.active_users for p in m.platforms.values()]).tolist())
        assert rows["all"] == len(union)
        assert max(rows["douyin"], rows["kuaishou"]) <= rows["all"] < rows["douyin"] + rows["kuaishou"]
        assert rows["all"] < int(m.users.uses.any(axis=1).sum())
        seen.add(int(rows["all"]))
    assert len(seen) > 1


def test_views_read_the_day_logs_tallies_as_they_would_count_the_impressions():
    """Guards what the views take from the day log's tally (issue #17: record_exposure
    counts today's impressions per item and per creator once, the views read them) and
    the stocks they count once for all of a step's views (fan-group members, WeChat
    contacts): on two platforms with groups and WeChat on, each view's creator_step,
    impressions_live, group_members and wechat_contacts equal the counts made from the
    impressions and the state directly, and a day log without a tally gives the same view."""
    from dataclasses import replace

    from simulator.observation.views import platform_view, views

    sc = two_platform_world()
    sc["commerce"] = {"groups": {"join_rate": 0.5}}
    sc.setdefault("merchants", {})["diversion_share"] = 1.0
    m = TrafficModel(sc, seed=5)
    m.run(4)
    assert all(log.tally for log in m.day_logs)
    out = views(m)
    members = m.commerce.groups.members()
    contacts = m.commerce.wechat.per_platform(len(m.platforms))
    for log, v in zip(m.day_logs, out):
        imp, p = log.impressions, log.platform.index
        assert np.array_equal(v.creator_step, np.bincount(m.items.creator[imp.item], minlength=m.creators.n))
        assert v.readings["impressions_live"] == np.count_nonzero(m.items.live[imp.item])
        assert v.readings["group_members"] == members[p] and v.readings["wechat_contacts"] == contacts[p]
        bare = platform_view(m, replace(log, tally={}))
        assert np.array_equal(bare.creator_step, v.creator_step) and bare.readings == v.readings
        assert np.array_equal(bare.imps, v.imps) and np.array_equal(bare.actions, v.actions)
        assert np.array_equal(v.actions, [np.count_nonzero(a) for a in log.reactions.columns()])
    assert members.sum() > 0 and contacts.sum() > 0


def test_follow_graph_metrics_are_the_sums_of_its_fans_by_tier():
    """Guards the follow-graph metrics read from one count of edges by creator and tier
    (FollowGraph.fans_by_tier, issue #17): the edges per tier (fans_*), the sellers'
    follow edges by tier (loyal_fans), the creators' mean fan intimacy (flywheel) equal
    what they were counted from the edges one by one."""
    from simulator.observation.measurements import measure_all, seller_tier_counts
    from simulator.observation.views import views
    from simulator.state.vocabulary import TIERS

    m = TrafficModel(two_platform_world(), seed=4)
    m.run(3)
    f = m.follows
    tier = f.tier
    assert np.array_equal(f.fans_by_tier().sum(axis=0), np.bincount(tier, minlength=len(TIERS)))
    sells = m.creators.seller[f.creator] >= 0
    assert sells.any() and not sells.all()
    assert np.array_equal(seller_tier_counts(m), np.bincount(tier[sells], minlength=len(TIERS)))
    n = np.bincount(f.creator, minlength=f.n_creators)
    mi = np.bincount(f.creator, weights=f.intimacy, minlength=f.n_creators) / np.where(n > 0, n, 1)
    mi[n == 0] = np.nan
    assert np.array_equal(f.mean_intimacy_by_creator(f.fans_by_tier().sum(axis=1)), mi, equal_nan=True)
    row = measure_all(views(m)[0])
    assert [row[f"fans_{t}"] for t in TIERS] == np.bincount(tier, minlength=len(TIERS)).tolist()
    assert row["seller_followers"] == int(sells.sum())


def test_each_views_flywheel_is_measured_on_its_own_cumulative_impressions():
    """Guards Flywheel.measure's once-per-table cache (issue #17: with one platform its
    view and 'all' read the same table, measured once): on two platforms each view's
    flywheel columns are flywheel() of that view's own cumulative impressions (the
    platforms' differ, and 'all' is their sum); on one platform the two rows agree."""
    from simulator.observation.measurements import Flywheel, flywheel
    from simulator.observation.views import views

    m = TrafficModel(two_platform_world(), seed=6)
    m.run(4)
    out = views(m)
    rows = [Flywheel().measure(v) for v in out]
    bins = m.scenario.metrics.quality_bins
    for v, row in zip(out, rows):
        assert row == pytest.approx(flywheel(m, v.creator_cum, bins), nan_ok=True)
    assert rows[0] != rows[1] and rows[2] != rows[0]
    one = TrafficModel(small(), seed=6)
    one.run(3)
    a, b = (Flywheel().measure(v) for v in views(one))
    assert a == pytest.approx(b, nan_ok=True) and a == pytest.approx(flywheel(one, views(one)[0].creator_cum, bins),
                                                                      nan_ok=True)


def test_one_platforms_all_row_takes_only_what_does_not_depend_on_the_platform():
    """Guards measure_all's reuse (issue #17: with one platform the 'all' view, a copy of
    the platform's, takes the platform row's values of the measurements that never read
    which platform a view is, ``same_in_all``): each row equals every measurement measured
    afresh on its own view, the 'all' row's platform-dependent values included (fails if
    the 'all' row took every value from the platform's)."""
    import math
    from dataclasses import replace

    from simulator.observation.measurements import MEASUREMENTS, measure_all
    from simulator.observation.views import views

    m = TrafficModel(small(), seed=7)
    m.run(3)
    out = views(m)
    assert len(out) == 2 and out[1].twin is out[0]
    rows = [measure_all(v) for v in out]
    for v, row in zip(out, rows):
        fresh = {}
        for meas in MEASUREMENTS:
            fresh.update(meas.measure(replace(v, twin=None, shared={})))
        assert row.keys() == fresh.keys()
        for k in row:
            assert row[k] == fresh[k] or (math.isnan(row[k]) and math.isnan(fresh[k])), k
    differ = [k for k in rows[0] if not (rows[0][k] == rows[1][k] or (rows[0][k] != rows[0][k] and rows[1][k] != rows[1][k]))]
    assert differ  # (the adapting knobs: the platform's own, NaN for all)


def test_visible_share_of_a_run_is_impressions_per_day_since_entry():
    """The summary's visible share: a creator is visible when its run impressions per day
    since its entry day reach ``metrics.visibility_threshold`` (every creator active at
    some point, entrants over their own days). Guards the days: the views made after the
    run once divided by the days run + 1 (mutation checked: ``final.days`` fails), and
    every creator by the whole run (an entrant's few days then read as invisible;
    mutation checked: ``final.model.day`` alone fails). The threshold (read by the metrics
    only) is set after the run just below one creator's reading, where the readings differ."""
    m = TrafficModel(small({"steps": 12, "creators": {"entry_rate": 0.03}}), seed=2, agents=False)
    m.run()
    c, T = m.creators, m.day
    ever = c.entry_day >= 0
    run_imps = c.impressions.sum(axis=(0, 2))[ever]
    days = T - c.entry_day[ever]
    since_entry = run_imps / days
    initial = np.flatnonzero((days == T) & (run_imps > 0))
    entrant = np.flatnonzero((days < T) & (run_imps > 0))
    assert len(initial) and len(entrant)
    for who in (initial[len(initial) // 2], entrant[0]):
        # just below this creator's reading: visible over its days, not over T + 1 (or T)
        threshold = since_entry[who] * (1 - 0.5 / (T + 1))
        assert run_imps[who] / (T + 1 if days[who] == T else T) < threshold <= since_entry[who]
        m.scenario = m.scenario.model_copy(update={"metrics": m.scenario.metrics.model_copy(
            update={"visibility_threshold": threshold})})
        summary = m.summary()
        assert summary["totals"]["visible_share"] == pytest.approx(np.mean(since_entry >= threshold))
        assert summary["platforms"]["douyin"]["visible_share"] == pytest.approx(np.mean(since_entry >= threshold))


def test_a_shelf_platform_has_no_creator_exposure_to_measure():
    """A shelf platform (ODD 7.12) has no creator feed: its creator-exposure readings are
    NaN, per step and in the summary, not the 0.0 of creators nobody saw (mutation
    checked: without ``_no_creator_feed`` they read 0.0); the feed platform beside it
    and the 'all' view read numbers."""
    d = small({"steps": 4})
    d["platforms"] = {"douyin": {"policy": "douyin"}, "taobao": {"policy": "douyin", "kind": "shelf", "adoption": 0.8}}
    m = TrafficModel(d, seed=1, agents=False)
    m.run()
    cols = ("exposure_gini", "top1_share", "top10_share", "visible_share")
    df = m.metrics_frame()
    shelf, feed = df[df.platform == "taobao"], df[df.platform == "douyin"]
    assert shelf[list(cols)].isna().all().all() and feed[list(cols)].notna().all().all()
    summary = m.summary()
    for col in (*cols, "follower_slope"):
        assert np.isnan(summary["platforms"]["taobao"][col]), col
        assert not np.isnan(summary["platforms"]["douyin"][col]) and not np.isnan(summary["totals"][col]), col


def test_flywheel_compares_the_creators_present_on_the_platform_and_is_nan_on_a_shelf():
    """docs/outputs.md, ODD 7.8: with creators.multi_homing a platform's flywheel compares
    the creators present on it (an absent creator, counted with 0 impressions per item
    there, made the ratio one of presence: 1.5 against 3.7 on douyin in a 40-day
    ecosystem run), 'all' every creator; a shelf platform, which has no creator feed,
    reads NaN (it read 0 for the per-item columns)."""
    from simulator.observation.measurements import Flywheel, flywheel
    from simulator.observation.views import views

    m = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                     overrides={"population": {"users": 1500, "creators": 100, "merchants": 4}})
    m.run(4)
    bins = m.scenario.metrics.quality_bins
    rows = {v.name: (v, Flywheel().measure(v)) for v in views(m)}
    assert all(np.isnan(x) for x in rows["taobao"][1].values())
    differs = False
    for name in ("douyin", "kuaishou"):
        v, row = rows[name]
        present = m.presence.on(v.index)
        assert not present.all()
        assert row == pytest.approx(flywheel(m, v.creator_cum, bins, present=present), nan_ok=True)
        differs |= row != pytest.approx(flywheel(m, v.creator_cum, bins), nan_ok=True)
    assert differs
    v, row = rows["all"]
    assert row == pytest.approx(flywheel(m, v.creator_cum, bins), nan_ok=True)


def test_a_shelf_platform_reports_no_ad_load():
    """docs/outputs.md: knob_ad_load is NaN on a shelf platform, which has no ad slots and
    ignores its ad_load key (ODD 7.12; it reported the ignored key, 0.08 in
    ecosystem.toml); the feed platforms report theirs."""
    m = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                     overrides={"population": {"users": 1000, "creators": 40, "merchants": 4}})
    m.run(2)
    rows = m.metrics_frame()
    assert rows.loc[rows.platform == "taobao", "knob_ad_load"].isna().all()
    assert rows.loc[rows.platform.isin(["douyin", "kuaishou"]), "knob_ad_load"].notna().all()
    assert np.isnan(m.summary()["platforms"]["taobao"]["knob_ad_load"])


def test_the_all_row_of_the_sessions_counts_the_feed_platforms_only():
    """docs/outputs.md: the all row of slots_per_active, lapsed_users and mean_satisfaction
    is over the feed platforms only (a shelf platform, ODD 7.12, offers no slots and its
    users' satisfaction stays at the reference: counted in, they pulled the all row's
    session length down and its satisfaction toward the reference, and its users who did
    not search for a week read as lapsed); the shelf's own row stays as documented (slots
    0, satisfaction at the reference). Mutation checked: the all row over every platform
    fails on each of the three."""
    from simulator.audience.activity import LAPSE_DAYS

    m = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                     overrides={"population": {"users": 1000, "creators": 40, "merchants": 4}})
    m.run(12)
    rows = m.metrics_frame()
    feed, shelf = rows.platform.isin(["douyin", "kuaishou"]), rows.platform == "taobao"
    assert (rows.loc[shelf, "slots_per_active"] == 0).all()
    assert (rows.loc[shelf, "mean_satisfaction"] == m.scenario.platforms["taobao"].activity.reference).all()
    by_step = rows[feed].assign(slots=rows.slots_per_active * rows.active_users,
                                satisfaction=rows.mean_satisfaction * rows.users_of).groupby("step").sum()
    every = rows[rows.platform == "all"].set_index("step")
    assert every["slots_per_active"].to_numpy() == pytest.approx((by_step.slots / by_step.active_users).to_numpy())
    assert every["mean_satisfaction"].to_numpy() == pytest.approx((by_step.satisfaction / by_step.users_of).to_numpy())
    # the last day's lapsed users, of the feed platforms (the readings were taken on day m.day - 1)
    uses, fresh = m.users.uses, m.activity.last_open > m.day - 1 - LAPSE_DAYS
    lapsed = np.count_nonzero(uses[:, :2].any(axis=1) & ~(uses & fresh)[:, :2].any(axis=1))
    assert list(m.platforms) == ["douyin", "kuaishou", "taobao"]
    shelf_only = np.count_nonzero(uses[:, 2] & ~uses[:, :2].any(axis=1) & ~fresh[:, 2])
    assert shelf_only > 0  # shelf users who did not come back for a week: not lapsed users of the feeds
    assert every.loc[m.day - 1, "lapsed_users"] == lapsed
    summary = m.summary()["totals"]
    assert summary["mean_satisfaction"] == every["mean_satisfaction"].iloc[-1]
    assert summary["slots_per_active"] == pytest.approx(every["slots_per_active"].mean())


def test_seller_followers_leave_out_accounts_that_stopped():
    """docs/outputs.md: seller_followers (and the true-fan shares and rates read from it)
    count the follow edges of selling accounts that are active; an account that stopped
    (the creator exit rule, or its merchant exited) keeps its seller and its followers but
    sells no more (it was counted: a quarter of the sellers' edges by day 120 of
    douyin_year)."""
    from simulator.observation.measurements import measure_all
    from simulator.observation.views import views

    m = TrafficModel(two_platform_world(), seed=4)
    m.run(3)
    c, f = m.creators, m.follows
    followers = f.followers()
    stop = np.flatnonzero((c.seller >= 0) & (followers > 0))[:3]
    assert len(stop)
    c.active[stop] = False  # as the exit rule leaves them (seller kept)
    sells = (c.seller[f.creator] >= 0) & c.active[f.creator]
    row = measure_all(views(m)[-1])
    assert row["seller_followers"] == int(sells.sum())
    from simulator.state.vocabulary import TIERS
    true = f.tier == TIERS.index("true")
    assert row["true_fan_share_followers"] == pytest.approx((true & sells).sum() / sells.sum())


def test_exposure_concentration_of_no_impressions_is_nan_not_equality():
    """docs/outputs.md: the Gini and top shares of creators who had no impressions (a day
    without impressions on a platform) are NaN, a share of nothing, not 0 (perfect
    equality; the visible share is then a real 0); without creators all four are NaN."""
    from simulator.observation.measurements import ExposureConcentration

    e = ExposureConcentration()
    none = e._values(np.zeros(5), 1, 1.0)
    assert all(np.isnan(none[c]) for c in ("exposure_gini", "top1_share", "top10_share"))
    assert none["visible_share"] == 0.0
    assert all(np.isnan(x) for x in e._values(np.zeros(0), 1, 1.0).values())
    some = e._values(np.array([0.0, 0.0, 4.0]), 1, 1.0)
    assert some["exposure_gini"] == pytest.approx(2 / 3) and some["top1_share"] == 1.0
