import numpy as np

from simulator import TrafficModel
from simulator.observation.inequality import gini, top_share
from simulator.state.vocabulary import FOLLOW, RECOMMEND

from ..conftest import small


def run_gini(cap, seed):
    m = TrafficModel(small(exposure_cap=cap, gini_target=None), seed=seed).run(10)
    return m.summary()["totals"]["exposure_gini"]


def test_exposure_cap_lowers_creator_exposure_gini():
    no_cap = np.mean([run_gini(None, s) for s in (1, 2)])
    cap = np.mean([run_gini(0.1, s) for s in (1, 2)])
    assert cap < no_cap - 0.05


def test_exposure_cap_is_respected_by_recommendation():
    m = TrafficModel(small(exposure_cap=0.01, ad_load=0.0, follow_share=0.0, cold_start_rate=0.0), seed=2)
    pl = m.platforms["douyin"]
    m.run(6)
    cap = 0.01 * pl.expected_dau
    rec = m.items.impressions_by_source[0, :, RECOMMEND]
    assert rec.max() <= np.floor(cap)
    assert (rec >= np.floor(cap)).sum() > 20  # the cap binds


def test_exposure_cap_counts_only_recommendation_impressions():
    """Guards the cap's scope: a tight cap is never exceeded by any item's recommendation
    impressions, and follow-tab, cold-start and ad impressions do not use up an item's
    recommendation allowance (fails when the cap counts every source: then no item
    gets its full allowance of recommendations on top of other impressions)."""
    m = TrafficModel(small(exposure_cap=0.05, ad_load=0.3, follow_share=0.5, cold_start_rate=0.6), seed=2)
    pl = m.platforms["douyin"]
    m.run(6)
    cap = 0.05 * pl.expected_dau
    by_source = m.items.impressions_by_source[0]
    rec = by_source[:, RECOMMEND]
    other = by_source.sum(axis=1) - rec
    assert rec.max() <= np.floor(cap)
    assert other.sum() > rec.sum() * 0.5  # other sources are busy
    full = rec >= np.floor(cap)
    assert full.sum() > 200  # the cap binds (124 when other sources use up the allowance)
    assert (full & (other >= cap)).sum() > 60  # ... even for items the other sources showed a cap's worth (29 then)


def test_exposure_cap_allowance_is_whole_in_retrieval_as_in_the_grants():
    """Guards the cap's one allowance (ODD 7.3): where cap · DAU is not whole (here
    0.0075 × 1,400 = 10.5), an item may get ⌊cap · DAU⌋ = 10 recommendation impressions
    and leaves retrieval exactly when it has them. (Before the fix retrieval kept every
    item under cap · DAU, so an item at 10 stayed a candidate, taking a candidate place,
    while the grants, in whole picks, could never give it an 11th: at this step ~600
    such items held ~93% of the retrieval weight.)"""
    from simulator.feeds.policies import prior_context
    from simulator.feeds.recommend import RecommendDay

    m = TrafficModel(small(exposure_cap=0.0075, ad_load=0.0, follow_share=0.0, cold_start_rate=0.0,
                           gini_target=None), seed=2)
    m.run(6)
    pl = m.platforms["douyin"]
    assert 0.0075 * pl.policy.pools.expected_dau == 10.5
    rec = m.items.impressions_by_source[0, :, RECOMMEND]
    assert rec.max() == 10 and (rec == 10).sum() > 100  # the cap binds, at ⌊cap · DAU⌋
    lo = m.items.first_since(m.day - pl.cfg.max_item_age + 1)
    ctx = prior_context(m, pl, lo)
    prior = pl.policy.item_prior(ctx)
    spent = ctx.recommended >= 10
    assert spent.sum() > 100
    assert np.isneginf(prior[spent]).all()  # out of retrieval once the allowance is spent
    assert np.isfinite(prior[~spent]).all()  # and in it while a pick can still be granted
    left = pl.policy.exposure_left(ctx)  # what the ranking and the grants read: the same whole allowance
    assert left.dtype == np.int64 and np.array_equal(left, 10 - ctx.recommended)
    day = RecommendDay(m, pl, lo, np.random.default_rng(0))
    assert (m.items.impressions_by_source[0, day.pool, RECOMMEND] < 10).all()
    assert (day.left >= 1).all()  # every candidate can be granted a pick


