"""The app's charts and side-by-side mode without the page (issue 18 items 3-4): two runs
on the same population and seed, charts a strategist reads (days from 1 to the step
counter, units, plain legends, smoothed GMV, funnel, Lorenz curve, revenue mix) and the
drill-down's numbers, checked against the model's state."""

import re

import numpy as np
import pytest

from simulator.config import load_scenario
from simulator.ui.app import AppModel, start_params
from simulator.ui.charts import (CUSTOMER_PLACES, RUN_COLORS, SMOOTH_DAYS, creator_fans, creator_options, creator_reach,
                                 drill_charts, history, line_legend, merchant_customers, nice_ticks, smooth, svg,
                                 top_merchant, traffic_charts)
from simulator.ui.controls import (SAME_SCENARIO, SCENARIO_DIR, centralization_moves, compare_params, default_partner,
                                   run_labels, scenario_choices)

DOUYIN, KUAISHOU = str(SCENARIO_DIR / "douyin.toml"), str(SCENARIO_DIR / "kuaishou.toml")


@pytest.fixture(scope="module")
def pair():
    """douyin.toml and, side by side, kuaishou.toml at 1,500 users, 8 days."""
    choices = scenario_choices("")
    a_params = {**start_params(DOUYIN), "users": 1500}
    a, b = AppModel(**a_params), AppModel(**compare_params(a_params, "kuaishou.toml", choices))
    for _ in range(8):
        a.step()
        b.step()
    return a, b


def test_side_by_side_runs_share_population_and_seed():
    """Guards issue 18 item 3: run B (another scenario) is built on run A's population
    (its ``users`` control, not the scenario's or the app's default) with the same seed,
    as ``trafficsim compare`` pairs its runs: the same users, creators, merchants, social
    graph and initial follows; only the platform differs. Fails if compare_params drops
    A's population (B would have 3,000 users)."""
    choices = scenario_choices("")
    a_params = {**start_params(DOUYIN), "users": 1200}
    b_params = compare_params(a_params, "kuaishou.toml", choices)
    kuaishou_beta = load_scenario(KUAISHOU).platforms["kuaishou"].beta
    assert b_params["scenario"] == KUAISHOU and b_params["users"] == 1200 and b_params["beta"] == kuaishou_beta
    a, b = AppModel(**a_params), AppModel(**b_params)
    assert a.scenario.seed == b.scenario.seed
    for left, right in ((a.users.interest, b.users.interest), (a.users.city, b.users.city),
                        (a.creators.quality_mean, b.creators.quality_mean), (a.merchants.category, b.merchants.category),
                        (a.follows.src, b.follows.src), (a.follows.creator, b.follows.creator),
                        (a.follows.intimacy, b.follows.intimacy)):
        assert np.array_equal(left, right)
    assert next(iter(a.platforms)) == "douyin" and next(iter(b.platforms)) == "kuaishou"


def test_side_by_side_with_one_control_changed():
    """Run B = run A with one control moved (centralization moves its style knobs, as on
    the page); an unknown control is an error naming the allowed ones. The legend names
    each run with its value of the control."""
    choices = scenario_choices("")
    a = start_params(DOUYIN)
    assert compare_params(a, SAME_SCENARIO, choices, "beta", 2.0) == {**a, "beta": 2.0}
    b = compare_params(a, SAME_SCENARIO, choices, "centralization", 0.0)
    assert b["centralization"] == 0.0 and b["follow_share"] == centralization_moves(0.0)["follow_share"]
    with pytest.raises(ValueError, match="controls: centralization, intimacy|controls: centralization, beta"):
        compare_params(a, SAME_SCENARIO, choices, "users", 100)
    with pytest.raises(ValueError, match="no scenario 'nope.toml'"):
        compare_params(a, "nope.toml", choices)
    assert run_labels("douyin", "douyin", SAME_SCENARIO, "beta", 2.0, 0.5) == (
        "douyin, intimacy boost (beta) 0.5", "douyin, intimacy boost (beta) 2")
    assert run_labels("douyin", "douyin", "douyin.toml") == ("douyin (A)", "douyin (B)")
    assert default_partner(choices, DOUYIN) == "kuaishou.toml" and default_partner(choices, KUAISHOU) == "douyin.toml"


