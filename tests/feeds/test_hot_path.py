"""The large-population hot path (issue #17): compiled or sparse versions of steps the
recommender used to do with dense numpy passes, each against its plain-numpy twin (the
old code), which it must match exactly (results stay bit-identical for a seed)."""

import numpy as np
import pytest

from simulator.feeds.kernels import within_cap
from simulator.feeds.recommend import _all_granted, _fan_entries
from simulator.state.arrays import rank_within_sorted


def within_cap_twin(top, left):
    """The numpy definition (the code before issue #17): sort every pick by (column,
    rank, row) and keep the first floor(left) of each column."""
    b, k = top.shape
    col = np.where(top >= 0, top, len(left)).ravel()
    left = np.append(left, 0.0)
    rank = np.repeat(np.arange(k)[None, :], b, axis=0).ravel()
    order = np.lexsort((rank, col))
    pos = np.empty(len(col), dtype=np.int64)
    pos[order] = rank_within_sorted(col[order])
    return (pos < np.floor(np.maximum(left, 0))[col]).reshape(b, k)


def test_within_cap_kernel_matches_the_sort_definition():
    """Guards kernels.within_cap: a column is granted rank by rank, then row by row
    (visiting the picks row by row first, or not counting refused picks, fails here).
    Every row here takes all its places (k_u = k), so no place is skipped."""
    rng = np.random.default_rng(0)
    for rows, k, cols in [(500, 12, 30), (2000, 20, 64), (7, 3, 5)]:
        top = np.stack([rng.permutation(cols)[:k] for _ in range(rows)]).astype(np.int64)
        top[rng.random(top.shape) < 0.1] = -1  # padding (fewer finite scores than k)
        left = rng.uniform(-3, rows * k / cols / 2, cols)  # some columns already over their cap
        got = within_cap(top, np.floor(np.maximum(left, 0)).astype(np.int64), np.full(rows, k, dtype=np.int64))
        assert np.array_equal(got, within_cap_twin(top, left))
        assert 0 < got.sum() < (top >= 0).sum()  # the cap binds somewhere, not everywhere


def test_within_cap_spends_no_allowance_on_places_users_do_not_take():
    """Guards the exposure cap's look-ahead (ODD 7.3): a user who already has their k_u
    picks uses up no allowance with the places further down their list, so a user who
    ranked the item lower still gets it while the item is under its cap. (Before the
    fix, every ranked place used a unit: here user 1 lost item 0 to user 0's look-ahead.)"""
    top = np.array([[1, 0], [2, 0]], dtype=np.int64)  # user 0: item 1 then 0; user 1: item 2 then 0
    cap = np.array([1, 5, 0], dtype=np.int64)  # item 0: one pick left; item 2: capped
    got = within_cap(top, cap, np.array([1, 1], dtype=np.int64))
    assert got.tolist() == [[True, False], [False, True]]
    # the rules at random: no row over its k_u, no column over its cap, and a place is
    # refused only when the row is full or its column was spent by places visited before
    rng = np.random.default_rng(5)
    for rows, k, cols in [(400, 14, 30), (60, 8, 12), (3, 3, 3)]:
        top = np.stack([rng.permutation(cols)[:k] for _ in range(rows)]).astype(np.int64)
        top[rng.random(top.shape) < 0.1] = -1
        cap = np.floor(np.maximum(rng.uniform(-3, rows * k / cols / 3, cols), 0)).astype(np.int64)
        k_u = rng.integers(0, k + 1, rows)
        got = within_cap(top, cap, k_u)
        assert (got.sum(axis=1) <= k_u).all()
        assert (np.bincount(top[got], minlength=cols) <= cap).all()
        used, taken = np.zeros(cols, np.int64), np.zeros(rows, np.int64)
        for r in range(k):  # the visiting order, checked place by place
            for i in range(rows):
                c = top[i, r]
                if c < 0:
                    assert not got[i, r]
                    continue
                assert got[i, r] == (taken[i] < k_u[i] and used[c] < cap[c])
                used[c] += got[i, r]
                taken[i] += got[i, r]
        assert (got.sum(axis=1) < k_u).any() and (got.sum(axis=1) == k_u).any()


def test_all_granted_means_within_cap_grants_every_ranked_pick():
    """Guards recommend._all_granted (issue #17: with it, a capped platform's block ranks
    only each user's k_u places and skips the grants): when it says so, within_cap grants
    every ranked pick of any lists of distinct columns, a column in every row included;
    one column whose allowance is one pick short of the rows is enough to say no."""
    rng = np.random.default_rng(3)
    for rows, k, cols in [(300, 12, 30), (64, 20, 40), (1, 1, 1), (5, 5, 5)]:
        for trial in range(20):
            # column 0 first in every row's list, distinct columns after it
            top = np.stack([np.r_[0, 1 + rng.permutation(cols - 1)[:k - 1]] for _ in range(rows)]).astype(np.int64)
            top[rng.random(top.shape) < 0.1] = -1
            left = np.where(rng.random(cols) < 0.3, rng.uniform(-3, 0, cols), rows + rng.uniform(0, 5, cols))
            left[rng.integers(cols)] = float(rows)  # exactly the rows: granted
            left[0] = max(left[0], float(rows))
            if trial % 2:  # one short: column 0, counted in every row, is refused in the last
                left[0] = rows - 0.5 if trial % 4 == 1 else float(rows - 1)
                left[0] = max(left[0], 0.5)
            granted = _all_granted(left, rows)
            top_ok = np.where(left[np.maximum(top, 0)] > 0, top, -1)  # the ranking never picks capped columns
            got = within_cap(top_ok, np.floor(np.maximum(left, 0)).astype(np.int64), np.full(rows, k, dtype=np.int64))
            assert granted == (trial % 2 == 0)
            if granted:
                assert np.array_equal(got, top_ok >= 0)
            elif (top_ok[:, 0] == 0).all():
                assert not got.all(where=top_ok >= 0)
    assert _all_granted(np.zeros(0), 10)  # no candidate: nothing to refuse

