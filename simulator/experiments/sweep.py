"""Batch parameter sweeps: many scenario variants × replicates, on any executor.

A sweep file (TOML) names a base scenario and the parameters to vary, by dotted
scenario key::

    base = "../douyin.toml"          # relative to the sweep file
    name = "follow_share_x_beta"
    replicates = 3
    seed = 1
    method = "grid"                  # grid | lhs | sobol
    samples = 16                     # lhs: number of points; sobol: base sample N (N·(D+2) points)

    [set]                            # fixed overrides for every run
    "population.users" = 3000

    [parameters]
    "platforms.douyin.beta" = [0.0, 1.0, 2.0]            # grid: a list of values
    "platforms.douyin.follow_share" = [0.05, 0.35]
    # lhs / sobol: "key" = { range = [low, high] }

Every run's seed comes from one ``SeedSequence(seed)``: replicate r of every point uses
the same seed (common random numbers), so a run's result does not depend on the
executor or the number of workers. Each finished run is written atomically to
``DIR/runs/<run-id>.json`` as it completes, and ``DIR/results.parquet`` (one row per
run) is rebuilt from those files; a run that raises is recorded with its error. Before
any run, each point's fully resolved scenario is written to ``DIR/scenarios/pNNNNN.toml``
(seeded with replicate 0's seed) under a comment header giving, for each replicate, the
command that reruns it alone with the same metrics (``trafficsim run
DIR/scenarios/pNNNNN.toml --seed S``, S the replicate's seed).

Every run carries the fingerprint of its fully resolved scenario (sha256 of the
validated scenario's canonical JSON: steps, seed, ``[set]``, the base scenario and its
``extends`` chain, defaults; plus the content of a follow-graph file). ``DIR/sweep.json``
is the sweep's manifest: the sweep file's settings and, under ``"trafficsim_sweep"``,
the version, the library versions, the kernels compiled ahead and the machine of the
process that ran the sweep (``io.outputs.environment``, as a run's manifest has them),
the number of runs, the replicates' seeds (``replicate_seeds``), the points' scenario
files (``scenarios``, relative to DIR) and each run's fingerprint. ``resume=True`` keeps a
finished run only if its fingerprint is the current one; failed, missing and changed runs
are recomputed, and run files that no longer belong to the sweep are moved to
``DIR/superseded/``, so ``runs/`` never mixes two versions of a sweep. A point file whose
scenario is no longer the point's (the sweep changed, or the file was edited) or whose
point left the sweep is moved to ``DIR/scenarios/superseded/`` and written anew, never
overwritten or trusted.
"""


from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import signal
import sys
import time
import traceback
from concurrent.futures import Executor
from pathlib import Path

import pandas as pd

from .._deferred import import_model
from . import feed_user_days, user_days_share
from ..feeds.numpy_kernels import expect_user_days, one_kernel_thread
from ..io.outputs import (code_counts, environment, json_default, library_version, mixed_code_warning, source_sha256,
                          write_text_atomic)
from ..config.loading import _resolve, scenario_from_dict, to_toml
from ..config.schema import NONE
from .sweep_spec import (MANIFEST_KEY, SAMPLERS, SweepSpec, canonical_json, check_out, load_sweep, read_manifest,
                         run_fingerprints, scenario_dict)


# --------------------------------------------------------------------------- one run


def run_one(task: dict) -> dict:
    """Run one sweep task (picklable; runs in a worker). Never raises: errors are recorded."""
    t0 = time.perf_counter()
    row = {"run_id": task["run_id"], "point": task["point"], "replicate": task["replicate"], "seed": task["seed"],
           "params": task["params"], "fingerprint": task.get("fingerprint"), "status": "ok", "error": None,
           "metrics": {}}
    try:
        if task.get("single_thread"):
            one_kernel_thread()
        expect_user_days(task.get("user_days", 0))  # this worker's share of the sweep
        TrafficModel = import_model()  # a fresh worker imports it lean (simulator/_deferred.py)

        scenario = scenario_from_dict(task["scenario"], task.get("source", "<sweep>"))
        model = TrafficModel(scenario, seed="scenario", agents=False)
        model.run()
        summary = model.summary()
        metrics = dict(summary["totals"])
        for pname, vals in summary["platforms"].items():
            metrics.update({f"{pname}.{k}": v for k, v in vals.items()})
        row["metrics"] = {k: (None if isinstance(v, float) and v != v else v) for k, v in metrics.items()}
    except Exception as exc:  # recorded, and the sweep goes on
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    row["wall_s"] = time.perf_counter() - t0
    row["code"] = source_sha256()  # the code this worker ran (io.outputs.code_counts)
    return row


