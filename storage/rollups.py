"""Rollups: hourly and daily aggregates per meter × point, kept current as readings arrive.

A *rollup row* holds, for the good readings of one meter × point in one local hour or day,
``first_time, first_value, last_time, last_value, delta_sum`` (counter view) and ``value_sum,
min, max`` (gauge view, ``mean = value_sum / n_readings``) with ``n_readings``. Hours are the
local wall-clock hours of the site's zone, keyed by the UTC instant at which they start; days
are local calendar days. A day is derived exactly from its hours: ``delta_sum`` of a day is the
sum of its hours' plus the non-negative steps from one hour's last reading to the next hour's
first.

Everything here is a pure function on numbers and frames; the backends keep the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from jieneng.vocabulary import Quality
from storage.base import (
    HOURLY_COUNTER_COLUMNS,
    HOURLY_GAUGE_COLUMNS,
    MAX_NAME_LENGTH,
    Reading,
    empty_frame,
)
from storage.periods import EPOCH, US_PER_DAY, day_start_utc, offset_segments, to_us

__all__ = [
    "ROLLUP_COLUMNS",
    "ROLLUP_VERSION",
    "US_PER_HOUR",
    "ColumnBatch",
    "PeriodPlan",
    "columns_of_frame",
    "daily_from_hourly",
    "day_bounds_us",
    "hour_starts_us",
    "hourly_from_readings",
    "local_day_numbers",
    "plan_periods",
]

#: Version of the rollup layout; a store without this marker must be rebuilt.
ROLLUP_VERSION = 1
#: Microseconds in an hour. [µs]
US_PER_HOUR = 3_600_000_000
#: Columns of a rollup frame (``start``: UTC start of the hour or day).
ROLLUP_COLUMNS = [
    "meter", "point", "start", "first_time", "first_value", "last_time", "last_value",
    "delta_sum", "value_sum", "min", "max", "n_readings",
]
_DAY0 = date(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)
_KEYS = ["meter", "point"]


def _offsets_us(t_us: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Return the zone's UTC offset at each instant [µs]."""
    if len(t_us) == 0:
        return np.zeros(0, dtype=np.int64)
    segments = offset_segments(int(t_us.min()), int(t_us.max()) + 1, tz)
    if len(segments) == 1:
        return np.full(len(t_us), segments[0][1], dtype=np.int64)
    bounds = np.array([u for u, _ in segments[:-1]], dtype=np.int64)
    offsets = np.array([o for _, o in segments], dtype=np.int64)
    return offsets[np.searchsorted(bounds, t_us, side="right")]


