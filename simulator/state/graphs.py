"""Graphs: the user–user social graph and the user→creator follow graph.

networkx builds small graphs and analyses any of them (``to_networkx``); the step runs
on CSR arrays. The follow graph is the private domain's skeleton: an edge means the
user follows the creator and carries the fan's *intimacy* (亲密度) in [0, 1] and, derived
from it, the fan tier (potential → passerby 路人粉 → liking 喜爱粉 → true fan 真爱粉).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..config import GraphConfig, ScenarioError

from ..state.vocabulary import TIERS
from ..feeds import numpy_kernels
from .arrays import buffer_room, indptr_from_rows, random_in_rows, regrow_buffers, unique_sorted

if TYPE_CHECKING:
    import networkx as nx  # imported where used: a run that needs none of it does not load it

# --------------------------------------------------------------------------- social graph


@dataclass
class SocialGraph:
    """Undirected user–user ties in CSR form (each tie stored both ways)."""

    indptr: np.ndarray
    indices: np.ndarray

    @property
    def n_ties(self) -> int:
        return len(self.indices) // 2

    def to_networkx(self, users: np.ndarray | None = None) -> nx.Graph:
        """The graph (or the subgraph induced by ``users``) as a networkx Graph."""
        import networkx as nx

        g = nx.Graph()
        rows = np.arange(len(self.indptr) - 1) if users is None else np.asarray(users)
        g.add_nodes_from(rows.tolist())
        keep = set(rows.tolist()) if users is not None else None
        for u in rows:
            for v in self.indices[self.indptr[u] : self.indptr[u + 1]]:
                if u < v and (keep is None or int(v) in keep):
                    g.add_edge(int(u), int(v))
        return g


def _csr_from_pairs(a: np.ndarray, b: np.ndarray, n: int) -> SocialGraph:
    mask = a != b
    a, b = a[mask], b[mask]
    src = np.concatenate([a, b]).astype(np.int64)
    dst = np.concatenate([b, a]).astype(np.int64)
    keys = np.sort(src * n + dst)  # sort-based dedupe: much faster than hashing here
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys
    src, dst = keys // n, keys % n
    return SocialGraph(indptr_from_rows(src, n), dst.astype(np.int32))


def small_world_graph(city: np.ndarray, k: int, rewire: float, rng: np.random.Generator) -> SocialGraph:
    """City-local ring lattices (Watts–Strogatz per city) with a share ``rewire`` of the
    ties sent to random users anywhere: high clustering, short paths, city structure.
    Vectorized, so it scales to millions of users."""
    n = len(city)
    order = np.argsort(city, kind="stable")
    sorted_city = city[order]
    starts = np.searchsorted(sorted_city, sorted_city, side="left")
    sizes = np.bincount(sorted_city, minlength=int(sorted_city.max()) + 1)[sorted_city]
    pos = np.arange(n) - starts
    half = max(1, k // 2)
    a_parts, b_parts = [], []
    for j in range(1, half + 1):
        nb = starts + (pos + j) % sizes
        a_parts.append(order)
        b_parts.append(order[nb])
    a = np.concatenate(a_parts)
    b = np.concatenate(b_parts)
    flip = rng.random(len(b)) < rewire
    b[flip] = rng.integers(0, n, int(flip.sum()))
    return _csr_from_pairs(a, b, n)


def holme_kim_graph(n: int, k: int, rng: np.random.Generator) -> SocialGraph:
    """networkx's Holme–Kim power-law cluster graph (for small populations)."""
    import networkx as nx

    seed = int(rng.integers(0, 2**31 - 1))
    g = nx.powerlaw_cluster_graph(n, max(1, k // 2), 0.5, seed=seed)
    e = np.array(g.edges(), dtype=np.int64).reshape(-1, 2)
    # networkx's oldest nodes (0, 1, ...) become the hubs, and users are numbered by
    # interest segment: the nodes are assigned to users at random, so that the hubs are
    # not all of segment 0 (ODD 5)
    user = rng.permutation(n)
    return _csr_from_pairs(user[e[:, 0]], user[e[:, 1]], n)


def build_social_graph(cfg: GraphConfig, city: np.ndarray, rng: np.random.Generator) -> SocialGraph:
    if cfg.generator == "holme_kim":
        return holme_kim_graph(len(city), cfg.friends_per_user, rng)
    return small_world_graph(city, cfg.friends_per_user, cfg.rewire, rng)


# --------------------------------------------------------------------------- follow graph


def fan_tier(intimacy: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Fan tier of each intimacy: 0 potential, 1 passerby (路人粉), 2 liking (喜爱粉), 3 true
    fan (真爱粉); ``thresholds`` are the three intimacies at which the tiers begin."""
    w, t = intimacy, thresholds
    return (w >= t[0]).view(np.int8) + (w >= t[1]).view(np.int8) + (w >= t[2]).view(np.int8)


class EdgeTable:
    """Rows keyed by follow edge, for values that only a few edges carry (the fan groups'
    members: issue #17, ~5% of the edges late in a year; per-edge columns would be copied
    over every edge by each :meth:`FollowGraph.add` and :meth:`FollowGraph.remove`).
    ``edge``: the rows' edge indices (int64, ascending, distinct); a column per name, one
    value a row in the same order. The graph that made it (:meth:`FollowGraph.add_table`)
    moves the indices along when edges are inserted before them and drops the rows of
    removed edges."""

    def __init__(self, columns: dict[str, object]):
        self.edge = np.zeros(0, np.int64)
        self.cols = {name: np.zeros(0, dtype) for name, dtype in columns.items()}

    def __len__(self) -> int:
        return len(self.edge)

    def __getitem__(self, name: str) -> np.ndarray:
        """The column ``name`` (one value a row, in edge order; written in place by its users)."""
        return self.cols[name]

    def rows(self, edges: np.ndarray) -> np.ndarray:
        """Row of each of ``edges``, or -1 where the edge has none (int64)."""
        pos = np.searchsorted(self.edge, edges)
        found = self.edge[np.minimum(pos, len(self.edge) - 1)] == edges if len(self.edge) else np.zeros(len(pos), bool)
        return np.where(found, pos, -1)

    def has(self, edges: np.ndarray) -> np.ndarray:
        """Whether each of ``edges`` (-1: no edge, False) has a row (bool). Many edges (the
        day's selling edges, ~1 M of 4.6 M late at 200 k users) are looked up in a flag per
        edge up to the largest asked (a scatter of the rows and a gather: ~3 ms against ~24
        for their binary searches in 0.22 M rows); a few are searched."""
        if len(edges) == 0 or len(self.edge) == 0:
            return np.zeros(len(edges), bool)
        n = int(edges.max()) + 1
        if 16 * len(edges) < n or edges.min() < 0:
            return self.rows(edges) >= 0
        flag = np.zeros(n + 1, bool)  # + 1: the rows' edges beyond n land on the last, never asked
        flag[np.minimum(self.edge, n)] = True
        return flag[edges]

    def insert(self, edges: np.ndarray, **values) -> None:
        """Rows for ``edges`` (distinct, none of them with a row yet), each column's values
        given as one per edge or one for all."""
        edges = np.asarray(edges, dtype=np.int64)
        if len(edges) == 0:
            return
        order = np.argsort(edges, kind="stable")
        into = numpy_kernels.sorted_inserter(len(self.edge), np.searchsorted(self.edge, edges[order]))
        self.edge = into(self.edge, edges[order])
        for name, col in self.cols.items():
            v = np.asarray(values[name], dtype=col.dtype)
            # (np.full: one value for all, without broadcast_to's ~10 Python calls a column)
            self.cols[name] = into(col, np.full(len(edges), v, dtype=col.dtype) if v.ndim == 0 else v[order])

    def delete_rows(self, rows: np.ndarray) -> None:
        """Drop the rows ``rows`` (row numbers, found by :meth:`rows`; -1 entries removed
        first)."""
        if len(rows) == 0:
            return
        keep = np.ones(len(self.edge), bool)
        keep[rows] = False
        self._keep(keep)

    def _keep(self, keep: np.ndarray) -> None:
        self.edge = self.edge[keep]
        for name in self.cols:
            self.cols[name] = self.cols[name][keep]

    def _edges_inserted(self, pos: np.ndarray) -> None:
        """The graph inserted edges at ``pos`` (nondecreasing, ``np.insert``'s positions):
        an edge moves up by the inserts at or before it (on large tables the rows and the
        places merged in one compiled pass, ``kernels.moved_rows``, not searched)."""
        if len(self.edge):
            if numpy_kernels.compiled(len(self.edge)):
                moved_rows = numpy_kernels.compiled_kernels().moved_rows

                self.edge = moved_rows(self.edge, pos, True)[0]
            else:
                self.edge = self.edge + np.searchsorted(pos, self.edge, side="right")

    def _edges_removed(self, mask: np.ndarray, gone: np.ndarray) -> None:
        """The graph removed the edges where ``mask`` is true (``gone``: their indices,
        ascending): their rows go, an edge moves down by the removed ones before it (on
        large tables both found by merging the rows with ``gone``, ``kernels.moved_rows``)."""
        if len(self.edge) == 0:
            return
        if numpy_kernels.compiled(len(self.edge)):
            moved_rows = numpy_kernels.compiled_kernels().moved_rows

            moved, hit = moved_rows(self.edge, gone, False)
            if hit.any():
                self._keep(~hit)
                moved = moved[~hit]
            self.edge = moved
            return
        hit = mask[self.edge]
        if hit.any():
            self._keep(~hit)
        self.edge = self.edge - np.searchsorted(gone, self.edge)


class FollowGraph:
    """User→creator follow edges in CSR form keyed by user, sorted by creator in a row.

    Arrays (one entry per edge): ``creator`` (int32), ``intimacy`` (float32, in [0,1]),
    ``src`` (the user, int32). ``indptr`` has one entry per user plus one. ``tables``:
    :class:`EdgeTable` s of values that only some edges carry, by name. On large graphs
    (compiled) the columns are views of the first entries of buffers with room
    (:meth:`reserve`), grown and compacted in place by :meth:`add` and :meth:`remove`.
    """

    def __init__(self, n_users: int, n_creators: int, users: np.ndarray, creators: np.ndarray,
                 intimacy: np.ndarray, thresholds: tuple[float, float, float]):
        self.n_users, self.n_creators = n_users, n_creators
        self.thresholds = np.asarray(thresholds, dtype=np.float32)
        keys = users.astype(np.int64) * n_creators + creators.astype(np.int64)
        m = len(keys)
        if m and keys.min() >= 0 and (int(keys.max()) + 1) * m < 2**63:
            # the stable order from one plain sort of distinct keys (key · m + position):
            # ~2x quicker than a stable argsort and its gather (the world's 80,000 edges)
            keys, order = np.divmod(np.sort(keys * m + np.arange(m)), m)
        else:
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        order, keys = order[first], keys[first]
        self.src = (keys // n_creators).astype(np.int32)
        self.creator = (keys % n_creators).astype(np.int32)
        self.intimacy = np.clip(np.asarray(intimacy, dtype=np.float32)[order], 0.0, 1.0)
        self.indptr = indptr_from_rows(self.src, n_users)
        self.tables: dict[str, EdgeTable] = {}  # rows keyed by edge, kept in step by add/remove
        # large graphs: each column's buffer when the column is a view of its first entries
        # (reserve): add inserts there in place while the room lasts, remove compacts there
        self._buffers: dict[str, np.ndarray] = {}
        # the keys of the numpy form of find(), kept for the (src, creator, n_creators) they were computed from
        self._keys: tuple | None = None

    def grow_creators(self, n_new: int) -> None:
        """Make room for ``n_new`` new creators (ids ``n_creators`` on). Edges are keyed by
        user · n_creators + creator: with a larger base the keys change but not their order
        (user first, then creator), so the edges stay as they are."""
        self.n_creators += n_new

    COLUMNS = ("src", "creator", "intimacy")

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_buffers"] = {}  # (a pickle keeps the columns only; the room is made again when needed)
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_buffers", {})  # models saved before the buffers
        self.__dict__.update(state)

    def room(self) -> int:
        """How many edges ``add`` can insert in place, in every column (0 on a column that
        is not a view of the first entries of its buffer)."""
        return buffer_room(self, self.COLUMNS, self._buffers, self.n_edges)

    def reserve(self, extra: int) -> None:
        """Room for ``extra`` more edges in each column of a large graph (compiled), so that
        ``add`` inserts them in place, in the columns' buffers, instead of copying every
        column (issue #17's memory: 4 bytes an edge a column at the step's peak). When the
        room is short, each column moves to a buffer with room for 4 × ``extra``, one column
        at a time; the model calls this as a step starts (yesterday's trace just dropped,
        its lowest memory of the day) with twice yesterday's new edges."""
        if extra <= 0 or not numpy_kernels.compiled(self.n_edges) or self.room() >= extra:
            return
        self._regrow(4 * extra)

    def _regrow(self, room: int) -> None:
        regrow_buffers(self, self.COLUMNS, self._buffers, self.n_edges, room)

    def add_table(self, name: str, **columns) -> EdgeTable:
        """An empty :class:`EdgeTable` with the columns ``name=dtype`` (e.g. the fan groups'
        members) whose rows follow their edges through :meth:`add` and :meth:`remove`."""
        self.tables[name] = EdgeTable(columns)
        return self.tables[name]

    # --- reading
    @property
    def n_edges(self) -> int:
        return len(self.creator)

    @property
    def keys(self) -> np.ndarray:
        """Each edge's key user · n_creators + creator (int64, ascending). Large graphs
        never store them (8 bytes an edge: issue #17; their lookups search the rows); the
        numpy form of :meth:`find` (small graphs, ~7 searches a step) keeps them between
        calls while ``src``, ``creator`` and ``n_creators`` are the arrays and the base
        they were computed from, and :meth:`add` and :meth:`remove` carry them along."""
        keys = self._valid_keys()
        return self.src.astype(np.int64) * self.n_creators + self.creator if keys is None else keys

    def _keep_keys(self, keys: np.ndarray) -> None:
        """Keep ``keys`` as the keys of the current columns (small graphs only)."""
        self._keys = (self.src, self.creator, self.n_creators, keys)

    def _valid_keys(self) -> np.ndarray | None:
        """The kept keys if they are still those of the current columns, else None."""
        cached = self._keys
        if cached is not None and cached[0] is self.src and cached[1] is self.creator and cached[2] == self.n_creators:
            return cached[3]
        return None

    def find(self, users: np.ndarray, creators: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each (user, creator): the position of its edge, or where the edge would be
        inserted to keep the edges sorted by (user, creator), and whether it is there
        (int64, bool). Large graphs search each user's row (``kernels.find_in_rows``),
        small ones the keys (the same answers; tests check both)."""
        users, creators = users.astype(np.int64), creators.astype(np.int64)
        if numpy_kernels.compiled(self.n_edges):
            find_in_rows = numpy_kernels.compiled_kernels().find_in_rows

            return find_in_rows(self.indptr, self.creator, users, creators)
        keys = self._valid_keys()
        if keys is None:
            keys = self.src.astype(np.int64) * self.n_creators + self.creator
            self._keep_keys(keys)
        q = users * self.n_creators + creators
        pos = np.searchsorted(keys, q)
        found = keys[np.minimum(pos, len(keys) - 1)] == q if len(keys) else np.zeros(len(q), bool)
        return pos, found & (pos < len(keys))

    @property
    def tier(self) -> np.ndarray:
        """Fan tier per edge: 0 potential, 1 passerby, 2 liking, 3 true fan."""
        return fan_tier(self.intimacy, self.thresholds)

    def lookup(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Edge index of (user, creator), or -1 where the user does not follow."""
        pos, found = self.find(users, creators)
        return np.where(found, pos, -1)

    def intimacy_of(self, users: np.ndarray, creators: np.ndarray) -> np.ndarray:
        """Intimacy (float32) of each (user, creator) edge, 0 where the user does not
        follow: ``np.where`` over :meth:`lookup`'s edges (all 0 on a graph without edges); on
        large graphs one compiled pass (``kernels.intimacy_in_rows``: each query's search
        of its user's row and the read, the same values)."""
        if numpy_kernels.compiled(self.n_edges):
            intimacy_in_rows = numpy_kernels.compiled_kernels().intimacy_in_rows

            return intimacy_in_rows(self.indptr, self.creator, self.intimacy, users, creators)
        if not self.n_edges:  # (no edge to read, not even edge 0: a graph without follows)
            return np.zeros(len(users), dtype=self.intimacy.dtype)
        edge = self.lookup(users, creators)
        return np.where(edge >= 0, self.intimacy[np.maximum(edge, 0)], 0.0)

    def followers(self) -> np.ndarray:
        """Follow edges per creator (int64; one compiled pass on large graphs)."""
        count_by_index = numpy_kernels.kernel("count_by_index", numpy_kernels.compiled(self.n_edges))
        return count_by_index(self.creator, self.n_creators)

    def fans_by_tier(self) -> np.ndarray:
        """(creators × 4) counts of fans by tier (int64). Its sums are the followers per
        creator and the edges per tier: the metrics take those from it (one pass over the
        edges)."""
        # one compiled pass over the edges on large graphs (the numpy form: a bincount of int64 codes)
        fans_by_tier = numpy_kernels.kernel("fans_by_tier", numpy_kernels.compiled(self.n_edges))
        return fans_by_tier(self.creator, self.intimacy, self.thresholds, self.n_creators)

    def fans_by_tier_and_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`fans_by_tier` and each creator's float64 sum of its fans' intimacy (the
        sums of :meth:`mean_intimacy_by_creator`), on large graphs in one compiled pass over
        the edges instead of two (the metrics read both every step)."""
        both = numpy_kernels.kernel("fans_by_tier_and_sums", numpy_kernels.compiled(self.n_edges))
        return both(self.creator, self.intimacy, self.thresholds, self.n_creators)

    def mean_intimacy_by_creator(self, followers: np.ndarray | None = None,
                                 sums: np.ndarray | None = None) -> np.ndarray:
        """Each creator's mean fan intimacy (NaN without followers); ``followers``: the
        counts of :meth:`followers`, and ``sums``: the sums of the intimacy by creator
        (:meth:`fans_by_tier_and_sums`), if already known."""
        n = self.followers() if followers is None else followers
        s = sums
        if s is None:
            sum_by_index = numpy_kernels.kernel("sum_by_index", numpy_kernels.compiled(self.n_edges))
            s = sum_by_index(self.creator, self.intimacy, self.n_creators)  # bincount's sums, one pass on large graphs
        return np.divide(s, n, out=np.full(self.n_creators, np.nan), where=n > 0)

    def of_user(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        sl = slice(self.indptr[user], self.indptr[user + 1])
        return self.creator[sl], self.intimacy[sl]

    def of_creator(self, creator: int) -> tuple[np.ndarray, np.ndarray]:
        m = self.creator == creator
        return self.src[m], self.intimacy[m]

    # --- writing
    def add(self, users: np.ndarray, creators: np.ndarray, intimacy: float,
            absent_at: np.ndarray | None = None) -> np.ndarray:
        """Add follow edges (duplicates and existing edges are ignored). Returns the
        creators of the edges added. ``absent_at``: for edges given in ascending order of
        (user, creator), none of them in the graph, their :meth:`find` positions, if the
        caller has just found them (the daily caller does: no second search)."""
        if len(users) == 0:
            return np.zeros(0, np.int32)
        q = users.astype(np.int64) * self.n_creators + creators.astype(np.int64)
        ascending = bool((q[1:] > q[:-1]).all())  # the daily caller passes them sorted and unique already
        if ascending and absent_at is not None and len(absent_at) == len(q):
            pos = np.asarray(absent_at, dtype=np.int64)
        else:
            if not ascending:
                q = unique_sorted(q)
            pos, found = self.find(q // self.n_creators, q % self.n_creators)
            q, pos = q[~found], pos[~found]
        if len(q) == 0:
            return np.zeros(0, np.int32)
        # np.insert's result, its places found once for all the columns; on large graphs in
        # the columns' buffers (``reserve``; made with room for 4 × the new edges when
        # short), else a copy through numpy's mask of every edge (issue #17's memory)
        compiled = numpy_kernels.compiled(self.n_edges)
        into = None if compiled else numpy_kernels.sorted_inserter(self.n_edges, pos)
        keys = self._valid_keys()  # small graphs: find() just kept them; the new keys go in at the same places
        keys = None if keys is None else into(keys, q) if into is not None else np.insert(keys, pos, q)
        u = (q // self.n_creators).astype(np.int32)
        creator = (q % self.n_creators).astype(np.int32)
        values = {"src": u.astype(self.src.dtype), "creator": creator.astype(self.creator.dtype),
                  "intimacy": np.full(len(q), intimacy, dtype=self.intimacy.dtype)}
        if compiled:
            insert_in_place = numpy_kernels.compiled_kernels().insert_in_place

            n, k = self.n_edges, len(q)
            if self.room() < k:
                self._regrow(4 * k)
            pos = np.asarray(pos, dtype=np.int64)
            for name in self.COLUMNS:
                buf = self._buffers[name]
                insert_in_place(buf, n, pos, values[name])
                setattr(self, name, buf[:n + k])
        else:
            for name in self.COLUMNS:
                setattr(self, name, into(getattr(self, name), values[name]))
        for table in self.tables.values():
            table._edges_inserted(pos)
        self.indptr[1:] += np.cumsum(np.bincount(u, minlength=self.n_users))
        self._keys = None
        if keys is not None:
            self._keep_keys(keys)
        return creator

    def remove(self, mask: np.ndarray, gone: np.ndarray | None = None) -> int:
        """Remove the edges where ``mask`` is true (``gone``: ``np.flatnonzero(mask)``, if
        the caller has found them already: not a second pass over every edge). Returns
        the count removed."""
        if gone is None:
            gone = np.flatnonzero(mask)  # (few a day: their users gathered, not compressed from every edge)
        n = len(gone)
        if n == 0:
            return 0
        self.indptr[1:] -= np.cumsum(np.bincount(self.src[gone], minlength=self.n_users))
        keys = self._valid_keys()
        self._keys = None
        if numpy_kernels.compiled(self.n_edges):
            # large graphs: each column compacted in place (the kept edges moved down over
            # the lost ones, ``arr[:kept]`` kept), no copy of every edge nor a mask
            # (issue #17's memory: a column of 38 M edges is 150 MB)
            delete_in_place = numpy_kernels.compiled_kernels().delete_in_place

            for name in ("src", "creator", "intimacy"):
                col = getattr(self, name)
                setattr(self, name, col[:delete_in_place(col, gone)])
            keep = None if keys is None else ~mask
        else:
            keep = ~mask
            # one column at a time, so that each old column is freed before the next is copied
            self.src = self.src[keep]
            self.creator = self.creator[keep]
            self.intimacy = self.intimacy[keep]
        for table in self.tables.values():
            table._edges_removed(mask, gone)
        if keys is not None:
            self._keep_keys(keys[keep])
        return n

    def to_networkx(self) -> nx.DiGraph:
        """Bipartite directed graph: ('u', i) → ('c', j) with intimacy and tier."""
        import networkx as nx

        g = nx.DiGraph()
        tiers = self.tier
        for s, c, w, t in zip(self.src.tolist(), self.creator.tolist(), self.intimacy.tolist(), tiers.tolist()):
            g.add_edge(("u", s), ("c", c), intimacy=w, tier=TIERS[t])
        return g


def initial_follows(cfg: GraphConfig, segment_match: np.ndarray, user_segment: np.ndarray,
                    social: SocialGraph, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Initial follows by preferential attachment in ``attachment_rounds`` batches.

    In each round every user draws Poisson(mean_follows / rounds) creators with probability
    ∝ (followers so far + offset) · exp(affinity · match(user's segment, creator)); from the
    second round on, a ``social_copy_share`` of the draws copy a random friend's follow (social proof).
    ``segment_match`` is (segments × creators).

    The draws, in this order each round: the users' counts, which draws copy, the friends,
    the friends' follows, then the preferential picks segment by segment (segment 0's
    draws first). The picks of every segment come from one ``rng.random`` call (the same
    numbers as one call per segment: a call of n draws takes the next n doubles), and the
    follows so far are kept by user in round order (each round's, user-sorted, inserted at
    the ends of the users' rows) rather than sorted again each round.
    """
    n_users = len(user_segment)
    n_segments, n_creators = segment_match.shape
    followers = np.zeros(n_creators)
    affinity = np.exp(cfg.interest_affinity * (segment_match - segment_match.max(axis=1, keepdims=True)))
    us_all, cs_all = [], []
    f_ptr = f_c = None  # the follows of the rounds so far by user, each row in round order (CSR)
    for r in range(cfg.attachment_rounds):
        n_draw = rng.poisson(cfg.mean_follows / cfg.attachment_rounds, n_users)
        users = np.repeat(np.arange(n_users), n_draw)
        creators = np.empty(len(users), dtype=np.int64)
        copy = np.zeros(len(users), dtype=bool)
        if r > 0:
            copy = rng.random(len(users)) < cfg.social_copy_share
            friend_e = random_in_rows(social.indptr, users[copy], rng)
            friend = np.where(friend_e >= 0, social.indices[np.maximum(friend_e, 0)], users[copy])
            fe = random_in_rows(f_ptr, friend, rng)
            # a copy needs a friend who follows someone: else the draw is a preferential
            # one (a friendless user's row is its own: drawn as before, never copied, as
            # it would only repeat one of its own follows)
            got = (fe >= 0) & (friend_e >= 0)
            idx = np.flatnonzero(copy)
            creators[idx[got]] = f_c[fe[got]]
            copy[idx[~got]] = False
        # preferential attachment per interest segment
        pa = ~copy
        seg_of = user_segment[users[pa]]
        by_segment = np.argsort(seg_of, kind="stable")  # segment 0's draws first, each segment's in order
        ends = np.cumsum(np.bincount(seg_of, minlength=n_segments)[:n_segments])
        cw = np.cumsum((followers + cfg.attachment_offset) * affinity, axis=1)  # each row as np.cumsum(w) of it
        x = rng.random(int(ends[-1]) if n_segments else 0)
        x *= cw[seg_of[by_segment[:len(x)]], -1]
        picks = np.empty(len(x), dtype=np.int64)
        start = 0
        for s in range(n_segments):
            if ends[s] > start:
                picks[start:ends[s]] = np.searchsorted(cw[s], x[start:ends[s]], side="right")
            start = ends[s]
        creators[np.flatnonzero(pa)[by_segment[:len(x)]]] = np.minimum(picks, n_creators - 1)
        followers += np.bincount(creators, minlength=n_creators)
        us_all.append(users)
        cs_all.append(creators)
        if r + 1 < cfg.attachment_rounds:  # this round's follows at the ends of their users' rows
            if f_ptr is None:
                f_ptr, f_c = indptr_from_rows(users, n_users), creators
            else:
                f_c = numpy_kernels.sorted_inserter(len(f_c), f_ptr[users + 1])(f_c, creators)
                f_ptr = f_ptr + indptr_from_rows(users, n_users)
    if not us_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(us_all), np.concatenate(cs_all)


def load_follow_file(path: str, n_users: int, n_creators: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Read a follow graph from a CSV edge list or a GraphML file.

    CSV: header with ``user`` and ``creator`` columns (0-based indices) and optionally
    ``intimacy``. GraphML: directed edges from nodes with ``kind="user"`` to nodes with
    ``kind="creator"``, each node with an integer ``index``; edges may carry ``intimacy``.
    """
    p = Path(path)
    key = "graph.follow_graph_file"
    if not p.exists():
        raise ScenarioError(str(p), key, "file not found")
    try:
        if p.suffix.lower() == ".csv":
            with open(p, newline="") as fh:
                reader = csv.DictReader(fh)
                cols = set(reader.fieldnames or [])
                if not {"user", "creator"} <= cols:
                    raise ScenarioError(str(p), key, f"CSV needs columns user, creator[, intimacy]; found {sorted(cols)}")
                rows = list(reader)
            u = np.array([int(r["user"]) for r in rows], dtype=np.int64)
            c = np.array([int(r["creator"]) for r in rows], dtype=np.int64)
            w = np.array([float(r["intimacy"]) for r in rows]) if "intimacy" in cols else None
        elif p.suffix.lower() in (".graphml", ".xml"):
            import networkx as nx

            g = nx.read_graphml(p)
            kind = nx.get_node_attributes(g, "kind")
            index = nx.get_node_attributes(g, "index")
            us, cs, ws = [], [], []
            for a, b, data in g.edges(data=True):
                if kind.get(a) == "creator" and kind.get(b) == "user":
                    a, b = b, a
                if kind.get(a) != "user" or kind.get(b) != "creator":
                    raise ScenarioError(str(p), key, f"edge {a}->{b}: nodes need kind='user' and kind='creator'")
                us.append(int(index[a]))
                cs.append(int(index[b]))
                ws.append(float(data.get("intimacy", np.nan)))
            u, c = np.array(us, dtype=np.int64), np.array(cs, dtype=np.int64)
            missing = int(np.isnan(ws).sum()) if ws else 0
            if 0 < missing < len(ws):  # never redraw the intimacies a file gives
                raise ScenarioError(str(p), key, f"{missing} of {len(ws)} edges have no intimacy: give it on every "
                                                 "edge (kept as given) or on none (drawn as for generated graphs)")
            w = np.array(ws) if ws and not missing else None
        else:
            raise ScenarioError(str(p), key, "allowed formats: .csv edge list or .graphml")
    except (ValueError, KeyError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(str(p), key, f"could not read: {exc}") from None
    if len(u) and (u.min() < 0 or u.max() >= n_users):
        raise ScenarioError(str(p), key, f"user index out of range (allowed 0..{n_users - 1})")
    if len(c) and (c.min() < 0 or c.max() >= n_creators):
        raise ScenarioError(str(p), key, f"creator index out of range (allowed 0..{n_creators - 1})")
    if w is not None and len(w) and not np.all((w >= 0) & (w <= 1)):  # (NaN fails the test)
        bad = int(np.flatnonzero(~((w >= 0) & (w <= 1)))[0])
        raise ScenarioError(str(p), key, f"intimacy out of range (allowed 0..1): edge {bad + 1} has {float(w[bad])!r}")
    if w is not None and len(u) > 1:
        # a follow is one edge: an edge given twice counts once (the graph keeps the first),
        # which is no loss when both give the same intimacy; two different ones are a conflict
        pair = u * np.int64(n_creators) + c
        order = np.argsort(pair, kind="stable")
        clash = np.flatnonzero((pair[order][1:] == pair[order][:-1]) & (w[order][1:] != w[order][:-1]))
        if len(clash):
            a, b = sorted((int(order[clash[0]]), int(order[clash[0] + 1])))
            raise ScenarioError(str(p), key, f"edges {a + 1} and {b + 1} are both user {u[a]} -> creator {c[a]}, "
                                             f"with intimacy {float(w[a])!r} and {float(w[b])!r} ({len(clash)} such "
                                             "pair(s) in all): a follow is one edge, give it once")
    return u, c, w
