"""trafficsim validate: the shipped scenarios reproduce the sources' stylized facts (issue #4)."""

from pathlib import Path

import pandas as pd
import pytest

from simulator.experiments import validate
from simulator.experiments.targets import load_targets, scenarios_needed
from simulator.cli import main


def test_shipped_scenarios_reproduce_the_stylized_facts(tmp_path, capsys):
    out = tmp_path / "val"
    code = main(["validate", "--replicates", "5", "--workers", "2", "--out", str(out)])
    table = pd.read_csv(out / "validation.csv")
    failed = table.loc[table["status"] == "FAIL", ["target", "value", "ci_low", "ci_high", "rule"]]
    assert failed.empty, failed.to_string()
    assert code == 0
    specs = load_targets()
    assert len(table) == len(specs) and set(table["role"]) <= {"fit", "check"}
    gaps = {t.key for t in specs if t.gap}
    assert set(table.loc[table["status"] == "GAP", "target"]) <= gaps
    printed = capsys.readouterr().out
    passed = int(table["pass"].sum())
    assert f"{passed}/{len(specs)} targets pass" in printed and passed >= len(specs) - len(gaps)
    assert "Fit set" in printed and ("Check set" in printed) == any(t.role == "check" for t in specs)
    for key in gaps:  # every known gap is explained where users read the results
        assert key in (Path(__file__).resolve().parents[2] / "docs" / "validation.md").read_text()
    for f in ("validation.md", "manifest.json", "plots/lorenz.png", "plots/gmv_domain_shares.png", "plots/revenue_mix.png"):
        assert (out / f).exists(), f


def test_targets_fail_when_the_styles_do_not_differ():
    """The evaluator is not a rubber stamp: identical platforms fail the contrasts."""
    row = {"private_share_gmv": 0.5, "private_share_tips": 0.5, "private_share_comments": 0.5, "exposure_gini": 0.5,
           "top1_share": 0.1, "visible_share": 0.9, "flywheel_ratio": 0.9, "flywheel_public_top": 10.0,
           "flywheel_private_top": 10.0, "ad_revenue": 1.0, "commission_revenue": 2.0, "commission_tips_share": 0.5}
    same = pd.DataFrame([{k: v * (1 + 0.01 * r) for k, v in row.items()} for r in range(5)])
    specs = [t for t in load_targets() if t.role == "fit"]
    table = validate.evaluate({label: same.copy() for label in scenarios_needed(specs)}, specs)
    assert not table["pass"].any(), table[table["pass"]].to_string()
    ok, line = validate.verdict(table)
    assert not ok and "FAIL" in line  # known gaps excuse only themselves


def test_a_known_gap_is_reported_and_does_not_fail_the_run():
    """A target with a ``gap`` (explained in docs/validation.md) shows as GAP and leaves the
    verdict green; any other failing target fails it (guards ``validate.verdict``)."""
    table = pd.DataFrame({"target": ["a", "b"], "pass": [True, False], "status": ["PASS", "GAP"], "gap": ["", "why"]})
    assert validate.verdict(table) == (True, "1/2 targets pass; 1 known gap (docs/validation.md)")
    table.loc[1, "status"] = "FAIL"
    assert validate.verdict(table)[0] is False


def test_validate_rejects_bad_flags(tmp_path, capsys):
    assert main(["validate", "--replicates", "1", "--out", str(tmp_path / "v")]) == 2
    assert "--replicates" in capsys.readouterr().err
    assert main(["validate", "--scenarios", str(tmp_path), "--out", str(tmp_path / "v")]) == 2
    err = capsys.readouterr().err
    assert "kuaishou.toml not found" in err and "scenario 'kuaishou'" in err
    assert not (tmp_path / "v").exists()


TINY_TARGETS = '''
[scenarios.douyin_promo]
file = "douyin.toml"
set = ["commerce.groups.value_share=0.1"]

[targets.gini_band]
claim = "a band"
source = "test"
source_kind = "model contrast"
role = "fit"
rule = "band"
scenario = "douyin"
metric = "exposure_gini"
lo = 0.0
hi = 1.0

[targets.promo_churn_not_lower]
claim = "a difference against a variant"
source = "test"
source_kind = "model contrast"
role = "check"
rule = "difference"
scenario = "douyin_promo"
other_scenario = "douyin"
metric = "top1_share"
lo = -1.0
'''


