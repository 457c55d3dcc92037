"""Stand-ins for modules a command of ``trafficsim`` imports but does not use (or not yet).

Importing mesa imports all of it: its network grid imports networkx and its experimental
continuous space imports scipy.spatial, together about a third of the time
``trafficsim run`` spent importing (issue 17; benchmarks/README.md, *Fixed per-run
costs*). The model uses mesa's ``Model``, ``Agent`` and ``DataCollector`` only, so
:func:`defer_unused_imports`, called by the command line (``cli.main``) before the model
is imported, gives ``networkx`` and ``mesa.experimental`` stand-ins in ``sys.modules``
(``_Deferred``): each is really imported on the first read of one of its attributes, and
behaves as usual from then on. Nothing changes when mesa (or networkx) was imported
before.

Three more, for the same reason (``LATER``): pandas (mesa's DataCollector and the model
import it, a third of the model's import time; a run's own process never reads it: its
tables and summary are written without it, simulator/io/table.py), scipy's BLAS and LAPACK modules, which numba imports (with all of
``scipy.linalg``, ~0.2 s) to link the first cached kernel although no kernel of the model
calls them (a kernel that did would import them where numba reads them), and asyncio
(~0.15 s), which mesa's batch runner imports through tqdm's asyncio progress bar.

``trafficsim run`` also goes without pyarrow (``NOT_FOR_RUN``, :func:`skip_for_run`):
pandas imports it when it is installed, for its string type, which costs a third of pandas'
import (~0.1 s; the run's plot processes drew with pandas until they read numpy columns
instead), and a run's record is CSV, JSON and PNG: the files are the same either way (tests/test_fixed_costs.py).
Sweeps and calibration, which write parquet, keep it.

Only the command line installs them, in its own process (and the workers it forks),
where every later import is the package's own, and takes out those nobody read as it
returns. A stand-in cannot serve an import of one
of its *submodules* (``import pandas.api.types``, ``from pandas.testing import ...``):
the import system would run the submodule before its package's ``__init__``, and pandas
fails. So importing ``simulator`` as a library (a notebook, the app, a Dask worker)
installs none; tests/test_fixed_costs.py checks both. The one exception is
:func:`import_model`, a worker's first import of the model in a sweep, calibration or
comparison: its stand-ins live only while the model imports.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

# besides networkx and mesa.experimental (defer_unused_imports), the modules deferred for later
LATER = ("pandas", "scipy.linalg.cython_blas", "scipy.linalg.cython_lapack", "asyncio")
_INSTALLED: list[str] = []  # the names given a stand-in, for drop_unread_stand_ins
# what ``trafficsim run`` never reads although pandas imports it when installed (see above)
NOT_FOR_RUN = ("pyarrow",)
_SKIPPED: list[str] = []  # the names skip_for_run made unimportable, for drop_unread_stand_ins


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet. The import statement
    returns it as it is (it has its ``__spec__``); the first other attribute read imports
    the real module, which replaces it in ``sys.modules``, and is forwarded to it, as is
    every later one. (``importlib.util.LazyLoader`` cannot do this: the import statement
    itself reads ``__spec__``, which makes its modules load at once.)"""

    def __init__(self, name: str, spec) -> None:
        super().__init__(name)
        # what the import system and inspect.getmodule (which mesa's logging calls on
        # import, over every module) read without meaning to use the module
        self.__spec__, self.__loader__, self.__file__ = spec, spec.loader, spec.origin
        self.__package__ = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
        if spec.submodule_search_locations is not None:
            self.__path__ = list(spec.submodule_search_locations)

    def __getattr__(self, attr: str):
        real = self.__dict__.get("_deferred_real")
        if real is None:
            name = self.__name__
            if sys.modules.get(name) is self:
                del sys.modules[name]
            real = importlib.import_module(name)
            self.__dict__["_deferred_real"] = real
        return getattr(real, attr)


