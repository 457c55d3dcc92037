"""Relationships: intimacy growth and decay, new follows, fan tiers."""

from types import SimpleNamespace

import numpy as np
import pytest

from simulator import TrafficModel
from simulator.audience.engagement import Reactions
from simulator.audience.relationships import (
    day_gains,
    drifting_fans,
    fan_gains,
    grow_intimacy,
)
from simulator.config import RelationshipConfig
from simulator.feeds.impressions import Impressions
from simulator.model import DayLog
from simulator.observation.measurements import FanTiers


def intimacy_gains(imp, r, cfg, n_edges: int) -> np.ndarray:
    """One platform's day gains as one value per follow edge (0 without a fan impression):
    fan_gains spread over every edge, the form the update's definition reads."""
    edges, sums = fan_gains(imp, r, cfg)
    out = np.zeros(n_edges)
    out[edges] = sums
    return out


def update_intimacy(intimacy: np.ndarray, gains: np.ndarray, cfg) -> None:
    """grow_intimacy from one gain per edge (the edges with a nonzero gain grow)."""
    touched = np.flatnonzero(gains)
    grow_intimacy(intimacy, touched, gains[touched], cfg)
from simulator.state.graphs import fan_tier
from simulator.state.vocabulary import RECOMMEND, TIERS

from ..conftest import small

KINDS = ("view", "complete", "like", "comment", "share")


def one_day(edges: list[int], acts: list[str | None]) -> tuple[Impressions, Reactions]:
    """Impressions on the given follow edges (-1: a non-fan), each with at most one action."""
    n = len(edges)
    imp = Impressions(user=np.arange(n, dtype=np.int32), item=np.zeros(n, np.int64),
                      source=np.full(n, RECOMMEND, np.int8), edge=np.array(edges, np.int64),
                      match=np.zeros(n, np.float32))
    mask = {a: np.array([x == a for x in acts], bool) for a in ("complete", "like", "comment", "share", "follow")}
    return imp, Reactions(**mask, intimacy=np.zeros(n, np.float32))


CUSTOM = RelationshipConfig(gain_view=0.01, gain_complete=0.03, gain_like=0.05, gain_comment=0.1, gain_share=0.3,
                            decay=0.05)


@pytest.mark.parametrize("cfg", [RelationshipConfig(), CUSTOM], ids=["defaults", "custom"])
def test_intimacy_grows_by_each_action_kind_then_decays(cfg):
    """Guards the intimacy update of docs/ODD.md 7.6 per action kind: a fan edge's day
    gain G is gain_view per impression plus the gain of each action on it, and intimacy
    ← (1 − (1 − intimacy)·exp(−G))·(1 − decay); an edge without impressions only decays;
    non-fans' impressions give no gain. Zeroing any gain, dropping the decay, decaying
    before the growth or counting non-fan impressions fails; with the default gains the
    kinds are ordered view < complete < like < comment < share."""
    #        edge: 0 view, 1 complete, 2 like, 3 comment, 4 share, 5 none, 6 two views + like, -1 non-fans
    edges = [0, 1, 2, 3, 4, 6, 6, -1, -1, -1]
    acts = [None, "complete", "like", "comment", "share", None, "like", "share", "comment", None]
    imp, r = one_day(edges, acts)
    w0 = np.array([0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.5], np.float32)
    gains = intimacy_gains(imp, r, cfg, len(w0))
    g = {k: getattr(cfg, f"gain_{k}") for k in KINDS}
    expected_gains = [g["view"], g["view"] + g["complete"], g["view"] + g["like"], g["view"] + g["comment"],
                      g["view"] + g["share"], 0.0, 2 * g["view"] + g["like"], 0.0]
    assert gains == pytest.approx(expected_gains, rel=1e-6)
    w = w0.copy()
    update_intimacy(w, gains, cfg)
    expected = (1.0 - (1.0 - w0.astype(np.float64)) * np.exp(-np.array(expected_gains))) * (1.0 - cfg.decay)
    assert w == pytest.approx(expected, rel=1e-6)
    assert w[5] < w0[5] and w[7] < w0[7]  # no impressions: decay only
    assert w[0] < w[1] < w[2] < w[3] < w[4]


