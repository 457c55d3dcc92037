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
        pool_growth=5.0, gini_target=None, cold_start_rate=0.3, fan_trust=0.4, group_effect=0.3,
    ),
    "kuaishou": dict(
        follow_share=0.35, same_city_share=0.12, exposure_cap=0.05, age_decay=0.6,
        pool_growth=2.5, gini_target=0.45, cold_start_rate=0.6, fan_trust=1.0, group_effect=1.0,
    ),
}


def centralization_preset(c: float) -> dict[str, Any]:
    """Defaults of the style knobs at centralization ``c``: 0 is the Kuaishou-like
    preset, 1 the Douyin-like one, numeric knobs interpolate linearly. The exposure
    cap loosens as kuaishou_cap / (1 − c) and disappears once it would exceed 1; the
    Gini steering keeps its target and fades out through ``gini_gain`` = 2·(1 − c)."""
    ks, dy = POLICY_PRESETS["kuaishou"], POLICY_PRESETS["douyin"]
    out: dict[str, Any] = {}
    for key in ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate", "fan_trust",
                "group_effect"):
        out[key] = (1 - c) * ks[key] + c * dy[key]
    cap = ks["exposure_cap"] / (1 - c) if c < 1 else None
    out["exposure_cap"] = cap if cap is not None and cap <= 1.0 else None
    out["gini_target"] = ks["gini_target"]
    out["gini_gain"] = 2.0 * (1 - c)
    return out


# every knob the policy preset or the centralization knob gives a default to
STYLE_KNOBS: tuple[str, ...] = tuple(dict.fromkeys([*POLICY_PRESETS["douyin"], *centralization_preset(0.5)]))

CATEGORIES = ("fmcg", "local_life", "online_high_ticket", "offline_long_decision")


class CommissionSchedule(_Section):
    """Commission on on-platform GMV: ``intro`` for a merchant's first ``intro_days`` days
    on the platform, then the category's rate (Douyin shop: 1% for 30 days, then 2-5%)."""

    intro: float = Field(0.01, ge=0.0, le=1.0, description="rate in a new merchant's first intro_days days")
    intro_days: int = Field(30, ge=0, le=3650, description="days a merchant pays the intro rate")
    fmcg: float = Field(0.05, ge=0.0, le=1.0, description="rate for FMCG (clothing 5%)")
    local_life: float = Field(0.03, ge=0.0, le=1.0, description="rate for local life")
    online_high_ticket: float = Field(0.02, ge=0.0, le=1.0, description="rate for online high-ticket goods (car goods 2%)")
    offline_long_decision: float = Field(0.02, ge=0.0, le=1.0, description="rate for offline long-decision goods")

    def rates(self) -> tuple[float, ...]:
        return tuple(getattr(self, c) for c in CATEGORIES)


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
    cpm_elasticity: float = Field(
        1.0, ge=0.0, le=10.0,
        description="public-domain saturation: when merchants want more ad impressions than there are ad slots, the CPM rises as cpm × (demand / supply)^elasticity (0 = fixed CPM, slots rationed)",
    )
    commission: CommissionSchedule = Field(default_factory=lambda: CommissionSchedule(), description="commission schedule on on-platform GMV")
    tip_cut: float = Field(0.5, ge=0.0, le=1.0, description="share of tips the platform keeps")
    fan_trust: float = Field(
        1.0, ge=0.0, le=5.0,
        description="'laotie' trust: scales the intimacy and trust terms of the purchase and tipping models on this platform (low = interest-driven buying, Douyin-like; high = relationship-driven, Kuaishou-like)",
    )
    group_effect: float = Field(
        1.0, ge=0.0, le=1.0,
        description="fan-group chat effectiveness: scales the intimacy gain of value pushes and the conversion of promotional pushes (weak on Douyin-like platforms)",
    )
    ban_per_diversion: float = Field(
        0.0, ge=0.0, le=1.0, description="probability that one WeChat invitation (card in the parcel) is detected and the merchant's account banned"
    )
    ban_per_excess_push: float = Field(
        0.0, ge=0.0, le=1.0, description="daily ban probability per promotional push above commerce.groups.overmarketing_pushes (over-marketing)"
    )

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


