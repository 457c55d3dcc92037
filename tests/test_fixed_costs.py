"""Issue 17's fixed per-run costs: what keeps a small run, ``--help`` and input errors
quick. No timings here (they are in benchmarks/README.md, *Fixed per-run costs*): each
test checks the mechanism that saves the time."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, env: dict | None = None) -> str:
    """Run ``code`` in a fresh interpreter on this checkout; its stdout."""
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    full_env.update({"PYTHONPATH": str(ROOT)}, **(env or {}))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_an_editable_install_byte_compiles_the_package(tmp_path):
    """Guards setup.py's byte-compiling in an in-place build (``pip install -e .``):
    where bytecode is never written (PYTHONDONTWRITEBYTECODE) every ``trafficsim``
    process would compile each module it imports from source again. setup.py is built
    in place in a copy of a small package (the kernels' own build stubbed: minutes of
    numba), bytecode writing off; fails if a module is left without bytecode that a
    process then reads."""
    pytest.importorskip("setuptools")
    package = tmp_path / "simulator"
    (package / "feeds").mkdir(parents=True)
    shutil.copy(ROOT / "setup.py", tmp_path)
    (package / "__init__.py").write_text("")
    (package / "feeds" / "__init__.py").write_text("")
    (package / "feeds" / "ahead_build.py").write_text(
        "from pathlib import Path\n\ndef build(target):\n    Path(target).parent.mkdir(parents=True, exist_ok=True)\n"
        "    Path(target).write_bytes(b'')\n")
    (package / "module.py").write_text("X = 1\n")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPYCACHEPREFIX", None)
    done = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cached = {source: importlib.util.cache_from_source(str(source)) for source in package.rglob("*.py")}
    assert all(Path(pyc).exists() for pyc in cached.values()), cached
    read = subprocess.run([sys.executable, "-v", "-c", "import simulator.module"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert f"code object from '{cached[package / 'module.py']}'" in read.stderr


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
            "from simulator.feeds.kernels import draw_actions, gumbel_top_k\n"
            "from simulator.feeds.numpy_kernels import gumbel_table\n"
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
            "from simulator.feeds.kernels import gumbel_top_k\n"
            "from simulator.feeds.numpy_kernels import gumbel_table\n"
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
    """Guards simulator/_deferred.py: with the command line's stand-ins, importing the
    model does not import networkx or mesa's experimental spaces (scipy.spatial), a third
    of the import time of ``trafficsim run`` before, nor asyncio (tqdm's, for mesa's batch
    runner); they still work, in full, for whoever reads them afterwards."""
    code = ("import sys\n"
            "from simulator._deferred import defer_unused_imports\n"
            "defer_unused_imports()\n"
            "import simulator.model\n"
            "print(sorted(m for m in ('scipy.spatial', 'mesa.experimental.continuous_space') if m in sys.modules),\n"
            "      type(sys.modules['networkx']).__name__, type(sys.modules['asyncio']).__name__)\n"
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
    assert lines[0] == "[] _Deferred _Deferred"
    assert lines[1] == "True 3 module ContinuousSpace True True"
    assert lines[2] == "300"


def test_the_library_installs_no_stand_ins_and_submodules_import():
    """Guards simulator/_deferred.py's scope: importing ``simulator`` as a library (a
    notebook, the app) leaves ``sys.modules`` alone, so that a later import of a submodule
    of pandas or networkx works (a stand-in cannot serve one: pandas failed half-imported).
    Only the command line's process has them (the test above and
    test_the_run_loads_pandas_only_once_its_plots_are_sent)."""
    code = ("import sys\n"
            "import simulator.model\n"
            "print(sorted(type(sys.modules.get(m)).__name__ for m in ('pandas', 'networkx', 'asyncio')))\n"
            "import pandas.api.types\n"
            "from pandas.testing import assert_frame_equal\n"
            "from networkx.algorithms import community\n"
            "import pandas as pd\n"
            "assert_frame_equal(pd.DataFrame({'a': [1]}), pd.DataFrame({'a': [1]}))\n"
            "print(pandas.api.types.is_numeric_dtype(pd.Series([1.0])), callable(community.louvain_communities))\n")
    lines = _python(code).strip().splitlines()
    assert lines == ["['module', 'module', 'module']", "True True"]


def test_a_sweep_worker_imports_the_model_lean_and_leaves_no_stand_in():
    """Guards simulator/_deferred.py's ``import_model``: a sweep's run in a fresh worker
    (here the serial sweep, in a fresh interpreter: a library import, no command line)
    imports the model without networkx, scipy.spatial (mesa.experimental) and asyncio, ~0.4 s
    of CPU of each worker's first run; and leaves no stand-in behind, so that the worker's
    later imports, submodules included, are the real modules."""
    code = ("import sys, tempfile\n"
            "from pathlib import Path\n"
            "from simulator.sweep import SweepSpec, run_sweep\n"
            "spec = SweepSpec(base='scenarios/douyin.toml', name='t', replicates=1, seed=1, set={'steps': 2,\n"
            "    'population.users': 200, 'population.creators': 20, 'population.merchants': 1},\n"
            "    parameters={'platforms.douyin.beta': [1.0]})\n"
            "df = run_sweep(spec, out=Path(tempfile.mkdtemp()) / 's')\n"
            "print(list(df.status), sorted(m for m in ('networkx', 'scipy.spatial', 'mesa.experimental', 'asyncio')\n"
            "                               if m in sys.modules))\n"
            "print([m for m, v in sys.modules.items() if type(v).__name__ == '_Deferred'])\n"
            "from networkx.algorithms import community\n"
            "import mesa.experimental.devs, asyncio.events, mesa\n"
            "print(callable(community.louvain_communities), type(mesa.experimental.devs).__name__)\n")
    lines = _python(code).strip().splitlines()
    assert lines == ["['ok'] []", "[]", "True module"]


def test_the_records_environment_imports_neither_mesa_nor_networkx_nor_asyncio():
    """Guards io.outputs.environment (a run's manifest and a sweep's sweep.json): it reads
    the library versions from their installed metadata, so a fresh process that calls it
    has not imported mesa (which imports networkx, asyncio and scipy.spatial: a sweep's own
    process must stay lean, test_a_sweep_worker_imports_the_model_lean_and_leaves_no_stand_in),
    and the versions are the ones the libraries give once imported."""
    code = ("import sys\n"
            "from simulator.io.outputs import environment\n"
            "env = environment()\n"
            "print(sorted(m for m in ('mesa', 'networkx', 'asyncio', 'scipy.spatial') if m in sys.modules))\n"
            "import mesa, numpy, platform\n"
            "print(list(env), env['mesa'] == mesa.__version__, env['numpy'] == numpy.__version__,\n"
            "      env['python'] == sys.version.split()[0], env['machine'] == platform.platform())\n")
    lines = _python(code).strip().splitlines()
    assert lines == ["[]", "['python', 'numpy', 'mesa', 'kernels_ahead', 'machine', 'code'] True True True True"]


def test_the_records_environment_reads_the_platform_once_a_process(monkeypatch):
    """Guards io.outputs._machine: ``platform.platform()`` costs ~40 ms, so a process that
    writes several records asks it once."""
    import platform

    from simulator.io import outputs

    calls = []
    monkeypatch.setattr(outputs, "_MACHINE", None)
    monkeypatch.setattr(platform, "platform", lambda *a: calls.append(1) or "a machine")
    assert outputs.environment()["machine"] == outputs.environment()["machine"] == "a machine"
    assert len(calls) == 1


TINY = ["--steps", "2", "--set", "population.users=200", "--set", "population.creators=20",
        "--set", "population.merchants=1", "--quiet"]
PLOTS = ("domain_shares", "lorenz_curves", "fan_tiers", "gmv_by_domain", "cac_over_time", "group_size",
         "merchant_roi", "year_dynamics", "ecosystem")


def _pid_plots(monkeypatch, pause: dict | None = None):
    """Each plot writes the id of the process that drew it instead of a PNG, after
    ``pause[name]`` seconds (default none) as if drawing."""
    import time

    import simulator.io.plots as plots

    def stub(name):
        def pid(*args, **kwargs):
            time.sleep((pause or {}).get(name, 0.0))
            Path(args[-1]).write_text(str(os.getpid()))
        return pid

    for name in PLOTS:
        monkeypatch.setattr(plots, name, stub(name))


def test_run_draws_its_plots_in_two_forked_processes(tmp_path, monkeypatch):
    """Guards io/plot_workers.py: ``trafficsim run`` draws the record's plots in a process
    forked before the model is imported (matplotlib loads there while the run simulates),
    which forks a helper so that two processes draw; every plot file is written, none
    by the run's own process."""
    from simulator.cli import main

    _pid_plots(monkeypatch, dict.fromkeys(PLOTS, 0.1))  # (each takes a while: both processes draw)
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 0
    pids = {int(p.read_text()) for p in (out / "plots").glob("*.png")}
    assert len(list((out / "plots").glob("*.png"))) == len(PLOTS)
    assert os.getpid() not in pids and len(pids) == 2
    assert "plots/ecosystem.png" in (out / "report.html").read_text() or (out / "report.html").stat().st_size > 0


