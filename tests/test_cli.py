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


def test_run_makes_no_mesa_agent_per_user(tmp_path, monkeypatch):
    """The run's record is written from the columns: ``trafficsim run`` builds the model
    without a Mesa ``User`` per user (~40 ms at 10,000 users, ~4 s and ~0.45 GiB at
    1 M), with the creators', merchants' and platforms' agents."""
    import simulator.model as model_module

    made = []
    monkeypatch.setattr(model_module, "User", lambda model, row: made.append(row))
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "1", "--quiet", "--out", str(tmp_path / "r"),
                 *SMALL]) == 0
    assert made == []
    model_module.TrafficModel(SCENARIOS / "douyin.toml", seed=1, **{"population.users": 1500})  # (the test sees one)
    assert len(made) == 1500


@pytest.mark.parametrize("args, needle", [
    (["--set", "platforms.douyin.beta=-2"], "platforms.douyin.beta"),
    (["--set", "population.userz=5"], "population.userz"),
    (["--steps", "0"], "--steps"),
    # a --set of a key a flag also sets (the flag won and the --set value went unchecked)
    (["--set", "steps=-1", "--steps", "3"], "--set: steps: given twice, as --set steps=... and as --steps"),
])
def test_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_app_with_a_port_out_of_range_exits_2_before_starting(capsys, port):
    """The app's --port is checked before the server starts (it started, then failed with
    a traceback and exit 1; mutation checked)."""
    assert main(["app", "--port", port]) == 2
    assert f"--port: {port} is not a TCP port (allowed: 0..65535)" in capsys.readouterr().err


def test_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "' + str(SCENARIOS / "base.toml") + '"\n[platforms.douyin]\nexposure_cap = 3\n')
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "platforms.douyin.exposure_cap" in err and "allowed" in err
    assert not (tmp_path / "o").exists()


