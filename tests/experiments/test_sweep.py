"""Sweeps: expansion, determinism across executors, faults, resume, bad files."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from simulator.cli import main
from simulator.config import ScenarioError
from simulator.sweep import load_sweep, run_sweep

from ..conftest import SCENARIOS
from .sweep_files import graph_here_and_elsewhere, set_relative_graph, write_sweep

def sweep_file(tmp_path, parameters, method="grid", replicates=2, samples=4, steps=3, name="s.toml"):
    return write_sweep(tmp_path / name, parameters, method=method, replicates=replicates, samples=samples, steps=steps)


GRID = '"platforms.douyin.beta" = [0.0, 2.0]\n"platforms.douyin.follow_share" = [0.05, 0.3, 0.6]'


def test_grid_and_sampling_counts(tmp_path):
    assert len(load_sweep(sweep_file(tmp_path, GRID)).runs()) == 2 * 3 * 2
    rng = '"platforms.douyin.beta" = { range = [0.0, 3.0] }\n"platforms.douyin.ad_load" = { range = [0.0, 0.2] }'
    lhs = load_sweep(sweep_file(tmp_path, rng, method="lhs", samples=7))
    assert len(lhs.runs()) == 7 * 2
    betas = sorted(p["platforms.douyin.beta"] for p in lhs.points())
    assert all(0 <= b <= 3 for b in betas) and len({int(b / (3 / 7)) for b in betas}) == 7  # one per stratum
    sobol = load_sweep(sweep_file(tmp_path, rng, method="sobol", samples=8, replicates=1))
    assert len(sobol.runs()) == 8 * (2 + 2)


def test_same_results_serial_process_pool_and_dask(tmp_path):
    from dask.distributed import Client, LocalCluster

    spec = load_sweep(sweep_file(tmp_path, '"platforms.douyin.beta" = [0.0, 2.0]'))
    serial = run_sweep(spec, out=tmp_path / "serial")
    with ProcessPoolExecutor(2) as pool:
        pooled = run_sweep(spec, executor=pool, out=tmp_path / "pool")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dasked = run_sweep(spec, executor=client, out=tmp_path / "dask")
    cols = [c for c in serial.columns if c not in ("wall_s",)]
    for other in (pooled, dasked):
        pd.testing.assert_frame_equal(serial[cols].sort_values("run_id").reset_index(drop=True),
                                      other[cols].sort_values("run_id").reset_index(drop=True))
    assert (serial.status == "ok").all() and len(serial) == 4
    assert pd.read_parquet(tmp_path / "serial" / "results.parquet").shape[0] == 4


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path):
    spec = load_sweep(sweep_file(tmp_path, f'"graph.follow_graph_file" = ["", "{tmp_path}/missing.csv"]', replicates=1))
    df = run_sweep(spec, out=tmp_path / "out")
    assert list(df.sort_values("run_id").status) == ["ok", "failed"]
    assert "missing.csv" in df[df.status == "failed"].error.item()
    # resume re-runs only the failed one
    before = (tmp_path / "out" / "runs" / "p00000-r000.json").stat().st_mtime_ns
    run_sweep(spec, out=tmp_path / "out", resume=True)
    assert (tmp_path / "out" / "runs" / "p00000-r000.json").stat().st_mtime_ns == before


def test_sweep_json_names_the_libraries_kernels_and_machine_as_a_run_manifest_does(tmp_path, capsys):
    """Guards run_sweep's record: sweep.json says, under trafficsim_sweep, which python,
    numpy, mesa, kernels compiled ahead and machine ran the sweep, with the keys and values
    a run's manifest.json has for them (io.outputs.environment)."""
    f = sweep_file(tmp_path, '"platforms.douyin.beta" = [1.0]', replicates=1, steps=2)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(tmp_path / "s")]) == 0
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "2", "--set", "population.users=200",
                 "--set", "population.creators=20", "--set", "population.merchants=1", "--quiet",
                 "--out", str(tmp_path / "r")]) == 0
    record = json.loads((tmp_path / "s" / "sweep.json").read_text())["trafficsim_sweep"]
    run = json.loads((tmp_path / "r" / "manifest.json").read_text())
    keys = ("python", "numpy", "mesa", "kernels_ahead", "machine")
    assert {k: record[k] for k in keys} == {k: run[k] for k in keys}
    assert all(isinstance(record[k], str) and record[k] for k in keys)
    assert record["sampler"] is None  # a grid's points need no sampler


