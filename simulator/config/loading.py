"""Scenario files: TOML → validated, typed, frozen configuration.

A scenario is a TOML file. It may name a base file with ``extends = "base.toml"``
(resolved relative to the file that says it), or several, ``extends = ["douyin_year.toml",
"kuaishou_year.toml"]``, merged left to right (a later base's keys override an earlier
one's; platform tables add up in that order); the child's keys override the bases',
table by table. Command-line overrides (``--set platforms.douyin.beta=2``) are applied
last. The merged table is then validated against the schema below, which is the one
place where every knob, its default and its allowed range live.

Errors for users are :class:`ScenarioError`: one line naming the file that set the
key, the dotted key and what is allowed. Unknown keys are errors, not ignored.

pydantic does the type and range checking (``extra="forbid"``, ``Field(ge=..., le=...)``);
we translate its error records into that one-line form, and check one thing first that
its lax mode lets through: a boolean where a number belongs (``ad_load = false`` would
read as 0).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .presets import POLICIES
from .schema import NONE, PlatformConfig, Scenario


class ScenarioError(ValueError):
    """A scenario (or an override) is invalid. The message is meant for users."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        where = f"{source}: " if source else ""
        key_part = f"{key}: " if key else ""
        super().__init__(f"{where}{key_part}{message}")

    def __reduce__(self):  # raised in a worker process, it reaches the parent whole (pickle re-calls __init__)
        return type(self), (self.source, self.key, self.message)

    def at_or_under(self, key: str) -> bool:
        """Whether the key refused is ``key`` or one inside it (``key.sub``)."""
        return self.key == key or self.key.startswith(key + ".")

    def on_path_of(self, key: str) -> bool:
        """Whether the key refused is ``key``, one inside it, or a table ``key`` is in
        (an override of ``a.b`` refused at ``a``: a number where a table belongs)."""
        return self.at_or_under(key) or key.startswith(self.key + ".")


# --------------------------------------------------------------------------- loading


def read_toml(path: Path, source: str = "") -> dict:
    """A TOML file as a dict; every way of not being one (missing, a folder, unreadable,
    binary, invalid TOML) is a one-line :class:`ScenarioError`. ``source`` is the file that
    named ``path`` (for ``extends``), or empty."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(source, "", f"file not found: {path}") from None
    except IsADirectoryError:
        raise ScenarioError(source, "", f"{path} is a folder, not a TOML file") from None
    except PermissionError:
        raise ScenarioError(source, "", f"{path}: permission denied (cannot read the file)") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "not a text file (TOML must be UTF-8 text)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise ScenarioError(source, "", f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. a NUL byte in the path
        raise ScenarioError(source, "", f"cannot read {path!r}: {exc}") from None


def _merge(base: dict, over: dict, origin: dict, over_file: str, prefix: str = "") -> dict:
    """Deep-merge ``over`` into a copy of ``base``; record which file set each key."""
    out = dict(base)
    for key, value in over.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value, origin, over_file, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
            _mark(origin, dotted, value, over_file)
    return out


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``, table by table (the one deep merge of
    scenario tables: ``extends``, overrides dicts, sweeps)."""
    return _merge(base, over, {}, "")


def _mark(origin: dict, dotted: str, value: Any, file: str) -> None:
    origin[dotted] = file
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(origin, f"{dotted}.{k}", v, file)


