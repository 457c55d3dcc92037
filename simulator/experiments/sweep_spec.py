"""Sweep files: the spec (base scenario, ``[set]``, parameters as a grid, Latin hypercube
or Sobol design, replicates), its checks against the scenario schema, and the
fingerprint of each run's fully resolved scenario. Running a sweep: :mod:`.sweep`.
"""


from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from ..config.schema import NAME_MAX, output_name_error
from ..io.outputs import json_default
from ..config.loading import (ScenarioError, read_toml, _apply_sets, _field_of, _range_hint, _resolve, _toml_value,
                              breaking_override, conflict_error, scenario_from_dict)

SWEEP_KEYS = ("base", "name", "replicates", "seed", "steps", "method", "samples", "set", "parameters")
# the library that draws a sampled sweep's points (the points depend on its version; sweep.json names it)
SAMPLERS = {"lhs": "scipy", "sobol": "SALib"}


# numbers that are not booleans, for the sweep and calibration files: pydantic's lax mode
# reads ``replicates = true`` as 1 (and ``false`` as 0), a mistake that would run
# silently; strict ints also refuse 3.0
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]


def _bad(key: str, message: str) -> PydanticCustomError:
    """A sweep file's error at ``key`` from a check of ours (load_sweep names the file)."""
    return PydanticCustomError("sweep_file", "{key}: {message}", {"key": key, "message": message})


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    range: tuple[Float, Float]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.range[0] < self.range[1]:
            raise ValueError("range must be [low, high] with low < high")
        return self


class SweepSpec(BaseModel):
    """A validated sweep file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base: str = Field(description="base scenario file (resolved relative to the sweep file)")
    name: str = Field("sweep", min_length=1, max_length=NAME_MAX, description="names the default output folder, outputs/sweep-<name>")
    replicates: Int = Field(3, ge=1, le=10_000)
    seed: Int = Field(1, ge=0, le=2**63 - 1)
    steps: Int | None = Field(None, ge=1, le=3650, description="overrides the scenario's steps")
    method: Literal["grid", "lhs", "sobol"] = "grid"
    samples: Int = Field(16, ge=1, le=1_000_000, description="lhs: points; sobol: base sample size N")
    set: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, list[Any] | Range] = Field(min_length=1)
    source: str = Field("<dict>", exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if (why := output_name_error(name, "the sweep's default output folder (outputs/sweep-<name>)")) is not None:
            raise _bad("name", why)
        return name

    @field_validator("parameters", mode="before")
    @classmethod
    def _shapes(cls, parameters: Any, info: ValidationInfo):
        """Each parameter's shape for the method, in one sentence naming its key (before
        pydantic's own checks, whose union of a list and a range table would report
        ``parameters.KEY.list[any]: Input should be a valid list`` for a bad range)."""
        example = ('e.g. [parameters] "platforms.douyin.beta" = [0.5, 1.0] (grid) or '
                   '{ range = [0.5, 2.0] } (lhs, sobol)')
        if not isinstance(parameters, dict):
            raise _bad("parameters", f"must be a table of the keys to vary, {example}; got {_shown(parameters)}")
        if not parameters:
            raise _bad("parameters", f"a sweep needs at least one key to vary, {example}; the table is empty")
        method = info.data.get("method")
        if method not in ("grid", "lhs", "sobol"):
            return parameters  # a bad method: its own error comes first
        for key, v in parameters.items():
            if method == "grid":
                if not isinstance(v, (list, tuple)) or not v:
                    raise _bad(f"parameters.{key}", "method 'grid' needs a non-empty list of values, "
                               f"e.g. [0.5, 1.0]; got {_shown(v)}")
                seen = []  # (a list, not a set: values may be tables; 1 and 1.0 are one value)
                for x in v:
                    if x in seen:
                        raise _bad(f"parameters.{key}", f"the grid's values must differ: {_shown(x)} is given twice "
                                   f"in {_shown(v)} (its points would run twice, one value weighing double)")
                    seen.append(x)
                continue
            if isinstance(v, Range):
                continue
            if not (isinstance(v, dict) and set(v) == {"range"}):
                raise _bad(f"parameters.{key}", f"method '{method}' samples from a range: "
                           f"{{ range = [low, high] }} with low < high; got {_shown(v)}")
            r = v["range"]
            if not (isinstance(r, (list, tuple)) and len(r) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in r)
                    and r[0] < r[1]):
                raise _bad(f"parameters.{key}", "a range must be [low, high] with low < high (two finite "
                           f"numbers), got {_shown(r)}")
        return parameters

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

    def replicate_seeds(self) -> list[int]:
        """Replicate r's seed, the same at every point (common random numbers)."""
        return [int(s.generate_state(1, np.uint64)[0] >> np.uint64(1))
                for s in np.random.SeedSequence(self.seed).spawn(self.replicates)]

    def runs(self) -> list[dict[str, Any]]:
        """Every run: id, point index, replicate, seed, parameters."""
        seeds = self.replicate_seeds()
        out = []
        for p, params in enumerate(self.points()):
            for r in range(self.replicates):
                out.append({"run_id": f"p{p:05d}-r{r:03d}", "point": p, "replicate": r, "seed": seeds[r], "params": params})
        return out


