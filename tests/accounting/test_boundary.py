"""The statistical boundary: leased-out space with and without its own meter or bill, by hand;
excluding space never raises an institution's energy (hypothesis)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.boundary import (
    boundary_areas,
    estimate_outside,
    excluded_separate,
    inside_buildings,
    split_separate,
)
from accounting.consumption import bills_to_consumption
from jieneng.vocabulary import CONSUMPTION_COLUMNS

YEAR = 2025
OUTSIDE = frozenset({"leased_out", "residential"})
BUILDINGS = pd.DataFrame({
    "building_id": ["X-main", "X-f5"], "institution_id": ["X", "X"],
    "floor_area_m2": [1000.0, 250.0], "use": ["office", "leased_out"],
    "in_use_from": [pd.NaT, pd.NaT], "in_use_until": [pd.NaT, pd.NaT],
})
METERED = pd.DataFrame(columns=["institution_id", "building_id", "carrier", "subitem", "month",
                                "quantity"])


def _bills(*rows: tuple) -> pd.DataFrame:
    """(carrier, quantity, unit, building_id) bills of January."""
    return pd.DataFrame([{
        "institution_id": "X", "carrier": c, "period_start": pd.Timestamp(YEAR, 1, 1),
        "period_end": pd.Timestamp(YEAR, 1, 31), "quantity": q, "unit": u, "cost_cny": None,
        "account": f"{c}-{b}", "building_id": b, "use": "purchased", "green": False}
        for c, q, u, b in rows])


def _run(bills: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    areas = boundary_areas(BUILDINGS, YEAR, OUTSIDE)
    _, kept, dropped = split_separate(BUILDINGS, OUTSIDE, METERED, bills)
    consumption = bills_to_consumption(kept, YEAR)
    scaled, estimates = estimate_outside(consumption, areas, dropped)
    separate = excluded_separate(bills_to_consumption(bills.drop(kept.index), YEAR), areas)
    return scaled, estimates, separate


def test_the_leased_floor_leaves_the_floor_area():
    assert inside_buildings(BUILDINGS, OUTSIDE)["floor_area_m2"].sum() == 1000.0
    areas = boundary_areas(BUILDINGS, YEAR, OUTSIDE).iloc[0]
    assert (areas["whole_m2"], areas["inside_m2"], areas["excluded_m2"]) == (1250.0, 1000.0,
                                                                              250.0)
    assert areas["excluded_uses"] == "leased_out 250 m2"


def test_separately_billed_energy_leaves_exactly():
    # main 10 000 kWh, the tenant's own bill 2 000 kWh; heat 100 GJ on the main building only.
    scaled, estimates, separate = _run(_bills(("electricity", 10_000.0, "kWh", "X-main"),
                                              ("electricity", 2_000.0, "kWh", "X-f5"),
                                              ("heat", 100.0, "GJ", "X-main")))
    by = scaled.groupby("carrier")["quantity"].sum()
    assert by["electricity"] == pytest.approx(10_000.0)  # the tenant's 2 000 left, no estimate
    assert separate[["carrier", "quantity", "method"]].to_dict("records") == [
        {"carrier": "electricity", "quantity": 2_000.0, "method": "separate"}]
    # heat has no separate bill: 250 / 1 250 of it is estimated out, and named
    assert by["heat"] == pytest.approx(80.0)
    heat = estimates[estimates["carrier"] == "heat"].iloc[0]
    assert (heat["method"], heat["quantity"], heat["share"]) == ("estimate", pytest.approx(20.0),
                                                                 pytest.approx(0.2))
    assert "area share" in heat["rule"]


def test_without_a_separate_meter_the_area_share_is_estimated():
    scaled, estimates, separate = _run(_bills(("electricity", 10_000.0, "kWh", "X-main")))
    assert scaled["quantity"].sum() == pytest.approx(8_000.0)  # × 1 000 / 1 250
    assert estimates["quantity"].sum() == pytest.approx(2_000.0)
    assert separate.empty


def test_vehicle_fuel_is_not_scaled():
    c = pd.DataFrame([{"institution_id": "X", "month": 1, "carrier": "gasoline", "unit": "L",
                       "quantity": 100.0, "use": "mobile", "source": "fuel_card",
                       "coverage": 1.0, "estimated_share": 0.0}], columns=CONSUMPTION_COLUMNS)
    scaled, estimates = estimate_outside(c, boundary_areas(BUILDINGS, YEAR, OUTSIDE),
                                         pd.DataFrame(columns=["institution_id", "carrier"]))
    assert scaled["quantity"].iloc[0] == 100.0
    assert estimates.empty


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["X", "Y"]), st.integers(1, 12),
                          st.sampled_from(["electricity", "heat", "gasoline"]),
                          st.floats(0.0, 1e7, allow_nan=False)), min_size=1, max_size=30),
       st.floats(1.0, 1e5), st.floats(0.0, 1e5), st.booleans())
def test_excluding_space_never_raises_an_institution_s_energy(rows, office, leased, separate):
    c = pd.DataFrame([{"institution_id": i, "month": m, "carrier": k,
                       "unit": {"electricity": "kWh", "heat": "GJ", "gasoline": "L"}[k],
                       "quantity": q, "use": "mobile" if k == "gasoline" else "purchased",
                       "source": "bill", "coverage": 1.0, "estimated_share": 0.0}
                      for i, m, k, q in rows], columns=CONSUMPTION_COLUMNS)
    buildings = pd.DataFrame({"building_id": ["X-main", "X-out"], "institution_id": ["X", "X"],
                              "floor_area_m2": [office, leased],
                              "use": ["office", "residential"]})
    dropped = pd.DataFrame({"institution_id": ["X"] if separate else [],
                            "carrier": ["electricity"] if separate else []})
    scaled, estimates = estimate_outside(c, boundary_areas(buildings, YEAR, OUTSIDE), dropped)
    before = c.groupby("institution_id")["quantity"].sum()
    after = scaled.groupby("institution_id")["quantity"].sum()
    for inst in before.index:
        assert after[inst] <= before[inst] + 1e-6
        assert after[inst] >= 0.0
    assert (scaled["quantity"] + 0.0).sum() + estimates["quantity"].sum() == pytest.approx(
        c["quantity"].sum(), rel=1e-9, abs=1e-6)