def _resolve(path: Path, origin: dict, chain: tuple[Path, ...] = ()) -> dict:
    try:
        path = path.resolve()
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
        raise ScenarioError(str(chain[-1]) if chain else "", "", f"cannot read {str(path)!r}: {exc}") from None
    if path in chain:
        raise ScenarioError(str(path), "extends", "circular extends chain")
    data = read_toml(path, str(chain[-1]) if chain else "")
    parent = data.pop("extends", None)
    merged: dict = {}
    if parent is not None:
        parents = [parent] if isinstance(parent, str) else parent
        if not isinstance(parents, list) or not parents or not all(isinstance(p, str) for p in parents):
            raise ScenarioError(str(path), "extends", "must be a file name or a non-empty list of file names (strings)")
        for name in parents:  # several bases merge left to right, then this file over them
            found: dict = {}  # which file set each key of this base (a later base's win)
            merged = _merge(merged, _resolve(path.parent / name, found, chain + (path,)), {}, "")
            origin.update(found)
    # relative file references are relative to the file that names them
    graph = data.get("graph")
    if isinstance(graph, dict) and isinstance(graph.get("follow_graph_file"), str) and graph["follow_graph_file"] != NONE:
        graph["follow_graph_file"] = str((path.parent / graph["follow_graph_file"]).resolve())
    return _merge(merged, data, origin, str(path))


def read_scenario(path: str | Path) -> dict:
    """A scenario file as a plain dict, its ``extends`` chain merged, not yet validated
    (edit it and pass it to ``TrafficModel`` or :func:`scenario_from_dict`)."""
    return _resolve(Path(path), {})


