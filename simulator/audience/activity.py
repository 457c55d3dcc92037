"""Users' activity responds to their feed (docs/ODD.md 7.2.1).

Off by default (``platforms.<p>.activity.enabled``): then every user of a platform opens
it with probability ``daily_active`` and gets ``feed_slots`` slots, as in the static
model. On, each (user, platform) has a *satisfaction* S, an exponential moving average
of the days the user opens the platform:

    x = engaged / k − ad_aversion · ads / k − push_aversion · push     (k impressions today; the
                                                                        shares are 0 when k = 0)
    S ← S + (x − S) / memory                    on a day the user opens the platform
    S ← S + (reference − S) / recovery          on a day they do not

with *engaged* the impressions they completed or liked, *ads* their ad impressions and
*push* the annoyance today's promotional fan-group pushes on this platform added to them
(``commerce.groups.promo_annoyance`` × promotions, summed over their groups; a user who
does not open the platform does not read its groups). With Δ = S − reference, the next
day's

    open probability  = min(1, daily_active · R(sensitivity · Δ))
    slots (if active) = K = feed_slots · min(max_session, R(session_sensitivity · Δ))
    R(y) = 2σ(y) = 2 / (1 + e^(−y))

R is the logistic that rises from 0 through exactly 1 (y = 0, at the reference) to 2.
The slot count is drawn as ⌊K⌋ + Bernoulli(K − ⌊K⌋) (mean K exactly, at most
⌈max_session · feed_slots⌉) from the platform's session stream (world.py). At both sensitivities 0 the rule
leaves the open probability at daily_active and the slots at feed_slots exactly, so the
model's draws are those of the static model. Satisfaction is measured on every
platform, also where activity is off (there it acts on nothing): ``mean_satisfaction``
shows, before the response is switched on, where a platform's users stand against the
reference.

The update runs as the day phase ``update_activity``, after the private channels, so
the day's push annoyance counts the same day; tomorrow's feeds read the result. Every
platform also records the last day each user opened it, for ``lapsed_users`` (users of
the platform who have not opened it for ``LAPSE_DAYS`` days). A shelf platform
(``kind = "shelf"``) has no feed: it records the last visit (a search or a recall) and
leaves satisfaction at the reference; the readings over all platforms (``index`` None:
the metrics' ``all`` row) count the feed platforms only.
"""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from ..state.arrays import row_any
from ..state.vocabulary import ADS

LAPSE_DAYS = 7  # a user of a platform who has not opened it in this many days is lapsed


def rise(y: np.ndarray | float) -> np.ndarray:
    """R(y) = 2σ(y): the logistic rising from 0 (y → −∞) through exactly 1 (y = 0) to 2.
    Far below the reference (y < −709, e.g. sensitivity 1000 and satisfaction 1 under it)
    e^(−y) overflows to inf and R is exactly 0, as it should be: the overflow is not
    reported (a run at legal settings printed numpy's RuntimeWarning)."""
    with np.errstate(over="ignore"):
        return 2.0 / (1.0 + np.exp(-np.asarray(y, dtype=np.float64)))


