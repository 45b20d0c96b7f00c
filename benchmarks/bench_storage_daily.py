"""Benchmark: a year of daily counters for 100 meters, from rollups against the raw aggregation.

Run: ``.venv/bin/python benchmarks/bench_storage_daily.py [--meters 100] [--repeats 5] [--quick]
[--backend all|sqlite|influx]``

Setup (not timed): 100 meters × 35 136 readings (2024, a leap year, every 15 minutes) of
``energy_import_kwh`` with random increments, a few resets and ~2 % invalid readings, written
through the store with ``write_frame`` (rollups kept current as they arrive). Days are cut in
Europe/Berlin (a zone with DST, the harder case). ``--quick``: 20 meters, 3 repeats.

Timed, per backend, alternating which runs first (medians):

* (1) ``store.daily_counters(start, end)`` (the daily rollups) against
  ``store.raw_daily_counters(start, end)`` (the raw aggregation it replaces: one SQL statement over
  the raw readings, or the InfluxQL ``GROUP BY time(1d)`` queries); both answers must be equal.
  Goal: ≥ 50 × faster.
* (2) ``store.daily_counters`` against a bare read of a table of the same size: ``SELECT *`` of a
  plain SQLite table holding the same 36 600 rows fetched as tuples, or an InfluxQL ``SELECT``
  of the ``rollup_daily`` measurement POSTed with ``requests`` and parsed from JSON.
  Goal: ≤ 2 ×.
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

from storage.influx_v1 import InfluxV1Store
from storage.sqlite import SqliteStore

ZONE = "Europe/Berlin"
START = datetime(2023, 12, 31, 23, 0, tzinfo=UTC)  # 2024-01-01 00:00 in Berlin
END = datetime(2024, 12, 31, 23, 0, tzinfo=UTC)
STEP = timedelta(minutes=15)
KEYS = ["meter", "point", "day"]


def meter_frame(m: int) -> pd.DataFrame:
    """A year of one meter's 15-minute counter readings."""
    n = int((END - START) / STEP)
    rng = np.random.default_rng(m)
    steps = rng.uniform(0, 3, n)
    value = rng.uniform(0, 1e5) + np.cumsum(steps)
    resets = np.flatnonzero(rng.random(n) < 0.0005)
    for r in resets:  # a reset to 0: the counter counts again from there
        value[r:] -= value[r]
    value = np.round(value, 2)
    invalid = rng.random(n) < 0.02
    return pd.DataFrame({
        "meter": f"meter-{m:03d}", "point": "energy_import_kwh",
        "time": pd.date_range(START, periods=n, freq=STEP),
        "value": np.where(invalid, np.nan, value),
        "quality": np.where(invalid, "invalid", "good"),
    })


