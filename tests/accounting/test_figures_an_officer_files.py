"""Figures an officer can file (issue 13): missing is never zero, nothing is counted twice,
strict numbers and dates, known provinces, citable sources, the officer's language, and an
import stopped with Ctrl-C says that nothing was imported.

Each test is one case of the issue, observed on main before the fix.
"""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import accounting.ledgers
from accounting.errors import ImportInterrupted, LedgerImportError
from accounting.ledger_schema import SCHEMAS, parse_value
from accounting.ledgers import LedgerStore, import_ledger
from accounting.reference_data import REFERENCE_ROOT
from jieneng import messages
from jieneng.cli import main
from jieneng.vocabulary import ExitCode
from tests.support.accounting import MINIMAL_CONFIG, SAMPLE_DATA, write_text

INSTITUTIONS = """institution_id,name,category,level,province,climate_zone
gov01,市政府,government,municipal,shandong,cold
gov02,市发改委,government,municipal,shandong,cold
"""


def _ledger(settings) -> Path:
    return settings.resolve(settings.accounting.ledger_path)


def _bills(settings) -> pd.DataFrame:
    return LedgerStore(_ledger(settings)).table("bills")


@pytest.fixture
def city(settings, tmp_path):
    """Two institutions imported."""
    import_ledger("institutions", write_text(tmp_path / "i.csv", INSTITUTIONS), settings)
    return settings


def _problems(kind: str, text: str, settings, tmp_path, name: str = "f.csv") -> list:
    with pytest.raises(LedgerImportError) as info:
        import_ledger(kind, write_text(tmp_path / name, text), settings)
    return info.value.problems


# -- 1. Missing is never zero ------------------------------------------------------------------


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_an_institution_without_readings_or_bills_is_blank_in_report_json_and_table(
        sample_city, tmp_path, capsys):
    # In the sample city without meters, gov01's electricity and water are metered only: no
    # reading, no bill. On main its report said 电 0 kWh, 水 0 m³, 电费 0 元, a total cost and
    # an empty 费用说明.
    out = tmp_path / "r.xlsx"
    code, _, _ = _run(capsys, "report", "--config", str(sample_city), "--year", "2025",
                      "--out", str(out))
    assert code == ExitCode.ok
    book = openpyxl.load_workbook(out, read_only=True)
    rows = list(book["能源资源消费状况"].iter_rows(values_only=True))
    header, gov01 = rows[0], next(r for r in rows if r[0] == "gov01")
    cell = dict(zip(header, gov01, strict=True))
    for name in ("电(kWh)", "水(m³)", "电费(元)", "水费(元)", "费用合计(元)", "综合能耗(tce)",
                 "单位建筑面积能耗(kgce/m²)"):
        assert cell[name] is None, name       # blank, never 0
    assert "电(无计量、账单或加油记录)" in cell["费用说明"]
    assert "电、水" in cell["数据说明"]
    summary = list(book["分类汇总"].iter_rows(values_only=True))
    left_out = summary[0].index("综合能耗未计入单位数(无数据)")
    assert summary[-1][0] == "合计"
    assert summary[-1][left_out] == 5         # gov01, gov02, edu01, hos01, ven01
    book.close()

    code, text, _ = _run(capsys, "account", "--config", str(sample_city), "--year", "2025",
                         "--format", "json")
    data = json.loads(text)
    gov01 = next(i for i in data["institutions"] if i["institution_id"] == "gov01")
    assert gov01["electricity_kwh"] is None
    assert gov01["water_m3"] is None
    assert gov01["energy_tce"] is None
    assert "电" in gov01["missing"]["electricity_kwh"]
    assert data["totals"]["energy_tce_left_out"] == 5

    code, text, _ = _run(capsys, "account", "--config", str(sample_city), "--year", "2025")
    line = next(x for x in text.splitlines() if x.startswith("gov01"))
    assert "–" in line
    assert " 0.00" not in line
    assert "综合能耗合计未计入 5 家" in text


