"""What every backend shares: the site time zone, range checks and the aggregate skeletons.

The daily aggregates merge what the database computes from raw readings with the archived days;
the monthly aggregates are derived from the daily ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Self
from zoneinfo import ZoneInfo

import pandas as pd

from storage.aggregate import (
    merge_archive,
    monthly_counters_from_daily,
    monthly_gauges_from_daily,
)
from storage.base import DAILY_COUNTER_COLUMNS, DAILY_GAUGE_COLUMNS
from storage.periods import require_aware, to_us

__all__ = ["StoreBase", "check_names"]


def check_names(names: Sequence[str] | None, what: str) -> list[str] | None:
    """Return a list of meter or point names, or None for "all"; a bare string is an error."""
    if names is None:
        return None
    if isinstance(names, str):
        raise ValueError(f"{what} must be a list of names, not the single string {names!r}")
    out = list(names)
    for name in out:
        if not isinstance(name, str):
            raise ValueError(f"{what} must hold strings, got {name!r}")
    return out


class StoreBase:
    """Base of the backends: keeps the site time zone and runs the daily and monthly aggregates.

    A backend fills in three steps: :meth:`_computed_counters` and :meth:`_computed_gauges`
    (daily aggregates of the raw readings, computed by its database) and :meth:`_archived`
    (the days kept by retention). :meth:`daily_counters` and :meth:`daily_gauges` merge the two
    (an archived day wins); monthly aggregates are derived from the daily ones.
    """

    def __init__(self, tz: ZoneInfo | str):
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)

    @staticmethod
    def _range_us(start: datetime, end: datetime) -> tuple[int, int]:
        """``[start, end)`` in microseconds; naive datetimes raise :class:`ValueError`."""
        require_aware(start, "start")
        require_aware(end, "end")
        return to_us(start), to_us(end)

    def _open_range_us(self, start: datetime | None, end: datetime | None) -> tuple[int, int]:
        """``[start, end)`` in microseconds, an open end (None) being 1970-01-01 or 2262-01-01."""
        if start is not None:
            require_aware(start, "start")
        if end is not None:
            require_aware(end, "end")
        start_us = to_us(start) if start is not None else 0
        end_us = to_us(end) if end is not None else to_us(datetime(2262, 1, 1, tzinfo=UTC))
        return start_us, end_us

    # -- what each backend fills in ------------------------------------------------------------

    def _computed_counters(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        """Daily counter aggregates of the raw readings in ``[start_us, end_us)``."""
        raise NotImplementedError

    def _computed_gauges(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        """Daily gauge aggregates of the raw readings in ``[start_us, end_us)``."""
        raise NotImplementedError

    def _archived(
        self, start: datetime, end: datetime, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        """Return the archived days of the local days touched by ``[start, end)``, as ``columns``."""
        raise NotImplementedError

    # -- aggregates ----------------------------------------------------------------------------

    def daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Aggregate the good counter readings in ``[start, end)`` per meter × point × local day.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_COUNTER_COLUMNS`.
        """
        start_us, end_us = self._range_us(start, end)
        meters, points = check_names(meters, "meters"), check_names(points, "points")
        computed = self._computed_counters(start_us, end_us, meters, points)
        archived = self._archived(start, end, meters, points, DAILY_COUNTER_COLUMNS)
        return merge_archive(computed, archived, DAILY_COUNTER_COLUMNS)

    def daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Aggregate the good gauge readings in ``[start, end)`` per meter × point × local day.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_GAUGE_COLUMNS`.
        """
        start_us, end_us = self._range_us(start, end)
        meters, points = check_names(meters, "meters"), check_names(points, "points")
        computed = self._computed_gauges(start_us, end_us, meters, points)
        archived = self._archived(start, end, meters, points, DAILY_GAUGE_COLUMNS)
        return merge_archive(computed, archived, DAILY_GAUGE_COLUMNS)

    def monthly_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month (``month`` = first day): counter aggregates."""
        return monthly_counters_from_daily(self.daily_counters(start, end, meters, points))

    def monthly_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month (``month`` = first day): gauge aggregates."""
        return monthly_gauges_from_daily(self.daily_gauges(start, end, meters, points))

    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
