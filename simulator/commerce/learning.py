"""Merchants who learn their channel mix (``merchants.learning``; docs/ODD.md 7.7.6).

A learning merchant splits its daily marketing budget ``b`` (``daily_ad_budget``) over five
channels (``vocabulary.CHANNELS``): ads with each of the three targetings, fan-group pushes
and WeChat cards, by its effort shares ``mix`` (M × 5), and its ad budget over the
platforms by its learned weights ``platform_share`` (M × P; 0 on a shelf platform, which
sells no ads, docs/ODD.md 7.12), renormalised each day over the platforms that can sell
it ads that day (``ad_market.can_sell``: ``ad_load`` > 0, not banned there, its account
present): the day's split ``split`` (:meth:`ChannelLearner.day_split`; the weights
themselves when every platform that sells ads can sell to it; 0 everywhere when none can,
and the ad budget is then not spent):

* ads: the ad market gets ``b · mix[t] · split[p]`` per (merchant, targeting t) on
  platform p (:mod:`simulator.platform.ad_market`, same priority order and pricing);
* groups: the merchant's own account sends ``min(max_pushes, b · mix[groups] / push_cost)``
  pushes a day, a share ``value_share[m]`` of them value content (partner creators' groups
  keep the scenario's ``pushes_per_day`` and ``value_share``);
* WeChat: ``cards = b · mix[wechat] / card_cost`` cards a day; each of today's on-platform
  buyers of the merchant gets one with probability ``min(1, cards / buyers)``
  (:func:`simulator.commerce.wechat.divert_buyers`).

Group pushes (the planned ones) and the cards sent are booked as operating costs
(``Ledger.book_operating_cost``).

**The learning rule.** Each day (phase ``learn_channels``, after the money is booked) the
merchant credits each of today's orders' gross profit ``price · margin − commission −
creator cut`` to the channel that caused it: an order from an ad impression to the
targeting that bought the slot, an order from a push of its own account's fan group to
``groups``, a WeChat order to ``wechat``, anything else (organic feed, follow tab,
homepage visits, partner creators' groups) to no channel. A channel's return today is what
a yuan of effort allocated to it brought back: its attributed gross profit, plus the
allocation it could not spend (a yuan not spent comes back as itself: ads rationed, without
an audience or without a recent item to show, ads no platform could sell the merchant that
day, pushes over the cap, fewer buyers than cards), per yuan
allocated, ``r_c = (profit_c + b · mix_c − cost_c) / (b · mix_c)`` (all spent: gross profit
per yuan spent, so a dearer CPM lowers it); its average return is the exponential moving average with weight ``α = 1 /
memory`` on today (bias-corrected: ``R_c = S_c / W_c`` with ``S_c ← (1−α) S_c + α r_c``,
``W_c ← (1−α) W_c + α``, so the first observation is not pulled toward 0). Then a softmax
(exponential-weights) step moves the preferences ``H``:

    H_c ← H_c + learning_rate · (R_c − Σ_k mix_k R_k),
    mix = min_share + (1 − k · min_share) · softmax(H), over the k channels open to it.

A merchant uses WeChat only if it is one who diverts (``merchants.diversion_share``, drawn
at day 0 as in the static model; the others' WeChat share is 0 and gets no floor), and
fan groups only where they run (``commerce.groups.enabled``); with commerce off
(``commerce.enabled`` false) neither channel runs and both are closed.

The ad split over platforms learns the same way from each platform's ad return (ad orders'
profit on p, plus the ad budget on p not spent, per yuan of ad budget on p: the day's
``split``, so only platforms that could sell the merchant ads that day are observed), with
floor ``min(min_share, 1/P)``; a platform that could not sell to the merchant that day
takes no part in the step (its weight's preference stays, and it is left out of the mean),
so a weight is not learned from days it had no slots for the merchant. The ad channels'
returns count the ad budget the day's split put on platforms that could sell; only where
none could is the whole ad allocation unspent (a yuan that came back as itself). The groups'
value share hill-climbs: every ``memory`` days it moves by ``value_step`` in its current
direction, which reverses when the groups return over the period fell below the previous
period's. ``learning_rate = 0`` freezes the mix, the split and the value share.

WeChat orders come from contacts diverted on earlier days, so the ``wechat`` return lags
the effort; the moving average credits today's WeChat profit to today's effort, which in a
steady state is the return of the contact stock that effort keeps up, and a memory of the
order of the contacts' repurchase interval smooths the start-up.

**Day 0** reproduces the static strategy as far as the budget allows: the floor on every
open channel, then group pushes at the scenario's ``pushes_per_day`` (``pushes_per_day ·
push_cost`` yuan), then, for a merchant who diverts, the cards that would fill its WeChat
accounts' daily adds (``adds_per_day · wechat_accounts · card_cost`` yuan), the rest on its
targeting's ad channel; the ad weights even over the platforms that sell ads; value share
the scenario's.
"""

