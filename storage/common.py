"""What every backend shares: the site time zone, range checks and the aggregate skeletons.

Daily and hourly reads come from the rollups (:mod:`storage.rollups`) for the whole periods of a
range and from raw readings for the part of a period the range cuts; monthly aggregates are
derived from the daily ones. The raw aggregation (``raw_daily_*``) stays for checking.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Self
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from storage.aggregate import (
    merge_archive,
    monthly_counters_from_daily,
    monthly_gauges_from_daily,
)
from storage.base import (
    DAILY_COUNTER_COLUMNS,
    DAILY_GAUGE_COLUMNS,
    HOURLY_COUNTER_COLUMNS,
    HOURLY_GAUGE_COLUMNS,
    empty_frame,
)
from storage.periods import day_start_utc, from_us, local_date, require_aware, to_us
from storage.rollups import (
    US_PER_HOUR,
    hour_starts_us,
    hourly_counter_frame,
    hourly_from_readings,
    hourly_gauge_frame,
    local_day_numbers,
    plan_periods,
)

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

    A backend fills in: :meth:`_computed_counters` and :meth:`_computed_gauges` (daily aggregates
    of raw readings, computed by its database), :meth:`_rollup_days` and :meth:`_rollup_hours`
    (rollup rows), :meth:`_raw_from_us` (where raw readings start after retention) and
    :meth:`_require_rollups`. ``rollups = False`` (a benchmark's switch) answers every read from
    raw readings.
    """

    rollups: bool = True
    #: Reads come from the rollups (False: from raw readings, e.g. rollups cut in another zone).
    _read_rollups: bool = True

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

    # -- periods -------------------------------------------------------------------------------

    def _day_floor_us(self, t_us: int) -> int:
        """Start of the local day holding ``t_us`` [µs]."""
        return to_us(day_start_utc(local_date(from_us(t_us), self.tz), self.tz))

    def _day_next_us(self, day_start_us: int) -> int:
        """Start of the local day after the one starting at ``day_start_us`` [µs]."""
        day = local_date(from_us(day_start_us), self.tz) + timedelta(days=1)
        return to_us(day_start_utc(day, self.tz))

    def _hour_floor_us(self, t_us: int) -> int:
        """Start of the local hour holding ``t_us`` [µs]."""
        return int(hour_starts_us(np.array([t_us], dtype=np.int64), self.tz)[0])

    def _day_number(self, t_us: int) -> int:
        """Local day number of ``t_us`` (days since 1970-01-01 in the site's zone)."""
        return int(local_day_numbers(np.array([t_us], dtype=np.int64), self.tz)[0])

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

    def _rollup_days(
        self, first_day: int, end_day: int, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        """Daily rollup rows of local days ``[first_day, end_day)`` (day numbers), as ``columns``."""
        raise NotImplementedError

    def _rollup_hours(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        gauges: bool,
    ) -> pd.DataFrame:
        """Hourly rollup rows of hours starting in ``[start_us, end_us)``: hourly columns."""
        raise NotImplementedError

    def _raw_from_us(self) -> int:
        """Raw readings before this instant were dropped by retention (0: none) [µs]."""
        return 0

    def _require_rollups(self) -> None:
        """Raise :class:`storage.errors.RollupsMissing` when the rollups need a rebuild."""

    def _snapshot(self) -> AbstractContextManager[object]:
        """Return a context in which every query sees the same state of the store."""
        return nullcontext()

    def read_readings(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw readings in ``[start, end)`` (each backend)."""
        raise NotImplementedError

    # -- raw aggregates (for checking) ---------------------------------------------------------

    def _archived(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        """Rollup days before the retention boundary touched by ``[start_us, end_us)``."""
        raw_from = self._raw_from_us()
        if not raw_from or raw_from <= start_us:
            return empty_frame(columns)
        first = self._day_number(start_us)
        last = min(self._day_number(end_us - 1) + 1, self._day_number(raw_from))
        if first >= last:
            return empty_frame(columns)
        return self._rollup_days(first, last, meters, points, columns)

    def raw_daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Aggregate the raw good counter readings in ``[start, end)`` per local day.

        Days whose raw readings retention dropped come whole from the rollups.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_COUNTER_COLUMNS`.
        """
        start_us, end_us = self._range_us(start, end)
        meters, points = check_names(meters, "meters"), check_names(points, "points")
        with self._snapshot():
            computed = self._computed_counters(start_us, end_us, meters, points)
            archived = self._archived(start_us, end_us, meters, points, DAILY_COUNTER_COLUMNS)
        return merge_archive(computed, archived, DAILY_COUNTER_COLUMNS)

    def raw_daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Aggregate the raw good gauge readings in ``[start, end)`` per local day.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_GAUGE_COLUMNS`.
        """
        start_us, end_us = self._range_us(start, end)
        meters, points = check_names(meters, "meters"), check_names(points, "points")
        with self._snapshot():
            computed = self._computed_gauges(start_us, end_us, meters, points)
            archived = self._archived(start_us, end_us, meters, points, DAILY_GAUGE_COLUMNS)
        return merge_archive(computed, archived, DAILY_GAUGE_COLUMNS)

    # -- aggregates from rollups ---------------------------------------------------------------

    def _daily(
        self, start: datetime, end: datetime, meters: Sequence[str] | None,
        points: Sequence[str] | None, columns: list[str],
    ) -> pd.DataFrame:
        if self.rollups:
            self._require_rollups()
        if not self._read_rollups:
            if columns is DAILY_GAUGE_COLUMNS:
                return self.raw_daily_gauges(start, end, meters, points)
            return self.raw_daily_counters(start, end, meters, points)
        start_us, end_us = self._range_us(start, end)
        names_m, names_p = check_names(meters, "meters"), check_names(points, "points")
        with self._snapshot():
            plan = plan_periods(start_us, end_us, self._raw_from_us(), self._day_floor_us,
                                self._day_next_us)
            parts = []
            if plan.rollup_from < plan.rollup_until:
                parts.append(self._rollup_days(self._day_number(plan.rollup_from),
                                               self._day_number(plan.rollup_until), names_m,
                                               names_p, columns))
            raw_of = (self._computed_gauges if columns is DAILY_GAUGE_COLUMNS
                      else self._computed_counters)
            parts += [raw_of(a, b, names_m, names_p) for a, b in plan.raw_ranges]
        return _concat_sorted(parts, columns, "day")

    def daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Counter aggregates of the good readings in ``[start, end)`` per meter × point × day.

        Whole local days come from the daily rollups; a day the range cuts is aggregated from
        the raw readings inside the range.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_COUNTER_COLUMNS`.
        """
        return self._daily(start, end, meters, points, DAILY_COUNTER_COLUMNS)

    def daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Gauge aggregates of the good readings in ``[start, end)`` per meter × point × day.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.DAILY_GAUGE_COLUMNS`.
        """
        return self._daily(start, end, meters, points, DAILY_GAUGE_COLUMNS)

    def _hourly(
        self, start: datetime, end: datetime, meters: Sequence[str] | None,
        points: Sequence[str] | None, gauges: bool,
    ) -> pd.DataFrame:
        start_us, end_us = self._range_us(start, end)
        names_m, names_p = check_names(meters, "meters"), check_names(points, "points")
        columns = HOURLY_GAUGE_COLUMNS if gauges else HOURLY_COUNTER_COLUMNS
        if self.rollups:
            self._require_rollups()
        if self._read_rollups:
            plan = plan_periods(start_us, end_us, self._raw_from_us(), self._hour_floor_us,
                                lambda p: p + US_PER_HOUR)
        else:
            plan = plan_periods(start_us, end_us, 0, lambda t: end_us, lambda p: p)
        parts = []
        to_frame = hourly_gauge_frame if gauges else hourly_counter_frame
        with self._snapshot():
            if plan.rollup_from < plan.rollup_until:
                parts.append(self._rollup_hours(plan.rollup_from, plan.rollup_until, names_m,
                                                names_p, gauges))
            for a, b in plan.raw_ranges:
                raw = self.read_readings(from_us(a), from_us(b), names_m, names_p)
                if not raw.empty:
                    parts.append(to_frame(hourly_from_readings(raw, self.tz)))
        return _concat_sorted(parts, columns, "hour")

    def hourly_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Counter aggregates per meter × point × local hour (``hour``: UTC start of the hour).

        Whole hours come from the hourly rollups; an hour the range cuts from raw readings.

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.HOURLY_COUNTER_COLUMNS`.
        """
        return self._hourly(start, end, meters, points, gauges=False)

    def hourly_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Gauge aggregates per meter × point × local hour (``hour``: UTC start of the hour).

        Returns
        -------
        pandas.DataFrame
            :data:`storage.base.HOURLY_GAUGE_COLUMNS`.
        """
        return self._hourly(start, end, meters, points, gauges=True)

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


def _concat_sorted(parts: list[pd.DataFrame], columns: list[str], period: str) -> pd.DataFrame:
    """Concatenate non-empty frames of ``columns``, sorted by meter, point and ``period``."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return empty_frame(columns)
    if len(parts) == 1:  # a backend's rows come sorted
        return parts[0][columns]
    out = pd.concat([p[columns] for p in parts], ignore_index=True)
    return out.sort_values(["meter", "point", period], kind="stable").reset_index(
        drop=True)[columns]
