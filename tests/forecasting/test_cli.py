"""``jieneng forecast`` and ``jieneng import weather``: arguments, JSON, table, exit codes."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from forecasting.cli import forecast_main
from forecasting.settings import ForecastingSettings
from jieneng.cli import build_parser, main
from jieneng.settings import Settings
from jieneng.vocabulary import ExitCode
from tests.forecasting.conftest import counter_readings, deployment, office_load

CONFIG = """
[site]
name = "t"
timezone = "Asia/Shanghai"
province = "shandong"
region_code = "370100"

[storage.sqlite]
path = "store.sqlite"

[accounting]
ledger_path = "ledgers.sqlite"

[forecasting]
executor = "serial"
samples = 20
"""


def test_forecast_arguments_parse():
    args = build_parser().parse_args([
        "forecast", "--config", "x.toml", "--year", "2026", "--institution", "gov01",
        "--institution", "gov02", "--carrier", "electricity", "--horizon-days", "30",
        "--format", "json"])
    assert (args.year, args.institution, args.carrier, args.horizon_days, args.format) == (
        2026, ["gov01", "gov02"], ["electricity"], 30, "json")


def test_forecast_json_has_series_and_year_end_with_risk(tmp_path, store_of, capsys):
    settings = deployment(tmp_path, [{"institution": "gov01", "carrier": "electricity",
                                      "id": "e", "subitem": "01000"}], cache_path="")
    days = pd.date_range("2026-06-01", "2026-09-30")
    store = store_of(settings)
    store.write_readings(counter_readings("e", "energy_import_kwh", days, office_load(days)))
    store.close()
    args = build_parser().parse_args(["forecast", "--config", "x", "--year", "2026",
                                      "--horizon-days", "5", "--format", "json"])
    assert forecast_main(args, settings) == ExitCode.ok
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert set(data) == {"series", "year_end"}
    [series] = data["series"]
    assert {"institution_id", "carrier", "unit", "frequency", "model", "reason", "calendar",
            "history", "forecast", "backtest"} <= set(series)
    assert series["frequency"] == "D"
    assert len(series["forecast"]) == 5
    assert set(series["forecast"][0]) == {"date", "yhat", "yhat_lower", "yhat_upper"}
    assert set(series["backtest"]["30"]) >= {"model", "seasonal_naive", "degree_day"}
    assert set(series["backtest"]["30"]["model"]) >= {"mape_pct", "smape_pct", "mae",
                                                      "cv_rmse_pct", "nmbe_pct"}
    [row] = data["year_end"]
    assert row["institution_id"] == "gov01"
    assert set(row["energy_tce"]) == {"p10", "p50", "p90"}
    assert row["energy_tce"]["p10"] <= row["energy_tce"]["p50"] <= row["energy_tce"]["p90"]
    assert isinstance(row["risk"], list)
    assert "series" in out.err  # progress on stderr


def test_forecast_table_and_no_data(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    assert main(["forecast", "--config", str(tmp_path / "c.toml"), "--year", "2026"]) == \
        ExitCode.no_data
    assert "no meter, bill or fuel-card data" in capsys.readouterr().err
    assert main(["forecast", "--config", str(tmp_path / "c.toml"), "--horizon-days", "0"]) == \
        ExitCode.bad_input


def test_import_weather_through_the_cli(tmp_path, capsys):
    (tmp_path / "c.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "w.csv").write_text("time,temperature_c\n2026-01-01T00:00:00+08:00,1.5\n"
                                    "2026-01-01T01:00:00+08:00,1.0\n", encoding="utf-8")
    assert main(["import", "weather", str(tmp_path / "w.csv"), "--config",
                 str(tmp_path / "c.toml")]) == ExitCode.ok
    assert "2 temperature reading(s) imported" in capsys.readouterr().out
    assert main(["import", "weather", str(tmp_path / "nope.csv"), "--config",
                 str(tmp_path / "c.toml")]) == ExitCode.bad_input


def test_settings_section_is_validated():
    with pytest.raises(ValueError, match="executor"):
        ForecastingSettings(executor="threads")
    with pytest.raises(ValueError, match="backtest_horizons_days"):
        ForecastingSettings(backtest_horizons_days=[0])
    with pytest.raises(ValueError, match="extra"):
        Settings.model_validate({"site": {"name": "t", "province": "shandong",
                                          "region_code": "370100"},
                                 "forecasting": {"worker": 2}})
