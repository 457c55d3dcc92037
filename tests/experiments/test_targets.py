"""Targets as data (issue 16, item 2): the targets file, its checks and each rule kind."""

import math

import pandas as pd
import pytest

from simulator.config import ScenarioError
from simulator.experiments import targets as T
from simulator.experiments.targets import TargetSpec, evaluate, load_file, load_targets, parse_target, scenarios_needed

GOOD = {"claim": "c", "source": "source 000", "source_kind": "press claim", "role": "fit", "rule": "band",
        "scenario": "a", "metric": "m", "lo": 0.5, "hi": 0.8}


def frame(**cols) -> pd.DataFrame:
    return pd.DataFrame(cols)


def spec(**kw) -> TargetSpec:
    return parse_target({k: v for k, v in {**GOOD, **kw}.items() if v is not None}, "t.toml: targets.k")


# --------------------------------------------------------------------------- the file


def test_the_shipped_file_loads_with_its_fit_and_check_sets():
    specs = load_targets()
    assert len({s.key for s in specs}) == len(specs) >= 12
    assert {s.role for s in specs} == {"fit", "check"}
    fit = [s.key for s in specs if s.role == "fit"]
    assert fit[:3] == ["kuaishou_private_share_gmv", "kuaishou_private_share_tips", "kuaishou_private_share_comments"]
    assert {"douyin", "kuaishou", "douyin_enterprise"} <= set(scenarios_needed(specs))


@pytest.mark.parametrize("change, key, words", [
    ({"rule": "slope"}, "targets.k.rule", "'band', 'ratio', 'difference', 'separated'"),
    ({"role": "tuned"}, "targets.k.role", "'fit', 'check'"),
    ({"source_kind": "blog"}, "targets.k.source_kind", "'press claim'"),
    ({"on": "median"}, "targets.k.on", "'mean', 'ci'"),
    ({"lo": "high"}, "targets.k.lo", "finite number"),
    ({"hi": True}, "targets.k.hi", "finite number"),
    ({"metrc": "x"}, "targets.k.metrc", "unknown field"),
    ({"claim": ""}, "targets.k.claim", "non-empty string"),
    ({"lo": 0.9}, "targets.k.hi", "must be >= lo"),
    ({"lo": None, "hi": None}, "targets.k.lo", "needs lo and/or hi"),
    ({"other_scenario": "b"}, "targets.k.other_scenario", "not used by a 'band' rule"),
    ({"rule": "ratio"}, "targets.k.other_scenario", "needs other_scenario and/or other_metric"),
    ({"rule": "separated", "lo": None, "hi": None}, "targets.k.other_scenario", "missing"),
    ({"rule": "separated", "other_scenario": "b"}, "targets.k.lo", "not used by a 'separated' rule"),
    ({"transform": "one_minus"}, "targets.k.transform", "only a 'separated' rule"),
    ({"metric": None}, "targets.k.metric", "missing (required"),
])
def test_a_bad_target_names_the_file_the_key_and_what_is_allowed(change, key, words):
    data = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(ScenarioError) as e:
        parse_target(data, "t.toml: targets.k")
    assert str(e.value).startswith(f"t.toml: {key}: ") and words in str(e.value), str(e.value)


@pytest.mark.parametrize("text, key, words", [
    ("[x]\na = 1\n", "x", "unknown table (allowed: targets, scenarios)"),
    ("[scenarios]\n", "targets", "missing or empty"),
    ('[targets.k]\nclaim = "c"\n', "targets.k.source", "missing"),
    ('[scenarios.v]\nfile = "kuaishou"\n[targets.k]\n', "scenarios.v.file", "ending in .toml"),
    ('[scenarios.v]\nfile = "kuaishou.toml"\nset = ["steps"]\n[targets.k]\n', "scenarios.v.set", "'key=value'"),
    ('[scenarios.v]\nfile = "kuaishou.toml"\nbase = 1\n[targets.k]\n', "scenarios.v.base", "unknown field"),
    ("[targets]\nk = 3\n", "targets.k", "must be a table"),
    ("targets = [", "", "not valid TOML"),
])
def test_a_bad_targets_file_names_the_key(tmp_path, text, key, words):
    p = tmp_path / "t.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_file(p)
    assert str(p) in str(e.value) and (key == "" or f": {key}: " in str(e.value)) and words in str(e.value), str(e.value)


def test_variants_give_labels_their_file_and_overrides(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[scenarios.promo]\nfile = "kuaishou.toml"\nset = ["commerce.groups.value_share=0.1"]\n'
                 '[targets.k]\nclaim = "c"\nsource = "s"\nsource_kind = "press claim"\nrole = "check"\n'
                 'rule = "difference"\nscenario = "promo"\nother_scenario = "douyin"\nmetric = "m"\nhi = 0\n')
    specs, variants = load_file(p)
    assert T.scenario_sources(specs, variants) == {
        "promo": ("kuaishou.toml", ("commerce.groups.value_share=0.1",)), "douyin": ("douyin.toml", ())}


# --------------------------------------------------------------------------- the rules


