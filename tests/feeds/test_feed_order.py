"""The platforms' feeds do not depend on the order they are built in (model.build_feeds,
world.py ``streams.sessions``): what lets them be built in threads."""

import sys

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.config.loading import deep_merge

from ..conftest import small

ACTIVITY = {"enabled": True, "sensitivity": 8.0, "session_sensitivity": 4.0}


def two_feeds(activity: bool, attention: bool) -> dict:
    """A small world with the Douyin-like and the Kuaishou-like feed, where sessions are
    rounded from draws: responsive activity on both feeds, and/or attention."""
    sc = small(None)
    sc["platforms"]["kuaishou"] = {"policy": "kuaishou"}
    if activity:
        for p in ("douyin", "kuaishou"):
            sc["platforms"][p]["activity"] = dict(ACTIVITY)
    if attention:
        # shares move fast, so that the attention factor lifts sessions past the open-probability cap
        sc = deep_merge(sc, {"attention": {"enabled": True, "memory": 2.0, "sensitivity": 20.0}})
    return sc


def start_of_day(model: TrafficModel) -> None:
    """The phases of a step before build_feeds (TrafficModel.step)."""
    model.day_logs = []
    model.ledger.begin_day()
    model.moderation.begin_day()
    model.renew_population()
    model.publish()


def feeds_in_order(sc: dict, reverse: bool, days: int = 3) -> dict:
    """Each platform's feed (every column of its impressions, its active users and slots)
    on day ``days``, after ``days`` ordinary steps, the platforms' feeds built in scenario
    order or in reverse order."""
    m = TrafficModel(sc, seed=11)
    m.run(days)
    start_of_day(m)
    if reverse:
        m.platforms = dict(reversed(list(m.platforms.items())))
    feeds = m.build_feeds()
    return {platform.name: {"active": platform.active_users.copy(), "slots": platform.slots_today,
                            **{k: v.copy() for k, v in vars(imp).items() if isinstance(v, np.ndarray)}}
            for platform, imp in feeds}


@pytest.mark.parametrize("activity, attention", [(True, False), (False, True), (True, True)])
def test_a_platforms_session_draws_do_not_depend_on_the_platforms_order(activity, attention):
    """Guards the per-platform session streams (world.py ``streams.sessions``; activity.py
    ``session_slots``, attention.py ``round_slots``): building the platforms' feeds in
    reverse order gives each platform the same feed, bit for bit. Fails when the
    platforms' session lengths are rounded from one shared stream (the first platform
    built takes the first draws), as they were before threads."""
    sc = two_feeds(activity, attention)
    forward, backward = feeds_in_order(sc, False), feeds_in_order(sc, True)
    assert forward.keys() == backward.keys() == {"douyin", "kuaishou"}
    for name in forward:
        f, b = forward[name], backward[name]
        assert f.keys() == b.keys()
        for key in f:
            np.testing.assert_array_equal(f[key], b[key], err_msg=f"{name}: {key}")
    # the sessions really were rounded from draws (not all feed_slots)
    slots_per_active = [forward[n]["slots"] / len(forward[n]["active"]) for n in forward]
    assert any(s != 12 for s in slots_per_active)


# ---------------------------------------------------------------------------- threads (feeds/slots.py build_feeds)


def threaded_world() -> dict:
    """Three feed platforms and a shelf, with everything the feeds share: responsive
    activity, attention, multi-homing with creators entering (the presence grows),
    learning merchants (the learners' spend sums over the platforms)."""
    sc = two_feeds(activity=True, attention=True)
    sc["platforms"]["third"] = {"policy": "douyin"}
    sc["platforms"]["taobao"] = {"policy": "douyin", "kind": "shelf"}
    return deep_merge(sc, {"merchants": {"learning": True},
                           "creators": {"multi_homing": True, "entry_rate": 0.05, "expand_window": 2,
                                        "expand_rate": 0.2}})