from __future__ import annotations

import numpy as np

from ..platform.ad_market import sellable_today, static_split
from ..state.vocabulary import CHANNELS, GROUPS_CHANNEL, TARGETING, WECHAT_CHANNEL
from .ledger import ADS, GROUP, WECHAT

N_CHANNELS = len(CHANNELS)
N_ADS = len(TARGETING)
_TINY = 1e-6  # softmax share of a channel the static strategy leaves out (the floor still explores it)


def _softmax(h: np.ndarray) -> np.ndarray:
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


class ChannelLearner:
    """The learning merchants' mix, platform split, value shares and return averages."""

    def __init__(self, model):
        self.model = model
        sc, merchants = model.scenario, model.merchants
        cfg, g, w = sc.merchants, sc.commerce.groups, sc.commerce.wechat
        M, P = merchants.n, len(sc.platforms)
        self.budget = merchants.daily_budget
        self.floor = cfg.min_share
        # the channels a merchant may use: WeChat only if it is one who diverts
        # (merchants.diversion_share: the others never put a card in a parcel, as in the
        # static model), groups only where fan groups run; with commerce off
        # (commerce.enabled) neither runs: no parcel carries a card, no group pushes
        self.open = np.ones((M, N_CHANNELS), dtype=bool)
        self.open[:, WECHAT_CHANNEL] = merchants.diverts & sc.commerce.enabled
        self.open[:, GROUPS_CHANNEL] = g.enabled and sc.commerce.enabled
        # ads run on feed platforms only: a shelf platform (docs/ODD.md 7.12) sells no ad slots
        self.ad_platform = ad_platforms(sc)
        self.pfloor = min(cfg.min_share, 1.0 / int(self.ad_platform.sum()))
        # day 0: the static strategy as far as the budget allows (module docstring)
        free = self.budget * (1.0 - self.open.sum(axis=1) * self.floor)
        groups = np.minimum(g.pushes_per_day * g.push_cost if g.enabled else 0.0, free)
        wechat = np.minimum(np.where(merchants.diverts, w.adds_per_day * merchants.wechat_accounts * w.card_cost, 0.0),
                            free - groups)
        q = np.zeros((M, N_CHANNELS))
        q[:, GROUPS_CHANNEL], q[:, WECHAT_CHANNEL] = groups, wechat
        q[np.arange(M), merchants.targeting.astype(np.int64)] = free - groups - wechat
        total = q.sum(axis=1, keepdims=True)
        q = np.where(total > 0, q / np.where(total > 0, total, 1.0), 0.0)
        q[total[:, 0] <= 0, merchants.targeting[total[:, 0] <= 0].astype(np.int64)] = 1.0
        self.pref = np.log(np.maximum(q, _TINY))
        self.ppref = np.zeros((M, P))
        self.value_share = np.full(M, g.value_share)
        self._mixes()
        # return averages (bias-corrected EMAs) and the hill-climb's state
        self.ret_sum, self.ret_w = np.zeros((M, N_CHANNELS)), np.zeros((M, N_CHANNELS))
        self.pret_sum, self.pret_w = np.zeros((M, P)), np.zeros((M, P))
        self.value_dir = np.ones(M)
        self.value_last = np.full(M, -np.inf)
        self.trial_profit, self.trial_effort = np.zeros(M), np.zeros(M)
        # today's effort (what the measurements report; set by learn)
        self.effort_today = np.zeros((M, N_CHANNELS))
        self.platform_today = self.platform_share.copy()
        self.cards_today = np.zeros(M)  # cards put in parcels so far today
        self.cost_today = np.zeros((M, N_CHANNELS))  # yuan spent so far today, per channel
        self.ad_cost_today = np.zeros((M, P))  # ad spend so far today, per platform
        self.cards_last_day = np.zeros(M)  # cards of the last day observed

    def _mixes(self) -> None:
        n_open = self.open.sum(axis=1, keepdims=True)
        self.mix = self.floor * self.open + (1.0 - n_open * self.floor) * _softmax(np.where(self.open, self.pref, -np.inf))
        ok = self.ad_platform
        share = self.pfloor + (1.0 - int(ok.sum()) * self.pfloor) * _softmax(np.where(ok, self.ppref, -np.inf))
        self.platform_share = np.where(ok, share, 0.0)

    # ------------------------------------------------------------------ effort

    def effort(self) -> np.ndarray:
        """(M × channels) yuan allocated today (nothing for a merchant out of the market:
        exited, or a potential entrant still waiting, state/turnover.py)."""
        return (self.budget * self.model.merchants.active)[:, None] * self.mix

    def day_split(self) -> np.ndarray:
        """(M × P) today's split of the ad budget over the platforms: the learned weights
        ``platform_share`` renormalised over the platforms that can sell the merchant ads
        today (``ad_market.sellable_today``); the weights themselves where every platform
        that sells ads can (they sum to 1: the same bits as before any platform could
        not); 0 everywhere where none can (the ad budget is not spent)."""
        ok = sellable_today(self.model)
        share = self.platform_share
        mine = np.where(ok, share, 0.0)
        total = mine.sum(axis=1, keepdims=True)
        split = np.divide(mine, total, out=np.zeros_like(mine), where=total > 0)
        every = (ok == self.ad_platform).all(axis=1)
        return np.where(every[:, None], share, split)

    def ad_budget(self, p: int) -> np.ndarray:
        """(M × targetings) ad budget on platform ``p`` today (:meth:`day_split`)."""
        return self.effort()[:, :N_ADS] * self.day_split()[:, p, None]

    def push_plan(self, n_creators: int) -> tuple[np.ndarray, np.ndarray]:
        """Pushes a day and value share per creator (merchants' own accounts: learned;
        partner creators: the scenario's); books the merchants' push costs."""
        model = self.model
        g = model.scenario.commerce.groups
        merchants = model.merchants
        yuan = self.effort()[:, GROUPS_CHANNEL]
        pushes = np.minimum(g.max_pushes, yuan / g.push_cost) if g.push_cost > 0 else np.full(merchants.n, g.max_pushes)
        rate = np.full(n_creators, g.pushes_per_day)
        value = np.full(n_creators, g.value_share)
        rate[merchants.account], value[merchants.account] = pushes, self.value_share
        model.ledger.book_operating_cost(pushes * g.push_cost)
        self.cost_today[:, GROUPS_CHANNEL] += pushes * g.push_cost
        return rate, value

    def card_probability(self, buyers: np.ndarray) -> np.ndarray:
        """(M,) probability that one of today's ``buyers`` (per merchant) gets a WeChat card."""
        cost = self.model.scenario.commerce.wechat.card_cost
        if cost <= 0:  # cards are free: every buyer of a merchant who diverts gets one, none of the others
            return self.open[:, WECHAT_CHANNEL].astype(np.float64)
        cards = self.effort()[:, WECHAT_CHANNEL] / cost
        return np.minimum(1.0, cards / np.maximum(buyers, 1))

    def book_cards(self, cards: np.ndarray) -> None:
        """``cards[m]`` WeChat cards merchant m put in today's parcels."""
        self.cards_today = cards.astype(np.float64)
        cost = cards * self.model.scenario.commerce.wechat.card_cost
        self.model.ledger.book_operating_cost(cost)
        self.cost_today[:, WECHAT_CHANNEL] += cost

    def book_ad_spend(self, p: int, merchant: np.ndarray, targeting: np.ndarray, spend: np.ndarray) -> None:
        """Today's ad spend on platform ``p`` per bid (merchant, targeting)."""
        M = len(self.budget)
        by = np.bincount(merchant * N_ADS + targeting, weights=spend, minlength=M * N_ADS).reshape(M, N_ADS)
        self.cost_today[:, :N_ADS] += by
        self.ad_cost_today[:, p] += by.sum(axis=1)

    # ------------------------------------------------------------------ learning

    def attribute(self, orders) -> tuple[np.ndarray, np.ndarray]:
        """Today's gross profit per (merchant, channel) and of ad orders per (merchant, platform)."""
        model = self.model
        merchants, ledger = model.merchants, model.ledger
        M, P = merchants.n, self.ppref.shape[1]
        by_channel, by_platform = np.zeros((M, N_CHANNELS)), np.zeros((M, P))
        if len(orders) == 0:
            return by_channel, by_platform
        m = orders.merchant.astype(np.int64)
        source, targeting = orders.source.astype(np.int64), orders.targeting.astype(np.int64)
        profit = orders.price * ledger.margin[merchants.category[m]] - orders.commission - orders.creator_cut
        channel = np.full(len(m), -1, np.int64)
        ad = (source == ADS) & (targeting >= 0)
        channel[ad] = targeting[ad]
        channel[(source == GROUP) & (orders.seller == merchants.account[m])] = GROUPS_CHANNEL
        channel[source == WECHAT] = WECHAT_CHANNEL
        k = channel >= 0
        by_channel = np.bincount(m[k] * N_CHANNELS + channel[k], weights=profit[k],
                                 minlength=M * N_CHANNELS).reshape(M, N_CHANNELS).astype(np.float64)
        by_platform = np.bincount(m[ad] * P + orders.platform[ad].astype(np.int64), weights=profit[ad],
                                  minlength=M * P).reshape(M, P).astype(np.float64)  # (empty: bincount gives ints)
        return by_channel, by_platform

    def returns(self) -> np.ndarray:
        """(M × channels) average return per channel (NaN before the first observation)."""
        return np.divide(self.ret_sum, self.ret_w, out=np.full(self.ret_sum.shape, np.nan), where=self.ret_w > 0)

    def platform_returns(self) -> np.ndarray:
        return np.divide(self.pret_sum, self.pret_w, out=np.full(self.pret_sum.shape, np.nan), where=self.pret_w > 0)

    def observe(self, orders) -> None:
        """Today's returns into the averages, then one learning step (module docstring)."""
        sc = self.model.scenario.merchants
        effort = self.effort()
        # the ad budget each platform got today: only the platforms that could sell the
        # merchant ads are observed (the others had no allocation)
        split = self.day_split()
        ad_effort = effort[:, :N_ADS].sum(axis=1, keepdims=True) * split
        self.effort_today, self.platform_today = effort, split
        profit, ad_profit = self.attribute(orders)
        alpha = 1.0 / sc.memory
        _ema(self.ret_sum, self.ret_w, profit, self.cost_today, effort, alpha)
        _ema(self.pret_sum, self.pret_w, ad_profit, self.ad_cost_today, ad_effort, alpha)
        self.cards_last_day, self.cards_today = self.cards_today, np.zeros_like(self.cards_today)
        self.cost_last_day, self.cost_today = self.cost_today, np.zeros_like(self.cost_today)
        self.ad_cost_today = np.zeros_like(self.ad_cost_today)
        self.trial_profit += profit[:, GROUPS_CHANNEL]
        self.trial_effort += effort[:, GROUPS_CHANNEL]
        if sc.learning_rate <= 0 or not self.model.scenario.commerce.enabled:
            return  # (commerce off: nothing sells, so no return to learn from, ODD 7.7.6)
        self.pref = _step(self.pref, self.mix, np.where(self.open, self.returns(), np.nan), sc.learning_rate)
        # a platform that could not sell the merchant ads today stays out of the step (its
        # preference stays, and it is not in the mean): no slots for it is no news of its return
        sellable = sellable_today(self.model)
        self.ppref = _step(self.ppref, self.platform_share, np.where(sellable, self.platform_returns(), np.nan),
                           sc.learning_rate)
        self._mixes()
        period = max(1, int(round(sc.memory)))
        if sc.value_step > 0 and (self.model.day + 1) % period == 0:
            ret = np.divide(self.trial_profit, self.trial_effort, out=np.full(len(self.trial_profit), np.nan),
                            where=self.trial_effort > 0)
            seen = np.isfinite(ret)
            worse = seen & (ret < self.value_last)
            self.value_dir = np.where(worse, -self.value_dir, self.value_dir)
            self.value_share = np.where(seen, np.clip(self.value_share + sc.value_step * self.value_dir, 0.0, 1.0),
                                        self.value_share)
            self.value_last = np.where(seen, ret, self.value_last)
            self.trial_profit[:], self.trial_effort[:] = 0.0, 0.0