def test_sparse_fan_entries_match_the_dense_matrix():
    """Guards recommend._fan_entries: the nonzero intimacies of the block's users ×
    candidates matrix, the entries flatnonzero gives (in any order), built from the fan
    edges without the dense matrix (a zero intimacy is no entry; a missing or repeated
    entry, or candidates mapped to the wrong creator, fail here)."""
    rng = np.random.default_rng(1)
    b, n_creators, m = 300, 25, 64
    cand_creator = rng.integers(0, n_creators, m)
    ucre, inv = np.unique(cand_creator, return_inverse=True)
    # fan edges: unique (row, creator column) pairs, some with intimacy exactly 0
    pairs = np.unique(rng.integers(0, b * len(ucre), 900))
    row, col = pairs // len(ucre), pairs % len(ucre)
    intimacy = rng.random(len(pairs)).astype(np.float32)
    intimacy[rng.random(len(pairs)) < 0.1] = 0.0
    dense = np.zeros((b, len(ucre)), dtype=np.float32)
    dense[row, col] = intimacy
    flat = dense[:, inv].ravel()
    want = np.flatnonzero(flat)
    shuffle = rng.permutation(len(pairs))  # the edges' order must not matter
    any_idx, any_val = _fan_entries(row[shuffle], col[shuffle], intimacy[shuffle], inv, m)
    order = np.argsort(any_idx)
    assert np.array_equal(any_idx[order], want) and np.array_equal(any_val[order], flat[want])


def test_weighted_pick_in_row_sums_matches_the_global_search():
    """Guards kernels.weighted_pick_in_row_sums (the follow tab's creator draw, issue #17:
    no cumsum of every edge): adding each row's weights from where the row starts in the
    cumsum (kernels.row_start_sums) gives exactly the entries of
    state.arrays.weighted_in_rows, which searches the global cumsum, including empty
    rows (the first rows too), rows that weigh nothing, zero-weight entries, a -0.0 first
    weight, one row and no pick (a scan that starts from 0.0, or adds in float32, or stops
    at >= instead of >, fails here)."""
    from simulator.feeds.kernels import row_start_sums, weighted_pick_in_row_sums
    from simulator.state.arrays import weighted_in_rows

    rng = np.random.default_rng(2)
    n_rows = 5000
    per_row = rng.poisson(6, n_rows)
    per_row[rng.random(n_rows) < 0.05] = 0
    per_row[:2] = 0  # empty first rows: the first entry is in row 2
    indptr = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    w = rng.random(indptr[-1]).astype(np.float32) ** 3
    w[rng.random(len(w)) < 0.2] = 0.0
    w[indptr[10]:indptr[11]] = 0.0  # a row that weighs nothing
    w[0] = -0.0
    rows = rng.integers(0, n_rows, 200_000).astype(np.int64)
    for base in (np.float32(0.0), np.float32(0.05)):
        cumw = np.cumsum(w + base, dtype=np.float64)
        want = weighted_in_rows(indptr, cumw, rows, np.random.default_rng(7))
        start = row_start_sums(indptr, w, base, np.zeros(len(w), np.int32), np.zeros(1, bool))
        got = weighted_pick_in_row_sums(indptr, start, w, base, rows, np.random.default_rng(7).random(len(rows)))
        assert np.array_equal(got, want) and (got == -1).any()
    # one row; no pick
    one = np.array([0, 3], np.int64)
    v = np.array([0.5, 0.0, 2.0], np.float32)
    u = np.array([0.0, 0.2, 0.25, 0.99, 1.0 - 1e-12])
    start = row_start_sums(one, v, np.float32(0.0), np.zeros(3, np.int32), np.zeros(1, bool))
    got = weighted_pick_in_row_sums(one, start, v, np.float32(0.0), np.zeros(len(u), np.int64), u)
    assert np.array_equal(got, weighted_in_rows(one, np.cumsum(v, dtype=np.float64), np.zeros(len(u), np.int64),
                                                _Uniforms(u)))
    assert weighted_pick_in_row_sums(one, start, v, np.float32(0.0), np.zeros(0, np.int64), np.zeros(0)).shape == (0,)


class _Uniforms:
    """A generator stand-in whose ``random(n)`` returns the given uniforms."""

    def __init__(self, u):
        self.u = u

    def random(self, n):
        assert n == len(self.u)
        return self.u


