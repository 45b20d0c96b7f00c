"""Which buildings of the buildings ledger count in a year (在用建筑).

The statistics form's 建筑面积 (form 公共机构基本信息 of the 公共机构能源资源消费统计调查制度,
国管节能〔2022〕301号) is the floor area an institution uses **at the end of the reporting year**
(年末), so a year's floor area is the sum over the buildings in use on its **reference date**:

* the reference date is 31 December of the year, or ``as_of`` when that is earlier (the current,
  unfinished year is counted as it stands today, not as it will stand at year end);
* a building is in use on a date when ``in_use_from`` (启用日期) is on or before it and
  ``in_use_until`` (停用/移交日期, the last day in use, inclusive) is on or after it;
* a blank ``in_use_from`` means "in use since before any year accounted", a blank
  ``in_use_until`` "still in use": a building with no dates counts in every year.

So a building opened mid-year counts in full in its opening year, and a building handed over
(移交) or closed mid-year no longer counts in that year; its last year is the one before. The
year-on-year auditor check (``floor_area_m2_change``) sees the change in the year it happens. The
consequence for intensities: in an opening year, a new building's consumption covers only part
of the year while its whole area counts (and the reverse in a year of hand-over); the auditor
check names exactly those years.

Pure functions over the ledger frame (``LedgerStore.table("buildings")``); nothing here reads the
clock: the caller passes ``as_of``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["buildings_in_use", "in_use_mask", "reference_date"]


def reference_date(year: int, as_of: dt.date | None = None) -> dt.date:
    """The day whose buildings make up ``year``'s floor area: 31 December, or ``as_of`` if earlier."""
    year_end = dt.date(year, 12, 31)
    if as_of is None:
        return year_end
    return min(year_end, pd.Timestamp(as_of).date())


def in_use_mask(buildings: pd.DataFrame, year: int, as_of: dt.date | None = None) -> np.ndarray:
    """True for each building (row) in use on :func:`reference_date` of ``year``.

    Parameters
    ----------
    buildings
        The buildings ledger; ``in_use_from`` and ``in_use_until`` (dates, blank = open-ended)
        are optional columns: a frame without them counts every building.
    year
        The accounting year.
    as_of
        Today, for the current year (see :func:`reference_date`); None → 31 December.
    """
    day = pd.Timestamp(reference_date(year, as_of))
    mask = np.ones(len(buildings), dtype=bool)
    if "in_use_from" in buildings.columns:
        start = pd.to_datetime(buildings["in_use_from"])
        mask &= (start.isna() | (start <= day)).to_numpy()
    if "in_use_until" in buildings.columns:
        end = pd.to_datetime(buildings["in_use_until"])
        mask &= (end.isna() | (end >= day)).to_numpy()
    return mask


def buildings_in_use(buildings: pd.DataFrame, year: int,
                     as_of: dt.date | None = None) -> pd.DataFrame:
    """The rows of the buildings ledger in use on :func:`reference_date` of ``year``."""
    return buildings[in_use_mask(buildings, year, as_of)]
