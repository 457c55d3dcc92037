"""The world a model runs on: its random streams, populations, graphs and items.

:func:`build_world` draws everything a :class:`~simulator.model.TrafficModel` starts
from, in a fixed order from one ``SeedSequence``, so the same scenario and seed give the
same world bit for bit:

* one random stream per concern (population, graphs, publishing, one per platform's
  feed, reactions, relationships, commerce, one per platform's session lengths), so a
  change in one submodel does not shift the draws of another;
* users, creators and merchants (:mod:`simulator.state.population`), and the potential
  merchants with their dormant accounts (``merchants.entrant_pool``,
  :mod:`simulator.state.turnover`, from a stream of their own);
* the user–user social graph and the initial follow graph (:mod:`simulator.state.graphs`),
  or a follow graph read from ``graph.follow_graph_file``;
* an empty item store; the model then publishes ``creators.warmup_days`` days of items
  before day 0 so that feeds start with a backlog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import Scenario
from .state.graphs import FollowGraph, SocialGraph, build_social_graph, initial_follows, load_follow_file
from .state.items import ItemStore
from .state.population import CreatorState, MerchantState, UserState, build_population
from .state.turnover import ENTRY_SPAWN_KEY, add_merchant_pool


# Streams added after the first seven do not come from ``seeds.spawn(7)`` (spawning more
# children there would not move the seven, but a fixed key keeps each added concern's
# stream its own whatever order they are added in): the session streams, one per
# platform, are children of the scenario's seed with this spawn key ("act" in ASCII).
ACTIVITY_KEY = 0x616374


def session_seeds(seed: int, n_platforms: int) -> list[np.random.SeedSequence]:
    """The seeds of the platforms' session streams: the first platform's is the child of
    ``seed`` with spawn key (ACTIVITY_KEY,), the one stream every platform drew from
    until 2026-11-29 (so one-platform scenarios, e.g. douyin_year.toml, kept their
    results), platform p ≥ 1's the child with spawn key (ACTIVITY_KEY, p)."""
    return [np.random.SeedSequence(seed, spawn_key=(ACTIVITY_KEY,) if p == 0 else (ACTIVITY_KEY, p))
            for p in range(n_platforms)]


@dataclass(frozen=True)
class RandomStreams:
    """One generator per concern, spawned from the scenario's seed."""

    publish: np.random.Generator
    feeds: tuple[np.random.Generator, ...]  # one per platform, in scenario order
    react: np.random.Generator
    relationship: np.random.Generator
    commerce: np.random.Generator
    # one per platform, in scenario order: the rounding of its users' session lengths where
    # they are not the fixed feed_slots (audience/activity.py session_slots, responsive
    # activity or attention's session scale); keyed apart, see session_seeds. Per platform
    # (until 2026-11-29 one stream served every platform) so that a platform's draws do
    # not depend on the order the platforms' feeds are built in, nor on two feeds being
    # built at once in threads (TrafficModel.build_feeds)
    sessions: tuple[np.random.Generator, ...] = ()
    learning: np.random.Generator | None = None  # merchants who learn their channel mix (WeChat cards); its own seed, see build_world
    entry: np.random.Generator | None = None  # creators' and merchants' entry (state/turnover.py)


@dataclass(frozen=True)
class World:
    streams: RandomStreams
    users: UserState
    creators: CreatorState
    merchants: MerchantState
    social: SocialGraph
    follows: FollowGraph
    items: ItemStore


def build_world(scenario: Scenario) -> World:
    """Everything the model starts from, drawn from ``scenario.seed``."""
    seeds = np.random.SeedSequence(scenario.seed)
    (s_population, s_graph, s_publish, s_feed, s_react, s_relationship, s_commerce) = seeds.spawn(7)
    s_pool, s_entry = np.random.SeedSequence(scenario.seed, spawn_key=(ENTRY_SPAWN_KEY,)).spawn(2)
    streams = RandomStreams(
        publish=np.random.default_rng(s_publish),
        feeds=tuple(np.random.default_rng(s) for s in s_feed.spawn(len(scenario.platforms))),
        react=np.random.default_rng(s_react),
        relationship=np.random.default_rng(s_relationship),
        commerce=np.random.default_rng(s_commerce),
        sessions=tuple(np.random.default_rng(s) for s in session_seeds(scenario.seed, len(scenario.platforms))),
        # entry and exit: a stream of its own, derived apart from the seven above so that
        # their draws (and the static model's results) do not change
        entry=np.random.default_rng(s_entry),
        # a child of the scenario's seed outside the spawned range (key (14, 3), issue #14 item 3),
        # so the streams above keep their seeds
        learning=np.random.default_rng(np.random.SeedSequence(scenario.seed, spawn_key=(14, 3))),
    )
    users, creators, merchants = build_population(scenario, np.random.default_rng(s_population))
    n_initial = creators.n
    if scenario.merchants.entrant_pool:
        add_merchant_pool(scenario, creators, merchants, np.random.default_rng(s_pool))
    rng_graph = np.random.default_rng(s_graph)
    social = build_social_graph(scenario.graph, users.city, rng_graph)
    follows = _initial_follow_graph(scenario, users, creators, n_initial, social, rng_graph)
    items = ItemStore(len(scenario.platforms), scenario.population.topics)
    return World(streams, users, creators, merchants, social, follows, items)


def read_follow_file(scenario: Scenario):
    """``graph.follow_graph_file``'s edges (user, creator, intimacy or None), checked
    against the scenario's users and initial creators (ScenarioError for what the run
    cannot take)."""
    return load_follow_file(scenario.graph.follow_graph_file, scenario.population.users, scenario.population.creators)


def _initial_follow_graph(scenario: Scenario, users: UserState, creators: CreatorState, n_initial: int,
                          social: SocialGraph, rng: np.random.Generator) -> FollowGraph:
    """Follows of the ``n_initial`` initial creators (the potential merchants' dormant
    accounts after them start with none); the graph has room for every creator row."""
    cfg = scenario.graph
    n_users, n_creators = users.n, n_initial
    thresholds = scenario.relationship.tier_thresholds
    if cfg.follow_graph_file:
        user, creator, intimacy = read_follow_file(scenario)
        if intimacy is None:
            intimacy = rng.beta(cfg.initial_intimacy_alpha, cfg.initial_intimacy_beta, len(user))
        return FollowGraph(n_users, creators.n, user, creator, intimacy, thresholds)
    segment_match = creators.topic[:n_initial].T.copy()  # (segments × creators): segment s = topic s
    user, creator = initial_follows(cfg, segment_match, users.segment.astype(np.int64), social, rng)
    intimacy = rng.beta(cfg.initial_intimacy_alpha, cfg.initial_intimacy_beta, len(user))
    return FollowGraph(n_users, creators.n, user, creator, intimacy, thresholds)
