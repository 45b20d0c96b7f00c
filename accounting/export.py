"""The annual account rendered for people and programs: JSON-ready dicts and a text table.

:func:`account_json` is the contract of ``jieneng account --format json`` (and the base of the
report's JSON, :func:`accounting.report.report_json`); :func:`account_table` is the table that
``jieneng account`` prints; :func:`plain` turns one pandas/numpy value into a JSON-ready scalar.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from accounting import engine
from accounting.compounds import compound_records
from accounting.engine import AnnualAccount
from accounting.verdicts import verdict_records

__all__ = ["account_json", "account_table", "plain"]

_FIGURE_KEYS = [
    "energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t", "mobile_tce", "heat_tce",
    "electricity_kwh", "water_m3", "floor_area_m2", "heated_area_m2", "occupants",
    "kgce_per_m2", "kgce_per_m2_excl_vehicles", "kgce_per_m2_non_heating", "kgce_per_person",
    "water_m3_per_person", "kgco2_per_m2", "kwh_per_m2",
]
_PROFILE_KEYS = ["name", "category", "level", "province", "climate_zone", "credit_code",
                 "quota_area", "subtype"]
_FACTOR_KEYS = [
    "carrier", "unit", "use", "scope", "kgce_per_unit", "kgce_source", "kgce_year",
    "kgce_confidence", "kgce_note", "kgco2_per_unit", "kgco2_source", "kgco2_year",
    "kgco2_region", "kgco2_confidence", "kgco2_note",
]


def plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN/NA → None, numpy numbers → Python numbers."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def account_json(account: AnnualAccount, institution: str | None = None) -> dict:
    """The year as a JSON-ready dict: ``year``, ``institutions`` (a list) and ``totals``.

    This is what ``jieneng account --format json`` prints. ``institution``: only that
    institution, and the totals of it alone.
    """
    figures = account.figures
    if institution is not None:
        figures = figures[figures["institution_id"] == institution]
    carriers = account.carriers
    factors = account.factors
    carriers_by = {k: g for k, g in carriers.groupby("institution_id", sort=False, observed=True)}
    verdicts_by = {k: g for k, g in account.verdicts.groupby("institution_id", sort=False,
                                                             observed=True)}
    institutions = []
    for row in figures.to_dict("records"):
        inst = row["institution_id"]
        c = carriers_by.get(inst, carriers.iloc[0:0])
        entry: dict[str, Any] = {"institution_id": inst}
        entry.update({k: plain(row.get(k)) for k in _PROFILE_KEYS})
        entry.update({k: plain(row.get(k)) for k in _FIGURE_KEYS})
        entry["coverage"] = {
            "energy": plain(row["energy_coverage"]), "co2": plain(row["co2_coverage"]),
            "electricity": plain(row["electricity_coverage"]),
            "water": plain(row["water_coverage"]),
            "estimated_share": plain(row["estimated_share"]),
        }
        entry["carriers"] = _carrier_entries(c)
        used = c[["carrier", "unit", "province", "use"]].merge(
            factors, on=["carrier", "unit", "province", "use"], how="left")
        entry["factors"] = [{k: plain(f[k]) for k in _FACTOR_KEYS}
                            for f in used.to_dict("records")]
        entry["verdicts"] = verdict_records(verdicts_by.get(inst, account.verdicts.iloc[0:0]))
        institutions.append(entry)
    totals = {k: plain(v) for k, v in account.totals.items()}
    if institution is not None:
        totals = {k: plain(v) for k, v in engine.totals(figures).items()}
    data = {"year": account.year, "institutions": institutions, "totals": totals}
    bureau = getattr(account, "bureau", None)
    if bureau is not None and institution is None and len(bureau.compounds):
        data["compounds"] = compound_records(bureau.compounds)  # 集中办公区 as units of their own
    return data


def _carrier_entries(c: pd.DataFrame) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    units_per_carrier = c.groupby("carrier", observed=True)["unit"].nunique()
    for (carrier, unit), g in c.groupby(["carrier", "unit"], sort=True, observed=True):
        key = carrier if units_per_carrier[carrier] == 1 else f"{carrier} [{unit}]"
        quantity = float(g["quantity"].sum())
        out[key] = {
            "quantity": quantity, "unit": unit,
            "tce": float(g["kgce"].sum()) / 1000.0, "co2_t": float(g["kgco2"].sum()) / 1000.0,
            "coverage": plain(
                (g["coverage"] * g["quantity"]).sum() / quantity if quantity > 0
                else g["coverage"].mean()),
            "uses": {u: float(q) for u, q in g.groupby("use", observed=True)["quantity"].sum()
                     .items()},
        }
    return out


def _fmt(value: Any, digits: int = 1) -> str:
    value = plain(value)
    return "—" if value is None else f"{value:,.{digits}f}"


def account_table(data: dict) -> str:
    """The text table ``jieneng account`` prints: one line per institution of
    :func:`account_json` ``data``, with its quota and 十四五 verdicts counted by status, and the
    totals."""
    header = (f"{'institution':<12} {'energy tce':>11} {'CO2 t':>10} {'kgce/m2':>8} "
              f"{'kgce/person':>11} {'water m3/p':>10} {'coverage':>8}  verdicts")
    lines = [f"Jieneng accounts {data['year']}", header, "-" * len(header)]
    for inst in data["institutions"]:
        counts: dict[str, int] = {}
        for v in inst["verdicts"]:
            if v["kind"] in ("quota", "fyp14"):
                counts[v["status"]] = counts.get(v["status"], 0) + 1
        summary = ", ".join(f"{k} {n}" for k, n in sorted(counts.items()))
        coverage = inst["coverage"]["energy"]
        lines.append(
            f"{inst['institution_id']:<12} {_fmt(inst['energy_tce'], 2):>11} "
            f"{_fmt(inst['co2_t'], 2):>10} {_fmt(inst['kgce_per_m2'], 2):>8} "
            f"{_fmt(inst['kgce_per_person'], 1):>11} {_fmt(inst['water_m3_per_person'], 1):>10} "
            f"{'—' if coverage is None else f'{coverage:.0%}':>8}  {summary}")
    t = data["totals"]
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<12} {_fmt(t['energy_tce'], 2):>11} {_fmt(t['co2_t'], 2):>10} "
        f"{_fmt(t['kgce_per_m2'], 2):>8} {_fmt(t['kgce_per_person'], 1):>11} "
        f"{_fmt(t['water_m3_per_person'], 1):>10}")
    for c in data.get("compounds", []):
        shares = ", ".join(f"{k} {v:.2f}" for k, v in c["member_shares"].items())
        lines.append(
            f"{'compound ' + c['compound_id']:<12} {_fmt(c['energy_tce'], 2):>11} "
            f"{_fmt(c['co2_t'], 2):>10} {_fmt(c['kgce_per_m2'], 2):>8} "
            f"{_fmt(c['kgce_per_person'], 1):>11}  members' shares (tce): {shares}")
    return "\n".join(lines)
