"""Pure functions of the dashboard: hours from counters, base load, league tables, formats."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from dashboard import figures
from dashboard.data import (
    completeness_table,
    hourly_from_rollup,
    hourly_table,
    monthly_by_institution,
    monthly_kg,
)
from dashboard.i18n import fmt_date, fmt_number, fmt_pct, t

TZ = ZoneInfo("Asia/Shanghai")


def test_hourly_table_takes_counter_steps_and_leaves_gaps_missing():
    start = datetime(2026, 3, 2, 0, 0, tzinfo=TZ).astimezone(UTC)
    times = [start + timedelta(minutes=15 * i) for i in range(4 * 6)]  # 00:00–05:45 local
    values = [100.0 + 2.5 * i for i in range(len(times))]  # 10 per hour
    raw = pd.DataFrame({"time": pd.DatetimeIndex(times), "meter": "m", "point": "p",
                        "value": values, "quality": "good"})
    raw = raw[~raw["time"].dt.tz_convert(TZ).dt.hour.eq(3)]  # no readings in hour 3
    hours = hourly_table(raw, TZ).set_index("hour")["quantity"]
    assert hours[1] == 10.0
    assert hours[2] == 10.0
    assert 3 not in hours.index  # missing, not 0
    assert 4 not in hours.index  # its step would span two hours: not counted as one hour


def test_hourly_rollups_give_the_same_hours_as_raw_readings():
    hours = pd.DataFrame({
        "meter": ["a", "a", "a", "b", "b"], "point": "p",
        "hour": pd.DatetimeIndex([datetime(2026, 3, 2, h, tzinfo=UTC) for h in (1, 2, 3, 1, 2)]),
        "last_value": [10.0, 14.0, 20.0, 100.0, 101.0], "delta_sum": 0.0})
    table = hourly_from_rollup(hours, TZ)
    assert list(table["hour"]) == [10, 11]  # local hours (UTC+8); hour 9 has no hour before it
    assert list(table["quantity"]) == [4.0 + 1.0, 6.0]


def test_base_load_compares_night_day_and_rest_days():
    rows = []
    for day, work in ((date(2026, 3, 2), True), (date(2026, 3, 7), False)):
        for hour in range(24):
            rows.append({"day": day, "hour": hour,
                         "quantity": 10.0 if hour < 6 else (50.0 if work else 20.0)})
    load = figures.base_load(pd.DataFrame(rows), {date(2026, 3, 2): True,
                                                  date(2026, 3, 7): False})
    assert load["night"] == 10.0
    assert load["day"] == 50.0
    assert load["ratio"] == 0.2


def test_a_managers_league_table_shows_others_only_as_rank():
    figs = pd.DataFrame({
        "institution_id": ["a", "b", "c"], "name": ["甲", "乙", "丙"],
        "category": "government", "level": "municipal", "climate_zone": "cold",
        "kgce_per_m2": [5.0, 7.0, np.nan]})
    quota = pd.DataFrame({"institution_id": ["a"], "subject": ["kgce_per_m2"],
                          "status": ["below_guide"]})
    table = figures.league_table(figs, None, quota, "kgce_per_m2", {"b"}, "en")
    text = table.to_string()
    assert "乙" in text
    assert "甲" not in text
    assert "5.00" not in text  # a's value is not shown to b's manager
    ranks = list(table[t("col.rank", "en")])
    assert ranks[:2] == ["1/2", "2/2"]
    assert ranks[2] == "–"  # c has no value: no rank, not last place
    every = figures.league_table(figs, None, quota, "kgce_per_m2", None, "zh")
    assert "优于引导值" in every.to_string()


def test_completeness_is_the_share_of_meters_reporting():
    meters = pd.DataFrame({"meter": ["m1", "m2"], "institution_id": ["a", "a"]})
    daily = pd.DataFrame({"meter": ["m1", "m1", "m2"], "institution_id": "a",
                          "day": [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 2)],
                          "n_readings": [24, 24, 24]})
    table = completeness_table(daily, meters, ["a"], date(2026, 1, 1), date(2026, 1, 4))
    assert list(table.loc["a"]) == [0.5, 1.0, 0.0]


def test_formats_per_language_and_missing_is_a_dash():
    assert fmt_number(1234567.891, "zh", 1) == "1,234,567.9"
    assert fmt_number(float("nan"), "en") == "–"
    assert fmt_number(None, "zh") == "–"
    assert fmt_pct(0.934, "en") == "93%"
    assert fmt_date(date(2026, 12, 7), "zh") == "2026年12月7日"
    assert fmt_date(date(2026, 12, 7), "en") == "7 Dec 2026"


def test_figures_are_plain_dicts_and_the_trend_ships_at_most_twice_its_width():
    start = np.datetime64("2026-03-01T00:00:00")
    times = start + np.arange(100_000).astype("timedelta64[m]")
    values = np.sin(np.arange(100_000) / 300.0)
    values[54_321] = 50.0  # a spike must survive the thinning
    values[77] = np.nan  # a gap, not a zero
    trend = figures.trend_figure(times, values, "m1", "kWh", "en", 300)
    assert set(trend) == {"data", "layout"}
    (trace,) = trend["data"]
    assert trace["type"] == "scattergl"
    assert len(trace["x"]) == len(trace["y"]) <= 2 * 300
    assert max(trace["y"]) == 50.0
    assert trace["x"][0].startswith("2026-03-01T00:00")
    text = json.dumps(trend, allow_nan=False)  # plain JSON: lists, no NaN, no Plotly classes
    assert "RdYlGn" not in text
    heat = figures.completeness_heatmap(
        pd.DataFrame([[1.0, np.nan]], index=["a"], columns=[date(2026, 1, 1), date(2026, 1, 2)]),
        {"a": "甲"}, "zh", 800)
    assert heat["data"][0]["z"] == [[1.0, None]]
    assert heat["data"][0]["colorscale"][0][0] == 0.0  # the stops, not a name plotly.js lacks
    json.dumps(heat, allow_nan=False)


def test_monthly_tables_sum_per_institution_and_keep_missing_months_missing():
    monthly = pd.DataFrame({
        "institution_id": ["a", "a", "a", "b"], "carrier": "electricity", "unit": "kWh",
        "month": [1, 1, 2, 1], "quantity": [10.0, 5.0, np.nan, 7.0],
        "coverage": [1.0, 0.5, 0.0, 1.0], "scope": 2,
        "kgce": [1.2, 0.6, np.nan, 0.8], "kgco2": [5.0, 2.5, np.nan, 3.5]})
    wide = monthly_by_institution(monthly)
    a = wide[wide["institution_id"] == "a"].iloc[0]
    assert a[1] == 15.0
    assert np.isnan(a[2])  # nothing measured in February: missing, not 0
    assert np.isnan(a[3])
    assert a["coverage"] == 0.375  # the mean of the months' mean coverage (0.75, 0)
    shown = figures.monthly_quantities(wide, {"a": "甲"}, "en")
    assert list(shown["institution_id"]) == ["a", "b"]
    assert shown.iloc[0]["Feb"] == "–"
    kg = monthly_kg(monthly, "scope")
    per_inst = figures.monthly_figure(kg[kg["institution_id"] == "a"], "kgce", "scope", "en")
    direct = figures.monthly_figure(monthly[monthly["institution_id"] == "a"], "kgce", "scope",
                                    "en")
    assert per_inst["data"] == direct["data"]  # summing per institution first changes nothing
