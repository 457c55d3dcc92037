"""The scenario schema: every knob, its default, its allowed range and its meaning.

One frozen pydantic model per section (``extra="forbid"``: unknown keys are errors;
``Field(ge=..., le=...)``: ranges). This is the one place where defaults live; the policy
presets (:mod:`simulator.config.presets`) only say which defaults a ``policy`` or a
``centralization`` puts in place of these.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .presets import POLICY_PRESETS, centralization_preset
from ..state.vocabulary import CATEGORIES


NONE = "none"  # what a TOML file or --set writes for an optional key's "none" (TOML has no null)
NAME_MAX = 200  # the longest name that names output folders and files (a scenario's, a sweep's, a calibration's)


def output_name_error(name: str, names: str) -> str | None:
    """Why ``name`` cannot be part of an output path, or None: it ``names`` (e.g. "the
    run's output folder and files") so it cannot be '.' or '..' or contain / or \\ (or
    NUL). The one rule for a scenario's ``name`` and a sweep's or calibration's (the
    default folder ``outputs/sweep-<name>``: ``../../x`` would put it elsewhere)."""
    if any(c in name for c in "/\\\0") or name in (".", ".."):
        return f"got {name!r}; it names {names}, so it cannot be '.' or '..' or contain / or \\"
    return None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _none_word(cls, data: Any) -> Any:
        """``"none"`` for a key that may be none (default none, e.g. ``exposure_cap``,
        ``gini_target``, ``centralization``) is none: TOML has no null, and without it a
        preset's value (the Kuaishou-like 5% cap) could not be taken away in a file or by
        ``--set``; for ``graph.follow_graph_file`` it is no file (``./none`` names a file
        called none). Any other key keeps the string (and its type error)."""
        if isinstance(data, dict) and NONE in data.values():
            optional = {k for k, f in cls.model_fields.items() if f.default is None}
            data = {k: (None if v == NONE and k in optional else v) for k, v in data.items()}
        return data


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
        description="user–user graph: 'small_world' (vectorized city-ring lattice with rewiring, any size; each city's ring runs in user order, and users are numbered by interest segment, so ring neighbours mostly share an interest) or 'holme_kim' (networkx powerlaw_cluster_graph over users in random order, no city or interest structure; small populations)",
    )
    friends_per_user: int = Field(6, ge=2, le=200, description="user–user ties per user, an even number (each generator gives every user friends_per_user / 2 ties of its own; an odd value is an error, it would act as the even one below; holme_kim: less than twice population.users; small_world: a city of at most friends_per_user users has fewer, its ring wraps onto the same neighbours)")
    rewire: float = Field(0.1, ge=0.0, le=1.0, description="share of ties rewired to random users (cross-city); small_world only (holme_kim has no city structure and does not read it)")
    mean_follows: float = Field(8.0, ge=0.0, le=1000.0, description="mean follow draws per user at start (Poisson over the attachment rounds); a draw of a creator the user already follows is dropped, so users follow a little fewer (7.3 at the default)")
    attachment_rounds: int = Field(8, ge=1, le=100, description="batches of the preferential-attachment process")
    attachment_offset: float = Field(1.0, gt=0.0, le=1e6, description="attractiveness of a creator with no followers")
    social_copy_share: float = Field(1 / 3, ge=0.0, le=1.0, description="from the second attachment round on, share of initial follow draws that copy a random friend's follow (social proof); a draw whose friend follows no one yet, or of a user without friends, is a preferential one instead")
    interest_affinity: float = Field(4.0, ge=0.0, le=50.0, description="how strongly initial follows prefer creators matching the user's interests")
    initial_intimacy_alpha: float = Field(1.2, gt=0.0, le=100.0, description="Beta(a, b) of initial fan intimacy: a")
    initial_intimacy_beta: float = Field(6.0, gt=0.0, le=100.0, description="Beta(a, b) of initial fan intimacy: b")
    follow_graph_file: str | None = Field(
        None,
        description="optional CSV edge list (columns user, creator[, intimacy]) or GraphML file replacing the generated follow graph (mean_follows, attachment_rounds, attachment_offset, social_copy_share and interest_affinity are then not read; initial_intimacy_alpha and _beta only where the file gives no intimacy); relative to the scenario file",
    )

    @model_validator(mode="after")
    def _even_friends(self):
        if self.friends_per_user % 2:
            raise ValueError(f"friends_per_user: got {self.friends_per_user}; must be even (each user gets "
                             f"friends_per_user / 2 ties of its own; {self.friends_per_user - 1} gives the same graph)")
        return self


class CreatorConfig(_Section):
    """How creators publish."""

    post_rate_mean: float = Field(0.6, ge=0.0, le=100.0, description="mean items per creator per day (Poisson)")
    post_rate_sigma: float = Field(0.8, ge=0.0, le=5.0, description="log-normal spread of posting rates across creators; post_rate_mean is their mean in expectation, so at a large spread a few creators post most items and the mean over a population falls short of it (the median over draws of 300 creators: 1.0 of it at sigma 1, 0.9 at 2, 0.6 at 3, 0.2 at 4, 0.03 at 5)")
    quality_sd_between: float = Field(1.0, ge=0.0, le=5.0, description="spread of creators' mean (latent) quality")
    quality_sd_within: float = Field(0.5, ge=0.0, le=5.0, description="spread of item quality around the creator's mean (latent)")
    topic_noise: float = Field(0.2, ge=0.0, le=1.0, description="how far an item's topic wanders from its creator's")
    mcn_share: float = Field(0.05, ge=0.0, le=1.0, description="share of creators backed by an MCN")
    mcn_quality_bonus: float = Field(0.5, ge=0.0, le=5.0, description="latent quality bonus of MCN-backed creators")
    warmup_days: int = Field(3, ge=0, le=365, description="days of content published before day 0, so that feeds start with a backlog")
    # entry and exit (state/turnover.py; docs/ODD.md 7.10 "Entry and exit of creators and merchants")
    entry_rate: float = Field(0.0, ge=0.0, le=1.0, description="new creators per day, as a share of population.creators: Poisson(entry_rate × creators) accounts join each day with no followers and traits drawn as the initial creators'; 0 = no entry")
    exit_window: int = Field(30, ge=1, le=365, description="days over which a creator's exposure and income are averaged for the exit rule; a creator younger than this never exits")
    exit_impressions: float = Field(0.0, ge=0.0, le=1e9, description="a creator whose mean daily impressions (all platforms, last exit_window days) are below this, and below exit_income's bar if that is set, stops posting; 0 = no exposure bar")
    exit_income: float = Field(0.0, ge=0.0, le=1e9, description="a creator whose mean daily income (sales share + tips, model yuan, last exit_window days) is below this, and below exit_impressions' bar if that is set, stops posting; 0 = no income bar (both 0: creators never exit)")
    # multi-homing (content/presence.py; docs/ODD.md 7.11 "Multi-homing")
    multi_homing: bool = Field(False, description="creators are present only on some platforms: their items reach a platform's users (every slot source) only where they are present; at day 0 an initial creator is on its home platform, and on every platform with probability cross_post_share; an entrant starts on its home only; merchants' own accounts are on every platform; creators expand by expand_rate (off: every creator is on every platform)")
    cross_post_share: float = Field(0.0, ge=0.0, le=1.0, description="with multi_homing: share of the initial creators present on every platform at day 0 (the rest on their home platform only)")
    expand_rate: float = Field(0.0, ge=0.0, le=1.0, description="with multi_homing: daily probability that an active creator joins a platform it is not on when that platform pays: its mean daily impressions per present active creator over the last expand_window days exceed (1 + expand_margin) × the creator's own mean daily impressions per platform it is on (0 = nobody expands)")
    expand_margin: float = Field(0.5, ge=0.0, le=1000.0, description="with multi_homing: how much better a platform must pay (mean daily impressions per present creator, relative to the creator's own per platform) before a creator expands to it: factor 1 + expand_margin")
    expand_window: int = Field(14, ge=1, le=365, description="with multi_homing: days over which the impressions of the expansion rule are averaged, and the record a creator needs before it expands (that many days, its entry day included); nobody expands before that many days have been recorded")


class EngagementConfig(_Section):
    """One logistic engagement model for every platform.

    z = intercept + w_match·match + w_quality·quality + w_intimacy·intimacy (0 for non-fans);
    P(action) = sigmoid(z + offset_action) for complete, like, comment, share; an engaged
    (completed or liked) non-follower follows with sigmoid(z + offset_follow).
    """

    intercept: float = Field(-4.0, ge=-20.0, le=20.0, description="engagement logit of an impression at zero match, quality and intimacy")
    w_match: float = Field(3.0, ge=0.0, le=20.0, description="weight of the viewer–item interest match in the engagement logit")
    w_quality: float = Field(2.0, ge=0.0, le=20.0, description="weight of item quality in the engagement logit")
    w_intimacy: float = Field(2.0, ge=0.0, le=20.0, description="weight of the viewer's intimacy with the creator in the engagement logit (0 for non-fans)")
    offset_complete: float = Field(0.5, ge=-20.0, le=20.0, description="logit offset of completing (watching to the end)")
    offset_like: float = Field(-1.5, ge=-20.0, le=20.0, description="logit offset of a like")
    offset_comment: float = Field(-3.0, ge=-20.0, le=20.0, description="logit offset of a comment")
    offset_share: float = Field(-3.5, ge=-20.0, le=20.0, description="logit offset of a share")
    offset_follow: float = Field(-3.5, ge=-20.0, le=20.0, description="logit offset of following, for non-followers who completed or liked")


class RelationshipConfig(_Section):
    """Intimacy (亲密度) on fan edges: growth by interaction, daily decay, tiers."""

    gain_view: float = Field(0.004, ge=0.0, le=1.0, description="intimacy gain of every impression a fan sees of the creator (gains must not fall from view to share)")
    gain_complete: float = Field(0.01, ge=0.0, le=1.0, description="added gain when the fan completes the item")
    gain_like: float = Field(0.02, ge=0.0, le=1.0, description="added gain of a like")
    gain_comment: float = Field(0.04, ge=0.0, le=1.0, description="added gain of a comment")
    gain_share: float = Field(0.06, ge=0.0, le=1.0, description="added gain of a share (intimacy ← 1 − (1 − intimacy)·exp(−Σ gains))")
    decay: float = Field(0.01, ge=0.0, le=1.0, description="daily relative decay of intimacy")
    follow_intimacy: float = Field(0.1, ge=0.0, le=1.0, description="intimacy of a new follow edge")
    tier_thresholds: tuple[float, float, float] = Field(
        (0.1, 0.3, 0.6), description="intimacy at which a fan becomes passerby, liking, true fan (potential below)",
        json_schema_extra={"allowed": "0 < t1 < t2 < t3 ≤ 1"},
    )
    unfollow_threshold: float = Field(0.03, ge=0.0, le=1.0, description="fans below this intimacy may drift away")
    unfollow_rate: float = Field(0.02, ge=0.0, le=1.0, description="daily probability that such a fan unfollows")

    @model_validator(mode="after")
    def _ordered(self):
        t = self.tier_thresholds
        if not (0.0 < t[0] < t[1] < t[2] <= 1.0):
            raise ValueError("tier_thresholds must rise strictly within (0, 1]")
        w = (self.gain_view, self.gain_complete, self.gain_like, self.gain_comment, self.gain_share)
        if not all(a <= b for a, b in zip(w, w[1:])):
            raise ValueError("gains must be ordered gain_view <= gain_complete <= gain_like <= gain_comment <= gain_share")
        return self




class CommissionSchedule(_Section):
    """Commission on on-platform GMV: ``intro`` for a new merchant (``merchants.new_share``
    at day 0, and every merchant that enters later, ``merchants.entrant_pool``) for its
    first ``intro_days`` days in the market, else the category's rate (Douyin shop: 1% for
    30 days, then 2-5%)."""

    intro: float = Field(0.01, ge=0.0, le=1.0, description="rate a new merchant pays during its first intro_days days in the market")
    intro_days: int = Field(30, ge=0, le=3650, description="days from its entry (day 0 for the initial merchants) during which a new merchant (merchants.new_share, or entered later) pays the intro rate")
    fmcg: float = Field(0.05, ge=0.0, le=1.0, description="rate for FMCG (clothing 5%)")
    local_life: float = Field(0.03, ge=0.0, le=1.0, description="rate for local life")
    online_high_ticket: float = Field(0.02, ge=0.0, le=1.0, description="rate for online high-ticket goods (car goods 2%)")
    offline_long_decision: float = Field(0.02, ge=0.0, le=1.0, description="rate for offline long-decision goods")

    def rates(self) -> tuple[float, ...]:
        return tuple(getattr(self, c) for c in CATEGORIES)


class ActivityConfig(_Section):
    """Users' activity responds to their feed (docs/ODD.md 7.2.1; off by default). A user's
    satisfaction with the platform, an exponential moving average of the days they open it,
    sets tomorrow's chance to open it and the length of the session:

    day's satisfaction x = engaged share − ad_aversion · ad share − push_aversion · push annoyance
    open probability = min(1, daily_active · 2σ(sensitivity · (satisfaction − reference)))
    slots = feed_slots · min(max_session, 2σ(session_sensitivity · (satisfaction − reference))),
    drawn as an integer without bias (2σ rises from 0 through 1 at the reference to 2)."""

    enabled: bool = Field(False, description="users' activity on this platform responds to their satisfaction with its feed (off: every user of the platform opens it with probability daily_active and gets feed_slots slots, as adjusted by their attention factor when [attention] is on; satisfaction is measured either way)")
    memory: float = Field(7.0, ge=1.0, le=365.0, description="days of memory of satisfaction: on a day the user opens the platform, satisfaction moves 1/memory of the way to the day's satisfaction (1 = only today counts)")
    recovery: float = Field(30.0, ge=1.0, le=3650.0, description="days: on a day the user does not open the platform, satisfaction moves 1/recovery of the way back to the reference, so a lapsed user can come back")
    reference: float = Field(0.5, ge=-10.0, le=1.0, description="neutral satisfaction, where a user opens with probability daily_active and gets feed_slots slots; satisfaction starts here (mean_satisfaction, measured also with activity off, is about 0.5 on day 0 of the shipped scenarios and rises as fans grow closer)")
    sensitivity: float = Field(5.0, ge=0.0, le=1000.0, description="how strongly satisfaction moves the open probability, min(1, daily_active · 2σ(sensitivity · (satisfaction − reference))) (0 = fixed at daily_active)")
    session_sensitivity: float = Field(2.5, ge=0.0, le=1000.0, description="how strongly satisfaction moves the session length, slots = feed_slots · min(max_session, 2σ(session_sensitivity · (satisfaction − reference))) (0 = fixed at feed_slots)")
    max_session: float = Field(2.0, ge=1.0, le=2.0, description="longest session as a multiple of feed_slots from satisfaction (its slots never exceed ⌈max_session · feed_slots⌉; 1 = sessions can shrink but not grow); with [attention] on, a user's attention factor multiplies the session further (ODD 7.11) and can take it past this cap")
    ad_aversion: float = Field(1.0, ge=0.0, le=100.0, description="satisfaction lost per unit of ad share of the day's impressions")
    push_aversion: float = Field(0.1, ge=0.0, le=100.0, description="satisfaction lost per unit of the day's promotional-push annoyance from fan groups on this platform (commerce.groups.promo_annoyance per push)")


class AdaptConfig(_Section):
    """The platform adapts some of its knobs toward an objective (docs/ODD.md 7.3.1,
    simulator/platform/adaptation.py; off by default). A deterministic hill-climb, one knob at a
    time in turn: every ``every`` days the platform moves one knob by ± its step, compares
    the objective's mean over that trial period with its mean over the period before and
    keeps the move if it rose by more than ``tolerance`` (relative), else reverts it (and
    tries the other direction next time). Adapting ``centralization`` moves every style
    knob the centralization preset names (follow_share, same_city_share, age_decay,
    pool_growth, cold_start_rate, fan_trust, group_effect, exposure_cap, gini_target,
    gini_gain) by the preset's change since the start: the scenario's explicit keys keep
    their offset from the preset (docs/ODD.md 7.3.1)."""

    enabled: bool = Field(False, description="the platform revises its knobs toward the objective (off: the knobs stay the scenario's for the whole run)")
    objective: Literal["revenue", "gmv", "dau"] = Field("revenue", description="what the platform maximizes, per day: 'revenue' = its ad revenue + commissions + its cut of tips (the ledger's, the platform_revenue metric); 'gmv' = GMV on the platform (public, commercial and private on the platform; WeChat excluded); 'dau' = its active users")
    knobs: tuple[Literal["ad_load", "commission", "centralization"], ...] = Field(
        ("ad_load",), description="the knobs it revises, tried in this order, one per trial period: 'ad_load'; 'commission' (a scale on the whole commission schedule, intro rate included); 'centralization' (needs a policy with a preset, douyin or kuaishou, or a centralization key)")
    every: int = Field(14, ge=1, le=365, description="days of one trial period: a move is judged on the objective's mean over the every days after it against the mean over the every days before it")
    start: int = Field(0, ge=0, le=3650, description="day the first baseline period begins (days before it: no adaptation, e.g. to let the model settle)")
    tolerance: float = Field(0.01, ge=0.0, le=1.0, description="a move is kept only if the trial mean exceeds the mean before it by more than tolerance × |mean before| (relative)")
    ad_load_step: float = Field(0.01, ge=0.0, le=0.5, description="change of ad_load per move (additive)")
    ad_load_min: float = Field(0.0, ge=0.0, le=0.5, description="least ad_load the platform adapts to")
    ad_load_max: float = Field(0.3, ge=0.0, le=0.5, description="largest ad_load the platform adapts to")
    commission_step: float = Field(0.1, ge=0.0, le=10.0, description="change of the commission scale per move (additive; the scale starts at 1 and multiplies every rate of the commission schedule, intro included, each capped at 1)")
    commission_scale_min: float = Field(0.5, ge=0.0, le=100.0, description="least commission scale")
    commission_scale_max: float = Field(2.0, ge=0.0, le=100.0, description="largest commission scale")
    centralization_step: float = Field(0.1, ge=0.0, le=1.0, description="change of centralization per move (additive); it starts at the platform's centralization key, else 1 for policy douyin and 0 for kuaishou")
    centralization_min: float = Field(0.0, ge=0.0, le=1.0, description="least centralization")
    centralization_max: float = Field(1.0, ge=0.0, le=1.0, description="largest centralization")

    @model_validator(mode="after")
    def _check(self):
        if len(set(self.knobs)) != len(self.knobs):
            raise ValueError("knobs must not repeat")
        if self.enabled and not self.knobs:
            raise ValueError("knobs is empty: an enabled adaptation needs at least one knob")
        for k in ("ad_load", "commission_scale", "centralization"):
            if getattr(self, f"{k}_min") > getattr(self, f"{k}_max"):
                raise ValueError(f"{k}_min must be at most {k}_max")
        return self


class ShelfConfig(_Section):
    """A shelf e-commerce platform (货架电商, Taobao-like; ``kind = "shelf"``, docs/ODD.md
    7.12; read only on a shelf platform). No creator feed: users come with purchase intent
    and search; merchants recall their past buyers by SMS, and a recalled user who does
    not buy searches the category again, where the other shops compete for them (the leak
    of private traffic back into public traffic, docs/sources.md mechanism 6).

    search score of shop m for searcher u = w_match·match(u, m) + w_price·fit(u, m) + temperature·Gumbel
    fit(u, m) = 1 − |band_u − band_m|  (price bands uniform in [0, 1], drawn once)
    P(buy) = the purchase model's P with buy_offset + w_price·(fit − 1) added to its logit"""

    intent_rate: float = Field(0.03, ge=0.0, le=1.0, description="daily probability that a user of the shelf platform arrives with purchase intent and searches (one search a day at most); the category is drawn from merchants.category_mix")
    results: int = Field(5, ge=1, le=100, description="shops shown per search: the best-scoring shops of the category; the searcher considers them in rank order and buys at most once")
    candidates: int = Field(256, ge=1, le=100_000, description="search retrieval: a block of searches of one category scores at most this many shops of the category, a random sample when the category has more (all of them otherwise)")
    w_match: float = Field(2.0, ge=0.0, le=50.0, description="weight of the searcher's interest match with the shop's account topic in the search score")
    w_price: float = Field(2.0, ge=0.0, le=50.0, description="weight of the price fit (1 − the distance between the searcher's and the shop's price bands, each uniform in [0, 1] and drawn once) in the search score and in the purchase logit (as w_price · (fit − 1): 0 at a perfect fit)")
    temperature: float = Field(1.0, ge=0.0, le=100.0, description="scale of the Gumbel noise on search scores (0 = the best-scoring shops always)")
    buy_offset: float = Field(1.5, ge=-20.0, le=20.0, description="shelf conversion bonus added to the purchase logit of searches and recalls (buyers come with intent: 'converts well')")
    recall_every: int = Field(7, ge=1, le=365, description="days between a merchant's SMS recall campaigns (on days t with t mod recall_every = 0)")
    recall_rate: float = Field(0.5, ge=0.0, le=1.0, description="probability that a campaign texts each eligible past buyer: a user of the platform who bought from the merchant on this platform, whose last order with it is at least the category's repurchase_days and at most recall_window days old (0 = no recall)")
    recall_window: int = Field(90, ge=1, le=36500, description="days after a buyer's last order with the merchant within which the merchant still recalls them")
    sms_cost: float = Field(0.05, ge=0.0, le=1e6, description="yuan one recall SMS costs the merchant (booked as its operating cost)")
    leak: bool = Field(True, description="a recalled user who does not buy at the recalling shop searches the category the same day, the recalling shop excluded; a purchase there at another shop is a leak (false: they leave)")