def test_a_bad_follow_graph_file_is_a_user_error_in_run_and_compare(tmp_path, capsys):
    """A follow-graph file is read when a run builds its world, after the scenario's
    check: its errors were reported as internal errors ("please report it"), and in
    ``compare``'s worker processes as a broken process pool (the error could not be
    unpickled). Now exit 2, one line, nothing written."""
    (tmp_path / "f.csv").write_text("user,creator\n-1,2\n")
    sc = tmp_path / "g.toml"
    sc.write_text(f'extends = "{SCENARIOS / "douyin.toml"}"\n[graph]\nfollow_graph_file = "f.csv"\n')
    for command in (["run", str(sc), "--steps", "2"],
                    ["compare", str(sc), str(SCENARIOS / "douyin.toml"), "--steps", "2", "--replicates", "2"]):
        out = tmp_path / command[0]
        assert main([*command, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("trafficsim: error: ") and "f.csv: graph.follow_graph_file: user index out of range" in err
        assert "internal error" not in err and not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["f.csv", "g.toml"]


def test_a_scenario_error_crosses_a_process_boundary_whole():
    import pickle

    from simulator.config import ScenarioError

    e = pickle.loads(pickle.dumps(ScenarioError("f.csv", "graph.follow_graph_file", "user index out of range")))
    assert isinstance(e, ScenarioError) and (e.source, e.key, e.message) == ("f.csv", "graph.follow_graph_file",
                                                                              "user index out of range")
    assert str(e) == "f.csv: graph.follow_graph_file: user index out of range"


def test_a_run_the_machine_lacks_the_memory_for_is_announced(tmp_path, capsys, monkeypatch):
    """A run short of memory is killed by the system part-way, without a word from the
    tool: the commands say so first (a warning; the run still starts)."""
    import simulator.cli as cli
    from simulator.config import load_scenario

    monkeypatch.setattr(cli, "_available_memory", lambda: 64 * 2**20)  # 64 MiB: less than any run needs
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "1", "--quiet", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "trafficsim: warning: this run may need about 0.3 GiB of memory" in err and "0.1 GiB available" in err
    assert (out / "manifest.json").exists()
    # the estimate follows users and days, and runs at once add up
    big = load_scenario(SCENARIOS / "douyin.toml", ["population.users=10000000", "population.creators=100000"])
    year = load_scenario(SCENARIOS / "douyin.toml", ["population.users=1000000", "population.creators=10000",
                                                     "steps=365"])
    assert 12 * 2**30 < cli._peak_estimate(big) < 15 * 2**30  # measured 13.1 GiB (docs/scaling.md)
    assert 3 * 2**30 < cli._peak_estimate(year) < 4.5 * 2**30  # measured 3.3-3.5 GiB
    monkeypatch.setattr(cli, "_available_memory", lambda: 20 * 2**30)
    cli._warn_memory([big])
    assert capsys.readouterr().err == ""
    cli._warn_memory([big], at_once=2)
    assert "2 runs at once may need about 26.7 GiB" in capsys.readouterr().err


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


def test_run_prints_the_summary_of_its_record(tmp_path, capsys):
    """``trafficsim run`` prints its headline table from the record's summary.json (not a
    second ``model.summary()``): the same text as from the model's summary, missing values
    (NaN there, null in the file) included."""
    from simulator.cli import _print_summary
    from simulator.config import load_scenario
    from simulator.model import TrafficModel

    sets = [v for v in SMALL if v != "--set"]
    assert main(["run", str(SCENARIOS / "ecosystem.toml"), "--steps", "3", "--out", str(tmp_path / "r"), *SMALL]) == 0
    printed = capsys.readouterr().out
    model = TrafficModel(load_scenario(SCENARIOS / "ecosystem.toml", sets, flags={"--steps": ("steps", 3)}), seed="scenario")
    model.run(3)
    summary = model.summary()
    assert any(v != v for p in summary["platforms"].values() for v in p.values() if isinstance(v, float))
    _print_summary(summary)
    assert printed == capsys.readouterr().out + f"run record: {tmp_path / 'r'}\n"


def test_the_program_ends_a_run_without_the_interpreter_teardown(tmp_path):
    """Guards ``cli.program`` (the ``trafficsim`` console script and ``python -m
    simulator``): after a finished ``run`` the process ends at once (``os._exit``: an
    ``atexit`` handler does not run), its output flushed first (stdout a pipe: buffered);
    any other command, here an input error (exit 2), exits through the usual teardown."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print('teardown', flush=True))\n"
            "from simulator.cli import program\n"
            "sys.argv = ['trafficsim', *sys.argv[1:]]\n"
            "program()\n")
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": str(SCENARIOS.parent)}
    run = [sys.executable, "-c", code, "run", str(SCENARIOS / "kuaishou.toml"), "--steps", "2"]
    r = subprocess.run([*run, "--out", str(tmp_path / "r"), *SMALL], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f"run record: {tmp_path / 'r'}") and "teardown" not in r.stdout
    assert "creators" in r.stdout and (tmp_path / "r" / "report.html").exists()
    r = subprocess.run([*run, "--out", str(tmp_path / "r")], capture_output=True, text=True, env=env)
    assert r.returncode == 2 and "not empty" in r.stderr and r.stdout == "teardown\n"


def test_the_program_builds_its_schema_without_pydantic_plugins():
    """Guards ``cli.program``'s ``PYDANTIC_DISABLE_PLUGINS``: the program's scenario schema
    is built without pydantic's look-up of plugins in every installed package's metadata
    (its ``_plugins`` cache is never filled), unless the variable is set otherwise."""
    code = ("import os, sys\n"
            "import simulator.cli as cli\n"
            "def fake_main():\n"
            "    import simulator.config\n"
            "    import pydantic.plugin._loader as loader\n"
            "    print(loader._plugins is None, flush=True)\n"
            "    return 0\n"
            "cli.main = fake_main\n"
            "cli.program()\n")
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env["PYTHONPATH"] = str(SCENARIOS.parent)
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout == "True\n"
    env["PYDANTIC_DISABLE_PLUGINS"] = "some_plugin"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout == "False\n"


# --------------------------------------------------------------------------- issue 13

TINY = ["--set", "population.users=200", "--set", "population.creators=20", "--set", "population.merchants=1"]


def _no_simulation(*a, **k):
    raise AssertionError("the simulation started before the output folder was checked")


@pytest.mark.parametrize("command", ["run", "compare", "validate", "sweep"])
@pytest.mark.parametrize("where", ["under-a-file", "proc"])
def test_unwritable_out_is_found_before_simulating(tmp_path, capsys, monkeypatch, command, where):
    """Issue 13, item 6: an unwritable --out was found only after the whole simulation ran
    (then a traceback, results lost). Now exit 2 with one line, before any run: the runs
    are replaced by a function that fails the test if called."""
    import simulator.experiments.compare as compare_mod
    import simulator.experiments.sweep as sweep_mod
    import simulator.model as model_mod

    if where == "proc":
        if not os.path.isdir("/proc/self"):
            pytest.skip("no /proc")
        out = "/proc/trafficsim-test/x"
    else:
        (tmp_path / "afile").write_text("x")
        out = str(tmp_path / "afile" / "out")
    for mod, name in ((model_mod, "TrafficModel"), (compare_mod, "run_all"), (compare_mod, "compare"), (sweep_mod, "run_sweep")):
        monkeypatch.setattr(mod, name, _no_simulation)
    argv = {"run": ["run", str(SCENARIOS / "douyin.toml")],
            "compare": ["compare", str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml"), "--replicates", "2"],
            "validate": ["validate", "--replicates", "2"],
            "sweep": ["sweep", str(SCENARIOS / "sweeps" / "follow_share_x_beta.toml")]}[command]
    assert main([*argv, "--out", out]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("trafficsim: error: ") and "\n" not in err and out in err
    assert [p.name for p in tmp_path.iterdir()] == (["afile"] if where == "under-a-file" else [])


def test_out_that_is_a_file_says_so(tmp_path, capsys):
    """Issue 13, item 10: ``--out <file>`` said "folder exists and is not empty"."""
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert "is a file" in err and "not empty" not in err and f.read_text() == "keep me"


def test_huge_seed_is_reported_as_seed(tmp_path, capsys):
    """Issue 13, item 10: a huge --seed was reported as "--set: seed"."""
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--seed", str(10**30), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "error: --seed: " in err and "--set" not in err


def test_a_feed_threads_variable_that_is_not_a_number_is_an_input_error(tmp_path, capsys, monkeypatch):
    """TRAFFICSIM_FEED_THREADS=abc (docs/scaling.md's knob) crashed a run with a ValueError
    (exit 3) on its first large day; now every command refuses it before any run."""
    monkeypatch.setenv("TRAFFICSIM_FEED_THREADS", "abc")
    out = tmp_path / "o"
    assert main(["run", str(SCENARIOS / "ecosystem.toml"), "--steps", "1", "--quiet", "--out", str(out),
                 "--set", "population.users=9000", "--set", "population.creators=300"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("trafficsim: error: TRAFFICSIM_FEED_THREADS: got 'abc'; must be a whole number") and \
        err.count("\n") == 1, err
    assert not out.exists()


def test_compare_keeps_every_scenario_when_a_name_looks_like_a_suffixed_label(tmp_path, capsys):
    """Two files named douyin and one named douyin_3: the second douyin was labelled
    douyin_3 too and replaced that scenario in the comparison (three files, two columns)."""
    d3 = tmp_path / "d3.toml"
    d3.write_text(f'extends = "{SCENARIOS / "kuaishou.toml"}"\nname = "douyin_3"\n')
    douyin = str(SCENARIOS / "douyin.toml")
    out = tmp_path / "c"
    assert main(["compare", douyin, str(d3), douyin, "--replicates", "2", "--steps", "1", "--workers", "1", "--quiet",
                 "--set", "population.users=200", "--set", "population.creators=20", "--set", "population.merchants=2",
                 "--out", str(out)]) == 0, capsys.readouterr()
    assert json.loads((out / "manifest.json").read_text())["scenarios"] == {
        "douyin": "douyin", "douyin_3": "douyin_3", "douyin_4": "douyin"}
    assert 'name = "douyin_3"' in (out / "scenario_douyin_3.toml").read_text()
    assert "kuaishou" in (out / "scenario_douyin_3.toml").read_text()


@pytest.mark.parametrize("name", ["k/s", "a\\b", "..", "."])
def test_a_scenario_name_that_cannot_name_a_file_is_an_input_error(tmp_path, capsys, name):
    """A name with a / crashed `compare` (exit 3, a traceback) once every run had finished,
    writing scenario_<name>.toml; `run` made nested folders of it. Now exit 2 at once."""
    bad = tmp_path / "bad.toml"
    bad.write_text(f'extends = "{SCENARIOS / "kuaishou.toml"}"\nname = {json.dumps(name)}\n')
    out = tmp_path / "c"
    assert main(["compare", str(SCENARIOS / "douyin.toml"), str(bad), "--replicates", "2", "--steps", "1",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {bad}: name: got ") and err.count("\n") == 1, err
    assert not out.exists()


@pytest.mark.parametrize("name", ["../../x", "a\\b", "..", ".", "x" * 201])
@pytest.mark.parametrize("command", ["sweep", "calibrate"])
def test_a_sweep_or_calibration_name_that_cannot_name_a_folder_is_an_input_error(tmp_path, capsys, monkeypatch,
                                                                                 command, name):
    """A sweep's or calibration's ``name`` makes its default folder, outputs/sweep-<name>
    (outputs/calibration-<name>): ``name = "../../x"`` put the sweep's folder outside
    outputs/. The scenario's rule (schema.output_name_error) holds there too: exit 2 naming
    the file and the key, nothing written. (Mutation checked: without the check in
    SweepSpec or CalibrationSpec the sweep or calibration runs.)"""
    from tests.experiments.calibration_files import write_calibration
    from tests.experiments.sweep_files import write_sweep

    monkeypatch.chdir(tmp_path)
    if command == "sweep":
        f = write_sweep(tmp_path / "s.toml", '"platforms.douyin.beta" = [1.0]', steps=1, users=200, name=json.dumps(name)[1:-1])
    else:
        f = write_calibration(tmp_path / "c.toml", name=json.dumps(name)[1:-1], budget=1, batch=1, startup=1, steps="1")
    assert main([command, str(f), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {f}: name: ") and err.count("\n") == 1, err
    if len(name) > 200:
        assert "at most 200 characters" in err
    else:
        assert f"got {name!r}; it names the {command if command == 'sweep' else 'calibration'}'s default output " \
               f"folder (outputs/{command if command == 'sweep' else 'calibration'}-<name>), so it cannot be " \
               "'.' or '..' or contain / or \\" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [f.name]  # no outputs/ (nor anything else)


@pytest.mark.parametrize("command", ["compare", "validate"])
@pytest.mark.parametrize("seed", [-1, 2**63])
def test_compare_and_validate_check_the_seed_range_as_run_does(tmp_path, capsys, command, seed):
    """`validate --seed -1` crashed with a numpy traceback (exit 3), and `compare` or
    `validate` took a --seed above the scenario's range (0..2**63-1), then wrote it into
    the record's scenario files, which no command reads back (so the record could not
    rerun). Both are input errors now, as for `run`: exit 2, nothing written."""
    files = [str(SCENARIOS / "douyin.toml"), str(SCENARIOS / "kuaishou.toml")] if command == "compare" else []
    out = tmp_path / "o"
    code = main([command, *files, "--seed", str(seed), "--replicates", "2", "--steps", "1", "--workers", "1",
                 "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("trafficsim: error: --seed: ") and "Traceback" not in err, err
    assert str(seed) in err or "must be >= 0" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("when", ["running", "writing"])
def test_ctrl_c_on_run_exits_130_and_leaves_nothing(tmp_path, capsys, monkeypatch, when):
    """Issue 13, item 9: Ctrl-C on ``run`` printed a KeyboardInterrupt traceback. Now one
    line, exit 130, no run record and no hidden partial folder."""
    import simulator.io.plots as plots
    import simulator.model as model_mod

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    if when == "running":
        monkeypatch.setattr(model_mod.TrafficModel, "run", interrupt)
    else:
        monkeypatch.setattr(plots, "lorenz_curves", interrupt)
    out = tmp_path / "run"
    try:
        rc = main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "1", "--quiet", "--out", str(out), *TINY])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped from main (a traceback for the user)")
    assert rc == 130
    err = capsys.readouterr().err.strip()
    assert err.startswith("trafficsim: interrupted") and "\n" not in err
    assert list(tmp_path.iterdir()) == []


def test_stale_partial_folders_are_cleaned(tmp_path, capsys):
    """Issue 13, item 9: ``kill -9`` while writing leaves ``.NAME.partial-PID``; the next
    run into the same parent removes those whose process is gone, and only those."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".old.partial-{dead.pid}"
    (stale / "plots").mkdir(parents=True)
    (stale / "metrics.csv").write_text("half")
    alive = tmp_path / f".busy.partial-{os.getppid()}"  # a live process's folder: kept
    alive.mkdir()
    other = tmp_path / ".not-ours"
    other.mkdir()
    out = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "douyin.toml"), "--steps", "1", "--quiet", "--out", str(out), *TINY]) == 0
    assert not stale.exists() and alive.is_dir() and other.is_dir() and (out / "summary.json").is_file()
    assert str(stale) in capsys.readouterr().err


