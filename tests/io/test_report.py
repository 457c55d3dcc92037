"""The number format shared by run and compare, and the self-contained report.html.

The compare side of report.html is checked in test_compare.py, its rendering in a
browser in test_app_browser.py.
"""

import base64
import json
import math

import numpy as np
import pandas as pd
from html.parser import HTMLParser

import pytest

from simulator.cli import HEADLINE as RUN_TABLE
from simulator.cli import main
from simulator.experiments.compare import HEADLINE as COMPARE_TABLE
from simulator.io.outputs import RUN_FILES
from simulator.io.report import METRICS, fmt, fmt_ci, scenario_differences

from ..conftest import SCENARIOS

SMALL = ["--set", "population.users=1500", "--set", "population.creators=80", "--set", "population.merchants=2"]


@pytest.mark.parametrize("value, text", [
    (521_503.7, "521,504"), (222_760.0, "222,760"), (1234.5, "1,234"), (56.0, "56"), (0.0, "0"),
    (165.09687, "165.097"), (0.6296, "0.630"), (-0.25, "-0.250"), (0.00012345, "0.00012"),
    (None, "-"), (float("nan"), "-"), (3, "3")])
def test_fmt(value, text):
    """Guards issue 13 item 12: one number format for run and compare (compare used
    .4g, 5.215e+05). Thousands separators, three decimals, never e-notation."""
    assert fmt(value) == text


def test_fmt_never_uses_e_notation():
    for exp in range(-9, 13):
        for v in (1.234 * 10 ** exp, -7.5 * 10 ** exp):
            assert "e" not in fmt(v), (v, fmt(v))


def test_fmt_ci_is_mean_and_half_width_or_just_the_mean():
    assert fmt_ci(100.0, 90.0, 110.0) == "100 ± 10"
    assert fmt_ci(0.5, float("nan"), float("nan")) == "0.500"
    assert fmt_ci(float("nan"), float("nan"), float("nan"), metric="group_churn_30d") == "needs ≥ 31 days"
    assert fmt_ci(float("nan"), float("nan"), float("nan"), metric="cac_blended_last_30d") == "needs ≥ 30 days"
    assert fmt_ci(float("nan"), float("nan"), float("nan"), metric="cac_ad") == "-"


def test_every_table_metric_has_a_label_and_a_unit():
    """Guards issue 13 item 12: tables showed bare snake_case names without units."""
    for m in (*RUN_TABLE, *COMPARE_TABLE):
        label, unit = METRICS[m]
        assert label and unit and "_" not in label, m


def test_scenario_differences():
    a = {"name": "a", "seed": 1, "steps": 10, "population": {"users": 100},
         "platforms": {"douyin": {"beta": 1.0, "cap": None}}}
    b = {"name": "b", "seed": 2, "steps": 10, "population": {"users": 200},
         "platforms": {"douyin": {"beta": 1.0, "cap": 0.05}}}
    assert scenario_differences({"a": a, "b": b}) == [("platforms.douyin.cap", [None, 0.05]),
                                                      ("population.users", [100, 200])]
    # differently named platforms are compared by position
    c = {**b, "platforms": {"kuaishou": {"beta": 2.0, "cap": 0.05}}}
    assert scenario_differences({"a": a, "c": c}) == [
        ("platforms.#1.beta", [1.0, 2.0]), ("platforms.#1.cap", [None, 0.05]),
        ("platforms.#1.name", ["douyin", "kuaishou"]), ("population.users", [100, 200])]
    assert scenario_differences({"a": a, "a2": {**a, "name": "a2"}}) == []


