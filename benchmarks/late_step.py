"""The late step: a model stepped for months, saved once, then timed, profiled or fingerprinted.

    python benchmarks/late_step.py make OUT.pkl [--scenario S] [--users N] [--creators N] [--merchants N] [--days D]
    python benchmarks/late_step.py time MODEL.pkl [--steps 4] [--feed-threads N]
    python benchmarks/late_step.py digest MODEL.pkl OUT_PREFIX [--steps 3]

A year's step grows with the follow graph (benchmarks/README.md, "Eighth pass: the late
step"), so the days that matter for a year's length are the late ones, which take minutes
to reach. ``make`` steps a scenario (ecosystem.toml at 200,000 users × 2,000 creators ×
20 merchants by default) for ``--days`` (120) and saves the model with cloudpickle (a
dependency of dask; the model's Mesa data collector holds local functions that plain
pickle refuses). ``time`` loads it, runs one warm step (the kernels load), then
``--steps`` more, and prints each phase's mean seconds (``bench.time_phases``), the step's
mean, the follow edges and the peak resident memory. ``digest`` steps it ``--steps`` days
and writes OUT_PREFIX_metrics.csv and OUT_PREFIX_digest.txt (sha256 of the follow graph,
its fan-group members' edges, annoyance and joined day, and the live item store): run it
from two checkouts on the same saved model and ``cmp`` the files to check that a change
keeps the results byte-identical on large, late days. The saved model is read by the code of the checkout that runs the
script, so a change of the state's layout needs a new ``make``.
No timing here is a test.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def make(a) -> None:
    import cloudpickle

    from simulator import TrafficModel
    from simulator.config import load_scenario

    sets = [f"population.users={a.users}", f"population.creators={a.creators}", f"population.merchants={a.merchants}"]
    model = TrafficModel(load_scenario(a.scenario, sets=sets), seed="scenario", steps=365)
    t0 = time.perf_counter()
    for day in range(1, a.days + 1):
        model.step()
        if day % 10 == 0:
            print(f"day {day}: {time.perf_counter() - t0:.0f} s, edges {model.follows.n_edges}", file=sys.stderr, flush=True)
    tmp = a.out.with_name(a.out.name + ".part")  # nothing half-written under the final name
    with open(tmp, "wb") as f:
        cloudpickle.dump(model, f, protocol=5)
    tmp.replace(a.out)
    print(f"{a.out}: {a.days} days, {model.follows.n_edges} follow edges, {a.out.stat().st_size / 2**20:.0f} MiB")


def load(path: Path):
    import cloudpickle

    with open(path, "rb") as f:
        return cloudpickle.load(f)


def time_steps(a) -> None:
    import numpy as np
    from bench import peak_rss_mb, time_phases

    if a.feed_threads is not None:
        os.environ["TRAFFICSIM_FEED_THREADS"] = str(a.feed_threads)
    model = load(a.model)
    model.step()  # warm: the compiled kernels load on the first large day
    phases = time_phases(model)
    steps = []
    for _ in range(a.steps):
        for v in phases.values():
            v.append(0.0)
        t0 = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - t0)
    for name, v in phases.items():
        if any(v):
            print(f"{name:24s} {np.mean(v):.4f}")
    print(f"step_s={np.mean(steps):.4f} edges={model.follows.n_edges} peak_rss_mb={peak_rss_mb():.0f}")


def digest(a) -> None:
    import numpy as np

    model = load(a.model)
    for _ in range(a.steps):
        model.step()
    model.metrics_frame().to_csv(f"{a.prefix}_metrics.csv", index=False)
    h = hashlib.sha256()
    f = model.follows
    members = model.commerce.groups.table  # a row per member edge, in edge order
    for col in (f.src, f.creator, f.intimacy, f.indptr, members.edge, members["annoy"], members["joined"]):
        h.update(np.ascontiguousarray(col).tobytes())
    items = model.items
    for k in sorted(items.cols):
        h.update(np.ascontiguousarray(items.cols[k][: items.n]).tobytes())
    Path(f"{a.prefix}_digest.txt").write_text(h.hexdigest() + "\n")
    print(h.hexdigest())


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make", help="step a scenario and save the model")
    m.add_argument("out", type=Path)
    m.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "ecosystem.toml")
    m.add_argument("--users", type=int, default=200_000)
    m.add_argument("--creators", type=int, default=2_000)
    m.add_argument("--merchants", type=int, default=20)
    m.add_argument("--days", type=int, default=120)
    t = sub.add_parser("time", help="time the phases of a saved model's next steps")
    t.add_argument("model", type=Path)
    t.add_argument("--steps", type=int, default=4)
    t.add_argument("--feed-threads", type=int, default=None,
                   help="TRAFFICSIM_FEED_THREADS (1: the feeds in the main thread, as a profiler sees them)")
    d = sub.add_parser("digest", help="step a saved model and write its metrics and a digest of its state")
    d.add_argument("model", type=Path)
    d.add_argument("prefix")
    d.add_argument("--steps", type=int, default=3)
    a = p.parse_args(argv)
    {"make": make, "time": time_steps, "digest": digest}[a.command](a)


if __name__ == "__main__":
    main()
