"""Gini steering (platform/steering.py)."""

from types import SimpleNamespace

import numpy as np

from simulator.config import PlatformConfig
from simulator.platform.steering import steer


def test_a_day_without_exposure_leaves_the_steering_exponent():
    """No impressions today (no active user, no item): there is no Gini to measure, so
    the exponent stays (gini() of all zeros is 0, which read as 'perfectly equal' lowered
    it by steering_step · gini_gain · gini_target)."""
    platform = SimpleNamespace(cfg=PlatformConfig(policy="kuaishou"), steering=1.0)
    steer(platform, np.zeros(50, np.int64))
    assert platform.steering == 1.0
    steer(platform, np.zeros(0, np.int64))
    assert platform.steering == 1.0
    steer(platform, np.r_[np.zeros(49, np.int64), 100])  # one creator takes all: the exponent rises
    assert platform.steering > 1.0
