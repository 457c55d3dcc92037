"""Platforms adapt their knobs toward an objective (docs/ODD.md 7.3.1, platform/adaptation.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.config import Scenario, centralization_preset
from simulator.config.loading import deep_merge
from simulator.platform.adaptation import PlatformAdaptation
from simulator.commerce.ledger import PRIVATE_WECHAT
from simulator.state.vocabulary import CATEGORIES

from ..conftest import small

# revenue = ad revenue only (no commission, no tip cut), fixed CPM and budgets far above the
# ad supply: every ad slot sells at the CPM, so revenue is proportional to the ad load
ADS_ONLY = {"merchants": {"daily_ad_budget": 1e5, "budget_sigma": 0.0, "targeting_mix": [1, 0, 0]},
            "platforms": {"douyin": {"cpm_elasticity": 0.0, "tip_cut": 0.0,
                                     "commission": {"intro": 0.0, **dict.fromkeys(CATEGORIES, 0.0)}}}}
KNOB_COLUMNS = ["knob_ad_load", "knob_commission_scale", "knob_centralization", "adapt_objective"]


def run(steps: int, overrides: dict | None = None, seed: int = 3, **platform_knobs) -> TrafficModel:
    m = TrafficModel(small(deep_merge({"steps": steps}, overrides or {}), **platform_knobs), seed=seed)
    return m.run()


def rows(m: TrafficModel, name: str = "douyin") -> pd.DataFrame:
    df = m.metrics_frame()
    return df[df["platform"] == name].reset_index(drop=True)


def test_revenue_objective_raises_ad_load_and_the_feed_follows():
    """Guards the hill-climb's keep rule and that ad_load reaches the feed: with revenue
    proportional to the ad load (activity off), ad_load climbs from 0.02, and each day's
    share of ad impressions follows the knob in effect that day (mutations checked: the
    keep test reversed, or ``_set`` not calling ``reconfigure``, fail it)."""
    m = run(30, ADS_ONLY, ad_load=0.02, adapt={"enabled": True, "knobs": ["ad_load"], "every": 2,
                                               "ad_load_step": 0.02, "tolerance": 0.0})
    r = rows(m)
    assert r["knob_ad_load"].iloc[0] == pytest.approx(0.02)
    assert r["knob_ad_load"].iloc[-1] >= 0.12
    share = r["source_ads"] / r["impressions_total"]
    np.testing.assert_allclose(share, r["knob_ad_load"], atol=0.01)
    assert (r["adapt_objective"] == r["platform_revenue"]).all()
    assert m.adaptation.of(0).kept >= 5


def test_dau_objective_lowers_ad_load_when_ads_drive_users_away():
    """Guards the objective 'dau' and the reversal after failure: users who hate ads (activity
    on, high ad_aversion and sensitivity) open the app less after an ad-load rise, so a
    platform maximizing DAU lowers its ad load (mutation checked: objective read as revenue
    fails it)."""
    activity = {"enabled": True, "memory": 1.0, "recovery": 3.0, "ad_aversion": 3.0, "sensitivity": 10.0,
                "reference": 0.3}
    m = run(40, ADS_ONLY, ad_load=0.16, activity=activity,
            adapt={"enabled": True, "objective": "dau", "knobs": ["ad_load"], "every": 4, "ad_load_step": 0.04,
                   "tolerance": 0.0})
    r = rows(m)
    assert (r["adapt_objective"] == r["active_users"]).all()
    assert r["knob_ad_load"].iloc[-8:].max() <= 0.04
    assert r["active_users"].iloc[-8:].mean() > r["active_users"].iloc[2:8].mean() * 1.5


def test_a_move_that_lowers_the_objective_is_reverted(monkeypatch):
    """Guards trial-and-revert: with an objective that peaks at ad_load 0.1 (scripted on the
    knob in effect), a platform starting at the peak tries up, then down, reverts both,
    and stays at 0.1 apart from the trials (mutation checked: never reverting drifts away)."""
    def peaked(self, model):
        return -abs(self.platform.cfg.ad_load - 0.1)
    monkeypatch.setattr(PlatformAdaptation, "objective", peaked)
    m = run(13, ad_load=0.1, adapt={"enabled": True, "knobs": ["ad_load"], "every": 2, "ad_load_step": 0.02})
    state = m.adaptation.of(0)
    k = rows(m)["knob_ad_load"].round(6).tolist()
    # baseline 0-1, trial up 2-3 (reverted), baseline 4-5, trial down 6-7 (reverted), baseline 8-9, up 10-11
    assert k == [0.1, 0.1, 0.12, 0.12, 0.1, 0.1, 0.08, 0.08, 0.1, 0.1, 0.12, 0.12, 0.1]
    assert state.reverted == 3 and state.kept == 0
    assert m.platforms["douyin"].cfg.ad_load == pytest.approx(0.1)


def test_bounds_are_respected():
    """Guards the bounds: ad_load never leaves [ad_load_min, ad_load_max] and the
    commission scale never leaves its bounds, however the objective moves (mutation
    checked: no clipping fails it)."""
    m = run(30, ADS_ONLY, ad_load=0.04, adapt={"enabled": True, "knobs": ["ad_load", "commission"], "every": 1,
                                               "ad_load_step": 0.03, "ad_load_max": 0.1, "commission_step": 0.4,
                                               "commission_scale_min": 0.8, "commission_scale_max": 1.2,
                                               "tolerance": 0.0})
    r = rows(m)
    assert r["knob_ad_load"].between(0.0, 0.1 + 1e-12).all() and r["knob_ad_load"].max() == pytest.approx(0.1)
    assert r["knob_commission_scale"].between(0.8 - 1e-12, 1.2 + 1e-12).all()
    assert r["knob_commission_scale"].nunique() > 1
    assert m.platforms["douyin"].cfg.ad_load <= 0.1 + 1e-12


def test_commission_is_booked_at_the_adapted_rate():
    """Guards that the commission scale reaches the ledger: after a move, today's orders on
    the platform pay scale × the scenario's rates (mutation checked: ``reconfigure`` not
    updating the ledger fails it)."""
    m = TrafficModel(small({"steps": 12}, adapt={"enabled": True, "knobs": ["commission"], "every": 1,
                                                 "commission_step": 0.5, "commission_scale_max": 3.0}), seed=5)
    base = m.scenario.platforms["douyin"].commission
    checked = 0
    for _ in range(12):
        m.step()
        k = m.adaptation.of(0).knob("commission")
        o = m.ledger.today_orders()
        on = o.domain != PRIVATE_WECHAT  # WeChat orders pay nothing
        merchant = o.merchant[on]
        intro = m.merchants.new[merchant] & (m.day - 1 - m.merchants.entry_day[merchant] < base.intro_days)
        expected = np.where(intro, base.intro, np.array(base.rates())[m.merchants.category[merchant]])
        o_rate = o.rate[on]
        np.testing.assert_allclose(o_rate, np.minimum(1.0, k * expected))
        checked += int(k != 1.0) * len(o_rate)
    assert checked > 0


def test_centralization_sets_the_style_knobs_every_reader_uses():
    """Guards the centralization knob: once it moves, every style knob of
    ``centralization_preset`` moves by the preset's change from the start (an explicit
    key keeps its offset: follow share 0.01 at c = 1 becomes 0.01 + preset(0.4) −
    preset(1), a step, not a jump to the preset), and that is what the policy, the pools,
    the purchase model, the fan groups and the users' follow shares use, and the feed
    shows it (more follow slots); mutations checked: ``reconfigure`` not handing the
    policy the new cfg, not remapping users' follow shares, or setting the preset's values
    (the explicit offset lost), fail it."""
    m = TrafficModel(small({"steps": 8}, follow_share=0.01, adapt={
        "enabled": True, "knobs": ["centralization"], "every": 2, "centralization_step": 0.6}), seed=2)
    platform = m.platforms["douyin"]
    assert platform.cfg.follow_share == 0.01  # the explicit key holds until centralization first moves
    m.run(2)  # a baseline period; at its end c moves 1 -> 0.4, acting from day 2
    preset, start = centralization_preset(0.4), centralization_preset(1.0)
    style = m.adaptation.of(0).style_at(0.4)
    assert set(style) == set(preset)
    for key, value in style.items():
        assert getattr(platform.cfg, key) == (pytest.approx(value) if value is not None else None), key
    assert platform.cfg.follow_share == pytest.approx(0.01 + preset["follow_share"] - start["follow_share"])
    assert platform.cfg.pool_growth == pytest.approx(preset["pool_growth"])  # not set explicitly: the preset's
    assert platform.policy.cfg is platform.cfg and platform.policy.pools.cfg is platform.cfg
    assert m.commerce.purchase.fan_trust[0] == pytest.approx(style["fan_trust"])
    assert m.commerce.groups.group_effect[0] == pytest.approx(style["group_effect"])
    assert m.users.follow_share[:, 0].mean() == pytest.approx(style["follow_share"], rel=0.02)
    m.run(2)  # the trial at c = 0.4
    r = rows(m)
    follow = r["source_follow"] / r["impressions_total"]
    assert follow.iloc[2:4].mean() > 5 * follow.iloc[0:2].mean()
    assert (r["knob_centralization"].tolist() == [1.0, 1.0, 0.4, 0.4])


@pytest.mark.parametrize("platform,cap", [("douyin", 0.1), ("kuaishou", None)])
def test_a_reverted_centralization_move_restores_the_scenarios_exposure_cap(platform, cap):
    """Guards the revert of a centralization move: back at the starting centralization the
    exposure cap is the scenario's own, also where the preset there differs in having
    one (an explicit cap on a Douyin-like platform, whose preset at c = 1 has none; no cap
    on a Kuaishou-like one, whose preset has 5%). Every move is reverted (tolerance 1).
    Mutation checked: without the ``c == c0`` rule in ``style_at`` the revert left the
    Douyin-like platform without its cap (0.1 -> 0.5 at c = 0.9 -> none) and gave the
    Kuaishou-like one the preset's 5%."""
    m = TrafficModel(small({"steps": 6}, platform=platform, exposure_cap=cap, adapt={
        "enabled": True, "knobs": ["centralization"], "every": 2, "tolerance": 1.0, "centralization_step": 0.1}),
        seed=2)
    p = m.platforms[platform]
    c0 = m.adaptation.of(0).value["centralization"]
    assert p.cfg.exposure_cap == cap
    m.run(2)  # a baseline; c moves away from c0
    assert m.adaptation.of(0).value["centralization"] != c0
    m.run(2)  # the trial, reverted
    assert m.adaptation.of(0).value["centralization"] == c0 and m.adaptation.of(0).reverted == 1
    assert p.cfg.exposure_cap == cap


