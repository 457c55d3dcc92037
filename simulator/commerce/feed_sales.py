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


def sell_in_feed(model, day_logs, offers=None) -> None:
    """Tips and purchases on the engaged impressions of every platform's day log.
    ``offers``: per day log, its :func:`selling_offers` if the step had them computed in
    the background (a future), else None (computed here, before any draw: the others'
    are meanwhile computed in the background)."""
    if not model.scenario.commerce.enabled:
        return
    offers = [None] * len(day_logs) if offers is None else offers
    here = [selling_offers(model, log) if later is None else None for log, later in zip(day_logs, offers)]
    batches = [b for log, later, offer in zip(day_logs, offers, here)
               if (b := _sell_on(model, log.platform.index, log.impressions, log.reactions,
                                 offer if later is None else later.result())) is not None]
    if batches:
        place_orders(model, **{key: np.concatenate([b[key] for b in batches]) for key in batches[0]})


def selling_offers(model, log) -> dict | None:
    """The day log's :func:`_offers`: what the feed sales draw on, before any draw (None
    without commerce). Reads the day's trace, the items' live sessions, links and
    creators, the merchants' states and the customer book, none of which a phase between
    the reactions and the feed sales writes (so that large days compute them in the
    background: ``TrafficModel._in_background``)."""
    if not model.scenario.commerce.enabled:
        return None
    return _offers(model, log.platform.index, log.impressions, log.reactions)


def _offers(model, platform: int, impressions, reactions) -> dict:
    """One platform's selling opportunities, before the draws: the engaged impressions of
    live sessions (``tip_k``) with their tip probabilities (``tip_p``), and the engaged
    impressions of active merchants' product links (``buy_k``, None if there are none) with
    their merchants, buyers, live flags and purchase probabilities."""
    items, cfg = model.items, model.scenario.commerce
    # the engaged impressions of items that can sell (live sessions tip, product links
    # sell): the others take no draw (~1 in 6 engaged impressions at the default
    # population is of such an item; the same impressions in the same order as selecting
    # them among all engaged ones), and what the draws read of them (compiled: two passes
    # over the impressions, not ~15 numpy calls; numpy_kernels.selling_offer_rows)
    rows = numpy_kernels.kernel("selling_offer_rows", numpy_kernels.compiled(len(impressions.item)))
    tip_k, tip_intimacy, k, m, user, match, intimacy, live = rows(
        reactions.complete, reactions.like, impressions.item, items.live, items.merchant, model.merchants.active,
        impressions.user, impressions.match, reactions.intimacy)
    out: dict = {"tip_k": None, "buy_k": None}
    # tips (live sessions)
    if len(tip_k):
        fan_trust = model.commerce.purchase.fan_trust[platform]
        out["tip_k"] = tip_k
        out["tip_p"] = sigmoid(cfg.tip_intercept + fan_trust * cfg.tip_w_intimacy * tip_intimacy)
    # purchases (product links of active merchants: an exited merchant sells nothing, not
    # even on its old links)
    if len(k) == 0:
        return out
    out.update(buy_k=k, merchant=m, user=user,
               buy_p=model.commerce.purchase.probability(model.day, user, m, match, intimacy, live, platform))
    return out


def _sell_on(model, platform: int, impressions, reactions, offer: dict | None = None) -> dict | None:
    """Book one platform's tips; return its purchases (one candidate order per converting
    impression) for the day's batch. ``offer``: its :func:`_offers`, if already computed."""
    items, cfg, rng = model.items, model.scenario.commerce, model.streams.commerce
    if offer is None:
        offer = _offers(model, platform, impressions, reactions)
    domain = impressions.domain()
    # tips (live sessions)
    k = offer["tip_k"]
    if k is not None:
        tip = rng.random(len(k)) < offer["tip_p"]
        k = k.compress(tip)
        amount = lognormal_with_mean(rng, cfg.tip_mean, 1.0, len(k))
        creator = items.creator.take(impressions.item.take(k)).astype(np.int64)
        model.ledger.book_tips(platform, creator, domain.take(k), amount)
    # purchases (product links)
    k = offer["buy_k"]
    if k is None:
        return None
    buy = rng.random(len(k)) < offer["buy_p"]
    k, m, user = k.compress(buy), offer["merchant"].compress(buy), offer["user"].compress(buy)
    return dict(platform=np.full(len(k), platform, np.int64), merchant=m,
                seller=items.creator.take(impressions.item.take(k)).astype(np.int64), user=user,
                domain=np.minimum(domain.take(k), PRIVATE_PLATFORM).astype(np.int64),
                source=impressions.source.take(k).astype(np.int64),
                targeting=impressions.targeting.take(k).astype(np.int64),  # an ad slot's targeting (attribution), else -1
                item=impressions.item.take(k).astype(np.int64) + items.offset)  # the item's id, not its live row
