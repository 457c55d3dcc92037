"""Calibration files: the spec (scenarios, free parameters with ranges, targets, method,
budget, replicates, run lengths), its checks against the scenario schema and the targets,
and the fingerprint that ``--resume`` compares. Running a calibration: :mod:`.calibrate`.

A calibration file (TOML; relative paths are relative to the file)::

    name = "douyin_beta"
    seed = 1
    method = "tpe"            # tpe (optuna's Tree-structured Parzen Estimator) | random | qmc (Sobol)
    budget = 40               # evaluations in all
    batch = 4                 # evaluations asked at a time (fixed here, not by --workers: determinism)
    replicates = 3            # runs per scenario per evaluation (replicate r of every evaluation: same seed)
    steps = 30                # or [30, 90]: every target is scored at each run length (one run, read at each)
    loss = "miss"             # miss: sum of the targets' misses; squared: sum of their squares
    tolerance = 0.05          # the report's "good set": evaluations with loss <= best + tolerance
    confirm = 5               # then rerun the 5 best (and the scenarios as given) on held-out seeds; the
                              # calibrated files take the best held-out loss (default 0: the search's best)
    confirm_replicates = 6    # held-out seeds per scenario (default: twice replicates)
    targets_file = "../targets/targets.toml"   # default: the project's scenarios/targets/targets.toml
    fit = ["kuaishou_private_share_gmv"]   # keys of targets_file (default: its role = "fit" targets,
                                           # unless the file has inline targets only)

    [scenarios]               # label -> scenario file; the targets name these labels
    douyin = "../douyin.toml"
    douyin_push = { file = "../douyin.toml", set = ["platforms.douyin.ad_load=0.1"] }   # a variant

    [set]                     # fixed overrides in every scenario (e.g. a smaller population)
    "population.users" = 3000

    [parameters."platforms.douyin.beta"]    # a dotted scenario key, as in sweeps
    range = [0.5, 4.0]
    log = false               # sample on a log scale (range must be > 0)
    # scenarios = ["douyin"]  # default: every scenario that has the key's platform (shared value)

    [parameters.kuaishou_follow]            # a named parameter: the key is given
    key = "platforms.kuaishou.follow_share"
    range = [0.2, 0.5]

    [targets.my_toy_target]   # inline targets (toy problems), in targets.toml's format
    claim = "..."
    ...
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config.schema import NAME_MAX, output_name_error
from ..config.loading import (ScenarioError, _apply_sets, _field_of, _range_hint, _resolve, breaking_override,
                              conflict_error, read_toml, scenario_from_dict)
from .sweep_spec import Float, Int, canonical_json, fingerprint, with_input  # (Int, Float: numbers, never booleans)

CALIBRATION_KEYS = ("name", "seed", "method", "budget", "batch", "startup", "replicates", "steps", "loss", "tolerance",
                    "confirm", "confirm_replicates", "targets_file", "fit", "targets", "scenarios", "set", "parameters")
PARAMETER_KEYS = ("key", "range", "log", "scenarios")
UNFINGERPRINTED = ("budget", "confirm", "confirm_replicates")  # may change between a calibration and its --resume
LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Parameter(BaseModel):
    """One free parameter: a dotted scenario key, its range, its scale, where it applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    key: str | None = Field(None, description="dotted scenario key (default: the parameter's name)")
    range: tuple[Float, Float]
    log: bool = False
    scenarios: list[str] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _ordered(self):
        lo, hi = self.range
        if not lo < hi or not (math.isfinite(lo) and math.isfinite(hi)):  # (nan < x is False: it read "not ordered")
            raise ValueError(f"range must be [low, high] with low < high (two finite numbers), got [{lo}, {hi}]")
        if self.log and lo <= 0:
            raise ValueError("log = true needs a range above 0")
        return self


