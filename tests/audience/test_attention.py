"""Users' attention across platforms, adopting and dropping platforms (docs/ODD.md 7.11,
audience/attention.py)."""

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.audience.activity import LAPSE_DAYS

from ..conftest import small


def two_platforms(attention: dict | None = None, overrides: dict | None = None, douyin: dict | None = None,
                  kuaishou: dict | None = None) -> dict:
    """The small world on a Douyin-like and a Kuaishou-like platform, ``[attention]`` set."""
    over = {"platforms": {"douyin": {"adoption": 0.8, **(douyin or {})},
                          "kuaishou": {"policy": "kuaishou", "adoption": 0.6, **(kuaishou or {})}}}
    if attention is not None:
        over["attention"] = attention
    sc = small(over)
    if overrides:
        from simulator.config.loading import deep_merge
        sc = deep_merge(sc, overrides)
    return sc


def metrics(sc: dict, days: int, seed: int = 3) -> pd.DataFrame:
    m = TrafficModel(sc, seed=seed)
    m.run(days)
    return m.metrics_frame()


# ---------------------------------------------------------------------------- off = the static model


def test_off_is_the_static_model():
    """Guards that attention and multi-homing are off by default and inert when off: a
    two-platform scenario with ``[attention]`` and ``creators.multi_homing`` explicitly off
    (their other knobs far from the defaults) gives exactly the default's metrics, every
    column, every day. Fails when an off mechanism scales the feeds, changes who uses a
    platform, blocks creators, or draws from another mechanism's stream."""
    days = 5
    off = two_platforms({"enabled": False, "memory": 1.0, "sensitivity": 50.0, "adopt_rate": 1.0, "adopt_base": 0.5,
                         "drop_share": 0.9, "drop_days": 1, "entry_share": 0.5},
                        {"creators": {"multi_homing": False, "cross_post_share": 0.0, "expand_rate": 1.0,
                                      "expand_margin": 0.0, "expand_window": 1}})
    default = metrics(two_platforms(), days)
    pd.testing.assert_frame_equal(metrics(off, days), default)
    assert (default["adoptions"] == 0).all() and (default["creators_expanded"] == 0).all()


