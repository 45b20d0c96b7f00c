"""Factor lookups read each reference table's rows once (grouped by value), not per call.

The grouping must follow the tables: a table replaced after a lookup is read again, and what a
lookup returns never changes what the next one finds.
"""

from __future__ import annotations

import pytest

from accounting.reference_data import load_reference
from jieneng.settings import AccountingSettings


@pytest.fixture
def ref():
    return load_reference(AccountingSettings())  # a fresh one: these tests replace its tables


def test_a_table_replaced_after_a_lookup_is_read_again(ref):
    assert ref.kgce_per_unit("natural_gas", "m3", 2023).value == 1.2143  # NBS 12.143 tce/10^4 m3
    tce = ref.tce.copy()
    tce.loc[(tce["carrier"] == "natural_gas") & (tce["variant"] == "standard"),
            "kgce_per_unit"] = 1.5
    ref.tce = tce
    ref.clear_cache()
    assert ref.kgce_per_unit("natural_gas", "m3", 2023).value == 1.5
    # The grid table likewise (looked up by province, then by region type).
    grid = ref.grid.copy()
    grid["kgco2_per_kwh"] = 1.0
    ref.grid = grid
    ref.clear_cache()
    assert ref.kgco2_per_unit("electricity", "kWh", 2023, "shandong").value == 1.0
    assert ref.kgco2_per_unit("electricity", "kWh", 2023, "atlantis").value == 1.0  # national


def test_lookups_of_every_kind_agree_before_and_after_clearing_the_cache(ref):
    asked = [
        ("kgce", "electricity", "kWh", 2023, None), ("kgce", "gasoline", "L", 2023, None),
        ("kgco2", "electricity", "MWh", 2021, "shaanxi"), ("kgco2", "electricity", "kWh", 2030,
                                                           "beijing"),
        ("kgco2", "diesel", "L", 2023, None), ("kgco2", "electricity", "kWh", 2010, "tibet"),
    ]

    def look(kind, carrier, unit, year, province):
        if kind == "kgce":
            return ref.kgce_per_unit(carrier, unit, year)
        return ref.kgco2_per_unit(carrier, unit, year, province)

    first = [look(*a) for a in asked]
    ref.clear_cache()
    again = [look(*a) for a in reversed(asked)][::-1]
    assert again == first
    # Litres of diesel convert through its density (0.86 kg/L): per-kg factor × 0.86.
    per_kg = ref.kgco2_per_unit("diesel", "kg", 2023).value
    assert first[4].value == pytest.approx(per_kg * 0.86)
    assert "0.86 kg/L" in first[4].note