class ScenarioRef(BaseModel):
    """A scenario label's file and its own overrides (``--set`` syntax)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    set: list[str] = Field(default_factory=list)


class CalibrationSpec(BaseModel):
    """A validated calibration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("calibration", min_length=1, max_length=NAME_MAX,
                      description="names the default output folder, outputs/calibration-<name>")
    seed: Int = Field(1, ge=0, le=2**32 - 1)
    method: Literal["tpe", "random", "qmc"] = "tpe"
    budget: Int = Field(40, ge=1, le=100_000, description="evaluations in all")
    batch: Int = Field(4, ge=1, le=1_000, description="evaluations asked (and run in parallel) at a time")
    startup: Int = Field(10, ge=1, le=100_000, description="tpe: random evaluations before the model-based ones")
    replicates: Int = Field(3, ge=1, le=1_000)
    steps: Int | list[Int] | None = Field(None, description="run length(s); default: each scenario's")
    loss: Literal["miss", "squared"] = "miss"
    tolerance: Float = Field(0.05, ge=0, le=1e6, description="good set: loss <= best + tolerance")
    confirm: Int = Field(0, ge=0, le=1_000, description="the best evaluations rerun on held-out seeds (0: none)")
    confirm_replicates: Int | None = Field(None, ge=2, le=1_000, description="held-out seeds (default 2 x replicates)")
    targets_file: str | None = None
    fit: list[str] | None = None
    targets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    scenarios: dict[str, str | ScenarioRef] = Field(min_length=1)
    set: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, Parameter] = Field(min_length=1)
    source: str = Field("<dict>", exclude=True)

    @model_validator(mode="after")
    def _checks(self):
        if (why := output_name_error(self.name, "the calibration's default output folder (outputs/calibration-<name>)")):
            raise ValueError(f"name: {why}")
        for label in self.scenarios:
            if not LABEL.match(label):
                raise ValueError(f"scenarios.{label}: a label is letters, digits and _ (it names files and columns)")
        steps = self.steps if isinstance(self.steps, list) else [self.steps] if self.steps is not None else []
        if isinstance(self.steps, list) and (not steps or steps != sorted(set(steps))):
            raise ValueError("steps: a list of run lengths must be non-empty and increasing, e.g. [30, 90]")
        if any(not 1 <= s <= 3650 for s in steps):
            raise ValueError("steps: each run length must be 1..3650 days")
        for name, p in self.parameters.items():
            for label in p.scenarios or []:
                if label not in self.scenarios:
                    raise ValueError(f"parameters.{name}.scenarios: no scenario {label!r} "
                                     f"(scenarios: {', '.join(self.scenarios)})")
        if self.fit is not None and not self.fit:
            raise ValueError("fit: an empty list fits nothing (omit it to fit the targets file's fit set)")
        return self

    # ------------------------------------------------------------------ derived

    def file_of(self, label: str) -> str:
        ref = self.scenarios[label]
        return ref if isinstance(ref, str) else ref.file

    def sets_of(self, label: str) -> list[tuple[str, Any]]:
        """The label's own overrides (a variant's ``set``), parsed."""
        from ..config.loading import parse_set

        ref = self.scenarios[label]
        return [] if isinstance(ref, str) else [parse_set(s, variant_source(label)) for s in ref.set]

    def key_of(self, name: str) -> str:
        return self.parameters[name].key or name

    def lengths(self) -> list[int] | None:
        """The run lengths, or None: each scenario's own steps."""
        if self.steps is None:
            return None
        return list(self.steps) if isinstance(self.steps, list) else [self.steps]

    def replicate_seeds(self) -> list[int]:
        """Replicate r of every evaluation and scenario runs with seed r (common random numbers)."""
        import numpy as np

        return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
                for s in np.random.SeedSequence(self.seed).spawn(self.replicates)]

    def confirm_count_replicates(self) -> int:
        """Held-out seeds per scenario in the confirmation (default: twice the search's replicates, at least 2)."""
        return self.confirm_replicates if self.confirm_replicates is not None else max(2, 2 * self.replicates)

    def is_int(self, name: str) -> bool:
        field = _field_of(tuple(self.key_of(name).split(".")))
        return field is not None and field.annotation is int


