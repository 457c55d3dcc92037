"""Speed and memory benchmark of the full model.

    python benchmarks/bench.py --users N --creators C --steps T [--config ecosystem|static]
                               [--merchants M] [--seed S] [--scenario PATH] [--set K=V ...] [--phases [--cpu]]

``--config`` (issue #17: the ecosystem's mechanisms on is the default configuration):

* ``ecosystem`` (default): scenarios/ecosystem.toml (two feed platforms, WeChat, the
  Taobao-like shelf; turnover, merchants' learning, users' activity and attention,
  multi-homing, platform adaptation) with ``ECOSYSTEM_SETS``, which make every
  mechanism act within a few days (expansion, adaptation, adoption);
* ``static``: scenarios/douyin.toml as shipped (one platform, the year's mechanisms
  off): the configuration of the figures in benchmarks/README.md before issue #17.

``--scenario PATH`` runs that file instead (no extra settings); ``--set`` adds overrides.
``--phases`` prints the mean time of each phase of ``TrafficModel.step`` over the steps
after the first (the first loads the compiled kernels); with ``--cpu``, the process's CPU
seconds (all threads) instead of wall seconds, the steadier figure on a shared machine.

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

from simulator._deferred import defer_unused_imports  # noqa: E402

defer_unused_imports()  # as `trafficsim` does: what the model imports but a run does not read loads when read
from simulator import TrafficModel  # noqa: E402
from simulator.config import load_scenario  # noqa: E402

AGENT_LIMIT = 200_000  # above this, User agents are not created (the arrays are the same)
CONFIGS = {"ecosystem": ROOT / "scenarios" / "ecosystem.toml", "static": ROOT / "scenarios" / "douyin.toml"}
# the ecosystem as shipped waits weeks before expanding, adapting and adopting: act within days
ECOSYSTEM_SETS = ["creators.expand_window=2", "attention.adopt_rate=0.05",
                  "platforms.douyin.adapt.every=1", "platforms.douyin.adapt.start=0",
                  "platforms.kuaishou.adapt.every=1", "platforms.kuaishou.adapt.start=0"]
# the phases of TrafficModel.step (model methods), timed by --phases
PHASES = ["renew_population", "publish", "build_feeds", "react", "record_exposure", "learn", "sell_in_feed",
          "shop_on_shelves", "update_relationships", "moderate", "drop_follows", "update_activity",
          "shift_attention", "adapt_platforms", "record_livelihoods", "expand_creators", "learn_channels", "collect"]


def time_phases(model, clock=time.perf_counter, peaks: dict | None = None) -> dict[str, list[float]]:
    """Wrap the model's phase methods (and the private channels) so that each step
    appends their seconds by ``clock`` (wall by default; ``time.process_time``: the
    process's CPU seconds, all threads); returns {phase: [seconds per step]}. With
    ``peaks`` (a dict), also records each phase's peak resident memory, MiB: the kernel's
    high-water mark is reset as the phase starts (``/proc/self/clear_refs``) and read as
    it ends, so ``peaks[phase]`` lists (RSS at the start, the peak within) per step."""
    times: dict[str, list[float]] = {name: [] for name in PHASES + ["run_private_channels"]}
    if peaks is not None:
        peaks.update({name: [] for name in times})

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            if peaks is not None:
                reset_peak()
                start = current_rss_mb()
            t = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                times[name][-1] += clock() - t
                if peaks is not None:
                    peaks[name].append((start, peak_rss_mb()))
        return wrapper

    for name in PHASES:
        setattr(model, name, timed(name, getattr(model, name)))
    model.commerce.run_private_channels = timed("run_private_channels", model.commerce.run_private_channels)
    return times


def print_phase_peaks(peaks: dict) -> None:
    """Each phase's peak resident memory from :func:`time_phases`' ``peaks``, largest first."""
    print("phase peak resident memory, MiB (the largest over the steps; the resident size as the phase "
          "started, that step; the peak above it)")
    for name, v in sorted(peaks.items(), key=lambda kv: -max((pk for _, pk in kv[1]), default=0)):
        if v:
            start, pk = max(v, key=lambda sp: sp[1])
            print(f"  {name:22s} {pk:8.0f} {start:8.0f} {pk - start:+8.0f}")


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset the process's resident high-water mark (VmHWM) to its resident size now (Linux)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mb() -> float:
    """The process's resident high-water mark (VmHWM), MiB: since start or the last reset_peak."""
    return _status_mb("VmHWM")


def current_rss_mb() -> float:
    """The process's resident memory now (VmRSS), MiB."""
    return _status_mb("VmRSS")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--creators", type=int, default=2_000)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--merchants", type=int, default=None, help="default: creators // 100 (at least 1)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--config", choices=sorted(CONFIGS), default="ecosystem",
                   help="ecosystem (default: its mechanisms on) or static (douyin.toml as shipped)")
    p.add_argument("--scenario", type=Path, default=None, help="a scenario file instead of --config's")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="scenario override, e.g. commerce.enabled=false (the default runs commerce and private channels)")
    p.add_argument("--phases", action="store_true", help="print the mean seconds of each phase (steps after the first)")
    p.add_argument("--cpu", action="store_true",
                   help="with --phases: CPU seconds of the process (all threads) instead of wall seconds; "
                        "steadier on a shared machine")
    p.add_argument("--memory", action="store_true",
                   help="print each phase's peak resident memory (MiB, the largest over the steps) and the "
                        "resident size as it started (Linux: resets the high-water mark per phase)")
    p.add_argument("--progress", action="store_true",
                   help="print each step's seconds, resident memory (VmRSS, MiB) and follow edges as it ends "
                        "(for long runs)")
    a = p.parse_args(argv)
    merchants = a.merchants if a.merchants is not None else max(1, a.creators // 100)
    agents = a.users <= AGENT_LIMIT
    scenario_path = a.scenario if a.scenario is not None else CONFIGS[a.config]
    sets = (ECOSYSTEM_SETS if a.scenario is None and a.config == "ecosystem" else []) + a.set
    t0 = time.perf_counter()
    scenario = load_scenario(scenario_path, sets=sets,
                             overrides={"population": {"users": a.users, "creators": a.creators, "merchants": merchants}})
    model = TrafficModel(scenario, seed=a.seed, agents=agents)
    clock = time.process_time if a.cpu else time.perf_counter
    peaks: dict | None = {} if a.memory else None
    times = time_phases(model, clock, peaks) if a.phases or a.memory else None
    step_s = []
    t1, c1 = time.perf_counter(), time.process_time()
    if a.progress:
        print(f"init_s={t1 - t0:.2f} rss_mb={current_rss_mb():.0f}", flush=True)
    for _ in range(a.steps):
        if times is not None:
            for v in times.values():
                v.append(0.0)
        t = clock()
        model.step()
        step_s.append(clock() - t)
        if a.progress:
            print(f"step={len(step_s)} step_s={step_s[-1]:.2f} rss_mb={current_rss_mb():.0f} "
                  f"edges={model.follows.n_edges} live_items={model.items.n}", flush=True)
    t2, c2 = time.perf_counter(), time.process_time()
    df = model.metrics_frame()
    impressions = int(df.loc[df.platform != "all", "impressions_total"].sum())
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if peaks is not None:  # the resets cleared the run's high-water mark: the largest phase peak is it
        rss_mb = max([rss_mb] + [pk for v in peaks.values() for _, pk in v])
        print_phase_peaks(peaks)
    if a.phases:
        later = slice(1, None) if a.steps > 1 else slice(None)
        step = sum(step_s[later]) / len(step_s[later])
        print(f"phase {'CPU ' if a.cpu else ''}seconds a step (mean of steps {2 if a.steps > 1 else 1}-{a.steps}), share of the step")
        for name, v in sorted(times.items(), key=lambda kv: -sum(kv[1][later])):
            mean = sum(v[later]) / len(v[later])
            print(f"  {name:22s} {mean:7.3f} {100 * mean / step:5.1f}%")
        print(f"  {'whole step':22s} {step:7.3f}")
    print(f"scenario={scenario_path.name} set={sets} users={a.users} creators={a.creators} merchants={merchants} "
          f"steps={a.steps} user_agents={'yes' if agents else 'no (over %d users)' % AGENT_LIMIT}")
    print(f"init_s={t1 - t0:.2f} run_s={t2 - t1:.2f} step_s={(t2 - t1) / a.steps:.3f} "
          f"run_cpu_s={c2 - c1:.2f} impressions={impressions}")
    print(f"impressions_per_s={impressions / (t2 - t1):.0f} peak_rss_mb={rss_mb:.0f}")


if __name__ == "__main__":
    main()
