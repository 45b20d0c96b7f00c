"""Rolling-origin backtests of a daily series at 7, 30 and 90 days, for the model and both baselines.

For a horizon ``H`` the cut-offs are ``last − H``, ``last − H − step``, ... (``step = max(7,
H // 2)`` days, at most ``[forecasting] backtest_cutoffs`` of them, each with at least
``min_history_days`` known days before it). At each cut-off the model is refitted on the days up
to it and forecasts the next ``H`` days; the errors of every cut-off are pooled.

Metrics (:func:`metrics`), over the known days of the horizons:

* ``mape_pct``: mean absolute percentage error (days with an actual of 0 left out) [%];
* ``smape_pct``: symmetric MAPE, ``mean(2|y − ŷ| / (|y| + |ŷ|))`` [%];
* ``mae``: mean absolute error [the series' unit per day];
* ``cv_rmse_pct`` and ``nmbe_pct`` as ASHRAE Guideline 14-2014 defines them,
  ``CV(RMSE) = √(Σ(y − ŷ)² / (n − p)) / ȳ`` and ``NMBE = Σ(y − ŷ) / ((n − p) · ȳ)`` in %, with
  ``p = 0`` because the days are out of sample (no parameter was fitted on them);
* ``n``: days compared, ``cutoffs``: origins used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from forecasting import models

__all__ = ["BASELINES", "backtest_series", "metrics"]

#: Names of the two baselines, as in the JSON.
BASELINES = ("seasonal_naive", "degree_day")


def metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float | int | None]:
    """MAPE, sMAPE, MAE, CV(RMSE) and NMBE (ASHRAE Guideline 14, p = 0) of paired days."""
    y = np.asarray(actual, dtype=float)
    f = np.asarray(predicted, dtype=float)
    ok = ~(np.isnan(y) | np.isnan(f))
    y, f = y[ok], f[ok]
    n = len(y)
    if n == 0:
        return {"n": 0, "mape_pct": None, "smape_pct": None, "mae": None, "cv_rmse_pct": None,
                "nmbe_pct": None}
    err = y - f
    nonzero = y != 0
    denominator = np.abs(y) + np.abs(f)
    mean_y = float(y.mean())
    return {
        "n": int(n),
        "mape_pct": float(np.mean(np.abs(err[nonzero] / y[nonzero])) * 100) if nonzero.any()
        else None,
        "smape_pct": float(np.mean(np.where(denominator > 0, 2 * np.abs(err) / np.where(
            denominator > 0, denominator, 1.0), 0.0)) * 100),
        "mae": float(np.mean(np.abs(err))),
        "cv_rmse_pct": float(np.sqrt(np.sum(err**2) / n) / mean_y * 100) if mean_y else None,
        "nmbe_pct": float(np.sum(err) / (n * mean_y) * 100) if mean_y else None,
    }


def cutoffs(days: pd.DatetimeIndex, known: np.ndarray, horizon: int, count: int,
            min_history_days: int) -> list[pd.Timestamp]:
    """The rolling origins for ``horizon`` days (latest first)."""
    if count <= 0 or not known.any():
        return []
    last = days[known].max()
    step = max(7, horizon // 2)
    known_days = days[known]
    out = []
    for k in range(count):
        c = last - pd.Timedelta(days=horizon + k * step)
        if (known_days <= c).sum() >= min_history_days:
            out.append(c)
    return out


def backtest_series(
    frame: pd.DataFrame,
    regressors: list[str],
    horizons: list[int],
    count: int,
    min_history_days: int,
    use_prophet: bool,
    fit_predict: Callable[[pd.DataFrame, pd.DataFrame], np.ndarray] | None = None,
    changepoint_prior_scale: float = 0.01,
) -> dict[str, dict]:
    """Backtest a daily series at each horizon for the model and both baselines.

    Parameters
    ----------
    frame
        ``ds`` (every day), ``y`` (NaN where not known or dropped), ``workday`` and, with
        weather, ``hdd_c_day`` and ``cdd_c_day``.
    regressors
        The model's regressors (and the degree-day regression's features).
    use_prophet
        The model is Prophet (else seasonal-naive, and "model" repeats that baseline).
    fit_predict
        ``(train, test) → ŷ`` of the model; default: Prophet without sampling.
    changepoint_prior_scale
        Prophet's trend flexibility.

    Returns
    -------
    dict
        ``{"7": {"model": {...}, "seasonal_naive": {...}, "degree_day": {...}}, ...}``; a horizon
        that the history is too short for has ``{"reason": ...}``.
    """
    def prophet_fp(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        model = models.prophet_fit(train, regressors, samples=0,
                                   changepoint_prior_scale=changepoint_prior_scale)
        return models.prophet_predict(model, test)

    fp = fit_predict or prophet_fp
    days = pd.DatetimeIndex(frame["ds"])
    known = frame["y"].notna().to_numpy()
    out: dict[str, dict] = {}
    for h in horizons:
        origins = cutoffs(days, known, h, count, min_history_days)
        if not origins:
            out[str(h)] = {"reason": f"history too short for a {h}-day backtest (needs "
                                     f"{min_history_days} known days before {h} days to check)"}
            continue
        pairs: dict[str, list[np.ndarray]] = {"y": [], "model": [], "seasonal_naive": [],
                                              "degree_day": []}
        for c in origins:
            train = frame[frame["ds"] <= c]
            test = frame[(frame["ds"] > c) & (frame["ds"] <= c + pd.Timedelta(days=h))]
            naive = models.seasonal_naive(pd.DatetimeIndex(train["ds"]), train["y"].to_numpy(),
                                          pd.DatetimeIndex(test["ds"]))
            pairs["y"].append(test["y"].to_numpy(float))
            pairs["seasonal_naive"].append(naive)
            pairs["degree_day"].append(models.degree_day_ols(train, test, regressors))
            pairs["model"].append(fp(train, test) if use_prophet else naive)
        y = np.concatenate(pairs["y"])
        entry = {name: metrics(y, np.concatenate(pairs[name]))
                 for name in ("model", *BASELINES)}
        entry["cutoffs"] = [c.date().isoformat() for c in origins]  # type: ignore[assignment]
        out[str(h)] = entry
    return out
