"""Populations as columns: one numpy array per attribute, one row per user, creator or
merchant, and how they are drawn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Scenario
from .arrays import lognormal_with_mean, unit_rows
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

    @property
    def n(self) -> int:
        return len(self.segment)



@dataclass
class MerchantState:
    account: np.ndarray  # (M,) int32: creator row of the merchant's own account
    daily_budget: np.ndarray  # (M,) float64 yuan
    category: np.ndarray  # (M,) int8: index into config.CATEGORIES
    targeting: np.ndarray  # (M,) int8: index into TARGETING
    diverts: np.ndarray  # (M,) bool: invites buyers to add a WeChat contact
    wechat_accounts: np.ndarray  # (M,) int16
    new: np.ndarray  # (M,) bool: new to the platforms at day 0 (pays the intro commission for its first intro_days days)
    banned: np.ndarray  # (platforms, M) bool
    ban_day: np.ndarray  # (platforms, M) int32, -1 when not banned

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

    topic = unit_rows(r_creators.dirichlet(alpha, C) + 1e-3)
    creator_cfg = cfg.creators
    mcn = r_creators.random(C) < creator_cfg.mcn_share
    qmean = (r_creators.normal(0.0, creator_cfg.quality_sd_between, C) + creator_cfg.mcn_quality_bonus * mcn).astype(np.float32)
    rate = lognormal_with_mean(r_creators, creator_cfg.post_rate_mean, creator_cfg.post_rate_sigma, C).astype(np.float32)
    merchant = np.full(C, -1, dtype=np.int32)
    accounts = np.arange(C - M, C, dtype=np.int32)
    merchant[accounts] = np.arange(M, dtype=np.int32)
    commerce = cfg.commerce
    seller = merchant.copy()
    if M > 0:
        partner = (merchant < 0) & (r_commerce.random(C) < commerce.partner_share)
        seller[partner] = r_commerce.integers(0, M, int(partner.sum()))
    home = r_home.integers(0, P, C).astype(np.int8)
    creators = CreatorState(
        topic=topic,
        segment=topic.argmax(axis=1).astype(np.int16),
        city=r_creators.choice(pop.cities, C, p=city_w).astype(np.int32),
        quality_mean=qmean,
        post_rate=rate,
        mcn=mcn,
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
    budget = lognormal_with_mean(r_merchants, merchant_cfg.daily_ad_budget, merchant_cfg.budget_sigma, M)
    mix = np.asarray(merchant_cfg.category_mix, dtype=np.float64)
    tmix = np.asarray(merchant_cfg.targeting_mix, dtype=np.float64)
    category = r_commerce.choice(len(mix), M, p=mix / mix.sum()).astype(np.int8)
    targeting = r_commerce.choice(len(tmix), M, p=tmix / tmix.sum()).astype(np.int8)
    diverts = r_commerce.random(M) < merchant_cfg.diversion_share
    new = r_commerce.random(M) < merchant_cfg.new_share
    merchants = MerchantState(
        account=accounts, daily_budget=budget, category=category, targeting=targeting, diverts=diverts,
        wechat_accounts=np.full(M, merchant_cfg.wechat_accounts, dtype=np.int16), new=new,
        banned=np.zeros((P, M), dtype=bool), ban_day=np.full((P, M), -1, dtype=np.int32),
    )
    return users, creators, merchants
