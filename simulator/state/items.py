"""Items: short videos, live sessions and ad creatives, as growing columns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .vocabulary import ACTIONS, DOMAINS, SOURCES


@dataclass
class ItemStore:
    """Items (short videos and ad creatives), appended in publishing order, so the
    items published since day d are a contiguous tail. Per-platform columns have the
    platform as first axis."""

    n_platforms: int
    topics: int
    capacity: int = 1024
    n: int = 0
    cols: dict = field(default_factory=dict)

    SCHEMA = {
        # name: (dtype, per_platform, trailing shape)
        "creator": (np.int32, False, ()),
        "day": (np.int32, False, ()),
        "quality": (np.float32, False, ()),
        "topic": (np.float32, False, ("topics",)),
        "impressions": (np.int32, True, (len(DOMAINS),)),  # by domain
        "engagements": (np.int32, False, (len(ACTIONS),)),  # by action
        "impressions_by_source": (np.int32, True, (len(SOURCES),)),  # by slot source
        "level": (np.int8, True, ()),  # current traffic-pool level
        "stalled": (np.bool_, True, ()),  # failed its current pool
        "pool_seen": (np.int32, True, ()),  # real impressions in the current pool (what fills its quota)
        "pool_den": (np.float32, True, ()),  # weighted observations in the current pool (Σ w)
        "pool_num": (np.float32, True, ()),  # weighted engaged observations in the current pool (Σ w·engaged)
        "obs_den": (np.float32, True, ()),  # weighted observations, whole life (same weights)
        "obs_num": (np.float32, True, ()),  # weighted engaged observations, whole life
        "merchant": (np.int32, False, ()),  # product link: the merchant sold, -1 none
        "live": (np.bool_, False, ()),  # a live session (sells more per viewer, collects tips)
    }

    def __post_init__(self):
        for name, (dt, per_p, shape) in self.SCHEMA.items():
            self.cols[name] = np.zeros(self._shape(per_p, shape, self.capacity), dtype=dt)

    def _shape(self, per_p, shape, cap):
        trail = tuple(self.topics if s == "topics" else s for s in shape)
        return ((self.n_platforms, cap) if per_p else (cap,)) + trail

    def __getattr__(self, name):
        cols = self.__dict__.get("cols")
        if cols is not None and name in cols:
            arr = cols[name]
            per_p = self.SCHEMA[name][1]
            return arr[:, : self.n] if per_p else arr[: self.n]
        raise AttributeError(name)

    def append(self, creator: np.ndarray, day: int, quality: np.ndarray, topic: np.ndarray,
               merchant: np.ndarray | None = None, live: np.ndarray | None = None) -> np.ndarray:
        k = len(creator)
        need = self.n + k
        if need > self.capacity:
            cap = max(need, 2 * self.capacity)
            for name, (dt, per_p, shape) in self.SCHEMA.items():
                new = np.zeros(self._shape(per_p, shape, cap), dtype=dt)
                if per_p:
                    new[:, : self.n] = self.cols[name][:, : self.n]
                else:
                    new[: self.n] = self.cols[name][: self.n]
                self.cols[name] = new
            self.capacity = cap
        sl = slice(self.n, need)
        self.cols["creator"][sl] = creator
        self.cols["day"][sl] = day
        self.cols["quality"][sl] = quality
        self.cols["topic"][sl] = topic
        self.cols["merchant"][sl] = -1 if merchant is None else merchant
        self.cols["live"][sl] = False if live is None else live
        self.n = need
        return np.arange(sl.start, sl.stop)

    def first_since(self, day: int) -> int:
        """Index of the first item published on or after ``day``."""
        return int(np.searchsorted(self.day, day, side="left"))


