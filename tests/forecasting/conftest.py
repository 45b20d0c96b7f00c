"""Helpers of the forecasting tests: a deployment with an SQLite store and synthetic meters."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import numpy as np
import pandas as pd
import pytest

from jieneng.settings import Settings
from storage import Reading, open_store

TZ = ZoneInfo("Asia/Shanghai")
#: Readings every 6 hours (poll interval 6 h, so they are not gaps).
STEP_H = 6


def deployment(tmp_path: Path, meters: list[dict], **forecasting) -> Settings:
    """Settings of a small deployment in ``tmp_path``: SQLite store, ledgers, the meters given
    (each: id, institution, carrier, subitem), serial executor, few samples, cache in tmp."""
    base = {"gateway": "gw", "model": "chint_dtsu666", "building": "b1",
            "poll_interval_s": STEP_H * 3600.0}
    points = {"water": "tuf2000m"}
    settings = Settings.model_validate({
        "site": {"name": "t", "province": "shandong", "region_code": "370100"},
        "storage": {"sqlite": {"path": "store.sqlite"}},
        "gateways": [{"id": "gw", "protocol": "tcp", "host": "127.0.0.1"}],
        "meters": [{**base, "device_id": i + 1,
                    "model": points.get(m["carrier"], base["model"]), **m}
                   for i, m in enumerate(meters)],
        "accounting": {"ledger_path": "ledgers.sqlite"},
        "forecasting": {"executor": "serial", "samples": 50, "backtest_cutoffs": 1,
                        "backtest_horizons_days": [7, 30], "cache_path": "cache",
                        **forecasting},
    })
    settings.base_dir = tmp_path
    return settings


def counter_readings(meter: str, point: str, days: pd.DatetimeIndex, daily: np.ndarray,
                     start_value: float = 1000.0, skip: set[pd.Timestamp] | frozenset = frozenset(),
                     reset_on: pd.Timestamp | None = None) -> list[Reading]:
    """Counter readings every 6 h whose daily rise is ``daily`` (spread evenly over the day).

    ``skip``: days without any reading (a collector outage); ``reset_on``: the meter is
    replaced at that day's midnight and counts again from 0.
    """
    out = []
    value = start_value
    per_step = STEP_H / 24
    for day, amount in zip(days, daily, strict=True):
        if reset_on is not None and day == reset_on:
            value = 0.0
        for k in range(24 // STEP_H):
            t = dt.datetime(day.year, day.month, day.day, k * STEP_H, tzinfo=TZ)
            if day not in skip:
                out.append(Reading(meter, point, t.astimezone(dt.UTC), float(value)))
            value += amount * per_step
    last = days[-1] + pd.Timedelta(days=1)
    out.append(Reading(meter, point, dt.datetime(last.year, last.month, last.day,
                                                 tzinfo=TZ).astimezone(dt.UTC), float(value)))
    return out


def office_load(days: pd.DatetimeIndex, base: float = 1000.0, noise: float = 0.03,
                seed: int = 1) -> np.ndarray:
    """A plausible office's daily electricity: working days high, weekends and holidays low,
    a winter and summer peak, a little noise. [kWh/day]"""
    rng = np.random.default_rng(seed)
    work = np.array([chinese_calendar.is_workday(d.date()) for d in days], dtype=float)
    doy = days.day_of_year.to_numpy()
    season = 1.0 + 0.2 * np.cos(4 * np.pi * (doy - 20) / 365.25)
    return base * season * (0.45 + 0.55 * work) * (1 + noise * rng.standard_normal(len(days)))


@pytest.fixture
def store_of():
    """Open (and finally close) the store of a settings object."""
    opened = []

    def open_for(settings: Settings):
        store = open_store(settings)
        opened.append(store)
        return store

    yield open_for
    for store in opened:
        store.close()
