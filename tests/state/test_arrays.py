import numpy as np
import pytest

from simulator.state.arrays import unique_sorted


@pytest.mark.parametrize("dtype", [np.int64, np.int32])
def test_unique_sorted_is_np_unique(dtype):
    """Guards state.arrays.unique_sorted, the sort that replaced np.unique on the day's
    follow keys, the customer book's new pairs, the follow graph's additions and the
    shelf's visitors (issue #17: numpy's hash-table unique was 4-15× slower there): the
    same distinct values, ascending, the same dtype, for empty, single, repeated and
    spread-out input, and the input left as it was."""
    rng = np.random.default_rng(4)
    for a in (np.zeros(0, dtype), np.array([7], dtype), np.array([3, 3, 3], dtype),
              rng.integers(0, 50, 400).astype(dtype), rng.integers(-2**30, 2**30, 5000).astype(dtype)):
        before = a.copy()
        out = unique_sorted(a)
        assert out.dtype == a.dtype
        assert np.array_equal(out, np.unique(a))
        assert np.array_equal(a, before)
