"""InfluxDB v1 specifics against the real influxd: database creation, retention policy, rejects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import requests

from storage.base import Reading
from storage.errors import StorageError, WriteRejected
from storage.influx_v1 import InfluxV1Store

pytestmark = pytest.mark.influxdb

T0 = datetime(2024, 1, 1, tzinfo=UTC)
FAR = datetime(2030, 1, 1, tzinfo=UTC)


def test_creates_a_missing_database(influxd) -> None:
    influxd.start()
    name = f"created_{uuid.uuid4().hex[:8]}"
    store = InfluxV1Store(influxd.url, name)
    try:
        assert store.write_readings([Reading("m", "p", T0, 1.0)]) == 1
        databases = influxd.query("SHOW DATABASES")["results"][0]["series"][0]["values"]
        assert [name] in databases
    finally:
        store.close()
        influxd.query(f'DROP DATABASE "{name}"')


def test_missing_database_without_create_is_a_clear_error(influxd) -> None:
    influxd.start()
    store = InfluxV1Store(influxd.url, f"absent_{uuid.uuid4().hex[:8]}", create_database=False)
    with pytest.raises(WriteRejected, match="HTTP 404 database not found"):
        store.write_readings([Reading("m", "p", T0, 1.0)])
    with pytest.raises(StorageError, match="database not found"):
        store.read_readings(T0, FAR)
    store.close()


def test_writes_and_reads_a_named_retention_policy(influxd, influx_database) -> None:
    influxd.query(f'CREATE RETENTION POLICY "raw" ON "{influx_database}" DURATION 0s '
                  "REPLICATION 1")
    store = InfluxV1Store(influxd.url, influx_database, retention_policy="raw")
    store.write_readings([Reading("m", "p", T0, 2.5)])
    assert list(store.read_readings(T0, FAR)["value"]) == [2.5]
    assert list(store.daily_counters(T0, FAR)["n_readings"]) == [1]
    in_raw = influxd.query('SELECT count("value") FROM "raw"."readings"', db=influx_database)
    assert in_raw["results"][0]["series"][0]["values"][0][1] == 1
    in_default = influxd.query('SELECT count("value") FROM "autogen"."readings"',
                               db=influx_database)
    assert "series" not in in_default["results"][0]
    store.close()


def test_field_type_conflict_is_rejected_not_retried(influxd, influx_database) -> None:
    requests.post(f"{influxd.url}/write", params={"db": influx_database},
                  data='readings,meter=m,point=p value="text" 1704067200000000001').raise_for_status()
    store = InfluxV1Store(influxd.url, influx_database)
    with pytest.raises(WriteRejected, match=r"HTTP 400 .*field type conflict"):
        store.write_readings([Reading("m", "p", T0, 1.0)])
    store.close()
