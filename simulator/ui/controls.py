"""What the app's controls are and how they relate to a scenario, without the page.

The page (:mod:`simulator.ui.app`) draws these; this module says which controls there
are, their units and how their values read (:data:`CONTROLS`, :func:`fmt`), which
scenarios the picker offers (:func:`scenario_choices`), the value every control starts at
(:func:`scenario_values`, the scenario's own), what centralization moves
(:func:`centralization_moves`), the knobs the scenario sets that no control shows
(:func:`uncontrolled_knobs`), the changes that wait for a restart
(:func:`pending_changes`) and, side by side, the settings of run B beside run A
(:func:`compare_params`: another scenario or one control changed, on run A's population)
and the runs' names (:func:`run_labels`). It imports no Solara, so that the tests of this
logic are fast (the charts: :mod:`simulator.ui.charts`).

Every control applies when the model is rebuilt (Reset, or "Apply and restart"): the
model reads its scenario when it is built, so nothing here changes a running model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.config import STYLE_KNOBS, centralization_preset, load_scenario, read_scenario
from simulator.config.loading import declared_platforms

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_SCENARIO = SCENARIO_DIR / "douyin.toml"
APP_USERS = 3000  # the app's default population: a step in a fraction of a second


def app_population(users: int) -> dict[str, int]:
    """The population the app runs: ``users`` users, one creator per 30 users (at least
    40) and 4 merchants, whatever the scenario's population (a scenario's 10,000 users
    would make every step slow)."""
    return {"users": int(users), "creators": max(40, int(users) // 30), "merchants": 4}


def controlled_platform(data: dict) -> str:
    """The platform the app's controls set, in a merged scenario table: the first feed
    platform it creates (a shelf platform has no feed: a control of it would change
    nothing the run reads)."""
    tables = data.get("platforms") if isinstance(data.get("platforms"), dict) else {}
    names = declared_platforms(data)
    return next((n for n in names if (tables.get(n) or {}).get("kind", "feed") != "shelf"), names[0])


def controlled_config(scenario):
    """The validated settings of :func:`controlled_platform` in a
    :class:`~simulator.config.Scenario`: its first feed platform's."""
    return next((pc for pc in scenario.platforms.values() if pc.kind != "shelf"),
                next(iter(scenario.platforms.values())))


def controlled_name(scenario) -> str:
    """The name of :func:`controlled_config`'s platform."""
    pc = controlled_config(scenario)
    return next(n for n, c in scenario.platforms.items() if c is pc)


def app_data(path: str | Path, users: int = APP_USERS, **controls: Any) -> dict:
    """The scenario table the app builds a model from: the file at ``path`` (its
    ``extends`` chain merged) with the app's population (:func:`app_population`) and the
    controls' values (AppModel's keywords; None keeps the scenario's value). A
    ``centralization`` replaces the style knobs the file sets by its preset (explicit
    controls still win); a control at its none value (exposure cap 0, Gini target 0) sets none."""
    data = read_scenario(path)
    name = controlled_platform(data)
    platform = dict(data.setdefault("platforms", {}).get(name) or {})
    centralization = controls.pop("centralization", None)
    if centralization is not None:
        platform = {k: v for k, v in platform.items() if k not in STYLE_KNOBS}
        platform["centralization"] = float(centralization)
    push_rate, value_share = controls.pop("push_rate", None), controls.pop("value_share", None)
    for key, value in controls.items():
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
    return data


def check_app_scenario(path: str | Path, users: int = APP_USERS) -> None:
    """Raise ScenarioError if the app cannot build a model of the scenario at ``path`` at
    its own population (``users``): a file can be valid at its own population and not at
    the app's, e.g. a follow-graph file whose users or creators the app's population does
    not have. The error says the population is the app's."""
    from simulator.config import ScenarioError, scenario_from_dict

    try:
        scenario = scenario_from_dict(app_data(path, users), str(path))
        if scenario.graph.follow_graph_file:
            from simulator.world import read_follow_file

            read_follow_file(scenario)
    except ScenarioError as exc:
        pop = app_population(users)
        raise ScenarioError(exc.source, exc.key, f"{exc.message} (the app runs its own population, {pop['users']:,} "
                                                 f"users, {pop['creators']:,} creators and {pop['merchants']} "
                                                 "merchants, whatever the scenario's)") from None