class PlatformConfig(_Section):
    """One platform's feed and its knobs.

    Where defaults come from: the field defaults below are the only defaults. For the
    feed's style knobs they are the Douyin-like values; the relationship knobs
    ``fan_trust`` and ``group_effect`` default to the neutral 1.0 (relationships count
    as fully as the purchase and push models say). The ``policy`` presets
    (:mod:`simulator.config.presets`) replace some of them: ``douyin`` lowers fan_trust
    and group_effect to 0.4 / 0.3 (its feed knobs equal the field defaults, a test checks
    it), ``kuaishou`` sets the decentralized values, and ``centralization`` interpolates.
    The reference policies (``random``, ``popularity``, ``interest``) have no preset and
    take the field defaults: a neutral baseline for the feed and for relationships.
    """

    centralization: float | None = Field(
        None, ge=0.0, le=1.0,
        description="0 = Kuaishou-like, 1 = Douyin-like: sets the defaults of the style knobs in between, in place of the policy's preset whatever the policy (explicit keys still win, so in a resolved scenario, a run's scenario.toml, where every style knob is explicit, changing it moves none of them; an override of it on a Scenario object is refused; with a reference policy only follow_share, same_city_share, fan_trust and group_effect of them act)",
    )
    policy: Literal["douyin", "kuaishou", "random", "popularity", "interest"] = Field(
        "douyin", description="ranking policy; 'douyin'/'kuaishou' (the algorithmic policy) also set the defaults of the style knobs. The reference policies 'random', 'popularity' and 'interest' ignore the algorithmic knobs: beta, exposure_cap, cap_lookahead, age_decay, cold_start_rate, cold_start_slots, the pool_* knobs, stall_weight, perf_prior_*, w_quality, w_perf and the Gini steering (gini_target, gini_gain, steering_*: the exponent may move but nothing reads it); 'random' and 'popularity' also ignore w_match and candidate_affinity"
    )
    kind: Literal["feed", "shelf"] = Field(
        "feed", description="'feed': a short-video platform with a creator feed; 'shelf': shelf e-commerce (Taobao-like, see shelf): no feed, users search with purchase intent and merchants recall past buyers by SMS. On a shelf platform the feed and ad keys are ignored (no impressions, no ad slots: merchants spend no ad budget there); adoption, commission, fan_trust, ban_per_diversion and shelf act (its table names a policy like any platform's; the policy only sets the fan_trust default there); no account lives on a shelf platform (homes are feed platforms); activity.enabled, gini_target and adapting a knob other than commission are errors; users' attention ([attention]) runs over the feed platforms only"
    )
    adoption: float = Field(1.0, ge=0.0, le=1.0, description="share of users who use this platform (at day 0; with attention.enabled users then adopt and drop platforms)")
    daily_active: float = Field(0.7, ge=0.0, le=1.0, description="probability a user of the platform opens the app on a day; where activity responds (activity.enabled), the probability at the reference satisfaction: a user's is min(1, daily_active · 2σ(activity.sensitivity · (satisfaction − reference))), at most twice daily_active; with [attention] on, times the user's attention factor (at most 1)")
    feed_slots: int = Field(12, ge=1, le=1000, description="slots per active user per day (attention; slots no source can fill stay empty, feed_fill); where activity responds (activity.enabled), the session at the reference satisfaction, scaled by satisfaction up to activity.max_session × feed_slots; with [attention] on, scaled further by what of the user's attention factor the cap on the open probability leaves")
    follow_share: float = Field(0.05, ge=0.0, le=1.0, description="mean share of the non-ad slots offered to the follow feed (关注): a user's follow slots are Binomial(slots − ad slots, the user's share), the shares averaging follow_share. The tab picks among the followed creators reachable on the platform (∝ intimacy + follow_pick_base; one banned on or absent from the platform weighs 0). A follow slot the tab cannot fill goes to the recommendation feed: a user who follows no reachable creator, or whose pick has no item in the last follow_window days; so the follow tab's share of impressions is lower (kuaishou.toml: ~0.32 of the non-ad impressions over its first 10 days at follow_share 0.474, douyin.toml ~0.03 at 0.05)")
    follow_share_concentration: float = Field(
        8.0, gt=0.0, le=1e6, description="Beta concentration of users' own follow share around the mean (users choose tabs)"
    )
    same_city_share: float = Field(0.0, ge=0.0, le=1.0, description="share of the slots left after the ad slots and the follow feed's that go to the same-city tab (同城): Binomial(slots − ad − follow slots, same_city_share), each a random recent (max_item_age) item of a creator of the user's city reachable on the platform; a city without one leaves the slot to the recommendation feed")
    ad_load: float = Field(0.08, ge=0.0, le=0.5, description="share of slots offered to the ad market (commercial): each active user's ad slots are Binomial(slots, ad_load); the slots merchants do not buy (budgets too small, targeted audiences used up, cpm_elasticity above 1) go to the cold-start pool and the recommendation feed, not to the follow or same-city tabs (their shares are of the slots left after the ads offered: a high ad_load with few ads sold lowers their share of the impressions), so ads fill at most ad_load of the slots offered, in expectation (a larger share of the impressions where the other sources leave slots empty, feed_fill below 1) (0 = no ad slots; the merchants' ad budgets, merchants.daily_ad_budget, then go to the other feed platforms that can sell them ads, and are not spent where there is none)")
    cpm: float = Field(20.0, ge=0.0, le=1e4, description="reserve CPM: yuan per 1,000 ad impressions while merchants want no more impressions than there are ad slots (above that it rises with cpm_elasticity); 0 = free ads: every merchant with a budget wants every slot, the slots are rationed in proportion and nothing is spent (cpm_elasticity does nothing)")
    beta: float = Field(1.0, ge=0.0, le=50.0, description="intimacy boost (flywheel), two channels: a fan's chance to be recommended an item is multiplied by 1 + beta·intimacy, and their engagement weighs 1 + beta·intimacy in the item's pool rate (strangers weigh 1; 0 = neutral, fans count like anyone)")
    exposure_cap: float | None = Field(
        None, gt=0.0, le=1.0, description="per-item cap on cumulative recommendation impressions (the algorithm's own distribution), as a share of daily active users: an item gets at most ⌊exposure_cap · DAU⌋ recommendation impressions (whole impressions, never more than the share: 10 at 10.5) and leaves retrieval once it has them; follow tab, same city, ads and cold start neither count nor are blocked (none = no cap)"
    )
    age_decay: float = Field(0.25, ge=0.0, le=10.0, description="age decay in retrieval: an item's retrieval weight is multiplied by exp(−age_decay · age in days) (applied once, not in the ranking score)")
    max_item_age: int = Field(14, ge=1, le=365, description="days an item stays recommendable: the recommendation feed, the same-city tab and the ads show items younger than this (an ad shows a recent item of the merchant's account, and an account without one buys no ads on the platform); the follow tab reads follow_window instead; the traffic pools judge items up to the longer of the two old")
    temperature: float = Field(0.5, gt=0.0, le=100.0, description="exploration: Gumbel noise scale on ranking scores (picks ~ softmax(score / temperature))")
    candidates: int = Field(64, ge=4, le=4096, description="candidate draws per block of users (with replacement, split over the block's interest segments in proportion, each segment drawing at least one, then deduplicated: about this many distinct items are scored at most, fewer where retrieval is concentrated; no more draws than recommendable items); a user's recommendation slots beyond the block's distinct candidates stay empty")
    block_users: int = Field(4096, ge=16, le=1_000_000, description="most users scored together against one candidate set")
    candidate_coverage: float = Field(2.0, gt=0.0, le=100.0, description="candidate draws per day per competing item (participation ratio of retrieval weights); sets how many blocks a day has")
    w_match: float = Field(3.0, ge=0.0, le=50.0, description="ranking score weight of interest match (a log-weight divided by temperature: pick odds × exp(w_match · match / temperature))")
    w_quality: float = Field(1.0, ge=0.0, le=50.0, description="ranking score weight of item quality (a log-weight divided by temperature, like w_match)")
    w_perf: float = Field(2.0, ge=0.0, le=50.0, description="ranking score weight of the item's observed (weighted) engagement rate (a log-weight divided by temperature, like w_match)")
    candidate_affinity: float = Field(4.0, ge=0.0, le=50.0, description="how strongly a block's candidates are drawn toward the block's interests")
    cold_start_rate: float = Field(0.3, ge=0.0, le=1.0, description="cold-start pool: each new item is offered to each fan of its creator with probability rate × intimacy")
    cold_start_slots: int = Field(2, ge=0, le=100, description="most cold-start offers a user sees per day (a random subset of their offers when they have more)")
    pool_base: float = Field(0.002, gt=0.0, le=1.0, description="size of the first traffic pool (real impressions that fill it), as a share of daily active users")
    pool_growth: float = Field(5.0, ge=1.0, le=100.0, description="each pool level is this many times larger")
    pool_levels: int = Field(5, ge=1, le=12, description="number of traffic-pool levels")
    pool_threshold: float = Field(0.45, ge=0.0, le=1.0, description="engagement rate an item needs in its pool to be promoted (weighted: fans weigh 1 + beta·intimacy)")
    stall_weight: float = Field(0.05, ge=0.0, le=1.0, description="an item that failed its pool keeps drawing traffic with this share of the pool's quota")
    pool_quota_floor: float = Field(0.05, ge=0.0, le=1.0, description="the least an item below the top pool draws, as a share of its pool's quota: retrieval weighs it by max(quota − impressions so far, pool_quota_floor · quota), so a nearly full pool keeps drawing (pools are judged each evening once full)")
    perf_prior_mean: float = Field(0.4, ge=0.0, le=1.0, description="prior engagement rate the observed rate (score term w_perf) is shrunk toward")
    perf_prior_weight: float = Field(10.0, gt=0.0, le=1e6, description="weight of that prior, in impressions (> 0: an item not yet seen has only the prior to go by)")
    cap_lookahead: int = Field(8, ge=0, le=1000, description="with an exposure cap, how many places further down each user's ranked list the feed looks to replace capped picks")
    follow_pick_base: float = Field(0.05, ge=0.0, le=10.0, description="the follow tab picks a followed creator with probability ∝ intimacy + this (so cold follows still show up), among those reachable on the platform (one banned on or absent from it weighs 0)")
    gini_target: float | None = Field(None, ge=0.0, le=1.0, description="creator exposure Gini the platform steers toward (none = no steering); one-sided: the steering only holds back creators above the mean exposure, so below the target the exponent falls back to 0 and a target above the unsteered Gini does nothing")
    gini_gain: float = Field(2.0, ge=0.0, le=100.0, description="how fast the steering exponent follows the Gini error")
    steering_step: float = Field(0.1, ge=0.0, le=10.0, description="daily change of the steering exponent per unit of gini_gain × (measured Gini − gini_target)")
    steering_max: float = Field(5.0, ge=0.0, le=100.0, description="largest steering exponent (the penalty on over-exposed creators' items is creator_share^−exponent)")
    follow_window: int = Field(3, ge=1, le=365, description="days an item stays in followers' follow feed")
    cpm_elasticity: float = Field(
        1.0, ge=0.0, le=10.0,
        description="public-domain saturation: when merchants want more ad impressions than there are ad slots, the CPM rises as cpm × (demand / supply)^elasticity and what merchants can afford at it is rationed to the slots (0 = fixed CPM, slots rationed; 1 = the market clears; above 1 fewer impressions than the slots are bought and the rest return to the feed)",
    )
    lookalike_oversample: int = Field(2, ge=1, le=100, description="look-alike ads: candidate draws per impression a merchant can pay for (more = look-alike budgets fill more often)")
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
        0.0, ge=0.0, le=1.0, description="over-marketing: a merchant's own account whose home is this platform and whose group has members is banned here with probability 1 − (1 − ban_per_excess_push)^excess a day, excess = its promotional pushes above commerce.groups.overmarketing_pushes (partner creators' groups are never banned; a learning merchant sends no promotion above the limit where this is > 0, so it is never banned for it)"
    )
    activity: ActivityConfig = Field(default_factory=lambda: ActivityConfig(), description="users' activity responds to their satisfaction with this platform's feed (off by default)")
    adapt: AdaptConfig = Field(default_factory=lambda: AdaptConfig(), description="the platform revises ad load, commission or centralization toward an objective (off by default)")
    shelf: ShelfConfig = Field(default_factory=lambda: ShelfConfig(), description="shelf e-commerce: search, SMS recall and its leak (read only when kind = 'shelf')")

    @model_validator(mode="after")
    def _shelf(self):
        if self.kind == "shelf":
            if self.activity.enabled:
                raise ValueError("activity.enabled: a shelf platform has no feed whose satisfaction could move activity (its daily users are its searchers, shelf.intent_rate)")
            if self.gini_target is not None:
                raise ValueError("gini_target: a shelf platform has no creator feed to steer")
            feed_knobs = [k for k in self.adapt.knobs if k != "commission"] if self.adapt.enabled else []
            if feed_knobs:
                raise ValueError(f"adapt.knobs: a shelf platform has no feed, so it can adapt only its commission "
                                 f"(got {', '.join(feed_knobs)})")
        return self

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict):
            preset = dict(POLICY_PRESETS.get(data.get("policy", "douyin"), {}))
            c = data.get("centralization")
            if isinstance(c, (int, float)) and not isinstance(c, bool) and 0.0 <= c <= 1.0:
                preset.update(centralization_preset(float(c)))
            if data.get("kind") == "shelf":  # no feed: the policy (and centralization) set only fan_trust (ODD 7.12)
                preset = {k: v for k, v in preset.items() if k == "fan_trust"}
            data = {**preset, **data}
        return data

    def initial_centralization(self) -> float | None:
        """Where centralization starts for adaptation: the ``centralization`` key, else 1
        for policy douyin and 0 for kuaishou (their presets are the two ends); None for a
        reference policy without the key (it has no centralization to adapt)."""
        if self.centralization is not None:
            return self.centralization
        return {"douyin": 1.0, "kuaishou": 0.0}.get(self.policy)

    @model_validator(mode="after")
    def _adapt_bounds(self):
        a = self.adapt
        if not a.enabled:
            return self
        if "ad_load" in a.knobs and not a.ad_load_min <= self.ad_load <= a.ad_load_max:
            raise ValueError(f"adapt: ad_load {self.ad_load} is outside [adapt.ad_load_min, adapt.ad_load_max] = "
                             f"[{a.ad_load_min}, {a.ad_load_max}]")
        if "commission" in a.knobs and not a.commission_scale_min <= 1.0 <= a.commission_scale_max:
            raise ValueError("adapt: the commission scale starts at 1, which must be within "
                             "[adapt.commission_scale_min, adapt.commission_scale_max]")
        if "centralization" in a.knobs:
            c = self.initial_centralization()
            if c is None:
                raise ValueError(f"adapt: centralization is adaptable only with policy douyin or kuaishou or a "
                                 f"centralization key (policy {self.policy!r} has no preset)")
            if not a.centralization_min <= c <= a.centralization_max:
                raise ValueError(f"adapt: centralization starts at {c}, outside [adapt.centralization_min, "
                                 f"adapt.centralization_max] = [{a.centralization_min}, {a.centralization_max}]")
        return self


