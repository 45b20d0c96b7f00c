"""``forecast_year``: every series of a year forecast, projected to 31 December and judged.

The steps:

1. the year's account (``accounting.annual.compute_account``: the quota and 十四五 thresholds,
   the institutions' profiles) and its consumption table (``accounting.consumption.
   annual_inputs``);
2. the series (:mod:`forecasting.series`): daily per institution × metered carrier from the
   store, monthly per bill or fuel-card line from the ledgers;
3. the calendar (:mod:`forecasting.calendar`) and weather (:mod:`forecasting.weather`) as
   regressors;
4. one task per series (:mod:`forecasting.task`), read from the cache (:mod:`forecasting.cache`)
   or run by the executor (:mod:`forecasting.parallel`);
5. the projection (:mod:`forecasting.projection`): p10/p50/p90 of every figure and the risk of
   each quota level and 十四五 path.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from accounting import engine
from accounting.annual import compute_account
from accounting.reference_data import load_reference
from forecasting import projection as pj
from forecasting.cache import ForecastCache, task_key
from forecasting.calendar import WorkingCalendar, calendar_frame, load_calendar
from forecasting.parallel import run_tasks
from forecasting.series import DailySeries, bill_months, daily_consumption, daily_series
from forecasting.settings import ForecastingSettings
from forecasting.task import SeriesOutput, SeriesTask
from forecasting.weather import daily_temperature, weather_frame
from jieneng.messages import text
from storage import open_store

__all__ = ["ForecastResult", "SeriesForecast", "forecast_year", "risk_table"]

#: Years of history read before the forecast year.
HISTORY_YEARS = 3
#: Bill carriers billed every month: a month without a bill is a gap, not 0.
CONTINUOUS = engine.CONTINUOUS_BILL_CARRIERS


@dataclass
class SeriesForecast:
    """The forecast of one institution × carrier (see ``to_json`` for the JSON form)."""

    institution_id: str
    carrier: str
    unit: str
    frequency: str  # "D" or "MS"
    model: str
    reason: str
    calendar: str
    history: dict
    forecast: pd.DataFrame  # date, yhat, yhat_lower, yhat_upper
    backtest: dict
    use: str = "purchased"
    source: str = "meter"

    def to_json(self) -> dict:
        """The series as issue 11's JSON describes it."""
        rows = [{"date": pd.Timestamp(r["date"]).date().isoformat(), "yhat": _plain(r["yhat"]),
                 "yhat_lower": _plain(r["yhat_lower"]), "yhat_upper": _plain(r["yhat_upper"])}
                for r in self.forecast.to_dict("records")]
        return {"institution_id": self.institution_id, "carrier": self.carrier,
                "unit": self.unit, "use": self.use, "source": self.source,
                "frequency": self.frequency, "model": self.model, "reason": self.reason,
                "calendar": self.calendar, "history": self.history, "forecast": rows,
                "backtest": _plain_tree(self.backtest)}


@dataclass
class ForecastResult:
    """Every series, the year-end projection, the monthly table and the risks of a year."""

    year: int
    as_of: dt.date | None
    series: list[SeriesForecast]
    year_end: pd.DataFrame
    monthly: pd.DataFrame
    risk: pd.DataFrame
    cache_hits: int = 0
    fitted: int = 0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """``{"series": [...], "year_end": [...]}``; each year_end row has its ``risk`` list."""
        year_end = []
        risk_by = {k: g for k, g in self.risk.groupby("institution_id", sort=False)}
        for row in self.year_end.to_dict("records"):
            entry: dict[str, Any] = {"institution_id": row["institution_id"],
                                     "year": int(row["year"]),
                                     "as_of": self.as_of.isoformat() if self.as_of else None}
            for name in pj.FIGURES:
                entry[name] = {q: _plain(row[f"{name}_{q}"]) for q in ("p10", "p50", "p90")}
            r = risk_by.get(row["institution_id"], self.risk.iloc[0:0])
            entry["risk"] = [{k: _plain(v) for k, v in x.items() if k != "institution_id"}
                             for x in r.to_dict("records")]
            year_end.append(entry)
        return {"series": [s.to_json() for s in self.series], "year_end": year_end}


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _plain_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_tree(v) for v in value]
    return _plain(value)


