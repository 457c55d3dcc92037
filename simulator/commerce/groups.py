"""Fan groups (粉丝群) of selling accounts and their push policy.

Membership lives on follow edges: the follow graph's table ``group`` (an
:class:`~simulator.state.graphs.EdgeTable`: a row per member edge with its ``annoy`` and
``joined`` day, owned by :class:`FanGroups`; other readers go through
:meth:`FanGroups.in_group` and :meth:`FanGroups.member_edges`). Each day fans at or above
``join_intimacy`` who use the account's home platform join with probability ``join_rate``;
the account pushes (``pushes_per_day``; a learning merchant's own account at its learned
rate and value share, :mod:`.learning`) to 100% of its members (:mod:`.pushes`, scaled by the home platform's
``group_effect``); promotions may sell (GMV domain private_platform); members whose
annoyance exceeds their tolerance leave, above ``unfollow_factor ×`` tolerance they also
unfollow. A merchant's own account whose group has members and that pushes more than
``overmarketing_pushes`` promotions to them in a day risks a ban
(:mod:`simulator.platform.moderation`); an account without members pushes to nobody and
risks nothing.
"""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from .ledger import GROUP, PRIVATE_PLATFORM
from .purchase import place_orders
from .pushes import draw_pushes, promo_buyers


def _members_and_leavers(joined: np.ndarray, left: np.ndarray, T: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """For each day t in [0, T): the memberships open on t (joined ≤ t < left) and those of
    them that ended by t + ``window`` (members still in have ``left`` beyond the run)."""

    def per_day(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """How many episodes cover each day t in [0, T), episode k covering [lo_k, hi_k)."""
        lo, hi = np.clip(lo, 0, T), np.clip(hi, 0, T)
        ok = hi > lo
        return np.cumsum(np.bincount(lo[ok], minlength=T + 1) - np.bincount(hi[ok], minlength=T + 1))[:T]

    return per_day(joined, left), per_day(np.maximum(joined, left - window), left)


def churn_share(joined: np.ndarray, left: np.ndarray, days: int, window: int) -> float:
    """Mean over the days t in [0, days − window) of the share of members at t (joined ≤ t
    < left) who have left by t + window; members still in have ``left`` beyond the run."""
    T = days - window
    if T <= 0:
        return float("nan")
    members, leavers = _members_and_leavers(joined, left, T, window)
    has = members > 0
    return float(np.mean(leavers[has] / members[has])) if has.any() else float("nan")


def last_window_churn(joined: np.ndarray, left: np.ndarray, days: int, window: int) -> float:
    """The same share on the last day churn_share averages, t = ``days`` − ``window`` − 1:
    a group present a month before the end, followed for that month. A member who leaves
    and joins again is a new membership: the first one counts as ended. NaN in runs of
    ``window`` days or fewer, and without members on day t."""
    T = days - window
    if T <= 0:
        return float("nan")
    members, leavers = _members_and_leavers(joined, left, T, window)
    return float(leavers[-1] / members[-1]) if members[-1] > 0 else float("nan")


class FanGroups:
    def __init__(self, model):
        self.model = model
        follows = model.follows
        # rows for the members only (issue #17: ~5% of the edges late in a year), moved with their edges by the graph
        self.table = follows.add_table("group", annoy=np.float32, joined=np.int32)
        self.group_effect = np.array([pc.group_effect for pc in model.scenario.platforms.values()])
        self.ban_excess = np.array([pc.ban_per_excess_push for pc in model.scenario.platforms.values()])
        # closed memberships: rows (platform, joined, left), int32 (12 bytes a row; issue #17: 6.5 M rows by day 365
        # at 1 M users; memberships() gives them as int64)
        self.episodes: list[np.ndarray] = []
        # today's promotional pushes as members received them: (day, user, platform, annoyance added)
        self._promo_received: tuple[int, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __setstate__(self, state: dict) -> None:
        # models saved before the int32 rows: the same values, compact
        state["episodes"] = [e.astype(np.int32) for e in state.get("episodes", [])]
        self.__dict__.update(state)

    def run_day(self, selling_edges: np.ndarray, unfollow: np.ndarray) -> None:
        """Joining, pushes, sales, over-marketing risk, leaving; marks annoyed members who
        unfollow in ``unfollow``."""
        model, g = self.model, self.model.scenario.commerce.groups
        follows, creators, rng = model.follows, model.creators, model.streams.commerce
        table = self.table
        edge = selling_edges
        # fans at or above join_intimacy not yet in the group (large days: one compiled merge of the
        # selling edges with the members, without a flag of every edge)
        join_candidates = numpy_kernels.kernel("join_candidates", numpy_kernels.compiled(len(edge)))
        candidates = join_candidates(edge, follows.intimacy, table.edge, np.float32(g.join_intimacy))
        join = candidates[rng.random(len(candidates)) < g.join_rate]
        table.insert(join, annoy=0.0, joined=model.day)
        learner = model.commerce.learning
        if learner is None:
            n_value, n_promo = draw_pushes(rng, creators.active, g.pushes_per_day, g.value_share)
        else:  # merchants' own accounts push at their learned rate and value share
            n_value, n_promo = draw_pushes(rng, creators.active, *learner.push_plan(creators.n))
            # a learning merchant knows its home platform's over-marketing rule and sends no
            # promotion above the limit where the platform bans for it (it learns returns,
            # not ban risks: without this its groups budget pushes it into a ban)
            own = creators.merchant >= 0
            strict = own & (self.ban_excess[creators.home.astype(np.int64)] > 0)
            n_promo[strict] = np.minimum(n_promo[strict], int(np.floor(g.overmarketing_pushes)))
        members = table.edge  # ascending: the rows in edge order
        if len(members) == 0:
            return
        # the members' gathers, the pushes' effects (apply_push_effects' operations, its per-account
        # factors computed once an account), who leaves and who unfollows (``unfollow``): one pass
        # (large days: compiled, in parallel; issue #17, ~15 numpy passes over ~1.5 M members at 1 M users)
        gain = (g.value_gain * self.group_effect[creators.home.astype(np.int64)] * n_value).astype(np.float32)
        push_day = numpy_kernels.kernel("group_push_day", numpy_kernels.compiled(len(members)))
        creator, user, home, effect, intimacy, received, promotions, merchant, leaves = push_day(
            members, follows.creator, follows.src, follows.intimacy, table["annoy"], creators.home, self.group_effect,
            n_promo, creators.seller, np.float32(1.0 - g.annoyance_decay), np.exp(-gain),
            np.float32(1.0 - g.promo_intimacy_cost) ** n_promo, np.float32(g.promo_annoyance) * n_promo,
            model.users.tolerance, np.float32(g.unfollow_factor), unfollow)
        self._promo_received = (model.day, user, home, received)
        k = promo_buyers(model, user, merchant, creator, intimacy, promotions, effect, home)
        place_orders(model, platform=home[k], merchant=merchant[k], seller=creator[k], user=user[k],
                     domain=np.full(len(k), PRIVATE_PLATFORM), source=np.full(len(k), GROUP))
        pushed = np.bincount(creator, minlength=creators.n) > 0  # accounts whose pushes reached a member today
        own = np.flatnonzero((creators.merchant >= 0) & pushed)
        excess = np.maximum(0.0, n_promo[own] - g.overmarketing_pushes)
        model.moderation.risk_overmarketing(creators.home[own], creators.merchant[own], excess, rng)
        self.leave(members[leaves])  # (their unfollows were marked above)

    def promo_annoyance_received(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user, platform, annoyance) of ``day``'s promotional group pushes, one row per
        member and group: the annoyance the pushes added (``promo_annoyance`` × promotions),
        on the group's platform (the account's home). Empty on a day without pushes.
        (Read by users' activity, :mod:`simulator.audience.activity`.)"""
        received = self._promo_received
        if received is None or received[0] != day:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        return received[1], received[2], received[3]

    def leave(self, edges: np.ndarray) -> None:
        """Members on ``edges`` leave their groups (the membership is logged for churn)."""
        follows, table = self.model.follows, self.table
        if len(edges) == 0:  # (most days no member leaves: nothing to look up)
            return
        rows = table.rows(edges)
        edges, rows = edges[rows >= 0], rows[rows >= 0]
        if len(edges) == 0:
            return
        home = self.model.creators.home[follows.creator[edges]].astype(np.int32)
        self.episodes.append(np.stack([home, table["joined"][rows].astype(np.int32),
                                       np.full(len(edges), self.model.day, np.int32)], axis=1))
        table.delete_rows(rows)  # (looked up above: not searched again)

    def in_group(self, edges: np.ndarray) -> np.ndarray:
        """Whether the fans on follow ``edges`` are members of the account's group (bool)."""
        return self.table.has(edges)

    def member_edges(self) -> np.ndarray:
        """The follow edges of the current members (int64, ascending)."""
        return self.table.edge

    def members(self) -> np.ndarray:
        """Current members per platform (by the account's home platform)."""
        follows = self.model.follows
        home = self.model.creators.home[follows.creator[self.table.edge]].astype(np.int64)
        return np.bincount(home, minlength=len(self.group_effect))

    def memberships(self, platform: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(joined, left) day of every membership so far, closed ones and current ones
        (``left`` = 10**9 for members still in), of the accounts whose home is
        ``platform`` (None: all)."""
        model, follows = self.model, self.model.follows
        closed = np.concatenate(self.episodes).astype(np.int64) if self.episodes else np.zeros((0, 3), np.int64)
        member = self.table.edge
        still_in = np.stack([model.creators.home[follows.creator[member]].astype(np.int64),
                             self.table["joined"].astype(np.int64), np.full(len(member), 10**9)], axis=1)
        episodes = np.concatenate([closed, still_in])
        if platform is not None:
            episodes = episodes[episodes[:, 0] == platform]
        return episodes[:, 1], episodes[:, 2]

    def churn(self, window: int = 30, platform: int | None = None) -> float:
        """Share of members at day t who have left by day t + window, averaged over the
        days t with t + window within the run; NaN when the run is not longer than the
        window (then no day t can be followed for a whole window)."""
        joined, left = self.memberships(platform)
        return churn_share(joined, left, self.model.day, window)  # model.day: days simulated so far

    def churn_last_window(self, window: int = 30, platform: int | None = None) -> float:
        """Share of the members of day t = days − window − 1 who have left by the run's last
        day (``last_window_churn``); NaN when the run is not longer than the window."""
        joined, left = self.memberships(platform)
        return last_window_churn(joined, left, self.model.day, window)
