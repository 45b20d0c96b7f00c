"""Pure aggregation functions shared by the backends.

The databases compute daily aggregates (pushed down); these functions turn daily frames into
monthly ones, merge archived days, and define the reference semantics used by the tests.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from jieneng.vocabulary import Quality
from storage.base import (
    DAILY_COUNTER_COLUMNS,
    DAILY_GAUGE_COLUMNS,
    MONTHLY_COUNTER_COLUMNS,
    MONTHLY_GAUGE_COLUMNS,
    empty_frame,
)

__all__ = [
    "daily_counters_from_readings",
    "daily_gauges_from_readings",
    "merge_archive",
    "monthly_counters_from_daily",
    "monthly_gauges_from_daily",
]

_KEYS = ["meter", "point"]


def monthly_counters_from_daily(daily: pd.DataFrame) -> pd.DataFrame:
    """Monthly counter aggregates from daily ones (same columns, ``month`` instead of ``day``).

    ``delta_sum`` of a month is the sum of the days' ``delta_sum`` plus the non-negative step
    between the last good reading of one day and the first good reading of the next day with data
    in the same month: exactly the sum over consecutive good readings within the month.
    """
    if daily.empty:
        return empty_frame(MONTHLY_COUNTER_COLUMNS)
    d = daily.sort_values([*_KEYS, "day"]).reset_index(drop=True)
    d["month"] = [x.replace(day=1) for x in d["day"]]
    group = [*_KEYS, "month"]
    prev_last = d.groupby(group, sort=False)["last_value"].shift(1)
    step = (d["first_value"].astype(float) - prev_last.astype(float)).clip(lower=0).fillna(0.0)
    d["delta_sum"] = d["delta_sum"].astype(float) + step
    out = d.groupby(group, sort=False).agg(
        first_time=("first_time", "first"),
        first_value=("first_value", "first"),
        last_time=("last_time", "last"),
        last_value=("last_value", "last"),
        delta_sum=("delta_sum", "sum"),
        n_readings=("n_readings", "sum"),
    )
    return out.reset_index()[MONTHLY_COUNTER_COLUMNS]


def monthly_gauges_from_daily(daily: pd.DataFrame) -> pd.DataFrame:
    """Monthly gauge aggregates from daily ones: reading-weighted mean, min, max, count."""
    if daily.empty:
        return empty_frame(MONTHLY_GAUGE_COLUMNS)
    d = daily.copy()
    d["month"] = [x.replace(day=1) for x in d["day"]]
    d["weighted"] = d["mean"].astype(float) * d["n_readings"]
    out = d.groupby([*_KEYS, "month"]).agg(
        weighted=("weighted", "sum"), min=("min", "min"), max=("max", "max"),
        n_readings=("n_readings", "sum"),
    ).reset_index()
    out["mean"] = out["weighted"] / out["n_readings"]
    return out[MONTHLY_GAUGE_COLUMNS]


def merge_archive(
    computed: pd.DataFrame, archived: pd.DataFrame, columns: list[str]
) -> pd.DataFrame:
    """Daily rows computed from raw readings plus archived days; an archived day wins.

    After retention the raw readings of archived days are gone; raw readings written later for an
    archived day (a late backfill) are ignored so the archive stays the one truth for that day.
    """
    if archived.empty:
        out = computed
    elif computed.empty:
        out = archived
    else:
        keys = [*_KEYS, "day"]
        seen = pd.MultiIndex.from_frame(archived[keys])
        keep = ~pd.MultiIndex.from_frame(computed[keys]).isin(seen)
        out = pd.concat([archived[columns], computed.loc[keep, columns]], ignore_index=True)
    if out.empty:
        return empty_frame(columns)
    return out.sort_values([*_KEYS, "day"]).reset_index(drop=True)[columns]


def _good_with_day(readings: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    good = readings[(readings["quality"] == Quality.good) & readings["value"].notna()].copy()
    good["day"] = list(pd.DatetimeIndex(good["time"]).tz_convert(tz).date)
    return good.sort_values([*_KEYS, "time"])


def daily_counters_from_readings(readings: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """Compute daily counter aggregates of a raw-readings frame (the contract's definition).

    Used by tests to check what the databases compute, and by nothing on a hot path.
    """
    good = _good_with_day(readings, tz)
    if good.empty:
        return empty_frame(DAILY_COUNTER_COLUMNS)
    group = [*_KEYS, "day"]
    good["diff"] = good.groupby(group)["value"].diff().clip(lower=0).fillna(0.0)
    out = good.groupby(group).agg(
        first_time=("time", "first"), first_value=("value", "first"),
        last_time=("time", "last"), last_value=("value", "last"),
        delta_sum=("diff", "sum"), n_readings=("value", "size"),
    ).reset_index()
    return out[DAILY_COUNTER_COLUMNS]


def daily_gauges_from_readings(readings: pd.DataFrame, tz: ZoneInfo) -> pd.DataFrame:
    """Compute daily gauge aggregates of a raw-readings frame (the contract's definition)."""
    good = _good_with_day(readings, tz)
    if good.empty:
        return empty_frame(DAILY_GAUGE_COLUMNS)
    out = good.groupby([*_KEYS, "day"]).agg(
        mean=("value", "mean"), min=("value", "min"), max=("value", "max"),
        n_readings=("value", "size"),
    ).reset_index()
    return out[DAILY_GAUGE_COLUMNS]


def counter_step_correction(daily: pd.DataFrame) -> np.ndarray:
    """Return, per daily row, the counter's step from the previous day with data.

    The step is the non-negative difference from the previous day-with-data's last value to this
    day's first value (0 for a series' first row). Rows must be sorted by meter, point, day.
    """
    prev_last = daily.groupby(_KEYS, sort=False)["last_value"].shift(1).astype(float)
    step = (daily["first_value"].astype(float) - prev_last).clip(lower=0).fillna(0.0)
    return step.to_numpy()
