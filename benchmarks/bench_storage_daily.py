"""Benchmark: daily aggregation of 100 meters × one year of 15-minute readings.

Run: ``.venv/bin/python benchmarks/bench_storage_daily.py [--meters 100] [--repeats 5]``

Setup (not timed): 100 meters × 35 136 readings (2024, a leap year, every 15 minutes) of
``energy_import_kwh`` with random increments, a few resets and ~2 % invalid readings, written
through the store. Days are cut in Europe/Berlin (a zone with DST, the harder case).

Timed, per backend, alternating which runs first:

* (a) the store's call: ``store.daily_counters(start, end)`` and ``store.daily_gauges(start, end)``,
  returning pandas frames with dates, UTC times and meter names;
* (b) the direct query it stands for: the same SQL text (``SqliteStore.daily_counters_sql``) run
  with ``sqlite3`` and fetched as raw rows, or the same InfluxQL (``daily_counters_query``) POSTed
  with ``requests`` and parsed from JSON.

Both answers are checked to have the same number of meter-days. Prints medians and the ratio
(a)/(b). Goal: (a) ≤ 1.3 × (b).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import requests

from storage.base import Reading
from storage.influx_v1 import InfluxV1Store
from storage.periods import to_us
from storage.sqlite import SqliteStore

ZONE = "Europe/Berlin"
START = datetime(2023, 12, 31, 23, 0, tzinfo=UTC)  # 2024-01-01 00:00 in Berlin
END = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)


def readings(n_meters: int) -> Iterator[Reading]:
    n = int((END - START) / STEP)
    for m in range(n_meters):
        rng = random.Random(m)
        value = rng.uniform(0, 1e5)
        meter = f"meter-{m:03d}"
        for k in range(n):
            t = START + k * STEP
            if rng.random() < 0.0005:
                value = 0.0
            value += rng.uniform(0, 3)
            if rng.random() < 0.02:
                yield Reading(meter, "energy_import_kwh", t, None, "invalid")
            else:
                yield Reading(meter, "energy_import_kwh", t, round(value, 2))


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    t = time.perf_counter()
    rows = fn()
    return time.perf_counter() - t, rows


def compare(name: str, ours: dict[str, Callable[[], int]], direct: dict[str, Callable[[], int]],
            repeats: int) -> None:
    for what in ours:
        a_times, b_times = [], []
        for i in range(repeats):
            if i % 2:  # alternate which runs first
                tb, rows_b = timed(direct[what])
                ta, rows_a = timed(ours[what])
            else:
                ta, rows_a = timed(ours[what])
                tb, rows_b = timed(direct[what])
            assert rows_a == rows_b, (what, rows_a, rows_b)
            a_times.append(ta)
            b_times.append(tb)
        a, b = statistics.median(a_times), statistics.median(b_times)
        print(f"{name:<7} {what:<15} store {a * 1000:>8.0f} ms   direct query {b * 1000:>8.0f} ms"
              f"   ratio {a / b:.2f}  (goal <= 1.30)   [{rows_a} meter-days]")


def bench_sqlite(n_meters: int, repeats: int, tmp: Path) -> None:
    path = tmp / "bench.sqlite"
    store = SqliteStore(path, ZONE)
    t = time.perf_counter()
    n = store.write_readings(readings(n_meters))
    print(f"sqlite: wrote {n} readings in {time.perf_counter() - t:.1f} s")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # both read the main file, not the WAL
    s_us, e_us = to_us(START), to_us(END)

    def direct(sql_of: Callable[..., tuple[str, list]]) -> Callable[[], int]:
        return lambda: len(conn.execute(*sql_of(s_us, e_us, None, None)).fetchall())

    compare("sqlite", {
        "daily_counters": lambda: len(store.daily_counters(START, END)),
        "daily_gauges": lambda: len(store.daily_gauges(START, END)),
    }, {
        "daily_counters": direct(store.daily_counters_sql),
        "daily_gauges": direct(store.daily_gauges_sql),
    }, repeats)
    conn.close()
    store.close()


def bench_influx(n_meters: int, repeats: int, tmp: Path) -> None:
    from tests.support.influx import InfluxServer

    binary = shutil.which("influxd")
    if binary is None:
        print("influxd not found (Debian's influxdb): InfluxDB part skipped")
        return
    (tmp / "influxd").mkdir()
    server = InfluxServer(binary, tmp / "influxd")
    server.start()
    try:
        store = InfluxV1Store(server.url, "bench", ZONE, batch_size=20_000, timeout_s=300)
        t = time.perf_counter()
        n = store.write_readings(readings(n_meters))
        print(f"influx: wrote {n} readings in {time.perf_counter() - t:.1f} s")
        s_us, e_us = to_us(START), to_us(END)
        session = requests.Session()

        def direct(query_of: Callable[..., str]) -> Callable[[], int]:
            def run() -> int:
                q = query_of(s_us, e_us, None, None)
                answer = session.post(f"{server.url}/query", timeout=300, params={
                    "db": "bench", "q": q, "epoch": "u"}).json()
                return sum(len(s["values"]) for s in answer["results"][0].get("series", []))
            return run

        compare("influx", {
            "daily_counters": lambda: len(store.daily_counters(START, END)),
            "daily_gauges": lambda: len(store.daily_gauges(START, END)),
        }, {
            "daily_counters": direct(store.daily_counters_query),
            "daily_gauges": direct(store.daily_gauges_query),
        }, repeats)
        store.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=["all", "sqlite", "influx"], default="all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-") as tmp:
        if args.backend in ("all", "sqlite"):
            bench_sqlite(args.meters, args.repeats, Path(tmp))
        if args.backend in ("all", "influx"):
            bench_influx(args.meters, args.repeats, Path(tmp))


if __name__ == "__main__":
    main()
