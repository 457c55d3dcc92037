"""Targets as data: the stylized facts ``validate`` checks and ``calibrate`` fits.

One file (by default ``scenarios/targets/targets.toml``: a subfolder, so that the lists
of scenario files, the app's and the tests', do not take it for a scenario) lists the
targets. Each has a claim and its source, the kind of source, a role (``fit``: used to tune the scenarios; ``check``:
only checked, never tuned on) and a rule on the summary totals of one or two scenarios'
replicates. The file may also define scenario variants: a label, a scenario file of the
scenarios folder and ``--set`` overrides (e.g. a push policy), so that a target can
compare two policies. docs/validation.md documents the file; this module has no pandas
or model import at module level (the command line checks a targets file before it
loads them).

Rules (each evaluated on the replicates' totals; replicate r of every scenario shares
its seed, so per-replicate ratios and differences pair like with like):

``band``
    ``metric`` of ``scenario``.
``ratio``
    per replicate, ``metric`` of ``scenario`` / ``other_metric`` of ``other_scenario``
    (each defaults to the first one's).
``difference``
    per replicate, ``metric`` of ``scenario`` − ``other_metric`` of ``other_scenario``.

  These three test their value against ``lo`` and/or ``hi``: with ``on = "mean"`` (the
  default) the replicates' mean must lie in [lo, hi] (inclusive); with ``on = "ci"`` the
  whole 95% CI must lie strictly inside (lo, hi) (needs 2 replicates or more).

``separated``
    the 95% CI of ``metric`` in ``scenario`` lies entirely above the CI of the same
    metric in ``other_scenario`` (``transform = "one_minus"`` compares 1 − metric).
    The value reported is ``scenario``'s.

``miss`` (what ``calibrate`` sums) is 0 when the rule holds, else the distance by which the
tested statistic misses, divided by a scale: the band's width when both bounds are given,
else the bound's absolute value (else the value's size: the larger of its absolute mean
and its CI's half-width), for ``separated`` the two means'
mean absolute value. It is NaN when the value cannot be measured (e.g. a metric that is
NaN in a run too short for it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from ..config import ScenarioError
from ..config.loading import toml_document

TARGETS_FILE = Path(__file__).resolve().parents[2] / "scenarios" / "targets" / "targets.toml"
SOURCE_KINDS = ("press claim", "company statement", "industry data", "peer-reviewed", "model contrast")
ROLES = ("fit", "check")
RULES = ("band", "ratio", "difference", "separated")
ON = ("mean", "ci")
TRANSFORMS = ("none", "one_minus")


@dataclass(frozen=True)
class TargetSpec:
    key: str
    claim: str  # what the sources say, in words
    source: str  # e.g. "source 000", "Guinaudeau et al. 2022"
    source_kind: str  # one of SOURCE_KINDS
    role: str  # "fit" | "check"
    rule: str  # one of RULES (module docstring)
    scenario: str  # scenario label the metric is read from
    metric: str  # a summary total (docs/outputs.md)
    other_scenario: str | None = None  # ratio / difference: the denominator's or subtrahend's scenario; separated: the one below
    other_metric: str | None = None  # ratio / difference: its metric (default: metric)
    lo: float | None = None
    hi: float | None = None
    on: str = "mean"  # "mean" | "ci" (band, ratio, difference)
    transform: str = "none"  # separated: "one_minus" compares 1 − metric
    gap: str | None = None  # a known gap and why (docs/validation.md)

    def scenarios(self) -> list[str]:
        return [self.scenario] + ([self.other_scenario] if self.other_scenario and self.other_scenario != self.scenario
                                  else [])

    def rule_text(self) -> str:
        """The rule in words, as the validation table prints it."""
        def num(x):
            return f"{x:g}"
        if self.rule == "separated":
            what = "1 − " + self.metric if self.transform == "one_minus" else self.metric
            return f"{what}: {self.scenario}'s CI above {self.other_scenario}'s"
        other = self.other_scenario or self.scenario
        other_metric = self.other_metric or self.metric
        if self.rule == "band":
            what = self.metric
        else:
            op = "/" if self.rule == "ratio" else "−"
            left = self.scenario if self.metric == other_metric else f"{self.scenario}.{self.metric}"
            right = other if self.metric == other_metric else f"{other}.{other_metric}"
            what = f"{left} {op} {right}" + (f" ({self.metric})" if self.metric == other_metric else "")
        if self.on == "mean":
            if self.lo is not None and self.hi is not None:
                return f"{what}: mean in {num(self.lo)}..{num(self.hi)}"
            return f"{what}: mean " + (f">= {num(self.lo)}" if self.lo is not None else f"<= {num(self.hi)}")
        parts = ([f"above {num(self.lo)}"] if self.lo is not None else []) + \
                ([f"below {num(self.hi)}"] if self.hi is not None else [])
        return f"{what}: CI " + " and ".join(parts)


@dataclass(frozen=True)
class Variant:
    """A scenario label: a file of the scenarios folder and overrides (``--set`` syntax)."""
    label: str
    file: str
    sets: tuple[str, ...] = ()


@dataclass
class TargetResult:
    key: str
    value: float
    ci_low: float
    ci_high: float
    ok: bool
    rule_text: str
    miss: float  # >= 0; 0 when the rule holds; scale-free (module docstring); NaN when unmeasurable


# --------------------------------------------------------------------------- parsing


_STR = {"claim", "source", "source_kind", "role", "rule", "scenario", "metric", "other_scenario", "other_metric",
        "on", "transform", "gap"}
_NUM = {"lo", "hi"}
_REQUIRED = ("claim", "source", "source_kind", "role", "rule", "scenario", "metric")
_CHOICES = {"source_kind": SOURCE_KINDS, "role": ROLES, "rule": RULES, "on": ON, "transform": TRANSFORMS}


def _where(where: str) -> tuple[str, str]:
    """'file.toml: targets.KEY' -> ('file.toml', 'targets.KEY')."""
    source, _, key = where.rpartition(": ")
    return (source, key) if source else ("", where)


def parse_target(data: dict, where: str) -> TargetSpec:
    """One ``[targets.KEY]`` table as a :class:`TargetSpec`; ``where`` = "file.toml:
    targets.KEY" names it in errors (:class:`ScenarioError`: the CLI exits 2)."""
    source, prefix = _where(where)

    def fail(key: str, msg: str):
        raise ScenarioError(source, f"{prefix}.{key}" if key else prefix, msg)

    if not isinstance(data, dict):
        fail("", "must be a table of the target's fields")
    known = _STR | _NUM
    for k, v in data.items():
        if k not in known:
            fail(k, f"unknown field (allowed: {', '.join(sorted(known))})")
        if k in _STR and not (isinstance(v, str) and v.strip()):
            fail(k, f"must be a non-empty string, got {v!r}")
        if k in _NUM and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
            fail(k, f"must be a finite number, got {v!r}")
    for k in _REQUIRED:
        if k not in data:
            fail(k, "missing (required: " + ", ".join(_REQUIRED) + ")")
    for k, allowed in _CHOICES.items():
        if k in data and data[k] not in allowed:
            fail(k, f"{data[k]!r} is not allowed (allowed: {', '.join(repr(a) for a in allowed)})")
    rule = data["rule"]
    if rule == "separated":
        if "other_scenario" not in data:
            fail("other_scenario", "missing: a 'separated' rule compares scenario with other_scenario")
        for k in ("lo", "hi", "on", "other_metric"):
            if k in data:
                fail(k, "not used by a 'separated' rule (it compares two CIs of one metric)")
    else:
        if "lo" not in data and "hi" not in data:
            fail("lo", f"a {rule!r} rule needs lo and/or hi")
        if "lo" in data and "hi" in data and data["lo"] > data["hi"]:
            fail("hi", f"must be >= lo ({data['lo']}), got {data['hi']}")
        if "transform" in data and data["transform"] != "none":
            fail("transform", "only a 'separated' rule takes a transform")
        if rule == "band":
            for k in ("other_scenario", "other_metric"):
                if k in data:
                    fail(k, "not used by a 'band' rule (one scenario, one metric)")
        elif "other_scenario" not in data and "other_metric" not in data:
            fail("other_scenario", f"a {rule!r} rule needs other_scenario and/or other_metric")
    key = prefix.rpartition(".")[2]
    values = {f.name: data[f.name] for f in fields(TargetSpec) if f.name in data}
    values = {k: float(v) if k in _NUM else v for k, v in values.items()}
    return TargetSpec(key=key, **values)


