"""The trafficsim command: a complete run record, clean failures with exit code 2."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from simulator.cli import main
from simulator.io.outputs import RUN_FILES

from .conftest import SCENARIOS

REQUIRED = ("impressions_total", "impressions_public", "impressions_commercial", "impressions_private",
            "exposure_gini", "top1_share", "top10_share", "fans_passerby", "fans_liking", "fans_true",
            "mean_intimacy", "flywheel_ratio")
SMALL = ["--set", "population.users=1500", "--set", "population.creators=80", "--set", "population.merchants=3"]


def test_run_writes_every_file(tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "4", "--seed", "3", "--out", str(out), *SMALL]) == 0
    for f in RUN_FILES:
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    summary = json.loads((out / "summary.json").read_text())
    for key in REQUIRED:
        assert key in summary["totals"] and key in summary["platforms"]["douyin"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["steps"] == 4 and manifest["trafficsim_version"]
    metrics = pd.read_csv(out / "metrics.csv")
    assert len(metrics) == 4 * 2 and set(metrics.platform) == {"douyin", "all"}
    creators = pd.read_csv(out / "creators.csv")
    assert len(creators) == 80 and {"followers", "fans_true", "mean_fan_intimacy", "items_published",
                                    "impressions_public_douyin", "engagements_like"} <= set(creators.columns)
    items = pd.read_csv(out / "items.csv")
    assert {"creator", "day", "impressions_private_douyin", "pool_level_douyin"} <= set(items.columns)
    assert "steps = 4" in (out / "scenario.toml").read_text()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left


@pytest.mark.parametrize("args, needle", [
    (["--set", "platforms.douyin.beta=-2"], "platforms.douyin.beta"),
    (["--set", "population.userz=5"], "population.userz"),
    (["--steps", "0"], "--steps"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "' + str(SCENARIOS / "base.toml") + '"\n[platforms.douyin]\nexposure_cap = 3\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "platforms.douyin.exposure_cap" in err and "allowed" in err
    assert not (tmp_path / "o").exists()


def test_refuses_non_empty_out(tmp_path, capsys):
    (tmp_path / "x").write_text("keep me")
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--out", str(tmp_path), *SMALL]) == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_python_dash_m_entry_point(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(SCENARIOS.parent)}
    r = subprocess.run([sys.executable, "-m", "simulator", "run", str(SCENARIOS / "kuaishou.toml"), "--steps", "2",
                        "--out", str(tmp_path / "r"), *SMALL], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert "run record" in r.stdout and (tmp_path / "r" / "summary.json").exists()