def failed_run(task: dict, error: str) -> dict:
    """The record of a run that gave no result (its worker died, say): failed, with ``error``."""
    return {"run_id": task["run_id"], "point": task["point"], "replicate": task["replicate"], "seed": task["seed"],
            "params": task["params"], "fingerprint": task.get("fingerprint"), "status": "failed", "error": error,
            "metrics": {}, "wall_s": None}


# --------------------------------------------------------------------------- the sweep


def read_runs(out: Path) -> pd.DataFrame:
    """One row per finished run file in ``out/runs``: parameters, seed, metrics, status, wall time."""
    rows = []
    for f in sorted((out / "runs").glob("*.json")):
        r = json.loads(f.read_text())
        rows.append({"run_id": r["run_id"], "point": r["point"], "replicate": r["replicate"], "seed": r["seed"],
                     **{k: v for k, v in r["params"].items()}, "fingerprint": r.get("fingerprint"),
                     "status": r["status"], "error": r["error"],
                     "wall_s": r["wall_s"], "code": r.get("code"), **r["metrics"]})
    return pd.DataFrame(rows)


def write_results(out: Path) -> pd.DataFrame:
    df = read_runs(out)
    tmp = out / f".results.parquet.tmp-{os.getpid()}"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, out / "results.parquet")
    return df


def as_executor(executor) -> Executor | None:
    """Accept a concurrent.futures Executor, a dask.distributed Client (run through a
    :class:`DaskExecutor`), or None (serial)."""
    if executor is not None and not isinstance(executor, Executor) and hasattr(executor, "get_executor"):
        return DaskExecutor(executor)
    return executor


WATCH_S = 2.0  # how often run_all looks at a Dask cluster while runs are pending
NO_WORKER_QUIET_S = 5.0  # a cluster without a worker for longer is said on stderr


class ClusterLost(Exception):
    """The Dask cluster went away while runs were pending: its scheduler, or every worker
    for longer than the wait for workers (the message says which)."""


class OtherCode(Exception):
    """A Dask worker runs other trafficsim code than the process that sent it the run."""


def _on_worker(code: str | None, fn, *args):
    """``fn(*args)`` on a Dask worker, once the worker's code is known to be ``code`` (the
    sending process's ``source_sha256``): a worker with another version of the package
    (another checkout, an older install) would give that code's results under this one's
    record."""
    import platform

    mine = source_sha256()
    if code and mine and mine != code:
        raise OtherCode(f"the Dask worker on {platform.node()} runs other trafficsim code (source_sha256 {mine}; "
                        f"the command's is {code}): install the same code on every worker")
    return fn(*args)


