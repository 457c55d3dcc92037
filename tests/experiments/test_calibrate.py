"""``trafficsim calibrate``: the toy problem (a parameter it was given is recovered),
determinism across executors, resume, run lengths, outputs and bad files."""

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from simulator.cli import main
from simulator.config import ScenarioError, load_scenario
from simulator.experiments.calibrate import evaluate_point, run_calibration, run_task
from simulator.experiments.calibrate_spec import load_calibration, scenario_dict

from ..conftest import SCENARIOS
from .calibration_files import write_calibration

KEY = "platforms.douyin.ad_load"
TRUTH = 0.15


def _table(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["wall_s", "run_s"]).sort_values("evaluation").reset_index(drop=True)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """The toy problem: a band of +-3% around the commercial share of impressions the
    model gives at ad_load = TRUTH (2 replicates), then a 16-evaluation calibration."""
    tmp = tmp_path_factory.mktemp("toy")
    probe = load_calibration(write_calibration(tmp / "probe.toml", replicates=2, lo=0.0, hi=1.0))
    value = evaluate_point(probe, {KEY: TRUTH})["targets"][0]["value"]
    path = write_calibration(tmp / "toy.toml", replicates=2, budget=16, batch=4, startup=4, tolerance=0.5,
                             lo=value * 0.97, hi=value * 1.03,
                             extra_parameters='[parameters."platforms.douyin.tip_cut"]\nrange = [0.1, 0.9]\n')
    table = run_calibration(path, out=tmp / "out")
    return path, tmp / "out", table


def test_the_toy_problem_recovers_the_parameter_it_was_given(toy):
    """Guards the search itself (ask, run, score, tell): the calibration finds an ad load
    whose commercial share of impressions lies in the +-3% band around the value at the
    truth (loss 0) within 0.01 of the truth, in 16 evaluations over [0.02, 0.4] (the band
    is ~2.5% of the range wide). Fails when the losses are not told to the sampler (it
    stays at random and misses the band: best 0.136, loss 0.62) or when the loss ignores
    the miss (best = evaluation 0, 0.229)."""
    _, out, table = toy
    ok = table[table.status == "ok"]
    best = ok.sort_values(["loss", "evaluation"]).iloc[0]
    assert abs(best[f"param.{KEY}"] - TRUTH) < 0.01 and best["loss"] == 0, ok[[f"param.{KEY}", "loss"]]


def test_the_report_says_which_parameter_the_target_pins_down(toy):
    """Guards the identifiability verdict: the commercial share pins the ad load down and
    leaves the platform's tip cut (revenue only) free. Fails if the verdict ignores the
    comparison with chance (the tip cut is then reported partly pinned)."""
    _, out, _ = toy
    params = pd.read_csv(out / "parameters.csv").set_index("parameter")
    assert params.loc[KEY, "identifiability"] == "pinned"
    assert params.loc["platforms.douyin.tip_cut", "identifiability"] == "free"
    assert params.loc[KEY, "good_low"] <= params.loc[KEY, "best"] <= params.loc[KEY, "good_high"]
    assert params.loc[KEY, "top_chance"] < 0.05 <= params.loc["platforms.douyin.tip_cut", "top_chance"]


def test_outputs_calibrated_scenario_report_table_manifest(toy):
    path, out, table = toy
    best = table[table.status == "ok"].sort_values(["loss", "evaluation"]).iloc[0]
    calibrated = out / "scenarios" / "douyin.toml"
    text = calibrated.read_text()
    assert text.startswith("# Calibrated scenario 'douyin'") and str(path.resolve()) in text
    sc = load_scenario(calibrated)
    assert sc.platforms["douyin"].ad_load == pytest.approx(best[f"param.{KEY}"])
    assert sc.population.users == 10000  # the calibration's [set] is a condition of the fit, not written in
    saved = pd.read_parquet(out / "evaluations.parquet")
    assert len(saved) == 16 and {"loss", f"param.{KEY}", "toy_commercial_share@3.value",
                                 "toy_commercial_share@3.r0", "toy_commercial_share@3.r1"} <= set(saved.columns)
    md = (out / "report.md").read_text()
    for section in ("## Fit per target at the best parameters", "## Parameters", "pinned", "free"):
        assert section in md
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["best_evaluation"] == int(best["evaluation"]) and manifest["optuna"] and manifest["seed"] == 3
    from simulator.io.outputs import environment
    assert {k: manifest[k] for k in environment()} == environment()  # the same fields as a run's manifest
    for f in ("convergence.png", "parameters.png", "fit.png"):
        assert (out / "plots" / f).stat().st_size > 1000
    assert (out / "report.html").read_text().count("data:image/png;base64") == 3