def _shown(value: Any) -> str:
    """A value as it would be written in TOML (``[1]``, ``"x"``, ``{ range = [3, 1] }``), or
    as Python shows it where TOML has no such value (``None``)."""
    try:
        return _toml_value(value)
    except TypeError:
        return repr(value)


def with_input(err: dict) -> str:
    """A pydantic error record's message, with the value given when it is a scalar
    (``replicates: Input should be a valid integer (got True)``)."""
    msg = err["msg"]
    if err.get("input") is not None and not isinstance(err["input"], (dict, list)):
        msg += f" (got {err['input']!r})"
    return msg


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
        if err["type"] == "sweep_file":  # a check of ours (SweepSpec._shapes)
            raise ScenarioError(str(path), err["ctx"]["key"], err["ctx"]["message"]) from None
        if err["type"] == "missing" and loc == "parameters":
            raise ScenarioError(str(path), loc, "a sweep needs at least one key to vary, e.g. [parameters] "
                                '"platforms.douyin.beta" = [0.5, 1.0]; the file has no [parameters] table') from None
        msg = with_input(err) if err["type"] != "extra_forbidden" else f"unknown key (allowed: {', '.join(SWEEP_KEYS)})"
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


def largest_scenarios(spec: SweepSpec) -> list:
    """The scenarios a memory estimate needs (the CLI's warning): every point's when the
    sweep varies ``population.users`` or ``steps``, else the first point's (the points
    differ in nothing else a run's memory follows)."""
    points = spec.points()
    if not {"population.users", "steps"} & set(spec.parameters):
        points = points[:1]
    out = []
    for params in points:
        data, origin = scenario_dict(spec, params, 0)
        out.append(scenario_from_dict(data, spec.base, origin))
    return out


def base_platforms(spec: SweepSpec) -> list[str]:
    """The platforms of the base scenario (a sweep may tune them, never create one)."""
    data = _resolve(Path(spec.base), {})
    if isinstance(data.get("platforms"), dict):
        return list(data["platforms"])
    from ..config.schema import Scenario

    return list(Scenario.model_fields["platforms"].default_factory())


def check_keys(spec: SweepSpec) -> None:
    """Fail before any run if a key is not in the scenario schema or a point's value is
    not allowed; the error names the sweep file and the key."""
    for table, keys in (("set", spec.set), ("parameters", spec.parameters)):
        for key in keys:
            if key == "seed":
                raise ScenarioError(spec.source, key, "the seed is set by the sweep (use 'seed' and 'replicates')")
            if key == "steps" and spec.steps is not None:  # (the top-level steps would win over every run's)
                raise ScenarioError(spec.source, f"{table}.steps", f"the sweep's top-level 'steps' ({spec.steps}) "
                                    "sets every run's length; give steps in one place (drop the top-level key "
                                    "to vary it)")
    try:
        names = base_platforms(spec)
    except ScenarioError as exc:
        if exc.source:  # a file of the base's extends chain names itself
            raise
        raise ScenarioError(spec.source, "base", exc.message) from None  # the base itself: missing, a folder...
    for table, keys in (("set", spec.set), ("parameters", spec.parameters)):
        for key in keys:
            parts = key.split(".")
            if parts[0] == "platforms" and (len(parts) < 2 or parts[1] not in names):
                what = f"no platform {parts[1]!r} in the base scenario" if len(parts) > 1 else "names no platform"
                raise ScenarioError(spec.source, f"{table}.{key}", f"{what} (platforms: {', '.join(names)}); "
                                    "a sweep tunes existing platforms, it cannot create one")
    _check_ranges(spec)
    for params in spec.points():
        try:  # (applying the keys may fail too: a key inside a number, "name.x")
            data, origin = scenario_dict(spec, params, 0)
            scenario_from_dict(data, spec.base, origin)
        except ScenarioError as exc:
            ours = exc.source == "--set" or any(exc.at_or_under(k) for k in (*spec.set, *params))
            if not ours:  # a check across keys at a key the base scenario set, failing because of one of ours
                sets = [(k, v, "--set") for k, v in (*spec.set.items(), *params.items())]
                culprit = breaking_override(_resolve(Path(spec.base), {}), sets, exc)
                if culprit is not None:
                    raise ScenarioError(spec.source, culprit[1], conflict_error(*culprit, exc).message) from None
            raise ScenarioError(spec.source if ours else exc.source, exc.key, exc.message) from None


