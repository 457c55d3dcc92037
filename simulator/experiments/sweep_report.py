"""``trafficsim sweep-report DIR``: main effects, a heatmap for two-parameter grids and
Sobol indices (SALib) for Sobol-sampled sweeps, written to DIR/report/.

The report says when the sweep is incomplete (runs missing or failed: N of M) and when
Sobol confidence intervals are wider than the indices (the sample is too small, with the
sample size that would do)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..config.loading import ScenarioError  # noqa: E402
from ..observation.derived import impression_shares  # noqa: E402
from . import ci_half_width  # noqa: E402
from .sweep import read_manifest, read_runs  # noqa: E402
from .sweep_spec import SweepSpec  # noqa: E402

HEADLINE = ("exposure_gini", "top1_share", "private_share_impressions", "private_share_gmv", "gmv_private", "wechat_share_gmv",
            "platform_revenue",
            "cac_ad", "cac_blended", "group_churn_30d", "group_members_end", "mean_intimacy", "flywheel_ratio")


def _with_derived(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    if {"impressions_private", "impressions_total"} <= set(df.columns):
        for name, share in impression_shares(df).items():
            df[name] = share
    if {"gmv_private_platform", "gmv_private_wechat"} <= set(df.columns):
        df["gmv_private"] = df["gmv_private_platform"] + df["gmv_private_wechat"]
        if "gmv_total" in df.columns:  # WeChat's share of all GMV (NaN where nothing sold)
            df["wechat_share_gmv"] = df["gmv_private_wechat"] / df["gmv_total"].where(df["gmv_total"] > 0)
    return df


def main_effects(df: pd.DataFrame, param: str, metrics: list[str], grid: bool) -> pd.DataFrame:
    """Mean and 95% CI (Student's t over runs, :func:`ci_half_width`) of each metric per level of ``param``."""
    x = df[param] if grid else pd.qcut(df[param], q=min(5, df[param].nunique()), duplicates="drop").apply(lambda i: i.mid)
    g = df.assign(_level=x).groupby("_level")
    rows = []
    for level, part in g:
        for m in metrics:
            v = part[m].dropna()
            if len(v) == 0:  # no run at this level measured it (e.g. a 30-day metric of shorter runs)
                continue
            half = ci_half_width(v.std(ddof=1), len(v)) if len(v) > 1 else np.nan
            rows.append({"parameter": param, "level": level, "metric": m, "mean": v.mean(), "ci_low": v.mean() - half,
                         "ci_high": v.mean() + half, "runs": len(v)})
    return pd.DataFrame(rows)


def _compact(v: float) -> str:
    """A number short enough for a heatmap cell, without e-notation: 0.123, 12.3, 4,560, 521k, 1.2M."""
    if v is None or v != v:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:.3g}M"
    if a >= 1e4:
        return f"{v / 1e3:.3g}k"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def _grid(n: int, w: float = 4.2, h: float = 3.3):
    """A figure with ``n`` panels in at most three columns (readable at normal size)."""
    cols = min(3, n)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(w * cols, h * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def main_effects_figure(e: pd.DataFrame, p: str, metrics: list[str]):
    fig, axes = _grid(len(metrics))
    for ax, m in zip(axes, metrics):
        em = e[e.metric == m].sort_values("level")
        ax.plot(em.level.astype(float), em["mean"], marker="o")
        ax.fill_between(em.level.astype(float), em.ci_low, em.ci_high, alpha=0.25)
        ax.set(title=m, xlabel=p.split(".")[-1])
    fig.suptitle(f"main effect of {p} (mean over runs, band: 95% CI)")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_size_inches()[1]))  # room for the suptitle
    return fig


def heatmap_figure(ok: pd.DataFrame, a: str, b: str, metrics: list[str]):
    """One panel per metric: mean over replicates per grid cell, the value written in each cell."""
    fig, axes = _grid(len(metrics), w=4.4, h=3.6)
    for ax, m in zip(axes, metrics):
        piv = ok.pivot_table(index=a, columns=b, values=m, aggfunc="mean")
        vals = piv.to_numpy(dtype=float)
        im = ax.imshow(vals, origin="lower", aspect="auto", cmap="viridis")
        ax.set(title=m, xlabel=b.split(".")[-1], ylabel=a.split(".")[-1],
               xticks=range(len(piv.columns)), yticks=range(len(piv.index)))
        ax.set_xticklabels([f"{v:g}" for v in piv.columns], fontsize=8)
        ax.set_yticklabels([f"{v:g}" for v in piv.index], fontsize=8)
        finite = vals[np.isfinite(vals)]
        mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        size = 9 if vals.size <= 16 else 7 if vals.size <= 49 else 5
        for (i, j), v in np.ndenumerate(vals):
            ax.text(j, i, _compact(v), ha="center", va="center", fontsize=size,
                    color="white" if np.isfinite(v) and v < mid else "black")
        fig.colorbar(im, ax=ax)
    fig.suptitle(f"mean over replicates by {a.split('.')[-1]} × {b.split('.')[-1]}")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.5 / fig.get_size_inches()[1]))  # room for the suptitle
    return fig


