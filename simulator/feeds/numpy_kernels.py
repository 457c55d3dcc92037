"""The size switch of the compiled kernels, and their numpy forms for small days.

A compiled kernel (:mod:`.kernels`, numba) saves its temporaries and numpy's passes on
a large day, but a run pays once for numba: importing it (~0.4 s) and, at the first
kernel call, loading its typing registries to link the cached machine code (~0.4 s of
CPU). At the default population (10,000 users) that was more than all the kernels saved
over a 30-day run, and each call of a parallel kernel cost ~1 ms of dispatch and thread
wake-up on blocks of a few hundred users. So below a size a phase runs the numpy form
of its kernel (this module): the same results, bit for bit (the tests run the model both
ways), and a small run never imports numba. Callers import :mod:`.kernels` only inside
their compiled branch.

* ``COMPILED_FROM``: entries (impressions, follow edges, social ties) from which a
  phase runs its compiled one-pass kernel;
* ``COMPILED_USERS``: a platform's active users of the day from which the ranking
  (Gumbel-top-k, the exposure cap's grants, the picks and their follow edges) is compiled;
* ``COMPILED_RUN``: once the runs built in a process (a year at the default population,
  or a sweep worker's ~7th month-long run) reach this many feed user-days, the compiled
  kernels run at every size: the loading is repaid over the steps (``compiled``,
  ``PREFER_COMPILED``); a worker of a sweep, a comparison or a calibration whose share
  of the batch reaches it runs them from its first run (``expect_user_days``).
"""

from __future__ import annotations

import math
import os
import sys
import threading

import numpy as np

from . import ahead
from ..state.arrays import find_sorted, indptr_from_rows, rank_within_sorted, unique_sorted

# Below this many entries (impressions, follow edges, social ties) a phase uses the numpy
# form of its compiled kernel (the same result; tests check both): at the default
# population a kernel saves less than loading numba costs a short run.
COMPILED_FROM = 500_000
# the same for the ranking (kernels.block_edges, score_top_k, gumbel_top_k, within_cap,
# block_picks), by a platform's active users of the day
COMPILED_USERS = 50_000
# Once the runs built in a process (one long run, or a sweep worker's many short ones)
# add up to this many feed user-days (steps × users × feed platforms), every phase runs
# the compiled kernels at every size: loading them (~1 s of CPU in a first step) is repaid
# by the steps (measured at 10,000 users: ~2-10 ms a step faster on douyin.toml, ~12 ms on
# ecosystem.toml, whose 365 days at 10,000 users are 7.3 M user-days).
COMPILED_RUN = 2_000_000
# set once the runs built in this process reach COMPILED_RUN, and kept (the kernels stay loaded)
PREFER_COMPILED = False
# set for each run built: fewer than COMPILED_USERS users and the kernels compiled ahead
# load (feeds/ahead.py), so every phase runs a compiled kernel without loading numba
AHEAD_RUN = False
_user_days = 0  # the feed user-days of the runs built in this process so far
# The platforms' feeds are built in threads, one per feed platform (feeds/slots.py
# build_feeds), on days whose expected DAU summed over the feed platforms is at least
# FEED_THREADS_FROM (below it, on numpy's forms or numba's kernels, a thread's start and
# the GIL cost more than the second core gives; a small run on the kernels compiled ahead
# from AHEAD_FEED_THREADS_FROM, below) and below FEED_THREADS_UNTIL (two feeds'
# temporaries at once: +250 MiB of peak memory at 1 M users, which would be ~+2.5 GiB on
# the 10 M run's 13.1 GiB peak against issue #17's 16 GiB), with at most FEED_THREADS
# threads (None: the cores this process may use; 1: never; one_kernel_thread sets 1). The
# same results for any number of threads.
FEED_THREADS_FROM = COMPILED_USERS
FEED_THREADS_UNTIL = 5_000_000
FEED_THREADS: int | None = None
# In a small run on the kernels compiled ahead (AHEAD_RUN), which release the GIL, the
# same threads start from smaller days: the feeds' from AHEAD_FEED_THREADS_FROM expected
# DAU over the feed platforms, a platform's ranking blocks' from AHEAD_RANK_THREADS_FROM
# active users on it, the step's background thread (model.py ``_in_background``) from
# AHEAD_BACKGROUND_FROM impressions in the day. Below them a thread's handoffs cost about
# what the second core gives (measured on the 2-core machine, douyin.toml in lockstep:
# 1.06x the step's time at 3,000 users with the background, ~1.0 at 6,000, 0.96 at 8,000,
# 0.88 at 10,000 with both; benchmarks/README.md, "Nineteenth pass").
AHEAD_FEED_THREADS_FROM = 8_000
AHEAD_RANK_THREADS_FROM = 5_000
AHEAD_BACKGROUND_FROM = 60_000
# A platform's ranking blocks are ranked in threads (feeds/recommend.py ``rank_threads``),
# each thread taking the next block left, on days with at least RANK_THREADS_FROM active
# users on it (AHEAD_RANK_THREADS_FROM in a small run on the kernels compiled ahead) and
# no exposure cap (the blocks are then independent of each other), with at most as many
# threads as the feeds may use (``FEED_THREADS``, ``TRAFFICSIM_FEED_THREADS``, the
# cores). The same results for any number of threads.
RANK_THREADS_FROM = COMPILED_USERS
# The step's background thread (model.py ``_in_background``: what the phases after the
# reactions read of the day's trace) runs on days of at least BACKGROUND_FROM impressions
# on the compiled kernels (AHEAD_BACKGROUND_FROM in a small run on the kernels compiled
# ahead), with one feed platform or several, where the feeds may use more than one thread
# and below FEED_THREADS_UNTIL expected DAU (memory, as for the feeds' threads): feeds/slots.py
# ``background_thread``. Measured in lockstep (douyin.toml, one feed platform): 0.91 of the
# step's time at 60,000 users, 0.85 at 200,000, 0.89 at 1 M (benchmarks/README.md,
# "Twentieth pass").
BACKGROUND_FROM = COMPILED_FROM


def threads_from(large: int, ahead: int) -> int:
    """The size from which a kind of thread starts (the feeds', the ranking's): ``ahead``
    in a small run on the kernels compiled ahead (``AHEAD_RUN``: they release the GIL),
    else ``large``."""
    return ahead if AHEAD_RUN else large


def compiled(n: int, threshold: int | None = None) -> bool:
    """Whether a phase of ``n`` entries runs its compiled kernel: from ``threshold``
    (default ``COMPILED_FROM``) on, or at any size in a process that built a long run
    (``PREFER_COMPILED``) or in a small run with the kernels compiled ahead
    (``AHEAD_RUN``). Both forms give the same results."""
    return PREFER_COMPILED or AHEAD_RUN or n >= (COMPILED_FROM if threshold is None else threshold)


def prefer_compiled_for(steps: int, users: int, feed_platforms: int) -> None:
    """Called for each new run: once the runs built in this process reach ``COMPILED_RUN``
    feed user-days, every later phase runs the compiled kernels (``PREFER_COMPILED``). A
    run of fewer than ``COMPILED_USERS`` users runs them from its first step when they
    were compiled ahead (``AHEAD_RUN``, :mod:`.ahead`)."""
    global PREFER_COMPILED, AHEAD_RUN, _user_days
    _user_days += steps * users * feed_platforms
    if _user_days >= COMPILED_RUN:
        PREFER_COMPILED = True
    AHEAD_RUN = users < COMPILED_USERS and ahead.load() is not None