def hour_starts_us(t_us: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Return the UTC start of the local hour holding each instant [µs since the epoch].

    The local hour of ``t`` is the wall-clock hour of ``t + offset(t)``; its start is the instant
    at which that wall-clock hour began under the same offset. In a DST autumn night the repeated
    wall-clock hour is two hours with two different starts.
    """
    t = np.asarray(t_us, dtype=np.int64)
    return t - np.mod(t + _offsets_us(t, tz), US_PER_HOUR)


def local_day_numbers(t_us: np.ndarray, tz: ZoneInfo) -> np.ndarray:
    """Return the local day number (days since 1970-01-01 in ``tz``) of each instant."""
    t = np.asarray(t_us, dtype=np.int64)
    return np.floor_divide(t + _offsets_us(t, tz), US_PER_DAY)


def day_date(day_number: int) -> date:
    """Return the calendar date of a local day number."""
    return _DAY0 + timedelta(days=int(day_number))


def day_bounds_us(day_number: int, tz: ZoneInfo) -> tuple[int, int]:
    """Return ``[start, end)`` of a local day in µs since the epoch (23, 24 or 25 hours)."""
    d = day_date(day_number)
    return to_us(day_start_utc(d, tz)), to_us(day_start_utc(d + timedelta(days=1), tz))


# ---------------------------------------------------------------------------------------------
# Reference aggregation and derivation
# ---------------------------------------------------------------------------------------------


def hourly_from_readings(readings: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """Compute hourly rollup rows of a raw-readings frame (the contract's definition).

    Parameters
    ----------
    readings
        Columns time (UTC), meter, point, value, quality.
    tz
        The site's zone, whose wall-clock hours cut the readings.

    Returns
    -------
    pandas.DataFrame
        :data:`ROLLUP_COLUMNS`, ``start`` a UTC timestamp.
    """
    good = readings[(readings["quality"] == Quality.good) & readings["value"].notna()].copy()
    if good.empty:
        return empty_frame(ROLLUP_COLUMNS)
    t_us = pd.DatetimeIndex(good["time"]).as_unit("us").asi8
    good["start"] = pd.to_datetime(hour_starts_us(t_us, tz), unit="us", utc=True)
    good["value"] = good["value"].astype(float)
    good = good.sort_values([*_KEYS, "time"])
    group = [*_KEYS, "start"]
    good["diff"] = good.groupby(group)["value"].diff().clip(lower=0).fillna(0.0)
    out = good.groupby(group).agg(
        first_time=("time", "first"), first_value=("value", "first"),
        last_time=("time", "last"), last_value=("value", "last"),
        delta_sum=("diff", "sum"), value_sum=("value", "sum"), min=("value", "min"),
        max=("value", "max"), n_readings=("value", "size"),
    ).reset_index()
    return out[ROLLUP_COLUMNS]


def daily_from_hourly(hourly: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """Derive daily rollup rows from hourly ones (exact; every hour of each day must be there).

    Parameters
    ----------
    hourly
        :data:`ROLLUP_COLUMNS` with ``start`` the UTC start of each hour.
    tz
        The site's zone.

    Returns
    -------
    pandas.DataFrame
        :data:`ROLLUP_COLUMNS` plus ``day`` (local day number), ``start`` the local midnight.
    """
    if hourly.empty:
        return empty_frame([*ROLLUP_COLUMNS, "day"])
    h = hourly.sort_values([*_KEYS, "start"]).reset_index(drop=True)
    start_us = pd.DatetimeIndex(h["start"]).as_unit("us").asi8
    h["day"] = local_day_numbers(start_us, tz)
    group = [*_KEYS, "day"]
    prev_last = h.groupby(group, sort=False)["last_value"].shift(1).astype(float)
    step = (h["first_value"].astype(float) - prev_last).clip(lower=0).fillna(0.0)
    h["delta_sum"] = h["delta_sum"].astype(float) + step
    out = h.groupby(group, sort=False).agg(
        first_time=("first_time", "first"), first_value=("first_value", "first"),
        last_time=("last_time", "last"), last_value=("last_value", "last"),
        delta_sum=("delta_sum", "sum"), value_sum=("value_sum", "sum"), min=("min", "min"),
        max=("max", "max"), n_readings=("n_readings", "sum"),
    ).reset_index()
    out["start"] = pd.to_datetime(
        [day_bounds_us(int(d), tz)[0] for d in out["day"]], unit="us", utc=True)
    return out[[*ROLLUP_COLUMNS, "day"]]


def hourly_counter_frame(rollup: pd.DataFrame) -> pd.DataFrame:
    """Return :data:`HOURLY_COUNTER_COLUMNS` of a rollup frame."""
    if rollup.empty:
        return empty_frame(HOURLY_COUNTER_COLUMNS)
    return rollup.rename(columns={"start": "hour"})[HOURLY_COUNTER_COLUMNS]


def hourly_gauge_frame(rollup: pd.DataFrame) -> pd.DataFrame:
    """Return :data:`HOURLY_GAUGE_COLUMNS` of a rollup frame (``mean = value_sum / n``)."""
    if rollup.empty:
        return empty_frame(HOURLY_GAUGE_COLUMNS)
    out = rollup.rename(columns={"start": "hour"})
    out["mean"] = out["value_sum"].astype(float) / out["n_readings"].astype(float)
    return out[HOURLY_GAUGE_COLUMNS]


# ---------------------------------------------------------------------------------------------
# Which periods come from rollups, which from raw readings
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodPlan:
    """How to answer ``[start, end)`` per period: whole periods from rollups, edges from raw.

    ``rollup_from`` … ``rollup_until`` (µs, period starts) are read from the rollups;
    ``raw_ranges`` (µs, half-open) are aggregated from raw readings: the parts of a period that
    the range cuts. A period before ``raw_from`` (kept by retention: its raw readings are gone)
    is always read whole from the rollups.
    """

    rollup_from: int
    rollup_until: int
    raw_ranges: tuple[tuple[int, int], ...]


def plan_periods(
    start_us: int, end_us: int, raw_from_us: int, floor_us: Callable[[int], int],
    next_us: Callable[[int], int],
) -> PeriodPlan:
    """Split ``[start_us, end_us)`` into whole periods and cut edges.

    Parameters
    ----------
    start_us, end_us
        The range asked for. [µs]
    raw_from_us
        Raw readings before this instant were dropped by retention. [µs]
    floor_us, next_us
        ``floor_us(t)``: start of the period holding ``t``; ``next_us(p)``: start of the period
        after the one starting at ``p``. [µs]

    Returns
    -------
    PeriodPlan
        The periods to read from rollups and the ranges to aggregate from raw readings.
    """
    p0 = floor_us(start_us)
    lo = p0 if p0 == start_us or next_us(p0) <= raw_from_us else next_us(p0)
    p1 = floor_us(end_us)
    hi = next_us(p1) if p1 != end_us and next_us(p1) <= raw_from_us else p1
    if lo >= hi:
        raw = [(max(start_us, raw_from_us), end_us)]
        lo = hi = 0
    else:
        raw = [(max(start_us, raw_from_us), lo), (max(hi, raw_from_us), end_us)]
    return PeriodPlan(lo, hi, tuple((a, b) for a, b in raw if a < b))


# ---------------------------------------------------------------------------------------------
# Columnar batches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnBatch:
    """Validated columns of a batch of readings (what ``write_frame`` writes).

    ``values`` holds floats and None (no value), ``qualities`` strings, ``t_us`` µs since the
    epoch (UTC).
    """

    meters: list[str]
    points: list[str]
    t_us: np.ndarray
    values: list[float | None]
    qualities: list[str]

    def __len__(self) -> int:
        return len(self.meters)


def _row_error(what: str, index: int, frame_index: object, reason: str) -> ValueError:
    return ValueError(f"write_frame: row {index} (index {frame_index!r}), column {what!r}: {reason}")


def _name_ok(name: object) -> bool:
    return type(name) is str and 0 < len(name) <= MAX_NAME_LENGTH


def _check_names(values: np.ndarray, what: str, index: pd.Index) -> None:
    if all(_name_ok(name) for name in pd.unique(values)):
        return
    pos = next(i for i, v in enumerate(values) if not _name_ok(v))
    raise _row_error(what, pos, index[pos], f"must be a non-empty string of at most "
                     f"{MAX_NAME_LENGTH} characters, got {values[pos]!r}")


def columns_of_frame(frame: pd.DataFrame | Mapping[str, Any]) -> ColumnBatch:
    """Validate a frame (or a mapping of arrays) of readings and return its columns.

    Parameters
    ----------
    frame
        Columns ``meter``, ``point``, ``time`` (timezone-aware), ``value`` (float, NaN or None for
        no value) and optionally ``quality`` (default ``good``).

    Returns
    -------
    ColumnBatch
        The columns, times in µs since the epoch (UTC).

    Raises
    ------
    ValueError
        A missing column, an empty or too long name, a naive or missing time, a non-finite value,
        or a ``good`` reading without a value; the message names the row and the column.
    """
    if not isinstance(frame, pd.DataFrame):
        frame = pd.DataFrame(dict(frame))
    missing = [c for c in ("meter", "point", "time", "value") if c not in frame.columns]
    if missing:
        raise ValueError(f"write_frame: missing column(s) {', '.join(missing)}; expected meter, "
                         "point, time (timezone-aware), value and optionally quality")
    n = len(frame)
    index = frame.index
    meters = frame["meter"].to_numpy(dtype=object)
    points = frame["point"].to_numpy(dtype=object)
    _check_names(meters, "meter", index)
    _check_names(points, "point", index)
    times = frame["time"]
    if not isinstance(times.dtype, pd.DatetimeTZDtype):
        if times.dtype == object and n and all(
                getattr(t, "tzinfo", None) is not None for t in times):
            times = pd.to_datetime(times, utc=True)
        else:
            bad = 0
            for i, t in enumerate(times):
                if getattr(t, "tzinfo", None) is None:
                    bad = i
                    break
            raise _row_error("time", bad, index[bad] if n else None,
                             f"{times.iloc[bad] if n else times.dtype!r} has no time zone; pass "
                             "timezone-aware times (e.g. pd.to_datetime(..., utc=True))")
    if times.isna().any():
        bad = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise _row_error("time", bad, index[bad], "missing time")
    t_us = pd.DatetimeIndex(times).as_unit("us").asi8.astype(np.int64, copy=False)
    if "quality" in frame.columns:
        qualities = frame["quality"].to_numpy(dtype=object)
        _check_names(qualities, "quality", index)
    else:
        qualities = np.full(n, Quality.good.value, dtype=object)
    raw_values = frame["value"]
    try:
        values = pd.to_numeric(raw_values, errors="raise").astype(float).to_numpy()
    except (TypeError, ValueError) as exc:
        numeric = pd.to_numeric(raw_values, errors="coerce")
        bad = int(np.flatnonzero(numeric.isna().to_numpy() & raw_values.notna().to_numpy())[0])
        raise _row_error("value", bad, index[bad],
                         f"must be a number or NaN/None, got {raw_values.iloc[bad]!r}") from exc
    if raw_values.dtype == bool:
        raise _row_error("value", 0, index[0] if n else None, "must be a number, not a bool")
    missing_value = np.isnan(values)
    if np.isinf(values).any():
        bad = int(np.flatnonzero(np.isinf(values))[0])
        raise _row_error("value", bad, index[bad],
                         f"is {values[bad]}; store NaN with a quality such as 'invalid' instead")
    good = qualities == Quality.good.value
    if (missing_value & good).any():
        bad = int(np.flatnonzero(missing_value & good)[0])
        raise _row_error("value", bad, index[bad],
                         "quality 'good' but no value; use quality 'invalid' (or another) for a "
                         "missing value")
    value_list: list[float | None] = list(values.tolist())
    if missing_value.any():
        for i in np.flatnonzero(missing_value).tolist():
            value_list[i] = None
    return ColumnBatch(meters.tolist(), points.tolist(), t_us, value_list, qualities.tolist())


def batch_of_readings(readings: Iterable[Reading]) -> ColumnBatch:
    """Return the columns of :class:`storage.base.Reading` objects (already validated)."""
    meters: list[str] = []
    points: list[str] = []
    t_us: list[int] = []
    values: list[float | None] = []
    qualities: list[str] = []
    one_us = _ONE_US
    for r in readings:
        meters.append(r.meter)
        points.append(r.point)
        t_us.append((r.time - EPOCH) // one_us)
        values.append(r.value)
        qualities.append(r.quality)
    return ColumnBatch(meters, points, np.asarray(t_us, dtype=np.int64), values, qualities)


# ---------------------------------------------------------------------------------------------
# Incremental update (exact cases only)
# ---------------------------------------------------------------------------------------------

#: A rollup row as a tuple: (first_t, first_value, last_t, last_value, delta_sum, value_sum,
#: min, max, n_readings), times in µs.
RollupTuple = tuple[int, float, int, float, float, float, float, float, int]


def aggregate_groups(
    codes: np.ndarray, t_us: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, list[RollupTuple]]:
    """Aggregate good readings per group code: one rollup tuple per code present.

    Parameters
    ----------
    codes
        Group code of each reading (e.g. a factorized meter × point × period). [int]
    t_us
        Times; within a group no time repeats. [µs]
    values
        Good values.

    Returns
    -------
    tuple[numpy.ndarray, list[RollupTuple]]
        The codes present (ascending) and their rollups, in the same order.
    """
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64), []
    order = np.lexsort((t_us, codes))
    c, t, v = codes[order], t_us[order], values[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)] - 1
    step = np.diff(v, prepend=v[0])
    step[starts] = 0.0
    step = np.where(step > 0, step, 0.0)
    rows = list(zip(
        t[starts].tolist(), v[starts].tolist(), t[ends].tolist(), v[ends].tolist(),
        np.add.reduceat(step, starts).tolist(), np.add.reduceat(v, starts).tolist(),
        np.minimum.reduceat(v, starts).tolist(), np.maximum.reduceat(v, starts).tolist(),
        np.diff(np.r_[starts, len(c)]).tolist(), strict=True))
    return c[starts], rows


def aggregate_runs(
    groups: np.ndarray, t_us: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Aggregate good readings already sorted by group and time: one rollup per group present.

    Parameters
    ----------
    groups
        Group number of each reading, non-decreasing. [int]
    t_us
        Times, increasing within a group. [µs]
    values
        Good values.

    Returns
    -------
    tuple[numpy.ndarray, list[numpy.ndarray]]
        The groups present and the nine rollup columns (first_t, first_value, last_t,
        last_value, delta_sum, value_sum, min, max, n_readings), one entry per group present.
    """
    if len(groups) == 0:
        empty = np.zeros(0)
        return np.zeros(0, dtype=np.int64), [empty] * 9
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)] - 1
    step = np.diff(values, prepend=values[0])
    step[starts] = 0.0
    step = np.where(step > 0, step, 0.0)
    return groups[starts], [
        t_us[starts], values[starts], t_us[ends], values[ends],
        np.add.reduceat(step, starts), np.add.reduceat(values, starts),
        np.minimum.reduceat(values, starts), np.maximum.reduceat(values, starts),
        np.diff(np.r_[starts, len(groups)]),
    ]