def test_same_evaluations_serially_and_with_two_workers(tmp_path):
    """Guards determinism: the batch size comes from the file, the sampler is told in
    evaluation order, so 1 or 2 workers give the same evaluations table. Fails when the
    batch follows the executor (e.g. one evaluation at a time when serial)."""
    path = write_calibration(tmp_path / "c.toml", budget=9, batch=3, startup=3)
    serial = run_calibration(path, out=tmp_path / "serial")
    with ProcessPoolExecutor(2) as pool:
        pooled = run_calibration(path, executor=pool, out=tmp_path / "pool")
    pd.testing.assert_frame_equal(_table(serial), _table(pooled))
    assert (serial.status == "ok").all() and serial["loss"].nunique() > 1


def test_same_evaluations_on_dask(tmp_path):
    from dask.distributed import Client, LocalCluster

    path = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2)
    serial = run_calibration(path, out=tmp_path / "serial")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        dasked = run_calibration(path, executor=client, out=tmp_path / "dask")
    pd.testing.assert_frame_equal(_table(serial), _table(dasked))


def test_resume_runs_nothing_twice_and_equals_an_uninterrupted_run(tmp_path):
    """Guards resume: a budget of 5 continued to 10 (and a calibration whose last
    evaluations were lost, as after a kill) equals an uninterrupted 10; the finished
    evaluations are not run again. Fails without the replay of the recorded evaluations
    into the sampler (the sampler would propose other points)."""
    whole = run_calibration(write_calibration(tmp_path / "whole.toml", budget=10, batch=3, startup=3),
                            out=tmp_path / "whole")
    small = write_calibration(tmp_path / "c.toml", budget=5, batch=3, startup=3)
    run_calibration(small, out=tmp_path / "out")
    first = {f.name: f.stat().st_mtime_ns for f in (tmp_path / "out" / "evaluations").glob("*.json")}
    assert len(first) == 5
    lines = []
    resumed = run_calibration(write_calibration(small, budget=10, batch=3, startup=3), out=tmp_path / "out",
                              resume=True, log=lines.append)
    assert {f: (tmp_path / "out" / "evaluations" / f).stat().st_mtime_ns for f in first} == first
    assert "5 evaluations run, 5 kept" in lines[-1]
    pd.testing.assert_frame_equal(_table(whole), _table(resumed))
    # a kill: evaluations 7 and 9 never finished
    for i in (7, 9):
        (tmp_path / "out" / "evaluations" / f"e{i:05d}.json").unlink()
    lines = []
    again = run_calibration(small, out=tmp_path / "out", resume=True, log=lines.append)
    assert "2 evaluations run, 8 kept" in lines[-1]
    pd.testing.assert_frame_equal(_table(whole), _table(again))


