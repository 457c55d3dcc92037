"""Feed assembly: slot sources, cold start, policies."""

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.state.vocabulary import SOURCES

from ..conftest import small

SRC = {s: i for i, s in enumerate(SOURCES)}


def one_day(**knobs):
    m = TrafficModel(small(**knobs), seed=2)
    m.step()
    return m, m.day_logs[0].impressions


def test_each_active_user_gets_at_most_feed_slots():
    m, imp = one_day(feed_slots=10)
    counts = np.bincount(imp.user, minlength=m.users.n)
    assert counts.max() <= 10
    assert np.mean(counts[counts > 0] == 10) > 0.9  # nearly every active user gets a full feed


def test_same_city_slots_come_from_the_users_city():
    m, imp = one_day(policy="kuaishou", same_city_share=0.5)
    sc = imp.source == SRC["same_city"]
    assert sc.sum() > 1000
    assert (m.users.city[imp.user[sc]] == m.creators.city[m.items.creator[imp.item[sc]]]).all()


def test_follow_share_moves_traffic_to_the_private_domain():
    _, low = one_day(follow_share=0.02)
    _, high = one_day(follow_share=0.6)
    assert (high.domain() == 2).mean() > (low.domain() == 2).mean() + 0.15


def test_cold_start_offers_go_to_fans_rising_in_intimacy():
    m = TrafficModel(small(cold_start_rate=1.0, cold_start_slots=50), seed=3)
    intim_before = m.follows.intimacy.copy()
    m.step()
    imp = m.day_logs[0].impressions
    cs = imp.source == SRC["cold_start"]
    assert cs.sum() > 100 and (imp.edge[cs] >= 0).all()
    assert (m.items.day[imp.item[cs]] == 0).all()  # only today's new items
    # offered fans are closer than fans of posting creators in general
    assert intim_before[imp.edge[cs]].mean() > intim_before.mean() * 1.3


def test_ads_respect_budgets():
    m = TrafficModel(small(ad_load=0.3, cpm=50.0), seed=1)
    m.run(3)
    ledger = m.ledger
    assert (ledger.ad_spend <= 3 * m.merchants.daily_budget + 1e-6).all()
    assert ledger.ad_spend.sum() == pytest.approx(m.platforms["douyin"].ad_revenue)
    assert ledger.ad_impressions.sum() == m.metrics_frame().query("platform == 'douyin'")["impressions_commercial"].sum()


@pytest.mark.parametrize("policy", ["random", "popularity", "interest"])
def test_reference_policies_run_without_intimacy_or_pools(policy):
    m = TrafficModel(small(policy=policy), seed=1).run(3)
    imp = m.day_logs[0].impressions
    assert len(imp) > 0 and not (imp.source == SRC["cold_start"]).any()
    assert (m.items.level[0] == 0).all() and (m.items.obs_den[0] == 0).all()


def test_interest_policy_matches_interests_better_than_random():
    def mean_match(policy):
        m = TrafficModel(small(policy=policy, follow_share=0.0, ad_load=0.0), seed=4)
        m.step()
        imp = m.day_logs[0].impressions
        return np.einsum("ij,ij->i", m.users.interest[imp.user], m.items.topic[imp.item]).mean()
    assert mean_match("interest") > mean_match("random") + 0.1


def test_traffic_pools_escalate_and_snowball():
    m = TrafficModel(small(), seed=1).run(8)
    level = m.items.level[0]
    imps = m.items.impressions[0].sum(axis=1)
    assert level.max() >= 2
    assert imps[level >= 2].mean() > 3 * imps[level == 0].mean()


def _cold_start_world(**knobs):
    """A small world at day 0 (after warm-up); the tests append today's items by hand."""
    m = TrafficModel(small(**{"cold_start_slots": 100, **knobs}), seed=5)
    return m, m.platforms["douyin"]


