"""Bills (账单) spread over calendar months by day fraction.

A bill covers ``period_start`` … ``period_end`` (both dates inclusive). Each calendar month gets
``quantity × days of the bill in that month / days of the bill``, so the parts of a bill add up to
the bill. A month's ``coverage`` is the share of its days the bills of one account cover.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "BILL_MONTH_COLUMNS", "CONTINUOUS_BILL_CARRIERS", "SEASONAL_CARRIERS", "bill_coverage",
    "bills_touching", "spread_bills",
]

#: Carriers billed per season (heating season): a bill covers every month it touches.
SEASONAL_CARRIERS = frozenset({"heat"})

#: Carriers a utility bills every month: a month without a bill is a gap (the engine's coverage
#: and the audit's bill-period check). Other bills are seasons, deliveries or event logs.
CONTINUOUS_BILL_CARRIERS = frozenset({"electricity", "water", "natural_gas"})

#: Columns of :func:`spread_bills`.
BILL_MONTH_COLUMNS = [
    "institution_id", "carrier", "month", "quantity", "unit", "cost_cny", "days", "days_in_month",
    "account", "building_id", "use",
]


def bills_touching(bills: pd.DataFrame, year: int) -> pd.DataFrame:
    """The bills whose period has a day in ``year`` (what :func:`spread_bills` needs of a
    ledger for that year; spreading only these keeps a year's work to its own bills)."""
    if bills.empty:
        return bills
    start = pd.to_datetime(bills["period_start"]).to_numpy(dtype="datetime64[D]")
    end = pd.to_datetime(bills["period_end"]).to_numpy(dtype="datetime64[D]")
    keep = (start <= np.datetime64(f"{year}-12-31")) & (end >= np.datetime64(f"{year}-01-01"))
    return bills if keep.all() else bills[keep]


def spread_bills(bills: pd.DataFrame) -> pd.DataFrame:
    """Spread each bill over the calendar months it covers, by day fraction.

    Parameters
    ----------
    bills
        The bills ledger (``LedgerStore.table("bills")``): institution_id, carrier, period_start,
        period_end (inclusive, datetime-like), quantity, unit, and optionally cost_cny, account,
        building_id, use.

    Returns
    -------
    pandas.DataFrame
        One row per bill × month: institution_id, carrier, month (first day of the month,
        Timestamp), quantity and cost_cny (the month's share, in the bill's unit), unit, days (days
        of the bill in the month), days_in_month, account, building_id, use.
    """
    if bills.empty:
        return pd.DataFrame(columns=BILL_MONTH_COLUMNS)
    frame = bills.reset_index(drop=True).copy()
    for column, default in (("cost_cny", np.nan), ("account", ""), ("building_id", None),
                            ("use", None)):
        if column not in frame.columns:
            frame[column] = default
    start = pd.to_datetime(frame["period_start"]).dt.normalize()
    end = pd.to_datetime(frame["period_end"]).dt.normalize()
    if (end < start).any():
        bad = frame.index[end < start][0]
        raise ValueError(f"bill row {bad}: period_end {end[bad]} is before period_start")
    # On numpy datetime64 arrays throughout (a bill a row, months as integers): no Python
    # per bill, so half a million bills spread in well under a second.
    start_d = start.to_numpy(dtype="datetime64[D]")
    end_d = end.to_numpy(dtype="datetime64[D]")
    total_days = (end_d - start_d).astype(np.int64) + 1
    first_month = start_d.astype("datetime64[M]")
    n_months = (end_d.astype("datetime64[M]") - first_month).astype(np.int64) + 1
    bill = np.repeat(np.arange(len(frame)), n_months)
    step = np.arange(len(bill)) - np.repeat(np.cumsum(n_months) - n_months, n_months)
    month_m = first_month[bill] + step.astype("timedelta64[M]")
    month_first = month_m.astype("datetime64[D]")
    month_last = (month_m + np.timedelta64(1, "M")).astype("datetime64[D]") - np.timedelta64(1, "D")
    piece_start = np.maximum(month_first, start_d[bill])
    piece_end = np.minimum(month_last, end_d[bill])
    days = (piece_end - piece_start).astype(np.int64) + 1
    share = days / total_days[bill]
    month_start = pd.DatetimeIndex(month_first.astype("datetime64[ns]"))
    days_in_month = (month_last - month_first).astype(np.int64) + 1

    out = pd.DataFrame({
        "institution_id": frame["institution_id"].to_numpy()[bill],
        "carrier": frame["carrier"].to_numpy()[bill],
        "month": month_start,
        "quantity": frame["quantity"].to_numpy(dtype=float)[bill] * share,
        "unit": frame["unit"].to_numpy()[bill],
        "cost_cny": pd.to_numeric(frame["cost_cny"]).to_numpy(dtype=float)[bill] * share,
        "days": days,
        "days_in_month": days_in_month,
        "account": frame["account"].fillna("").to_numpy()[bill],
        "building_id": frame["building_id"].to_numpy()[bill],
        "use": frame["use"].to_numpy()[bill],
    })
    return out[BILL_MONTH_COLUMNS]


def bill_coverage(months: pd.DataFrame) -> pd.DataFrame:
    """Share of each month covered by bills, per institution × carrier × use × month.

    Each account's coverage is its billed days in the month / days in the month (at most 1),
    except for seasonal carriers (heat), whose bills cover every month they touch; several
    accounts of one institution and carrier are averaged.

    Parameters
    ----------
    months
        The output of :func:`spread_bills`.

    Returns
    -------
    pandas.DataFrame
        institution_id, carrier, use, month, coverage.
    """
    keys = ["institution_id", "carrier", "use", "month"]
    if months.empty:
        return pd.DataFrame(columns=[*keys, "coverage"])
    per_account = months.groupby([*keys, "account"], dropna=False, as_index=False).agg(
        days=("days", "sum"), days_in_month=("days_in_month", "first")
    )
    per_account["coverage"] = np.minimum(per_account["days"] / per_account["days_in_month"], 1.0)
    # Heat is billed per heating season; outside the season there is no heat to bill, so a
    # season's bill covers the months it touches.
    per_account.loc[per_account["carrier"].isin(SEASONAL_CARRIERS), "coverage"] = 1.0
    return per_account.groupby(keys, dropna=False, as_index=False)["coverage"].mean()
