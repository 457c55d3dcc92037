"""How users react to impressions (one logistic model)."""

import numpy as np

from simulator import TrafficModel
from simulator.audience.engagement import react
from simulator.config import EngagementConfig
from simulator.feeds.impressions import Impressions
from simulator.state.vocabulary import RECOMMEND

from ..conftest import small

OFFSETS = ("offset_complete", "offset_like", "offset_comment", "offset_share")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def constructed_impressions(levels: list[float | None], n: int, match: float, item_quality: float):
    """``n`` impressions per intimacy level, all of one item with the same interest match.
    ``None`` is a non-fan (edge -1); a number is a fan whose edge has that intimacy."""
    edge_intimacy = np.array([w for w in levels if w is not None], np.float32)
    edge, k = [], 0
    for w in levels:
        edge.append(np.full(n, -1 if w is None else k, np.int64))
        k += w is not None
    edge = np.concatenate(edge)
    m = len(edge)
    imp = Impressions(user=np.arange(m, dtype=np.int32), item=np.zeros(m, np.int64),
                      source=np.full(m, RECOMMEND, np.int8), edge=edge, match=np.full(m, match, np.float32))
    return imp, np.array([item_quality], np.float32), edge_intimacy


def test_engagement_follows_the_logistic_intimacy_term():
    """Guards the intimacy term of the engagement model: at equal interest match and item
    quality, each action's rate at each intimacy (non-fans at 0) is
    sigmoid(intercept + w_match·match + w_quality·quality + w_intimacy·intimacy + offset)
    within 5 standard errors, and fans' rates rise with intimacy. Fails when w_intimacy
    is dropped (in ``react`` or the kernel) or the fan's edge intimacy is not looked up."""
    cfg = EngagementConfig()
    levels, n, match, quality = [None, 0.2, 0.5, 0.9], 40_000, 0.3, 0.4
    imp, q, w_edge = constructed_impressions(levels, n, match, quality)
    r = react(imp, q, w_edge, cfg, np.random.default_rng(0))
    base = cfg.intercept + cfg.w_match * match + cfg.w_quality * quality
    like_rates = []
    for j, w in enumerate(levels):
        rows = slice(j * n, (j + 1) * n)
        assert np.allclose(r.intimacy[rows], 0.0 if w is None else w)
        z = base + cfg.w_intimacy * (w or 0.0)
        for name, hit in zip(OFFSETS, r.columns()[:4]):
            p = sigmoid(z + getattr(cfg, name))
            rate = hit[rows].mean()
            assert abs(rate - p) < 5 * np.sqrt(p * (1 - p) / n) + 1e-4, (w, name, rate, p)
        like_rates.append(r.like[rows].mean())
    assert like_rates == sorted(like_rates) and like_rates[-1] > 2 * like_rates[0]


def test_only_engaged_non_fans_follow_at_the_follow_rate():
    """Guards the follow decision: fans never follow again; a non-fan follows only after
    completing or liking, then with probability sigmoid(z + offset_follow)."""
    cfg = EngagementConfig(offset_follow=-0.5)
    n, match, quality = 60_000, 0.5, 0.5
    imp, q, w_edge = constructed_impressions([None, 0.5], n, match, quality)
    r = react(imp, q, w_edge, cfg, np.random.default_rng(1))
    fan = imp.edge >= 0
    assert not r.follow[fan].any()
    assert not r.follow[~r.engaged].any()
    engaged_strangers = ~fan & r.engaged
    p = sigmoid(cfg.intercept + cfg.w_match * match + cfg.w_quality * quality + cfg.offset_follow)
    k = engaged_strangers.sum()
    assert abs(r.follow[engaged_strangers].mean() - p) < 5 * np.sqrt(p * (1 - p) / k)


def test_a_world_without_follows_reacts():
    """graph.mean_follows = 0 is allowed: reactions must not index an empty follow graph
    (it raised IndexError before)."""
    m = TrafficModel(small({"graph": {"mean_follows": 0.0}}), seed=1, agents=False)
    assert m.follows.n_edges == 0
    m.step()  # the first day: nobody follows anybody yet
    r = m.day_logs[0].reactions
    assert len(r.intimacy) > 0 and not r.intimacy.any()
    m.step()  # engaged viewers followed: the second day has fans
    assert m.follows.n_edges > 0 and m.day_logs[0].reactions.intimacy.any()


