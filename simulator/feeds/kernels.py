"""Compiled kernels (numba) for the few loops numpy cannot express without large
temporaries. Each has a plain-numpy twin that it must agree with (the ones a small day
runs instead are in numpy_kernels.py; the callers import this module, and numba, only on
large days: ``numpy_kernels.COMPILED_FROM``, ``COMPILED_USERS``).

Randomness inside kernels is read from a table of pre-drawn samples at a place given
by a counter-based hash (splitmix64) of (seed, row), so results are identical
whatever the number of threads.
"""

from __future__ import annotations

import os

# The kernels run many short parallel regions a step (one per feed block). GNU OpenMP's
# threads spin between regions by default, burning the other core while the step runs
# numpy on this one; on a shared machine that halved the speed of a 10,000-user run
# (benchmarks/README.md, *Fixed per-run costs*). Sleep instead; a user's setting wins.
# (Read when numba's OpenMP threading layer first loads, at the first parallel call.)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange, types  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from llvmlite import ir  # noqa: E402


def _cached_njit(**options):
    """``njit`` with numba's on-disk cache, so that a run's first step loads the compiled
    kernels (next to this file in ``__pycache__``, or numba's user-wide cache folder
    when the package folder is read-only) instead of compiling them again; without the
    cache when numba finds no writable cache folder (it would refuse to import). The
    kernels release the GIL (``nogil``): the platforms' feeds may be built in threads
    (feeds/slots.py ``build_feeds``), and a kernel holding the GIL would stop the other
    thread's numpy."""
    def wrap(fn):
        try:
            return njit(cache=True, nogil=True, **options)(fn)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available for file ..."
            return njit(nogil=True, **options)(fn)
    return wrap


# numba's threading layers that let two threads run parallel kernels at once (numba's
# docs, "Selecting a threading layer": workqueue is not thread-safe, it aborts the process)
THREAD_SAFE_LAYERS = ("omp", "tbb")


def threading_layer() -> str:
    """numba's threading layer in this process ("omp", "tbb" or "workqueue"); numba
    chooses it at the first parallel launch, so one is made first if none ran yet (one
    row of ``gumbel_top_k``, a kernel a large day runs anyway)."""
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # "Threading layer is not initialized."
        gumbel_top_k(np.zeros((1, 1), np.float32), 1, 1.0, 0, np.zeros(2, np.float32))
        return numba.threading_layer()


