"""Build ``simulator.feeds._ahead``: the kernels of :data:`.ahead.SIGNATURES` compiled
ahead of time with numba's ``pycc`` (see :mod:`.ahead`).

``setup.py`` calls :func:`build` when the package is installed; ``python -m
simulator.feeds.ahead_build`` rebuilds it in place (after editing ``kernels.py`` or the
signatures). It loads ``kernels.py`` and ``ahead.py`` by path, without the package, so
that it runs in pip's build environment (numba and numpy only). Takes ~15-20 s.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import sysconfig
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _by_path(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba resolves the functions' globals through it
    spec.loader.exec_module(module)
    return module


def _constant_function(name: str, value: int):
    """A function ``name`` returning the constant ``value`` (numba compiles it as a literal)."""
    namespace: dict = {}
    exec(f"def {name}():\n    return {value}\n", namespace)
    return namespace[name]


@contextlib.contextmanager
def _build_flags(flags: tuple):
    """Within it, every kernel ``pycc`` exports is compiled with numba's compiler ``flags``
    set (:data:`.ahead.BUILD_FLAGS`: ``release_gil``, which ``nogil`` sets under the JIT).
    ``pycc`` has no option for them: it compiles its exports with the flags of
    ``numba.core.compiler.Flags()``, the class its module imported, which is replaced
    meanwhile by one whose instances start with them set."""
    from numba.pycc import compiler as pycc_compiler

    base = pycc_compiler.Flags

    class BuildFlags(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in flags:
                setattr(self, name, True)

    pycc_compiler.Flags = BuildFlags
    try:
        yield
    finally:
        pycc_compiler.Flags = base


def build(target: Path) -> Path:
    """Compile the kernels ahead into the extension module file ``target`` (its name
    must be ``_ahead`` plus the interpreter's extension suffix). Returns ``target``."""
    target = Path(target)
    with tempfile.TemporaryDirectory() as cache:
        # numba's cache of the kernels loaded by path would land beside kernels.py
        os.environ["NUMBA_CACHE_DIR"] = cache
        from numba import njit, types
        from numba.core import sigutils
        from numba.pycc import CC

        ahead = _by_path("_trafficsim_ahead_build_ahead", HERE / "ahead.py")
        kernels = _by_path("_trafficsim_ahead_build_kernels", HERE / "kernels.py")
        cc = CC(ahead.MODULE)
        cc.output_dir = str(target.parent)
        cc.output_file = target.name
        cc.verbose = False
        for name, sigs in ahead.SIGNATURES.items():
            dispatcher = getattr(kernels, name)
            for i, sig in enumerate(sigs):
                args = sigutils._parse_signature_string(f"({sig},)")
                args = tuple(args) if isinstance(args, tuple) else (args,)
                # the return type, as numba's JIT infers it (on one thread: faster to compile)
                serial = njit(dispatcher.py_func)
                serial.compile(args)
                ret = serial.overloads[args].signature.return_type
                cc.export(ahead.export_name(name, i), ret(*args))(dispatcher.py_func)
        cc.export(ahead.DIGEST_FN, types.int64())(_constant_function(ahead.DIGEST_FN, ahead.digest()))
        # for this machine's CPU where it is known (ahead.cpu_digest), else for any x86-64
        cpu = ahead.cpu_digest()
        cc.target_cpu = "host" if cpu else ""
        cc.export(ahead.CPU_FN, types.int64())(_constant_function(ahead.CPU_FN, cpu))
        target.parent.mkdir(parents=True, exist_ok=True)
        with _build_flags(ahead.BUILD_FLAGS):
            cc.compile()
    return target


def default_target() -> Path:
    return HERE / f"_ahead{sysconfig.get_config_var('EXT_SUFFIX')}"


def main() -> None:
    import time

    t0 = time.perf_counter()
    target = build(default_target())
    print(f"built {target} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
