"""Speed and memory benchmark of the full model.

    python benchmarks/bench.py --users N --creators C --steps T [--merchants M] [--seed S] [--scenario PATH]

Prints init and run timings and, as the last line,
``impressions_per_s=X peak_rss_mb=Y`` (impressions per second of the run phase; peak
resident memory of the process). Figures and their history: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import TrafficModel  # noqa: E402
from simulator.config import load_scenario  # noqa: E402

AGENT_LIMIT = 200_000  # above this, User agents are not created (the arrays are the same)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--creators", type=int, default=2_000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--merchants", type=int, default=None, help="default: creators // 100 (at least 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "douyin.toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="scenario override, e.g. commerce.enabled=false (the default runs commerce and private channels)")
    a = p.parse_args(argv)
    merchants = a.merchants if a.merchants is not None else max(1, a.creators // 100)
    agents = a.users <= AGENT_LIMIT
    t0 = time.perf_counter()
    scenario = load_scenario(a.scenario, sets=a.set,
                             overrides={"population": {"users": a.users, "creators": a.creators, "merchants": merchants}})
    model = TrafficModel(scenario, seed=a.seed, agents=agents)
    t1 = time.perf_counter()
    model.run(a.steps)
    t2 = time.perf_counter()
    df = model.metrics_frame()
    impressions = int(df.loc[df.platform != "all", "impressions_total"].sum())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"scenario={a.scenario.name} set={a.set} users={a.users} creators={a.creators} merchants={merchants} steps={a.steps} "
          f"user_agents={'yes' if agents else 'no (over %d users)' % AGENT_LIMIT}")
    print(f"init_s={t1 - t0:.2f} run_s={t2 - t1:.2f} step_s={(t2 - t1) / a.steps:.3f} impressions={impressions}")
    print(f"impressions_per_s={impressions / (t2 - t1):.0f} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()
