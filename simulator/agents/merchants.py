"""Merchant: a view on one row of ``model.merchants``; sells through its own account."""

from __future__ import annotations

import mesa


class Merchant(mesa.Agent):
    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def account(self) -> int:
        """Creator row of the merchant's own account."""
        return int(self.model.merchants.account[self.row])

    @property
    def daily_budget(self) -> float:
        return float(self.model.merchants.daily_budget[self.row])

    @property
    def ad_spend(self) -> float:
        return float(self.model.merchants.ad_spend[self.row])

    @property
    def ad_impressions(self) -> int:
        return int(self.model.merchants.ad_impressions[self.row])

    def __repr__(self) -> str:
        return f"Merchant(row={self.row}, account={self.account}, spend={self.ad_spend:.0f})"
