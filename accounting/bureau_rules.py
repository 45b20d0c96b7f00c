"""The bureau's rules as reference data: the statistical boundary, apportionment, vehicle checks,
and the county scoring table.

Two files of ``accounting/reference/<set>/``, replaced row by row from a deployer's
``[accounting] reference_dirs`` like the other reference files:

``bureau_rules.csv`` (rule, value, unit, source, confidence, note)
    ``outside_boundary:<use>`` (1: space of that use is outside the statistical boundary;
    leased_out and residential are, after the 国管局 article on the accounting boundary),
    ``apportion_default_rule`` (area), ``vehicle_l_per_100km_ratio_limit`` (1.5),
    ``vehicle_fill_tank_ratio_limit`` (1.0), ``vehicle_min_type_peers`` (3). Rows tagged ``U``
    are project defaults: no published rule was found.
``evaluation_scoring.csv`` (indicator, weight, rule, target, unit, source, confidence, note)
    The county performance evaluation's (绩效评价) scoring table. The shipped one is tagged
    ``example``: the bureau replaces it with its own (:mod:`accounting.evaluation`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from accounting.errors import ReferenceDataError

__all__ = ["BUREAU_RULE_FILE", "SCORING_FILE", "SCORING_RULES", "BureauRules", "check_scoring_table",
           "load_bureau_rules", "load_scoring_table", "reference_dirs"]

BUREAU_RULE_FILE = "bureau_rules.csv"
SCORING_FILE = "evaluation_scoring.csv"
#: How an indicator's value becomes points (see :func:`accounting.evaluation.indicator_points`).
SCORING_RULES = ("share", "path", "decrease")
_REFERENCE = Path(__file__).resolve().parent / "reference"
_BUILDING_USES = ("office", "leased_out", "residential", "commercial", "other")


@dataclass(frozen=True)
class BureauRules:
    """``bureau_rules.csv`` checked and typed.

    Attributes
    ----------
    outside_uses
        Building uses outside the statistical boundary (default: leased_out, residential).
    apportion_default_rule
        Rule for a compound and carrier without apportionment rows (default: area).
    l_per_100km_ratio_limit
        A vehicle above this × its type's fleet median L/100 km is flagged. [ratio]
    fill_tank_ratio_limit
        A fill above this × the tank is flagged. [ratio]
    min_type_peers
        Vehicles of a type with a known L/100 km needed for its median.
    sources
        rule → "source (confidence)".
    """

    outside_uses: frozenset[str] = frozenset({"leased_out", "residential"})
    apportion_default_rule: str = "area"
    l_per_100km_ratio_limit: float = 1.5
    fill_tank_ratio_limit: float = 1.0
    min_type_peers: int = 3
    sources: tuple[tuple[str, str], ...] = ()

    def source(self, rule: str) -> str:
        """Where the rule ``rule`` comes from, with its confidence tag."""
        return dict(self.sources).get(rule, "project default (U)")


def reference_dirs(settings: Any) -> list[Path]:
    """``[accounting] reference_dirs`` of an ``AccountingConfig``, relative ones resolved against
    the settings file's folder."""
    base = Path(settings.base_dir) if settings.base_dir is not None else Path.cwd()
    return [d if Path(d).is_absolute() else (base / d).resolve()
            for d in settings.accounting.reference_dirs]


