"""The report's vehicles, costs, data-centre and heating fields, checked against values computed by
hand from a small ledger imported through the real import (never against the code's own output).

The ledger (year 2025):

* institution a — electricity on two bills: 2024-12-16 … 2025-01-15 (31 days, 3 100 kWh,
  2 480 元; 15 days in 2025 → 1 500 kWh, 1 200 元) and 2025-01-16 … 2025-12-31 (35 000 kWh,
  28 000 元): 36 500 kWh, 29 200 元. Water: one bill of 1 000 m3 without a cost → unknown.
  Heat: two season bills of 121 days each, 1 210 GJ and 48 400 元 each: 2024-11-15 … 2025-03-15
  has 74 days in 2025 (740 GJ, 29 600 元), 2025-11-15 … 2026-03-15 has 47 (470 GJ, 18 800 元):
  1 210 GJ, 48 400 元. Coal: 2 t (= 2 000 kg), 2 200 元. Vehicles: gasoline P1, electric P2,
  hybrid P3 (both new energy); fuel 2025: 40 L (316 元) + 20 L (158 元) = 60 L, 474 元 (a 2024
  record is not counted). Known costs 29 200 + 48 400 + 2 200 + 474 = 80 274 元; total blank.
  Buildings: a1 1 000 m2 (heated 800, district heat), a2 500 m2 from 2025-06-01 (heated 400, air
  conditioning), a3 300 m2 handed over 2025-03-31 (gas): heated area 1 200 m2. Data centre
  a-dc 2025: IT 10 000 kWh, total 15 000 kWh → PUE 1.5, 15 000 / 36 500 of a's electricity.
* institution b — 12 000 kWh read by a meter, no bill → electricity cost unknown (metered);
  one diesel vehicle, no fuel records; building b1 without heating (none).
* institution c — one electricity bill of 10 000 kWh, 8 000 元: every cost known, total 8 000 元.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from accounting import engine, report
from accounting.consumption import CONSUMPTION_COLUMNS, bills_to_consumption, fuel_to_consumption
from accounting.ledgers import LedgerStore, import_ledger
from jieneng.settings import Settings
from tests.support.accounting import ledger_settings

YEAR = 2025

LEDGERS = {
    "institutions": """institution_id,name,category,level,province,climate_zone
a,甲单位,government,municipal,shandong,cold
b,乙单位,education,municipal,shandong,cold
c,丙单位,government,county,shandong,cold
d,丁单位,government,county,shandong,cold
""",
    "buildings": (
        "building_id,institution_id,floor_area_m2,heated_area_m2,heating_type,in_use_from,"
        "in_use_until\n"
        "a1,a,1000,800,district_heat_metered,,\n"
        "a2,a,500,400,air_conditioning,2025-06-01,\n"
        "a3,a,300,300,gas_or_oil,,2025-03-31\n"
        "b1,b,2000,,none,,\n"
        "c1,c,1500,,,,\n"
        "d1,d,900,,,,\n"
    ),
    "headcount": """institution_id,year,occupants
a,2025,50
b,2025,400
c,2025,30
""",
    "vehicles": """plate,institution_id,fuel,new_energy
P1,a,gasoline,no
P2,a,electric,yes
P3,a,hybrid,yes
P4,b,diesel,no
""",
    "fuel": """date,plate,fuel,litres,cost_cny
2024-12-31,P1,gasoline,50,395
2025-03-01,P1,gasoline,40,316
2025-05-01,P3,gasoline,20,158
""",
    "facilities": """facility_id,institution_id,kind,name,year,it_energy_kwh,total_energy_kwh
a-dc,a,data_center,机房,2024,9000,14000
a-dc,a,data_center,机房,2025,10000,15000
b-canteen,b,canteen,食堂,,,
""",
    "bills": """institution_id,carrier,period_start,period_end,quantity,unit,cost_cny,account
