"""Integer codes for text columns: how the engine groups a million rows without hashing them all.

A monthly consumption table has institutions × 12 months × carriers rows but few distinct texts,
and it comes in runs (one institution's months of one carrier). So the engine

* finds the runs by comparing each row with the one before (:func:`runs`), much cheaper than
  hashing every row, and codes only the first row of each run (:func:`run_codes`);
* combines a few coded columns into one code per distinct line (:func:`combine_codes`);
* sums per code with ``numpy.bincount`` (:func:`sum_by`, :func:`sums_per_code`);
* hands its results on with the text columns as pandas categoricals built from those codes
  (:func:`categorical`), so that the next step reads the codes back (:func:`text_codes`) instead
  of hashing the texts again.

A *coded column* (:class:`Coded`) is a pair ``(codes, names)``: ``codes`` holds one int64 per
row, an index into ``names`` (an object array of the distinct values, each used by some row).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from accounting.errors import InputError

__all__ = [
    "Coded", "categorical", "combine_codes", "differs_from_previous", "member_of", "rows_per_key",
    "run_codes", "run_sums", "runs", "sum_by", "sums_per_code", "text_codes",
]


class Coded(NamedTuple):
    """A coded column: ``names[codes]`` is the column."""

    codes: np.ndarray  #: one int64 per row, an index into ``names``
    names: np.ndarray  #: the distinct values (object array), each used by some row

    def values(self) -> np.ndarray:
        """The column itself (an object array)."""
        return self.names[self.codes]


#: Above this many possible keys the counts are sorted out instead of tallied in one array.
DENSE_LIMIT = 20_000_000


def runs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Each run of consecutive rows equal in every column: its first row and its length.

    Comparing a row with the one before is much cheaper than hashing it; a categorical column
    is compared by its codes. Also returns, per column, whether each run starts a new value of
    that column (the first run always does): :func:`run_codes` needs it.
    """
    change = np.zeros(len(frame), dtype=bool)
    change[:1] = True
    new_value = {}
    for column in frame.columns:
        series = frame[column]
        values = (series.cat.codes.to_numpy() if isinstance(series.dtype, pd.CategoricalDtype)
                  else series.to_numpy(dtype=object))
        differs = np.ones(len(frame), dtype=bool)
        differs[1:] = differs_from_previous(values)
        change |= differs
        new_value[column] = differs
    starts = np.flatnonzero(change)
    lengths = np.diff(np.r_[starts, len(frame)])
    return starts, lengths, {column: differs[starts] for column, differs in new_value.items()}


#: Above this share of rows holding another object than the row before, every value is compared.
_DISTINCT_OBJECTS = 1 / 8
#: Rows compared at a time: their objects' addresses (512 KiB) stay in the processor's cache.
_CHUNK_ROWS = 1 << 16


def differs_from_previous(values: np.ndarray) -> np.ndarray:
    """For each row but the first, whether its value differs from the one in the row before.

    A row holding the very same object as the row before is equal to it. A text column read
    from a file (pandas shares the objects of repeated texts) or built from a few values holds
    a handful of shared objects, so the objects' identities (their addresses, read as integers)
    are compared first, one integer comparison per row, and the values only where the objects
    differ. Where most rows hold distinct objects, values are compared throughout. (A missing
    value repeated in the same NaN object therefore counts as one run; it is refused later.)
    """
    if values.dtype != object:
        return values[1:] != values[:-1]
    differs = np.empty(max(len(values) - 1, 0), dtype=bool)
    for start in range(0, len(values) - 1, _CHUNK_ROWS):
        rows = values[start:start + _CHUNK_ROWS + 1]  # one row of overlap with the next chunk
        address = np.frombuffer(rows.tobytes(), dtype=np.intp)  # the objects' identities
        other = np.flatnonzero(address[1:] != address[:-1])
        if len(other) > len(rows) * _DISTINCT_OBJECTS:
            differs[start:start + len(rows) - 1] = rows[1:] != rows[:-1]
        else:
            part = differs[start:start + len(rows) - 1]
            part[:] = False
            part[other] = rows[other + 1] != rows[other]
    return differs


