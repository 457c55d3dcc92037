"""The cost of one calibration evaluation, extrapolated to a full calibration.

    python benchmarks/calibrate_bench.py [--calibration scenarios/calibrations/shipped.toml] [--replicates 1]

Runs the tasks of one evaluation of the calibration at its hand (middle-of-range)
parameters: every scenario × ``--replicates`` runs, serially in this process with one
numba thread, as a calibration's workers run them, after a 2-day warm-up run that is
not counted (loading the compiled kernels, which each worker does once); prints each run's wall and CPU
seconds, then extrapolates the calibration's budget × its replicates on ``--cores``
cores from the CPU time (a pool keeps every core busy: the runs are independent and a
batch has many more runs than cores). CPU time is quoted because the machine is shared:
wall time there measures the neighbours. Last line:
``run_cpu_s=X evaluation_cpu_s=Y extrapolated_min=Z``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.experiments.calibrate import run_task  # noqa: E402
from simulator.experiments.calibrate_spec import load_calibration, scenario_dict  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calibration", default=str(ROOT / "scenarios" / "calibrations" / "shipped.toml"))
    p.add_argument("--replicates", type=int, default=1, help="replicates of each scenario to time")
    p.add_argument("--cores", type=int, default=2)
    a = p.parse_args(argv)
    spec = load_calibration(a.calibration)
    middle = {}
    for name, prm in spec.parameters.items():
        lo, hi = prm.range
        middle[name] = math.sqrt(lo * hi) if prm.log else (lo + hi) / 2
    lengths = spec.lengths()
    cpu, wall = [], []
    # warm-up, not counted: loading the compiled kernels (a calibration's worker pays it once)
    label = next(iter(spec.scenarios))
    data, _ = scenario_dict(spec, label, middle, 0, 2)
    run_task({"evaluation": 0, "label": label, "replicate": 0, "scenario": data, "lengths": None, "single_thread": True})
    for label in spec.scenarios:
        for r, seed in enumerate(spec.replicate_seeds()[: a.replicates]):
            data, _ = scenario_dict(spec, label, middle, seed, lengths[-1] if lengths else None)
            t0, c0 = time.perf_counter(), time.process_time()
            row = run_task({"evaluation": 0, "label": label, "replicate": r, "scenario": data, "lengths": lengths,
                            "single_thread": True})
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert row["status"] == "ok", row["error"]
            print(f"{label} replicate {r}: wall {wall[-1]:.2f} s, cpu {cpu[-1]:.2f} s", flush=True)
    run_cpu = sum(cpu) / len(cpu)
    evaluation_cpu = run_cpu * len(spec.scenarios) * spec.replicates
    total_min = evaluation_cpu * spec.budget / a.cores / 60
    print(f"one evaluation = {len(spec.scenarios)} scenarios x {spec.replicates} replicates: {evaluation_cpu:.1f} cpu s; "
          f"{spec.budget} evaluations on {a.cores} cores: {total_min:.1f} min")
    print(f"run_cpu_s={run_cpu:.2f} evaluation_cpu_s={evaluation_cpu:.1f} extrapolated_min={total_min:.1f}")


if __name__ == "__main__":
    main()