@njit(inline="always")
def _splitmix64(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@njit(inline="always")
def _insert_sorted(topv, topi, pos, v, j):
    """Put (v, j) into the descending list topv/topi at ``pos`` or above, shifting down."""
    while pos > 0 and topv[pos - 1] < v:
        topv[pos] = topv[pos - 1]
        topi[pos] = topi[pos - 1]
        pos -= 1
    topv[pos] = v
    topi[pos] = j


# The size switch (below it a phase runs the numpy form of its kernel, and this module,
# numba with it, is not imported) and the noise table (gumbel_table) live in
# numpy_kernels.py.


@njit(inline="always")
def _gumbel_select(key, k, temp, table, offset, mask, topv, topi):
    """The row's ``k`` largest ``key[j] + temp · table[(offset + j) & mask]`` into the
    descending lists ``topv``/``topi`` (preset to -inf/-1), ties to the lower ``j``;
    entries whose key is -inf are never chosen. The one selection of both Gumbel-top-k
    kernels."""
    cols = len(key)
    filled = 0
    j = 0
    # fill the first k places, then only challengers of the k-th
    while j < cols and filled < k:
        s = key[j]
        if s != -np.inf:
            _insert_sorted(topv, topi, filled, s + temp * table[(offset + j) & mask], j)
            filled += 1
        j += 1
    last = topv[k - 1]
    while j < cols:
        v = key[j] + temp * table[(offset + j) & mask]
        if v > last:  # -inf keys never pass
            _insert_sorted(topv, topi, k - 1, v, j)
            last = topv[k - 1]
        j += 1


@_cached_njit(parallel=True)
def gumbel_top_k(key, k, temperature, seed, table):
    """Per row, the indices of the ``k`` largest ``key + temperature · Gumbel`` in
    descending order (Gumbel-top-k: sampling k without replacement from
    softmax(key / temperature)). The noise of entry (row, col) is
    ``table[(offset(row) + col) mod len(table)]`` with the offset hashed from
    (seed, row): distinct draws within a row, read in cache order. Entries equal to -inf are never
    chosen; rows with fewer finite entries are padded with -1.

    key : (rows, cols) float32. Returns (rows, k) int64.
    """
    rows = key.shape[0]
    out = np.full((rows, k), -1, dtype=np.int64)
    vals = np.full((rows, k), -np.inf, dtype=np.float32)
    useed = np.uint64(seed)
    mask = np.int64(len(table) - 1)
    temp = np.float32(temperature)
    for i in prange(rows):
        h = _splitmix64(useed ^ (np.uint64(i) * np.uint64(0x100000001B3)))
        _gumbel_select(key[i], k, temp, table, np.int64(h & np.uint64(mask)), mask, vals[i], out[i])
    return out


SCORE_ROWS = 64  # rows per task of score_top_k (one set of scratch buffers each)


@_cached_njit(parallel=True)
def score_top_k(match, w_match, item, capped, fan_ptr, fan_col, fan_score, cand_ptr, cand_idx,
                k, k_row, temperature, seed, table):
    """``gumbel_top_k`` of the linear ranking score, computed row by row in one pass
    without the users × candidates key matrix: ``key[i, j] = w_match · match[i, j] + item[j]``,
    plus ``fan_score[e]`` on every candidate of fan entry e's creator column
    (``cand_idx[cand_ptr[c]:cand_ptr[c + 1]]``) for row i's fan entries
    ``fan_ptr[i]:fan_ptr[i + 1]``, and -inf where ``capped[j]``. The same float32
    operations in the same order as the numpy form (``AlgorithmicPolicy.score``, then
    capped columns set to -inf, then ``gumbel_top_k``), so the same picks. Row i keeps
    only its first ``k_row[i]`` (≤ k) places, the rest -1: a prefix of its top-k list
    is the top of that length, and rows that need fewer picks skip most of the sorting.

    match : (rows, cols) float32; w_match : float32; item : (cols,) float32;
    capped : (cols,) bool; fan_ptr : (rows + 1,); fan_col, fan_score (float32) : per fan
    entry; cand_ptr : (creator columns + 1,); cand_idx : candidate columns by creator;
    k_row : (rows,) ints. Returns (rows, k) int64. (A row's list is selected by the
    counting of ``_select_by_rank_above`` or by ``_select_noisy``, which give the same list.)

    Issue #17, sixteenth pass (~25% quicker at 10,000 users): a row's list is built in a
    task's scratch list and copied into ``out``, and the counting is written out in the
    row loop (a view ``out[i, :k]``, and each array argument of an inlined call, cost
    atomic reference counts a row); the table is read by unsigned indices (a signed
    ``offset + j`` is wrapped round when negative, which made the noise loop a gather);
    capped columns are looked for once a call.
    """
    rows, cols = match.shape
    out = np.full((rows, k), -1, dtype=np.int64)
    useed = np.uint64(seed)
    mask = np.int64(len(table) - 1)
    temp = np.float32(temperature)
    n_tasks = (rows + SCORE_ROWS - 1) // SCORE_ROWS
    by_rank = cols <= RANK_COLS
    any_capped = False
    for j in range(cols):
        any_capped |= capped[j]
    for t in prange(n_tasks):
        key = np.empty(cols, dtype=np.float32)
        rank = np.empty(cols + RANK_PAD, dtype=np.int32)
        sel = np.empty(cols + RANK_PAD, dtype=np.int32)
        vsel = np.empty(cols + RANK_PAD, dtype=np.float32)
        topi = np.empty(max(k, 1), dtype=np.int64)
        topv = np.empty(max(k, 1), dtype=np.float32)
        for i in range(t * SCORE_ROWS, min(rows, (t + 1) * SCORE_ROWS)):
            ki = min(k, k_row[i])
            if ki <= 0:
                continue
            for j in range(cols):
                key[j] = w_match * match[i, j] + item[j]
            for e in range(fan_ptr[i], fan_ptr[i + 1]):
                c = fan_col[e]
                f = fan_score[e]
                for q in range(cand_ptr[c], cand_ptr[c + 1]):
                    key[cand_idx[q]] += f
            # the noisy keys key + temp · noise first, in two runs of the table (before and
            # after it wraps) that the compiler vectorizes, then -inf where capped; the
            # selection compares them as _gumbel_select does (the same float32 values)
            h = _splitmix64(useed ^ (np.uint64(i) * np.uint64(0x100000001B3)))
            offset = np.int64(h & np.uint64(mask))
            n1 = min(cols, mask + 1 - offset)
            at = np.uint64(offset)
            for j in range(n1):
                key[j] = key[j] + temp * table[at + np.uint64(j)]
            for j in range(n1, cols):
                key[j] = key[j] + temp * table[np.uint64(j - n1)]
            if any_capped:
                for j in range(cols):
                    if capped[j]:
                        key[j] = -np.inf
            # long lists of few columns: each place by counting the keys above it, only
            # among the keys at or above a bound of the list's last (_select_by_rank_above,
            # written out here: an inlined call's array arguments cost atomic reference
            # counts a row); a tie it cannot place, a bound of -inf and short lists by the
            # insertion selection
            for r in range(ki):
                topi[r] = -1
            placed = False
            if by_rank and RANK_FROM <= ki <= cols:
                bound = np.float32(np.inf)
                for g in range(ki):
                    mx = key[g]
                    for j in range(g + ki, cols, ki):
                        x = key[j]
                        mx = x if x > mx else mx
                    bound = mx if mx < bound else bound
                if bound != -np.inf:
                    n = 0
                    for j in range(cols):  # (no branch: every key written at the next place, kept when at or above)
                        x = key[j]
                        sel[n] = j
                        vsel[n] = x
                        n += x >= bound
                    npad = (n + RANK_PAD - 1) // RANK_PAD * RANK_PAD  # (_count_above_padded)
                    for j in range(n, npad):
                        vsel[j] = -np.inf
                    for j in range(npad):
                        rank[j] = 0
                    for a in range(n):
                        x = vsel[a]
                        for j in range(npad):
                            rank[j] += x > vsel[j]
                    for b in range(n - 1, -1, -1):
                        r = rank[b]
                        if r < ki:
                            topi[r] = sel[b]
                    placed = True
                    for r in range(ki):
                        placed &= topi[r] >= 0
            if not placed:
                for r in range(ki):
                    topi[r] = -1
                    topv[r] = -np.inf
                _select_noisy(key, ki, topv, topi)
            for r in range(ki):
                out[i, r] = topi[r]
    return out


@njit(inline="always")
def _select_noisy(v, k, topv, topi):
    """The ``k`` largest of ``v`` into the descending lists ``topv``/``topi`` (preset to
    -inf/-1), ties to the lower index, -inf never chosen: ``_gumbel_select`` on values
    that already carry their noise."""
    cols = len(v)
    filled = 0
    j = 0
    while j < cols and filled < k:
        if v[j] != -np.inf:
            _insert_sorted(topv, topi, filled, v[j], j)
            filled += 1
        j += 1
    last = topv[k - 1]
    while j < cols:
        if v[j] > last:  # -inf never passes
            _insert_sorted(topv, topi, k - 1, v[j], j)
            last = topv[k - 1]
        j += 1


@_cached_njit()
def block_edges(indptr, creator, intimacy, users, col_of):
    """A ranking block's follow edges to its candidates' creators, in one pass over its
    users' rows (CSR ``indptr``; ``users`` ascending, the block's rows in order;
    ``col_of``: each creator's column among the block's creators, -1 for none): what
    masks and gathers over the block's whole edge range gave (the same edges, ascending),
    without reading the edges' users or the edges of users not in the block. Returns
    (edge pointer by row, creator column, edge) of every such edge, and (pointer by row,
    column, intimacy) of those with a nonzero intimacy (the fans the score boosts).

    Each row is compacted in one of two forms that keep the same edges: without a branch
    (every edge written at the next free places, which only a kept edge advances) while
    the kept edges so far are at least 1 in ``BRANCH_BELOW``, else with a branch on each
    edge. Where many edges are kept (few creators, ~1 in 4) the branch is unpredictable
    and the branch-free form quicker; where few are (1 M users, 22,000 creators: ~1 in 30)
    the branch is well predicted, and the branch-free form waits on each edge's table
    read (the next place depends on it) and writes four places an edge: the branch
    reads an edge's intimacy only when it is kept (issue #17, seventeenth pass)."""
    rows = len(users)
    bound = indptr[users[rows - 1] + 1] - indptr[users[0]] if rows else 0
    e_ptr = np.zeros(rows + 1, dtype=np.int64)
    e_col = np.empty(bound + 1, dtype=np.int64)  # (+1: the place a last edge that is not kept is written to)
    e_edge = np.empty(bound + 1, dtype=np.int64)
    f_ptr = np.zeros(rows + 1, dtype=np.int64)
    f_col = np.empty(bound + 1, dtype=np.int64)
    f_int = np.empty(bound + 1, dtype=np.float32)
    n = 0
    nf = 0
    seen = 0
    for i in range(rows):
        u = users[i]
        e0, e1 = indptr[u], indptr[u + 1]
        if n * BRANCH_BELOW >= seen:
            for e in range(e0, e1):
                # each edge is written at the next free places, which only a kept edge advances
                c = col_of[creator[e]]
                x = intimacy[e]
                e_col[n] = c
                e_edge[n] = e
                f_col[nf] = c
                f_int[nf] = x
                kept = c >= 0
                n += kept
                nf += kept & (x != 0)
        else:
            for e in range(e0, e1):
                c = col_of[creator[e]]
                if c >= 0:
                    e_col[n] = c
                    e_edge[n] = e
                    n += 1
                    x = intimacy[e]
                    if x != 0:
                        f_col[nf] = c
                        f_int[nf] = x
                        nf += 1
        seen += e1 - e0
        e_ptr[i + 1] = n
        f_ptr[i + 1] = nf
    return e_ptr, e_col[:n], e_edge[:n], f_ptr, f_col[:nf], f_int[:nf]


@_cached_njit()
def block_picks(top, valid, k_u, e_ptr, e_col, e_edge, col_creator, users, col_item, match):
    """A ranking block's impressions from its ranked lists in one pass: each row's first
    ``k_u[i]`` valid picks, row by row, rank by rank (the picks of ``valid &
    (cumsum(valid, axis=1) <= k_u[:, None])``), each with its user (``users[row]``),
    item (``col_item[col]``), follow edge (the row's edge to the column's creator
    ``col_creator[col]``, read from a table by creator column that holds the row's few
    edges while its picks are written; -1 for none) and
    interest match (``match[row, col]``), in the trace's dtypes (int32 users, items and
    edges, float32 match). Returns (user, item, edge, match, column)."""
    rows, k = top.shape
    n = 0
    for i in range(rows):
        taken = 0
        for r in range(k):
            if valid[i, r] and taken < k_u[i]:
                taken += 1
        n += taken
    out_u = np.empty(n, dtype=np.int32)
    out_i = np.empty(n, dtype=np.int32)
    out_e = np.empty(n, dtype=np.int32)
    out_m = np.empty(n, dtype=np.float32)
    out_c = np.empty(n, dtype=np.int64)
    n_cols = 0
    for j in range(len(col_creator)):
        n_cols = max(n_cols, col_creator[j] + 1)
    for e in range(len(e_col)):
        n_cols = max(n_cols, e_col[e] + 1)
    edge_of = np.full(n_cols, -1, dtype=np.int64)  # the row's edge to each creator column, -1 for none
    n = 0
    for i in range(rows):
        for e in range(e_ptr[i + 1] - 1, e_ptr[i] - 1, -1):  # (backwards: a column's first edge is kept)
            edge_of[e_col[e]] = e_edge[e]
        taken = 0
        for r in range(k):
            if valid[i, r] and taken < k_u[i]:
                j = top[i, r]
                out_u[n] = users[i]
                out_i[n] = col_item[j]
                out_e[n] = edge_of[col_creator[j]]
                out_m[n] = match[i, j]
                out_c[n] = j
                n += 1
                taken += 1
        for e in range(e_ptr[i], e_ptr[i + 1]):
            edge_of[e_col[e]] = -1
    return out_u, out_i, out_e, out_m, out_c


@njit(inline="always")
def _uniform(seed, i, a):
    """Uniform in (0, 1) from the hash of (seed, impression i, action a)."""
    h = _splitmix64(seed + np.uint64(i) * np.uint64(8) + np.uint64(a))
    return (np.float64(h >> np.uint64(11)) + 0.5) * (1.0 / 9007199254740992.0)


@_cached_njit(parallel=True)
def draw_actions(match, quality, intimacy, is_fan, coef, offsets, seed):
    """Every impression's actions from one logistic model.

    z = coef[0] + coef[1]·match + coef[2]·quality + coef[3]·intimacy;
    action a ∈ (complete, like, comment, share) happens when u(i, a) < sigmoid(z + offsets[a]);
    a non-fan who completed or liked follows when u(i, 4) < sigmoid(z + offsets[4]).
    u(i, a) is a counter-based uniform of (seed, i, a). Returns (5, n) bools.
    """
    n = len(match)
    out = np.zeros((5, n), dtype=np.bool_)
    useed = np.uint64(seed)
    scale = np.exp(-offsets)  # sigmoid(z + off) = 1 / (1 + exp(-z) · exp(-off)): one exp per impression
    for i in prange(n):
        e = np.exp(-(coef[0] + coef[1] * match[i] + coef[2] * quality[i] + coef[3] * intimacy[i]))
        for a in range(4):
            out[a, i] = _uniform(useed, i, a) * (1.0 + e * scale[a]) < 1.0
        if not is_fan[i] and (out[0, i] or out[1, i]):
            out[4, i] = _uniform(useed, i, 4) * (1.0 + e * scale[4]) < 1.0
    return out


@_cached_njit()
def within_cap(top, cap, k_u):
    """Mask of ranked picks (users × ranks; ``top`` padded with -1) that fit their
    column's ``cap`` (picks it may still take), granting a column first to the users who
    ranked it highest, then by row: the picks are visited rank by rank, row by row, and
    each column counts the picks granted so far. A row takes ``k_u[i]`` places: once it
    has that many granted, its places further down (the cap's look-ahead) are not visited
    and use up no allowance. Serial (the counts are running ones); one pass instead of a
    sort of every pick.

    top : (rows, k) int64; cap : (cols,) int64 (whole allowances: the one the caller's
    retrieval read, so a column is a candidate exactly while it can be granted a pick);
    k_u : (rows,) int64. Returns (rows, k) bool.
    """
    rows, k = top.shape
    used = np.zeros(len(cap), dtype=np.int64)
    taken = np.zeros(rows, dtype=np.int64)
    out = np.zeros((rows, k), dtype=np.bool_)
    for r in range(k):
        for i in range(rows):
            c = top[i, r]
            if c >= 0 and taken[i] < k_u[i] and used[c] < cap[c]:
                out[i, r] = True
                used[c] += 1
                taken[i] += 1
    return out


@_cached_njit(parallel=True)
def find_in_rows(ptr, col, rows, cols):
    """For each query (``rows[q]``, ``cols[q]``): where ``cols[q]`` is, or would be
    inserted, in its row of the CSR table ``ptr`` (each row's ``col`` ascending), by a
    binary search within the row, and whether it is there. The position is the same as
    ``np.searchsorted`` of the query's key in the table's (row, col) keys (the follow
    graph's edges, without storing the keys). Returns (int64 positions, bools)."""
    n = len(rows)
    pos = np.empty(n, dtype=np.int64)
    found = np.zeros(n, dtype=np.bool_)
    for q in prange(n):
        a = ptr[rows[q]]
        end = ptr[rows[q] + 1]
        b = end
        c = cols[q]
        while a < b:
            mid = (a + b) >> 1
            if col[mid] < c:
                a = mid + 1
            else:
                b = mid
        pos[q] = a
        found[q] = a < end and col[a] == c
    return pos, found


@_cached_njit(parallel=True)
def weighted_pick_in_row_sums(indptr, row_start, values, base, rows, u):
    """One entry per row of a CSR table drawn with probability ∝ weight, as
    ``state.arrays.weighted_in_rows`` defines it for the weights ``values + base``
    (float32 sums) and their global cumsum ``cumw = np.cumsum(values + base,
    dtype=float64)`` (``u``: one uniform per row), without that cumsum of every entry
    (issue #17: 8 bytes a follow edge during the day's feeds): ``row_start``
    (``row_start_sums``) holds ``cumw`` where each row starts and ends, and each pick adds
    its row's weights to it again, one after the other in float64 as numpy's sequential
    accumulate does, stopping at the first entry whose cumulative weight exceeds the
    draw: the same floats, so the same entry as the search over ``cumw`` (the weights are
    not negative: ``cumw`` does not decrease within a row). -1 where a row is empty or
    weighs nothing. Picks are independent: they run in parallel. Returns int64."""
    n = len(rows)
    out = np.empty(n, dtype=np.int64)
    for q in prange(n):
        lo_i = indptr[rows[q]]
        hi_i = indptr[rows[q] + 1]
        lo = row_start[rows[q]]
        hi = row_start[rows[q] + 1]
        if not hi > lo:
            out[q] = -1
            continue
        r = lo + u[q] * (hi - lo)
        a = hi_i  # first index in [lo_i, hi_i) with cumw > r, hi_i if none
        acc = lo
        for i in range(lo_i, hi_i):
            if i == 0:  # the cumsum copies the first sum (0.0 + -0.0 would be 0.0)
                acc = np.float64(values[0] + base)
            else:
                acc += np.float64(values[i] + base)
            if acc > r:
                a = i
                break
        out[q] = min(max(a, lo_i), max(hi_i - 1, lo_i))
    return out


@njit(inline="always")
def _pick_weight(values, base, creator, blocked, i):
    """The follow tab's pick weight of entry ``i`` (float64): 0.0 where its creator is
    ``blocked`` (a bool per creator: banned on the platform, or absent), else the float32
    sum ``values[i] + base``. The same float64 as that sum with the entry's value
    -``base`` (float32: -b + b is exactly +0.0), so the sums and picks over it are those
    of such a copy of ``values``, bit for bit, without the copy (4 bytes an edge)."""
    w = np.float64(values[i] + base)
    # (both read, then a select: a branch on the mask mispredicts on a platform where
    # about half the accounts are absent, ~2x the follow tab's time at 200,000 users)
    return np.float64(0.0) if blocked[creator[i]] else w


@_cached_njit()
def row_start_sums(indptr, values, base, creator, blocked):
    """``cumw = np.cumsum(w, dtype=np.float64)`` of the weights ``w``: ``values + base``
    (float32 ``values`` and ``base``: each sum in float32), 0 where the entry's
    ``creator`` is ``blocked`` (:func:`_pick_weight`; an all-False mask weighs every
    entry), accumulated in float64 one after the other, as numpy's sequential accumulate
    does, the first weight copied, read where each row of the CSR table ``indptr``
    starts, and at the end: ``out[r]`` is ``cumw[indptr[r] - 1]`` (0.0 before the first
    entry), one float per row plus one instead of one per entry
    (:func:`follow_tab_edges`). Returns float64."""
    rows = len(indptr) - 1
    out = np.empty(rows + 1, dtype=np.float64)
    acc = np.float64(0.0)
    for r in range(rows):
        out[r] = acc
        for i in range(indptr[r], indptr[r + 1]):
            if i == 0:
                acc = _pick_weight(values, base, creator, blocked, 0)
            else:
                acc += _pick_weight(values, base, creator, blocked, i)
    out[rows] = acc
    return out


@_cached_njit()
def row_start_sums_and_marked(indptr, values, base, creator, blocked, marked, cap):
    """:func:`row_start_sums` (entries whose ``creator`` is ``blocked`` weigh 0) and, in
    the same pass over the entries, those whose ``creator`` is ``marked`` (a bool per
    creator), ascending: ``np.flatnonzero(
    marked[creator])``, the edges :func:`edges_to_marked` finds (the ad market's edges to
    the merchants' accounts), without a pass of their own: the sums are a chain of
    dependent float64 adds, which leaves the processor room for the test of each entry's
    creator (a rare, predictable branch). The marked entries are written to ``cap``
    places; if there are more, a second pass writes them all. Returns (float64 sums at
    the rows' starts and the end, int64 marked entries)."""
    rows = len(indptr) - 1
    out = np.empty(rows + 1, dtype=np.float64)
    edge = np.empty(max(cap, 0), dtype=np.int64)
    n = 0
    acc = np.float64(0.0)
    for r in range(rows):
        out[r] = acc
        for i in range(indptr[r], indptr[r + 1]):
            if i == 0:
                acc = _pick_weight(values, base, creator, blocked, 0)
            else:
                acc += _pick_weight(values, base, creator, blocked, i)
            if marked[creator[i]]:
                if n < cap:
                    edge[n] = i
                n += 1
    out[rows] = acc
    if n > cap:  # more than the room: all of them again, in a pass of their own
        edge = np.empty(n, dtype=np.int64)
        n = 0
        for i in range(indptr[0], indptr[rows]):
            if marked[creator[i]]:
                edge[n] = i
                n += 1
    return out, edge[:n]


@_cached_njit()
def delete_in_place(arr, gone):
    """``np.delete(arr, gone)`` written over ``arr``'s first entries (``gone``: distinct
    indices, ascending; ``arr`` contiguous); returns how many entries are kept (the caller
    keeps ``arr[:kept]``). The follow graph's columns lose a few edges a day: no copy of
    every edge, no mask (issue #17's memory: a column of 38 M edges is 150 MB). Each run
    of kept entries between two lost ones moves down in one ``memmove`` (:func:`_move`:
    ~5× an entry-by-entry loop, which the compiler does not vectorize)."""
    n = len(arr)
    k = len(gone)
    if k == 0:
        return n
    w = np.int64(gone[0])
    for j in range(k):
        start = np.int64(gone[j]) + 1
        end = np.int64(gone[j + 1]) if j + 1 < k else np.int64(n)
        if end > start:
            _move(arr, w, start, end - start)
            w += end - start
    return w


@_cached_njit()
def insert_in_place(buf, n, pos, values):
    """``buf[:n + len(pos)] = np.insert(buf[:n], pos, values)`` (nondecreasing ``pos``,
    equal positions in the given order; ``buf`` contiguous) without a second array: the
    entries move up from the end, each by the values inserted at or before it (``buf`` has
    room for them), a run between two places in one ``memmove`` (:func:`_move`). The
    follow graph's columns grow by a day's new edges in their own buffers (issue #17's
    memory: a column of 38 M edges is 150 MB)."""
    k = len(pos)
    src = np.int64(n)  # the entries below src have not moved yet
    for j in range(k - 1, -1, -1):
        p = np.int64(pos[j])
        if src > p:
            _move(buf, p + j + 1, p, src - p)
            src = p
        buf[p + j] = values[j]


@_cached_njit()
def tally_impressions(item, domain, source, complete, like, comment, share, follow, n_items, n_domains, n_sources):
    """One pass over a day's impressions: per item, the impressions by domain and by
    slot source and the engagements by action (complete, like, comment, share, follow),
    as ``np.bincount(item * D + domain)``, ``np.bincount(item * S + source)`` and one
    ``np.bincount(item[hit])`` per action give them, without their temporaries.
    Returns three int64 arrays (n_items × D, n_items × S, n_items × 5)."""
    by_domain = np.zeros((n_items, n_domains), dtype=np.int64)
    by_source = np.zeros((n_items, n_sources), dtype=np.int64)
    by_action = np.zeros((n_items, 5), dtype=np.int64)
    for i in range(len(item)):
        it = item[i]
        by_domain[it, domain[i]] += 1
        by_source[it, source[i]] += 1
        by_action[it, 0] += complete[i]
        by_action[it, 1] += like[i]
        by_action[it, 2] += comment[i]
        by_action[it, 3] += share[i]
        by_action[it, 4] += follow[i]
    return by_domain, by_source, by_action


@_cached_njit()
def pool_tally(item, intimacy, complete, like, beta, n_items):
    """One pass over a platform's day of impressions for the traffic pools (feeds/pools.py):
    per item, the impressions, their weights ``1 + beta · intimacy`` and the weights of
    the engaged ones (completed or liked), as ``np.bincount(item)``, ``np.bincount(item,
    weights=w)`` and ``np.bincount(item, weights=w · engaged)`` give them (the same sums
    in the same order, so the same floats), without their per-impression temporaries.
    The engaged test is ``complete | like`` (no branch: ``or`` would branch on each
    impression, unpredictably; 0.54 → 0.17 ms a day of 84,000 impressions). Returns
    (int64, float64, float64) arrays of ``n_items``."""
    real = np.zeros(n_items, dtype=np.int64)
    seen = np.zeros(n_items, dtype=np.float64)
    engaged = np.zeros(n_items, dtype=np.float64)
    for i in range(len(item)):
        it = item[i]
        w = 1.0 + beta * np.float64(intimacy[i])
        real[it] += 1
        seen[it] += w
        engaged[it] += w if complete[i] | like[i] else 0.0
    return real, seen, engaged


@_cached_njit()
def count_cold_start_offers(indptr, creator, active, n_new):
    """How many cold-start offers there are: each (follow edge of an active user to an
    offered creator, new item of that creator) is one, in one pass over the active
    users' rows (CSR ``indptr``; ``active`` ascending), without reading the edges of
    inactive users; ``n_new``: each creator's new items if offered, else 0 (a sum
    without a branch on whether the creator posted). The number of uniforms
    :func:`cold_start_hits` reads."""
    n = 0
    for p in range(len(active)):
        u = active[p]
        for e in range(indptr[u], indptr[u + 1]):
            n += n_new[creator[e]]
    return n


@_cached_njit()
def cold_start_hits(indptr, creator, intimacy, active, offered, new_ptr, order, first_new, rate, draw):
    """The cold-start offers that hit: the offers of :func:`count_cold_start_offers` by
    active user, edge, then the creator's entries in ``new_ptr``, the i-th hitting where
    ``draw[i] < rate * intimacy[edge]`` (float32 ``draw``, ``rate`` and ``intimacy``: the
    same float32 products and comparisons as numpy's ``draw < rate * intimacy`` over every
    offer), without materializing the offers that miss. One pass over the active users'
    rows; each offer is written at the next free place, which only a hit advances (no
    branch on the draw: a hit is a coin flip the processor cannot predict), so of the
    outputs (sized for every offer) only the hits' places are touched. Nor does an edge
    branch on whether its creator was offered (about half the edges, unpredictably): every
    edge writes its first offer and tests its draw, counted only if the creator has one
    (``k``, its offered new items, 0 if not offered; the draw read is then any valid
    one), and only a creator's further items loop. Returns (edge, item ``first_new +
    order[entry]``, the user's position in ``active``) of each hit, int32 (the trace's
    rows: build_feed checks that edges and items fit; half the bytes written an edge of
    int64's, 0.91× of the pass), in offer order."""
    n = len(draw)
    if n == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)
    # each creator's offers an edge and its first entry, packed in one int64 (one table
    # read an edge): k << 32 | entry (entries < 2^32: the day's new items)
    k_first = np.zeros(len(offered), np.int64)
    for c in range(len(offered)):
        if offered[c]:
            k_first[c] = (np.int64(new_ptr[c + 1] - new_ptr[c]) << 32) | np.int64(new_ptr[c])
    # each entry's item (an edge to a creator without offers reads entry 0: n > 0, so there is one)
    new_item = np.empty(len(order), np.int32)
    for q in range(len(order)):
        new_item[q] = first_new + order[q]
    edge = np.empty(n + 1, dtype=np.int32)  # (+1: the place a last miss is written to)
    item = np.empty(n + 1, dtype=np.int32)
    pos = np.empty(n + 1, dtype=np.int32)
    h = 0
    i = 0
    for p in range(len(active)):
        u = active[p]
        for e in range(indptr[u], indptr[u + 1]):
            x = k_first[creator[e]]
            k = x >> 32
            s = x & 0xFFFFFFFF
            threshold = rate * intimacy[e]
            edge[h] = e
            item[h] = new_item[s]
            pos[h] = p
            h += (k > 0) & (draw[min(i, n - 1)] < threshold)
            i += k > 0
            for q in range(s + 1, s + k):
                edge[h] = e
                item[h] = new_item[q]
                pos[h] = p
                h += draw[i] < threshold
                i += 1
    return edge[:h], item[:h], pos[:h]