def test_the_plot_processes_each_take_the_next_plot_not_yet_taken(tmp_path, monkeypatch):
    """Guards io/plot_workers.py's shared queue: the two drawing processes take the
    plots one at a time, in ``ORDER``, each the next one not yet taken, so a slow plot
    in one process does not hold the others back: while one process draws the slowest,
    the other draws all the rest (with fixed shares it would draw only its own)."""
    from simulator.cli import main
    from simulator.io import plot_workers

    slow = plot_workers.ORDER[0]
    _pid_plots(monkeypatch, {slow: 2.0} | dict.fromkeys(set(PLOTS) - {slow}, 0.02))
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 0
    pid = {p.name: int(p.read_text()) for p in (out / "plots").glob("*.png")}
    assert len(pid) == len(PLOTS) and len(set(pid.values())) == 2
    slow_file = {"year_dynamics": "dynamics.png", "cac_over_time": "cac.png", "lorenz_curves": "lorenz.png"}.get(
        slow, f"{slow}.png")
    assert [name for name, p in pid.items() if p == pid[slow_file]] == [slow_file]


def test_plots_are_drawn_here_without_a_plot_process(tmp_path, monkeypatch):
    """Without fork (or if the plot process died before the run was written) the plots
    are drawn in the run's own process: the record is the same."""
    from simulator.cli import main
    from simulator.io import plot_workers

    _pid_plots(monkeypatch)
    dead = plot_workers.PlotProcess.start()
    monkeypatch.setattr(plot_workers.PlotProcess, "start", classmethod(lambda cls, **kw: None))
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 0
    assert {int(p.read_text()) for p in (out / "plots").glob("*.png")} == {os.getpid()}

    dead._proc.kill()
    dead._proc.join()
    monkeypatch.setattr(plot_workers.PlotProcess, "start", classmethod(lambda cls, **kw: dead))
    out = tmp_path / "run2"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 0
    assert {int(p.read_text()) for p in (out / "plots").glob("*.png")} == {os.getpid()}
    assert len(list((out / "plots").glob("*.png"))) == len(PLOTS)


