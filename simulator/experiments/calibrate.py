"""``trafficsim calibrate``: fit free scenario parameters to targets, on the sweep executors.

The search is optuna's (TPE by default, seeded): the calibration asks the sampler for a
batch of ``batch`` parameter points (the batch size comes from the file, never from the
number of workers), runs every point's scenarios × replicates on the executor (serial,
a process pool or Dask, as sweeps do), scores each point and tells the sampler the
losses in evaluation order. So the sequence of evaluations depends only on the file.

One evaluation = one parameter point: every scenario of the file run ``replicates``
times (replicate r with the same seed at every point: common random numbers), read at
each run length, each fitted target scored by :func:`targets.evaluate` on the
replicates (mean and 95% CI), loss = sum of the targets' misses (``loss = "miss"``) or
of their squares (``"squared"``) over targets and run lengths. An evaluation whose
runs crash, or whose target cannot be computed (NaN), is recorded as failed and told
to the sampler as failed (it ignores it).

Confirmation (``confirm = K``): after the search, the K best evaluations and the
scenarios as given are run again on held-out seeds, and the calibrated scenario files
take the lowest held-out loss (:mod:`.calibrate_confirm`).

Resume: each finished evaluation is written at once to ``DIR/evaluations/eNNNNN.json``.
``--resume`` starts a fresh sampler and replays the run batch by batch: it asks the
same points (checked against the files: a different point means the sampler changed,
and the calibration stops), takes the finished evaluations from their files, runs only
the missing ones and tells the results in the same order, so a resumed calibration
equals an uninterrupted one. A calibration file whose settings, scenarios or targets
changed (``DIR/calibration.json``'s fingerprint; the budget excepted) is refused.
"""

from __future__ import annotations

import json
import os
import signal
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._deferred import import_model
from ..feeds.numpy_kernels import expect_user_days, one_kernel_thread
from ..io.outputs import (code_counts, code_identity, json_default, mixed_code_warning, source_sha256, to_json,
                          write_text_atomic)
from ..config.loading import ScenarioError, scenario_from_dict
from .sweep_spec import has_content
from .calibrate_spec import (UNFINGERPRINTED, CalibrationSpec, applies_to, calibration_fingerprint, fit_targets,
                             load_calibration, scenario_dict)

MANIFEST_KEY = "trafficsim_calibration"
STATE_FILE = "calibration.json"


# --------------------------------------------------------------------------- one run