def test_an_interruption_while_the_report_is_written_leaves_the_earlier_record_whole(tmp_path, monkeypatch):
    """Ctrl-C while a resumed calibration writes its outputs (the plots take seconds): the
    calibrated scenarios were written first, in place, so the folder held the new
    scenarios beside the earlier call's report and manifest (of fewer evaluations), a
    record presented as complete that no call wrote. Now the earlier outputs stay as they
    were, nothing hidden is left, and the next --resume writes the new ones."""
    import simulator.experiments.calibrate_report as report

    out = tmp_path / "out"
    small = write_calibration(tmp_path / "c.toml", budget=4, batch=2, startup=2, lo=0.3, hi=0.32)
    run_calibration(small, out=out)
    def state(p):  # the content and the file itself (rewritten with the same content is a new file)
        return p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns

    before = {p: state(p) for p in out.rglob("*") if p.is_file() and p.parent.name in ("scenarios", "plots", "out")
              and p.suffix in (".toml", ".png", ".md", ".html", ".csv", ".json") and p.name != "calibration.json"}
    assert out / "scenarios" / "douyin.toml" in before and out / "manifest.json" in before
    bigger = write_calibration(small, budget=8, batch=2, startup=2, lo=0.3, hi=0.32)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_plots", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_calibration(bigger, out=out, resume=True)
    assert {p: state(p) for p in before} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    monkeypatch.undo()
    run_calibration(bigger, out=out, resume=True)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["evaluations"] == 8 and manifest["budget"] == 8
    assert f"{manifest['calibrated_parameters'][KEY]}" in (out / "scenarios" / "douyin.toml").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_a_calibration_killed_outright_resumes_to_the_uninterrupted_result(tmp_path):
    """A real kill (SIGKILL, no clean-up) after 2 evaluations: every evaluation file left is
    complete, --resume runs only the missing ones, and the table equals an uninterrupted
    run's."""
    path = write_calibration(tmp_path / "c.toml", budget=6, batch=2, startup=2)
    whole = run_calibration(path, out=tmp_path / "whole")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(SCENARIOS.parent)}
    cmd = [sys.executable, "-m", "simulator", "calibrate", str(path), "--workers", "1", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "evaluations").glob("e*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    finished = {f.name: f.stat().st_mtime_ns for f in (out / "evaluations").glob("e*.json")}
    assert 2 <= len(finished) < 6, "the calibration should have been killed part-way"
    for f in (out / "evaluations").glob("e*.json"):
        assert json.loads(f.read_text())["status"] == "ok"
    r = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"{6 - len(finished)} evaluations run, {len(finished)} kept" in r.stdout
    assert all((out / "evaluations" / name).stat().st_mtime_ns == t for name, t in finished.items())
    pd.testing.assert_frame_equal(_table(whole), _table(pd.read_parquet(out / "evaluations.parquet")))


def test_resume_refuses_a_changed_calibration_or_sampler(tmp_path):
    path = write_calibration(tmp_path / "c.toml", budget=3, batch=3, startup=3)
    run_calibration(path, out=tmp_path / "out")
    with pytest.raises(ScenarioError, match="different calibration .*changed: targets"):
        run_calibration(write_calibration(path, budget=3, batch=3, startup=3, hi=0.5), out=tmp_path / "out",
                        resume=True)
    write_calibration(path, budget=3, batch=3, startup=3)
    f = tmp_path / "out" / "evaluations" / "e00001.json"
    e = json.loads(f.read_text())
    e["params"][KEY] = 0.3
    f.write_text(json.dumps(e))
    with pytest.raises(ScenarioError, match="evaluation 1: the sampler now proposes"):
        run_calibration(path, out=tmp_path / "out", resume=True)
    with pytest.raises(ScenarioError, match="is a calibration folder already"):
        run_calibration(path, out=tmp_path / "out")


def test_several_run_lengths_read_one_run_at_each_length(tmp_path):
    """Guards ``steps = [2, 4]``: the run is read at day 2 and continued to day 4, which
    must equal separate runs of 2 and 4 days. Fails if the run restarts or overshoots."""
    spec = load_calibration(write_calibration(tmp_path / "c.toml", steps="[2, 4]"))
    data, _ = scenario_dict(spec, "douyin", {KEY: 0.2}, 11, 4)
    both = run_task({"evaluation": 0, "label": "douyin", "replicate": 0, "scenario": data, "lengths": [2, 4]})
    for k, length in enumerate((2, 4)):
        alone = run_task({"evaluation": 0, "label": "douyin", "replicate": 0, "scenario": data, "lengths": [length]})
        pd.testing.assert_series_equal(pd.Series(both["totals"][k]), pd.Series(alone["totals"][0]))
    scored = evaluate_point(spec, {KEY: 0.2})
    assert [t["steps"] for t in scored["targets"]] == [2, 4]


def test_cli_calibrate_runs_and_refuses_an_existing_folder(tmp_path, capsys):
    path = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2)
    assert main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / "out")]) == 0
    assert "best of 2 evaluations" in capsys.readouterr().out
    assert main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / "out")]) == 2
    assert "use --resume" in capsys.readouterr().err
    assert main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / "out"), "--resume"]) == 0
    assert "calibrated:" not in capsys.readouterr().out  # no confirmation asked
    path = write_calibration(path, budget=2, batch=2, startup=2, head="confirm = 1\nconfirm_replicates = 2\n")
    assert main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / "out"), "--resume"]) == 0
    said = capsys.readouterr().out
    assert "calibrated: #" in said and "held-out loss" in said and "the scenarios as given: " in said


def test_a_target_without_a_value_fails_the_evaluation_and_the_command_says_so(tmp_path, capsys):
    """A metric a 3-day run is too short for (the CAC trend needs two 30-day windows) is
    NaN: the evaluation is recorded as failed (the sampler ignores it), not scored 0."""
    path = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2)
    path.write_text(path.read_text().replace('metric = "commercial_share_impressions"', 'metric = "cac_ad_trend"'))
    assert main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / "out")]) == 3
    assert "none ok; the first error: target toy_commercial_share has no value" in capsys.readouterr().err
    table = pd.read_parquet(tmp_path / "out" / "evaluations.parquet")
    assert list(table.status) == ["failed", "failed"] and table["loss"].isna().all()


