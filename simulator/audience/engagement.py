"""How users react to impressions.

One logistic model for every platform (the platforms differ in what they show, not in
how people respond):

    z = intercept + w_match·match + w_quality·quality + w_intimacy·intimacy
    P(action) = sigmoid(z + offset_action)       action ∈ complete, like, comment, share
    P(follow) = sigmoid(z + offset_follow)        only for non-followers who completed or liked
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..config import EngagementConfig
from ..feeds.impressions import Impressions
from ..feeds import numpy_kernels


@dataclass
class Reactions:
    complete: np.ndarray
    like: np.ndarray
    comment: np.ndarray
    share: np.ndarray
    follow: np.ndarray
    intimacy: np.ndarray  # the viewer's intimacy with the creator at the time of viewing
    _codes: np.ndarray | None = field(default=None, repr=False, compare=False)  # codes(), once computed
    # today's impressions per live item (record_exposure's tally, summed over the domains),
    # read by the traffic pools instead of counting the impressions again; None until then
    item_impressions: np.ndarray | None = field(default=None, repr=False, compare=False)
    # the impressions' items as bincount's index dtype (intp), kept by record_exposure on
    # small days for the traffic pools' bincounts (each would convert them again); None until then
    item_index: np.ndarray | None = field(default=None, repr=False, compare=False)

    def columns(self) -> list[np.ndarray]:
        """The five action masks in ``state.ACTIONS`` order."""
        return [self.complete, self.like, self.comment, self.share, self.follow]

    def codes(self) -> np.ndarray:
        """Each impression's actions as one uint8, bit ``a`` set for the ``a``-th action
        of ``state.ACTIONS`` (complete 1, like 2, comment 4, share 8, follow 16); computed
        once (the reactions do not change after they are drawn) and read by the day's
        counts of the small days (exposure, intimacy gains)."""
        if self._codes is None or len(self._codes) != len(self.complete):
            self._codes = action_codes(*self.columns())
        return self._codes

    @property
    def engaged(self) -> np.ndarray:
        return self.complete | self.like


def react(imp: Impressions, quality: np.ndarray, intimacy: np.ndarray, cfg: EngagementConfig,
          rng: np.random.Generator) -> Reactions:
    """Draw every impression's actions at once, with the viewers' intimacy and the items'
    quality read chunk by chunk: the compiled kernel ``kernels.react_in_chunks`` (one
    parallel pass, ``kernels.draw_actions``' draws) on large days and long runs, otherwise
    its numpy form of the same name (the same draws)."""
    coef = np.array([cfg.intercept, cfg.w_match, cfg.w_quality, cfg.w_intimacy])
    offsets = np.array([cfg.offset_complete, cfg.offset_like, cfg.offset_comment, cfg.offset_share, cfg.offset_follow])
    react_in_chunks = numpy_kernels.kernel("react_in_chunks", numpy_kernels.compiled(len(imp)))
    acts, intim = react_in_chunks(imp.edge, intimacy, imp.item, quality, imp.match, coef, offsets,
                                  int(rng.integers(2**63)))
    return Reactions(complete=acts[0], like=acts[1], comment=acts[2], share=acts[3], follow=acts[4], intimacy=intim)


def action_codes(complete, like, comment, share, follow) -> np.ndarray:
    """The five action masks packed into one uint8 per impression (bit ``a``: the
    ``a``-th mask, in ``state.ACTIONS`` order). Contiguous masks are packed eight
    impressions at a time, their bytes read as uint64 words: a mask's byte is 0 or 1
    (numpy's bools), so shifting a word by ``a`` ≤ 4 moves no bit out of its byte, and
    the words' shifts and ors are each byte's (measured in the model: 164 → 114 µs
    a day of 83,000 impressions); the last ``n % 8`` impressions one at a time."""
    masks = (complete, like, comment, share, follow)
    n = len(complete)
    wide = all(m.dtype.itemsize == 1 and m.flags.c_contiguous for m in masks)
    w = n - n % 8 if wide else 0
    if w == 0:
        return _action_codes_bytes(*masks)
    codes = np.empty(n, dtype=np.uint8)
    words = codes[:w].view(np.uint64)
    np.copyto(words, complete[:w].view(np.uint64))
    t = np.empty(w // 8, dtype=np.uint64)
    for a, mask in enumerate(masks[1:], 1):
        np.left_shift(mask[:w].view(np.uint64), np.uint64(a), out=t)
        words |= t
    if w < n:
        codes[w:] = _action_codes_bytes(*(m[w:] for m in masks))
    return codes


def _action_codes_bytes(complete, like, comment, share, follow) -> np.ndarray:
    """:func:`action_codes` one byte an impression (the definition)."""
    codes = complete.view(np.uint8) | (like.view(np.uint8) << 1)
    codes |= comment.view(np.uint8) << 2
    codes |= share.view(np.uint8) << 3
    codes |= follow.view(np.uint8) << 4
    return codes