def combine(before: RollupTuple, after: RollupTuple) -> RollupTuple:
    """Return the rollup of two runs of readings, every reading of ``before`` earlier.

    The step from ``before``'s last value to ``after``'s first counts when it is non-negative.
    """
    step = after[1] - before[3]
    return (before[0], before[1], after[2], after[3],
            before[4] + after[4] + (step if step > 0 else 0.0), before[5] + after[5],
            min(before[6], after[6]), max(before[7], after[7]), before[8] + after[8])


def merge_batch(
    existing: RollupTuple | None, batch: RollupTuple | None, batch_first_us: int,
    batch_last_us: int,
) -> tuple[bool, RollupTuple | None]:
    """Return (exact, new rollup) of a period after a batch, when that is exact without raw.

    Parameters
    ----------
    existing
        The period's rollup before the batch, None when it had no good reading.
    batch
        The rollup of the batch's good readings in the period, None when it has none.
    batch_first_us, batch_last_us
        Earliest and latest time of *any* batch reading in the period (good or not). [µs]

    Returns
    -------
    tuple[bool, RollupTuple | None]
        ``(True, rollup)`` when the batch only adds readings before or after every existing
        good reading (or the period had none): the new rollup (None: still no good reading).
        ``(False, None)`` when the batch may overwrite a good reading: recompute from raw.
    """
    if existing is None:
        return True, batch
    if batch_first_us > existing[2]:
        return True, existing if batch is None else combine(existing, batch)
    if batch_last_us < existing[0]:
        return True, existing if batch is None else combine(batch, existing)
    return False, None