# --------------------------------------------------------------------------- loading


def _error_from(exc: ValidationError, path: str) -> ScenarioError:
    errors = exc.errors()
    err = errors[0]
    if err["loc"][:1] == ("scenarios",) and len(err["loc"]) >= 3:  # str | ScenarioRef: say what a label takes
        table = next((e for e in errors if "ScenarioRef" in e["loc"]), None)
        if table is not None and isinstance(err.get("input"), dict):
            rest = [str(p) for p in table["loc"][3:]]
            key = ".".join(["scenarios", str(err["loc"][1]), *rest])
            msg = "unknown key (allowed: file, set)" if table["type"] == "extra_forbidden" else table["msg"]
            return ScenarioError(path, key, msg)
        return ScenarioError(path, f"scenarios.{err['loc'][1]}", "must be a scenario file name (a string) or "
                             "{ file = \"...\", set = [\"key=value\", ...] }" + f" (got {err.get('input')!r})")
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        allowed = PARAMETER_KEYS if len(err["loc"]) == 3 and err["loc"][0] == "parameters" else CALIBRATION_KEYS
        msg = f"unknown key (allowed: {', '.join(allowed)})"
    elif err["type"] == "literal_error":
        msg = f"{err['msg']} (got {err.get('input')!r})"
    else:
        msg = with_input(err)
    # a model-level check names its own key at the start of the message
    m = re.match(r"Value error, ([\w.\"-]+): (.*)", msg)
    if m and not loc:
        return ScenarioError(path, m.group(1), m.group(2))
    return ScenarioError(path, loc, msg.removeprefix("Value error, "))


def load_calibration(path: str | Path) -> CalibrationSpec:
    """Read and validate a calibration file: its keys, its scenarios, every parameter's key
    and range against the scenario schema, and its targets. Raises :class:`ScenarioError`
    naming the file, the key and what is allowed."""
    path = Path(path)
    data = read_toml(path)
    if isinstance(data.get("scenarios"), dict):
        for k, v in data["scenarios"].items():
            if isinstance(v, str):
                data["scenarios"][k] = str((path.parent / v).resolve())
            elif isinstance(v, dict) and isinstance(v.get("file"), str):
                v["file"] = str((path.parent / v["file"]).resolve())
    if isinstance(data.get("targets_file"), str):
        data["targets_file"] = str((path.parent / data["targets_file"]).resolve())
    try:
        spec = CalibrationSpec(**data, source=str(path))
    except ValidationError as exc:
        raise _error_from(exc, str(path)) from None
    except TypeError as exc:  # a top-level key that is not a valid identifier
        raise ScenarioError(str(path), "", f"{exc}") from None
    check(spec)
    return spec


def base_data(spec: CalibrationSpec, label: str) -> tuple[dict, dict]:
    """The merged scenario table of ``label`` (its extends chain) and the origin of each key."""
    origin: dict[str, str] = {}
    return _resolve(Path(spec.file_of(label)), origin), origin


def scenario_dict(spec: CalibrationSpec, label: str, params: dict[str, Any], seed: int,
                  steps: int | None = None) -> tuple[dict, dict]:
    """The scenario table of one run: base, ``[set]``, the parameters that apply to
    ``label``, seed and steps."""
    data, origin = base_data(spec, label)
    data = _apply_sets(data, list(spec.set.items()), origin, source=spec.source)
    data = _apply_sets(data, spec.sets_of(label), origin, source=variant_source(label))
    sets = [(spec.key_of(n), v) for n, v in params.items() if label in applies_to(spec, n)]
    sets.append(("seed", seed))
    if steps is not None:
        sets.append(("steps", steps))
    return _apply_sets(data, sets, origin, source=spec.source), origin