class CategoryConfig(_Section):
    """One of Douyin's four industry quadrants: what is sold and how it is bought."""

    price: float = Field(gt=0.0, le=1e7, description="yuan per order")
    buy_offset: float = Field(ge=-20.0, le=20.0, description="category term of the purchase model (logit)")
    repurchase_days: int = Field(ge=1, le=36500, description="days before a buyer can buy from the same merchant again")
    intimacy_gain: float = Field(ge=0.0, le=1.0, description="intimacy a purchase adds to the buyer's edge with the seller")
    trust_gain: float = Field(ge=0.0, le=1.0, description="trust a purchase adds to the buyer–merchant relationship")
    margin: float = Field(ge=0.0, le=1.0, description="merchant's gross margin on GMV")


def _category(price, offset, days, intimacy, trust, margin):
    return Field(default_factory=lambda: CategoryConfig(price=price, buy_offset=offset, repurchase_days=days,
                                                        intimacy_gain=intimacy, trust_gain=trust, margin=margin))


class CategoriesConfig(_Section):
    """The four quadrants. A scenario may set only some keys of a category; the others
    keep the category's defaults."""

    fmcg: CategoryConfig = _category(40.0, 0.0, 10, 0.05, 0.10, 0.40)
    local_life: CategoryConfig = _category(120.0, -0.3, 21, 0.05, 0.15, 0.35)
    online_high_ticket: CategoryConfig = _category(1000.0, -1.0, 180, 0.08, 0.25, 0.25)
    offline_long_decision: CategoryConfig = _category(5000.0, -1.5, 720, 0.10, 0.35, 0.30)

    @model_validator(mode="before")
    @classmethod
    def _fill(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, dict) and field is not None and field.default_factory is not None:
                    data[name] = {**field.default_factory().model_dump(), **value}
        return data

    def ordered(self) -> list[CategoryConfig]:
        return [getattr(self, c) for c in CATEGORIES]


class GroupConfig(_Section):
    """Fan groups (粉丝群) on the platform and their push policy (FACTS.md mechanism 4)."""

    enabled: bool = Field(True, description="selling accounts run fan groups")
    join_intimacy: float = Field(0.3, ge=0.0, le=1.0, description="fans at or above this intimacy may join the group")
    join_rate: float = Field(0.05, ge=0.0, le=1.0, description="daily probability that such a fan joins")
    pushes_per_day: float = Field(1.0, ge=0.0, le=50.0, description="group pushes per day (reach 100% of members)")
    value_share: float = Field(0.5, ge=0.0, le=1.0, description="share of pushes that are value content ('pond feed'); the rest promote")
    value_gain: float = Field(0.03, ge=0.0, le=1.0, description="intimacy gain of one value push (× the platform's group_effect)")
    promo_conversion: float = Field(1.0, ge=0.0, le=20.0, description="a promotional push converts a member with this × the purchase model's probability (× group_effect)")
    promo_annoyance: float = Field(1.0, ge=0.0, le=100.0, description="annoyance one promotional push adds to every member")
    promo_intimacy_cost: float = Field(0.01, ge=0.0, le=1.0, description="intimacy one promotional push takes from every member (harassment)")
    annoyance_decay: float = Field(0.3, ge=0.0, le=1.0, description="daily relative decay of annoyance")
    tolerance_mean: float = Field(4.0, gt=0.0, le=1000.0, description="mean annoyance a user tolerates before leaving a group (log-normal across users)")
    tolerance_sigma: float = Field(0.5, ge=0.0, le=5.0, description="log-normal spread of tolerance")
    unfollow_factor: float = Field(1.5, ge=1.0, le=100.0, description="annoyance above factor × tolerance also makes the member unfollow")
    overmarketing_pushes: float = Field(3.0, ge=0.0, le=50.0, description="promotional pushes per day above which a platform may ban for over-marketing")


class WeChatConfig(_Section):
    """Diversion to personal WeChat (导流) and selling there (FACTS.md mechanism 5)."""

    friend_cap: int = Field(10_000, ge=1, le=1_000_000, description="friends per WeChat account")
    adds_per_day: int = Field(20, ge=0, le=10_000, description="friend adds per WeChat account per day")
    accept_rate: float = Field(0.3, ge=0.0, le=1.0, description="probability a buyer who gets the card adds the merchant (× (0.5 + trust))")
    pushes_per_day: float = Field(1.0, ge=0.0, le=50.0, description="WeChat pushes (Moments, group messages) per day")
    value_share: float = Field(0.5, ge=0.0, le=1.0, description="share of WeChat pushes that are value content")
    effect: float = Field(1.0, ge=0.0, le=1.0, description="effectiveness of WeChat pushes (like a platform's group_effect)")


