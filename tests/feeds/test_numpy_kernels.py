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
