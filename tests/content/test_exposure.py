"""Exposure records: a day's impressions and engagements by item and creator."""

from types import SimpleNamespace

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.content.exposure import record_exposure
from simulator.state.vocabulary import ACTIONS, DOMAINS, SOURCES

from ..conftest import small


@pytest.mark.parametrize("compiled", [False, True])
def test_record_exposure_counts_each_items_and_creators_day(monkeypatch, compiled):
    """Guards record_exposure (issue #17: the small days' counts from packed codes, the
    creators' three tables from one bincount; the large days' compiled tally): on zeroed
    records, one platform's day adds each item's and each creator's impressions by
    domain and by source and engagements by action exactly as counted impression by
    impression, and the tally it returns holds the day's item and creator counts by domain
    (small days: the actions and the (source, domain) pairs too)."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    monkeypatch.setattr(numpy_kernels, "COMPILED_RUN", 10**15)
    m = TrafficModel(small(), seed=2, agents=False)
    m.run(2)
    log = m.day_logs[0]
    imp, r = log.impressions, log.reactions
    n, C, P, D, S, A = m.items.n, m.creators.n, 1, len(DOMAINS), len(SOURCES), len(ACTIONS)
    items = SimpleNamespace(n=n, creator=m.items.creator, impressions=np.zeros((P, n, D), np.int32),
                            impressions_by_source=np.zeros((P, n, S), np.int32), engagements=np.zeros((n, A), np.int32))
    creators = SimpleNamespace(n=C, impressions=np.zeros((P, C, D), np.int64),
                               impressions_by_source=np.zeros((P, C, S), np.int64), engagements=np.zeros((C, A), np.int64))
    tally = record_exposure(items, creators, 0, imp, r)
    creator = m.items.creator[imp.item].astype(np.int64)
    domain, source = imp.domain().astype(np.int64), imp.source.astype(np.int64)
    assert np.array_equal(items.impressions[0], np.bincount(imp.item * D + domain, minlength=n * D).reshape(n, D))
    assert np.array_equal(items.impressions_by_source[0], np.bincount(imp.item * S + source, minlength=n * S).reshape(n, S))
    assert np.array_equal(items.engagements, np.stack([np.bincount(imp.item[h], minlength=n) for h in r.columns()], 1))
    assert np.array_equal(creators.impressions[0], np.bincount(creator * D + domain, minlength=C * D).reshape(C, D))
    assert np.array_equal(creators.impressions_by_source[0],
                          np.bincount(creator * S + source, minlength=C * S).reshape(C, S))
    want = np.stack([np.bincount(creator[h], minlength=C) for h in r.columns()], 1)
    assert np.array_equal(creators.engagements, want) and (want > 0).any(axis=0).all()
    assert np.array_equal(tally["item_domain"], items.impressions[0]) and np.array_equal(tally["creator_domain"],
                                                                                         creators.impressions[0])
    if not compiled:
        assert np.array_equal(tally["actions"], [np.count_nonzero(h) for h in r.columns()])
        assert np.array_equal(tally["source_domain"], np.bincount(source * D + domain, minlength=S * D).reshape(S, D))


def test_tally_exposure_trace_kernel_matches_its_numpy_form():
    """kernels.tally_exposure_trace (the records' and views' counts of a small compiled
    day in one pass) against its numpy form and against the counts it replaces
    (tally_impressions, the items' rows summed by creator, count_pairs, the comments'
    bincount) on random days: empty, one impression, one item, creators without items."""
    from simulator.content.exposure import _sum_rows_by
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(11)
    D, S = 4, 6
    for n, n_items, n_creators in ((0, 5, 3), (1, 1, 1), (7, 3, 4), (5000, 200, 30)):
        item = rng.integers(0, n_items, n).astype(np.int32)
        domain = rng.integers(0, D, n).astype(np.int8)
        source = rng.integers(0, S, n).astype(np.int8)
        acts = [rng.random(n) < p for p in (0.5, 0.2, 0.05, 0.02, 0.01)]
        creator_of = rng.integers(0, n_creators, n_items).astype(np.int32)
        args = (item, domain, source, *acts, creator_of, n_items, n_creators, D, S)
        got = kernels.tally_exposure_trace(*args)
        want = numpy_kernels.tally_exposure_trace(*args)
        assert len(got) == len(want) == 8
        for g, w in zip(got, want):
            assert g.dtype == w.dtype == np.int64 and g.shape == w.shape and np.array_equal(g, w)
        by = numpy_kernels.tally_impressions(item, domain, source, *acts, n_items, D, S)
        for j, t in enumerate(by):
            assert np.array_equal(got[j], t)
            assert np.array_equal(got[3 + j], _sum_rows_by(creator_of.astype(np.int64), t, n_creators))
        assert np.array_equal(got[6], numpy_kernels.count_pairs(source, domain, D, S * D))
        assert np.array_equal(got[7], np.bincount(domain[acts[2]], minlength=D))
