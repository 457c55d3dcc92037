"""Platforms adapt their knobs toward an objective (docs/ODD.md 7.3.1; off by default).

A platform with ``adapt.enabled`` revises some of its knobs (``adapt.knobs``: ad load, a
scale on its commission schedule, its centralization) by a deterministic hill-climb
(trial and revert), one knob at a time, in turn:

* The day's objective J_t is read once a day, in phase ``adapt_platforms``, after every
  booking of the day: ``revenue`` = the platform's ad revenue + commissions + its cut of
  tips (the ledger's), ``gmv`` = GMV on the platform (public, commercial, private on the
  platform; WeChat excluded), ``dau`` = its active users.
* Days are grouped into periods of ``every`` days from day ``start`` on. The first period
  is a *baseline*: its mean objective B. Then the platform moves the knob whose turn it
  is by d·step (d = ±1 its direction, the value clipped to the knob's bounds; if the move
  would not change the value it reverses d; if it still cannot move, the next knob gets
  the turn) and runs a *trial* period at the new value, mean T.
* If T > B + tolerance·|B| the move is kept, the knob keeps its direction, the trial
  becomes the next baseline (B ← T) and the next knob moves at once. Otherwise the knob
  goes back to its value before the move, its direction reverses, and the next period is
  a fresh baseline at the restored values (then the next knob moves).

A move made at the end of day t acts from day t+1. The rule is myopic: it compares two
neighbouring periods and knows nothing of lagged effects (users' satisfaction has a
memory of ``activity.memory`` days, fans grow over months), of trends (a rising
objective makes a move look good: a burn-in ``start`` helps), nor of the other
platforms. A platform maximizing revenue with an inert audience (activity off) pushes its
ad load to its bound; with activity on, it stops where the DAU lost through the activity
rule (``platforms.<p>.activity``) eats the revenue of the extra slots.

The knobs act through :meth:`simulator.agents.Platform.reconfigure` (one place that
keeps every reader current): ``ad_load`` directly; the commission scale k multiplies
every rate of the day-0 schedule (intro included; each min(1, k·rate)); centralization c
moves every style knob :func:`simulator.config.presets.centralization_preset` names by
the preset's change since the start, c0 (:meth:`PlatformAdaptation.style_at`: a knob's
value is its day-0 value + preset(c) − preset(c0), so the scenario's explicit keys keep
their offset and the first move is a step, not a jump to the preset), and scales the
Gini-steering exponent by the ratio of the new to the old ``gini_gain``.
"""

from __future__ import annotations

import numpy as np

from ..config import PlatformConfig
from ..config.presets import centralization_preset
from ..state.vocabulary import CATEGORIES, GMV_DOMAINS

ON_PLATFORM = [j for j, d in enumerate(GMV_DOMAINS) if d != "private_wechat"]
# the style knobs centralization moves by the preset's change (exposure cap and Gini target apart)
NUMERIC_STYLE = ("follow_share", "same_city_share", "age_decay", "pool_growth", "cold_start_rate", "fan_trust",
                 "group_effect", "gini_gain")


def _within(key: str, value: float) -> float:
    """``value`` clipped to the schema's range of the platform knob ``key``."""
    lo, hi = -np.inf, np.inf
    for m in PlatformConfig.model_fields[key].metadata:
        lo = max(lo, getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo)
        hi = min(hi, getattr(m, "le", None) if getattr(m, "le", None) is not None else hi)
    return float(min(max(value, lo), hi))


