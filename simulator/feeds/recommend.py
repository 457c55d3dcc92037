"""The recommendation feed (推荐, public domain): the slots left after the others.

The recommender is two-stage. *Retrieval*: for a block of users with similar interests,
draw ``candidates`` items with probability ∝ exp(policy prior + affinity × match to the
block's interests); the algorithmic prior carries the traffic pool (:mod:`.pools`), age
decay, the exposure cap (on recommendation impressions) and the Gini steering.
*Ranking*: the policy scores every (user, candidate) pair, Gumbel noise of scale
``temperature`` is added, and each user keeps the top k
(Gumbel-top-k = sampling without replacement from softmax(score / temperature)). No
Python loop runs over users: the loop is over blocks of ``block_users`` users.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

from .._pools import KeptPool
from ..state.arrays import expand_rows, indptr_from_rows, unique_sorted
from ..state.vocabulary import RECOMMEND
from .impressions import INDEX, Impressions
from . import numpy_kernels
from .numpy_kernels import gumbel_table
from .policies import Block, prior_context


def recommend_slots(model, platform, active, free, rng, feed=None) -> list[Impressions]:
    """The recommendation feed (public domain): retrieval per block, ranking, Gumbel-top-k.

    Blocks draw their randomness from generators seeded by (today's seed, block number);
    the Gumbel-top-k selection reads counter-based noise, so results do not depend on the
    number of threads: on large days it is a compiled kernel (``kernels.score_top_k``,
    ``gumbel_top_k``) that runs rows in parallel, on small days (under
    ``numpy_kernels.COMPILED_USERS`` active users) its numpy form. Blocks run in order:
    with an exposure cap each sees what is left of the items' recommendation allowance.
    With ``feed`` (an ``impressions.FeedColumns``) each block's impressions are added to
    it as the block is ranked, and the list returned is empty."""
    cfg = platform.cfg
    lo = model.items.first_since(model.day - cfg.max_item_age + 1)
    if lo >= model.items.n or free.max(initial=0) <= 0:
        return []
    day = RecommendDay(model, platform, lo, rng)
    if day.m_target == 0:
        return []
    # blocks small enough that, over the day, the items that really compete for
    # traffic are drawn ``candidate_coverage`` times each on average
    n_blocks = max(-(-len(active) // cfg.block_users), int(np.ceil(cfg.candidate_coverage * day.wanting / day.m_target)))
    block_size = max(1, -(-len(active) // n_blocks))
    base = int(rng.integers(2**62))
    day.compiled = numpy_kernels.compiled(len(active), numpy_kernels.COMPILED_USERS)
    if not day.compiled:  # the numpy form finds a block's follow edges by their users' rows in it
        day.row_in_block = np.full(model.users.n, -1, dtype=np.int64)
        day.row_in_block[active] = np.arange(len(active)) % block_size
    starts = range(0, len(active), block_size)
    threads = rank_threads(len(active)) if feed is not None and day.compiled and day.left is None else 1
    if threads > 1 and len(starts) > 1:
        _rank_in_threads(day, active, free, base, block_size, feed, threads)
        return []
    if feed is not None:
        for j, b0 in enumerate(starts):
            imp = day.rank_block(active[b0 : b0 + block_size], free[b0 : b0 + block_size],
                                 np.random.default_rng([base, j]), feed)
            if imp is not None:  # (a compiled block writes its picks into the feed itself)
                feed.add(imp)
        return []
    return [imp for j, b0 in enumerate(starts)
            if (imp := day.rank_block(active[b0 : b0 + block_size], free[b0 : b0 + block_size],
                                      np.random.default_rng([base, j]))) is not None]


def rank_threads(n_active: int) -> int:
    """How many threads rank one platform's blocks today (:func:`_rank_in_threads`): on
    days of at least ``numpy_kernels.RANK_THREADS_FROM`` active users (in a small run on
    the kernels compiled ahead, ``numpy_kernels.AHEAD_RUN``, which release the GIL:
    ``AHEAD_RANK_THREADS_FROM``), as many as the feeds may use (``slots.thread_limit``)
    where threads may run the kernels at once (``slots.threads_may_share_kernels``); else
    1. The caller also keeps to 1 thread where the blocks depend on each other (an
    exposure cap) or the numpy form ranks."""
    from . import slots

    nk = numpy_kernels
    if n_active < nk.threads_from(nk.RANK_THREADS_FROM, nk.AHEAD_RANK_THREADS_FROM):
        return 1
    limit = slots.thread_limit()
    return limit if limit > 1 and slots.threads_may_share_kernels() else 1


# the ranking's threads, kept across days (idle between them)
_RANK_POOL = KeptPool("ranking")


def _block_order(n_blocks: int):
    """The order the ranking's threads take a day's blocks in (each thread takes the next
    one left): block number order. (A test takes them in reverse.)"""
    return iter(range(n_blocks))


def _rank_in_threads(day: "RecommendDay", active, free, base: int, block_size: int, feed, threads: int) -> None:
    """The day's blocks ranked by ``threads`` threads, each taking the next block left
    (blocks differ in work: a split into equal runs of blocks kept one thread waiting for
    the other), their picks added to ``feed`` in block order: the rows the blocks ranked
    one after the other give (issue #17: one platform's ranking ran on one core while the
    other platform's feed had finished). Without an exposure cap the blocks share nothing
    they write: each draws from its own generator (``[base, j]``) and the day's
    counter-based noise, and each thread has its own creator → column table (``col_of``,
    reset after each block). Each block writes into its own region of the day's columns,
    after the room the blocks before it may fill (every slot their users have left;
    ``FeedColumns.region``: no memory of its own), and its rows are then moved down after
    the blocks before it (none moved when every user got all their slots, the usual
    case). Each thread runs the kernels on one thread of numba's (the threads are the
    parallelism)."""
    starts = np.arange(0, len(active), block_size)
    n_blocks = len(starts)
    room = np.add.reduceat(np.maximum(free, 0), starts)  # a block writes at most its users' slots left
    feed.reserve(int(room.sum()))
    at = feed.n + np.cumsum(room) - room
    regions = [feed.region(int(at[j]), int(room[j])) for j in range(n_blocks)]
    order = _block_order(n_blocks)
    failed = threading.Event()  # a block raised (or Ctrl-C): the threads take no more blocks

    def run() -> None:
        numba = sys.modules.get("numba")
        before = numba.get_num_threads() if numba is not None else None
        if numba is not None:
            numba.set_num_threads(1)  # (the calling thread's setting)
        try:
            col_of = np.full(day.n_creators, -1, dtype=np.int64)
            while not failed.is_set() and (j := next(order, None)) is not None:  # (a C iterator: one block, one thread)
                b0 = int(starts[j])  # (a compiled block writes its picks into its region itself)
                day.rank_block(active[b0 : b0 + block_size], free[b0 : b0 + block_size],
                               np.random.default_rng([base, j]), regions[j], col_of=col_of)
        except BaseException:
            failed.set()
            raise
        finally:
            if numba is not None:
                numba.set_num_threads(before)

    pool = _RANK_POOL.get(threads - 1)
    helpers = [pool.submit(run) for _ in range(min(threads, n_blocks) - 1)]
    try:
        run()
    finally:
        outcomes = [f.exception() for f in helpers]  # (waits for each: no thread left writing)
    for exc in outcomes:  # (this thread's own error, if any, is raised above)
        if exc is not None:
            raise exc
    for j in range(n_blocks):
        feed.take_region(int(at[j]), regions[j])


class RecommendDay:
    """Today's recommendable items on one platform, prepared once for all blocks."""

    def __init__(self, model, platform, lo: int, rng: np.random.Generator):
        cfg, policy = platform.cfg, platform.policy
        self.cfg, self.policy, self.users, self.follows = cfg, policy, model.users, model.follows
        self.n_creators = model.creators.n
        items = model.items
        ctx = prior_context(model, platform, lo)
        prior = policy.item_prior(ctx)
        if ctx.blocked is not None:
            prior = np.where(ctx.blocked, -np.inf, prior)
        ok = np.isfinite(prior)
        self.pool = lo + np.flatnonzero(ok)
        self.pool32 = self.pool.astype(INDEX)  # the trace's item rows
        self.m_target = min(cfg.candidates, len(self.pool))
        self.prior = prior[ok]
        self.topic = items.topic.take(self.pool, axis=0)  # (take: the same rows as fancy indexing, quicker)
        self.quality = items.quality[self.pool]
        self.perf = ctx.perf[ok]
        self.age = ctx.age[ok]
        self.popularity = ctx.impressions[ok].astype(np.float32)
        self.engagements = ctx.engagements[ok].astype(np.float32)
        self.creator = items.creator[self.pool].astype(np.int64)
        left = policy.exposure_left(ctx)
        self.left = None if left is None else left[ok]  # (whole: int64, what the grants read too)
        # how many items really compete for traffic: the participation ratio of the
        # retrieval weights, (Σw)² / Σw² (= the item count when all weigh the same)
        w = np.exp(self.prior - self.prior.max()) if len(self.pool) else np.zeros(0)
        self.wanting = float(w.sum() ** 2 / max((w * w).sum(), 1e-300)) if len(w) else 0.0
        self.temp = np.float32(cfg.temperature)
        self.col_of = np.full(self.n_creators, -1, dtype=np.int64)  # a block's creator columns (reset after each)
        # a linear policy's per-candidate score, element by element: computed once for the
        # day's items and gathered by each block (the same float32 values as the block's own)
        self.item_score = policy.item_score(self._block(slice(None), None)) if policy.linear else None
        # whether a fan entry of zero intimacy has the boost +0.0 (T · log(1 + beta · 0) with T > 0: the
        # numpy form's table of boosts then takes every edge's without leaving those out first)
        self.zero_boost = policy.linear and policy.fan_score(np.zeros(1, np.float32)).view(np.int32)[0] == 0
        self.noise = gumbel_table(rng)
        # retrieval weights per interest segment, as CDFs for inverse-transform draws
        self.cdf = {}
        # (unique_sorted: np.unique's first call imports numpy.ma, ~8 ms of a run's first step)
        segments = unique_sorted(model.users.segment).tolist() if len(self.pool) else []
        if policy.targeted and segments:
            # every segment's row at once (segments × items): each entry the same float32
            # product, float64 sum and exp, each row the same maximum and sequential cumsum
            # as the segment's own
            logw = self.prior + cfg.candidate_affinity * self.topic.T.take(segments, axis=0)
            logw -= logw.max(axis=1, keepdims=True)
            np.exp(logw, out=logw)
            np.cumsum(logw, axis=1, out=logw)
            self.cdf = dict(zip(segments, logw))
        for s in segments if not policy.targeted else []:
            logw = self.prior + 0.0
            self.cdf[s] = np.cumsum(np.exp(logw - logw.max()))
        # the compiled retrieval's view of the CDFs: one table of rows and each segment's
        # row in it (untargeted: every segment's CDF is the same one, its first)
        if segments:
            self.cdf_table = logw if policy.targeted else self.cdf[segments[0]][None, :]
            self.cdf_row = np.zeros(segments[-1] + 1, dtype=np.int64)
            if policy.targeted:
                self.cdf_row[segments] = np.arange(len(segments))

    def rank_block(self, bu: np.ndarray, k_u: np.ndarray, rng: np.random.Generator, feed=None, col_of=None):
        # bu: the block's users; k_u: recommendation slots each still has
        """Candidates, scores and picks for one block of users (sorted user ids). On large
        days with ``feed`` (an ``impressions.FeedColumns``) the picks are written into it
        and None is returned; else the block's impressions. ``col_of``: the compiled
        retrieval's creator → column table (all -1; default the day's), a thread's own
        when blocks are ranked in threads."""
        kmax = int(k_u.max(initial=0))
        if kmax <= 0 or len(bu) == 0:
            return None
        users, follows, policy = self.users, self.follows, self.policy
        # retrieval: candidates split across the interest segments present in the block
        seg = users.segment.take(bu)  # users are numbered by segment, so a block's segments are runs
        bounds = np.flatnonzero(seg[1:] != seg[:-1]).tolist()
        starts, ends = [0] + [x + 1 for x in bounds], [x + 1 for x in bounds] + [len(seg)]
        seg_k = [max(1, int(round(self.m_target * (b - a) / len(bu)))) for a, b in zip(starts, ends)]  # draws a segment
        if self.compiled:
            # the draws, the candidates, their creator columns and the block's follow edges to
            # those creators in one compiled pass (kernels.block_candidates): the segments'
            # uniforms drawn at once (one rng.random call gives the same doubles in the same
            # order as one a segment), the same searches, the same candidates and columns
            ks = numpy_kernels.compiled_kernels()  # compiled ahead in a small run, else numba's
            cand, inv, by_creator, cand_ptr, e_ptr, e_col, e_edge, f_ptr, f_col, f_int = ks.block_candidates(
                self.cdf_table, self.cdf_row.take(seg.take(starts)), np.array(seg_k, dtype=np.int64),
                rng.random(sum(seg_k)), len(self.pool), self.creator, self.col_of if col_of is None else col_of,
                follows.indptr, follows.creator,
                follows.intimacy, bu)
        else:
            draws = []
            for a, k in zip(starts, seg_k):
                cw = self.cdf[int(seg[a])]
                draws.append(np.searchsorted(cw, rng.random(k) * cw[-1], side="right"))
            cand = np.concatenate(draws)
            cand = unique_sorted(np.minimum(cand, len(self.pool) - 1, out=cand))  # np.unique: a hash table first
            # the candidates' creators as columns; the day's creator → column table is set
            # for the block and reset after it
            ucre, inv = self._columns(cand)
        m = len(cand)
        kb = min(kmax, m)
        col_of = self.col_of
        match = users.interest.take(bu, axis=0) @ self.topic.take(cand, axis=0).T
        left = self.left
        # with a cap, look cap_lookahead places further down each list to replace capped picks
        kx = min(m, kb + (self.cfg.cap_lookahead if left is not None else 0))
        seed = int(rng.integers(2**63))
        # the cap's grants deny a pick only in a column whose allowance is below the block's
        # rows (a column is in a row's list at most once, so it is counted at most rows - 1
        # times before any of its picks): without such a column among the candidates every
        # ranked pick is granted, as without a cap
        granted = left is None or _all_granted(left[cand], len(bu))
        if self.compiled:  # the ranking and the picks in compiled passes (the block's follow edges found above)
            if policy.linear:  # score, cap and Gumbel-top-k in one compiled pass over the rows
                top = ks.score_top_k(match, policy.w_match, self.item_score[cand],
                                     np.zeros(m, bool) if left is None else left[cand] <= 0,
                                     f_ptr, f_col, policy.fan_score(f_int), cand_ptr, by_creator,
                                     # when every pick is granted a user takes the first k_u of their
                                     # list: rank only that far (else the cap's grants run over every
                                     # row's kx places)
                                     kx, k_u if granted else np.full(len(bu), kx), float(self.temp), seed,
                                     self.noise)
            else:
                e_row = np.repeat(np.arange(len(bu)), np.diff(e_ptr))
                top = self._rank(self._block(cand, match), e_row, e_col, e_edge, inv, cand, kx, seed)
            if feed is not None:  # the picks written straight into the day's columns (the same rows)
                return self._picks_into(feed, top, granted, k_u, e_ptr, e_col, e_edge, inv, bu, cand, match)
            valid = top >= 0
            if not granted:
                valid &= _within_cap(top, left[cand], k_u, True)
            user, item, edge, mt, cols = ks.block_picks(top, valid, k_u, e_ptr, e_col, e_edge, inv, bu,
                                                        self.pool32[cand], match)
        else:  # the numpy form (small days: no kernels to load on a short run), the same picks
            # the block's follow edges to the candidates' creators, by block row (the edges of
            # a CSR range run by user, and the block's rows follow its users' order)
            # a range of edges: those to the candidates' creators first (a gather of bytes), then
            # of those, the ones of users active today
            # (take and compress: numpy's fancy indexing by int32 indices or a boolean mask
            # gives the same values ~2-5× more slowly)
            es, ee = follows.indptr[bu[0]], follows.indptr[bu[-1] + 1]
            e_edge = np.flatnonzero((col_of >= 0).take(follows.creator[es:ee]))
            e_edge += es
            er = self.row_in_block.take(follows.src.take(e_edge))  # -1 for users not active today
            ok = er >= 0
            e_row, e_edge = er.compress(ok), e_edge.compress(ok)
            e_col = col_of.take(follows.creator.take(e_edge))
            col_of[ucre] = -1
            # (a linear policy's score reads the block's match only: no gathers of the rest)
            block = Block(match, None, None, None, None, None, None) if policy.linear else self._block(cand, match)
            top = self._rank(block, e_row, e_col, e_edge, inv, cand, kx, seed)
            valid = top >= 0
            if granted:  # a row's valid places are its first ones: its first k_u places
                keep = valid & (np.arange(top.shape[1]) < k_u[:, None])
            else:
                valid &= _within_cap(top, left[cand], k_u, False)
                keep = valid & (np.cumsum(valid, axis=1) <= k_u[:, None])
            # row by row, rank by rank (as the mask selects them); flat indices throughout,
            # several times quicker than numpy's 2-D nonzero and fancy indexing
            # (the flat indices' products and sums in place: the same integers, fewer fresh arrays)
            rows = np.flatnonzero(keep)
            cols = top.ravel().take(rows)
            rows //= top.shape[1]
            at = e_row * len(ucre)
            at += e_col
            edge_dense = np.full(len(bu) * len(ucre), -1, dtype=INDEX)  # (rows × creator columns)
            edge_dense[at] = e_edge
            user, item = bu.take(rows), self.pool32.take(cand.take(cols))
            at = rows * len(ucre)
            at += inv.take(cols)
            edge = edge_dense.take(at)
            np.multiply(rows, m, out=at)
            at += cols
            mt = match.ravel().take(at)
        if left is not None:
            left[cand] -= np.bincount(cols, minlength=m)
        return Impressions(user=user, item=item, source=np.full(len(user), RECOMMEND, np.int8), edge=edge, match=mt)

    def _picks_into(self, feed, top, granted, k_u, e_ptr, e_col, e_edge, inv, bu, cand, match) -> None:
        """A compiled block's picks (``kernels.block_picks``' rows) written into the day's
        columns by ``kernels.block_picks_into``, which tests ``top >= 0`` itself when every
        pick is granted and counts the picks of each column for the cap's allowance: no
        arrays of the block's own, no ``Impressions`` of them, no copy (issue #17,
        thirteenth pass)."""
        left = self.left
        valid = np.zeros((0, 0), dtype=bool) if granted else (top >= 0) & _within_cap(top, left[cand], k_u, True)
        counts = np.zeros(len(cand) if left is not None else 0, dtype=np.int64)
        cols = feed.reserve(int(np.maximum(k_u, 0).sum()))  # (at most k_u picks a row)
        block_picks_into = numpy_kernels.compiled_kernels().block_picks_into
        feed.n += block_picks_into(top, valid, k_u, e_ptr, e_col, e_edge, inv, bu, self.pool32[cand], match,
                                   RECOMMEND, cols["user"], cols["item"], cols["source"], cols["edge"],
                                   cols["match"], cols["targeting"], feed.n, counts)
        if left is not None:
            left[cand] -= counts

    def _columns(self, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``np.unique(creator of cand, return_inverse=True)``: the candidates' creators
        (ascending) and each candidate's column among them, by a sort of the few creators
        and the day's creator → column table (``col_of``), which is left set for the block
        (the caller resets it)."""
        creator = self.creator.take(cand)
        ucre = unique_sorted(creator)
        self.col_of[ucre] = np.arange(len(ucre))
        return ucre, self.col_of.take(creator)

    def _block(self, cand, match) -> Block:
        """What the policy sees of candidates ``cand`` (a slice: every item of the day)."""
        return Block(match=match, intimacy=None, quality=self.quality[cand], perf=self.perf[cand],
                     age=self.age[cand], popularity=self.popularity[cand], engagements=self.engagements[cand],
                     fans=None)

    def _rank(self, block: Block, e_row, e_col, e_edge, inv, cand, kx: int, seed: int) -> np.ndarray:
        """The numpy form of the ranking (small days, or a policy that is not linear): the
        score of every (row, candidate), -inf on capped candidates, Gumbel-top-k. A linear
        policy's score is w_match·match + its per-candidate part, plus each fan entry's
        boost added to the candidates of its creator (a dense creators × rows table of the
        boosts, gathered by candidate: the same float32 additions as the policy's score,
        and +0.0 elsewhere, which no pick can tell from the policy's)."""
        policy, left = self.policy, self.left
        if policy.linear:
            rows = block.match.shape[0]
            boost = np.zeros((int(inv.max(initial=-1)) + 1, rows), dtype=np.float32)  # (creator columns × rows)
            intimacy = self.follows.intimacy.take(e_edge)
            if self.zero_boost:  # every edge's boost written: a zero intimacy's is +0.0, as the table's zeros
                at = e_col * rows
                at += e_row
                boost.ravel()[at] = policy.fan_score(intimacy)
            else:
                nz = intimacy != 0
                boost.ravel()[e_col[nz] * rows + e_row[nz]] = policy.fan_score(intimacy[nz])
            key = np.multiply(policy.w_match, block.match)  # (the same float32 products and sums, one temporary)
            key += self.item_score.take(cand)
            key += boost[inv].T  # (gathering rows of the transposed table: the quicker gather)
            if left is not None:
                key[:, left[cand] <= 0] = -np.inf
            if not self.compiled:  # the keys have no -0.0 (each ended by adding +0.0 or a boost): nor has key + noise
                return numpy_kernels.gumbel_top_k(key, kx, float(self.temp), seed, self.noise, signed_zeros=False)
        else:
            if policy.algorithmic:  # the nonzero intimacies as (flat index, value), never a dense matrix
                block.fans = _fan_entries(e_row, e_col, self.follows.intimacy[e_edge], inv, len(cand))
            else:
                block.intimacy = np.zeros(block.match.shape, dtype=np.float32)
            key = policy.score(block)
        if left is not None:
            key[:, left[cand] <= 0] = -np.inf
        return numpy_kernels.kernel("gumbel_top_k", self.compiled)(key, kx, float(self.temp), seed, self.noise)


def _fan_entries(row: np.ndarray, col: np.ndarray, intimacy: np.ndarray, inv: np.ndarray, m: int):
    """The block's nonzero intimacies as (flat indices of the users × candidates matrix,
    values): each fan pair (block row, creator column ``col`` in the block's creators)
    spreads to every candidate of that creator (``inv``: each candidate's creator
    column). The entries of ``flatnonzero`` of the dense matrix, without building it
    (fans are a small share of the pairs), unsorted: the flat indices are distinct, so
    the score adds each once whatever the order."""
    nz = intimacy != 0
    row, col, intimacy = row[nz], col[nz], intimacy[nz]
    by_creator = np.argsort(inv, kind="stable")
    which, k = expand_rows(indptr_from_rows(inv[by_creator], int(inv.max(initial=-1)) + 1), col.astype(np.int64))
    return row[which].astype(np.int64) * m + by_creator[k], intimacy[which]


def _all_granted(left: np.ndarray, rows: int) -> bool:
    """Whether ``_within_cap`` grants every ranked pick of a block of ``rows`` users
    whatever their lists: each candidate column is capped (``left`` ≤ 0: the ranking
    never picks it) or has at least ``rows`` picks left (a column is counted at most
    once a row, so fewer than ``rows`` times before any of its picks)."""
    return bool(np.all((left <= 0) | (left >= rows)))


def _within_cap(top: np.ndarray, left: np.ndarray, k_u: np.ndarray, compiled: bool = True) -> np.ndarray:
    """Mask of picks (users × ranked columns) that fit each column's remaining cap
    (``left``: whole impressions, the policy's ``exposure_left``, as retrieval read it),
    granting a column first to the users who ranked it highest (then by row), a user's
    places visited until they have their ``k_u`` picks (the look-ahead places beyond use
    no allowance; compiled kernel ``kernels.within_cap`` on large days, its numpy form on
    small ones)."""
    return numpy_kernels.kernel("within_cap", compiled)(top, np.maximum(left, 0).astype(np.int64, copy=False),
                                                        np.ascontiguousarray(k_u, dtype=np.int64))