def test_an_error_while_drawing_in_the_plot_process_fails_the_run_and_writes_nothing(tmp_path, monkeypatch, capsys):
    """A plot that raises in the plot process is raised in the run (an internal error,
    exit 3, no record), as when it was drawn in the run's own process."""
    import simulator.io.plots as plots
    from simulator.cli import main

    def boom(*args, **kwargs):
        raise ValueError("cannot draw")

    monkeypatch.setattr(plots, "fan_tiers", boom)
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 3
    assert "ValueError: cannot draw" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def _metrics_frame(days: int = 8):
    """A small metrics table with every column the run record's plots read."""
    import numpy as np
    import pandas as pd

    cols = ["impressions_total", "impressions_public", "impressions_commercial", "impressions_private",
            "gmv_public", "gmv_commercial", "gmv_private_platform", "gmv_private_wechat", "ad_revenue",
            "new_buyers", "new_buyers_ad", "cpm_effective", "group_members", "wechat_contacts", "fans_potential",
            "fans_passerby", "fans_liking", "fans_true", "private_share_gmv", "active_users", "slots_per_active"]
    rows = [{"step": d, "platform": p, **{c: 1.0 + d + k for k, c in enumerate(cols)}}
            for d in range(days) for p in ("douyin", "kuaishou", "all")]
    return pd.DataFrame(rows), {"douyin": np.arange(20.0), "kuaishou": np.ones(20)}


def test_record_plots_are_drawn_in_one_pass(tmp_path, monkeypatch):
    """Guards io/plots.py's fixed layout (``_figure``, ``save``): each of the run record's
    plots is rendered by exactly one figure draw, with no ``tight_layout`` (a measuring
    pass as dear as a draw), no layout engine left for ``savefig`` to run (a second,
    invisible draw) and titles that do not measure their axes' tick labels to place
    themselves. Together: the plots' CPU was 0.6x of before (benchmarks/README.md). Any
other figure given to ``save`` is laid out by ``tight_layout`` and then drawn once."""
    import matplotlib.axis
    import matplotlib.figure
    import pandas as pd

    from simulator.io import plot_workers, plots

    counts = {"draw": 0, "tight_layout": 0, "axis_tightbbox": 0}

    def counting(cls, name, key):
        original = getattr(cls, name)

        def wrapper(self, *a, **k):
            counts[key] += 1
            return original(self, *a, **k)

        monkeypatch.setattr(cls, name, wrapper)

    counting(matplotlib.figure.Figure, "draw", "draw")
    counting(matplotlib.figure.Figure, "tight_layout", "tight_layout")
    counting(matplotlib.axis.Axis, "get_tightbbox", "axis_tightbbox")
    metrics, exposure = _metrics_frame()
    merchants = pd.DataFrame({"strategy": ["broad", "fans", "broad"], "roi": [0.5, 1.0, -0.2]})
    args = {"lorenz_curves": (exposure,), "merchant_roi": (merchants,)}
    for name in plot_workers.ORDER:
        getattr(plots, name)(*args.get(name, (metrics,)), tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    assert counts == {"draw": len(plot_workers.ORDER), "tight_layout": 0, "axis_tightbbox": 0}
    # a figure of another caller (compare, calibrate) is laid out by tight_layout, then drawn once
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 2])
    plots.save(fig, tmp_path / "other.png")
    assert (counts["draw"] - len(plot_workers.ORDER), counts["tight_layout"]) == (1, 1)


