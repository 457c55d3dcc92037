"""Selling in the feed: tips on engaged live impressions, purchases on engaged
impressions of items that carry a product link. An order's GMV domain is its
impression's (private when the buyer already follows the seller, commercial in an ad
slot, else public)."""

from __future__ import annotations

import numpy as np

from ..state.arrays import lognormal_with_mean, sigmoid
from .ledger import PRIVATE_PLATFORM
from .purchase import place_orders


def sell_in_feed(model, platform: int, impressions, reactions) -> None:
    items, cfg, rng = model.items, model.scenario.commerce, model.streams.commerce
    if not cfg.enabled:
        return
    domain = impressions.domain()
    engaged = np.flatnonzero(reactions.engaged)
    item = impressions.item[engaged]
    live = items.live[item]
    merchant = items.merchant[item]
    # tips (live sessions)
    on_live = np.flatnonzero(live)
    if len(on_live):
        k = engaged[on_live]
        fan_trust = model.commerce.purchase.fan_trust[platform]
        tip = rng.random(len(k)) < sigmoid(cfg.tip_intercept + fan_trust * cfg.tip_w_intimacy * reactions.intimacy[k])
        k = k[tip]
        amount = lognormal_with_mean(rng, cfg.tip_mean, 1.0, len(k))
        creator = items.creator[impressions.item[k]].astype(np.int64)
        model.ledger.book_tips(platform, creator, domain[k], amount)
    # purchases (product links)
    linked = np.flatnonzero(merchant >= 0)
    if len(linked) == 0:
        return
    k = engaged[linked]
    m = merchant[linked].astype(np.int64)
    user = impressions.user[k].astype(np.int64)
    prob = model.commerce.purchase.probability(model.day, user, m, impressions.match[k], reactions.intimacy[k],
                                               live[linked], platform)
    buy = rng.random(len(k)) < prob
    k, m, user = k[buy], m[buy], user[buy]
    place_orders(model, platform=np.full(len(k), platform), merchant=m, seller=items.creator[impressions.item[k]],
                 user=user, domain=np.minimum(domain[k], PRIVATE_PLATFORM).astype(np.int64), source=impressions.source[k],
                 item=impressions.item[k])
