"""Peer verdicts: rank within the peer group and the 示范单位 score against the peer average.

A peer group is category × level × climate zone; its members are the institutions whose figure is
known and whose coverage reaches ``min_coverage``. For each 示范单位 energy and water item (energy
per m² excluding official vehicles, energy per person, water per person) an institution gets its
rank, its percentile and the points of the score band its value ÷ the peer average falls in
(``score_band_<n>`` of the verdict rules: ≤ 0.9 → 7, ≤ 1.0 → 6, ≤ 1.1 → 5, ≤ 1.2 → 4, else 0).
A group with fewer than ``min_peers`` members is scored against the latest published same-type
average of the province (``peer_averages.csv``), else ``unknown``.

References
----------
节约型公共机构示范单位 evaluation standard (12th-FYP version), 国家发展改革委 / 财政部 / 国管局:
能源资源消耗指标 scored against the provincial same-type average of the previous year.
Published same-type averages, e.g. 广东省能源局, 2021 averages published 2023-01-03.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdict_table import blocks, constant, select_text, where_text
from accounting.verdicts.figures import COVERAGE_MISSING, Columns, Figures, table
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules

__all__ = ["PEER_EXTRA", "PEER_INDICATORS", "peer_parts", "peer_verdicts", "score_for_ratio"]

#: 示范单位 indicators scored against the peer average: figure column → (coverage, denominator,
#: unit, the published-average column in peer_averages.csv).
PEER_INDICATORS: dict[str, tuple[str, str, str, str]] = {
    "kgce_per_m2_excl_vehicles": (
        "energy_coverage", "floor_area_m2", "kgce/m2", "kgce_per_m2"),
    "kgce_per_person": ("energy_coverage", "occupants", "kgce/person", "kgce_per_person"),
    "water_m3_per_person": (
        "water_coverage", "occupants", "m3/person", "water_m3_per_person"),
}

#: Peer verdicts' columns after :data:`VERDICT_COLUMNS`: the figures they rest on.
PEER_EXTRA = ["rank", "peers", "percentile", "peer_average", "ratio", "score", "average_source",
              "category", "level", "climate_zone", "min_coverage"]


def score_for_ratio(ratio: float, rules: VerdictRules = DEFAULT_RULES) -> int:
    """示范单位 points for value ÷ peer average (``rules.score_bands``); NaN is not allowed."""
    for limit, points in rules.score_bands:
        if ratio <= limit:
            return points
    return 0


def peer_verdicts(
    figures: pd.DataFrame,
    min_coverage: float,
    published: pd.DataFrame | None = None,
    year: int | None = None,
    rules: VerdictRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Rank, percentile and 示范单位 score within category × level × climate zone.

    Only institutions whose figure is known and whose coverage reaches ``min_coverage`` are
    peers. The peer average is the mean of the group (the institution included). A group with
    fewer than ``rules.min_peers`` such members is scored against the latest published same-type
    average of its province (``published``: ``ReferenceData.peer_averages()``) up to ``year``,
    else ``unknown``. ``rules`` (:class:`~accounting.verdicts.rules.VerdictRules`) give the
    score bands and the peers needed.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus rank (1 = lowest), peers (group members with a known
        value), percentile (share of the group at or below the value, %), peer_average, ratio,
        score, average_source, category, level, climate_zone, min_coverage. status
        ``score_N`` or ``unknown``.
    """
    return table(peer_parts(Figures(figures), min_coverage, published, year, rules), PEER_EXTRA)