class DaskExecutor(Executor):
    """A ``dask.distributed`` Client as the runs' executor. Each run is checked on its
    worker to run this process's code (:func:`_on_worker`), and :func:`run_all` calls
    :meth:`check` while runs are pending: a cluster without a worker for ``wait_workers``
    seconds (every worker died, none restarted) raises :class:`ClusterLost` instead of
    waiting forever. The client stays its owner's (``shutdown`` leaves it open)."""

    def __init__(self, client, wait_workers: float = 60.0):
        self.client = client
        self.wait_workers = wait_workers
        self.address = getattr(getattr(client, "scheduler", None), "address", None)
        self._executor = client.get_executor()
        self._code = source_sha256()
        self._no_worker_since: float | None = None
        self._said = False

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(_on_worker, self._code, fn, *args, **kwargs)

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass  # the client is its owner's to close

    def check(self, pending: int) -> None:
        """Raise :class:`ClusterLost` when the cluster has had no worker for
        ``wait_workers`` seconds (a line on stderr says so when the wait starts)."""
        if getattr(self.client, "status", "running") != "running":
            return  # reconnecting: a scheduler that is gone cancels the runs' futures (run_all says so)
        try:
            workers = self.client.scheduler_info().get("workers")
        except Exception:
            return
        if workers:
            self._no_worker_since = None
            return
        now = time.monotonic()
        if self._no_worker_since is None:
            self._no_worker_since, self._said = now, False
        elif not self._said and now - self._no_worker_since > NO_WORKER_QUIET_S:
            self._said = True  # (a worker that died and is restarted by its nanny is back within seconds)
            print(f"trafficsim: the Dask scheduler at {self.address} has no worker; waiting up to "
                  f"{self.wait_workers:g} s for one ({pending} runs to go) ...", file=sys.stderr, flush=True)
        if now - self._no_worker_since > self.wait_workers:
            raise ClusterLost(f"the cluster has had no worker for {self.wait_workers:g} s, with {pending} runs to go")

    def describe(self) -> dict:
        """Where the runs go, for a record: the scheduler's address and the workers it has
        now, each with its address, host, threads and the software and machine it reports
        (``io.outputs.environment``, as a run's manifest has them)."""
        from ..io.outputs import environment

        try:
            workers = self.client.scheduler_info().get("workers") or {}
        except Exception:
            workers = {}
        try:
            found = self.client.run(environment)
        except Exception:
            found = {}
        return {"kind": "dask", "scheduler": self.address,
                "workers": [{"address": a, "host": w.get("host"), "threads": w.get("nthreads"), **found.get(a, {})}
                            for a, w in sorted(workers.items())]}


def describe_executor(ex) -> dict:
    """Where and how the runs ran, as a record says it (``executor``): ``serial`` (in the
    command's own process), a ``process pool`` of N workers on this machine, or ``dask``
    (:meth:`DaskExecutor.describe`: the scheduler and its workers when the runs started)."""
    from concurrent.futures import ProcessPoolExecutor

    if ex is None:
        return {"kind": "serial"}
    if isinstance(ex, DaskExecutor):
        return ex.describe()
    if isinstance(ex, ProcessPoolExecutor):
        return {"kind": "process pool", "workers": getattr(ex, "_max_workers", None)}
    return {"kind": type(ex).__name__}


def run_all(ex: Executor | None, fn, tasks: list, done, failed=None) -> None:
    """Run ``fn`` on every task, serially (``ex`` None) or on the executor, and call
    ``done`` with each result as it finishes (in finishing order). ``fn`` records its own
    errors; a run the executor could not give a result for (its Dask worker died every time
    it ran it, out of memory say; a worker with other code; a process pool broken by a
    killed worker) is passed to ``done`` as ``failed(task, error text)`` when ``failed`` is
    given. A Dask cluster that goes away (:class:`ClusterLost`), any other error and an
    interrupt cancel the tasks not yet started and are raised."""
    if ex is None:
        for task in tasks:
            done(fn(task))
        return
    from concurrent.futures import FIRST_COMPLETED, wait

    futures = [ex.submit(fn, task) for task in tasks]
    order = {f: i for i, f in enumerate(futures)}
    check = getattr(ex, "check", None)
    pending = set(futures)
    try:
        while pending:
            finished, pending = wait(pending, timeout=WATCH_S, return_when=FIRST_COMPLETED)
            lost = [f for f in finished if f.cancelled()]  # not by this process: the scheduler went away
            for fut in sorted(set(finished) - set(lost), key=order.get):
                try:
                    result = fut.result()
                except Exception as exc:
                    if failed is None:
                        raise
                    result = failed(tasks[order[fut]], _executor_error(exc))
                done(result)
            if lost:
                raise ClusterLost(f"the Dask scheduler went away, with {len(lost) + len(pending)} runs to go")
            if pending and check is not None:
                check(len(pending))
    except BaseException:
        for f in futures:
            f.cancel()
        raise


def _executor_error(exc: BaseException) -> str:
    """The error text of a run the executor gave no result for."""
    name = type(exc).__name__
    if name == "KilledWorker":
        first = str(exc).split(". ")[0]  # (Dask's: which task, how many workers died running it)
        return f"KilledWorker: each Dask worker that ran it died (out of memory? the workers' logs say why): {first}"
    return f"{name}: {exc}"