BAD = [
    ("budjet = 3\n", "budjet: unknown key (allowed: name, seed"),
    ('method = "nelder"\n', "method: Input should be 'tpe', 'random' or 'qmc'"),
    ("budget = 0\n", "budget: Input should be greater than or equal to 1"),
    ("budget = true\n", "budget: Input should be a valid integer (got True)"),  # lax mode: a budget of 1
    ('[parameters."platforms.douyin.beta"]\nrange = [false, 1]\n', "parameters.platforms.douyin.beta.range.0: Input "
                                                                    "should be a valid number (got False)"),
    ("steps = [4, 2]\n", "steps: a list of run lengths must be non-empty and increasing"),
    ('[parameters."platforms.douyin.betta"]\nrange = [0, 1]\n', "parameters.platforms.douyin.betta"),
    ('[parameters."platforms.kuaishou.beta"]\nrange = [0, 1]\n', "no platform 'kuaishou' in any scenario it applies to (scenario 'douyin' has 'douyin')"),
    ('[parameters."platforms.douyin.beta"]\nrange = [0, 99]\n', "parameters.platforms.douyin.beta: range = [0, 99] "
                                                                 "is outside the allowed range (0.0..50.0)"),
    ('[parameters."platforms.douyin.beta"]\nrange = [0, 1]\nlog = true\n', "log = true needs a range above 0"),
    ('[parameters."platforms.douyin.beta"]\nrange = [2, 1]\n', "range must be [low, high] with low < high"),
    ('[parameters."platforms.douyin.beta"]\nrange = [0, 1]\nscale = 2\n', "scale: unknown key (allowed: key, range"),
    ('[parameters.b]\nkey = "platforms.douyin.beta"\nrange = [0, 1]\nscenarios = ["kuaishou"]\n',
     "parameters.b.scenarios: no scenario 'kuaishou' (scenarios: douyin)"),
    ('fit = ["no_such_target"]\n', "fit: no target 'no_such_target'"),
    ('[targets.t2]\nclaim = "c"\nsource = "s"\nsource_kind = "model contrast"\nrole = "fit"\nrule = "band"\n'
     'scenario = "douyin"\nmetric = "gmv_totl"\nlo = 1.0\n',
     "targets.t2.metric: target 't2' reads 'gmv_totl', which is not a summary total"),
    # one replicate (the template's) has no CI: the target's miss would read 0 (mutation checked)
    ('[targets.t3]\nclaim = "c"\nsource = "s"\nsource_kind = "model contrast"\nrole = "fit"\nrule = "band"\n'
     'scenario = "douyin"\nmetric = "gmv_total"\nlo = 1.0\non = "ci"\n',
     "replicates: 1: target 't3' tests a 95% CI (on = ci), which needs 2 replicates or more"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[m.split(":")[0][:30] for _, m in BAD])
def test_bad_calibration_files_exit_2_naming_the_key(tmp_path, capsys, extra, message):
    path = write_calibration(tmp_path / "c.toml")
    text = path.read_text()
    if extra.startswith("["):  # a table goes after the others
        text = text.replace("[targets.toy_commercial_share]", extra + "\n[targets.toy_commercial_share]")
    else:  # a top-level key replaces the template's
        key = extra.split("=")[0].strip()
        text = extra + "\n".join(line for line in text.splitlines() if not line.startswith(f"{key} ="))
    path.write_text(text)
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {path}") and message in err, err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("label,message", [
    ("douyin = 3", "scenarios.douyin: must be a scenario file name (a string) or { file"),
    ('douyin = {{ file = "{base}", sett = [] }}', "scenarios.douyin.sett: unknown key (allowed: file, set)"),
    # a variant's own set is blamed on scenarios.LABEL.set (it named the key alone)
    ('douyin = {{ file = "{base}", set = ["platforms.douyin.beta=-2"] }}',
     "scenarios.douyin.set: platforms.douyin.beta: got -2"),
    ('douyin = {{ file = "{base}", set = ["platforms.douyin.betaa=2"] }}',
     "scenarios.douyin.set: platforms.douyin.betaa: unknown key"),
    ('douyin = {{ file = "{base}", set = ["population.merchants=30"] }}',  # 40 creators in the template's [set]
     "scenarios.douyin.set: population.merchants: must be at most half of population.creators"),
    ('douyin = {{ file = "{base}", set = ["platforms.douyin.beta"] }}',  # it read "scenarios.douyin: --set: ..."
     "scenarios.douyin.set: platforms.douyin.beta: expected key=value"),
])
def test_bad_scenario_labels_exit_2_naming_the_key(tmp_path, capsys, label, message):
    path = write_calibration(tmp_path / "c.toml")
    base = str(SCENARIOS / "douyin.toml")
    path.write_text(path.read_text().replace(f'douyin = "{base}"', label.format(base=base)))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {path}") and message in err, err


def test_a_variant_label_loads_and_its_parameter_applies_to_it(tmp_path):
    """A scenario label given as { file, set } (a variant) with a parameter that names no
    scenarios: load_calibration crashed (exit 3, 'TypeError: <class ...ScenarioRef>') as
    applies_to keyed its cache on the labels' JSON, which a variant's table is not."""
    from simulator.experiments.calibrate_spec import applies_to

    path = write_calibration(tmp_path / "c.toml")
    base = str(SCENARIOS / "douyin.toml")
    path.write_text(path.read_text().replace(f'douyin = "{base}"',
                                             f'douyin = {{ file = "{base}", set = ["platforms.douyin.beta=1.5"] }}'))
    spec = load_calibration(path)
    assert applies_to(spec, "platforms.douyin.ad_load") == ["douyin"]
    data, _ = scenario_dict(spec, "douyin", {"platforms.douyin.ad_load": 0.1}, 1)
    assert data["platforms"]["douyin"]["beta"] == 1.5 and data["platforms"]["douyin"]["ad_load"] == 0.1


