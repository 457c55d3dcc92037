"""The numpy forms of the feed kernels (small days) against their plain definitions,
without numba (tests/feeds/test_kernels.py checks them against the compiled kernels)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.feeds import numpy_kernels as nk


def _keys(rng, rows, cols):
    key = rng.normal(size=(rows, cols)).astype(np.float32)
    key[rng.random(key.shape) < 0.2] = -np.inf
    key[0, :] = -np.inf
    key[1, :] = -0.0  # signed zeros tie with each other
    key[1, ::2] = 0.0
    key[2, :] = np.float32(0.5)  # exact ties at temperature 0
    return key


def _definition(key, k, temperature, seed, table):
    """Gumbel-top-k by its definition: the stable descending argsort of key + T·noise
    (signed zeros equal), -inf places as -1, padded to k."""
    rows, cols = key.shape
    v = nk.gumbel_noise(rows, cols, seed, table) * np.float32(temperature) + key
    order = np.argsort(-v, axis=1, kind="stable")[:, :k]
    top = np.where(np.isfinite(np.take_along_axis(v, order, axis=1)), order, -1)
    return np.concatenate([top, np.full((rows, k - top.shape[1]), -1)], axis=1) if top.shape[1] < k else top


@pytest.mark.parametrize("rows,cols,k", [(300, 48, 12), (40, 5, 9), (7, nk.NOISE_TAIL + 9, 20), (50, 60, 60)])
def test_gumbel_top_k_halves_are_the_packed_int64s(rows, cols, k):
    """Guards the int64s written as two int32 halves in ``gumbel_top_k`` (little-endian
    machines) against the whole-int64 packing of ``_gumbel_top_k_packed`` (any byte
    order) and the definition: the same lists, ties to the lower column."""
    rng = np.random.default_rng(rows + cols)
    table = nk.gumbel_table(rng)
    key = _keys(rng, rows, cols)
    for t in (0.4, 0.0):
        got = nk.gumbel_top_k(key, k, t, 12345, table)
        v = nk.gumbel_noise(rows, cols, 12345, table) * np.float32(t) + key + np.float32(0.0)
        assert got.dtype == np.int64 and got.shape == (rows, k)
        assert np.array_equal(got, nk._gumbel_top_k_packed(v, k, min(k, cols)))
        assert np.array_equal(got, _definition(key, k, t, 12345, table))


@pytest.mark.parametrize("cols", [3, 48, nk.NOISE_TAIL + 1, nk.NOISE_TAIL + 2])
def test_scaled_noise_is_the_noise_times_the_scale(cols):
    """Guards ``gumbel_noise``'s ``scale`` (the extended table scaled once a day): the same
    float32 products as scaling the noise, for both the slices and the wide rows, and the
    cache follows the scale and the table."""
    rng = np.random.default_rng(cols)
    table, other = nk.gumbel_table(rng), nk.gumbel_table(rng)
    for t in (0.3, 0.7, None, 0.3):
        for tab in (table, other):
            want = nk.gumbel_noise(20, cols, 77, tab)
            if t is not None:
                want = want * np.float32(t)
            assert np.array_equal(nk.gumbel_noise(20, cols, 77, tab, t), want)
    # the noise itself: row i is the run of the table from the hashed offset
    h = nk.splitmix64(np.uint64(77) ^ (np.arange(20, dtype=np.uint64) * nk._ROW_PRIME))
    offset = (h & np.uint64(len(table) - 1)).astype(np.int64)
    assert np.array_equal(nk.gumbel_noise(20, cols, 77, table), table[(offset[:, None] + np.arange(cols)) % len(table)])


# ---------------------------------------------------------------- FEEDS10K (issue #17, eleventh pass)


class _ZeroAt:
    """A generator whose ``random(out=)`` draws hit 0.0 at one place (what ``Generator.gumbel``
    rejects and draws again for); everything else is the wrapped generator's."""

    def __init__(self, rng, at):
        self.rng, self.at = rng, at

    @property
    def bit_generator(self):
        return self.rng.bit_generator

    def random(self, out):
        self.rng.random(out=out)
        out[self.at] = 0.0

    def gumbel(self, size):
        return self.rng.gumbel(size=size)


