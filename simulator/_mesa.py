"""``mesa``, imported without reading source lines it never uses.

mesa's logging, on import, names each module and class through ``inspect.stack()``,
which reads the source lines of every frame of the import's stack (~0.3 s of CPU here);
it uses only the frames and their functions' names, so while mesa is imported the two
``inspect`` functions it calls are given ``context=0`` (no source lines), then restored.
(The command line also defers the parts of mesa, and the other modules, that a run does
not use: simulator/_deferred.py.)

    from ._mesa import mesa   # instead of ``import mesa``
"""

from __future__ import annotations

import sys


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
