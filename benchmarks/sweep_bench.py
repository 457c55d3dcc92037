"""Sweep machinery overhead and parallel speed-up.

    python benchmarks/sweep_bench.py [--users 60000] [--runs 4]
    python benchmarks/sweep_bench.py --default-population --pool-only --runs 8

The second form (issue 17, item 5) runs douyin.toml as shipped (10,000 users, 30 days) on
the 2-worker pool only, and prints ``runs_per_min=X`` last: the sweep's throughput,
the workers' first runs (imports, kernel loading) included.

Runs the same sweep (``--runs`` runs of about 10 s each) serially in this process and
on a 2-worker process pool, and prints: the sweep machinery's overhead per run
(serial sweep wall time minus the runs' own wall time, over the runs' time) and the
speed-up of 2 workers over serial. Last line: ``overhead_pct=X speedup_2_workers=Y``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.sweep import SweepSpec, run_sweep  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=60_000)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--default-population", action="store_true", help="the scenario's own population (ignore --users)")
    p.add_argument("--pool-only", action="store_true", help="only the 2-worker pool: print runs_per_min")
    a = p.parse_args(argv)
    population = {} if a.default_population else {"population.users": a.users,
                                                   "population.creators": max(100, a.users // 100)}
    spec = SweepSpec(base=str(ROOT / "scenarios" / "douyin.toml"), name="bench", replicates=a.runs, seed=1,
                     set=population, parameters={"platforms.douyin.beta": [1.0]})
    if a.pool_only:
        with tempfile.TemporaryDirectory() as tmp, ProcessPoolExecutor(2) as pool:
            pool.submit(int).result()  # the workers' processes exist; their imports are timed
            t0 = time.perf_counter()
            df = run_sweep(spec, executor=pool, out=Path(tmp) / "pool")
            pool_s = time.perf_counter() - t0
        assert (df["status"] == "ok").all(), df["error"].dropna().tolist()
        print(f"runs: {a.runs} on 2 workers in {pool_s:.1f} s, mean run {df['wall_s'].mean():.2f} s")
        print(f"runs_per_min={a.runs / pool_s * 60:.1f}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        serial = run_sweep(spec, out=Path(tmp) / "serial")
        serial_s = time.perf_counter() - t0
        with ProcessPoolExecutor(2) as pool:
            pool.submit(int).result()  # start the workers outside the timing
            t0 = time.perf_counter()
            run_sweep(spec, executor=pool, out=Path(tmp) / "pool")
            pool_s = time.perf_counter() - t0
    runs_s = serial["wall_s"].sum()
    overhead = (serial_s - runs_s) / runs_s * 100
    print(f"runs: {a.runs} x {a.users} users, mean run {runs_s / a.runs:.1f} s")
    print(f"serial sweep {serial_s:.1f} s (runs themselves {runs_s:.1f} s); 2-worker pool {pool_s:.1f} s")
    print(f"overhead_pct={overhead:.2f} speedup_2_workers={serial_s / pool_s:.2f}")


if __name__ == "__main__":
    main()
