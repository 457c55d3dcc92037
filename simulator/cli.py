"""The ``trafficsim`` command line.

    trafficsim run SCENARIO.toml [--steps N] [--seed S] [--set key=value ...] [--out DIR]
    trafficsim compare A.toml B.toml [...] [--replicates R] [--steps N] [--seed S] [--out DIR]
    trafficsim sweep SWEEP.toml [--workers N] [--scheduler ADDRESS | --dask-local N] [--out DIR] [--resume]
                     [--scheduler-timeout SECONDS] [--wait-workers SECONDS]
    trafficsim sweep-report DIR
    trafficsim validate [--replicates R] [--steps N] [--users N] [--seed S] [--set key=value ...]
                        [--scenarios DIR] [--targets FILE] [--workers N] [--markdown FILE] [--out DIR]
    trafficsim calibrate CALIBRATION.toml [--workers N | --dask-local N | --scheduler ADDRESS] [--resume] [--out DIR]

Exit codes: 0 done; 1 ``validate``: a target failed; 2 a user error (bad scenario, bad
override, unreadable file, unusable output folder: one line on stderr, before any
simulation, nothing written); 3 the runs crashed (a bug: the traceback is printed);
130 interrupted (Ctrl-C; nothing half-written is left); 141 stdout closed by its reader
(e.g. `| head`; the record, written before the table is printed, is complete).

Heavy modules (mesa, numba, pandas, matplotlib) are imported only once the inputs are
checked, so that ``--help`` and input errors answer at once; ``--help`` does not even load
the scenario schema (pydantic): each command imports it when it reads a file.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from . import __version__
from .io.outputs import OutputError, check_out_dir, check_writable, default_out_dir
from .io.report import RUN_HEADLINE, fmt, fmt_metric, label, text_table, unit


def _executor_arguments(parser: argparse.ArgumentParser, note: str) -> None:
    """--workers, --scheduler | --dask-local and the scheduler's timeouts (sweep, calibrate)."""
    parser.add_argument("--workers", type=int, help="local worker processes (default: the machine's cores; 1: "
                                                    f"serially in this process){note}")
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="submit to an existing Dask cluster, e.g. tcp://host:8786")
    g.add_argument("--dask-local", type=int, metavar="N", help="start a Dask LocalCluster of N workers")
    parser.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="give up if the --scheduler does not answer within this time (default 10)")
    parser.add_argument("--wait-workers", type=float, default=60.0, metavar="SECONDS",
                        help="give up if the --scheduler has no worker within this time (default 60)")


def _executor_error(args) -> str | None:
    """What is wrong with the executor flags, if anything."""
    if args.workers is not None and args.workers < 1:
        return "--workers: must be >= 1"
    if args.dask_local is not None and args.dask_local < 1:
        return "--dask-local: must be >= 1"
    for flag, v in (("--scheduler-timeout", args.scheduler_timeout), ("--wait-workers", args.wait_workers)):
        if not 0 < v < float("inf"):
            return f"{flag}: must be a finite number of seconds > 0"
    return None


def _cluster_flag(args) -> str:
    """The flag that named the Dask cluster, for an error about it."""
    return f"--scheduler {args.scheduler}" if args.scheduler else f"--dask-local {args.dask_local}"


class _NoScheduler(Exception):
    """The --scheduler did not answer or has no worker (the message says which)."""