def _defer(name: str, search_path=None) -> None:
    """Put a stand-in for ``name`` in ``sys.modules`` (no-op if it is there or not found)."""
    if name in sys.modules:
        return
    if search_path is None:
        spec = importlib.util.find_spec(name)
    else:  # a submodule of a package not imported yet: look in the package's folder
        spec = importlib.machinery.PathFinder.find_spec(name, search_path)
    if spec is not None:
        sys.modules[name] = _Deferred(name, spec)
        _INSTALLED.append(name)


def _defer_nested(name: str) -> None:
    """:func:`_defer` for a dotted ``name`` whose packages are not imported either (found
    folder by folder, nothing imported)."""
    if name in sys.modules:
        return
    parts = name.split(".")
    spec = importlib.util.find_spec(parts[0]) if parts[0] not in sys.modules else sys.modules[parts[0]].__spec__
    for k in range(1, len(parts)):
        if spec is None or spec.submodule_search_locations is None:
            return
        sub = ".".join(parts[: k + 1])
        module = sys.modules.get(sub)
        spec = module.__spec__ if module is not None and k < len(parts) - 1 else \
            importlib.machinery.PathFinder.find_spec(sub, list(spec.submodule_search_locations))
    if spec is not None:
        sys.modules[name] = _Deferred(name, spec)
        _INSTALLED.append(name)


def defer_unused_imports() -> None:
    """Install the stand-ins (see the module docstring); a no-op once mesa is imported."""
    if "mesa" not in sys.modules:
        _install(LATER)


def _install(later) -> None:
    """Stand-ins for networkx, ``mesa.experimental`` and the modules named in ``later``
    (nothing when mesa is not installed)."""
    mesa_spec = importlib.util.find_spec("mesa")
    if mesa_spec is None or not mesa_spec.submodule_search_locations:
        return
    _defer("networkx")
    _defer("mesa.experimental", list(mesa_spec.submodule_search_locations))
    for name in later:
        _defer_nested(name)


# what a worker's first run defers while it imports the model (not pandas: a worker
# imports it with the sweep's or calibration's own module, before any run)
WHILE_IMPORTING = ("asyncio", "scipy.linalg.cython_blas", "scipy.linalg.cython_lapack")


def import_model():
    """``simulator.model.TrafficModel``, for a run in a worker (sweeps, calibration,
    comparisons). The first import in a process (mesa not imported yet) is made with
    stand-ins for networkx, ``mesa.experimental`` and ``WHILE_IMPORTING`` in
    ``sys.modules`` *while it imports* (~0.4 s of CPU fewer in each fresh worker), and
    those nobody read are taken out again at once: unlike the command line's, they never
    outlive the import, so later imports in a user's worker (submodules included) are the
    real modules, and a module that kept a stand-in still gets the real one on its first
    read."""
    if "mesa" not in sys.modules:
        start = len(_INSTALLED)
        try:
            _install(WHILE_IMPORTING)
            from .model import TrafficModel
        finally:
            for name in _INSTALLED[start:]:
                if isinstance(sys.modules.get(name), _Deferred):
                    del sys.modules[name]
            del _INSTALLED[start:]
        return TrafficModel
    from .model import TrafficModel

    return TrafficModel


def skip_for_run() -> None:
    """Make ``NOT_FOR_RUN`` unimportable in this process (a ``None`` entry in
    ``sys.modules``: its import raises ImportError, which pandas expects of an optional
    package), where it is not imported yet. ``trafficsim run`` only, before it forks its
    plot process."""
    for name in NOT_FOR_RUN:
        if name not in sys.modules:
            sys.modules[name] = None
            _SKIPPED.append(name)


def drop_unread_stand_ins() -> None:
    """Take the stand-ins nobody read out of ``sys.modules``, and what :func:`skip_for_run`
    made unimportable (``cli.main`` does as it returns: called in a user's interpreter, it
    leaves no stand-in behind). A module that kept one still gets the real module on its
    first read."""
    for name in _INSTALLED:
        if isinstance(sys.modules.get(name), _Deferred):
            del sys.modules[name]
    _INSTALLED.clear()
    for name in _SKIPPED:
        if name in sys.modules and sys.modules[name] is None:
            del sys.modules[name]
    _SKIPPED.clear()