def test_plot_processes_make_their_figures_ahead(tmp_path, monkeypatch):
    """Guards io/plot_workers.py's ``plots.prepare`` calls: while the run simulates, the
    plot process makes every figure (axes, tick marks) ahead, then forks the helper, so
    each plot, when drawn, finds its figure ready in whichever process draws it. (The
    run's record is sent late here, as after a run long enough for them all to be made.)"""
    import time

    import simulator.io.plots as plots
    from simulator.cli import main
    from simulator.io import plot_workers

    def stub(name):
        def draw(*args, **kwargs):
            ready = any(key[0] == name for key in plots._PREPARED)
            time.sleep(0.2)  # (as if drawing: both processes take some)
            Path(args[-1]).write_text(f"{os.getpid()} {ready}")
        return draw

    for name in PLOTS:
        monkeypatch.setattr(plots, name, stub(name))
    # the record is sent once the plot process has made every figure (it notes each in
    # ``made``), however slow the machine: a fixed wait failed the test under load
    made, prepare = tmp_path / "made", plots.prepare

    def noting_prepare(names, n=1):
        prepare(names, n)
        with open(made, "a") as fh:
            fh.write("".join(f"{name}\n" for name in names))

    def submit_when_made(self, jobs):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not made.exists() or len(made.read_text().split()) < len(PLOTS)):
            time.sleep(0.05)
        return submit(self, jobs)

    monkeypatch.setattr(plots, "prepare", noting_prepare)
    submit = plot_workers.PlotProcess.submit
    monkeypatch.setattr(plot_workers.PlotProcess, "submit", submit_when_made)
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "scenarios" / "douyin.toml"), *TINY, "--out", str(out)]) == 0
    assert sorted(made.read_text().split()) == sorted(PLOTS)
    drawn = [p.read_text().split() for p in (out / "plots").glob("*.png")]
    assert len(drawn) == len(PLOTS) and len({pid for pid, _ in drawn}) == 2
    assert {ready for _, ready in drawn} == {"True"}


def test_plots_sent_before_their_figures_are_made_are_drawn_at_once(tmp_path, monkeypatch):
    """Guards io/plot_workers.py's ``conn.poll``: should the run be written before the plot
    process has made the figures ahead, it makes no more, forks the helper and the two draw
    at once (each plot making its figure as it is drawn), rather than the jobs waiting for
    the figures of every plot first. Here the jobs are sent as the plot process starts,
    before it has imported matplotlib."""
    import time

    import simulator.io.plots as plots
    from simulator.io import plot_workers

    def stub(name):
        def draw(*args, **kwargs):
            time.sleep(0.1)
            Path(args[-1]).write_text(f"{os.getpid()} {len(plots._PREPARED)}")
        return draw

    for name in PLOTS:
        monkeypatch.setattr(plots, name, stub(name))
    # the jobs arrive before the plot process's first look: its poll waits for them. (With
    # io.plots already imported here, the forked process reached its first poll before
    # the jobs were sent about one time in four, made a figure, and the test failed.)
    from multiprocessing.connection import Connection

    real_poll = Connection.poll
    monkeypatch.setattr(Connection, "poll", lambda self, timeout=0.0: real_poll(self, 30.0))
    jobs = [(name, (tmp_path / f"{name}.png",)) for name in plot_workers.ORDER]
    process = plot_workers.PlotProcess.start()
    process.submit(jobs)
    process.results(jobs)
    drawn = [(tmp_path / f"{name}.png").read_text().split() for name in plot_workers.ORDER]
    assert {prepared for _, prepared in drawn} == {"0"}  # no figure made ahead
    assert len({pid for pid, _ in drawn}) == 2 and str(os.getpid()) not in {pid for pid, _ in drawn}


def test_figures_made_ahead_draw_the_same_png(tmp_path, monkeypatch):
    """``plots.prepare`` changes when a figure's axes, second y axes and tick marks are
    made, not what is drawn: every record plot's PNG is the same byte for byte with and
    without it (two platforms, so the per-platform plots' panels count). Drawing a
    prepared figure makes no second y axis that ``plots.TWINS`` lists."""
    import matplotlib.axes
    import matplotlib.pyplot as plt
    import pandas as pd

    from simulator.io import plot_workers, plots

    plt.close("all")  # figures other tests left open (their ``save`` stand-ins keep them)
    metrics, exposure = _metrics_frame()
    merchants = pd.DataFrame({"strategy": ["broad", "fans", "broad"], "roi": [0.5, 1.0, -0.2]})
    args = {"lorenz_curves": (exposure,), "merchant_roi": (merchants,)}
    twins = []
    twinx = matplotlib.axes.Axes.twinx
    monkeypatch.setattr(matplotlib.axes.Axes, "twinx", lambda self: twins.append(self) or twinx(self))
    for mode in ("fresh", "prepared"):
        (tmp_path / mode).mkdir()
        if mode == "prepared":
            plots.prepare(plot_workers.ORDER, 2)
            twins.clear()
        for name in plot_workers.ORDER:
            getattr(plots, name)(*args.get(name, (metrics,)), tmp_path / mode / f"{name}.png")
        assert not plots._PREPARED  # each prepared figure was used
    assert len(twins) == 0  # (this table has no column of the conditional twins)
    for name in plot_workers.ORDER:
        assert (tmp_path / "fresh" / f"{name}.png").read_bytes() == (tmp_path / "prepared" / f"{name}.png").read_bytes(), name