def test_row_start_sums_reads_numpys_cumsum_at_the_rows():
    """Guards kernels.row_start_sums (issue #17: the follow tab's pick weights kept per
    user, not per edge): bit for bit numpy's ``np.cumsum(values + base, dtype=float64)``
    before each row's first entry (0.0 before the first entry) and at the end, the float32
    sums accumulated in float64 in order (a sum taken in float64, an accumulation in
    float32 or a pairwise one fails here), with empty rows (first, last, in between), one
    entry, no entry, no row, and a -0.0 first sum (copied, not added to 0.0; a base of -0.0 makes one)."""
    from simulator.feeds.kernels import row_start_sums

    rng = np.random.default_rng(21)
    per_row = rng.poisson(3, 100_001)
    per_row[rng.random(len(per_row)) < 0.1] = 0
    per_row[0] = per_row[-1] = 0
    indptr = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    values = (rng.random(indptr[-1]) ** 3 * 7).astype(np.float32)
    values[rng.random(len(values)) < 0.2] = 0.0

    def want(indptr, v, base):
        cumw = np.cumsum(v + base, dtype=np.float64)
        return np.where(indptr > 0, cumw[np.maximum(indptr - 1, 0)] if len(cumw) else 0.0, 0.0)

    for base in (np.float32(0.1), np.float32(1.0), np.float32(0.0), np.float32(-0.0)):  # (-0.0 + -0.0 is -0.0)
        for ptr, v in ((indptr, values), (np.array([0, 1], np.int64), values[:1]), (np.array([0, 0, 0], np.int64), values[:0]),
                       (np.array([0], np.int64), values[:0]), (np.array([0, 0, 2], np.int64), np.array([-0.0, 1.0], np.float32)),
                       (np.array([0, 1, 2], np.int64), np.array([-0.0, 1.0], np.float32))):
            got = row_start_sums(ptr, v, base, np.zeros(len(v), np.int32), np.zeros(1, bool))
            assert got.dtype == np.float64 and got.tobytes() == want(ptr, v, base).tobytes()
    # float32 sums, not float64 ones: 0.1 as float32 added in float64 would differ
    assert row_start_sums(indptr, values, np.float32(0.1), np.zeros(len(values), np.int32), np.zeros(1, bool)).tobytes() != \
        want(indptr, values.astype(np.float64), 0.1).tobytes()


def test_row_start_sums_and_marked_is_both_passes_in_one():
    """Guards kernels.row_start_sums_and_marked (issue #17, tenth pass: the follow tab's
    pick weights and the ad market's edges to the merchants' accounts in one pass over
    every edge): bit for bit ``row_start_sums`` and the entries ``edges_to_marked``
    finds (``flatnonzero(marked[creator])``, int64, ascending), whatever the room given
    for the marked entries (none, too little: the second pass; enough; more), with empty
    rows, one entry, no entry, no row, no marked creator and every creator marked, with
    and without blocked creators (whose entries weigh 0 in both)."""
    from simulator.feeds.kernels import edges_to_marked, row_start_sums, row_start_sums_and_marked

    rng = np.random.default_rng(22)
    per_row = rng.poisson(3, 20_001)
    per_row[rng.random(len(per_row)) < 0.1] = 0
    per_row[0] = per_row[-1] = 0
    indptr = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    values = (rng.random(indptr[-1]) ** 3 * 7).astype(np.float32)
    creator = rng.integers(0, 300, indptr[-1]).astype(np.int32)
    some = rng.random(300) < 0.05
    cases = [(indptr, values, creator), (np.array([0, 1], np.int64), values[:1], creator[:1]),
             (np.array([0, 0, 0], np.int64), values[:0], creator[:0]), (np.array([0], np.int64), values[:0], creator[:0])]
    for marked in (some, np.zeros(300, bool), np.ones(300, bool)):
        for ptr, v, c in cases:
            want_e = edges_to_marked(c, np.where(marked, 0, -1))[0]
            for cap in (0, len(want_e) // 2, len(want_e), len(want_e) + 5):
                for blk in (np.zeros(300, bool), some[::-1].copy()):
                    sums, edge = row_start_sums_and_marked(ptr, v, np.float32(0.05), c, blk, marked, cap)
                    assert sums.tobytes() == row_start_sums(ptr, v, np.float32(0.05), c, blk).tobytes()
                    assert edge.dtype == np.int64 and np.array_equal(edge, want_e)
                assert edge.dtype == np.int64 and np.array_equal(edge, want_e)
    assert 0 < len(edges_to_marked(creator, np.where(some, 0, -1))[0]) < len(creator)


def test_fill_follow_caches_fills_what_first_use_would(monkeypatch):
    """Guards slots.fill_follow_caches (issue #17, tenth pass): on large graphs while the
    feeds are built, the first feed platform's pick weights and the ad market's account
    edges, from one pass, are the arrays their first use computes (follow_pick_weights,
    AccountEdges.edges), and the feeds read them from the cache; nothing without the
    cache or on small graphs (numpy forms)."""
    from simulator import TrafficModel
    from simulator.config import load_scenario
    from simulator.feeds import numpy_kernels
    from simulator.feeds.slots import _pick_key, fill_follow_caches, follow_pick_weights
    from simulator.platform.ad_market import AccountEdges

    # (multi-homing off: no creator is absent, so both feed platforms weigh every edge and
    # share the weights; a platform where an account is blocked weighs its own, uncached)
    scenario = load_scenario("scenarios/ecosystem.toml", overrides={"population": {"users": 2000, "creators": 60, "merchants": 3},
                                                                    "creators": {"multi_homing": False}})
    model = TrafficModel(scenario, seed=4)
    model.step()
    platforms = list(model.platforms.values())
    base = next(p for p in platforms if p.cfg.kind != "shelf").cfg.follow_pick_base
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0)
    want_w, want_e = follow_pick_weights(model, base), AccountEdges(model).edges()
    assert 0 < len(want_e) < model.follows.n_edges
    fill_follow_caches(model, platforms)  # no cache: nothing to fill
    model.feed_cache = {}
    fill_follow_caches(model, platforms)
    cache = model.feed_cache
    assert set(cache) == {_pick_key(base), AccountEdges.KEY}
    assert cache[_pick_key(base)].tobytes() == want_w.tobytes() and np.array_equal(cache[AccountEdges.KEY], want_e)
    assert follow_pick_weights(model, base) is cache[_pick_key(base)] and AccountEdges(model).edges() is cache[AccountEdges.KEY]
    w = cache[_pick_key(base)]
    fill_follow_caches(model, platforms)  # filled already: kept
    assert cache[_pick_key(base)] is w
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    model.feed_cache = {}
    fill_follow_caches(model, platforms)
    assert model.feed_cache == {}
    model.feed_cache = None