def test_validate_crash_is_exit_3_not_1(tmp_path, capsys, monkeypatch):
    """Issue 13, item 10: ``validate`` used exit 1 both for "a target failed" and for a
    crash of the runs; a crash is now exit 3 (1 stays "a target failed")."""
    import simulator.experiments.compare as compare_mod

    def crash(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(compare_mod, "run_all", crash)
    out = tmp_path / "v"
    assert main(["validate", "--replicates", "2", "--steps", "1", "--out", str(out)]) == 3
    assert "validation runs crashed (RuntimeError: boom)" in capsys.readouterr().err
    assert not out.exists()


def test_validate_announces_runs_the_machine_lacks_the_memory_for(tmp_path, capsys, monkeypatch):
    """``validate --users`` scales every scenario up: like run and compare, it warns when
    its runs at once would need more memory than the machine has (no run here: the runs
    are stubbed to crash, exit 3)."""
    import simulator.cli as cli
    import simulator.experiments.compare as compare_mod

    def crash(*a, **k):
        raise RuntimeError("stop")

    monkeypatch.setattr(compare_mod, "run_all", crash)
    monkeypatch.setattr(cli, "_available_memory", lambda: 20 * 2**30)
    args = ["validate", "--replicates", "2", "--steps", "30", "--workers", "2", "--out", str(tmp_path / "v")]
    assert main([*args, "--users", "10000"]) == 3
    assert "warning" not in capsys.readouterr().err
    assert main([*args, "--users", "10000000"]) == 3
    assert "trafficsim: warning: 2 runs at once may need about 26." in capsys.readouterr().err


def test_sweep_and_calibrate_announce_runs_the_machine_lacks_the_memory_for(tmp_path, capsys, monkeypatch):
    """A sweep or a calibration whose largest runs at once would need more memory than the
    machine has says so before it starts, as run, compare and validate do: the point with
    the most users of a sweep over ``population.users``, a calibration's parameter over it
    at the top of its range (the runs stubbed: interrupted at once, exit 130)."""
    import simulator.cli as cli
    import simulator.experiments.calibrate as calibrate_mod
    import simulator.experiments.sweep as sweep_mod

    from .experiments.calibration_files import write_calibration
    from .experiments.sweep_files import write_sweep

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_mod, "run_sweep", interrupt)
    monkeypatch.setattr(calibrate_mod, "run_calibration", interrupt)
    monkeypatch.setattr(cli, "_available_memory", lambda: 20 * 2**30)
    small_sweep = write_sweep(tmp_path / "a.toml", '"platforms.douyin.beta" = [0.0, 2.0]', steps=30)
    assert main(["sweep", str(small_sweep), "--workers", "2", "--out", str(tmp_path / "a")]) == 130
    assert "warning" not in capsys.readouterr().err
    big_sweep = write_sweep(tmp_path / "b.toml", '"population.users" = [400, 10000000]', steps=30)
    assert main(["sweep", str(big_sweep), "--workers", "2", "--out", str(tmp_path / "b")]) == 130
    assert "trafficsim: warning: 2 runs at once may need about 26." in capsys.readouterr().err
    assert main(["sweep", str(big_sweep), "--workers", "1", "--out", str(tmp_path / "b")]) == 130
    assert "warning" not in capsys.readouterr().err  # one run of 13 GiB fits in 20
    cal = write_calibration(tmp_path / "c.toml", steps="30", extra_parameters=(
        '[parameters."population.users"]\nrange = [400, 10000000]\nscenarios = ["douyin"]\n'))
    assert main(["calibrate", str(cal), "--workers", "2", "--out", str(tmp_path / "c")]) == 130
    assert "trafficsim: warning: 2 runs at once may need about 26." in capsys.readouterr().err
    small_cal = write_calibration(tmp_path / "d.toml", steps="30")
    assert main(["calibrate", str(small_cal), "--workers", "2", "--out", str(tmp_path / "d")]) == 130
    assert "warning" not in capsys.readouterr().err


