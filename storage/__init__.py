"""Storage: one time-series store interface, embedded SQLite and InfluxDB backends.

>>> from storage import open_store, Reading
>>> store = open_store(settings)          # the backend named in [storage]
>>> store.write_readings([Reading("m1", "energy_import_kwh", t, 1234.5)])
>>> store.daily_counters(start, end)      # per meter × point × local day (from rollups)
>>> store.hourly_counters(start, end)     # per meter × point × local hour
"""

from __future__ import annotations

import logging
import os

from storage.base import DeviceHealth, Reading, RetentionResult, TimeSeriesStore, readings_frame
from storage.errors import (
    InvalidName,
    PermissionDenied,
    RollupsMissing,
    StorageError,
    StoreUnavailable,
    WriteRejected,
)
from storage.influx_v1 import InfluxV1Store
from storage.influx_v2 import InfluxV2Store
from storage.settings import StorageConfig
from storage.sqlite import SqliteStore

__all__ = [
    "DeviceHealth",
    "InvalidName",
    "PermissionDenied",
    "Reading",
    "RetentionResult",
    "RollupsMissing",
    "StorageError",
    "StoreUnavailable",
    "TimeSeriesStore",
    "WriteRejected",
    "open_store",
    "readings_frame",
]


log = logging.getLogger(__name__)


def _env(name: str) -> str | None:
    """Return the value of the environment variable ``name`` (None when the name is empty or unset)."""
    return os.environ.get(name) or None if name else None


def open_store(settings: StorageConfig) -> TimeSeriesStore:
    """Return the store configured in ``[storage]`` of ``settings``.

    ``settings`` is the composed settings, or anything with ``site``, ``storage``, ``source`` and
    ``resolve`` (:class:`storage.settings.StorageConfig`).

    Days and months are cut in ``settings.site.timezone``. Credentials come from the environment
    variables named in ``[storage.influxdb]``; they never appear in messages.

    An InfluxDB v1 database is created here (``create_database = true``), before anything
    queries it; when the user may not create databases, the first write says so.

    Raises
    ------
    StoreUnavailable
        The SQLite file cannot be opened; the InfluxDB server cannot be reached.
    StorageError
        ``backend = "influxdb"`` without a ``[storage.influxdb]`` section, or v2 settings missing.
    """
    st = settings.storage
    tz = settings.site.tzinfo
    if st.backend == "sqlite":
        return SqliteStore(settings.resolve(st.sqlite.path), tz, st.retention_raw_days)
    cfg = st.influxdb
    where = settings.source or "the settings"
    if cfg is None:
        raise StorageError(f"{where}: storage.backend = 'influxdb' needs a [storage.influxdb] "
                           "section with at least url = 'http://host:8086'")
    if cfg.api == "v1":
        store = InfluxV1Store(
            cfg.url, cfg.database, tz, retention_policy=cfg.retention_policy,
            username=_env(cfg.username_env), password=_env(cfg.password_env),
            token=_env(cfg.token_env), batch_size=cfg.batch_size, timeout_s=cfg.timeout_s,
            verify_tls=cfg.verify_tls, create_database=cfg.create_database,
            retention_raw_days=st.retention_raw_days, gzip=cfg.gzip,
        )
        try:
            store.ensure_database()
        except PermissionDenied as exc:  # a reader may still read; a write says what to do
            log.debug("database %r not created when the store opened: %s", cfg.database, exc)
        except StoreUnavailable:
            store.close()
            raise
        return store
    missing = [k for k in ("org", "bucket") if not getattr(cfg, k)]
    if missing:
        raise StorageError(f"{where}: storage.influxdb.api = 'v2' needs "
                           f"{' and '.join(missing)} in [storage.influxdb]")
    return InfluxV2Store(
        cfg.url, cfg.org, cfg.bucket, tz, token=_env(cfg.token_env),
        batch_size=cfg.batch_size, timeout_s=cfg.timeout_s, verify_tls=cfg.verify_tls,
        retention_raw_days=st.retention_raw_days,
    )