@dataclass(frozen=True)
class Control:
    """One control of the page: ``name`` is the AppModel keyword, ``key`` the scenario
    key it sets (``{p}`` is the scenario's first feed platform, :func:`controlled_platform`), ``unit`` follows the number
    on the page (``45% of non-ad slots``), ``help`` says what it does. ``none_at`` is the
    slider value that stands for "none" (no cap, no steering); ``percent`` shows the value
    as a percentage; ``style``: a style knob, which centralization sets."""

    name: str
    key: str
    label: str
    unit: str
    help: str
    min: float
    max: float
    step: float
    integer: bool = False
    none_at: float | None = None
    percent: bool = False
    style: bool = False


CONTROLS: tuple[Control, ...] = (
    Control("users", "population.users", "users", "users",
            "the app's population (one creator per 30 users, 4 merchants), not the scenario's", 500, 20000, 500,
            integer=True),
    Control("centralization", "platforms.{p}.centralization", "centralization", "",
            "0 = Kuaishou-like, 1 = Douyin-like; moving it sets every style knob marked ◆ to its preset", 0.0, 1.0, 0.05),
    Control("beta", "platforms.{p}.beta", "intimacy boost (beta)", "",
            "a fan weighs 1 + beta × intimacy in delivery and in the traffic pools (not a style knob)", 0.0, 5.0, 0.1),
    Control("follow_share", "platforms.{p}.follow_share", "follow share", "of non-ad slots",
            "mean share of the slots left after the ads that come from the follow tab", 0.0, 1.0, 0.01, percent=True, style=True),
    Control("same_city_share", "platforms.{p}.same_city_share", "same-city share", "of the other slots",
            "share of the slots left after the ads and the follow tab that come from the same-city tab", 0.0, 0.5, 0.01, percent=True, style=True),
    Control("exposure_cap", "platforms.{p}.exposure_cap", "exposure cap", "of daily active users",
            "recommendation impressions one item may get (0 = no cap)", 0.0, 1.0, 0.01, none_at=0.0, percent=True,
            style=True),
    Control("age_decay", "platforms.{p}.age_decay", "age decay", "per day",
            "retrieval weight × exp(−age decay × item age)", 0.0, 2.0, 0.005, style=True),
    Control("pool_growth", "platforms.{p}.pool_growth", "pool growth", "× per level",
            "each traffic pool is this many times the last", 1.0, 10.0, 0.05, style=True),
    Control("cold_start_rate", "platforms.{p}.cold_start_rate", "cold start", "× intimacy",
            "chance a fan is offered a new item of the creator", 0.0, 1.0, 0.01, style=True),
    Control("gini_target", "platforms.{p}.gini_target", "Gini target", "Gini",
            "creator exposure Gini the platform steers toward (0 = no steering)", 0.0, 1.0, 0.05, none_at=0.0,
            style=True),
    Control("gini_gain", "platforms.{p}.gini_gain", "Gini steering gain", "",
            "how fast the steering follows the Gini error (0 = off)", 0.0, 5.0, 0.1, style=True),
    Control("fan_trust", "platforms.{p}.fan_trust", "fan trust", "×",
            "weight of ties in buying and tipping (1 = neutral, low = interest-driven)", 0.0, 2.0, 0.01, style=True),
    Control("group_effect", "platforms.{p}.group_effect", "group effect", "×",
            "effect of fan-group pushes (1 = full)", 0.0, 1.0, 0.01, style=True),
    Control("push_rate", "commerce.groups.pushes_per_day", "group pushes", "per day",
            "pushes a fan group gets a day", 0.0, 10.0, 0.5),
    Control("value_share", "commerce.groups.value_share", "value-content share", "of pushes",
            "share of group pushes that serve (the rest sell)", 0.0, 1.0, 0.05, percent=True),
)
BY_NAME = {c.name: c for c in CONTROLS}
STYLE_CONTROLS = tuple(c.name for c in CONTROLS if c.style)
assert set(STYLE_CONTROLS) == set(STYLE_KNOBS), "every style knob centralization sets has a control"


