"""Hand-computed cases for the accounting engine: one per carrier and per indicator.

Every expected figure is worked out by hand from the shipped reference data
(accounting/reference/default) and cites its factor.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from accounting import engine
from accounting.errors import InputError
from accounting.reference_data import load_reference
from jieneng.settings import AccountingSettings

YEAR = 2023


def _row(inst, carrier, unit, quantity, use="purchased", month=1, coverage=1.0, estimated=0.0,
         source="bill"):
    return {
        "institution_id": inst, "month": month, "carrier": carrier, "unit": unit,
        "quantity": quantity, "use": use, "source": source, "coverage": coverage,
        "estimated_share": estimated,
    }


def _year(inst, carrier, unit, quantity, use="purchased", coverage=1.0, estimated=0.0):
    """Twelve monthly rows adding up to ``quantity``."""
    return [_row(inst, carrier, unit, quantity / 12, use, m, coverage, estimated)
            for m in range(1, 13)]


def _account(reference, rows, profile=None, year=YEAR):
    consumption = pd.DataFrame(rows)
    if profile is None:
        ids = sorted(consumption["institution_id"].unique())
        profile = pd.DataFrame({
            "institution_id": ids, "province": "shandong", "floor_area_m2": 1000.0,
            "occupants": 10.0,
        })
    provinces = profile.set_index("institution_id")["province"]
    factors = engine.build_factor_table(
        reference, year, engine.distinct_keys(consumption, provinces))
    carriers = engine.carrier_totals(consumption, provinces, factors)
    figures = engine.institution_figures(carriers, profile)
    return factors, carriers, figures.set_index("institution_id")


# (carrier, unit, quantity, use, expected kgce, expected kgCO2, scope) — each worked by hand.
CARRIER_CASES = [
    # 1000 kWh × 0.1229 kgce/kWh (当量值, GB/T 2589) = 122.9 kgce;
    # 1000 kWh × 0.6191 kgCO2/kWh (Shandong 2023 grid average) = 619.1 kgCO2, scope 2.
    ("electricity", "kWh", 1000.0, "purchased", 122.9, 619.1, 2),
    # 1000 m3 × 1.2143 kgce/m3 (NBS) = 1214.3 kgce; × 2.1622 kgCO2/m3 (NDRC) = 2162.2, scope 1.
    ("natural_gas", "m3", 1000.0, "stationary", 1214.3, 2162.2, 1),
    # 100 L × 0.73 kg/L × 1.4714 kgce/kg = 107.4122 kgce; 73 kg × 2.9251 kgCO2/kg = 213.5323.
    ("gasoline", "L", 100.0, "mobile", 107.4122, 213.5323, 1),
    # 100 L × 0.86 kg/L × 1.4571 kgce/kg = 125.3106 kgce; 86 kg × 3.0959 kgCO2/kg = 266.2474.
    ("diesel", "L", 100.0, "mobile", 125.3106, 266.2474, 1),
    # 100 kg × 1.7143 kgce/kg = 171.43 kgce; × 3.1013 kgCO2/kg = 310.13 kgCO2, scope 1.
    ("lpg", "kg", 100.0, "stationary", 171.43, 310.13, 1),
    # 2 t = 2000 kg × 0.7143 kgce/kg = 1428.6 kgce; × 1.9003 kgCO2/kg = 3800.6 kgCO2, scope 1.
    ("coal", "t", 2.0, "stationary", 1428.6, 3800.6, 1),
    # 10 GJ × 34.12 kgce/GJ = 341.2 kgce; 10 GJ × 0.11 tCO2/GJ = 1100 kgCO2, scope 2.
    ("heat", "GJ", 10.0, "purchased", 341.2, 1100.0, 2),
    # On-site PV 500 kWh × 0.1229 = 61.45 kgce (energy used); CO2 0 (green power EF = 0).
    ("pv", "kWh", 500.0, "generation", 61.45, 0.0, 0),
    # Certified green electricity 1000 kWh: 122.9 kgce, CO2 0.
    ("electricity", "kWh", 1000.0, "green", 122.9, 0.0, 0),
    # Water is a resource: no tce, no CO2.
    ("water", "m3", 100.0, "purchased", 0.0, 0.0, 0),
]


@pytest.mark.parametrize(
    ("carrier", "unit", "quantity", "use", "kgce", "kgco2", "scope"), CARRIER_CASES)
def test_carrier_totals_hand_computed(reference, carrier, unit, quantity, use, kgce, kgco2,
                                      scope):
    # Beside it a month of electricity measured as 0 kWh: without any electricity data the
    # institution's energy and CO2 would be unknown (NaN), not the carrier's alone.
    _, carriers, figures = _account(reference, [_row("a", carrier, unit, quantity, use),
                                                _row("a", "electricity", "kWh", 0.0)])
    row = carriers.iloc[0]
    assert row["kgce"] == pytest.approx(kgce, rel=1e-9)
    assert row["kgco2"] == pytest.approx(kgco2, rel=1e-9)
    assert row["scope"] == scope
    assert figures.loc["a", "energy_tce"] == pytest.approx(kgce / 1000, rel=1e-9)
    assert figures.loc["a", "co2_t"] == pytest.approx(kgco2 / 1000, rel=1e-9)
    scope1 = kgco2 / 1000 if scope == 1 else 0.0
    scope2 = kgco2 / 1000 if scope == 2 else 0.0
    assert figures.loc["a", "scope1_co2_t"] == pytest.approx(scope1, abs=1e-12)
    assert figures.loc["a", "scope2_co2_t"] == pytest.approx(scope2, abs=1e-12)


def test_indicators_hand_computed(reference):
    rows = [
        _row("a", "electricity", "kWh", 60_000.0, month=1),     # 7374 kgce, 37146 kgCO2
        _row("a", "electricity", "kWh", 40_000.0, month=2),     # 4916 kgce, 24764 kgCO2
        _row("a", "natural_gas", "m3", 2_000.0, "stationary"),  # 2428.6 kgce, 4324.4 kgCO2
        _row("a", "gasoline", "L", 1_000.0, "mobile"),          # 1074.122 kgce, 2135.323 kgCO2
        _row("a", "heat", "GJ", 100.0),                         # 3412 kgce, 11000 kgCO2
        _row("a", "water", "m3", 1_500.0),
    ]
    profile = pd.DataFrame({"institution_id": ["a"], "province": ["shandong"],
                            "floor_area_m2": [2000.0], "occupants": [50.0]})
    _, _, f = _account(reference, rows, profile)
    f = f.loc["a"]
    kgce = 7374 + 4916 + 2428.6 + 1074.122 + 3412          # = 19204.722 kgce
    kgco2 = 37146 + 24764 + 4324.4 + 2135.323 + 11000      # = 79369.723 kgCO2
    assert f["energy_tce"] == pytest.approx(19.204722)      # 综合能耗
    assert f["co2_t"] == pytest.approx(79.369723)
    assert f["scope1_co2_t"] == pytest.approx((4324.4 + 2135.323) / 1000)
    assert f["scope2_co2_t"] == pytest.approx((61910 + 11000) / 1000)
    assert f["kgce_per_m2"] == pytest.approx(kgce / 2000)                     # 9.602361
    assert f["kgce_per_m2_excl_vehicles"] == pytest.approx((kgce - 1074.122) / 2000)
    assert f["kgce_per_m2_non_heating"] == pytest.approx((kgce - 1074.122 - 3412) / 2000)
    assert f["kgce_per_person"] == pytest.approx(kgce / 50)                   # 384.09444
    assert f["water_m3_per_person"] == pytest.approx(1500 / 50)               # 30
    assert f["kgco2_per_m2"] == pytest.approx(kgco2 / 2000)                   # 39.68486
    assert f["kwh_per_m2"] == pytest.approx(100_000 / 2000)                   # 50
    assert f["electricity_kwh"] == pytest.approx(100_000)


def test_missing_denominators_give_nan_not_zero(reference):
    profile = pd.DataFrame({"institution_id": ["a"], "province": ["shandong"],
                            "floor_area_m2": [float("nan")], "occupants": [0.0]})
    _, _, f = _account(reference, [_row("a", "electricity", "kWh", 1000.0)], profile)
    for column in ("kgce_per_m2", "kgce_per_person", "kgco2_per_m2", "kwh_per_m2",
                   "water_m3_per_person"):
        assert math.isnan(f.loc["a", column]), column
    assert f.loc["a", "energy_tce"] == pytest.approx(0.1229)


def test_institution_without_consumption_has_unknown_energy_and_coverage(reference):
    # Missing is never zero: an institution without any data has no energy figure at all.
    profile = pd.DataFrame({"institution_id": ["a", "b"], "province": "shandong",
                            "floor_area_m2": 1000.0, "occupants": 10.0})
    _, _, f = _account(reference, [_row("a", "electricity", "kWh", 1000.0)], profile)
    for figure in ("energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t", "electricity_kwh",
                   "water_m3", "kgce_per_m2", "kgce_per_person", "kgco2_per_m2"):
        assert math.isnan(f.loc["b", figure]), figure
    assert f.loc["b", "missing_carriers"] == "*"
    assert f.loc["b", "energy_coverage"] == 0.0
    # a: electricity known, water unknown (every institution uses water)
    assert f.loc["a", "energy_tce"] == pytest.approx(0.1229)
    assert math.isnan(f.loc["a", "water_m3"])
    assert f.loc["a", "missing_carriers"] == "water"
    assert math.isnan(f.loc["b", "electricity_coverage"])
    assert math.isnan(f.loc["a", "water_coverage"])
    assert math.isnan(f.loc["a", "water_m3_per_person"])   # no water data: unknown, not 0


def test_energy_coverage_is_capped_by_electricity(reference):
    # Gas fully billed but no electricity data at all: the year's energy is not measured.
    rows = _year("a", "natural_gas", "m3", 1000.0, "stationary")
    _, _, f = _account(reference, rows)
    assert f.loc["a", "energy_coverage"] == 0.0
    assert f.loc["a", "co2_coverage"] == 0.0
    assert math.isnan(f.loc["a", "energy_tce"])      # the gas alone is not the year's energy
    assert f.loc["a", "scope1_co2_t"] == pytest.approx(2.1622)   # but its CO2 is known
    # Electricity for 6 of 12 months: energy coverage at most 0.5.
    rows += [_row("a", "electricity", "kWh", 100.0, month=m) for m in range(1, 7)]
    _, _, f = _account(reference, rows)
    assert f.loc["a", "energy_coverage"] == pytest.approx(0.5)


def test_coverage_is_tce_weighted_across_carriers(reference):
    # Electricity 1000 kWh = 122.9 kgce fully measured; gas 100 m3 = 121.43 kgce half measured.
    rows = [*_year("a", "electricity", "kWh", 1000.0, coverage=1.0),
            *_year("a", "natural_gas", "m3", 100.0, "stationary", coverage=0.5, estimated=0.5)]
    _, _, f = _account(reference, rows)
    expected = (122.9 * 1.0 + 121.43 * 0.5) / (122.9 + 121.43)
    assert f.loc["a", "energy_coverage"] == pytest.approx(expected)
    assert f.loc["a", "estimated_share"] == pytest.approx(121.43 * 0.5 / (122.9 + 121.43))


def test_meter_and_bill_coverage_counts_missing_months_as_uncovered(reference):
    # Three months of meter data (coverage 1, 0.5, 0) in a year: (1 + 0.5 + 0) / 12 = 0.125.
    rows = [_row("a", "electricity", "kWh", 100.0, month=m, coverage=c, source="meter")
            for m, c in ((1, 1.0), (2, 0.5), (3, 0.0))]
    _, carriers, f = _account(reference, rows)
    assert carriers.iloc[0]["coverage"] == pytest.approx(0.125)
    assert carriers.iloc[0]["months"] == 3
    assert f.loc["a", "electricity_coverage"] == pytest.approx(0.125)


def test_fuel_card_coverage_is_over_months_with_records(reference):
    # Fuel-card records are a log: two months of refuelling is a complete year's record.
    rows = [_row("a", "gasoline", "L", 50.0, "mobile", month=m, source="fuel_card")
            for m in (3, 7)]
    _, carriers, _ = _account(reference, rows)
    assert carriers.iloc[0]["coverage"] == pytest.approx(1.0)
    assert carriers.iloc[0]["quantity"] == pytest.approx(100.0)


def test_seasonal_heat_bills_are_not_gaps(reference):
    # District heat billed Jan-Mar and Nov-Dec only (the heating season): coverage 1, while an
    # electricity account billed for the same five months covers 5 / 12 of the year.
    months = (1, 2, 3, 11, 12)
    rows = [_row("a", "heat", "GJ", 10.0, month=m) for m in months]
    rows += [_row("a", "electricity", "kWh", 10.0, month=m) for m in months]
    _, carriers, _ = _account(reference, rows)
    coverage = carriers.set_index("carrier")["coverage"]
    assert coverage["heat"] == pytest.approx(1.0)
    assert coverage["electricity"] == pytest.approx(5 / 12)


def test_sources_of_one_carrier_are_weighted_by_quantity(reference):
    # Metered 900 kWh over a full year (coverage 1); billed 100 kWh for six months (6 / 12 = 0.5):
    # (900 × 1 + 100 × 0.5) / 1000 = 0.95.
    rows = [_row("a", "electricity", "kWh", 75.0, month=m, source="meter") for m in range(1, 13)]
    rows += [_row("a", "electricity", "kWh", 100.0 / 6, month=m) for m in range(1, 7)]
    _, carriers, _ = _account(reference, rows)
    assert carriers.iloc[0]["quantity"] == pytest.approx(1000.0)
    assert carriers.iloc[0]["coverage"] == pytest.approx(0.95)


def test_missing_quantity_counts_as_unmeasured(reference):
    rows = [_row("a", "electricity", "kWh", 100.0, month=m) for m in range(1, 12)]
    rows.append(_row("a", "electricity", "kWh", float("nan"), month=12))
    _, carriers, _ = _account(reference, rows)
    assert carriers.iloc[0]["quantity"] == pytest.approx(1100.0)
    assert carriers.iloc[0]["coverage"] == pytest.approx(11 / 12)


def test_national_policy_uses_the_national_grid_factor():
    settings = AccountingSettings(emission_factor_policy="national")
    reference = load_reference(settings)
    factors, carriers, _ = _account(reference, [_row("a", "electricity", "kWh", 1000.0)])
    # 1000 kWh × 0.5306 kgCO2/kWh (national average 2023) = 530.6 kgCO2.
    assert carriers.iloc[0]["kgco2"] == pytest.approx(530.6)
    assert factors.iloc[0]["kgco2_region"] == "china"


def test_year_without_a_published_grid_factor_says_which_it_used(reference):
    factors, carriers, _ = _account(
        reference, [_row("a", "electricity", "kWh", 1000.0)], year=2024)
    # 2024 has no published factor: the 2023 Shandong value 0.6191 is used, and the note says so.
    assert carriers.iloc[0]["kgco2"] == pytest.approx(619.1)
    assert "2024" in factors.iloc[0]["kgco2_note"]
    assert "2023" in factors.iloc[0]["kgco2_note"]


def test_statistics_platform_gas_coefficient():
    reference = load_reference(AccountingSettings(natural_gas_kgce_per_m3="statistics_platform"))
    _, carriers, _ = _account(reference, [_row("a", "natural_gas", "m3", 1000.0, "stationary")])
    # 1000 m3 × 1.33 kgce/m3 (statistics platform) = 1330 kgce.
    assert carriers.iloc[0]["kgce"] == pytest.approx(1330.0)


def test_province_picks_its_own_grid_factor(reference):
    profile = pd.DataFrame({"institution_id": ["a", "b"], "province": ["shandong", "shaanxi"],
                            "floor_area_m2": 1000.0, "occupants": 10.0})
    rows = [_row("a", "electricity", "kWh", 1000.0), _row("b", "electricity", "kWh", 1000.0)]
    _, carriers, _ = _account(reference, rows, profile)
    by_inst = carriers.set_index("institution_id")["kgco2"]
    assert by_inst["a"] == pytest.approx(619.1)   # Shandong 2023 0.6191
    assert by_inst["b"] == pytest.approx(633.5)   # Shaanxi 2023 0.6335


def test_missing_column_is_named():
    consumption = pd.DataFrame([_row("a", "electricity", "kWh", 1.0)]).drop(columns="coverage")
    with pytest.raises(InputError, match=r"missing column\(s\) coverage"):
        engine.carrier_totals(consumption, pd.Series({"a": "shandong"}), pd.DataFrame())


def test_totals_are_sum_over_sum(reference):
    profile = pd.DataFrame({"institution_id": ["a", "b"], "province": "shandong",
                            "floor_area_m2": [1000.0, 3000.0], "occupants": [10.0, 30.0]})
    rows = [_row("a", "electricity", "kWh", 10_000.0), _row("b", "electricity", "kWh", 10_000.0)]
    _, _, f = _account(reference, rows, profile)
    t = engine.totals(f.reset_index())
    # 20 000 kWh × 0.1229 = 2458 kgce over 4000 m2 = 0.6145 kgce/m2 (not the mean of ratios).
    assert t["kgce_per_m2"] == pytest.approx(0.6145)
    assert t["energy_tce"] == pytest.approx(2.458)
    assert t["kwh_per_m2"] == pytest.approx(5.0)


def test_two_rows_in_one_month_average_their_coverage(reference):
    # Two meters' rows for January (coverage 1 and 0) and nothing else: (1 + 0) / 2 / 12.
    rows = [_row("a", "electricity", "kWh", 50.0, coverage=1.0, source="meter"),
            _row("a", "electricity", "kWh", 0.0, coverage=0.0, source="meter")]
    _, carriers, _ = _account(reference, rows)
    assert carriers.iloc[0]["coverage"] == pytest.approx(0.5 / 12)
    assert carriers.iloc[0]["months"] == 1


def test_categorical_key_columns_give_the_same_figures(reference):
    rows = [*_year("a", "electricity", "kWh", 1000.0), *_year("b", "natural_gas", "m3", 50.0,
                                                            "stationary"),
            *_year("b", "electricity", "kWh", 500.0, coverage=0.5)]
    plain = engine.annual_quantities(pd.DataFrame(rows))
    frame = pd.DataFrame(rows)
    for column in ("institution_id", "carrier", "unit", "use", "source"):
        frame[column] = frame[column].astype("category")
    # Both results have categorical text columns, coded alike: the same frame, row for row.
    pd.testing.assert_frame_equal(engine.annual_quantities(frame), plain)


def test_a_row_without_institution_is_refused():
    frame = pd.DataFrame([_row("a", "electricity", "kWh", 1.0), _row(None, "water", "m3", 1.0)])
    with pytest.raises(InputError, match="institution_id is empty"):
        engine.annual_quantities(frame)


def test_account_year_gives_every_verdict_kind(reference):
    rows = [r for i in "abc" for r in _year(i, "electricity", "kWh", 100_000.0)]
    rows += [r for i in "abc" for r in _year(i, "water", "m3", 1000.0)]
    profile = pd.DataFrame({"institution_id": list("abc"), "province": "shandong",
                            "category": "government", "level": "provincial",
                            "climate_zone": "cold", "quota_area": "B", "subtype": "",
                            "floor_area_m2": [1000.0, 2000.0, 3000.0], "occupants": 50.0})
    account = engine.account_year(YEAR, pd.DataFrame(rows), profile, reference, 0.8)
    kinds = set(account.verdicts["kind"])
    assert kinds == {"quota", "fyp14", "peers", "certification", "audit"}
    # Without a 2020 baseline every 十四五 verdict is unknown and says what is missing.
    fyp = account.verdicts[account.verdicts["kind"] == "fyp14"]
    assert set(fyp["status"]) == {"unknown"}
    assert fyp["missing"].str.contains("2020").all()
    assert account.totals["energy_tce"] == pytest.approx(3 * 100_000 * 0.1229 / 1000)


def test_an_unknown_carrier_is_refused(reference):
    with pytest.raises(InputError, match=r"the 2023 consumption table \(unit 't', use "
                       r"'purchased', province 'shandong'\): unknown carrier 'steam'; expected "
                       r"one of coal, "):
        _account(reference, [_row("a", "steam", "t", 1.0)])


def test_an_unknown_carrier_names_the_institutions_year_and_the_carriers_expected(reference):
    rows = [_row("a", "electricity", "kWh", 10.0), _row("b", "steam", "t", 1.0),
            _row("c", "steam", "t", 2.0)]
    profile = pd.DataFrame({"institution_id": list("abc"), "province": "shandong",
                            "floor_area_m2": 1000.0, "occupants": 10.0})
    with pytest.raises(InputError) as raised:
        engine.account_figures(pd.DataFrame(rows), profile, reference, YEAR)
    error = raised.value
    assert not isinstance(error, KeyError)
    assert str(error) == (
        "the 2023 consumption table, institution(s) b, c: unknown carrier(s) 'steam'; expected "
        "one of coal, diesel, electricity, gasoline, heat, lpg, natural_gas, pv, water")
    assert (error.problem, error.where) == (
        "unknown carrier(s) 'steam'", "the 2023 consumption table, institution(s) b, c")


def test_a_month_out_of_range_names_the_institution(reference):
    rows = [_row("a", "electricity", "kWh", 10.0), _row("b", "electricity", "kWh", 1.0, month=13)]
    with pytest.raises(InputError, match=r"the consumption table, institution\(s\) b: month 13 "
                       r"in 1 row\(s\); expected a month of 1-12"):
        engine.annual_quantities(pd.DataFrame(rows))


def test_a_profile_with_an_institution_twice_names_the_year(reference):
    profile = pd.DataFrame({"institution_id": ["a", "a"], "province": "shandong",
                            "floor_area_m2": 1000.0, "occupants": 10.0})
    with pytest.raises(InputError, match=r"the 2023 profile: several rows for institution\(s\) "
                       r"\['a'\]; expected one row per institution"):
        engine.account_figures(pd.DataFrame([_row("a", "electricity", "kWh", 1.0)]), profile,
                               reference, YEAR)
