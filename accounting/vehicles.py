"""Official vehicles (公车一张网): the year's fleet, fuel and charging, and their indicators.

Inputs are the ledgers ``vehicles`` (plate, institution_id, fuel, new_energy, vehicle_type,
tank_l, in_use_from, in_use_until), ``fuel`` (date, plate, fuel, litres, cost_cny, odometer_km)
and ``charging`` (date, plate, kwh, cost_cny, odometer_km, public_station).

* **The year's fleet**: vehicles in use on any day of the year (``in_use_from`` on or before
  31 December, ``in_use_until`` on or after 1 January; blank = open-ended). **Added in the year**:
  ``in_use_from`` in the year.
* **L/100 km** from consecutive odometer readings (the full-tank method): the fuel bought after
  the first reading of the year up to and including the last, over the distance between them. A
  fill without a reading still counts (its fuel belongs to the next reading's interval), so a
  missing reading widens an interval and loses nothing. **kWh/100 km** the same way from the
  charging records of an electric vehicle. **Annual km**: last minus first reading of the year
  (fuel and charging readings together); unknown (NaN) with fewer than two readings or with a
  reading going backwards.
* **Fuel cost per km**: fuel and charging cost ÷ annual km; NaN when a record has no cost.
* **NEV share** (新能源汽车占比) of the fleet and of the vehicles added in the year.

Charging is counted once: a charge at the institution's own pile (``public_station`` no/blank)
is behind a building meter and already in the building's electricity, so it is shown here as
vehicle energy but not added to the consumption table; a charge at a public station is added
(:func:`charging_to_consumption`, source ``charging``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["VEHICLE_INDICATORS", "charging_to_consumption", "fleet_indicators", "fleet_of_year",
           "vehicle_indicators"]

#: Columns of :func:`vehicle_indicators`.
VEHICLE_INDICATORS = [
    "plate", "institution_id", "vehicle_type", "fuel", "new_energy", "added_in_year", "litres",
    "fuel_cost_cny", "kwh", "charging_cost_cny", "kwh_on_site", "km", "l_per_100km",
    "kwh_per_100km", "cost_cny_per_km", "odometer_readings", "odometer_backwards", "note",
]


def _in_year(frame: pd.DataFrame, year: int) -> pd.Series:
    start = pd.to_datetime(frame["in_use_from"]) if "in_use_from" in frame.columns else None
    end = pd.to_datetime(frame["in_use_until"]) if "in_use_until" in frame.columns else None
    mask = pd.Series(True, index=frame.index)
    if start is not None:
        mask &= start.isna() | (start <= pd.Timestamp(year, 12, 31))
    if end is not None:
        mask &= end.isna() | (end >= pd.Timestamp(year, 1, 1))
    return mask


def fleet_of_year(vehicles: pd.DataFrame, year: int) -> pd.DataFrame:
    """The vehicles in use on any day of ``year``, with ``added_in_year`` (bool)."""
    fleet = vehicles[_in_year(vehicles, year)].copy()
    start = pd.to_datetime(fleet["in_use_from"]) if "in_use_from" in fleet.columns else pd.Series(
        pd.NaT, index=fleet.index)
    fleet["added_in_year"] = (start.dt.year == year).to_numpy()
    return fleet


def _year_rows(frame: pd.DataFrame | None, year: int) -> pd.DataFrame:
    if frame is None or frame.empty:
        return pd.DataFrame(columns=["date", "plate"])
    dates = pd.to_datetime(frame["date"])
    return frame[dates.dt.year == year].assign(date=dates[dates.dt.year == year]).sort_values(
        ["plate", "date"], kind="stable")


def _per_100km(records: pd.DataFrame, amount: str) -> tuple[float, float, int, bool]:
    """(amount per 100 km, km, readings, backwards) from one vehicle's records sorted by date.

    The amount bought after the first reading up to and including the last reading, over the
    distance between them.
    """
    odo = records["odometer_km"].to_numpy(dtype=float) if "odometer_km" in records.columns \
        else np.full(len(records), np.nan)
    read = np.flatnonzero(~np.isnan(odo))
    if len(read) < 2:
        return np.nan, np.nan, len(read), False
    values = odo[read]
    backwards = bool((np.diff(values) < 0).any())
    km = values[-1] - values[0]
    if backwards or not km > 0:
        return np.nan, np.nan, len(read), backwards
    used = records[amount].to_numpy(dtype=float)[read[0] + 1: read[-1] + 1].sum()
    return used / km * 100.0, km, len(read), backwards


def vehicle_indicators(vehicles: pd.DataFrame, fuel: pd.DataFrame, charging: pd.DataFrame | None,
                       year: int) -> pd.DataFrame:
    """Per vehicle of the year's fleet: litres, kWh, km, L/100 km, kWh/100 km, cost per km.

    Returns
    -------
    pandas.DataFrame
        :data:`VEHICLE_INDICATORS`: litres [L], fuel_cost_cny and charging_cost_cny [CNY, NaN when
        a record has none], kwh [kWh] (kwh_on_site: at own piles), km [km], l_per_100km
        [L/100km], kwh_per_100km [kWh/100km], cost_cny_per_km [CNY/km]; NaN when unknown, with
        ``note`` saying why.
    """
    if vehicles is None or vehicles.empty:
        return pd.DataFrame(columns=VEHICLE_INDICATORS)
    fleet = fleet_of_year(vehicles, year)
    f = _year_rows(fuel, year)
    c = _year_rows(charging, year)
    f_by = {p: g for p, g in f.groupby("plate", sort=False)} if len(f) else {}
    c_by = {p: g for p, g in c.groupby("plate", sort=False)} if len(c) else {}
    rows = []
    for v in fleet.to_dict("records"):
        plate = v["plate"]
        fg = f_by.get(plate, pd.DataFrame(columns=["date", "litres", "cost_cny", "odometer_km"]))
        cg = c_by.get(plate, pd.DataFrame(columns=["date", "kwh", "cost_cny", "odometer_km",
                                                   "public_station"]))
        litres = float(fg["litres"].astype(float).sum()) if len(fg) else 0.0
        kwh = float(cg["kwh"].astype(float).sum()) if len(cg) else 0.0
        public = cg["public_station"].astype(bool) if "public_station" in cg.columns and len(
            cg) else pd.Series(False, index=cg.index)
        fuel_cost = float(fg["cost_cny"].astype(float).sum()) if len(fg) and fg[
            "cost_cny"].notna().all() else (0.0 if not len(fg) else np.nan)
        charge_cost = float(cg["cost_cny"].astype(float).sum()) if len(cg) and cg[
            "cost_cny"].notna().all() else (0.0 if not len(cg) else np.nan)
        l100, _, _, back_f = _per_100km(fg, "litres") if len(fg) else (np.nan, np.nan, 0, False)
        k100, _, _, back_c = _per_100km(cg, "kwh") if len(cg) else (np.nan, np.nan, 0, False)
        readings = pd.concat([fg[["date", "odometer_km"]], cg[["date", "odometer_km"]]]).dropna(
            subset=["odometer_km"]).sort_values("date", kind="stable") if (len(fg) or len(cg)) \
            else pd.DataFrame(columns=["date", "odometer_km"])
        odo = readings["odometer_km"].to_numpy(dtype=float)
        backwards = back_f or back_c or bool((np.diff(odo) < 0).any())
        km = float(odo[-1] - odo[0]) if len(odo) >= 2 and not backwards else np.nan
        notes = []
        if len(odo) < 2:
            notes.append(f"{len(odo)} odometer reading(s) in {year}: km unknown")
        if backwards:
            notes.append("odometer goes backwards: km unknown")
        cost = fuel_cost + charge_cost
        rows.append({
            "plate": plate, "institution_id": v["institution_id"],
            "vehicle_type": v.get("vehicle_type"), "fuel": v["fuel"],
            "new_energy": bool(v["new_energy"]), "added_in_year": bool(v["added_in_year"]),
            "litres": litres, "fuel_cost_cny": fuel_cost, "kwh": kwh,
            "charging_cost_cny": charge_cost, "kwh_on_site": float(
                cg.loc[~public, "kwh"].astype(float).sum()) if len(cg) else 0.0,
            "km": km, "l_per_100km": l100, "kwh_per_100km": k100,
            "cost_cny_per_km": cost / km if km > 0 else np.nan,
            "odometer_readings": len(odo), "odometer_backwards": backwards,
            "note": "; ".join(notes),
        })
    return pd.DataFrame(rows, columns=VEHICLE_INDICATORS)


def fleet_indicators(indicators: pd.DataFrame, by: str | None = "institution_id") -> pd.DataFrame:
    """Fleet figures per ``by`` (institution_id, region_code, ...; None: one row for all).

    Returns
    -------
    pandas.DataFrame
        vehicles, nev (新能源汽车), nev_share [0-1], added, nev_added, nev_share_added [0-1, NaN
        with nothing added], litres [L], kwh [kWh], km [km, known vehicles only],
        l_per_100km_median per the fleet's fuel vehicles [L/100km].
    """
    v = indicators.copy()
    key = by if by is not None else "_all"
    if by is None:
        v["_all"] = "all"
    v["nev"] = v["new_energy"].astype(bool)
    v["nev_added"] = v["nev"] & v["added_in_year"].astype(bool)
    g = v.groupby(key, sort=True)
    out = pd.DataFrame({
        "vehicles": g.size(), "nev": g["nev"].sum(), "added": g["added_in_year"].sum(),
        "nev_added": g["nev_added"].sum(), "litres": g["litres"].sum(), "kwh": g["kwh"].sum(),
        "km": g["km"].sum(min_count=1), "l_per_100km_median": g["l_per_100km"].median(),
    })
    out["nev_share"] = out["nev"] / out["vehicles"]
    added = out["added"].astype(float)
    out["nev_share_added"] = out["nev_added"] / added.where(added > 0)
    return out.reset_index()


def charging_to_consumption(charging: pd.DataFrame | None, vehicles: pd.DataFrame,
                            year: int, columns: list[str]) -> pd.DataFrame:
    """Charges at public stations of ``year`` → monthly electricity per institution.

    Own-pile charges are behind a building meter already and are not added (counted once).
    Rows: unit kWh, use ``purchased``, source ``charging``, coverage 1.
    """
    c = _year_rows(charging, year)
    if c.empty or "public_station" not in c.columns:
        return pd.DataFrame(columns=columns)
    c = c[c["public_station"].astype(bool)]
    c = c.merge(vehicles[["plate", "institution_id"]], on="plate", how="inner")
    if c.empty:
        return pd.DataFrame(columns=columns)
    c = c.assign(month=c["date"].dt.month, carrier="electricity")
    out = c.groupby(["institution_id", "carrier", "month"], as_index=False).agg(
        quantity=("kwh", "sum"))
    out["unit"] = "kWh"
    out["use"] = "purchased"
    out["source"] = "charging"
    out["coverage"] = 1.0
    out["estimated_share"] = 0.0
    return out[columns]
