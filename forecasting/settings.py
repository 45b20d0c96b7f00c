"""The ``[forecasting]`` settings section, owned by the forecasting package."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, Strict, model_validator

from jieneng.vocabulary import SettingsSection

__all__ = ["ForecastingSettings"]


class ForecastingSettings(SettingsSection):
    """``[forecasting]``: executor, cache, samples, degree-day bases, calendar.

    Every key is documented in ``config/jieneng.example.toml``.
    """

    executor: Literal["processes", "serial", "dask"] = "processes"
    #: Worker processes (processes, or a local Dask cluster); 0 = one per CPU core.
    workers: int = Field(0, strict=True, ge=0, le=1024)
    #: ``tcp://host:8786`` of a Dask scheduler; empty with executor "dask": a local cluster.
    scheduler_address: str = ""
    #: Folder of the cached fits (relative to the settings file); empty: no cache.
    cache_path: Path = Path("../var/forecast-cache")
    #: Sample paths drawn from each model's predictive distribution (p10/p50/p90, probabilities).
    samples: int = Field(200, strict=True, ge=10, le=5000)
    #: Heating degree-day base (GB 50736 / JGJ 26 use 18 °C). [°C]
    hdd_base_c: float = Field(18.0, strict=True, ge=-10.0, le=30.0)
    #: Cooling degree-day base (26 °C, the cooling set-point of GB 50189). [°C]
    cdd_base_c: float = Field(26.0, strict=True, ge=10.0, le=40.0)
    #: Fewer measured days than this → seasonal-naive instead of Prophet. [days]
    min_history_days: int = Field(56, strict=True, ge=14, le=3650)
    #: Backtest horizons (rolling origin). [days]
    backtest_horizons_days: list[Annotated[int, Strict()]] = Field(default_factory=lambda: [7, 30, 90])
    #: Rolling origins per horizon (cut-offs); 0 = no backtest.
    backtest_cutoffs: int = Field(3, strict=True, ge=0, le=20)
    #: Prophet's ``changepoint_prior_scale`` (trend flexibility). 0.01 rather than Prophet's 0.05:
    #: a building's load has few real trend changes, and on the backtests of the shipped data
    #: (BDG2 sample, simulator) 0.05 chased short-lived drifts (30-day MAPE 4.1 % against 2.5 %
    #: on BDG2 building 1) while 0.01 was no worse anywhere.
    changepoint_prior_scale: float = Field(0.01, strict=True, gt=0.0, le=10.0)
    #: Folder with deployers' ``holidays_<year>.csv`` files (relative to the settings file);
    #: ``forecasting/reference/`` is searched after it.
    calendar_dir: Path = Path("holidays")
    #: Country of the site's calendar: "CN" uses chinese-calendar (and the reference files);
    #: any other ISO code uses the ``holidays`` package.
    country: str = Field("CN", min_length=2, max_length=3)
    #: Meter id (or station) of the temperature series used for degree-days.
    weather_meter: str = "weather"
    #: A day with more than this share of its consumption estimated (spread over a gap) is left
    #: out of the fit. [0-1]
    max_estimated_share: float = Field(0.5, strict=True, ge=0.0, le=1.0)
    #: Least spread (σ of the log of the ratio) of a bill or fuel-card series projected from last
    #: year's same months. A few billed months that moved together (three heating months each
    #: 0.979 of last year) do not make the unbilled months certain; 0.10 is the ±10 % the model
    #: already assumes when no month of this year is known. 0 turns the floor off.
    min_ratio_sigma: float = Field(0.10, strict=True, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _horizons(self) -> ForecastingSettings:
        bad = [h for h in self.backtest_horizons_days if h < 1 or h > 366]
        if bad:
            raise ValueError(f"backtest_horizons_days {bad}: expected days in 1..366")
        return self
