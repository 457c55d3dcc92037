"""Measurements: one small class per metric, registered in ``MEASUREMENTS``.

A measurement reads a :class:`View` (one platform, or ``all`` platforms together) and
returns named values for the step's row of metrics.csv; :meth:`Measurement.summarize`
turns the run's rows (and the final state) into summary.json values. ``kind`` says how:
``flow`` values are summed over the run, ``stock`` values are taken at the end, and
``custom`` measurements compute their own summary from the run's cumulative state.

Adding a metric = writing one class here and appending it to ``MEASUREMENTS``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .state import ACTIONS, DOMAINS, PRIVATE, PUBLIC, SOURCES


@dataclass
class View:
    """What the measurements see of one platform (or of all platforms) at a step."""

    name: str
    imps: np.ndarray  # (sources × domains) impressions this step
    actions: np.ndarray  # (actions,) engagements this step
    creator_step: np.ndarray  # (creators,) impressions this step
    creator_cum: np.ndarray  # (creators × domains) cumulative impressions
    follows_gained: int
    follows_lost: int  # the follow graph is shared by all platforms
    ad_revenue: float
    active_users: int
    model: object  # the TrafficModel (for shared state: follow graph, creators)
    days: int  # days simulated so far


class Measurement:
    name = "measurement"
    kind = "flow"  # flow | stock | custom
    columns: tuple[str, ...] = ()
    description = ""

    def measure(self, v: View) -> dict[str, float]:
        raise NotImplementedError

    def summarize(self, rows: pd.DataFrame, final: View) -> dict[str, float]:
        if self.kind == "flow":
            return {c: float(rows[c].sum()) for c in self.columns}
        return {c: float(rows[c].iloc[-1]) for c in self.columns}


# --------------------------------------------------------------------------- helpers


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0 = equal, → 1 = one takes all)."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    n, s = len(x), x.sum()
    if n == 0 or s <= 0:
        return 0.0
    return float((2.0 * np.sum(np.arange(1, n + 1) * x) / (n * s)) - (n + 1.0) / n)


def top_share(x: np.ndarray, frac: float) -> float:
    """Share of the total held by the top ``frac`` of entries (at least one entry)."""
    x = np.asarray(x, dtype=np.float64)
    s = x.sum()
    if s <= 0:
        return 0.0
    k = max(1, int(round(frac * len(x))))
    return float(np.sort(x)[-k:].sum() / s)


def lorenz(x: np.ndarray, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve: (share of creators, share of exposure), poorest first."""
    x = np.sort(np.asarray(x, dtype=np.float64))
    cum = np.concatenate([[0.0], np.cumsum(x)])
    cum = cum / cum[-1] if cum[-1] > 0 else np.linspace(0, 1, len(cum))
    pop = np.linspace(0, 1, len(cum))
    grid = np.linspace(0, 1, points)
    return grid, np.interp(grid, pop, cum)


def flywheel(model, creator_cum: np.ndarray, bins: int) -> dict[str, float]:
    """Public (and private) impressions per item of creators in the top vs the bottom
    quartile of mean fan intimacy, within quality strata; ratio = geometric mean over
    strata of top/bottom public impressions per item."""
    cr = model.creators
    mi = model.follows.mean_intimacy_by_creator()
    items = cr.items_published.astype(np.float64)
    ok = (items > 0) & np.isfinite(mi) & (cr.merchant < 0)
    out = {"flywheel_ratio": np.nan, "flywheel_public_top": np.nan, "flywheel_public_bottom": np.nan,
           "flywheel_private_top": np.nan}
    idx = np.flatnonzero(ok)
    if len(idx) < 8:
        return out
    q = cr.quality_mean[idx]
    edges = np.quantile(q, np.linspace(0, 1, bins + 1)[1:-1]) if bins > 1 else np.array([])
    b = np.searchsorted(edges, q, side="right")
    logs, pt, pb, vt = [], [], [], []
    for k in range(bins):
        sel = idx[b == k]
        if len(sel) < 4:
            continue
        lo, hi = np.quantile(mi[sel], [0.25, 0.75])
        top, bot = sel[mi[sel] >= hi], sel[mi[sel] <= lo]
        t = creator_cum[top, PUBLIC].sum() / items[top].sum()
        bt = creator_cum[bot, PUBLIC].sum() / items[bot].sum()
        pt.append(t)
        pb.append(bt)
        vt.append(creator_cum[top, PRIVATE].sum() / items[top].sum())
        if t > 0 and bt > 0:
            logs.append(np.log(t / bt))
    if logs:
        out["flywheel_ratio"] = float(np.exp(np.mean(logs)))
    if pt:
        out.update(flywheel_public_top=float(np.mean(pt)), flywheel_public_bottom=float(np.mean(pb)),
                   flywheel_private_top=float(np.mean(vt)))
    return out