def run_task(task: dict) -> dict:
    """One scenario × replicate of one evaluation (picklable; runs in a worker), read at
    each run length. Never raises: errors are returned."""
    from .compare import derived_totals

    t0 = time.perf_counter()
    row = {"evaluation": task["evaluation"], "label": task["label"], "replicate": task["replicate"],
           "status": "ok", "error": None, "totals": []}
    try:
        if task.get("single_thread"):
            one_kernel_thread()
        expect_user_days(task.get("user_days", 0))  # this worker's share of the batch
        TrafficModel = import_model()  # a fresh worker imports it lean (simulator/_deferred.py)

        scenario = scenario_from_dict(task["scenario"], task.get("source", "<calibration>"))
        model = TrafficModel(scenario, seed="scenario", agents=False)
        for length in task["lengths"] or [scenario.steps]:
            model.run(length - model.day)
            row["totals"].append(derived_totals(model.summary()["totals"], model.day))
    except Exception as exc:
        row["status"] = "failed"
        row["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    row["wall_s"] = time.perf_counter() - t0
    row["code"] = source_sha256()  # the code this worker ran (io.outputs.code_counts)
    return row


def failed_task(task: dict, error: str) -> dict:
    """The row of a run that gave no result (its worker died, say): failed, with ``error``."""
    return {"evaluation": task["evaluation"], "label": task["label"], "replicate": task["replicate"],
            "status": "failed", "error": error, "totals": [], "wall_s": 0.0}


# --------------------------------------------------------------------------- scoring


def _frames(rows: list[dict], labels: list[str], checkpoint: int) -> dict[str, pd.DataFrame]:
    """{label: one row per replicate of the summary totals at one run length}."""
    out = {}
    for label in labels:
        mine = sorted((r for r in rows if r["label"] == label), key=lambda r: r["replicate"])
        df = pd.DataFrame([{k: (np.nan if v is None else v) for k, v in r["totals"][checkpoint].items()} for r in mine])
        out[label] = df.apply(pd.to_numeric, errors="coerce")
    return out


def score(spec: CalibrationSpec, targets: list, rows: list[dict]) -> dict:
    """An evaluation's targets (value, 95% CI, miss, pass, per-replicate values) and loss."""
    from . import targets as tg

    labels = list(spec.scenarios)
    lengths = spec.lengths()
    out: list[dict] = []
    for c in range(len(lengths) if lengths else 1):
        runs = _frames(rows, labels, c)
        for t in targets:
            res = tg.evaluate(t, runs)
            per_rep = []
            for r in range(spec.replicates):
                try:
                    per_rep.append(_num(tg.evaluate(t, {k: v.iloc[[r]].reset_index(drop=True)
                                                        for k, v in runs.items()}).value))
                except Exception:  # a rule that needs two replicates has no single-replicate value
                    per_rep.append(None)
            out.append({"target": t.key, "steps": lengths[c] if lengths else None, "value": _num(res.value),
                        "ci_low": _num(res.ci_low), "ci_high": _num(res.ci_high), "ok": bool(res.ok),
                        "miss": _num(res.miss), "rule": res.rule_text, "replicates": per_rep})
    misses = [o["miss"] for o in out]
    if any(m is None for m in misses):
        bad = next(o for o in out if o["miss"] is None)
        return {"targets": out, "loss": None,
                "error": f"target {bad['target']} has no value at {bad['steps'] or 'the scenario'}'s length (NaN)"}
    loss = float(sum(m * m for m in misses) if spec.loss == "squared" else sum(misses))
    return {"targets": out, "loss": loss, "error": None}


def _num(v) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if v == v else None


def evaluate_point(spec: CalibrationSpec | str | Path, params: dict[str, Any]) -> dict:
    """One evaluation at ``params``, serially, outside any calibration folder: ``{"targets":
    [...], "loss": ..., "error": ...}`` as an evaluation file holds them (e.g. to build a
    toy target around the model's value at a known parameter, or to check a point)."""
    if not isinstance(spec, CalibrationSpec):
        spec = load_calibration(spec)
    rows = []
    for task in make_tasks(spec, {0: params}, spec.replicate_seeds(), single_thread=False):
        row = run_task(task)
        if row["status"] != "ok":
            raise RuntimeError(f"{row['label']} replicate {row['replicate']}: {row['error']}")
        rows.append(row)
    return score(spec, fit_targets(spec), rows)


# --------------------------------------------------------------------------- the sampler


def make_study(spec: CalibrationSpec):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    if spec.method == "tpe":
        sampler = optuna.samplers.TPESampler(seed=spec.seed, n_startup_trials=spec.startup, multivariate=True,
                                             constant_liar=True)
    elif spec.method == "random":
        sampler = optuna.samplers.RandomSampler(seed=spec.seed)
    else:
        sampler = optuna.samplers.QMCSampler(seed=spec.seed, qmc_type="sobol", scramble=True)
    return optuna.create_study(direction="minimize", sampler=sampler)


def distributions(spec: CalibrationSpec) -> dict:
    import optuna

    out = {}
    for name, p in spec.parameters.items():
        lo, hi = p.range
        if spec.is_int(name):
            out[name] = optuna.distributions.IntDistribution(int(lo), int(hi), log=p.log)
        else:
            out[name] = optuna.distributions.FloatDistribution(float(lo), float(hi), log=p.log)
    return out


# --------------------------------------------------------------------------- the folder


def read_state(out: Path) -> tuple[dict, dict] | None:
    try:
        data = json.loads((Path(out) / STATE_FILE).read_text())
        manifest = data.pop(MANIFEST_KEY)
        return data, manifest
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def check_out(out: Path, resume: bool, spec: CalibrationSpec | None = None) -> None:
    """``out`` must be new, empty, or (with ``resume``) a folder of this same calibration."""
    out = Path(out)
    if not has_content(out):
        return
    found = read_state(out)
    if found is None:
        raise ScenarioError(str(out), "", f"folder exists, is not empty and is not a calibration folder (it has no "
                                          f"{STATE_FILE} written by trafficsim calibrate); choose another --out")
    if not resume:
        raise ScenarioError(str(out), "", "is a calibration folder already: use --resume to continue it, "
                                          "or choose another --out")
    if spec is not None:
        old, manifest = found
        fp = calibration_fingerprint(spec)
        if manifest.get("fingerprint") != fp:
            changed = [k for k, v in spec.model_dump(mode="json", exclude=set(UNFINGERPRINTED)).items()
                       if old.get(k) != v]
            why = (f"changed: {', '.join(changed)}" if changed
                   else "a scenario (or its extends chain) or a fitted target changed")
            raise ScenarioError(str(out), "", f"was written by a different calibration ({why}); --resume continues "
                                              "only the same calibration (the budget may grow): choose another --out")


def read_evaluations(out: Path) -> dict[int, dict]:
    found = {}
    for f in sorted((Path(out) / "evaluations").glob("e*.json")):
        try:
            e = json.loads(f.read_text())
            found[int(e["evaluation"])] = e
        except (ValueError, KeyError, TypeError):
            continue  # a half-written file cannot exist (atomic writes); anything else is ignored
    return found


def evaluations_table(out: Path, spec: CalibrationSpec | None = None) -> pd.DataFrame:
    """One row per evaluation (below ``spec.budget``): number, batch, status, loss, parameters, and per target
    (and run length) the value, 95% CI, miss, pass and each replicate's value."""
    rows = []
    for i, e in sorted(read_evaluations(out).items()):
        if spec is not None and i >= spec.budget:
            continue  # recorded by a larger budget of the same calibration: not part of this one
        row: dict[str, Any] = {"evaluation": i, "batch": e["batch"], "status": e["status"], "loss": e.get("loss"),
                               "error": e.get("error"), "wall_s": e.get("wall_s"), "run_s": e.get("run_s"),
                               "code": ", ".join(sorted(e["codes"])) if e.get("codes") else "unknown"}
        row.update({f"param.{k}": v for k, v in e["params"].items()})
        for t in e.get("targets", []):
            col = t["target"] + (f"@{t['steps']}" if t.get("steps") is not None else "")
            for k in ("value", "ci_low", "ci_high", "miss", "ok"):
                row[f"{col}.{k}"] = t[k]
            for r, v in enumerate(t["replicates"]):
                row[f"{col}.r{r}"] = v
        rows.append(row)
    df = pd.DataFrame(rows)
    if len(df):
        df["loss"] = pd.to_numeric(df["loss"], errors="coerce")
    return df


# --------------------------------------------------------------------------- the calibration


def run_calibration(spec: CalibrationSpec | str | Path, executor=None, out: str | Path | None = None,
                    resume: bool = False, progress: bool = False, single_thread_workers: bool = True,
                    log=None, command: list[str] | None = None) -> pd.DataFrame:
    """Run a calibration and return its evaluations table (one row per evaluation).

    Parameters
    ----------
    spec : a :class:`CalibrationSpec` or a calibration file.
    executor : ``None`` (serial), a ``concurrent.futures.Executor`` or a ``dask.distributed.Client``.
    out : the calibration folder (default ``outputs/calibration-<name>``): new, empty, or
        with ``resume`` a folder of the same calibration.
    log : called with one line per message.
    """
    from .. import __version__
    from .sweep import as_executor, describe_executor, run_all, share_user_days

    if not isinstance(spec, CalibrationSpec):
        spec = load_calibration(spec)
    out = Path(out) if out is not None else Path("outputs") / f"calibration-{spec.name}"
    check_out(out, resume, spec)
    targets = fit_targets(spec)
    fp = calibration_fingerprint(spec)
    (out / "evaluations").mkdir(parents=True, exist_ok=True)
    state = {**spec.model_dump(mode="json"),
             MANIFEST_KEY: {"written_by": "trafficsim calibrate", "version": __version__, "fingerprint": fp,
                            "calibration_file": str(Path(spec.source).resolve()) if spec.source != "<dict>" else None,
                            "code": code_identity()}}  # the code of this call (manifest.json's "code")
    write_text_atomic(out / STATE_FILE, json.dumps(state, indent=2, default=json_default))
    done = read_evaluations(out) if resume else {}
    done = {i: e for i, e in done.items() if i < spec.budget}
    if log is not None and resume:
        ok = sum(e["status"] == "ok" for e in done.values())
        log(f"resume: {len(done)} of {spec.budget} evaluations finished ({ok} ok); "
            f"{spec.budget - len(done)} to run (failed ones are run again)")

    ex = as_executor(executor)
    where = describe_executor(ex)
    study = make_study(spec)
    dists = distributions(spec)
    seeds = spec.replicate_seeds()
    t_start = time.perf_counter()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=spec.budget, desc=spec.name, unit="eval", initial=sum(e["status"] == "ok" for e in done.values()))
    counts = {"ran": 0, "kept": 0, "failed": 0}

    previous = signal.getsignal(signal.SIGTERM) if _main_thread() else None
    if _main_thread():
        signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        for b, first in enumerate(range(0, spec.budget, spec.batch)):
            trials = [study.ask(dists) for _ in range(first, min(first + spec.batch, spec.budget))]
            todo: dict[int, dict] = {}
            results: dict[int, dict] = {}
            for trial in trials:
                i = first + trial.number - trials[0].number
                params = {k: (int(v) if spec.is_int(k) else float(v)) for k, v in trial.params.items()}
                old = done.get(i)
                if old is not None:
                    if old["params"] != params:
                        raise ScenarioError(str(out), "", f"evaluation {i}: the sampler now proposes {params}, "
                                            f"the folder recorded {old['params']} (optuna's version or the sampler "
                                            "changed); resume is impossible, choose another --out")
                    if old["status"] == "ok":
                        results[i] = old
                        counts["kept"] += 1
                        continue
                todo[i] = {"params": params, "rows": [], "t0": time.perf_counter()}
            tasks = make_tasks(spec, {i: ev["params"] for i, ev in todo.items()}, seeds,
                               single_thread_workers and ex is not None)
            share_user_days(tasks, ex)
            need = {i: len(spec.scenarios) * spec.replicates for i in todo}

            def finished(row: dict) -> None:
                i = row["evaluation"]
                todo[i]["rows"].append(row)
                if len(todo[i]["rows"]) < need[i]:
                    return
                results[i] = _record(out, spec, targets, i, b, todo[i])
                counts["ran"] += 1
                counts["failed"] += results[i]["status"] != "ok"
                if bar is not None:
                    bar.set_postfix(best=_best_text(study, results))
                    bar.update()

            run_all(ex, run_task, tasks, finished, failed=failed_task)
            for trial in trials:  # in evaluation order: the sampler's history does not depend on who finished first
                e = results[first + trial.number - trials[0].number]
                if e["status"] == "ok":
                    study.tell(trial, e["loss"])
                else:
                    import optuna

                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if spec.confirm:
            from .calibrate_confirm import run_confirmation

            run_confirmation(spec, out, evaluations_table(out, spec), targets, ex,
                             single_thread_workers=single_thread_workers, log=log)
    finally:
        if _main_thread():
            signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.close()
        table = evaluations_table(out, spec)
        _write_parquet(out, table)
    elapsed = time.perf_counter() - t_start
    from .calibrate_report import write_outputs

    write_outputs(out, spec, targets, table, elapsed=elapsed, counts=counts, command=command, executor=where)
    if log is not None:
        log(f"{counts['ran']} evaluations run, {counts['kept']} kept from before, {counts['failed']} failed")
        warning = mixed_code_warning(out, evaluation_codes(out, spec), "evaluations.parquet")
        if warning:
            log(warning)
    return table


