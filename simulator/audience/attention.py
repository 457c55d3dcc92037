"""Users' attention across the platforms they use; adopting and dropping platforms
(docs/ODD.md 7.11; ``[attention]``, off by default).

Off, every user keeps the platforms drawn at day 0 (``users.uses``) and opens each with
its ``daily_active`` probability (or the activity rule's, audience/activity.py), as in
the static model, and nothing here draws a random number. On, each user u has an
attention *share* a[u, p] over the platforms they use (Σ_p a[u, p] = 1 over them, 0
elsewhere), and a fixed daily *time budget* T_u:

    w_p   = daily_active_p · feed_slots_p          (a platform's expected slots per user)
    T_u   = Σ_{p used at day 0} w_p                 (users on no platform at day 0: the
                                                     mean T over the users on some platform)
    a[u, p] at day 0 = w_p / T_u                    (so day 0's feeds are the static model's)
    f[u, p] = a[u, p] · T_u / w_p                   (1 at day 0)

**The feeds.** The attention factor f scales the open probability, and what the cap
at 1 leaves scales the session:

    open probability  o = min(1, o₀ · f)            (o₀: daily_active, or the activity rule's)
    slots (if active)   = K₀ · o₀ · f / o           (K₀: feed_slots, or the activity rule's session)

drawn as an integer without bias (⌊K⌋ + Bernoulli) when it is not one. So a user's
expected slots on p are o₀ · K₀ · f, and with the activity rule at the reference their
expected slots summed over their platforms are Σ_p a[u, p] · T_u = T_u: attention is
moved between platforms, not created, also when the user adopts or drops a platform.
The platform's expected DAU (``Platform.expected_dau``, what the pools and the exposure
cap are shares of) is the sum of its users' open probabilities.

**The day phase** ``shift_attention`` (after ``update_activity``, whose satisfaction S
it reads; measured on every platform, also where activity does not respond):

1. shares move toward the target: a ← a + (t − a) / memory, with
   t[u, p] ∝ w_p · exp(sensitivity · S[u, p]) over the platforms u uses (a softmax weighted
   by the platforms' expected slots, so that at equal satisfaction the target is the
   day-0 split w_p / T_u: attention moves only where one platform satisfies more);
2. drops: a platform whose share has stayed below ``drop_share`` for ``drop_days`` days
   in a row is dropped (its share goes to the others in proportion; the user leaves the
   fan groups of accounts whose home it is), except the user's last platform: of a
   user's platforms due to be dropped on the same day as all their others, the one with
   the largest share is kept;
3. adoption: a user adopts a platform p they did not use at the start of the phase with
   probability min(1, adopt_base + adopt_rate · (share of their friends in the social
   graph who use p)) (social contagion, Bass-like); the adopter's share on p is
   ``entry_share`` (1 if p is their only platform), the others' shares shrink in
   proportion, and their satisfaction with p restarts at the platform's
   ``activity.reference``.

Random draws: adoption from a stream of its own, spawn key (15, 1); the session
rounding above the cap from the platform's session stream (world.py ``streams.sessions``).
"""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from ..state.arrays import row_any, row_max, row_sum
from .activity import unbiased_round

SPAWN_KEY = (15, 1)


