"""County performance evaluation (对县区公共机构节能管理工作的绩效评价).

Institutions carry ``region_code``, the 6-digit 行政区划代码 of their county or district (区县);
the counties are the units, the city their sum. Per county and year (:func:`county_table`):

* ``institutions``; ``reporting_completeness``: the share with a full year of data (energy
  coverage at least ``min_coverage``);
* ``energy_tce``, ``co2_t``, and the intensities ``kgce_per_m2``, ``kgce_per_person``,
  ``kgco2_per_m2`` over the complete institutions with a known denominator;
* ``<intensity>_change_vs_base`` against the 十四五 base year (2020) and ``..._change_vs_last_year``,
  each over the institutions known in both years, and ``<intensity>_path_change``, the
  straight-line 十四五 path for the year (targets.csv: −5 % per m², −6 % per person, −7 % CO2
  per m² by 2025);
* ``conservation_organ_ready_share`` (节约型机关 readiness of the certification verdicts) and
  ``nev_share`` of the year's fleet.

The scoring table (``evaluation_scoring.csv``: indicator, weight, rule, target, unit, source,
confidence) turns the values into points (:func:`indicator_points`):

``share``
    weight × min(1, value ÷ target);
``path``
    the indicator ``<intensity>_vs_path``: full points when the change against the base year is at
    or below the path, weight × change ÷ path for a smaller fall, 0 for no fall;
``decrease``
    the indicator ``<intensity>_vs_last_year``: full points for a fall, weight × (1 − rise ÷
    target) for a rise, 0 from a rise of ``target``.

An unknown value scores 0 and says so. The score is the sum of the points, the rank 1 for the
highest (ties share a rank). The shipped table is tagged ``example``: the bureau replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from accounting.bureau_rules import load_scoring_table, reference_dirs
from accounting.errors import ReferenceDataError
from accounting.reference_data import load_reference
from accounting.verdicts.rules import VerdictRules

__all__ = ["COUNTY_COLUMNS", "Evaluation", "county_scores", "county_table", "evaluate",
           "evaluate_account", "evaluation_json", "evaluation_table", "indicator_points",
           "path_changes"]

_INTENSITIES = {"kgce_per_m2": ("energy_tce", "floor_area_m2"),
                "kgce_per_person": ("energy_tce", "occupants"),
                "kgco2_per_m2": ("co2_t", "floor_area_m2")}
_CITY = "city"

#: Columns of :func:`county_table`.
COUNTY_COLUMNS = [
    "region_code", "name", "institutions", "complete", "reporting_completeness", "energy_tce",
    "co2_t", "floor_area_m2", "occupants", "kgce_per_m2", "kgce_per_person", "kgco2_per_m2",
    *[f"{i}_{s}" for i in _INTENSITIES for s in ("change_vs_base", "path_change",
                                                  "change_vs_last_year")],
    "conservation_organ_ready_share", "vehicles", "nev", "nev_share",
]


def path_changes(targets: pd.DataFrame, year: int, base_year: int = 2020) -> dict[str, float]:
    """The 十四五 straight-line path's change for ``year`` per intensity (e.g. −0.03 in 2023)."""
    out = {}
    for r in targets.to_dict("records"):
        if r.get("plan") == "14th_fyp" and r.get("kind") == "target" and r.get(
                "indicator") in _INTENSITIES and str(r.get("change_vs_base", "")) not in ("", "nan"):
            change, target_year = float(r["change_vs_base"]), int(float(r["year"]))
            fraction = min(max((year - base_year) / (target_year - base_year), 0.0), 1.0)
            out.setdefault(r["indicator"], change * fraction)
    return out


def _intensity(frame: pd.DataFrame, num: str, den: str, scale: float = 1000.0) -> float:
    n = pd.to_numeric(frame[num], errors="coerce")
    d = pd.to_numeric(frame[den], errors="coerce")
    ok = n.notna() & (d > 0)
    return float(n[ok].sum() * scale / d[ok].sum()) if ok.any() else np.nan


