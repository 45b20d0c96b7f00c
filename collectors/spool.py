"""Store-and-forward spool: a durable local queue of readings (SQLite, synchronous=FULL).

The collector appends every batch it reads to the spool *before* it tries the store, and deletes
rows only after the store accepted them. So a reading is always either in the spool (on disk,
fsynced at commit) or in the store; a collector killed with SIGKILL and restarted forwards what
it left behind. A crash between "store accepted" and "rows deleted" forwards those rows again,
which is harmless because store writes are idempotent on (meter, point, time).

Readings are forwarded oldest first (by insertion order). The spool is bounded by
``[collector].spool_max_readings``: past ``spool_warn_fraction`` of it a warning is logged once;
when it is full, new readings are refused (and counted) rather than silently overwriting old ones.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from collectors.errors import SpoolError
from storage.base import Reading
from storage.errors import StorageError, StoreUnavailable
from storage.periods import from_us, require_aware, to_us

__all__ = ["ForwardResult", "Spool"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled_readings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    meter TEXT NOT NULL,
    point TEXT NOT NULL,
    time_us INTEGER NOT NULL,      -- UTC, microseconds since 1970-01-01
    value REAL,
    quality TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected_readings (   -- the store refused the data itself
    seq INTEGER PRIMARY KEY,
    meter TEXT NOT NULL,
    point TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    value REAL,
    quality TEXT NOT NULL,
    error TEXT NOT NULL
);
"""


def _frame_of(rows: list[tuple]) -> pd.DataFrame:
    """Spooled rows ``(seq, meter, point, time_us, value, quality)`` as a frame for ``write_frame``."""
    frame = pd.DataFrame(rows, columns=["seq", "meter", "point", "time_us", "value", "quality"])
    frame["time"] = pd.to_datetime(frame["time_us"].astype("int64"), unit="us", utc=True)
    frame["value"] = frame["value"].astype(float)
    return frame[["meter", "point", "time", "value", "quality"]]


@dataclass(frozen=True)
class ForwardResult:
    """What one :meth:`Spool.forward` call did.

    Attributes
    ----------
    forwarded
        Readings the store accepted (and the spool deleted). [readings]
    pending
        Readings still in the spool afterwards. [readings]
    store_available
        False when the store refused a write (``StoreUnavailable``).
    error
        The store's error message when it was unavailable.
    """

    forwarded: int
    pending: int
    store_available: bool
    error: str = ""


