"""TrafficModel: a Mesa model of a short-video traffic ecosystem.

One tick is one day. ``step()`` runs the phases of docs/ODD.md section 3, one line each:

0. ``renew_population``      merchants and creators exit and enter       state/turnover.py
1. ``publish``               creators publish items                      content/publishing.py
2. ``build_feeds``           every platform fills every active user's feed: follow,
                             same-city, ad (the ad market books the spend),
                             cold-start and recommended slots            feeds/, platform/ad_market.py
3. ``react``                 users react to each impression              audience/engagement.py
4. ``record_exposure``       items' and creators' exposure records       content/exposure.py
5. ``learn``                 each recommender learns (traffic pools)     feeds/policies.py, feeds/pools.py
6. ``sell_in_feed``          purchases and tips on feed impressions      commerce/feed_sales.py
6a. ``shop_on_shelves``      shelf platforms (off by default): SMS recall of
                             past buyers, the leak of recalled non-buyers to
                             other shops, searches with purchase intent  commerce/shelf.py
7. ``update_relationships``  intimacy grows and decays; engaged viewers
                             follow                                      audience/relationships.py
8. ``run_private_channels``  homepage visits and DMs, fan groups, WeChat
                             pushes, diversion                           commerce/
9. ``moderate``              platforms ban over-marketing and diversion  platform/moderation.py
10. ``drop_follows``         annoyed members, followers of banned
                             accounts and cold fans unfollow             audience/relationships.py
11. ``update_activity``      users' satisfaction with each platform sets
                             tomorrow's activity and session length
                             (where it responds; off by default)         audience/activity.py
11a. ``shift_attention``    users' attention moves across the platforms
                             they use; they adopt and drop platforms
                             (off by default)                            audience/attention.py
12. ``adapt_platforms``      Gini steering; platforms that adapt revise
                             ad load, commission or centralization
                             toward their objective (off by default)     platform/steering.py, platform/adaptation.py
13. ``record_livelihoods``   exposure, income and profit windows of the
                             exit and entry rules; entrants' success     state/turnover.py
13a. ``expand_creators``     creators join platforms that pay them more
                             (multi-homing; off by default)              content/presence.py
14. ``learn_channels``       merchants who learn their channel mix credit
                             today's profit to channels and move the mix commerce/learning.py
15. ``collect``              one row of metrics per platform and for all observation/

Money is booked in one place, the ledger (commerce/ledger.py). The hot state is
columnar (``users``, ``creators``, ``merchants``, ``items``, ``follows``; see
world.py); agents are views on their rows.
"""

from __future__ import annotations

import secrets
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from ._mesa import mesa  # mesa without the parts it imports that the model never uses
import numpy as np
import pandas as pd

from ._blas import one_blas_thread
from ._pools import KeptPool
from .agents import Creator, Merchant, Platform, User
from .audience.activity import Activity
from .audience.attention import Attention
from .audience.engagement import Reactions, react
from .audience.relationships import day_gains, drifting_fans, follow_engaged_viewers, followed_pairs, grow_intimacy
from .commerce import Commerce
from .commerce.feed_sales import sell_in_feed, selling_offers
from .commerce.learning import learn as learn_channels
from .commerce.ledger import Ledger
from .config import Scenario, ScenarioError, load_scenario
from .config.loading import field_bounds
from .config.loading import scenario_with
from .content.exposure import exposure_counts, record_exposure
from .content.presence import Presence
from .content.publishing import publish
from .feeds.impressions import Impressions
from .feeds import numpy_kernels
from .feeds.indexes import ItemIndexes
from .feeds.slots import build_feeds
from .io import frames
from .io.table import Table
from .observation.derived import SHARE_NAMES, impression_shares
from .observation.measurements import measure_all, summarize_all
from .observation.views import trace_counts, views
from .platform.adaptation import Adaptation
from .platform.moderation import Moderation
from .platform.steering import steer
from .state.turnover import Turnover
from .world import build_world

