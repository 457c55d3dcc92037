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


def _wechat_world(**wechat):
    """A diverting fmcg world with WeChat contacts after a few days (repurchase 1 day, so
    that contacts are not all within their repurchase interval)."""
    m = model(steps=8, merchants={"diversion_share": 1.0},
              commerce={"categories": {"fmcg": {"repurchase_days": 1}},
                        "wechat": {"accept_rate": 1.0, "accept_base": 1.0, **wechat}})
    m.run(6)
    assert len(m.commerce.wechat) > 30
    return m


def test_wechat_purchase_model_counts_the_buyers_trust_once():
    """On WeChat the relationship is the customer book's trust in the merchant and the
    purchase model sees it once: z = intercept + buy_offset + w_match·match + w_trust·trust
    − price term (λ = 1, no intimacy term). Computed here from the formula, independently
    of the model's code, for every contact a promotion reached (guards against counting
    the same trust as intimacy too, which gave it weight w_intimacy + w_trust)."""
    from simulator.commerce.wechat import push_to_contacts
    from simulator.state.arrays import sigmoid

    m = _wechat_world(pushes_per_day=1.0, value_share=0.0)
    c, book, purchase = m.scenario.commerce, m.commerce.book, m.commerce.purchase
    seen = []
    real = purchase.probability

    def spy(day, users, merchants, match, intimacy, live=None, platform=None):
        p = real(day, users, merchants, match, intimacy, live=live, platform=platform)
        row = book.lookup(users, merchants)
        assert (row >= 0).all()
        cat = m.merchants.category[merchants]
        fmcg = c.categories.fmcg
        z = (c.intercept + fmcg.buy_offset + c.w_match * match + c.w_trust * book.trust[row]
             - c.price_sensitivity * np.log(fmcg.price / c.reference_price))
        expected = np.where(day - book.last_day[row] < 1, 0.0, sigmoid(z))
        assert (cat == 0).all() and platform is None
        seen.append((p, expected, book.trust[row].copy()))
        return p

    purchase.probability = spy
    n_contacts = len(m.commerce.wechat)
    push_to_contacts(m)
    (p, expected, trust), = seen
    assert len(p) == n_contacts and (trust > 0).all() and (expected > 0).any()
    np.testing.assert_allclose(p, expected, rtol=1e-5)


def test_wechat_value_pushes_raise_the_one_trust_the_book_keeps():
    """A value push raises the buyer's trust in the merchant, and that trust is the
    customer book's (the contact keeps no copy of its own): after one value push every
    contact's book trust t became 1 − (1 − t)·e^(−value_gain·effect) (guards the single
    trust value: a separate contact trust left the book's untouched)."""
    from simulator.commerce.wechat import WeChatContacts, push_to_contacts

    assert "trust" not in WeChatContacts.COLUMNS
    m = _wechat_world(pushes_per_day=1.0, value_share=1.0, effect=0.5)
    contacts, book = m.commerce.wechat, m.commerce.book
    row = book.lookup(contacts.user, contacts.merchant)
    before = book.trust[row].copy()
    push_to_contacts(m)
    gain = m.scenario.commerce.groups.value_gain * 0.5
    np.testing.assert_allclose(book.trust[row], 1.0 - (1.0 - before) * np.exp(-gain), rtol=1e-5)
    assert (book.trust[row] > before).all()
