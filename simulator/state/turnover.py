"""A moving population: creators and merchants enter and exit (docs/ODD.md 7.10).

Every day starts with :meth:`Turnover.renew` (after the ledger opens the day) and ends
with :meth:`Turnover.record` (before the metrics are collected):

* **merchant exit** (``merchants.exit_loss_days`` = L > 0): an active merchant at least
  L days in the market whose mean daily profit over the last L days is below 0 exits.
  Daily profit = margin × GMV − ad spend − commission − partner creators' cut −
  operating costs (``Ledger.merchant_profit``; a merchant out of the market allocates
  no effort, so it books no operating cost). An exited merchant buys no ads, sells nothing (not even on items it
  linked before), its account stops posting, its and its partners' fan groups close (the
  members leave), its partner creators stop carrying its link (their ``seller`` becomes
  −1) and its WeChat contacts are dropped.
* **merchant entry** (``merchants.entrant_pool`` > 0): the potential merchants drawn at
  the start (with dormant accounts: no followers, no items) wait; each waiting one enters
  with probability ``merchants.entry_rate`` a day if its expected profit is positive: the
  mean, over its category's active merchants, of each one's mean daily profit over the
  last ``merchants.entry_memory`` days (or the days it has been in the market, if fewer);
  with no active merchant in the category, the same mean over every active merchant;
  with none at all (or on day 0, with no history), no entry. Its account activates
  (entry_day = today) and its intro commission runs from today.
* **creator exit** (``creators.exit_impressions`` or ``creators.exit_income`` > 0): an
  active creator (not a merchant's account: those leave with their merchant) at least
  W = ``creators.exit_window`` days old whose mean daily impressions (all platforms) and
  mean daily income (sales share + tips) over the last W days are below every bar that
  is set stops posting (active = False, exit_day = today); its fan group closes.
* **creator entry** (``creators.entry_rate`` > 0): Poisson(entry_rate × population.creators)
  new accounts, traits drawn as the initial creators' (state/population.py), a home
  platform drawn as theirs, a partner of a random active merchant with probability
  ``commerce.partner_share``, no followers; appended as new creator rows (every
  creator-sized array grows).

:meth:`Turnover.record` keeps, for the rules above, the cumulative exposure, income and
profit at the end of each of the last days (rings of W + 1 or L + 1 rows), and the day
each entrant first reached ``metrics.success_followers`` followers or
``metrics.success_impressions`` cumulative impressions (``creators.success_day``).

With every key at its default nothing here runs and no random number is drawn.
"""

from __future__ import annotations

import numpy as np

from .arrays import grow_axis
from .population import draw_creator_traits, draw_homes, draw_merchant_strategies, home_platforms

ENTRY_SPAWN_KEY = 0x656E747279  # "entry": the spawn key of turnover's SeedSequence (world.py)


def add_merchant_pool(scenario, creators, merchants, rng: np.random.Generator) -> None:
    """Append ``merchants.entrant_pool`` potential merchants, each with a dormant account
    (a creator row after the initial creators: inactive, no followers), drawn as the
    initial merchants and creators are, from ``rng``."""
    K = scenario.merchants.entrant_pool
    traits = draw_creator_traits(scenario, rng, K)
    home = draw_homes(rng, home_platforms(scenario), K)
    strategy = draw_merchant_strategies(scenario, rng, rng, K)
    accounts = np.arange(creators.n, creators.n + K, dtype=np.int32)
    ids = merchants.append(K, account=accounts, **strategy, wechat_accounts=scenario.merchants.wechat_accounts,
                           new=True, active=False, entry_day=-1)
    creators.append(K, **traits, home=home, merchant=ids, seller=ids, active=False, entry_day=-1)


