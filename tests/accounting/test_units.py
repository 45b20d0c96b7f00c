"""Carrier/unit vocabulary: units that fit, units that do not, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounting import units
from accounting.errors import UnitError


@pytest.mark.parametrize(("carrier", "unit", "symbol"), [
    ("electricity", "kWh", "kWh"), ("electricity", "千瓦时", "kWh"), ("water", "m³", "m3"),
    ("water", "吨", "t"), ("coal", "t", "t"), ("coal", "公斤", "kg"), ("gasoline", "升", "L"),
    ("heat", "gj", "GJ"), ("natural_gas", "立方米", "m3"), ("lpg", "kg", "kg"),
])
def test_accepted_spellings(carrier, unit, symbol):
    assert units.normalise_unit(carrier, unit) == symbol


@pytest.mark.parametrize(("carrier", "unit"), [
    ("electricity", "m3"), ("water", "kWh"), ("coal", "L"), ("gasoline", "kg"), ("heat", "kWh"),
    ("lpg", "m3"), ("pv", "GJ"),
])
def test_a_unit_that_does_not_fit_its_carrier_is_an_error(carrier, unit):
    with pytest.raises(UnitError, match=f"unit '{unit}' does not fit carrier '{carrier}'"):
        units.normalise_unit(carrier, unit)


def test_unknown_carrier():
    with pytest.raises(UnitError, match="unknown carrier 'steam'"):
        units.normalise_unit("steam", "t")


def test_hand_computed_conversions():
    assert units.convert(2.5, "coal", "t", "kg") == 2500.0
    assert units.convert(1500.0, "heat", "MJ", "GJ") == pytest.approx(1.5)
    assert units.to_canonical(3.0, "electricity", "MWh") == (3000.0, "kWh")


_pairs = [(c, u) for c, table in units._UNITS.items() for u in table]


@given(st.sampled_from(_pairs), st.sampled_from(_pairs),
       st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_conversions_round_trip(a, b, quantity):
    carrier, unit_a = a
    other = [u for c, u in _pairs if c == carrier]
    unit_b = b[1] if b[1] in other else other[-1]
    there = units.convert(quantity, carrier, unit_a, unit_b)
    back = units.convert(there, carrier, unit_b, unit_a)
    assert back == pytest.approx(quantity, rel=1e-12, abs=1e-9)