def _change(now: pd.DataFrame, before: pd.DataFrame | None, num: str, den: str,
            min_coverage: float) -> float:
    """Change of a group's intensity against ``before``, over the institutions known in both."""
    if before is None or before.empty or now.empty:
        return np.nan
    b = before.set_index("institution_id")
    keep = now[now["institution_id"].isin(b.index)]
    keep = keep[(keep["energy_coverage"] >= min_coverage) & pd.to_numeric(
        keep[num], errors="coerce").notna() & (pd.to_numeric(keep[den], errors="coerce") > 0)]
    prev = b.loc[keep["institution_id"]]
    prev = prev[(prev["energy_coverage"] >= min_coverage)
                & pd.to_numeric(prev[num], errors="coerce").notna()
                & (pd.to_numeric(prev[den], errors="coerce") > 0)]
    keep = keep[keep["institution_id"].isin(prev.index)]
    if keep.empty:
        return np.nan
    a, z = _intensity(prev.reset_index(), num, den), _intensity(keep, num, den)
    return z / a - 1.0 if a > 0 else np.nan


def county_table(figures: pd.DataFrame, institutions: pd.DataFrame, year: int,
                 min_coverage: float, targets: pd.DataFrame,
                 base_figures: pd.DataFrame | None = None,
                 previous_figures: pd.DataFrame | None = None,
                 verdicts: pd.DataFrame | None = None,
                 vehicles: pd.DataFrame | None = None, base_year: int = 2020,
                 city_code: str = "", city_name: str = "") -> pd.DataFrame:
    """One row per county (region_code) of the year, plus a last row for the city.

    Parameters
    ----------
    figures, base_figures, previous_figures
        ``accounting.engine.institution_figures`` of the year, the base year and last year.
    institutions
        The institutions ledger (region_code, region_name).
    verdicts
        The year's verdicts (subject ``conservation_organ`` gives 节约型机关 readiness).
    vehicles
        :func:`accounting.vehicles.vehicle_indicators` of the year.
    city_code, city_name
        The city row's code and name (default: the counties' first four digits + "00").

    Returns
    -------
    pandas.DataFrame
        :data:`COUNTY_COLUMNS`; the city row has region_code ``city_code`` and is last.
        Institutions without a region_code count in the city only.
    """
    region = institutions.set_index("institution_id")
    f = figures.copy()
    f["region_code"] = f["institution_id"].map(region.get("region_code", pd.Series(
        dtype=object))).astype(object)
    names = {}
    if "region_name" in region.columns:
        for code, g in region.dropna(subset=["region_code"]).groupby("region_code"):
            known = g["region_name"].dropna()
            names[code] = known.mode().iloc[0] if len(known) else code
    ready = set()
    if verdicts is not None and len(verdicts):
        v = verdicts[(verdicts["subject"].astype(str) == "conservation_organ")
                     & (verdicts["status"].astype(str) == "ready")]
        ready = set(v["institution_id"].astype(str))
    paths = path_changes(targets, year, base_year)
    veh = vehicles.copy() if vehicles is not None else pd.DataFrame(
        columns=["institution_id", "new_energy"])
    veh["region_code"] = veh["institution_id"].map(region.get("region_code", pd.Series(
        dtype=object)))
    codes = sorted(c for c in f["region_code"].dropna().unique() if str(c))
    if not city_code:
        city_code = (codes[0][:4] + "00") if codes else _CITY
    groups = [(c, names.get(c, c), f[f["region_code"] == c], veh[veh["region_code"] == c])
              for c in codes]
    groups.append((city_code, city_name or city_code, f, veh))
    rows = []
    for code, name, g, vg in groups:
        complete = g[g["energy_coverage"] >= min_coverage]
        row: dict[str, Any] = {
            "region_code": code, "name": name, "institutions": len(g),
            "complete": len(complete),
            "reporting_completeness": len(complete) / len(g) if len(g) else np.nan,
            "energy_tce": complete["energy_tce"].sum(min_count=1),
            "co2_t": complete["co2_t"].sum(min_count=1),
            "floor_area_m2": complete["floor_area_m2"].sum(min_count=1),
            "occupants": complete["occupants"].sum(min_count=1),
        }
        for ind, (num, den) in _INTENSITIES.items():
            row[ind] = _intensity(complete, num, den)
            row[f"{ind}_change_vs_base"] = _change(g, base_figures, num, den, min_coverage)
            row[f"{ind}_path_change"] = paths.get(ind, np.nan)
            row[f"{ind}_change_vs_last_year"] = _change(g, previous_figures, num, den,
                                                        min_coverage)
        row["conservation_organ_ready_share"] = (
            g["institution_id"].astype(str).isin(ready).mean() if len(g) else np.nan)
        row["vehicles"] = len(vg)
        row["nev"] = int(vg["new_energy"].astype(bool).sum()) if len(vg) else 0
        row["nev_share"] = row["nev"] / len(vg) if len(vg) else np.nan
        rows.append(row)
    return pd.DataFrame(rows, columns=COUNTY_COLUMNS)


