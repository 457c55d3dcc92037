"""docs/ODD.md's parameter tables are generated from the schema and must be current."""

from simulator.io import docgen


def test_odd_parameter_tables_are_current():
    text = docgen.ODD.read_text()
    assert docgen.render(text) == text, "run: python -m simulator.io.docgen"


def test_tables_cover_every_commerce_knob():
    tables = docgen.parameter_tables()
    for key in ("cpm_elasticity", "ban_per_diversion", "group_effect", "tip_cut", "pushes_per_day", "friend_cap",
                "adds_per_day", "diversion_share", "targeting_mix", "category_mix", "repurchase_days", "intro_days"):
        assert f"`{key}`" in tables


def test_scenarios_md_table_is_current():
    text = docgen.SCENARIOS_MD.read_text()
    assert docgen.render_scenarios(text) == text, "run: python -m simulator.io.docgen"