def expect_user_days(n: int) -> None:
    """Called by a worker of a sweep, a comparison or a calibration before each run, with
    the feed user-days its share of the batch comes to (``experiments.user_days_share``):
    when they reach ``COMPILED_RUN`` the compiled kernels run from this run on, so that
    the loading is repaid over the whole share, instead of from the run that brings the
    worker's finished runs to it (``prefer_compiled_for``). The same results either way."""
    global PREFER_COMPILED
    if n >= COMPILED_RUN:
        PREFER_COMPILED = True


def kernel(name: str, compiled: bool):
    """The kernel ``name``: the compiled one (:func:`compiled_kernels`) when ``compiled``
    (see :func:`compiled`), else its numpy form of the same name here."""
    if compiled:
        return getattr(compiled_kernels(), name)
    return globals()[name]


def compiled_kernels():
    """The compiled kernels, as a namespace: compiled ahead in a small run
    (``AHEAD_RUN``, :mod:`.ahead`), else numba's (:mod:`.kernels`, importing numba).
    Callers read a kernel from it only inside their compiled branch."""
    if AHEAD_RUN:
        return ahead.load()
    from . import kernels

    return kernels


def one_kernel_thread() -> None:
    """Run the compiled kernels on one thread in this process (a worker of a sweep, a
    comparison or a calibration: the workers are the parallelism), and the platforms'
    feeds one after the other (``FEED_THREADS``). Without importing
    numba when it is not loaded yet: numba reads ``NUMBA_NUM_THREADS`` as it is imported,
    so a worker whose runs stay on the numpy forms never pays for it (~0.4 s)."""
    global FEED_THREADS
    FEED_THREADS = 1
    numba = sys.modules.get("numba")
    if numba is None:
        os.environ["NUMBA_NUM_THREADS"] = "1"
    else:
        numba.set_num_threads(1)