class CategoryConfig(_Section):
    """One of Douyin's four industry quadrants: what is sold and how it is bought."""

    price: float = Field(gt=0.0, le=1e7, description="yuan per order")
    buy_offset: float = Field(ge=-20.0, le=20.0, description="category term of the purchase model (logit)")
    repurchase_days: int = Field(ge=1, le=36500, description="days before a buyer can buy from the same merchant again")
    intimacy_gain: float = Field(ge=0.0, le=1.0, description="relative: a purchase moves the buyer's intimacy with the seller this share of the way to 1 (intimacy += gain · (1 − intimacy); only where the buyer follows the seller)")
    trust_gain: float = Field(ge=0.0, le=1.0, description="relative: a purchase moves the buyer's trust in the merchant this share of the way to 1 (trust += gain · (1 − trust))")
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
    """Fan groups (粉丝群) on the platform and their push policy (docs/sources.md, mechanism 4)."""

    enabled: bool = Field(True, description="selling accounts run fan groups")
    join_intimacy: float = Field(0.3, ge=0.0, le=1.0, description="fans at or above this intimacy (who use the account's home platform) may join the group")
    join_rate: float = Field(0.05, ge=0.0, le=1.0, description="daily probability that such a fan joins")
    pushes_per_day: float = Field(1.0, ge=0.0, le=50.0, description="group pushes per day (reach 100% of members); with merchants.learning it sets only partner creators' groups and the day-0 groups budget (pushes_per_day × push_cost): merchants' own accounts push groups share × budget / push_cost a day, at most max_pushes")
    value_share: float = Field(0.5, ge=0.0, le=1.0, description="share of pushes that are value content ('pond feed'); the rest promote; with merchants.learning merchants' own accounts start here and hill-climb their own share (merchants.value_step), partner creators' groups keep this")
    value_gain: float = Field(0.03, ge=0.0, le=1.0, description="intimacy gain of one value push (× the platform's group_effect)")
    promo_conversion: float = Field(1.0, ge=0.0, le=20.0, description="a promotional push converts a member with this × the purchase model's probability (× group_effect)")
    promo_annoyance: float = Field(1.0, ge=0.0, le=100.0, description="annoyance one promotional push adds to every member")
    promo_intimacy_cost: float = Field(0.01, ge=0.0, le=1.0, description="relative: the share of every member's intimacy one promotional push takes (intimacy × (1 − cost) per push; harassment)")
    annoyance_decay: float = Field(0.3, ge=0.0, le=1.0, description="daily relative decay of annoyance")
    tolerance_mean: float = Field(4.0, gt=0.0, le=1000.0, description="mean annoyance a user tolerates before leaving a group (log-normal across users)")
    tolerance_sigma: float = Field(0.5, ge=0.0, le=5.0, description="log-normal spread of tolerance")
    unfollow_factor: float = Field(1.5, ge=1.0, le=100.0, description="annoyance above factor × tolerance also makes the member unfollow")
    push_cost: float = Field(1.0, ge=0.0, le=1e6, description="with merchants.learning: yuan one group push costs a merchant's account (content and staff); its pushes a day = groups share × budget / push_cost, at most max_pushes (0 = free: max_pushes)")
    max_pushes: float = Field(10.0, ge=0.0, le=50.0, description="with merchants.learning: most group pushes a merchant's account sends a day, whatever its groups budget")
    overmarketing_pushes: float = Field(3.0, ge=0.0, le=50.0, description="promotional pushes per day to a group's members above which a platform may ban for over-marketing (accounts without members risk nothing; may be fractional: the risk counts the excess above it, and a learning merchant sends at most its whole part)")