def test_gains_must_rise_from_view_to_share():
    """Guards the documented order view ≤ complete ≤ like ≤ comment ≤ share of the gains
    (gain_complete was left out of the check before: 0.5 passed)."""
    from pydantic import ValidationError

    for bad in ({"gain_complete": 0.5}, {"gain_complete": 0.001}, {"gain_like": 0.05}, {"gain_view": 0.1}):
        with pytest.raises(ValidationError, match="gains must be ordered"):
            RelationshipConfig(**bad)


def test_intimacy_update_saturates_at_one_and_clips():
    """Guards the saturating form: huge gains bring intimacy to 1 − decay, never above."""
    cfg = RelationshipConfig(decay=0.1)
    w = np.array([0.0, 0.9, 1.0], np.float32)
    update_intimacy(w, np.array([50.0, 50.0, 0.0]), cfg)
    assert w == pytest.approx([0.9, 0.9, 0.9], rel=1e-6)


def test_model_sums_gains_over_platforms_and_adds_engaged_followers():
    """Guards the phase update_relationships (model.py): the day's gains of every
    platform's impressions are summed per edge before the update (one edge seen on two
    platforms grows by both), and the viewers who chose to follow get one new edge each
    at exactly ``follow_intimacy`` (added after the day's update), counted in the creator's
    ``follows_gained``."""
    d = small({"relationship": {"follow_intimacy": 0.17, "decay": 0.05}})
    d["platforms"] = {"douyin": {"policy": "douyin"}, "kuaishou": {"policy": "kuaishou"}}
    m = TrafficModel(d, seed=3, agents=False)
    cfg = m.scenario.relationship
    has_item = np.bincount(m.items.creator, minlength=m.creators.n) > 0
    e = np.flatnonzero(has_item[m.follows.creator])[:2]  # two fan edges of creators with items
    users, creators = m.follows.src[e], m.follows.creator[e]
    w0 = m.follows.intimacy[e].astype(np.float64)
    stranger = int(np.flatnonzero(has_item & (m.follows.lookup(np.repeat(users[0], m.creators.n),
                                                                np.arange(m.creators.n)) < 0))[0])
    first_item = lambda c: int(np.flatnonzero(m.items.creator == c)[0])
    shown = np.array([first_item(creators[0]), first_item(creators[1]), first_item(stranger)])
    logs = []
    for p, (platform, act) in enumerate(zip(m.platforms.values(), ("like", "share"))):
        imp = Impressions.of_slots(m, users[[0, 1, 0]], shown, RECOMMEND)
        assert imp.edge.tolist() == [e[0], e[1], -1]
        _, r = one_day(imp.edge.tolist(), [act, None, "follow" if p == 0 else None])
        r.complete[2] = p == 0  # the follower engaged
        logs.append(DayLog(platform, imp, r))
    m.day_logs = logs
    gained_before = m.creators.follows_gained.copy()
    n_before = m.follows.n_edges
    m.update_relationships()
    e = m.follows.lookup(users, creators)
    g0 = 2 * cfg.gain_view + cfg.gain_like + cfg.gain_share
    g1 = 2 * cfg.gain_view
    grown = 1 - (1 - w0) * np.exp(-np.array([g0, g1]))
    assert m.follows.intimacy[e] == pytest.approx(grown * (1 - cfg.decay), rel=1e-6)
    assert m.follows.n_edges == n_before + 1
    new = m.follows.lookup(users[:1], np.array([stranger]))[0]
    assert new >= 0 and m.follows.intimacy[new] == pytest.approx(0.17)
    assert (m.creators.follows_gained - gained_before).tolist() == np.bincount([stranger], minlength=m.creators.n).tolist()


def test_engaged_non_followers_follow_in_a_model_day():
    """The whole day: follows come only from engaged non-fans, and the graph gains an
    edge for each distinct (viewer, creator) that followed."""
    m = TrafficModel(small(), seed=2, agents=False)
    m.step()
    r, imp = m.day_logs[0].reactions, m.day_logs[0].impressions
    assert r.follow.sum() > 0 and (imp.edge[r.follow] < 0).all() and r.engaged[r.follow].all()
    pairs = set(zip(imp.user[r.follow].tolist(), m.items.creator[imp.item[r.follow]].tolist()))
    assert m.creators.follows_gained.sum() == len(pairs)


