"""Pushes to a private audience (fan-group messages, WeChat Moments): the one push model
shared by fan groups and WeChat.

Each sender sends ``pushes_per_day`` pushes a day (the fraction as a Bernoulli), each
value content with probability ``value_share``, else promotion. A value push raises every
recipient's relationship by ``value_gain × effect`` (saturating); a promotion adds
``promo_annoyance`` to their annoyance, takes ``promo_intimacy_cost`` of their
relationship, and converts with ``promo_conversion × effect ×`` the purchase model's
probability. Annoyance decays by ``annoyance_decay`` a day. The relationship is the
member's intimacy with the account in a fan group; on WeChat it is the contact's trust in
the merchant (the customer book's), which the purchase model then reads as trust, with
no intimacy term.
"""

from __future__ import annotations

import numpy as np


def draw_pushes(rng: np.random.Generator, active: np.ndarray, pushes_per_day,
                value_share) -> tuple[np.ndarray, np.ndarray]:
    """Value and promotional pushes per sender today (``pushes_per_day`` and
    ``value_share``: one value for all, or one per sender), drawn for the ``active``
    senders only (in row order; the others send none): rows of creators or merchants that
    have not entered yet or have exited use no random numbers, so a scenario's entry pool
    does not shift the pushes' draws (ODD 7.10)."""
    rows = np.flatnonzero(active)
    out_value = np.zeros(len(active), dtype=np.int64)
    out_promo = np.zeros(len(active), dtype=np.int64)
    if np.ndim(pushes_per_day):
        pushes_per_day = np.asarray(pushes_per_day)[rows]
        whole = np.floor(pushes_per_day).astype(np.int64)
    else:
        whole = int(pushes_per_day)
    if np.ndim(value_share):
        value_share = np.asarray(value_share)[rows]
    n = whole + (rng.random(len(rows)) < pushes_per_day - whole)
    value = rng.binomial(n, value_share)
    out_value[rows], out_promo[rows] = value, n - value
    return out_value, out_promo


def apply_push_effects(groups_cfg, intimacy, annoy, n_value, n_promo, effect) -> None:
    """Annoyance decays then grows with promotions; intimacy grows with value content
    (× effect) and is worn down by promotions (in place)."""
    g = groups_cfg
    annoy *= np.float32(1.0 - g.annoyance_decay)
    annoy += np.float32(g.promo_annoyance) * n_promo
    gain = (g.value_gain * effect * n_value).astype(np.float32)
    intimacy[:] = (1.0 - (1.0 - intimacy) * np.exp(-gain)) * np.float32(1.0 - g.promo_intimacy_cost) ** n_promo


def promo_buyers(model, users, merchants, creators_for_match, intimacy, n_promo, effect, platform=None) -> np.ndarray:
    """Recipients who buy after today's promotional pushes (``platform``: per recipient,
    None on WeChat, where ``intimacy`` is 0: the relationship is the book's trust)."""
    g, purchase = model.scenario.commerce.groups, model.commerce.purchase
    k = np.flatnonzero(n_promo > 0)
    if len(k) == 0:
        return k
    # (take(axis=0): the same rows as fancy indexing, several times quicker on rows of a few floats)
    match = np.einsum("ij,ij->i", model.users.interest.take(users[k], axis=0),
                      model.creators.topic.take(creators_for_match[k], axis=0))
    p1 = np.minimum(1.0, g.promo_conversion * effect[k] * purchase.probability(
        model.day, users[k], merchants[k], match, intimacy[k], platform=None if platform is None else platform[k]))
    p_any = 1.0 - (1.0 - p1) ** n_promo[k]
    return k[model.streams.commerce.random(len(k)) < p_any]