@_cached_njit()
def random_subset_by_group(group, key, limit):
    """For entries sorted by ``group`` (nondecreasing ints, e.g. users' positions):
    the indices of each group's ``limit[group]`` entries of lowest ``key``, the
    group's entries ordered by ``key`` (ties in entry order), groups in order: the
    first ``limit`` of each group of ``np.lexsort((key, group))`` without the sort of
    every entry (the cold-start pool's cut). Each group's kept entries are an insertion
    list of at most its limit: an entry joins only below the last kept key (an equal
    key comes later in entry order), so most entries of a long group cost one
    comparison. Returns int64 indices."""
    n = len(group)
    out = np.empty(n, dtype=np.int64)
    m = 0
    a = 0
    while a < n:
        b = a + 1
        while b < n and group[b] == group[a]:
            b += 1
        start = m
        cap = min(max(limit[group[a]], 0), b - a)
        filled = 0
        for i in range(a, b):  # insertion by key, after equal keys (stable)
            x = key[i]
            if filled < cap:
                j = start + filled
                filled += 1
            elif cap > 0 and x < key[out[start + cap - 1]]:
                j = start + cap - 1  # the last kept entry leaves
            else:
                continue
            while j > start and key[out[j - 1]] > x:
                out[j] = out[j - 1]
                j -= 1
            out[j] = i
        m = start + cap
        a = b
    return out[:m]


@_cached_njit()
def edges_to_marked(creator, mark):
    """The follow edges whose creator has a mark (``mark[creator] >= 0``), ascending,
    and each one's mark: ``np.flatnonzero(mark[creator] >= 0)`` and the marks there, in
    one pass over the edges without their temporaries (the ad market's audiences,
    platform/ad_market.py). Returns (int64 edges, int64 marks)."""
    n = 0
    for e in range(len(creator)):
        if mark[creator[e]] >= 0:
            n += 1
    edge = np.empty(n, dtype=np.int64)
    value = np.empty(n, dtype=np.int64)
    n = 0
    for e in range(len(creator)):
        b = mark[creator[e]]
        if b >= 0:
            edge[n] = e
            value[n] = b
            n += 1
    return edge, value


@_cached_njit()
def sum_by_index(idx, weights, n):
    """``np.bincount(idx, weights=weights, minlength=n)`` in one pass: each bin's float64
    sum of its weights in the order of ``idx``, as bincount adds them (the same sums, bit
    for bit), without the int64 copy of ``idx`` and the float64 copy of ``weights`` that
    bincount makes first (the creators' fan intimacy and the day's intimacy gains per
    follow edge at 1 M users: issue #17)."""
    out = np.zeros(n, dtype=np.float64)
    for i in range(len(idx)):
        out[idx[i]] += np.float64(weights[i])
    return out


@_cached_njit(parallel=True)
def adopt_new(indptr, indices, before, draw, feed, base, rate):
    """Users' adoption draws in one pass (audience/attention.py): platform ``p`` is
    adopted by user ``i`` when ``feed[p]``, not ``before[i, p]`` and ``draw[i, p] <
    min(1, base + rate · friends / max(degree, 1))``, friends being the neighbours of
    row ``i`` of the CSR graph with ``before[j, p]``: what ``count_flags_in_rows``, the
    fraction, the probability and the comparison give, without their (rows, P) float64
    temporaries, and the friends counted only for the platforms a user could adopt
    (issue #17). Returns (rows, P) bool."""
    rows = len(indptr) - 1
    P = before.shape[1]
    new = np.zeros((rows, P), dtype=np.bool_)
    for i in prange(rows):
        lo, hi = indptr[i], indptr[i + 1]
        degree = np.float64(max(hi - lo, 1))
        for p in range(P):
            if not feed[p] or before[i, p]:
                continue
            friends = 0.0
            for e in range(lo, hi):
                if before[indices[e], p]:
                    friends += 1.0
            prob = min(1.0, base + rate * (friends / degree))
            new[i, p] = draw[i, p] < prob
    return new



@_cached_njit()
def fans_by_tier(creator, intimacy, thresholds, n_creators):
    """(creators × 4) follow edges by creator and fan tier (the tier: how many of the
    three ``thresholds`` the edge's intimacy reaches, as ``state.graphs.fan_tier``), in
    one pass over the edges: what the bincount of ``creator · 4 + tier`` gives, without
    its int64 codes of every edge. Returns int64 counts."""
    out = np.zeros((n_creators, 4), dtype=np.int64)
    t0, t1, t2 = thresholds[0], thresholds[1], thresholds[2]
    for e in range(len(creator)):
        w = intimacy[e]
        tier = 0
        if w >= t0:
            tier += 1
        if w >= t1:
            tier += 1
        if w >= t2:
            tier += 1
        out[creator[e], tier] += 1
    return out


@_cached_njit()
def count_pairs(a, b, nb, n):
    """``np.bincount(a · nb + b, minlength=n)`` in one pass, without the codes of every
    entry (the day's impressions by slot source and domain: observation/views.py).
    Returns int64 counts."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(a)):
        out[np.int64(a[i]) * nb + np.int64(b[i])] += 1
    return out


@_cached_njit()
def fan_gain_list(edge, complete, like, comment, share, weights):
    """One platform's fan impressions and their intimacy gains (audience/relationships.py,
    ``fan_gains``), in one pass over the impressions: each impression with an edge
    (``edge >= 0``), in order, gains the float32 ``weights[0]`` (a view) plus ``weights[1:]``
    times its actions (complete, like, comment, share), added in that order in float32.
    Returns (int64 edges, float32 gains)."""
    g0, wc, wl, wm, ws = weights[0], weights[1], weights[2], weights[3], weights[4]
    n = 0
    for i in range(len(edge)):
        n += edge[i] >= 0
    edges = np.empty(n, dtype=np.int64)
    gains = np.empty(n, dtype=np.float32)
    j = 0
    for i in range(len(edge)):
        e = edge[i]
        if e < 0:
            continue
        g = g0 + wc * np.float32(complete[i])
        g = g + wl * np.float32(like[i])
        g = g + wm * np.float32(comment[i])
        g = g + ws * np.float32(share[i])
        edges[j] = e
        gains[j] = g
        j += 1
    return edges, gains


@_cached_njit()
def sum_runs(key, value, order):
    """The distinct ``key`` values in the order ``order`` visits them (ascending, for a
    stable argsort of ``key``) and each one's float64 sum of its ``value`` entries, added
    from 0 in that order: bincount's sums at the keys that occur, when ``order`` keeps
    equal keys in their original order. Returns (int64 keys, float64 sums)."""
    n = len(order)
    keys = np.empty(n, dtype=np.int64)
    sums = np.empty(n, dtype=np.float64)
    m = -1
    prev = 0
    for t in range(n):
        i = order[t]
        k = key[i]
        if m < 0 or k != prev:
            m += 1
            keys[m] = k
            sums[m] = 0.0
            prev = k
        sums[m] += np.float64(value[i])
    return keys[: m + 1].copy(), sums[: m + 1].copy()


@_cached_njit()
def add_sorted_sums(a, sa, b, sb):
    """The sums of two sparse vectors given by ascending, distinct indices and values:
    the union of ``a`` and ``b`` (ascending) and at each index ``0.0 + sa`` plus ``sb``
    where present, in one merge (numpy form: ``numpy_kernels.add_sorted_sums``, a zero
    array added into at each one's places). Returns (int64 indices, float64 sums)."""
    na, nb = len(a), len(b)
    idx = np.empty(na + nb, dtype=np.int64)
    out = np.empty(na + nb, dtype=np.float64)
    i = 0
    j = 0
    k = 0
    while i < na or j < nb:
        if j >= nb or (i < na and a[i] < b[j]):
            idx[k] = a[i]
            out[k] = 0.0 + sa[i]
            i += 1
        elif i >= na or b[j] < a[i]:
            idx[k] = b[j]
            out[k] = 0.0 + sb[j]
            j += 1
        else:
            idx[k] = a[i]
            out[k] = (0.0 + sa[i]) + sb[j]
            i += 1
            j += 1
        k += 1
    return idx[:k], out[:k]


@_cached_njit()
def fan_intimacy(edge, intimacy):
    """Each impression's viewer–creator intimacy (``intimacy[edge]``; 0 where the viewer
    does not follow, ``edge < 0``) and whether the viewer follows, in one pass over the
    impressions (the reactions, audience/engagement.py; numpy form
    ``numpy_kernels.fan_intimacy``: a mask, a compress and a gather). Returns (float32
    intimacy, bool is_fan)."""
    n = len(edge)
    out = np.zeros(n, dtype=np.float32)
    fan = np.zeros(n, dtype=np.bool_)
    if len(intimacy) == 0:  # no follow edges: no fans (and nothing to read at 0)
        return out, fan
    for i in range(n):
        e = edge[i]
        f = e >= 0
        v = intimacy[max(e, 0)]  # (read at 0 for non-fans, kept out by the select: no branch)
        out[i] = v if f else np.float32(0.0)
        fan[i] = f
    return out, fan


@_cached_njit()
def count_by_index(idx, n):
    """``np.bincount(idx, minlength=n)`` in one pass, without bincount's int64 copy of
    ``idx`` (the followers per creator: the follow graph's 8 M int32 creators at 1 M
    users). Returns int64 counts."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(idx)):
        out[idx[i]] += 1
    return out



@_cached_njit()
def count_by_lookup(idx, table, n):
    """``np.bincount(table[idx], minlength=n)`` in one pass, without the gathered array
    nor bincount's int64 copy of it (the day's impressions per creator, ``table`` the
    items' creators: ~12 bytes an impression at 1 M users, issue #17's memory). Returns
    int64 counts."""
    out = np.zeros(n, dtype=np.int64)
    for i in range(len(idx)):
        out[table[idx[i]]] += 1
    return out


@_cached_njit()
def fan_gain_keys(edge, complete, like, comment, share, j0, shift, out):
    """One platform's fan impressions packed for :func:`day_gain_sums` (audience/
    relationships.py, ``day_gains`` on large days), in one pass over the impressions:
    each impression with an edge (``edge >= 0``), in order, as ``edge << shift | j << 4
    | code``, ``j`` counting them from ``j0`` (its place among every platform's fan
    impressions of the day) and ``code`` its actions (complete 1 + like 2 + comment 4 +
    share 8: its gain is ``relationships.gain_table``'s entry). Written into ``out``
    from ``j0`` on, which needs room for one entry past them (a non-fan impression's
    value is written at the next place and overwritten by the next fan's; issue #17:
    no branch per impression); returns the count."""
    j = j0
    for i in range(len(edge)):  # (no branch on e < 0: ~60% of the impressions, unpredictably)
        e = edge[i]
        code = np.int64(complete[i]) | (np.int64(like[i]) << 1) | (np.int64(comment[i]) << 2)
        code |= np.int64(share[i]) << 3
        out[j] = (np.int64(e) << shift) | (np.int64(j) << 4) | code  # (a viewer's: overwritten, or past the count)
        j += e >= 0
    return j - j0


@_cached_njit()
def day_gain_sums(key, shift, table, starts):
    """The day's intimacy gains by follow edge (audience/relationships.py, ``day_gains``)
    from every platform's fan impressions at once: ``key`` ascending, each fan impression
    as :func:`fan_gain_keys` packs it (``edge << shift | j << 4 | code``, platform ``p``'s
    at ``j`` in ``starts[p]:starts[p + 1]``: equal edges in the impressions' order),
    its float32 gain ``table[code]``. Each edge's gains on a platform are summed in
    float64 from 0 in that order (``sum_runs``), and the platforms' sums added in
    platform order as the merges of ``add_sorted_sums`` add them: ``0.0 + s`` for the
    first platform that has the edge, then ``(0.0 + total) + s``. Returns the edges whose
    total is not zero (NaN counts as not zero), ascending, and their totals (int64,
    float64): what a stable argsort and ``sum_runs`` a platform, the merges and the
    filter give, without reading the gains at scattered places. The edges are written over
    ``key``'s first entries (each after its keys are read) and returned as a view of them,
    the totals in an array of one float per distinct edge (issue #17's memory: not two
    arrays of one entry per fan impression). When one platform has every fan impression
    (the shipped single-platform scenarios), :func:`_one_platform_gain_sums`."""
    n = len(key)
    low = (np.int64(1) << shift) - 1
    distinct = 1 if n > 0 else 0
    for t in range(1, n):
        distinct += (key[t] >> shift) != (key[t - 1] >> shift)
    edges = key
    with_fans = 0
    for p in range(len(starts) - 1):
        with_fans += starts[p + 1] > starts[p]
    if with_fans <= 1:
        return _one_platform_gain_sums(key, shift, table, distinct)
    sums = np.empty(distinct, dtype=np.float64)
    m = 0
    t = 0
    while t < n:
        e = key[t] >> shift
        total = 0.0
        first = True
        while t < n and (key[t] >> shift) == e:
            p = 0
            while starts[p + 1] <= (key[t] & low) >> 4:
                p += 1
            end = np.int64(starts[p + 1]) << 4
            s = 0.0
            while t < n and (key[t] >> shift) == e and (key[t] & low) < end:
                s += np.float64(table[key[t] & 15])
                t += 1
            if first:
                total = 0.0 + s
                first = False
            else:
                total = (0.0 + total) + s
        if total != 0:
            edges[m] = e  # (m < t: this edge's keys, and every earlier one's, are read)
            sums[m] = total
            m += 1
    return edges[:m], sums[:m]


# --------------------------------------------------------------------------- GRAPH (issue #17, tenth pass)


@intrinsic
def _move(typingctx, arr, dst, src, count):
    """``arr[dst:dst + count] = arr[src:src + count]`` for a contiguous 1-D array, the two
    ranges possibly overlapping, as one ``llvm.memmove`` (the C library's memmove: vector
    loads and stores; a loop moving one entry at a time through the same array is not
    vectorized, as the compiler cannot rule out the overlap). The caller keeps the ranges
    inside the array and ``count`` > 0."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and arr.layout == "C"):
        return None
    sig = types.void(arr, types.int64, types.int64, types.int64)

    def codegen(context, builder, signature, args):
        a, d, s, c = args
        ary = context.make_array(signature.args[0])(context, builder, a)
        itemsize = context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype))
        cgutils.raw_memmove(builder, builder.gep(ary.data, [d]), builder.gep(ary.data, [s]), c, itemsize)
        return context.get_dummy_value()

    return sig, codegen