def test_a_variant_set_that_breaks_a_check_across_keys_is_blamed_on_it(tmp_path, capsys):
    """A variant's set that makes a check across keys fail at a key [set] gave (merchants
    more than half the creators): blamed on scenarios.LABEL.set (it read
    "set.population.merchants", a key that was fine in every other scenario)."""
    path = write_calibration(tmp_path / "c.toml")
    base = str(SCENARIOS / "douyin.toml")
    path.write_text(path.read_text().replace('"population.merchants" = 2', '"population.merchants" = 3').replace(
        f'douyin = "{base}"', f'douyin = {{ file = "{base}", set = ["population.creators=4"] }}'))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (f"trafficsim: error: {path}: scenarios.douyin.set: population.creators: "
                                       f"conflicts with population.merchants (from {path}): must be at most half of "
                                       "population.creators\n")
    assert not (tmp_path / "out").exists()


def test_a_set_key_on_a_platform_a_scenario_lacks_is_refused(tmp_path, capsys):
    """A [set] key or a variant's set key on a platform that a scenario does not have: it
    added that platform (default policy) to the scenario's runs without a word (mutation
    checked: kuaishou's runs had platforms kuaishou and douyin)."""
    path = write_calibration(tmp_path / "c.toml")
    base = str(SCENARIOS / "douyin.toml")
    text = path.read_text().replace(f'douyin = "{base}"',
                                    f'douyin = "{base}"\nkuaishou = "{SCENARIOS / "kuaishou.toml"}"')
    path.write_text(text.replace('"population.merchants" = 2', '"population.merchants" = 2\n"platforms.douyin.beta" = 1.0'))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {path}: set.platforms.douyin.beta: no platform 'douyin' in scenario "
                          "'kuaishou' (scenario 'kuaishou' has 'kuaishou'); [set] applies to every scenario"), err
    path.write_text(text.replace(f'douyin = "{base}"', f'douyin = {{ file = "{base}", set = ["platforms.douyn.beta=1"] }}'))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"trafficsim: error: {path}: scenarios.douyin.set: platforms.douyn.beta: no platform 'douyn' in "
                   "scenario 'douyin' (scenario 'douyin' has 'douyin'); a calibration tunes existing platforms, it "
                   "cannot create one\n")
    assert not (tmp_path / "out").exists()


def test_the_shipped_calibration_fits_the_fit_set_with_per_scenario_and_shared_knobs():
    """scenarios/calibrations/shipped.toml loads: the role = "fit" targets of the targets
    file but the structural gap enterprise_public_reach_of_close_fans, beta per scenario,
    the Douyin-like pools and ad load shared by douyin and douyin_enterprise; its
    calibrated files are chosen on held-out seeds."""
    from simulator.experiments import targets as tg
    from simulator.experiments.calibrate_spec import applies_to, fit_targets

    spec = load_calibration(SCENARIOS / "calibrations" / "shipped.toml")
    targets = fit_targets(spec)
    every_fit = {t.key for t in tg.load_targets(tg.TARGETS_FILE) if t.role == "fit"}
    assert {t.key for t in targets} == every_fit - {"enterprise_public_reach_of_close_fans"}
    assert spec.confirm >= 1
    assert applies_to(spec, "douyin_beta") == ["douyin"] and applies_to(spec, "enterprise_beta") == ["douyin_enterprise"]
    assert applies_to(spec, "douyin_ad_load") == ["douyin", "douyin_enterprise"]
    data, _ = scenario_dict(spec, "douyin_enterprise", {"enterprise_beta": 3.0, "douyin_beta": 0.2}, 1)
    assert data["platforms"]["douyin"]["beta"] == 3.0


def test_the_summary_totals_a_target_may_read_are_a_runs_totals():
    """targets.summary_totals() (what a calibration file's targets are checked
    against before any run) names exactly the totals a run gives an evaluation."""
    from simulator.experiments.targets import summary_totals

    data, _ = scenario_dict(load_calibration(SCENARIOS / "calibrations" / "shipped.toml"), "douyin", {}, 1, 1)
    data["population"] = {**data.get("population", {}), "users": 100, "creators": 10, "merchants": 1}
    row = run_task({"evaluation": 0, "label": "douyin", "replicate": 0, "scenario": data, "lengths": [1]})
    assert set(row["totals"][0]) == summary_totals()


def test_a_target_needing_a_scenario_the_calibration_does_not_run(tmp_path, capsys):
    path = write_calibration(tmp_path / "c.toml")
    path.write_text(path.read_text().replace('scenario = "douyin"', 'scenario = "kuaishou"'))
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "needs scenario(s) kuaishou (scenarios here: douyin)" in err, err


