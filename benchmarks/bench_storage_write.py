"""Benchmark: write throughput of the stores against the raw database write in the same run.

Run: ``.venv/bin/python benchmarks/bench_storage_write.py [--readings 200000] [--repeats 5]``

Data: 100 meters × 2 points × N/200 timestamps (15-minute steps) of ``Reading`` objects, built
before timing (a collector hands the store ``Reading`` objects).

* SQLite: (a) ``SqliteStore.write_readings(readings)`` into a fresh file against (b) the raw
  baseline: ``executemany`` of the same UPSERT into the same table, with rows already as tuples
  (ids and µs times precomputed), the same 50 000-row transactions; also printed against
  (b') the same executemany plus building those tuples from the ``Reading`` objects with a
  plain list comprehension (what a hand-written writer would do; the goal is judged on (b)).
* InfluxDB 1.x (a real ``influxd`` on loopback): (a) ``InfluxV1Store.write_readings`` (5 000-point
  batches) against (b) the raw baseline: POST of the same batches as prebuilt line-protocol text,
  each run into a fresh database; once uncompressed (``gzip=False`` against a plain POST) and
  once compressed (``gzip=True``, the default, against a POST gzip-compressed in the timed loop).

Prints the median points per second of each and the ratio (a)/(b). Goal: (a) ≥ 0.8 × (b).
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from storage.base import Reading
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


def bench_sqlite(
    readings: list[Reading], repeats: int, tmp: Path
) -> tuple[list[float], list[float], list[float]]:
    meter_ids = {f"meter-{m:03d}": m + 1 for m in range(N_METERS)}
    point_ids = {p: i + 1 for i, p in enumerate(POINTS)}
    rows = [(meter_ids[r.meter], point_ids[r.point], to_us(r.time), r.value, r.quality)
            for r in readings]
    store_t, raw_t, conv_t = [], [], []
    for i in range(repeats):
        t = time.perf_counter()
        converted = [(meter_ids[r.meter], point_ids[r.point], to_us(r.time), r.value, r.quality)
                     for r in readings]
        conv_t.append(time.perf_counter() - t)
        assert converted == rows
        if i % 2:  # alternate which runs first
            raw_t.append(_raw_sqlite(rows, tmp / f"raw{i}.sqlite"))
        path = tmp / f"store{i}.sqlite"
        store = SqliteStore(path, "Asia/Shanghai")
        t = time.perf_counter()
        assert store.write_readings(readings) == len(readings)
        store_t.append(time.perf_counter() - t)
        store.close()
        if not i % 2:
            raw_t.append(_raw_sqlite(rows, tmp / f"raw{i}.sqlite"))
        assert len(raw_t) == len(store_t)
    return store_t, raw_t, conv_t


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


def bench_influx(
    readings: list[Reading], repeats: int, tmp: Path
) -> dict[str, list[float]] | None:
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
    times: dict[str, list[float]] = {"store": [], "store_gzip": [], "raw": [], "raw_gzip": []}
    session = requests.Session()
    try:
        for i in range(repeats):
            kinds = list(times)
            for kind in kinds[i % len(kinds):] + kinds[:i % len(kinds)]:  # rotate: no order bias
                db = f"bench_{kind}_{i}"
                server.query(f'CREATE DATABASE "{db}"')
                url = f"{server.url}/write"
                params = {"db": db, "precision": "u"}
                t = time.perf_counter()
                if kind.startswith("store"):
                    store = InfluxV1Store(server.url, db, batch_size=batch, create_database=False,
                                          gzip=kind == "store_gzip")
                    store.write_readings(readings)
                    store.close()
                elif kind == "raw":
                    for body in bodies:
                        session.post(url, params=params, data=body.encode()).raise_for_status()
                else:
                    for body in bodies:
                        session.post(url, params=params, data=gzip.compress(body.encode(), 1),
                                     headers={"Content-Encoding": "gzip"}).raise_for_status()
                times[kind].append(time.perf_counter() - t)
                count = server.query('SELECT count("t_us") FROM "readings"', db=db)
                n = count["results"][0]["series"][0]["values"][0][1]
                assert n == len(readings), (kind, n)
                server.query(f'DROP DATABASE "{db}"')
    finally:
        server.stop()
    return times


def report(name: str, n: int, ours: list[float], base: list[float], base_name: str) -> None:
    a, b = n / statistics.median(ours), n / statistics.median(base)
    print(f"{name:<9} store {a:>11,.0f} points/s   {base_name:<22} {b:>11,.0f} points/s   "
          f"ratio {a / b:.2f}  (goal >= 0.80)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    readings = make_readings(args.readings)
    n = len(readings)
    print(f"{n} readings ({N_METERS} meters × {len(POINTS)} points), {args.repeats} runs each, "
          "medians:")
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-") as tmp:
        store_t, raw_t, conv_t = bench_sqlite(readings, args.repeats, Path(tmp))
        report("sqlite", n, store_t, raw_t, "raw executemany")
        with_conv = [r + c for r, c in zip(raw_t, conv_t, strict=True)]
        report("sqlite", n, store_t, with_conv, "raw + tuple building")
        influx = bench_influx(readings, args.repeats, Path(tmp))
        if influx:
            report("influx", n, influx["store"], influx["raw"], "raw POST")
            report("influx+gz", n, influx["store_gzip"], influx["raw_gzip"], "raw POST (gzip)")


if __name__ == "__main__":
    main()