def _read(path: Path) -> dict:
    from ..config.loading import read_toml
    return read_toml(path)


def _parse_variants(data: Any, source: str) -> dict[str, Variant]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(source, "scenarios", "must be a table of scenario labels")
    out = {}
    for label, t in data.items():
        where = f"scenarios.{label}"
        if not isinstance(t, dict):
            raise ScenarioError(source, where, "must be a table with 'file' (and optionally 'set')")
        for k in t:
            if k not in ("file", "set"):
                raise ScenarioError(source, f"{where}.{k}", "unknown field (allowed: file, set)")
        file = t.get("file")
        if not isinstance(file, str) or not file.endswith(".toml"):
            raise ScenarioError(source, f"{where}.file", f"must be a scenario file name ending in .toml, got {file!r}")
        sets = t.get("set", [])
        if not isinstance(sets, list) or not all(isinstance(s, str) and "=" in s for s in sets):
            raise ScenarioError(source, f"{where}.set", "must be a list of 'key=value' strings (as for --set)")
        out[label] = Variant(label, file, tuple(sets))
    return out


def load_file(path: str | Path | None = None) -> tuple[list[TargetSpec], dict[str, Variant]]:
    """The targets and the scenario labels of a targets file (default
    ``scenarios/targets/targets.toml``). Every scenario a target reads must be a variant of the
    file's ``[scenarios]`` table or a scenario file ``LABEL.toml`` of the scenarios folder
    (checked by the caller that knows the folder)."""
    path = Path(path) if path is not None else TARGETS_FILE
    data = _read(path)
    source = str(path)
    for k in data:
        if k not in ("targets", "scenarios"):
            raise ScenarioError(source, k, "unknown table (allowed: targets, scenarios)")
    raw = data.get("targets")
    if not isinstance(raw, dict) or not raw:
        raise ScenarioError(source, "targets", "missing or empty: the file needs at least one [targets.KEY] table")
    variants = _parse_variants(data.get("scenarios"), source)
    specs = [parse_target(t, f"{source}: targets.{k}") for k, t in raw.items()]
    return specs, variants