def test_cold_fans_drift_away_at_the_unfollow_rate():
    """Guards drifting_fans: only edges below ``unfollow_threshold`` may drift, each with
    probability ``unfollow_rate`` (within 5 standard errors)."""
    cfg = RelationshipConfig(unfollow_threshold=0.05, unfollow_rate=0.3)
    w = np.repeat(np.array([0.0, 0.049, 0.05, 0.5], np.float32), 20_000)
    out = drifting_fans(w, cfg, np.random.default_rng(0))
    assert not out[w >= 0.05].any()
    rate = out[w < 0.05].mean()
    assert abs(rate - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 40_000)


@pytest.mark.parametrize("thresholds", [(0.1, 0.3, 0.6), (0.2, 0.45, 0.9)])
def test_tiers_begin_exactly_at_each_threshold(thresholds):
    """Guards the tier boundaries (docs/ODD.md, follow edge): potential < t1 ≤ passerby <
    t2 ≤ liking < t3 ≤ true fan, tested just below and at every threshold, in fan_tier,
    in a model's follow graph built from the scenario's ``tier_thresholds`` and in the
    fan-tier counts of metrics (FanTiers)."""
    t = np.array(thresholds, np.float32)
    below = np.nextafter(t, np.float32(0))
    w = np.array([0.0, below[0], t[0], below[1], t[1], below[2], t[2], 1.0], np.float32)
    tiers = [0, 0, 1, 1, 2, 2, 3, 3]
    assert fan_tier(w, t).tolist() == tiers
    m = TrafficModel(small({"relationship": {"tier_thresholds": list(thresholds)}}), seed=2, agents=False)
    m.follows.intimacy[:] = np.resize(w, m.follows.n_edges)
    assert m.follows.tier[: len(w)].tolist() == tiers
    counts = np.bincount(np.resize(tiers, m.follows.n_edges), minlength=4)
    assert m.follows.fans_by_tier().sum(axis=0).tolist() == counts.tolist()
    fans = FanTiers().measure(SimpleNamespace(model=m))
    assert [fans[f"fans_{k}"] for k in TIERS] == counts.tolist()


@pytest.mark.parametrize("compiled", [False, True])
def test_the_days_gains_are_each_platforms_sums_added_and_empty_platforms_skipped(monkeypatch, compiled):
    """Guards relationships.day_gains and TrafficModel.update_relationships (issue #17:
    at 1 M users each platform's pass allocated and added an array of every follow edge,
    now only the edges a fan impression touched): the edges and gains handed to
    grow_intimacy are, bit for bit, the edges where zero plus each platform's dense sums
    (intimacy_gains) in platform order is not zero, and those sums; a platform with no
    impressions (the shelf) is not passed over. Both forms: the numpy one (a platform's
    fan_gains each) and the large days' one sort of every platform's fan impressions."""
    import simulator.audience.relationships as rel_module
    import simulator.model as model_module
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)

    calls, handed = [], []
    fan_gains, grow = rel_module.fan_gains, model_module.grow_intimacy

    def counted(imp, r, cfg):
        calls.append((imp, r, cfg))
        return fan_gains(imp, r, cfg)

    def captured_grow(intimacy, touched, gains, cfg):
        handed.append((touched.copy(), gains.copy(), len(intimacy)))
        return grow(intimacy, touched, gains, cfg)

    monkeypatch.setattr(rel_module, "fan_gains", counted)
    monkeypatch.setattr(model_module, "grow_intimacy", captured_grow)
    m = TrafficModel("scenarios/ecosystem.toml", seed=1, agents=False,
                     **{"population.users": 1500, "population.creators": 40, "population.merchants": 4})
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)  # (after the model: a long session sets it)
    for _ in range(2):
        calls.clear()
        m.step()
        logs = [log for log in m.day_logs if len(log.impressions)]
        assert len(logs) == 2 < len(m.day_logs)  # two feeds; the shelf has none
        assert len(calls) == (0 if compiled else 2)  # (the compiled form sorts them all at once)
        touched, gains, n_edges = handed[-1]
        want = np.zeros(n_edges)
        for log in logs:
            want += intimacy_gains(log.impressions, log.reactions, m.scenario.relationship, n_edges)
        assert len(touched) and np.array_equal(touched, np.flatnonzero(want))
        assert np.array_equal(gains.view(np.int64), want[touched].view(np.int64))


