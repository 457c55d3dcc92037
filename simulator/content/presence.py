"""Where creators post: a per-(platform, creator) presence, and creators expanding to
platforms that pay (docs/ODD.md 7.11; ``creators.multi_homing``, off by default).

Off, every creator is on every platform (the static model; nothing here draws a random
number). On:

* at day 0 an initial creator is on its home platform, and on every platform with
  probability ``creators.cross_post_share``; merchants' own accounts (the initial ones and
  the potential entrants' dormant accounts) are on every platform: their merchant buys ads
  on every platform (its budget split over those that can sell it ads, evenly or by its
  learned platform weights: platform/ad_market.py, commerce/learning.py), and the shop is
  where the ads lead;
* a creator who enters later (state/turnover.py) is on its home platform only (rows the
  presence has not seen yet are added, home only, the next time it is read);
* a creator's items reach a platform's users, in every slot source (follow tab, same
  city, ads, cold start, recommend), only where it is present: :func:`blocked_creators`
  combines absence with the platform's bans, and the feeds (feeds/slots.py ``reachable``,
  feeds/policies.py ``prior_context``) read it;
* expansion, the day phase ``expand_creators`` (after ``record_livelihoods``): with
  W = ``creators.expand_window``, the platform's pay is its mean daily impressions per
  active creator present there over the last W days, and a creator's own pay is its mean
  daily impressions per platform it is on over the same days. An active creator (not a
  merchant's account) joins each platform q it is not on with probability
  ``creators.expand_rate`` when pay(q) > (1 + ``creators.expand_margin``) × its own pay.
  Nobody expands before W days have been recorded, nor a creator who entered less than
  W days ago (entry day included). It keeps its earlier platforms (a
  creator never leaves one; it may stop posting altogether, the exit rule of 7.10).

Random draws (day-0 cross-posting, expansion) come from a stream of their own, spawn key
(15, 2).
"""

from __future__ import annotations

import numpy as np

SPAWN_KEY = (15, 2)


def blocked_creators(model, platform: int) -> np.ndarray | None:
    """Accounts whose items reach nobody on ``platform``: banned there
    (platform/moderation.py) or, with multi-homing, not present there; None when none is."""
    banned = model.moderation.blocked_creators(platform)
    presence = getattr(model, "presence", None)
    absent = presence.absent(platform) if presence is not None else None
    if absent is None:
        return banned
    return absent if banned is None else absent | banned


