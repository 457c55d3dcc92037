"""Every notebook runs top to bottom (small settings) and is committed without outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "strip outputs before committing"
    monkeypatch.setenv("SMALL", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()


def test_there_is_a_notebook():
    assert NOTEBOOKS, "notebooks/ should hold at least explore.ipynb"


def test_explore_feed_cell_shows_a_feed_at_default_settings(monkeypatch):
    """Guards issue 13 item 13: at the notebook's default size (SMALL unset, 10,000 users)
    the "one user's feed" cell used to pick user 0, who was inactive on the last day, and
    showed an empty table. Runs explore.ipynb up to that cell (its own assert checks the
    feed is not empty); fails with the old `agents_by_type[User][0]`."""
    path = next(p for p in NOTEBOOKS if p.name == "explore.ipynb")
    nb = nbformat.read(path, as_version=4)
    last = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "feed_of(" in c.source)
    nb.cells = nb.cells[:last + 1]
    monkeypatch.delenv("SMALL", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    feed = nb.cells[last].outputs
    assert any("text/html" in o.get("data", {}) for o in feed), "the feed cell should display a table"
