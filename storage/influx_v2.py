"""InfluxDB through its v2 API (``influxdb-client``): line protocol writes, Flux queries.

For InfluxDB 2.x and Cloud (org, bucket, token). The layout is the one of
:mod:`storage.influx_v1`, built by :mod:`storage.lineprotocol` (measurements ``readings``,
``device_health``, ``daily_archive``), so data written through either API reads back through the
other.

This backend keeps no rollups yet: its daily and hourly reads aggregate raw readings (daily with
Flux, hourly in pandas), ``rebuild_rollups`` does nothing, and retention still writes
``daily_archive``. The interface is the one of the other backends.

Writes are synchronous batches of ``batch_size`` points (the client's background batching would
swallow errors, and a collector must know when to spool). Only InfluxDB 1.x is installable on the
development machines: this module is tested against a real 2.x server only when
``JIENENG_TEST_INFLUXDB2_URL`` is set; its Flux text is unit-tested.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from urllib3.exceptions import HTTPError

from storage.base import (
    DAILY_COUNTER_COLUMNS,
    DAILY_GAUGE_COLUMNS,
    HEALTH_COLUMNS,
    LATEST_COLUMNS,
    READING_COLUMNS,
    DeviceHealth,
    Reading,
    RetentionResult,
    empty_frame,
)
from storage.common import StoreBase, check_names
from storage.errors import PermissionDenied, StorageError, StoreUnavailable, WriteRejected
from storage.flux import (
    daily_counters_flux,
    daily_gauges_flux,
    latest_flux,
    latest_health_flux,
    pivot_flux,
    read_flux,
)
from storage.lineprotocol import (
    ARCHIVE,
    HEALTH,
    READINGS,
    archive_lines,
    batch_lines,
    decode_tag,
    health_line,
    reading_lines,
)
from storage.periods import day_start_utc, from_us, local_date, retention_cutoff, to_us
from storage.rollups import columns_of_frame

__all__ = ["InfluxV2Store"]

log = logging.getLogger(__name__)

_KEYS = ["meter", "point"]


class InfluxV2Store(StoreBase):
    """A time-series store on InfluxDB's v2 API.

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:8086``.
    org, bucket
        Organisation and bucket.
    tz
        The site's time zone.
    token
        API token (from the environment variable named by ``token_env``).
    batch_size
        Points per write request.
    timeout_s
        HTTP timeout. [s]
    verify_tls
        Check the server's TLS certificate.
    retention_raw_days
        Raw readings older than this are dropped by :meth:`apply_retention`. [days]
    """

    def __init__(
        self, url: str, org: str, bucket: str, tz: ZoneInfo | str = "Asia/Shanghai", *,
        token: str | None = None, batch_size: int = 5000, timeout_s: float = 10.0,
        verify_tls: bool = True, retention_raw_days: int = 400,
    ):
        super().__init__(tz)
        self.rollups = self._read_rollups = False
        # influxdb-client is imported here and in the methods below, not at module level: only
        # the v2 backend needs it, and importing it costs about half a second (its whole generated
        # API), which every ``import storage`` would otherwise pay. No cycle is hidden.
        from influxdb_client import InfluxDBClient
        from influxdb_client.client.write_api import SYNCHRONOUS

        self.url, self.org, self.bucket = url.rstrip("/"), org, bucket
        self.batch_size = batch_size
        self.retention_raw_days = retention_raw_days
        self._client = InfluxDBClient(
            url=self.url, token=token or "", org=org, timeout=int(timeout_s * 1000),
            verify_ssl=verify_tls, enable_gzip=True,
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)
        self._query_api = self._client.query_api()

    # -- plumbing ------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a client call; map its errors onto the storage exceptions."""
        from influxdb_client.rest import ApiException

        where = f"{self.url} (org {self.org!r}, bucket {self.bucket!r}): {what}"
        try:
            return fn(*args, **kwargs)
        except ApiException as exc:
            status = exc.status or 0
            message = f"{where}: HTTP {status} {exc.body or exc.reason}"
            if status in (401, 403):
                raise PermissionDenied(message + "; check the token named by token_env") from exc
            if status >= 500 or status == 429:
                raise StoreUnavailable(message) from exc
            if what == "write":
                raise WriteRejected(message) from exc
            raise StorageError(message) from exc
        except (HTTPError, OSError) as exc:
            raise StoreUnavailable(f"{where}: unreachable: {exc}") from exc

    def _write_lines(self, lines: Iterable[str]) -> int:
        from influxdb_client import WritePrecision

        written, batch = 0, []
        for line in lines:
            batch.append(line)
            if len(batch) >= self.batch_size:
                self._call("write", self._write_api.write, self.bucket, self.org, batch,
                           write_precision=WritePrecision.US)
                written, batch = written + len(batch), []
        if batch:
            self._call("write", self._write_api.write, self.bucket, self.org, batch,
                       write_precision=WritePrecision.US)
            written += len(batch)
        return written

    def _records(self, flux: str) -> list[dict]:
        """Every record of every table, as dicts (with ``result`` naming the yield)."""
        tables = self._call("query", self._query_api.query, flux, org=self.org)
        return [dict(record.values) for table in tables for record in table.records]

    def close(self) -> None:
        """Close the client."""
        self._write_api.close()
        self._client.close()

    # -- readings ------------------------------------------------------------------------------

    def write_readings(self, readings: Iterable[Reading]) -> int:
        """Write readings in synchronous batches; the same meter, point and time overwrites."""
        return self._write_lines(reading_lines(readings))

    def write_frame(self, frame: pd.DataFrame | Mapping[str, Any]) -> int:
        """Write a frame of readings (meter, point, time, value [, quality]); see the v1 store."""
        batch = columns_of_frame(frame)
        return self._write_lines(batch_lines(batch.meters, batch.points, batch.t_us.tolist(),
                                             batch.values, batch.qualities))

    def rebuild_rollups(self, since: date | None = None) -> int:
        """Do nothing: this backend keeps no rollups (its reads aggregate raw readings)."""
        log.info("%s: the v2 backend keeps no rollups; nothing to rebuild", self.url)
        return 0

    def read_readings(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw readings in ``[start, end)``: time (UTC), meter, point, value, quality."""
        start_us, end_us = self._range_us(start, end)
        flux = read_flux(self.bucket, start_us, end_us, check_names(meters, "meters"),
                         check_names(points, "points"))
        rows = self._records(flux)
        if not rows:
            return empty_frame(READING_COLUMNS)
        frame = pd.DataFrame(rows)
        frame["time"] = pd.to_datetime(frame["_time"], utc=True)
        frame["meter"] = [decode_tag(m) for m in frame["meter"]]
        frame["point"] = [decode_tag(p) for p in frame["point"]]
        frame["value"] = frame.get("value", pd.Series(index=frame.index, dtype=float)).astype(float)
        frame["quality"] = [decode_tag(q) if isinstance(q, str) else q for q in frame["quality"]]
        return frame.sort_values(["meter", "point", "time"])[READING_COLUMNS].reset_index(drop=True)

    def _yields(self, flux: str) -> dict[str, pd.DataFrame]:
        frame = pd.DataFrame(self._records(flux))
        if frame.empty:
            return {}
        frame["meter"] = [decode_tag(m) for m in frame["meter"]]
        frame["point"] = [decode_tag(p) for p in frame["point"]]
        if "_start" in frame:
            frame["day"] = [
                t.astimezone(self.tz).date() for t in pd.to_datetime(frame["_start"], utc=True)
            ]
        return {str(name): part for name, part in frame.groupby("result")}

    def _computed_counters(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        parts = self._yields(daily_counters_flux(self.bucket, start_us, end_us, self.tz.key,
                                                 meters, points))
        if "first" not in parts:
            return empty_frame(DAILY_COUNTER_COLUMNS)
        keys = [*_KEYS, "day"]

        def pick(name: str, value: str, time: str | None = None) -> pd.DataFrame:
            part = parts.get(name, pd.DataFrame(columns=[*keys, "value", "_time"]))
            cols = {"value": value} | ({"_time": time} if time else {})
            return part[[*keys, *cols]].rename(columns=cols)

        frame = pick("first", "first_value", "first_time").merge(
            pick("last", "last_value", "last_time"), on=keys).merge(
            pick("count", "n_readings"), on=keys).merge(
            pick("delta", "delta_sum"), on=keys, how="left")
        frame["delta_sum"] = frame["delta_sum"].astype(float).fillna(0.0)
        for c in ("first_time", "last_time"):
            frame[c] = pd.to_datetime(frame[c], utc=True)
        for c in ("first_value", "last_value"):
            frame[c] = frame[c].astype(float)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[DAILY_COUNTER_COLUMNS]

    def _computed_gauges(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        parts = self._yields(daily_gauges_flux(self.bucket, start_us, end_us, self.tz.key,
                                               meters, points))
        if "count" not in parts:
            return empty_frame(DAILY_GAUGE_COLUMNS)
        keys = [*_KEYS, "day"]
        frame = parts["count"][[*keys, "value"]].rename(columns={"value": "n_readings"})
        for name in ("mean", "min", "max"):
            part = parts[name][[*keys, "value"]].rename(columns={"value": name})
            frame = frame.merge(part, on=keys)
            frame[name] = frame[name].astype(float)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[DAILY_GAUGE_COLUMNS]

    def _archived(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        first_day = day_start_utc(local_date(from_us(start_us), self.tz), self.tz)
        rows = self._records(pivot_flux(self.bucket, to_us(first_day), end_us, ARCHIVE,
                                        meters, points))
        if not rows:
            return empty_frame(columns)
        frame = pd.DataFrame(rows)
        frame["meter"] = [decode_tag(m) for m in frame["meter"]]
        frame["point"] = [decode_tag(p) for p in frame["point"]]
        frame["day"] = [t.astimezone(self.tz).date()
                        for t in pd.to_datetime(frame["_time"], utc=True)]
        frame["first_time"] = pd.to_datetime(frame["first_t_us"].astype("Int64"), unit="us",
                                             utc=True)
        frame["last_time"] = pd.to_datetime(frame["last_t_us"].astype("Int64"), unit="us",
                                            utc=True)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[columns]

    def latest(
        self, meters: Sequence[str] | None = None, points: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return the newest reading of every meter × point (any quality)."""
        flux = latest_flux(self.bucket, check_names(meters, "meters"),
                           check_names(points, "points"))
        frame = pd.DataFrame(self._records(flux))
        if frame.empty:
            return empty_frame(LATEST_COLUMNS)
        quality = frame[frame["result"] == "quality"].rename(columns={"_value": "quality"})
        value = frame[frame["result"] == "value"].rename(columns={"_value": "value"})
        out = quality[["meter", "point", "_time", "quality"]].merge(
            value[["meter", "point", "_time", "value"]], on=["meter", "point", "_time"],
            how="left")
        out["time"] = pd.to_datetime(out["_time"], utc=True)
        out["meter"] = [decode_tag(m) for m in out["meter"]]
        out["point"] = [decode_tag(p) for p in out["point"]]
        out["quality"] = [decode_tag(q) for q in out["quality"]]
        out["value"] = out["value"].astype(float)
        return out.sort_values(["meter", "point"])[LATEST_COLUMNS].reset_index(drop=True)

    # -- health --------------------------------------------------------------------------------

    def latest_health(self, meters: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the newest device-health record of every meter."""
        rows = self._records(latest_health_flux(self.bucket, check_names(meters, "meters")))
        return self._health_frame(rows)

    def write_health(self, records: Iterable[DeviceHealth]) -> int:
        """Write device-health records; the same meter and time overwrites."""
        return self._write_lines(health_line(h) for h in records)

    def read_health(
        self, start: datetime | None = None, end: datetime | None = None,
        meters: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Device-health records in ``[start, end)`` (open ends when None)."""
        start_us, end_us = self._open_range_us(start, end)
        rows = self._records(pivot_flux(self.bucket, start_us, end_us, HEALTH,
                                        check_names(meters, "meters")))
        return self._health_frame(rows)

    @staticmethod
    def _health_frame(rows: list[dict]) -> pd.DataFrame:
        if not rows:
            return empty_frame(HEALTH_COLUMNS)
        frame = pd.DataFrame(rows)
        frame["meter"] = [decode_tag(m) for m in frame["meter"]]
        frame["time"] = pd.to_datetime(frame["_time"], utc=True)
        last = frame.get("last_success_us", pd.Series(index=frame.index, dtype="Int64"))
        frame["last_success"] = pd.to_datetime(last.astype("Int64"), unit="us", utc=True)
        frame["response_time_s"] = frame.get(
            "response_time_s", pd.Series(index=frame.index, dtype=float)).astype(float)
        frame["available"] = frame["available"].astype(bool)
        frame["consecutive_failures"] = frame["consecutive_failures"].astype("int64")
        frame["error"] = [decode_tag(e or "") for e in frame["error"]]
        return frame.sort_values(["meter", "time"])[HEALTH_COLUMNS].reset_index(drop=True)

    # -- retention -----------------------------------------------------------------------------

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Archive daily aggregates of old raw readings, then delete those raw readings.

        Raw readings older than the retention period are aggregated; the bucket itself must
        keep data for good, or at least as long as the archive is wanted.
        """
        cutoff = retention_cutoff(now or datetime.now(UTC), self.retention_raw_days, self.tz)
        cutoff_us = to_us(cutoff)
        counters = self._computed_counters(0, cutoff_us, None, None)
        if counters.empty:
            return RetentionResult(cutoff, 0, None)
        gauges = self._computed_gauges(0, cutoff_us, None, None)
        days = counters.merge(gauges, on=["meter", "point", "day", "n_readings"], how="outer")
        self._write_lines(archive_lines(days, self.tz))
        delete_api = self._client.delete_api()
        self._call("delete", delete_api.delete, "1970-01-01T00:00:00Z", cutoff,
                   f'_measurement="{READINGS}"', self.bucket, self.org)
        log.info("retention: archived %d day(s) before %s", len(days), cutoff.isoformat())
        return RetentionResult(cutoff, len(days), None)
