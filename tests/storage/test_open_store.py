"""``open_store(settings)``: the backend named in the settings, credentials from the environment."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from jieneng.settings import Settings
from storage import PermissionDenied, Reading, StorageError, open_store
from storage.influx_v1 import InfluxV1Store
from storage.influx_v2 import InfluxV2Store
from storage.sqlite import SqliteStore
from tests.support.influx import InfluxServer

SITE = {"name": "t", "timezone": "Europe/Berlin", "province": "shandong", "region_code": "370100"}
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _settings(tmp_path: Path, storage: dict) -> Settings:
    settings = Settings.model_validate({"site": SITE, "storage": storage})
    settings.base_dir = tmp_path
    return settings


def test_sqlite_path_is_relative_to_the_settings_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {"sqlite": {"path": "var/x.sqlite"}})
    store = open_store(settings)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "var" / "x.sqlite"
    assert store.tz.key == "Europe/Berlin"
    store.close()


def test_influx_without_section_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match=r"needs a \[storage.influxdb\] section"):
        open_store(_settings(tmp_path, {"backend": "influxdb"}))
    v2 = {"backend": "influxdb", "influxdb": {"url": "http://127.0.0.1:1", "api": "v2"}}
    with pytest.raises(StorageError, match="needs org and bucket"):
        open_store(_settings(tmp_path, v2))


def test_v2_settings_build_a_v2_store(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JN_TEST_TOKEN", "secret-token")
    cfg = {"url": "http://127.0.0.1:1", "api": "v2", "org": "o", "bucket": "b",
           "token_env": "JN_TEST_TOKEN"}
    store = open_store(_settings(tmp_path, {"backend": "influxdb", "influxdb": cfg}))
    assert isinstance(store, InfluxV2Store)
    assert (store.org, store.bucket) == ("o", "b")
    store.close()


@pytest.mark.influxdb
def test_credentials_come_from_the_environment(tmp_path: Path, influxd, monkeypatch) -> None:
    """A second, auth-enabled influxd: no credentials, a user without admin rights, and admin."""
    root = tmp_path / "authd"
    root.mkdir()
    server = InfluxServer(influxd.binary, root)
    server.config_path.write_text(
        server.config_path.read_text().replace("auth-enabled = false", "auth-enabled = true"))
    server.start()
    try:
        server.query("CREATE USER admin WITH PASSWORD 'adm1n' WITH ALL PRIVILEGES")
        import requests

        def admin(q: str) -> None:
            requests.post(f"{server.url}/query", params={"q": q, "u": "admin", "p": "adm1n"},
                          timeout=10).raise_for_status()

        admin('CREATE DATABASE "site"')
        admin("CREATE USER reader WITH PASSWORD 'r3ader'")
        admin('GRANT READ ON "site" TO reader')
        cfg = {"url": server.url, "database": "site", "username_env": "JN_TEST_USER",
               "password_env": "JN_TEST_PASSWORD"}
        settings = _settings(tmp_path, {"backend": "influxdb", "influxdb": cfg})
        reading = Reading("m", "p", T0, 1.0)

        monkeypatch.delenv("JN_TEST_USER", raising=False)
        store = open_store(settings)
        assert isinstance(store, InfluxV1Store)
        with pytest.raises(PermissionDenied, match="HTTP 401"):
            store.write_readings([reading])

        monkeypatch.setenv("JN_TEST_USER", "reader")
        monkeypatch.setenv("JN_TEST_PASSWORD", "r3ader")
        with pytest.raises(PermissionDenied, match="may not CREATE DATABASE 'site'") as info:
            open_store(settings).write_readings([reading])
        assert "r3ader" not in str(info.value)
        settings.storage.influxdb.create_database = False
        with pytest.raises(PermissionDenied, match="HTTP 403"):
            open_store(settings).write_readings([reading])
        assert open_store(settings).read_readings(T0, datetime(2030, 1, 1, tzinfo=UTC)).empty

        monkeypatch.setenv("JN_TEST_USER", "admin")
        monkeypatch.setenv("JN_TEST_PASSWORD", "adm1n")
        store = open_store(settings)
        assert store.write_readings([reading]) == 1
        assert list(store.read_readings(T0, datetime(2030, 1, 1, tzinfo=UTC))["value"]) == [1.0]
    finally:
        server.stop()


def test_read_health_names_the_naive_bound(tmp_path):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from storage.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "h.sqlite", ZoneInfo("Asia/Shanghai"), 400)
    try:
        with pytest.raises(ValueError, match=r"^end "):
            store.read_health(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1))
        with pytest.raises(ValueError, match=r"^start "):
            store.read_health(datetime(2026, 1, 1), None)
    finally:
        store.close()
