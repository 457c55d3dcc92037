"""Merchants who learn their channel mix (simulator/commerce/learning.py)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.commerce.ledger import ADS, Orders
from simulator.config.loading import deep_merge
from simulator.state.vocabulary import CHANNELS, GROUPS_CHANNEL, TARGETING, WECHAT_CHANNEL

from ..conftest import small

TINY = {"population": {"users": 1500, "creators": 80, "merchants": 6}, "steps": 6,
        "merchants": {"daily_ad_budget": 400.0, "category_mix": [1, 0, 0, 0]}}
AD_ONLY = {"commerce": {"groups": {"enabled": False}, "visit_rate": 0.0, "partner_share": 0.0}}


def world(overrides: dict | None = None, platforms=("douyin",), seed=1, platform_knobs: dict | None = None,
          **merchants) -> TrafficModel:
    from simulator.config.loading import deep_merge
    d = small(deep_merge(TINY, overrides or {}))
    d["merchants"] = {**d["merchants"], "learning": True, **merchants}
    d["platforms"] = {p: {"policy": p, "cpm": 400.0, **(platform_knobs or {}).get(p, {})} for p in platforms}
    return TrafficModel(d, seed=seed, agents=False)


def constant_returns(learner, profit_per_yuan: np.ndarray, platform_per_yuan: np.ndarray | None = None):
    """Replace the attribution by a constructed world: each channel earns ``profit_per_yuan``
    gross profit per yuan of today's effort (and each platform's ads ``platform_per_yuan``)."""
    def attribute(orders):
        effort = learner.effort()
        ads = effort[:, :3].sum(axis=1, keepdims=True) * learner.day_split()
        pp = np.zeros(learner.ppref.shape[1]) if platform_per_yuan is None else platform_per_yuan
        learner.cost_today[:], learner.ad_cost_today[:] = effort, ads  # all spent
        return effort * profit_per_yuan, ads * pp
    learner.attribute = attribute


def test_ad_orders_are_credited_to_the_targeting_that_bought_the_slot():
    """An ad-only world (no groups, visits, partners, WeChat) where each merchant buys only
    its own targeting (min_share 0, frozen): every ad impression and every ad order carries
    the buying merchant's targeting, and the attribution credits each ad order's profit
    to that targeting's channel. Guards the tag from the ad market through the impression,
    the purchase and place_orders to the order (mutation checked: tagging every slot as
    broad in ad_market.sell_ad_slots fails here)."""
    m = world(AD_ONLY, min_share=0.0, learning_rate=0.0, targeting_mix=[0.2, 0.4, 0.4])
    seen_targetings, credited = set(), 0.0
    for _ in range(5):
        m.step()
        imp = m.day_logs[0].impressions
        ad = imp.source == ADS
        seller = m.creators.merchant[m.items.creator[imp.item[ad]]]
        assert (imp.targeting[ad] == m.merchants.targeting[seller]).all()
        assert (imp.targeting[~ad] == -1).all()
        o = m.ledger.today_orders()
        k = o.source == ADS
        assert (o.targeting[k] == m.merchants.targeting[o.merchant[k]]).all()
        assert (o.targeting[~k] == -1).all()
        seen_targetings |= set(o.targeting[k].tolist())
        by_channel, _ = m.commerce.learning.attribute(o)
        profit = o.price * m.ledger.margin[m.merchants.category[o.merchant]] - o.commission - o.creator_cut
        for t in range(3):
            own = k & (o.targeting == t)
            assert by_channel[:, t].sum() == pytest.approx(profit[own].sum())
        assert by_channel[:, 3:].sum() == 0.0  # no group or WeChat orders in this world
        credited += by_channel.sum()
    assert len(seen_targetings) >= 2 and credited > 0


def test_group_and_wechat_orders_are_credited_to_their_channels():
    """Group-push orders of a merchant's own account go to groups, WeChat orders to wechat,
    anything else (visits, partner groups, organic feed) to no channel (constructed orders)."""
    m = world()
    acc = m.merchants.account
    src = {"ads": ADS, "group": 5, "visit": 6, "wechat": 7, "recommend": 0}
    rows = [  # (merchant, seller, source, targeting) -> expected channel
        (0, acc[0], src["group"], -1, GROUPS_CHANNEL),
        (1, acc[0], src["group"], -1, None),  # a group other than the merchant's own account's
        (2, acc[2], src["wechat"], -1, WECHAT_CHANNEL),
        (3, acc[3], src["visit"], -1, None),
        (4, acc[4], src["recommend"], -1, None),
        (5, acc[5], src["ads"], 2, 2),
    ]
    n = len(rows)
    o = Orders(platform=np.zeros(n, np.int64), merchant=np.array([r[0] for r in rows]),
               seller=np.array([r[1] for r in rows]), user=np.arange(n), price=np.full(n, 100.0),
               domain=np.zeros(n, np.int64), source=np.array([r[2] for r in rows]), new_buyer=np.ones(n, bool),
               buyer_tier=np.zeros(n, np.int64), rate=np.zeros(n), commission=np.full(n, 5.0),
               creator_cut=np.full(n, 10.0), targeting=np.array([r[3] for r in rows]))
    from simulator.commerce.ledger import ORDER_SOURCES
    assert [ORDER_SOURCES[s] for s in (5, 6, 7)] == ["group", "visit", "wechat"]
    by_channel, by_platform = m.commerce.learning.attribute(o)
    profit = 100.0 * m.ledger.margin[0] - 5.0 - 10.0
    expected = np.zeros_like(by_channel)
    for i, r in enumerate(rows):
        if r[4] is not None:
            expected[r[0], r[4]] = profit
    np.testing.assert_allclose(by_channel, expected)
    assert by_platform.sum() == pytest.approx(profit)  # the one ad order
    # a day without ad orders (or any channel's orders) still gives float tallies (an empty
    # weighted bincount is int64: it once crashed the moving average)
    no_ads = Orders(**{f: getattr(o, f)[:4] for f in o.__dataclass_fields__})
    learner = m.commerce.learning
    for profit_table in learner.attribute(no_ads) + learner.attribute(Orders(**{f: getattr(o, f)[4:5] for f in o.__dataclass_fields__})):
        assert profit_table.dtype == np.float64
    learner.observe(no_ads)


def test_effort_moves_to_the_channel_that_pays():
    """A constructed world where only the groups channel pays: its share rises day by day
    toward 1 − 4·floor, every other channel falls to the floor (guards the softmax step's
    direction; mutation checked: flipping the sign of the step fails)."""
    m = world(min_share=0.05, learning_rate=2.0, memory=1.0, diversion_share=1.0)  # all five channels open
    learner = m.commerce.learning
    constant_returns(learner, np.array([0.0, 0.0, 0.0, 3.0, 0.0]))
    shares = [learner.mix[:, GROUPS_CHANNEL].copy()]
    for day in range(40):
        m.day = day
        learner.observe(None)
        shares.append(learner.mix[:, GROUPS_CHANNEL].copy())
    shares = np.array(shares)
    assert (np.diff(shares, axis=0) >= -1e-12).all()
    np.testing.assert_allclose(shares[-1], 1 - 4 * 0.05, atol=1e-3)
    others = np.delete(learner.mix, GROUPS_CHANNEL, axis=1)
    np.testing.assert_allclose(others, 0.05, atol=1e-3)


def test_a_real_world_moves_effort_out_of_wechat_when_nobody_accepts_a_card():
    """The whole model: every merchant starts with WeChat cards (diversion_share 1) but no
    buyer accepts one (accept_rate 0), so WeChat earns nothing while the ads sell: the
    WeChat share of effort falls (mutation checked: crediting WeChat orders and ad orders
    to no channel leaves the mix where it started)."""
    m = world({"commerce": {"wechat": {"accept_rate": 0.0, "card_cost": 5.0}}}, diversion_share=1.0, learning_rate=1.0, memory=2.0)
    start = m.commerce.learning.mix.copy()
    m.run(6)
    end = m.commerce.learning.mix
    assert start[:, WECHAT_CHANNEL].mean() > 0.05
    assert (end[:, WECHAT_CHANNEL] <= start[:, WECHAT_CHANNEL] + 1e-12).all()
    assert (end[:, WECHAT_CHANNEL] < 0.8 * start[:, WECHAT_CHANNEL]).sum() >= 4  # those whose ads sold
    assert m.ledger.operating_cost.sum() > 0  # cards and pushes cost money
    df = m.metrics_frame()
    mix = df[df.platform == "all"][[f"mix_{c}" for c in CHANNELS]].to_numpy()
    np.testing.assert_allclose(mix.sum(axis=1), 1.0)
    assert mix[-1, WECHAT_CHANNEL] < mix[0, WECHAT_CHANNEL]


def test_memory_is_the_moving_averages_window():
    """Bias-corrected EMA with weight 1/memory on today: returns 1 then 0 give 0 with
    memory 1 and (0.75·0.25) / (0.75·0.25 + 0.25) = 3/7 with memory 4 (mutation checked:
    a fixed weight instead of 1/memory fails)."""
    out = {}
    for memory in (1.0, 4.0):
        m = world(memory=memory, learning_rate=0.0, diversion_share=1.0)  # every channel open, so observed
        learner = m.commerce.learning
        for r in (1.0, 0.0):
            constant_returns(learner, np.full(5, r))
            learner.observe(None)
        out[memory] = learner.returns()
    np.testing.assert_allclose(out[1.0], 0.0)
    np.testing.assert_allclose(out[4.0], 3 / 7)


def test_learning_rate_scales_the_step_and_zero_freezes_everything():
    """learning_rate 0: mix, platform split and value share stay at day 0 whatever the
    returns; a larger rate moves the paying channel further in the same days (mutation
    checked: ignoring learning_rate in the step fails)."""
    moved = {}
    for rate in (0.0, 0.2, 1.0):
        m = world(platforms=("douyin", "kuaishou"), learning_rate=rate, memory=1.0, value_step=0.2)
        learner = m.commerce.learning
        mix0, split0, value0 = learner.mix.copy(), learner.platform_share.copy(), learner.value_share.copy()
        constant_returns(learner, np.array([0, 0, 0, 2.0, 0]), np.array([1.0, 0.0]))
        for day in range(4):
            m.day = day
            learner.observe(None)
        if rate == 0.0:
            np.testing.assert_array_equal(learner.mix, mix0)
            np.testing.assert_array_equal(learner.platform_share, split0)
            np.testing.assert_array_equal(learner.value_share, value0)
        moved[rate] = (learner.mix[:, GROUPS_CHANNEL] - mix0[:, GROUPS_CHANNEL]).mean()
    assert 0 < moved[0.2] < moved[1.0]


def test_floor_and_shares_sum_to_one():
    """After a long run of lopsided returns every channel keeps at least min_share and each
    platform at least min(min_share, 1/P); mixes and splits sum to 1 (mutation checked:
    the mix without its floor fails)."""
    m = world(platforms=("douyin", "kuaishou"), min_share=0.03, learning_rate=5.0, memory=1.0, diversion_share=1.0)
    learner = m.commerce.learning
    constant_returns(learner, np.array([9.0, 0, 0, 0, 0]), np.array([0.0, 4.0]))
    for day in range(100):
        m.day = day
        learner.observe(None)
        assert (learner.mix >= 0.03 - 1e-12).all() and (learner.platform_share >= 0.03 - 1e-12).all()
        np.testing.assert_allclose(learner.mix.sum(axis=1), 1.0)
        np.testing.assert_allclose(learner.platform_share.sum(axis=1), 1.0)
    np.testing.assert_allclose(learner.mix[:, 0], 1 - 4 * 0.03, atol=1e-6)


def test_the_ad_split_over_platforms_learns_from_each_platforms_ad_return():
    """Two platforms alike but for the price of their ads: 40 yuan per 1,000 impressions on
    the first, 4,000 on the second (fixed CPMs). A yuan of ads on the second buys a
    hundredth of the impressions, so its return is lower and the ad split moves to the
    first (the whole model; mutation checked: skipping the platform split's learning step
    leaves it at 1/2)."""
    m = world(AD_ONLY, platforms=("douyin", "kuaishou"), learning_rate=2.0, memory=2.0,
              platform_knobs={"douyin": {"cpm": 40.0, "cpm_elasticity": 0.0},
                              "kuaishou": {"cpm": 4000.0, "cpm_elasticity": 0.0}})
    np.testing.assert_allclose(m.commerce.learning.platform_share, 0.5)
    m.run(6)
    share = m.commerce.learning.platform_share
    assert (share[:, 0] > 0.5).mean() >= 0.8 and share[:, 0].mean() > 0.6
    returns = m.commerce.learning.platform_returns()
    assert np.nanmean(returns[:, 0]) > np.nanmean(returns[:, 1])


def test_value_share_hill_climbs_toward_the_higher_groups_return():
    """The groups channel pays more the more value content it carries (constructed): the
    value share climbs by value_step every memory days up to 1 (mutation checked: never
    moving the value share fails)."""
    m = world(memory=2.0, value_step=0.1, learning_rate=1.0)
    learner = m.commerce.learning
    start = learner.value_share.copy()

    def attribute(orders):
        effort = learner.effort()
        profit = np.zeros_like(effort)
        profit[:, GROUPS_CHANNEL] = effort[:, GROUPS_CHANNEL] * learner.value_share
        learner.cost_today[:] = effort
        return profit, np.zeros_like(learner.platform_share)
    learner.attribute = attribute
    for day in range(30):
        m.day = day
        learner.observe(None)
    assert (learner.value_share > start).all()
    np.testing.assert_allclose(learner.value_share, 1.0, atol=0.1 + 1e-9)


def test_frozen_learning_reproduces_the_static_intensities():
    """learning_rate 0, min_share 0: each merchant runs its static strategy as far as the
    budget and unit costs allow: group pushes at pushes_per_day (cost push_cost each), a
    diverter's cards for its daily WeChat adds, the rest on its targeting's ad channel,
    nothing on the other two targetings; computed here from the formula (mutation checked:
    putting the remainder on the broad channel for everyone fails)."""
    g = {"pushes_per_day": 2.0, "push_cost": 15.0}
    w = {"adds_per_day": 10, "card_cost": 2.0}
    m = world({"commerce": {"groups": g, "wechat": w}}, learning_rate=0.0, min_share=0.0, diversion_share=0.5,
              seed=2)
    learner = m.commerce.learning
    b = m.merchants.daily_budget
    groups = np.minimum(30.0, b)
    wechat = np.minimum(np.where(m.merchants.diverts, 20.0, 0.0), b - groups)
    expected = np.zeros((m.merchants.n, 5))
    expected[:, GROUPS_CHANNEL], expected[:, WECHAT_CHANNEL] = groups, wechat
    expected[np.arange(m.merchants.n), m.merchants.targeting] = b - groups - wechat
    assert m.merchants.diverts.any() and not m.merchants.diverts.all()
    pushes = []
    import simulator.commerce.groups as groups_module
    real = groups_module.draw_pushes

    def spy(rng, n, rate, value):
        pushes.append(np.asarray(rate)[m.merchants.account].copy())
        return real(rng, n, rate, value)
    groups_module.draw_pushes = spy
    try:
        for _ in range(4):
            m.step()
            np.testing.assert_allclose(learner.effort(), expected, atol=1e-3 * b.max())
    finally:
        groups_module.draw_pushes = real
    np.testing.assert_allclose(np.array(pushes), np.minimum(2.0, b / 15.0)[None, :].repeat(len(pushes), 0), rtol=1e-5)
    np.testing.assert_allclose(m.ledger.operating_cost[~m.merchants.diverts],
                               4 * np.minimum(2.0, b / 15.0)[~m.merchants.diverts] * 15.0, rtol=1e-5)


def test_wechat_cards_follow_the_wechat_effort():
    """cards = budget · mix[wechat] / card_cost a day; each on-platform buyer gets one with
    probability min(1, cards / buyers): over a few days the cards sent match Σ min(cards,
    buyers) within noise, and cost card_cost each (mutation checked: a card for every
    buyer fails)."""
    m = world({"commerce": {"wechat": {"card_cost": 40.0}, "groups": {"enabled": False}}}, diversion_share=1.0,
              learning_rate=0.0)
    learner = m.commerce.learning
    sent = expected = 0.0
    for _ in range(5):
        m.step()
        o = m.ledger.today_orders()
        buyers = np.bincount(o.merchant[o.domain != 3].astype(np.int64), minlength=m.merchants.n)
        cards = learner.effort()[:, WECHAT_CHANNEL] / 40.0
        expected += np.minimum(cards, buyers).sum()
        sent += learner.cards_last_day.sum()
        assert (learner.cards_last_day <= buyers).all()
    assert expected > 20 and abs(sent - expected) < 4 * np.sqrt(expected) + 1
    assert m.ledger.operating_cost.sum() == pytest.approx(40.0 * sent)


def test_free_cards_go_only_to_buyers_of_merchants_who_divert():
    """With card_cost = 0 a merchant who diverts puts a card in every on-platform parcel
    and one who does not divert puts in none (ODD 7.7.6: WeChat is open only to merchants
    who divert), so no non-diverter is ever banned for diversion (mutation checked: a card
    for every buyer of every merchant, the old card_probability, fails)."""
    m = world({"commerce": {"wechat": {"card_cost": 0.0}}}, diversion_share=0.5, seed=3)
    diverts = m.merchants.diverts
    assert diverts.any() and (~diverts).any()
    learner, sent = m.commerce.learning, np.zeros(m.merchants.n)
    for _ in range(5):
        m.step()
        o = m.ledger.today_orders()
        buyers = np.bincount(o.merchant[o.domain != 3].astype(np.int64), minlength=m.merchants.n)
        np.testing.assert_array_equal(learner.cards_last_day[~diverts], 0)
        np.testing.assert_array_equal(learner.cards_last_day[diverts], buyers[diverts])
        sent += learner.cards_last_day
    assert sent[diverts].sum() > 0
    assert not m.merchants.banned[:, ~diverts].any()


def test_a_channel_that_spends_beyond_its_allocation_is_charged_the_excess():
    """r = (profit + e − cost) / e (ODD, learning rule): a channel that spent 1.5 times
    its allocation and earned nothing returns −0.5 a yuan, one that spent half of it
    0.5, one that spent it all and earned 2 a yuan 2 (mutation checked: not charging the
    excess, max(e − cost, 0), gives 0 for the first)."""
    m = world(diversion_share=1.0, learning_rate=0.0)
    learner = m.commerce.learning
    spent = np.array([1.0, 0.5, 1.0, 1.0, 1.5])  # cost per yuan of allocation, by channel
    earned = np.array([0.0, 0.0, 2.0, 0.0, 0.0])
    def attribute(orders):
        effort = learner.effort()
        ads = effort[:, :3].sum(axis=1, keepdims=True) * learner.platform_share
        learner.cost_today[:], learner.ad_cost_today[:] = effort * spent, ads
        return effort * earned, np.zeros_like(ads)
    learner.attribute = attribute
    for _ in range(3):
        m.step()
    r = learner.returns()
    has = learner.effort()[:, WECHAT_CHANNEL] > 0
    assert has.any()
    assert np.allclose(r[has, WECHAT_CHANNEL], -0.5)
    assert np.allclose(r[:, 1][np.isfinite(r[:, 1])], 0.5) and np.isfinite(r[:, 1]).any()
    assert np.allclose(r[:, 2][np.isfinite(r[:, 2])], 2.0) and np.isfinite(r[:, 2]).any()


def test_operating_cost_enters_the_merchants_profit():
    """merchants.csv: profit = GMV − cost of goods − commission − creator shares − ad spend −
    operating cost (mutation checked: leaving operating_cost out of profit fails)."""
    m = world(diversion_share=1.0).run(3)
    df = m.merchants_frame()
    ledger = m.ledger
    assert (df["operating_cost"] > 0).all()
    expected = (ledger.gmv.sum(axis=1) - ledger.cost_of_goods - ledger.commission_paid - ledger.creator_paid
                - ledger.ad_spend.sum(axis=0) - ledger.operating_cost)
    np.testing.assert_allclose(df["profit"], expected)
    for c in CHANNELS:
        assert np.isfinite(df[f"mix_{c}"]).all()
    from simulator.agents import Merchant
    agent = next(a for a in m.agents if isinstance(a, Merchant))
    assert agent.channel_mix == pytest.approx(dict(zip(CHANNELS, df.loc[agent.row, [f"mix_{c}" for c in CHANNELS]])))


def test_learning_off_is_the_default_model_bit_for_bit():
    """merchants.learning = false with every learning knob set to odd values gives the same
    metrics as the default scenario (the static strategy; the learning knobs do not reach
    it); the mix columns show the static strategy (operating cost 0). Mutation checked: creating
    the learner whatever merchants.learning says fails."""
    d = small({"population": {"merchants": 5}})
    d["platforms"] = {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou"}}
    base = TrafficModel(d, seed=4, agents=False).run(4)
    odd = {**d, "merchants": {"learning": False, "learning_rate": 7.0, "memory": 3.0, "min_share": 0.1,
                              "value_step": 0.3},
           "commerce": {"groups": {"push_cost": 99.0, "max_pushes": 2.0}, "wechat": {"card_cost": 5.0}}}
    off = TrafficModel(odd, seed=4, agents=False).run(4)
    a, b = base.metrics_frame(), off.metrics_frame()
    assert a.equals(b) or a.fillna(-1).equals(b.fillna(-1))
    assert (a["mix_groups"] == 0).all() and (a["mix_wechat"] == 0).all() and (a["operating_cost"] == 0).all()
    # the static strategy: the whole budget on the targeting's ad channel
    all_rows = a[a.platform == "all"]
    b, t = base.merchants.daily_budget, base.merchants.targeting
    for j, c in enumerate(TARGETING):
        np.testing.assert_allclose(all_rows[f"mix_ads_{c}"], b[t == j].sum() / b.sum())
    assert base.commerce.learning is None


LEARNING_KNOBS = {"merchants.learning_rate": 3.0, "merchants.memory": 6.0, "merchants.min_share": 0.1,
                  "merchants.value_step": 0.3, "commerce.groups.push_cost": 30.0, "commerce.groups.max_pushes": 1.0,
                  "commerce.wechat.card_cost": 5.0}


@pytest.fixture(scope="module")
def learning_base():
    m = _knob_world({})
    return m.metrics_frame(), m.merchants_frame()


def _knob_world(settings: dict) -> TrafficModel:
    from simulator.config.loading import deep_merge
    d = small(deep_merge(TINY, {"merchants": {"learning": True, "diversion_share": 0.5, "memory": 2.0},
                                "commerce": {"categories": {"fmcg": {"repurchase_days": 1}}}}))
    d["platforms"] = {p: {"policy": p, "cpm": 400.0} for p in ("douyin", "kuaishou")}
    return TrafficModel(d, seed=2, agents=False, **settings).run(5)


@pytest.mark.parametrize("key", sorted(LEARNING_KNOBS))
def test_learning_knobs_bite(key, learning_base):
    """Each knob that acts only with merchants.learning changes the run of a learning world
    (tests/config/test_knobs_bite.py exempts them from its learning-off base world)."""
    metrics, merchants = learning_base
    m = _knob_world({key: LEARNING_KNOBS[key]})
    assert not (m.metrics_frame().equals(metrics) and m.merchants_frame().equals(merchants)), key


def test_only_merchants_who_divert_use_wechat():
    """A merchant who does not divert (merchants.diversion_share) never puts effort on
    WeChat, not even the exploration floor, and sends no card: the floor would otherwise
    make every learning merchant divert, and on a platform that bans diversion get banned
    (mutation checked: opening WeChat to every merchant fails)."""
    m = next(w for seed in range(1, 50)  # a seed whose merchants are mixed (deterministic)
             if (w := world(min_share=0.05, learning_rate=2.0, memory=1.0, diversion_share=0.5, seed=seed))
             .merchants.diverts.any() and not w.merchants.diverts.all())
    learner = m.commerce.learning
    diverts = m.merchants.diverts
    constant_returns(learner, np.array([0.0, 0.0, 0.0, 0.0, 5.0]))  # WeChat pays best
    for day in range(30):
        m.day = day
        learner.observe(None)
    assert (learner.mix[~diverts, WECHAT_CHANNEL] == 0).all()
    assert (learner.mix[diverts, WECHAT_CHANNEL] > 0.5).all()
    np.testing.assert_allclose(learner.mix.sum(axis=1), 1.0)
    assert (learner.card_probability(np.full(m.merchants.n, 10.0))[~diverts] == 0).all()


def test_with_commerce_off_learners_put_no_effort_on_groups_or_wechat():
    """commerce.enabled = false runs no fan group and no parcel to carry a card, while
    "merchants still spend their ad budgets": a learner's groups and WeChat channels are
    closed then (they ran nowhere, so their allocation came back unspent as a return of
    1 a yuan and drew every learner's budget out of the ad market: ad revenue fell ~12x
    in 20 days; mutation checked: leaving them open fails)."""
    m = world({"commerce": {"enabled": False}}, diversion_share=1.0, seed=2)
    assert m.merchants.diverts.all()
    spend = []
    for _ in range(12):
        m.step()
        assert (m.commerce.learning.mix[:, GROUPS_CHANNEL] == 0).all()
        assert (m.commerce.learning.mix[:, WECHAT_CHANNEL] == 0).all()
        spend.append(m.ledger.today["ad_revenue"].sum())
    assert spend[0] > 0 and spend[-1] > 0.5 * spend[0]


def test_learning_merchants_keep_promotions_within_the_over_marketing_limit():
    """A learning merchant sends no more promotional group pushes a day than its home
    platform's over-marketing limit where that platform bans for it, so it is never banned
    for over-marketing however much of its budget goes to groups (mutation checked:
    without the cap the accounts are banned within days)."""
    m = world({"commerce": {"groups": {"overmarketing_pushes": 1.0, "join_intimacy": 0.0, "join_rate": 1.0}}},
              min_share=0.0, learning_rate=0.0, value_step=0.0,
              platform_knobs={"douyin": {"ban_per_excess_push": 1.0}})
    learner = m.commerce.learning
    learner.pref[:] = np.log([1e-9, 1e-9, 1e-9, 1.0, 1e-9])  # all the budget on groups: max_pushes a day
    learner.value_share[:] = 0.0  # every push a promotion
    learner._mixes()
    m.run(6)
    assert m.ledger.operating_cost.sum() > 0  # the pushes were planned and paid
    assert not m.merchants.banned.any()


def two_feeds(seed=1, **merchants) -> TrafficModel:
    """Two feed platforms, ads only, each merchant's whole budget on broad ads (min_share 0,
    no groups, no WeChat), cheap fixed-CPM ads with slots to spare and accounts that post
    ~5 items a day: a merchant's ad budget on a platform is spent to within one
    impression's price."""
    over = deep_merge(AD_ONLY, {"creators": {"post_rate_mean": 5.0, "post_rate_sigma": 0.0},
                                "merchants": {"daily_ad_budget": 5.0}})
    ads = {"cpm": 20.0, "cpm_elasticity": 0.0, "ad_load": 0.1}
    return world(over, platforms=("douyin", "kuaishou"), seed=seed, platform_knobs={"douyin": ads, "kuaishou": ads},
                 **{"min_share": 0.0, "diversion_share": 0.0, "targeting_mix": [1, 0, 0], **merchants})