@pytest.mark.parametrize("year", ["2022", "2010", "2000"])
def test_a_year_without_any_data_says_so_and_exits_no_data(sample_city, tmp_path, capsys,
                                                           year):
    code, text, err = _run(capsys, "account", "--config", str(sample_city), "--year", year)
    assert code == ExitCode.no_data
    assert text == ""
    assert f"{year} 年无数据" in err
    out = tmp_path / "r.xlsx"
    code, _, err = _run(capsys, "report", "--config", str(sample_city), "--year", year,
                        "--out", str(out), "--language", "en")
    assert code == ExitCode.no_data
    assert f"no data for {year}: no meter readings, bills or fuel records" in err
    assert not out.exists()


def test_a_year_outside_the_data_range_is_bad_input(sample_city, capsys):
    # 1900 is refused when the arguments are read, before any account (a year from 2000 to 2100)
    with pytest.raises(SystemExit) as exit_info:
        _run(capsys, "account", "--config", str(sample_city), "--year", "1900")
    assert exit_info.value.code == ExitCode.bad_input
    assert "1900 is out of range" in capsys.readouterr().err


def test_an_empty_form_only_when_asked_for(sample_city, tmp_path, capsys):
    out = tmp_path / "empty.json"
    code, _, _ = _run(capsys, "report", "--config", str(sample_city), "--year", "2022",
                      "--out", str(out), "--allow-empty")
    assert code == ExitCode.ok
    data = json.loads(out.read_text(encoding="utf-8"))
    assert all(i["energy_tce"] is None for i in data["institutions"])
    assert all(v is None for i in data["institutions"] for v in i["costs_cny"].values())
    assert data["totals"]["energy_tce"] is None
    assert data["totals"]["energy_tce_left_out"] == len(data["institutions"])


# -- 2. Overlapping bills -----------------------------------------------------------------------


BILLS = "institution_id,carrier,period_start,period_end,quantity,unit,account\n"


def test_a_bill_overlapping_one_of_the_same_file_is_an_error_naming_both_rows(city, tmp_path):
    problems = _problems("bills", BILLS + (
        "gov01,electricity,2025-01-01,2025-01-31,30000,kWh,e1\n"
        "gov01,electricity,2025-01-15,2025-02-14,30000,kWh,e1\n"
        "gov01,electricity,2025-02-15,2025-03-14,30000,kWh,e1\n"
    ), city, tmp_path)
    assert [(p.row, p.column) for p in problems] == [(3, "period_start")]
    assert "overlaps row 2 of this file, 2025-01-01…2025-01-31" in problems[0].reason
    assert "replaces = yes" in problems[0].reason
    assert not _ledger(city).exists() or _bills(city).empty


def test_a_bill_overlapping_the_ledger_names_the_ledger_row(city, tmp_path):
    import_ledger("bills", write_text(tmp_path / "jan.csv", BILLS + (
        "gov01,electricity,2025-01-01,2025-01-31,30000,kWh,e1\n")), city)
    problems = _problems("bills", BILLS + (
        "gov01,electricity,2025-01-20,2025-02-19,30000,kWh,e1\n"), city, tmp_path)
    assert len(problems) == 1
    assert problems[0].row == 2
    assert "ledger row id 1 (bills, imported earlier), 2025-01-01…2025-01-31" in problems[0].reason
    # Same account on another institution: still the same meter's bills.
    problems = _problems("bills", BILLS + (
        "gov02,electricity,2025-01-31,2025-02-27,100,kWh,e1\n"), city, tmp_path)
    assert "overlaps ledger row id 1" in problems[0].reason
    # Another account (a second supply point) and re-importing the same bill are fine.
    import_ledger("bills", write_text(tmp_path / "ok.csv", BILLS + (
        "gov01,electricity,2025-01-01,2025-01-31,30000,kWh,e1\n"
        "gov01,electricity,2025-01-10,2025-02-09,500,kWh,e2\n")), city)
    assert len(_bills(city)) == 2


