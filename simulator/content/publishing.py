"""Publishing: every active creator posts Poisson(post_rate) items a day (creators that
have exited, or merchants' accounts not yet in the market, post nothing: state/turnover.py).

An item's latent quality is the creator's mean plus N(0, ``quality_sd_within``) (its
quality is the sigmoid of that); its topic is the creator's, blurred by ``topic_noise``
toward a random Dirichlet(0.5) mix. With commerce on, a merchant's own account links
its product on every item and a partner creator on a ``link_share`` of items;
``live_share`` of items are live sessions (直播), which sell more and collect tips.
"""

from __future__ import annotations

import numpy as np

from ..config import Scenario
from ..state.arrays import sigmoid
from ..state.items import ItemStore
from ..state.population import CreatorState


def publish(creators: CreatorState, items: ItemStore, scenario: Scenario, day: int, rng: np.random.Generator) -> int:
    """Append today's items to ``items``; returns how many were published."""
    cfg = scenario.creators
    # creators that have exited (or not entered yet) post nothing and draw nothing: an
    # entry pool does not shift the publishing stream (ODD 7.10)
    active = np.flatnonzero(creators.active)
    posts = np.zeros(creators.n, dtype=np.int64)
    posts[active] = rng.poisson(creators.post_rate[active])
    creator = np.repeat(np.arange(creators.n, dtype=np.int32), posts)
    latent = creators.quality_mean[creator] + rng.normal(0.0, cfg.quality_sd_within, len(creator)).astype(np.float32)
    noise = rng.dirichlet(np.full(creators.topic.shape[1], 0.5), len(creator)).astype(np.float32)
    topic = (1 - cfg.topic_noise) * creators.topic[creator] + cfg.topic_noise * noise
    topic /= np.linalg.norm(topic, axis=1, keepdims=True)
    commerce = scenario.commerce
    merchant = np.full(len(creator), -1, dtype=np.int32)
    live = np.zeros(len(creator), dtype=bool)
    if commerce.enabled:
        seller = creators.seller[creator]
        own = creators.merchant[creator] >= 0
        link = own | ((seller >= 0) & (rng.random(len(creator)) < commerce.link_share))
        merchant = np.where(link, seller, -1).astype(np.int32)
        live = rng.random(len(creator)) < commerce.live_share
    items.append(creator, day, sigmoid(latent), topic, merchant, live)
    creators.items_published += posts
    return len(creator)
