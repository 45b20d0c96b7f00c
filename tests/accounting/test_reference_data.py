"""Reference data: every default factor of issue 5, the year rule, switches and overrides.

Each expected value cites the publication it comes from.
"""

from __future__ import annotations

import csv

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting import units
from accounting.errors import ReferenceDataError, UnitError
from accounting.reference_data import available_factor_sets, load_reference
from jieneng.settings import AccountingSettings
from tests.support.accounting import TEST_DATA, default_reference

_REF = default_reference()


# (carrier, unit, kgce per unit, citation)
DEFAULT_TCE = [
    ("electricity", "kWh", 0.1229, "GB/T 2589-2020 当量值; NBS yearbook note"),
    ("natural_gas", "m3", 1.2143, "NBS reference table 12.143 tce/10^4 m3"),
    ("gasoline", "kg", 1.4714, "GB/T 2589-2020 / NBS reference table"),
    ("gasoline", "L", 1.4714 * 0.73, "GB/T 2589-2020 per kg, at 0.73 kg/L"),
    ("diesel", "kg", 1.4571, "GB/T 2589-2020 / NBS reference table"),
    ("diesel", "L", 1.4571 * 0.86, "GB/T 2589-2020 per kg, at 0.86 kg/L"),
    ("lpg", "kg", 1.7143, "GB/T 2589-2020 / NBS reference table"),
    ("coal", "kg", 0.7143, "GB/T 2589-2020 raw coal 原煤"),
    ("coal", "t", 714.3, "GB/T 2589-2020 raw coal, per tonne"),
    ("heat", "GJ", 34.12, "GB/T 2589-2020 0.03412 kgce/MJ"),
    ("heat", "MJ", 0.03412, "GB/T 2589-2020 0.03412 kgce/MJ"),
    ("water", "m3", 0.0, "DB37/T 2672-2019 App. B: water is not counted in 综合能耗"),
]


@pytest.mark.parametrize(("carrier", "unit", "expected", "citation"), DEFAULT_TCE)
def test_default_tce_coefficients(reference, carrier, unit, expected, citation):
    factor = reference.kgce_per_unit(carrier, unit, 2025)
    assert factor.value == pytest.approx(expected, rel=1e-12), citation
    assert factor.unit == f"kgce/{unit}"
    assert factor.source
    assert factor.confidence in "VSDU"


# (carrier, unit, kgCO2 per unit, citation)
DEFAULT_CO2 = [
    ("natural_gas", "m3", 2.1622, "NDRC guideline default parameters"),
    ("gasoline", "kg", 2.9251, "NDRC guideline default parameters"),
    ("gasoline", "L", 2.9251 * 0.73, "NDRC guideline defaults, ≈2.14 kg/L at 0.73 kg/L"),
    ("diesel", "kg", 3.0959, "NDRC guideline default parameters"),
    ("diesel", "L", 3.0959 * 0.86, "NDRC guideline defaults, ≈2.66 kg/L at 0.86 kg/L"),
    ("lpg", "kg", 3.1013, "NDRC guideline default parameters"),
    ("coal", "kg", 1.9003, "NDRC guideline defaults, raw coal (generic)"),
    ("heat", "GJ", 110.0, "NDRC 2013-2015 GHG guidelines default 0.11 tCO2/GJ"),
    ("pv", "kWh", 0.0, "JS/T 303-2026: green power counts 0"),
]


@pytest.mark.parametrize(("carrier", "unit", "expected", "citation"), DEFAULT_CO2)
def test_default_co2_factors(reference, carrier, unit, expected, citation):
    factor = reference.kgco2_per_unit(carrier, unit, 2025, "shandong")
    assert factor.value == pytest.approx(expected, rel=1e-12), citation


