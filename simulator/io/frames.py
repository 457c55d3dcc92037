"""Tables of a model's agents and items, as written to creators.csv, merchants.csv and
items.csv, and one user's feed for inspection: ``*_columns(model)`` gives a table's
columns (a dict of arrays, no pandas: what ``trafficsim run`` writes, simulator/io/table.py)
and ``*_frame(model)`` the same as a pandas DataFrame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..commerce.ledger import BUYER_TIERS
from ..feeds.policies import Block, prior_context
from ..state.arrays import sigmoid
from ..state.vocabulary import ACTIONS, CATEGORIES, CHANNELS, DOMAINS, GMV_DOMAINS, SOURCES, TARGETING, TIERS


def creators_columns(model) -> dict:
    """The columns of creators.csv (:func:`creators_frame`), without pandas."""
    creators, follows, ledger = model.creators, model.follows, model.ledger
    tiers = follows.fans_by_tier()
    cols = {
        "creator": np.arange(creators.n),
        "merchant": creators.merchant,
        "mcn": creators.mcn,
        "city": creators.city,
        "segment": creators.segment,
        "quality": sigmoid(creators.quality_mean),
        "post_rate": creators.post_rate,
        "followers": follows.followers(),
        "followers_start": creators.followers_start,
        "follows_gained": creators.follows_gained,
        "follows_lost": creators.follows_lost,
        **{f"fans_{tier}": tiers[:, t] for t, tier in enumerate(TIERS)},
        "mean_fan_intimacy": follows.mean_intimacy_by_creator(),
        "items_published": creators.items_published,
    }
    for j, name in enumerate(model.platforms):
        for d, domain in enumerate(DOMAINS):
            cols[f"impressions_{domain}_{name}"] = creators.impressions[j, :, d]
        for s, source in enumerate(SOURCES):
            cols[f"impressions_{source}_{name}"] = creators.impressions_by_source[j, :, s]
    for a, action in enumerate(ACTIONS):
        cols[f"engagements_{action}"] = creators.engagements[:, a]
    cols["seller_for"] = creators.seller
    cols["income_sales"] = ledger.creator_sales_income
    cols["income_tips"] = ledger.creator_tips
    cols["income_total"] = ledger.creator_sales_income + ledger.creator_tips
    for d, domain in enumerate(GMV_DOMAINS):
        cols[f"gmv_{domain}"] = ledger.creator_gmv[:, d]
    cols["group_members"] = np.bincount(follows.creator[model.commerce.groups.member_edges()], minlength=creators.n)
    for t, tier in enumerate(BUYER_TIERS):
        cols[f"purchases_{tier}"] = ledger.creator_purchases_by_tier[:, t]
    cols["entry_day"] = creators.entry_day
    # arrived by creator entry (creators.entry_rate): an entrant of day 0 has entry_day 0
    # like the initial creators, so entry_day alone cannot tell them apart
    cols["entrant"] = creators.entrant
    cols["exit_day"] = creators.exit_day
    cols["active"] = creators.active
    cols["success_day"] = creators.success_day
    return cols


def creators_frame(model) -> pd.DataFrame:
    """One row per creator (:func:`creators_columns`)."""
    return pd.DataFrame(creators_columns(model))


def metrics_rows(model) -> list[dict]:
    """The per-step metric rows ``model.metrics_frame()`` tabulates (no pandas needed)."""
    return model._rows


def merchant_strategy_roi(model) -> dict:
    """Each merchant's strategy (its targeting, ``+wechat`` if it diverts) and ROI (profit /
    cost, NaN without cost): the columns of :func:`merchants_frame` that the ROI plot
    shows, computed without pandas."""
    merchants, ledger = model.merchants, model.ledger
    targeting = np.array(TARGETING)[merchants.targeting]
    profit, cost = ledger.merchant_profit(), ledger.merchant_costs()
    return {"strategy": [f"{t}{'+wechat' if d else ''}" for t, d in zip(targeting, merchants.diverts)],
            "roi": np.divide(profit, cost, out=np.full(merchants.n, np.nan), where=cost > 0)}


def merchants_columns(model) -> dict:
    """The columns of merchants.csv (:func:`merchants_frame`), without pandas: one row per
    merchant: category, strategy, ad spend, GMV by domain, CAC (ad-attributed and blended),
    operating cost, profit, ROI; with learning, the final channel mix, each channel's
    average return, the ad split over platforms and the groups' value share."""
    merchants, ledger = model.merchants, model.ledger
    spend = ledger.ad_spend.sum(axis=0)
    gmv = ledger.gmv.sum(axis=1)
    profit = ledger.merchant_profit()
    targeting = np.array(TARGETING)[merchants.targeting]
    strategy_roi = merchant_strategy_roi(model)
    cols = {
        "merchant": np.arange(merchants.n), "account": merchants.account,
        "category": np.array(CATEGORIES)[merchants.category],
        "targeting": targeting,
        "diverts": merchants.diverts,
        "strategy": strategy_roi["strategy"],
        "daily_budget": merchants.daily_budget, "ad_spend": spend, "ad_impressions": ledger.ad_impressions.sum(axis=0),
    }
    for d, domain in enumerate(GMV_DOMAINS):
        cols[f"gmv_{domain}"] = ledger.gmv[:, d]
    cols["gmv_total"] = gmv
    cols["orders"] = ledger.orders
    cols["new_buyers"] = ledger.new_buyers
    cols["new_buyers_ad"] = ledger.new_buyers_ad
    cols["cac_ad"] = np.divide(spend, ledger.new_buyers_ad, out=np.full(merchants.n, np.nan), where=ledger.new_buyers_ad > 0)
    cols["cac_blended"] = np.divide(spend, ledger.new_buyers, out=np.full(merchants.n, np.nan), where=ledger.new_buyers > 0)
    cols["commission_paid"] = ledger.commission_paid
    cols["creator_paid"] = ledger.creator_paid
    cols["operating_cost"] = ledger.operating_cost
    cols["profit"] = profit
    cols["roi"] = strategy_roi["roi"]
    cols["wechat_contacts"] = model.commerce.wechat.per_merchant()[: merchants.n]
    for j, name in enumerate(model.platforms):
        cols[f"banned_{name}"] = merchants.banned[j]
    cols["entry_day"] = merchants.entry_day
    cols["exit_day"] = merchants.exit_day
    cols["active"] = merchants.active
    # the channel mix (learned; static merchants: the whole budget on their targeting, also for a
    # merchant out of the market, whose effort today is none) and, with learning, each channel's
    # average return (NaN for static merchants)
    from ..commerce.learning import ad_platforms
    learner = model.commerce.learning
    nan = np.full(merchants.n, np.nan)
    # the platform weights (learned; static merchants: even over the feed platforms), which
    # each day's ad budget follows over the platforms that can sell the merchant ads that day
    ok = ad_platforms(model.scenario)
    split = np.tile(np.where(ok, 1.0 / ok.sum(), 0.0), (merchants.n, 1))
    if learner is not None:
        mix = learner.mix
    else:
        mix = np.zeros((merchants.n, len(CHANNELS)))
        mix[np.arange(merchants.n), merchants.targeting.astype(np.int64)] = 1.0
    returns = learner.returns() if learner is not None else None
    for c, channel in enumerate(CHANNELS):
        cols[f"mix_{channel}"] = mix[:, c]
    for c, channel in enumerate(CHANNELS):
        cols[f"return_{channel}"] = returns[:, c] if learner is not None else nan
    for j, name in enumerate(model.platforms):
        cols[f"platform_share_{name}"] = learner.platform_share[:, j] if learner is not None else split[:, j]
    cols["group_value_share"] = (learner.value_share if learner is not None
                               else np.full(merchants.n, model.scenario.commerce.groups.value_share))
    return cols


