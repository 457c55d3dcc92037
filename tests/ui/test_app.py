"""The app's model and the logic of its page without the page: the controls start at the
scenario's values, centralization moves every style knob, changes wait for a restart and
are listed. (The model's step time is a benchmark figure, in benchmarks/README.md, not a
timed test; the page itself is tested in a real browser in test_app_browser.py.)"""

import inspect

import pytest

from simulator.config import STYLE_KNOBS, centralization_preset, load_scenario
from simulator.ui.app import AppModel, start_params

from ..conftest import SCENARIOS
from simulator.ui.controls import (APP_USERS, BY_NAME, CONTROLS, SCENARIO_DIR, centralization_moves, fmt, from_slider, is_snap,
                                   pending_changes, scenario_choices, scenario_values, slider_value,
                                   uncontrolled_knobs)


def _platform(m):
    return next(iter(m.platforms.values())).cfg


def test_app_model_follows_the_controls():
    m = AppModel(users=2000, centralization=0.0, beta=2.0, follow_share=0.4, exposure_cap=0.1,
                 push_rate=3.0, value_share=0.2)
    pc = _platform(m)
    assert (pc.centralization, pc.beta, pc.follow_share, pc.exposure_cap) == (0.0, 2.0, 0.4, 0.1)
    groups = m.scenario.commerce.groups
    assert (groups.pushes_per_day, groups.value_share) == (3.0, 0.2)
    for _ in range(3):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    for col in ("public_share_impressions", "commercial_share_impressions", "private_share_impressions", "exposure_gini", "fans_true",
                "gmv_public", "gmv_private_platform", "group_members"):
        assert col in df.columns and df[col].notna().all()
    assert abs(df[["public_share_impressions", "commercial_share_impressions", "private_share_impressions"]].sum(axis=1) - 1).max() < 1e-9


@pytest.mark.parametrize("name", ["douyin", "kuaishou", "kuaishou_8", "wechat_private"])
def test_the_app_starts_at_the_scenarios_values(name):
    """Guards issue 18 item 1: every control starts at the scenario's own value, and the
    model the page starts (AppModel with those values) runs the scenario's platform and
    fan-group settings exactly as the file resolves them (only the population is the
    app's). It failed when the controls started at the app's defaults (beta 1.0, follow
    share 0.05, no cap, centralization 1), which overrode the file's."""
    path = SCENARIO_DIR / f"{name}.toml"
    sc = load_scenario(path)
    want = next(iter(sc.platforms.values()))
    values = scenario_values(path)
    assert values["beta"] == want.beta and values["follow_share"] == want.follow_share
    assert values["exposure_cap"] == (want.exposure_cap or 0.0) and values["centralization"] == want.centralization
    assert values["users"] == APP_USERS
    m = AppModel(**start_params(str(path)))
    assert _platform(m) == want
    assert m.scenario.commerce == sc.commerce and m.scenario.name == sc.name
    assert m.app_values == values
    assert _platform(AppModel(scenario=str(path))) == want  # no keyword: the file's value


def test_shipped_kuaishou_is_not_the_apps_douyin_defaults():
    """The issue's example: kuaishou.toml's beta, follow share and cap (0.565, 0.474 and
    0.05 since the recalibration; the app's own were 1.0, 0.05 and none) reach the app's
    model, off the sliders' grid included."""
    pc = _platform(AppModel(**start_params(str(SCENARIO_DIR / "kuaishou.toml"))))
    want = load_scenario(SCENARIO_DIR / "kuaishou.toml").platforms["kuaishou"]
    assert (pc.beta, pc.follow_share, pc.exposure_cap, pc.policy) == (want.beta, want.follow_share, 0.05, "kuaishou")
    assert (pc.beta, pc.follow_share) != (1.0, 0.05)


def test_centralization_moves_every_style_knob_it_documents():
    """Guards issue 18 item 2: moving centralization sets the control of every style knob
    of centralization_preset (follow share and exposure cap included: they had sliders of
    their own that centralization did not move), and the model built from the moved
    controls has those values, whatever the file set."""
    assert set(centralization_moves(0.3)) == set(STYLE_KNOBS)
    start = start_params(str(SCENARIO_DIR / "kuaishou.toml"))
    for c in (0.0, 0.3, 0.97, 1.0):
        moves, want = centralization_moves(c), centralization_preset(c)
        pc = _platform(AppModel(**{**start, "centralization": c, **moves}))
        for key in STYLE_KNOBS:
            assert getattr(pc, key) == want[key], (c, key)
        assert pc.beta == load_scenario(SCENARIO_DIR / "kuaishou.toml").platforms["kuaishou"].beta  # not a style knob