def test_the_reactions_compiled_pass_draws_what_its_numpy_form_and_the_old_passes_draw():
    """Guards kernels.react_in_chunks (issue #17: the reactions of a large day in one
    parallel pass, the viewers' intimacy, the items' quality and the draws chunk by chunk)
    against its numpy form (numpy_kernels.react_in_chunks) and the passes it replaced
    (kernels.fan_intimacy, a gather of the qualities, kernels.draw_actions), bit for bit:
    the five actions and each impression's intimacy, over chunk boundaries, a counter that
    wraps past 2**64, fans and non-fans, no impression, one, and a graph without edges."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(21)
    coef, offsets = np.array([-1.3, 2.1, 1.7, 3.3]), np.array([1.5, -0.5, -2.0, -2.5, -4.5])
    for n, n_edges, n_items in [(300_001, 5000, 700), (4097, 30, 3), (1, 1, 1), (0, 10, 5), (5000, 0, 20)]:
        edge = np.where(rng.random(n) < 0.4, rng.integers(0, max(n_edges, 1), n), -1).astype(np.int32)
        if n_edges == 0:
            edge[:] = -1
        edge_intimacy = rng.random(n_edges).astype(np.float32)
        item = rng.integers(0, n_items, n).astype(np.int32)
        quality = rng.random(n_items).astype(np.float32)
        match = rng.random(n).astype(np.float32)
        for seed in (42, 2**63 - 5):
            got, intim = kernels.react_in_chunks(edge, edge_intimacy, item, quality, match, coef, offsets, seed)
            want, want_intim = nk.react_in_chunks(edge, edge_intimacy, item, quality, match, coef, offsets, seed)
            old_intim, fan = kernels.fan_intimacy(edge, edge_intimacy)
            old = kernels.draw_actions(match, quality[item], old_intim, fan, coef, offsets, seed)
            assert got.shape == (5, n) and got.dtype == np.bool_ and intim.dtype == np.float32
            assert np.array_equal(got, want) and np.array_equal(got, old)
            assert np.array_equal(intim.view(np.int32), want_intim.view(np.int32))
            assert np.array_equal(intim.view(np.int32), old_intim.view(np.int32))
            if n > 1000:
                assert got[4].any() and got[2].any() and not got[4][edge >= 0].any()


def test_the_reactions_fast_exponents_are_within_their_bound_of_exp():
    """Guards kernels._exp_near (sixteenth pass: react_in_chunks' exponents by a
    vectorized polynomial, its comparisons within 2**-28 of 1 drawn again on numba's
    exp, which is sound while the polynomial is within far less than that): within
    2**-45 of math.exp on a dense grid and random values over its whole range
    (|x| <= 300), at the ends, at 0 and at the halfway points k·ln 2 / 2 where the
    reduction switches k."""
    import math

    from numba import njit

    from simulator.feeds import kernels

    @njit
    def exp_near(x):
        out = np.empty_like(x)
        for i in range(len(x)):
            out[i] = kernels._exp_near(x[i])
        return out

    rng = np.random.default_rng(16)
    lim = kernels._EXP_NEAR
    halves = np.arange(-866, 867) * (math.log(2) / 2)
    x = np.concatenate([np.linspace(-lim, lim, 200_001), rng.uniform(-lim, lim, 200_000), rng.normal(0, 4, 100_000),
                        [-lim, lim, 0.0, -0.0, 5e-324, -1e-300], halves[np.abs(halves) <= lim],
                        np.nextafter(halves, np.inf)[np.abs(halves) < lim]])
    want = np.array([math.exp(v) for v in x])
    assert np.abs(exp_near(x) / want - 1.0).max() < 2.0 ** -45


def test_the_reactions_close_calls_are_drawn_on_the_exact_exp():
    """Guards react_in_chunks' fallback (sixteenth pass): an impression whose ``u · (1 +
    e · scale)`` lies within 2**-28 of 1, an exponent out of the fast range or NaN, or a
    scale beyond 10**±150, gets the outcome of numba's exp (kernels.draw_actions), bit
    for bit. The intercept is set so that one impression's action lands within a few
    ulps of 1 (its first action, or the follow of a non-fan who surely completed), where
    the fast exponent alone decides some of them the other way (6 of 400: counted); then exponents
    near ±300 and beyond, a NaN one and extreme offsets."""
    from numba import njit

    from simulator.feeds import kernels
    from simulator.feeds.numpy_kernels import splitmix64

    exp_near = njit(lambda v: kernels._exp_near(v))
    rng = np.random.default_rng(17)
    n, chunk = 5000, kernels.REACT_CHUNK
    edge = np.full(n, -1, np.int32)
    edge[::3] = np.arange(0, n, 3) % 50
    edge_intimacy = rng.random(50).astype(np.float32)
    item = rng.integers(0, 40, n).astype(np.int32)
    quality = rng.random(40).astype(np.float32)
    old_intim, fan = kernels.fan_intimacy(edge, edge_intimacy)

    def check(match, coef, offsets, seed):
        got, intim = kernels.react_in_chunks(edge, edge_intimacy, item, quality, match, coef, offsets, seed)
        want = kernels.draw_actions(match, quality[item], old_intim, fan, coef, offsets, seed)
        assert np.array_equal(got, want) and np.array_equal(intim.view(np.int32), old_intim.view(np.int32))
        return got

    flips = 0
    for t in range(400):
        seed, i = int(rng.integers(2**63)), int(rng.integers(n))
        a = 4 if edge[i] < 0 and t % 2 else 0
        u = ((int(splitmix64(np.array([(seed + 8 * i + a) % 2**64], np.uint64))[0]) >> 11) + 0.5) / 2.0**53
        match = rng.random(n).astype(np.float32)
        offsets = np.zeros(5)
        if a == 4:
            offsets[0] = 40.0  # (completes: sigmoid(z + 40))
        rest = np.float64(match[i]) + np.float64(quality[item[i]]) + np.float64(old_intim[i])
        coef = np.array([-np.log(1.0 / u - 1.0) - rest, 1.0, 1.0, 1.0])  # u · (1 + exp(-z)) = 1
        got = check(match, coef, offsets, seed)
        x = -(coef[0] + coef[1] * np.float64(match[i]) + coef[2] * np.float64(quality[item[i]])
              + coef[3] * np.float64(old_intim[i]))
        flips += got[a, i] != (u * (1.0 + exp_near(x)) < 1.0)
    assert flips > 0  # (the fast exponent alone would have drawn some of these the other way)
    match = rng.random(n).astype(np.float32)
    for intercept in (-299.5, 299.5, -301.0, 301.0, np.nan):  # (beyond ±300: every chunk exact)
        check(match, np.array([intercept, 1.0, 1.0, 1.0]), np.zeros(5), 5)
    match[chunk + 7] = np.nan  # (one chunk's exponent NaN)
    check(match, np.array([-1.0, 1.0, 1.0, 1.0]), np.zeros(5), 6)
    check(rng.random(n).astype(np.float32), np.array([-1.0, 1.0, 1.0, 1.0]), np.array([0.0, 400.0, -400.0, 1.0, 2.0]), 7)


def test_action_codes_packed_eight_at_a_time_are_the_bytewise_codes():
    """Guards engagement.action_codes (fourteenth pass: contiguous masks packed as uint64
    words, the last n % 8 impressions byte by byte) against the plain definition
    (``mask_a << a`` or'ed byte by byte), bit for bit: lengths 0, 1, 7, 8, 9 and longer,
    the rows of a (5, n) array (unaligned when n % 8 != 0, as react's are), strided
    masks (the byte path), all set and none set."""
    from simulator.audience.engagement import action_codes

    def plain(*masks):
        out = np.zeros(len(masks[0]), dtype=np.uint8)
        for a, m in enumerate(masks):
            out |= (np.asarray(m, dtype=bool).astype(np.uint8) << a).astype(np.uint8)
        return out

    rng = np.random.default_rng(14)
    for n in (0, 1, 7, 8, 9, 16, 63, 64, 65, 1003, 84_000, 84_005):
        acts = rng.random((5, n)) < np.array([0.5, 0.2, 0.05, 0.02, 0.3])[:, None]
        for masks in (list(acts), [acts[a].copy() for a in range(5)], list(np.ones((5, n), bool)),
                      list(np.zeros((5, n), bool))):
            got = action_codes(*masks)
            assert got.dtype == np.uint8 and got.shape == (n,)
            assert np.array_equal(got, plain(*masks))
        wide = rng.random((5, 2 * n)) < 0.4
        strided = [wide[a, ::2] for a in range(5)]
        assert np.array_equal(action_codes(*strided), plain(*strided))
