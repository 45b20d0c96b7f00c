"""End to end through the real CLI: import the sample ledgers, account a year, write the report.

Uses ``sample_data/`` (the demo city's ledgers) with a temporary settings file without meters, so
all consumption comes from bills and fuel cards.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

import accounting.cli
from accounting.errors import InputError, MissingReferenceData
from jieneng.cli import main
from jieneng.vocabulary import ExitCode
from storage.errors import StoreUnavailable
from tests.support.accounting import ROOT, ledger_settings
from tests.support.accounting import SAMPLE_DATA as SAMPLE

YEAR = 2025
#: Institutions in the sample ledger (its rows, header excluded).
N_INSTITUTIONS = len((SAMPLE / "institutions.csv").read_text(encoding="utf-8-sig").splitlines()) - 1

@pytest.fixture(scope="module")
def config(sample_city) -> Path:
    """The demo city's ledgers, no meters (``conftest.sample_city``)."""
    return sample_city


@pytest.fixture(scope="module")
def account(config) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "jieneng.cli", "account", "--config", str(config),
         "--year", str(YEAR), "--format", "json"],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    )
    return json.loads(out.stdout)


def test_account_json_has_the_contract_fields(account):
    assert account["year"] == YEAR
    assert len(account["institutions"]) == N_INSTITUTIONS
    required = {"institution_id", "energy_tce", "co2_t", "scope1_co2_t", "scope2_co2_t",
                "floor_area_m2", "occupants", "kgce_per_m2", "kgce_per_person", "kgco2_per_m2",
                "water_m3_per_person", "carriers", "verdicts", "coverage", "factors"}
    for inst in account["institutions"]:
        assert required <= set(inst), required - set(inst)
        for carrier in inst["carriers"].values():
            assert {"quantity", "unit", "tce", "co2_t"} <= set(carrier)
        for factor in inst["factors"]:
            assert factor["kgce_source"]
            assert factor["kgco2_source"]
    assert {"energy_tce", "co2_t", "kgce_per_m2"} <= set(account["totals"])


def test_account_figures_add_up(account):
    # Institutions without electricity data (the demo's metered ones, here without meters) have
    # no energy figure: the totals leave them out and say how many.
    insts = [i for i in account["institutions"] if i["energy_tce"] is not None]
    total = sum(i["energy_tce"] for i in insts)
    assert account["totals"]["energy_tce"] == pytest.approx(total)
    assert account["totals"]["energy_tce_left_out"] == len(account["institutions"]) - len(insts)
    for inst in insts:
        assert inst["co2_t"] == pytest.approx(inst["scope1_co2_t"] + inst["scope2_co2_t"])
        assert inst["energy_tce"] == pytest.approx(
            sum(c["tce"] for c in inst["carriers"].values()))
        if inst["floor_area_m2"]:
            assert inst["kgce_per_m2"] == pytest.approx(
                inst["energy_tce"] * 1000 / inst["floor_area_m2"])


def test_account_electricity_factor_is_shandong_2023_for_2025(account):
    gov03 = next(i for i in account["institutions"] if i["institution_id"] == "gov03")
    electricity = next(f for f in gov03["factors"]
                       if f["carrier"] == "electricity" and f["use"] == "purchased")
    # 2025 has no published grid factor: Shandong 2023 (0.6191 kgCO2/kWh) is used, and said so.
    assert electricity["kgco2_per_unit"] == pytest.approx(0.6191)
    assert "2025" in electricity["kgco2_note"]
    assert electricity["kgce_per_unit"] == pytest.approx(0.1229)
    e = gov03["carriers"]["electricity"]
    assert e["tce"] == pytest.approx(e["quantity"] * 0.1229 / 1000)
    # Certified green electricity (if any) counts 0 CO2; purchased at the grid factor.
    green = e["uses"].get("green", 0.0)
    assert e["co2_t"] == pytest.approx((e["quantity"] - green) * 0.6191 / 1000)


def test_institutions_without_electricity_data_are_unknown_not_passed(account):
    # In this configuration the demo's metered institutions (gov01 ...) have no meters: their
    # electricity is unknown, so no verdict about their energy may pass.
    gov01 = next(i for i in account["institutions"] if i["institution_id"] == "gov01")
    assert gov01["coverage"]["electricity"] is None
    for verdict in gov01["verdicts"]:
        if verdict["kind"] in ("quota", "fyp14", "peers"):
            assert verdict["status"] == "unknown", verdict
            assert verdict["missing"]