def test_cold_start_offers_each_new_item():
    """Guards "each new item is offered on its own": a creator who posts three items today
    makes about three times the offers of one who posts one, per unit of fans' intimacy
    (fails when a fan gets at most one offer per creator)."""
    from simulator.feeds.slots import cold_start_slots

    m, pl = _cold_start_world(cold_start_rate=0.5)
    creators = np.arange(m.creators.n)
    n_new = np.where(creators % 2 == 0, 3, 1)
    m.items.append(np.repeat(creators, n_new).astype(np.int32), 0, np.full(n_new.sum(), 0.5, np.float32),
                   np.full((n_new.sum(), m.items.topics), 1.0 / m.items.topics, np.float32))
    active = np.arange(m.users.n, dtype=np.int32)
    imp, pos = cold_start_slots(m, pl, active, np.full(len(active), 100), np.random.default_rng(1))
    offers = np.bincount(m.items.creator[imp.item], minlength=m.creators.n)
    expected = np.bincount(m.follows.creator, weights=0.5 * m.follows.intimacy, minlength=m.creators.n)
    three, one = creators % 2 == 0, creators % 2 == 1
    per_item = (offers[three].sum() / expected[three].sum()) / (offers[one].sum() / expected[one].sum())
    assert per_item == pytest.approx(3.0, rel=0.1)
    assert offers.sum() == pytest.approx((n_new * expected).sum(), rel=0.05)


def test_cold_start_cut_keeps_a_random_subset():
    """Guards the per-user cut: with more offers than cold-start slots a user keeps a
    random subset, not the offers of the lowest creator rows (merchant accounts are the
    last rows). Fails when the first offers in edge order win."""
    from simulator.feeds.slots import cold_start_slots

    m, pl = _cold_start_world(cold_start_rate=1.0, cold_start_slots=1)
    m.follows.intimacy[:] = 1.0  # every fan of a posting creator gets an offer
    creators = np.arange(m.creators.n)
    m.items.append(creators.astype(np.int32), 0, np.full(len(creators), 0.5, np.float32),
                   np.full((len(creators), m.items.topics), 1.0 / m.items.topics, np.float32))
    active = np.arange(m.users.n, dtype=np.int32)
    imp, pos = cold_start_slots(m, pl, active, np.full(len(active), 100), np.random.default_rng(1))
    deg = np.diff(m.follows.indptr)
    users = imp.user
    assert np.array_equal(np.bincount(users, minlength=m.users.n), (deg > 0).astype(int))  # one each
    lowest = m.follows.creator[m.follows.indptr[users]]  # edges are sorted by creator within a user
    many = deg[users] >= 4
    took_lowest = (m.items.creator[imp.item] == lowest)[many].mean()
    assert took_lowest == pytest.approx((1.0 / deg[users][many]).mean(), abs=0.05)


def test_the_trace_keeps_int32_row_indices():
    """Guards the trace's compact indices (issue #17, memory at 10 M users): item rows and
    follow edges are int32, 8 bytes an impression fewer than int64, on every slot source."""
    m, imp = one_day(policy="kuaishou", same_city_share=0.2)
    assert imp.item.dtype == np.int32 and imp.edge.dtype == np.int32
    assert len(np.unique(imp.source)) >= 4  # follow, same city, ads or cold start, recommend all went through it
    assert (imp.edge >= 0).any() and (imp.edge == -1).any()


def test_a_population_past_the_trace_indices_is_refused(monkeypatch):
    """Guards the refusal (not a silent wrap-around) when the live items or follow edges
    outgrow the trace's int32 indices."""
    from simulator.feeds import slots

    m = TrafficModel(small(), seed=2)
    m.step()
    monkeypatch.setattr(slots, "INDEX_LIMIT", m.follows.n_edges - 1)
    with pytest.raises(OverflowError, match="int32"):
        m.step()


