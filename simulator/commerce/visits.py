"""Homepage visits and DMs (user-initiated private traffic): a fan of a selling account
who uses its home platform visits its homepage or sends a DM there with probability
``visit_rate × intimacy`` a day; the visit may convert (GMV domain private_platform, on
the home platform); it never annoys."""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from .ledger import PRIVATE_PLATFORM, VISIT
from .purchase import place_orders


def visit_homepages(model, selling_edges: np.ndarray) -> None:
    follows, creators, rng = model.follows, model.creators, model.streams.commerce
    edge = selling_edges
    draw = rng.random(len(edge), dtype=np.float32)
    # (large days: one compiled pass, without the gathered intimacy and the products of every selling edge)
    visiting_edges = numpy_kernels.kernel("visiting_edges", numpy_kernels.compiled(len(edge)))
    edge = visiting_edges(edge, draw, follows.intimacy, np.float32(model.scenario.commerce.visit_rate))
    if len(edge) == 0:
        return
    user, creator = follows.src[edge].astype(np.int64), follows.creator[edge].astype(np.int64)
    merchant = creators.seller[creator].astype(np.int64)
    # (take(axis=0): the same rows as fancy indexing, several times quicker on rows of a few floats)
    match = np.einsum("ij,ij->i", model.users.interest.take(user, axis=0), creators.topic.take(creator, axis=0))
    prob = model.commerce.purchase.probability(model.day, user, merchant, match, follows.intimacy[edge],
                                               platform=creators.home[creator].astype(np.int64))
    buy = rng.random(len(edge)) < prob
    user, creator, merchant = user[buy], creator[buy], merchant[buy]
    place_orders(model, platform=creators.home[creator], merchant=merchant, seller=creator, user=user,
                 domain=np.full(len(user), PRIVATE_PLATFORM), source=np.full(len(user), VISIT))
