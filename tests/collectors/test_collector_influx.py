"""A collector started against a fresh InfluxDB: the database is made when the store opens, before
the retention step queries it, and a storage error in a background step is one log line that names
the step, never a traceback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import pytest

from collectors.service import Collector
from storage import open_store
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    sample_values,
    tcp_gateway,
)
from tests.collectors.test_scheduler_service import run_until

pytestmark = [pytest.mark.modbus, pytest.mark.influxdb]

MODEL = "eastron_sdm120"


@pytest.fixture
def fresh_database(influxd) -> Iterator[str]:
    """A database name that does not exist yet on the session's influxd; dropped afterwards."""
    influxd.start()
    name = f"fresh_{uuid.uuid4().hex[:10]}"
    yield name
    if influxd.running:
        influxd.query(f'DROP DATABASE "{name}"')


def _databases(influxd) -> list[str]:
    series = influxd.query("SHOW DATABASES")["results"][0]["series"][0]
    return [row[0] for row in series.get("values", [])]


def _settings(tmp_path, influxd, database: str, port: int, create: bool = True):
    storage = {"backend": "influxdb",
               "influxdb": {"url": influxd.url, "database": database, "create_database": create}}
    return make_settings(
        tmp_path, [tcp_gateway("gw", port)],
        [{"id": "m1", "gateway": "gw", "model": MODEL, "poll_interval_s": 1}], storage=storage,
    )


def _served(modbus_tcp_server):
    regmap = model(MODEL)
    return modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})


def test_the_database_is_created_when_the_store_opens(influxd, fresh_database, tmp_path):
    settings = _settings(tmp_path, influxd, fresh_database, port=1)
    store = open_store(settings)
    try:
        assert fresh_database in _databases(influxd)  # before any write or query
    finally:
        store.close()


def test_a_collector_on_a_fresh_influxdb_logs_no_error(influxd, fresh_database, tmp_path,
                                                       modbus_tcp_server, caplog):
    caplog.set_level(logging.INFO)
    settings = _settings(tmp_path, influxd, fresh_database, _served(modbus_tcp_server).port)
    final, results = run_until(Collector(settings), lambda rs: len(rs) >= 2, "two polls")
    assert all(r.ok for r in results)
    assert final.pending == 0
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == [], [r.getMessage() for r in problems]
    assert any(r.getMessage().startswith("retention: raw readings before")
               for r in caplog.records if r.name == "collectors.service")
    count = influxd.query('SELECT count("value") FROM "readings"', db=fresh_database)
    assert count["results"][0]["series"][0]["values"][0][1] >= 1


def test_a_storage_error_in_a_background_step_is_one_line_naming_it(
        influxd, fresh_database, tmp_path, modbus_tcp_server, caplog):
    """create_database = false and no database: retention fails with "database not found"."""
    caplog.set_level(logging.INFO)
    settings = _settings(tmp_path, influxd, fresh_database, _served(modbus_tcp_server).port,
                         create=False)
    run_until(Collector(settings), lambda rs: len(rs) >= 1, "one poll")
    assert fresh_database not in _databases(influxd)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert all(r.exc_info is None for r in caplog.records), "a traceback was logged"
    retention = [r.getMessage() for r in errors
                 if r.getMessage().startswith("applying the store's retention failed: ")]
    assert len(retention) == 1, [r.getMessage() for r in errors]
    assert "database not found" in retention[0]
    assert "\n" not in retention[0]