def test_centralization_is_adaptable_only_with_a_preset():
    """Guards the load-time check: a reference policy without a centralization key has no
    style preset to adapt, and starting values outside the bounds are errors."""
    with pytest.raises(ValueError, match="centralization is adaptable only"):
        Scenario.model_validate(small(policy="random", adapt={"enabled": True, "knobs": ["centralization"]}))
    Scenario.model_validate(small(policy="random", centralization=0.5,
                                  adapt={"enabled": True, "knobs": ["centralization"]}))
    with pytest.raises(ValueError, match="outside"):
        Scenario.model_validate(small(ad_load=0.4, adapt={"enabled": True, "knobs": ["ad_load"]}))
    with pytest.raises(ValueError, match="must not repeat"):
        Scenario.model_validate(small(adapt={"knobs": ["ad_load", "ad_load"]}))


def test_off_is_the_static_model():
    """Guards the off switch: adaptation explicitly off, its other knobs far from their
    defaults, gives the default run's metrics exactly (knobs reported as the scenario's)."""
    a = run(6)
    b = run(6, adapt={"enabled": False, "every": 1, "ad_load_step": 0.2, "knobs": ["commission", "centralization"]})
    pd.testing.assert_frame_equal(a.metrics_frame(), b.metrics_frame())
    r = rows(a)
    assert (r["knob_ad_load"] == 0.08).all() and (r["knob_commission_scale"] == 1.0).all()
    assert r["knob_centralization"].isna().all() and r["adapt_objective"].isna().all()


