"""Views: what the measurements see of one day, per platform and for all platforms.

A view is built from the day's trace (the platforms' impressions and reactions, the
day logs), the state (follow graph, creators' cumulative exposure) and the readings of
the ledger, the fan groups, WeChat and moderation. Building views reads; it never
changes the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..feeds import numpy_kernels
from ..state.vocabulary import ACTIONS, DOMAINS, SOURCES


@dataclass
class View:
    """What the measurements see of one platform (or of all platforms) at a step."""

    name: str
    imps: np.ndarray  # (sources × domains) impressions this step
    actions: np.ndarray  # (actions,) engagements this step
    creator_step: np.ndarray  # (creators,) impressions this step
    creator_cum: np.ndarray  # (creators × domains) cumulative impressions
    follows_gained: int  # new follow edges, on the platform where the follow happened
    follows_lost: int  # lost follow edges, on the creator's home platform
    ad_revenue: float
    active_users: int
    model: object  # the TrafficModel (for shared state: follow graph, creators)
    days: int  # days simulated so far
    readings: dict  # today's money and private-channel readings (see platform_readings), summed for 'all'
    index: int | None = None  # the platform's index, None for 'all'
    # values of the shared state (the follow graph) computed once for all of one step's views
    shared: dict = field(default_factory=dict, repr=False, compare=False)
    # with one platform, the 'all' view's copy source: the platform's view (measure_all reads its row)
    twin: "View | None" = field(default=None, repr=False, compare=False)

    def once(self, key: str, compute):
        """``compute()`` the first time one step's views ask for ``key``, then its value
        (the follow graph is the same in every view: at 1M users each pass over its edges
        costs ~0.1 s, once per platform and for all otherwise; issue #17)."""
        if key not in self.shared:
            self.shared[key] = compute()
        return self.shared[key]


SUMMED = ("imps", "actions", "creator_step", "follows_gained", "follows_lost", "ad_revenue")


def _tally(model, log, key: str, rows: int) -> np.ndarray | None:
    """Today's count ``key`` that record_exposure left in the day log (``DayLog.tally``),
    if it is there and has ``rows`` rows (the live items, the creators), else None."""
    t = getattr(log, "tally", {}).get(key)
    return t if t is not None and len(t) == rows else None


def _shared(shared: dict | None, key: str, compute):
    """``compute()`` once for all of one step's views (``shared``: their cache; None: afresh)."""
    if shared is None:
        return compute()
    if key not in shared:
        shared[key] = compute()
    return shared[key]


def platform_readings(model, log, shared: dict | None = None) -> dict[str, float]:
    """Today's money (the ledger), comments by domain, bans, and the stocks of fan-group
    members and WeChat contacts, on the day log's platform (``shared``: the stocks of every
    platform, counted once for all of one step's views)."""
    p = log.platform.index
    comments = _tally(model, log, "comments", len(DOMAINS))  # (large days: counted in the background)
    if comments is None:
        comments = _comments(log)
    out = model.ledger.readings(p)
    out.update({f"comments_{d}": float(comments[j]) for j, d in enumerate(DOMAINS)})
    item_domain = _tally(model, log, "item_domain", model.items.n)
    live = (int(item_domain[model.items.live].sum()) if item_domain is not None
            else np.count_nonzero(model.items.live[log.impressions.item]))
    live_fans = _tally(model, log, "live_fans", 2)  # (large days: counted in the background)
    if live_fans is None:
        live_fans = _live_fans(log, model.items.live)
    out.update(follow_tab_users=float(log.platform.follow_tab_users), live_likes_shares=float(live_fans[0]),
               live_likes_shares_fans=float(live_fans[1]))
    out.update(impressions_live=float(live), bans=float(model.moderation.bans_today[p]),
               group_members=float(_shared(shared, "group_members", model.commerce.groups.members)[p]),
               wechat_contacts=float(_shared(shared, "wechat_contacts",
                                             lambda: model.commerce.wechat.per_platform(len(model.platforms)))[p]))
    return out


def _live_fans(log, live: np.ndarray) -> np.ndarray:
    """The day log's likes and shares of live items (an impression with both counted
    twice; ``live``: the items' live flags) and those by followers of the item's creator
    (the impression's follow edge, whatever the slot): two int64 counts."""
    imp, reactions = log.impressions, log.reactions
    # (the engaged impressions first: a few percent of the day's, then their items and edges)
    at = np.concatenate([np.flatnonzero(reactions.like), np.flatnonzero(reactions.share)])
    on_live = live.take(imp.item.take(at))
    fans = imp.edge.take(at) >= 0
    return np.array([np.count_nonzero(on_live), np.count_nonzero(on_live & fans)], dtype=np.int64)


def _comments(log) -> np.ndarray:
    """The day log's comments by domain (int64)."""
    # (compress: a mask's values, ~2× quicker than indexing by the sparse mask)
    return np.bincount(log.impressions.domain().compress(log.reactions.comment), minlength=len(DOMAINS))


def _source_domain(log) -> np.ndarray:
    """The day log's impressions by (source, domain) (sources × domains, int64)."""
    imp = log.impressions
    # (source, domain) pairs: one compiled pass on large days, else a bincount of int16 codes
    count_pairs = numpy_kernels.kernel("count_pairs", numpy_kernels.compiled(len(imp)))
    return count_pairs(imp.source, imp.domain(), len(DOMAINS),
                       len(SOURCES) * len(DOMAINS)).reshape(len(SOURCES), len(DOMAINS))


def _actions(log) -> np.ndarray:
    """The day log's engagements by action (int64)."""
    return np.array([np.count_nonzero(a) for a in log.reactions.columns()], dtype=np.int64)


def trace_counts(day_logs, live: np.ndarray) -> list[dict]:
    """Each day log's counts of its trace (and of the items' ``live`` flags) that the
    views read (``source_domain``, ``actions``, ``comments``, ``live_fans``: what
    :func:`platform_view` and :func:`platform_readings` count when the log's ``tally``
    lacks them), for the step to add to the logs' tallies before :func:`views` (large days
    count them in the background: ``TrafficModel._in_background``). The same arrays."""
    return [{"source_domain": _source_domain(log), "actions": _actions(log), "comments": _comments(log),
             "live_fans": _live_fans(log, live)} for log in day_logs]


def platform_view(model, log, shared: dict | None = None) -> View:
    imp, platform = log.impressions, log.platform
    by_source_domain = _tally(model, log, "source_domain", len(SOURCES))  # small days: record_exposure's
    if by_source_domain is None:
        by_source_domain = _source_domain(log)
    actions = _tally(model, log, "actions", len(ACTIONS))
    if actions is None:
        actions = _actions(log)
    creator_domain = _tally(model, log, "creator_domain", model.creators.n)
    return View(name=platform.name, imps=by_source_domain, actions=actions,
                creator_step=(creator_domain.sum(axis=1) if creator_domain is not None
                              else imp.per_creator(model.items.creator, model.creators.n)),
                creator_cum=model.creators.impressions[platform.index],
                follows_gained=int(model.follows_gained_today[platform.index]),
                follows_lost=int(model.follows_lost_today[platform.index]),
                ad_revenue=float(model.ledger.today["ad_revenue"][platform.index]), active_users=platform.active_today,
                model=model, days=model.day + 1, readings=platform_readings(model, log, shared), index=platform.index,
                shared={} if shared is None else shared)


def views(model, shared: dict | None = None) -> list[View]:
    """One :class:`View` per platform plus one for all platforms together. ``shared``:
    values of the shared state already computed for this step (``View.once``'s keys, e.g.
    the follow graph's ``fans_by_tier_and_sums``), if any."""
    shared = {} if shared is None else shared
    out = [platform_view(model, log, shared) for log in model.day_logs]
    if len(out) == 1:
        only = out[0]
        out.append(View(**{**{f.name: getattr(only, f.name) for f in fields(View)}, "name": "all", "index": None,
                           "twin": only}))
        return out
    total = View(name="all", **{k: sum(getattr(v, k) for v in out) for k in SUMMED},
                 creator_cum=model.creators.impressions.sum(axis=0),
                 active_users=_distinct_users(model.users.n, [log.platform.active_users for log in model.day_logs]),
                 model=model, days=model.day + 1,
                 readings={k: sum(v.readings[k] for v in out) for k in out[0].readings}, index=None, shared=shared)
    out.append(total)
    return out


def _distinct_users(n_users: int, groups: list[np.ndarray]) -> int:
    """Users active on at least one platform: a mask over the users (one pass each)
    rather than a sort of every platform's active users (issue #17: ~1 s a day at 1M users)."""
    seen = np.zeros(n_users, dtype=bool)
    for users in groups:
        seen[users] = True
    return int(np.count_nonzero(seen))
