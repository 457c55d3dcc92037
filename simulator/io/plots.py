"""Run plots (PNG). Each function takes the run's tables and a path, draws one figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..observation.inequality import lorenz  # noqa: E402
from ..state.vocabulary import DOMAINS  # noqa: E402

DOMAIN_COLORS = {"public": "#4C72B0", "commercial": "#DD8452", "private": "#55A868"}


def save(fig, path: Path) -> None:
    """Write a finished figure as PNG and free it."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _platform_panels(metrics: pd.DataFrame, width: float = 5.0):
    """One panel per platform (or the ``all`` rows when there is none): (fig, [(ax, name)])."""
    names = [p for p in metrics["platform"].unique() if p != "all"] or ["all"]
    fig, axes = plt.subplots(1, len(names), figsize=(width * len(names), 3.6), squeeze=False)
    return fig, list(zip(axes[0], names))


def domain_shares(metrics: pd.DataFrame, path: Path) -> None:
    """Share of impressions by domain over time, one panel per platform."""
    fig, panels = _platform_panels(metrics)
    for ax, name in panels:
        df = metrics[metrics["platform"] == name]
        total = df["impressions_total"].replace(0, np.nan)
        shares = [df[f"impressions_{d}"] / total for d in DOMAINS]
        ax.stackplot(df["step"], *shares, labels=DOMAINS, colors=[DOMAIN_COLORS[d] for d in DOMAINS])
        ax.set(title=f"{name}: impressions by domain", xlabel="day", ylabel="share", ylim=(0, 1))
    panels[0][0].legend(loc="lower left", fontsize=8)
    save(fig, path)


def lorenz_curves(exposure: dict[str, np.ndarray], path: Path) -> None:
    """Lorenz curves of creator exposure, one line per platform (or scenario)."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for name, x in exposure.items():
        px, py = lorenz(x)
        ax.plot(px, py, label=name)
    ax.set(title="Creator exposure (Lorenz)", xlabel="share of creators (least exposed first)", ylabel="share of impressions")
    ax.legend(fontsize=8)
    save(fig, path)


def fan_tiers(metrics: pd.DataFrame, path: Path) -> None:
    """Follow edges by fan tier over time."""
    df = metrics[metrics["platform"] == "all"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for tier in ("potential", "passerby", "liking", "true"):
        ax.plot(df["step"], df[f"fans_{tier}"], label=tier)
    ax.set(title="Fans by tier", xlabel="day", ylabel="follow edges")
    ax.legend(fontsize=8)
    save(fig, path)


GMV_COLORS = {"gmv_public": "#4C72B0", "gmv_commercial": "#DD8452", "gmv_private_platform": "#55A868",
              "gmv_private_wechat": "#8172B3"}


def gmv_by_domain(metrics: pd.DataFrame, path: Path) -> None:
    """Daily GMV by domain (public, commercial, private on the platform, private on WeChat)."""
    fig, panels = _platform_panels(metrics)
    for ax, name in panels:
        df = metrics[metrics["platform"] == name]
        ax.stackplot(df["step"], *[df[c] for c in GMV_COLORS], labels=[c[4:] for c in GMV_COLORS],
                     colors=list(GMV_COLORS.values()))
        ax.set(title=f"{name}: GMV by domain", xlabel="day", ylabel="yuan per day")
    panels[0][0].legend(loc="upper left", fontsize=7)
    save(fig, path)


def cac_over_time(metrics: pd.DataFrame, path: Path, window: int = 7) -> None:
    """Customer-acquisition cost over a rolling window: ad-attributed (ad spend / new buyers
    whose first order came from an ad; solid) and blended (ad spend / all new buyers;
    dashed), with the effective CPM (dotted)."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax2 = ax.twinx()
    for k, name in enumerate(p for p in metrics["platform"].unique() if p != "all"):
        df, color = metrics[metrics["platform"] == name], f"C{k}"
        spend = df["ad_revenue"].rolling(window, min_periods=1).sum()
        for column, ls, kind in (("new_buyers_ad", "-", "ad-attributed"), ("new_buyers", "--", "blended")):
            new = df[column].rolling(window, min_periods=1).sum().replace(0, np.nan)
            ax.plot(df["step"], spend / new, ls=ls, color=color, label=f"{name} CAC, {kind}")
        ax2.plot(df["step"], df["cpm_effective"], ls=":", color=color, label=f"{name} CPM")
    ax.set(title=f"Customer-acquisition cost ({window}-day window)", xlabel="day", ylabel="yuan per new buyer")
    ax2.set_ylabel("effective CPM (dotted)")
    ax.legend(fontsize=7, loc="upper left")
    save(fig, path)


def group_size(metrics: pd.DataFrame, path: Path) -> None:
    """Fan-group members and WeChat contacts over time."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for name in [p for p in metrics["platform"].unique() if p != "all"]:
        df = metrics[metrics["platform"] == name]
        ax.plot(df["step"], df["group_members"], label=f"{name} group members")
        if df["wechat_contacts"].max() > 0:
            ax.plot(df["step"], df["wechat_contacts"], ls="--", label=f"{name} → WeChat contacts")
    ax.set(title="Private channels", xlabel="day", ylabel="people")
    ax.legend(fontsize=7)
    save(fig, path)


def merchant_roi(merchants: pd.DataFrame, path: Path) -> None:
    """Merchant ROI (profit / (ad spend + commission + creator cut)) by strategy: one dot per merchant, bar = mean."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    strategies = sorted(merchants["strategy"].unique()) if len(merchants) else []
    for k, s in enumerate(strategies):
        roi = merchants.loc[merchants["strategy"] == s, "roi"].dropna()
        if len(roi):
            ax.bar(k, roi.mean(), color="#cccccc")
            ax.scatter(np.full(len(roi), k) + np.linspace(-0.15, 0.15, len(roi)), roi, s=12, color="#4C72B0", zorder=3)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(range(len(strategies)), strategies, rotation=20, fontsize=8)
    ax.set(title="Merchant ROI by strategy", ylabel="profit / cost")
    save(fig, path)