def _describe_change(old: SweepSpec | None, old_manifest: dict, spec: SweepSpec, base_fp: str) -> str:
    """Why the runs of an earlier version of this sweep folder no longer match."""
    if old is None:
        return "scenario changed since they ran"
    parts = []
    if old.steps != spec.steps:
        parts.append(f"steps {old.steps if old.steps is not None else 'of the scenario'} → "
                     f"{spec.steps if spec.steps is not None else 'of the scenario'}")
    if old.set != spec.set:
        parts.append("[set] changed")
    if old.base != spec.base:
        parts.append(f"base {Path(old.base).name} → {Path(spec.base).name}")
    elif old_manifest.get("base_fingerprint") not in (None, base_fp):
        parts.append(f"base scenario {Path(spec.base).name} (or its extends chain) edited")
    return "scenario changed since they ran (" + ("; ".join(parts) or "resolved scenario differs") + ")"


def plan(spec: SweepSpec, out: Path, resume: bool) -> tuple[list[dict], dict[str, str], dict[str, list[str]], list[Path]]:
    """Which runs to compute: ``(todo, fingerprints, reasons, stale)``. ``reasons`` maps a
    reason to the run ids recomputed for it (and "kept" to those kept); ``stale`` are run
    files of an earlier version of the sweep, to be moved out of ``runs/``."""
    fps = run_fingerprints(spec)
    runs_dir = out / "runs"
    found = read_manifest(out) if resume else None
    old, old_manifest = found if found else (None, {})
    base_fp = hashlib.sha256(canonical_json(_resolve(Path(spec.base), {})).encode()).hexdigest()
    reasons: dict[str, list[str]] = {}
    stale: list[Path] = []
    todo = []
    changed = _describe_change(old, old_manifest, spec, base_fp)
    for run in spec.runs():
        f = runs_dir / f"{run['run_id']}.json"
        why = "missing (never finished)"
        if resume and f.exists():
            try:
                done = json.loads(f.read_text())
            except ValueError:
                done = {}
            if done.get("fingerprint") is None:
                why = "written without a scenario fingerprint (older trafficsim or unreadable), cannot be trusted"
            elif done["params"] != run["params"]:
                why = "parameter values changed"
            elif done["seed"] != run["seed"]:
                why = "seed changed"
            elif done["fingerprint"] != fps[run["run_id"]]:
                why = changed
            elif done.get("status") != "ok":
                why = "failed before"
            else:
                reasons.setdefault("kept", []).append(run["run_id"])
                continue
            if why != "failed before":
                stale.append(f)
        reasons.setdefault(why, []).append(run["run_id"])
        data, _ = scenario_dict(spec, run["params"], run["seed"])
        todo.append({**run, "scenario": for_workers(data), "source": spec.source, "fingerprint": fps[run["run_id"]]})
    if runs_dir.exists():
        stale += [f for f in sorted(runs_dir.glob("*.json")) if f.stem not in fps]
    return todo, fps, reasons, stale


# --------------------------------------------------------------------------- the points' scenario files

POINT_FILE = re.compile(r"^p\d{5,}\.toml$")
SHOWN_REPLICATES = 10  # a point file's header lists the commands of this many replicates at most


def point_file(point: int) -> str:
    """The name of point ``point``'s scenario file in ``DIR/scenarios``."""
    return f"p{point:05d}.toml"


def for_workers(data: dict) -> dict:
    """A run's scenario table as a worker gets it: a follow-graph file given by a relative
    path (a ``[set]`` or parameter value, read from this process's working folder, where
    its fingerprint was taken) is named by its absolute path. A worker runs in a folder of
    its own (a Dask worker started elsewhere, on another machine), where the relative path
    named no file (every run failed) or another file of that name (silently another
    graph, under the fingerprint of this one). A file a scenario file names is absolute
    already (``config.loading``)."""
    graph = data.get("graph")
    path = graph.get("follow_graph_file") if isinstance(graph, dict) else None
    if not isinstance(path, str) or not path or path == NONE or Path(path).is_absolute():
        return data
    return {**data, "graph": {**graph, "follow_graph_file": str(Path(path).resolve())}}


