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
    m = TrafficModel(small(), seed=1, agents=False)
    f = np.sort(m.follows.followers())[::-1]
    assert f[: len(f) // 10].sum() > 2 * f[-len(f) // 10 :].sum()  # preferential attachment: a heavy head
    assert ((m.follows.intimacy >= 0) & (m.follows.intimacy <= 1)).all()


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


def test_bad_follow_file_names_the_key(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("user,creator\n0,99999\n")
    with pytest.raises(ScenarioError, match="graph.follow_graph_file.*creator index out of range"):
        TrafficModel(small({"graph": {"follow_graph_file": str(p)}}))
