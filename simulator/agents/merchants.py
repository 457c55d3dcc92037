"""Merchant: a view on one row of ``model.merchants``; sells through its own account and
through partner creators, buys ads, may divert buyers to WeChat."""

from __future__ import annotations

from .._mesa import mesa
import numpy as np
import pandas as pd

from ..config import CATEGORIES
from ..state.vocabulary import CHANNELS, GMV_DOMAINS, TARGETING


class Merchant(mesa.Agent):
    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def account(self) -> int:
        """Creator row of the merchant's own account."""
        return int(self.model.merchants.account[self.row])

    @property
    def category(self) -> str:
        return CATEGORIES[int(self.model.merchants.category[self.row])]

    @property
    def strategy(self) -> str:
        """Ad targeting, plus ``+wechat`` when the merchant diverts buyers to WeChat."""
        merchants = self.model.merchants
        return TARGETING[int(merchants.targeting[self.row])] + ("+wechat" if merchants.diverts[self.row] else "")

    @property
    def channel_mix(self) -> dict[str, float] | None:
        """With ``merchants.learning``: the current effort share of each channel (ads by
        targeting, groups, WeChat); None for a static merchant (its ``strategy`` is day 0's)."""
        learner = self.model.commerce.learning
        if learner is None:
            return None
        return dict(zip(CHANNELS, learner.mix[self.row].tolist()))

    @property
    def daily_budget(self) -> float:
        return float(self.model.merchants.daily_budget[self.row])

    @property
    def ad_spend(self) -> float:
        """Cumulative ad spend over all platforms."""
        return float(self.model.ledger.ad_spend[:, self.row].sum())

    @property
    def ad_impressions(self) -> int:
        return int(self.model.ledger.ad_impressions[:, self.row].sum())

    @property
    def gmv(self) -> dict[str, float]:
        """Cumulative GMV by domain."""
        return dict(zip(GMV_DOMAINS, self.model.ledger.gmv[self.row].tolist()))

    @property
    def banned(self) -> dict[str, bool]:
        return {p: bool(self.model.merchants.banned[j, self.row]) for j, p in enumerate(self.model.platforms)}

    @property
    def wechat_contacts(self) -> int:
        return int(np.count_nonzero(self.model.commerce.wechat.merchant == self.row))

    def customers(self) -> pd.DataFrame:
        """Everyone who bought from the merchant: orders, trust, last order day, whether the
        buyer follows the merchant's account (and at what intimacy) and is a WeChat contact."""
        book, follows = self.model.commerce.book, self.model.follows
        rows = np.flatnonzero(book.keys % book.n_merchants == self.row)
        users = book.keys[rows] // book.n_merchants
        edge = follows.lookup(users, np.full(len(users), self.account))
        contacts = self.model.commerce.wechat
        return pd.DataFrame({
            "user": users, "orders": book.orders[rows], "trust": book.trust[rows], "last_order_day": book.last_day[rows],
            "follows": edge >= 0,
            "intimacy": np.where(edge >= 0, follows.intimacy[np.maximum(edge, 0)], 0.0) if follows.n_edges else 0.0,
            "in_group": (edge >= 0) & self.model.commerce.groups.in_group(edge),
            "wechat": contacts.has(users, np.full(len(users), self.row)),
        })

    def __repr__(self) -> str:
        return f"Merchant(row={self.row}, {self.category}, {self.strategy}, spend={self.ad_spend:.0f})"