class CommerceConfig(_Section):
    """Purchases, tips and the private channels. One purchase model for every channel:

    z = intercept + category.buy_offset + w_match·match + λ·(w_intimacy·intimacy + w_trust·trust)
        − price_sensitivity·ln(price / 40) + ln(live_multiplier if live)
    P(buy) = sigmoid(z), for a buyer not in the category's repurchase interval; λ is the
    platform's fan_trust (1 on WeChat)."""

    enabled: bool = Field(True, description="merchants sell, users buy and tip (off = the content-only core)")
    intercept: float = Field(-3.5, ge=-20.0, le=20.0, description="purchase model intercept (logit)")
    w_match: float = Field(2.0, ge=0.0, le=20.0)
    w_intimacy: float = Field(2.5, ge=0.0, le=20.0)
    w_trust: float = Field(2.0, ge=0.0, le=20.0)
    price_sensitivity: float = Field(0.8, ge=0.0, le=5.0, description="logit penalty per e-fold of price above 40 yuan (0.8: a 5,000-yuan item sells ~50x less often than a 40-yuan one, before buy_offset)")
    live_share: float = Field(0.15, ge=0.0, le=1.0, description="share of items that are live sessions")
    live_multiplier: float = Field(2.0, ge=1.0, le=100.0, description="live sessions sell this many times more per viewer (odds)")
    tip_intercept: float = Field(-5.0, ge=-20.0, le=20.0, description="logit of tipping an engaged live impression")
    tip_w_intimacy: float = Field(4.0, ge=0.0, le=20.0, description="weight of intimacy in tipping")
    tip_mean: float = Field(10.0, ge=0.0, le=1e5, description="mean tip in yuan (log-normal, sigma 1)")
    partner_share: float = Field(0.3, ge=0.0, le=1.0, description="share of ordinary creators who sell a merchant's product (product links)")
    link_share: float = Field(0.3, ge=0.0, le=1.0, description="share of a partner creator's items that carry the product link")
    creator_share: float = Field(0.2, ge=0.0, le=1.0, description="share of GMV a partner creator earns on sales through its items")
    visit_rate: float = Field(
        0.02, ge=0.0, le=1.0,
        description="daily probability × intimacy that a fan visits a selling account's homepage or sends a DM (user-initiated, never annoys); a visit may convert",
    )
    categories: CategoriesConfig = Field(default_factory=lambda: CategoriesConfig())
    groups: GroupConfig = Field(default_factory=lambda: GroupConfig())
    wechat: WeChatConfig = Field(default_factory=lambda: WeChatConfig())


class MerchantConfig(_Section):
    """Merchants. Each has its own account (a creator row), a category, an ad targeting
    and possibly a WeChat diversion strategy."""

    daily_ad_budget: float = Field(15.0, ge=0.0, le=1e9, description="mean model yuan a merchant is willing to spend on ads per day (log-normal across merchants)")
    budget_sigma: float = Field(1.0, ge=0.0, le=5.0, description="log-normal spread of budgets")
    category_mix: tuple[float, float, float, float] = Field(
        (0.4, 0.2, 0.2, 0.2), description="shares of merchants in fmcg, local_life, online_high_ticket, offline_long_decision"
    )
    targeting_mix: tuple[float, float, float] = Field(
        (0.5, 0.25, 0.25), description="shares of merchants whose ads target broad, own fans, look-alikes of own fans"
    )
    diversion_share: float = Field(0.0, ge=0.0, le=1.0, description="share of merchants who divert buyers to WeChat")
    wechat_accounts: int = Field(1, ge=1, le=4, description="WeChat accounts per diverting merchant (switchable, at most 4)")
    new_share: float = Field(0.3, ge=0.0, le=1.0, description="share of merchants new to the platforms at day 0 (the others are past the intro commission)")

    @model_validator(mode="after")
    def _mixes(self):
        for key in ("category_mix", "targeting_mix"):
            v = getattr(self, key)
            if any(x < 0 for x in v) or sum(v) <= 0:
                raise ValueError(f"{key} must be non-negative shares with a positive sum")
        return self


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
    commerce: CommerceConfig = CommerceConfig()
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


def read_scenario(path: str | Path) -> dict:
    """A scenario file as a plain dict, its ``extends`` chain merged, not yet validated
    (edit it and pass it to ``TrafficModel`` or :func:`scenario_from_dict`)."""
    return _resolve(Path(path), {})


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
