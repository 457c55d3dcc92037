"""Confirmation on held-out seeds: the step between a calibration's search and the
scenario files it writes.

A search over a noisy model keeps the evaluation whose loss was lowest on the search's
own replicates, and part of that low loss is luck (the winner's curse: among many
points, the best-looking one is the one whose replicates happened to fall well). With
``confirm = K`` in the calibration file, the K best evaluations of the search, and the
scenarios as given (no parameter changed, the baseline), are run again on
``confirm_replicates`` seeds the search never used (:func:`heldout_seeds`). Each is
scored on the fit targets (the held-out loss) and on the check targets (only reported).
The calibrated scenario files take the candidate with the lowest held-out loss, the
scenarios as given included (ties: the scenarios as given, then the lower search loss,
then the earlier evaluation): where no evaluation beats the values the calibration started
from, the files keep them and say so. The report shows every candidate's search loss
beside its held-out loss.

Each candidate's result is written at once to ``DIR/confirm/<candidate>.json``; a
resumed calibration keeps those whose point and seeds are unchanged and runs the rest.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io.outputs import to_json, write_text_atomic
from .calibrate_spec import CalibrationSpec

CONFIRM_DIR = "confirm"
AS_GIVEN = "as_given"  # the candidate that changes no parameter: the scenarios as their files give them
HELDOUT_KEY = 2**31  # the held-out seeds' spawn key: the search's replicate seeds are children 0..replicates-1


def heldout_seeds(spec: CalibrationSpec) -> list[int]:
    """The confirmation's seeds: children of ``SeedSequence(seed, spawn_key=(2**31,))``,
    never one of the search's replicate seeds (children 0.. of ``SeedSequence(seed)``)."""
    root = np.random.SeedSequence(spec.seed, spawn_key=(HELDOUT_KEY,))
    used = set(spec.replicate_seeds())
    out: list[int] = []
    for child in root.spawn(spec.confirm_count_replicates() + len(used)):
        s = int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
        if s not in used and s not in out:
            out.append(s)
        if len(out) == spec.confirm_count_replicates():
            break
    return out


def candidates(spec: CalibrationSpec, table: pd.DataFrame) -> list[dict]:
    """The scenarios as given, then the ``confirm`` best ok evaluations (by search loss,
    ties by evaluation number)."""
    from .calibrate_report import ok_rows

    ok = ok_rows(table)
    if not spec.confirm or not len(ok):
        return []
    best = ok.sort_values(["loss", "evaluation"], kind="stable").head(spec.confirm)
    out = [{"candidate": AS_GIVEN, "evaluation": None, "params": {}, "search_loss": None}]
    for _, row in best.iterrows():
        params = {n: (int(row[f"param.{n}"]) if spec.is_int(n) else float(row[f"param.{n}"])) for n in spec.parameters}
        out.append({"candidate": f"e{int(row['evaluation']):05d}", "evaluation": int(row["evaluation"]),
                    "params": params, "search_loss": float(row["loss"])})
    return out


def choose(records: list[dict]) -> dict | None:
    """The calibrated point: the candidate with the lowest held-out loss, the scenarios as
    given included (ties: the scenarios as given, then the lower search loss, then the
    earlier evaluation): a calibration whose evaluations do not beat the values it started
    from on the held-out seeds keeps those values. None when no search evaluation was
    confirmed (the search's best is then the calibrated point)."""
    ok = [r for r in records if r["status"] == "ok" and r["loss"] is not None]
    if not any(r["evaluation"] is not None for r in ok):
        return None
    return min(ok, key=lambda r: (r["loss"], r["evaluation"] is not None, r["search_loss"] or 0.0,
                                  -1 if r["evaluation"] is None else r["evaluation"]))


def run_confirmation(spec: CalibrationSpec, out: Path, table: pd.DataFrame, targets: list, ex=None,
                     single_thread_workers: bool = True, log=None) -> list[dict]:
    """Run (or, on resume, keep) every candidate on the held-out seeds; return their records."""
    from .calibrate import failed_task, make_tasks, run_task, score
    from .sweep import run_all, share_user_days
    from .calibrate_report import score_checks

    cands = candidates(spec, table)
    if not cands:
        return []
    folder = Path(out) / CONFIRM_DIR
    folder.mkdir(exist_ok=True)
    seeds = heldout_seeds(spec)
    held = spec.model_copy(update={"replicates": len(seeds)})
    records = {r["candidate"]: r for r in read_confirmation(spec, out, table) if r["status"] == "ok"}
    todo = {c["candidate"]: {**c, "rows": [], "t0": time.perf_counter()} for c in cands if c["candidate"] not in records}
    if log is not None:
        log(f"confirmation: {len(cands)} candidates (the scenarios as given and the {len(cands) - 1} best "
            f"evaluations) on {len(seeds)} held-out seeds; {len(todo)} to run")
    tasks = make_tasks(spec, {name: c["params"] for name, c in todo.items()}, seeds,
                       single_thread_workers and ex is not None)
    share_user_days(tasks, ex)
    need = len(spec.scenarios) * len(seeds)

    def finished(row: dict) -> None:
        c = todo[row["evaluation"]]
        c["rows"].append(row)
        if len(c["rows"]) < need:
            return
        rows = c.pop("rows")
        rec: dict[str, Any] = {"candidate": c["candidate"], "evaluation": c["evaluation"], "params": c["params"],
                               "seeds": seeds, "search_loss": c["search_loss"], "status": "ok", "error": None,
                               "loss": None, "targets": [], "checks": []}
        failed = [r for r in rows if r["status"] != "ok"]
        if failed:
            rec["status"] = "failed"
            rec["error"] = f"{failed[0]['label']} replicate {failed[0]['replicate']}: {failed[0]['error']}"
        else:
            scored = score(held, targets, rows)
            rec.update(targets=scored["targets"], loss=scored["loss"], checks=score_checks(held, targets, rows))
            if scored["error"]:
                rec["status"], rec["error"] = "failed", scored["error"]
            rec["totals"] = {label: [r["totals"] for r in sorted((r for r in rows if r["label"] == label),
                                                                  key=lambda r: r["replicate"])]
                             for label in spec.scenarios}
        rec["wall_s"] = round(time.perf_counter() - c["t0"], 3)
        write_text_atomic(folder / f"{c['candidate']}.json", to_json(rec, indent=None))
        records[c["candidate"]] = rec

    run_all(ex, run_task, tasks, finished, failed=failed_task)
    return [records[c["candidate"]] for c in cands]


def read_confirmation(spec: CalibrationSpec, out: Path, table: pd.DataFrame) -> list[dict]:
    """The records of this calibration's current candidates found in ``DIR/confirm``
    (those run on the current held-out seeds); [] when confirmation is off or absent."""
    cands = candidates(spec, table)
    seeds = heldout_seeds(spec) if cands else []
    found = []
    for c in cands:
        try:
            rec = json.loads((Path(out) / CONFIRM_DIR / f"{c['candidate']}.json").read_text())
        except (OSError, ValueError):
            continue
        if rec.get("params") == c["params"] and rec.get("seeds") == seeds:
            found.append({**rec, "search_loss": c["search_loss"], "evaluation": c["evaluation"]})
    return found