def test_the_records_say_where_the_runs_ran(tmp_path):
    """Guards describe_executor: sweep.json (under trafficsim_sweep) and a calibration's
    manifest.json say where the runs ran (``executor``): serially in the command's
    process, a process pool of N workers, or a Dask cluster: its scheduler and each worker
    with its host, threads, software, machine and code, as a run's manifest has them
    (the sweep's own ``machine`` and ``code`` are the sending process's, not the
    workers'). Mutation checked: with the Dask entry reduced to its kind, the workers'
    code was not in the record."""
    from dask.distributed import Client, LocalCluster

    from simulator.experiments.calibrate import run_calibration
    from simulator.io.outputs import environment

    from .calibration_files import write_calibration

    f = sweep_file(tmp_path, '"platforms.douyin.beta" = [1.0]', replicates=1, steps=2)
    cal = write_calibration(tmp_path / "c.toml", budget=1, batch=1, startup=1)

    def where(out, calibration=False):
        if calibration:
            return json.loads((out / "manifest.json").read_text())["executor"]
        return json.loads((out / "sweep.json").read_text())["trafficsim_sweep"]["executor"]

    run_sweep(f, out=tmp_path / "serial")
    assert where(tmp_path / "serial") == {"kind": "serial"}
    with ProcessPoolExecutor(2) as pool:
        run_sweep(f, executor=pool, out=tmp_path / "pool")
    assert where(tmp_path / "pool") == {"kind": "process pool", "workers": 2}
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        run_sweep(f, executor=client, out=tmp_path / "dask")
        run_calibration(cal, executor=client, out=tmp_path / "cal")
        address = cluster.scheduler_address
    mine = environment()
    for record in (where(tmp_path / "dask"), where(tmp_path / "cal", calibration=True)):
        assert record["kind"] == "dask" and record["scheduler"] == address
        (worker,) = record["workers"]
        assert worker["host"] == "127.0.0.1" and worker["threads"] == 1 and worker["address"].startswith("tcp://")
        assert {k: worker[k] for k in mine} == mine  # a LocalCluster's worker: this machine and code


@pytest.mark.parametrize("method, library", [("lhs", "scipy"), ("sobol", "SALib")])
def test_sweep_json_names_the_sampler_that_drew_the_points(tmp_path, method, library):
    """A sampled sweep's points depend on the sampling library's version: sweep.json names it."""
    from importlib.metadata import version

    f = sweep_file(tmp_path, '"platforms.douyin.beta" = { range = [0.0, 2.0] }', method=method, replicates=1,
                   samples=2, steps=1)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(tmp_path / "s")]) == 0
    record = json.loads((tmp_path / "s" / "sweep.json").read_text())["trafficsim_sweep"]
    assert record["sampler"] == {library: version(library)}


def _metrics_of(summary: dict) -> dict:
    """A run record's summary.json as a sweep's run row has its metrics (sweep.run_one)."""
    metrics = dict(summary["totals"])
    for name, values in summary["platforms"].items():
        metrics.update({f"{name}.{k}": v for k, v in values.items()})
    return metrics


def test_a_point_file_reruns_that_point_alone(tmp_path, capsys):
    """Guards sweep.point_scenarios: every point's resolved scenario is DIR/scenarios/
    pNNNNN.toml, listed in sweep.json with the replicates' seeds, and the command its
    header gives for a replicate reproduces that run's metrics exactly."""
    import shlex

    f = sweep_file(tmp_path, '"platforms.douyin.beta" = [0.0, 2.0]', replicates=2, steps=2)
    out = tmp_path / "s"
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out)]) == 0
    record = json.loads((out / "sweep.json").read_text())["trafficsim_sweep"]
    spec = load_sweep(f)
    assert record["replicate_seeds"] == spec.replicate_seeds() == [r["seed"] for r in spec.runs()[:2]]
    assert record["scenarios"] == ["scenarios/p00000.toml", "scenarios/p00001.toml"]
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == ["p00000.toml", "p00001.toml"]
    text = (out / "scenarios" / "p00001.toml").read_text()
    assert "#   platforms.douyin.beta = 2.0\n" in text
    assert f"\nseed = {record['replicate_seeds'][0]}\n" in text  # the file alone runs replicate 0
    line = next(ln for ln in text.splitlines() if ln.endswith("# replicate 1, run p00001-r001"))
    command = shlex.split(line.lstrip("# ").split("   #")[0])
    assert command[:2] == ["trafficsim", "run"] and command[-2:] == ["--seed", str(record["replicate_seeds"][1])]
    assert main([*command[1:], "--quiet", "--out", str(tmp_path / "again")]) == 0
    summary = json.loads((tmp_path / "again" / "summary.json").read_text())
    row = json.loads((out / "runs" / "p00001-r001.json").read_text())
    assert row["metrics"] and _metrics_of(summary) == row["metrics"]  # (replicate 0's differ: mutation checked)