def timed(fn: Callable[[], pd.DataFrame | int]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def compare(label: str, ours: Callable, other: Callable, repeats: int,
            check: Callable[[object, object], None], goal: str) -> float:
    a_times, b_times = [], []
    for i in range(repeats):
        if i % 2:
            tb, b = timed(other)
            ta, a = timed(ours)
        else:
            ta, a = timed(ours)
            tb, b = timed(other)
        check(a, b)
        a_times.append(ta)
        b_times.append(tb)
    a_med, b_med = statistics.median(a_times), statistics.median(b_times)
    print(f"{label:<58} {a_med * 1000:>9.1f} ms vs {b_med * 1000:>9.1f} ms   {goal}")
    return a_med / b_med


def same_frames(a: object, b: object) -> None:
    assert isinstance(a, pd.DataFrame)
    assert isinstance(b, pd.DataFrame)
    x = a.sort_values(KEYS).reset_index(drop=True)
    y = b.sort_values(KEYS).reset_index(drop=True)
    assert len(x) == len(y), (len(x), len(y))
    assert list(x["day"]) == list(y["day"])
    assert np.allclose(x["delta_sum"].astype(float), y["delta_sum"].astype(float), rtol=1e-9)
    assert (x["n_readings"].to_numpy() == y["n_readings"].to_numpy()).all()


def same_size(a: object, b: object) -> None:
    assert isinstance(a, pd.DataFrame)
    assert len(a) == b, (len(a), b)


def report(backend: str, raw_ratio: float, bare_ratio: float) -> None:
    print(f"{backend:<7} daily counters from rollups: {1 / raw_ratio:,.0f}× faster than the raw "
          f"aggregation (goal >= 50×); {bare_ratio:.2f}× a bare read of as many rows "
          "(goal <= 2×)")


def bench_sqlite(n_meters: int, repeats: int, tmp: Path) -> None:
    path = tmp / "bench.sqlite"
    store = SqliteStore(path, ZONE)
    t = time.perf_counter()
    n = sum(store.write_frame(meter_frame(m)) for m in range(n_meters))
    print(f"sqlite: wrote {n} readings (rollups kept current) in {time.perf_counter() - t:.1f} s")
    rows = [tuple(r) for r in store.daily_counters(START, END).itertuples(index=False)]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("CREATE TABLE bare (meter TEXT, point TEXT, day TEXT, first_t TEXT, "
                 "first_value REAL, last_t TEXT, last_value REAL, delta_sum REAL, n INTEGER)")
    conn.executemany("INSERT INTO bare VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     [tuple(str(x) if i in (2, 3, 5) else x for i, x in enumerate(r))
                      for r in rows])
    conn.commit()
    raw = compare(f"sqlite  daily_counters vs raw_daily_counters ({len(rows)} rows)",
                  lambda: store.daily_counters(START, END),
                  lambda: store.raw_daily_counters(START, END), repeats, same_frames,
                  "(goal: >= 50× faster)")
    bare = compare("sqlite  daily_counters vs bare SELECT of a same-size table",
                   lambda: store.daily_counters(START, END),
                   lambda: len(conn.execute("SELECT * FROM bare").fetchall()), repeats * 3,
                   same_size, "(goal: <= 2×)")
    report("sqlite", raw, bare)
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
        store = InfluxV1Store(server.url, "bench", ZONE, batch_size=20_000, timeout_s=300,
                              gzip=False)
        t = time.perf_counter()
        n = sum(store.write_frame(meter_frame(m)) for m in range(n_meters))
        print(f"influx: wrote {n} readings (rollups kept current) in "
              f"{time.perf_counter() - t:.1f} s")
        session = requests.Session()
        q = ('SELECT "first_t_us", "first_value", "last_t_us", "last_value", "delta_sum", '
             '"n_readings" FROM "rollup_daily" WHERE time >= \'2023-12-31T23:00:00Z\' AND '
             'time < \'2024-12-31T23:00:00Z\' AND "n_readings" > 0 GROUP BY "meter", "point"')

        def bare() -> int:
            answer = session.post(f"{server.url}/query", timeout=300, params={
                "db": "bench", "q": q, "epoch": "u"}).json()
            return sum(len(s["values"]) for s in answer["results"][0].get("series", []))

        rows = len(store.daily_counters(START, END))
        raw = compare(f"influx  daily_counters vs raw_daily_counters ({rows} rows)",
                      lambda: store.daily_counters(START, END),
                      lambda: store.raw_daily_counters(START, END), repeats, same_frames,
                      "(goal: >= 50× faster)")
        bare_ratio = compare("influx  daily_counters vs bare InfluxQL SELECT of as many rows",
                             lambda: store.daily_counters(START, END), bare, repeats * 3,
                             same_size, "(goal: <= 2×)")
        report("influx", raw, bare_ratio)
        store.close()
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="20 meters, 3 repeats")
    parser.add_argument("--backend", choices=["all", "sqlite", "influx"], default="all")
    args = parser.parse_args()
    if args.quick:
        args.meters, args.repeats = 20, 3
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-") as tmp:
        if args.backend in ("all", "sqlite"):
            bench_sqlite(args.meters, args.repeats, Path(tmp))
        if args.backend in ("all", "influx"):
            bench_influx(args.meters, args.repeats, Path(tmp))


if __name__ == "__main__":
    main()
