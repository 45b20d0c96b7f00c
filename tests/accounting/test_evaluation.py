"""County performance evaluation: one county's score from its indicator points by hand, the
county table's sums, and ``jieneng evaluate`` on the sample city (the issue's JSON shape)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from accounting.bureau_rules import check_scoring_table, load_scoring_table
from accounting.errors import ReferenceDataError
from accounting.evaluation import county_scores, county_table, indicator_points, path_changes
from jieneng.cli import main

SCORING = check_scoring_table(pd.DataFrame([
    ("reporting_completeness", "20", "share", "1.0", "share", "test", "example"),
    ("kgce_per_m2_vs_path", "20", "path", "", "change", "test", "example"),
    ("kgce_per_m2_vs_last_year", "10", "decrease", "0.05", "change", "test", "example"),
    ("nev_share", "10", "share", "0.3", "share", "test", "example"),
], columns=["indicator", "weight", "rule", "target", "unit", "source", "confidence"]))


def _counties() -> pd.DataFrame:
    return pd.DataFrame([
        {"region_code": "370102", "name": "历下区", "institutions": 4,
         "reporting_completeness": 0.5, "kgce_per_m2_change_vs_base": -0.03,
         "kgce_per_m2_path_change": -0.05, "kgce_per_m2_change_vs_last_year": 0.02,
         "nev_share": 0.15},
        {"region_code": "370103", "name": "市中区", "institutions": 2,
         "reporting_completeness": 1.0, "kgce_per_m2_change_vs_base": -0.06,
         "kgce_per_m2_path_change": -0.05, "kgce_per_m2_change_vs_last_year": -0.01,
         "nev_share": np.nan},
        {"region_code": "370100", "name": "市", "institutions": 6,
         "reporting_completeness": 2 / 3, "kgce_per_m2_change_vs_base": -0.04,
         "kgce_per_m2_path_change": -0.05, "kgce_per_m2_change_vs_last_year": 0.0,
         "nev_share": 0.15},
    ])


def test_one_county_s_score_from_its_indicator_points():
    scores, points = county_scores(_counties(), SCORING)
    p = points[points["region_code"] == "370102"].set_index("indicator")["points"]
    # completeness 0.5 of 1.0 × 20 = 10; change −3 % against the path −5 %: 0.6 × 20 = 12;
    # +2 % against last year: (1 − 0.02/0.05) × 10 = 6; NEV 15 % of 30 %: 0.5 × 10 = 5
    assert p.to_dict() == pytest.approx({"reporting_completeness": 10.0,
                                         "kgce_per_m2_vs_path": 12.0,
                                         "kgce_per_m2_vs_last_year": 6.0, "nev_share": 5.0})
    s = scores.set_index("region_code")
    assert s.loc["370102", "score"] == pytest.approx(33.0)
    # 市中区: 20 + 20 + 10 + 0 (NEV share unknown scores 0, and says so) = 50
    assert s.loc["370103", "score"] == pytest.approx(50.0)
    assert (s.loc["370103", "rank"], s.loc["370102", "rank"]) == (1, 2)
    assert np.isnan(s.loc["370100", "rank"])
    assert bool(s.loc["370100", "is_city"])
    reason = points[(points["region_code"] == "370103") & (points["indicator"] == "nev_share")]
    assert "unknown" in reason["reason"].iloc[0]


def test_indicator_points_rules():
    assert indicator_points("path", 20, -0.06, path=-0.05)[0] == 20.0
    assert indicator_points("path", 20, 0.01, path=-0.05)[0] == 0.0
    assert indicator_points("decrease", 10, 0.08, target=0.05)[0] == 0.0
    assert indicator_points("share", 10, 0.6, target=0.3)[0] == 10.0  # capped at the weight


def test_path_is_the_straight_line_to_the_2025_target():
    targets = pd.DataFrame([{"plan": "14th_fyp", "kind": "target", "indicator": "kgce_per_m2",
                             "year": "2025", "change_vs_base": "-0.05"}])
    assert path_changes(targets, 2023)["kgce_per_m2"] == pytest.approx(-0.03)
    assert path_changes(targets, 2027)["kgce_per_m2"] == pytest.approx(-0.05)


def test_county_table_sums_complete_institutions():
    figures = pd.DataFrame({
        "institution_id": ["a", "b", "c"], "energy_tce": [10.0, 20.0, 5.0],
        "co2_t": [30.0, 60.0, 15.0], "floor_area_m2": [1000.0, 3000.0, 500.0],
        "occupants": [10.0, 30.0, 5.0], "energy_coverage": [1.0, 1.0, 0.5]})
    institutions = pd.DataFrame({"institution_id": ["a", "b", "c"],
                                 "region_code": ["370102", "370102", "370103"],
                                 "region_name": ["历下区", "历下区", "市中区"]})
    vehicles = pd.DataFrame({"institution_id": ["a", "a", "b", "b"],
                             "new_energy": [True, False, False, False]})
    t = county_table(figures, institutions, 2025, 0.9, pd.DataFrame(
        columns=["plan", "kind", "indicator", "year", "change_vs_base"]), vehicles=vehicles,
        city_name="市").set_index("region_code")
    assert t.loc["370102", "kgce_per_m2"] == pytest.approx(30_000.0 / 4000.0)
    assert t.loc["370102", "nev_share"] == pytest.approx(0.25)
    assert t.loc["370103", "reporting_completeness"] == 0.0  # c's coverage 0.5 < 0.9
    assert np.isnan(t.loc["370103", "kgce_per_m2"])  # no complete institution: unknown
    assert t.loc["370100", "institutions"] == 3
    assert t.loc["370100", "name"] == "市"


def test_shipped_scoring_table_is_an_example_that_sums_to_100():
    table = load_scoring_table()
    assert set(table["confidence"]) == {"example"}
    assert table["weight"].sum() == pytest.approx(100.0)
    with pytest.raises(ReferenceDataError, match="rule 'best'"):
        check_scoring_table(table.assign(rule="best"))


def test_evaluate_json_has_the_issue_s_shape(sample_city, capsys):
    assert main(["evaluate", "--config", str(sample_city), "--year", "2025",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"year", "counties", "city"}
    assert data["year"] == 2025
    assert [c["region_code"] for c in data["counties"]] != []
    assert {c["region_code"] for c in data["counties"]} == {"370102", "370103", "370124"}
    for unit in [*data["counties"], data["city"]]:
        assert set(unit) == {"region_code", "name", "score", "rank", "institutions",
                             "indicators"}
        for i in unit["indicators"]:
            assert set(i) == {"indicator", "value", "unit", "points", "max_points", "reason"}
        assert unit["score"] == pytest.approx(sum(i["points"] for i in unit["indicators"]))
    assert sorted(c["rank"] for c in data["counties"]) == [1, 2, 3]
    assert data["city"]["rank"] is None
    assert data["city"]["region_code"] == "370100"
    assert main(["evaluate", "--config", str(sample_city), "--year", "2025"]) == 0
    assert "区县绩效评价 2025" in capsys.readouterr().out