def test_two_runs_draw_two_series_in_the_same_charts(pair):
    """Guards issue 18 item 3: side by side, every chart over days draws both runs, run A
    in blue and run B in orange, and the one legend names each run once (and the series
    by their dash); bar charts get one bar per run and category."""
    a, b = pair
    charts = traffic_charts([("douyin", a), ("kuaishou", b)])
    for chart in charts:
        if chart.kind == "line":
            runs = {s.run for s in chart.series}
            assert runs == {"A", "B"}, chart.key
            assert {s.color for s in chart.series if s.run == "A"} == {RUN_COLORS[0]}
            assert {s.color for s in chart.series if s.run == "B"} == {RUN_COLORS[1]}
            legend = [e[0] for e in line_legend(chart.series)]
            assert legend[:2] == ["douyin", "kuaishou"], chart.key
            drawn = svg(chart)
            assert drawn.count('class="series" data-run="A"') == drawn.count('class="series" data-run="B"') > 0
        else:
            assert [lb for lb, _, _ in chart.bars] == ["douyin", "kuaishou"]
            assert svg(chart).count('data-run="B"') == len(chart.categories)
    one = traffic_charts([("douyin", a)])
    assert all({s.run for s in c.series} <= {"A"} for c in one)


def test_charts_run_from_day_one_to_the_step_counter():
    """Guards issue 18 item 4: after one step every chart over days has its point at day 1
    (it was empty until the second step); after N steps the last day is N, the step
    counter's number, and the x-axis is labelled up to it (it ended at N - 1)."""
    m = AppModel(users=800)
    before = traffic_charts([("run", m)])[0]
    assert before.last_day == 0 and "press Step" in svg(before)
    m.step()
    chart = traffic_charts([("run", m)])[0]
    assert [list(s.x) for s in chart.series] == [[1.0]] * 3 and "<circle" in svg(chart)
    for _ in range(6):
        m.step()
    for chart in traffic_charts([("run", m)]):
        if chart.kind == "line" and chart.key != "lorenz":
            assert chart.last_day == m.steps == 7 and chart.xlim == (0, 7)
            assert all(s.x[-1] == 7 for s in chart.series)
            drawn = svg(chart)
            assert 'data-day="7"' in drawn and re.search(r'class="tk">7</text>', drawn), chart.key


def test_charts_read_like_a_report(pair):
    """Guards issue 18 item 4: every chart has a title, axis labels (days; shares; model
    yuan per day) and plain-language legends (no raw column names such as
    share_public or gmv_private_platform); fans say they are counted as follow
    relationships; the three kinds of traffic are explained."""
    from simulator.ui.charts import TRAFFIC_KINDS

    a, _ = pair
    charts = {c.key: c for c in traffic_charts([("douyin", a)])}
    for c in charts.values():
        assert c.title and c.ylabel, c.key
        for s in c.series:
            assert "_" not in s.label, (c.key, s.label)
        if c.kind == "line" and c.key != "lorenz":
            assert c.xlabel == "day"
    assert charts["gmv"].ylabel == "model yuan per day"
    assert charts["domains"].ylabel == "share of impressions" and charts["domains"].percent
    assert [s.label for s in charts["domains"].series] == ["public (algorithm)", "commercial (ads)",
                                                           "private (follow tab, fan groups)"]
    assert "follow relationships" in charts["fans"].ylabel and "not people" in charts["fans"].note
    assert [name for name, _ in TRAFFIC_KINDS] == ["Public traffic", "Commercial traffic", "Private traffic"]
    assert {"funnel", "lorenz", "revenue"} <= set(charts)


def test_gmv_is_smoothed_with_the_daily_values_faint(pair):
    """Guards issue 18 item 4: GMV by domain is drawn as its trailing 7-day mean, with the
    daily values as faint lines behind it (with 4 merchants a day's GMV swings from 0 to
    thousands). Fails if the bold lines are the daily values."""
    a, _ = pair
    gmv = next(c for c in traffic_charts([("douyin", a)]) if c.key == "gmv")
    faint = [s for s in gmv.series if s.faint]
    bold = [s for s in gmv.series if not s.faint]
    assert len(faint) == len(bold) == 4
    daily = history(a)["gmv_public"]
    assert np.allclose(faint[0].y, daily)
    want = [daily[max(0, i + 1 - SMOOTH_DAYS):i + 1].mean() for i in range(len(daily))]
    assert np.allclose(bold[0].y, want)
    assert bold[0].y.std() < daily.std()
    assert np.allclose(smooth(np.array([0, 7, 0, 0, 0, 0, 0, 0.0])), [0, 3.5, 7 / 3, 1.75, 1.4, 7 / 6, 1, 1])