def variant_source(label: str) -> str:
    """Who set a key of a variant's own overrides (``scenarios.LABEL = { file, set }``), in
    a scenario table's origins: :func:`blamed` names it in the calibration file's terms."""
    return f"<scenarios.{label}.set>"


def blamed(spec: CalibrationSpec, label: str, exc: ScenarioError) -> ScenarioError:
    """``exc`` (a scenario of ``label`` refused) named in the calibration file's terms: a
    key of the variant's ``set`` as ``scenarios.LABEL.set``, a key of ``[set]`` as
    ``set.KEY``, also when the key refused is another one that it conflicts with (a
    check across keys, "population.merchants must be at most half of
    population.creators"); an error of the scenario file itself is left as it is."""
    variant = variant_source(label)
    if exc.source == variant:
        return ScenarioError(spec.source, f"scenarios.{label}.set", f"{exc.key}: {exc.message}" if exc.key else exc.message)
    data, _ = base_data(spec, label)
    sets = [(k, v, spec.source) for k, v in spec.set.items()] + [(k, v, variant) for k, v in spec.sets_of(label)]
    culprit = breaking_override(data, sets, exc)  # the first of our keys after which the scenario fails so
    if culprit is not None:
        who, key = culprit
        own = exc.on_path_of(key)
        at, msg = (exc.key, exc.message) if own else (key, conflict_error(who, key, exc).message)
        if who == variant:
            return ScenarioError(spec.source, f"scenarios.{label}.set", f"{at}: {msg}")
        return ScenarioError(spec.source, f"set.{at}", msg)
    if any(exc.at_or_under(k) for k in spec.set):
        return ScenarioError(spec.source, f"set.{exc.key}", exc.message)
    return exc


_APPLIES: dict[tuple, list[str]] = {}


def applies_to(spec: CalibrationSpec, name: str) -> list[str]:
    """The scenario labels parameter ``name`` sets: those listed, else every scenario that
    has the key's platform (a key outside ``platforms`` applies to all)."""
    p = spec.parameters[name]
    if p.scenarios is not None:
        return list(p.scenarios)
    cache = (spec.source, canonical_json(spec.model_dump(mode="json")["scenarios"]), name, spec.key_of(name))
    if cache not in _APPLIES:
        parts = spec.key_of(name).split(".")
        if parts[0] != "platforms" or len(parts) < 2:
            _APPLIES[cache] = list(spec.scenarios)
        else:
            _APPLIES[cache] = [label for label in spec.scenarios if parts[1] in platforms_of(spec, label)]
    return _APPLIES[cache]


def platforms_of(spec: CalibrationSpec, label: str) -> list[str]:
    from ..config.loading import declared_platforms

    data, _ = base_data(spec, label)
    return declared_platforms(data)


def _validate(spec: CalibrationSpec, label: str, params: dict[str, Any], key_of_error: str | None = None):
    data, origin = scenario_dict(spec, label, params, 0, spec.lengths()[-1] if spec.lengths() else None)
    return scenario_from_dict(data, spec.file_of(label), origin)


def largest_scenarios(spec: CalibrationSpec) -> list:
    """Each scenario label's scenario at the longest run length, with any parameter over
    ``population.users`` or ``steps`` at the top of its range: what a memory estimate
    needs (the CLI's warning)."""
    top = {n: (int(p.range[1]) if spec.is_int(n) else p.range[1]) for n, p in spec.parameters.items()
           if spec.key_of(n) in ("population.users", "steps")}
    return [_validate(spec, label, top) for label in spec.scenarios]


