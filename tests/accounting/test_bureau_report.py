"""The sample city end to end: the compound's members carry their shares into their figures, the
compound is a unit of its own, the excluded space and the vehicles show in the report, and the
county league has its sheet."""

from __future__ import annotations

import json

import openpyxl
import pytest

from accounting.annual import compute_account
from jieneng.cli import main
from jieneng.settings import load_settings


@pytest.fixture(scope="module")
def account(sample_city):
    return compute_account(load_settings(sample_city), 2025)


def test_compound_members_carry_their_shares_and_nothing_is_lost(account):
    bureau = account.bureau
    detail = bureau.detail.apportionment
    assert set(detail["institution_id"]) == {"gov07", "gov08", "gov09"}  # all apportioned
    assert set(detail["rule"]) == {"residual/area", "occupants", "area", "fixed"}
    # per compound row, the members' parts sum to the shared quantity
    parts = detail.groupby(["carrier", "month", "source"]).agg(
        q=("quantity", "sum"), shared=("shared_quantity", "first"))
    assert parts["q"].to_numpy() == pytest.approx(parts["shared"].to_numpy())
    compound = bureau.compounds.iloc[0]
    assert compound["members"] == ["gov07", "gov08", "gov09"]
    assert compound["energy_tce"] == pytest.approx(
        compound["shared_tce"] + compound["sub_metered_tce"])
    assert sum(compound["member_shares"].values()) == pytest.approx(compound["shared_tce"])
    assert compound["floor_area_m2"] == pytest.approx(4200 + 3600 + 2700)
    assert compound["previous_energy_tce"] > 0
    # the shares are in the members' figures: gov07 has heat only from the compound
    figures = account.figures.set_index("institution_id")
    assert "cmp01" not in figures.index
    heat = account.carriers[(account.carriers["institution_id"] == "gov07")
                            & (account.carriers["carrier"] == "heat")]
    assert heat["quantity"].sum() > 0


def test_leased_space_leaves_the_area_and_the_energy(account):
    figures = account.figures.set_index("institution_id")
    assert figures.loc["gov04", "floor_area_m2"] == pytest.approx(5800.0)  # 500 m2 leased out
    assert figures.loc["ven02", "floor_area_m2"] == pytest.approx(15000.0)
    excluded = account.bureau.excluded
    ven02 = excluded[(excluded["institution_id"] == "ven02")
                     & (excluded["carrier"] == "electricity")]
    assert list(ven02["method"]) == ["separate"]  # the café's own bill
    gov04 = excluded[excluded["institution_id"] == "gov04"]
    assert set(gov04["method"]) == {"estimate"}
    assert gov04["share"].iloc[0] == pytest.approx(500 / 6300)


def test_vehicle_checks_find_the_sample_s_planted_problems(account):
    v = account.verdicts
    flagged = v[(v["kind"].astype(str) == "audit") & (v["status"].astype(str) == "flag")
                & v["subject"].astype(str).str.startswith("vehicle_")]
    found = set(zip(flagged["plate"], flagged["subject"].astype(str), strict=True))
    assert found == {("鲁F80001", "vehicle_l_per_100km"), ("鲁F20001", "vehicle_fill_over_tank"),
                     ("鲁F50001", "vehicle_odometer_backwards"),
                     ("鲁F60001", "vehicle_fuel_not_in_use")}


def test_account_json_and_report_have_the_bureau_parts(sample_city, tmp_path, capsys):
    assert main(["account", "--config", str(sample_city), "--year", "2025",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["compound_id"] for c in data["compounds"]] == ["cmp01"]
    out = tmp_path / "report.xlsx"
    assert main(["report", "--config", str(sample_city), "--year", "2025", "--out",
                 str(out)]) == 0
    book = openpyxl.load_workbook(out, read_only=True)
    assert {"集中办公区", "集中办公区分摊明细", "统计边界", "公务用车", "区县绩效评价"} <= set(
        book.sheetnames)
    book.close()
    out = tmp_path / "report.json"
    assert main(["report", "--config", str(sample_city), "--year", "2025", "--out",
                 str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert {"compounds", "boundary", "vehicles", "fleet", "evaluation"} <= set(report)