def test_fill_follow_caches_fuses_a_blocking_platforms_own_weights(monkeypatch):
    """Guards the follow tab's own weights of a platform where followed accounts are
    absent (multi-homing) in the shared caches (slots.fill_follow_caches,
    fill_shared_caches): the one pass over every edge sums the first feed platform's own
    weights (blocked edges weigh 0: from the blocked mask, with no copy of the intimacy,
    the sums of follow_pick_values' copy bit for bit) and finds the ad market's account
    edges; fill_shared_caches adds the other platform's own; each feed takes its entry
    out (read once), and the follow tab draws the same impressions as without the cache."""
    from simulator import TrafficModel
    from simulator.config import load_scenario
    from simulator.feeds import numpy_kernels, slots
    from simulator.platform.ad_market import AccountEdges

    scenario = load_scenario("scenarios/ecosystem.toml", overrides={"population": {"users": 2000, "creators": 60, "merchants": 3}})
    model = TrafficModel(scenario, seed=4)
    model.step()
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0)
    feed = [p for p in model.platforms.values() if p.cfg.kind != "shelf"]
    assert len(feed) == 2
    ks = numpy_kernels.compiled_kernels()
    active = np.arange(model.users.n, dtype=np.int32)
    n = np.full(len(active), 5)
    want = []
    for platform in feed:
        values = slots.follow_pick_values(model, platform)  # (the numpy form's copy: the same sums)
        assert values is not None
        follows = model.follows
        sums = ks.row_start_sums(follows.indptr, values, np.float32(platform.cfg.follow_pick_base), follows.creator,
                                 np.zeros(model.creators.n, bool))
        imp, pos = slots.follow_slots(model, platform, active, n, np.random.default_rng(platform.index))
        want.append((values, sums, imp, pos))
    want_e = AccountEdges(model).edges()
    model.feed_cache = {}
    slots.fill_follow_caches(model, list(model.platforms.values()))
    cache = model.feed_cache
    assert set(cache) == {slots._own_key(feed[0]), AccountEdges.KEY}
    values, sums = cache[slots._own_key(feed[0])]
    assert values is model.follows.intimacy and sums.tobytes() == want[0][1].tobytes()  # (no copy)
    assert np.array_equal(cache[AccountEdges.KEY], want_e)
    slots.fill_shared_caches(model, list(model.platforms.values()))
    values, sums = cache[slots._own_key(feed[1])]
    assert values is model.follows.intimacy and sums.tobytes() == want[1][1].tobytes()
    assert slots._pick_key(feed[0].cfg.follow_pick_base) not in cache  # nobody weighs every edge
    for platform, (_, _, imp, pos) in zip(feed, want):
        got, got_pos = slots.follow_slots(model, platform, active, n, np.random.default_rng(platform.index))
        assert slots._own_key(platform) not in cache  # taken out
        assert np.array_equal(got.item, imp.item) and np.array_equal(got.edge, imp.edge) and np.array_equal(got_pos, pos)
    model.feed_cache = None


def test_active_users_of_all_platforms_counts_each_user_once():
    """Guards observation.views._distinct_users (the 'all' row's active_users): users
    active on several platforms count once (summing the platforms' counts fails here)."""
    from simulator.observation.views import _distinct_users

    rng = np.random.default_rng(3)
    groups = [np.sort(rng.choice(1000, size, replace=False)).astype(np.int32) for size in (600, 350, 0, 80)]
    assert _distinct_users(1000, groups) == len(np.unique(np.concatenate(groups)))


def test_friends_on_each_platform_counted_in_one_pass():
    """Guards numpy_kernels.count_flags_in_rows (users' friends on each platform, read by
    the numpy form of the adoption draws, numpy_kernels.adopt_new): equal to the
    per-platform bincount over ties (a form that counts the user's own flags, or misses a
    row's last tie, fails here)."""
    from simulator.feeds.numpy_kernels import count_flags_in_rows
    from simulator.state.graphs import small_world_graph

    rng = np.random.default_rng(4)
    n, P = 3000, 4
    g = small_world_graph(rng.integers(0, 20, n), 10, 0.2, rng)
    flags = rng.random((n, P)) < [0.6, 0.3, 0.0, 0.9]
    src = np.repeat(np.arange(n), np.diff(g.indptr))
    want = np.stack([np.bincount(src, weights=flags[g.indices, p], minlength=n) for p in range(P)], axis=1)
    assert np.array_equal(count_flags_in_rows(g.indptr, g.indices, flags), want)