def test_the_run_loads_pandas_only_once_its_plots_are_sent(tmp_path):
    """Guards simulator/_deferred.py's deferred pandas and io/outputs.py's order: ``trafficsim
    run`` imports the model without pandas (a third of the model's import time) and sends
    the plot processes their inputs as plain rows; since its tables are written without
    pandas, it never reads it at all (test_a_run_never_imports_pandas_in_its_own_process)."""
    code = ("import sys\n"
            "from simulator.io import plot_workers\n"
            "original = plot_workers.PlotProcess.submit\n"
            "def submit(self, jobs):\n"
            "    print('pandas when the plots are sent:', type(sys.modules.get('pandas')).__name__)\n"
            "    return original(self, jobs)\n"
            "plot_workers.PlotProcess.submit = submit\n"
            "from simulator.cli import main\n"
            f"main(['run', 'scenarios/douyin.toml', *{TINY!r}, '--out', {str(tmp_path / 'run')!r}])\n"
            "print('pandas' in sys.modules)\n")
    lines = _python(code).strip().splitlines()
    assert lines[0] == "pandas when the plots are sent: _Deferred"
    assert lines[-1] == "False"  # nor after: the tables were written without it (simulator/io/table.py)
    assert (tmp_path / "run" / "metrics.csv").read_text().startswith("step,")


def test_a_run_goes_without_pandas_and_pyarrow_and_writes_the_same_record(tmp_path):
    """Guards io/plots.py's numpy columns and simulator/_deferred.py's ``skip_for_run``:
    ``trafficsim run``'s plot processes draw without importing pandas (~0.4 s of CPU that
    the run waited for at its end) or pyarrow, as its own process writes its tables
    without them; the record's tables, summary and plots are the same bytes whether pyarrow
    may load or not; once the command returns, pyarrow imports again in the caller's
    interpreter (sweeps write parquet)."""
    code = ("import sys\n"
            "from simulator import _deferred\n"
            "from simulator.io import plot_workers\n"
            "original = plot_workers.draw\n"
            "def draw(jobs):\n"
            "    import os\n"
            "    out = original(jobs)\n"
            "    has = [m in sys.modules and sys.modules[m] is not None for m in ('pandas', 'pyarrow')]\n"
            "    os.write(1, f'plots: pandas, pyarrow {has}\\n'.encode())  # one write: the two plot processes print at once\n"
            "    return out\n"
            "plot_workers.draw = draw\n"
            "from simulator.io import outputs\n"
            "write_run = outputs.write_run\n"
            "def written(*args, **kwargs):\n"
            "    out = write_run(*args, **kwargs)\n"
            "    print('run: pandas', type(sys.modules['pandas']).__name__, 'pyarrow', 'pyarrow' in sys.modules\n"
            "          and sys.modules['pyarrow'] is not None)\n"
            "    return out\n"
            "outputs.write_run = written\n"
            "if sys.argv[1] == 'with':\n"
            "    _deferred.NOT_FOR_RUN = ()\n"
            "from simulator.cli import main\n"
            f"assert main(['run', 'scenarios/douyin.toml', *{TINY!r}, '--out', sys.argv[2]]) == 0\n"
            "import pyarrow\n"
            "print('after:', pyarrow.__name__)\n")
    outs = {}
    for mode in ("with", "without"):
        out = tmp_path / mode
        full_env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        full_env["PYTHONPATH"] = str(ROOT)
        done = subprocess.run([sys.executable, "-c", code, mode, str(out)], capture_output=True, text=True,
                              env=full_env, cwd=ROOT, timeout=300)
        assert done.returncode == 0, done.stderr
        outs[mode] = sorted(set(line for line in done.stdout.strip().splitlines() if not line.startswith("run record")))
    # the run's own process imports neither (its tables: simulator/io/table.py)
    for mode in ("with", "without"):
        assert outs[mode] == ["after: pyarrow", "plots: pandas, pyarrow [False, False]",
                              "run: pandas _Deferred pyarrow False"], mode
    files = sorted(p.relative_to(tmp_path / "with") for p in (tmp_path / "with").rglob("*") if p.is_file())
    compared = [f for f in files if f.name not in ("manifest.json", "report.html")]  # (timings, command)
    assert len(compared) == 4 + 1 + 9 + 1  # tables, summary, plots, scenario
    for f in compared:
        assert (tmp_path / "with" / f).read_bytes() == (tmp_path / "without" / f).read_bytes(), f


def test_a_run_never_imports_pandas_in_its_own_process(tmp_path):
    """Guards simulator/io/table.py and write_run: ``trafficsim run`` writes its tables and
    summary without pandas (its plot processes draw without it too), so its own process never
    imports it, in a one-platform and a three-platform run (ecosystem.toml: turnover,
    learning, multi-homing; the second in the same interpreter, where nothing is deferred);
    pandas' stand-in, never read, is gone once the command returns."""
    code = ("import sys\n"
            "from simulator.io import outputs\n"
            "write_run = outputs.write_run\n"
            "def written(*args, **kwargs):\n"
            "    out = write_run(*args, **kwargs)\n"
            "    print('run: pandas', type(sys.modules.get('pandas')).__name__ == 'module',\n"
            "          sorted(m for m in sys.modules if m.startswith('pandas.')))\n"
            "    return out\n"
            "outputs.write_run = written\n"
            "from simulator.cli import main\n"
            "for k, scenario in enumerate(sys.argv[2:]):\n"
            f"    assert main(['run', scenario, *{TINY!r}, '--out', sys.argv[1] + str(k)]) == 0\n"
            "    print('after: pandas', 'pandas' in sys.modules)\n")
    full_env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    full_env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run"), "scenarios/douyin.toml",
                           "scenarios/ecosystem.toml"], capture_output=True, text=True, env=full_env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.strip().splitlines() if not line.startswith("run record")]
    assert lines == ["run: pandas False []", "after: pandas False"] * 2
    for k in range(2):
        assert (tmp_path / f"run{k}" / "metrics.csv").stat().st_size > 0