@pytest.mark.parametrize("compiled", [False, True])
def test_one_platforms_gains_by_edge_are_bincounts_sums(monkeypatch, compiled):
    """Guards relationships.fan_gains and day_gains (issue #17: the gains of the edges
    with a fan impression only): each fan impression's float32 gain, its weights added
    in the order view, complete, like, comment, share, summed per edge in float64 in the
    impressions' order, equal bit for bit to bincount over every edge at the edges that
    have a fan impression (and those edges, ascending); impressions without an edge (-1)
    add nothing; a day's gains of two platforms are the dense sums added, at the edges
    where they are not zero. Both forms: the numpy one and the large days' compiled
    passes (kernels.fan_gain_list, a stable argsort, kernels.sum_runs; the platforms'
    sums merged by kernels.add_sorted_sums)."""
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng = np.random.default_rng(12)
    n, n_edges = 50_000, 700
    # (a view gain 2**-36 of the others: float64 sums that round, so the order of the adds shows)
    cfg = SimpleNamespace(gain_view=1.234e-12, gain_complete=0.0371, gain_like=0.1117, gain_comment=0.2219,
                          gain_share=0.3333)
    logs = []
    for _ in range(2):
        edge = np.where(rng.random(n) < 0.4, rng.integers(0, n_edges, n), -1).astype(np.int32)
        hits = [rng.random(n) < q for q in (0.5, 0.2, 0.05, 0.02)]
        logs.append(SimpleNamespace(impressions=SimpleNamespace(edge=edge),
                                    reactions=SimpleNamespace(complete=hits[0], like=hits[1], comment=hits[2],
                                                              share=hits[3])))
    want_all = np.zeros(n_edges + 3)
    for log in logs:
        edge, r = log.impressions.edge, log.reactions
        fan = np.flatnonzero(edge >= 0)
        gain = np.full(len(fan), cfg.gain_view, dtype=np.float32)
        for wt, hit in ((cfg.gain_complete, r.complete), (cfg.gain_like, r.like), (cfg.gain_comment, r.comment),
                        (cfg.gain_share, r.share)):
            gain += np.float32(wt) * hit[fan]
        want = np.bincount(edge[fan], weights=gain, minlength=n_edges + 3)
        edges, sums = fan_gains(log.impressions, r, cfg)
        assert np.array_equal(edges, np.unique(edge[fan]))
        assert sums.dtype == np.float64 and np.array_equal(sums.view(np.int64), want[edges].view(np.int64))
        want_all += want
    day = [SimpleNamespace(impressions=_Sized(log.impressions), reactions=log.reactions) for log in logs]
    touched, gains = day_gains(day, cfg)
    assert np.array_equal(touched, np.flatnonzero(want_all))
    assert np.array_equal(gains.view(np.int64), want_all[touched].view(np.int64))


def test_the_days_gains_in_one_sort_equal_each_platforms_sums_merged(monkeypatch):
    """Guards relationships._day_gains_compiled (large days: every platform's fan
    impressions packed by kernels.fan_gain_keys, one sort, kernels.day_gain_sums; issue
    #17) against day_gains' numpy form (a platform's sums, the merges, the filter), bit
    for bit: three platforms sharing edges, gains whose float64 sums round (the order of
    the adds shows: within a platform by impression, then platform after platform),
    edges that gained nothing left out, a platform without fan impressions, one with a
    single one, and a day without any; one platform alone, or the only one with fan
    impressions (sixteenth pass: kernels._one_platform_gain_sums)."""
    import simulator.audience.relationships as rel_module
    from simulator.feeds import numpy_kernels

    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    rng = np.random.default_rng(13)
    cfg = SimpleNamespace(gain_view=1.234e-12, gain_complete=0.0371, gain_like=0.1117, gain_comment=0.2219,
                          gain_share=0.3333)
    zero_view = SimpleNamespace(**{**vars(cfg), "gain_view": 0.0})

    def log(n, n_edges, fan_share):
        edge = np.where(rng.random(n) < fan_share, rng.integers(0, n_edges, n), -1).astype(np.int32)
        hits = [rng.random(n) < q for q in (0.5, 0.2, 0.05, 0.02)]
        return SimpleNamespace(impressions=_Sized(SimpleNamespace(edge=edge)),
                               reactions=SimpleNamespace(complete=hits[0], like=hits[1], comment=hits[2],
                                                         share=hits[3]))

    days = [[log(30_000, 900, 0.4), log(5_000, 900, 0.0), log(20_000, 900, 0.6)],
            [log(40, 5, 0.0), log(1, 5, 1.0)], [log(10, 5, 0.0)], [log(3000, 50, 0.5)],
            [log(50, 5, 0.0), log(20_000, 700, 0.5)], [log(1, 5, 1.0)]]
    for day in days:
        for c in (cfg, zero_view):
            want_e, want_s = day_gains(day, c)
            got_e, got_s = rel_module._day_gains_compiled(day, c)
            assert got_e.dtype == np.int64 and got_s.dtype == np.float64
            assert np.array_equal(got_e, want_e) and np.array_equal(got_s.view(np.int64), want_s.view(np.int64))
    assert len(rel_module._day_gains_compiled(days[0], cfg)[0]) > 800  # (shared edges: the merges matter)
    assert len(rel_module._day_gains_compiled(days[1], cfg)[0]) == 1