@_cached_njit()
def fans_by_tier_and_sums(creator, intimacy, thresholds, n_creators):
    """:func:`fans_by_tier` and :func:`sum_by_index` of the edges' intimacy by creator in
    one pass over the edges (the metrics read both every step: two passes over every
    edge's creator and intimacy, issue #17's late year): (creators × 4) int64 counts by
    fan tier, and each creator's float64 sum of its edges' intimacy added in edge order
    from 0, as ``np.bincount(creator, weights=intimacy)`` adds them (the same sums). A
    creator's counts and sum share one row of 8 floats (one cache line written an edge,
    not two; the counts, whole floats below 2^53, are exact)."""
    table = np.zeros((n_creators, 8), dtype=np.float64)  # the four tiers' counts, the sum, padding
    t0, t1, t2 = thresholds[0], thresholds[1], thresholds[2]
    for e in range(len(creator)):
        w = intimacy[e]
        c = creator[e]
        tier = np.int64(w >= t0) + np.int64(w >= t1) + np.int64(w >= t2)
        table[c, tier] += 1.0
        table[c, 4] += np.float64(w)
    out = np.empty((n_creators, 4), dtype=np.int64)
    sums = np.empty(n_creators, dtype=np.float64)
    for c in range(n_creators):
        for t in range(4):
            out[c, t] = np.int64(table[c, t])
        sums[c] = table[c, 4]
    return out, sums


@_cached_njit()
def indices_below(x, threshold):
    """``np.flatnonzero(x < threshold)`` (int64, ascending) in two passes over ``x`` (a
    count, then the indices), without numpy's mask of every entry (the cold follow edges,
    audience/relationships.py ``drifting_fans``: a few percent of every edge, found each
    day). ``threshold`` of ``x``'s dtype: the comparison numpy makes with a Python float
    (NEP 50: the float is cast to the array's dtype)."""
    n = 0
    for i in range(len(x)):
        n += x[i] < threshold
    out = np.empty(n, dtype=np.int64)
    j = 0
    for i in range(len(x)):
        if x[i] < threshold:
            out[j] = i
            j += 1
    return out


@_cached_njit()
def moved_rows(edge, marks, right):
    """A follow-edge table's rows after the graph inserted or removed edges
    (state/graphs.py ``EdgeTable``): ``edge`` ascending, ``marks`` nondecreasing, merged
    in one pass instead of a binary search of every row. ``right``: the edges inserted at
    ``marks`` (``np.insert``'s places), each row's edge moves up by the marks at or before
    it, ``edge + searchsorted(marks, edge, "right")``; else ``marks`` are the removed
    edges, each moves down by those before it, ``edge - searchsorted(marks, edge)``, and
    ``hit`` flags the rows whose edge is one of them. Returns (int64 edges, bool hit)."""
    n = len(edge)
    k = len(marks)
    out = np.empty(n, dtype=np.int64)
    hit = np.zeros(n, dtype=np.bool_)
    j = 0
    for i in range(n):
        e = np.int64(edge[i])
        if right:
            while j < k and marks[j] <= e:
                j += 1
            out[i] = e + j
        else:
            while j < k and marks[j] < e:
                j += 1
            hit[i] = j < k and marks[j] == e
            out[i] = e - j
    return out, hit


# ---------------------------------------------------------------- COMMERCE (issue #17, tenth pass)


@_cached_njit()
def find_in_book(keys, n_main, index, n_merchants, users, merchants):
    """The customer book's rows of the pairs (``users``, ``merchants``), -1 where absent:
    ``keys[:n_main]`` ascending (user · ``n_merchants`` + merchant), ``index[u]`` its user
    u's first row and a bitmask of u's merchants there (bit merchant % 64; ``len(index) -
    1`` users indexed: users beyond have no rows there), searched only in the user's own
    rows when the bit is set; ``keys[n_main:]`` (the day's tail) ascending, searched
    whole. Its numpy form searches both runs whole (the same rows: the keys are
    distinct)."""
    out = np.empty(len(users), dtype=np.int64)
    n, n_users = len(keys), len(index) - 1
    for i in range(len(users)):
        u, m = np.int64(users[i]), np.int64(merchants[i])
        k = u * n_merchants + m
        r = -1
        if 0 <= u < n_users and (index[u, 1] >> (m & 63)) & 1:
            lo, hi = index[u, 0], index[u + 1, 0]
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < k:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < index[u + 1, 0] and keys[lo] == k:
                r = lo
        if r < 0 and n_main < n:
            lo, hi = n_main, n
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < k:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < n and keys[lo] == k:
                r = lo
        out[i] = r
    return out


COMMERCE_CHUNK = 16384  # rows (selling_edges_in_rows) or selling edges (join_candidates, visiting_edges) of a parallel chunk


@njit(inline="always")
def _chunk_buffers(n_items, n_out):
    """The set-up of a kernel that writes a list in parallel over fixed chunks of
    ``COMMERCE_CHUNK`` of its ``n_items`` (edges or rows), for :func:`_compact_chunks`:
    the number of chunks, room for ``n_out`` entries (each chunk writes from its own
    offset there), and each chunk's offset and count."""
    n_chunks = (n_items + COMMERCE_CHUNK - 1) // COMMERCE_CHUNK
    return (n_chunks, np.empty(n_out, dtype=np.int64), np.empty(n_chunks, dtype=np.int64),
            np.empty(n_chunks, dtype=np.int64))


@njit(inline="always")
def _compact_chunks(out, start, count):
    """The entries ``out[start[c]:start[c] + count[c]]`` of every chunk ``c``, in chunk
    order, as a new int64 array: the offsets are the counts' prefix sums (serial, a few
    hundred chunks), the moves run in parallel (disjoint ranges)."""
    n_chunks = len(count)
    at = np.zeros(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks):
        at[c + 1] = at[c] + count[c]
    result = np.empty(at[n_chunks], dtype=np.int64)
    for c in prange(n_chunks):
        src = start[c]
        dst = at[c]
        for i in range(count[c]):
            result[dst + i] = out[src + i]
    return result


@_cached_njit(parallel=True)
def join_candidates(edge, intimacy, members, join_intimacy):
    """The follow edges of ``edge`` (ascending) at or above ``join_intimacy`` (float32,
    compared as numpy compares a float32 array with it) that are not in ``members``
    (ascending: the fan groups' member edges), ascending (int64): one merge of the two
    sorted lists, without ``EdgeTable.has``' flag of every edge (commerce/groups.py).
    In parallel over fixed chunks of ``COMMERCE_CHUNK`` selling edges (each merges from
    its first edge's place among the members, a binary search), each writing its
    candidates at its own offset, then moved together in chunk order
    (``_compact_chunks``): the same list, whatever the thread count."""
    n_edges = len(edge)
    n_chunks, out, start, count = _chunk_buffers(n_edges, n_edges)
    n_members = len(members)
    for c in prange(n_chunks):
        lo = c * COMMERCE_CHUNK
        hi = min(lo + COMMERCE_CHUNK, n_edges)
        j = np.searchsorted(members, edge[lo])
        n = lo
        for i in range(lo, hi):
            e = edge[i]
            if intimacy[e] >= join_intimacy:
                while j < n_members and members[j] < e:
                    j += 1
                if j == n_members or members[j] != e:
                    out[n] = e
                    n += 1
        start[c] = lo
        count[c] = n - lo
    return _compact_chunks(out, start, count)


@_cached_njit(parallel=True)
def visiting_edges(edge, draw, intimacy, visit_rate):
    """The edges of ``edge`` whose ``draw`` is below ``visit_rate × intimacy[edge]``, in
    float32 (``visit_rate`` float32: numpy's product of a float32 array and a Python
    float), in their order (int64): one pass, without the gathered intimacy, the
    products and the mask of every selling edge (commerce/visits.py). In parallel over
    fixed chunks of ``COMMERCE_CHUNK`` edges, moved together in chunk order
    (``_compact_chunks``): the same list, whatever the thread count."""
    n_edges = len(edge)
    n_chunks, out, start, count = _chunk_buffers(n_edges, n_edges)
    for c in prange(n_chunks):
        lo = c * COMMERCE_CHUNK
        n = lo
        for i in range(lo, min(lo + COMMERCE_CHUNK, n_edges)):
            e = edge[i]
            if draw[i] < visit_rate * intimacy[e]:
                out[n] = e
                n += 1
        start[c] = lo
        count[c] = n - lo
    return _compact_chunks(out, start, count)


@_cached_njit(parallel=True)
def selling_edges_in_rows(indptr, creator, bits, uses):
    """The follow edges whose creator sells on a platform its user uses, ascending
    (int64): ``numpy_kernels.selling_edges`` row by row of the graph (``indptr``), with
    each creator's home platform as a bit where it may sell (``bits``, uint64: 0 where
    not ``ok``) and the row's user's platforms (``uses``) as bits, so an edge costs one
    gather from the creators' small table and no read of its user (commerce/__init__.py;
    without branches, as before). In parallel over fixed chunks of ``COMMERCE_CHUNK``
    rows (issue #17: one serial pass over 46 M edges at 1 M users late in a year), each
    writing its edges from its first edge's place, then moved together in chunk order
    (``_compact_chunks``): the same list, whatever the thread count. Returns int64 edges."""
    rows = len(indptr) - 1
    n_chunks, out, start, count = _chunk_buffers(rows, len(creator))
    one = np.uint64(1)
    for c in prange(n_chunks):
        lo = c * COMMERCE_CHUNK
        hi = min(lo + COMMERCE_CHUNK, rows)
        n = indptr[lo]
        for u in range(lo, hi):
            mine = np.uint64(0)
            for p in range(uses.shape[1]):
                if uses[u, p]:
                    mine |= one << np.uint64(p)
            for e in range(indptr[u], indptr[u + 1]):
                out[n] = e
                n += (mine & bits[creator[e]]) != 0
        start[c] = indptr[lo]
        count[c] = n - indptr[lo]
    return _compact_chunks(out, start, count)


# ------------------------------------------------------------------- RANK (issue #17, tenth pass)

# score_top_k selects a row's list by counting (_select_by_rank) when it has at most
# RANK_COLS columns (the count is cols² comparisons) and wants at least RANK_FROM places
# (shorter lists: the insertion selection is quicker)
RANK_COLS = 128
RANK_FROM = 4


@njit(inline="always")
def _select_by_rank(v, k, topi, rank):
    """``_select_noisy``'s list by counting instead of insertion: each entry's place is
    the number of entries strictly above it (``rank``, int32 scratch of ``len(v)``), one
    branch-free comparison of every pair that the compiler vectorizes; the entries whose
    place is below ``k`` (and below the number of finite ones: -inf is never chosen) are
    written to ``topi`` (preset to -1) at their place. Entries of equal value share a
    place and leave the next one empty: at the last place the lowest index is written
    last (the entries are visited downwards), which is ``_select_noisy``'s tie rule; a
    tie above it leaves an empty place, and the function returns False (the caller
    selects again by insertion). ``v`` holds no NaN. Returns whether ``topi`` is the list."""
    cols = len(v)
    _count_above(v, cols, rank)
    finite = 0
    for j in range(cols):
        finite += v[j] != -np.inf
    kk = min(k, finite)
    for j in range(cols - 1, -1, -1):
        r = rank[j]
        if r < kk:
            topi[r] = j
    for r in range(kk):
        if topi[r] < 0:
            return False
    return True


# ---------------------------------------------------------- REST1M (issue #17, tenth pass, second wave)

REACT_CHUNK = 4096  # impressions a thread's chunk of react_in_chunks (its float64 exponents: 32 KiB)


