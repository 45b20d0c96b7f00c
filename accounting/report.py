"""The annual 公共机构能源资源消费统计 report: an Excel workbook, a CSV or a JSON file.

Workbook sheets (Chinese headers, as an energy officer files them; the forms of the
公共机构能源资源消费统计调查制度, 国管节能〔2022〕301号):

* 基本信息 (form 1) — one row per institution: code, name, 统一社会信用代码, category, level,
  province, climate zone, 建筑面积 and 采暖面积 (buildings in use at year end, see
  :mod:`accounting.buildings`), 用能人数, and the official vehicles (公务用车) by fuel with
  新能源汽车数量. The vehicles ledger has no dates: the counts are the vehicles it lists now,
  whatever the year; an empty vehicles ledger leaves them blank;
* 能源资源消费状况 (form 2) — one row per institution: each carrier's quantity in its unit and its
  cost (费用, 元; :mod:`accounting.costs`: from bills and fuel-card records, blank when unknown,
  e.g. metered with no bill, and 费用说明 says which and why), 费用合计 (blank unless every
  carrier's cost is known), 综合能耗 (tce), CO2 by scope, the intensities and the coverage;
* 数据中心机房能源消费状况 (form 3) — one row per data centre (facilities ledger, kind
  data_center, rows of the year): IT and total electricity, PUE = total ÷ IT, and its share of
  the institution's electricity;
* 采暖能源资源消费状况 (form 4) — one row per institution that heats: 采暖面积, 供暖方式 (of its
  buildings in use), 热力消费量(按热量收费) [GJ] (the calendar year's share of the heat bills and
  meters, as accounted) and its cost, and GJ per heated m²;
* 分类汇总 — the same totals by category (单位类别), intensities as sum ÷ sum;
* 行政区域汇总 — the same by province and the deployment's 行政区划代码;
* 判定 — every verdict with its reason and source; 折算系数 — every factor used with its source.

The CSV holds the 能源资源消费状况 sheet (UTF-8 with BOM so that Excel shows the Chinese); the JSON
is what ``jieneng account --format json`` prints, plus per institution ``vehicles``,
``costs_cny``, ``cost_status``, ``cost_total_cny``, ``cost_known_cny``, and the year's
``data_centers`` and ``heating`` rows.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accounting import engine
from accounting.buildings import buildings_in_use
from accounting.bureau_report import bureau_json, bureau_sheets
from accounting.costs import annual_costs, billed_costs, cost_summary
from accounting.export import account_json, plain
from accounting.ledgers import LedgerStore
from accounting.settings import AccountingConfig
from accounting.verdicts import DEFAULT_RULES, explain
from accounting.verdicts.explain import label
from jieneng.messages import DEFAULT_LANGUAGE, text

__all__ = [
    "BASIC_HEADERS",
    "CONSUMPTION_HEADERS",
    "COST_HEADERS",
    "REPORT_LEDGERS",
    "REPORT_SUFFIXES",
    "VEHICLE_HEADERS",
    "ReportExtras",
    "basic_info_sheet",
    "consumption_sheet",
    "data_center_sheet",
    "heating_sheet",
    "read_report_ledgers",
    "report_extras",
    "report_json",
    "summary_sheet",
    "vehicle_counts",
    "write_report",
]

REPORT_SUFFIXES = (".xlsx", ".csv", ".json")

CATEGORY_ZH = {"government": "国家机关", "education": "教育", "healthcare": "卫生",
               "venue": "场馆", "other": "其他"}
LEVEL_ZH = {"provincial": "省级", "municipal": "市级", "county": "县级"}
CLIMATE_ZH = {"severe_cold": "严寒", "cold": "寒冷", "hot_summer_cold_winter": "夏热冬冷",
              "hot_summer_warm_winter": "夏热冬暖", "mild": "温和"}

#: 基本信息: column → header.
BASIC_HEADERS = {
    "institution_id": "单位编码", "name": "单位名称", "credit_code": "统一社会信用代码",
    "category": "单位类别", "level": "级次", "province": "省份", "climate_zone": "气候区",
    "floor_area_m2": "建筑面积(m²)", "heated_area_m2": "采暖面积(m²)", "occupants": "用能人数(人)",
}

#: 基本信息, after :data:`BASIC_HEADERS`: vehicle count column → header (公务用车 by fuel).
VEHICLE_HEADERS = {
    "vehicles_total": "公务用车数量(辆)", "gasoline": "汽油车(辆)", "diesel": "柴油车(辆)",
    "electric": "纯电动车(辆)", "hybrid": "混合动力车(辆)", "new_energy": "新能源汽车数量(辆)",
}

#: Cost columns on 能源资源消费状况: carrier → header (费用 in 元).
COST_HEADERS = {
    "electricity": "电费(元)", "water": "水费(元)", "coal": "煤炭费用(元)",
    "natural_gas": "天然气费用(元)", "lpg": "液化石油气费用(元)", "gasoline": "汽油费用(元)",
    "diesel": "柴油费用(元)", "heat": "热力费用(元)",
}
COST_TOTAL_HEADER = "费用合计(元)"
COST_NOTE_HEADER = "费用说明"
CARRIER_ZH = {"electricity": "电", "water": "水", "coal": "煤炭", "natural_gas": "天然气",
              "lpg": "液化石油气", "gasoline": "汽油", "diesel": "柴油", "heat": "热力",
              "pv": "太阳能光电"}
#: Why a cost is unknown (:func:`accounting.costs.annual_costs` status) in the sheet's words.
COST_STATUS_ZH = {"metered": "计量数据, 无账单金额", "bill_without_cost": "账单或加油记录未填金额",
                  "no_data": "无计量、账单或加油记录"}
#: 能源资源消费状况: which quantities are unknown (no data), so blank.
DATA_NOTE_HEADER = "数据说明"
HEATING_TYPE_ZH = {"district_heat_metered": "市政集中供暖(按热计量)", "air_conditioning": "空调供暖",
                   "gas_or_oil": "燃气(油)供暖", "none": "不供暖"}

#: The ledgers the report reads besides the account.
REPORT_LEDGERS = ("buildings", "vehicles", "fuel", "facilities", "bills")

#: Carrier quantities on 能源资源消费状况: (carrier, unit) → header.
CARRIER_HEADERS = {
    ("electricity", "kWh"): "电(kWh)", ("water", "m3"): "水(m³)",
    ("coal", "kg"): "煤炭(kg)", ("natural_gas", "m3"): "天然气(m³)",
    ("lpg", "kg"): "液化石油气(kg)", ("gasoline", "L"): "汽油(L)", ("diesel", "L"): "柴油(L)",
    ("heat", "GJ"): "热力(GJ)", ("pv", "kWh"): "太阳能光电系统发电量(kWh)",
}

#: 能源资源消费状况: figure column → header (after the carrier columns).
CONSUMPTION_HEADERS = {
    "energy_tce": "综合能耗(tce)",
    "co2_t": "碳排放总量(tCO₂)",
    "scope1_co2_t": "直接排放(tCO₂)",
    "scope2_co2_t": "间接排放(tCO₂)",
    "kgce_per_m2": "单位建筑面积能耗(kgce/m²)",
    "kgce_per_m2_excl_vehicles": "单位建筑面积能耗(不含公务用车)(kgce/m²)",
    "kgce_per_person": "人均综合能耗(kgce/人)",
    "water_m3_per_person": "人均用水量(m³/人)",
    "kgco2_per_m2": "单位建筑面积碳排放(kgCO₂/m²)",
    "kwh_per_m2": "单位建筑面积电耗(kWh/m²)",
    "energy_coverage": "能耗数据覆盖率",
    "estimated_share": "估算数据占比",
}

_SUM_COLUMNS = ["floor_area_m2", "occupants", "energy_tce", "co2_t", "scope1_co2_t",
                "scope2_co2_t", "electricity_kwh", "water_m3"]
_SUMMARY_HEADERS = {
    "institutions": "单位数", "floor_area_m2": "建筑面积(m²)", "occupants": "用能人数(人)",
    "energy_tce": "综合能耗(tce)", "co2_t": "碳排放总量(tCO₂)", "scope1_co2_t": "直接排放(tCO₂)",
    "scope2_co2_t": "间接排放(tCO₂)", "electricity_kwh": "电(kWh)", "water_m3": "水(m³)",
    "kgce_per_m2": "单位建筑面积能耗(kgce/m²)", "kgce_per_person": "人均综合能耗(kgce/人)",
    "water_m3_per_person": "人均用水量(m³/人)", "kgco2_per_m2": "单位建筑面积碳排放(kgCO₂/m²)",
    "energy_tce_left_out": "综合能耗未计入单位数(无数据)",
}


def vehicle_counts(vehicles: pd.DataFrame, institution_ids: list[str]) -> pd.DataFrame:
    """Official vehicles (公务用车) per institution by fuel, and 新能源汽车数量.

    Parameters
    ----------
    vehicles
        The vehicles ledger: plate, institution_id, fuel (gasoline, diesel, electric, hybrid),
        new_energy (bool).
    institution_ids
        One row per institution, in this order.

    Returns
    -------
    pandas.DataFrame
        Indexed by institution_id, the columns of :data:`VEHICLE_HEADERS` [vehicles]: 0 for an
        institution without vehicles, NaN for all when the ledger is empty (not known).
    """
    index = pd.Index(list(institution_ids), name="institution_id")
    if vehicles is None or vehicles.empty:
        return pd.DataFrame(np.nan, index=index, columns=list(VEHICLE_HEADERS))
    by_fuel = pd.crosstab(vehicles["institution_id"], vehicles["fuel"])
    out = pd.DataFrame(index=index)
    out["vehicles_total"] = vehicles.groupby("institution_id").size()
    for fuel in ("gasoline", "diesel", "electric", "hybrid"):
        out[fuel] = by_fuel[fuel] if fuel in by_fuel.columns else 0
    out["new_energy"] = vehicles[vehicles["new_energy"].astype(bool)].groupby(
        "institution_id").size()
    return out.fillna(0).astype(int)


def basic_info_sheet(figures: pd.DataFrame, vehicles: pd.DataFrame | None = None) -> pd.DataFrame:
    """基本信息: one row per institution with Chinese headers and Chinese category names.

    ``vehicles`` is :func:`vehicle_counts` (None: the vehicle columns are blank).
    """
    sheet = figures.reindex(columns=list(BASIC_HEADERS)).copy()
    sheet["category"] = _in_chinese(sheet["category"], CATEGORY_ZH)
    sheet["level"] = _in_chinese(sheet["level"], LEVEL_ZH)
    sheet["climate_zone"] = _in_chinese(sheet["climate_zone"], CLIMATE_ZH)
    for column in VEHICLE_HEADERS:
        sheet[column] = (figures["institution_id"].map(vehicles[column]).to_numpy()
                         if vehicles is not None else np.nan)
    return sheet.rename(columns={**BASIC_HEADERS, **VEHICLE_HEADERS})


def _in_chinese(column: pd.Series, names: dict[str, str]) -> pd.Series:
    """``column`` with each value ``names`` has in Chinese; the others (and blanks) as they are."""
    # (map + where, not map + fillna: fillna would turn an all-blank text column into floats,
    # with a FutureWarning, under pandas 2.)
    chinese = column.map(names)
    return chinese.where(chinese.notna(), column)


def consumption_sheet(account: engine.AnnualAccount,
                      costs: pd.DataFrame | None = None) -> pd.DataFrame:
    """能源资源消费状况: per institution, each carrier's quantity and cost (rounded to the fen,
    0.01 元), 综合能耗, CO2 and the intensities.

    ``costs`` is :func:`accounting.costs.annual_costs` of the year; None → no bills or fuel
    records are known, so the cost of every carrier used is unknown (blank).
    """
    figures = account.figures
    ids = figures["institution_id"].astype(str)
    quantities = account.carriers.pivot_table(
        index="institution_id", columns=["carrier", "unit"], values="quantity", aggfunc="sum",
        observed=True)
    quantities.index = quantities.index.astype(str)
    lacking = _lacking(figures)
    if costs is None:
        no_ledger = pd.DataFrame()
        costs = annual_costs(account.carriers,
                             billed_costs(no_ledger, no_ledger, no_ledger, account.year), list(ids),
                             _missing_carriers(figures))
    # One row per institution × carrier: unstacked as is (a sum would turn unknown into 0).
    cost = costs.set_index(["institution_id", "carrier"])["cost_cny"].unstack()
    sheet = figures[["institution_id", "name"]].rename(
        columns={"institution_id": "单位编码", "name": "单位名称"}).copy()
    sheet.insert(2, "统计年度", account.year)
    for key, header in CARRIER_HEADERS.items():
        values = quantities[key] if key in quantities.columns else pd.Series(dtype=float)
        unknown = np.array([lacking(inst, key[0]) for inst in ids], dtype=bool)
        # A carrier without a row was not used (0), unless it is one without data (blank).
        sheet[header] = np.where(unknown, np.nan, ids.map(values).fillna(0.0).to_numpy())
        if key[0] in COST_HEADERS:   # the cost beside the quantity, as on the form
            values = cost[key[0]] if key[0] in cost.columns else pd.Series(dtype=float)
            sheet[COST_HEADERS[key[0]]] = ids.map(values).to_numpy(dtype=float).round(2)
    for key in quantities.columns:
        if key not in CARRIER_HEADERS:   # a unit outside the canonical ones: shown, not dropped
            sheet[f"{key[0]}({key[1]})"] = ids.map(quantities[key]).fillna(0.0).to_numpy()
    summary = cost_summary(costs)
    sheet[COST_TOTAL_HEADER] = ids.map(summary["cost_total_cny"]).to_numpy(dtype=float).round(2)
    sheet[COST_NOTE_HEADER] = ids.map(
        {inst: _cost_note(row) for inst, row in summary.iterrows()}).fillna("").to_numpy()
    for column, header in CONSUMPTION_HEADERS.items():
        sheet[header] = figures[column].to_numpy()
    sheet[DATA_NOTE_HEADER] = [_data_note(text) for text in _missing_carriers(figures).reindex(
        ids).fillna("")]
    return sheet


def _missing_carriers(figures: pd.DataFrame) -> pd.Series:
    """institution_id → its carriers without data ("*": none has data; "" when complete)."""
    column = (figures["missing_carriers"] if "missing_carriers" in figures.columns
              else pd.Series("", index=figures.index))
    return pd.Series(column.fillna("").astype(str).to_numpy(),
                     index=figures["institution_id"].astype(str).to_numpy())


def _lacking(figures: pd.DataFrame) -> Any:
    """``lacking(institution_id, carrier)``: whether the institution has no data of it."""
    missing = {inst: set(text.split(",")) for inst, text in _missing_carriers(figures).items()
               if text}
    return lambda inst, carrier: "*" in missing.get(inst, ()) or carrier in missing.get(inst, ())


def _data_note(text: str) -> str:
    """数据说明: which quantities are blank for want of data."""
    if not text:
        return ""
    if text == "*":
        return "无任何计量数据、账单或加油记录: 用量、费用、综合能耗及各项指标均留空 (未知, 非零)"
    which = "、".join(CARRIER_ZH.get(c, c) for c in text.split(","))
    return f"无数据, 留空 (未知, 非零): {which}; 综合能耗及相关指标因此留空"


def _cost_note(row: pd.Series) -> str:
    """费用说明: which carriers' costs are unknown and why, and the known subtotal."""
    if not row["unknown"]:
        return ""
    which = "、".join(f"{CARRIER_ZH.get(c, c)}({COST_STATUS_ZH.get(s, s)})"
                     for c, s in row["unknown"])
    return (f"费用未知, 留空: {which}; 费用合计因此留空, 已知费用小计 "
            f"{row['cost_known_cny']:,.2f} 元")