def _settings_of(settings: Any) -> ForecastingSettings:
    return getattr(settings, "forecasting", None) or ForecastingSettings()


def _regressor_frame(calendar: WorkingCalendar, weather: pd.DataFrame,
                     days: pd.DatetimeIndex) -> pd.DataFrame:
    frame = calendar_frame(calendar, days)[["ds", "workday"]]
    if not weather.empty:
        w = weather.set_index("ds").reindex(days)
        frame["hdd_c_day"] = w["hdd_c_day"].to_numpy(float)
        frame["cdd_c_day"] = w["cdd_c_day"].to_numpy(float)
    return frame


def daily_task(series: DailySeries, year: int, regressors: pd.DataFrame,
               fc: ForecastingSettings, horizon_days: int | None) -> SeriesTask | None:
    """The task of a daily series (None when it has no known day)."""
    known = series.known_days
    if not len(known):
        return None
    last = known.max()
    year_first, year_last = pd.Timestamp(year, 1, 1), pd.Timestamp(year, 12, 31)
    display_end = last + pd.Timedelta(days=horizon_days) if horizon_days else year_last
    end = max(display_end, year_last)
    days = pd.date_range(min(known.min(), year_first), end, freq="D")
    y = series.frame.set_index("ds")["y"].reindex(days)
    frame = regressors.set_index("ds").reindex(days).reset_index(names="ds")
    frame.insert(1, "y", y.to_numpy(float))
    names = [c for c in ("workday", "hdd_c_day", "cdd_c_day") if c in frame]
    quantity = series.frame.set_index("ds")["quantity"]
    year_days = pd.date_range(year_first, year_last, freq="D")
    unknown = year_days[quantity.reindex(year_days).isna().to_numpy()]
    return SeriesTask(
        key=(series.institution_id, series.carrier, series.unit, series.use), frequency="D",
        frame=frame, regressors=names,
        display=pd.date_range(last + pd.Timedelta(days=1), display_end, freq="D"),
        predict=pd.DatetimeIndex(unknown), samples=fc.samples,
        min_history_days=fc.min_history_days, horizons=list(fc.backtest_horizons_days),
        cutoffs=fc.backtest_cutoffs, changepoint_prior_scale=fc.changepoint_prior_scale,
    )


def monthly_tasks(bills: pd.DataFrame, year: int, project: bool,
                  fc: ForecastingSettings) -> list[tuple[SeriesTask, dict, str]]:
    """Tasks of the bill and fuel-card lines: (task, history, source)."""
    out = []
    if bills.empty:
        return out
    first_year = year - HISTORY_YEARS
    months = pd.date_range(pd.Timestamp(first_year, 1, 1), pd.Timestamp(year, 12, 1), freq="MS")
    for (inst, carrier, unit, use, source), g in bills.groupby(
            ["institution_id", "carrier", "unit", "use", "source"], sort=True):
        ds = pd.to_datetime(dict(year=g["year"], month=g["month"], day=1))
        q = pd.Series(g["quantity"].to_numpy(float), index=ds).groupby(level=0).sum()
        y = q.reindex(months)
        continuous = carrier in CONTINUOUS

        current = _months_of(y, year, continuous)
        if not continuous:
            billed = np.flatnonzero(~np.isnan(y[y.index.year == year].to_numpy(float)))
            if len(billed):
                current[billed.max() + 1:] = np.nan
        last_billed = int(np.flatnonzero(~np.isnan(current)).max()) + 1 if (
            ~np.isnan(current)).any() else 0
        predict = (pd.date_range(pd.Timestamp(year, last_billed + 1, 1), pd.Timestamp(year, 12, 1),
                                 freq="MS") if project and last_billed < 12
                   else pd.DatetimeIndex([]))
        frame = pd.DataFrame({"ds": months, "y": y.to_numpy(float)})
        frame.loc[frame["ds"].dt.year == year, "y"] = current
        task = SeriesTask(key=(str(inst), str(carrier), str(unit), str(use)), frequency="MS",
                          frame=frame, regressors=[], display=predict, predict=predict,
                          samples=fc.samples,
                          changepoint_prior_scale=fc.changepoint_prior_scale,
                          min_ratio_sigma=fc.min_ratio_sigma,
                          previous=_months_of(y, year - 1, continuous), current=current)
        known = y.dropna()
        history = {"first": known.index.min().date().isoformat() if len(known) else None,
                   "last": known.index.max().date().isoformat() if len(known) else None,
                   "days": len(known), "estimated_days": 0}
        out.append((task, history, str(source)))
    return out


