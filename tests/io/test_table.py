"""The tables and the summary without pandas (simulator/io/table.py): the same bytes and the
same floats as pandas', on the shipped scenarios and on edge cases, and pandas where a
column is of a kind they do not reproduce."""

import io
import math

import numpy as np
import pandas as pd
import pytest

from simulator import TrafficModel
from simulator.config import load_scenario
from simulator.io import frames
from simulator.io.outputs import to_json, write_table
from simulator.io.table import Column, Table, rows_columns, write_csv

from ..conftest import SCENARIOS

SMALL = ["population.users=1500", "population.creators=60", "population.merchants=6"]


def _pandas_csv(tmp_path, frame: pd.DataFrame) -> bytes:
    path = tmp_path / "pandas.csv"
    frame.to_csv(path, index=False)
    return path.read_bytes()


def _ours(tmp_path, columns: dict) -> bytes:
    path = tmp_path / "ours.csv"
    assert write_csv(path, columns)
    return path.read_bytes()


def _pandas_summary(model) -> dict:
    """model.summary() as it was computed with pandas (a DataFrame of the rows)."""
    return model.summary_of(model.metrics_frame())


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.toml")))
def test_shipped_scenarios_tables_and_summary_are_pandas_bytes(tmp_path, name):
    """Every shipped scenario (learning, turnover, several platforms, NaN metrics), 12 days
    (more rows a platform than numpy's 8-way unrolled sum, so a different order of
    summation would show): the four tables are the bytes of pandas' ``to_csv`` and the
    summary the same floats (its JSON text, which writes each float's repr)."""
    scenario = load_scenario(SCENARIOS / f"{name}.toml", SMALL, flags={"--steps": ("steps", 12)})
    m = TrafficModel(scenario, agents=False)
    m.run()
    metrics = rows_columns(frames.metrics_rows(m))
    assert metrics is not None  # the rows are all of the kinds written without pandas
    assert _ours(tmp_path, metrics) == _pandas_csv(tmp_path, m.metrics_frame())
    for table in ("creators", "merchants", "items"):
        columns = getattr(frames, f"{table}_columns")(m)
        assert _ours(tmp_path, columns) == _pandas_csv(tmp_path, getattr(m, f"{table}_frame")()), table
    ours, theirs = m.summary(), _pandas_summary(m)
    assert to_json(ours) == to_json(theirs)
    nan = [k for k, v in ours["totals"].items() if isinstance(v, float) and math.isnan(v)]
    assert nan or name != "douyin"  # NaN metrics occur (e.g. the 30-day CACs in a 12-day run)


EDGE_FLOATS = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e16, 1e15, 1e-5, 1e-4, 0.1, 1 / 3, 5e-324, 1.7976931348623157e308,
               123456789.123, -2.5, 3.0]


def _edge_columns(n: int) -> dict:
    rng = np.random.default_rng(n)
    pick = rng.integers(0, len(EDGE_FLOATS), n)
    with np.errstate(over="ignore"):  # the largest float64 is inf as float32
        f32 = np.array(EDGE_FLOATS, dtype=np.float32)
    words = np.array(["a", "b,c", 'say "hi"', "two\nlines", "", " lead", "\u4e2d\u6587", "x\r"])
    return {
        "f64": np.array(EDGE_FLOATS)[pick],
        "f32": f32[pick],
        "f32_random": rng.random(n).astype(np.float32),
        "i64": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1, 7] * n, dtype=np.int64)[:n],
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "u64": np.array([np.iinfo(np.uint64).max, 0, 3] * n, dtype=np.uint64)[:n],
        "i32": rng.integers(-5, 5, n).astype(np.int32),
        "bool": rng.random(n) < 0.5,
        "str": words[rng.integers(0, len(words), n)],
        "strings": [str(w) for w in words[rng.integers(0, len(words), n)]],
        "obj": np.array([None if k % 3 == 0 else str(words[k % len(words)]) for k in range(n)], dtype=object),
    }


@pytest.mark.parametrize("n", [0, 1, 2, 9, 300])
def test_write_csv_is_pandas_to_csv_on_edge_cases(tmp_path, n):
    """NaN, ±inf, -0.0, 1e16, 1e-5, float32 (its own shortest repr), int64 and uint64
    extremes, small ints, bools, strings with commas, quotes, newlines and CR, None in a
    string column; an empty table; one row."""
    columns = _edge_columns(n)
    assert _ours(tmp_path, columns) == _pandas_csv(tmp_path, pd.DataFrame(columns))


@pytest.mark.parametrize("columns", [{}, {"a": np.array([np.nan])}, {"a": np.array([], dtype=np.float64)},
                                     {"a": np.array([""]), "b": np.array([np.nan])}, {"a, b": np.array([1])}],
                         ids=["no-columns", "one-nan", "no-rows", "empty-fields", "name-with-comma"])
def test_write_csv_small_tables(tmp_path, columns):
    """The csv module's own cases: a row of one empty field is written ``""``."""
    assert _ours(tmp_path, columns) == _pandas_csv(tmp_path, pd.DataFrame(columns))


@pytest.mark.parametrize("column", [np.array([1.5, 2.0], dtype=np.float16), np.array([1 + 2j, 3j]),
                                    np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]"),
                                    np.array([1.5, "a"], dtype=object), np.array([1, 2], dtype=object), [1, 2],
                                    ["a", None], np.zeros((2, 2))],
                         ids=["float16", "complex", "datetime", "object-float", "object-int", "list-int",
                              "list-none", "2-d"])
