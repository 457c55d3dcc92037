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


def test_quantiles_are_np_quantile_bit_for_bit():
    """Guards observation.measurements.quantiles, which replaced np.quantile in the
    flywheel's strata (issue #17: ~0.2 ms a call): for the quantiles the flywheel asks
    (the quality strata's edges, the quartiles) and others, on samples of 1 to 300 values
    with ties, negative values and a constant sample, every result equals np.quantile's
    bit for bit (the same neighbours, numpy's interpolation from below or above)."""
    import numpy as np

    from simulator.observation.measurements import quantiles

    rng = np.random.default_rng(12)
    qs = [np.linspace(0, 1, b + 1)[1:-1] for b in (2, 3, 4, 5, 7, 10)] + [[0.25, 0.75], [0.0, 0.5, 1.0], [0.1, 0.9, 0.999]]
    samples = [rng.random(n) for n in (1, 2, 3, 4, 5, 8, 13, 40, 97, 300)]
    samples += [rng.normal(size=50), np.round(rng.random(60), 1), np.full(9, 0.3), rng.random(30) * 1e-9 + 1.0]
    # the quartiles of 3 values fall half-way (weight 0.5), where from below and from above can round apart
    samples += [rng.random(3) * 10.0 ** rng.integers(-6, 6, 3) for _ in range(300)]
    for x in samples:
        for q in qs:
            got, want = quantiles(x, q), np.quantile(x, q)
            assert got.dtype == want.dtype and np.array_equal(got.view(np.int64), want.view(np.int64)), (len(x), q)
    x = np.array([0.2, np.nan, 0.5])
    assert np.isnan(quantiles(x, [0.25, 0.75])).all()
