"""Fixtures of the storage tests: one store factory parametrised over every backend.

``make_store(tz=...)`` returns a store on the SQLite file of the test or on the test's fresh
database of the session's real influxd; calling it twice gives two stores on the same data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage.influx_v1 import InfluxV1Store
from storage.sqlite import SqliteStore

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("influx_v1", id="influx_v1", marks=pytest.mark.influxdb),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend under test."""
    return request.param


@pytest.fixture
def store_spec(request: pytest.FixtureRequest, backend: str, tmp_path) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Picklable description of the test's store (for worker processes)."""
    if backend == "sqlite":
        return {"backend": "sqlite", "path": str(tmp_path / "store.sqlite")}
    server = request.getfixturevalue("influxd")
    database = request.getfixturevalue("influx_database")
    return {"backend": "influx_v1", "url": server.url, "database": database}


def open_spec(spec: dict[str, Any], tz: str = "Asia/Shanghai", **kwargs: Any):  # type: ignore[no-untyped-def]
    """A store from a :func:`store_spec` description."""
    if spec["backend"] == "sqlite":
        return SqliteStore(spec["path"], tz, **kwargs)
    return InfluxV1Store(spec["url"], spec["database"], tz, **kwargs)


@pytest.fixture
def make_store(store_spec: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """Factory of stores on the test's data; every store is closed after the test."""
    stores = []

    def make(tz: str = "Asia/Shanghai", **kwargs: Any):  # type: ignore[no-untyped-def]
        store = open_spec(store_spec, tz, **kwargs)
        stores.append(store)
        return store

    yield make
    for store in stores:
        store.close()
