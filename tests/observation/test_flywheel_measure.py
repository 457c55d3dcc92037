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


def _groups_reference(model, bins, mi):
    """flywheel_groups as it was written before issue #17's eleventh pass: a selection, a
    sort and the quartiles per stratum."""
    from simulator.observation.measurements import quantiles

    creators = model.creators
    ok = (creators.items_published > 0) & np.isfinite(mi) & (creators.merchant < 0)
    idx = np.flatnonzero(ok)
    if len(idx) < 8:
        return None
    q = creators.quality_mean[idx]
    edges = quantiles(q, np.linspace(0, 1, bins + 1)[1:-1]) if bins > 1 else np.array([])
    b = np.searchsorted(edges, q, side="right")
    groups = []
    for k in range(bins):
        sel = idx[b == k]
        if len(sel) < 4:
            continue
        lo, hi = quantiles(mi[sel], [0.25, 0.75])
        groups.append((sel[mi[sel] >= hi], sel[mi[sel] <= lo]))
    return groups


def _flywheel_reference(model, creator_cum, groups):
    """flywheel's values as they were written before the eleventh pass: each group's sums one by one."""
    items = model.creators.items_published.astype(np.float64)
    logs, pt, pb, vt = [], [], [], []
    for top, bot in groups:
        t = creator_cum[top, PUBLIC].sum() / items[top].sum()
        bt = creator_cum[bot, PUBLIC].sum() / items[bot].sum()
        pt.append(t)
        pb.append(bt)
        vt.append(creator_cum[top, PRIVATE].sum() / items[top].sum())
        if t > 0 and bt > 0:
            logs.append(np.log(t / bt))
    out = {"flywheel_ratio": float(np.exp(np.mean(logs))) if logs else np.nan}
    if pt:
        out.update(flywheel_public_top=float(np.mean(pt)), flywheel_public_bottom=float(np.mean(pb)),
                   flywheel_private_top=float(np.mean(vt)))
    return out


@pytest.mark.parametrize("compiled", [False, True], ids=["numpy", "compiled"])
def test_flywheel_groups_and_values_are_the_per_stratum_forms_bit_for_bit(compiled, monkeypatch):
    """Guards flywheel_groups' one sort by (stratum, intimacy) and flywheel's segmented sums
    (issue #17: fewer numpy calls), in its numpy form and its compiled pass
    (kernels.flywheel_strata, which small runs call): on worlds with ties in mean intimacy
    and quality, strata of fewer than 4 creators, creators without items, a NaN quality
    (the compiled pass leaves it to the numpy form), and integer (the model's) and
    fractional cumulative impressions, the groups are the per-stratum selections element
    for element and the values equal the per-group sums' bit for bit."""
    from simulator.feeds import numpy_kernels
    from simulator.observation.measurements import flywheel_groups

    monkeypatch.setattr(numpy_kernels, "compiled", lambda n, threshold=None: compiled)
    m, _, mi = world(lambda q, mi: 0.0 * q)
    c = m.creators
    assert c.quality_mean.dtype == np.float32  # (the types the compiled pass takes)
    rng = np.random.default_rng(3)
    checked = 0
    for trial in range(40):
        c.quality_mean[:] = np.round(rng.normal(size=c.n), int(rng.integers(0, 3)))  # ties in quality
        if trial == 7:
            c.quality_mean[rng.integers(0, c.n)] = np.nan
        mi_t = np.where(rng.random(c.n) < 0.1, np.nan, np.round(rng.random(c.n), int(rng.integers(1, 4))))
        c.items_published[:] = rng.integers(0, 4, c.n)
        cum = rng.integers(0, 10**6, (c.n, 3)).astype(np.int64)
        if trial % 2:
            cum = cum * rng.random((c.n, 3))  # fractional impressions
        for bins in (1, 2, 4, 7, 20):
            got, want = flywheel_groups(m, bins, mi_t), _groups_reference(m, bins, mi_t)
            assert (got is None) == (want is None)
            if want is None:
                continue
            assert len(got) == len(want)
            for (gt, gb), (wt, wb) in zip(got, want):
                assert np.array_equal(gt, wt) and np.array_equal(gb, wb)
            out, ref = flywheel(m, cum, bins, mi_t, got), _flywheel_reference(m, cum, want)
            for key, value in ref.items():
                assert np.array_equal(np.float64(out[key]), np.float64(value), equal_nan=True), (trial, bins, key)
            checked += 1
    assert checked > 100
    # too few creators: None, and the flywheel's NaNs
    c.items_published[:] = 0
    assert flywheel_groups(m, 4, mi) is None and np.isnan(flywheel(m, cum, 4, mi)["flywheel_ratio"])
