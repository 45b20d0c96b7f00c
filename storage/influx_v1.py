"""InfluxDB through its v1 HTTP API: line protocol writes and InfluxQL queries.

Serves InfluxDB 1.x natively and 2.x / 3.x through their v1-compatibility endpoints
(``/write``, ``/query``). Layout in the database:

* measurement ``readings``, tags ``meter`` and ``point`` (percent-encoded, see
  :mod:`storage.lineprotocol`), fields ``value`` (float; absent when None), ``quality`` (string)
  and ``t_us`` (the reading's own time as an integer, so that daily first/last *times* come back
  from a ``GROUP BY time(1d)`` query, which reports bucket starts for selectors);
* measurement ``device_health``, tag ``meter``;
* measurement ``daily_archive``, tags ``meter`` and ``point``: daily aggregates of raw readings
  dropped by retention, timestamped at the local day's start.

Daily aggregates are computed by InfluxDB with ``GROUP BY time(1d) ... tz('<site zone>')``;
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
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import requests

from jieneng.vocabulary import Quality
from storage.aggregate import counter_step_correction
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
from storage.errors import (
    InvalidName,
    PermissionDenied,
    StorageError,
    StoreUnavailable,
    WriteRejected,
)
from storage.lineprotocol import (
    ARCHIVE,
    ARCHIVE_FIELDS,
    HEALTH,
    READINGS,
    archive_lines,
    decode_tag,
    health_line,
    influxql_ident,
    influxql_string,
    reading_lines,
)
from storage.periods import (
    day_start_utc,
    local_date,
    retention_cutoff,
    rfc3339,
    to_us,
    us_to_local_dates,
)

__all__ = ["InfluxV1Store"]

log = logging.getLogger(__name__)


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
    """

    def __init__(
        self, url: str, database: str, tz: ZoneInfo | str = "Asia/Shanghai", *,
        retention_policy: str = "", username: str | None = None, password: str | None = None,
        token: str | None = None, batch_size: int = 5000, timeout_s: float = 10.0,
        verify_tls: bool = True, create_database: bool = True, retention_raw_days: int = 400,
        retries: int = 2, gzip: bool = True,
    ):
        super().__init__(tz)
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
        return self._write_lines(reading_lines(readings))

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

    def _archived(
        self, start: datetime, end: datetime, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        first_day = day_start_utc(local_date(start, self.tz), self.tz)
        where = (self._range(to_us(first_day), to_us(end)) + _tag_filter("meter", meters)
                 + _tag_filter("point", points))
        fields = ", ".join(influxql_ident(f) for f in ARCHIVE_FIELDS)
        q = f'SELECT {fields} FROM {self._from(ARCHIVE)} WHERE {where} GROUP BY "meter", "point"'
        frame = _series_frame(_nth(self._query_raw(q), 0), ["meter", "point"])
        if frame.empty:
            return empty_frame(columns)
        frame["day"] = us_to_local_dates(frame["time"], self.tz)
        frame["first_time"] = pd.to_datetime(frame["first_t_us"].astype("Int64"), unit="us",
                                             utc=True)
        frame["last_time"] = pd.to_datetime(frame["last_t_us"].astype("Int64"), unit="us",
                                            utc=True)
        for c in ("first_value", "last_value", "delta_sum", "mean", "min", "max"):
            frame[c] = frame[c].astype(float)
        frame["n_readings"] = frame["n_readings"].astype("int64")
        return frame[columns]

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
        frame = _series_frame(_nth(self._query_raw(q), 0), ["meter"])
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

    # -- retention -----------------------------------------------------------------------------

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Archive daily aggregates of old raw readings, then ``DELETE`` those raw readings.

        Raw readings older than the retention period are aggregated into ``daily_archive``;
        whole local days only.

        On InfluxDB 2.x/3.x the v1 endpoint cannot delete: use the bucket's retention there.
        """
        cutoff = retention_cutoff(now or datetime.now(UTC), self.retention_raw_days, self.tz)
        cutoff_us = to_us(cutoff)
        q = (f'SELECT first("quality"), count("quality") FROM {self._from(READINGS)} '
             f"WHERE time < '{rfc3339(cutoff_us)}'")
        series = _nth(self._query_raw(q), 0)["series"]
        if not series or not series[0]["values"]:
            return RetentionResult(cutoff, 0, 0)
        oldest_us, _, count = series[0]["values"][0]
        counters = self._computed_counters(int(oldest_us), cutoff_us, None, None)
        gauges = self._computed_gauges(int(oldest_us), cutoff_us, None, None)
        days = counters.merge(gauges, on=["meter", "point", "day", "n_readings"], how="outer")
        self._write_lines(archive_lines(days, self.tz))
        self._query_raw(f"DELETE FROM {influxql_ident(READINGS)} WHERE time < "
                        f"'{rfc3339(cutoff_us)}'", epoch=False)
        log.info("retention: archived %d day(s), dropped %d raw reading(s) before %s",
                 len(days), count, cutoff.isoformat())
        return RetentionResult(cutoff, len(days), int(count))


def _batches(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(lines)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _nth(results: list[dict], index: int) -> dict:
    """Return the ``index``-th statement's result, empty when the server sent none."""
    return results[index] if index < len(results) else {"series": []}


def _series_frame(result: dict, tag_names: list[str]) -> pd.DataFrame:
    """One frame of all series of one statement, with the decoded tags as columns."""
    frames = []
    for s in result.get("series", []):
        if not s["values"]:
            continue
        f = pd.DataFrame(s["values"], columns=s["columns"])
        for tag in tag_names:
            f[tag] = decode_tag(s["tags"].get(tag, ""))
        frames.append(f)
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


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