GUMBEL_TABLE_BITS = 16
_ROW_PRIME = np.uint64(0x100000001B3)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def gumbel_table(rng: np.random.Generator) -> np.ndarray:
    """2**16 standard Gumbel samples (fits in L2 cache); the ranking indexes it by a hash of (seed, row, col).
    ``rng.gumbel(size=2**16).astype(np.float32)``, the same draws and float32s, computed by
    :func:`gumbel_float32s` (about half its time)."""
    return gumbel_float32s(rng, 1 << GUMBEL_TABLE_BITS)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer on a uint64 array (wraps modulo 2**64; the twin of
    ``kernels._splitmix64``)."""
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def gumbel_noise(rows: int, cols: int, seed: int, table: np.ndarray, scale: float | None = None) -> np.ndarray:
    """The noise the Gumbel-top-k kernels add to entry (row, col): ``table[(offset(row) +
    col) mod len(table)]``, the offset hashed from (seed, row). (rows, cols) float32;
    with ``scale``, each entry times ``np.float32(scale)`` (the same float32 products).
    A row's noise is a run of the table (wrapping round its end): copied as one slice
    of the table followed by its first ``NOISE_TAIL`` entries (scaled), built once per
    table and scale."""
    mask = len(table) - 1
    offset = _row_offsets(rows, seed, mask)
    if cols > NOISE_TAIL + 1:
        v = table[(offset[:, None] + np.arange(cols)) & mask]
        if scale is not None:
            v *= np.float32(scale)
        return v
    global _EXTENDED
    extended = _EXTENDED  # read once: the platforms' feeds may be built in threads, each with its own table
    if extended[0] is not table or extended[1] != scale:
        ext = np.concatenate([table, table[:NOISE_TAIL]])
        if scale is not None:
            ext *= np.float32(scale)
        extended = _EXTENDED = (table, scale, ext)
    return _windows(extended[2], cols)[offset]


def _windows(ext: np.ndarray, cols: int) -> np.ndarray:
    """Every run of ``cols`` entries of ``ext``, as rows of a read-only view (the ndarray
    constructor over ``ext``'s buffer: ``sliding_window_view``'s view without its checks,
    nor ``as_strided``'s Python-level interface dict, which measured ~25 µs a block in the
    model)."""
    w = np.ndarray((len(ext) - cols + 1, cols), ext.dtype, ext, strides=(ext.strides[0],) * 2)
    w.flags.writeable = False
    return w


NOISE_TAIL = 1023  # rows of up to this many + 1 columns read their noise as slices
# the last table and scale, and the table (scaled) followed by its first NOISE_TAIL entries
_EXTENDED: tuple = (None, None, None)


def gumbel_top_k(key: np.ndarray, k: int, temperature: float, seed: int, table: np.ndarray,
                 signed_zeros: bool = True) -> np.ndarray:
    """``kernels.gumbel_top_k`` in numpy: per row, the indices of the ``k`` largest
    ``key + temperature · noise`` (float32) in descending order, ties to the lower
    column; -inf keys never chosen, rows with fewer finite entries padded with -1.
    key : (rows, cols) float32. Returns (rows, k) int64.

    Each entry becomes one int64 that orders as (value, then the lower column first):
    the float32's bits made monotonic in the high half, the column reversed in the low
    half; keys are then distinct, so sorting them gives the kernel's list exactly,
    without an index sort. Blocks of at least ``NARROW_FROM`` places (rows of up to
    ``NARROW_COLS`` columns) are sorted as one int32 a place instead, the few rows that
    cannot tell their first places apart in it ranked again (:func:`_gumbel_top_k_narrow`:
    the same lists). ``signed_zeros=False``: the caller's keys have no -0.0 (so
    neither has key + noise, which is -0.0 only where both are), no pass turning it into 0.0."""
    rows, cols = key.shape
    kk = min(k, cols)
    if kk <= 0:
        return np.full((rows, k), -1, dtype=np.int64)
    v = gumbel_noise(rows, cols, seed, table, temperature)  # temperature · noise
    v += key  # key + temperature · noise (float32; the sum commutes exactly)
    if signed_zeros:
        v += np.float32(0.0)  # -0.0 → 0.0: the kernel's comparisons treat them as equal
    if not _LITTLE:  # (the halves below are written by address)
        return _gumbel_top_k_packed(v, k, kk)
    if cols <= NARROW_COLS and rows * cols >= NARROW_FROM:  # (rows sorted as int32s, the rare uncertain ones as below)
        return _gumbel_top_k_narrow(v, k, kk)
    return _gumbel_top_k_halves(v, k, kk)


def _gumbel_top_k_halves(v: np.ndarray, k: int, kk: int) -> np.ndarray:
    """:func:`gumbel_top_k`'s packing, sort and picks of ``v`` (key + noise) on
    little-endian machines: the packed int64s written as two int32 halves."""
    rows, cols = v.shape
    # ascending = best first: ~monotonic(v) in the high half (int32), the column in the low
    # (unsigned), written straight into the int64s' halves
    packed = np.empty((rows, cols), dtype=np.int64)
    halves = packed.view(np.int32).reshape(rows, cols, 2)
    b = v.view(np.int32)
    m = b >> 31
    m &= np.int32(0x7FFFFFFF)
    m ^= b  # _monotonic(v)
    np.invert(m, out=halves[:, :, 1])
    halves[:, :, 0] = np.arange(cols, dtype=np.int32)
    packed.sort(axis=1)  # (rows of ~50: as quick as a partition, and the first k come sorted)
    best = packed[:, :kk]
    top = best & _LOW
    # -inf keys sort after every finite one (only -NaN after them): a row's places hold none
    # unless its last one is -inf or worse, so the pass over every place only then
    if rows and (best[:, kk - 1] >> 32 >= ~_MINUS_INF).any():
        top[(best >> 32) == ~_MINUS_INF] = -1
    if kk < k:
        top = np.concatenate([top, np.full((rows, k - kk), -1, dtype=np.int64)], axis=1)
    return top


_LOW = np.int64(0xFFFFFFFF)
_LITTLE = sys.byteorder == "little"


def _gumbel_top_k_packed(v: np.ndarray, k: int, kk: int) -> np.ndarray:
    """The packing and sort of :func:`gumbel_top_k` by whole-int64 operations (any byte
    order): ``~(monotonic(v) << 32 | (2**32 - 1 - column))``, the same int64s."""
    rows, cols = v.shape
    packed = _monotonic(v).astype(np.int64)
    packed <<= 32
    packed |= _LOW - np.arange(cols)
    np.invert(packed, out=packed)  # ascending = best first
    packed.sort(axis=1)
    best = ~packed[:, :kk]
    top = np.where((best >> 32) == _MINUS_INF, -1, _LOW - (best & _LOW))
    if kk < k:
        top = np.concatenate([top, np.full((rows, k - kk), -1, dtype=np.int64)], axis=1)
    return top


def _monotonic(v: np.ndarray) -> np.ndarray:
    """float32 → int32 with the same order (negative floats' magnitude bits flipped)."""
    b = v.view(np.int32)
    return b ^ ((b >> 31) & np.int32(0x7FFFFFFF))


_MINUS_INF = np.int64(_monotonic(np.array([-np.inf], dtype=np.float32))[0])


def within_cap(top: np.ndarray, cap: np.ndarray, k_u: np.ndarray) -> np.ndarray:
    """``kernels.within_cap`` in numpy: mask of ranked picks (users × ranks, -1 padded)
    that fit their column's ``cap``, a column granted rank by rank, then row by row, a
    row visited until it has ``k_u`` granted places. Rank by rank, vectorized over rows:
    within a rank a column's picks are granted in row order while its allowance lasts."""
    rows, k = top.shape
    left = cap.astype(np.int64)  # (a copy: the allowances are whole, int64 as the kernel's)
    taken = np.zeros(rows, dtype=np.int64)
    out = np.zeros((rows, k), dtype=bool)
    small = len(cap) <= 32767
    for r in range(k):
        at = np.flatnonzero((top[:, r] >= 0) & (taken < k_u))
        if len(at) == 0:
            continue
        col = top[at, r]
        # each pick's place among its column's picks of this rank, in row order (a stable
        # sort by column; of 16-bit columns, numpy's radix sort)
        order = np.argsort(col.astype(np.int16) if small else col, kind="stable")
        seen = np.empty(len(col), dtype=np.int64)
        seen[order] = rank_within_sorted(col[order])
        ok = seen < left[col]
        at, col = at[ok], col[ok]
        out[at, r] = True
        taken[at] += 1
        left -= np.bincount(col, minlength=len(left))
    return out


def draw_actions(match, quality, intimacy, is_fan, coef, offsets, seed) -> np.ndarray:
    """``kernels.draw_actions`` in numpy, with the same float64 operations in the same
    order and the same counter-based uniforms: every impression's actions. Returns (5,
    n) bools. Runs ``CHUNK`` impressions at a time, so that each pass's arrays stay in
    the CPU's cache (measured: half the time of whole-day passes at 84,000 impressions)."""
    n = len(match)
    out = np.zeros((5, n), dtype=np.bool_)
    scale = np.exp(-offsets)
    for a0 in range(0, n, CHUNK):
        a1 = min(n, a0 + CHUNK)
        _draw_chunk(match[a0:a1], quality[a0:a1], intimacy[a0:a1], is_fan[a0:a1], coef, scale, seed, a0,
                    out[:, a0:a1])
    return out


CHUNK = 16_384  # impressions per pass of draw_actions (its uint64 and float64 temporaries: 128 KiB each)


def _draw_chunk(match, quality, intimacy, is_fan, coef, scale, seed, first, out) -> None:
    """``draw_actions`` of the impressions ``first``, ``first + 1``, … into ``out`` (5 × chunk)."""
    n = len(match)
    # e = exp(-(coef[0] + coef[1]·match + coef[2]·quality + coef[3]·intimacy)), the same
    # float64 operations in place (x + c is c + x), with the coefficients negated
    # (``neg``: -coef) instead of a pass negating the sum: rounding is symmetric, so each
    # product and partial sum is the negation of the kernel's, exactly (a zero's sign
    # aside, which exp ignores: exp(±0) = 1)
    # (the float32 columns cast, then scaled in place: the same float64 products, without
    # the buffered mixed-type loop)
    neg = np.negative(coef)
    e = match.astype(np.float64)
    e *= neg[1]
    e += neg[0]
    t = quality.astype(np.float64)
    t *= neg[2]
    e += t
    np.multiply(intimacy, neg[3], out=t)
    e += t
    np.exp(e, out=e)
    # action a's counter: seed + splitmix64's first step (+ golden ratio) + 8 · impression + a,
    # wrapping modulo 2**64: the day's (seed + golden + 8 · i) for i < CHUNK (``base``, once a
    # day) plus 8 · first + a, in any order the same sum as the kernel's
    # each action: u · (1 + e · scale) < 1 with the uniform u = (h + 0.5) · 2**-53, compared
    # as (h + 0.5) · (1 + e · scale) < 2**53: scaling by a power of two is exact and commutes
    # with rounding (no subnormals: both factors are at least 2**-54 and 1), so the same
    # outcome without a pass scaling the uniforms
    base = _chunk_counters(seed, n)
    u, x, h = np.empty(n), np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
    for a in range(4):
        np.add(base[:n], np.uint64((8 * first + a) % 2**64), out=x)
        _uniform_into(x, u, h, offset=False, scaled=False)
        np.multiply(e, scale[a], out=t)
        t += 1.0
        t *= u
        np.less(t, _TWO53, out=out[a])
    may = np.flatnonzero(np.greater(out[0] | out[1], is_fan))  # completed or liked, not a fan
    x = base.take(may)
    x += np.uint64((8 * first + 4) % 2**64)
    u = np.empty(len(may))
    _uniform_into(x, u, offset=False, scaled=False)
    out[4, may] = u * (1.0 + e.take(may) * scale[4]) < _TWO53


_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def splitmix64_in_place(x: np.ndarray, t: np.ndarray, offset: bool = True) -> None:
    """:func:`splitmix64` in place on ``x`` (uint64, wrapping), ``t`` a scratch array of
    its size: the same operations without a temporary per step (numpy's per-call cost
    is most of the hash on short arrays). ``offset=False``: the counters already include
    splitmix64's golden-ratio step."""
    if offset:
        x += _GOLDEN
    np.right_shift(x, _S30, out=t)
    x ^= t
    x *= _MIX1
    np.right_shift(x, _S27, out=t)
    x ^= t
    x *= _MIX2
    np.right_shift(x, _S31, out=t)
    x ^= t


def _uniform_into(x: np.ndarray, u: np.ndarray, t: np.ndarray | None = None, offset: bool = True,
                  scaled: bool = True) -> None:
    """Uniforms in (0, 1) from the hash of each counter ``x`` (``kernels._uniform``), into
    ``u``; ``x`` (uint64) is overwritten (the finalizer in place: no temporaries; ``t``: a
    scratch array of its size, if the caller has one). ``offset=False``: the counters
    already include splitmix64's golden-ratio step. ``scaled=False``: the uniforms times
    2**53 (``(h >> 11) + 0.5``, exactly), for a caller that compares against 2**53."""
    splitmix64_in_place(x, np.empty_like(x) if t is None else t, offset)
    x >>= _S11
    np.add(x.view(np.int64), 0.5, out=u)  # float64(h >> 11) + 0.5: exact (53 bits; as int64, the faster cast)
    if scaled:
        u *= 1.0 / 9007199254740992.0


_TWO53 = 9007199254740992.0  # 2**53


def count_flags_in_rows(indptr, indices, flags) -> np.ndarray:
    """Per row of a CSR graph, how many of its neighbours have each flag, float64 (exact
    counts): the friends behind the numpy form of the adoption draws (``adopt_new``).
    Returns (rows, P) float64."""
    rows = len(indptr) - 1
    src = np.repeat(np.arange(rows), np.diff(indptr))
    of = flags[indices]
    return np.stack([np.bincount(src, weights=of[:, p], minlength=rows) for p in range(flags.shape[1])], axis=1) \
        if flags.shape[1] else np.zeros((rows, 0))


def sorted_inserter(n: int, pos: np.ndarray):
    """``insert(arr, values)`` = ``np.insert(arr, pos, values)`` for arrays of length
    ``n`` and nondecreasing ``pos`` (each value before ``arr[pos]``, equal positions in the
    given order), the places worked out once for every column that gets the same inserts
    (the follow graph's on small graphs; large ones insert in place in their columns'
    buffers, ``kernels.insert_in_place``)."""
    new_at = pos + np.arange(len(pos))  # where each value lands: np.insert's shifted positions
    old = np.ones(n + len(pos), dtype=bool)
    old[new_at] = False

    def insert(arr: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.empty(n + len(pos), dtype=arr.dtype)
        out[old] = arr
        out[new_at] = values
        return out

    return insert


def sum_by_index(idx, weights, n) -> np.ndarray:
    """``kernels.sum_by_index`` in numpy: ``np.bincount(idx, weights=weights, minlength=n)``."""
    return np.bincount(idx, weights=weights, minlength=n)


def adopt_new(indptr, indices, before, draw, feed, base, rate) -> np.ndarray:
    """``kernels.adopt_new`` in numpy: who adopts which platform, from the friends using
    it (``count_flags_in_rows``), the draws and the feed flags. Returns (rows, P) bool."""
    friends_using = count_flags_in_rows(indptr, indices, before)
    frac = friends_using / np.maximum(np.diff(indptr), 1)[:, None]
    prob = np.minimum(1.0, base + rate * frac)
    return ~before & (draw < prob) & feed


def selling_edges(src, creator, ok, home, uses) -> np.ndarray:
    """The edges whose creator has ``ok`` and whose user uses the creator's ``home``
    platform, ascending (int64) (large graphs: ``kernels.selling_edges_in_rows``)."""
    edge = np.flatnonzero(ok.take(creator))  # (take: fancy indexing's values, quicker by int32 indices)
    cell = src.take(edge).astype(np.intp)  # the (user, home platform) cell of uses, flat (one gather, not a 2-D index)
    if uses.shape[1] != 1:
        cell *= uses.shape[1]
        cell += home[creator[edge]]
    return edge[uses.reshape(-1).take(cell)]


def fans_by_tier(creator, intimacy, thresholds, n_creators) -> np.ndarray:
    """``kernels.fans_by_tier`` in numpy: (creators × 4) edges by creator and fan tier (int64)."""
    tier = (intimacy >= thresholds[0]).view(np.int8) + (intimacy >= thresholds[1]).view(np.int8)
    tier += (intimacy >= thresholds[2]).view(np.int8)
    code = np.multiply(tier, n_creators, dtype=np.intp)  # tier-major: a row of creators per tier
    code += creator
    return np.ascontiguousarray(np.bincount(code, minlength=4 * n_creators).reshape(4, n_creators).T)


def count_pairs(a, b, nb, n) -> np.ndarray:
    """``kernels.count_pairs`` in numpy: ``np.bincount(a · nb + b, minlength=n)``, the
    codes in int16 where they fit (a quarter of int64's traffic)."""
    dtype = np.int16 if n <= np.iinfo(np.int16).max else np.int64
    return np.bincount(a.astype(dtype) * dtype(nb) + b, minlength=n)


def add_sorted_sums(a, sa, b, sb) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.add_sorted_sums`` in numpy: the union of two ascending index sets and, at
    each index, zero plus ``sa`` plus ``sb`` where present."""
    idx = unique_sorted(np.concatenate([a, b]).astype(np.int64))
    out = np.zeros(len(idx))
    out[np.searchsorted(idx, a)] += sa
    out[np.searchsorted(idx, b)] += sb
    return idx, out


def fan_intimacy(edge, intimacy) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.fan_intimacy`` in numpy: ``intimacy[edge]`` where ``edge >= 0``, else 0
    (float32), and the mask of ``edge >= 0``."""
    fan = edge >= 0
    if len(intimacy) == 0:  # no follow edges at all: every edge is -1
        return np.zeros(len(fan), dtype=np.float32), fan
    # every impression's gather (a non-fan's -1 reads the last edge), then 0 where not a
    # fan: one pass each instead of the fans' selection, gather and scatter
    return np.where(fan, intimacy.take(edge), np.float32(0)), fan


def count_by_index(idx, n) -> np.ndarray:
    """``kernels.count_by_index`` in numpy: ``np.bincount(idx, minlength=n)``."""
    return np.bincount(idx, minlength=n)


def count_by_lookup(idx, table, n) -> np.ndarray:
    """``kernels.count_by_lookup`` in numpy: ``np.bincount(table[idx], minlength=n)``."""
    return np.bincount(table[idx], minlength=n)


def tally_impressions(item, domain, source, complete, like, comment, share, follow, n_items, n_domains, n_sources):
    """``kernels.tally_impressions`` in numpy: per item, the impressions by domain and by
    source, ``np.bincount(item * D + domain)`` and ``np.bincount(item * S + source)``,
    and the engagements by action, which one ``np.bincount(item[hit])`` per action gave
    (:func:`tally_by_codes` of the packed actions). Three int64 arrays (n_items × D,
    n_items × S, n_items × 5)."""
    from ..audience.engagement import action_codes

    return tally_by_codes(item, domain, source, action_codes(complete, like, comment, share, follow), n_items,
                          n_domains, n_sources)


def tally_by_codes(item, domain, source, codes, n_items, n_domains, n_sources, pairs_out: dict | None = None):
    """:func:`tally_impressions` with the actions packed one uint8 an impression
    (``Reactions.codes``: bit ``a`` for the ``a``-th action): one bincount of the items by
    (source, domain) pair gives the impressions by domain and by source (its sums over
    the sources, over the domains), one of the items by combination of the first four
    actions their counts (its sums over the combinations with each bit), the follows
    (bit 4, rare) a bincount of their items; integer sums, the same counts, without five
    boolean selections of the items. The counts are pair-major (a row of items per pair
    or combination), so every sum adds whole rows. ``pairs_out`` (a dict), if given, gets
    the day's impressions by (source, domain), ``"source_domain"`` (S × D, int64: what
    ``count_pairs`` of the sources and domains gives)."""
    D, S, n = n_domains, n_sources, n_items
    item = item.astype(np.intp, copy=False)  # bincount's index dtype (no copy if the caller passes it)
    pair = source * np.int8(D) if S * D <= 127 else source.astype(np.intp) * D
    pair += domain
    code = np.multiply(pair, n, dtype=np.intp)
    code += item
    pairs = np.bincount(code, minlength=S * D * n).reshape(S, D, n)
    if pairs_out is not None:
        pairs_out["source_domain"] = pairs.sum(axis=2)
    by_domain, by_source = pairs.sum(axis=0).T, pairs.sum(axis=1).T
    np.multiply(codes & np.uint8(15), n, out=code, dtype=np.intp)
    code += item
    combos = np.bincount(code, minlength=16 * n)
    by_action = np.empty((5, n), dtype=np.int64)
    for a in range(4):  # complete (bit 0) … share (bit 3): the combinations with bit a, summed in place
        np.sum(combos.reshape(8 >> a, 2, 1 << a, n)[:, 1], axis=(0, 1), out=by_action[a])  # (no copy of them)
    by_action[4] = np.bincount(item[codes >= 16], minlength=n)
    return by_domain, by_source, np.ascontiguousarray(by_action.T)


def counts_by_user(user, engaged, source, ads, n_users):
    """Per user (small days; large days: ``kernels.satisfaction_day``): the impressions, the engaged ones
    and those in ``ads`` slots, as ``np.bincount(user)``, ``np.bincount(user[engaged])``
    and ``np.bincount(user[source == ads])`` give them, from one bincount of the users by
    (ad, engaged) pair, a row of users each, summed row by row (integer sums: the same
    counts, without two boolean selections). Three int64 arrays of ``n_users``."""
    pair = (source == ads).view(np.uint8) << 1
    pair |= engaged.view(np.uint8)
    code = np.multiply(pair, n_users, dtype=np.intp)
    code += user
    c = np.bincount(code, minlength=4 * n_users).reshape(4, n_users)  # (ad, engaged) = 00, 01, 10, 11
    hits = c[1] + c[3]
    ads_ = c[2] + c[3]
    k = c[0] + c[2]
    k += hits
    return k, hits, ads_




def react_in_chunks(edge, edge_intimacy, item, item_quality, match, coef, offsets, seed) -> tuple[np.ndarray, np.ndarray]:
    """The reactions of a small day in one chunked pass: each ``CHUNK`` of impressions
    reads its viewers' intimacy at their follow edges (:func:`fan_intimacy`) and its
    items' quality, then draws its actions (:func:`draw_actions`' chunk: the same float64
    operations and counter-based uniforms), so that neither the day's qualities nor its
    fan mask is ever a whole-day array. Returns the actions ((5, n) bools, as
    ``draw_actions``) and each impression's intimacy (float32, as ``fan_intimacy``)."""
    n = len(edge)
    out = np.zeros((5, n), dtype=np.bool_)
    intim = np.zeros(n, dtype=np.float32)
    scale = np.exp(-offsets)
    for a0 in range(0, n, CHUNK):
        a1 = min(n, a0 + CHUNK)
        e = edge[a0:a1]
        fan = e >= 0
        if len(edge_intimacy):  # (no follow edges at all: every edge is -1, every intimacy 0)
            # the fans' intimacy gathered at their edges into the zeros (~4× quicker than a
            # masked copy of every impression's gather)
            at = np.flatnonzero(fan)
            intim[a0:a1][at] = edge_intimacy.take(e.take(at))
        _draw_chunk(match[a0:a1], item_quality.take(item[a0:a1]), intim[a0:a1], fan, coef, scale, seed, a0,
                    out[:, a0:a1])
    return out, intim


# --------------------------------------------------------------------------- GRAPH (issue #17, tenth pass)


def fans_by_tier_and_sums(creator, intimacy, thresholds, n_creators) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.fans_by_tier_and_sums`` in numpy: :func:`fans_by_tier` and the float64
    sums of the edges' intimacy by creator (``np.bincount`` with the intimacy as weights)."""
    return fans_by_tier(creator, intimacy, thresholds, n_creators), sum_by_index(creator, intimacy, n_creators)


def decay_and_clip(x, factor) -> None:
    """The daily intimacy decay in numpy: ``x *= factor``, then ``np.clip`` to [0, 1], in
    place (what ``kernels.grow_and_decay`` does to every edge after the growth)."""
    x *= factor
    np.clip(x, 0.0, 1.0, out=x)


def moved_rows(edge, marks, right) -> tuple[np.ndarray, np.ndarray]:
    """``kernels.moved_rows`` in numpy: ``edge + searchsorted(marks, edge, "right")`` (and
    no hit) with ``right``, else ``edge - searchsorted(marks, edge)`` and whether each edge
    is one of ``marks``."""
    if right:
        return edge + np.searchsorted(marks, edge, side="right"), np.zeros(len(edge), bool)
    at = np.searchsorted(marks, edge)
    hit = marks[np.minimum(at, len(marks) - 1)] == edge if len(marks) else np.zeros(len(edge), bool)
    return edge - at, hit


# ---------------------------------------------------------------- COMMERCE (issue #17, tenth pass)


def find_in_book(keys, n_main, index, n_merchants, users, merchants) -> np.ndarray:
    """``kernels.find_in_book`` in numpy: each run (``keys[:n_main]``, ``keys[n_main:]``)
    searched whole (``index`` unused)."""
    q = users.astype(np.int64) * n_merchants + merchants.astype(np.int64)
    row = find_sorted(keys[:n_main], q)
    if n_main < len(keys):
        miss = np.flatnonzero(row < 0)
        tail = find_sorted(keys[n_main:], q[miss])
        row[miss] = np.where(tail >= 0, tail + n_main, -1)
    return row


def engaged_selling(complete, like, item, sells) -> np.ndarray:
    """The impressions engaged (``complete | like``, ``Reactions.engaged``) whose item
    ``sells``, ascending (int64). (take: fancy indexing's values, quicker.)"""
    return np.flatnonzero((complete | like) & sells.take(item))


def join_candidates(edge, intimacy, members, join_intimacy) -> np.ndarray:
    """``kernels.join_candidates`` in numpy: the edges of ``edge`` at or above
    ``join_intimacy`` whose edge is not in ``members``, the members found in a flag per
    edge up to the largest asked, as ``EdgeTable.has`` does. (compress and take: a
    mask's and fancy indexing's values, ~2× quicker here.)"""
    member = np.zeros(len(edge), bool)
    if len(edge) and len(members):
        n = int(edge.max()) + 1
        flag = np.zeros(n + 1, bool)  # + 1: the members' edges beyond n land on the last, never asked
        flag[np.minimum(members, n)] = True
        member = flag[edge]
    return edge.compress(~member & (intimacy.take(edge) >= join_intimacy))


def visiting_edges(edge, draw, intimacy, visit_rate) -> np.ndarray:
    """``kernels.visiting_edges`` in numpy: ``edge[draw < visit_rate * intimacy[edge]]``."""
    return edge[draw < visit_rate * intimacy[edge]]


# ---------------------------------------------------------------- FEEDS10K (issue #17, eleventh pass)


def gumbel_float32s(rng: np.random.Generator, n: int) -> np.ndarray:
    """``rng.gumbel(size=n).astype(np.float32)``: the same draws (one double ``u`` each,
    ``Generator.random``'s, so the generator ends in the same state) and the same float32s.

    ``Generator.gumbel`` computes ``0.0 - 1.0 · log(-log(1.0 - u))`` with the C library's
    ``log``, one draw at a time (two calls a draw: ~2/3 of the day's ~1 ms noise table).
    Here numpy's vectorized ``log`` (SVML on AVX-512 machines) computes the same
    expression; its results may differ from the C library's in the last bits (SVML:
    within 4 ulp, glibc: within 1), so the float64 may differ by up to ~2**-43.4 (the
    inner log's error carried through the outer log, plus the outer log's own on
    results of at most ~37 in size). What is kept is the float32 it rounds to, and that
    cannot differ unless the float64 lies within that distance of a float32 rounding
    boundary (the tie between two float32s: its 29 low mantissa bits near ``2**28``):
    each value closer than 16 times that bound (itself twice the two libraries'
    documented errors) to a tie is computed again with the C library's ``log``
    (Python's ``math.log``: ~30 values a table). A draw of exactly 0.0 (``1 - u == 1``,
    which ``Generator.gumbel`` rejects and draws again for) falls back to ``rng.gumbel``
    itself, from the same state. The three float64 passes run in scratch arrays kept
    per thread (a fresh 512 KiB array costs its page faults: ~0.2 ms), ``GUMBEL_CHUNK``
    values at a time (0: all at once): the draws stay one call (the same doubles), and the
    two scratch arrays of a chunk (128 KiB each) stay in the core's cache (alone, caches
    cleared between calls: 0.85-0.88 of the one-pass form's CPU; issue #17, fourteenth
    pass, RANK)."""
    chunk = max(min(GUMBEL_CHUNK or n, n), 1)
    scratch = getattr(_SCRATCH, "gumbel", None)
    if scratch is None or len(scratch[0]) != n or len(scratch[1]) != chunk:
        # (one array, the three offset by 1 KiB + 64 bytes so that equal places do not share cache sets)
        buf = np.empty(n + 2 * chunk + 272)
        scratch = _SCRATCH.gumbel = (buf[:n], buf[n + 136 : n + chunk + 136], buf[n + chunk + 272 :].view(np.int64))
    u, g0, low0 = scratch
    state = rng.bit_generator.state
    rng.random(out=u)
    if not u.all():  # a 0.0: Generator.gumbel draws again for it
        rng.bit_generator.state = state
        return rng.gumbel(size=n).astype(np.float32)
    out = np.empty(n, dtype=np.float32)
    for a in range(0, n, chunk):
        b = min(n, a + chunk)
        g, low = g0[: b - a], low0[: b - a]
        np.subtract(1.0, u[a:b], out=g)  # U = 1 - u (exact)
        _vector_log(g, out=g)
        np.negative(g, out=g)
        _vector_log(g, out=g)
        np.subtract(0.0, g, out=g)  # loc - scale · log(-log U), loc 0 and scale 1 (1.0 · x is x)
        np.copyto(out[a:b], g, casting="same_kind")  # (the float32 it rounds to)
        # the distance to the float32 tie, in float64 ulps of g (each at least |g| · 2**-53),
        # above 16 times the bound: |low 29 bits - 2**28| · |g| · 2**-53 > 2**-43.4 · 2**4.4
        np.bitwise_and(g.view(np.int64), _LOW29, out=low)
        low -= _TIE29
        np.multiply(low, g, out=g)  # (int64 × float64: the product's float64; 0 where g is 0)
        np.abs(g, out=g)  # |low · g| = |low| · |g| exactly (rounding is symmetric): one pass, not two
        for i in (np.flatnonzero(g <= _TIE_MARGIN) + a).tolist():  # near a tie: the C library's log itself
            out[i] = 0.0 - 1.0 * math.log(-math.log(1.0 - float(u[i])))
    return out


_SCRATCH = threading.local()  # scratch arrays of the functions above, per thread (the feeds' threads)
_LOW29, _TIE29 = np.int64((1 << 29) - 1), np.int64(1 << 28)
_TIE_MARGIN = float(1 << 14)
GUMBEL_CHUNK = 16_384  # values a pass of gumbel_float32s after its draws (0: all at once)
_vector_log = np.log  # (a name the tests can swap)


# ---------------------------------------------------------------- TENK (issue #17, twelfth pass)


def _chunk_counters(seed: int, n: int) -> np.ndarray:
    """:func:`_draw_chunk`'s counters before a chunk's offset: ``seed + golden + 8 · i`` for
    ``i`` < ``CHUNK`` (or ``n`` if more; uint64, wrapping), made once per seed (a day's
    reactions) and kept per thread instead of an ``arange`` and two passes a chunk.
    (Scratch arrays kept for the chunk's temporaries measured slower in the model than
    fresh ones: 1.04-1.08x of react_in_chunks, alternated.)"""
    kept = getattr(_SCRATCH, "counters", None)
    if kept is None or kept[0] != seed or len(kept[1]) < n:
        base = np.arange(max(n, CHUNK), dtype=np.uint64)
        base *= np.uint64(8)
        base += np.uint64((seed + int(_GOLDEN)) % 2**64)
        kept = _SCRATCH.counters = (seed, base)
    return kept[1]


def _row_offsets(rows: int, seed: int, mask: int) -> np.ndarray:
    """:func:`gumbel_noise`'s row offsets, ``splitmix64(seed ^ (row · prime)) & mask`` as
    int64: the same wrapping uint64 operations in place (:func:`splitmix64_in_place`), without
    :func:`splitmix64`'s temporaries and ``errstate`` (~25 against ~8 µs a block)."""
    h = np.arange(rows, dtype=np.uint64)
    h *= _ROW_PRIME
    h ^= np.uint64(seed)
    splitmix64_in_place(h, np.empty_like(h))
    h &= np.uint64(mask)
    return h.view(np.int64)


# ---------------------------------------------------------------- RANK (issue #17, fourteenth pass)


NARROW_COLS = 256  # gumbel_top_k sorts rows of up to this many columns as int32s (_gumbel_top_k_narrow),
# in blocks of at least NARROW_FROM places: below, its ~8 more calls cost what the int32 sort saves
# (kuaishou.toml's ~470 × 50 blocks: 1.01-1.03 of the int64 halves' CPU in the model, 0.98 alone;
# douyin.toml's ~870 × 45: 0.90 in the model, 0.84 alone; alone, the saving ~1.5 µs a thousand
# places less ~35 µs a block)
NARROW_FROM = 28_000
_INF_GROUP = 0x7F800000  # ~monotonic(-inf) as an int32; only -NaN lie above it


def _gumbel_top_k_narrow(v: np.ndarray, k: int, kk: int) -> np.ndarray:
    """:func:`_gumbel_top_k_halves`' picks from one int32 a place instead of an int64
    (numpy sorts a row of int32s in about half the time): ``~monotonic(v)`` with its
    low ``c`` bits replaced by the column (``c`` the bits of the largest column). These
    order as the int64s do, except among places whose ``~monotonic(v)`` agree above the
    low ``c`` bits (a *group*), which they order by column instead. So a row's first
    ``kk`` places are the int64s' exactly when no two of its first ``kk + 1`` sorted
    places share a group (each of the first ``kk`` then differs from everything after
    it, in the same direction as the int64s). The other rows (a few a block, ties
    included) are ranked again: by a stable argsort of ``-v`` when they hold no zero nor
    NaN (then the float32 order is the int64s'), else by the int64s
    (:func:`_gumbel_top_k_halves`); and when some row's ``kk``-th place is in -inf's
    group (-inf or -NaN: the -1 places, rare), every row by the int64s.

    The int32 is ``(monotonic(v) | mask) ^ ~column``: above the mask ``~monotonic(v)``,
    below it the column; five passes over one int32 array instead of the monotonic bits,
    their invert and the column written into an int64 array (the passes' fresh memory
    is what a block's ranking waits on: 0.90 of ``gumbel_top_k``'s CPU in the model)."""
    rows, cols = v.shape
    c = max(cols - 1, 1).bit_length()
    mask = (1 << c) - 1
    b = v.view(np.int32)
    key = b >> 31
    key &= np.int32(0x7FFFFFFF)
    key ^= b  # monotonic(v)
    key |= np.int32(mask)
    key ^= ~np.arange(cols, dtype=np.int32)
    key.sort(axis=1)
    top = np.empty((rows, k), dtype=np.int64)
    np.bitwise_and(key[:, :kk], np.int32(mask), out=top[:, :kk])
    if kk < k:
        top[:, kk:] = -1
    # two neighbours in a group differ in their low c bits only: a row with such a pair among
    # its first kk + 1 places (kk when it has no more) is ranked again
    # (a row listed twice is ranked again twice, the same)
    if rows and key[:, kk - 1].max() >= _INF_GROUP:  # some row's kk-th place is -inf or -NaN: every row again
        return _gumbel_top_k_halves(v, k, kk)
    step = np.bitwise_xor(key[:, 1 : kk + 1], key[:, : min(kk, cols - 1)]).view(np.uint32)
    redo = np.flatnonzero(step <= mask)
    if len(redo):
        redo //= step.shape[1]
        w = v.take(redo, axis=0)
        if w.all() and not np.isnan(w).any():
            # no zero nor NaN: the float32 order is monotonic(v)'s, so descending by a stable
            # argsort is the int64s' order, ties to the lower column (fewer calls on a few rows)
            top[redo, :kk] = np.argsort(np.negative(w), axis=1, kind="stable")[:, :kk]
        else:  # (±0.0 compare equal as floats, not as monotonic bits; NaN sort apart)
            top[redo] = _gumbel_top_k_halves(w, k, kk)
    return top


# ---------------------------------------------------------------- FEEDS (issue #17, fifteenth pass)


def block_candidates(cdf, seg_row, seg_k, u, n_pool, creator, col_of, indptr, follow_creator, intimacy, users):
    """The numpy form of ``kernels.block_candidates`` (a ranking block's retrieval, its
    candidates' creator columns and its follow edges to them, ``col_of`` left all -1):
    the definition the compiled form is tested against (the model's numpy branch,
    ``RecommendDay.rank_block``, does the same with the block's rows in the day)."""
    draws, q = [np.zeros(0, np.int64)], 0
    for r, k in zip(seg_row.tolist(), seg_k.tolist()):
        cw = cdf[r]
        draws.append(np.searchsorted(cw, u[q : q + k] * cw[-1], side="right"))
        q += k
    cand = unique_sorted(np.minimum(np.concatenate(draws), n_pool - 1).astype(np.int64))
    cre = creator.take(cand)
    ucre = unique_sorted(cre)
    col_of[ucre] = np.arange(len(ucre))
    inv = col_of.take(cre)
    by_creator = np.argsort(inv, kind="stable")
    cand_ptr = indptr_from_rows(inv.take(by_creator), len(ucre))
    # every edge of the block's users, row by row, then those to the candidates' creators
    at = users.astype(np.int64)
    lo, n = indptr.take(at), indptr.take(at + 1) - indptr.take(at)
    row = np.repeat(np.arange(len(users)), n)
    edge = np.arange(len(row), dtype=np.int64) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
    col = col_of.take(follow_creator.take(edge))
    x = intimacy.take(edge)
    kept = col >= 0
    fan = kept & (x != 0)
    col_of[ucre] = -1
    return (cand, inv, by_creator, cand_ptr, indptr_from_rows(row[kept], len(users)), col[kept], edge[kept],
            indptr_from_rows(row[fan], len(users)), col[fan], x[fan])


def assign_kept(slot, merchant, perm, first, taken, assigned, left) -> None:
    """The numpy form of ``kernels.assign_kept`` (the ad market's hand-out after its
    shuffles): the passes ``_AdMarket.assign`` made before, the definition it is tested
    against."""
    slot, merchant = slot.take(first), merchant.take(perm.take(first))
    counts = np.bincount(merchant, minlength=len(left))
    if not (counts <= left).all():
        n = len(left)  # (8- or 16-bit keys: numpy's radix sort, the same stable order: ad_market.narrow)
        key = merchant if n > np.iinfo(np.int16).max else merchant.astype(np.int8 if n <= np.iinfo(np.int8).max
                                                                         else np.int16)
        order = np.argsort(key, kind="stable")
        # sorted by bid, a bid's candidates start at cumsum(counts) - counts; keep the first left of them
        end = np.cumsum(counts) - counts + left
        keep = order.compress(np.arange(len(order)) < np.repeat(end, counts))
        slot, merchant = slot.take(keep), merchant.take(keep)
        counts = np.clip(left, 0, counts)
    taken[slot] = True
    assigned[slot] = merchant
    left -= counts


def lookalike_slots(taken, users, seg_of, n_seg, seg, u, look, draws, bid_m, account, indptr, creator):
    """The numpy form of ``kernels.lookalike_slots`` (the look-alike bids' candidate slots,
    fans left out): the passes ``_lookalike_candidates`` makes, the definition it is
    tested against."""
    free = np.flatnonzero(~taken)
    fseg = seg_of.take(users.take(free)).astype(np.int64)
    o = np.argsort(fseg, kind="stable")
    ptr = indptr_from_rows(fseg, n_seg)
    lo = ptr.take(seg)
    n = ptr.take(seg + 1) - lo
    k = np.where(n > 0, lo + (u * n).astype(np.int64), -1)
    ok = k >= 0
    slot, b = free.take(o.take(k.compress(ok))), look.take(draws.compress(ok))
    fan = _edges_by_keys(indptr, creator, users.take(slot), account.take(bid_m.take(b))) >= 0
    return slot.compress(~fan), b.compress(~fan)


def _edges_by_keys(indptr, creator, users, creators) -> np.ndarray:
    """The follow edge of each (user, creator) in the CSR graph ``indptr`` / ``creator``
    (each row's creators ascending), -1 where there is none: a search of the edges'
    (user, creator) keys (the numpy forms' lookup, for their tests)."""
    users, creators = users.astype(np.int64), creators.astype(np.int64)
    span = int(max(creator.max(initial=0), creators.max(initial=0))) + 1
    keys = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr)) * span + creator
    want = users * span + creators
    at = np.minimum(np.searchsorted(keys, want), max(len(keys) - 1, 0))
    found = (keys.take(at) == want) if len(keys) else np.zeros(len(want), bool)
    return np.where(found, at, -1)