def data_center_sheet(facilities: pd.DataFrame, figures: pd.DataFrame,
                      year: int) -> pd.DataFrame:
    """数据中心机房能源消费状况: the year's data-centre rows of the facilities ledger.

    PUE (电能利用效率) = total ÷ IT electricity; the share is the data centre's total electricity
    ÷ the institution's electricity use (blank when that is unknown or 0).
    """
    headers = ["单位编码", "单位名称", "机房编码", "机房名称", "统计年度", "IT设备用电量(kWh)",
               "机房总用电量(kWh)", "电能利用效率(PUE)", "机房用电占单位用电比例"]
    if facilities is None or facilities.empty:
        return pd.DataFrame(columns=headers)
    dc = facilities[(facilities["kind"] == "data_center")
                    & (pd.to_numeric(facilities["year"], errors="coerce") == year)]
    it = pd.to_numeric(dc["it_energy_kwh"], errors="coerce").astype(float)
    total = pd.to_numeric(dc["total_energy_kwh"], errors="coerce").astype(float)
    inst = figures.assign(institution_id=figures["institution_id"].astype(str)).set_index(
        "institution_id")
    electricity = dc["institution_id"].map(inst["electricity_kwh"]).astype(float)
    return pd.DataFrame({
        "单位编码": dc["institution_id"], "单位名称": dc["institution_id"].map(inst["name"]),
        "机房编码": dc["facility_id"], "机房名称": dc["name"], "统计年度": year,
        "IT设备用电量(kWh)": it, "机房总用电量(kWh)": total,
        "电能利用效率(PUE)": total / it.where(it > 0),
        "机房用电占单位用电比例": total / electricity.where(electricity > 0),
    }, columns=headers).reset_index(drop=True)


