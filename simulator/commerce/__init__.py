"""Commerce and the private channels: purchases, tips, fan groups, DMs, WeChat, money.

Where an order comes from decides its *GMV domain* (``vocabulary.GMV_DOMAINS``):

* ``public`` / ``commercial`` / ``private_platform``: a purchase on an engaged feed
  impression of a product item, in the impression's domain (:mod:`.feed_sales`). Fan-group
  pushes (:mod:`.groups`) and homepage visits / DMs (:mod:`.visits`) are
  ``private_platform`` too; they run on the selling account's home platform and reach
  only its fans who use that platform.
* ``private_wechat``: a purchase from a WeChat push, after the merchant diverted the
  buyer (:mod:`.wechat`).
* on a shelf platform (Taobao-like, :mod:`.shelf`): a search is ``public``, an SMS recall
  ``private_platform``, the leak of a recalled user to another shop ``public``.

Every purchase goes through one purchase model (:mod:`.purchase`) and every yuan through
the ledger (:mod:`.ledger`). With ``merchants.learning`` merchants split a marketing budget
over ads, group pushes and WeChat cards and learn the split (:mod:`.learning`). All phases work on whole arrays; there is no loop over
users, edges or orders.
"""

from __future__ import annotations

import numpy as np

from ..feeds import numpy_kernels
from .groups import FanGroups
from .learning import ChannelLearner
from .purchase import CustomerBook, PurchaseModel
from .shelf import Shelves
from .visits import visit_homepages
from .wechat import WeChatContacts, divert_buyers, push_to_contacts


class Commerce:
    """The commerce state of a model (customer book, purchase model, fan groups, WeChat
    contacts) and its private-channel phase."""

    def __init__(self, model):
        self.model = model
        merchants = model.merchants
        self.book = CustomerBook(merchants.n)
        self.purchase = PurchaseModel(model.scenario, merchants, self.book)
        self.groups = FanGroups(model)
        self.wechat = WeChatContacts(merchants.n)
        # merchants who learn their channel mix (merchants.learning), else None: the static strategy
        self.learning = ChannelLearner(model) if model.scenario.merchants.learning and merchants.n else None
        # (merchants × platforms) the platforms that can sell each merchant ads today, fixed as
        # the day's feeds start (platform/ad_market.py open_ad_day); None before the first day
        self.ad_sellable = None
        # shelf platforms (kind = "shelf", docs/ODD.md 7.12), else None: nothing is drawn
        has_shelf = not all(model.scenario.feed_platforms())
        self.shelves = Shelves(model) if has_shelf else None

    def run_private_channels(self) -> np.ndarray:
        """Homepage visits and DMs, fan groups, WeChat pushes, diversion (in this order).
        Returns the mask of follow edges whose users unfollow out of annoyance."""
        model = self.model
        unfollow = np.zeros(model.follows.n_edges, dtype=bool)
        if not model.scenario.commerce.enabled or model.merchants.n == 0:
            return unfollow
        selling = self.selling_edges()
        visit_homepages(model, selling)
        if model.scenario.commerce.groups.enabled:
            self.groups.run_day(selling, unfollow)
        push_to_contacts(model)
        divert_buyers(model)
        self.book.settle()  # the day's last orders are placed: the book in key order again (CustomerBook)
        return unfollow

    def selling_edges(self) -> np.ndarray:
        """Follow edges to active accounts that sell and are not banned on their home platform,
        from users of that platform: the private channels (homepage visits and DMs, fan
        groups) run on the account's home platform, so a fan who does not use it (the
        follow graph is shared by the platforms) neither visits nor joins there."""
        model, creators, follows = self.model, self.model.creators, self.model.follows
        # active accounts only: an exited creator's, or an exited or waiting merchant's (whose
        # partners no longer sell for it: state/turnover.py), run no private channel
        ok = (creators.seller >= 0) & creators.active
        own = creators.merchant >= 0
        ok[own] &= ~model.merchants.banned[creators.home[own], creators.merchant[own]]
        if numpy_kernels.compiled(follows.n_edges):
            selling_edges_in_rows = numpy_kernels.compiled_kernels().selling_edges_in_rows

            # one compiled pass over the graph's rows (~0.1 s of gathers of every edge at 1 M users in
            # numpy): each selling creator's home platform as a bit, matched with the row's user's platforms
            bits = np.where(ok, np.left_shift(np.uint64(1), creators.home.astype(np.uint64)), np.uint64(0))
            return selling_edges_in_rows(follows.indptr, follows.creator, bits, model.users.uses)
        return numpy_kernels.selling_edges(follows.src, follows.creator, ok, creators.home, model.users.uses)
