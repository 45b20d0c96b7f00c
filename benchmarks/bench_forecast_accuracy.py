"""Backtest figures of the note (docs/forecasting.md): rolling origin at 7, 30 and 90 days, three
origins each, for the model and both baselines, on the BDG2 sample and the simulator's two-year
series.

Run: ``.venv/bin/python benchmarks/bench_forecast_accuracy.py``

BDG2 (tests/data/bdg2_daily_sample.csv, two buildings, 2016-01-01 … 2016-09-29, Monday–Friday
working week, no weather). Simulator (collectors/simulator/profile.py ``history_readings``, the
demo's gov01-main electricity and gov01-water meters, hourly 2025-01-01 … 2026-11-30, into a
temporary SQLite store, with sample_data/weather.csv imported): through ``forecast_year``.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collectors.simulator.profile import history_readings
from forecasting import forecast_year
from forecasting.backtest import backtest_series
from forecasting.settings import ForecastingSettings
from forecasting.weather import import_weather
from jieneng.settings import load_settings
from storage import open_store

ROOT = Path(__file__).resolve().parents[1]
HORIZONS = [7, 30, 90]
METRICS = ("mape_pct", "smape_pct", "cv_rmse_pct", "nmbe_pct")


def show(name: str, backtest: dict) -> None:
    for h in HORIZONS:
        entry = backtest[str(h)]
        if "reason" in entry:
            print(f"{name:<28} {h:>3} d  {entry['reason']}")
            continue
        cells = []
        for arm in ("model", "seasonal_naive", "degree_day"):
            m = entry[arm]
            cells.append(f"{m['mape_pct']:5.2f} / {m['cv_rmse_pct']:5.2f} / {m['nmbe_pct']:+6.2f}")
        ratio = entry["model"]["mape_pct"] / entry["seasonal_naive"]["mape_pct"]
        print(f"{name:<28} {h:>3} d  " + "   ".join(cells) + f"   model/naive {ratio:4.2f}")


def main() -> None:
    fc = ForecastingSettings()
    print("MAPE % / CV(RMSE) % / NMBE % (ASHRAE G14, p = 0)   for model   seasonal-naive   "
          "degree-day")
    data = pd.read_csv(ROOT / "tests" / "data" / "bdg2_daily_sample.csv",
                       parse_dates=["timestamp"]).iloc[:-1]
    for building in ("building_1", "building_2"):
        frame = pd.DataFrame({"ds": data["timestamp"], "y": data[building].astype(float)})
        frame["workday"] = (frame["ds"].dt.day_of_week < 5).astype(float)
        show(f"BDG2 {building}", backtest_series(
            frame, ["workday"], HORIZONS, 3, fc.min_history_days, True,
            changepoint_prior_scale=fc.changepoint_prior_scale))
    tz = ZoneInfo("Asia/Shanghai")
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
        (tmp / "demo.toml").write_text(text.replace("../var/demo/", f"{tmp}/"), encoding="utf-8")
        settings = load_settings(tmp / "demo.toml")
        settings.meters = [m for m in settings.meters if m.id in ("gov01-main", "gov01-water")]
        settings.forecasting.executor = "serial"
        settings.forecasting.cache_path = Path("")
        store = open_store(settings)
        try:
            store.write_readings(history_readings(
                settings, dt.datetime(2025, 1, 1, tzinfo=tz), dt.datetime(2026, 12, 1, tzinfo=tz),
                3600.0, points=["energy_import_kwh", "volume_m3"]))
            import_weather(ROOT / "sample_data" / "weather.csv", store)
            result = forecast_year(settings, 2026, store=store)
        finally:
            store.close()
        for s in result.series:
            show(f"simulator {s.institution_id} {s.carrier}", s.backtest)


if __name__ == "__main__":
    main()
