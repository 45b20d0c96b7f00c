"""Metered monthly consumption: the store's daily counter aggregates → months, per sub-item.

For every configured meter whose carrier has a counter point (``jieneng.vocabulary.
CONSUMPTION_POINTS``), the store's daily aggregates (first/last value and in-day sum per local day)
become a stream of readings, :mod:`accounting.counters` turns them into interval consumption
(wraps, resets, spikes, gaps), and the intervals are spread over the months of the year, cut in
the site's time zone. A month's ``coverage`` is the share of its time actually measured; its
``estimated_share`` is the share of its consumption that was spread over gaps.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from accounting.counters import (
    CounterRules,
    allocate,
    allocate_by_series,
    daily_observations,
    daily_observations_by_series,
    interval_consumption,
    interval_consumption_by_series,
)
from accounting.settings import AccountingConfig, MeterInfo
from jieneng.vocabulary import CONSUMPTION_POINTS

__all__ = [
    "FINDING_COLUMNS",
    "METERED_COLUMNS",
    "counter_rules",
    "daily_metered",
    "metered_bins",
    "metered_bins_per_meter",
    "month_edges",
    "monthly_metered",
    "monthly_metered_with_findings",
]

log = logging.getLogger(__name__)

#: Columns of :func:`monthly_metered`.
METERED_COLUMNS = [
    "institution_id", "building_id", "carrier", "subitem", "year", "month", "quantity", "unit",
    "coverage", "estimated_share", "estimated_quantity", "meters",
]

#: Columns of the counter findings: what (quality), where (meter, start, end), how much.
FINDING_COLUMNS = ["meter", "point", "start", "end", "quality", "quantity", "unit", "note"]

#: Days fetched beyond each end of the year so that gaps across New Year are bridged.
_MARGIN = timedelta(days=31)


def month_edges(year: int, settings: AccountingConfig) -> pd.DatetimeIndex:
    """The 13 boundaries of the year's months, at local midnight, in UTC."""
    tz = settings.site.tzinfo
    local = [datetime(year + (m // 12), m % 12 + 1, 1, tzinfo=tz) for m in range(13)]
    return pd.DatetimeIndex([pd.Timestamp(t).tz_convert("UTC") for t in local])


def counter_rules(meter: MeterInfo, settings: AccountingConfig) -> CounterRules:
    """The counter rules of a meter: its carrier's rate ceiling and the gap length."""
    acc = settings.accounting
    return CounterRules(
        max_rate_per_h=acc.counter_max_rate_per_h.get(str(meter.carrier)),
        gap_s=max(acc.counter_gap_s, 2.0 * meter.poll_interval_s),
    )


def monthly_metered(store: Any, settings: AccountingConfig, year: int) -> pd.DataFrame:
    """Metered consumption per institution × building × carrier × sub-item × month of a year.

    Parameters
    ----------
    store
        A ``storage.TimeSeriesStore`` (only ``daily_counters`` is used).
    settings
        Gives the meters (institution, building, carrier, sub-item), the time zone and the counter
        rules.
    year
        Calendar year, cut in the site's time zone.

    Returns
    -------
    pandas.DataFrame
        :data:`METERED_COLUMNS`; every configured group has all 12 months, a month without data
        has quantity 0 and coverage 0. ``quantity`` is in the carrier's counter unit.
    """
    return monthly_metered_with_findings(store, settings, year)[0]


def monthly_metered_with_findings(
    store: Any, settings: AccountingConfig, year: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like :func:`monthly_metered`, plus the counter findings (:data:`FINDING_COLUMNS`).

    Findings are the intervals of the year that were not plain good steps: wraps, resets,
    removed spikes, gaps and missing data.
    """
    per_meter, findings = metered_bins(store, settings, month_edges(year, settings))
    if per_meter.empty:
        return _empty(METERED_COLUMNS), findings
    per_meter["month"] = per_meter["bin"] + 1
    out = _by_group(per_meter, "month")
    out["year"] = year
    return out[METERED_COLUMNS], findings


def daily_metered(store: Any, settings: AccountingConfig, first: date, last: date) -> pd.DataFrame:
    """Metered consumption per institution × building × carrier × sub-item × local day.

    Parameters
    ----------
    first, last
        First and last day (inclusive), cut in the site's time zone.

    Returns
    -------
    pandas.DataFrame
        institution_id, building_id, carrier, subitem, day (datetime.date), quantity, unit,
        coverage, estimated_share, estimated_quantity, meters.
    """
    tz = settings.site.tzinfo
    days = pd.date_range(first, last + timedelta(days=1), freq="D")
    edges = pd.DatetimeIndex([
        pd.Timestamp(datetime(d.year, d.month, d.day, tzinfo=tz)).tz_convert("UTC") for d in days
    ])
    per_meter, _ = metered_bins(store, settings, edges)
    columns = ["institution_id", "building_id", "carrier", "subitem", "day", "quantity", "unit",
               "coverage", "estimated_share", "estimated_quantity", "meters"]
    if per_meter.empty:
        return _empty(columns)
    per_meter["day"] = [d.date() for d in days[:-1][per_meter["bin"].to_numpy()]]
    return _by_group(per_meter, "day")[columns]


def metered_bins(
    store: Any, settings: AccountingConfig, edges: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Consumption of every configured counter meter in the bins ``[edges[k], edges[k+1])``.

    All meters are computed together (:func:`accounting.counters.interval_consumption_by_series`
    and :func:`accounting.counters.allocate_by_series`); the result is the one of the per-meter
    reference :func:`metered_bins_per_meter`, value for value.

    Parameters
    ----------
    store
        A ``storage.TimeSeriesStore`` (only ``daily_counters`` is used).
    settings
        Gives the meters (in order), the time zone and the counter rules.
    edges
        Bin boundaries (timezone-aware, increasing).

    Returns
    -------
    per_meter
        One row per meter × bin, meters in settings order: bin_start, bin_end, quantity,
        estimated_quantity [counter unit], measured_s, seconds [s], coverage, bin (0-based),
        meter, institution_id, building_id, carrier, subitem, unit. A meter without data has
        quantity 0 and coverage 0.
    findings
        :data:`FINDING_COLUMNS`, for the intervals that touch the bins and are not good.
    """
    meters = _counter_meters(settings)
    if not meters:
        return pd.DataFrame(), _empty(FINDING_COLUMNS)
    point, unit = (np.array([CONSUMPTION_POINTS[str(m.carrier)][i] for m in meters], dtype=object)
                   for i in (0, 1))
    daily = _daily_counters(store, meters, edges)
    series = _meter_of_rows(daily, [m.id for m in meters], point)
    ours = series >= 0
    obs = daily_observations_by_series(daily[ours].assign(series=series[ours]))
    intervals = interval_consumption_by_series(obs, [counter_rules(m, settings) for m in meters])
    bins = allocate_by_series(intervals, edges, len(meters))
    return _with_meters(bins, meters, unit), _findings(intervals, edges, meters, point, unit)


def _meter_of_rows(daily: pd.DataFrame, ids: list[str], point: np.ndarray) -> np.ndarray:
    """The meter (position in ``ids``) of each daily row, -1 for a row of another point."""
    if len(set(ids)) < len(ids):
        raise ValueError("meter ids must be unique")
    if daily.empty:
        return np.zeros(0, dtype=np.int64)
    series = pd.Index(ids).get_indexer(pd.Index(daily["meter"]))
    known = series >= 0
    known[known] = daily["point"].to_numpy(dtype=object)[known] == point[series[known]]
    return np.where(known, series, -1)


def _with_meters(bins: pd.DataFrame, meters: list[MeterInfo], unit: np.ndarray) -> pd.DataFrame:
    """Bins by series (:func:`accounting.counters.allocate_by_series`) with each meter's
    columns, in the order of the per-meter reference."""
    k = bins["series"].to_numpy()
    out = bins.drop(columns=["series", "bin"])
    out["bin"] = bins["bin"]
    for column, values in (
        ("meter", [m.id for m in meters]), ("institution_id", [m.institution for m in meters]),
        ("building_id", [m.building for m in meters]),
        ("carrier", [str(m.carrier) for m in meters]), ("subitem", [m.subitem for m in meters]),
        ("unit", unit),
    ):
        out[column] = np.asarray(values, dtype=object)[k]
    return out


def _findings(intervals: pd.DataFrame, edges: pd.DatetimeIndex, meters: list[MeterInfo],
              point: np.ndarray, unit: np.ndarray) -> pd.DataFrame:
    """:data:`FINDING_COLUMNS` of the intervals (by series) that are not good and touch the
    bins."""
    edge_ns = pd.DatetimeIndex(edges).as_unit("ns").asi8
    touch = (
        (intervals["quality"].to_numpy(dtype=object) != "good")
        & (pd.DatetimeIndex(intervals["end"]).as_unit("ns").asi8 > edge_ns[0])
        & (pd.DatetimeIndex(intervals["start"]).as_unit("ns").asi8 < edge_ns[-1])
    )
    if not touch.any():
        return _empty(FINDING_COLUMNS)
    odd = intervals[touch]
    k = odd["series"].to_numpy()
    return pd.DataFrame({
        "meter": np.array([m.id for m in meters], dtype=object)[k], "point": point[k],
        "start": pd.DatetimeIndex(odd["start"]), "end": pd.DatetimeIndex(odd["end"]),
        "quality": odd["quality"].to_numpy(dtype=object),
        "quantity": odd["quantity"].to_numpy(dtype=float), "unit": unit[k],
        "note": odd["note"].to_numpy(dtype=object),
    })


def metered_bins_per_meter(
    store: Any, settings: AccountingConfig, edges: pd.DatetimeIndex
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference for :func:`metered_bins`: the same result, one meter at a time.

    Each meter's rows go through :func:`accounting.counters.daily_observations`,
    :func:`accounting.counters.interval_consumption` and :func:`accounting.counters.allocate`
    in a Python loop (about 30 ms a meter for a year). Kept to check the vectorised path
    against (tests, ``benchmarks/bench_metered.py``).
    """
    meters = _counter_meters(settings)
    if not meters:
        return pd.DataFrame(), _empty(FINDING_COLUMNS)
    daily = _daily_counters(store, meters, edges)
    series = {key: rows for key, rows in daily.groupby(["meter", "point"], sort=False)}
    per_meter = []
    findings = []
    for meter in meters:
        point, unit = CONSUMPTION_POINTS[str(meter.carrier)]
        rows = series.get((meter.id, point), daily.iloc[0:0])
        obs = daily_observations(rows)
        intervals = interval_consumption(
            obs["time"], obs["value"], counter_rules(meter, settings), obs["inner"]
        )
        bins = allocate(intervals, edges)
        bins["bin"] = np.arange(len(bins))
        bins["meter"] = meter.id
        bins["institution_id"] = meter.institution
        bins["building_id"] = meter.building
        bins["carrier"] = str(meter.carrier)
        bins["subitem"] = meter.subitem
        bins["unit"] = unit
        per_meter.append(bins)
        odd = intervals[
            (intervals["quality"] != "good")
            & (intervals["end"] > edges[0]) & (intervals["start"] < edges[-1])
        ]
        if not odd.empty:
            found = odd[["start", "end", "quality", "quantity", "note"]].copy()
            found["meter"], found["point"], found["unit"] = meter.id, point, unit
            findings.append(found[FINDING_COLUMNS])
    found = pd.concat(findings, ignore_index=True) if findings else _empty(FINDING_COLUMNS)
    return pd.concat(per_meter, ignore_index=True), found


def _counter_meters(settings: AccountingConfig) -> list[MeterInfo]:
    """The configured meters whose carrier has a counter point (a warning for the others)."""
    for m in settings.meters:
        if str(m.carrier) not in CONSUMPTION_POINTS:
            log.warning("meter %s: carrier %s has no counter point; not in metered consumption",
                        m.id, m.carrier)
    return [m for m in settings.meters if str(m.carrier) in CONSUMPTION_POINTS]


def _daily_counters(store: Any, meters: list[MeterInfo], edges: pd.DatetimeIndex) -> pd.DataFrame:
    """The store's daily counter aggregates of the meters' counter points, for the bins and a
    margin either side (so that gaps across the edges are bridged)."""
    points = sorted({CONSUMPTION_POINTS[str(m.carrier)][0] for m in meters})
    return store.daily_counters(
        edges[0].to_pydatetime() - _MARGIN, edges[-1].to_pydatetime() + _MARGIN,
        meters=[m.id for m in meters], points=points,
    )


def _by_group(per_meter: pd.DataFrame, period: str) -> pd.DataFrame:
    """Sum meters of the same institution, building, carrier and sub-item per period."""
    keys = ["institution_id", "building_id", "carrier", "subitem", period]
    out = per_meter.groupby(keys, as_index=False, sort=True).agg(
        quantity=("quantity", "sum"),
        estimated_quantity=("estimated_quantity", "sum"),
        coverage=("coverage", "mean"),
        unit=("unit", "first"),
        meters=("meter", "nunique"),
    )
    positive = out["quantity"] > 0
    out["estimated_share"] = np.where(
        positive, out["estimated_quantity"] / out["quantity"].where(positive, 1.0), 0.0
    )
    return out


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