@_cached_njit(parallel=True)
def react_in_chunks(edge, edge_intimacy, item, item_quality, match, coef, offsets, seed):
    """The day's reactions in one parallel pass (audience/engagement.py; numpy form
    ``numpy_kernels.react_in_chunks``, the same name): each impression's viewer intimacy
    (``edge_intimacy[edge]``, 0 where the viewer does not follow, as :func:`fan_intimacy`),
    its item's quality read in place and its actions drawn as :func:`draw_actions` draws
    them (the same outcomes: the same float64 operations in the same order on numba's
    ``exp``, the same counter-based uniforms), ``REACT_CHUNK`` impressions at a time.
    Without the day's gathered qualities, the fan mask and the zeroed actions of the
    three passes it replaces (issue #17: 5 bytes an impression fewer at react's peak).

    A chunk's exponents are first taken by :func:`_exp_near` (a polynomial the compiler
    vectorizes, within 2**-45 of ``exp``; numba's ``exp`` is a library call, ~9 ns an
    impression, a third of the kernel), then each action's uniforms and comparisons run
    in a loop of their own (no branch, no call, each action's row a 1-d view), then the
    follows (each impression's follow uniform drawn and kept where it may follow, a
    non-fan who completed or liked: the same outcomes as drawing it only there, the
    uniforms being counter-based). A comparison ``u · (1 + e · scale) < 1`` whose
    left side lies within ``_REACT_BAND`` (2**-28) of 1 might go the other way on the
    exact ``exp`` (:func:`_exp_near` moves it by less than 2**-40); such a chunk, rare
    (~1 in 10**8 comparisons), or one with an exponent beyond ±``_EXP_NEAR`` or a scale
    beyond 10**±150 (no overflow nor subnormal there), is drawn again with numba's
    ``exp`` (:func:`_react_chunk_exact`, the definition): every outcome is the exact
    ``exp``'s. A day of 84,000 impressions, one thread: 2.43 → 1.43 ms compiled ahead,
    2.39 → 1.19 ms numba's (the branchless follows included).
    Returns ((5, n) bools, float32 intimacy)."""
    n = len(edge)
    out = np.empty((5, n), dtype=np.bool_)
    intim = np.empty(n, dtype=np.float32)
    useed = np.uint64(seed)
    scale = np.exp(-offsets)
    has = len(edge_intimacy) > 0  # (no follow edges: no fans, and nothing to read at 0)
    near = True  # (every scale in 10**±150: with |x| <= _EXP_NEAR, e · scale is a normal float)
    for a in range(5):
        near &= (scale[a] >= 1e-150) & (scale[a] <= 1e150)
    c0, c1, c2, c3 = coef[0], coef[1], coef[2], coef[3]
    for c in prange((n + REACT_CHUNK - 1) // REACT_CHUNK):
        a0 = c * REACT_CHUNK
        a1 = min(n, a0 + REACT_CHUNK)
        m = a1 - a0
        e = np.empty(m)
        for j in range(m):
            i = a0 + j
            ed = edge[i]
            v = edge_intimacy[max(ed, 0)] if has else np.float32(0.0)
            iv = v if (ed >= 0) & has else np.float32(0.0)
            intim[i] = iv
            e[j] = -(c0 + c1 * match[i] + c2 * item_quality[item[i]] + c3 * iv)
        near_ones = 0  # exponents out of range and comparisons within the band (then the exact exp)
        for j in range(m):  # (a loop of its own: the gathers above keep theirs from vectorizing)
            x = e[j]
            ok = abs(x) <= _EXP_NEAR  # (False for NaN)
            near_ones += np.int64(not ok)
            e[j] = _exp_near(x if ok else 0.0)
        for a in range(4):
            sa = scale[a]
            row = out[a, a0:a1]
            for j in range(m):
                p = _uniform(useed, a0 + j, a) * (1.0 + e[j] * sa)
                row[j] = p < 1.0
                near_ones += np.int64(abs(p - 1.0) < _REACT_BAND)
        s4 = scale[4]
        complete, like, follow = out[0, a0:a1], out[1, a0:a1], out[4, a0:a1]
        for j in range(m):
            may = (not ((edge[a0 + j] >= 0) & has)) & (complete[j] | like[j])
            p = _uniform(useed, a0 + j, 4) * (1.0 + e[j] * s4)
            follow[j] = may & (p < 1.0)
            near_ones += np.int64(may & (abs(p - 1.0) < _REACT_BAND))
        if near_ones > 0 or not near:
            _react_chunk_exact(edge, has, item, item_quality, match, coef, scale, useed, intim, out, a0, a1, e)
    return out, intim


@_cached_njit()
def satisfaction_day(user, complete, like, source, ads, active, push, uses, satisfaction, last_open, p, day,
                     ad_aversion, push_aversion, memory, reference, recovery):
    """One feed platform's day of users' satisfaction (audience/activity.py, ``Activity.update``)
    in two passes, without the per-user int64 counts' gathers, the away users' mask and
    the float64 temporaries of its numpy form: each user's impressions, engaged ones and
    ad ones counted over the day's impressions (as ``numpy_kernels.counts_by_user``), then each of today's
    ``active`` users (distinct) moves ``satisfaction[u]`` (float32, in place) by
    ``float32((x - s) / memory)`` with ``x = (hits - ad_aversion · ads) / max(k, 1) -
    push_aversion · push[u]`` in float64, and gets ``last_open[u, p] = day``; each user of
    the platform (``uses[u]``) not active today by ``(float32(reference) - s) /
    float32(recovery)`` in float32 (numpy's float32 array with a Python float, NEP 50).
    The same floats as the numpy form's elementwise operations."""
    n = len(satisfaction)
    k = np.zeros(n, dtype=np.int32)
    hits = np.zeros(n, dtype=np.int32)
    n_ads = np.zeros(n, dtype=np.int32)
    for i in range(len(user)):
        u = user[i]
        k[u] += 1
        hits[u] += complete[i] | like[i]
        n_ads[u] += source[i] == ads
    today = np.zeros(n, dtype=np.bool_)
    for t in range(len(active)):
        u = active[t]
        today[u] = True
        last_open[u, p] = day
        share = (np.float64(hits[u]) - ad_aversion * np.float64(n_ads[u])) / np.float64(max(k[u], 1))
        x = share - push_aversion * push[u]
        s = satisfaction[u]
        satisfaction[u] = s + np.float32((x - np.float64(s)) / memory)
    ref, rec = np.float32(reference), np.float32(recovery)
    for u in range(n):
        if uses[u] and not today[u]:
            s = satisfaction[u]
            satisfaction[u] = s + (ref - s) / rec


# ------------------------------------------------------------- FOLLOWTAB (issue #17, tenth pass)


@intrinsic
def _prefetch(typingctx, arr, i):
    """A hint to bring ``arr[i]``'s cache line in (``llvm.prefetch``: read, kept in every
    cache level): no effect on results, and none on an index outside the array (a
    prefetch never faults). For loops whose next entries' places are known ahead but
    whose loads the processor cannot start early (a mispredicted branch between them)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1):
        return None
    sig = types.void(arr, types.int64)

    def codegen(context, builder, signature, args):
        a, idx = args
        ary = context.make_array(signature.args[0])(context, builder, a)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        i32 = ir.IntType(32)
        builder.call(fn, [builder.bitcast(builder.gep(ary.data, [idx]), i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


# the follow tab's picks: users a chunk (each chunk's users one after the other, the chunks
# in parallel); how far ahead a user's row is prefetched; from how many picks a user's row
# is summed once for all its picks
FOLLOW_TAB_CHUNK = 1024
FOLLOW_TAB_AHEAD = 16
FOLLOW_TAB_ROW_ONCE = 3


@_cached_njit()
def _follow_tab_chunk(indptr, row_start, values, base, creator, blocked, active, n, first, u, out, out_creator,
                      p0, p1):
    """:func:`follow_tab_edges` for the active users ``p0 .. p1``; returns how many of
    their picks are kept."""
    longest = 0
    for p in range(p0, p1):
        length = indptr[active[p] + 1] - indptr[active[p]]
        if n[p] >= FOLLOW_TAB_ROW_ONCE and length > longest:
            longest = length
    sums = np.empty(longest, dtype=np.float64)
    kept = 0
    ahead = FOLLOW_TAB_AHEAD
    for p in range(p0, p1):
        if p + ahead < p1:  # a later user's row pointer and row start, then a nearer one's row
            _prefetch(indptr, np.int64(active[p + ahead]))
            _prefetch(row_start, np.int64(active[p + ahead]))
        if p + ahead // 2 < p1:
            s = indptr[active[p + ahead // 2]]
            _prefetch(values, s)
            _prefetch(creator, s)
        row = active[p]
        lo_i = indptr[row]
        hi_i = indptr[row + 1]
        lo = row_start[row]
        hi = row_start[row + 1]
        q0 = first[p]
        q1 = q0 + n[p]
        if not hi > lo:
            for q in range(q0, q1):
                out[q] = -1
                out_creator[q] = -1
            continue
        once = n[p] >= FOLLOW_TAB_ROW_ONCE
        if once:  # the row's cumulative weights once (the same adds as each pick's scan)
            acc = lo
            for i in range(lo_i, hi_i):
                if i == 0:  # the cumsum copies the first sum (0.0 + -0.0 would be 0.0)
                    acc = _pick_weight(values, base, creator, blocked, 0)
                else:
                    acc += _pick_weight(values, base, creator, blocked, i)
                sums[i - lo_i] = acc
        for q in range(q0, q1):
            r = lo + u[q] * (hi - lo)
            a = hi_i  # first index in [lo_i, hi_i) with cumw > r, hi_i if none
            if once:
                for i in range(lo_i, hi_i):
                    if sums[i - lo_i] > r:
                        a = i
                        break
            else:
                acc = lo
                for i in range(lo_i, hi_i):
                    if i == 0:
                        acc = _pick_weight(values, base, creator, blocked, 0)
                    else:
                        acc += _pick_weight(values, base, creator, blocked, i)
                    if acc > r:
                        a = i
                        break
            e = min(max(a, lo_i), max(hi_i - 1, lo_i))
            c = creator[e]
            if blocked[c]:
                out[q] = -1
                out_creator[q] = -1
            else:
                out[q] = e
                out_creator[q] = c
                kept += 1
    return kept


@_cached_njit(parallel=True)
def follow_tab_edges(indptr, row_start, values, base, creator, blocked, active, n, first, u):
    """The follow tab's picks of followed creators (feeds/slots.py ``follow_slots``), one
    pass over the picking users instead of numpy's passes over every pick: active user
    ``p``'s ``n[p]`` picks are ``first[p] .. first[p] + n[p]`` (``first``: the exclusive
    cumsum of ``n``), each the edge :func:`weighted_pick_in_row_sums` draws in the user's
    row (``active[p]``) from its uniform ``u[q]``, over the weights ``values + base``
    but 0 on an edge whose creator is ``blocked`` (a bool per creator: banned on the
    platform, or absent; :func:`_pick_weight`, as ``row_start``'s
    :func:`row_start_sums` weighs them), the same floats as a search over their cumsum
    and the same edge, so a zero-weight edge is never drawn but where the draw rounds up
    to its row's total; -1 where that row is empty or weighs nothing, or where the
    picked edge's creator is ``blocked`` (that rounding). Two things make
    it quicker than one scan per pick: a user with ``FOLLOW_TAB_ROW_ONCE`` picks or more
    sums its row once into a buffer (the same float64 adds in the same order, so the same
    cumulative weights) and each pick scans the sums for the first above its draw, with
    no chain of dependent adds; and the rows ``FOLLOW_TAB_AHEAD`` users ahead are
    prefetched (a pick's scan ends in a mispredicted branch, behind which the processor
    would not start the next user's loads; ~1.5× at 1 M users). Chunks of
    ``FOLLOW_TAB_CHUNK`` users run in parallel. Returns the edge and its creator per pick
    (int32: the trace's ``INDEX``, which the caller checked the graph fits; -1 where
    none) and how many are not -1."""
    out = np.empty(len(u), dtype=np.int32)
    out_creator = np.empty(len(u), dtype=np.int32)
    na = len(active)
    chunks = (na + FOLLOW_TAB_CHUNK - 1) // FOLLOW_TAB_CHUNK
    kept = 0
    for k in prange(chunks):
        p0 = k * FOLLOW_TAB_CHUNK
        kept += _follow_tab_chunk(indptr, row_start, values, base, creator, blocked, active, n, first, u, out,
                                  out_creator, p0, min(p0 + FOLLOW_TAB_CHUNK, na))
    return out, out_creator, kept


@_cached_njit()
def follow_tab_items(edge, edge_creator, kept, active, n, recent_ptr, recent_items, u):
    """The follow tab's items (feeds/slots.py ``follow_slots``) for the picks of
    :func:`follow_tab_edges` (``edge`` and its creator ``edge_creator``, -1 where none;
    ``kept`` of them are not): each kept pick's creator's item at ``lo + int(u · count)``
    of its row of recent items (``recent_ptr``, ``recent_items``: ``ItemIndexes.recent``),
    as ``state.arrays.random_in_rows`` draws it from the kept picks' uniforms ``u`` (one
    each, in pick order), and none where the creator has no recent item. Returns, per
    impression, in pick order: the active user's place ``pos`` (int64), the user
    (int32), the item and the edge (int32, the trace's ``INDEX``)."""
    pos = np.empty(kept, dtype=np.int64)
    user = np.empty(kept, dtype=np.int32)
    item = np.empty(kept, dtype=np.int32)
    out_edge = np.empty(kept, dtype=np.int32)
    k = 0  # the kept pick's place among the kept picks (its uniform)
    j = 0  # the impressions written
    q = 0
    for p in range(len(active)):
        for _ in range(n[p]):
            e = edge[q]
            c = edge_creator[q]
            q += 1
            if e < 0:
                continue
            lo = recent_ptr[c]
            count = recent_ptr[c + 1] - lo
            if count > 0:
                pos[j] = p
                user[j] = active[p]
                item[j] = recent_items[lo + np.int64(u[k] * np.float64(count))]
                out_edge[j] = e
                j += 1
            k += 1
    return pos[:j], user[:j], item[:j], out_edge[:j]


# ----------------------------------------------------------- LATE1M (issue #17, eleventh pass)


@njit(inline="always")
def _select_by_rank_above(v, k, topi, rank, sel, vsel):
    """:func:`_select_by_rank`'s list and answer, counting only among the entries at or
    above a lower bound of the list's last value: the smallest of the maxima of ``k``
    disjoint groups of entries (columns ``g, g + k, g + 2k, ...``) is one, since those
    ``k`` maxima are distinct entries at or above it. An entry below the bound has at
    least ``k`` entries above it (never placed), and every entry above one at or above the
    bound is itself at or above it: the selected entries' counts, their order of writing
    (downwards) and so the list and the tie answer are ``_select_by_rank``'s, for
    ``cols`` + (selected)² comparisons instead of cols² (:func:`_count_above`, as
    ``_select_by_rank`` counts). A group without a finite entry
    (the bound -inf) counts every entry (``_select_by_rank``). ``sel`` (int32), ``vsel``
    (float32) and ``rank`` are scratch of ``len(v) + RANK_PAD``: the selected entries are
    counted over a length rounded up to ``RANK_PAD`` (:func:`_count_above_padded`);
    ``v`` holds no NaN. (score_top_k runs these steps written out in its row loop.)"""
    cols = len(v)
    if k > cols:
        return _select_by_rank(v, k, topi, rank)
    bound = np.float32(np.inf)
    for g in range(k):
        mx = v[g]
        for j in range(g + k, cols, k):
            x = v[j]
            mx = x if x > mx else mx
        bound = mx if mx < bound else bound
    if bound == -np.inf:
        return _select_by_rank(v, k, topi, rank)
    n = 0
    for j in range(cols):  # (no branch: every entry written at the next place, kept when at or above)
        x = v[j]
        sel[n] = j
        vsel[n] = x
        n += x >= bound
    _count_above_padded(vsel, n, rank)
    for b in range(n - 1, -1, -1):  # (k finite entries at or above the bound: the list has k places)
        r = rank[b]
        if r < k:
            topi[r] = sel[b]
    for r in range(k):
        if topi[r] < 0:
            return False
    return True


# ----------------------------------------------------------- LATEFEEDS (issue #17, twelfth pass)


@njit(inline="always")
def _count_above(v, n, rank):
    """``rank[j]`` = how many of ``v[:n]`` are strictly above ``v[j]``, for ``j < n``: one
    branch-free comparison of every pair, which the compiler vectorizes (the count of
    :func:`_select_by_rank` and :func:`_select_by_rank_above`)."""
    for j in range(n):
        rank[j] = 0
    for i in range(n):
        x = v[i]
        for j in range(n):
            rank[j] += x > v[j]


# ----------------------------------------------------------- FEEDS (issue #17, thirteenth pass)


@_cached_njit()
def block_picks_into(top, valid, k_u, e_ptr, e_col, e_edge, col_creator, users, col_item, match, source,
                     out_u, out_i, out_s, out_e, out_m, out_t, at, col_counts):
    """:func:`block_picks`' picks written straight into the day's columns
    (``impressions.FeedColumns``: user, item, source, edge, match, targeting) from row
    ``at`` on: the same rows in the same order (each row's first ``k_u[i]`` valid picks,
    row by row, rank by rank), each with ``source`` and the targeting -1, instead of
    five arrays of the block's own, an ``Impressions`` of them and a copy into the
    columns (issue #17, 1 M users: ~720 blocks a step). ``valid``: the mask of
    :func:`block_picks`, or a mask of no rows for ``top >= 0`` (a place the ranking
    filled), tested here instead of by a pass of its own. ``col_counts[j]`` (when not
    empty) gains the picks of column ``j`` (``np.bincount`` of :func:`block_picks`'
    columns). The columns must have room for ``k_u.sum()`` rows from ``at``. Returns the
    number of rows written."""
    rows, k = top.shape
    dense = valid.shape[0] == 0
    counting = len(col_counts) > 0
    n_cols = 0
    for j in range(len(col_creator)):
        n_cols = max(n_cols, col_creator[j] + 1)
    for e in range(len(e_col)):
        n_cols = max(n_cols, e_col[e] + 1)
    edge_of = np.full(n_cols, -1, dtype=np.int64)  # the row's edge to each creator column, -1 for none
    n = at
    for i in range(rows):
        for e in range(e_ptr[i + 1] - 1, e_ptr[i] - 1, -1):  # (backwards: a column's first edge is kept)
            edge_of[e_col[e]] = e_edge[e]
        taken = 0
        for r in range(k):
            if taken >= k_u[i]:
                break
            j = top[i, r]
            if (j >= 0) if dense else valid[i, r]:
                out_u[n] = users[i]
                out_i[n] = col_item[j]
                out_s[n] = source
                out_e[n] = edge_of[col_creator[j]]
                out_m[n] = match[i, j]
                out_t[n] = -1
                if counting:
                    col_counts[j] += 1
                n += 1
                taken += 1
        for e in range(e_ptr[i], e_ptr[i + 1]):
            edge_of[e_col[e]] = -1
    return n - at


@_cached_njit()
def block_columns(cand, creator, col_of):
    """A ranking block's creator columns in one pass (issue #17, thirteenth pass: ~13 numpy
    calls a block on ~60 candidates): the candidates' distinct creators ascending
    (``ucre``: ``np.unique(creator[cand])``), each candidate's column among them (``inv``),
    set in the day's creator → column table ``col_of`` (all -1 before; the caller resets
    ``col_of[ucre]``), the candidates by column in a stable order (``by_creator``:
    ``np.argsort(inv, kind="stable")``) and the pointer of each column's candidates in it
    (``cand_ptr``: ``indptr_from_rows(inv[by_creator], len(ucre))``). All int64, as the
    numpy calls give them."""
    m = len(cand)
    cre = np.empty(m, dtype=np.int64)
    for j in range(m):
        cre[j] = creator[cand[j]]
    srt = np.sort(cre)
    ucre = np.empty(m, dtype=np.int64)
    u = 0
    for j in range(m):
        if j == 0 or srt[j] != srt[j - 1]:
            ucre[u] = srt[j]
            u += 1
    ucre = ucre[:u]
    for c in range(u):
        col_of[ucre[c]] = c
    inv = np.empty(m, dtype=np.int64)
    cand_ptr = np.zeros(u + 1, dtype=np.int64)
    for j in range(m):
        c = col_of[cre[j]]
        inv[j] = c
        cand_ptr[c + 1] += 1
    for c in range(u):
        cand_ptr[c + 1] += cand_ptr[c]
    by_creator = np.empty(m, dtype=np.int64)
    fill = cand_ptr[:u].copy()
    for j in range(m):  # (in candidate order within a column: the stable order)
        c = inv[j]
        by_creator[fill[c]] = j
        fill[c] += 1
    return ucre, inv, by_creator, cand_ptr


# ---------------------------------------------------------------- AFTER (issue #17, thirteenth pass)


@_cached_njit()
def book_trust_last(keys, n_main, index, n_merchants, users, merchants, trust, last_day, never):
    """The customer book's trust and last order day of each pair (``users``,
    ``merchants``): ``trust[row]`` and ``last_day[row]`` (their dtypes) at the pair's row
    of :func:`find_in_book` (the same arguments and search), ``0`` and ``never`` where the
    pair has none: ``PurchaseModel.probability``'s two ``np.where`` calls over
    ``find_in_book``'s rows in one pass, without the rows (commerce/purchase.py)."""
    # (find_in_book's search repeated, not shared: one ``inline="always"`` helper for both
    # measured 1.2-1.4x slower in both kernels, 800,000 queries of a 2 M-row book)
    out_trust = np.empty(len(users), dtype=trust.dtype)
    out_last = np.empty(len(users), dtype=last_day.dtype)
    n, n_users = len(keys), len(index) - 1
    for i in range(len(users)):
        u, m = np.int64(users[i]), np.int64(merchants[i])
        k = u * n_merchants + m
        r = -1
        if 0 <= u < n_users and (index[u, 1] >> (m & 63)) & 1:
            lo, hi = index[u, 0], index[u + 1, 0]
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < k:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < index[u + 1, 0] and keys[lo] == k:
                r = lo
        if r < 0 and n_main < n:
            lo, hi = n_main, n
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < k:
                    lo = mid + 1
                else:
                    hi = mid
            if lo < n and keys[lo] == k:
                r = lo
        if r >= 0:
            out_trust[i] = trust[r]
            out_last[i] = last_day[r]
        else:
            out_trust[i] = 0
            out_last[i] = never
    return out_trust, out_last


@_cached_njit()
def intimacy_in_rows(ptr, col, intimacy, rows, cols):
    """The intimacy of each query's edge (``rows[q]``, ``cols[q]``) in the CSR table
    ``ptr`` (each row's ``col`` ascending), 0 where the row does not hold it (the dtype of
    ``intimacy``): :func:`find_in_rows`' search within the row, then the read, in one
    serial pass (``FollowGraph.intimacy_of``; the shelves' batches of a few thousand
    queries are too small to gain from threads)."""
    n = len(rows)
    out = np.empty(n, dtype=intimacy.dtype)
    for q in range(n):
        a = ptr[rows[q]]
        end = ptr[rows[q] + 1]
        b = end
        c = cols[q]
        while a < b:
            mid = (a + b) >> 1
            if col[mid] < c:
                a = mid + 1
            else:
                b = mid
        if a < end and col[a] == c:
            out[q] = intimacy[a]
        else:
            out[q] = 0
    return out


# ---------------------------------------------------------------- FEEDS (issue #17, fifteenth pass)


@_cached_njit()
def block_candidates(cdf, seg_row, seg_k, u, n_pool, creator, col_of, indptr, follow_creator, intimacy, users):
    """A ranking block's retrieval, creator columns and follow edges in one pass (issue
    #17, fifteenth pass: a small run's ~20 numpy calls and two kernel calls a block): for
    each of the block's segment runs ``s``, ``seg_k[s]`` candidates drawn by inverse
    transform in the segment's retrieval CDF ``cdf[seg_row[s]]`` from the next uniforms of
    ``u`` (``np.searchsorted(cw, u * cw[-1], side="right")``: the entries at or below
    each, the same binary search's answer), clipped to ``n_pool - 1``, then sorted and
    made unique (``cand``); their creator columns (:func:`block_columns`) and the block's
    follow edges to those creators (:func:`block_edges`), after which ``col_of`` is reset
    (all -1 again). Returns (cand, inv, by_creator, cand_ptr, e_ptr, e_col, e_edge,
    f_ptr, f_col, f_int), as those calls give them."""
    n_items = cdf.shape[1]
    drawn = np.empty(len(u), dtype=np.int64)
    q = 0
    for s in range(len(seg_row)):
        cw = cdf[seg_row[s]]
        total = cw[n_items - 1]
        for _ in range(seg_k[s]):
            x = u[q] * total
            a = 0
            b = n_items
            while a < b:  # (the first entry above x: searchsorted's side="right")
                mid = (a + b) >> 1
                if cw[mid] <= x:
                    a = mid + 1
                else:
                    b = mid
            drawn[q] = min(a, n_pool - 1)
            q += 1
    drawn.sort()
    m = 0
    for j in range(len(drawn)):  # (sorted: the distinct values in place)
        if j == 0 or drawn[j] != drawn[m - 1]:
            drawn[m] = drawn[j]
            m += 1
    cand = drawn[:m].copy()
    ucre, inv, by_creator, cand_ptr = block_columns(cand, creator, col_of)
    e_ptr, e_col, e_edge, f_ptr, f_col, f_int = block_edges(indptr, follow_creator, intimacy, users, col_of)
    for c in range(len(ucre)):
        col_of[ucre[c]] = -1
    return cand, inv, by_creator, cand_ptr, e_ptr, e_col, e_edge, f_ptr, f_col, f_int


@_cached_njit()
def assign_kept(slot, merchant, perm, first, taken, assigned, left):
    """The ad market's hand-out of a shuffled list of candidate (slot, bid) pairs in one
    pass (platform/ad_market.py ``_AdMarket.assign``, after its two shuffles; issue #17,
    fifteenth pass: ~15 numpy calls a call): candidate ``i`` is
    (``slot[first[i]]``, ``merchant[perm[first[i]]]``), the slots distinct; each bid keeps
    its first ``max(left[b], 0)`` candidates in this order (all of them when it can pay
    for them: the stable order by bid's first ones), whose slots are marked ``taken`` and
    ``assigned`` the bid, and ``left[b]`` loses what it kept."""
    kept = np.zeros(len(left), dtype=np.int64)
    for i in range(len(first)):
        f = first[i]
        b = merchant[perm[f]]
        if kept[b] < left[b]:
            s = slot[f]
            taken[s] = True
            assigned[s] = b
            kept[b] += 1
    for b in range(len(left)):
        left[b] -= kept[b]


@_cached_njit()
def lookalike_slots(taken, users, seg_of, n_seg, seg, u, look, draws, bid_m, account, indptr, creator):
    """The look-alike bids' candidate (slot, bid) pairs in one pass (platform/ad_market.py
    ``_lookalike_candidates`` after its segment draws; issue #17, fifteenth pass: ~20
    numpy calls and a search a day): the free slots (not ``taken``) by their viewer's
    segment (``seg_of[users[slot]]``), ascending within one (the stable order); for draw
    ``q`` a free slot of segment ``seg[q]`` picked by the uniform ``u[q]``
    (``random_in_rows``: ``lo + int(u · count)``; none in an empty segment) for the bid
    ``look[draws[q]]``, kept when its viewer does not follow the bid's merchant's account
    (``account[bid_m[b]]``, searched in the viewer's row of the follow graph ``indptr`` /
    ``creator``). Returns the kept (slots, bids), in draw order."""
    ptr = np.zeros(n_seg + 1, dtype=np.int64)
    for s in range(len(taken)):
        if not taken[s]:
            ptr[seg_of[users[s]] + 1] += 1
    for g in range(n_seg):
        ptr[g + 1] += ptr[g]
    by_seg = np.empty(ptr[n_seg], dtype=np.int64)
    fill = ptr[:n_seg].copy()
    for s in range(len(taken)):
        if not taken[s]:
            g = seg_of[users[s]]
            by_seg[fill[g]] = s
            fill[g] += 1
    out_slot = np.empty(len(seg), dtype=np.int64)
    out_bid = np.empty(len(seg), dtype=np.int64)
    n = 0
    for q in range(len(seg)):
        lo = ptr[seg[q]]
        count = ptr[seg[q] + 1] - lo
        if count <= 0:
            continue
        slot = by_seg[lo + np.int64(u[q] * count)]
        b = look[draws[q]]
        viewer = users[slot]
        c = account[bid_m[b]]
        a = indptr[viewer]
        end = indptr[viewer + 1]
        hi = end
        while a < hi:
            mid = (a + hi) >> 1
            if creator[mid] < c:
                a = mid + 1
            else:
                hi = mid
        if a < end and creator[a] == c:  # a fan: not a look-alike
            continue
        out_slot[n] = slot
        out_bid[n] = b
        n += 1
    return out_slot[:n].copy(), out_bid[:n].copy()


@_cached_njit()
def ad_rows(assigned, bid_m, bid_t, account, recent_ptr, recent_items, u, users, indptr, creator, n_merchants):
    """A platform's sold ad slots as the day's rows in one pass (platform/ad_market.py
    ``sell_ad_slots`` after the hand-out; issue #17, fifteenth pass: ~20 numpy calls and a
    search a day): the sold slots ``s`` ascending (``assigned[s]``, their bid, is not -1),
    each one's merchant (``bid_m``), item (one of its account's recent items picked by the
    uniform ``u`` of its place, ``random_in_rows``: ``lo + int(u · count)``, the last
    recent item where the account has none, as ``take`` reads -1), viewer (``users``),
    follow edge to the account (searched in the viewer's row of ``indptr`` / ``creator``,
    -1 for none) and targeting (``bid_t``), and the slots sold to each merchant. Returns
    (s, bid, sold per merchant, viewer int32, item int32, edge int32, targeting int8)."""
    n = 0
    for s in range(len(assigned)):
        n += assigned[s] >= 0
    slot = np.empty(n, dtype=np.int64)
    bid = np.empty(n, dtype=np.int64)
    viewer = np.empty(n, dtype=np.int32)
    item = np.empty(n, dtype=np.int32)
    edge = np.empty(n, dtype=np.int32)
    targeting = np.empty(n, dtype=np.int8)
    sold = np.zeros(n_merchants, dtype=np.int64)
    q = 0
    for s in range(len(assigned)):
        b = assigned[s]
        if b < 0:
            continue
        m = bid_m[b]
        c = account[m]
        lo = recent_ptr[c]
        count = recent_ptr[c + 1] - lo
        pick = lo + np.int64(u[q] * count) if count > 0 else len(recent_items) - 1
        v = users[s]
        a = indptr[v]
        end = indptr[v + 1]
        hi = end
        while a < hi:
            mid = (a + hi) >> 1
            if creator[mid] < c:
                a = mid + 1
            else:
                hi = mid
        slot[q] = s
        bid[q] = b
        viewer[q] = v
        item[q] = recent_items[pick]
        edge[q] = a if a < end and creator[a] == c else -1
        targeting[q] = bid_t[b]
        sold[m] += 1
        q += 1
    return slot, bid, sold, viewer, item, edge, targeting


# ---------------------------------------------------------------- AFTER22 (issue #17, fifteenth pass)


@_cached_njit()
def selling_offer_rows(complete, like, item, live, merchant, active, user, match, intimacy):
    """The feed sales' opportunities of one platform's day (commerce/feed_sales.py
    ``_offers``, before its probabilities) in two passes over the impressions instead of
    ~15 numpy calls: the engaged (completed or liked) impressions of live sessions
    (``live[item]``: the tips), ascending, with their intimacy; and those of product links
    of active merchants (``merchant[item] >= 0`` and ``active`` there: the purchases),
    ascending, with their merchant and user (int64), match, intimacy and live flag: what
    ``numpy_kernels.engaged_selling`` and the gathers of ``numpy_kernels.selling_offer_rows`` give."""
    n = len(item)
    idx = np.empty(n, dtype=np.int64)
    m = 0
    n_tip = 0
    n_buy = 0
    for i in range(n):  # (no branch on the engaged: every place written, kept when it counts)
        it = item[i]
        mm = merchant[it]
        lv = live[it]
        tip = (complete[i] | like[i]) & lv
        buy = (complete[i] | like[i]) & (mm >= 0)
        if buy:
            buy = active[mm]
        idx[m] = i
        m += tip | buy
        n_tip += tip
        n_buy += buy
    tip_k = np.empty(n_tip, dtype=np.int64)
    tip_intimacy = np.empty(n_tip, dtype=intimacy.dtype)
    buy_k = np.empty(n_buy, dtype=np.int64)
    buy_merchant = np.empty(n_buy, dtype=np.int64)
    buy_user = np.empty(n_buy, dtype=np.int64)
    buy_match = np.empty(n_buy, dtype=match.dtype)
    buy_intimacy = np.empty(n_buy, dtype=intimacy.dtype)
    buy_live = np.empty(n_buy, dtype=np.bool_)
    a = 0
    b = 0
    for t in range(m):
        i = idx[t]
        it = item[i]
        lv = live[it]
        if lv:
            tip_k[a] = i
            tip_intimacy[a] = intimacy[i]
            a += 1
        mm = merchant[it]
        if mm >= 0:
            if active[mm]:
                buy_k[b] = i
                buy_merchant[b] = mm
                buy_user[b] = user[i]
                buy_match[b] = match[i]
                buy_intimacy[b] = intimacy[i]
                buy_live[b] = lv
                b += 1
    return tip_k, tip_intimacy, buy_k, buy_merchant, buy_user, buy_match, buy_intimacy, buy_live


@_cached_njit()
def tally_exposure_trace(item, domain, source, complete, like, comment, share, follow, creator_of, n_items,
                         n_creators, n_domains, n_sources):
    """:func:`tally_impressions` with what the day's records and views count besides, in
    the same one pass over the impressions (content/exposure.py, ``exposure_counts`` on
    small compiled days): per item the impressions by domain and by slot source and the
    engagements by action; the same per creator (the items' rows summed by ``creator_of``
    in one pass over the items, as ``exposure._sum_rows_by``); the day's impressions by
    (source, domain) (``source * n_domains + domain``, as :func:`count_pairs`) and its
    comments by domain. Integer counts, exact in any order (int64): (n_items × D, n_items ×
    S, n_items × 5, n_creators × D, n_creators × S, n_creators × 5, S · D, D)."""
    by_domain = np.zeros((n_items, n_domains), dtype=np.int64)
    by_source = np.zeros((n_items, n_sources), dtype=np.int64)
    by_action = np.zeros((n_items, 5), dtype=np.int64)
    c_domain = np.zeros((n_creators, n_domains), dtype=np.int64)
    c_source = np.zeros((n_creators, n_sources), dtype=np.int64)
    c_action = np.zeros((n_creators, 5), dtype=np.int64)
    source_domain = np.zeros(n_sources * n_domains, dtype=np.int64)
    comments = np.zeros(n_domains, dtype=np.int64)
    for i in range(len(item)):
        it = item[i]
        d = domain[i]
        s = source[i]
        by_domain[it, d] += 1
        by_source[it, s] += 1
        source_domain[np.int64(s) * n_domains + np.int64(d)] += 1
        comments[d] += comment[i]
        by_action[it, 0] += complete[i]
        by_action[it, 1] += like[i]
        by_action[it, 2] += comment[i]
        by_action[it, 3] += share[i]
        by_action[it, 4] += follow[i]
    for it in range(n_items):  # (the items' rows summed by creator: integers, exact in any order)
        c = creator_of[it]
        for j in range(n_domains):
            c_domain[c, j] += by_domain[it, j]
        for j in range(n_sources):
            c_source[c, j] += by_source[it, j]
        for j in range(5):
            c_action[c, j] += by_action[it, j]
    return by_domain, by_source, by_action, c_domain, c_source, c_action, source_domain, comments


# ---- RANK16 (issue #17, sixteenth pass)

# _select_by_rank_above counts its selected entries over a length rounded up to this (the
# vector width of float32 compares the compiler chooses here: 8 lanes of 256 bits)
RANK_PAD = 8


@njit(inline="always")
def _count_above_padded(v, n, rank):
    """:func:`_count_above` of ``v[:n]``, counted over ``v`` up to the next multiple of
    ``RANK_PAD`` (``v`` and ``rank`` have room; the entries past ``n`` set to -inf):
    ``rank[:n]`` compare ``v[:n]`` only, so they are the same counts, and the rest is
    ignored. The compiler's vector loop then runs whole vectors for every length, where
    over ``n`` (most often 10-30 entries, shorter than its unrolled loop) it left the
    entries past the last vector to a scalar loop (issue #17, sixteenth pass)."""
    npad = (n + RANK_PAD - 1) // RANK_PAD * RANK_PAD
    for j in range(n, npad):
        v[j] = -np.inf
    for j in range(npad):
        rank[j] = 0
    for i in range(n):
        x = v[i]
        for j in range(npad):
            rank[j] += x > v[j]


# ---- COMM16 (issue #17, sixteenth pass)


@_cached_njit()
def tally_orders(platform, merchant, seller, domain, source, tier, new_buyer, price, commission, creator_cut, cog, ads,
                 gmv, orders, new_buyers, new_buyers_ad, commission_paid, creator_paid, cost_of_goods, creator_gmv,
                 creator_sales_income, creator_purchases_by_tier, t_gmv, t_commission, t_orders, t_new_buyers,
                 t_new_by_merchant, t_new_buyers_ad, t_new_ad_by_merchant, t_orders_by_tier, t_gmv_by_tier,
                 gmv_by_source):
    """A batch of orders added to the ledger's tallies (commerce/ledger.py
    ``Ledger._tally``, whose numpy form ``numpy_kernels.tally_orders`` is the definition):
    one pass over the orders, then one over each tally, instead of 20 ``np.bincount``
    calls, the ~25 index and mask computations before them and the 20 in-place adds
    after (a day's batches hold from one to a few hundred orders, so those ~65 numpy
    calls were the cost: ~85 us a batch at the default population). Each of the batch's
    sums adds its orders' values into its bin in order, starting from 0.0, as
    ``np.bincount(index, weights, minlength)`` does, and is then added to its tally, as
    ``tally += sums`` does: the same floats; counts are integers (added to float tallies
    as float64, as numpy's cast does). The tallies' shapes give P, M, C, D, S, T."""
    M, D = gmv.shape
    C, T = creator_purchases_by_tier.shape
    P, S = gmv_by_source.shape
    # the batch's sums and counts, by tally
    s_gmv = np.zeros(M * D)
    s_comm = np.zeros(M)
    s_cut = np.zeros(M)
    s_cog = np.zeros(M)
    s_cgmv = np.zeros(C * D)
    s_cinc = np.zeros(C)
    s_tgmv = np.zeros(P * D)
    s_tcomm = np.zeros(P)
    s_ttier = np.zeros(P * T)
    s_src = np.zeros(P * S)
    n_orders = np.zeros(M, dtype=np.int64)
    n_new = np.zeros(M, dtype=np.int64)
    n_ad = np.zeros(M, dtype=np.int64)
    n_ctier = np.zeros(C * T, dtype=np.int64)
    n_torders = np.zeros(P, dtype=np.int64)
    n_tnew = np.zeros(P, dtype=np.int64)
    n_tnewm = np.zeros(P * M, dtype=np.int64)
    n_tad = np.zeros(P, dtype=np.int64)
    n_tadm = np.zeros(P * M, dtype=np.int64)
    n_ttier = np.zeros(P * T, dtype=np.int64)
    for i in range(len(merchant)):
        p, m, c, d = platform[i], merchant[i], seller[i], domain[i]
        t = tier[i]
        w = price[i]
        s_gmv[m * D + d] += w
        s_comm[m] += commission[i]
        s_cut[m] += creator_cut[i]
        s_cog[m] += cog[i]
        s_cgmv[c * D + d] += w
        s_cinc[c] += creator_cut[i]
        s_tgmv[p * D + d] += w
        s_tcomm[p] += commission[i]
        s_ttier[p * T + t] += w
        s_src[p * S + source[i]] += w
        n_orders[m] += 1
        n_ctier[c * T + t] += 1
        n_torders[p] += 1
        n_ttier[p * T + t] += 1
        if new_buyer[i]:
            n_new[m] += 1
            n_tnew[p] += 1
            n_tnewm[p * M + m] += 1
            if source[i] == ads:
                n_ad[m] += 1
                n_tad[p] += 1
                n_tadm[p * M + m] += 1
    for m in range(M):
        for d in range(D):
            gmv[m, d] += s_gmv[m * D + d]
        orders[m] += n_orders[m]
        new_buyers[m] += n_new[m]
        new_buyers_ad[m] += n_ad[m]
        commission_paid[m] += s_comm[m]
        creator_paid[m] += s_cut[m]
        cost_of_goods[m] += s_cog[m]
    for c in range(C):
        for d in range(D):
            creator_gmv[c, d] += s_cgmv[c * D + d]
        creator_sales_income[c] += s_cinc[c]
        for t in range(T):
            creator_purchases_by_tier[c, t] += n_ctier[c * T + t]
    for p in range(P):
        for d in range(D):
            t_gmv[p, d] += s_tgmv[p * D + d]
        t_commission[p] += s_tcomm[p]
        t_orders[p] += np.float64(n_torders[p])
        t_new_buyers[p] += np.float64(n_tnew[p])
        t_new_buyers_ad[p] += np.float64(n_tad[p])
        for m in range(M):
            t_new_by_merchant[p, m] += np.float64(n_tnewm[p * M + m])
            t_new_ad_by_merchant[p, m] += np.float64(n_tadm[p * M + m])
        for t in range(T):
            t_orders_by_tier[p, t] += np.float64(n_ttier[p * T + t])
            t_gmv_by_tier[p, t] += s_ttier[p * T + t]
        for s in range(S):
            gmv_by_source[p, s] += s_src[p * S + s]


@_cached_njit()
def merge_into_tail(keys, trust, last_day, orders, n_main, n, q, never, key, row):
    """The customer book's new pairs into today's tail, in place (commerce/purchase.py
    ``CustomerBook.ensure`` on large books, issue #17, sixteenth pass: ~30 numpy calls a
    batch of a few to a few hundred orders): the new keys ``q`` (ascending, distinct, in
    no row) merged into the sorted tail ``keys[n_main:n]`` of the columns' buffers (room
    for ``len(q)`` more), from the back: the tail's rows after a new key move up, the new
    rows get trust 0, last order ``never`` and no orders (``np.insert`` at
    ``np.searchsorted(tail, q)``'s places gives the same columns); then each query ``i``
    that is new or was in the tail (``row[i] < 0`` or ``>= n_main``) gets its key's row
    in the merged tail (``key[i]``: a binary search, in place in ``row``)."""
    k = len(q)
    i = n - 1
    w = n + k - 1
    for j in range(k - 1, -1, -1):
        x = q[j]
        while i >= n_main and keys[i] > x:
            keys[w] = keys[i]
            trust[w] = trust[i]
            last_day[w] = last_day[i]
            orders[w] = orders[i]
            i -= 1
            w -= 1
        keys[w] = x
        trust[w] = 0.0
        last_day[w] = never
        orders[w] = 0
        w -= 1
    end = n + k
    for r in range(len(row)):
        if row[r] < 0 or row[r] >= n_main:
            x = key[r]
            a = n_main
            b = end
            while a < b:
                mid = (a + b) >> 1
                if keys[mid] < x:
                    a = mid + 1
                else:
                    b = mid
            row[r] = a


# ---------------------------------------------------------------- REACT16 (issue #17, sixteenth pass)

_EXP_NEAR = 300.0  # |x| up to which react_in_chunks takes exp(x) by _exp_near (2**k: k within ±433)
_EXP_POW2 = 2.0 ** np.arange(-440, 441)  # 2**k, k = -440 … 440 (exact)
_LN2_HI = 0.6931471803691238  # ln 2 in two parts (Cody and Waite): k · _LN2_HI is exact for |k| < 2**21
_LN2_LO = 1.9082149292705877e-10
_REACT_BAND = 2.0 ** -28  # react_in_chunks' comparisons this close to 1 are drawn again on the exact exp


@njit(inline="always")
def _exp_near(x):
    """exp(x) for |x| <= ``_EXP_NEAR``, within a relative 2**-45 of the correctly rounded
    value (measured: 2**-51; tests/feeds/test_kernels.py): x = k·ln 2 + r with k the
    nearest integer to x / ln 2 and |r| <= ln 2 / 2 + 2**-40 (ln 2 in two parts), exp(r)
    by its Taylor polynomial of degree 12 (Horner; the remainder, |r|**13 / 13!, under 2**-52 of it),
    times 2**k from a table. Plain float64 operations that the compiler vectorizes, where
    numba's ``exp`` is one library call a value. Used by :func:`react_in_chunks` only
    where being off by that much cannot change an outcome."""
    k = np.rint(x * 1.4426950408889634)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p * _EXP_POW2[np.int64(k) + 440]


@_cached_njit()
def _react_chunk_exact(edge, has, item, item_quality, match, coef, scale, useed, intim, out, a0, a1, e):
    """The actions of impressions ``a0:a1`` as :func:`draw_actions` draws them (numba's
    ``exp``, the same float64 operations), into ``out``; ``intim`` holds their
    intimacy already, ``e`` is scratch of ``a1 - a0`` floats. :func:`react_in_chunks`'
    definition, run on a chunk whose fast draws came too close to call."""
    for j in range(a1 - a0):
        i = a0 + j
        e[j] = np.exp(-(coef[0] + coef[1] * match[i] + coef[2] * item_quality[item[i]] + coef[3] * intim[i]))
    for a in range(4):
        sa = scale[a]
        row = out[a, a0:a1]
        for j in range(a1 - a0):
            row[j] = _uniform(useed, a0 + j, a) * (1.0 + e[j] * sa) < 1.0
    s4 = scale[4]
    for j in range(a1 - a0):
        i = a0 + j
        may = (not ((edge[i] >= 0) & has)) & (out[0, i] | out[1, i])
        out[4, i] = may & (_uniform(useed, i, 4) * (1.0 + e[j] * s4) < 1.0)


@_cached_njit()
def _one_platform_gain_sums(key, shift, table, distinct):
    """:func:`day_gain_sums` when one platform has every fan impression (``key`` ascending,
    ``distinct`` edges): each edge's gains summed in float64 from 0 in the keys' order,
    its total ``0.0 + s`` as there, without a branch per key (a key starts a new edge
    about every other key, unpredictably: 0.34 → 0.11 ms for a day of 30,000 fan
    impressions): the running sum restarts from 0.0 where the edge changes and is
    written at the edge's place each time (the last write is its total), then the edges
    whose total is zero are dropped (NaN kept, as there). The edges over ``key``'s first
    entries (each written after its key is read), the totals in an array of ``distinct``."""
    n = len(key)
    edges = key
    sums = np.empty(distinct, dtype=np.float64)
    m = -1
    prev = np.int64(-1)  # (edges are >= 0)
    s = 0.0
    for t in range(n):
        k = key[t]
        e = k >> shift
        new = e != prev
        m += new
        s = (0.0 if new else s) + np.float64(table[k & 15])
        edges[m] = e
        sums[m] = 0.0 + s
        prev = e
    kept = 0
    for i in range(distinct):
        edges[kept] = edges[i]
        sums[kept] = sums[i]
        kept += sums[i] != 0
    return edges[:kept], sums[:kept]


# ---- OBS16 (issue #17, sixteenth pass)


@_cached_njit()
def _lerp_quantile(values, p):
    """The quantile ``p`` of the ascending float64 ``values`` (at least one, no NaN) as
    ``measurements._sorted_quantiles`` computes it on Python floats: numpy's "linear"
    method and its ``_lerp`` (from below for weights under 0.5, from above otherwise),
    the same float64 operations in the same order."""
    n = len(values)
    at = (n - 1) * p
    lo = np.int64(np.floor(at))
    lo = min(max(lo, 0), n - 1)
    a = values[lo]
    b = values[min(lo + 1, n - 1)] if at >= 0 else values[0]
    t = at - lo
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


@_cached_njit()
def flywheel_strata(quality, intimacy, inner, bins):
    """``measurements.flywheel_groups``' strata and quartiles in one pass for its ~300
    eligible creators (a dozen numpy calls and a loop over the strata took ~0.15 ms a step,
    a tenth of the metrics): the quality strata's edges (the quantiles ``inner`` of the
    float32 ``quality``, as float64), each creator's stratum (``searchsorted`` right), and
    in each stratum of at least 4 creators the top (mean intimacy ``>=`` its 0.75
    quantile) and the bottom (``<=`` its 0.25 quantile), each in the creators' order.
    Returns the positions into the creators of every group, top then bottom stratum after
    stratum, and the groups' lengths; a NaN quality (numpy's quantiles are NaN there)
    returns lengths ``[-1]`` for the caller's numpy form."""
    n = len(quality)
    q = np.empty(n, dtype=np.float64)
    for i in range(n):
        q[i] = np.float64(quality[i])
        if np.isnan(q[i]):
            return np.empty(0, dtype=np.int64), np.full(1, -1, dtype=np.int64)
    edges = np.empty(len(inner), dtype=np.float64)
    if bins > 1 and n > 0:
        xs = np.sort(q)
        for j in range(len(inner)):
            edges[j] = _lerp_quantile(xs, inner[j])
    stratum = np.searchsorted(edges, q, side="right")
    sizes = np.zeros(bins, dtype=np.int64)
    for i in range(n):
        sizes[stratum[i]] += 1
    positions = np.empty(2 * n, dtype=np.int64)
    lens = np.empty(2 * bins, dtype=np.int64)
    groups = 0
    filled = 0
    for k in range(bins):
        if sizes[k] < 4:
            continue
        members = np.empty(sizes[k], dtype=np.int64)
        values = np.empty(sizes[k], dtype=np.float64)
        got = 0
        for i in range(n):
            if stratum[i] == k:
                members[got] = i
                values[got] = intimacy[i]
                got += 1
        ordered = np.sort(values)
        lo = _lerp_quantile(ordered, 0.25)
        hi = _lerp_quantile(ordered, 0.75)
        start = filled
        for j in range(got):
            if values[j] >= hi:
                positions[filled] = members[j]
                filled += 1
        lens[2 * groups] = filled - start
        start = filled
        for j in range(got):
            if values[j] <= lo:
                positions[filled] = members[j]
                filled += 1
        lens[2 * groups + 1] = filled - start
        groups += 1
    return positions[:filled].copy(), lens[:2 * groups].copy()


# ---- PRIV24 (issue #17, seventeenth pass)


@_cached_njit(parallel=True)
def group_push_day(members, edge_creator, edge_user, intimacy, annoy, home, group_effect, n_promo, seller,
                   keep, grow, wear, promo, tolerance, unfollow_factor, unfollow):
    """A fan-group day's passes over the members (``members``: their follow edges,
    ascending; commerce/groups.py) in one parallel pass, each member on its own: the
    member's account, user, home platform (int64) and its ``group_effect``; the pushes'
    effects (``pushes.apply_push_effects``, with its per-account factors computed once an
    account in numpy: ``keep`` the annoyance kept (float32), ``promo`` the annoyance its
    promotions add (float64), ``grow`` = exp(−value gain) (float32), ``wear`` the
    promotions' intimacy factor (float64)): the annoyance (``annoy``, one a member, in
    place) decays in float32 and adds ``promo`` in float64, rounded to float32; the
    intimacy (``intimacy``, one an edge, in place) is ``1 − (1 − x)·grow`` in float32
    times ``wear`` in float64, rounded to float32: numpy's operations in its order; then
    who leaves (annoyance above the user's ``tolerance``) and who unfollows (above
    ``unfollow_factor`` (float32) × tolerance in float32: ``unfollow`` set on the edge).
    Issue #17: ~15 numpy passes and gathers over ~1.5 M members a day at 1 M users late
    in a year. Returns (account, user, home, effect, intimacy, promo added, promotions,
    merchant, leaves) per member."""
    n = len(members)
    creator = np.empty(n, dtype=np.int64)
    user = np.empty(n, dtype=np.int64)
    member_home = np.empty(n, dtype=np.int64)
    effect = np.empty(n, dtype=np.float64)
    member_intimacy = np.empty(n, dtype=np.float32)
    received = np.empty(n, dtype=np.float64)
    promotions = np.empty(n, dtype=np.int64)
    merchant = np.empty(n, dtype=np.int64)
    leaves = np.empty(n, dtype=np.bool_)
    one = np.float32(1.0)
    for m in prange(n):
        e = members[m]
        c = np.int64(edge_creator[e])
        u = np.int64(edge_user[e])
        h = np.int64(home[c])
        creator[m] = c
        user[m] = u
        member_home[m] = h
        effect[m] = group_effect[h]
        a = np.float32(np.float64(annoy[m] * keep) + promo[c])
        annoy[m] = a
        x = np.float32(np.float64(one - (one - intimacy[e]) * grow[c]) * wear[c])
        intimacy[e] = x
        member_intimacy[m] = x
        received[m] = promo[c]
        promotions[m] = n_promo[c]
        merchant[m] = seller[c]
        t = tolerance[u]
        leaves[m] = a > t
        if a > unfollow_factor * t:
            unfollow[e] = True
    return creator, user, member_home, effect, member_intimacy, received, promotions, merchant, leaves


# ---- REST24 (issue #17, seventeenth pass)

GROW_CHUNK = 1 << 15  # edges of a chunk of grow_and_decay (its intimacy, 128 KiB, grown then decayed in cache)


@njit(inline="always")
def _decay_and_clip(x, factor):
    """``x *= factor; np.clip(x, 0.0, 1.0, out=x)`` (float32 ``x`` and ``factor``) in one
    pass, inlined in :func:`grow_and_decay` (on a chunk's slice: its loop vectorizes).
    numpy's clip replaces only what lies strictly beyond a bound (a NaN and -0.0 stay as
    they are): the same here."""
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for i in range(len(x)):
        y = x[i] * factor
        y = zero if y < zero else y
        y = one if y > one else y
        x[i] = y


@_cached_njit(parallel=True)
def grow_and_decay(x, touched, grow, factor):
    """``audience.relationships.grow_intimacy`` after its exponentials, in one parallel
    pass over the edges (numpy form ``numpy_kernels.grow_and_decay``, the same name):
    each edge ``touched[j]`` (distinct, ascending) grows to ``1 - (1 - x) · grow[j]``
    (float32, ``grow`` its float32 ``exp(-gain)``), then every edge decays, ``x ·
    factor`` clipped to [0, 1] as :func:`_decay_and_clip` (float32 ``x`` and ``factor``):
    the same float32 operations on each edge as numpy's gather, scatter, product and
    clip. ``GROW_CHUNK`` edges at a time, each chunk's touched edges found by a search of
    ``touched``: a chunk grows and decays its own edges only (the same bits whatever the
    number of threads). Instead of numpy's gather and scatter of the touched edges and
    a second pass over every edge (issue #17: at 46 M edges and 5 M touched a day,
    ~86 → ~39 ms of CPU on one thread; the decay runs on a chunk's slice, whose loop
    the compiler vectorizes, not on the whole array indexed from the chunk's start:
    ~2× slower)."""
    n = len(x)
    k = len(touched)
    one = np.float32(1.0)
    for c in prange((n + GROW_CHUNK - 1) // GROW_CHUNK):
        a0 = c * GROW_CHUNK
        a1 = min(n, a0 + GROW_CHUNK)
        j = np.searchsorted(touched, a0)
        while j < k and touched[j] < a1:
            t = touched[j]
            x[t] = one - (one - x[t]) * grow[j]
            j += 1
        _decay_and_clip(x[a0:a1], factor)


ATTENTION_ROWS = 1 << 12  # users of a chunk of the attention kernels below


@_cached_njit(parallel=True)
def attention_exponents_rows(satisfaction, uses, sensitivity):
    """Step 1 of the attention update (audience/attention.py), before numpy's ``exp``, in
    parallel chunks of ``ATTENTION_ROWS`` users: for each (user, platform), ``s − top``
    where the user uses the platform (``s = sensitivity · satisfaction``, float64; ``top``
    the row's maximum over its used platforms, 0 when not finite), 0.0 elsewhere (ignored
    by :func:`attention_shares_rows`). A (users × platforms) array rather than the used
    entries packed in row-major order (the kernels of the fifteenth pass), so that each
    row's place is known without a count of the rows before it (rows independent: the
    same values whatever the number of threads), and no branch per entry on ``uses``
    (issue #17: 1 M users × 4 platforms, ~104 → ~86 ms of CPU on one thread for the
    step, numpy's exp included; numpy form: the masked arrays of ``Attention.update``)."""
    n, P = uses.shape
    out = np.empty((n, P), dtype=np.float64)
    for c in prange((n + ATTENTION_ROWS - 1) // ATTENTION_ROWS):
        for i in range(c * ATTENTION_ROWS, min(n, (c + 1) * ATTENTION_ROWS)):
            top = -np.inf
            for p in range(P):
                s = sensitivity * np.float64(satisfaction[i, p])
                top = s if uses[i, p] and s > top else top  # (a NaN, which np.maximum passes on, makes every target 0 either way)
            if not np.isfinite(top):
                top = 0.0
            for p in range(P):
                x = sensitivity * np.float64(satisfaction[i, p]) - top
                out[i, p] = x if uses[i, p] else 0.0
    return out


@_cached_njit(parallel=True)
def attention_shares_rows(exps, uses, w, share, memory):
    """Step 1 of the attention update after numpy's ``exp`` (``exps``: of
    :func:`attention_exponents_rows`' values, read where the user uses the platform
    only), in parallel chunks of ``ATTENTION_ROWS`` users: each row's weights
    ``w_p · exp`` on its used platforms (0 elsewhere), their sum added platform by
    platform, the target ``e / sum`` (0 where the sum is not positive) and ``share +=
    (target − share) / memory``, in place: the same float64 operations on each row (rows
    independent: the same values whatever the number of threads)."""
    n, P = uses.shape
    for c in prange((n + ATTENTION_ROWS - 1) // ATTENTION_ROWS):
        e = np.empty(P, dtype=np.float64)
        for i in range(c * ATTENTION_ROWS, min(n, (c + 1) * ATTENTION_ROWS)):
            for p in range(P):
                e[p] = w[p] * exps[i, p] if uses[i, p] else 0.0
            total = e[0]
            for p in range(1, P):
                total += e[p]
            for p in range(P):
                target = e[p] / total if total > 0 else 0.0
                share[i, p] += (target - share[i, p]) / memory


# ---- RANK24 (issue #17, seventeenth pass)

# block_edges compacts a row with a branch on each edge once fewer than 1 in BRANCH_BELOW
# of the block's edges so far were kept, else without one
BRANCH_BELOW = 8