def test_follow_graph_metrics_computed_once_for_all_views(monkeypatch):
    """Guards View.once: the follow-graph values every view reports (fan tiers, creators'
    mean fan intimacy for the flywheel) are computed once per step, not once per platform
    and again for 'all' (reading v.model.follows in each view fails here)."""
    from simulator import TrafficModel
    from simulator.state.graphs import FollowGraph

    model = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                         **{"population.users": 1500, "population.creators": 40, "population.merchants": 4})
    calls = {"mean": 0, "tier": 0}
    # (the fans by tier and the intimacy sums behind the mean: one pass, fans_by_tier_and_sums)
    mean, by_tier = FollowGraph.mean_intimacy_by_creator, FollowGraph.fans_by_tier_and_sums

    def counted_mean(self, *args):
        calls["mean"] += 1
        return mean(self, *args)

    def counted_tier(self):
        calls["tier"] += 1
        return by_tier(self)

    monkeypatch.setattr(FollowGraph, "mean_intimacy_by_creator", counted_mean)
    monkeypatch.setattr(FollowGraph, "fans_by_tier_and_sums", counted_tier)
    model.step()
    rows = model.metrics_frame()
    assert len(rows) >= 3  # two feed platforms (and the shelf) and 'all'
    assert calls == {"mean": 1, "tier": 1}
    assert rows["fans_true"].nunique() == 1  # the same follow graph in every row


def test_yesterdays_impressions_are_freed_before_todays_feeds():
    """Guards the first line of TrafficModel.step: the previous day's trace (impressions
    and reactions, ~35 bytes an impression, 0.4 GB at 1M users) is released before the
    new feeds are built, so one day's trace is in memory, not two (keeping model.day_logs
    until react replaces it fails here)."""
    import gc
    import weakref

    from simulator import TrafficModel

    model = TrafficModel("scenarios/douyin.toml", seed=1, **{"population.users": 800, "population.creators": 20, "population.merchants": 4})
    model.step()
    yesterday = weakref.ref(model.day_logs[0].impressions)
    build = model.build_feeds
    alive = []

    def build_feeds():
        gc.collect()
        alive.append(yesterday() is not None)
        return build()

    model.build_feeds = build_feeds
    model.step()
    assert alive == [False] and len(model.day_logs) == 1  # today's trace is there after the step


@pytest.mark.parametrize("compiled", [False, True])
def test_follow_pick_weights_shared_by_the_platforms_while_feeds_are_built(monkeypatch, compiled):
    """Guards slots.follow_pick_weights' cache (issue #17): platforms with the same
    follow_pick_base share one cumsum over every follow edge (on large graphs, compiled,
    only its values where each user's row starts, and its end) while build_feeds runs,
    and nothing is kept after it (intimacy changes later in the day)."""
    from types import SimpleNamespace

    from simulator.feeds import numpy_kernels
    from simulator.feeds.slots import follow_pick_weights

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    follows = SimpleNamespace(intimacy=np.array([0.5, 0.0, 0.25], np.float32), indptr=np.array([0, 2, 2, 3]),
                              creator=np.array([0, 1, 0], np.int32))
    model = SimpleNamespace(follows=follows, creators=SimpleNamespace(n=2), feed_cache={})
    first = follow_pick_weights(model, 0.05)
    assert follow_pick_weights(model, 0.05) is first  # the second platform reuses it
    cumw = np.cumsum(follows.intimacy + np.float32(0.05), dtype=np.float64)
    assert np.array_equal(first, np.r_[0.0, cumw[[1, 1, 2]]] if compiled else cumw)
    assert follow_pick_weights(model, 0.1) is not first  # another base: its own cumsum
    model.feed_cache = None
    assert follow_pick_weights(model, 0.05) is not first


def test_follow_pick_weights_numpy_form_is_cumsum_in_float64(monkeypatch):
    """Guards slots.follow_pick_weights' numpy form (float32 weights cast, then summed in
    place): bit for bit ``np.cumsum(intimacy + base, dtype=float64)``, including no edges
    and one edge."""
    from types import SimpleNamespace

    from simulator.feeds import numpy_kernels
    from simulator.feeds.slots import follow_pick_weights

    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)  # (a long run built earlier in this process)
    rng = np.random.default_rng(5)
    for n in (0, 1, 2, 1000, 70_000):
        intimacy = rng.random(n).astype(np.float32)
        intimacy[rng.random(n) < 0.2] = 0.0
        for base in (0.05, 0.3):
            model = SimpleNamespace(follows=SimpleNamespace(intimacy=intimacy), feed_cache=None)
            got = follow_pick_weights(model, base)
            want = np.cumsum(intimacy + np.float32(base), dtype=np.float64)
            assert got.dtype == np.float64 and got.shape == (n,)
            assert np.array_equal(got.view(np.int64), want.view(np.int64))


def test_build_feeds_keeps_no_feed_cache_after_the_feeds(monkeypatch):
    """Guards TrafficModel.build_feeds: the cache of what the platforms share lives only
    while the feeds are built."""
    from simulator import TrafficModel
    from simulator.config import load_scenario
    from simulator.feeds import slots

    scenario = load_scenario("scenarios/ecosystem.toml", overrides={"population": {"users": 2000, "creators": 60, "merchants": 2},
                                                                    "creators": {"multi_homing": False}})  # (shared weights)
    model = TrafficModel(scenario, seed=3)
    seen, orig = [], slots.follow_pick_weights

    def probe(m, base):
        seen.append(m.feed_cache is not None)
        return orig(m, base)

    monkeypatch.setattr(slots, "follow_pick_weights", probe)
    model.step()
    assert len(seen) >= 2 and all(seen) and model.feed_cache is None


