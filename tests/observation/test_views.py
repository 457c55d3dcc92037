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
