"""Models of a daily (or monthly) series: Prophet, seasonal-naive and a degree-day regression.

Every function takes plain frames and returns plain arrays: nothing here reads the store.

* :func:`prophet_fit` / :func:`prophet_predict`: Prophet with weekly seasonality, yearly
  seasonality when the history spans at least a year, the working-day calendar as a regressor
  (``workday`` = 1 on working days, 调休 weekend days included, 0 on holidays and weekends) and the
  degree-days ``hdd_c_day`` and ``cdd_c_day`` as regressors when there is weather.
* :func:`seasonal_naive`: the same weekday a week earlier; beyond a week, the last observed week
  repeated.
* :func:`degree_day_ols`: daily OLS of consumption on HDD, CDD and the working day, in the spirit
  of the CalTRACK daily method (OpenDSM / eemeter); without weather, on the working day alone.

A fit counter (:data:`FIT_COUNTS`) counts Prophet fits in this process (the cache's tests read
it).
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FIT_COUNTS",
    "degree_day_ols",
    "prophet_fit",
    "prophet_predict",
    "prophet_samples",
    "seasonal_naive",
    "seasonal_naive_samples",
]

#: Prophet fits done in this process, by frequency ("D", "MS").
FIT_COUNTS: Counter[str] = Counter()


#: Days of history from which yearly seasonality is fitted.
YEARLY_MIN_DAYS = 365


def _prophet_class() -> Any:
    _quiet()
    with prophet_warnings():
        from prophet import Prophet  # heavy (Stan): imported on first fit, in the worker that fits

    _quiet()
    return Prophet


@contextlib.contextmanager
def prophet_warnings() -> Iterator[None]:
    """Silence the deprecation warnings Prophet's own code triggers in pandas (``inplace=``,
    ...): they are Prophet's to fix, and the test suite turns warnings into errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _quiet() -> None:
    """Prophet and cmdstanpy log every fit from their own handlers (and set their levels when
    imported and when first used): quiet them before and after the import."""
    logging.getLogger("cmdstanpy").disabled = True
    for name in ("prophet", "prophet.plot", "prophet.forecaster"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def prophet_fit(history: pd.DataFrame, regressors: list[str], samples: int,
                freq: str = "D", changepoint_prior_scale: float = 0.01) -> Any:
    """Fit Prophet to ``history`` (``ds``, ``y`` and the regressor columns; NaN y rows dropped).

    Parameters
    ----------
    history
        Known values only; ``y`` in the series' unit per day (or per month for ``freq="MS"``).
    regressors
        Extra regressor columns (``workday``, ``hdd_c_day``, ``cdd_c_day``).
    samples
        ``uncertainty_samples`` (sample paths drawn by :func:`prophet_samples`).
    freq
        "D" (weekly + yearly seasonality) or "MS" (yearly only).
    changepoint_prior_scale
        Prophet's trend flexibility (``[forecasting] changepoint_prior_scale``).
    """
    data = history.dropna(subset=["y"])
    span_days = (data["ds"].max() - data["ds"].min()).days if len(data) else 0
    prophet = _prophet_class()
    model = prophet(
        weekly_seasonality=freq == "D",
        yearly_seasonality=span_days >= YEARLY_MIN_DAYS,
        daily_seasonality=False,
        uncertainty_samples=samples,
        interval_width=0.8,
        changepoint_prior_scale=changepoint_prior_scale,
    )
    for name in regressors:
        if data[name].nunique() > 1:
            model.add_regressor(name)
    with prophet_warnings():
        model.fit(data[["ds", "y", *[r for r in regressors if r in model.extra_regressors]]])
    FIT_COUNTS[freq] += 1
    return model


def prophet_predict(model: Any, future: pd.DataFrame) -> np.ndarray:
    """The point forecast ``yhat`` for the rows of ``future`` (no sampling)."""
    saved = model.uncertainty_samples
    model.uncertainty_samples = 0
    try:
        with prophet_warnings():
            return model.predict(future)["yhat"].to_numpy(dtype=float)
    finally:
        model.uncertainty_samples = saved


def prophet_samples(model: Any, future: pd.DataFrame, seed: int) -> np.ndarray:
    """Sample paths (``samples × len(future)``) from Prophet's predictive distribution.

    The global numpy generator (which Prophet draws from) is seeded, so a series gives the same
    paths in any process or Dask worker. Consumption is not negative: samples are clipped at 0.
    """
    np.random.seed(seed % 2**32)
    with prophet_warnings():
        paths = model.predictive_samples(future)["yhat"]  # (len(future), samples)
    return np.clip(np.asarray(paths, dtype=float).T, 0.0, None)


def seasonal_naive(ds: pd.DatetimeIndex, y: np.ndarray, future: pd.DatetimeIndex) -> np.ndarray:
    """The same weekday a week earlier; beyond one week the last observed week repeats.

    Parameters
    ----------
    ds, y
        The known history (NaN allowed).
    future
        Days to forecast (after the history).
    """
    known = pd.Series(y, index=ds).dropna()
    if known.empty:
        return np.full(len(future), np.nan)
    last = known.index.max()
    week = known[known.index > last - pd.Timedelta(days=7)]
    by_weekday = pd.Series(week.to_numpy(), index=week.index.day_of_week)
    # a weekday not seen in the last week: its latest value, else the mean of the last week
    older = known.groupby(known.index.day_of_week).last()
    values = [by_weekday.get(d, older.get(d, float(week.mean()))) for d in future.day_of_week]
    return np.asarray(values, dtype=float)


def seasonal_naive_samples(ds: pd.DatetimeIndex, y: np.ndarray, future: pd.DatetimeIndex,
                           samples: int, seed: int) -> np.ndarray:
    """Seasonal-naive paths: the forecast plus week-on-week differences drawn from the history."""
    point = seasonal_naive(ds, y, future)
    s = pd.Series(y, index=ds).asfreq("D")
    diffs = (s - s.shift(7)).dropna().to_numpy()
    rng = np.random.default_rng(seed)
    if len(diffs) == 0:
        noise = np.zeros((samples, len(future)))
    else:
        noise = rng.choice(diffs, size=(samples, len(future)), replace=True)
    return np.clip(point[None, :] + noise, 0.0, None)


def degree_day_ols(train: pd.DataFrame, future: pd.DataFrame, features: list[str]) -> np.ndarray:
    """Daily OLS ``y ~ 1 + features`` (HDD, CDD, working day) fitted on ``train``, for ``future``.

    Features without variation in the training data are left out (a constant column).
    """
    data = train.dropna(subset=["y"])
    used = [f for f in features if f in data and data[f].nunique() > 1]
    x = np.column_stack([np.ones(len(data))] + [data[f].to_numpy(float) for f in used])
    coef, *_ = np.linalg.lstsq(x, data["y"].to_numpy(float), rcond=None)
    xf = np.column_stack([np.ones(len(future))] + [future[f].to_numpy(float) for f in used])
    return xf @ coef
