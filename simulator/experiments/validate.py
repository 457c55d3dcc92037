"""``trafficsim validate``: the stylized facts of the sources, checked on the shipped scenarios.

Runs the scenarios the targets read (scenarios/targets/targets.toml by default, or another
targets file; simulator/experiments/targets.py) from the project's scenarios/ folder (or
another) on the same population and replicate seeds, and checks each target against the
replicates' mean and 95% confidence interval. The targets, their sources and which were
used for fitting are listed in docs/validation.md; most numbers are press claims
(docs/sources.md), used as calibration targets, not ground truth.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .targets import TARGETS_FILE, TargetSpec, evaluate as evaluate_target, load_file, load_targets, scenario_sources

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
PLOTTED = ("douyin", "kuaishou", "douyin_enterprise")  # the comparison plots of the record show these labels


def load(path: str | Path | None = None) -> tuple[list[TargetSpec], dict[str, tuple[str, tuple[str, ...]]]]:
    """The targets of a targets file (default scenarios/targets/targets.toml) and, per scenario
    label they read, (scenario file name in the scenarios folder, overrides)."""
    specs, variants = load_file(path)
    return specs, scenario_sources(specs, variants)


def results_by_label(results: list[dict]) -> dict[str, pd.DataFrame]:
    """Replicate summaries (from :func:`simulator.compare.compare`) as one frame per scenario,
    rows in replicate order."""
    out: dict[str, list] = {}
    for r in sorted(results, key=lambda r: (r["label"], r["replicate"])):
        out.setdefault(r["label"], []).append(r["totals"])
    return {k: pd.DataFrame(v) for k, v in out.items()}


def evaluate(runs: dict[str, pd.DataFrame], specs: list[TargetSpec] | None = None) -> pd.DataFrame:
    """One row per target (default: scenarios/targets/targets.toml's) on the replicates' totals."""
    rows = []
    for t in load_targets() if specs is None else specs:
        r = evaluate_target(t, runs)
        rows.append({"target": t.key, "role": t.role, "claim": t.claim, "source": t.source,
                     "source_kind": t.source_kind, "rule": r.rule_text, "value": r.value, "ci_low": r.ci_low,
                     "ci_high": r.ci_high, "pass": r.ok, "status": _status(r, t),
                     "miss": r.miss, "gap": t.gap or ""})
    return pd.DataFrame(rows)


def _status(r, t: TargetSpec) -> str:
    """PASS; N/A when the value cannot be measured at this setting (NaN: e.g. a metric that
    needs a longer run); else GAP for a known gap, FAIL otherwise."""
    import math

    if r.ok:
        return "PASS"
    if not math.isfinite(r.miss):  # (evaluate_target: NaN when the rule's statistics are)
        return "N/A"
    return "GAP" if t.gap else "FAIL"


ROLE_TITLES = {"fit": "Fit set (the scenarios were calibrated to these)", "check": "Check set (never tuned on)"}


def markdown(table: pd.DataFrame, replicates: int, setting: str = "") -> str:
    """The table grouped by role (fit set, then check set), and the known gaps."""
    lines = [f"{replicates} replicates per scenario{setting}; value = mean [95% CI]."]
    for role, title in ROLE_TITLES.items():
        part = table[table["role"] == role]
        if part.empty:
            continue
        lines += ["", f"{title}: {int(part['pass'].sum())}/{len(part)} pass", "",
                  "| target | source kind | rule | value [95% CI] | pass |", "|---|---|---|---|---|"]
        for _, r in part.iterrows():
            lines.append(f"| {r['target']} | {r['source_kind']} | {r['rule']} | {r['value']:.3g} "
                         f"[{r['ci_low']:.3g}, {r['ci_high']:.3g}] | {r['status']} |")
    gaps = table[table["status"] == "GAP"]
    if len(gaps):
        lines += ["", "Known gaps (failing, explained in docs/validation.md):"]
        lines += [f"- {r['target']}: {r['gap']}" for _, r in gaps.iterrows()]
    unmeasured = table[table["status"] == "N/A"]
    if len(unmeasured):
        lines += ["", "Not measurable at this setting (NaN: e.g. a metric that needs a longer run; "
                  "docs/outputs.md says what each needs): " + ", ".join(unmeasured["target"])]
    return "\n".join(lines)


def verdict(table: pd.DataFrame) -> tuple[bool, str]:
    """(True when every target passes or is a known gap, the one-line summary)."""
    passed = int(table["pass"].sum())
    gaps = int((table["status"] == "GAP").sum())
    unmeasured = int((table["status"] == "N/A").sum())
    failed = len(table) - passed - gaps - unmeasured
    line = f"{passed}/{len(table)} targets pass"
    if gaps:
        line += f"; {gaps} known gap{'s' if gaps > 1 else ''} (docs/validation.md)"
    if unmeasured:
        line += f"; {unmeasured} not measurable at this setting (N/A)"
    if failed:
        line += f"; {failed} FAIL"
    return failed == 0, line


def setting_name(steps: int, users: int) -> str:
    return f"{steps} days, {users:,} users"


def _setting_key(name: str) -> tuple:
    """Columns in order of users, then days ("30 days, 10,000 users"); others last."""
    import re

    m = re.fullmatch(r"(\d+) days, ([\d,]+) users", name)
    return (0, int(m.group(2).replace(",", "")), int(m.group(1))) if m else (1, 0, 0, name)


BEGIN, END = "<!-- validate-settings:begin -->", "<!-- validate-settings:end -->"


def settings_table(old: str, table: pd.DataFrame, setting: str) -> str:
    """``old`` (a Markdown file's text) with its target × setting table (between the
    BEGIN and END markers; appended when absent) given this run's column: the status
    and value of each target under ``setting`` (a column of that name is replaced)."""
    columns: dict[str, dict[str, str]] = {}
    roles: dict[str, str] = {}
    head, tail = old, ""
    if BEGIN in old and END in old:
        head, rest = old.split(BEGIN, 1)
        block, tail = rest.split(END, 1)
        rows = [r for r in block.strip().splitlines() if r.startswith("|")]
        if len(rows) >= 2:
            header = [c.strip() for c in rows[0].strip("|").split("|")]
            for r in rows[2:]:
                cells = [c.strip() for c in r.strip("|").split("|")]
                roles[cells[0]] = cells[1]
                for name, cell in zip(header[2:], cells[2:]):
                    columns.setdefault(name, {})[cells[0]] = cell
    elif old and not old.endswith("\n"):
        head = old + "\n"
    columns[setting] = {r["target"]: f"{r['status']} {r['value']:.3g}" for _, r in table.iterrows()}
    columns = dict(sorted(columns.items(), key=lambda kv: _setting_key(kv[0])))
    for _, r in table.iterrows():
        roles[r["target"]] = r["role"]
    targets = list(dict.fromkeys([*roles]))
    targets.sort(key=lambda t: 0 if roles[t] == "fit" else 1)  # stable: the file's order within a role
    lines = ["| target | role | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    lines += [f"| {t} | {roles[t]} | " + " | ".join(columns[c].get(t, "–") for c in columns) + " |" for t in targets]
    return head + BEGIN + "\n" + "\n".join(lines) + "\n" + END + tail
