"""The compiled Gumbel-top-k kernel against its plain-numpy definition."""

import numba
import numpy as np
from numba import njit

from simulator.feeds.kernels import _splitmix64, _uniform, gumbel_table, gumbel_top_k


# the kernels' noise, exposed for the twins (test-only helpers)
@njit(cache=True)
def gumbel_noise(rows, cols, seed, table):
    """The noise ``gumbel_top_k`` adds to each entry, as a matrix (a test twin)."""
    out = np.empty((rows, cols), dtype=np.float32)
    useed = np.uint64(seed)
    mask = np.uint64(len(table) - 1)
    for i in range(rows):
        h = _splitmix64(useed ^ (np.uint64(i) * np.uint64(0x100000001B3)))
        offset = np.int64(h & mask)
        for j in range(cols):
            out[i, j] = table[(offset + j) & np.int64(mask)]
    return out


@njit(cache=True)
def uniforms(seed, n, a):
    """The uniforms ``draw_actions`` uses for action ``a`` (a test twin)."""
    out = np.empty(n)
    useed = np.uint64(seed)
    for i in range(n):
        out[i] = _uniform(useed, i, a)
    return out


def numpy_twin(key, k, temperature, seed, table):
    noisy = key.astype(np.float32) + np.float32(temperature) * gumbel_noise(key.shape[0], key.shape[1], seed, table)
    order = np.argsort(-noisy, axis=1, kind="stable")[:, :k]
    finite = np.isfinite(np.take_along_axis(noisy, order, axis=1))
    return np.where(finite, order, -1)


def test_matches_numpy_definition_and_skips_minus_inf():
    rng = np.random.default_rng(0)
    table = gumbel_table(rng)
    key = rng.normal(size=(300, 50)).astype(np.float32)
    key[rng.random(key.shape) < 0.2] = -np.inf
    key[0, :3] = 1.0
    key[0, 3:] = -np.inf  # a row with only three choices
    got = gumbel_top_k(key, 8, 0.7, 123, table)
    assert np.array_equal(got, numpy_twin(key, 8, 0.7, 123, table))
    assert (got[0, 3:] == -1).all() and set(got[0, :3]) == {0, 1, 2}


def test_same_result_whatever_the_thread_count():
    rng = np.random.default_rng(1)
    table = gumbel_table(rng)
    key = rng.normal(size=(2000, 64)).astype(np.float32)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = gumbel_top_k(key, 10, 0.5, 9, table)
        numba.set_num_threads(max(1, numba.config.NUMBA_NUM_THREADS))
        many = gumbel_top_k(key, 10, 0.5, 9, table)
    finally:
        numba.set_num_threads(before)
    assert np.array_equal(one, many)


def test_temperature_controls_exploration():
    """Low temperature picks the best; high temperature approaches uniform sampling."""
    rng = np.random.default_rng(2)
    table = gumbel_table(rng)
    key = np.tile(np.linspace(0, 3, 20, dtype=np.float32), (5000, 1))
    cold = gumbel_top_k(key, 1, 0.01, 1, table)[:, 0]
    hot = gumbel_top_k(key, 1, 100.0, 1, table)[:, 0]
    assert (cold == 19).mean() > 0.99
    assert 0.02 < (hot == 19).mean() < 0.09  # ≈ 1/20


def test_draw_actions_follow_the_logistic_model():
    from simulator.feeds.kernels import draw_actions
    from simulator.state.arrays import sigmoid

    rng = np.random.default_rng(3)
    n = 200_000
    match = rng.random(n).astype(np.float32)
    quality = rng.random(n).astype(np.float32)
    fan = rng.random(n) < 0.3
    intim = np.where(fan, rng.random(n), 0).astype(np.float32)
    coef = np.array([-4.0, 3.0, 2.0, 2.0])
    offsets = np.array([0.5, -1.5, -3.0, -3.5, -3.5])
    acts = draw_actions(match, quality, intim, fan, coef, offsets, 42)
    z = coef[0] + coef[1] * match + coef[2] * quality + coef[3] * intim
    for a in range(4):  # exactly the twin's decisions with the same uniforms
        assert np.array_equal(acts[a], uniforms(42, n, a) < sigmoid(z + offsets[a]))
        assert abs(acts[a].mean() - sigmoid(z + offsets[a]).mean()) < 0.005
    follow = ~fan & (acts[0] | acts[1]) & (uniforms(42, n, 4) < sigmoid(z + offsets[4]))
    assert np.array_equal(acts[4], follow) and not acts[4][fan].any()
