"""InfluxDB through its v1 HTTP API: line protocol writes and InfluxQL queries.

Serves InfluxDB 1.x natively and 2.x / 3.x through their v1-compatibility endpoints
(``/write``, ``/query``). Layout in the database:

* measurement ``readings``, tags ``meter`` and ``point`` (percent-encoded, see
  :mod:`storage.lineprotocol`), fields ``value`` (float; absent when None), ``quality`` (string)
  and ``t_us`` (the reading's own time as an integer, so that daily first/last *times* come back
  from a ``GROUP BY time(1d)`` query, which reports bucket starts for selectors);
* measurement ``device_health``, tag ``meter``;
* measurements ``rollup_hourly`` and ``rollup_daily`` (tags ``meter``, ``point``): the rollups
  (:mod:`storage.rollups`), timestamped at the start of the local hour or day, and
  ``rollup_meta`` (version, zone, where raw readings start). After the raw lines of a write are
  accepted, the store re-aggregates the whole local days the write touched with one InfluxQL
  query per run of consecutive days (``GROUP BY time(1h)``), derives the days from the hours and
  writes both. A write whose rollup step did not run (the process died, the server went away) is
  repaired by the next write touching the same day, by retention (which re-aggregates the days it
  is about to drop) or by :meth:`InfluxV1Store.rebuild_rollups`.

Raw daily aggregates (``raw_daily_*`` and the cut edges of a range) are computed by InfluxDB
with ``GROUP BY time(1d) ... tz('<site zone>')``;
``delta_sum`` comes from a ``non_negative_difference`` subquery summed per day, minus the step
from the previous day's last reading to the day's first (which the subquery attributes to the
day), so that only differences *within* the day count.
"""

from __future__ import annotations

import gzip as gzip_module
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import requests

from jieneng.vocabulary import Quality
from storage.aggregate import counter_step_correction
from storage.base import (
    DAILY_COUNTER_COLUMNS,
    DAILY_GAUGE_COLUMNS,
    HEALTH_COLUMNS,
    HOURLY_COUNTER_COLUMNS,
    HOURLY_GAUGE_COLUMNS,
    LATEST_COLUMNS,
    READING_COLUMNS,
    DeviceHealth,
    Reading,
    RetentionResult,
    empty_frame,
)
from storage.common import StoreBase, check_names
from storage.errors import (
    InvalidName,
    PermissionDenied,
    RollupsMissing,
    StorageError,
    StoreUnavailable,
    WriteRejected,
)
from storage.lineprotocol import (
    ARCHIVE,
    ARCHIVE_FIELDS,
    HEALTH,
    READINGS,
    ROLLUP_DAILY,
    ROLLUP_FIELDS,
    ROLLUP_HOURLY,
    ROLLUP_META,
    ROLLUP_PENDING,
    batch_lines,
    decode_tag,
    escape_tag,
    field_string,
    health_line,
    influxql_ident,
    influxql_string,
    pending_lines,
    reading_lines,
    rollup_lines,
    tombstone_lines,
)
from storage.periods import (
    day_start_utc,
    offset_segments,
    retention_cutoff,
    rfc3339,
    to_us,
    us_to_local_dates,
)
from storage.rollups import (
    ROLLUP_COLUMNS,
    ROLLUP_VERSION,
    US_PER_HOUR,
    ColumnBatch,
    RollupTuple,
    batch_of_readings,
    columns_of_frame,
    daily_from_hourly,
    day_bounds_us,
    day_date,
    hour_starts_us,
    level_update,
    local_day_numbers,
    sort_batch,
)

__all__ = ["InfluxV1Store"]

log = logging.getLogger(__name__)

#: Rollup fields a counter read needs, and a gauge read.
_COUNTER_FIELDS = ("first_t_us", "first_value", "last_t_us", "last_value", "delta_sum",
                   "n_readings")
_GAUGE_FIELDS = ("value_sum", "min", "max", "n_readings")


def _tag_filter(tag: str, names: list[str] | None) -> str:
    if names is None:
        return ""
    if not names:
        return " AND false"
    alternatives = " OR ".join(f"{influxql_ident(tag)} = {influxql_string(n)}" for n in names)
    return f" AND ({alternatives})"


