"""The compiled kernels built ahead of time, for small runs.

A run at the default population (10,000 users) steps ~10% faster on the compiled kernels
(:mod:`.kernels`) than on their numpy forms (:mod:`.numpy_kernels`), but loading numba
and its cached machine code costs ~0.6 s of a ~1 s run, more than the kernels save. So
the kernels a small run calls are also compiled ahead, when the package is installed
(``setup.py`` runs :mod:`.ahead_build`, numba's ``pycc``), into the extension module
``simulator.feeds._ahead``: plain machine code that loads in about a millisecond
without importing numba. Each is the same Python function as its :mod:`.kernels` twin,
compiled for the argument types of :data:`SIGNATURES` with the same numba, so it gives
the same results bit for bit (the tests run the model both ways); the kernels whose
loops run in parallel there (``prange``) run on one thread here, which gives the same
results too (their rows are independent: the tests run them on one and two threads).
Each releases the GIL while it runs (:data:`BUILD_FLAGS`), so a small run's own threads
(the ranking's blocks, the platforms' feeds, the step's background thread) run kernels
at once on the cores.

A run uses them (``numpy_kernels.AHEAD_RUN``) when its users are fewer than
``numpy_kernels.COMPILED_USERS`` (a large run's kernels run in parallel threads, which
numba's own compiled kernels do) and the module is *fresh*: built from this very
``kernels.py`` and :data:`SIGNATURES` (a digest of both is compiled into it and checked
when it loads). Otherwise, or with ``TRAFFICSIM_AHEAD=0`` in the environment, runs work
as without it: numpy forms on small days, numba's kernels on large ones. A call whose
arguments' types match no signature here runs numba's kernel instead (the same results:
numba would compile that type), so a missing signature costs time, never correctness.

The module is machine code for the CPU that built it (where Linux says which,
:func:`cpu_digest`; else for any x86-64), kept beside this file and not used on another
CPU; after editing ``kernels.py`` or :data:`SIGNATURES`, rebuild it with ``python -m
simulator.feeds.ahead_build`` (or reinstall): until then it is stale and not used.

This module imports nothing of the package (``ahead_build`` loads it by path, in pip's
build environment).
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import numpy as np

# The kernels compiled ahead and their argument types (numba's spelling: ``[::1]`` a
# C-contiguous array, ``[:]`` any strides): every kernel a small run of the shipped
# scenarios calls, with the types it is called with (tests/feeds/test_ahead.py runs
# them all with numba unimportable). Numba's return type is inferred at the build.
SIGNATURES: dict[str, list[str]] = {
    "adopt_new": ["int64[::1], int32[::1], boolean[:, ::1], float64[:, ::1], boolean[::1], float64, float64"],
    "block_picks_into": ["int64[:, ::1], boolean[:, ::1], int64[::1], int64[::1], int64[::1], int64[::1], "
                         "int64[::1], int32[::1], int32[::1], float32[:, ::1], int64, int32[::1], int32[::1], "
                         "int8[::1], int32[::1], float32[::1], int8[::1], int64, int64[::1]"],
    "book_trust_last": ["int64[::1], int64, int64[:, ::1], int64, int64[::1], int64[::1], float32[::1], "
                        "int32[::1], int64"],
    "cold_start_hits": ["int64[::1], int32[::1], float32[::1], int32[::1], boolean[::1], int64[::1], int64[::1], "
                        "int64, float32, float32[::1]"],
    "count_by_index": ["int32[::1], int64"],
    "count_cold_start_offers": ["int64[::1], int32[::1], int32[::1], int64[::1]"],
    "count_pairs": ["int8[::1], int8[::1], int64, int64"],
    "day_gain_sums": ["int64[::1], int64, float32[::1], int64[::1]"],
    "delete_in_place": ["float32[::1], int64[::1]", "int32[::1], int64[::1]"],
    "fan_gain_keys": ["int32[::1], boolean[::1], boolean[::1], boolean[::1], boolean[::1], int64, int64, int64[::1]"],
    "fans_by_tier_and_sums": ["int32[::1], float32[::1], float32[::1], int64"],
    "flywheel_strata": ["float32[::1], float64[::1], float64[::1], int64"],
    "fan_gain_list": ["int32[::1], boolean[::1], boolean[::1], boolean[::1], boolean[::1], float32[::1]"],
    "fans_by_tier": ["int32[::1], float32[::1], float32[::1], int64"],
    "find_in_book": ["int64[::1], int64, int64[:, ::1], int64, int64[::1], int64[::1]"],
    "find_in_rows": ["int64[::1], int32[::1], int64[::1], int64[::1]"],
    "follow_tab_edges": ["int64[::1], float64[::1], float32[::1], float32, int32[::1], boolean[::1], int32[::1], "
                         "int64[::1], int64[::1], float64[::1]"],
    "follow_tab_items": ["int32[::1], int32[::1], int64, int32[::1], int64[::1], int64[::1], int64[::1], "
                         "float64[::1]"],
    "group_push_day": ["int64[::1], int32[::1], int32[::1], float32[::1], float32[::1], int8[::1], float64[::1], "
                       "int64[::1], int32[::1], float32, float32[::1], float64[::1], float64[::1], float32[::1], "
                       "float32, boolean[::1]"],
    "gumbel_top_k": ["float32[:, ::1], int64, float64, int64, float32[::1]"],
    "indices_below": ["float32[::1], float32"],
    "insert_in_place": ["float32[::1], int64, int64[::1], float32[::1]", "int32[::1], int64, int64[::1], int32[::1]",
                        "int64[::1], int64, int64[::1], int64[::1]"],
    "intimacy_in_rows": ["int64[::1], int32[::1], float32[::1], int64[::1], int64[::1]"],
    "join_candidates": ["int64[::1], float32[::1], int64[::1], float32"],
    "moved_rows": ["int64[::1], int64[::1], boolean"],
    "pool_tally": ["int32[::1], float32[::1], boolean[::1], boolean[::1], float64, int64"],
    "random_subset_by_group": ["int32[::1], float64[::1], int64[::1]"],
    "react_in_chunks": ["int32[::1], float32[::1], int32[::1], float32[::1], float32[::1], float64[::1], "
                        "float64[::1], int64"],
    "row_start_sums": ["int64[::1], float32[::1], float32, int32[::1], boolean[::1]"],
    "row_start_sums_and_marked": ["int64[::1], float32[::1], float32, int32[::1], boolean[::1], boolean[::1], int64"],
    # (a platform's columns of the users' push, uses and satisfaction: any strides, one
    # platform's C-contiguous; the pushes are int64 on a day without any: numpy's
    # bincount of no weights)
    "satisfaction_day": [f"int32[::1], boolean[::1], boolean[::1], int8[::1], int64, int32[::1], {push}[:], boolean[:], "
                         "float32[:], int32[:, ::1], int64, int64, float64, float64, float64, float64, float64"
                         for push in ("float64", "int64")],
    "score_top_k": ["float32[:, ::1], float32, float32[::1], boolean[::1], int64[::1], int64[::1], float32[::1], "
                    "int64[::1], int64[::1], int64, int64[::1], float64, int64, float32[::1]"],
    "selling_edges_in_rows": ["int64[::1], int32[::1], uint64[::1], boolean[:, ::1]"],
    "sum_by_index": ["int32[::1], float32[::1], int64"],
    "sum_runs": ["int64[::1], float32[::1], int64[::1]"],
    "tally_impressions": ["int32[::1], int8[::1], int8[::1], boolean[::1], boolean[::1], boolean[::1], "
                          "boolean[::1], boolean[::1], int64, int64, int64"],
    "visiting_edges": ["int64[::1], float32[::1], float32[::1], float32"],
    "within_cap": ["int64[:, ::1], int64[::1], int64[::1]"],
    # FEEDS (issue #17, fifteenth pass)
    "block_candidates": ["float64[:, ::1], int64[::1], int64[::1], float64[::1], int64, int64[::1], int64[::1], "
                         "int64[::1], int32[::1], float32[::1], int32[::1]"],
    "assign_kept": ["int64[::1], int64[::1], int64[::1], int64[::1], boolean[::1], int64[::1], int64[::1]"],
    "lookalike_slots": ["boolean[::1], int32[::1], int16[::1], int64, int64[::1], float64[::1], int64[::1], "
                        "int64[::1], int64[::1], int32[::1], int64[::1], int32[::1]"],
    "ad_rows": ["int64[::1], int64[::1], int64[::1], int32[::1], int64[::1], int64[::1], float64[::1], int32[::1], "
                "int64[::1], int32[::1], int64"],
    # AFTER22 (issue #17, fifteenth pass)
    "selling_offer_rows": ["boolean[::1], boolean[::1], int32[::1], boolean[::1], int32[::1], boolean[::1], "
                           "int32[::1], float32[::1], float32[::1]"],
    "tally_exposure_trace": ["int32[::1], int8[::1], int8[::1], boolean[::1], boolean[::1], boolean[::1], "
                             "boolean[::1], boolean[::1], int32[::1], int64, int64, int64, int64"],
    # COMM16 (issue #17, sixteenth pass)
    "tally_orders": ["int64[::1], int64[::1], int64[::1], int64[::1], int64[::1], int64[::1], boolean[::1], "
                     "float64[::1], float64[::1], float64[::1], float64[::1], int64, float64[:, ::1], int64[::1], "
                     "int64[::1], int64[::1], float64[::1], float64[::1], float64[::1], float64[:, ::1], "
                     "float64[::1], int64[:, ::1], float64[:, ::1], float64[::1], float64[::1], float64[::1], "
                     "float64[:, ::1], float64[::1], float64[:, ::1], float64[:, ::1], float64[:, ::1], "
                     "float64[:, ::1]"],
    "merge_into_tail": ["int64[::1], float32[::1], int32[::1], int32[::1], int64, int64, int64[::1], int64, "
                        "int64[::1], int64[::1]"],
    # REST24 (issue #17, seventeenth pass)
    "grow_and_decay": ["float32[::1], int64[::1], float32[::1], float32"],
    "attention_exponents_rows": ["float32[:, ::1], boolean[:, ::1], float64"],
    "attention_shares_rows": ["float64[:, ::1], boolean[:, ::1], float64[::1], float64[:, ::1], float64"],
}

MODULE = "_ahead"  # simulator/feeds/_ahead.<platform suffix>
KERNELS = Path(__file__).with_name("kernels.py")
DIGEST_FN = "source_digest"  # the exported function returning the digest the module was built from
CPU_FN = "cpu_digest"  # the exported function returning the digest of the CPU it was built for (0: any x86-64)
CPUINFO = Path("/proc/cpuinfo")


# numba's compiler flags the build sets for every kernel (ahead_build): ``release_gil``, the
# flag of numba's ``nogil``, so that the exported functions release the GIL while they run,
# as the kernels do under numba's JIT (kernels.py ``_cached_njit``) and a small run's
# threads run kernels at once. Part of the digest: a module built otherwise is stale.
BUILD_FLAGS = ("release_gil",)


def digest() -> int:
    """A signed 64-bit digest of ``kernels.py``, :data:`SIGNATURES` and :data:`BUILD_FLAGS`:
    what the module compiled ahead must have been built from to be used."""
    h = hashlib.sha256(KERNELS.read_bytes())
    h.update(repr(sorted(SIGNATURES.items())).encode())
    h.update(repr(BUILD_FLAGS).encode())
    return int.from_bytes(h.digest()[:8], "little", signed=True)


def cpu_digest() -> int:
    """A signed 64-bit digest of this machine's CPU (its model name and instruction-set
    flags, Linux's /proc/cpuinfo), or 0 where that is not known. The module is compiled for
    the CPU that builds it when this is known (numba's ``host`` target: ~0.85 of the
    reactions' kernel, ~0.94 of the ranking's, against the generic x86-64 one; the same
    IEEE operations, so the same results) and used only on a CPU of the same digest: on
    another one its instructions might not exist (the process would die, not err)."""
    try:
        with CPUINFO.open() as f:
            model = flags = None
            for line in f:  # the first processor's lines
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags = " ".join(sorted(value.split()))
                elif not key and model is not None:
                    break
    except OSError:
        return 0
    if not model or not flags:
        return 0
    h = hashlib.sha256(f"{model}\n{flags}".encode())
    return int.from_bytes(h.digest()[:8], "little", signed=True) or 1


def export_name(name: str, i: int) -> str:
    """The module's name for signature ``i`` of kernel ``name``."""
    return f"{name}__{i}"


