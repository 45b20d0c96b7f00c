"""The numbers the verdicts apply: 示范单位 score bands, the 十四五 base year, peer and audit limits.

They are reference data, not code: the rows of ``verdict_rules.csv`` in
``accounting/reference/<set>/``, each with its source and confidence tag, read by
:meth:`accounting.reference_data.ReferenceData.verdict_rules` and replaced row by row from a
deployer's ``[accounting] reference_dirs`` like every other reference file. :class:`VerdictRules`
is those rows checked and typed; :data:`DEFAULT_RULES` are the shipped ones, which every verdict
function applies when it is not given a deployment's.

Rows (``rule``):

``score_band_<n>_ratio``, ``score_band_<n>_points``
    示范单位 score of an energy or water item: ``points`` when value ÷ the same-type average is at
    most ``ratio``, the first band that fits; above the last band the item scores 0. Bands 0.9 →
    7, 1.0 → 6, 1.1 → 5, 1.2 → 4 (节约型公共机构示范单位 evaluation standard, 12th-FYP version,
    国家发展改革委 / 财政部 / 国管局).
``fyp14_base_year``
    The year the 十四五 targets are changes against: 2020 (《"十四五"公共机构节约能源资源工作规划》,
    国管节能〔2021〕195号).
``min_peers``
    Members with a known figure a peer group needs for its own average (project choice: 3).
``audit_change_limit``
    Year-on-year change of floor area or occupants that an auditor asks about: 0.10 (the
    statistics checks of 《公共机构能源资源消费统计调查制度》 as a provincial office applies them,
    哈密市 2023).
``price_ratio_low``, ``price_ratio_high``
    A bill's unit price outside [low, high] × the median of its carrier and unit is flagged
    (project choice: 0.5, 2.0).
``min_price_peers``
    Bills of a carrier and unit needed before unit prices are compared (project choice: 3).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import pandas as pd

from accounting.errors import ReferenceDataError
from accounting.reference_data import read_verdict_rules

__all__ = [
    "AUDIT_CHANGE_LIMIT",
    "DEFAULT_RULES",
    "FYP14_BASE_YEAR",
    "MIN_PEERS",
    "MIN_PRICE_PEERS",
    "PRICE_RATIO_LIMITS",
    "SCORE_BANDS",
    "SCORE_MAX",
    "VerdictRules",
]

_BAND = re.compile(r"score_band_(\d+)_(ratio|points)")
_SCALARS = ("fyp14_base_year", "min_peers", "audit_change_limit", "price_ratio_low",
            "price_ratio_high", "min_price_peers")


@dataclass(frozen=True)
class VerdictRules:
    """The rules of ``verdict_rules.csv``, checked and typed.

    Attributes
    ----------
    score_bands
        示范单位 bands: (upper limit of value ÷ peer average, points), limits rising; above the
        last limit an item scores 0.
    fyp14_base_year
        The 十四五 plan's base year.
    min_peers
        Peers needed for a computed peer average (fewer: the published average, else unknown).
    audit_change_limit
        Year-on-year change of floor area or occupants that is flagged. [fraction]
    price_ratio_limits
        (low, high): a bill's unit price outside them × the median of its carrier is flagged.
    min_price_peers
        Bills of a carrier and unit needed before unit prices are compared.
    """

    score_bands: tuple[tuple[float, int], ...]
    fyp14_base_year: int
    min_peers: int
    audit_change_limit: float
    price_ratio_limits: tuple[float, float]
    min_price_peers: int

    @property
    def score_max(self) -> int:
        """An item's full 示范单位 points: those of the first band."""
        return max(points for _, points in self.score_bands)

    @classmethod
    def from_reference(cls, reference: Any) -> VerdictRules:
        """The rules of a deployment's ``ReferenceData``."""
        return cls.from_table(reference.verdict_rules())

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> VerdictRules:
        """The rules from the rows of ``verdict_rules.csv`` (columns rule and value at least).

        Raises
        ------
        ReferenceDataError
            For a missing or unknown rule, a band without its ratio or points, bands whose
            limits do not rise, or a value out of range; the message names the rule.
        """
        values = {str(r): float(v) for r, v in zip(table["rule"], table["value"], strict=True)}
        problems: list[str] = []
        bands: dict[int, dict[str, float]] = {}
        for rule, value in values.items():
            band = _BAND.fullmatch(rule)
            if band:
                bands.setdefault(int(band[1]), {})[band[2]] = value
            elif rule not in _SCALARS:
                problems.append(f"unknown rule {rule!r}; expected score_band_<n>_ratio, "
                                f"score_band_<n>_points or one of {', '.join(_SCALARS)}")
        problems += [f"rule {rule!r} missing" for rule in _SCALARS if rule not in values]
        for n, band in sorted(bands.items()):
            problems += [f"rule 'score_band_{n}_{part}' missing (band {n} has its "
                         f"{'points' if part == 'ratio' else 'ratio'})"
                         for part in ("ratio", "points") if part not in band]
        if not bands:
            problems.append("no 示范单位 score band (rules score_band_<n>_ratio / _points)")
        if problems:
            raise ReferenceDataError("verdict_rules.csv: " + "; ".join(problems))
        score_bands = tuple((band["ratio"], _whole(f"score_band_{n}_points", band["points"], 1))
                            for n, band in sorted(bands.items()))
        limits = [limit for limit, _ in score_bands]
        if any(b <= a for a, b in pairwise(limits)) or limits[0] <= 0:
            raise ReferenceDataError(
                f"verdict_rules.csv: score band ratios {limits} must be positive and rise "
                "band after band")
        low, high = values["price_ratio_low"], values["price_ratio_high"]
        if not 0 < low < 1 < high:
            raise ReferenceDataError(
                f"verdict_rules.csv: price_ratio_low {low:g} and price_ratio_high {high:g}: "
                "expected 0 < low < 1 < high")
        change = values["audit_change_limit"]
        if not change > 0:
            raise ReferenceDataError(
                f"verdict_rules.csv: audit_change_limit {change:g}: expected a positive fraction")
        return cls(
            score_bands=score_bands,
            fyp14_base_year=_whole("fyp14_base_year", values["fyp14_base_year"], 1900),
            min_peers=_whole("min_peers", values["min_peers"], 1),
            audit_change_limit=change,
            price_ratio_limits=(low, high),
            min_price_peers=_whole("min_price_peers", values["min_price_peers"], 1),
        )