class _Page(HTMLParser):
    """Every tag's attributes, and the text of the page."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def check_self_contained(path):
    """No external reference anywhere (no URL, no script, no stylesheet link); returns
    the parsed page."""
    text = path.read_text()
    assert "http://" not in text and "https://" not in text
    page = _Page()
    page.feed(text)
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "object", "embed"), tag
        for k in ("src", "href", "srcset", "data", "action"):
            if k in attrs:
                assert attrs[k].startswith("data:image/png;base64,") or attrs[k].startswith("#"), (tag, k)
    return page


def test_run_writes_a_self_contained_report(tmp_path):
    """Guards issue 13 item 15 (run side): report.html is in the run record (RUN_FILES,
    the manifest's file list) and holds the headline values with labels and units, the
    reading lines, every plot of plots/ byte for byte as base64 PNG, and the manifest,
    with no external URL."""
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "3", "--out", str(out), "--quiet", *SMALL]) == 0
    assert "report.html" in RUN_FILES
    manifest = json.loads((out / "manifest.json").read_text())
    assert "report.html" in manifest["files"]
    page = check_self_contained(out / "report.html")
    imgs = [a["src"] for t, a in page.tags if t == "img"]
    pngs = sorted((out / "plots").glob("*.png"))
    assert len(pngs) == 9
    assert sorted(base64.b64decode(s.split(",", 1)[1]) for s in imgs) == sorted(p.read_bytes() for p in pngs)
    text = " ".join(page.text)
    summary = json.loads((out / "summary.json").read_text())["platforms"]["douyin"]
    for m in RUN_TABLE:
        assert METRICS[m][0] in text and METRICS[m][1] in text, m
    assert fmt(summary["impressions_total"]) in text and fmt(summary["gmv_total"]) in text
    assert "reached followers" in text and "top 1% of creators" in text  # reading lines
    assert all(c in text for c in manifest["command"])
    assert manifest["trafficsim_version"] in text and "[platforms.douyin]" in text  # manifest, resolved scenario
    assert not math.isnan(summary["exposure_gini"])
    # a 3-day run cannot measure the 30-day windows: they say so rather than showing a number
    assert summary["cac_ad_first_30d"] is None and summary["group_churn_30d"] is None  # NaN is null in JSON
    assert "needs ≥ 30 days" in text and "needs ≥ 31 days" in text


def test_dynamics_plot_draws_what_the_run_has_and_says_what_it_lacks(monkeypatch, tmp_path):
    """plots/dynamics.png: each of its four panels draws its columns when the metrics have
    them, and says "not in this run's metrics" when they do not (an empty panel would read
    as "nothing happened")."""
    from simulator.io import plots

    figs = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figs.append(fig))
    days = np.arange(10)
    base = {"ad_revenue": 100.0, "new_buyers_ad": 2.0, "private_share_gmv": 0.5, "active_users": 700}
    rows = [{"step": d, "platform": p, **base} for d in days for p in ("douyin", "all")]
    plots.year_dynamics(pd.DataFrame(rows), tmp_path / "a.png")
    texts = [t.get_text() for ax in figs[0].axes for t in ax.texts]
    assert sum("not in this run's metrics" in t for t in texts) == 2
    full = [{**r, **{f"mix_{c}": 0.2 for c in plots.MIX_CHANNELS}, "creators_active": 300, "creators_entered": 1,
             "creators_exited": 1, "slots_per_active": 12.0} for r in rows]
    plots.year_dynamics(pd.DataFrame(full), tmp_path / "b.png")
    assert not any(t.texts for t in figs[1].axes)
    mix_ax = figs[1].axes[0]
    assert len(mix_ax.collections) == len(plots.MIX_CHANNELS)  # one stacked band per channel


def test_ecosystem_plot_draws_one_line_per_platform_and_says_what_it_lacks(monkeypatch, tmp_path):
    """plots/ecosystem.png: one colour per platform in every panel it can draw; the panels
    of mechanisms the run does not have (multi-homing, shelf recalls, adapting knobs) say so
    rather than staying empty."""
    from simulator.io import plots

    figs = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figs.append(fig))
    days = np.arange(10)
    base = {"ad_revenue": 100.0, "active_users": 700, "gmv_private_platform": 50.0, "gmv_private_wechat": 20.0}
    rows = [{"step": d, "platform": p, **base} for d in days for p in ("douyin", "kuaishou", "all")]
    plots.ecosystem(pd.DataFrame(rows), tmp_path / "a.png")
    texts = [t.get_text() for ax in figs[0].axes for t in ax.texts]
    assert sum("not in this run's metrics" in t for t in texts) == 3
    dau_ax = figs[0].axes[0]
    assert [line.get_label() for line in dau_ax.lines] == ["douyin DAU", "kuaishou DAU"]
    full = [{**r, "time_share": 0.5, "users_of": 9000, "creators_present": 200,
             "recalls": 5.0 if r["platform"] == "kuaishou" else 0.0, "recall_orders": 1.0, "recall_leaks": 1.0,
             "knob_ad_load": 0.08 + 0.01 * r["step"]} for r in rows]
    plots.ecosystem(pd.DataFrame(full), tmp_path / "b.png")
    assert not any(ax.texts for ax in figs[1].axes)
    labels = {line.get_label() for ax in figs[1].axes for line in ax.lines}
    assert {"kuaishou recalls", "kuaishou recall orders", "kuaishou share that leaks"} <= labels
    assert not any(label.startswith("douyin re") for label in labels)  # douyin made no recalls: no line
    assert "douyin ad load" in labels and "kuaishou commission scale" not in labels  # only knobs that moved


def test_the_plots_rolling_windows_are_pandas_own():
    """io/plots.py's rolling sums and means (numpy: the plot processes import no pandas)
    are pandas' ``rolling(window, min_periods=1)`` ones: NaN left out of a window, NaN
    where a window has none, the first rows over fewer values; ratios' zeros made NaN."""
    from simulator.io import plots

    rng = np.random.default_rng(3)
    for n, window in ((0, 7), (1, 7), (5, 7), (40, 7), (40, 1), (365, 30)):
        x = rng.normal(100, 30, n)
        x[rng.random(n) < 0.2] = np.nan
        if n > 12:
            x[3:12] = np.nan  # a window with nothing in it
        s = pd.Series(x)
        for got, want in ((plots._rolling_sum(x, window), s.rolling(window, min_periods=1).sum()),
                          (plots._rolling(x, window), s.rolling(window, min_periods=1).mean())):
            assert np.array_equal(np.isnan(got), want.isna().to_numpy())
            np.testing.assert_allclose(got, want.to_numpy(), rtol=1e-12)
    ints = np.array([0, 3, 0, 5])
    assert np.array_equal(plots._no_zero(ints), pd.Series(ints).replace(0, np.nan).to_numpy(), equal_nan=True)


def test_the_plots_read_a_dataframe_its_columns_or_its_rows_alike(tmp_path):
    """Each record plot draws the same PNG from a DataFrame (a notebook's), its columns (the
    run's plot processes) and its rows (a list of dicts, a key a row lacks NaN there)."""
    from simulator.io import plots

    rows = [{"step": d, "platform": p, "impressions_total": 10 * d, "impressions_public": 5 * d,
             "impressions_commercial": 3 * d, "impressions_private": 2 * d, "ad_revenue": 100.0 + d,
             "new_buyers": d % 3, "new_buyers_ad": d % 2, "cpm_effective": 20.0, "group_members": d,
             "wechat_contacts": 2 * d, "fans_potential": d, "fans_passerby": d, "fans_liking": d, "fans_true": d,
             "gmv_public": 1.0, "gmv_commercial": 2.0, "gmv_private_platform": 3.0, "gmv_private_wechat": 4.0,
             **({"private_share_gmv": 0.5} if d % 2 else {}), "active_users": 700 + d, "creators_active": 300,
             **({"knob_ad_load": 0.08 + 0.01 * d} if p == "douyin" else {})}
            for d in range(12) for p in ("douyin", "kuaishou", "all")]
    frame = pd.DataFrame(rows)
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    merchants = {"strategy": ["broad", "fans", "broad+wechat", "broad"], "roi": np.array([0.5, np.nan, -0.2, 1.0])}
    for name in ("domain_shares", "fan_tiers", "gmv_by_domain", "cac_over_time", "group_size", "year_dynamics",
                 "ecosystem"):
        pngs = []
        for k, table in enumerate((frame, columns, rows)):
            getattr(plots, name)(table, tmp_path / f"{name}{k}.png")
            pngs.append((tmp_path / f"{name}{k}.png").read_bytes())
        assert pngs[0] == pngs[1] == pngs[2], name
    pngs = []
    for k, table in enumerate((pd.DataFrame(merchants), merchants)):
        plots.merchant_roi(table, tmp_path / f"roi{k}.png")
        pngs.append((tmp_path / f"roi{k}.png").read_bytes())
    assert pngs[0] == pngs[1]
