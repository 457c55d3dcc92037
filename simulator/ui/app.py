"""The interactive app: a small traffic ecosystem stepped in the browser (Solara, on the
Mesa model :class:`simulator.model.TrafficModel`).

    trafficsim app [SCENARIO]          # serves on http://127.0.0.1:8765
    solara run simulator/ui/app.py      # the same, by hand

In Jupyter, ``from simulator.ui.app import page; page`` renders it inline.

Scenario first: a picker offers the shipped scenarios that create a platform and the file
given on the command line (picking one restarts the run with its values); the page names
the scenario and shows its description; every control starts at the scenario's own value
(the app's population excepted: 3,000 users by default); a panel lists the keys the
scenario sets that no control shows. Controls (the scenario's first feed platform): the
centralization, which moves every style knob it sets (follow share, same-city share,
exposure cap, age decay, pool growth, cold start, Gini target and gain, fan trust, group
effect; each has its own control too), the intimacy boost beta and the fan groups' push
policy (pushes a day, share of value content). Each shows its value and unit as text.
The model reads its settings when it is built, so a changed control is listed under
"Pending changes" until Reset or "Apply and restart" rebuilds the model with them; settings
the model refuses (a follow-graph file naming more users than the app's population) leave
the runs as they were and are said at the top of the sidebar.

Run: Reset, ▶ (play until paused), Step (one day) and the "Step: N" counter. Side by
side: a second run (run B: another scenario, by default the other platform style, or the
same scenario with one control changed) is built on run A's population with the same
seed and steps with it; both are drawn in the same charts (run A blue, run B orange, one
legend). The charts (:mod:`simulator.ui.charts`, SVG text redrawn at every step in a
few milliseconds): where impressions come from, how concentrated exposure is, the Lorenz
curve, fans by tier and the fan-tier funnel, GMV by domain (7-day mean, daily values
faint), the revenue mix, fan-group members, the merchants' channel mix and creators in
and out (these move in the year scenarios), and one line per platform for a scenario
with several (ecosystem.toml); a "What am I looking at" card says what public,
commercial and private traffic are. Drill-down: a creator's fans by tier and reach by
domain, a merchant's customers by where they are. The page is tested in headless
Chromium (tests/ui/test_app_browser.py); its logic without the page is
:mod:`simulator.ui.controls` and :mod:`simulator.ui.charts`.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

import ipyvuetify
import solara

from simulator.config import ScenarioError
from simulator.model import TrafficModel
from simulator.ui.charts import (TRAFFIC_KINDS, creator_options, drill_charts, merchant_options, svg, top_merchant,
                                 traffic_charts)
from simulator.ui.controls import (APP_USERS, BY_NAME, COMPARE_KNOBS, CONTROLS, DEFAULT_SCENARIO, SAME_SCENARIO,
                                   app_data, centralization_moves, compare_params, controlled_config,
                                   controlled_name, default_partner, fmt,
                                   from_slider, is_snap, pending_changes, run_labels, scenario_choices,
                                   scenario_values, slider_value, uncontrolled_knobs, values_of)


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
        data = app_data(path, users, centralization=centralization, beta=beta, follow_share=follow_share,
                        same_city_share=same_city_share, exposure_cap=exposure_cap, age_decay=age_decay,
                        pool_growth=pool_growth, cold_start_rate=cold_start_rate, gini_target=gini_target,
                        gini_gain=gini_gain, fan_trust=fan_trust, group_effect=group_effect, push_rate=push_rate,
                        value_share=value_share)
        super().__init__(data, seed=seed, agents=False)
        self.scenario_path = str(path)
        self.app_values = values_of(self.scenario)


# Vuetify puts a slider's label left of its track, where a long label squeezes the track
# to nothing: the label goes on a line of its own above the full-width track.
_CSS = """
.tsim-control .v-input__slot { flex-wrap: wrap; }
.tsim-control .v-input__slot > .v-label { flex: 1 0 100%; max-width: 100%; margin: 0 0 -4px 0; font-weight: 500; }
.tsim-control .v-messages { display: none; }
.tsim-value { font-size: 0.9em; }
.tsim-help { font-size: 0.8em; opacity: 0.75; }
.tsim-knobs td { padding: 0 8px 0 0; font-size: 0.85em; vertical-align: top; }
.tsim-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 12px; width: 100%; }
.tsim-chart-box { background: white; padding: 6px; border-radius: 4px; box-shadow: 0 1px 3px rgba(0,0,0,.15); }
.tsim-chart-box svg { width: 100%; height: auto; display: block; }
.tsim-note { font-size: 0.8em; opacity: 0.8; margin: 2px 4px 0 4px; }
.tsim-traffic li { margin-bottom: 2px; }
"""


def start_params(path: str) -> dict:
    """The AppModel keywords a scenario starts the page with: its own values."""
    return {"scenario": str(path), **scenario_values(path)}


@solara.component
def ControlRow(name: str, value, on_value, policy: str = "douyin", prefix: str = ""):
    """One control: its label above a full-width slider, its value and unit as text
    below, and what it does. ``prefix`` names the run a second copy of a control sets
    (side by side: "run B: ")."""
    c = BY_NAME[name]
    mark = " ◆" if c.style and not prefix else ""
    with solara.Column(gap="0px", classes=["tsim-control"]):
        slider = solara.SliderInt if c.integer else solara.SliderFloat
        slider(prefix + c.label, value=slider_value(name, value, policy), on_value=on_value, min=c.min, max=c.max,
               step=c.step, thumb_label=False)
        solara.Text(f"{prefix}{c.label}{mark} = {fmt(c, value)}", classes=["tsim-value"])
        solara.Text(c.help, classes=["tsim-help"])


PLAY_PAUSE_S = 0.05  # between two steps while playing: the page gets to draw each day


@solara.component
def RunControls(models: solara.Reactive, on_stepped, on_reset):
    """Reset (rebuild the run, or both runs, from day 0), play / pause, one step; every
    run steps together (side by side: both, the same day); ``on_stepped()`` redraws."""
    playing = solara.use_reactive(False)

    def step_all():
        for m in models.value:
            m.step()
        on_stepped()

    def loop():
        while playing.value:
            step_all()
            time.sleep(PLAY_PAUSE_S)

    solara.lab.use_task(loop, dependencies=[playing.value], prefer_threaded=True)

    def reset():
        playing.set(False)
        on_reset()

    with solara.Row(justify="space-between"):
        solara.Button("Reset", color="primary", on_click=reset)
        solara.Button("❚❚" if playing.value else "▶", color="primary", on_click=lambda: playing.set(not playing.value))
        solara.Button("Step", color="primary", on_click=step_all, disabled=playing.value)


def _chart_html(chart) -> str:
    note = f'<p class="tsim-note">{html.escape(chart.note)}</p>' if chart.note else ""
    return svg(chart) + note


def charts_html(charts) -> str:
    """The charts as one block of HTML: the page swaps it in one piece at each step (one
    message, one layout in the browser, where a widget per chart cost one each)."""
    return "".join(f'<div class="tsim-chart-box">{_chart_html(c)}</div>' for c in charts)


TOP_CREATOR = "the top creator by impressions"
TOP_MERCHANT = "the top merchant by GMV"


def page_view(models: tuple, labels: tuple, creator: int | None, merchant: int | None) -> dict:
    """What a step changes on the page, as text: the step counter, the main charts, the
    drill-down's charts, its line on what it shows and the creators its picker offers
    (the 10 most exposed in run A, and the picked one). ``creator`` / ``merchant`` None:
    the top one of run A (by impressions / GMV), at every step."""
    a = models[0]
    runs = list(zip(labels, models))
    ids = [c for c, _ in creator_options(a)]
    if creator is not None and creator not in ids:
        ids.append(creator)
    shown = creator if creator is not None else (ids[0] if ids else 0)
    shown_m = merchant if merchant is not None else top_merchant(a)
    top = " (the top one in run A)"
    help_ = (f"Creator #{shown}{top if creator is None else ''}"
             + (f"; merchant #{shown_m}{top if merchant is None else ''}" if shown_m is not None else "")
             + ". Side by side, both runs show the same creator and merchant (the same population).")
    return {"counter": f"Step: {a.steps}", "charts": charts_html(traffic_charts(runs)),
            "drill": charts_html(drill_charts(runs, shown, shown_m)), "drill_help": html.escape(help_),
            "creator_items": [TOP_CREATOR] + [f"creator #{c}" for c in ids]}


@solara.component
def Live(name: str, live: dict, text: str, tag: str = "div", classes: str = ""):
    """HTML that a step rewrites in place (``live[name]``, :func:`Page`'s redraw) with no
    re-render of the page: Solara re-renders a component by walking the whole page
    (~0.1 s, more than the charts). The widget is the page's own, not an element of
    Solara's: Solara re-applies an element's properties as it walks, which would put back
    the text of the page's last render over the step's."""
    widget = solara.use_memo(lambda: solara.widgets.HTML(tag=tag, unsafe_innerHTML=text, attributes={"class": classes}),
                             dependencies=[])
    live[name] = widget

    def show():  # the page rendered: its text is the newest
        widget.unsafe_innerHTML = text

    solara.use_effect(show, None)
    solara.display(widget)


@solara.component
def DrillDown(view: dict, live: dict, creator: solara.Reactive, merchant: solara.Reactive, merchants: dict,
              on_pick):
    """One creator's fans by tier and reach by domain, one merchant's customers by where
    they are (side by side: the same creator and merchant in both runs: the population
    is the same). The pickers' choices change the reactive ``creator`` / ``merchant``."""
    def pick_creator(v):
        creator.set(None if v == TOP_CREATOR else int(v.split("#")[1]))
        on_pick()

    def pick_merchant(v):
        merchant.set(None if v == TOP_MERCHANT else int(v.split("#")[1].split()[0]))
        on_pick()

    def make_select():
        # the creators on offer change as the run steps: the step sets its items (as Live's text)
        w = ipyvuetify.Select(label="creator", items=view["creator_items"], v_model=TOP_CREATOR,
                                   style_="min-width: 280px")
        w.observe(lambda change: pick_creator(change["new"]), "v_model")
        return w

    select = solara.use_memo(make_select, dependencies=[])
    live["creator_select"] = select

    def show():
        select.items = view["creator_items"]

    solara.use_effect(show, None)
    with solara.Row(style={"flex-wrap": "wrap"}):
        solara.display(select)
        if merchants:
            solara.Select("merchant", values=[TOP_MERCHANT, *merchants.values()],
                          value=TOP_MERCHANT if merchant.value is None else merchants[merchant.value],
                          on_value=pick_merchant, style={"min-width": "280px"})
    Live("drill_help", live, view["drill_help"], "p", "tsim-help")
    Live("drill", live, view["drill"], "div", "tsim-grid")


@solara.component
def SideBySide(side: solara.Reactive, choices: dict, chosen: dict, policy: str, on_change):
    """The comparison: off, or run B beside run A: another scenario, or the same one with
    one control changed. Any change rebuilds both runs from day 0 (``on_change(spec)``)."""
    spec = side.value

    def toggle(on: bool):
        if not on:
            on_change(None)
            return
        current = chosen.get("scenario") or str(DEFAULT_SCENARIO)
        on_change({"choice": default_partner(choices, current), "knob": "beta", "value": chosen.get("beta")})

    solara.Switch(label="Compare with a second run", value=spec is not None, on_value=toggle)
    if spec is None:
        solara.Text("Steps a second model beside this one, on the same population and seed, and draws both in "
                    "the same charts (run A blue, run B orange).", classes=["tsim-help"])
        return
    solara.Select("run B", values=[*choices, SAME_SCENARIO], value=spec["choice"],
                  on_value=lambda v: on_change({**spec, "choice": v}))
    if spec["choice"] == SAME_SCENARIO:
        labels = {BY_NAME[k].label: k for k in COMPARE_KNOBS}
        solara.Select("control run B changes", values=list(labels), value=BY_NAME[spec["knob"]].label,
                      on_value=lambda lb: on_change({**spec, "knob": labels[lb], "value": chosen.get(labels[lb])}))
        knob = spec["knob"]
        ControlRow(knob, spec["value"], lambda v: on_change({**spec, "value": from_slider(knob, v)}), policy,
                   prefix="run B: ")
    solara.Text("Run A is the scenario and controls above; run B has the same users, creators, merchants and "
                "seed, so the difference is the platform's. Changing run B restarts both from day 0.",
                classes=["tsim-help"])


@solara.component
def Page():
    """The app, with a model (or two, side by side) of its own for every browser session
    (or notebook cell): a module-level model would be stepped by every visitor at once."""
    choices = solara.use_memo(scenario_choices, dependencies=[])
    env_file = os.environ.get("TRAFFICSIM_APP_SCENARIO")
    first = next((lb for lb, p in choices.items() if env_file and p == str(Path(env_file).resolve())),
                 next((lb for lb, p in choices.items() if p == str(DEFAULT_SCENARIO)), next(iter(choices))))
    picked = solara.use_reactive(first)
    chosen = solara.use_reactive(solara.use_memo(lambda: start_params(choices[first]), dependencies=[]))
    side = solara.use_reactive(None)  # None, or run B: {"choice", "knob", "value"}
    models = solara.use_reactive(solara.use_memo(lambda: (AppModel(**chosen.value),), dependencies=[]))
    labels = solara.use_reactive((models.value[0].scenario.name,))
    creator = solara.use_reactive(None)  # the drill-down's creator (None: the top one)
    merchant = solara.use_reactive(None)
    live = solara.use_memo(dict, dependencies=[])  # the widgets a step rewrites (see Live)
    error = solara.use_reactive(None)  # why the last rebuild was refused, or None

    def redraw():
        """After a step (or a rebuild): the step counter, the charts and the drill-down
        rewritten in place (see :class:`Live`), with no re-render of the page."""
        view = page_view(models.value, labels.value, creator.value, merchant.value)
        for name in ("counter", "charts", "drill", "drill_help"):
            if live.get(name) is not None:
                live[name].unsafe_innerHTML = view[name]
        if live.get("creator_select") is not None:
            live["creator_select"].items = view["creator_items"]

    def rebuild(params: dict | None = None, spec="keep") -> bool:
        """Run A from ``params`` (the controls), run B from the comparison ``spec``; day 0.
        A setting the model refuses (a follow-graph file the app's population is too small
        for, say) leaves the runs as they were and is said at the top of the sidebar:
        False. (It used to replace the page by a traceback: the session was lost.)"""
        params = chosen.value if params is None else params
        spec = side.value if spec == "keep" else spec
        try:
            a = AppModel(**params)
            b = None if spec is None else AppModel(**compare_params(params, spec["choice"], choices, spec.get("knob"),
                                                                    spec.get("value")))
        except ScenarioError as exc:
            error.set(f"Not restarted, the runs go on as they were: {exc}")
            return False
        error.set(None)
        if b is None:
            models.set((a,))
            labels.set((a.scenario.name,))
        else:
            models.set((a, b))
            labels.set(run_labels(a.scenario.name, b.scenario.name, spec["choice"], spec.get("knob"),
                                  spec.get("value"), params.get(spec.get("knob"))))
        side.set(spec)
        redraw()
        return True

    def pick(label):
        params = start_params(choices[label])
        if rebuild(params):
            picked.set(label)
            chosen.set(params)

    def set_control(name, v):
        v = from_slider(name, v)
        if is_snap(name, chosen.value.get(name), v):
            return
        new = {**chosen.value, name: v}
        if name == "centralization":
            new.update(centralization_moves(v))
        chosen.set(new)

    a = models.value[0]
    sc = a.scenario
    view = page_view(models.value, labels.value, creator.value, merchant.value)
    policy = controlled_config(sc).policy
    solara.Style(_CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"trafficsim: {sc.name}" + (f" vs {labels.value[1]}" if len(labels.value) > 1 else ""))

    with solara.Sidebar(), solara.Column():
        if error.value:
            solara.Error(error.value, classes=["tsim-error"])
        with solara.Card("Scenario"):
            solara.Select("scenario", values=list(choices), value=picked.value, on_value=pick)
            solara.Text("Picking a scenario restarts the run with its values.", classes=["tsim-help"])
        with solara.Card("Run"):
            RunControls(models, redraw, lambda: rebuild())
            Live("counter", live, view["counter"], "span", "tsim-steps")
            solara.Text("Step: one simulated day (▶ steps until paused). The charts end at the step's day.",
                        classes=["tsim-help"])
        with solara.Card("Side by side"):
            SideBySide(side, choices, chosen.value, policy, lambda spec: rebuild(spec=spec))
        with solara.Card("Pending changes"):
            pending = pending_changes(a.app_values, chosen.value)
            if pending:
                solara.Warning("Pending changes — apply and restart: the model reads its settings when it is "
                               "built, so these take effect when it restarts from day 0 (Reset does the same).")
                # HTML, not Markdown: solara's Markdown fetches KaTeX from a CDN
                solara.HTML(tag="ul", unsafe_innerHTML="".join(
                    f"<li><b>{html.escape(lb)}</b>: {html.escape(x)} → {html.escape(y)}</li>" for lb, x, y in pending),
                    classes=["tsim-pending"])
                solara.Button("Apply and restart", color="warning", on_click=lambda: rebuild())
            else:
                solara.Text("None: the charts show the settings below. Every control applies when the run restarts "
                            "(no control changes a running model).", classes=["tsim-help"])
        with solara.Card("Controls"):
            solara.Text("◆ style knobs: centralization sets all of them; each can then be set on its own.",
                        classes=["tsim-help"])
            for c in CONTROLS:
                ControlRow(c.name, chosen.value.get(c.name), lambda v, n=c.name: set_control(n, v), policy)

    with solara.Card(f"Scenario: {sc.name}"):
        solara.HTML(tag="p", unsafe_innerHTML=html.escape(sc.description or "(no description)"),
                    classes=["tsim-description"])
        solara.Text(f"File: {a.scenario_path}; the controls set platform {controlled_name(sc)}; the app runs "
                    f"{sc.population.users:,} users, {sc.population.creators:,} creators, "
                    f"{sc.population.merchants} merchants.", classes=["tsim-help"])
        if len(models.value) > 1:
            b = models.value[1]
            solara.HTML(tag="p", unsafe_innerHTML=html.escape(
                f"Side by side: run A = {labels.value[0]} (blue), run B = {labels.value[1]} (orange, "
                f"{b.scenario_path}), on the same population and seed."), classes=["tsim-side"])
        users = sc.population.users
        knobs = solara.use_memo(lambda: uncontrolled_knobs(a.scenario_path, users), dependencies=[a.scenario_path, users])
        with solara.Details(f"Set by the scenario, with no control here ({len(knobs)} keys)"):
            rows = "".join(f"<tr><td><code>{k}</code></td><td>{html.escape(str(v))}</td></tr>" for k, v in knobs)
            solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["tsim-knobs"])
    with solara.Card("What am I looking at: public, commercial and private traffic"):
        solara.HTML(tag="ul", unsafe_innerHTML="".join(f"<li><b>{html.escape(n)}</b>: {html.escape(t)}</li>"
                                                       for n, t in TRAFFIC_KINDS), classes=["tsim-traffic"])
    Live("charts", live, view["charts"], "div", "tsim-grid")
    with solara.Card("Drill-down: one creator, one merchant"):
        merchants = {m: f"merchant #{m} ({category})" for m, category in merchant_options(a)}
        DrillDown(view, live, creator, merchant, merchants, redraw)


page = Page()
