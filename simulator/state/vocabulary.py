"""The model's names, in one place: impression domains and slot sources, actions, fan
tiers (of fans and of buyers), GMV domains, ad targeting, merchants' channels, merchant categories, the
window of the 30-day summary metrics."""

DOMAINS = ("public", "commercial", "private")
PUBLIC, COMMERCIAL, PRIVATE = 0, 1, 2
SOURCES = ("recommend", "cold_start", "follow", "same_city", "ads")
RECOMMEND, COLD_START, FOLLOW, SAME_CITY, ADS = range(5)
ACTIONS = ("complete", "like", "comment", "share", "follow")
TIERS = ("potential", "passerby", "liking", "true")
TARGETING = ("broad", "fans", "lookalike")
# merchants' marketing channels when they learn their mix (commerce/learning.py): one ad channel
# per targeting, in TARGETING's order, then the fan groups and WeChat
CHANNELS = tuple(f"ads_{t}" for t in TARGETING) + ("groups", "wechat")
GROUPS_CHANNEL, WECHAT_CHANNEL = len(TARGETING), len(TARGETING) + 1
GMV_DOMAINS = ("public", "commercial", "private_platform", "private_wechat")
CATEGORIES = ("fmcg", "local_life", "online_high_ticket", "offline_long_decision")
BUYER_TIERS = ("non_fan",) + TIERS  # an order's buyer: not a follower of the seller, or a fan of this tier
WINDOW_DAYS = 30  # the window of the *_30d summary metrics (NaN in runs too short to measure it)