def evaluation_codes(out: Path, spec: CalibrationSpec) -> dict:
    """{source hash: runs} over the search's evaluations below the budget (an evaluation
    recorded before the stamp: its runs as "unknown"); manifest.json's ``run_codes``."""
    total: dict = {}
    for i, e in read_evaluations(out).items():
        if i < spec.budget:
            codes = e.get("codes") or {"unknown": len(spec.scenarios) * spec.replicates}
            for c, n in codes.items():
                total[c] = total.get(c, 0) + n
    return total


def make_tasks(spec: CalibrationSpec, points: dict, seeds: list[int], single_thread: bool) -> list[dict]:
    """The runs of some points (key -> params): every scenario × seed, in that order."""
    from .sweep import for_workers

    lengths = spec.lengths()
    tasks = []
    for key, params in points.items():
        for label in spec.scenarios:
            for r, seed in enumerate(seeds):
                data, _ = scenario_dict(spec, label, params, seed, lengths[-1] if lengths else None)
                tasks.append({"evaluation": key, "label": label, "replicate": r, "scenario": for_workers(data),
                              "source": spec.file_of(label), "lengths": lengths, "single_thread": single_thread})
    return tasks


def _record(out: Path, spec: CalibrationSpec, targets: list, i: int, batch: int, ev: dict) -> dict:
    rows = ev["rows"]
    failed = [r for r in rows if r["status"] != "ok"]
    e: dict[str, Any] = {"evaluation": i, "batch": batch, "params": ev["params"], "status": "ok", "error": None,
                         "loss": None, "targets": []}
    if failed:
        e["status"], e["error"] = "failed", f"{failed[0]['label']} replicate {failed[0]['replicate']}: {failed[0]['error']}"
    else:
        scored = score(spec, targets, rows)
        e.update(targets=scored["targets"], loss=scored["loss"])
        if scored["error"]:
            e["status"], e["error"] = "failed", scored["error"]
        e["totals"] = {label: [r["totals"] for r in sorted((r for r in rows if r["label"] == label),
                                                            key=lambda r: r["replicate"])] for label in spec.scenarios}
    e["codes"] = code_counts(r.get("code") for r in rows)  # {source hash: runs} (the runs' workers' code)
    e["wall_s"] = round(time.perf_counter() - ev["t0"], 3)
    e["run_s"] = round(sum(r["wall_s"] for r in rows), 3)
    write_text_atomic(out / "evaluations" / f"e{i:05d}.json", to_json(e, indent=None))
    return e


def _best_text(study, results) -> str:
    losses = [e["loss"] for e in results.values() if e["status"] == "ok"]
    try:
        losses.append(study.best_value)
    except ValueError:
        pass
    return f"{min(losses):.4g}" if losses else "-"


def _write_parquet(out: Path, table: pd.DataFrame) -> None:
    tmp = out / f".evaluations.parquet.tmp-{os.getpid()}"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "evaluations.parquet")


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


__all__ = ["run_calibration", "load_calibration", "evaluations_table", "applies_to"]
