"""The intimacy boost and the flywheel: close fans lift a creator's public reach through
beta, by two channels, each on its own. Intimacy is made exogenous here (a follow graph
file where even creators' fans are close and odd creators' fans are distant, and no
intimacy dynamics), creators are alike (same quality, posting rate and audience), and fans
see their creators only through the recommendation feed (no follow tab, cold start or ads),
so any change of the public-reach gap between the two halves with beta is caused by the
algorithm. Close fans engage more (engagement.w_intimacy), which is what the channels
amplify; at beta = 0 the algorithm is neutral and only that own engagement remains."""

import csv

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.config import PlatformConfig
from simulator.feeds.policies import AlgorithmicPolicy, Block
from simulator.feeds.pools import TrafficPools
from simulator.state.vocabulary import PUBLIC

# users 0..USERS-1 follow FOLLOWS_PER_USER of creators 0..CREATORS-1; the rest of the
# population (4,000 users, 60 creators with the merchants' accounts) follow / are followed by nobody
USERS, CREATORS, FOLLOWS_PER_USER, DAYS, SEEDS = 6000, 240, 30, 6, (1, 2, 3)
WORLD = {
    "relationship": {"gain_view": 0, "gain_complete": 0, "gain_like": 0, "gain_comment": 0, "gain_share": 0,
                     "decay": 0, "unfollow_rate": 0},
    "engagement": {"offset_follow": -20, "w_intimacy": 4.0},
    "creators": {"quality_sd_between": 0.0, "mcn_share": 0.0, "post_rate_sigma": 0.0},
    "population": {"users": 10_000, "creators": 300, "merchants": 10, "interest_concentration": 100.0},
}
FEED = {"policy": "douyin", "follow_share": 0.0, "cold_start_rate": 0.0, "ad_load": 0.0, "pool_threshold": 0.75,
        "pool_levels": 3}


@pytest.fixture(scope="module")
def split_graph(tmp_path_factory):
    rng = np.random.default_rng(0)
    u = np.repeat(np.arange(USERS), FOLLOWS_PER_USER)
    c = rng.integers(0, CREATORS, len(u))
    w = np.where(c % 2 == 0, 0.9, 0.05)
    path = tmp_path_factory.mktemp("graph") / "follows.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["user", "creator", "intimacy"])
        out.writerows(zip(u.tolist(), c.tolist(), w.tolist()))
    return str(path)


def close_fan_advantage(graph, beta, seed):
    """Public impressions per item of close-fan creators / of distant-fan creators."""
    m = TrafficModel({**WORLD, "graph": {"follow_graph_file": graph},
                      "platforms": {"douyin": {**FEED, "beta": beta}}}, seed=seed, agents=False)
    m.run(DAYS)
    public = m.creators.impressions[0, :CREATORS, PUBLIC].astype(float)
    n_items = np.bincount(m.items.creator, minlength=m.creators.n)[:CREATORS]
    close = np.arange(CREATORS) % 2 == 0
    return (public[close].sum() / n_items[close].sum()) / (public[~close].sum() / n_items[~close].sum())


def neutral_boost(self, intimacy):
    return np.ones_like(intimacy)


def neutral_weight(self, intimacy):
    return np.ones(len(intimacy))


@pytest.fixture(scope="module")
def advantage(split_graph):
    """Close-fan advantage per (channel left on, beta), relative to beta = 0 (same seed)."""
    mp = pytest.MonkeyPatch()
    try:
        base = np.array([close_fan_advantage(split_graph, 0.0, s) for s in SEEDS])
        out = {"base": base}
        for channel in ("boost", "weight"):
            with mp.context() as m:
                if channel == "boost":
                    m.setattr(TrafficPools, "weight", neutral_weight)
                else:
                    m.setattr(AlgorithmicPolicy, "delivery_boost", neutral_boost)
                for beta in (1.0, 3.0):
                    out[channel, beta] = float(np.mean([close_fan_advantage(split_graph, beta, s) for s in SEEDS]
                                                       / base))
    finally:
        mp.undo()
    return out


