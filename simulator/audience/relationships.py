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
from .engagement import Reactions, action_codes


def fan_gains(imp: Impressions, r: Reactions, cfg: RelationshipConfig) -> tuple[np.ndarray, np.ndarray]:
    """One platform's gains by follow edge: the edges with a fan impression today
    (ascending) and each one's float64 sum of its impressions' float32 gains, added in
    the impressions' order (bincount's sums over every edge, at those edges). On large
    days the fan impressions and their gains in one compiled pass
    (``kernels.fan_gain_list``), a stable argsort of their edges (nearly sorted already:
    the feeds are built by user) and the sums of its runs (``kernels.sum_runs``); on
    small days a mask of the touched edges and a bincount over the edges up to the largest
    touched instead of sorting the distinct edges and searching every impression's."""
    if numpy_kernels.compiled(len(imp.edge)):
        kernels = numpy_kernels.compiled_kernels()

        weights = np.array([cfg.gain_view, cfg.gain_complete, cfg.gain_like, cfg.gain_comment, cfg.gain_share],
                           dtype=np.float32)
        edge, gain = kernels.fan_gain_list(imp.edge, r.complete, r.like, r.comment, r.share, weights)
        return kernels.sum_runs(edge, gain, np.argsort(edge, kind="stable"))
    fan = np.flatnonzero(imp.edge >= 0)
    codes = r.codes() if hasattr(r, "codes") else action_codes(r.complete, r.like, r.comment, r.share, r.complete & False)
    gain = gain_table(cfg).take(codes.take(fan) & 15)  # each fan impression's float32 gain, by its actions (take: quicker by uint8)
    # (intp once: the scatter and the bincount below would each convert the int32 edges)
    edge = imp.edge.take(fan).astype(np.intp)
    # small days: bincount's sums over every edge up to the largest touched, read at the
    # touched edges (the same float64 adds in the same order as a bincount over the
    # distinct edges; a sort and a search of every fan impression cost ~3× as much)
    n = int(edge.max()) + 1 if len(edge) else 0
    touched = np.zeros(n, dtype=bool)
    touched[edge] = True
    edges = np.flatnonzero(touched)
    return edges, np.bincount(edge, weights=gain, minlength=n).take(edges)


def gain_table(cfg: RelationshipConfig) -> np.ndarray:
    """The float32 gain of an impression by its actions (index: complete 1 + like 2 +
    comment 4 + share 8, the low bits of ``Reactions.codes``): ``gain_view`` plus each
    action's weight, added in that order, the same float32 operations as on each
    impression's masks (``gain += float32(w) · hit``)."""
    code = np.arange(16)
    gain = np.full(16, cfg.gain_view, dtype=np.float32)
    for bit, w in enumerate((cfg.gain_complete, cfg.gain_like, cfg.gain_comment, cfg.gain_share)):
        gain += np.float32(w) * ((code >> bit) & 1).astype(bool)
    return gain


def day_gains(day_logs, cfg: RelationshipConfig) -> tuple[np.ndarray, np.ndarray]:
    """The day's gains summed over the platforms, at the follow edges where they are not
    zero (ascending; NaN counts as not zero): zero plus each platform's sums in platform
    order, the float64 adds of one array of every edge per platform (issue #17: at
    1 M users those arrays, ~4% of whose entries a day touches, were most of the phase);
    a platform with no impressions (a shelf) adds nothing. Large days sort every
    platform's fan impressions at once instead (:func:`_day_gains_compiled`)."""
    logs = [log for log in day_logs if len(log.impressions)]
    if not logs:
        return np.zeros(0, np.int64), np.zeros(0)
    if numpy_kernels.compiled(sum(len(log.impressions.edge) for log in logs)):
        got = _day_gains_compiled(logs, cfg)
        if got is not None:
            return got
    parts = [fan_gains(log.impressions, log.reactions, cfg) for log in logs]
    # each platform's sums added at their edges, in platform order (one merge of sorted
    # edges a platform: kernels.add_sorted_sums on a large day whose packed form would not fit)
    add_sorted_sums = numpy_kernels.kernel("add_sorted_sums", numpy_kernels.compiled(sum(len(e) for e, _ in parts)))
    edges, total = parts[0][0], 0.0 + parts[0][1]
    for e, sums in parts[1:]:
        edges, total = add_sorted_sums(edges, total, e, sums)
    grew = total != 0
    return edges[grew], total[grew]


