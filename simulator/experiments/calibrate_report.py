"""What a finished calibration writes: the calibrated scenario files, the report (fit per
target, each parameter's best value with its "good set" range, identifiability) with its
plots, and the manifest. The method and what the numbers mean: docs/calibration.md.

Uncertainty is a **good set** (a loss-level set, as in profile likelihood): the
evaluations whose loss is at most the best loss + ``tolerance``. Each parameter's range
over the good set is its uncertainty interval. **Identifiability** reads the **top
set**, the best quarter of the evaluations (at least ``MIN_TOP``): a parameter the
targets pin down takes similar values in all of them, one they leave free takes values
all over its range. The top set's spread s (max − min, as a share of the searched
range; log scale for a log parameter) is set against chance: the probability that n
uniform draws over the range spread no more than s, P = n s^(n−1) − (n−1) s^n. P ≥ 0.05:
**free** (the top set is as spread as chance: the targets leave the parameter free, as
far as this budget can tell); P < 0.05 and s ≤ 0.3: **pinned**; else **partly pinned**
(narrower than chance, but still wide). ``plots/parameters.png`` shows every
evaluation's loss against each parameter with its profile (the lowest loss in each of
``PROFILE_BINS`` bins of the range).
"""

from __future__ import annotations

import html
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..io.outputs import to_json, write_text_atomic
from .calibrate_spec import CalibrationSpec, applies_to, base_data

PROFILE_BINS = 8  # the profile line of plots/parameters.png
TOP_SHARE, MIN_TOP = 0.25, 5  # the top set: the best quarter of the evaluations, at least 5
ALPHA = 0.05  # the top set's spread is "narrower than chance" below this probability under uniform draws
PINNED = 0.3  # ... and "pinned" when it is also at most this share of the range
REPORT_FILES = ("calibration.json", "evaluations/", "evaluations.parquet", "report.md", "report.html", "manifest.json",
                "scenarios/<label>.toml", "parameters.csv", "confirm/<candidate>.json", "plots/convergence.png", "plots/parameters.png", "plots/fit.png")


# --------------------------------------------------------------------------- analysis


def ok_rows(table: pd.DataFrame) -> pd.DataFrame:
    if not len(table):
        return table
    return table[(table["status"] == "ok") & table["loss"].notna()]


def best_row(table: pd.DataFrame) -> pd.Series | None:
    ok = ok_rows(table)
    if not len(ok):
        return None
    return ok.sort_values(["loss", "evaluation"], kind="stable").iloc[0]


