"""``simulator.sweep``: the public name of :mod:`simulator.experiments.sweep` (``run_sweep``,
``load_sweep``), kept so that ``from simulator.sweep import run_sweep`` keeps working."""

from .experiments.sweep import run_sweep
from .experiments.sweep_spec import SweepSpec, load_sweep

__all__ = ["SweepSpec", "load_sweep", "run_sweep"]