def _whole(rule: str, value: float, at_least: int) -> int:
    """A rule's value that must be a whole number (at least ``at_least``)."""
    if not (math.isfinite(value) and value == int(value) and value >= at_least):
        raise ReferenceDataError(
            f"verdict_rules.csv: {rule} = {value:g}: expected a whole number ≥ {at_least}")
    return int(value)


#: The shipped rules (``accounting/reference/default/verdict_rules.csv``).
DEFAULT_RULES = VerdictRules.from_table(read_verdict_rules())

#: 示范单位 score bands: (upper limit of value ÷ peer average, points); above the last limit: 0.
SCORE_BANDS = DEFAULT_RULES.score_bands
#: An item's full 示范单位 points.
SCORE_MAX = DEFAULT_RULES.score_max
#: The 十四五 plan's base year.
FYP14_BASE_YEAR = DEFAULT_RULES.fyp14_base_year
#: Peers needed for a computed peer average (fewer: the published average, else unknown).
MIN_PEERS = DEFAULT_RULES.min_peers
#: Year-on-year change of floor area or occupants that an auditor asks about.
AUDIT_CHANGE_LIMIT = DEFAULT_RULES.audit_change_limit
#: A bill's unit price outside [low, high] × the median of its carrier and unit is flagged.
PRICE_RATIO_LIMITS = DEFAULT_RULES.price_ratio_limits
#: Bills of a carrier and unit needed before unit prices are compared.
MIN_PRICE_PEERS = DEFAULT_RULES.min_price_peers
