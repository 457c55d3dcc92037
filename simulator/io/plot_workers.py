"""The run record's plots, drawn in two forked processes while the run goes on.

Drawing the nine PNGs of a run record with matplotlib took longer than the default run's
simulation, and importing matplotlib most of a second more (issue 17; benchmarks/README.md,
*Fixed per-run costs*). ``trafficsim run`` therefore forks a plot process before it imports
the model: that process imports matplotlib (not pandas: the plots read numpy columns) on
the other core while this one builds the world and simulates, and makes every figure
ahead (``plots.prepare``: axes and tick marks, a third of the drawing), then forks a
helper, which inherits them: one plot process at a time competes with the run for the
cores. Should the run be written before all figures are made, the rest are made as they
are drawn.
When the run is written, the plot process receives the plots' inputs (the metrics and
merchants tables, the creators' exposure: small) and passes them to the helper, and the
two draw while this process writes the tables, each taking the next plot not yet taken
(``ORDER``: heaviest first) until none is left, so that neither waits for the other's
share when a plot or a core runs slower than usual; it answers with each file's outcome.
An exception raised while drawing (Ctrl-C included) is sent back and raised here, as if
the plot had been drawn in this process.

Only where ``fork`` exists (Linux); elsewhere, or if the process cannot be started, the
plots are drawn in this process, as before. The files are the same either way.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

# the record's plots, heaviest first: the two drawing processes take them in this order,
# each the next one not yet taken, so the last to be taken are small (CPU s in a
# douyin.toml run's plot processes: ecosystem 0.36-0.52, year_dynamics 0.28-0.43, the
# others 0.05-0.10 each)
ORDER = ("ecosystem", "year_dynamics", "cac_over_time", "gmv_by_domain", "lorenz_curves",
         "fan_tiers", "group_size", "merchant_roi", "domain_shares")


class PlotTable:
    """A table a plot reads, sent as its rows (a list of dicts) or columns (a dict), which
    the plots read as numpy columns (``plots._columns``): neither the run's own process
    (its tables are written without it, simulator/io/table.py) nor the plot processes
    import pandas (~0.4 s of CPU, which the run waited for at its end)."""

    def __init__(self, data):
        self.data = data


def plot_jobs(model, folder: Path, metrics: dict | None = None) -> list[tuple[str, tuple]]:
    """The run record's plots as ``(function name in io.plots, arguments)``, in ``ORDER``;
    their tables as :class:`PlotTable` (unwrapped by :func:`draw`). ``metrics``: the
    metric rows as columns (``table.rows_columns``), sent instead of the rows where given:
    pickled ~100x faster for a year's rows (ecosystem.toml: 1,460 rows, ~0.1 s to pickle
    as dicts)."""
    from .frames import merchant_strategy_roi, metrics_rows

    metrics = PlotTable(metrics if metrics is not None else metrics_rows(model))  # (columns: no rows to transpose)
    merchants = PlotTable(merchant_strategy_roi(model))
    exposure = {name: model.creators.impressions[platform.index].sum(axis=1) for name, platform in model.platforms.items()}
    args = {"domain_shares": (metrics, folder / "domain_shares.png"),
            "lorenz_curves": (exposure, folder / "lorenz.png"),
            "fan_tiers": (metrics, folder / "fan_tiers.png"),
            "gmv_by_domain": (metrics, folder / "gmv_by_domain.png"),
            "cac_over_time": (metrics, folder / "cac.png"),
            "group_size": (metrics, folder / "group_size.png"),
            "merchant_roi": (merchants, folder / "merchant_roi.png"),
            "year_dynamics": (metrics, folder / "dynamics.png"),
            "ecosystem": (metrics, folder / "ecosystem.png")}
    return [(name, args[name]) for name in ORDER]


def draw(jobs) -> list[BaseException | None]:
    """Draw ``jobs`` in this process; each job's exception (or None)."""
    from . import plots

    def table(arg):
        return arg.data if isinstance(arg, PlotTable) else arg

    out = []
    for name, args in jobs:
        try:
            getattr(plots, name)(*map(table, args))
            out.append(None)
        except Exception as exc:  # sent back and raised by the writer
            out.append(exc)
        except BaseException as exc:  # Ctrl-C: the rest is not drawn
            return out + [exc] * (len(jobs) - len(out))
    return out


