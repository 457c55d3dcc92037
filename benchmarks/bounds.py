"""How much of a small step the recommendation takes: an upper bound of what a cheaper ranking could give.

    python benchmarks/bounds.py [SCENARIO] [--users 10000] [--creators 300] [--steps 60]

Two figures (benchmarks/README.md, "Twenty-third pass"):

* ``share``: the step's wall and CPU seconds, and those of ``recommend_slots`` (the day's
  retrieval tables and noise, the blocks' candidates, scores and picks) timed by a
  wrapper inside the same steps; ``1 / (1 - share)`` is what a ranking that cost nothing
  would give.
* ``empty``: two models of the same scenario and seed in lockstep (which steps first
  alternates by day), one with the recommendation slots left empty: the work that does
  not follow the day's impressions, as a share of a full step.

Both change nothing in the package (the wrapper and the empty source are set on
``feeds.slots`` here). No timing here is a test.
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
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--creators", type=int, default=300)
    p.add_argument("--steps", type=int, default=60)
    a = p.parse_args(argv)

    from simulator import TrafficModel
    from simulator.feeds import slots

    real = slots.recommend_slots
    overrides = {"population": {"users": a.users, "creators": a.creators, "merchants": max(1, a.creators // 100)}}

    def model():
        m = TrafficModel(a.scenario, seed=1, overrides=overrides)
        m.step()  # warm: the kernels load
        return m

    # share: the recommendation's seconds inside the same steps
    spent = {"wall": 0.0, "cpu": 0.0}

    def timed(*args, **kwargs):
        w, c = time.perf_counter(), time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent["wall"] += time.perf_counter() - w
            spent["cpu"] += time.process_time() - c

    m = model()
    slots.recommend_slots = timed
    wall = cpu = 0.0
    try:
        for _ in range(a.steps):
            w, c = time.perf_counter(), time.process_time()
            m.step()
            wall += time.perf_counter() - w
            cpu += time.process_time() - c
    finally:
        slots.recommend_slots = real
    share = spent["wall"] / wall
    print(f"share: step {wall / a.steps * 1000:.1f} ms wall, {cpu / a.steps * 1000:.1f} ms CPU; recommendation "
          f"{spent['wall'] / a.steps * 1000:.1f} ms wall ({share:.0%}), {spent['cpu'] / a.steps * 1000:.1f} ms CPU "
          f"({spent['cpu'] / cpu:.0%}); a free ranking: {1 / (1 - share):.2f}x")

    # empty: the step without the recommendation's slots, in lockstep with a full one
    full, empty = model(), model()
    times: dict[str, list[float]] = {"full": [], "empty": []}
    try:
        for day in range(a.steps):
            for name in (("full", "empty") if day % 2 else ("empty", "full")):
                slots.recommend_slots = real if name == "full" else (lambda *args, **kwargs: [])
                t0 = time.perf_counter()
                (full if name == "full" else empty).step()
                times[name].append(time.perf_counter() - t0)
    finally:
        slots.recommend_slots = real
    imps = {}
    for name, mm in (("full", full), ("empty", empty)):
        df = mm.metrics_frame()
        imps[name] = df.loc[(df.platform != "all") & (df.step > 1), "impressions_total"].mean()
    f, e = statistics.median(times["full"]), statistics.median(times["empty"])
    print(f"empty: median step {f * 1000:.1f} ms full ({imps['full']:,.0f} impressions a day), {e * 1000:.1f} ms "
          f"without the recommendation ({imps['empty']:,.0f}): {e / f:.2f} of a full step")


if __name__ == "__main__":
    main()