class PlatformAdaptation:
    """One platform's hill-climb state: the knobs' values and directions, the current
    period's objective values, the baseline mean and the move under trial."""

    def __init__(self, platform):
        self.platform = platform
        cfg = platform.cfg
        self.cfg = cfg.adapt
        self.commission0 = cfg.commission  # the day-0 schedule the scale multiplies
        self.value = {"ad_load": cfg.ad_load, "commission": 1.0, "centralization": cfg.initial_centralization()}
        c0 = self.value["centralization"]
        self.preset0 = centralization_preset(c0) if c0 is not None else None  # what the style moves relative to
        self.style0 = {k: getattr(cfg, k) for k in (*NUMERIC_STYLE, "exposure_cap", "gini_target")}
        self.direction = {k: 1 for k in self.cfg.knobs}
        self.turn = 0  # index in knobs of the knob that moves next
        self.period: list[float] = []  # objective values of the current period
        self.baseline: float | None = None  # mean objective of the period before the trial
        self.trial: tuple[str, float] | None = None  # (knob, value before the move) while a move is on trial
        self.in_effect = dict(self.value)
        self.objective_today = float("nan")
        self.moves = self.kept = self.reverted = 0

    # ------------------------------------------------------------------ the rule

    def objective(self, model) -> float:
        """The platform's objective today (after every booking of the day)."""
        p, kind = self.platform.index, self.cfg.objective
        today = model.ledger.today
        if kind == "revenue":
            return float(today["ad_revenue"][p] + today["commission"][p] + today["tip_revenue"][p])
        if kind == "gmv":
            return float(today["gmv"][p, ON_PLATFORM].sum())
        return float(self.platform.active_today)

    def step(self, model) -> None:
        """Read today's objective; at the end of a period, judge the trial (keep or
        revert) and move the next knob (see the module docstring)."""
        self.in_effect = dict(self.value)  # today's values, what the day's metrics report
        if model.day < self.cfg.start:
            return
        self.objective_today = self.objective(model)
        self.period.append(self.objective_today)
        if len(self.period) < self.cfg.every:
            return
        mean = float(np.mean(self.period))
        self.period = []
        if self.trial is None:  # a baseline period ends
            self.baseline = mean
            self._move(model)
            return
        knob, before = self.trial
        self.trial = None
        self.turn = (self.turn + 1) % len(self.cfg.knobs)
        if mean > self.baseline + self.cfg.tolerance * abs(self.baseline):
            self.kept += 1
            self.baseline = mean
            self._move(model)
        else:
            self.reverted += 1
            self.direction[knob] = -self.direction[knob]
            self._set(model, knob, before)
            self.baseline = None  # the next period is a fresh baseline at the restored values

    def _move(self, model) -> None:
        """Move the knob whose turn it is (or the next one that can move) and put the move on trial."""
        knobs = self.cfg.knobs
        for i in range(len(knobs)):
            knob = knobs[(self.turn + i) % len(knobs)]
            lo, hi, step = self._bounds(knob)
            now = self.value[knob]
            for d in (self.direction[knob], -self.direction[knob]):
                new = round(min(hi, max(lo, now + d * step)), 12)
                if new != now:
                    self.turn = (self.turn + i) % len(knobs)
                    self.direction[knob] = d
                    self.trial = (knob, now)
                    self.moves += 1
                    self._set(model, knob, new)
                    return
        # nothing can move (every step 0 or bounds pinned): the period after is another baseline

    def _bounds(self, knob: str) -> tuple[float, float, float]:
        a = self.cfg
        if knob == "ad_load":
            return a.ad_load_min, a.ad_load_max, a.ad_load_step
        if knob == "commission":
            return a.commission_scale_min, a.commission_scale_max, a.commission_step
        return a.centralization_min, a.centralization_max, a.centralization_step

    def _set(self, model, knob: str, value: float) -> None:
        """Give ``knob`` the value ``value`` from tomorrow on."""
        self.value[knob] = value
        platform = self.platform
        if knob == "ad_load":
            platform.reconfigure(ad_load=value)
        elif knob == "commission":
            base = self.commission0
            update = {c: min(1.0, value * getattr(base, c)) for c in ("intro", *CATEGORIES)}
            platform.reconfigure(commission=base.model_copy(update=update))
        else:
            old_gain = platform.cfg.gini_gain
            style = self.style_at(value)
            platform.reconfigure(centralization=value, **style)
            if old_gain > 0:
                platform.steering *= style["gini_gain"] / old_gain

    def style_at(self, c: float) -> dict:
        """The style knobs at centralization ``c``: the day-0 values moved by the preset's
        change from the starting centralization c0 (so c = c0 gives the scenario's own
        values, and a scenario's explicit keys keep their offset from the preset):
        numeric knobs v0 + preset(c) − preset(c0), within their ranges; the exposure cap
        (none = no cap) cap0 · preset_cap(c) / preset_cap(c0) where both are caps, the
        preset's where both are none; where the scenario differs from the preset in having
        a cap: an explicit cap where the preset has none stays until the preset's is
        tighter, min(cap0, preset_cap(c)), and no cap where the preset has one stays no
        cap (so c = c0 gives the scenario's own cap, a cap never jumps, and a move toward
        decentralization never loosens one); Gini steering: a scenario target keeps its value with the
        gain moved like a numeric knob, a platform without one takes the preset's target
        and gain (the steering fades in from 0 gain at c = 1)."""
        now, then, start = centralization_preset(c), self.preset0, self.style0
        out = {k: _within(k, start[k] + now[k] - then[k]) for k in NUMERIC_STYLE}
        cap, cap_now, cap_then = start["exposure_cap"], now["exposure_cap"], then["exposure_cap"]
        out["exposure_cap"] = _cap_at(cap, cap_then, cap_now)
        if start["gini_target"] is None:
            out["gini_target"], out["gini_gain"] = now["gini_target"], now["gini_gain"]
        else:
            out["gini_target"] = start["gini_target"]
        return out

    # ------------------------------------------------------------------ readings

    def knob(self, name: str) -> float:
        """The value of knob ``name`` in effect today (moves made today act from tomorrow)."""
        v = self.in_effect[name]
        return float(v) if v is not None else float("nan")


def _cap_at(cap0: float | None, preset0: float | None, preset: float | None) -> float | None:
    """The exposure cap at a centralization whose preset cap is ``preset``, for a scenario
    cap ``cap0`` at a start whose preset cap was ``preset0`` (none = no cap:
    :meth:`PlatformAdaptation.style_at`)."""
    if preset == preset0:  # (at the start, e.g. a reverted move: the scenario's own, to the bit)
        return cap0
    if cap0 is None:  # no cap: the preset's where it had none too; where the scenario took its cap away, none still
        return preset if preset0 is None else None
    if preset0 is None:  # an explicit cap where the preset had none: kept until the preset's is tighter
        return cap0 if preset is None else min(cap0, preset)
    return None if preset is None else min(1.0, cap0 * preset / preset0)


class Adaptation:
    """Every adapting platform's hill-climb (phase ``adapt_platforms``)."""

    def __init__(self, model):
        self.by_platform = {p.index: PlatformAdaptation(p) for p in model.platforms.values() if p.cfg.adapt.enabled}

    def step(self, model) -> None:
        """Each adapting platform reads today's objective and, at the end of a period, judges and moves a knob."""
        for state in self.by_platform.values():
            state.step(model)

    def of(self, index: int) -> PlatformAdaptation | None:
        """The hill-climb state of platform ``index`` (None when it does not adapt)."""
        return self.by_platform.get(index)
