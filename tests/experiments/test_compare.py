"""trafficsim compare: side-by-side runs on the same population and seeds."""

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scipy.stats import t as student_t

from simulator.cli import main
from simulator.config import load_scenario
from simulator.experiments import ci_half_width
from simulator.experiments import compare as cmp
from simulator.experiments.compare import HEADLINE, compare
from simulator.io import outputs, report

from ..conftest import SCENARIOS

SMALL = ["population.users=1500", "population.creators=80", "population.merchants=2", "steps=6"]


def small_files(folder):
    """Small copies of the two shipped styles (douyin first)."""
    files = []
    for name in ("douyin", "kuaishou"):
        p = folder / f"{name}.toml"
        p.write_text(f'extends = "{SCENARIOS / (name + ".toml")}"\n[population]\nusers = 1500\ncreators = 80\nmerchants = 2\n')
        files.append(str(p))
    return files


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One small `trafficsim compare` (3 replicates, 6 days): (out folder, its stdout)."""
    files = small_files(tmp_path_factory.mktemp("scen"))
    out = tmp_path_factory.mktemp("cmp") / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["compare", *files, "--replicates", "3", "--steps", "6", "--workers", "2", "--out", str(out)])
    assert rc == 0
    return out, stdout.getvalue()


def test_compare_writes_table_report_and_plots(compared):
    out, _ = compared
    for f in ("comparison.csv", "comparison.md", "report.html", "manifest.json", "scenario_douyin.toml",
              "scenario_kuaishou.toml", "plots/lorenz.png", "plots/domain_shares.png",
              "plots/fan_tiers.png", "plots/top1_share.png", "plots/gmv_domain_shares.png",
              "plots/private_gmv_groups.png", "plots/revenue_mix.png"):
        assert (out / f).exists(), f
    t = pd.read_csv(out / "comparison.csv", index_col="metric")
    assert {"douyin_mean", "douyin_ci_low", "douyin_ci_high", "kuaishou_mean"} <= set(t.columns)
    measured = t["douyin_mean"].notna()  # the 30-day metrics are NaN in these 6-day runs
    assert (t.loc[measured, "douyin_ci_low"] <= t.loc[measured, "douyin_mean"] + 1e-12).all()
    assert "creator exposure Gini is higher in" in (out / "comparison.md").read_text()


def test_compare_terminal_table_reads_like_run(compared):
    """Guards issue 13 item 12: the terminal table printed e-notation (5.215e+05) and
    bare snake_case names. Now: run's number format (io.report.fmt, the one function both
    commands use), a label and a unit per metric, and comparison.md's reading lines."""
    out, stdout = compared
    from simulator import cli

    assert cli._fmt is report.fmt
    assert not re.search(r"\d\.\d+e[+-]\d", stdout), stdout
    t = pd.read_csv(out / "comparison.csv", index_col="metric")
    lines = stdout.splitlines()
    for m in HEADLINE:
        row = next((ln for ln in lines if ln.startswith(report.label(m) + "  ")), None)
        assert row is not None, f"no row for {m}"
        assert report.unit(m) in row
        assert report.fmt_ci(t.loc[m, "douyin_mean"], t.loc[m, "douyin_ci_low"], t.loc[m, "douyin_ci_high"],
                             metric=m) in row
    assert "gmv_total" not in stdout and "yuan" in stdout
    readings = [ln[2:] for ln in (out / "comparison.md").read_text().splitlines() if ln.startswith("- ")]
    assert len(readings) == len([m for m in HEADLINE if m in t.index])
    for r in readings:
        assert f"- {r}" in lines