def _check_set_platforms(spec: CalibrationSpec, label: str) -> None:
    """A ``[set]`` key or a key of ``label``'s own set on a platform that ``label``'s
    scenario does not have: an error (a dotted key would create the platform with the
    default policy, silently adding a platform to that scenario's runs)."""
    has = platforms_of(spec, label)
    listing = f"scenario {label!r} has {', '.join(map(repr, has))}"
    for key, origin in [(k, spec.source) for k in spec.set] + [(k, variant_source(label)) for k, _ in spec.sets_of(label)]:
        parts = key.split(".")
        if parts[0] != "platforms" or (len(parts) > 1 and parts[1] in has):
            continue
        what = f"no platform {parts[1]!r} in scenario {label!r}" if len(parts) > 1 else "names no platform"
        how = ("[set] applies to every scenario; a key of one scenario's platform goes in that scenario's own set, "
               "scenarios.LABEL = { file = \"...\", set = [\"key=value\"] }") if origin == spec.source else \
            "a calibration tunes existing platforms, it cannot create one"
        raise ScenarioError(origin, key, f"{what} ({listing}); {how}")


def check(spec: CalibrationSpec) -> None:
    """Fail before any run if a scenario, a ``[set]`` key, a parameter or a target is not
    usable; the error names the calibration file and the key."""
    src = spec.source
    for key in list(spec.set) + [spec.key_of(n) for n in spec.parameters]:
        if key in ("seed", "steps"):
            raise ScenarioError(src, key, "set by the calibration (use its 'seed', 'replicates' and 'steps')")
    for label in spec.scenarios:
        try:
            base_data(spec, label)
        except ScenarioError as exc:
            raise ScenarioError(src, f"scenarios.{label}", str(exc)) from None
        try:
            _check_set_platforms(spec, label)
            _validate(spec, label, {})
        except ScenarioError as exc:
            raise blamed(spec, label, exc) from None
    for name, p in spec.parameters.items():
        key = spec.key_of(name)
        where = f"parameters.{name}"
        parts = key.split(".")
        labels = applies_to(spec, name)
        if parts[0] == "platforms":
            if len(parts) < 3:
                raise ScenarioError(src, where, f"{key!r} names no platform key (e.g. platforms.douyin.beta)")
            missing = [lb for lb in labels if parts[1] not in platforms_of(spec, lb)]
            if not labels or missing:
                have = {lb: platforms_of(spec, lb) for lb in spec.scenarios}
                listing = "; ".join(f"scenario {lb!r} has {', '.join(map(repr, ps))}" for lb, ps in have.items())
                which = f"scenario {missing[0]!r}" if missing else "any scenario it applies to"
                raise ScenarioError(src, where, f"no platform {parts[1]!r} in {which} ({listing}); a calibration "
                                    "tunes existing platforms, it cannot create one")
        if _field_of(tuple(parts)) is None and parts[0] != "platforms":
            pass  # the schema check below names an unknown key
        lo, hi = p.range
        if spec.is_int(name) and (lo != int(lo) or hi != int(hi)):
            raise ScenarioError(src, f"{where}.range", f"[{lo:g}, {hi:g}]: {key} is an integer key, give integer ends")
        for end in (lo, hi):
            value = int(end) if spec.is_int(name) else float(end)
            for label in labels:
                try:
                    _validate(spec, label, {name: value})
                except ScenarioError as exc:
                    if exc.on_path_of(key):
                        allowed = _range_hint(tuple(parts)).strip(" ()")
                        msg = (f"range = [{lo:g}, {hi:g}] is outside the allowed range "
                               f"({allowed.removeprefix('allowed ')})" if allowed and "allowed" in allowed
                               else f"{end:g} is not allowed: {exc.message}")
                        raise ScenarioError(src, where, msg) from None
                    raise blamed(spec, label, exc) from None
    fit_targets(spec)  # the targets exist and name scenarios of this calibration


# --------------------------------------------------------------------------- targets


