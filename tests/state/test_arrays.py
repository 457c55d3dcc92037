import numpy as np
import pytest

from simulator.state.arrays import union_sorted, unique_sorted


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_unique_sorted_is_np_unique(dtype):
    """Guards state.arrays.unique_sorted, the sort that replaced np.unique on the day's
    follow keys, the customer book's new pairs, the follow graph's additions and the
    shelf's visitors (issue #17: numpy's hash-table unique was 4-15× slower there): the
    same distinct values, ascending, the same dtype, for empty, single, repeated and
    spread-out input, and the input left as it was."""
    rng = np.random.default_rng(4)
    for a in (np.zeros(0, dtype), np.array([7], dtype), np.array([3, 3, 3], dtype),
              rng.integers(0, 50, 400).astype(dtype), rng.integers(-2**30, 2**30, 5000).astype(dtype)):
        before = a.copy()
        out = unique_sorted(a)
        assert out.dtype == a.dtype
        assert np.array_equal(out, np.unique(a))
        assert np.array_equal(a, before)


def test_union_sorted_is_np_union1d():
    """Guards state.arrays.union_sorted, the insert that replaced np.union1d on the
    shelves' remembered buyers (issue #17: union1d sorted the whole set every day): for a
    sorted, distinct ``a`` and any ``b`` (empty, repeated, overlapping ``a``, below and
    beyond its ends) the same values, ascending, the same dtype, and the inputs untouched."""
    rng = np.random.default_rng(5)
    big = np.unique(rng.integers(0, 10**6, 3000))
    cases = [(np.zeros(0, np.int64), np.zeros(0, np.int64)), (np.zeros(0, np.int64), np.array([5, 2, 5])),
             (np.array([4]), np.zeros(0, np.int64)), (np.array([4]), np.array([4, 4])),
             (np.array([4]), np.array([9, 1])), (np.array([2, 4, 6]), np.array([1, 4, 7, 6, 3, 3])),
             (big, rng.integers(-10, 10**6 + 10, 500)), (big, rng.choice(big, 300)),
             (big, np.concatenate([rng.choice(big, 200), rng.integers(0, 10**6, 200)]))]
    for a, b in cases:
        a, b = a.astype(np.int64), b.astype(np.int64)
        a0, b0 = a.copy(), b.copy()
        out = union_sorted(a, b)
        want = np.union1d(a, b)
        assert out.dtype == want.dtype and np.array_equal(out, want)
        assert np.array_equal(a, a0) and np.array_equal(b, b0)


@pytest.mark.parametrize("compiled", [False, True])
def test_sum_by_index_is_bincounts_sums_bit_for_bit(monkeypatch, compiled):
    """Guards kernels.sum_by_index and its numpy form (issue #17: the creators' fan
    intimacy and the day's intimacy gains per follow edge without bincount's copies of
    its inputs at 1 M users): each bin's float64 sum of float32 weights, added in index
    order, equals np.bincount's bit for bit; then the creators' mean fan intimacy and
    the intimacy gains of a few days of a model equal bincount's in either form."""
    from simulator import TrafficModel
    from ..audience.test_relationships import intimacy_gains
    from simulator.feeds import numpy_kernels

    from ..conftest import small

    sum_by_index = numpy_kernels.kernel("sum_by_index", compiled)
    rng = np.random.default_rng(6)
    idx = rng.integers(0, 300, 20000).astype(np.int32)
    w = (rng.random(20000) * 10.0 ** rng.integers(-6, 3, 20000)).astype(np.float32)
    got, want = sum_by_index(idx, w, 310), np.bincount(idx, weights=w, minlength=310)
    assert got.dtype == np.float64 and np.array_equal(got.view(np.int64), want.view(np.int64))
    assert np.array_equal(sum_by_index(idx[:0], w[:0], 4), np.zeros(4))
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    m = TrafficModel(small(), seed=2)
    m.run(3)
    f = m.follows
    n = np.bincount(f.creator, minlength=f.n_creators)
    s = np.bincount(f.creator, weights=f.intimacy, minlength=f.n_creators)
    assert np.array_equal(f.mean_intimacy_by_creator(), np.divide(s, n, out=np.full(len(n), np.nan), where=n > 0),
                          equal_nan=True)
    log, rel = m.day_logs[0], m.scenario.relationship
    fan = np.flatnonzero(log.impressions.edge >= 0)
    gain = np.full(len(fan), rel.gain_view, dtype=np.float32)
    for wt, hit in ((rel.gain_complete, log.reactions.complete), (rel.gain_like, log.reactions.like),
                    (rel.gain_comment, log.reactions.comment), (rel.gain_share, log.reactions.share)):
        gain += np.float32(wt) * hit[fan]
    got = intimacy_gains(log.impressions, log.reactions, rel, f.n_edges + 5)
    assert np.array_equal(got, np.bincount(log.impressions.edge[fan], weights=gain, minlength=f.n_edges + 5))


