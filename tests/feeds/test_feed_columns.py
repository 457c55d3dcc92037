"""A large day's feed written part by part into columns allocated once (feeds/impressions.py
``FeedColumns``, issue #17): the rows of the parts' concatenation."""

import numpy as np
import pytest

from simulator import TrafficModel

from .test_feed_order import feeds_in_order, threaded_world


def random_part(rng, n: int, ads: bool):
    from simulator.feeds.impressions import Impressions

    return Impressions(user=rng.integers(0, 1000, n).astype(np.int32), item=rng.integers(0, 500, n).astype(np.int32),
                       source=np.full(n, int(rng.integers(0, 5)), np.int8),
                       edge=rng.integers(-1, 900, n).astype(np.int32),
                       match=rng.standard_normal(n).astype(np.float32),
                       targeting=rng.integers(0, 3, n).astype(np.int8) if ads else None)


def test_feed_columns_give_the_parts_concatenation():
    """Guards FeedColumns: the feed of parts added one after another is Impressions.concat
    of the parts, column by column, bit for bit and in the trace's dtypes, for parts of
    no, one and many rows (the default targeting -1 and an ad part's own), with room for
    exactly the rows, for more, for fewer (the columns grow) and for none; an empty feed
    is concat's empty one; a part in another dtype is refused."""
    from simulator.feeds.impressions import COLUMNS, FeedColumns, Impressions

    rng = np.random.default_rng(7)
    for trial in range(60):
        sizes = [int(s) for s in rng.choice([0, 1, 2, 17, 300], size=int(rng.integers(0, 9)))]
        parts = [random_part(rng, n, bool(rng.random() < 0.3)) for n in sizes]
        total = sum(sizes)
        for capacity in {total, total + 5, max(total - 3, 0), 0, 1}:
            feed = FeedColumns(capacity)
            for p in parts:
                feed.add(p)
            got, want = feed.impressions(), Impressions.concat(parts)
            assert len(got) == len(want) == total
            for name, dtype in COLUMNS.items():
                g, w = getattr(got, name), getattr(want, name)
                assert g.dtype == w.dtype == dtype, name
                assert np.array_equal(g.view(np.uint8), w.view(np.uint8)), (trial, capacity, name)
    feed = FeedColumns(4)
    bad = random_part(rng, 3, False)
    bad.match = bad.match.astype(np.float64)
    with pytest.raises(TypeError):
        feed.add(bad)


def test_large_days_feeds_are_the_concatenated_ones(monkeypatch):
    """Guards build_feed's FeedColumns on large days (PREFER_COMPILED): each platform's feed
    (every column, its active users and slots) after 3 days is the one the parts'
    concatenation gives (FeedColumns replaced by nothing: the small days' path), on a
    world with ads, cold start, the follow tab, same city, activity and attention."""
    from simulator.feeds import numpy_kernels, slots
    from simulator.feeds.impressions import FeedColumns

    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", True)
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", 1)
    sc = threaded_world()
    made = []
    monkeypatch.setattr(slots, "FeedColumns", lambda capacity: made.append(capacity) or FeedColumns(capacity))
    written = feeds_in_order(sc, False)
    assert made  # (the columns were written)
    with monkeypatch.context() as m:
        m.setattr(slots, "FeedColumns", lambda capacity: None)
        concatenated = feeds_in_order(sc, False)
    assert written.keys() == concatenated.keys()
    for name in written:
        assert written[name].keys() == concatenated[name].keys()
        assert name == "taobao" or len(written[name]["user"]) > 0  # (the shelf has no feed)
        for key in written[name]:
            np.testing.assert_array_equal(written[name][key], concatenated[name][key], err_msg=f"{name}: {key}")