def test_impressions_match_is_the_einsum_of_the_gathered_rows():
    """Guards ``Impressions.make``'s row gathers (``take(axis=0)``, issue #17): every
    impression outside the recommendation slots (follow tab, same city, cold start, ads)
    carries the float32 einsum of its user's interest and its item's topic rows, as
    fancy indexing gathers them, bit for bit."""
    from simulator.feeds.impressions import Impressions

    m = TrafficModel(small(same_city_share=0.1, cold_start_rate=0.6), seed=4)
    m.run(3)
    imp = m.day_logs[0].impressions
    other = imp.source != SOURCES.index("recommend")
    assert len(np.unique(imp.source[other])) >= 3
    u, i = imp.user[other], imp.item[other]
    want = np.einsum("ij,ij->i", m.users.interest[u], m.items.topic[i]).astype(np.float32)
    assert np.array_equal(imp.match[other], want)
    made = Impressions.make(m, u[::-1].copy(), i[::-1].copy(), SOURCES.index("follow"), np.full(len(u), -1))
    assert np.array_equal(made.match, want[::-1])


def test_same_city_draws_only_reachable_items(monkeypatch):
    """An account banned on the platform (or absent from it, multi-homing) leaves the
    same-city tab: its items are not drawn, so a city's other creators keep every
    same-city slot (ODD 7.3: its items leave the tab), not lose the slots that fell on
    them to the recommender."""
    from simulator.feeds import slots

    m = TrafficModel(small(policy="kuaishou", same_city_share=0.5), seed=2)
    m.run(2)
    platform = m.platforms["douyin"]  # (small() names its one platform douyin; its policy here is kuaishou)
    blocked = np.zeros(m.creators.n, dtype=bool)
    blocked[::2] = True  # half the accounts banned on the platform
    monkeypatch.setattr(slots, "blocked_creators", lambda model, p: blocked)
    active = np.arange(m.users.n, dtype=np.int32)
    n = np.full(len(active), 3)
    imp, pos = slots.same_city_slots(m, platform, active, n, np.random.default_rng(0))
    assert len(imp) and not blocked[m.items.creator[imp.item]].any()
    # every user whose city has a reachable recent item gets all three slots
    by_city = m.item_indexes.by_city(platform.cfg.max_item_age)
    reachable_in_city = np.bincount(m.creators.city[m.items.creator[by_city.items]],
                                    weights=~blocked[m.items.creator[by_city.items]], minlength=m.scenario.population.cities)
    served = reachable_in_city[m.users.city] > 0
    got = np.bincount(pos, minlength=len(active))
    assert served.any() and (got[served] == 3).all() and (got[~served] == 0).all()


@pytest.mark.parametrize("compiled", [False, True])
def test_follow_tab_picks_among_the_creators_reachable_on_the_platform(monkeypatch, compiled):
    """Guards the follow tab's pick weights (ODD 7.3): a followed account banned on the
    platform (or, with multi-homing, absent: the same ``blocked_creators``) weighs 0 in the
    pick, so a user's follow slots go to the followed creators reachable there, ∝ intimacy
    + follow_pick_base among them, instead of falling to the recommender when the pick
    lands on a blocked one: a user all of whose reachable followed creators have a recent
    item fills every follow slot, a user who follows no reachable creator fills none.
    Both forms (numpy's cumsum and the compiled row sums), the same impressions. Fails
    when the pick weighs every follow edge (those users lose about the blocked share of
    their picks)."""
    from simulator.feeds import numpy_kernels, slots

    m = TrafficModel(small(), seed=2)
    m.run(2)
    platform = m.platforms["douyin"]
    blocked = np.zeros(m.creators.n, dtype=bool)
    blocked[::2] = True  # half the accounts banned on the platform
    monkeypatch.setattr(slots, "blocked_creators", lambda model, p: blocked)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    follows, k = m.follows, 20
    active = np.arange(m.users.n, dtype=np.int32)
    imp, pos = slots.follow_slots(m, platform, active, np.full(len(active), k), np.random.default_rng(0))
    creator = m.items.creator[imp.item]
    assert len(imp) and not blocked[creator].any()
    assert (follows.creator[imp.edge] == creator).all() and (follows.src[imp.edge] == imp.user).all()
    recent = m.item_indexes.recent(platform.cfg.follow_window)
    has_item = np.diff(recent.indptr)[:m.creators.n] > 0
    src = np.repeat(np.arange(m.users.n), np.diff(follows.indptr))
    reach = ~blocked[follows.creator]
    n_reach = np.bincount(src, weights=reach, minlength=m.users.n)
    n_reach_without = np.bincount(src, weights=reach & ~has_item[follows.creator], minlength=m.users.n)
    got = np.bincount(pos, minlength=len(active))
    served = (n_reach > 0) & (n_reach_without == 0)
    some_blocked = np.bincount(src, weights=~reach, minlength=m.users.n) > 0
    assert (served & some_blocked).sum() > 200  # users the change is about
    assert (got[served] == k).all()
    assert (got[n_reach == 0] == 0).all() and (n_reach == 0).sum() > 20
    # among the reachable edges of the users served, picks ∝ intimacy + follow_pick_base
    w = follows.intimacy.astype(np.float64) + platform.cfg.follow_pick_base
    edge_served = served[src] & reach
    row_w = np.bincount(src, weights=np.where(reach, w, 0.0), minlength=m.users.n)[src]
    expect = np.divide(k * w, row_w, out=np.zeros_like(w), where=edge_served)
    picks = np.bincount(imp.edge, minlength=follows.n_edges)
    for low, high in ((0.0, 0.1), (0.1, 0.3), (0.3, 1.01)):  # by intimacy
        band = edge_served & (follows.intimacy >= low) & (follows.intimacy < high)
        assert picks[band].sum() == pytest.approx(expect[band].sum(), rel=0.05), (low, high)
    # the two forms: the same picks
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12 if compiled else 0)
    other, other_pos = slots.follow_slots(m, platform, active, np.full(len(active), k), np.random.default_rng(0))
    assert np.array_equal(other.item, imp.item) and np.array_equal(other.edge, imp.edge)
    assert np.array_equal(other_pos, pos)