def _folders(set_name: str, extra: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    return [_REFERENCE / set_name, *extra]


def _read(folders: list[Path], name: str, key: str) -> pd.DataFrame:
    frames = []
    for folder in folders:
        path = Path(folder) / name
        if path.is_file():
            try:
                frames.append(pd.read_csv(path, dtype=str, keep_default_na=False,
                                          encoding="utf-8-sig"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ReferenceDataError(f"{path}: cannot be read as CSV ({exc})") from exc
    if not frames:
        raise ReferenceDataError(f"no {name} in {', '.join(map(str, folders))}")
    merged = pd.concat(frames, ignore_index=True)
    if "publication" in merged.columns:  # what an officer cites; a deployer's file may say source
        merged["source"] = merged["publication"]
    if key not in merged.columns:
        raise ReferenceDataError(f"{name}: no column {key!r}; expected one row per {key}")
    return merged.drop_duplicates(subset=[key], keep="last").reset_index(drop=True)


def load_bureau_rules(set_name: str = "default",
                      extra_dirs: list[Path] | tuple[Path, ...] = ()) -> BureauRules:
    """``bureau_rules.csv`` of the reference set, rows replaced from ``extra_dirs``.

    Raises
    ------
    ReferenceDataError
        For a missing file, an unknown building use or a value that is not a number.
    """
    rows = _read(_folders(set_name, extra_dirs), BUREAU_RULE_FILE, "rule")
    values = dict(zip(rows["rule"], rows["value"], strict=True))
    sources = tuple((r["rule"], f"{r.get('source', '')} ({r.get('confidence', '')})")
                    for r in rows.to_dict("records"))
    outside = set()
    for rule, value in values.items():
        if rule.startswith("outside_boundary:"):
            use = rule.split(":", 1)[1]
            if use not in _BUILDING_USES:
                raise ReferenceDataError(
                    f"{BUREAU_RULE_FILE}: rule {rule!r}: unknown building use {use!r}; expected "
                    f"one of {', '.join(_BUILDING_USES)}")
            if str(value).strip() not in ("0", "1"):
                raise ReferenceDataError(f"{BUREAU_RULE_FILE}: rule {rule!r}: value {value!r}; "
                                         "expected 1 (outside) or 0 (inside)")
            if str(value).strip() == "1":
                outside.add(use)
    default_rule = values.get("apportion_default_rule", "area")
    if default_rule not in ("area", "occupants"):
        raise ReferenceDataError(f"{BUREAU_RULE_FILE}: apportion_default_rule {default_rule!r}; "
                                 "expected area or occupants")

    def number(rule: str, fallback: float) -> float:
        try:
            return float(values.get(rule, fallback))
        except ValueError as exc:
            raise ReferenceDataError(f"{BUREAU_RULE_FILE}: rule {rule!r}: value "
                                     f"{values[rule]!r}; expected a number") from exc

    return BureauRules(
        outside_uses=frozenset(outside), apportion_default_rule=default_rule,
        l_per_100km_ratio_limit=number("vehicle_l_per_100km_ratio_limit", 1.5),
        fill_tank_ratio_limit=number("vehicle_fill_tank_ratio_limit", 1.0),
        min_type_peers=int(number("vehicle_min_type_peers", 3)), sources=sources)


def load_scoring_table(set_name: str = "default",
                       extra_dirs: list[Path] | tuple[Path, ...] = ()) -> pd.DataFrame:
    """The scoring table: indicator, weight [points], rule, target, unit, source, confidence.

    Raises
    ------
    ReferenceDataError
        For an unknown rule, a weight that is not a positive number, or a ``share`` /
        ``decrease`` rule without a positive target.
    """
    table = _read(_folders(set_name, extra_dirs), SCORING_FILE, "indicator")
    return check_scoring_table(table)


def check_scoring_table(table: pd.DataFrame) -> pd.DataFrame:
    """A scoring table checked and typed (weight and target as floats)."""
    out = table.copy()
    problems = []
    for row in out.to_dict("records"):
        what = f"{SCORING_FILE}, indicator {row['indicator']!r}"
        if row["rule"] not in SCORING_RULES:
            problems.append(f"{what}: rule {row['rule']!r}; expected one of {SCORING_RULES}")
        try:
            weight = float(row["weight"])
            if not weight > 0:
                raise ValueError
        except ValueError:
            problems.append(f"{what}: weight {row['weight']!r}; expected a number > 0")
        if row["rule"] in ("share", "decrease"):
            try:
                if not float(row.get("target") or "nan") > 0:
                    raise ValueError
            except ValueError:
                problems.append(f"{what}: target {row.get('target')!r}; expected a number > 0")
    if problems:
        raise ReferenceDataError("; ".join(problems))
    out["weight"] = out["weight"].astype(float)
    out["target"] = pd.to_numeric(out.get("target"), errors="coerce")
    return out