@pytest.mark.parametrize("n", [0, 1, 1000, 1 << 16])
def test_the_noise_tables_float32s_are_generator_gumbels(monkeypatch, n):
    """Guards ``gumbel_float32s`` (the day's noise table by numpy's vectorized log, the
    values near a float32 tie again by the C library's): the float32s of
    ``rng.gumbel(size=n)`` and the generator's state after, for several seeds; every
    value through the C library's log (a margin that takes them all) and through a log
    off by 2**-45 of its value (within the margin's bound) too; and a draw of 0.0, for
    which ``Generator.gumbel`` draws again, by ``rng.gumbel`` itself from the same state."""
    _gumbels_match(range(12), n, 3)
    monkeypatch.setattr(nk, "_TIE_MARGIN", np.inf)
    _gumbels_match(range(3), n, 3)
    monkeypatch.setattr(nk, "_vector_log", _log_a_little_off)
    _gumbels_match(range(16), n, 3)  # (without the C library's values near a tie, ~10 of these float32s differ)
    monkeypatch.undo()
    if n:
        _gumbels_match(range(2), n, 3, lambda r: _ZeroAt(r, n // 2))


def _gumbels_match(seeds, n: int, stream: int, make=lambda r: r) -> None:
    """``gumbel_float32s(rng, n)`` gives ``rng.gumbel(size=n)``'s float32s and leaves the
    generator's state where ``rng.gumbel`` does, for generators ``[seed, stream]``."""
    import copy

    for seed in seeds:
        want_rng = np.random.default_rng([seed, stream])
        got_rng = copy.deepcopy(want_rng)
        want = want_rng.gumbel(size=n).astype(np.float32)
        got = nk.gumbel_float32s(make(got_rng), n)
        assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want.view(np.int32))
        assert want_rng.random() == got_rng.random()  # the same state after


def _log_a_little_off(x, out):
    """A vectorized log off by 2**-45 of its value, as another library's could be."""
    np.log(x, out=out)
    out *= 1.0 + 2.0**-45
    return out


def test_gumbel_top_k_without_signed_zeros_skips_only_their_pass():
    """Guards ``gumbel_top_k(..., signed_zeros=False)`` (the linear policy's keys, which
    never hold -0.0): the same lists as the default on keys without -0.0 (ties, -inf,
    +0.0, temperature 0), and the default's lists where -0.0 and +0.0 tie."""
    rng = np.random.default_rng(5)
    table = nk.gumbel_table(rng)
    key = _keys(rng, 200, 40)
    key[1, :] = 0.0
    for t in (0.4, 0.0):
        assert np.array_equal(nk.gumbel_top_k(key, 12, t, 7, table, signed_zeros=False),
                              nk.gumbel_top_k(key, 12, t, 7, table))
    key[1, ::2] = -0.0  # (what the flag must not be given: -0.0 after 0.0 in column order)
    assert not np.array_equal(nk.gumbel_top_k(key, 12, 0.0, 7, table, signed_zeros=False)[1],
                              nk.gumbel_top_k(key, 12, 0.0, 7, table)[1])


# ---------------------------------------------------------------- TENK (issue #17, twelfth pass)


def test_chunk_counters_are_the_seeded_counters():
    """Guards ``_chunk_counters`` (the reactions' counters kept per seed): ``seed + golden +
    8 · i`` modulo 2**64 for each seed asked, again after another seed (the kept one is
    replaced, not reused), wrapping past 2**64, longer than ``CHUNK`` when asked; and
    ``draw_actions`` over several chunks gives the actions of its chunks drawn one by one
    (``_draw_chunk`` with each chunk's first impression) whatever seed came before."""
    golden = 0x9E3779B97F4A7C15
    for seed, n in [(42, 10), (7, nk.CHUNK), (42, 1), (2**64 - 3, 5), (42, nk.CHUNK + 9), (7, 3)]:
        got = nk._chunk_counters(seed, n)
        assert got.dtype == np.uint64 and len(got) >= max(n, nk.CHUNK)
        want = [(seed + golden + 8 * i) % 2**64 for i in range(len(got))]
        assert got.tolist() == want
    rng = np.random.default_rng(3)
    n = 2 * nk.CHUNK + 77
    match, quality = rng.random(n).astype(np.float32), rng.random(n).astype(np.float32)
    fan = rng.random(n) < 0.3
    intim = np.where(fan, rng.random(n), 0).astype(np.float32)
    coef, offsets = np.array([-1.3, 2.1, 1.7, 3.3]), np.array([1.5, -0.5, -2.0, -2.5, -4.5])
    for seed in (5, 11, 5):
        got = nk.draw_actions(match, quality, intim, fan, coef, offsets, seed)
        for a0 in (nk.CHUNK, 0, 2 * nk.CHUNK):  # out of order: each chunk on its own
            a1 = min(n, a0 + nk.CHUNK)
            out = np.zeros((5, a1 - a0), dtype=np.bool_)
            nk._chunk_counters(seed + 1, 1)  # another seed kept in between
            nk._draw_chunk(match[a0:a1], quality[a0:a1], intim[a0:a1], fan[a0:a1], coef, np.exp(-offsets), seed,
                           a0, out)
            assert np.array_equal(out, got[:, a0:a1])
    assert got[:4].any(axis=1).all() and got[4].any()


def test_row_offsets_and_windows_are_their_definitions():
    """Guards ``_row_offsets`` (the noise's row offsets hashed in place) against
    ``splitmix64(seed ^ (row · prime)) & mask`` (no rows, one row, seeds at both ends of
    int64, small and full masks), and ``_windows`` (the ndarray constructor's view) against
    ``sliding_window_view``: the same rows, read-only, over the table's own memory."""
    for rows in (0, 1, 7, 1000):
        for seed in (0, 1, 12345, 2**63 - 1):
            for mask in (15, 2**16 - 1):
                want = (nk.splitmix64(np.uint64(seed) ^ (np.arange(rows, dtype=np.uint64) * np.uint64(0x100000001B3)))
                        & np.uint64(mask)).astype(np.int64)
                got = nk._row_offsets(rows, seed, mask)
                assert got.dtype == np.int64 and np.array_equal(got, want)
    ext = np.random.default_rng(2).random(200).astype(np.float32)
    for cols in (1, 3, 64, 200):
        w = nk._windows(ext, cols)
        assert np.array_equal(w, np.lib.stride_tricks.sliding_window_view(ext, cols))
        assert not w.flags.writeable and np.shares_memory(w, ext)


def test_the_noise_tables_margin_catches_a_log_a_little_off(monkeypatch):
    """Guards the tie test of ``gumbel_float32s`` (|low bits - tie| · |g| as one product's
    absolute value) with its own margin: a vectorized log off by 2**-45 of its value (within
    the margin's bound) still gives the generator's float32s, the values near a tie found
    and computed again by the C library's log. (The test above runs its off log with the
    margin that takes every value.)"""
    import copy

    def off(x, out):
        np.log(x, out=out)
        out *= 1.0 + 2.0**-45
        return out

    monkeypatch.setattr(nk, "_vector_log", off)
    for seed in range(16):
        want_rng = np.random.default_rng([seed, 3])
        got_rng = copy.deepcopy(want_rng)
        want = want_rng.gumbel(size=1 << 16).astype(np.float32)
        got = nk.gumbel_float32s(got_rng, 1 << 16)
        assert np.array_equal(got.view(np.int32), want.view(np.int32))


def test_gumbel_top_k_marks_minus_inf_only_where_a_row_runs_out():
    """Guards ``gumbel_top_k``'s -1 places looked for only when some row's last place is -inf
    or worse: the definition's lists for keys without -inf, with one row of fewer finite
    keys than k (its last place -inf), a row whose k-th key is the last finite one, and
    rows with -inf and -NaN keys (which sort after -inf), against the whole-int64 packing
    (``_gumbel_top_k_packed``, which marks every place)."""
    rng = np.random.default_rng(21)
    table = nk.gumbel_table(rng)
    rows, cols, k = 60, 30, 8
    for case in range(4):
        key = rng.normal(size=(rows, cols)).astype(np.float32)
        if case == 1:
            key[17, 3:] = -np.inf  # three finite keys for eight places
        elif case == 2:
            key[5, k:] = -np.inf  # exactly k finite keys: no -1
        elif case == 3:
            key[rng.random(key.shape) < 0.5] = -np.inf
            key[9, :] = -np.inf
            key[9, :2] = 1.0
            key[9, 2:5] = np.float32(-np.nan)  # (-NaN: after -inf in the packed order)
            key[11, 1:] = np.float32(-np.nan)
        for t in (0.4, 0.0):
            got = nk.gumbel_top_k(key, k, t, 3, table, signed_zeros=False)
            v = nk.gumbel_noise(rows, cols, 3, table) * np.float32(t) + key
            assert np.array_equal(got, nk._gumbel_top_k_packed(v, k, k))
            if case < 3:
                assert np.array_equal(got, _definition(key, k, t, 3, table))
            assert (got[17] == -1).sum() == (5 if case == 1 else 0)


# ---------------------------------------------------------------- RANK (issue #17, fourteenth pass)


def _narrow_cases(rng):
    """(v, k) pairs for the int32 ranking: plain rows, many exact ties, near ties (keys a few
    float32 ulps apart, which share their high bits), -inf, -NaN and +NaN, signed zeros, one
    row, no row, one column, and column counts on both sides of a power of two."""
    for rows, cols, k in [(200, 45, 12), (1, 7, 12), (0, 9, 3), (30, 1, 4), (40, 64, 12), (40, 65, 12),
                          (25, 256, 30), (60, 13, 12), (60, 12, 12), (33, 2, 1)]:
        v = rng.normal(size=(rows, cols)).astype(np.float32)
        yield v, k
        yield rng.integers(-2, 3, size=(rows, cols)).astype(np.float32), k  # exact ties
        near = np.float32(3.0) + np.float32(2e-7) * rng.integers(0, 40, size=(rows, cols)).astype(np.float32)
        yield near, k  # near ties: the same group, any order of their low bits
        w = v.copy()
        w[rng.random(w.shape) < 0.6] = -np.inf
        yield w, k
        w = v.copy()
        w[rng.random(w.shape) < 0.1] = np.float32(np.nan)
        w[rng.random(w.shape) < 0.1] = -np.float32(np.nan)
        w[rng.random(w.shape) < 0.2] = -np.inf
        yield w, k
        z = np.where(rng.random((rows, cols)) < 0.5, np.float32(-0.0), np.float32(0.0)).astype(np.float32)
        yield z, k


def test_gumbel_top_k_narrow_is_the_int64s_ranking():
    """Guards ``_gumbel_top_k_narrow`` (a row's places sorted as one int32 each, the rows whose
    first places are uncertain ranked again) against ``_gumbel_top_k_halves`` and the
    whole-int64 packing: the same lists on every case of ``_narrow_cases``, and rows with
    near ties are indeed ranked again (else their columns would come by column order)."""
    rng = np.random.default_rng(14)
    for v, k in _narrow_cases(rng):
        kk = min(k, v.shape[1])
        got = nk._gumbel_top_k_narrow(v.copy(), k, kk)
        assert got.dtype == np.int64 and got.shape == (v.shape[0], k)
        assert np.array_equal(got, nk._gumbel_top_k_halves(v.copy(), k, kk))
        assert np.array_equal(got, nk._gumbel_top_k_packed(v.copy(), k, kk))


def test_gumbel_top_k_takes_the_narrow_path_up_to_its_columns(monkeypatch):
    """Guards the switch: blocks of at least ``NARROW_FROM`` places whose rows have up to
    ``NARROW_COLS`` columns are ranked by ``_gumbel_top_k_narrow``, wider rows and smaller
    blocks by ``_gumbel_top_k_halves``, the same lists."""
    rng = np.random.default_rng(15)
    table = nk.gumbel_table(rng)
    called = []
    for name in ("_gumbel_top_k_narrow", "_gumbel_top_k_halves"):
        f = getattr(nk, name)
        monkeypatch.setattr(nk, name, lambda *a, f=f, name=name: called.append(name) or f(*a))
    for rows, cols in ((700, 48), (583, 48), (110, nk.NARROW_COLS), (110, nk.NARROW_COLS + 1), (50, 48)):
        key = _keys(rng, rows, cols)
        called.clear()
        got = nk.gumbel_top_k(key, 12, 0.4, 5, table)
        narrow = cols <= nk.NARROW_COLS and rows * cols >= nk.NARROW_FROM
        assert narrow == (rows * cols >= 28_000 and cols <= 256)
        assert called[0] == ("_gumbel_top_k_narrow" if narrow else "_gumbel_top_k_halves")
        assert np.array_equal(got, _definition(key, 12, 0.4, 5, table))


@pytest.mark.parametrize("chunk", [0, 7, 1000, 16_384, 1 << 16])
def test_the_noise_tables_chunks_are_the_one_pass_values(monkeypatch, chunk):
    """Guards ``gumbel_float32s``' passes ``GUMBEL_CHUNK`` values at a time (0: all at
    once): the float32s of ``rng.gumbel`` and the generator's state after, for tables that are and are not a multiple of the chunk, with a log off by 2**-45
    (the values near a tie, found chunk by chunk, computed again at their own places), and a
    draw of 0.0 (by ``rng.gumbel`` from the same state)."""
    monkeypatch.setattr(nk, "GUMBEL_CHUNK", chunk)
    for n in (0, 1, 1000, 12_345, 1 << 16):
        _gumbels_match(range(3), n, 5)
    monkeypatch.setattr(nk, "_vector_log", _log_a_little_off)
    _gumbels_match(range(8), 1 << 16, 5)
    _gumbels_match(range(4), 12_345, 5)
    _gumbels_match(range(2), 12_345, 5, lambda r: _ZeroAt(r, 12_000))