class Spool:
    """A durable FIFO of readings in one SQLite file.

    Parameters
    ----------
    path
        The spool file (created with its folder when missing).
    max_readings
        Bound: readings beyond it are refused. [readings]
    warn_fraction
        Log a warning once when the spool is fuller than this share of ``max_readings``.
    """

    def __init__(self, path: Path, max_readings: int = 2_000_000, warn_fraction: float = 0.8):
        self.path = Path(path)
        self.max_readings = max_readings
        self.warn_at = max(1, int(max_readings * warn_fraction))
        #: Readings refused because the spool was full, since this object was made. [readings]
        self.dropped = 0
        self._warned = False
        self._full_logged = False
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(f"cannot open the spool {self.path}: {exc}") from exc
        self._pending = self._count()

    def _count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM spooled_readings").fetchone()[0])

    @property
    def pending(self) -> int:
        """Readings waiting to be forwarded [readings]."""
        return self._pending

    def append(self, readings: Sequence[Reading]) -> int:
        """Store readings durably (one fsynced transaction).

        Parameters
        ----------
        readings
            In the order they were read.

        Returns
        -------
        int
            How many were stored; the rest (when the spool is full) are refused and added to
            :attr:`dropped`.
        """
        if not readings:
            return 0
        rows = [
            (r.meter, r.point, to_us(require_aware(r.time, "reading time")), r.value, r.quality)
            for r in readings
        ]
        with self._lock:
            room = max(0, self.max_readings - self._pending)
            accepted = rows[:room]
            refused = len(rows) - len(accepted)
            if accepted:
                try:
                    with self._db:
                        self._db.execute("BEGIN IMMEDIATE")
                        self._db.executemany(
                            "INSERT INTO spooled_readings (meter, point, time_us, value, quality)"
                            " VALUES (?, ?, ?, ?, ?)",
                            accepted,
                        )
                except sqlite3.Error as exc:
                    raise SpoolError(f"cannot write to the spool {self.path}: {exc}") from exc
                self._pending += len(accepted)
            self._check_bound(refused)
        return len(accepted)

    def _check_bound(self, refused: int) -> None:
        if refused:
            self.dropped += refused
            if not self._full_logged:
                log.error(
                    "spool %s is full (%d readings = [collector].spool_max_readings): "
                    "refusing new readings until the store takes some; %d refused so far",
                    self.path, self.max_readings, self.dropped,
                )
                self._full_logged = True
        elif self._pending < self.max_readings:
            self._full_logged = False
        if self._pending >= self.warn_at and not self._warned:
            log.warning(
                "spool %s holds %d readings, %.0f%% of its bound %d: the store has been "
                "unavailable for a while",
                self.path, self._pending, 100 * self._pending / self.max_readings,
                self.max_readings,
            )
            self._warned = True
        elif self._pending < self.warn_at:
            self._warned = False

    def peek(self, limit: int) -> list[tuple[int, Reading]]:
        """Return the oldest ``limit`` readings with their sequence numbers, without removing them."""
        return [
            (seq, Reading(meter=m, point=p, time=from_us(t), value=v, quality=q))
            for seq, m, p, t, v, q in self._peek_rows(limit)
        ]

    def _peek_rows(self, limit: int) -> list[tuple]:
        """Return the oldest ``limit`` rows ``(seq, meter, point, time_us, value, quality)``."""
        with self._lock:
            return self._db.execute(
                "SELECT seq, meter, point, time_us, value, quality FROM spooled_readings"
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()

    def remove_through(self, seq: int) -> int:
        """Delete every reading with sequence number ≤ ``seq`` (they reached the store)."""
        with self._lock:
            with self._db:
                cursor = self._db.execute("DELETE FROM spooled_readings WHERE seq <= ?", (seq,))
            self._pending -= cursor.rowcount
            self._check_bound(0)
            return cursor.rowcount

    def forward(self, store, batch_size: int = 5000) -> ForwardResult:
        """Write spooled readings to the store, oldest first, until empty or the store fails.

        Parameters
        ----------
        store
            A ``storage.TimeSeriesStore``.
        batch_size
            Readings per ``write_frame`` call. [readings]

        Returns
        -------
        ForwardResult
            ``store_available`` is False when the store raised ``StoreUnavailable``; those readings
            stay in the spool for the next call. When the store rejects a batch's data itself
            (another ``StorageError``), the batch is written one reading at a time and the readings
            it refuses are moved to the ``rejected_readings`` table with the store's message, so
            one bad reading cannot block the spool.
        """
        forwarded = 0
        while True:
            rows = self._peek_rows(batch_size)
            if not rows:
                return ForwardResult(forwarded, self.pending, True)
            try:
                store.write_frame(_frame_of(rows))  # columns: no Reading per spooled row
            except StoreUnavailable as exc:
                return ForwardResult(forwarded, self.pending, False, str(exc))
            except StorageError:
                batch = [(seq, Reading(meter=m, point=p, time=from_us(t), value=v, quality=q))
                         for seq, m, p, t, v, q in rows]
                try:
                    forwarded += self._forward_one_by_one(store, batch)
                except StoreUnavailable as exc:
                    return ForwardResult(forwarded, self.pending, False, str(exc))
                continue
            self.remove_through(rows[-1][0])
            forwarded += len(rows)

    def _forward_one_by_one(self, store, batch: list[tuple[int, Reading]]) -> int:
        accepted = 0
        for seq, reading in batch:
            try:
                store.write_readings([reading])
                accepted += 1
            except StoreUnavailable:
                raise
            except StorageError as exc:
                log.error(
                    "the store rejected reading %r/%r at %s: %s; kept in %s (rejected_readings)",
                    reading.meter, reading.point, reading.time.isoformat(), exc, self.path,
                )
                with self._lock, self._db:
                    self._db.execute("BEGIN IMMEDIATE")
                    self._db.execute(
                        "INSERT INTO rejected_readings SELECT *, ? FROM spooled_readings"
                        " WHERE seq = ?",
                        (str(exc), seq),
                    )
                    self._db.execute("DELETE FROM spooled_readings WHERE seq = ?", (seq,))
                    self._pending -= 1
                continue
            self.remove_through(seq)
        return accepted

    def rejected(self) -> int:
        """Count the readings the store refused as data (kept in ``rejected_readings``).

        Returns
        -------
        int
            The number of rejected readings. [readings]
        """
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM rejected_readings").fetchone()[0])

    def close(self) -> None:
        """Close the file (everything appended is already on disk)."""
        with self._lock:
            self._db.close()
