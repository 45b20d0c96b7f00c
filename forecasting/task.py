"""One series, start to end: choose the model, fit it, draw sample paths, backtest.

A :class:`SeriesTask` holds everything one series needs (plain frames, no store, no settings
object), so it can be pickled to a worker process or a Dask worker; :func:`run_task` returns a
:class:`SeriesOutput`. The same task gives the same output in any process: Prophet's fit is a
deterministic optimisation and the sample paths are drawn from a generator seeded by the series.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from forecasting import backtest as bt
from forecasting import models

__all__ = ["SeriesOutput", "SeriesTask", "run_task", "series_seed"]


def series_seed(*parts: object) -> int:
    """A stable seed from the series' key (not Python's salted ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 2**32


@dataclass
class SeriesTask:
    """Inputs of one series.

    Attributes
    ----------
    key
        (institution_id, carrier, unit, use).
    frequency
        "D" (metered, daily) or "MS" (bills and fuel cards, monthly).
    frame
        ``ds`` (every day or month start from the history's start to the last day predicted),
        ``y`` (the value used for fitting, NaN when unknown, estimated-and-dropped or future),
        and the regressor columns.
    regressors
        Regressors of the model (``workday``, ``hdd_c_day``, ``cdd_c_day``); none for monthly.
    display
        Days (months) shown as the forecast.
    predict
        Days (months) of the year whose quantity is not known: sample paths are drawn for them.
    samples, min_history_days, horizons, cutoffs, changepoint_prior_scale, min_ratio_sigma
        From ``[forecasting]``.
    previous
        Monthly series only: last year's quantity per month 1–12 (NaN: unknown).
    current
        Monthly series only: this year's known quantity per month 1–12 (NaN: not billed yet).
    """

    key: tuple[str, str, str, str]
    frequency: str
    frame: pd.DataFrame
    regressors: list[str]
    display: pd.DatetimeIndex
    predict: pd.DatetimeIndex
    samples: int = 200
    min_history_days: int = 56
    horizons: list[int] = field(default_factory=lambda: [7, 30, 90])
    cutoffs: int = 3
    changepoint_prior_scale: float = 0.01
    min_ratio_sigma: float = 0.10
    previous: np.ndarray | None = None
    current: np.ndarray | None = None

    @property
    def seed(self) -> int:
        """The seed of this series' sample paths."""
        return series_seed(*self.key)


@dataclass
class SeriesOutput:
    """What a task returns: the model, why, the forecast rows, sample paths and the backtest."""

    model: str
    reason: str
    forecast: pd.DataFrame  # date, yhat, yhat_lower, yhat_upper
    sample_dates: pd.DatetimeIndex
    samples: np.ndarray  # samples × len(sample_dates)
    backtest: dict


def _forecast_rows(dates: pd.DatetimeIndex, paths: np.ndarray, point: np.ndarray) -> pd.DataFrame:
    if len(dates) == 0:
        return pd.DataFrame({"date": pd.DatetimeIndex([]), "yhat": [], "yhat_lower": [],
                             "yhat_upper": []})
    return pd.DataFrame({
        "date": dates, "yhat": point,
        "yhat_lower": np.quantile(paths, 0.1, axis=0),
        "yhat_upper": np.quantile(paths, 0.9, axis=0),
    })


