"""Every scenario knob does something (issue #12, item 11).

For every numeric, boolean or choice knob of the schema (platform knobs once per
platform), the test runs the "everything on" base world of :mod:`.knob_world` with that
one knob set to a clearly different valid value and asserts that some output changes:
the metrics frame (compared day by day), the creators, merchants or items frame, or the
summary. A knob that changes nothing is dead: its mechanism is not wired, or it cannot
act. Knobs that legitimately cannot act in the base world are in ``EXEMPT`` with the
reason (a reviewed list, not a silent skip); identifiers and output settings are exempt
by kind. New schema knobs are picked up automatically and must bite or be listed.
"""

from __future__ import annotations

import numba
import pytest

from .knob_world import DAYS, bounds, differs, knobs

# identifiers, run settings and file inputs: not model knobs
EXEMPT_BY_KIND = {
    "name": "identifier",
    "description": "identifier",
    "seed": "run setting (the replicate's seed; seeds are tested by the reproducibility tests)",
    "steps": "run setting (the run's length)",
    "graph.follow_graph_file": "a file input (tested in tests/state/test_graphs.py)",
    # a platform's kind: 'shelf' rejects the base platforms' feed-only knobs (activity, gini_target);
    # tests/commerce/test_shelf.py::test_shelf_knobs_bite checks that it bites in a world with a shelf
    "platforms.douyin.kind": "platform kind (bites in tests/commerce/test_shelf.py)",
    "platforms.kuaishou.kind": "platform kind (bites in tests/commerce/test_shelf.py)",
}

# knobs that cannot act in the base world, with the reason (reviewed list)
EXEMPT: dict[str, str] = {
    "platforms.douyin.cap_lookahead": "acts only with an exposure cap; the Douyin-like platform has none "
                                      "(its exposure_cap variant turns one on and bites)",
    "platforms.douyin.gini_gain": "acts only with Gini steering; the Douyin-like platform has no gini_target",
    "platforms.douyin.steering_step": "acts only with Gini steering; the Douyin-like platform has no gini_target",
    "platforms.douyin.steering_max": "acts only with Gini steering; the Douyin-like platform has no gini_target",
    # entry and exit (state/turnover.py) are off in the base world; their on-switches bite
    "creators.exit_window": "acts only with an exit bar (creators.exit_impressions or exit_income > 0)",
    "creators.exit_impressions": "acts only on creators at least creators.exit_window (30) days old; the base world "
                                 "runs 5 days (tests/state/test_turnover.py checks the rule)",
    "creators.exit_income": "acts only on creators at least creators.exit_window (30) days old; the base world "
                            "runs 5 days (tests/state/test_turnover.py checks the rule)",
    "merchants.entry_rate": "acts only with potential merchants (merchants.entrant_pool > 0)",
    "merchants.entry_memory": "acts only with potential merchants (merchants.entrant_pool > 0)",
    "metrics.success_days": "acts only with creator entrants (creators.entry_rate > 0)",
    "metrics.success_followers": "acts only with creator entrants (creators.entry_rate > 0)",
    "metrics.success_impressions": "acts only with creator entrants (creators.entry_rate > 0)",
    **{key: "acts only with merchants.learning (off in the base world, whose 'learning' variant turns it on and "
            "bites); tests/commerce/test_learning.py::test_learning_knobs_bite checks it bites with learning on"
       for key in ("merchants.learning_rate", "merchants.memory", "merchants.min_share", "merchants.value_step",
                   "commerce.groups.push_cost", "commerce.groups.max_pushes", "commerce.wechat.card_cost")},
    **{f"platforms.{p}.adapt.{key}": "acts only with adapt.enabled (off in the base world, whose 'enabled' variant "
                                     "turns it on and bites); tests/platform/test_adaptation.py::test_adapt_knobs_bite "
                                     "checks it bites with adaptation on"
       for p in ("douyin", "kuaishou")
       for key in ("objective", "knobs", "every", "start", "tolerance", "ad_load_step", "ad_load_min", "ad_load_max",
                   "commission_step", "commission_scale_min", "commission_scale_max", "centralization_step",
                   "centralization_min", "centralization_max")},
    # satisfaction is measured on every platform (so the satisfaction knobs bite on both),
    # but only where activity is on does it move who opens the app and for how long
    "platforms.kuaishou.activity.sensitivity": "acts only with activity on; it is off on the Kuaishou-like platform "
                                               "(on on the Douyin-like one, where it bites)",
    "platforms.kuaishou.activity.session_sensitivity": "acts only with activity on; it is off on the Kuaishou-like "
                                                       "platform (on on the Douyin-like one, where it bites)",
    "platforms.kuaishou.activity.max_session": "acts only with activity on; it is off on the Kuaishou-like platform "
                                               "(on on the Douyin-like one, where it bites)",
    # multi-homing (audience/attention.py, content/presence.py) is off in the base world; its on-switches bite
    **{key: "acts only with attention.enabled or creators.multi_homing (off in the base world, whose flipped switches "
            "bite); tests/audience/test_attention.py::test_multi_homing_knobs_bite checks it bites with them on"
       for key in ("attention.memory", "attention.sensitivity", "attention.adopt_rate", "attention.adopt_base",
                   "attention.entry_share", "attention.drop_share", "attention.drop_days", "creators.cross_post_share",
                   "creators.expand_rate", "creators.expand_margin", "creators.expand_window")},
    # shelf platforms (commerce/shelf.py): both base platforms are feed platforms, where the
    # shelf keys are read by nothing; tests/commerce/test_shelf.py::test_shelf_knobs_bite
    # checks that every shelf knob bites in a world with a shelf platform
    **{f"platforms.{p}.{key}": "acts only on a shelf platform (kind = 'shelf'); tests/commerce/test_shelf.py::"
                               "test_shelf_knobs_bite checks it bites there"
       for p in ("douyin", "kuaishou")
       for key in ("shelf.intent_rate", "shelf.results", "shelf.candidates", "shelf.w_match", "shelf.w_price",
                   "shelf.temperature", "shelf.buy_offset", "shelf.recall_every", "shelf.recall_rate",
                   "shelf.recall_window", "shelf.sms_cost", "shelf.leak")},
}

