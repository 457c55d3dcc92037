"""Fan groups and their push policy."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.commerce.ledger import ORDER_SOURCES

from ..commerce.worlds import groups, model, totals


def test_more_promotional_pushes_raise_churn_and_past_a_point_cut_private_gmv():
    models = {ppd: model(**groups(ppd, 0.0)).run() for ppd in (0.0, 1.0, 2.0, 8.0)}
    runs = {ppd: totals(m) for ppd, m in models.items()}
    # a 15-day window: the 30-day runs are too short for group_churn_30d (NaN)
    churn = {ppd: m.commerce.groups.churn(15) for ppd, m in models.items()}
    assert np.isnan(runs[1.0]["group_churn_30d"])
    assert churn[1.0] < churn[2.0] < churn[8.0]
    assert churn[0.0] == 0.0  # no pushes, nobody is annoyed
    private = {p: runs[p]["gmv_private_platform"] + runs[p]["gmv_private_wechat"] for p in runs}
    assert private[1.0] > private[0.0]  # some promotion sells ...
    assert private[8.0] < 0.8 * private[1.0]  # ... too much drives members (and fans) away
    assert runs[8.0]["group_members_end"] < 0.2 * runs[1.0]["group_members_end"]


def test_group_churn_by_hand():
    """Members at day t who are gone by t + window, averaged over t in [0, days - window)."""
    from simulator.commerce.groups import churn_share

    never = 10**9
    # days 0..9, window 3, so t = 0..6. A: in 0..9 (never leaves); B: joins 0, leaves 2;
    # C: joins 4, leaves 8. Shares by t: t0 {A,B}: B leaves by 3 -> 1/2; t1 {A,B} -> 1/2;
    # t2,t3 {A} -> 0; t4 {A,C}: C leaves 8 > 7 -> 0; t5 {A,C}: 8 <= 8 -> 1/2; t6 -> 1/2
    joined, left = np.array([0, 0, 4]), np.array([never, 2, 8])
    assert churn_share(joined, left, 10, 3) == pytest.approx((0.5 + 0.5 + 0 + 0 + 0 + 0.5 + 0.5) / 7)
    # days with no members do not count; nothing closes when the window covers the run
    assert churn_share(np.array([5]), np.array([6]), 10, 3) == pytest.approx(1.0)
    assert np.isnan(churn_share(joined, left, 3, 3))


def test_every_push_reaches_every_member():
    """Two promotional pushes a day, no decay, nobody leaves: each member's annoyance is
    exactly 2 × the days they have been in the group (a push skipping members would show)."""
    m = model(steps=8, **groups(2.0, 0.0, promo_annoyance=1.0, annoyance_decay=0.0, tolerance_mean=1000.0,
                                 tolerance_sigma=0.0))
    m.run()
    table = m.commerce.groups.table
    assert len(table) > 50
    days_in = (m.day - 1) - table["joined"].astype(np.int64) + 1
    assert np.array_equal(table["annoy"], 2.0 * days_in)


def test_value_content_lowers_churn_and_raises_intimacy():
    out = {}
    for value in (0.0, 0.6):
        m = model(**groups(2.0, value)).run()
        fg = m.follows
        selling = m.creators.seller[fg.creator] >= 0
        out[value] = (m.commerce.groups.churn(15), float(fg.intimacy[selling].mean()))
    assert out[0.6][0] < out[0.0][0] - 0.05
    assert out[0.6][1] > out[0.0][1] + 0.03


def test_group_pushes_are_attributed_to_the_group_channel_and_are_private():
    m = model(steps=10, **groups(1.0, 0.0))
    m.run()
    g = ORDER_SOURCES.index("group")
    assert m.ledger.gmv_by_source[0, g] > 0
    off = model(steps=10, **groups(1.0, 0.0, enabled=False)).run()
    assert off.ledger.gmv_by_source[0, g] == 0
    assert totals(off)["group_members_end"] == 0


def test_weak_groups_sell_less_through_pushes():
    g = ORDER_SOURCES.index("group")
    strong = model(**groups(1.0, 0.3), platforms={"douyin": {"group_effect": 1.0}}).run()
    weak = model(**groups(1.0, 0.3), platforms={"douyin": {"group_effect": 0.2}}).run()
    assert weak.ledger.gmv_by_source[0, g] < 0.5 * strong.ledger.gmv_by_source[0, g]


def test_closed_memberships_are_kept_compact_and_read_back_as_int64():
    """Guards the closed memberships' int32 rows (issue #17's memory, tenth pass): each
    leaver's (home platform, joined, left) is logged as it leaves, and ``memberships``
    gives every closed and current one as int64 days, the current ones left at 10**9
    (checked against the leavers recorded by hand as they leave)."""
    m = model(steps=10, **groups(8.0, 0.0, tolerance_mean=2.0, tolerance_sigma=0.5))
    fg = m.commerce.groups
    leave, seen = fg.leave, []

    def recording_leave(edges):
        rows = fg.table.rows(edges)
        edges = edges[rows >= 0]
        home = m.creators.home[m.follows.creator[edges]].astype(np.int64)
        seen.append(np.stack([home, fg.table["joined"][rows[rows >= 0]].astype(np.int64),
                              np.full(len(edges), m.day, np.int64)], axis=1))
        leave(edges)

    fg.leave = recording_leave
    m.run()
    closed = np.concatenate(seen)
    assert len(closed) > 20 and all(e.dtype == np.int32 and e.shape[1] == 3 for e in fg.episodes)
    joined, left = fg.memberships()
    assert joined.dtype == left.dtype == np.int64
    n = len(closed)
    assert np.array_equal(joined[:n], closed[:, 1]) and np.array_equal(left[:n], closed[:, 2])
    assert np.array_equal(joined[n:], fg.table["joined"].astype(np.int64)) and (left[n:] == 10**9).all()
    for p in range(len(m.platforms)):
        jp, lp = fg.memberships(p)
        assert np.array_equal(jp[: np.count_nonzero(closed[:, 0] == p)], closed[closed[:, 0] == p, 1])


def test_join_candidates_kernel_matches_its_numpy_form():
    """kernels.join_candidates (a merge of the selling edges with the members, the groups'
    large days) against its numpy form and a plain reference: the intimacy threshold
    compared in float32 as numpy compares a float32 array with a Python float (values at
    and next to it, thresholds that round up and down), no edges, no members, one edge."""
    from simulator.feeds import kernels, numpy_kernels

    rng = np.random.default_rng(8)
    for thr in (0.2, 0.3, 0.35, 0.0):
        t = np.float32(thr)
        near = np.array([t, np.nextafter(t, np.float32(0)), np.nextafter(t, np.float32(1))], np.float32)
        for n_edges, n_sel, n_mem in ((0, 0, 0), (1, 1, 0), (1, 1, 1), (50, 0, 10), (50, 30, 0), (3000, 1200, 400)):
            intimacy = rng.random(n_edges).astype(np.float32)
            if n_edges:
                intimacy[rng.integers(0, n_edges, min(n_edges, 30))] = rng.choice(near, min(n_edges, 30))
            edge = np.sort(rng.choice(n_edges, n_sel, replace=False)).astype(np.int64)
            members = np.sort(rng.choice(n_edges, n_mem, replace=False)).astype(np.int64)
            want = edge[~np.isin(edge, members) & (intimacy[edge] >= thr)]
            numpy_form = numpy_kernels.join_candidates(edge, intimacy, members, t)
            got = kernels.join_candidates(edge, intimacy, members, t)
            assert got.dtype == np.int64 and np.array_equal(got, want) and np.array_equal(numpy_form, want)


def test_a_saved_model_keeps_its_closed_memberships():
    """FanGroups' pickle (``__setstate__``: closed memberships saved as int64 rows, before
    the int32 ones, come back as int32 with the same values; ``churn`` unchanged)."""
    m = model(steps=10, **groups(8.0, 0.0, tolerance_mean=2.0, tolerance_sigma=0.5))
    m.run()
    fg = m.commerce.groups
    assert sum(len(e) for e in fg.episodes) > 0
    before = fg.memberships(), fg.churn(3)
    assert not np.isnan(before[1])
    state = fg.__dict__.copy()
    state["episodes"] = [e.astype(np.int64) for e in fg.episodes]  # as a model saved before the int32 rows
    fg.__dict__.clear()
    fg.__setstate__(state)
    assert all(e.dtype == np.int32 for e in fg.episodes)
    after = fg.memberships(), fg.churn(3)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0])) and before[1] == after[1]


def test_group_push_day_kernel_matches_its_numpy_form_and_the_push_effects():
    """kernels.group_push_day (the members' gathers, push effects, leaving and unfollowing
    in one parallel pass, large days) against its numpy form and against the group day's
    plain numpy: the gathers, ``apply_push_effects`` on the gathered values (np.exp of
    the gain and the float32 power on each member, not once an account), the comparisons
    with the tolerance; annoyance equal to the tolerance and to the unfollow threshold (no
    leave, no unfollow) and just above; no members; one and all threads."""
    import numba

    from simulator.commerce.pushes import apply_push_effects
    from simulator.feeds import kernels, numpy_kernels

    class Cfg:
        annoyance_decay, promo_annoyance, value_gain, promo_intimacy_cost, unfollow_factor = 0.3, 0.37, 0.03, 0.01, 1.5

    g = Cfg()
    rng = np.random.default_rng(31)
    for n_edges, n_members, n_creators in ((0, 0, 5), (40, 0, 5), (1, 1, 1), (5000, 1700, 60)):
        n_users, P = 300, 3
        edge_creator = rng.integers(0, n_creators, n_edges).astype(np.int32)
        edge_user = rng.integers(0, n_users, n_edges).astype(np.int32)
        intimacy = rng.random(n_edges).astype(np.float32)
        members = np.sort(rng.choice(n_edges, n_members, replace=False)).astype(np.int64)
        annoy = (rng.random(n_members) * 4).astype(np.float32)
        home = rng.integers(0, P, n_creators).astype(np.int8)
        group_effect = np.array([0.3, 1.0, 0.7])
        n_value, n_promo = rng.integers(0, 4, n_creators), rng.integers(0, 4, n_creators)
        seller = rng.integers(-1, 20, n_creators).astype(np.int32)
        tolerance = (rng.random(n_users) * 3 + 0.5).astype(np.float32)
        # members whose annoyance after the day lands on their tolerance, on the unfollow threshold, just above
        if n_members > 30:
            keep32 = np.float32(1.0 - g.annoyance_decay)
            after = (annoy * keep32 + np.float32(g.promo_annoyance) * n_promo[edge_creator[members]]).astype(np.float32)
            u = edge_user[members[:30]]
            tolerance[u[:10]] = after[:10]
            tolerance[u[10:20]] = after[10:20] / np.float32(g.unfollow_factor)
            tolerance[u[20:30]] = np.nextafter(after[20:30], np.float32(0))
        # the group day's plain numpy
        creator = edge_creator[members].astype(np.int64)
        user = edge_user[members].astype(np.int64)
        member_home = home[creator].astype(np.int64)
        effect = group_effect[member_home]
        want_intimacy, want_annoy = intimacy.copy(), annoy.copy()
        mi = want_intimacy[members]
        apply_push_effects(g, mi, want_annoy, n_value[creator], n_promo[creator], effect)
        want_intimacy[members] = mi
        tol = tolerance[user]
        want_unfollow = np.zeros(n_edges, bool)
        want_unfollow[members[want_annoy > g.unfollow_factor * tol]] = True
        want = (creator, user, member_home, effect, mi, np.float32(g.promo_annoyance) * n_promo[creator],
                n_promo[creator], seller[creator].astype(np.int64), want_annoy > tol)
        gain = (g.value_gain * group_effect[home.astype(np.int64)] * n_value).astype(np.float32)
        factors = (np.float32(1.0 - g.annoyance_decay), np.exp(-gain),
                   np.float32(1.0 - g.promo_intimacy_cost) ** n_promo, np.float32(g.promo_annoyance) * n_promo)
        before = numba.get_num_threads()
        try:
            for form, threads in ((numpy_kernels.group_push_day, 1), (kernels.group_push_day, 1),
                                  (kernels.group_push_day, max(1, numba.config.NUMBA_NUM_THREADS))):
                numba.set_num_threads(threads)
                got_intimacy, got_annoy, got_unfollow = intimacy.copy(), annoy.copy(), np.zeros(n_edges, bool)
                got = form(members, edge_creator, edge_user, got_intimacy, got_annoy, home, group_effect, n_promo,
                           seller, *factors, tolerance, np.float32(g.unfollow_factor), got_unfollow)
                for a, b in zip(got + (got_intimacy, got_annoy, got_unfollow),
                                want + (want_intimacy, want_annoy, want_unfollow)):
                    assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
        finally:
            numba.set_num_threads(before)
        if n_members > 30:
            # (the ties were made: equal to the tolerance, to the unfollow threshold; some members stay)
            at_tol, at_unfollow = want_annoy == tol, want_annoy == np.float32(g.unfollow_factor) * tol
            assert at_tol.any() and not want[8][at_tol].any() and want[8].any() and not want[8].all()
            assert at_unfollow.any() and not want_unfollow[members[at_unfollow]].any() and want_unfollow.any()
