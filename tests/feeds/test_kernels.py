"""The compiled kernels (Gumbel-top-k, the fused ranking pass, the reactions) against their plain-numpy definitions."""

import numba
import numpy as np
from numba import njit

from simulator.feeds.kernels import (
    RANK_COLS,
    RANK_FROM,
    _select_by_rank,
    _splitmix64,
    _uniform,
    block_edges,
    block_picks,
    cold_start_hits,
    count_cold_start_offers,
    edges_to_marked,
    gumbel_top_k,
    pool_tally,
    random_subset_by_group,
    score_top_k,
    tally_impressions,
    tally_orders,
)
from simulator.feeds.numpy_kernels import gumbel_table


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


def test_fused_score_top_k_matches_score_then_cap_then_gumbel_top_k():
    """Guards kernels.score_top_k (issue #17): the ranking score, the fans' boost, the
    capped columns and Gumbel-top-k in one pass give exactly the picks of the numpy form
    (AlgorithmicPolicy.score on the dense block, -inf on capped columns, gumbel_top_k),
    fans of a creator with several candidates included."""
    from simulator.config import PlatformConfig
    from simulator.feeds.policies import AlgorithmicPolicy, Block

    rng = np.random.default_rng(5)
    table = gumbel_table(rng)
    rows, m, n_cre = 200, 40, 15
    policy = AlgorithmicPolicy(PlatformConfig(beta=3.0, temperature=0.3), expected_dau=1000.0)
    inv = rng.integers(0, n_cre, m)  # each candidate's creator column: several per creator
    match = rng.random((rows, m)).astype(np.float32)
    # fan pairs (row, creator column), unique, sorted by row as the recommender passes them
    pairs = np.unique(rng.integers(0, rows, 600) * n_cre + rng.integers(0, n_cre, 600))
    f_row, f_col = pairs // n_cre, pairs % n_cre
    intimacy = rng.random(len(pairs)).astype(np.float32)
    dense = np.zeros((rows, m), np.float32)
    for r, c, v in zip(f_row, f_col, intimacy):
        dense[r, inv == c] = v
    block = Block(match=match, intimacy=dense, quality=rng.random(m).astype(np.float32),
                  perf=rng.random(m).astype(np.float32), age=np.zeros(m), popularity=np.zeros(m, np.float32),
                  engagements=np.zeros(m, np.float32))
    capped = rng.random(m) < 0.2
    key = policy.score(block)
    key[:, capped] = -np.inf
    want = gumbel_top_k(key, 12, 0.3, 77, table)
    by_creator = np.argsort(inv, kind="stable")
    got = score_top_k(match, policy.w_match, policy.item_score(block), capped,
                      np.searchsorted(f_row, np.arange(rows + 1)), f_col, policy.fan_score(intimacy),
                      np.searchsorted(inv[by_creator], np.arange(n_cre + 1)), by_creator, 12, np.full(rows, 12),
                      0.3, 77, table)
    assert np.array_equal(got, want)
    # rows that need fewer places get the prefix of their list, -1 after it
    k_row = rng.integers(0, 15, rows)
    short = score_top_k(match, policy.w_match, policy.item_score(block), capped,
                        np.searchsorted(f_row, np.arange(rows + 1)), f_col, policy.fan_score(intimacy),
                        np.searchsorted(inv[by_creator], np.arange(n_cre + 1)), by_creator, 12, k_row, 0.3, 77, table)
    prefix = np.arange(12)[None, :] < np.minimum(k_row, 12)[:, None]
    assert np.array_equal(short, np.where(prefix, want, -1))
    assert not np.isin(got, np.flatnonzero(capped)).any()
    # a row's noise wraps round the table's end (most rows, with a table of 64 entries)
    small = table[:64].copy()
    key_s = policy.score(block)
    key_s[:, capped] = -np.inf
    wrapped = score_top_k(match, policy.w_match, policy.item_score(block), capped,
                          np.searchsorted(f_row, np.arange(rows + 1)), f_col, policy.fan_score(intimacy),
                          np.searchsorted(inv[by_creator], np.arange(n_cre + 1)), by_creator, 12, np.full(rows, 12),
                          0.3, 77, small)
    assert np.array_equal(wrapped, numpy_twin(key_s, 12, 0.3, 77, small))



def test_score_top_k_selects_ties_and_capped_columns_as_a_stable_sort():
    """Guards kernels._select_by_rank (issue #17: score_top_k's long lists placed by
    counting the keys above each): with many exact ties (temperature 0, match and item
    scores on a coarse grid), capped columns, rows that want every place, one place or
    none, lists of one column and of more than RANK_COLS (the insertion selection), the
    lists are numpy's stable sort's (ties to the lower column, -inf never chosen)."""
    rng = np.random.default_rng(11)
    table = gumbel_table(rng)
    w = np.float32(3.0)
    for rows, m, k in [(300, 40, 12), (50, 7, 7), (1, 1, 1), (40, RANK_COLS + 2, 20), (20, 5, 5), (30, 64, 64)]:
        assert m > RANK_COLS or k >= RANK_FROM or m == 1
        match = (rng.integers(0, 4, (rows, m)) / 4).astype(np.float32)
        item = (rng.integers(0, 3, m) / 2).astype(np.float32)
        capped = rng.random(m) < 0.3
        key = w * match + item
        key[:, capped] = -np.inf
        for temp in (0.0, 0.3):
            want = numpy_twin(key, k, temp, 9, table)
            k_row = rng.integers(0, k + 3, rows)
            k_row[0] = k
            got = score_top_k(match, w, item, capped, np.zeros(rows + 1, np.int64), np.zeros(0, np.int64),
                              np.zeros(0, np.float32), np.zeros(1, np.int64), np.zeros(0, np.int64), k, k_row, temp,
                              9, table)
            prefix = np.arange(k)[None, :] < np.minimum(k_row, k)[:, None]
            assert np.array_equal(got, np.where(prefix, want, -1))


def test_select_by_rank_places_a_tie_only_at_the_last_place():
    """Guards kernels._select_by_rank's tie rule: equal keys at the last place go to the
    lower index; a tie above it is refused (False: the caller selects by insertion)."""
    def run(v, k):
        topi = np.full(k, -1, np.int64)
        ok = _select_by_rank(np.array(v, np.float32), k, topi, np.empty(len(v), np.int32))
        return ok, topi.tolist()

    assert run([1, 2, 2, 0], 1) == (True, [1])
    assert run([1, 2, 2, 0], 2)[0] is False
    assert run([3, 2, 2, 2, 0], 2) == (True, [0, 1])
    assert run([3, 2, 2, 2, 0], 3)[0] is False
    assert run([-np.inf, 1, -np.inf, 0.5], 4) == (True, [1, 3, -1, -1])
    assert run([-np.inf, -np.inf], 2) == (True, [-1, -1])
    assert run([0.0, -0.0], 1) == (True, [0])  # equal floats are a tie

def _block_edges_by_masks(indptr, src, creator, intimacy, bu, col_of):
    """The numpy form of a block's follow edges (RecommendDay.rank_block on small days):
    masks over the block's whole edge range. (e_row, e_col, e_edge) of the edges of the
    block's users ``bu`` to creators with a column in ``col_of``, ascending, and the mask
    of those with a nonzero intimacy (the fans)."""
    row_in_block = np.full(len(indptr) - 1, -1)
    row_in_block[bu] = np.arange(len(bu))
    es, ee = indptr[bu[0]], indptr[bu[-1] + 1]
    ec, er = col_of[creator[es:ee]], row_in_block[src[es:ee]]
    sel = np.flatnonzero((ec >= 0) & (er >= 0))
    e_row, e_col, e_edge = er[sel], ec[sel], es + sel
    return e_row, e_col, e_edge, intimacy[e_edge] != 0


