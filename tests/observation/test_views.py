"""Traffic accounting closes: every impression has one platform, one source, one domain."""

import numpy as np

from simulator import TrafficModel
from simulator.state.vocabulary import ACTIONS, ADS, COLD_START, COMMERCIAL, DOMAINS, FOLLOW, PRIVATE, PUBLIC, SOURCES

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
