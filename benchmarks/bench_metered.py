"""Benchmark: a city's metered consumption per month, all meters at once vs one meter at a time.

Run: ``.venv/bin/python benchmarks/bench_metered.py [--meters 5000] [--days 365] [--repeats 3]
[--quick]``

Setup (not timed, seeded): a SQLite store (a temporary folder) with N counter meters (default
5 000: 500 institutions × 10 meters, nine electricity meters and a water meter each) of hourly
readings over ``--days`` days from 1 January 2025 (Asia/Shanghai), written with
``store.write_frame`` (columnar frames, rollups kept current). A few meters are irregular: one
16-bit register wraps, one meter is reset to 0, one has a reading far off its path, one goes back
and stays there; and one has a gap (the collector was down for four days). ``--quick``: 500 meters ×
90 days.

Timed in the same run on the same store and the same bins (the 12 month edges of 2025), medians
of ``--repeats``, alternating which runs first:

(a) ``accounting.metered.metered_bins``: every meter at once (numpy over one frame sorted by meter
    and time; only the irregular meters go through the per-meter counter walk);
(b) ``accounting.metered.metered_bins_per_meter``: the reference, a Python loop over the meters
    (daily_observations → interval_consumption → allocate per meter);

both include reading the store's daily aggregates, and their two results (bins per meter, findings)
must be equal (``pandas.testing.assert_frame_equal``, exact). Printed beside them: (c) the
``store.daily_counters`` read alone, so that the reader sees what is reading and what is arithmetic.
Prints the medians and the ratio (b)/(a).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from accounting.metered import metered_bins, metered_bins_per_meter, month_edges
from jieneng.settings import Settings
from storage import open_store

YEAR = 2025
ZONE = "Asia/Shanghai"
PER_INSTITUTION = 10
WRITE_METERS = 100  # meters per write_frame call
MARGIN = timedelta(days=31)  # what metered_bins reads beyond the edges


def city_settings(base: Path, n_meters: int) -> Settings:
    """N meters, ten per institution (one gateway each): nine electricity meters, one water."""
    meters = []
    for i in range(n_meters):
        inst, k = divmod(i, PER_INSTITUTION)
        water = k == PER_INSTITUTION - 1
        meters.append({
            "id": f"m{i:05d}", "gateway": f"gw{inst:04d}", "device_id": k + 1,
            "model": "tuf2000m" if water else "chint_dtsu666", "institution": f"inst{inst:04d}",
            "building": f"inst{inst:04d}-main", "carrier": "water" if water else "electricity",
            "subitem": "02000" if water else ("01000" if k == 0 else "01A00"),
            "poll_interval_s": 3600.0,
        })
    s = Settings.model_validate({
        "site": {"name": "bench", "province": "shandong", "region_code": "370100",
                 "timezone": ZONE},
        "storage": {"sqlite": {"path": "store.sqlite"}},
        "gateways": [{"id": f"gw{g:04d}", "protocol": "tcp", "host": "127.0.0.1"}
                     for g in range((n_meters - 1) // PER_INSTITUTION + 1)],
        "meters": meters,
        "accounting": {"ledger_path": "ledgers.sqlite"},
    })
    s.base_dir = base
    return s


def meter_frame(settings: Settings, i: int, times: pd.DatetimeIndex) -> pd.DataFrame:
    """One meter's hourly readings: random rises; meters 0-4 irregular (see the docstring)."""
    meter = settings.meters[i]
    rng = np.random.default_rng(i)
    n = len(times)
    water = str(meter.carrier) == "water"
    rises = rng.uniform(0, 2 if water else 40, n)
    values = rng.uniform(0, 5e4) + np.cumsum(rises)
    keep = np.ones(n, dtype=bool)
    if i == 0:  # a 16-bit register at 0.1 kWh: wraps at 6553.6 every week or so
        values = (values % 6553.6).round(1)
    elif i == 1:  # reset to 0 a third of the way through
        values[n // 3:] -= values[n // 3]
    elif i == 2:  # a reading far off the path
        values[n // 2] = 9e8
    elif i == 3:  # the counter goes back and stays there
        values[2 * n // 3:] -= 1e4
    elif i == 4:  # the collector down for four days
        keep[n // 4:n // 4 + 96] = False
    return pd.DataFrame({
        "meter": meter.id, "point": "volume_m3" if water else "energy_import_kwh",
        "time": times[keep], "value": values[keep],
    })


def build_store(settings: Settings, days: int):
    start = pd.Timestamp(f"{YEAR}-01-01", tz=ZONE).tz_convert("UTC")
    times = pd.date_range(start, periods=days * 24, freq="h")
    store = open_store(settings)
    t = time.perf_counter()
    written = 0
    n = len(settings.meters)
    for lo in range(0, n, WRITE_METERS):
        frame = pd.concat([meter_frame(settings, i, times) for i in range(lo, min(lo + WRITE_METERS, n))],
                          ignore_index=True)
        written += store.write_frame(frame)
        done = min(lo + WRITE_METERS, n)
        if done % 1000 == 0 or done == n:
            print(f"  {done} meters written ({written:,} readings, {time.perf_counter() - t:.0f} s)",
                  flush=True)
    return store, written, time.perf_counter() - t


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def same_result(a: object, b: object) -> None:
    assert isinstance(a, tuple)
    assert isinstance(b, tuple)
    assert_frame_equal(a[0], b[0], check_exact=True)
    assert_frame_equal(a[1], b[1], check_exact=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=5000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="500 meters × 90 days")
    args = parser.parse_args()
    if args.quick:
        args.meters, args.days = 500, 90
    with tempfile.TemporaryDirectory(prefix="jieneng-bench-") as tmp:
        settings = city_settings(Path(tmp), args.meters)
        print(f"building the store: {args.meters} meters × {args.days} days of hourly readings")
        store, written, seconds = build_store(settings, args.days)
        print(f"wrote {written:,} readings in {seconds:.0f} s")
        try:
            edges = month_edges(YEAR, settings)
            ids = [m.id for m in settings.meters]
            points = ["energy_import_kwh", "volume_m3"]

            def read():
                return store.daily_counters(edges[0].to_pydatetime() - MARGIN,
                                            edges[-1].to_pydatetime() + MARGIN,
                                            meters=ids, points=points)

            rows = len(read())
            fast_times, slow_times, read_times = [], [], []
            findings = 0
            for r in range(args.repeats):
                runs = [("fast", lambda: metered_bins(store, settings, edges)),
                        ("slow", lambda: metered_bins_per_meter(store, settings, edges))]
                out = {}
                for name, fn in runs if r % 2 == 0 else runs[::-1]:
                    seconds, out[name] = timed(fn)
                    (fast_times if name == "fast" else slow_times).append(seconds)
                same_result(out["fast"], out["slow"])
                findings = len(out["fast"][1])
                read_times.append(timed(read)[0])
        finally:
            store.close()
    fast, slow, reading = (statistics.median(x) for x in (fast_times, slow_times, read_times))
    print(f"{args.meters} meters × {args.days} days, 12 months, {rows:,} daily rows, "
          f"{findings} findings; medians of {args.repeats}:")
    print(f"  (a) metered_bins, all meters at once:      {fast:8.2f} s")
    print(f"  (b) metered_bins_per_meter, the reference: {slow:8.2f} s")
    print(f"  (c) store.daily_counters read alone:       {reading:8.2f} s")
    print(f"  (b)/(a) = {slow / fast:.1f}×; (a) without the read ≈ {max(fast - reading, 0):.2f} s; "
          f"results equal")


if __name__ == "__main__":
    main()