def _check_ranges(spec: SweepSpec) -> None:
    """A ``{ range = [low, high] }`` must lie inside the key's allowed range: the error
    names the range given and the allowed one (not a value sampled from it)."""
    for key, v in spec.parameters.items():
        if not isinstance(v, Range):
            continue
        lo, hi = v.range
        given = f"range = [{lo:g}, {hi:g}]"
        field = _field_of(tuple(key.split(".")))
        if field is not None and field.annotation is int:
            raise ScenarioError(spec.source, f"parameters.{key}", f"{given}: an integer key cannot be sampled from a "
                                f"range (the samples are fractional); use method = \"grid\" with a list of integers")
        for end in (lo, hi):
            try:
                data, origin = scenario_dict(spec, {key: end}, 0)
                scenario_from_dict(data, spec.base, origin)
            except ScenarioError as exc:
                if exc.key == key:
                    allowed = _range_hint(tuple(key.split("."))).strip(" ()")
                    msg = (f"{given} is outside the allowed range ({allowed.removeprefix('allowed ')})" if allowed
                           else f"{given}: {end:g} is not allowed: {exc.message}")
                    raise ScenarioError(spec.source, f"parameters.{key}", msg) from None


# --------------------------------------------------------------------------- fingerprints


def canonical_json(data) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=json_default, allow_nan=True)


def resolved_scenario(spec: SweepSpec, params: dict[str, Any], seed: int) -> dict:
    """The fully resolved scenario of one run (validated, defaults filled in), as JSON data."""
    data, origin = scenario_dict(spec, params, seed)
    return scenario_from_dict(data, spec.base, origin).model_dump(mode="json")


def fingerprint(resolved: dict) -> str:
    """sha256 of a resolved scenario's canonical JSON (and of the follow-graph file it reads)."""
    h = hashlib.sha256(canonical_json(resolved).encode())
    graph_file = (resolved.get("graph") or {}).get("follow_graph_file")
    if graph_file and Path(graph_file).is_file():
        h.update(hashlib.sha256(Path(graph_file).read_bytes()).digest())
    return h.hexdigest()


def run_fingerprints(spec: SweepSpec) -> dict[str, str]:
    """Each run's fingerprint, by run id (one validation per point; the seed varies per replicate)."""
    out: dict[str, str] = {}
    by_point: dict[int, dict] = {}
    for run in spec.runs():
        if run["point"] not in by_point:
            by_point[run["point"]] = resolved_scenario(spec, run["params"], 0)
        out[run["run_id"]] = fingerprint({**by_point[run["point"]], "seed": run["seed"]})
    return out


# --------------------------------------------------------------------------- the sweep folder

MANIFEST_KEY = "trafficsim_sweep"


def read_manifest(out: Path) -> tuple[SweepSpec, dict] | None:
    """The sweep settings and manifest in ``out/sweep.json``, or None if ``out`` is not a
    sweep folder. (A sweep.json of an older version, without the manifest, still counts.)"""
    try:
        data = json.loads((Path(out) / "sweep.json").read_text())
        manifest = data.pop(MANIFEST_KEY, {}) if isinstance(data, dict) else None
        if not isinstance(manifest, dict):
            return None
        return SweepSpec(**data), manifest
    except (OSError, ValueError, TypeError):
        return None


def has_content(out: Path) -> bool:
    """Whether an --out folder holds something (False: new or empty, free to use); a file
    in its place is refused. What the something must be is the caller's check."""
    out = Path(out)
    if not out.exists():
        return False
    if not out.is_dir():
        raise ScenarioError(str(out), "", "exists and is not a folder (choose another --out)")
    return any(out.iterdir())


def check_out(out: Path, resume: bool) -> None:
    """``out`` must be new, empty, or a sweep folder (recognised by its sweep.json) with
    ``resume``; anything else is refused before any work."""
    out = Path(out)
    if not has_content(out):
        return
    if read_manifest(out) is None:
        raise ScenarioError(str(out), "", "folder exists, is not empty and is not a sweep folder "
                                          "(it has no sweep.json written by trafficsim sweep); choose another --out")
    if not resume:
        raise ScenarioError(str(out), "", "is a sweep folder already: use --resume to continue it "
                                          "(runs whose scenario changed are recomputed), or choose another --out")