def fit_targets(spec: CalibrationSpec) -> list:
    """The targets this calibration fits (``targets.TargetSpec``), checked: they exist and
    need only scenarios this calibration runs."""
    from . import targets as tg

    out = []
    src = spec.source
    for key, table in spec.targets.items():
        out.append(tg.parse_target(table, f"{src}: targets.{key}"))
    if spec.fit is not None or not spec.targets:
        path = Path(spec.targets_file) if spec.targets_file else tg.TARGETS_FILE
        try:
            every = tg.load_targets(path)
        except ScenarioError as exc:
            raise ScenarioError(src, "targets_file", str(exc)) from None
        by_key = {t.key: t for t in every}
        if spec.fit is None:
            chosen = [t for t in every if _in_fit_set(t)]
        else:
            unknown = [k for k in spec.fit if k not in by_key]
            if unknown:
                raise ScenarioError(src, "fit", f"no target {unknown[0]!r} in {path} (targets: {', '.join(by_key)})")
            chosen = [by_key[k] for k in spec.fit]
        out += chosen
    if not out:
        raise ScenarioError(src, "fit", "no target to fit (name targets with fit = [...] or add [[targets]] tables)")
    keys = [t.key for t in out]
    dup = next((k for k in keys if keys.count(k) > 1), None)
    if dup:
        raise ScenarioError(src, "targets", f"target {dup!r} is given twice")
    tg.check_metric_names(out, src, where=lambda t, field: f"targets.{t.key}.{field}" if t.key in spec.targets
                          else "fit")
    for t in out:
        if spec.replicates < 2 and (t.rule == "separated" or t.on == "ci"):  # (one run has no CI: a miss of 0)
            raise ScenarioError(src, "replicates", f"{spec.replicates}: target {t.key!r} tests a 95% CI "
                                f"({'separated' if t.rule == 'separated' else 'on = ci'}), which needs 2 "
                                "replicates or more")
        need = [lb for lb in tg.scenarios_needed([t]) if lb not in spec.scenarios]
        if need:
            raise ScenarioError(src, "fit" if t.key in (spec.fit or []) else "targets",
                                f"target {t.key!r} needs scenario(s) {', '.join(need)} "
                                f"(scenarios here: {', '.join(spec.scenarios)})")
    return out


def _in_fit_set(t) -> bool:
    for attr in ("set", "role", "use", "kind_of_use"):
        v = getattr(t, attr, None)
        if isinstance(v, str):
            return v == "fit"
    v = getattr(t, "fit", None)
    return bool(v) if v is not None else True


DESCRIPTIVE_TARGET_FIELDS = ("claim", "source", "source_kind", "role", "gap")  # words: no evaluation reads them


def target_fingerprint_data(t) -> Any:
    """What of a target an evaluation's score depends on (its rule, scenarios, metrics and
    bounds): a target's words (claim, source, role, known gap) can be edited without
    refusing a --resume."""
    if dataclasses.is_dataclass(t):
        return {k: v for k, v in dataclasses.asdict(t).items() if k not in DESCRIPTIVE_TARGET_FIELDS}
    if hasattr(t, "model_dump"):
        return t.model_dump(mode="json")
    return repr(t)


# --------------------------------------------------------------------------- fingerprint


def calibration_fingerprint(spec: CalibrationSpec) -> str:
    """sha256 of everything an evaluation's result depends on: the file's settings except
    the budget (a larger budget may resume a smaller one) and the confirmation's settings
    (they decide which evaluations are rerun after the search, not what the search finds;
    confirmation records carry their own points and seeds), each scenario's resolved table
    (its extends chain, ``[set]``), the fitted targets. ``--resume`` refuses a folder whose
    fingerprint differs."""
    settings = spec.model_dump(mode="json", exclude=set(UNFINGERPRINTED))
    resolved = {label: fingerprint(_validate(spec, label, {}).model_dump(mode="json")) for label in spec.scenarios}
    targets = [target_fingerprint_data(t) for t in fit_targets(spec)]
    return hashlib.sha256(canonical_json({"settings": settings, "scenarios": resolved,
                                          "targets": targets}).encode()).hexdigest()
