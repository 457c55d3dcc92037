"""The app's model: built from slider values and feeding the charts. (Its step time is a
benchmark figure, in benchmarks/README.md, not a timed test.)"""

from simulator.app import AppModel, components, model_params


def test_app_model_follows_the_sliders():
    m = AppModel(users=2000, centralization=0.0, beta=2.0, follow_share=0.4, exposure_cap=0.1)
    pc = next(iter(m.platforms.values())).cfg
    assert (pc.centralization, pc.beta, pc.follow_share, pc.exposure_cap) == (0.0, 2.0, 0.4, 0.1)
    for _ in range(3):
        m.step()
    df = m.datacollector.get_model_vars_dataframe()
    for col in ("share_public", "share_commercial", "share_private", "exposure_gini", "fans_true"):
        assert col in df.columns and df[col].notna().all()
    assert abs(df[["share_public", "share_commercial", "share_private"]].sum(axis=1) - 1).max() < 1e-9


def test_every_slider_is_a_model_parameter():
    import inspect

    params = inspect.signature(AppModel).parameters
    assert set(model_params) <= set(params) and len(components) == 3
