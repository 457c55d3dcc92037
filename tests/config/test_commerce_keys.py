"""Commerce keys of the scenario schema are range-checked."""

from __future__ import annotations

import pytest

from simulator.config import ScenarioError, load_scenario



@pytest.mark.parametrize("key,value,needle", [
    ("platforms.douyin.commission.fmcg", "1.5", "allowed 0.0..1.0"),
    ("commerce.groups.value_share", "-0.1", "allowed 0.0..1.0"),
    ("merchants.wechat_accounts", "5", "allowed 1..4"),
    ("commerce.wechat.friend_cap", "0", "allowed 1..1000000"),
    ("merchants.category_mix", "[0, 0, 0, 0]", "category_mix"),
    ("commerce.groups.pushes", "1", "unknown key"),
])
def test_commerce_knobs_are_validated(key, value, needle):
    with pytest.raises(ScenarioError) as err:
        load_scenario("scenarios/douyin.toml", sets=[f"{key}={value}"])
    msg = str(err.value)
    assert needle in msg
    assert key.rsplit(".", 1)[0] in msg
