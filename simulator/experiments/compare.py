"""``trafficsim compare A.toml B.toml ...``: scenarios side by side over replicates.

Every scenario runs on the same population and the same replicate seeds (from one
``SeedSequence``), so the differences are the platforms'. Writes ``comparison.csv``
(rows = metrics; per scenario: mean, 95% CI low, 95% CI high), ``comparison.md`` (a
readable table with one interpretation line per headline metric) and plots.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ..config import Scenario  # noqa: E402
from ..observation.inequality import lorenz  # noqa: E402
from ..io.outputs import atomic_dir, write_json  # noqa: E402
from ..io.plots import DOMAIN_COLORS, GMV_COLORS, save  # noqa: E402
from ..state.vocabulary import DOMAINS  # noqa: E402

HEADLINE = {
    "private_share_impressions": "share of impressions in the private domain",
    "private_share_gmv": "private-domain share of GMV (platform + WeChat)",
    "private_share_tips": "private-domain share of tips",
    "private_share_comments": "private-domain share of comments",
    "exposure_gini": "creator exposure Gini",
    "top1_share": "top-1% creators' share of exposure",
    "visible_share": "share of creators above the visibility threshold",
    "flywheel_ratio": "public reach per item, close-fan vs distant-fan creators",
    "mean_intimacy": "mean fan intimacy",
    "fans_true": "true fans (follow edges)",
    "gmv_total": "GMV (yuan)",
    "ad_revenue": "platform ad revenue (yuan)",
    "commission_revenue": "platform commission revenue (yuan)",
    "commission_tips_share": "share of platform revenue from commissions and tips",
    "cac": "customer-acquisition cost (yuan per new buyer)",
    "group_churn_30d": "fan-group churn",
}


def derived_totals(totals: dict) -> dict:
    """Ratios the comparison reports besides the run's own summary."""
    out = dict(totals)
    out["private_share_impressions"] = totals["impressions_private"] / max(totals["impressions_total"], 1)
    rev = totals["platform_revenue"]
    out["ad_share_of_revenue"] = totals["ad_revenue"] / rev if rev > 0 else float("nan")
    out["commission_tips_share"] = (totals["commission_revenue"] + totals["tip_revenue"]) / rev if rev > 0 else float("nan")
    return out


def run_replicate(task: dict) -> dict:
    """One scenario × replicate (picklable; runs in a worker)."""
    import numba

    from ..model import TrafficModel

    if task.get("single_thread"):
        numba.set_num_threads(1)
    model = TrafficModel(Scenario.model_validate(task["scenario"]), agents=False)
    model.run()
    df = model.metrics_frame()
    totals = derived_totals(model.summary()["totals"])
    return {"label": task["label"], "replicate": task["replicate"], "totals": totals,
            "steps": df[df.platform == "all"].to_dict("list"),
            "exposure": model.creators.impressions.sum(axis=(0, 2)).tolist()}


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    half = 1.96 * v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0
    return v.mean(), v.mean() - half, v.mean() + half


def run_all(scenarios: dict[str, Scenario], replicates: int = 5, seed: int | None = None,
            executor: Executor | None = None, progress=None) -> tuple[list[dict], list[int], float]:
    """Run every scenario ``replicates`` times; replicate r of every scenario uses the same
    seed. Returns the replicate results, the seeds and the elapsed seconds."""
    first = next(iter(scenarios.values()))
    base_seed = first.seed if seed is None else seed
    seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
             for s in np.random.SeedSequence(base_seed).spawn(replicates)]
    tasks = [{"label": label, "replicate": r, "single_thread": executor is not None,
              "scenario": sc.model_copy(update={"seed": seeds[r]}).model_dump(mode="json")}
             for label, sc in scenarios.items() for r in range(replicates)]
    t0 = time.perf_counter()
    results = []
    if executor is None:
        for t in tasks:
            results.append(run_replicate(t))
            if progress:
                progress()
    else:
        for f in [executor.submit(run_replicate, t) for t in tasks]:
            results.append(f.result())
            if progress:
                progress()
    return results, seeds, time.perf_counter() - t0