def test_a_missing_scenario_file_names_the_calibration_key(tmp_path, capsys):
    path = write_calibration(tmp_path / "c.toml", base=tmp_path / "nope.toml")
    assert main(["calibrate", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "scenarios.douyin" in err and "nope.toml" in err, err


def test_fuzz_calibration_files(tmp_path, capsys, monkeypatch):
    """Seeded random mutations of a tiny calibration file (wrong types, NaN, inf, huge,
    empty lists and tables, unknown and deleted keys, scalars for tables) fed to
    ``calibrate``: exit 0, or 2 with one ``trafficsim: error:`` line (or 3 with one line
    when no evaluation could be scored), never an exception or a traceback."""
    import random
    import tomllib

    import simulator.experiments.calibrate_report as report

    from ..test_cli_fuzz import SEED, mutate, to_toml

    monkeypatch.setattr(report, "write_plots", lambda *a, **k: [])  # the plots have their own test; keep cases cheap
    rng = random.Random(SEED + 16)
    base = tomllib.loads(write_calibration(tmp_path / "base.toml", budget=1, batch=1, startup=1, steps="1").read_text())
    outcomes = {0: 0, 2: 0, 3: 0}
    for i in range(30):
        data = json.loads(json.dumps(base))
        what = "; ".join(mutate(rng, data) for _ in range(rng.choice([1, 1, 2])))
        path = tmp_path / f"case{i:02d}.toml"
        try:
            path.write_text(to_toml(data))
        except TypeError:
            continue
        capsys.readouterr()
        try:
            rc = main(["calibrate", str(path), "--workers", "1", "--out", str(tmp_path / f"out{i:02d}")])
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"case {i} ({what}): {type(exc).__name__}: {exc}")
        err = capsys.readouterr().err
        case = f"case {i} ({what})"
        assert rc in (0, 2, 3) and "Traceback" not in err, f"{case}: exit {rc}\n{err}"
        if rc:
            lines = err.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("trafficsim: error: "), f"{case}: not one error line\n{err}"
            assert rc == 2 or "none ok" in lines[0], f"{case}: exit 3\n{err}"
        outcomes[rc] += 1
    assert outcomes[0] > 0 and outcomes[2] > 0, outcomes


# --------------------------------------------------------------------------- confirmation on held-out seeds


def test_heldout_seeds_are_fixed_by_the_seed_and_never_the_searchs():
    """Guards the held-out seeds: the confirmation's seeds are none of the search's
    replicate seeds, and the calibration's seed fixes them."""
    from simulator.experiments.calibrate_confirm import heldout_seeds
    from simulator.experiments.calibrate_spec import CalibrationSpec

    spec = CalibrationSpec(scenarios={"douyin": str(SCENARIOS / "douyin.toml")}, parameters={KEY: {"range": [0, 1]}},
                           replicates=3, confirm=2)
    held = heldout_seeds(spec)
    assert len(held) == 6 and len(set(held)) == 6 and not set(held) & set(spec.replicate_seeds())
    assert held == heldout_seeds(spec.model_copy(update={"confirm": 5}))
    assert held != heldout_seeds(spec.model_copy(update={"seed": 2}))
    assert len(heldout_seeds(spec.model_copy(update={"confirm_replicates": 4}))) == 4


def test_the_calibrated_point_is_the_lowest_heldout_loss_not_the_lowest_search_loss():
    """Guards the choice after confirmation: the search's best (loss 0 on its own
    replicates) loses to a point that holds better on the held-out seeds, and the
    scenarios as given win where no evaluation does better (ties included). Fails if the
    choice reads the search loss, or never lets the scenarios as given win."""
    from simulator.experiments.calibrate_confirm import choose

    recs = [{"candidate": "as_given", "evaluation": None, "search_loss": None, "status": "ok", "loss": 0.5},
            {"candidate": "e00027", "evaluation": 27, "search_loss": 0.0, "status": "ok", "loss": 0.9},
            {"candidate": "e00034", "evaluation": 34, "search_loss": 0.7, "status": "ok", "loss": 0.2},
            {"candidate": "e00042", "evaluation": 42, "search_loss": 0.8, "status": "ok", "loss": 0.2},
            {"candidate": "e00003", "evaluation": 3, "search_loss": 0.1, "status": "failed", "loss": None}]
    assert choose(recs)["evaluation"] == 34
    for given in (0.2, 0.0):
        assert choose([{**recs[0], "loss": given}, *recs[1:]])["candidate"] == "as_given"
    assert choose(recs[:1]) is None


def test_confirmation_reruns_the_best_on_heldout_seeds_and_the_calibrated_files_follow_it(tmp_path):
    """Guards the confirmation stage end to end: the two best evaluations and the
    scenarios as given are run on held-out seeds (their values differ from the search's
    for the same point: other seeds); the calibrated scenario takes the chosen point;
    the report and manifest say so; a resume keeps the finished candidates, and a larger
    ``confirm`` resumes the same calibration and runs only the new candidate. Fails if
    the held-out seeds are the search's (values equal) or the files ignore the choice."""
    from simulator.experiments.calibrate_confirm import choose, read_confirmation

    head = "confirm = 2\nconfirm_replicates = 2\n"
    path = write_calibration(tmp_path / "c.toml", budget=4, batch=4, startup=4, replicates=2, head=head)
    out = tmp_path / "out"
    table = run_calibration(path, out=out)
    files = sorted(p.name for p in (out / "confirm").glob("*.json"))
    assert len(files) == 3 and "as_given.json" in files
    spec = load_calibration(path)
    recs = read_confirmation(spec, out, table)
    assert [r["evaluation"] for r in recs][0] is None and all(r["status"] == "ok" for r in recs)
    for r in recs[1:]:
        search = json.loads((out / "evaluations" / f"e{r['evaluation']:05d}.json").read_text())
        assert r["targets"][0]["replicates"] != search["targets"][0]["replicates"][:2]
        assert r["params"] == search["params"] and r["search_loss"] == search["loss"]
    chosen = choose(recs)
    sc = load_scenario(out / "scenarios" / "douyin.toml")
    assert sc.platforms["douyin"].ad_load == pytest.approx(chosen["params"][KEY])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["confirmation"]["chosen_evaluation"] == chosen["evaluation"] == manifest["calibrated_evaluation"]
    md = (out / "report.md").read_text()
    assert "## Confirmation on held-out seeds" in md and "scenarios as given" in md
    assert f"## Fit per target at the calibrated parameters (evaluation {chosen['evaluation']})" in md
    before = {p.name: p.stat().st_mtime_ns for p in (out / "confirm").glob("*.json")}
    lines = []
    run_calibration(write_calibration(path, budget=4, batch=4, startup=4, replicates=2,
                                      head="confirm = 3\nconfirm_replicates = 2\n"),
                    out=out, resume=True, log=lines.append)
    after = {p.name: p.stat().st_mtime_ns for p in (out / "confirm").glob("*.json")}
    assert len(after) == 4 and all(after[k] == v for k, v in before.items())
    assert any("4 candidates" in line and "1 to run" in line for line in lines)


def test_the_calibrated_files_keep_the_scenarios_as_given_where_no_evaluation_beats_them(tmp_path):
    """Guards the outputs of a confirmation the search loses (the rerun of shipped.toml on
    2026-12-03: the scenarios as given 0.189 on the held-out seeds, the best evaluation 0.244):
    the calibrated files hold the scenarios' own values and say so, and the report and
    manifest name the scenarios as given as the choice; where an evaluation does better,
    its values are written. Fails if the files take the evaluation whatever the scenarios
    as given scored (the rule before: they wrote a point worse than the one given)."""
    from simulator.experiments.calibrate_confirm import CONFIRM_DIR, read_confirmation
    from simulator.experiments.calibrate_report import write_outputs
    from simulator.experiments.calibrate_spec import fit_targets

    path = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2, replicates=2,
                             head="confirm = 1\nconfirm_replicates = 2\n")
    out = tmp_path / "out"
    table = run_calibration(path, out=out)
    spec = load_calibration(path)
    recs = read_confirmation(spec, out, table)
    evaluation = next(r for r in recs if r["evaluation"] is not None)
    given_file = out / CONFIRM_DIR / "as_given.json"
    record = json.loads(given_file.read_text())
    as_given = load_scenario(SCENARIOS / "douyin.toml").platforms["douyin"].ad_load
    assert evaluation["params"][KEY] != pytest.approx(as_given)
    for given_loss, kept in ((evaluation["loss"] + 1.0, False), (evaluation["loss"], True), (0.0, True)):
        given_file.write_text(json.dumps({**record, "loss": given_loss}))
        write_outputs(out, spec, fit_targets(spec), table, elapsed=1.0, counts={"ran": 0}, command=None)
        md = (out / "report.md").read_text()
        text = (out / "scenarios" / "douyin.toml").read_text()
        manifest = json.loads((out / "manifest.json").read_text())
        ad_load = load_scenario(out / "scenarios" / "douyin.toml").platforms["douyin"].ad_load
        assert ad_load == pytest.approx(as_given if kept else evaluation["params"][KEY])
        assert ("this file keeps their values" in text.split("\n[", 1)[0]) is kept
        assert ("the calibrated scenarios keep their values" in md) is kept
        assert ("## Fit per target at the scenarios as given (kept)" in md) is kept
        assert manifest["confirmation"]["chosen"] == ("as_given" if kept else evaluation["candidate"])
        assert manifest["calibrated_parameters"][KEY] == pytest.approx(ad_load)


