"""The platform's own mechanisms: the ad market (commercial traffic), Gini steering
(adaptation) and moderation (bans). The recommender and its traffic pools are in
:mod:`simulator.feeds`."""
