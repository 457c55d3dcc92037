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
}

# knobs that cannot act in the base world, with the reason (reviewed list)
EXEMPT: dict[str, str] = {
    "platforms.douyin.cap_lookahead": "acts only with an exposure cap; the Douyin-like platform has none "
                                      "(its exposure_cap variant turns one on and bites)",
    "platforms.douyin.gini_gain": "acts only with Gini steering; the Douyin-like platform has no gini_target",
    "platforms.douyin.steering_step": "acts only with Gini steering; the Douyin-like platform has no gini_target",
    "platforms.douyin.steering_max": "acts only with Gini steering; the Douyin-like platform has no gini_target",
}

# the clearly different valid value each knob is set to, where the rule in variant() does not fit
VARIANTS: dict = {
    "population.users": 1000,
    "population.creators": 40,
    "population.merchants": 4,
    "graph.generator": "holme_kim",
    "relationship.gain_like": 0.01,       # gains must stay ordered view <= like <= comment <= share
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
}

# dead knobs found by this test on the code of the day: key -> the bug (xfail strict, so
# the test says so when the bug is fixed)
DEAD: dict[str, str] = {
    "merchants.age_spread_days": "dead knob: a merchant's age only decides whether it pays the intro commission "
                                 "(age < intro_days), and merchants that are not new start at the longest intro_days "
                                 "plus 0..age_spread_days − 1, so past the intro period whatever the spread",
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
    what = differs({key: new})
    assert what is not None, f"{key}: {value!r} -> {new!r} changed nothing in {DAYS} days (metrics, frames, summary)"


def test_exemptions_name_real_knobs():
    """The reviewed lists name knobs that exist (a renamed knob must not keep a stale exemption)."""
    keys = {k for k, _, _ in ALL}
    for table in (EXEMPT_BY_KIND, EXEMPT, VARIANTS, DEAD):
        assert set(table) <= keys, set(table) - keys
    assert not set(EXEMPT) & set(DEAD)