@contextmanager
def _executor(args):
    """The executor the flags ask for: a Dask client (--scheduler, --dask-local), a process
    pool (--workers > 1, default: the cores) or None (serially in this process); closed
    (pending work cancelled) on the way out."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    client = cluster = executor = None
    try:
        if args.scheduler or args.dask_local:
            import logging

            from dask.distributed import Client, LocalCluster

            from .experiments.sweep import DaskExecutor, connect_scheduler

            if args.dask_local:
                cluster = LocalCluster(n_workers=args.dask_local, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
                client = Client(cluster)
            else:
                client, error = connect_scheduler(Client, args.scheduler, args.scheduler_timeout, args.wait_workers)
                if error:
                    raise _NoScheduler(error)
            # a lost scheduler is said in one line (ClusterLost), not by the client's log of
            # its reconnection attempts, tracebacks included
            logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
            executor = DaskExecutor(client, args.wait_workers)
        elif (args.workers or os.cpu_count() or 1) > 1:
            executor = ProcessPoolExecutor(args.workers or os.cpu_count() or 1)
        yield executor
    finally:
        if isinstance(executor, ProcessPoolExecutor):
            executor.shutdown(wait=False, cancel_futures=True)
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="trafficsim", description="Agent-based simulator of short-video traffic ecosystems.")
    p.add_argument("--version", action="version", version=f"trafficsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run one scenario and write its run record")
    r.add_argument("scenario", type=Path, help="scenario TOML file")
    r.add_argument("--steps", type=int, help="simulated days (default: the scenario's)")
    r.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    r.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario key, e.g. --set platforms.douyin.beta=2 (repeatable)")
    r.add_argument("--out", type=Path, help="output folder (default: a new folder under outputs/)")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary table")

    c = sub.add_parser("compare", help="run scenarios side by side on the same population and seeds")
    c.add_argument("scenarios", type=Path, nargs="+", help="scenario TOML files (two or more)")
    c.add_argument("--replicates", type=int, default=5, help="runs per scenario (default 5, at least 2: 95%% CIs)")
    c.add_argument("--steps", type=int, help="simulated days (default: each scenario's)")
    c.add_argument("--seed", type=int, help="seed of the replicate seeds (default: the first scenario's)")
    c.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key in every scenario (e.g. population.users=50000; repeatable)")
    c.add_argument("--workers", type=int, help="worker processes (default: the machine's cores)")
    c.add_argument("--out", type=Path, help="output folder (default: a new folder under outputs/)")
    c.add_argument("--quiet", action="store_true", help="no progress bar or table: only the comparison's folder")

    w = sub.add_parser("sweep", help="run a parameter sweep (grid, Latin hypercube or Sobol) over replicates")
    w.add_argument("sweep", type=Path, help="sweep TOML file")
    _executor_arguments(w, "")
    w.add_argument("--out", type=Path, help="sweep folder (default: outputs/sweep-<name>); must be new, empty, "
                                            "or a sweep folder with --resume")
    w.add_argument("--resume", action="store_true",
                   help="keep finished runs whose resolved scenario is unchanged; recompute failed, missing and "
                        "changed ones")

    ap = sub.add_parser("app", help="the interactive app (Solara; scenario picker and controls) on localhost")
    ap.add_argument("scenario", type=Path, nargs="?", help="scenario TOML file (default: scenarios/douyin.toml)")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--host", default="127.0.0.1")

    v = sub.add_parser("validate", help="check the shipped scenarios against the sources' stylized facts")
    v.add_argument("--replicates", type=int, default=5, help="runs per scenario (default 5)")
    v.add_argument("--steps", type=int, help="simulated days (default: each scenario's)")
    v.add_argument("--users", type=int, help="users (default: each scenario's); creators and merchants scale in "
                                             "proportion (a --set of population.creators or .merchants wins)")
    v.add_argument("--seed", type=int, help="seed of the replicate seeds (default: the first scenario's)")
    v.add_argument("--scenarios", type=Path, help="folder with the scenario files the targets read (default: the "
                                                  "project's scenarios/)")
    v.add_argument("--targets", type=Path, help="targets file (default: the project's scenarios/targets/targets.toml)")
    v.add_argument("--markdown", type=Path, metavar="FILE",
                   help="also add this run's results as a column of a target x setting table in FILE "
                        "(created if missing; docs/validation.md's table is made this way)")
    v.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key in every scenario (e.g. population.users=3000)")
    v.add_argument("--workers", type=int, help="worker processes (default: the machine's cores)")
    v.add_argument("--out", type=Path, help="output folder (default: a new folder under outputs/)")
    v.add_argument("--quiet", action="store_true", help="no progress bar or tables: only the verdict line (the exit "
                                                        "code as without it)")

    cb = sub.add_parser("calibrate", help="fit free scenario parameters to targets (optuna), resumable")
    cb.add_argument("calibration", type=Path, help="calibration TOML file (docs/calibration.md)")
    _executor_arguments(cb, "; the results do not depend on it")
    cb.add_argument("--out", type=Path, help="calibration folder (default: outputs/calibration-<name>); must be new, "
                                             "empty, or a folder of the same calibration with --resume")
    cb.add_argument("--resume", action="store_true",
                    help="continue a killed (or smaller-budget) calibration: finished evaluations are kept, "
                         "the rest run; refused if the calibration file changed (the budget may grow)")

    rp = sub.add_parser("sweep-report", help="main effects, heatmap and Sobol indices of a finished sweep")
    rp.add_argument("dir", type=Path, help="sweep folder")
    return p


EXIT_TARGET_FAILED, EXIT_USAGE, EXIT_CRASH, EXIT_INTERRUPTED = 1, 2, 3, 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a command whose reader closed the pipe


# Peak resident memory a run needs, measured (docs/scaling.md, "Scaling with users"):
# 13.1 GiB at 10 M users × 30 days (~1.4 KB a user), 3.5 GiB at 1 M users × 365 days
# (~3.6 KB a user: the follow graph grows over a year, ~(days / 30)^0.38), plus the
# interpreter, libraries and kernels (~0.3 GiB).
_PEAK_BYTES_PER_USER_30_DAYS, _PEAK_GROWTH_WITH_DAYS, _PEAK_BASE_BYTES = 1_400, 0.38, 0.3 * 2**30


def _peak_estimate(scenario) -> float:
    """Rough peak resident bytes of one run of ``scenario`` (its users and days)."""
    growth = max(1.0, scenario.steps / 30) ** _PEAK_GROWTH_WITH_DAYS
    return _PEAK_BASE_BYTES + scenario.population.users * _PEAK_BYTES_PER_USER_30_DAYS * growth


def _available_memory() -> float | None:
    """The machine's available memory in bytes (Linux's MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _warn_memory(scenarios, at_once: int = 1) -> None:
    """Say so on stderr when runs of ``scenarios`` (``at_once`` of the largest at a time)
    would need more memory than the machine has available: such a run is killed by the
    system part-way, without a word from the tool."""
    available = _available_memory()
    if available is None or not scenarios:
        return
    need = max(_peak_estimate(sc) for sc in scenarios) * at_once
    if need > 0.9 * available:
        runs = f"{at_once} runs at once" if at_once > 1 else "this run"
        print(f"trafficsim: warning: {runs} may need about {need / 2**30:.1f} GiB of memory (measured: 13.1 GiB "
              f"at 10 M users × 30 days, docs/scaling.md); this machine has {available / 2**30:.1f} GiB available, "
              "and a run short of memory is killed part-way", file=sys.stderr)