class WeChatConfig(_Section):
    """Diversion to personal WeChat (导流) and selling there (docs/sources.md, mechanism 5).
    WeChat pushes take their count, value share and effect from here and the other push
    knobs (value_gain, promo_annoyance, promo_intimacy_cost, promo_conversion,
    annoyance_decay) from :class:`GroupConfig`."""

    friend_cap: int = Field(10_000, ge=1, le=1_000_000, description="friends per WeChat account")
    adds_per_day: int = Field(20, ge=0, le=10_000, description="friend adds per WeChat account per day")
    accept_rate: float = Field(0.3, ge=0.0, le=1.0, description="probability a buyer who gets the card adds the merchant, × (accept_base + the buyer's trust in the merchant)")
    accept_base: float = Field(0.5, ge=0.0, le=10.0, description="the trust-independent part of the WeChat accept factor: a buyer adds the merchant with probability min(1, accept_rate · (accept_base + trust)), so values past 1 / accept_rate − trust change nothing")
    pushes_per_day: float = Field(1.0, ge=0.0, le=50.0, description="WeChat pushes (Moments, group messages) per day")
    value_share: float = Field(0.5, ge=0.0, le=1.0, description="share of WeChat pushes that are value content")
    effect: float = Field(1.0, ge=0.0, le=1.0, description="effectiveness of WeChat pushes (like a platform's group_effect)")
    card_cost: float = Field(0.2, ge=0.0, le=1e6, description="with merchants.learning: yuan one WeChat card (invitation in a parcel) costs; a merchant's cards a day = wechat share × budget / card_cost, each of today's on-platform buyers gets one with probability min(1, cards / buyers) (0 = free: every buyer of a merchant who diverts; WeChat stays closed to the others)")


