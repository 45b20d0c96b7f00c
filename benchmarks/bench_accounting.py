"""Benchmark: one accounting year of 10,000 institutions through the engine vs a per-institution loop.

Run: ``.venv/bin/python benchmarks/bench_accounting.py [--institutions 10000] [--repeats 3]``

Data (built before timing, seeded): N institutions in 4 provinces × 5 categories × 3 levels ×
2 climate zones, each with 12 months × 8 carriers (electricity, water, natural gas, heat,
gasoline, diesel, LPG, on-site PV) = N × 96 rows of the monthly consumption table, floor area and
occupants, and the same institutions' 2020 and previous-year figures for the 十四五 and audit
verdicts. Factors, quotas (DB37/T 2672) and targets are the shipped reference data.

(a) the engine: ``accounting.engine.account_year`` — factors, carrier totals, figures, quota,
    十四五, peer, certification and audit verdicts;
(b) a straightforward per-institution Python loop computing the same figures and the same
    verdicts (quota, 十四五, peers, certification, audit): the table's columns read into Python
    lists once, rows bucketed per institution, a dict of factors, sums and coverage per carrier,
    intensities, then the verdict rules in plain Python.

Neither side writes the verdicts' explanatory sentences (the engine writes them only for rows
that are shown). The loop's energy, CO2, intensities, coverage and every verdict status are
checked against the engine's, so a fast but wrong engine cannot win. Prints the median time of
each and the ratio (b)/(a). Goal: (a) at least 20× faster than (b), and under 5 s.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import time
from collections import defaultdict, namedtuple
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accounting import engine, verdicts
from accounting.reference_data import load_reference
from jieneng.settings import AccountingSettings

YEAR = 2023
MIN_COVERAGE = 0.8
CARRIERS = [  # carrier, unit, use, source, monthly quantity range per 1000 m2
    ("electricity", "kWh", "purchased", "meter", (2_000, 6_000)),
    ("water", "m3", "purchased", "meter", (20, 60)),
    ("natural_gas", "m3", "stationary", "bill", (50, 300)),
    ("heat", "GJ", "purchased", "bill", (5, 40)),
    ("gasoline", "L", "mobile", "fuel_card", (20, 120)),
    ("diesel", "L", "mobile", "fuel_card", (0, 40)),
    ("lpg", "kg", "stationary", "bill", (0, 30)),
    ("pv", "kWh", "generation", "meter", (0, 800)),
]
PROVINCES = ["shandong", "shaanxi", "beijing", "guangdong"]
CATEGORIES = ["government", "education", "healthcare", "venue", "other"]
LEVELS = ["provincial", "municipal", "county"]
ZONES = ["cold", "hot_summer_cold_winter"]


def make_data(n: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"inst{i:05d}" for i in range(n)])
    profile = pd.DataFrame({
        "institution_id": ids,
        "name": ids,
        "category": rng.choice(CATEGORIES, n),
        "level": rng.choice(LEVELS, n),
        "province": rng.choice(PROVINCES, n),
        "climate_zone": rng.choice(ZONES, n),
        "quota_area": rng.choice(["A", "B"], n),
        "subtype": "",
        "floor_area_m2": rng.uniform(2_000, 40_000, n).round(0),
        "occupants": rng.integers(50, 2_000, n).astype(float),
    })
    parts = []
    area_k = np.repeat(profile["floor_area_m2"].to_numpy() / 1000.0, 12)
    months = np.tile(np.arange(1, 13), n)
    inst = np.repeat(ids, 12)
    for carrier, unit, use, source, (lo, hi) in CARRIERS:
        quantity = rng.uniform(lo, hi, n * 12) * area_k
        coverage = np.where(rng.random(n * 12) < 0.03, rng.uniform(0, 1, n * 12), 1.0)
        parts.append(pd.DataFrame({
            "institution_id": inst, "month": months, "carrier": carrier, "unit": unit,
            "quantity": quantity, "use": use, "source": source, "coverage": coverage,
            "estimated_share": 1.0 - coverage,
        }))
    return pd.concat(parts, ignore_index=True), profile


# ---------------------------------------------------------------------------------------------
# (b) the straightforward loop
# ---------------------------------------------------------------------------------------------


Row = namedtuple("Row", engine.CONSUMPTION_COLUMNS)


def loop_accounts(consumption, profile, reference, base, previous) -> dict[str, dict]:
    """Per institution: figures and every verdict status, in plain Python."""
    factors: dict[tuple, tuple[float, float, int]] = {}
    rows_by_inst: dict[str, list] = defaultdict(list)
    for r in map(Row._make, zip(*(consumption[c].tolist() for c in Row._fields), strict=True)):
        rows_by_inst[r.institution_id].append(r)
    quotas = reference.quotas().to_dict("records")
    targets = reference.targets()
    goal = targets[targets["kind"].eq("target") & targets["change_vs_base"].notna()]
    goal = dict(zip(goal["indicator"], goal["change_vs_base"], strict=True))
    delta = engine.equal_value_delta(reference, YEAR)
    base_by = base.set_index("institution_id").to_dict("index")
    previous_by = previous.set_index("institution_id").to_dict("index")
    results: dict[str, dict] = {}
    for p in profile.to_dict("records"):
        inst = p["institution_id"]
        per_carrier: dict[tuple, dict] = {}
        for r in rows_by_inst[inst]:
            key = (r.carrier, r.unit, p["province"], r.use)
            if key not in factors:
                scope = engine.scope_of(r.carrier, r.use)
                kgce = (reference.kgce_per_unit(r.carrier, r.unit, YEAR).value
                        if r.carrier != "water" else 0.0)
                kgco2 = (reference.kgco2_per_unit(r.carrier, r.unit, YEAR, p["province"]).value
                         if scope else 0.0)
                factors[key] = (kgce, kgco2, scope)
            c = per_carrier.setdefault((r.carrier, r.unit, r.use, r.source), {
                "q": 0.0, "cov": 0.0, "months": set(), "est": 0.0})
            c["q"] += r.quantity
            c["cov"] += r.coverage
            c["est"] += r.quantity * r.estimated_share
            c["months"].add(r.month)
        f = {"kgce": 0.0, "kgco2": 0.0, "s1": 0.0, "s2": 0.0, "mobile": 0.0, "heat": 0.0,
             "kwh": 0.0, "water": 0.0, "kgce_cov": 0.0, "kgco2_cov": 0.0, "elec_cov": [],
             "water_cov": [], "has_water": False, "has_elec": False}
        for (carrier, unit, use, source), c in per_carrier.items():
            kgce_u, kgco2_u, scope = factors[(carrier, unit, p["province"], use)]
            continuous = source == "meter" or (
                source == "bill" and carrier in engine.CONTINUOUS_BILL_CARRIERS)
            coverage = c["cov"] / (12 if continuous else len(c["months"]))
            kgce, kgco2 = c["q"] * kgce_u, c["q"] * kgco2_u
            f["kgce"] += kgce
            f["kgco2"] += kgco2
            f["kgce_cov"] += kgce * coverage
            f["kgco2_cov"] += kgco2 * coverage
            f["s1"] += kgco2 if scope == 1 else 0.0
            f["s2"] += kgco2 if scope == 2 else 0.0
            f["mobile"] += kgce if use == "mobile" else 0.0
            f["heat"] += kgce if carrier == "heat" else 0.0
            if carrier in ("electricity", "pv"):
                f["kwh"] += c["q"]
            if carrier == "electricity":
                f["elec_cov"].append(coverage)
            if carrier == "water":
                f["water"] += c["q"]
                f["water_cov"].append(coverage)
        area, people = p["floor_area_m2"], p["occupants"]
        elec_cov = sum(f["elec_cov"]) / len(f["elec_cov"]) if f["elec_cov"] else 0.0
        out = {
            "energy_tce": f["kgce"] / 1000, "co2_t": f["kgco2"] / 1000,
            "kgce_per_m2": f["kgce"] / area,
            "kgce_per_m2_excl_vehicles": (f["kgce"] - f["mobile"]) / area,
            "kgce_per_m2_non_heating": (f["kgce"] - f["mobile"] - f["heat"]) / area,
            "kgce_per_person": f["kgce"] / people, "water_m3_per_person": f["water"] / people,
            "kgco2_per_m2": f["kgco2"] / area, "kwh_per_m2": f["kwh"] / area,
            "energy_coverage": min(f["kgce_cov"] / f["kgce"], elec_cov),
            "co2_coverage": min(f["kgco2_cov"] / f["kgco2"], elec_cov),
            "electricity_coverage": elec_cov,
            "water_coverage": sum(f["water_cov"]) / len(f["water_cov"]),
            "electricity_kwh": f["kwh"], "statuses": {},
        }
        # Quota verdicts: the rows that fit, then the bands.
        for indicator, (column, cov_col, _d, _u, in_kgce) in verdicts.QUOTA_INDICATORS.items():
            fit = [q for q in quotas if q["indicator"] == indicator
                   and q["category"] == p["category"]
                   and q["province"] in ("", p["province"])
                   and q["level"] in ("", "any", p["level"])
                   and q["climate_zone"] in ("", p["climate_zone"])
                   and q["area"] in ("", p["quota_area"])]
            if not any(q["indicator"] == indicator for q in quotas):
                continue
            value = out[column]
            if len(fit) == 1 and in_kgce and "equal_value" in fit[0]["tce_basis"]:
                value += out["electricity_kwh"] * delta / (
                    area if column != "kgce_per_person" else people)
            status = "unknown"
            if len(fit) == 1 and out[cov_col] >= MIN_COVERAGE:
                q = fit[0]
                if value > q["constraint"]:
                    status = "above_constraint"
                elif value > q["baseline"]:
                    status = "above_baseline"
                elif value > q["guide"]:
                    status = "between_guide_and_baseline"
                else:
                    status = "below_guide"
            out["statuses"][("quota", indicator)] = status
        # 十四五: straight-line path from 2020 to 2025.
        b = base_by.get(inst)
        for indicator, (cov_col, _d, _u) in verdicts.FYP14_INDICATORS.items():
            target = goal[indicator]
            path = target * (YEAR - 2020) / 5
            change = out[indicator] / b[indicator] - 1
            if out[cov_col] < MIN_COVERAGE or b[cov_col] < MIN_COVERAGE:
                status = "unknown"
            elif change <= target:
                status = "met_target"
            elif change <= path:
                status = "on_track"
            else:
                status = "off_track"
            out["statuses"][("fyp14", indicator)] = status
        results[inst] = {**out, "profile": p}
    # Peers: a second pass over groups.
    for indicator, (cov_col, _d, _u, _pub) in verdicts.PEER_INDICATORS.items():
        groups: dict[tuple, list[float]] = defaultdict(list)
        for r in results.values():
            if r[cov_col] >= MIN_COVERAGE:
                p = r["profile"]
                groups[(p["category"], p["level"], p["climate_zone"])].append(r[indicator])
        # Each group's size, mean and lowest value, once.
        summary = {key: (len(v), sum(v) / len(v), min(v)) for key, v in groups.items()}
        for r in results.values():
            p = r["profile"]
            size, mean, lowest = summary.get((p["category"], p["level"], p["climate_zone"]),
                                             (0, math.nan, math.nan))
            score = None
            if r[cov_col] >= MIN_COVERAGE and size >= verdicts.MIN_PEERS:
                score = verdicts.score_for_ratio(r[indicator] / mean)
            r["statuses"][("peers", indicator)] = "unknown" if score is None else f"score_{score}"
            r.setdefault("scores", {})[indicator] = score
            if indicator == verdicts.LEADER_INDICATOR:
                r["leader"] = (size, lowest) if r[cov_col] >= MIN_COVERAGE else None
    for inst, r in results.items():
        p, statuses = r["profile"], r["statuses"]
        # Certification: 节约型机关, 示范单位, 能效领跑者.
        items = [statuses[("fyp14", i)] for i in verdicts.ORGAN_ITEMS]
        if p["category"] != "government":
            organ = "not_applicable"
        elif "off_track" in items:
            organ = "not_ready"
        elif "unknown" in items:
            organ = "unknown"
        else:
            organ = "ready"
        statuses[("certification", "conservation_organ")] = organ
        scores = list(r["scores"].values())
        statuses[("certification", "demonstration_unit")] = (
            "not_ready" if 0 in scores else "unknown" if None in scores else "ready")
        quota = [v for (kind, _s), v in statuses.items() if kind == "quota" and v != "unknown"]
        above = sum(v != "below_guide" for v in quota)
        peers = r["leader"]  # (group size, lowest value) when the institution is ranked
        behind = (peers is not None and r[verdicts.LEADER_INDICATOR] > peers[1]) or above > 0
        if behind:
            leader = "not_candidate"
        elif peers is None or peers[0] < verdicts.MIN_PEERS or not quota:
            leader = "unknown"
        else:
            leader = "candidate"
        statuses[("certification", "efficiency_leader")] = leader
        # Audit: floor area and occupants year on year, intensities outside the quota bands.
        before = previous_by.get(inst)
        for column in ("floor_area_m2", "occupants"):
            old = before[column] if before else math.nan
            change = p[column] / old - 1 if old > 0 else math.nan
            statuses[("audit", f"{column}_change")] = (
                "unknown" if math.isnan(change)
                else "flag" if abs(change) > verdicts.AUDIT_CHANGE_LIMIT else "ok")
        for (kind, subject), status in list(statuses.items()):
            if kind == "quota" and status != "unknown":
                statuses[("audit", f"intensity_band:{subject}")] = (
                    "flag" if status in ("above_constraint", "below_guide") else "ok")
    return results


def check(account: engine.AnnualAccount, loop: dict[str, dict]) -> int:
    """The loop and the engine must agree, figure by figure and verdict by verdict.

    Returns the number of verdicts compared.
    """
    f = account.figures.set_index("institution_id")
    for column in ("energy_tce", "co2_t", "kgce_per_m2", "kgce_per_m2_excl_vehicles",
                   "kgce_per_person", "water_m3_per_person", "kgco2_per_m2", "kwh_per_m2",
                   "energy_coverage", "co2_coverage", "water_coverage",
                   "electricity_coverage"):
        mine = np.array([loop[i][column] for i in f.index])
        if not np.allclose(mine, f[column].to_numpy(), rtol=1e-9, atol=1e-12):
            raise AssertionError(f"loop and engine disagree on {column}")
    v = account.verdicts
    engine_statuses = {
        (i, k, s): status
        for i, k, s, status in zip(v["institution_id"], v["kind"], v["subject"], v["status"],
                                   strict=True)
    }
    loop_statuses = {(i, k, s): status for i, r in loop.items()
                     for (k, s), status in r["statuses"].items()}
    if engine_statuses.keys() != loop_statuses.keys():
        raise AssertionError(f"{len(engine_statuses.keys() ^ loop_statuses.keys())} verdicts "
                             "are in only one of loop and engine")
    mismatches = sum(loop_statuses[key] != status for key, status in engine_statuses.items())
    if mismatches:
        raise AssertionError(f"{mismatches} verdict statuses differ between loop and engine")
    return len(engine_statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--institutions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    reference = load_reference(AccountingSettings())
    consumption, profile = make_data(args.institutions)
    base_consumption, _ = make_data(args.institutions, seed=2)
    prev_consumption, _ = make_data(args.institutions, seed=3)
    base = engine.account_figures(base_consumption, profile, reference, 2020)[2]
    # Last year's ledgers differ a little, so some audit checks flag a change.
    rng = np.random.default_rng(4)
    prev_profile = profile.assign(
        floor_area_m2=profile["floor_area_m2"] * rng.choice([1.0, 0.95, 1.2], len(profile)),
        occupants=(profile["occupants"] * rng.choice([1.0, 0.8, 1.05], len(profile))).round())
    previous = engine.account_figures(prev_consumption, prev_profile, reference, YEAR - 1)[2]
    delta = engine.equal_value_delta(reference, YEAR)
    print(f"{args.institutions} institutions × 12 months × {len(CARRIERS)} carriers = "
          f"{len(consumption):,} consumption rows; {args.repeats} repeats")

    # The reference files are read once (as a service would); each run starts with an empty
    # factor cache, so both pay for their factor lookups.
    def run_engine() -> engine.AnnualAccount:
        reference.clear_cache()
        return engine.account_year(YEAR, consumption, profile, reference, MIN_COVERAGE,
                                   base_figures=base, previous_figures=previous,
                                   equal_value_delta_kgce_per_kwh=delta)

    def run_loop() -> dict:
        reference.clear_cache()
        return loop_accounts(consumption, profile, reference, base, previous)

    wall: dict[str, list[float]] = {"engine": [], "loop": []}
    cpu: dict[str, list[float]] = {"engine": [], "loop": []}
    results = {}
    for _ in range(args.repeats):
        # Each run starts from a collected heap: the last repeat's results (the loop's are
        # 10,000 nested dicts) would otherwise be walked by the garbage collector in the next
        # timed run, whichever side it is.
        results.clear()
        for name, run in (("engine", run_engine), ("loop", run_loop)):
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            results[name] = run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    compared = check(results["engine"], results["loop"])
    labels = {"engine": "(a) engine: figures + every verdict",
              "loop": "(b) per-institution loop: the same"}
    for name in ("engine", "loop"):
        print(f"{labels[name]:<38} wall median {statistics.median(wall[name]):7.3f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in wall[name])}); "
              f"CPU median {statistics.median(cpu[name]):7.3f} s")
    t_engine, t_loop = statistics.median(wall["engine"]), statistics.median(wall["loop"])
    ratio = t_loop / t_engine if t_engine > 0 else math.inf
    cpu_ratio = statistics.median(cpu["loop"]) / max(statistics.median(cpu["engine"]), 1e-9)
    print(f"ratio (b)/(a): wall {ratio:.1f}×, CPU {cpu_ratio:.1f}×   goal ≥ 20× and (a) < 5 s "
          f"wall: {'met' if ratio >= 20 and t_engine < 5 else 'NOT met'}")
    print(f"results agree: 12 figures per institution and all {compared:,} verdict statuses "
          "(quota, 十四五, peers, certification, audit)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
