"""Series from the store through accounting's code, and forecasts of awkward histories:
short, with gaps, estimated days, a meter replaced mid-series, a year with no data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast_year
from forecasting.series import daily_consumption, daily_series
from tests.forecasting.conftest import counter_readings, deployment, office_load

E = {"institution": "gov01", "carrier": "electricity"}


def _one(result, carrier="electricity"):
    [s] = [s for s in result.series if s.carrier == carrier]
    return s


def test_sub_item_meters_do_not_count_when_the_building_has_a_total(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "total", "subitem": "01000"},
                                     {**E, "id": "light", "subitem": "01A00"}])
    days = pd.date_range("2026-03-01", "2026-03-10")
    store = store_of(settings)
    store.write_readings(counter_readings("total", "energy_import_kwh", days, np.full(10, 240.0)))
    store.write_readings(counter_readings("light", "energy_import_kwh", days, np.full(10, 48.0)))
    daily = daily_consumption(store, settings, dt.date(2026, 3, 1), dt.date(2026, 3, 10))
    assert daily["quantity"].to_numpy() == pytest.approx(np.full(10, 240.0))
    [series] = daily_series(daily, dt.date(2026, 3, 1), dt.date(2026, 3, 12))
    assert series.history() == {"first": "2026-03-01", "last": "2026-03-10", "days": 10,
                                "estimated_days": 0}
    assert series.frame["quantity"].iloc[-2:].isna().all()  # no data: unknown, never 0


def test_a_short_history_gets_seasonal_naive_and_says_why(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "m", "subitem": "01000"}])
    days = pd.date_range("2026-10-01", "2026-10-30")
    store = store_of(settings)
    store.write_readings(counter_readings("m", "energy_import_kwh", days, office_load(days)))
    result = forecast_year(settings, 2026, store=store)
    s = _one(result)
    assert s.model == "seasonal_naive"
    assert "30 known days < 56" in s.reason
    assert result.as_of == dt.date(2026, 10, 30)
    assert s.forecast["date"].iloc[0] == pd.Timestamp("2026-10-31")  # the day after the data
    assert s.forecast["date"].iloc[-1] == pd.Timestamp("2026-12-31")
    last_week = office_load(days)[-7:]
    # same weekday a week earlier: 31 Oct (Saturday) is the value of 24 Oct
    assert s.forecast["yhat"].iloc[0] == pytest.approx(last_week[0], rel=1e-4)
    assert s.backtest["30"]["reason"].startswith("history too short")
    assert s.calendar.startswith("chinese-calendar")


def test_gaps_are_estimated_days_marked_and_left_out_of_the_fit(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "m", "subitem": "01000"}])
    days = pd.date_range("2026-05-01", "2026-08-31")
    outage = set(pd.date_range("2026-07-10", "2026-07-14"))
    store = store_of(settings)
    store.write_readings(counter_readings("m", "energy_import_kwh", days, office_load(days),
                                          skip=outage))
    result = forecast_year(settings, 2026, store=store)
    s = _one(result)
    assert s.model == "prophet"
    assert s.history["estimated_days"] >= 5
    assert s.history["days"] == len(days)  # the gap's days are known (estimated), not missing
    assert len(s.forecast) == 122
    assert s.forecast["yhat"].notna().all()
    assert (s.forecast["yhat_lower"] <= s.forecast["yhat_upper"]).all()


def test_a_meter_replaced_mid_series_keeps_a_continuous_series(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "m", "subitem": "01000"}])
    days = pd.date_range("2026-04-01", "2026-07-31")
    load = office_load(days)
    store = store_of(settings)
    store.write_readings(counter_readings("m", "energy_import_kwh", days, load,
                                          start_value=98_000.0,
                                          reset_on=pd.Timestamp("2026-06-15")))
    daily = daily_consumption(store, settings, dt.date(2026, 4, 1), dt.date(2026, 7, 31))
    q = daily.set_index("day")["quantity"]
    assert q.loc["2026-06-16"] == pytest.approx(load[days.get_loc("2026-06-16")], rel=1e-3)
    assert (q >= 0).all()
    assert q.max() < 2 * load.max()
    result = forecast_year(settings, 2026, store=store)
    assert _one(result).model == "prophet"
    assert result.year_end["energy_tce_p50"].iloc[0] > 0


def test_a_meter_without_any_reading_gets_a_reason_not_zeros(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "m", "subitem": "01000"},
                                     {"institution": "gov01", "carrier": "water", "id": "w",
                                      "subitem": "02000"}])
    days = pd.date_range("2026-01-01", "2026-06-30")
    store = store_of(settings)
    store.write_readings(counter_readings("m", "energy_import_kwh", days, office_load(days)))
    result = forecast_year(settings, 2026, store=store)
    water = _one(result, "water")
    assert water.model == "none"
    assert "no measured day" in water.reason
    assert water.forecast.empty
    assert result.year_end["water_m3_per_person_p50"].isna().all()
    assert not (result.monthly["carrier"] == "water").any()


def test_a_year_with_no_data_yet_is_forecast_whole_from_the_history(tmp_path, store_of):
    settings = deployment(tmp_path, [{**E, "id": "m", "subitem": "01000"}])
    days = pd.date_range("2026-01-01", "2026-11-30")
    store = store_of(settings)
    store.write_readings(counter_readings("m", "energy_import_kwh", days, office_load(days)))
    result = forecast_year(settings, 2027, store=store, horizon_days=10)
    s = _one(result)
    assert s.model == "prophet"
    assert "weekday fallback 2027" in s.calendar
    assert len(s.forecast) == 10  # the rows shown; the projection runs to 31 Dec 2027
    months = result.monthly[result.monthly["carrier"] == "electricity"]
    assert len(months) == 12
    assert (months["source"] == "forecast").all()
    assert (months["quantity_p50"] > 0).all()


def test_no_meter_and_no_ledger_is_an_empty_result_not_a_crash(tmp_path):
    settings = deployment(tmp_path, [])
    result = forecast_year(settings, 2026)
    assert result.series == []
    assert result.year_end.empty
    assert result.as_of is None
    assert result.to_json() == {"series": [], "year_end": []}
