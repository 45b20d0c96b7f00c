"""Rollups on every backend: equal to a fresh aggregation of the raw readings whatever the order
of writes, across DST and local midnight, through retention, a killed writer and a rebuild."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import sqlite3
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.aggregate import daily_counters_from_readings, daily_gauges_from_readings
from storage.base import (
    DAILY_COUNTER_COLUMNS,
    HEALTH_COLUMNS,
    HOURLY_COUNTER_COLUMNS,
    HOURLY_GAUGE_COLUMNS,
    DeviceHealth,
    Reading,
    readings_frame,
)
from storage.errors import RollupsMissing
from storage.influx_v1 import InfluxV1Store
from storage.rollups import hourly_counter_frame, hourly_from_readings, hourly_gauge_frame
from storage.sqlite import SqliteStore
from tests.storage.conftest import open_spec
from tests.storage.helpers import counter_series
from tests.storage.test_contract import assert_frames_match
from tests.storage.workers import endless_writer, influx_writer_killed_in_rollup_step

CTX = multiprocessing.get_context("spawn")
T0 = datetime(2024, 1, 1, tzinfo=UTC)
FAR = datetime(2030, 1, 1, tzinfo=UTC)
DAY_KEYS = ["meter", "point", "day"]
HOUR_KEYS = ["meter", "point", "hour"]


def assert_rollups_match_raw(store, start: datetime, end: datetime) -> None:
    """Daily and hourly reads (rollups) equal a fresh aggregation of the raw readings."""
    raw = store.read_readings(start, end)
    tz = store.tz
    assert_frames_match(store.daily_counters(start, end), daily_counters_from_readings(raw, tz),
                        DAY_KEYS)
    assert_frames_match(store.daily_gauges(start, end), daily_gauges_from_readings(raw, tz),
                        DAY_KEYS)
    assert_frames_match(store.daily_counters(start, end), store.raw_daily_counters(start, end),
                        DAY_KEYS)
    hourly = hourly_from_readings(raw, tz)
    assert_frames_match(store.hourly_counters(start, end), hourly_counter_frame(hourly),
                        HOUR_KEYS)
    assert_frames_match(store.hourly_gauges(start, end), hourly_gauge_frame(hourly), HOUR_KEYS)


def _series(start: datetime, days: int, seed: int) -> list[Reading]:
    readings = []
    for i, meter in enumerate(["a", "电表 2"]):
        readings += counter_series(meter, "energy_import_kwh", start, days * 24 * 6,
                                   timedelta(minutes=7), seed=seed + i)
        readings += counter_series(meter, "power_kw", start, days * 24 * 2,
                                   timedelta(minutes=29), seed=seed + 10 + i, resets=False)
    return readings


@pytest.mark.parametrize(("zone", "start"), [
    ("Europe/Berlin", datetime(2024, 10, 25, 21, tzinfo=UTC)),  # 25-hour day 2024-10-27
    ("Europe/Berlin", datetime(2024, 3, 29, 22, tzinfo=UTC)),  # 23-hour day 2024-03-31
    ("Asia/Shanghai", datetime(2024, 2, 28, 13, tzinfo=UTC)),  # midnight at 16:00 UTC
])
def test_rollups_equal_raw_after_in_order_out_of_order_duplicate_and_replayed_writes(
    make_store, zone: str, start: datetime
) -> None:
    store = make_store(zone)
    readings = _series(start, 3, seed=5)
    rng = random.Random(1)
    half = len(readings) // 2
    store.write_readings(readings[:half])  # in order
    rest = readings[half:]
    rng.shuffle(rest)
    for i in range(0, len(rest), 97):  # out of order, in small batches
        store.write_readings(rest[i:i + 97])
    end = start + timedelta(days=5)
    assert_rollups_match_raw(store, start, end)
    # a cut range: whole days from rollups, the cut parts from raw readings
    assert_rollups_match_raw(store, start + timedelta(hours=5, minutes=3),
                             end - timedelta(hours=30, minutes=1))
    before = store.daily_counters(start, end)
    store.write_readings(readings[:200])  # duplicates
    store.write_readings(readings)  # the spool's replay
    assert_frames_match(store.daily_counters(start, end), before, DAY_KEYS)
    # a rewrite that changes a value, and one that takes a good value away (late corrections)
    changed = [Reading(r.meter, r.point, r.time, (r.value or 0) + 1000.0) for r in readings[5:9]]
    gone = [Reading(r.meter, r.point, r.time, None, "invalid") for r in readings[300:420]]
    store.write_readings(changed + gone)
    assert_rollups_match_raw(store, start, end)
    if store.rollups:
        assert not store.daily_counters(start, end).equals(before)


def test_a_late_day_and_a_day_emptied_by_rewrites(make_store) -> None:
    store = make_store("Europe/Berlin")
    day = datetime(2024, 10, 27, tzinfo=ZoneInfo("Europe/Berlin")).astimezone(UTC)
    late = [Reading("m", "c", day + timedelta(hours=h), float(h)) for h in range(25)]
    store.write_readings([Reading("m", "c", day + timedelta(days=3), 100.0)])
    store.write_readings(late)  # a day before the newest
    counters = store.daily_counters(T0, FAR)
    assert list(counters["n_readings"]) == [25, 1]
    assert list(store.hourly_counters(day, day + timedelta(hours=25))["n_readings"]) == [1] * 25
    store.write_readings([Reading(r.meter, r.point, r.time, None, "invalid") for r in late])
    assert list(store.daily_counters(T0, FAR)["day"]) == [date(2024, 10, 29)]
    assert store.hourly_gauges(day, day + timedelta(hours=25)).empty
    assert_rollups_match_raw(store, T0, FAR)


_BASE = [Reading("m", p, datetime(2024, 10, 26, 20, tzinfo=UTC) + timedelta(minutes=37 * i),
                 float(i * 3 % 17) + (100.0 if p == "c" else 0.0))
         for i in range(40) for p in ("c", "g")]


def _write_in_order(store, order: list[int], cuts: list[int]) -> None:
    readings = [_BASE[i] for i in order]
    readings += [_BASE[i] for i in order[: len(order) // 3]]  # duplicates, later
    position = 0
    for size in cuts:
        store.write_readings(readings[position:position + size])
        position += size
    store.write_readings(readings[position:])


def _expected(tz: ZoneInfo) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = pd.DataFrame({"time": pd.to_datetime([r.time for r in _BASE], utc=True),
                          "meter": [r.meter for r in _BASE], "point": [r.point for r in _BASE],
                          "value": [r.value for r in _BASE], "quality": "good"})
    return daily_counters_from_readings(frame, tz), hourly_from_readings(frame, tz)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(len(_BASE))),
       cuts=st.lists(st.integers(1, 30), max_size=6))
def test_any_write_order_gives_the_same_rollups_sqlite(order, cuts) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "s.sqlite", "Europe/Berlin")
        try:
            _write_in_order(store, order, cuts)
            daily, hourly = _expected(store.tz)
            assert_frames_match(store.daily_counters(T0, FAR), daily, DAY_KEYS)
            assert_frames_match(store.hourly_gauges(T0, FAR), hourly_gauge_frame(hourly),
                                HOUR_KEYS)
        finally:
            store.close()


@pytest.mark.influxdb
def test_any_write_order_gives_the_same_rollups_influx(influxd) -> None:
    @settings(max_examples=6, deadline=None)
    @given(order=st.permutations(range(len(_BASE))),
           cuts=st.lists(st.integers(1, 30), max_size=4))
    def check(order, cuts) -> None:
        database = f"h_{uuid.uuid4().hex[:10]}"
        store = InfluxV1Store(influxd.url, database, "Europe/Berlin")
        try:
            _write_in_order(store, order, cuts)
            daily, hourly = _expected(store.tz)
            assert_frames_match(store.daily_counters(T0, FAR), daily, DAY_KEYS)
            assert_frames_match(store.hourly_counters(T0, FAR), hourly_counter_frame(hourly),
                                HOUR_KEYS)
        finally:
            store.close()
            influxd.query(f'DROP DATABASE "{database}"')

    influxd.start()
    check()


def test_retention_keeps_hourly_and_daily_rollups(make_store) -> None:
    store = make_store("Europe/Berlin", retention_raw_days=10)
    start = datetime(2024, 10, 1, tzinfo=UTC)
    store.write_readings(
        counter_series("m", "energy_import_kwh", start, 30 * 96, timedelta(minutes=15), seed=3))
    end = start + timedelta(days=40)
    daily, hourly = store.daily_counters(start, end), store.hourly_gauges(start, end)
    result = store.apply_retention(datetime(2024, 11, 5, 9, 30, tzinfo=UTC))
    assert store.read_readings(start, result.cutoff).empty
    assert_frames_match(store.daily_counters(start, end), daily, DAY_KEYS)
    assert_frames_match(store.hourly_gauges(start, end), hourly, HOUR_KEYS)
    # a late reading for a day whose raw readings are gone leaves that day's rollup alone
    store.write_readings([Reading("m", "energy_import_kwh", start + timedelta(days=2, hours=3),
                                  -5.0)])
    assert_frames_match(store.daily_counters(start, end), daily, DAY_KEYS)
    # a range cutting a kept day returns that day whole
    cut = store.daily_counters(start + timedelta(days=3, hours=5), end)
    assert cut["day"].iloc[0] == daily["day"].iloc[3]
    assert cut["n_readings"].iloc[0] == daily["n_readings"].iloc[3]


def _frame(n: int = 50, meter: str = "m") -> pd.DataFrame:
    return pd.DataFrame({
        "meter": meter, "point": "energy_import_kwh",
        "time": pd.date_range("2024-01-01", periods=n, freq="15min", tz="Asia/Shanghai"),
        "value": np.arange(n, dtype=float) * 1.5,
        "quality": "good",
    })


def test_write_frame_is_idempotent_and_equals_write_readings(make_store) -> None:
    store = make_store()
    frame = _frame()
    frame.loc[3, ["value", "quality"]] = [np.nan, "invalid"]
    assert store.write_frame(frame) == 50
    assert store.write_frame(frame) == 50
    got = store.read_readings(T0 - timedelta(days=1), FAR)
    assert len(got) == 50  # the other store below is on the same data
    assert got["quality"].tolist().count("invalid") == 1
    other = make_store()
    readings = [Reading("n", r.point, r.time.to_pydatetime(),
                        None if pd.isna(r.value) else r.value, r.quality)
                for r in frame.itertuples()]
    other.write_readings(readings)
    mine = store.daily_counters(T0 - timedelta(days=1), FAR, meters=["m"])
    theirs = other.daily_counters(T0 - timedelta(days=1), FAR, meters=["n"])
    assert mine.drop(columns="meter").equals(theirs.drop(columns="meter"))
    # a mapping of arrays works too, without quality (good)
    arrays = {"meter": ["x", "x"], "point": ["p", "p"],
              "time": pd.to_datetime(["2024-01-01T00:00Z", "2024-01-01T00:10Z"]),
              "value": [1.0, 2.0]}
    assert store.write_frame(arrays) == 2
    assert store.latest(meters=["x"])["value"].tolist() == [2.0]
    assert_rollups_match_raw(store, T0 - timedelta(days=1), FAR)


def test_readings_frame_writes_what_write_readings_writes(make_store) -> None:
    """The demo's backfill turns Reading batches into frames: same rows, None stays missing."""
    frame = _frame(10)
    readings = [Reading("m", r.point, r.time.to_pydatetime(), float(r.value), r.quality)
                for r in frame.itertuples()]
    readings[4] = Reading("m", readings[4].point, readings[4].time, None, "invalid")
    one, other = make_store(), make_store()
    assert one.write_frame(readings_frame(readings)) == 10
    other.write_readings(readings)
    mine = one.read_readings(T0 - timedelta(days=1), FAR)
    theirs = other.read_readings(T0 - timedelta(days=1), FAR)
    pd.testing.assert_frame_equal(mine, theirs)
    assert mine["value"].isna().sum() == 1
    assert mine["quality"].tolist().count("invalid") == 1


