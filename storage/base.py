"""The time-series store interface: the records it stores and the protocol every backend follows.

A *reading* is one value of one point (``energy_import_kwh``) of one meter at one instant. Times
are timezone-aware and stored in UTC; days and months are cut in the site's time zone
(``[site] timezone``), computed per day with :mod:`zoneinfo` so that zones with daylight saving
time get their 23- and 25-hour days.

Aggregates use *good* readings only (``quality == "good"``):

* daily/monthly counters: ``first_time, first_value, last_time, last_value`` of the period,
  ``delta_sum`` = sum of the non-negative differences between consecutive good readings within the
  period (a drop, e.g. a meter reset, adds nothing), and ``n_readings``;
* daily/monthly gauges: ``mean, min, max, n_readings``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

import pandas as pd

from jieneng.vocabulary import Quality

__all__ = [
    "DAILY_COUNTER_COLUMNS",
    "DAILY_GAUGE_COLUMNS",
    "HEALTH_COLUMNS",
    "HOURLY_COUNTER_COLUMNS",
    "HOURLY_GAUGE_COLUMNS",
    "LATEST_COLUMNS",
    "MONTHLY_COUNTER_COLUMNS",
    "MONTHLY_GAUGE_COLUMNS",
    "READING_COLUMNS",
    "DeviceHealth",
    "Reading",
    "RetentionResult",
    "TimeSeriesStore",
]

READING_COLUMNS = ["time", "meter", "point", "value", "quality"]
LATEST_COLUMNS = ["meter", "point", "time", "value", "quality"]
DAILY_COUNTER_COLUMNS = [
    "meter", "point", "day", "first_time", "first_value", "last_time", "last_value",
    "delta_sum", "n_readings",
]
DAILY_GAUGE_COLUMNS = ["meter", "point", "day", "mean", "min", "max", "n_readings"]
#: Per meter × point × local hour; ``hour`` is the UTC-aware start of the hour.
HOURLY_COUNTER_COLUMNS = ["hour" if c == "day" else c for c in DAILY_COUNTER_COLUMNS]
HOURLY_GAUGE_COLUMNS = ["hour" if c == "day" else c for c in DAILY_GAUGE_COLUMNS]
MONTHLY_COUNTER_COLUMNS = ["month" if c == "day" else c for c in DAILY_COUNTER_COLUMNS]
MONTHLY_GAUGE_COLUMNS = ["month" if c == "day" else c for c in DAILY_GAUGE_COLUMNS]
HEALTH_COLUMNS = [
    "meter", "time", "available", "consecutive_failures", "last_success", "response_time_s",
    "error",
]

#: Longest meter or point name a backend must store. [characters]
MAX_NAME_LENGTH = 256


def _check_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_NAME_LENGTH} characters: {value[:40]!r}...")


def _check_aware(value: object, what: str) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{what} {value.isoformat()} has no time zone; pass an aware datetime "
            "(e.g. datetime(..., tzinfo=timezone.utc))"
        )


@dataclass(frozen=True, slots=True)
class Reading:
    """One value of one point of one meter at one instant.

    Parameters
    ----------
    meter
        Meter id (any Unicode text: quotes, commas, spaces and newlines are stored exactly).
    point
        Point name from the register map, e.g. ``energy_import_kwh``.
    time
        Timezone-aware instant; a naive datetime raises :class:`ValueError`.
    value
        The decoded value in the point's unit, or None when the quality is not "good".
    quality
        A :class:`jieneng.vocabulary.Quality` (``good``, ``invalid``, ``estimated``,
        ``unavailable``) or another non-empty word; a ``good`` reading must carry a value.
    """

    meter: str
    point: str
    time: datetime
    value: float | None
    quality: str = Quality.good

    def __post_init__(self) -> None:
        # Fast path for the common case (a collector's UTC reading with a finite float): the same
        # rules as below, checked inline because a collector builds thousands per poll cycle.
        meter, point, quality, value = self.meter, self.point, self.quality, self.value
        if (
            type(meter) is str and 0 < len(meter) <= MAX_NAME_LENGTH
            and type(point) is str and 0 < len(point) <= MAX_NAME_LENGTH
            and (type(quality) is Quality or (type(quality) is str and quality))
            and type(self.time) is datetime and self.time.tzinfo is UTC
            and ((type(value) is float and math.isfinite(value))
                 or (value is None and quality != Quality.good))
        ):
            return
        _check_name(self.meter, "Reading.meter")
        _check_name(self.point, "Reading.point")
        _check_aware(self.time, f"Reading.time of {self.meter!r}/{self.point!r}")
        _check_name(self.quality, "Reading.quality")
        if self.value is not None:
            if isinstance(self.value, bool) or not isinstance(self.value, int | float):
                raise ValueError(f"Reading.value must be a number or None, got {self.value!r}")
            if not math.isfinite(self.value):
                raise ValueError(
                    f"Reading.value of {self.meter!r}/{self.point!r} at {self.time.isoformat()} "
                    f"is {self.value}; store None with a quality such as 'invalid' instead"
                )
        elif self.quality == Quality.good:
            raise ValueError(
                f"Reading {self.meter!r}/{self.point!r} at {self.time.isoformat()} has quality "
                "'good' but no value; use quality 'invalid' (or another) for a missing value"
            )


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """A collector's view of one device at one instant.

    Parameters
    ----------
    meter
        Meter id.
    time
        Timezone-aware instant of the observation.
    available
        True when the last poll succeeded.
    consecutive_failures
        Failed polls in a row. [count]
    last_success
        Instant of the last successful poll, or None.
    response_time_s
        Response time of the last poll. [s]
    error
        Last error text, empty when none.
    """

    meter: str
    time: datetime
    available: bool
    consecutive_failures: int
    last_success: datetime | None
    response_time_s: float | None
    error: str = ""

    def __post_init__(self) -> None:
        _check_name(self.meter, "DeviceHealth.meter")
        _check_aware(self.time, f"DeviceHealth.time of {self.meter!r}")
        if self.last_success is not None:
            _check_aware(self.last_success, f"DeviceHealth.last_success of {self.meter!r}")
        if self.consecutive_failures < 0:
            raise ValueError(f"DeviceHealth.consecutive_failures < 0 for {self.meter!r}")


@dataclass(frozen=True)
class RetentionResult:
    """What :meth:`TimeSeriesStore.apply_retention` did."""

    cutoff: datetime  #: raw readings before this instant (a local midnight) were dropped
    days_archived: int  #: meter × point × day rollups whose raw readings were dropped (kept)
    readings_dropped: int | None  #: raw readings deleted (None when the backend cannot count)


@runtime_checkable
class TimeSeriesStore(Protocol):
    """What every backend offers. All ranges are half-open: ``[start, end)``."""

    tz: ZoneInfo

    def write_readings(self, readings: Iterable[Reading]) -> int:
        """Write readings; the same (meter, point, time) overwrites. Returns the number written."""
        ...

    def write_frame(self, frame: pd.DataFrame | Mapping[str, Any]) -> int:
        """Write a frame (or mapping of arrays) of meter, point, time, value [, quality].

        The same validation and idempotence as :meth:`write_readings`. Returns the rows written.
        """
        ...

    def read_readings(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw readings: columns time (UTC), meter, point, value, quality."""
        ...

    def hourly_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local hour: :data:`HOURLY_COUNTER_COLUMNS` (from rollups)."""
        ...

    def hourly_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local hour: :data:`HOURLY_GAUGE_COLUMNS` (from rollups)."""
        ...

    def raw_daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """:meth:`daily_counters` aggregated from the raw readings (for checking the rollups)."""
        ...

    def raw_daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """:meth:`daily_gauges` aggregated from the raw readings (for checking the rollups)."""
        ...

    def rebuild_rollups(self, since: date | None = None) -> int:
        """Recompute the rollups from raw readings (from local day ``since``); returns days."""
        ...

    def latest_health(self, meters: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the newest device-health record per meter: :data:`HEALTH_COLUMNS`."""
        ...

    def daily_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local day: :data:`DAILY_COUNTER_COLUMNS` (from rollups)."""
        ...

    def daily_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local day: :data:`DAILY_GAUGE_COLUMNS` (from rollups)."""
        ...

    def monthly_counters(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month: :data:`MONTHLY_COUNTER_COLUMNS`."""
        ...

    def monthly_gauges(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Per meter × point × local month: :data:`MONTHLY_GAUGE_COLUMNS`."""
        ...

    def latest(
        self, meters: Sequence[str] | None = None, points: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return the newest reading per meter and point (any quality): :data:`LATEST_COLUMNS`."""
        ...

    def write_health(self, records: Iterable[DeviceHealth]) -> int:
        """Write device-health records (same meter and time overwrites)."""
        ...

    def read_health(
        self, start: datetime | None = None, end: datetime | None = None,
        meters: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Device-health records: :data:`HEALTH_COLUMNS`."""
        ...

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Drop raw readings older than the retention period; their rollups stay."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def readings_frame(readings: Sequence[Reading]) -> pd.DataFrame:
    """Return readings as the columnar frame :meth:`TimeSeriesStore.write_frame` takes.

    Columns meter, point, time (UTC), value (NaN for none), quality.
    """
    return pd.DataFrame({
        "meter": [r.meter for r in readings],
        "point": [r.point for r in readings],
        "time": pd.to_datetime([r.time for r in readings], utc=True),
        "value": pd.array([r.value for r in readings], dtype="Float64").to_numpy(
            dtype=float, na_value=float("nan")),
        "quality": [str(r.quality) for r in readings],
    })


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """Return an empty frame with these columns."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def as_date(value: date | datetime) -> date:
    """Return the date part (for ``day`` and ``month`` columns)."""
    return value.date() if isinstance(value, datetime) else value
