"""The large-population hot path (issue #17): compiled or sparse versions of steps the
recommender used to do with dense numpy passes, each against its plain-numpy twin (the
old code), which it must match exactly (results stay bit-identical for a seed)."""

import numpy as np

from simulator.feeds.kernels import within_cap
from simulator.feeds.recommend import _fan_entries
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
    (visiting the picks row by row first, or not counting refused picks, fails here)."""
    rng = np.random.default_rng(0)
    for rows, k, cols in [(500, 12, 30), (2000, 20, 64), (7, 3, 5)]:
        top = np.stack([rng.permutation(cols)[:k] for _ in range(rows)]).astype(np.int64)
        top[rng.random(top.shape) < 0.1] = -1  # padding (fewer finite scores than k)
        left = rng.uniform(-3, rows * k / cols / 2, cols)  # some columns already over their cap
        got = within_cap(top, np.floor(np.maximum(left, 0)))
        assert np.array_equal(got, within_cap_twin(top, left))
        assert 0 < got.sum() < (top >= 0).sum()  # the cap binds somewhere, not everywhere


def test_sparse_fan_entries_match_the_dense_matrix():
    """Guards recommend._fan_entries: the nonzero intimacies of the block's users ×
    candidates matrix, ascending by flat index as flatnonzero gives them, built from
    the fan edges without the dense matrix (a zero intimacy is no entry; unsorted
    entries, or candidates mapped to the wrong creator, fail here)."""
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
    got_idx, got_val = _fan_entries(row[shuffle], col[shuffle], intimacy[shuffle], inv, m)
    assert np.array_equal(got_idx, want) and np.array_equal(got_val, flat[want])
