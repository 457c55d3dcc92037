"""``mesa``, imported without loading what this model never uses (or not yet).

Importing mesa imports all of it: its network grid imports networkx and its experimental
continuous space imports scipy.spatial, together about a third of the time
``trafficsim run`` spent importing (issue 17; benchmarks/README.md, *Fixed per-run
costs*). The model uses mesa's ``Model``, ``Agent`` and ``DataCollector`` only, so before
mesa is first imported, ``networkx`` and ``mesa.experimental`` are given stand-ins in
``sys.modules`` (``_Deferred``): each is really imported on the first read of one of its
attributes, by anyone, and behaves as usual from then on. Nothing changes when
mesa (or networkx) was imported before, e.g. by the app.

Two more, for the same reason (``LATER``): pandas (mesa's DataCollector and the model
import it, a third of the model's import time; a run needs it only for its tables, once
it has simulated) and scipy's BLAS and LAPACK modules, which numba imports (with all of
``scipy.linalg``, ~0.2 s) to link the first cached kernel although no kernel of the model
calls them; a kernel that did would import them where numba reads them; and asyncio
(~0.15 s), which mesa's batch runner imports through tqdm's asyncio progress bar.

And mesa's logging, on import, names each module and class through ``inspect.stack()``,
which reads the source lines of every frame of the import's stack (~0.3 s of CPU here);
it uses only the frames and their functions' names, so while mesa is imported the two
``inspect`` functions it calls are given ``context=0`` (no source lines), then restored.

    from ._mesa import mesa   # instead of ``import mesa``
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types

LAZY = ("networkx", "mesa.experimental")
LATER = ("pandas", "scipy.linalg.cython_blas", "scipy.linalg.cython_lapack", "asyncio")


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


if "mesa" not in sys.modules:
    _mesa_spec = importlib.util.find_spec("mesa")
    if _mesa_spec is not None and _mesa_spec.submodule_search_locations:
        _defer("networkx")
        _defer("mesa.experimental", list(_mesa_spec.submodule_search_locations))
        for _name in LATER:
            _defer_nested(_name)


def _import_mesa():
    """``import mesa`` with ``inspect.stack`` and ``inspect.getouterframes`` reading no
    source lines (see the module docstring)."""
    import inspect

    stack, outer = inspect.stack, inspect.getouterframes
    inspect.stack = lambda context=1: stack(0)
    inspect.getouterframes = lambda frame, context=1: outer(frame, 0)
    try:
        import mesa
    finally:
        inspect.stack, inspect.getouterframes = stack, outer
    return mesa


mesa = sys.modules["mesa"] if "mesa" in sys.modules else _import_mesa()

__all__ = ["mesa"]