@pytest.fixture
def large_days(monkeypatch):
    """Every day is a large day: the feeds in threads (one per feed platform) and the
    compiled kernels at every size."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_FROM", 0)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", True)
    return numpy_kernels


def run_frames(sc: dict, days: int = 6) -> tuple[TrafficModel, dict]:
    m = TrafficModel(sc, seed=5)
    m.run(days)
    return m, {f: getattr(m, f)() for f in ("metrics_frame", "creators_frame", "items_frame", "merchants_frame")}


def test_feeds_built_in_threads_are_the_sequential_ones(large_days, monkeypatch):
    """Guards the threaded build (feeds/slots.py ``build_feeds``): one thread per feed
    platform gives every frame of the run (metrics, creators, items, merchants) bit for bit
    as one thread does, and so does a build that runs the platforms' feeds in reverse
    order (what a thread finishing first does to anything shared and order-dependent).
    Fails when a platform draws from a stream another platform also draws from, or reads
    what another platform's feed writes."""
    from simulator.feeds import slots

    monkeypatch.setattr(large_days, "FEED_THREADS", 1)
    _, sequential = run_frames(threaded_world())
    monkeypatch.setattr(large_days, "FEED_THREADS", 3)
    threads = []
    real_map = slots._map_in_threads
    monkeypatch.setattr(slots, "_map_in_threads", lambda fn, platforms, n: threads.append(n) or real_map(fn, platforms, n))
    _, threaded = run_frames(threaded_world())
    assert threads and set(threads) == {3}  # the threaded build ran, every day
    monkeypatch.setattr(slots, "_map_in_threads", lambda fn, platforms, n: [fn(p) for p in platforms[::-1]][::-1])
    _, reverse = run_frames(threaded_world())
    for name in sequential:
        pd.testing.assert_frame_equal(threaded[name], sequential[name])
        pd.testing.assert_frame_equal(reverse[name], sequential[name])


