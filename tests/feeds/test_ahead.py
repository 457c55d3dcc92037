"""The kernels compiled ahead (simulator/feeds/ahead.py): built by the install, used by
small runs without numba, the same results as the numpy forms; never used stale, off
with TRAFFICSIM_AHEAD=0, and a call of another type runs numba's kernel.

(tests/conftest.py turns them off for the rest of the suite, which tests the numpy forms
and numba's kernels as before: here they are turned on explicitly.)"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from simulator.feeds import ahead, numpy_kernels

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ahead_on(monkeypatch):
    """The kernels compiled ahead as a fresh process would load them (the environment's
    TRAFFICSIM_AHEAD=0 of the suite lifted), and this process's state put back after."""
    monkeypatch.setenv("TRAFFICSIM_AHEAD", "1")
    for name, value in (("_tried", False), ("_loaded", None), ("why_not", None)):
        monkeypatch.setattr(ahead, name, value)
    monkeypatch.setattr(numpy_kernels, "AHEAD_RUN", False)
    monkeypatch.setattr(ahead, "missed", set())
    yield ahead


def test_the_install_built_a_fresh_module(ahead_on):
    """The package's install (setup.py, .ci/run's pip install) compiled the kernels ahead
    from this very kernels.py and SIGNATURES: without it small runs lose their compiled
    kernels (the build is optional, so only this test says it failed)."""
    kernels = ahead.load()  # (finds every signature's function in the module, or raises)
    assert kernels is not None, ahead.why_not
    assert set(kernels._kernels) == set(ahead.SIGNATURES)


def test_a_stale_module_is_not_used(ahead_on, monkeypatch):
    """Guards the digest check: a module built from another kernels.py (an edit since
    the install) could compute other results, so it is not used, and why is said."""
    monkeypatch.setattr(ahead, "digest", lambda: 12345)
    assert ahead.load() is None
    assert ahead.why_not.startswith("stale")


def test_a_module_built_for_another_cpu_is_not_used(ahead_on, monkeypatch):
    """Guards the CPU check: the module is compiled for the CPU that built it (numba's
    ``host`` target) where that CPU is known, and its instructions might not exist on
    another one (the process would die), so another CPU's digest refuses it; a module
    built for any x86-64 (digest 0) loads anywhere."""
    import importlib

    built_for = importlib.import_module("simulator.feeds._ahead").cpu_digest()
    monkeypatch.setattr(ahead, "cpu_digest", lambda: built_for + 1)
    if built_for == 0:
        assert ahead.load() is not None
    else:
        assert ahead.load() is None
        assert ahead.why_not.startswith("built for another CPU")


