"""``trafficsim sweep-report DIR``: main effects, a heatmap for two-parameter grids and
Sobol indices (SALib) for Sobol-sampled sweeps, written to DIR/report/."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .sweep import SweepSpec  # noqa: E402

HEADLINE = ("exposure_gini", "top1_share", "private_share", "private_share_gmv", "gmv_private", "platform_revenue",
            "group_churn_30d", "group_members_end", "mean_intimacy", "flywheel_ratio")


def _with_derived(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if {"impressions_private", "impressions_total"} <= set(df.columns):
        df["private_share"] = df["impressions_private"] / df["impressions_total"].replace(0, np.nan)
    if {"gmv_private_platform", "gmv_private_wechat"} <= set(df.columns):
        df["gmv_private"] = df["gmv_private_platform"] + df["gmv_private_wechat"]
    return df


def main_effects(df: pd.DataFrame, param: str, metrics: list[str], grid: bool) -> pd.DataFrame:
    """Mean and 95% CI (normal approximation over runs) of each metric per level of ``param``."""
    x = df[param] if grid else pd.qcut(df[param], q=min(5, df[param].nunique()), duplicates="drop").apply(lambda i: i.mid)
    g = df.assign(_level=x).groupby("_level")
    rows = []
    for level, part in g:
        for m in metrics:
            v = part[m].dropna()
            half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else np.nan
            rows.append({"parameter": param, "level": level, "metric": m, "mean": v.mean(), "ci_low": v.mean() - half,
                         "ci_high": v.mean() + half, "runs": len(v)})
    return pd.DataFrame(rows)


def report(out: str | Path) -> Path:
    out = Path(out)
    spec = SweepSpec(**json.loads((out / "sweep.json").read_text()))
    df = _with_derived(pd.read_parquet(out / "results.parquet"))
    ok = df[df["status"] == "ok"]
    rep = out / "report"
    rep.mkdir(exist_ok=True)
    metrics = [m for m in HEADLINE if m in ok.columns]
    params = list(spec.parameters)
    grid = spec.method == "grid"
    lines = [f"# Sweep report: {spec.name}", "",
             f"{len(df)} runs ({len(ok)} ok, {len(df) - len(ok)} failed); method {spec.method}; "
             f"{spec.replicates} replicates; parameters: {', '.join(params)}.", ""]
    effects = pd.concat([main_effects(ok, p, metrics, grid) for p in params], ignore_index=True) if len(ok) else pd.DataFrame()
    if len(effects):
        effects.to_csv(rep / "main_effects.csv", index=False)
        for p in params:
            e = effects[effects.parameter == p]
            fig, axes = plt.subplots(1, len(metrics), figsize=(3.2 * len(metrics), 3), squeeze=False)
            for ax, m in zip(axes[0], metrics):
                em = e[e.metric == m].sort_values("level")
                ax.plot(em.level.astype(float), em["mean"], marker="o")
                ax.fill_between(em.level.astype(float), em.ci_low, em.ci_high, alpha=0.25)
                ax.set(title=m, xlabel=p.split(".")[-1])
            fig.suptitle(f"main effect of {p} (mean, 95% CI)")
            fig.tight_layout()
            name = f"main_effect_{p.replace('.', '_')}.png"
            fig.savefig(rep / name, dpi=100)
            plt.close(fig)
            lines += [f"## Main effect of `{p}`", "", f"![{p}]({name})", ""]
    if grid and len(params) == 2 and len(ok):
        a, b = params
        fig, axes = plt.subplots(1, len(metrics), figsize=(3.4 * len(metrics), 3), squeeze=False)
        for ax, m in zip(axes[0], metrics):
            piv = ok.pivot_table(index=a, columns=b, values=m, aggfunc="mean")
            im = ax.imshow(piv.values, origin="lower", aspect="auto")
            ax.set(title=m, xlabel=b.split(".")[-1], ylabel=a.split(".")[-1],
                   xticks=range(len(piv.columns)), yticks=range(len(piv.index)))
            ax.set_xticklabels([f"{v:g}" for v in piv.columns], fontsize=7)
            ax.set_yticklabels([f"{v:g}" for v in piv.index], fontsize=7)
            fig.colorbar(im, ax=ax)
        fig.tight_layout()
        fig.savefig(rep / "heatmap.png", dpi=100)
        plt.close(fig)
        lines += ["## Two-parameter grid", "", "![heatmap](heatmap.png)", ""]
    if spec.method == "sobol" and len(ok) == len(df):
        from SALib.analyze import sobol

        rows = []
        means = ok.groupby("point")[metrics].mean().sort_index()
        for m in metrics:
            res = sobol.analyze(spec.salib_problem(), means[m].to_numpy(), calc_second_order=False, seed=spec.seed)
            for k, p in enumerate(params):
                rows.append({"metric": m, "parameter": p, "S1": res["S1"][k], "S1_conf": res["S1_conf"][k],
                             "ST": res["ST"][k], "ST_conf": res["ST_conf"][k]})
        sob = pd.DataFrame(rows)
        sob.to_csv(rep / "sobol.csv", index=False)
        lines += ["## Sobol indices (first order S1, total ST)", "", sob.to_markdown(index=False, floatfmt=".3f")
                  if _has_tabulate() else sob.to_string(index=False), ""]
    elif spec.method == "sobol":
        lines += ["Sobol indices need every run of the Saltelli design; some failed, so none are computed.", ""]
    (rep / "report.md").write_text("\n".join(lines) + "\n")
    return rep


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False
