"""Scenario files: extends, overrides, and errors that name file, key and what is allowed."""

import pytest

from simulator.config import POLICY_PRESETS, ScenarioError, load_scenario, parse_set, to_toml
import tomllib

from .conftest import SCENARIOS


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_scenarios_load():
    for name in ("base", "douyin", "kuaishou"):
        s = load_scenario(SCENARIOS / f"{name}.toml")
        assert s.population.users == 10000


def test_extends_and_override(tmp_path):
    write(tmp_path, "base.toml", 'name = "b"\n[population]\nusers = 500\ncreators = 40\n')
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "c"\n[population]\ncreators = 50\n'
                                          '[platforms.ks]\npolicy = "kuaishou"\nbeta = 3\n')
    s = load_scenario(child, ["platforms.ks.ad_load=0.2"])
    assert (s.name, s.population.users, s.population.creators) == ("c", 500, 50)
    ks = s.platforms["ks"]
    assert ks.beta == 3 and ks.ad_load == 0.2
    assert ks.exposure_cap == POLICY_PRESETS["kuaishou"]["exposure_cap"]  # preset default
    s2 = load_scenario(child, ["platforms.ks.exposure_cap=0.2"])
    assert s2.platforms["ks"].exposure_cap == 0.2  # explicit keys beat presets


def test_unknown_key_names_file_and_key(tmp_path):
    p = write(tmp_path, "bad.toml", "[population]\nuserz = 5\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert "population.userz" in str(e.value) and "bad.toml" in str(e.value) and "unknown key" in str(e.value)


def test_out_of_range_names_allowed_range(tmp_path):
    p = write(tmp_path, "bad.toml", '[platforms.douyin]\nbeta = -1\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "platforms.douyin.beta" in msg and "allowed 0.0..50.0" in msg and "bad.toml" in msg


def test_error_names_the_file_that_set_the_key(tmp_path):
    write(tmp_path, "base.toml", "[population]\nusers = 1\n")
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "x"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert "base.toml" in str(e.value) and "population.users" in str(e.value)


def test_wrong_type_and_bad_choice(tmp_path):
    p = write(tmp_path, "t.toml", '[population]\nusers = "many"\n')
    with pytest.raises(ScenarioError, match="population.users"):
        load_scenario(p)
    p = write(tmp_path, "c.toml", '[platforms.x]\npolicy = "tiktok"\n')
    with pytest.raises(ScenarioError, match="allowed: .*douyin"):
        load_scenario(p)


def test_set_errors_are_attributed_to_set(tmp_path):
    p = write(tmp_path, "ok.toml", 'name = "ok"\n')
    with pytest.raises(ScenarioError, match="--set: steps"):
        load_scenario(p, ["steps=0"])
    with pytest.raises(ScenarioError, match="key=value"):
        parse_set("steps")


def test_circular_extends(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    b = write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="circular"):
        load_scenario(b)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "x.toml", "a = = 1\n"))
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")


def test_resolved_scenario_round_trips(tmp_path):
    s = load_scenario(SCENARIOS / "kuaishou.toml")
    again = write(tmp_path, "resolved.toml", to_toml(s))
    assert load_scenario(again) == s
    assert tomllib.loads(to_toml(s))["platforms"]["kuaishou"]["policy"] == "kuaishou"


def test_centralization_moves_knobs_between_the_two_styles(tmp_path):
    from simulator.config import PlatformConfig

    dy, ks = POLICY_PRESETS["douyin"], POLICY_PRESETS["kuaishou"]
    one, zero, half = (PlatformConfig(centralization=c) for c in (1.0, 0.0, 0.5))
    for key in ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate"):
        assert getattr(one, key) == pytest.approx(dy[key]) and getattr(zero, key) == pytest.approx(ks[key])
        assert getattr(half, key) == pytest.approx((dy[key] + ks[key]) / 2)
    assert one.exposure_cap is None and zero.exposure_cap == ks["exposure_cap"] and half.exposure_cap == 2 * ks["exposure_cap"]
    assert one.gini_gain == 0.0 and zero.gini_gain == 2.0
    assert PlatformConfig(centralization=0.5, follow_share=0.9).follow_share == 0.9  # explicit keys win
    with pytest.raises(Exception):
        PlatformConfig(centralization=1.5)


def test_douyin_preset_feed_knobs_equal_the_schema_defaults():
    """Defaults live in one place: the douyin preset may only move the relationship knobs
    away from PlatformConfig's field defaults (reference policies take the field defaults)."""
    from simulator.config import PlatformConfig

    fields = PlatformConfig.model_fields
    differ = {k for k, v in POLICY_PRESETS["douyin"].items() if fields[k].default != v}
    assert differ == {"fan_trust", "group_effect"}
    random = PlatformConfig(policy="random")
    assert (random.fan_trust, random.group_effect) == (fields["fan_trust"].default, fields["group_effect"].default) == (1.0, 1.0)