def compare(scenarios: dict[str, Scenario], replicates: int = 5, seed: int | None = None,
            executor: Executor | None = None, out: Path | None = None, progress=None) -> pd.DataFrame:
    """Run every scenario ``replicates`` times and return the comparison table.

    ``scenarios`` maps a label to a resolved :class:`Scenario`; replicate r of every
    scenario uses the same seed.
    """
    results, seeds, elapsed = run_all(scenarios, replicates, seed, executor, progress)
    table = _table(results, list(scenarios))
    if out is not None:
        write_comparison(out, table, results, scenarios, seeds, elapsed)
    return table


def _table(results: list[dict], labels: list[str]) -> pd.DataFrame:
    metrics = list(results[0]["totals"])
    rows = []
    for m in metrics:
        row = {"metric": m}
        for label in labels:
            vals = [r["totals"][m] for r in results if r["label"] == label]
            row[f"{label}_mean"], row[f"{label}_ci_low"], row[f"{label}_ci_high"] = _ci(np.array(vals, dtype=object))
        rows.append(row)
    return pd.DataFrame(rows).set_index("metric")


def interpret(table: pd.DataFrame, labels: list[str], metric: str) -> str:
    """One line: which scenario is higher, and whether the 95% CIs overlap."""
    means = {lb: table.loc[metric, f"{lb}_mean"] for lb in labels}
    if any(v != v for v in means.values()):
        return f"{metric}: not available in every scenario."
    hi = max(means, key=means.get)
    lo = min(means, key=means.get)
    if hi == lo:
        return f"{metric}: equal."
    separated = table.loc[metric, f"{hi}_ci_low"] > table.loc[metric, f"{lo}_ci_high"]
    return (f"{HEADLINE.get(metric, metric)} is higher in {hi} ({means[hi]:.3g}) than in {lo} ({means[lo]:.3g})"
            + ("; the 95% CIs do not overlap." if separated else "; the 95% CIs overlap, so the difference is not clear."))


def headline_markdown(table: pd.DataFrame, labels: list[str]) -> str:
    lines = ["| metric | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for m in HEADLINE:
        if m not in table.index:
            continue
        cells = [f"{table.loc[m, f'{lb}_mean']:.4g} [{table.loc[m, f'{lb}_ci_low']:.4g}, {table.loc[m, f'{lb}_ci_high']:.4g}]"
                 for lb in labels]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_comparison(out: Path, table: pd.DataFrame, results: list[dict], scenarios: dict[str, Scenario],
                     seeds: list[int], elapsed: float) -> None:
    labels = list(scenarios)
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / "comparison.csv")
        md = [f"# Comparison: {' vs '.join(labels)}", "",
              f"{len(seeds)} replicates per scenario on the same population and seeds; mean [95% CI].", "",
              headline_markdown(table, labels), "", "## Reading", ""]
        md += [f"- {interpret(table, labels, m)}" for m in HEADLINE if m in table.index]
        (tmp / "comparison.md").write_text("\n".join(md) + "\n")
        (tmp / "plots").mkdir()
        _plots(tmp / "plots", results, labels)
        write_json(tmp / "manifest.json", {"scenarios": {lb: sc.name for lb, sc in scenarios.items()},
                                            "replicate_seeds": seeds, "elapsed_s": round(elapsed, 2)})
        for lb, sc in scenarios.items():
            from ..config import to_toml

            (tmp / f"scenario_{lb}.toml").write_text(to_toml(sc))