# --------------------------------------------------------------------------- measurements


class ImpressionsByDomain(Measurement):
    name = "impressions_by_domain"
    columns = ("impressions_total",) + tuple(f"impressions_{d}" for d in DOMAINS)
    description = "impressions, and by domain: public (recommended to non-fans), commercial (ad slots), private (viewer follows the creator)"

    def measure(self, v):
        by_domain = v.imps.sum(axis=0)
        return {"impressions_total": int(v.imps.sum()), **{f"impressions_{d}": int(by_domain[j]) for j, d in enumerate(DOMAINS)}}


class ImpressionsBySource(Measurement):
    name = "impressions_by_source"
    columns = tuple(f"source_{s}" for s in SOURCES)
    description = "impressions by feed slot source"

    def measure(self, v):
        return {f"source_{s}": int(n) for s, n in zip(SOURCES, v.imps.sum(axis=1))}


class Engagements(Measurement):
    name = "engagements"
    columns = tuple(f"engagements_{a}" for a in ACTIONS)
    description = "engagements by action"

    def measure(self, v):
        return {f"engagements_{a}": int(n) for a, n in zip(ACTIONS, v.actions)}


class Follows(Measurement):
    name = "follows"
    columns = ("follows_gained", "follows_lost")
    description = "follows gained on the platform; follows lost (drift; the follow graph is shared by all platforms)"

    def measure(self, v):
        return {"follows_gained": v.follows_gained, "follows_lost": v.follows_lost}


class FanTiers(Measurement):
    name = "fan_tiers"
    kind = "stock"
    columns = ("followers_total", "fans_potential", "fans_passerby", "fans_liking", "fans_true", "mean_intimacy")
    description = "follow edges by fan tier and their mean intimacy (shared follow graph)"

    def measure(self, v):
        fg = v.model.follows
        counts = np.bincount(fg.tier, minlength=4)
        return {
            "followers_total": int(fg.n_edges),
            "fans_potential": int(counts[0]), "fans_passerby": int(counts[1]),
            "fans_liking": int(counts[2]), "fans_true": int(counts[3]),
            "mean_intimacy": float(fg.intimacy.mean()) if fg.n_edges else 0.0,
        }


class ExposureConcentration(Measurement):
    name = "exposure_concentration"
    kind = "custom"
    columns = ("exposure_gini", "top1_share", "top10_share", "visible_share")
    description = "creator exposure Gini, top-1%/10% shares, share of creators above the visibility threshold (per step: the step's impressions; summary: the run's)"

    def _values(self, x: np.ndarray, days: int, threshold: float) -> dict[str, float]:
        return {
            "exposure_gini": gini(x), "top1_share": top_share(x, 0.01), "top10_share": top_share(x, 0.10),
            "visible_share": float(np.mean(x / max(days, 1) >= threshold)) if len(x) else 0.0,
        }

    def measure(self, v):
        return self._values(v.creator_step, 1, v.model.scenario.metrics.visibility_threshold)

    def summarize(self, rows, final):
        return self._values(final.creator_cum.sum(axis=1), final.days, final.model.scenario.metrics.visibility_threshold)


class Flywheel(Measurement):
    name = "flywheel"
    kind = "stock"
    columns = ("flywheel_ratio", "flywheel_public_top", "flywheel_public_bottom", "flywheel_private_top")
    description = "public impressions per item, top vs bottom quartile of mean fan intimacy at similar quality (cumulative)"

    def measure(self, v):
        return flywheel(v.model, v.creator_cum, v.model.scenario.metrics.quality_bins)


class Money(Measurement):
    name = "money"
    columns = ("ad_revenue",)
    description = "platform ad revenue (yuan)"

    def measure(self, v):
        return {"ad_revenue": v.ad_revenue}


class Activity(Measurement):
    name = "activity"
    columns = ("active_users", "items_published")
    description = "daily active users on the platform; items published that day (all platforms)"

    def measure(self, v):
        return {"active_users": v.active_users, "items_published": int(v.model.items_published_today)}

    def summarize(self, rows, final):
        return {"active_users": float(rows["active_users"].mean()), "items_published": float(rows["items_published"].sum())}


MEASUREMENTS: list[Measurement] = [
    ImpressionsByDomain(), ImpressionsBySource(), Engagements(), Follows(), FanTiers(),
    ExposureConcentration(), Flywheel(), Money(), Activity(),
]


def measure_all(v: View) -> dict[str, float]:
    row: dict[str, float] = {}
    for m in MEASUREMENTS:
        row.update(m.measure(v))
    return row


def summarize_all(rows: pd.DataFrame, final: View) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in MEASUREMENTS:
        out.update(m.summarize(rows, final))
    return out
