"""``trafficsim compare A.toml B.toml ...``: scenarios side by side over replicates.

Every scenario runs on the same population and the same replicate seeds (from one
``SeedSequence``), so the differences are the platforms'. Writes ``comparison.csv``
(rows = metrics; per scenario: mean, 95% CI low, 95% CI high), ``replicates.csv`` (the
per-replicate summaries those are computed from: :func:`replicate_table`), ``comparison.md`` (a
readable table with one interpretation line per headline metric), ``report.html`` (the
same on one self-contained page with every plot and the scenarios' differences), the
manifest and plots. Confidence intervals need at least 2 replicates.
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
from .._deferred import import_model  # noqa: E402
from ..feeds.numpy_kernels import expect_user_days, one_kernel_thread  # noqa: E402
from . import MIN_REPLICATES, ci_half_width, feed_user_days, user_days_share  # noqa: E402
from ..observation.derived import impression_shares  # noqa: E402
from ..observation.inequality import lorenz  # noqa: E402
from ..io import report  # noqa: E402
from ..io.outputs import atomic_dir, manifest, write_json, write_text_atomic  # noqa: E402
from ..io.plots import DOMAIN_COLORS, GMV_COLORS, save  # noqa: E402
from ..state.vocabulary import DOMAINS, TIERS  # noqa: E402

# the headline metrics of the tables and reading lines (labels and units: io.report.METRICS)
HEADLINE = ("private_share_impressions", "private_share_gmv", "private_share_tips", "private_share_comments",
            "exposure_gini", "top1_share", "visible_share", "flywheel_ratio", "mean_intimacy", "fans_true",
            "gmv_total", "ad_revenue", "commission_revenue", "commission_tips_share", "cac_ad", "cac_blended",
            "cac_ad_trend", "new_creator_success", "merchants_exited", "group_churn_30d")
COMPARE_FILES = ("comparison.csv", "replicates.csv", "comparison.md", "report.html", "manifest.json", "scenario_<label>.toml",
                 "plots/lorenz.png", "plots/domain_shares.png", "plots/fan_tiers.png", "plots/top1_share.png",
                 "plots/gmv_domain_shares.png", "plots/private_gmv_groups.png", "plots/revenue_mix.png")


def derived_totals(totals: dict, days: int) -> dict:
    """Ratios the comparison reports besides the run's own summary. ``cac_ad_trend`` (last
    30 days' ad-attributed CAC over the first 30 days') needs two windows that do not
    overlap: NaN below ``report.WINDOW_NEEDS`` days."""
    out = dict(totals)
    out.update(impression_shares(totals))
    rev = totals["platform_revenue"]
    out["ad_share_of_revenue"] = totals["ad_revenue"] / rev if rev > 0 else float("nan")
    out["commission_tips_share"] = (totals["commission_revenue"] + totals["tip_revenue"]) / rev if rev > 0 else float("nan")
    first, last = totals.get("cac_ad_first_30d", float("nan")), totals.get("cac_ad_last_30d", float("nan"))
    measurable = days >= report.WINDOW_NEEDS["cac_ad_trend"] and first == first and last == last and first > 0
    out["cac_ad_trend"] = last / first if measurable else float("nan")
    return out


def run_replicate(task: dict) -> dict:
    """One scenario × replicate (picklable; runs in a worker)."""
    TrafficModel = import_model()  # a fresh worker imports it lean (simulator/_deferred.py)

    if task.get("single_thread"):
        one_kernel_thread()
    expect_user_days(task.get("user_days", 0))  # this worker's share of the comparison
    model = TrafficModel(Scenario.model_validate(task["scenario"]), seed="scenario", agents=False)
    model.run()
    df = model.metrics_frame()
    summary = model.summary()
    return {"label": task["label"], "replicate": task["replicate"], "seed": task["scenario"]["seed"],
            "totals": derived_totals(summary["totals"], model.day),
            "platforms": {name: derived_totals(values, model.day) for name, values in summary["platforms"].items()},
            "steps": df[df.platform == "all"].to_dict("list"),
            "exposure": model.creators.impressions.sum(axis=(0, 2)).tolist()}


def _ci(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and 95% CI (Student's t, :func:`ci_half_width`); the CI is NaN (unknown) below
    2 values, never a zero-width interval that would claim certainty."""
    v = np.asarray([x for x in values if x is not None and x == x], dtype=float)
    if len(v) == 0:
        return np.nan, np.nan, np.nan
    if len(v) < MIN_REPLICATES:
        return v.mean(), np.nan, np.nan
    half = ci_half_width(v.std(ddof=1), len(v))
    return v.mean(), v.mean() - half, v.mean() + half