def test_a_targets_words_do_not_change_the_fingerprint_its_bounds_do(tmp_path):
    """Guards the fingerprint's reading of a targets file: editing a fitted target's words
    (its known-gap text, claim, source) leaves a calibration resumable; moving a bound
    does not. Fails if the words are fingerprinted (a docs edit would refuse --resume)."""
    from simulator.experiments import targets as tg
    from simulator.experiments.calibrate_spec import calibration_fingerprint

    text = tg.TARGETS_FILE.read_text()
    targets = tmp_path / "targets.toml"
    cal = tmp_path / "c.toml"
    cal.write_text(f'targets_file = "{targets}"\nfit = ["kuaishou_private_share_gmv", "douyin_private_gmv_vs_kuaishou"]\n'
                   f'[scenarios]\ndouyin = "{SCENARIOS / "douyin.toml"}"\nkuaishou = "{SCENARIOS / "kuaishou.toml"}"\n'
                   '[parameters."platforms.douyin.ad_load"]\nrange = [0.05, 0.2]\n')
    targets.write_text(text)
    before = calibration_fingerprint(load_calibration(cal))
    targets.write_text(text.replace('claim = "Kuaishou', 'claim = "The Kuaishou', 1)
                       .replace('gap = """seed-sensitive', 'gap = """fragile, seed-sensitive', 1))
    assert targets.read_text() != text
    assert calibration_fingerprint(load_calibration(cal)) == before
    targets.write_text(text.replace("hi = 0.5\n", "hi = 0.55\n", 1))
    assert calibration_fingerprint(load_calibration(cal)) != before