class InfluxV1Store(StoreBase):
    """A time-series store on InfluxDB's v1 HTTP API.

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:8086``.
    database
        Database name (for 2.x/3.x: the database mapped to a bucket).
    tz
        The site's time zone, in which days and months are cut.
    retention_policy
        Retention policy to write to and read from; empty means the database's default.
    username, password
        HTTP basic credentials, or None.
    token
        API token (``Authorization: Token …``) for 2.x/3.x compatibility endpoints, or None.
    batch_size
        Points per write request.
    timeout_s
        HTTP timeout. [s]
    verify_tls
        Check the server's TLS certificate.
    create_database
        ``CREATE DATABASE`` on first use (needs admin rights; harmless when it exists).
    retention_raw_days
        Raw readings older than this are dropped by :meth:`apply_retention`. [days]
    retries
        Extra attempts of a request after a connection error or a 5xx answer.
    gzip
        Compress write bodies (level 1): less traffic over a network, more CPU on both ends.
    rollups
        Keep the rollups current on write and read daily/hourly aggregates from them. False only
        to measure what rollups cost (``benchmarks/bench_storage_write.py``).
    """

    def __init__(
        self, url: str, database: str, tz: ZoneInfo | str = "Asia/Shanghai", *,
        retention_policy: str = "", username: str | None = None, password: str | None = None,
        token: str | None = None, batch_size: int = 5000, timeout_s: float = 10.0,
        verify_tls: bool = True, create_database: bool = True, retention_raw_days: int = 400,
        retries: int = 2, gzip: bool = True, rollups: bool = True,
    ):
        super().__init__(tz)
        self.rollups = self._read_rollups = rollups
        if not database:
            raise InvalidName("an InfluxDB database name is required")
        influxql_ident(database)  # rejects control characters early
        self.url = url.rstrip("/")
        self.database = database
        self.retention_policy = retention_policy
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.retention_raw_days = retention_raw_days
        self.retries = retries
        self.gzip = gzip
        self._session = requests.Session()
        self._session.verify = verify_tls
        if token:
            self._session.headers["Authorization"] = f"Token {token}"
        elif username:
            self._session.auth = (username, password or "")
        self._create_database = create_database
        self._database_checked = False

    # -- HTTP ----------------------------------------------------------------------------------

    def _request(self, path: str, params: dict, data: bytes | None = None,
                 headers: dict | None = None) -> requests.Response:
        """POST with retries; connection problems and 5xx become :class:`StoreUnavailable`."""
        where = f"{self.url}{path} (database {self.database!r})"
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.2 * 2**attempt, 2.0))
            try:
                response = self._session.post(
                    self.url + path, params=params, data=data, headers=headers,
                    timeout=self.timeout_s,
                )
            except requests.RequestException as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in (401, 403):
                raise PermissionDenied(
                    f"{where}: HTTP {response.status_code} {_server_message(response)}; check the "
                    "user/password or token environment variables named in [storage.influxdb]"
                )
            if response.status_code >= 500 or response.status_code == 429:
                last_error = f"HTTP {response.status_code} {_server_message(response)}"
                continue
            return response
        raise StoreUnavailable(f"{where}: unreachable after {self.retries + 1} attempt(s): "
                               f"{last_error}")

    def _query_raw(self, q: str, database: str | None = "", epoch: bool = True) -> list[dict]:
        """Run InfluxQL statement(s); returns the ``results`` list (chunks merged)."""
        params = {"q": q, "chunked": "true", "chunk_size": "20000"}
        if database is not None:
            params["db"] = database or self.database
        if self.retention_policy and database is not None:
            params["rp"] = self.retention_policy
        if epoch:
            params["epoch"] = "u"
        response = self._request("/query", params)
        if response.status_code != 200:
            raise StorageError(
                f"{self.url}/query (database {self.database!r}): HTTP {response.status_code} "
                f"{_server_message(response)}\nquery: {q[:500]}"
            )
        results: dict[int, dict] = {}
        for line in response.iter_lines():
            if not line:
                continue
            chunk = json.loads(line)
            if "error" in chunk:
                raise StorageError(f"{self.url}/query: {chunk['error']}\nquery: {q[:500]}")
            for result in chunk.get("results", []):
                if "error" in result:
                    raise StorageError(
                        f"{self.url}/query (database {self.database!r}): {result['error']}\n"
                        f"query: {q[:500]}"
                    )
                merged = results.setdefault(result.get("statement_id", 0), {"series": {}})
                for s in result.get("series", []):
                    key = (s.get("name"), tuple(sorted(s.get("tags", {}).items())))
                    if key in merged["series"]:
                        merged["series"][key]["values"].extend(s.get("values", []))
                    else:
                        merged["series"][key] = {
                            "name": s.get("name"), "tags": s.get("tags", {}),
                            "columns": s["columns"], "values": list(s.get("values", [])),
                        }
        return [
            {"series": list(results[k]["series"].values())} if k in results else {"series": []}
            for k in range(max(results, default=-1) + 1)
        ]

    def ensure_database(self) -> None:
        """``CREATE DATABASE`` unless ``create_database`` is off (once; harmless when it exists).

        :func:`storage.open_store` calls it when the store opens, so that nothing (a retention
        query, a read) meets a database that a first write would only create later.

        Raises
        ------
        PermissionDenied
            The user may not create databases (the message says what to do).
        StoreUnavailable
            The server cannot be reached.
        """
        if self._database_checked or not self._create_database:
            return
        try:
            self._query_raw(f"CREATE DATABASE {influxql_ident(self.database)}", database=None,
                            epoch=False)
        except PermissionDenied as exc:
            raise PermissionDenied(
                f"{exc}\nThe user may not CREATE DATABASE {self.database!r}: ask an administrator "
                "to create it, then set create_database = false in [storage.influxdb]"
            ) from exc
        self._database_checked = True

    def _post_lines(self, lines: list[str]) -> None:
        params = {"db": self.database, "precision": "u"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        body = "\n".join(lines).encode("utf-8")
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self.gzip:
            body = gzip_module.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        response = self._request("/write", params, body, headers)
        if response.status_code == 404 and self._create_database:
            self._database_checked = False
            self.ensure_database()
            response = self._request("/write", params, body, headers)
        if response.status_code not in (200, 204):
            raise WriteRejected(
                f"{self.url}/write (database {self.database!r}): HTTP {response.status_code} "
                f"{_server_message(response)}"
            )

    def _write_lines(self, lines: Iterable[str]) -> int:
        """POST ``lines`` in batches, in order; the next batch is built while one is in flight.

        The first failing batch raises; the batches before it are written.
        """
        self.ensure_database()
        written = 0
        pending: Future[int] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="influx-write") as sender:
            for batch in _batches(lines, self.batch_size):
                if pending is not None:
                    written += pending.result()
                pending = sender.submit(self._post_batch, batch)
            if pending is not None:
                written += pending.result()
        return written

    def _post_batch(self, lines: list[str]) -> int:
        self._post_lines(lines)
        return len(lines)

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- readings ------------------------------------------------------------------------------

    def write_readings(self, readings: Iterable[Reading]) -> int:
        """Write readings in line-protocol batches of ``batch_size`` (gzip unless turned off).

        The same meter, point and time overwrites (InfluxDB keeps one point per series and time).
        A batch that fails raises :class:`StoreUnavailable`; batches before it are written, and
        a rewrite of everything is harmless.
        """
        if not self.rollups:
            return self._write_lines(reading_lines(readings))
        return self._write_batch(batch_of_readings(readings))

    def write_frame(self, frame: pd.DataFrame | Mapping[str, Any]) -> int:
        """Write a frame of readings (columns meter, point, time, value [, quality]).

        The same checks and idempotence as :meth:`write_readings`
        (:func:`storage.rollups.columns_of_frame`); then the rollups of the days touched.

        Returns
        -------
        int
            Rows written.
        """
        return self._write_batch(columns_of_frame(frame))

    def _write_batch(self, batch: ColumnBatch) -> int:
        """Write the raw lines, then the rollups of the periods they touch (see the module)."""
        if not self.rollups or not len(batch):
            return self._write_lines(batch_lines(batch.meters, batch.points, batch.t_us.tolist(),
                                                 batch.values, batch.qualities))
        self.ensure_database()
        state = self._state()  # before the raw lines: a fresh database gets its marker
        plan = _RollupPlan.of(batch, state[1], state[2])
        # days of these series whose rollup step never finished (one writer per series: a day
        # another process announced for other series is that process's to finish)
        series = {(plan.meter_names[m], plan.point_names[p])
                  for m, p in set(zip(plan.m.tolist(), plan.p.tolist(), strict=True))}
        pending = [k for k in self._open_pending() if (k[0], k[1]) in series]
        self._write_lines(pending_lines(plan.day_keys(), True))
        written = self._write_lines(batch_lines(batch.meters, batch.points, batch.t_us.tolist(),
                                                batch.values, batch.qualities))
        self._update_rollups(plan, pending, state[1])
        return written

    # -- rollups -------------------------------------------------------------------------------

    def _meta(self) -> dict[str, Any]:
        """Return the rollup marker: ``version``, ``zone``, ``raw_from_us`` (None when absent)."""
        q = (f'SELECT last("version"), last("zone"), last("raw_from_us") '
             f"FROM {self._from(ROLLUP_META)}")
        try:
            series = _nth(self._query_raw(q), 0)["series"]
        except StorageError as exc:
            if "database not found" not in str(exc) or isinstance(exc, StoreUnavailable):
                raise
            series = []
        if not series or not series[0]["values"]:
            return {"version": None, "zone": None, "raw_from_us": None}
        _, version, zone, raw_from = series[0]["values"][0]
        return {"version": version, "zone": zone, "raw_from_us": raw_from}

    def _write_meta(self, **fields: Any) -> None:
        parts = []
        for key, value in fields.items():
            parts.append(f"{key}={field_string(value)}" if isinstance(value, str)
                         else f"{key}={int(value)}i")
        now_us = to_us(datetime.now(UTC))
        self._post_lines([f"{ROLLUP_META} {','.join(parts)} {now_us}"])

    def _measurements(self) -> set[str]:
        try:
            result = _nth(self._query_raw("SHOW MEASUREMENTS"), 0)["series"]
        except StorageError as exc:
            if "database not found" not in str(exc) or isinstance(exc, StoreUnavailable):
                raise
            return set()
        return {row[0] for s in result for row in s["values"]}

    def _state(self) -> tuple[bool, ZoneInfo, int]:
        """Return (rollups ready, the zone they are cut in, raw_from_us)."""
        meta = self._meta()
        zone = ZoneInfo(meta["zone"]) if meta["zone"] else self.tz
        raw_from = int(meta["raw_from_us"] or 0)
        if meta["version"] == ROLLUP_VERSION:
            return True, zone, raw_from
        if READINGS not in self._measurements():  # a fresh database: rollups from the start
            self._write_meta(version=ROLLUP_VERSION, zone=self.tz.key)
            return True, self.tz, raw_from
        return False, zone, raw_from

    def _require_rollups(self) -> None:
        """Raise :class:`RollupsMissing` for a database written before rollups."""
        ready, zone, _ = self._state()
        if not ready:
            raise RollupsMissing(self._missing_message())
        self._read_rollups = self.rollups and zone == self.tz

    def _missing_message(self) -> str:
        return (f"{self.url} (database {self.database!r}) was written before rollups (no "
                f"{ROLLUP_META} version {ROLLUP_VERSION}): run once 'jieneng store "
                "rebuild-rollups --config <settings file>' to build the daily and hourly rollups "
                "from the raw readings")

    def _raw_from_us(self) -> int:
        """Raw readings before this instant were dropped by retention (0: none) [µs]."""
        return int(self._meta()["raw_from_us"] or 0)

    def _group_by_hour(self, tz: ZoneInfo, start_us: int, end_us: int) -> str:
        offsets = {off % US_PER_HOUR for _, off in offset_segments(start_us, end_us, tz)}
        minutes = (max(offsets) // 60_000_000) if offsets else 0
        return f"time(1h, {minutes}m)" if minutes else "time(1h)"

    def hourly_rollup_query(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        tz: ZoneInfo | None = None,
    ) -> str:
        """Return the InfluxQL (two statements) that aggregates raw readings per local hour."""
        where = self._where(start_us, end_us, meters, points, good_only=True)
        group = (f'GROUP BY {self._group_by_hour(tz or self.tz, start_us, end_us)}, "meter", '
                 '"point" fill(none)')
        src = self._from(READINGS)
        return (
            f'SELECT first("value"), last("value"), min("t_us"), max("t_us"), count("value"), '
            f'sum("value"), min("value"), max("value") FROM {src} WHERE {where} {group}; '
            f'SELECT sum("d") FROM (SELECT non_negative_difference("value") AS "d" FROM {src} '
            f'WHERE {where} GROUP BY "meter", "point") WHERE {self._range(start_us, end_us)} '
            f"{group}"
        )

    def _hourly_raw(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        tz: ZoneInfo,
    ) -> pd.DataFrame:
        """Hourly rollup rows computed from raw readings in ``[start_us, end_us)``."""
        results = self._query_raw(self.hourly_rollup_query(start_us, end_us, meters, points, tz))
        frame = _series_frame(_nth(results, 0), ["meter", "point"])
        if frame.empty:
            return empty_frame(ROLLUP_COLUMNS)
        frame.columns = ["bucket_us", "first_value", "last_value", "first_t", "last_t",
                         "n_readings", "value_sum", "min", "max", "meter", "point"]
        frame = frame.dropna(subset=["first_t", "last_t", "first_value", "last_value"])
        if frame.empty:
            return empty_frame(ROLLUP_COLUMNS)
        frame = frame.sort_values(["meter", "point", "bucket_us"]).reset_index(drop=True)
        sums = _series_frame(_nth(results, 1), ["meter", "point"])
        if sums.empty:
            frame["delta_sum"] = 0.0
        else:
            sums.columns = ["bucket_us", "sum", "meter", "point"]
            frame = frame.merge(sums, on=["meter", "point", "bucket_us"], how="left")
            frame["delta_sum"] = frame["sum"].astype(float).fillna(0.0)
        for c in ("first_value", "last_value", "value_sum", "min", "max"):
            frame[c] = frame[c].astype(float)
        frame["delta_sum"] = (frame["delta_sum"] - counter_step_correction(frame)).clip(lower=0.0)
        frame["start"] = pd.to_datetime(frame["bucket_us"].astype("int64"), unit="us", utc=True)
        frame["first_time"] = pd.to_datetime(frame["first_t"].astype("int64"), unit="us", utc=True)
        frame["last_time"] = pd.to_datetime(frame["last_t"].astype("int64"), unit="us", utc=True)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[ROLLUP_COLUMNS]

    def _open_pending(self) -> list[tuple[str, str, int]]:
        """Days whose rollup step was announced and never finished: (meter, point, start µs)."""
        q = (f'SELECT "open" FROM {self._from(ROLLUP_PENDING)} WHERE "open" = true '
             'GROUP BY "meter", "point"')
        frame = _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])
        if frame.empty:
            return []
        return list(zip(frame["meter"], frame["point"], frame["time"].astype("int64").tolist(),
                        strict=True))

    def _existing(
        self, measurement: str, plan: _RollupPlan, ranges: list[tuple[int, int, int, int]],
        start_of: Callable[[int], int],
    ) -> dict[tuple[int, int, int], RollupTuple]:
        """Existing rollups of the batch's series over the periods ``ranges`` cover."""
        lo = start_of(min(r[2] for r in ranges))
        hi = start_of(max(r[3] for r in ranges)) + 1
        meters = sorted({plan.meter_names[r[0]] for r in ranges})
        points = sorted({plan.point_names[r[1]] for r in ranges})
        frame = self._rollup_rows(measurement, lo, hi, meters if len(meters) <= 50 else None,
                                  points if len(points) <= 50 else None)
        if frame.empty:
            return {}
        meter_code = {name: i for i, name in enumerate(plan.meter_names)}
        point_code = {name: i for i, name in enumerate(plan.point_names)}
        period_of = plan.period_of(measurement)
        out: dict[tuple[int, int, int], RollupTuple] = {}
        for m, p, t, *fields in zip(frame["meter"], frame["point"], frame["time"].tolist(),
                                    *(frame[f].tolist() for f in ROLLUP_FIELDS), strict=True):
            if m in meter_code and p in point_code:
                out[(meter_code[m], point_code[p], period_of(int(t)))] = (
                    int(fields[0]), float(fields[1]), int(fields[2]), float(fields[3]),
                    float(fields[4]), float(fields[5]), float(fields[6]), float(fields[7]),
                    int(fields[8]))
        return out

    def _update_rollups(
        self, plan: _RollupPlan, pending: list[tuple[str, str, int]], tz: ZoneInfo
    ) -> None:
        """Bring the rollups of the batch's periods up to date, and finish announced days.

        Periods the batch only extends (or that were empty) are updated from the batch alone;
        days with a rewrite inside, and days another write announced but never finished (its
        process died between its raw lines and its rollups), are re-aggregated from raw readings.
        """
        hour_rows, hour_redo = level_update(
            plan.m, plan.p, plan.t, plan.values, plan.good, plan.hours,
            lambda r: self._existing(ROLLUP_HOURLY, plan, r, lambda h: h))
        day_rows, day_redo = level_update(
            plan.m, plan.p, plan.t, plan.values, plan.good, plan.days,
            lambda r: self._existing(ROLLUP_DAILY, plan, r, lambda d: day_bounds_us(d, tz)[0]))
        redo = {(plan.meter_names[m], plan.point_names[p], d) for m, p, d in day_redo}
        redo |= {(plan.meter_names[m], plan.point_names[p], plan.day_of_hour[h])
                 for m, p, h in hour_redo}
        local = local_day_numbers(np.array([t for _, _, t in pending], dtype=np.int64), tz)
        redo |= {(m, p, int(d)) for (m, p, _), d in zip(pending, local.tolist(), strict=True)}
        lines = list(plan.lines(ROLLUP_HOURLY, hour_rows, redo, lambda h: h))
        lines += plan.lines(ROLLUP_DAILY, day_rows, redo, lambda d: day_bounds_us(d, tz)[0])
        self._write_lines(lines)
        if redo:
            touched = plan.touched_hours(redo)
            self._recompute(touched, tz)
        done = [*plan.day_keys(), *pending]
        self._write_lines(pending_lines(done, False))

    def _recompute(self, touched: pd.DataFrame, tz: ZoneInfo) -> None:
        """Recompute and write the rollups of the (meter, point, day) of ``touched``.

        ``touched`` has columns meter, point, hour (UTC µs), day (local day number); the hours
        listed that have no good reading left get a tombstone (``n_readings = 0``).
        """
        day_keys = touched[["meter", "point", "day"]].drop_duplicates()
        meters = sorted(set(day_keys["meter"]))
        points = sorted(set(day_keys["point"]))
        days = sorted(set(day_keys["day"].tolist()))
        spans: list[tuple[int, int]] = []
        for d in days:
            if spans and d == spans[-1][1] and d - spans[-1][0] < 31:
                spans[-1] = (spans[-1][0], d + 1)
            else:
                spans.append((d, d + 1))
        lines: list[str] = []
        for first, end in spans:
            start_us, end_us = day_bounds_us(first, tz)[0], day_bounds_us(end - 1, tz)[1]
            hourly = self._hourly_raw(start_us, end_us, meters if len(meters) <= 50 else None,
                                      points if len(points) <= 50 else None, tz)
            if not hourly.empty:
                hourly["day"] = local_day_numbers(
                    pd.DatetimeIndex(hourly["start"]).as_unit("us").asi8, tz)
                hourly = hourly.merge(day_keys, on=["meter", "point", "day"])
            daily = daily_from_hourly(hourly[ROLLUP_COLUMNS], tz)
            lines += rollup_lines(ROLLUP_HOURLY, hourly)
            lines += rollup_lines(ROLLUP_DAILY, daily)
            span_keys = touched[(touched["day"] >= first) & (touched["day"] < end)]
            have_hours = set(zip(hourly["meter"], hourly["point"],
                                 pd.DatetimeIndex(hourly["start"]).as_unit("us").asi8.tolist(),
                                 strict=True)) if not hourly.empty else set()
            with_hour = span_keys[span_keys["hour"].notna()]
            lines += tombstone_lines(ROLLUP_HOURLY, (
                k for k in zip(with_hour["meter"], with_hour["point"],
                               with_hour["hour"].astype("int64").tolist(), strict=True)
                if k not in have_hours))
            have_days = set(zip(daily["meter"], daily["point"], daily["day"].tolist(),
                                strict=True)) if not daily.empty else set()
            lines += tombstone_lines(ROLLUP_DAILY, (
                (m, p, day_bounds_us(d, tz)[0]) for m, p, d in set(zip(
                    span_keys["meter"], span_keys["point"], span_keys["day"].tolist(),
                    strict=True)) if (m, p, d) not in have_days))
        if lines:
            self._write_lines(lines)

    def _rollup_rows(
        self, measurement: str, start_us: int, end_us: int, meters: list[str] | None,
        points: list[str] | None, fields_wanted: Sequence[str] = ROLLUP_FIELDS,
    ) -> pd.DataFrame:
        where = (self._range(start_us, end_us) + ' AND "n_readings" > 0'
                 + _tag_filter("meter", meters) + _tag_filter("point", points))
        fields = ", ".join(influxql_ident(f) for f in fields_wanted)
        q = f'SELECT {fields} FROM {self._from(measurement)} WHERE {where} GROUP BY "meter", "point"'
        return _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])

    def _rollup_days(
        self, first_day: int, end_day: int, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        start_us, end_us = day_bounds_us(first_day, self.tz)[0], day_bounds_us(end_day, self.tz)[0]
        frame = self._rollup_rows(ROLLUP_DAILY, start_us, end_us, meters, points,
                                  _GAUGE_FIELDS if "mean" in columns else _COUNTER_FIELDS)
        if frame.empty:
            return empty_frame(columns)
        days, where = np.unique(local_day_numbers(frame["time"].to_numpy(), self.tz),
                                return_inverse=True)
        frame["day"] = np.array([day_date(d) for d in days.tolist()], dtype=object)[where]
        return _rollup_frame(frame, columns, "day")

    def _rollup_hours(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        gauges: bool,
    ) -> pd.DataFrame:
        columns = HOURLY_GAUGE_COLUMNS if gauges else HOURLY_COUNTER_COLUMNS
        frame = self._rollup_rows(ROLLUP_HOURLY, start_us, end_us, meters, points,
                                  _GAUGE_FIELDS if gauges else _COUNTER_FIELDS)
        if frame.empty:
            return empty_frame(columns)
        frame["hour"] = pd.to_datetime(frame["time"].astype("int64"), unit="us", utc=True)
        return _rollup_frame(frame, columns, "hour")

    def rebuild_rollups(self, since: date | None = None) -> int:
        """Recompute the rollups from the raw readings (from local day ``since``).

        Migrates a former ``daily_archive`` into ``rollup_daily`` first, then re-aggregates raw
        readings 31 days at a time and writes the marker.

        Returns
        -------
        int
            Daily rollup rows written (meter × point × day).
        """
        self.ensure_database()
        meta = self._meta()
        raw_from = int(meta["raw_from_us"] or 0)
        if ARCHIVE in self._measurements():
            fields = ", ".join(influxql_ident(f) for f in ARCHIVE_FIELDS)
            q = f'SELECT {fields} FROM {self._from(ARCHIVE)} GROUP BY "meter", "point"'
            archive = _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])
            if not archive.empty:
                archive = archive.dropna(subset=["first_t_us", "last_t_us"])
                archive["start"] = pd.to_datetime(archive["time"].astype("int64"), unit="us",
                                                  utc=True)
                archive["first_time"] = pd.to_datetime(archive["first_t_us"].astype("int64"),
                                                       unit="us", utc=True)
                archive["last_time"] = pd.to_datetime(archive["last_t_us"].astype("int64"),
                                                      unit="us", utc=True)
                archive["value_sum"] = archive["mean"].astype(float) * archive["n_readings"]
                self._write_lines(rollup_lines(ROLLUP_DAILY, archive[ROLLUP_COLUMNS]))
                newest = int(local_day_numbers(archive["time"].to_numpy(), self.tz).max())
                raw_from = max(raw_from, day_bounds_us(newest, self.tz)[1])
                self._write_meta(raw_from_us=raw_from)
            self._query_raw(f"DROP MEASUREMENT {influxql_ident(ARCHIVE)}", epoch=False)
        from_us = raw_from
        if since is not None:
            from_us = max(from_us, to_us(day_start_utc(since, self.tz)))
        for measurement in (ROLLUP_HOURLY, ROLLUP_DAILY):
            self._query_raw(f"DELETE FROM {influxql_ident(measurement)} "
                            f"WHERE time >= '{rfc3339(from_us)}'", epoch=False)
        written = self._rebuild_range(from_us, None)
        self._write_meta(version=ROLLUP_VERSION, zone=self.tz.key)
        self._read_rollups = self.rollups
        log.info("%s: rebuilt %d daily rollup(s) from raw readings", self.database, written)
        return written

    def _rebuild_range(self, from_us: int, until_us: int | None) -> int:
        """Re-aggregate every series' raw readings in whole local days from ``from_us``."""
        q = (f'SELECT first("t_us") FROM {self._from(READINGS)} WHERE time >= '
             f"'{rfc3339(from_us)}'; SELECT last(\"t_us\") FROM {self._from(READINGS)}")
        results = self._query_raw(q)
        first_s, last_s = _nth(results, 0)["series"], _nth(results, 1)["series"]
        if not first_s or not last_s:
            return 0
        first_t, last_t = int(first_s[0]["values"][0][1]), int(last_s[0]["values"][0][1])
        if until_us is not None:
            last_t = min(last_t, until_us - 1)
        day = self._day_number(first_t)
        last_day = self._day_number(last_t)
        written = 0
        while day <= last_day:
            end = min(day + 31, last_day + 1)
            start_us, end_us = day_bounds_us(day, self.tz)[0], day_bounds_us(end - 1, self.tz)[1]
            hourly = self._hourly_raw(start_us, end_us, None, None, self.tz)
            daily = daily_from_hourly(hourly, self.tz)
            self._write_lines(itertools.chain(rollup_lines(ROLLUP_HOURLY, hourly),
                                              rollup_lines(ROLLUP_DAILY, daily)))
            written += len(daily)
            day = end
        return written

    def _range(self, start_us: int, end_us: int) -> str:
        return f"time >= '{rfc3339(start_us)}' AND time < '{rfc3339(end_us)}'"

    def _where(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        good_only: bool,
    ) -> str:
        where = self._range(start_us, end_us)
        if good_only:
            where += f" AND \"quality\" = {influxql_string(Quality.good)}"
        return where + _tag_filter("meter", meters) + _tag_filter("point", points)

    def _from(self, measurement: str) -> str:
        if self.retention_policy:
            return f"{influxql_ident(self.retention_policy)}.{influxql_ident(measurement)}"
        return influxql_ident(measurement)

    def read_readings(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw readings in ``[start, end)``: time (UTC), meter, point, value, quality."""
        start_us, end_us = self._range_us(start, end)
        where = self._where(start_us, end_us, check_names(meters, "meters"),
                            check_names(points, "points"), good_only=False)
        q = (f'SELECT "value", "quality" FROM {self._from(READINGS)} WHERE {where} '
             'GROUP BY "meter", "point"')
        frame = _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])
        if frame.empty:
            return empty_frame(READING_COLUMNS)
        frame = _decode_readings(frame)
        frame = frame.sort_values(["meter", "point", "time"], kind="stable")
        return frame[READING_COLUMNS].reset_index(drop=True)

    def daily_counters_query(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> str:
        """Return the InfluxQL (two statements) behind :meth:`daily_counters`."""
        where = self._where(start_us, end_us, meters, points, good_only=True)
        zone = f"tz({influxql_string(self.tz.key)})"
        src = self._from(READINGS)
        return (
            f'SELECT first("value"), last("value"), min("t_us"), max("t_us"), count("value") '
            f'FROM {src} WHERE {where} GROUP BY time(1d), "meter", "point" fill(none) {zone}; '
            f'SELECT sum("d") FROM (SELECT non_negative_difference("value") AS "d" FROM {src} '
            f'WHERE {where} GROUP BY "meter", "point") WHERE {self._range(start_us, end_us)} '
            f'GROUP BY time(1d), "meter", "point" fill(none) {zone}'
        )

    def daily_gauges_query(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> str:
        """Return the InfluxQL behind :meth:`daily_gauges`."""
        where = self._where(start_us, end_us, meters, points, good_only=True)
        return (
            f'SELECT mean("value"), min("value"), max("value"), count("value") '
            f'FROM {self._from(READINGS)} WHERE {where} GROUP BY time(1d), "meter", "point" '
            f"fill(none) tz({influxql_string(self.tz.key)})"
        )

    def _computed_counters(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        results = self._query_raw(self.daily_counters_query(start_us, end_us, meters, points))
        firsts, sums = _nth(results, 0), _nth(results, 1)
        frame = _series_frame(firsts, ["meter", "point"])
        if frame.empty:
            return empty_frame(DAILY_COUNTER_COLUMNS)
        frame.columns = ["bucket_us", "first_value", "last_value", "first_t", "last_t",
                         "n_readings", "meter", "point"]
        # A point being written right now may show its value before its t_us field (InfluxDB
        # writes fields one by one): such a day is not there yet; the next read has it whole.
        frame = frame.dropna(subset=["first_t", "last_t", "first_value", "last_value"])
        if frame.empty:
            return empty_frame(DAILY_COUNTER_COLUMNS)
        frame = frame.sort_values(["meter", "point", "bucket_us"]).reset_index(drop=True)
        sums_frame = _series_frame(sums, ["meter", "point"])
        if sums_frame.empty:
            frame["delta_sum"] = 0.0
        else:
            sums_frame.columns = ["bucket_us", "sum", "meter", "point"]
            frame = frame.merge(sums_frame, on=["meter", "point", "bucket_us"], how="left")
            frame["delta_sum"] = frame["sum"].astype(float).fillna(0.0)
        frame["first_value"] = frame["first_value"].astype(float)
        frame["last_value"] = frame["last_value"].astype(float)
        # The subquery's difference at a day's first reading spans the night before: remove it.
        frame["delta_sum"] = (frame["delta_sum"] - counter_step_correction(frame)).clip(lower=0.0)
        frame["day"] = us_to_local_dates(frame["bucket_us"], self.tz)
        frame["first_time"] = pd.to_datetime(frame["first_t"].astype("int64"), unit="us", utc=True)
        frame["last_time"] = pd.to_datetime(frame["last_t"].astype("int64"), unit="us", utc=True)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[DAILY_COUNTER_COLUMNS]

    def _computed_gauges(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        result = _nth(self._query_raw(self.daily_gauges_query(start_us, end_us, meters, points)), 0)
        frame = _series_frame(result, ["meter", "point"])
        if frame.empty:
            return empty_frame(DAILY_GAUGE_COLUMNS)
        frame.columns = ["bucket_us", "mean", "min", "max", "n_readings", "meter", "point"]
        frame["day"] = us_to_local_dates(frame["bucket_us"], self.tz)
        for c in ("mean", "min", "max"):
            frame[c] = frame[c].astype(float)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame.sort_values(["meter", "point", "day"])[DAILY_GAUGE_COLUMNS]

    def latest(
        self, meters: Sequence[str] | None = None, points: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return the newest reading of every meter × point (any quality)."""
        filters = (_tag_filter("meter", check_names(meters, "meters"))
                   + _tag_filter("point", check_names(points, "points")))
        where = f" WHERE {filters[5:]}" if filters else ""
        q = (f'SELECT last("quality") AS "quality", "value" FROM {self._from(READINGS)}{where} '
             'GROUP BY "meter", "point"')
        frame = _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])
        if frame.empty:
            return empty_frame(LATEST_COLUMNS)
        frame = _decode_readings(frame)
        return frame.sort_values(["meter", "point"])[LATEST_COLUMNS].reset_index(drop=True)

    # -- health --------------------------------------------------------------------------------

    def latest_health(self, meters: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the newest device-health record of every meter (one query)."""
        filters = _tag_filter("meter", check_names(meters, "meters"))
        where = f" WHERE {filters[5:]}" if filters else ""
        q = ('SELECT "available", "consecutive_failures", "last_success_us", "response_time_s", '
             f'"error" FROM {self._from(HEALTH)}{where} GROUP BY "meter" ORDER BY time DESC '
             "LIMIT 1")
        return _health_frame(_series_frame(_nth(self._query_raw(q), 0), ["meter"]))

    def write_health(self, records: Iterable[DeviceHealth]) -> int:
        """Write device-health records; the same meter and time overwrites."""
        return self._write_lines(health_line(h) for h in records)

    def read_health(
        self, start: datetime | None = None, end: datetime | None = None,
        meters: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Device-health records in ``[start, end)`` (open ends when None)."""
        start_us, end_us = self._open_range_us(start, end)
        where = self._range(start_us, end_us) + _tag_filter("meter", check_names(meters, "meters"))
        q = ('SELECT "available", "consecutive_failures", "last_success_us", "response_time_s", '
             f'"error" FROM {self._from(HEALTH)} WHERE {where} GROUP BY "meter"')
        return _health_frame(_series_frame(_nth(self._query_raw(q), 0), ["meter"]))

    # -- retention -----------------------------------------------------------------------------

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Drop the raw readings of whole local days older than the retention period.

        The days about to lose their raw readings are re-aggregated first (repairing any rollup
        a failed write left stale), then ``DELETE`` drops the raw readings; the rollups stay.

        On InfluxDB 2.x/3.x the v1 endpoint cannot delete: use the bucket's retention there.
        """
        ready, _, raw_from = self._state()
        if not ready:
            raise RollupsMissing(self._missing_message())
        cutoff = retention_cutoff(now or datetime.now(UTC), self.retention_raw_days, self.tz)
        cutoff_us = to_us(cutoff)
        if cutoff_us <= raw_from:
            return RetentionResult(cutoff, 0, 0)
        q = (f'SELECT count("quality") FROM {self._from(READINGS)} '
             f"WHERE time < '{rfc3339(cutoff_us)}'")
        series = _nth(self._query_raw(q), 0)["series"]
        count = int(series[0]["values"][0][1]) if series and series[0]["values"] else 0
        if count:
            self._rebuild_range(raw_from, cutoff_us)
        kept_q = (f'SELECT count("n_readings") FROM {self._from(ROLLUP_DAILY)} WHERE '
                  f'{self._range(raw_from, cutoff_us)} AND "n_readings" > 0')
        kept_s = _nth(self._query_raw(kept_q), 0)["series"]
        kept = int(kept_s[0]["values"][0][1]) if kept_s and kept_s[0]["values"] else 0
        if count:
            self._query_raw(f"DELETE FROM {influxql_ident(READINGS)} WHERE time < "
                            f"'{rfc3339(cutoff_us)}'", epoch=False)
        self._write_meta(raw_from_us=cutoff_us)
        log.info("retention: dropped %d raw reading(s) before %s; %d day(s) kept as rollups",
                 count, cutoff.isoformat(), kept)
        return RetentionResult(cutoff, kept, count)


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(lines)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _nth(results: list[dict], index: int) -> dict:
    """Return the ``index``-th statement's result, empty when the server sent none."""
    return results[index] if index < len(results) else {"series": []}


def _series_frame(result: dict, tag_names: list[str]) -> pd.DataFrame:
    """One frame of all series of one statement, with the decoded tags as columns.

    Built column by column (one list per column over every series): a year of daily rollups
    of 100 meters is 100 series of 366 rows, which per-series frames would make slow.
    """
    series = [s for s in result.get("series", []) if s["values"]]
    if not series:
        return pd.DataFrame()
    columns = series[0]["columns"]
    if len(set(columns)) < len(columns) or any(s["columns"] != columns for s in series):
        frames = [pd.DataFrame(s["values"], columns=s["columns"]) for s in series]
        for f, s in zip(frames, series, strict=True):
            for tag in tag_names:
                f[tag] = decode_tag(s["tags"].get(tag, ""))
        return pd.concat(frames, ignore_index=True)
    rows = [row for s in series for row in s["values"]]
    data = dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True))
    counts = [len(s["values"]) for s in series]
    frame = pd.DataFrame(data)
    for tag in tag_names:
        names = np.array([decode_tag(s["tags"].get(tag, "")) for s in series], dtype=object)
        frame[tag] = np.repeat(names, counts)
    return frame


