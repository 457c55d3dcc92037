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
