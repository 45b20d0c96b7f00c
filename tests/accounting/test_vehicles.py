"""Official vehicles: L/100 km across a missing odometer reading, kWh/100 km, NEV shares, the
audit checks, and charging counted once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accounting.bureau_rules import BureauRules
from accounting.vehicles import (
    charging_to_consumption,
    fleet_indicators,
    vehicle_indicators,
)
from accounting.verdicts.vehicles import vehicle_verdicts
from jieneng.vocabulary import CONSUMPTION_COLUMNS

YEAR = 2025
T = pd.Timestamp


def _vehicles() -> pd.DataFrame:
    return pd.DataFrame([
        # plate, institution, fuel, new_energy, type, tank, from, until
        ("P1", "A", "gasoline", False, "sedan", 60.0, T(2018, 1, 1), pd.NaT),
        ("P2", "A", "gasoline", False, "sedan", 60.0, T(2025, 3, 1), pd.NaT),   # added
        ("P3", "A", "gasoline", False, "sedan", 60.0, T(2019, 1, 1), pd.NaT),
        ("E1", "A", "electric", True, "sedan", np.nan, T(2025, 6, 1), pd.NaT),   # added, NEV
        ("H1", "B", "hybrid", True, "sedan", 45.0, T(2022, 1, 1), pd.NaT),      # NEV
        ("OLD", "B", "gasoline", False, "sedan", 60.0, T(2010, 1, 1), T(2024, 6, 30)),  # retired
    ], columns=["plate", "institution_id", "fuel", "new_energy", "vehicle_type", "tank_l",
                "in_use_from", "in_use_until"])


def _fuel() -> pd.DataFrame:
    rows = [
        # P1: 40 L at 10 000 km, 30 L without a reading, 50 L at 10 800 km
        ("P1", T(2025, 1, 5), 40.0, 10_000.0), ("P1", T(2025, 1, 20), 30.0, np.nan),
        ("P1", T(2025, 2, 5), 50.0, 10_800.0),
        # P2: 9 L/100 km; P3: 20 L/100 km, and one fill of 70 L > its 60 L tank
        ("P2", T(2025, 3, 5), 30.0, 100.0), ("P2", T(2025, 4, 5), 45.0, 600.0),
        ("P3", T(2025, 3, 5), 30.0, 5_000.0), ("P3", T(2025, 4, 5), 70.0, 5_350.0),
        # H1: readings going backwards
        ("H1", T(2025, 3, 5), 20.0, 8_000.0), ("H1", T(2025, 4, 5), 20.0, 7_900.0),
        # OLD: fuel after it was retired
        ("OLD", T(2025, 2, 1), 40.0, np.nan),
    ]
    out = pd.DataFrame(rows, columns=["plate", "date", "litres", "odometer_km"])
    return out.assign(fuel="gasoline", cost_cny=out["litres"] * 8.0)


def _charging() -> pd.DataFrame:
    return pd.DataFrame({
        "plate": ["E1", "E1", "E1"], "date": [T(2025, 6, 5), T(2025, 6, 20), T(2025, 7, 2)],
        "kwh": [10.0, 20.0, 30.0], "cost_cny": [8.0, 16.0, 48.0],
        "odometer_km": [5_000.0, 5_100.0, 5_300.0], "public_station": [False, False, True]})


def _indicators() -> pd.DataFrame:
    return vehicle_indicators(_vehicles(), _fuel(), _charging(), YEAR).set_index("plate")


def test_l_per_100km_across_a_missing_odometer_reading():
    p1 = _indicators().loc["P1"]
    # fuel after the first reading up to the last: 30 + 50 L over 800 km
    assert p1["l_per_100km"] == pytest.approx(10.0)
    assert p1["km"] == pytest.approx(800.0)
    assert p1["litres"] == pytest.approx(120.0)
    assert p1["cost_cny_per_km"] == pytest.approx(120.0 * 8.0 / 800.0)


def test_kwh_per_100km_of_an_electric_car():
    e1 = _indicators().loc["E1"]
    assert e1["kwh_per_100km"] == pytest.approx((20.0 + 30.0) / 300.0 * 100.0)
    assert e1["kwh"] == 60.0
    assert e1["kwh_on_site"] == 30.0


def test_the_year_s_fleet_and_nev_shares():
    ind = _indicators()
    assert "OLD" not in ind.index  # retired in 2024
    fleet = fleet_indicators(ind.reset_index(), by=None).iloc[0]
    assert (fleet["vehicles"], fleet["nev"]) == (5, 2)
    assert fleet["nev_share"] == pytest.approx(2 / 5)
    # added in 2025: P2 (gasoline) and E1 (electric) → half of them new-energy
    assert (fleet["added"], fleet["nev_added"]) == (2, 1)
    assert fleet["nev_share_added"] == pytest.approx(0.5)


def test_odometer_going_backwards_leaves_km_unknown():
    h1 = _indicators().loc["H1"]
    assert np.isnan(h1["km"])
    assert bool(h1["odometer_backwards"])
    assert "backwards" in h1["note"]


def test_vehicle_audit_checks():
    v = vehicle_verdicts(_indicators().reset_index(), _vehicles(), _fuel(), YEAR,
                         BureauRules(min_type_peers=3))

    def status(plate: str, subject: str) -> str:
        return v[(v["plate"] == plate) & (v["subject"] == subject)]["status"].iloc[0]

    # sedans with a known L/100 km: P1 10, P2 9, P3 20 → median 10; P3 is 2.0× it
    assert status("P3", "vehicle_l_per_100km") == "flag"
    assert status("P1", "vehicle_l_per_100km") == "ok"
    row = v[(v["plate"] == "P3") & (v["subject"] == "vehicle_l_per_100km")].iloc[0]
    assert row["ratio"] == pytest.approx(2.0)
    assert row["reference_value"] == pytest.approx(10.0)
    assert status("P3", "vehicle_fill_over_tank") == "flag"
    assert status("P1", "vehicle_fill_over_tank") == "ok"
    assert status("H1", "vehicle_odometer_backwards") == "flag"
    assert status("P1", "vehicle_odometer_backwards") == "ok"
    assert status("OLD", "vehicle_fuel_not_in_use") == "flag"
    assert status("P1", "vehicle_fuel_not_in_use") == "ok"
    assert set(v["kind"]) == {"audit"}


def test_charging_is_counted_once():
    rows = charging_to_consumption(_charging(), _vehicles(), YEAR, list(CONSUMPTION_COLUMNS))
    # only the public-station charge (30 kWh in July) is added; own-pile charges are already
    # in the building's electricity meter
    assert rows[["month", "carrier", "quantity", "source"]].to_dict("records") == [
        {"month": 7, "carrier": "electricity", "quantity": 30.0, "source": "charging"}]