def test_help_and_input_errors_do_not_load_the_heavy_modules(tmp_path):
    """Issue 13, item 16: ``--help`` and input errors took 2-4 s because mesa, numba,
    matplotlib and pandas were imported eagerly. They must not be loaded at all on those
    paths (checked in a fresh interpreter; no timing here, see the report for times)."""
    code = (
        "import sys\n"
        "from simulator.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"assert main(['run', {str(SCENARIOS / 'douyin.toml')!r}, '--set', 'platforms.douyn.beta=2']) == 2\n"
        f"assert main(['run', {str(tmp_path)!r}]) == 2\n"
        "assert main(['validate', '--set', 'population.userz=5']) == 2\n"
        f"assert main(['compare', {str(SCENARIOS / 'douyin.toml')!r}, {str(SCENARIOS / 'kuaishou.toml')!r}, '--replicates', '1']) == 2\n"
        f"assert main(['compare', {str(SCENARIOS / 'douyin.toml')!r}, {str(tmp_path)!r}]) == 2\n"
        f"assert main(['sweep', {str(tmp_path)!r}]) == 2\n"
        f"assert main(['sweep', {str(SCENARIOS / 'sweeps' / 'push_policy.toml')!r}, '--workers', '0']) == 2\n"
        "import simulator\n"
        "assert simulator.__version__\n"
        "print(sorted(m for m in ('mesa', 'numba', 'matplotlib', 'pandas', 'scipy') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SCENARIOS.parent)}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_public_names_still_import():
    """The lazy package keeps ``from simulator import ...`` working (issue 13, item 16)."""
    from simulator import (Creator, Merchant, Platform, Scenario, ScenarioError, TrafficModel, User,  # noqa: F401
                           load_scenario)
    import simulator

    assert TrafficModel.__name__ == "TrafficModel" and set(simulator.__all__) <= set(dir(simulator))
    with pytest.raises(AttributeError):
        simulator.no_such_name


def test_validate_scenarios_named_in_cli_match_the_module():
    """cli.py repeats validate's scenario folder so that its input errors answer without
    importing pandas/matplotlib (issue 13, item 16); they must not drift apart (the
    scenario names come from the targets file, read by the light targets module)."""
    from simulator import cli
    from simulator.experiments import validate

    assert cli.VALIDATE_DIR == validate.SCENARIO_DIR


def test_a_closed_pipe_is_not_reported_as_a_crash(tmp_path):
    """`trafficsim run ... | head` must not print a traceback or 'internal error' when the
    reader closes the pipe: exit 141 (128 + SIGPIPE, as shells report it), the run record
    complete (guards the BrokenPipeError branch of ``main``)."""
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(SCENARIOS.parent)}
    cmd = [sys.executable, "-m", "simulator", "run", str(SCENARIOS / "douyin.toml"), "--steps", "2", "--out", str(out),
           *SMALL]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    p.stdout.close()  # the reader goes away before anything is printed
    err = p.stderr.read().decode()
    assert p.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "internal error" not in err and "Exception ignored" not in err
    assert (out / "summary.json").exists() and (out / "manifest.json").exists()


def test_compare_and_validate_pools_cancel_queued_runs_when_interrupted():
    """Ctrl-C in compare or validate (README: exit 130) stops without running the queued
    runs: their pool's exit cancels what has not started (it waited for every queued
    run, minutes at 1 M users; mutation checked: a plain ``with ProcessPoolExecutor``
    cancels none)."""
    import time

    from simulator.cli import _runs

    futures = []
    with pytest.raises(KeyboardInterrupt):
        with _runs(20, 2, "test", show_bar=False) as (pool, _):
            futures += [pool.submit(time.sleep, 0.5) for _ in range(20)]
            raise KeyboardInterrupt
    deadline = time.time() + 30  # (the pool's thread marks them cancelled on its own time)
    while sum(f.cancelled() for f in futures) < 10 and time.time() < deadline:
        time.sleep(0.05)
    assert sum(f.cancelled() for f in futures) >= 10
