"""Scenario files: extends, overrides, and errors that name file, key and what is allowed."""

import pytest

from simulator.config import POLICY_PRESETS, ScenarioError, load_scenario, parse_set, to_toml
import tomllib

from .conftest import SCENARIOS


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_scenarios_load():
    for name in ("base", "douyin", "kuaishou"):
        s = load_scenario(SCENARIOS / f"{name}.toml")
        assert s.population.users == 10000


def test_extends_and_override(tmp_path):
    write(tmp_path, "base.toml", 'name = "b"\n[population]\nusers = 500\ncreators = 40\n')
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "c"\n[population]\ncreators = 50\n'
                                          '[platforms.ks]\npolicy = "kuaishou"\nbeta = 3\n')
    s = load_scenario(child, ["platforms.ks.ad_load=0.2"])
    assert (s.name, s.population.users, s.population.creators) == ("c", 500, 50)
    ks = s.platforms["ks"]
    assert ks.beta == 3 and ks.ad_load == 0.2
    assert ks.exposure_cap == POLICY_PRESETS["kuaishou"]["exposure_cap"]  # preset default
    s2 = load_scenario(child, ["platforms.ks.exposure_cap=0.2"])
    assert s2.platforms["ks"].exposure_cap == 0.2  # explicit keys beat presets