def test_centralization_alone_sets_the_style_knobs_the_file_set():
    """AppModel(centralization=c) without the style keywords: the file's style knobs
    (douyin.toml sets several) give way to the preset, follow share and cap included."""
    for c in (0.0, 0.5):
        pc, want = _platform(AppModel(users=1000, centralization=c)), centralization_preset(c)
        for key in STYLE_KNOBS:
            assert getattr(pc, key) == want[key], key


def test_pending_changes_until_restart():
    """Guards issue 18 item 1: a moved control is listed (label, value now, value after
    restart, with units) until the model is rebuilt with it; the page's start lists
    nothing. Reset builds AppModel(**chosen), so rebuilding empties the list."""
    start = start_params(str(SCENARIO_DIR / "douyin.toml"))
    m = AppModel(**start)
    assert pending_changes(m.app_values, start) == []
    chosen = {**start, "beta": 2.0, "exposure_cap": 0.1}
    assert pending_changes(m.app_values, chosen) == [
        ("intimacy boost (beta)", fmt("beta", start["beta"]), "2"),
        ("exposure cap", "none (no cap)", "10% of daily active users")]
    assert pending_changes(AppModel(**chosen).app_values, chosen) == []
    moved = {**start, "centralization": 0.0, **centralization_moves(0.0)}
    labels = [row[0] for row in pending_changes(m.app_values, moved)]
    assert labels[0] == "centralization" and "follow share" in labels and "fan trust" in labels


def test_a_slider_snapping_an_off_grid_value_is_not_a_change():
    """The browser's slider rounds a value off its step grid (the 5.26% cap of
    centralization 0.05) and sends it back; that is not the user's move, a step is."""
    assert is_snap("exposure_cap", 0.05 / 0.95, 0.05)
    assert not is_snap("exposure_cap", 0.05, 0.06)
    assert not is_snap("beta", 0.5, 0.6) and not is_snap("users", 3000, 3500)


def test_slider_values_lose_their_float_noise():
    """1.5 reached by steps of 0.1 arrives as 1.4999999999999998; the model must get the
    scenario's 1.5 (the same run), so pending changes and Reset see no difference."""
    assert from_slider("beta", 1.7 - 0.1 - 0.1) == 1.5 and from_slider("users", 3500.0) == 3500
    assert isinstance(from_slider("users", 3500.0), int)


def test_every_control_shows_its_value_and_unit():
    """Guards issue 18 item 2: the text beside a control names the value and its unit."""
    assert fmt("follow_share", 0.45) == "45% of non-ad slots"
    assert fmt("exposure_cap", 0.0) == "none (no cap)" and fmt("exposure_cap", 0.05) == "5% of daily active users"
    assert fmt("users", 3000) == "3,000 users" and fmt("push_rate", 1.5) == "1.5 per day"
    assert fmt("centralization", None).startswith("not set")
    assert slider_value("centralization", None, "kuaishou") == 0.0 and slider_value("centralization", None) == 1.0
    for c in CONTROLS:
        assert c.label and c.help and fmt(c, c.max)


def test_the_picker_offers_the_scenarios_that_create_a_platform(tmp_path):
    """The shipped scenarios that create a platform (not base.toml) and, first, the
    file given on the command line."""
    mine = tmp_path / "mine.toml"
    mine.write_text(f'extends = "{SCENARIO_DIR / "kuaishou.toml"}"\nname = "mine"\n')
    choices = scenario_choices(mine)
    assert list(choices)[0] == "mine.toml (command line)" and choices["mine.toml (command line)"] == str(mine)
    assert {"douyin.toml", "kuaishou.toml", "kuaishou_8.toml"} <= set(choices) and "base.toml" not in choices
    assert list(scenario_choices(SCENARIO_DIR / "kuaishou.toml"))[0] == "kuaishou.toml"
    assert scenario_values(mine)["beta"] == load_scenario(SCENARIO_DIR / "kuaishou.toml").platforms["kuaishou"].beta


def test_the_panel_lists_the_keys_without_a_control():
    """Guards issue 18 item 1: the keys the scenario sets that no control shows, with
    their values; the controlled ones and the name/description are left out."""
    rows = dict(uncontrolled_knobs(SCENARIO_DIR / "kuaishou.toml"))
    assert rows["platforms.kuaishou.ad_load"] == load_scenario(SCENARIO_DIR / "kuaishou.toml").platforms["kuaishou"].ad_load and rows["platforms.kuaishou.commission.fmcg"] == 0.03
    assert "platforms.kuaishou.beta" not in rows and "platforms.kuaishou.follow_share" not in rows
    assert "name" not in rows and "description" not in rows
    assert rows["population.users"].startswith("10000 (the app: 3,000")


