"""Accuracy: 30-day rolling-origin backtests on real data (BDG2 sample) and on the simulator's
two-year series. Goal (issue 11): the model's MAPE ≤ 0.8 × seasonal-naive's and no worse than the
degree-day regression's. Each test asserts what the data show; a goal not met is said so here
and in the package's note, never hidden.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from collectors.simulator.profile import history_readings
from forecasting import forecast_year
from forecasting.backtest import backtest_series
from forecasting.settings import ForecastingSettings
from forecasting.weather import import_weather
from jieneng.settings import load_settings
from storage import open_store

ROOT = Path(__file__).resolve().parents[2]
BDG2 = ROOT / "tests" / "data" / "bdg2_daily_sample.csv"
TZ = ZoneInfo("Asia/Shanghai")


def _bdg2(building: str) -> dict:
    data = pd.read_csv(BDG2, parse_dates=["timestamp"]).iloc[:-1]  # last row: a partial day
    frame = pd.DataFrame({"ds": data["timestamp"], "y": data[building].astype(float)})
    frame["workday"] = (frame["ds"].dt.day_of_week < 5).astype(float)  # location unknown
    defaults = ForecastingSettings()
    result = backtest_series(frame, ["workday"], [30], 3, defaults.min_history_days, True,
                             changepoint_prior_scale=defaults.changepoint_prior_scale)["30"]
    return {name: result[name]["mape_pct"] for name in ("model", "seasonal_naive",
                                                        "degree_day")}


def test_bdg2_building_2_meets_both_goals():
    mape = _bdg2("building_2")  # measured: model 2.8 %, seasonal-naive 4.2 %, degree-day 6.4 %
    assert mape["model"] <= 0.8 * mape["seasonal_naive"]
    assert mape["model"] <= mape["degree_day"]


def test_bdg2_building_1_beats_seasonal_naive_but_not_the_degree_day_regression():
    """Goal not met: on building 1 the working-day regression (no weather exists for the sample)
    beats Prophet at 30 days (measured: model 2.5 %, seasonal-naive 3.5 %, degree-day 2.2 %).
    The building's load is flat apart from the working week, and nine months give Prophet no
    yearly seasonality to learn; its trend costs it the difference."""
    mape = _bdg2("building_1")
    assert mape["model"] <= 0.8 * mape["seasonal_naive"]
    assert mape["model"] > mape["degree_day"]  # the goal is NOT met here (see the docstring)
    assert mape["model"] <= 1.25 * mape["degree_day"]


@pytest.mark.slow
def test_simulator_two_year_series_meets_both_goals(tmp_path):
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    (tmp_path / "demo.toml").write_text(text.replace("../var/demo/", f"{tmp_path}/"),
                                        encoding="utf-8")
    settings = load_settings(tmp_path / "demo.toml")
    settings.meters = [m for m in settings.meters if m.id in ("gov01-main", "gov01-water")]
    settings.forecasting.executor = "serial"
    settings.forecasting.samples = 50
    settings.forecasting.backtest_horizons_days = [30]
    settings.forecasting.cache_path = Path("")
    store = open_store(settings)
    try:
        store.write_readings(history_readings(
            settings, dt.datetime(2025, 1, 1, tzinfo=TZ), dt.datetime(2026, 12, 1, tzinfo=TZ),
            3600.0, points=["energy_import_kwh", "volume_m3"]))
        import_weather(ROOT / "sample_data" / "weather.csv", store)
        result = forecast_year(settings, 2026, store=store)
    finally:
        store.close()
    assert len(result.series) == 2
    for s in result.series:
        assert "degree-days" in s.reason
        mape = {k: v["mape_pct"] for k, v in s.backtest["30"].items() if isinstance(v, dict)}
        assert mape["model"] <= 0.8 * mape["seasonal_naive"], (s.carrier, mape)
        assert mape["model"] <= mape["degree_day"], (s.carrier, mape)