def merchants_frame(model) -> pd.DataFrame:
    """One row per merchant (:func:`merchants_columns`)."""
    return pd.DataFrame(merchants_columns(model))


def items_columns(model) -> dict:
    """The columns of items.csv (:func:`items_frame`), without pandas: every item ever
    published, archived (compacted) ones included, numbered in publishing order."""
    items = model.items
    col = items.reported
    impressions, by_source, level = col("impressions"), col("impressions_by_source"), col("level")
    engagements = col("engagements")
    cols = {"item": np.arange(items.total), "creator": col("creator"), "day": col("day"), "quality": col("quality")}
    for j, name in enumerate(model.platforms):
        for d, domain in enumerate(DOMAINS):
            cols[f"impressions_{domain}_{name}"] = impressions[j, :, d]
        for s, source in enumerate(SOURCES):
            cols[f"impressions_{source}_{name}"] = by_source[j, :, s]
        cols[f"pool_level_{name}"] = level[j]
    for a, action in enumerate(ACTIONS):
        cols[f"engagements_{action}"] = engagements[:, a]
    return cols


def items_frame(model) -> pd.DataFrame:
    """Every item ever published, archived (compacted) ones included (:func:`items_columns`)."""
    return pd.DataFrame(items_columns(model))


def feed_of(model, user: int, platform: str | None = None) -> pd.DataFrame:
    """One user's feed on the last simulated day: each item (its id in items.csv) with its slot source,
    domain, interest match, quality, the viewer's intimacy with the creator, the
    intimacy boost log(1 + beta·intimacy) and the policy's ranking score, which holds
    temperature × that boost (with the items' engagement rates as of the end of that
    day)."""
    log = next(lg for lg in model.day_logs if platform is None or lg.platform.name == platform)
    imp, shown_on = log.impressions, log.platform
    sel = np.flatnonzero(imp.user == user)
    items = imp.item[sel]
    intimacy = log.reactions.intimacy[sel]
    lo = model.items.first_since(model.day - 1 - shown_on.cfg.max_item_age + 1)
    ctx = prior_context(model, shown_on, min(lo, int(items.min())) if len(items) else lo)
    k = items - (model.items.n - len(ctx.age))
    block = Block(match=imp.match[sel][None, :], intimacy=intimacy[None, :], quality=model.items.quality[items],
                  perf=ctx.perf[k], age=ctx.age[k] - 1, popularity=ctx.impressions[k].astype(np.float32),
                  engagements=ctx.engagements[k].astype(np.float32))
    boost = np.log1p(shown_on.cfg.beta * intimacy) if shown_on.policy.algorithmic else np.zeros(len(sel))
    return pd.DataFrame({
        "item": items + model.items.offset, "creator": model.items.creator[items], "source": np.array(SOURCES)[imp.source[sel]],
        "domain": np.array(DOMAINS)[imp.domain()[sel]], "match": imp.match[sel],
        "quality": model.items.quality[items], "intimacy": intimacy, "intimacy_boost": boost,
        "score": shown_on.policy.score(block)[0],
    })