def _day_gains_compiled(logs, cfg: RelationshipConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`day_gains` on a large day: every platform's fan impressions packed into one
    int64 each, ``edge << shift | j << 4 | code`` (``kernels.fan_gain_keys``: ``j`` its
    place among the day's fan impressions, platform after platform, ``code`` its actions),
    one sort of all of them (distinct integers: numpy's unstable sort orders equal edges
    by impression, as a stable argsort would) and one pass adding each edge's gains, read
    from the gain table by code (``kernels.day_gain_sums``): a platform's argsort,
    ``sum_runs``, the merges and the filter, bit for bit, without an argsort or a gather
    of the gains (issue #17: at 200 k users ~2.5 M fan impressions a day). None if the
    packed integers would not fit in 63 bits."""
    kernels = numpy_kernels.compiled_kernels()

    n = sum(np.count_nonzero(log.impressions.edge >= 0) for log in logs)
    shift = int(n - 1).bit_length() + 4
    if max(int(log.impressions.edge.max()) for log in logs).bit_length() + shift > 63:
        return None
    key = np.empty(n + 1, dtype=np.int64)  # (+ 1: fan_gain_keys writes one place past its impressions)
    starts = [0]
    for log in logs:
        r = log.reactions
        starts.append(starts[-1] + kernels.fan_gain_keys(log.impressions.edge, r.complete, r.like, r.comment,
                                                         r.share, starts[-1], shift, key))
    key = key[:n]
    key.sort()
    return kernels.day_gain_sums(key, shift, gain_table(cfg), np.array(starts, dtype=np.int64))  # (edges over key's)


# grow_intimacy's block of touched edges: its float64 and float32 temporaries (~30 bytes
# an edge) for this many edges at a time, not for the day's millions (issue #17's memory)
GROW_BLOCK = 1 << 18


def grow_intimacy(intimacy: np.ndarray, touched: np.ndarray, gains: np.ndarray, cfg: RelationshipConfig) -> None:
    """Saturating growth of the edges ``touched`` (distinct, ascending) by their ``gains``,
    ``1 − (1 − w)·float32(exp(−gain))``, then every edge's daily decay, a float32 product
    and a clip to [0, 1] (in place). The exponentials run ``GROW_BLOCK`` edges at a time
    (their float64 temporaries for a block, not for the day's millions). On large graphs
    the growth and the decay are one compiled pass over the edges in parallel chunks
    (``kernels.grow_and_decay``: the same floats, without numpy's gathers and scatters of
    the touched edges); on small ones the growth a block at a time and the decay's two
    numpy passes. The same operations on each edge, elementwise, either way."""
    if numpy_kernels.compiled(len(intimacy)):
        grow = np.empty(len(touched), dtype=np.float32)
        for a in range(0, len(touched), GROW_BLOCK):
            grow[a:a + GROW_BLOCK] = np.exp(-gains[a:a + GROW_BLOCK])
        grow_and_decay = numpy_kernels.compiled_kernels().grow_and_decay
        grow_and_decay(intimacy, np.ascontiguousarray(touched, dtype=np.int64), grow, np.float32(1.0 - cfg.decay))
        return
    for a in range(0, len(touched), GROW_BLOCK):
        t = touched[a:a + GROW_BLOCK]
        w = intimacy[t]
        intimacy[t] = 1.0 - (1.0 - w) * np.exp(-gains[a:a + GROW_BLOCK]).astype(np.float32)
    numpy_kernels.decay_and_clip(intimacy, np.float32(1.0 - cfg.decay))


def drifting_fans(intimacy: np.ndarray, cfg: RelationshipConfig, rng: np.random.Generator,
                  out: np.ndarray | None = None) -> np.ndarray:
    """Mask of fan edges that unfollow today (cold relationships drift away); with ``out``
    (a mask of every edge, e.g. the day's other lost edges), set there and returned
    (``out |`` the mask, without a second mask of every edge: issue #17's memory). The
    cold edges are found ``GROW_BLOCK`` × 16 edges at a time (no comparison mask of every
    edge either), in edge order; on large graphs by one compiled kernel
    (``kernels.indices_below``: no mask at all, the same edges)."""
    if numpy_kernels.compiled(len(intimacy)):
        kernels = numpy_kernels.compiled_kernels()

        # (the threshold in the intimacy's dtype: numpy compares a Python float so, NEP 50)
        idx = kernels.indices_below(intimacy, intimacy.dtype.type(cfg.unfollow_threshold))
    else:
        block = 16 * GROW_BLOCK
        idx = np.concatenate([np.flatnonzero(intimacy[a:a + block] < cfg.unfollow_threshold) + a
                              for a in range(0, len(intimacy), block)] or [np.zeros(0, np.intp)])
    if out is None:
        out = np.zeros(len(intimacy), dtype=bool)
    out[idx[rng.random(len(idx)) < cfg.unfollow_rate]] = True
    return out


def followed_pairs(model, day_logs) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each day log's distinct (viewer, creator) pairs of its follows, as ascending keys
    ``user · creators + creator`` (int64), and the log's platform index for each. Reads the
    trace and the items' creators only (so that large days find them in the background:
    ``TrafficModel._in_background``)."""
    n_creators = model.follows.n_creators
    keys, where = [], []
    for log in day_logs:
        follow = np.flatnonzero(log.reactions.follow)  # (~1% of the impressions: found once, then gathered)
        imp = log.impressions
        k = unique_sorted(imp.user.take(follow).astype(np.int64) * n_creators
                          + model.items.creator.take(imp.item.take(follow)).astype(np.int64))
        keys.append(k)
        where.append(np.full(len(k), log.platform.index, dtype=np.int64))
    return keys, where


def follow_engaged_viewers(model, day_logs, pairs=None) -> np.ndarray:
    """Viewers who chose to follow today get a follow edge (at ``follow_intimacy``);
    each creator counts its new edges (``creators.follows_gained``). Returns the new
    edges per platform, each attributed to the platform where the follow happened.
    Following an account one already follows (on any platform) adds nothing; an edge
    followed on several platforms the same day counts once, on the creator's home
    platform if it is one of them, else on the one whose name sorts first (a rule that
    does not depend on the order of the platforms in the scenario). ``pairs``: the day
    logs' :func:`followed_pairs`, if already found (a future), else found here."""
    follows, creators = model.follows, model.creators
    n_platforms, n_creators = len(model.platforms), follows.n_creators
    gained = np.zeros(n_platforms, dtype=np.int64)
    keys, where = followed_pairs(model, day_logs) if pairs is None else pairs.result()
    if not keys:
        return gained
    keys, where = np.concatenate(keys), np.concatenate(where)
    pos, found = follows.find(keys // n_creators, keys % n_creators)
    keys, where, pos = keys[~found], where[~found], pos[~found]
    names = [log.platform.name for log in day_logs]
    name_rank = np.zeros(n_platforms, dtype=np.int64)
    name_rank[[log.platform.index for log in day_logs]] = np.argsort(np.argsort(names, kind="stable"))
    priority = np.where(where == creators.home[keys % n_creators], 0, 1 + name_rank[where])
    order = np.lexsort((priority, keys))
    keys, where, pos = keys[order], where[order], pos[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    keys, where, pos = keys[first], where[first], pos[first]
    # (ascending, absent from the graph, and where find() put them: add() need not search again)
    added = follows.add(keys // n_creators, keys % n_creators, model.scenario.relationship.follow_intimacy,
                        absent_at=pos)
    creators.follows_gained += np.bincount(added, minlength=creators.n)
    return np.bincount(where, minlength=n_platforms).astype(np.int64)
