"""TrafficModel: a Mesa model of a short-video traffic ecosystem.

One tick is one day. ``step()`` reads like the ODD process overview (docs/ODD.md):

1. ``publish``            creators publish items (Poisson per creator rate)
2. ``build_feeds``        every platform fills every active user's feed
3. ``react``              users react to each impression (one logistic model)
4. ``learn``              items, creators and platforms tally what happened
                          (traffic pools escalate or stall; Gini steering moves)
5. ``update_relationships`` intimacy grows and decays, fans drift away, new fans follow
6. ``settle``             money: ad revenue
7. ``collect``            one row of metrics per platform and for all platforms

The hot state is columnar (``users``, ``creators``, ``merchants``, ``items``,
``follows``); agents are views on their rows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from .agents import Creator, Merchant, Platform, User
from .commerce import BUYER_TIERS, Commerce
from .config import Scenario, load_scenario, scenario_from_dict
from .audience.engagement import Reactions, drifting_fans, intimacy_gains, react, update_intimacy
from .feeds.slots import Impressions, PriorContext, build_feed, perf_rate
from .state.graphs import FollowGraph, build_social_graph, initial_follows, load_follow_file
from .state.arrays import indptr_from_rows
from .observation.measurements import View, measure_all, summarize_all
from .state.vocabulary import ACTIONS, GMV_DOMAINS
from .state.items import ItemStore
from .state.population import build_population
from .state.arrays import sigmoid

WARMUP_DAYS = 3  # days of content published before day 0, so feeds have a backlog


@dataclass
class ItemIndex:
    """Items grouped by a key (creator or city) in CSR form."""

    indptr: np.ndarray
    items: np.ndarray


@dataclass
class DayLog:
    """What happened on one platform today."""

    platform: Platform
    impressions: Impressions
    reactions: Reactions


class TrafficModel(mesa.Model):
    """The traffic-ecosystem model.

    Parameters
    ----------
    scenario : a :class:`Scenario`, a path to a scenario TOML file, or a dict.
    seed : overrides the scenario's seed.
    overrides : nested dict of scenario overrides (e.g. ``{"platforms": {"douyin": {"beta": 2}}}``).
    agents : create Mesa agents for every user (``True``) or only for creators,
        merchants and platforms (``False``; saves memory in very large runs).

    Example
    -------
    >>> m = TrafficModel("scenarios/douyin.toml", overrides={"population": {"users": 2000}})  # doctest: +SKIP
    >>> m.run(10); m.metrics_frame().tail()                                                 # doctest: +SKIP
    """

    def __init__(self, scenario: Scenario | str | Path | dict, *, seed: int | None = None,
                 overrides: dict | None = None, agents: bool = True):
        if isinstance(scenario, (str, Path)):
            scenario = load_scenario(scenario, overrides=overrides)
        else:
            data = scenario.model_dump() if isinstance(scenario, Scenario) else copy.deepcopy(scenario)
            _deep_update(data, overrides or {})
            scenario = scenario_from_dict(data)
        if seed is not None:
            scenario = scenario.model_copy(update={"seed": int(seed)})
        super().__init__(seed=scenario.seed)
        self.scenario: Scenario = scenario
        ss = np.random.SeedSequence(scenario.seed)
        (s_pop, s_graph, s_pub, s_feed, s_react, s_rel, s_com) = ss.spawn(7)
        self.rng_publish = np.random.default_rng(s_pub)
        self.rng_react = np.random.default_rng(s_react)
        self.rng_relationship = np.random.default_rng(s_rel)
        self.rng_commerce = np.random.default_rng(s_com)
        feed_seeds = s_feed.spawn(len(scenario.platforms))

        self.users, self.creators, self.merchants = build_population(scenario, np.random.default_rng(s_pop))
        rng_graph = np.random.default_rng(s_graph)
        self.social = build_social_graph(scenario.graph, self.users.city, rng_graph)
        self.follows = self._initial_follow_graph(rng_graph)
        self.items = ItemStore(len(scenario.platforms), scenario.population.topics)
        self.commerce = Commerce(self)

        self.platforms: dict[str, Platform] = {}
        for j, (name, pc) in enumerate(scenario.platforms.items()):
            pl = Platform(self, name, j, pc)
            pl.feed_rng = np.random.default_rng(feed_seeds[j])
            self.platforms[name] = pl
        if agents:
            for i in range(self.users.n):
                User(self, i)
        for i in range(self.creators.n):
            Creator(self, i)
        for i in range(self.merchants.n):
            Merchant(self, i)

        self._cache: dict = {}
        self.day = -WARMUP_DAYS
        for _ in range(WARMUP_DAYS):
            self.publish()
            self.day += 1
        self.items_published_today = 0
        self.follows_lost_today = 0
        self.follows_gained_total = 0
        self.follows_lost_total = 0
        self.last_day: list[DayLog] = []
        self._rows: list[dict] = []
        self.datacollector = mesa.DataCollector(model_reporters={
            name: _total_reporter(name) for name in (
                "impressions_total", "exposure_gini", "top1_share", "mean_intimacy", "flywheel_ratio",
                "fans_passerby", "fans_liking", "fans_true", "share_public", "share_commercial", "share_private",
                "gmv_public", "gmv_commercial", "gmv_private_platform", "gmv_private_wechat", "group_members")
        })

    # ------------------------------------------------------------------ setup

    def _initial_follow_graph(self, rng) -> FollowGraph:
        cfg = self.scenario.graph
        n, C = self.users.n, self.creators.n
        thresholds = self.scenario.relationship.tier_thresholds
        if cfg.follow_graph_file:
            u, c, w = load_follow_file(cfg.follow_graph_file, n, C)
            if w is None:
                w = rng.beta(cfg.initial_intimacy_alpha, cfg.initial_intimacy_beta, len(u))
            return FollowGraph(n, C, u, c, w, thresholds)
        seg_match = self.creators.topic.T.copy()  # (segments × creators): segment s = topic s
        u, c = initial_follows(cfg, seg_match, self.users.segment.astype(np.int64), self.social, rng)
        w = rng.beta(cfg.initial_intimacy_alpha, cfg.initial_intimacy_beta, len(u))
        return FollowGraph(n, C, u, c, w, thresholds)

    # ------------------------------------------------------------------ the day

    def step(self) -> None:
        """One simulated day."""
        self.follows_lost_today = 0
        with _single_threaded_blas():
            self.commerce.begin_day()
            self.publish()
            self.last_day = self.build_feeds()
            self.react(self.last_day)
            self.learn(self.last_day)
            self.sell(self.last_day)
            self.update_relationships(self.last_day)
            leaving = self.commerce.private_channels()
            self.remove_follows(leaving | drifting_fans(self.follows.intimacy, self.scenario.relationship,
                                                        self.rng_relationship))
            self.settle()
            self.collect()
            self.commerce.end_day()
        self.day += 1

    def run(self, steps: int | None = None, progress=None) -> "TrafficModel":
        """Run ``steps`` days (default: the scenario's). ``progress`` is an optional
        callable called after each step (e.g. a progress bar's update)."""
        for _ in range(steps if steps is not None else self.scenario.steps):
            self.step()
            if progress is not None:
                progress()
        return self

    def publish(self) -> None:
        """Creators publish Poisson(post_rate) items; quality ~ the creator's distribution."""
        cr, rng, cfg = self.creators, self.rng_publish, self.scenario.creators
        k = rng.poisson(cr.post_rate)
        creator = np.repeat(np.arange(cr.n, dtype=np.int32), k)
        latent = cr.quality_mean[creator] + rng.normal(0.0, cfg.quality_sd_within, len(creator)).astype(np.float32)
        noise = rng.dirichlet(np.full(cr.topic.shape[1], 0.5), len(creator)).astype(np.float32)
        topic = (1 - cfg.topic_noise) * cr.topic[creator] + cfg.topic_noise * noise
        topic /= np.linalg.norm(topic, axis=1, keepdims=True)
        com = self.scenario.commerce
        merchant = np.full(len(creator), -1, dtype=np.int32)
        live = np.zeros(len(creator), dtype=bool)
        if com.enabled:
            seller = cr.seller[creator]
            own = cr.merchant[creator] >= 0
            link = own | ((seller >= 0) & (rng.random(len(creator)) < com.link_share))
            merchant = np.where(link, seller, -1).astype(np.int32)
            live = rng.random(len(creator)) < com.live_share
        self.items.append(creator, self.day, sigmoid(latent), topic, merchant, live)
        cr.items_published += k
        self.items_published_today = len(creator)
        self._cache.clear()

    def build_feeds(self) -> list[DayLog]:
        logs = []
        for pl in self.platforms.values():
            pl.ad_revenue_today = 0.0
            logs.append(DayLog(pl, build_feed(self, pl, pl.feed_rng), None))
        return logs

    def react(self, logs: list[DayLog]) -> None:
        for log in logs:
            log.reactions = react(log.impressions, self.items.quality, self.follows.intimacy,
                                  self.scenario.engagement, self.rng_react)

    def learn(self, logs: list[DayLog]) -> None:
        """Tally impressions and engagements on items and creators; move traffic pools.

        One pass over the impressions counts them per item × source × domain (and one
        per item × action); creators' and the platform's tallies are sums of those."""
        items, cr = self.items, self.creators
        n, C = items.n, cr.n
        creator_of = items.creator.astype(np.int64)
        for log in logs:
            p, imp, r = log.platform.index, log.impressions, log.reactions
            key = imp.item * 15
            key += imp.source * 3
            key += imp.domain()
            by_item = np.bincount(key, minlength=15 * n).reshape(n, 5, 3)
            del key
            item_dom = by_item.sum(axis=1)
            items.impressions[p] += item_dom.astype(np.int32)
            creator_dom = _sum_rows_by(creator_of, item_dom, C)
            cr.impressions[p] += creator_dom
            cols = r.columns()
            item_act = np.stack([np.bincount(imp.item[a], minlength=n) for a in cols], axis=1)
            items.engagements[:] += item_act.astype(np.int32)
            cr.engagements += _sum_rows_by(creator_of, item_act, C)
            per_action = item_act.sum(axis=0)
            log.platform.today = dict(imps=by_item.sum(axis=0), actions=per_action, creator_step=creator_dom.sum(axis=1),
                                      follows_gained=int(per_action[ACTIONS.index("follow")]))
            if log.platform.policy.algorithmic:
                self._update_pools(log.platform, imp, r)

    def _update_pools(self, pl: Platform, imp: Impressions, r: Reactions) -> None:
        """Traffic-pool escalation. The algorithm observes each impression with weight 1
        for a non-fan and beta·intimacy for a fan (the closer the fan, the more their
        engagement counts: the flywheel). An item whose pool is full is promoted if its
        weighted engagement rate reaches the threshold, else it stalls."""
        items, p, cfg = self.items, pl.index, pl.cfg
        n = items.n
        w = np.where(imp.edge >= 0, cfg.beta * r.intimacy, 1.0)
        den = np.bincount(imp.item, weights=w, minlength=n)
        num = np.bincount(imp.item, weights=w * r.engaged, minlength=n)
        items.pool_den[p] += den.astype(np.float32)
        items.pool_num[p] += num.astype(np.float32)
        items.obs_den[p] += den.astype(np.float32)
        items.obs_num[p] += num.astype(np.float32)
        lo = items.first_since(self.day - cfg.max_item_age + 1)
        level, stalled = items.level[p, lo:], items.stalled[p, lo:]
        pden, pnum = items.pool_den[p, lo:], items.pool_num[p, lo:]
        full = (pden >= pl.pool_size(level.astype(np.float64))) & ~stalled
        rate = np.divide(pnum, pden, out=np.zeros_like(pnum), where=pden > 0)
        passed = rate >= cfg.pool_threshold
        promote = full & passed & (level < cfg.pool_levels - 1)
        level[promote] += 1
        pden[promote] = 0.0
        pnum[promote] = 0.0
        stalled[full & ~passed] = True

    def sell(self, logs: list[DayLog]) -> None:
        """Purchases and tips on today's engaged feed impressions (see :mod:`simulator.commerce`)."""
        for log in logs:
            self.commerce.sell_in_feed(log.platform.index, log.impressions, log.reactions)

    def remove_follows(self, mask: np.ndarray) -> int:
        """Unfollow the edges in ``mask`` (members leave their fan groups first)."""
        if not mask.any():
            return 0
        self.commerce.leave_groups(np.flatnonzero(mask))
        n = self.follows.remove(mask)
        self.follows_lost_today += n
        self.follows_lost_total += n
        return n

    def update_relationships(self, logs: list[DayLog]) -> None:
        """Intimacy grows with interaction and decays; engaged viewers follow. (Cold fans
        drift away at the end of the private channels, with the day's other unfollows.)"""
        rel, fg = self.scenario.relationship, self.follows
        gains = np.zeros(fg.n_edges)
        new_u, new_c = [], []
        for log in logs:
            gains += intimacy_gains(log.impressions, log.reactions, rel, fg.n_edges)
            f = log.reactions.follow
            new_u.append(log.impressions.user[f])
            new_c.append(self.items.creator[log.impressions.item[f]])
        update_intimacy(fg.intimacy, gains, rel)
        if new_u:
            self.follows_gained_total += fg.add(np.concatenate(new_u), np.concatenate(new_c), rel.follow_intimacy)

    def settle(self) -> None:
        """Money: the platforms book today's ad revenue (merchants' spend was booked when the slots were sold)."""
        for pl in self.platforms.values():
            pl.ad_revenue += pl.ad_revenue_today

    def collect(self) -> None:
        for view in self.views():
            self._rows.append({"step": self.day, "platform": view.name, **measure_all(view)})
        for pl in self.platforms.values():
            if pl.cfg.gini_target is not None:
                row = next(r for r in reversed(self._rows) if r["platform"] == pl.name)
                pl.steer(row["exposure_gini"])
        self.datacollector.collect(self)

    # ------------------------------------------------------------------ views for metrics

    def views(self) -> list[View]:
        """One :class:`View` per platform plus one for all platforms together."""
        out = []
        cum_all = self.creators.impressions.sum(axis=0)
        for pl in self.platforms.values():
            t = pl.today
            out.append(View(pl.name, t["imps"], t["actions"], t["creator_step"], self.creators.impressions[pl.index],
                            t["follows_gained"], self.follows_lost_today, pl.ad_revenue_today, pl.active_today,
                            self, self.day + 1, money=self.commerce.readings(pl.index), index=pl.index))
        if len(out) == 1:
            only = out[0]
            out.append(View("all", *[getattr(only, f) for f in ("imps", "actions", "creator_step", "creator_cum",
                                                                  "follows_gained", "follows_lost", "ad_revenue",
                                                                  "active_users")], self, self.day + 1,
                            money=only.money, index=None))
        else:
            out.append(View("all", sum(v.imps for v in out), sum(v.actions for v in out),
                            sum(v.creator_step for v in out), cum_all, sum(v.follows_gained for v in out),
                            self.follows_lost_today, sum(v.ad_revenue for v in out),
                            int(np.count_nonzero(self.users.uses.any(axis=1))), self, self.day + 1,
                            money={k: sum(v.money[k] for v in out) for k in out[0].money}, index=None))
        return out

    def _last_total(self, col: str):
        for r in reversed(self._rows):
            if r["platform"] == "all":
                if col.startswith("share_"):
                    return r[f"impressions_{col[6:]}"] / max(r["impressions_total"], 1)
                return r.get(col)
        return None

    # ------------------------------------------------------------------ indexes used by the feeds

    def recent_items(self, window: int) -> ItemIndex:
        """Items published in the last ``window`` days, grouped by creator."""
        key = ("recent", window)
        if key not in self._cache:
            lo = self.items.first_since(self.day - window + 1)
            c = self.items.creator[lo:].astype(np.int64)
            o = np.argsort(c, kind="stable")
            self._cache[key] = ItemIndex(indptr_from_rows(c[o], self.creators.n), lo + o)
        return self._cache[key]

    def city_items(self, max_age: int) -> ItemIndex:
        """Recommendable items grouped by their creator's city."""
        key = ("city", max_age)
        if key not in self._cache:
            lo = self.items.first_since(self.day - max_age + 1)
            city = self.creators.city[self.items.creator[lo:]].astype(np.int64)
            o = np.argsort(city, kind="stable")
            self._cache[key] = ItemIndex(indptr_from_rows(city[o], self.scenario.population.cities), lo + o)
        return self._cache[key]

    def prior_context(self, pl: Platform, lo: int) -> PriorContext:
        items, p = self.items, pl.index
        creator_exp = self.creators.impressions[p].sum(axis=1).astype(np.float64)
        share = (creator_exp + 1.0) / (creator_exp.mean() + 1.0)
        return PriorContext(
            age=(self.day - items.day[lo:]).astype(np.float32),
            level=items.level[p, lo:].astype(np.float64),
            quota=pl.pool_size(items.level[p, lo:].astype(np.float64)),
            pool_den=items.pool_den[p, lo:],
            stalled=items.stalled[p, lo:],
            quality=items.quality[lo:],
            perf=perf_rate(items.obs_num[p, lo:], items.obs_den[p, lo:]),
            exposure=items.impressions[p, lo:].sum(axis=1),
            engagements=items.engagements[lo:, :4].sum(axis=1),
            creator_share=share[items.creator[lo:]],
            dau=max(pl.expected_dau, 1.0),
            steering=pl.steering,
            blocked=None if (b := self.blocked_creators(p)) is None else b[items.creator[lo:]],
        )

    def blocked_creators(self, p: int) -> np.ndarray | None:
        """Accounts banned on platform ``p`` (their items get no reach there), or None."""
        ms = self.merchants
        if not ms.banned[p].any():
            return None
        out = np.zeros(self.creators.n, dtype=bool)
        out[ms.account[ms.banned[p]]] = True
        return out

    # ------------------------------------------------------------------ results

    def metrics_frame(self) -> pd.DataFrame:
        """Per-step metrics: one row per step × platform (and ``all``)."""
        return pd.DataFrame(self._rows)

    def summary(self) -> dict:
        """``{"platforms": {name: {metric: value}}, "totals": {...}}`` for the run so far."""
        df = self.metrics_frame()
        out: dict = {"platforms": {}, "totals": {}}
        if df.empty:
            return out
        for view in self.views():
            rows = df[df["platform"] == view.name]
            vals = summarize_all(rows, view)
            if view.name == "all":
                out["totals"] = vals
            else:
                out["platforms"][view.name] = vals
        return out

    def creators_frame(self) -> pd.DataFrame:
        cr, fg = self.creators, self.follows
        tiers = fg.fans_by_tier()
        df = pd.DataFrame({
            "creator": np.arange(cr.n),
            "merchant": cr.merchant,
            "mcn": cr.mcn,
            "city": cr.city,
            "segment": cr.segment,
            "quality": sigmoid(cr.quality_mean),
            "post_rate": cr.post_rate,
            "followers": fg.followers(),
            "fans_potential": tiers[:, 0], "fans_passerby": tiers[:, 1],
            "fans_liking": tiers[:, 2], "fans_true": tiers[:, 3],
            "mean_fan_intimacy": fg.mean_intimacy_by_creator(),
            "items_published": cr.items_published,
        })
        for j, name in enumerate(self.platforms):
            for d, dom in enumerate(("public", "commercial", "private")):
                df[f"impressions_{dom}_{name}"] = cr.impressions[j, :, d]
        for a, action in enumerate(ACTIONS):
            df[f"engagements_{action}"] = cr.engagements[:, a]
        com = self.commerce
        df["seller_for"] = cr.seller
        df["income_sales"] = com.creator_sales_income
        df["income_tips"] = com.creator_tips
        df["income_total"] = com.creator_sales_income + com.creator_tips
        for d, dom in enumerate(GMV_DOMAINS):
            df[f"gmv_{dom}"] = com.creator_gmv[:, d]
        df["group_members"] = np.bincount(fg.creator[fg.extra["group"]], minlength=cr.n)
        for t, tier in enumerate(BUYER_TIERS):
            df[f"purchases_{tier}"] = com.creator_purchases_by_tier[:, t]
        return df

    def merchants_frame(self) -> pd.DataFrame:
        """One row per merchant: category, strategy, ad spend, GMV by domain, CAC, profit, ROI."""
        return self.commerce.merchants_frame()

    def feed_of(self, user: int, platform: str | None = None) -> pd.DataFrame:
        """One user's feed on the last simulated day: each item with its slot source,
        domain, interest match, quality, the viewer's intimacy with the creator, the
        intimacy boost log(1 + beta·intimacy) and the policy's ranking score (with the
        items' engagement rates as of the end of that day)."""
        from .feeds.slots import Block
        from .state.vocabulary import DOMAINS, SOURCES

        log = next(lg for lg in self.last_day if platform is None or lg.platform.name == platform)
        imp, pl = log.impressions, log.platform
        sel = np.flatnonzero(imp.user == user)
        items = imp.item[sel]
        intim = log.reactions.intimacy[sel]
        lo = self.items.first_since(self.day - 1 - pl.cfg.max_item_age + 1)
        ctx = self.prior_context(pl, min(lo, int(items.min())) if len(items) else lo)
        k = items - (self.items.n - len(ctx.age))
        block = Block(match=imp.match[sel][None, :], intimacy=intim[None, :], quality=self.items.quality[items],
                      perf=ctx.perf[k], age=ctx.age[k] - 1, popularity=ctx.exposure[k].astype(np.float32),
                      engagements=ctx.engagements[k].astype(np.float32))
        boost = np.log1p(pl.cfg.beta * intim) if pl.policy.algorithmic else np.zeros(len(sel))
        return pd.DataFrame({
            "item": items, "creator": self.items.creator[items], "source": np.array(SOURCES)[imp.source[sel]],
            "domain": np.array(DOMAINS)[imp.domain()[sel]], "match": imp.match[sel],
            "quality": self.items.quality[items], "intimacy": intim, "intimacy_boost": boost,
            "score": pl.policy.score(block)[0],
        })

    def items_frame(self) -> pd.DataFrame:
        it = self.items
        df = pd.DataFrame({
            "item": np.arange(it.n), "creator": it.creator, "day": it.day, "quality": it.quality,
        })
        for j, name in enumerate(self.platforms):
            for d, dom in enumerate(("public", "commercial", "private")):
                df[f"impressions_{dom}_{name}"] = it.impressions[j, :, d]
            df[f"pool_level_{name}"] = it.level[j]
        for a, action in enumerate(ACTIONS):
            df[f"engagements_{action}"] = it.engagements[:, a]
        return df


def _total_reporter(name: str):
    """A DataCollector reporter reading the latest ``all`` row (``share_<domain>`` = domain share)."""
    def reporter(model: "TrafficModel"):
        return model._last_total(name)
    reporter.__name__ = name
    return reporter


_BLAS: ThreadpoolController | None = None


def _single_threaded_blas():
    """The step's matrix products are small (block × topics × candidates); BLAS threads
    would only spin against the compiled kernel's threads, so hold BLAS to one thread
    during a step (measured: ~1.6x faster feeds at 1M users on 2 cores)."""
    global _BLAS
    if _BLAS is None:
        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


def _sum_rows_by(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``values`` (n × k) by ``group`` (n,) into (n_groups × k)."""
    k = values.shape[1]
    idx = (group[:, None] * k + np.arange(k)).ravel()
    return np.bincount(idx, weights=values.ravel(), minlength=n_groups * k).reshape(n_groups, k).astype(np.int64)


def _deep_update(base: dict, over: dict) -> None:
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            _deep_update(base[k], v)
        else:
            base[k] = v