def _decode_readings(frame: pd.DataFrame) -> pd.DataFrame:
    """``time`` (µs) as UTC, ``value`` as float and ``quality`` decoded, of a ``readings`` frame."""
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="us", utc=True)
    frame["value"] = frame["value"].astype(float)
    frame["quality"] = [decode_tag(q) if isinstance(q, str) else q for q in frame["quality"]]
    return frame


def _server_message(response: requests.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict) and "error" in body:
            return str(body["error"])
    except ValueError:
        pass
    return response.text[:300].strip()




def _health_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a ``device_health`` query's frame as :data:`HEALTH_COLUMNS`."""
    if frame.empty:
        return empty_frame(HEALTH_COLUMNS)
    frame["time"] = pd.to_datetime(frame["time"].astype("int64"), unit="us", utc=True)
    frame["last_success"] = pd.to_datetime(frame["last_success_us"].astype("Int64"),
                                           unit="us", utc=True)
    frame["available"] = frame["available"].astype(bool)
    frame["consecutive_failures"] = frame["consecutive_failures"].astype("int64")
    frame["response_time_s"] = frame["response_time_s"].astype(float)
    frame["error"] = [decode_tag(e or "") for e in frame["error"]]
    return frame.sort_values(["meter", "time"])[HEALTH_COLUMNS].reset_index(drop=True)


