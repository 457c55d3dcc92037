"""The interactive app: Mesa's SolaraViz over a small traffic ecosystem.

    trafficsim app [SCENARIO]          # serves on http://127.0.0.1:8765
    solara run simulator/ui/app.py      # the same, by hand

In Jupyter, ``from simulator.ui.app import page; page`` renders it inline. Sliders set the
platform's centralization (and through it the style knobs no other slider sets),
intimacy boost, follow share and exposure cap, and the fan groups' push policy (pushes
a day, share of value content); charts show the domain shares of impressions, creator
exposure Gini and top-1% share, fans by tier, GMV by domain and fan-group members as
the model steps. The page is tested in headless Chromium (tests/ui/test_app_browser.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import solara
from mesa.visualization import SolaraViz, make_plot_component

from simulator.config import STYLE_KNOBS, read_scenario
from simulator.model import TrafficModel

DEFAULT_SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "douyin.toml"


class AppModel(TrafficModel):
    """A TrafficModel built from slider values (SolaraViz re-creates it with keywords).

    The scenario's first platform loses the style knobs its file sets, so that the
    centralization slider sets them (same-city share, age decay, pool growth, cold start,
    Gini steering, fan trust, group effect); follow share, exposure cap and intimacy boost
    come from their own sliders."""

    def __init__(self, scenario: str = "", users: int = 3000, centralization: float = 1.0, beta: float = 1.0,
                 follow_share: float = 0.05, exposure_cap: float = 0.0, push_rate: float = 1.0,
                 value_share: float = 0.5, seed: int = 1, rng=None):
        data = read_scenario(scenario or os.environ.get("TRAFFICSIM_APP_SCENARIO") or DEFAULT_SCENARIO)
        name = next(iter(data["platforms"]))
        platform = {k: v for k, v in data["platforms"][name].items() if k not in STYLE_KNOBS}
        platform.update(centralization=centralization, beta=beta, follow_share=follow_share,
                        exposure_cap=exposure_cap if exposure_cap > 0 else None)
        data["platforms"][name] = platform
        data.setdefault("population", {}).update(users=int(users), creators=max(40, int(users) // 30), merchants=4)
        data.setdefault("commerce", {}).setdefault("groups", {}).update(pushes_per_day=push_rate, value_share=value_share)
        super().__init__(data, seed=seed, agents=False)


model_params = {
    "users": {"type": "SliderInt", "value": 3000, "label": "users", "min": 500, "max": 20000, "step": 500},
    "centralization": {"type": "SliderFloat", "value": 1.0, "label": "centralization (0 Kuaishou-like, 1 Douyin-like)",
                       "min": 0.0, "max": 1.0, "step": 0.1},
    "beta": {"type": "SliderFloat", "value": 1.0, "label": "intimacy boost (beta)", "min": 0.0, "max": 5.0, "step": 0.5},
    "follow_share": {"type": "SliderFloat", "value": 0.05, "label": "follow share", "min": 0.0, "max": 0.8, "step": 0.05},
    "exposure_cap": {"type": "SliderFloat", "value": 0.0, "label": "exposure cap (share of DAU, 0 = none)",
                     "min": 0.0, "max": 0.5, "step": 0.01},
    "push_rate": {"type": "SliderFloat", "value": 1.0, "label": "group pushes per day", "min": 0.0, "max": 10.0, "step": 0.5},
    "value_share": {"type": "SliderFloat", "value": 0.5, "label": "value-content share of pushes",
                    "min": 0.0, "max": 1.0, "step": 0.1},
}

components = [
    make_plot_component({"public_share_impressions": "#4C72B0", "commercial_share_impressions": "#DD8452", "private_share_impressions": "#55A868"}),
    make_plot_component({"exposure_gini": "#8172B3", "top1_share": "#C44E52"}),
    make_plot_component({"fans_passerby": "#937860", "fans_liking": "#DA8BC3", "fans_true": "#C44E52"}),
    make_plot_component({"gmv_public": "#4C72B0", "gmv_commercial": "#DD8452", "gmv_private_platform": "#55A868",
                         "gmv_private_wechat": "#2CA02C"}),
    make_plot_component({"group_members": "#8C8C8C"}),
]


@solara.component
def Page():
    """The app, with a model of its own for every browser session (or notebook cell):
    a module-level model would be stepped by every visitor of the server at once."""
    model = solara.use_memo(AppModel, dependencies=[])
    SolaraViz(model, components=components, model_params=model_params, name="trafficsim")


page = Page()
