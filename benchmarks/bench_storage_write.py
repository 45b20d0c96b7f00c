"""Benchmark: write throughput of the stores against the raw database write in the same run.

Run: ``.venv/bin/python benchmarks/bench_storage_write.py [--readings 200000] [--repeats 5]
[--quick] [--backend all|sqlite|influx]``

Data: 100 meters × 2 points × N/200 timestamps (15-minute steps), built before timing, both as
``Reading`` objects (what a collector hands the store) and as one pandas frame (what a backfill
or an import hands ``write_frame``).

* SQLite, each into a fresh file: ``write_readings`` and ``write_frame`` with rollups kept current
  (the default) and without (``SqliteStore(..., rollups=False)``, the benchmark's switch), and
  (b) the raw baseline: ``executemany`` of the same UPSERT into the same table, with rows already
  as tuples (ids and µs times precomputed), the same 50 000-row transactions.
* InfluxDB 1.x (a real ``influxd`` on loopback), each into a fresh database, 5 000-point batches,
  gzip off (loopback): the same four store calls against (b) a POST of the same batches as
  prebuilt line-protocol text.
* Latest reading of 5 000 meters × 2 points (SQLite): ``store.latest()`` (one query of the
  ``latest`` table, names joined, sorted, to a frame) beside the bare ``SELECT`` of that table
  fetched as rows, and ``store.latest_health()``.

Prints medians and ratios. Goals: rollups cost ≤ 1.3 × the same write without them; columnar
writes ≥ 0.9 × the raw baseline; latest of 5 000 meters ≤ 50 ms on SQLite.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
import requests

from storage.base import DeviceHealth, Reading
from storage.influx_v1 import InfluxV1Store
from storage.lineprotocol import reading_line
from storage.periods import to_us
from storage.sqlite import SCHEMA, UPSERT_READING, SqliteStore

N_METERS = 100
POINTS = ("energy_import_kwh", "power_w")
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def make_readings(n: int) -> list[Reading]:
    steps = max(1, n // (N_METERS * len(POINTS)))
    out = []
    for m in range(N_METERS):
        for p, point in enumerate(POINTS):
            for k in range(steps):
                t = T0 + timedelta(minutes=15 * k)
                out.append(Reading(f"meter-{m:03d}", point, t, 1000.0 * m + 0.25 * k + p))
    return out


def as_frame(readings: list[Reading]) -> pd.DataFrame:
    return pd.DataFrame({
        "meter": [r.meter for r in readings], "point": [r.point for r in readings],
        "time": pd.to_datetime([r.time for r in readings], utc=True),
        "value": np.array([r.value for r in readings], dtype=float),
        "quality": [str(r.quality) for r in readings],
    })


def rotate(kinds: list[str], i: int) -> list[str]:
    """The kinds in a different order each repeat: no order bias."""
    return kinds[i % len(kinds):] + kinds[:i % len(kinds)]


def bench_sqlite(readings: list[Reading], frame: pd.DataFrame, repeats: int,
                 tmp: Path) -> dict[str, list[float]]:
    meter_ids = {f"meter-{m:03d}": m + 1 for m in range(N_METERS)}
    point_ids = {p: i + 1 for i, p in enumerate(POINTS)}
    rows = [(meter_ids[r.meter], point_ids[r.point], to_us(r.time), r.value, r.quality)
            for r in readings]
    times: dict[str, list[float]] = {k: [] for k in (
        "readings+rollups", "readings", "frame+rollups", "frame", "raw")}
    for i in range(repeats):
        for kind in rotate(list(times), i):
            path = tmp / f"{kind}-{i}.sqlite"
            if kind == "raw":
                times[kind].append(_raw_sqlite(rows, path))
                continue
            store = SqliteStore(path, "Asia/Shanghai", rollups=kind.endswith("rollups"))
            t = time.perf_counter()
            n = (store.write_frame(frame) if kind.startswith("frame")
                 else store.write_readings(readings))
            times[kind].append(time.perf_counter() - t)
            assert n == len(readings)
            store.close()
    return times


def _raw_sqlite(rows: list[tuple], path: Path) -> float:
    """The baseline: executemany of prepared rows in 50 000-row transactions. [s]"""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    t = time.perf_counter()
    for start in range(0, len(rows), 50_000):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(UPSERT_READING, rows[start:start + 50_000])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t
    assert conn.execute("SELECT count(*) FROM readings").fetchone()[0] == len(rows)
    conn.close()
    return elapsed


def bench_influx(readings: list[Reading], frame: pd.DataFrame, repeats: int,
                 tmp: Path) -> dict[str, list[float]] | None:
    from tests.support.influx import InfluxServer

    binary = shutil.which("influxd")
    if binary is None:
        print("influxd not found (Debian's influxdb): InfluxDB part skipped")
        return None
    (tmp / "influxd").mkdir()
    server = InfluxServer(binary, tmp / "influxd")
    server.start()
    batch = 5000
    bodies = ["\n".join(reading_line(r) for r in readings[i:i + batch])
              for i in range(0, len(readings), batch)]
    times: dict[str, list[float]] = {k: [] for k in (
        "readings+rollups", "readings", "frame+rollups", "frame", "raw")}
    session = requests.Session()
    try:
        for i in range(repeats):
            for kind in rotate(list(times), i):
                db = f"bench_{kind.replace('+', '_')}_{i}"
                server.query(f'CREATE DATABASE "{db}"')
                url = f"{server.url}/write"
                params = {"db": db, "precision": "u"}
                store = InfluxV1Store(server.url, db, "Asia/Shanghai", batch_size=batch,
                                      create_database=False, gzip=False,
                                      rollups=kind.endswith("rollups"), timeout_s=120)
                t = time.perf_counter()
                if kind == "raw":
                    for body in bodies:
                        session.post(url, params=params, data=body.encode()).raise_for_status()
                elif kind.startswith("frame"):
                    store.write_frame(frame)
                else:
                    store.write_readings(readings)
                times[kind].append(time.perf_counter() - t)
                store.close()
                count = server.query('SELECT count("t_us") FROM "readings"', db=db)
                n = count["results"][0]["series"][0]["values"][0][1]
                assert n == len(readings), (kind, n)
                server.query(f'DROP DATABASE "{db}"')
    finally:
        server.stop()
    return times


def report(name: str, n: int, times: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) for k, v in times.items()}
    rate = {k: n / v for k, v in med.items()}
    for kind in med:
        print(f"{name:<7} {kind:<17} {rate[kind]:>11,.0f} points/s  ({med[kind] * 1000:,.0f} ms)")
    print(f"{name:<7} cost of rollups, write_readings: {med['readings+rollups'] / med['readings']:.2f}×"
          f"   write_frame: {med['frame+rollups'] / med['frame']:.2f}×   (goal <= 1.30)")
    base = "raw executemany" if name == "sqlite" else "raw POST"
    print(f"{name:<7} columnar vs {base}: write_frame {rate['frame'] / rate['raw']:.2f}  "
          f"write_frame with rollups {rate['frame+rollups'] / rate['raw']:.2f}  "
          f"(goal >= 0.90);  write_readings {rate['readings'] / rate['raw']:.2f}")


def median_ms(fn: Callable[[], int], repeats: int) -> tuple[float, int]:
    out, rows = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        rows = fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out) * 1000, rows


def bench_latest(tmp: Path, meters: int, repeats: int) -> None:
    path = tmp / "latest.sqlite"
    store = SqliteStore(path, "Asia/Shanghai")
    n = 12
    frame = pd.DataFrame({
        "meter": np.repeat([f"m{i:05d}" for i in range(meters)], 2 * n),
        "point": np.tile(np.repeat(list(POINTS), n), meters),
        "time": np.tile(pd.date_range(T0, periods=n, freq="5min"), 2 * meters),
        "value": np.arange(meters * 2 * n, dtype=float),
    })
    store.write_frame(frame)
    store.write_health(DeviceHealth(f"m{i:05d}", T0 + timedelta(minutes=k), True, 0, T0, 0.05)
                       for i in range(meters) for k in range(3))
    conn = sqlite3.connect(path)
    bare_sql = "SELECT meter_id, point_id, t, value, quality FROM latest"
    ours, rows = median_ms(lambda: len(store.latest()), repeats)
    bare, bare_rows = median_ms(lambda: len(conn.execute(bare_sql).fetchall()), repeats)
    assert rows == bare_rows == 2 * meters
    health, health_rows = median_ms(lambda: len(store.latest_health()), repeats)
    assert health_rows == meters
    print(f"sqlite  latest() of {meters} meters × 2 points: {ours:.1f} ms  (guide <= 50 ms)   "
          f"bare query {bare:.1f} ms   latest_health(): {health:.1f} ms")
    conn.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="50 000 readings, 3 repeats")
    parser.add_argument("--backend", choices=["all", "sqlite", "influx"], default="all")
    args = parser.parse_args()
    if args.quick:
        args.readings, args.repeats = 50_000, 3
    readings = make_readings(args.readings)
    frame = as_frame(readings)
    n = len(readings)
    print(f"{n} readings ({N_METERS} meters × {len(POINTS)} points), {args.repeats} runs each, "
          "medians:")
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-") as tmp:
        if args.backend in ("all", "sqlite"):
            report("sqlite", n, bench_sqlite(readings, frame, args.repeats, Path(tmp)))
            bench_latest(Path(tmp), 5000, max(args.repeats, 5))
        if args.backend in ("all", "influx"):
            influx = bench_influx(readings, frame, args.repeats, Path(tmp))
            if influx:
                report("influx", n, influx)


if __name__ == "__main__":
    main()