def test_validate_flags_users_steps_targets_and_markdown(tmp_path, capsys):
    """--targets reads another file (its variants too), --users scales the population
    (creators and merchants in proportion), --steps sets the days, --markdown adds a
    column per setting to a target x setting table and keeps the others."""
    import json

    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS)
    md = tmp_path / "table.md"
    md.write_text("# Results\n\nintro\n")
    for steps in (2, 3):
        out = tmp_path / f"v{steps}"
        code = main(["validate", "--targets", str(tfile), "--users", "400", "--steps", str(steps), "--replicates", "2",
                     "--workers", "1", "--markdown", str(md), "--out", str(out)])
        assert code == 0, capsys.readouterr()
        table = pd.read_csv(out / "validation.csv")
        assert list(table["target"]) == ["gini_band", "promo_churn_not_lower"]
        assert list(table["role"]) == ["fit", "check"] and set(table["source_kind"]) == {"model contrast"}
        m = json.loads((out / "manifest.json").read_text())
        assert set(m["scenarios"]) == {"douyin", "douyin_promo"} and m["setting"] == f"{steps} days, 400 users"
        promo = m["scenarios"]["douyin_promo"]["sets"]
        # base.toml: 10,000 users, 300 creators, 20 merchants -> 400 users, 12 creators, 1 merchant
        assert promo[:3] == ["population.creators=12", "population.merchants=1", "commerce.groups.value_share=0.1"]
        assert "population.users=400" in promo and f"steps={steps}" in promo
    printed = capsys.readouterr().out
    assert "Fit set" in printed and "Check set" in printed
    # the record reproduces the run: its resolved scenarios and targets file, validated
    # again without the flags, give the same table byte for byte (before, the record held
    # only paths to the inputs and the flags; mutation checked: without the seed written)
    again = tmp_path / "again"
    assert main(["validate", "--targets", str(out / "targets.toml"), "--scenarios", str(out / "scenarios"),
                 "--replicates", "2", "--workers", "1", "--quiet", "--out", str(again)]) == 0
    assert (out / "validation.csv").read_bytes() == (again / "validation.csv").read_bytes()
    assert {"trafficsim_version", "seed", "numpy", "files"} <= set(json.loads((out / "manifest.json").read_text()))
    capsys.readouterr()
    text = md.read_text()
    assert text.startswith("# Results\n\nintro\n")
    header = next(line for line in text.splitlines() if line.startswith("| target"))
    assert header == "| target | role | 2 days, 400 users | 3 days, 400 users |"
    assert text.count("| gini_band | fit | PASS") == 1 and text.count("validate-settings:begin") == 1