def test_every_run_of_a_batch_is_told_its_workers_share_of_the_batch(tmp_path, monkeypatch):
    """run_calibration gives each run of a batch the feed user-days of its process's share
    of the batch (here all of them, serially: 4 evaluations x 1 scenario x 1 replicate x
    3 days x 400 users x 1 feed platform), and the confirmation's runs theirs (2
    candidates x 3 held-out seeds), which run_task passes to
    numpy_kernels.expect_user_days (tests/test_fixed_costs.py)."""
    import simulator.experiments.calibrate as calibrate

    seen = []

    def recording(task):
        seen.append(task["user_days"])
        return run_task(task)

    monkeypatch.setattr(calibrate, "run_task", recording)
    run_calibration(write_calibration(tmp_path / "c.toml", budget=8, batch=4, startup=4,
                                      head="confirm = 1\nconfirm_replicates = 3\n"), out=tmp_path / "out")
    assert seen == [4 * 3 * 400] * 8 + [6 * 3 * 400] * 6


def test_a_calibration_records_which_code_made_its_runs(tmp_path):
    """Each evaluation counts its runs per code (the workers' source hash), manifest.json
    sums them over the search, and a resumed calibration whose kept evaluations an earlier
    code made says so. Fails without the stamp in run_task, or without the warning."""
    from simulator.io.outputs import source_sha256

    path = write_calibration(tmp_path / "c.toml", budget=2, batch=2, startup=2)
    out = tmp_path / "out"
    table = run_calibration(path, out=out)
    mine = source_sha256()
    assert mine and list(table.code) == [mine, mine]
    runs = 2 * load_calibration(path).replicates * len(load_calibration(path).scenarios)
    assert json.loads((out / "manifest.json").read_text())["run_codes"] == {mine: runs}
    e = out / "evaluations" / "e00001.json"
    data = json.loads(e.read_text())
    data["codes"] = {"0123456789abcdef": sum(data["codes"].values())}
    e.write_text(json.dumps(data))
    lines = []
    table = run_calibration(path, out=out, resume=True, log=lines.append)
    assert any("not every run" in ln and "0123456789abcdef" in ln for ln in lines)
    assert json.loads((out / "manifest.json").read_text())["run_codes"] == {mine: runs // 2,
                                                                              "0123456789abcdef": runs // 2}
    assert list(table.code) == [mine, "0123456789abcdef"]


def test_workers_in_another_folder_read_the_calibrations_relative_graph_file(tmp_path, monkeypatch):
    """Guards calibrate.make_tasks (sweep.for_workers): a follow-graph file given by a
    relative path in [set] is read from the calibration's working folder, also by workers
    whose working folder is another one (a Dask worker started elsewhere; here a process
    pool whose worker chdirs to a folder with another file of that name). Mutation
    checked: shipped as given, the worker read the other file (other losses, no error)."""
    from .sweep_files import graph_here_and_elsewhere, set_relative_graph

    here, elsewhere = graph_here_and_elsewhere(tmp_path, monkeypatch)
    path = set_relative_graph(write_calibration(here / "c.toml", budget=2, batch=2, startup=2, replicates=2))
    serial = run_calibration(path, out=here / "serial")
    with ProcessPoolExecutor(1, initializer=os.chdir, initargs=(str(elsewhere),)) as pool:
        remote = run_calibration(path, executor=pool, out=here / "remote")
    assert (serial.status == "ok").all()
    pd.testing.assert_frame_equal(_table(serial), _table(remote))
