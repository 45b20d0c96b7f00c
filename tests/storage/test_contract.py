"""The store contract, run against every backend (SQLite file, real influxd)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from storage.aggregate import (
    daily_counters_from_readings,
    daily_gauges_from_readings,
)
from storage.base import (
    DAILY_COUNTER_COLUMNS,
    DAILY_GAUGE_COLUMNS,
    LATEST_COLUMNS,
    MONTHLY_COUNTER_COLUMNS,
    READING_COLUMNS,
    DeviceHealth,
    Reading,
)
from tests.storage.helpers import counter_series

SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


def assert_frames_match(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    """Same rows (order-free), floats to 1e-9 relative, times and dates exactly."""
    assert list(actual.columns) == list(expected.columns)
    a, e = _sorted(actual, keys), _sorted(expected, keys)
    assert len(a) == len(e), f"{len(a)} rows, expected {len(e)}"
    for col in a.columns:
        if pd.api.types.is_float_dtype(e[col]) or pd.api.types.is_float_dtype(a[col]):
            assert a[col].astype(float).to_numpy() == pytest.approx(
                e[col].astype(float).to_numpy(), rel=1e-9, abs=1e-9, nan_ok=True), col
        elif col.endswith("_time") or col == "time":
            assert list(pd.DatetimeIndex(a[col])) == list(pd.DatetimeIndex(e[col])), col
        else:
            assert list(a[col]) == list(e[col]), col


def test_round_trip_and_half_open_range(make_store) -> None:
    store = make_store()
    readings = [
        Reading("m1", "energy_import_kwh", T0 + timedelta(minutes=15 * i), 100.0 + i)
        for i in range(8)
    ] + [
        Reading("m2", "power_kw", T0 + timedelta(minutes=15), 3.25),
        Reading("m2", "power_kw", T0 + timedelta(minutes=30), None, "invalid"),
        Reading("m2", "power_kw", T0 + timedelta(minutes=45), 4.5, "estimated"),
    ]
    assert store.write_readings(readings) == len(readings)
    frame = store.read_readings(T0, T0 + timedelta(hours=2))
    assert list(frame.columns) == READING_COLUMNS
    assert str(frame["time"].dt.tz) == "UTC"
    got = {(r.meter, r.point, r.time.to_pydatetime(), None if pd.isna(r.value) else r.value,
            r.quality) for r in frame.itertuples()}
    assert got == {(r.meter, r.point, r.time, r.value, r.quality) for r in readings}
    # [start, end): a reading at start is in, one at end is out
    part = store.read_readings(T0 + timedelta(minutes=15), T0 + timedelta(minutes=45),
                               meters=["m1"])
    assert list(part["value"]) == [101.0, 102.0]
    only = store.read_readings(T0, FAR, points=["power_kw"])
    assert set(only["meter"]) == {"m2"}
    assert len(only) == 3
    assert store.read_readings(T0, FAR, meters=[]).empty


def test_times_in_any_zone_are_the_same_instant(make_store) -> None:
    store = make_store()
    local = datetime(2024, 6, 1, 8, 0, tzinfo=SH)
    store.write_readings([Reading("m", "p", local, 1.0)])
    store.write_readings([Reading("m", "p", datetime(2024, 6, 1, 0, 0, tzinfo=UTC), 2.0)])
    frame = store.read_readings(T0, FAR)
    assert len(frame) == 1
    assert frame["value"].iloc[0] == 2.0
    assert frame["time"].iloc[0] == pd.Timestamp("2024-06-01T00:00:00Z")


def test_rewrite_is_idempotent(make_store) -> None:
    store = make_store()
    readings = counter_series("m1", "energy_import_kwh", T0, 200, timedelta(minutes=15), seed=1)
    store.write_readings(readings)
    before = store.read_readings(T0, FAR)
    daily_before = store.daily_counters(T0, FAR)
    store.write_readings(readings)
    store.write_readings(readings[:50])
    assert_frames_match(store.read_readings(T0, FAR), before, ["meter", "point", "time"])
    assert_frames_match(store.daily_counters(T0, FAR), daily_before, ["meter", "point", "day"])
    # a rewrite with another value replaces it
    first = readings[0]
    store.write_readings([Reading(first.meter, first.point, first.time, 123456.0)])
    after = store.read_readings(first.time, first.time + timedelta(microseconds=1))
    assert list(after["value"]) == [123456.0]
    assert len(store.read_readings(T0, FAR)) == len(before)


def test_naive_times_are_rejected(make_store) -> None:
    store = make_store()
    with pytest.raises(ValueError, match="no time zone"):
        Reading("m", "p", datetime(2024, 1, 1), 1.0)
    with pytest.raises(ValueError, match="no time zone"):
        store.read_readings(datetime(2024, 1, 1), FAR)
    with pytest.raises(ValueError, match="no time zone"):
        store.daily_counters(T0, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="single string"):
        store.read_readings(T0, FAR, meters="m1")


def test_day_cut_at_local_midnight_shanghai(make_store) -> None:
    store = make_store("Asia/Shanghai")
    before = datetime(2024, 3, 1, 23, 59, tzinfo=SH)  # 15:59 UTC
    after = datetime(2024, 3, 2, 0, 1, tzinfo=SH)  # 16:01 UTC, same UTC day
    store.write_readings([Reading("m", "c", before, 10.0), Reading("m", "c", after, 12.0)])
    daily = store.daily_counters(T0, FAR)
    assert list(daily["day"]) == [date(2024, 3, 1), date(2024, 3, 2)]
    assert list(daily["n_readings"]) == [1, 1]
    assert list(daily["delta_sum"]) == [0.0, 0.0]  # the step across midnight is in neither day
    assert list(daily["first_time"]) == [pd.Timestamp(before), pd.Timestamp(after)]
    gauges = store.daily_gauges(T0, FAR)
    assert list(gauges["mean"]) == [10.0, 12.0]
    # in UTC both readings are on 2024-03-01: the same data in a UTC store gives one day
    utc_store = make_store("UTC")
    assert list(utc_store.daily_counters(T0, FAR)["n_readings"]) == [2]


@pytest.mark.parametrize(("day", "hours"), [(date(2024, 3, 31), 23), (date(2024, 10, 27), 25)])
def test_dst_days_are_23_and_25_hours(make_store, day: date, hours: int) -> None:
    store = make_store("Europe/Berlin")
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN) - timedelta(days=1)
    first_utc = start.astimezone(UTC)
    readings = [Reading("m", "c", first_utc + timedelta(hours=i), float(i))
                for i in range(24 + hours + 24)]
    store.write_readings(readings)
    daily = store.daily_counters(T0, FAR)
    row = daily[daily["day"] == day].iloc[0]
    assert row["n_readings"] == hours
    assert row["delta_sum"] == hours - 1
    assert row["first_time"] == pd.Timestamp(datetime(day.year, day.month, day.day, tzinfo=BERLIN))
    assert list(daily["day"]) == [day - timedelta(days=1), day, day + timedelta(days=1)]
    assert list(store.daily_gauges(T0, FAR)["n_readings"]) == [24, hours, 24]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "Europe/Berlin"])
def test_aggregates_match_the_definition(make_store, zone: str) -> None:
    store = make_store(zone)
    tz = ZoneInfo(zone)
    start = datetime(2024, 3, 20, tzinfo=UTC)
    readings = []
    for i, meter in enumerate(["a", "b", "电表-3"]):
        readings += counter_series(meter, "energy_import_kwh", start, 1500,
                                   timedelta(minutes=15), seed=10 + i)
        readings += counter_series(meter, "power_kw", start, 700, timedelta(minutes=30),
                                   seed=20 + i, resets=False)
    store.write_readings(readings)
    q_start, q_end = start + timedelta(hours=5), start + timedelta(days=25)
    raw = store.read_readings(q_start, q_end)
    assert len(raw) == sum(q_start <= r.time < q_end for r in readings)
    expected = daily_counters_from_readings(raw, tz)
    keys = ["meter", "point", "day"]
    assert_frames_match(store.daily_counters(q_start, q_end), expected, keys)
    assert_frames_match(store.daily_gauges(q_start, q_end), daily_gauges_from_readings(raw, tz),
                        keys)
    subset = store.daily_counters(q_start, q_end, meters=["电表-3"], points=["power_kw"])
    assert_frames_match(subset, expected[(expected["meter"] == "电表-3")
                                         & (expected["point"] == "power_kw")], keys)
    # months straight from the raw readings (consecutive good readings within the month)
    monthly = store.monthly_counters(q_start, q_end)
    assert list(monthly.columns) == MONTHLY_COUNTER_COLUMNS
    good = raw[raw["quality"] == "good"].copy()
    good["month"] = [d.replace(day=1) for d in pd.DatetimeIndex(good["time"]).tz_convert(tz).date]
    good = good.sort_values(["meter", "point", "time"])
    good["diff"] = good.groupby(["meter", "point", "month"])["value"].diff().clip(lower=0)
    ref = good.groupby(["meter", "point", "month"]).agg(
        delta_sum=("diff", "sum"), n_readings=("value", "size"),
        first_value=("value", "first"), last_value=("value", "last")).reset_index()
    got = monthly.merge(ref, on=["meter", "point", "month"], suffixes=("", "_ref"))
    assert len(got) == len(ref) == len(monthly)
    for col in ("delta_sum", "n_readings", "first_value", "last_value"):
        assert got[col].astype(float).to_numpy() == pytest.approx(
            got[f"{col}_ref"].astype(float).to_numpy(), rel=1e-9), col
    gauges = store.monthly_gauges(q_start, q_end, points=["power_kw"])
    ref_mean = good[good["point"] == "power_kw"].groupby(["meter", "month"])["value"].mean()
    assert gauges.set_index(["meter", "month"])["mean"].sort_index().to_numpy() == \
        pytest.approx(ref_mean.sort_index().to_numpy(), rel=1e-9)


def test_empty_results_have_the_columns(make_store) -> None:
    store = make_store()
    assert list(store.read_readings(T0, FAR).columns) == READING_COLUMNS
    assert list(store.daily_counters(T0, FAR).columns) == DAILY_COUNTER_COLUMNS
    assert list(store.daily_gauges(T0, FAR).columns) == DAILY_GAUGE_COLUMNS
    assert list(store.monthly_counters(T0, FAR).columns) == MONTHLY_COUNTER_COLUMNS
    assert list(store.latest().columns) == LATEST_COLUMNS
    assert store.read_health().empty


def test_latest_per_meter_and_point(make_store) -> None:
    store = make_store()
    store.write_readings(
        [
            *counter_series("m1", "energy_import_kwh", T0, 50, timedelta(minutes=15),
                            invalid_share=0),
            Reading("m1", "power_kw", T0 + timedelta(hours=1), 5.0),
            Reading("m1", "power_kw", T0 + timedelta(hours=2), None, "invalid"),
            Reading("m2", "power_kw", T0, 7.0),
        ]
    )
    latest = store.latest()
    assert list(latest.columns) == LATEST_COLUMNS
    by_key = {(r.meter, r.point): r for r in latest.itertuples()}
    assert set(by_key) == {("m1", "energy_import_kwh"), ("m1", "power_kw"), ("m2", "power_kw")}
    raw = store.read_readings(T0, FAR, meters=["m1"], points=["energy_import_kwh"])
    assert by_key["m1", "energy_import_kwh"].time == raw["time"].max()
    assert by_key["m1", "energy_import_kwh"].value == raw["value"].iloc[-1]
    assert by_key["m1", "power_kw"].quality == "invalid"
    assert pd.isna(by_key["m1", "power_kw"].value)
    assert list(store.latest(meters=["m2"])["value"]) == [7.0]


def test_health_round_trip(make_store) -> None:
    store = make_store()
    records = [
        DeviceHealth("m1", T0, True, 0, T0, 0.042),
        DeviceHealth("m1", T0 + timedelta(minutes=1), False, 3, T0, None, "timeout after 1.0 s"),
        DeviceHealth("m 2,\"x\"", T0, False, 9, None, None, "exception 0x02\nillegal address"),
    ]
    assert store.write_health(records) == 3
    store.write_health(records[:1])  # idempotent
    frame = store.read_health()
    assert len(frame) == 3
    rows = {(r.meter, r.time.to_pydatetime()): r for r in frame.itertuples()}
    for h in records:
        r = rows[h.meter, h.time]
        assert bool(r.available) == h.available
        assert r.consecutive_failures == h.consecutive_failures
        assert (pd.isna(r.last_success) if h.last_success is None
                else r.last_success.to_pydatetime() == h.last_success)
        assert (pd.isna(r.response_time_s) if h.response_time_s is None
                else r.response_time_s == h.response_time_s)
        assert r.error == h.error
    assert len(store.read_health(start=T0 + timedelta(seconds=1))) == 1
    assert len(store.read_health(end=T0 + timedelta(seconds=1), meters=["m1"])) == 1


HOSTILE = [
    'a" OR 1=1',
    "'; DROP DATABASE x; --",
    "x' OR meter =~ /.*/ OR 'a'='a",
    "comma,separated,meter",
    "with space and =equals",
    "back\\slash",
    "trailing\\",
    "line1\nline2",
    "cr\r\ntab\t",
    "percent %0A literal",
    '{"json": true}',
    "${interpolate}",
    "电表 #3 (一楼)",
]


def test_hostile_names_round_trip_and_cannot_change_a_query(make_store) -> None:
    store = make_store()
    victim = [Reading("victim", "energy_import_kwh", T0 + timedelta(hours=i), float(i))
              for i in range(5)]
    store.write_readings(victim)
    hostile = [Reading(name, f"p {name}", T0 + timedelta(hours=k), float(k), f"q{name}")
               for k, name in enumerate(HOSTILE)]
    hostile += [Reading(name, "energy_import_kwh", T0 + timedelta(hours=k + 1), 1.0)
                for k, name in enumerate(HOSTILE)]
    store.write_readings(hostile)
    for k, name in enumerate(HOSTILE):
        frame = store.read_readings(T0, FAR, meters=[name])
        assert set(frame["meter"]) == {name}, name
        assert set(frame["point"]) == {f"p {name}", "energy_import_kwh"}
        assert f"q{name}" in set(frame["quality"])
        by_point = store.read_readings(T0, FAR, points=[f"p {name}"])
        assert list(by_point["meter"]) == [name]
        assert list(by_point["value"]) == [float(k)]
        daily = store.daily_counters(T0, FAR, meters=[name])
        assert set(daily["meter"]) == {name}
        assert list(store.latest(meters=[name], points=[f"p {name}"])["meter"]) == [name]
    everything = store.read_readings(T0, FAR)
    assert set(everything["meter"]) == {"victim", *HOSTILE}
    assert len(everything) == len(victim) + len(hostile)
    assert list(store.read_readings(T0, FAR, meters=["victim"])["value"]) == [0.0, 1, 2, 3, 4]
    store.write_health([DeviceHealth(name, T0, False, 1, None, None, name) for name in HOSTILE])
    health = store.read_health()
    assert sorted(health["meter"]) == sorted(HOSTILE)
    assert all(health["meter"] == health["error"])


def test_retention_drops_raw_and_keeps_daily(make_store) -> None:
    store = make_store("Europe/Berlin", retention_raw_days=10)
    start = datetime(2024, 10, 1, tzinfo=UTC)
    store.write_readings(
        counter_series("m", "energy_import_kwh", start, 30 * 96, timedelta(minutes=15), seed=3)
    )
    end = start + timedelta(days=40)
    counters, gauges = store.daily_counters(start, end), store.daily_gauges(start, end)
    monthly = store.monthly_counters(start, end)
    now = datetime(2024, 11, 5, 9, 30, tzinfo=UTC)
    result = store.apply_retention(now)
    assert result.cutoff == datetime(2024, 10, 26, tzinfo=BERLIN)
    remaining = store.read_readings(start, end)
    assert remaining["time"].min() >= pd.Timestamp(result.cutoff)
    dropped_days = counters[counters["day"] < date(2024, 10, 26)]
    assert result.days_archived == len(dropped_days)
    if result.readings_dropped is not None:
        assert result.readings_dropped > 0
    keys = ["meter", "point", "day"]
    assert_frames_match(store.daily_counters(start, end), counters, keys)
    assert_frames_match(store.daily_gauges(start, end), gauges, keys)
    assert_frames_match(store.monthly_counters(start, end), monthly, ["meter", "point", "month"])
    again = store.apply_retention(now)  # nothing left to do
    assert again.days_archived == 0
    assert_frames_match(store.daily_counters(start, end), counters, keys)