def _split(task: SeriesTask, dates: pd.DatetimeIndex, paths: np.ndarray,
           point: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    at = dates.get_indexer(task.display)
    rows = _forecast_rows(task.display, paths[:, at], point[at])
    return rows, paths[:, dates.get_indexer(task.predict)]


def run_task(task: SeriesTask) -> SeriesOutput:
    """Fit, forecast and backtest one series (daily or monthly)."""
    if task.frequency == "MS":
        return _run_monthly(task)
    return _run_daily(task)


def _run_daily(task: SeriesTask) -> SeriesOutput:
    frame = task.frame
    known = frame["y"].notna()
    n_known = int(known.sum())
    dates = task.display.union(task.predict)
    future = frame.set_index("ds").reindex(dates).reset_index().rename(columns={"index": "ds"})
    regress = " and ".join(["the working-day calendar",
                            *(["degree-days (HDD, CDD)"] if "hdd_c_day" in task.regressors
                              else [])])
    if n_known < task.min_history_days:
        model_name = "seasonal_naive"
        reason = (f"{n_known} known days < {task.min_history_days} (minimum history): "
                  "seasonal-naive (the same weekday a week earlier)")
        point = models.seasonal_naive(pd.DatetimeIndex(frame["ds"]), frame["y"].to_numpy(), dates)
        paths = models.seasonal_naive_samples(pd.DatetimeIndex(frame["ds"]),
                                              frame["y"].to_numpy(), dates, task.samples,
                                              task.seed)
        use_prophet = False
    else:
        span = (frame.loc[known, "ds"].max() - frame.loc[known, "ds"].min()).days
        model_name = "prophet"
        yearly = ("weekly and yearly seasonality" if span >= models.YEARLY_MIN_DAYS
                  else f"weekly seasonality (no yearly: {span + 1} days < a year)")
        reason = f"{n_known} known days: Prophet with {yearly} and {regress} as regressors"
        model = models.prophet_fit(frame[known], task.regressors, task.samples,
                                   changepoint_prior_scale=task.changepoint_prior_scale)
        point = np.clip(models.prophet_predict(model, future), 0.0, None)
        paths = models.prophet_samples(model, future, task.seed)
        use_prophet = True
    rows, samples = _split(task, dates, paths, point)
    backtest = bt.backtest_series(frame[frame["ds"] <= frame.loc[known, "ds"].max()]
                                  if n_known else frame, task.regressors, task.horizons,
                                  task.cutoffs, task.min_history_days, use_prophet,
                                  changepoint_prior_scale=task.changepoint_prior_scale)
    return SeriesOutput(model_name, reason, rows, task.predict, samples, backtest)


def _run_monthly(task: SeriesTask) -> SeriesOutput:
    frame = task.frame
    known = frame["y"].notna()
    months_known = int(known.sum())
    dates = task.display.union(task.predict)
    no_backtest = {"reason": "monthly series (bills, fuel cards): no daily backtest"}
    if months_known >= 36:
        model = models.prophet_fit(frame[known], [], task.samples, freq="MS",
                                   changepoint_prior_scale=task.changepoint_prior_scale)
        future = pd.DataFrame({"ds": dates})
        point = np.clip(models.prophet_predict(model, future), 0.0, None)
        paths = models.prophet_samples(model, future, task.seed)
        rows, samples = _split(task, dates, paths, point)
        return SeriesOutput("prophet_monthly", f"{months_known} known months (≥ 3 years): "
                            "Prophet with yearly seasonality on monthly totals", rows,
                            task.predict, samples, no_backtest)
    previous = task.previous if task.previous is not None else np.full(12, np.nan)
    current = task.current if task.current is not None else np.full(12, np.nan)
    if np.isnan(previous).all() or not len(dates):
        reason = ("no month to project" if not len(dates) else
                  "no earlier year of bills to scale: the months not billed yet are not "
                  "projected (the year-end counts billed months only)")
        return SeriesOutput("none", reason, _forecast_rows(pd.DatetimeIndex([]),
                            np.zeros((task.samples, 0)), np.zeros(0)), pd.DatetimeIndex([]),
                            np.zeros((task.samples, 0)), no_backtest)
    both = ~np.isnan(previous) & ~np.isnan(current)
    prev_sum, cur_sum = float(np.nansum(previous[both])), float(np.nansum(current[both]))
    if both.any() and prev_sum > 0:
        ratio = cur_sum / prev_sum
        monthly = [current[i] / previous[i] for i in np.flatnonzero(both)
                   if previous[i] > 0 and current[i] > 0]
        observed = float(np.std(np.log(monthly), ddof=1)) if len(monthly) >= 2 else math.nan
        measured = 0.1 if math.isnan(observed) else observed  # ±10 % without two ratios
        sigma = max(measured, task.min_ratio_sigma)
        spread = (f"spread of the monthly ratios σ = {observed:.3f}" if not math.isnan(observed)
                  else "fewer than 2 monthly ratios")
        if sigma > measured:
            spread += f", taken as the floor σ = {sigma:.3f} ([forecasting] min_ratio_sigma)"
        reason = (f"last year's same months × the year-to-date ratio {ratio:.3f} "
                  f"({int(both.sum())} months); {spread}")
    else:
        ratio, sigma = 1.0, max(0.1, task.min_ratio_sigma)
        reason = ("last year's same months (no month of this year to compare: ratio 1, "
                  f"σ = {sigma:.2f} assumed)")
    rng = np.random.default_rng(task.seed)
    ratios = ratio * np.exp(rng.normal(0.0, sigma, size=task.samples))
    base = np.nan_to_num(previous[dates.month.to_numpy() - 1])
    paths = ratios[:, None] * base[None, :]
    point = ratio * base
    rows, samples = _split(task, dates, paths, point)
    return SeriesOutput("ratio_to_last_year", reason, rows, task.predict, samples, no_backtest)
