"""The annual 公共机构能源资源消费统计 report: an Excel workbook, a CSV or a JSON file.

Workbook sheets (Chinese headers, as an energy officer files them; reference §6.2):

* 基本信息 — one row per institution: code, name, 统一社会信用代码, category, level, province,
  climate zone, 建筑面积, 采暖面积, 用能人数, vehicles and 新能源汽车数量 are not in the engine and
  are left out;
* 能源资源消费状况 — one row per institution: each carrier's quantity in its unit, 综合能耗 (tce),
  CO2 by scope, the intensities and the coverage of the data;
* 分类汇总 — the same totals by category (单位类别), intensities as sum ÷ sum;
* 行政区域汇总 — the same by province and the deployment's 行政区划代码;
* 判定 — every verdict with its reason and source; 折算系数 — every factor used with its source.

The CSV holds the 能源资源消费状况 sheet (UTF-8 with BOM so that Excel shows the Chinese); the JSON
is what ``jieneng account --format json`` prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from accounting import engine
from jieneng.settings import Settings

__all__ = [
    "BASIC_HEADERS",
    "CONSUMPTION_HEADERS",
    "REPORT_SUFFIXES",
    "basic_info_sheet",
    "consumption_sheet",
    "summary_sheet",
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
}


def basic_info_sheet(figures: pd.DataFrame) -> pd.DataFrame:
    """基本信息: one row per institution with Chinese headers and Chinese category names."""
    sheet = figures.reindex(columns=list(BASIC_HEADERS)).copy()
    sheet["category"] = sheet["category"].map(CATEGORY_ZH).fillna(sheet["category"])
    sheet["level"] = sheet["level"].map(LEVEL_ZH).fillna(sheet["level"])
    sheet["climate_zone"] = sheet["climate_zone"].map(CLIMATE_ZH).fillna(sheet["climate_zone"])
    return sheet.rename(columns=BASIC_HEADERS)


def consumption_sheet(account: engine.AnnualAccount) -> pd.DataFrame:
    """能源资源消费状况: per institution, each carrier's quantity, 综合能耗, CO2 and intensities."""
    figures = account.figures
    quantities = account.carriers.pivot_table(
        index="institution_id", columns=["carrier", "unit"], values="quantity", aggfunc="sum")
    sheet = figures[["institution_id", "name"]].rename(
        columns={"institution_id": "单位编码", "name": "单位名称"}).copy()
    sheet.insert(2, "统计年度", account.year)
    for key, header in CARRIER_HEADERS.items():
        values = quantities[key] if key in quantities.columns else pd.Series(dtype=float)
        sheet[header] = figures["institution_id"].map(values).fillna(0.0).to_numpy()
    for key in quantities.columns:
        if key not in CARRIER_HEADERS:   # a unit outside the canonical ones: shown, not dropped
            sheet[f"{key[0]}({key[1]})"] = figures["institution_id"].map(
                quantities[key]).fillna(0.0).to_numpy()
    for column, header in CONSUMPTION_HEADERS.items():
        sheet[header] = figures[column].to_numpy()
    return sheet


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


def verdict_sheet(account: engine.AnnualAccount) -> pd.DataFrame:
    """判定: every verdict row with its reason, what is missing and its source."""
    from accounting.verdicts import explain

    v = explain(account.verdicts)
    return pd.DataFrame({
        "单位编码": v["institution_id"], "类别": v["kind"], "指标/事项": v["subject"],
        "结论": v["status"], "数值": v["value"], "单位": v["unit"], "覆盖率": v["coverage"],
        "依据": v["reason"], "缺少": v["missing"], "来源": v["source"],
    })


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


def write_report(account: engine.AnnualAccount, out: Path, settings: Settings) -> Path:
    """Write the year's report; the format follows the suffix (.xlsx, .csv, .json).

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
    if suffix == ".json":
        from accounting.cli import account_json

        out.write_text(json.dumps(account_json(account), ensure_ascii=False, indent=2),
                       encoding="utf-8")
        return out
    if suffix == ".csv":
        consumption_sheet(account).to_csv(out, index=False, encoding="utf-8-sig")
        return out
    figures = account.figures.copy()
    figures["region_code"] = settings.site.region_code
    category = figures.assign(category=figures["category"].map(CATEGORY_ZH).fillna(
        figures["category"]).fillna("未分类"))
    region = figures.assign(province=figures["province"].fillna(""))
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        basic_info_sheet(account.figures).to_excel(writer, sheet_name="基本信息", index=False)
        consumption_sheet(account).to_excel(writer, sheet_name="能源资源消费状况", index=False)
        summary_sheet(category, ["category"], {"category": "单位类别"}).to_excel(
            writer, sheet_name="分类汇总", index=False)
        summary_sheet(region, ["region_code", "province"],
                      {"region_code": "行政区划代码", "province": "省份"}).to_excel(
            writer, sheet_name="行政区域汇总", index=False)
        verdict_sheet(account).to_excel(writer, sheet_name="判定", index=False)
        factor_sheet(account).to_excel(writer, sheet_name="折算系数", index=False)
    return out