# the clearly different valid value each knob is set to, where the rule in variant() does not fit
VARIANTS: dict = {
    "population.users": 1000,
    "population.creators": 40,
    "population.merchants": 4,
    "graph.generator": "holme_kim",
    "relationship.gain_view": 0.001,      # gains must stay ordered view <= complete <= like <= comment <= share
    "relationship.gain_complete": 0.015,
    "relationship.gain_like": 0.015,
    "relationship.gain_comment": 0.03,
    "relationship.tier_thresholds": (0.05, 0.2, 0.4),
    "merchants.category_mix": (0.1, 0.1, 0.4, 0.4),
    "merchants.targeting_mix": (0.1, 0.8, 0.1),
    "merchants.wechat_accounts": 1,       # friend room: adds_per_day × accounts
    "commerce.wechat.friend_cap": 3,      # binds: a few contacts per account in 5 days
    "commerce.wechat.adds_per_day": 1,
    "commerce.groups.overmarketing_pushes": 0.0,
    "commerce.groups.pushes_per_day": 5.0,
    "platforms.douyin.policy": "kuaishou",
    "platforms.kuaishou.policy": "douyin",
    "platforms.douyin.centralization": 0.5,
    "platforms.kuaishou.centralization": 0.5,
    "platforms.douyin.exposure_cap": 0.01,
    "platforms.kuaishou.exposure_cap": 0.01,
    "platforms.douyin.gini_target": 0.2,
    "platforms.kuaishou.gini_target": 0.2,
    "platforms.douyin.block_users": 256,
    "platforms.kuaishou.block_users": 256,
    "platforms.douyin.candidates": 16,
    "platforms.kuaishou.candidates": 16,
    "platforms.douyin.ban_per_excess_push": 1.0,
    "platforms.kuaishou.ban_per_excess_push": 1.0,
    "platforms.douyin.ban_per_diversion": 0.5,
    "platforms.kuaishou.ban_per_diversion": 0.5,
    "platforms.douyin.cold_start_slots": 0,  # few fans get more than 2 offers a day on the Douyin-like feed
    "platforms.douyin.max_item_age": 2,   # items are at most warmup + DAYS old
    "platforms.kuaishou.max_item_age": 2,
    "platforms.kuaishou.steering_max": 0.05,  # binds: the exponent grows past it within the run
    "platforms.douyin.steering_max": 0.05,
    # trust acts on the WeChat accept factor (accept_base + trust) and, after the repurchase
    # interval, on buying again; no trust at all is the clear contrast for few buyers
    "commerce.categories.fmcg.trust_gain": 0.0,
    "commerce.categories.local_life.trust_gain": 0.0,
    "commerce.categories.online_high_ticket.trust_gain": 0.0,
    "commerce.categories.offline_long_decision.trust_gain": 0.0,
    "commerce.categories.fmcg.repurchase_days": 1,
    "commerce.categories.local_life.repurchase_days": 1,
    "commerce.categories.online_high_ticket.repurchase_days": 1,
    "commerce.categories.offline_long_decision.repurchase_days": 1,
    "platforms.douyin.commission.intro_days": 0,
    "platforms.kuaishou.commission.intro_days": 0,
    "platforms.douyin.activity.max_session": 1.0,  # the default 2 is the top of the range; 1: sessions cannot grow
    **{f"platforms.{p}.adapt.{key}": value for p in ("douyin", "kuaishou")
       for key, value in (("objective", "dau"), ("knobs", ("commission",)))},
    "platforms.kuaishou.activity.max_session": 1.0,
}