def base_seed(scenarios: dict[str, Scenario], seed: int | None) -> int:
    """The seed the replicate seeds are spawned from: ``seed``, else the first scenario's."""
    return next(iter(scenarios.values())).seed if seed is None else seed


def run_all(scenarios: dict[str, Scenario], replicates: int = 5, seed: int | None = None,
            executor: Executor | None = None, progress=None) -> tuple[list[dict], list[int], float]:
    """Run every scenario ``replicates`` times; replicate r of every scenario uses the same
    seed. Returns the replicate results, the seeds and the elapsed seconds."""
    seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
             for s in np.random.SeedSequence(base_seed(scenarios, seed)).spawn(replicates)]
    share = user_days_share([feed_user_days(sc) for sc in scenarios.values() for _ in range(replicates)], executor)
    tasks = [{"label": label, "replicate": r, "single_thread": executor is not None, "user_days": share,
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
            executor: Executor | None = None, out: Path | None = None, progress=None,
            command: list[str] | None = None) -> pd.DataFrame:
    """Run every scenario ``replicates`` times and return the comparison table.

    ``scenarios`` maps a label to a resolved :class:`Scenario`; replicate r of every
    scenario uses the same seed. ``replicates`` must be at least 2 (the 95% CIs need a
    spread); ``command`` is recorded in the manifest.
    """
    if replicates < MIN_REPLICATES:
        raise ValueError(f"replicates: got {replicates}; a comparison needs at least {MIN_REPLICATES} "
                         "(95% confidence intervals)")
    results, seeds, elapsed = run_all(scenarios, replicates, seed, executor, progress)
    table = _table(results, list(scenarios))
    if out is not None:
        write_comparison(out, table, results, scenarios, seeds, elapsed,
                         seed=base_seed(scenarios, seed), command=command)
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


REPLICATE_KEYS = ("scenario", "replicate", "seed", "platform")


def replicate_table(results: list[dict], labels: list[str]) -> pd.DataFrame:
    """``replicates.csv``: one row per scenario label × replicate × platform, in the
    labels' order, then replicate order, then ``all`` before the scenario's platforms;
    columns :data:`REPLICATE_KEYS` (``seed``: the replicate's seed, the same for every
    scenario), then every summary metric. The ``all`` rows hold each replicate's totals
    (the run's summary totals and :func:`derived_totals`' ratios), the values the means
    and 95% CIs of ``comparison.csv`` and validate's targets are computed from; a
    platform's row holds that platform's summary with the same ratios. Independent of
    the executor: rows are ordered here, not in the order the runs finished."""
    rows = []
    for label in labels:
        for r in sorted((r for r in results if r["label"] == label), key=lambda r: r["replicate"]):
            for platform, values in (("all", r["totals"]), *r["platforms"].items()):
                clash = set(REPLICATE_KEYS) & set(values)
                if clash:  # (a metric named like a key column would overwrite it)
                    raise ValueError(f"replicates.csv: metric(s) named like its key columns: {sorted(clash)}")
                rows.append({"scenario": label, "replicate": r["replicate"], "seed": r["seed"],
                             "platform": platform, **values})
    return pd.DataFrame(rows, columns=list(dict.fromkeys(k for row in rows for k in row)))


def interpret(table: pd.DataFrame, labels: list[str], metric: str) -> str:
    """One line: which scenario is higher, and whether the 95% CIs overlap."""
    means = {lb: table.loc[metric, f"{lb}_mean"] for lb in labels}
    name = report.label(metric)
    if any(v != v for v in means.values()):
        days = report.needs_days(metric)
        return f"{name}: not available in every scenario" + (f" (needs runs of ≥ {days} days)." if days else ".")
    hi = max(means, key=means.get)
    lo = min(means, key=means.get)
    if hi == lo or means[hi] == means[lo]:
        return f"{name}: equal in every scenario ({report.fmt(means[hi])})."
    u = report.unit(metric)
    u = f" {u}" if u and u not in ("share", "ratio") and not u.endswith("0-1") else ""
    line = f"{name} is higher in {hi} ({report.fmt(means[hi])}{u}) than in {lo} ({report.fmt(means[lo])}{u})"
    hi_low, lo_high = table.loc[metric, f"{hi}_ci_low"], table.loc[metric, f"{lo}_ci_high"]
    if hi_low != hi_low or lo_high != lo_high:
        return line + "; no 95% CI (fewer than 2 replicates), so no claim that the difference is clear."
    return line + ("; the 95% CIs do not overlap." if hi_low > lo_high
                   else "; the 95% CIs overlap, so the difference is not clear.")


def headline_rows(table: pd.DataFrame, labels: list[str]) -> list[list[str]]:
    """[label, unit, "mean ± 95% CI half-width" per scenario] per headline metric."""
    return [[report.label(m), report.unit(m),
             *(report.fmt_ci(*(table.loc[m, f"{lb}_{c}"] for c in ("mean", "ci_low", "ci_high")), metric=m)
               for lb in labels)]
            for m in HEADLINE if m in table.index]


def headline_header(labels: list[str]) -> list[str]:
    return ["metric", "unit", *(f"{lb} (mean ± 95% CI)" for lb in labels)]


def headline_markdown(table: pd.DataFrame, labels: list[str]) -> str:
    header = headline_header(labels)
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * len(labels)]
    lines += ["| " + " | ".join(r) + " |" for r in headline_rows(table, labels)]
    return "\n".join(lines)


