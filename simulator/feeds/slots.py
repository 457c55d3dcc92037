"""Feeds: one per platform per active user per day, assembled from slots.

Who is active and how many slots they get: ``daily_active`` and ``feed_slots``, or, when
the platform's users' activity responds to their feed, per user from their satisfaction
(:mod:`simulator.audience.activity`).

Slot sources (``vocabulary.SOURCES``), filled in this order:

* ``follow`` (关注): items of creators the user follows; the user opens the follow tab
  for a share of their slots (drawn per user around the platform's ``follow_share``) and
  picks a followed creator reachable on the platform with probability ∝ intimacy +
  ``follow_pick_base`` (a followed account banned there or, with multi-homing, absent
  weighs 0), then one of its items of the last ``follow_window`` days.
* ``same_city`` (同城): items from creators in the user's city.
* ``ads`` (商域, commercial): slots sold to merchants (:mod:`simulator.platform.ad_market`).
* ``cold_start``: the platform's cold-start pool. Each new item is first offered to its
  creator's fans, each with probability ``cold_start_rate × intimacy`` (item by item);
  a user with more offers than cold-start slots keeps a random subset.
* ``recommend`` (推荐, public): the algorithm's choice, the rest of the slots
  (:mod:`.recommend`).

An account banned on a platform reaches nobody there, in any slot source; so does, with
multi-homing (``creators.multi_homing``, :mod:`simulator.content.presence`), a creator who
is not present on the platform.

A shelf platform (``kind = "shelf"``) has no feed: no impressions, no ad slots; its
active users are set by the shelf phase (:mod:`simulator.commerce.shelf`).
"""

from __future__ import annotations

import os
import numpy as np

from .._pools import KeptPool
from ..config import PlatformConfig
from ..content.presence import blocked_creators
from ..platform.ad_market import AccountEdges, open_ad_day, sell_ad_slots
from ..state.arrays import (indptr_from_rows, lexsort_by_uniform, random_in_rows, rank_within_sorted,
                            weighted_in_repeated_rows, weighted_in_rows)
from ..state.vocabulary import COLD_START, FOLLOW, SAME_CITY
from .impressions import INDEX_LIMIT, FeedColumns, Impressions
from . import numpy_kernels
from .recommend import recommend_slots


def build_feeds(model, platforms: list) -> list[Impressions]:
    """Each of ``platforms``' feeds for today (:func:`build_feed`), in threads, one per
    feed platform, on large days (:func:`feed_threads`), else one after the other; the
    same feeds either way, for any number of threads. Each platform draws from its own
    streams (its feed stream, its session stream ``streams.sessions``, the ranking's
    per-block generators); what the platforms share is made safe:

    * the caches the feeds fill on first use (the follow tab's pick weights and the ad
      market's edges to the merchants' accounts in ``model.feed_cache``, the item
      indexes, the presence's rows of new creators) are
      filled before the threads start (:func:`fill_shared_caches`), so that the threads
      only read them (in one thread, on large graphs, the first two are still filled
      first, in one pass: :func:`fill_follow_caches`);
    * the ad market's bookings (ledger, learners' spend) are kept while the feeds are
      built (``model.ad_sales``) and booked after the last one, in scenario order
      (platform/ad_market.py ``AdSales``);
    * the platforms that can sell each merchant ads today, over which its ad budget is
      split, are fixed before the first feed (platform/ad_market.py ``open_ad_day``);
    * everything else a feed writes is its platform's (``platform.active_users``, its
      recommender's day, its traffic pools' ``expected_dau``).

    The caller (``TrafficModel.build_feeds``) holds BLAS to one thread."""
    model.ad_sales = {}
    open_ad_day(model)
    try:
        threads = feed_threads(model, platforms)
        if threads > 1:
            fill_shared_caches(model, platforms)
            feeds = _map_in_threads(lambda platform: build_feed(model, platform, platform.feed_rng), platforms, threads)
        else:
            fill_follow_caches(model, platforms)
            feeds = [build_feed(model, platform, platform.feed_rng) for platform in platforms]
        for p in sorted(model.ad_sales):
            model.ad_sales[p].book(model)
    finally:
        model.ad_sales = None
    return feeds


