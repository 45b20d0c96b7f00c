"""The embedded store: one SQLite file in WAL mode, safe with one writer and many reader processes.

Schema
------
``meters(id, name)`` and ``points(id, name)`` map names (any Unicode) to small integers;
``readings(meter_id, point_id, t, value, quality)`` is a WITHOUT ROWID table keyed by
(meter_id, point_id, t) with ``t`` in microseconds since the epoch (UTC), so a rewrite of the same
meter, point and instant is an UPSERT and a meter's year is one contiguous key range.
``series(meter_id, point_id)`` lists every pair ever written (for :meth:`latest`);
``daily_archive`` keeps the daily aggregates of raw readings dropped by retention, for good;
``device_health(meter_id, t, ...)`` keeps collector health.

Daily aggregates are one SQL statement: the local day number is computed in SQL from the zone's
UTC-offset segments over the queried range (a CASE on the transition instants); the steps between
consecutive readings come from one ``LAG`` window in key order, summed per day; first and last
values are primary-key lookups at the day's first and last time. The step from a day's previous
reading (on an earlier day) to its first is then taken out in pandas, so ``delta_sum`` counts only
steps within the day.
"""

from __future__ import annotations

import itertools
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

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
from storage.errors import StorageError, StoreUnavailable
from storage.periods import (
    EPOCH,
    US_PER_DAY,
    local_date,
    offset_segments,
    retention_cutoff,
    to_us,
)

__all__ = ["SqliteStore", "local_day_sql"]

log = logging.getLogger(__name__)

