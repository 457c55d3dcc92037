"""The run record: everything a run leaves behind, written atomically.

Files are written into a hidden sibling folder (``.DIR.partial-<pid>``) and the folder
is renamed to DIR only when every file is complete, so a crashed or killed run never
leaves a DIR that looks finished. A run killed outright (``kill -9``, power loss) leaves
its hidden partial folder behind; the next run into the same parent folder removes the
partial folders whose process is gone.

numpy and matplotlib are imported where they are used, so that the command line can
check its inputs and answer ``--help`` without loading them; mesa not at all (the
records read its version from its installed metadata, :func:`environment`). The tables and the
summary are written without pandas (simulator/io/table.py): ``trafficsim run`` never
imports it in its own process, only in its plot processes.
"""

from __future__ import annotations

import errno
import json
import os
import platform as _platform
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .. import __version__

RUN_FILES = ("scenario.toml", "manifest.json", "metrics.csv", "summary.json", "creators.csv", "merchants.csv",
             "items.csv", "plots/domain_shares.png", "plots/lorenz.png", "plots/fan_tiers.png", "plots/gmv_by_domain.png",
             "plots/cac.png", "plots/group_size.png", "plots/merchant_roi.png", "plots/dynamics.png", "plots/ecosystem.png",
             "report.html")


class OutputError(RuntimeError):
    """The output folder cannot be used (a user error, exit code 2)."""


def default_out_dir(name: str, root: Path = Path("outputs")) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{name}-{stamp}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = Path(f"{base}-{k}")
    return out


def check_writable(out: Path) -> None:
    """Fail now, before any simulation, if ``out`` could not be created: its nearest
    existing ancestor must be a folder in which we can create (and remove) a folder."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file, not a folder (choose another --out)")
    parent = out.parent if not out.exists() else out
    parent = Path(os.path.abspath(parent))
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{out}: cannot create the output folder: {parent} is a file")
    try:
        probe = tempfile.mkdtemp(prefix=".trafficsim-probe-", dir=parent)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise OutputError(f"{out}: cannot create a folder in {parent} ({reason}; choose another --out)") from None
    os.rmdir(probe)


def check_out_dir(out: Path) -> None:
    """``out`` must be new or an empty folder, and writable (see :func:`check_writable`)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out}: is a file, not a folder (choose another --out)")
    if out.exists() and any(out.iterdir()):
        raise OutputError(f"{out}: output folder exists and is not empty (choose another --out)")
    check_writable(out)