def test_block_edges_match_the_masks_over_the_blocks_edge_range():
    """Guards kernels.block_edges (issue #17: the ranking block's follow edges in one
    pass over its users' rows): the edges of the block's users to its candidates'
    creators, ascending, with each one's block row and creator column, as the numpy form
    (masks over the block's whole edge range) gives them; and the nonzero-intimacy ones
    (the fans) by row. Edges of users between the block's users who are not in it, and
    edges to other creators, are left out."""
    rng = np.random.default_rng(12)
    n_users, n_creators = 400, 30
    src = np.sort(rng.integers(0, n_users, 5000))
    creator = rng.integers(0, n_creators, 5000)
    keys = np.unique(src * n_creators + creator)
    src, creator = keys // n_creators, (keys % n_creators).astype(np.int32)
    intimacy = np.where(rng.random(len(keys)) < 0.3, 0.0, rng.random(len(keys))).astype(np.float32)
    indptr = np.searchsorted(src, np.arange(n_users + 1))
    bu = np.sort(rng.choice(np.arange(50, 350), 120, replace=False)).astype(np.int32)  # gaps: users not in the block
    col_of = np.full(n_creators, -1, dtype=np.int64)
    ucre = np.sort(rng.choice(n_creators, 12, replace=False))
    col_of[ucre] = np.arange(12)
    e_row, e_col, e_edge, nz = _block_edges_by_masks(indptr, src, creator, intimacy, bu, col_of)
    e_ptr, got_col, got_edge, f_ptr, f_col, f_int = block_edges(indptr, creator, intimacy, bu, col_of)
    assert np.array_equal(e_ptr, np.searchsorted(e_row, np.arange(len(bu) + 1)))
    assert np.array_equal(got_col, e_col) and np.array_equal(got_edge, e_edge)
    assert np.array_equal(f_ptr, np.searchsorted(e_row[nz], np.arange(len(bu) + 1)))
    assert np.array_equal(f_col, e_col[nz]) and np.array_equal(f_int, intimacy[e_edge][nz])
    assert 0 < nz.sum() < len(e_edge)
    # a block of one user (its own row's edges), and no user
    for one in (bu[:1], bu[:0]):
        e_ptr, got_col, got_edge, f_ptr, f_col, f_int = block_edges(indptr, creator, intimacy, one, col_of)
        mine = e_row < len(one)
        assert np.array_equal(e_ptr, [0] + [mine.sum()] * len(one))
        assert np.array_equal(got_col, e_col[mine]) and np.array_equal(got_edge, e_edge[mine])
        assert np.array_equal(f_ptr, [0] + [(mine & nz).sum()] * len(one)) and np.array_equal(f_int, intimacy[e_edge][mine & nz])
    # no candidate creator: nothing kept
    e_ptr, got_col, got_edge, f_ptr, f_col, f_int = block_edges(indptr, creator, intimacy, bu, np.full(n_creators, -1))
    assert not e_ptr.any() and not f_ptr.any() and len(got_col) == len(got_edge) == len(f_col) == len(f_int) == 0


def test_block_edges_with_few_kept_edges_and_a_switch_between_the_forms():
    """Guards kernels.block_edges' two forms of a row (issue #17, seventeenth pass: a branch
    on each edge once fewer than 1 in BRANCH_BELOW of the block's edges so far were kept,
    else the branch-free compaction): on blocks whose users follow many creators of which
    few are candidates' (the branch from the second row on), blocks that switch from one
    form to the other and back (rows without a kept edge, then rows of kept edges), and
    rows without edges, the same edges, columns and fans as the masks over the block's
    edge range give."""
    from simulator.feeds.kernels import BRANCH_BELOW

    rng = np.random.default_rng(17)
    for case in range(60):
        n_users, n_creators = 300, int(rng.choice([20, 400, 3000]))
        deg = rng.integers(0, 40, n_users)
        deg[rng.random(n_users) < 0.1] = 0  # rows without edges
        src = np.repeat(np.arange(n_users), deg)
        creator = rng.integers(0, n_creators, len(src))
        keys = np.unique(src * n_creators + creator)
        src, creator = keys // n_creators, (keys % n_creators).astype(np.int32)
        intimacy = np.where(rng.random(len(keys)) < 0.3, 0.0, rng.random(len(keys))).astype(np.float32)
        indptr = np.searchsorted(src, np.arange(n_users + 1))
        col_of = np.full(n_creators, -1, dtype=np.int64)
        ucre = np.sort(rng.choice(n_creators, min(n_creators, int(rng.integers(1, 15))), replace=False))
        col_of[ucre] = np.arange(len(ucre))
        if case % 3 == 1:  # users 100-199 follow only candidates' creators: the forms switch and back
            hot = (src >= 100) & (src < 200)
            creator[hot] = ucre[rng.integers(0, len(ucre), hot.sum())]
            order = np.lexsort((creator, src))  # (rows sorted again; repeated pairs are distinct edges)
            src, creator, intimacy = src[order], creator[order], intimacy[order]
        bu = np.sort(rng.choice(n_users, int(rng.integers(1, n_users)), replace=False)).astype(np.int32)
        e_row, e_col, e_edge, nz = _block_edges_by_masks(indptr, src, creator, intimacy, bu, col_of)
        e_ptr, got_col, got_edge, f_ptr, f_col, f_int = block_edges(indptr, creator, intimacy, bu, col_of)
        assert np.array_equal(e_ptr, np.searchsorted(e_row, np.arange(len(bu) + 1))), case
        assert np.array_equal(got_col, e_col) and np.array_equal(got_edge, e_edge), case
        assert np.array_equal(f_ptr, np.searchsorted(e_row[nz], np.arange(len(bu) + 1))), case
        assert np.array_equal(f_col, e_col[nz]) and np.array_equal(f_int, intimacy[e_edge][nz]), case
    assert BRANCH_BELOW > 1


def test_block_picks_match_the_masks_and_the_dense_edge_table():
    """Guards kernels.block_picks (issue #17: a ranking block's impressions in one pass):
    each row's first k_u valid picks, row by row, rank by rank, as the cumulative sum of
    the valid mask selects them, each with its user, item, follow edge (as the dense
    rows × creators table of edges gives it), match and column, in the trace's dtypes."""
    rng = np.random.default_rng(13)
    rows, k, m, n_cre = 60, 9, 30, 10
    top = rng.integers(-1, m, (rows, k))
    valid = (top >= 0) & (rng.random(top.shape) < 0.8)
    k_u = rng.integers(0, 8, rows)
    col_creator = rng.integers(0, n_cre, m)
    pairs = np.unique(rng.integers(0, rows, 200) * n_cre + rng.integers(0, n_cre, 200))  # (row, creator column)
    e_row, e_col, e_edge = pairs // n_cre, pairs % n_cre, rng.integers(0, 10**6, len(pairs))
    e_ptr = np.searchsorted(e_row, np.arange(rows + 1))
    users = np.sort(rng.choice(10**5, rows, replace=False)).astype(np.int32)
    col_item = rng.integers(0, 10**6, m).astype(np.int32)
    match = rng.random((rows, m)).astype(np.float32)
    keep = valid & (np.cumsum(valid, axis=1) <= k_u[:, None])
    r, place = np.nonzero(keep)
    c = top[r, place]
    dense = np.full((rows, n_cre), -1)
    dense[e_row, e_col] = e_edge
    user, item, edge, mt, cols = block_picks(top, valid, k_u, e_ptr, e_col, e_edge, col_creator, users, col_item, match)
    assert np.array_equal(cols, c) and np.array_equal(user, users[r]) and np.array_equal(item, col_item[c])
    want_edge = dense[r, col_creator[c]]
    assert np.array_equal(edge, want_edge) and (want_edge >= 0).any() and (want_edge < 0).any()
    assert np.array_equal(mt, match[r, c])
    assert (user.dtype, item.dtype, edge.dtype, mt.dtype) == (np.int32, np.int32, np.int32, np.float32)
    # the first row alone, and no row: the same picks as those rows of the whole block
    for n in (1, 0):
        got = block_picks(top[:n], valid[:n], k_u[:n], e_ptr[: n + 1], e_col[: e_ptr[n]], e_edge[: e_ptr[n]],
                          col_creator, users[:n], col_item, match[:n])
        assert all(np.array_equal(a, b[r < n]) for a, b in zip(got, (user, item, edge, mt, cols)))