#: One row to write: (meter key, point key, period, first_t, first_value, last_t, last_value,
#: delta_sum, value_sum, min, max, n_readings).
RollupRow = tuple[Any, ...]


def sort_batch(
    meters: np.ndarray, points: np.ndarray, t_us: np.ndarray
) -> np.ndarray:
    """Return the positions of a batch sorted by meter, point and time, one per instant.

    Of two writes of the same meter, point and instant, the later one in the batch is kept (it
    is the one a store keeps). ``meters`` and ``points`` are integer keys (ids or codes).
    """
    order = np.lexsort((np.arange(len(t_us)), t_us, points, meters))
    m, p, t = meters[order], points[order], t_us[order]
    keep = np.r_[(m[1:] != m[:-1]) | (p[1:] != p[:-1]) | (t[1:] != t[:-1]), True]
    return order[keep]


def level_update(
    meters: np.ndarray, points: np.ndarray, t_us: np.ndarray, values: np.ndarray,
    good: np.ndarray, periods: np.ndarray,
    existing_of: Callable[[list[tuple[int, int, int, int]]], dict[tuple[int, int, int],
                                                                   RollupTuple]],
) -> tuple[Iterable[RollupRow], list[tuple[int, int, int]]]:
    """Return the rollup rows a sorted batch changes at one level, and the periods to recompute.

    Parameters
    ----------
    meters, points, t_us, values, good
        The batch sorted by :func:`sort_batch` (integer meter and point keys, times [µs], values
        with NaN for none, "is a good value").
    periods
        The period of each reading (UTC start of the hour [µs], or the local day number).
    existing_of
        Called with ``(meter, point, first period, last period)`` per series of the batch;
        returns the existing rollups of those periods keyed by ``(meter, point, period)``.

    Returns
    -------
    tuple
        Rows ``(meter, point, period, *rollup)`` to write (exact: :func:`merge_batch`), and the
        ``(meter, point, period)`` keys whose new rollup needs the raw readings.
    """
    if len(t_us) == 0:
        return [], []
    new_series = np.r_[True, (meters[1:] != meters[:-1]) | (points[1:] != points[:-1])]
    new_group = new_series | np.r_[True, periods[1:] != periods[:-1]]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], len(t_us)] - 1
    group = np.cumsum(new_group) - 1
    present, columns = aggregate_runs(group[good], t_us[good], values[good])
    series_starts = np.flatnonzero(new_series)
    series_ends = np.r_[series_starts[1:], len(t_us)] - 1
    existing = existing_of(list(zip(
        meters[series_starts].tolist(), points[series_starts].tolist(),
        periods[series_starts].tolist(), periods[series_ends].tolist(), strict=True)))
    key_m, key_p, key_period = meters[starts], points[starts], periods[starts]
    if not existing:  # new periods only (a backfill, the first write of the hour): columns
        return zip(key_m[present].tolist(), key_p[present].tolist(),
                   key_period[present].tolist(), *(c.tolist() for c in columns),
                   strict=True), []
    batch_rows = dict(zip(present.tolist(), zip(*(c.tolist() for c in columns), strict=True),
                          strict=True))
    write: list[RollupRow] = []
    recompute: list[tuple[int, int, int]] = []
    keys = zip(key_m.tolist(), key_p.tolist(), key_period.tolist(), strict=True)
    for i, (key, first, last) in enumerate(zip(keys, t_us[starts].tolist(),
                                               t_us[ends].tolist(), strict=True)):
        old = existing.get(key)
        exact, new = merge_batch(old, batch_rows.get(i), first, last)
        if not exact:
            recompute.append(key)
        elif new is not None and new is not old:
            write.append((*key, *new))
    return write, recompute