def indicator_points(rule: str, weight: float, value: float, target: float = np.nan,
                     path: float = np.nan) -> tuple[float, str]:
    """(points, reason) of one indicator under one scoring rule (see the module docstring)."""
    if value is None or not np.isfinite(value):
        return 0.0, "unknown: no value for the year, 0 points"
    if rule == "share":
        ratio = min(1.0, value / target)
        return weight * ratio, f"{value:.1%} of a target of {target:.0%}: {ratio:.2f} × {weight:g}"
    if rule == "path":
        if not np.isfinite(path):
            return 0.0, "unknown: no 十四五 path for the indicator, 0 points"
        if value <= path:
            return weight, f"change {value:+.1%} at or below the 十四五 path {path:+.1%}: full points"
        if value < 0 and path < 0:
            return weight * value / path, (f"change {value:+.1%}, short of the 十四五 path "
                                           f"{path:+.1%}: {value / path:.2f} × {weight:g}")
        return 0.0, f"change {value:+.1%}: no fall against the base year (path {path:+.1%})"
    if rule == "decrease":
        if value <= 0:
            return weight, f"change {value:+.1%} against last year: a fall, full points"
        part = max(0.0, 1.0 - value / target)
        return weight * part, (f"change {value:+.1%} against last year: a rise, "
                               f"{part:.2f} × {weight:g} (0 from +{target:.0%})")
    raise ValueError(f"unknown scoring rule {rule!r}")


def _value_of(row: pd.Series, indicator: str) -> tuple[float, float]:
    """(value, path) of a scoring-table indicator in a county row."""
    if indicator.endswith("_vs_path"):
        base = indicator[: -len("_vs_path")]
        return float(row.get(f"{base}_change_vs_base", np.nan)), float(
            row.get(f"{base}_path_change", np.nan))
    if indicator.endswith("_vs_last_year"):
        base = indicator[: -len("_vs_last_year")]
        return float(row.get(f"{base}_change_vs_last_year", np.nan)), np.nan
    if indicator not in row.index:
        raise KeyError(indicator)
    return float(row[indicator]), np.nan


def county_scores(counties: pd.DataFrame, scoring: pd.DataFrame) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """Score and rank each county of :func:`county_table` with a scoring table.

    Returns
    -------
    scores
        region_code, name, institutions, score [points], max_score, rank (counties 1…n, the
        city row's rank NaN), is_city.
    points
        region_code, indicator, value, unit, points, max_points, reason, source.

    Raises
    ------
    accounting.errors.ReferenceDataError
        When the scoring table names an indicator the county table does not have.
    """
    point_rows, score_rows = [], []
    last = len(counties) - 1
    for i, (_, row) in enumerate(counties.iterrows()):
        total = 0.0
        for s in scoring.to_dict("records"):
            try:
                value, path = _value_of(row, s["indicator"])
            except KeyError as exc:
                raise ReferenceDataError(
                    f"evaluation_scoring.csv: indicator {s['indicator']!r} is not a county "
                    f"figure; expected one of {', '.join(COUNTY_COLUMNS[2:])} or "
                    "<intensity>_vs_path / <intensity>_vs_last_year") from exc
            points, reason = indicator_points(s["rule"], float(s["weight"]), value,
                                              float(s.get("target", np.nan)), path)
            total += points
            point_rows.append({"region_code": row["region_code"], "indicator": s["indicator"],
                               "value": value, "unit": s.get("unit", ""), "points": points,
                               "max_points": float(s["weight"]), "reason": reason,
                               "source": f"{s.get('source', '')} ({s.get('confidence', '')})"})
        score_rows.append({"region_code": row["region_code"], "name": row["name"],
                           "institutions": int(row["institutions"]), "score": total,
                           "max_score": float(scoring["weight"].sum()), "is_city": i == last})
    scores = pd.DataFrame(score_rows)
    counties_only = ~scores["is_city"]
    scores["rank"] = np.nan
    scores.loc[counties_only, "rank"] = scores.loc[counties_only, "score"].round(9).rank(
        ascending=False, method="min")
    return scores, pd.DataFrame(point_rows)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, float)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluation_json(year: int, scores: pd.DataFrame, points: pd.DataFrame) -> dict[str, Any]:
    """The ``jieneng evaluate --format json`` document.

    ``{"year": Y, "counties": [{"region_code", "name", "score", "rank", "institutions",
    "indicators": [{"indicator", "value", "unit", "points", "max_points", "reason"}]}],
    "city": {...}}`` (the city with the same keys, its rank null), counties by rank.
    """
    def unit(row: dict) -> dict[str, Any]:
        p = points[points["region_code"] == row["region_code"]]
        return {
            "region_code": row["region_code"], "name": row["name"],
            "score": _plain(row["score"]),
            "rank": None if row["is_city"] else int(row["rank"]),
            "institutions": int(row["institutions"]),
            "indicators": [{k: _plain(r[k]) for k in ("indicator", "value", "unit", "points",
                                                      "max_points", "reason")}
                           for r in p.to_dict("records")],
        }
    records = scores.to_dict("records")
    counties = sorted((r for r in records if not r["is_city"]),
                      key=lambda r: (r["rank"], r["region_code"]))
    city = next(r for r in records if r["is_city"])
    return {"year": year, "counties": [unit(r) for r in counties], "city": unit(city)}