@pytest.mark.parametrize("candidates", [64, 6])
def test_a_platforms_ranking_blocks_in_threads_are_the_sequential_ones(large_days, monkeypatch, candidates):
    """Guards the ranking's threads (feeds/recommend.py ``_rank_in_threads``): a
    platform's blocks ranked by several threads, each taking the next block left, give
    every frame of the run bit for bit as the blocks ranked one after the other, and so
    do the blocks taken in reverse order (the later blocks first: what a thread running
    ahead does to anything the blocks share, the creator → column table, a generator).
    Only uncapped platforms rank in threads (kuaishou's exposure cap makes each block
    depend on the ones before). With 6 candidates a block, users with more slots left get
    fewer picks than their room, and the later runs' rows move down in the day's columns.
    Fails when the blocks' picks are added out of block order or over a gap, when a
    block draws from another's stream, or when a capped platform ranks in threads."""
    from simulator.feeds import recommend, slots

    sc = deep_merge(threaded_world(), {"platforms": {p: {"block_users": 40, "candidates": candidates}
                                                     for p in ("douyin", "kuaishou", "third")}})
    from simulator.feeds.impressions import FeedColumns

    moved = []
    take = FeedColumns.take_region
    monkeypatch.setattr(FeedColumns, "take_region",
                        lambda feed, start, part: moved.append(start != feed.n) or take(feed, start, part))
    monkeypatch.setattr(large_days, "FEED_THREADS", 1)
    _, sequential = run_frames(sc)
    monkeypatch.setattr(large_days, "FEED_THREADS", 3)
    monkeypatch.setattr(large_days, "RANK_THREADS_FROM", 0)
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: True)
    ranked = []
    real = recommend._rank_in_threads

    def watched(day, active, free, base, block_size, feed, threads):
        ranked.append((id(day.cfg), threads, -(-len(active) // block_size)))
        return real(day, active, free, base, block_size, feed, threads)

    monkeypatch.setattr(recommend, "_rank_in_threads", watched)
    m, threaded = run_frames(sc)
    # the two uncapped platforms (douyin, third), every day
    assert {cfg for cfg, _, _ in ranked} == {id(m.platforms[p].cfg) for p in ("douyin", "third")}
    assert len(ranked) == 2 * 6 and all(t == 3 and blocks >= 3 for _, t, blocks in ranked)
    assert moved and (candidates > 6 or any(moved))  # (12 slots a day: with 6 candidates rows moved)
    monkeypatch.setattr(recommend, "_block_order", lambda n: iter(range(n - 1, -1, -1)))
    _, reverse = run_frames(sc)
    for name in sequential:
        pd.testing.assert_frame_equal(threaded[name], sequential[name])
        pd.testing.assert_frame_equal(reverse[name], sequential[name])


@pytest.mark.parametrize("failing", ["helper", "own"])
def test_a_block_that_raises_in_a_ranking_thread_stops_the_others_and_is_raised(large_days, monkeypatch, failing):
    """Guards ``_rank_in_threads``' errors: the first block a helper thread takes raises
    (or the first the feed's own thread takes): the error is raised from the step, and
    the other thread stops taking blocks (a block in hand is finished; no thread is left
    writing into the day's columns). Fails when a helper's error is lost, or when the
    other thread ranks the day's remaining blocks first."""
    import threading
    import time

    from simulator.feeds import slots
    from simulator.feeds.recommend import RecommendDay

    sc = deep_merge(two_feeds(activity=False, attention=False), {"platforms": {"douyin": {"block_users": 16}}})
    monkeypatch.setattr(large_days, "FEED_THREADS", 2)
    monkeypatch.setattr(large_days, "RANK_THREADS_FROM", 0)
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: True)
    m = TrafficModel(sc, seed=5)
    m.run(1)
    calls, real = [], RecommendDay.rank_block

    def rank_block(self, bu, k_u, rng, feed=None, col_of=None):
        if col_of is None:  # (a capped platform's blocks, one after the other)
            return real(self, bu, k_u, rng, feed)
        helper = threading.current_thread().name.startswith("ranking")
        calls.append(helper)
        time.sleep(0.002)  # (both threads take blocks)
        if helper == (failing == "helper") and calls.count(helper) == 1:
            raise RuntimeError("block failed")
        return real(self, bu, k_u, rng, feed, col_of)

    monkeypatch.setattr(RecommendDay, "rank_block", rank_block)
    with pytest.raises(RuntimeError, match="block failed"):
        m.step()
    blocks = -(-len(m.platforms["douyin"].active_users) // 16)
    assert blocks >= 20 and len(calls) < blocks // 2, (len(calls), blocks)


def test_the_ranking_runs_in_threads_on_large_uncapped_days_only(monkeypatch):
    """Guards ``recommend.rank_threads``' switches: from ``numpy_kernels.RANK_THREADS_FROM``
    active users, or from ``AHEAD_RANK_THREADS_FROM`` in a small run on the kernels
    compiled ahead (``AHEAD_RUN``: they release the GIL), as many threads as the feeds may use
    (``FEED_THREADS``, the environment, the cores), one where numba's layer cannot share
    its threads or in a sweep's worker (``one_kernel_thread``). Fails when small days on
    numba's kernels or workers start threads, or when a small run on the kernels compiled
    ahead does not."""
    from simulator.feeds import numpy_kernels, recommend, slots

    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", None)
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: True)
    monkeypatch.setattr(slots, "_cores", lambda: 2)
    monkeypatch.setattr(numpy_kernels, "RANK_THREADS_FROM", 1000)
    assert recommend.rank_threads(999) == 1 and recommend.rank_threads(1000) == 2
    monkeypatch.setenv("TRAFFICSIM_FEED_THREADS", "1")
    assert recommend.rank_threads(10**6) == 1
    monkeypatch.delenv("TRAFFICSIM_FEED_THREADS")
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: False)
    assert recommend.rank_threads(10**6) == 1
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: True)
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", 1)  # (what one_kernel_thread sets in a worker)
    assert recommend.rank_threads(10**6) == 1
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", None)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", True)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RANK_THREADS_FROM", 100)
    assert recommend.rank_threads(99) == 1 and recommend.rank_threads(100) == 2 and recommend.rank_threads(999) == 2
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", 1)
    assert recommend.rank_threads(999) == 1


class _ReadOnlyWhileThreads(dict):
    """A cache that refuses new entries while the feeds' threads run."""

    threads_running = False

    def __setitem__(self, key, value):
        assert not _ReadOnlyWhileThreads.threads_running, f"{key} filled while the feeds' threads run"
        super().__setitem__(key, value)