def test_the_panel_gives_the_population_the_app_runs():
    """Guards uncontrolled_knobs's ``users``: with the users control at 600, the panel's
    population keys give the app's values at 600 users (40 creators), as the line above
    it does; they said "3,000 at 3,000 users" whatever the control. Mutation checked:
    with the default population (APP_USERS) in place of ``users``, it said 3,000 users."""
    rows = dict(uncontrolled_knobs(SCENARIO_DIR / "kuaishou.toml", users=600))
    assert rows["population.users"] == "10000 (the app: 600 at 600 users)"
    assert rows["population.creators"].endswith("(the app: 40 at 600 users)")


def test_push_controls_move_the_group_chart():
    """Hard promotional pushing empties the fan groups the gentle policy keeps."""
    def members(**push):
        m = AppModel(users=3000, **push)
        for _ in range(12):
            m.step()
        return m.datacollector.get_model_vars_dataframe()["group_members"].iloc[-1]

    gentle, hard = members(push_rate=1.0, value_share=1.0), members(push_rate=8.0, value_share=0.0)
    assert gentle > 0 and hard < 0.8 * gentle


def test_every_control_is_a_model_parameter():
    params = inspect.signature(AppModel).parameters
    assert set(BY_NAME) <= set(params) and "scenario" in params


def test_year_charts_follow_the_year_mechanisms(tmp_path):
    """The channel-mix and creators-in/out charts read DataCollector columns that move when
    a scenario turns the year's mechanisms on (learning merchants, creator entry): on
    douyin_year.toml creators enter within days and the mix leaves its day-0 value, on
    douyin.toml neither happens (fails if the reporters are missing or read nothing)."""
    def run(name):
        m = AppModel(scenario=str(SCENARIOS / name), users=2000)
        for _ in range(10):
            m.step()
        return m.datacollector.get_model_vars_dataframe()

    year, static = run("douyin_year.toml"), run("douyin.toml")
    assert year["creators_entered"].sum() > 0 and static["creators_entered"].sum() == 0
    assert year["mix_groups"].iloc[-1] != year["mix_groups"].iloc[0]
    assert static["mix_groups"].nunique() == 1


