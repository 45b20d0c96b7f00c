"""The series to forecast, built from the store and the ledgers through accounting's code.

Daily series (metered carriers): :func:`accounting.metered.daily_metered` gives each building ×
sub-item × day, and :func:`accounting.consumption.metered_to_consumption` applies the same
double-counting rule as the monthly path (a building's total meter counts, its sub-item meters
only when it has no total) with the day in place of the month. Nothing here repeats that rule.

A day is

* **measured** when its coverage is (almost) 1;
* **estimated** when part of its consumption was spread over a gap by the counter arithmetic:
  its quantity is known (it counts in the year's actuals) but, above ``max_estimated_share``, it
  is left out of the fit;
* **unknown** otherwise (no reading, or only part of the day): never read as 0, the model
  predicts it.

Monthly series: the bills ledger and fuel cards, per institution × carrier × unit × use, through
:func:`accounting.consumption.bills_to_consumption` and ``fuel_to_consumption``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accounting.consumption import (
    bills_to_consumption,
    fuel_to_consumption,
    metered_to_consumption,
)
from accounting.ledgers import LedgerStore
from accounting.metered import daily_metered

__all__ = ["DailySeries", "bill_months", "daily_consumption", "daily_series"]

#: A day counts as measured from this coverage on. [0-1]
MEASURED_COVERAGE = 0.99


@dataclass
class DailySeries:
    """One institution × carrier's days.

    Attributes
    ----------
    frame
        ``ds`` (every day from ``first_day`` to ``last_day`` asked), ``quantity`` (NaN when
        unknown), ``coverage``, ``estimated_share``, ``known``, ``estimated`` and ``y`` (the
        value fitted: NaN when unknown or estimated above the limit).
    """

    institution_id: str
    carrier: str
    unit: str
    use: str
    frame: pd.DataFrame

    @property
    def known_days(self) -> pd.DatetimeIndex:
        """Days whose quantity is known (measured or estimated)."""
        return pd.DatetimeIndex(self.frame.loc[self.frame["known"], "ds"])

    def history(self) -> dict[str, Any]:
        """``first``, ``last`` (known days, ISO), ``days`` known and ``estimated_days``."""
        known = self.known_days
        return {
            "first": known.min().date().isoformat() if len(known) else None,
            "last": known.max().date().isoformat() if len(known) else None,
            "days": len(known),
            "estimated_days": int(self.frame["estimated"].sum()),
        }


def daily_consumption(store: Any, settings: Any, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Metered consumption per institution × carrier × day (double counting removed).

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, unit, use, day (Timestamp), quantity, coverage, estimated_share.
    """
    per_building = daily_metered(store, settings, first, last)
    columns = ["institution_id", "carrier", "unit", "use", "day", "quantity", "coverage",
               "estimated_share"]
    if per_building.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    # accounting's monthly rule, with the day in the month's place
    out = metered_to_consumption(per_building.rename(columns={"day": "month"}))
    out = out.rename(columns={"month": "day"})
    out["day"] = pd.to_datetime(out["day"])
    return out[columns]


def daily_series(consumption: pd.DataFrame, first: dt.date, last: dt.date,
                 max_estimated_share: float = 0.5) -> list[DailySeries]:
    """One :class:`DailySeries` per institution × carrier × unit × use of ``consumption``."""
    days = pd.date_range(first, last, freq="D")
    out = []
    for (inst, carrier, unit, use), g in consumption.groupby(
            ["institution_id", "carrier", "unit", "use"], sort=True):
        g = g.groupby("day").agg(quantity=("quantity", "sum"), coverage=("coverage", "mean"),
                                 estimated_share=("estimated_share", "mean")).reindex(days)
        coverage = g["coverage"].fillna(0.0).to_numpy(float)
        estimated_share = g["estimated_share"].fillna(0.0).to_numpy(float)
        quantity = g["quantity"].to_numpy(float)
        estimated = (estimated_share > 0) & ~np.isnan(quantity)
        known = ((coverage >= MEASURED_COVERAGE) | estimated) & ~np.isnan(quantity)
        frame = pd.DataFrame({
            "ds": days,
            "quantity": np.where(known, quantity, np.nan),
            "coverage": coverage,
            "estimated_share": estimated_share,
            "known": known,
            "estimated": estimated,
        })
        frame["y"] = np.where(known & (estimated_share <= max_estimated_share), quantity, np.nan)
        out.append(DailySeries(str(inst), str(carrier), str(unit), str(use), frame))
    return out


def bill_months(settings: Any, years: list[int]) -> pd.DataFrame:
    """Billed and fuel-card months of ``years`` (the consumption table's rows, plus ``year``)."""
    ledgers = LedgerStore(settings.resolve(settings.accounting.ledger_path))
    bills, fuel, vehicles = (ledgers.table(k) for k in ("bills", "fuel", "vehicles"))
    parts = []
    for year in years:
        for part in (bills_to_consumption(bills, year),
                     fuel_to_consumption(fuel, vehicles, year)):
            if not part.empty:
                parts.append(part.assign(year=year))
    if not parts:
        return pd.DataFrame(columns=["institution_id", "year", "month", "carrier", "unit",
                                     "quantity", "use", "source", "coverage"])
    return pd.concat(parts, ignore_index=True)
