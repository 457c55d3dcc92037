"""The flywheel measurement on constructed exposure: it compares public reach per item of
creators with close vs distant fans *at similar quality*."""

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.observation.measurements import flywheel
from simulator.state.vocabulary import PRIVATE, PUBLIC

from ..conftest import small


def world(reach):
    """A model whose creators' quality, fan intimacy and cumulative impressions are set
    by hand: quality rises with the creator's row, mean fan intimacy is quality plus
    noise (so the two are confounded), every creator published 10 items and got
    ``reach(quality, intimacy)`` public impressions per item (and 3 private per item)."""
    m = TrafficModel(small(), seed=5, agents=False)
    c = m.creators
    rng = np.random.default_rng(0)
    q = np.linspace(-2, 2, c.n)
    c.quality_mean[:] = q
    creator_mi = np.clip(0.3 + 0.1 * q + rng.normal(0, 0.05, c.n), 0.01, 0.99)
    m.follows.intimacy[:] = creator_mi[m.follows.creator]
    mi = m.follows.mean_intimacy_by_creator()
    c.items_published[:] = 10
    cum = np.zeros((c.n, 3))
    cum[:, PUBLIC] = 10 * reach(q, np.nan_to_num(mi))
    cum[:, PRIVATE] = 30
    return m, cum, mi


def test_flywheel_ratio_is_one_when_reach_depends_on_quality_only():
    """Guards the quality strata: intimacy rises with quality and reach with quality only,
    so within strata close and distant fans' creators get the same reach (ratio near 1),
    though the unstratified ratio (one bin) is far above 1. Fails when the strata are
    ignored."""
    m, cum, _ = world(lambda q, mi: 100 * np.exp(q))
    stratified = flywheel(m, cum, bins=8)["flywheel_ratio"]
    pooled = flywheel(m, cum, bins=1)["flywheel_ratio"]
    assert pooled > 3
    assert stratified == pytest.approx(1.0, abs=0.3)


def test_flywheel_ratio_measures_the_reach_of_close_fans_creators():
    """Guards what the ratio compares: public impressions per item of the top vs the
    bottom intimacy quartile. When creators above the median intimacy of their quality
    get 4x the reach, the ratio is 4 (and reads public, not private, impressions);
    merchant accounts and creators without items are left out."""
    m, cum, mi = world(lambda q, mi: 0.0 * q)
    bins = 4
    idle = np.flatnonzero(np.isfinite(mi) & (m.creators.merchant < 0))[[3, 50]]
    m.creators.items_published[idle] = 0
    counted = np.isfinite(mi) & (m.creators.merchant < 0) & (m.creators.items_published > 0)
    q = m.creators.quality_mean
    edges = np.quantile(q[counted], np.linspace(0, 1, bins + 1)[1:-1])
    stratum = np.searchsorted(edges, q, side="right")
    close = np.zeros(m.creators.n, bool)
    for k in range(bins):
        s = (stratum == k) & counted
        close[s] = mi[s] > np.median(mi[s])
    cum[:, PUBLIC] = 10 * np.where(close, 400.0, 100.0)
    merchants = m.creators.merchant >= 0
    assert merchants.any()
    cum[merchants, PUBLIC] = cum[idle, PUBLIC] = 1e7  # would swamp the ratio if counted
    out = flywheel(m, cum, bins)
    assert out["flywheel_ratio"] == pytest.approx(4.0, rel=1e-9)
    assert out["flywheel_public_top"] == pytest.approx(400.0) and out["flywheel_public_bottom"] == pytest.approx(100.0)
    assert out["flywheel_private_top"] == pytest.approx(3.0)