class CommerceConfig(_Section):
    """Purchases, tips and the private channels. One purchase model for every channel:

    z = intercept + category.buy_offset + w_match·match + λ·(w_intimacy·intimacy + w_trust·trust)
        − price_sensitivity·ln(price / reference_price) + ln(live_multiplier if live)
    P(buy) = sigmoid(z), for a buyer not in the category's repurchase interval; λ is the
    platform's fan_trust (1 on WeChat, where intimacy is 0: the buyer's trust in the
    merchant is the one relationship term)."""

    enabled: bool = Field(True, description="merchants sell, users buy and tip (off: no product links, sales, tips, fan groups, WeChat or shelves; the ad market still sells slots and merchants still spend their ad budgets)")
    intercept: float = Field(-3.5, ge=-20.0, le=20.0, description="purchase model intercept (logit)")
    w_match: float = Field(2.0, ge=0.0, le=20.0, description="weight of the buyer's interest match with the seller in the purchase logit")
    w_intimacy: float = Field(2.5, ge=0.0, le=20.0, description="weight of the buyer's intimacy with the seller (× the platform's fan_trust)")
    w_trust: float = Field(2.0, ge=0.0, le=20.0, description="weight of the buyer's trust in the merchant from past orders (× fan_trust)")
    price_sensitivity: float = Field(0.8, ge=0.0, le=5.0, description="logit penalty per e-fold of price above reference_price (0.8: a 5,000-yuan item sells ~50x less often than a 40-yuan one, before buy_offset)")
    reference_price: float = Field(40.0, gt=0.0, le=1e7, description="price (yuan) at which the price term of the purchase model is zero")
    live_share: float = Field(0.15, ge=0.0, le=1.0, description="share of items that are live sessions")
    live_multiplier: float = Field(2.0, ge=1.0, le=100.0, description="live sessions sell this many times more per viewer (odds)")
    tip_intercept: float = Field(-5.0, ge=-20.0, le=20.0, description="logit of tipping an engaged live impression")
    tip_w_intimacy: float = Field(4.0, ge=0.0, le=20.0, description="weight of intimacy in tipping")
    tip_mean: float = Field(10.0, ge=0.0, le=1e5, description="mean tip in yuan (log-normal, sigma 1)")
    partner_share: float = Field(0.3, ge=0.0, le=1.0, description="share of ordinary creators who sell a merchant's product (product links)")
    link_share: float = Field(0.3, ge=0.0, le=1.0, description="share of a partner creator's items that carry the product link")
    creator_share: float = Field(0.2, ge=0.0, le=1.0, description="share of the price a partner creator earns on every order it is the seller of: feed, fan-group and visit orders alike (shelf and WeChat orders are the merchant's own account's); with the highest commission rate (× adapt.commission_scale_max where a platform adapts its commission) at most 1")
    visit_rate: float = Field(
        0.02, ge=0.0, le=1.0,
        description="daily probability × intimacy that a fan who uses a selling account's home platform visits its homepage or sends a DM there (user-initiated, never annoys); a visit may convert",
    )
    categories: CategoriesConfig = Field(default_factory=lambda: CategoriesConfig())
    groups: GroupConfig = Field(default_factory=lambda: GroupConfig())
    wechat: WeChatConfig = Field(default_factory=lambda: WeChatConfig())


