"""Selling in the feed: tips on engaged live impressions, purchases on engaged
impressions of items that carry a product link. An order's GMV domain is its
impression's (private when the buyer already follows the seller, commercial in an ad
slot, else public).

The purchases of every platform's feed are placed as one batch: when a buyer converts
with the same merchant on two platforms (or through two slot sources) the same day, the
one order goes to a candidate drawn by :func:`.purchase.place_orders`' hash, not to the
platform or source that happens to come first."""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from ..state.arrays import lognormal_with_mean, sigmoid
from .ledger import PRIVATE_PLATFORM
from .purchase import place_orders


def sell_in_feed(model, day_logs) -> None:
    """Tips and purchases on the engaged impressions of every platform's day log."""
    if not model.scenario.commerce.enabled:
        return
    batches = [b for log in day_logs
               if (b := _sell_on(model, log.platform.index, log.impressions, log.reactions)) is not None]
    if batches:
        place_orders(model, **{key: np.concatenate([b[key] for b in batches]) for key in batches[0]})


def _sell_on(model, platform: int, impressions, reactions) -> dict | None:
    """Book one platform's tips; return its purchases (one candidate order per converting
    impression) for the day's batch."""
    items, cfg, rng = model.items, model.scenario.commerce, model.streams.commerce
    domain = impressions.domain()
    # the engaged impressions of live items (tips) and of items with a product link (one
    # compiled pass over the impressions on large days)
    engaged_sales = numpy_kernels.kernel("engaged_sales", numpy_kernels.compiled(len(impressions)))
    tips, linked, m, live = engaged_sales(reactions.complete, reactions.like, impressions.item, items.live,
                                          items.merchant)
    # tips (live sessions)
    if len(tips):
        fan_trust = model.commerce.purchase.fan_trust[platform]
        tip = rng.random(len(tips)) < sigmoid(cfg.tip_intercept
                                              + fan_trust * cfg.tip_w_intimacy * reactions.intimacy[tips])
        tips = tips[tip]
        amount = lognormal_with_mean(rng, cfg.tip_mean, 1.0, len(tips))
        creator = items.creator[impressions.item[tips]].astype(np.int64)
        model.ledger.book_tips(platform, creator, domain[tips], amount)
    # purchases (product links)
    if not model.merchants.active.all():  # an exited merchant sells nothing, not even on its old links
        selling = model.merchants.active[m]
        linked, m, live = linked[selling], m[selling], live[selling]
    if len(linked) == 0:
        return None
    k = linked
    user = impressions.user[k].astype(np.int64)
    prob = model.commerce.purchase.probability(model.day, user, m, impressions.match[k], reactions.intimacy[k],
                                               live, platform)
    buy = rng.random(len(k)) < prob
    k, m, user = k[buy], m[buy], user[buy]
    return dict(platform=np.full(len(k), platform, np.int64), merchant=m,
                seller=items.creator[impressions.item[k]].astype(np.int64), user=user,
                domain=np.minimum(domain[k], PRIVATE_PLATFORM).astype(np.int64),
                source=impressions.source[k].astype(np.int64),
                targeting=impressions.targeting[k].astype(np.int64),  # an ad slot's targeting (attribution), else -1
                item=impressions.item[k].astype(np.int64) + items.offset)  # the item's id, not its live row