REPORTED = ("seed", "impressions_total", "exposure_gini", "top1_share", "mean_intimacy", "flywheel_ratio", "fans_passerby",
            "fans_liking", "fans_true", *SHARE_NAMES, "gmv_public",
            "gmv_commercial", "gmv_private_platform", "gmv_private_wechat", "group_members",
            "mix_ads_broad", "mix_ads_fans", "mix_ads_lookalike", "mix_groups", "mix_wechat",
            "creators_active", "creators_entered", "creators_exited", "active_users")


@dataclass(frozen=True)
class DayLog:
    """What happened on one platform today: the impressions its feeds made and how users reacted."""

    platform: Platform
    impressions: Impressions
    reactions: Reactions
    # today's counts that record_exposure makes and the measurements read again
    # (content/exposure.py: item_domain, creator_domain), so that they count them once
    tally: dict = field(default_factory=dict, compare=False, repr=False)


def _integer_key(key: str, value) -> int:
    """``seed=`` or ``steps=`` of :class:`TrafficModel`, checked as the scenario's own key
    is (an integer in its range; ``model_copy`` does not validate): ``seed=1.5`` ran with
    seed 1, ``seed=True`` with 1, ``steps=0`` or a seed above 2**63 - 1 were taken as given."""
    import numbers

    lo, hi = field_bounds(Scenario.model_fields[key])
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        extra = " (or None: a fresh one; or 'scenario': the scenario's)" if key == "seed" else ""
        raise ScenarioError("TrafficModel", key, f"got {value!r}; must be an integer in {lo}..{hi}{extra}")
    return int(value)


def _refuse_style_presets_on_resolved(overrides: dict | None, settings: dict) -> None:
    """A :class:`Scenario` object is resolved: every style knob its platforms' ``policy``
    or ``centralization`` preset set is an explicit value there, and explicit keys win
    over a preset, so an override of ``policy`` or ``centralization`` on it would move
    none of them (a Kuaishou-like platform overridden to centralization 1 kept its age
    decay 0.6). Refused, naming what works: the scenario's file or dict."""
    given = [f"platforms.{name}.{key}" for name, table in ((overrides or {}).get("platforms") or {}).items()
             if isinstance(table, dict) for key in table if key in ("policy", "centralization")]
    given += [key for key in settings if key.startswith("platforms.") and key.rsplit(".", 1)[-1] in ("policy", "centralization")]
    if given:
        raise ScenarioError("<Scenario>", given[0], "cannot be overridden on a resolved Scenario object: its style "
                            "knobs are explicit values there and would not move with the preset; pass the "
                            "scenario's file path with the override instead, or override the style knobs "
                            "themselves")