def test_a_correction_replaces_the_bills_it_overlaps(city, tmp_path):
    import_ledger("bills", write_text(tmp_path / "jan.csv", BILLS + (
        "gov01,electricity,2025-01-01,2025-01-31,30000,kWh,e1\n"
        "gov01,electricity,2025-02-01,2025-02-28,28000,kWh,e1\n")), city)
    result = import_ledger("bills", write_text(tmp_path / "fix.csv", (
        "institution_id,carrier,period_start,period_end,quantity,unit,account,更正\n"
        "gov01,electricity,2025-01-01,2025-01-25,25000,kWh,e1,是\n")), city)
    assert (result.added, result.replaced) == (0, 1)
    bills = _bills(city).sort_values("period_start")
    assert list(bills["quantity"]) == [25000.0, 28000.0]
    assert bool(bills["replaces"].iloc[0]) is True


def test_the_sample_bills_do_not_overlap_and_the_audit_checks_periods(sample_city, capsys):
    # sample_data/generate.py counted gov05's and edu02's 26th-to-25th cycle back six days
    # from the 1st: after a 30-day month a bill started on the 25th, in March on the 23rd, so
    # each year ~7,500 kWh of each were billed twice (15,291 kWh in 2025). Regenerated with
    # the 26th of the previous month.
    bills = pd.read_csv(SAMPLE_DATA / "bills.csv", parse_dates=["period_start", "period_end"])
    for _, g in bills.groupby(["institution_id", "carrier", "account"]):
        g = g.sort_values("period_start")
        assert (g["period_start"].iloc[1:].to_numpy() > g["period_end"].iloc[:-1].to_numpy()).all()
    gov05 = bills[(bills["account"] == "gov05-e") & (bills["period_end"].dt.year == 2025)]
    assert set(gov05["period_start"].dt.day) == {26}
    _, text, _ = _run(capsys, "account", "--config", str(sample_city), "--year", "2025",
                      "--format", "json", "--language", "en")
    data = json.loads(text)
    periods = [v for i in data["institutions"] for v in i["verdicts"]
               if v["subject"].startswith("bill_periods:")]
    assert periods
    assert {v["status"] for v in periods} == {"ok"}


def test_the_audit_flags_overlapping_and_missing_bill_periods():
    from accounting.verdicts import explain
    from accounting.verdicts.audit import bill_period_checks

    bills = pd.DataFrame({
        "institution_id": ["a", "a", "a", "b"], "carrier": ["electricity"] * 4,
        "period_start": pd.to_datetime(["2025-01-01", "2025-01-25", "2025-03-01",
                                        "2025-01-01"]),
        "period_end": pd.to_datetime(["2025-01-31", "2025-02-20", "2025-03-31", "2025-12-31"]),
        "account": ["", "", "", "b-e"]})
    rows = bill_period_checks(bills, 2025).assign(kind="audit", year=2025)
    a = rows.set_index("institution_id").loc["a"]
    assert a["status"] == "flag"
    assert (a["overlap_days"], a["gap_days"]) == (7, 8)   # 25-31 Jan twice; 21-28 Feb none
    reason = explain(rows, language="en").set_index("institution_id").loc["a", "reason"]
    assert "7 day(s) billed twice and 8 day(s) without a bill" in reason
    assert "2025-01-25…2025-02-20 overlaps the bill ending 2025-01-31" in reason


# -- 3. Strict numbers, dates and plausibility --------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [
    ("1,500", 1500.0), ("1,500,000.5", 1500000.5), ("15", 15.0), ("1.5", 1.5), ("2e3", 2000.0)])
def test_well_formed_numbers_pass(text, value):
    assert parse_value(SCHEMAS["bills"].column("quantity"), text) == (value, "")


@pytest.mark.parametrize("text", ["1,5", "15,00", ",5", "1,50,000", "1.5.0", "nan", "inf"])
def test_a_comma_that_is_not_thousands_grouping_is_an_error(text):
    value, reason = parse_value(SCHEMAS["bills"].column("quantity"), text)
    assert value is None
    assert reason.startswith("expected a number")