_ONE_US = timedelta(microseconds=1)
#: Shift that keeps the day arithmetic on non-negative integers (SQLite's ``/`` truncates). [days]
_SHIFT_DAYS = 800_000
_DAY0 = date(1970, 1, 1)
_CHUNK = 50_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS meters (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS series (
    meter_id INTEGER NOT NULL, point_id INTEGER NOT NULL, PRIMARY KEY (meter_id, point_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings (
    meter_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    t INTEGER NOT NULL,          -- microseconds since 1970-01-01 UTC
    value REAL,
    quality TEXT NOT NULL,
    PRIMARY KEY (meter_id, point_id, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily_archive (
    meter_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    day INTEGER NOT NULL,        -- local day number: days since 1970-01-01 in the site's zone
    first_t INTEGER, first_value REAL, last_t INTEGER, last_value REAL, delta_sum REAL,
    mean REAL, min_value REAL, max_value REAL, n_readings INTEGER NOT NULL,
    PRIMARY KEY (meter_id, point_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_health (
    meter_id INTEGER NOT NULL,
    t INTEGER NOT NULL,
    available INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL,
    last_success INTEGER,
    response_time_s REAL,
    error TEXT NOT NULL,
    PRIMARY KEY (meter_id, t)
) WITHOUT ROWID;
"""

UPSERT_READING = (
    "INSERT INTO readings (meter_id, point_id, t, value, quality) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (meter_id, point_id, t) DO UPDATE SET value = excluded.value, "
    "quality = excluded.quality"
)


def local_day_sql(segments: list[tuple[int | None, int]], column: str = "t") -> str:
    """Return SQL for the local day number (days since 1970-01-01 local) of a µs-epoch column.

    ``segments`` come from :func:`storage.periods.offset_segments`; every number in the text is
    an integer computed here, never user input.
    """
    if len(segments) == 1:
        offset = str(int(segments[0][1]))
    else:
        cases = " ".join(
            f"WHEN {column} < {int(until)} THEN {int(off)}" for until, off in segments[:-1]
            if until is not None
        )
        offset = f"CASE {cases} ELSE {int(segments[-1][1])} END"
    return f"(({column} + {offset} + {_SHIFT_DAYS * US_PER_DAY}) / {US_PER_DAY} - {_SHIFT_DAYS})"


def _names_filter(column: str, table: str, names: list[str] | None, params: list) -> str:
    if names is None:
        return ""
    params.append(json.dumps(names, ensure_ascii=False))
    return f" AND {column} IN (SELECT x.id FROM {table} x, json_each(?) j WHERE x.name = j.value)"


def _series_filter(
    prefix: str, meters: list[str] | None, points: list[str] | None, params: list
) -> str:
    """Return SQL keeping only these meters and points (None = all); appends to ``params``.

    The columns are ``<prefix>meter_id`` and ``<prefix>point_id``.
    """
    return (_names_filter(f"{prefix}meter_id", "meters", meters, params)
            + _names_filter(f"{prefix}point_id", "points", points, params))


def _reading_frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    """Rows ``(meter, point, t, value, quality)`` as a frame of ``columns`` (time in UTC)."""
    frame = pd.DataFrame(rows, columns=["meter", "point", "time", "value", "quality"])
    frame["time"] = _utc(frame["time"])
    frame["value"] = frame["value"].astype(float)
    return frame[columns]


def _day_numbers_to_dates(days: Iterable[int]) -> list[date]:
    return [_DAY0 + timedelta(days=int(d)) for d in days]


def _utc(values_us: pd.Series) -> pd.Series:
    return pd.to_datetime(values_us.astype("Int64"), unit="us", utc=True)


class SqliteStore(StoreBase):
    """The embedded SQLite store.

    Parameters
    ----------
    path
        Database file; created with its folder when missing.
    tz
        The site's time zone, in which days and months are cut.
    retention_raw_days
        Raw readings older than this are dropped by :meth:`apply_retention`. [days]
    busy_timeout_s
        How long a write waits for another process's write to finish. [s]
    """

    def __init__(
        self, path: str | Path, tz: ZoneInfo | str = "Asia/Shanghai",
        retention_raw_days: int = 400, busy_timeout_s: float = 30.0,
    ):
        super().__init__(tz)
        self.path = Path(path)
        self.retention_raw_days = retention_raw_days
        self._lock = threading.RLock()
        self._ids: dict[str, dict[str, int]] = {"meters": {}, "points": {}}
        self._pairs: dict[tuple[str, str], tuple[int, int]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StorageError(f"{self.path}: could not switch to WAL mode (got {mode!r})")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            self._conn.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")
        except (sqlite3.Error, OSError) as exc:
            what = ("it is not a SQLite database" if "not a database" in str(exc)
                    else f"cannot open the SQLite store: {exc}")
            raise StoreUnavailable(
                f"{self.path}: {what}; check [storage.sqlite] path (a database file in a folder "
                "this user can write to)") from exc

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), rolled back on any error."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise StoreUnavailable(f"{self.path}: write failed: {exc}") from exc
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"{self.path}: write failed: {exc}") from exc
                raise
            finally:
                cur.close()

    def _query(self, sql: str, params: Sequence = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"{self.path}: query failed: {exc}") from exc
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: query failed: {exc}") from exc

    def _name_id(self, cur: sqlite3.Cursor, table: str, name: str) -> int:
        cache = self._ids[table]
        cur.execute(f"INSERT INTO {table} (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (name,))
        cache[name] = cur.execute(f"SELECT id FROM {table} WHERE name = ?", (name,)).fetchone()[0]
        return cache[name]

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    # -- readings ------------------------------------------------------------------------------

    def write_readings(self, readings: Iterable[Reading]) -> int:
        """Write readings in one transaction per 50 000; the same meter, point and time overwrites.

        Returns
        -------
        int
            Readings written.
        """
        series_ids = self._pairs.get  # (meter, point) -> (meter_id, point_id)
        written = 0
        iterator = iter(readings)
        while True:
            with self._write() as cur:
                batch: list[tuple] = []
                append = batch.append  # local names: this loop is the Python cost of a write
                for r in itertools.islice(iterator, _CHUNK):
                    ids = series_ids((r.meter, r.point))
                    if ids is None:
                        ids = self._series_ids(cur, r.meter, r.point)
                    append((ids[0], ids[1], (r.time - EPOCH) // _ONE_US, r.value, r.quality))
                cur.executemany(UPSERT_READING, batch)
            written += len(batch)
            if len(batch) < _CHUNK:
                return written

    def _series_ids(self, cur: sqlite3.Cursor, meter: str, point: str) -> tuple[int, int]:
        """(meter id, point id) of a series, registering names and the series when new."""
        mid = self._ids["meters"].get(meter) or self._name_id(cur, "meters", meter)
        pid = self._ids["points"].get(point) or self._name_id(cur, "points", point)
        cur.execute("INSERT INTO series VALUES (?, ?) ON CONFLICT DO NOTHING", (mid, pid))
        self._pairs[(meter, point)] = (mid, pid)
        return mid, pid

    def read_readings(
        self, start: datetime, end: datetime, meters: Sequence[str] | None = None,
        points: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Raw readings in ``[start, end)``: time (UTC), meter, point, value, quality."""
        start_us, end_us = self._range_us(start, end)
        params: list = [start_us, end_us]
        sql = (
            "SELECT m.name, p.name, r.t, r.value, r.quality FROM readings r "
            "JOIN meters m ON m.id = r.meter_id JOIN points p ON p.id = r.point_id "
            "WHERE r.t >= ? AND r.t < ?"
            + _series_filter("r.", check_names(meters, "meters"), check_names(points, "points"),
                             params)
            + " ORDER BY m.name, p.name, r.t"
        )
        rows = self._query(sql, params)
        if not rows:
            return empty_frame(READING_COLUMNS)
        return _reading_frame(rows, READING_COLUMNS)

    # -- aggregates ----------------------------------------------------------------------------

    def daily_counters_sql(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> tuple[str, list]:
        """Return the SQL (and parameters) of :meth:`daily_counters` over raw readings."""
        params: list = [start_us, end_us]
        filters = _series_filter("", meters, points, params)
        day = local_day_sql(offset_segments(start_us, end_us, self.tz))
        sql = f"""
SELECT m.name, p.name, a.day, a.first_t, f.value, a.last_t, l.value, a.delta_sum, a.n
FROM (
    SELECT meter_id, point_id, day, min(t) AS first_t, max(t) AS last_t, count(*) AS n,
           sum(CASE WHEN step > 0 THEN step ELSE 0.0 END) AS delta_sum
    FROM (
        SELECT meter_id, point_id, t, {day} AS day,
               value - LAG(value) OVER (PARTITION BY meter_id, point_id ORDER BY t) AS step
        FROM readings
        WHERE t >= ? AND t < ? AND quality = '{Quality.good}' AND value IS NOT NULL{filters}
    )
    GROUP BY meter_id, point_id, day
) a
JOIN readings f ON f.meter_id = a.meter_id AND f.point_id = a.point_id AND f.t = a.first_t
JOIN readings l ON l.meter_id = a.meter_id AND l.point_id = a.point_id AND l.t = a.last_t
JOIN meters m ON m.id = a.meter_id JOIN points p ON p.id = a.point_id"""
        return sql, params

    def daily_gauges_sql(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> tuple[str, list]:
        """Return the SQL (and parameters) of :meth:`daily_gauges` over raw readings."""
        params: list = [start_us, end_us]
        filters = _series_filter("", meters, points, params)
        day = local_day_sql(offset_segments(start_us, end_us, self.tz))
        sql = f"""
SELECT m.name, p.name, g.day, avg(value), min(value), max(value), count(*)
FROM (
    SELECT meter_id, point_id, value, {day} AS day FROM readings
    WHERE t >= ? AND t < ? AND quality = '{Quality.good}' AND value IS NOT NULL{filters}
) g JOIN meters m ON m.id = g.meter_id JOIN points p ON p.id = g.point_id
GROUP BY g.meter_id, g.point_id, g.day"""
        return sql, params

    def _archived(
        self, start: datetime, end: datetime, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        first = (local_date(start, self.tz) - _DAY0).days
        last = (local_date(end - _ONE_US, self.tz) - _DAY0).days
        params: list = [first, last]
        sql = (
            "SELECT m.name, p.name, a.day, a.first_t, a.first_value, a.last_t, a.last_value, "
            "a.delta_sum, a.mean, a.min_value, a.max_value, a.n_readings FROM daily_archive a "
            "JOIN meters m ON m.id = a.meter_id JOIN points p ON p.id = a.point_id "
            "WHERE a.day >= ? AND a.day <= ?"
            + _series_filter("a.", meters, points, params)
        )
        rows = self._query(sql, params)
        frame = pd.DataFrame(rows, columns=[
            "meter", "point", "day", "first_time", "first_value", "last_time", "last_value",
            "delta_sum", "mean", "min", "max", "n_readings",
        ])
        if frame.empty:
            return empty_frame(columns)
        frame["day"] = _day_numbers_to_dates(frame["day"])
        frame["first_time"] = _utc(frame["first_time"])
        frame["last_time"] = _utc(frame["last_time"])
        return frame[columns]

    def _computed_counters(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        rows = self._query(*self.daily_counters_sql(start_us, end_us, meters, points))
        computed = pd.DataFrame(rows, columns=DAILY_COUNTER_COLUMNS)
        if not computed.empty:
            computed = computed.sort_values(["meter", "point", "day"]).reset_index(drop=True)
            # the SQL sums the steps of consecutive readings over the whole range, so each day's
            # sum includes the step from the previous day's last reading: take it out
            step = counter_step_correction(computed)
            computed["delta_sum"] = (computed["delta_sum"] - step).clip(lower=0.0)
            computed["day"] = _day_numbers_to_dates(computed["day"])
            computed["first_time"] = _utc(computed["first_time"])
            computed["last_time"] = _utc(computed["last_time"])
        return computed

    def _computed_gauges(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None
    ) -> pd.DataFrame:
        rows = self._query(*self.daily_gauges_sql(start_us, end_us, meters, points))
        computed = pd.DataFrame(rows, columns=DAILY_GAUGE_COLUMNS)
        if not computed.empty:
            computed["day"] = _day_numbers_to_dates(computed["day"])
        return computed

    def latest(
        self, meters: Sequence[str] | None = None, points: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Return the newest reading of every meter × point (any quality)."""
        params: list = []
        sql = (
            "SELECT m.name, p.name, r.t, r.value, r.quality FROM series s "
            "JOIN readings r ON r.meter_id = s.meter_id AND r.point_id = s.point_id "
            "AND r.t = (SELECT max(t) FROM readings x "
            "           WHERE x.meter_id = s.meter_id AND x.point_id = s.point_id) "
            "JOIN meters m ON m.id = s.meter_id JOIN points p ON p.id = s.point_id WHERE 1"
            + _series_filter("s.", check_names(meters, "meters"), check_names(points, "points"),
                             params)
            + " ORDER BY m.name, p.name"
        )
        rows = self._query(sql, params)
        if not rows:
            return empty_frame(LATEST_COLUMNS)
        return _reading_frame(rows, LATEST_COLUMNS)

    # -- health --------------------------------------------------------------------------------

    def write_health(self, records: Iterable[DeviceHealth]) -> int:
        """Write device-health records; the same meter and time overwrites."""
        rows = []
        with self._write() as cur:
            for h in records:
                mid = self._ids["meters"].get(h.meter)
                if mid is None:
                    mid = self._name_id(cur, "meters", h.meter)
                rows.append((
                    mid, to_us(h.time), int(bool(h.available)), int(h.consecutive_failures),
                    None if h.last_success is None else to_us(h.last_success),
                    h.response_time_s, h.error or "",
                ))
            cur.executemany(
                "INSERT INTO device_health VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (meter_id, t) DO UPDATE SET available = excluded.available, "
                "consecutive_failures = excluded.consecutive_failures, "
                "last_success = excluded.last_success, response_time_s = excluded.response_time_s, "
                "error = excluded.error",
                rows,
            )
        return len(rows)

    def read_health(
        self, start: datetime | None = None, end: datetime | None = None,
        meters: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Device-health records in ``[start, end)`` (open ends when None)."""
        start_us, end_us = self._open_range_us(start, end)
        params: list = [start_us, end_us]
        sql = (
            "SELECT m.name, h.t, h.available, h.consecutive_failures, h.last_success, "
            "h.response_time_s, h.error FROM device_health h JOIN meters m ON m.id = h.meter_id "
            "WHERE h.t >= ? AND h.t < ?"
        )
        sql += _names_filter("h.meter_id", "meters", check_names(meters, "meters"), params)
        rows = self._query(sql + " ORDER BY m.name, h.t", params)
        if not rows:
            return empty_frame(HEALTH_COLUMNS)
        frame = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
        frame["time"] = _utc(frame["time"])
        frame["last_success"] = _utc(frame["last_success"])
        frame["available"] = frame["available"].astype(bool)
        frame["response_time_s"] = frame["response_time_s"].astype(float)
        return frame

    # -- retention -----------------------------------------------------------------------------

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Archive the daily aggregates of old raw readings, then drop those raw readings.

        Raw readings older than the retention period are aggregated; whole local days only.
        Archived days are kept for good.
        """
        cutoff = retention_cutoff(now or datetime.now(UTC), self.retention_raw_days, self.tz)
        cutoff_us = to_us(cutoff)
        with self._write() as cur:
            oldest = cur.execute("SELECT min(t) FROM readings").fetchone()[0]
            if oldest is None or oldest >= cutoff_us:
                return RetentionResult(cutoff, 0, 0)
            day = local_day_sql(offset_segments(oldest, cutoff_us, self.tz))
            cur.execute(f"""
INSERT INTO daily_archive
WITH g AS (
    SELECT meter_id, point_id, t, value, {day} AS day FROM readings
    WHERE t >= ? AND t < ? AND quality = '{Quality.good}' AND value IS NOT NULL
), w AS (
    SELECT meter_id, point_id, t, value, day,
           LAG(day) OVER win AS prev_day, LAG(value) OVER win AS prev_value,
           LEAD(day) OVER win AS next_day
    FROM g WINDOW win AS (PARTITION BY meter_id, point_id ORDER BY t)
)
SELECT meter_id, point_id, day, min(t), max(CASE WHEN prev_day IS NOT day THEN value END),
       max(t), max(CASE WHEN next_day IS NOT day THEN value END),
       sum(CASE WHEN prev_day = day AND value > prev_value THEN value - prev_value ELSE 0.0 END),
       avg(value), min(value), max(value), count(*)
FROM w GROUP BY meter_id, point_id, day
ON CONFLICT (meter_id, point_id, day) DO NOTHING""", (oldest, cutoff_us))
            archived = cur.rowcount
            cur.execute("DELETE FROM readings WHERE t < ?", (cutoff_us,))
            dropped = cur.rowcount
        log.info("retention: archived %d day(s), dropped %d raw reading(s) before %s",
                 archived, dropped, cutoff.isoformat())
        return RetentionResult(cutoff, archived, dropped)