# dead knobs found by this test on the code of the day: key -> the bug (xfail strict, so
# the test says so when the bug is fixed)
DEAD: dict[str, str] = {
}


def variant(key, value, field):
    """A clearly different valid value: booleans flip; numbers triple (or shrink to a third
    when tripling leaves the range; zero goes to half the range's top or 1)."""
    if key in VARIANTS:
        return VARIANTS[key]
    if isinstance(value, bool):
        return not value
    if not isinstance(value, (int, float)):
        raise AssertionError(f"{key}: no variant rule for {value!r}; add it to VARIANTS")
    lo, lo_inc, hi, hi_inc = bounds(field)

    def ok(x):
        return ((lo is None or x > lo or (lo_inc and x == lo)) and (hi is None or x < hi or (hi_inc and x == hi))
                and x != value)

    if value == 0:
        choices = [min(1.0, hi / 2) if hi is not None else 1.0]
    elif value > 0:
        choices = [value * 3, value / 3]
    else:
        choices = [value / 3, value * 3]
    for x in choices:
        x = int(round(x)) if isinstance(value, int) else x
        if ok(x):
            return x
    raise AssertionError(f"{key}: no valid variant of {value!r}; add it to VARIANTS")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Hundreds of tiny runs: the compiled kernels' threads only cost here (results do
    not depend on the number of threads)."""
    n = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(n)


ALL = knobs()
CASES = [
    pytest.param(key, value, field, id=key,
                 marks=[pytest.mark.xfail(strict=True, reason=DEAD[key])] if key in DEAD else [])
    for key, value, field in ALL if key not in EXEMPT_BY_KIND and key not in EXEMPT
]


@pytest.mark.parametrize("key,value,field", CASES)
def test_knob_changes_the_run(key, value, field):
    """Guards against dead knobs: the knob set to a clearly different value changes the
    run's outputs (else it is wired to nothing, or its mechanism never acts)."""
    new = variant(key, value, field)
    assert new != value
    what = differs({key: new})
    assert what is not None, f"{key}: {value!r} -> {new!r} changed nothing in {DAYS} days (metrics, frames, summary)"


