"""Thread pools kept for the process's life: the feeds' threads (feeds/slots.py), a
platform's ranking threads (feeds/recommend.py) and the step's background thread
(model.py ``TrafficModel._in_background``). Each is made on first use, stays idle between
days, is made again when asked for another number of threads, and is forgotten in a
forked child (a sweep's worker, a user's own multiprocessing): the parent's threads do
not exist there, and work submitted to the inherited pool would wait forever."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor


class KeptPool:
    """One kept pool of threads named ``prefix``-N (see the module docstring)."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.pool: ThreadPoolExecutor | None = None
        self.threads = 0
        _KEPT.append(self)

    def get(self, threads: int) -> ThreadPoolExecutor:
        """The pool, of ``threads`` threads (a pool of another number is shut down first)."""
        if self.pool is None or self.threads != threads:
            if self.pool is not None:
                self.pool.shutdown()
            self.pool, self.threads = ThreadPoolExecutor(threads, thread_name_prefix=self.prefix), threads
        return self.pool

    def forget(self) -> None:
        """Drop the pool without waiting for it (a forked child: its threads are not there)."""
        self.pool, self.threads = None, 0


_KEPT: list[KeptPool] = []


def _forget_all() -> None:
    for kept in _KEPT:
        kept.forget()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_all)
