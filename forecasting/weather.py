"""Weather: import a temperature file into the store, daily mean temperature → degree-days.

``jieneng import weather FILE --config F`` reads a CSV ``time,temperature_c[,station]`` (ISO
time with an offset or ``Z``; hourly or finer) and writes each row as a gauge reading
``<station or [forecasting] weather_meter>/temperature_c`` through the store's
``write_readings``. Every bad row is reported with its row number and reason, and then nothing is
imported.

Degree-days per local day (the site's time zone cuts days, as for consumption):
``hdd_c_day = max(0, hdd_base_c − mean)`` and ``cdd_c_day = max(0, mean − cdd_base_c)`` (HDD18
and CDD26 by default, the bases of Chinese building-energy standards). Rows in the future are a
weather forecast and used as such; beyond the last row each day of the year takes its normal (the
mean of that day-of-year over the history, smoothed over ±7 days).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.errors import WeatherImportError, WeatherProblem
from storage import Reading

__all__ = [
    "TEMPERATURE_POINT",
    "WEATHER_COLUMNS",
    "daily_temperature",
    "degree_days",
    "import_weather",
    "parse_weather",
    "weather_frame",
]

#: The gauge point of a temperature series.
TEMPERATURE_POINT = "temperature_c"
#: Columns of :func:`weather_frame`.
WEATHER_COLUMNS = ["ds", "temperature_c", "hdd_c_day", "cdd_c_day", "weather_source"]
#: Plausible air temperatures. [°C]
_LOW_C, _HIGH_C = -60.0, 60.0


def _parse_time(text: str) -> dt.datetime:
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("no UTC offset; expected ISO time with an offset (+08:00) or Z")
    return parsed.astimezone(dt.UTC)


def parse_weather(path: Path, default_station: str = "weather") -> list[Reading]:
    """Every row of a weather CSV as a reading, or :class:`WeatherImportError` listing every bad row.

    Parameters
    ----------
    path
        UTF-8 CSV with columns ``time``, ``temperature_c`` and optionally ``station``.
    default_station
        Meter id of rows without a station.
    """
    name = str(path)
    try:
        return _parse(path, name, default_station)
    except UnicodeDecodeError as exc:
        raise WeatherImportError(name, [WeatherProblem(
            name, 1, "", f"byte {exc.start}", "not UTF-8 text; expected a UTF-8 CSV file "
            "with the header time,temperature_c[,station] (save it as CSV UTF-8)")]) from None
    except csv.Error as exc:
        raise WeatherImportError(name, [WeatherProblem(
            name, 1, "", "", f"not a CSV file ({exc}); expected the header "
            "time,temperature_c[,station]")]) from None


def _parse(path: Path, name: str, default_station: str) -> list[Reading]:
    problems: list[WeatherProblem] = []
    readings: list[Reading] = []
    seen: dict[tuple[str, dt.datetime], int] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in ("time", "temperature_c") if c not in columns]
        if missing:
            raise WeatherImportError(name, [WeatherProblem(
                name, 1, ",".join(missing), ",".join(columns),
                "missing column(s); expected a header time,temperature_c[,station]")])
        for row_no, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()
                   if isinstance(v, str) or v is None}
            station = row.get("station") or default_station
            try:
                time = _parse_time(row.get("time", ""))
            except ValueError as exc:
                problems.append(WeatherProblem(name, row_no, "time", row.get("time", ""),
                                               str(exc) if "offset" in str(exc) else
                                               "not an ISO time (e.g. 2026-01-01T08:00:00+08:00)"))
                time = None
            text = row.get("temperature_c", "")
            try:
                value = float(text)
                if not math.isfinite(value) or not _LOW_C <= value <= _HIGH_C:
                    raise ValueError
            except ValueError:
                problems.append(WeatherProblem(
                    name, row_no, "temperature_c", text,
                    f"expected a temperature in °C between {_LOW_C:g} and {_HIGH_C:g}"))
                continue
            if time is None:
                continue
            if (station, time) in seen:
                problems.append(WeatherProblem(
                    name, row_no, "time", row.get("time", ""),
                    f"station {station!r} has this time already (row {seen[(station, time)]})"))
                continue
            seen[(station, time)] = row_no
            readings.append(Reading(station, TEMPERATURE_POINT, time, value))
    if problems:
        raise WeatherImportError(name, problems)
    return readings


def import_weather(path: Path, store: Any, default_station: str = "weather") -> int:
    """Parse a weather file and write it to the store (all rows or, with a bad row, none).

    Returns
    -------
    int
        Readings written.
    """
    readings = parse_weather(path, default_station)
    return int(store.write_readings(readings))


def daily_temperature(store: Any, tz: dt.tzinfo, first: dt.date, last: dt.date,
                      station: str = "weather") -> pd.Series:
    """Daily mean temperature [°C] per local day from the store's gauge aggregates (index: days)."""
    start = dt.datetime.combine(first, dt.time(), tz)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz)
    daily = store.daily_gauges(start, end, meters=[station], points=[TEMPERATURE_POINT])
    if daily.empty:
        return pd.Series(dtype=float, name="temperature_c")
    out = pd.Series(daily["mean"].astype(float).to_numpy(),
                    index=pd.DatetimeIndex(pd.to_datetime(daily["day"])), name="temperature_c")
    return out.sort_index()


