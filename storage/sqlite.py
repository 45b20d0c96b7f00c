"""The embedded store: one SQLite file in WAL mode, safe with one writer and many reader processes.

Schema
------
``meters(id, name)`` and ``points(id, name)`` map names (any Unicode) to small integers;
``readings(meter_id, point_id, t, value, quality)`` is a WITHOUT ROWID table keyed by
(meter_id, point_id, t) with ``t`` in microseconds since the epoch (UTC), so a rewrite of the same
meter, point and instant is an UPSERT and a meter's year is one contiguous key range.
``series(meter_id, point_id)`` lists every pair ever written; ``latest(meter_id, point_id, t,
value, quality)`` holds the newest reading of each, kept in the write transaction (for
:meth:`latest`);
``rollup_hourly(meter_id, point_id, hour_t, ...)`` and ``rollup_daily(meter_id, point_id, day,
...)`` keep the rollups (:mod:`storage.rollups`), updated inside the write transaction: the hours
a batch touched are recomputed from their raw readings, then the days those hours belong to from
their hours. Retention drops raw readings and keeps the rollups (they replace the former
``daily_archive``, migrated by :meth:`SqliteStore.rebuild_rollups`); ``meta`` holds the rollup
version and where raw readings start (``raw_from_us``). ``device_health(meter_id, t, ...)``
keeps collector health.

The raw daily aggregation (``raw_daily_*``, and the cut edges of a range) is one SQL statement:
the local day number is computed in SQL from the zone's
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

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
from storage.errors import RollupsMissing, StorageError, StoreUnavailable
from storage.periods import (
    EPOCH,
    US_PER_DAY,
    day_start_utc,
    offset_segments,
    retention_cutoff,
    to_us,
)
from storage.rollups import (
    ROLLUP_VERSION,
    US_PER_HOUR,
    RollupTuple,
    columns_of_frame,
    day_bounds_us,
    hour_starts_us,
    level_update,
    local_day_numbers,
    sort_batch,
)

__all__ = ["SqliteStore", "local_day_sql", "local_hour_sql"]

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
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS latest (
    meter_id INTEGER NOT NULL, point_id INTEGER NOT NULL, t INTEGER NOT NULL, value REAL,
    quality TEXT NOT NULL, PRIMARY KEY (meter_id, point_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_hourly (
    meter_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    hour_t INTEGER NOT NULL,     -- µs since 1970-01-01 UTC at which the local hour starts
    first_t INTEGER NOT NULL, first_value REAL NOT NULL, last_t INTEGER NOT NULL,
    last_value REAL NOT NULL, delta_sum REAL NOT NULL, value_sum REAL NOT NULL,
    min_value REAL NOT NULL, max_value REAL NOT NULL, n_readings INTEGER NOT NULL,
    PRIMARY KEY (meter_id, point_id, hour_t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rollup_daily (
    meter_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    day INTEGER NOT NULL,        -- local day number: days since 1970-01-01 in the site's zone
    first_t INTEGER NOT NULL, first_value REAL NOT NULL, last_t INTEGER NOT NULL,
    last_value REAL NOT NULL, delta_sum REAL NOT NULL, value_sum REAL NOT NULL,
    min_value REAL NOT NULL, max_value REAL NOT NULL, n_readings INTEGER NOT NULL,
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

TEMP_SCHEMA = """
CREATE TEMP TABLE IF NOT EXISTS touched_hours (
    meter_id INTEGER, point_id INTEGER, hour_t INTEGER, PRIMARY KEY (meter_id, point_id, hour_t)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS touched_days (
    meter_id INTEGER, point_id INTEGER, day INTEGER, start_t INTEGER, end_t INTEGER,
    PRIMARY KEY (meter_id, point_id, day)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS agg_hours AS SELECT * FROM main.rollup_hourly WHERE 0;
CREATE TEMP TABLE IF NOT EXISTS agg_days AS SELECT * FROM main.rollup_daily WHERE 0;
"""

_ROLLUP_FIELDS = ("first_t, first_value, last_t, last_value, delta_sum, value_sum, min_value, "
                  "max_value, n_readings")


def _hours_sql(source: str) -> str:
    """Aggregate ``source`` (meter_id, point_id, hour_t, t, value of good readings) per hour."""
    return f"""
SELECT meter_id, point_id, hour_t, min(t), max(CASE WHEN prev_t IS NULL THEN value END), max(t),
       max(CASE WHEN next_t IS NULL THEN value END),
       sum(CASE WHEN prev_t IS NOT NULL AND value > prev_v THEN value - prev_v ELSE 0.0 END),
       sum(value), min(value), max(value), count(*)
FROM (
    SELECT meter_id, point_id, hour_t, t, value,
           LAG(t) OVER w AS prev_t, LAG(value) OVER w AS prev_v, LEAD(t) OVER w AS next_t
    FROM ({source})
    WINDOW w AS (PARTITION BY meter_id, point_id, hour_t ORDER BY t)
)
GROUP BY meter_id, point_id, hour_t"""


def _days_sql(source: str) -> str:
    """Aggregate hourly rows ``source`` (meter_id, point_id, day, hour_t, fields) per day."""
    return f"""
SELECT meter_id, point_id, day, min(first_t), max(CASE WHEN prev_h IS NULL THEN first_value END),
       max(last_t), max(CASE WHEN next_h IS NULL THEN last_value END),
       sum(delta_sum) + sum(CASE WHEN prev_h IS NOT NULL AND first_value > prev_last
                                 THEN first_value - prev_last ELSE 0.0 END),
       sum(value_sum), min(min_value), max(max_value), sum(n_readings)
FROM (
    SELECT meter_id, point_id, day, hour_t, {_ROLLUP_FIELDS},
           LAG(hour_t) OVER w AS prev_h, LAG(last_value) OVER w AS prev_last,
           LEAD(hour_t) OVER w AS next_h
    FROM ({source})
    WINDOW w AS (PARTITION BY meter_id, point_id, day ORDER BY hour_t)
)
GROUP BY meter_id, point_id, day"""


_GOOD = f"quality = '{Quality.good}' AND value IS NOT NULL"
#: The hours a batch touched, recomputed from their raw readings.
TOUCHED_HOURS_SQL = _hours_sql(
    "SELECT h.meter_id, h.point_id, h.hour_t, r.t, r.value FROM temp.touched_hours h "
    "JOIN readings r ON r.meter_id = h.meter_id AND r.point_id = h.point_id "
    f"AND r.t >= h.hour_t AND r.t < h.hour_t + {US_PER_HOUR} "
    f"WHERE r.quality = '{Quality.good}' AND r.value IS NOT NULL"
)
#: The days those hours belong to, recomputed from their hourly rollups.
TOUCHED_DAYS_SQL = _days_sql(
    "SELECT d.meter_id, d.point_id, d.day, x.hour_t, "
    + ", ".join(f"x.{c.strip()}" for c in _ROLLUP_FIELDS.split(","))
    + " FROM temp.touched_days d JOIN rollup_hourly x ON x.meter_id = d.meter_id "
    "AND x.point_id = d.point_id AND x.hour_t >= d.start_t AND x.hour_t < d.end_t"
)

UPSERT_READING = (
    "INSERT INTO readings (meter_id, point_id, t, value, quality) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (meter_id, point_id, t) DO UPDATE SET value = excluded.value, "
    "quality = excluded.quality"
)


def _offset_sql(segments: list[tuple[int | None, int]], column: str) -> str:
    """Return SQL for the zone's UTC offset (µs) at a µs-epoch column (a CASE on transitions)."""
    if len(segments) == 1:
        return str(int(segments[0][1]))
    cases = " ".join(
        f"WHEN {column} < {int(until)} THEN {int(off)}" for until, off in segments[:-1]
        if until is not None
    )
    return f"CASE {cases} ELSE {int(segments[-1][1])} END"


def local_day_sql(segments: list[tuple[int | None, int]], column: str = "t") -> str:
    """Return SQL for the local day number (days since 1970-01-01 local) of a µs-epoch column.

    ``segments`` come from :func:`storage.periods.offset_segments`; every number in the text is
    an integer computed here, never user input.
    """
    offset = _offset_sql(segments, column)
    return f"(({column} + {offset} + {_SHIFT_DAYS * US_PER_DAY}) / {US_PER_DAY} - {_SHIFT_DAYS})"


def local_hour_sql(segments: list[tuple[int | None, int]], column: str = "t") -> str:
    """Return SQL for the UTC start (µs) of the local hour holding a µs-epoch column."""
    offset = _offset_sql(segments, column)
    return f"({column} - (({column} + {offset} + {_SHIFT_DAYS * US_PER_DAY}) % {US_PER_HOUR}))"


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
    cache: dict[int, date] = {}
    out = []
    for d in days:
        value = cache.get(d)
        if value is None:
            value = cache[d] = _DAY0 + timedelta(days=int(d))
        out.append(value)
    return out


def _sorted_by_names(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    """Return a frame in id order sorted by meter and point names (already so: unchanged)."""
    meters, points = frame["meter"].to_numpy(), frame["point"].to_numpy()
    same = meters[1:] == meters[:-1]
    if bool(np.all((meters[1:] > meters[:-1]) | (same & (points[1:] >= points[:-1])))):
        return frame
    return frame.sort_values(["meter", "point", period], kind="stable").reset_index(drop=True)


def _health_frame(rows: list[tuple]) -> pd.DataFrame:
    """Rows of ``device_health`` (with the meter's name) as :data:`HEALTH_COLUMNS`."""
    if not rows:
        return empty_frame(HEALTH_COLUMNS)
    frame = pd.DataFrame(rows, columns=HEALTH_COLUMNS)
    frame["time"] = _utc(frame["time"])
    frame["last_success"] = _utc(frame["last_success"])
    frame["available"] = frame["available"].astype(bool)
    frame["response_time_s"] = frame["response_time_s"].astype(float)
    return frame


def _utc(values_us: pd.Series) -> pd.Series:
    return pd.to_datetime(values_us.astype("Int64"), unit="us", utc=True)


@dataclass(frozen=True)
class _SortedBatch:
    """A batch sorted by meter, point and time, one reading per instant, with its periods."""

    mids: np.ndarray
    pids: np.ndarray
    ts: np.ndarray  #: [µs]
    values: np.ndarray  #: NaN: none
    qualities: np.ndarray
    good: np.ndarray  #: a good reading with a value

    def since(self, t_us: int) -> _SortedBatch:
        """Return the readings at or after ``t_us``."""
        keep = self.ts >= t_us
        return _SortedBatch(*(getattr(self, f)[keep] for f in (
            "mids", "pids", "ts", "values", "qualities", "good")))


def _sorted_batch(
    mids: np.ndarray, pids: np.ndarray, ts: np.ndarray, values: np.ndarray,
    qualities: np.ndarray,
) -> _SortedBatch:
    """Sort a batch by meter, point and time; of two writes of one instant the later wins."""
    keep = sort_batch(mids, pids, ts)
    mids, pids, ts, values, qualities = (mids[keep], pids[keep], ts[keep], values[keep],
                                         qualities[keep])
    good = (qualities == Quality.good.value) & ~np.isnan(values)
    return _SortedBatch(mids, pids, ts, values, qualities, good)


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
    rollups
        Keep the rollups current on write and read daily/hourly aggregates from them. False only
        to measure what rollups cost (``benchmarks/bench_storage_write.py``): such a store's
        writes leave the rollups stale until :meth:`rebuild_rollups`.
    """

    def __init__(
        self, path: str | Path, tz: ZoneInfo | str = "Asia/Shanghai",
        retention_raw_days: int = 400, busy_timeout_s: float = 30.0, *, rollups: bool = True,
    ):
        super().__init__(tz)
        self.rollups = rollups
        self._read_rollups = rollups
        self._rollups_ready = True
        self._day_bounds: dict[int, tuple[int, int]] = {}
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
            with self._write() as cur:
                existed = cur.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'readings'").fetchone()[0]
                had_latest = cur.execute(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'latest'").fetchone()[0]
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        cur.execute(statement)
                if existed and not had_latest:  # a store written before the latest table
                    cur.execute(
                        "INSERT INTO latest SELECT r.meter_id, r.point_id, r.t, r.value, "
                        "r.quality FROM (SELECT meter_id, point_id, (SELECT max(t) FROM readings "
                        "x WHERE x.meter_id = s.meter_id AND x.point_id = s.point_id) AS t "
                        "FROM series s) n JOIN readings r ON r.meter_id = n.meter_id "
                        "AND r.point_id = n.point_id AND r.t = n.t")
                version = cur.execute(
                    "SELECT value FROM meta WHERE key = 'rollup_version'").fetchone()
                if version is None and not existed:
                    cur.execute("INSERT INTO meta VALUES ('rollup_version', ?)", (ROLLUP_VERSION,))
                    version = (ROLLUP_VERSION,)
                zone = cur.execute("SELECT value FROM meta WHERE key = 'rollup_zone'").fetchone()
                if zone is None:
                    cur.execute("INSERT INTO meta VALUES ('rollup_zone', ?)", (self.tz.key,))
                    zone = (self.tz.key,)
            self._conn.executescript(TEMP_SCHEMA)
        except (sqlite3.Error, OSError, StorageError) as exc:
            what = ("it is not a SQLite database" if "not a database" in str(exc)
                    else f"cannot open the SQLite store: {exc}")
            raise StoreUnavailable(
                f"{self.path}: {what}; check [storage.sqlite] path (a database file in a folder "
                "this user can write to)") from exc
        #: The zone the stored rollups were cut in; writes keep them in it.
        self._rollup_tz = ZoneInfo(str(zone[0]))
        if self._rollup_tz != self.tz and rollups:
            log.warning("%s: the rollups were cut in %s, this store in %s: reads aggregate raw "
                        "readings; run 'jieneng store rebuild-rollups' to cut them in %s",
                        self.path, self._rollup_tz.key, self.tz.key, self.tz.key)
            self._read_rollups = False
        if version is None or version[0] != ROLLUP_VERSION:
            self._rollups_ready = False
            log.warning("%s", self._missing_message())

    def _missing_message(self) -> str:
        return (f"{self.path}: this store was written before rollups (no rollup version "
                f"{ROLLUP_VERSION} marker): run once 'jieneng store rebuild-rollups --config "
                "<settings file>' to build the daily and hourly rollups from the raw readings")

    def _require_rollups(self) -> None:
        """Raise :class:`RollupsMissing` (one line, the command to run) for an old store."""
        if self._rollups_ready:
            return
        row = self._query("SELECT value FROM meta WHERE key = 'rollup_version'")
        if row and row[0][0] == ROLLUP_VERSION:  # rebuilt by another process since
            self._rollups_ready = True
            return
        raise RollupsMissing(self._missing_message())

    def _raw_from_us(self) -> int:
        """Raw readings before this instant were dropped by retention (0: none) [µs]."""
        row = self._query("SELECT value FROM meta WHERE key = 'raw_from_us'")
        return int(row[0][0]) if row else 0

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

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same committed state."""
        with self._lock:
            if self._conn.in_transaction:
                yield
                return
            self._conn.execute("BEGIN")
            try:
                yield
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")

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

        The rollups of the hours and days the readings fall in are recomputed in the same
        transaction.

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
                if batch:
                    mids, pids, ts, values, qualities = zip(*batch, strict=True)
                    self._after_write(cur, _sorted_batch(
                        np.array(mids, dtype=np.int64), np.array(pids, dtype=np.int64),
                        np.array(ts, dtype=np.int64), np.array(values, dtype=float),
                        np.array(qualities, dtype=object)))
            written += len(batch)
            if len(batch) < _CHUNK:
                return written

    def write_frame(self, frame: pd.DataFrame | Mapping[str, Any]) -> int:
        """Write a frame of readings (columns meter, point, time, value [, quality]).

        The same checks and idempotence as :meth:`write_readings` (see
        :func:`storage.rollups.columns_of_frame`), without building a ``Reading`` per row: one
        transaction per 50 000 rows, rollups updated in it.

        Parameters
        ----------
        frame
            A pandas frame or a mapping of equal-length arrays; ``time`` timezone-aware.

        Returns
        -------
        int
            Rows written.

        Raises
        ------
        ValueError
            A bad row (named by position and column); nothing is written.
        """
        batch = columns_of_frame(frame)
        n = len(batch)
        if not n:
            return 0
        meter_codes, meter_names = pd.factorize(np.asarray(batch.meters, dtype=object))
        point_codes, point_names = pd.factorize(np.asarray(batch.points, dtype=object))
        with self._lock:
            with self._write() as cur:
                meter_ids = np.array([self._ids["meters"].get(m) or
                                      self._name_id(cur, "meters", m) for m in meter_names],
                                     dtype=np.int64)
                point_ids = np.array([self._ids["points"].get(p) or
                                      self._name_id(cur, "points", p) for p in point_names],
                                     dtype=np.int64)
                mids, pids = meter_ids[meter_codes], point_ids[point_codes]
                pairs = np.unique(mids * (1 << 32) + pids)
                cur.executemany("INSERT INTO series VALUES (?, ?) ON CONFLICT DO NOTHING",
                                [(int(k >> 32), int(k & 0xFFFFFFFF)) for k in pairs.tolist()])
            for lo in range(0, n, _CHUNK):
                hi = min(lo + _CHUNK, n)
                with self._write() as cur:
                    cur.executemany(UPSERT_READING, zip(
                        mids[lo:hi].tolist(), pids[lo:hi].tolist(), batch.t_us[lo:hi].tolist(),
                        batch.values[lo:hi], batch.qualities[lo:hi], strict=True))
                    self._after_write(cur, _sorted_batch(
                        mids[lo:hi], pids[lo:hi], batch.t_us[lo:hi],
                        np.array(batch.values[lo:hi], dtype=float),
                        np.array(batch.qualities[lo:hi], dtype=object)))
        return n

    def _bounds_of_day(self, day: int) -> tuple[int, int]:
        bounds = self._day_bounds.get(day)
        if bounds is None:
            bounds = self._day_bounds[day] = day_bounds_us(day, self._rollup_tz)
        return bounds

    def _after_write(self, cur: sqlite3.Cursor, batch: _SortedBatch) -> None:
        """Keep ``latest`` and (unless switched off) the rollups current after a write."""
        ends = np.r_[np.flatnonzero((batch.mids[1:] != batch.mids[:-1])
                                    | (batch.pids[1:] != batch.pids[:-1])), len(batch.ts) - 1]
        cur.executemany(
            "INSERT INTO latest VALUES (?, ?, ?, ?, ?) ON CONFLICT (meter_id, point_id) DO UPDATE "
            "SET t = excluded.t, value = excluded.value, quality = excluded.quality "
            "WHERE excluded.t >= latest.t",
            zip(batch.mids[ends].tolist(), batch.pids[ends].tolist(), batch.ts[ends].tolist(),
                [None if v != v else v for v in batch.values[ends].tolist()],
                batch.qualities[ends].tolist(), strict=True))
        if self.rollups:
            self._update_rollups(cur, batch)

    def _update_rollups(self, cur: sqlite3.Cursor, frame: _SortedBatch) -> None:
        """Bring the hourly and daily rollups of the periods a batch falls in up to date.

        A period that had no good reading, or whose new readings all come after (or all before)
        its existing good readings, is updated from the batch alone
        (:func:`storage.rollups.merge_batch`, exact); any other (a rewrite inside the period) is
        recomputed: an hour from its raw readings, a day from its hours. Periods before the
        retention boundary (``raw_from_us``) keep their rollups: their raw readings are gone.
        """
        row = cur.execute("SELECT value FROM meta WHERE key = 'raw_from_us'").fetchone()
        if row is not None:
            frame = frame.since(int(row[0]))
        if not len(frame.ts):
            return
        hour_starts = hour_starts_us(frame.ts, self._rollup_tz)
        hours = self._merge_level(cur, "rollup_hourly", "hour_t", frame, hour_starts)
        if hours:
            cur.execute("DELETE FROM temp.touched_hours")
            cur.executemany("INSERT INTO temp.touched_hours VALUES (?, ?, ?)", hours)
            cur.execute("DELETE FROM temp.agg_hours")
            cur.execute("INSERT INTO temp.agg_hours " + TOUCHED_HOURS_SQL)
            cur.execute("DELETE FROM rollup_hourly WHERE (meter_id, point_id, hour_t) IN "
                        "(SELECT meter_id, point_id, hour_t FROM temp.touched_hours)")
            cur.execute("INSERT INTO rollup_hourly SELECT * FROM temp.agg_hours")
        days = self._merge_level(cur, "rollup_daily", "day", frame,
                                 local_day_numbers(hour_starts, self._rollup_tz))
        if days:
            cur.execute("DELETE FROM temp.touched_days")
            cur.executemany("INSERT INTO temp.touched_days VALUES (?, ?, ?, ?, ?)", (
                (m, p, d, *self._bounds_of_day(d)) for m, p, d in days))
            cur.execute("DELETE FROM temp.agg_days")
            cur.execute("INSERT INTO temp.agg_days " + TOUCHED_DAYS_SQL)
            cur.execute("DELETE FROM rollup_daily WHERE (meter_id, point_id, day) IN "
                        "(SELECT meter_id, point_id, day FROM temp.touched_days)")
            cur.execute("INSERT INTO rollup_daily SELECT * FROM temp.agg_days")

    def _merge_level(
        self, cur: sqlite3.Cursor, table: str, column: str, batch: _SortedBatch,
        periods: np.ndarray,
    ) -> list[tuple[int, int, int]]:
        """Update the rollups of one level (hours or days) from a batch where exact.

        Returns the (meter_id, point_id, period) keys that must be recomputed.
        """
        def existing_of(
            ranges: list[tuple[int, int, int, int]],
        ) -> dict[tuple[int, int, int], RollupTuple]:
            return {
                (r[0], r[1], r[2]): r[3:] for r in cur.execute(
                    f"SELECT x.meter_id, x.point_id, x.{column}, {_ROLLUP_FIELDS} "
                    f"FROM json_each(?) j JOIN {table} x ON x.meter_id = j.value ->> 0 "
                    f"AND x.point_id = j.value ->> 1 AND x.{column} >= j.value ->> 2 "
                    f"AND x.{column} <= j.value ->> 3", (json.dumps(ranges),))
            }

        write, recompute = level_update(batch.mids, batch.pids, batch.ts, batch.values,
                                        batch.good, periods, existing_of)
        cur.executemany(f"INSERT OR REPLACE INTO {table} VALUES "
                        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", write)
        return recompute

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

    def _names(self, table: str) -> np.ndarray:
        """Names by id (index = id) of ``meters`` or ``points``, as an object array."""
        rows = self._query(f"SELECT id, name FROM {table}")
        names = np.empty(max((i for i, _ in rows), default=0) + 1, dtype=object)
        for i, name in rows:
            names[i] = name
        return names

    def _rollup_days(
        self, first_day: int, end_day: int, meters: list[str] | None, points: list[str] | None,
        columns: list[str],
    ) -> pd.DataFrame:
        gauges = "mean" in columns
        fields = ("value_sum / n_readings, min_value, max_value" if gauges else
                  "first_t, first_value, last_t, last_value, delta_sum")
        params: list = [first_day, end_day]
        sql = (
            f"SELECT meter_id, point_id, day, {fields}, n_readings FROM rollup_daily "
            "WHERE day >= ? AND day < ?" + _series_filter("", meters, points, params)
        )
        with self._snapshot():  # rows in key order: meter id, point id, day
            rows = self._query(sql, params)
            meter_names, point_names = self._names("meters"), self._names("points")
        if not rows:
            return empty_frame(columns)
        # every column is a number (µs times < 2**53 are exact as floats): one C conversion
        data = np.array(rows, dtype=float)
        out: dict[str, object] = {
            "meter": meter_names[data[:, 0].astype(np.int64)],
            "point": point_names[data[:, 1].astype(np.int64)],
        }
        days, where = np.unique(data[:, 2].astype(np.int64), return_inverse=True)
        out["day"] = np.array(_day_numbers_to_dates(days.tolist()), dtype=object)[where]
        for i, name in enumerate(columns[3:], start=3):
            if name in ("first_time", "last_time"):
                out[name] = pd.to_datetime(data[:, i].astype(np.int64), unit="us", utc=True)
            else:
                out[name] = data[:, i].astype(np.int64) if name == "n_readings" else data[:, i]
        return _sorted_by_names(pd.DataFrame(out), "day")

    def _rollup_hours(
        self, start_us: int, end_us: int, meters: list[str] | None, points: list[str] | None,
        gauges: bool,
    ) -> pd.DataFrame:
        columns = HOURLY_GAUGE_COLUMNS if gauges else HOURLY_COUNTER_COLUMNS
        fields = ("r.value_sum / r.n_readings, r.min_value, r.max_value" if gauges else
                  "r.first_t, r.first_value, r.last_t, r.last_value, r.delta_sum")
        params: list = [start_us, end_us]
        sql = (
            f"SELECT m.name, p.name, r.hour_t, {fields}, r.n_readings FROM rollup_hourly r "
            "JOIN meters m ON m.id = r.meter_id JOIN points p ON p.id = r.point_id "
            "WHERE r.hour_t >= ? AND r.hour_t < ?" + _series_filter("r.", meters, points, params)
            + " ORDER BY m.name, p.name, r.hour_t"
        )
        rows = self._query(sql, params)
        if not rows:
            return empty_frame(columns)
        frame = pd.DataFrame(rows, columns=columns)
        frame["hour"] = _utc(frame["hour"])
        if not gauges:
            frame["first_time"] = _utc(frame["first_time"])
            frame["last_time"] = _utc(frame["last_time"])
        return frame

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
        """Return the newest reading of every meter × point (any quality), from ``latest``."""
        params: list = []
        sql = (
            "SELECT m.name, p.name, r.t, r.value, r.quality FROM latest r "
            "JOIN meters m ON m.id = r.meter_id JOIN points p ON p.id = r.point_id WHERE 1"
            + _series_filter("r.", check_names(meters, "meters"), check_names(points, "points"),
                             params)
            + " ORDER BY m.name, p.name"
        )
        rows = self._query(sql, params)
        if not rows:
            return empty_frame(LATEST_COLUMNS)
        return _reading_frame(rows, LATEST_COLUMNS)

    # -- health --------------------------------------------------------------------------------

    def latest_health(self, meters: Sequence[str] | None = None) -> pd.DataFrame:
        """Return the newest device-health record of every meter (one indexed query)."""
        params: list = []
        sql = (
            "SELECT m.name, h.t, h.available, h.consecutive_failures, h.last_success, "
            "h.response_time_s, h.error FROM meters m JOIN device_health h "
            "ON h.meter_id = m.id AND h.t = (SELECT max(t) FROM device_health x "
            "WHERE x.meter_id = m.id) WHERE 1"
            + _names_filter("m.id", "meters", check_names(meters, "meters"), params)
            + " ORDER BY m.name"
        )
        return _health_frame(self._query(sql, params))

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
        return _health_frame(self._query(sql + " ORDER BY m.name, h.t", params))

    # -- retention -----------------------------------------------------------------------------

    def apply_retention(self, now: datetime | None = None) -> RetentionResult:
        """Drop the raw readings of whole local days older than the retention period.

        Their hourly and daily rollups stay for good (the daily and monthly reads return those
        days as before); rollups of days before the boundary no longer change.
        """
        self._require_rollups()
        cutoff = retention_cutoff(now or datetime.now(UTC), self.retention_raw_days, self.tz)
        cutoff_us = to_us(cutoff)
        with self._write() as cur:
            row = cur.execute("SELECT value FROM meta WHERE key = 'raw_from_us'").fetchone()
            previous = int(row[0]) if row else 0
            if cutoff_us <= previous:
                return RetentionResult(cutoff, 0, 0)
            first = int(local_day_numbers(np.array([previous]), self.tz)[0]) if previous else -10**7
            last = int(local_day_numbers(np.array([cutoff_us]), self.tz)[0])
            kept = cur.execute("SELECT count(*) FROM rollup_daily WHERE day >= ? AND day < ?",
                               (first, last)).fetchone()[0]
            cur.execute("DELETE FROM readings WHERE t < ?", (cutoff_us,))
            dropped = cur.rowcount
            cur.execute("INSERT INTO meta VALUES ('raw_from_us', ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (cutoff_us,))
        log.info("retention: dropped %d raw reading(s) before %s; %d day(s) kept as rollups",
                 dropped, cutoff.isoformat(), kept)
        return RetentionResult(cutoff, kept, dropped)

    def rebuild_rollups(self, since: date | None = None) -> int:
        """Recompute every rollup from the raw readings (from local day ``since``), in one transaction.

        Migrates a former ``daily_archive`` into the daily rollups first (those days' raw readings
        are gone), then marks the store as having rollups.

        Parameters
        ----------
        since
            First local day to rebuild; None rebuilds everything. Days before the retention
            boundary are never rebuilt (their raw readings are gone).

        Returns
        -------
        int
            Daily rollup rows written (meter × point × day).
        """
        with self._write() as cur:
            cur.execute("INSERT INTO meta VALUES ('rollup_zone', ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (self.tz.key,))
            self._rollup_tz, self._read_rollups, self._day_bounds = self.tz, self.rollups, {}
            raw_from = 0
            row = cur.execute("SELECT value FROM meta WHERE key = 'raw_from_us'").fetchone()
            if row:
                raw_from = int(row[0])
            if cur.execute("SELECT count(*) FROM sqlite_master "
                           "WHERE name = 'daily_archive'").fetchone()[0]:
                cur.execute(
                    f"INSERT INTO rollup_daily SELECT meter_id, point_id, day, {_ROLLUP_FIELDS} "
                    "FROM (SELECT meter_id, point_id, day, first_t, first_value, last_t, "
                    "last_value, delta_sum, mean * n_readings AS value_sum, min_value, max_value, "
                    "n_readings FROM daily_archive WHERE first_t IS NOT NULL) WHERE 1 "
                    "ON CONFLICT DO NOTHING")
                newest = cur.execute("SELECT max(day) FROM daily_archive").fetchone()[0]
                if newest is not None:
                    raw_from = max(raw_from, self._bounds_of_day(int(newest))[1])
                    cur.execute("INSERT INTO meta VALUES ('raw_from_us', ?) ON CONFLICT (key) "
                                "DO UPDATE SET value = excluded.value", (raw_from,))
                cur.execute("DROP TABLE daily_archive")
            from_us = raw_from
            if since is not None:
                from_us = max(from_us, to_us(day_start_utc(since, self.tz)))
            first_day = int(local_day_numbers(np.array([from_us]), self.tz)[0])
            cur.execute("DELETE FROM rollup_hourly WHERE hour_t >= ?", (from_us,))
            cur.execute("DELETE FROM rollup_daily WHERE day >= ?", (first_day,))
            newest_t = cur.execute("SELECT max(t) FROM readings").fetchone()[0]
            written = 0
            if newest_t is not None and newest_t >= from_us:
                hour = local_hour_sql(offset_segments(from_us, newest_t + 1, self.tz))
                cur.execute("INSERT INTO rollup_hourly " + _hours_sql(
                    f"SELECT meter_id, point_id, {hour} AS hour_t, t, value FROM readings "
                    f"WHERE t >= {int(from_us)} AND {_GOOD}"))
                day = local_day_sql(offset_segments(from_us, newest_t + 1, self.tz), "hour_t")
                cur.execute("INSERT INTO rollup_daily " + _days_sql(
                    f"SELECT meter_id, point_id, {day} AS day, hour_t, {_ROLLUP_FIELDS} "
                    f"FROM rollup_hourly WHERE hour_t >= {int(from_us)}"))
                written = cur.rowcount
            cur.execute("INSERT INTO meta VALUES ('rollup_version', ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", (ROLLUP_VERSION,))
        self._rollups_ready = True
        log.info("%s: rebuilt %d daily rollup(s) from raw readings since %s", self.path, written,
                 from_us and from_us)
        return written