@pytest.mark.parametrize("text", ["202511", "2025111", "2025011", "251101"])
def test_a_compact_date_has_exactly_eight_digits(text):
    value, reason = parse_value(SCHEMAS["bills"].column("period_start"), text)
    assert value is None
    assert "exactly eight digits" in reason
    assert parse_value(SCHEMAS["bills"].column("period_start"), "20251101")[0].isoformat() == (
        "2025-11-01")


def test_lenient_cells_are_rejected_at_import(city, tmp_path):
    problems = _problems("bills", BILLS + (
        "gov01,electricity,202511,2025-01-31,\"1,5\",kWh,e1\n"
        "gov01,water,2025-01-01,2025111,100,m3,w1\n"), city, tmp_path)
    assert {(p.row, p.column) for p in problems} == {
        (2, "period_start"), (2, "quantity"), (3, "period_end")}


def test_an_implausible_bill_is_rejected_with_the_bound_named(city, tmp_path):
    problems = _problems("bills", BILLS + (
        "gov01,electricity,2025-01-01,2025-01-31,1e300,kWh,e1\n"
        "gov01,electricity,2025-02-01,2025-02-28,5e7,kWh,e1\n"          # within the bound
        "gov01,natural_gas,2025-01-01,2025-12-31,2000,10^4 m3,g1\n"     # 20 million m3 a year
    ), city, tmp_path)
    assert [(p.row, p.column) for p in problems] == [(2, "quantity")]
    assert "above the plausibility bound of 60,000,000 kWh a month for electricity" in (
        problems[0].reason)
    assert "plausibility.csv" in problems[0].reason
    problems = _problems("bills", BILLS + (
        "gov01,natural_gas,2025-01-01,2025-01-31,2000,10^4 m3,g1\n"), city, tmp_path)
    assert "10,000,000 m3 a month for natural_gas" in problems[0].reason


def test_the_plausibility_bounds_are_reference_data_with_their_confidence():
    bounds = pd.read_csv(REFERENCE_ROOT / "default" / "plausibility.csv")
    assert {"carrier", "unit", "max_per_month", "publication", "trail", "confidence"} <= set(
        bounds.columns)
    # Project estimates, said so.
    assert (bounds["confidence"] == "U").all()
    assert bounds["publication"].str.contains("project estimate").all()


# -- 4. Unknown provinces -----------------------------------------------------------------------


@pytest.mark.parametrize("province", ["atlantis", "national", "shangdong"])
def test_an_unknown_province_is_rejected_with_the_known_ones_listed(settings, tmp_path,
                                                                    province):
    problems = _problems("institutions", INSTITUTIONS.replace("shandong", province, 1),
                         settings, tmp_path)
    assert [(p.row, p.column, p.value) for p in problems] == [(2, "province", province)]
    assert "unknown province" in problems[0].reason
    assert "shandong, shanghai, shanxi" in problems[0].reason
    if province == "national":
        assert 'emission_factor_policy = "national"' in problems[0].reason
    if province == "shangdong":
        assert "did you mean 'shandong'" in problems[0].reason
    assert not _ledger(settings).exists()


# -- 5. Sources an officer can cite -------------------------------------------------------------

#: What a research trail looks like; a filed output must not print it.
TRAIL_MARKS = ("file id", "github", ".js@", ".py", "renrendoc", "reference §", ".md",
               "http", "repost", "huatuo6", "daydaynews")