def test_the_days_gains_leave_out_edges_whose_gain_is_zero():
    """Guards day_gains' filter: an edge whose fan impressions gained nothing (no view
    gain, no action) is not among the touched edges, so grow_intimacy never rewrites its
    intimacy as 1 - (1 - w), which float32 rounding would change."""
    cfg = SimpleNamespace(gain_view=0.0, gain_complete=0.5, gain_like=0.0, gain_comment=0.0, gain_share=0.0)
    edge = np.array([3, 3, 7, -1, 9], dtype=np.int32)
    complete = np.array([False, False, True, True, False])
    no = np.zeros(5, bool)
    log = SimpleNamespace(impressions=_Sized(SimpleNamespace(edge=edge)),
                          reactions=SimpleNamespace(complete=complete, like=no, comment=no, share=no))
    touched, gains = day_gains([log], cfg)
    assert touched.tolist() == [7] and gains.tolist() == [0.5]


class _Sized(SimpleNamespace):
    """A stand-in for Impressions: its edges and its length."""

    def __init__(self, imp):
        super().__init__(edge=imp.edge)

    def __len__(self):
        return len(self.edge)


def test_the_gain_table_by_packed_actions_is_each_impressions_float32_sum():
    """Guards relationships.gain_table and Reactions.codes (issue #17: a small day's fan
    gains read from a 16-entry table by each impression's packed actions): the table's
    gain of every impression is, bit for bit, gain_view plus each action's weight added
    in the order complete, like, comment, share in float32; the codes carry each action
    in its bit (follow: 16)."""
    from simulator.audience.relationships import gain_table

    rng = np.random.default_rng(31)
    n = 5000
    masks = {a: rng.random(n) < q for a, q in zip(("complete", "like", "comment", "share", "follow"),
                                                  (0.6, 0.3, 0.1, 0.05, 0.02))}
    r = Reactions(**masks, intimacy=np.zeros(n, np.float32))
    codes = r.codes()
    assert codes.dtype == np.uint8 and r.codes() is codes
    for bit, a in enumerate(("complete", "like", "comment", "share", "follow")):
        assert np.array_equal((codes >> bit) & 1 == 1, masks[a])
    for cfg in (RelationshipConfig(), CUSTOM, SimpleNamespace(gain_view=1.234e-12, gain_complete=0.0371,
                                                              gain_like=0.1117, gain_comment=0.2219, gain_share=0.3333)):
        want = np.full(n, cfg.gain_view, dtype=np.float32)
        for w, hit in ((cfg.gain_complete, r.complete), (cfg.gain_like, r.like), (cfg.gain_comment, r.comment),
                       (cfg.gain_share, r.share)):
            want += np.float32(w) * hit
        got = gain_table(cfg)[codes & 15]
        assert got.dtype == np.float32 and np.array_equal(got.view(np.int32), want.view(np.int32))