def _months_of(y: pd.Series, year: int, continuous: bool) -> np.ndarray:
    """A year's 12 monthly values; for event carriers (deliveries, fuel cards, seasonal heat
    bills) a month without a record in a year with records is 0, for monthly utility bills NaN."""
    values = y[y.index.year == year].to_numpy(float)
    if not continuous and not np.isnan(values).all():
        values = np.where(np.isnan(values), 0.0, values)
    return values


def _run(tasks: list[SeriesTask], fc: ForecastingSettings, cache: ForecastCache,
         progress: Callable[[int, int], None] | None, client: Any) -> tuple[list[SeriesOutput], int]:
    keys = [task_key(t) for t in tasks]
    outputs: list[SeriesOutput | None] = [cache.get(k) for k in keys]
    todo = [i for i, o in enumerate(outputs) if o is None]
    total, cached = len(tasks), len(tasks) - len(todo)
    if progress and cached:
        progress(cached, total)

    def tick(done: int, _total: int) -> None:
        if progress:
            progress(cached + done, total)

    fresh = run_tasks([tasks[i] for i in todo], fc.executor, fc.workers, fc.scheduler_address,
                      tick, client)
    for i, out in zip(todo, fresh, strict=True):
        outputs[i] = out
        cache.put(keys[i], out)
    return [o for o in outputs if o is not None], len(todo)


