"""Builds the one compiled part of the package: ``simulator.feeds._ahead``, the kernels a
small run calls, compiled ahead of time by numba (simulator/feeds/ahead.py says why).
Everything else about the package is in pyproject.toml. The build is optional: where it
fails (no C compiler, say) the package installs without it and small runs use the numpy
forms of the kernels, with the same results, a little more slowly."""

import importlib.util
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

AHEAD = "simulator.feeds._ahead"


class BuildAhead(build_ext):
    """build_ext for the kernels compiled ahead: numba's pycc makes the module itself."""

    def build_extension(self, ext):
        if ext.name != AHEAD:
            return super().build_extension(ext)
        target = Path(self.get_ext_fullpath(ext.name))
        spec = importlib.util.spec_from_file_location(
            "_trafficsim_ahead_build", Path(__file__).resolve().parent / "simulator" / "feeds" / "ahead_build.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            module.build(target)
        except Exception as exc:  # optional: small runs then use the numpy forms (the same results)
            print(f"warning: the kernels compiled ahead were not built ({type(exc).__name__}: {exc}); "
                  "small runs will use the numpy forms of the kernels")


setup(ext_modules=[Extension(AHEAD, sources=[], optional=True)], cmdclass={"build_ext": BuildAhead})