def test_fan_gains_read_the_reactions_codes_as_their_masks():
    """Guards fan_gains' numpy form on real Reactions (their packed codes and the gain
    table) against the stand-in without codes (the masks packed there): the same edges
    and, bit for bit, the same sums."""
    rng = np.random.default_rng(32)
    n, n_edges = 20_000, 900
    edge = np.where(rng.random(n) < 0.4, rng.integers(0, n_edges, n), -1).astype(np.int32)
    masks = {a: rng.random(n) < q for a, q in zip(("complete", "like", "comment", "share", "follow"),
                                                  (0.5, 0.2, 0.05, 0.02, 0.01))}
    imp = SimpleNamespace(edge=edge)
    real = Reactions(**masks, intimacy=np.zeros(n, np.float32))
    bare = SimpleNamespace(**{a: masks[a] for a in ("complete", "like", "comment", "share")})
    for cfg in (RelationshipConfig(), CUSTOM):
        e1, s1 = fan_gains(imp, real, cfg)
        e2, s2 = fan_gains(imp, bare, cfg)
        fan = edge >= 0
        want = np.bincount(edge[fan], weights=gain_table_reference(cfg, masks, fan), minlength=n_edges)
        assert np.array_equal(e1, np.unique(edge[fan])) and np.array_equal(e1, e2)
        assert np.array_equal(s1.view(np.int64), s2.view(np.int64))
        assert np.array_equal(s1.view(np.int64), want[e1].view(np.int64))


def gain_table_reference(cfg, masks, fan):
    """Each fan impression's float32 gain, added mask by mask (the definition)."""
    gain = np.full(int(fan.sum()), cfg.gain_view, dtype=np.float32)
    for w, a in ((cfg.gain_complete, "complete"), (cfg.gain_like, "like"), (cfg.gain_comment, "comment"),
                 (cfg.gain_share, "share")):
        gain += np.float32(w) * masks[a][fan]
    return gain


def test_a_large_day_past_the_packed_keys_63_bits_sums_platform_by_platform(monkeypatch):
    """Guards day_gains' fallback on a large day whose packed keys would not fit in 63 bits
    (``_day_gains_compiled`` gives None: each platform's sums, merged by the compiled
    ``add_sorted_sums``; reached past ~2^28 fan impressions a day): the same edges and
    bits as the numpy form; and the bit budget itself (edge ids just under 2^59 with 64 fan
    impressions need 59 + 6 + 4 bits)."""
    import simulator.audience.relationships as rel_module
    from simulator.feeds import numpy_kernels

    rng = np.random.default_rng(29)
    cfg = SimpleNamespace(gain_view=1.234e-12, gain_complete=0.0371, gain_like=0.1117, gain_comment=0.2219,
                          gain_share=0.3333)

    def log(n, n_edges, fan_share, dtype=np.int32, offset=0):
        edge = np.where(rng.random(n) < fan_share, rng.integers(0, n_edges, n) + offset, -1).astype(dtype)
        hits = [rng.random(n) < q for q in (0.5, 0.2, 0.05, 0.02)]
        return SimpleNamespace(impressions=_Sized(SimpleNamespace(edge=edge)),
                               reactions=SimpleNamespace(complete=hits[0], like=hits[1], comment=hits[2],
                                                         share=hits[3]))

    day = [log(30_000, 900, 0.4), log(5_000, 900, 0.0), log(20_000, 900, 0.6)]
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12)
    want_e, want_s = day_gains(day, cfg)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0)
    monkeypatch.setattr(rel_module, "_day_gains_compiled", lambda logs, c: None)
    got_e, got_s = day_gains(day, cfg)
    assert len(want_e) > 800
    assert np.array_equal(got_e, want_e) and np.array_equal(got_s.view(np.int64), want_s.view(np.int64))
    monkeypatch.undo()
    wide = [log(64, 4, 1.0, np.int64, offset=2**59 - 4)]
    assert np.count_nonzero(wide[0].impressions.edge >= 0) == 64
    assert rel_module._day_gains_compiled(wide, cfg) is None
    narrow = [log(64, 4, 1.0, np.int64, offset=2**50)]
    assert rel_module._day_gains_compiled(narrow, cfg) is not None


def test_intimacy_grows_block_by_block_as_in_one_pass(monkeypatch):
    """Guards grow_intimacy's blocks (issue #17's memory: its float64 temporaries for
    GROW_BLOCK touched edges at a time): every edge ends bit for bit where one pass over
    all the touched edges puts it (the formula of before, here), for blocks that divide
    the edges, that do not, of one edge, and for no and one touched edge (a block's gains
    read at the wrong place, or a block left out, fails here)."""
    from simulator.audience import relationships

    cfg = RelationshipConfig()
    rng = np.random.default_rng(4)
    start = rng.random(10_000).astype(np.float32)
    for touched in (np.sort(rng.choice(10_000, 3_001, replace=False)), np.zeros(0, np.int64), np.array([17])):
        gains = rng.random(len(touched)) * 3
        want = start.copy()
        want[touched] = 1.0 - (1.0 - want[touched]) * np.exp(-gains).astype(np.float32)
        want *= np.float32(1.0 - cfg.decay)
        np.clip(want, 0.0, 1.0, out=want)
        for block in (1, 7, 1000, 3001, 1 << 18):
            monkeypatch.setattr(relationships, "GROW_BLOCK", block)
            got = start.copy()
            grow_intimacy(got, touched, gains, cfg)
            assert got.tobytes() == want.tobytes(), block


