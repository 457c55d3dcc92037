"""Scenario files: TOML → validated, typed, frozen configuration.

A scenario is a TOML file. It may name a base file with ``extends = "base.toml"``
(resolved relative to the file that says it); the child's keys override the base's,
table by table. Command-line overrides (``--set platforms.douyin.beta=2``) are applied
last. The merged table is then validated against the schema below, which is the one
place where every knob, its default and its allowed range live.

Errors for users are :class:`ScenarioError`: one line naming the file that set the
key, the dotted key and what is allowed. Unknown keys are errors, not ignored.

pydantic does the type and range checking (``extra="forbid"``, ``Field(ge=..., le=...)``);
we only translate its error records into that one-line form.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ScenarioError",
    "Scenario",
    "PlatformConfig",
    "load_scenario",
    "scenario_from_dict",
    "parse_set",
    "to_toml",
    "POLICY_PRESETS",
]


class ScenarioError(ValueError):
    """A scenario (or an override) is invalid. The message is meant for users."""

    def __init__(self, source: str, key: str, message: str):
        self.source, self.key, self.message = source, key, message
        where = f"{source}: " if source else ""
        key_part = f"{key}: " if key else ""
        super().__init__(f"{where}{key_part}{message}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


# --------------------------------------------------------------------------- population


class PopulationConfig(_Section):
    """Who is in the world. Users are viewers and buyers; creators publish."""

    users: int = Field(10_000, ge=10, le=50_000_000, description="number of users")
    creators: int = Field(300, ge=4, le=1_000_000, description="number of creators")
    merchants: int = Field(10, ge=0, le=100_000, description="number of merchants (each runs its own account, counted among the creators)")
    topics: int = Field(8, ge=2, le=64, description="dimensions of interest/topic vectors")
    cities: int = Field(20, ge=1, le=10_000, description="number of cities (Zipf-sized)")
    city_zipf: float = Field(1.0, ge=0.0, le=3.0, description="Zipf exponent of city sizes")
    interest_concentration: float = Field(0.3, gt=0.0, le=100.0, description="Dirichlet alpha of user interests and creator topics (small = niche)")


class GraphConfig(_Section):
    """The user–user social graph and the initial user→creator follow graph."""

    generator: Literal["small_world", "holme_kim"] = Field(
        "small_world",
        description="user–user graph: 'small_world' (vectorized city-ring lattice with rewiring, any size) or 'holme_kim' (networkx powerlaw_cluster_graph; small populations)",
    )
    friends_per_user: int = Field(6, ge=2, le=200, description="mean user–user ties per user")
    rewire: float = Field(0.1, ge=0.0, le=1.0, description="share of ties rewired to random users (cross-city)")
    mean_follows: float = Field(8.0, ge=0.0, le=1000.0, description="mean creators a user follows at start")
    attachment_rounds: int = Field(8, ge=1, le=100, description="batches of the preferential-attachment process")
    attachment_offset: float = Field(1.0, gt=0.0, le=1e6, description="attractiveness of a creator with no followers")
    interest_affinity: float = Field(4.0, ge=0.0, le=50.0, description="how strongly initial follows prefer creators matching the user's interests")
    initial_intimacy_alpha: float = Field(1.2, gt=0.0, le=100.0, description="Beta(a, b) of initial fan intimacy: a")
    initial_intimacy_beta: float = Field(6.0, gt=0.0, le=100.0, description="Beta(a, b) of initial fan intimacy: b")
    follow_graph_file: str | None = Field(
        None,
        description="optional CSV edge list (columns user, creator[, intimacy]) or GraphML file replacing the generated follow graph; relative to the scenario file",
    )


class CreatorConfig(_Section):
    """How creators publish."""

    post_rate_mean: float = Field(0.6, ge=0.0, le=100.0, description="mean items per creator per day (Poisson)")
    post_rate_sigma: float = Field(0.8, ge=0.0, le=5.0, description="log-normal spread of posting rates across creators")
    quality_sd_between: float = Field(1.0, ge=0.0, le=5.0, description="spread of creators' mean (latent) quality")
    quality_sd_within: float = Field(0.5, ge=0.0, le=5.0, description="spread of item quality around the creator's mean (latent)")
    topic_noise: float = Field(0.2, ge=0.0, le=1.0, description="how far an item's topic wanders from its creator's")
    mcn_share: float = Field(0.05, ge=0.0, le=1.0, description="share of creators backed by an MCN")
    mcn_quality_bonus: float = Field(0.5, ge=0.0, le=5.0, description="latent quality bonus of MCN-backed creators")


class EngagementConfig(_Section):
    """One logistic engagement model for every platform.

    z = intercept + w_match·match + w_quality·quality + w_intimacy·intimacy;
    P(action) = sigmoid(z + offset_action).
    """

    intercept: float = Field(-4.0, ge=-20.0, le=20.0)
    w_match: float = Field(3.0, ge=0.0, le=20.0)
    w_quality: float = Field(2.0, ge=0.0, le=20.0)
    w_intimacy: float = Field(2.0, ge=0.0, le=20.0)
    offset_complete: float = Field(0.5, ge=-20.0, le=20.0)
    offset_like: float = Field(-1.5, ge=-20.0, le=20.0)
    offset_comment: float = Field(-3.0, ge=-20.0, le=20.0)
    offset_share: float = Field(-3.5, ge=-20.0, le=20.0)
    offset_follow: float = Field(-3.5, ge=-20.0, le=20.0, description="follow, for engaged non-followers")


class RelationshipConfig(_Section):
    """Intimacy (亲密度) on fan edges: growth by interaction, daily decay, tiers."""

    gain_view: float = Field(0.004, ge=0.0, le=1.0)
    gain_complete: float = Field(0.01, ge=0.0, le=1.0)
    gain_like: float = Field(0.02, ge=0.0, le=1.0)
    gain_comment: float = Field(0.04, ge=0.0, le=1.0)
    gain_share: float = Field(0.06, ge=0.0, le=1.0)
    decay: float = Field(0.01, ge=0.0, le=1.0, description="daily relative decay of intimacy")
    follow_intimacy: float = Field(0.1, ge=0.0, le=1.0, description="intimacy of a new follow edge")
    tier_thresholds: tuple[float, float, float] = Field(
        (0.1, 0.3, 0.6), description="intimacy at which a fan becomes passerby, liking, true fan (potential below)"
    )
    unfollow_threshold: float = Field(0.03, ge=0.0, le=1.0, description="fans below this intimacy may drift away")
    unfollow_rate: float = Field(0.02, ge=0.0, le=1.0, description="daily probability that such a fan unfollows")

    @model_validator(mode="after")
    def _ordered(self):
        t = self.tier_thresholds
        if not (0.0 < t[0] < t[1] < t[2] <= 1.0):
            raise ValueError("tier_thresholds must rise strictly within (0, 1]")
        w = (self.gain_view, self.gain_like, self.gain_comment, self.gain_share)
        if not all(a <= b for a, b in zip(w, w[1:])):
            raise ValueError("gains must be ordered gain_view <= gain_like <= gain_comment <= gain_share")
        return self


# --------------------------------------------------------------------------- platforms

POLICIES = ("douyin", "kuaishou", "random", "popularity", "interest")

# The two styles are points of one parameter space: the policy name picks the defaults
# of the knobs a scenario leaves out. Explicit keys always win.
POLICY_PRESETS: dict[str, dict[str, Any]] = {
    "douyin": dict(
        follow_share=0.05, same_city_share=0.0, exposure_cap=None, age_decay=0.25,
        pool_growth=5.0, gini_target=None, cold_start_rate=0.3,
    ),
    "kuaishou": dict(
        follow_share=0.35, same_city_share=0.12, exposure_cap=0.05, age_decay=0.6,
        pool_growth=2.5, gini_target=0.45, cold_start_rate=0.6,
    ),
}


def centralization_preset(c: float) -> dict[str, Any]:
    """Defaults of the style knobs at centralization ``c``: 0 is the Kuaishou-like
    preset, 1 the Douyin-like one, numeric knobs interpolate linearly. The exposure
    cap loosens as kuaishou_cap / (1 − c) and disappears once it would exceed 1; the
    Gini steering keeps its target and fades out through ``gini_gain`` = 2·(1 − c)."""
    ks, dy = POLICY_PRESETS["kuaishou"], POLICY_PRESETS["douyin"]
    out: dict[str, Any] = {}
    for key in ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate"):
        out[key] = (1 - c) * ks[key] + c * dy[key]
    cap = ks["exposure_cap"] / (1 - c) if c < 1 else None
    out["exposure_cap"] = cap if cap is not None and cap <= 1.0 else None
    out["gini_target"] = ks["gini_target"]
    out["gini_gain"] = 2.0 * (1 - c)
    return out


class PlatformConfig(_Section):
    """One platform's feed and its knobs."""

    centralization: float | None = Field(
        None, ge=0.0, le=1.0,
        description="0 = Kuaishou-like, 1 = Douyin-like: sets the defaults of the style knobs in between (explicit keys still win)",
    )
    policy: Literal["douyin", "kuaishou", "random", "popularity", "interest"] = Field(
        "douyin", description="ranking policy; 'douyin'/'kuaishou' also set the defaults of the style knobs"
    )
    adoption: float = Field(1.0, ge=0.0, le=1.0, description="share of users who use this platform")
    daily_active: float = Field(0.7, ge=0.0, le=1.0, description="probability a user opens the app on a day")
    feed_slots: int = Field(12, ge=1, le=1000, description="impressions per active user per day (attention)")
    follow_share: float = Field(0.05, ge=0.0, le=1.0, description="mean share of slots from the follow feed (关注)")
    follow_share_concentration: float = Field(
        8.0, gt=0.0, le=1e6, description="Beta concentration of users' own follow share around the mean (users choose tabs)"
    )
    same_city_share: float = Field(0.0, ge=0.0, le=1.0, description="share of slots from the same-city tab (同城)")
    ad_load: float = Field(0.08, ge=0.0, le=0.5, description="share of slots sold as ads (commercial)")
    cpm: float = Field(20.0, ge=0.0, le=1e4, description="yuan per 1,000 ad impressions")
    beta: float = Field(1.0, ge=0.0, le=50.0, description="intimacy boost: delivery × (1 + beta·intimacy) and weight of fans' engagement in the item's pool signal")
    exposure_cap: float | None = Field(
        None, gt=0.0, le=1.0, description="per-item cap on cumulative impressions, as a share of daily active users (none = no cap)"
    )
    age_decay: float = Field(0.25, ge=0.0, le=10.0, description="score penalty per day of item age (log scale)")
    max_item_age: int = Field(14, ge=1, le=365, description="days an item stays recommendable")
    temperature: float = Field(0.5, gt=0.0, le=100.0, description="exploration: Gumbel noise scale on log-scores")
    candidates: int = Field(64, ge=4, le=4096, description="candidates scored per block of users")
    block_users: int = Field(4096, ge=16, le=1_000_000, description="most users scored together against one candidate set")
    candidate_coverage: float = Field(2.0, gt=0.0, le=100.0, description="candidate draws per day per competing item (participation ratio of retrieval weights); sets how many blocks a day has")
    w_match: float = Field(3.0, ge=0.0, le=50.0, description="score weight of interest match")
    w_quality: float = Field(1.0, ge=0.0, le=50.0, description="score weight of item quality")
    w_perf: float = Field(2.0, ge=0.0, le=50.0, description="score weight of the item's observed engagement rate")
    candidate_affinity: float = Field(4.0, ge=0.0, le=50.0, description="how strongly a block's candidates are drawn toward the block's interests")
    cold_start_rate: float = Field(0.3, ge=0.0, le=1.0, description="P(new item offered to a fan) = rate × intimacy (cold-start pool)")
    cold_start_slots: int = Field(2, ge=0, le=100, description="most cold-start offers a user sees per day")
    pool_base: float = Field(0.002, gt=0.0, le=1.0, description="size of the first traffic pool, as a share of daily active users")
    pool_growth: float = Field(5.0, ge=1.0, le=100.0, description="each pool level is this many times larger")
    pool_levels: int = Field(5, ge=1, le=12, description="number of traffic-pool levels")
    pool_threshold: float = Field(0.45, ge=0.0, le=1.0, description="engagement rate an item needs in its pool to be promoted")
    stall_weight: float = Field(0.05, ge=0.0, le=1.0, description="candidate weight left to an item that failed its pool")
    gini_target: float | None = Field(None, ge=0.0, le=1.0, description="creator exposure Gini the platform steers toward (none = no steering)")
    gini_gain: float = Field(2.0, ge=0.0, le=100.0, description="how fast the steering exponent follows the Gini error")
    follow_window: int = Field(3, ge=1, le=365, description="days an item stays in followers' follow feed")

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = dict(POLICY_PRESETS.get(data.get("policy", "douyin"), {}))
            c = data.get("centralization")
            if isinstance(c, (int, float)) and not isinstance(c, bool) and 0.0 <= c <= 1.0:
                preset.update(centralization_preset(float(c)))
            data = {**preset, **data}
        return data


