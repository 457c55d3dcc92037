"""``mesa``, imported without loading what this model never uses.

Importing mesa imports all of it: its network grid imports networkx and its experimental
continuous space imports scipy.spatial, together about a third of the time
``trafficsim run`` spent importing (issue 17; benchmarks/README.md, *Fixed per-run
costs*). The model uses mesa's ``Model``, ``Agent`` and ``DataCollector`` only, so before
mesa is first imported, ``networkx`` and ``mesa.experimental`` are given stand-ins in
``sys.modules`` (``_Deferred``): each is really imported on the first read of one of its
attributes, by anyone, and behaves as usual from then on. Nothing changes when
mesa (or networkx) was imported before, e.g. by the app.

    from ._mesa import mesa   # instead of ``import mesa``
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

LAZY = ("networkx", "mesa.experimental")


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


if "mesa" not in sys.modules:
    _mesa_spec = importlib.util.find_spec("mesa")
    if _mesa_spec is not None and _mesa_spec.submodule_search_locations:
        _defer("networkx")
        _defer("mesa.experimental", list(_mesa_spec.submodule_search_locations))

import mesa  # noqa: E402

__all__ = ["mesa"]
