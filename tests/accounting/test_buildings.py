"""Buildings in use per year: the ledger's dates, their validation, the year's floor area, and the
year-on-year auditor check on it, end to end through ``jieneng import`` and ``jieneng account``."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from accounting import engine
from accounting.buildings import in_use_mask, reference_date
from accounting.errors import LedgerImportError
from accounting.ledgers import LedgerStore, import_ledger
from jieneng.cli import main
from tests.support.accounting import write_text as _write

INSTITUTIONS = pd.DataFrame({
    "institution_id": ["a", "b"], "name": ["甲", "乙"], "category": "government",
    "level": "municipal", "province": "shandong", "climate_zone": "cold",
})
# a: b1 always, b2 opened 1 July 2025, b3 handed over 30 June 2025, b4 closed on 31 Dec 2025.
# b: one building with no dates.
BUILDINGS = pd.DataFrame({
    "building_id": ["b1", "b2", "b3", "b4", "c1"],
    "institution_id": ["a", "a", "a", "a", "b"],
    "floor_area_m2": [1000.0, 500.0, 200.0, 100.0, 700.0],
    "heated_area_m2": [900.0, 400.0, 150.0, float("nan"), 600.0],
    "in_use_from": pd.to_datetime([None, "2025-07-01", None, None, None]),
    "in_use_until": pd.to_datetime([None, None, "2025-06-30", "2025-12-31", None]),
})
HEADCOUNT = pd.DataFrame({"institution_id": ["a", "b"], "year": [2025, 2025],
                          "occupants": [50, 20]})


def _profile(year: int, as_of: dt.date | None = None) -> pd.Series:
    profile = engine.institution_profile(INSTITUTIONS, BUILDINGS, HEADCOUNT, year, as_of=as_of)
    return profile.set_index("institution_id")


def test_reference_date_is_year_end_or_today_if_earlier():
    assert reference_date(2025) == dt.date(2025, 12, 31)
    assert reference_date(2025, dt.date(2025, 5, 1)) == dt.date(2025, 5, 1)
    assert reference_date(2024, dt.date(2025, 5, 1)) == dt.date(2024, 12, 31)


@pytest.mark.parametrize(("year", "as_of", "area_a", "heated_a"), [
    # 2024 year end: b1 + b3 + b4 (b2 not yet open) = 1000 + 200 + 100.
    (2024, None, 1300.0, 1050.0),
    # 2025 year end: b1 + b2 (opened mid-year: counts in full) + b4 (last day 31 Dec);
    # b3 was handed over mid-year: no longer counts.
    (2025, None, 1600.0, 1300.0),
    # 2026: b4 closed at the end of 2025.
    (2026, None, 1500.0, 1300.0),
    # The unfinished 2025 as of 1 May: b2 not open yet, b3 still in use.
    (2025, dt.date(2025, 5, 1), 1300.0, 1050.0),
    # As of 1 July 2025 (b2's first day; b3's last was the day before).
    (2025, dt.date(2025, 7, 1), 1600.0, 1300.0),
])
def test_floor_area_counts_the_buildings_in_use(year, as_of, area_a, heated_a):
    profile = _profile(year, as_of)
    assert profile.loc["a", "floor_area_m2"] == pytest.approx(area_a)
    assert profile.loc["a", "heated_area_m2"] == pytest.approx(heated_a)
    assert profile.loc["b", "floor_area_m2"] == pytest.approx(700.0)  # no dates: every year


def test_no_building_in_use_means_unknown_area_not_zero():
    buildings = BUILDINGS.assign(in_use_from=pd.Timestamp("2030-01-01"))
    profile = engine.institution_profile(INSTITUTIONS, buildings, HEADCOUNT, 2025)
    assert profile["floor_area_m2"].isna().all()


def test_a_frame_without_the_date_columns_counts_every_building():
    plain = BUILDINGS.drop(columns=["in_use_from", "in_use_until"])
    assert in_use_mask(plain, 2025).all()


# --- the ledger --------------------------------------------------------------------------------


INSTITUTIONS_CSV = ("institution_id,name,category,level,province,climate_zone\n"
                    "a,甲,government,municipal,shandong,cold\n")


def test_chinese_date_headers_are_read(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_CSV), settings)
    path = _write(tmp_path / "建筑.csv", (
        "建筑编码,单位编码,建筑面积,启用日期,移交日期\n"
        "b1,a,1000,,\n"
        "b2,a,500,2025/7/1,\n"
        "b3,a,200,2001年1月1日,2025-06-30\n"
    ))
    import_ledger("buildings", path, settings)
    table = LedgerStore(settings.resolve(settings.accounting.ledger_path)).table("buildings")
    table = table.set_index("building_id")
    assert pd.isna(table.loc["b1", "in_use_from"])
    assert pd.isna(table.loc["b1", "in_use_until"])
    assert table.loc["b2", "in_use_from"] == pd.Timestamp("2025-07-01")
    assert table.loc["b3", "in_use_from"] == pd.Timestamp("2001-01-01")
    assert table.loc["b3", "in_use_until"] == pd.Timestamp("2025-06-30")
    # 投入使用日期 / 停用日期 are accepted too.
    path = _write(tmp_path / "b2.csv", "建筑编码,单位编码,建筑面积,投入使用日期,停用日期\n"
                                       "b4,a,100,2020-01-01,2024-12-31\n")
    import_ledger("buildings", path, settings)


def test_until_before_from_is_an_error_naming_file_row_column_value(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", INSTITUTIONS_CSV), settings)
    path = _write(tmp_path / "buildings.csv", (
        "building_id,institution_id,floor_area_m2,in_use_from,in_use_until\n"
        "b1,a,1000,2025-07-01,2025-12-31\n"
        "b2,a,500,2025-07-01,2025-06-30\n"
        "b3,a,500,next spring,\n"
    ))
    with pytest.raises(LedgerImportError) as caught:
        import_ledger("buildings", path, settings)
    problems = caught.value.problems
    assert [(p.row, p.column) for p in problems] == [(3, "in_use_until"), (4, "in_use_from")]
    assert problems[0].file == str(path)
    assert problems[0].value == "2025-06-30"
    assert "in_use_from 2025-07-01" in problems[0].reason
    assert "on or after" in problems[0].reason
    assert "date" in problems[1].reason
    # Atomic: not even the good row was imported.
    table = LedgerStore(settings.resolve(settings.accounting.ledger_path)).table("buildings")
    assert table.empty


def test_a_ledger_written_before_the_dates_existed_still_opens(settings, tmp_path):
    ledger = settings.resolve(settings.accounting.ledger_path)
    ledger.parent.mkdir(parents=True)
    conn = sqlite3.connect(ledger)
    conn.execute('CREATE TABLE "buildings" ("building_id" TEXT, "institution_id" TEXT, '
                 '"floor_area_m2" REAL, "heated_area_m2" REAL, "name" TEXT, "heating_type" TEXT)')
    conn.execute("INSERT INTO buildings VALUES ('old', 'a', 800.0, NULL, NULL, NULL)")
    conn.commit()
    conn.close()
    table = LedgerStore(ledger).table("buildings")
    assert table["floor_area_m2"].tolist() == [800.0]
    assert table["in_use_from"].isna().all()
    assert table["in_use_until"].isna().all()
    assert in_use_mask(table, 2025).all()


# --- end to end: jieneng import buildings → jieneng account --format json ---------------------



def _monthly_bills(institution: str, years: tuple[int, ...], kwh: float) -> str:
    lines = ["institution_id,carrier,period_start,period_end,quantity,unit,cost_cny"]
    for year in years:
        for month in range(1, 13):
            end = (pd.Timestamp(year, month, 1) + pd.offsets.MonthEnd(0)).date()
            lines.append(f"{institution},electricity,{year}-{month:02d}-01,{end},{kwh},kWh,"
                         f"{kwh * 0.8}")
    return "\n".join(lines) + "\n"


def _audit(config: Path, year: int, capsys) -> dict:
    assert main(["account", "--config", str(config), "--year", str(year), "--format",
                 "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    inst = next(i for i in data["institutions"] if i["institution_id"] == "a")
    return inst, next(v for v in inst["verdicts"] if v["subject"] == "floor_area_m2_change")


def test_an_annex_opened_in_2025_flags_the_floor_area_change(tmp_path, config_file, capsys):
    config = config_file
    files = {
        "institutions": INSTITUTIONS_CSV,
        # The main building has no dates (in use throughout); the annex opened on 1 March 2025.
        "buildings": ("建筑编码,单位编码,建筑面积,采暖面积,启用日期\n"
                      "main,a,10000,9000,\n"
                      "annex,a,2000,1800,2025-03-01\n"),
        "headcount": "institution_id,year,occupants\na,2024,300\na,2025,300\n",
        # Bills for every year the accounts of 2024 and 2025 read (2020 is the 十四五 base).
        "bills": _monthly_bills("a", (2020, 2023, 2024, 2025), 50_000.0),
    }
    for kind, text in files.items():
        path = _write(tmp_path / f"{kind}.csv", text)
        assert main(["import", kind, str(path), "--config", str(config)]) == 0
    capsys.readouterr()

    inst, verdict = _audit(config, 2025, capsys)
    # 2025: 10 000 + 2 000 m2 against 10 000 m2 in 2024: +20 % > 10 % → flag.
    assert inst["floor_area_m2"] == pytest.approx(12_000.0)
    assert inst["heated_area_m2"] == pytest.approx(10_800.0)
    assert verdict["status"] == "flag"
    assert verdict["figures"]["value"] == pytest.approx(12_000.0)
    assert verdict["figures"]["previous_value"] == pytest.approx(10_000.0)
    assert verdict["figures"]["change"] == pytest.approx(0.2)
    # The intensity uses the year's area: 600 000 kWh × 0.1229 kgce/kWh / 12 000 m2.
    assert inst["kgce_per_m2"] == pytest.approx(600_000 * 0.1229 / 12_000)

    inst, verdict = _audit(config, 2024, capsys)
    assert inst["floor_area_m2"] == pytest.approx(10_000.0)
    assert verdict["status"] == "ok"

    # Re-importing the annex with a hand-over date in 2025 (before year end) removes it again:
    # no change from 2024, nothing to flag.
    path = _write(tmp_path / "annex.csv", ("building_id,institution_id,floor_area_m2,in_use_from,"
                                           "in_use_until\nannex,a,2000,2025-03-01,2025-10-31\n"))
    assert main(["import", "buildings", str(path), "--config", str(config)]) == 0
    capsys.readouterr()
    inst, verdict = _audit(config, 2025, capsys)
    assert inst["floor_area_m2"] == pytest.approx(10_000.0)
    assert verdict["status"] == "ok"
