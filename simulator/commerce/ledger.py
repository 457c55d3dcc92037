"""The ledger: the one writer of money.

Everything that costs or earns money is booked here and everything else asks it:

* **ad sales** (:meth:`Ledger.book_ad_sales`): merchants' spend on the ad slots a
  platform sold them today = the platform's ad revenue;
* **orders** (:meth:`Ledger.book_orders`): the buyer pays the price; the platform takes
  its commission (the intro rate for a new merchant during its first ``intro_days`` days
  from its entry day, day 0 for the initial merchants, else the category's rate; 0 on WeChat); a partner creator
  takes ``creator_share``; the merchant keeps the rest, of which ``1 − margin`` is the
  cost of goods;
* **tips** (:meth:`Ledger.book_tips`): the creator gets the tip minus the platform's ``tip_cut``;
* **operating costs** (:meth:`Ledger.book_operating_cost`): what merchants who learn their
  channel mix (``merchants.learning``) spend on group pushes and WeChat cards, and what
  any merchant spends on recall SMS on a shelf platform (``today["operating_cost"]``, per
  merchant).

Orders are attributed to a GMV domain (``vocabulary.GMV_DOMAINS``) and an order source
(``ORDER_SOURCES``: the feed's slot sources, fan groups, homepage visits / DMs, WeChat, and
a shelf platform's searches and SMS recalls).

Customer-acquisition cost (CAC) comes in two kinds (:meth:`Ledger.cac`): **ad-attributed**
(``cac_ad``: ad spend / new buyers whose first order with the merchant came from an ad
impression, order source ``ads``) and **blended** (``cac_blended``: ad spend / all new
buyers, whatever brought them).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from ..feeds import numpy_kernels
from ..state.arrays import grow_axis
from ..state.vocabulary import BUYER_TIERS, DOMAINS, GMV_DOMAINS, SOURCES

ORDER_SOURCES = SOURCES + ("group", "visit", "wechat", "search", "recall")
GROUP, VISIT, WECHAT = (ORDER_SOURCES.index(s) for s in ("group", "visit", "wechat"))
SEARCH, RECALL = ORDER_SOURCES.index("search"), ORDER_SOURCES.index("recall")  # shelf platforms (commerce/shelf.py)
ADS = ORDER_SOURCES.index("ads")
PUBLIC_G, COMMERCIAL_G, PRIVATE_PLATFORM, PRIVATE_WECHAT = range(len(GMV_DOMAINS))


@dataclass
class Orders:
    """A batch of orders, one row each."""

    platform: np.ndarray  # int64: the platform it is attributed to (WeChat: where the contact came from)
    merchant: np.ndarray  # int64
    seller: np.ndarray  # int64: creator row whose item, group or homepage sold it
    user: np.ndarray  # int64
    price: np.ndarray  # float64
    domain: np.ndarray  # int64: index into GMV_DOMAINS
    source: np.ndarray  # int64: index into ORDER_SOURCES
    new_buyer: np.ndarray  # bool: the buyer's first order from this merchant
    buyer_tier: np.ndarray  # int64: index into BUYER_TIERS (fan tier with the seller at the time)
    rate: np.ndarray  # float64: commission rate applied
    commission: np.ndarray  # float64
    creator_cut: np.ndarray  # float64
    targeting: np.ndarray  # int64: the targeting of the ad slot the order came from (vocabulary.TARGETING), else -1

    @staticmethod
    def concat(parts: list["Orders"]) -> "Orders":
        names = [f.name for f in fields(Orders)]
        if not parts:
            return Orders(**{n: np.zeros(0) for n in names})
        return Orders(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})

    def __len__(self) -> int:
        return len(self.user)


class Ledger:
    """Money, cumulative (per merchant, creator and platform) and today's (per platform)."""

    def __init__(self, scenario, merchants, n_creators: int):
        self.merchants = merchants  # who the merchants are: category, account, new at day 0
        cats = scenario.commerce.categories.ordered()
        self.price = np.array([c.price for c in cats])
        self.margin = np.array([c.margin for c in cats])
        self.creator_share = scenario.commerce.creator_share
        platforms = list(scenario.platforms.values())
        self.rates = np.array([pc.commission.rates() for pc in platforms])  # (platforms × categories)
        self.intro = np.array([pc.commission.intro for pc in platforms])
        self.intro_days = np.array([pc.commission.intro_days for pc in platforms])
        self.tip_cut = np.array([pc.tip_cut for pc in platforms])
        P, M, C = len(platforms), merchants.n, n_creators
        self.n_platforms = P
        # per merchant
        self.ad_spend = np.zeros((P, M))
        self.ad_impressions = np.zeros((P, M), dtype=np.int64)
        self.gmv = np.zeros((M, len(GMV_DOMAINS)))
        self.orders = np.zeros(M, dtype=np.int64)
        self.new_buyers = np.zeros(M, dtype=np.int64)
        self.new_buyers_ad = np.zeros(M, dtype=np.int64)  # new buyers whose first order came from an ad
        self.commission_paid = np.zeros(M)
        self.creator_paid = np.zeros(M)  # sales shares paid to partner creators
        self.cost_of_goods = np.zeros(M)
        self.operating_cost = np.zeros(M)  # learning merchants' pushes and cards, any merchant's recall SMS
        # per creator
        self.creator_gmv = np.zeros((C, len(GMV_DOMAINS)))
        self.creator_sales_income = np.zeros(C)
        self.creator_tips = np.zeros(C)
        self.creator_purchases_by_tier = np.zeros((C, len(BUYER_TIERS)), np.int64)
        # per platform
        self.ad_revenue = np.zeros(P)
        self.gmv_by_source = np.zeros((P, len(ORDER_SOURCES)))
        # per day, for acquisition cost over time: (days × platforms × merchants)
        self.spend_by_day: list[np.ndarray] = []
        self.new_buyers_by_day: list[np.ndarray] = []
        self.new_buyers_ad_by_day: list[np.ndarray] = []
        self.begin_day()

    def set_commission(self, platform: int, schedule) -> None:
        """From now on, orders on ``platform`` pay ``schedule``'s rates (a platform that
        adapts its commission: :meth:`simulator.agents.Platform.reconfigure`)."""
        self.rates[platform] = schedule.rates()
        self.intro[platform] = schedule.intro
        self.intro_days[platform] = schedule.intro_days

    def begin_day(self) -> None:
        P, M = self.n_platforms, self.merchants.n
        self.today = {
            "gmv": np.zeros((P, len(GMV_DOMAINS))), "tips": np.zeros((P, len(DOMAINS))), "commission": np.zeros(P),
            "tip_revenue": np.zeros(P), "orders": np.zeros(P), "new_buyers": np.zeros(P), "new_buyers_ad": np.zeros(P),
            "ad_revenue": np.zeros(P), "ad_spend": np.zeros((P, M)), "new_by_merchant": np.zeros((P, M)),
            "new_ad_by_merchant": np.zeros((P, M)), "orders_by_tier": np.zeros((P, len(BUYER_TIERS))),
            "gmv_by_tier": np.zeros((P, len(BUYER_TIERS))),
            "operating_cost": np.zeros(M),  # (M,) yuan: pushes, cards (learning merchants) and recall SMS today
        }
        self.orders_today: list[Orders] = []

    def end_day(self) -> None:
        self.spend_by_day.append(self.today["ad_spend"].copy())
        self.new_buyers_by_day.append(self.today["new_by_merchant"].copy())
        self.new_buyers_ad_by_day.append(self.today["new_ad_by_merchant"].copy())

    CREATOR_ARRAYS = ("creator_gmv", "creator_sales_income", "creator_tips", "creator_purchases_by_tier")

    def grow_creators(self, n_new: int) -> None:
        """Zero rows for ``n_new`` new creators in every per-creator array."""
        for name in self.CREATOR_ARRAYS:
            setattr(self, name, grow_axis(getattr(self, name), 0, n_new, 0))

    def today_orders(self) -> Orders:
        return Orders.concat(self.orders_today)

    # ------------------------------------------------------------------ booking

    def book_ad_sales(self, platform: int, sold: np.ndarray, cpm: float) -> None:
        """``sold[m]`` ad impressions sold to merchant m on ``platform`` at ``cpm``."""
        spend = sold * cpm / 1000.0
        self.ad_impressions[platform] += sold
        self.ad_spend[platform] += spend
        self.today["ad_revenue"][platform] += float(spend.sum())
        self.ad_revenue[platform] += float(spend.sum())
        self.today["ad_spend"][platform] += spend

    def book_orders(self, *, platform, merchant, seller, user, domain, source, new_buyer, buyer_tier, day: int,
                    targeting=None) -> Orders:
        """Price, commission and creator cut of each order, and every tally (``targeting``:
        per order, the ad slot's targeting or -1; default all -1)."""
        merchants = self.merchants
        category = merchants.category[merchant]
        price = self.price[category]
        intro = merchants.new[merchant] & (day - merchants.entry_day[merchant] < self.intro_days[platform])  # from its entry
        rate = np.where(intro, self.intro[platform], self.rates[platform, category])
        rate = np.where(domain != PRIVATE_WECHAT, rate, 0.0)
        partner = seller != merchants.account[merchant]
        orders = Orders(platform=platform, merchant=merchant, seller=seller, user=user, price=price, domain=domain,
                        source=source, new_buyer=new_buyer, buyer_tier=buyer_tier, rate=rate, commission=rate * price,
                        creator_cut=np.where(partner, self.creator_share * price, 0.0),
                        targeting=np.full(len(user), -1, np.int64) if targeting is None else targeting)
        self.orders_today.append(orders)
        self._tally(orders, category)
        return orders

    def _tally(self, o: Orders, category: np.ndarray) -> None:
        """Add the batch to the tallies: each tally plus the ``np.bincount`` of its orders
        (``numpy_kernels.tally_orders``), compiled in one pass (``kernels.tally_orders``:
        the same floats)."""
        t = self.today
        tally_orders = numpy_kernels.kernel("tally_orders", numpy_kernels.compiled(len(o.user)))
        tally_orders(o.platform, o.merchant, o.seller, o.domain, o.source, o.buyer_tier, o.new_buyer, o.price,
                     o.commission, o.creator_cut, o.price * (1.0 - self.margin[category]), ADS, self.gmv, self.orders,
                     self.new_buyers, self.new_buyers_ad, self.commission_paid, self.creator_paid, self.cost_of_goods,
                     self.creator_gmv, self.creator_sales_income, self.creator_purchases_by_tier, t["gmv"],
                     t["commission"], t["orders"], t["new_buyers"], t["new_by_merchant"], t["new_buyers_ad"],
                     t["new_ad_by_merchant"], t["orders_by_tier"], t["gmv_by_tier"], self.gmv_by_source)

    def book_operating_cost(self, cost: np.ndarray) -> None:
        """``cost[m]`` yuan merchant m spent today running its private channels (group
        pushes and WeChat cards, paid by merchants who learn their channel mix; recall SMS
        on a shelf platform, paid by any merchant)."""
        self.operating_cost += cost
        self.today["operating_cost"] += cost

    def merchant_costs(self) -> np.ndarray:
        """Each merchant's costs so far besides the goods: ad spend, commission, partner
        creators' cut, operating costs."""
        return self.ad_spend.sum(axis=0) + self.commission_paid + self.creator_paid + self.operating_cost

    def merchant_profit(self) -> np.ndarray:
        """Each merchant's profit so far: GMV − cost of goods − :meth:`merchant_costs`."""
        return self.gmv.sum(axis=1) - self.cost_of_goods - self.merchant_costs()

    def book_tips(self, platform: int, creator: np.ndarray, domain: np.ndarray, amount: np.ndarray) -> None:
        """Tips on ``platform`` to ``creator`` from impressions in ``domain``."""
        cut = self.tip_cut[platform]
        self.creator_tips += np.bincount(creator, weights=amount * (1 - cut), minlength=len(self.creator_tips))
        self.today["tips"][platform] += np.bincount(domain, weights=amount, minlength=len(DOMAINS))
        self.today["tip_revenue"][platform] += amount.sum() * cut

    # ------------------------------------------------------------------ readings

    def readings(self, platform: int) -> dict[str, float]:
        """Today's money on ``platform``."""
        t = self.today
        out = {f"gmv_{d}": float(t["gmv"][platform, j]) for j, d in enumerate(GMV_DOMAINS)}
        out.update({f"tips_{d}": float(t["tips"][platform, j]) for j, d in enumerate(DOMAINS)})
        out.update(commission_revenue=float(t["commission"][platform]), tip_revenue=float(t["tip_revenue"][platform]),
                   orders=float(t["orders"][platform]), new_buyers=float(t["new_buyers"][platform]),
                   new_buyers_ad=float(t["new_buyers_ad"][platform]))
        out.update({f"orders_{b}": float(t["orders_by_tier"][platform, j]) for j, b in enumerate(BUYER_TIERS)})
        out.update({f"gmv_buyer_{b}": float(t["gmv_by_tier"][platform, j]) for j, b in enumerate(BUYER_TIERS)})
        return out

    def cac(self, first: bool, platform: int | None = None, ad_only: bool = False, window: int = 30) -> float:
        """Ad spend / new buyers over the first (or last) ``window`` days of the run; with
        ``ad_only``, new buyers whose first order came from an ad (``cac_ad``), else all
        (``cac_blended``). NaN when the run is shorter than ``window`` days (then the
        window cannot be measured) or nobody was acquired in it."""
        span = self._window(first, window)
        if span is None:
            return float("nan")
        spend = np.stack(self.spend_by_day)  # (days, P, M)
        if platform is not None:
            spend = spend[:, platform]
        n = self.new_buyers_in(first, platform, ad_only, window)
        return float(spend[span].sum() / n) if n > 0 else float("nan")

    def new_buyers_in(self, first: bool, platform: int | None = None, ad_only: bool = False,
                      window: int = 30) -> float:
        """New buyers over the first (or last) ``window`` days of the run (with ``ad_only``,
        those whose first order came from an ad): the denominator of :meth:`cac`, which
        tells a rising CAC from fewer buyers apart from a rising spend. NaN when the run is
        shorter than ``window`` days."""
        span = self._window(first, window)
        if span is None:
            return float("nan")
        new = np.stack(self.new_buyers_ad_by_day if ad_only else self.new_buyers_by_day)  # (days, P, M)
        if platform is not None:
            new = new[:, platform]
        return float(new[span].sum())

    def _window(self, first: bool, window: int) -> slice | None:
        """The days of the run's first (last) ``window`` days, None in a shorter run."""
        days = len(self.spend_by_day)
        if days < window:
            return None
        return slice(0, window) if first else slice(days - window, days)
