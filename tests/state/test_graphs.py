import re

import networkx as nx
import numpy as np
import pytest

from simulator import TrafficModel
from simulator.config import ScenarioError
from simulator.state.graphs import FollowGraph, small_world_graph

from ..conftest import small


def test_small_world_graph_has_clustering_and_city_structure():
    rng = np.random.default_rng(0)
    city = rng.integers(0, 5, 3000).astype(np.int32)
    g = small_world_graph(city, 6, 0.1, rng)
    G = g.to_networkx()
    assert nx.average_clustering(G) > 0.3  # a random graph of this density would be ~0.002
    src = np.repeat(np.arange(3000), np.diff(g.indptr))
    assert np.mean(city[src] == city[g.indices]) > 0.8


@pytest.mark.parametrize("rewire", [0.0, 0.3])
def test_small_world_rewires_the_given_share_of_ties_across_the_country(rewire):
    """Guards ``graph.rewire``: without rewiring every tie stays in its city (ring
    lattices per city, k ties per user); with it, ties go to random users anywhere, so
    the share of cross-city ties is rewire · (1 − Σ city share²) within sampling error."""
    rng = np.random.default_rng(1)
    city = rng.integers(0, 5, 4000).astype(np.int32)
    g = small_world_graph(city, 6, rewire, rng)
    src = np.repeat(np.arange(len(city)), np.diff(g.indptr))
    cross = np.mean(city[src] != city[g.indices])
    p_city = np.bincount(city) / len(city)
    expected = rewire * (1 - (p_city**2).sum())
    assert abs(cross - expected) < 0.02
    if rewire == 0:
        assert (np.diff(g.indptr) == 6).all()


def test_follow_graph_add_remove_lookup():
    fg = FollowGraph(5, 4, np.array([0, 0, 3]), np.array([1, 2, 0]), np.array([0.2, 0.5, 0.9]), (0.1, 0.3, 0.6))
    assert fg.lookup(np.array([0, 0, 3, 1]), np.array([1, 3, 0, 1])).tolist()[::3] == [0, -1]
    assert list(fg.tier) == [1, 2, 3]
    assert list(fg.add(np.array([1, 0, 1]), np.array([2, 1, 2]), 0.1)) == [2]  # duplicates and existing edges ignored
    e = fg.lookup(np.array([1]), np.array([2]))[0]
    assert e >= 0 and fg.intimacy[e] == pytest.approx(0.1)
    assert fg.remove(fg.creator == 1) == 1
    assert fg.lookup(np.array([0]), np.array([1]))[0] == -1
    assert np.diff(fg.indptr).tolist() == [1, 1, 0, 1, 0]
    assert fg.followers().tolist() == [1, 0, 2, 0]


