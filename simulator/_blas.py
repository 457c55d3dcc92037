"""BLAS held to one thread during a step (``TrafficModel.step``). The step's matrix
products are small (a ranking block's users × topics against its candidates); BLAS
threads would only spin against the feeds' threads and the compiled kernels' (measured:
~1.6x faster feeds at 1 M users on 2 cores).

numpy's PyPI wheels bundle OpenBLAS (``numpy.libs/libscipy_openblas*``), as scipy's do
(mesa imports scipy): the thread count of each one loaded is read and set directly, two
ctypes calls. Where numpy has no bundled OpenBLAS (conda's MKL or OpenBLAS, a system
library), threadpoolctl limits every BLAS loaded; its controller finds them by resolving
the path of every loaded library (~170 with mesa and pandas loaded): 6-27 ms in a
process's first step, which the direct path saves (issue #17: a 10,000-user run of ten
days takes ~0.2 s)."""

from __future__ import annotations

import ctypes
import glob
import os
import sys
from contextlib import contextmanager

_LIMIT = None  # the way the step's limit is set, found on first use (one_blas_thread)


def _loaded_openblas(package: str) -> list[tuple]:
    """``(get, set)`` of each OpenBLAS ``package``'s wheel bundles (``package.libs/
    libscipy_openblas*``) that is loaded in this process: the ctypes functions that read
    and set its thread count."""
    module = sys.modules.get(package)  # (not imported: its BLAS is not loaded)
    # (vars: a command line's stand-in, simulator/_deferred.py, is not imported by the look)
    origin = vars(module).get("__file__") if module is not None else None
    if origin is None or not hasattr(os, "RTLD_NOLOAD"):
        return []
    found = []
    for path in glob.glob(os.path.join(os.path.dirname(origin), os.pardir, f"{package}.libs", "libscipy_openblas*")):
        try:  # (RTLD_NOLOAD: the copy already loaded, never a second one)
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        except OSError:  # not loaded
            continue
        for suffix in ("64_", ""):  # (an ILP64 build's symbols end in 64_)
            get = getattr(lib, f"scipy_openblas_get_num_threads{suffix}", None)
            put = getattr(lib, f"scipy_openblas_set_num_threads{suffix}", None)
            if get is not None and put is not None:
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                found.append((get, put))
                break
    return found


def bundled_openblas() -> list[tuple] | None:
    """``(get, set)`` of each OpenBLAS bundled by numpy's wheel and, if loaded, scipy's
    (mesa imports scipy), if numpy's is loaded; else None (numpy was built against
    another BLAS)."""
    numpys = _loaded_openblas("numpy")
    return numpys + _loaded_openblas("scipy") if numpys else None


def _direct(libs):
    @contextmanager
    def limit():
        before = [get() for get, _ in libs]
        for (_, put), n in zip(libs, before):
            if n != 1:
                put(1)
        try:
            yield
        finally:
            for (_, put), n in zip(libs, before):
                if n != 1:
                    put(n)
    return limit


def _through_threadpoolctl():
    from threadpoolctl import ThreadpoolController

    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


def one_blas_thread():
    """A context manager holding BLAS to one thread while it is entered, the count
    before restored on exit (see the module docstring)."""
    global _LIMIT
    if _LIMIT is None:
        found = bundled_openblas()
        _LIMIT = _direct(found) if found is not None else _through_threadpoolctl()
    return _LIMIT()
