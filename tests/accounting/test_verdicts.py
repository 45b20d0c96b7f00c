"""Verdicts worked by hand: quota bands, 十四五 path, peers and 示范单位 score, certification,
audit.

Quota figures come from the shipped DB37/T 2672-2019 table (省级 B区: electricity 35.5 / 52 / 81
kWh/m2; non-heating 9.6 / 16.6 / 25.5 kgce/m2, 等价值 electricity 0.31 kgce/kWh).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from accounting import verdicts

FIGURE_COLUMNS = [
    "kgce_per_m2", "kgce_per_m2_excl_vehicles", "kgce_per_m2_non_heating", "kgce_per_person",
    "water_m3_per_person", "kgco2_per_m2", "kwh_per_m2",
]


def figures(*rows: dict) -> pd.DataFrame:
    """A figures frame with defaults: a provincial government body in Shandong, full coverage."""
    base = {
        "province": "shandong", "category": "government", "level": "provincial",
        "climate_zone": "cold", "quota_area": "B", "subtype": "", "floor_area_m2": 10_000.0,
        "occupants": 100.0, "electricity_kwh": 0.0, "energy_coverage": 1.0,
        "electricity_coverage": 1.0, "water_coverage": 1.0, "co2_coverage": 1.0,
        **{c: np.nan for c in FIGURE_COLUMNS},
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def _status(frame, inst, subject):
    """The one verdict row of an institution and subject, with its reason written."""
    row = frame[(frame["institution_id"] == inst) & (frame["subject"] == subject)]
    assert len(row) == 1, (inst, subject, frame)
    explained = verdicts.explain(row, language="en").iloc[0]
    assert explained["reason"], explained
    return explained


@pytest.mark.parametrize(("kwh_per_m2", "status"), [
    (30.0, "below_guide"),                  # ≤ 引导值 35.5
    (35.5, "below_guide"),                  # at 引导值
    (40.0, "between_guide_and_baseline"),   # 35.5 < 40 ≤ 基准值 52
    (60.0, "above_baseline"),               # 52 < 60 ≤ 约束值 81
    (90.0, "above_constraint"),             # > 81
])
def test_quota_bands(reference, kwh_per_m2, status):
    f = figures({"institution_id": "a", "kwh_per_m2": kwh_per_m2})
    q = verdicts.quota_verdicts(f, reference.quotas(), min_coverage=0.8)
    row = _status(q, "a", "electricity_kwh_per_m2")
    assert row["status"] == status
    assert (row["guide"], row["baseline"], row["constraint"]) == (35.5, 52.0, 81.0)
    assert "DB37/T 2672" in row["source"]


def test_quota_non_heating_is_rebased_on_equal_value_electricity(reference):
    # 100 000 kWh on 10 000 m2: 当量值 100 000 × 0.1229 / 10 000 = 1.229 kgce/m2; DB37/T 2672
    # prescribes 等价值 0.31: + 100 000 × (0.31 − 0.1229) / 10 000 = 1.871 → 3.1 kgce/m2.
    f = figures({"institution_id": "a", "electricity_kwh": 100_000.0,
                 "kgce_per_m2_non_heating": 1.229})
    q = verdicts.quota_verdicts(f, reference.quotas(), 0.8,
                                equal_value_delta_kgce_per_kwh=0.31 - 0.1229)
    row = _status(q, "a", "non_heating_kgce_per_m2")
    assert row["value"] == pytest.approx(3.1)
    assert row["status"] == "below_guide"          # ≤ 9.6
    assert "等价值" in row["reason"]


def test_quota_unknown_when_coverage_low_or_figure_missing(reference):
    f = figures(
        {"institution_id": "low", "kwh_per_m2": 30.0, "electricity_coverage": 0.5},
        {"institution_id": "noarea", "kwh_per_m2": np.nan, "floor_area_m2": np.nan},
    )
    q = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    low = _status(q, "low", "electricity_kwh_per_m2")
    assert low["status"] == "unknown"
    assert "50%" in low["reason"]
    assert "coverage" in low["missing"]
    noarea = _status(q, "noarea", "electricity_kwh_per_m2")
    assert noarea["status"] == "unknown"
    assert "floor_area_m2" in noarea["missing"]


def test_quota_unknown_when_no_row_fits(reference):
    f = figures({"institution_id": "school", "category": "education", "kwh_per_m2": 30.0},
                {"institution_id": "muni", "level": "municipal", "kwh_per_m2": 30.0})
    q = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    for inst in ("school", "muni"):
        row = _status(q, inst, "electricity_kwh_per_m2")
        assert row["status"] == "unknown"
        assert "no quota row" in row["reason"]


def test_quota_unknown_when_several_rows_fit(reference):
    # GB/T 51161 has class_a and class_b rows for the same climate zone: without a subtype the
    # institution cannot be judged; with one it can (55 / 45 for class_a 寒冷 党政机关).
    quotas = reference.quotas(["gb_t_51161_2016_office"])
    f = figures({"institution_id": "x", "kwh_per_m2": 50.0},
                {"institution_id": "y", "kwh_per_m2": 50.0, "subtype": "class_a"})
    q = verdicts.quota_verdicts(f, quotas, 0.8)
    assert _status(q, "x", "non_heating_kwh_per_m2")["status"] == "unknown"
    y = _status(q, "y", "non_heating_kwh_per_m2")
    assert y["status"] == "between_guide_and_constraint"   # 45 < 50 ≤ 55, no 基准值
    assert "electric heating" in y["reason"]


@pytest.mark.parametrize(("value", "status"), [
    (9.4, "met_target"),   # −6 % ≤ −5 % target
    (9.6, "on_track"),     # −4 % ≤ path −5 % × 3/5 = −3 %
    (9.7, "on_track"),     # −3 % on the path
    (9.8, "off_track"),    # −2 % > −3 %
])
def test_fyp14_straight_line_path(reference, value, status):
    f = figures({"institution_id": "a", "kgce_per_m2": value})
    base = figures({"institution_id": "a", "kgce_per_m2": 10.0})
    v = verdicts.fyp14_verdicts(f, base, reference.targets(), 2023, 0.8)
    row = _status(v, "a", "kgce_per_m2")
    assert row["status"] == status
    assert row["path_change"] == pytest.approx(-0.03)
    assert row["target_change"] == pytest.approx(-0.05)
    assert row["change"] == pytest.approx(value / 10.0 - 1)


def test_fyp14_unknown_without_baseline(reference):
    f = figures({"institution_id": "a", "kgce_per_m2": 9.0})
    base = figures({"institution_id": "other", "kgce_per_m2": 10.0})
    v = verdicts.fyp14_verdicts(f, base, reference.targets(), 2023, 0.8)
    row = _status(v, "a", "kgce_per_m2")
    assert row["status"] == "unknown"
    assert "2020" in row["missing"]
    empty = verdicts.fyp14_verdicts(f, base.iloc[0:0], reference.targets(), 2023, 0.8)
    assert set(empty["status"]) == {"unknown"}


def test_fyp14_co2_target_is_minus_seven_percent(reference):
    # 2025: path = full target −7 %; 9.35 / 10 − 1 = −6.5 % → off_track.
    f = figures({"institution_id": "a", "kgco2_per_m2": 9.35})
    base = figures({"institution_id": "a", "kgco2_per_m2": 10.0})
    row = _status(verdicts.fyp14_verdicts(f, base, reference.targets(), 2025, 0.8), "a",
                  "kgco2_per_m2")
    assert row["path_change"] == pytest.approx(-0.07)
    assert row["status"] == "off_track"


@pytest.mark.parametrize(("ratio", "points"), [
    (0.5, 7), (0.9, 7), (0.9001, 6), (1.0, 6), (1.05, 5), (1.1, 5), (1.15, 4), (1.2, 4),
    (1.2001, 0), (3.0, 0),
])
def test_score_bands(ratio, points):
    assert verdicts.score_for_ratio(ratio) == points


def test_peers_rank_percentile_and_score():
    # Peer mean (8 + 10 + 11 + 13) / 4 = 10.5: ratios 0.762 → 7, 0.952 → 6, 1.048 → 5,
    # 1.238 → 0 points. Ranks 1..4, percentiles 25 / 50 / 75 / 100.
    f = figures(*[{"institution_id": k, "kgce_per_m2_excl_vehicles": v}
                  for k, v in (("a", 8.0), ("b", 10.0), ("c", 11.0), ("d", 13.0))])
    p = verdicts.peer_verdicts(f, 0.8)
    got = p[p["subject"] == "kgce_per_m2_excl_vehicles"].set_index("institution_id")
    assert got["score"].tolist() == [7, 6, 5, 0]
    assert got["rank"].tolist() == [1, 2, 3, 4]
    assert got["percentile"].tolist() == [25.0, 50.0, 75.0, 100.0]
    assert got["peer_average"].tolist() == [10.5] * 4
    assert got.loc["a", "status"] == "score_7"
    assert got.loc["d", "status"] == "score_0"


def test_peers_separate_groups_and_low_coverage_left_out():
    f = figures(
        {"institution_id": "a", "kgce_per_person": 100.0},
        {"institution_id": "b", "kgce_per_person": 200.0},
        {"institution_id": "c", "kgce_per_person": 300.0},
        {"institution_id": "low", "kgce_per_person": 1.0, "energy_coverage": 0.3},
        {"institution_id": "other", "kgce_per_person": 1.0, "level": "county"},
    )
    p = verdicts.peer_verdicts(f, 0.8)
    got = p[p["subject"] == "kgce_per_person"].set_index("institution_id")
    assert got.loc["a", "peer_average"] == pytest.approx(200.0)
    assert got.loc["a", "score"] == 7          # 0.5×
    assert got.loc["low", "status"] == "unknown"
    assert got.loc["other", "status"] == "unknown"   # alone in its group, no published average
    assert "at least 3" in got.loc["other", "missing"]


def test_peers_fall_back_to_published_average(reference):
    # Guangdong 省级以上机关 2021: 12.49 kgce/m2. 11.0 / 12.49 = 0.881 → 7 points.
    f = figures({"institution_id": "gd", "province": "guangdong",
                 "climate_zone": "hot_summer_warm_winter", "kgce_per_m2_excl_vehicles": 11.0})
    p = verdicts.peer_verdicts(f, 0.8, reference.peer_averages(), 2023)
    row = _status(p, "gd", "kgce_per_m2_excl_vehicles")
    assert row["peer_average"] == pytest.approx(12.49)
    assert row["score"] == 7
    assert "published" in row["reason"]


def test_certification(reference):
    rows = []
    for inst, v in (("a", 8.0), ("b", 10.0), ("c", 11.0)):
        rows.append({"institution_id": inst, "kgce_per_m2_excl_vehicles": v,
                     "kgce_per_person": v * 10, "water_m3_per_person": v, "kgce_per_m2": v,
                     "kwh_per_m2": 30.0 if inst == "a" else 60.0})
    rows.append({"institution_id": "school", "category": "education", "kgce_per_m2": 5.0})
    f = figures(*rows)
    base = f.copy()
    base.loc[base["institution_id"] == "b", "kgce_per_m2"] = 9.0    # b: +11 % → off track
    for column in ("kgce_per_m2", "kgce_per_person", "water_m3_per_person"):
        base.loc[base["institution_id"] != "b", column] *= 1.1        # a, c: −9 % → met
    fyp = verdicts.fyp14_verdicts(f, base, reference.targets(), 2023, 0.8)
    peers = verdicts.peer_verdicts(f, 0.8)
    quota = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    c = verdicts.certification_verdicts(f, fyp, peers, quota)
    assert _status(c, "a", "conservation_organ")["status"] == "ready"
    assert _status(c, "b", "conservation_organ")["status"] == "not_ready"
    assert _status(c, "school", "conservation_organ")["status"] == "not_applicable"
    # c: 11 / 9.667 = 1.138× → 4 points on every item → ready, 12 of 21.
    demo_c = _status(c, "c", "demonstration_unit")
    assert demo_c["status"] == "ready"
    assert demo_c["score"] == 12
    # a is first of 3 and below 引导值 35.5 kWh/m2 → candidate; b is second → not.
    assert _status(c, "a", "efficiency_leader")["status"] == "candidate"
    assert _status(c, "b", "efficiency_leader")["status"] == "not_candidate"
    school = _status(c, "school", "efficiency_leader")
    assert school["status"] == "unknown"
    assert school["missing"]


def test_demonstration_unit_not_ready_when_an_item_scores_zero():
    f = figures(*[{"institution_id": k, "kgce_per_m2_excl_vehicles": v, "kgce_per_person": 1.0,
                   "water_m3_per_person": 1.0} for k, v in (("a", 5.0), ("b", 5.0), ("z", 20.0))])
    peers = verdicts.peer_verdicts(f, 0.8)
    empty = verdicts.quota_verdicts(f.iloc[0:0], pd.DataFrame(columns=[
        "table", "province", "category", "level", "area", "climate_zone", "subtype",
        "indicator", "unit", "constraint", "baseline", "guide", "tce_basis", "source",
        "confidence", "standard", "note"]), 0.8)
    c = verdicts.certification_verdicts(f, peers.iloc[0:0], peers, empty)
    # z: 20 / 10 = 2.0× → 0 points.
    assert _status(c, "z", "demonstration_unit")["status"] == "not_ready"


def test_audit_year_on_year_change_and_bands(reference):
    f = figures({"institution_id": "a", "occupants": 115.0, "kwh_per_m2": 90.0},
                {"institution_id": "b", "occupants": 105.0, "kwh_per_m2": 40.0})
    previous = figures({"institution_id": "a", "occupants": 100.0},
                       {"institution_id": "b", "occupants": 100.0})
    quota = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    a = verdicts.audit_verdicts(f, previous, quota, None, 2023)
    occ_a = _status(a, "a", "occupants_change")
    assert occ_a["status"] == "flag"                       # +15 % > 10 %
    assert occ_a["change"] == pytest.approx(0.15)
    assert _status(a, "b", "occupants_change")["status"] == "ok"   # +5 %
    assert _status(a, "a", "floor_area_m2_change")["status"] == "ok"
    assert _status(a, "a", "intensity_band:electricity_kwh_per_m2")["status"] == "flag"
    assert _status(a, "b", "intensity_band:electricity_kwh_per_m2")["status"] == "ok"
    none = verdicts.audit_verdicts(f, None, quota, None, 2023)
    assert _status(none, "a", "occupants_change")["status"] == "unknown"


def test_audit_bill_unit_price(reference):
    f = figures({"institution_id": "a"}, {"institution_id": "b"}, {"institution_id": "c"})
    bills = pd.DataFrame({
        "institution_id": ["a", "b", "c", "c"], "carrier": "electricity", "unit": "kWh",
        "quantity": [1000.0, 1000.0, 1000.0, 500.0], "cost_cny": [800.0, 820.0, 790.0, 1500.0],
        "period_start": pd.to_datetime(["2023-01-01", "2023-01-01", "2023-01-01", "2023-02-01"]),
        "period_end": pd.to_datetime(["2023-01-31", "2023-01-31", "2023-01-31", "2023-02-28"]),
    })
    quota = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    a = verdicts.audit_verdicts(f, None, quota, bills, 2023)
    # Prices 0.80, 0.82, 0.79, 3.00 CNY/kWh: median 0.81; 3.00 / 0.81 = 3.7× > 2 → flag.
    c = _status(a, "c", "bill_unit_price:electricity")
    assert c["status"] == "flag"
    assert c["ratio"] == pytest.approx(3.0 / 0.81)
    assert _status(a, "a", "bill_unit_price:electricity")["status"] == "ok"


def test_verdict_records_are_json_ready(reference):
    f = figures({"institution_id": "a", "kwh_per_m2": 30.0})
    q = verdicts.quota_verdicts(f, reference.quotas(), 0.8)
    records = verdicts.verdict_records(q[q["subject"] == "electricity_kwh_per_m2"])
    assert records[0]["status"] == "below_guide"
    assert records[0]["figures"]["guide"] == 35.5
    assert all(not (isinstance(v, float) and math.isnan(v))
               for r in records for v in r["figures"].values())


def test_judge_year_is_every_kind_in_one_table(reference):
    """judge_year gives the rows of the five kinds' functions, kind after kind, text columns
    categorical."""
    rows = [{"institution_id": inst, "kgce_per_m2_excl_vehicles": v, "kgce_per_person": v * 10,
             "water_m3_per_person": v, "kgce_per_m2": v, "kgco2_per_m2": 3 * v,
             "kgce_per_m2_non_heating": v / 2, "kwh_per_m2": 10 * v, "electricity_kwh": 1e5 * v}
            for inst, v in (("a", 8.0), ("b", 10.0), ("c", 11.0), ("d", 30.0))]
    f = figures(*rows).assign(energy_coverage=[1.0, 1.0, 1.0, 0.5])  # d: unknown
    base = f.assign(kgce_per_m2=f["kgce_per_m2"] * 1.05, occupants=[100.0, 90.0, 100.0, 80.0])
    quota = verdicts.quota_verdicts(f, reference.quotas(), 0.8, 0.1871)
    fyp = verdicts.fyp14_verdicts(f, base, reference.targets(), 2023, 0.8)
    peers = verdicts.peer_verdicts(f, 0.8, reference.peer_averages(), 2023)
    kinds = [quota, fyp, peers, verdicts.certification_verdicts(f, fyp, peers, quota),
             verdicts.audit_verdicts(f, base, quota, None, 2023)]
    together = verdicts.judge_year(f, reference, 2023, 0.8, base_figures=base,
                                   previous_figures=base, equal_value_delta_kgce_per_kwh=0.1871)
    expected = pd.concat([k.astype(object) for k in kinds], ignore_index=True)
    assert list(together.columns) == list(expected.columns)
    assert len(together) == len(expected) == 4 * (len(quota) // 4 + 4 + 3 + 3) + len(kinds[4])
    for column in expected.columns:
        mine = together[column].astype(object).where(together[column].notna(), None).tolist()
        theirs = expected[column].where(expected[column].notna(), None).tolist()
        assert mine == theirs, column
    for column in ("institution_id", "kind", "subject", "status", "unit", "missing", "source"):
        assert isinstance(together[column].dtype, pd.CategoricalDtype), column
    assert (together["status"] == "unknown").any()
    assert (together["status"] != "unknown").any()