def test_funnel_lorenz_and_revenue_mix_read_the_model(pair):
    """The fan-tier funnel counts today's follow edges by tier, the Lorenz curve is the
    creators' cumulative exposure (rising from 0 to 1, below the diagonal) and the
    revenue mix sums the daily ad, commission and tip revenue of the metrics."""
    a, _ = pair
    charts = {c.key: c for c in traffic_charts([("douyin", a)])}
    funnel = charts["funnel"].bars[0][2]
    assert funnel.sum() == a.follows.n_edges and funnel[3] == a.metrics_frame().query("platform == 'all'")["fans_true"].iloc[-1]
    y = charts["lorenz"].series[0].y
    assert y[0] == 0 and abs(y[-1] - 1) < 1e-9 and np.all(np.diff(y) >= -1e-12) and np.all(y <= charts["lorenz"].series[0].x + 1e-9)
    df = a.metrics_frame().query("platform == 'all'")
    assert np.allclose(charts["revenue"].bars[0][2], [df["ad_revenue"].sum(), df["commission_revenue"].sum(),
                                                      df["tip_revenue"].sum()])
    assert charts["revenue"].categories == ("ads", "commissions", "tips")


def test_drill_down_reads_the_creator_and_the_merchant():
    """Guards issue 18 item 4's drill-down: the creators on offer are the most exposed,
    most first; a creator's fans by tier and reach by domain are its follow edges and
    impressions; a merchant's customers (its customer book) are split by whether they
    follow its account, are in its fan group, are its WeChat contacts, each checked
    against a plain loop over the customers (wechat_private.toml diverts buyers to WeChat)."""
    m = AppModel(str(SCENARIO_DIR / "wechat_private.toml"), users=2000)
    for _ in range(15):
        m.step()
    options = creator_options(m)
    imp = m.creators.impressions.sum(axis=(0, 2))
    assert [c for c, _ in options] == list(np.argsort(-imp, kind="stable")[:10])
    c = options[0][0]
    fans = creator_fans(m, c)
    tiers = m.follows.tier[m.follows.creator == c]
    assert list(fans) == [int((tiers == t).sum()) for t in range(4)]
    assert list(creator_reach(m, c)) == list(m.creators.impressions[:, c, :].sum(axis=0))
    book, contacts = m.commerce.book, m.commerce.wechat
    group = m.commerce.groups.in_group(np.arange(m.follows.n_edges))
    seen_wechat = False
    for merchant in range(m.merchants.n):
        account = m.merchants.account[merchant]
        want = [0, 0, 0, 0]
        for key in book.keys:
            if key % book.n_merchants != merchant:
                continue
            user = key // book.n_merchants
            edge = np.flatnonzero((m.follows.src == user) & (m.follows.creator == account))
            want[0] += 1
            want[1] += len(edge) > 0
            want[2] += len(edge) > 0 and bool(group[edge[0]])
            want[3] += bool(((contacts.user == user) & (contacts.merchant == merchant)).any())
        assert list(merchant_customers(m, merchant)) == want, merchant
        seen_wechat |= want[3] > 0
    assert seen_wechat, "no WeChat contact in 15 days of wechat_private.toml: the check saw nothing"
    charts = drill_charts([("run", m)], c, top_merchant(m))
    assert [ch.key for ch in charts] == ["creator_fans", "creator_reach", "merchant_customers"]
    assert charts[2].categories == CUSTOMER_PLACES and f"Creator #{c}" in charts[0].title


def test_svg_is_well_formed_and_escapes_labels(pair):
    """Every chart parses as XML (the browser draws nothing from a broken SVG) and a
    label with markup characters is escaped."""
    import xml.etree.ElementTree as ET

    a, b = pair
    for chart in traffic_charts([("A <&>", a), ("B", b)]) + drill_charts([("A", a)], 0, 0):
        ET.fromstring(svg(chart))
    assert list(nice_ticks(0, 10)) == [0, 2, 4, 6, 8, 10] and list(nice_ticks(0, 1)) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert list(nice_ticks(0, 14, 6, integer=True)) == [0, 5, 10] and list(nice_ticks(0, 3, 6, integer=True)) == [0, 1, 2, 3]


def test_a_step_rewrites_the_counter_charts_and_drill_down():
    """What the page's redraw writes after a step (simulator.ui.app.page_view): the
    counter's number, every chart at that day, the drill-down of the top creator (or the
    picked one, kept on offer when it leaves the top 10) and the creators on offer."""
    from simulator.ui.app import TOP_CREATOR, page_view

    m = AppModel(users=800)
    for _ in range(3):
        m.step()
    view = page_view((m,), ("run",), None, None)
    top = creator_options(m)[0][0]
    assert view["counter"] == "Step: 3"
    assert view["charts"].count('data-day="3"') == view["charts"].count("<svg") == 10
    assert f"Creator #{top}: fans by tier" in view["drill"] and view["creator_items"][:2] == [TOP_CREATOR, f"creator #{top}"]
    low = int(np.argmin(m.creators.impressions.sum(axis=(0, 2))))
    picked = page_view((m,), ("run",), low, 0)
    assert picked["creator_items"][-1] == f"creator #{low}" and f"Creator #{low}: fans by tier" in picked["drill"]
