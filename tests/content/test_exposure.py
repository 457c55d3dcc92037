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
