"""Fuzz test of the command line (issue 13, "Tests"): random, seeded mutations of the
shipped scenario and sweep files (wrong types, negative, NaN, inf, huge, empty lists and
tables, unknown and missing keys, scalars for tables, folders, binary and empty files,
bad ``extends``/``base`` targets, bad ``--set``) are fed to ``simulator.cli.main`` in this
process. Every case must end in exit 0 (the input was valid and the run finished) or exit
2 with one ``trafficsim: error:`` line, never an exception, a traceback or exit 3.

Runs are kept tiny (1 day, 50 users) so that the valid cases finish in well under a
second each; the whole test takes about half a minute. The seed fixes the cases: a
failure names the case, and the mutated files stay in pytest's tmp folder to reproduce it.
``TRAFFICSIM_FUZZ_SEED=N pytest tests/test_cli_fuzz.py`` tries other cases.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tomllib
from pathlib import Path

import pytest

from simulator.cli import main

from .conftest import SCENARIOS

SEED = int(os.environ.get("TRAFFICSIM_FUZZ_SEED", "13"))  # another seed explores other cases
N_SCENARIO_CASES = 150
N_SWEEP_CASES = 40

TINY_SETS = ["--set", "population.users=50", "--set", "population.creators=10", "--set", "population.merchants=1"]
BAD_VALUES = [-1, -1e9, 0, 0.0, math.nan, math.inf, -math.inf, 10**20, "x", "", True, [], [1, "a"], [math.nan],
              {}, {"zz": 1}, 1e308]


# --------------------------------------------------------------------------- TOML writer


def _key(k: str) -> str:
    return '"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == math.inf else "-inf" if v == -math.inf else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return _key(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def to_toml(data: dict) -> str:
    lines: list[str] = []

    def table(prefix: list[str], d: dict) -> None:
        if prefix:
            lines.append("[" + ".".join(_key(p) for p in prefix) + "]")
        subs = {k: v for k, v in d.items() if isinstance(v, dict) and v}
        for k, v in d.items():
            if k not in subs:
                lines.append(f"{_key(k)} = {_value(v)}")
        for k, v in subs.items():
            table(prefix + [k], v)

    table([], data)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- mutations


def _paths(d: dict, prefix=()):
    """Every key path in a nested dict (tables and leaves)."""
    for k, v in d.items():
        yield prefix + (k,)
        if isinstance(v, dict):
            yield from _paths(v, prefix + (k,))


def _tables(d: dict, prefix=()):
    yield prefix
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _tables(v, prefix + (k,))


def _node(d: dict, path):
    for p in path:
        d = d[p]
    return d


def mutate(rng: random.Random, data: dict) -> str:
    """Apply one random mutation in place; return what it did (for the failure message)."""
    kind = rng.choice(["value", "value", "value", "unknown", "delete", "empty-list", "scalar-table", "halve"])
    paths = list(_paths(data))
    if kind == "halve":  # a valid but unusual value: the run must go through
        numbers = [p for p in paths if type(_node(data, p)) is float and 0 < _node(data, p) <= 1]
        if numbers:
            path = rng.choice(numbers)
            _node(data, path[:-1])[path[-1]] /= 2
            return f"{'.'.join(path)} halved"
    if kind == "unknown" or not paths:
        t = rng.choice(list(_tables(data)))
        _node(data, t)["zz_unknown"] = rng.choice([1, "x", {"a": 1}])
        return f"unknown key in {'.'.join(t) or '<top>'}"
    path = rng.choice(paths)
    parent = _node(data, path[:-1])
    if kind == "delete":
        del parent[path[-1]]
        return f"deleted {'.'.join(path)}"
    if kind == "empty-list":
        lists = [p for p in paths if isinstance(_node(data, p), list)]
        if lists:
            path = rng.choice(lists)
            _node(data, path[:-1])[path[-1]] = []
            return f"{'.'.join(path)} = []"
    if kind == "scalar-table":
        tables = [p for p in paths if isinstance(_node(data, p), dict)]
        if tables:
            path = rng.choice(tables)
            _node(data, path[:-1])[path[-1]] = rng.choice([5, "x", [1]])
            return f"{'.'.join(path)} = scalar"
    value = rng.choice(BAD_VALUES)
    parent[path[-1]] = value
    return f"{'.'.join(path)} = {value!r}"


def _check(rc: int, err: str, case: str) -> None:
    assert rc in (0, 2), f"{case}: exit {rc}\n{err}"
    assert "Traceback" not in err, f"{case}: traceback\n{err}"
    if rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("trafficsim: error: "), f"{case}: not one error line\n{err}"


def _copy_scenarios(dst: Path) -> Path:
    shutil.copytree(SCENARIOS, dst, ignore=shutil.ignore_patterns("*.pyc"))
    return dst


# --------------------------------------------------------------------------- the tests


def _stub_plots(monkeypatch) -> None:
    """The run record's plots, written as empty files: drawing them takes most of a tiny
    run's time, and they have their own tests (test_cli.test_run_writes_every_file)."""
    import simulator.io.plots as plots

    def touch(*args, **kwargs):
        Path(args[-1]).write_bytes(b"")

    for name in ("domain_shares", "lorenz_curves", "fan_tiers", "gmv_by_domain", "cac_over_time", "group_size",
                 "merchant_roi"):
        monkeypatch.setattr(plots, name, touch)