def _picklable(exc: BaseException | None) -> BaseException | None:
    if exc is None:
        return None
    try:
        pickle.dumps(exc)
        return exc
    except Exception:  # noqa: BLE001  (an exception that cannot travel: its text does)
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _draw_taken(jobs, taken) -> dict[int, BaseException | None]:
    """Draw the jobs this process takes: the next one not yet taken (``taken``: a shared
    counter, the index of the next job), until none is left; each taken job's outcome
    (its exception, picklable, or None) by index. After a Ctrl-C it takes no more."""
    out = {}
    while True:
        with taken.get_lock():
            k = taken.value
            taken.value = k + 1
        if k >= len(jobs):
            return out
        exc = draw([jobs[k]])[0]
        out[k] = _picklable(exc)
        if exc is not None and not isinstance(exc, Exception):
            return out


def _helper(conn, jobs_end, taken) -> None:
    """The plot helper (a fork of the plot process, the figures made ahead there): wait
    for the jobs, draw those it takes, answer with their outcomes, exit."""
    status = 0
    try:
        conn.close()
        jobs = jobs_end.recv()
        if jobs is not None:
            jobs_end.send(_draw_taken(jobs, taken))
    except BaseException:  # noqa: BLE001  (the plot process finds out: EOF)
        status = 1
    finally:
        os._exit(status)


def _serve(conn, parent_end, panels: int = 1) -> None:
    """The plot process: import the plotting stack, make the figures ahead (until the
    jobs arrive, if they come first), fork the helper (which inherits them and waits),
    wait for one batch of jobs, draw it with the helper (each taking the next job not yet
    taken), answer, exit. One process makes all the figures before the fork, so that while
    the run simulates it competes with one plot process for the 2 cores, not two."""
    parent_end.close()
    code, pid = 0, 0
    try:
        from . import plots
        import multiprocessing

        for name in ORDER:
            if conn.poll():  # the run is written: draw now (the figures not made yet are made as drawn)
                break
            plots.prepare((name,), panels)
        ctx = multiprocessing.get_context("fork")
        taken = ctx.Value("l", 0)  # the index of the next job not yet taken, shared with the helper
        mine, theirs = ctx.Pipe()  # the jobs there, the helper's outcomes back
        pid = os.fork()
        if pid == 0:
            mine.close()
            _helper(conn, theirs, taken)
        theirs.close()
        jobs = conn.recv()
        if jobs is None:
            return
        mine.send(jobs)
        results = _draw_taken(jobs, taken)
        try:
            results.update(mine.recv())
        except EOFError:  # the jobs it took are not drawn
            pass
        os.waitpid(pid, 0)
        pid = 0
        lost = RuntimeError("the plot helper process died")
        conn.send([results.get(k, lost) for k in range(len(jobs))])
    except BaseException:  # noqa: BLE001  (Ctrl-C or a broken pipe: the writer finds out)
        code = 1
    finally:
        if pid:  # the helper still waits or draws: stop and reap it
            try:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
            except OSError:
                pass
        conn.close()
        os._exit(code)


class PlotProcess:
    """A forked plot process (see the module docstring). ``PlotProcess.start()`` returns
    None where fork is unavailable or fails: the caller then draws in-process."""

    def __init__(self, proc, conn):
        self._proc, self._conn = proc, conn

    @classmethod
    def start(cls, panels: int = 1) -> "PlotProcess | None":
        """``panels``: the run's platforms (the per-platform plots' panels), for the
        figures made ahead."""
        if not sys.platform.startswith("linux"):
            return None
        try:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(there, here, panels), daemon=True, name="trafficsim-plots")
            proc.start()
            there.close()
            return cls(proc, here)
        except (OSError, ValueError, RuntimeError):
            return None

    def submit(self, jobs) -> None:
        """Send the jobs (the process starts drawing at once)."""
        try:
            self._conn.send(jobs)
        except OSError:  # the process is gone: results() draws them here
            pass

    def results(self, jobs) -> None:
        """Wait for the submitted jobs; raise the first job's exception, if any. If the
        process died, draw the jobs here instead."""
        try:
            results = self._conn.recv()
        except (EOFError, OSError):
            results = draw(jobs)
        finally:
            self.close()
        for exc in results:
            if exc is not None:
                raise exc

    def close(self) -> None:
        """Stop the process (if it still runs) and reap it."""
        try:
            self._conn.close()
        finally:
            if self._proc.is_alive():
                self._proc.join(timeout=0.5)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
