"""Relationships (亲密度): intimacy on follow edges, new follows, fans drifting away.

Intimacy on a fan edge grows with what the fan did today,
``intimacy ← 1 − (1 − intimacy)·exp(−Σ gains)`` (view < complete < like < comment <
share; purchases and fan-group value pushes add their own gains, see
:mod:`simulator.commerce`), then decays by ``decay`` a day. An engaged non-follower who
follows gets a new edge at ``follow_intimacy``. Fans under ``unfollow_threshold`` drift
away at ``unfollow_rate`` a day. Tiers follow from intimacy
(:func:`simulator.state.graphs.fan_tier`).
"""

from __future__ import annotations

import numpy as np

from ..config import RelationshipConfig
from ..feeds import numpy_kernels
from ..feeds.impressions import Impressions
from ..state.arrays import unique_sorted
from .engagement import Reactions


def intimacy_gains(imp: Impressions, r: Reactions, cfg: RelationshipConfig, n_edges: int) -> np.ndarray:
    """Summed gains per follow edge from today's impressions (one compiled pass over the
    impressions on large days, ``kernels.fan_gains``; its numpy form on small ones)."""
    fan_gains = numpy_kernels.kernel("fan_gains", numpy_kernels.compiled(len(imp.edge)))
    return fan_gains(imp.edge, r.complete, r.like, r.comment, r.share, cfg.gain_view, cfg.gain_complete,
                     cfg.gain_like, cfg.gain_comment, cfg.gain_share, n_edges)


def update_intimacy(intimacy: np.ndarray, gains: np.ndarray, cfg: RelationshipConfig) -> None:
    """Saturating growth by the day's gains, then daily decay (in place)."""
    nonzero_positions = numpy_kernels.kernel("nonzero_positions", numpy_kernels.compiled(len(gains)))
    touched = nonzero_positions(gains)  # np.flatnonzero (without its bool temporary on large graphs)
    w = intimacy[touched]
    intimacy[touched] = 1.0 - (1.0 - w) * np.exp(-gains[touched]).astype(np.float32)
    intimacy *= np.float32(1.0 - cfg.decay)
    np.clip(intimacy, 0.0, 1.0, out=intimacy)


def drifting_fans(intimacy: np.ndarray, cfg: RelationshipConfig, rng: np.random.Generator) -> np.ndarray:
    """Mask of fan edges that unfollow today (cold relationships drift away)."""
    low = intimacy < cfg.unfollow_threshold
    out = np.zeros(len(intimacy), dtype=bool)
    idx = np.flatnonzero(low)
    out[idx] = rng.random(len(idx)) < cfg.unfollow_rate
    return out


def follow_engaged_viewers(model, day_logs) -> np.ndarray:
    """Viewers who chose to follow today get a follow edge (at ``follow_intimacy``);
    each creator counts its new edges (``creators.follows_gained``). Returns the new
    edges per platform, each attributed to the platform where the follow happened.
    Following an account one already follows (on any platform) adds nothing; an edge
    followed on several platforms the same day counts once, on the creator's home
    platform if it is one of them, else on the one whose name sorts first (a rule that
    does not depend on the order of the platforms in the scenario)."""
    follows, creators = model.follows, model.creators
    n_platforms, n_creators = len(model.platforms), follows.n_creators
    gained = np.zeros(n_platforms, dtype=np.int64)
    keys, where = [], []
    for log in day_logs:
        follow = log.reactions.follow
        k = unique_sorted(log.impressions.user[follow].astype(np.int64) * n_creators
                      + model.items.creator[log.impressions.item[follow]].astype(np.int64))
        keys.append(k)
        where.append(np.full(len(k), log.platform.index, dtype=np.int64))
    if not keys:
        return gained
    keys, where = np.concatenate(keys), np.concatenate(where)
    new = ~follows.find(keys // n_creators, keys % n_creators)[1]
    keys, where = keys[new], where[new]
    names = [log.platform.name for log in day_logs]
    name_rank = np.zeros(n_platforms, dtype=np.int64)
    name_rank[[log.platform.index for log in day_logs]] = np.argsort(np.argsort(names, kind="stable"))
    priority = np.where(where == creators.home[keys % n_creators], 0, 1 + name_rank[where])
    order = np.lexsort((priority, keys))
    keys, where = keys[order], where[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, where = keys[first], where[first]
    added = follows.add(keys // n_creators, keys % n_creators, model.scenario.relationship.follow_intimacy)
    creators.follows_gained += np.bincount(added, minlength=creators.n)
    return np.bincount(where, minlength=n_platforms).astype(np.int64)
