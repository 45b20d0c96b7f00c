"""Building the verdict table: text columns as categoricals, and one concatenation at the end.

A year's verdicts for a province are a long table (10,000 institutions → ~150,000 rows) whose text
columns hold few distinct values each: a handful of statuses, subjects, units and sources, one id
per institution. They are therefore ``pandas.Categorical`` columns built from integer codes:

* choosing a status per row is ``np.select`` over small integers, not over Python strings;
* building the frame does not ask pandas to check 150,000 strings one by one;
* the frames of the verdict kinds are put together column by column (:func:`concat_frames`),
  their categories united, instead of ``pd.concat`` falling back to plain object columns.

A categorical column compares, filters and groups like a text column (``v["status"] == "flag"``,
``groupby(..., observed=True)``); ``to_dict("records")`` gives plain strings. Its categories are
in order of appearance: sort by ``column.astype(str)`` for alphabetical order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "blocks", "concat_frames", "constant", "frame", "is_value", "select_text", "text", "union",
    "where_text",
]

#: The dtype pandas gives an index of strings (``str`` in pandas 3, object before): every
#: categorical here uses it, so that categories of different frames can be united.
_TEXT_DTYPE = pd.Index(["text"]).dtype


def _categories(values: Any) -> pd.Index:
    return pd.Index(np.asarray(values, dtype=object), dtype=_TEXT_DTYPE)


def constant(value: str, n: int) -> pd.Categorical:
    """The same text on ``n`` rows."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int64), categories=_categories([value]))


def text(values: Any, n: int | None = None) -> pd.Categorical:
    """A text column as a categorical.

    ``values`` is one string (repeated ``n`` times), a categorical (or a Series of one), or
    an array or Series of strings (missing values stay missing).
    """
    if isinstance(values, str):
        if n is None:
            raise ValueError("text(value, n): a single string needs the number of rows n")
        return constant(values, n)
    if isinstance(values, pd.Series):
        values = values.array if isinstance(values.dtype, pd.CategoricalDtype) else values.to_numpy(
            dtype=object)
    if isinstance(values, pd.Categorical):
        if values.categories.dtype == _TEXT_DTYPE:
            return values
        return pd.Categorical.from_codes(values.codes, categories=_categories(values.categories))
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    return pd.Categorical.from_codes(codes, categories=_categories(uniques))


def select_text(conditions: list, choices: list, default: Any = "") -> pd.Categorical:
    """``np.select`` for text: the first choice whose condition holds, else ``default``.

    Each choice (and the default) is a string or a per-row text column (array, Series or
    categorical, as long as the conditions).
    """
    n = len(conditions[0]) if conditions else len(default)
    options = [*choices, default]
    labels: list[Any] = []
    row_codes: list[Any] = []  # per option: one code, or an array of codes (−1 = missing)
    for option in options:
        if isinstance(option, str):
            row_codes.append(len(labels))
            labels.append(option)
        else:
            column = text(option)
            codes = column.codes.astype(np.int64)
            row_codes.append(np.where(codes >= 0, codes + len(labels), -1))
            labels.extend(column.categories)
    which = np.select([np.asarray(c, dtype=bool) for c in conditions], list(range(len(choices))),
                      default=len(choices))
    codes = np.empty(n, dtype=np.int64)
    for k, code in enumerate(row_codes):
        rows = which == k
        codes[rows] = code if np.isscalar(code) else code[rows]
    # The same text may come from two options: one category each.
    distinct, remap = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    codes = np.where(codes >= 0, remap.reshape(-1)[codes], -1)
    return pd.Categorical.from_codes(codes, categories=_categories(distinct))


def where_text(condition: Any, yes: Any, no: Any) -> pd.Categorical:
    """``np.where`` for text (see :func:`select_text`)."""
    return select_text([condition], [yes], no)


def is_value(column: pd.Series | pd.Categorical, value: str) -> np.ndarray:
    """Rows of a text column equal to ``value`` (a boolean array), by code when categorical."""
    values = column.array if isinstance(column, pd.Series) else column
    if isinstance(values, pd.Categorical):
        code = values.categories.get_indexer([value])[0]
        if code < 0:
            return np.zeros(len(values), dtype=bool)
        return np.asarray(values.codes) == code
    return np.asarray(values, dtype=object) == value


def frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame of freshly built columns, without copying them into one block per dtype.

    (``pd.DataFrame(dict)`` copies every float column into one 2-D block: for a verdict table
    that is tens of megabytes written once more, for no gain here.)
    """
    return pd.DataFrame(columns, copy=False)


def blocks(labels: list[str], which: np.ndarray) -> pd.Categorical:
    """Text by block: row i gets ``labels[which[i]]`` (labels may repeat)."""
    distinct, code_of = np.unique(np.asarray(labels, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(code_of.reshape(-1)[which], categories=_categories(distinct))


def concat_frames(frames: list[Any], columns: list[str] | None = None) -> pd.DataFrame:
    """Rows of ``frames`` (data frames or dicts of columns) one after another, with every
    column any of them has.

    Like ``pd.concat(frames, ignore_index=True)``, except that text columns are categorical
    (their categories united, in order of appearance) and numbers are joined as plain arrays.
    A column a frame lacks is missing (NaN) on its rows. ``columns`` puts the first columns in
    order; the others follow in order of appearance.
    """
    parts = [_columns(f) for f in frames]
    parts = [p for p in parts if p]
    names = list(columns or [])
    for part in parts:
        names.extend(c for c in part if c not in names)
    lengths = [len(next(iter(p.values()))) for p in parts]
    out: dict[str, Any] = {}
    for name in names:
        pieces = [p.get(name) for p in parts]
        present = [p for p in pieces if p is not None]
        if any(_is_text(p) for p in present):
            out[name] = _union([text(p) if p is not None else None for p in pieces], lengths)
        else:
            out[name] = np.concatenate([
                np.asarray(p) if p is not None else np.full(n, np.nan)
                for p, n in zip(pieces, lengths, strict=True)]) if parts else np.zeros(0)
    return frame(out)


def _columns(part: Any) -> dict[str, Any]:
    """A frame's columns as a dict of arrays (a dict is taken as it is)."""
    if isinstance(part, pd.DataFrame):
        return {c: part[c].array if isinstance(part[c].dtype, pd.CategoricalDtype)
                else part[c].to_numpy() for c in part.columns}
    return part


def union(parts: list[pd.Categorical]) -> pd.Categorical:
    """Categoricals one after another, their categories united."""
    return _union(parts, [len(p) for p in parts])


def _is_text(column: Any) -> bool:
    """Whether a column holds text: categorical, object or string."""
    dtype = column.dtype
    return isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype)


def _union(parts: list[pd.Categorical | None], lengths: list[int]) -> pd.Categorical:
    """Categoricals (None: all missing) one after another, their categories united."""
    labelled = [p for p in parts if p is not None and len(p.categories)]
    if not labelled:
        return pd.Categorical.from_codes(np.full(sum(lengths), -1), categories=_categories([]))
    first = labelled[0]
    if all(_same_labels(p.categories, first.categories) for p in labelled[1:]):
        # The usual case (e.g. institution_id of every kind): the codes already agree.
        dtype, remaps = first.dtype, [None] * len(parts)
    else:
        every = np.concatenate([np.asarray(p.categories, dtype=object) for p in labelled])
        code_of, distinct = pd.factorize(every)
        dtype = pd.CategoricalDtype(_categories(distinct))
        remaps, offset = [], 0
        for p in parts:
            size = len(p.categories) if p is not None else 0
            remaps.append(np.append(code_of[offset:offset + size], -1).astype(_code_type(dtype)))
            offset += size
    codes = np.empty(sum(lengths), dtype=_code_type(dtype))
    start = 0
    for p, n, remap in zip(parts, lengths, remaps, strict=True):
        own = np.asarray(p.codes) if p is not None else -1
        codes[start:start + n] = own if remap is None else remap[own]  # remap[-1] is -1
        start += n
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _code_type(dtype: pd.CategoricalDtype) -> type:
    """The integer type pandas keeps the codes of so many categories in."""
    size = len(dtype.categories)
    return np.int8 if size < 127 else np.int16 if size < 32_767 else np.int32


def _same_labels(a: pd.Index, b: pd.Index) -> bool:
    """Whether two category indexes hold the same texts in the same order."""
    if a is b:
        return True
    return len(a) == len(b) and bool(
        (np.asarray(a, dtype=object) == np.asarray(b, dtype=object)).all())
