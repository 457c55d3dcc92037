"""Measurements: one small class per metric, registered in ``MEASUREMENTS``.

A measurement reads a :class:`View` (one platform, or ``all`` platforms together) and
returns named values for the step's row of metrics.csv; :meth:`Measurement.summarize`
turns the run's rows (and the final state) into summary.json values. ``kind`` says how:
``flow`` values are summed over the run, ``stock`` values are taken at the end, and
``custom`` measurements compute their own summary from the run's cumulative state.

Adding a metric = writing one class here and appending it to ``MEASUREMENTS``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..feeds import numpy_kernels
from ..state.vocabulary import ACTIONS, BUYER_TIERS, CHANNELS, DOMAINS, GMV_DOMAINS, PRIVATE, PUBLIC, SOURCES, TIERS, WINDOW_DAYS
from .inequality import gini, top_share
from .views import View

if TYPE_CHECKING:
    from ..io.table import Table


class Measurement:
    name = "measurement"
    kind = "flow"  # flow | stock | custom
    columns: tuple[str, ...] = ()
    description = ""
    # True when measure() reads the view's fields only, never which platform it is (its
    # index or name): with one platform the 'all' view, a copy of the platform's, takes
    # the platform row's values (measure_all: one step's metrics, issue #17)
    same_in_all = False

    def measure(self, v: View) -> dict[str, float]:
        raise NotImplementedError

    def summarize(self, rows: pd.DataFrame | Table, final: View) -> dict[str, float]:
        """The summary values from the view's metric rows: a DataFrame, or the same rows as a
        :class:`~simulator.io.table.Table` (``model.summary()``, no pandas), which has the
        few DataFrame operations used here (column ``sum``, ``mean``, ``iloc``,
        ``to_numpy``; ``rows.sum(numeric_only=True)``) and gives the same floats."""
        if self.kind == "flow":
            return {c: float(rows[c].sum()) for c in self.columns}
        return {c: float(rows[c].iloc[-1]) for c in self.columns}


# --------------------------------------------------------------------------- helpers


def _once(v, key: str, compute):
    """A value of the shared state computed once for all of one step's views
    (:meth:`View.once`); computed afresh for a view-like object without that cache."""
    return v.once(key, compute) if hasattr(v, "once") else compute()


def _fans_by_tier(v) -> np.ndarray:
    """(creators × tiers) follow edges, counted once per step for all views: the fan tiers,
    the sellers' fans by tier and the followers behind the creators' mean intimacy are
    its sums (one pass over the edges instead of four: issue #17), in the same pass as the
    creators' intimacy sums (``FollowGraph.fans_by_tier_and_sums``)."""
    return _once(v, "fans_by_tier_and_sums", v.model.follows.fans_by_tier_and_sums)[0]


def _mean_intimacy_by_creator(v) -> np.ndarray:
    """The creators' mean fan intimacy, once per step for all views."""
    def compute():
        counts, sums = _once(v, "fans_by_tier_and_sums", v.model.follows.fans_by_tier_and_sums)
        return v.model.follows.mean_intimacy_by_creator(counts.sum(axis=1), sums)

    return _once(v, "mean_intimacy_by_creator", compute)


def flywheel(model, creator_cum: np.ndarray, bins: int, mi: np.ndarray | None = None,
             groups: list | None = None, present: np.ndarray | None = None) -> dict[str, float]:
    """Public (and private) impressions per item of creators in the top vs the bottom
    quartile of mean fan intimacy, within quality strata; ratio = geometric mean over
    strata of top/bottom public impressions per item. ``mi``: the creators' mean fan
    intimacy, if already computed; ``groups``: :func:`flywheel_groups`, if already
    computed (of the creators ``present`` on the view's platform: :func:`flywheel_present`)."""
    out = {"flywheel_ratio": np.nan, "flywheel_public_top": np.nan, "flywheel_public_bottom": np.nan,
           "flywheel_private_top": np.nan}
    if groups is None:
        groups = flywheel_groups(model, bins, mi, present)
    if groups is None:
        return out
    items = model.creators.items_published.astype(np.float64)
    public, private, posted = _group_sums(creator_cum, items, [g for pair in groups for g in pair])
    logs, pt, pb, vt = [], [], [], []
    for j in range(len(groups)):
        top, bot = 2 * j, 2 * j + 1
        t = public[top] / posted[top]
        bt = public[bot] / posted[bot]
        pt.append(t)
        pb.append(bt)
        vt.append(private[top] / posted[top])
        if t > 0 and bt > 0:
            logs.append(np.log(t / bt))
    if logs:
        out["flywheel_ratio"] = float(np.exp(np.mean(logs)))
    if pt:
        out.update(flywheel_public_top=float(np.mean(pt)), flywheel_public_bottom=float(np.mean(pb)),
                   flywheel_private_top=float(np.mean(vt)))
    return out


def _group_sums(creator_cum: np.ndarray, items: np.ndarray, parts: list) -> tuple:
    """Per group of creators (``parts``: index arrays), the sums of their public and
    private impressions (``creator_cum``: the model's are int64) and of their items
    (``items``: float64 counts), as numpy scalars: one gather and a segmented sum for all
    the groups instead of six calls a group (issue #17). The sums are of integers (exact
    in any order: the same values as each group's ``.sum()``); fractional impressions
    (a hand-made table) are summed group by group, as ``.sum()`` adds them. A group
    without creators sums to 0."""
    n = len(parts)
    if n == 0:
        return [], [], []
    if creator_cum.dtype.kind not in "iu":
        posted = [items[p].sum() for p in parts]
        return [creator_cum[p, PUBLIC].sum() for p in parts], [creator_cum[p, PRIVATE].sum() for p in parts], posted
    lens = np.array([len(p) for p in parts])
    sel = np.concatenate(parts).astype(np.intp, copy=False)
    starts = np.zeros(n, np.intp)
    np.cumsum(lens[:-1], out=starts[1:])
    cum = creator_cum.take(sel, axis=0)
    public = np.add.reduceat(cum[:, PUBLIC], starts) if len(sel) else np.zeros(n, cum.dtype)
    private = np.add.reduceat(cum[:, PRIVATE], starts) if len(sel) else np.zeros(n, cum.dtype)
    posted = np.add.reduceat(items.take(sel), starts) if len(sel) else np.zeros(n)
    empty = lens == 0
    if empty.any():  # (reduceat gives an empty segment the value at its start)
        public[empty], private[empty], posted[empty] = 0, 0, 0.0
    return public, private, posted


def quantiles(x: np.ndarray, q) -> np.ndarray:
    """``np.quantile(x, q)`` (method "linear") of a 1-D float array, bit for bit: the same
    sorted neighbours and numpy's own interpolation (``_lerp``: from below for weights
    under 0.5, from above otherwise; the same float64 operations, here on Python floats)
    without np.quantile's generality, which cost ~0.2 ms a call on the flywheel's strata
    of a few dozen creators (issue #17). With NaNs in ``x`` (np.quantile's answer is NaN),
    np.quantile itself."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n = len(x)
    if n == 0 or np.isnan(x[-1]):
        return np.quantile(x, q)
    return np.array(_sorted_quantiles(x.tolist(), np.asarray(q, dtype=np.float64).tolist()), dtype=np.float64)


def _sorted_quantiles(values: list, q) -> list:
    """:func:`quantiles` of the ascending Python floats ``values`` (at least one, no NaN)
    at the Python floats ``q``, as Python floats."""
    n = len(values)
    out = []
    for p in q:
        at = (n - 1) * p  # the virtual index
        lo = min(max(math.floor(at), 0), n - 1)  # past either end: the end value twice
        a, b = values[lo], values[min(lo + 1, n - 1)] if at >= 0 else values[0]
        t = at - lo
        diff = b - a
        out.append(b - diff * (1 - t) if t >= 0.5 else a + diff * t)
    return out


def flywheel_present(model, index: int | None) -> np.ndarray | None:
    """The creators a platform's flywheel compares (``index``; None: 'all'): with
    ``creators.multi_homing`` those present on the platform, whose items it can show (a
    creator absent there would count with 0 impressions per item and make the ratio one of
    presence, not of intimacy); None (every creator) for 'all' and without multi-homing."""
    if index is None or model.presence.present is None:
        return None
    return model.presence.on(index)


def flywheel_groups(model, bins: int, mi: np.ndarray | None = None,
                    present: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The flywheel's creators: per quality stratum (of at least 4 creators who posted,
    have fans, are not merchants and, given ``present``, are present on the platform:
    :func:`flywheel_present`), the top and the bottom quartile of mean fan
    intimacy; None with fewer than 8 such creators. The same for every view of a step
    that compares the same creators (computed once: the quantiles were most of the metrics' time at 10,000 users). The
    strata's quartiles come from one sort by (stratum, mean intimacy), each stratum's
    creators (ascending) from one stable sort by stratum (issue #17: a dozen numpy calls a
    stratum fewer; the same values as sorting each stratum's own)."""
    creators = model.creators
    mi = model.follows.mean_intimacy_by_creator() if mi is None else mi
    items = creators.items_published
    ok = (items > 0) & np.isfinite(mi) & (creators.merchant < 0)
    if present is not None:
        ok &= present
    idx = np.flatnonzero(ok)
    if len(idx) < 8:
        return None
    q = creators.quality_mean[idx]
    if numpy_kernels.compiled(len(idx)) and q.dtype == np.float32 and mi.dtype == np.float64:
        # the strata and quartiles in one compiled pass (kernels.flywheel_strata: the same groups)
        positions, lens = numpy_kernels.compiled_kernels().flywheel_strata(q, mi[idx], _inner_edges(bins), bins)
        if len(lens) == 0 or lens[0] >= 0:  # (lens [-1]: a NaN quality, numpy's form below)
            members = idx[positions]
            ends = np.cumsum(lens).tolist()
            return [(members[e - a - b:e - b], members[e - b:e]) for a, b, e in
                    zip(lens[0::2].tolist(), lens[1::2].tolist(), ends[1::2])]
    edges = quantiles(q, _inner_edges(bins)) if bins > 1 else np.array([])
    b = np.searchsorted(edges, q, side="right")
    m = mi[idx]
    values = m[np.lexsort((m, b))].tolist()  # each stratum's mean intimacies, ascending, stratum after stratum
    by_stratum = np.argsort(b, kind="stable")
    members, member_mi = idx[by_stratum], m[by_stratum]
    groups = []
    start = 0
    for k, n in enumerate(np.bincount(b, minlength=bins).tolist()):
        if n >= 4:
            lo, hi = _sorted_quantiles(values[start:start + n], (0.25, 0.75))
            sel, ms = members[start:start + n], member_mi[start:start + n]
            groups.append((sel[ms >= hi], sel[ms <= lo]))
        start += n
    return groups


_INNER_EDGES: dict = {}


def _inner_edges(bins: int) -> np.ndarray:
    """``np.linspace(0, 1, bins + 1)[1:-1]``, the quality strata's inner quantiles (the
    same every step: made once per ``bins``)."""
    inner = _INNER_EDGES.get(bins)
    if inner is None:
        inner = _INNER_EDGES[bins] = np.linspace(0, 1, bins + 1)[1:-1].copy()
    return inner


# --------------------------------------------------------------------------- measurements


class ImpressionsByDomain(Measurement):
    same_in_all = True
    name = "impressions_by_domain"
    columns = ("impressions_total",) + tuple(f"impressions_{d}" for d in DOMAINS)
    description = "impressions, and by domain: commercial (ad slots), private (other slots, viewer follows the creator), public (other slots, non-followers)"

    def measure(self, v):
        by_domain = v.imps.sum(axis=0)
        return {"impressions_total": int(v.imps.sum()), **{f"impressions_{d}": int(by_domain[j]) for j, d in enumerate(DOMAINS)}}


class ImpressionsBySource(Measurement):
    same_in_all = True
    name = "impressions_by_source"
    columns = tuple(f"source_{s}" for s in SOURCES)
    description = "impressions by feed slot source"

    def measure(self, v):
        return {f"source_{s}": int(n) for s, n in zip(SOURCES, v.imps.sum(axis=1))}


class Engagements(Measurement):
    same_in_all = True
    name = "engagements"
    columns = tuple(f"engagements_{a}" for a in ACTIONS)
    description = "engagements by action"

    def measure(self, v):
        return {f"engagements_{a}": int(n) for a, n in zip(ACTIONS, v.actions)}


class Follows(Measurement):
    same_in_all = True
    name = "follows"
    columns = ("follows_gained", "follows_lost")
    description = ("new follow edges, on the platform where the follow happened (an edge followed on several platforms "
                   "the same day: on the creator's home platform if it is one of them, else the platform whose name sorts "
                   "first); follow edges lost (bans, fan-group annoyance, drift), on the creator's home platform")

    def measure(self, v):
        return {"follows_gained": v.follows_gained, "follows_lost": v.follows_lost}


class FanTiers(Measurement):
    same_in_all = True
    name = "fan_tiers"
    kind = "stock"
    columns = ("followers_total", "fans_potential", "fans_passerby", "fans_liking", "fans_true", "mean_intimacy")
    description = "follow edges by fan tier and their mean intimacy (shared follow graph)"

    def measure(self, v):
        return dict(_once(v, self.name, lambda: self._measure(v.model.follows, _fans_by_tier(v).sum(axis=0))))

    @staticmethod
    def _measure(follows, counts):
        return {
            "followers_total": int(follows.n_edges),
            "fans_potential": int(counts[0]), "fans_passerby": int(counts[1]),
            "fans_liking": int(counts[2]), "fans_true": int(counts[3]),
            "mean_intimacy": float(follows.intimacy.mean()) if follows.n_edges else 0.0,
        }


def _no_creator_feed(v) -> bool:
    """Whether the view is a shelf platform's (ODD 7.12): no creator feed, so no creator
    exposure to measure (its creator readings are NaN, not the 0 of creators nobody saw)."""
    return v.index is not None and not v.model.scenario.feed_platforms()[v.index]


class ExposureConcentration(Measurement):
    name = "exposure_concentration"
    kind = "custom"
    columns = ("exposure_gini", "top1_share", "top10_share", "visible_share")
    description = ("creator exposure Gini, top-1%/10% shares, share of creators above the visibility threshold (per step: "
                   "the step's impressions of the creators active that day, with creators.multi_homing those present "
                   "on the platform; creators that have exited, or not entered, are left out; summary: the run's "
                   "impressions of every creator active at some point of the run, those that have exited included, "
                   "dormant accounts that never entered left out, a creator visible when its impressions per day "
                   "since its entry reach the threshold); NaN on a shelf platform, which has no creator feed; Gini and top shares "
                   "NaN without impressions, all four without creators")

    def _values(self, x: np.ndarray, days, threshold: float) -> dict[str, float]:
        # (gini and top_share are NaN without impressions; visible_share without creators)
        return {"exposure_gini": gini(x), "top1_share": top_share(x, 0.01), "top10_share": top_share(x, 0.10),
                "visible_share": float(np.mean(x / np.maximum(days, 1) >= threshold)) if len(x) else float("nan")}

    def measure(self, v):
        if _no_creator_feed(v):
            return dict.fromkeys(self.columns, float("nan"))
        mine = v.model.creators.active if v.index is None else v.model.creators.active & v.model.presence.on(v.index)
        # once per (step counts, creators): with one platform and every creator on it, the
        # 'all' view (its step counts are its twin's, the same object) reads the platform's values
        return dict(_once(v, (self.name, id(v.creator_step), mine.tobytes()),
                          lambda: self._values(v.creator_step[mine], 1, v.model.scenario.metrics.visibility_threshold)))

    def summarize(self, rows, final):
        if _no_creator_feed(final):
            return dict.fromkeys(self.columns, float("nan"))
        creators = final.model.creators
        ever = creators.entry_day >= 0  # active at some point: not a dormant account still waiting
        if final.index is not None:
            ever = ever & final.model.presence.on(final.index)  # multi-homing: on the platform (a creator never leaves one)
        days = final.model.day - creators.entry_day[ever]  # model.day: the days run; an entrant's since its entry day
        return self._values(final.creator_cum.sum(axis=1)[ever], days, final.model.scenario.metrics.visibility_threshold)


class Flywheel(Measurement):
    same_in_all = True
    name = "flywheel"
    kind = "stock"
    columns = ("flywheel_ratio", "flywheel_public_top", "flywheel_public_bottom", "flywheel_private_top")
    description = ("public impressions per item, top vs bottom quartile of mean fan intimacy at similar quality "
                   "(cumulative; with creators.multi_homing, per platform the creators present on it); NaN on a "
                   "shelf platform, which has no creator feed")

    def measure(self, v):
        if _no_creator_feed(v):
            return dict.fromkeys(self.columns, float("nan"))
        bins = v.model.scenario.metrics.quality_bins
        mi = _mean_intimacy_by_creator(v)
        present = flywheel_present(v.model, v.index)
        key = "flywheel_groups" if present is None else ("flywheel_groups", v.index)
        groups = _once(v, key, lambda: flywheel_groups(v.model, bins, mi, present))
        # once per cumulative table: with one platform the 'all' view reads the platform's own
        # (the step's views are alive together, so their tables' ids are distinct)
        return dict(_once(v, ("flywheel", id(v.creator_cum)), lambda: flywheel(v.model, v.creator_cum, bins, mi, groups)))


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


class Money(Measurement):
    same_in_all = True
    name = "money"
    columns = ("ad_revenue", "commission_revenue", "tip_revenue", "platform_revenue", "cpm_effective")
    description = ("platform revenue (yuan): ad revenue, commissions on on-platform GMV, the platform's cut of tips, "
                   "their sum; effective CPM paid for ads (saturation raises it)")

    def measure(self, v):
        money = v.readings
        ads = float(v.imps.sum(axis=1)[SOURCES.index("ads")])
        return {"ad_revenue": v.ad_revenue, "commission_revenue": money["commission_revenue"], "tip_revenue": money["tip_revenue"],
                "platform_revenue": v.ad_revenue + money["commission_revenue"] + money["tip_revenue"],
                "cpm_effective": _ratio(1000.0 * v.ad_revenue, ads)}

    def summarize(self, rows, final):
        out = {c: float(rows[c].sum()) for c in self.columns[:-1]}
        out["cpm_effective"] = _ratio(1000.0 * out["ad_revenue"], float(rows["source_ads"].sum()))
        return out


GMV_COLUMNS = tuple(f"gmv_{d}" for d in GMV_DOMAINS)


class Sales(Measurement):
    same_in_all = True
    name = "sales"
    columns = ("gmv_total",) + GMV_COLUMNS + ("orders", "new_buyers", "new_buyers_ad", "tips_total", "tips_private",
                                               "comments_total", "comments_private")
    description = ("GMV (yuan) in total and by domain: public / commercial feed impressions, private on the platform "
                   "(feed impressions of followed sellers, fan groups, homepage visits and DMs), private on WeChat; "
                   "orders; first-time buyers of a merchant, and those of them whose first order came from an ad; "
                   "tips; comments (private = from followers)")

    def measure(self, v):
        money = v.readings
        return {"gmv_total": sum(money[c] for c in GMV_COLUMNS), **{c: money[c] for c in GMV_COLUMNS},
                "orders": money["orders"], "new_buyers": money["new_buyers"], "new_buyers_ad": money["new_buyers_ad"],
                "tips_total": money["tips_public"] + money["tips_commercial"] + money["tips_private"], "tips_private": money["tips_private"],
                "comments_total": money["comments_public"] + money["comments_commercial"] + money["comments_private"],
                "comments_private": money["comments_private"]}


class OrdersByBuyerTier(Measurement):
    same_in_all = True
    name = "orders_by_buyer_tier"
    columns = tuple(f"orders_{b}" for b in BUYER_TIERS) + tuple(f"gmv_buyer_{b}" for b in BUYER_TIERS)
    description = ("orders and their GMV (yuan) by the buyer's fan tier with the seller at the time of the order "
                   "(non_fan: does not follow the seller; WeChat orders too); they sum to orders and gmv_total")

    def measure(self, v):
        return {c: v.readings[c] for c in self.columns}


class PrivateShares(Measurement):
    same_in_all = True
    name = "private_shares"
    kind = "custom"
    columns = ("private_share_gmv", "private_share_tips", "private_share_comments")
    description = "private-domain shares of GMV (platform + WeChat), of tips and of comments (summary: over the run)"

    def _values(self, gmv_total, gmv_private, tips_total, tips_private, comments_total, comments_private):
        return {"private_share_gmv": _ratio(gmv_private, gmv_total), "private_share_tips": _ratio(tips_private, tips_total),
                "private_share_comments": _ratio(comments_private, comments_total)}

    def measure(self, v):
        money = v.readings
        gmv = sum(money[c] for c in GMV_COLUMNS)
        return self._values(gmv, money["gmv_private_platform"] + money["gmv_private_wechat"],
                            money["tips_public"] + money["tips_commercial"] + money["tips_private"], money["tips_private"],
                            money["comments_public"] + money["comments_commercial"] + money["comments_private"], money["comments_private"])

    def summarize(self, rows, final):
        s = rows.sum(numeric_only=True)
        return self._values(s["gmv_total"], s["gmv_private_platform"] + s["gmv_private_wechat"], s["tips_total"],
                            s["tips_private"], s["comments_total"], s["comments_private"])


class AcquisitionCost(Measurement):
    same_in_all = True
    name = "acquisition_cost"
    kind = "custom"
    columns = ("cac_ad", "cac_blended", "cac_ad_first_30d", "cac_ad_last_30d", "cac_blended_first_30d",
               "cac_blended_last_30d", "new_buyers_ad_first_30d", "new_buyers_ad_last_30d")
    description = ("customer-acquisition cost (yuan per new buyer): ad-attributed = ad spend / new buyers whose first "
                   "order with the merchant came from an ad impression; blended = ad spend / all new buyers; per step: "
                   "that day's; summary: over the run, and over its first and last 30 days (NaN in runs shorter than "
                   "30 days); summary only: the ad-acquired new buyers over the first and last 30 days (the "
                   "ad-attributed CAC's denominators: fewer buyers or more spend)")

    def measure(self, v):
        nan = float("nan")
        return {"cac_ad": _ratio(v.ad_revenue, v.readings["new_buyers_ad"]),
                "cac_blended": _ratio(v.ad_revenue, v.readings["new_buyers"]),
                **{c: nan for c in self.columns[2:]}}

    def summarize(self, rows, final):
        ledger, spend = final.model.ledger, float(rows["ad_revenue"].sum())
        return {"cac_ad": _ratio(spend, float(rows["new_buyers_ad"].sum())),
                "cac_blended": _ratio(spend, float(rows["new_buyers"].sum())),
                **{f"cac_{kind}_{end}_30d": ledger.cac(end == "first", final.index, ad_only=kind == "ad", window=WINDOW_DAYS)
                   for kind in ("ad", "blended") for end in ("first", "last")},
                **{f"new_buyers_ad_{end}_30d": ledger.new_buyers_in(end == "first", final.index, ad_only=True,
                                                                   window=WINDOW_DAYS) for end in ("first", "last")}}


class PrivateChannels(Measurement):
    same_in_all = True
    name = "private_channels"
    kind = "custom"
    columns = ("group_members", "group_members_start", "group_members_end", "group_churn_30d", "wechat_contacts", "bans")
    description = ("fan-group members (by the account's home platform) at the step, at the end of day 0 and at the end; "
                   "group churn = share of members at day t who left by day t+30, averaged over t (NaN in runs "
                   "shorter than 31 days); WeChat contacts (by the platform they were diverted from); account bans")

    def measure(self, v):
        money = v.readings
        return {"group_members": money["group_members"], "group_members_start": float("nan"), "group_members_end": float("nan"),
                "group_churn_30d": float("nan"), "wechat_contacts": money["wechat_contacts"], "bans": money["bans"]}

    def summarize(self, rows, final):
        gm = rows["group_members"]
        return {"group_members": float(gm.iloc[-1]), "group_members_start": float(gm.iloc[0]),
                "group_members_end": float(gm.iloc[-1]),
                "group_churn_30d": final.model.commerce.groups.churn(WINDOW_DAYS, final.index),
                "wechat_contacts": float(rows["wechat_contacts"].iloc[-1]), "bans": float(rows["bans"].sum())}


class Activity(Measurement):
    name = "activity"
    columns = ("active_users", "items_published", "feed_fill")
    description = ("daily active users on the platform; items published that day (all platforms); feed fill: "
                   "impressions / slots offered (active users × feed_slots, or their session lengths when activity "
                   "responds or attention shifts), below 1 when exposure caps or thin inventory leave slots empty")

    def measure(self, v):
        platforms = [p for p in v.model.platforms.values() if v.index is None or p.index == v.index]
        offered = sum(p.slots_today for p in platforms)
        return {"active_users": v.active_users, "items_published": int(v.model.items_published_today),
                "feed_fill": _ratio(float(v.imps.sum()), offered)}

    def summarize(self, rows, final):
        return {"active_users": float(rows["active_users"].mean()), "items_published": float(rows["items_published"].sum()),
                "feed_fill": float(rows["feed_fill"].mean())}


class Turnover(Measurement):
    name = "turnover"
    kind = "custom"
    columns = ("creators_active", "creators_entered", "creators_exited", "new_creator_success",
               "merchants_active", "merchants_entered", "merchants_exited")
    description = ("creators (merchants' accounts included) active, entered and exited that day, and merchants "
                   "active, entered and exited, by home platform (a merchant's: its account's); new-creator success: "
                   "the share of the creator entrants of the last success_days entry days whose window has closed "
                   "(entry day in [t − 2·success_days + 2, t − success_days + 1]) that reached metrics.success_followers "
                   "followers or metrics.success_impressions cumulative impressions within success_days days of "
                   "entry (NaN when there are none; summary: every entrant whose window closed within the run, NaN "
                   "in runs shorter than success_days days or without such entrants)")

    def measure(self, v):
        model, t = v.model, v.model.day
        turnover, creators, merchants = model.turnover, model.creators, model.merchants
        S = model.scenario.metrics.success_days
        p = v.index
        sl = slice(None) if p is None else p
        mine = creators.active if p is None else creators.active & (creators.home == p)
        m_home = creators.home[merchants.account]
        m_mine = merchants.active if p is None else merchants.active & (m_home == p)
        return {"creators_active": int(mine.sum()),
                "creators_entered": int(np.sum(turnover.creators_entered[sl])),
                "creators_exited": int(np.sum(turnover.creators_exited[sl])),
                # success is recorded before the day's metrics: the entrants of day t − S + 1 have had their S days
                "new_creator_success": turnover.success_share(t - S + 1, t - 2 * S + 2, p),
                "merchants_active": int(m_mine.sum()),
                "merchants_entered": int(np.sum(turnover.merchants_entered[sl])),
                "merchants_exited": int(np.sum(turnover.merchants_exited[sl]))}

    def summarize(self, rows, final):
        model = final.model
        S = model.scenario.metrics.success_days
        return {"creators_active": float(rows["creators_active"].iloc[-1]),
                "creators_entered": float(rows["creators_entered"].sum()),
                "creators_exited": float(rows["creators_exited"].sum()),
                "new_creator_success": model.turnover.success_share(model.day - S, -1, final.index),  # model.day: days run
                "merchants_active": float(rows["merchants_active"].iloc[-1]),
                "merchants_entered": float(rows["merchants_entered"].sum()),
                "merchants_exited": float(rows["merchants_exited"].sum())}


class MerchantChannels(Measurement):
    name = "merchant_channels"
    kind = "custom"
    columns = tuple(f"mix_{c}" for c in CHANNELS) + ("merchant_effort", "operating_cost")
    description = ("budget-weighted effort shares of the channels (ads by targeting, fan groups, WeChat) of the "
                   "merchants selling on the platform (not banned there; all: every merchant), as allocated today "
                   "(with learning off, the static strategy: the whole budget on the merchant's targeting); the "
                   "merchants' effort allocated today (yuan: the ad budget the day's split put on the platform, over the "
                   "platforms that could sell the merchant ads, plus the private channels of "
                   "merchants whose account's home it is); operating costs booked today (group pushes, WeChat cards "
                   "of learning merchants; recall SMS of shelf platforms; by the account's home platform). Summary: mix at the end, effort and "
                   "cost summed")

    def measure(self, v):
        from ..commerce.learning import static_effort
        model = v.model
        learner, merchants = model.commerce.learning, model.merchants
        effort, split = (learner.effort_today, learner.platform_today) if learner is not None else static_effort(model)
        home = model.creators.home[merchants.account].astype(np.int64)
        if v.index is None:
            selling, at_home, spent = np.ones(merchants.n, bool), np.ones(merchants.n, bool), float(effort.sum())
        else:
            selling, at_home = ~merchants.banned[v.index], home == v.index
            spent = float((effort[:, :3].sum(axis=1) * split[:, v.index]).sum() + effort[at_home, 3:].sum())
        total = effort[selling].sum(axis=0)
        return {**{f"mix_{c}": _ratio(float(total[j]), float(total.sum())) for j, c in enumerate(CHANNELS)},
                "merchant_effort": spent,
                "operating_cost": float(model.ledger.today["operating_cost"][at_home].sum())}

    def summarize(self, rows, final):
        return {**{c: float(rows[c].iloc[-1]) for c in self.columns[:-2]},
                **{c: float(rows[c].sum()) for c in self.columns[-2:]}}


class Sessions(Measurement):
    name = "sessions"
    kind = "custom"
    columns = ("slots_per_active", "lapsed_users", "mean_satisfaction")
    description = ("slots offered per active user (0 on a shelf platform, which offers none; all: per active "
                   "user-platform pair of the feed platforms; summary: the mean over days); "
                   "users of the platform who have not opened it for 7 days (all: users of a feed platform who "
                   "opened none of the feed platforms they use; stock); mean satisfaction of the platform's users "
                   "(at the reference on a shelf platform; all: over user-platform pairs of the feed platforms; "
                   "measured also where activity does not respond; stock). The all row leaves shelf platforms "
                   "(ODD 7.12) out of all three")

    def measure(self, v):
        # the all row: the feed platforms only (a shelf offers no slots and its satisfaction
        # stays at the reference; activity.lapsed and mean_satisfaction read the same for None)
        feed = v.model.scenario.feed_platforms()
        platforms = [p for p in v.model.platforms.values()
                     if (feed[p.index] if v.index is None else p.index == v.index)]
        activity = v.model.activity
        readings = _once(v, "activity_readings", activity.readings)  # every platform's, once a step
        return {"slots_per_active": _ratio(sum(p.slots_today for p in platforms), sum(p.active_today for p in platforms)),
                "lapsed_users": activity.lapsed(v.index, readings),
                "mean_satisfaction": activity.mean_satisfaction(v.index, readings)}

    def summarize(self, rows, final):
        return {"slots_per_active": float(rows["slots_per_active"].mean()),
                "lapsed_users": float(rows["lapsed_users"].iloc[-1]),
                "mean_satisfaction": float(rows["mean_satisfaction"].iloc[-1])}


class MultiHoming(Measurement):
    name = "multi_homing"
    kind = "custom"
    columns = ("users_of", "time_share", "creators_present", "adoptions", "drops", "creators_expanded")
    description = ("users who use the platform (all: who use any; stock); the platform's share of all slots offered "
                   "today across the platforms (all: 1; summary: the mean over days); active creators present on "
                   "the platform (every active creator where creators.multi_homing is off; all: present on any; "
                   "stock); users who adopted and who dropped the platform today, and creators who expanded to it "
                   "today (0 where attention and multi-homing are off; summed)")

    def measure(self, v):
        model = v.model
        uses = model.users.uses
        attention, presence = model.attention, model.presence
        slots = np.array([p.slots_today for p in model.platforms.values()], dtype=np.float64)
        sl = slice(None) if v.index is None else v.index
        return {"users_of": int(np.count_nonzero(uses.any(axis=1) if v.index is None else uses[:, v.index])),
                "time_share": _ratio(float(slots[sl].sum()), float(slots.sum())),
                "creators_present": presence.present_count(v.index),
                "adoptions": int(np.sum(attention.adopted_today[sl])), "drops": int(np.sum(attention.dropped_today[sl])),
                "creators_expanded": int(np.sum(presence.expanded_today[sl]))}

    def summarize(self, rows, final):
        return {"users_of": float(rows["users_of"].iloc[-1]), "time_share": float(rows["time_share"].mean()),
                "creators_present": float(rows["creators_present"].iloc[-1]),
                **{c: float(rows[c].sum()) for c in ("adoptions", "drops", "creators_expanded")}}
class AdaptingKnobs(Measurement):
    name = "adapting_knobs"
    kind = "custom"
    columns = ("knob_ad_load", "knob_commission_scale", "knob_centralization", "adapt_objective")
    description = ("the platform's knobs in effect that day (a platform that adapts, platforms.<p>.adapt, moves them; "
                   "otherwise the scenario's): ad_load; the scale on its commission schedule (1 = the scenario's "
                   "rates); centralization (when adapted, else the centralization key; NaN without one); the day's "
                   "value of its adaptation objective (revenue, GMV on the platform or DAU; NaN when it does not "
                   "adapt or before adapt.start). all: NaN; ad_load NaN on a shelf platform, which has no ad slots. Summary: the "
                   "knobs at the end, the objective's mean")

    def measure(self, v):
        nan = float("nan")
        if v.index is None:
            return dict.fromkeys(self.columns, nan)
        platform = next(p for p in v.model.platforms.values() if p.index == v.index)
        state = v.model.adaptation.of(v.index)
        shelf = _no_creator_feed(v)  # a shelf platform has no ad slots: its ad_load key is ignored (ODD 7.12)
        if state is None:
            c = platform.cfg.centralization
            return {"knob_ad_load": nan if shelf else float(platform.cfg.ad_load), "knob_commission_scale": 1.0,
                    "knob_centralization": nan if c is None else float(c), "adapt_objective": nan}
        knobs = state.cfg.knobs
        c = state.knob("centralization") if "centralization" in knobs else platform.cfg.centralization
        return {"knob_ad_load": nan if shelf else state.knob("ad_load"), "knob_commission_scale": state.knob("commission"),
                "knob_centralization": nan if c is None else float(c), "adapt_objective": state.objective_today}

    def summarize(self, rows, final):
        return {**{c: float(rows[c].iloc[-1]) for c in self.columns[:-1]},
                "adapt_objective": float(rows["adapt_objective"].mean())}


class Shelf(Measurement):
    name = "shelf"
    kind = "custom"
    columns = ("shelf_searches", "shelf_orders", "recalls", "recall_orders", "recall_leaks", "recall_leak_share",
               "sms_cost")
    description = ("shelf platforms (kind = 'shelf', docs/ODD.md 7.12; 0 on feed platforms): searches (users with "
                   "purchase intent plus recalled non-buyers' leak searches) and the orders they made (leaks "
                   "included); SMS recalls sent, the recalled users who bought at the recalling shop, the recalled "
                   "non-buyers who bought at another shop the same day (leaks), leaks / recalls (NaN without "
                   "recalls; summary: over the run), yuan merchants spent on recall SMS")

    def measure(self, v):
        shelves = v.model.commerce.shelves
        t = shelves.readings(v.index) if shelves is not None else {}
        out = {"shelf_searches": t.get("searches", 0.0), "shelf_orders": t.get("search_orders", 0.0),
               "recalls": t.get("recalls", 0.0), "recall_orders": t.get("recall_orders", 0.0),
               "recall_leaks": t.get("recall_leaks", 0.0), "sms_cost": t.get("sms_cost", 0.0)}
        out["recall_leak_share"] = _ratio(out["recall_leaks"], out["recalls"])
        return out

    def summarize(self, rows, final):
        out = {c: float(rows[c].sum()) for c in self.columns if c != "recall_leak_share"}
        out["recall_leak_share"] = _ratio(out["recall_leaks"], out["recalls"])
        return out


# --------------------------------------------------------------------------- targets' measurements (issue 16)


def follower_slope(followers: np.ndarray, impressions: np.ndarray, items: np.ndarray) -> float:
    """OLS slope of log(1 + impressions per item) on log(1 + followers) across the
    creators with at least one item; NaN below 3 such creators or when their follower
    counts do not vary."""
    ok = items > 0
    if ok.sum() < 3:
        return float("nan")
    x = np.log1p(followers[ok].astype(np.float64))
    y = np.log1p(impressions[ok].astype(np.float64) / items[ok])
    x = x - x.mean()
    sxx = float(x @ x)
    return float(x @ (y - y.mean()) / sxx) if sxx > 0 else float("nan")


class FollowerDependence(Measurement):
    same_in_all = True
    name = "follower_dependence"
    kind = "custom"
    columns = ("follower_slope",)
    description = ("how much views depend on followers: the OLS slope of log(1 + organic impressions per item) on "
                   "log(1 + followers) across creators (merchants' own accounts left out; creators that published "
                   "at least one item and were active at some point, on the platform: present there), organic = "
                   "public + private impressions on the platform (all: on every platform) over the run, followers "
                   "at the end (shared follow graph); NaN per step (an end-of-run measurement) and on a shelf platform")

    def measure(self, v):
        return {"follower_slope": float("nan")}

    def summarize(self, rows, final):
        if _no_creator_feed(final):
            return {"follower_slope": float("nan")}
        model, creators = final.model, final.model.creators
        mine = (creators.merchant < 0) & (creators.entry_day >= 0)
        if final.index is not None:
            mine = mine & model.presence.on(final.index)
        organic = final.creator_cum[:, PUBLIC] + final.creator_cum[:, PRIVATE]
        return {"follower_slope": follower_slope(model.follows.followers()[mine], organic[mine],
                                                 creators.items_published[mine])}


def seller_tier_counts(model, fans_by_tier: np.ndarray | None = None) -> np.ndarray:
    """Follow edges of accounts that sell (creators.seller >= 0, active: an account that
    has stopped, by the exit rule or with its merchant, keeps its seller and its followers
    but sells no more; with turnover those edges were a quarter of the sellers' by day 120
    of douyin_year), by fan tier (``fans_by_tier``: ``FollowGraph.fans_by_tier()`` if
    already counted)."""
    by_tier = model.follows.fans_by_tier() if fans_by_tier is None else fans_by_tier
    creators = model.creators
    return by_tier[(creators.seller >= 0) & creators.active].sum(axis=0)


def true_fan_values(orders_by_tier: np.ndarray, edge_days_by_tier: np.ndarray) -> dict[str, float]:
    """True fans' share of followers' orders and their per-head order rate over other
    followers' (orders per follow edge-day of selling accounts); ``*_by_tier``: by TIERS."""
    true = TIERS.index("true")
    follower_orders, others = float(orders_by_tier.sum()), float(orders_by_tier.sum() - orders_by_tier[true])
    rate_true = _ratio(float(orders_by_tier[true]), float(edge_days_by_tier[true]))
    rate_other = _ratio(others, float(edge_days_by_tier.sum() - edge_days_by_tier[true]))
    return {"true_fan_order_share": _ratio(float(orders_by_tier[true]), follower_orders),
            "true_fan_rate_ratio": _ratio(rate_true, rate_other) if rate_other == rate_other else float("nan")}


class LoyalFans(Measurement):
    same_in_all = True
    name = "loyal_fans"
    kind = "custom"
    columns = ("seller_followers", "true_fan_share_followers", "true_fan_order_share", "true_fan_rate_ratio")
    description = ("loyal fans (铁粉) and what they buy: follow edges of selling accounts (creators.seller set: merchants' "
                   "accounts and their partners, active: not an account that has stopped; shared follow graph; stock), the share of them that are true fans "
                   "(stock), true fans' share of the orders of followers of the seller (orders_true over orders "
                   "of the four fan tiers), and true fans' orders per follow edge over other followers' (the day's; "
                   "summary: orders over the run per edge-day, NaN without orders from either group)")

    def measure(self, v):
        counts = _once(v, "seller_tier_counts", lambda: seller_tier_counts(v.model, _fans_by_tier(v)))  # every view's
        orders = np.array([v.readings[f"orders_{t}"] for t in TIERS], dtype=np.float64)
        return {"seller_followers": int(counts.sum()),
                "true_fan_share_followers": _ratio(float(counts[TIERS.index("true")]), float(counts.sum())),
                **true_fan_values(orders, counts.astype(np.float64))}

    def summarize(self, rows, final):
        edges = rows["seller_followers"].to_numpy(dtype=np.float64)
        share = np.nan_to_num(rows["true_fan_share_followers"].to_numpy(dtype=np.float64))
        true_days = float(np.sum(edges * share))
        true = TIERS.index("true")
        edge_days = np.zeros(len(TIERS))
        edge_days[true], edge_days[0] = true_days, float(edges.sum()) - true_days  # others' total in one slot
        orders = np.array([float(rows[f"orders_{t}"].sum()) for t in TIERS])
        return {"seller_followers": float(edges[-1]), "true_fan_share_followers": float(rows["true_fan_share_followers"].iloc[-1]),
                **true_fan_values(orders, edge_days)}


class LiveShare(Measurement):
    same_in_all = True
    name = "live_share"
    kind = "custom"
    columns = ("impressions_live", "live_share_impressions")
    description = ("impressions of live sessions (items with commerce.live_share) and their share of all impressions "
                   "(the day's; summary: over the run)")

    def measure(self, v):
        live = v.readings["impressions_live"]
        return {"impressions_live": int(live), "live_share_impressions": _ratio(live, float(v.imps.sum()))}

    def summarize(self, rows, final):
        live = float(rows["impressions_live"].sum())
        return {"impressions_live": live, "live_share_impressions": _ratio(live, float(rows["impressions_total"].sum()))}


class PrivateDomainReach(Measurement):
    name = "private_domain_reach"
    kind = "custom"
    columns = ("follow_tab_users", "follow_tab_reach", "live_likes_shares", "live_likes_shares_fans",
               "fan_share_live_engagement")
    description = ("users who got at least one follow-tab impression that day (all: user-platform pairs) and their "
                   "share of the daily active users (all: of active user-platform pairs; summary: the mean over "
                   "days; NaN on a shelf platform); likes and shares of live sessions, those by followers of the "
                   "session's creator (any slot) and their share (summary: over the run)")

    def measure(self, v):
        r = v.readings
        if _no_creator_feed(v):
            reach = float("nan")
        else:
            feed = v.model.scenario.feed_platforms()
            platforms = [p for p in v.model.platforms.values()
                         if (v.index is None or p.index == v.index) and feed[p.index]]
            reach = _ratio(r["follow_tab_users"], sum(p.active_today for p in platforms))
        return {"follow_tab_users": int(r["follow_tab_users"]), "follow_tab_reach": reach,
                "live_likes_shares": int(r["live_likes_shares"]), "live_likes_shares_fans": int(r["live_likes_shares_fans"]),
                "fan_share_live_engagement": _ratio(r["live_likes_shares_fans"], r["live_likes_shares"])}

    def summarize(self, rows, final):
        reach = rows["follow_tab_reach"].to_numpy(dtype=np.float64)
        total, fans = float(rows["live_likes_shares"].sum()), float(rows["live_likes_shares_fans"].sum())
        return {"follow_tab_users": float(rows["follow_tab_users"].sum()),
                "follow_tab_reach": float(np.nanmean(reach)) if np.isfinite(reach).any() else float("nan"),
                "live_likes_shares": total, "live_likes_shares_fans": fans,
                "fan_share_live_engagement": _ratio(fans, total)}


class GroupChurnRate(Measurement):
    same_in_all = True
    name = "group_churn_rate"
    kind = "custom"
    columns = ("group_churn_monthly",)
    description = ("fan-group churn over the run's last 30 days: the share of the memberships open on the day 31 days "
                   "before the run's end that ended by its last day (by the account's home platform), i.e. a group "
                   "of 200 then keeps 200 · (1 − rate) of its members a month later, whoever joined meanwhile; NaN "
                   "per step (an end-of-run measurement), in runs shorter than 31 days and without members")

    def measure(self, v):
        return {"group_churn_monthly": float("nan")}

    def summarize(self, rows, final):
        return {"group_churn_monthly": final.model.commerce.groups.churn_last_window(WINDOW_DAYS, final.index)}


MEASUREMENTS: list[Measurement] = [
    ImpressionsByDomain(), ImpressionsBySource(), Engagements(), Follows(), FanTiers(),
    ExposureConcentration(), Flywheel(), Money(), Sales(), OrdersByBuyerTier(), PrivateShares(), AcquisitionCost(), PrivateChannels(),
    Activity(), Sessions(), Turnover(), MerchantChannels(), MultiHoming(), AdaptingKnobs(), Shelf(),
    FollowerDependence(), LoyalFans(), LiveShare(), PrivateDomainReach(), GroupChurnRate(),
]


def measure_all(v: View) -> dict[str, float]:
    """One row of the step's metrics for the view ``v``. With one platform the 'all' view
    (``v.twin``: the platform's view it copies) takes the platform row's values of the
    measurements that do not read which platform a view is (``same_in_all``), measured
    with the platform's view first (``views``' order)."""
    row: dict[str, float] = {}
    done = getattr(v, "shared", None)  # the step's views' cache
    twin = getattr(v, "twin", None)
    for m in MEASUREMENTS:
        if m.same_in_all and done is not None:
            values = done.get((m.name, id(twin))) if twin is not None else None
            if values is None:
                values = done[(m.name, id(v))] = m.measure(v)
        else:
            values = m.measure(v)
        row.update(values)
    return row


def summarize_all(rows: pd.DataFrame | Table, final: View) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in MEASUREMENTS:
        out.update(m.summarize(rows, final))
    return out