def test_same_seed_same_adaptation():
    """Guards determinism: the rule draws no random numbers, so two runs of one seed with
    every knob adapting are identical."""
    kw = dict(adapt={"enabled": True, "knobs": ["ad_load", "commission", "centralization"], "every": 1})
    pd.testing.assert_frame_equal(run(8, **kw).metrics_frame(), run(8, **kw).metrics_frame())


# every knob starts at its upper bound, so each first move goes down (then the lower bounds bind)
BITE_BASE = {"enabled": True, "knobs": ["ad_load", "commission", "centralization"], "every": 1, "tolerance": 0.3,
             "ad_load_max": 0.08, "commission_scale_max": 1.0, "centralization_max": 0.5}
BITE_VARIANTS = {"objective": "dau", "knobs": ["commission"], "every": 2, "start": 3, "tolerance": 0.7,
                 "ad_load_step": 0.03, "ad_load_min": 0.075, "ad_load_max": 0.2, "commission_step": 0.3,
                 "commission_scale_min": 0.95, "commission_scale_max": 2.0, "centralization_step": 0.3,
                 "centralization_min": 0.45, "centralization_max": 1.0}


@pytest.fixture(scope="module")
def bite_base():
    return run(8, centralization=0.5, adapt=BITE_BASE).metrics_frame()