@pytest.mark.parametrize("key", sorted(EXEMPT))
def test_exempt_knobs_really_cannot_act(key):
    """Guards the reviewed list: an exempt knob changes nothing in the base world (else
    it is not exempt, or its mechanism acts where the docs say it is off, e.g. the cap
    look-ahead without a cap or the steering knobs without a Gini target)."""
    value, field = next((v, f) for k, v, f in ALL if k == key)
    assert differs({key: variant(key, value, field)}) is None


def test_exemptions_name_real_knobs():
    """The reviewed lists name knobs that exist (a renamed knob must not keep a stale exemption)."""
    keys = {k for k, _, _ in ALL}
    for table in (EXEMPT_BY_KIND, EXEMPT, VARIANTS, DEAD):
        assert set(table) <= keys, set(table) - keys
    assert not set(EXEMPT) & set(DEAD)


# --------------------------------------------------------------------------- ranges

# per-step columns that are summary-only (NaN in every step's row, documented in
# observation/measurements.py), and the ratios that are NaN exactly when their
# denominator column is 0
SUMMARY_ONLY = {"cac_ad_first_30d", "cac_ad_last_30d", "cac_blended_first_30d", "cac_blended_last_30d",
                "new_buyers_ad_first_30d", "new_buyers_ad_last_30d",
                "group_members_start", "group_members_end", "group_churn_30d", "follower_slope", "group_churn_monthly"}
RATIOS = {"cac_ad": "new_buyers_ad", "cac_blended": "new_buyers", "cpm_effective": "source_ads", "private_share_gmv": "gmv_total",
          "private_share_tips": "tips_total", "private_share_comments": "comments_total", "feed_fill": "active_users",
          "recall_leak_share": "recalls", "true_fan_share_followers": "seller_followers",
          "live_share_impressions": "impressions_total"}
SHARES = ("exposure_gini", "top1_share", "top10_share", "visible_share", "private_share_gmv", "private_share_tips",
          "private_share_comments", "feed_fill", "new_creator_success", "true_fan_share_followers",
          "true_fan_order_share", "live_share_impressions")
# NaN when the cohort it is measured on is empty (docs/outputs.md): new-creator success
# without entrants whose success window has closed; true fans' share of followers' orders
# and their per-head rate without orders from followers (from true fans and from others)
NAN_WHEN_NO_COHORT = {"new_creator_success", "true_fan_order_share", "true_fan_rate_ratio"}


STRESS = {
    "base": {},
    # every push a promotion that costs all intimacy, many a day, in groups and on WeChat
    "pushy": {"commerce.groups.pushes_per_day": 20.0, "commerce.groups.value_share": 0.0,
              "commerce.groups.promo_intimacy_cost": 1.0, "commerce.groups.promo_annoyance": 100.0,
              "commerce.wechat.pushes_per_day": 20.0, "commerce.wechat.value_share": 0.0,
              "commerce.groups.promo_conversion": 20.0},
    # tight caps, rich merchants, fixed CPM, maximal gains
    "tight": {"commerce.wechat.friend_cap": 1, "commerce.wechat.adds_per_day": 1, "platforms.douyin.exposure_cap": 0.001,
              "platforms.kuaishou.exposure_cap": 0.001, "merchants.daily_ad_budget": 1e6, "platforms.douyin.cpm_elasticity": 0.0,
              "relationship.gain_share": 1.0, "relationship.gain_comment": 1.0, "relationship.gain_like": 1.0,
              "relationship.gain_view": 1.0, "relationship.gain_complete": 1.0, "relationship.decay": 0.0, "commerce.groups.value_gain": 1.0,
              "platforms.kuaishou.steering_step": 10.0, "platforms.kuaishou.steering_max": 0.5},
}