def test_a_learners_ad_budget_follows_its_weights_over_the_platforms_that_can_sell():
    """Merchant 0 banned on the first platform, merchant 1 on both (weights frozen at 1/2
    each): merchant 0's whole ad budget goes to the second platform and is spent there;
    merchant 1's is not spent, so its broad channel returns the yuan itself (1) and
    neither platform's return is observed; merchant 0's first-platform return is not
    observed, the second's is; the others split by the weights (mutation checked: the
    split by the weights alone spends half of merchant 0's budget and observes a
    return of 1 where it is banned)."""
    m = two_feeds(learning_rate=0.0)
    learner = m.commerce.learning
    m.moderation.pending[0, [0, 1]] = True
    m.moderation.pending[1, 1] = True
    m.moderation.apply()
    m.step()
    budget = m.merchants.daily_budget
    ads = learner.effort_today[:, :3].sum(axis=1)
    np.testing.assert_allclose(ads, budget)  # (everything on the ad channels)
    np.testing.assert_array_equal(learner.platform_today[:2], [[0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(learner.platform_today[2:], 0.5)
    spend = m.ledger.ad_spend
    assert spend[0, 0] == 0 and spend[1, 0] == pytest.approx(budget[0], abs=0.02)
    assert (spend[:, 1] == 0).all()
    broad = m.merchants.targeting == 0
    assert broad.all()
    np.testing.assert_allclose(learner.cost_last_day[:2, 0], [spend[1, 0], 0.0])
    assert learner.returns()[1, 0] == 1.0
    r = learner.platform_returns()
    assert np.isnan(r[0, 0]) and np.isfinite(r[0, 1]) and np.isnan(r[1]).all()
    assert np.isfinite(r[2:]).all()


def test_a_platform_without_ad_slots_neither_gets_nor_teaches_the_ad_budget():
    """Two days on both platforms, then the second's ad_load drops to 0: the learners' whole
    ad budget goes to the first and their learned weights stay as they were (the second
    platform is out of the step: its last return is not compared, no return is observed
    on it), while they kept moving before (mutation checked: observing the second
    platform's unspent allocation as a return of 1, or keeping its stale return in the
    step, moves the weights)."""
    m = two_feeds(learning_rate=2.0, memory=2.0)
    learner = m.commerce.learning
    start = learner.platform_share.copy()
    m.run(2)
    assert not np.allclose(learner.platform_share, start)  # (the weights learn here)
    known = learner.platform_returns()[:, 1].copy()
    assert np.isfinite(known).any()
    list(m.platforms.values())[1].reconfigure(ad_load=0.0)
    weights = learner.platform_share.copy()
    for _ in range(3):
        m.step()
        # (equal up to the renormalization's rounding: a weight of ~1e-23 moves in its last digits)
        np.testing.assert_allclose(learner.platform_share, weights, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(learner.platform_returns()[:, 1], known)
        np.testing.assert_array_equal(learner.platform_today, np.tile([1.0, 0.0], (m.merchants.n, 1)))
        assert m.ledger.today["ad_spend"][1].sum() == 0 and m.ledger.today["ad_spend"][0].sum() > 0
    np.testing.assert_allclose(learner.ad_budget(0).sum(axis=1), learner.effort()[:, :3].sum(axis=1))


def test_the_days_split_is_fixed_when_the_feeds_start():
    """A merchant banned during the day (phase 9) spent that day's ads on both platforms:
    the learner's returns that evening use the split the ad market used (1/2 each, its
    spend on the first platform included), and the ban moves its budget from the next day
    (mutation checked: reading the platforms that can sell when the learner observes
    charges the first platform's spend to the second's allocation)."""
    m = two_feeds(learning_rate=0.0)
    learner = m.commerce.learning
    moderate = m.moderate

    def ban_merchant_0(lost):
        m.moderation.pending[0, 0] = True
        return moderate(lost)
    m.moderate = ban_merchant_0
    m.step()
    assert m.merchants.banned[0, 0]
    np.testing.assert_array_equal(learner.platform_today[0], [0.5, 0.5])
    assert m.ledger.ad_spend[0, 0] > 0
    m.moderate = moderate
    m.step()
    np.testing.assert_array_equal(learner.platform_today[0], [0.0, 1.0])


def test_with_commerce_off_learners_keep_their_day0_mix_and_weights():
    """Nothing sells with commerce off, so a learner has no return to learn from (ODD
    7.7.6): its mix and platform weights stay the day-0 ones. (Learning on, the ad budget
    a targeting could not spend came back as a return of 1 a yuan and drew the mix toward
    the targetings that sold the fewest slots; mutation checked.)"""
    m = world({"commerce": {"enabled": False}}, seed=3)
    learner = m.commerce.learning
    mix0, share0 = learner.mix.copy(), learner.platform_share.copy()
    m.run(15)
    assert np.array_equal(learner.mix, mix0) and np.array_equal(learner.platform_share, share0)
    assert m.ledger.ad_spend.sum() > 0  # the ad budgets are still spent