def test_follow_pick_values_copies_only_where_a_followed_account_is_blocked(monkeypatch):
    """Guards slots.follow_pick_values: where no account is blocked on the platform, or
    none of the blocked ones has a follower, the tab weighs every edge (None: the shared,
    cached weights, bit for bit the former ones); else a float32 copy of intimacy whose
    blocked edges weigh exactly 0 once follow_pick_base is added, the others untouched."""
    from simulator.feeds import slots

    m = TrafficModel(small(), seed=2)
    platform = m.platforms["douyin"]
    follows, base = m.follows, np.float32(platform.cfg.follow_pick_base)
    blocked = np.zeros(m.creators.n, dtype=bool)
    monkeypatch.setattr(slots, "blocked_creators", lambda model, p: None)
    assert slots.follow_pick_values(m, platform) is None
    monkeypatch.setattr(slots, "blocked_creators", lambda model, p: blocked)
    assert slots.follow_pick_values(m, platform) is None  # nobody blocked
    unfollowed = np.setdiff1d(np.arange(m.creators.n), follows.creator)
    if len(unfollowed):
        blocked[unfollowed[0]] = True
        assert slots.follow_pick_values(m, platform) is None  # blocked, but nobody follows it
    blocked[np.unique(follows.creator)[::3]] = True  # a third of the followed accounts
    values = slots.follow_pick_values(m, platform)
    hit = blocked[follows.creator]
    assert values.dtype == np.float32 and values.flags.c_contiguous and hit.any() and not hit.all()
    assert ((values + base)[hit] == 0).all()
    assert np.array_equal(values[~hit], follows.intimacy[~hit])