# --------------------------------------------------------------------------- matching calls

_SCALARS = {"int64", "int32", "int8", "uint64", "float64", "float32", "boolean"}


def parse(signature: str) -> tuple:
    """``"int64[::1], float32"`` -> ``((np.dtype("int64"), 1, True), "float32")``: an
    array's numpy dtype, dimensions and whether C-contiguity is required; a scalar's type
    name."""
    specs = []
    for part in re.findall(r"[^,\[\]\s]+(?:\[[^\]]*\])?", signature):
        if "[" in part:
            name, dims = part[:-1].split("[")
            dims = [d.strip() for d in dims.split(",")]
            specs.append((np.dtype("bool" if name == "boolean" else name), len(dims), dims[-1] == "::1"))
        elif part in _SCALARS:
            specs.append(part)
        else:
            raise ValueError(f"ahead.SIGNATURES: unknown type {part!r} in {signature!r}")
    return tuple(specs)


_NUMPY_SCALARS = {t: np.dtype(t).name for t in (np.int64, np.int32, np.int16, np.int8, np.uint64, np.uint32,
                                                 np.uint16, np.uint8, np.float64, np.float32)}
_NUMPY_SCALARS[np.bool_] = "boolean"


def _scalar_type(v) -> str | None:
    """numba's type of a scalar argument, as its dispatcher would type it (``None``: a
    type no signature here has, such as an int subclass, which numba types otherwise)."""
    t = type(v)
    if t is bool:
        return "boolean"
    if t is int:
        return "int64" if -(1 << 63) <= v < (1 << 63) else None
    if t is float:
        return "float64"
    return _NUMPY_SCALARS.get(t)