def load_targets(path: str | Path | None = None) -> list[TargetSpec]:
    """The targets of ``path`` (default ``scenarios/targets/targets.toml``); bad input raises
    :class:`ScenarioError` naming the file, the key and what is allowed."""
    return load_file(path)[0]


def load_variants(path: str | Path | None = None) -> dict[str, Variant]:
    """The file's scenario labels that are not plain ``LABEL.toml`` files."""
    return load_file(path)[1]


def record_text(path: str | Path, resolved: set[str]) -> str:
    """The targets file at ``path`` as a validation record keeps it: byte for byte, unless
    a variant of its ``[scenarios]`` table is one of the ``resolved`` labels, whose fully
    resolved scenario the record holds as ``LABEL.toml`` (its file, its ``set`` and the
    command's flags applied). Such a variant then reads that file with no ``set`` of its
    own: applied again on top of it, its ``set`` would undo the flags that set the same
    keys (``--steps`` against a variant's ``steps=60``), and the record would not rerun
    what was run. The rest of the file is written back as read (values, not comments)."""
    path = Path(path)
    data = _read(path)
    table = data.get("scenarios")
    if not isinstance(table, dict) or not set(table) & set(resolved):
        return path.read_text(encoding="utf-8")
    data["scenarios"] = {label: {"file": f"{label}.toml"} if label in resolved else t for label, t in table.items()}
    head = (f"# {path.name} as `trafficsim validate` read it ({path.resolve()}), written back without its comments:\n"
            "# each scenario variant below reads its fully resolved file in scenarios/ (its set and the command's\n"
            "# flags applied there)\n")
    return head + toml_document(data)


# the totals compare.derived_totals adds to a run's summary (a test checks the list against a run)
DERIVED_TOTALS = ("ad_share_of_revenue", "commission_tips_share", "cac_ad_trend")


def summary_totals() -> set[str]:
    """The names of the summary totals a target can read (imports the measurements)."""
    from ..observation.derived import SHARE_NAMES
    from ..observation.measurements import MEASUREMENTS

    return {c for m in MEASUREMENTS for c in m.columns} | set(SHARE_NAMES) | set(DERIVED_TOTALS)


def check_metric_names(specs, source: str, where=None) -> None:
    """A :class:`ScenarioError` (exit 2) naming ``source`` and the key if a target reads a
    metric that is no summary total, before anything runs (it failed only after every run).
    ``where(target, field)`` gives the key (default ``targets.KEY.FIELD``)."""
    totals = summary_totals()
    for t in specs:
        for field in ("metric", "other_metric"):
            name = getattr(t, field, None)
            if name is not None and name not in totals:
                key = where(t, field) if where else f"targets.{t.key}.{field}"
                raise ScenarioError(source, key, f"target {t.key!r} reads {name!r}, which is not a summary total "
                                    "(the totals: docs/outputs.md, summary.json)")


