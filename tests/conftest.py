import copy
import os
from pathlib import Path

# The kernels compiled ahead (simulator/feeds/ahead.py) would run every phase of the
# suite's small runs compiled: off, so that the tests exercise the numpy forms and
# numba's kernels as they say; tests/feeds/test_ahead.py turns them on (same results).
# Subprocesses inherit it.
os.environ["TRAFFICSIM_AHEAD"] = "0"

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
