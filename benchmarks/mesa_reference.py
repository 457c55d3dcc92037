"""Reference: a plain per-agent Mesa implementation of the feed loop.

The baseline the vectorized model is compared against (benchmarks/compare_reference.py).
Written the way a Mesa model usually is: each ``UserAgent.step()`` draws candidates from
the recent items, scores them (interest match, quality, age decay and the intimacy boost
``1 + beta * intimacy`` from the user's own dict of followed creators), samples its feed
with softmax exploration, draws its engagement with the same logistic form as
simulator/engagement.py and updates its intimacy. Per-agent work uses numpy where a Mesa
modeller would (the dot products); the loop over agents is Mesa's.
"""

from __future__ import annotations

import math
import time

import mesa
import numpy as np

SLOTS, CANDIDATES, TOPICS = 12, 64, 8
BETA, TEMPERATURE, AGE_DECAY = 1.0, 0.5, 0.25
INTERCEPT, W_MATCH, W_QUALITY, W_INTIMACY = -4.0, 3.0, 2.0, 2.0
OFFSETS = {"complete": 0.5, "like": -1.5, "comment": -3.0, "share": -3.5}
GAINS = {"view": 0.004, "complete": 0.01, "like": 0.02, "comment": 0.04, "share": 0.06}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class CreatorAgent(mesa.Agent):
    def __init__(self, model, topic, quality, rate):
        super().__init__(model)
        self.topic, self.quality, self.rate = topic, quality, rate

    def step(self):
        for _ in range(self.model.rng.poisson(self.rate)):
            self.model.publish(self)


class UserAgent(mesa.Agent):
    def __init__(self, model, interest, follows):
        super().__init__(model)
        self.interest = interest
        self.follows = follows  # creator unique_id -> intimacy

    def step(self):
        m, rng = self.model, self.model.rng
        if rng.random() > 0.7:  # daily active
            return
        n = len(m.item_creator)
        cand = rng.integers(max(0, n - m.window), n, CANDIDATES)
        match = m.item_topic[cand] @ self.interest
        scores = np.empty(CANDIDATES)
        for j, it in enumerate(cand):
            intim = self.follows.get(m.item_creator[it], 0.0)
            age = m.day - m.item_day[it]
            scores[j] = 3.0 * match[j] + m.item_quality[it] - AGE_DECAY * age + math.log1p(BETA * intim)
        p = np.exp((scores - scores.max()) / TEMPERATURE)
        picks = rng.choice(CANDIDATES, size=SLOTS, replace=False, p=p / p.sum())
        for it, mt in zip(cand[picks], match[picks]):
            creator = m.item_creator[it]
            intim = self.follows.get(creator, 0.0)
            z = INTERCEPT + W_MATCH * mt + W_QUALITY * m.item_quality[it] + W_INTIMACY * intim
            acts = {a: rng.random() < _sigmoid(z + off) for a, off in OFFSETS.items()}
            m.impressions += 1
            if creator in self.follows:
                gain = GAINS["view"] + sum(GAINS[a] for a, hit in acts.items() if hit)
                self.follows[creator] = 1.0 - (1.0 - intim) * math.exp(-gain)
            elif (acts["complete"] or acts["like"]) and rng.random() < _sigmoid(z - 3.5):
                self.follows[creator] = 0.1
        for c in self.follows:
            self.follows[c] *= 0.99


class ReferenceModel(mesa.Model):
    def __init__(self, users: int, creators: int, seed: int = 1):
        super().__init__(seed=seed)
        rng = self.rng
        self.day, self.window, self.impressions = 0, 0, 0
        self.item_creator, self.item_day, self.item_quality, topics = [], [], [], []
        self._topics = topics
        self.item_topic = np.zeros((0, TOPICS))
        for _ in range(creators):
            t = rng.dirichlet(np.full(TOPICS, 0.3))
            CreatorAgent(self, t / np.linalg.norm(t), float(_sigmoid(rng.normal())), float(rng.lognormal(-0.8, 0.8)))
        creator_ids = [a.unique_id for a in self.agents_by_type[CreatorAgent]]
        for _ in range(users):
            t = rng.dirichlet(np.full(TOPICS, 0.3))
            follows = {int(c): float(rng.beta(1.2, 6.0)) for c in rng.choice(creator_ids, 8)}
            UserAgent(self, t / np.linalg.norm(t), follows)
        for _ in range(3):  # a backlog of content, as the full model's warm-up
            self.agents_by_type[CreatorAgent].do("step")
        self._refresh()

    def publish(self, creator):
        self.item_creator.append(creator.unique_id)
        self.item_day.append(self.day)
        self.item_quality.append(float(_sigmoid(self.rng.normal(0, 0.5))))
        self._topics.append(creator.topic)

    def _refresh(self):
        self.item_topic = np.array(self._topics)
        self.window = max(1, sum(1 for d in self.item_day if d > self.day - 14))

    def step(self):
        self.agents_by_type[CreatorAgent].do("step")
        self._refresh()
        self.agents_by_type[UserAgent].shuffle_do("step")
        self.day += 1


def run_reference(users: int, creators: int, steps: int, seed: int = 1) -> tuple[int, float]:
    """Run the reference model; returns (impressions, seconds of the run phase)."""
    model = ReferenceModel(users, creators, seed)
    t0 = time.perf_counter()
    for _ in range(steps):
        model.step()
    return model.impressions, time.perf_counter() - t0