def _rollup_frame(frame: pd.DataFrame, columns: list[str], period: str) -> pd.DataFrame:
    """Rollup points (fields :data:`ROLLUP_FIELDS`) as daily or hourly columns, sorted."""
    n = frame["n_readings"].astype("int64")
    frame["n_readings"] = n
    if "mean" in columns:
        frame["mean"] = frame["value_sum"].astype(float) / n
        frame["min"] = frame["min"].astype(float)
        frame["max"] = frame["max"].astype(float)
    else:
        frame["first_time"] = pd.to_datetime(frame["first_t_us"].astype("int64"), unit="us",
                                             utc=True)
        frame["last_time"] = pd.to_datetime(frame["last_t_us"].astype("int64"), unit="us",
                                            utc=True)
        for c in ("first_value", "last_value", "delta_sum"):
            frame[c] = frame[c].astype(float)
    meters, points = frame["meter"].to_numpy(), frame["point"].to_numpy()
    same = meters[1:] == meters[:-1]
    if bool(np.all((meters[1:] > meters[:-1]) | (same & (points[1:] >= points[:-1])))):
        return frame[columns]  # InfluxDB answers series in tag order, each in time order
    return frame.sort_values(["meter", "point", period], kind="stable")[columns].reset_index(
        drop=True)


