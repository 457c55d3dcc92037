"""User (viewer and buyer): a view on one row of ``model.users``."""

from __future__ import annotations

from .._mesa import mesa
import numpy as np


class User(mesa.Agent):
    """A viewer. Attributes read and write the model's columnar arrays.

    >>> u = model.agents_by_type[User][0]          # doctest: +SKIP
    >>> u.interest, u.city, u.follows()           # doctest: +SKIP
    """

    def __init__(self, model, row: int):
        super().__init__(model)
        self.row = row

    @property
    def interest(self) -> np.ndarray:
        return self.model.users.interest[self.row]

    @property
    def segment(self) -> int:
        return int(self.model.users.segment[self.row])

    @property
    def city(self) -> int:
        return int(self.model.users.city[self.row])

    @property
    def platforms(self) -> list[str]:
        names = list(self.model.platforms)
        return [names[j] for j in np.flatnonzero(self.model.users.uses[self.row])]

    def follows(self) -> dict[int, float]:
        """Creators this user follows → intimacy (亲密度)."""
        c, w = self.model.follows.of_user(self.row)
        return dict(zip(c.tolist(), w.tolist()))

    def __repr__(self) -> str:
        return f"User(row={self.row}, city={self.city}, follows={len(self.follows())})"