def unbiased_round(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """⌊x⌋ + Bernoulli(x − ⌊x⌋): integers whose mean is exactly x (one uniform per entry)."""
    whole = np.floor(x)
    return (whole + (rng.random(len(x)) < x - whole)).astype(np.int64)


class Activity:
    """The users' satisfaction with each platform and what it does to tomorrow's feed.

    State, kept on every platform (measured where activity is off too, where it acts on
    nothing): ``satisfaction`` (users × platforms, float32) and ``last_open`` (users ×
    platforms, int32: the last day the user opened the platform, -1 before day 0, for
    ``lapsed_users``)."""

    def __init__(self, model):
        self.model = model
        cfgs = [cfg.activity for cfg in model.scenario.platforms.values()]
        self.cfgs = cfgs
        n, n_p = model.users.n, len(cfgs)
        self.enabled = np.array([c.enabled for c in cfgs], dtype=bool)
        # the platforms whose satisfaction moves: the 'all' readings are over these only (a
        # shelf platform's users sit at the reference and get no slots, ODD 7.12)
        self.feed_columns = [p for p, feed in enumerate(model.scenario.feed_platforms()) if feed]
        self.satisfaction = np.tile(np.array([c.reference for c in cfgs], dtype=np.float32), (n, 1))
        self.last_open = np.full((n, n_p), -1, dtype=np.int32)

    # ------------------------------------------------------------------ read by the feeds

    def open_probability(self, platform, rule=None) -> float | np.ndarray:
        """Each user's probability to open ``platform`` today: ``daily_active`` (a scalar)
        when its activity is off, else min(1, daily_active · R(sensitivity · Δ)) per user;
        where users' attention shifts (``[attention]``, audience/attention.py), that times
        their attention factor, at most 1 (per user). ``rule``: :meth:`rule_probability`,
        if the caller has it."""
        base = self.rule_probability(platform) if rule is None else rule
        attention = getattr(self.model, "attention", None)
        return base if attention is None or not attention.enabled else attention.open_probability(platform.index, base)

    def rule_probability(self, platform) -> float | np.ndarray:
        """The activity rule's open probability (without the attention factor). A feed
        computes it once (feeds/slots.py ``build_feed``) and hands it to
        :meth:`open_probability` and :meth:`session_slots` (``rule``), which read it only
        (issue #17: one pass with an ``exp`` over every user a platform a day fewer)."""
        cfg = platform.cfg
        if not self.enabled[platform.index]:
            return cfg.daily_active
        a = cfg.activity
        delta = self.satisfaction[:, platform.index].astype(np.float64) - a.reference
        return np.minimum(1.0, cfg.daily_active * rise(a.sensitivity * delta))

    def open_factor(self, platform) -> float:
        """The mean, over the platform's users, of today's open probability relative to
        ``daily_active`` (exactly 1 while satisfaction sits at the reference, or where
        activity is off): what the platform's expected DAU is scaled by."""
        cfg = platform.cfg
        if not self.enabled[platform.index]:
            return 1.0
        a, p = cfg.activity, platform.index
        r = rise(a.sensitivity * (self.satisfaction[:, p].astype(np.float64) - a.reference))
        if cfg.daily_active > 0:
            r = np.minimum(r, 1.0 / cfg.daily_active)  # the open probability is capped at 1
        uses = self.model.users.uses[:, p]
        return float(r[uses].mean()) if uses.any() else 1.0

    def session_slots(self, platform, active: np.ndarray, rule=None) -> int | np.ndarray:
        """Slots of each of today's ``active`` users: ``feed_slots`` (an int) when the
        platform's activity is off, else feed_slots · min(max_session, R(session_sensitivity
        · Δ)) drawn as an integer without bias (int64 per active user, at most
        ⌈max_session · feed_slots⌉). Where users' attention shifts, the session is
        scaled by what of the attention factor the cap on the open probability left
        (audience/attention.py), and drawn as an integer without bias. ``rule``:
        :meth:`rule_probability`, if the caller has it."""
        cfg = platform.cfg
        attention = getattr(self.model, "attention", None)
        attending = attention is not None and attention.enabled
        if not self.enabled[platform.index]:
            if not attending:
                return cfg.feed_slots
            mean = cfg.feed_slots * attention.session_scale(platform.index, cfg.daily_active, active)
            return attention.round_slots(platform.index, mean)
        a = cfg.activity
        delta = self.satisfaction[active, platform.index].astype(np.float64) - a.reference
        mean = cfg.feed_slots * np.minimum(a.max_session, rise(a.session_sensitivity * delta))
        if attending:
            base = self.rule_probability(platform) if rule is None else rule
            mean = mean * attention.session_scale(platform.index, base, active)
        return unbiased_round(mean, self.model.streams.sessions[platform.index])

    # ------------------------------------------------------------------ the day phase

    def update(self, day_logs) -> None:
        """Today's satisfaction on every platform, from the day logs and the fan groups'
        promotional pushes (after the private channels), and the last day each user opened
        each platform."""
        model = self.model
        n, n_p = model.users.n, len(self.cfgs)
        user, platform, annoy = model.commerce.groups.promo_annoyance_received(model.day)
        push = np.bincount(user * n_p + platform, weights=annoy, minlength=n * n_p).reshape(n, n_p)
        for log in day_logs:
            p, active = log.platform.index, log.platform.active_users
            a = self.cfgs[p]
            if log.platform.cfg.kind != "shelf" and numpy_kernels.compiled(len(log.impressions)):
                kernels = numpy_kernels.compiled_kernels()

                # large days: the counts, the active users' moves and last opens, and the away
                # users' recovery in one compiled call (the same floats as below, elementwise)
                imp, r = log.impressions, log.reactions
                kernels.satisfaction_day(imp.user, r.complete, r.like, imp.source, ADS, active, push[:, p],
                                         model.users.uses[:, p], self.satisfaction[:, p], self.last_open, p,
                                         model.day, a.ad_aversion, a.push_aversion, a.memory, a.reference,
                                         a.recovery)
                continue
            active = active.astype(np.intp)  # (int32 indices: numpy's fancy indexing converts them on every use)
            self.last_open[active, p] = model.day
            if log.platform.cfg.kind == "shelf":  # no feed to be satisfied with: satisfaction stays put
                continue
            imp, engaged = log.impressions, log.reactions.engaged
            # one bincount of (user, engaged, ad) (numpy_kernels.counts_by_user; large days: satisfaction_day above)
            k, hits, ads = (c[active] for c in numpy_kernels.counts_by_user(imp.user, engaged, imp.source, ADS, n))
            shares = (hits - a.ad_aversion * ads) / np.maximum(k, 1)
            x = shares - a.push_aversion * push[active, p]
            s = self.satisfaction[:, p]
            s[active] += ((x - s[active]) / a.memory).astype(np.float32)
            away = model.users.uses[:, p].copy()
            away[active] = False
            away = np.flatnonzero(away)  # (indices: quicker than a mask's gather and scatter, the same entries)
            s[away] += ((a.reference - s[away]) / a.recovery).astype(np.float32)

    # ------------------------------------------------------------------ read by the measurements

    def lapsed(self, index: int | None, readings: dict | None = None) -> int:
        """Users of the platform (``index``; None: of any feed platform, and then lapsed on
        every feed platform they use: a shelf platform, ODD 7.12, counts for neither) who
        have not opened it in the last ``LAPSE_DAYS`` days (today included).
        ``readings``: :meth:`readings`, if already taken today."""
        r = self.readings() if readings is None else readings
        return int(r["lapsed_all"] if index is None else r["lapsed"][index])

    def mean_satisfaction(self, index: int | None, readings: dict | None = None) -> float:
        """Mean satisfaction of the platform's users (None: over every (user, platform)
        pair of a user and a feed platform they use: a shelf platform's stay at the
        reference, ODD 7.12); NaN when the platform has no users. ``readings``:
        :meth:`readings`, if already taken today."""
        r = self.readings() if readings is None else readings
        cols = [index] if index is not None else self.feed_columns
        count = sum(r["users"][p] for p in cols)
        return float(sum(r["satisfaction_sum"][p] for p in cols) / count) if count else float("nan")

    def readings(self) -> dict:
        """What :meth:`lapsed` and :meth:`mean_satisfaction` report, for every platform at
        once (one step's views share them: issue #17, ~0.1 s a view at 1 M users): lapsed
        users per platform (``lapsed``) and, of the users of a feed platform, those lapsed
        on every feed platform they use (``lapsed_all``),
        each platform's users (``users``) and the float64 sum of their satisfaction
        (``satisfaction_sum``, summed as ``mean_satisfaction`` always did: numpy's sum of
        the platform's users' values in user order)."""
        uses = self.model.users.uses
        stale = self.last_open <= self.model.day - LAPSE_DAYS  # opened on that day or before: lapsed
        fresh = uses & ~stale
        return {"lapsed": np.count_nonzero(uses & stale, axis=0),
                "lapsed_all": int(np.count_nonzero(row_any(uses, self.feed_columns)
                                                   & ~row_any(fresh, self.feed_columns))),
                "users": [int(np.count_nonzero(uses[:, p])) for p in range(len(self.cfgs))],
                "satisfaction_sum": [self.satisfaction[uses[:, p], p].sum(dtype=np.float64)
                                     for p in range(len(self.cfgs))]}