def test_numba_links_the_kernels_without_importing_scipy_linalg():
    """Guards simulator/_deferred.py's stand-ins for scipy.linalg's BLAS and LAPACK modules
    (installed by the command line): numba imports them (with all of scipy.linalg) to link
    a run's first cached kernel, although no kernel calls them; a compiled function that
    does call BLAS still works (the real module is imported where numba reads it)."""
    code = ("import sys\n"
            "from simulator._deferred import defer_unused_imports\n"
            "defer_unused_imports()\n"
            "from simulator import TrafficModel\n"
            "from simulator.feeds import numpy_kernels\n"
            "numpy_kernels.COMPILED_FROM = numpy_kernels.COMPILED_USERS = 0  # the compiled kernels, as a large run\n"
            "m = TrafficModel('scenarios/douyin.toml', seed=1, **{'population.users': 300})\n"
            "m.step()\n"
            "print('scipy.linalg' in sys.modules, type(sys.modules['scipy.linalg.cython_blas']).__name__)\n"
            "import numba, numpy as np\n"
            "dot = numba.njit(lambda a, b: np.dot(a, b))\n"
            "print(dot(np.ones((2, 3)), np.ones((3, 2))).tolist())\n"
            "import scipy.linalg\n"
            "print(scipy.linalg.cython_blas.__name__, hasattr(scipy.linalg.cython_blas, '__pyx_capi__'))\n")
    lines = _python(code).strip().splitlines()
    assert lines[0] == "False _Deferred"
    assert lines[1] == "[[3.0, 3.0], [3.0, 3.0]]"
    assert lines[2] == "scipy.linalg.cython_blas True"


@pytest.mark.parametrize("scenario", ["douyin", "kuaishou", "ecosystem"])
def test_a_small_run_never_imports_numba(scenario):
    """Guards the numpy forms of the kernels below the size switch
    (simulator/feeds/numpy_kernels.py) and the callers' imports of simulator.feeds.kernels
    inside their compiled branches only: a run at the default population neither
    imports numba (~0.4 s) nor links a cached kernel in its first step (~0.4 s of CPU,
    numba's typing registries). A module that imports the kernels at its top, or a
    phase that calls a kernel whatever the size, fails here."""
    code = ("import sys\n"
            "from simulator import TrafficModel\n"
            f"m = TrafficModel('scenarios/{scenario}.toml', seed=1, steps=30,\n"
            "                  **{'population.users': 2000, 'population.creators': 60})\n"
            "m.run(3)\n"
            "print(sorted(k for k in sys.modules if k.split('.')[0] in ('numba', 'llvmlite') or k.endswith('.kernels')))\n")
    assert _python(code).strip() == "[]"


def test_a_long_run_loads_the_compiled_kernels():
    """Guards numpy_kernels.COMPILED_RUN (TrafficModel's call of prefer_compiled_for): a
    run of 2 million feed user-days or more (a year at the default population), or the
    run that brings a process's runs to that (a sweep worker's), runs the compiled
    kernels at every size, the loading repaid by faster steps; one just under does not. (The results are the same either way: tests/feeds/test_hot_path.py.)"""
    code = ("import sys\n"
            "from simulator import TrafficModel\n"
            "from simulator.feeds import numpy_kernels\n"
            "m = TrafficModel('scenarios/douyin.toml', seed=1, steps={steps}, **{{'population.users': 2000}})\n"
            "m.step()\n"
            "print(numpy_kernels.PREFER_COMPILED, 'numba' in sys.modules)\n")
    assert _python(code.format(steps=999)).strip() == "False False"  # 1,998,000 user-days
    assert _python(code.format(steps=1000)).strip() == "True True"  # 2,000,000
    # a sweep worker's short runs add up: the second of two 1.2 M-user-day runs switches
    two = ("import sys\n"
           "from simulator import TrafficModel\n"
           "from simulator.feeds import numpy_kernels\n"
           "for _ in range(2):\n"
           "    TrafficModel('scenarios/douyin.toml', seed=1, steps=600, **{'population.users': 2000}).step()\n"
           "    print(numpy_kernels.PREFER_COMPILED, 'numba' in sys.modules)\n")
    assert _python(two).strip().splitlines() == ["False False", "True True"]


def test_a_long_run_loaded_in_another_process_runs_the_compiled_kernels(tmp_path):
    """A model pickled after a long run's first days and loaded in a fresh process (a
    notebook's saved model, benchmarks/late_step.py's) registers its run there as
    TrafficModel's constructor does (its ``__setstate__``): its later steps run the
    compiled kernels, as they would have in the process that built it."""
    path = tmp_path / "m.pkl"
    _python("import cloudpickle\n"
            "from simulator import TrafficModel\n"
            "m = TrafficModel('scenarios/douyin.toml', seed=1, steps=1000, **{'population.users': 2000})\n"
            "m.step()\n"
            f"open({str(path)!r}, 'wb').write(cloudpickle.dumps(m))\n")
    code = ("import cloudpickle\n"
            "from simulator.feeds import numpy_kernels\n"
            "print(numpy_kernels.PREFER_COMPILED)\n"
            f"m = cloudpickle.loads(open({str(path)!r}, 'rb').read())\n"
            "print(numpy_kernels.PREFER_COMPILED)\n")
    assert _python(code).split() == ["False", "True"]