def fmt(control: Control | str, value: Any) -> str:
    """A control's value as the page shows it, with its unit: ``45% of non-ad slots``,
    ``none (no cap)``, ``3,000 users``; ``not set`` for a centralization the scenario
    leaves out."""
    c = BY_NAME[control] if isinstance(control, str) else control
    if value is None or (c.none_at is not None and value == c.none_at):
        return {"exposure_cap": "none (no cap)", "gini_target": "none (no steering)"}.get(
            c.name, "not set (the style knobs are the scenario's own)")
    if c.integer:
        num = f"{int(value):,}"
    elif c.percent:
        num = f"{100 * value:.4g}%"
    else:
        num = f"{value:.4g}"
    return f"{num} {c.unit}".rstrip()


def scenario_choices(extra: str | Path | None = None) -> dict[str, str]:
    """The picker's scenarios, label → path: ``extra`` (the file given on the command
    line, ``$TRAFFICSIM_APP_SCENARIO`` by default) first, then every shipped
    ``scenarios/*.toml`` that creates a platform (``base.toml`` does not)."""
    extra = extra if extra is not None else os.environ.get("TRAFFICSIM_APP_SCENARIO")
    out: dict[str, str] = {}
    if extra:
        p = Path(extra).resolve()
        out[f"{p.name} (command line)" if p.parent != SCENARIO_DIR else p.name] = str(p)
    for p in sorted(SCENARIO_DIR.glob("*.toml")):
        if str(p) in out.values():
            continue
        tables = read_scenario(p).get("platforms")
        if isinstance(tables, dict) and any(isinstance(t, dict) and "policy" in t for t in tables.values()):
            out[p.name] = str(p)
    return out


def scenario_values(path: str | Path) -> dict[str, Any]:
    """Every control's start value: the scenario's own resolved value (defaults and the
    policy preset filled in), "none" as the slider's none value; ``users`` is the app's
    population (:data:`APP_USERS`); ``centralization`` is None when the scenario does not
    set it (the style knobs are then the file's and its policy's)."""
    return {**values_of(load_scenario(path)), "users": APP_USERS}


def values_of(scenario) -> dict[str, Any]:
    """The controls' values in a validated :class:`~simulator.config.Scenario` (its first
    platform; ``users`` its population's)."""
    pc = controlled_config(scenario)
    out: dict[str, Any] = {}
    for c in CONTROLS:
        table = {"platforms": pc, "commerce": scenario.commerce.groups, "population": scenario.population}[c.key.split(".")[0]]
        v = getattr(table, c.key.rsplit(".", 1)[1])
        out[c.name] = c.none_at if v is None and c.none_at is not None else v
    return out


def centralization_moves(c: float) -> dict[str, float]:
    """The style-knob controls and the value centralization ``c`` gives each (from
    :func:`simulator.config.centralization_preset`; no cap / no steering as the
    controls' none value)."""
    preset = centralization_preset(float(c))
    return {k: (BY_NAME[k].none_at if preset[k] is None else preset[k]) for k in STYLE_CONTROLS}


def slider_value(name: str, value: Any, policy: str = "douyin") -> float:
    """Where the slider of a control stands for ``value`` (a centralization the scenario
    does not set: 0 for the ``kuaishou`` policy, else 1, the points its preset equals)."""
    if value is None:
        return BY_NAME[name].none_at if BY_NAME[name].none_at is not None else (0.0 if policy == "kuaishou" else 1.0)
    return value


def from_slider(name: str, value: Any) -> Any:
    """A slider's value as the model gets it: integers for integer controls, floats
    rounded to 9 decimals, so that 1.5 reached by steps of 0.1 (1.4999999999999998 in
    the browser) is the scenario's 1.5 again and draws the same run."""
    return int(round(value)) if BY_NAME[name].integer else round(float(value), 9)


def is_snap(name: str, current: Any, new: Any) -> bool:
    """Whether a slider's ``new`` value is only its own rounding of ``current`` to the
    slider's step (the browser's slider snaps a value off its grid, such as the 5.26%
    cap of centralization 0.05, and sends the snapped value back): not a user's move."""
    c = BY_NAME[name]
    if current is None or new is None or c.integer:
        return False
    off_grid = abs(current / c.step - round(current / c.step)) > 1e-6
    return off_grid and abs(new - current) < c.step / 2 + 1e-12