@pytest.mark.parametrize("scenario", ["ecosystem", "douyin", "kuaishou"])
def test_compiled_and_numpy_forms_give_the_same_run(monkeypatch, scenario):
    """Guards the size switch of issue #17 (numpy_kernels.COMPILED_FROM): the exposure
    tallies, users' satisfaction counts, the cold-start offers and their cut, the ad
    market's audiences, the follow graph's inserts, the follow tab's picks, the
    reactions, the friends counted for adoption and the ranking (numpy_kernels.
    COMPILED_USERS: the block's follow edges, Gumbel-top-k, the fused linear score, the
    exposure cap's grants, the picks and their follow edges) run their numpy form on
    small days and their compiled form on large ones; forcing either everywhere gives
    the same run (ecosystem: attention and two feed platforms; douyin: no cap; kuaishou:
    the exposure cap)."""
    from simulator import TrafficModel
    from simulator.config import load_scenario
    from simulator.feeds import numpy_kernels

    def run(threshold):
        monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
        monkeypatch.setattr(numpy_kernels, "COMPILED_USERS", threshold)
        monkeypatch.setattr(numpy_kernels, "COMPILED_RUN", threshold)  # (by run length too)
        monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
        loaded = load_scenario(f"scenarios/{scenario}.toml",
                               overrides={"population": {"users": 3000, "creators": 80, "merchants": 2}})
        model = TrafficModel(loaded, seed=5)
        for _ in range(3):
            model.step()
        return (model.metrics_frame(), model.follows.keys.copy(), model.items.engagements.copy(),
                model.items.impressions.copy())

    small, big = run(10**12), run(0)
    assert small[0].equals(big[0])
    assert all(np.array_equal(a, b) for a, b in zip(small[1:], big[1:]))


@pytest.mark.parametrize("policy", ["interest", "popularity"])
def test_reference_policies_rank_the_same_compiled_and_numpy(monkeypatch, policy):
    """Guards the compiled ranking's branch for policies that are not linear (issue #17:
    the block's follow edges and picks from the compiled passes, the score from the
    policy and Gumbel-top-k): forcing the compiled forms gives the numpy forms' run."""
    from simulator import TrafficModel
    from simulator.feeds import numpy_kernels

    from ..conftest import small

    def run(threshold):
        for name in ("COMPILED_FROM", "COMPILED_USERS", "COMPILED_RUN"):
            monkeypatch.setattr(numpy_kernels, name, threshold)
        monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
        model = TrafficModel(small(policy=policy), seed=4).run(3)
        return model.metrics_frame(), model.items.impressions.copy()

    (m_small, i_small), (m_big, i_big) = run(10**12), run(0)
    assert m_small.equals(m_big) and np.array_equal(i_small, i_big) and i_small.sum() > 0


def test_flywheel_groups_and_the_collectors_row_computed_once_a_step(monkeypatch):
    """Guards two fixed per-step costs of the metrics (issue #17, item 3): the flywheel's
    creator groups (quality strata, intimacy quartiles: np.quantile calls) are computed
    once per step for all views that compare the same creators, not once per platform and
    again for 'all' (with multi-homing, as here, each feed platform compares those present
    on it: 'all' and the two feeds, none for the shelf, 3 a step); and Mesa's
    DataCollector's ~30 reporters find the latest 'all' row and its impression shares
    once per step, not once each. The values are those of the uncached computations."""
    from simulator import TrafficModel
    from simulator import model as model_module
    from simulator.observation import measurements

    model = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                         **{"population.users": 1500, "population.creators": 40, "population.merchants": 4})
    calls = {"groups": 0, "shares": 0}
    groups, shares = measurements.flywheel_groups, model_module.impression_shares

    def counted_groups(*args):
        calls["groups"] += 1
        return groups(*args)

    def counted_shares(row):
        calls["shares"] += 1
        return shares(row)

    monkeypatch.setattr(measurements, "flywheel_groups", counted_groups)
    monkeypatch.setattr(model_module, "impression_shares", counted_shares)
    model.run(3)
    assert calls == {"groups": 9, "shares": 3}
    rows = model.metrics_frame()
    for name, row in rows.groupby("platform"):
        view = next(v for v in measurements_views(model) if v.name == name)
        want = (dict.fromkeys(measurements.Flywheel.columns, np.nan) if name == "taobao" else
                measurements.flywheel(model, view.creator_cum, model.scenario.metrics.quality_bins,
                                      present=measurements.flywheel_present(model, view.index)))
        got = row.iloc[-1]
        assert all(np.isclose(got[k], w, rtol=0, atol=0, equal_nan=True) for k, w in want.items())
    collected = model.datacollector.get_model_vars_dataframe().iloc[-1]
    last_all = rows[rows.platform == "all"].iloc[-1]
    assert collected["impressions_total"] == last_all["impressions_total"]
    assert collected["public_share_impressions"] == last_all["impressions_public"] / last_all["impressions_total"]


def measurements_views(model):
    from simulator.observation.views import views

    return views(model)


def _follow_tab_twin(indptr, values, base, creator, blocked, active, n, recent_ptr, recent_items, rng):
    """The follow tab's numpy form (slots.follow_slots below the size switch) on plain
    arrays: (pos, user, item, edge) of the impressions."""
    from simulator.state.arrays import random_in_rows, weighted_in_rows

    pos = np.repeat(np.arange(len(active)), n)
    # (a blocked creator's edges weigh 0: slots.follow_pick_values' copy, -base + base)
    cumw = np.cumsum(np.where(blocked[creator], -base, values) + base, dtype=np.float64)
    edge = weighted_in_rows(indptr, cumw, active[pos].astype(np.int64), rng)
    ok = edge >= 0
    ok[ok] = ~blocked[creator[edge[ok]]]
    pos, edge = pos[ok], edge[ok]
    item = random_in_rows(recent_ptr, creator[edge].astype(np.int64), rng)
    ok = item >= 0
    return pos[ok], active[pos[ok]], recent_items[item[ok]], edge[ok]