def _fail(msg: str) -> int:
    print(f"trafficsim: error: {msg}", file=sys.stderr)
    return EXIT_USAGE


def _set_twice(sets: list[str], flags: dict[str, str]) -> str | None:
    """The error when a ``--set KEY=...`` gives a key that one of ``flags`` (flag: key)
    given on the same command also sets (the flag would win, and the --set value go
    unchecked), else None."""
    for item in sets:
        key = item.split("=", 1)[0].strip()
        for flag, flag_key in flags.items():
            if key == flag_key:
                return f"--set: {key}: given twice, as --set {key}=... and as {flag}; give it once"
    return None


def _first_error(errors: list):
    """The error to report of ``errors`` ((scenario file, ScenarioError) in the files'
    order): the first one; a ``--set`` error (a command that applies its --set to several
    files) names the files it holds in, e.g. the one without the platform a key names."""
    from .config import ScenarioError

    _, exc = errors[0]
    if exc.source != "--set":
        return exc
    files = list(dict.fromkeys(str(f) for f, e in errors
                               if (e.source, e.key, e.message) == (exc.source, exc.key, exc.message)))
    where = files[0] if len(files) == 1 else f"{', '.join(files[:-1])} and {files[-1]}"
    return ScenarioError(exc.source, exc.key, f"in {where}: {exc.message}")


def cmd_run(args) -> int:
    from .config import ScenarioError, load_scenario

    flags = {}
    if args.steps is not None:
        if args.steps < 1:
            return _fail("--steps: must be >= 1")
        flags["--steps"] = ("steps", args.steps)
    if args.seed is not None:
        if args.seed < 0:
            return _fail("--seed: must be >= 0")
        flags["--seed"] = ("seed", args.seed)
    if (error := _set_twice(args.sets, {f: k for f, (k, _) in flags.items()})) is not None:
        return _fail(error)
    try:
        scenario = load_scenario(args.scenario, args.sets, flags=flags)
        out = args.out or default_out_dir(scenario.name)
        check_out_dir(out)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))

    _warn_memory([scenario])
    from ._deferred import skip_for_run
    from .io.plot_workers import PlotProcess

    skip_for_run()  # pandas, should anything import it, loads without pyarrow (a run writes no parquet)
    # forked before the heavy imports: it imports matplotlib and makes the figures while this process simulates
    plotter = PlotProcess.start(panels=len(scenario.platforms))
    from ._deferred import defer_unused_imports

    defer_unused_imports()  # here only: the plot process imports matplotlib at once, to make its figures ahead
    bar = None
    try:
        from .io.outputs import write_run
        from .model import TrafficModel  # heavy imports after validation

        t0 = time.perf_counter()
        # no Mesa agent per user: the record is written from the columns (one per user would
        # cost ~3.75 us each, ~40 ms at 10,000 users, ~4 s and ~0.45 GiB at 1 M, for nothing)
        model = TrafficModel(scenario, seed="scenario", agents=False)
        t1 = time.perf_counter()
        if not args.quiet and sys.stderr.isatty():
            from tqdm import tqdm

            bar = tqdm(total=scenario.steps, desc=scenario.name, unit="day", file=sys.stderr)
        model.run(scenario.steps, progress=bar.update if bar else None)
        if bar:
            bar.close()
        t2 = time.perf_counter()
        write_run(model, out, command=["trafficsim", *sys.argv[1:]],
                  timings={"init_s": round(t1 - t0, 3), "run_s": round(t2 - t1, 3)}, plotter=plotter)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        print("trafficsim: interrupted; no run record written", file=sys.stderr)
        return 130
    except OutputError as exc:
        return _fail(str(exc))
    finally:
        if plotter is not None:
            plotter.close()
    if not args.quiet:  # the record's summary (NaN written null: both print "-"), not computed again
        import json

        _print_summary(json.loads((out / "summary.json").read_text()))
    print(f"run record: {out}")
    return 0


