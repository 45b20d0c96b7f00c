"""Weather: import (all rows or none), daily means in the site's zone, degree-days, normals."""

from __future__ import annotations

import argparse
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecasting.cli import import_weather_main
from forecasting.errors import WeatherImportError
from forecasting.weather import (
    daily_temperature,
    degree_days,
    import_weather,
    parse_weather,
    weather_frame,
)
from tests.forecasting.conftest import TZ, deployment


def _write(path, rows):
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_every_bad_row_is_reported_with_row_and_reason_and_nothing_is_imported(
        tmp_path, store_of, capsys):
    settings = deployment(tmp_path, [])
    bad = _write(tmp_path / "w.csv", [
        "time,temperature_c",
        "2026-01-01T00:00:00+08:00,1.5",
        "2026-01-01T01:00:00,1.0",            # row 3: no offset
        "2026-01-01T02:00:00+08:00,abc",      # row 4: not a number
        "2026-01-01T03:00:00+08:00,99",       # row 5: implausible
        "yesterday,2.0",                      # row 6: not a time
        "2026-01-01T00:00:00+08:00,1.7",      # row 7: duplicate of row 2
    ])
    with pytest.raises(WeatherImportError) as err:
        parse_weather(bad)
    problems = err.value.problems
    assert [p.row for p in problems] == [3, 4, 5, 6, 7]
    assert "offset" in problems[0].reason
    assert "row 2" in problems[4].reason
    code = import_weather_main(argparse.Namespace(file=bad), settings)
    assert code == 2
    assert "5 problem(s); nothing was imported" in capsys.readouterr().err
    store = store_of(settings)
    assert store.read_readings(dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
                               dt.datetime(2027, 1, 1, tzinfo=dt.UTC)).empty


def test_a_missing_column_is_one_problem(tmp_path):
    with pytest.raises(WeatherImportError, match="time,temperature_c"):
        parse_weather(_write(tmp_path / "w.csv", ["time,temp", "2026-01-01T00:00:00Z,1"]))


def test_import_then_daily_means_cut_in_the_site_zone_and_degree_days(tmp_path, store_of):
    settings = deployment(tmp_path, [])
    rows = ["time,temperature_c,station"]
    # 2 January local: 00:00..23:00 at +08:00 written in UTC; 10 °C the whole day, 30 °C next day
    for h in range(48):
        t = dt.datetime(2026, 1, 2, tzinfo=TZ) + dt.timedelta(hours=h)
        rows.append(f"{t.astimezone(dt.UTC).isoformat().replace('+00:00', 'Z')},"
                    f"{10 if h < 24 else 30},jinan")
    store = store_of(settings)
    assert import_weather(_write(tmp_path / "w.csv", rows), store) == 48
    daily = daily_temperature(store, TZ, dt.date(2026, 1, 1), dt.date(2026, 1, 5), "jinan")
    assert daily.loc["2026-01-02"] == pytest.approx(10.0)
    assert daily.loc["2026-01-03"] == pytest.approx(30.0)
    hdd, cdd = degree_days(daily.to_numpy(), 18.0, 26.0)
    assert hdd.tolist() == [8.0, 0.0]
    assert cdd.tolist() == [0.0, 4.0]


def test_beyond_the_last_row_each_day_takes_its_normal():
    days = pd.date_range("2024-01-01", "2025-12-31")
    observed = pd.Series(10 - 10 * np.cos(2 * np.pi * (days.day_of_year - 15) / 365.25),
                         index=days)
    future = pd.date_range("2025-12-30", "2026-07-20")
    frame = weather_frame(observed, future, 18.0, 26.0)
    assert frame["weather_source"].tolist()[:2] == ["observed", "observed"]
    assert set(frame["weather_source"][2:]) == {"normal"}
    mid_july = frame.set_index("ds").loc["2026-07-15"]
    assert mid_july["temperature_c"] == pytest.approx(20.0, abs=0.3)
    assert mid_july["hdd_c_day"] == 0.0
    assert mid_july["cdd_c_day"] == 0.0
    assert weather_frame(pd.Series(dtype=float), future).empty