@pytest.mark.parametrize(("column", "bad", "message"), [
    ("time", pd.date_range("2024-01-01", periods=50, freq="15min"), "no time zone"),
    ("meter", "", "column 'meter': must be a non-empty string"),
    ("value", np.inf, "inf"),
    ("value", np.nan, "quality 'good' but no value"),
    ("value", "abc", "must be a number"),
    ("quality", "", "column 'quality'"),
])
def test_write_frame_rejects_bad_rows_and_writes_nothing(make_store, column, bad, message):
    store = make_store()
    frame = _frame()
    if column == "time":
        frame[column] = bad
    else:
        frame[column] = frame[column].astype(object)
        frame.loc[7, column] = bad
    with pytest.raises(ValueError, match=message):
        store.write_frame(frame)
    assert store.read_readings(T0 - timedelta(days=1), FAR).empty
    with pytest.raises(ValueError, match="missing column"):
        store.write_frame(frame.drop(columns="point"))


def test_latest_and_latest_health(make_store) -> None:
    store = make_store()
    store.write_frame(pd.concat([_frame(20, f"m{i}") for i in range(30)], ignore_index=True))
    store.write_readings([Reading("m3", "energy_import_kwh", T0 - timedelta(days=9), 99.0)])
    latest = store.latest()
    assert len(latest) == 30
    assert set(latest["value"]) == {19 * 1.5}
    assert latest["time"].nunique() == 1
    records = [DeviceHealth(f"m{i}", T0 + timedelta(minutes=k), k % 2 == 0, k, None, 0.01 * k,
                            f"e{k}") for i in range(5) for k in (2, 0, 1)]
    store.write_health(records)
    health = store.latest_health()
    assert list(health.columns) == HEALTH_COLUMNS
    assert len(health) == 5
    assert set(health["consecutive_failures"]) == {2}
    assert set(health["error"]) == {"e2"}
    assert health["time"].tolist() == [pd.Timestamp(T0 + timedelta(minutes=2))] * 5
    assert store.latest_health(meters=["m1", "nobody"])["meter"].tolist() == ["m1"]
    assert store.latest_health(meters=[]).empty