def feed_threads(model, platforms: list) -> int:
    """How many threads build today's feeds: one per feed platform, at most
    ``numpy_kernels.FEED_THREADS`` (None: the environment's ``TRAFFICSIM_FEED_THREADS``,
    else the cores this process may use), on days whose expected DAU summed over the
    feed platforms is at least ``numpy_kernels.FEED_THREADS_FROM`` (``AHEAD_FEED_THREADS_FROM``
    in a small run on the kernels compiled ahead, ``AHEAD_RUN``: they release the GIL) and below
    ``FEED_THREADS_UNTIL`` (memory: two feeds' temporaries at once), and where threads may
    run the kernels at once (:func:`threads_may_share_kernels`); else 1."""
    feed = [platform for platform in platforms if platform.cfg.kind != "shelf"]
    threads = min(len(feed), thread_limit())
    dau = sum(platform.policy.pools.expected_dau for platform in feed)
    start = numpy_kernels.threads_from(numpy_kernels.FEED_THREADS_FROM, numpy_kernels.AHEAD_FEED_THREADS_FROM)
    if threads < 2 or not start <= dau < numpy_kernels.FEED_THREADS_UNTIL:
        return 1
    return threads if threads_may_share_kernels() else 1


def background_thread(model, platforms: list, impressions: int) -> bool:
    """Whether the step's background thread (model.py ``TrafficModel._in_background``) runs
    today, a day of ``impressions`` on ``platforms``: on the compiled kernels, from
    ``numpy_kernels.BACKGROUND_FROM`` impressions (``AHEAD_BACKGROUND_FROM`` in a small run
    on the kernels compiled ahead, ``AHEAD_RUN``), with one feed platform or several, where
    the feeds may use more than one thread (:func:`thread_limit`; 1 keeps everything on the
    main thread), below ``FEED_THREADS_UNTIL`` expected DAU over the feed platforms (memory:
    the background's temporaries beside the phases', as for the feeds' threads) and where
    threads may run the kernels at once (:func:`threads_may_share_kernels`)."""
    if not numpy_kernels.compiled(impressions) or thread_limit() < 2:
        return False
    start = numpy_kernels.threads_from(numpy_kernels.BACKGROUND_FROM, numpy_kernels.AHEAD_BACKGROUND_FROM)
    dau = sum(platform.policy.pools.expected_dau for platform in platforms if platform.cfg.kind != "shelf")
    return start <= impressions and dau < numpy_kernels.FEED_THREADS_UNTIL and threads_may_share_kernels()


def thread_limit() -> int:
    """The most threads a day's feeds may use (the platforms' feeds, a platform's ranking
    blocks): ``numpy_kernels.FEED_THREADS``, else the environment's
    ``TRAFFICSIM_FEED_THREADS`` (e.g. 1 to compare), else the cores this process may use."""
    limit = numpy_kernels.FEED_THREADS
    if limit is None:
        limit = int(os.environ.get("TRAFFICSIM_FEED_THREADS") or _cores())
    return limit


def _cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_may_share_kernels() -> bool:
    """Whether two threads may run the compiled kernels at once. In a small run on the
    kernels compiled ahead (``numpy_kernels.AHEAD_RUN``) always: they are serial machine
    code that releases the GIL, and what runs on numba's side for want of one runs one
    call at a time (``ahead._numba_kernel``). Else where numba's threading layer is
    ``omp`` or ``tbb`` (``kernels.THREAD_SAFE_LAYERS``); under ``workqueue`` (neither
    OpenMP nor TBB found) concurrent parallel kernels abort the process, and the feeds are
    built one after the other. Imports numba then (large days run its kernels anyway)."""
    if numpy_kernels.AHEAD_RUN:
        return True
    from . import kernels

    return kernels.threading_layer() in kernels.THREAD_SAFE_LAYERS