class _RollupPlan:
    """A batch sorted for the rollup step: integer codes of names, periods, lines to write."""

    def __init__(self, meter_names: list[str], point_names: list[str], m: np.ndarray,
                 p: np.ndarray, t: np.ndarray, values: np.ndarray, good: np.ndarray,
                 tz: ZoneInfo):
        self.meter_names, self.point_names = meter_names, point_names
        self.m, self.p, self.t, self.values, self.good = m, p, t, values, good
        self.tz = tz
        self.hours = hour_starts_us(t, tz)
        self.days = local_day_numbers(self.hours, tz)
        self.day_of_hour = dict(zip(self.hours.tolist(), self.days.tolist(), strict=True))
        self._tags: dict[tuple[int, int], str] = {}

    @classmethod
    def of(cls, batch: ColumnBatch, tz: ZoneInfo, raw_from_us: int) -> _RollupPlan:
        """Sort a batch; readings before ``raw_from_us`` (kept by retention) are left out."""
        m_codes, m_names = pd.factorize(np.asarray(batch.meters, dtype=object))
        p_codes, p_names = pd.factorize(np.asarray(batch.points, dtype=object))
        m_codes = np.asarray(m_codes, dtype=np.int64)
        p_codes = np.asarray(p_codes, dtype=np.int64)
        keep = sort_batch(m_codes, p_codes, batch.t_us)
        keep = keep[batch.t_us[keep] >= raw_from_us]
        values = np.array(batch.values, dtype=float)[keep]
        good = (np.asarray(batch.qualities, dtype=object)[keep] == Quality.good.value) \
            & ~np.isnan(values)
        return cls(list(m_names), list(p_names), m_codes[keep], p_codes[keep],
                   batch.t_us[keep], values, good, tz)

    def period_of(self, measurement: str) -> Callable[[int], int]:
        """Period key of a rollup point's time: the hour's start, or the local day number."""
        if measurement == ROLLUP_HOURLY:
            return lambda t: t
        return lambda t: int(local_day_numbers(np.array([t], dtype=np.int64), self.tz)[0])

    def day_keys(self) -> list[tuple[str, str, int]]:
        """(meter, point, day start µs) of every series × local day in the batch."""
        keys = set(zip(self.m.tolist(), self.p.tolist(), self.days.tolist(), strict=True))
        return [(self.meter_names[m], self.point_names[p], day_bounds_us(d, self.tz)[0])
                for m, p, d in keys]

    def touched_hours(self, days: set[tuple[str, str, int]]) -> pd.DataFrame:
        """Return the batch's (meter, point, hour, day) in ``days``, plus one row per other day."""
        rows = [(self.meter_names[m], self.point_names[p], h, d) for m, p, h, d in set(zip(
            self.m.tolist(), self.p.tolist(), self.hours.tolist(), self.days.tolist(),
            strict=True)) if (self.meter_names[m], self.point_names[p], d) in days]
        covered = {(m, p, d) for m, p, _, d in rows}
        rows += [(m, p, None, d) for m, p, d in days if (m, p, d) not in covered]
        return pd.DataFrame(rows, columns=["meter", "point", "hour", "day"])

    def lines(self, measurement: str, rows: Iterable[tuple], skip: set[tuple[str, str, int]],
              start_of: Callable[[int], int]) -> Iterator[str]:
        """Rollup rows ``(m, p, period, *fields)`` as lines, but for the days in ``skip``."""
        hourly = measurement == ROLLUP_HOURLY
        for m, p, period, ft, fv, lt, lv, delta, total, low, high, n in rows:
            day = self.day_of_hour.get(period) if hourly else period
            if skip and (self.meter_names[m], self.point_names[p], day) in skip:
                continue
            tags = self._tags.get((m, p))
            if tags is None:
                tags = self._tags[(m, p)] = (f"meter={escape_tag(self.meter_names[m])},"
                                             f"point={escape_tag(self.point_names[p])}")
            yield (f"{measurement},{tags} first_t_us={ft}i,first_value={fv!r},last_t_us={lt}i,"
                   f"last_value={lv!r},delta_sum={delta!r},value_sum={total!r},min={low!r},"
                   f"max={high!r},n_readings={n}i {start_of(period)}")