def text_codes(column: pd.Series) -> Coded:
    """The coded column of a text column: codes per row and the distinct values.

    A categorical column already has its codes (its unused categories are left out of the
    names). Otherwise only the first value of each run of equal values is hashed, in order of
    appearance.

    Raises
    ------
    accounting.errors.InputError
        When a row has no value (NaN, None), naming the column.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.int64)
        _refuse_missing(codes, column.name)
        names = np.asarray(column.cat.categories, dtype=object)
        used = np.bincount(codes, minlength=len(names)) > 0
        if used.all():
            return Coded(codes, names)
        renumber = np.cumsum(used) - 1
        return Coded(renumber[codes], names[used])
    return _array_codes(column.to_numpy(dtype=object), column.name)


def run_codes(column: pd.Series, starts: np.ndarray, new_value: np.ndarray) -> Coded:
    """The coded column of the runs of :func:`runs`: one code per run, names in order of appearance.

    Only the runs that start a new value of this column (``new_value``) are looked at: a few
    for a carrier column, one per institution's block of rows for an institution column.
    """
    heads = starts[new_value]
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()[heads].astype(np.int64)
        _refuse_missing(codes, column.name)
        head_code, used = pd.factorize(codes)
        names = np.asarray(column.cat.categories, dtype=object)[used]
    else:
        head_code, names = pd.factorize(column.to_numpy(dtype=object)[heads])
        _refuse_missing(head_code, column.name)
        names = np.asarray(names, dtype=object)
    # A run that does not start a new value has the value of the run before it.
    return Coded(head_code.astype(np.int64)[np.cumsum(new_value) - 1], names)


def _array_codes(values: np.ndarray, name: object) -> Coded:
    if len(values) == 0:
        return Coded(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))
    # Only the first value of each run is hashed: comparing neighbours is much cheaper.
    starts = np.flatnonzero(np.r_[True, differs_from_previous(values)])
    run_code, names = pd.factorize(values[starts])
    _refuse_missing(run_code, name)
    lengths = np.diff(np.r_[starts, len(values)])
    return Coded(np.repeat(run_code, lengths).astype(np.int64), np.asarray(names, dtype=object))


def _refuse_missing(codes: np.ndarray, name: object) -> None:
    if (codes < 0).any():
        raise InputError(f"{name} is empty in some row(s)",
                         "the consumption table", f"a value of {name} in every row")


def combine_codes(columns: list[Coded]) -> tuple[np.ndarray, list[Coded]]:
    """One code per distinct combination of a few coded columns (a *line*), in order of appearance.

    Returns the line of each row and, per column, the coded column of the lines (its codes
    index the column's names, one per line).
    """
    rows = len(columns[0][0]) if columns else 0
    if rows == 0:
        return np.zeros(0, dtype=np.int64), [Coded(np.zeros(0, dtype=np.int64), names)
                                             for _, names in columns]
    combined = np.zeros(rows, dtype=np.int64)
    for codes, names in columns:
        combined = combined * len(names) + codes
    line, distinct = pd.factorize(combined)
    per_line = []
    rest = np.asarray(distinct, dtype=np.int64)
    for _, names in reversed(columns):
        per_line.append(Coded(rest % len(names), names))
        rest = rest // len(names)
    return line.astype(np.int64), per_line[::-1]


def categorical(codes: np.ndarray, names: np.ndarray, sort: bool = False) -> pd.Categorical:
    """The column ``names[codes]`` as a categorical, built from the codes (−1: missing).

    ``sort`` orders the categories by value (free for a few names), so that the column sorts
    and groups like the text it stands for; values that cannot be compared keep their order.
    """
    names = np.asarray(names, dtype=object)
    if sort and len(names) > 1:
        try:
            order = np.argsort(names, kind="stable")
        except TypeError:  # e.g. numbers beside texts: keep the given order
            order = np.arange(len(names))
        if (order != np.arange(len(names))).any():
            # New code of each old code; the extra last entry keeps code −1 (missing) at −1.
            recode = np.full(len(names) + 1, -1, dtype=np.int64)
            recode[order] = np.arange(len(names))
            codes = recode[codes]
            names = names[order]
    return pd.Categorical.from_codes(codes, categories=pd.Index(names))


def member_of(values: np.ndarray, allowed: frozenset | set) -> np.ndarray:
    """Whether each of a few values (e.g. the carrier of each line) is in ``allowed``."""
    return np.array([v in allowed for v in values], dtype=bool)


def run_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of ``values`` over each run of rows (runs start at ``starts``, cover every row)."""
    return np.add.reduceat(values, starts) if len(values) else np.zeros(0)


def rows_per_key(key: np.ndarray, size: int) -> np.ndarray:
    """For each row, how many rows share its key (keys in 0 … size − 1)."""
    if size <= DENSE_LIMIT:
        return np.bincount(key, minlength=size)[key].astype(float)
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return counts[inverse].astype(float)


def sum_by(group: np.ndarray, size: int,
           **values: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ``group`` values (0 … size − 1) that occur, ascending, and each array's sum per group."""
    if size <= DENSE_LIMIT:
        present = np.flatnonzero(np.bincount(group, minlength=size))
        if len(present) == size:  # every group occurs: nothing to leave out
            return present, sums_per_code(group, size, **values)
        return present, {name: np.bincount(group, weights=v, minlength=size)[present]
                         for name, v in values.items()}
    present, inverse = np.unique(group, return_inverse=True)
    return present, {name: np.bincount(inverse, weights=v, minlength=len(present))
                     for name, v in values.items()}


def sums_per_code(codes: np.ndarray, size: int, **values: np.ndarray) -> dict[str, np.ndarray]:
    """Each array's sum per code 0 … size − 1 (0 for a code no row has)."""
    return {name: np.bincount(codes, weights=v, minlength=size) for name, v in values.items()}