def test_exposure_left_ignores_other_sources():
    """Unit form of the cap's scope: what an item may still be recommended depends on its
    recommendation impressions only."""
    from simulator.feeds.policies import prior_context

    m = TrafficModel(small(exposure_cap=0.05), seed=1)
    m.step()
    pl = m.platforms["douyin"]
    lo = m.items.first_since(m.day - pl.cfg.max_item_age + 1)
    before = pl.policy.exposure_left(prior_context(m, pl, lo))
    m.items.impressions_by_source[0, lo:, FOLLOW] += 1000
    m.items.impressions[0, lo:, 0] += 1000
    assert np.array_equal(pl.policy.exposure_left(prior_context(m, pl, lo)), before)
    m.items.impressions_by_source[0, lo:, RECOMMEND] += 3
    assert np.allclose(pl.policy.exposure_left(prior_context(m, pl, lo)), before - 3)


def test_feed_fill_reports_slots_a_tight_cap_leaves_empty():
    def fill(cap):
        m = TrafficModel(small(exposure_cap=cap, gini_target=None), seed=3).run(6)
        df = m.metrics_frame()
        return df[df.platform == "douyin"].feed_fill, m.summary()["totals"]["feed_fill"]

    free, free_total = fill(None)
    tight, tight_total = fill(0.005)
    assert (free == 1.0).all() and free_total == 1.0
    assert tight.max() < 0.9 and tight_total < 0.9


def test_gini_and_top_share_helpers():
    assert gini(np.ones(10)) == 0.0
    assert gini(np.r_[np.zeros(99), 1.0]) > 0.98
    assert top_share(np.r_[np.ones(99), 101.0], 0.01) == 101.0 / 200.0


def test_lower_centralization_spreads_creator_exposure():
    def g(c):
        return np.mean([TrafficModel(small(centralization=c), seed=s).run(10).summary()["totals"]["exposure_gini"]
                        for s in (1, 2)])
    assert g(0.0) < g(1.0) - 0.05


