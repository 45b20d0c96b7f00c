"""What every verdict kind shares: the year's figures, the core columns, the frame they make.

A verdict kind judges the figures of :func:`accounting.engine.institution_figures` (one row per
institution). :class:`Figures` works out once what several kinds need of them (the institution
column as a categorical, text columns as codes, another year's rows); each kind returns its
verdicts as plain columns (:data:`Columns`), one block of rows per indicator with the
institutions in the figures' order, and :func:`table` makes one frame of them:
:data:`VERDICT_COLUMNS`, then the figures each kind's verdicts rest on.

Nothing here judges: the rules are in the kinds' modules (``quota``, ``fyp14``, ``peers``,
``certification``, ``audit``) and the numbers they apply in ``rules``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdict_table import concat_frames, text, union, where_text

__all__ = [
    "COVERAGE_MISSING",
    "VERDICT_COLUMNS",
    "Columns",
    "Figures",
    "array",
    "is_nan",
    "length",
    "table",
]

#: A verdict kind's columns before they become a frame: name → array or categorical.
Columns = dict[str, Any]

#: Core columns of every verdict frame.
VERDICT_COLUMNS = [
    "institution_id", "kind", "subject", "status", "value", "unit", "coverage", "reason",
    "missing", "source",
]

#: What is missing when a figure's coverage is too low.
COVERAGE_MISSING = "measured data (coverage below min_coverage)"

_MISSING_HINT = {
    "floor_area_m2": "floor_area_m2 (buildings ledger)",
    "occupants": "occupants (headcount ledger for the year)",
}

#: Figures that are unknown without data of one carrier (not only without a denominator).
_DATA_HINT = {
    "kwh_per_m2": "electricity consumption (meters or bills)",
    "water_m3_per_person": "water consumption (meters or bills)",
}


class Figures:
    """The year's figures, with what several verdict kinds need of them worked out once.

    Every kind's rows are blocks of the figures' rows (one block per indicator); the
    institution_id column of every kind shares one categorical dtype, so that joining the kinds
    is joining integer codes.
    """

    def __init__(self, figures: pd.DataFrame):
        self.frame = figures
        self.n = len(figures)
        self.ids = figures["institution_id"].to_numpy(dtype=object)
        codes, uniques = pd.factorize(self.ids)
        self._codes = codes
        self._dtype = pd.CategoricalDtype(text(uniques).categories)
        self._unique = len(uniques) == self.n
        self._texts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._missing: dict[tuple[str, str], pd.Categorical] = {}

    def institutions(self, repeats: int = 1) -> pd.Categorical:
        """The institution_id column of ``repeats`` blocks of the figures' rows."""
        return pd.Categorical.from_codes(np.tile(self._codes, repeats), dtype=self._dtype)

    def positions(self, institutions: Any) -> np.ndarray:
        """Row in the figures of each verdict's institution (−1 when it is not there)."""
        values = array(institutions)
        if isinstance(values, pd.Categorical):
            codes = np.asarray(values.codes)
            if values.dtype is self._dtype and self._unique:  # built from these figures
                return codes.astype(np.int64)
            found = pd.Index(self.ids).get_indexer(values.categories)  # each category once
            return np.where(codes >= 0, found[codes], -1)
        return pd.Index(self.ids).get_indexer(np.asarray(values, dtype=object))

    def text_codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes of a text column of the figures ("" when blank or absent) and its values."""
        if column not in self._texts:
            if column in self.frame.columns:
                codes, uniques = pd.factorize(self.frame[column])
                labels = [str(u) for u in uniques]
            else:
                codes, labels = np.full(self.n, -1), []
            if (codes < 0).any():  # blank: ""
                if "" not in labels:
                    labels.append("")
                codes = np.where(codes < 0, labels.index(""), codes)
            self._texts[column] = codes, np.asarray(labels, dtype=object)
        return self._texts[column]

    def tiled_text(self, column: str, repeats: int) -> pd.Categorical:
        """A text column of the figures, once per block of rows."""
        codes, labels = self.text_codes(column)
        return pd.Categorical.from_codes(np.tile(codes, repeats), categories=text(labels).categories)

    def distinct_rows(self, columns: list[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Code of each row's combination of a few text columns, and the distinct combinations
        (column → values), in order of appearance."""
        combined = np.zeros(self.n, dtype=np.int64)
        for column in columns:
            codes, labels = self.text_codes(column)
            combined = pd.factorize(combined * max(len(labels), 1) + codes)[0]  # kept dense
        first = np.unique(combined, return_index=True)[1]  # codes are in order of appearance
        return combined, {c: self.text_codes(c)[1][self.text_codes(c)[0][first]] for c in columns}

    def numbers(self, columns: list[str], frame: pd.DataFrame | None = None,
                rows: np.ndarray | None = None) -> np.ndarray:
        """``columns`` of the figures (or of ``frame`` at ``rows``, −1: NaN) one block after
        another, as floats."""
        source = self.frame if frame is None else frame
        blocks_ = []
        for column in columns:
            values = pd.to_numeric(source[column], errors="coerce").to_numpy(dtype=float)
            if rows is not None:
                values = np.where(rows >= 0, values[np.maximum(rows, 0)], np.nan) if len(
                    values) else np.full(len(rows), np.nan)
            blocks_.append(values)
        return np.concatenate(blocks_) if blocks_ else np.zeros(0)

    def rows_in(self, other: pd.DataFrame | None) -> np.ndarray:
        """Row of each institution in another year's figures (the first; −1: none)."""
        if other is None or not len(other):
            return np.full(self.n, -1)
        other_ids = other["institution_id"]
        first = np.flatnonzero(~other_ids.duplicated().to_numpy())
        found = pd.Index(other_ids.to_numpy(dtype=object)[first]).get_indexer(self.ids)
        return np.where(found >= 0, first[np.maximum(found, 0)], -1)

    def missing_figure(self, column: str, denominator: str) -> pd.Categorical:
        """What is missing when ``column`` is NaN: its denominator, else the carrier's data."""
        key = (column, denominator)
        if key not in self._missing:
            known = pd.to_numeric(self.frame[denominator], errors="coerce").to_numpy() > 0
            data_hint = _DATA_HINT.get(column, f"consumption data for {column}")
            self._missing[key] = where_text(known, data_hint, _MISSING_HINT[denominator])
        return self._missing[key]

    def missing_figures(self, pairs: list[tuple[str, str]]) -> pd.Categorical:
        """:meth:`missing_figure` of (column, denominator) pairs, one block each."""
        return union([self.missing_figure(c, d) for c, d in pairs])


def table(parts: list[Any], extra: list[str]) -> pd.DataFrame:
    """One verdict frame from parts (frames or columns): :data:`VERDICT_COLUMNS`, ``extra``,
    then any other column."""
    parts = [p for p in parts if length(p)]
    if not parts:
        return pd.DataFrame(columns=[*VERDICT_COLUMNS, *extra])
    return concat_frames(parts, [*VERDICT_COLUMNS, *extra])


def length(part: Any) -> int:
    """Rows of a part: a frame, or columns (:data:`Columns`)."""
    return len(part) if isinstance(part, pd.DataFrame) else len(next(iter(part.values())))


def array(column: Any) -> Any:
    """The values of a column: a Series' array, or the column itself (an array)."""
    return column.array if isinstance(column, pd.Series) else column


def is_nan(value: Any) -> bool:
    """Whether a cell is missing: None or a float NaN."""
    return value is None or (isinstance(value, (float, np.floating)) and np.isnan(value))
