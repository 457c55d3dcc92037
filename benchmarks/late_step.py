"""The late step: a model stepped for months, saved once, then timed, profiled or fingerprinted.

    python benchmarks/late_step.py make OUT.pkl [--scenario S] [--users N] [--creators N] [--merchants N] [--days D]
    python benchmarks/late_step.py time MODEL.pkl [--steps 4] [--feed-threads N] [--no-rank-threads] [--memory] [--cpu]
    python benchmarks/late_step.py feeds MODEL.pkl
    python benchmarks/late_step.py sizes MODEL.pkl [--steps 0]
    python benchmarks/late_step.py digest MODEL.pkl OUT_PREFIX [--steps 3]

A year's step grows with the follow graph (benchmarks/README.md, "Eighth pass: the late
step"), so the days that matter for a year's length are the late ones, which take minutes
to reach. ``make`` steps a scenario (ecosystem.toml at 200,000 users × 2,000 creators ×
20 merchants by default) for ``--days`` (120) and saves the model with cloudpickle (a
dependency of dask; the model's Mesa data collector holds local functions that plain
pickle refuses). ``time`` loads it, runs one warm step (the kernels load), then
``--steps`` more, and prints each phase's mean seconds (``bench.time_phases``), the step's
mean, the follow edges and the peak resident memory; with ``--cpu``, each phase's wall and
CPU seconds (all threads) side by side and their ratio (which phases keep both cores
busy); with ``--memory``, each phase's peak
resident memory above the resident size as it started (``bench.time_phases``' peaks: the
high-water mark is reset after loading and at each phase's start), as ``bench.py --memory``
does for a fresh model; with ``--no-rank-threads``, a platform's ranking blocks one after
the other (``numpy_kernels.RANK_THREADS_FROM`` out of reach: the same results, to compare).
``feeds`` runs one warm step, then times the next step's ``build_feeds`` as a timeline:
each slot source's start and end in each platform's feed (seconds from the build's start)
with the cores busy meanwhile (the process's CPU seconds over wall seconds, sampled every
10 ms), and the cores busy in each tenth of a second: where a core waits. ``sizes`` prints the bytes of the model's numpy state by where it
is held (``model.follows.creator``, ``model.commerce.book...``; each array counted once,
views with their base), after ``--steps`` steps. ``digest`` steps it ``--steps`` days
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
    from bench import AGENT_LIMIT  # as bench.py: no Mesa agent per user above it (the same arrays)

    model = TrafficModel(load_scenario(a.scenario, sets=sets), seed="scenario", steps=365, agents=a.users <= AGENT_LIMIT)
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
    from bench import current_rss_mb, peak_rss_mb, print_phase_peaks, reset_peak, time_phases

    if a.feed_threads is not None:
        os.environ["TRAFFICSIM_FEED_THREADS"] = str(a.feed_threads)
    if a.no_rank_threads:
        from simulator.feeds import numpy_kernels

        numpy_kernels.RANK_THREADS_FROM = 1 << 62
    model = load(a.model)
    model.step()  # warm: the compiled kernels load on the first large day
    peaks: dict | None = {} if a.memory else None
    phases = time_phases(model, peaks=peaks)
    cpu = time_phases(model, clock=time.process_time) if a.cpu else {}  # (wraps the wall clock's wrappers)
    steps, step_peaks = [], []
    for _ in range(a.steps):
        for v in (*phases.values(), *cpu.values()):
            v.append(0.0)
        if peaks is not None:
            reset_peak()  # (the phases reset it again: the step's peak is the largest of theirs)
            start = current_rss_mb()
        t0 = time.perf_counter()
        model.step()
        steps.append(time.perf_counter() - t0)
        if peaks is not None:
            step_peaks.append((start, max([peak_rss_mb()] + [pk for v in peaks.values() for _, pk in v[-1:]])))
    if cpu:
        print(f"{'phase':24s} {'wall s':>8s} {'cpu s':>8s} {'cpu/wall':>8s}")
    for name, v in phases.items():
        if any(v) and cpu:
            w, c = np.mean(v), np.mean(cpu[name])
            print(f"{name:24s} {w:8.4f} {c:8.4f} {c / w:8.2f}")
        elif any(v):
            print(f"{name:24s} {np.mean(v):.4f}")
    if peaks is not None:
        print_phase_peaks(peaks)
        start, pk = max(step_peaks, key=lambda sp: sp[1])
        print(f"  {'whole step':22s} {pk:8.0f} {start:8.0f} {pk - start:+8.0f}")
        print(f"step_s={np.mean(steps):.4f} edges={model.follows.n_edges} peak_rss_mb={pk:.0f} "
              f"rss_mb={current_rss_mb():.0f}")
        return
    print(f"step_s={np.mean(steps):.4f} edges={model.follows.n_edges} peak_rss_mb={peak_rss_mb():.0f}")


def feeds_timeline(a) -> None:
    import threading

    import numpy as np

    from simulator.feeds import slots

    model = load(a.model)
    model.step()  # warm
    events, samples, lock = [], [], threading.Lock()

    def watch(name):
        real = getattr(slots, name)

        def timed(model, platform, *args):
            t0 = time.perf_counter()
            try:
                return real(model, platform, *args)
            finally:
                with lock:
                    events.append((platform.name, name, t0, time.perf_counter()))
        setattr(slots, name, timed)

    for name in ("follow_slots", "same_city_slots", "sell_ad_slots", "cold_start_slots", "recommend_slots",
                 "build_feed"):
        watch(name)
    real_fill, span = slots.fill_shared_caches, []

    def fill(model, platforms):
        t0 = time.perf_counter()
        real_fill(model, platforms)
        events.append(("(shared)", "fill_shared_caches", t0, time.perf_counter()))
    slots.fill_shared_caches = fill
    done = threading.Event()

    def sample():
        while not done.is_set():
            samples.append((time.perf_counter(), time.process_time()))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    real_build = model.build_feeds

    def build_feeds(*args):
        t0 = time.perf_counter()
        try:
            return real_build(*args)
        finally:
            span.append((t0, time.perf_counter()))
    model.build_feeds = build_feeds
    model.step()
    done.set()
    sampler.join()
    clock = np.array(samples)

    def busy(a0, a1):
        s = clock[(clock[:, 0] >= a0) & (clock[:, 0] <= a1)]
        return (s[-1, 1] - s[0, 1]) / (s[-1, 0] - s[0, 0]) if len(s) > 1 and s[-1, 0] > s[0, 0] else float("nan")

    t0, t1 = span[-1]
    print(f"build_feeds {t1 - t0:.2f} s, cores busy {busy(t0, t1):.2f}")
    for who, name, a0, a1 in sorted(events, key=lambda e: e[2]):
        print(f"{who:>10s} {name:<20s} {a0 - t0:6.2f} -> {a1 - t0:6.2f} ({a1 - a0:5.2f} s)  cores busy {busy(a0, a1):.2f}")
    print("cores busy each 0.1 s:", " ".join(f"{busy(x, x + 0.1):.1f}" for x in np.arange(t0, t1, 0.1)))


def state_arrays(model) -> dict[str, int]:
    """Bytes of the numpy arrays reachable from ``model``, by the first path that reaches
    each (attributes, dict keys, list places); a view counts its base once."""
    import numpy as np

    out: dict[str, int] = {}
    seen: set[int] = set()
    stack = [("model", model)]
    while stack:
        path, obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            if base is not obj:
                if id(base) in seen:
                    continue
                seen.add(id(base))
            if base.dtype != object:
                out[path] = base.nbytes
                continue
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(base.ravel()[:100_000]))
        elif isinstance(obj, dict):
            stack.extend((f"{path}[{k!r}]", v) for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(obj))
        elif isinstance(obj, (str, bytes, int, float, bool, type(None))) or callable(obj) and not hasattr(obj, "__dict__"):
            continue
        else:
            d = getattr(obj, "__dict__", None)
            if d is not None and type(obj).__module__.split(".")[0] in ("simulator", "mesa", "__main__", "builtins"):
                stack.extend((f"{path}.{k}", v) for k, v in d.items())
            for k in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, k):
                    stack.append((f"{path}.{k}", getattr(obj, k)))
    return out


def sizes(a) -> None:
    model = load(a.model)
    for _ in range(a.steps):
        model.step()
    arrays = state_arrays(model)
    total = sum(arrays.values())
    print(f"numpy state {total / 2**20:.1f} MiB in {len(arrays)} arrays; follow edges {model.follows.n_edges}; "
          f"arrays of 1 MiB or more:")
    for path, nbytes in sorted(arrays.items(), key=lambda kv: -kv[1]):
        if nbytes >= 2**20:
            print(f"  {nbytes / 2**20:9.1f}  {path}")


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
    t.add_argument("--no-rank-threads", action="store_true",
                   help="a platform's ranking blocks one after the other (the same results), to compare")
    t.add_argument("--cpu", action="store_true",
                   help="each phase's wall and CPU seconds (all threads) and their ratio")
    t.add_argument("--memory", action="store_true",
                   help="print each phase's and the step's peak resident memory above the resident size as it "
                        "started (Linux: resets the high-water mark)")
    f = sub.add_parser("feeds", help="a timeline of one step's build_feeds: where a core waits")
    f.add_argument("model", type=Path)
    z = sub.add_parser("sizes", help="the bytes of a saved model's numpy state, by where it is held")
    z.add_argument("model", type=Path)
    z.add_argument("--steps", type=int, default=0)
    d = sub.add_parser("digest", help="step a saved model and write its metrics and a digest of its state")
    d.add_argument("model", type=Path)
    d.add_argument("prefix")
    d.add_argument("--steps", type=int, default=3)
    a = p.parse_args(argv)
    {"make": make, "time": time_steps, "feeds": feeds_timeline, "digest": digest, "sizes": sizes}[a.command](a)


if __name__ == "__main__":
    main()