def test_a_days_columns_and_item_scores_are_the_blocks_own():
    """Guards what RecommendDay computes once for all blocks (issue #17, numpy forms):
    the candidates' creator columns (``_columns``: np.unique's values and inverse, by a
    sort and the day's column table) and the linear policy's per-candidate score
    (``item_score``, computed for the day's items, gathered by candidate: the same
    float32s as the policy's score of the block's own candidates)."""
    from simulator.feeds.recommend import RecommendDay

    m = TrafficModel(small(), seed=3)
    m.run(4)
    platform = m.platforms["douyin"]
    lo = m.items.first_since(m.day - platform.cfg.max_item_age + 1)
    day = RecommendDay(m, platform, lo, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for size in (1, 5, 46, len(day.pool)):
        cand = np.sort(rng.choice(len(day.pool), min(size, len(day.pool)), replace=False))
        ucre, inv = day._columns(cand)
        want_u, want_inv = np.unique(day.creator[cand], return_inverse=True)
        assert np.array_equal(ucre, want_u) and np.array_equal(inv, want_inv)
        day.col_of[ucre] = -1
        want = platform.policy.item_score(day._block(cand, None))
        assert want.dtype == np.float32 and np.array_equal(day.item_score[cand], want)
    assert (day.col_of == -1).all()
    assert len(np.unique(day.item_score)) > 10  # the scores differ between items


def test_a_days_retrieval_cdfs_are_each_segments_own():
    """Guards the retrieval CDFs of RecommendDay (issue #17, eleventh pass: every
    segment's row in one (segments × items) pass): each segment's CDF is, bit for bit,
    ``cumsum(exp(logw - logw.max()))`` of its own ``logw = prior + affinity · topic[:, s]``,
    for a targeted policy, and the prior's alone for one that is not."""
    from simulator.feeds.recommend import RecommendDay

    for policy in ("douyin", "random"):
        m = TrafficModel(small(policy=policy), seed=3)
        m.run(3)
        platform = m.platforms["douyin"]
        lo = m.items.first_since(m.day - platform.cfg.max_item_age + 1)
        day = RecommendDay(m, platform, lo, np.random.default_rng(0))
        segments = np.unique(m.users.segment).tolist()
        assert sorted(day.cdf) == segments and len(day.pool) > 10
        for s in segments:
            logw = day.prior + (platform.cfg.candidate_affinity * day.topic[:, s] if platform.policy.targeted else 0.0)
            want = np.cumsum(np.exp(logw - logw.max()))
            assert np.array_equal(day.cdf[s].view(np.int64), want.view(np.int64))


def test_the_boost_table_takes_zero_intimacy_edges_only_when_their_boost_is_plus_zero(monkeypatch):
    """Guards the numpy form's table of fans' boosts (issue #17, fourteenth pass): it writes
    every edge's ``fan_score`` without leaving out the zero intimacies first only when a zero
    intimacy's boost is +0.0 (``RecommendDay.zero_boost``), which the table's zeros already
    hold: the same picks as leaving them out, with edges of zero intimacy among the blocks';
    and a policy whose zero intimacy would be boosted keeps leaving them out."""
    from simulator.feeds import recommend
    from simulator.feeds.policies import AlgorithmicPolicy

    m = TrafficModel(small(), seed=5)
    m.run(4)
    platform = m.platforms["douyin"]
    m.follows.intimacy[::3] = 0.0  # a third of the edges of no intimacy
    active = np.arange(m.users.n)
    free = np.full(len(active), 6, dtype=np.int64)

    def picks(force_nonzero=False):
        if force_nonzero:
            init = recommend.RecommendDay.__init__

            def patched(self, *a):
                init(self, *a)
                self.zero_boost = False

            monkeypatch.setattr(recommend.RecommendDay, "__init__", patched)
        parts = recommend.recommend_slots(m, platform, active, free, np.random.default_rng(11))
        monkeypatch.undo()
        return [(p.user.tolist(), p.item.tolist(), p.edge.tolist()) for p in parts]

    lo = m.items.first_since(m.day - platform.cfg.max_item_age + 1)
    assert recommend.RecommendDay(m, platform, lo, np.random.default_rng(0)).zero_boost
    want = picks(force_nonzero=True)
    assert picks() == want and sum(len(u) for u, _, _ in want) > 100
    # fans of zero intimacy among the picks: their boost was written (+0.0)
    edges = np.concatenate([np.array(e, dtype=np.int64) for _, _, e in want])
    assert (m.follows.intimacy[edges[edges >= 0]] == 0).any()

    # a fan score that boosts a zero intimacy: not taken for the table's zeros
    monkeypatch.setattr(AlgorithmicPolicy, "fan_score", lambda self, x: np.float32(0.5) * np.log(1.5 + x))
    day = recommend.RecommendDay(m, platform, lo, np.random.default_rng(0))
    assert not day.zero_boost


def test_exposure_allowance_is_whole_where_cap_times_dau_is_whole():
    """ODD 7.3: the allowance is ⌊cap · DAU⌋ of the real product, not of its float: 0.29 ×
    100 is 28.999999999999996 in floats and must give 29 (the floor of the float gave 28),
    while a product just under a whole number still rounds down."""
    from simulator.feeds.policies import exposure_allowance

    assert 0.29 * 100 < 29  # the float product this guards against
    assert exposure_allowance(0.29, 100) == 29
    assert exposure_allowance(0.036, 750) == 27
    assert exposure_allowance(0.0075, 1400) == 10  # 10.5
    assert exposure_allowance(0.2899, 100) == 28
    assert exposure_allowance(0.05, 0) == 0
