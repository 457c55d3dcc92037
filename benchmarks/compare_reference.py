"""Full model vs the plain per-agent Mesa feed loop, at the same population.

    python benchmarks/compare_reference.py [--users 10000] [--creators 300] [--steps 10] [--warm]

Last line: ``speedup=X`` (impressions per second of the full model / of the reference).
The full model's time includes its first step (where numba's cached kernels load), as
issue 17's target asks; ``--warm`` leaves the first step out of the timing (the figures
before issue 17). Neither side's time includes building its population.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from mesa_reference import run_reference  # noqa: E402

from simulator import TrafficModel  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--creators", type=int, default=300)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warm", action="store_true", help="time the steps after the first (kernels loaded)")
    a = p.parse_args(argv)
    model = TrafficModel(ROOT / "scenarios" / "douyin.toml", seed=1,
                         overrides={"population": {"users": a.users, "creators": a.creators, "merchants": 3}})
    if a.warm:
        model.step()  # load the kernels outside the timing
    t0 = time.perf_counter()
    model.run(a.steps)
    full_s = time.perf_counter() - t0
    df = model.metrics_frame()
    timed = df.step > 0 if a.warm else df.step >= 0
    full_imps = int(df.loc[(df.platform != "all") & timed, "impressions_total"].sum())
    ref_imps, ref_s = run_reference(a.users, a.creators, a.steps)
    full_rate, ref_rate = full_imps / full_s, ref_imps / ref_s
    print(f"full model:     {full_imps} impressions in {full_s:.2f} s = {full_rate:,.0f}/s")
    print(f"mesa reference: {ref_imps} impressions in {ref_s:.2f} s = {ref_rate:,.0f}/s")
    print(f"speedup={full_rate / ref_rate:.1f}")


if __name__ == "__main__":
    main()
