"""Issue 17's fixed per-run costs: what keeps a small run, ``--help`` and input errors
quick. No timings here (they are in benchmarks/README.md, *Fixed per-run costs*): each
test checks the mechanism that saves the time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, env: dict | None = None) -> str:
    """Run ``code`` in a fresh interpreter on this checkout; its stdout."""
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    full_env.update({"PYTHONPATH": str(ROOT)}, **(env or {}))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_openmp_threads_sleep_between_parallel_regions():
    """Guards simulator/feeds/kernels.py's OMP_WAIT_POLICY=PASSIVE: GNU OpenMP's threads
    otherwise spin between the step's many short parallel regions (measured: twice the
    CPU and up to 2x the wall time of a 10,000-user step on a shared 2-core machine).
    A user's own setting is kept."""
    code = "import os, simulator.feeds.kernels; print(os.environ.get('OMP_WAIT_POLICY'))"
    assert _python(code).strip() == "PASSIVE"
    assert _python(code, {"OMP_WAIT_POLICY": "ACTIVE"}).strip() == "ACTIVE"


def test_kernels_load_from_the_on_disk_cache():
    """Guards ``cache=True`` on the parallel kernels: a fresh process (a run's first step)
    loads them from numba's cache instead of compiling them (seconds)."""
    code = ("import numpy as np\n"
            "from simulator.feeds.kernels import draw_actions, gumbel_table, gumbel_top_k\n"
            "t = gumbel_table(np.random.default_rng(0))\n"
            "gumbel_top_k(np.zeros((4, 6), np.float32), 2, 0.5, 1, t)\n"
            "n = 5\n"
            "draw_actions(np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, np.bool_), np.zeros(4), np.zeros(5), 1)\n"
            "for f in (gumbel_top_k, draw_actions):\n"
            "    print(sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))\n")
    _python(code)  # compiles and writes the cache if this checkout has none yet
    again = [line.split() for line in _python(code).splitlines()]
    assert again == [["1", "0"], ["1", "0"]]  # one cache hit each, nothing compiled


def test_kernels_work_without_a_writable_cache_folder():
    """Guards the fallback in ``_cached_njit``: where numba finds no folder it can write
    its cache to (a read-only install without a writable home), it refuses ``cache=True``
    at import; the kernels then compile in memory instead of failing to import."""
    code = ("import numba.core.caching as c\n"
            "c.CacheImpl._locator_classes = []  # no cache folder anywhere\n"
            "import numpy as np\n"
            "from simulator.feeds.kernels import gumbel_table, gumbel_top_k\n"
            "t = gumbel_table(np.random.default_rng(0))\n"
            "print(gumbel_top_k(np.arange(6, dtype=np.float32)[None, :], 2, 0.0, 1, t).tolist())\n")
    assert _python(code).strip() == "[[5, 4]]"


def test_help_does_not_load_the_scenario_schema():
    """Guards cli.py's per-command import of ``simulator.config``: ``trafficsim --help``
    answers without building the pydantic scenario schema (a third of its time before)."""
    code = ("import sys\n"
            "from simulator.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'numpy', 'simulator.config'}),\n"
            "      'simulator.config' in sys.modules)\n")
    assert _python(code).strip().splitlines()[-1] == "[] False"


def test_the_model_imports_mesa_without_networkx_and_scipy_spatial():
    """Guards simulator/_mesa.py: importing the model does not import networkx or mesa's
    experimental spaces (scipy.spatial), a third of the import time of ``trafficsim run``
    before; both still work, in full, for whoever reads them afterwards."""
    code = ("import sys\n"
            "import simulator.model\n"
            "print(sorted(m for m in ('scipy.spatial', 'mesa.experimental.continuous_space') if m in sys.modules),\n"
            "      type(sys.modules['networkx']).__name__)\n"
            "import mesa, networkx as nx\n"
            "from mesa.experimental.continuous_space import ContinuousSpace\n"
            "from mesa.experimental import devs\n"
            "g = nx.path_graph(4)\n"
            "print(isinstance(g, nx.Graph), g.number_of_edges(), type(sys.modules['networkx']).__name__,\n"
            "      ContinuousSpace.__name__, mesa.experimental.devs is devs, mesa.space.nx.DiGraph is nx.DiGraph)\n"
            "from simulator import TrafficModel\n"
            "m = TrafficModel('scenarios/douyin.toml', seed=1, **{'population.users': 300, 'graph.generator': 'holme_kim'})\n"
            "print(m.social.to_networkx().number_of_nodes())\n")
    lines = _python(code).strip().splitlines()
    assert lines[0] == "[] _Deferred"
    assert lines[1] == "True 3 module ContinuousSpace True True"
    assert lines[2] == "300"
