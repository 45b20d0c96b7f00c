"""Time helpers: UTC microseconds, local days and months, UTC-offset segments of a zone.

Readings are stored in UTC; days and months are cut in the site's time zone. A local day is the
calendar date of the local wall-clock time, so a day with a daylight-saving change is 23 or 25 hours
long. Everything here is a pure function.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = [
    "EPOCH",
    "US_PER_DAY",
    "day_start_utc",
    "from_us",
    "local_date",
    "month_start",
    "offset_segments",
    "require_aware",
    "retention_cutoff",
    "rfc3339",
    "to_us",
    "us_to_local_dates",
    "us_to_utc_index",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_US = timedelta(microseconds=1)
US_PER_DAY = 86_400_000_000


def require_aware(value: datetime, what: str) -> datetime:
    """``value`` if it is timezone-aware; :class:`ValueError` naming ``what`` otherwise."""
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(2024, 1, 1, tzinfo=ZoneInfo('Asia/Shanghai')))"
        )
    return value


def to_us(value: datetime) -> int:
    """Return the microseconds since 1970-01-01 UTC of an aware datetime [µs]."""
    return (value - EPOCH) // _ONE_US


def from_us(value_us: int) -> datetime:
    """Return the aware UTC datetime of microseconds since the epoch."""
    return EPOCH + timedelta(microseconds=int(value_us))


def rfc3339(t_us: int) -> str:
    """Return an RFC 3339 UTC time literal (InfluxQL, Flux) of microseconds since the epoch."""
    return (EPOCH + timedelta(microseconds=t_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def us_to_utc_index(values_us: np.ndarray | pd.Series | list) -> pd.DatetimeIndex:
    """UTC timestamps of microseconds since the epoch (nullable input gives NaT)."""
    series = pd.Series(values_us, dtype="Int64")
    return pd.DatetimeIndex(pd.to_datetime(series, unit="us", utc=True))


def us_to_local_dates(values_us: np.ndarray | pd.Series | list, tz: ZoneInfo) -> list[date]:
    """Local calendar dates of instants given in microseconds since the epoch."""
    index = pd.to_datetime(np.asarray(values_us, dtype="int64"), unit="us", utc=True)
    return list(index.tz_convert(tz).date)


def local_date(value: datetime, tz: ZoneInfo) -> date:
    """Return the calendar date of ``value`` in zone ``tz``."""
    return value.astimezone(tz).date()


def day_start_utc(day: date, tz: ZoneInfo) -> datetime:
    """Return the UTC instant at which local ``day`` starts (its local midnight)."""
    local = datetime(day.year, day.month, day.day, tzinfo=tz)
    return local.astimezone(UTC)


def month_start(day: date) -> date:
    """First day of the month of ``day``."""
    return day.replace(day=1)


def retention_cutoff(now: datetime, retention_days: int, tz: ZoneInfo) -> datetime:
    """Return the local midnight ``retention_days`` days before the local date of ``now``, in UTC.

    Raw readings before it are dropped; whole local days are archived, never part of a day.
    """
    require_aware(now, "now")
    keep_from = local_date(now, tz) - timedelta(days=retention_days)
    return day_start_utc(keep_from, tz)


def offset_segments(start_us: int, end_us: int, tz: ZoneInfo) -> list[tuple[int | None, int]]:
    """Return the zone's UTC offset over ``[start_us, end_us)`` as segments ``(until_us, offset_us)``.

    Each segment holds up to (not including) ``until_us``; the last one has ``until_us = None``.
    A reading at ``t`` has local wall time ``t + offset`` of the segment that holds ``t``.
    Transitions are found by stepping half a day at a time and bisecting to the microsecond.
    """
    def offset_at(t_us: int) -> int:
        offset = from_us(t_us).astimezone(tz).utcoffset()
        assert offset is not None
        return offset // _ONE_US

    step = US_PER_DAY // 2
    start_us = min(start_us, end_us)
    segments: list[tuple[int | None, int]] = []
    current = offset_at(start_us)
    t = start_us
    while t < end_us:
        nxt = min(t + step, end_us)
        if offset_at(nxt) != current:
            hi = _first_change_us(t, nxt, current, offset_at)
            segments.append((hi, current))
            current = offset_at(hi)
            t = hi
        else:
            t = nxt
    segments.append((None, current))
    return segments


def _first_change_us(lo: int, hi: int, current: int, offset_at: Callable[[int], int]) -> int:
    """Return the first instant after ``lo`` whose offset is not ``current``.

    Found by bisection to the microsecond; ``offset_at(lo) == current != offset_at(hi)``.
    """
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset_at(mid) == current:
            lo = mid
        else:
            hi = mid
    return hi