def test_the_threads_only_read_what_the_platforms_share(large_days, monkeypatch):
    """Guards ``fill_shared_caches`` and the deferred ad bookings (platform/ad_market.py
    ``AdSales``): while the feeds' threads run, nothing the platforms share is written:
    the follow tab's pick weights and the item indexes are cached before the threads
    start, the presence has the rows of the creators who entered, and the ledger and the
    learners' spend are booked after the last feed, in scenario order. Fails when a cache
    is left to the threads (two threads would grow the presence's arrays twice, or
    compute a cache twice) or when a feed books its ad sales itself (two threads adding
    to the learners' spend at once lose additions)."""
    from simulator.commerce.learning import ChannelLearner
    from simulator.commerce.ledger import Ledger
    from simulator.content.presence import Presence
    from simulator.feeds import slots

    real_map, real_sync = slots._map_in_threads, Presence._sync
    booked = []

    def watched_map(fn, platforms, n):
        model = platforms[0].model
        model.feed_cache = _ReadOnlyWhileThreads(model.feed_cache)
        model.item_indexes._cache = _ReadOnlyWhileThreads(model.item_indexes._cache)
        booked.append("feeds")
        _ReadOnlyWhileThreads.threads_running = True
        try:
            return real_map(fn, platforms, n)
        finally:
            _ReadOnlyWhileThreads.threads_running = False

    def watched_sync(self):
        n = self.present.shape[1]
        real_sync(self)
        assert not (_ReadOnlyWhileThreads.threads_running and self.present.shape[1] != n), "presence grown in a thread"

    def watched(method, name):
        def book(self, platform, *args):
            assert not _ReadOnlyWhileThreads.threads_running, f"{name} booked while the feeds' threads run"
            booked.append((name, platform))
            return method(self, platform, *args)
        return book

    monkeypatch.setattr(slots, "_map_in_threads", watched_map)
    monkeypatch.setattr(Presence, "_sync", watched_sync)
    monkeypatch.setattr(Ledger, "book_ad_sales", watched(Ledger.book_ad_sales, "ledger"))
    monkeypatch.setattr(ChannelLearner, "book_ad_spend", watched(ChannelLearner.book_ad_spend, "learner"))
    m, _ = run_frames(threaded_world(), days=4)
    assert m.creators.n > m.scenario.population.creators  # creators entered: the presence grew
    # every day: the feeds, then each feed platform's sales, in scenario order
    feed_platforms = [i for i, p in enumerate(m.platforms.values()) if p.cfg.kind != "shelf"]
    day = ["feeds"] + [(book, p) for p in feed_platforms for book in ("ledger", "learner")]
    assert booked == day * 4


def test_the_feeds_stay_sequential_where_numba_cannot_share_its_threads(large_days, monkeypatch):
    """Guards ``threads_may_share_kernels``: under numba's ``workqueue`` threading layer
    (no OpenMP, no TBB) two threads running parallel kernels at once abort the process, so
    the feeds are built one after the other; under ``omp`` or ``tbb`` in threads. A small
    run on the kernels compiled ahead (``AHEAD_RUN``: serial machine code, numba's
    kernels one call at a time, ahead._NUMBA_LOCK) uses threads under any layer. Fails
    when the threads ignore the layer."""
    from simulator.feeds import kernels, slots

    m = TrafficModel(threaded_world(), seed=5)
    platforms = list(m.platforms.values())
    for layer, threads in (("workqueue", 1), ("omp", 3), ("tbb", 3)):
        monkeypatch.setattr(kernels, "threading_layer", lambda: layer)
        monkeypatch.setattr(large_days, "FEED_THREADS", 3)
        assert slots.feed_threads(m, platforms) == threads, layer
        assert slots.threads_may_share_kernels() == (threads > 1), layer
        monkeypatch.setattr(large_days, "AHEAD_RUN", True)
        monkeypatch.setattr(large_days, "AHEAD_FEED_THREADS_FROM", 0)
        assert slots.threads_may_share_kernels() and slots.feed_threads(m, platforms) == 3, layer
        monkeypatch.setattr(large_days, "AHEAD_RUN", False)


