r"""InfluxDB line protocol: the measurements' names and layout, and the escaping of names and values.

Both InfluxDB backends (:mod:`storage.influx_v1` and :mod:`storage.influx_v2`) write the same
layout, built here, so data written through either API reads back through the other:

* ``readings``: tags ``meter``, ``point``; fields ``value`` (float, absent when the reading has
  none), ``quality`` (string) and ``t_us`` (integer, the time in µs, which the daily queries use);
* ``device_health``: tag ``meter``; fields ``available``, ``consecutive_failures``, ``error`` and,
  when known, ``last_success_us`` and ``response_time_s``;
* ``rollup_hourly`` and ``rollup_daily``: tags ``meter``, ``point``; the fields
  :data:`ROLLUP_FIELDS`, timestamped at the start of the local hour or day (a row whose
  ``n_readings`` is 0 is a period that no longer has good readings);
* ``rollup_meta``: fields ``version``, ``zone`` and ``raw_from_us`` (read with ``last()``);
* ``daily_archive`` (databases written before rollups): migrated into ``rollup_daily`` by the
  rebuild.

Every timestamp is written with precision µs.

Meter ids may be any Unicode text. Line protocol escapes commas, equals signs and spaces in tag
values with a backslash, but it cannot carry a newline, and a backslash at the end of a tag value
is ambiguous. Tag values are therefore stored *percent-encoded* for exactly these characters:
``%`` itself, ``\`` and the control characters (U+0000–U+001F, U+007F) become ``%XX``. The
encoding is reversible and leaves every ordinary name (Chinese text, quotes, commas, spaces)
readable in other tools: ``a" OR 1=1`` is stored as ``a" OR 1=1``, ``line1\nline2`` as
``line1%0Aline2``.

Query text never carries a raw name: InfluxQL string literals and Flux strings are quoted with
:func:`influxql_string` and :func:`flux_string`, identifiers with :func:`influxql_ident`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

import pandas as pd

from storage.base import DeviceHealth, Reading
from storage.errors import InvalidName
from storage.periods import day_start_utc, to_us

__all__ = [
    "ARCHIVE",
    "ARCHIVE_FIELDS",
    "HEALTH",
    "READINGS",
    "ROLLUP_DAILY",
    "ROLLUP_FIELDS",
    "ROLLUP_HOURLY",
    "ROLLUP_META",
    "ROLLUP_PENDING",
    "archive_lines",
    "batch_lines",
    "decode_tag",
    "encode_tag",
    "escape_tag",
    "field_string",
    "flux_string",
    "health_line",
    "influxql_ident",
    "influxql_string",
    "pending_lines",
    "reading_line",
    "reading_lines",
    "rollup_lines",
    "tombstone_lines",
]

#: Measurement of the raw readings.
READINGS = "readings"
#: Measurement of the device-health records.
HEALTH = "device_health"
#: Measurement of the daily aggregates kept by retention.
ARCHIVE = "daily_archive"
#: Measurement of the hourly rollups.
ROLLUP_HOURLY = "rollup_hourly"
#: Measurement of the daily rollups (retention keeps them).
ROLLUP_DAILY = "rollup_daily"
#: Measurement of the rollup marker (version, zone, where raw readings start).
ROLLUP_META = "rollup_meta"
#: Measurement of the rollup steps announced (``open = true``) and finished (``open = false``).
ROLLUP_PENDING = "rollup_pending"
#: Fields of a rollup point, in the order they are written.
ROLLUP_FIELDS = (
    "first_t_us", "first_value", "last_t_us", "last_value", "delta_sum", "value_sum", "min",
    "max", "n_readings",
)
#: Fields of a former ``daily_archive`` point, in the order they were written.
ARCHIVE_FIELDS = (
    "first_t_us", "first_value", "last_t_us", "last_value", "delta_sum", "mean", "min", "max",
    "n_readings",
)

_ENCODE = {c: f"%{c:02X}" for c in [*range(0x20), 0x7F, ord("%"), ord("\\")]}
_DECODE = re.compile(r"%([0-9A-F]{2})")
_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


def encode_tag(name: str) -> str:
    r"""Return the stored form of a name: ``%``, ``\`` and control characters as ``%XX``."""
    return name.translate(_ENCODE)


def decode_tag(stored: str) -> str:
    """Return the name back from its stored form (inverse of :func:`encode_tag`)."""
    if "%" not in stored:
        return stored
    return _DECODE.sub(lambda m: chr(int(m.group(1), 16)), stored)


def escape_tag(name: str) -> str:
    """Return a name as a tag value in line protocol: encoded, then commas, ``=`` and spaces escaped."""
    return name.translate(_ENCODE).translate(_TAG_ESCAPE)


def field_string(value: str) -> str:
    r"""Return a string field value in line protocol: double-quoted, ``\`` and ``"`` escaped.

    Newlines (and the other control characters) are percent-encoded like tag values.
    """
    text = value.translate(_ENCODE).replace('"', '\\"')
    return f'"{text}"'


def influxql_string(name: str) -> str:
    """Return an InfluxQL string literal matching the stored form of ``name``."""
    text = encode_tag(name).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def influxql_ident(name: str) -> str:
    """Return an InfluxQL double-quoted identifier (database, retention policy, measurement)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise InvalidName(f"identifier {name!r} contains a control character")
    text = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def flux_string(name: str) -> str:
    """Return a Flux string literal matching the stored form of ``name`` (``${`` cannot interpolate)."""
    text = encode_tag(name).replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{text}"'


