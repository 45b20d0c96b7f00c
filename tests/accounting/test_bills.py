"""Bills spread over calendar months by day fraction."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.bills import bill_coverage, spread_bills


def _bills(*rows):
    return pd.DataFrame([
        {"institution_id": inst, "carrier": carrier, "period_start": pd.Timestamp(a),
         "period_end": pd.Timestamp(b), "quantity": q, "unit": unit, "cost_cny": cost,
         "account": "", "use": "purchased"}
        for inst, carrier, a, b, q, unit, cost in rows
    ])


def test_a_bill_across_three_months_is_split_by_days():
    # 2024-01-15 .. 2024-03-14 = 17 + 29 + 14 = 60 days (2024 is a leap year)
    months = spread_bills(_bills(("a", "electricity", "2024-01-15", "2024-03-14", 6000.0, "kWh",
                                  4800.0)))
    assert list(months["month"].dt.month) == [1, 2, 3]
    assert list(months["days"]) == [17, 29, 14]
    assert list(months["quantity"]) == pytest.approx([1700.0, 2900.0, 1400.0])
    assert list(months["cost_cny"]) == pytest.approx([1360.0, 2320.0, 1120.0])


def test_a_heating_season_crosses_the_new_year():
    # 2024-11-15 .. 2025-03-15 = 16 + 31 + 31 + 28 + 15 = 121 days
    months = spread_bills(_bills(("a", "heat", "2024-11-15", "2025-03-15", 1210.0, "GJ", None)))
    assert list(months["month"]) == list(pd.to_datetime(
        ["2024-11-01", "2024-12-01", "2025-01-01", "2025-02-01", "2025-03-01"]))
    assert list(months["quantity"]) == pytest.approx([160.0, 310.0, 310.0, 280.0, 150.0])
    coverage = bill_coverage(months)
    assert (coverage["coverage"] == 1.0).all()  # heat is billed per season


def test_a_one_day_bill_and_coverage_of_partial_months():
    months = spread_bills(_bills(
        ("a", "electricity", "2025-02-10", "2025-02-10", 50.0, "kWh", None),
        ("a", "electricity", "2025-01-26", "2025-02-25", 3100.0, "kWh", None),
    ))
    assert months["quantity"].sum() == pytest.approx(3150.0)
    cov = bill_coverage(months).set_index("month")["coverage"]
    assert cov[pd.Timestamp("2025-01-01")] == pytest.approx(6 / 31)
    assert cov[pd.Timestamp("2025-02-01")] == pytest.approx(26 / 28)  # 25 + 1 of 28 days


def test_empty_and_bad_input():
    assert spread_bills(_bills()).empty
    with pytest.raises(ValueError, match="before period_start"):
        spread_bills(_bills(("a", "water", "2025-02-10", "2025-02-01", 5.0, "m3", None)))


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=dt.date(2019, 1, 1), max_value=dt.date(2027, 12, 31)),
    days=st.integers(min_value=0, max_value=800),
    quantity=st.floats(min_value=0, max_value=1e9, allow_nan=False),
)
def test_splitting_a_bill_preserves_its_total(start, days, quantity):
    end = start + dt.timedelta(days=days)
    months = spread_bills(_bills(("a", "electricity", start, end, quantity, "kWh", None)))
    assert months["quantity"].sum() == pytest.approx(quantity, rel=1e-9, abs=1e-6)
    assert months["days"].sum() == days + 1
    assert (months["quantity"] >= 0).all()
    assert months["month"].is_monotonic_increasing