class MerchantConfig(_Section):
    """Merchants. Each has its own account (a creator row), a category, an ad targeting
    and possibly a WeChat diversion strategy."""

    daily_ad_budget: float = Field(15.0, ge=0.0, le=1e9, description="mean model yuan a merchant is willing to spend on ads per day (log-normal across merchants), split each day evenly over the platforms that can sell it ads that day: feed platforms (a shelf platform sells no ads) with ad_load above 0 on which it is not banned (and, with multi-homing, its account present); none can: the day's budget is not spent; a platform's share is also not spent where the merchant's account has no recent item to show; with learning on, the marketing budget, split over the five channels (three ad targetings, group pushes, WeChat cards) by the merchant's learned mix and its ad part over the platforms by its learned platform weights, renormalised each day over the platforms that can sell it ads that day")
    budget_sigma: float = Field(1.0, ge=0.0, le=5.0, description="log-normal spread of budgets; daily_ad_budget is their mean in expectation, so at a large spread a few merchants hold most of the money and the mean over a few merchants falls short of it (as creators.post_rate_sigma)")
    category_mix: tuple[float, float, float, float] = Field(
        (0.4, 0.2, 0.2, 0.2), description="shares of merchants in fmcg, local_life, online_high_ticket, offline_long_decision"
    )
    targeting_mix: tuple[float, float, float] = Field(
        (0.5, 0.25, 0.25), description="shares of merchants whose ads target broad, own fans, look-alikes of own fans"
    )
    diversion_share: float = Field(0.0, ge=0.0, le=1.0, description="share of merchants who divert buyers to WeChat")
    wechat_accounts: int = Field(1, ge=1, le=4, description="WeChat accounts per diverting merchant (switchable, at most 4)")
    new_share: float = Field(0.3, ge=0.0, le=1.0, description="share of merchants new to the platforms at day 0 (the others are past the intro commission)")
    # entry and exit (state/turnover.py)
    exit_loss_days: int = Field(0, ge=0, le=365, description="a merchant whose mean daily profit (margin × GMV − ad spend − commission − partner creators' cut − operating costs) over the last exit_loss_days days is below 0 exits (its account stops, its ads, groups, partners' links and WeChat stop); only after that many days in the market; 0 = merchants never exit")
    entrant_pool: int = Field(0, ge=0, le=100_000, description="potential merchants drawn at the start (budget, category, targeting, diversion as the others', new to the platforms, a dormant account with no followers) who may enter later; 0 = no merchant entry. Entry reads the active merchants' profits (entry_rate): once every one has exited nobody enters; a pool with population.merchants = 0 is an input error (it could never enter)")
    entry_rate: float = Field(0.05, ge=0.0, le=1.0, description="daily probability that a waiting potential merchant enters, when its category's expected profit is positive (see entry_memory)")
    entry_memory: int = Field(30, ge=1, le=365, description="days over which the expected profit of entering is measured: the mean daily profit of the category's active merchants over the last entry_memory days (all active merchants' if the category has none)")
    learning: bool = Field(False, description="merchants learn their channel mix (ads by targeting, group pushes, WeChat cards), their ad split over the platforms (weights renormalised each day over the platforms that can sell the merchant ads; a platform that cannot that day is neither observed nor moved) and their groups' value share from each channel's attributed return (commerce/learning.py); off = the static strategy drawn at day 0; with commerce.enabled false nothing sells and they keep their day-0 mix and weights")
    learning_rate: float = Field(1.0, ge=0.0, le=100.0, description="with learning on: the softmax (exponential-weights) step: a channel's preference moves by learning_rate × (its average return − the mix's average return), returns in yuan back per yuan of effort: attributed gross profit where spent, the yuan itself where it could not be spent (0 = frozen: the day-0 mix, platform split and value share forever)")
    memory: float = Field(14.0, ge=1.0, le=365.0, description="with learning on: days of memory of the exponential moving average of each channel's return (weight 1/memory on today's); also the length of a trial period of the groups' value-share hill-climb")
    min_share: float = Field(0.02, ge=0.0, le=0.2, description="with learning on: exploration floor, the least share of the budget on each channel open to the merchant (WeChat only for merchants who divert; and of the ad budget on each platform that sells ads, at most 1/those platforms: shelf platforms get none), so a merchant keeps seeing every channel's return")
    value_step: float = Field(0.05, ge=0.0, le=0.5, description="with learning on: the step of the hill-climb on a merchant's group value share (every memory days, toward a higher groups return; 0 = the value share stays commerce.groups.value_share)")

    @model_validator(mode="after")
    def _mixes(self):
        for key in ("category_mix", "targeting_mix"):
            v = getattr(self, key)
            if not all(math.isfinite(x) and x >= 0 for x in v) or sum(v) <= 0:
                raise ValueError(f"{key} must be finite, non-negative shares with a positive sum, got {list(v)}")
        return self