def _ema(total: np.ndarray, weight: np.ndarray, profit: np.ndarray, cost: np.ndarray, effort: np.ndarray,
         alpha: float) -> None:
    """Bias-corrected moving average of the return (profit + effort − cost) / effort, in
    place (a yuan of effort comes back as gross profit when spent, as itself when not; a
    yuan spent beyond the allocation, as WeChat cards drawn per buyer can be, is charged
    to the channel); cells without effort today are not observed (their average stays)."""
    seen = effort > 0
    r = np.divide(profit + effort - cost, effort, out=np.zeros_like(profit), where=seen)
    total[seen] = (1.0 - alpha) * total[seen] + alpha * r[seen]
    weight[seen] = (1.0 - alpha) * weight[seen] + alpha


def _step(pref: np.ndarray, share: np.ndarray, avg: np.ndarray, rate: float) -> np.ndarray:
    """One exponential-weights step: H_c += rate · (R_c − Σ_k share_k R_k); arms without an
    average yet stay put (they count as the mean)."""
    known = np.isfinite(avg)
    w = share * known
    mean = np.divide((w * np.where(known, avg, 0.0)).sum(axis=1), w.sum(axis=1),
                     out=np.zeros(len(pref)), where=w.sum(axis=1) > 0)
    pref = pref + rate * np.where(known, avg - mean[:, None], 0.0)
    return pref - pref.max(axis=1, keepdims=True)


def static_effort(model) -> tuple[np.ndarray, np.ndarray]:
    """Static merchants' effort in the learners' terms (for the measurements): the whole
    daily budget on the targeting's ad channel (their group pushes and WeChat cards cost
    nothing), and today's split of it over the platforms, even over those that can sell
    the merchant ads today (``ad_market.static_split``; 0 everywhere when none can); no
    effort for a merchant out of the market."""
    merchants = model.merchants
    effort = np.zeros((merchants.n, N_CHANNELS))
    effort[np.arange(merchants.n), merchants.targeting.astype(np.int64)] = merchants.daily_budget * merchants.active
    return effort, static_split(model)


def ad_platforms(scenario) -> np.ndarray:
    """(P,) mask of the platforms that sell ads: the feed platforms (a shelf platform,
    docs/ODD.md 7.12, has no ad slots; a learner's platform weights are over the others,
    and a day's ad budget over those of them that can sell the merchant ads that day,
    ``ad_market.can_sell``)."""
    return np.array(scenario.feed_platforms(), dtype=bool)


def learn(model) -> None:
    """The day phase: learning merchants observe today's channel returns and move their mix."""
    learner = model.commerce.learning
    if learner is not None:
        learner.observe(model.ledger.today_orders())
