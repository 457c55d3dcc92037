"""A year of one scenario: step time, memory and the size of everything that could grow.

    python benchmarks/year.py [SCENARIO.toml ...] [--steps 365] [--seed S] [--set KEY=VALUE ...] [--metrics] [--phases]

Runs each scenario as shipped (its population, its seed unless ``--seed``) for
``--steps`` days, with a Mesa agent per user only up to ``bench.AGENT_LIMIT`` users as
``bench.py`` (the same arrays and results), and prints, at days 1, 30, 100, 200 and the
last day:

* ``step_s``: that day's step time and ``step_med_s``, the median of the 21 days around
  it (the single-day figure is noisy; day 1 includes loading the compiled kernels);
* ``rss_mb``: the process's resident memory after the step (``VmRSS``);
* ``live_items`` / ``capacity``: rows in the live item store and its allocated rows,
  ``archived``: items moved to the compact archive, ``store_mb`` / ``archive_mb`` their bytes;
* the other state that grows with days: follow edges, customer-book pairs, WeChat
  contacts, closed fan-group memberships, the ledger's per-day rows and the metric rows.

Every 10th day (and at each of those days) a progress line goes to stderr at once: the
step time, the mean of the last 10, ``VmRSS``, the peak so far (``VmHWM``), follow edges.

The last line per scenario is ``ratio_365_30=X``: the mean step time of the last 20 days
over that of days 21-40 (20-day means, because a shared machine makes single days noisy). ``--metrics`` also prints the headline metrics of the ``all`` rows at
days 30, 90, 180 and the last day (docs/ODD.md, "Long runs", quotes them). ``--phases``
times each phase of the step (``bench.time_phases``) and prints their means over the 10
days ending at days 11, 30, 60, 100, 150, 200, 300 and the last: which phases grow as the
run ages.
Figures and their history: benchmarks/README.md. No timing here is a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import TrafficModel  # noqa: E402
from simulator.config import load_scenario  # noqa: E402
sys.path.insert(0, str(ROOT / "benchmarks"))

SCENARIOS = ["douyin", "kuaishou", "douyin_enterprise", "kuaishou_8", "wechat_private"]
METRICS = ["impressions_total", "private_share_gmv", "private_share_tips", "private_share_comments", "exposure_gini",
           "top1_share", "fans_passerby", "fans_liking", "fans_true", "mean_intimacy", "followers_total",
           "gmv_total", "gmv_private_wechat", "cac_ad", "cac_blended", "cpm_effective", "group_members",
           "wechat_contacts", "feed_fill"]


def status_mb(field: str = "VmRSS") -> float:
    """A memory figure of this process from /proc/self/status (Linux), MiB: ``VmRSS``
    (resident now) or ``VmHWM`` (the peak so far)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def sizes(model) -> dict[str, float]:
    items = model.items
    store = sum(a.nbytes for a in items.cols.values())
    archive = items.archive_nbytes() if hasattr(items, "archive_nbytes") else 0
    commerce = model.commerce
    return {
        "live_items": items.n, "capacity": items.capacity, "archived": getattr(items, "offset", 0),
        "store_mb": round(store / 2**20, 1), "archive_mb": round(archive / 2**20, 1),
        "edges": model.follows.n_edges, "customers": len(commerce.book),
        "wechat": len(commerce.wechat.user) if hasattr(commerce.wechat, "user") else -1,
        "episodes": sum(len(e) for e in commerce.groups.episodes),
        "ledger_days": len(model.ledger.spend_by_day), "metric_rows": len(model._rows),
    }


def run_year(path: Path, steps: int, seed, sets: list[str], phases: dict | None = None) -> tuple[TrafficModel, list[dict]]:
    scenario = load_scenario(path, sets=sets)
    from bench import AGENT_LIMIT  # as bench.py: no Mesa agent per user above it (~0.45 GiB at 1 M; same arrays)

    model = TrafficModel(scenario, seed=seed if seed is not None else "scenario", steps=steps,
                         agents=scenario.population.users <= AGENT_LIMIT)
    if phases is not None:
        from bench import time_phases
        phases.update(time_phases(model))
    times, rows = [], []
    checkpoints = sorted({1, 30, 100, 200, steps} & set(range(1, steps + 1)))
    pending = []
    for day in range(1, steps + 1):
        if phases is not None:
            for v in phases.values():
                v.append(0.0)
        t0 = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - t0)
        if day in checkpoints:
            pending.append((day, status_mb(), sizes(model)))
        if day in checkpoints or day % 10 == 0:  # as it goes (stderr, unbuffered): a long run shows where it is
            print(f"day {day}: step {times[-1]:.2f} s, mean of the last 10 {np.mean(times[-10:]):.2f} s, "
                  f"rss {status_mb():.0f} MiB, peak {status_mb('VmHWM'):.0f} MiB, edges {model.follows.n_edges}", file=sys.stderr, flush=True)
    for day, rss, size in pending:
        lo, hi = max(1, day - 10), min(steps, day + 10)
        rows.append({"day": day, "step_s": round(times[day - 1], 4),
                     "step_med_s": round(float(np.median(times[lo - 1: hi])), 4), "rss_mb": round(rss), **size})
    late, early = np.mean(times[-20:]), np.mean(times[20:40]) if steps >= 40 else float("nan")
    return model, rows, float(late / early)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", type=Path,
                   default=[ROOT / "scenarios" / f"{s}.toml" for s in SCENARIOS])
    p.add_argument("--steps", type=int, default=365)
    p.add_argument("--seed", type=int, default=None, help="default: the scenario's own seed")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--metrics", action="store_true", help="print headline metrics at days 30, 90, 180 and the last")
    p.add_argument("--phases", action="store_true",
                   help="print each phase's mean seconds over the 10 days ending at days 11, 30, 60, 100, 150, 200, 300 "
                        "and the last: which phases grow with the days")
    a = p.parse_args(argv)
    import pandas as pd
    pd.set_option("display.width", 250)
    pd.set_option("display.max_columns", 40)
    for path in a.scenarios:
        t0 = time.perf_counter()
        phases = {} if a.phases else None
        model, rows, ratio = run_year(path, a.steps, a.seed, a.set, phases)
        print(f"== {path.stem}: {a.steps} days in {time.perf_counter() - t0:.1f} s")
        df = pd.DataFrame(rows)
        print(df.to_string(index=False))
        print(f"ratio_{a.steps}_30={ratio:.2f}")
        if phases:
            ends = sorted({d for d in (11, 30, 60, 100, 150, 200, 300, a.steps) if 11 <= d <= a.steps})
            table = pd.DataFrame({f"days {e - 9}-{e}": {k: np.mean(v[e - 10: e]) for k, v in phases.items() if any(v)}
                                  for e in ends})
            print(table.to_string(float_format=lambda x: f"{x:.3f}"))
        if a.metrics:
            m = model.metrics_frame()
            m = m[m.platform == "all"].set_index("step")
            days = [d - 1 for d in (30, 90, 180, a.steps) if d <= a.steps]
            # daily flows are noisy: the mean of the 7 days ending there; stocks: the day's value
            smooth = m[METRICS].rolling(7, min_periods=1).mean()
            out = smooth.loc[days].T
            out.columns = [f"day {d + 1}" for d in days]
            print(out.to_string(float_format=lambda x: f"{x:.4g}"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