# ---------------------------------------------------------------------------------------------
# Lines of the three measurements
# ---------------------------------------------------------------------------------------------


def reading_line(r: Reading) -> str:
    """One reading in line protocol (precision µs)."""
    return next(reading_lines([r]))


def reading_lines(readings: Iterable[Reading]) -> Iterator[str]:
    """Write readings in line protocol (precision µs); escaped series keys are built once."""
    prefixes: dict[tuple[str, str], str] = {}
    qualities: dict[str, str] = {}
    for r in readings:
        prefix = prefixes.get((r.meter, r.point))
        if prefix is None:
            prefix = f"{READINGS},meter={escape_tag(r.meter)},point={escape_tag(r.point)} "
            prefixes[(r.meter, r.point)] = prefix
        quality = qualities.get(r.quality)
        if quality is None:
            quality = qualities[r.quality] = f"quality={field_string(r.quality)}"
        t_us = to_us(r.time)
        if r.value is None:
            yield f"{prefix}{quality},t_us={t_us}i {t_us}"
        else:
            yield f"{prefix}value={float(r.value)!r},{quality},t_us={t_us}i {t_us}"


def health_line(h: DeviceHealth) -> str:
    """One device-health record in line protocol (precision µs)."""
    fields = [
        f"available={'true' if h.available else 'false'}",
        f"consecutive_failures={int(h.consecutive_failures)}i",
        f"error={field_string(h.error or '')}",
    ]
    if h.last_success is not None:
        fields.append(f"last_success_us={to_us(h.last_success)}i")
    if h.response_time_s is not None:
        fields.append(f"response_time_s={float(h.response_time_s)!r}")
    return f"{HEALTH},meter={escape_tag(h.meter)} {','.join(fields)} {to_us(h.time)}"


def archive_lines(days: pd.DataFrame, tz: ZoneInfo) -> Iterator[str]:
    """Daily aggregates as ``daily_archive`` lines, timestamped at the local day's start.

    Parameters
    ----------
    days
        Counter and gauge columns of each meter × point × local day (``meter``, ``point``,
        ``day``, ``first_time``, ``first_value``, ``last_time``, ``last_value``, ``delta_sum``,
        ``mean``, ``min``, ``max``, ``n_readings``).
    tz
        The site's time zone, in which ``day`` is a calendar date.

    Yields
    ------
    str
        One line per row (precision µs).
    """
    columns = ("meter", "point", "day", "first_time", "first_value", "last_time", "last_value",
               "delta_sum", "mean", "min", "max", "n_readings")
    for (meter, point, day, first_time, first_value, last_time, last_value, delta_sum, mean,
         low, high, n_readings) in zip(*(days[c].tolist() for c in columns), strict=True):
        t_us = to_us(day_start_utc(day, tz))
        fields = [
            f"first_t_us={to_us(first_time.to_pydatetime())}i",
            f"first_value={float(first_value)!r}",
            f"last_t_us={to_us(last_time.to_pydatetime())}i",
            f"last_value={float(last_value)!r}",
            f"delta_sum={float(delta_sum)!r}",
            f"mean={float(mean)!r}", f"min={float(low)!r}",
            f"max={float(high)!r}", f"n_readings={int(n_readings)}i",
        ]
        yield (f"{ARCHIVE},meter={escape_tag(meter)},point={escape_tag(point)} "
               f"{','.join(fields)} {t_us}")