def test_every_shipped_grid_factor_matches_the_published_values(reference):
    # tests/accounting/data/grid-emission-factors.csv: the MEE/NBS values, cited in its README.
    with (TEST_DATA / "grid-emission-factors.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    grid = reference.grid_factors().set_index(["province", "year"])["kgco2_per_kwh"]
    assert len(grid) == len(rows)
    for row in rows:
        assert grid[(row["region"], int(row["year"]))] == float(row["kgco2_per_kwh"])


def test_grid_factor_of_the_province_for_a_published_year(reference):
    # §2.1 provincial table: Shaanxi 2022 = 0.6558; grid-emission-factors.csv: Shandong 2023 0.6191
    assert reference.kgco2_per_unit("electricity", "kWh", 2022, "shaanxi").value == 0.6558
    factor = reference.kgco2_per_unit("electricity", "kWh", 2023, "shandong")
    assert factor.value == 0.6191
    assert factor.year == 2023
    assert factor.note == ""


def test_a_year_without_a_factor_uses_the_latest_earlier_year_and_says_so(reference):
    factor = reference.kgco2_per_unit("electricity", "kWh", 2025, "shandong")
    assert factor.value == 0.6191  # Shandong 2023, the latest published
    assert factor.year == 2023
    assert "2025 has no published grid factor; used 2023" in factor.note


def test_a_year_before_the_first_publication_uses_the_earliest_and_says_so(reference):
    factor = reference.kgco2_per_unit("electricity", "kWh", 2020, "shandong")
    assert factor.value == 0.6838  # Shandong 2021
    assert "before the first published" in factor.note


def test_a_province_without_a_factor_uses_the_national_average(reference):
    # Tibet has only a 2023 proxy row: for 2022 the national average 0.5366 (§2.1) is used.
    factor = reference.kgco2_per_unit("electricity", "kWh", 2022, "tibet")
    assert factor.value == 0.5366
    assert factor.region == "china"
    assert "national average" in factor.note
    unknown = reference.kgco2_per_unit("electricity", "kWh", 2021, "atlantis")
    assert unknown.value == 0.5568
    assert "no grid factor for province 'atlantis'" in unknown.note


def test_grid_factor_in_mwh(reference):
    assert reference.kgco2_per_unit("electricity", "MWh", 2023, "shandong").value == pytest.approx(
        619.1
    )


def test_switches_select_the_alternative_factors():
    reference = load_reference(AccountingSettings(
        electricity_tce_basis="equal_value", natural_gas_kgce_per_m3="statistics_platform",
        emission_factor_policy="national",
    ))
    electricity = reference.kgce_per_unit("electricity", "kWh", 2024)
    assert electricity.value == 0.31  # §1.1 等价值 in DB37/T 2672-2019 App. B
    assert "used 2019" in electricity.note
    assert reference.kgce_per_unit("natural_gas", "m3", 2024).value == 1.33  # §1.2 platform practice
    assert reference.kgco2_per_unit("electricity", "kWh", 2023, "shandong").value == 0.5306  # national


def test_a_deployer_overrides_a_factor_and_adds_a_quota_table(tmp_path):
    (tmp_path / "quotas").mkdir()
    (tmp_path / "tce_factors.csv").write_text(
        "carrier,unit,variant,kgce_per_unit,year,region,source,confidence,note\n"
        "natural_gas,m3,standard,1.30,,local,our bureau's 2025 notice,V,\n",
        encoding="utf-8",
    )
    (tmp_path / "grid_factors.csv").write_text(
        "region_type,region,region_zh,year,kgco2_per_kwh,source,confidence,note\n"
        "province,shandong,山东,2024,0.6000,provincial notice 2025,V,\n",
        encoding="utf-8",
    )
    (tmp_path / "quotas" / "our_city_2025.csv").write_text(
        "table,standard,province,category,level,area,climate_zone,subtype,indicator,unit,"
        "constraint,baseline,guide,tce_basis,year,source,confidence,note\n"
        "our_city_2025,市定额,shandong,government,municipal,,cold,,kgce_per_m2,kgce/(m2·a),"
        "20,15,10,,2025,city notice,V,\n",
        encoding="utf-8",
    )
    settings = AccountingSettings(reference_dirs=[tmp_path],
                                  quota_tables=["our_city_2025", "shandong_db37_t_2672_2019"])
    reference = load_reference(settings)
    gas = reference.kgce_per_unit("natural_gas", "m3", 2025)
    assert gas.value == 1.30
    assert gas.source == "our bureau's 2025 notice"
    assert reference.kgce_per_unit("electricity", "kWh", 2025).value == 0.1229  # untouched
    assert reference.kgco2_per_unit("electricity", "kWh", 2025, "shandong").value == 0.6
    quotas = reference.quotas()
    assert set(quotas["table"]) == {"our_city_2025", "shandong_db37_t_2672_2019"}


def test_shandong_quota_table_values(reference):
    # §3.2 DB37/T 2672-2019: 人均综合能耗 市级以下 A区 1197.8 / 781.0 / 453.7
    q = reference.quotas()
    row = q[(q["indicator"] == "kgce_per_person") & (q["level"] == "county")].iloc[0]
    assert (row["constraint"], row["baseline"], row["guide"]) == (1197.8, 781.0, 453.7)
    assert row["confidence"] == "S"
    assert len(q) == 10


def test_gb51161_office_indicators_are_flagged_unverified(reference):
    q = reference.quotas(["gb_t_51161_2016_office"])
    assert (q["confidence"] == "U").all()
    assert q["note"].str.contains("UNVERIFIED").all()
    row = q[(q["category"] == "government") & (q["subtype"] == "class_a")
            & (q["climate_zone"] == "cold")].iloc[0]
    assert (row["constraint"], row["guide"]) == (55, 45)  # GB/T 51161-2016 Table 5.2.1 A类 党政机关 严寒/寒冷


def test_targets_and_2020_baseline(reference):
    t = reference.targets()
    base = t[(t["kind"] == "baseline") & (t["indicator"] == "kgce_per_m2")].iloc[0]
    assert (base["year"], base["value"]) == (2020, 18.48)  # 国管节能〔2021〕195号
    target = t[(t["kind"] == "target") & (t["indicator"] == "kgco2_per_m2")].iloc[0]
    assert (target["year"], target["change_vs_base"]) == (2025, -0.07)  # 国管节能〔2021〕195号


def test_conversion_table_has_every_carrier(reference):
    table = reference.conversion_table(2023)
    assert set(table["carrier"]) == {"electricity", "water", "natural_gas", "lpg", "coal",
                                     "gasoline", "diesel", "heat", "pv"}
    assert table.set_index("carrier").loc["gasoline", "unit"] == "L"


def test_errors_name_what_is_wrong(tmp_path, reference):
    with pytest.raises(ReferenceDataError, match=r"factor_set = 'nope'.*available: default"):
        load_reference(AccountingSettings(factor_set="nope"))
    with pytest.raises(ReferenceDataError, match="unknown quota table"):
        reference.quotas(["no_such_table"])
    with pytest.raises(UnitError, match="does not fit carrier 'electricity'"):
        reference.kgce_per_unit("electricity", "m3", 2024)
    (tmp_path / "co2_factors.csv").write_text(
        "carrier,unit,kgco2_per_unit,year,region,source,confidence,note\n"
        "lpg,kg,three,,,x,V,\nlpg,kg,3,,,y,maybe,\n",
        encoding="utf-8",
    )
    with pytest.raises(ReferenceDataError) as info:
        load_reference(AccountingSettings(reference_dirs=[tmp_path]))
    message = str(info.value)
    assert "co2_factors.csv, row 2, column kgco2_per_unit = 'three': expected a number" in message
    assert "row 3, column confidence = 'maybe'" in message
    assert available_factor_sets() == ["default"]


_UNIT_PAIRS = [
    ("coal", "kg", "t"), ("lpg", "kg", "t"), ("heat", "GJ", "MJ"), ("electricity", "kWh", "MWh"),
    ("natural_gas", "m3", "10^4 m3"), ("pv", "kWh", "MWh"),
]


@settings(max_examples=100, deadline=None)
@given(pair=st.sampled_from(_UNIT_PAIRS),
       quantity=st.floats(min_value=0, max_value=1e9, allow_nan=False),
       year=st.integers(min_value=2015, max_value=2030))
def test_the_unit_a_quantity_is_given_in_does_not_change_its_tce_or_co2(pair, quantity, year):
    carrier, unit_a, unit_b = pair
    reference = _REF
    in_b = units.convert(quantity, carrier, unit_a, unit_b)
    tce_a = quantity * reference.kgce_per_unit(carrier, unit_a, year).value
    tce_b = in_b * reference.kgce_per_unit(carrier, unit_b, year).value
    assert tce_b == pytest.approx(tce_a, rel=1e-9, abs=1e-9)
    co2_a = quantity * reference.kgco2_per_unit(carrier, unit_a, year, "shandong").value
    co2_b = in_b * reference.kgco2_per_unit(carrier, unit_b, year, "shandong").value
    assert co2_b == pytest.approx(co2_a, rel=1e-9, abs=1e-9)