HEADLINE = RUN_HEADLINE


def _print_summary(summary: dict) -> None:
    """The run's headline table: readable labels, units, one number format (io.report.fmt)."""
    names = list(summary["platforms"])
    print(text_table(["metric", "unit", *names],
                     [[label(k), unit(k), *(fmt_metric(k, summary["platforms"][n].get(k)) for n in names)]
                      for k in HEADLINE]))


_fmt = fmt  # the number format shared by run and compare


def cmd_compare(args) -> int:
    from .config import ScenarioError, load_scenario
    from .experiments import MIN_REPLICATES

    if len(args.scenarios) < 2:
        return _fail("compare: give two or more scenario files")
    for flag, v in (("--steps", args.steps), ("--workers", args.workers)):
        if v is not None and v < 1:
            return _fail(f"{flag}: must be >= 1")
    if args.replicates < MIN_REPLICATES:
        return _fail(f"--replicates: got {args.replicates}; a comparison needs at least {MIN_REPLICATES} "
                     "(95% confidence intervals)")
    if args.seed is not None and args.seed < 0:
        return _fail("--seed: must be >= 0")
    flags = {"--steps": ("steps", args.steps)} if args.steps is not None else {}
    if args.seed is not None:  # a flag as run's: the schema checks its range (the record's files carry it)
        flags["--seed"] = ("seed", args.seed)
    if (error := _set_twice(args.sets, {f: k for f, (k, _) in flags.items()})) is not None:
        return _fail(error)
    scenarios, errors = {}, []
    try:
        for path in args.scenarios:
            try:
                sc = load_scenario(path, args.sets, flags=flags)  # --steps a flag, as run's: its errors name it
            except ScenarioError as exc:
                errors.append((path, exc))  # (the other files too: a --set error names each file it holds in)
                continue
            label, k = sc.name, len(scenarios) + 1
            while label in scenarios:  # (a scenario named like the suffixed label is kept too)
                label, k = f"{sc.name}_{k}", k + 1
            scenarios[label] = sc
        if errors:
            raise _first_error(errors)
        _check_files(scenarios.values())
        out = args.out or default_out_dir("compare-" + "-vs-".join(scenarios))
        check_out_dir(out)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))
    _warn_memory(scenarios.values(), _worker_count(args.workers, len(scenarios) * args.replicates))
    from .experiments.compare import compare, headline_text, readings  # heavy imports after validation

    with _runs(len(scenarios) * args.replicates, args.workers, "compare", show_bar=not args.quiet) as (pool, progress):
        table = compare(scenarios, args.replicates, args.seed, pool, out, progress,
                        command=["trafficsim", *args.argv])
    if args.quiet:
        print(f"comparison: {out}")
        return 0
    labels = list(scenarios)
    print(f"{args.replicates} replicates per scenario; mean ± half-width of the 95% CI\n")
    print(headline_text(table, labels))
    print()
    for line in readings(table, labels):
        print(f"- {line}")
    print(f"\ncomparison: {out} (open report.html in a browser)")
    return 0


def _worker_count(workers: int | None, n: int) -> int:
    """Worker processes for ``n`` runs: ``workers`` (default: the machine's cores), at most ``n``."""
    import os

    return min(workers or os.cpu_count() or 1, n)


@contextmanager
def _runs(n: int, workers: int | None, desc: str, show_bar: bool = True):
    """A process pool for ``n`` runs (``None`` when one worker suffices: the runs go
    serially) and a progress callback (a bar on a terminal unless ``show_bar`` is false,
    else ``None``)."""
    from concurrent.futures import ProcessPoolExecutor

    bar = None
    if show_bar and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=n, desc=desc, unit="run", file=sys.stderr)
    workers = _worker_count(workers, n)
    try:
        if workers > 1:
            pool, done = ProcessPoolExecutor(workers), False
            try:
                yield pool, bar.update if bar else None
                done = True
            finally:  # on Ctrl-C or an error: the queued runs cancelled, not waited for (as sweeps do)
                pool.shutdown(wait=done, cancel_futures=not done)
        else:
            yield None, bar.update if bar else None
    finally:
        if bar:
            bar.close()