def _unit(spec: CalibrationSpec, name: str, values) -> np.ndarray:
    """Values mapped to [0, 1] on the parameter's scale (log for a log parameter)."""
    p = spec.parameters[name]
    lo, hi = p.range
    v = np.asarray(values, dtype=float)
    if p.log:
        return (np.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (v - lo) / (hi - lo)


def profile(spec: CalibrationSpec, table: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per bin of the parameter's range: its bounds, the evaluations in it and the lowest loss."""
    p = spec.parameters[name]
    ok = ok_rows(table)
    u = _unit(spec, name, ok[f"param.{name}"]) if len(ok) else np.array([])
    b = np.clip((u * PROFILE_BINS).astype(int), 0, PROFILE_BINS - 1) if len(ok) else np.array([], int)
    edges = np.linspace(0, 1, PROFILE_BINS + 1)
    lo, hi = p.range
    to_value = (lambda x: math.exp(math.log(lo) + x * (math.log(hi) - math.log(lo)))) if p.log else \
        (lambda x: lo + x * (hi - lo))
    losses = ok["loss"].to_numpy(dtype=float) if len(ok) else np.array([])
    rows = []
    for k in range(PROFILE_BINS):
        inside = losses[b == k]
        rows.append({"bin": k, "low": to_value(edges[k]), "high": to_value(edges[k + 1]), "evaluations": len(inside),
                     "min_loss": float(inside.min()) if len(inside) else float("nan")})
    return pd.DataFrame(rows)


def top_set(spec: CalibrationSpec, table: pd.DataFrame) -> pd.DataFrame:
    """The best quarter of the ok evaluations (at least ``MIN_TOP``, ties by evaluation)."""
    ok = ok_rows(table).sort_values(["loss", "evaluation"], kind="stable")
    return ok.head(max(MIN_TOP, math.ceil(TOP_SHARE * len(ok))))


def parameters_summary(spec: CalibrationSpec, table: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: best value, good-set range, the top set's spread (share of the
    range) and the identifiability verdict read from it."""
    best = best_row(table)
    ok = ok_rows(table)
    rows = []
    if best is None:
        return pd.DataFrame(rows)
    good = ok[ok["loss"] <= best["loss"] + spec.tolerance]
    top = top_set(spec, table)
    for name, p in spec.parameters.items():
        col = f"param.{name}"
        u = _unit(spec, name, top[col])
        spread = float(u.max() - u.min())
        n = len(top)
        chance = float(n * spread ** (n - 1) - (n - 1) * spread ** n)  # P(range of n uniform draws <= spread)
        if len(ok) < MIN_TOP * 2:
            verdict = "unknown (too few evaluations)"
        elif chance >= ALPHA:
            verdict = "free"
        elif spread <= PINNED:
            verdict = "pinned"
        else:
            verdict = "partly pinned"
        rows.append({"parameter": name, "key": spec.key_of(name), "scenarios": ", ".join(applies_to(spec, name)),
                     "range_low": p.range[0], "range_high": p.range[1], "log": p.log, "best": best[col],
                     "good_low": good[col].min(), "good_high": good[col].max(), "good_n": len(good),
                     "top_n": n, "top_spread": spread, "top_chance": chance, "identifiability": verdict})
    return pd.DataFrame(rows)


def best_targets(out: Path, table: pd.DataFrame) -> list[dict]:
    best = best_row(table)
    if best is None:
        return []
    e = json.loads((out / "evaluations" / f"e{int(best['evaluation']):05d}.json").read_text())
    return e["targets"]


def check_targets(out: Path, spec: CalibrationSpec, fitted: list, table: pd.DataFrame) -> list[dict]:
    """The check targets (:func:`score_checks`) scored at the best evaluation from its
    stored replicate totals (never fitted)."""
    best = best_row(table)
    if best is None:
        return []
    e = json.loads((out / "evaluations" / f"e{int(best['evaluation']):05d}.json").read_text())
    rows = [{"label": lb, "replicate": r, "totals": tot} for lb, reps in e["totals"].items()
            for r, tot in enumerate(reps)]
    return score_checks(spec, fitted, rows)


def score_checks(spec: CalibrationSpec, fitted: list, rows: list[dict]) -> list[dict]:
    """The targets file's other targets (not fitted here) that read only this
    calibration's scenarios, scored on ``rows`` (label, replicate, totals at each run length)."""
    from . import targets as tg
    from .calibrate import _frames, _num

    if spec.fit is None and spec.targets:
        return []
    try:
        every = tg.load_targets(spec.targets_file or tg.TARGETS_FILE)
    except Exception:
        return []
    keys = {t.key for t in fitted}
    others = [t for t in every if t.key not in keys and all(lb in spec.scenarios for lb in tg.scenarios_needed([t]))]
    if not others:
        return []
    lengths = spec.lengths()
    out_rows = []
    for c in range(len(lengths) if lengths else 1):
        runs = _frames(rows, list(spec.scenarios), c)
        for t in others:
            try:
                res = tg.evaluate(t, runs)
            except (KeyError, ValueError) as exc:
                out_rows.append({"target": t.key, "steps": lengths[c] if lengths else None, "value": None,
                                 "ci_low": None, "ci_high": None, "ok": False, "miss": None, "rule": str(exc)})
                continue
            out_rows.append({"target": t.key, "steps": lengths[c] if lengths else None, "value": _num(res.value),
                             "ci_low": _num(res.ci_low), "ci_high": _num(res.ci_high), "ok": bool(res.ok),
                             "miss": _num(res.miss), "rule": res.rule_text})
    return out_rows


def given_values(spec: CalibrationSpec) -> dict:
    """{parameter: its value in the scenarios as given} (read from the first scenario it
    applies to, its variant overrides applied): what calibrated files that keep the
    scenarios as given hold."""
    from ..config.loading import _apply_sets, scenario_from_dict

    out: dict = {}
    for label in spec.scenarios:
        names = [n for n in spec.parameters if label in applies_to(spec, n) and n not in out]
        if not names:
            continue
        data, origin = base_data(spec, label)
        resolved = scenario_from_dict(_apply_sets(data, spec.sets_of(label), origin, source=spec.source),
                                      spec.file_of(label), origin).model_dump(mode="json")
        for n in names:
            v = resolved
            for part in spec.key_of(n).split("."):
                v = v[part]
            out[n] = v
    return out


# --------------------------------------------------------------------------- outputs


def calibrated_scenarios(spec: CalibrationSpec, best: pd.Series | None, fp: str,
                         confirmed: dict | None = None) -> dict[str, str]:
    """label -> TOML text: the label's scenario (its file, its variant overrides) with the
    calibrated parameters set (``best``: the search's best, or with ``confirmed`` the
    confirmation's choice; where that is the scenarios as given, their own values),
    fully resolved, under a header saying where it comes from. The calibration's ``[set]``
    and run lengths are conditions of the fit, not written in."""
    from ..config.loading import _apply_sets, scenario_from_dict, to_toml

    out = {}
    if best is None:
        return out
    src = spec.source if spec.source == "<dict>" else str(Path(spec.source).resolve())
    kept = confirmed is not None and confirmed["evaluation"] is None  # the scenarios as given won
    given = given_values(spec) if kept else {}
    for label in spec.scenarios:
        data, origin = base_data(spec, label)
        names = [n for n in spec.parameters if label in applies_to(spec, n)]
        values = ({n: given[n] for n in names} if kept else
                  {n: (int(best[f"param.{n}"]) if spec.is_int(n) else float(best[f"param.{n}"])) for n in names})
        sets = spec.sets_of(label) + ([] if kept else [(spec.key_of(n), v) for n, v in values.items()])
        scenario = scenario_from_dict(_apply_sets(data, sets, origin, source=src), spec.file_of(label), origin)
        head = [f"# Calibrated scenario {label!r}: written by `trafficsim calibrate` from {src}",
                f"# (calibration {spec.name!r}, fingerprint {fp[:12]}), best of {int(best['evaluation']) + 1}+ "
                f"evaluations: evaluation {int(best['evaluation'])}, loss {best['loss']:.6g}"
                + (f"; on {len(confirmed['seeds'])} held-out seeds the scenarios as given did best (held-out "
                   f"loss {confirmed['loss']:.6g}, no evaluation lower): this file keeps their values."
                   if kept else f"; chosen on {len(confirmed['seeds'])} held-out seeds (held-out loss "
                   f"{confirmed['loss']:.6g})." if confirmed else "."),
                f"# Base: {spec.file_of(label)}" + (f" with {', '.join(f'{k}={v}' for k, v in spec.sets_of(label))}"
                                                  if spec.sets_of(label) else "") + ".",
                ("# Calibrated keys, kept as given (range searched):" if kept else "# Calibrated keys (range searched):")
                if names else "# No calibrated key applies to this scenario."]
        head += [f"#   {spec.key_of(n)} = {values[n]!r}   (range {list(spec.parameters[n].range)}"
                 f"{', log scale' if spec.parameters[n].log else ''})" for n in names]
        head += [f"# Fitted under: steps {spec.steps if spec.steps is not None else 'of the scenario'}, "
                 f"{spec.replicates} replicates, seed {spec.seed}"
                 + (f", [set] {json.dumps(spec.set)}" if spec.set else "") + " (not written below).",
                 "# Every key below is the fully resolved scenario (defaults included).", ""]
        out[label] = "\n".join(head) + "\n" + to_toml(scenario)
    return out


def _fmt(v, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}"


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def report_sections(spec: CalibrationSpec, table: pd.DataFrame, params: pd.DataFrame, fit: list[dict],
                    checks: list[dict], confirmation: list[dict] | None = None,
                    chosen: dict | None = None) -> list[tuple[str, str, list[str], list[list[str]]]]:
    """(title, intro, header, rows) of each table of the report."""
    best = best_row(table)
    n_ok = len(ok_rows(table))
    secs = []
    if best is not None:
        good = int((ok_rows(table)["loss"] <= best["loss"] + spec.tolerance).sum())
        secs.append(("Best evaluation", f"evaluation {int(best['evaluation'])} of {len(table)} "
                     f"({n_ok} ok, {len(table) - n_ok} failed); loss {best['loss']:.4g} "
                     f"({'sum of squared misses' if spec.loss == 'squared' else 'sum of misses'}); good set: {good} "
                     f"evaluation(s) with loss <= best + {spec.tolerance:g}.", [], []))
    at = lambda t: f" @ {t['steps']} d" if t.get("steps") is not None else ""  # noqa: E731
    if confirmation:
        n_seeds = len(confirmation[0]["seeds"])
        secs.append(("Confirmation on held-out seeds",
                     f"the scenarios as given and the {len(confirmation) - 1} best evaluations of the search, rerun on "
                     f"{n_seeds} seeds the search never used (held-out loss: the fit targets' misses on those runs); "
                     "the calibrated scenarios take the candidate with the lowest held-out loss, the scenarios as "
                     "given included (then they keep their values). A search loss well below its held-out "
                     "loss was partly luck of the search's replicates."
                     + (f" Here no evaluation beats the scenarios as given on these seeds (held-out loss "
                        f"{_fmt(chosen['loss'])}): the calibrated scenarios keep their values."
                        if chosen is not None and chosen["evaluation"] is None else ""),
                     ["candidate", "search loss", "held-out loss", "fit targets failing (held-out)",
                      "check targets passing (held-out)", "chosen"],
                     [[("scenarios as given" if r["evaluation"] is None else f"evaluation {r['evaluation']}"),
                       _fmt(r["search_loss"]), _fmt(r["loss"]) if r["status"] == "ok" else f"failed: {r['error']}",
                       ", ".join(t["target"] + at(t) for t in r["targets"] if not t["ok"]) or "none",
                       f"{sum(bool(t['ok']) for t in r.get('checks', []))} of {len(r.get('checks', []))}",
                       "yes" if chosen is not None and r["candidate"] == chosen["candidate"] else ""]
                      for r in confirmation]))
    where = ("the best parameters" if chosen is None else
             f"the scenarios as given (kept), on the {len(chosen['seeds'])} held-out seeds" if chosen["evaluation"] is None
             else f"the calibrated parameters (evaluation {chosen['evaluation']}), on the {len(chosen['seeds'])} "
             "held-out seeds")
    reps = len(chosen["seeds"]) if chosen is not None else spec.replicates
    secs.append((f"Fit per target at {where}",
                 f"mean over {reps} replicates [95% CI]; miss = 0 when the rule holds.",
                 ["target", "rule", "value [95% CI]", "pass", "miss"],
                 [[t["target"] + at(t), t["rule"], f"{_fmt(t['value'])} [{_fmt(t['ci_low'])}, {_fmt(t['ci_high'])}]",
                   "PASS" if t["ok"] else "FAIL", _fmt(t["miss"])] for t in fit]))
    if checks:
        secs.append((f"Check targets at {where} (not fitted)",
                     "the targets file's other targets on these scenarios, scored on the "
                     + ("held-out runs." if chosen is not None else "best evaluation's runs."),
                     ["target", "rule", "value [95% CI]", "pass"],
                     [[t["target"] + at(t), t["rule"], f"{_fmt(t['value'])} [{_fmt(t['ci_low'])}, {_fmt(t['ci_high'])}]",
                       "PASS" if t["ok"] else "FAIL"] for t in checks]))
    if len(params):
        secs.append(("Parameters",
                     "best value; good set = its range among the evaluations with loss <= best + tolerance (n); "
                     f"top spread = its range among the best quarter of the evaluations (at least {MIN_TOP}; n) as a "
                     "share of the searched range (log scale for log parameters); P = chance that n uniform draws "
                     f"spread no more: free if P >= {ALPHA:g}, pinned if P < {ALPHA:g} and spread <= {PINNED:g}, else "
                     "partly pinned (docs/calibration.md).",
                     ["parameter", "scenarios", "searched", "best", "good set (n)", "top spread (n)", "P", "identifiability"],
                     [[r["parameter"] if r["parameter"] == r["key"] else f"{r['parameter']} ({r['key']})", r["scenarios"],
                       f"[{_fmt(r['range_low'])}, {_fmt(r['range_high'])}]" + (" log" if r["log"] else ""),
                       _fmt(r["best"]), f"[{_fmt(r['good_low'])}, {_fmt(r['good_high'])}] ({r['good_n']})",
                       f"{_fmt(r['top_spread'], 2)} ({r['top_n']})", _fmt(r["top_chance"], 2), r["identifiability"]] for _, r in params.iterrows()]))
    return secs


def _loss_scale(ax, losses: pd.Series) -> None:
    """Log scale when the losses span more than a factor of 20 (symlog when some are 0)."""
    pos = losses[losses > 0]
    if not len(pos) or pos.max() / pos.min() <= 20:
        return
    if (losses > 0).all():
        ax.set_yscale("log")
    else:
        ax.set_yscale("symlog", linthresh=float(pos.min()))


def write_plots(folder: Path, spec: CalibrationSpec, table: pd.DataFrame, fit: list[dict],
                targets: list | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.plots import save

    folder.mkdir(exist_ok=True)
    ok = ok_rows(table)
    best = best_row(table)
    paths = []
    # convergence: every evaluation's loss and the best so far
    fig, ax = plt.subplots(figsize=(6, 3.6))
    if len(ok):
        ax.scatter(ok["evaluation"], ok["loss"], s=12, color="#999", label="evaluation")
        full = table.sort_values("evaluation")
        running = full["loss"].where(full["status"] == "ok").cummin()
        ax.step(full["evaluation"], running, where="post", color="#C44E52", label="best so far")
        _loss_scale(ax, ok["loss"])
        ax.legend()
    ax.set_xlabel("evaluation")
    ax.set_ylabel("loss")
    ax.set_title(f"{spec.name}: convergence")
    save(fig, folder / "convergence.png")
    paths.append(folder / "convergence.png")
    # parameters: loss against each parameter, good set highlighted, profile line
    names = list(spec.parameters)
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        col = f"param.{name}"
        if best is not None:
            good = ok[ok["loss"] <= best["loss"] + spec.tolerance]
            ax.scatter(ok[col], ok["loss"], s=10, color="#999", label="evaluation")
            ax.scatter(good[col], good["loss"], s=14, color="#55A868", label="good set")
            prof = profile(spec, table, name)
            mids = np.sqrt(prof["low"] * prof["high"]) if spec.parameters[name].log else (prof["low"] + prof["high"]) / 2
            ax.plot(mids, prof["min_loss"], color="#4C72B0", lw=1, ls="--", label="profile (lowest per eighth)")
            ax.axvline(best[col], color="#C44E52", lw=1, label="best")
            _loss_scale(ax, ok["loss"])
        if spec.parameters[name].log:
            ax.set_xscale("log")
        ax.set_xlim(*spec.parameters[name].range)
        ax.set_xlabel(name, fontsize=8)
        ax.set_ylabel("loss")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    if best is not None:
        axes.flat[0].legend(fontsize=7)
    save(fig, folder / "parameters.png")
    paths.append(folder / "parameters.png")
    # fit: each target's value with its CI at the best parameters, on its own scale, its band shaded
    bounds = {t.key: (getattr(t, "lo", None), getattr(t, "hi", None)) for t in (targets or [])}
    n = max(len(fit), 1)
    fig, axes = plt.subplots(n, 1, figsize=(6.5, 0.55 * n + 0.9), squeeze=False)
    for ax, t in zip(axes[:, 0], fit):
        ax.set_yticks([])
        ax.set_ylabel(t["target"] + (f" @{t['steps']}d" if t.get("steps") is not None else ""), rotation=0,
                      ha="right", va="center", fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        v = t["value"]
        if v is None:
            continue
        lo = t["ci_low"] if t["ci_low"] is not None else v
        hi = t["ci_high"] if t["ci_high"] is not None else v
        ax.errorbar([v], [0], xerr=[[v - lo], [hi - v]], fmt="o", color="#55A868" if t["ok"] else "#C44E52", capsize=3)
        b_lo, b_hi = bounds.get(t["target"], (None, None))
        if b_lo is not None or b_hi is not None:
            x0, x1 = ax.get_xlim()
            left = b_lo if b_lo is not None else min(x0, b_hi) - abs(x1 - x0)
            right = b_hi if b_hi is not None else max(x1, b_lo) + abs(x1 - x0)
            ax.axvspan(left, right, color="#55A868", alpha=0.15, lw=0)
            ends = [b for b in (b_lo, b_hi) if b is not None]
            a, b = min(x0, *ends), max(x1, *ends)
            ax.set_xlim(a - 0.05 * (b - a), b + 0.05 * (b - a))
    axes[0, 0].set_title("best parameters: mean, 95% CI (green: holds), band shaded", fontsize=8)
    save(fig, folder / "fit.png")
    paths.append(folder / "fit.png")
    return paths


def _html(title: str, secs, plots: list[Path], manifest: dict) -> str:
    import base64

    from ..io.report import _CSS, _table_html

    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{e(title)}</title><style>{_CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    for name, intro, header, rows in secs:
        parts += [f"<h2>{e(name)}</h2>", f'<p class="intro">{e(intro)}</p>']
        if header:
            parts.append(_table_html(header, rows))
    parts += ["<h2>Plots</h2>", '<div class="plots">']
    for p in plots:
        data = base64.b64encode(Path(p).read_bytes()).decode("ascii")
        parts.append(f'<figure><img alt="{e(p.stem)}" src="data:image/png;base64,{data}">'
                     f"<figcaption><code>{e(p.name)}</code></figcaption></figure>")
    parts += ["</div>", "<h2>Manifest</h2>", f"<pre>{e(json.dumps(manifest, indent=2, default=str))}</pre>",
              "</body></html>"]
    return "\n".join(parts) + "\n"


# what write_outputs installs in a calibration folder, the manifest last (the record is complete once it is there)
STAGED = ("scenarios", "plots", "report.md", "parameters.csv", "report.html", "manifest.json")


def write_outputs(out: Path, spec: CalibrationSpec, targets: list, table: pd.DataFrame, *, elapsed: float,
                  counts: dict, command: list[str] | None, executor: dict | None = None) -> None:
    """The calibrated scenarios, report.md/html, plots and manifest of a finished calibration,
    made in a hidden folder of ``out`` and moved into place once all are written: an
    interruption while they are made (the plots take seconds) leaves the folder's earlier
    ones as they were (those of the last finished call, if any), never some of each."""
    import os
    import shutil

    from ..io.outputs import clean_stale_partials

    clean_stale_partials(out)  # (left by a call killed outright while writing)
    stage = out / f".report.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        _write_outputs(stage, out, spec, targets, table, elapsed=elapsed, counts=counts, command=command,
                       executor=executor)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    (out / "manifest.json").unlink(missing_ok=True)  # incomplete until the new manifest lands
    for name in STAGED:  # (each the new one, or none if this call made none)
        if (out / name).is_dir():
            shutil.rmtree(out / name)
        if (stage / name).exists():
            os.replace(stage / name, out / name)
        else:
            (out / name).unlink(missing_ok=True)
    shutil.rmtree(stage)


def _write_outputs(out: Path, folder: Path, spec: CalibrationSpec, targets: list, table: pd.DataFrame, *,
                   elapsed: float, counts: dict, command: list[str] | None, executor: dict | None = None) -> None:
    """:func:`write_outputs` into ``out`` (the hidden folder) for the calibration ``folder``
    (its state, evaluations and confirmation); ``executor``: where this call ran its runs
    (``sweep.describe_executor``)."""
    import optuna

    from .. import __version__
    from ..io.outputs import environment
    from .calibrate import evaluation_codes, read_state

    t0 = time.perf_counter()
    state = read_state(folder)
    fp = state[1].get("fingerprint", "") if state else ""
    from .calibrate_confirm import choose, read_confirmation

    best = search_best = best_row(table)
    params = parameters_summary(spec, table)
    confirmation = read_confirmation(spec, folder, table)
    chosen = choose(confirmation)
    kept = chosen is not None and chosen["evaluation"] is None  # the scenarios as given won the confirmation
    if chosen is not None:
        if not kept:
            best = table[table["evaluation"] == chosen["evaluation"]].iloc[0]
        fit, checks = chosen["targets"], chosen["checks"]
    else:
        fit = best_targets(folder, table)
        checks = check_targets(folder, spec, targets, table)
    (out / "scenarios").mkdir(exist_ok=True)
    for label, text in calibrated_scenarios(spec, best, fp, chosen).items():
        write_text_atomic(out / "scenarios" / f"{label}.toml", text)
    plots = write_plots(out / "plots", spec, table, fit, targets)
    run_s = table["run_s"].dropna() if "run_s" in table else pd.Series(dtype=float)
    per_eval_runs = len(spec.scenarios) * spec.replicates
    manifest = {"trafficsim_version": __version__, "written_by": "trafficsim calibrate", "command": command,
                **({"cwd": os.getcwd()} if command is not None else {}),
                "calibration_file": None if spec.source == "<dict>" else str(Path(spec.source).resolve()),
                "name": spec.name, "fingerprint": fp, "method": spec.method, "seed": spec.seed, "budget": spec.budget,
                "batch": spec.batch, "replicates": spec.replicates, "replicate_seeds": spec.replicate_seeds(),
                "steps": spec.steps, "evaluations": len(table), "evaluations_ok": len(ok_rows(table)),
                "this_call": counts, "executor": executor,
                "run_codes": evaluation_codes(folder, spec),  # {source hash: runs} of the search's evaluations
                "confirmation": None if not confirmation else {
                    "seeds": confirmation[0]["seeds"],
                    "candidates": [{"evaluation": r["evaluation"], "search_loss": r["search_loss"],
                                    "heldout_loss": r["loss"], "status": r["status"]} for r in confirmation],
                    "chosen_evaluation": None if chosen is None else chosen["evaluation"],
                    "chosen": None if chosen is None else chosen["candidate"]},  # "as_given": the scenarios kept
                "calibrated_evaluation": None if best is None or kept else int(best["evaluation"]),
                "calibrated_parameters": (given_values(spec) if kept else {} if best is None
                                          else {n: best[f"param.{n}"] for n in spec.parameters}),
                "best_evaluation": None if search_best is None else int(search_best["evaluation"]),
                "best_loss": None if search_best is None else float(search_best["loss"]),
                "best_parameters": {} if search_best is None else {n: search_best[f"param.{n}"] for n in spec.parameters},
                "timings": {"elapsed_s": round(elapsed, 2), "report_s": None,
                            "elapsed_s_per_evaluation_run": round(elapsed / counts["ran"], 2) if counts.get("ran") else None,
                            "run_wall_s_mean": round(float(run_s.sum()) / (len(run_s) * per_eval_runs), 3)
                            if len(run_s) else None},
                **environment(), "pandas": pd.__version__, "optuna": optuna.__version__,
                "files": list(REPORT_FILES)}
    secs = report_sections(spec, table, params, fit, checks, confirmation, chosen)
    md = [f"# Calibration {spec.name}", ""]
    for name, intro, header, rows in secs:
        md += [f"## {name}", "", intro, ""]
        if header:
            md += _md_table(header, rows) + [""]
    md += ["## Plots", "", *(f"![{p.stem}](plots/{p.name})" for p in plots), "",
           "Method, good set and identifiability: docs/calibration.md.", ""]
    write_text_atomic(out / "report.md", "\n".join(md))
    params.to_csv(out / "parameters.csv", index=False)
    manifest["timings"]["report_s"] = round(time.perf_counter() - t0, 2)
    write_text_atomic(out / "report.html", _html(f"Calibration {spec.name}", secs, plots, manifest))
    write_text_atomic(out / "manifest.json", to_json(manifest) + "\n")