@pytest.mark.parametrize("key", list(BITE_VARIANTS))
def test_adapt_knobs_bite(key, bite_base):
    """Each adapt knob changes the run of an adapting world (tests/config/test_knobs_bite.py
    exempts them from its adaptation-off base world)."""
    m = run(8, centralization=0.5, adapt={**BITE_BASE, key: BITE_VARIANTS[key]})
    assert not m.metrics_frame().equals(bite_base), key


def test_adapt_commission_and_diversion_keys_are_sweepable(tmp_path):
    """Guards that the keys of the issue's sweeps take dotted names in a sweep file: the
    adapt switch, one commission rate and merchants' diversion reach each run's resolved
    scenario (sweep_spec checks them against the schema before any run)."""
    from simulator.experiments.sweep_spec import resolved_scenario
    from simulator.sweep import load_sweep

    from ..experiments.sweep_files import write_sweep

    spec = load_sweep(write_sweep(tmp_path / "s.toml", '"platforms.douyin.adapt.enabled" = [false, true]\n'
                                  '"platforms.douyin.commission.fmcg" = [0.02, 0.08]\n'
                                  '"merchants.diversion_share" = [0.0, 0.5]'))
    assert len(spec.points()) == 8
    for point in spec.points():
        r = resolved_scenario(spec, point, 1)
        assert r["platforms"]["douyin"]["adapt"]["enabled"] == point["platforms.douyin.adapt.enabled"]
        assert r["platforms"]["douyin"]["commission"]["fmcg"] == point["platforms.douyin.commission.fmcg"]
        assert r["merchants"]["diversion_share"] == point["merchants.diversion_share"]


def test_a_centralization_move_never_makes_the_exposure_cap_jump_or_loosen_toward_decentralization():
    """The exposure cap under centralization moves (ODD 7.3.1, ``style_at``) where the
    scenario differs from the preset in having a cap. An explicit 10% cap on a Douyin-like
    platform (its preset at c = 1 has none): at c = 0.9 the preset's 50% replaced it, a
    loosening on a move toward decentralization; now it stays 10% until the preset's cap
    is tighter (c < 0.5), then follows it. No cap on a Kuaishou-like platform (its preset
    has 5%): the preset's cap came back on the first move; now it stays none. Where both
    have caps, or neither, the rule is unchanged (ratio; the preset's)."""
    from simulator.config.presets import centralization_preset
    from simulator.platform.adaptation import _cap_at

    preset = lambda c: centralization_preset(c)["exposure_cap"]  # noqa: E731
    assert preset(1.0) is None and preset(0.9) == pytest.approx(0.5)
    assert _cap_at(0.1, preset(1.0), preset(1.0)) == 0.1
    assert _cap_at(0.1, preset(1.0), preset(0.9)) == 0.1
    assert _cap_at(0.1, preset(1.0), preset(0.3)) == pytest.approx(0.05 / 0.7)
    assert _cap_at(None, preset(0.0), preset(0.1)) is None
    assert _cap_at(None, preset(1.0), preset(0.9)) == pytest.approx(0.5)  # both none at the start: the preset's
    assert _cap_at(0.08, preset(0.0), preset(0.5)) == pytest.approx(0.16)  # both caps: the ratio
    caps = [_cap_at(0.1, None, preset(c / 20)) for c in range(21)]  # c from 0 to 1: continuous, never above 0.1
    assert max(caps) == 0.1 and all(a <= b + 1e-12 for a, b in zip(caps, caps[1:]))
