"""Forecasting: daily and monthly series → Prophet (Chinese working calendar, degree-days) →
year-end projection of every figure with p10/p50/p90 and the probability of each quota and
十四五 risk (issue 11). The entry point is :func:`forecast_year`."""

from forecasting.api import ForecastResult, SeriesForecast, forecast_year, risk_table

__all__ = ["ForecastResult", "SeriesForecast", "forecast_year", "risk_table"]