def test_beta_zero_is_neutral(advantage):
    """At beta = 0 the channels do nothing; what is left is the close fans' own higher
    engagement, a small advantage in this world."""
    assert 0.8 < advantage["base"].mean() < 1.5


@pytest.mark.parametrize("channel", ["boost", "weight"])
def test_each_flywheel_channel_alone_raises_close_fans_public_reach(advantage, channel):
    """Guards both flywheel channels, each on its own (the other neutralised): the
    delivery boost in the ranking score (AlgorithmicPolicy.delivery_boost) and the weight
    of fans' engagement in the pools (TrafficPools.weight) each raise close-fan creators'
    public reach, monotonically in beta (0 < 1 < 3). Fails when the channel tested is
    deleted (made neutral)."""
    assert advantage[channel, 1.0] > 1.1
    assert advantage[channel, 3.0] > advantage[channel, 1.0] + 0.1


def test_score_ignores_intimacy_when_beta_is_zero():
    b = Block(match=np.full((2, 3), 0.5, np.float32), intimacy=np.array([[0, 0.5, 1.0]] * 2, np.float32),
              quality=np.full(3, 0.5, np.float32), perf=np.full(3, 0.4, np.float32), age=np.zeros(3),
              popularity=np.zeros(3, np.float32), engagements=np.zeros(3, np.float32))
    flat = AlgorithmicPolicy(PlatformConfig(beta=0.0), expected_dau=1000.0).score(b)
    assert np.allclose(flat[:, 0], flat[:, 2])
    boosted = AlgorithmicPolicy(PlatformConfig(beta=2.0), expected_dau=1000.0).score(b)
    # temperature · log(1 + beta·intimacy), default temperature 0.5
    assert boosted[0, 2] - boosted[0, 0] == pytest.approx(0.5 * np.log(1 + 2.0), rel=1e-5)


def _block(intimacy, age=None):
    m = len(intimacy)
    return Block(match=np.full((1, m), 0.5, np.float32), intimacy=np.asarray(intimacy, np.float32)[None, :],
                 quality=np.full(m, 0.5, np.float32), perf=np.full(m, 0.4, np.float32),
                 age=np.zeros(m) if age is None else np.asarray(age, float),
                 popularity=np.zeros(m, np.float32), engagements=np.zeros(m, np.float32))


@pytest.mark.parametrize("temperature", [0.5, 1.0])
def test_a_fan_is_picked_one_plus_beta_intimacy_times_as_often(temperature):
    """Guards the temperature-independent delivery boost: at any temperature a fan of
    intimacy I is recommended an item (1 + beta·I) times as often as a stranger, all else
    equal (the score adds T·log(1 + beta·I)). Fails if the boost is not scaled by T
    (then it is (1 + beta·I)^(1/T), squared at T = 0.5)."""
    from simulator.feeds.kernels import gumbel_top_k
    from simulator.feeds.numpy_kernels import gumbel_table
    beta, intim = 2.0, 0.5  # boost 2
    pol = AlgorithmicPolicy(PlatformConfig(beta=beta, temperature=temperature), expected_dau=1000.0)
    s = pol.score(_block([0.0, intim]))
    key = np.ascontiguousarray(np.repeat(s, 200_000, axis=0))
    picks = gumbel_top_k(key, 1, temperature, 5, gumbel_table(np.random.default_rng(0)))[:, 0]
    fan, stranger = (picks == 1).sum(), (picks == 0).sum()
    assert fan / stranger == pytest.approx(1 + beta * intim, rel=0.05)


def test_age_decay_enters_once_in_retrieval():
    """Guards the single age decay: the retrieval prior is log(pool weight) − age_decay·age
    and the ranking score does not depend on age (fails if the score subtracts it again)."""
    from simulator.feeds.policies import PriorContext
    cfg = PlatformConfig(age_decay=0.5)
    pol = AlgorithmicPolicy(cfg, expected_dau=1000.0)
    n = 3
    ctx = PriorContext(age=np.array([0.0, 1.0, 4.0]), level=np.zeros(n), quota=np.full(n, 10.0),
                       pool_seen=np.zeros(n), stalled=np.zeros(n, bool), quality=np.full(n, 0.5, np.float32),
                       perf=np.full(n, 0.4, np.float32), impressions=np.zeros(n), recommended=np.zeros(n),
                       engagements=np.zeros(n), creator_share=np.ones(n), dau=1000.0, steering=0.0)
    prior = pol.item_prior(ctx)
    assert np.allclose(prior - prior[0], [0.0, -0.5, -2.0])
    assert np.array_equal(pol.score(_block([0, 0, 0], age=[0, 1, 4])), pol.score(_block([0, 0, 0])))