def test_empty_hourly_reads_have_the_columns(make_store) -> None:
    store = make_store()
    assert list(store.hourly_counters(T0, FAR).columns) == HOURLY_COUNTER_COLUMNS
    assert list(store.hourly_gauges(T0, FAR).columns) == HOURLY_GAUGE_COLUMNS
    assert list(store.raw_daily_counters(T0, FAR).columns) == DAILY_COUNTER_COLUMNS
    assert store.latest_health().empty


def test_sqlite_writer_killed_mid_batch_leaves_rollups_consistent(tmp_path) -> None:
    spec = {"backend": "sqlite", "path": str(tmp_path / "store.sqlite")}
    size = 20_000
    proc = CTX.Process(target=endless_writer, args=(spec, size))
    proc.start()
    store = SqliteStore(spec["path"])
    deadline = time.monotonic() + 90
    while len(store.read_readings(T0, FAR, meters=["victim"])) < 2 * size:
        assert time.monotonic() < deadline
        assert proc.is_alive()
        time.sleep(0.05)
    time.sleep(random.uniform(0, 0.3))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    with sqlite3.connect(spec["path"]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert_rollups_match_raw(store, T0, FAR)
    n = int(store.daily_counters(T0, FAR)["n_readings"].sum())
    assert n % size == 0
    assert n == len(store.read_readings(T0, FAR))
    store.close()


@pytest.mark.influxdb
def test_influx_writer_killed_in_rollup_step_is_repaired(influxd, influx_database, tmp_path):
    spec = {"backend": "influx_v1", "url": influxd.url, "database": influx_database}
    flag = tmp_path / "in-rollup-step"
    proc = CTX.Process(target=influx_writer_killed_in_rollup_step, args=(spec, str(flag)))
    proc.start()
    deadline = time.monotonic() + 90
    while not flag.exists():
        assert time.monotonic() < deadline
        assert proc.is_alive()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    store = open_spec(spec)
    assert len(store.read_readings(T0 - timedelta(days=1), FAR)) == 144
    stale = store.daily_counters(T0 - timedelta(days=1), FAR)
    assert stale["n_readings"].tolist() == [72]  # the raw lines went in, the rollups did not
    # the next batch touching the day repairs it
    day = datetime(2023, 12, 31, 16, tzinfo=UTC)
    store.write_readings([Reading("m", "energy_import_kwh", day + timedelta(hours=23, minutes=59),
                                  500.0)])
    assert store.daily_counters(T0 - timedelta(days=1), FAR)["n_readings"].tolist() == [145]
    assert_rollups_match_raw(store, T0 - timedelta(days=1), FAR)
    # and so does a rebuild (here after raw lines written without rollups)
    InfluxV1Store(influxd.url, influx_database, rollups=False).write_readings(
        [Reading("m", "energy_import_kwh", day + timedelta(days=1, hours=h), 600.0 + h)
         for h in range(5)])
    assert store.daily_counters(T0 - timedelta(days=1), FAR)["n_readings"].tolist() == [145]
    assert store.rebuild_rollups() == 2
    assert store.daily_counters(T0 - timedelta(days=1), FAR)["n_readings"].tolist() == [145, 5]
    assert_rollups_match_raw(store, T0 - timedelta(days=1), FAR)
    store.close()


def test_rebuild_from_a_day_and_a_store_in_another_zone(make_store) -> None:
    store = make_store("Asia/Shanghai")
    readings = _series(datetime(2024, 5, 1, tzinfo=UTC), 4, seed=9)
    store.write_readings(readings)
    assert store.rebuild_rollups(date(2024, 5, 3)) > 0
    assert_rollups_match_raw(store, T0, FAR)
    assert store.rebuild_rollups() == len(store.raw_daily_counters(T0, FAR))
    assert_rollups_match_raw(store, T0, FAR)
    utc = make_store("UTC")  # rollups cut in Shanghai: reads aggregate raw readings
    assert_rollups_match_raw(utc, T0, FAR)
    utc.rebuild_rollups()  # now cut in UTC
    assert_rollups_match_raw(utc, T0, FAR)


def test_reading_rollups_that_need_a_rebuild_says_what_to_run(tmp_path) -> None:
    path = tmp_path / "old.sqlite"
    store = SqliteStore(path, "Asia/Shanghai")
    store.write_readings(_series(datetime(2024, 5, 1, tzinfo=UTC), 2, seed=2))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'rollup_version'")
    old = SqliteStore(path, "Asia/Shanghai")
    with pytest.raises(RollupsMissing, match="run once 'jieneng store rebuild-rollups") as info:
        old.daily_counters(T0, FAR)
    assert "\n" not in str(info.value)
    with pytest.raises(RollupsMissing):
        old.hourly_gauges(T0, FAR)
    old.rebuild_rollups()
    assert_rollups_match_raw(old, T0, FAR)
    old.close()
