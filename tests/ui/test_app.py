"""The app's model: built from slider values and feeding the charts. (Its step time is a
benchmark figure, in benchmarks/README.md, not a timed test; the page itself is tested
in a real browser in test_app_browser.py.)"""

from simulator.ui.app import AppModel, components, model_params


def test_app_model_follows_the_sliders():
    m = AppModel(users=2000, centralization=0.0, beta=2.0, follow_share=0.4, exposure_cap=0.1,
                 push_rate=3.0, value_share=0.2)
    pc = next(iter(m.platforms.values())).cfg
    assert (pc.centralization, pc.beta, pc.follow_share, pc.exposure_cap) == (0.0, 2.0, 0.4, 0.1)
    groups = m.scenario.commerce.groups
    assert (groups.pushes_per_day, groups.value_share) == (3.0, 0.2)
    for _ in range(3):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    for col in ("public_share_impressions", "commercial_share_impressions", "private_share_impressions", "exposure_gini", "fans_true",
                "gmv_public", "gmv_private_platform", "group_members"):
        assert col in df.columns and df[col].notna().all()
    assert abs(df[["public_share_impressions", "commercial_share_impressions", "private_share_impressions"]].sum(axis=1) - 1).max() < 1e-9


def test_centralization_slider_sets_the_style_knobs_the_file_set():
    """douyin.toml sets its style knobs explicitly; the slider must still move them."""
    from simulator.config import centralization_preset

    def cfg(c):
        return next(iter(AppModel(users=1000, centralization=c).platforms.values())).cfg

    for c in (0.0, 0.5):
        pc, want = cfg(c), centralization_preset(c)
        for key in ("same_city_share", "age_decay", "pool_growth", "cold_start_rate", "fan_trust", "group_effect",
                    "gini_gain"):
            assert getattr(pc, key) == want[key], key
    assert cfg(0.0).follow_share == cfg(1.0).follow_share == 0.05  # that one is its own slider's


def test_push_sliders_move_the_group_chart():
    """Hard promotional pushing empties the fan groups the gentle policy keeps."""
    def members(**push):
        m = AppModel(users=3000, **push)
        for _ in range(12):
            m.step()
        return m.datacollector.get_model_vars_dataframe()["group_members"].iloc[-1]

    gentle, hard = members(push_rate=1.0, value_share=1.0), members(push_rate=8.0, value_share=0.0)
    assert gentle > 0 and hard < 0.8 * gentle


def test_every_slider_is_a_model_parameter():
    import inspect

    params = inspect.signature(AppModel).parameters
    assert set(model_params) <= set(params) and len(components) == 5
