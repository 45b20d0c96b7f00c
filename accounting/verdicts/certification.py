"""Certification verdicts: readiness for 节约型机关, 节约型公共机构示范单位 and 能效领跑者.

Judged from the other kinds' verdicts of the year, one row per institution and scheme:

``conservation_organ`` (节约型机关)
    created by Party and government bodies (category ``government``); its 【必须完成项】 is
    meeting the energy and water targets, read here as the 十四五 verdicts of 单位建筑面积能耗,
    人均综合能耗 and 人均用水量 (``ready`` when none is off track and none unknown).
``demonstration_unit`` (示范单位)
    no ★ energy or water item may score 0: the peer verdicts' scores.
``efficiency_leader`` (能效领跑者)
    first in its peer group (at least ``min_peers`` members) on energy per m² excluding
    official vehicles, and at or below 引导值 on every judged quota indicator. No published
    selection rule was found: this reading is the project's.

References
----------
《节约型机关创建行动方案》 (国家发展改革委 and 国管局, under 《绿色生活创建行动总体方案》), and the
provincial 节约型机关 scoring tables (强化目标管理: 单位建筑面积能耗, 人均综合能耗, 人均水耗).
节约型公共机构示范单位 evaluation standard (12th-FYP version), 国家发展改革委 / 财政部 / 国管局:
pass at 85 points with no ★ item scoring 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdict_table import constant, is_value, select_text, where_text
from accounting.verdicts.figures import Columns, Figures, array, table
from accounting.verdicts.peers import PEER_INDICATORS
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules

__all__ = [
    "CERTIFICATION_EXTRA",
    "LEADER_INDICATOR",
    "ORGAN_ITEMS",
    "certification_parts",
    "certification_verdicts",
]

#: 节约型机关 target items: the 十四五 verdicts of these indicators (强化目标管理).
#: What the certification readings rest on, as an officer cites it (the 能效领跑者 reading is
#: the project's: no published selection rule was found).
CERTIFICATION_PUBLICATION = (
    "国家发展改革委、国管局《节约型机关创建行动方案》(2020); 国家发展改革委、财政部、国管局 "
    "节约型公共机构示范单位评价标准 (“十二五”版); 能效领跑者: project reading (no published "
    "selection rule)")
ORGAN_ITEMS = ("kgce_per_m2", "kgce_per_person", "water_m3_per_person")
#: The indicator a 能效领跑者 must lead its peer group on.
LEADER_INDICATOR = "kgce_per_m2_excl_vehicles"
#: Certification's columns after :data:`VERDICT_COLUMNS`.
CERTIFICATION_EXTRA = ["score", *(f"fyp14:{i}" for i in ORGAN_ITEMS),
                       *(f"score:{i}" for i in PEER_INDICATORS), "rank", "peers", "judged",
                       "above_guide"]


def certification_verdicts(
    figures: pd.DataFrame,
    fyp14: pd.DataFrame,
    peers: pd.DataFrame,
    quota: pd.DataFrame,
    rules: VerdictRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """Readiness for 节约型机关, 示范单位 (energy and water indicators) and 能效领跑者.

    ``fyp14``, ``peers`` and ``quota`` are the year's verdicts of those kinds; ``rules``
    (:class:`~accounting.verdicts.rules.VerdictRules`) give the peers a leader needs.

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus what each rests on: ``fyp14:<item>`` (节约型机关 items'
        十四五 status), ``score:<item>`` and score (示范单位 points), rank, peers, judged and
        above_guide (能效领跑者). Subjects ``conservation_organ`` (节约型机关: ready / not_ready
        / not_applicable / unknown), ``demonstration_unit`` (示范单位: ready / not_ready /
        unknown) and ``efficiency_leader`` (能效领跑者: candidate / not_candidate / unknown).
    """
    return table(certification_parts(Figures(figures), fyp14, peers, quota, rules),
                 CERTIFICATION_EXTRA)


def certification_parts(f: Figures, fyp14: Any, peers: Any, quota: Any,
                        rules: VerdictRules) -> list[Columns]:
    """:func:`certification_verdicts` from the other kinds' verdicts (frames or columns)."""
    n = f.n
    government = is_value(f.frame["category"], "government")

    # 节约型机关: Party and government bodies meeting the energy and water target items.
    items = {}
    fyp_position = f.positions(fyp14["institution_id"])
    for item in ORGAN_ITEMS:
        status = _of_subject(fyp14, item, "status", fyp_position, n)
        items[f"fyp14:{item}"] = where_text(pd.isna(status), "unknown", status)
    off = np.logical_or.reduce([is_value(s, "off_track") for s in items.values()])
    unknown = np.logical_or.reduce([is_value(s, "unknown") for s in items.values()])
    organ = {
        "status": select_text([~government, off, unknown],
                              ["not_applicable", "not_ready", "unknown"], "ready"),
        "missing": where_text(government & ~off & unknown,
                              "十四五 verdicts of the target items (see fyp14)", ""),
        **items,
    }

    # 示范单位: no scored energy/water item may score 0 (★ items).
    peer_position = f.positions(peers["institution_id"])
    scored = {f"score:{i}": _of_subject(peers, i, "score", peer_position, n)
              for i in PEER_INDICATORS}
    scores = np.column_stack(list(scored.values())) if scored else np.zeros((n, 0))
    zero = (scores == 0).any(axis=1)
    unscored = np.isnan(scores).any(axis=1)
    demo = {
        "status": select_text([zero, unscored], ["not_ready", "unknown"], "ready"),
        "missing": where_text(~zero & unscored, "peer scores (see peers)", ""),
        "score": np.nansum(scores, axis=1), **scored,
    }

    # 能效领跑者: first in its peer group and at or below 引导值 on every judged indicator.
    rank = _of_subject(peers, LEADER_INDICATOR, "rank", peer_position, n)
    n_peers = np.nan_to_num(_of_subject(peers, LEADER_INDICATOR, "peers", peer_position,
                                        n)).astype(int)
    position = f.positions(quota["institution_id"])  # -1: not in figures
    known = ~is_value(quota["status"], "unknown")
    judged = _count(position, known, n)
    above = _count(position, known & ~is_value(quota["status"], "below_guide"), n)
    behind = (rank > 1) | (above > 0)
    no_rank = np.isnan(rank) | (n_peers < rules.min_peers)
    leader = {
        "status": select_text([behind, no_rank | (judged == 0)],
                              ["not_candidate", "unknown"], "candidate"),
        "missing": select_text(
            [behind, no_rank & (judged == 0), no_rank, judged == 0],
            ["", f"a peer group of at least {rules.min_peers} with a known {LEADER_INDICATOR}; a "
             "judged quota indicator",
             f"a peer group of at least {rules.min_peers} with a known {LEADER_INDICATOR}",
             "a judged quota indicator"], ""),
        "rank": rank, "peers": n_peers, "judged": judged, "above_guide": above,
    }

    institution_id = f.institutions()
    parts = []
    for subject, columns in (("conservation_organ", organ), ("demonstration_unit", demo),
                             ("efficiency_leader", leader)):
        parts.append({
            "institution_id": institution_id, "kind": constant("certification", n),
            "subject": constant(subject, n), "status": columns.pop("status"),
            "value": np.full(n, np.nan), "unit": constant("", n), "coverage": np.full(n, np.nan),
            "reason": constant("", n), "missing": columns.pop("missing"),
            "source": constant(CERTIFICATION_PUBLICATION, n), **columns,
        })
    return parts


def _count(position: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """How many ``rows`` (a mask) each position 0 … size − 1 has; position −1 is nobody's."""
    return np.bincount(position[rows & (position >= 0)], minlength=size)


def _of_subject(verdicts: Any, subject: str, column: str, position: np.ndarray, n: int) -> Any:
    """``verdicts[column]`` of one subject per institution (``position``: of each verdict row
    in the institutions, :meth:`Figures.positions`), missing where absent: a categorical for a text
    column, else a float array of length ``n``."""
    rows = np.flatnonzero(is_value(verdicts["subject"], subject))
    values = array(verdicts[column])[rows]
    at = position[rows]
    aligned = len(at) == n and bool((at == np.arange(n)).all())  # same institutions, same order
    if not aligned:
        where = np.full(n, -1)
        keep = at >= 0
        where[at[keep]] = np.flatnonzero(keep)
    if isinstance(values, pd.Categorical):
        return values if aligned else values.take(where, allow_fill=True)
    values = np.asarray(values, dtype=float)
    if aligned:
        return values
    return np.where(where >= 0, values[np.maximum(where, 0)], np.nan) if len(values) else (
        np.full(n, np.nan))