@pytest.mark.parametrize("stress", sorted(STRESS))
def test_states_stay_in_range_every_day(stress):
    """Guards states and caps, checked after every day of the everything-on base and of
    two stress variants of it (promotion-only pushes at the knobs' extremes; tight caps,
    rich merchants and maximal gains):
    intimacy, trust in [0, 1], annoyance >= 0; shares in [0, 1]; no NaN in the metrics
    but the documented ones; each merchant's ad spend within its daily budget (and its
    even share over the platforms that could sell it ads that day, none elsewhere); WeChat contacts within friend_cap × accounts, adds within
    adds_per_day × accounts, no contact twice; fan-group members only on follow edges
    of selling accounts not banned at home, none above its tolerance; the exposure cap
    on recommended impressions; at most feed_slots impressions (⌈max_session × feed_slots⌉
    where users' activity responds) and cold_start_slots
    cold-start offers per user; the steering exponent in [0, steering_max]; pool levels
    below pool_levels; the effective CPM at least the reserve CPM; banned accounts get no
    impressions on the platform that banned them; no NaN in the summary."""
    import math

    import numpy as np

    from simulator.state.vocabulary import COLD_START, RECOMMEND

    from .knob_world import model

    m = model(STRESS[stress])
    sc = m.scenario
    follows, merchants, creators, contacts, book = m.follows, m.merchants, m.creators, m.commerce.wechat, m.commerce.book
    M = merchants.n
    checked = {"bans": 0, "capped": 0, "contacts": 0, "members": 0}
    largest: dict[int, float] = {}  # per platform, the largest exposure cap of the run so far
    for day in range(DAYS):
        banned_before = merchants.banned.copy()
        imps_before = creators.impressions.sum(axis=2).copy()
        contacts_before = contacts.per_merchant()[:M].copy()
        m.step()
        where = f"day {day}"
        # relationship states
        assert np.all((follows.intimacy >= 0) & (follows.intimacy <= 1)), where
        assert np.all(m.commerce.groups.table["annoy"] >= 0) and np.all(contacts.annoy >= 0), where
        assert np.all((book.trust >= 0) & (book.trust <= 1)), where
        # metrics: shares in [0, 1], NaN only where documented
        rows = m.metrics_frame().query("step == @day")
        for col in SHARES:
            v = rows[col].dropna()
            assert ((v >= 0) & (v <= 1)).all(), (where, col, v.tolist())
        for col in rows.columns.drop(["step", "platform"]):
            nan = rows[col].isna()
            if col in SUMMARY_ONLY:
                assert nan.all(), (where, col)
            elif col in NAN_WHEN_NO_COHORT:
                continue
            elif col in ("knob_ad_load", "knob_commission_scale"):
                assert (nan == (rows["platform"] == "all")).all(), (where, col)
            elif col in ("knob_centralization", "adapt_objective"):
                continue  # documented: NaN without a centralization / where the platform does not adapt
            elif col in RATIOS:
                assert (nan == (rows[RATIOS[col]] == 0)).all(), (where, col, rows[[col, RATIOS[col]]])
            else:
                assert not nan.any(), (where, col)
        # ad spend within each merchant's daily budget, split over the platforms that could
        # sell it ads that day (not banned there, ad load above 0: fixed as the feeds start)
        spend = m.ledger.spend_by_day[-1]  # (platforms × merchants)
        sellable = m.commerce.ad_sellable.T  # (platforms × merchants)
        assert np.all(spend[~sellable] == 0), where
        assert np.all(spend <= merchants.daily_budget / np.maximum(sellable.sum(axis=0), 1) + 1e-6), where
        assert np.all(spend.sum(axis=0) <= merchants.daily_budget + 1e-6), where
        # WeChat: friend cap, daily adds, one contact per (user, merchant)
        per = contacts.per_merchant()[:M]
        accounts = merchants.wechat_accounts.astype(np.int64)
        assert np.all(per <= sc.commerce.wechat.friend_cap * accounts), where
        added = np.bincount(contacts.merchant[contacts.joined == day], minlength=M)[:M]
        assert np.all(added <= sc.commerce.wechat.adds_per_day * accounts), where
        assert np.all(per - contacts_before <= added), where
        assert len(np.unique(contacts.user * M + contacts.merchant)) == len(contacts), where
        checked["contacts"] += int(added.sum())
        # fan groups: members on follow edges of selling accounts not banned at home, within tolerance
        member = m.commerce.groups.member_edges()
        c = follows.creator[member].astype(np.int64)
        assert np.all(creators.seller[c] >= 0), where
        own = creators.merchant[c] >= 0
        assert not merchants.banned[creators.home[c[own]].astype(np.int64), creators.merchant[c[own]]].any(), where
        assert np.all(m.commerce.groups.table["annoy"] <= m.users.tolerance[follows.src[member]]), where
        checked["members"] += len(member)
        for log in m.day_logs:
            p, cfg, imp = log.platform.index, log.platform.cfg, log.impressions
            # attention: feed_slots per active user (⌈max_session × feed_slots⌉ where activity
            # responds), cold_start_slots offers
            most = math.ceil(cfg.activity.max_session * cfg.feed_slots) if cfg.activity.enabled else cfg.feed_slots
            assert np.bincount(imp.user).max(initial=0) <= most, where
            cold = imp.user[imp.source == COLD_START]
            assert np.bincount(cold).max(initial=0) <= cfg.cold_start_slots, where
            # the exposure cap, on recommendation-slot impressions
            if cfg.exposure_cap is not None:
                # the cap is a share of the day's expected DAU (it moves where activity
                # responds): no item beyond the largest cap of the run so far
                rec = m.items.impressions_by_source[p, :, RECOMMEND]
                largest[p] = max(largest.get(p, 0.0), cfg.exposure_cap * log.platform.policy.pools.expected_dau)
                cap = largest[p]
                assert rec.max(initial=0) <= cap, (where, log.platform.name, rec.max(), cap)
                checked["capped"] += int((rec >= np.floor(cap)).sum())
            assert 0.0 <= log.platform.steering <= cfg.steering_max, where
            # traffic pools stay within their levels; the ad price never falls below the reserve CPM
            assert m.items.level[p].max(initial=0) < cfg.pool_levels, where
            row = rows[rows["platform"] == log.platform.name].iloc[0]
            assert row["source_ads"] == 0 or row["cpm_effective"] >= cfg.cpm * (1 - 1e-9), (where, row["cpm_effective"])
            # an account banned on a platform before today reaches nobody there
            gained = creators.impressions[p].sum(axis=1) - imps_before[p]
            assert np.all(gained[merchants.account[banned_before[p]]] == 0), (where, log.platform.name)
            checked["bans"] += int(banned_before[p].sum())
    if stress != "base":
        return
    # the base world exercised what was checked
    assert all(checked.values()), checked
    assert m.platforms["kuaishou"].steering > 0
    # the summary has no NaN but the 30-day windows a 5-day run cannot measure: every
    # denominator of the run is positive in the base
    import json
    summary = m.summary()
    windowed = {"cac_ad_first_30d", "cac_ad_last_30d", "cac_blended_first_30d", "cac_blended_last_30d", "group_churn_30d",
                "new_buyers_ad_first_30d", "new_buyers_ad_last_30d",
                "group_churn_monthly", "new_creator_success"}  # needs success_days (30) days, and entrants
    # the adapting knobs are NaN for all platforms together, centralization and the
    # objective also where a platform has none / does not adapt (docs/outputs.md)
    adapt = {"knob_ad_load", "knob_commission_scale", "knob_centralization", "adapt_objective"}
    assert all(summary["totals"][k] != summary["totals"][k] for k in adapt)
    no_shelf = {"recall_leak_share"}  # leaks / recalls: the base world has no shelf platform (ODD 7.12), so no recalls
    for name, values in [("totals", summary["totals"]), *summary["platforms"].items()]:
        maybe_nan = windowed | no_shelf | (adapt if name == "totals" else {"knob_centralization", "adapt_objective"})
        assert not [k for k, v in values.items() if v != v and k not in maybe_nan], (name, json.dumps(values, default=str))
        assert all(values[k] != values[k] for k in windowed), name