def test_initial_follows_prefer_popular_creators():
    """Guards preferential attachment (followers so far in the draw weight): a heavy head."""
    m = TrafficModel(small(), seed=1, agents=False)
    f = np.sort(m.follows.followers())[::-1]
    assert f[: len(f) // 10].sum() > 2 * f[-len(f) // 10 :].sum()  # preferential attachment: a heavy head
    assert ((m.follows.intimacy >= 0) & (m.follows.intimacy <= 1)).all()


def _follows(graph: dict, seed: int = 4):
    m = TrafficModel(small({"graph": graph}), seed=seed, agents=False)
    return m, m.follows


def test_initial_follows_prefer_creators_of_the_users_interest():
    """Guards ``graph.interest_affinity``: with it, users follow creators whose topic
    matches their interest segment far more than at affinity 0."""
    def mean_match(affinity):
        m, fg = _follows({"interest_affinity": affinity, "social_copy_share": 0.0})
        return m.creators.topic[fg.creator, m.users.segment[fg.src]].mean()

    assert mean_match(8.0) > 1.5 * mean_match(0.0)


def test_initial_follows_copy_friends_follows():
    """Guards ``graph.social_copy_share`` (social proof): the share of follow edges that
    a friend of the user also has rises with it (copying a friend's follow makes one)."""
    def shared_with_a_friend(share):
        m, fg = _follows({"social_copy_share": share})
        deg = np.diff(m.social.indptr)[fg.src]
        user = np.repeat(np.arange(fg.n_edges), deg)  # each edge once per friend of its user
        first = np.repeat(m.social.indptr[fg.src] - (np.cumsum(deg) - deg), deg)
        friend = m.social.indices[first + np.arange(len(user))]
        hit = fg.lookup(friend, fg.creator[user]) >= 0
        return np.bincount(user, weights=hit, minlength=fg.n_edges).astype(bool).mean()

    assert shared_with_a_friend(0.8) > shared_with_a_friend(0.0) + 0.2


def test_a_user_without_friends_follows_as_many_creators_as_the_others():
    """Guards the copy fallback (ODD 5.3): a copy draw of a user without friends is a
    preferential draw, so in a world of tiny cities (many users alone in theirs: no
    ties) friendless users follow as many creators as the others (mutation checked:
    copying one of the user's own follows, as the code did, leaves them ~25% fewer)."""
    m = TrafficModel(small({"population": {"users": 4000, "cities": 3000},
                            "graph": {"social_copy_share": 0.6}}), seed=2, agents=False)
    degree = np.diff(m.social.indptr)
    follows = np.bincount(m.follows.src, minlength=m.users.n)
    alone = degree == 0
    assert alone.mean() > 0.05
    assert follows[alone].mean() > 0.95 * follows[~alone].mean()


def test_holme_kim_hubs_are_spread_over_the_interests():
    """Guards holme_kim's random assignment of nodes to users (ODD 5.2): users are numbered
    by interest segment and networkx's first nodes are its hubs, so without it every hub
    was a segment-0 user (mutation checked: mean degree 16.6 in segment 0 against 3.1 in
    the last); with it no segment's mean degree is twice another's."""
    m = TrafficModel(small({"population": {"users": 3000}, "graph": {"generator": "holme_kim"}}), seed=4,
                     agents=False)
    degree = np.diff(m.social.indptr)
    seg = m.users.segment
    means = np.array([degree[seg == s].mean() for s in np.unique(seg) if (seg == s).sum() > 50])
    assert means.max() < 2 * means.min()


def test_follow_graph_from_csv_and_graphml(tmp_path):
    csv_path = tmp_path / "f.csv"
    csv_path.write_text("user,creator,intimacy\n0,1,0.7\n5,3,0.2\n")
    m = TrafficModel(small({"graph": {"follow_graph_file": str(csv_path)}}), seed="scenario", agents=False)
    assert m.follows.n_edges == 2 and m.follows.intimacy.tolist() == pytest.approx([0.7, 0.2])
    g = nx.DiGraph()
    g.add_node("a", kind="user", index=4)
    g.add_node("b", kind="creator", index=7)
    g.add_edge("a", "b", intimacy=0.4)
    gm = tmp_path / "f.graphml"
    nx.write_graphml(g, gm)
    m = TrafficModel(small({"graph": {"follow_graph_file": str(gm)}}), seed="scenario", agents=False)
    assert m.follows.lookup(np.array([4]), np.array([7]))[0] == 0


def test_a_graphml_with_intimacy_on_some_edges_only_is_an_error(tmp_path):
    """A follow file's intimacies are kept as given or, when it has none, drawn; a file
    giving them on some edges only is rejected, naming the key and the count (before,
    every edge's intimacy was silently redrawn)."""
    g = nx.DiGraph()
    g.add_nodes_from([("a", {"kind": "user", "index": 1}), ("b", {"kind": "user", "index": 2}),
                      ("c", {"kind": "creator", "index": 3})])
    g.add_edge("a", "c", intimacy=0.4)
    g.add_edge("b", "c")
    gm = tmp_path / "f.graphml"
    nx.write_graphml(g, gm)
    with pytest.raises(ScenarioError, match="graph.follow_graph_file.*1 of 2 edges have no intimacy"):
        TrafficModel(small({"graph": {"follow_graph_file": str(gm)}}))


def test_bad_follow_file_names_the_key(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("user,creator\n0,99999\n")
    with pytest.raises(ScenarioError, match="graph.follow_graph_file.*creator index out of range"):
        TrafficModel(small({"graph": {"follow_graph_file": str(p)}}))


@pytest.mark.parametrize("body, needle", [
    # NaN passed the range check (NaN compares false) and became the edge's intimacy
    ("user,creator,intimacy\n0,1,0.5\n2,3,nan\n", "intimacy out of range (allowed 0..1): edge 2 has nan"),
    # the graph kept the first of two equal edges and dropped the other's intimacy, silently
    ("user,creator,intimacy\n0,1,0.5\n2,3,0.2\n0,1,0.7\n",
     "edges 1 and 3 are both user 0 -> creator 1, with intimacy 0.5 and 0.7 (1 such pair(s) in all)"),
])
def test_a_follow_file_with_a_nan_intimacy_or_a_repeated_edge_is_an_error(tmp_path, body, needle):
    p = tmp_path / "f.csv"
    p.write_text(body)
    with pytest.raises(ScenarioError, match=re.escape(f"graph.follow_graph_file: {needle}")):
        TrafficModel(small({"graph": {"follow_graph_file": str(p)}}))


def test_an_edge_given_twice_with_the_same_intimacy_counts_once(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("user,creator,intimacy\n0,1,0.5\n2,3,0.2\n0,1,0.5\n")
    assert TrafficModel(small({"graph": {"follow_graph_file": str(p)}}), agents=False).follows.n_edges == 2
    p.write_text("user,creator\n0,1\n2,3\n0,1\n")  # (no intimacies given: they are drawn, once an edge)
    assert TrafficModel(small({"graph": {"follow_graph_file": str(p)}}), agents=False).follows.n_edges == 2


def test_follow_graph_add_inserts_every_column_as_np_insert_did():
    """Guards FollowGraph.add's insert (numpy_kernels.sorted_inserter, the places found
    once for every column): new edges land where np.insert put them in every column
    (src, creator, intimacy, the keys), from sorted-unique input or
    not, and from new edges with their positions already found (the daily caller's:
    ``absent_at``)."""
    rng = np.random.default_rng(3)
    arr = np.sort(rng.integers(0, 1000, 200))
    pos = np.sort(rng.integers(0, 201, 40))  # repeated positions, both ends
    pos[:2], pos[-2:] = 0, 200
    vals = rng.integers(-5, 0, 40)
    from simulator.feeds.numpy_kernels import sorted_inserter

    into = sorted_inserter(len(arr), pos)
    assert np.array_equal(into(arr, vals), np.insert(arr, pos, vals))
    assert np.array_equal(into(arr.astype(np.float32), vals), np.insert(arr.astype(np.float32), pos, vals))
    for mode in ("sorted", "unsorted", "absent_at"):
        sorted_input = mode != "unsorted"
        n_users, n_creators = 60, 9
        keys0 = np.unique(rng.integers(0, n_users * n_creators, 150))
        fg = FollowGraph(n_users, n_creators, keys0 // n_creators, keys0 % n_creators,
                         rng.random(len(keys0)).astype(np.float32), (0.1, 0.3, 0.6))
        q = rng.integers(0, n_users * n_creators, 80)
        q = np.unique(q) if sorted_input else q
        old = {"src": fg.src.copy(), "creator": fg.creator.copy(), "intimacy": fg.intimacy.copy(), "keys": fg.keys.copy()}
        absent_at = None
        if mode == "absent_at":  # the daily caller's: new edges only, with find()'s positions
            q = q[~fg.find(q // n_creators, q % n_creators)[1]]
            absent_at = fg.find(q // n_creators, q % n_creators)[0]
        added = fg.add(q // n_creators, q % n_creators, 0.25, absent_at=absent_at)
        qn = np.unique(q)
        qn = qn[~np.isin(qn, old["keys"])]
        at = np.searchsorted(old["keys"], qn)
        assert np.array_equal(added, (qn % n_creators).astype(np.int32))
        assert np.array_equal(fg.src, np.insert(old["src"], at, (qn // n_creators).astype(np.int32)))
        assert np.array_equal(fg.creator, np.insert(old["creator"], at, (qn % n_creators).astype(np.int32)))
        assert np.array_equal(fg.intimacy, np.insert(old["intimacy"], at, np.float32(0.25)))
        assert np.array_equal(fg.keys, np.insert(old["keys"], at, qn))
        assert np.array_equal(np.diff(fg.indptr), np.bincount(fg.src, minlength=n_users))


def _small_follow_graph(draws: int) -> tuple[np.random.Generator, FollowGraph]:
    """A follow graph of 40 users and 7 creators from ``draws`` random (user, creator)
    keys (duplicates dropped), random intimacy; and the generator, to draw on from."""
    rng = np.random.default_rng(5)
    n_users, n_creators = 40, 7
    keys0 = np.unique(rng.integers(0, n_users * n_creators, draws))
    return rng, FollowGraph(n_users, n_creators, keys0 // n_creators, keys0 % n_creators,
                            rng.random(len(keys0)).astype(np.float32), (0.1, 0.3, 0.6))


@pytest.mark.parametrize("compiled", [False, True])
def test_edge_table_rows_follow_their_edges_through_add_and_remove(monkeypatch, compiled):
    """Guards FollowGraph's edge tables (the fan groups' members, issue #17: rows for the
    members only, not columns over every edge): through edges added before, between and
    after the rows' edges (equal insert positions too), edges removed with and without
    rows, rows inserted (unsorted, with per-row and common values) and deleted (found by
    edge first: -1 for an edge without a row), each row stays on its (user, creator) edge with its
    values, the rows ascending by edge; against a dict keyed by (user, creator)."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng, fg = _small_follow_graph(120)
    n_users, n_creators = fg.n_users, fg.n_creators
    table = fg.add_table("group", annoy=np.float32, joined=np.int32)
    assert len(table) == 0 and not table.has(np.array([0, 5])).any() and table.rows(np.zeros(0, np.int64)).shape == (0,)
    ref: dict[int, tuple[float, int]] = {}

    def check():
        keys = fg.keys
        assert np.all(np.diff(table.edge) > 0) and table.edge.dtype == np.int64
        assert sorted(ref) == keys[table.edge].tolist()
        assert table["annoy"].tolist() == [ref[k][0] for k in sorted(ref)]
        assert table["joined"].tolist() == [ref[k][1] for k in sorted(ref)]
        want = np.isin(keys, list(ref))
        assert np.array_equal(table.has(np.arange(fg.n_edges)), want)  # many: a flag per edge
        few = np.r_[rng.integers(0, fg.n_edges, 3), fg.n_edges - 1] if fg.n_edges else np.zeros(0, np.int64)
        assert np.array_equal(table.has(few), want[few])  # a few: searched
        assert np.array_equal(table.has(np.r_[-1, few]), np.r_[False, want[few]])  # -1: no edge
        assert np.array_equal(table.has(np.r_[-1, np.arange(fg.n_edges)]), np.r_[False, want])
        below = np.flatnonzero(~want[: table.edge[-1]]) if len(table) else np.zeros(0, np.int64)
        if len(below):  # many, all below some rows' edges: the rows beyond flag no edge asked
            e = below[-1]
            assert np.array_equal(table.has(np.arange(e + 1)), want[: e + 1])
            assert np.array_equal(table.has(np.r_[np.arange(e + 1), -1]), np.r_[want[: e + 1], False])
        assert np.array_equal(table.has(table.edge[:5]), np.ones(min(5, len(table)), bool))
        assert np.array_equal(table.rows(np.r_[table.edge[:5], -1]), np.r_[np.arange(min(5, len(table))), -1])

    def insert(edges, annoy, joined):
        table.insert(edges, annoy=annoy, joined=joined)
        a, j = np.broadcast_to(np.float32(annoy), len(edges)), np.broadcast_to(joined, len(edges))
        ref.update({int(k): (float(x), int(y)) for k, x, y in zip(fg.keys[edges], a, j)})

    table.insert(np.zeros(0, np.int64), annoy=0.0, joined=0)  # nothing
    insert(np.array([0]), 0.5, 2)  # one row, the first edge
    check()
    insert(np.array([90, 7, fg.n_edges - 1, 33]), rng.random(4).astype(np.float32), np.array([1, 2, 3, 4]))
    check()
    for day in range(6):
        q = rng.integers(0, n_users * n_creators, 30)
        q = np.r_[q, 0, n_users * n_creators - 1]  # at both ends
        fg.add(q // n_creators, q % n_creators, 0.5)
        check()
        mask = rng.random(fg.n_edges) < 0.08
        mask[table.edge[::3]] = True  # some edges removed while they have rows
        for k in fg.keys[mask]:
            ref.pop(int(k), None)
        fg.remove(mask, np.flatnonzero(mask) if day % 2 else None)  # (the caller may pass the lost edges found)
        check()
        free = np.flatnonzero(~table.has(np.arange(fg.n_edges)))
        new = rng.permutation(rng.choice(free, min(5, len(free)), replace=False))
        insert(new, 0.0, day)
        check()
        gone = np.r_[table.edge[1::4], free[:1]]  # rows leaving, and an edge without a row
        for k in fg.keys[gone]:
            ref.pop(int(k), None)
        rows = table.rows(gone)
        table.delete_rows(rows[rows >= 0])
        check()
        table.delete_rows(np.zeros(0, np.int64))
        check()
    assert len(table) > 3
    fg.remove(np.ones(fg.n_edges, bool))  # every edge, with its rows
    ref.clear()
    check()
    assert len(table) == 0


@pytest.mark.parametrize("compiled", [False, True])
def test_follow_graph_find_searches_rows_as_the_keys_would(monkeypatch, compiled):
    """Guards FollowGraph.find (issue #17: the keys are not stored): each (user, creator)
    gets the position np.searchsorted gives in the (user, creator) keys and whether the
    edge is there, both in the numpy form and in the row search of large graphs
    (kernels.find_in_rows); lookup, add and remove then agree across the two forms."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng = np.random.default_rng(11)
    n_users, n_creators = 70, 13
    keys0 = np.unique(rng.integers(0, n_users * n_creators, 300))
    keys0 = keys0[keys0 // n_creators != 5]  # an empty row
    fg = FollowGraph(n_users, n_creators, keys0 // n_creators, keys0 % n_creators,
                     rng.random(len(keys0)).astype(np.float32), (0.1, 0.3, 0.6))
    q = np.r_[rng.integers(0, n_users * n_creators, 400), keys0[:1], keys0[-1:], 0, n_users * n_creators - 1]
    pos, found = fg.find(q // n_creators, q % n_creators)
    assert np.array_equal(pos, np.searchsorted(keys0, q))
    assert np.array_equal(found, np.isin(q, keys0))
    assert np.array_equal(fg.lookup(q // n_creators, q % n_creators), np.where(np.isin(q, keys0), pos, -1))
    fg.add(q // n_creators, q % n_creators, 0.5)
    assert np.array_equal(fg.keys, np.union1d(keys0, q))
    fg.remove(fg.creator == 3)
    assert np.array_equal(fg.keys, np.union1d(keys0, q)[np.union1d(keys0, q) % n_creators != 3])
    assert np.array_equal(np.diff(fg.indptr), np.bincount(fg.src, minlength=n_users))


def test_follow_graph_stores_twelve_bytes_an_edge_plus_its_tables_rows(monkeypatch):
    """Guards the follow graph's memory (issue #17, 10 M users): per edge only the user,
    the creator and the intimacy (4 bytes each) are stored, not the 8-byte sorted key
    (FollowGraph.keys computes it when asked), on a graph large enough for the compiled
    lookups (only the numpy form of find keeps the keys); an edge table (the fan groups'
    members) stores its rows only."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0)
    rng = np.random.default_rng(2)
    keys0 = np.unique(rng.integers(0, 50 * 9, 120))
    fg = FollowGraph(50, 9, keys0 // 9, keys0 % 9, rng.random(len(keys0)), (0.1, 0.3, 0.6))
    table = fg.add_table("group", annoy=np.float32, joined=np.int32)
    table.insert(np.array([3, 10, 40]), annoy=0.0, joined=1)
    for change in (lambda: None, lambda: fg.add(np.array([7]), np.array([8]), 0.2)):
        change()
        fg.lookup(np.array([1, 2]), np.array([3, 4]))
        assert len(fg.keys) == fg.n_edges
        per_edge = sum(v.nbytes for v in vars(fg).values() if isinstance(v, np.ndarray) and len(v) == fg.n_edges)
        assert per_edge == 12 * fg.n_edges
        assert len(table) == 3 and table.edge.nbytes + sum(v.nbytes for v in table.cols.values()) == 3 * 16
        assert fg._keys is None


def test_follow_graph_keeps_the_keys_of_small_graphs_in_step_with_its_edges(monkeypatch):
    """Guards the keys the numpy form of FollowGraph.find keeps between calls (issue #17:
    computed ~7 times a step before): after add (the new keys inserted where the edges
    went), remove, grow_creators (a new base) and a column replaced from outside, the
    keys and every find answer are those of the graph as it is, and add and remove carry
    them along rather than dropping them."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng, fg = _small_follow_graph(90)
    n_users, n_creators = fg.n_users, fg.n_creators
    q = rng.integers(0, n_users * n_creators, 60)

    def check():
        keys = fg.src.astype(np.int64) * fg.n_creators + fg.creator
        assert np.array_equal(fg.keys, keys)
        qq = (q // n_creators) * fg.n_creators + q % n_creators
        pos, found = fg.find(q // n_creators, q % n_creators)
        assert np.array_equal(pos, np.searchsorted(keys, qq)) and np.array_equal(found, np.isin(qq, keys))

    check()
    assert fg._valid_keys() is not None  # kept by find
    fg.add(q[:30] // n_creators, q[:30] % n_creators, 0.2)
    assert fg._valid_keys() is not None  # carried along, not recomputed
    check()
    fg.remove(fg.creator == 2)
    assert fg._valid_keys() is not None
    check()
    fg.grow_creators(3)  # a new base: the kept keys no longer hold
    check()
    fg.add(np.array([1, 39]), np.array([9, 0]), 0.3)
    check()
    fg.creator = np.zeros_like(fg.creator)  # a column replaced from outside (the rows stay sorted)
    check()


def test_delete_in_place_and_insert_in_place_match_numpy():
    """Guards kernels.delete_in_place and kernels.insert_in_place (issue #17's memory:
    the follow graph's columns compacted and grown in their own buffers): the kept
    prefix is ``np.delete``'s result and the grown one ``np.insert``'s
    (numpy_kernels.sorted_inserter's), the buffer beyond it untouched, for int32, float32,
    int64 and bool columns, with removals at both ends, of everything and of nothing, of
    neighbours (runs of no kept entry between them), inserts at 0, at the end and at
    equal places, one entry and empty arrays (each run of entries moves in one memmove)."""
    from simulator.feeds.kernels import delete_in_place, insert_in_place
    from simulator.feeds.numpy_kernels import sorted_inserter

    rng = np.random.default_rng(8)
    for n in (0, 1, 2, 1000):
        for dtype in (np.int32, np.float32, np.int64, np.bool_):
            arr = (rng.random(n) * 1000).astype(dtype)
            gones = [np.zeros(0, np.int64), np.arange(n, dtype=np.int64)]
            if n:
                gones += [np.array([0]), np.array([n - 1]), np.unique(rng.integers(0, n, max(1, n // 10)))]
            if n > 10:
                gones += [np.array([3, 4, 5, n - 2, n - 1]), np.array([0, 1, 7])]
            for gone in gones:
                col = arr.copy()
                kept = delete_in_place(col, gone)
                assert kept == n - len(gone) and col[:kept].tobytes() == np.delete(arr, gone).tobytes()
            posses = [np.zeros(0, np.int64), np.zeros(3, np.int64), np.full(2, n, np.int64),
                      np.sort(rng.integers(0, n + 1, 25))]
            for pos in posses:
                values = (rng.random(len(pos)) * 1000).astype(dtype)
                buf = np.r_[arr, np.full(len(pos) + 3, 7, dtype)]
                insert_in_place(buf, n, pos, values)
                want = sorted_inserter(n, pos)(arr, values)
                assert want.tobytes() == np.insert(arr, pos, values).tobytes()
                assert buf[:n + len(pos)].tobytes() == want.tobytes() and (buf[n + len(pos):] == np.full(1, 7, dtype)).all()


def test_follow_graph_add_and_remove_give_the_same_columns_in_both_forms(monkeypatch):
    """Guards FollowGraph.add, remove and reserve on large graphs (compiled: the columns
    grown and compacted in place in their buffers, kernels.insert_in_place and
    delete_in_place, the buffers made again with room when short): through days of adds
    (more than the room, within it, after a reserve, none) and removals (none, a few,
    every edge), the columns, indptr and keys are those of the numpy form's copies; a
    pickled graph keeps its columns, not the room."""
    import pickle

    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    graphs = []
    for threshold in (10**12, 0):
        monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", threshold)
        rng, fg = _small_follow_graph(150)
        n = fg.n_users * fg.n_creators
        rooms = []
        for day in range(10):
            if day in (3, 6):
                fg.reserve(40)
                assert threshold or fg.room() >= 40
            if day == 8:
                fg = pickle.loads(pickle.dumps(fg))
                assert fg.room() == 0 and fg._buffers == {}  # the pickle has no buffers
                fg.reserve(40)
                assert fg.room() == (0 if threshold else 160)  # room for 4 × 40
            q = rng.integers(0, n, 0 if day == 5 else 25)
            room = fg.room()
            added = len(fg.add(q // fg.n_creators, q % fg.n_creators, np.float32(0.1 * day)))
            if threshold == 0:  # in place while the room lasts, else new buffers with room for 4 × the new edges
                assert fg.room() == (room - added if room >= added else 3 * added)
            rooms.append(fg.room())
            fg.intimacy[::7] *= np.float32(0.9)  # written in place by its users (grow_intimacy)
            mask = rng.random(fg.n_edges) < (0.0 if day == 2 else 0.1)
            assert fg.remove(mask) == mask.sum()
            assert np.array_equal(np.diff(fg.indptr), np.bincount(fg.src, minlength=fg.n_users))
        fg.remove(np.ones(fg.n_edges, bool))
        q = rng.integers(0, n, 25)
        fg.add(q // fg.n_creators, q % fg.n_creators, 0.3)
        if threshold == 0:  # the room was used, then made again
            assert max(rooms) > 0 and any(b < a for a, b in zip(rooms, rooms[1:]))
        graphs.append(fg)
    a, b = graphs
    for name in ("src", "creator", "intimacy", "indptr"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert np.array_equal(a.keys, b.keys)


def test_fans_by_tier_and_sums_are_the_two_passes_bit_for_bit():
    """Guards kernels.fans_by_tier_and_sums and its numpy form (the metrics' fans by tier
    and intimacy sums by creator in one pass, issue #17): the counts are fans_by_tier's
    and the sums bincount's with the intimacy as weights, bit for bit (sums whose order of
    adds shows), with NaN and threshold intimacies, creators without edges, one edge and
    none; FollowGraph.mean_intimacy_by_creator with the sums given is the same as without."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(11)
    thresholds = np.array([0.2, 0.5, 0.8], np.float32)
    for n_edges, n_creators in [(5000, 40), (1, 3), (0, 4)]:
        creator = rng.integers(0, n_creators - 1, n_edges).astype(np.int32)  # the last creator: no edge
        intimacy = rng.random(n_edges).astype(np.float32)
        if n_edges > 10:
            intimacy[:3] = thresholds  # at a threshold: that tier
            intimacy[3] = np.nan  # no tier, a NaN sum
            creator[4:8] = 1
            intimacy[4:8] = np.float32([0.1, 0.2, 0.3, 1e-8])  # float64 adds whose order shows
        tier = (intimacy >= thresholds[0]).astype(int) + (intimacy >= thresholds[1]) + (intimacy >= thresholds[2])
        want_counts = np.bincount(creator * 4 + tier, minlength=n_creators * 4).reshape(-1, 4)
        want_sums = np.bincount(creator, weights=intimacy, minlength=n_creators)
        for f in (kernels.fans_by_tier_and_sums, nk.fans_by_tier_and_sums):
            counts, sums = f(creator, intimacy, thresholds, n_creators)
            assert counts.dtype == np.int64 and np.array_equal(counts, want_counts)
            assert sums.tobytes() == want_sums.tobytes() and (sums.dtype == np.float64 or n_edges == 0)
    fg = FollowGraph(50, 6, rng.integers(0, 50, 300), rng.integers(0, 5, 300), rng.random(300), (0.2, 0.5, 0.8))
    counts, sums = fg.fans_by_tier_and_sums()
    assert np.array_equal(counts, fg.fans_by_tier())
    assert fg.mean_intimacy_by_creator(counts.sum(axis=1), sums).tobytes() == fg.mean_intimacy_by_creator().tobytes()


def test_moved_rows_is_the_searches_it_merges():
    """Guards kernels.moved_rows (an edge table's rows after the graph's inserts and
    removals, merged instead of searched) against its numpy form and the searches: up by
    ``searchsorted(marks, edge, "right")`` with equal marks and marks past either end; down
    by ``searchsorted(marks, edge)`` with the rows whose edge is removed flagged; no rows,
    no marks, one of each."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(12)
    edge = np.unique(rng.integers(0, 400, 60)).astype(np.int64)
    cases = [(edge, np.sort(np.r_[rng.integers(0, 420, 30), edge[:3], edge[:3], 0, 500])),
             (edge, np.zeros(0, np.int64)), (edge[:1], edge[:1]), (edge[:0], np.array([3, 5])),
             (edge, np.unique(np.r_[edge[::4], rng.integers(0, 420, 20)]))]
    for e, marks in cases:
        for right in (True, False):
            if not right:
                marks = np.unique(marks)  # removed edges: distinct
            got, hit = kernels.moved_rows(e, marks, right)
            want_hit = np.isin(e, marks) if not right else np.zeros(len(e), bool)
            want = e + np.searchsorted(marks, e, side="right") if right else e - np.searchsorted(marks, e)
            assert got.dtype == np.int64 and np.array_equal(got, want) and np.array_equal(hit, want_hit)
            got2, hit2 = nk.moved_rows(e, marks, right)
            assert np.array_equal(got2, want) and np.array_equal(hit2, want_hit)


# --------------------------------------------------------------------------- SWEEPRUN: initial_follows against its plain form


def _initial_follows_reference(cfg, segment_match, user_segment, social, rng):
    """initial_follows as it was written before 2026-11-30 (one rng.random per segment
    and round, the follows so far sorted again each round): the draws and the result
    the faster form must give bit for bit."""
    from simulator.state.arrays import indptr_from_rows, random_in_rows

    n_users = len(user_segment)
    n_creators = segment_match.shape[1]
    followers = np.zeros(n_creators)
    affinity = np.exp(cfg.interest_affinity * (segment_match - segment_match.max(axis=1, keepdims=True)))
    us_all, cs_all = [], []
    for r in range(cfg.attachment_rounds):
        n_draw = rng.poisson(cfg.mean_follows / cfg.attachment_rounds, n_users)
        users = np.repeat(np.arange(n_users), n_draw)
        creators = np.empty(len(users), dtype=np.int64)
        copy = np.zeros(len(users), dtype=bool)
        if r > 0 and us_all:
            copy = rng.random(len(users)) < cfg.social_copy_share
            done_u = np.concatenate(us_all)
            done_c = np.concatenate(cs_all)
            o = np.argsort(done_u, kind="stable")
            f_ptr = indptr_from_rows(done_u[o], n_users)
            f_c = done_c[o]
            friend_e = random_in_rows(social.indptr, users[copy], rng)
            friend = np.where(friend_e >= 0, social.indices[np.maximum(friend_e, 0)], users[copy])
            fe = random_in_rows(f_ptr, friend, rng)
            got = (fe >= 0) & (friend_e >= 0)  # a friendless user's copy draw is a preferential one
            idx = np.flatnonzero(copy)
            creators[idx[got]] = f_c[fe[got]]
            copy[idx[~got]] = False
        pa = ~copy
        seg_of = user_segment[users[pa]]
        picks = np.empty(int(pa.sum()), dtype=np.int64)
        for s in range(segment_match.shape[0]):
            sel = seg_of == s
            if not sel.any():
                continue
            w = (followers + cfg.attachment_offset) * affinity[s]
            cw = np.cumsum(w)
            picks[sel] = np.minimum(np.searchsorted(cw, rng.random(int(sel.sum())) * cw[-1], side="right"), n_creators - 1)
        creators[pa] = picks
        followers += np.bincount(creators, minlength=n_creators)
        us_all.append(users)
        cs_all.append(creators)
    if not us_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(us_all), np.concatenate(cs_all)


@pytest.mark.parametrize("n_users, n_creators, segments, rounds, mean, copy_share, sorted_users", [
    (2000, 60, 8, 8, 8.0, 1 / 3, True),   # as the world calls it: users numbered by segment
    (1500, 40, 5, 3, 4.0, 0.5, False),    # segments in any order
    (500, 30, 4, 1, 6.0, 0.3, False),     # one round: no copies
    (400, 25, 6, 5, 3.0, 1.0, True),      # every later draw copies (where the friend follows someone)
    (300, 20, 3, 4, 5.0, 0.0, False),     # no copies
    (1, 5, 2, 6, 12.0, 0.5, True),        # one user (no friend: no copies in either form)
    (3, 5, 2, 6, 12.0, 0.9, True),        # user 0 has no friend: its copy draws are preferential ones
    (200, 1, 3, 4, 4.0, 0.3, True),       # one creator: every pick the same
    (300, 20, 8, 4, 0.0, 0.3, True),      # no follows at all
    (0, 10, 3, 3, 5.0, 0.3, True),        # no users
    (600, 30, 8, 6, 2.0, 0.4, True),      # some segments without users
])
def test_initial_follows_equal_their_plain_form(n_users, n_creators, segments, rounds, mean, copy_share, sorted_users):
    """Guards initial_follows' one-call draws and the follows kept in round order (no sort
    a round): the same follows, in the same order, and the same draws taken from the
    stream (the next draw after it agrees) as the plain form above."""
    from simulator.config import GraphConfig
    from simulator.state.graphs import initial_follows

    setup = np.random.default_rng(n_users + 7 * segments)
    match = setup.random((segments, n_creators))
    match[:, setup.random(n_creators) < 0.2] = 0.5  # ties among creators
    seg = setup.integers(0, segments if n_users != 600 else segments // 2, n_users)
    if sorted_users:
        seg = np.sort(seg)
    if n_users > 3:
        social = small_world_graph(setup.integers(0, 3, n_users).astype(np.int32), 4, 0.2, setup)
    else:  # users 1 and 2 are friends (where they exist), user 0 has none
        from simulator.state.graphs import SocialGraph
        social = (SocialGraph(np.array([0, 0, 1, 2]), np.array([2, 1], np.int32)) if n_users == 3
                  else SocialGraph(np.zeros(n_users + 1, np.int64), np.zeros(0, np.int32)))
    if n_users == 1:
        copy_share = 0.0  # a graph without ties: neither form can look a friend up
    cfg = GraphConfig(attachment_rounds=rounds, mean_follows=mean, social_copy_share=copy_share)
    r_new, r_ref = np.random.default_rng(11), np.random.default_rng(11)
    u, c = initial_follows(cfg, match, seg.astype(np.int64), social, r_new)
    u_ref, c_ref = _initial_follows_reference(cfg, match, seg.astype(np.int64), social, r_ref)
    assert u.dtype == u_ref.dtype and c.dtype == c_ref.dtype
    assert np.array_equal(u, u_ref) and np.array_equal(c, c_ref)
    assert r_new.random() == r_ref.random()
    if n_users > 100 and mean > 0:
        assert len(np.unique(c)) > 1 or n_creators == 1


@pytest.mark.parametrize("n_users, n_creators, n_edges", [(1000, 50, 5000), (30, 4, 200), (5, 3, 1), (5, 3, 0),
                                                          (40, 10**16, 40)])
def test_follow_graph_keeps_each_edges_first_intimacy_in_user_creator_order(n_users, n_creators, n_edges):
    """Guards FollowGraph's construction (one plain sort of position-tagged keys where they
    fit in int64, the stable argsort where not, as in the last case): the same edges,
    order and intimacies as a stable argsort of the keys, duplicates keeping their first."""
    rng = np.random.default_rng(n_edges)
    u = rng.integers(0, min(n_users, 40), n_edges)
    c = rng.integers(0, min(n_creators, 6), n_edges)  # many duplicate edges
    w = rng.random(n_edges)
    fg = FollowGraph(min(n_users, 40), n_creators, u, c, w, (0.1, 0.3, 0.6))
    keys = u * n_creators + c
    o = np.argsort(keys, kind="stable")
    first = np.r_[True, keys[o][1:] != keys[o][:-1]] if n_edges else np.zeros(0, bool)
    o = o[first]
    assert fg.src.tolist() == u[o].tolist() and fg.creator.tolist() == c[o].tolist()
    assert fg.intimacy.tolist() == w[o].astype(np.float32).tolist()
    assert fg.src.dtype == np.int32 and fg.creator.dtype == np.int32 and fg.intimacy.dtype == np.float32


# ------------------------------------------------------------------ AFTER (issue #17, thirteenth pass)


@pytest.mark.parametrize("compiled", [False, True])
def test_follow_graph_intimacy_of_reads_the_looked_up_edges(monkeypatch, compiled):
    """Guards FollowGraph.intimacy_of (the shelves' intimacy of (user, shop account)
    pairs): np.where over lookup's edges, float32, 0 where the user does not follow, in
    the numpy form and in the compiled pass of large graphs (kernels.intimacy_in_rows),
    bit for bit (-0.0 and a subnormal intimacy kept); an empty row, the first and last
    keys, int32 and int64 queries, no query and one."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng = np.random.default_rng(17)
    n_users, n_creators = 70, 13
    keys0 = np.unique(rng.integers(0, n_users * n_creators, 300))
    keys0 = keys0[keys0 // n_creators != 5]  # an empty row
    intimacy = rng.random(len(keys0)).astype(np.float32)
    intimacy[:2] = np.array([-0.0, 1e-45], np.float32)
    fg = FollowGraph(n_users, n_creators, keys0 // n_creators, keys0 % n_creators, intimacy, (0.1, 0.3, 0.6))
    q = np.r_[rng.integers(0, n_users * n_creators, 400), keys0[:2], keys0[-1:], 0, n_users * n_creators - 1,
              5 * n_creators + 2]
    want = np.where(np.isin(q, keys0), intimacy[np.minimum(np.searchsorted(keys0, q), len(keys0) - 1)], 0.0)
    assert want.dtype == np.float32 and 0 < np.count_nonzero(np.isin(q, keys0)) < len(q)
    for dtype in (np.int64, np.int32):
        for s in (slice(None), slice(0, 0), slice(400, 401)):
            users, creators = (q[s] // n_creators).astype(dtype), (q[s] % n_creators).astype(dtype)
            got = fg.intimacy_of(users, creators)
            assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want[s].view(np.int32))
    if compiled:
        from simulator.feeds import kernels

        got = kernels.intimacy_in_rows(fg.indptr, fg.creator, fg.intimacy, q // n_creators, q % n_creators)
        assert np.array_equal(got.view(np.int32), want.view(np.int32))


@pytest.mark.parametrize("compiled", [False, True])
def test_follow_graph_intimacy_of_on_a_graph_without_edges_is_zero(monkeypatch, compiled):
    """Guards FollowGraph.intimacy_of on a follow graph without edges (graph.mean_follows
    0, before anyone follows: the shelves ask it on day 0): every pair 0.0, float32, in
    the numpy form and in the compiled pass. Fails when the numpy form reads edge 0 of
    the empty intimacy column (an IndexError that crashed the ecosystem at 160,000 users
    with mean_follows 0, whose graph is below COMPILED_FROM: numpy's forms run there)."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", False)
    none = np.zeros(0, np.int64)
    fg = FollowGraph(6, 4, none, none, np.zeros(0), (0.1, 0.3, 0.6))
    assert fg.n_edges == 0
    for users, creators in ((np.array([0, 5, 3]), np.array([1, 3, 0])), (none, none)):
        got = fg.intimacy_of(users, creators)
        assert got.dtype == np.float32 and got.tolist() == [0.0] * len(users)