def test_unknown_key_names_file_and_key(tmp_path):
    p = write(tmp_path, "bad.toml", "[population]\nuserz = 5\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert "population.userz" in str(e.value) and "bad.toml" in str(e.value) and "unknown key" in str(e.value)


def test_out_of_range_names_allowed_range(tmp_path):
    p = write(tmp_path, "bad.toml", '[platforms.douyin]\nbeta = -1\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "platforms.douyin.beta" in msg and "allowed 0.0..50.0" in msg and "bad.toml" in msg


@pytest.mark.parametrize("key, allowed", [("platforms.douyin.beta", "0.0..50.0"), ("population.users", "10..50000000"),
                                          ("platforms.douyin.exposure_cap", "0.0..1.0")])
@pytest.mark.parametrize("where", ["file", "set"])
def test_nan_for_a_bounded_key_says_it_is_not_a_number(tmp_path, key, allowed, where):
    """``beta = nan`` read "input should be less than or equal to 50", as if the value were
    too large (NaN fails every bound; pydantic names the last one). Now: not a number, and
    the range. (Mutation checked: without loading._is_nan's branch.)"""
    table, name = key.rsplit(".", 1)
    if where == "file":
        p = write(tmp_path, "bad.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n[{table}]\n{name} = nan\n')
        args, source = (p,), str(p)
    else:
        args, source = (SCENARIOS / "douyin.toml", [f"{key}=nan"]), "--set"
    with pytest.raises(ScenarioError) as e:
        load_scenario(*args)
    assert str(e.value) == f"{source}: {key}: got nan, which is not a number (allowed {allowed})"


def test_nan_in_a_calibration_range_says_it_is_not_a_number(tmp_path):
    """A calibration parameter's ``range = [nan, 0.4]`` read "must be ... with low < high"."""
    from simulator.experiments.calibrate_spec import load_calibration

    from .experiments.calibration_files import write_calibration

    p = write_calibration(tmp_path / "c.toml")
    p.write_text(p.read_text().replace("range = [0.02, 0.4]", "range = [0.02, nan]"))
    with pytest.raises(ScenarioError) as e:
        load_calibration(p)
    assert str(e.value).endswith("parameters.platforms.douyin.ad_load: range must be [low, high] with low < high "
                                 "(two finite numbers), got [0.02, nan]")


def test_error_names_the_file_that_set_the_key(tmp_path):
    write(tmp_path, "base.toml", "[population]\nusers = 1\n")
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\nname = "x"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(child)
    assert "base.toml" in str(e.value) and "population.users" in str(e.value)


def test_wrong_type_and_bad_choice(tmp_path):
    p = write(tmp_path, "t.toml", '[population]\nusers = "many"\n')
    with pytest.raises(ScenarioError, match="population.users"):
        load_scenario(p)
    p = write(tmp_path, "c.toml", '[platforms.x]\npolicy = "tiktok"\n')
    with pytest.raises(ScenarioError, match="allowed: .*douyin"):
        load_scenario(p)


def test_set_errors_are_attributed_to_set(tmp_path):
    p = write(tmp_path, "ok.toml", 'name = "ok"\n')
    with pytest.raises(ScenarioError, match="--set: steps"):
        load_scenario(p, ["steps=0"])
    with pytest.raises(ScenarioError, match="key=value"):
        parse_set("steps")


def test_an_unknown_table_made_by_set_is_attributed_to_set(tmp_path):
    # the table "nosuch" exists only because --set made it: the error names --set, not the file
    p = write(tmp_path, "ok.toml", 'name = "ok"\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p, ["nosuch.key=1"])
    assert str(e.value).startswith("--set: nosuch") and "unknown key" in str(e.value)
    # also inside a table the file wrote: the unknown table below it is --set's
    p2 = write(tmp_path, "pop.toml", "[population]\nusers = 100\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p2, ["population.nosuch.key=1"])
    assert str(e.value).startswith("--set: population.nosuch") and "unknown key" in str(e.value)
    # a table the file wrote stays the file's, whatever --set adds inside it
    p = write(tmp_path, "bad.toml", 'name = "ok"\n[nosuch]\nx = 1\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p, ["nosuch.key=1"])
    assert "bad.toml: nosuch" in str(e.value)


def test_a_boolean_where_a_number_belongs_is_an_error(tmp_path):
    # pydantic's lax mode would read false as 0.0: no ads, silently
    p = write(tmp_path, "b.toml", "[platforms.douyin]\nad_load = false\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert "b.toml: platforms.douyin.ad_load" in msg and "not a boolean" in msg and "allowed 0.0..0.5" in msg
    ok = write(tmp_path, "ok.toml", 'name = "ok"\n')
    with pytest.raises(ScenarioError, match="--set: population.users: got True; must be a number"):
        load_scenario(ok, ["population.users=true"])
    with pytest.raises(ScenarioError, match="relationship.tier_thresholds: .*a list of numbers"):
        load_scenario(ok, ["relationship.tier_thresholds=[0.1, true, 0.6]"])
    with pytest.raises(ScenarioError, match="platforms.douyin.centralization"):  # an optional number
        load_scenario(ok, ["platforms.douyin.centralization=false"])
    # booleans where the schema wants them, and numbers where it wants numbers, load
    s = load_scenario(ok, ["commerce.enabled=false", "platforms.douyin.ad_load=0", "population.users=1000"])
    assert s.commerce.enabled is False and s.platforms["douyin"].ad_load == 0.0 and s.population.users == 1000


def test_a_sections_own_check_names_its_key_and_who_set_it(tmp_path):
    # the file writes [merchants]; the bad mix comes from --set: the error is --set's, at the key
    p = write(tmp_path, "m.toml", "[merchants]\ntargeting_mix = [1.0, 1.0, 1.0]\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(p, ["merchants.category_mix=[-1, 1, 1, 1]"])
    assert str(e.value).startswith("--set: merchants.category_mix: must be finite, non-negative shares")
    with pytest.raises(ScenarioError, match="z.toml: merchants.targeting_mix: must be finite"):
        load_scenario(write(tmp_path, "z.toml", "[merchants]\ntargeting_mix = [0.0, 0.0, 0.0]\n"))
    # a check of the whole scenario, on a key one --set gave
    with pytest.raises(ScenarioError, match="^--set: population.merchants: must be at most half"):
        load_scenario(p, ["population.merchants=400"])


def test_a_set_that_breaks_a_check_across_keys_is_blamed(tmp_path):
    """A --set that makes a check across keys fail at a key the file set: the --set is
    named, with the key it conflicts with and who set that (the error named the file
    alone: "base.toml: population.merchants: must be at most half ...")."""
    base = (SCENARIOS / "base.toml").resolve()
    with pytest.raises(ScenarioError) as e:
        load_scenario(SCENARIOS / "douyin.toml", ["population.creators=4"])
    assert str(e.value) == (f"--set: population.creators: conflicts with population.merchants (from {base}): must "
                            "be at most half of population.creators")
    # a check of the whole scenario (no key): the --set is named
    with pytest.raises(ScenarioError, match=r"^--set: platforms\.douyin\.kind: at least one platform must be a feed"):
        load_scenario(SCENARIOS / "douyin.toml", ["platforms.douyin.kind=shelf"])
    # a flag stands for its key; the file's own error stays the file's
    with pytest.raises(ScenarioError, match=r"^--x: conflicts with population.merchants \(from "):
        load_scenario(SCENARIOS / "douyin.toml", flags={"--x": ("population.creators", 4)})
    p = write(tmp_path, "m.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n[population]\ncreators = 4\n')
    with pytest.raises(ScenarioError, match=f"^{base}: population.merchants: must be at most half"):
        load_scenario(p, ["steps=3"])


@pytest.mark.parametrize("mix", ["[inf, 1, 1, 1]", "[nan, 1, 1, 1]"])
def test_a_mix_of_shares_must_be_finite(tmp_path, mix):
    # inf passed as a positive share and the merchants' draw failed later (probabilities contain NaN)
    p = write(tmp_path, "ok.toml", 'name = "ok"\n')
    with pytest.raises(ScenarioError, match="merchants.category_mix: must be finite"):
        load_scenario(p, [f"merchants.category_mix={mix}"])


def test_extends_a_list_merges_bases_left_to_right(tmp_path):
    """extends = [a, b]: both bases' platform tables, in that order; b's keys win over a's,
    the child's over both; an error names the file that really set the key (a key a base
    got from its own base names that file)."""
    write(tmp_path, "root.toml", '[population]\nusers = 500\ncreators = 40\n')
    write(tmp_path, "a.toml", 'extends = "root.toml"\nsteps = 5\n[platforms.douyin]\npolicy = "douyin"\nbeta = 0.5\n[merchants]\nnew_share = 0.1\n')
    write(tmp_path, "b.toml", 'extends = "root.toml"\nsteps = 7\n[platforms.kuaishou]\npolicy = "kuaishou"\n'
                              '[merchants]\nnew_share = 0.2\n')
    child = write(tmp_path, "c.toml", 'extends = ["a.toml", "b.toml"]\nname = "c"\n[platforms.taobao]\npolicy = "random"\nadoption = 0.5\n')
    s = load_scenario(child)
    assert list(s.platforms) == ["douyin", "kuaishou", "taobao"]
    assert s.steps == 7 and s.merchants.new_share == 0.2 and s.platforms["douyin"].beta == 0.5
    assert s.population.users == 500
    write(tmp_path, "root.toml", '[population]\nusers = 5\ncreators = 40\n')
    with pytest.raises(ScenarioError, match="root.toml.*population.users"):
        load_scenario(child)
    for bad in ('[]', '[1]', '3'):
        p = write(tmp_path, "bad.toml", f'extends = {bad}\n')
        with pytest.raises(ScenarioError, match="extends.*list of file names"):
            load_scenario(p)


def test_circular_extends(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    b = write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="circular"):
        load_scenario(b)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(write(tmp_path, "x.toml", "a = = 1\n"))
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")


def test_resolved_scenario_round_trips(tmp_path):
    s = load_scenario(SCENARIOS / "kuaishou.toml")
    again = write(tmp_path, "resolved.toml", to_toml(s))
    assert load_scenario(again) == s
    assert tomllib.loads(to_toml(s))["platforms"]["kuaishou"]["policy"] == "kuaishou"


def test_centralization_moves_knobs_between_the_two_styles(tmp_path):
    from simulator.config import PlatformConfig

    dy, ks = POLICY_PRESETS["douyin"], POLICY_PRESETS["kuaishou"]
    one, zero, half = (PlatformConfig(centralization=c) for c in (1.0, 0.0, 0.5))
    for key in ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate"):
        assert getattr(one, key) == pytest.approx(dy[key]) and getattr(zero, key) == pytest.approx(ks[key])
        assert getattr(half, key) == pytest.approx((dy[key] + ks[key]) / 2)
    assert one.exposure_cap is None and zero.exposure_cap == ks["exposure_cap"] and half.exposure_cap == 2 * ks["exposure_cap"]
    assert one.gini_gain == 0.0 and zero.gini_gain == 2.0
    assert PlatformConfig(centralization=0.5, follow_share=0.9).follow_share == 0.9  # explicit keys win
    with pytest.raises(Exception):
        PlatformConfig(centralization=1.5)


def test_douyin_preset_feed_knobs_equal_the_schema_defaults():
    """Defaults live in one place: the douyin preset may only move the relationship knobs
    away from PlatformConfig's field defaults (reference policies take the field defaults)."""
    from simulator.config import PlatformConfig

    fields = PlatformConfig.model_fields
    differ = {k for k, v in POLICY_PRESETS["douyin"].items() if fields[k].default != v}
    assert differ == {"fan_trust", "group_effect"}
    random = PlatformConfig(policy="random")
    assert (random.fan_trust, random.group_effect) == (fields["fan_trust"].default, fields["group_effect"].default) == (1.0, 1.0)


# --------------------------------------------------------------------------- issue 13


def test_every_shipped_scenario_loads():
    """Guards the platform rule (issue 13, item 2) against the shipped files: every
    scenario and every sweep's base still loads, with the platforms it declares."""
    from simulator.experiments.sweep import load_sweep

    names = {}
    for f in sorted(SCENARIOS.glob("*.toml")):
        names[f.stem] = list(load_scenario(f).platforms)
    assert names["douyin"] == ["douyin"] and names["kuaishou"] == ["kuaishou"] and names["base"] == ["douyin"]
    for f in sorted((SCENARIOS / "sweeps").glob("*.toml")):
        assert load_sweep(f).parameters


def test_misspelled_platform_table_is_an_error(tmp_path):
    """Issue 13, item 2: ``[platforms.douyn]`` (no policy) used to add a second platform
    with default settings, silently. Only a table naming its policy creates one."""
    p = write(tmp_path, "typo.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n[platforms.douyn]\nbeta = 2\n')
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    msg = str(e.value)
    assert msg.startswith(str(p)) and "platforms.douyn" in msg and "platforms: douyin" in msg and "policy" in msg
    # with its policy, the same table creates the platform
    p2 = write(tmp_path, "two.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n[platforms.ks]\npolicy = "kuaishou"\n')
    assert list(load_scenario(p2).platforms) == ["douyin", "ks"]


def test_overrides_never_create_a_platform(tmp_path):
    """Issue 13, item 2: ``--set platforms.douyn.beta=2`` and ``overrides=`` used to create
    a platform ``douyn`` with defaults; now exit-2 errors naming the key and the platforms.
    (A dict of overrides is a table: naming the policy there creates a platform.)"""
    with pytest.raises(ScenarioError, match=r"^--set: platforms\.douyn\.beta: no platform named 'douyn' \(platforms: douyin\)"):
        load_scenario(SCENARIOS / "douyin.toml", ["platforms.douyn.beta=2"])
    with pytest.raises(ScenarioError, match=r"^--set: .*platforms: kuaishou"):
        load_scenario(SCENARIOS / "kuaishou.toml", ["platforms.ks.policy=kuaishou"])  # not even with a policy
    with pytest.raises(ScenarioError, match=r"^<overrides>: platforms\.douyn"):
        load_scenario(SCENARIOS / "douyin.toml", overrides={"platforms": {"douyn": {"beta": 2}}})
    # the schema's default platform of a file without platform tables can be overridden
    assert load_scenario(SCENARIOS / "base.toml", ["platforms.douyin.beta=2"]).platforms["douyin"].beta == 2
    assert load_scenario(SCENARIOS / "douyin.toml", overrides={"platforms": {"douyin": {"beta": 3}}}).platforms["douyin"].beta == 3
    two = load_scenario(SCENARIOS / "douyin.toml", overrides={"platforms": {"ks": {"policy": "kuaishou"}}})
    assert list(two.platforms) == ["douyin", "ks"]
    with pytest.raises(ScenarioError, match=r"^--set: platforms\.ks\.beta: no platform named 'ks'"):
        load_scenario(SCENARIOS / "douyin.toml", ["platforms.ks.beta=1"], overrides={"platforms": {"kz": {"policy": "kuaishou"}}})


@pytest.mark.parametrize("kind", ["folder", "binary", "extends-folder", "extends-binary", "unreadable"])
def test_unusable_files_are_one_line_errors(tmp_path, monkeypatch, kind):
    """Issue 13, item 5: a folder, a binary or an unreadable file as scenario or ``extends``
    target raised IsADirectoryError / UnicodeDecodeError; now a ScenarioError naming it."""
    binary = tmp_path / "blob.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    folder = tmp_path / "dir.toml"
    folder.mkdir()
    if kind == "folder":
        target, needle = folder, "is a folder"
    elif kind == "binary":
        target, needle = binary, "not a text file"
    elif kind == "unreadable":  # chmod 0 does not stop root: make open() refuse instead
        import simulator.config.loading as loading

        def refuse(path, *a, **k):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(loading, "open", refuse, raising=False)
        target, needle = write(tmp_path, "secret.toml", 'name = "x"\n'), "permission denied"
    else:
        target = write(tmp_path, "child.toml", f'extends = "{(folder if kind == "extends-folder" else binary).name}"\n')
        needle = "is a folder" if kind == "extends-folder" else "not a text file"
    with pytest.raises(ScenarioError, match=needle) as e:
        load_scenario(target)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("content", [None, b"\xff\xfe\x00binary"])
def test_unusable_sweep_files_are_one_line_errors(tmp_path, content):
    """Issue 13, item 5, sweep side: load_sweep reads through the shared reader."""
    from simulator.experiments.sweep import load_sweep

    p = tmp_path / "s.toml"
    if content is None:
        p.mkdir()
    else:
        p.write_bytes(content)
    with pytest.raises(ScenarioError, match="is a folder|not a text file"):
        load_sweep(p)


def test_scalar_where_a_table_belongs_names_the_keys():
    """Issue 13, item 10: ``--set population=5`` spoke of "instance of populationconfig"."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(SCENARIOS / "douyin.toml", ["population=5"])
    msg = str(e.value)
    assert "must be a table with keys users, creators" in msg and "populationconfig" not in msg.lower()
    with pytest.raises(ScenarioError, match="must be a table with keys centralization, policy"):
        load_scenario(SCENARIOS / "douyin.toml", ["platforms.douyin=5"])
    # a fixed-length list said "merchants.targeting_mix.0: got []; field required"
    with pytest.raises(ScenarioError, match=r"--set: merchants\.targeting_mix: got \[\]; must be a list of 3 values"):
        load_scenario(SCENARIOS / "douyin.toml", ["merchants.targeting_mix=[]"])


@pytest.mark.parametrize("table, sets", [
    ("[[population]]\nusers = 500\n", ["population.users=400"]),
    ("[[population]]\nusers = 500\n", ["population.0.users=400"]),
    ("[[platforms]]\nbeta = 1.0\n", ["platforms.douyin.beta=2"]),
    ("[[population]]\nusers = 500\n", ["steps=2", "population.creators=40"]),  # a --set after one that is fine
])
def test_a_set_into_an_array_of_tables_gives_the_files_error(tmp_path, capsys, table, sets):
    """A --set through a key the file wrote as an array of tables ([[population]]): the
    error is the file's, as without the --set (it read "--set: population.users:
    'population' is not a table", which blamed the --set and named no file); run and
    compare alike."""
    from simulator.cli import main

    p = write(tmp_path, "arr.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n{table}')
    with pytest.raises(ScenarioError) as alone:
        load_scenario(p)
    assert str(alone.value).startswith(f"{p.resolve()}: ") and "must be a table" in str(alone.value)
    with pytest.raises(ScenarioError) as with_set:
        load_scenario(p, sets)
    assert str(with_set.value) == str(alone.value)
    flags = [a for s in sets for a in ("--set", s)]
    for command in (["run", str(p)], ["compare", str(p), str(SCENARIOS / "douyin.toml")]):
        assert main([*command, *flags, "--out", str(tmp_path / "o")]) == 2
        assert capsys.readouterr().err == f"trafficsim: error: {alone.value}\n"
    assert not (tmp_path / "o").exists()


def test_a_set_inside_a_scalar_is_the_sets_error():
    """A --set through a key that is rightly a number: the --set is the mistake."""
    with pytest.raises(ScenarioError, match=r"^--set: population\.users\.x: 'users' is not a table$"):
        load_scenario(SCENARIOS / "douyin.toml", ["population.users.x=3"])
    with pytest.raises(ScenarioError, match=r"^--set: population: got 3; must be a table with keys users"):
        load_scenario(SCENARIOS / "douyin.toml", ["population=3", "population.users=3"])


def test_policy_that_is_not_a_string_is_an_error(tmp_path):
    """Found by the CLI fuzz test: ``policy = {}`` crashed the schema's preset lookup
    (TypeError: unhashable type, a traceback); now a one-line error with the choices."""
    p = write(tmp_path, "p.toml", f'extends = "{SCENARIOS / "douyin.toml"}"\n[platforms.douyin]\npolicy = {{}}\n')
    with pytest.raises(ScenarioError, match=r"p\.toml: platforms\.douyin\.policy: got \{\}; allowed: douyin, kuaishou"):
        load_scenario(p)


def test_flag_errors_name_the_flag():
    """Issue 13, item 10: a huge ``--seed`` was reported as ``--set: seed``."""
    with pytest.raises(ScenarioError) as e:
        load_scenario(SCENARIOS / "douyin.toml", flags={"--seed": ("seed", 10**30)})
    assert str(e.value).startswith("--seed: got 1000") and "--set" not in str(e.value)


def test_scalar_platform_table_is_reported_as_such(tmp_path):
    """Found by the fuzz test: ``platforms.kuaishou = 0.0`` in a file was reported as "no
    platform named 'kuaishou'" (a scalar has no policy); it must say a table is needed."""
    p = write(tmp_path, "s.toml", f'extends = "{SCENARIOS / "base.toml"}"\n[platforms]\nkuaishou = 0.0\n')
    with pytest.raises(ScenarioError, match=r"platforms\.kuaishou: got 0\.0; must be a table with keys"):
        load_scenario(p)


def test_a_shelf_platform_takes_only_fan_trust_from_its_policy():
    """ODD 7.12: on a shelf platform the policy (and centralization) set only the
    fan_trust default. The whole preset was applied, and the Kuaishou-like one's
    gini_target then made a shelf named kuaishou (or given a centralization) an error
    about a key the user never set (mutation checked: without the shelf branch of
    ``_apply_preset`` both loads fail)."""
    for extra in (["platforms.taobao.policy=kuaishou"], ["platforms.taobao.centralization=0.5"]):
        s = load_scenario(SCENARIOS / "ecosystem.toml", extra)
        shelf = s.platforms["taobao"]
        assert shelf.kind == "shelf" and shelf.gini_target is None
    s = load_scenario(SCENARIOS / "ecosystem.toml", ["platforms.taobao.policy=kuaishou"])
    assert s.platforms["taobao"].fan_trust == POLICY_PRESETS["kuaishou"]["fan_trust"]
    with pytest.raises(ScenarioError, match="gini_target: a shelf platform has no creator feed"):
        load_scenario(SCENARIOS / "ecosystem.toml", ["platforms.taobao.gini_target=0.4"])  # set by the user: still refused


def test_an_odd_friends_per_user_is_an_error():
    """Both graph generators give each user friends_per_user // 2 ties of its own, so an
    odd value silently acted as the even one below: now an error naming the key."""
    with pytest.raises(ScenarioError, match="graph.friends_per_user: got 7; must be even"):
        load_scenario(SCENARIOS / "douyin.toml", ["graph.friends_per_user=7"])
    assert load_scenario(SCENARIOS / "douyin.toml", ["graph.friends_per_user=8"]).graph.friends_per_user == 8


def test_an_entrant_pool_without_merchants_is_an_input_error(tmp_path):
    """Potential merchants enter while active merchants of their category profit (ODD
    7.10): with population.merchants = 0 a pool could never enter, so the combination is
    an input error naming the file and the key, not a knob that silently does nothing."""
    p = write(tmp_path, "pool.toml", "[population]\nmerchants = 0\n[merchants]\nentrant_pool = 3\n")
    with pytest.raises(ScenarioError, match=r"pool\.toml: merchants\.entrant_pool: must be 0 when population\.merchants is 0"):
        load_scenario(p)
    assert load_scenario(p, ["merchants.entrant_pool=0"]).merchants.entrant_pool == 0
    assert load_scenario(p, ["population.merchants=2"]).merchants.entrant_pool == 3


def test_a_preset_override_on_a_resolved_scenario_is_refused_not_ignored(tmp_path):
    """A Scenario object has every style knob explicit, and explicit keys win over the
    preset: an override of a platform's centralization (or policy) on it would move no
    style knob (kuaishou.toml at centralization 1 kept age_decay 0.6, where the file's
    path with the same override gives the Douyin-like 0.25). It is refused; the path
    form works; a resolved TOML says so at each platform's table."""
    from simulator import TrafficModel

    path = SCENARIOS / "kuaishou.toml"
    over = {"platforms": {"kuaishou": {"centralization": 1.0}}}
    assert TrafficModel(path, seed=1, overrides=over).scenario.platforms["kuaishou"].age_decay == 0.25
    resolved = load_scenario(path)
    with pytest.raises(ScenarioError, match=r"platforms\.kuaishou\.centralization: cannot be overridden on a resolved"):
        TrafficModel(resolved, seed=1, overrides=over)
    with pytest.raises(ScenarioError, match=r"platforms\.kuaishou\.policy: cannot be overridden on a resolved"):
        TrafficModel(resolved, seed=1, **{"platforms.kuaishou.policy": "douyin"})
    assert TrafficModel(resolved, seed=1, overrides={"platforms": {"kuaishou": {"beta": 1.0}}}).scenario.platforms["kuaishou"].beta == 1.0
    text = to_toml(resolved)
    table = text.split("[platforms.kuaishou]\n", 1)[1].splitlines()[0]
    assert table.startswith("# every key below is explicit") and "centralization" in table


def test_a_creator_share_and_commission_above_the_price_is_an_input_error(tmp_path):
    """A partner creator's order pays the platform's commission and the creator's share of
    the price: above 1 together its merchant would pay out more than the buyer paid. Refused,
    naming the key, also where the platform may scale its commission up by adaptation."""
    p = write(tmp_path, "c.toml", "[commerce]\ncreator_share = 0.97\n")
    with pytest.raises(ScenarioError, match=r"c\.toml: commerce\.creator_share: must be at most 1 − the highest commission"):
        load_scenario(p)  # + base's fmcg 0.05
    assert load_scenario(p, ["commerce.partner_share=0"]).commerce.creator_share == 0.97  # no partner creators: no such order
    q = write(tmp_path, "a.toml", "[commerce]\ncreator_share = 0.85\n[platforms.douyin.adapt]\nenabled = true\n"
                                  "knobs = [\"commission\"]\ncommission_scale_max = 4.0\n")
    with pytest.raises(ScenarioError, match=r"adapt\.commission_scale_max"):
        load_scenario(q)  # 0.05 × 4 + 0.85
    assert load_scenario(q, ["platforms.douyin.adapt.commission_scale_max=2.0"]).commerce.creator_share == 0.85


def test_none_is_a_value_files_and_sets_can_write_and_records_read_back(tmp_path):
    """TOML has no null: the word "none" is none for a key whose default is none, so a
    preset's value can be taken away (the Kuaishou-like 5% cap), and a resolved scenario
    writes its nones so that they read back as nones (written as comments, a Kuaishou-like
    platform's none cap read back as the preset's 5%)."""
    from simulator.config import Scenario

    sc = load_scenario(SCENARIOS / "kuaishou.toml", ["platforms.kuaishou.exposure_cap=none"])
    assert sc.platforms["kuaishou"].exposure_cap is None
    assert load_scenario(SCENARIOS / "kuaishou.toml").platforms["kuaishou"].exposure_cap == 0.05
    data = Scenario().model_dump()
    data["platforms"] = {"k": {"policy": "kuaishou", "exposure_cap": None, "gini_target": None}}
    resolved = Scenario.model_validate(data)
    again = load_scenario(write(tmp_path, "resolved.toml", to_toml(resolved)))
    assert again.platforms["k"].exposure_cap is None and again.platforms["k"].gini_target is None
    assert again == resolved and again.graph.follow_graph_file is None  # (a path too: "none" is no file)
    assert load_scenario(SCENARIOS / "douyin.toml", ["graph.follow_graph_file=none"]).graph.follow_graph_file is None
    with pytest.raises(ScenarioError, match=r"population\.users: got 'none'"):
        load_scenario(SCENARIOS / "douyin.toml", ["population.users=none"])  # not a key that may be none
