"""A tiny sweep file for the sweep tests (400 users, 40 creators, a few days)."""

from ..conftest import SCENARIOS

TEMPLATE = '''
base = "{base}"
name = "{name}"
replicates = {replicates}
seed = 5
steps = {steps}
method = "{method}"
samples = {samples}
[set]
"population.users" = {users}
"population.creators" = 40
"population.merchants" = 2
[parameters]
{parameters}
'''


def write_sweep(path, parameters, base=SCENARIOS / "douyin.toml", steps=3, users=400, replicates=1, method="grid",
                samples=4, name="tiny"):
    path.write_text(TEMPLATE.format(base=base, name=name, steps=steps, users=users, replicates=replicates,
                                    method=method, samples=samples, parameters=parameters))
    return path


def follow_csv(path, seed):
    """A follow-graph file for the sweep files' population (400 users, 40 creators)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pairs = sorted({(int(u), int(c)) for u, c in zip(rng.integers(0, 400, 1500), rng.integers(0, 40, 1500))})
    path.write_text("user,creator\n" + "".join(f"{u},{c}\n" for u, c in pairs))
    return path


def graph_here_and_elsewhere(tmp_path, monkeypatch):
    """Two folders, each with its own follow-graph file ``g.csv`` (other edges), the test
    working in the first (``here``); the second (``elsewhere``) is a worker's folder."""
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    follow_csv(here / "g.csv", 1)
    follow_csv(elsewhere / "g.csv", 2)
    monkeypatch.chdir(here)
    return here, elsewhere


def set_relative_graph(path):
    """Add ``"graph.follow_graph_file" = "g.csv"`` (a relative path) to the file's ``[set]``."""
    path.write_text(path.read_text().replace("[set]\n", '[set]\n"graph.follow_graph_file" = "g.csv"\n'))
    return path
