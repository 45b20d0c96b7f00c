"""Benchmark: fitting many daily series — serial vs processes vs a Dask LocalCluster, our
per-series cost vs a bare Prophet fit, and a cached rerun vs the first run.

Run: ``.venv/bin/python benchmarks/bench_forecasting.py [--series 200] [--quick] [--repeats 1]``

Data (built before timing, seeded): N institutions × 3 years (2024-01-01 … 2026-11-30) of daily
electricity with a working-day effect (chinese-calendar: holidays and 调休), a winter and a
summer peak and noise; a weather series (Jinan-like temperature) for the degree-day regressors.
Each series becomes the task ``forecast_year`` builds (:func:`forecasting.api.daily_task`:
working day, HDD and CDD as regressors, sample paths for the rest of 2026). The backtests are
switched off (``backtest_cutoffs = 0``) so that every arm fits each series exactly once.

(a) serial: :func:`forecasting.parallel.run_tasks` with executor "serial";
(b) processes: the same with a pool of one process per core;
(c) Dask: the same on a ``distributed.LocalCluster`` (one single-threaded worker process per
    core; the cluster's start is timed separately and not counted);
(d) bare Prophet: ``Prophet().fit(df).predict(future)`` on the same series and dates (Prophet's
    defaults: no regressors, 1000 uncertainty samples in ``predict``), serial;
(e) a cached rerun: :func:`forecasting.api._run` with a disk cache, first run vs second.

Prints the wall time of each, the median per series, and the ratios. Goals (issue 11):
parallel speed-up ≥ 0.8 × cores; our per-series time ≤ 1.2 × the bare fit; a cached rerun ≥ 20×
faster than the first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import chinese_calendar
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecasting import models
from forecasting.api import _regressor_frame, _run, daily_task
from forecasting.cache import ForecastCache
from forecasting.calendar import load_calendar
from forecasting.parallel import run_tasks
from forecasting.series import DailySeries
from forecasting.settings import ForecastingSettings
from forecasting.task import run_task
from forecasting.weather import weather_frame

FIRST, LAST, YEAR = dt.date(2024, 1, 1), dt.date(2026, 11, 30), 2026


def build(n: int, fc: ForecastingSettings) -> list:
    days = pd.date_range(FIRST, LAST)
    rng = np.random.default_rng(2026)
    work = np.array([chinese_calendar.is_workday(d.date()) for d in days], dtype=float)
    doy = days.day_of_year.to_numpy()
    season = 1.0 + 0.2 * np.cos(4 * np.pi * (doy - 20) / 365.25)
    all_days = pd.date_range(FIRST, dt.date(YEAR + 1, 12, 31))
    t = 13.5 - 14 * np.cos(2 * np.pi * (all_days.day_of_year.to_numpy() - 15) / 365.25)
    observed = pd.Series(t[: len(days)] + rng.normal(0, 2.5, len(days)), index=days)
    regressors = _regressor_frame(load_calendar("CN", None),
                                  weather_frame(observed, all_days, fc.hdd_base_c,
                                                fc.cdd_base_c), all_days)
    tasks = []
    for i in range(n):
        size = rng.uniform(300, 3000)
        y = size * season * (0.45 + 0.55 * work) * (1 + 0.04 * rng.standard_normal(len(days)))
        frame = pd.DataFrame({"ds": days, "quantity": y, "coverage": 1.0,
                              "estimated_share": 0.0, "known": True, "estimated": False, "y": y})
        series = DailySeries(f"inst{i:04d}", "electricity", "kWh", "purchased", frame)
        tasks.append(daily_task(series, YEAR, regressors, fc, None))
    return tasks


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - started, out


def bare(tasks) -> list[float]:
    prophet = models._prophet_class()
    times = []
    for task in tasks:
        history = task.frame.dropna(subset=["y"])[["ds", "y"]]
        future = pd.DataFrame({"ds": pd.concat([history["ds"], pd.Series(task.display)])})
        started = time.perf_counter()
        with models.prophet_warnings():
            prophet().fit(history).predict(future)
        times.append(time.perf_counter() - started)
    return times


def ours(tasks) -> list[float]:
    times = []
    for task in tasks:
        started = time.perf_counter()
        run_task(task)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 series")
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    n = 40 if args.quick else args.series
    cores = args.workers or os.cpu_count() or 1
    fc = ForecastingSettings(backtest_cutoffs=0, executor="serial")
    tasks = build(n, fc)
    run_task(tasks[0])  # warm up: import Prophet and compile nothing twice
    print(f"{n} series × {len(tasks[0].frame.dropna(subset=['y']))} days, {cores} core(s), "
          f"{fc.samples} sample paths, regressors {tasks[0].regressors}")

    per_ours = ours(tasks)
    per_bare = bare(tasks)
    t_serial = sum(per_ours)
    t_proc, out_proc = timed(run_tasks, tasks, "processes", cores)
    import distributed

    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # shutdown chatter
    t_start, cluster = timed(distributed.LocalCluster, n_workers=cores, threads_per_worker=1,
                             processes=True, dashboard_address=None)
    client = distributed.Client(cluster)
    client.run(models._prophet_class)  # import Prophet in every worker before timing
    t_dask, out_dask = timed(run_tasks, tasks, "dask", cores, client=client)
    client.close()
    cluster.close()
    same = all(a.forecast.equals(b.forecast) and np.array_equal(a.samples, b.samples)
               for a, b in zip(out_proc, out_dask, strict=True))

    with tempfile.TemporaryDirectory() as folder:
        cache = ForecastCache(Path(folder))
        t_first, _ = timed(_run, tasks, fc, cache, None, None)
        t_second, (_, fitted) = timed(_run, tasks, fc, cache, None, None)

    med_ours, med_bare = statistics.median(per_ours), statistics.median(per_bare)
    print(f"(a) serial            {t_serial:8.1f} s   median {med_ours * 1000:7.0f} ms/series")
    print(f"(b) processes         {t_proc:8.1f} s   speed-up {t_serial / t_proc:5.2f}× "
          f"(goal ≥ {0.8 * cores:.1f}×)")
    print(f"(c) Dask LocalCluster {t_dask:8.1f} s   speed-up {t_serial / t_dask:5.2f}× "
          f"(cluster start {t_start:.1f} s, not counted); results identical to (b): {same}")
    print(f"(d) bare Prophet      {sum(per_bare):8.1f} s   median {med_bare * 1000:7.0f} ms/series;"
          f" ours / bare = {med_ours / med_bare:4.2f} (goal ≤ 1.2)")
    print(f"(e) cache: first run  {t_first:8.1f} s, rerun {t_second:6.3f} s ({fitted} refitted):"
          f" {t_first / t_second:6.0f}× faster (goal ≥ 20×)")


if __name__ == "__main__":
    main()