def fill_shared_caches(model, platforms: list) -> None:
    """Fill what the platforms' feeds share and would otherwise fill on first use, so that
    feeds built in threads only read it: the follow tab's pick weights of each feed
    platform (:func:`_fill_pick_weights`: the platforms' shared ones, or a platform's own
    where a followed account is blocked there, which its feed takes out of the cache),
    the ad market's follow edges to the merchants' accounts (platform/ad_market.py
    ``AccountEdges.edges``), the item indexes (recent items by creator for the
    follow tab and the ad market, items by city for the same-city tab) and, with
    multi-homing, the presence's rows of creators who entered since it was last read
    (its arrays grow by concatenation: two threads would both grow them); on large graphs
    the first two in one pass (:func:`fill_follow_caches`). Their content
    does not depend on who fills them first. (The follow graph's kept keys, filled by
    ``FollowGraph.find`` on small graphs, are left to the threads: one tuple assigned
    at once, the same keys whoever computes them.)"""
    presence = getattr(model, "presence", None)
    if presence is not None:
        presence.on(0)  # adds the rows of new creators (Presence._sync)
    fill_follow_caches(model, platforms)
    if model.merchants.n and model.follows.n_edges:
        AccountEdges(model).edges()  # the follow edges to the merchants' accounts
    indexes = model.item_indexes
    for platform in platforms:
        cfg = platform.cfg
        if cfg.kind == "shelf":
            continue
        if model.follows.n_edges:
            _fill_pick_weights(model, platform)
        indexes.recent(cfg.follow_window)
        indexes.recent(cfg.max_item_age)
        indexes.by_city(cfg.max_item_age)


