"""Tables without pandas: what ``trafficsim run`` writes and summarizes once it has simulated.

``trafficsim run`` writes its tables and computes its summary in its own process while its
plot processes draw (issue 17): importing pandas there cost ~0.2 s of CPU on the run's
critical path for work that is a few column sums and four CSV files. So that process
never imports pandas; the plot processes still do. Two pieces, each giving what pandas
gives, byte for byte:

* :class:`Table`: the metric rows as columns, typed as ``pd.DataFrame(rows)`` types them
  (:func:`rows_columns`), with the few operations of a DataFrame that
  :meth:`~simulator.observation.measurements.Measurement.summarize` uses (``t[c].sum()``,
  ``.mean()``, ``.iloc[k]``, ``.to_numpy()``, ``t.sum(numeric_only=True)``, a row subset
  ``t[t["platform"] == name]``), each the same float operations as pandas' (NaN skipped as
  pandas skips it: replaced by 0 in numpy's pairwise sum).
* :func:`write_csv`: a table's columns written as ``pd.DataFrame(columns).to_csv(path,
  index=False)`` writes them: floats as ``values.astype(str)`` with NaN as an empty field,
  other values ``str()``'d, through the standard library's ``csv.writer`` (QUOTE_MINIMAL,
  ``os.linesep``).

Neither guesses: a column of a kind whose pandas form is not reproduced here exactly
(numpy scalars or ``None`` among the row values, bools with a missing value, mixed kinds,
other dtypes) makes :func:`rows_columns` return None and :func:`write_csv` return False,
and the caller uses pandas (tests/io/test_table.py compares both on the shipped scenarios
and on edge cases).
"""

from __future__ import annotations

import csv
import os

import numpy as np


class _Missing:
    """A key missing from a row (pandas: NaN)."""


_MISSING = _Missing()
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_EXACT = 2 ** 53  # ints up to this are exact as float64 (pandas' int-and-float columns)


def _column(values) -> np.ndarray | None:
    """One column of ``pd.DataFrame(rows)`` (a sequence, ``_MISSING`` where a row lacks the
    key) as pandas types it, or None if its kinds are not reproduced exactly here."""
    kinds = set(map(type, values))
    missing = _Missing in kinds
    kinds.discard(_Missing)
    if kinds == {int} and not missing:
        if min(values) < _INT64[0] or max(values) > _INT64[1]:
            return None  # pandas: uint64 or object
        return np.array(values, dtype=np.int64)
    if kinds and kinds <= {int, float}:
        if int in kinds and any(type(v) is int and abs(v) > _EXACT for v in values):
            return None
        return np.array([np.nan if v is _MISSING else v for v in values] if missing else values, dtype=np.float64)
    if kinds == {bool} and not missing:
        return np.array(values, dtype=bool)
    if kinds == {str}:  # pandas: its string dtype (NaN where missing), written the same
        return np.array([None if v is _MISSING else v for v in values], dtype=object)
    return None


def rows_columns(rows: list[dict]) -> dict[str, np.ndarray] | None:
    """The columns of ``pd.DataFrame(rows)`` (a list of dicts: columns in order of first
    appearance, a key missing from a row is NaN): int64 for ints, float64 for floats and
    for ints with a missing value or mixed with floats, bool, strings (an object array,
    None where missing); None if a column holds anything else (see the module docstring).
    Rows with the same keys in the same order (the model's) are transposed in one pass."""
    first = tuple(rows[0]) if rows else ()
    if all(tuple(r) == first for r in rows):
        names, columns = first, zip(*(r.values() for r in rows))
    else:
        names = tuple(dict.fromkeys(k for r in rows for k in r))
        columns = ([r.get(name, _MISSING) for r in rows] for name in names)
    out = {}
    for name, values in zip(names, columns):
        col = _column(values)
        if col is None:
            return None
        out[name] = col
    return out