def test_lexsort_by_uniform_is_np_lexsort():
    """Guards arrays.lexsort_by_uniform (cold start's random subset per user): np.lexsort's
    order of (uniform, group) on random inputs, with ties in the uniforms or in their
    packed leading bits (the fallback), large groups, and no or one entry."""
    from simulator.state.arrays import lexsort_by_uniform

    rng = np.random.default_rng(11)
    cases = [(np.zeros(0), np.zeros(0, np.int64)), (rng.random(1), np.array([3]))]
    for n, groups in [(50, 3), (2000, 6000), (5000, 40), (300, 2**40)]:
        cases.append((rng.random(n), np.sort(rng.integers(0, groups, n))))
        cases.append((rng.random(n), rng.integers(0, groups, n)))  # unsorted groups too
    u = rng.random(400)
    u[::7] = u[3]  # equal uniforms: ties broken by position
    cases.append((u, rng.integers(0, 5, 400)))
    u = rng.random(400)
    u[1::2] = u[::2] + 2.0**-52  # distinct, equal in their leading 49 bits
    cases.append((u, np.full(400, 9000)))
    for u, groups in cases:
        want = np.lexsort((u, groups))
        got = lexsort_by_uniform(u, groups)
        assert np.array_equal(got, want)


def test_columns_grow_in_buffers_with_room():
    """``regrow_buffers`` / ``buffer_room`` (the follow graph's and the customer book's
    columns): the columns keep their values as views of buffers with room; a column that
    is no longer such a view (replaced, or not at the buffer's start) has no room."""
    from types import SimpleNamespace

    from simulator.state.arrays import buffer_room, regrow_buffers

    o = SimpleNamespace(a=np.arange(5, dtype=np.int32), b=np.ones(5, np.float32))
    buffers: dict = {}
    assert buffer_room(o, ("a", "b"), buffers, 5) == 0
    regrow_buffers(o, ("a", "b"), buffers, 5, 3)
    assert np.array_equal(o.a, np.arange(5)) and o.a.dtype == np.int32 and np.array_equal(o.b, np.ones(5))
    assert buffer_room(o, ("a", "b"), buffers, 5) == 3
    buffers["b"] = np.empty(10, np.float32)[:0]  # (a shorter buffer would bound the room; here: not the column's)
    assert buffer_room(o, ("a", "b"), buffers, 5) == 0
    regrow_buffers(o, ("a", "b"), buffers, 5, 2)
    o.a = buffers["a"][1:6]  # a view, but not of the buffer's first entries
    assert buffer_room(o, ("a", "b"), buffers, 5) == 0


def test_weighted_in_repeated_rows_is_weighted_in_rows_of_the_repeated_rows():
    """Guards ``weighted_in_repeated_rows`` (issue #17, eleventh pass: the follow tab's
    row bounds once a user): the same picks and generator state as ``weighted_in_rows``
    of the repeated rows, with empty rows, rows that weigh nothing, users with no picks,
    one row, none."""
    from simulator.state.arrays import weighted_in_repeated_rows, weighted_in_rows

    rng = np.random.default_rng(11)
    for trial in range(64):
        n_rows = int(rng.integers(1, 40)) if trial < 60 else 3000  # (the last: many picks a row)
        size = rng.integers(0, 6 if trial < 60 else 40, n_rows) * (rng.random(n_rows) < 0.8)
        indptr = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
        w = rng.random(int(indptr[-1])).astype(np.float32) * (rng.random(int(indptr[-1])) < 0.7)
        if trial % 3 == 0:
            w[:] = 0.0  # rows that weigh nothing
        cumw = w.astype(np.float64)
        np.cumsum(cumw, out=cumw)
        rows = np.sort(rng.choice(n_rows, int(rng.integers(0, n_rows + 1)), replace=False)).astype(np.int64)
        n = rng.integers(0, 4 if trial < 60 else 30, len(rows))
        a, b = np.random.default_rng(trial), np.random.default_rng(trial)
        got = weighted_in_repeated_rows(indptr, cumw, rows, n, a)
        want = (weighted_in_rows(indptr, cumw, np.repeat(rows, n), b) if len(cumw)
                else np.full(int(n.sum()), -1))  # (no entries: weighted_in_rows cannot index)
        assert got.dtype == np.int64 and np.array_equal(got, want)
        assert a.bit_generator.state == b.bit_generator.state


