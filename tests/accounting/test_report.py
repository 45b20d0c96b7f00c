"""The report's sheets, built from a small hand-made year through the real engine."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from accounting import engine, report
from jieneng.settings import Settings

YEAR = 2023


@pytest.fixture(scope="module")
def account(reference) -> engine.AnnualAccount:
    rows = []
    for inst, kwh, water in (("g1", 120_000.0, 1_200.0), ("g2", 60_000.0, 600.0),
                             ("s1", 240_000.0, 3_000.0)):
        for month in range(1, 13):
            rows.append({"institution_id": inst, "month": month, "carrier": "electricity",
                         "unit": "kWh", "quantity": kwh / 12, "use": "purchased",
                         "source": "bill", "coverage": 1.0, "estimated_share": 0.0})
            rows.append({"institution_id": inst, "month": month, "carrier": "water",
                         "unit": "m3", "quantity": water / 12, "use": "purchased",
                         "source": "bill", "coverage": 1.0, "estimated_share": 0.0})
    profile = pd.DataFrame({
        "institution_id": ["g1", "g2", "s1"], "name": ["机关一", "机关二", "学校一"],
        "category": ["government", "government", "education"],
        "level": ["municipal", "municipal", "county"], "province": "shandong",
        "climate_zone": "cold", "credit_code": None, "quota_area": "", "subtype": "",
        "floor_area_m2": [10_000.0, 5_000.0, 20_000.0], "heated_area_m2": float("nan"),
        "occupants": [200.0, 100.0, 1_000.0],
    })
    return engine.account_year(YEAR, pd.DataFrame(rows), profile, reference, 0.8)


def test_consumption_sheet_has_carriers_and_indicators(account):
    sheet = report.consumption_sheet(account).set_index("单位编码")
    # g1: 120 000 kWh × 0.1229 kgce/kWh = 14 748 kgce = 14.748 tce over 10 000 m2 = 1.4748.
    assert sheet.loc["g1", "电(kWh)"] == pytest.approx(120_000.0)
    assert sheet.loc["g1", "水(m³)"] == pytest.approx(1_200.0)
    assert sheet.loc["g1", "综合能耗(tce)"] == pytest.approx(14.748)
    assert sheet.loc["g1", "单位建筑面积能耗(kgce/m²)"] == pytest.approx(1.4748)
    assert sheet.loc["g1", "人均用水量(m³/人)"] == pytest.approx(6.0)
    assert sheet.loc["g1", "天然气(m³)"] == 0.0
    assert sheet.loc["g1", "统计年度"] == YEAR
    # No bills or fuel records given: the cost of what was used is unknown (blank), of what was
    # not used 0.
    assert pd.isna(sheet.loc["g1", "电费(元)"])
    assert sheet.loc["g1", "天然气费用(元)"] == 0.0
    assert pd.isna(sheet.loc["g1", "费用合计(元)"])


def test_category_summary_is_sum_over_sum(account):
    figures = account.figures.assign(
        category=account.figures["category"].map(report.CATEGORY_ZH))
    summary = report.summary_sheet(figures, ["category"], {"category": "单位类别"})
    summary = summary.set_index("单位类别")
    # Government: (14 748 + 7 374) kgce / 15 000 m2 = 1.4748 kgce/m2 (not a mean of ratios).
    assert summary.loc["国家机关", "单位数"] == 2
    assert summary.loc["国家机关", "单位建筑面积能耗(kgce/m²)"] == pytest.approx(22_122 / 15_000)
    assert summary.loc["国家机关", "人均用水量(m³/人)"] == pytest.approx(1_800 / 300)
    assert summary.loc["合计", "综合能耗(tce)"] == pytest.approx((14_748 + 7_374 + 29_496) / 1000)


def test_basic_info_sheet_uses_chinese_names(account):
    sheet = report.basic_info_sheet(account.figures)
    assert list(sheet.columns) == [*report.BASIC_HEADERS.values(),
                                   *report.VEHICLE_HEADERS.values()]
    assert sheet["公务用车数量(辆)"].isna().all()     # no vehicles ledger given: blank, not 0
    assert set(sheet["单位类别"]) == {"国家机关", "教育"}
    assert set(sheet["级次"]) == {"市级", "县级"}


def test_workbook_written_with_every_sheet(account, tmp_path):
    settings = Settings(site={"name": "t", "province": "shandong", "region_code": "370100"})
    out = report.write_report(account, tmp_path / "r.xlsx", settings, ledgers={})
    book = openpyxl.load_workbook(out, read_only=True)
    assert book.sheetnames == ["基本信息", "能源资源消费状况", "数据中心机房能源消费状况",
                               "采暖能源资源消费状况", "分类汇总", "行政区域汇总", "判定",
                               "折算系数"]
    region = list(book["行政区域汇总"].iter_rows(values_only=True))
    assert region[0][:2] == ("行政区划代码", "省份")
    assert region[1][:2] == ("370100", "shandong")
    verdict_rows = list(book["判定"].iter_rows(min_row=2, values_only=True))
    assert all(r[7] for r in verdict_rows)          # every verdict has its reason written
    factors = list(book["折算系数"].iter_rows(min_row=2, values_only=True))
    assert any(r[0] == "electricity" and r[5] == pytest.approx(0.1229) for r in factors)
    book.close()


def test_unknown_suffix_is_refused(account, tmp_path):
    settings = Settings(site={"name": "t", "province": "shandong", "region_code": "370100"})
    with pytest.raises(ValueError, match=r"\.xlsx"):
        report.write_report(account, tmp_path / "r.txt", settings)
