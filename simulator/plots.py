"""Run plots (PNG). Each function takes the run's tables and a path, draws one figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .metrics import lorenz  # noqa: E402
from .state import DOMAINS  # noqa: E402

DOMAIN_COLORS = {"public": "#4C72B0", "commercial": "#DD8452", "private": "#55A868"}


def domain_shares(metrics: pd.DataFrame, path: Path) -> None:
    """Share of impressions by domain over time, one panel per platform."""
    names = [p for p in metrics["platform"].unique() if p != "all"] or ["all"]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        df = metrics[metrics["platform"] == name]
        total = df["impressions_total"].replace(0, np.nan)
        shares = [df[f"impressions_{d}"] / total for d in DOMAINS]
        ax.stackplot(df["step"], *shares, labels=DOMAINS, colors=[DOMAIN_COLORS[d] for d in DOMAINS])
        ax.set(title=f"{name}: impressions by domain", xlabel="day", ylabel="share", ylim=(0, 1))
    axes[0][0].legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def lorenz_curves(exposure: dict[str, np.ndarray], path: Path) -> None:
    """Lorenz curves of creator exposure, one line per platform (or scenario)."""
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for name, x in exposure.items():
        px, py = lorenz(x)
        ax.plot(px, py, label=name)
    ax.set(title="Creator exposure (Lorenz)", xlabel="share of creators (least exposed first)", ylabel="share of impressions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fan_tiers(metrics: pd.DataFrame, path: Path) -> None:
    """Follow edges by fan tier over time."""
    df = metrics[metrics["platform"] == "all"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for tier in ("potential", "passerby", "liking", "true"):
        ax.plot(df["step"], df[f"fans_{tier}"], label=tier)
    ax.set(title="Fans by tier", xlabel="day", ylabel="follow edges")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
