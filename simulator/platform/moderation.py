"""Moderation: platforms ban merchants' accounts for diverting buyers to WeChat (导流)
and for over-marketing in fan groups.

During the day the private channels report ban risks (:meth:`Moderation.risk_diversion`,
:meth:`Moderation.risk_overmarketing`); each risk is a Bernoulli draw with hazard
``1 − (1 − p)^k`` for k offences at per-offence probability p (the platform's
``ban_per_diversion`` per WeChat card in a parcel, ``ban_per_excess_push`` per promotional
push above ``commerce.groups.overmarketing_pushes`` that reached a group's members: an
account without members risks nothing). At the end of the private channels
:meth:`Moderation.apply` bans the accounts hit: a banned account loses its reach on the
platform that banned it (feeds skip it there) and, when that is its home platform, its
followers (and so its groups; the follow graph is shared by the platforms). Its WeChat
contacts stay ("traffic insurance").
"""

from __future__ import annotations

import numpy as np


class Moderation:
    def __init__(self, model):
        self.model = model
        merchants = model.merchants
        self.ban_per_diversion = np.array([pc.ban_per_diversion for pc in model.scenario.platforms.values()])
        self.ban_per_excess_push = np.array([pc.ban_per_excess_push for pc in model.scenario.platforms.values()])
        self.pending = np.zeros(merchants.banned.shape, dtype=bool)  # (platforms × merchants) hit today
        self.bans_today = np.zeros(len(self.ban_per_diversion))

    def begin_day(self) -> None:
        self.pending[:] = False
        self.bans_today[:] = 0

    def blocked_creators(self, platform: int) -> np.ndarray | None:
        """Accounts banned on ``platform`` (their items get no reach there), or None."""
        merchants = self.model.merchants
        if not merchants.banned[platform].any():
            return None
        out = np.zeros(self.model.creators.n, dtype=bool)
        out[merchants.account[merchants.banned[platform]]] = True
        return out

    def risk_overmarketing(self, platform: np.ndarray, merchant: np.ndarray, excess_pushes: np.ndarray,
                           rng: np.random.Generator) -> None:
        """Merchants' own accounts that pushed ``excess_pushes`` promotions above the limit
        to their groups' members today, on their home ``platform`` (the caller passes only
        accounts whose pushes reached at least one member)."""
        hazard = 1.0 - (1.0 - self.ban_per_excess_push[platform]) ** excess_pushes
        hit = rng.random(len(merchant)) < hazard
        self.pending[platform[hit], merchant[hit]] = True

    def risk_diversion(self, cards: np.ndarray, rng: np.random.Generator) -> None:
        """``cards``: (platforms × merchants) WeChat cards put in today's parcels."""
        # drawn for the merchants in the market only (the others put no card in a parcel):
        # a scenario's entry pool does not shift the stream (ODD 7.10)
        active = np.flatnonzero(self.model.merchants.active)
        hazard = 1.0 - (1.0 - self.ban_per_diversion[:, None]) ** cards[:, active]
        self.pending[:, active] |= rng.random(hazard.shape) < hazard

    def apply(self, out: np.ndarray | None = None) -> np.ndarray:
        """Ban today's hits; returns the mask of follow edges lost (followers of accounts
        newly banned on their home platform), or-ed into ``out`` if given (the step's mask
        of the day's lost edges: no mask of every edge made on the days without a ban)."""
        model, merchants = self.model, self.model.merchants
        lost = np.zeros(model.follows.n_edges, dtype=bool) if out is None else out
        new = self.pending & ~merchants.banned
        if not new.any():
            return lost
        merchants.banned |= new
        merchants.ban_day[new] = model.day
        self.bans_today += new.sum(axis=1)
        at_home = new[model.creators.home[merchants.account].astype(np.int64), np.arange(merchants.n)]
        if at_home.any():
            accounts = np.zeros(model.creators.n, dtype=bool)
            accounts[merchants.account[at_home]] = True
            lost |= accounts.take(model.follows.creator)
        return lost