def test_fuzz_scenario_files(tmp_path, capsys, monkeypatch):
    """Mutated scenario files (and bad --set values) to ``run``: exit 0 or 2, never an exception."""
    _stub_plots(monkeypatch)
    rng = random.Random(SEED)
    files = sorted(p.name for p in SCENARIOS.glob("*.toml"))
    special = ["folder", "binary", "empty", "extends-folder", "extends-binary", "extends-missing", "bad-set"]
    outcomes = {0: 0, 2: 0}
    for i in range(N_SCENARIO_CASES):
        root = _copy_scenarios(tmp_path / f"case{i:03d}")
        name = rng.choice(files)
        target = root / name
        extra: list[str] = []
        kind = special[i] if i < len(special) else "mutate"
        if kind == "folder":
            target = root / "sweeps"
        elif kind == "binary":
            target.write_bytes(bytes(rng.randrange(256) for _ in range(512)))
        elif kind == "empty":
            target.write_text("")
        elif kind.startswith("extends-"):
            (root / "blob.toml").write_bytes(b"\x00\xff" * 100)
            to = {"extends-folder": "sweeps", "extends-binary": "blob.toml", "extends-missing": "nope.toml"}[kind]
            target = root / "child.toml"
            target.write_text(f'extends = "{to}"\nname = "child"\n')
        elif kind == "bad-set":
            key = ".".join(rng.choice([p for p in _paths(tomllib.loads((root / "douyin.toml").read_text()))]))
            extra = ["--set", f"{key}={rng.choice(['nan', 'inf', '-1', '[]', 'x', '{}'])}",
                     "--set", "platforms.douyn.beta=2"]
            target = root / "douyin.toml"
        else:
            data = tomllib.loads(target.read_text())
            what = [mutate(rng, data) for _ in range(rng.choice([1, 1, 2]))]
            kind = f"{name}: {'; '.join(what)}"
            target.write_text(to_toml(data))
        out = tmp_path / f"out{i:03d}"
        capsys.readouterr()
        try:
            rc = main(["run", str(target), "--steps", "1", "--quiet", "--out", str(out), *TINY_SETS, *extra])
        except BaseException as exc:  # noqa: BLE001 - that is the point of the test
            pytest.fail(f"case {i} ({kind}): {type(exc).__name__}: {exc}")
        _check(rc, capsys.readouterr().err, f"case {i} ({kind})")
        outcomes[rc] += 1
        if rc == 2:
            assert not out.exists(), f"case {i} ({kind}): exit 2 but {out} was written"
    assert outcomes[0] > 0 and outcomes[2] > 0, outcomes  # both kinds of outcome were exercised


def _shrink_sweep(data: dict) -> None:
    """The shipped sweep made tiny: 1 replicate, 1 day, 50 users, one value per grid parameter."""
    data["replicates"] = 1
    data["steps"] = 1
    data.setdefault("set", {}).update({"population.users": 50, "population.creators": 10, "population.merchants": 1})
    if data.get("method", "grid") == "grid":
        data["parameters"] = {k: v[:1] for k, v in data["parameters"].items()}
    else:
        data["samples"] = 1


def test_fuzz_sweep_files(tmp_path, capsys, monkeypatch):
    """Mutated sweep files to ``sweep``: exit 0 or 2, never an exception. The sweep's
    worker processes are replaced by threads so that the runs stay in this process
    (and cheap: no new interpreter per case)."""
    import concurrent.futures

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", concurrent.futures.ThreadPoolExecutor)
    rng = random.Random(SEED + 1)
    files = sorted(p.name for p in (SCENARIOS / "sweeps").glob("*.toml"))
    special = ["folder", "binary", "base-folder", "base-binary", "as-shipped", "as-shipped"]
    outcomes = {0: 0, 2: 0}
    for i in range(N_SWEEP_CASES):
        root = _copy_scenarios(tmp_path / f"case{i:03d}")
        name = rng.choice(files)
        target = root / "sweeps" / name
        data = tomllib.loads(target.read_text())
        _shrink_sweep(data)
        kind = special[i] if i < len(special) else "mutate"
        if kind == "folder":
            target = root / "sweeps"
        elif kind == "binary":
            target.write_bytes(bytes(rng.randrange(256) for _ in range(512)))
        elif kind.startswith("base-"):
            (root / "blob.toml").write_bytes(b"\x00\xff" * 100)
            data["base"] = "../blob.toml" if kind == "base-binary" else ".."
            target.write_text(to_toml(data))
        elif kind == "as-shipped":
            kind = f"{name} as shipped (made tiny)"
            target.write_text(to_toml(data))
        else:
            what = [mutate(rng, data) for _ in range(rng.choice([1, 1, 2]))]
            kind = f"{name}: {'; '.join(what)}"
            target.write_text(to_toml(data))
        capsys.readouterr()
        try:
            rc = main(["sweep", str(target), "--workers", "1", "--out", str(tmp_path / f"out{i:03d}")])
        except BaseException as exc:  # noqa: BLE001
            pytest.fail(f"case {i} ({kind}): {type(exc).__name__}: {exc}")
        _check(rc, capsys.readouterr().err, f"case {i} ({kind})")
        outcomes[rc] += 1
    assert outcomes[0] > 0 and outcomes[2] > 0, outcomes
