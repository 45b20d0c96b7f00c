"""A tce coefficient variant asked for by name, and the 等价值 re-basing delta built on it.

Values cite their publications: 当量值 0.1229 kgce/kWh (GB/T 2589-2020, NBS
yearbook note); 等价值 0.31 kgce/kWh (DB37/T 2672-2019 App. B, the only published one, 2019).
"""

from __future__ import annotations

import pytest

from accounting import engine
from accounting.errors import ReferenceDataError
from accounting.reference_data import load_reference
from jieneng.settings import AccountingSettings


def test_a_variant_asked_for_by_name_ignores_the_settings_choice(reference):
    equal = reference.kgce_per_unit("electricity", "kWh", 2023, variant="equal_value")
    assert equal.value == 0.31
    assert "used 2019" in equal.note  # the year rule still applies and says so
    # The settings' own choice is untouched, before and after.
    assert reference.kgce_per_unit("electricity", "kWh", 2023).value == 0.1229
    assert reference.kgce_per_unit("electricity", "kWh", 2023, variant="equivalent").value == 0.1229


def test_a_variant_is_converted_to_the_unit_asked_for(reference):
    # 0.31 kgce/kWh × 1000 kWh/MWh = 310 kgce/MWh.
    assert reference.kgce_per_unit("electricity", "MWh", 2023, variant="equal_value").value == (
        pytest.approx(310.0))


def test_an_unknown_variant_is_an_error_naming_it(reference):
    with pytest.raises(ReferenceDataError, match="'steam_tables'"):
        reference.kgce_per_unit("electricity", "kWh", 2023, variant="steam_tables")


def test_equal_value_delta_is_equal_value_minus_the_coefficient_in_use(reference):
    # 0.31 − 0.1229 = 0.1871 kgce/kWh.
    assert engine.equal_value_delta(reference, 2023) == pytest.approx(0.1871)
    on_equal_value = load_reference(AccountingSettings(electricity_tce_basis="equal_value"))
    assert engine.equal_value_delta(on_equal_value, 2023) == 0.0


def test_clear_cache_forgets_lookups_and_gives_the_same_factors(reference):
    before = reference.kgce_per_unit("natural_gas", "m3", 2023)
    reference.clear_cache()
    after = reference.kgce_per_unit("natural_gas", "m3", 2023)
    assert after == before
    assert after is not before  # looked up again, not the memoised object