_PARTIAL = re.compile(r"^\..+\.partial-(\d+)$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: the process exists but belongs to someone else
        return True
    return True


def clean_stale_partials(parent: Path) -> list[Path]:
    """Remove the hidden ``.NAME.partial-PID`` folders in ``parent`` whose process is no
    longer alive (left by a run killed while writing); return what was removed."""
    removed = []
    try:
        entries = list(Path(parent).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _PARTIAL.match(p.name)
        if m and p.is_dir() and not p.is_symlink() and not _alive(int(m.group(1))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextmanager
def atomic_dir(out: Path):
    """Yield a temporary folder; on success it becomes ``out``, on failure (an exception,
    Ctrl-C) it is removed. Stale partial folders of killed runs in the same parent are
    removed first."""
    check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for p in clean_stale_partials(out.parent):
        print(f"trafficsim: removed {p}, left by a run that was killed while writing", file=sys.stderr)
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()  # empty, checked above
    os.replace(tmp, out)


def json_default(o):
    """JSON encoder for numpy scalars (the one encoder of run records and sweep files)."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    raise TypeError(type(o))


def _clean(d):
    """NaN → None (JSON null), recursively in dicts."""
    if isinstance(d, dict):
        return {k: _clean(v) for k, v in d.items()}
    np = sys.modules.get("numpy")  # no numpy value without numpy loaded
    if isinstance(d, (float, np.floating) if np else float) and d != d:
        return None
    return d


def to_json(data, indent: int | None = 2) -> str:
    """``data`` as JSON text, NaN written as null."""
    return json.dumps(_clean(data), indent=indent, sort_keys=False, default=json_default)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename: readers see the
    old file or the new one, never half of it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_json(path: Path, data) -> None:
    write_text_atomic(path, to_json(data) + "\n")


_MACHINE: str | None = None  # platform.platform(), read once a process (it costs ~40 ms)


def _machine() -> str:
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = _platform.platform()
    return _MACHINE


def library_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, read from its metadata (the library is
    not imported); the module's ``__version__`` if it is already loaded but not installed
    as a distribution, else None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return getattr(sys.modules.get(distribution), "__version__", None)


PACKAGE_DIR = Path(__file__).resolve().parent.parent  # simulator/, whose source files :func:`code_identity` hashes
GIT = "git"  # the git executable code_identity asks (tests name one that does not exist)
_CODE: dict | None = None  # code_identity(), computed once a process
_SOURCE: tuple | None = None  # (source_sha256(),), computed once a process where code_identity() was not


def source_files(package: Path = PACKAGE_DIR) -> list[tuple[str, str]]:
    """The package's own source files, ``**/*.py`` under ``package`` (``__pycache__``
    skipped), as (path relative to ``package``, ``/``-separated; file path) in sorted order
    of the relative path: what :func:`source_hash` reads. (os.walk: ~0.3 ms, a quarter of
    Path.rglob's.)"""
    found = []
    for folder, dirs, names in os.walk(package):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = Path(folder).relative_to(package).as_posix()
        found += [(name if rel == "." else f"{rel}/{name}", os.path.join(folder, name))
                  for name in names if name.endswith(".py")]
    return sorted(found)


def source_hash(package: Path = PACKAGE_DIR) -> str:
    """A short hash (the first 16 hex digits of a sha256) of the package's source files
    (:func:`source_files`): each file's relative path, its length and its bytes, in that
    order. The same code gives the same hash in a git checkout and in an installed copy;
    any edit, added, removed or renamed file changes it. (~2 ms for simulator/'s 1.2 MB.)"""
    import hashlib

    h = hashlib.sha256()
    for rel, path in source_files(package):
        with open(path, "rb") as f:
            data = f.read()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:16]


def _git_start(package: Path):
    """Start ``git status`` in the checkout ``package`` belongs to, or say why not: the
    package must be the ``simulator/`` folder at the top of a git work tree (not, say, an
    installed copy in a virtualenv that lives inside some checkout)."""
    import subprocess

    root = package.parent
    if not (root / ".git").exists():
        return f"not a git checkout ({root} has no .git)"
    env = {k: v for k, v in os.environ.items() if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE")}
    try:  # the commit (branch.oid) and the tracked files under simulator/ that differ from it
        return subprocess.Popen([GIT, "--no-optional-locks", "status", "--porcelain=v2", "--branch",
                                 "--no-ahead-behind", "--untracked-files=no", "--", package.name],
                                cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    except OSError as exc:  # FileNotFoundError: no git on PATH
        return "git not found" if isinstance(exc, FileNotFoundError) else f"git could not start ({exc})"


def _git_finish(proc) -> tuple[str | None, bool | None, str | None]:
    """(commit, dirty, note) from :func:`_git_start`'s process or its reason string."""
    import subprocess

    if isinstance(proc, str):
        return None, None, proc
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None, None, "git status timed out"
    if proc.returncode != 0:
        return None, None, f"git status failed: {(err.strip().splitlines() or ['exit code %d' % proc.returncode])[-1]}"
    lines = out.splitlines()
    oid = next((ln.split()[2] for ln in lines if ln.startswith("# branch.oid ")), None)
    if oid is None or oid == "(initial)":
        return None, None, "no commit yet"
    return oid, any(not ln.startswith("#") for ln in lines), None


def code_identity(package: Path | None = None) -> dict:
    """Which code made a record (manifest key ``code``): ``source_sha256``, the
    :func:`source_hash` of the package's source files, always; and, when the package runs
    from a git checkout, ``git_commit`` (HEAD) and ``git_dirty`` (whether tracked files
    under simulator/ differ from it: then the hash, not the commit, names the code), else
    both null and ``git_note`` saying why (not a git checkout, git not found, git failed).
    Never raises for want of git. Computed once a process (git runs while the files are
    hashed: ~5-10 ms); ``package``: another folder, not cached (tests)."""
    global _CODE
    if package is None and _CODE is not None:
        return dict(_CODE)
    pkg = PACKAGE_DIR if package is None else Path(package).resolve()
    proc = _git_start(pkg)
    try:
        digest, unread = source_hash(pkg), None
    except OSError as exc:  # (a record is still written: it says why the hash is missing)
        digest, unread = None, f"source files unreadable ({exc})"
    commit, dirty, note = _git_finish(proc)
    code = {"source_sha256": digest, "git_commit": commit, "git_dirty": dirty,
            "git_note": "; ".join(n for n in (note, unread) if n) or None}
    if package is None:
        _CODE = code
    return dict(code)


def source_sha256() -> str | None:
    """This process's :func:`source_hash` of the package (``code_identity``'s
    ``source_sha256``, without asking git: ~2 ms once a process), or None if the source
    files cannot be read. Sweep and calibration workers stamp each run with it, so a
    folder whose runs came from different code (a resumed sweep, a cluster's workers)
    says so."""
    global _SOURCE
    if _CODE is not None:
        return _CODE["source_sha256"]
    if _SOURCE is None:
        try:
            _SOURCE = (source_hash(PACKAGE_DIR),)
        except OSError:
            _SOURCE = (None,)
    return _SOURCE[0]


def mixed_code_warning(folder, counts: dict, results: str) -> str | None:
    """The warning a sweep or calibration prints when the runs in ``folder`` are not all
    this code's (``counts``: :func:`code_counts`; ``results``: the table whose ``code``
    column says which run is whose), else None."""
    mine = source_sha256()
    if not set(counts) - {mine}:
        return None
    known = {c: n for c, n in counts.items() if c != "unknown"}
    said = ", ".join(f"{c}: {n} runs" for c, n in known.items())
    unknown = (f"{counts['unknown']} runs recorded before runs named their code" if "unknown" in counts else "")
    return (f"warning: not every run in {folder} was made by this code (source hash {mine}): "
            + "; ".join(x for x in (f"source hashes {said}" if said else "", unknown) if x)
            + f"; the code column of {results} says which")


def code_counts(codes) -> dict:
    """{source hash: runs} of a folder's runs (a run recorded before the stamp: "unknown")."""
    out: dict = {}
    for c in codes:
        key = "unknown" if c is None else str(c)
        out[key] = out.get(key, 0) + 1
    return out


def environment() -> dict:
    """What a record says of the software and machine that made it: the python version,
    the versions of numpy and mesa (read from their installed metadata, so neither is
    imported: a sweep's own process never loads mesa, nor networkx and asyncio with it),
    whether this process's small runs use the kernels compiled ahead
    (:func:`simulator.feeds.ahead.status`; runs under 50,000 users use them, with the same
    results either way), the machine (``platform.platform()``, read once a process) and
    the code (:func:`code_identity`: git commit and source hash, computed once a process).
    The run and comparison manifests (:func:`manifest`) and a sweep's ``sweep.json`` carry
    these keys."""
    from ..feeds import ahead

    return {"python": sys.version.split()[0], "numpy": library_version("numpy"), "mesa": library_version("mesa"),
            "kernels_ahead": ahead.status(), "machine": _machine(), "code": code_identity()}


def manifest(*, command: list[str] | None, files, **fields) -> dict:
    """The manifest of a run or comparison record: version, the record's own ``fields``
    (scenario, seed, steps, replicates, timings...), the command, the library versions,
    whether the kernels compiled ahead are loaded, the machine (:func:`environment`) and
    the files written. With a command, the folder it ran in (``cwd``: its relative paths
    are relative to it)."""
    where = {"cwd": os.getcwd()} if command is not None else {}
    return {"trafficsim_version": __version__, **fields, "command": command, **where, **environment(),
            "files": list(files)}


def write_table(path: Path, columns: dict) -> None:
    """Write a table's ``columns`` as CSV, as ``pd.DataFrame(columns).to_csv(path,
    index=False)`` does: without pandas (:func:`~simulator.io.table.write_csv`) unless a
    column is of a kind only pandas writes."""
    from .table import write_csv

    if not write_csv(path, columns):
        import pandas as pd

        pd.DataFrame(columns).to_csv(path, index=False)


def _metrics(model) -> dict | None:
    """The metric rows as columns (None where pandas must type them), transposed once for
    the plots, the table and the summary."""
    from .table import rows_columns

    return rows_columns(model._rows)


def _summary(model, columns: dict | None) -> dict:
    """The run's summary from the metric columns (``model.summary()``'s)."""
    from .table import Table

    return model.summary_of(Table(columns) if columns is not None else model.metrics_frame())


def write_run(model, out: Path, *, command: list[str], timings: dict, plotter=None) -> Path:
    """Write the run record of a finished model to ``out`` (atomically). ``plotter``: a
    started :class:`~simulator.io.plot_workers.PlotProcess` draws the plots while the
    tables are written (``trafficsim run``); without one they are drawn here."""
    from ..config import to_toml
    from . import frames, report
    from .plot_workers import draw, plot_jobs

    t0 = time.perf_counter()
    with atomic_dir(out) as tmp:
        (tmp / "plots").mkdir()
        metrics = _metrics(model)
        jobs = plot_jobs(model, tmp / "plots", metrics)
        if plotter is not None:  # first: the plots are drawn while the tables are written here
            plotter.submit(jobs)
        summary = _summary(model, metrics)
        toml = to_toml(model.scenario)
        (tmp / "scenario.toml").write_text(toml)
        if metrics is not None:
            write_table(tmp / "metrics.csv", metrics)
        else:
            model.metrics_frame().to_csv(tmp / "metrics.csv", index=False)
        write_json(tmp / "summary.json", summary)
        write_table(tmp / "creators.csv", frames.creators_columns(model))
        write_table(tmp / "merchants.csv", frames.merchants_columns(model))
        write_table(tmp / "items.csv", frames.items_columns(model))
        # the manifest made while the plots are drawn, its write_s filled in once they are
        record = manifest(command=command, files=RUN_FILES, scenario=model.scenario.name, seed=model.scenario.seed,
                          steps=int(model.steps), timings=timings)
        if plotter is not None:
            plotter.results(jobs)
        else:
            for exc in draw(jobs):
                if exc is not None:
                    raise exc
        record["timings"] = {**timings, "write_s": round(time.perf_counter() - t0, 3)}  # (the same key's place)
        write_json(tmp / "manifest.json", record)
        write_text_atomic(tmp / "report.html", report.run_report(
            summary, record, [tmp / f for f in RUN_FILES if f.startswith("plots/")], {model.scenario.name: toml}))
    return out
