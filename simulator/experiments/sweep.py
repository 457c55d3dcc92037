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
run) is rebuilt from those files; a run that raises is recorded with its error.
``resume=True`` skips runs already finished and re-runs failed or missing ones.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
import traceback
from concurrent.futures import Executor, as_completed
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..io.outputs import json_default, write_text_atomic
from ..config.loading import ScenarioError, _apply_sets, _resolve, read_toml, scenario_from_dict

SWEEP_KEYS = ("base", "name", "replicates", "seed", "steps", "method", "samples", "set", "parameters")


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    range: tuple[float, float]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.range[0] < self.range[1]:
            raise ValueError("range must be [low, high] with low < high")
        return self


class SweepSpec(BaseModel):
    """A validated sweep file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field(description="base scenario file (resolved relative to the sweep file)")
    name: str = Field("sweep", min_length=1)
    replicates: int = Field(3, ge=1, le=10_000)
    seed: int = Field(1, ge=0, le=2**63 - 1)
    steps: int | None = Field(None, ge=1, le=3650, description="overrides the scenario's steps")
    method: Literal["grid", "lhs", "sobol"] = "grid"
    samples: int = Field(16, ge=1, le=1_000_000, description="lhs: points; sobol: base sample size N")
    set: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, list[Any] | Range] = Field(min_length=1)
    source: str = Field("<dict>", exclude=True)

    @model_validator(mode="after")
    def _kinds(self):
        for key, v in self.parameters.items():
            if self.method == "grid" and not isinstance(v, list):
                raise ValueError(f"parameters.{key}: method 'grid' needs a list of values")
            if self.method != "grid" and not isinstance(v, Range):
                raise ValueError(f"parameters.{key}: method '{self.method}' needs {{ range = [low, high] }}")
            if isinstance(v, list) and not v:
                raise ValueError(f"parameters.{key}: empty list of values")
        return self

    # ------------------------------------------------------------------ points

    def points(self) -> list[dict[str, Any]]:
        """The parameter points, in a fixed order."""
        keys = list(self.parameters)
        if self.method == "grid":
            return [dict(zip(keys, combo)) for combo in itertools.product(*(self.parameters[k] for k in keys))]
        lo = np.array([self.parameters[k].range[0] for k in keys])
        hi = np.array([self.parameters[k].range[1] for k in keys])
        if self.method == "lhs":
            from scipy.stats import qmc

            unit = qmc.LatinHypercube(d=len(keys), seed=np.random.default_rng(self.seed)).random(self.samples)
            x = qmc.scale(unit, lo, hi)
        else:
            from SALib.sample import sobol as sobol_sample

            x = sobol_sample.sample(self.salib_problem(), self.samples, calc_second_order=False, seed=self.seed)
        return [{k: float(v) for k, v in zip(keys, row)} for row in x]

    def salib_problem(self) -> dict:
        keys = list(self.parameters)
        return {"num_vars": len(keys), "names": keys, "bounds": [list(self.parameters[k].range) for k in keys]}

    def runs(self) -> list[dict[str, Any]]:
        """Every run: id, point index, replicate, seed, parameters."""
        seeds = [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
                 for s in np.random.SeedSequence(self.seed).spawn(self.replicates)]
        out = []
        for p, params in enumerate(self.points()):
            for r in range(self.replicates):
                out.append({"run_id": f"p{p:05d}-r{r:03d}", "point": p, "replicate": r, "seed": seeds[r], "params": params})
        return out


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep file; every parameter key must exist in the scenario schema."""
    path = Path(path)
    data = read_toml(path)  # one-line errors for missing, folder, unreadable, binary, invalid files
    if isinstance(data.get("base"), str):
        data["base"] = str((path.parent / data["base"]).resolve())
    try:
        spec = SweepSpec(**data, source=str(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"] if err["type"] != "extra_forbidden" else f"unknown key (allowed: {', '.join(SWEEP_KEYS)})"
        raise ScenarioError(str(path), loc, msg) from None
    check_keys(spec)
    return spec


def scenario_dict(spec: SweepSpec, params: dict[str, Any], seed: int) -> tuple[dict, dict]:
    """The merged scenario table of one run (and the origin of each key, for errors)."""
    origin: dict[str, str] = {}
    data = _resolve(Path(spec.base), origin)
    sets = list(spec.set.items()) + list(params.items()) + [("seed", seed)]
    if spec.steps is not None:
        sets.append(("steps", spec.steps))
    return _apply_sets(data, sets, origin), origin


def check_keys(spec: SweepSpec) -> None:
    """Fail before any run if a key is not in the scenario schema or a point's value is
    not allowed; the error names the sweep file and the key."""
    for key in list(spec.set) + list(spec.parameters):
        if key == "seed":
            raise ScenarioError(spec.source, key, "the seed is set by the sweep (use 'seed' and 'replicates')")
    for params in spec.points():
        data, origin = scenario_dict(spec, params, 0)
        try:
            scenario_from_dict(data, spec.base, origin)
        except ScenarioError as exc:
            ours = exc.source == "--set" or any(exc.key == k or exc.key.startswith(k + ".") for k in (*spec.set, *params))
            raise ScenarioError(spec.source if ours else exc.source, exc.key, exc.message) from None


# --------------------------------------------------------------------------- one run


def run_one(task: dict) -> dict:
    """Run one sweep task (picklable; runs in a worker). Never raises: errors are recorded."""
    t0 = time.perf_counter()
    row = {"run_id": task["run_id"], "point": task["point"], "replicate": task["replicate"], "seed": task["seed"],
           "params": task["params"], "status": "ok", "error": None, "metrics": {}}
    try:
        if task.get("single_thread"):
            import numba

            numba.set_num_threads(1)
        from ..model import TrafficModel

        scenario = scenario_from_dict(task["scenario"], task.get("source", "<sweep>"))
        model = TrafficModel(scenario, agents=False)
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
    return row


# --------------------------------------------------------------------------- the sweep


def read_runs(out: Path) -> pd.DataFrame:
    """One row per finished run file in ``out/runs``: parameters, seed, metrics, status, wall time."""
    rows = []
    for f in sorted((out / "runs").glob("*.json")):
        r = json.loads(f.read_text())
        rows.append({"run_id": r["run_id"], "point": r["point"], "replicate": r["replicate"], "seed": r["seed"],
                     **{k: v for k, v in r["params"].items()}, "status": r["status"], "error": r["error"],
                     "wall_s": r["wall_s"], **r["metrics"]})
    return pd.DataFrame(rows)


def write_results(out: Path) -> pd.DataFrame:
    df = read_runs(out)
    tmp = out / f".results.parquet.tmp-{os.getpid()}"
    df.to_parquet(tmp, index=False)
    os.replace(tmp, out / "results.parquet")
    return df


def as_executor(executor) -> Executor | None:
    """Accept a concurrent.futures Executor, a dask.distributed Client, or None (serial)."""
    if executor is not None and not isinstance(executor, Executor) and hasattr(executor, "get_executor"):
        return executor.get_executor()
    return executor


def run_sweep(spec: SweepSpec | str | Path, executor=None, out: str | Path | None = None, resume: bool = False,
              progress: bool = False, single_thread_workers: bool = True) -> pd.DataFrame:
    """Run a sweep and return its results table (a pandas DataFrame, one row per run).

    Parameters
    ----------
    spec : a :class:`SweepSpec` or a sweep file.
    executor : ``None`` (serial, in this process), any ``concurrent.futures.Executor``
        (e.g. ``ProcessPoolExecutor``), or a ``dask.distributed.Client``.
    out : folder for ``runs/`` and ``results.parquet`` (default: outputs/sweep-<name>).
    resume : skip runs already finished in ``out``; re-run failed or missing ones.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    out = Path(out) if out is not None else Path("outputs") / f"sweep-{spec.name}"
    runs_dir = out / "runs"
    if runs_dir.exists() and any(runs_dir.iterdir()) and not resume:
        raise ScenarioError(str(out), "", "sweep folder already has runs (use --resume to continue it, or another --out)")
    runs_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "sweep.json", json.dumps(spec.model_dump(mode="json"), indent=2))
    todo = []
    for run in spec.runs():
        f = runs_dir / f"{run['run_id']}.json"
        if resume and f.exists():
            done = json.loads(f.read_text())
            if done["status"] == "ok" and done["params"] == run["params"] and done["seed"] == run["seed"]:
                continue
        data, _ = scenario_dict(spec, run["params"], run["seed"])
        todo.append({**run, "scenario": data, "source": spec.source, "single_thread": single_thread_workers})
    ex = as_executor(executor)
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
        if ex is None:
            for task in todo:
                record(run_one({**task, "single_thread": False}))
        else:
            futures = [ex.submit(run_one, task) for task in todo]
            try:
                for fut in as_completed(futures):
                    record(fut.result())
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.close()
        write_results(out)
    return read_runs(out)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")
