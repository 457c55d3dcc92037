"""simulator/_blas.py: BLAS held to one thread during a step, numpy's bundled OpenBLAS
set directly, any other BLAS through threadpoolctl (the step's use of it:
tests/feeds/test_feed_order.py::test_blas_stays_on_one_thread_in_the_feeds_threads)."""

import numpy as np
import pytest
import threadpoolctl
from threadpoolctl import threadpool_info, threadpool_limits

from simulator import _blas


def blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture
def two_blas_threads(monkeypatch):
    """BLAS on two threads around the test (one_blas_thread found anew)."""
    monkeypatch.setattr(_blas, "_LIMIT", None)
    if not blas_threads():
        pytest.skip("numpy has no BLAS threadpoolctl knows")
    with threadpool_limits(limits=2, user_api="blas"):
        yield


def test_one_thread_inside_the_limit_and_the_count_before_restored(two_blas_threads):
    """Fails if the limit does not reach the BLAS, or does not restore its count."""
    with _blas.one_blas_thread():
        assert blas_threads() == {1}
        np.ones((300, 300)) @ np.ones((300, 300))
    assert blas_threads() == {2}


def test_numpys_bundled_openblas_is_set_without_scanning_the_libraries(two_blas_threads, monkeypatch):
    """numpy's wheels bundle OpenBLAS: its count is read and set directly, no
    threadpoolctl controller (which resolves every loaded library's path). Fails if the
    direct path is not taken where numpy has the bundled library."""
    if _blas.bundled_openblas() is None:
        pytest.skip("this numpy does not bundle OpenBLAS")
    # (threadpoolctl's view, before it is barred: every BLAS loaded is a bundled one here)
    info = [i for i in threadpool_info() if i["user_api"] == "blas"]

    def no_controller(*args, **kwargs):
        raise AssertionError("threadpoolctl's controller made")

    monkeypatch.setattr(threadpoolctl, "ThreadpoolController", no_controller)
    libs = _blas.bundled_openblas()
    assert {get() for get, _ in libs} == {2} and len(libs) == len(info)
    with _blas.one_blas_thread():
        assert {get() for get, _ in libs} == {1}
    assert {get() for get, _ in libs} == {2}


def test_any_other_blas_is_limited_through_threadpoolctl(two_blas_threads, monkeypatch):
    """Where numpy has no bundled OpenBLAS (conda, a system BLAS), threadpoolctl limits
    every BLAS loaded. Fails if the fallback does not limit or does not restore."""
    monkeypatch.setattr(_blas, "bundled_openblas", lambda: None)
    with _blas.one_blas_thread():
        assert blas_threads() == {1}
    assert blas_threads() == {2}