class MerchantConfig(_Section):
    """Merchants. Each has its own account (a creator row) and buys ad slots."""

    daily_ad_budget: float = Field(200.0, ge=0.0, le=1e9, description="mean yuan per merchant per day for ads")
    budget_sigma: float = Field(1.0, ge=0.0, le=5.0, description="log-normal spread of budgets")


class MetricsConfig(_Section):
    visibility_threshold: float = Field(
        1.0, ge=0.0, le=1e9, description="impressions per creator per day (mean over the step's window) above which a creator counts as visible"
    )
    quality_bins: int = Field(4, ge=1, le=20, description="quality strata used by the flywheel ratio")


class Scenario(_Section):
    """A whole scenario. Field order is the order of the resolved scenario file."""

    name: str = Field("scenario", min_length=1, max_length=200)
    description: str = ""
    seed: int = Field(42, ge=0, le=2**63 - 1)
    steps: int = Field(30, ge=1, le=3650, description="simulated days")
    population: PopulationConfig = PopulationConfig()
    graph: GraphConfig = GraphConfig()
    creators: CreatorConfig = CreatorConfig()
    engagement: EngagementConfig = EngagementConfig()
    relationship: RelationshipConfig = RelationshipConfig()
    merchants: MerchantConfig = MerchantConfig()
    metrics: MetricsConfig = MetricsConfig()
    platforms: dict[str, PlatformConfig] = Field(default_factory=lambda: {"douyin": PlatformConfig()})

    @model_validator(mode="after")
    def _check(self):
        if not self.platforms:
            raise ValueError("at least one platform is needed")
        for name in self.platforms:
            if not name.isidentifier():
                raise ValueError(f"platform name {name!r} must be a plain identifier")
        if self.population.merchants > self.population.creators // 2:
            raise ValueError("population.merchants must be at most half of population.creators")
        return self


