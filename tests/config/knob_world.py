"""The "everything on" base world of the knob tests, and the scenario knobs it is made of.

``BASE`` is small (1,500 users, 60 creators, 8 merchants, 5 days) but runs every
mechanism: a Douyin-like platform and a Kuaishou-like one with an exposure cap and Gini
steering (users' activity responds to the Douyin-like feed); commerce with fan groups, half the merchants diverting buyers to WeChat,
over-marketing and diversion bans possible on both platforms (promotional pushes can
exceed ``overmarketing_pushes``).

:func:`knobs` walks the schema and lists every leaf key of the resolved base scenario
(platform keys once per platform), with its value and its pydantic field.
"""

from __future__ import annotations

import json
import typing
from functools import lru_cache

from pydantic import BaseModel

from simulator import TrafficModel
from simulator.config.loading import scenario_with
from simulator.config.schema import Scenario

DAYS = 5
SEED = 18

BASE: dict = {
    "population": {"users": 1500, "creators": 60, "merchants": 12},
    "merchants": {"daily_ad_budget": 400.0, "category_mix": [0.25, 0.25, 0.25, 0.25], "diversion_share": 0.5,
                  "wechat_accounts": 2, "new_share": 0.5, "targeting_mix": [0.3, 0.3, 0.4]},
    "commerce": {
        "enabled": True,
        "intercept": -2.5,  # every category sells within 5 days
        # fmcg and high-ticket buyers may buy again after 2 days: trust (w_trust, trust_gain) acts within the run
        "categories": {"fmcg": {"repurchase_days": 2}, "online_high_ticket": {"buy_offset": 2.0, "repurchase_days": 2},
                       "offline_long_decision": {"buy_offset": 0.0}},
        # two pushes a day: the days with two promotions exceed the over-marketing limit of 1
        "groups": {"enabled": True, "pushes_per_day": 2.0, "overmarketing_pushes": 1.0},
        # two adds a day per WeChat account: the add limit binds; three pushes a day, most of
        # them promotional: WeChat sells within the 5 days (at value_share 0.5 it sold once or
        # twice, or not at all: a change of the run's course left wechat.effect with nothing to move)
        "wechat": {"accept_rate": 1.0, "adds_per_day": 2, "pushes_per_day": 3.0, "value_share": 0.2},
    },
    "platforms": {
        "douyin": {"policy": "douyin", "ad_load": 0.1, "cpm": 400.0,
                   "ban_per_diversion": 0.003, "ban_per_excess_push": 0.2,
                   "commission": {"intro_days": 1}, "activity": {"enabled": True}},
        "kuaishou": {"policy": "kuaishou", "follow_share": 0.45, "ad_load": 0.06, "cpm": 300.0, "cpm_elasticity": 0.5,
                     "exposure_cap": 0.05, "gini_target": 0.25,
                     "ban_per_diversion": 0.003, "ban_per_excess_push": 0.2, "commission": {"intro_days": 1}},
    },
}


def base_scenario() -> Scenario:
    return scenario_with(BASE, None, {})


def knobs() -> list[tuple[str, typing.Any, typing.Any]]:
    """(dotted key, value in the resolved base, pydantic FieldInfo) of every leaf knob."""
    out: list = []

    def walk(model: BaseModel, prefix: str) -> None:
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            key = f"{prefix}{name}"
            if isinstance(value, BaseModel):
                walk(value, key + ".")
            elif isinstance(value, dict):
                for sub, table in value.items():
                    walk(table, f"{key}.{sub}.")
            else:
                out.append((key, value, field))

    walk(base_scenario(), "")
    return out


def bounds(field) -> tuple[float | None, bool, float | None, bool]:
    """(low, low inclusive, high, high inclusive) of a numeric field."""
    lo = hi = None
    lo_inc = hi_inc = True
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo, lo_inc = m.ge, True
        if getattr(m, "gt", None) is not None:
            lo, lo_inc = m.gt, False
        if getattr(m, "le", None) is not None:
            hi, hi_inc = m.le, True
        if getattr(m, "lt", None) is not None:
            hi, hi_inc = m.lt, False
    return lo, lo_inc, hi, hi_inc


def model(settings: dict | None = None) -> TrafficModel:
    return TrafficModel(BASE, seed=SEED, steps=DAYS, agents=False, **(settings or {}))


def final_outputs(m: TrafficModel) -> dict[str, typing.Any]:
    """Everything a run reports: metrics, the creators, merchants and items frames, the summary."""
    return {"metrics": m.metrics_frame(), "creators": m.creators_frame(), "merchants": m.merchants_frame(),
            "items": m.items_frame(), "summary": json.dumps(m.summary(), sort_keys=True, default=str)}


def same(a, b) -> bool:
    if isinstance(a, str):
        return a == b
    return a.shape == b.shape and list(a.columns) == list(b.columns) and a.equals(b)


@lru_cache(maxsize=1)
def base_run():
    """The base run: its metrics frame after each day and its final outputs."""
    m = model()
    per_day = []
    for _ in range(DAYS):
        m.step()
        per_day.append(m.metrics_frame())
    return per_day, final_outputs(m)


def differs(settings: dict) -> str | None:
    """Run the base with ``settings``; the name of the first output that differs from the
    base run's (metrics day by day, stopping at the first difference; then the frames and
    the summary), or None when the run is identical."""
    per_day, final = base_run()
    m = model(settings)
    for day in range(DAYS):
        m.step()
        if not same(m.metrics_frame(), per_day[day]):
            return f"metrics on day {day}"
    out = final_outputs(m)
    for name, frame in out.items():
        if not same(frame, final[name]):
            return name
    return None