class AttentionConfig(_Section):
    """Users' attention across the platforms they use, and adopting and dropping platforms
    (audience/attention.py; docs/ODD.md 7.11; off by default). A user's attention share on
    each platform they use starts at daily_active × feed_slots over the platforms they use
    and moves toward a target ∝ daily_active × feed_slots × exp(sensitivity × satisfaction)
    at rate 1/memory (at equal satisfaction, the day-0 split); the feed platform's
    open probability is the one without attention (daily_active, or activity's response)
    × share / day-0 share (at most 1; the rest lengthens the session), so a user's
    expected slots over all platforms stay their day-0 total (with responsive activity,
    while satisfaction sits at the reference).
    Shelf platforms (kind = 'shelf') have no feed and take no part: their users keep them."""

    enabled: bool = Field(False, description="users' attention shifts across the platforms they use with their satisfaction (audience/activity.py's, measured on every platform), and users adopt and drop platforms (off: each user's platforms and the time spent on each are fixed at day 0)")
    memory: float = Field(30.0, ge=1.0, le=3650.0, description="days: each day a user's attention share moves 1/memory of the way to its target, ∝ daily_active × feed_slots × exp(sensitivity × satisfaction) over the feed platforms they use (1 = the target at once)")
    sensitivity: float = Field(5.0, ge=0.0, le=1000.0, description="how strongly satisfaction tilts the target attention: share ∝ daily_active × feed_slots × exp(sensitivity × satisfaction) over the feed platforms the user uses (0 = the day-0 split, daily_active × feed_slots; at equal satisfaction the target is that split whatever the sensitivity)")
    adopt_rate: float = Field(0.0, ge=0.0, le=1.0, description="daily probability that a user adopts a platform they do not use, × the share of their friends (social graph) who use it (social contagion; 0 = no contagion)")
    adopt_base: float = Field(0.0, ge=0.0, le=1.0, description="daily probability that a user adopts a platform they do not use, whatever their friends do (added to adopt_rate × friends' share)")
    entry_share: float = Field(0.1, gt=0.0, le=1.0, description="attention share a new adopter gives the platform on its first day (taken proportionally from the platforms they already use; 1 if they use none); a user who adopts k platforms on one day gives each min(entry_share, 1/k), equal shares if they used none; its satisfaction starts at activity.reference")
    drop_share: float = Field(0.0, ge=0.0, le=1.0, description="a user drops a platform whose attention share has been below drop_share for drop_days days in a row (never the last platform they use; they leave its fan groups); 0 = nobody drops")
    drop_days: int = Field(7, ge=1, le=365, description="days in a row a platform's attention share must stay below drop_share before the user drops it")