def test_resume_moves_point_files_that_changed_aside(tmp_path, capsys):
    """Guards sweep.write_point_files: on --resume a point file whose scenario is no
    longer the point's (the sweep changed, or the file was edited) or whose point left the
    sweep is moved to DIR/scenarios/superseded/ (numbered when a name is there already),
    never overwritten or trusted; an unchanged one stays as it is."""
    beta = '"platforms.douyin.beta" = [0.0, 2.0]'
    f = write_sweep(tmp_path / "s.toml", beta, steps=2)
    out = tmp_path / "out"
    sweep = ["sweep", str(f), "--workers", "1", "--out", str(out)]
    assert main(sweep) == 0
    points = out / "scenarios"
    first = {p.name: p.read_text() for p in points.glob("*.toml")}
    assert main([*sweep, "--resume"]) == 0  # unchanged: kept
    assert not (points / "superseded").exists() and {p.name: p.read_text() for p in points.glob("*.toml")} == first
    (points / "p00000.toml").write_text(first["p00000.toml"].replace("\nsteps = 2\n", "\nsteps = 9\n"))
    capsys.readouterr()
    assert main([*sweep, "--resume"]) == 0  # edited by hand: moved aside, written again
    assert "1 point scenario file(s) changed" in capsys.readouterr().out
    assert (points / "superseded" / "p00000.toml").read_text().count("\nsteps = 9\n") == 1
    assert (points / "p00000.toml").read_text() == first["p00000.toml"]
    write_sweep(f, '"platforms.douyin.beta" = [0.0]', steps=2, users=300)  # [set] changed, point 1 gone
    assert main([*sweep, "--resume"]) == 0
    assert sorted(p.name for p in (points / "superseded").iterdir()) == ["p00000.1.toml", "p00000.toml", "p00001.toml"]
    assert (points / "superseded" / "p00000.1.toml").read_text() == first["p00000.toml"]
    assert (points / "superseded" / "p00001.toml").read_text() == first["p00001.toml"]
    assert sorted(p.name for p in points.glob("*.toml")) == ["p00000.toml"]
    assert "\nusers = 300\n" in (points / "p00000.toml").read_text()
    assert json.loads((out / "sweep.json").read_text())["trafficsim_sweep"]["scenarios"] == ["scenarios/p00000.toml"]


