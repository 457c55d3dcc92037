"""Builds the one compiled part of the package: ``simulator.feeds._ahead``, the kernels a
small run calls, compiled ahead of time by numba (simulator/feeds/ahead.py says why).
Everything else about the package is in pyproject.toml. The build is optional: where it
fails (no C compiler, say) the package installs without it and small runs use the numpy
forms of the kernels, with the same results, a little more slowly.

An editable install (``pip install -e .``, the README's) also byte-compiles the package's
modules where they are, as pip does for a regular install: where bytecode is never
written (``PYTHONDONTWRITEBYTECODE``, common in containers; a read-only checkout) every
``trafficsim`` process would otherwise compile each module it imports from source again
(issue #17: ~35 ms of an input error's ~0.45 s, ~0.1 s of ``trafficsim run``). A module
edited since is compiled afresh as usual (its cached bytecode no longer matches)."""

import compileall
import importlib.util
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

AHEAD = "simulator.feeds._ahead"
PACKAGE = Path(__file__).resolve().parent / "simulator"


class BuildAhead(build_ext):
    """build_ext for the kernels compiled ahead: numba's pycc makes the module itself; in
    place (an editable install), the package's modules byte-compiled too."""

    def run(self):
        super().run()
        if self.inplace:  # (a wheel's modules are byte-compiled by the installer)
            compileall.compile_dir(PACKAGE, quiet=1)

    def build_extension(self, ext):
        if ext.name != AHEAD:
            return super().build_extension(ext)
        target = Path(self.get_ext_fullpath(ext.name))
        spec = importlib.util.spec_from_file_location(
            "_trafficsim_ahead_build", PACKAGE / "feeds" / "ahead_build.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            module.build(target)
        except Exception as exc:  # optional: small runs then use the numpy forms (the same results)
            print(f"warning: the kernels compiled ahead were not built ({type(exc).__name__}: {exc}); "
                  "small runs will use the numpy forms of the kernels")


setup(ext_modules=[Extension(AHEAD, sources=[], optional=True)], cmdclass={"build_ext": BuildAhead})