def test_at_beta_zero_fans_count_like_anyone_in_the_pools():
    """Guards the neutral beta = 0: every impression of an item seen only by its fans
    weighs 1 in its pool signal, and the pool quota counts real impressions (fails with
    the old weight beta·intimacy, which made fans' engagement invisible at beta = 0 and
    made fans' items need several times more views to fill a pool)."""
    for beta in (0.0, 2.0):
        m = TrafficModel({"population": {"users": 2000, "creators": 100, "merchants": 2},
                          "platforms": {"douyin": {"policy": "douyin", "beta": beta, "follow_share": 1.0,
                                                   "ad_load": 0.0, "follow_share_concentration": 1e6}}}, seed=1,
                         agents=False)
        m.step()
        imp, reactions = m.day_logs[0].impressions, m.day_logs[0].reactions
        only_fans = np.setdiff1d(np.unique(imp.item[imp.edge >= 0]), np.unique(imp.item[imp.edge < 0]))
        assert len(only_fans) > 10
        seen = np.bincount(imp.item, minlength=m.items.n)
        weighted = np.bincount(imp.item, weights=1 + beta * reactions.intimacy, minlength=m.items.n)
        assert np.allclose(m.items.obs_den[0, only_fans], weighted[only_fans], rtol=1e-5)
        if beta == 0:
            assert np.allclose(m.items.obs_den[0, only_fans], seen[only_fans])
        promoted = m.items.level[0] > 0
        unpromoted = ~promoted & (seen > 0)
        # the quota is in real impressions: unpromoted items hold exactly what they were shown
        assert np.array_equal(m.items.pool_seen[0, unpromoted], seen[unpromoted])


def test_gini_steering_penalizes_only_creators_above_the_mean():
    """Guards the steering penalty as the schema describes it ("the penalty on
    over-exposed creators' items is creator_share^−exponent"): an item of a creator above
    the mean exposure loses steering · log(share) of its log retrieval weight, items of
    creators at or below the mean keep theirs. Fails with the old prior −= s·log(share)
    for every creator, which boosted the least exposed without bound (share 0.01 at s = 5
    multiplied an item's weight by 10^10: retrieval collapsed onto a few items and left
    recommendation slots empty over a year)."""
    from simulator.feeds.policies import PriorContext
    pol = AlgorithmicPolicy(PlatformConfig(age_decay=0.0), expected_dau=1000.0)
    share = np.array([0.01, 0.5, 1.0, 2.0, 8.0])
    n = len(share)

    def prior(steering):
        return pol.item_prior(PriorContext(
            age=np.zeros(n), level=np.zeros(n), quota=np.full(n, 10.0), pool_seen=np.zeros(n),
            stalled=np.zeros(n, bool), quality=np.full(n, 0.5, np.float32), perf=np.full(n, 0.4, np.float32),
            impressions=np.zeros(n), recommended=np.zeros(n), engagements=np.zeros(n), creator_share=share,
            dau=1000.0, steering=steering))

    change = prior(2.0) - prior(0.0)
    assert np.allclose(change, [0.0, 0.0, 0.0, -2.0 * np.log(2.0), -2.0 * np.log(8.0)])


def test_creator_share_is_defined_when_every_creator_has_exited():
    """The steering's creator share compares with the mean *active* creator; on a day when
    every creator has stopped posting (their recent items are still recommendable) it
    falls back to every creator's mean instead of a NaN mean of nothing."""
    from simulator.feeds.policies import prior_context
    from ..conftest import small

    m = TrafficModel(small(), seed=1)
    m.step()
    m.creators.active[:] = False
    platform = next(iter(m.platforms.values()))
    ctx = prior_context(m, platform, 0)
    assert np.isfinite(ctx.creator_share).all() and len(ctx.creator_share) == m.items.n


