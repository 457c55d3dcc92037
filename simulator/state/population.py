"""Populations as columns: one numpy array per attribute, one row per user, creator or
merchant, and how they are drawn."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..config import Scenario
from .arrays import grow_axis, lognormal_with_mean, unit_rows
from .vocabulary import ACTIONS, DOMAINS, SOURCES


@dataclass
class UserState:
    """Per-user columns. Users are numbered in order of their main interest (segment),
    so a block of consecutive users shares interests (used by the feed's retrieval)."""

    interest: np.ndarray  # (n, topics) float32, unit length
    segment: np.ndarray  # (n,) int16: argmax interest
    city: np.ndarray  # (n,) int32
    uses: np.ndarray  # (n, platforms) bool
    follow_share: np.ndarray  # (n, platforms) float32: the user's own tab choice
    tolerance: np.ndarray  # (n,) float32: annoyance the user takes before leaving a group

    @property
    def n(self) -> int:
        return len(self.segment)


@dataclass
class CreatorState:
    topic: np.ndarray  # (C, topics) float32, unit length
    segment: np.ndarray  # (C,) int16
    city: np.ndarray  # (C,) int32
    quality_mean: np.ndarray  # (C,) float32, latent (logit) scale
    post_rate: np.ndarray  # (C,) float32 items/day
    mcn: np.ndarray  # (C,) bool
    merchant: np.ndarray  # (C,) int32: merchant id of a merchant's own account, else -1
    seller: np.ndarray  # (C,) int32: merchant whose product the account sells (own or partner), else -1
    home: np.ndarray  # (C,) int8: platform where the account runs its fan group and shop
    items_published: np.ndarray  # (C,) int64
    impressions: np.ndarray  # (platforms, C, 3) int64 by domain, cumulative
    engagements: np.ndarray  # (C, actions) int64 by action, cumulative
    impressions_by_source: np.ndarray  # (platforms, C, sources) int64, cumulative
    followers_start: np.ndarray  # (C,) int64: followers at day 0 (set when the world is built)
    follows_gained: np.ndarray  # (C,) int64: new follow edges since day 0
    follows_lost: np.ndarray  # (C,) int64: follow edges removed since day 0
    # a moving population (state/turnover.py): initial creators are active from day 0;
    # dormant accounts of potential merchants have entry_day -1 until their merchant enters
    active: np.ndarray = None  # (C,) bool: posts today
    entry_day: np.ndarray = None  # (C,) int32: day the account started (0: there from the start; -1: not yet)
    exit_day: np.ndarray = None  # (C,) int32: day it stopped posting, -1 while it has not
    entrant: np.ndarray = None  # (C,) bool: arrived by creator entry (creators.entry_rate) during the run
    success_day: np.ndarray = None  # (C,) int32: first day an entrant reached metrics.success_*, -1 before

    # the axis that runs over creators, for fields where it is not the first
    CREATOR_AXIS = {"impressions": 1, "impressions_by_source": 1}
    # what a new row holds where append() is not told (default 0 / False)
    FILL = {"merchant": -1, "seller": -1, "entry_day": -1, "exit_day": -1, "success_day": -1}

    def __post_init__(self):
        C = len(self.segment)
        for name, value in (("active", np.ones(C, bool)), ("entry_day", np.zeros(C, np.int32)),
                            ("exit_day", np.full(C, -1, np.int32)), ("entrant", np.zeros(C, bool)),
                            ("success_day", np.full(C, -1, np.int32))):
            if getattr(self, name) is None:
                setattr(self, name, value)

    @property
    def n(self) -> int:
        return len(self.segment)

    def append(self, n_new: int, **columns) -> np.ndarray:
        """Append ``n_new`` creator rows: every field grows along its creator axis, with
        ``columns[name]`` where given, else ``FILL`` (0 / False by default). Returns the
        new rows' ids. The one place creator-sized state of CreatorState grows."""
        start = self.n
        for f in fields(self):
            axis = self.CREATOR_AXIS.get(f.name, 0)
            setattr(self, f.name, grow_axis(getattr(self, f.name), axis, n_new, columns.get(f.name, self.FILL.get(f.name, 0))))
        return np.arange(start, start + n_new)



@dataclass
class MerchantState:
    account: np.ndarray  # (M,) int32: creator row of the merchant's own account
    daily_budget: np.ndarray  # (M,) float64 yuan
    category: np.ndarray  # (M,) int8: index into config.CATEGORIES
    targeting: np.ndarray  # (M,) int8: index into TARGETING
    diverts: np.ndarray  # (M,) bool: invites buyers to add a WeChat contact
    wechat_accounts: np.ndarray  # (M,) int16
    new: np.ndarray  # (M,) bool: new to the platforms when it enters (pays the intro commission for its first intro_days days)
    banned: np.ndarray  # (platforms, M) bool
    ban_day: np.ndarray  # (platforms, M) int32, -1 when not banned
    # entry and exit (state/turnover.py): the initial merchants are active from day 0;
    # potential merchants (merchants.entrant_pool) wait with entry_day -1
    active: np.ndarray = None  # (M,) bool: trades today
    entry_day: np.ndarray = None  # (M,) int32: 0 for the initial merchants, -1 while waiting
    exit_day: np.ndarray = None  # (M,) int32: -1 while it has not exited

    def __post_init__(self):
        M = len(self.account)
        if self.active is None:
            self.active = np.ones(M, bool)
        if self.entry_day is None:
            self.entry_day = np.zeros(M, np.int32)
        if self.exit_day is None:
            self.exit_day = np.full(M, -1, np.int32)

    MERCHANT_AXIS = {"banned": 1, "ban_day": 1}
    FILL = {"ban_day": -1, "entry_day": -1, "exit_day": -1}

    def append(self, n_new: int, **columns) -> np.ndarray:
        """Append ``n_new`` merchants (as :meth:`CreatorState.append`); returns their ids.
        Used once, when the world is built, for the potential entrants."""
        start = self.n
        for f in fields(self):
            axis = self.MERCHANT_AXIS.get(f.name, 0)
            setattr(self, f.name, grow_axis(getattr(self, f.name), axis, n_new, columns.get(f.name, self.FILL.get(f.name, 0))))
        return np.arange(start, start + n_new)

    @property
    def n(self) -> int:
        return len(self.account)



def build_population(cfg: Scenario, rng: np.random.Generator):
    """Users, creators and merchants with their attributes (no graphs yet).

    Each part has its own random stream, so scenarios that differ only in their
    platforms get the same users, creators and merchants for the same seed (paired
    comparisons): the per-platform attributes (``users.uses`` and ``users.follow_share``
    from the platform-use stream, platform by platform in scenario order, so adding a
    platform after the others leaves theirs unchanged; ``creators.home`` from a stream of
    its own) are drawn apart from everything else, and nothing else depends on the
    number or the settings of the platforms."""
    r_users, r_platforms, r_creators, r_merchants, r_commerce, r_home = rng.spawn(6)
    pop = cfg.population
    n, C, M, d = pop.users, pop.creators, pop.merchants, pop.topics
    P = len(cfg.platforms)
    alpha = np.full(d, pop.interest_concentration)

    city_w = 1.0 / np.arange(1, pop.cities + 1) ** pop.city_zipf
    city_w /= city_w.sum()

    interest = unit_rows(r_users.dirichlet(alpha, n) + 1e-3)
    segment = interest.argmax(axis=1).astype(np.int16)
    order = np.argsort(segment, kind="stable")
    interest, segment = interest[order], segment[order]
    city = r_users.choice(pop.cities, n, p=city_w).astype(np.int32)
    uses = np.empty((n, P), dtype=bool)
    fshare = np.empty((n, P), dtype=np.float32)
    for j, pc in enumerate(cfg.platforms.values()):  # platform use: its own stream, platforms in scenario order
        uses[:, j] = r_platforms.random(n) < pc.adoption
        m, k = pc.follow_share, pc.follow_share_concentration
        if 0.0 < m < 1.0:
            fshare[:, j] = r_platforms.beta(m * k, (1 - m) * k, n)
        else:
            fshare[:, j] = m
    g = cfg.commerce.groups
    tolerance = lognormal_with_mean(r_commerce, g.tolerance_mean, g.tolerance_sigma, n).astype(np.float32)
    users = UserState(interest, segment, city, uses, fshare, tolerance)

    traits = draw_creator_traits(cfg, r_creators, C)
    merchant = np.full(C, -1, dtype=np.int32)
    accounts = np.arange(C - M, C, dtype=np.int32)
    merchant[accounts] = np.arange(M, dtype=np.int32)
    commerce = cfg.commerce
    seller = merchant.copy()
    if M > 0:
        partner = (merchant < 0) & (r_commerce.random(C) < commerce.partner_share)
        seller[partner] = r_commerce.integers(0, M, int(partner.sum()))
    home = draw_homes(r_home, home_platforms(cfg), C)
    creators = CreatorState(
        **traits,
        merchant=merchant,
        seller=seller,
        home=home,
        items_published=np.zeros(C, dtype=np.int64),
        impressions=np.zeros((P, C, len(DOMAINS)), dtype=np.int64),
        engagements=np.zeros((C, len(ACTIONS)), dtype=np.int64),
        impressions_by_source=np.zeros((P, C, len(SOURCES)), dtype=np.int64),
        followers_start=np.zeros(C, dtype=np.int64),
        follows_gained=np.zeros(C, dtype=np.int64),
        follows_lost=np.zeros(C, dtype=np.int64),
    )
    merchant_cfg = cfg.merchants
    strategy = draw_merchant_strategies(cfg, r_merchants, r_commerce, M)
    new = r_commerce.random(M) < merchant_cfg.new_share
    merchants = MerchantState(
        account=accounts, **strategy,
        wechat_accounts=np.full(M, merchant_cfg.wechat_accounts, dtype=np.int16), new=new,
        banned=np.zeros((P, M), dtype=bool), ban_day=np.full((P, M), -1, dtype=np.int32),
    )
    return users, creators, merchants


def city_weights(cfg: Scenario) -> np.ndarray:
    """Zipf shares of the cities (users and creators live in them)."""
    pop = cfg.population
    w = 1.0 / np.arange(1, pop.cities + 1) ** pop.city_zipf
    return w / w.sum()


def draw_creator_traits(cfg: Scenario, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """``n`` creators' own traits (topic and its segment, city, latent quality, post rate,
    MCN backing), in the one order the draws are made in: the initial creators and the
    entrants (state/turnover.py) are drawn by this function, from their own streams."""
    pop, creator_cfg = cfg.population, cfg.creators
    topic = unit_rows(rng.dirichlet(np.full(pop.topics, pop.interest_concentration), n) + 1e-3)
    mcn = rng.random(n) < creator_cfg.mcn_share
    qmean = (rng.normal(0.0, creator_cfg.quality_sd_between, n) + creator_cfg.mcn_quality_bonus * mcn).astype(np.float32)
    rate = lognormal_with_mean(rng, creator_cfg.post_rate_mean, creator_cfg.post_rate_sigma, n).astype(np.float32)
    city = rng.choice(pop.cities, n, p=city_weights(cfg)).astype(np.int32)
    return dict(topic=topic, segment=topic.argmax(axis=1).astype(np.int16), city=city, quality_mean=qmean,
                post_rate=rate, mcn=mcn)


def home_platforms(cfg: Scenario) -> np.ndarray:
    """The platforms an account can live on: the feed platforms (``kind = "feed"``; a
    shelf platform, docs/ODD.md 7.12, has no creator feed, fan groups or homepages)."""
    return np.flatnonzero(cfg.feed_platforms()).astype(np.int64)


def draw_homes(rng: np.random.Generator, platforms: int | np.ndarray, n: int) -> np.ndarray:
    """Each account's home platform, uniformly among ``platforms`` (a count: the first
    that many; or the eligible indices, :func:`home_platforms`; with every platform a feed
    platform both give the same draws)."""
    if np.ndim(platforms) == 0:
        return rng.integers(0, int(platforms), n).astype(np.int8)
    platforms = np.asarray(platforms, dtype=np.int64)
    return platforms[rng.integers(0, len(platforms), n)].astype(np.int8)


def draw_merchant_strategies(cfg: Scenario, r_budget: np.random.Generator, r_strategy: np.random.Generator,
                             n: int) -> dict[str, np.ndarray]:
    """``n`` merchants' budgets (from ``r_budget``), categories, ad targeting and WeChat
    diversion (from ``r_strategy``, in this order): the initial merchants and the
    potential entrants (state/turnover.py) are drawn by this function."""
    merchant_cfg = cfg.merchants
    budget = lognormal_with_mean(r_budget, merchant_cfg.daily_ad_budget, merchant_cfg.budget_sigma, n)
    mix = np.asarray(merchant_cfg.category_mix, dtype=np.float64)
    tmix = np.asarray(merchant_cfg.targeting_mix, dtype=np.float64)
    category = r_strategy.choice(len(mix), n, p=mix / mix.sum()).astype(np.int8)
    targeting = r_strategy.choice(len(tmix), n, p=tmix / tmix.sum()).astype(np.int8)
    diverts = r_strategy.random(n) < merchant_cfg.diversion_share
    return dict(daily_budget=budget, category=category, targeting=targeting, diverts=diverts)
