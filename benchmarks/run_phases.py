"""Where the fixed per-run time of ``trafficsim run`` goes, phase by phase, in one process.

    python benchmarks/run_phases.py [SCENARIO] [--steps N] [--set KEY=VALUE ...] [--out DIR]

Times what ``trafficsim run SCENARIO --quiet`` does, in its order: importing the command
line, loading and checking the scenario, importing the model (mesa, numba; not pandas,
which this process never imports: simulator/_deferred.py, simulator/io/table.py), building the world, the first step
(numba's cached kernels load here), the other steps, and writing the run record (tables,
plots, report). Prints one line per phase with its
wall and CPU seconds (CPU: this process and its threads; the forked plot processes'
CPU on a line of its own), then ``total_wall_s=X total_cpu_s=Y``.
Figures: benchmarks/README.md, section *Fixed per-run costs*. For a call-graph profile of
the same command: ``pip install pyinstrument`` (a developer's tool, not a dependency), then
``python -m pyinstrument -m simulator.cli run scenarios/douyin.toml --quiet --out DIR``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

T_START = (time.perf_counter(), time.process_time())
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", nargs="?", type=Path, default=ROOT / "scenarios" / "douyin.toml")
    p.add_argument("--steps", type=int)
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--out", type=Path, help="record folder (default: a temporary folder, removed)")
    a = p.parse_args(argv)
    rows = []
    last = [time.perf_counter(), time.process_time()]

    def phase(name: str) -> None:
        now = [time.perf_counter(), time.process_time()]
        rows.append((name, now[0] - last[0], now[1] - last[1]))
        last[:] = now

    from simulator import cli  # noqa: F401  (what `trafficsim` imports before it parses)
    from simulator.config import load_scenario
    phase("import the command line")
    flags = {"--steps": ("steps", a.steps)} if a.steps else {}
    scenario = load_scenario(a.scenario, a.sets, flags=flags)
    phase("load and check the scenario")
    try:  # as `trafficsim run` does since issue 17 (the plots drawn in forked processes)
        from simulator.io.plot_workers import PlotProcess
        try:
            plotter = PlotProcess.start(panels=len(scenario.platforms))
        except TypeError:  # before the figures were made ahead
            plotter = PlotProcess.start()
    except ImportError:  # an older checkout: plots drawn in this process
        plotter = None
    try:  # as `trafficsim run` does once its plot process is forked (simulator/_deferred.py)
        from simulator._deferred import defer_unused_imports
        defer_unused_imports()
    except ImportError:  # an older checkout: simulator/_mesa.py installed them as it was imported
        pass
    phase("start the plot process")
    from simulator.io.outputs import write_run
    from simulator.model import TrafficModel
    phase("import the model")
    model = TrafficModel(scenario, seed="scenario", agents=False)  # as trafficsim run builds it
    phase("build the world")
    model.step()
    phase("first step (kernels load)")
    model.run(scenario.steps - 1)
    phase(f"steps 2-{scenario.steps}")
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp) / "run"
        write_run(model, out, command=["run_phases"], timings={}, **({"plotter": plotter} if plotter else {}))
        phase("write the run record (tables, plots, report)")
    total_wall = time.perf_counter() - T_START[0]
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = children.ru_utime + children.ru_stime  # the plot processes, reaped by now
    total_cpu = time.process_time() - T_START[1] + child_cpu
    startup = total_wall - sum(r[1] for r in rows)
    print(f"{'phase':48} {'wall s':>7} {'cpu s':>7}")
    print(f"{'interpreter start-up (before this script)':48} {'-':>7} {'-':>7}")
    for name, w, c in rows:
        print(f"{name:48} {w:7.3f} {c:7.3f}")
    print(f"{'(script overhead)':48} {startup:7.3f}")
    print(f"{'plot processes (in parallel with the above)':48} {'':7} {child_cpu:7.3f}")
    print(f"total_wall_s={total_wall:.3f} total_cpu_s={total_cpu:.3f}")


if __name__ == "__main__":
    main()