def cmd_sweep(args) -> int:
    from .config import ScenarioError
    from .experiments.sweep_spec import check_out, load_sweep

    try:
        spec = load_sweep(args.sweep)
        out = args.out or Path("outputs") / f"sweep-{spec.name}"
        check_out(out, args.resume)
        check_writable(out)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))
    if (error := _executor_error(args)) is not None:
        return _fail(error)
    if not args.scheduler:  # (a cluster's workers have their own machines' memory)
        from .experiments.sweep_spec import largest_scenarios

        _warn_memory(largest_scenarios(spec), args.dask_local or _worker_count(args.workers, len(spec.runs())))
    from .experiments.sweep import run_sweep  # heavy imports after validation

    from .experiments.sweep import ClusterLost

    try:
        with _executor(args) as executor:
            try:
                df = run_sweep(spec, executor=executor, out=out, resume=args.resume,
                               progress=sys.stderr.isatty(), log=print)
            except ScenarioError as exc:
                return _fail(str(exc))
            except ClusterLost as exc:
                return _fail(f"{_cluster_flag(args)}: {exc}; finished runs are kept (use --resume)")
            except KeyboardInterrupt:
                print("trafficsim: sweep interrupted; finished runs are kept (use --resume)", file=sys.stderr)
                return EXIT_INTERRUPTED
    except _NoScheduler as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:  # while connecting to or starting the Dask cluster
        print("trafficsim: sweep interrupted before any run", file=sys.stderr)
        return EXIT_INTERRUPTED
    failed = int((df["status"] != "ok").sum()) if len(df) else 0
    total = len(spec.runs())
    first = ""
    if failed:  # the first failure's reason, one line (each run's is in its runs/ file)
        row = df[df["status"] != "ok"].sort_values("run_id").iloc[0]
        first = f"; the first, {row['run_id']}: {str(row['error']).splitlines()[0]}"
    print(f"{len(df)} of {total} runs ({failed} failed{first}); results: {out / 'results.parquet'}")
    if len(df) and failed == len(df):  # no result at all: not a sweep that merely lost some runs
        print("trafficsim: sweep: no run succeeded", file=sys.stderr)
        return 1
    return 0


def cmd_app(args) -> int:
    import os

    from .config import ScenarioError, load_scenario

    if not 0 <= args.port <= 65535:  # (the server would start, then fail with a traceback)
        return _fail(f"--port: {args.port} is not a TCP port (allowed: 0..65535)")
    if args.scenario is not None:
        try:
            load_scenario(args.scenario)
            from .ui.controls import check_app_scenario

            check_app_scenario(args.scenario)  # at the app's population, which the page runs
        except ScenarioError as exc:
            return _fail(str(exc))
    env = {**os.environ}
    if args.scenario is not None:
        env["TRAFFICSIM_APP_SCENARIO"] = str(args.scenario.resolve())
    app = Path(__file__).parent / "ui" / "app.py"
    cmd = [sys.executable, "-m", "solara", "run", str(app), "--host", args.host, "--port", str(args.port),
           "--production", "--no-open"]
    print(f"trafficsim app on http://{args.host}:{args.port}", flush=True)
    return _serve(cmd, env)


