"""WeChat: diversion, contacts, friend caps."""

from __future__ import annotations

import numpy as np


from ..commerce.worlds import model, totals


def test_diversion_moves_private_gmv_to_wechat_and_cuts_commission():
    base = totals(model().run())
    div = totals(model(merchants={"diversion_share": 1.0}).run())
    assert base["gmv_private_wechat"] == 0
    assert div["gmv_private_wechat"] > 0.02 * div["gmv_total"]
    assert div["wechat_contacts"] > 0
    assert div["commission_revenue"] < base["commission_revenue"]


def test_wechat_friend_cap_and_add_limit():
    m = model(merchants={"diversion_share": 1.0, "wechat_accounts": 2},
              commerce={"wechat": {"friend_cap": 6, "adds_per_day": 2, "accept_rate": 1.0}})
    prev = np.zeros(m.merchants.n, dtype=np.int64)
    for _ in range(15):
        m.step()
        now = m.commerce.wechat.per_merchant()[: m.merchants.n]
        assert (now <= 12).all()  # 6 friends × 2 accounts
        assert (now - prev <= 4).all()  # 2 adds a day × 2 accounts (contacts may also leave)
        prev = now
    assert now.max() == 12


def test_four_wechat_accounts_at_the_real_friend_cap_add_contacts():
    """10,000 friends x 4 accounts = 40,000 (once overflowed a 16-bit count)."""
    m = model(steps=5, merchants={"diversion_share": 1.0, "wechat_accounts": 4})
    m.run()
    assert len(m.commerce.wechat) > 0
