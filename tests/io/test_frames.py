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
    edges = m.metrics_frame().query("platform == 'all'")["follows_gained"].sum()
    assert df["follows_gained"].sum() == edges  # metrics.csv counts new edges too, not follow actions


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


def test_every_output_column_is_documented():
    """Every column of metrics.csv (and so summary.json), creators.csv, merchants.csv and
    items.csv is listed in docs/outputs.md (platform names as ``<platform>``), so an
    analyst finds what each means; guards new columns added without documentation."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text()
    listed = set(re.findall(r"`([a-z0-9_<>]+)`", doc))
    d = small({"population": {"merchants": 6}})
    d["platforms"] = {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou"}}
    m = TrafficModel(d, seed=1, agents=False).run(2)
    frames = {"metrics.csv": m.metrics_frame(), "creators.csv": m.creators_frame(),
              "merchants.csv": m.merchants_frame(), "items.csv": m.items_frame()}
    for name, frame in frames.items():
        for column in frame.columns:
            generic = re.sub(r"_(douyin|kuaishou)$", "_<platform>", column)
            assert generic in listed, f"{name}: column {column} is not in docs/outputs.md"
    assert set(m.summary()["totals"]) <= listed


def test_static_merchants_mix_is_their_targeting_in_or_out_of_the_market():
    """merchants.csv with merchants.learning off: every merchant's mix is 1 on its
    targeting's ad channel (docs/outputs.md), also for a potential merchant that never
    entered (its effort today is none: the mix was all 0 before)."""
    from simulator.state.vocabulary import CHANNELS, TARGETING
    m = TrafficModel(small({"population": {"merchants": 4}, "merchants": {"entrant_pool": 3, "entry_rate": 0.0}}),
                     seed=1, agents=False).run(2)
    df = m.merchants_frame()
    assert (~df["active"]).sum() == 3
    mix = df[[f"mix_{c}" for c in CHANNELS]].to_numpy()
    assert np.allclose(mix.sum(axis=1), 1.0)
    for t in TARGETING:
        assert (df.loc[df["targeting"] == t, f"mix_ads_{t}"] == 1.0).all()
