import numpy as np

from simulator import TrafficModel
from simulator.observation.inequality import gini, top_share

from ..conftest import small


def run_gini(cap, seed):
    m = TrafficModel(small(exposure_cap=cap, gini_target=None), seed=seed).run(10)
    return m.summary()["totals"]["exposure_gini"]


def test_exposure_cap_lowers_creator_exposure_gini():
    no_cap = np.mean([run_gini(None, s) for s in (1, 2)])
    cap = np.mean([run_gini(0.1, s) for s in (1, 2)])
    assert cap < no_cap - 0.05


def test_exposure_cap_is_respected_by_recommendation():
    m = TrafficModel(small(exposure_cap=0.01, ad_load=0.0, follow_share=0.0, cold_start_rate=0.0), seed=2)
    pl = m.platforms["douyin"]
    m.run(6)
    cap = 0.01 * pl.expected_dau
    public = m.items.impressions[0, :, 0]  # recommendation is the only public source here
    assert public.max() <= np.ceil(cap) + 1
    assert (public >= np.floor(cap)).sum() > 20  # the cap binds


def test_feed_fill_reports_slots_a_tight_cap_leaves_empty():
    def fill(cap):
        m = TrafficModel(small(exposure_cap=cap, gini_target=None), seed=3).run(6)
        df = m.metrics_frame()
        return df[df.platform == "douyin"].feed_fill, m.summary()["totals"]["feed_fill"]

    free, free_total = fill(None)
    tight, tight_total = fill(0.005)
    assert (free == 1.0).all() and free_total == 1.0
    assert tight.max() < 0.9 and tight_total < 0.9


def test_gini_and_top_share_helpers():
    assert gini(np.ones(10)) == 0.0
    assert gini(np.r_[np.zeros(99), 1.0]) > 0.98
    assert top_share(np.r_[np.ones(99), 101.0], 0.01) == 101.0 / 200.0


def test_lower_centralization_spreads_creator_exposure():
    def g(c):
        return np.mean([TrafficModel(small(centralization=c), seed=s).run(10).summary()["totals"]["exposure_gini"]
                        for s in (1, 2)])
    assert g(0.0) < g(1.0) - 0.05