def matches(args: tuple, specs: tuple) -> bool:
    """Whether ``args`` have exactly the types of ``specs`` (a writable, aligned array of
    the dtype and dimensions, C-contiguous where required; a scalar of the type numba
    would give it)."""
    if len(args) != len(specs):
        return False
    for a, s in zip(args, specs):
        if type(s) is tuple:
            # (dtype equality, not identity: equal dtypes need not be one object; dtype.name
            # would cost ~1 us a call)
            if type(a) is not np.ndarray or a.ndim != s[1] or a.dtype != s[0]:
                return False
            f = a.flags
            if not f.writeable or not f.aligned or (s[2] and not f.c_contiguous):
                return False
        elif _scalar_type(a) != s:
            return False
    return True


def _describe(a) -> str:
    """An argument's type in the spelling of :data:`SIGNATURES` (for :data:`missed`)."""
    if isinstance(a, np.ndarray):
        dims = [":"] * a.ndim
        if a.ndim and a.flags.c_contiguous:
            dims[-1] = "::1"
        name = "boolean" if a.dtype == np.bool_ else a.dtype.name
        return f"{name}[{', '.join(dims)}]" + ("" if a.flags.writeable else " (read-only)")
    return _scalar_type(a) or type(a).__name__


# the kernels this process ran on numba's side for want of a kernel or signature compiled
# ahead: (name, argument types or None for a kernel not compiled ahead at all)
missed: set = set()