def forecast_year(settings: Any, year: int, *, store: Any = None,
                  institutions: list[str] | None = None, carriers: list[str] | None = None,
                  horizon_days: int | None = None,
                  progress: Callable[[int, int], None] | None = None,
                  client: Any = None) -> ForecastResult:
    """Forecast every series of ``year`` and project the year's figures and risks.

    Parameters
    ----------
    settings
        The deployment's settings (``jieneng.settings.Settings``; ``[forecasting]`` optional).
    year
        The year projected to 31 December.
    store
        A ``storage.TimeSeriesStore``; opened from the settings (and closed) when None.
    institutions, carriers
        Only these (default: all). With a carrier filter the year-end figures project only those
        carriers; the others count as measured or billed to date.
    horizon_days
        Days of forecast rows shown per series (default: to 31 December). The projection always
        runs to 31 December.
    progress
        Called with (series done, total).
    client
        A ``distributed.Client`` to use with ``executor = "dask"`` (default: one is made).

    Returns
    -------
    ForecastResult
    """
    fc = _settings_of(settings)
    tz = settings.site.tzinfo
    own = store is None and bool(settings.meters)
    if own:
        store = open_store(settings)
    first = dt.date(year - HISTORY_YEARS, 1, 1)
    last = dt.date(year, 12, 31)
    try:
        account = compute_account(settings, year, store=store)
        inputs = account.inputs  # what the account read: the store is not read twice
        daily = (daily_consumption(store, settings, first, last) if settings.meters
                 else pd.DataFrame(columns=["institution_id", "carrier", "unit", "use", "day",
                                            "quantity", "coverage", "estimated_share"]))
        end = last + dt.timedelta(days=horizon_days or 0)
        temperature = (daily_temperature(store, tz, first, end, fc.weather_meter)
                       if store is not None else pd.Series(dtype=float))
    finally:
        if own:
            store.close()
    base = account.consumption
    # how the boundary and compound rules moved the quantities to date (before any filter)
    shares = pj.transfer_shares(inputs.consumption, base)
    if institutions:
        daily = daily[daily["institution_id"].isin(institutions)]
        base = base[base["institution_id"].isin(institutions)]
    if carriers:
        daily = daily[daily["carrier"].isin(carriers)]
    series = daily_series(daily, first, last, fc.max_estimated_share)
    calendar_dir = settings.resolve(fc.calendar_dir) if hasattr(settings, "resolve") else None
    calendar = load_calendar(fc.country, calendar_dir)
    days = pd.date_range(first, end + dt.timedelta(days=366), freq="D")
    weather = weather_frame(temperature, days, fc.hdd_base_c, fc.cdd_base_c)
    regressors = _regressor_frame(calendar, weather, days)

    known_last = [s.known_days.max() for s in series if len(s.known_days)]
    as_of = max(known_last).date() if known_last else None
    today = dt.datetime.now(tz).date()
    project_bills = year >= (as_of or today).year

    bills = bill_months(settings, list(range(year - HISTORY_YEARS, year + 1)))
    if institutions:
        bills = bills[bills["institution_id"].isin(institutions)]
    if carriers:
        bills = bills[bills["carrier"].isin(carriers)]
        base = base[base["carrier"].isin(carriers) | ~base["source"].isin(["bill", "fuel_card"])]
    monthly = monthly_tasks(bills, year, project_bills, fc)

    cache_dir = settings.resolve(fc.cache_path) if str(fc.cache_path) not in ("", ".") else None
    cache = ForecastCache(cache_dir)
    daily_tasks = [daily_task(s, year, regressors, fc, horizon_days) for s in series]
    tasks = [t for t in daily_tasks if t is not None] + [m[0] for m in monthly]
    outputs, fitted = _run(tasks, fc, cache, progress, client)
    by_key = dict(zip([(t.key, t.frequency) for t in tasks], outputs, strict=True))

    results: list[SeriesForecast] = []
    lines: list[pj.Line] = []
    for s, t in zip(series, daily_tasks, strict=True):
        cal = calendar.name(s.known_days.min().date(), last) if len(s.known_days) else \
            calendar.name(dt.date(year, 1, 1), last)
        if t is None:
            results.append(SeriesForecast(
                s.institution_id, s.carrier, s.unit, "D", "none",
                f"no measured day between {first} and {last}: nothing to forecast (the year's "
                "figures count no value for it, not 0)", cal, s.history(), _empty_forecast(),
                {}, s.use, "meter"))
            continue
        out = by_key[(t.key, "D")]
        results.append(SeriesForecast(s.institution_id, s.carrier, s.unit, "D", out.model,
                                      out.reason, cal, s.history(), out.forecast, out.backtest,
                                      s.use, "meter"))
        known = s.frame.set_index("ds")["quantity"]
        paths, flags = pj.monthly_paths(year, known, out.sample_dates, out.samples)
        lines.append(pj.Line(s.institution_id, s.carrier, s.unit, s.use, "meter", paths, flags,
                             pj.known_months(year, known)))
    for task, history, source in monthly:
        out = by_key[(task.key, "MS")]
        inst, carrier, unit, use = task.key
        results.append(SeriesForecast(inst, carrier, unit, "MS", out.model, out.reason,
                                      "monthly (no calendar)", history, out.forecast,
                                      out.backtest, use, source))
        if out.model == "none":
            continue
        current = pd.Series(task.current, index=pd.date_range(pd.Timestamp(year, 1, 1),
                                                               periods=12, freq="MS"))
        paths, flags = pj.monthly_paths(year, current, out.sample_dates, out.samples)
        lines.append(pj.Line(inst, carrier, unit, use, source, paths, flags,
                             pj.known_months(year, current)))

    increments = pj.move_increments(lines, shares)
    year_end, monthly_frame, risk = _project(settings, account, base, increments, year,
                                             fc.samples, institutions)
    return ForecastResult(year, as_of, results, year_end, monthly_frame, risk,
                          cache_hits=len(tasks) - fitted, fitted=fitted)