def headline_text(table: pd.DataFrame, labels: list[str]) -> str:
    """The terminal table: readable labels, units, the run's number format."""
    return report.text_table(headline_header(labels), headline_rows(table, labels))


def readings(table: pd.DataFrame, labels: list[str]) -> list[str]:
    return [interpret(table, labels, m) for m in HEADLINE if m in table.index]


def write_comparison(out: Path, table: pd.DataFrame, results: list[dict], scenarios: dict[str, Scenario],
                     seeds: list[int], elapsed: float, *, seed: int | None = None,
                     command: list[str] | None = None) -> None:
    from ..config import to_toml

    t0 = time.perf_counter()
    labels = list(scenarios)
    intro = f"{len(seeds)} replicates per scenario on the same population and seeds; mean ± half-width of the 95% CI."
    lines = readings(table, labels)
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / "comparison.csv")
        replicate_table(results, labels).to_csv(tmp / "replicates.csv", index=False)
        md = [f"# Comparison: {' vs '.join(labels)}", "", intro, "",
              headline_markdown(table, labels), "", "## Reading", ""]
        md += [f"- {line}" for line in lines]
        (tmp / "comparison.md").write_text("\n".join(md) + "\n")
        (tmp / "plots").mkdir()
        plot_files = _plots(tmp / "plots", results, labels)
        # each resolved scenario with the seed the replicate seeds came from (the first
        # scenario's, or --seed): a compare of these files spawns the same replicates
        tomls = {lb: to_toml(sc if seed is None else sc.model_copy(update={"seed": seed}))
                 for lb, sc in scenarios.items()}
        for lb, text in tomls.items():
            (tmp / f"scenario_{lb}.toml").write_text(text)
        files = []
        for f in COMPARE_FILES:
            files += [f.replace("<label>", lb) for lb in labels] if "<label>" in f else [f]
        record = manifest(
            command=command, files=files,
            scenarios={lb: sc.name for lb, sc in scenarios.items()},
            steps={lb: sc.steps for lb, sc in scenarios.items()}, replicates=len(seeds), seed=seed,
            replicate_seeds=seeds, timings={"run_s": round(elapsed, 2), "write_s": round(time.perf_counter() - t0, 3)})
        write_json(tmp / "manifest.json", record)
        write_text_atomic(tmp / "report.html", report.html_report(
            title=f"Comparison: {' vs '.join(labels)}", intro=intro, header=headline_header(labels),
            rows=headline_rows(table, labels), readings=lines, plots=plot_files, manifest=record,
            differences=(labels, report.scenario_differences({lb: sc.model_dump(mode="json")
                                                              for lb, sc in scenarios.items()})),
            scenario_toml=tomls))


def _mean_ci(rows: list) -> tuple[np.ndarray, np.ndarray]:
    """Mean over replicates (axis 0) and the half-width of its 95% CI (Student's t,
    :func:`ci_half_width`; 0 for one run)."""
    a = np.asarray(rows, dtype=float)
    half = ci_half_width(a.std(axis=0, ddof=1), len(a)) if len(a) > 1 else np.zeros(a.shape[1:])
    return a.mean(axis=0), half


def _line_with_band(ax, x, rows: list, label: str) -> None:
    """The replicates' mean as a line and its 95% CI as a shaded band."""
    m, half = _mean_ci(rows)
    (line,) = ax.plot(x, m, label=label)
    ax.fill_between(x, m - half, m + half, color=line.get_color(), alpha=0.2, lw=0)


def _stacked_bars(path: Path, title: str, labels: list[str], parts: list[tuple[str, str, np.ndarray]], **axes) -> None:
    """One stacked bar per scenario; ``parts`` are (legend label, color, value per scenario)."""
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    bottom = np.zeros(len(labels))
    for name, color, values in parts:
        ax.bar(labels, values, bottom=bottom, label=name, color=color)
        bottom += values
    ax.set(**axes)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    save(fig, path)