@pytest.mark.parametrize("compiled", [False, True])
def test_drifting_fans_into_the_days_lost_mask_block_by_block(monkeypatch, compiled):
    """Guards drifting_fans' ``out`` and blocks (issue #17's memory: the day's lost-edge
    mask set in place, the cold edges found a block of edges at a time, or by
    kernels.indices_below on large graphs): the mask is the given one or-ed with the
    drifting edges, from the same draws as a fresh mask in one pass (blocks that divide
    the edges, that do not, of one edge; no edge, no cold edge), the same in both forms;
    a block left out or offset, or a draw per edge instead of per cold edge, fails here."""
    from simulator.audience import relationships
    from simulator.feeds import numpy_kernels

    cfg = RelationshipConfig(unfollow_threshold=0.05, unfollow_rate=0.3)
    rng = np.random.default_rng(9)
    w = (rng.random(5_009) * 0.2).astype(np.float32)
    monkeypatch.setattr(numpy_kernels, "PREFER_COMPILED", False)
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 10**12)
    numpy_form = drifting_fans(w, cfg, np.random.default_rng(1))
    monkeypatch.setattr(numpy_kernels, "COMPILED_FROM", 0 if compiled else 10**12)
    assert np.array_equal(drifting_fans(w, cfg, np.random.default_rng(1)), numpy_form)
    rng = np.random.default_rng(9)
    w = (rng.random(5_009) * 0.2).astype(np.float32)  # (16 × 313 + 1: the last block is the last edge)
    before = rng.random(len(w)) < 0.1
    want = drifting_fans(w, cfg, np.random.default_rng(1))
    assert 0 < want.sum() < (w < 0.05).sum()
    for block in (1, 7, 5_009, 1 << 18):
        monkeypatch.setattr(relationships, "GROW_BLOCK", block)
        assert np.array_equal(drifting_fans(w, cfg, np.random.default_rng(1)), want)
        lost = before.copy()
        assert drifting_fans(w, cfg, np.random.default_rng(1), out=lost) is lost
        assert np.array_equal(lost, before | want)
    for empty in (w[:0], np.full(10, 0.5, np.float32)):
        assert not drifting_fans(empty, cfg, np.random.default_rng(1)).any()
    every = RelationshipConfig(unfollow_threshold=0.05, unfollow_rate=1.0)  # every cold edge drifts, the last one too
    w[-1] = 0.0
    for block in (1, 7):
        monkeypatch.setattr(relationships, "GROW_BLOCK", block)
        assert np.array_equal(drifting_fans(w, every, np.random.default_rng(1)), w < 0.05)
    # a threshold that float32 rounds down: an intimacy at float32(0.03) is not below it
    # (numpy compares in float32), though it is below the float64 0.03
    cold = RelationshipConfig(unfollow_threshold=0.03, unfollow_rate=1.0)
    w[:3] = np.float32(0.03)
    assert float(np.float32(0.03)) < 0.03 and not (w[:3] < 0.03).any()
    assert np.array_equal(drifting_fans(w, cold, np.random.default_rng(1)), w < 0.03)


def test_the_decay_is_numpys_product_and_clip_bit_for_bit():
    """Guards the daily decay of every edge (numpy_kernels.decay_and_clip on small graphs,
    kernels.grow_and_decay's inlined pass on large ones, here with no touched edge): the
    same float32 bits as ``x *= f; np.clip(x, 0.0, 1.0, out=x)`` for intimacies in [0, 1]
    and for NaN, ±inf, -0.0, negatives, values above 1, subnormals; one entry and none."""
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    def decay_only(x, factor):
        kernels.grow_and_decay(x, np.zeros(0, np.int64), np.zeros(0, np.float32), factor)

    rng = np.random.default_rng(3)
    special = np.float32([np.nan, np.inf, -np.inf, -0.0, 0.0, -1e-3, 1.0, 1.5, 1e-40, -1e-40, 0.5, 1.0000001])
    for x in (np.r_[special, rng.random(1000).astype(np.float32), special], special[:7], np.float32([0.25]),
              np.zeros(0, np.float32)):
        for factor in (np.float32(0.99), np.float32(1.5), np.float32(-1.0)):
            want = x.copy()
            want *= factor
            np.clip(want, 0.0, 1.0, out=want)
            for f in (decay_only, nk.decay_and_clip):
                got = x.copy()
                f(got, factor)
                assert got.dtype == np.float32 and got.tobytes() == want.tobytes()