def _serve(cmd: list[str], env: dict) -> int:
    """Run the app's server ``cmd`` as a child that ends with this process: a SIGTERM or
    SIGHUP sent to this process (a supervisor, ``timeout``, a closed terminal) is passed
    on to it, Ctrl-C ends it, and where the system allows (Linux) it gets a SIGTERM when
    this process dies outright (``kill -9``). The server used to outlive a terminated
    ``trafficsim app``, serving its port to nobody's command."""
    import signal
    import subprocess

    import threading

    proc = subprocess.Popen(cmd, env=env, preexec_fn=_end_with_parent if sys.platform == "linux" else None)
    forwarded = (signal.SIGTERM, signal.SIGHUP) if threading.current_thread() is threading.main_thread() else ()
    previous = {s: signal.signal(s, lambda signum, frame: proc.send_signal(signum)) for s in forwarded}
    try:
        return proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:  # (Ctrl-C, or an error here)
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _end_with_parent() -> None:
    """In the app's server process, before it starts (Linux): a SIGTERM when its parent
    dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# The project's scenarios folder, where ``validate`` finds the files its targets read:
# experiments/validate.py's SCENARIO_DIR, repeated here so that input errors answer before
# that module loads pandas and matplotlib (tests/test_cli.py checks that the two agree).
VALIDATE_DIR = Path(__file__).resolve().parents[1] / "scenarios"


def _validate_inputs(args):
    """(targets, {label: Scenario}, the --set list recorded) or a ScenarioError: the
    targets file, then every scenario it reads with the flags applied."""
    from .config import ScenarioError, load_scenario
    from .experiments.targets import check_metric_names, load_file, scenario_sources

    specs, variants = load_file(args.targets)
    check_metric_names(specs, str(args.targets or "scenarios/targets/targets.toml"))
    folder = args.scenarios or VALIDATE_DIR
    flags = {"--steps": ("steps", args.steps)} if args.steps else {}
    if args.users:
        flags["--users"] = ("population.users", args.users)
    if args.seed is not None:  # a flag as run's: the schema checks its range (the record's files carry it)
        flags["--seed"] = ("seed", args.seed)
    scenarios, sets, errors = {}, {}, []
    sources = scenario_sources(specs, variants)
    targets_file = str(args.targets or "scenarios/targets/targets.toml")
    for label, (file, extra) in sources.items():
        if not (folder / file).is_file():
            errors.append((folder / file, ScenarioError(targets_file, f"scenario {label!r}", f"{folder / file} not "
                                                        "found (the targets read it; --scenarios names the folder)")))
            continue
        variant = f"<scenarios.{label}.set>"  # the variant's own overrides: an error in them is the targets file's
        own = [(variant, s) for s in extra]
        try:
            scaled = []
            if args.users:  # a bigger (or smaller) world of the same shape
                pop = load_scenario(folder / file, own).population
                f = args.users / pop.users
                scaled = [f"population.creators={max(4, round(pop.creators * f))}",
                          f"population.merchants={round(pop.merchants * f)}"]
            sets[label] = scaled + list(extra) + list(args.sets)
            scenarios[label] = load_scenario(folder / file, [*scaled, *own, *args.sets], flags=flags)
        except ScenarioError as exc:
            if exc.source == variant:
                exc = ScenarioError(targets_file, f"scenarios.{label}.set",
                                    f"{exc.key}: {exc.message}" if exc.key else exc.message)
            errors.append((folder / file, exc))  # (the other scenarios too: a --set error names each file)
    if errors:
        raise _first_error(errors)
    recorded = {label: {"file": str(folder / sources[label][0]), "sets": [*s, *(f"{k}={v}" for f, (k, v) in flags.items()
                                                                              if f != "--seed")]}
                for label, s in sets.items()}
    _check_files(scenarios.values())
    return specs, scenarios, recorded


def _check_files(scenarios) -> None:
    """Raise ScenarioError for a follow-graph file (``graph.follow_graph_file``) a run
    would refuse, before any run starts (each run reads it again when it builds its world;
    each file read once for each population it is read for)."""
    with_file = {(sc.graph.follow_graph_file, sc.population.users, sc.population.creators): sc
                 for sc in scenarios if sc.graph.follow_graph_file}
    if with_file:
        from .world import read_follow_file

        for key in sorted(with_file):
            read_follow_file(with_file[key])


def cmd_validate(args) -> int:
    from .config import ScenarioError

    for flag, v in (("--replicates", args.replicates), ("--steps", args.steps), ("--workers", args.workers),
                    ("--users", args.users)):
        if v is not None and v < 1:
            return _fail(f"{flag}: must be >= 1")
    if args.replicates < 2:
        return _fail("--replicates: validation needs at least 2 (confidence intervals)")
    if args.seed is not None and args.seed < 0:
        return _fail("--seed: must be >= 0")
    flag_keys = {**({"--steps": "steps"} if args.steps else {}), **({"--users": "population.users"} if args.users else {}),
                 **({"--seed": "seed"} if args.seed is not None else {})}
    if (error := _set_twice(args.sets, flag_keys)) is not None:
        return _fail(error)
    try:
        specs, scenarios, sets = _validate_inputs(args)
        out = args.out or default_out_dir("validate")
        check_out_dir(out)
        if args.markdown is not None:
            _check_markdown(args.markdown)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))
    _warn_memory(scenarios.values(), _worker_count(args.workers, len(scenarios) * args.replicates))

    from .experiments import validate
    from .experiments.compare import _plots, base_seed, replicate_table, run_all
    from .experiments.targets import record_text
    from .io.outputs import atomic_dir, manifest, write_json, write_text_atomic
    try:
        with _runs(len(scenarios) * args.replicates, args.workers, "validate", show_bar=not args.quiet) as (pool, progress):
            results, seeds, elapsed = run_all(scenarios, args.replicates, args.seed, pool, progress)
    except Exception as exc:  # not "a target failed" (exit 1): the runs themselves crashed
        import traceback

        traceback.print_exc()
        print(f"trafficsim: error: validation runs crashed ({type(exc).__name__}: {exc}); no record written",
              file=sys.stderr)
        return EXIT_CRASH
    table = validate.evaluate(validate.results_by_label(results), specs)
    first = next(iter(scenarios.values()))
    setting = validate.setting_name(first.steps, first.population.users)
    md = validate.markdown(table, args.replicates, f" ({setting})")
    from .config import to_toml

    targets_file = Path(args.targets or validate.TARGETS_FILE)
    seed = base_seed(scenarios, args.seed)
    with atomic_dir(out) as tmp:
        table.to_csv(tmp / "validation.csv", index=False)
        replicate_table(results, list(scenarios)).to_csv(tmp / "replicates.csv", index=False)
        (tmp / "validation.md").write_text("# Stylized facts\n\n" + md + "\n")
        (tmp / "plots").mkdir()
        _plots(tmp / "plots", results, [lb for lb in scenarios if lb in validate.PLOTTED] or list(scenarios)[:3])
        # the record reproduces the run: each scenario resolved (flags and --set applied, the
        # seed the replicate seeds came from) and the targets file as read
        files = ["validation.csv", "replicates.csv", "validation.md", "plots/", "manifest.json", "targets.toml"]
        (tmp / "scenarios").mkdir()
        for label, sc in scenarios.items():
            (tmp / "scenarios" / f"{label}.toml").write_text(to_toml(sc.model_copy(update={"seed": seed})))
            files.append(f"scenarios/{label}.toml")
        (tmp / "targets.toml").write_text(record_text(targets_file, set(scenarios)), encoding="utf-8")
        write_json(tmp / "manifest.json", manifest(
            command=["trafficsim", *args.argv], files=files, targets=str(targets_file.resolve()),
            scenarios=sets, setting=setting, replicates=args.replicates, seed=seed, replicate_seeds=seeds,
            elapsed_s=round(elapsed, 2)))
    if args.markdown is not None:
        old = args.markdown.read_text() if args.markdown.exists() else ""
        write_text_atomic(args.markdown, validate.settings_table(old, table, setting))
    if not args.quiet:
        print(md)
    ok, line = validate.verdict(table)
    print(f"{line}; record: {out}")
    return 0 if ok else EXIT_TARGET_FAILED


def _check_markdown(path: Path) -> None:
    """``validate --markdown``'s file, before any run (an OutputError otherwise): a file in
    an existing folder where a file can be written, and if it exists, text (its table is
    updated in place). Probed with a temporary file, removed at once."""
    import tempfile

    from .io.outputs import OutputError

    if path.is_dir() or not path.parent.is_dir():
        raise OutputError(f"--markdown {path}: must be a file in an existing folder")
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".trafficsim-probe-"):
            pass
        if path.exists():
            path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise OutputError(f"--markdown {path}: not a text (UTF-8) file; its table is updated in place") from None
    except OSError as exc:
        raise OutputError(f"--markdown {path}: cannot be written here ({exc.strerror or exc})") from None


def cmd_calibrate(args) -> int:
    """``trafficsim calibrate``: inputs checked first (exit 2), then the executor as for sweeps."""
    from .config import ScenarioError
    from .experiments.calibrate import check_out as check_calibration_out
    from .experiments.calibrate_spec import load_calibration

    if (error := _executor_error(args)) is not None:
        return _fail(error)
    try:
        spec = load_calibration(args.calibration)
        out = args.out or Path("outputs") / f"calibration-{spec.name}"
        check_calibration_out(out, args.resume, spec)
        check_writable(out)
    except (ScenarioError, OutputError) as exc:
        return _fail(str(exc))
    if not args.scheduler:  # (a cluster's workers have their own machines' memory)
        from .experiments.calibrate_spec import largest_scenarios

        _warn_memory(largest_scenarios(spec), args.dask_local or _worker_count(
            args.workers, spec.batch * spec.replicates * len(spec.scenarios)))
    from .experiments.calibrate import run_calibration
    from .experiments.sweep import ClusterLost

    try:
        with _executor(args) as executor:
            try:
                table = run_calibration(spec, executor=executor, out=out, resume=args.resume,
                                        progress=sys.stderr.isatty(), log=print, command=["trafficsim", *args.argv])
            except ScenarioError as exc:
                return _fail(str(exc))
            except ClusterLost as exc:
                return _fail(f"{_cluster_flag(args)}: {exc}; finished evaluations are kept (use --resume)")
            except KeyboardInterrupt:
                print("trafficsim: calibration interrupted; finished evaluations are kept (use --resume)",
                      file=sys.stderr)
                return EXIT_INTERRUPTED
    except _NoScheduler as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        print("trafficsim: calibration interrupted before any evaluation", file=sys.stderr)
        return EXIT_INTERRUPTED
    from .experiments.calibrate_report import best_row

    best = best_row(table)
    if best is None:
        first = table["error"].dropna().iloc[0] if len(table) and table["error"].notna().any() else "no evaluation ran"
        print(f"trafficsim: error: {len(table)} evaluations, none ok; the first error: {first.splitlines()[0]} "
              f"(record: {out})", file=sys.stderr)
        return EXIT_CRASH
    params = ", ".join(f"{n} = {best[f'param.{n}']:.4g}" for n in spec.parameters)
    print(f"best of {len(table)} evaluations: #{int(best['evaluation'])}, loss {best['loss']:.4g} ({params})")
    import json

    confirmation = json.loads((Path(out) / "manifest.json").read_text()).get("confirmation")
    chosen = confirmation and confirmation["chosen_evaluation"]
    if chosen is not None:
        losses = {c["evaluation"]: c for c in confirmation["candidates"]}
        given = losses.get(None, {}).get("heldout_loss")
        print(f"calibrated: #{chosen}, held-out loss {losses[chosen]['heldout_loss']:.4g} on "
              f"{len(confirmation['seeds'])} seeds the search never used (search loss "
              f"{losses[chosen]['search_loss']:.4g}; the scenarios as given: "
              + (f"{given:.4g})" if given is not None else "failed)"))
    print(f"calibration: {out} (report.md, scenarios/, evaluations.parquet)")
    return 0


def cmd_sweep_report(args) -> int:
    from .config import ScenarioError
    from .experiments.sweep_report import report

    if not (args.dir / "sweep.json").exists() or not ((args.dir / "runs").is_dir()
                                                      or (args.dir / "results.parquet").exists()):
        return _fail(f"{args.dir}: not a sweep folder (needs sweep.json and runs/ or results.parquet)")
    try:
        rep = report(args.dir, log=lambda line: print(f"trafficsim: warning: {line}", file=sys.stderr))
    except ScenarioError as exc:
        return _fail(str(exc))
    print(f"report: {rep / 'report.md'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command ``argv`` (default: the program's arguments) and return its exit code."""
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what manifests record as the command
    from ._deferred import defer_unused_imports, drop_unread_stand_ins

    if args.command != "run":  # `run` defers them once its plot process is forked
        defer_unused_imports()  # modules the command imports but does not read (or not yet) load when read
    commands = {"run": cmd_run, "compare": cmd_compare, "sweep": cmd_sweep, "sweep-report": cmd_sweep_report, "app": cmd_app,
                "validate": cmd_validate, "calibrate": cmd_calibrate}
    if (error := _environment_error()) is not None:
        return _fail(error)
    try:
        code = commands[args.command](args)
        if args.command == "run" and code == 0:
            _RAN.append(code)
        return code
    except KeyboardInterrupt:
        print("trafficsim: interrupted (nothing half-written is left)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away (e.g. `| head`): not a bug
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug, not a user error: keep the traceback for the report
        loading = sys.modules.get(f"{__package__}.config.loading")  # (not imported: not one of its errors)
        if loading is not None and isinstance(exc, loading.ScenarioError):
            # an input found bad once the runs read it (a follow-graph file's rows, in a
            # worker process or here): a user error, and nothing half-written is left
            return _fail(str(exc))
        import traceback

        traceback.print_exc()
        print(f"trafficsim: internal error ({type(exc).__name__}: {exc}); please report it", file=sys.stderr)
        return EXIT_CRASH
    finally:
        drop_unread_stand_ins()  # none left in the caller's interpreter (main called from Python)


def _environment_error() -> str | None:
    """What is wrong with the environment variables the runs read, if anything, before any
    run: ``TRAFFICSIM_FEED_THREADS`` (docs/scaling.md) is read on a run's first large day,
    where a value that is not a whole number crashed the run (exit 3) part-way."""
    import os

    threads = os.environ.get("TRAFFICSIM_FEED_THREADS")
    if threads:
        try:
            int(threads)
        except ValueError:
            return (f"TRAFFICSIM_FEED_THREADS: got {threads!r}; must be a whole number of threads for a day's feeds "
                    "(1 or less: none), or unset (the cores this process may use)")
    return None


_RAN: list[int] = []  # a `run` that main() finished, its record written (for program())


def program() -> None:
    """The ``trafficsim`` program (pyproject's console script, ``python -m simulator``):
    :func:`main` on the program's arguments, then the exit. Once a ``run`` has finished
    (its record renamed into place, its plot processes reaped, its summary printed), the
    process ends at once (``os._exit``, after flushing its output) instead of through the
    interpreter's teardown, whose garbage collections over the ~70,000 objects of the
    imported modules and the model took ~0.1 s of the run's wall (issue 17, target 4:
    benchmarks/README.md, *Thirteenth pass, RUNWALL*). Nothing is left to clean up then:
    the threads a large run steps with (the feeds', the trace's) are idle, their results read,
    and the run leaves no temporary file. Every other command, and
    :func:`main` called from Python, exit as usual.

    The program also runs without pydantic's plugins (``PYDANTIC_DISABLE_PLUGINS``, unless
    set otherwise): the scenario schema's models would otherwise look them up in every
    installed package's metadata as they are built (~20-30 ms of each command's start;
    no plugin has any use for the program's own schema)."""
    import os

    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    _RAN.clear()
    code = main()
    if _RAN:
        try:
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away after the record was written
            code = EXIT_BROKEN_PIPE
        try:
            sys.stderr.flush()
        except OSError:
            pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    program()
