"""Item indexes the slot sources share: recent items by creator, recommendable items by
city. Built once a day (cleared when items are published)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..state.arrays import indptr_from_rows


@dataclass
class ItemIndex:
    """Items grouped by a key (creator or city) in CSR form."""

    indptr: np.ndarray
    items: np.ndarray


class ItemIndexes:
    def __init__(self, model):
        self.model = model
        self._cache: dict = {}

    def clear(self) -> None:
        self._cache.clear()

    def recent(self, window: int) -> ItemIndex:
        """Items published in the last ``window`` days, grouped by creator."""
        key = ("recent", window)
        if key not in self._cache:
            model = self.model
            lo = model.items.first_since(model.day - window + 1)
            creator = model.items.creator[lo:].astype(np.int64)
            order = np.argsort(creator, kind="stable")
            self._cache[key] = ItemIndex(indptr_from_rows(creator[order], model.creators.n), lo + order)
        return self._cache[key]

    def by_city(self, max_age: int) -> ItemIndex:
        """Recommendable items grouped by their creator's city."""
        key = ("city", max_age)
        if key not in self._cache:
            model = self.model
            lo = model.items.first_since(model.day - max_age + 1)
            city = model.creators.city[model.items.creator[lo:]].astype(np.int64)
            order = np.argsort(city, kind="stable")
            self._cache[key] = ItemIndex(indptr_from_rows(city[order], model.scenario.population.cities), lo + order)
        return self._cache[key]