class Kernel:
    """One kernel compiled ahead: calls the compiled function whose signature the
    arguments match, else numba's kernel of the same name (importing numba)."""

    __slots__ = ("name", "entries", "calls")

    def __init__(self, name: str, entries: list):
        self.name = name
        self.entries = entries  # [(specs, function)]
        self.calls = 0  # calls served by the compiled functions (tests, benchmarks)

    def __call__(self, *args):
        for specs, fn in self.entries:
            if matches(args, specs):
                self.calls += 1
                return fn(*args)
        return _numba_kernel(self.name, args, tuple(_describe(a) for a in args))


# held while a kernel runs on numba's side for want of one compiled ahead: a small run's
# threads (the ranking's blocks, the step's background thread) run the kernels compiled
# ahead at once (serial machine code that releases the GIL), but two of numba's parallel
# kernels started at once from two threads abort the process under its ``workqueue``
# threading layer (kernels.THREAD_SAFE_LAYERS), so those run one at a time
_NUMBA_LOCK = threading.Lock()


def _new_lock_in_child() -> None:
    """A forked child's own lock: the thread that held the parent's at the fork is not
    there to release it."""
    global _NUMBA_LOCK
    _NUMBA_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_in_child)


def _numba_kernel(name: str, args: tuple, types: tuple | None):
    """Numba's kernel ``name`` (imported, compiled or loaded on first use) on ``args``, one
    such call at a time in this process; the miss recorded in :data:`missed`."""
    missed.add((name, types))
    with _NUMBA_LOCK:
        from . import kernels

        return getattr(kernels, name)(*args)