def uncontrolled_knobs(path: str | Path, users: int = APP_USERS) -> list[tuple[str, Any]]:
    """The dotted keys the scenario file (with its ``extends`` chain) sets that no
    control shows, with their values; the population keys the app replaces say so, with
    the app's value at ``users`` users (the users control of the running model)."""
    data = read_scenario(path)
    platform = controlled_platform(data)
    controlled = {c.key.format(p=platform) for c in CONTROLS} - {"population.users"}
    app_pop = app_population(users)
    rows = []
    for key, value in _flatten(data):
        if key in controlled or key in ("name", "description"):
            continue
        sect, _, leaf = key.partition(".")
        if sect == "population" and leaf in app_pop:
            value = f"{value} (the app: {app_pop[leaf]:,} at {users:,} users)"
        rows.append((key, value))
    return rows


def _flatten(data: dict, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for k, v in data.items():
        if isinstance(v, dict) and v:
            out.extend(_flatten(v, f"{prefix}{k}."))
        else:
            out.append((f"{prefix}{k}", v))
    return out


def pending_changes(applied: dict[str, Any], chosen: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The controls whose chosen value differs from the running model's, as (label,
    value now, value after restart), in the order of :data:`CONTROLS`."""
    rows = []
    for c in CONTROLS:
        a, b = applied.get(c.name), chosen.get(c.name)
        if a != b and not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) < 1e-9):
            rows.append((c.label, fmt(c, a), fmt(c, b)))
    return rows


# ---------------------------------------------------------------- side by side

SAME_SCENARIO = "the same scenario, one control changed"  # the comparison picker's entry for a one-knob change
COMPARE_KNOBS = tuple(c.name for c in CONTROLS if c.name != "users")  # the controls run B may change (same population)


def default_partner(choices: dict[str, str], current: str) -> str:
    """The scenario the side-by-side mode starts with: the other platform style
    (kuaishou.toml for a Douyin-like scenario, douyin.toml otherwise), else the first
    other choice."""
    policy = controlled_config(load_scenario(current)).policy
    want = "douyin.toml" if policy == "kuaishou" else "kuaishou.toml"
    if want in choices and choices[want] != str(current):
        return want
    return next((lb for lb, p in choices.items() if p != str(current)), SAME_SCENARIO)


def compare_params(a_params: dict[str, Any], choice: str, choices: dict[str, str], knob: str | None = None,
                   value: Any = None) -> dict[str, Any]:
    """The AppModel keywords of run B beside run A (built from ``a_params``).

    ``choice`` is a label of ``choices`` (B runs that scenario at its own values) or
    :data:`SAME_SCENARIO` (B is A with control ``knob`` at ``value``; centralization also
    moves the style knobs it sets, as on the page). Either way B has A's population (the
    ``users`` control) and both are built with the same seed (AppModel's), so the two
    runs start from the same users, creators, merchants and graphs and differ only in
    what the platforms do."""
    if choice == SAME_SCENARIO:
        if knob not in BY_NAME or knob == "users":
            raise ValueError(f"side by side: no control {knob!r} to change (controls: {', '.join(COMPARE_KNOBS)})")
        out = {**a_params, knob: value}
        if knob == "centralization" and value is not None:
            out.update(centralization_moves(value))
        return out
    if choice not in choices:
        raise ValueError(f"side by side: no scenario {choice!r} (scenarios: {', '.join(choices)})")
    return {"scenario": choices[choice], **scenario_values(choices[choice]), "users": a_params.get("users", APP_USERS)}


def run_labels(a_name: str, b_name: str, choice: str, knob: str | None = None, value: Any = None,
               a_value: Any = None) -> tuple[str, str]:
    """The legend's names of runs A and B: the scenarios' names, or for a one-control
    change the scenario with each run's value of the control (``douyin, intimacy boost
    (beta) 0.5`` and ``douyin, intimacy boost (beta) 2``); two equal names get "(A)" and "(B)"."""
    if choice == SAME_SCENARIO and knob in BY_NAME:
        a_name, b_name = (f"{a_name}, {BY_NAME[knob].label} {fmt(knob, v)}" for v in (a_value, value))
    if a_name == b_name:
        return f"{a_name} (A)", f"{b_name} (B)"
    return a_name, b_name