class Turnover:
    """Entry and exit of creators and merchants (see the module docstring), and today's
    events by home platform for the metrics."""

    def __init__(self, model):
        self.model = model
        sc = model.scenario
        c, m = sc.creators, sc.merchants
        self.creator_entry = c.entry_rate > 0
        self.creator_exit = c.exit_impressions > 0 or c.exit_income > 0
        self.merchant_exit = m.exit_loss_days > 0
        self.merchant_entry = m.entrant_pool > 0
        self.on = self.creator_entry or self.creator_exit or self.merchant_exit or self.merchant_entry
        P = len(sc.platforms)
        self.creators_entered = np.zeros(P, np.int64)  # today, by home platform
        self.creators_exited = np.zeros(P, np.int64)
        self.merchants_entered = np.zeros(P, np.int64)
        self.merchants_exited = np.zeros(P, np.int64)
        C, M = model.creators.n, model.merchants.n
        # rings of cumulative totals: row (d + 1) % R holds the end of day d (row 0: the start)
        self.rc = c.exit_window + 1 if self.creator_exit else 1
        self.cum_impressions = np.zeros((self.rc, C))
        self.cum_income = np.zeros((self.rc, C))
        self.rm = 1 + max(m.exit_loss_days if self.merchant_exit else 0, m.entry_memory if self.merchant_entry else 0)
        self.cum_profit = np.zeros((self.rm, M))

    # ------------------------------------------------------------------ start of day

    def renew(self) -> None:
        """Merchants exit, then enter; creators exit, then enter (in this order)."""
        for counts in (self.creators_entered, self.creators_exited, self.merchants_entered, self.merchants_exited):
            counts[:] = 0
        if not self.on:
            return
        if self.merchant_exit:
            self._merchant_exits()
        if self.merchant_entry:
            self._merchant_entries()
        if self.creator_exit:
            self._creator_exits()
        if self.creator_entry:
            self._creator_entries()

    def _window_mean(self, ring: np.ndarray, days: int) -> np.ndarray:
        """Mean daily increase of a cumulative ring over the last ``days`` days (up to the end of yesterday)."""
        t, R = self.model.day, len(ring)
        return (ring[t % R] - ring[(t - days) % R]) / days

    def mean_profit(self, days: int) -> np.ndarray:
        """Each merchant's mean daily profit over the last ``days`` days, or over the days
        it has been in the market if fewer (NaN for merchants not in the market or entered today)."""
        model = self.model
        t, R = model.day, self.rm
        span = np.minimum(days, t - model.merchants.entry_day.astype(np.int64))
        ok = model.merchants.active & (span > 0)
        out = np.full(model.merchants.n, np.nan)
        idx = np.flatnonzero(ok)
        out[idx] = (self.cum_profit[t % R, idx] - self.cum_profit[(t - span[idx]) % R, idx]) / span[idx]
        return out

    def _merchant_exits(self) -> None:
        model, merchants = self.model, self.model.merchants
        L = model.scenario.merchants.exit_loss_days
        old = merchants.active & (model.day - merchants.entry_day.astype(np.int64) >= L)
        loss = np.flatnonzero(old & (self._window_mean(self.cum_profit, L) < 0))
        if len(loss) == 0:
            return
        creators = model.creators
        self._switch(loss, False, self.merchants_exited, self.creators_exited)
        gone = np.zeros(merchants.n, bool)
        gone[loss] = True
        selling = (creators.seller >= 0) & gone[np.maximum(creators.seller, 0)]
        partners = selling & (creators.merchant < 0)
        creators.seller[partners] = -1
        self._close_groups(selling)
        wechat = model.commerce.wechat
        if len(wechat):
            wechat.drop(gone[wechat.merchant])

    def _merchant_entries(self) -> None:
        model, merchants = self.model, self.model.merchants
        waiting = np.flatnonzero(~merchants.active & (merchants.entry_day < 0))
        if len(waiting) == 0:
            return
        profit = self.mean_profit(model.scenario.merchants.entry_memory)
        known = np.isfinite(profit)
        if not known.any():
            return
        n_cat = int(max(merchants.category.max(), 0)) + 1
        count = np.bincount(merchants.category[known], minlength=n_cat)
        total = np.bincount(merchants.category[known], weights=profit[known], minlength=n_cat)
        expected = np.where(count > 0, total / np.maximum(count, 1), profit[known].mean())
        draw = model.streams.entry.random(len(waiting))
        enter = waiting[(expected[merchants.category[waiting]] > 0) & (draw < model.scenario.merchants.entry_rate)]
        if len(enter) == 0:
            return
        self._switch(enter, True, self.merchants_entered, self.creators_entered)

    def _switch(self, idx: np.ndarray, active: bool, merchant_count: np.ndarray, creator_count: np.ndarray) -> None:
        """Merchants ``idx`` and their accounts enter (``active``) or leave the market today:
        their flag, their entry or exit day, and the day's counts by the account's home."""
        model, merchants, creators = self.model, self.model.merchants, self.model.creators
        field = "entry_day" if active else "exit_day"
        accounts = merchants.account[idx]
        merchants.active[idx], creators.active[accounts] = active, active
        getattr(merchants, field)[idx] = model.day
        getattr(creators, field)[accounts] = model.day
        home = creators.home[accounts].astype(np.int64)
        merchant_count += np.bincount(home, minlength=len(merchant_count))
        creator_count += np.bincount(home, minlength=len(creator_count))

    def _creator_exits(self) -> None:
        model, creators = self.model, self.model.creators
        cfg = model.scenario.creators
        W = cfg.exit_window
        low = creators.active & (creators.merchant < 0) & (model.day - creators.entry_day.astype(np.int64) >= W)
        if cfg.exit_impressions > 0:
            low &= self._window_mean(self.cum_impressions, W) < cfg.exit_impressions
        if cfg.exit_income > 0:
            low &= self._window_mean(self.cum_income, W) < cfg.exit_income
        if not low.any():
            return
        creators.active[low] = False
        creators.exit_day[low] = model.day
        self._close_groups(low)
        self.creators_exited += np.bincount(creators.home[low].astype(np.int64), minlength=len(self.creators_exited))

    def _close_groups(self, creators_mask: np.ndarray) -> None:
        """The fan groups of the accounts in ``creators_mask`` close: their members leave."""
        groups = self.model.commerce.groups
        members = groups.member_edges()
        members = members[creators_mask[self.model.follows.creator[members]]]
        if len(members):
            groups.leave(members)

    def _creator_entries(self) -> None:
        model = self.model
        sc, rng = model.scenario, model.streams.entry
        n = int(rng.poisson(sc.creators.entry_rate * sc.population.creators))
        if n == 0:
            return
        traits = draw_creator_traits(sc, rng, n)
        home = draw_homes(rng, home_platforms(sc), n)
        seller = np.full(n, -1, np.int32)
        open_shops = np.flatnonzero(model.merchants.active)
        if sc.commerce.enabled and len(open_shops):
            partner = rng.random(n) < sc.commerce.partner_share
            seller[partner] = open_shops[rng.integers(0, len(open_shops), int(partner.sum()))]
        self.grow_creators(n, **traits, home=home, seller=seller, active=True, entry_day=model.day, entrant=True)
        self.creators_entered += np.bincount(home.astype(np.int64), minlength=len(self.creators_entered))

    def grow_creators(self, n: int, **columns) -> np.ndarray:
        """Append ``n`` creator rows and grow everything that has a creator axis: the
        creators' columns, the ledger's per-creator money, the follow graph's key base,
        the exit rule's rings; a Mesa ``Creator`` agent for each. Returns the new rows."""
        from ..agents import Creator

        model = self.model
        rows = model.creators.append(n, **columns)
        model.ledger.grow_creators(n)
        model.follows.grow_creators(n)
        self.cum_impressions = grow_axis(self.cum_impressions, 1, n, 0.0)
        self.cum_income = grow_axis(self.cum_income, 1, n, 0.0)
        for row in rows.tolist():
            Creator(model, row)
        return rows

    # ------------------------------------------------------------------ end of day

    def record(self, fans=None) -> None:
        """Today's cumulative exposure, income and profit into the rings; entrants'
        first day of success. ``fans``: the follow graph's ``fans_by_tier_and_sums`` of
        today's final graph (a future) if the step had it counted in the background (the
        followers are its tiers' sums), else None (counted here)."""
        if not self.on:
            return
        model = self.model
        t = model.day
        ledger, creators = model.ledger, model.creators
        if self.merchant_exit or self.merchant_entry:
            self.cum_profit[(t + 1) % self.rm] = ledger.merchant_profit()
        impressions = None
        if self.creator_exit:
            impressions = creators.impressions.sum(axis=(0, 2)).astype(np.float64)
            self.cum_impressions[(t + 1) % self.rc] = impressions
            self.cum_income[(t + 1) % self.rc] = ledger.creator_sales_income + ledger.creator_tips
        waiting = np.flatnonzero(creators.entrant & (creators.success_day < 0))
        if len(waiting):
            m = model.scenario.metrics
            # (on large days the background's pass over every edge, not a second one: issue #17)
            followers = (model.follows.followers() if fans is None else fans.result()[0].sum(axis=1))[waiting]
            seen = (impressions[waiting] if impressions is not None
                    else creators.impressions[:, waiting].sum(axis=(0, 2)))
            creators.success_day[waiting[(followers >= m.success_followers) | (seen >= m.success_impressions)]] = t

    # ------------------------------------------------------------------ readings

    def success_share(self, last_entry_day: int, first_entry_day: int, platform: int | None) -> float:
        """Share of the creator entrants (not merchants' accounts) with entry day in
        [first_entry_day, last_entry_day] (on ``platform`` as home, or all) that reached
        success within ``metrics.success_days`` days of entry; NaN when there are none."""
        creators, S = self.model.creators, self.model.scenario.metrics.success_days
        e = creators.entry_day
        cohort = creators.entrant & (e >= first_entry_day) & (e <= last_entry_day)
        if platform is not None:
            cohort &= creators.home == platform
        if not cohort.any():
            return float("nan")
        s = creators.success_day[cohort]
        return float(np.mean((s >= 0) & (s - e[cohort] < S)))
