"""The shelf platform kind (Taobao-like, commerce/shelf.py, docs/ODD.md 7.12): no feed,
searches with purchase intent, SMS recall of past buyers, and the leak of recalled
non-buyers to other shops. Each test says what it guards and the mutation it was checked
with (the mechanism neutralised, the test failing)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from simulator import TrafficModel
from simulator.commerce.ledger import PRIVATE_PLATFORM, PRIVATE_WECHAT, PUBLIC_G, RECALL, SEARCH
from simulator.config.loading import deep_merge, scenario_with
from simulator.platform.ad_market import _bids

SHELF = 1  # the shelf platform's index in the worlds below


def world(shelf: dict | None = None, *, shops: int = 4, seed: int = 1, **over) -> TrafficModel:
    """A Douyin-like feed platform and a Taobao-like shelf ('taobao') on 2,000 users; every
    merchant sells FMCG (one category) unless ``over`` says otherwise; no intro commission."""
    d = {"population": {"users": 2000, "creators": 60, "merchants": shops}, "steps": 12,
         "merchants": {"category_mix": [1, 0, 0, 0], "new_share": 0.0},
         "platforms": {"douyin": {"policy": "douyin"},
                       "taobao": {"policy": "douyin", "kind": "shelf", "adoption": 0.8, "shelf": shelf or {}}}}
    return TrafficModel(deep_merge(d, over), seed=seed)


def run(m: TrafficModel, days: int | None = None) -> TrafficModel:
    return m.run(days if days is not None else m.scenario.steps)


def shelf_rows(m: TrafficModel):
    df = m.metrics_frame()
    return df[df["platform"] == "taobao"]


def orders_of_run(m: TrafficModel, days: int):
    """Every order of ``days`` steps (the ledger keeps only today's)."""
    out = []
    for _ in range(days):
        m.step()
        out.append(m.ledger.today_orders())
    from simulator.commerce.ledger import Orders
    return Orders.concat(out)


# --------------------------------------------------------------------------- no feed


def test_a_shelf_platform_has_no_feed_and_its_dau_is_its_visitors():
    """Guards 'no creator feed': a shelf platform makes no impressions (no slot source, no
    ads, no ad revenue) while the feed platform next to it does, and its active users are
    today's searchers and recalled users (mutation checked: without the shelf's early
    return in build_feed the shelf fills feeds and the test fails)."""
    m = run(world({"recall_every": 1, "intent_rate": 0.1}))
    rows = shelf_rows(m)
    assert (rows["impressions_total"] == 0).all() and (rows["ad_revenue"] == 0).all()
    assert (rows["active_users"] > 0).all()
    assert (rows["active_users"] >= rows["shelf_searches"]).all()
    assert (rows["active_users"] <= rows["shelf_searches"] + rows["recalls"]).all()
    assert rows["orders"].sum() > 0
    feed = m.metrics_frame().query("platform == 'douyin'")
    assert (feed["impressions_total"] > 0).all()
    assert (feed[["shelf_searches", "recalls", "recall_orders", "recall_leaks", "sms_cost"]] == 0).all().all()


def test_merchants_spend_no_ad_budget_on_a_shelf():
    """Guards the ad budget split: a static merchant bids its whole daily budget on the one
    feed platform (nothing is left unspent for a shelf that has no ad slots), and a
    learning merchant's platform split puts nothing on the shelf (mutation checked:
    dividing the static budget by all platforms, and the learner's softmax over all
    platforms, each fail)."""
    m = world()
    _, _, budget = _bids(m, 0)
    np.testing.assert_allclose(budget, m.merchants.daily_budget)
    learner = world(merchants={"learning": True}).commerce.learning
    assert (learner.platform_share[:, SHELF] == 0).all()
    np.testing.assert_allclose(learner.platform_share.sum(axis=1), 1.0)
    assert (learner.ad_budget(SHELF) == 0).all()


def test_accounts_live_on_feed_platforms_only():
    """Guards homes: with the shelf listed first, no account (initial creators, merchants'
    accounts, potential merchants' and entrant creators') has the shelf as its home, so
    fan groups, homepage visits and over-marketing bans stay on feed platforms (mutation
    checked: drawing homes among all platforms fails)."""
    d = {"population": {"users": 1000, "creators": 60, "merchants": 4}, "steps": 3,
         "creators": {"entry_rate": 0.2}, "merchants": {"entrant_pool": 6},
         "platforms": {"taobao": {"policy": "douyin", "kind": "shelf"}, "douyin": {"policy": "douyin"},
                       "kuaishou": {"policy": "kuaishou"}}}
    m = run(TrafficModel(d, seed=2))
    assert m.creators.n > 66  # entrants arrived
    assert (m.creators.home != 0).all()
    assert set(np.unique(m.creators.home)) == {1, 2}


# --------------------------------------------------------------------------- search


def test_searches_find_shops_of_the_intended_category():
    """Guards search retrieval: a search in category c only ever buys from an open shop of
    category c, never another category's (mutation checked: scoring every open shop
    whatever its category fails)."""
    m = world({"buy_offset": 8.0, "results": 3}, shops=12, merchants={"category_mix": [1, 1, 1, 1]})
    assert len(np.unique(m.merchants.category)) == 4
    shelves, platform = m.commerce.shelves, m.platforms["taobao"]
    user = np.arange(0, 2000, 2)
    cat = np.arange(len(user)) % 4
    open_shop = np.ones(m.merchants.n, bool)
    s, merchant = shelves._search(platform, open_shop, user, cat, np.full(len(user), -1))
    assert len(s) > 0.5 * len(user)
    assert (m.merchants.category[merchant] == cat[s]).all()


def test_higher_price_fit_wins_more():
    """Guards the price fit: of two shops of one category, the one whose price band fits
    the searchers' wins most searches (in the ranking and in the purchase logit)
    (mutation checked: w_price left out of both the score and the logit gives about even
    shares and fails; either one alone still favours the fitting shop)."""
    m = world({"w_match": 0.0, "w_price": 3.0, "results": 1, "buy_offset": 3.0}, shops=2)
    shelves = m.commerce.shelves
    shelves.user_band[:] = 0.2
    shelves.shop_band[:] = [0.2, 0.9]  # merchant 0 fits every searcher, merchant 1 is 0.7 off
    user = np.arange(2000)
    s, merchant = shelves._search(m.platforms["taobao"], np.ones(2, bool), user, np.zeros(2000, np.int64),
                                  np.full(2000, -1))
    wins = np.bincount(merchant, minlength=2)
    assert wins[0] > 4 * wins[1]


# --------------------------------------------------------------------------- recall and the leak


RECALL_WORLD = {"recall_every": 1, "recall_rate": 1.0, "intent_rate": 0.15, "results": 1, "w_price": 0.0}
REPURCHASE_FAST = {"commerce": {"w_trust": 6.0, "categories": {"fmcg": {"repurchase_days": 2, "trust_gain": 0.5}}}}


def test_recall_converts_past_buyers_better_than_a_stranger_search():
    """Guards recall targeting: an SMS recall goes to the merchant's own past buyers, whose
    trust (the customer book) makes them convert at the recalling shop more often than a
    searcher converts at the one shop a search shows (mutation checked: texting random
    users of the platform instead of the shop's past buyers fails)."""
    m = run(world({**RECALL_WORLD, "leak": False}, **REPURCHASE_FAST), 20)
    rows = shelf_rows(m)
    recall_rate = rows["recall_orders"].sum() / rows["recalls"].sum()
    search_rate = rows["shelf_orders"].sum() / rows["shelf_searches"].sum()  # no leak sessions: intent only
    assert rows["recalls"].sum() > 100
    assert recall_rate > 2.0 * search_rate


@pytest.mark.parametrize("shops,leak,expect", [(2, True, "some"), (1, True, "none"), (2, False, "none")])
def test_recalled_non_buyers_leak_only_to_other_shops(shops, leak, expect):
    """Guards the leak: a recalled user who does not buy searches the category, the
    recalling shop excluded, so with two shops of the category some leak to the other
    one, with one shop none can, and with ``leak = false`` none search (mutation checked:
    leaving the recalling shop in the leak search makes the one-shop case leak and fail)."""
    m = run(world({**RECALL_WORLD, "leak": leak}, shops=shops, **REPURCHASE_FAST), 16)
    rows = shelf_rows(m)
    assert rows["recalls"].sum() > 50
    leaks = rows["recall_leaks"].sum()
    assert (leaks > 0) if expect == "some" else (leaks == 0)
    assert (rows["recall_leaks"] <= rows["recalls"] - rows["recall_orders"]).all()
    share = m.summary()["platforms"]["taobao"]["recall_leak_share"]
    assert share == pytest.approx(leaks / rows["recalls"].sum())


def test_sms_cost_is_the_merchants_operating_cost():
    """Guards the booking of recall SMS: every SMS costs its merchant sms_cost, booked as an
    operating cost, so it lowers the merchant's profit (mutation checked: without the
    booking the test fails)."""
    m = run(world({**RECALL_WORLD, "sms_cost": 2.0}, **REPURCHASE_FAST), 14)
    rows = shelf_rows(m)
    assert rows["recalls"].sum() > 0
    assert rows["sms_cost"].sum() == pytest.approx(2.0 * rows["recalls"].sum())
    assert m.ledger.operating_cost.sum() == pytest.approx(rows["sms_cost"].sum())
    costs = m.ledger.ad_spend.sum(axis=0) + m.ledger.commission_paid + m.ledger.creator_paid + m.ledger.operating_cost
    np.testing.assert_allclose(m.ledger.merchant_costs(), costs)


def test_shelf_orders_pay_the_shelf_commission_and_enter_the_book():
    """Guards the money of shelf orders: searches are public GMV, recalls private GMV on
    the shelf, both pay the shelf's own commission schedule, and their buyers enter the
    customer book, so parcels carry WeChat cards and shelf buyers become WeChat contacts
    (mutation checked: booking search orders on the feed platform fails)."""
    m = world({**RECALL_WORLD}, merchants={"diversion_share": 1.0},
              platforms={"taobao": {"commission": {"fmcg": 0.11}}, "douyin": {"commission": {"fmcg": 0.03}}},
              **REPURCHASE_FAST)
    o = orders_of_run(m, 14)
    shelf = o.platform == SHELF
    search, recall = shelf & (o.source == SEARCH), shelf & (o.source == RECALL)
    assert search.sum() > 0 and recall.sum() > 0
    assert (o.domain[search] == PUBLIC_G).all() and (o.domain[recall] == PRIVATE_PLATFORM).all()
    on_shelf = shelf & (o.domain != PRIVATE_WECHAT)
    np.testing.assert_allclose(o.commission[on_shelf], 0.11 * o.price[on_shelf])
    assert (o.source[(o.platform == 0)] != SEARCH).all()
    book = m.commerce.book
    assert (book.lookup(o.user[search], o.merchant[search]) >= 0).all()
    assert m.commerce.wechat.per_platform(2)[SHELF] > 0
    rows = shelf_rows(m)
    assert rows["commission_revenue"].sum() == pytest.approx(o.commission[shelf].sum())
    assert rows["gmv_private_platform"].sum() == pytest.approx(o.price[recall].sum())


# --------------------------------------------------------------------------- off switch, determinism, schema


def test_a_feed_platform_with_shelf_keys_is_the_default_model():
    """Guards the off switch: ``kind = "feed"`` said explicitly, with a shelf table of odd
    values, gives the same metrics as the default platform (mutation checked: telling a
    shelf platform by its shelf table's recall_rate instead of its kind fails)."""
    base = {"population": {"users": 1500, "creators": 60, "merchants": 4}, "steps": 4}
    a = TrafficModel({**base, "platforms": {"douyin": {"policy": "douyin"}}}, seed=3).run(4)
    b = TrafficModel({**base, "platforms": {"douyin": {"policy": "douyin", "kind": "feed",
                                                       "shelf": {"intent_rate": 0.9, "recall_rate": 1.0}}}}, seed=3).run(4)
    assert b.commerce.shelves is None
    assert a.metrics_frame().equals(b.metrics_frame())
    assert a.merchants_frame().equals(b.merchants_frame())


def test_same_seed_same_shelf_run():
    """Guards determinism: the shelf draws only from its own seeded stream, so the same
    scenario and seed give identical metrics and orders (mutation checked: an unseeded
    shelf stream fails)."""
    a = run(world(RECALL_WORLD, seed=5), 8)
    b = run(world(RECALL_WORLD, seed=5), 8)
    assert a.metrics_frame().equals(b.metrics_frame())
    assert a.merchants_frame().equals(b.merchants_frame())


def test_a_shelf_searches_on_a_follow_graph_without_edges(monkeypatch):
    """Guards the shelf's purchase probability on a day without follow edges
    (graph.mean_follows 0: day 0's searches run before anyone follows), in numpy's forms
    (the suite's, and a large run's while its graph is below COMPILED_FROM): the run
    goes on and the searchers buy. Fails when FollowGraph.intimacy_of reads edge 0 of the
    empty graph (it crashed the ecosystem at 160,000 users with mean_follows 0)."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", False)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    m = world({"intent_rate": 0.2}, graph={"mean_follows": 0.0})
    assert m.follows.n_edges == 0
    m.step()
    day0 = shelf_rows(m)
    assert day0["shelf_searches"].sum() > 0 and day0["orders"].sum() > 0


@pytest.mark.parametrize("platforms,needle", [
    ({"t": {"policy": "douyin", "kind": "shelf", "activity": {"enabled": True}}, "d": {"policy": "douyin"}}, "activity.enabled"),
    ({"t": {"policy": "kuaishou", "kind": "shelf", "gini_target": 0.3}, "d": {"policy": "douyin"}}, "gini_target"),
    ({"t": {"policy": "douyin", "kind": "shelf"}}, "at least one platform must be a feed platform"),
    ({"t": {"policy": "douyin", "kind": "mall"}}, "kind"),
    ({"t": {"policy": "douyin", "kind": "shelf", "adapt": {"enabled": True, "knobs": ["commission", "ad_load"]}},
      "d": {"policy": "douyin"}}, "only its commission"),
])
def test_the_schema_rejects_feed_only_settings_on_a_shelf(platforms, needle):
    """A shelf has no feed: activity that responds to the feed, Gini steering, adapting a
    feed knob (ad load, centralization) and a world with no feed platform at all
    (accounts live on feed platforms) are errors."""
    with pytest.raises((ValidationError, ValueError), match=needle):
        scenario_with({"platforms": platforms}, None, {})


SHELF_KNOBS = {"platforms.taobao.kind": "feed", "platforms.taobao.shelf.intent_rate": 0.01,
               "platforms.taobao.shelf.results": 4, "platforms.taobao.shelf.candidates": 1,
               "platforms.taobao.shelf.w_match": 8.0, "platforms.taobao.shelf.w_price": 3.0,
               "platforms.taobao.shelf.temperature": 0.0, "platforms.taobao.shelf.buy_offset": -2.0,
               "platforms.taobao.shelf.recall_every": 3, "platforms.taobao.shelf.recall_rate": 0.1,
               "platforms.taobao.shelf.recall_window": 1, "platforms.taobao.shelf.sms_cost": 0.0,
               "platforms.taobao.shelf.leak": False}


@pytest.fixture(scope="module")
def shelf_base():
    m = run(world(RECALL_WORLD, **REPURCHASE_FAST), 10)
    return m.metrics_frame(), m.merchants_frame()


@pytest.mark.parametrize("key", sorted(SHELF_KNOBS))
def test_shelf_knobs_bite(key, shelf_base):
    """Each shelf knob (and kind) changes the run of a world with a shelf platform
    (tests/config/test_knobs_bite.py exempts them from its feed-only base world)."""
    metrics, merchants = shelf_base
    m = run(world(RECALL_WORLD, **REPURCHASE_FAST, **_nested(key, SHELF_KNOBS[key])), 10)
    assert not (m.metrics_frame().equals(metrics) and m.merchants_frame().equals(merchants)), key


def test_shelf_knobs_cover_the_schema():
    """The list above names every shelf knob (a new one must be added and bite)."""
    from simulator.config.schema import ShelfConfig
    assert {k.rsplit(".", 1)[1] for k in SHELF_KNOBS if ".shelf." in k} == set(ShelfConfig.model_fields)


def _nested(dotted: str, value) -> dict:
    out: dict = value
    for part in reversed(dotted.split(".")):
        out = {part: out}
    return out


def test_a_search_block_evaluates_its_purchase_probabilities_once():
    """Guards Shelves._search's one evaluation of the purchase probability per block of
    searches (issue #17: one per rank cost ~2 ms a call at 1 M users): the shown shops are
    evaluated in one call per (category, block), and the searches buy exactly as when
    each rank's pending searches are evaluated on their own (the same draws)."""
    m = world({"buy_offset": -1.0, "results": 4}, shops=12, merchants={"category_mix": [1, 1, 1, 1]})
    shelves, platform = m.commerce.shelves, m.platforms["taobao"]
    user = np.arange(0, 2000, 2)
    cat = np.arange(len(user)) % 4
    excluded = np.where(np.arange(len(user)) % 5 == 0, np.arange(len(user)) % 12, -1)
    state = shelves.rng.bit_generator.state
    calls = []
    probability = shelves.probability

    def counted(platform, user, merchant):
        calls.append(len(user))
        return probability(platform, user, merchant)

    shelves.probability = counted
    s, merchant = shelves._search(platform, np.ones(m.merchants.n, bool), user, cat, excluded)
    shown = [np.count_nonzero(cat == c) * min(4, np.count_nonzero(m.merchants.category == c)) for c in range(4)]
    assert calls == shown  # one call a category (one block each), for each search's shown shops
    # the rank-by-rank form it replaced, from the same stream state
    shelves.probability = probability
    shelves.rng.bit_generator.state = state
    want_s, want_m = _search_rank_by_rank(shelves, platform, np.ones(m.merchants.n, bool), user, cat, excluded)
    assert 0 < len(s) < len(user) and np.array_equal(s, want_s) and np.array_equal(merchant, want_m)


def _search_rank_by_rank(shelves, platform, open_shop, user, cat, excluded):
    """Shelves._search as it was: the probability of each rank's pending searches evaluated on their own."""
    from simulator.state.vocabulary import CATEGORIES

    model, cfg, rng = shelves.model, platform.cfg.shelf, shelves.rng
    out_s, out_m = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for c in range(len(CATEGORIES)):
        sel = np.flatnonzero(cat == c)
        shops = np.flatnonzero(open_shop & (model.merchants.category == c))
        if len(sel) == 0 or len(shops) == 0:
            continue
        s, u = sel, user[sel]
        cand = shops if len(shops) <= cfg.candidates else np.sort(rng.choice(shops, min(len(shops), cfg.candidates),
                                                                               replace=False))
        score = shelves.score(cfg, u, cand)
        if cfg.temperature > 0:
            score += cfg.temperature * rng.gumbel(size=score.shape)
        score[excluded[s][:, None] == cand[None, :]] = -np.inf
        k = min(cfg.results, len(cand))
        top = np.argpartition(-score, k - 1, axis=1)[:, :k]
        top_score = np.take_along_axis(score, top, axis=1)
        rank = np.argsort(-top_score, axis=1, kind="stable")
        top, top_score = np.take_along_axis(top, rank, axis=1), np.take_along_axis(top_score, rank, axis=1)
        pending = np.ones(len(s), dtype=bool)
        for r in range(k):
            idx = np.flatnonzero(pending & np.isfinite(top_score[:, r]))
            mm = cand[top[idx, r]]
            buy = rng.random(len(idx)) < shelves.probability(platform, u[idx], mm)
            out_s.append(s[idx[buy]])
            out_m.append(mm[buy])
            pending[idx[buy]] = False
    return np.concatenate(out_s), np.concatenate(out_m)