def ad_rows(assigned, bid_m, bid_t, account, recent_ptr, recent_items, u, users, indptr, creator, n_merchants):
    """The numpy form of ``kernels.ad_rows`` (a platform's sold ad slots as the day's
    rows): the passes ``sell_ad_slots`` makes, the definition it is tested against."""
    s = np.flatnonzero(assigned >= 0)
    bid = assigned.take(s)
    merchant = bid_m.take(bid)
    c = account.take(merchant).astype(np.int64)
    lo = recent_ptr.take(c)
    n = recent_ptr.take(c + 1) - lo
    item = recent_items.take(np.where(n > 0, lo + (u * n).astype(np.int64), -1))
    viewer = users.take(s)
    edge = _edges_by_keys(indptr, creator, viewer, c)
    return (s, bid, np.bincount(merchant, minlength=n_merchants), viewer.astype(np.int32), item.astype(np.int32),
            edge.astype(np.int32), bid_t.take(bid).astype(np.int8))


# ---------------------------------------------------------------- AFTER22 (issue #17, fifteenth pass)


def selling_offer_rows(complete, like, item, live, merchant, active, user, match, intimacy) -> tuple:
    """``kernels.selling_offer_rows`` in numpy (commerce/feed_sales.py ``_offers``): the
    engaged impressions of live sessions (the tips: their places, intimacy) and of active
    merchants' product links (the purchases: their places, merchants and users as int64,
    match, intimacy, live flags), each ascending. (take and compress: fancy indexing's
    values, quicker.)"""
    engaged = engaged_selling(complete, like, item, live | (merchant >= 0))
    item = item.take(engaged)
    live = live.take(item)
    merchant = merchant.take(item)
    k = engaged.take(np.flatnonzero(live))
    tip = (k, intimacy.take(k))
    linked = np.flatnonzero(merchant >= 0)
    if not active.all():  # an exited merchant sells nothing, not even on its old links
        linked = linked[active[merchant[linked]]]
    k = engaged.take(linked)
    return (*tip, k, merchant.take(linked).astype(np.int64), user.take(k).astype(np.int64), match.take(k),
            intimacy.take(k), live.take(linked))


