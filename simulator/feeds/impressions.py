"""Impressions: one row per item shown to a user today, the trace every later phase reads."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..state.vocabulary import ADS, COMMERCIAL, PRIVATE, PUBLIC
from . import numpy_kernels


# the trace's row indices (item rows of the live store, follow edges) are int32: 8 bytes
# an impression fewer than int64, the day's largest table at 10 M users (issue #17);
# build_feed refuses a day whose store or follow graph would not fit (INDEX_LIMIT)
INDEX = np.int32
INDEX_LIMIT = np.iinfo(INDEX).max
assert PUBLIC == 0  # Impressions.domain: a non-fan's impression outside ad slots is 0


@dataclass
class Impressions:
    """One row per impression. ``edge`` is the viewer's follow edge to the item's creator
    (-1 when the viewer does not follow), so the domain follows from it and the source."""

    user: np.ndarray  # int32
    item: np.ndarray  # INDEX (int32): the item's row in the live store
    source: np.ndarray  # int8: index into vocabulary.SOURCES
    edge: np.ndarray  # INDEX (int32): the follow edge, or -1
    match: np.ndarray  # float32 interest match of viewer and item
    targeting: np.ndarray | None = None  # int8: an ad slot's targeting (vocabulary.TARGETING), else -1 (the default)

    def __post_init__(self):
        self.item = self.item.astype(INDEX, copy=False)
        self.edge = self.edge.astype(INDEX, copy=False)
        if self.targeting is None:
            self.targeting = np.full(len(self.user), -1, np.int8)

    @staticmethod
    def empty() -> "Impressions":
        return Impressions(user=np.zeros(0, np.int32), item=np.zeros(0, INDEX), source=np.zeros(0, np.int8),
                           edge=np.zeros(0, INDEX), match=np.zeros(0, np.float32))

    @staticmethod
    def make(model, users: np.ndarray, items: np.ndarray, source: int, edge: np.ndarray,
             targeting: np.ndarray | None = None) -> "Impressions":
        """Impressions of one source; computes the interest match. ``targeting``: ad slots'
        targeting (the ad market tags them), else -1."""
        # (take(axis=0) copies the same rows as fancy indexing, ~10× quicker on rows of a few floats)
        # large days: in chunks, no gathered rows of every impression (not a small run's
        # days on the kernels compiled ahead: the one call measured ~0.56× the chunks' time
        # on a 10,000-user day's ads, follow tab and cold start; the same floats)
        if numpy_kernels.compiled(len(users)) and not (numpy_kernels.AHEAD_RUN
                                                       and len(users) < numpy_kernels.COMPILED_FROM):
            match = match_in_chunks(model.users.interest, model.items.topic, users, items)
        else:
            match = (np.einsum("ij,ij->i", model.users.interest.take(users, axis=0),
                               model.items.topic.take(items, axis=0)) if len(users) else np.zeros(0, np.float32))
        # (no copies of arrays already in the trace's dtypes: the callers pass arrays of their own)
        return Impressions(user=users.astype(np.int32, copy=False), item=items.astype(INDEX, copy=False),
                           source=np.full(len(users), source, np.int8), edge=edge.astype(INDEX, copy=False),
                           match=match.astype(np.float32, copy=False),
                           targeting=None if targeting is None else targeting.astype(np.int8, copy=False))

    @staticmethod
    def of_slots(model, users: np.ndarray, items: np.ndarray, source: int,
                 targeting: np.ndarray | None = None) -> "Impressions":
        """Impressions of slots that may or may not go to fans: looks the follow edge up."""
        edge = model.follows.lookup(users, model.items.creator[items])
        return Impressions.make(model, users, items, source, edge, targeting)

    @staticmethod
    def concat(parts: list["Impressions"]) -> "Impressions":
        parts = [p for p in parts if len(p.user)] or [Impressions.empty()]
        return Impressions(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Impressions)})

    def __len__(self) -> int:
        return len(self.user)

    def domain(self) -> np.ndarray:
        """Index into vocabulary.DOMAINS: commercial in ad slots, else private when the
        viewer follows the creator, else public. Computed once (impressions do not change
        after the feed is built)."""
        d = self.__dict__.get("_domain")
        if d is None or len(d) != len(self.edge):
            # int8 from the start, PUBLIC being 0 (np.where made int64 first: ~45 ms a
            # platform at 1 M users)
            d = (self.edge >= 0).view(np.int8) * np.int8(PRIVATE)
            np.putmask(d, self.source == ADS, np.int8(COMMERCIAL))
            self.__dict__["_domain"] = d
        return d

    def per_creator(self, item_creator: np.ndarray, n_creators: int) -> np.ndarray:
        """Impressions per creator (``item_creator``: each item's creator row). Computed
        once and shared by Gini steering and the measurements."""
        counts = self.__dict__.get("_per_creator")
        if counts is None:  # (large days: one compiled pass, no gathered creators of every impression)
            count_by_lookup = numpy_kernels.kernel("count_by_lookup", numpy_kernels.compiled(len(self.item)))
            counts = count_by_lookup(self.item, item_creator, n_creators).astype(np.int64, copy=False)
            self.__dict__["_per_creator"] = counts
        return counts


# ----------------------------------------------------------- LATE1M (issue #17, eleventh pass)

MATCH_CHUNK = 1 << 13  # impressions a chunk of match_in_chunks (two gathered buffers of 8 topics: 512 KiB)


def match_in_chunks(interest: np.ndarray, topic: np.ndarray, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    """``np.einsum("ij,ij->i", interest.take(users, axis=0), topic.take(items, axis=0))``
    (:meth:`Impressions.make`'s interest match) ``MATCH_CHUNK`` impressions at a time,
    the rows gathered into two buffers reused from chunk to chunk: the same floats (einsum
    sums each row's products on its own, its topics the inner loop whatever the number of
    rows; a test compares them bit for bit), without the two gathered arrays of every
    impression (issue #17, 1 M users: 32 bytes an impression each, fresh pages every call;
    ~2.6 M follow-tab impressions a day on one platform)."""
    n = len(users)
    out = np.empty(n, dtype=np.result_type(interest.dtype, topic.dtype))
    rows = min(n, MATCH_CHUNK)
    a = np.empty((rows,) + interest.shape[1:], dtype=interest.dtype)
    b = np.empty((rows,) + topic.shape[1:], dtype=topic.dtype)
    for s in range(0, n, MATCH_CHUNK):
        e = min(n, s + MATCH_CHUNK)
        m = e - s
        np.take(interest, users[s:e], axis=0, out=a[:m])
        np.take(topic, items[s:e], axis=0, out=b[:m])
        np.einsum("ij,ij->i", a[:m], b[:m], out=out[s:e])
    return out


# ----------------------------------------------------------- LATEFEEDS (issue #17, twelfth pass)

# the trace's columns and their dtypes (each part of a feed is made in these)
COLUMNS = {"user": np.int32, "item": INDEX, "source": np.int8, "edge": INDEX, "match": np.float32,
           "targeting": np.int8}


class FeedColumns:
    """One platform's feed of the day, its parts written one after another into columns
    allocated once for the day's slots (``capacity``: every impression fills a slot, so
    the feed needs no more): the rows of :meth:`Impressions.concat` of the parts in the
    order they are added, without keeping every part until the end and copying them all
    once more (issue #17, 1 M users: the day's ~720 ranking blocks and the slot sources'
    parts, 18 bytes an impression, read back from memory by the concatenation). Each part
    is copied while it is fresh in the caches; the columns past the last row are never
    written (no memory touched). A part must be in the trace's dtypes (``COLUMNS``)."""

    def __init__(self, capacity: int):
        self.cols = {name: np.empty(max(int(capacity), 0), dtype) for name, dtype in COLUMNS.items()}
        self.n = 0
        self.fixed = False  # a region of another's columns (:meth:`region`): it cannot grow

    def add(self, imp: Impressions) -> None:
        m = len(imp)
        if m == 0:
            return
        n = self.n
        self.reserve(m)
        for name, col in self.cols.items():
            part = getattr(imp, name)
            if part.dtype != col.dtype:
                raise TypeError(f"a feed part's {name} is {part.dtype}, the trace's {col.dtype}")
            col[n : n + m] = part
        self.n = n + m

    def reserve(self, m: int) -> dict:
        """Room for ``m`` more rows (more rows than slots: the columns grow, not
        expected); returns the columns, for a kernel that writes rows from ``self.n`` on
        and then advances it (a ranking block's picks, ``kernels.block_picks_into``)."""
        n = self.n
        if n + m > len(self.cols["user"]):
            if self.fixed:
                raise OverflowError(f"{m} more rows in a feed region of {len(self.cols['user'])} holding {n}")
            for name, col in self.cols.items():
                grown = np.empty(max(2 * len(col), n + m), col.dtype)
                grown[:n] = col[:n]
                self.cols[name] = grown
        return self.cols

    def region(self, start: int, length: int) -> "FeedColumns":
        """Rows ``[start, start + length)`` of these columns (views, within their length) as
        columns of their own, empty, that another thread fills while this one writes
        before ``start``; they cannot grow (:meth:`reserve` raises). :meth:`take_region`
        then moves what was written next to this feed's rows."""
        part = FeedColumns(0)
        part.cols = {name: col[start : start + length] for name, col in self.cols.items()}
        part.fixed = True
        return part

    def take_region(self, start: int, part: "FeedColumns") -> None:
        """Append the ``part.n`` rows that :meth:`region` ``(start, ...)`` holds: moved down
        to this feed's end unless they are there already (numpy copies overlapping ranges
        as if through a buffer)."""
        m = part.n
        if start != self.n:
            for col in self.cols.values():
                col[self.n : self.n + m] = col[start : start + m]
        self.n += m

    def impressions(self) -> Impressions:
        """The feed so far (views of the columns)."""
        return Impressions(**{name: col[: self.n] for name, col in self.cols.items()})