def test_band_on_the_mean_is_inclusive_and_its_miss_is_in_band_widths():
    r = evaluate(spec(hi=0.75), {"a": frame(m=[0.75, 0.75])})  # on the bound: inside
    assert r.ok and r.miss == 0 and r.value == 0.75
    assert evaluate(spec(), {"a": frame(m=[0.5, 0.5])}).ok  # the lower bound too
    r = evaluate(spec(), {"a": frame(m=[0.9, 0.9])})
    assert not r.ok and r.miss == pytest.approx(0.1 / 0.3)
    r = evaluate(spec(hi=None), {"a": frame(m=[0.4, 0.4])})  # one bound: relative to it
    assert not r.ok and r.miss == pytest.approx(0.1 / 0.5)
    assert r.rule_text == "m: mean >= 0.5"


def test_ci_rules_need_the_whole_interval_inside():
    s = spec(rule="difference", scenario="a", other_scenario="b", lo=0.0, hi=None, on="ci")
    clear = {"a": frame(m=[2.0, 2.1, 1.9]), "b": frame(m=[1.0, 1.0, 1.0])}
    assert evaluate(s, clear).ok
    noisy = {"a": frame(m=[2.0, 0.5, 0.6]), "b": frame(m=[1.0, 1.0, 1.0])}  # mean difference > 0, CI not
    r = evaluate(s, noisy)
    assert r.value > 0 and r.ci_low < 0 and not r.ok and r.miss > 0
    one = {"a": frame(m=[2.0]), "b": frame(m=[1.0])}  # no CI: cannot pass a CI rule
    assert not evaluate(s, one).ok


def test_ratio_pairs_replicates_and_defaults_to_the_same_scenario():
    s = spec(rule="ratio", other_metric="n", lo=1.0, hi=None, on="ci")
    runs = {"a": frame(m=[4.0, 8.0, 2.0], n=[2.0, 4.0, 1.0])}  # per replicate always 2, means' ratio too
    r = evaluate(s, runs)
    assert r.ok and r.value == pytest.approx(2.0) and r.ci_low == pytest.approx(2.0)
    assert r.rule_text == "a.m / a.n: CI above 1"
    s2 = spec(rule="ratio", other_scenario="b", lo=None, hi=0.5)
    assert not evaluate(s2, {"a": frame(m=[1.0, 1.0]), "b": frame(m=[1.0, 1.0])}).ok
    assert evaluate(s2, {"a": frame(m=[0.4, 0.5]), "b": frame(m=[1.0, 1.0])}).ok


def test_per_replicate_rules_refuse_unpaired_replicates():
    s = spec(rule="difference", other_scenario="b", lo=0.0, hi=None)
    with pytest.raises(ValueError, match="pair replicates"):
        evaluate(s, {"a": frame(m=[1.0, 2.0, 3.0]), "b": frame(m=[1.0, 2.0])})


def test_separated_needs_apart_cis_and_one_minus_flips_the_metric():
    s = spec(rule="separated", other_scenario="b", lo=None, hi=None)
    apart = {"a": frame(m=[0.9, 0.91, 0.92]), "b": frame(m=[0.5, 0.51, 0.52])}
    r = evaluate(s, apart)
    assert r.ok and r.miss == 0 and r.value == pytest.approx(0.91)
    overlap = {"a": frame(m=[0.9, 0.5, 0.7]), "b": frame(m=[0.6, 0.5, 0.7])}
    r = evaluate(s, overlap)
    assert not r.ok and r.miss > 0
    flipped = evaluate(spec(rule="separated", other_scenario="b", lo=None, hi=None, transform="one_minus"), apart)
    assert not flipped.ok and flipped.value == pytest.approx(0.09)
    assert evaluate(spec(rule="separated", other_scenario="a", scenario="b", lo=None, hi=None, transform="one_minus"),
                    apart).ok


def test_an_unmeasurable_value_fails_with_an_unknown_miss():
    r = evaluate(spec(), {"a": frame(m=[float("nan"), float("nan")])})
    assert not r.ok and math.isnan(r.miss)


def test_evaluate_names_a_missing_scenario_or_metric():
    with pytest.raises(KeyError, match="no runs of scenario 'a'"):
        evaluate(spec(), {"b": frame(m=[1.0])})
    with pytest.raises(KeyError, match="no summary total 'm'"):
        evaluate(spec(), {"a": frame(n=[1.0])})


def test_a_miss_against_a_zero_bound_is_scaled_by_the_ci_not_only_the_mean():
    """Guards the scale of a miss against a bound at 0 (e.g. "enterprise − douyin, CI above
    0"): a mean near 0 with a wide CI misses by about its half-width, so the miss is about
    1, not the half-width over a tiny mean (which made one target dominate a calibration's
    loss: a loss of 35 from this rule alone)."""
    s = spec(rule="difference", scenario="a", other_scenario="b", lo=0.0, hi=None, on="ci")
    near_zero = {"a": frame(m=[1.0 + 0.01, 1.0 - 5.0, 1.0 + 5.0]), "b": frame(m=[1.0, 1.0, 1.0])}
    r = evaluate(s, near_zero)
    assert not r.ok and abs(r.value) < 0.01
    assert 0.5 < r.miss < 1.5