def test_compare_manifest_records_like_run(compared):
    """Guards issue 13 item 14: the compare manifest had only scenarios, seeds and time.
    It now has the run manifest's fields (one function, outputs.manifest) plus steps,
    replicates, the base seed and the command."""
    out, _ = compared
    m = json.loads((out / "manifest.json").read_text())
    common = outputs.manifest(command=None, files=[])
    for key in ("trafficsim_version", "python", "numpy", "mesa", "kernels_ahead", "machine"):
        assert m[key] == common[key], key
    assert m["replicates"] == 3 and len(m["replicate_seeds"]) == 3
    assert m["steps"] == {"douyin": 6, "kuaishou": 6}
    assert m["seed"] == load_scenario(SCENARIOS / "douyin.toml").seed
    assert m["command"][:2] == ["trafficsim", "compare"] and "--replicates" in m["command"]
    assert m["cwd"] == str(Path.cwd())  # the command's relative paths are relative to it
    assert all((out / f).exists() for f in m["files"]), m["files"]


def test_compare_report_html(compared):
    """report.html of compare: headline with units and CIs, reading lines, every plot
    inline, the keys that differ between the scenarios, the manifest."""
    out, _ = compared
    page = (out / "report.html").read_text()
    assert "±" in page and "yuan" in page and "95% CIs do not overlap" in page
    assert page.count("data:image/png;base64,") == len(list((out / "plots").glob("*.png"))) == 7
    assert "platforms.#1.follow_share" in page and "platforms.#1.name" in page
    assert "population.users" not in page.split("How the scenarios differ")[1].split("<details>")[0]  # same in both
    assert json.loads((out / "manifest.json").read_text())["replicate_seeds"][0] and "replicate_seeds" in page