def test_the_cpu_digest_reads_the_model_and_its_flags(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    monkeypatch.setattr(ahead, "CPUINFO", info)
    assert ahead.cpu_digest() == 0  # not known: the module is built for any x86-64
    digests = []
    for model, flags in (("Xeon", "sse2 avx2 fma"), ("Xeon", "fma sse2 avx2"), ("Xeon", "sse2 avx2 avx512f"),
                         ("EPYC", "sse2 avx2 fma")):
        info.write_text(f"processor\t: 0\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
                        f"processor\t: 1\nmodel name\t: other\nflags\t\t: sse2\n")
        digests.append(ahead.cpu_digest())
    assert digests[0] == digests[1] != 0  # the flags' order does not matter; the first processor's lines
    assert len({digests[0], digests[2], digests[3]}) == 3


def test_turned_off_by_the_environment(ahead_on, monkeypatch):
    monkeypatch.setenv("TRAFFICSIM_AHEAD", "0")
    assert ahead.load() is None
    assert "TRAFFICSIM_AHEAD=0" in ahead.why_not


def test_the_records_say_whether_they_are_loaded(ahead_on, monkeypatch):
    """A run's or comparison's manifest.json records it (``kernels_ahead``)."""
    from simulator.io import outputs

    assert outputs.manifest(command=None, files=[])["kernels_ahead"] == "loaded"
    for name, value in (("_tried", False), ("_loaded", None)):
        monkeypatch.setattr(ahead, name, value)
    monkeypatch.setenv("TRAFFICSIM_AHEAD", "0")
    assert outputs.manifest(command=None, files=[])["kernels_ahead"] == "not used: turned off (TRAFFICSIM_AHEAD=0)"


def test_small_runs_use_them_large_runs_do_not(ahead_on, monkeypatch):
    """Guards numpy_kernels.prefer_compiled_for's AHEAD_RUN: below COMPILED_USERS users
    every phase runs a compiled kernel (compiled() is true at any size) taken from the
    module compiled ahead; from it on, numba's parallel kernels run the large phases."""
    numpy_kernels.prefer_compiled_for(30, 10_000, 1)
    assert numpy_kernels.AHEAD_RUN and numpy_kernels.compiled(1)
    assert isinstance(numpy_kernels.compiled_kernels(), ahead.Kernels)
    assert isinstance(numpy_kernels.kernel("count_by_index", True), ahead.Kernel)
    numpy_kernels.prefer_compiled_for(30, numpy_kernels.COMPILED_USERS, 1)
    assert not numpy_kernels.AHEAD_RUN


def test_arguments_are_matched_exactly():
    """An argument list is matched as numba's dispatcher would type it: a compiled
    function given another dtype, layout or a read-only array would read its memory
    wrongly (pycc's wrappers do not check)."""
    c = ahead.parse("int64[::1], float32[:], boolean[:, ::1], int64, float64, float32, boolean")
    assert c == ((np.dtype(np.int64), 1, True), (np.dtype(np.float32), 1, False), (np.dtype(bool), 2, True), "int64",
                 "float64", "float32", "boolean")
    a, b, m = np.zeros(4, np.int64), np.zeros(8, np.float32), np.zeros((2, 3), bool)
    assert ahead.matches((a, b, m, 3, 1.5, np.float32(2), True), c)
    assert ahead.matches((a, b[::2], m, np.int64(3), 1.5, np.float32(2), np.bool_(True)), c)  # any strides
    for bad in ((a[::2], b, m, 3, 1.5, np.float32(2), True),  # a C-contiguous array required
                (a.astype(np.int32), b, m, 3, 1.5, np.float32(2), True),  # dtype
                (a, b, m.T, 3, 1.5, np.float32(2), True),  # a 2-D array's layout
                (a, b, m, 3.0, 1.5, np.float32(2), True),  # a float is not an int64
                (a, b, m, True, 1.5, np.float32(2), True),  # nor a bool
                (a, b, m, 3, 1.5, 2.0, True),  # a Python float is float64, not float32
                (a, b, m, 3, 1.5, np.float32(2)),  # one argument short
                (a, b, m, 3, 1.5, np.float32(2), 1)):  # an int is not a boolean
        assert not ahead.matches(bad, c), bad
    ro = a.copy()
    ro.flags.writeable = False
    assert not ahead.matches((ro, b, m, 3, 1.5, np.float32(2), True), c)
    # an equal dtype that is another object (an array unpickled: a model saved and loaded)
    unpickled = pickle.loads(pickle.dumps(a))
    assert unpickled.dtype is not a.dtype and ahead.matches((unpickled, b, m, 3, 1.5, np.float32(2), True), c)
    assert not ahead.matches((a.astype(">i8"), b, m, 3, 1.5, np.float32(2), True), c)  # not the machine's order


def test_a_call_of_another_type_runs_numbas_kernel(ahead_on):
    """No signature fits: numba's kernel runs (as it would have compiled that type), the
    result is right, and the miss is recorded (ahead.missed)."""
    kernels = ahead.load()
    assert kernels is not None, ahead.why_not
    idx = np.array([3, 0, 3, 1], np.int64)  # int64: count_by_index is compiled ahead for int32 only
    want = numpy_kernels.count_by_index(idx, 5)
    got = kernels.count_by_index(idx, 5)
    assert np.array_equal(want, got)
    assert ("count_by_index", ("int64[::1]", "int64")) in ahead.missed
    idx32 = idx.astype(np.int32)
    before = kernels.count_by_index.calls
    assert np.array_equal(kernels.count_by_index(idx32, 5), want)
    assert kernels.count_by_index.calls == before + 1


def test_the_modules_kernels_release_the_gil(ahead_on):
    """Guards ahead.BUILD_FLAGS (``release_gil``, set by ahead_build): a small run's
    threads (the ranking's blocks, the step's background thread, two platforms' feeds)
    run kernels compiled ahead at once only if each releases the GIL while it runs, as
    numba's ``nogil`` kernels do. With a switch interval no test outlasts, a thread
    holding the GIL keeps it until it blocks or ends; so ``Thread.start()`` (which waits
    for the GIL) returns while the thread's kernel still runs only if the kernel let go
    of it. Fails for a module whose wrappers hold the GIL (pycc's default)."""
    import threading

    kernels = ahead.load()
    assert kernels is not None, ahead.why_not
    idx = np.zeros(20_000_000, np.int32)  # count_by_index over 20 M entries: tens of milliseconds
    state = {"done": False}

    def count():
        kernels.count_by_index(idx, 4)
        state["done"] = True

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        t = threading.Thread(target=count)
        t.start()  # (returns once the new thread lets go of the GIL)
        ran_meanwhile = not state["done"]
        t.join()
    finally:
        sys.setswitchinterval(interval)
    assert state["done"] and kernels.count_by_index.calls >= 1
    assert ran_meanwhile, "the kernel compiled ahead held the GIL while it ran"


def test_numbas_kernels_run_one_call_at_a_time_for_the_module(ahead_on):
    """Guards ahead._NUMBA_LOCK: a small run's threads may call kernels at once, and what
    runs on numba's side for want of a kernel compiled ahead (another type; a kernel not
    compiled ahead) is one of numba's parallel kernels, two of which started at once
    from two threads abort the process under its workqueue layer; so such calls wait
    for each other. Fails when a call does not wait for the one running."""
    import threading

    kernels = ahead.load()
    assert kernels is not None, ahead.why_not
    idx = np.array([3, 0, 3, 1], np.int64)  # int64: count_by_index has no such signature
    creator, mark = np.array([2, 0, 2, 1], np.int32), np.array([-1, 7, 5], np.int64)
    calls = {  # a call of another type; a kernel not compiled ahead at all
        "another type": (lambda: kernels.count_by_index(idx, 5), numpy_kernels.count_by_index(idx, 5)),
        "not compiled ahead": (lambda: np.concatenate(kernels.edges_to_marked(creator, mark)), [0, 2, 3, 5, 5, 7]),
    }
    for name, (call, want) in calls.items():
        assert np.array_equal(call(), want), name  # (numba imported, the kernel compiled or loaded)
        got = {}
        with ahead._NUMBA_LOCK:  # another thread's call on numba's side is running
            t = threading.Thread(target=lambda: got.update(result=call()))
            t.start()
            t.join(timeout=0.5)
            assert t.is_alive() and "result" not in got, name  # this one waits for it
        t.join()
        assert np.array_equal(got["result"], want), name
    assert ("edges_to_marked", None) in ahead.missed


def test_a_forked_child_has_its_own_lock_for_numbas_kernels():
    """Guards ahead's fork hook: a child forked while another thread runs one of numba's
    kernels for the module (the lock held) would wait forever for a release that only
    that thread, absent there, can make."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork here")
    with ahead._NUMBA_LOCK:
        pid = os.fork()
        if pid == 0:  # the child: report whether the lock is free, exit at once
            os._exit(0 if ahead._NUMBA_LOCK.acquire(timeout=5) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


RUNS = r"""
import hashlib, json, os, sys, tempfile
from pathlib import Path
if sys.argv[1] == "ahead":
    sys.modules["numba"] = None  # numba unimportable: a kernel it would serve fails loudly
from simulator.config.loading import load_scenario
from simulator.feeds import ahead, numpy_kernels, recommend
from simulator.io.outputs import write_run
from simulator.model import TrafficModel
# two threads wherever the feeds may use them (whatever this machine's cores) and at any
# size: a small run on the kernels compiled ahead ranks its blocks, builds two platforms'
# feeds and sums its trace in threads
numpy_kernels.FEED_THREADS = 2
numpy_kernels.AHEAD_FEED_THREADS_FROM = numpy_kernels.AHEAD_RANK_THREADS_FROM = numpy_kernels.AHEAD_BACKGROUND_FROM = 0
threaded = []
rank_in_threads = recommend._rank_in_threads
recommend._rank_in_threads = lambda *a: threaded.append(1) or rank_in_threads(*a)
out = {}
for path in sorted(Path("scenarios").glob("*.toml")):
    sc = load_scenario(path, ["steps=25"])
    m = TrafficModel(sc, seed="scenario", agents=False)
    m.run(sc.steps)
    with tempfile.TemporaryDirectory() as d:
        write_run(m, Path(d) / "run", command=["test"], timings={})
        files = sorted(p for p in (Path(d) / "run").iterdir() if p.suffix == ".csv")
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()
    out[path.name] = [digest, json.dumps(m.summary(), sort_keys=True, default=str), numpy_kernels.AHEAD_RUN]
calls = sum(k.calls for k in ahead.load()._kernels.values()) if ahead.load() else 0
print(json.dumps({"runs": out, "missed": sorted(map(str, ahead.missed)), "calls": calls,
                  "numba": sys.modules.get("numba") is not None, "threaded": len(threaded)}))
"""


def _runs(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "TRAFFICSIM_AHEAD"}
    env.update(PYTHONPATH=str(ROOT), TRAFFICSIM_AHEAD="1" if mode == "ahead" else "0")
    done = subprocess.run([sys.executable, "-c", RUNS, mode], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


def test_shipped_scenarios_run_on_them_without_numba_with_the_numpy_forms_results():
    """Every shipped scenario at its own (small) population: with the kernels compiled
    ahead and numba unimportable, its run, record and summary are the same bytes as on
    the numpy forms, every kernel call found its signature (none missed), and the
    compiled kernels really ran (their calls counted)."""
    ahead_runs, numpy_runs = _runs("ahead"), _runs("numpy")
    assert ahead_runs["missed"] == [] and not ahead_runs["numba"]
    assert ahead_runs["calls"] > 1000
    assert ahead_runs["threaded"] > 100 and numpy_runs["threaded"] == 0  # the ranking in threads: the same bytes
    assert numpy_runs["calls"] == 0
    assert set(ahead_runs["runs"]) == set(numpy_runs["runs"]) and len(ahead_runs["runs"]) >= 9
    for name, (digest, summary, used) in ahead_runs["runs"].items():
        assert used, name
        assert [digest, summary] == numpy_runs["runs"][name][:2], name
        assert not numpy_runs["runs"][name][2]