def test_platform_chart_draws_one_line_per_platform():
    """The app's per-platform chart (issue #15 item 5): a two-platform scenario gets two
    lines, labelled by platform, in the daily-active-users panel."""
    from simulator.ui.charts import platform_charts, traffic_charts

    from simulator.model import TrafficModel

    two = TrafficModel({"population": {"users": 500, "creators": 40, "merchants": 2},
                        "platforms": {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou"}}}, seed=1)
    two.run(2)
    dau = platform_charts([("run", two)])[0]
    assert [s.label for s in dau.series] == ["douyin", "kuaishou"]
    assert list(dau.series[0].x) == [1, 2]
    assert "platform_active_users" in [c.key for c in traffic_charts([("run", two)])]


def test_app_loads_the_ecosystem_and_draws_each_of_its_platforms():
    """Issue 15 item 5: the app can load ecosystem.toml (its bases are a list) and its
    per-platform chart draws Douyin-like, Kuaishou-like and the shelf platform, one line each."""
    from simulator.ui.charts import platform_charts
    from simulator.ui.controls import scenario_choices

    assert "ecosystem.toml" in scenario_choices("")
    model = AppModel(str(SCENARIOS / "ecosystem.toml"), users=600)
    model.step()
    labels = [s.label for s in platform_charts([("run", model)])[0].series]
    assert labels == ["douyin", "kuaishou", "taobao"]


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_the_apps_server_ends_with_the_command(how):
    """Guards cli._serve: `trafficsim app` runs Solara's server as a child; a SIGTERM to
    the command (a supervisor, `timeout`) or its death outright (SIGKILL) ends the server
    too. The server used to outlive it, still holding the port (found by killing
    `trafficsim app` by its pid). Mutation checked: without the forwarding, the command
    died of the SIGTERM (its server ended by the parent-death signal); without that
    signal, the port still answered after a SIGKILL at the test's deadline."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", "app", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    try:
        deadline = time.monotonic() + 90
        while not answers():
            assert proc.poll() is None and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.5)
        os.kill(proc.pid, getattr(signal, how))  # the command only, as a supervisor does, not its group
        proc.wait(30)
        if how == "SIGTERM":  # passed on to the server, whose end the command waited for and returned
            assert proc.returncode != -signal.SIGTERM, proc.returncode
        deadline = time.monotonic() + 20
        while answers() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not answers(), f"the app's server still serves port {port} after {how} to `trafficsim app`"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _graph_scenario(folder, users: int, max_user: int):
    """A scenario file (Douyin-like, ``users`` users, 120 creators) whose follow graph is
    read from a file with follows of users up to ``max_user`` and creators up to 99."""
    pairs = [(u, u % 100) for u in range(0, max_user + 1, 7)] + [(max_user, 99)]
    (folder / "follows.csv").write_text("user,creator\n" + "".join(f"{u},{c}\n" for u, c in sorted(set(pairs))))
    f = folder / "with_graph.toml"
    f.write_text(f'extends = "{SCENARIOS / "douyin.toml"}"\nname = "with_graph"\n'
                 f'[population]\nusers = {users}\ncreators = 120\n[graph]\nfollow_graph_file = "follows.csv"\n')
    return f


def test_app_refuses_a_scenario_it_cannot_run_at_its_population(tmp_path, capsys, monkeypatch):
    """Guards cmd_app's check_app_scenario: a scenario valid at its own population (4,000
    users) whose follow-graph file names users the app's population (3,000) lacks is
    exit 2 with one line saying the population is the app's, before any server starts.
    It used to start, and the page was a traceback. Mutation checked: without the check,
    the server was started (here a stand-in that says so)."""
    from simulator import cli

    started = []
    monkeypatch.setattr(cli, "_serve", lambda cmd, env: started.append(cmd) or 0)
    f = _graph_scenario(tmp_path, users=4000, max_user=3500)
    assert cli.main(["run", str(f), "--steps", "1", "--quiet", "--out", str(tmp_path / "r")]) == 0  # valid as it is
    capsys.readouterr()
    assert cli.main(["app", str(f), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert not started and err.count("\n") == 1
    assert err.startswith(f"trafficsim: error: {tmp_path / 'follows.csv'}: graph.follow_graph_file: user index out "
                          "of range (allowed 0..2999) (the app runs its own population, 3,000 users, 100 creators "
                          "and 4 merchants, whatever the scenario's)")


def test_a_restart_the_model_refuses_is_said_on_the_page_and_the_runs_go_on(tmp_path, monkeypatch):
    """Guards Page's rebuild: "Apply and restart" with settings the model refuses (fewer
    users than the scenario's follow-graph file names) leaves the runs as they were and
    says why at the top of the sidebar; it used to replace the whole page by a traceback
    (the session lost). Mutation checked: without the try, the click raised ScenarioError."""
    import ipyvuetify as v
    import solara

    from simulator.ui.app import Page

    f = _graph_scenario(tmp_path, users=3000, max_user=2999)
    monkeypatch.setenv("TRAFFICSIM_APP_SCENARIO", str(f))

    @solara.component
    def Laid():
        with solara.AppLayout():  # (the page's sidebar is drawn by an app layout)
            Page()

    box, rc = solara.render(Laid(), handle_error=False)
    rc.find(v.Btn, children=["Step"]).widget.click()
    rc.find(v.Slider, label="users").widget.v_model = 500
    rc.find(v.Btn, children=["Apply and restart"]).widget.click()
    alerts = [w.children[0] for w in rc.find(v.Alert).widgets]
    assert alerts[0] == (f"Not restarted, the runs go on as they were: {tmp_path / 'follows.csv'}: "
                         "graph.follow_graph_file: user index out of range (allowed 0..499)")
    assert alerts[1].startswith("Pending changes")  # run A was not rebuilt: the change still waits
    rc.find(v.Slider, label="users").widget.v_model = 3000
    rc.find(v.Btn, children=["Reset"]).widget.click()
    assert not [w for w in rc.find(v.Alert).widgets if w.children[0].startswith("Not restarted")]
    rc.close()


def test_the_controls_set_the_first_feed_platform(tmp_path):
    """Guards controls.controlled_platform: in a scenario whose first platform is a shelf
    (no feed), the controls start at and set the first feed platform's knobs; they set
    the shelf's, which nothing reads (the feed kept its own beta and follow share while
    the page said the controls applied). Mutation checked: with the first platform
    controlled, the beta control started at the shelf's 1.0, not the feed's 0.7."""
    f = tmp_path / "shelf_first.toml"
    f.write_text(f'extends = "{SCENARIOS / "base.toml"}"\nname = "shelf_first"\n'
                 '[platforms.taobao]\npolicy = "douyin"\nkind = "shelf"\n'
                 '[platforms.douyin]\npolicy = "douyin"\nbeta = 0.7\n')
    assert scenario_values(f)["beta"] == 0.7
    m = AppModel(str(f), users=600, beta=2.5, follow_share=0.4)
    douyin = m.scenario.platforms["douyin"]
    assert (douyin.beta, douyin.follow_share) == (2.5, 0.4)
    assert "platforms.douyin.beta" not in dict(uncontrolled_knobs(f))
