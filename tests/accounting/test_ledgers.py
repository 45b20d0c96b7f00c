"""Ledger import: Chinese headers, BOM, Excel, whole-file validation, atomicity, re-import."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from openpyxl import Workbook

from accounting.errors import LedgerImportError
from accounting.ledgers import KINDS, LedgerStore, import_ledger
from tests.support.accounting import SAMPLE_DATA as SAMPLE


def _store(settings) -> LedgerStore:
    return LedgerStore(settings.resolve(settings.accounting.ledger_path))


def _write(path: Path, text: str, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


INSTITUTIONS_ZH = (
    "单位编码,单位名称,单位类别,级次,省份,气候区,统一社会信用代码\n"
    "gov01,市政府办公楼,党政机关,市级,shandong,寒冷,11370100MB0000000X\n"
    "edu01,市第一中学,教育,市级,shandong,寒冷,\n"
)


def test_chinese_headers_and_values_with_bom(settings, tmp_path):
    path = _write(tmp_path / "单位.csv", INSTITUTIONS_ZH, bom=True)
    result = import_ledger("institutions", path, settings)
    assert (result.rows, result.added, result.replaced) == (2, 2, 0)
    table = _store(settings).table("institutions").set_index("institution_id")
    assert table.loc["gov01", "category"] == "government"
    assert table.loc["gov01", "level"] == "municipal"
    assert table.loc["edu01", "climate_zone"] == "cold"
    assert table.loc["gov01", "credit_code"] == "11370100MB0000000X"
    assert table.loc["edu01", "name"] == "市第一中学"


def test_reimport_replaces_rows_with_the_same_key(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "a.csv", INSTITUTIONS_ZH), settings)
    changed = INSTITUTIONS_ZH.replace("市第一中学", "市一中")
    result = import_ledger("institutions", _write(tmp_path / "b.csv", changed), settings)
    assert (result.added, result.replaced) == (0, 2)
    table = _store(settings).table("institutions")
    assert len(table) == 2
    assert table.set_index("institution_id").loc["edu01", "name"] == "市一中"


def test_every_bad_row_is_reported_and_nothing_is_imported(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    import_ledger("buildings", _write(
        tmp_path / "ok.csv", "building_id,institution_id,floor_area_m2\nb0,gov01,100\n"
    ), settings)
    bad = _write(tmp_path / "buildings.csv", (
        "建筑编码,单位编码,建筑面积（㎡）,采暖面积\n"
        "b1,gov01,12000,11000\n"
        "b2,gov09,-5,\n"
        "b3,edu01,abc,\n"
        "b4,edu01,500,900\n"
        "b1,gov01,12000,\n"
    ))
    with pytest.raises(LedgerImportError) as info:
        import_ledger("buildings", bad, settings)
    found = {(p.row, p.column): p for p in info.value.problems}
    assert set(found) == {
        (3, "institution_id"), (3, "floor_area_m2"), (4, "floor_area_m2"),
        (5, "heated_area_m2"), (6, "building_id"),
    }
    assert found[(3, "institution_id")].value == "gov09"
    assert "not in the institutions ledger (did you mean 'gov01'?)" in found[
        (3, "institution_id")].reason
    assert found[(3, "floor_area_m2")].reason == "expected a number greater than 0"
    assert found[(4, "floor_area_m2")].value == "abc"
    assert "same key as row 2" in found[(6, "building_id")].reason
    assert str(bad) in str(info.value)
    # atomic: the good row b1 was not imported, the earlier import is intact
    assert list(_store(settings).table("buildings")["building_id"]) == ["b0"]


def test_missing_and_unknown_columns(settings, tmp_path):
    path = _write(tmp_path / "h.csv", "institution_id,yaer,人数,备注\ngov01,2024,10,x\n")
    with pytest.raises(LedgerImportError) as info:
        import_ledger("headcount", path, settings)
    reasons = " | ".join(p.reason for p in info.value.problems)
    assert "unknown column for the headcount ledger; did you mean 'year'?" in reasons
    assert "required column missing: year" in reasons


def test_bill_unit_must_fit_its_carrier(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    path = _write(tmp_path / "bills.csv", (
        "单位编码,能源品种,起始日期,截止日期,用量,单位,金额(元)\n"
        "gov01,电,2025-01-01,2025-01-31,1000,kWh,780\n"
        "gov01,电,2025-02-01,2025-02-28,1000,m3,780\n"
        "gov01,煤炭,2025/01/01,2025/03/31,2.5,吨,\n"
        "gov01,热力,2025-03-01,2025-02-01,10,GJ,\n"
        "gov01,汽油,2025-03-01,2025-03-31,10,kg,\n"
    ))
    with pytest.raises(LedgerImportError) as info:
        import_ledger("bills", path, settings)
    problems = {(p.row, p.column): p.reason for p in info.value.problems}
    assert set(problems) == {(3, "unit"), (5, "period_end"), (6, "unit")}
    assert "unit 'm3' does not fit carrier 'electricity'" in problems[(3, "unit")]


def test_fuel_records_need_a_known_vehicle(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    import_ledger("vehicles", _write(
        tmp_path / "v.csv", "车牌号,单位编码,燃料类型,新能源\n鲁A12345,gov01,汽油,否\n"
    ), settings)
    path = _write(tmp_path / "fuel.csv", (
        "加油日期,车牌号,油品,加油量（升）,金额(元)\n"
        "2025-03-02,鲁A12345,汽油,45.5,360\n"
        "2025-03-09,鲁A99999,汽油,40,320\n"
    ))
    with pytest.raises(LedgerImportError) as info:
        import_ledger("fuel", path, settings)
    assert [(p.row, p.column, p.value) for p in info.value.problems] == [
        (3, "plate", "鲁A99999")
    ]
    good = _write(
        tmp_path / "fuel2.csv", "加油日期,车牌号,油品,加油量(升)\n2025-03-02,鲁A12345,汽油,45.5\n"
    )
    import_ledger("fuel", good, settings)
    import_ledger("fuel", good, settings)  # the same record again replaces, never doubles
    fuel = _store(settings).table("fuel")
    assert len(fuel) == 1
    assert fuel["litres"].iloc[0] == 45.5
    assert str(fuel["date"].iloc[0].date()) == "2025-03-02"


def test_xlsx_import(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    book = Workbook()
    sheet = book.active
    sheet.append(["序号", "单位编码", "年份", "用能人数"])
    sheet.append([1, "gov01", 2024, 512])
    sheet.append([2, "edu01", 2024, 2600])
    sheet.append([None, None, None, None])
    path = tmp_path / "headcount.xlsx"
    book.save(path)
    result = import_ledger("headcount", path, settings)
    assert result.rows == 2
    table = _store(settings).table("headcount").set_index("institution_id")
    assert table.loc["edu01", "occupants"] == 2600
    assert table.loc["gov01", "year"] == 2024


def test_data_centre_needs_its_energy(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    path = _write(tmp_path / "f.csv", (
        "facility_id,institution_id,kind,year,it_energy_kwh,total_energy_kwh\n"
        "dc1,gov01,数据中心,2025,,\n"
        "dc2,gov01,data_center,2025,900,800\n"
    ))
    with pytest.raises(LedgerImportError) as info:
        import_ledger("facilities", path, settings)
    assert {(p.row, p.column) for p in info.value.problems} == {
        (2, "it_energy_kwh"), (2, "total_energy_kwh"), (3, "it_energy_kwh"),
    }


def test_not_utf8_is_reported(settings, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(INSTITUTIONS_ZH.encode("gbk"))
    with pytest.raises(LedgerImportError, match="not UTF-8"):
        import_ledger("institutions", path, settings)
    assert not settings.resolve(settings.accounting.ledger_path).exists()


def test_sample_data_imports_cleanly_and_twice_changes_nothing(settings):
    counts = {}
    for kind in KINDS:
        counts[kind] = import_ledger(kind, SAMPLE / f"{kind}.csv", settings).rows
    again = {kind: import_ledger(kind, SAMPLE / f"{kind}.csv", settings) for kind in KINDS}
    assert all(r.added == 0 and r.replaced == counts[k] for k, r in again.items())
    store = _store(settings)
    institutions = store.table("institutions")
    assert {"gov01", "gov02", "edu01", "hos01", "ven01"} <= set(institutions["institution_id"])
    assert set(institutions["province"]) == {"shandong"}
    assert {"gov01-main", "gov02-main", "edu01-teaching", "hos01-inpatient",
            "ven01-stadium"} <= set(store.table("buildings")["building_id"])
    assert set(store.table("headcount")["year"]) == {2020, 2024, 2025, 2026}
    bills = store.table("bills")
    assert {"electricity", "heat", "lpg", "pv", "water"} <= set(bills["carrier"])
    assert (bills.loc[bills["carrier"] == "pv", "use"] == "generation").all()
    assert (bills["use"] == "green").any()
    with sqlite3.connect(settings.resolve(settings.accounting.ledger_path)) as conn:
        assert conn.execute("SELECT count(*) FROM bills").fetchone()[0] == counts["bills"]


def test_a_bill_may_name_only_a_known_building(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_ZH), settings)
    import_ledger("buildings", _write(
        tmp_path / "b.csv", "building_id,institution_id,floor_area_m2\ngov01-main,gov01,100\n"
    ), settings)
    path = _write(tmp_path / "bills.csv", (
        "institution_id,carrier,period_start,period_end,quantity,unit,building_id\n"
        "gov01,water,2025-01-01,2025-03-31,300,m3,gov01-main\n"
        "gov01,water,2025-04-01,2025-06-30,300,m3,gov01-annex\n"
    ))
    with pytest.raises(LedgerImportError) as info:
        import_ledger("bills", path, settings)
    assert [(p.row, p.column, p.value) for p in info.value.problems] == [
        (3, "building_id", "gov01-annex")
    ]