def test_a_workers_share_of_a_batch_loads_the_compiled_kernels_from_its_first_run():
    """Guards numpy_kernels.expect_user_days (the call in the workers' functions of
    sweeps, calibrations and comparisons: run_one, run_task, run_replicate): a worker
    told that its share of the batch reaches COMPILED_RUN feed user-days runs the
    compiled kernels from its first run, short as that run is; a share just under leaves
    it on the numpy forms (then its own runs decide, as above)."""
    code = ("import sys\n"
            "from simulator.experiments.sweep_spec import SweepSpec, scenario_dict\n"
            "from simulator.config.loading import scenario_from_dict\n"
            "from simulator.feeds import numpy_kernels\n"
            "spec = SweepSpec(base='scenarios/douyin.toml', name='s', replicates=1, seed=1, steps=2,\n"
            "                 set={{'population.users': 2000}}, parameters={{'platforms.douyin.beta': [1.0]}})\n"
            "data, _ = scenario_dict(spec, {{}}, 7)\n"
            "task = {{'run_id': 'r', 'point': 0, 'replicate': 0, 'seed': 7, 'params': {{}}, 'evaluation': 0,\n"
            "        'label': 'x', 'lengths': [], 'single_thread': True, 'user_days': {share}}}\n"
            "if '{where}' == 'sweep':\n"
            "    from simulator.experiments.sweep import run_one\n"
            "    assert run_one({{**task, 'scenario': data}})['status'] == 'ok'\n"
            "elif '{where}' == 'calibrate':\n"
            "    from simulator.experiments.calibrate import run_task\n"
            "    assert run_task({{**task, 'scenario': data}})['status'] == 'ok'\n"
            "else:\n"
            "    from simulator.experiments.compare import run_replicate\n"
            "    run_replicate({{**task, 'scenario': scenario_from_dict(data, 'x').model_dump(mode='json')}})\n"
            "print(numpy_kernels.PREFER_COMPILED, 'numba' in sys.modules)\n")
    for where in ("sweep", "calibrate", "compare"):
        assert _python(code.format(share=1_999_999, where=where)).strip() == "False False", where
        assert _python(code.format(share=2_000_000, where=where)).strip() == "True True", where


def test_a_batchs_feed_user_days_are_shared_among_its_processes():
    """experiments.user_days_share: all of a batch's feed user-days in this process
    (serial, a thread pool), an even share (rounded up) of a process pool's workers, none
    where the processes are not known (a Dask executor); share_user_days gives every
    task of a sweep its share, counting steps x users x feed platforms of each run's
    scenario and nothing for a scenario that does not validate."""
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    from simulator.experiments import feed_user_days, user_days_share
    from simulator.experiments.sweep import share_user_days
    from simulator.experiments.sweep_spec import SweepSpec, scenario_dict

    assert user_days_share([3, 4], None) == 7
    with ThreadPoolExecutor(2) as threads:
        assert user_days_share([3, 4], threads) == 7
    pool = ProcessPoolExecutor(3)  # (no process starts before a task is submitted)
    assert user_days_share([3, 4], pool) == 3
    assert user_days_share([], pool) == 0
    pool.shutdown()
    assert user_days_share([3, 4], object()) == 0
    spec = SweepSpec(base=str(ROOT / "scenarios" / "ecosystem.toml"), name="s", replicates=1, seed=1, steps=5,
                     set={"population.users": 1000}, parameters={"platforms.douyin.beta": [1.0]})
    data, _ = scenario_dict(spec, {}, 7)
    from simulator.config.loading import scenario_from_dict

    sc = scenario_from_dict(data, "x")
    feeds = sum(p.kind == "feed" for p in sc.platforms.values())
    assert 0 < feeds < len(sc.platforms)  # (ecosystem.toml has a shelf platform: not counted)
    assert feed_user_days(sc) == 5 * 1000 * feeds
    tasks = [{"scenario": data}, {"scenario": {**data, "steps": -1}}, {"scenario": data}]
    share_user_days(tasks, None)
    assert [t["user_days"] for t in tasks] == [2 * 5 * 1000 * feeds] * 3


def test_a_workers_single_kernel_thread_does_not_import_numba():
    """Guards numpy_kernels.one_kernel_thread (the workers of sweeps, comparisons and
    calibrations): a worker whose runs stay on the numpy forms is held to one kernel
    thread without importing numba (~0.4 s a worker); numba, once imported, runs one
    thread; and where numba is already loaded, its threads are set to one directly."""
    fresh = ("import sys\n"
             "from simulator.experiments.sweep import run_one\n"
             "from simulator.feeds.numpy_kernels import one_kernel_thread\n"
             "one_kernel_thread()\n"
             "print('numba' in sys.modules)\n"
             "import numba\n"
             "print(numba.get_num_threads())\n")
    assert _python(fresh).strip().splitlines() == ["False", "1"]
    loaded = ("import os, numba\n"
              "from simulator.feeds.numpy_kernels import one_kernel_thread\n"
              "one_kernel_thread()\n"
              "print(numba.get_num_threads(), os.environ.get('NUMBA_NUM_THREADS'))\n")
    assert _python(loaded, env={"NUMBA_NUM_THREADS": "2"}).strip() == "1 2"