def _plots(folder: Path, results: list[dict], labels: list[str]) -> list[Path]:
    """The comparison's plots of replicate means: lines carry their 95% CI as a band,
    grouped bars as error bars; stacked bars say in their title that they are means.
    Returns the files written."""
    n = len([r for r in results if r["label"] == labels[0]])
    means = f"mean of {n} replicates" if n > 1 else "one replicate"
    band = f"{means}, 95% CI shaded" if n > 1 else means

    def runs(lb: str) -> list[dict]:
        return [r for r in results if r["label"] == lb]

    def mean(key: str, per: str | None = None) -> np.ndarray:
        """Per scenario, the mean over replicates of the run's total ``key`` (divided by
        the total ``per`` when given; 0 when that is 0)."""
        def value(t: dict) -> float:
            return t[key] if per is None else (t[key] / t[per] if t[per] > 0 else 0.0)
        return np.array([np.mean([value(r["totals"]) for r in runs(lb)]) for lb in labels])

    files = []
    # Lorenz curves of creator exposure (mean curve over replicates)
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--", label="equality")
    for lb in labels:
        ys = [lorenz(np.array(r["exposure"]))[1] for r in runs(lb)]
        _line_with_band(ax, np.linspace(0, 1, len(ys[0])), ys, lb)
    ax.set(title=f"Creator exposure (Lorenz; {band})", xlabel="share of creators", ylabel="share of impressions")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    files.append(folder / "lorenz.png")
    save(fig, files[-1])
    # domain shares of impressions
    files.append(folder / "domain_shares.png")
    _stacked_bars(files[-1], f"Impressions by domain ({means})", labels, [
        (d, DOMAIN_COLORS[d], mean(f"impressions_{d}", "impressions_total"))
        for d in DOMAINS], ylabel="share", ylim=(0, 1))
    # fan tier funnel
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    tiers = TIERS
    width = 0.8 / len(labels)
    for i, lb in enumerate(labels):
        m, half = _mean_ci([[r["totals"][f"fans_{t}"] for t in tiers] for r in runs(lb)])
        ax.bar(np.arange(4) + i * width, m, width, yerr=half if n > 1 else None, capsize=3, label=lb)
    ax.set_xticks(np.arange(4) + width * (len(labels) - 1) / 2, tiers)
    ax.set(title=f"Fan tiers at the end ({means}" + (", 95% CI bars)" if n > 1 else ")"), ylabel="follow edges")
    ax.legend(fontsize=8)
    files.append(folder / "fan_tiers.png")
    save(fig, files[-1])
    # top-1% share over time
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    steps = results[0]["steps"]["step"]
    for lb in labels:
        _line_with_band(ax, steps, [r["steps"]["top1_share"] for r in runs(lb)], lb)
    ax.set(title=f"Top-1% creators' share of the day's exposure\n({band})", xlabel="day", ylabel="share")
    ax.legend(fontsize=8)
    files.append(folder / "top1_share.png")
    save(fig, files[-1])
    # private GMV and group size over time
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for lb in labels:
        rs = [r["steps"] for r in runs(lb)]
        _line_with_band(a1, steps, [np.add(s["gmv_private_platform"], s["gmv_private_wechat"]) for s in rs], lb)
        _line_with_band(a2, steps, [s["group_members"] for s in rs], lb)
    a1.set(title=f"Private GMV per day, platform + WeChat\n({band})", xlabel="day", ylabel="yuan")
    a2.set(title=f"Fan-group members\n({band})", xlabel="day", ylabel="members")
    a1.legend(fontsize=8)
    files.append(folder / "private_gmv_groups.png")
    save(fig, files[-1])
    # GMV by domain and the platform revenue mix
    revenue = (("ad_revenue", "#DD8452"), ("commission_revenue", "#55A868"), ("tip_revenue", "#8172B3"))
    for name, title, parts, axes in (
            ("gmv_domain_shares.png", "GMV by domain", [(c[4:], color, mean(c, "gmv_total")) for c, color in GMV_COLORS.items()],
             dict(ylabel="share", ylim=(0, 1))),
            ("revenue_mix.png", "Platform revenue mix", [(c.replace("_revenue", ""), color, mean(c)) for c, color in revenue],
             dict(ylabel="yuan over the run"))):
        files.append(folder / name)
        _stacked_bars(files[-1], f"{title} ({means})", labels, parts, **axes)
    return files
