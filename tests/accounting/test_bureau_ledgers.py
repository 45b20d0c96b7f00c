"""The bureau's ledgers: bad rows (a member in two compounds at once, shares not summing to 1, an
odometer from the future) are every one listed with its row, and nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounting.errors import LedgerImportError
from accounting.ledgers import LedgerStore, import_ledger


def _write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


@pytest.fixture
def base(settings, tmp_path):
    import_ledger("institutions", _write(tmp_path / "i.csv", """
institution_id,name,category,level,province,climate_zone,region_code,region_name
A,甲,government,municipal,shandong,cold,370102,历下区
B,乙,government,municipal,shandong,cold,370102,历下区
"""), settings)
    import_ledger("compounds", _write(tmp_path / "c.csv", """
办公区编码,办公区名称,省份,气候区
C1,第一集中办公区,shandong,寒冷
C2,第二集中办公区,shandong,寒冷
"""), settings)
    import_ledger("vehicles", _write(tmp_path / "v.csv", """
plate,institution_id,fuel,new_energy,vehicle_type,tank_l
P1,A,gasoline,no,轿车,60
"""), settings)
    return settings


def _rows(settings, kind: str) -> int:
    return len(LedgerStore(settings.resolve(settings.accounting.ledger_path)).table(kind))


def test_a_member_in_two_compounds_at_once(base, tmp_path):
    path = _write(tmp_path / "m.csv", """
compound_id,institution_id,from,until
C1,A,2020-01-01,2024-12-31
C2,A,2024-06-01,
C1,B,,
""")
    with pytest.raises(LedgerImportError) as err:
        import_ledger("compound_members", path, base)
    problems = err.value.problems
    assert [(p.row, p.column) for p in problems] == [(3, "institution_id")]
    assert "in compound C2 while also in compound C1 (row 2)" in problems[0].reason
    assert _rows(base, "compound_members") == 0


def test_a_member_overlapping_a_stored_membership(base, tmp_path):
    import_ledger("compound_members", _write(tmp_path / "m1.csv", """
compound_id,institution_id,from,until
C1,A,2020-01-01,
"""), base)
    with pytest.raises(LedgerImportError) as err:
        import_ledger("compound_members", _write(tmp_path / "m2.csv", """
compound_id,institution_id,from,until
C2,A,2025-01-01,
"""), base)
    assert [p.row for p in err.value.problems] == [2]
    assert _rows(base, "compound_members") == 1


def test_shares_not_summing_to_1(base, tmp_path):
    path = _write(tmp_path / "a.csv", """
compound_id,carrier,rule,residual_rule,institution_id,share
C1,heat,fixed,,A,0.5
C1,heat,fixed,,B,0.4
C1,electricity,residual,residual,,
C1,water,area,,A,0.3
""")
    with pytest.raises(LedgerImportError) as err:
        import_ledger("apportionment", path, base)
    found = sorted((p.row, p.column) for p in err.value.problems)
    assert found == [(2, "share"), (3, "share"), (4, "residual_rule"), (5, "share")]
    assert "sum to 0.9; expected 1" in err.value.problems[0].reason or any(
        "sum to 0.9" in p.reason for p in err.value.problems)
    assert _rows(base, "apportionment") == 0


def test_an_odometer_from_the_future(base, tmp_path):
    path = _write(tmp_path / "f.csv", """
date,plate,fuel,litres,cost_cny,odometer_km
2025-01-05,P1,gasoline,40,316,10000
2099-01-05,P1,gasoline,40,316,20000
2099-02-05,P1,gasoline,40,316,
""")
    with pytest.raises(LedgerImportError) as err:
        import_ledger("fuel", path, base)
    assert [(p.row, p.column) for p in err.value.problems] == [(3, "odometer_km")]
    assert "after today" in err.value.problems[0].reason
    assert _rows(base, "fuel") == 0


def test_region_code_is_six_digits_and_compounds_may_own_bills(base, tmp_path):
    with pytest.raises(LedgerImportError) as err:
        import_ledger("institutions", _write(tmp_path / "bad.csv", """
institution_id,name,category,level,province,climate_zone,region_code
D,丁,government,county,shandong,cold,3701
"""), base)
    assert [(p.row, p.column) for p in err.value.problems] == [(2, "region_code")]
    result = import_ledger("bills", _write(tmp_path / "b.csv", """
institution_id,carrier,period_start,period_end,quantity,unit
C1,electricity,2025-01-01,2025-01-31,1000,kWh
"""), base)
    assert result.rows == 1


def test_a_new_rule_replaces_a_compound_carrier_s_rows(base, tmp_path):
    import_ledger("apportionment", _write(tmp_path / "a1.csv", """
compound_id,carrier,rule,residual_rule,institution_id,share
C1,heat,fixed,,A,0.6
C1,heat,fixed,,B,0.4
"""), base)
    import_ledger("apportionment", _write(tmp_path / "a2.csv", """
compound_id,carrier,rule
C1,heat,area
"""), base)
    rules = LedgerStore(base.resolve(base.accounting.ledger_path)).table("apportionment")
    assert rules[["carrier", "rule"]].to_dict("records") == [{"carrier": "heat", "rule": "area"}]