def load(out: str | Path) -> tuple[SweepSpec, dict, pd.DataFrame, int, list[str]]:
    """The sweep settings, its manifest, one row per run that belongs to it, the number of
    runs the sweep has, and notes on what is missing or ignored."""
    out = Path(out)
    found = read_manifest(out)
    if found is None:
        raise ScenarioError(str(out), "", "not a sweep folder (its sweep.json is missing or unreadable)")
    spec, manifest = found
    df = read_runs(out) if (out / "runs").is_dir() else pd.read_parquet(out / "results.parquet")
    notes = []
    fps = manifest.get("fingerprints")
    expected = int(manifest["runs"]) if "runs" in manifest else len(spec.runs())
    if fps is not None and len(df):
        belongs = df["run_id"].map(fps).eq(df.get("fingerprint", pd.Series(index=df.index, dtype=object)))
        if (~belongs).any():
            notes.append(f"{int((~belongs).sum())} run file(s) do not match the sweep's manifest (another version "
                         "of the sweep) and are ignored")
        df = df[belongs]
    return spec, manifest, df.reset_index(drop=True), expected, notes


def sobol_notes(sob: pd.DataFrame, n: int, d: int, replicates: int, target: float = 0.1) -> list[str]:
    """A warning when some Sobol indices have 95% CIs wider than the index itself (and wider
    than ``target``): the base sample ``n`` is too small. CIs shrink like 1/sqrt(N), so the
    N for a half-width of ``target`` is about n·(half-width/target)², rounded up to a power
    of 2; given for the median of those indices and for the widest."""
    rows = pd.concat([sob[["metric", "parameter", "S1", "S1_conf"]].set_axis(["metric", "parameter", "index", "conf"], axis=1),
                      sob[["metric", "parameter", "ST", "ST_conf"]].set_axis(["metric", "parameter", "index", "conf"], axis=1)],
                     ignore_index=True)
    wide = rows[(rows.conf > rows["index"].abs()) & (rows.conf > target)]
    if wide.empty:
        return []

    def need(conf: float) -> int:
        return 2 ** int(np.ceil(np.log2(max(n * (conf / target) ** 2, n + 1))))

    med, worst = float(wide.conf.median()), wide.loc[wide.conf.idxmax()]
    n_med, n_max = need(med), need(float(worst.conf))
    text = (f"Sobol indices unreliable: {len(wide)} of {len(rows)} indices have a 95% CI wider than the index "
            f"(median ±{med:.2f}, widest ±{worst.conf:.2f} for {worst.metric} / {worst.parameter}); the sample "
            f"(samples = {n}) is too small. CIs shrink like 1/√N: for ±{target:g} on the median index use "
            f"samples ≈ {n_med} ({n_med * (d + 2) * replicates:,} runs)")
    if n_max > n_med:
        text += f"; the widest would need samples ≈ {n_max} ({n_max * (d + 2) * replicates:,} runs)"
    return [text + "."]


def report(out: str | Path, log=None) -> Path:
    """Write DIR/report/ (report.md, main_effects.csv, figures, sobol.csv); ``log`` gets
    each warning (an incomplete sweep, unreliable Sobol indices) as one line. The folder is
    made whole in a hidden sibling and then replaces the earlier report: none of the earlier
    one's files is left beside the new one (the figure of a parameter the sweep no longer
    varies, a heatmap, the Sobol indices of an earlier design), and an interrupted report
    leaves the earlier one as it was."""
    import os
    import shutil

    from ..io.outputs import clean_stale_partials

    out = Path(out)
    spec, manifest, df, expected, notes = load(out)
    clean_stale_partials(out)  # (left by a report killed outright while writing)
    stage = out / f".report.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        _report(stage, out, spec, manifest, df, expected, notes, log)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    rep = out / "report"
    if rep.is_dir():
        shutil.rmtree(rep)
    os.replace(stage, rep)
    return rep