a,electricity,2024-12-16,2025-01-15,3100,kWh,2480,a-e
a,electricity,2025-01-16,2025-12-31,35000,kWh,28000,a-e
a,water,2025-01-01,2025-12-31,1000,m3,,a-w
a,heat,2024-11-15,2025-03-15,1210,GJ,48400,a-h
a,heat,2025-11-15,2026-03-15,1210,GJ,48400,a-h
a,coal,2025-01-01,2025-01-31,2,t,2200,a-c
c,electricity,2025-01-01,2025-12-31,10000,kWh,8000,c-e
c,water,2025-01-01,2025-12-31,300,m3,1260,c-w
""",
}


@pytest.fixture(scope="module")
def city(tmp_path_factory, reference) -> tuple[engine.AnnualAccount, dict[str, pd.DataFrame]]:
    folder = tmp_path_factory.mktemp("forms")
    settings = ledger_settings(folder, "ledgers.sqlite")
    for kind, text in LEDGERS.items():
        path = folder / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        import_ledger(kind, path, settings)
    store = LedgerStore(settings.resolve(settings.accounting.ledger_path))
    t = {kind: store.table(kind) for kind in LEDGERS}
    metered = pd.DataFrame({
        "institution_id": "b", "month": range(1, 13), "carrier": "electricity", "unit": "kWh",
        "quantity": 1000.0, "use": "purchased", "source": "meter", "coverage": 1.0,
        "estimated_share": 0.0})
    consumption = pd.concat([bills_to_consumption(t["bills"], YEAR),
                             fuel_to_consumption(t["fuel"], t["vehicles"], YEAR), metered],
                            ignore_index=True)[CONSUMPTION_COLUMNS]
    profile = engine.institution_profile(t["institutions"], t["buildings"], t["headcount"], YEAR)
    account = engine.account_year(YEAR, consumption, profile, reference, 0.8)
    return account, t


@pytest.fixture(scope="module")
def extras(city) -> report.ReportExtras:
    account, ledgers = city
    return report.report_extras(account, ledgers)


def _cost(extras, inst: str, carrier: str) -> tuple[float, str]:
    row = extras.costs[(extras.costs["institution_id"] == inst)
                       & (extras.costs["carrier"] == carrier)].iloc[0]
    return row["cost_cny"], row["status"]


def test_costs_split_by_day_like_the_quantities(extras):
    assert _cost(extras, "a", "electricity") == (pytest.approx(29_200.0), "known")
    assert _cost(extras, "a", "heat") == (pytest.approx(48_400.0), "known")
    assert _cost(extras, "a", "coal") == (pytest.approx(2_200.0), "known")
    assert _cost(extras, "a", "gasoline") == (pytest.approx(474.0), "known")
    assert _cost(extras, "c", "electricity") == (pytest.approx(8_000.0), "known")


def test_unknown_costs_are_blank_not_zero_and_say_why(extras):
    cost, status = _cost(extras, "a", "water")
    assert pd.isna(cost)
    assert status == "bill_without_cost"
    cost, status = _cost(extras, "b", "electricity")
    assert pd.isna(cost)
    assert status == "metered"
    assert _cost(extras, "b", "diesel") == (0.0, "none")      # a vehicle, but no fuel bought
    assert _cost(extras, "c", "natural_gas") == (0.0, "none")


def test_consumption_sheet_has_cost_beside_quantity_and_a_total_only_when_complete(city, extras):
    account, _ = city
    sheet = report.consumption_sheet(account, extras.costs).set_index("单位编码")
    columns = list(sheet.columns)
    assert columns.index("电费(元)") == columns.index("电(kWh)") + 1
    assert sheet.loc["a", "电(kWh)"] == pytest.approx(36_500.0)
    assert sheet.loc["a", "电费(元)"] == pytest.approx(29_200.0)
    assert sheet.loc["a", "热力(GJ)"] == pytest.approx(1_210.0)
    assert sheet.loc["a", "热力费用(元)"] == pytest.approx(48_400.0)
    assert sheet.loc["a", "煤炭(kg)"] == pytest.approx(2_000.0)
    assert sheet.loc["a", "汽油(L)"] == pytest.approx(60.0)
    assert pd.isna(sheet.loc["a", "水费(元)"])
    assert pd.isna(sheet.loc["a", "费用合计(元)"])
    assert "水(账单或加油记录未填金额)" in sheet.loc["a", "费用说明"]
    assert "80,274.00" in sheet.loc["a", "费用说明"]
    assert pd.isna(sheet.loc["b", "电费(元)"])
    assert "电(计量数据, 无账单金额)" in sheet.loc["b", "费用说明"]
    assert sheet.loc["c", "费用合计(元)"] == pytest.approx(9_260.0)
    assert sheet.loc["c", "费用说明"] == ""
    assert sheet.loc["c", "数据说明"] == ""


def test_an_institution_without_any_data_is_blank_never_zero(city, extras):
    # d has a building but no meter, bill or fuel record in the year: every quantity, cost and
    # figure is unknown (blank), the total too, and the notes say what is missing.
    account, _ = city
    sheet = report.consumption_sheet(account, extras.costs).set_index("单位编码")
    d = sheet.loc["d"]
    for header in ("电(kWh)", "水(m³)", "天然气(m³)", "热力(GJ)", "电费(元)", "水费(元)",
                   "费用合计(元)", "综合能耗(tce)", "碳排放总量(tCO₂)", "单位建筑面积能耗(kgce/m²)",
                   "人均综合能耗(kgce/人)"):
        assert pd.isna(d[header]), header
    assert "电(无计量、账单或加油记录)" in d["费用说明"]
    assert "无任何计量数据" in d["数据说明"]
    # b has metered electricity but no water data: water blank, not 0, and said so.
    assert pd.isna(sheet.loc["b", "水(m³)"])
    assert "水" in sheet.loc["b", "数据说明"]
    assert _cost(extras, "d", "electricity")[1] == "no_data"
    assert _cost(extras, "b", "water") == (pytest.approx(float("nan"), nan_ok=True), "no_data")
    # The JSON says null with a reason.
    data = report.report_json(account, extras)
    entry = next(i for i in data["institutions"] if i["institution_id"] == "d")
    assert entry["energy_tce"] is None
    assert entry["electricity_kwh"] is None
    assert entry["costs_cny"]["electricity"] is None
    assert entry["cost_total_cny"] is None
    assert "无任何计量数据" in entry["missing"]["energy_tce"]
    # The totals leave d (and b, without water) out and say so.
    assert data["totals"]["energy_tce_left_out"] == 1
    assert data["totals"]["water_m3_left_out"] == 2


def test_basic_info_counts_vehicles_by_fuel(city, extras):
    account, _ = city
    sheet = report.basic_info_sheet(account.figures, extras.vehicles).set_index("单位编码")
    a = sheet.loc["a"]
    assert (a["公务用车数量(辆)"], a["汽油车(辆)"], a["纯电动车(辆)"], a["混合动力车(辆)"],
            a["柴油车(辆)"], a["新能源汽车数量(辆)"]) == (3, 1, 1, 1, 0, 2)
    assert (sheet.loc["b", "柴油车(辆)"], sheet.loc["b", "新能源汽车数量(辆)"]) == (1, 0)
    assert sheet.loc["c", "公务用车数量(辆)"] == 0
    # Floor area of buildings in use at year end: a1 + a2 (a3 handed over in March).
    assert sheet.loc["a", "建筑面积(m²)"] == pytest.approx(1_500.0)
    assert sheet.loc["a", "采暖面积(m²)"] == pytest.approx(1_200.0)


def test_an_empty_vehicles_ledger_leaves_the_counts_blank(city):
    account, _ = city
    counts = report.vehicle_counts(pd.DataFrame(), ["a", "b"])
    sheet = report.basic_info_sheet(account.figures, counts)
    assert sheet["新能源汽车数量(辆)"].isna().all()


def test_data_center_sheet(extras):
    dc = extras.data_centers
    assert len(dc) == 1                                  # the 2024 row and the canteen are not
    row = dc.iloc[0]
    assert (row["单位编码"], row["机房编码"], row["统计年度"]) == ("a", "a-dc", YEAR)
    assert row["电能利用效率(PUE)"] == pytest.approx(1.5)
    assert row["机房用电占单位用电比例"] == pytest.approx(15_000 / 36_500)


def test_heating_sheet(extras):
    heating = extras.heating.set_index("单位编码")
    assert set(heating.index) == {"a", "b"}              # c neither heats nor buys heat
    a = heating.loc["a"]
    assert a["采暖面积(m²)"] == pytest.approx(1_200.0)
    assert a["供暖方式"] == "市政集中供暖(按热计量)、空调供暖"  # a3 (gas) was handed over
    assert a["热力消费量(按热量收费)(GJ)"] == pytest.approx(1_210.0)
    assert a["热力费用(元)"] == pytest.approx(48_400.0)
    assert a["单位采暖面积耗热量(GJ/m²)"] == pytest.approx(1_210 / 1_200)
    assert heating.loc["b", "供暖方式"] == "不供暖"
    assert heating.loc["b", "热力消费量(按热量收费)(GJ)"] == 0.0


def test_workbook_json_and_csv_carry_the_new_fields(city, tmp_path):
    account, ledgers = city
    settings = Settings(site={"name": "t", "province": "shandong", "region_code": "370100"})
    xlsx = report.write_report(account, tmp_path / "r.xlsx", settings, ledgers=ledgers)
    book = openpyxl.load_workbook(xlsx, read_only=True)
    assert book.sheetnames[:4] == ["基本信息", "能源资源消费状况", "数据中心机房能源消费状况",
                                   "采暖能源资源消费状况"]
    rows = list(book["能源资源消费状况"].iter_rows(values_only=True))
    header, by_id = rows[0], {r[0]: r for r in rows[1:]}
    assert by_id["a"][header.index("水费(元)")] is None          # blank cell, not 0
    assert by_id["a"][header.index("电费(元)")] == pytest.approx(29_200.0)
    book.close()

    data = json.loads(report.write_report(account, tmp_path / "r.json", settings,
                                          ledgers=ledgers).read_text(encoding="utf-8"))
    a = next(i for i in data["institutions"] if i["institution_id"] == "a")
    assert a["costs_cny"]["electricity"] == pytest.approx(29_200.0)
    assert a["costs_cny"]["water"] is None
    assert a["cost_status"]["water"] == "bill_without_cost"
    assert a["cost_total_cny"] is None
    assert a["cost_known_cny"] == pytest.approx(80_274.0)
    assert a["vehicles"]["new_energy"] == 2
    assert data["data_centers"][0]["电能利用效率(PUE)"] == pytest.approx(1.5)
    assert {h["单位编码"] for h in data["heating"]} == {"a", "b"}

    text = Path(report.write_report(account, tmp_path / "r.csv", settings, ledgers=ledgers)
                ).read_text(encoding="utf-8-sig")
    assert "电费(元)" in text.splitlines()[0]
    assert "费用合计(元)" in text.splitlines()[0]


def test_metered_only_city_has_float_costs_all_unknown():
    """No bill and no fuel record: every cost is unknown (NaN, status metered), as floats."""
    from accounting.costs import annual_costs, billed_costs

    empty = pd.DataFrame(columns=["institution_id", "carrier", "period_start", "period_end",
                                  "quantity", "unit", "cost_cny"])
    fuel = pd.DataFrame(columns=["date", "plate", "fuel", "litres", "cost_cny"])
    vehicles = pd.DataFrame(columns=["plate", "institution_id"])
    billed = billed_costs(empty, fuel, vehicles, 2025)
    carriers = pd.DataFrame({"institution_id": ["a"], "carrier": ["electricity"], "unit": ["kWh"],
                             "quantity": [1000.0]})
    costs = annual_costs(carriers, billed, ["a"])
    electricity = costs[costs["carrier"] == "electricity"].iloc[0]
    assert costs["cost_cny"].dtype == float
    assert pd.isna(electricity["cost_cny"])
    assert electricity["status"] == "metered"
