"""Array idioms shared by the submodels: CSR rows, ranks within sorted groups, and
element-wise helpers. Everything here works on whole arrays (no Python loop over rows)."""

from __future__ import annotations

import numpy as np


def unit_rows(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(n, 1e-12)).astype(np.float32)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))



def indptr_from_rows(rows: np.ndarray, n_rows: int) -> np.ndarray:
    """CSR row pointer for entries already sorted by ``rows``."""
    ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=ptr[1:])
    return ptr


def random_in_rows(indptr: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random entry index from each of ``rows``; -1 where a row is empty."""
    lo = indptr.take(rows)  # (take: fancy indexing's values, quicker)
    n = indptr.take(rows + 1)
    n -= lo
    pick = lo + (rng.random(len(rows)) * n).astype(np.int64)
    return np.where(n > 0, pick, -1)


def weighted_in_rows(indptr: np.ndarray, cumw: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One entry per row drawn with probability ∝ weight; ``cumw`` is the global cumsum
    of the entry weights. -1 where a row is empty or weighs nothing."""
    # (take: fancy indexing's values, quicker; a clipped take reads cumw[0] at -1, which the
    # where drops, without a pass of np.maximum; the clip as its two ufuncs, without
    # np.clip's Python wrapper, and to hi_i - 1 alone: below lo_i only for an empty row,
    # whose hi == lo drops its pick: the same picks)
    lo_i, hi_i = indptr.take(rows), indptr.take(rows + 1)
    lo = np.where(lo_i > 0, cumw.take(lo_i - 1, mode="clip"), 0.0)
    hi = np.where(hi_i > 0, cumw.take(hi_i - 1, mode="clip"), 0.0)
    r = lo + rng.random(len(rows)) * (hi - lo)
    pick = np.searchsorted(cumw, r, side="right").astype(np.int64)
    np.maximum(pick, lo_i, out=pick)
    hi_i -= 1
    np.minimum(pick, hi_i, out=pick)
    return np.where(hi > lo, pick, -1)


def expand_rows(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every entry of each of ``rows``: (position in ``rows``, entry index), row by row."""
    lo = indptr[rows].astype(np.int64)
    n = indptr[rows + 1].astype(np.int64) - lo
    which = np.repeat(np.arange(len(rows)), n)
    start = np.repeat(lo - (np.cumsum(n) - n), n)
    return which, start + np.arange(len(which))


def rank_within_sorted(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2, … within each run of equal values of a sorted array."""
    n = len(groups)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.ones(n, dtype=bool)
    start[1:] = groups[1:] != groups[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - first




def lexsort_by_uniform(u: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``np.lexsort((u, groups))`` (by group, then by ``u``, ties in input order) for
    ``u`` in [0, 1) (uniforms, e.g. ``Generator.random``'s) and nonnegative integer
    ``groups``: each entry packed into one int64, the group in the high bits and
    ``u``'s leading bits (``u · 2**53`` truncated) below, sorted by numpy's int64 argsort
    (~5× quicker than lexsort's stable sort of the float64s); where two packed keys
    tie (or the groups are too large to leave 33 bits for ``u``) it is lexsort itself."""
    n = len(u)
    gbits = int(groups.max()).bit_length() if n else 0
    if n < 2 or gbits > 30 or not (u.min() >= 0.0 and u.max() < 1.0) or groups.min() < 0:
        return np.lexsort((u, groups))
    shift = 63 - gbits  # u's bits below the group; q < 2**shift
    q = (u * 9007199254740992.0).astype(np.int64)  # floor(u · 2**53): nondecreasing in u
    if shift < 53:
        q >>= 53 - shift
    key = groups.astype(np.int64) << shift
    key |= q
    order = np.argsort(key)
    sk = key[order]
    if (sk[1:] == sk[:-1]).any():  # a tie: equal packed keys do not tell u apart
        return np.lexsort((u, groups))
    return order


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D integer array (its distinct values, ascending), by a sort.
    numpy 2.3 on first collects the values in a hash table and sorts what it finds; on the
    int64 keys of the day's follows and orders (10^5 distinct of ~10^10 at 1 M users) that
    measured 4-15× the time of one sort and a comparison with the neighbour (issue #17)."""
    a = np.sort(a, axis=None)
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def union_sorted(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d(a, b)`` of 1-D integer arrays when ``a`` is sorted and distinct (a set
    kept from day to day, ``b`` the day's new values): ``b``'s distinct values that ``a``
    lacks inserted at their places, one search of ``a`` and one copy of it instead of
    union1d's sort of both (the shelves' remembered buyers, grown every day: issue #17)."""
    b = unique_sorted(b).astype(np.result_type(a, b), copy=False)
    if len(a) == 0:
        return b
    pos = np.searchsorted(a, b)
    new = a[np.minimum(pos, len(a) - 1)] != b  # (past the end: b > a[-1], so new)
    return np.insert(a, pos[new], b[new])


def row_max(a: np.ndarray) -> np.ndarray:
    """``a.max(axis=1, keepdims=True)`` of a (users × platforms) array, one column at a
    time (the maximum is exact: the same values; over rows of a few platforms numpy's
    reduction along the short axis was ~5× slower at 1 M users, issue #17: attention)."""
    top = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        np.maximum(top, a[:, j], out=top)
    return top[:, None]


def row_sum(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=1, keepdims=True)`` of a (users × platforms) float array, bit for bit:
    below 8 columns numpy adds a row's values one after the other, as here column by
    column (~2× faster at 1 M users); from 8 on it sums in pairwise blocks: numpy's own."""
    if a.shape[1] >= 8:
        return a.sum(axis=1, keepdims=True)
    total = a[:, 0].copy()
    for j in range(1, a.shape[1]):
        total += a[:, j]
    return total[:, None]


def row_any(a: np.ndarray, columns=None) -> np.ndarray:
    """``a.any(axis=1)`` of a (users × platforms) bool array, one column at a time (~15×
    faster than numpy's reduction along the short axis at 1 M users); ``columns``: only
    those columns (a non-empty sequence of indices; default every one), without copying
    the others."""
    cols = range(a.shape[1]) if columns is None else columns
    first, *rest = cols
    out = a[:, first].copy()
    for j in rest:
        out |= a[:, j]
    return out


def find_sorted(keys: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Position of each ``query`` value in the sorted array ``keys``, or -1 where absent
    (the one membership lookup of the sorted-key tables: follow edges, customers, WeChat)."""
    if len(keys) == 0:
        return np.full(len(query), -1, dtype=np.int64)
    pos = np.searchsorted(keys, query)
    # past the end (pos == len(keys): every key below the query) the clipped read is the
    # last key, below the query: no hit, so no separate test of pos < len(keys)
    return np.where(keys.take(pos, mode="clip") == query, pos, -1)


def lognormal_with_mean(rng: np.random.Generator, mean, sigma: float, n: int) -> np.ndarray:
    """``n`` log-normal draws with mean ``mean`` and log-spread ``sigma``:
    mean · exp(N(−sigma²/2, sigma))."""
    return mean * np.exp(rng.normal(-0.5 * sigma**2, sigma, n))


def grow_axis(array: np.ndarray, axis: int, n_new: int, fill) -> np.ndarray:
    """``array`` with ``n_new`` entries appended along ``axis``: ``fill`` is a scalar
    (every new entry) or an array of the new block's shape (the one growth idiom of a
    moving population: creators' and the ledger's per-creator arrays, turnover's windows)."""
    shape = list(array.shape)
    shape[axis] = n_new
    block = np.empty(shape, dtype=array.dtype)
    block[...] = fill if np.ndim(fill) == 0 else np.asarray(fill, dtype=array.dtype).reshape(shape)
    return np.concatenate([array, block], axis=axis)


def buffer_room(owner, names, buffers: dict, n: int) -> int:
    """How many more entries the columns ``names`` of ``owner`` (attributes of ``n``
    entries each) can take in place: the least spare length of their ``buffers`` (0 when a
    column is not a view of the first entries of its buffer). The follow graph's columns
    and the customer book's grow so (issue #17's memory: no copy of every column a day)."""
    room = None
    for name in names:
        col, buf = getattr(owner, name), buffers.get(name)
        if buf is None or col.base is not buf or len(col) != n or col.ctypes.data != buf.ctypes.data:
            return 0
        room = len(buf) - n if room is None else min(room, len(buf) - n)
    return room or 0


def regrow_buffers(owner, names, buffers: dict, n: int, room: int) -> None:
    """Move each column ``names`` of ``owner`` (``n`` entries) to a new buffer with ``room``
    spare entries, one column at a time, and set the column to the buffer's first ``n``."""
    for name in names:
        col = getattr(owner, name)
        buf = np.empty(n + room, dtype=col.dtype)
        buf[:n] = col
        setattr(owner, name, buf[:n])
        del col
        buffers[name] = buf


# AD10K (issue #17, eleventh pass): the follow tab's picks, each row's bounds found once


def weighted_in_repeated_rows(indptr: np.ndarray, cumw: np.ndarray, rows: np.ndarray, n: np.ndarray,
                              rng: np.random.Generator) -> np.ndarray:
    """``weighted_in_rows(indptr, cumw, np.repeat(rows, n), rng)``: ``n[i]`` picks in row
    ``rows[i]``, the same picks (the same uniforms, the same float64 operations on the
    same values): each row's bounds and weight found once and repeated, instead of
    gathered for every pick; a row that weighs nothing clips its picks to -1."""
    if len(cumw) == 0:  # no entries: nothing to pick
        return np.full(int(np.sum(n)), -1, dtype=np.int64)
    lo_i, hi_i = indptr[rows], indptr[rows + 1]
    lo = np.where(lo_i > 0, cumw[np.maximum(lo_i - 1, 0)], 0.0)
    hi = np.where(hi_i > 0, cumw[np.maximum(hi_i - 1, 0)], 0.0)
    r = np.repeat(lo, n) + rng.random(int(np.sum(n))) * np.repeat(hi - lo, n)
    pick = np.searchsorted(cumw, r, side="right")
    valid = hi > lo
    lower = np.where(valid, lo_i, -1).astype(np.int64)
    upper = np.where(valid, np.maximum(hi_i - 1, lo_i), -1).astype(np.int64)
    return np.clip(pick, np.repeat(lower, n), np.repeat(upper, n)).astype(np.int64, copy=False)