def _standalone(scenario):
    """``scenario`` as a file in another folder reads it: a follow-graph file given by a
    relative path (a ``[set]`` or parameter value, read from the sweep's working folder)
    is written absolute (a scenario file's relative path is read from its own folder)."""
    graph_file = scenario.graph.follow_graph_file
    if graph_file and not Path(graph_file).is_absolute():
        graph = scenario.graph.model_copy(update={"follow_graph_file": str(Path(graph_file).resolve())})
        return scenario.model_copy(update={"graph": graph})
    return scenario


def point_scenarios(spec: SweepSpec, out: Path) -> dict[str, str]:
    """File name -> text of every point's scenario file: the point's fully resolved
    scenario (base scenario and its ``extends`` chain, ``[set]``, the point's parameters,
    ``steps``, defaults), seeded with replicate 0's seed, under a comment header that
    names the point and gives the ``trafficsim run`` command rerunning each replicate
    alone (``--seed``: the replicate's seed). The header ends at the file's first blank
    line; what follows is :func:`~simulator.config.to_toml`'s."""
    seeds = spec.replicate_seeds()
    shown = seeds if len(seeds) <= SHOWN_REPLICATES else seeds[:3]
    src = "" if spec.source == "<dict>" else f" of {Path(spec.source).resolve()}"
    texts = {}
    for p, params in enumerate(spec.points()):
        data, origin = scenario_dict(spec, params, seeds[0])
        scenario = _standalone(scenario_from_dict(data, spec.base, origin))
        name = point_file(p)
        command = f"trafficsim run {shlex.quote(str(out / 'scenarios' / name))}"
        head = [f"# Point {p} of sweep {json.dumps(spec.name)}{src}, written by `trafficsim sweep`:",
                f"# the base scenario {spec.base} with the sweep's [set], steps and this point's parameters",
                *(f"#   {k} = {json.dumps(v, default=json_default)}" for k, v in params.items()),
                "# Rerun a replicate of this point alone (the sweep's metrics of that run; the seed below",
                "# is replicate 0's, the replicates' seeds are sweep.json's replicate_seeds):",
                *(f"#   {command} --seed {seed}   # replicate {r}, run p{p:05d}-r{r:03d}"
                  for r, seed in enumerate(shown))]
        if len(shown) < len(seeds):
            head.append(f"#   ... replicate r of {len(seeds)}: --seed replicate_seeds[r] of sweep.json")
        head += ["# Every key below is the fully resolved scenario (defaults included).", ""]
        texts[name] = "\n".join(line.replace("\n", "\\n") for line in head) + "\n" + to_toml(scenario)
    return texts


def _scenario_part(text: str) -> str | None:
    """A point file's scenario, without its header (None: no header, not one of ours)."""
    return text.split("\n\n", 1)[1] if "\n\n" in text else None