def test_small_days_huge_days_and_sweep_workers_build_the_feeds_one_after_the_other(monkeypatch):
    """Guards the size switches of the threads (``numpy_kernels.FEED_THREADS_FROM`` and
    ``FEED_THREADS_UNTIL``, on the feed platforms' expected DAU) and ``one_kernel_thread``
    (a sweep's worker: the workers are the parallelism): below the first, from the
    second on, in a worker, or under ``TRAFFICSIM_FEED_THREADS=1``, one thread. Fails when
    small days pay for threads, when the 10 M run's days hold two feeds' temporaries at
    once, when a worker starts threads or when the environment's limit is ignored."""
    from simulator.feeds import numpy_kernels, slots

    monkeypatch.setattr(numpy_kernels, "FEED_THREADS", None)
    m = TrafficModel(threaded_world(), seed=5)
    platforms = list(m.platforms.values())
    dau = sum(p.policy.pools.expected_dau for p in platforms if p.cfg.kind != "shelf")
    monkeypatch.setattr(slots, "threads_may_share_kernels", lambda: True)
    monkeypatch.setattr(slots, "_cores", lambda: 2)
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_FROM", dau + 1)
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_FROM", dau)
    assert slots.feed_threads(m, platforms) == 2  # three feed platforms, two cores
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_UNTIL", dau)
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_UNTIL", dau + 1)
    assert slots.feed_threads(m, platforms) == 2
    # a small run on the kernels compiled ahead (they release the GIL): its own size switch
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_FROM", dau + 1)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", True)
    monkeypatch.setattr(numpy_kernels, "AHEAD_FEED_THREADS_FROM", dau + 1)
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.setattr(numpy_kernels, "AHEAD_FEED_THREADS_FROM", dau)
    assert slots.feed_threads(m, platforms) == 2
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_UNTIL", dau)
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_UNTIL", dau + 1)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", False)
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.setattr(numpy_kernels, "FEED_THREADS_FROM", dau)
    monkeypatch.setenv("TRAFFICSIM_FEED_THREADS", "1")  # the environment's limit
    assert slots.feed_threads(m, platforms) == 1
    monkeypatch.delenv("TRAFFICSIM_FEED_THREADS")
    assert slots.feed_threads(m, platforms) == 2
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")  # (one_kernel_thread sets it when numba is not loaded)
    numba = sys.modules.get("numba")
    kernel_threads = numba.get_num_threads() if numba is not None else None
    try:
        numpy_kernels.one_kernel_thread()
    finally:
        if numba is not None:
            numba.set_num_threads(kernel_threads)
    assert numpy_kernels.FEED_THREADS == 1 and slots.feed_threads(m, platforms) == 1


def test_the_noise_windows_of_a_table_stay_its_own_when_another_thread_swaps_the_cache(monkeypatch):
    """Guards ``numpy_kernels.gumbel_noise``'s one read of its cache (``_EXTENDED``, the
    last table and scale, and the table extended): each platform ranks with its own noise
    table, and when another thread replaces the cache while this one reads its windows,
    the windows must still be this table's. Fails when the cache is read again after it
    was checked (the table would read the other one's noise)."""
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(0)
    mine, theirs = nk.gumbel_table(rng), nk.gumbel_table(rng)
    rows, cols, seed = 5, 7, 3
    expected = {id(t): nk.gumbel_noise(rows, cols + nk.NOISE_TAIL, seed, t)[:, :cols] for t in (mine, theirs)}
    real_windows = nk._windows

    def windows_while_another_thread_swaps(ext, width):
        if nk._EXTENDED[0] is mine:  # the other thread ranks with its table meanwhile
            nk._EXTENDED = (theirs, None, np.concatenate([theirs, theirs[:nk.NOISE_TAIL]]))
        return real_windows(ext, width)

    monkeypatch.setattr(nk, "_EXTENDED", (None, None, None))
    monkeypatch.setattr(nk, "_windows", windows_while_another_thread_swaps)
    np.testing.assert_array_equal(nk.gumbel_noise(rows, cols, seed, mine), expected[id(mine)])
    np.testing.assert_array_equal(nk.gumbel_noise(rows, cols, seed, theirs), expected[id(theirs)])