class Presence:
    """Which platforms each creator is on (``present``: platforms × creators, bool; None
    when ``creators.multi_homing`` is off), the expansion rule's record (``cum``: a ring of
    W + 1 days of each creator's cumulative impressions per platform it is on;
    ``pay``: a ring of W days of each platform's impressions per present active creator)
    and the day's expansions per platform (``expanded_today``)."""

    def __init__(self, model):
        self.model = model
        cfg = model.scenario.creators
        self.cfg = cfg
        P = len(model.scenario.platforms)
        self.expanded_today = np.zeros(P, np.int64)
        self.present: np.ndarray | None = None
        if not cfg.multi_homing:
            return
        self.rng = np.random.default_rng(np.random.SeedSequence(model.scenario.seed, spawn_key=SPAWN_KEY))
        creators = model.creators
        C = creators.n
        # (drawn for the active rows: the potential merchants' dormant accounts, on every
        # platform below, use none, so an entry pool shifts no draw of this stream, ODD 7.10)
        active = np.flatnonzero(creators.active)
        everywhere = np.zeros(C, dtype=bool)
        everywhere[active] = self.rng.random(len(active)) < cfg.cross_post_share
        everywhere |= creators.merchant >= 0
        self.present = np.zeros((P, C), dtype=bool)
        self.present[creators.home.astype(np.int64), np.arange(C)] = True
        self.present[:, everywhere] = True
        W = cfg.expand_window
        self.cum = np.zeros((W + 1, C))
        self.pay = np.zeros((W, P))
        self.own_total = np.zeros(C)  # cumulative Σ_t (impressions on its platforms / platforms it is on)
        self.days = 0
        self._last_imps = creators.impressions.sum(axis=2).astype(np.float64)  # (P × C) cumulative

    def _sync(self) -> None:
        """Rows of creators who entered since the last read: present on their home only."""
        creators = self.model.creators
        C0, C = self.present.shape[1], creators.n
        if C == C0:
            return
        new = np.zeros((self.present.shape[0], C - C0), dtype=bool)
        new[creators.home[C0:].astype(np.int64), np.arange(C - C0)] = True
        new[:, creators.merchant[C0:] >= 0] = True
        self.present = np.concatenate([self.present, new], axis=1)
        self.cum = np.concatenate([self.cum, np.zeros((self.cum.shape[0], C - C0))], axis=1)
        self.own_total = np.concatenate([self.own_total, np.zeros(C - C0)])
        self._last_imps = np.concatenate([self._last_imps, np.zeros((self._last_imps.shape[0], C - C0))], axis=1)

    def absent(self, platform: int) -> np.ndarray | None:
        """Creators not on ``platform`` (None when multi-homing is off)."""
        if self.present is None:
            return None
        self._sync()
        return ~self.present[platform]

    def on(self, platform: int) -> np.ndarray:
        """Mask of the creators present on ``platform`` (every creator when multi-homing is off)."""
        if self.present is None:
            return np.ones(self.model.creators.n, dtype=bool)
        self._sync()
        return self.present[platform]

    def present_count(self, platform: int | None) -> int:
        """Active creators present on ``platform`` (None: on any feed platform); 0 on a
        shelf platform, which has no creator feed (docs/ODD.md 7.12)."""
        feed = np.array(self.model.scenario.feed_platforms(), dtype=bool)
        if platform is not None and not feed[platform]:
            return 0
        active = self.model.creators.active
        if self.present is None:
            return int(active.sum())
        self._sync()
        on = self.present[feed].any(axis=0) if platform is None else self.present[platform]
        return int(np.count_nonzero(on & active))

    # ------------------------------------------------------------------ the day phase

    def expand(self) -> None:
        """Record today's impressions and let creators expand (see the module docstring)."""
        self.expanded_today = np.zeros(len(self.expanded_today), np.int64)
        if self.present is None:
            return
        self._sync()
        model, cfg = self.model, self.cfg
        creators = model.creators
        imps = creators.impressions.sum(axis=2).astype(np.float64)  # (P × C) cumulative
        today = imps - self._last_imps
        self._last_imps = imps
        present, active = self.present, creators.active
        n_on = present.sum(axis=0)
        self.own_total += today.sum(axis=0) / np.maximum(n_on, 1)
        W = cfg.expand_window
        t = self.days
        self.cum[(t + 1) % (W + 1)] = self.own_total
        here = present & active[None, :]
        self.pay[t % W] = (today * here).sum(axis=1) / np.maximum(here.sum(axis=1), 1)
        self.days += 1
        if self.days < W or cfg.expand_rate <= 0:
            return
        own = (self.cum[(t + 1) % (W + 1)] - self.cum[(t + 1 - W) % (W + 1)]) / W
        pay = self.pay.mean(axis=0)  # the last W days
        settled = (creators.entry_day >= 0) & (creators.entry_day <= model.day - W + 1)  # W days of record
        can = ~present & (active & settled & (creators.merchant < 0))[None, :]
        better = pay[:, None] > (1.0 + cfg.expand_margin) * own[None, :]
        # (drawn for the active columns only: rows not in the market use no random number,
        # ODD 7.10)
        cols = np.flatnonzero(active)
        draw = np.ones(present.shape)
        draw[:, cols] = self.rng.random((present.shape[0], len(cols)))
        go = can & better & (draw < cfg.expand_rate)
        present |= go
        self.expanded_today = go.sum(axis=1).astype(np.int64)