class TrafficModel(mesa.Model):
    """The traffic-ecosystem model.

    Parameters
    ----------
    scenario : a :class:`Scenario`, a path to a scenario TOML file, or a dict.
    seed : the run's seed, an integer in 0..2**63 - 1. ``None`` (the default, as in any
        Mesa model) draws a fresh seed and records it in ``model.scenario.seed``;
        ``"scenario"`` uses the scenario's own ``seed`` key (what ``trafficsim run`` does).
    steps : the run's length, 1..3650 days (default: the scenario's ``steps``); ``running`` turns
        False once they are simulated, so ``mesa.batch_run`` stops there.
    overrides : nested dict of scenario overrides (e.g. ``{"platforms": {"douyin": {"beta": 2}}}``).
        On a :class:`Scenario` object (resolved: every preset value explicit) a
        platform's ``policy`` or ``centralization`` cannot be overridden (it would move
        no style knob): pass the file's path for that.
    agents : create Mesa agents for every user (``True``) or only for creators,
        merchants and platforms (``False``; saves memory in very large runs).
    **settings : dotted scenario keys, as ``--set`` takes them (e.g.
        ``**{"platforms.douyin.beta": 2.0}``), applied after ``overrides``: scalar
        parameters ``mesa.batch_run`` can sweep.

    Example
    -------
    >>> m = TrafficModel("scenarios/douyin.toml", seed=1, **{"population.users": 2000})  # doctest: +SKIP
    >>> m.run(10); m.metrics_frame().tail()                                            # doctest: +SKIP
    >>> mesa.batch_run(TrafficModel, {"scenario": "scenarios/douyin.toml", "steps": 5,   # doctest: +SKIP
    ...                               "platforms.douyin.beta": [0.0, 2.0]}, iterations=2)
    """

    def __init__(self, scenario: Scenario | str | Path | dict, *, seed: int | None | str = None,
                 steps: int | None = None, overrides: dict | None = None, agents: bool = True, **settings):
        if not isinstance(scenario, (Scenario, str, Path, dict)):  # (42 failed deep inside: no attribute 'model_copy')
            raise ScenarioError("TrafficModel", "scenario", f"got {scenario!r}; must be a scenario file (a path), "
                                "a dict of scenario keys or a Scenario")
        if isinstance(scenario, (str, Path)):
            flags = {f"keyword {key}": (key, value) for key, value in settings.items()}
            scenario = load_scenario(scenario, overrides=overrides, flags=flags)
        elif isinstance(scenario, dict) or overrides or settings:
            if isinstance(scenario, Scenario):
                _refuse_style_presets_on_resolved(overrides, settings)
            data = scenario.model_dump() if isinstance(scenario, Scenario) else scenario
            scenario = scenario_with(data, overrides, settings)
        if seed is None:
            seed = secrets.randbits(63)  # Mesa's convention: no seed, a fresh one (recorded in scenario.seed)
        if not (isinstance(seed, str) and seed == "scenario"):
            scenario = scenario.model_copy(update={"seed": _integer_key("seed", seed)})
        if steps is not None:
            scenario = scenario.model_copy(update={"steps": _integer_key("steps", steps)})
        super().__init__(seed=scenario.seed)
        self.scenario: Scenario = scenario
        world = build_world(scenario)
        self.streams = world.streams
        self.users, self.creators, self.merchants = world.users, world.creators, world.merchants
        self.social, self.follows, self.items = world.social, world.follows, world.items
        self.ledger = Ledger(scenario, self.merchants, self.creators.n)
        self.commerce = Commerce(self)
        self.moderation = Moderation(self)
        self.turnover = Turnover(self)
        self.item_indexes = ItemIndexes(self)
        # the days an item can still be read: recommended, same-city and ads (max_item_age),
        # follow tab (follow_window), cold start (today); older items are compacted away
        self.attention = Attention(self)  # before the platforms: their expected DAU reads it
        self.presence = Presence(self)
        self.item_window = max(max(cfg.max_item_age, cfg.follow_window) for cfg in scenario.platforms.values())
        # a long run loads the compiled kernels; a short one runs their numpy forms (the same results)
        self._register_run()
        self.platforms: dict[str, Platform] = {
            name: Platform(self, name, j, cfg, self.streams.feeds[j]) for j, (name, cfg) in enumerate(scenario.platforms.items())}
        self.activity = Activity(self)
        self.adaptation = Adaptation(self)
        if agents:
            for row in range(self.users.n):
                User(self, row)
        for row in range(self.creators.n):
            Creator(self, row)
        for row in range(self.merchants.n):
            Merchant(self, row)
        self.creators.followers_start[:] = self.follows.followers()
        self.day = -scenario.creators.warmup_days
        while self.day < 0:
            self.publish()
            self.day += 1
        self.items_published_today = 0
        self.follows_gained_today = np.zeros(len(self.platforms), dtype=np.int64)  # new follow edges by platform
        self.follows_lost_today = np.zeros(len(self.platforms), dtype=np.int64)  # lost edges by the creator's home
        self.day_logs: list[DayLog] = []
        self.feed_cache: dict | None = None  # shared by the platforms while build_feeds runs
        self._rows: list[dict] = []
        self.datacollector = mesa.DataCollector(model_reporters={name: _latest_total(name) for name in REPORTED})

    # ------------------------------------------------------------------ the day

    def _register_run(self) -> None:
        numpy_kernels.prefer_compiled_for(self.scenario.steps, self.users.n, sum(self.scenario.feed_platforms()))

    def __setstate__(self, state) -> None:
        # a model loaded in another process (pickle, cloudpickle) runs the kernels its run
        # ran where it was built: the compiled ones after a long run (the same results)
        self.__dict__.update(state)
        self._register_run()

    def step(self) -> None:
        """One simulated day: the phases of docs/ODD.md section 3, in order."""
        with one_blas_thread():  # (the step's matrix products are small: simulator/_blas.py)
            # yesterday's trace is read by no phase before today's reactions replace it:
            # dropping it first keeps one day's impressions in memory, not two (issue #17)
            self.day_logs = []
            # room in the follow graph's columns for today's new edges, made now, while the
            # day's memory is lowest (twice yesterday's; FollowGraph.reserve: large graphs)
            self.follows.reserve(2 * int(np.sum(self.follows_gained_today)))
            self.ledger.begin_day()
            self.moderation.begin_day()
            self.renew_population()
            self.publish()
            feeds = self.build_feeds()
            self.day_logs = self.react(feeds)
            # the exposure records' and the traffic pools' counts of the platforms after the
            # first, what the feed sales draw on of the first platform, the day's intimacy
            # gains, its follows and the views' counts of the trace read only what no phase
            # writes before they are read (the trace, the items' and merchants' columns,
            # the customer book): on large days computed in a thread while the phases
            # between run on this one (the same arrays), in the order they are needed (this
            # thread counts the first platform's exposure and pools and the other
            # platforms' sales offers meanwhile)
            first, rest = self.day_logs[:1], self.day_logs[1:]
            *later, gains, pairs, counts = self._in_background(
                *[(exposure_counts, self.items, self.creators, log.impressions, log.reactions) for log in rest],
                *[(log.platform.policy.learn_counts, self.items, log.impressions, log.reactions) for log in rest],
                *[(selling_offers, self, log) for log in first], (day_gains, self.day_logs, self.scenario.relationship),
                (followed_pairs, self, self.day_logs),
                (trace_counts, self.day_logs, self.items.live))
            self.record_exposure([None] + later[:len(rest)])
            self.learn([None] + later[len(rest):2 * len(rest)])
            self.sell_in_feed(later[2 * len(rest):] + [None] * len(rest))
            del later
            self.shop_on_shelves()
            self.update_relationships(gains, pairs)
            del gains, pairs
            # the day's lost edges: the annoyed members' (a new mask, set in place: one mask
            # of every edge at a time, not four), the banned accounts' followers', the
            # drifting fans'
            lost = self.commerce.run_private_channels()
            self.moderate(lost)
            drifting_fans(self.follows.intimacy, self.scenario.relationship, self.streams.relationship, out=lost)
            self.drop_follows(lost)
            del lost
            # the follow graph is the day's from here on (no phase before collect changes
            # it): the metrics' pass over every edge in the background on large days (its
            # tiers' sums are the followers the entrants' success reads)
            fans, = self._in_background((self.follows.fans_by_tier_and_sums,))
            self.update_activity()
            self.shift_attention()
            self.adapt_platforms()
            self.record_livelihoods(fans)
            self.expand_creators()
            self.learn_channels()
            self.collect(counts, fans)
            del counts, fans
            self.ledger.end_day()
        self.day += 1
        self.running = self.day < self.scenario.steps

    def run(self, steps: int | None = None, progress=None) -> "TrafficModel":
        """Run ``steps`` days (default: the scenario's). ``progress`` is an optional
        callable called after each step (e.g. a progress bar's update)."""
        for _ in range(steps if steps is not None else self.scenario.steps):
            self.step()
            if progress is not None:
                progress()
        return self

    def renew_population(self) -> None:
        """Merchants with sustained losses exit, potential merchants enter when their
        category profits, creators below the exposure and income bars stop posting, new
        creators arrive (state/turnover.py; all off by default)."""
        self.turnover.renew()

    def publish(self) -> None:
        """Creators publish Poisson(post_rate) items (content/publishing.py). First, the
        items older than every platform's live window (``item_window`` days) leave the
        live store for its compact archive (state/items.py: ``ItemStore.expire``)."""
        self.items.expire(self.day - self.item_window + 1)
        self.items_published_today = publish(self.creators, self.items, self.scenario, self.day, self.streams.publish)
        self.item_indexes.clear()

    def build_feeds(self) -> list[tuple[Platform, Impressions]]:
        """Each platform's feeds for every active user today (feeds/slots.py; on large
        days the platforms' feeds in threads, ``build_feeds`` there: the same feeds). First,
        the traffic pools take today's expected DAU (it moves only where activity responds)."""
        platforms = list(self.platforms.values())
        for platform in platforms:
            platform.policy.pools.expected_dau = platform.expected_dau
        self.feed_cache = {}  # what the platforms' feeds share today (the follow tab's pick weights, the ad market's edges to the merchants' accounts)
        try:
            return list(zip(platforms, build_feeds(self, platforms)))
        finally:
            self.feed_cache = None  # intimacy changes after the feeds: nothing kept past them

    def react(self, feeds: list[tuple[Platform, Impressions]]) -> list[DayLog]:
        """Users react to every impression (audience/engagement.py)."""
        cfg, rng = self.scenario.engagement, self.streams.react
        return [DayLog(platform, imp, react(imp, self.items.quality, self.follows.intimacy, cfg, rng))
                for platform, imp in feeds]

    def record_exposure(self, counts: list | None = None) -> None:
        """Items' and creators' cumulative impressions and engagements (content/exposure.py).
        ``counts``: a day log's ``exposure_counts`` (a future) where ``step`` had them
        counted in the background, else None."""
        for log, counted in zip(self.day_logs, counts or [None] * len(self.day_logs)):
            log.tally.update(record_exposure(self.items, self.creators, log.platform.index, log.impressions,
                                             log.reactions, counted))

    def learn(self, counts: list | None = None) -> None:
        """Each platform's recommender learns from its impressions (traffic pools).
        ``counts``: a day log's ``learn_counts`` (a future) where ``step`` had them counted
        in the background, else None."""
        for log, counted in zip(self.day_logs, counts or [None] * len(self.day_logs)):
            log.platform.policy.learn(self.items, log.platform.index, self.day, log.impressions, log.reactions,
                                      counted)

    def sell_in_feed(self, offers: list | None = None) -> None:
        """Purchases and tips on today's engaged feed impressions, all platforms' purchases
        in one batch (commerce/feed_sales.py). ``offers``: a day log's ``selling_offers`` (a
        future) where ``step`` had them computed in the background, else None."""
        sell_in_feed(self, self.day_logs, offers)

    def shop_on_shelves(self) -> None:
        """Shelf platforms (``kind = "shelf"``, Taobao-like): merchants recall past buyers
        by SMS, recalled users who do not buy search the category where other shops
        compete for them (the leak), users with purchase intent search; each shelf's
        active users are today's searchers and recalled users (commerce/shelf.py; a no-op
        without a shelf platform)."""
        if self.commerce.shelves is not None:
            self.commerce.shelves.run_day()

    def update_relationships(self, gains: Future | None = None, pairs: Future | None = None) -> None:
        """Intimacy grows with interaction and decays; engaged viewers follow (audience/relationships.py).
        ``gains``, ``pairs``: today's ``day_gains`` and ``followed_pairs``, if ``step`` had
        them found in the background."""
        rel = self.scenario.relationship
        # the edges whose intimacy grew, and by how much
        touched, gains = day_gains(self.day_logs, rel) if gains is None else gains.result()
        grow_intimacy(self.follows.intimacy, touched, gains, rel)
        del touched, gains  # (not held while the new edges are added: the graph's columns are copied then)
        self.follows_gained_today = follow_engaged_viewers(self, self.day_logs, pairs)

    def _in_background(self, *calls: tuple) -> list[Future | None]:
        """Each ``(fn, *args)`` of ``calls`` started, in order, in this process's background
        thread (``_BACKGROUND``, a kept pool) on a day large enough for it
        (``feeds.slots.background_thread``: from ``numpy_kernels.BACKGROUND_FROM`` impressions
        on the compiled kernels, from ``AHEAD_BACKGROUND_FROM`` in a small run on the kernels
        compiled ahead, with one feed platform or several; ``TRAFFICSIM_FEED_THREADS=1`` or a
        sweep worker's ``one_kernel_thread`` keep everything on this thread): a future each;
        else a None each (the phase computes it itself, when it needs it). A ``fn`` must read
        only what no phase writes until its result is read (the day's trace): the same
        result either way. The impressions' domains (``Impressions.domain``, cached on
        first use) are made here first, so that only this thread fills that cache."""
        from .feeds.slots import background_thread

        logs = self.day_logs
        impressions = sum(len(log.impressions) for log in logs)
        if not background_thread(self, [log.platform for log in logs], impressions):
            return [None] * len(calls)
        for log in logs:
            log.impressions.domain()
        return [_BACKGROUND.get(1).submit(*call) for call in calls]

    def moderate(self, lost: np.ndarray | None = None) -> np.ndarray:
        """Platforms ban the accounts hit today; returns the follow edges they lose, or-ed
        into ``lost`` if given (platform/moderation.py)."""
        return self.moderation.apply(out=lost)

    def drop_follows(self, mask: np.ndarray) -> None:
        """Unfollow the edges in ``mask`` (members leave their fan groups first). Each
        lost edge is counted on the creator's home platform (``follows_lost_today``):
        bans, fan-group annoyance and drift all happen where the account lives."""
        self.follows_lost_today = np.zeros(len(self.platforms), dtype=np.int64)
        gone = np.flatnonzero(mask)  # (the few lost edges found once: gathers, not passes over every edge)
        if len(gone) == 0:
            return
        self.commerce.groups.leave(gone)
        creator = self.follows.creator[gone]
        self.creators.follows_lost += np.bincount(creator, minlength=self.creators.n)
        self.follows_lost_today = np.bincount(self.creators.home[creator], minlength=len(self.platforms)).astype(np.int64)
        self.follows.remove(mask, gone)  # (found above: not searched for again)

    def update_activity(self) -> None:
        """Users' satisfaction with each platform whose activity responds: the day's engaged
        share, ad share and fan-group push annoyance (complete after the private channels)
        move it, and it sets tomorrow's open probability and session length; the last day
        each user opened each platform (audience/activity.py)."""
        self.activity.update(self.day_logs)

    def shift_attention(self) -> None:
        """With ``attention.enabled``: each user's attention share over the platforms they
        use moves toward their satisfaction with each (weighted softmax); users drop the
        platforms whose share stayed low and adopt the ones their friends use
        (audience/attention.py; a no-op when off)."""
        self.attention.update()

    def adapt_platforms(self) -> None:
        """Platforms with a Gini target steer toward it from today's exposure of the
        active creators present on the platform (all, without multi-homing; platform/steering.py);
        platforms with ``adapt.enabled`` read today's objective and, at the end of a trial
        period, keep or revert the last move and move the next knob (ad load, commission,
        centralization), acting from tomorrow (platform/adaptation.py; off by default)."""
        for log in self.day_logs:
            if log.platform.cfg.gini_target is not None:
                mine = self.creators.active & self.presence.on(log.platform.index)
                # the day's impressions per creator: record_exposure's counts by creator and
                # domain summed over the domains (the same integers), not a pass over the trace
                by_domain = log.tally.get("creator_domain")
                today = (by_domain.sum(axis=1) if by_domain is not None
                         else log.impressions.per_creator(self.items.creator, self.creators.n))
                steer(log.platform, today[mine])
        self.adaptation.step(self)

    def record_livelihoods(self, fans: Future | None = None) -> None:
        """The day's cumulative exposure, income and profit for the exit and entry rules,
        and the day each entrant first reached success (state/turnover.py). ``fans``: the
        follow graph's ``fans_by_tier_and_sums`` if ``step`` had it counted in the
        background (the followers are its sums over the tiers)."""
        self.turnover.record(fans)

    def expand_creators(self) -> None:
        """With ``creators.multi_homing``: today's impressions per platform a creator is on,
        and creators join the platforms that pay more per creator (content/presence.py; a
        no-op when off)."""
        self.presence.expand()

    def learn_channels(self) -> None:
        """With ``merchants.learning``: each merchant credits today's gross profit to the
        channel that caused each order and moves its channel mix, its ad split over the
        platforms and its groups' value share (commerce/learning.py; a no-op when off)."""
        learn_channels(self)

    def collect(self, counts: Future | None = None, fans: Future | None = None) -> None:
        """One row of metrics per platform and for all platforms (observation/); Mesa's
        DataCollector. ``counts``: the day logs' ``trace_counts``, and ``fans``: the follow
        graph's ``fans_by_tier_and_sums``, if ``step`` had them counted in the background
        (the counts added to the logs' tallies and the graph's to the views' shared values,
        which the views and the measurements read)."""
        if counts is not None:
            for log, tally in zip(self.day_logs, counts.result()):
                log.tally.update(tally)
        shared = None if fans is None else {"fans_by_tier_and_sums": fans.result()}
        for view in views(self, shared):
            self._rows.append({"step": self.day, "platform": view.name, **measure_all(view)})
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ results

    def metrics_frame(self) -> pd.DataFrame:
        """Per-step metrics: one row per step × platform (and ``all``)."""
        return pd.DataFrame(self._rows)

    def summary(self) -> dict:
        """``{"platforms": {name: {metric: value}}, "totals": {...}}`` for the run so far,
        from the metric rows without pandas (:class:`~simulator.io.table.Table`, the same
        floats), or from :meth:`metrics_frame` where the rows hold values it does not type."""
        df = Table.from_rows(self._rows)
        return self.summary_of(df if df is not None else self.metrics_frame())

    def summary_of(self, rows) -> dict:
        """:meth:`summary` of the metric rows ``rows`` (a :class:`~simulator.io.table.Table`
        or a DataFrame of them: tests/io/test_table.py compares the two)."""
        out: dict = {"platforms": {}, "totals": {}}
        if rows.empty:
            return out
        for view in views(self):
            values = summarize_all(rows[rows["platform"] == view.name], view)
            if view.name == "all":
                out["totals"] = values
            else:
                out["platforms"][view.name] = values
        return out

    def creators_frame(self) -> pd.DataFrame:
        """One row per creator: followers, fans by tier, impressions by platform and domain, income, GMV."""
        return frames.creators_frame(self)

    def merchants_frame(self) -> pd.DataFrame:
        """One row per merchant: category, strategy, ad spend, GMV by domain, CAC, profit, ROI."""
        return frames.merchants_frame(self)

    def items_frame(self) -> pd.DataFrame:
        """One row per item: creator, day, quality, impressions by platform and domain, pool level, engagements."""
        return frames.items_frame(self)

    def feed_of(self, user: int, platform: str | None = None) -> pd.DataFrame:
        """One user's feed on the last simulated day (see :func:`simulator.io.frames.feed_of`)."""
        return frames.feed_of(self, user, platform)

    def latest_total(self, column: str):
        """The latest ``all`` row's value of ``column`` (or of a derived share, see
        :mod:`simulator.observation.derived`)."""
        if column == "seed":
            return self.scenario.seed
        cached = self.__dict__.get("_latest_all")
        if cached is None or cached[0] != len(self._rows):  # once per step for the DataCollector's ~30 reporters
            row = next((r for r in reversed(self._rows) if r["platform"] == "all"), None)
            cached = self._latest_all = (len(self._rows), row, None if row is None else impression_shares(row))
        _, row, shares = cached
        if row is None:
            return None
        return shares[column] if column in SHARE_NAMES else row.get(column)


def _latest_total(name: str):
    """A DataCollector reporter named ``name`` (the collected column explains itself)."""
    def reporter(model: TrafficModel):
        return model.latest_total(name)
    reporter.__name__ = name
    return reporter


# the thread that sums what large days can compute beside the phases (TrafficModel._in_background)
_BACKGROUND = KeptPool("trace")