def parse_set(expr: str, source: str = "--set") -> tuple[str, Any]:
    """Parse a ``key=value`` override; the value is read as TOML (bare words as strings).
    Errors name ``source``, who gave it (``--set``, or e.g. a targets file's variant).

    >>> parse_set("platforms.douyin.beta=2.5")
    ('platforms.douyin.beta', 2.5)
    """
    if "=" not in expr:
        raise ScenarioError(source, expr, "expected key=value")
    key, raw = (s.strip() for s in expr.split("=", 1))
    if not key:
        raise ScenarioError(source, expr, "empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _apply_sets(data: dict, sets: list[tuple[str, Any]], origin: dict, source: str = "--set") -> dict:
    data = copy.deepcopy(data)
    for key, value in sets:
        parts = key.split(".")
        node = data
        for i, p in enumerate(parts[:-1]):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                _refuse_non_table(data, origin, ".".join(parts[:i + 1]))
                raise ScenarioError(source, key, f"{p!r} is not a table")
        node[parts[-1]] = value
        _mark(origin, key, value, source)
    return data


def _refuse_non_table(data: dict, origin: dict, dotted: str) -> None:
    """An override's key goes through ``dotted``, which is not a table: if the scenario
    as it stands is refused at ``dotted`` (a ``[[population]]`` array of tables, a number
    where a table belongs), raise that error, the one the same value gives without the
    override, naming the file (or override) that wrote it. Otherwise return: the override
    is the mistake (a key inside a number)."""
    try:
        scenario_from_dict(data, "", origin)
    except ScenarioError as exc:
        if exc.at_or_under(dotted):
            raise


# --------------------------------------------------------------------------- platforms


def declared_platforms(data: dict) -> list[str]:
    """The platforms a merged scenario file table creates: every ``[platforms.NAME]``
    table that names its ``policy``, or, when none does, the schema's default platform(s).
    Dotted overrides (``--set``, sweep parameters) never create a platform, so that a
    misspelled name is an error, not a second platform with default settings."""
    tables = data.get("platforms")
    named = [n for n, t in tables.items() if isinstance(t, dict) and "policy" in t] if isinstance(tables, dict) else []
    return named or list(Scenario.model_fields["platforms"].default_factory())


def check_platforms(data: dict, declared: list[str], origin: dict, default_source: str = "") -> None:
    """Raise :class:`ScenarioError` for a platform in ``data`` that is not ``declared``,
    naming who added it (file, ``--set``, ...), the key and the platforms that exist."""
    tables = data.get("platforms")
    if not isinstance(tables, dict):
        return  # not a table: the schema says so
    for name, table in tables.items():
        if name in declared or not isinstance(table, dict):
            continue  # a scalar where a platform's table belongs: the schema says so
        prefix = f"platforms.{name}"
        keys = [k for k in origin if k == prefix or k.startswith(prefix + ".")]
        src = origin[keys[0]] if keys else default_source
        how = (f"a new platform needs a [{prefix}] table that names its policy in a scenario file"
               if src.startswith("--") or src.startswith("<") else "a new platform must name its policy "
               f"(policy = one of {', '.join(POLICIES)})")
        raise ScenarioError(src, keys[0] if keys else prefix,
                            f"no platform named {name!r} (platforms: {', '.join(declared)}); {how}")


def _is_nan(value: Any) -> bool:
    """Whether ``value`` is a float NaN (TOML's ``nan``, ``--set key=nan``)."""
    return isinstance(value, float) and value != value


def _format_error(err: dict) -> tuple[str, str]:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        return loc, "unknown key (check the spelling; see docs/ODD.md for the allowed keys)"
    if kind == "literal_error":
        return loc, f"got {err.get('input')!r}; allowed: {ctx.get('expected')}"
    if _is_nan(err.get("input")) and (hint := _range_hint(err["loc"])):
        # NaN fails every bound check, and pydantic names the last one it tried ("input
        # should be less than or equal to 50"), as if the value were too large
        return loc, f"got nan, which is not a number{hint}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return loc, f"got {err.get('input')!r}; {err['msg'].lower()}{_range_hint(err['loc'])}"
    if kind == "value_error":
        return loc, str(ctx.get("error", err["msg"]))
    n = _tuple_length(err["loc"])
    if n is not None and kind in ("missing", "too_long", "too_short", "tuple_type"):
        loc = ".".join(str(p) for p in err["loc"] if not isinstance(p, int))
        return loc, f"got {err.get('input')!r}; must be a list of {n} values"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        model = _model_at(err["loc"])
        names = list(model.model_fields) if model is not None else []
        keys = f" with keys {', '.join(names[:8])}{', ...' if len(names) > 8 else ''}" if names else ""
        if model is None and _field_of(err["loc"]) is Scenario.model_fields.get("platforms"):
            keys = " of platforms, e.g. [platforms.douyin] policy = \"douyin\""
        return loc, f"got {err.get('input')!r}; must be a table{keys}"
    return loc, f"got {err.get('input')!r}; {err['msg'].lower()}{_range_hint(err['loc'])}"


def _walk(loc: tuple):
    """(field, table model): the schema field an error location points at and the table
    (a schema model) it leads to, None where the location leaves the schema."""
    model: Any = Scenario
    field = None
    parts = [str(p) for p in loc]
    while parts:
        part = parts.pop(0)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None, None
        field = model.model_fields.get(part)
        if field is None:
            return None, None
        if part == "platforms" and model is Scenario:
            if not parts:
                return field, None
            parts.pop(0)  # the platform's name
            model = PlatformConfig
        else:
            ann = field.annotation
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return field, (model if isinstance(model, type) and issubclass(model, BaseModel) else None)


def _field_of(loc: tuple):
    """The schema field that an error location points at, or None."""
    return _walk(loc)[0]


def _tuple_length(loc: tuple) -> int | None:
    """The length of the fixed-length tuple field an error location points into, or None."""
    import typing

    field = _field_of(tuple(p for p in loc if not isinstance(p, int)))
    if field is None or typing.get_origin(field.annotation) is not tuple:
        return None
    args = typing.get_args(field.annotation)
    return None if (not args or Ellipsis in args) else len(args)


def _model_at(loc: tuple):
    """The schema model (a table) that an error location points at, or None."""
    return _walk(loc)[1]


def field_bounds(field) -> tuple[Any, Any]:
    """(lowest, highest) a schema field allows (its ``ge``/``gt`` and ``le``/``lt``; None
    where it sets none)."""
    lo = hi = None
    for m in field.metadata:
        for name in ("ge", "gt"):
            if getattr(m, name, None) is not None:
                lo = getattr(m, name)
        for name in ("le", "lt"):
            if getattr(m, name, None) is not None:
                hi = getattr(m, name)
    return lo, hi


def _range_hint(loc: tuple) -> str:
    """' (allowed a..b)' for a numeric field of the schema."""
    field = _field_of(loc)
    if field is None:
        return ""
    lo, hi = field_bounds(field)
    if lo is None and hi is None:
        return ""
    return f" (allowed {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'})"


def scenario_from_dict(data: dict, source: str = "<dict>", origin: dict | None = None) -> Scenario:
    """Validate a plain dict (already merged) into a :class:`Scenario`."""
    origin = origin or {}
    tables = data.get("platforms") if isinstance(data, dict) else None
    for name, table in (tables.items() if isinstance(tables, dict) else ()):
        policy = table.get("policy") if isinstance(table, dict) else None
        if policy is not None and not isinstance(policy, str):  # the schema's preset lookup needs a string
            key = f"platforms.{name}.policy"
            raise ScenarioError(_origin_of(origin, key) or source, key, f"got {policy!r}; allowed: {', '.join(POLICIES)}")
    _reject_booleans_for_numbers(data, origin, source)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc, msg = _format_error(err)
        if err["type"] == "value_error":
            loc, msg = _key_named_first(loc, msg)
        raise _error_at(origin, source, loc, msg) from None


def _error_at(origin: dict, source: str, loc: str, msg: str) -> ScenarioError:
    """The error for the key at ``loc``, naming who set it (``source`` if no one did); a
    flag such as ``--seed`` stands for its key, so the key is not repeated."""
    src = _origin_of(origin, loc) or source
    if src.startswith("--") and src != "--set":
        return ScenarioError(src, "", msg)
    return ScenarioError(src, loc, msg)


def _key_named_first(loc: str, msg: str) -> tuple[str, str]:
    """A section's own check (a model validator) names the key it is about at the start of
    its message ("targeting_mix must be ...", "activity.enabled: a shelf platform ...",
    "population.merchants must be ..."): that key is the error's location, so that the
    error names who set it (a ``--set`` inside a file's table) and the key once."""
    m = re.match(r"([A-Za-z_][\w.]*)(?:: | (?=must |is ))(.+)", msg, re.S)
    if m is None:
        return loc, msg
    key = f"{loc}.{m.group(1)}" if loc else m.group(1)
    if _field_of(tuple(key.split("."))) is None:
        return loc, msg
    return key, m.group(2)


def _numeric(annotation) -> bool:
    """Whether a schema field takes numbers and no booleans: int, float, an optional of
    them or a tuple of them."""
    import types
    import typing

    if annotation in (int, float):
        return True
    if typing.get_origin(annotation) in (tuple, typing.Union, types.UnionType):
        parts = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
        return bool(parts) and all(_numeric(a) for a in parts)
    return False


def _reject_booleans_for_numbers(data: Any, origin: dict, source: str, loc: tuple = ()) -> None:
    """Raise :class:`ScenarioError` for ``true`` or ``false`` where the schema wants a
    number (or a list of numbers). pydantic's lax mode reads them as 1 and 0, so
    ``ad_load = false`` would quietly mean no ads; a boolean there is a mistake to name."""
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        here = (*loc, str(key))
        if isinstance(value, dict):
            _reject_booleans_for_numbers(value, origin, source, here)
            continue
        values = value if isinstance(value, list) else [value]
        if not any(isinstance(v, bool) for v in values):
            continue
        field = _field_of(here)
        if field is None or not _numeric(field.annotation):
            continue
        what = "a list of numbers" if isinstance(value, list) else "a number"
        raise _error_at(origin, source, ".".join(here), f"got {value!r}; must be {what}, not a boolean{_range_hint(here)}")


def _origin_of(origin: dict, loc: str) -> str | None:
    """Who set the key at ``loc``: the source of that key; for a table no file wrote (made
    by a dotted override such as ``--set commerce.nosuch.key=1``, which marks only its
    leaf), the source of the first key set inside it; else that of the nearest table
    above it. (A file marks every table it writes, so an unmarked table is an override's.)"""
    if origin.get(loc):
        return origin[loc]
    inside = next((src for key, src in origin.items() if key.startswith(loc + ".") and src), None)
    if inside:
        return inside
    parts = loc.split(".")[:-1]
    while parts:
        hit = origin.get(".".join(parts))
        if hit:
            return hit
        parts.pop()
    return None


def load_scenario(path: str | Path, sets: list[str] | None = None, overrides: dict | None = None,
                  flags: dict[str, tuple[str, Any]] | None = None) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    Parameters
    ----------
    path : scenario TOML file.
    sets : ``["key=value", ...]`` overrides, as given to ``--set``, applied in order; an
        item may be a ``(source, "key=value")`` pair, whose errors name ``source`` instead
        of ``--set`` (e.g. ``"<scenarios.LABEL.set>"``, a targets file's variant, that
        its caller then names in the file's terms).
    overrides : nested dict of overrides (for notebooks), applied after ``sets``.
    flags : command-line flags that set a key, e.g. ``{"--seed": ("seed", 7)}``, applied
        last; errors name the flag.

    Only a platform table that names its ``policy`` creates a platform: a
    ``[platforms.NAME]`` table in a scenario file or a ``{"platforms": {NAME: {"policy":
    ...}}}`` table in ``overrides``; ``sets`` and ``flags`` (dotted keys) may only change
    existing platforms, so a misspelled name is an error.

    Raises
    ------
    ScenarioError
        naming the file that set the offending key, the key and what is allowed.
    """
    origin: dict[str, str] = {}
    path = Path(path)
    data = _resolve(path, origin)
    parsed = []
    for item in sets or []:
        src, expr = item if isinstance(item, tuple) else ("--set", item)
        parsed.append((*parse_set(expr, src), src))
    return _override_and_validate(data, origin, str(path), parsed, overrides, flags, str(path.resolve()))


def scenario_with(data: dict, overrides: dict | None = None, settings: dict[str, Any] | None = None) -> Scenario:
    """A scenario dict (already merged, like a file's table) with nested ``overrides``
    and dotted ``settings`` (``{"platforms.douyin.beta": 2}``, as ``--set`` takes them)
    applied, under the same platform rule as :func:`load_scenario`."""
    flags = {f"keyword {key}": (key, value) for key, value in (settings or {}).items()}
    return _override_and_validate(copy.deepcopy(data), {}, "<dict>", [], overrides, flags, "<dict>")


def _override_and_validate(data: dict, origin: dict, source: str, sets: list[tuple[str, Any, str]],
                           overrides: dict | None, flags: dict[str, tuple[str, Any]] | None,
                           validate_source: str) -> Scenario:
    """``sets`` ((key, value, who gave it)), then ``overrides``, then ``flags`` on a merged
    scenario table, the platform rule checked (only a table naming its policy creates a
    platform), validated."""
    declared = declared_platforms(data)
    check_platforms(data, declared, origin, source)
    first = data
    for src, group in itertools.groupby(sets, key=lambda s: s[2]):  # (one copy of the table per giver)
        data = _apply_sets(data, [(key, value) for key, value, _ in group], origin, src)
    if overrides:
        data = _merge(data, overrides, origin, "<overrides>")
        # a dict of overrides is a table too: one that names its policy creates a platform
        tables = overrides.get("platforms") if isinstance(overrides, dict) else None
        if isinstance(tables, dict):
            declared = declared + [n for n, t in tables.items() if isinstance(t, dict) and "policy" in t and n not in declared]
    for flag, (key, value) in (flags or {}).items():
        data = _apply_sets(data, [(key, value)], origin, flag)
    check_platforms(data, declared, origin, "<overrides>")
    try:
        return scenario_from_dict(data, validate_source, origin)
    except ScenarioError as exc:
        givers = {src for _, _, src in sets} | set(flags or {}) | ({"<overrides>"} if overrides else set())
        if exc.source in givers:
            raise  # an override's own key
        culprit = _breaking(first, _replayed(first, sets, overrides, flags), exc)
        if culprit is None:
            raise
        raise conflict_error(*culprit, exc) from None


def _replayed(data: dict, sets: list[tuple[str, Any, str]], overrides: dict | None = None,
              flags: dict[str, tuple[str, Any]] | None = None):
    """(who, key, the table after it) for each override in turn (lazily: for an error)."""
    for key, value, who in sets:
        data = _apply_sets(data, [(key, value)], {}, who)
        yield who, key, data
    if overrides:
        data = _merge(data, overrides, {}, "<overrides>")
        yield "<overrides>", "", data
    for flag, (key, value) in (flags or {}).items():
        data = _apply_sets(data, [(key, value)], {}, flag)
        yield flag, key, data


def _fails_as(data: dict, exc: ScenarioError) -> bool:
    """Whether the scenario table ``data`` is refused with ``exc``'s key and message."""
    try:
        scenario_from_dict(data, "", {})
    except ScenarioError as e:
        return (e.key, e.message) == (exc.key, exc.message)
    return False


def _breaking(first: dict, stages, exc: ScenarioError) -> tuple[str, str] | None:
    """(who, key) of the first override after which the table fails as ``exc`` does (a
    check across keys, e.g. "population.merchants must be at most half of
    population.creators", names a key the file set when an override changed the other
    one); None when the file's table fails so alone (its own error) or no stage does."""
    if _fails_as(first, exc):
        return None
    return next(((who, key) for who, key, data in stages if _fails_as(data, exc)), None)


def breaking_override(data: dict, sets: list[tuple[str, Any, str]], exc: ScenarioError) -> tuple[str, str] | None:
    """:func:`_breaking` for ``sets`` ((key, value, who gave it)) applied in order to the
    merged file table ``data`` (sweeps, calibrations: their own keys over a scenario)."""
    return _breaking(data, _replayed(data, sets), exc)


def conflict_error(who: str, key: str, exc: ScenarioError) -> ScenarioError:
    """The error for override ``who`` (its ``key``) that made the scenario fail as ``exc``
    does, at a key someone else set: both keys named, and who set the other."""
    other = f"{exc.key} (from {exc.source})" if exc.source else exc.key
    flag = who.startswith("--") and who != "--set"  # a flag stands for its key
    return ScenarioError(who, "" if flag else key, f"conflicts with {other}: {exc.message}" if exc.key else exc.message)


# --------------------------------------------------------------------------- writing


def to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML (every key, defaults included; a none as the
    word ``"none"``, which reads back as none: schema._none_word)."""
    def note(prefix: list[str]) -> str | None:
        if len(prefix) == 2 and prefix[0] == "platforms":
            return ("# every key below is explicit, the policy's and centralization's preset values included: "
                    "a --set of policy or centralization here moves none of them")
        return None

    return toml_document(scenario.model_dump(mode="json"), note)


def toml_document(data: dict, note=None) -> str:
    """A nested dict as a TOML document: each table with values of its own under its
    ``[a.b]`` header (a table that holds only tables gets none: its tables' headers name
    it), values inline, a None as ``"none"``. ``note(path)``, if given, may return a
    comment line written under a table's header (``path``: the table's keys)."""
    lines: list[str] = []

    def table(prefix: list[str], d: dict) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        subs = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and (scalars or not subs):
            lines.append("\n[" + ".".join(_toml_key(p) for p in prefix) + "]")
        comment = note(prefix) if note is not None else None
        if comment:
            lines.append(comment)
        lines.extend(f"{_toml_key(k)} = " + (f'"{NONE}"' if v is None else _toml_value(v)) for k, v in scalars.items())
        for k, v in subs.items():
            table([*prefix, k], v)

    table([], data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_key(k: str) -> str:
    """A key as TOML writes it: bare where it may be, else quoted."""
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_string(k)


def _toml_string(v: str) -> str:
    """A string as a TOML basic string (JSON's escapes are TOML's; DEL escaped too)."""
    return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(v: Any) -> str:
    """A value as TOML writes it inline (``true``, ``[1, 2]``, ``"x"``, ``{ a = 1 }``)."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }" if v else "{}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)  # (inf and nan as TOML writes them)
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v)} to TOML")