# ---------------------------------------------------------------- TENK (issue #17, twelfth pass)


def test_find_sorted_is_its_definition():
    """Guards ``find_sorted`` (the clipped read without a test of the end): each query's
    position in the sorted keys or -1, for queries below the first key, above the last
    (past the end), equal to the first and the last, absent between keys; empty keys, no
    queries, one key; int32 queries against int64 keys."""
    from simulator.state.arrays import find_sorted

    def definition(keys, query):
        where = {int(k): i for i, k in enumerate(keys)}
        return np.array([where.get(int(q), -1) for q in query], dtype=np.int64)

    rng = np.random.default_rng(4)
    keys = np.unique(rng.integers(0, 10_000, 500)).astype(np.int64)
    query = np.concatenate([rng.integers(-50, 10_050, 3000), keys[[0, -1]], [keys[0] - 1, keys[-1] + 1, 10**12]])
    for k, q in [(keys, query), (keys, query.astype(np.int32)), (keys[:1], query), (keys[:0], query),
                 (keys, query[:0]), (keys[:1], keys[:1])]:
        got = find_sorted(k, q)
        assert got.dtype == np.int64 and np.array_equal(got, definition(k, q))


def test_picks_in_rows_are_their_definitions():
    """Guards ``random_in_rows`` and ``weighted_in_rows`` (takes, a clipped read of the
    cumulative weights and the clip as two ufuncs) against their definitions by fancy
    indexing, ``np.maximum`` and ``np.clip``: the same picks from the same generator
    state, with empty rows, rows that weigh nothing, the first and the last row, repeated
    rows, int32 and int64 rows, and no rows."""
    from simulator.state.arrays import random_in_rows, weighted_in_rows

    def random_def(indptr, rows, rng):
        lo = indptr[rows]
        n = indptr[rows + 1] - lo
        pick = lo + (rng.random(len(rows)) * n).astype(np.int64)
        return np.where(n > 0, pick, -1)

    def weighted_def(indptr, cumw, rows, rng):
        lo_i, hi_i = indptr[rows], indptr[rows + 1]
        lo = np.where(lo_i > 0, cumw[np.maximum(lo_i - 1, 0)], 0.0)
        hi = np.where(hi_i > 0, cumw[np.maximum(hi_i - 1, 0)], 0.0)
        r = lo + rng.random(len(rows)) * (hi - lo)
        pick = np.searchsorted(cumw, r, side="right").astype(np.int64)
        pick = np.clip(pick, lo_i, np.maximum(hi_i - 1, lo_i))
        return np.where(hi > lo, pick, -1)

    rng = np.random.default_rng(9)
    counts = rng.integers(0, 6, 300)
    counts[[0, 5, -1]] = [3, 0, 4]
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    w = rng.random(int(indptr[-1])).astype(np.float32)
    w[rng.random(len(w)) < 0.2] = 0.0
    w[indptr[7]:indptr[8]] = 0.0  # a row that weighs nothing
    cumw = np.cumsum(w, dtype=np.float64)
    rows = np.concatenate([[0, 5, 7, 299, 0, 299], rng.integers(0, 300, 2000)])
    for r in (rows, rows.astype(np.int32), rows[:0], rows[:1]):
        for seed in (1, 2):
            assert np.array_equal(random_in_rows(indptr, r, np.random.default_rng(seed)),
                                  random_def(indptr, r, np.random.default_rng(seed)))
            assert np.array_equal(weighted_in_rows(indptr, cumw, r, np.random.default_rng(seed)),
                                  weighted_def(indptr, cumw, r, np.random.default_rng(seed)))
    # a uniform just below 1 on a row whose weight is below the cumulative weights' spacing:
    # lo + u · (hi - lo) rounds to hi, past the row: the clip brings the pick back to its last entry

    class _Uniforms:
        def __init__(self, u):
            self.u = np.asarray(u, dtype=np.float64)

        def random(self, n):
            return self.u[:n]

    big = np.array([1e16, 1e16 + 2.0, 1e16 + 4.0, 1e16 + 6.0])
    ptr = np.array([0, 1, 2, 4], dtype=np.int64)
    r = np.array([1, 2, 1, 0])
    u = [np.nextafter(1.0, 0.0), np.nextafter(1.0, 0.0), 0.0, 0.5]
    got = weighted_in_rows(ptr, big, r, _Uniforms(u))
    assert np.array_equal(got, weighted_def(ptr, big, r, _Uniforms(u))) and got[0] == 1