def test_the_pools_read_record_exposures_counts_as_their_own(monkeypatch):
    """Guards TrafficPools.observe reading record_exposure's impressions per item and its
    intp items from the reactions (Reactions.item_impressions, item_index; issue #17): a
    day's pools observed with them and from the impressions alone end in the same state,
    bit for bit, and those counts are the bincount of the impressions' items."""
    from dataclasses import replace

    from simulator.feeds import numpy_kernels

    # the small days' forms (the runs built earlier in this process may have switched to the compiled ones)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    monkeypatch.setattr(numpy_kernels, "COMPILED_RUN", 10**15)
    m = TrafficModel({"population": {"users": 2000, "creators": 100, "merchants": 2}}, seed=3, agents=False)
    m.run(2)
    log = m.day_logs[0]
    r = log.reactions
    assert r.item_impressions is not None and r.item_index is not None and r.item_index.dtype == np.intp
    assert np.array_equal(r.item_impressions, np.bincount(log.impressions.item, minlength=m.items.n))
    assert np.array_equal(r.item_index, log.impressions.item)
    names = ("pool_seen", "pool_den", "pool_num", "obs_den", "obs_num", "level", "stalled")
    before = {k: getattr(m.items, k).copy() for k in names}
    pools = log.platform.policy.pools
    pools.observe(m.items, log.platform.index, m.day, log.impressions, r)
    with_counts = {k: getattr(m.items, k).copy() for k in names}
    for k in names:
        getattr(m.items, k)[...] = before[k]
    pools.observe(m.items, log.platform.index, m.day, log.impressions,
                  replace(r, item_impressions=None, item_index=None))
    for k in names:
        got, want = with_counts[k], getattr(m.items, k)
        assert np.array_equal(got.view(np.uint8), want.view(np.uint8)), k
    assert not np.array_equal(with_counts["pool_seen"], before["pool_seen"])
    # and the day's lifetime sums are the definition's weighted bincounts (1 + beta·intimacy; engaged: completed or liked)
    p, item = log.platform.index, log.impressions.item
    w = pools.weight(r.intimacy)
    seen = np.bincount(item, weights=w, minlength=m.items.n).astype(np.float32)
    engaged = np.bincount(item, weights=w * (r.complete | r.like), minlength=m.items.n).astype(np.float32)
    assert np.array_equal(with_counts["obs_den"][p], before["obs_den"][p] + seen)
    assert np.array_equal(with_counts["obs_num"][p], before["obs_num"][p] + engaged)


def test_items_still_in_follow_feeds_are_judged_after_leaving_recommendation():
    """An item older than max_item_age but younger than follow_window still draws follow-feed
    impressions, which fill its pool; it is judged like any other, so at the end of every
    day no unstalled item below the top pool the platform can still show holds a full pool
    (mutation checked: judging only items younger than max_item_age leaves full pools
    unjudged, and items.csv's pool level too low)."""
    m = TrafficModel({"population": {"users": 3000, "creators": 120, "merchants": 2},
                      "platforms": {"douyin": {"policy": "douyin", "follow_share": 0.6, "ad_load": 0.0,
                                               "max_item_age": 1, "follow_window": 6, "pool_levels": 6}}},
                     seed=4, agents=False)
    pools, items, checked = m.platforms["douyin"].policy.pools, m.items, 0
    for _ in range(6):
        m.step()
        today, published = m.day - 1, items.day[: items.n]
        old = (published > today - 6) & (published < today)  # past max_item_age, still in follow feeds
        level, stalled = items.level[0, : items.n], items.stalled[0, : items.n]
        judgeable = old & ~stalled & (level < 5)
        full = items.pool_seen[0, : items.n] >= pools.size(level.astype(np.float64))
        assert not (judgeable & full).any()
        checked += int((old & (items.pool_seen[0, : items.n] > 0)).sum())
    assert checked > 50
