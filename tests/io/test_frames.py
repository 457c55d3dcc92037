"""The tables of creators and items (creators.csv, items.csv)."""

import numpy as np

from simulator import TrafficModel
from simulator.state.vocabulary import DOMAINS, SOURCES

from ..conftest import small


def test_creators_follow_accounting_closes():
    """followers at the end = at the start + new follow edges − edges lost, per creator;
    guards the per-creator follow counts (gained counts new edges, not follow actions)."""
    m = TrafficModel(small({"relationship": {"unfollow_rate": 0.3, "unfollow_threshold": 0.2}}), seed=3, agents=False)
    m.run(6)
    df = m.creators_frame()
    assert (df["followers"] == df["followers_start"] + df["follows_gained"] - df["follows_lost"]).all()
    assert df["follows_gained"].sum() > 0 and df["follows_lost"].sum() > 0
    actions = m.metrics_frame().query("platform == 'all'")["follows_gained"].sum()
    assert df["follows_gained"].sum() <= actions  # repeated follow actions of one pair make one edge


def test_impressions_by_source_add_up_to_impressions_by_domain():
    """creators.csv and items.csv: impressions by slot source sum to the same totals as by
    domain, per row and platform, and over the run match metrics.csv's source counts."""
    m = TrafficModel(small(platform="kuaishou"), seed=2, agents=False)
    m.run(4)
    metrics = m.metrics_frame().query("platform == 'kuaishou'")
    for frame in (m.creators_frame(), m.items_frame()):
        by_domain = frame[[f"impressions_{d}_kuaishou" for d in DOMAINS]].sum(axis=1)
        by_source = frame[[f"impressions_{s}_kuaishou" for s in SOURCES]].sum(axis=1)
        assert np.array_equal(by_domain.to_numpy(), by_source.to_numpy())
        for s in SOURCES:
            assert frame[f"impressions_{s}_kuaishou"].sum() == metrics[f"source_{s}"].sum()
    assert m.creators_frame()["impressions_follow_kuaishou"].sum() > 0