def move_aside(f: Path, folder: Path) -> Path:
    """Move ``f`` into ``folder`` (made if missing); a name already there, from an earlier
    resume, gets a number (``p00001-r000.1.json``): nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    dest, k = folder / f.name, 1
    while dest.exists():
        dest, k = folder / f"{f.stem}.{k}{f.suffix}", k + 1
    os.replace(f, dest)
    return dest


def write_point_files(texts: dict[str, str], out: Path) -> list[Path]:
    """Write the points' scenario files (``texts``, :func:`point_scenarios`) into
    ``out/scenarios``. A point file already there (a resumed sweep) is kept if its
    scenario is the current one (its header is brought up to date); one whose scenario
    differs (the sweep or its base scenario changed since, or the file was edited) and
    one of a point no longer in the sweep are moved to ``out/scenarios/superseded/``
    first, never overwritten nor trusted. Returns the files moved (where they were)."""
    folder = out / "scenarios"
    folder.mkdir(parents=True, exist_ok=True)
    moved, current = [], set()
    for f in sorted(folder.iterdir()):
        if not (POINT_FILE.match(f.name) and f.is_file()):
            continue
        if f.name in texts:
            try:
                old = f.read_text()
            except (OSError, UnicodeDecodeError):
                old = None
            if old == texts[f.name]:
                current.add(f.name)
                continue
            part = None if old is None else _scenario_part(old)
            if part is not None and part == _scenario_part(texts[f.name]):
                continue  # the same scenario: only its header is rewritten
        move_aside(f, folder / "superseded")
        moved.append(f)
    for name, text in texts.items():
        if name not in current:
            write_text_atomic(folder / name, text)
    return moved


def run_sweep(spec: SweepSpec | str | Path, executor=None, out: str | Path | None = None, resume: bool = False,
              progress: bool = False, single_thread_workers: bool = True, log=None) -> pd.DataFrame:
    """Run a sweep and return its results table (a pandas DataFrame, one row per run).

    Parameters
    ----------
    spec : a :class:`SweepSpec` or a sweep file.
    executor : ``None`` (serial, in this process), any ``concurrent.futures.Executor``
        (e.g. ``ProcessPoolExecutor``), or a ``dask.distributed.Client``.
    out : folder for ``sweep.json``, ``runs/``, ``scenarios/`` and ``results.parquet``
        (default: outputs/sweep-<name>).
        It must be new, empty, or (with ``resume``) a sweep folder.
    resume : keep runs already finished in ``out`` whose resolved scenario is the
        current one (same fingerprint); recompute failed, missing and changed ones.
    log : called with one line per message (what was kept and recomputed, and why).
    """
    from .. import __version__

    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    out = Path(out) if out is not None else Path("outputs") / f"sweep-{spec.name}"
    check_out(out, resume)
    runs_dir = out / "runs"
    todo, fps, reasons, stale = plan(spec, out, resume)
    points = point_scenarios(spec, out)
    runs_dir.mkdir(parents=True, exist_ok=True)
    for f in stale:  # (a name an earlier resume moved there gets a number: nothing overwritten)
        move_aside(f, out / "superseded")
    moved_points = write_point_files(points, out)
    base_fp = hashlib.sha256(canonical_json(_resolve(Path(spec.base), {})).encode()).hexdigest()
    ex = as_executor(executor)
    manifest = {"written_by": "trafficsim sweep", "version": __version__, "sweep_file": str(Path(spec.source).resolve()) if spec.source != "<dict>" else None,
                "runs": len(fps), "base_fingerprint": base_fp,
                # the library versions, the kernels compiled ahead and the machine, as a run's
                # manifest has them (read without importing mesa: the sweep's process stays lean)
                **environment(),
                # a sampled sweep's points come from scipy's or SALib's sampler, whose draws may change with its version
                "sampler": {SAMPLERS[spec.method]: library_version(SAMPLERS[spec.method])} if spec.method in SAMPLERS else None,
                "replicate_seeds": spec.replicate_seeds(),
                "scenarios": [f"scenarios/{name}" for name in points], "fingerprints": fps,
                "executor": describe_executor(ex)}  # where this call runs the runs (the process above sends them)
    write_text_atomic(out / "sweep.json", json.dumps({**spec.model_dump(mode="json"), MANIFEST_KEY: manifest}, indent=2))
    if log is not None and resume:
        kept = len(reasons.pop("kept", []))
        log(f"resume: kept {kept} of {len(fps)} runs, recomputing {len(todo)}")
        for why, ids in reasons.items():
            log(f"  {len(ids)} recomputed: {why}")
        extra = [f for f in stale if f.stem not in fps]
        if stale:
            log(f"  {len(stale)} old run file(s) moved to {out / 'superseded'}"
                + (f" ({len(extra)} no longer part of the sweep)" if extra else ""))
        if moved_points:
            log(f"  {len(moved_points)} point scenario file(s) changed since they were written or no longer part "
                f"of the sweep, moved to {out / 'scenarios' / 'superseded'}")
    for task in todo:
        task["single_thread"] = single_thread_workers
    share_user_days(todo, ex)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), desc=spec.name, unit="run")
    counts = {"done": 0, "failed": 0}

    def record(row: dict) -> None:
        write_text_atomic(runs_dir / f"{row['run_id']}.json", json.dumps(row, default=json_default))
        counts["done" if row["status"] == "ok" else "failed"] += 1
        if bar is not None:
            bar.set_postfix(counts)
            bar.update()

    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if _main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run_all(ex, run_one, [{**task, "single_thread": False} for task in todo] if ex is None else todo, record,
                failed=failed_run)
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.close()
        write_results(out)
    runs = read_runs(out)
    note_codes(out / "sweep.json", runs["code"] if len(runs) else [], log)
    return runs


def note_codes(manifest_file: Path, codes, log=None) -> dict:
    """Record in a folder's manifest (``MANIFEST_KEY`` of ``manifest_file``) how many of
    its runs each code made (``run_codes``: {source hash: runs}, io.outputs.code_counts),
    and say so through ``log`` where they are not all this call's code: a resumed folder
    keeps runs an earlier code made, a cluster's workers may run another install."""
    counts = code_counts(codes)
    data = json.loads(manifest_file.read_text())
    data[MANIFEST_KEY]["run_codes"] = counts
    write_text_atomic(manifest_file, json.dumps(data, indent=2))
    warning = mixed_code_warning(manifest_file.parent, counts, "results.parquet")
    if log is not None and warning:
        log(warning)
    return counts