def _empty_forecast() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.DatetimeIndex([]), "yhat": [], "yhat_lower": [],
                         "yhat_upper": []})


def _project(settings: Any, account: Any, base: pd.DataFrame, increments: list[pj.Line],
             year: int, samples: int, institutions: list[str] | None
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    profile_columns = [*engine.PROFILE_COLUMNS, "floor_area_m2", "heated_area_m2", "occupants"]
    profile = account.figures.reindex(columns=profile_columns)
    if institutions:
        profile = profile[profile["institution_id"].isin(institutions)]
    if profile.empty or (base.empty and not increments):
        empty_year = pd.DataFrame(columns=["institution_id", "year", *[
            f"{n}_{q}" for n in pj.FIGURES for q in ("p10", "p50", "p90")]])
        return (empty_year, pj.monthly_table([], base, pd.DataFrame(
            columns=["carrier", "unit", "province", "use", "kgce_per_unit", "kgco2_per_unit"]),
            pd.Series(dtype=object), samples), pd.DataFrame(columns=pj.RISK_COLUMNS))
    reference = load_reference(settings.accounting, settings.base_dir)
    stacked = pj.stacked_consumption(base, increments, samples)
    figures, factors = pj.project_figures(stacked, profile, reference, year, samples)
    year_end = pj.year_end_table(figures, year)
    delta = engine.equal_value_delta(reference, year)
    verdicts = account.verdicts
    fyp = verdicts[verdicts["kind"].astype(str) == "fyp14"]
    risk = pd.concat([pj.quota_risk(figures, reference.quotas(), delta),
                      pj.fyp14_risk(figures, fyp)], ignore_index=True)
    provinces = profile.set_index("institution_id")["province"]
    monthly = pj.monthly_table(increments, base, factors, provinces, samples)
    return year_end, monthly, risk


def risk_table(result: ForecastResult, language: str = "zh") -> str:
    """One line per institution: projected kgce/m² (p50), its p10–p90 band, P(above 约束值) and
    P(off the 十四五 path) (the highest over the kgce-per-m² quota indicators)."""
    def t(key: str, **fields: Any) -> str:
        return text(f"forecast.{key}", language, **fields)

    lines = [t("risk_title", year=result.year, as_of=result.as_of or "—"),
             f"{t('institution'):<12} {t('kgce_per_m2'):>16} {t('band'):>15} "
             f"{t('p_constraint'):>14} {t('p_off_path'):>14}"]
    risk = result.risk
    for row in result.year_end.to_dict("records"):
        inst = row["institution_id"]
        r = risk[risk["institution_id"] == inst]
        area = r[(r["kind"] == "quota") & (r["level"] == "constraint")
                 & r["subject"].astype(str).str.contains("kgce_per_m2")]
        path = r[(r["kind"] == "fyp14") & (r["level"] == "path")
                 & (r["subject"] == "kgce_per_m2")]
        p50, p10, p90 = (row.get(f"kgce_per_m2_{q}") for q in ("p50", "p10", "p90"))
        if p50 is None or pd.isna(p50):
            lines.append(f"{inst:<12} {t('no_projection')}")
            continue
        p_c = f"{area['probability'].max():.0%}" if len(area) else "—"
        p_p = f"{path['probability'].max():.0%}" if len(path) else "—"
        lines.append(f"{inst:<12} {p50:>16.1f} {f'{p10:.1f}–{p90:.1f}':>15} {p_c:>14} {p_p:>14}")
    return "\n".join(lines)
