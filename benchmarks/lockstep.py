"""Two models of one scenario and seed stepped in lockstep in one process, one with the
threads on and one without: the same days at the same moment of the machine.

    python benchmarks/lockstep.py [SCENARIO] [--steps 60] [--users N] [--switch all|feeds|rank|background]

Each day both models step, one after the other (which goes first alternates by day); before
its step, a model's thread setting is put in place: the "threads" model as the run would
have it (``--switch all``) or with only one kind of thread on (``feeds``: the platforms'
feeds, ``rank``: a platform's ranking blocks, ``background``: the step's background
thread, ``TrafficModel._in_background``), the other on one thread
(``numpy_kernels.FEED_THREADS = 1``). The results are the same bytes either way, so the
two models do the same work every day. Prints the summed step seconds of each, their
ratio and the median of the days' ratios.

This machine's speed moves by 30% or more between processes a minute apart, and by ±15%
within minutes, so separate processes (farm-bench, two calls of ``bench.py``) cannot
resolve a change of a few per cent in the step; this can (benchmarks/README.md,
"Nineteenth pass"). No timing here is a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", nargs="?", type=Path, default=ROOT / "scenarios" / "douyin.toml")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--users", type=int, help="population.users (default: the scenario's)")
    p.add_argument("--switch", choices=("all", "feeds", "rank", "background"), default="all",
                   help="which threads the threaded model uses (default: all a run would use)")
    a = p.parse_args(argv)

    from simulator import model as model_module
    from simulator.feeds import numpy_kernels, recommend, slots

    overrides = {"population": {"users": a.users}} if a.users else None
    threaded = model_module.TrafficModel(a.scenario, seed=1, overrides=overrides)
    alone = model_module.TrafficModel(a.scenario, seed=1, overrides=overrides)
    real = {"feeds": (slots, "feed_threads", slots.feed_threads),
            "rank": (recommend, "rank_threads", recommend.rank_threads),
            "background": (model_module.TrafficModel, "_in_background", model_module.TrafficModel._in_background)}
    off = {"feeds": lambda model, platforms: 1, "rank": lambda n_active: 1,
           "background": lambda self, *calls: [None] * len(calls)}

    def threads(on: bool) -> None:
        numpy_kernels.FEED_THREADS = None if on else 1
        for name, (owner, attr, fn) in real.items():
            setattr(owner, attr, fn if not on or a.switch in ("all", name) else off[name])

    times: dict[bool, list[float]] = {True: [], False: []}
    try:
        for day in range(a.steps):
            order = [(threaded, True), (alone, False)]
            for model, on in order if day % 2 == 0 else order[::-1]:
                threads(on)
                t0 = time.perf_counter()
                model.step()
                times[on].append(time.perf_counter() - t0)
    finally:
        threads(True)
        numpy_kernels.FEED_THREADS = None
    on, one = sum(times[True]), sum(times[False])
    days = statistics.median(x / y for x, y in zip(times[True], times[False]))
    print(f"{a.scenario.name} users={a.users or 'as shipped'} steps={a.steps} switch={a.switch}: "
          f"threads {on:.3f} s, one thread {one:.3f} s, ratio {on / one:.3f}, median day {days:.3f}")


if __name__ == "__main__":
    main()