def _stacked_bars(path: Path, title: str, labels: list[str], parts: list[tuple[str, str, np.ndarray]], **axes) -> None:
    """One stacked bar per scenario; ``parts`` are (legend label, color, value per scenario)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    bottom = np.zeros(len(labels))
    for name, color, values in parts:
        ax.bar(labels, values, bottom=bottom, label=name, color=color)
        bottom += values
    ax.set(title=title, **axes)
    ax.legend(fontsize=8)
    save(fig, path)


def _plots(folder: Path, results: list[dict], labels: list[str]) -> None:
    def mean(key: str, per: str | None = None) -> np.ndarray:
        """Per scenario, the mean over replicates of the run's total ``key`` (divided by
        the total ``per`` when given; 0 when that is 0)."""
        def value(t: dict) -> float:
            return t[key] if per is None else (t[key] / t[per] if t[per] > 0 else 0.0)
        return np.array([np.mean([value(r["totals"]) for r in results if r["label"] == lb]) for lb in labels])

    # Lorenz curves of creator exposure (mean curve over replicates)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for lb in labels:
        ys = [lorenz(np.array(r["exposure"]))[1] for r in results if r["label"] == lb]
        ax.plot(np.linspace(0, 1, len(ys[0])), np.mean(ys, axis=0), label=lb)
    ax.set(title="Creator exposure (Lorenz)", xlabel="share of creators", ylabel="share of impressions")
    ax.legend(fontsize=8)
    save(fig, folder / "lorenz.png")
    # domain shares of impressions
    _stacked_bars(folder / "domain_shares.png", "Impressions by domain", labels, [
        (d, DOMAIN_COLORS[d], mean(f"impressions_{d}", "impressions_total"))
        for d in DOMAINS], ylabel="share", ylim=(0, 1))
    # fan tier funnel
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    tiers = ("potential", "passerby", "liking", "true")
    width = 0.8 / len(labels)
    fans = np.array([mean(f"fans_{t}") for t in tiers])  # tiers × scenarios
    for i, lb in enumerate(labels):
        ax.bar(np.arange(4) + i * width, fans[:, i], width, label=lb)
    ax.set_xticks(np.arange(4) + width * (len(labels) - 1) / 2, tiers)
    ax.set(title="Fan tiers at the end", ylabel="follow edges")
    ax.legend(fontsize=8)
    save(fig, folder / "fan_tiers.png")
    # top-1% share over time
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for lb in labels:
        series = [np.array(r["steps"]["top1_share"]) for r in results if r["label"] == lb]
        ax.plot(results[0]["steps"]["step"], np.mean(series, axis=0), label=lb)
    ax.set(title="Top-1% creators' share of the day's exposure", xlabel="day", ylabel="share")
    ax.legend(fontsize=8)
    save(fig, folder / "top1_share.png")
    # GMV by domain
    _stacked_bars(folder / "gmv_domain_shares.png", "GMV by domain", labels, [
        (c[4:], color, mean(c, "gmv_total"))
        for c, color in GMV_COLORS.items()], ylabel="share", ylim=(0, 1))
    # private GMV and group size over time
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    steps = results[0]["steps"]["step"]
    for lb in labels:
        runs = [r["steps"] for r in results if r["label"] == lb]
        a1.plot(steps, np.mean([np.add(s["gmv_private_platform"], s["gmv_private_wechat"]) for s in runs], axis=0), label=lb)
        a2.plot(steps, np.mean([s["group_members"] for s in runs], axis=0), label=lb)
    a1.set(title="Private GMV per day (platform + WeChat)", xlabel="day", ylabel="yuan")
    a2.set(title="Fan-group members", xlabel="day", ylabel="members")
    a1.legend(fontsize=8)
    save(fig, folder / "private_gmv_groups.png")
    # platform revenue mix
    _stacked_bars(folder / "revenue_mix.png", "Platform revenue mix", labels, [
        (c.replace("_revenue", ""), color, mean(c))
        for c, color in (("ad_revenue", "#DD8452"), ("commission_revenue", "#55A868"), ("tip_revenue", "#8172B3"))],
        ylabel="yuan over the run")