class Attention:
    """Attention shares, time budgets and the adoption/drop rule (see the module docstring).

    State (only when ``attention.enabled``): ``share`` (users × platforms, float64),
    ``budget`` (users, float64: T_u), ``low_days`` (users × platforms, int16: days in a
    row below drop_share), ``adopted_today`` / ``dropped_today`` (per platform)."""

    def __init__(self, model):
        self.model = model
        self.cfg = model.scenario.attention
        self.enabled = self.cfg.enabled
        P = len(model.scenario.platforms)
        self.adopted_today = np.zeros(P, np.int64)
        self.dropped_today = np.zeros(P, np.int64)
        if not self.enabled:
            return
        self.rng = np.random.default_rng(np.random.SeedSequence(model.scenario.seed, spawn_key=SPAWN_KEY))
        cfgs = list(model.scenario.platforms.values())
        # attention is time spent in feeds: a shelf platform (commerce/shelf.py, no feed) has no
        # part in it; its users keep it, and its searchers come by its own intent_rate
        self.feed = np.array(model.scenario.feed_platforms(), dtype=bool)
        self.w = np.where(self.feed, [c.daily_active * c.feed_slots for c in cfgs], 0.0)
        uses = model.users.uses & self.feed
        budget = uses @ self.w
        some = budget > 0
        fallback = float(budget[some].mean()) if some.any() else float(self.w.max())
        self.budget = np.where(some, budget, max(fallback, 1e-9))
        self.share = np.where(uses, self.w[None, :] / self.budget[:, None], 0.0)
        self.low_days = np.zeros(uses.shape, np.int16)

    # ------------------------------------------------------------------ read by the feeds

    def factor(self, p: int, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """f[u, p] = a[u, p] · T_u / w_p for ``rows`` (1 at day 0; 0 where p is not used)."""
        if self.w[p] <= 0:
            return np.ones(len(self.budget[rows]))
        return self.share[rows, p] * self.budget[rows] / self.w[p]

    def open_probability(self, p: int, base: float | np.ndarray) -> np.ndarray:
        """min(1, o₀ · f) per user, for ``base`` = o₀ (a scalar or one per user)."""
        return np.minimum(1.0, base * self.factor(p))

    def session_scale(self, p: int, base: float | np.ndarray, active: np.ndarray) -> np.ndarray:
        """o₀ · f / min(1, o₀ · f) per ``active`` user (≥ 1: the part of the attention the
        cap on the open probability leaves goes into the session); ``base`` = o₀ for
        every user (a scalar or one per user)."""
        b = base if np.ndim(base) == 0 else base[active]
        want = b * self.factor(p, active)
        return np.where(want > 1.0, want, 1.0)

    def expected_dau(self, platform) -> float:
        """Σ over the platform's users of today's open probability (attention included)."""
        uses = self.model.users.uses[:, platform.index]
        activity = getattr(self.model, "activity", None)  # not yet while the platforms are built
        o = (activity.open_probability(platform) if activity is not None
             else self.open_probability(platform.index, platform.cfg.daily_active))
        o = np.broadcast_to(o, uses.shape)
        return float(o[uses].sum())

    def round_slots(self, p: int, mean: np.ndarray) -> np.ndarray:
        """Slot counts on platform ``p`` drawn without bias from their means, from the
        platform's session stream (``streams.sessions[p]``, world.py: per platform, so
        that the platforms' feeds may be built in any order, or at once)."""
        return unbiased_round(mean, self.model.streams.sessions[p])

    # ------------------------------------------------------------------ the day phase

    def update(self) -> None:
        """Shares move toward their targets, users drop and adopt platforms (see the module docstring)."""
        self.adopted_today = np.zeros(len(self.adopted_today), np.int64)
        self.dropped_today = np.zeros(len(self.dropped_today), np.int64)
        if not self.enabled:
            return
        model, cfg = self.model, self.cfg
        uses = model.users.uses & self.feed  # the feed platforms each user uses
        before = uses.copy()
        # 1. toward w_p · exp(sensitivity · satisfaction), normalized over the platforms used
        if numpy_kernels.compiled(uses.size) and uses.shape[1] < 8:  # (row_sum's order: one add after another)
            # large days: two compiled passes in parallel chunks of users around numpy's exp
            # in place, without the numpy form's other (users × platforms) float64
            # temporaries (the same values; kernels.attention_exponents_rows)
            kernels = numpy_kernels.compiled_kernels()

            x = kernels.attention_exponents_rows(model.activity.satisfaction, uses, cfg.sensitivity)
            kernels.attention_shares_rows(np.exp(x, out=x), uses, self.w, self.share, cfg.memory)
        else:
            s = cfg.sensitivity * model.activity.satisfaction.astype(np.float64)
            s = np.where(uses, s, -np.inf)
            top = row_max(s)
            e = np.where(uses, self.w * np.exp(s - np.where(np.isfinite(top), top, 0.0)), 0.0)
            total = row_sum(e)
            target = np.divide(e, total, out=np.zeros_like(e), where=total > 0)
            self.share += (target - self.share) / cfg.memory
        # 2. drops
        if cfg.drop_share > 0:
            low = uses & (self.share < cfg.drop_share)
            self.low_days = np.where(low, np.minimum(self.low_days + 1, np.iinfo(np.int16).max), 0).astype(np.int16)
            drop = low & (self.low_days >= cfg.drop_days)
            last = row_any(drop) & ~row_any(uses & ~drop)  # would drop every platform
            if last.any():
                rows = np.flatnonzero(last)
                keep = np.argmax(np.where(drop[rows], self.share[rows], -1.0), axis=1)
                drop[rows, keep] = False
            if drop.any():
                self._drop(drop)
        # 3. adoption by contagion (and a friend-independent part)
        if cfg.adopt_rate > 0 or cfg.adopt_base > 0:
            self._adopt(before)

    def _drop(self, drop: np.ndarray) -> None:
        model = self.model
        uses = model.users.uses
        uses &= ~drop
        self.share[drop] = 0.0
        self.low_days[drop] = 0
        total = row_sum(self.share)
        rows = row_any(drop)
        self.share[rows] /= total[rows]
        self.dropped_today = drop.sum(axis=0).astype(np.int64)
        # leave the fan groups of accounts homed on a dropped platform (a gather over the members only)
        follows, groups = model.follows, model.commerce.groups
        members = groups.member_edges()
        home = model.creators.home[follows.creator[members]].astype(np.int64)
        edges = members[drop[follows.src[members], home]]
        if len(edges):
            groups.leave(edges)

    def _adopt(self, before: np.ndarray) -> None:
        model, cfg = self.model, self.cfg
        uses, social = model.users.uses, model.social
        n, P = uses.shape
        # who adopts what: one compiled pass over the ties (friends counted only where a user
        # could adopt, no (n, P) temporaries), or its numpy form on small graphs (numba not imported)
        draw = self.rng.random((n, P))
        adopt_new = numpy_kernels.kernel("adopt_new", numpy_kernels.compiled(len(social.indices)))
        new = adopt_new(social.indptr, social.indices, np.ascontiguousarray(before), draw, self.feed,
                        cfg.adopt_base, cfg.adopt_rate)
        cells = np.flatnonzero(new)  # the (user, platform) adoptions, a few per thousand users a day
        if len(cells) == 0:
            return
        user, platform = np.divmod(cells, P)
        rows = np.flatnonzero(row_any(new))
        k = new[rows].sum(axis=1, keepdims=True).astype(np.float64)
        had = before[rows].any(axis=1, keepdims=True)
        entry = np.where(had, cfg.entry_share, 1.0 / k)  # with no platform yet: equal shares
        entry = np.minimum(entry, 1.0 / k)  # several adopted at once: at most an equal split
        keep = 1.0 - entry * k
        self.share[rows] = np.where(new[rows], entry, self.share[rows] * keep)
        self.low_days[rows] = np.where(new[rows], 0, self.low_days[rows])
        uses |= new
        ref = np.array([c.activity.reference for c in model.scenario.platforms.values()], dtype=np.float32)
        sat = model.activity.satisfaction
        sat[user, platform] = ref[platform]  # (not masks over every cell: ~60 ms at 1 M users)
        # an adopter starts as a day-0 user does, as if it had just opened the platform: not
        # lapsed (lapsed_users) until LAPSE_DAYS days pass without an open
        model.activity.last_open[user, platform] = model.day
        self.adopted_today = np.bincount(platform, minlength=P).astype(np.int64)

    # ------------------------------------------------------------------ read by the measurements

    def time_shares(self) -> np.ndarray:
        """Each platform's share of all slots offered today across platforms."""
        slots = np.array([p.slots_today for p in self.model.platforms.values()], dtype=np.float64)
        return slots / slots.sum() if slots.sum() > 0 else np.full(len(slots), np.nan)
