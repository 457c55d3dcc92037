"""Shared small worlds of the commerce tests."""

from __future__ import annotations

from simulator.commerce.ledger import PRIVATE_WECHAT
from simulator.config import CATEGORIES
from simulator.config.loading import deep_merge
from simulator.model import TrafficModel

SMALL = {"population": {"users": 3000, "creators": 150, "merchants": 10}, "steps": 30,
         "merchants": {"category_mix": [1, 0, 0, 0]}}


def model(scenario="scenarios/douyin.toml", seed=1, **over) -> TrafficModel:
    return TrafficModel(scenario, seed=seed, overrides=deep_merge(SMALL, over))


def groups(ppd, value, **extra):
    g = {"pushes_per_day": ppd, "value_share": value, "join_rate": 0.2, "join_intimacy": 0.2}
    return {"commerce": {"groups": {**g, **extra}}}


def totals(m: TrafficModel) -> dict:
    return m.summary()["totals"]


def expected_rate(m: TrafficModel, platform: str, merchant: int, domain: int) -> float:
    """The commission schedule, read from the scenario (independently of the model's code)."""
    if domain == PRIVATE_WECHAT:
        return 0.0
    sched = m.scenario.platforms[platform].commission
    if m.merchants.new[merchant] and m.day < sched.intro_days:  # established merchants are past every intro period
        return sched.intro
    return getattr(sched, CATEGORIES[int(m.merchants.category[merchant])])
