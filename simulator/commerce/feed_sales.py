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
    # the engaged impressions of items that can sell (live sessions tip, product links
    # sell): the others take no draw (~1 in 6 engaged impressions at the default
    # population is of such an item; the same impressions in the same order as selecting
    # them among all engaged ones)
    sells = items.live | (items.merchant >= 0)
    # (on large days one compiled pass over the impressions, without the engaged mask and the gathered flags of all)
    engaged_selling = numpy_kernels.kernel("engaged_selling", numpy_kernels.compiled(len(impressions.item)))
    engaged = engaged_selling(reactions.complete, reactions.like, impressions.item, sells)
    # (take: numpy's fancy indexing by the int32 items is ~3× slower for the same values)
    item = impressions.item.take(engaged)
    live = items.live.take(item)
    merchant = items.merchant.take(item)
    # tips (live sessions)
    on_live = np.flatnonzero(live)
    if len(on_live):
        k = engaged[on_live]
        fan_trust = model.commerce.purchase.fan_trust[platform]
        tip = rng.random(len(k)) < sigmoid(cfg.tip_intercept + fan_trust * cfg.tip_w_intimacy * reactions.intimacy.take(k))
        k = k[tip]
        amount = lognormal_with_mean(rng, cfg.tip_mean, 1.0, len(k))
        creator = items.creator.take(impressions.item.take(k)).astype(np.int64)
        model.ledger.book_tips(platform, creator, domain.take(k), amount)
    # purchases (product links)
    linked = np.flatnonzero(merchant >= 0)
    if not model.merchants.active.all():  # an exited merchant sells nothing, not even on its old links
        linked = linked[model.merchants.active[merchant[linked]]]
    if len(linked) == 0:
        return None
    k = engaged[linked]
    m = merchant[linked].astype(np.int64)
    user = impressions.user.take(k).astype(np.int64)
    prob = model.commerce.purchase.probability(model.day, user, m, impressions.match.take(k), reactions.intimacy.take(k),
                                               live[linked], platform)
    buy = rng.random(len(k)) < prob
    k, m, user = k[buy], m[buy], user[buy]
    return dict(platform=np.full(len(k), platform, np.int64), merchant=m,
                seller=items.creator.take(impressions.item.take(k)).astype(np.int64), user=user,
                domain=np.minimum(domain.take(k), PRIVATE_PLATFORM).astype(np.int64),
                source=impressions.source.take(k).astype(np.int64),
                targeting=impressions.targeting.take(k).astype(np.int64),  # an ad slot's targeting (attribution), else -1
                item=impressions.item.take(k).astype(np.int64) + items.offset)  # the item's id, not its live row