def batch_lines(
    meters: list[str], points: list[str], t_us: list[int], values: list[float | None],
    qualities: list[str],
) -> Iterator[str]:
    """Return readings given as columns (:class:`storage.rollups.ColumnBatch`) as lines."""
    prefixes: dict[tuple[str, str], str] = {}
    quality_fields: dict[str, str] = {}
    for meter, point, t, value, quality in zip(meters, points, t_us, values, qualities,
                                               strict=True):
        prefix = prefixes.get((meter, point))
        if prefix is None:
            prefix = f"{READINGS},meter={escape_tag(meter)},point={escape_tag(point)} "
            prefixes[(meter, point)] = prefix
        q = quality_fields.get(quality)
        if q is None:
            q = quality_fields[quality] = f"quality={field_string(quality)}"
        if value is None:
            yield f"{prefix}{q},t_us={t}i {t}"
        else:
            yield f"{prefix}value={value!r},{q},t_us={t}i {t}"


def rollup_lines(measurement: str, rows: pd.DataFrame) -> Iterator[str]:
    """Rollup rows (:data:`storage.rollups.ROLLUP_COLUMNS`) as points at their ``start``.

    Parameters
    ----------
    measurement
        :data:`ROLLUP_HOURLY` or :data:`ROLLUP_DAILY`.
    rows
        meter, point, start (UTC), first/last time and value, delta_sum, value_sum, min, max,
        n_readings.

    Yields
    ------
    str
        One line per row (precision µs).
    """
    if rows.empty:
        return
    columns = ("meter", "point", "first_value", "last_value", "delta_sum", "value_sum", "min",
               "max", "n_readings")
    starts = pd.DatetimeIndex(rows["start"]).as_unit("us").asi8.tolist()
    firsts = pd.DatetimeIndex(rows["first_time"]).as_unit("us").asi8.tolist()
    lasts = pd.DatetimeIndex(rows["last_time"]).as_unit("us").asi8.tolist()
    for (meter, point, first_value, last_value, delta_sum, value_sum, low, high, n), t, ft, lt in zip(
            zip(*(rows[c].tolist() for c in columns), strict=True), starts, firsts, lasts,
            strict=True):
        yield (f"{measurement},meter={escape_tag(meter)},point={escape_tag(point)} "
               f"first_t_us={ft}i,first_value={float(first_value)!r},last_t_us={lt}i,"
               f"last_value={float(last_value)!r},delta_sum={float(delta_sum)!r},"
               f"value_sum={float(value_sum)!r},min={float(low)!r},max={float(high)!r},"
               f"n_readings={int(n)}i {t}")


def tombstone_lines(measurement: str, keys: Iterable[tuple[str, str, int]]) -> Iterator[str]:
    """Mark periods ``(meter, point, start_us)`` as holding no good reading (``n_readings=0``)."""
    for meter, point, start_us in keys:
        yield (f"{measurement},meter={escape_tag(meter)},point={escape_tag(point)} "
               f"n_readings=0i {int(start_us)}")


def pending_lines(days: Iterable[tuple[str, str, int]], is_open: bool) -> Iterator[str]:
    """Announce (``open = true``) or finish the rollup step of days ``(meter, point, start_us)``."""
    flag = "true" if is_open else "false"
    for meter, point, start_us in days:
        yield (f"{ROLLUP_PENDING},meter={escape_tag(meter)},point={escape_tag(point)} "
               f"open={flag} {int(start_us)}")
