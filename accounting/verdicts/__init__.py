"""Verdicts on an institution's year: quotas, 十四五 targets, peers, certification, auditor checks.

Every verdict is one row of a frame with the same core columns:

``institution_id, kind, subject, status, value, unit, coverage, reason, missing, source``

plus the figures it rests on (``guide``, ``baseline``, ``constraint``; ``base_value``,
``path_change``; ``peer_average``, ``ratio``, ``score``, ``rank``, ...). ``status`` is ``unknown``
when a figure is missing or its coverage is below ``min_coverage``, and ``missing`` names what is
missing: a verdict never passes silently.

One module per kind, each with the published rule it applies:

``quota``
    能耗定额: 引导值 / 基准值 / 约束值 of the configured quota tables (DB37/T 2672-2019 and its
    series, GB/T 51161-2016).
``fyp14``
    十四五: change against the institution's own base-year value and the straight-line path to
    the 2025 target (《"十四五"公共机构节约能源资源工作规划》, 国管节能〔2021〕195号).
``peers``
    rank within category × level × climate zone and the 示范单位 score against the peer average
    (节约型公共机构示范单位 evaluation standard).
``certification``
    readiness for 节约型机关, 示范单位 and 能效领跑者, from the other kinds' verdicts.
``audit``
    the statistics checks a provincial auditor runs (《公共机构能源资源消费统计调查制度》).

and the shared parts: ``figures`` (the figures every kind reads, the core columns, the frame),
``rules`` (the numbers the rules apply, reference data from ``verdict_rules.csv``), ``combine``
(:func:`judge_year`: every kind of a year in one frame) and ``explain`` (the sentence of a
verdict).

The judging is vectorised (a province has tens of thousands of institutions); the sentence that
explains a verdict is written from its figures only when it is shown: :func:`explain` fills the
``reason`` column of the rows asked for, and :func:`verdict_records` (JSON) calls it. Each kind
is judged as plain columns (one block of rows per indicator, institutions in the figures' order)
and :func:`judge_year` puts every kind into one frame once; its text columns are categoricals
(``accounting.verdict_table``), its numbers plain floats.
"""

from accounting.verdicts.audit import audit_verdicts
from accounting.verdicts.certification import (
    LEADER_INDICATOR,
    ORGAN_ITEMS,
    certification_verdicts,
)
from accounting.verdicts.combine import combine_verdicts, judge_year
from accounting.verdicts.explain import explain, verdict_records
from accounting.verdicts.figures import VERDICT_COLUMNS
from accounting.verdicts.fyp14 import FYP14_INDICATORS, fyp14_verdicts
from accounting.verdicts.peers import PEER_INDICATORS, peer_verdicts, score_for_ratio
from accounting.verdicts.quota import QUOTA_INDICATORS, quota_verdicts
from accounting.verdicts.rules import (
    AUDIT_CHANGE_LIMIT,
    DEFAULT_RULES,
    FYP14_BASE_YEAR,
    MIN_PEERS,
    MIN_PRICE_PEERS,
    PRICE_RATIO_LIMITS,
    SCORE_BANDS,
    SCORE_MAX,
    VerdictRules,
)

__all__ = [
    "AUDIT_CHANGE_LIMIT",
    "DEFAULT_RULES",
    "FYP14_BASE_YEAR",
    "FYP14_INDICATORS",
    "LEADER_INDICATOR",
    "MIN_PEERS",
    "MIN_PRICE_PEERS",
    "ORGAN_ITEMS",
    "PEER_INDICATORS",
    "PRICE_RATIO_LIMITS",
    "QUOTA_INDICATORS",
    "SCORE_BANDS",
    "SCORE_MAX",
    "VERDICT_COLUMNS",
    "VerdictRules",
    "audit_verdicts",
    "certification_verdicts",
    "combine_verdicts",
    "explain",
    "fyp14_verdicts",
    "judge_year",
    "peer_verdicts",
    "quota_verdicts",
    "score_for_ratio",
    "verdict_records",
]
