"""The verdict rules as reference data: the shipped rows, a deployer's override, bad rows.

The shipped values are those the verdicts applied as literals before they became
``verdict_rules.csv`` rows: score bands 0.9 / 1.0 / 1.1 / 1.2 → 7 / 6 / 5 / 4 (示范单位 evaluation
standard), 十四五 base year 2020, 3 peers, 10 % audit change, unit price 0.5 … 2.0 × the median of
at least 3 bills.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from accounting import engine, verdicts
from accounting.errors import ReferenceDataError
from accounting.export import account_json
from accounting.reference_data import REFERENCE_ROOT, load_reference, read_verdict_rules
from accounting.report import verdict_sheet
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules
from jieneng.settings import AccountingSettings

HEADER = "rule,value,unit,year,source,confidence,verified_by,note\n"


def test_shipped_rules_are_the_former_literals():
    assert verdicts.SCORE_BANDS == ((0.9, 7), (1.0, 6), (1.1, 5), (1.2, 4))
    assert verdicts.SCORE_MAX == 7
    assert verdicts.FYP14_BASE_YEAR == 2020
    assert verdicts.MIN_PEERS == 3
    assert verdicts.AUDIT_CHANGE_LIMIT == 0.10
    assert verdicts.PRICE_RATIO_LIMITS == (0.5, 2.0)
    assert verdicts.MIN_PRICE_PEERS == 3
    assert VerdictRules.from_reference(load_reference(AccountingSettings())) == DEFAULT_RULES


def test_every_rule_row_has_its_source_and_a_confidence_tag():
    rows = read_verdict_rules(REFERENCE_ROOT / "default")
    assert rows["source"].str.strip().ne("").all()
    by_rule = rows.set_index("rule")
    assert set(by_rule.loc[[f"score_band_{n}_{p}" for n in range(1, 5)
                            for p in ("ratio", "points")], "confidence"]) == {"S"}
    assert by_rule.loc["fyp14_base_year", "confidence"] == "V"
    assert "国管节能〔2021〕195号" in by_rule.loc["fyp14_base_year", "source"]
    for rule in ("min_peers", "price_ratio_low", "price_ratio_high", "min_price_peers"):
        assert by_rule.loc[rule, "confidence"] == "U", rule
        assert "project default, configurable" in by_rule.loc[rule, "note"], rule


def _figures(ids: list[str], **columns) -> pd.DataFrame:
    """Figures of provincial government bodies in Shandong, full coverage, figures NaN unless
    given."""
    n = len(ids)
    base = {
        "institution_id": ids, "province": "shandong", "category": "government",
        "level": "provincial", "climate_zone": "cold", "quota_area": "B", "subtype": "",
        "floor_area_m2": [10_000.0] * n, "occupants": [100.0] * n, "electricity_kwh": 0.0,
        "energy_coverage": 1.0, "electricity_coverage": 1.0, "water_coverage": 1.0,
        "co2_coverage": 1.0,
        **{c: [np.nan] * n for c in ("kgce_per_m2", "kgce_per_m2_excl_vehicles",
                                     "kgce_per_m2_non_heating", "kgce_per_person",
                                     "water_m3_per_person", "kgco2_per_m2", "kwh_per_m2")},
    }
    return pd.DataFrame({**base, **columns})


def _deployment(tmp_path, rows: str):
    (tmp_path / "verdict_rules.csv").write_text(HEADER + rows, encoding="utf-8")
    return load_reference(AccountingSettings(reference_dirs=[tmp_path]))


def test_a_deployer_replaces_rules_and_the_verdicts_and_reasons_follow(tmp_path):
    reference = _deployment(tmp_path, (
        "min_peers,2,institutions,,our bureau's 2025 notice,V,,\n"
        "score_band_4_ratio,1.3,ratio,,our bureau's 2025 notice,V,,\n"
        "audit_change_limit,0.2,fraction,,our bureau's 2025 notice,V,,\n"))
    rules = VerdictRules.from_reference(reference)
    assert rules.min_peers == 2
    assert rules.score_bands == ((0.9, 7), (1.0, 6), (1.1, 5), (1.3, 4))
    assert rules.audit_change_limit == 0.2
    assert rules.fyp14_base_year == 2020  # untouched rows stay
    # Two peers: mean 10; 8 → 0.8× → 7 points, 12 → 1.2× → 4 points (0 with the shipped bands).
    figures = _figures(["a", "b"], occupants=[100.0, 130.0],
                       kgce_per_m2_excl_vehicles=[8.0, 12.0])
    previous = figures.assign(occupants=[100.0, 100.0])
    judged = verdicts.judge_year(figures, reference, 2025, 0.8, previous_figures=previous)
    peers = judged[(judged["kind"] == "peers")
                   & (judged["subject"] == "kgce_per_m2_excl_vehicles")]
    assert peers["score"].tolist() == [7, 4]
    shipped = verdicts.peer_verdicts(figures, 0.8)
    assert shipped[shipped["subject"] == "kgce_per_m2_excl_vehicles"]["status"].tolist() == [
        "unknown", "unknown"]  # two peers are too few by the shipped rule
    change = judged[(judged["subject"] == "occupants_change")].set_index("institution_id")
    assert change.loc["b", "status"] == "flag"  # +30 % > 20 %
    reason = verdicts.explain(change.reset_index(), rules, language="en").set_index("institution_id")
    assert "limit ±20%" in reason.loc["b", "reason"]


def test_the_fyp14_base_year_is_a_rule():
    figures = _figures(["a"], kgce_per_m2=[95.0])
    base = figures.assign(kgce_per_m2=[100.0])
    targets = load_reference(AccountingSettings()).targets()
    shipped = verdicts.fyp14_verdicts(figures, base, targets, 2023, 0.8)
    later = verdicts.fyp14_verdicts(figures, base, targets, 2023, 0.8,
                                    rules=replace(DEFAULT_RULES, fyp14_base_year=2021))
    row = shipped[shipped["subject"] == "kgce_per_m2"].iloc[0]
    assert row["base_year"] == 2020
    assert row["path_change"] == pytest.approx(-0.05 * 3 / 5)
    row = later[later["subject"] == "kgce_per_m2"].iloc[0]
    assert row["base_year"] == 2021
    assert row["path_change"] == pytest.approx(-0.05 * 2 / 4)


@pytest.mark.parametrize(("rows", "message"), [
    ("min_peer,2,institutions,,x,U,,\n", "unknown rule 'min_peer'"),
    ("score_band_5_ratio,1.5,ratio,,x,U,,\n", "'score_band_5_points' missing"),
    ("min_peers,2.5,institutions,,x,U,,\n", "min_peers = 2.5: expected a whole number"),
    ("score_band_2_ratio,0.8,ratio,,x,U,,\n", "must be positive and rise"),
    ("price_ratio_low,1.5,ratio,,x,U,,\n", "expected 0 < low < 1 < high"),
    ("min_peers,three,institutions,,x,U,,\n", "column value = 'three': expected a number"),
])
def test_bad_rule_rows_are_refused_with_the_rule_named(tmp_path, rows, message):
    with pytest.raises(ReferenceDataError, match=r"verdict_rules\.csv") as caught:
        VerdictRules.from_reference(_deployment(tmp_path, rows))
    assert message in str(caught.value)


def test_the_account_quotes_the_rules_it_was_judged_with(tmp_path):
    """A deployer's min_peers = 4: the account's reasons (JSON, the report's 判定 sheet) say 4,
    not the shipped 3."""
    reference = _deployment(tmp_path, "min_peers,4,institutions,,our bureau's notice,V,,\n")
    rows = [{"institution_id": inst, "month": month, "carrier": "electricity", "unit": "kWh",
             "quantity": kwh / 12, "use": "purchased", "source": "bill", "coverage": 1.0,
             "estimated_share": 0.0}
            for inst, kwh in (("g1", 120_000.0), ("g2", 60_000.0), ("g3", 90_000.0))
            for month in range(1, 13)]
    profile = pd.DataFrame({"institution_id": ["g1", "g2", "g3"], "category": "government",
                            "province": "shandong", "floor_area_m2": [1000.0, 800.0, 900.0],
                            "occupants": [50.0, 20.0, 30.0]})
    account = engine.account_year(2023, pd.DataFrame(rows), profile, reference, 0.8)
    assert account.rules.min_peers == 4
    reasons = [v["reason"] for i in account_json(account, language="en")["institutions"]
               for v in i["verdicts"] if v["kind"] == "peers" and "needed" in v["reason"]]
    assert reasons
    assert all("at least 4 needed" in r for r in reasons)
    sheet = verdict_sheet(account, language="en")
    quoted = " ".join(map(str, sheet.to_numpy().ravel()))
    assert "at least 4 needed" in quoted
    assert "at least 3 needed" not in quoted
