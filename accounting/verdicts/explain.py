"""The sentence that explains a verdict, written from its figures, and verdicts as JSON records.

Judging is vectorised and leaves ``reason`` empty; a sentence is written only for the rows that
are shown: :func:`explain` fills the ``reason`` column of the rows asked for, and
:func:`verdict_records` (JSON) calls it. The sentence of each kind quotes the figures and the
rule the verdict rests on (the quota band, the 十四五 path, the 示范单位 score band, the audit
limit), so a reader can check it without the code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from accounting.verdicts.certification import LEADER_INDICATOR, ORGAN_ITEMS
from accounting.verdicts.figures import VERDICT_COLUMNS, is_nan
from accounting.verdicts.peers import PEER_INDICATORS
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules

__all__ = ["explain", "verdict_records"]


def _quota_reason(r: dict, rules: VerdictRules) -> str:
    """Why a quota verdict is what it is: the band it falls in, or what is missing."""
    if r["n_rows"] == 0:
        return ("no quota row fits this institution's province, category, level and climate "
                "zone in the configured quota tables")
    if r["n_rows"] > 1:
        return (f"{int(r['n_rows'])} quota rows fit; set quota_area / subtype in the institutions "
                "ledger to pick one")
    if is_nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if is_nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return f"coverage {_pct(r['coverage'])} is below min_coverage {r['min_coverage']:.0%}"
    bands = ", ".join(
        f"{name} {r[key]:g}" for name, key in
        (("引导值", "guide"), ("基准值", "baseline"), ("约束值", "constraint"))
        if not is_nan(r[key]))
    text = f"{r['subject']} = {r['value']:.2f} {r['unit']} vs {r['table']}: {bands}"
    if r["rebased"]:
        text += (f" (electricity re-based on 等价值: {r['delta_kgce_per_kwh']:+g} kgce/kWh, "
                 f"{r['tce_basis']})")
    if r["subject"] == "non_heating_kgce_per_m2":
        text += "; heating taken as purchased heat only (boiler fuel for heating not separated)"
    if r["subject"] == "non_heating_kwh_per_m2":
        text += "; all electricity counted (electric heating not metered apart)"
    return text


def _fyp14_reason(r: dict, rules: VerdictRules) -> str:
    """A 十四五 verdict: the change against the base year, the path and the target."""
    year, base_year, target_year = int(r["year"]), int(r["base_year"]), int(r["target_year"])
    if is_nan(r["base_value"]):
        return f"no {base_year} value of {r['subject']} for this institution"
    if is_nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if r["status"] == "unknown":
        return (f"coverage {_pct(r['coverage'])} ({year}) / {_pct(r['base_coverage'])} "
                f"({base_year}) below min_coverage {r['min_coverage']:.0%}")
    return (f"{r['subject']} {r['value']:.2f} {r['unit']} vs {base_year} "
            f"{r['base_value']:.2f}: {r['change']:+.1%}; straight-line path for {year} "
            f"{r['path_change']:+.1%}, {target_year} target {r['target_change']:+.1%}")


def _peer_reason(r: dict, rules: VerdictRules) -> str:
    """A peer verdict: the ratio to the average, the points and the rank."""
    group = f"{r['category']}/{r['level']}/{r['climate_zone']}"
    if is_nan(r["value"]):
        return f"{r['subject']} cannot be computed: {r['missing']} is missing"
    if is_nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return f"coverage {_pct(r['coverage'])} below min_coverage {r['min_coverage']:.0%}"
    if is_nan(r["score"]):
        return (f"peer group {group} has {int(r['peers'])} institution(s) with a known "
                f"{r['subject']}; at least {rules.min_peers} needed and no published same-type "
                "average fits")
    rank = (f"rank {int(r['rank'])} of {int(r['peers'])} in {group}" if not is_nan(r["rank"])
            else "")
    return (f"{r['subject']} {r['value']:.2f} {r['unit']} = {r['ratio']:.2f}× the average "
            f"{r['peer_average']:.2f} ({r['average_source']}) → {int(r['score'])} of "
            f"{rules.score_max} points; {rank}")


def _certification_reason(r: dict, rules: VerdictRules) -> str:
    """A certification verdict: the items it rests on."""
    subject, status = r["subject"], r["status"]
    if subject == "conservation_organ":
        if status == "not_applicable":
            return "节约型机关 is created by Party and government bodies (category government)"
        listing = ", ".join(f"{i} {r[f'fyp14:{i}']}" for i in ORGAN_ITEMS)
        lead = {"not_ready": "target item(s) off track", "unknown": "target item(s) unknown",
                "ready": "energy and water target items on track"}[status]
        return f"{lead}: {listing}"
    if subject == "demonstration_unit":
        listing = ", ".join(
            f"{i} {'?' if is_nan(r[f'score:{i}']) else int(r[f'score:{i}'])}"
            for i in PEER_INDICATORS)
        if status == "not_ready":
            return f"an item scores 0 (> {rules.score_bands[-1][0]:g}× the average): {listing}"
        if status == "unknown":
            return f"item(s) not scored: {listing}"
        return (f"every energy/water item scores: {listing} = {int(r['score'])} of "
                f"{rules.score_max * len(PEER_INDICATORS)}")
    if status == "not_candidate":
        rank = "?" if is_nan(r["rank"]) else int(r["rank"])
        return (f"rank {rank} of {int(r['peers'])} on {LEADER_INDICATOR}; "
                f"{int(r['above_guide'])} judged quota indicator(s) above 引导值")
    if status == "unknown":
        return "cannot rank the institution against its peers and the quotas"
    return (f"first of {int(r['peers'])} peers on {LEADER_INDICATOR} and at or below 引导值 on "
            f"{int(r['judged'])} judged quota indicator(s)")


def _audit_reason(r: dict, rules: VerdictRules) -> str:
    """An audit check: the change, or the quota band (a price check has its reason)."""
    subject = r["subject"]
    if subject.endswith("_change"):
        label = "建筑面积 floor area" if subject.startswith("floor") else "用能人数 occupants"
        if is_nan(r["change"]):
            return f"{label} of {int(r['year']) - 1} or {int(r['year'])} not known"
        return (f"{label} {r['previous_value']:g} → {r['value']:g} ({r['change']:+.1%}; "
                f"limit ±{rules.audit_change_limit:.0%})")
    if subject.startswith("intensity_band:"):
        indicator = subject.split(":", 1)[1]
        bands = ", ".join(
            f"{name} {r[key]:g}" for name, key in
            (("引导值", "guide"), ("基准值", "baseline"), ("约束值", "constraint"))
            if not is_nan(r[key]))
        figure = f"{indicator} = {r['value']:.2f} {r['unit']} vs {r['table']}: {bands}"
        if r["status"] == "flag" and not is_nan(r["constraint"]) and r["value"] > r["constraint"]:
            return "above 约束值: " + figure
        if r["status"] == "flag":
            return "below 引导值 — check the data is complete: " + figure
        return "within 引导值 … 约束值: " + figure
    return ""


#: Each kind's reason sentence.
_REASONS: dict[str, Callable[[dict, VerdictRules], str]] = {
    "quota": _quota_reason, "fyp14": _fyp14_reason, "peers": _peer_reason,
    "certification": _certification_reason, "audit": _audit_reason,
}


def explain(frame: pd.DataFrame, rules: VerdictRules = DEFAULT_RULES) -> pd.DataFrame:
    """A copy of verdict rows with every empty ``reason`` written from the row's figures.

    ``rules`` are the verdict rules the rows were judged with (their limits are quoted); the
    shipped ones by default.
    """
    out = frame.copy()
    if out.empty:
        return out
    out["reason"] = out["reason"].astype(object).fillna("")
    todo = out["reason"].eq("").to_numpy() & out["kind"].isin(list(_REASONS)).to_numpy()
    out.loc[todo, "reason"] = [
        _REASONS[r["kind"]](r, rules) for r in out.loc[todo].to_dict("records")
    ]
    return out


def verdict_records(frame: pd.DataFrame,
                    rules: VerdictRules = DEFAULT_RULES) -> list[dict[str, Any]]:
    """Verdict rows as JSON-ready dicts: the core fields, and ``figures`` with the numbers.

    The reasons are written by :func:`explain` (with ``rules``).
    """
    frame = explain(frame, rules)
    extra = [c for c in frame.columns if c not in VERDICT_COLUMNS and c not in _INTERNAL]
    out = []
    for row in frame.to_dict("records"):
        figures = {k: _plain(row[k]) for k in ["value", "coverage", *extra]
                   if _plain(row.get(k)) is not None}
        out.append({
            "kind": row["kind"], "subject": row["subject"], "status": row["status"],
            "unit": row["unit"] or None, "reason": row["reason"],
            "missing": row["missing"] or None, "source": row["source"] or None,
            "figures": figures,
        })
    return out


#: Columns kept for explanations, not shown among a verdict's figures.
_INTERNAL = {"n_rows", "rebased", "min_coverage", "delta_kgce_per_kwh", "category", "level",
             "climate_zone", "tce_basis", "average_source"}


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: numpy numbers → Python numbers, NaN and "" → None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, str):
        return value or None
    return value


def _pct(value: float) -> str:
    """A coverage as a percentage, or "no data"."""
    return "no data" if is_nan(value) else f"{value:.0%}"