def test_cold_start_hits_match_the_mask_the_expansion_and_the_draw():
    """Guards kernels.count_cold_start_offers and cold_start_hits (issue #17: the
    cold-start pool's offers in passes over the active users' rows, only the hits
    written out): the offers are every (edge of an active user to an offered creator,
    new item of that creator), by edge then by item, as the numpy form (a mask over
    every edge, then expand_rows) gives them; the i-th offer hits where the i-th float32
    uniform is below float32 rate × intimacy; each hit comes with its edge, its item
    (first_new + order[entry]) and the user's position among the active. Also with no
    active user, one active user, and no offered creator."""
    from simulator.state.arrays import expand_rows

    rng = np.random.default_rng(14)
    n_users, n_creators = 500, 40
    keys = np.unique(rng.integers(0, n_users, 4000) * n_creators + rng.integers(0, n_creators, 4000))
    src, creator = (keys // n_creators).astype(np.int32), (keys % n_creators).astype(np.int32)
    intimacy = rng.random(len(keys)).astype(np.float32)
    intimacy[rng.random(len(keys)) < 0.1] = 0.0
    indptr = np.searchsorted(src, np.arange(n_users + 1))
    new_ptr = np.concatenate([[0], np.cumsum(rng.integers(0, 4, n_creators))])  # 0-3 new items a creator
    order = rng.permutation(int(new_ptr[-1]))
    first_new = 1000
    rate = 0.3  # a python float: numpy's product with float32 intimacy is float32, as the kernel's
    for share, offer_share in ((0.6, 0.7), (0.0, 0.7), (0.6, 0.0)):
        active = np.flatnonzero(rng.random(n_users) < share).astype(np.int32)
        offered = (np.diff(new_ptr) > 0) & (rng.random(n_creators) < offer_share)
        for act in (active, active[:1]):
            pos_of = np.full(n_users, -1)
            pos_of[act] = np.arange(len(act))
            candidate = np.flatnonzero(offered[creator] & (pos_of[src] >= 0))
            which, k = expand_rows(new_ptr, creator[candidate].astype(np.int64))
            n = count_cold_start_offers(indptr, creator, act, np.where(offered, np.diff(new_ptr), 0))
            assert n == len(which)
            draw = rng.random(n, dtype=np.float32)
            hit = draw < rate * intimacy[candidate[which]]
            edge, item, pos = cold_start_hits(indptr, creator, intimacy, act, offered, new_ptr, order, first_new,
                                              np.float32(rate), draw)
            assert np.array_equal(edge, candidate[which][hit]) and np.array_equal(item, first_new + order[k[hit]])
            assert np.array_equal(pos, pos_of[src[candidate[which][hit]]])
            assert edge.dtype == item.dtype == pos.dtype == np.int32  # (the trace's rows)
            if len(act) > 1 and offered.any():
                assert 0 < hit.sum() < n and len(np.unique(edge)) < len(edge)  # creators with several new items
    # the threshold is float32 and the test strict: an intimacy whose float32 product rounds
    # down, and a uniform equal to that product, is no hit (it would be in float64, or with <=)
    x = np.arange(1, 2000, dtype=np.float32) / np.float32(2000)
    x = x[np.float32(rate) * x < np.float64(np.float32(rate)) * x.astype(np.float64)][0]
    got = cold_start_hits(np.array([0, 1]), np.array([0], np.int32), np.array([x]), np.array([0], np.int32),
                          np.array([True]), np.array([0, 1]), np.array([0]), 0, np.float32(rate),
                          np.array([np.float32(rate) * x]))
    assert len(got[0]) == 0


def test_random_subset_by_group_matches_the_lexsort_cut():
    """Guards kernels.random_subset_by_group (issue #17: the cold-start pool's cut
    without sorting every offer): per group (sorted), the entries ordered by their key,
    ties in entry order, the first limit[group] of them, as np.lexsort((key, group))
    and the ranks within groups give them."""
    from simulator.state.arrays import rank_within_sorted

    rng = np.random.default_rng(15)
    group = np.sort(rng.integers(0, 300, 3000))
    key = rng.random(3000)
    key[rng.random(3000) < 0.2] = 0.5  # ties, kept in entry order
    limit = rng.integers(-1, 12, 300)
    order = np.lexsort((key, group))
    want = order[rank_within_sorted(group[order]) < limit[group[order]]]
    got = random_subset_by_group(group, key, limit)
    assert np.array_equal(got, want)
    assert len(want) < len(group)
    # long groups with small limits (most entries compared with the last kept one only), one entry, none
    group = np.sort(rng.integers(0, 40, 3000))
    key = rng.random(3000)
    key[rng.random(3000) < 0.3] = 0.01  # ties among the lowest keys
    for limit in (rng.integers(-1, 4, 40), np.full(40, 1), np.full(40, 2)):
        order = np.lexsort((key, group))
        want = order[rank_within_sorted(group[order]) < limit[group[order]]]
        assert np.array_equal(random_subset_by_group(group, key, limit), want)
    assert np.array_equal(random_subset_by_group(group[:1], key[:1], np.full(40, 2)), [0])
    assert len(random_subset_by_group(group[:0], key[:0], np.full(40, 2))) == 0


def test_edges_to_marked_match_the_mask():
    """Guards kernels.edges_to_marked (issue #17: the ad market's audiences in one pass
    over the follow edges): the edges whose creator has a mark, ascending, with the
    mark, as the numpy mask and gather give them."""
    rng = np.random.default_rng(16)
    creator = rng.integers(0, 50, 5000).astype(np.int32)
    mark = np.where(rng.random(50) < 0.2, rng.integers(0, 9, 50), -1)
    mark[creator[0]] = 0  # a mark of 0 is a mark (the ad market's first bid)
    want = np.flatnonzero(mark[creator] >= 0)
    edge, value = edges_to_marked(creator, mark)
    assert np.array_equal(edge, want) and np.array_equal(value, mark[creator[want]]) and 0 < len(want) < 5000


def test_tally_impressions_matches_the_bincounts():
    """Guards kernels.tally_impressions (content/exposure.py, issue #17): one pass gives
    each item's impressions by domain and by source and its engagements by action exactly
    as the bincounts it replaced; and its numpy forms (numpy_kernels.tally_impressions,
    tally_by_codes: a bincount of (source, domain) pairs by item and one of the packed
    actions, summed by float64 products) the same counts, plus the day's (source, domain)
    pairs."""
    rng = np.random.default_rng(7)
    n, n_items, D, S = 5000, 300, 3, 5
    item = rng.integers(0, n_items, n)
    domain = rng.integers(0, D, n).astype(np.int8)
    source = rng.integers(0, S, n).astype(np.int8)
    acts = rng.random((5, n)) < [[0.5], [0.2], [0.05], [0.03], [0.01]]
    from simulator.audience.engagement import action_codes
    from simulator.feeds import numpy_kernels as nk

    pairs = {}
    for f in (tally_impressions, nk.tally_impressions,
              lambda *a: nk.tally_by_codes(item.astype(np.int32), domain, source, action_codes(*acts), n_items, D, S,
                                           pairs)):
        by_domain, by_source, by_action = f(item, domain, source, *acts, n_items, D, S)
        assert by_domain.dtype == by_source.dtype == by_action.dtype == np.int64
        assert np.array_equal(by_domain, np.bincount(item * D + domain, minlength=n_items * D).reshape(n_items, D))
        assert np.array_equal(by_source, np.bincount(item * S + source, minlength=n_items * S).reshape(n_items, S))
        assert np.array_equal(by_action, np.stack([np.bincount(item[hit], minlength=n_items) for hit in acts], axis=1))
    # the numpy form's day total of (source, domain) pairs, read by the views instead of count_pairs
    assert np.array_equal(pairs["source_domain"], np.bincount(source * D + domain, minlength=S * D).reshape(S, D))


def test_pool_tally_matches_the_weighted_bincounts_bit_for_bit():
    """Guards kernels.pool_tally (feeds/pools.py, issue #17): one pass gives each item's
    impressions, weighted impressions and weighted engagements as the bincounts it
    replaced, to the last bit (the same sums in the same order)."""
    from simulator.config import PlatformConfig
    from simulator.feeds.pools import TrafficPools

    rng = np.random.default_rng(8)
    n, n_items, beta = 20000, 300, 1.37
    item = rng.integers(0, n_items, n).astype(np.int32)
    intimacy = np.where(rng.random(n) < 0.3, rng.random(n), 0.0).astype(np.float32)
    complete, like = rng.random(n) < 0.4, rng.random(n) < 0.1
    real, seen, engaged = pool_tally(item, intimacy, complete, like, beta, n_items)
    w = TrafficPools(PlatformConfig(beta=beta), 1.0).weight(intimacy)
    assert np.array_equal(real, np.bincount(item, minlength=n_items))
    assert np.array_equal(seen, np.bincount(item, weights=w, minlength=n_items))
    assert np.array_equal(engaged, np.bincount(item, weights=w * (complete | like), minlength=n_items))


def test_counts_by_user_matches_the_bincounts():
    """Guards numpy_kernels.counts_by_user (users' satisfaction on small days,
    audience/activity.py; large days: kernels.satisfaction_day): impressions, engaged
    impressions and ad impressions per user in one bincount, as the three bincounts gave
    them."""
    rng = np.random.default_rng(9)
    user = rng.integers(0, 70, 4000).astype(np.int32)
    engaged = rng.random(4000) < 0.3
    source = rng.integers(0, 5, 4000).astype(np.int8)
    from simulator.feeds import numpy_kernels as nk

    k, hits, ads = nk.counts_by_user(user, engaged, source, 2, 80)  # (one bincount of packed codes)
    assert k.dtype == hits.dtype == ads.dtype == np.int64
    assert np.array_equal(k, np.bincount(user, minlength=80))
    assert np.array_equal(hits, np.bincount(user[engaged], minlength=80))
    assert np.array_equal(ads, np.bincount(user[source == 2], minlength=80))


def test_numpy_forms_match_the_kernels():
    """Guards simulator/feeds/numpy_kernels.py (issue #17: what a small day runs instead of
    the kernels, so that it never loads numba): each numpy form gives exactly its
    kernel's result: Gumbel-top-k (ties to the lower column, -inf never chosen, short
    rows padded, k above the column count, temperature 0), the exposure cap's grants
    and the reactions (the same uniforms and float64 operations)."""
    from simulator.feeds import numpy_kernels as nk
    from simulator.feeds.kernels import draw_actions, within_cap

    rng = np.random.default_rng(11)
    table = gumbel_table(rng)
    for rows, cols, k, temp in [(468, 50, 12, 0.3), (300, 50, 8, 0.7), (5, 3, 6, 0.5), (60, 40, 40, 1.0),
                                 (4, nk.NOISE_TAIL + 9, 30, 0.4)]:  # wider than the noise's slices
        key = rng.normal(size=(rows, cols)).astype(np.float32)
        key[rng.random(key.shape) < 0.2] = -np.inf
        key[0, :] = -np.inf
        key[0, :2] = 1.0  # a row with two choices
        key[1, :] = -0.0  # signed zeros tie with each other
        key[1, ::2] = 0.0
        for t in (temp, 0.0):  # temperature 0: exact ties, broken by column
            assert np.array_equal(nk.gumbel_top_k(key, k, t, 99, table), gumbel_top_k(key, k, t, 99, table))
    for rows, k, cols in [(500, 12, 30), (2000, 20, 64), (7, 3, 5)]:
        top = np.stack([rng.permutation(cols)[:k] for _ in range(rows)]).astype(np.int64)
        top[rng.random(top.shape) < 0.1] = -1
        cap = np.floor(np.maximum(rng.uniform(-3, rows * k / cols / 2, cols), 0)).astype(np.int64)
        for k_u in (np.full(rows, k), rng.integers(0, k + 1, rows), np.full(rows, 1)):
            k_u = k_u.astype(np.int64)
            assert np.array_equal(nk.within_cap(top, cap, k_u), within_cap(top, cap, k_u))
    n = 300_000
    match, quality = rng.random(n).astype(np.float32), rng.random(n).astype(np.float32)
    fan = rng.random(n) < 0.3
    intim = np.where(fan, rng.random(n), 0).astype(np.float32)
    coef, offsets = np.array([-1.3, 2.1, 1.7, 3.3]), np.array([1.5, -0.5, -2.0, -2.5, -4.5])
    for seed in (42, 2**63 - 5):  # a counter that wraps past 2**64
        assert np.array_equal(nk.draw_actions(match, quality, intim, fan, coef, offsets, seed),
                              draw_actions(match, quality, intim, fan, coef, offsets, seed))


def test_unscaled_uniforms_compare_as_the_uniforms():
    """Guards numpy_kernels._draw_chunk's comparison of the unscaled uniforms (``h + 0.5``)
    against 2**53 instead of the uniforms against 1: the same outcome for every factor,
    at and around each factor's boundary (where the float products round), for factors
    of 1, just above 1, huge and infinite."""
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(8)
    x = rng.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    u, v = np.empty(1000), np.empty(1000)
    nk._uniform_into(x.copy(), u)
    nk._uniform_into(x.copy(), v, scaled=False)
    assert np.array_equal(u * 2.0**53, v) and (u > 0).all() and (u < 1).all()
    c = 1.0 + np.exp(rng.uniform(-40, 40, 400_000))  # 1 + e · scale
    c[:6] = [1.0, np.nextafter(1.0, 2.0), 2.0, 3.0, 1e300, np.inf]
    h = np.floor(2.0**53 / c) + rng.integers(-3, 4, len(c))  # around each factor's boundary
    h = np.clip(h, 0, 2**53 - 1)
    scaled = (h + 0.5) * (1.0 / 2.0**53)
    assert np.array_equal((h + 0.5) * c < nk._TWO53, scaled * c < 1.0)


def test_rest_kernels_match_their_numpy_forms():
    """Guards the compiled passes of the phases after the feeds (issue #17, target 1)
    against their numpy forms (numpy_kernels, the same names): the private channels'
    selling edges (commerce/__init__.py), the fans by creator and tier (the metrics), the
    followers per creator (FollowGraph.followers), the
    impressions by (source, domain) (observation/views.py) and the merge of two
    platforms' gains (relationships.day_gains), bit for bit (the merge: zero plus one
    side, plus the other where both have the index)."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(21)
    n_users, n_creators, P, E = 400, 60, 3, 6000
    src = np.sort(rng.integers(0, n_users, E)).astype(np.int32)
    creator = rng.integers(0, n_creators, E).astype(np.int32)
    ok = rng.random(n_creators) < 0.5
    home = rng.integers(0, P, n_creators).astype(np.int8)
    uses = rng.random((n_users, P)) < 0.6
    want = np.flatnonzero(ok[creator] & uses[src, home[creator]])
    got = nk.selling_edges(src, creator, ok, home, uses)
    assert got.dtype == np.int64 and np.array_equal(got, want) and 0 < len(want) < E
    # the compiled form, row by row: users without edges (empty rows) at the start, between and at the end
    keep = (src % 7 != 3) & (src > 0)
    src2, creator2 = src[keep], creator[keep]
    want2 = np.flatnonzero(ok[creator2] & uses[src2, home[creator2]])
    indptr = np.searchsorted(src2, np.arange(n_users + 1)).astype(np.int64)
    bits = np.where(ok, np.left_shift(np.uint64(1), home.astype(np.uint64)), np.uint64(0))
    for rows in (indptr, np.concatenate([indptr, np.full(3, len(src2))])):
        users = np.concatenate([uses, np.ones((len(rows) - 1 - n_users, P), bool)])
        got = kernels.selling_edges_in_rows(rows, creator2, bits, users)
        assert got.dtype == np.int64 and np.array_equal(got, want2) and 0 < len(want2) < len(src2)
    assert len(kernels.selling_edges_in_rows(np.zeros(1, np.int64), creator[:0], bits, uses[:0])) == 0
    intimacy = rng.random(E).astype(np.float32)
    thresholds = np.array([0.2, 0.5, 0.8], np.float32)
    intimacy[:3] = thresholds  # at a threshold: that tier
    intimacy[3] = np.nan  # no tier reached
    tier = (intimacy >= thresholds[0]).astype(int) + (intimacy >= thresholds[1]) + (intimacy >= thresholds[2])
    want = np.bincount(creator * 4 + tier, minlength=n_creators * 4).reshape(-1, 4)
    for f in (kernels.fans_by_tier, nk.fans_by_tier):
        assert np.array_equal(f(creator, intimacy, thresholds, n_creators), want)
    for f in (kernels.count_by_index, nk.count_by_index):  # the followers per creator
        got = f(creator, n_creators + 2)
        assert got.dtype == np.int64 and np.array_equal(got, np.bincount(creator, minlength=n_creators + 2))
    source = rng.integers(0, 5, E).astype(np.int8)
    domain = rng.integers(0, 3, E).astype(np.int8)
    for f in (kernels.count_pairs, nk.count_pairs):
        assert np.array_equal(f(source, domain, 3, 15), np.bincount(source * 3 + domain, minlength=15))
    for na, nb in [(300, 200), (0, 50), (40, 0), (0, 0)]:
        a = np.sort(rng.choice(1000, na, replace=False))
        b = np.sort(rng.choice(1000, nb, replace=False))
        sa, sb = rng.normal(size=na), rng.normal(size=nb)
        if na and nb:
            b[:5] = a[:5]  # shared indices
            b = np.unique(b)
            sb = sb[: len(b)]
            sa[0], sb[0] = 0.1, 0.2  # 0.1 + 0.2: the order of the adds shows
        idx, out = kernels.add_sorted_sums(a, sa, b, sb)
        want_idx = np.union1d(a, b)
        dense = np.zeros(1000)
        dense[a] += sa
        dense[b] += sb
        assert np.array_equal(idx, want_idx) and np.array_equal(out.view(np.int64), dense[want_idx].view(np.int64))
        idx2, out2 = nk.add_sorted_sums(a, sa, b, sb)
        assert np.array_equal(idx2, idx) and np.array_equal(out2.view(np.int64), out.view(np.int64))


def test_fan_intimacy_matches_the_mask_and_the_gather():
    """Guards kernels.fan_intimacy (the reactions' viewer intimacy, audience/engagement.py,
    issue #17) and its numpy form: each impression's intimacy at its follow edge, 0 (and
    not a fan) where it has none, float32; a day without any follow edge reads nothing."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(22)
    intimacy = rng.random(500).astype(np.float32)
    edge = np.where(rng.random(4000) < 0.3, rng.integers(0, 500, 4000), -1).astype(np.int32)
    edge[:2] = [0, 499]
    want = np.where(edge >= 0, intimacy[np.maximum(edge, 0)], np.float32(0))
    for f in (kernels.fan_intimacy, nk.fan_intimacy):
        got, fan = f(edge, intimacy)
        assert got.dtype == np.float32 and np.array_equal(got, want) and np.array_equal(fan, edge >= 0)
        got, fan = f(np.full(30, -1, np.int32), np.zeros(0, np.float32))
        assert np.array_equal(got, np.zeros(30, np.float32)) and not fan.any()


def test_reactions_in_chunks_match_the_gather_and_the_draws():
    """Guards numpy_kernels.react_in_chunks (the reactions of a small day, audience/engagement.py,
    issue #17): chunk by chunk, the viewers' intimacy at their follow edges and the draws
    from the items' quality are the compiled fan_intimacy and draw_actions' results bit
    for bit, across chunk boundaries; a day without follow edges reads no intimacy."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(23)
    n, n_edges, n_items = 2 * nk.CHUNK + 777, 900, 300
    edge = np.where(rng.random(n) < 0.35, rng.integers(0, n_edges, n), -1).astype(np.int32)
    edge_intimacy = rng.random(n_edges).astype(np.float32)
    item = rng.integers(0, n_items, n).astype(np.int32)
    quality, match = rng.random(n_items).astype(np.float32), rng.random(n).astype(np.float32)
    coef, offsets = np.array([-1.3, 2.1, 1.7, 3.3]), np.array([1.5, -0.5, -2.0, -2.5, -4.5])
    intim, fan = kernels.fan_intimacy(edge, edge_intimacy)
    for seed in (42, 2**63 - 5):
        want = kernels.draw_actions(match, quality[item], intim, fan, coef, offsets, seed)
        acts, got = nk.react_in_chunks(edge, edge_intimacy, item, quality, match, coef, offsets, seed)
        assert acts.shape == (5, n) and np.array_equal(acts, want) and acts[4].any()
        assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), intim.view(np.int32))
    acts, got = nk.react_in_chunks(np.full(50, -1, np.int32), np.zeros(0, np.float32), item[:50], quality,
                                   match[:50], coef, offsets, 7)
    assert not got.any() and np.array_equal(acts, kernels.draw_actions(match[:50], quality[item[:50]], got,
                                                                       np.zeros(50, bool), coef, offsets, 7))


def test_count_by_lookup_counts_the_looked_up_index():
    """Guards kernels.count_by_lookup and its numpy form (the day's impressions per
    creator, Impressions.per_creator, issue #17's memory: no gathered array): the counts
    of ``table[idx]``, int64, for many, one and no entries, the last bins empty, and the
    table longer than the entries looked up (the live store's spare rows)."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(31)
    table = rng.integers(0, 50, 700).astype(np.int32)
    for idx in (rng.integers(0, 600, 20_000).astype(np.int32), np.array([5], np.int32), np.zeros(0, np.int32)):
        want = np.bincount(table[idx], minlength=53)
        for f in (kernels.count_by_lookup, nk.count_by_lookup):
            got = f(idx, table, 53)
            assert got.dtype == np.int64 and got.shape == (53,) and np.array_equal(got, want)


# ----------------------------------------------------------- LATE1M (issue #17, eleventh pass)


def test_select_by_rank_above_gives_select_by_ranks_list_and_answer():
    """Guards kernels._select_by_rank_above (score_top_k's long lists counted only among
    the keys at or above a bound of the list's last): the same list and the same answer
    (a tie above the last place refused) as _select_by_rank, which test_score_top_k_*
    check against numpy's stable sort, on random rows: continuous keys, keys on a coarse
    grid (many ties), -inf entries (a group of them all: the bound -inf), -0.0 against
    0.0, lists of one place, of every column and of more places than columns, one
    column, keys increasing or decreasing along the row (the groups' maxima all high or
    all low)."""
    from simulator.feeds.kernels import RANK_PAD, _select_by_rank_above

    rng = np.random.default_rng(5)
    cases = [np.array([0.0, -0.0, 0.0, 1.0], np.float32), np.array([-np.inf] * 3 + [1.0] * 5, np.float32),
             np.array([2.0], np.float32), np.arange(40, dtype=np.float32), np.arange(40, 0, -1).astype(np.float32)]
    for _ in range(3000):
        cols = int(rng.integers(1, 90))
        kind = rng.integers(0, 3)
        v = (rng.standard_normal(cols) if kind == 0 else rng.integers(0, 4, cols) / 2).astype(np.float32)
        if kind == 2:
            v[rng.random(cols) < 0.4] = -np.inf
            if cols > 4 and rng.random() < 0.3:
                v[1::3] = -np.inf  # every column of a group -inf for k = 3
        cases.append(v)
    for v in cases:
        cols = len(v)
        for k in {1, 2, 3, min(cols, 12), cols, cols + 1, int(rng.integers(1, cols + 1))}:
            want_topi = np.full(k, -1, np.int64)
            want = _select_by_rank(v, k, want_topi, np.empty(cols, np.int32))
            topi = np.full(k, -1, np.int64)
            pad = cols + RANK_PAD  # (the selected entries are counted over a length rounded up to RANK_PAD)
            got = _select_by_rank_above(v, k, topi, np.empty(pad, np.int32), np.empty(pad, np.int32),
                                        np.empty(pad, np.float32))
            assert got == want, (v.tolist(), k)
            if want:
                assert np.array_equal(topi, want_topi), (v.tolist(), k)


def test_match_in_chunks_gives_einsums_floats():
    """Guards feeds.impressions.match_in_chunks (Impressions.make's interest match on
    large days, chunk by chunk): bit for bit numpy's einsum of the gathered rows, for 8
    topics (the default) and other widths, over chunk boundaries (one short of, at and
    past a chunk, several chunks), one impression and none; and Impressions.make takes
    it on large days (PREFER_COMPILED) with the same match as on small ones."""
    from types import SimpleNamespace

    from simulator.feeds import impressions as imp_mod
    from simulator.feeds import numpy_kernels
    from simulator.feeds.impressions import MATCH_CHUNK, Impressions, match_in_chunks

    rng = np.random.default_rng(3)
    for d in (8, 3, 17):
        interest = rng.standard_normal((500, d)).astype(np.float32)
        topic = rng.standard_normal((300, d)).astype(np.float32)
        for n in (0, 1, MATCH_CHUNK - 1, MATCH_CHUNK, MATCH_CHUNK + 1, 3 * MATCH_CHUNK + 17):
            users = rng.integers(0, 500, n).astype(np.int32)
            items = rng.integers(0, 300, n).astype(np.int64)
            want = np.einsum("ij,ij->i", interest.take(users, axis=0), topic.take(items, axis=0))
            got = match_in_chunks(interest, topic, users, items)
            assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want.view(np.int32))
    model = SimpleNamespace(users=SimpleNamespace(interest=interest), items=SimpleNamespace(topic=topic))
    users, items = rng.integers(0, 500, 2 * MATCH_CHUNK + 5), rng.integers(0, 300, 2 * MATCH_CHUNK + 5)
    edge = np.full(len(users), -1)
    old = numpy_kernels.PREFER_COMPILED
    try:
        numpy_kernels.PREFER_COMPILED = False
        small = Impressions.make(model, users, items, 0, edge)
        numpy_kernels.PREFER_COMPILED = True
        calls = []
        real = imp_mod.match_in_chunks
        imp_mod.match_in_chunks = lambda *a: calls.append(1) or real(*a)
        try:
            large = Impressions.make(model, users, items, 0, edge)
        finally:
            imp_mod.match_in_chunks = real
    finally:
        numpy_kernels.PREFER_COMPILED = old
    assert calls and large.match.dtype == np.float32
    assert np.array_equal(large.match.view(np.int32), small.match.view(np.int32))


# ----------------------------------------------------------- FEEDS (issue #17, thirteenth pass)


def test_block_picks_into_writes_block_picks_rows_into_the_columns():
    """Guards kernels.block_picks_into (issue #17, thirteenth pass: a ranking block's picks
    written straight into the day's columns): the rows FeedColumns gets from it are those
    of an Impressions of block_picks' arrays added to the columns (user, item, the source,
    edge, match, targeting -1), after rows already there and into columns that must grow;
    with ``valid`` of no rows every place with top >= 0 is valid (top >= 0 computed by
    the caller); the column counts are np.bincount of block_picks' columns. Also with rows
    of no slot, a row whose list is all -1, one row and no row."""
    from simulator.feeds.impressions import COLUMNS, FeedColumns, Impressions
    from simulator.feeds.kernels import block_picks, block_picks_into

    rng = np.random.default_rng(31)
    for trial in range(40):
        rows, k, m, n_cre = int(rng.integers(0, 40)), int(rng.integers(1, 9)), 30, 10
        top = rng.integers(-1 if trial % 2 else 0, m, (rows, k))
        if rows > 2:
            top[1] = -1  # a row the ranking left empty
            top[2, k // 2:] = -1  # (the ranking's own -1s are at a row's end)
        dense = trial % 3 != 0
        valid = (top >= 0) if dense else (top >= 0) & (rng.random(top.shape) < 0.7)
        k_u = rng.integers(0, 8, rows)
        col_creator = rng.integers(0, n_cre, m)
        pairs = np.unique(rng.integers(0, max(rows, 1), 200) * n_cre + rng.integers(0, n_cre, 200))
        pairs = pairs[pairs // n_cre < rows]
        e_row, e_col, e_edge = pairs // n_cre, pairs % n_cre, rng.integers(0, 10**6, len(pairs)).astype(np.int32)
        e_ptr = np.searchsorted(e_row, np.arange(rows + 1))
        users = np.sort(rng.choice(10**5, rows, replace=False)).astype(np.int32)
        col_item = rng.integers(0, 10**6, m).astype(np.int32)
        match = rng.standard_normal((rows, m)).astype(np.float32)
        before = Impressions(user=np.arange(3, dtype=np.int32), item=np.arange(3, dtype=np.int32),
                             source=np.full(3, 2, np.int8), edge=np.full(3, 5, np.int32),
                             match=np.ones(3, np.float32), targeting=np.full(3, 1, np.int8))
        user, item, edge, mt, cols = block_picks(top, valid, k_u, e_ptr, e_col, e_edge, col_creator, users,
                                                 col_item, match)
        want = FeedColumns(3 + len(user))
        want.add(before)
        want.add(Impressions(user=user, item=item, source=np.full(len(user), 0, np.int8), edge=edge, match=mt))
        for capacity in (3 + len(user), 3):  # (room for the rows; none: the columns grow)
            feed = FeedColumns(capacity)
            feed.add(before)
            counts = np.zeros(m if trial % 2 else 0, dtype=np.int64)
            out = feed.reserve(int(k_u.sum()))
            feed.n += block_picks_into(top, np.zeros((0, 0), bool) if dense else valid, k_u, e_ptr, e_col, e_edge,
                                       col_creator, users, col_item, match, 0, out["user"], out["item"],
                                       out["source"], out["edge"], out["match"], out["targeting"], feed.n, counts)
            got, exp = feed.impressions(), want.impressions()
            assert len(got) == len(exp) == 3 + len(user)
            for name, dtype in COLUMNS.items():
                g, w = getattr(got, name), getattr(exp, name)
                assert g.dtype == w.dtype == dtype
                assert np.array_equal(g.view(np.uint8), w.view(np.uint8)), (trial, capacity, name)
            if trial % 2:
                assert np.array_equal(counts, np.bincount(cols, minlength=m))
            else:
                assert len(counts) == 0


def test_block_columns_are_the_unique_the_stable_argsort_and_the_pointer():
    """Guards kernels.block_columns (issue #17, thirteenth pass: a ranking block's creator
    columns in one pass): the candidates' creators' np.unique, each candidate's column
    (unique's inverse), set in the creator → column table (the rest left -1), the stable
    argsort of the columns and indptr_from_rows of the sorted columns, all int64; for
    candidates sharing creators, all distinct, one and none."""
    from simulator.feeds.kernels import block_columns
    from simulator.state.arrays import indptr_from_rows

    rng = np.random.default_rng(41)
    n_items, n_creators = 500, 40
    creator = rng.integers(0, n_creators, n_items).astype(np.int64)
    cases = [np.unique(rng.integers(0, n_items, int(rng.integers(1, 90)))) for _ in range(40)]
    distinct = np.unique(creator, return_index=True)[1]
    cases += [np.sort(distinct[:25]), np.array([7]), np.zeros(0, np.int64)]
    for cand in cases:
        cand = cand.astype(np.int64)
        col_of = np.full(n_creators, -1, dtype=np.int64)
        ucre, inv, by_creator, cand_ptr = block_columns(cand, creator, col_of)
        want_u, want_inv = np.unique(creator[cand], return_inverse=True)
        want_by = np.argsort(want_inv, kind="stable")
        assert np.array_equal(ucre, want_u) and np.array_equal(inv, want_inv)
        assert np.array_equal(by_creator, want_by)
        assert np.array_equal(cand_ptr, indptr_from_rows(want_inv[want_by], len(want_u)))
        assert all(a.dtype == np.int64 for a in (ucre, inv, by_creator, cand_ptr))
        table = np.full(n_creators, -1, dtype=np.int64)
        table[want_u] = np.arange(len(want_u))
        assert np.array_equal(col_of, table)


def test_block_candidates_are_the_numpy_forms_retrieval_columns_and_edges():
    """Guards kernels.block_candidates (issue #17, fifteenth pass: a ranking block's
    retrieval, creator columns and follow edges in one compiled pass) against its numpy
    form and the calls it replaces (searchsorted side="right", the clip, the unique sort,
    block_columns, block_edges): the same arrays and dtypes, ``col_of`` left all -1; CDFs
    with flat runs (ties at the uniforms' values), uniforms at 0 and near 1 (the clip),
    one segment, one user, users without edges, zero intimacies."""
    from simulator.feeds import numpy_kernels
    from simulator.feeds.kernels import block_candidates, block_columns

    rng = np.random.default_rng(57)
    n_users, n_creators = 60, 25
    for trial in range(60):
        n_items = int(rng.integers(1, 80))
        n_seg = int(rng.integers(1, 5))
        w = rng.random((n_seg, n_items))
        w[w < 0.3] = 0.0  # flat runs in the CDFs
        cdf = np.cumsum(w, axis=1)
        cdf[:, -1] = np.maximum(cdf[:, -1], 1e-9)
        seg_row = rng.integers(0, n_seg, int(rng.integers(1, 4))).astype(np.int64)
        seg_k = rng.integers(1, 30, len(seg_row)).astype(np.int64)
        u = rng.random(int(seg_k.sum()))
        u[:: 7] = 0.0
        u[1 :: 11] = np.nextafter(1.0, 0.0)
        if trial % 3 == 0:  # uniforms landing exactly on a CDF's values
            r = cdf[seg_row[0]]
            u[: min(len(u), n_items)] = (r / r[-1])[: min(len(u), n_items)]
        creator = rng.integers(0, n_creators, n_items).astype(np.int64)
        per_user = rng.integers(0, 6, n_users)
        per_user[rng.random(n_users) < 0.2] = 0
        indptr = np.zeros(n_users + 1, np.int64)
        np.cumsum(per_user, out=indptr[1:])
        follow_creator = np.concatenate([np.sort(rng.choice(n_creators, k, replace=False)) for k in per_user]
                                        ).astype(np.int32)
        intimacy = rng.random(len(follow_creator)).astype(np.float32)
        intimacy[rng.random(len(intimacy)) < 0.3] = 0
        users = (np.array([int(rng.integers(0, n_users))]) if trial % 5 == 0
                 else np.sort(rng.choice(n_users, int(rng.integers(1, 20)), replace=False))).astype(np.int32)
        args = (cdf, seg_row, seg_k, u, n_items, creator)
        col_of = np.full(n_creators, -1, np.int64)
        got = block_candidates(*args, col_of, indptr, follow_creator, intimacy, users)
        assert np.all(col_of == -1)
        want = numpy_kernels.block_candidates(*args, col_of, indptr, follow_creator, intimacy, users)
        assert np.all(col_of == -1)
        assert len(got) == len(want) == 10
        for g, x in zip(got, want):
            assert g.dtype == x.dtype and np.array_equal(g, x), trial
        # the calls it replaces
        q, draws = 0, []
        for r, k in zip(seg_row, seg_k):
            draws.append(np.searchsorted(cdf[r], u[q : q + k] * cdf[r][-1], side="right"))
            q += k
        cand = np.unique(np.minimum(np.concatenate(draws), n_items - 1))
        assert np.array_equal(got[0], cand)
        cols = block_columns(cand, creator, col_of)
        edges = block_edges(indptr, follow_creator, intimacy, users, col_of)
        for g, x in zip(got[1:], cols[1:] + edges):
            assert g.dtype == x.dtype and np.array_equal(g, x), trial


def test_assign_kept_is_the_ad_markets_hand_out():
    """Guards kernels.assign_kept (issue #17, fifteenth pass: the ad market's hand-out of
    shuffled candidates in one pass) against its numpy form (the passes
    ``_AdMarket.assign`` made): the same slots taken, the same bids assigned, the same
    allowances left; bids that can pay for all their candidates, for some, for none
    (0 and negative allowances), one candidate, none, and more than 127 bids (the numpy
    form's 16-bit sort keys)."""
    from simulator.feeds import numpy_kernels
    from simulator.feeds.kernels import assign_kept

    rng = np.random.default_rng(61)
    for trial in range(80):
        supply = int(rng.integers(1, 300))
        n_bids = int(rng.integers(1, 200 if trial % 4 == 0 else 12))
        n = [0, 1][trial] if trial < 2 else int(rng.integers(0, 3 * supply))
        slot = rng.integers(0, supply, n).astype(np.int64)
        merchant = rng.integers(0, n_bids, n).astype(np.int64)
        perm = rng.permutation(n)
        slot_p = slot[perm]
        taken0 = rng.random(supply) < 0.3
        # the first candidate of each free slot, in a random order (as assign makes them)
        first = np.unique(slot_p, return_index=True)[1]
        first = rng.permutation(first.compress(~taken0.take(slot_p.take(first))))
        left0 = rng.integers(-2, 6 if trial % 3 else 40, n_bids).astype(np.int64)
        assigned0 = np.where(taken0, rng.integers(0, n_bids, supply), -1).astype(np.int64)
        out = []
        for fn in (assign_kept, numpy_kernels.assign_kept):
            taken, assigned, left = taken0.copy(), assigned0.copy(), left0.copy()
            fn(slot_p, merchant, perm, first, taken, assigned, left)
            out.append((taken, assigned, left))
        for g, w in zip(*out):
            assert g.dtype == w.dtype and np.array_equal(g, w), trial


def test_lookalike_slots_are_the_ad_markets_look_alike_candidates():
    """Guards kernels.lookalike_slots (issue #17, fifteenth pass: the look-alike bids'
    picks of free slots and the fans left out, in one pass) against its numpy form and
    the calls ``_lookalike_candidates`` makes (``random_in_rows`` over the free slots by
    segment, the follow graph's lookup): the same (slot, bid) pairs in the same order;
    empty segments, every slot taken, none taken, no draws, viewers without edges, a
    viewer following every account."""
    from simulator.feeds import numpy_kernels
    from simulator.feeds.kernels import lookalike_slots
    from simulator.state.arrays import indptr_from_rows, random_in_rows

    rng = np.random.default_rng(67)
    for trial in range(80):
        n_users, n_creators, n_seg = 40, 15, int(rng.integers(1, 6))
        seg_of = rng.integers(0, n_seg, n_users).astype(np.int16)
        n_seg = int(seg_of.max()) + 1
        per_user = rng.integers(0, 8, n_users)
        per_user[0] = n_creators  # (follows every account)
        indptr = np.zeros(n_users + 1, np.int64)
        np.cumsum(per_user, out=indptr[1:])
        creator = np.concatenate([np.sort(rng.choice(n_creators, k, replace=False)) for k in per_user]
                                 ).astype(np.int32)
        supply = int(rng.integers(0, 120))
        users = rng.integers(0, n_users, supply).astype(np.int32)
        taken = rng.random(supply) < [0.3, 1.0, 0.0][trial % 3]
        n_m = int(rng.integers(1, 6))
        account = rng.choice(n_creators, n_m, replace=False).astype(np.int32)
        bid_m = rng.integers(0, n_m, 8).astype(np.int64)
        look = np.sort(rng.choice(8, int(rng.integers(1, 5)), replace=False)).astype(np.int64)
        draws = np.sort(rng.integers(0, len(look), int(rng.integers(0, 50)) if trial % 7 else 0)).astype(np.int64)
        seg = rng.integers(0, n_seg, len(draws)).astype(np.int64)
        u = rng.random(len(draws))
        args = (taken, users, seg_of, n_seg, seg, u, look, draws, bid_m, account, indptr, creator)
        got = lookalike_slots(*args)
        want = numpy_kernels.lookalike_slots(*args)
        # the calls the ad market makes without the kernels
        free = np.flatnonzero(~taken)
        fseg = seg_of.take(users.take(free))
        o = np.argsort(fseg, kind="stable")
        k = random_in_rows(indptr_from_rows(fseg, n_seg), seg, _FixedUniforms(u))
        ok = k >= 0
        slot, b = free.take(o.take(k.compress(ok))), look.take(draws.compress(ok))
        edge = np.full(len(slot), -1, np.int64)
        for q in range(len(slot)):  # (a test's loop: each query's row)
            row = creator[indptr[users[slot[q]]] : indptr[users[slot[q]] + 1]]
            edge[q] = 0 if (row == account[bid_m[b[q]]]).any() else -1
        for g, w, x in zip(got, want, (slot.compress(edge < 0), b.compress(edge < 0))):
            assert g.dtype == w.dtype == np.int64 and np.array_equal(g, w) and np.array_equal(g, x), trial


class _FixedUniforms:
    """A generator stand-in whose ``random(n)`` returns the given uniforms (tests)."""

    def __init__(self, u):
        self.u = u

    def random(self, n):
        assert n == len(self.u)
        return self.u


def test_ad_rows_are_the_sold_slots_rows():
    """Guards kernels.ad_rows (issue #17, fifteenth pass: a platform's sold ad slots as the
    day's rows in one pass) against its numpy form and the calls ``sell_ad_slots`` makes
    (``random_in_rows`` over the accounts' recent items, the follow graph's lookup): the
    same slots, bids, counts per merchant, viewers, items, edges and targetings, in the
    trace's dtypes; nothing sold, everything sold, an account without recent items (the
    last recent item, as ``take`` reads -1), viewers without edges, fans of the account."""
    from simulator.feeds import numpy_kernels
    from simulator.feeds.kernels import ad_rows
    from simulator.state.arrays import random_in_rows

    rng = np.random.default_rng(71)
    for trial in range(80):
        n_users, n_creators = 40, 15
        per_user = rng.integers(0, 8, n_users)
        per_user[0] = n_creators
        indptr = np.zeros(n_users + 1, np.int64)
        np.cumsum(per_user, out=indptr[1:])
        creator = np.concatenate([np.sort(rng.choice(n_creators, k, replace=False)) for k in per_user]
                                 ).astype(np.int32)
        n_m = int(rng.integers(1, 6))
        account = rng.choice(n_creators, n_m, replace=False).astype(np.int32)
        per_creator = rng.integers(0, 4, n_creators)
        per_creator[account[0]] = 0  # (an account without recent items)
        recent_ptr = np.zeros(n_creators + 1, np.int64)
        np.cumsum(per_creator, out=recent_ptr[1:])
        recent_items = rng.integers(0, 500, max(int(recent_ptr[-1]), 1)).astype(np.int64)
        recent_ptr[-1] = len(recent_items)
        n_bids = int(rng.integers(1, 10))
        bid_m = rng.integers(0, n_m, n_bids).astype(np.int64)
        bid_t = rng.integers(0, 3, n_bids).astype(np.int64)
        supply = int(rng.integers(0, 150))
        assigned = np.where(rng.random(supply) < [0.6, 0.0, 1.0][trial % 3], rng.integers(0, n_bids, supply), -1
                            ).astype(np.int64)
        users = rng.integers(0, n_users, supply).astype(np.int32)
        u = rng.random(int(np.count_nonzero(assigned >= 0)))
        args = (assigned, bid_m, bid_t, account, recent_ptr, recent_items, u, users, indptr, creator, n_m)
        got = ad_rows(*args)
        want = numpy_kernels.ad_rows(*args)
        s = np.flatnonzero(assigned >= 0)
        merchant = bid_m[assigned[s]]
        item = recent_items.take(random_in_rows(recent_ptr, account[merchant].astype(np.int64), _FixedUniforms(u)))
        edge = np.array([indptr[users[q]] + np.flatnonzero(creator[indptr[users[q]] : indptr[users[q] + 1]]
                                                           == account[m])[0]
                         if (creator[indptr[users[q]] : indptr[users[q] + 1]] == account[m]).any() else -1
                         for q, m in zip(s, merchant)], dtype=np.int64)
        exp = (s, assigned[s], np.bincount(merchant, minlength=n_m), users[s], item, edge, bid_t[assigned[s]])
        for g, w, x, dtype in zip(got, want, exp, (np.int64,) * 3 + (np.int32,) * 3 + (np.int8,)):
            assert g.dtype == w.dtype == dtype and np.array_equal(g, w) and np.array_equal(g, x), trial


# ---- RANK16 (issue #17, sixteenth pass)


def test_score_top_k_row_loop_gives_the_stable_sorts_lists_on_varied_blocks():
    """Guards kernels.score_top_k's written-out selection (the bound, the compaction and
    the count over a length rounded up to RANK_PAD, in the row loop): on random blocks of
    1 to RANK_COLS + 12 columns, lists of 1 to 16 places, rows wanting none, some or more
    places than the list, no column capped, some, nearly all (a bound of -inf) or all,
    continuous keys and keys on a coarse or a fine grid at temperature 0 (ties at and above
    the last place, or at the last place only), fans on several candidates of a creator, a noise table that wraps round,
    the picks are numpy's stable sort's of the noisy keys (ties to the lower column, -inf
    never chosen), as score then cap then gumbel_top_k give them."""
    rng = np.random.default_rng(16)
    full = gumbel_table(rng)
    for case in range(400):
        rows = int(rng.integers(1, 40))
        m = int(rng.integers(1, RANK_COLS + 13))
        k = int(rng.integers(1, 17))
        grid = case % 3  # continuous, coarse grid, fine grid
        temp = 0.0 if grid and case % 2 == 1 else float(rng.choice([0.3, 1.0]))
        table = full[:64].copy() if case % 5 == 0 and m <= 64 else full  # (a row reads the table once at most)
        if grid:
            steps = 3 if grid == 1 else 64
            match = (rng.integers(0, steps, (rows, m)) / 2).astype(np.float32)
            item = (rng.integers(0, 2, m) / 2).astype(np.float32)
        else:
            match = rng.random((rows, m)).astype(np.float32)
            item = rng.standard_normal(m).astype(np.float32)
        capped = rng.random(m) < [0.0, 0.3, 0.9, 1.0][case % 4]
        n_cre = int(rng.integers(1, m + 1))
        inv = rng.integers(0, n_cre, m)
        by_creator = np.argsort(inv, kind="stable")
        cand_ptr = np.searchsorted(inv[by_creator], np.arange(n_cre + 1))
        pairs = np.unique(rng.integers(0, rows, 2 * rows) * n_cre + rng.integers(0, n_cre, 2 * rows))
        f_row, f_col = pairs // n_cre, pairs % n_cre
        boost = (rng.integers(0, 3, len(pairs)) / 2 if grid else rng.random(len(pairs))).astype(np.float32)
        w = np.float32(2.0)
        key = w * match + item
        for r, c, b in zip(f_row, f_col, boost):  # (the kernel adds a row's fan entries in this order)
            key[r, inv == c] += b
        key[:, capped] = -np.inf
        want = np.full((rows, k), -1, np.int64)
        want[:, :min(k, m)] = numpy_twin(key, k, temp, 7 + case, table)  # (-1 past the columns)
        k_row = rng.integers(0, k + 3, rows)
        k_row[0] = k
        got = score_top_k(match, w, item, capped, np.searchsorted(f_row, np.arange(rows + 1)), f_col, boost,
                          cand_ptr, by_creator, k, k_row, temp, 7 + case, table)
        prefix = np.arange(k)[None, :] < np.minimum(k_row, k)[:, None]
        assert np.array_equal(got, np.where(prefix, want, -1)), case



def test_tally_orders_is_the_ledgers_bincounts():
    """Guards kernels.tally_orders (issue #17, sixteenth pass: a batch of orders added to
    the ledger's tallies in one pass) against its numpy form (each tally plus the
    ``np.bincount`` of its orders, as the ledger added them before): the same tallies bit
    for bit, from tallies that already hold sums (the batch's sum and the add are two
    roundings) and counts; no orders, one, no new buyer, every order new and from ads,
    bins without orders, several platforms."""
    from simulator.feeds import numpy_kernels

    rng = np.random.default_rng(71)
    for trial in range(60):
        P, M, C, D, S, T = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 30)), 4, 11, 4
        n = [0, 1][trial] if trial < 2 else int(rng.integers(0, 400))
        platform, merchant, seller = (rng.integers(0, k, n).astype(np.int64) for k in (P, M, C))
        domain, source, tier = (rng.integers(0, k, n).astype(np.int64) for k in (D, S, T))
        new = rng.random(n) < [0.4, 0.0, 1.0][trial % 3]
        if trial % 5 == 4:
            source[:] = 2
        price, commission, cut, cog = (rng.lognormal(3.0, 1.5, n) for _ in range(4))
        shapes = [((M, D), float), ((M,), int), ((M,), int), ((M,), int), ((M,), float), ((M,), float), ((M,), float),
                  ((C, D), float), ((C,), float), ((C, T), int), ((P, D), float), ((P,), float), ((P,), float),
                  ((P,), float), ((P, M), float), ((P,), float), ((P, M), float), ((P, T), float), ((P, T), float),
                  ((P, S), float)]
        tallies = [rng.lognormal(5.0, 2.0, shape) * (rng.random(shape) < 0.7) if kind is float
                   else rng.integers(0, 50, shape) for shape, kind in shapes]
        out = []
        for fn in (tally_orders, numpy_kernels.tally_orders):
            acc = [x.copy() for x in tallies]
            fn(platform, merchant, seller, domain, source, tier, new, price, commission, cut, cog, 2, *acc)
            out.append(acc)
        for j, (g, w) in enumerate(zip(*out)):
            assert g.dtype == w.dtype and g.shape == w.shape and g.tobytes() == w.tobytes(), (trial, j)
        # against the definitions (a few tallies)
        got = out[0]
        ad = new & (source == 2)
        assert np.array_equal(got[0], tallies[0] + np.bincount(merchant * D + domain, weights=price,
                                                               minlength=M * D).reshape(M, D))
        assert np.array_equal(got[2], tallies[2] + np.bincount(merchant[new], minlength=M))
        assert np.array_equal(got[3], tallies[3] + np.bincount(merchant[ad], minlength=M))
        assert np.array_equal(got[6], tallies[6] + np.bincount(merchant, weights=cog, minlength=M))
        assert np.array_equal(got[8], tallies[8] + np.bincount(seller, weights=cut, minlength=C))
        assert np.array_equal(got[11], tallies[11] + np.bincount(platform, weights=commission, minlength=P))
        assert np.array_equal(got[16], tallies[16] + np.bincount(platform[ad] * M + merchant[ad],
                                                                 minlength=P * M).reshape(P, M))
        assert np.array_equal(got[19], tallies[19] + np.bincount(platform * S + source, weights=price,
                                                                 minlength=P * S).reshape(P, S))


def test_commerce_chunked_kernels_match_their_numpy_forms_whatever_the_thread_count():
    """selling_edges_in_rows, join_candidates and visiting_edges run in parallel over
    fixed chunks (COMMERCE_CHUNK rows or edges) whose results are moved together in chunk
    order: against their numpy forms on inputs of several chunks, with chunks that keep
    nothing, chunks that keep everything and a last partial chunk, on one thread and on
    all of them."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    C = kernels.COMMERCE_CHUNK
    rng = np.random.default_rng(17)
    n_users, n_creators, P = 3 * C + 123, 40, 3
    degree = rng.integers(0, 6, n_users)
    degree[C:2 * C] = 0  # a chunk of empty rows
    src = np.repeat(np.arange(n_users), degree).astype(np.int32)
    creator = rng.integers(0, n_creators, len(src)).astype(np.int32)
    ok = rng.random(n_creators) < 0.5
    home = rng.integers(0, P, n_creators).astype(np.int8)
    uses = rng.random((n_users, P)) < 0.6
    uses[:C // 2] = False  # rows that keep nothing
    uses[2 * C:2 * C + 50] = True
    indptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    bits = np.where(ok, np.left_shift(np.uint64(1), home.astype(np.uint64)), np.uint64(0))
    want_sell = nk.selling_edges(src, creator, ok, home, uses)
    E = len(src)
    intimacy = rng.random(E).astype(np.float32)
    intimacy[: 2 * C] = np.maximum(intimacy[: 2 * C], np.float32(0.5))  # edges that all pass the threshold
    edge = np.sort(rng.choice(E, 4 * C + 7, replace=False)).astype(np.int64)
    members = np.sort(rng.choice(E, E // 3, replace=False)).astype(np.int64)
    members[: C // 4] = np.sort(rng.choice(edge[:C], C // 4, replace=False))  # stays ascending: all below the rest
    members = np.unique(members)
    t = np.float32(0.3)
    want_join = nk.join_candidates(edge, intimacy, members, t)
    draw = rng.random(len(edge), dtype=np.float32)
    draw[C:2 * C] = 1.0  # a chunk without visits
    rate = np.float32(0.7)
    want_visit = nk.visiting_edges(edge, draw, intimacy, rate)
    assert 0 < len(want_sell) < E and 0 < len(want_join) < len(edge) and 0 < len(want_visit) < len(edge)
    before = numba.get_num_threads()
    try:
        for threads in (1, max(1, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(threads)
            got = kernels.selling_edges_in_rows(indptr, creator, bits, uses)
            assert got.dtype == np.int64 and np.array_equal(got, want_sell)
            got = kernels.join_candidates(edge, intimacy, members, t)
            assert got.dtype == np.int64 and np.array_equal(got, want_join)
            got = kernels.visiting_edges(edge, draw, intimacy, rate)
            assert got.dtype == np.int64 and np.array_equal(got, want_visit)
    finally:
        numba.set_num_threads(before)