def test_every_reference_row_has_a_publication_and_keeps_its_trail_apart():
    for path in sorted((REFERENCE_ROOT / "default").rglob("*.csv")):
        with path.open(encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        assert rows, path
        assert "publication" in rows[0], path
        assert "trail" in rows[0], path
        assert "source" not in rows[0], path
        for i, row in enumerate(rows, start=2):
            assert row["publication"].strip(), (path, i)
            assert not any(m in row["publication"].lower() for m in TRAIL_MARKS), (path, i, row)


def test_the_grid_factors_cite_the_mee_nbs_notices():
    shared = Path("/work/shared/reference/grid-emission-factors.csv")
    grid = pd.read_csv(REFERENCE_ROOT / "default" / "grid_factors.csv")
    shandong_2023 = grid[(grid["region"] == "shandong") & (grid["year"] == 2023)].iloc[0]
    assert "生态环境部" in shandong_2023["publication"]
    assert "file id" in shandong_2023["trail"]
    if shared.exists():
        published = pd.read_csv(shared)
        merged = grid.merge(published, on=["region_type", "region", "year"], how="left",
                            suffixes=("", "_shared"))
        assert (merged["publication"] == merged["publication_shared"]).all()


def test_the_report_prints_publications_not_the_research_trail(sample_city, tmp_path, capsys):
    out = tmp_path / "r.xlsx"
    assert main(["report", "--config", str(sample_city), "--year", "2025",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    book = openpyxl.load_workbook(out, read_only=True)
    for sheet in ("折算系数", "判定"):
        for row in book[sheet].iter_rows(min_row=2, values_only=True):
            for cell in row:
                if isinstance(cell, str):
                    assert not any(m in cell.lower() for m in TRAIL_MARKS), (sheet, cell)
    factors = list(book["折算系数"].iter_rows(values_only=True))
    header = factors[0]
    grid = next(r for r in factors[1:] if r[0] == "electricity" and r[3] == "purchased")
    assert "生态环境部、国家统计局" in grid[header.index("排放因子来源")]
    book.close()
    out = tmp_path / "r.json"
    assert main(["report", "--config", str(sample_city), "--year", "2025",
                 "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8").lower()
    assert not any(m in text for m in ("file id", "renrendoc", "reference §", ".md §"))


# -- 6. The officer's language ------------------------------------------------------------------


def test_the_verdict_sheet_is_in_chinese_by_default_and_english_on_request(
        sample_city, tmp_path, capsys):
    sheets = {}
    for language in ("zh", "en"):
        out = tmp_path / f"r-{language}.xlsx"
        argv = ["report", "--config", str(sample_city), "--year", "2025", "--out", str(out)]
        assert main(argv + (["--language", "en"] if language == "en" else [])) == 0
        book = openpyxl.load_workbook(out, read_only=True)
        sheets[language] = list(book["判定"].iter_rows(values_only=True))
        book.close()
    capsys.readouterr()
    zh, en = sheets["zh"], sheets["en"]
    assert zh[0][:4] == ("单位编码", "类别", "指标/事项", "结论")
    assert en[0][:4] == ("institution", "kind", "indicator / item", "status")
    zh_cells = {c for r in zh[1:] for c in r[1:4]}
    assert {"能耗定额", "单位建筑面积电耗", "无法判定"} <= zh_cells
    assert not {"quota", "electricity_kwh_per_m2", "unknown"} & zh_cells
    assert {"quota", "electricity per floor area", "unknown"} <= {c for r in en[1:]
                                                                   for c in r[1:4]}
    reason = zh[0].index("依据")
    assert all(not str(r[reason]).isascii() for r in zh[1:] if r[reason])


def test_every_reason_template_fills_in_both_languages(sample_city, capsys):
    for language in messages.LANGUAGES:
        code = main(["account", "--config", str(sample_city), "--year", "2025", "--format",
                     "json", "--language", language])
        data = json.loads(capsys.readouterr().out)
        assert code == 0
        reasons = [v["reason"] for i in data["institutions"] for v in i["verdicts"]]
        assert all(reasons)
        assert not any("{" in r for r in reasons)
    keys = [k for k in messages.catalog("zh") if k.startswith("verdict.reason.")]
    assert len(keys) > 30


def test_the_account_table_headers_follow_the_language(sample_city, capsys):
    assert main(["account", "--config", str(sample_city), "--year", "2025"]) == 0
    zh = capsys.readouterr().out.splitlines()
    assert zh[0] == "2025 年能源资源消费核算"
    assert zh[1].startswith("单位")
    assert "综合能耗 tce" in zh[1]
    assert main(["account", "--config", str(sample_city), "--year", "2025", "--language",
                 "en"]) == 0
    en = capsys.readouterr().out.splitlines()
    assert en[0] == "Jieneng accounts 2025"
    assert en[1].startswith("institution")


# -- Ctrl-C during an import --------------------------------------------------------------------


def test_ctrl_c_during_an_import_says_nothing_was_imported(city, tmp_path, monkeypatch,
                                                            capsys):
    path = write_text(tmp_path / "b.csv", BILLS + "".join(
        f"gov01,water,2025-{m:02d}-01,2025-{m:02d}-28,100,m3,w1\n" for m in range(1, 13)))
    real = accounting.ledgers._iter_cells

    def interrupted(p):
        for n, row in enumerate(real(p)):
            if n == 6:
                raise KeyboardInterrupt
            yield row

    monkeypatch.setattr(accounting.ledgers, "_iter_cells", interrupted)
    with pytest.raises(ImportInterrupted, match="nothing was imported"):
        import_ledger("bills", path, city)
    config = write_text(tmp_path / "jieneng.toml", MINIMAL_CONFIG.replace(
        '"ledgers.sqlite"', f'"{_ledger(city).as_posix()}"'))
    code = main(["import", "bills", str(path), "--config", str(config)])
    err = capsys.readouterr().err
    assert code == ExitCode.interrupted
    assert "interrupted (Ctrl-C)" in err
    assert "nothing was imported, the bills ledger is unchanged" in err
    with sqlite3.connect(_ledger(city)) as conn:
        assert conn.execute("SELECT count(*) FROM bills").fetchone()[0] == 0


def test_ctrl_c_while_writing_rolls_the_import_back(city, tmp_path, monkeypatch):
    path = write_text(tmp_path / "b.csv", BILLS + "gov01,water,2025-01-01,2025-01-31,100,m3,w1\n")
    real = accounting.ledgers._Staging.ledger_problems

    def interrupted(self, conn, staged, ledger):
        real(self, conn, staged, ledger)
        if staged == "stage":   # inside the write transaction
            conn.execute("INSERT INTO main.bills (institution_id) VALUES ('half')")
            raise KeyboardInterrupt

    monkeypatch.setattr(accounting.ledgers._Staging, "ledger_problems", interrupted)
    with pytest.raises(ImportInterrupted):
        import_ledger("bills", path, city)
    assert _bills(city).empty


# -- Bounded memory -----------------------------------------------------------------------------


def test_an_import_streams_the_file_in_chunks(city, tmp_path, monkeypatch):
    # On main a 48 MB bill file (500,000 rows) peaked at 839 MB: every cell of the file was
    # held as Python objects, then every parsed row. Now the file is read and checked chunk by
    # chunk into a scratch database: the Python heap's peak stays within 4× the file size.
    import tracemalloc

    monkeypatch.setattr(accounting.ledgers, "CHUNK_ROWS", 2_000, raising=False)
    path = tmp_path / "bills.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["institution_id", "carrier", "period_start", "period_end", "quantity",
                         "unit", "cost_cny", "account", "备注"])
        for n in range(30_000):
            inst = "gov01" if n % 2 else "gov02"
            year, month = 2000 + n // 24, n // 2 % 12 + 1
            writer.writerow([inst, "electricity", f"{year}-{month:02d}-01",
                             f"{year}-{month:02d}-28", f"{1000 + n % 97:.1f}", "kWh",
                             f"{800 + n % 89:.2f}", f"{inst}-e", "公共机构电费账单"])
    size = path.stat().st_size
    tracemalloc.start()
    try:
        result = import_ledger("bills", path, city)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.rows == 30_000
    assert peak <= 4 * size, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