# --------------------------------------------------------------------------- validation bounds


def test_every_numeric_knob_has_a_range():
    """Guards against knobs that take any number: every numeric knob has a lower and an
    upper bound (so negative rates, NaN-producing zeros and absurd sizes are rejected)."""
    loose = [key for key, value, field in ALL
             if (value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)))
             and key not in EXEMPT_BY_KIND and None in (bounds(field)[0], bounds(field)[2])]
    assert not loose, loose


def test_probabilities_and_shares_stay_in_0_1():
    """Guards the probability-like knobs (``*_share``, ``*_rate`` but the posting rate,
    ``ban_per_*``; not the logit offsets): their allowed range lies within [0, 1]."""
    wide = []
    for key, value, field in ALL:
        name = key.rsplit(".", 1)[-1]
        # merchants.learning_rate is a step size (per unit of return), not a probability
        if ((name.endswith(("_share", "_rate")) or name.startswith("ban_per_"))
                and not name.startswith(("post_rate", "offset_", "learning_rate"))):
            lo, _, hi, _ = bounds(field)
            if lo is None or hi is None or lo < 0 or hi > 1:
                wide.append((key, lo, hi))
    assert not wide, wide


@pytest.mark.parametrize("key,value,needle", [
    ("platforms.douyin.temperature", "0", "allowed 0.0..100.0"),
    ("platforms.douyin.perf_prior_weight", "0", "allowed 0.0..1000000.0"),  # 0/0 engagement rate of unseen items
    ("platforms.douyin.daily_active", "1.5", "allowed 0.0..1.0"),
    ("commerce.visit_rate", "-0.1", "allowed 0.0..1.0"),
    ("relationship.decay", "-0.01", "allowed 0.0..1.0"),
    ("commerce.groups.tolerance_mean", "0", "allowed 0.0..1000.0"),
    ("graph.friends_per_user", "200", "less than twice population.users"),  # with holme_kim and 50 users
])
def test_nonsense_values_are_rejected(key, value, needle):
    """Guards the bounds added by issue 12 (perf_prior_weight > 0; holme_kim needs
    friends_per_user / 2 < users, else networkx fails deep in the run) and a sample of
    the older ones: the loader rejects the value with a one-line message naming the key
    and what is allowed."""
    from simulator.config import ScenarioError, load_scenario

    sets = [f"{key}={value}"]
    if key == "graph.friends_per_user":
        sets += ["graph.generator=holme_kim", "population.users=50", "population.creators=10", "population.merchants=1"]
    with pytest.raises(ScenarioError) as err:
        load_scenario("scenarios/douyin.toml", sets=sets)
    assert needle in str(err.value)
    if key != "graph.friends_per_user":  # a cross-key rule names the keys in its message
        assert key in str(err.value)


# --------------------------------------------------------------------------- crashes at valid values


def test_a_day_with_every_item_excluded_runs():
    """Guards a valid corner found by probing every knob at its bounds (post_rate_sigma =
    5 left one item, which the exposure cap had excluded): when a platform's policy
    excludes every recommendable item (capped or banned), the day runs with empty
    recommendation slots instead of crashing on an empty retrieval pool."""
    import numpy as np

    from simulator.state.vocabulary import RECOMMEND

    from .knob_world import model

    m = model({"creators.post_rate_sigma": 5.0})
    m.run(2)
    m = model({})
    m.step()
    for platform in m.platforms.values():
        platform.policy.item_prior = lambda ctx: np.full(len(ctx.age), -np.inf)
    m.step()
    assert all(len(log.impressions) > 0 for log in m.day_logs)
    assert not any((log.impressions.source == RECOMMEND).any() for log in m.day_logs)