def test_write_csv_leaves_other_kinds_to_pandas(tmp_path, column):
    """A kind not reproduced exactly: False, nothing written; write_table then uses pandas."""
    path = tmp_path / "t.csv"
    columns = {"x": np.arange(2), "y": column}
    assert not write_csv(path, columns)
    assert not path.exists()
    if not (isinstance(column, np.ndarray) and column.ndim == 2):
        write_table(path, columns)
        assert path.read_bytes() == _pandas_csv(tmp_path, pd.DataFrame(columns))


def test_write_csv_leaves_odd_tables_to_pandas(tmp_path):
    assert not write_csv(tmp_path / "a.csv", {0: np.arange(2)})  # a name that is not a string
    assert not write_csv(tmp_path / "b.csv", {"a": np.arange(2), "b": np.arange(3)})  # pandas raises
    assert not list(tmp_path.iterdir())


ROWS = [
    {"step": 0, "platform": "all", "i": 1, "f": 0.5, "mixed": 1, "b": True, "s": "x", "late": 2},
    {"step": 0, "platform": "p,q", "i": -(2 ** 63), "f": float("nan"), "mixed": 2.5, "b": False, "s": 'a"b'},
    {"step": 1, "platform": "all", "i": 2 ** 63 - 1, "f": -0.0, "mixed": 3, "b": True, "late": 4, "new": 1e16},
    {"step": 1, "platform": "p,q", "i": 0, "f": 1e-5, "mixed": float("inf"), "b": False, "s": "two\nlines", "late": 5},
]


def test_rows_columns_are_typed_as_pandas_types_a_list_of_dicts(tmp_path):
    """Columns in order of first appearance; ints int64, ints with a missing value or
    beside floats float64 (written ``2.0``), floats, bools, strings (missing: empty)."""
    columns = rows_columns(ROWS)
    frame = pd.DataFrame(ROWS)
    assert list(columns) == list(frame.columns)
    assert columns["i"].dtype == np.int64 and columns["late"].dtype == columns["mixed"].dtype == np.float64
    for name, values in columns.items():
        if values.dtype != object:
            assert values.dtype == frame[name].dtype, name
    assert _ours(tmp_path, columns) == _pandas_csv(tmp_path, frame)
    assert rows_columns([]) == {} and _ours(tmp_path, {}) == _pandas_csv(tmp_path, pd.DataFrame([]))


@pytest.mark.parametrize("odd", [{"b": None}, {"late": np.float64(1.0)}, {"i": np.int64(3)}, {"s": 3}, {"b": 1},
                                 {"i": 2 ** 63}, {"mixed": 2 ** 60}],
                         ids=["none", "numpy-float", "numpy-int", "str-and-int", "bool-and-int", "beyond-int64",
                              "inexact-int"])
def test_rows_columns_leave_other_kinds_to_pandas(odd):
    rows = [dict(r) for r in ROWS]
    rows[1].update(odd)
    assert rows_columns(rows) is None
    assert rows_columns([{"b": True}, {"c": 1}]) is None  # a bool with a missing value: object in pandas


def test_a_model_with_odd_rows_summarizes_with_pandas(douyin_run):
    """Rows the table does not type: the summary comes from pandas' frame, unchanged."""
    m = douyin_run
    expected = to_json(m.summary())
    saved = m._rows
    m._rows = [dict(r) for r in saved]
    try:
        m._rows[0]["step"] = np.int64(m._rows[0]["step"])
        assert Table.from_rows(m._rows) is None
        assert to_json(m.summary()) == expected
    finally:
        m._rows = saved


def _bits(x) -> bytes:
    return np.float64(x).tobytes()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 17, 128, 129, 1000])
def test_column_reductions_are_pandas_bit_for_bit(n):
    """sum (NaN as 0 in numpy's pairwise sum, not dropped), mean (over the non-NaN count),
    ints summed as ints, bools, float32 summed in float64, iloc, to_numpy; the row subset."""
    rng = np.random.default_rng(n + 1)
    f = rng.normal(size=n) * 10.0 ** rng.integers(-3, 8, n)
    f[rng.random(n) < 0.2] = np.nan
    data = {"f": f, "i": rng.integers(-10 ** 12, 10 ** 12, n), "b": rng.random(n) < 0.5,
            "f32": rng.random(n).astype(np.float32), "allnan": np.full(n, np.nan),
            "p": np.array(["a", "b"] * n, dtype=object)[:n]}
    table, frame = Table(data), pd.DataFrame(data)
    for sub_t, sub_f in ((table, frame), (table[table["p"] == "a"], frame[frame["p"] == "a"])):
        for c in ("f", "i", "b", "f32", "allnan"):
            assert _bits(sub_t[c].sum()) == _bits(sub_f[c].sum()), c
            assert type(sub_t[c].sum()) is type(sub_f[c].sum()), c
            assert _bits(sub_t[c].mean()) == _bits(sub_f[c].mean()), c
            assert np.array_equal(sub_t[c].to_numpy(dtype=np.float64), sub_f[c].to_numpy(dtype=np.float64),
                                  equal_nan=True)
            if len(sub_f):
                assert _bits(sub_t[c].iloc[-1]) == _bits(sub_f[c].iloc[-1])
                assert _bits(sub_t[c].iloc[0]) == _bits(sub_f[c].iloc[0])
        ours, theirs = sub_t.sum(numeric_only=True), sub_f.sum(numeric_only=True)
        assert list(ours) == list(theirs.index)
        for c in ours:
            assert _bits(ours[c]) == _bits(theirs[c]) and type(ours[c]) is type(theirs[c]), c
        assert sub_t.empty == sub_f.empty


def test_column_refuses_what_pandas_would_not_sum():
    with pytest.raises(TypeError):
        Column(np.array(["a"], dtype=object)).sum()
    with pytest.raises(TypeError):
        Column(np.array(["a"], dtype=object)).mean()
    assert Table({}).empty and Table({}).sum() == {}