def scenarios_needed(specs) -> list[str]:
    """The scenario labels the targets read, in first-use order."""
    out: list[str] = []
    for s in specs:
        for label in s.scenarios():
            if label not in out:
                out.append(label)
    return out


def scenario_sources(specs, variants: dict[str, Variant]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """label -> (scenario file name in the scenarios folder, overrides) for every label the
    targets read: a variant's file and sets, else ``LABEL.toml`` without overrides."""
    return {label: (variants[label].file, variants[label].sets) if label in variants else (f"{label}.toml", ())
            for label in scenarios_needed(specs)}


# --------------------------------------------------------------------------- evaluation


def _values(runs, label: str, metric: str, key: str):
    import numpy as np

    if label not in runs:
        raise KeyError(f"target {key}: no runs of scenario {label!r} (have: {', '.join(runs)})")
    frame = runs[label]
    if metric not in frame:
        raise KeyError(f"target {key}: scenario {label!r} has no summary total {metric!r}")
    return frame[metric].to_numpy(dtype=float) if hasattr(frame[metric], "to_numpy") else np.asarray(frame[metric], float)


def _scale(lo, hi, value) -> float:
    if lo is not None and hi is not None and hi > lo:
        return hi - lo
    bound = lo if lo is not None else hi
    s = abs(bound) if bound else abs(value)
    return s if s > 0 and math.isfinite(s) else 1.0


def evaluate(spec: TargetSpec, runs) -> TargetResult:
    """``spec`` on ``runs`` (scenario label -> one row per replicate, columns = summary
    totals, rows in replicate order)."""
    import numpy as np

    from .compare import _ci

    text = spec.rule_text()
    x = _values(runs, spec.scenario, spec.metric, spec.key)
    if spec.rule == "separated":
        y = _values(runs, spec.other_scenario, spec.metric, spec.key)
        if spec.transform == "one_minus":
            x, y = 1.0 - x, 1.0 - y
        hi, lo = _ci(x), _ci(y)
        text += f" [{lo[1]:.3g}, {lo[2]:.3g}]"
        if not (math.isfinite(hi[0]) and math.isfinite(lo[0])):
            return TargetResult(spec.key, hi[0], hi[1], hi[2], False, text, float("nan"))
        ok = bool(hi[1] > lo[2])
        if ok:
            miss = 0.0
        else:  # without CIs (one replicate), how far the means are from being apart
            gap = (lo[2] - hi[1]) if math.isfinite(hi[1]) and math.isfinite(lo[2]) else max(lo[0] - hi[0], 0.0)
            miss = max(gap, 0.0) / _scale(None, None, (abs(hi[0]) + abs(lo[0])) / 2)
        return TargetResult(spec.key, hi[0], hi[1], hi[2], ok, text, float(miss))
    if spec.rule != "band":
        y = _values(runs, spec.other_scenario or spec.scenario, spec.other_metric or spec.metric, spec.key)
        if len(y) != len(x):
            raise ValueError(f"target {spec.key}: {len(x)} replicates of {spec.scenario} against {len(y)} "
                             f"of {spec.other_scenario}; per-replicate rules pair replicates")
        with np.errstate(divide="ignore", invalid="ignore"):
            x = x / y if spec.rule == "ratio" else x - y
    m, a, b = _ci(x)
    if not math.isfinite(m):
        return TargetResult(spec.key, m, a, b, False, text, float("nan"))
    lo_stat, hi_stat = (m, m) if spec.on == "mean" else (a, b)
    has_ci = math.isfinite(a) and math.isfinite(b)
    if spec.on == "mean":
        ok = (spec.lo is None or m >= spec.lo) and (spec.hi is None or m <= spec.hi)
    else:
        ok = has_ci and (spec.lo is None or a > spec.lo) and (spec.hi is None or b < spec.hi)
        if not has_ci:  # no CI (one replicate): the miss is the mean's
            lo_stat = hi_stat = m
    short = max(spec.lo - lo_stat, 0.0) if spec.lo is not None else 0.0
    over = max(hi_stat - spec.hi, 0.0) if spec.hi is not None else 0.0
    # a bound at 0 has no size of its own: scale by the value's, at least its CI's half-width
    # (a mean near 0 with a wide CI would otherwise make a small miss look enormous)
    size = max(abs(m), (b - a) / 2) if has_ci else abs(m)
    miss = 0.0 if ok else (short + over) / _scale(spec.lo, spec.hi, size)
    return TargetResult(spec.key, m, a, b, bool(ok), text, float(miss))
