"""Fixtures of the storage tests: one store factory parametrised over every backend.

``make_store(tz=...)`` returns a store on the SQLite file of the test or on the test's fresh
database of the session's real influxd; calling it twice gives two stores on the same data.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage.influx_v1 import InfluxV1Store
from storage.sqlite import SqliteStore

#: InfluxDB 2.x for the v2 backend: set these to run the contract suite against a real server
#: (the token needs rights to create and delete buckets in the org).
V2_URL = os.environ.get("JIENENG_TEST_INFLUXDB2_URL", "")
V2_ORG = os.environ.get("JIENENG_TEST_INFLUXDB2_ORG", "")
V2_TOKEN = os.environ.get("JIENENG_TEST_INFLUXDB2_TOKEN", "")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("influx_v1", id="influx_v1", marks=pytest.mark.influxdb),
]
if V2_URL:  # only InfluxDB 1.x is installable here; 2.x joins the suite when one is named
    BACKENDS.append(pytest.param("influx_v2", id="influx_v2", marks=pytest.mark.influxdb))


@pytest.fixture
def influx2_bucket() -> Iterator[str]:
    """A fresh bucket on the InfluxDB 2.x server named by the environment, deleted after."""
    from influxdb_client import InfluxDBClient

    client = InfluxDBClient(url=V2_URL, token=V2_TOKEN, org=V2_ORG)
    bucket = client.buckets_api().create_bucket(bucket_name=f"test_{uuid.uuid4().hex[:12]}",
                                                org=V2_ORG)
    yield bucket.name
    client.buckets_api().delete_bucket(bucket)
    client.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return request.param


@pytest.fixture
def store_spec(request: pytest.FixtureRequest, backend: str, tmp_path) -> dict[str, Any]:
    """Picklable description of the test's store (for worker processes)."""
    if backend == "sqlite":
        return {"backend": "sqlite", "path": str(tmp_path / "store.sqlite")}
    if backend == "influx_v2":
        bucket = request.getfixturevalue("influx2_bucket")
        return {"backend": "influx_v2", "url": V2_URL, "org": V2_ORG, "bucket": bucket,
                "token": V2_TOKEN}
    server = request.getfixturevalue("influxd")
    database = request.getfixturevalue("influx_database")
    return {"backend": "influx_v1", "url": server.url, "database": database}


def open_spec(spec: dict[str, Any], tz: str = "Asia/Shanghai", **kwargs: Any):
    """A store from a :func:`store_spec` description."""
    if spec["backend"] == "sqlite":
        return SqliteStore(spec["path"], tz, **kwargs)
    if spec["backend"] == "influx_v2":
        from storage.influx_v2 import InfluxV2Store

        return InfluxV2Store(spec["url"], spec["org"], spec["bucket"], tz, token=spec["token"],
                             **kwargs)
    return InfluxV1Store(spec["url"], spec["database"], tz, **kwargs)


@pytest.fixture
def make_store(store_spec: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """Factory of stores on the test's data; every store is closed after the test."""
    stores = []

    def make(tz: str = "Asia/Shanghai", **kwargs: Any):
        store = open_spec(store_spec, tz, **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
