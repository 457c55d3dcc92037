"""Items: short videos, live sessions and ad creatives, as growing columns.

The live store holds only the items something can still read; older ones are compacted
into an archive of their reported outputs (:meth:`ItemStore.compact`), so a long run's
memory and step time do not grow with the days behind the live window."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .vocabulary import ACTIONS, DOMAINS, SOURCES


# The columns items.csv reports: what the archive keeps of an expired item.
REPORTED = ("creator", "day", "quality", "impressions", "impressions_by_source", "level", "engagements")


def _compact(a: np.ndarray) -> np.ndarray:
    """A copy of integer column ``a`` in the smallest integer dtype holding its values
    (lossless: :meth:`ItemStore.reported` casts back); other columns are copied as they are."""
    if a.dtype.kind not in "iu" or a.size == 0:
        return a.copy()
    lo, hi = int(a.min()), int(a.max())
    for dt in ((np.uint8, np.uint16, np.uint32) if lo >= 0 else (np.int8, np.int16, np.int32)):
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max and np.dtype(dt).itemsize < a.dtype.itemsize:
            return a.astype(dt)
    return a.copy()


@dataclass
class ItemStore:
    """Items (short videos and ad creatives), appended in publishing order, so the
    items published since day d are a contiguous tail. Per-platform columns have the
    platform as first axis.

    Rows are *live* rows: row r is the item numbered ``offset + r`` in publishing order
    (its id in items.csv). :meth:`compact` moves the oldest items out of the live
    columns into ``archive`` (their reported columns in compact dtypes) and raises
    ``offset`` by their count; it never changes what an item's counters say, only
    where they are kept, and it consumes no random numbers. Live row numbers change
    when it runs, so it runs only between days (before publishing, when nothing holds
    a row number: the day's item indexes are rebuilt after publishing and yesterday's
    impressions are no longer read by the model)."""

    n_platforms: int
    topics: int
    capacity: int = 1024
    n: int = 0
    cols: dict = field(default_factory=dict)
    offset: int = 0  # items archived so far = the id of live row 0
    archive: list = field(default_factory=list)  # chunks: {name: column of the archived rows, compact dtype}
    # compact once the expired rows are at least this share of the live rows (amortizes
    # the copy of the live rows over several days); 0 compacts every day, None never
    compact_min_share: float | None = 0.25

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

    # ------------------------------------------------------------------ compaction

    def expire(self, before_day: int) -> int:
        """Compact the items published before ``before_day`` (nothing may read them any
        more) if they are at least ``compact_min_share`` of the live rows; returns how
        many were archived."""
        if self.compact_min_share is None:
            return 0
        k = self.first_since(before_day)
        if k == 0 or k < self.compact_min_share * self.n:
            return 0
        return self.compact(k)

    def compact(self, k: int) -> int:
        """Move the first ``k`` live rows to the archive: their reported columns are kept
        in compact dtypes, the remaining live rows move to the front (row r becomes
        r − k, order kept) and the freed rows are zeroed, as ``append`` expects."""
        k = min(int(k), self.n)
        if k <= 0:
            return 0
        chunk = {}
        for name in REPORTED:
            per_p = self.SCHEMA[name][1]
            chunk[name] = _compact(self.cols[name][:, :k] if per_p else self.cols[name][:k])
        self.archive.append(chunk)
        m = self.n - k
        for name, (_, per_p, _) in self.SCHEMA.items():
            col = self.cols[name]
            if per_p:
                col[:, :m] = col[:, k : self.n].copy()
                col[:, m : self.n] = 0
            else:
                col[:m] = col[k : self.n].copy()
                col[m : self.n] = 0
        self.n = m
        self.offset += k
        return k

    @property
    def total(self) -> int:
        """Items ever published (archived and live)."""
        return self.offset + self.n

    def reported(self, name: str) -> np.ndarray:
        """Column ``name`` (one of ``REPORTED``) of every item ever published, archived
        ones first, in the live column's dtype: what the column would hold had nothing
        been compacted."""
        dt, per_p, _ = self.SCHEMA[name]
        axis = 1 if per_p else 0
        parts = [c[name].astype(dt) for c in self.archive] + [getattr(self, name)]
        return np.concatenate(parts, axis=axis)

    def archive_nbytes(self) -> int:
        return sum(a.nbytes for c in self.archive for a in c.values())


