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
from accounting.verdicts import DEFAULT_RULES, verdict_records
from accounting.verdicts.explain import label
from jieneng.messages import DEFAULT_LANGUAGE, text

__all__ = ["account_json", "account_table", "has_data", "missing_reasons", "plain"]

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


def has_data(account: AnnualAccount) -> bool:
    """Whether the year holds anything measured, billed or recorded (a meter reading, a bill or
    a fuel record of any institution)."""
    c = account.carriers
    return bool(len(c)) and bool(((c["coverage"] > 0) | (c["quantity"] > 0)).any())


def missing_reasons(row: dict, year: int, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Why each unknown figure of one institution (a row of ``AnnualAccount.figures``) is
    unknown: figure → sentence, for the figures of the JSON that are null."""
    lacking = str(row.get("missing_carriers") or "")
    if lacking == "*":
        data = text("account.missing.nothing", language, year=year)
    elif lacking:
        names = "、" if language == "zh" else ", "
        data = text("account.missing.carriers", language, carriers=names.join(
            text(f"carrier.{c}", language) for c in lacking.split(",")))
    else:
        data = ""
    area = text("account.missing.floor_area", language, year=year)
    people = text("account.missing.occupants", language, year=year)
    out = {}
    for key in _FIGURE_KEYS:
        if plain(row.get(key)) is not None:
            continue
        if key in ("floor_area_m2", "heated_area_m2"):
            reason = area
        elif key == "occupants":
            reason = people
        elif key.endswith("_per_m2") and plain(row.get("floor_area_m2")) is None:
            reason = area
        elif key.endswith("_per_person") and plain(row.get("occupants")) is None:
            reason = people
        else:
            reason = data
        if reason:
            out[key] = reason
    return out


def account_json(account: AnnualAccount, institution: str | None = None,
                 language: str = DEFAULT_LANGUAGE) -> dict:
    """The year as a JSON-ready dict: ``year``, ``institutions`` (a list) and ``totals``.

    This is what ``jieneng account --format json`` prints. ``institution``: only that
    institution, and the totals of it alone. An unknown figure is ``null`` and
    ``missing`` (figure → sentence) says why; the totals leave unknown figures out and
    ``<figure>_left_out`` says of how many institutions. ``language``: of the sentences
    (verdict reasons, missing), Chinese by default.
    """
    figures = account.figures
    carriers, verdicts = account.carriers, account.verdicts
    if institution is not None:
        figures = figures[figures["institution_id"] == institution]
        carriers = carriers[carriers["institution_id"].astype(str) == institution]
        verdicts = verdicts[verdicts["institution_id"].astype(str) == institution]
    # Every table is turned into plain records once and grouped in Python: a province's year
    # has tens of thousands of institutions, so nothing here runs pandas per institution.
    factor_of = {(f["carrier"], f["unit"], "" if pd.isna(f["province"]) else f["province"],
                  f["use"]): {k: plain(f[k]) for k in _FACTOR_KEYS}
                 for f in account.factors.to_dict("records")}
    carriers_by: dict[str, list[dict]] = {}
    text_columns = {c: carriers[c].astype(object) for c in
                    ("institution_id", "carrier", "unit", "province", "use")}
    for r in carriers.assign(**text_columns).to_dict("records"):
        carriers_by.setdefault(str(r["institution_id"]), []).append(r)
    verdicts_by: dict[str, list[dict]] = {}
    records = verdict_records(verdicts, account.rules or DEFAULT_RULES, language=language)
    for inst, record in zip(verdicts["institution_id"].astype(str), records, strict=True):
        verdicts_by.setdefault(inst, []).append(record)
    institutions = []
    for row in figures.to_dict("records"):
        inst = row["institution_id"]
        c = carriers_by.get(str(inst), [])
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
        entry["factors"] = [
            factor_of.get((r["carrier"], r["unit"], "" if pd.isna(r["province"]) else
                           r["province"], r["use"]), {k: None for k in _FACTOR_KEYS})
            for r in c]
        entry["missing"] = missing_reasons(row, account.year, language)
        entry["verdicts"] = verdicts_by.get(str(inst), [])
        institutions.append(entry)
    totals = {k: plain(v) for k, v in account.totals.items()}
    if institution is not None:
        totals = {k: plain(v) for k, v in engine.totals(figures).items()}
    # The institutions whose energy the totals leave out (no data of a carrier they use).
    totals["energy_tce_left_out_institutions"] = [
        str(i) for i in figures.loc[figures["energy_tce"].isna(), "institution_id"]]
    data = {"year": account.year, "institutions": institutions, "totals": totals}
    bureau = getattr(account, "bureau", None)
    if bureau is not None and institution is None and len(bureau.compounds):
        data["compounds"] = compound_records(bureau.compounds)  # 集中办公区 as units of their own
    return data


def _carrier_entries(rows: list[dict]) -> dict[str, dict[str, Any]]:
    """One institution's carriers (its rows of ``AnnualAccount.carriers`` as records): per
    carrier (× unit when it has several), quantity, tce, CO2, coverage and the uses."""
    units: dict[str, set[str]] = {}
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        units.setdefault(r["carrier"], set()).add(r["unit"])
        groups.setdefault((r["carrier"], r["unit"]), []).append(r)
    out: dict[str, dict[str, Any]] = {}
    for (carrier, unit), g in sorted(groups.items()):
        key = carrier if len(units[carrier]) == 1 else f"{carrier} [{unit}]"
        quantity = float(sum(r["quantity"] for r in g))
        uses: dict[str, float] = {}
        for r in sorted(g, key=lambda r: r["use"]):
            uses[r["use"]] = uses.get(r["use"], 0.0) + float(r["quantity"])
        coverage = (sum(r["coverage"] * r["quantity"] for r in g) / quantity if quantity > 0
                    else sum(r["coverage"] for r in g) / len(g))
        out[key] = {
            "quantity": quantity, "unit": unit,
            "tce": float(sum(r["kgce"] for r in g)) / 1000.0,
            "co2_t": float(sum(r["kgco2"] for r in g)) / 1000.0,
            "coverage": plain(coverage), "uses": uses,
        }
    return out


def _fmt(value: Any, digits: int = 1, language: str = DEFAULT_LANGUAGE) -> str:
    value = plain(value)
    return text("missing.dash", language) if value is None else f"{value:,.{digits}f}"


def _pad(cell: str, width: int, left: bool = False) -> str:
    """``cell`` padded to ``width`` terminal columns (a CJK character takes two)."""
    wide = sum(1 for ch in cell if 0x2E80 <= ord(ch) <= 0x9FFF or 0xFF00 <= ord(ch) <= 0xFF60)
    space = " " * max(width - len(cell) - wide, 0)
    return cell + space if left else space + cell


def account_table(data: dict, language: str = DEFAULT_LANGUAGE) -> str:
    """The text table ``jieneng account`` prints: one line per institution of
    :func:`account_json` ``data``, with its quota and 十四五 verdicts counted by status, and the
    totals (which say how many institutions they leave out). Headers and statuses come from
    the message catalog in ``language``; an unknown figure is shown as ``–``."""
    def h(key: str) -> str:
        return text(f"account.table.{key}", language)

    widths = (12, 13, 12, 10, 12, 10, 8)
    names = ("institution", "energy", "co2", "kgce_per_m2", "kgce_per_person",
             "water_per_person", "coverage")
    header = " ".join(_pad(h(n), w, left=(i == 0))
                      for i, (n, w) in enumerate(zip(names, widths, strict=True)))
    header += "  " + h("verdicts")
    dash = text("missing.dash", language)
    lines = [h("title").format(year=data["year"]), header, "-" * len(header)]
    for inst in data["institutions"]:
        counts: dict[str, int] = {}
        for v in inst["verdicts"]:
            if v["kind"] in ("quota", "fyp14"):
                counts[v["status"]] = counts.get(v["status"], 0) + 1
        summary = ", ".join(f"{label('status', k, language)} {n}"
                            for k, n in sorted(counts.items()))
        coverage = inst["coverage"]["energy"]
        cells = (str(inst["institution_id"]), _fmt(inst["energy_tce"], 2, language),
                 _fmt(inst["co2_t"], 2, language), _fmt(inst["kgce_per_m2"], 2, language),
                 _fmt(inst["kgce_per_person"], 1, language),
                 _fmt(inst["water_m3_per_person"], 1, language),
                 dash if coverage is None else f"{coverage:.0%}")
        lines.append(" ".join(_pad(c, w, left=(i == 0))
                              for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
                     + f"  {summary}")
    t = data["totals"]
    lines.append("-" * len(header))
    cells = (h("total"), _fmt(t["energy_tce"], 2, language), _fmt(t["co2_t"], 2, language),
             _fmt(t["kgce_per_m2"], 2, language), _fmt(t["kgce_per_person"], 1, language),
             _fmt(t["water_m3_per_person"], 1, language))
    lines.append(" ".join(_pad(c, w, left=(i == 0))
                          for i, (c, w) in enumerate(zip(cells, widths[:len(cells)],
                                                         strict=True))))
    left_out = t.get("energy_tce_left_out_institutions") or []
    if left_out:
        lines.append(h("left_out").format(n=len(left_out), which=", ".join(left_out)))
    for c in data.get("compounds", []):
        shares = ", ".join(f"{k} {v:.2f}" for k, v in c["member_shares"].items())
        lines.append(
            f"{'compound ' + c['compound_id']:<12} {_fmt(c['energy_tce'], 2, language):>11} "
            f"{_fmt(c['co2_t'], 2, language):>10} {_fmt(c['kgce_per_m2'], 2, language):>8} "
            f"{_fmt(c['kgce_per_person'], 1, language):>11}  members' shares (tce): {shares}")
    return "\n".join(lines)