def tally_exposure_trace(item, domain, source, complete, like, comment, share, follow, creator_of, n_items,
                         n_creators, n_domains, n_sources) -> tuple:
    """``kernels.tally_exposure_trace`` in numpy: :func:`tally_impressions`, its rows
    summed by creator (``creator_of``), :func:`count_pairs` of the sources and domains and
    the comments' bincount by domain (int64 each)."""
    by = tally_impressions(item, domain, source, complete, like, comment, share, follow, n_items, n_domains, n_sources)
    by_creator = tuple(np.bincount(creator_of, weights=t[:, j], minlength=n_creators).astype(np.int64)
                       for t in by for j in range(t.shape[1]))
    D, S = n_domains, n_sources
    c_domain = np.stack(by_creator[:D], axis=1)
    c_source = np.stack(by_creator[D:D + S], axis=1)
    c_action = np.stack(by_creator[D + S:], axis=1)
    return (*by, c_domain, c_source, c_action, np.bincount(source.astype(np.intp) * D + domain, minlength=S * D),
            np.bincount(domain.compress(comment), minlength=D))


# ---------------------------------------------------------------- COMM16 (issue #17, sixteenth pass)

def tally_orders(platform, merchant, seller, domain, source, tier, new_buyer, price, commission, creator_cut, cog, ads,
                 gmv, orders, new_buyers, new_buyers_ad, commission_paid, creator_paid, cost_of_goods, creator_gmv,
                 creator_sales_income, creator_purchases_by_tier, t_gmv, t_commission, t_orders, t_new_buyers,
                 t_new_by_merchant, t_new_buyers_ad, t_new_ad_by_merchant, t_orders_by_tier, t_gmv_by_tier,
                 gmv_by_source) -> None:
    """``kernels.tally_orders`` in numpy: each tally plus the ``np.bincount`` of its
    orders (in place)."""
    M, D = gmv.shape
    C, T = creator_purchases_by_tier.shape
    P, S = gmv_by_source.shape
    new_ad = new_buyer & (source == ads)
    gmv += np.bincount(merchant * D + domain, price, M * D).reshape(M, D)
    orders += np.bincount(merchant, minlength=M)
    new_buyers += np.bincount(merchant[new_buyer], minlength=M)
    new_buyers_ad += np.bincount(merchant[new_ad], minlength=M)
    commission_paid += np.bincount(merchant, commission, M)
    creator_paid += np.bincount(merchant, creator_cut, M)
    cost_of_goods += np.bincount(merchant, cog, M)
    creator_gmv += np.bincount(seller * D + domain, price, C * D).reshape(C, D)
    creator_sales_income += np.bincount(seller, creator_cut, C)
    creator_purchases_by_tier += np.bincount(seller * T + tier, minlength=C * T).reshape(C, T)
    t_gmv += np.bincount(platform * D + domain, price, P * D).reshape(P, D)
    t_commission += np.bincount(platform, commission, P)
    t_orders += np.bincount(platform, minlength=P)
    t_new_buyers += np.bincount(platform[new_buyer], minlength=P)
    t_new_by_merchant += np.bincount(platform[new_buyer] * M + merchant[new_buyer], minlength=P * M).reshape(P, M)
    t_new_buyers_ad += np.bincount(platform[new_ad], minlength=P)
    t_new_ad_by_merchant += np.bincount(platform[new_ad] * M + merchant[new_ad], minlength=P * M).reshape(P, M)
    t_orders_by_tier += np.bincount(platform * T + tier, minlength=P * T).reshape(P, T)
    t_gmv_by_tier += np.bincount(platform * T + tier, price, P * T).reshape(P, T)
    gmv_by_source += np.bincount(platform * S + source, price, P * S).reshape(P, S)