def test_follow_tab_at_base_0_weighs_a_blocked_account_0_in_both_forms(monkeypatch):
    """Guards slots.follow_pick_values at follow_pick_base 0 (allowed: ge=0): a blocked
    account's edge is -0.0 there, not below 0, and the copy is still the weights (before,
    such a copy was taken for "nobody follows a blocked account" and the numpy form
    weighed blocked edges by their intimacy, unlike ODD 7.3 and the compiled form, which
    weighs them 0 from the mask): both forms draw the same picks, none of a blocked
    account. Fails with the former test (values < 0) alone."""
    from simulator.feeds import numpy_kernels, slots

    m = TrafficModel(small(follow_pick_base=0.0), seed=2)
    m.run(2)
    platform = m.platforms["douyin"]
    assert platform.cfg.follow_pick_base == 0.0
    blocked = np.zeros(m.creators.n, dtype=bool)
    blocked[::2] = True
    monkeypatch.setattr(slots, "blocked_creators", lambda model, p: blocked)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    values = slots.follow_pick_values(m, platform)
    hit = blocked[m.follows.creator]
    assert values is not None and (values[hit] + np.float32(0.0) == 0).all() and (m.follows.intimacy[hit] > 0).any()
    active = np.arange(m.users.n, dtype=np.int32)
    out = []
    for threshold in (10**12, 0):
        monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
        imp, pos = slots.follow_slots(m, platform, active, np.full(len(active), 10), np.random.default_rng(0))
        assert len(imp) > 1000 and not blocked[m.items.creator[imp.item]].any()
        out.append((imp, pos))
    (a, pa), (b, pb) = out
    assert np.array_equal(a.edge, b.edge) and np.array_equal(a.item, b.item) and np.array_equal(pa, pb)


def test_follow_tab_kernels_never_draw_a_zero_weight_edge():
    """Guards what slots.follow_pick_values relies on, in both forms of the pick
    (state.arrays.weighted_in_rows over numpy's cumsum; kernels.row_start_sums with
    kernels.follow_tab_edges): an edge whose weight is 0 is never drawn, whether it is the
    graph's first edge, first or last in its row or between two others, and a row whose
    edges all weigh 0 draws nothing; for every uniform but those a float64 rounding takes
    to the row's total, which fall on the row's last edge (a chance of ~ulp(lo)/(hi − lo),
    3e-10 here): the caller drops such a pick of a blocked account (follow_tab_edges'
    ``blocked``). Fails when a search counts an edge whose cumulative weight equals the
    draw (side="left", or ``>=``)."""
    from simulator.feeds import kernels
    from simulator.state.arrays import weighted_in_rows

    base = np.float32(0.05)
    z = -base  # weighs 0
    values = np.array([z, 1e6, 1e6, z, 0.3, z, 0.2, z, z, z, 0.7, z], np.float32)
    indptr = np.array([0, 3, 8, 10, 12], np.int64)  # rows: [z, big, big], [z, .3, z, .2, z], [z, z], [.7, z]
    zero = values + base == 0
    creator = np.arange(len(values), dtype=np.int32)
    rows = np.arange(4)
    cumw = np.cumsum((values + base).astype(np.float64))
    row_start = kernels.row_start_sums(indptr, values, base, creator, np.zeros(len(values), bool))
    u = np.r_[np.linspace(0.0, 1.0, 2001)[:-1], np.nextafter(1.0 - 1e-9, 0.0)]

    class Uniforms:
        def random(self, n):
            assert n == len(u)
            return u

    for r in rows:
        numpy_pick = weighted_in_rows(indptr, cumw, np.full(len(u), r, np.int64), Uniforms())
        pick, _, _ = kernels.follow_tab_edges(indptr, row_start, values, base, creator, np.zeros(len(values), bool),
                                              np.array([r], np.int32), np.array([len(u)], np.int64),
                                              np.array([0], np.int64), u)
        assert np.array_equal(pick, numpy_pick), r
        if r == 2:
            assert (pick == -1).all()  # nothing to pick
        else:
            assert (pick >= indptr[r]).all() and (pick < indptr[r + 1]).all() and not zero[pick].any(), r
            assert len(np.unique(pick)) == (~zero[indptr[r]:indptr[r + 1]]).sum()  # every weighted edge drawn
    # the rounding exception: a draw that rounds up to the row's total falls on its last edge
    top = np.array([1.0 - 2.0 ** -53])
    assert row_start[1] + top[0] * (row_start[2] - row_start[1]) == row_start[2]
    pick, _, kept = kernels.follow_tab_edges(indptr, row_start, values, base, creator, zero,
                                             np.array([1], np.int32), np.array([1], np.int64), np.array([0], np.int64), top)
    assert kept == 0 and pick[0] == -1  # the last edge (zero weight, blocked) is dropped