def heating_sheet(account: engine.AnnualAccount, buildings: pd.DataFrame,
                  costs: pd.DataFrame | None, as_of: dt.date | None = None) -> pd.DataFrame:
    """采暖能源资源消费状况: institutions with a heated area or purchased heat.

    采暖面积 is the sum over the buildings in use (:mod:`accounting.buildings`), 供暖方式 their
    heating types, 热力消费量(按热量收费) the year's heat as accounted [GJ], its cost from
    ``costs`` (blank when unknown), and the heat per heated m² [GJ/m²].
    """
    figures = account.figures
    ids = figures["institution_id"].astype(str)
    c = account.carriers
    heat = c[(c["carrier"].astype(str) == "heat") & (c["unit"].astype(str) == "GJ")]
    heat_gj = heat.groupby(heat["institution_id"].astype(str))["quantity"].sum()
    types: dict[str, str] = {}
    if buildings is not None and len(buildings) and "heating_type" in buildings.columns:
        in_use = buildings_in_use(buildings, account.year, as_of)
        in_use = in_use[in_use["heating_type"].notna()]
        for inst, group in in_use.groupby("institution_id"):
            names = [HEATING_TYPE_ZH.get(t, t) for t in dict.fromkeys(group["heating_type"])]
            types[str(inst)] = "、".join(names)
    lacking = _lacking(figures)
    heat_cost = pd.Series(dtype=float)
    if costs is not None:
        rows = costs[costs["carrier"] == "heat"]
        heat_cost = pd.Series(rows["cost_cny"].to_numpy(dtype=float), index=rows["institution_id"])
    area = pd.to_numeric(figures["heated_area_m2"], errors="coerce").astype(float).to_numpy()
    gj = np.where([lacking(inst, "heat") for inst in ids], np.nan,
                  ids.map(heat_gj).fillna(0.0).to_numpy(dtype=float))
    sheet = pd.DataFrame({
        "单位编码": ids.to_numpy(), "单位名称": figures["name"].to_numpy(), "统计年度": account.year,
        "采暖面积(m²)": area, "供暖方式": ids.map(types).to_numpy(),
        "热力消费量(按热量收费)(GJ)": gj,
        "热力费用(元)": (ids.map(heat_cost).to_numpy(dtype=float) if len(heat_cost)
                     else np.where(gj > 0, np.nan, 0.0)).round(2),
        "单位采暖面积耗热量(GJ/m²)": gj / np.where(area > 0, area, np.nan),
    })
    heats = ((np.nan_to_num(area) > 0) | (np.nan_to_num(gj) > 0)
             | sheet["供暖方式"].notna().to_numpy())
    return sheet[heats].reset_index(drop=True)