def _follow_tab_compiled(indptr, values, base, creator, blocked, active, n, recent_ptr, recent_items, rng):
    from simulator.feeds.kernels import follow_tab_edges, follow_tab_items, row_start_sums

    first = np.cumsum(n) - n
    start = row_start_sums(indptr, values, base, creator, blocked)
    edge, edge_creator, kept = follow_tab_edges(indptr, start, values, base, creator, blocked, active, n, first,
                                                rng.random(int(n.sum())))
    assert np.array_equal(edge_creator, np.where(edge >= 0, creator[edge], -1))
    return follow_tab_items(edge, edge_creator, kept, active, n, recent_ptr, recent_items, rng.random(kept))


def test_follow_tab_kernels_match_the_numpy_picks():
    """Guards kernels.follow_tab_edges and kernels.follow_tab_items (issue #17, tenth
    pass, FOLLOWTAB: the follow tab's picks in two compiled passes over the picking
    users): the same impressions (place, user, item, edge, in order) as the numpy form,
    from the same uniforms in the same order (the generator ends in the same state),
    with empty rows (the first rows too), rows that weigh nothing, a -0.0 first weight,
    blocked creators, creators without recent items, users without picks, one user and
    no pick (a blocked pick that keeps its uniform for the item, an item drawn for a
    blocked pick, or a count that truncates differently fails here)."""
    rng = np.random.default_rng(11)
    n_users, n_creators = 4000, 50
    per_row = rng.poisson(7, n_users)
    per_row[rng.random(n_users) < 0.05] = 0
    per_row[:3] = 0
    indptr = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    creator = np.concatenate([np.sort(rng.choice(n_creators, k, replace=False)) for k in per_row]).astype(np.int32)
    values = rng.random(indptr[-1]).astype(np.float32) ** 3
    values[rng.random(len(values)) < 0.2] = 0.0
    values[indptr[20]:indptr[21]] = 0.0  # a row that weighs nothing (with base 0)
    values[0] = -0.0
    blocked = rng.random(n_creators) < 0.15
    recent_n = rng.poisson(2, n_creators)
    recent_n[rng.random(n_creators) < 0.2] = 0
    recent_ptr = np.r_[0, np.cumsum(recent_n)].astype(np.int64)
    recent_items = rng.permutation(int(recent_ptr[-1]) + 100)[: recent_ptr[-1]].astype(np.int64)
    active = np.sort(rng.choice(n_users, 2500, replace=False)).astype(np.int32)
    active[:2] = [0, 20]
    n = rng.binomial(12, 0.4, len(active)).astype(np.int64)
    n[rng.random(len(active)) < 0.1] = 0
    for base in (np.float32(0.0), np.float32(0.05)):
        for blk in (blocked, np.zeros(n_creators, bool)):
            r1, r2 = np.random.default_rng(3), np.random.default_rng(3)
            want = _follow_tab_twin(indptr, values, base, creator, blk, active, n, recent_ptr, recent_items, r1)
            got = _follow_tab_compiled(indptr, values, base, creator, blk, active, n, recent_ptr, recent_items, r2)
            assert [g.dtype for g in got] == [np.int64, np.int32, np.int32, np.int32]
            assert all(np.array_equal(g, w) for g, w in zip(got, want)) and len(got[0]) > 1000
            assert r1.random() == r2.random()
    # one user, one row; no pick; no user
    one = np.array([0, 3], np.int64)
    v = np.array([0.5, 0.0, 2.0], np.float32)
    c = np.array([0, 1, 2], np.int32)
    ptr = np.array([0, 1, 1, 3], np.int64)
    items = np.array([7, 8, 9], np.int64)
    for nn in ([5], [0]):
        act, nn = np.zeros(1, np.int32), np.array(nn, np.int64)
        for blk in (np.zeros(3, bool), np.array([False, False, True])):
            r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
            want = _follow_tab_twin(one, v, np.float32(0.0), c, blk, act, nn, ptr, items, r1)
            got = _follow_tab_compiled(one, v, np.float32(0.0), c, blk, act, nn, ptr, items, r2)
            assert all(np.array_equal(g, w) for g, w in zip(got, want)) and r1.random() == r2.random()
    # draws exactly on a cumulative weight (a zero first weight: r = 0.0 and r = 0.5), the row
    # summed once (5 picks) and scanned per pick (1 pick)
    from simulator.feeds.kernels import follow_tab_edges, row_start_sums
    from simulator.state.arrays import weighted_in_rows

    v0 = np.array([0.0, 0.5, 2.0], np.float32)
    start = row_start_sums(one, v0, np.float32(0.0), c, np.zeros(3, bool))
    u = np.array([0.0, 0.2, 0.2, 0.99, 1.0 - 1e-12])
    for k in (5, 1):
        want = weighted_in_rows(one, np.cumsum(v0, dtype=np.float64), np.zeros(k, np.int64), _Uniforms(u[:k]))
        edge, _, kept = follow_tab_edges(one, start, v0, np.float32(0.0), c, np.zeros(3, bool), np.zeros(1, np.int32),
                                         np.array([k], np.int64), np.zeros(1, np.int64), u[:k])
        assert np.array_equal(edge, want) and kept == k and (k == 1 or list(edge[:3]) == [1, 2, 2])
    got = _follow_tab_compiled(one, v, np.float32(0.0), c, np.zeros(3, bool), np.zeros(0, np.int32),
                               np.zeros(0, np.int64), ptr, items, np.random.default_rng(0))
    assert all(len(g) == 0 for g in got)