@dataclass
class Evaluation:
    """A year's county evaluation: the county table, scores and each indicator's points."""

    year: int
    #: :func:`county_table` (counties, then the city).
    counties: pd.DataFrame
    #: :func:`county_scores`' scores.
    scores: pd.DataFrame
    #: :func:`county_scores`' points (one row per county × indicator).
    points: pd.DataFrame

    def json(self) -> dict[str, Any]:
        """:func:`evaluation_json`."""
        return evaluation_json(self.year, self.scores, self.points)


def evaluate(account: Any, targets: pd.DataFrame, scoring: pd.DataFrame, min_coverage: float,
             base_year: int = 2020, city_code: str = "", city_name: str = "") -> Evaluation:
    """Evaluate a year's account (``accounting.annual.compute_account``: its ``bureau`` part
    gives the institutions ledger, the base-year and last year's figures and the fleet)."""
    bureau = account.bureau
    institutions = bureau.institutions if bureau is not None else pd.DataFrame(
        columns=["institution_id", "region_code", "region_name"])
    counties = county_table(
        account.figures, institutions, account.year, min_coverage, targets,
        base_figures=bureau.base_figures if bureau is not None else None,
        previous_figures=bureau.previous_figures if bureau is not None else None,
        verdicts=account.verdicts, vehicles=bureau.vehicles if bureau is not None else None,
        base_year=base_year, city_code=city_code, city_name=city_name)
    scores, points = county_scores(counties, scoring)
    return Evaluation(account.year, counties, scores, points)


def evaluate_account(account: Any, settings: Any) -> Evaluation:
    """:func:`evaluate` with the deployment's scoring table, targets, base year and site.

    ``settings`` is an ``AccountingConfig``. The city is the site (``[site] region_code`` and
    name).

    Raises
    ------
    accounting.errors.ReferenceDataError
        For a bad scoring table or reference data.
    """
    reference = load_reference(settings.accounting, settings.base_dir)
    scoring = load_scoring_table(settings.accounting.factor_set, reference_dirs(settings))
    base_year = VerdictRules.from_reference(reference).fyp14_base_year
    return evaluate(account, reference.targets(), scoring, settings.accounting.min_coverage,
                    base_year, city_code=str(settings.site.region_code or ""),
                    city_name=str(settings.site.name or ""))


def evaluation_table(evaluation: Evaluation) -> str:
    """The league as text: rank, code, name, institutions, score, then each indicator's points."""
    lines = [f"区县绩效评价 {evaluation.year}"]
    data = evaluation.json()
    for unit in [*data["counties"], data["city"]]:
        rank = "city" if unit["rank"] is None else f"#{unit['rank']}"
        lines.append(f"{rank:>5}  {unit['region_code']}  {unit['name']}  "
                     f"{unit['institutions']} institution(s)  score {unit['score']:.1f}")
        for i in unit["indicators"]:
            value = "—" if i["value"] is None else f"{i['value']:.4g}"
            lines.append(f"         {i['indicator']:<32} {value:>9} {i['unit'] or '':<7} "
                         f"{i['points']:5.1f}/{i['max_points']:g}  {i['reason']}")
    return "\n".join(lines)