def fill_follow_caches(model, platforms: list) -> None:
    """On large graphs (compiled), while the feeds are built (``model.feed_cache``), with
    merchants and a feed platform: the first feed platform's follow-tab pick weights and
    the ad market's follow edges to the merchants' accounts (platform/ad_market.py
    ``AccountEdges.edges``) in one pass over every edge
    (``kernels.row_start_sums_and_marked``) instead of one each: the same arrays, cached
    as their first use would cache them (:func:`follow_pick_weights`, shared by the
    platforms; or, where an account is blocked on that platform, its own weights, the
    blocked accounts' edges weighing 0 (:func:`_blocked_mask`), which its feed takes out
    of the cache: :func:`_pick_weights_of`). (Filled whether or not the day's feeds read
    them: neither depends on who computes it.)"""
    follows = model.follows
    cache = getattr(model, "feed_cache", None)
    feed = [platform for platform in platforms if platform.cfg.kind != "shelf"]
    if (cache is None or not feed or not model.merchants.n or not follows.n_edges
            or not numpy_kernels.compiled(follows.n_edges)):
        return
    platform = feed[0]
    base = platform.cfg.follow_pick_base
    if AccountEdges.KEY in cache or _pick_key(base) in cache or _own_key(platform) in cache:
        return
    blocked = _blocked_mask(model, platform)
    row_start_sums_and_marked = numpy_kernels.compiled_kernels().row_start_sums_and_marked

    # room for 1 edge in 8 to the accounts (0.6% of the edges of a 200,000-user ecosystem
    # at day 300, ~6% of a 10,000-user douyin.toml day; more: a second pass over every
    # edge). Pages of the room never written are never touched, so a large room costs
    # address space, not memory (a room that doubled when full instead measured 0.56x at
    # 10,000 users compiled ahead but ~6x slower under numba at 200,000: issue #17)
    sums, cache[AccountEdges.KEY] = row_start_sums_and_marked(
        follows.indptr, follows.intimacy, np.float32(base), follows.creator,
        _none_blocked(model) if blocked is None else blocked, AccountEdges.accounts(model),
        follows.n_edges // 8 + 1024)
    if blocked is None:
        cache[_pick_key(base)] = sums
    else:
        cache[_own_key(platform)] = (follows.intimacy, sums)


def _pick_key(base: float) -> tuple:
    """The follow tab's pick weights' entry in ``model.feed_cache``, by ``follow_pick_base``."""
    return ("follow_pick_weights", float(base))


def _own_key(platform) -> tuple:
    """The entry in ``model.feed_cache`` of a platform's own follow-tab weights
    (:func:`fill_follow_caches`, where a followed account is blocked there)."""
    return ("follow_pick_own", platform.index)


# the feeds' threads, kept across steps and runs (idle between days)
_POOL = KeptPool("feeds")


def _map_in_threads(fn, platforms: list, threads: int) -> list:
    """``[fn(platform) for platform in platforms]``, the calls in up to ``threads`` threads."""
    return list(_POOL.get(threads).map(fn, platforms))


def build_feed(model, platform, rng: np.random.Generator) -> Impressions:
    """Every active user's feed on ``platform`` for today, as impressions."""
    cfg: PlatformConfig = platform.cfg
    users, items = model.users, model.items
    p = platform.index
    platform.follow_tab_users = 0  # users with a follow-tab impression today (the metrics' follow_tab_users)
    if cfg.kind == "shelf":  # no creator feed: the shelf's users come through commerce/shelf.py
        platform.active_today, platform.active_users, platform.slots_today = 0, np.zeros(0, np.int32), 0
        return Impressions.empty()
    activity = model.activity  # daily_active and feed_slots, or per user when activity responds (7.2.1)
    rule = activity.rule_probability(platform)  # (computed once: who opens and the sessions read it)
    active = np.flatnonzero(users.uses[:, p] & (rng.random(users.n) < activity.open_probability(platform, rule))).astype(np.int32)
    platform.active_today, platform.active_users = len(active), active
    slots = activity.session_slots(platform, active, rule)  # an int, or one per active user
    platform.slots_today = int(np.sum(np.broadcast_to(slots, (len(active),)), dtype=np.int64))
    if len(active) == 0 or items.n == 0:
        return Impressions.empty()
    if max(items.n, model.follows.n_edges) > INDEX_LIMIT:
        raise OverflowError(f"{items.n:,} live items or {model.follows.n_edges:,} follow edges: the day's trace "
                            f"stores their row indices as int32 (at most {INDEX_LIMIT:,}); this population is "
                            "larger than the trace supports (feeds/impressions.py, INDEX)")
    n_ad = rng.binomial(slots, cfg.ad_load, len(active))
    n_follow = rng.binomial(slots - n_ad, users.follow_share[:, p].take(active))  # (the same values as [active, p], quicker)
    n_city = rng.binomial(slots - n_ad - n_follow, cfg.same_city_share)
    free = np.broadcast_to(slots, (len(active),)).astype(np.int64)  # slots not yet filled, per active user

    # large days: each part written into the day's columns as it is made (FeedColumns:
    # the same rows as the parts' concatenation, in the same order)
    feed = FeedColumns(platform.slots_today) if numpy_kernels.compiled(platform.slots_today) else None
    parts = []
    add = parts.append if feed is None else feed.add
    for fill, n in ((follow_slots, n_follow), (same_city_slots, n_city), (sell_ad_slots, n_ad)):
        imp, pos = fill(model, platform, active, n, rng)
        got = np.bincount(pos, minlength=len(active))
        free -= got
        if fill is follow_slots:  # (the follow-tab impressions are this part's only)
            platform.follow_tab_users = int(np.count_nonzero(got))
        add(imp)
    if platform.policy.algorithmic and cfg.cold_start_rate > 0 and cfg.cold_start_slots > 0:
        imp, pos = cold_start_slots(model, platform, active, free, rng)
        free -= np.bincount(pos, minlength=len(active))
        add(imp)
    parts.extend(recommend_slots(model, platform, active, free, rng, feed))
    return Impressions.concat(parts) if feed is None else feed.impressions()


def reachable(model, platform: int, creators: np.ndarray) -> np.ndarray:
    """Mask of ``creators`` whose account is not banned on ``platform`` and, with
    multi-homing (``creators.multi_homing``), is present there (the one filter of
    unreachable accounts for every slot source; content/presence.py)."""
    blocked = blocked_creators(model, platform)
    return np.ones(len(creators), dtype=bool) if blocked is None else ~blocked[creators]


def follow_slots(model, platform, active, n, rng):
    """Follow tab: pick a followed creator reachable on the platform (∝ intimacy +
    follow_pick_base; one banned there or absent weighs 0: :func:`follow_pick_values`),
    then one of its recent items. A user who follows no reachable creator, or whose pick
    has no item in the last follow_window days, leaves the slot to the recommender."""
    follows = model.follows
    if follows.n_edges and numpy_kernels.compiled(follows.n_edges):  # the same picks, compiled
        return _follow_slots_compiled(model, platform, active, n, rng)
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0 or follows.n_edges == 0:
        return Impressions.empty(), pos[:0]
    _, cumw = _pick_weights_of(model, platform, compiled=False)
    if len(pos) > len(active):  # more picks than users (kuaishou.toml's ~5 a user): each user's row bounds once
        edge = weighted_in_repeated_rows(follows.indptr, cumw, active.astype(np.int64),
                                         np.broadcast_to(n, (len(active),)), rng)  # (the same picks)
    else:
        edge = weighted_in_rows(follows.indptr, cumw, active[pos].astype(np.int64), rng)
    ok = edge >= 0
    creator = follows.creator.take(edge)  # (each pick's creator, read once; -1, no pick: the last edge's, dropped)
    # a banned or absent account has no reach here (reachable's mask): its edges weigh 0, and a
    # pick that still lands on one (a draw rounded up to its row's total falls on the row's
    # last edge, whatever it weighs) leaves the slot to the recommender
    blocked = blocked_creators(model, platform.index)
    if blocked is not None:
        ok &= ~blocked.take(creator)
    pos, edge, creator = pos.compress(ok), edge.compress(ok), creator.compress(ok)
    recent = model.item_indexes.recent(platform.cfg.follow_window)
    item = random_in_rows(recent.indptr, creator.astype(np.int64), rng)
    ok = item >= 0
    pos, edge, item = pos[ok], edge[ok], recent.items[item[ok]]
    return Impressions.make(model, active[pos], item, FOLLOW, edge), pos


def _follow_slots_compiled(model, platform, active, n, rng):
    """:func:`follow_slots` on large graphs: the picks of a followed creator and of its
    item in two compiled passes over the picking users (``kernels.follow_tab_edges``,
    ``kernels.follow_tab_items``) instead of numpy's passes over every pick; the same
    uniforms in the same order (one per pick, then one per pick whose creator is
    reachable), the same floats, so the same impressions in the same order."""
    ks = numpy_kernels.compiled_kernels()
    follow_tab_edges, follow_tab_items = ks.follow_tab_edges, ks.follow_tab_items

    follows = model.follows
    n = np.asarray(n, dtype=np.int64)
    first = np.cumsum(n) - n
    total = int(first[-1] + n[-1]) if len(n) else 0
    if total == 0:
        return Impressions.empty(), np.zeros(0, dtype=np.int64)
    base = platform.cfg.follow_pick_base
    values, cumw = _pick_weights_of(model, platform, compiled=True)  # (values: the intimacy)
    # reachable's mask (follow_slots): the kernel weighs a blocked account's edges 0, as
    # cumw's sums do (the platform's own, or the shared ones where nothing is blocked), and
    # drops a pick that still lands on one
    blocked = _blocked_mask(model, platform)
    if blocked is None:
        blocked = _none_blocked(model)
    edge, creator, kept = follow_tab_edges(follows.indptr, cumw, values, np.float32(base), follows.creator,
                                           blocked, active, n, first, rng.random(total))
    recent = model.item_indexes.recent(platform.cfg.follow_window)
    pos, user, item, edge = follow_tab_items(edge, creator, kept, active, n, recent.indptr, recent.items,
                                             rng.random(kept))
    return Impressions.make(model, user, item, FOLLOW, edge), pos


def follow_pick_values(model, platform) -> np.ndarray | None:
    """The follow edges' intimacy as ``platform``'s follow tab weighs them on the numpy
    path (small graphs: ``numpy_kernels.compiled``), where some followed account is
    banned there or, with multi-homing, absent (``blocked_creators``): a copy of
    ``follows.intimacy`` in which each edge to such an account is -``follow_pick_base``,
    so that its pick weight, intimacy + follow_pick_base (float32: -b + b is exactly 0),
    is 0. The numpy cumsum takes it for the intimacy: a row's cumulative weights do not
    rise across a zero-weight edge, and a pick is the first edge whose cumulative weight
    exceeds the draw r = lo + u·(hi − lo) ≥ lo (u in [0, 1)), so such an edge is never
    drawn, first in its row or not; a row whose edges all weigh 0 (hi = lo) draws
    nothing, and the slot goes to the recommender. The one exception, a draw that
    float64 rounds up to its row's total (a chance of the order of ulp(lo) / (hi − lo) a
    pick), falls on the row's last edge whatever it weighs: the callers drop a pick of a
    blocked account. So the tab's slots go to the followed creators the user can reach on
    the platform, ∝ intimacy + follow_pick_base among them. None where no account is
    blocked there, or (follow_pick_base > 0) none that anybody follows (every edge weighs
    intimacy + base: the platforms' shared :func:`follow_pick_weights`). Vectorized, once
    a day per platform where an account is blocked (:func:`_pick_weights_of`): a gather
    of a per-creator cap (-follow_pick_base where blocked, +inf elsewhere) and its minimum
    with the intimacy, which is never below 0 (~3-4 ns and 4 bytes an edge). The compiled
    kernels make no copy: they weigh a blocked account's edge 0.0 from the per-creator
    mask itself (``kernels._pick_weight``: the same float64 as this copy's -b + b, so the
    same sums and picks, bit for bit; issue #17's memory: ~216 MB a platform at 54 M
    edges)."""
    blocked = _blocked_mask(model, platform)
    if blocked is None:
        return None
    follows = model.follows
    base = np.float32(platform.cfg.follow_pick_base)
    cap = np.where(blocked, -base, np.float32(np.inf)).astype(np.float32)  # (one per creator)
    values = cap.take(follows.creator)
    np.minimum(follows.intimacy, values, out=values)
    # nobody follows a blocked account: the intimacy's sums (at base 0 a blocked edge is
    # -0.0, not below 0: the copy, whose weights are the intimacy's where nobody does)
    if base > 0 and not (values < 0).any():
        return None
    return values


def _blocked_mask(model, platform) -> np.ndarray | None:
    """The accounts blocked on ``platform`` (``blocked_creators``: banned there or, with
    multi-homing, absent), whose follow edges the compiled follow tab weighs 0; None where
    none is (the platform's picks weigh every edge: the shared sums)."""
    blocked = blocked_creators(model, platform.index)
    if blocked is None or not blocked.any():
        return None
    return blocked


def _none_blocked(model) -> np.ndarray:
    """A per-creator mask blocking nobody (the compiled kernels' weights of every edge)."""
    return np.zeros(model.creators.n, dtype=bool)


def _pick_weights_of(model, platform, compiled: bool) -> tuple[np.ndarray, np.ndarray]:
    """The follow tab's pick weights on ``platform``: the edge values the picks add
    ``follow_pick_base`` to and their sums (the global cumsum; compiled, the sums where
    each user's row starts, ``kernels.row_start_sums``). Compiled, the values are the
    intimacy, and the sums weigh a blocked account's edges 0 (:func:`_blocked_mask`, the
    mask the kernels read); numpy, the values are :func:`follow_pick_values`' copy. Where
    nothing is blocked there (numpy: or nobody follows a blocked account), the values are
    the intimacy and the sums the platforms' shared ones (:func:`follow_pick_weights`);
    else the platform's own, taken (and dropped: read once) from the cache where
    :func:`fill_follow_caches` or :func:`_fill_pick_weights` put them, or computed here."""
    cache = getattr(model, "feed_cache", None)
    own = cache.pop(_own_key(platform), None) if cache is not None else None
    if own is None:
        own = _own_pick_weights(model, platform, compiled)
    if own is None:
        return model.follows.intimacy, follow_pick_weights(model, platform.cfg.follow_pick_base)
    return own


def _own_pick_weights(model, platform, compiled: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """``platform``'s own follow-tab pick weights, computed (not cached): (the edge values,
    their sums) where an account is blocked there (compiled: the intimacy and
    :func:`_own_sums`; numpy: :func:`follow_pick_values`' copy, where a blocked account is
    followed, and its cumsum); None where the platforms' shared
    :func:`follow_pick_weights` apply."""
    base = platform.cfg.follow_pick_base
    if compiled:
        blocked = _blocked_mask(model, platform)
        return None if blocked is None else (model.follows.intimacy, _own_sums(model, blocked, base))
    values = follow_pick_values(model, platform)
    return None if values is None else (values, _cumsum_of(values, base))


def _fill_pick_weights(model, platform) -> None:
    """Put ``platform``'s follow-tab pick weights in ``model.feed_cache`` before the feeds'
    threads start (:func:`fill_shared_caches`): the platforms' shared sums
    (:func:`follow_pick_weights`) or, where an account is blocked there (numpy: and
    followed), the platform's own values and sums under its own key
    (:func:`_pick_weights_of` takes them out); kept if there already
    (:func:`fill_follow_caches`)."""
    cache = getattr(model, "feed_cache", None)
    if cache is not None and _own_key(platform) in cache:
        return
    own = _own_pick_weights(model, platform, numpy_kernels.compiled(model.follows.n_edges))
    if own is None:
        follow_pick_weights(model, platform.cfg.follow_pick_base)
    elif cache is not None:
        cache[_own_key(platform)] = own


def _own_sums(model, blocked: np.ndarray, base: float) -> np.ndarray:
    """A platform's own row sums of the follow tab's pick weights, compiled
    (``kernels.row_start_sums``: intimacy + ``base``, 0 on an edge to a ``blocked``
    account), not cached."""
    follows = model.follows
    return numpy_kernels.compiled_kernels().row_start_sums(follows.indptr, follows.intimacy, np.float32(base),
                                                           follows.creator, blocked)


def _cumsum_of(values: np.ndarray, base: float) -> np.ndarray:
    """:func:`follow_pick_weights`' numpy sums of the weights ``values`` + ``base`` (the
    global cumsum), not cached."""
    cumw = (values + np.float32(base)).astype(np.float64)  # (the float32 sums, then float64 adds: as below)
    np.cumsum(cumw, out=cumw)
    return cumw


def follow_pick_weights(model, base: float) -> np.ndarray:
    """The global cumsum of the follow edges' pick weights (intimacy + ``base``), float64,
    on platforms where no account is blocked (:func:`_pick_weights_of`);
    on large graphs (compiled) only where each user's row starts in it, and its end
    (``kernels.row_start_sums``: one float a user, not one an edge, issue #17's memory;
    the picks add their row's weights again, ``kernels.follow_tab_edges``).
    Intimacy does not change while the day's feeds are built, so platforms with the same
    ``base`` share it (``model.feed_cache``, emptied by ``TrafficModel.build_feeds``;
    without it, computed each time)."""
    follows = model.follows
    cache = getattr(model, "feed_cache", None)
    key = _pick_key(base)
    if cache is not None and key in cache:
        return cache[key]
    if numpy_kernels.compiled(len(follows.intimacy)):  # compiled: one pass, the same sums, kept at the rows' starts
        cumw = numpy_kernels.compiled_kernels().row_start_sums(follows.indptr, follows.intimacy, np.float32(base),
                                                               follows.creator, _none_blocked(model))
    else:
        # the float32 weights cast to float64 first, then summed in place: the same
        # sequential float64 adds as cumsum(dtype=float64), whose buffered cast of each
        # float32 measured ~2.5× the time
        cumw = (follows.intimacy + np.float32(base)).astype(np.float64)
        np.cumsum(cumw, out=cumw)
    if cache is not None:
        cache[key] = cumw
    return cumw


def same_city_slots(model, platform, active, n, rng):
    """Same-city tab: a random recommendable item from a creator in the user's city,
    among the items of creators reachable on the platform (an account banned there or,
    with multi-homing, absent leaves the tab: its items are not drawn, so they take no
    slot from the city's other creators; a city without a reachable recent item leaves
    the slot to the recommender)."""
    pos = np.repeat(np.arange(len(active)), n)
    if len(pos) == 0:
        return Impressions.empty(), pos
    by_city = model.item_indexes.by_city(platform.cfg.max_item_age)
    indptr, city_items = by_city.indptr, by_city.items
    blocked = blocked_creators(model, platform.index)
    if blocked is not None:  # the index without the unreachable accounts' items (per platform: not cached)
        keep = ~blocked.take(model.items.creator.take(city_items))
        kept = np.zeros(len(city_items) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept[1:])
        indptr, city_items = kept.take(indptr), city_items.compress(keep)
    user = active[pos]
    item = random_in_rows(indptr, model.users.city[user].astype(np.int64), rng)
    ok = item >= 0
    pos, user, item = pos[ok], user[ok], city_items[item[ok]]
    return Impressions.of_slots(model, user, item, SAME_CITY), pos


def cold_start_slots(model, platform, active, free, rng):
    """Cold-start pool: each of today's new items is offered to each active fan of its
    creator with probability cold_start_rate × intimacy (a creator who posts three items
    makes three offers to each fan); a user takes at most min(cold_start_slots, free
    slots) offers, a random subset of theirs when they have more."""
    follows, items, cfg = model.follows, model.items, platform.cfg
    first_new = items.first_since(model.day)
    if first_new >= items.n or follows.n_edges == 0:
        return Impressions.empty(), np.zeros(0, np.int64)
    new_creator = items.creator[first_new:].astype(np.int64)
    order = np.argsort(new_creator, kind="stable")
    new_ptr = indptr_from_rows(new_creator[order], model.creators.n)
    posted = np.diff(new_ptr) > 0
    offered = posted & reachable(model, platform.index, np.arange(model.creators.n))
    if numpy_kernels.compiled(follows.n_edges):  # compiled: passes over the active users' rows, no temporaries
        kernels = numpy_kernels.compiled_kernels()
        # every (fan edge of an active user, new item of its creator) pair is one possible offer,
        # each with a uniform; only the hits are written out (pos sorted)
        n_offers = kernels.count_cold_start_offers(follows.indptr, follows.creator, active,
                                                   np.where(offered, np.diff(new_ptr), 0))
        edge, item, pos = kernels.cold_start_hits(follows.indptr, follows.creator, follows.intimacy, active, offered,
                                                  new_ptr, order, first_new, np.float32(cfg.cold_start_rate),
                                                  rng.random(n_offers, dtype=np.float32))
        # per user (pos is sorted), a random subset of the offers, ordered by a random key
        keep = kernels.random_subset_by_group(pos, rng.random(len(pos)), np.minimum(cfg.cold_start_slots, free))
        edge, item, pos = edge[keep], item[keep], pos[keep]
    else:
        at = active.astype(np.intp)  # (int32 indices are converted on every use)
        pos_of = np.full(model.users.n, -1, dtype=np.int64)
        pos_of[at] = np.arange(len(active))
        is_active = np.zeros(model.users.n, dtype=bool)
        is_active[at] = True
        # the edges to creators who posted (a gather of bytes), then of those, the active users'
        # (take and compress: the values of fancy indexing by int32 indices or a mask, ~2-5× quicker)
        candidate = np.flatnonzero(offered.take(follows.creator))
        candidate = candidate.compress(is_active.take(follows.src.take(candidate)))
        # every (candidate edge, new item of its creator) pair is one possible offer, candidate
        # by candidate: each draws a uniform, and only the hits are expanded to (edge, item)
        creator = follows.creator.take(candidate)
        n = np.diff(new_ptr).take(creator)  # offers of each candidate
        end = np.cumsum(n)
        threshold = cfg.cold_start_rate * follows.intimacy.take(candidate)  # (float32: the same products, per candidate)
        hit = np.flatnonzero(rng.random(int(end[-1]) if len(end) else 0, dtype=np.float32) < np.repeat(threshold, n))
        which = np.searchsorted(end, hit, side="right")  # each hit's candidate
        edge = candidate.take(which)
        # (the hit's place among its candidate's offers, its creator's new item there)
        place = hit - end.take(which)
        place += n.take(which)
        place += new_ptr.take(creator.take(which))
        item = first_new + order.take(place)
        pos = pos_of.take(follows.src.take(edge))
        # per user, keep a random subset of the offers: sort by (user, random key)
        by_user = lexsort_by_uniform(rng.random(len(pos)), pos)  # np.lexsort's order, by packed int64s
        edge, item, pos = edge.take(by_user), item.take(by_user), pos.take(by_user)
        keep = rank_within_sorted(pos) < np.minimum(cfg.cold_start_slots, free.take(pos))
        edge, item, pos = edge.compress(keep), item.compress(keep), pos.compress(keep)
    return Impressions.make(model, active.take(pos), item, COLD_START, edge), pos