def summary_sheet(figures: pd.DataFrame, by: list[str], headers: dict[str, str]) -> pd.DataFrame:
    """Totals grouped by ``by``; intensities are sum ÷ sum over members with a denominator."""
    rows = []
    for key, group in figures.groupby(by, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        t = engine.totals(group)
        row = {headers[c]: v for c, v in zip(by, key, strict=True)}
        row.update({_SUMMARY_HEADERS[k]: t[k] for k in _SUMMARY_HEADERS})
        rows.append(row)
    total = engine.totals(figures)
    total_row = {headers[by[0]]: "合计"}
    total_row.update({_SUMMARY_HEADERS[k]: total[k] for k in _SUMMARY_HEADERS})
    rows.append(total_row)
    return pd.DataFrame(rows)


def verdict_sheet(account: engine.AnnualAccount,
                  language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """判定: every verdict row with its reason, what is missing and its source; kinds,
    indicators, statuses, reasons and headers in ``language`` (the message catalog's)."""
    v = explain(account.verdicts, account.rules or DEFAULT_RULES, language=language)

    def names(group: str, column: pd.Series) -> list[str]:
        labels = {value: label(group, value, language) for value in pd.unique(column)}
        return [labels[value] for value in column]

    columns = {
        "institution_id": v["institution_id"], "kind": names("kind", v["kind"]),
        "subject": names("subject", v["subject"]), "status": names("status", v["status"]),
        "value": v["value"], "unit": v["unit"], "coverage": v["coverage"],
        "reason": v["reason"], "missing": v["missing"], "source": v["source"],
    }
    return pd.DataFrame({text(f"report.verdict_sheet.{k}", language): (
        c.to_numpy() if isinstance(c, pd.Series) else c) for k, c in columns.items()})


def factor_sheet(account: engine.AnnualAccount) -> pd.DataFrame:
    """折算系数: every factor used, with its source, year, region and confidence."""
    f = account.factors
    return pd.DataFrame({
        "能源品种": f["carrier"], "计量单位": f["unit"], "省份": f["province"], "用途": f["use"],
        "范围": f["scope"], "折标系数(kgce/单位)": f["kgce_per_unit"],
        "折标系数来源": f["kgce_source"], "折标系数可信度": f["kgce_confidence"],
        "折标系数说明": f["kgce_note"], "排放因子(kgCO₂/单位)": f["kgco2_per_unit"],
        "排放因子来源": f["kgco2_source"], "排放因子年份": f["kgco2_year"],
        "排放因子地区": f["kgco2_region"], "排放因子可信度": f["kgco2_confidence"],
        "排放因子说明": f["kgco2_note"],
    })


@dataclass
class ReportExtras:
    """What the report shows beside the account, from the ledgers (see :func:`report_extras`)."""

    #: :func:`vehicle_counts`.
    vehicles: pd.DataFrame
    #: :func:`accounting.costs.annual_costs`.
    costs: pd.DataFrame
    #: :func:`data_center_sheet`.
    data_centers: pd.DataFrame
    #: :func:`heating_sheet`.
    heating: pd.DataFrame


def read_report_ledgers(settings: AccountingConfig) -> dict[str, pd.DataFrame]:
    """The ledgers of :data:`REPORT_LEDGERS` from the deployment's ledger database."""
    store = LedgerStore(settings.resolve(settings.accounting.ledger_path))
    return {kind: store.table(kind) for kind in REPORT_LEDGERS}


def report_extras(account: engine.AnnualAccount, ledgers: dict[str, pd.DataFrame],
                  as_of: dt.date | None = None) -> ReportExtras:
    """Vehicles, costs, data centres and heating of the account's year.

    Parameters
    ----------
    account
        The year's accounts.
    ledgers
        kind → ledger frame (``LedgerStore.table``) for :data:`REPORT_LEDGERS`; a missing kind
        counts as an empty ledger.
    as_of
        Today, for the current year's buildings in use (:mod:`accounting.buildings`).
    """
    empty = pd.DataFrame()
    get = {kind: ledgers.get(kind, empty) for kind in REPORT_LEDGERS}
    ids = account.figures["institution_id"].astype(str).tolist()
    billed = billed_costs(get["bills"], get["fuel"], get["vehicles"], account.year)
    costs = annual_costs(account.carriers, billed, ids, _missing_carriers(account.figures))
    return ReportExtras(
        vehicles=vehicle_counts(get["vehicles"], ids),
        costs=costs,
        data_centers=data_center_sheet(get["facilities"], account.figures, account.year),
        heating=heating_sheet(account, get["buildings"], costs, as_of),
    )


def report_json(account: engine.AnnualAccount, extras: ReportExtras,
                language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """``jieneng account --format json`` plus, per institution, ``vehicles``, ``costs_cny``
    (carrier → 元, None when unknown), ``cost_status``, ``cost_total_cny`` (None unless every cost
    is known) and ``cost_known_cny``; and the year's ``data_centers`` and ``heating`` rows (the
    sheets' columns, Chinese headers)."""
    data = account_json(account, language=language)
    summary = cost_summary(extras.costs)
    costs_by = {k: g for k, g in extras.costs.groupby("institution_id", sort=False)}
    for entry in data["institutions"]:
        inst = str(entry["institution_id"])
        entry["vehicles"] = ({k: plain(v) for k, v in extras.vehicles.loc[inst].items()}
                             if inst in extras.vehicles.index else None)
        c = costs_by.get(inst, extras.costs.iloc[0:0])
        entry["costs_cny"] = {r["carrier"]: plain(r["cost_cny"]) for r in c.to_dict("records")}
        entry["cost_status"] = {r["carrier"]: r["status"] for r in c.to_dict("records")}
        known = inst in summary.index
        entry["cost_total_cny"] = plain(summary.loc[inst, "cost_total_cny"]) if known else None
        entry["cost_known_cny"] = plain(summary.loc[inst, "cost_known_cny"]) if known else None
    for key, frame in (("data_centers", extras.data_centers), ("heating", extras.heating)):
        data[key] = [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
    return data


def write_report(account: engine.AnnualAccount, out: Path, settings: AccountingConfig,
                 ledgers: dict[str, pd.DataFrame] | None = None,
                 as_of: dt.date | None = None, language: str = DEFAULT_LANGUAGE) -> Path:
    """Write the year's report; the format follows the suffix (.xlsx, .csv, .json).

    ``ledgers`` (kind → frame, :data:`REPORT_LEDGERS`) are read from the deployment's ledger
    database when None; ``as_of`` is today, for the current year's buildings in use;
    ``language`` is that of the verdicts (判定) and the JSON's sentences (the forms themselves
    keep their Chinese headers, as they are filed).

    Returns
    -------
    Path
        The file written (its folder is created when missing).

    Raises
    ------
    ValueError
        For another suffix.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        raise ValueError(f"{out}: expected a file ending in {', '.join(REPORT_SUFFIXES)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    extras = report_extras(account, read_report_ledgers(settings) if ledgers is None else ledgers,
                           as_of)
    if suffix == ".json":
        data = {**report_json(account, extras, language), **bureau_json(account, settings)}
        out.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str),
                       encoding="utf-8")
        return out
    if suffix == ".csv":
        consumption_sheet(account, extras.costs).to_csv(out, index=False, encoding="utf-8-sig")
        return out
    figures = account.figures.copy()
    figures["region_code"] = settings.site.region_code
    category = figures.assign(category=_in_chinese(figures["category"], CATEGORY_ZH).fillna("未分类"))
    region = figures.assign(province=figures["province"].fillna(""))
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        basic_info_sheet(account.figures, extras.vehicles).to_excel(
            writer, sheet_name="基本信息", index=False)
        consumption_sheet(account, extras.costs).to_excel(
            writer, sheet_name="能源资源消费状况", index=False)
        extras.data_centers.to_excel(writer, sheet_name="数据中心机房能源消费状况", index=False)
        extras.heating.to_excel(writer, sheet_name="采暖能源资源消费状况", index=False)
        summary_sheet(category, ["category"], {"category": "单位类别"}).to_excel(
            writer, sheet_name="分类汇总", index=False)
        summary_sheet(region, ["region_code", "province"],
                      {"region_code": "行政区划代码", "province": "省份"}).to_excel(
            writer, sheet_name="行政区域汇总", index=False)
        verdict_sheet(account, language).to_excel(writer, sheet_name="判定", index=False)
        factor_sheet(account).to_excel(writer, sheet_name="折算系数", index=False)
        for name, sheet in bureau_sheets(account, settings, language).items():  # accounting.bureau_report
            sheet.to_excel(writer, sheet_name=name, index=False)
    return out
