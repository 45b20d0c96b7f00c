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

Case 2 (``--bills 500000``): half a million bill rows (monthly bills, half of them on a 26th-to-25th
cycle that crosses month and year ends, one supply point billed in MWh) through the input path
(``accounting.consumption.bills_to_consumption``: spread over months by day fraction, canonical
units, coverage) and the engine's figures, against a per-bill Python loop (each bill's days in
the year, summed per institution × carrier, the same factors); energy, CO2, electricity and
water of every institution must agree. Goal ≥ 20×.

Neither side writes the verdicts' explanatory sentences (the engine writes them only for rows
that are shown). The loop's energy, CO2, intensities, coverage and every verdict status are
checked against the engine's, so a fast but wrong engine cannot win. Prints the median time of
each and the ratio (b)/(a). Goal: (a) at least 20× faster than (b), and under 5 s.
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
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

from accounting import engine, units, verdicts
from accounting.consumption import bills_to_consumption
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


# ---------------------------------------------------------------------------------------------
# Case 2: 500,000 bill rows through the input path and the engine
# ---------------------------------------------------------------------------------------------

#: Bill lines per institution: carrier, unit (as billed), use, quantity range per bill.
BILL_LINES = [
    ("electricity", "kWh", "purchased", (20_000, 60_000)),
    ("electricity", "MWh", "purchased", (5, 20)),            # a second supply point, in MWh
    ("water", "m3", "purchased", (300, 1_500)),
    ("natural_gas", "m3", "stationary", (500, 4_000)),
    ("heat", "GJ", "purchased", (100, 900)),
]