class Kernels:
    """The kernels as a namespace: a kernel compiled ahead where there is one, else
    numba's (:mod:`.kernels`, imported on first use), called through
    :func:`_numba_kernel`."""

    def __init__(self, module):
        self._kernels = {name: Kernel(name, [(parse(sig), getattr(module, export_name(name, i)))
                                             for i, sig in enumerate(sigs)])
                         for name, sigs in SIGNATURES.items()}

    def __getattr__(self, name: str):
        k = self.__dict__["_kernels"].get(name)
        if k is not None:
            return k

        def numba_kernel(*args):
            return _numba_kernel(name, args, None)

        return numba_kernel


def status() -> str:
    """For the records (manifest.json): ``"loaded"`` when this process's small runs use
    the kernels compiled ahead, else why not."""
    return "loaded" if load() is not None else f"not used: {why_not}"


_loaded: Kernels | None = None
_tried = False
why_not: str | None = None  # why the module compiled ahead is not used (None: it is, or not tried yet)


def load() -> Kernels | None:
    """The kernels compiled ahead, or ``None`` (and :data:`why_not` says why): not built,
    stale, or turned off by ``TRAFFICSIM_AHEAD=0``. Loaded once a process."""
    global _loaded, _tried, why_not
    if _tried:
        return _loaded
    _tried = True
    if os.environ.get("TRAFFICSIM_AHEAD", "1") == "0":
        why_not = "turned off (TRAFFICSIM_AHEAD=0)"
        return None
    try:
        from importlib import import_module

        module = import_module(f"{__package__}.{MODULE}")
    except ImportError as exc:
        why_not = f"not built ({exc})"
        return None
    built_for = getattr(module, CPU_FN)()
    if built_for != 0 and built_for != cpu_digest():
        why_not = (f"built for another CPU: {Path(module.__file__).name} was compiled on another machine "
                   "(rebuild: python -m simulator.feeds.ahead_build)")
        return None
    if getattr(module, DIGEST_FN)() != digest():
        why_not = (f"stale: {Path(module.__file__).name} was built from another kernels.py or SIGNATURES "
                   "(rebuild: python -m simulator.feeds.ahead_build)")
        return None
    _loaded = Kernels(module)
    return _loaded