def merge_into_tail(keys, trust, last_day, orders, n_main, n, q, never, key, row) -> None:
    """``kernels.merge_into_tail`` in numpy: the tail's columns with ``q`` inserted at
    ``np.searchsorted(tail, q)`` (:func:`sorted_inserter`, the places found once for the
    four columns), written back into the buffers; then the rows of the new and the tail's
    queries by a search of the merged tail (``find_sorted``: every such key is there)."""
    k = len(q)
    into = sorted_inserter(n - n_main, np.searchsorted(keys[n_main:n], q))
    for col, value in ((keys, q), (trust, np.zeros(k, trust.dtype)), (last_day, np.full(k, never, last_day.dtype)),
                       (orders, np.zeros(k, orders.dtype))):
        col[n_main : n + k] = into(col[n_main:n], value)
    moved = np.flatnonzero((row < 0) | (row >= n_main))
    row[moved] = n_main + find_sorted(keys[n_main : n + k], key[moved])


# ---------------------------------------------------------------- PRIV24 (issue #17, seventeenth pass)


def group_push_day(members, edge_creator, edge_user, intimacy, annoy, home, group_effect, n_promo, seller,
                   keep, grow, wear, promo, tolerance, unfollow_factor, unfollow):
    """``kernels.group_push_day`` in numpy: the fan-group day's gathers over the members,
    the pushes' effects (``pushes.apply_push_effects``' operations, with the per-account
    factors gathered), who leaves and who unfollows (``unfollow`` set, in place)."""
    creator = edge_creator[members].astype(np.int64)
    user = edge_user[members].astype(np.int64)
    member_home = home[creator].astype(np.int64)
    effect = group_effect[member_home]
    annoy *= keep
    received = promo[creator]
    annoy += received
    member_intimacy = ((1.0 - (1.0 - intimacy[members]) * grow[creator]) * wear[creator]).astype(np.float32)
    intimacy[members] = member_intimacy
    tol = tolerance[user]
    unfollow[members[annoy > unfollow_factor * tol]] = True
    return (creator, user, member_home, effect, member_intimacy, received, n_promo[creator],
            seller[creator].astype(np.int64), annoy > tol)


# ---------------------------------------------------------------- REST24 (issue #17, seventeenth pass)


def grow_and_decay(x, touched, grow, factor) -> None:
    """``kernels.grow_and_decay`` in numpy: the touched edges' gather, growth ``1 - (1 - x)
    · grow`` and scatter (float32), then :func:`decay_and_clip` of every edge, in place."""
    x[touched] = 1.0 - (1.0 - x[touched]) * grow
    decay_and_clip(x, factor)