def _report(rep: Path, out: Path, spec, manifest, df, expected, notes, log) -> None:
    """:func:`report`'s files, written into ``rep``."""
    df = _with_derived(df)
    ok = df[df["status"] == "ok"] if len(df) else df
    if len(ok) < expected:
        sweep_file = manifest.get("sweep_file") or "SWEEP.toml"
        notes.insert(0, f"incomplete sweep: {len(df)} of {expected} runs present, {len(ok)} succeeded "
                        f"({len(df) - len(ok)} failed, {expected - len(df)} missing); the figures use the "
                        f"{len(ok)} successful runs. Finish it with: trafficsim sweep {sweep_file} --out {out} --resume")
    # metrics as numbers (a value a run could not measure is null in its JSON, NaN here);
    # those no run measured (a 30-day metric of shorter runs) are left out, and said so
    ok = ok.assign(**{m: pd.to_numeric(ok[m], errors="coerce") for m in HEADLINE if m in ok.columns})
    metrics = [m for m in HEADLINE if m in ok.columns and ok[m].notna().any()]
    unmeasured = [m for m in HEADLINE if m in ok.columns and m not in metrics]
    params = list(spec.parameters)
    grid = spec.method == "grid"
    lines = [f"# Sweep report: {spec.name}", "",
             (f"{len(ok)} of {expected} runs succeeded ({len(df)} present, {len(df) - len(ok)} failed); method "
              f"{spec.method}; {spec.replicates} replicate{'' if spec.replicates == 1 else 's'} per point; "
              f"parameters: {', '.join(params)}."), ""]
    body: list[str] = []
    if len(ok) and unmeasured:
        body += [f"Not measured by any run, left out: {', '.join(unmeasured)} (the 30-day metrics need runs of at "
                 "least 30 days, group_churn_30d of 31).", ""]
    effects = pd.concat([main_effects(ok, p, metrics, grid) for p in params], ignore_index=True) if len(ok) else pd.DataFrame()
    if len(effects):
        effects.to_csv(rep / "main_effects.csv", index=False)
        for p in params:
            fig = main_effects_figure(effects[effects.parameter == p], p, metrics)
            name = f"main_effect_{p.replace('.', '_')}.png"
            fig.savefig(rep / name, dpi=100)
            plt.close(fig)
            body += [f"## Main effect of `{p}`", "", f"![{p}]({name})", ""]
    if grid and len(params) == 2 and len(ok):
        fig = heatmap_figure(ok, params[0], params[1], metrics)
        fig.savefig(rep / "heatmap.png", dpi=100)
        plt.close(fig)
        body += ["## Two-parameter grid", "", "![heatmap](heatmap.png)", ""]
    if spec.method == "sobol" and len(ok) == expected:
        from SALib.analyze import sobol

        rows = []
        means = ok.groupby("point")[metrics].mean().sort_index()
        for m in metrics:
            if means[m].isna().any():
                body += [f"No Sobol indices for `{m}`: some design points did not measure it.", ""]
                continue
            if means[m].nunique() < 2:  # (SALib would divide by its zero spread: NaN indices)
                body += [f"No Sobol indices for `{m}`: it has the same value at every design point, so there is "
                         "no variance to apportion.", ""]
                continue
            res = sobol.analyze(spec.salib_problem(), means[m].to_numpy(), calc_second_order=False, seed=spec.seed)
            for k, p in enumerate(params):
                rows.append({"metric": m, "parameter": p, "S1": res["S1"][k], "S1_conf": res["S1_conf"][k],
                             "ST": res["ST"][k], "ST_conf": res["ST_conf"][k]})
        sob = pd.DataFrame(rows, columns=["metric", "parameter", "S1", "S1_conf", "ST", "ST_conf"])
        sob.to_csv(rep / "sobol.csv", index=False)
        warn = sobol_notes(sob, spec.samples, len(params), spec.replicates)
        notes += warn
        body += ["## Sobol indices (first order S1, total ST; *_conf: half-width of the 95% CI)", ""]
        body += [x for w in warn for x in (f"**Warning:** {w}", "")]
        body += [sob.to_markdown(index=False, floatfmt=".3f") if _has_tabulate() else sob.to_string(index=False), ""]
    elif spec.method == "sobol":
        body += [f"Sobol indices need every run of the Saltelli design ({expected}); {len(ok)} succeeded, so none are "
                 "computed.", ""]
    lines += [f"**Warning:** {n}\n" for n in notes] + body
    (rep / "report.md").write_text("\n".join(lines) + "\n")
    if log is not None:
        for n in notes:
            log(n)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False