def test_follow_tab_kernels_weigh_a_blocked_creators_edges_0_as_the_copy_did():
    """Guards the compiled follow tab's weights of blocked accounts (kernels._pick_weight,
    read by row_start_sums, row_start_sums_and_marked and follow_tab_edges' row buffer
    and per-pick scan): from the per-creator mask, with no copy of the intimacy (issue
    #17's memory), the bit-for-bit sums and the same picks as slots.follow_pick_values'
    copy (a blocked edge's value -base: weight -base + base = +0.0 in float32), and as
    numpy's search over that copy's cumsum; with the graph's first edge blocked (the
    cumsum's copied first weight), users of 1 and 2 picks (scanned per pick) and of 3 or
    more (the row summed once), bases 0.05 and 1 (and 0, where -0.0 + 0.0 is +0.0).
    Fails when any of the four ignores the mask (its weights or sums are the
    intimacy's)."""
    from simulator.feeds.kernels import follow_tab_edges, row_start_sums, row_start_sums_and_marked
    from simulator.state.arrays import weighted_in_rows

    rng = np.random.default_rng(31)
    n_users, n_creators = 3000, 40
    per_row = rng.poisson(6, n_users)
    per_row[:2] = [4, 0]
    indptr = np.r_[0, np.cumsum(per_row)].astype(np.int64)
    creator = rng.integers(0, n_creators, indptr[-1]).astype(np.int32)
    values = (rng.random(indptr[-1]) ** 3).astype(np.float32)
    blocked = rng.random(n_creators) < 0.3
    blocked[creator[0]] = True  # the graph's first edge
    none = np.zeros(n_creators, bool)
    marked = rng.random(n_creators) < 0.1
    active = np.arange(n_users, dtype=np.int32)
    n = rng.integers(0, 6, n_users).astype(np.int64)
    assert {1, 2, 3, 5} <= set(n.tolist())
    for base in (np.float32(0.05), np.float32(1.0), np.float32(0.0)):
        copy = np.where(blocked[creator], -base, values).astype(np.float32)
        want = row_start_sums(indptr, copy, base, creator, none)
        got = row_start_sums(indptr, values, base, creator, blocked)
        assert got.tobytes() == want.tobytes()
        assert got.tobytes() != row_start_sums(indptr, values, base, creator, none).tobytes()  # (the mask matters)
        sums, edge = row_start_sums_and_marked(indptr, values, base, creator, blocked, marked, 100)
        assert sums.tobytes() == want.tobytes() and np.array_equal(edge, np.flatnonzero(marked[creator]))
        for n0 in (1, 4):  # the first user's row (the graph's first edge) scanned per pick, then summed once
            n[0] = n0
            first = np.cumsum(n) - n
            u = np.random.default_rng(5).random(int(n.sum()))
            pick, _, kept = follow_tab_edges(indptr, got, values, base, creator, blocked, active, n, first, u)
            cumw = np.cumsum(copy + base, dtype=np.float64)
            search = weighted_in_rows(indptr, cumw, np.repeat(active, n).astype(np.int64), _Uniforms(u))
            search[search >= 0] = np.where(blocked[creator[search[search >= 0]]], -1, search[search >= 0])
            assert np.array_equal(pick, search) and kept == (pick >= 0).sum() > 5000
            assert not blocked[creator[pick[pick >= 0]]].any() and (pick[:n0] >= 0).all()
            # the same picks from the copy's values (the kernels as the copy had them)
            again, _, kept_again = follow_tab_edges(indptr, want, copy, base, creator, blocked, active, n, first, u)
            assert np.array_equal(again, pick) and kept_again == kept


def test_follow_slots_compiled_and_numpy_forms_agree(monkeypatch):
    """Guards slots._follow_slots_compiled (issue #17, tenth pass, FOLLOWTAB): on a
    stepped ecosystem with banned accounts and creators absent from a platform, the
    compiled follow tab gives the numpy form's impressions and places, and leaves the
    feed's generator in the same state."""
    from simulator import TrafficModel
    from simulator.config import load_scenario
    from simulator.feeds import numpy_kernels, slots

    scenario = load_scenario("scenarios/ecosystem.toml", overrides={"population": {"users": 3000, "creators": 80, "merchants": 6}})
    model = TrafficModel(scenario, seed=8)
    for _ in range(2):
        model.step()
    merchants = model.merchants
    merchants.banned[:, ::2] = True  # half the merchants' accounts banned everywhere
    feed = [p for p in model.platforms.values() if p.cfg.kind != "shelf"]
    assert model.presence.absent(feed[0].index).any() and len(feed) == 2
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    for platform in feed:
        rng = np.random.default_rng(platform.index)
        active = np.sort(rng.choice(model.users.n, 1500, replace=False)).astype(np.int32)
        n = rng.binomial(10, 0.5, len(active))
        out = {}
        for threshold in (10**12, 0):
            monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
            r = np.random.default_rng(1)
            out[threshold] = slots.follow_slots(model, platform, active, n, r) + (r.random(),)
        (imp_a, pos_a, u_a), (imp_b, pos_b, u_b) = out[10**12], out[0]
        assert np.array_equal(pos_a, pos_b) and u_a == u_b and len(pos_a) > 500
        for name in ("user", "item", "source", "edge", "match", "targeting"):
            a, b = getattr(imp_a, name), getattr(imp_b, name)
            assert a.dtype == b.dtype and np.array_equal(a, b), name
        blocked = slots.blocked_creators(model, platform.index)
        assert blocked.any() and not blocked[model.items.creator[imp_b.item]].any()