def test_same_seed_same_run_when_on():
    """Guards determinism with attention, adoption, drops and expansion on: the same
    scenario and seed give identical metrics, another seed others (the streams are seeded
    from the scenario, spawn keys (15, 1) and (15, 2)). Fails on an unseeded generator."""
    sc = two_platforms({"enabled": True, "memory": 2.0, "adopt_rate": 0.3, "drop_share": 0.3, "drop_days": 2},
                       {"creators": {"multi_homing": True, "cross_post_share": 0.3, "expand_rate": 0.3,
                                     "expand_window": 2}})
    a, b, c = metrics(sc, 5), metrics(sc, 5), metrics(sc, 5, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


# ---------------------------------------------------------------------------- attention moves


def test_attention_moves_toward_the_more_satisfying_platform():
    """Guards the share rule (ODD 7.11): a ← a + (softmax(sensitivity · S) − a)/memory.
    Two platforms with the same day-0 time per user, one with ad_load 0.4 and a high
    ad_aversion (its users' satisfaction falls, measured with activity off): its time
    share falls well below the other's and below its day-0 value, and every user's
    shares still sum to 1 over the platforms they use. Fails when the shares do not move
    (update neutralised) or move away from satisfaction."""
    sc = two_platforms({"enabled": True, "memory": 3.0, "sensitivity": 10.0},
                       douyin={"adoption": 1.0, "ad_load": 0.4, "activity": {"ad_aversion": 3.0}},
                       kuaishou={"adoption": 1.0, "daily_active": 0.7, "feed_slots": 12, "ad_load": 0.0})
    m = TrafficModel(sc, seed=2)
    m.run(10)
    df = m.metrics_frame()
    share = df.pivot(index="step", columns="platform", values="time_share")
    assert abs(share["douyin"].iloc[0] - 0.5) < 0.02  # day 0: the static split
    assert share["douyin"].iloc[-1] < 0.35 < 0.65 < share["kuaishou"].iloc[-1]
    uses = m.users.uses
    np.testing.assert_allclose(m.attention.share.sum(axis=1)[uses.any(axis=1)], 1.0, atol=1e-9)
    assert (m.attention.share[~uses] == 0).all()


def test_a_users_time_is_moved_not_created():
    """Guards time conservation (ODD 7.11): a user's expected slots summed over their
    platforms, Σ_p min(1, o₀f) · K₀ · o₀f / min(1, o₀f), equal their day-0 budget T_u
    whatever the shares, also past the open-probability cap (where the rest goes into the
    session); and the slots offered over all platforms stay within a few percent of day
    0's while the time shares move far. Fails when the part above the cap is lost
    (session scale neutralised) or the factor is not share · T / w."""
    sc = two_platforms({"enabled": True, "memory": 2.0, "sensitivity": 15.0},
                       douyin={"adoption": 1.0, "ad_load": 0.45, "daily_active": 0.6, "activity": {"ad_aversion": 4.0}},
                       kuaishou={"adoption": 1.0, "daily_active": 0.6, "ad_load": 0.0})
    m = TrafficModel(sc, seed=4)
    m.run(8)
    total = np.zeros(m.users.n)
    for platform in m.platforms.values():
        p, cfg = platform.index, platform.cfg
        o = np.broadcast_to(m.activity.open_probability(platform), (m.users.n,))
        scale = m.attention.session_scale(p, cfg.daily_active, np.arange(m.users.n))
        total += np.where(m.users.uses[:, p], o * cfg.feed_slots * scale, 0.0)
    assert (m.attention.factor(1) * 0.6 > 1).mean() > 0.2  # the cap binds for many
    np.testing.assert_allclose(total, m.attention.budget, rtol=1e-9)
    df = m.metrics_frame()
    share = df.pivot(index="step", columns="platform", values="time_share")
    assert share["kuaishou"].iloc[-1] > 0.75
    slots = (df[df.platform != "all"].assign(s=lambda d: d.active_users * d.slots_per_active)
             .groupby("step")["s"].sum())
    assert abs(slots.iloc[-1] / slots.iloc[0] - 1) < 0.05


# ---------------------------------------------------------------------------- adopting and dropping


def test_no_adoption_without_adopt_rate():
    """Guards that adoption needs adopt_rate or adopt_base: with both 0 (attention on)
    nobody adopts and users_of stays the day-0 count. Fails when adoption is drawn
    whatever the rates."""
    m = TrafficModel(two_platforms({"enabled": True, "adopt_rate": 0.0, "adopt_base": 0.0}), seed=1)
    before = m.users.uses.copy()
    m.run(4)
    assert (m.users.uses == before).all()
    assert (m.metrics_frame()["adoptions"] == 0).all()


def test_adoption_spreads_through_friends():
    """Guards the contagion rule (ODD 7.11): P(adopt p) = adopt_rate × share of friends
    using p. After one day, among the non-users of Kuaishou, the adoption rate of those
    with many Kuaishou friends is far above that of those with few, and each group's
    count is within 5 standard errors of Σ adopt_rate × friend share; the adopters get
    entry_share of their attention and the reference satisfaction. Fails when the
    friends' share is ignored (e.g. replaced by a constant)."""
    sc = two_platforms({"enabled": True, "adopt_rate": 0.6, "entry_share": 0.2},
                       douyin={"adoption": 1.0}, kuaishou={"adoption": 0.3})
    m = TrafficModel(sc, seed=6)
    before = m.users.uses[:, 1].copy()
    social = m.social
    deg = np.diff(social.indptr)
    src = np.repeat(np.arange(m.users.n), deg)
    frac = np.bincount(src, weights=before[social.indices], minlength=m.users.n) / np.maximum(deg, 1)
    m.step()
    new = m.users.uses[:, 1] & ~before
    cand = ~before
    hi = cand & (frac > np.median(frac[cand]))
    lo = cand & ~hi
    for group in (hi, lo):
        p = 0.6 * frac[group]
        assert abs(new[group].sum() - p.sum()) < 5 * np.sqrt((p * (1 - p)).sum()) + 1
    assert new[hi].mean() > 2 * new[lo].mean() + 0.02
    assert m.metrics_frame().query("platform == 'kuaishou'")["adoptions"].iloc[-1] == new.sum()
    np.testing.assert_allclose(m.attention.share[new, 1], 0.2)
    assert (m.activity.satisfaction[new, 1] == np.float32(0.5)).all()
    # an adopter is not lapsed before it had LAPSE_DAYS days to open the platform (it
    # counts from its adoption, as a day-0 user counts from the start; mutation checked:
    # without the reset every adopter who has not opened yet is lapsed)
    assert (m.activity.last_open[new, 1] == m.day - 1).all()


def test_a_new_adopter_is_not_lapsed():
    """Guards lapsed_users for adopters (ODD 7.11): a user who adopts a platform on day
    t counts from t, as a day-0 user counts from the start, so the adopters of the last
    day of a 10-day run (who have not opened it yet: adoption runs after the feeds) are
    not lapsed. Mutation checked: without the reset of their last open they all are."""
    sc = two_platforms({"enabled": True, "adopt_rate": 0.3, "entry_share": 0.2},
                       douyin={"adoption": 1.0}, kuaishou={"adoption": 0.3})
    m = TrafficModel(sc, seed=3)
    m.run(9)
    before = m.users.uses[:, 1].copy()
    m.step()
    new = m.users.uses[:, 1] & ~before
    assert new.sum() > 20
    stale = m.activity.last_open[:, 1] <= m.day - LAPSE_DAYS
    assert not stale[new].any()


def test_drop_below_drop_share_but_never_the_last_platform():
    """Guards the drop rule (ODD 7.11): a platform whose share stayed below drop_share for
    drop_days days is dropped (users_of falls, drops counted), but never a user's last
    platform: with drop_share 0.6 both platforms of a two-platform user are below it, and
    every user who used a platform still uses one. Dropped users leave the fan groups of
    accounts homed there. Fails when the last-platform guard is removed or users never
    drop."""
    sc = two_platforms({"enabled": True, "memory": 2.0, "sensitivity": 10.0, "drop_share": 0.6, "drop_days": 2},
                       {"commerce": {"groups": {"join_intimacy": 0.0, "join_rate": 1.0}}},
                       douyin={"adoption": 1.0, "ad_load": 0.4, "activity": {"ad_aversion": 3.0}},
                       kuaishou={"adoption": 1.0, "ad_load": 0.0})
    m = TrafficModel(sc, seed=3)
    had = m.users.uses.any(axis=1)
    m.run(6)
    df = m.metrics_frame()
    assert df.query("platform == 'douyin'")["drops"].sum() > 0.3 * m.users.n
    assert (m.users.uses.any(axis=1) == had).all()
    assert m.users.uses.sum() < 2 * m.users.n * 0.7
    # nobody who dropped Douyin is in a fan group of a Douyin-homed account
    f = m.follows
    member = m.commerce.groups.member_edges()
    member = member[m.creators.home[f.creator[member]] == 0]
    assert m.users.uses[f.src[member], 0].all()


def test_no_drops_at_drop_share_zero():
    """Guards that drop_share 0 means nobody drops, however unequal the shares."""
    sc = two_platforms({"enabled": True, "memory": 1.0, "sensitivity": 50.0, "drop_share": 0.0, "drop_days": 1},
                       douyin={"ad_load": 0.45, "activity": {"ad_aversion": 5.0}})
    m = TrafficModel(sc, seed=3)
    before = m.users.uses.copy()
    m.run(4)
    assert (m.users.uses == before).all()


def test_expected_dau_follows_the_users_and_their_attention():
    """Guards that ``Platform.expected_dau`` (what the pools and the exposure cap are shares
    of) follows adoption and attention: it is the sum of today's open probabilities over
    the platform's current users, and the day's active users match it within 5 standard
    errors after Kuaishou's users have more than doubled by contagion. Fails when it stays
    users × adoption × daily_active."""
    sc = two_platforms({"enabled": True, "adopt_rate": 0.8, "adopt_base": 0.1},
                       douyin={"adoption": 1.0}, kuaishou={"adoption": 0.2})
    m = TrafficModel(sc, seed=8)
    m.run(4)
    ks = m.platforms["kuaishou"]
    assert m.users.uses[:, 1].sum() > 2.2 * 0.2 * m.users.n
    o = np.broadcast_to(m.activity.open_probability(ks), (m.users.n,))[m.users.uses[:, 1]]
    assert abs(ks.expected_dau - o.sum()) < 1e-6 * o.sum()
    expected = ks.expected_dau
    m.step()
    assert abs(ks.policy.pools.expected_dau - expected) < 1e-9 * expected  # the pools took today's
    assert abs(ks.active_today - expected) < 5 * np.sqrt((o * (1 - o)).sum())


MULTI_HOMING_KNOBS = {"attention.memory": 6.0, "attention.sensitivity": 2.0, "attention.adopt_rate": 0.9,
                      "attention.adopt_base": 0.1, "attention.entry_share": 0.3, "attention.drop_share": 0.45,
                      "attention.drop_days": 2, "creators.cross_post_share": 0.6, "creators.expand_rate": 0.8,
                      "creators.expand_margin": 3.0, "creators.expand_window": 3}


def _multi_homing_world(settings: dict) -> pd.DataFrame:
    sc = two_platforms({"enabled": True, "memory": 2.0, "sensitivity": 10.0, "adopt_rate": 0.3, "adopt_base": 0.02,
                        "drop_share": 0.3, "drop_days": 1},
                       {"creators": {"multi_homing": True, "cross_post_share": 0.2, "expand_rate": 0.3,
                                     "expand_window": 2}},
                       douyin={"ad_load": 0.3})
    return TrafficModel(sc, seed=2, agents=False, **settings).run(5).metrics_frame()


def test_multi_homing_knobs_bite():
    """Each knob that acts only with attention or multi-homing on changes the run of a
    world where both are on (tests/config/test_knobs_bite.py exempts them from its base
    world, where they are off)."""
    base = _multi_homing_world({})
    dead = [key for key, value in MULTI_HOMING_KNOBS.items() if _multi_homing_world({key: value}).equals(base)]
    assert not dead


def test_equal_satisfaction_keeps_the_day_0_split():
    """Guards that attention moves only with satisfaction: the target is weighted by the
    platforms' expected slots (daily_active × feed_slots), so with equal satisfaction on
    two platforms of unequal daily_active the shares stay at the day-0 split whatever the
    sensitivity. Fails with an unweighted softmax (shares would drift to 50/50)."""
    sc = two_platforms({"enabled": True, "memory": 1.0, "sensitivity": 5.0},
                       douyin={"adoption": 1.0, "daily_active": 0.8}, kuaishou={"adoption": 1.0, "daily_active": 0.2})
    m = TrafficModel(sc, seed=3)
    day0 = m.attention.share.copy()
    m.activity.satisfaction[:] = 0.5  # equal satisfaction everywhere
    m.attention.update()
    np.testing.assert_allclose(m.attention.share, day0, atol=1e-12)
    np.testing.assert_allclose(day0[:, 0], 0.8)  # 0.8·12 / (0.8·12 + 0.2·12)
    m.activity.satisfaction[:, 1] = 0.7  # kuaishou now satisfies more: it gains time
    m.attention.update()
    assert (m.attention.share[:, 1] > 0.2 + 1e-3).all()


def test_a_shelf_platform_takes_no_part_in_attention():
    """Guards that attention is time in feeds: a shelf platform (no feed) gets no share,
    is never adopted or dropped through attention, and the feed platforms' shares sum to
    1 for every user of a feed platform. Fails when the shelf is counted like a feed."""
    sc = two_platforms({"enabled": True, "memory": 1.0, "adopt_base": 0.5, "drop_share": 0.6, "drop_days": 1},
                       {"platforms": {"taobao": {"policy": "douyin", "kind": "shelf", "adoption": 0.5}}})
    m = TrafficModel(sc, seed=3)
    shelf_users = m.users.uses[:, 2].copy()
    m.run(4)
    assert (m.attention.share[:, 2] == 0).all()
    np.testing.assert_array_equal(m.users.uses[:, 2], shelf_users)
    feed = m.users.uses[:, :2].any(axis=1)
    np.testing.assert_allclose(m.attention.share[feed, :2].sum(axis=1), 1.0)


@pytest.mark.parametrize("platforms", [1, 2, 3, 5, 7, 8, 9, 12])
def test_row_reductions_are_numpys_bit_for_bit(platforms):
    """Guards the row reductions column by column (state.arrays: attention's, the activity readings') (issue #17: numpy's reductions
    along the short platform axis were 2-15× slower at 1 M users): the maximum (with
    -inf for platforms not used), the float sum (numpy's sequential sum of a row below 8
    columns, its pairwise blocks from 8 on) and the any equal numpy's, bit for bit."""
    from simulator.state.arrays import row_any, row_max, row_sum

    rng = np.random.default_rng(platforms)
    n = 4000
    uses = rng.random((n, platforms)) < 0.6
    uses[:50] = False
    s = np.where(uses, rng.normal(size=(n, platforms)) * 10.0 ** rng.integers(-8, 8, (n, platforms)), -np.inf)
    e = np.where(uses, rng.random((n, platforms)) * 10.0 ** rng.integers(-8, 8, (n, platforms)), 0.0)
    assert np.array_equal(row_max(s), s.max(axis=1, keepdims=True))
    got, want = row_sum(e), e.sum(axis=1, keepdims=True)
    assert got.shape == want.shape and np.array_equal(got.view(np.int64), want.view(np.int64))
    assert np.array_equal(row_any(uses), uses.any(axis=1))


@pytest.mark.parametrize("compiled", [False, True])
def test_adoption_draws_in_one_pass_are_the_numpy_expressions(compiled):
    """Guards kernels.adopt_new and its numpy form (issue #17: the adoption contagion at
    1 M users without the (n, P) float64 counts, fractions and probabilities, friends
    counted only where a user could adopt): who adopts which platform equals
    ``~before & (draw < min(1, base + rate · friends / max(degree, 1))) & feed`` with the
    friends of count_flags_in_rows, also for draws placed exactly on the probability
    (not adopted) and one float64 step below it (adopted), users without friends and a
    platform that is not a feed."""
    from simulator.feeds import numpy_kernels
    from simulator.state.graphs import small_world_graph

    rng = np.random.default_rng(8)
    n, P = 3000, 4
    g = small_world_graph(rng.integers(0, 20, n), 10, 0.2, rng)
    indptr = g.indptr.copy()
    indptr[1:] -= np.minimum(np.cumsum(np.arange(n) == 5) * (indptr[6] - indptr[5]), indptr[1:])  # row 5 empty
    indices = np.delete(g.indices, np.arange(g.indptr[5], g.indptr[6]))
    before = rng.random((n, P)) < [0.6, 0.3, 0.05, 0.9]
    feed = np.array([True, True, True, False])
    friends = numpy_kernels.count_flags_in_rows(indptr, indices, before)
    for base, rate in ((0.01, 0.37), (0.0, 1.0), (0.3, 2.5)):
        prob = np.minimum(1.0, base + rate * (friends / np.maximum(np.diff(indptr), 1)[:, None]))
        draw = rng.random((n, P))
        draw[::3] = prob[::3]  # exactly on: not adopted
        draw[1::3] = np.nextafter(prob[1::3], 0.0)  # just below: adopted
        want = ~before & (draw < prob) & feed
        got = numpy_kernels.kernel("adopt_new", compiled)(indptr, indices, before, draw, feed, base, rate)
        assert got.dtype == bool and np.array_equal(got, want)
        assert want[1::3].any() and not want[::3].any()


def test_the_shares_move_the_same_in_the_compiled_passes(monkeypatch):
    """Guards Attention.update's compiled step 1 (issue #17, 1 M users: kernels.
    attention_exponents_rows, numpy's exp in place, kernels.attention_shares_rows,
    without the numpy form's other (users × platforms) float64 temporaries): the shares after an update are
    the numpy form's bit for bit, with satisfactions far apart, a NaN satisfaction on a
    used and on an unused platform, a user on no platform and one on a single platform."""
    from simulator.feeds import numpy_kernels

    sc = two_platforms({"enabled": True, "sensitivity": 3.7, "memory": 3, "drop_share": 0.0, "adopt_rate": 0.0},
                       {"platforms": {"third": {"policy": "douyin", "adoption": 0.7}}})
    m = TrafficModel(sc, seed=2)
    n, P = m.attention.share.shape
    assert P == 3  # three weights to add: their order shows
    rng = np.random.default_rng(4)
    m.activity.satisfaction[:] = rng.normal(0, 0.3, (n, P)).astype(np.float32)
    uses = m.users.uses
    uses[:] = True
    uses[0] = False  # no platform
    uses[1] = [True, False, False]
    m.activity.satisfaction[2, 0] = np.nan  # used
    uses[3] = [False, True, True]
    m.activity.satisfaction[3, 0] = np.nan  # not used
    m.activity.satisfaction[4, 1] = np.inf  # the row's top: not finite
    start = m.attention.share.copy()
    shares = []
    for threshold in (10**12, 0):
        monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
        monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
        m.attention.share[:] = start
        with np.errstate(invalid="ignore"):  # inf / inf in the numpy form
            m.attention.update()
        shares.append(m.attention.share.copy())
    assert np.array_equal(shares[0].view(np.int64), shares[1].view(np.int64))
    assert np.allclose(shares[0][2], start[2] * (1 - 1 / 3))  # a NaN: every target 0
    assert np.isnan(shares[0][4, 1]) and not np.isnan(np.delete(shares[0], 4, axis=0)).any()
    assert not np.array_equal(shares[0], start)


def test_the_attention_kernels_agree_with_the_numpy_form_in_chunks_on_any_thread_count():
    """Guards kernels.attention_exponents_rows and attention_shares_rows (parallel chunks
    of ATTENTION_ROWS users): the shares are the numpy form's bit for bit (the masked
    arrays of Attention.update), on one and two threads, for users in several chunks and
    a last partial one, with NaN and inf satisfactions on used and unused platforms, users
    on no platform and on one; no user, one user."""
    import numba

    from simulator.feeds import kernels
    from simulator.state.arrays import row_max, row_sum

    rng = np.random.default_rng(8)
    sens, memory = 2.3, 5.0
    w = np.array([0.7, 1.3, 0.4])
    for n in (3 * kernels.ATTENTION_ROWS + 5, 1, 0):
        sat = rng.normal(0, 0.5, (n, 3)).astype(np.float32)
        uses = rng.random((n, 3)) < 0.6
        if n > 10:
            sat[:5, 0] = [np.nan, np.nan, np.inf, -np.inf, 40.0]
            uses[:5, 0] = [True, False, True, True, True]
            uses[5] = False
            uses[6] = [False, True, False]
        start = rng.random((n, 3))
        s = sens * sat.astype(np.float64)
        s = np.where(uses, s, -np.inf)
        top = row_max(s)
        with np.errstate(invalid="ignore"):
            e = np.where(uses, w * np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
            total = row_sum(e)
            target = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
        want = start + (target - start) / memory
        before = numba.get_num_threads()
        try:
            for threads in (1, numba.config.NUMBA_NUM_THREADS):
                numba.set_num_threads(threads)
                got = start.copy()
                x = kernels.attention_exponents_rows(sat, uses, sens)
                kernels.attention_shares_rows(np.exp(x, out=x), uses, w, got, memory)
                assert got.tobytes() == want.tobytes(), (n, threads)
        finally:
            numba.set_num_threads(before)
