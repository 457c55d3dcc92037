"""Guard of the architecture refactor (issue 11): ``summary.json`` of every shipped
scenario at two seeds must stay bit-identical to the files recorded before it
(``trafficsim run scenarios/NAME.toml --seed S``, files in tests/golden/).

Delete this test (and tests/golden/) when a later change alters the model on purpose."""

import json

import pytest

from simulator import TrafficModel, load_scenario
from simulator.io.outputs import to_json

from .conftest import ROOT, SCENARIOS

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.json"))


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_summary_identical_to_before_the_refactor(path):
    scenario, seed = path.stem.rsplit("-", 1)
    model = TrafficModel(load_scenario(SCENARIOS / f"{scenario}.toml"), seed=int(seed), agents=False)
    model.run()
    assert json.loads(to_json(model.summary())) == json.loads(path.read_text())