def test_mesa_is_imported_without_reading_source_lines():
    """Guards simulator/_mesa.py's ``_import_mesa``: mesa's logging names modules and classes
    on import through ``inspect.stack()``, which read the source of every frame of the
    import's stack (~0.3 s); while mesa is imported they read none, with the same names
    (its loggers), and ``inspect`` is itself again afterwards."""
    code = ("import inspect, logging\n"
            "calls = []\n"
            "original = inspect.findsource\n"
            "def findsource(obj):\n"
            "    calls.append(obj)\n"
            "    return original(obj)\n"
            "inspect.findsource = findsource\n"
            "stack = inspect.stack\n"
            "import simulator.model\n"
            "print(len(calls), inspect.stack is stack)\n"
            "print(sorted(n for n in logging.root.manager.loggerDict if n.startswith('MESA')))\n")
    lines = _python(code).strip().splitlines()
    assert lines[0] == "0 True"
    assert lines[1] == "['MESA', 'MESA.mesa', 'MESA.mesa.mesa_logging', 'MESA.mesa.model']"


def test_record_pngs_have_the_pixels_of_the_default_encoder(tmp_path):
    """``plots.PNG`` (zlib's fastest level) changes the PNG files' bytes, not their pixels:
    a record plot saved by ``plots.save`` decodes to the same RGBA array as the same figure
    saved with matplotlib's default PNG settings, with the same metadata."""
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    from simulator.io import plots

    metrics, _ = _metrics_frame()
    paths = {}
    for mode in ("record", "default"):
        if mode == "default":
            original = plots.PNG
            plots.PNG = None
        try:
            plt.close("all")
            paths[mode] = tmp_path / f"{mode}.png"
            plots.ecosystem(metrics, paths[mode])
        finally:
            if mode == "default":
                plots.PNG = original
    a, b = Image.open(paths["record"]), Image.open(paths["default"])
    assert (a.mode, a.size, a.info) == (b.mode, b.size, b.info)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert paths["record"].read_bytes() != paths["default"].read_bytes()  # the setting is used


def test_a_plot_saved_as_pdf_or_svg_gets_no_png_settings(tmp_path):
    """Guards ``plots.save`` for a caller who names another format (a notebook's
    ``plots.ecosystem(metrics, Path("eco.pdf"))``): the PNG encoder's settings
    (``plots.PNG``) go to PNG files only; matplotlib's PDF and SVG writers refuse them."""
    import matplotlib.pyplot as plt

    from simulator.io import plots

    metrics, _ = _metrics_frame()
    for name in ("eco.pdf", "eco.svg", "eco.png"):
        plt.close("all")
        plots.ecosystem(metrics, tmp_path / name)
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "eco.pdf").read_bytes().startswith(b"%PDF")


def test_the_plots_get_the_metric_rows_as_columns(tmp_path, monkeypatch):
    """Guards io/outputs.py's ``write_run`` and ``plot_workers.plot_jobs(model, folder,
    metrics)``: the plots receive the metric rows transposed once (``table.rows_columns``,
    the columns the record's table and summary are written from), which make the same
    DataFrame, dtypes included, as the rows would (ecosystem.toml's year of rows took ~0.1 s
    to pickle and ~0.06-0.09 s to make a DataFrame of as dicts, in each plot process)."""
    import pandas as pd

    from simulator.config import load_scenario
    from simulator.io import outputs, plot_workers, plots
    from simulator.model import TrafficModel

    scenario = load_scenario(ROOT / "scenarios" / "ecosystem.toml",
                             ["population.users=300", "population.creators=20", "population.merchants=2"],
                             flags={"--steps": ("steps", 3)})
    model = TrafficModel(scenario, seed="scenario")
    model.run(scenario.steps)
    sent = []
    original = plot_workers.plot_jobs
    monkeypatch.setattr(plot_workers, "plot_jobs", lambda *a: sent.append(original(*a)) or sent[-1])
    for name in PLOTS:  # the plots' inputs are what is checked, not their drawing
        monkeypatch.setattr(plots, name, lambda *a: Path(a[-1]).write_bytes(b""))
    outputs.write_run(model, tmp_path / "run", command=["test"], timings={})
    tables = {id(a): a for _, args in sent[0] for a in args if isinstance(a, plot_workers.PlotTable)}
    metrics = [t.data for t in tables.values() if "impressions_total" in t.data]
    assert len(metrics) == 1 and isinstance(metrics[0], dict)
    assert len({row["platform"] for row in model._rows}) > 2  # the views' string column
    pd.testing.assert_frame_equal(pd.DataFrame(metrics[0]), pd.DataFrame(model._rows), check_exact=True)
    assert list(pd.DataFrame(metrics[0]).dtypes) == list(pd.DataFrame(model._rows).dtypes)