def degree_days(temperature_c: np.ndarray | pd.Series, hdd_base_c: float = 18.0,
                cdd_base_c: float = 26.0) -> tuple[np.ndarray, np.ndarray]:
    """Heating and cooling degree-days of daily mean temperatures. [°C·day]"""
    t = np.asarray(temperature_c, dtype=float)
    return np.maximum(0.0, hdd_base_c - t), np.maximum(0.0, t - cdd_base_c)


def _normals(observed: pd.Series) -> np.ndarray:
    """Mean temperature per day-of-year 1..366, smoothed over ±7 days (circular)."""
    doy = observed.index.day_of_year.to_numpy()
    sums = np.bincount(doy, weights=observed.to_numpy(), minlength=367)[1:]
    counts = np.bincount(doy, minlength=367)[1:].astype(float)
    kernel = np.ones(15)
    wrap = 7
    s = np.convolve(np.r_[sums[-wrap:], sums, sums[:wrap]], kernel, mode="same")[wrap:-wrap]
    c = np.convolve(np.r_[counts[-wrap:], counts, counts[:wrap]], kernel, mode="same")[wrap:-wrap]
    with np.errstate(invalid="ignore", divide="ignore"):
        normal = s / c
    if np.isnan(normal).any():  # a day-of-year never observed within ±7 days: the overall mean
        normal = np.where(np.isnan(normal), float(observed.mean()), normal)
    return normal


def weather_frame(observed: pd.Series, days: pd.DatetimeIndex, hdd_base_c: float = 18.0,
                  cdd_base_c: float = 26.0) -> pd.DataFrame:
    """Temperature and degree-days for ``days``: observed (or forecast rows), else the normal.

    Returns
    -------
    pandas.DataFrame
        :data:`WEATHER_COLUMNS`; ``weather_source`` is ``observed`` or ``normal``. Empty when
        there is no observation at all.
    """
    if observed.empty:
        return pd.DataFrame(columns=WEATHER_COLUMNS)
    t = observed.reindex(days)
    source = np.where(t.notna(), "observed", "normal")
    normal = _normals(observed)
    filled = np.where(t.isna(), normal[days.day_of_year.to_numpy() - 1], t.to_numpy())
    hdd, cdd = degree_days(filled, hdd_base_c, cdd_base_c)
    return pd.DataFrame({"ds": days, "temperature_c": filled, "hdd_c_day": hdd,
                         "cdd_c_day": cdd, "weather_source": source})


def iter_hours(first: dt.datetime, last: dt.datetime) -> Iterator[dt.datetime]:
    """Whole hours from ``first`` to ``last`` inclusive (for generators of sample files)."""
    t = first
    while t <= last:
        yield t
        t += dt.timedelta(hours=1)
