"""Every kind of verdict of a year in one frame: :func:`judge_year` and :func:`combine_verdicts`.

:func:`judge_year` judges the quota, 十四五, peer, certification and audit verdicts of a year on
one :class:`~accounting.verdicts.figures.Figures`, with the rules and tables of a deployment's
reference data, and makes one frame of them: the rows of the five kinds' functions, kind after
kind, without a frame of each kind first. It judges nothing itself; the rules are in the kinds'
modules.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.verdicts.audit import audit_parts
from accounting.verdicts.certification import certification_parts
from accounting.verdicts.figures import Columns, Figures, table
from accounting.verdicts.fyp14 import fyp14_parts
from accounting.verdicts.peers import peer_parts
from accounting.verdicts.quota import quota_parts
from accounting.verdicts.rules import VerdictRules

__all__ = ["combine_verdicts", "judge_year"]


def judge_year(
    figures: pd.DataFrame,
    reference: Any,
    year: int,
    min_coverage: float,
    base_figures: pd.DataFrame | None = None,
    previous_figures: pd.DataFrame | None = None,
    bills: pd.DataFrame | None = None,
    equal_value_delta_kgce_per_kwh: float = 0.0,
) -> pd.DataFrame:
    """Every verdict of a year, all kinds in one frame (:func:`combine_verdicts`).

    The same as :func:`~accounting.verdicts.quota_verdicts`,
    :func:`~accounting.verdicts.fyp14_verdicts`, :func:`~accounting.verdicts.peer_verdicts`,
    :func:`~accounting.verdicts.certification_verdicts` and
    :func:`~accounting.verdicts.audit_verdicts` one after another, without making a frame of
    each kind first.

    Parameters
    ----------
    figures
        :func:`accounting.engine.institution_figures` of the year.
    reference
        ``ReferenceData``: quotas, targets, published peer averages and the verdict rules
        (:meth:`~accounting.verdicts.rules.VerdictRules.from_reference`).
    year, min_coverage, equal_value_delta_kgce_per_kwh
        As for the kinds' functions.
    base_figures, previous_figures
        Figures of the 十四五 base year (``fyp14_base_year`` of the rules, 2020) and of
        ``year − 1``; None → those verdicts are
        ``unknown``.
    bills
        The bills ledger, for the unit-price check.
    """
    rules = VerdictRules.from_reference(reference)
    empty = figures.iloc[0:0]
    f = Figures(figures)
    quota = _one(quota_parts(f, reference.quotas(), min_coverage, equal_value_delta_kgce_per_kwh))
    fyp = _one(fyp14_parts(f, base_figures if base_figures is not None else empty,
                           reference.targets(), year, min_coverage, rules))
    peers = _one(peer_parts(f, min_coverage, reference.peer_averages(), year, rules))
    certification = certification_parts(f, fyp, peers, quota, rules)
    audit = audit_parts(f, previous_figures, quota, bills, year, rules)
    return table([quota, fyp, peers, *certification, *audit], [])


def _one(parts: list[Columns]) -> Columns:
    """A kind's single part, or an empty one (no verdicts of that kind)."""
    if parts:
        return parts[0]
    return {"institution_id": np.zeros(0, dtype=object), "subject": np.zeros(0, dtype=object),
            "status": np.zeros(0, dtype=object)}


def combine_verdicts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Every kind's verdict rows in one frame: ``VERDICT_COLUMNS``, then each kind's extra
    columns (missing on the other kinds' rows). Text columns stay categorical."""
    return table([f for f in frames if len(f)], [])