def make_bills(n_bills: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n_bills`` monthly bills of the year (and the neighbouring months: cycles from the 26th
    to the 25th cross month and year ends) as ``LedgerStore.table("bills")`` returns them, and
    the profile of their institutions."""
    rng = np.random.default_rng(seed)
    per_institution = len(BILL_LINES) * 13
    n = -(-n_bills // per_institution)
    ids = np.array([f"inst{i:05d}" for i in range(n)])
    profile = pd.DataFrame({
        "institution_id": ids, "name": ids, "province": rng.choice(PROVINCES, n),
        "category": rng.choice(CATEGORIES, n), "level": rng.choice(LEVELS, n),
        "climate_zone": rng.choice(ZONES, n), "quota_area": "", "subtype": "",
        "floor_area_m2": rng.uniform(2_000, 40_000, n).round(0),
        "occupants": rng.integers(50, 2_000, n).astype(float),
    })
    inst = np.repeat(ids, per_institution)
    line = np.tile(np.repeat(np.arange(len(BILL_LINES)), 13), n)
    month = np.tile(np.arange(13), n * len(BILL_LINES))   # 13 cycles: Dec 26 … Dec 25, +1
    cycle = rng.random(len(inst)) < 0.5                   # half billed 26th → 25th
    first = np.datetime64(f"{YEAR}-01", "M") + month.astype("timedelta64[M]")
    start = np.where(cycle, (first - np.timedelta64(1, "M")).astype("datetime64[D]")
                     + np.timedelta64(25, "D"), first.astype("datetime64[D]"))
    end = np.where(cycle, first.astype("datetime64[D]") + np.timedelta64(24, "D"),
                   (first + np.timedelta64(1, "M")).astype("datetime64[D]")
                   - np.timedelta64(1, "D"))
    low = np.array([b[3][0] for b in BILL_LINES], dtype=float)[line]
    high = np.array([b[3][1] for b in BILL_LINES], dtype=float)[line]
    quantity = rng.uniform(low, high).round(1)
    bills = pd.DataFrame({
        "institution_id": inst,
        "carrier": np.array([b[0] for b in BILL_LINES], dtype=object)[line],
        "period_start": start.astype("datetime64[ns]"), "period_end": end.astype("datetime64[ns]"),
        "quantity": quantity,
        "unit": np.array([b[1] for b in BILL_LINES], dtype=object)[line],
        "cost_cny": (quantity * 0.8).round(2),
        "account": np.char.add(inst.astype(str), np.char.add("-", line.astype(str))),
        "building_id": None,
        "use": np.array([b[2] for b in BILL_LINES], dtype=object)[line],
        "green": False,
    }).iloc[:n_bills].reset_index(drop=True)
    return bills, profile


def engine_bill_figures(bills: pd.DataFrame, profile: pd.DataFrame, reference) -> pd.DataFrame:
    """(a) the project's input path and engine: the bills spread over months
    (``accounting.consumption.bills_to_consumption``), then factors, carriers and figures."""
    consumption = bills_to_consumption(bills, YEAR)
    return engine.account_figures(consumption, profile, reference, YEAR)[2]


def loop_bill_figures(bills: pd.DataFrame, profile: pd.DataFrame, reference) -> dict[str, dict]:
    """(b) a per-row Python loop doing the same work: each bill split over the months of the
    year by day fraction in the canonical unit, the days each account billed per month (the
    coverage: days ÷ days of the month, at most 1, a heat bill covering the months it touches,
    the accounts of an institution averaged), then per institution the year's quantities,
    coverage, tce and CO2 with the same factors (one lookup per carrier × province)."""
    province = dict(zip(profile["institution_id"], profile["province"], strict=True))
    quantity_of: dict[tuple[str, str], float] = defaultdict(float)
    days_of: dict[tuple[str, str, int, str], int] = defaultdict(int)
    for inst, carrier, start, end, quantity, unit, account in zip(
            bills["institution_id"], bills["carrier"], bills["period_start"].dt.date,
            bills["period_end"].dt.date, bills["quantity"], bills["unit"], bills["account"],
            strict=True):
        total = (end - start).days + 1
        scale = units.unit_scale(carrier, unit)
        year, month = start.year, start.month
        while (year, month) <= (end.year, end.month):
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            if year == YEAR:
                days = (min(end, following - dt.timedelta(days=1)) - max(start, first)).days + 1
                quantity_of[(inst, carrier)] += quantity * scale * days / total
                days_of[(inst, carrier, month, account)] += days
            year, month = following.year, following.month
    # Coverage per institution × carrier × month: the mean over its accounts.
    month_shares: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for (inst, carrier, month, _account), days in days_of.items():
        in_month = calendar.monthrange(YEAR, month)[1]
        month_shares[(inst, carrier, month)].append(
            1.0 if carrier == "heat" else min(days / in_month, 1.0))
    coverage: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (inst, carrier, _month), shares in month_shares.items():
        coverage[(inst, carrier)].append(sum(shares) / len(shares))
    kgce = {c: reference.kgce_per_unit(c, units.CANONICAL_UNITS[c], YEAR).value
            for c in {b[0] for b in BILL_LINES} if c != "water"}
    kgco2: dict[tuple[str, str], float] = {}
    out: dict[str, dict] = {}
    for (inst, carrier), q in quantity_of.items():
        # (an institution without a water bill has unknown water, not 0)
        f = out.setdefault(inst, {"energy_tce": 0.0, "co2_t": 0.0, "electricity_kwh": 0.0,
                                  "water_m3": math.nan, "electricity_coverage": math.nan,
                                  "water_coverage": math.nan})
        months = coverage[(inst, carrier)]
        share = sum(months) / (len(months) if carrier == "heat" else 12)
        if carrier == "water":
            f["water_m3"], f["water_coverage"] = q, share
            continue
        key = (carrier, province[inst] if carrier == "electricity" else "")
        if key not in kgco2:
            kgco2[key] = reference.kgco2_per_unit(carrier, units.CANONICAL_UNITS[carrier], YEAR,
                                                  key[1] or None).value
        f["energy_tce"] += q * kgce[carrier] / 1000.0
        f["co2_t"] += q * kgco2[key] / 1000.0
        if carrier == "electricity":
            f["electricity_kwh"], f["electricity_coverage"] = q, share
    return out


def check_bills(figures: pd.DataFrame, loop: dict[str, dict]) -> int:
    """The loop's figures equal the engine's (relative 1e-9); the number of institutions."""
    f = figures.set_index("institution_id")
    assert set(loop) == set(f.index), "institutions differ"
    for inst, expected in loop.items():
        for name, value in expected.items():
            got = f.at[inst, name]
            if not (math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-9)
                    or (math.isnan(got) and math.isnan(value))):
                raise AssertionError(f"{inst} {name}: engine {got} vs loop {value}")
    return len(loop)


def bill_case(n_bills: int, repeats: int, reference) -> None:
    """Case 2: ``n_bills`` bill rows → monthly consumption → figures, engine vs loop."""
    bills, profile = make_bills(n_bills)
    print(f"\ncase 2: {len(bills):,} bill rows of {len(profile):,} institutions → months → "
          f"figures; {repeats} repeats")
    wall: dict[str, list[float]] = {"engine": [], "loop": []}
    cpu: dict[str, list[float]] = {"engine": [], "loop": []}
    results: dict[str, object] = {}
    for _ in range(repeats):
        results.clear()
        for name, run in (("engine", engine_bill_figures), ("loop", loop_bill_figures)):
            reference.clear_cache()
            gc.collect()
            start, start_cpu = time.perf_counter(), time.process_time()
            results[name] = run(bills, profile, reference)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    compared = check_bills(results["engine"], results["loop"])  # type: ignore[arg-type]
    labels = {"engine": "(a) bills_to_consumption + engine",
              "loop": "(b) per-bill loop: the same"}
    for name in ("engine", "loop"):
        print(f"{labels[name]:<38} wall median {statistics.median(wall[name]):7.3f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in wall[name])}); "
              f"CPU median {statistics.median(cpu[name]):7.3f} s")
    ratio = statistics.median(wall["loop"]) / max(statistics.median(wall["engine"]), 1e-9)
    cpu_ratio = statistics.median(cpu["loop"]) / max(statistics.median(cpu["engine"]), 1e-9)
    print(f"ratio (b)/(a): wall {ratio:.1f}×, CPU {cpu_ratio:.1f}×   goal ≥ 20×: "
          f"{'met' if ratio >= 20 else 'NOT met'}")
    print(f"results agree: energy, CO2, electricity, water and their coverage of all "
          f"{compared:,} institutions")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--institutions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bills", type=int, default=500_000,
                        help="bill rows of case 2 (0: skip it)")
    parser.add_argument("--only-bills", action="store_true", help="run case 2 only")
    args = parser.parse_args()
    if args.only_bills:
        bill_case(args.bills, args.repeats, load_reference(AccountingSettings()))
        return 0

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
    if args.bills:
        bill_case(args.bills, args.repeats, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