# --------------------------------------------------------------------------- loading


def _read_toml(path: Path, source: str) -> dict:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ScenarioError(source, "", f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"not valid TOML: {exc}") from None


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


def _mark(origin: dict, dotted: str, value: Any, file: str) -> None:
    origin[dotted] = file
    if isinstance(value, dict):
        for k, v in value.items():
            _mark(origin, f"{dotted}.{k}", v, file)


def _resolve(path: Path, origin: dict, chain: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in chain:
        raise ScenarioError(str(path), "extends", "circular extends chain")
    data = _read_toml(path, str(chain[-1]) if chain else "")
    parent = data.pop("extends", None)
    merged: dict = {}
    if parent is not None:
        if not isinstance(parent, str):
            raise ScenarioError(str(path), "extends", "must be a file name (string)")
        merged = _resolve(path.parent / parent, origin, chain + (path,))
    # relative file references are relative to the file that names them
    graph = data.get("graph")
    if isinstance(graph, dict) and isinstance(graph.get("follow_graph_file"), str):
        graph["follow_graph_file"] = str((path.parent / graph["follow_graph_file"]).resolve())
    return _merge(merged, data, origin, str(path))


def parse_set(expr: str) -> tuple[str, Any]:
    """Parse a ``key=value`` override; the value is read as TOML (bare words as strings).

    >>> parse_set("platforms.douyin.beta=2.5")
    ('platforms.douyin.beta', 2.5)
    """
    if "=" not in expr:
        raise ScenarioError("--set", expr, "expected key=value")
    key, raw = (s.strip() for s in expr.split("=", 1))
    if not key:
        raise ScenarioError("--set", expr, "empty key")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def _apply_sets(data: dict, sets: list[tuple[str, Any]], origin: dict) -> dict:
    data = copy.deepcopy(data)
    for key, value in sets:
        parts = key.split(".")
        node = data
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ScenarioError("--set", key, f"{p!r} is not a table")
        node[parts[-1]] = value
        _mark(origin, key, value, "--set")
    return data


def _format_error(err: dict) -> tuple[str, str]:
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        return loc, "unknown key (check the spelling; see docs/ODD.md for the allowed keys)"
    if kind == "literal_error":
        return loc, f"got {err.get('input')!r}; allowed: {ctx.get('expected')}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return loc, f"got {err.get('input')!r}; {err['msg'].lower()}{_range_hint(err['loc'])}"
    if kind == "value_error":
        return loc, str(ctx.get("error", err["msg"]))
    return loc, f"got {err.get('input')!r}; {err['msg'].lower()}{_range_hint(err['loc'])}"


def _field_of(loc: tuple):
    """The schema field that an error location points at, or None."""
    model: Any = Scenario
    field = None
    parts = list(loc)
    while parts:
        part = str(parts.pop(0))
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return None
        if part == "platforms" and model is Scenario:
            if not parts:
                return field
            parts.pop(0)  # the platform's name
            model = PlatformConfig
        else:
            ann = field.annotation
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return field


def _range_hint(loc: tuple) -> str:
    """' (allowed a..b)' for a numeric field of the schema."""
    field = _field_of(loc)
    if field is None:
        return ""
    lo = hi = None
    for m in field.metadata:
        for name in ("ge", "gt"):
            if getattr(m, name, None) is not None:
                lo = getattr(m, name)
        for name in ("le", "lt"):
            if getattr(m, name, None) is not None:
                hi = getattr(m, name)
    if lo is None and hi is None:
        return ""
    return f" (allowed {lo if lo is not None else '-inf'}..{hi if hi is not None else 'inf'})"


def scenario_from_dict(data: dict, source: str = "<dict>", origin: dict | None = None) -> Scenario:
    """Validate a plain dict (already merged) into a :class:`Scenario`."""
    origin = origin or {}
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc, msg = _format_error(err)
        src = _origin_of(origin, loc) or source
        raise ScenarioError(src, loc, msg) from None


def _origin_of(origin: dict, loc: str) -> str | None:
    parts = loc.split(".")
    while parts:
        hit = origin.get(".".join(parts))
        if hit:
            return hit
        parts.pop()
    return None


def load_scenario(path: str | Path, sets: list[str] | None = None, overrides: dict | None = None) -> Scenario:
    """Load, merge (``extends``), override and validate a scenario file.

    Parameters
    ----------
    path : scenario TOML file.
    sets : ``["key=value", ...]`` overrides, as given to ``--set``.
    overrides : nested dict of overrides (for notebooks), applied after ``sets``.

    Raises
    ------
    ScenarioError
        naming the file that set the offending key, the key and what is allowed.
    """
    origin: dict[str, str] = {}
    path = Path(path)
    data = _resolve(path, origin)
    parsed = [parse_set(s) for s in (sets or [])]
    data = _apply_sets(data, parsed, origin)
    if overrides:
        data = _merge(data, overrides, origin, "<overrides>")
    return scenario_from_dict(data, str(path.resolve()), origin)


# --------------------------------------------------------------------------- writing


def to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML (every key, defaults included)."""
    data = scenario.model_dump(mode="json")
    lines: list[str] = []

    def emit_table(prefix: str, table: dict) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix:
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            if v is None:
                lines.append(f"# {k} = (none)")
            else:
                lines.append(f"{k} = {_toml_value(v)}")
        for k, v in tables.items():
            emit_table(f"{prefix}.{k}" if prefix else k, v)

    emit_table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v)} to TOML")
