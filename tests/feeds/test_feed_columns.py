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


def test_a_region_filled_elsewhere_is_taken_in_order():
    """Guards FeedColumns.region and take_region (the ranking's threads,
    recommend._rank_in_threads): parts added to the feed and, meanwhile, to regions of its
    columns further on (views: no copy), each region then taken after the rows before it,
    give the concatenation of the parts in that order, whether the regions were filled to
    their room (nothing moves) or not (the rows move down over the gap, even overlapping
    themselves); a region refuses more rows than its room."""
    from simulator.feeds.impressions import COLUMNS, FeedColumns, Impressions

    rng = np.random.default_rng(8)
    for trial in range(40):
        head = [random_part(rng, int(s), False) for s in rng.choice([0, 3, 40], size=2)]
        rooms = [int(r) for r in rng.choice([0, 5, 60], size=int(rng.integers(1, 4)))]
        first_room = int(rng.choice([0, 10, 50]))
        feed = FeedColumns(int(rng.integers(0, 200)))
        for p in head:
            feed.add(p)
        feed.reserve(first_room + sum(rooms))
        at = feed.n + np.cumsum([first_room] + rooms)[:-1]
        regions = [feed.region(int(a), r) for a, r in zip(at, rooms)]
        first = random_part(rng, int(rng.integers(0, first_room + 1)), bool(rng.random() < 0.5))
        filled = [random_part(rng, r if rng.random() < 0.5 else int(rng.integers(0, r + 1)), False) for r in rooms]
        for region, p in zip(regions[::-1], filled[::-1]):  # (the later regions first)
            region.add(p)
        feed.add(first)
        for a, region in zip(at, regions):
            feed.take_region(int(a), region)
        got, want = feed.impressions(), Impressions.concat(head + [first] + filled)
        for name in COLUMNS:
            assert np.array_equal(getattr(got, name).view(np.uint8), getattr(want, name).view(np.uint8)), (trial, name)
    feed = FeedColumns(10)
    region = feed.region(4, 3)
    region.add(random_part(rng, 3, False))
    with pytest.raises(OverflowError):
        region.add(random_part(rng, 1, False))