def peer_parts(f: Figures, min_coverage: float, published: pd.DataFrame | None,
               year: int | None, rules: VerdictRules) -> list[Columns]:
    """:func:`peer_verdicts` as columns."""
    group_keys = ["category", "level", "climate_zone"]
    group, _ = f.distinct_rows(group_keys)  # one code per peer group
    # One long table, indicator by indicator: a peer group is indicator × category × level ×
    # climate zone, so every group statistic is one pass over integer codes.
    indicators = list(PEER_INDICATORS)
    n, k = f.n, len(indicators)
    which = np.repeat(np.arange(k), n)  # the indicator of each row
    value = f.numbers(indicators)
    coverage = f.numbers([PEER_INDICATORS[i][0] for i in indicators])
    known = ~np.isnan(value) & (coverage >= min_coverage)
    n_groups = group.max(initial=-1) + 1
    peer_group = which * n_groups + np.tile(group, k)
    size = np.bincount(peer_group[known], minlength=n_groups * k)
    peers = np.where(known, size[peer_group], 0)
    rank, percentile = np.full(n * k, np.nan), np.full(n * k, np.nan)
    lowest, highest = _ranks(peer_group[known], value[known])
    rank[known] = lowest
    percentile[known] = 100.0 * highest / size[peer_group[known]]
    total = np.bincount(peer_group[known], weights=value[known], minlength=n_groups * k)
    with np.errstate(invalid="ignore", divide="ignore"):
        group_mean = total / size
    enough = peers >= rules.min_peers
    peer_average = np.where(known & enough, group_mean[peer_group], np.nan)
    published_source: Any = ""
    small = known & ~enough
    if published is not None and small.any():
        published_source = np.full(n * k, "", dtype=object)
        keys = pd.DataFrame({c: f.text_codes(c)[1][f.text_codes(c)[0]]
                             for c in ("province", "category", "level")})
        for j, indicator in enumerate(indicators):  # each has its own published column
            rows = small & (which == j)
            if rows.any():
                average, source = _published_average(
                    keys.iloc[np.flatnonzero(rows) - j * n], published,
                    PEER_INDICATORS[indicator][3], year)
                peer_average[rows] = average
                published_source[rows] = source
    ratio = value / peer_average
    score = np.where(known & ~np.isnan(ratio), _score_points(ratio, rules.score_bands), np.nan)
    bands = [*(p for _, p in rules.score_bands), 0]
    figure_missing = f.missing_figures([(i, PEER_INDICATORS[i][1]) for i in indicators])
    return [{
        "institution_id": f.institutions(k),
        "kind": constant("peers", n * k),
        "subject": blocks(indicators, which),
        "status": select_text([score == points for points in bands],
                              [f"score_{points}" for points in bands], "unknown"),
        "value": value,
        "unit": blocks([PEER_INDICATORS[i][2] for i in indicators], which),
        "coverage": coverage,
        "reason": constant("", n * k),
        "missing": select_text(
            [np.isnan(value), ~known, np.isnan(score)],
            [figure_missing, COVERAGE_MISSING,
             f"at least {rules.min_peers} peers or a published same-type average"],
            default=""),
        "source": where_text(
            ~np.isnan(score), "score bands: 国家发展改革委、财政部、国管局 节约型公共机构示范单位评价标准 "
            "(“十二五”版) [confidence S]", ""),
        "rank": rank, "peers": peers, "percentile": percentile,
        "peer_average": peer_average, "ratio": ratio, "score": score,
        "average_source": where_text(enough, "peer group mean", published_source),
        **{key: f.tiled_text(key, k) for key in group_keys},
        "min_coverage": np.full(n * k, float(min_coverage)),
    }]


def _ranks(group: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Within each group, the rank of each value counting ties low (1 = the lowest, ties share
    the first rank) and counting ties high (ties share the last rank)."""
    order = np.lexsort((value, group))
    g, v = group[order], value[order]
    new_group = np.r_[True, g[1:] != g[:-1]]
    new_value = new_group | np.r_[True, v[1:] != v[:-1]]
    position = np.arange(len(g))
    group_start = np.maximum.accumulate(np.where(new_group, position, 0))
    tie_start = np.maximum.accumulate(np.where(new_value, position, 0))
    tie_end = np.empty(len(g), dtype=np.int64)  # last position of each row's ties
    ends = np.r_[np.flatnonzero(new_value)[1:] - 1, len(g) - 1] if len(g) else np.zeros(0, int)
    tie_end[:] = np.repeat(ends, np.diff(np.r_[np.flatnonzero(new_value), len(g)]))
    lowest, highest = np.empty(len(g)), np.empty(len(g))
    lowest[order] = tie_start - group_start + 1
    highest[order] = tie_end - group_start + 1
    return lowest, highest


def _score_points(ratio: np.ndarray, bands: tuple[tuple[float, int], ...]) -> np.ndarray:
    """示范单位 points of each value ÷ peer average (``bands``: the verdict rules')."""
    with np.errstate(invalid="ignore"):
        return np.select([ratio <= limit for limit, _ in bands],
                         [points for _, points in bands], default=0).astype(float)


def _published_average(
    rows: pd.DataFrame, published: pd.DataFrame, column: str, year: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The latest published same-type average (≤ year) of each row's province/category/level;
    a row ``level = any`` fits every level."""
    table = published[published[column].notna()]
    if year is not None:
        table = table[table["year"] <= year]
    table = table.sort_values("year").drop_duplicates(
        ["province", "category", "level"], keep="last")
    table = table.assign(text=lambda t: "published " + t["group"] + " average "
                         + t["year"].astype(str) + ": " + t["source"] + " [confidence "
                         + t["confidence"] + "]")
    keys = rows[["province", "category", "level"]].reset_index(drop=True)
    exact = keys.merge(table, on=["province", "category", "level"], how="left")
    anylevel = keys.merge(table[table["level"].eq("any")].drop(columns="level"),
                          on=["province", "category"], how="left")
    average = exact[column].fillna(anylevel[column])
    # On plain arrays: Series.fillna would turn an all-missing text column into floats (pandas 2).
    found = exact["text"].to_numpy(dtype=object)
    fallback = anylevel["text"].to_numpy(dtype=object)
    label = np.where(pd.notna(found), found, np.where(pd.notna(fallback), fallback, ""))
    return average.to_numpy(dtype=float), label