class MetricsConfig(_Section):
    visibility_threshold: float = Field(
        1.0, ge=0.0, le=1e9, description="impressions per creator per day (mean over the step's window) at or above which a creator counts as visible"
    )
    quality_bins: int = Field(4, ge=1, le=20, description="quality strata used by the flywheel ratio")
    success_days: int = Field(30, ge=1, le=365, description="new-creator success: the days after its entry (entry day included) within which an entrant must reach success_followers or success_impressions")
    success_followers: int = Field(100, ge=1, le=10**9, description="new-creator success: followers an entrant must reach within success_days")
    success_impressions: float = Field(3000.0, ge=1.0, le=1e12, description="new-creator success: cumulative impressions (all platforms) an entrant must reach within success_days")


class Scenario(_Section):
    """A whole scenario. Field order is the order of the resolved scenario file."""

    name: str = Field("scenario", min_length=1, max_length=NAME_MAX, description="label of the run's outputs (it names their folder and files: not '.' or '..', no / or \\)")
    description: str = ""
    seed: int = Field(42, ge=0, le=2**63 - 1, description="random seed (the CLI uses it; in Python TrafficModel(..., seed='scenario'))")
    steps: int = Field(30, ge=1, le=3650, description="simulated days")
    population: PopulationConfig = PopulationConfig()
    graph: GraphConfig = GraphConfig()
    creators: CreatorConfig = CreatorConfig()
    engagement: EngagementConfig = EngagementConfig()
    relationship: RelationshipConfig = RelationshipConfig()
    merchants: MerchantConfig = MerchantConfig()
    commerce: CommerceConfig = CommerceConfig()
    metrics: MetricsConfig = MetricsConfig()
    attention: AttentionConfig = AttentionConfig()
    platforms: dict[str, PlatformConfig] = Field(default_factory=lambda: {"douyin": PlatformConfig()})

    def feed_platforms(self) -> tuple[bool, ...]:
        """Per platform, in scenario order: True for a feed platform, False for a shelf
        platform (``kind = "shelf"``, docs/ODD.md 7.12: no feed, no ads, no accounts, no
        part in users' attention). The one place this mask is made."""
        return tuple(p.kind == "feed" for p in self.platforms.values())

    @model_validator(mode="after")
    def _check(self):
        if (why := output_name_error(self.name, "the run's output folder and files")) is not None:
            # (compare wrote scenario_<name>.toml only after every run: a crash at the end)
            raise ValueError(f"name: {why}")
        if not self.platforms:
            raise ValueError("at least one platform is needed")
        if all(p.kind == "shelf" for p in self.platforms.values()):
            raise ValueError("at least one platform must be a feed platform (kind = 'feed'): accounts live on feed platforms")
        for name in self.platforms:
            if not name.isidentifier():
                raise ValueError(f"platform name {name!r} must be a plain identifier")
        if self.population.merchants > self.population.creators // 2:
            raise ValueError("population.merchants must be at most half of population.creators")
        c = self.commerce
        if c.enabled and c.partner_share > 0 and c.creator_share > 0:
            for name, p in self.platforms.items():
                top = max((p.commission.intro, *p.commission.rates()))
                scaled = p.adapt.enabled and "commission" in p.adapt.knobs
                if scaled:
                    top = min(1.0, top * p.adapt.commission_scale_max)
                if top + c.creator_share > 1.0:
                    raise ValueError(
                        f"commerce.creator_share must be at most 1 − the highest commission rate: {c.creator_share} + "
                        f"{top:g} (platforms.{name}.commission{', × adapt.commission_scale_max' if scaled else ''}) "
                        "is above 1, so a partner creator's order would cost its merchant more than its price")
        if self.merchants.entrant_pool > 0 and self.population.merchants == 0:
            raise ValueError("merchants.entrant_pool must be 0 when population.merchants is 0: potential merchants "
                             "enter while active merchants of their category profit (docs/ODD.md 7.10), so with "
                             "none the pool could never enter")
        if self.graph.generator == "holme_kim" and self.graph.friends_per_user // 2 >= self.population.users:
            raise ValueError("graph.friends_per_user must be less than twice population.users with the holme_kim generator "
                             "(each new user links to friends_per_user / 2 earlier users)")
        return self


