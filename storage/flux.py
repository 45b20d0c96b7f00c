"""Flux query text for the InfluxDB v2 backend: pure functions, unit-tested as text.

Every name goes through :func:`storage.lineprotocol.flux_string`; times are RFC 3339 literals of
integers computed here. Days are cut by ``window(every: 1d)`` under
``option location = timezone.location(name: <site zone>)``, so DST days are 23 or 25 hours.
"""

from __future__ import annotations

from collections.abc import Sequence

from jieneng.vocabulary import Quality
from storage.lineprotocol import HEALTH, READINGS, flux_string
from storage.periods import rfc3339

__all__ = [
    "daily_counters_flux",
    "daily_gauges_flux",
    "latest_flux",
    "latest_health_flux",
    "read_flux",
    "rfc3339",
]


def _any_of(column: str, names: Sequence[str] | None) -> str:
    if names is None:
        return ""
    if not names:
        return "\n  |> filter(fn: (r) => false)"
    test = " or ".join(f"r.{column} == {flux_string(n)}" for n in names)
    return f"\n  |> filter(fn: (r) => {test})"


def source(
    bucket: str, start_us: int, end_us: int, measurement: str,
    meters: Sequence[str] | None = None, points: Sequence[str] | None = None,
) -> str:
    """``from |> range |> filter`` of one measurement, meters and points."""
    return (
        f"from(bucket: {flux_string(bucket)})\n"
        f"  |> range(start: {rfc3339(start_us)}, stop: {rfc3339(end_us)})\n"
        f"  |> filter(fn: (r) => r._measurement == {flux_string(measurement)})"
        + _any_of("meter", meters) + _any_of("point", points)
    )


def read_flux(
    bucket: str, start_us: int, end_us: int, meters: Sequence[str] | None,
    points: Sequence[str] | None,
) -> str:
    """Raw readings, one row per reading: _time, meter, point, value, quality."""
    return (
        source(bucket, start_us, end_us, READINGS, meters, points)
        + '\n  |> filter(fn: (r) => r._field == "value" or r._field == "quality")'
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
        + '\n  |> keep(columns: ["_time", "meter", "point", "value", "quality"])'
    )


def _good_by_day(
    bucket: str, start_us: int, end_us: int, zone: str, meters: Sequence[str] | None,
    points: Sequence[str] | None,
) -> str:
    return (
        'import "timezone"\n'
        f"option location = timezone.location(name: {flux_string(zone)})\n"
        "good = "
        + read_flux(bucket, start_us, end_us, meters, points)
        + f"\n  |> filter(fn: (r) => r.quality == {flux_string(Quality.good)} and exists r.value)"
        + "\n  |> window(every: 1d)\n"
    )


def daily_counters_flux(
    bucket: str, start_us: int, end_us: int, zone: str, meters: Sequence[str] | None,
    points: Sequence[str] | None,
) -> str:
    """Return the Flux of the daily counter aggregates, as four yields.

    Per meter × point × local day: first, last (with their ``_time``), count, and the sum of
    non-negative differences within the day.
    """
    return (
        _good_by_day(bucket, start_us, end_us, zone, meters, points)
        + 'good |> first(column: "value") |> yield(name: "first")\n'
        + 'good |> last(column: "value") |> yield(name: "last")\n'
        + 'good |> count(column: "value") |> yield(name: "count")\n'
        + 'good |> difference(columns: ["value"], nonNegative: true)'
        + ' |> sum(column: "value") |> yield(name: "delta")\n'
    )


def daily_gauges_flux(
    bucket: str, start_us: int, end_us: int, zone: str, meters: Sequence[str] | None,
    points: Sequence[str] | None,
) -> str:
    """Per meter × point × local day: mean, min, max and count, as four yields."""
    return (
        _good_by_day(bucket, start_us, end_us, zone, meters, points)
        + "".join(
            f'good |> {fn}(column: "value") |> yield(name: "{fn}")\n'
            for fn in ("mean", "min", "max", "count")
        )
    )


def latest_flux(bucket: str, meters: Sequence[str] | None, points: Sequence[str] | None) -> str:
    """Newest quality (any) and newest value per meter × point, as two yields."""
    base = source(bucket, 0, 2**62 // 1000, READINGS, meters, points)
    return (
        f"data = {base}\n"
        'data |> filter(fn: (r) => r._field == "quality") |> last() |> yield(name: "quality")\n'
        'data |> filter(fn: (r) => r._field == "value") |> last() |> yield(name: "value")\n'
    )


def latest_health_flux(bucket: str, meters: Sequence[str] | None) -> str:
    """Return the newest device-health record per meter, its fields as columns."""
    return (
        source(bucket, 0, 2**62 // 1000, HEALTH, meters)
        + "\n  |> last()"
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )


def pivot_flux(
    bucket: str, start_us: int, end_us: int, measurement: str, meters: Sequence[str] | None,
    points: Sequence[str] | None = None,
) -> str:
    """Every field of a measurement as columns (health records, archived days)."""
    return (
        source(bucket, start_us, end_us, measurement, meters, points)
        + '\n  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")'
    )
