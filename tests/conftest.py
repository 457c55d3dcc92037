import copy
from pathlib import Path

import pytest

from simulator import TrafficModel
from simulator.config.loading import deep_merge

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

SMALL = {"population": {"users": 2000, "creators": 120, "merchants": 4}, "steps": 8}


def small(overrides: dict | None = None, platform: str = "douyin", **platform_knobs) -> dict:
    """A small world as a scenario dict (one platform unless overrides say otherwise)."""
    d = {**copy.deepcopy(SMALL), "platforms": {platform: {"policy": platform if platform in ("douyin", "kuaishou") else "douyin", **platform_knobs}}}
    return deep_merge(d, overrides or {})


@pytest.fixture(scope="session")
def douyin_run():
    m = TrafficModel(small(), seed=7)
    m.run(8)
    return m
