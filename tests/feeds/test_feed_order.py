"""The platforms' feeds do not depend on the order they are built in (model.build_feeds,
world.py ``streams.sessions``): what lets them be built in threads."""

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.config.loading import deep_merge

from ..conftest import small

ACTIVITY = {"enabled": True, "sensitivity": 8.0, "session_sensitivity": 4.0}


def two_feeds(activity: bool, attention: bool) -> dict:
    """A small world with the Douyin-like and the Kuaishou-like feed, where sessions are
    rounded from draws: responsive activity on both feeds, and/or attention."""
    sc = small(None)
    sc["platforms"]["kuaishou"] = {"policy": "kuaishou"}
    if activity:
        for p in ("douyin", "kuaishou"):
            sc["platforms"][p]["activity"] = dict(ACTIVITY)
    if attention:
        # shares move fast, so that the attention factor lifts sessions past the open-probability cap
        sc = deep_merge(sc, {"attention": {"enabled": True, "memory": 2.0, "sensitivity": 20.0}})
    return sc


def start_of_day(model: TrafficModel) -> None:
    """The phases of a step before build_feeds (TrafficModel.step)."""
    model.day_logs = []
    model.ledger.begin_day()
    model.moderation.begin_day()
    model.renew_population()
    model.publish()


def feeds_in_order(sc: dict, reverse: bool, days: int = 3) -> dict:
    """Each platform's feed (every column of its impressions, its active users and slots)
    on day ``days``, after ``days`` ordinary steps, the platforms' feeds built in scenario
    order or in reverse order."""
    m = TrafficModel(sc, seed=11)
    m.run(days)
    start_of_day(m)
    if reverse:
        m.platforms = dict(reversed(list(m.platforms.items())))
    feeds = m.build_feeds()
    return {platform.name: {"active": platform.active_users.copy(), "slots": platform.slots_today,
                            **{k: v.copy() for k, v in vars(imp).items() if isinstance(v, np.ndarray)}}
            for platform, imp in feeds}


@pytest.mark.parametrize("activity, attention", [(True, False), (False, True), (True, True)])
def test_a_platforms_session_draws_do_not_depend_on_the_platforms_order(activity, attention):
    """Guards the per-platform session streams (world.py ``streams.sessions``; activity.py
    ``session_slots``, attention.py ``round_slots``): building the platforms' feeds in
    reverse order gives each platform the same feed, bit for bit. Fails when the
    platforms' session lengths are rounded from one shared stream (the first platform
    built takes the first draws), as they were before threads."""
    sc = two_feeds(activity, attention)
    forward, backward = feeds_in_order(sc, False), feeds_in_order(sc, True)
    assert forward.keys() == backward.keys() == {"douyin", "kuaishou"}
    for name in forward:
        f, b = forward[name], backward[name]
        assert f.keys() == b.keys()
        for key in f:
            np.testing.assert_array_equal(f[key], b[key], err_msg=f"{name}: {key}")
    # the sessions really were rounded from draws (not all feed_slots)
    slots_per_active = [forward[n]["slots"] / len(forward[n]["active"]) for n in forward]
    assert any(s != 12 for s in slots_per_active)
