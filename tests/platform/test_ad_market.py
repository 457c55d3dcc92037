"""The ad market: saturation, fixed CPM, targeting."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.state.vocabulary import ADS

from ..commerce.worlds import model, totals


def test_more_merchants_competing_for_ads_raise_cac():
    cac = {n: totals(model(population={"merchants": n}).run()) for n in (3, 30)}
    assert cac[30]["cpm_effective"] > 2 * cac[3]["cpm_effective"]
    assert cac[30]["cac_blended"] > 1.5 * cac[3]["cac_blended"]
    assert cac[30]["cac_ad"] > cac[3]["cac_ad"]
    assert cac[30]["cac_blended_last_30d"] > cac[3]["cac_blended_last_30d"]


def test_fixed_cpm_when_saturation_is_off():
    t = totals(model(population={"merchants": 30}, platforms={"douyin": {"cpm_elasticity": 0.0}}, steps=5).run())
    assert t["cpm_effective"] == pytest.approx(model().scenario.platforms["douyin"].cpm)


@pytest.mark.parametrize("mix,fans", [([0, 1, 0], True), ([0, 0, 1], False)])
def test_ad_targeting_reaches_fans_or_lookalikes(mix, fans):
    m = model(steps=3, merchants={"targeting_mix": mix})
    m.run()
    imp = m.day_logs[0].impressions
    ads = imp.source == ADS
    assert ads.sum() > 20
    if fans:
        assert (imp.edge[ads] >= 0).all()
    else:
        assert (imp.edge[ads] < 0).all()
        # look-alikes come from the interest segments of the merchant's fans
        fg = m.follows
        acc = m.items.creator[imp.item[ads]]
        fan_segs = {int(c): set(m.users.segment[fg.src[fg.creator == c]].tolist()) for c in np.unique(acc)}
        seg = m.users.segment[imp.user[ads]]
        assert all(int(s) in fan_segs[int(c)] for s, c in zip(seg, acc))