def test_indices_below_is_flatnonzero_of_numpys_comparison():
    """Guards kernels.indices_below (drifting_fans' cold edges on large graphs): numpy's
    ``flatnonzero(x < t)`` with a Python float ``t`` compares in float32 (NEP 50), so the
    kernel takes ``t`` as a float32; the same indices (int64) at the boundary (values just
    under, at and above the float32 and the float64 threshold), NaN never below; empty and
    one entry."""
    from simulator.feeds import kernels

    t = 0.03
    t32 = np.float32(t)
    near = np.float32([np.nextafter(t32, np.float32(0)), t32, np.nextafter(t32, np.float32(1)), np.nan, -0.0, 0.5])
    rng = np.random.default_rng(5)
    for x in (np.r_[near, (rng.random(2000) * 0.1).astype(np.float32), near], near[:1], np.zeros(0, np.float32)):
        got = kernels.indices_below(x, t32)
        assert got.dtype == np.int64 and np.array_equal(got, np.flatnonzero(x < t))


def test_grow_and_decay_is_numpys_growth_decay_and_clip_bit_for_bit(monkeypatch):
    """Guards kernels.grow_and_decay (grow_intimacy on large graphs: the touched edges'
    growth and every edge's decay in one parallel pass of chunks): the same float32 bits
    as the numpy form (gather, ``1 - (1 - w) · grow``, scatter, product, clip) on one and
    two threads, for touched edges at a chunk's first and last places, in one chunk and
    across many, none, every edge, one edge, NaN and out-of-range intimacies; and
    grow_intimacy gives the same bits on either path."""
    import numba

    from simulator.audience import relationships
    from simulator.feeds import kernels
    from simulator.feeds import numpy_kernels as nk

    rng = np.random.default_rng(11)
    c = kernels.GROW_CHUNK
    n = 3 * c + 17
    x0 = rng.random(n).astype(np.float32)
    x0[[5, c - 1, c, 2 * c + 3]] = np.float32([np.nan, 1.5, -0.25, 1.0])
    cases = [np.sort(rng.choice(n, n // 9, replace=False)), np.array([0, c - 1, c, 2 * c, n - 1]),
             np.zeros(0, np.int64), np.arange(n), np.array([c + 1]), np.arange(c - 3, c + 3)]
    before = numba.get_num_threads()
    try:
        for touched in cases:
            touched = touched.astype(np.int64)
            grow = np.exp(-rng.random(len(touched)) * 3).astype(np.float32)
            for factor in (np.float32(0.99), np.float32(1.7)):
                want = x0.copy()
                nk.grow_and_decay(want, touched, grow, factor)
                for threads in (1, max(2, numba.config.NUMBA_NUM_THREADS)):
                    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
                    got = x0.copy()
                    kernels.grow_and_decay(got, touched, grow, factor)
                    assert got.tobytes() == want.tobytes(), (len(touched), factor, threads)
        for x in (np.zeros(0, np.float32), np.float32([0.25])):
            got = x.copy()
            kernels.grow_and_decay(got, np.zeros(0, np.int64), np.zeros(0, np.float32), np.float32(0.5))
            assert got.tobytes() == (x * np.float32(0.5)).tobytes()
    finally:
        numba.set_num_threads(before)
    cfg = RelationshipConfig()
    touched = cases[0].astype(np.int64)
    gains = rng.random(len(touched)) * 3
    forms = []
    for compiled in (False, True):
        monkeypatch.setattr(nk, "PREFER_COMPILED", False)
        monkeypatch.setattr(nk, "COMPILED_FROM", 0 if compiled else 10**12)
        monkeypatch.setattr(relationships, "GROW_BLOCK", 1000)
        got = x0.copy()
        grow_intimacy(got, touched, gains, cfg)
        forms.append(got.tobytes())
    assert forms[0] == forms[1]