@pytest.mark.parametrize("flag", [["--steps", "2"], ["--set", "commerce.groups.value_share=0.3"]])
def test_the_record_reruns_a_variant_whose_set_a_flag_overrides(tmp_path, capsys, flag):
    """A variant's own ``set`` gives way to the command's flags (``--steps 2`` against a
    variant's ``steps=5``; a --set of the key it sets). The record's targets.toml used to
    be the file as read, so the rerun it documents applied the variant's set again on top
    of its resolved file and ran another scenario (the shipped kuaishou_promo_groups ran 60
    days instead of --steps). Now the variant reads its resolved file as it is."""
    import json
    import tomllib

    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS.replace('set = ["commerce.groups.value_share=0.1"]',
                                          'set = ["commerce.groups.value_share=0.1", "steps=5"]'))
    out, again = tmp_path / "v", tmp_path / "again"
    assert main(["validate", "--targets", str(tfile), "--users", "300", "--steps", "3", *flag, "--replicates", "2",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 0, capsys.readouterr()
    assert main(["validate", "--targets", str(out / "targets.toml"), "--scenarios", str(out / "scenarios"),
                 "--replicates", "2", "--workers", "1", "--quiet", "--out", str(again)]) == 0
    assert (out / "validation.csv").read_bytes() == (again / "validation.csv").read_bytes()
    assert (out / "scenarios" / "douyin_promo.toml").read_text() == (again / "scenarios" / "douyin_promo.toml").read_text()
    record = tomllib.loads((out / "targets.toml").read_text())
    assert record["targets"] == tomllib.loads(tfile.read_text())["targets"]  # the targets as read
    assert json.loads((out / "manifest.json").read_text())["targets"] == str(tfile.resolve())


def test_the_shipped_targets_file_reads_back_from_a_record():
    """record_text writes the shipped targets (multi-line claims, quotes, numbers) back as
    TOML that reads as the same targets, its variants reading LABEL.toml without a set."""
    import tomllib

    from simulator.experiments.targets import TARGETS_FILE, load_variants, record_text

    variants = load_variants()
    text = record_text(TARGETS_FILE, set(variants))
    original = tomllib.loads(TARGETS_FILE.read_text())
    assert tomllib.loads(text)["targets"] == original["targets"]
    assert tomllib.loads(text)["scenarios"] == {label: {"file": f"{label}.toml"} for label in variants}


def test_a_targets_file_without_variants_is_recorded_byte_for_byte(tmp_path, capsys):
    tfile = tmp_path / "t.toml"
    gini = TINY_TARGETS[TINY_TARGETS.index("[targets.gini_band]"):TINY_TARGETS.index("[targets.promo_churn_not_lower]")]
    tfile.write_text("# my targets: the comments stay\n" + gini)
    out = tmp_path / "v"
    assert main(["validate", "--targets", str(tfile), "--users", "300", "--steps", "2", "--replicates", "2",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 0, capsys.readouterr()
    assert (out / "targets.toml").read_bytes() == tfile.read_bytes()


def test_a_bad_targets_file_is_exit_2_naming_the_key_and_nothing_is_written(tmp_path, capsys):
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS.replace('rule = "band"', 'rule = "slope"'))
    out = tmp_path / "v"
    assert main(["validate", "--targets", str(tfile), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{tfile}: targets.gini_band.rule: 'slope' is not allowed (allowed: 'band'" in err
    assert not out.exists()
    tfile.write_text(TINY_TARGETS.replace('scenario = "douyin"\nmetric = "exposure_gini"',
                                          'scenario = "weibo"\nmetric = "exposure_gini"'))
    assert main(["validate", "--targets", str(tfile), "--out", str(out)]) == 2
    assert "weibo.toml not found" in capsys.readouterr().err and not out.exists()
    assert main(["validate", "--targets", str(tmp_path / "none.toml"), "--out", str(out)]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["validate", "--users", "0", "--out", str(out)]) == 2
    assert "--users" in capsys.readouterr().err and not out.exists()
    # a metric no summary has, and a --markdown file that is not text or not writable: exit 2
    # before any run (they surfaced after every run as exit 3, the record written; mutation checked)
    tfile.write_text(TINY_TARGETS.replace('metric = "exposure_gini"', 'metric = "exposure_ginni"'))
    assert main(["validate", "--targets", str(tfile), "--out", str(out)]) == 2
    assert ("targets.gini_band.metric: target 'gini_band' reads 'exposure_ginni', which is not a summary total" in capsys.readouterr().err
            and not out.exists())
    tfile.write_text(TINY_TARGETS)
    (tmp_path / "bin.md").write_bytes(bytes(range(128, 256)))
    for md, needle in ((tmp_path / "bin.md", "not a text (UTF-8) file"), (Path("/proc/x.md"), "cannot be written")):
        assert main(["validate", "--targets", str(tfile), "--markdown", str(md), "--out", str(out)]) == 2
        assert f"--markdown {md}: {needle}" in capsys.readouterr().err and not out.exists()


@pytest.mark.parametrize("bad, message", [
    ("commerce.groups.value_share=-0.1", "commerce.groups.value_share: got -0.1; input should be greater than"),
    ("commerce.groups.value_sharez=0.1", "commerce.groups.value_sharez: unknown key"),
    ("platforms.douyn.beta=1", "platforms.douyn.beta: no platform named 'douyn' (platforms: douyin)"),
    (" =0.1", " =0.1: empty key"),
])
@pytest.mark.parametrize("flags", [[], ["--users", "400"], ["--set", "population.users=400"]])
def test_a_bad_variant_set_is_blamed_on_the_targets_file(tmp_path, capsys, bad, message, flags):
    """A [scenarios.LABEL] variant whose set has a bad key or value: the error names the
    targets file and scenarios.LABEL.set (it named --set, which the command did not have)."""
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS.replace('"commerce.groups.value_share=0.1"', f'"{bad}"'))
    out = tmp_path / "v"
    assert main(["validate", "--targets", str(tfile), *flags, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"trafficsim: error: {tfile}: scenarios.douyin_promo.set: {message}"), err
    assert not out.exists()


def test_a_variant_set_that_breaks_a_check_across_keys_is_blamed_on_it(tmp_path, capsys):
    """A variant's set that makes a check across keys fail at a key the scenario file set
    (merchants more than half the creators): blamed on scenarios.LABEL.set, not the file."""
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS.replace('"commerce.groups.value_share=0.1"', '"population.creators=4"'))
    assert main(["validate", "--targets", str(tfile), "--out", str(tmp_path / "v")]) == 2
    base = (Path(validate.SCENARIO_DIR) / "base.toml").resolve()
    assert capsys.readouterr().err == (f"trafficsim: error: {tfile}: scenarios.douyin_promo.set: population.creators: "
                                       f"conflicts with population.merchants (from {base}): must be at most half of "
                                       "population.creators\n")
    assert not (tmp_path / "v").exists()


def test_a_bad_set_names_the_scenario_files_it_fails_in(tmp_path, capsys):
    """validate --set applies to every scenario the targets read: an error names the files
    that cannot take it (it named none)."""
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS)
    out = tmp_path / "v"
    assert main(["validate", "--targets", str(tfile), "--set", "platforms.kuaishou.beta=1", "--out", str(out)]) == 2
    douyin = Path(validate.SCENARIO_DIR) / "douyin.toml"
    assert capsys.readouterr().err.startswith(f"trafficsim: error: --set: platforms.kuaishou.beta: in {douyin}: no "
                                              "platform named 'kuaishou' (platforms: douyin)")
    assert not out.exists()


def test_validate_quiet_prints_only_the_verdict(tmp_path, capsys):
    """``--quiet``: no tables, only the verdict line with the record's folder (mutation
    checked: printing the markdown regardless fails); the exit code and the record are as
    without it."""
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS)
    out = tmp_path / "v"
    code = main(["validate", "--targets", str(tfile), "--users", "400", "--steps", "2", "--replicates", "2",
                 "--workers", "1", "--quiet", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert printed.splitlines() == [f"2/2 targets pass; record: {out}"]
    assert (out / "validation.csv").exists() and (out / "validation.md").exists()


def test_a_target_that_cannot_be_measured_is_not_a_failure(tmp_path):
    """A target whose statistic is NaN at this setting (a month's churn in a 3-day run)
    is N/A, listed as not measurable, and does not fail the run (it read FAIL and made
    validate exit 1; mutation checked); a measurable miss is still FAIL."""
    from simulator.experiments.targets import load_file

    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS.replace('metric = "exposure_gini"', 'metric = "group_churn_monthly"'))
    specs = [t for t in load_file(tfile)[0] if t.key == "gini_band"]
    nan = float("nan")
    table = validate.evaluate({"douyin": pd.DataFrame({"group_churn_monthly": [nan, nan]})}, specs)
    assert list(table["status"]) == ["N/A"]
    ok, line = validate.verdict(table)
    assert ok and "1 not measurable at this setting (N/A)" in line
    assert "Not measurable at this setting" in validate.markdown(table, 2)
    table = validate.evaluate({"douyin": pd.DataFrame({"group_churn_monthly": [3.0, 3.1]})}, specs)
    assert list(table["status"]) == ["FAIL"] and not validate.verdict(table)[0]


def test_validate_replicates_csv_reproduces_the_table_on_any_worker_count(tmp_path, capsys):
    """validate's record holds each replicate's summary (replicates.csv, as compare's):
    the targets evaluated again on its ``all`` rows give validation.csv byte for byte, and
    the file is the same from one worker process as from two (mutation checked: written
    with float_format="%.10g", the table recomputed from it differs)."""
    import io
    import json

    from .test_compare import read_replicates
    from simulator.experiments.targets import load_targets as load

    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS)
    outs = {}
    for workers in ("1", "2"):
        outs[workers] = tmp_path / f"w{workers}"
        assert main(["validate", "--targets", str(tfile), "--users", "300", "--steps", "2", "--replicates", "3",
                     "--workers", workers, "--quiet", "--out", str(outs[workers])]) == 0, capsys.readouterr()
    out = outs["1"]
    assert (out / "replicates.csv").read_bytes() == (outs["2"] / "replicates.csv").read_bytes()
    assert "replicates.csv" in json.loads((out / "manifest.json").read_text())["files"]
    reps = read_replicates(out / "replicates.csv")
    totals = reps[reps["platform"] == "all"]
    assert list(totals["scenario"]) == ["douyin"] * 3 + ["douyin_promo"] * 3
    assert list(totals["seed"]) == json.loads((out / "manifest.json").read_text())["replicate_seeds"] * 2
    runs = {lb: part.sort_values("replicate").drop(columns=["scenario", "replicate", "seed", "platform"])
            for lb, part in totals.groupby("scenario")}
    again = io.StringIO()
    validate.evaluate(runs, load(tfile)).to_csv(again, index=False)
    assert again.getvalue() == (out / "validation.csv").read_text()


def test_an_interrupt_while_writing_replicates_csv_leaves_no_validation_record(tmp_path, capsys, monkeypatch):
    """As compare's: Ctrl-C while replicates.csv is written leaves neither a record nor a
    partial folder (exit 130)."""
    import simulator.experiments.compare as compare_mod

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_mod, "replicate_table", interrupt)
    tfile = tmp_path / "t.toml"
    tfile.write_text(TINY_TARGETS)
    out = tmp_path / "rec" / "v"
    assert main(["validate", "--targets", str(tfile), "--users", "300", "--steps", "1", "--replicates", "2",
                 "--workers", "1", "--quiet", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not list((tmp_path / "rec").iterdir())
