"""Policy presets: the Douyin-like and Kuaishou-like points of one parameter space.

The policy name picks the defaults of the style knobs a scenario leaves out; a platform's
``centralization`` in [0, 1] interpolates between the two. Explicit keys always win.
Policies without a preset (the reference policies) take the schema's field defaults
(see :class:`simulator.config.schema.PlatformConfig`).
"""

from __future__ import annotations

from typing import Any

POLICIES = ("douyin", "kuaishou", "random", "popularity", "interest")

# The two styles are points of one parameter space: the policy name picks the defaults
# of the knobs a scenario leaves out. Explicit keys always win.
POLICY_PRESETS: dict[str, dict[str, Any]] = {
    "douyin": dict(
        follow_share=0.05, same_city_share=0.0, exposure_cap=None, age_decay=0.25,
        pool_growth=5.0, gini_target=None, cold_start_rate=0.3, fan_trust=0.4, group_effect=0.3,
    ),
    "kuaishou": dict(
        follow_share=0.35, same_city_share=0.12, exposure_cap=0.05, age_decay=0.6,
        pool_growth=2.5, gini_target=0.45, cold_start_rate=0.6, fan_trust=1.0, group_effect=1.0,
    ),
}


def centralization_preset(c: float) -> dict[str, Any]:
    """Defaults of the style knobs at centralization ``c``: 0 is the Kuaishou-like
    preset, 1 the Douyin-like one, numeric knobs interpolate linearly. The exposure
    cap loosens as kuaishou_cap / (1 − c) and disappears once it would exceed 1; the
    Gini steering keeps its target and fades out through ``gini_gain`` = 2·(1 − c)."""
    ks, dy = POLICY_PRESETS["kuaishou"], POLICY_PRESETS["douyin"]
    out: dict[str, Any] = {}
    for key in ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate", "fan_trust",
                "group_effect"):
        out[key] = (1 - c) * ks[key] + c * dy[key]
    cap = ks["exposure_cap"] / (1 - c) if c < 1 else None
    out["exposure_cap"] = cap if cap is not None and cap <= 1.0 else None
    out["gini_target"] = ks["gini_target"]
    out["gini_gain"] = 2.0 * (1 - c)
    return out


# every knob the policy preset or the centralization knob gives a default to
STYLE_KNOBS: tuple[str, ...] = tuple(dict.fromkeys([*POLICY_PRESETS["douyin"], *centralization_preset(0.5)]))

