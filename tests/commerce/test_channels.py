"""Who the private channels reach."""

from __future__ import annotations

import numpy as np

from simulator.commerce.ledger import GROUP, VISIT
from simulator.config.loading import deep_merge

from ..commerce.worlds import groups, model

TWO_PLATFORMS = {"a": {"policy": "douyin", "adoption": 0.5, "group_effect": 1.0},
                 "b": {"policy": "kuaishou", "adoption": 0.5, "group_effect": 1.0}}


def test_private_channels_reach_only_users_of_the_accounts_home_platform():
    """Fan groups and homepage visits / DMs run on the account's home platform. Two
    platforms each used by half the users share one follow graph: no group member, visit
    buyer or group buyer may be a non-user of the account's home platform (guards the
    ``uses`` filter of ``Commerce.selling_edges``; without it about half of them are)."""
    m = model("scenarios/base.toml", steps=8, platforms=TWO_PLATFORMS,
              **deep_merge(groups(2.0, 0.5, join_rate=0.5, join_intimacy=0.0), {"commerce": {"visit_rate": 0.5}}))
    uses, home, fg = m.users.uses, m.creators.home, m.follows
    channel_orders = members_seen = 0
    for _ in range(m.scenario.steps):
        m.step()
        mem = np.flatnonzero(fg.extra["group"])
        assert uses[fg.src[mem], home[fg.creator[mem]]].all()
        members_seen += len(mem)
        o = m.ledger.today_orders()
        ch = np.flatnonzero((o.source == GROUP) | (o.source == VISIT))
        assert (o.platform[ch] == home[o.seller[ch]]).all()
        assert uses[o.user[ch], o.platform[ch]].all()
        channel_orders += len(ch)
    assert members_seen > 100 and channel_orders > 20
    assert (~uses).any(axis=0).all()  # each platform has non-users who follow accounts
