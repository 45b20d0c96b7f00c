"""The Flux text of the InfluxDB v2 backend (checked as text; a live 2.x server runs the
contract suite only when JIENENG_TEST_INFLUXDB2_URL is set)."""

from __future__ import annotations

import pytest

from storage.flux import (
    daily_counters_flux,
    daily_gauges_flux,
    latest_flux,
    latest_health_flux,
    read_flux,
    rfc3339,
)
from tests.storage.conftest import V2_ORG, V2_TOKEN, V2_URL

START, END = 1_704_067_200_000_000, 1_735_689_600_000_000  # 2024-01-01 .. 2025-01-01 UTC


def test_time_literals() -> None:
    assert rfc3339(START) == "2024-01-01T00:00:00.000000Z"
    assert rfc3339(START + 1) == "2024-01-01T00:00:00.000001Z"


def test_read_filters_meters_and_points_and_pivots() -> None:
    flux = read_flux("jieneng", START, END, ["m1", "m2"], ["energy_import_kwh"])
    assert flux.startswith('from(bucket: "jieneng")\n')
    assert "|> range(start: 2024-01-01T00:00:00.000000Z, stop: 2025-01-01T00:00:00.000000Z)" in flux
    assert '|> filter(fn: (r) => r._measurement == "readings")' in flux
    assert '|> filter(fn: (r) => r.meter == "m1" or r.meter == "m2")' in flux
    assert '|> filter(fn: (r) => r.point == "energy_import_kwh")' in flux
    assert 'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")' in flux
    assert "r.meter ==" not in read_flux("b", START, END, None, None)
    assert "filter(fn: (r) => false)" in read_flux("b", START, END, [], None)


def test_daily_counters_cut_days_in_the_site_zone() -> None:
    flux = daily_counters_flux("b", START, END, "Europe/Berlin", None, None)
    lines = flux.splitlines()
    assert lines[0] == 'import "timezone"'
    assert lines[1] == 'option location = timezone.location(name: "Europe/Berlin")'
    assert '|> filter(fn: (r) => r.quality == "good" and exists r.value)' in flux
    assert "|> window(every: 1d)" in flux
    for name in ("first", "last", "count", "delta"):
        assert f'yield(name: "{name}")' in flux
    assert 'difference(columns: ["value"], nonNegative: true) |> sum(column: "value")' in flux


def test_daily_gauges_yields() -> None:
    flux = daily_gauges_flux("b", START, END, "Asia/Shanghai", ["m"], None)
    for fn in ("mean", "min", "max", "count"):
        assert f'good |> {fn}(column: "value") |> yield(name: "{fn}")' in flux


def test_hostile_names_stay_inside_their_string() -> None:
    hostile = '") |> drop() |> yield(name: "x'
    flux = read_flux("b", START, END, [hostile, "${token}", "a\\b\nc"], None)
    assert 'r.meter == "\\") |> drop() |> yield(name: \\"x"' in flux
    assert 'r.meter == "\\${token}"' in flux
    assert 'r.meter == "a%5Cb%0Ac"' in flux
    assert flux.count("|> drop()") == 1  # only inside the quoted literal


def test_latest_has_two_yields() -> None:
    flux = latest_flux("b", ["m"], None)
    assert 'r._field == "quality") |> last() |> yield(name: "quality")' in flux
    assert 'r._field == "value") |> last() |> yield(name: "value")' in flux


def test_latest_health_is_the_last_record_per_meter_pivoted() -> None:
    flux = latest_health_flux("b", ['a"b'])
    assert '|> filter(fn: (r) => r._measurement == "device_health")' in flux
    assert '|> filter(fn: (r) => r.meter == "a\\"b")' in flux
    assert flux.index("|> last()") < flux.index("|> pivot(")


@pytest.mark.influxdb
@pytest.mark.skipif(not V2_URL, reason="JIENENG_TEST_INFLUXDB2_URL is not set: the contract "
                    "suite runs against InfluxDB 1.x and SQLite only")
def test_the_named_influxdb2_server_answers() -> None:
    """With a 2.x server named, the contract suite also runs on the v2 backend (conftest)."""
    from influxdb_client import InfluxDBClient

    with InfluxDBClient(url=V2_URL, token=V2_TOKEN, org=V2_ORG) as client:
        assert client.ping()