def test_compare_plots_show_their_ci(monkeypatch, tmp_path):
    """Guards issue 13 item 12 (plots): the plots of replicate means drew bare mean lines.
    Every figure now says it shows means of N replicates, line plots shade their 95% CI
    (one band per scenario) and grouped bars carry CI error bars."""
    from matplotlib.collections import PolyCollection

    scen = {n: load_scenario(SCENARIOS / f"{n}.toml", SMALL[:3] + ["steps=3"]) for n in ("douyin", "kuaishou")}
    results, _, _ = cmp.run_all(scen, replicates=3)
    figs = {}
    monkeypatch.setattr(cmp, "save", lambda fig, path: figs.__setitem__(path.name, fig))
    cmp._plots(tmp_path, results, list(scen))
    assert len(figs) == 7
    for name, fig in figs.items():
        for ax in fig.axes:
            assert "mean of 3 replicates" in ax.get_title(), (name, ax.get_title())
    for name in ("lorenz.png", "top1_share.png", "private_gmv_groups.png"):
        for ax in figs[name].axes:
            bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
            assert len(bands) == 2 and "CI shaded" in ax.get_title(), name
    from matplotlib.container import BarContainer

    bars = [c for c in figs["fan_tiers.png"].axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 and all(c.errorbar is not None for c in bars)


def test_serial_and_parallel_compare_agree():
    from concurrent.futures import ProcessPoolExecutor

    scen = {n: load_scenario(SCENARIOS / f"{n}.toml", SMALL) for n in ("douyin", "kuaishou")}
    serial = compare(scen, replicates=2)
    with ProcessPoolExecutor(2) as pool:
        parallel = compare(scen, replicates=2, executor=pool)
    pd.testing.assert_frame_equal(serial, parallel)


def test_year_mechanisms_give_the_same_results_on_any_executor():
    """The year's mechanisms (creator entry and exit, merchants who learn, enter and exit,
    responsive activity) draw from their own streams: the year scenarios give the same
    comparison in one process and on a process pool with single-threaded workers."""
    from concurrent.futures import ProcessPoolExecutor

    year = {"population": {"users": 1500}, "steps": 12,
            "creators": {"entry_rate": 0.05, "exit_window": 3},
            "merchants": {"exit_loss_days": 3, "entry_memory": 3, "entry_rate": 0.5}}
    scen = {n: load_scenario(SCENARIOS / f"{n}_year.toml", overrides=year) for n in ("douyin", "kuaishou")}
    serial = compare(scen, replicates=2)
    with ProcessPoolExecutor(2) as pool:
        parallel = compare(scen, replicates=2, executor=pool)
    pd.testing.assert_frame_equal(serial, parallel)
    assert (serial.loc["creators_entered"].filter(like="_mean") > 0).all()


def test_compare_needs_two_scenarios_and_valid_flags(tmp_path, capsys):
    assert main(["compare", str(SCENARIOS / "douyin.toml"), "--out", str(tmp_path / "o")]) == 2
    assert main(["compare", str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml"), "--replicates", "0",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--replicates" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_compare_refuses_one_replicate(tmp_path, capsys):
    """Guards issue 13 item 3: with --replicates 1 every "95% CI" had zero width and
    comparison.md called every difference clear. Now exit 2 with one line, before any
    run, nothing written; the Python API refuses too, and a CI of one value is unknown
    (NaN), never zero-width."""
    files = small_files(tmp_path)
    assert main(["compare", *files, "--replicates", "1", "--steps", "2", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("trafficsim: error: --replicates: got 1") and "at least 2" in err
    assert not (tmp_path / "o").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    scen = {n: load_scenario(SCENARIOS / f"{n}.toml", SMALL) for n in ("douyin", "kuaishou")}
    with pytest.raises(ValueError, match="at least 2"):
        compare(scen, replicates=1)
    mean, lo, hi = cmp._ci(np.array([3.0], dtype=object))
    assert mean == 3.0 and lo != lo and hi != hi


def test_compare_set_overrides_every_scenario(tmp_path, capsys):
    """--set applies to each scenario compared (as validate's does); a key one scenario
    cannot take is an error naming --set and that scenario's file, before any run."""
    out = tmp_path / "o"
    douyin, kuaishou = str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml")
    assert main(["compare", douyin, kuaishou, "--replicates", "2", "--steps", "2", "--workers", "1",
                 "--set", "population.users=400", "--set", "population.creators=24", "--set", "population.merchants=2",
                 "--out", str(out)]) == 0
    for name in ("douyin", "kuaishou"):
        resolved = load_scenario(out / f"scenario_{name}.toml")
        assert (resolved.population.users, resolved.population.creators, resolved.steps) == (400, 24, 2)
    capsys.readouterr()
    # the error names the file without the platform, first or not (it named no file)
    for files in ([douyin, kuaishou], [kuaishou, douyin]):
        assert main(["compare", *files, "--set", "platforms.douyin.beta=2", "--out", str(tmp_path / "p")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"trafficsim: error: --set: platforms.douyin.beta: in {kuaishou}: no platform named "
                              "'douyin' (platforms: kuaishou)"), err
    # a key no file takes names every file
    assert main(["compare", douyin, kuaishou, "--set", "population.userz=2", "--out", str(tmp_path / "p")]) == 2
    assert capsys.readouterr().err.startswith(f"trafficsim: error: --set: population.userz: in {douyin} and "
                                              f"{kuaishou}: unknown key")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("command", [["run"], ["compare", str(SCENARIOS / "kuaishou.toml")]])
def test_compare_steps_is_a_flag_as_in_run(tmp_path, capsys, command):
    """compare's --steps is a flag, as run's: a value the schema refuses is blamed on
    --steps (compare passed it as a --set and blamed "--set: steps", which the command did
    not have), and a --set steps= with it is given twice."""
    douyin = str(SCENARIOS / "douyin.toml")
    args = [command[0], douyin, *command[1:], "--out", str(tmp_path / "o")]
    assert main([*args, "--steps", "5000"]) == 2
    assert capsys.readouterr().err == ("trafficsim: error: --steps: got 5000; input should be less than or equal to "
                                       "3650 (allowed 1..3650)\n")
    assert main([*args, "--set", "steps=2", "--steps", "3"]) == 2
    assert "--set: steps: given twice, as --set steps=... and as --steps" in capsys.readouterr().err
    assert main([*args, "--set", "steps=5000"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trafficsim: error: --set: steps: ") and "got 5000; input should be less" in err
    assert not (tmp_path / "o").exists()


def test_reading_without_ci_makes_no_claim():
    """A table without CIs (one replicate, from older files or the API) must not call a
    difference clear."""
    t = pd.DataFrame({"a_mean": [0.6], "a_ci_low": [np.nan], "a_ci_high": [np.nan],
                      "b_mean": [0.4], "b_ci_low": [np.nan], "b_ci_high": [np.nan]}, index=["exposure_gini"])
    line = cmp.interpret(t, ["a", "b"], "exposure_gini")
    assert "higher in a" in line and "no 95% CI" in line and "do not overlap" not in line


def test_windowed_metrics_say_the_run_length_they_need(compared):
    """A 30-day metric of a run too short to measure it (6 days here) is NaN, and the
    table and the reading line say what it needs instead of showing a number over some
    other window (issue 12: group_churn_30d silently used half the run)."""
    out, stdout = compared
    t = pd.read_csv(out / "comparison.csv", index_col="metric")
    assert np.isnan(t.loc["group_churn_30d", "douyin_mean"])
    assert "cac" not in t.index and not np.isnan(t.loc["cac_ad", "douyin_mean"])
    row = next(ln for ln in stdout.splitlines() if ln.startswith(report.label("group_churn_30d") + "  "))
    assert "needs ≥ 31 days" in row
    assert "needs runs of ≥ 31 days" in cmp.interpret(t, ["douyin", "kuaishou"], "group_churn_30d")


def test_cac_trend_compares_two_windows_that_do_not_overlap():
    """``cac_ad_trend`` is last-30-day over first-30-day ad-attributed CAC, and only where
    the two windows do not overlap (≥ 60 days): in a 30-day run both windows are the
    same days and a trend of 1 would claim something the run cannot show."""
    totals = {"platform_revenue": 10.0, "ad_revenue": 5.0, "commission_revenue": 3.0, "tip_revenue": 2.0,
              "cac_ad_first_30d": 200.0, "cac_ad_last_30d": 500.0,
              **{k: 0.0 for k in ("impressions_total", "impressions_public", "impressions_commercial",
                                  "impressions_private")}}
    assert cmp.derived_totals(totals, 60)["cac_ad_trend"] == pytest.approx(2.5)
    assert np.isnan(cmp.derived_totals(totals, 59)["cac_ad_trend"])
    assert np.isnan(cmp.derived_totals({**totals, "cac_ad_first_30d": float("nan")}, 90)["cac_ad_trend"])
    assert "cac_ad_trend" in HEADLINE and report.needs_days("cac_ad_trend") == 60


def test_every_replicate_is_told_its_workers_share_of_the_comparison(monkeypatch):
    """compare.run_all gives each task the feed user-days of its process's share
    (experiments.user_days_share: here all of them, serially), which run_replicate passes
    to numpy_kernels.expect_user_days (tests/test_fixed_costs.py)."""
    seen = []
    monkeypatch.setattr(cmp, "run_replicate", lambda task: seen.append(task["user_days"]) or {})
    sc = load_scenario(SCENARIOS / "douyin.toml", sets=["population.users=500", "steps=4"])
    cmp.run_all({"a": sc, "b": sc}, replicates=3)
    assert seen == [2 * 3 * 4 * 500] * 6


def test_compare_quiet_prints_only_the_folder(tmp_path, capsys):
    """``--quiet``, as for run: no table and no readings, only where the comparison is
    (mutation checked: without the early return the table is printed); the record is
    written as without it."""
    files = small_files(tmp_path)
    out = tmp_path / "q"
    assert main(["compare", *files, "--replicates", "2", "--steps", "2", "--workers", "1", "--quiet",
                 "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"comparison: {out}\n"
    assert (out / "comparison.csv").exists() and (out / "report.html").exists()


def test_a_compare_of_the_recorded_scenarios_reproduces_a_seeded_compare(tmp_path, capsys):
    """Every run leaves a record that reproduces it: `compare --seed S` writes S as the
    seed of its resolved scenario files, so comparing those files (no --seed) spawns the
    same replicates and gives the same table byte for byte (mutation checked: writing
    the scenarios' own seed, 42, gave another table)."""
    files = small_files(tmp_path)
    out, again = tmp_path / "a", tmp_path / "b"
    assert main(["compare", *files, "--replicates", "2", "--steps", "3", "--workers", "1", "--seed", "5",
                 "--out", str(out), "--quiet"]) == 0
    assert load_scenario(out / "scenario_douyin.toml").seed == 5
    assert main(["compare", str(out / "scenario_douyin.toml"), str(out / "scenario_kuaishou.toml"),
                 "--replicates", "2", "--workers", "1", "--out", str(again), "--quiet"]) == 0
    assert (out / "comparison.csv").read_bytes() == (again / "comparison.csv").read_bytes()


def read_replicates(path) -> pd.DataFrame:
    """replicates.csv with every metric parsed by Python's float (exact for the shortest
    round-trip decimals the file holds, whatever pandas' own parser does)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for c in df.columns:
        if c in ("replicate", "seed"):
            df[c] = df[c].map(int)
        elif c not in ("scenario", "platform"):
            df[c] = df[c].map(lambda v: float(v) if v else float("nan"))
    return df


def test_replicates_csv_reproduces_the_comparison_exactly(compared):
    """The record holds each replicate's summary (replicates.csv: one row per scenario ×
    replicate × platform, its seed): comparison.csv's means and 95% CIs recomputed from
    its ``all`` rows are equal to the last bit (mutation checked: written with
    float_format="%.10g", or a platform's row in place of the totals, they differ)."""
    out, _ = compared
    reps = read_replicates(out / "replicates.csv")
    manifest_ = json.loads((out / "manifest.json").read_text())
    assert "replicates.csv" in manifest_["files"]
    assert list(reps.columns[:4]) == ["scenario", "replicate", "seed", "platform"]
    assert list(reps[["scenario", "replicate", "platform"]].itertuples(index=False, name=None)) == [
        (lb, r, p) for lb, p in (("douyin", "douyin"), ("kuaishou", "kuaishou")) for r in range(3) for p in ("all", p)]
    assert list(reps["seed"]) == [s for _ in range(2) for s in manifest_["replicate_seeds"] for _ in range(2)]
    table = pd.read_csv(out / "comparison.csv", index_col="metric", dtype={"metric": str}, converters={
        c: (lambda v: float(v) if v else float("nan"))
        for c in pd.read_csv(out / "comparison.csv", nrows=0).columns if c != "metric"})
    assert list(reps.columns[4:]) == list(table.index)
    totals = reps[reps["platform"] == "all"]
    for label in ("douyin", "kuaishou"):
        runs = totals[totals["scenario"] == label].sort_values("replicate")
        for metric in table.index:
            v = runs[metric].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            if len(v) == 0:
                assert np.isnan(table.loc[metric, f"{label}_mean"]), metric
                continue
            half = student_t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))  # t, not 1.96
            assert table.loc[metric, f"{label}_mean"] == v.mean(), metric
            assert table.loc[metric, f"{label}_ci_low"] == v.mean() - half, metric
            assert table.loc[metric, f"{label}_ci_high"] == v.mean() + half, metric
    # a platform's row is its summary: its flows are the totals' in a one-platform scenario
    plat = reps[reps["platform"] != "all"]
    for m in ("impressions_total", "gmv_total", "platform_revenue"):
        assert list(plat[m]) == list(totals[m]), m


def test_replicates_csv_is_the_same_on_one_worker_as_on_two(compared, tmp_path):
    """replicates.csv (and the comparison) of the fixture's two worker processes, byte for
    byte the same when the runs go serially in this process."""
    out, _ = compared
    serial = tmp_path / "serial"
    assert main(["compare", *small_files(tmp_path), "--replicates", "3", "--steps", "6", "--workers", "1",
                 "--quiet", "--out", str(serial)]) == 0
    for f in ("replicates.csv", "comparison.csv"):
        assert (serial / f).read_bytes() == (out / f).read_bytes(), f


def test_an_interrupt_while_writing_replicates_csv_leaves_no_record(tmp_path, capsys, monkeypatch):
    """replicates.csv is written with the rest of the record, into its hidden partial
    folder: Ctrl-C while it is written leaves neither a record nor a partial folder
    (exit 130), not a record without it."""
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cmp, "replicate_table", interrupt)
    out = tmp_path / "o"
    assert main(["compare", *small_files(tmp_path), "--replicates", "2", "--steps", "1", "--workers", "1",
                 "--set", "population.users=300", "--set", "population.creators=20", "--quiet",
                 "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_replicate_table_orders_its_rows_itself():
    """replicates.csv's rows do not follow the order the runs finished in (an executor may
    return them in any order): labels' order, replicate, ``all`` then the platforms
    (mutation checked: rows in the results' order)."""
    results = [{"label": lb, "replicate": r, "seed": 10 + r, "totals": {"x": float(r)},
                "platforms": {"p": {"x": r + 0.5}, "q": {"x": r + 0.25}}}
               for lb in ("b", "a") for r in range(3)]
    table = cmp.replicate_table(results, ["b", "a"])
    shuffled = [results[i] for i in (4, 0, 5, 2, 1, 3)]
    pd.testing.assert_frame_equal(cmp.replicate_table(shuffled, ["b", "a"]), table)
    assert list(table.itertuples(index=False, name=None))[:4] == [
        ("b", 0, 10, "all", 0.0), ("b", 0, 10, "p", 0.5), ("b", 0, 10, "q", 0.25), ("b", 1, 11, "all", 1.0)]


def test_a_replicate_reruns_alone_from_the_record(compared, tmp_path):
    """What README says of replicates.csv: `trafficsim run DIR/scenario_<label>.toml --seed S`
    (S a row's seed) writes a summary.json with that row's values, totals and platform."""
    out, _ = compared
    reps = read_replicates(out / "replicates.csv")
    row = reps[(reps["scenario"] == "kuaishou") & (reps["replicate"] == 1)].set_index("platform")
    run = tmp_path / "run"
    assert main(["run", str(out / "scenario_kuaishou.toml"), "--seed", str(row["seed"].iloc[0]), "--quiet",
                 "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    for platform, values in (("all", summary["totals"]), *summary["platforms"].items()):
        for metric, value in values.items():
            expected = row.loc[platform, metric]
            assert (value is None and expected != expected) or value == expected, (platform, metric)
    # the columns summary.json does not have are the ratios docs/outputs.md lists for replicates.csv
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text()
    section = doc.split("## replicates.csv")[1].split("\n## ")[0]
    added = set(reps.columns[4:]) - set(summary["totals"])
    assert added and all(f"`{c}`" in section for c in added), added


def test_the_95pc_ci_is_students_t_not_the_normal_1_96():
    """Guards the CI's width: compare, validate's targets, calibration, the plots' bands
    and sweep-report's main effects all take mean ± t(0.975, n - 1) · sd / √n from one
    helper. The normal 1.96 covered ~88% at the default 5 replicates (~70% at 2) while
    the reports said "95% CI"."""
    v = np.array([1.0, 2.0, 4.0, 7.0, 11.0])
    sd = v.std(ddof=1)
    assert ci_half_width(sd, 5) == pytest.approx(2.776445 * sd / np.sqrt(5), rel=1e-6)
    assert ci_half_width(sd, 2) == pytest.approx(12.706205 * sd / np.sqrt(2), rel=1e-6)
    mean, lo, hi = cmp._ci(v.astype(object))
    assert (hi - lo) / 2 == pytest.approx(2.776445 * sd / np.sqrt(5), rel=1e-6)
    # the plots' bands: per column, the same half-width
    m, half = cmp._mean_ci([[x, 2 * x] for x in v])
    assert half == pytest.approx([2.776445 * sd / np.sqrt(5), 2 * 2.776445 * sd / np.sqrt(5)], rel=1e-6)
    with pytest.raises(ValueError, match="at least 2"):
        ci_half_width(sd, 1)