def test_the_kernels_release_the_gil():
    """Guards ``nogil`` in kernels.py's ``_cached_njit``: a kernel that held the GIL would
    stop the other platform's thread (its numpy passes) for as long as it runs. Fails
    when a cached kernel is compiled without it."""
    from numba.core.registry import CPUDispatcher

    from simulator.feeds import kernels

    cached = [k for k in vars(kernels).values()  # (the inlined helpers are compiled into their callers)
              if isinstance(k, CPUDispatcher) and k.targetoptions.get("inline") != "always"]
    assert len(cached) > 10
    assert all(k.targetoptions.get("nogil") for k in cached), [k.__name__ for k in cached if not k.targetoptions.get("nogil")]


def test_the_threading_layer_is_chosen_before_it_is_read(monkeypatch):
    """Guards ``kernels.threading_layer``: numba chooses its layer at the first parallel
    launch and raises when asked before; the first large day asks before any kernel
    ran, so one parallel kernel is launched first. Fails when the question is asked
    without the launch (the first large day would raise)."""
    import numba

    from simulator.feeds import kernels

    launched = []

    def layer():
        if not launched:
            raise ValueError("Threading layer is not initialized.")
        return "omp"

    monkeypatch.setattr(numba, "threading_layer", layer)
    monkeypatch.setattr(kernels, "gumbel_top_k", lambda *args: launched.append(args))
    assert kernels.threading_layer() == "omp" and len(launched) == 1


def test_blas_stays_on_one_thread_in_the_feeds_threads(large_days, monkeypatch):
    """Guards that BLAS is held to one thread during a step (model.py
    ``_single_threaded_blas``) also in the feeds' threads (the interest matches are small
    products; BLAS threads would fight the other feed's thread and the kernels). Fails
    when the step's limit does not reach the threads."""
    from threadpoolctl import threadpool_info

    from simulator.feeds import slots

    seen = []
    real = slots.build_feed

    def build_feed(model, platform, rng):
        seen.append({i["internal_api"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
        return real(model, platform, rng)

    monkeypatch.setattr(large_days, "FEED_THREADS", 3)
    monkeypatch.setattr(slots, "build_feed", build_feed)
    TrafficModel(threaded_world(), seed=5).run(2)
    assert len(seen) == 8 and all(threads and set(threads.values()) == {1} for threads in seen)


def test_a_forked_child_makes_its_own_feed_threads():
    """Guards simulator/_pools.py's fork hook: a process forked after the feeds', the
    ranking's and the step's background thread pools exist (a user's own multiprocessing,
    a sweep worker) has none of their threads; it must make pools of its own, not wait
    forever on the parent's."""
    import os

    from simulator import model as model_module
    from simulator.feeds import recommend, slots

    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    assert slots._map_in_threads(lambda p: p * 2, [1, 2], 2) == [2, 4]  # the parent's pools exist
    assert recommend._RANK_POOL.get(1).submit(lambda: 5).result() == 5
    assert model_module._BACKGROUND.get(1).submit(lambda: 7).result() == 7
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: map in threads, report, exit at once
        try:
            os.close(read)
            ok = slots._POOL.pool is None and slots._map_in_threads(lambda p: p + 1, [1, 2], 2) == [2, 3]
            ok = ok and recommend._RANK_POOL.pool is None and recommend._RANK_POOL.get(1).submit(lambda: 6).result() == 6
            ok = ok and model_module._BACKGROUND.pool is None
            ok = ok and model_module._BACKGROUND.get(1).submit(lambda: 8).result() == 8
            os.write(write, b"ok" if ok else b"no")
        finally:
            os._exit(0)
    os.close(write)
    import select

    ready, _, _ = select.select([read], [], [], 30)
    answer = os.read(read, 2) if ready else b"timeout"
    os.waitpid(pid, 0) if ready else os.kill(pid, 9)
    os.close(read)
    assert answer == b"ok"
