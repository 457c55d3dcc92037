"""trafficsim: an agent-based simulator of short-video traffic ecosystems.

Public API::

    from simulator import TrafficModel, load_scenario
    model = TrafficModel("scenarios/douyin.toml", overrides={"population": {"users": 5000}})
    model.run(30)
    model.metrics_frame()     # per-step metrics (pandas)
    model.summary()           # run summary
    model.agents_by_type[Creator]

The names are imported on first use (module ``__getattr__``), so that ``trafficsim --help``
and input errors answer without loading mesa, numba, pandas or matplotlib.
"""

from importlib import import_module

__version__ = "0.1.0"

_LAZY = {
    "TrafficModel": ".model",
    "Creator": ".agents", "Merchant": ".agents", "Platform": ".agents", "User": ".agents",
    "Scenario": ".config", "ScenarioError": ".config", "load_scenario": ".config",
}

__all__ = ["TrafficModel", "Scenario", "ScenarioError", "load_scenario", "User", "Creator", "Merchant", "Platform", "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