def test_sample_annex_and_merger_are_flagged_by_the_audit_checks(account):
    # sample_data: edu03's annex (2 400 m2) is in use from 1 September 2025, so its 2025 floor
    # area is 11 000 + 2 400 m2 (+21.8 % on 2024); gov03 gained 18 % people in 2025.
    def audit(institution: str, subject: str) -> dict:
        inst = next(i for i in account["institutions"] if i["institution_id"] == institution)
        return next(v for v in inst["verdicts"] if v["subject"] == subject)

    edu03 = audit("edu03", "floor_area_m2_change")
    assert edu03["status"] == "flag"
    assert edu03["figures"]["value"] == pytest.approx(13_400.0)
    assert edu03["figures"]["previous_value"] == pytest.approx(11_000.0)
    assert audit("gov03", "occupants_change")["status"] == "flag"
    assert audit("gov03", "floor_area_m2_change")["status"] == "ok"


def test_account_single_institution_and_table(config, capsys):
    assert main(["account", "--config", str(config), "--year", str(YEAR),
                 "--institution", "gov03", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [i["institution_id"] for i in data["institutions"]] == ["gov03"]
    assert data["totals"]["energy_tce"] == pytest.approx(data["institutions"][0]["energy_tce"])
    assert main(["account", "--config", str(config), "--year", str(YEAR)]) == 0
    table = capsys.readouterr().out
    assert "gov03" in table
    assert "合计" in table          # the officer's language by default


def test_account_unknown_institution_exits_2(config, capsys):
    assert main(["account", "--config", str(config), "--year", str(YEAR),
                 "--institution", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_report_xlsx_has_the_sheets_and_headers(config, tmp_path, account):
    out = tmp_path / "report.xlsx"
    assert main(["report", "--config", str(config), "--year", str(YEAR), "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out, read_only=True)
    for sheet in ("基本信息", "能源资源消费状况", "分类汇总", "行政区域汇总"):
        assert sheet in book.sheetnames
    headers = {name: [c.value for c in next(book[name].iter_rows(max_row=1))]
               for name in book.sheetnames}
    assert {"单位编码", "单位名称", "建筑面积(m²)", "用能人数(人)"} <= set(headers["基本信息"])
    assert {"电(kWh)", "水(m³)", "综合能耗(tce)", "人均综合能耗(kgce/人)",
            "单位建筑面积能耗(kgce/m²)"} <= set(headers["能源资源消费状况"])
    assert "单位类别" in headers["分类汇总"]
    assert {"行政区划代码", "省份"} <= set(headers["行政区域汇总"])
    # The consumption sheet agrees with the account, and the category summary adds up.
    rows = list(book["能源资源消费状况"].iter_rows(min_row=2, values_only=True))
    col = headers["能源资源消费状况"].index("综合能耗(tce)")
    assert sum(r[col] for r in rows if r[col] is not None) == pytest.approx(
        account["totals"]["energy_tce"])
    summary = list(book["分类汇总"].iter_rows(min_row=2, values_only=True))
    tce = headers["分类汇总"].index("综合能耗(tce)")
    assert summary[-1][0] == "合计"
    assert sum(r[tce] for r in summary[:-1]) == pytest.approx(summary[-1][tce])
    book.close()


def _days(start: dt.date, end: dt.date) -> int:
    return max((end - start).days + 1, 0)


def _sample_cost_2025(institution: str) -> float:
    """gov03's 2025 cost straight from the sample CSVs: each bill's cost × its share of days in
    2025, plus the fuel-card records of its vehicles in 2025."""
    first, last = dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31)
    total = 0.0
    with (SAMPLE / "bills.csv").open(encoding="utf-8-sig", newline="") as handle:
        for r in csv.DictReader(handle):
            if r["institution_id"] != institution or r["carrier"] == "pv":
                continue
            start = dt.date.fromisoformat(r["period_start"])
            end = dt.date.fromisoformat(r["period_end"])
            share = _days(max(start, first), min(end, last)) / _days(start, end)
            total += float(r["cost_cny"]) * share
    with (SAMPLE / "vehicles.csv").open(encoding="utf-8-sig", newline="") as handle:
        plates = {r["plate"] for r in csv.DictReader(handle) if r["institution_id"] == institution}
    with (SAMPLE / "fuel.csv").open(encoding="utf-8-sig", newline="") as handle:
        total += sum(float(r["cost_cny"]) for r in csv.DictReader(handle)
                     if r["plate"] in plates and r["date"].startswith(str(YEAR)))
    return total


def test_report_xlsx_has_vehicles_costs_data_centres_and_heating(config, tmp_path):
    out = tmp_path / "report.xlsx"
    assert main(["report", "--config", str(config), "--year", str(YEAR), "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out, read_only=True)

    def sheet(name: str) -> dict[str, dict]:
        rows = list(book[name].iter_rows(values_only=True))
        return {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}

    basic = sheet("基本信息")
    # sample_data/vehicles.csv: gov01 has two gasoline cars and one electric (new energy).
    assert (basic["gov01"]["公务用车数量(辆)"], basic["gov01"]["汽油车(辆)"],
            basic["gov01"]["纯电动车(辆)"], basic["gov01"]["新能源汽车数量(辆)"]) == (3, 2, 1, 1)
    costs = sheet("能源资源消费状况")
    # gov03 reports by bills and fuel cards only, all with a cost: its total is known.
    assert costs["gov03"]["费用合计(元)"] == pytest.approx(_sample_cost_2025("gov03"))
    assert costs["gov03"]["费用说明"] is None
    # sample_data/facilities.csv, 2025: gov01-dc 120 000 / 75 000 kWh, hos01-dc 130 000 / 72 000.
    dc = {r["机房编码"]: r for r in sheet("数据中心机房能源消费状况").values()}
    assert set(dc) == {"gov01-dc", "hos01-dc"}
    assert dc["gov01-dc"]["电能利用效率(PUE)"] == pytest.approx(120_000 / 75_000)
    assert dc["hos01-dc"]["电能利用效率(PUE)"] == pytest.approx(130_000 / 72_000)
    heating = sheet("采暖能源资源消费状况")
    # edu03's annex (2 200 m2 heated, from 2025-09-01) counts in its 2025 heated area.
    assert heating["edu03"]["采暖面积(m²)"] == pytest.approx(10_000 + 2_200)
    assert heating["edu03"]["供暖方式"] == "市政集中供暖(按热计量)"
    book.close()


def test_report_csv_and_json(config, tmp_path, account):
    csv_out = tmp_path / "report.csv"
    json_out = tmp_path / "report.json"
    assert main(["report", "--config", str(config), "--year", str(YEAR), "--out",
                 str(csv_out)]) == 0
    assert main(["report", "--config", str(config), "--year", str(YEAR), "--out",
                 str(json_out)]) == 0
    text = csv_out.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0].startswith("单位编码,单位名称,统计年度,电(kWh)")
    assert len(text.splitlines()) == N_INSTITUTIONS + 1
    data = json.loads(json_out.read_text(encoding="utf-8"))
    assert data["totals"]["energy_tce"] == pytest.approx(account["totals"]["energy_tce"])


def test_report_rejects_an_unknown_suffix(config, tmp_path, capsys):
    assert main(["report", "--config", str(config), "--year", str(YEAR), "--out",
                 str(tmp_path / "r.pdf")]) == 2
    assert ".xlsx" in capsys.readouterr().err


def test_import_bad_file_lists_every_bad_row_and_imports_nothing(config, tmp_path, capsys):
    bad = tmp_path / "buildings.csv"
    bad.write_text(
        "building_id,institution_id,floor_area_m2\n"
        "b-ok,gov01,1000\n"
        "b-neg,gov01,-5\n"
        "b-orphan,nobody,100\n",
        encoding="utf-8",
    )
    assert main(["import", "buildings", str(bad), "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "row 3" in err
    assert "floor_area_m2" in err
    assert "row 4" in err
    assert "nobody" in err
    # Nothing was imported: gov01's floor area is still the sum of its sample buildings.
    assert main(["account", "--config", str(config), "--year", str(YEAR), "--institution",
                 "gov01", "--format", "json"]) == 0
    gov01 = json.loads(capsys.readouterr().out)["institutions"][0]
    assert gov01["floor_area_m2"] == pytest.approx(_sample_floor_area("gov01"))


def _sample_floor_area(institution: str) -> float:
    with (SAMPLE / "buildings.csv").open(encoding="utf-8-sig", newline="") as handle:
        return sum(float(r["floor_area_m2"]) for r in csv.DictReader(handle)
                   if r["institution_id"] == institution)


def test_import_missing_file_exits_2(config, tmp_path, capsys):
    assert main(["import", "bills", str(tmp_path / "none.csv"), "--config", str(config)]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(("error", "code"), [
    (InputError("unknown carrier(s) 'steam'", "the 2025 consumption table, institution(s) b",
                "one of coal, ..."), ExitCode.bad_input),
    (MissingReferenceData("no CO2 factor for carrier 'coal' in co2_factors.csv"),
     ExitCode.bad_input),
    (StoreUnavailable("/var/store.sqlite: cannot open"), ExitCode.unavailable),
])
def test_an_account_that_cannot_be_computed_says_why_in_one_line(monkeypatch, capsys, tmp_path,
                                                                 error, code):
    def refuse(*_args, **_kwargs):
        raise error

    monkeypatch.setattr(accounting.cli, "compute_account", refuse)
    args = argparse.Namespace(year=YEAR, institution=None, format="json",
                              out=tmp_path / "r.xlsx")
    for handler in (accounting.cli.account_main, accounting.cli.report_main):
        assert handler(args, ledger_settings(tmp_path)) == code
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err == f"jieneng: accounts for {YEAR} could not be computed: {error}\n"
        assert "Traceback" not in captured.err
