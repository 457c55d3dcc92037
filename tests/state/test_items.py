"""The item store's compaction: expired items leave the live columns for a compact
archive without changing any result."""

import json

import numpy as np
import pandas as pd

from simulator import TrafficModel
from simulator.state.items import REPORTED, ItemStore

from ..conftest import small


def _two_platform_world(steps: int) -> dict:
    """Two platforms with short live windows (so items expire within a few days),
    commerce with WeChat diversion on, every slot source in use."""
    d = small({"steps": steps, "population": {"users": 1500, "creators": 90, "merchants": 6},
               "merchants": {"diversion_share": 0.5}, "creators": {"warmup_days": 2}})
    d["platforms"] = {"douyin": {"policy": "douyin", "max_item_age": 3, "follow_window": 2},
                      "kuaishou": {"policy": "kuaishou", "adoption": 0.6, "max_item_age": 2, "follow_window": 4}}
    return d


def _run(d: dict, share, seed: int = 5) -> TrafficModel:
    m = TrafficModel(d, seed=seed, agents=False)
    m.items.compact_min_share = share
    return m.run()


def test_compaction_leaves_every_result_identical():
    """Guards the compaction of the item store (``ItemStore.compact`` and everything that
    holds item rows): a run that compacts every day and one that never does give the
    same metrics, summary, creators, merchants and items frames (items.csv lists every
    item ever published, archived ones with their final counters) and the same last-day
    feed. Fails if the live rows are not shifted consistently with ``offset``, if freed
    rows are not zeroed, if an item's id in the order-attribution hash is its live row
    instead of its id, if the live window leaves out a reader (kuaishou here follows
    items for longer than it recommends them), or if compaction consumed random numbers."""
    d = _two_platform_world(12)
    every, never = _run(d, 0.0), _run(d, None)
    assert every.items.offset > 0 and len(every.items.archive) > 5  # it did compact, many times
    assert never.items.offset == 0 and every.items.total == never.items.n
    assert every.items.n < never.items.n / 2
    pd.testing.assert_frame_equal(every.metrics_frame(), never.metrics_frame())
    assert json.dumps(every.summary(), sort_keys=True, default=str) == json.dumps(never.summary(), sort_keys=True, default=str)
    for frame in ("creators_frame", "merchants_frame", "items_frame"):
        pd.testing.assert_frame_equal(getattr(every, frame)(), getattr(never, frame)())
    user = int(every.day_logs[0].impressions.user[0])
    pd.testing.assert_frame_equal(every.feed_of(user), never.feed_of(user))
    assert (every.metrics_frame()["gmv_private_wechat"] > 0).any()  # the WeChat channel ran too


def test_compaction_with_the_default_cadence_is_identical_too():
    """Guards the default cadence (compact once the expired rows are a quarter of the
    live rows): same items frame and metrics as never compacting, and it compacted."""
    d = _two_platform_world(10)
    default, never = TrafficModel(d, seed=9, agents=False).run(), _run(d, None, seed=9)
    assert default.items.offset > 0
    pd.testing.assert_frame_equal(default.items_frame(), never.items_frame())
    pd.testing.assert_frame_equal(default.metrics_frame(), never.metrics_frame())


def test_live_store_stays_within_the_live_window():
    """Guards the memory bound of long runs: over 60 days the live store never holds
    more than 4/3 of the items published in the live window (the default cadence lets
    the expired rows reach a quarter of the live rows before compacting), its allocated
    rows stay below twice that, and every item ever published is still in items.csv."""
    d = small({"steps": 60, "population": {"users": 600, "creators": 40, "merchants": 2}})
    d["platforms"]["douyin"].update(max_item_age=4, follow_window=2)
    m = TrafficModel(d, seed=3, agents=False)
    window = m.item_window
    assert window == 4
    published = {day: int(np.count_nonzero(m.items.day == day)) for day in range(-m.scenario.creators.warmup_days, 0)}  # warm-up
    peak = 0
    for _ in range(60):
        m.step()
        day = m.day - 1
        published[day] = m.items_published_today
        in_window = sum(published.get(t, 0) for t in range(day - window + 1, day + 1))
        assert m.items.n <= in_window * 4 / 3 + 1
        peak = max(peak, in_window)
    assert m.items.capacity <= 2 * peak * 4 / 3 + 1024
    assert m.items.total == sum(published.values()) == len(m.items_frame())
    assert m.items.n < m.items.total / 5


def test_compact_archives_reported_columns_and_zeroes_freed_rows():
    """Guards ``ItemStore.compact`` itself: the reported columns of every item read the
    same before and after (the archive keeps them in smaller dtypes), live rows shift
    down in order, and rows appended afterwards start with zero counters."""
    store = ItemStore(n_platforms=2, topics=3, capacity=8)
    rng = np.random.default_rng(0)
    for day in range(4):
        rows = store.append(np.arange(3, dtype=np.int32), day, rng.random(3).astype(np.float32),
                            rng.random((3, 3)).astype(np.float32))
        store.impressions[:, rows] = rng.integers(0, 70000, (2, 3, 3))
        store.engagements[rows] = rng.integers(0, 9, (3, 5))
        store.level[:, rows] = day
        store.pool_seen[:, rows] = 5
    store.impressions[0, 0, 0] = 100_000
    before = {name: store.reported(name).copy() for name in REPORTED}
    topic_tail = store.topic[6:].copy()
    assert store.compact(store.first_since(2)) == 6
    assert store.offset == 6 and store.n == 6 and store.total == 12
    for name in REPORTED:
        assert np.array_equal(store.reported(name), before[name]) and store.reported(name).dtype == before[name].dtype
    assert store.archive[0]["engagements"].dtype == np.uint8  # compact: counts below 256
    assert store.archive[0]["impressions"].dtype == np.int32  # lossless: counts above 65535 keep 32 bits
    assert np.array_equal(store.topic, topic_tail) and store.first_since(3) == 3
    rows = store.append(np.zeros(2, np.int32), 4, np.zeros(2, np.float32), np.zeros((2, 3), np.float32))
    assert rows.tolist() == [6, 7]
    for name in ("impressions", "engagements", "level", "pool_seen", "stalled", "obs_den"):
        col = getattr(store, name)
        assert not (col[:, 6:] if col.ndim > 1 and name != "engagements" else col[6:]).any()
