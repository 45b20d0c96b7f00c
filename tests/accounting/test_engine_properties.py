"""Invariants of the engine, checked with hypothesis on random consumption tables."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounting import engine, units
from accounting.bills import spread_bills
from tests.support.accounting import default_reference

REFERENCE = default_reference()
YEAR = 2023

#: (carrier, canonical unit, use)
LINES = [
    ("electricity", "kWh", "purchased"), ("electricity", "kWh", "green"),
    ("natural_gas", "m3", "stationary"), ("lpg", "kg", "stationary"),
    ("coal", "kg", "stationary"), ("gasoline", "L", "mobile"), ("diesel", "L", "mobile"),
    ("diesel", "L", "stationary"), ("heat", "GJ", "purchased"), ("pv", "kWh", "generation"),
    ("water", "m3", "purchased"),
]
PROVINCES = ["shandong", "shaanxi", "beijing", "nowhere"]

quantity = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
row = st.tuples(
    st.sampled_from(["a", "b", "c"]), st.integers(1, 12), st.sampled_from(LINES), quantity,
    st.floats(0.0, 1.0), st.sampled_from(["meter", "bill", "fuel_card"]),
)
tables = st.lists(row, min_size=1, max_size=30)
FAST = settings(max_examples=20, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame([
        {"institution_id": i, "month": m, "carrier": c, "unit": u, "use": use, "quantity": q,
         "coverage": cov, "estimated_share": 0.0, "source": src}
        for i, m, (c, u, use), q, cov, src in rows
    ])


def _profile(provinces=("shandong", "shaanxi", "nowhere")) -> pd.DataFrame:
    return pd.DataFrame({"institution_id": ["a", "b", "c"], "province": list(provinces),
                         "floor_area_m2": [1000.0, 2000.0, 500.0],
                         "occupants": [10.0, 20.0, 5.0]})


def _figures(consumption: pd.DataFrame, profile: pd.DataFrame | None = None) -> pd.DataFrame:
    profile = _profile() if profile is None else profile
    _, _, figures = engine.account_figures(consumption, profile, REFERENCE, YEAR)
    return figures.set_index("institution_id")


@FAST
@given(tables, st.integers(0, 29), quantity)
def test_more_consumption_never_lowers_tce_or_co2(rows, index, extra):
    before = _figures(_frame(rows))
    grown = list(rows)
    i, m, line, q, cov, src = grown[index % len(grown)]
    grown[index % len(grown)] = (i, m, line, q + extra, cov, src)
    after = _figures(_frame(grown))
    for column in ("energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t"):
        known = before[column].notna()   # (an unknown figure stays unknown or becomes known)
        assert after[column][known].notna().all()
        assert (after[column][known] >= before[column][known]
                - 1e-9 * (1 + before[column][known].abs())).all()


@FAST
@given(tables)
def test_scopes_add_up_and_nothing_is_negative(rows):
    f = _figures(_frame(rows))
    # CO2 is unknown exactly when a scope is (missing is never zero).
    assert (f["co2_t"].isna() == (f["scope1_co2_t"].isna() | f["scope2_co2_t"].isna())).all()
    assert (f["co2_t"] - f["scope1_co2_t"] - f["scope2_co2_t"]).abs().fillna(0.0).max() <= (
        1e-9 * (1 + f["co2_t"].abs().fillna(0.0).max()))
    for column in ("energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t", "kgce_per_m2"):
        assert (f[column].dropna() >= 0).all()
    assert ((f["energy_coverage"] >= 0) & (f["energy_coverage"] <= 1 + 1e-12)).all()


@FAST
@given(tables, st.randoms(use_true_random=False))
def test_row_order_does_not_matter(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    a, b = _figures(_frame(rows)), _figures(_frame(shuffled))
    pd.testing.assert_frame_equal(a, b.loc[a.index], rtol=1e-9)


@FAST
@given(tables, st.floats(1.5, 10.0))
def test_intensity_scales_inversely_with_floor_area(rows, factor):
    base = _figures(_frame(rows))
    profile = _profile()
    profile["floor_area_m2"] *= factor
    bigger = _figures(_frame(rows), profile)
    pd.testing.assert_series_equal(bigger["kgce_per_m2"] * factor, base["kgce_per_m2"],
                                   rtol=1e-9, check_names=False)
    pd.testing.assert_series_equal(bigger["energy_tce"], base["energy_tce"], rtol=1e-12)


@FAST
@given(st.sampled_from([("coal", "kg", "t"), ("lpg", "kg", "t"), ("electricity", "kWh", "MWh"),
                        ("heat", "GJ", "MJ"), ("natural_gas", "m3", "10^4 m3")]), quantity)
def test_unit_conversion_round_trips_and_keeps_tce(case, q):
    carrier, canonical, other = case
    there = units.convert(q, carrier, canonical, other)
    assert units.convert(there, carrier, other, canonical) == pytest.approx(q, rel=1e-12, abs=1e-9)
    # The same quantity written in another unit gives the same energy and CO2.
    kgce = q * REFERENCE.kgce_per_unit(carrier, canonical, YEAR).value
    kgce_other = there * REFERENCE.kgce_per_unit(carrier, other, YEAR).value
    assert kgce_other == pytest.approx(kgce, rel=1e-9, abs=1e-9)
    kgco2 = q * REFERENCE.kgco2_per_unit(carrier, canonical, YEAR, "shandong").value
    kgco2_other = there * REFERENCE.kgco2_per_unit(carrier, other, YEAR, "shandong").value
    assert kgco2_other == pytest.approx(kgco2, rel=1e-9, abs=1e-9)


@FAST
@given(st.dates(min_value=pd.Timestamp("2023-01-01").date(),
                max_value=pd.Timestamp("2023-12-31").date()),
       st.integers(0, 200), st.floats(1.0, 1e6))
def test_a_bill_spread_over_months_keeps_its_total_through_the_engine(start, days, q):
    end = min(pd.Timestamp(start) + pd.Timedelta(days=days), pd.Timestamp("2023-12-31"))
    bills = pd.DataFrame({"institution_id": ["a"], "carrier": ["electricity"],
                          "period_start": [pd.Timestamp(start)], "period_end": [end],
                          "quantity": [q], "unit": ["kWh"], "use": ["purchased"]})
    months = spread_bills(bills)
    assert months["quantity"].sum() == pytest.approx(q, rel=1e-9)
    consumption = pd.DataFrame({
        "institution_id": "a", "month": months["month"].dt.month, "carrier": "electricity",
        "unit": "kWh", "quantity": months["quantity"], "use": "purchased", "source": "bill",
        "coverage": 1.0, "estimated_share": 0.0,
    })
    f = _figures(consumption)
    # q kWh × 0.1229 kgce/kWh, whatever the months it was spread over.
    assert f.loc["a", "energy_tce"] == pytest.approx(q * 0.1229 / 1000, rel=1e-9)


@FAST
@given(tables, st.integers(0, 29), st.floats(0.0, 1.0))
def test_splitting_a_row_in_two_changes_no_total(rows, index, share):
    i, m, line, q, cov, src = rows[index % len(rows)]
    split = [r for k, r in enumerate(rows) if k != index % len(rows)]
    split += [(i, m, line, q * share, cov, src), (i, m, line, q * (1 - share), cov, src)]
    a, b = _figures(_frame(rows)), _figures(_frame(split))
    for column in ("energy_tce", "co2_t", "water_m3", "electricity_kwh"):
        pd.testing.assert_series_equal(a[column], b.loc[a.index, column], rtol=1e-9, atol=1e-9)
