"""trafficsim: an agent-based simulator of short-video traffic ecosystems.

Public API::

    from simulator import TrafficModel, load_scenario
    model = TrafficModel("scenarios/douyin.toml", overrides={"population": {"users": 5000}})
    model.run(30)
    model.metrics_frame()     # per-step metrics (pandas)
    model.summary()           # run summary
    model.agents_by_type[Creator]
"""

__version__ = "0.1.0"

from .agents import Creator, Merchant, Platform, User  # noqa: E402
from .config import Scenario, ScenarioError, load_scenario  # noqa: E402
from .model import TrafficModel  # noqa: E402

__all__ = ["TrafficModel", "Scenario", "ScenarioError", "load_scenario", "User", "Creator", "Merchant", "Platform", "__version__"]