class Column:
    """One column of a :class:`Table`: the Series operations the summaries use, with
    pandas' arithmetic (``nansum``: NaN replaced by 0, numpy's pairwise sum; ``nanmean``:
    that sum in float64 over the count of the others)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __eq__(self, other) -> np.ndarray:  # a row mask, as a Series' ``==``
        return self.values == other

    __hash__ = None

    @property
    def iloc(self) -> np.ndarray:
        return self.values

    def to_numpy(self, dtype=None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)

    def _filled(self) -> tuple[np.ndarray, int]:
        """The values with NaN as 0 and how many are not NaN (pandas' ``_get_values``)."""
        v = self.values
        if v.dtype.kind not in "iubf":
            raise TypeError(f"a reduction of a {v.dtype} column")
        if v.dtype.kind != "f":
            return v, len(v)
        mask = np.isnan(v)
        if mask.any():
            v = v.copy()
            np.putmask(v, mask, 0)
        return v, len(v) - int(mask.sum())

    def sum(self):
        """pandas' ``nansum``: ints and bools in int64 (uint64), floats in their own dtype
        (float16 in float64)."""
        v, _ = self._filled()
        kind = v.dtype.kind
        dtype = (np.float64 if v.dtype == np.float16 else v.dtype) if kind == "f" else \
            np.uint64 if kind == "u" else np.int64
        return v.sum(dtype=dtype)

    def mean(self):
        """pandas' ``nanmean``: the sum (ints in float64, bools in int64, floats in their
        own dtype) over the count (float64, or the floats' dtype); NaN without values."""
        if len(self.values) == 0:
            return np.nan
        v, count = self._filled()
        kind = v.dtype.kind
        dtype = np.dtype(np.float64 if kind in "iu" or v.dtype == np.float16 else v.dtype if kind == "f" else np.int64)
        count = (dtype.type if kind == "f" else np.float64)(count)
        return v.sum(dtype=dtype) / count if count > 0 else np.nan


class Table:
    """The metric rows as columns (:func:`rows_columns`) with the DataFrame operations the
    summaries use; ``Table.from_rows(rows)`` is None where pandas must be used."""

    def __init__(self, columns: dict[str, np.ndarray]) -> None:
        self.columns = columns

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "Table | None":
        columns = rows_columns(rows)
        return None if columns is None else cls(columns)

    @property
    def empty(self) -> bool:
        return not self.columns or len(next(iter(self.columns.values()))) == 0

    def __getitem__(self, key):
        if isinstance(key, np.ndarray) and key.dtype == bool:  # a row subset, as ``df[mask]``
            return Table({c: v[key] for c, v in self.columns.items()})
        return Column(self.columns[key])

    def sum(self, numeric_only: bool = True) -> dict:
        """Every numeric (and bool) column's sum, in their common dtype (as
        ``DataFrame.sum(numeric_only=True)``: int64 sums become float64 beside floats)."""
        if not numeric_only:
            raise TypeError("only numeric_only=True")
        sums = {c: Column(v).sum() for c, v in self.columns.items() if v.dtype.kind in "iubf"}
        if not sums:
            return {}
        common = np.result_type(*(np.asarray(s).dtype for s in sums.values()))
        return {c: common.type(s) for c, s in sums.items()}


def _cells(values) -> list | None:
    """One column's CSV fields as pandas writes them, or None (see :func:`write_csv`)."""
    if isinstance(values, list):
        values = np.array(values, dtype=object) if all(type(v) is str for v in values) else None
    if not isinstance(values, np.ndarray) or values.ndim != 1:
        return None
    kind = values.dtype.kind
    if kind == "f":
        if values.dtype not in (np.float32, np.float64):
            return None
        text = values.astype(str)
        text[np.isnan(values)] = ""
        return text.tolist()
    if kind in "iubU":
        return values.tolist()  # Python ints, bools, strs: csv.writer str()s them
    if kind == "O" and all(v is None or type(v) is str for v in values.tolist()):
        return values.tolist()  # None: an empty field, as pandas' NaN
    return None


def write_csv(path, columns: dict) -> bool:
    """Write ``columns`` (name → 1-D array, or a list of strings) to ``path`` as
    ``pd.DataFrame(columns).to_csv(path, index=False)`` would, byte for byte; False
    (nothing written) if a column is of a kind not reproduced here exactly (float16,
    complex, datetimes, objects other than strings, lists other than strings), a name is
    not a string, or the lengths differ: then use pandas."""
    cells = []
    for name, values in columns.items():
        if type(name) is not str:
            return False
        col = _cells(values)
        if col is None:
            return False
        cells.append(col)
    if len({len(c) for c in cells}) > 1:
        return False
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator=os.linesep, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(list(columns))
        writer.writerows(zip(*cells))
    return True
