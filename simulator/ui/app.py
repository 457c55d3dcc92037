"""The interactive app: a small traffic ecosystem stepped in the browser (Solara, with
Mesa's run controls and plot components).

    trafficsim app [SCENARIO]          # serves on http://127.0.0.1:8765
    solara run simulator/ui/app.py      # the same, by hand

In Jupyter, ``from simulator.ui.app import page; page`` renders it inline.

Scenario first: a picker offers the shipped scenarios that create a platform and the file
given on the command line (picking one restarts the run with its values); the page names
the scenario and shows its description; every control starts at the scenario's own value
(the app's population excepted: 3,000 users by default); a panel lists the keys the
scenario sets that no control shows. Controls (the scenario's first platform): the
centralization, which moves every style knob it sets (follow share, same-city share,
exposure cap, age decay, pool growth, cold start, Gini target and gain, fan trust, group
effect; each has its own control too), the intimacy boost beta and the fan groups' push
policy (pushes a day, share of value content). Each shows its value and unit as text.
The model reads its settings when it is built, so a changed control is listed under
"Pending changes" until Reset or "Apply and restart" rebuilds the model with them. The
charts show the domain shares of impressions, creator exposure Gini and top-1% share,
fans by tier, GMV by domain, fan-group members, the merchants' channel mix (effort
shares) and creators active / entering / leaving as the model steps (the last two move
in scenarios with the year's mechanisms on, e.g. douyin_year.toml). One chart draws a
line per platform (daily active users, share of users' time, private share of
impressions), so a multi-platform scenario such as ecosystem.toml shows the platforms
side by side. The page is tested
in headless Chromium (tests/ui/test_app_browser.py); its logic without the page is
:mod:`simulator.ui.controls`.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import solara
from mesa.visualization import make_plot_component
from mesa.visualization.solara_viz import ComponentsView, ModelController, ShowSteps
from mesa.visualization.utils import update_counter
from matplotlib.figure import Figure

from simulator.config import STYLE_KNOBS, read_scenario
from simulator.config.loading import declared_platforms
from simulator.model import TrafficModel
from simulator.ui.controls import (APP_USERS, BY_NAME, CONTROLS, DEFAULT_SCENARIO, STYLE_CONTROLS, app_population,
                                   centralization_moves, fmt, from_slider, is_snap, pending_changes, scenario_choices, scenario_values,
                                   slider_value, uncontrolled_knobs, values_of)


class AppModel(TrafficModel):
    """A TrafficModel built from the app's controls (Reset re-creates it with keywords).

    Every control keyword left at None keeps the scenario's value. A ``centralization``
    replaces the style knobs the file sets by its preset (explicit keywords still win);
    the none value of a control (exposure cap 0, Gini target 0) means none. The
    population is the app's (:func:`simulator.ui.controls.app_population`).
    ``app_values`` holds the controls' values of the model as built (for the page's
    pending-changes list)."""

    def __init__(self, scenario: str = "", users: int = APP_USERS, centralization: float | None = None,
                 beta: float | None = None, follow_share: float | None = None, same_city_share: float | None = None,
                 exposure_cap: float | None = None, age_decay: float | None = None, pool_growth: float | None = None,
                 cold_start_rate: float | None = None, gini_target: float | None = None, gini_gain: float | None = None,
                 fan_trust: float | None = None, group_effect: float | None = None, push_rate: float | None = None,
                 value_share: float | None = None, seed: int = 1, rng=None):
        path = scenario or os.environ.get("TRAFFICSIM_APP_SCENARIO") or DEFAULT_SCENARIO
        data = read_scenario(path)
        name = declared_platforms(data)[0]
        platform = dict(data.setdefault("platforms", {}).get(name) or {})
        if centralization is not None:
            platform = {k: v for k, v in platform.items() if k not in STYLE_KNOBS}
            platform["centralization"] = float(centralization)
        given = dict(beta=beta, follow_share=follow_share, same_city_share=same_city_share, exposure_cap=exposure_cap,
                     age_decay=age_decay, pool_growth=pool_growth, cold_start_rate=cold_start_rate,
                     gini_target=gini_target, gini_gain=gini_gain, fan_trust=fan_trust, group_effect=group_effect)
        for key, value in given.items():
            if value is not None:
                none = BY_NAME[key].none_at
                platform[key] = None if none is not None and value == none else float(value)
        data["platforms"][name] = platform
        data.setdefault("population", {}).update(app_population(users))
        groups = data.setdefault("commerce", {}).setdefault("groups", {})
        if push_rate is not None:
            groups["pushes_per_day"] = float(push_rate)
        if value_share is not None:
            groups["value_share"] = float(value_share)
        super().__init__(data, seed=seed, agents=False)
        self.scenario_path = str(path)
        self.app_values = values_of(self.scenario)


# panels of the per-platform chart: (metric column, title, y label)
PLATFORM_PANELS = (("active_users", "Daily active users, by platform", "users"),
                   ("time_share", "Share of users' time, by platform", "share of all slots"),
                   ("private_share_impressions", "Private share of impressions, by platform", "share"))


def platform_figure(model) -> Figure:
    """One line per platform (the scenario's platforms: e.g. ecosystem.toml's four) for
    daily active users, share of users' time and the private share of impressions, from
    the model's per-platform metrics rows; a panel whose metric the run lacks stays empty."""
    df = model.metrics_frame()
    fig = Figure(figsize=(9, 2.8))
    axes = fig.subplots(1, len(PLATFORM_PANELS))
    for ax, (column, title, ylabel) in zip(axes, PLATFORM_PANELS):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("day", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.tick_params(labelsize=7)
        for k, name in enumerate(model.platforms):
            rows = df[df["platform"] == name] if len(df) else df
            if not len(rows):
                continue
            if column == "private_share_impressions":
                values = rows["impressions_private"] / rows["impressions_total"].where(rows["impressions_total"] > 0)
            elif column in rows:
                values = rows[column]
            else:
                continue
            ax.plot(rows["step"], values, color=f"C{k}", label=name)
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


@solara.component
def PlatformLines(model):
    """The per-platform chart (:func:`platform_figure`), redrawn each step."""
    update_counter.get()
    solara.FigureMatplotlib(platform_figure(model), format="png")


components = [
    (PlatformLines, 0),  # the platforms side by side (issue #15 item 5)
    make_plot_component({"public_share_impressions": "#4C72B0", "commercial_share_impressions": "#DD8452", "private_share_impressions": "#55A868"}),
    make_plot_component({"exposure_gini": "#8172B3", "top1_share": "#C44E52"}),
    make_plot_component({"fans_passerby": "#937860", "fans_liking": "#DA8BC3", "fans_true": "#C44E52"}),
    make_plot_component({"gmv_public": "#4C72B0", "gmv_commercial": "#DD8452", "gmv_private_platform": "#55A868",
                         "gmv_private_wechat": "#2CA02C"}),
    make_plot_component({"group_members": "#8C8C8C"}),
    # a year that moves (docs/ODD.md 7.7.6, 7.10): merchants' channel mix and creators in and out
    make_plot_component({"mix_ads_broad": "#4C72B0", "mix_ads_fans": "#DD8452", "mix_ads_lookalike": "#937860",
                         "mix_groups": "#55A868", "mix_wechat": "#2CA02C"}),
    make_plot_component({"creators_active": "#4C72B0", "creators_entered": "#55A868", "creators_exited": "#C44E52"}),
]

# Vuetify puts a slider's label left of its track, where a long label squeezes the track
# to nothing: the label goes on a line of its own above the full-width track.
_CSS = """
.tsim-control .v-input__slot { flex-wrap: wrap; }
.tsim-control .v-input__slot > .v-label { flex: 1 0 100%; max-width: 100%; margin: 0 0 -4px 0; font-weight: 500; }
.tsim-control .v-messages { display: none; }
.tsim-value { font-size: 0.9em; }
.tsim-help { font-size: 0.8em; opacity: 0.75; }
.tsim-knobs td { padding: 0 8px 0 0; font-size: 0.85em; vertical-align: top; }
"""


def start_params(path: str) -> dict:
    """The AppModel keywords a scenario starts the page with: its own values."""
    return {"scenario": str(path), **scenario_values(path)}


@solara.component
def ControlRow(name: str, value, on_value, policy: str = "douyin"):
    """One control: its label above a full-width slider, its value and unit as text
    below, and what it does."""
    c = BY_NAME[name]
    mark = " ◆" if c.style else ""
    with solara.Column(gap="0px", classes=["tsim-control"]):
        slider = solara.SliderInt if c.integer else solara.SliderFloat
        slider(c.label, value=slider_value(name, value, policy), on_value=on_value, min=c.min, max=c.max, step=c.step,
               thumb_label=False)
        solara.Text(f"{c.label}{mark} = {fmt(c, value)}", classes=["tsim-value"])
        solara.Text(c.help, classes=["tsim-help"])


@solara.component
def Page():
    """The app, with a model of its own for every browser session (or notebook cell):
    a module-level model would be stepped by every visitor of the server at once."""
    choices = solara.use_memo(scenario_choices, dependencies=[])
    env_file = os.environ.get("TRAFFICSIM_APP_SCENARIO")
    first = next((lb for lb, p in choices.items() if env_file and p == str(Path(env_file).resolve())),
                 next((lb for lb, p in choices.items() if p == str(DEFAULT_SCENARIO)), next(iter(choices))))
    picked = solara.use_reactive(first)
    chosen = solara.use_reactive(solara.use_memo(lambda: start_params(choices[first]), dependencies=[]))
    model = solara.use_reactive(solara.use_memo(lambda: AppModel(**chosen.value), dependencies=[]))
    play_interval = solara.use_reactive(100)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)

    def pick(label):
        params = start_params(choices[label])
        picked.set(label)
        chosen.set(params)
        model.set(AppModel(**params))

    def set_control(name, v):
        v = from_slider(name, v)
        if is_snap(name, chosen.value.get(name), v):
            return
        new = {**chosen.value, name: v}
        if name == "centralization":
            new.update(centralization_moves(v))
        chosen.set(new)

    sc = model.value.scenario
    solara.Style(_CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"trafficsim: {sc.name}")

    with solara.Sidebar(), solara.Column():
        with solara.Card("Scenario"):
            solara.Select("scenario", values=list(choices), value=picked.value, on_value=pick)
            solara.Text("Picking a scenario restarts the run with its values.", classes=["tsim-help"])
        with solara.Card("Run"):
            ModelController(model, model_parameters=chosen, play_interval=play_interval,
                            render_interval=render_interval, use_threads=use_threads)
            ShowSteps(model.value)
        with solara.Card("Pending changes"):
            pending = pending_changes(model.value.app_values, chosen.value)
            if pending:
                solara.Warning("Pending changes — apply and restart: the model reads its settings when it is "
                               "built, so these take effect when it restarts from day 0 (Reset does the same).")
                # HTML, not Markdown: solara's Markdown fetches KaTeX from a CDN
                solara.HTML(tag="ul", unsafe_innerHTML="".join(
                    f"<li><b>{html.escape(lb)}</b>: {html.escape(a)} → {html.escape(b)}</li>" for lb, a, b in pending),
                    classes=["tsim-pending"])
                solara.Button("Apply and restart", color="warning", on_click=lambda: model.set(AppModel(**chosen.value)))
            else:
                solara.Text("None: the charts show the settings below. Every control applies when the run restarts "
                            "(no control changes a running model).", classes=["tsim-help"])
        with solara.Card("Controls"):
            solara.Text("◆ style knobs: centralization sets all of them; each can then be set on its own.",
                        classes=["tsim-help"])
            policy = next(iter(sc.platforms.values())).policy
            for c in CONTROLS:
                ControlRow(c.name, chosen.value.get(c.name), lambda v, n=c.name: set_control(n, v), policy)

    with solara.Card(f"Scenario: {sc.name}"):
        solara.HTML(tag="p", unsafe_innerHTML=html.escape(sc.description or "(no description)"),
                    classes=["tsim-description"])
        solara.Text(f"File: {model.value.scenario_path}; platform {next(iter(sc.platforms))}; the app runs "
                    f"{sc.population.users:,} users, {sc.population.creators:,} creators, "
                    f"{sc.population.merchants} merchants.", classes=["tsim-help"])
        knobs = solara.use_memo(lambda: uncontrolled_knobs(model.value.scenario_path),
                                dependencies=[model.value.scenario_path])
        with solara.Details(f"Set by the scenario, with no control here ({len(knobs)} keys)"):
            rows = "".join(f"<tr><td><code>{k}</code></td><td>{html.escape(str(v))}</td></tr>" for k, v in knobs)
            solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["tsim-knobs"])
    ComponentsView(list(components), model.value)


page = Page()
