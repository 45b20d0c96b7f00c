"""集中办公区: area, occupant, fixed-share and residual apportionment, hand-computed; the shares
always sum to the shared quantity (hypothesis); a member's sub-meter is not added on top."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting.compounds import (
    apportion,
    compound_figures,
    member_basis,
    members_in_month,
    split_quantity,
    sub_metered,
)
from jieneng.vocabulary import CONSUMPTION_COLUMNS

YEAR = 2025
COMPOUNDS = pd.DataFrame({"compound_id": ["C1"], "name": ["第一集中办公区"],
                          "province": ["shandong"], "climate_zone": ["cold"]})
MEMBERS = pd.DataFrame({"compound_id": ["C1", "C1"], "institution_id": ["A", "B"],
                        "from": [pd.NaT, pd.NaT], "until": [pd.NaT, pd.NaT]})
BUILDINGS = pd.DataFrame({
    "building_id": ["A-1", "B-1", "A-far"], "institution_id": ["A", "B", "A"],
    "floor_area_m2": [600.0, 400.0, 5000.0], "compound_id": ["C1", "C1", None],
})
HEADCOUNT = pd.DataFrame({"institution_id": ["A", "B"], "year": [YEAR, YEAR],
                          "occupants": [30, 10]})
NO_RULES = pd.DataFrame(columns=["compound_id", "carrier", "rule", "residual_rule",
                                 "institution_id", "share"])
NO_SUBS = pd.DataFrame(columns=["compound_id", "carrier", "month", "quantity"])


def _rows(*rows: tuple) -> pd.DataFrame:
    """(institution_id, month, carrier, quantity, source) → consumption rows."""
    return pd.DataFrame([{
        "institution_id": i, "month": m, "carrier": c, "unit": "kWh" if c == "electricity"
        else "m3", "quantity": q, "use": "purchased", "source": s, "coverage": 1.0,
        "estimated_share": 0.0} for i, m, c, q, s in rows], columns=CONSUMPTION_COLUMNS)


def _rules(*rows: tuple) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=NO_RULES.columns)


def _basis() -> pd.DataFrame:
    return member_basis(MEMBERS, BUILDINGS, HEADCOUNT, YEAR)


def _by_member(table: pd.DataFrame) -> dict[str, float]:
    return table.groupby("institution_id")["quantity"].sum().to_dict()


def test_member_basis_is_the_area_in_the_compound_and_the_year_s_occupants():
    b = _basis().set_index("institution_id")
    assert b.loc["A", "area_m2"] == 600.0  # A's other building (5 000 m2) is not in C1
    assert b.loc["B", "area_m2"] == 400.0
    assert (b.loc["A", "occupants"], b.loc["B", "occupants"]) == (30.0, 10.0)
    assert set(b["area_basis"]) == {"compound buildings"}


def test_area_rule_default():
    table, detail = apportion(_rows(("C1", 1, "electricity", 1000.0, "bill")), COMPOUNDS,
                              MEMBERS, NO_RULES, _basis(), NO_SUBS, YEAR)
    assert _by_member(table) == pytest.approx({"A": 600.0, "B": 400.0})
    assert set(table["source"]) == {"apportioned"}
    jan = detail[detail["month"] == 1]
    assert list(jan["rule"]) == ["area", "area"]
    assert list(jan["share"]) == pytest.approx([0.6, 0.4])
    assert list(jan["basis_value"]) == [600.0, 400.0]
    # a monthly electricity bill: the months without one are unknown (NaN), not 0
    assert table.loc[table["month"] == 2, "quantity"].isna().all()


def test_occupant_rule():
    rules = _rules(("C1", "electricity", "occupants", None, None, None))
    table, detail = apportion(_rows(("C1", 1, "electricity", 1000.0, "bill")), COMPOUNDS,
                              MEMBERS, rules, _basis(), NO_SUBS, YEAR)
    assert _by_member(table) == pytest.approx({"A": 750.0, "B": 250.0})  # 30 : 10 persons
    assert set(detail["basis"]) == {"persons"}


def test_fixed_shares():
    rules = _rules(("C1", "water", "fixed", None, "A", 0.7), ("C1", "water", "fixed", None, "B",
                                                             0.3))
    table, _ = apportion(_rows(("C1", 1, "water", 200.0, "bill")), COMPOUNDS, MEMBERS, rules,
                         _basis(), NO_SUBS, YEAR)
    assert _by_member(table) == pytest.approx({"A": 140.0, "B": 60.0})


def test_residual_rule_keeps_the_sub_meters_and_splits_the_rest():
    # main meter 1 000 kWh; A's sub-meter 300, B's 200: the rest 500 by area 600 : 400.
    consumption = _rows(("C1", 1, "electricity", 1000.0, "meter"),
                        ("A", 1, "electricity", 300.0, "meter"),
                        ("B", 1, "electricity", 200.0, "meter"))
    subs = pd.DataFrame({"compound_id": ["C1"], "carrier": ["electricity"], "month": [1],
                         "quantity": [500.0]})
    rules = _rules(("C1", "electricity", "residual", "area", None, None))
    table, detail = apportion(consumption, COMPOUNDS, MEMBERS, rules, _basis(), subs, YEAR)
    jan = table[table["month"] == 1]
    assert _by_member(jan) == pytest.approx({"A": 300.0 + 300.0, "B": 200.0 + 200.0})
    assert jan["quantity"].sum() == pytest.approx(1000.0)  # nothing counted twice, nothing lost
    assert set(detail["rule"]) == {"residual/area"}
    assert list(detail.loc[detail["month"] == 1, "shared_quantity"]) == [500.0, 500.0]


def test_sub_meters_are_read_from_the_members_buildings_in_the_compound():
    metered = pd.DataFrame({
        "institution_id": ["A", "A", "B"], "building_id": ["A-1", "A-1", "B-1"],
        "carrier": ["electricity"] * 3, "subitem": ["01000", "01A00", "01000"],
        "month": [1, 1, 1], "quantity": [300.0, 100.0, 200.0]})
    subs = sub_metered(metered, pd.DataFrame(), BUILDINGS)
    assert subs.to_dict("records") == [
        {"compound_id": "C1", "carrier": "electricity", "month": 1, "quantity": 500.0}]


def test_a_member_counts_only_in_its_months():
    members = MEMBERS.assign(**{"from": [pd.NaT, pd.Timestamp(YEAR, 3, 15)]})
    assert members_in_month(members, "C1", YEAR, 2) == ["A"]
    assert members_in_month(members, "C1", YEAR, 3) == ["A", "B"]
    table, _ = apportion(_rows(("C1", 2, "electricity", 100.0, "bill"),
                               ("C1", 3, "electricity", 100.0, "bill")),
                         COMPOUNDS, members, NO_RULES, _basis(), NO_SUBS, YEAR)
    feb = table[table["month"] == 2]
    assert _by_member(feb) == {"A": 100.0}


def test_a_month_that_cannot_be_split_stays_with_the_compound_and_says_why():
    basis = _basis().assign(area_m2=[600.0, np.nan])
    table, detail = apportion(_rows(("C1", 1, "electricity", 1000.0, "bill")), COMPOUNDS,
                              MEMBERS, NO_RULES, basis, NO_SUBS, YEAR)
    assert _by_member(table) == {"C1": 1000.0}
    assert "area_m2 of member(s) B unknown" in detail["note"].iloc[0]


def test_a_metered_compound_month_without_readings_is_unknown_not_zero():
    table, _ = apportion(_rows(("C1", 1, "electricity", 1000.0, "meter")), COMPOUNDS, MEMBERS,
                         NO_RULES, _basis(), NO_SUBS, YEAR)
    feb = table[table["month"] == 2]
    assert len(feb) == 2
    assert feb["quantity"].isna().all()
    assert (feb["coverage"] == 0).all()


def test_compound_figures_total_and_intensities():
    consumption = _rows(("C1", 1, "electricity", 1000.0, "bill"))
    _, detail = apportion(consumption, COMPOUNDS, MEMBERS, NO_RULES, _basis(), NO_SUBS, YEAR)
    factors = pd.DataFrame({"carrier": ["electricity"], "unit": ["kWh"], "use": ["purchased"],
                            "province": ["shandong"], "kgce_per_unit": [0.1229],
                            "kgco2_per_unit": [0.6191]})
    fig = compound_figures(detail, COMPOUNDS, _basis(), factors).iloc[0]
    assert fig["energy_tce"] == pytest.approx(0.1229)  # 1 000 kWh × 0.1229 kgce/kWh
    assert fig["kgce_per_m2"] == pytest.approx(122.9 / 1000.0)  # over 600 + 400 m2
    assert fig["kgce_per_person"] == pytest.approx(122.9 / 40.0)
    assert fig["member_shares"] == pytest.approx({"A": 0.6 * 0.1229, "B": 0.4 * 0.1229})


@settings(max_examples=200, deadline=None)
@given(st.floats(0.0, 1e9, allow_nan=False),
       st.lists(st.floats(1e-3, 1e6, allow_nan=False), min_size=1, max_size=8))
def test_split_parts_always_sum_to_the_quantity(quantity, weights):
    parts = split_quantity(quantity, weights)
    assert len(parts) == len(weights)
    assert parts.sum() == pytest.approx(quantity, rel=1e-12, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.0, 1e6, allow_nan=False), min_size=1, max_size=12),
       st.sampled_from(["area", "occupants", "fixed"]))
def test_apportioned_shares_sum_to_the_shared_quantity(quantities, rule):
    consumption = _rows(*[("C1", m + 1, "electricity", q, "bill")
                          for m, q in enumerate(quantities)])
    rules = (_rules(("C1", "electricity", "fixed", None, "A", 0.25),
                    ("C1", "electricity", "fixed", None, "B", 0.75)) if rule == "fixed"
             else _rules(("C1", "electricity", rule, None, None, None)))
    table, _ = apportion(consumption, COMPOUNDS, MEMBERS, rules, _basis(), NO_SUBS, YEAR)
    assert "C1" not in set(table["institution_id"])
    per_month = table.groupby("month")["quantity"].sum()
    for m, q in enumerate(quantities):
        assert per_month[m + 1] == pytest.approx(q, rel=1e-12, abs=1e-9)
