"""Gini steering: a decentralized platform's adaptation toward fairer creator exposure.

A platform with a ``gini_target`` measures the Gini coefficient of its active creators'
exposure each day (creators that exited or have not entered are left out, and with
``creators.multi_homing`` those not present on the platform) and moves its steering exponent s by
``steering_step × gini_gain × (Gini − gini_target)``, kept in [0, ``steering_max``]; a day
without exposure (no active user or no item on the platform) has no Gini and leaves it.
Tomorrow's retrieval divides the weight of each item of an over-exposed creator by
creator_share^s, where creator_share is the creator's cumulative exposure relative to
the mean active creator's present on the platform (> 1: above the mean; creators at or below the mean keep their
weight): Kuaishou's "inclusive" distribution (普惠) holds the head back.
"""

from __future__ import annotations

import numpy as np

from ..observation.inequality import gini


def steer(platform, creator_impressions_today: np.ndarray) -> None:
    """Move ``platform.steering`` toward the Gini target from today's creator exposure."""
    cfg = platform.cfg
    if cfg.gini_target is None:
        return
    error = gini(creator_impressions_today) - cfg.gini_target
    if np.isnan(error):  # no exposure today (no active user, no item): no Gini to steer by
        return
    platform.steering = min(cfg.steering_max, max(0.0, platform.steering + cfg.steering_step * cfg.gini_gain * error))
