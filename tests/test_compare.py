"""trafficsim compare: side-by-side runs on the same population and seeds."""

import pandas as pd

from simulator.cli import main
from simulator.experiments.compare import compare
from simulator.config import load_scenario

from .conftest import SCENARIOS

SMALL = ["population.users=1500", "population.creators=80", "population.merchants=2", "steps=6"]


def test_compare_writes_table_report_and_plots(tmp_path, tmp_path_factory):
    # small copies of the two shipped styles
    files = []
    for name in ("douyin", "kuaishou"):
        p = tmp_path / f"{name}.toml"
        p.write_text(f'extends = "{SCENARIOS / (name + ".toml")}"\n[population]\nusers = 1500\ncreators = 80\nmerchants = 2\n')
        files.append(str(p))
    out = tmp_path_factory.mktemp("cmp") / "out"
    assert main(["compare", *files, "--replicates", "3", "--steps", "6", "--workers", "2", "--out", str(out)]) == 0
    for f in ("comparison.csv", "comparison.md", "manifest.json", "plots/lorenz.png", "plots/domain_shares.png",
              "plots/fan_tiers.png", "plots/top1_share.png", "plots/gmv_domain_shares.png",
              "plots/private_gmv_groups.png", "plots/revenue_mix.png"):
        assert (out / f).exists(), f
    t = pd.read_csv(out / "comparison.csv", index_col="metric")
    assert {"douyin_mean", "douyin_ci_low", "douyin_ci_high", "kuaishou_mean"} <= set(t.columns)
    assert (t["douyin_ci_low"] <= t["douyin_mean"] + 1e-12).all()
    assert "creator exposure Gini is higher in" in (out / "comparison.md").read_text()


def test_serial_and_parallel_compare_agree():
    from concurrent.futures import ProcessPoolExecutor

    scen = {n: load_scenario(SCENARIOS / f"{n}.toml", SMALL) for n in ("douyin", "kuaishou")}
    serial = compare(scen, replicates=2)
    with ProcessPoolExecutor(2) as pool:
        parallel = compare(scen, replicates=2, executor=pool)
    pd.testing.assert_frame_equal(serial, parallel)


def test_compare_needs_two_scenarios_and_valid_flags(tmp_path, capsys):
    assert main(["compare", str(SCENARIOS / "douyin.toml"), "--out", str(tmp_path / "o")]) == 2
    assert main(["compare", str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml"), "--replicates", "0",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--replicates" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