def test_resume_after_a_killed_sweep_reruns_only_what_is_missing(tmp_path):
    spec_path = sweep_file(tmp_path, '"platforms.douyin.beta" = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]', steps=25)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(SCENARIOS.parent)}
    cmd = [sys.executable, "-m", "simulator", "sweep", str(spec_path), "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "runs").glob("*.json"))) < 2:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    finished = {f.name: f.stat().st_mtime_ns for f in (out / "runs").glob("*.json")}
    assert 2 <= len(finished) < 12, "the sweep should have been killed part-way"
    for f in (out / "runs").glob("*.json"):
        assert json.loads(f.read_text())["status"] == "ok"  # every finished run is readable
    assert not list((out / "runs").glob(".*"))  # no half-written run file
    r = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    after = {f.name: f.stat().st_mtime_ns for f in (out / "runs").glob("*.json")}
    assert len(after) == 12
    assert all(after[name] == t for name, t in finished.items())  # finished runs were not re-run
    assert len(pd.read_parquet(out / "results.parquet")) == 12


@pytest.mark.parametrize("body, needle", [
    ('"population.userz" = [1, 2]', "population.userz"),
    ('"platforms.douyin.beta" = [1.0, -3.0]', "platforms.douyin.beta"),
    ('"platforms.douyin.beta" = { range = [0.0, 1.0] }',
     "parameters.platforms.douyin.beta: method 'grid' needs a non-empty list of values, e.g. [0.5, 1.0]; "
     "got { range = [0.0, 1.0] }"),
    # the file's top-level steps (3) would silently win over every run's (mutation checked)
    ('"steps" = [3, 10]', "parameters.steps: the sweep's top-level 'steps' (3)"),
    # a key inside a number: it read "--set: name.x: ...", a flag a sweep does not have
    ('"name.x" = [1, 2]', "s.toml: name.x: 'name' is not a table"),
])
def test_bad_sweep_files_exit_2_naming_the_key(tmp_path, capsys, body, needle):
    p = sweep_file(tmp_path, body)
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert needle in err and "s.toml" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("base, says", [("nope.toml", "file not found: "), (".", "is a folder, not a TOML file")])
def test_a_base_that_cannot_be_read_is_named_as_the_sweep_files_base(tmp_path, capsys, base, says):
    """A missing (or folder) base scenario said only "file not found: PATH", naming neither
    the sweep file nor its key ``base``."""
    p = tmp_path / "s.toml"
    p.write_text(f'base = "{base}"\nsteps = 2\n[parameters]\n"platforms.douyin.beta" = [0.0, 1.0]\n')
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {p}: base: ") and says in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_a_point_that_breaks_a_check_across_keys_is_blamed_on_the_sweep_file(tmp_path, capsys):
    """A parameter value that makes a check across keys fail at a key the base scenario
    set (merchants more than half the creators): the sweep file and the key are named (the
    error named the base scenario's file)."""
    p = tmp_path / "s.toml"
    p.write_text(f'base = "{SCENARIOS / "douyin.toml"}"\nsteps = 2\n[parameters]\n"population.creators" = [100, 4]\n')
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    base = (SCENARIOS / "base.toml").resolve()
    assert capsys.readouterr().err == (f"trafficsim: error: {p}: population.creators: conflicts with "
                                       f"population.merchants (from {base}): must be at most half of "
                                       "population.creators\n")
    assert not (tmp_path / "o").exists()


_RANGE = "parameters.platforms.douyin.beta: a range must be [low, high] with low < high (two finite numbers), got "
_GRID = "parameters.platforms.douyin.beta: method 'grid' needs a non-empty list of values, e.g. [0.5, 1.0]; got "


@pytest.mark.parametrize("method, body, needle", [
    # a malformed range read "parameters.platforms.douyin.beta.list[any]: Input should be a valid list"
    ("lhs", '"platforms.douyin.beta" = { range = [1.0] }', _RANGE + "[1.0]"),
    ("sobol", '"platforms.douyin.beta" = { range = [3.0, 1.0] }', _RANGE + "[3.0, 1.0]"),
    ("lhs", '"platforms.douyin.beta" = { range = [2.0, 2.0] }', _RANGE + "[2.0, 2.0]"),
    ("lhs", '"platforms.douyin.beta" = { range = ["a", 2.0] }', _RANGE + '["a", 2.0]'),
    ("lhs", '"platforms.douyin.beta" = { range = [false, 3.0] }', _RANGE + "[false, 3.0]"),
    ("lhs", '"platforms.douyin.beta" = { range = [0.0, inf] }', _RANGE + "[0.0, inf]"),
    ("lhs", '"platforms.douyin.beta" = { range = 3.0 }', _RANGE + "3.0"),
    ("lhs", '"platforms.douyin.beta" = [3.0, 1.0]', "parameters.platforms.douyin.beta: method 'lhs' samples from a "
     "range: { range = [low, high] } with low < high; got [3.0, 1.0]"),
    ("sobol", '"platforms.douyin.beta" = { range = [0.0, 1.0], log = true }', "parameters.platforms.douyin.beta: "
     "method 'sobol' samples from a range: { range = [low, high] } with low < high; got { range = [0.0, 1.0], log = true }"),
    # an empty grid read "Value error, parameters.platforms.douyin.beta: empty list of values"
    ("grid", '"platforms.douyin.beta" = []', _GRID + "[]"),
    ("grid", '"platforms.douyin.beta" = 3.0', _GRID + "3.0"),
    ("grid", '"platforms.douyin.beta" = "x"', _GRID + '"x"'),
    # a value given twice ran its points twice (one value weighing double in the means)
    ("grid", '"platforms.douyin.beta" = [0.5, 1, 1.0]', "parameters.platforms.douyin.beta: the grid's values must "
     "differ: 1.0 is given twice in [0.5, 1, 1.0] (its points would run twice, one value weighing double)"),
])
def test_a_malformed_range_or_grid_is_one_sentence_naming_file_and_key(tmp_path, capsys, method, body, needle):
    p = sweep_file(tmp_path, body, method=method)
    assert main(["sweep", str(p), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err == f"trafficsim: error: {p}: {needle}\n"
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("table, needle", [
    # read "parameters: Dictionary should have at least 1 item after validation, not 0"
    ("parameters = {}", "parameters: a sweep needs at least one key to vary, e.g. [parameters] "
     '"platforms.douyin.beta" = [0.5, 1.0] (grid) or { range = [0.5, 2.0] } (lhs, sobol); the table is empty'),
    ("", "parameters: a sweep needs at least one key to vary, e.g. [parameters] "
     '"platforms.douyin.beta" = [0.5, 1.0]; the file has no [parameters] table'),  # read "parameters: Field required"
    ("parameters = 3", "parameters: must be a table of the keys to vary, e.g. [parameters] "
     '"platforms.douyin.beta" = [0.5, 1.0] (grid) or { range = [0.5, 2.0] } (lhs, sobol); got 3'),
])
def test_no_parameters_is_a_plain_sentence(tmp_path, table, needle):
    p = tmp_path / "s.toml"
    p.write_text(f'base = "{SCENARIOS / "douyin.toml"}"\n{table}\n')
    with pytest.raises(ScenarioError) as exc:
        load_sweep(p)
    assert str(exc.value) == f"{p}: {needle}"


@pytest.mark.parametrize("replicates, needle", [
    ("true", "replicates: Input should be a valid integer (got True)"),  # lax mode: 1 replicate, silently
    ("2.0", "replicates: Input should be a valid integer (got 2.0)"),
])
def test_a_boolean_or_a_float_where_a_sweep_count_belongs_is_an_error(tmp_path, replicates, needle):
    p = sweep_file(tmp_path, GRID)
    p.write_text(p.read_text().replace("replicates = 2", f"replicates = {replicates}"))
    with pytest.raises(ScenarioError, match=re.escape(needle)):
        load_sweep(p)
    p = sweep_file(tmp_path, '"platforms.douyin.beta" = { range = [false, 3.0] }', method="lhs")
    with pytest.raises(ScenarioError, match=re.escape("parameters.platforms.douyin.beta: a range must be")):
        load_sweep(p)


def test_unknown_sweep_key(tmp_path):
    p = sweep_file(tmp_path, GRID)
    p.write_text(p.read_text() + "\nworkerz = 3\n")
    with pytest.raises(ScenarioError, match="workerz"):
        load_sweep(p)


def test_sweep_report_writes_main_effects_and_heatmap(tmp_path):
    out = tmp_path / "out"
    run_sweep(load_sweep(sweep_file(tmp_path, GRID, replicates=2)), out=out)
    assert main(["sweep-report", str(out)]) == 0
    rep = out / "report"
    for f in ("report.md", "main_effects.csv", "heatmap.png", "main_effect_platforms_douyin_beta.png"):
        assert (rep / f).exists(), f
    eff = pd.read_csv(rep / "main_effects.csv")
    assert set(eff.parameter) == {"platforms.douyin.beta", "platforms.douyin.follow_share"}
    assert (eff.ci_low <= eff["mean"]).all()


def test_sweep_report_leaves_no_file_of_an_earlier_report(tmp_path, capsys, monkeypatch):
    """A sweep reported, then resumed with one parameter fewer and reported again: the
    earlier report's heatmap and the dropped parameter's figure stayed in DIR/report/
    beside the new report.md (which names neither). An interrupted report leaves the
    earlier one as it was, and nothing hidden."""
    import simulator.experiments.sweep_report as sweep_report

    out = tmp_path / "out"
    f = sweep_file(tmp_path, GRID, replicates=1, steps=1)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out)]) == 0
    assert main(["sweep-report", str(out)]) == 0
    assert (out / "report" / "heatmap.png").exists()
    sweep_file(tmp_path, '"platforms.douyin.beta" = [0.0, 2.0]', replicates=1, steps=1)
    assert main(["sweep", str(f), "--workers", "1", "--out", str(out), "--resume"]) == 0
    before = {p.name: p.read_bytes() for p in (out / "report").iterdir()}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_report, "main_effects_figure", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep_report.report(out)
    assert {p.name: p.read_bytes() for p in (out / "report").iterdir()} == before
    monkeypatch.undo()
    assert main(["sweep-report", str(out)]) == 0
    assert sorted(p.name for p in (out / "report").iterdir()) == [
        "main_effect_platforms_douyin_beta.png", "main_effects.csv", "report.md"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_shipped_sweeps_validate():
    for f in (SCENARIOS / "sweeps").glob("*.toml"):
        assert load_sweep(f).runs()


def test_sweep_report_reads_wechat_share_of_gmv():
    """The sweep report's derived wechat_share_gmv (what commission_vs_wechat.toml reads) is
    WeChat's GMV over all GMV, NaN where a run sold nothing (not 0, not an error)."""
    import pandas as pd

    from simulator.experiments.sweep_report import HEADLINE, _with_derived

    df = pd.DataFrame({"gmv_private_platform": [10.0, 0.0], "gmv_private_wechat": [30.0, 0.0],
                       "gmv_total": [120.0, 0.0]})
    out = _with_derived(df)
    assert "wechat_share_gmv" in HEADLINE
    assert out["wechat_share_gmv"].iloc[0] == 0.25 and out["wechat_share_gmv"].isna().iloc[1]
    assert list(out["gmv_private"]) == [40.0, 0.0]


def test_a_point_file_names_a_relative_graph_file_by_its_absolute_path(tmp_path, monkeypatch):
    """Guards sweep._standalone: a follow-graph file given by a relative path in the sweep's
    [set] is read from the sweep's working folder, so a point file (read from its own
    folder, DIR/scenarios/) names it by its absolute path (mutation checked: written as
    given, the point file would read DIR/scenarios/g.csv instead)."""
    from simulator.experiments.sweep import point_scenarios

    monkeypatch.chdir(tmp_path)
    f = sweep_file(tmp_path, '"platforms.douyin.beta" = [0.0]', replicates=1, steps=2)
    f.write_text(f.read_text().replace("[set]\n", '[set]\n"graph.follow_graph_file" = "g.csv"\n'))
    text = point_scenarios(load_sweep(f), tmp_path / "s")["p00000.toml"]
    assert f'\nfollow_graph_file = "{tmp_path / "g.csv"}"\n' in text


def test_sweep_report_main_effects_take_students_t():
    """sweep-report's main-effect bands are the 95% CI by Student's t over a level's runs
    (t(0.975, 4) = 2.776 for 5 runs), not the normal 1.96 (~88% at 5 runs)."""
    from simulator.experiments.sweep_report import main_effects

    v = [1.0, 2.0, 4.0, 7.0, 11.0]
    df = pd.DataFrame({"p": [0.5] * 5 + [1.0] * 5, "m": v + [x * 3 for x in v]})
    eff = main_effects(df, "p", ["m"], grid=True).set_index("level")
    sd = pd.Series(v).std(ddof=1)
    assert (eff.loc[0.5, "ci_high"] - eff.loc[0.5, "mean"]) == pytest.approx(2.776445 * sd / 5 ** 0.5, rel=1e-6)
    assert (eff.loc[1.0, "mean"] - eff.loc[1.0, "ci_low"]) == pytest.approx(3 * 2.776445 * sd / 5 ** 0.5, rel=1e-6)


def test_workers_in_another_folder_read_the_sweeps_relative_graph_file(tmp_path, monkeypatch):
    """Guards sweep.for_workers: a follow-graph file given by a relative path in [set] is
    read from the sweep's working folder, also by workers whose own working folder is
    another one (a Dask worker started elsewhere; here a process pool whose workers chdir
    to a folder holding another file of that name). Mutation checked: with the path
    shipped as given, every worker read its own folder's g.csv, a different graph under
    the fingerprint of the sweep's (no error, other results)."""
    here, elsewhere = graph_here_and_elsewhere(tmp_path, monkeypatch)
    f = set_relative_graph(sweep_file(here, '"platforms.douyin.beta" = [0.0, 2.0]', replicates=1, steps=2))
    spec = load_sweep(f)
    serial = run_sweep(spec, out=here / "serial")
    with ProcessPoolExecutor(1, initializer=os.chdir, initargs=(str(elsewhere),)) as pool:
        remote = run_sweep(spec, executor=pool, out=here / "remote")
    assert (serial.status == "ok").all() and (remote.status == "ok").all()
    cols = [c for c in serial.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(serial[cols].sort_values("run_id").reset_index(drop=True),
                                  remote[cols].sort_values("run_id").reset_index(drop=True))