def task_user_days(task: dict) -> int:
    """A task's feed user-days (its ``scenario`` table; sweeps and calibrations); 0 for a
    scenario that does not validate (the run fails in its worker, where the error is
    recorded)."""
    try:
        return feed_user_days(scenario_from_dict(task["scenario"], task.get("source", "<sweep>")))
    except Exception:
        return 0


def share_user_days(tasks: list[dict], ex) -> None:
    """Give every task its worker's share of the batch's feed user-days (``user_days``:
    ``experiments.user_days_share``), which the worker passes to
    ``numpy_kernels.expect_user_days`` before its run."""
    share = user_days_share([task_user_days(task) for task in tasks], ex)
    for task in tasks:
        task["user_days"] = share


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def _handshake(address: str, timeout: float) -> None:
    """Open a connection to ``address`` and exchange Dask's handshake, within ``timeout``
    seconds in all (TimeoutError otherwise), then close it. Dask's own connect bounds only
    the TCP connection: a service that accepts it and never answers in Dask's protocol
    (the scheduler's own HTTP port 8787, any web server) held ``Client()`` forever,
    whatever ``--scheduler-timeout`` said."""
    import asyncio

    from distributed.comm import connect

    async def shake():
        comm = await asyncio.wait_for(connect(address, timeout=timeout), timeout)
        await comm.close()

    asyncio.run(shake())


def connect_scheduler(Client, address: str, timeout: float, wait_workers: float):
    """A Dask client of the scheduler at ``address`` that has at least one worker, or
    ``(None, one-line error)`` after at most ``timeout`` + ``wait_workers`` seconds."""
    try:
        _handshake(address, timeout)
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError):
        return None, (f"--scheduler {address}: no Dask scheduler answered within {timeout:g} s "
                      "(check the address, or raise --scheduler-timeout)")
    except ValueError as exc:  # a malformed address
        return None, f"--scheduler {address}: {exc}"
    except Exception as exc:  # something answered, not in Dask's protocol (its bytes read as a message)
        return None, (f"--scheduler {address}: what answered is not a Dask scheduler ({type(exc).__name__} reading "
                      "its reply; check the address: a scheduler's default port is 8786, its dashboard's 8787)")
    if client.scheduler_info().get("workers"):
        return client, None
    print(f"trafficsim: waiting up to {wait_workers:g} s for a worker to join the Dask scheduler at {address} ...",
          file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait_workers
    while time.monotonic() < deadline:
        try:
            client.wait_for_workers(1, timeout=min(5.0, max(deadline - time.monotonic(), 0.1)))
            return client, None
        except TimeoutError:
            if time.monotonic() < deadline:
                print(f"trafficsim: still no worker, waiting ({deadline - time.monotonic():.0f} s left) ...",
                      file=sys.stderr, flush=True)
    client.close()
    return None, (f"--scheduler {address}: no worker joined within {wait_workers:g} s "
                  f"(start one with `dask worker {address}`, or raise --wait-workers)")
