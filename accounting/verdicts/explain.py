"""The sentence that explains a verdict, written from its figures, and verdicts as JSON records.

Judging is vectorised and leaves ``reason`` empty; a sentence is written only for the rows that
are shown: :func:`explain` fills the ``reason`` column of the rows asked for, and
:func:`verdict_records` (JSON) calls it. The sentence of each kind quotes the figures and the
rule the verdict rests on (the quota band, the 十四五 path, the 示范单位 score band, the audit
limit), so a reader can check it without the code.

Every sentence is a template of the message catalog (``jieneng/locale/<language>/accounting.toml``,
keys ``verdict.reason.*``) filled with the row's figures, in the officer's language (Chinese by
default, ``language="en"`` for English); :func:`label` gives a kind, indicator or status in it.
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
from jieneng.messages import DEFAULT_LANGUAGE, has, text

__all__ = ["explain", "label", "verdict_records"]


def label(group: str, value: Any, language: str = DEFAULT_LANGUAGE) -> str:
    """A verdict's kind, subject or status (``group`` ``kind``, ``subject``, ``status``) in
    ``language``, from the catalog; a subject ``prefix:detail`` is both parts (the detail an
    indicator or a carrier); a value the catalog lacks is shown as it is."""
    value = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if not value:
        return value
    if group == "status" and value.startswith("score_"):
        return text("verdict.status.score", language, points=value.removeprefix("score_"))
    if group == "subject" and ":" in value:
        prefix, detail = value.split(":", 1)
        detail_text = (text(f"verdict.subject.{detail}", language)
                       if has(f"verdict.subject.{detail}", language)
                       else text(f"carrier.{detail}", language)
                       if has(f"carrier.{detail}", language) else detail)
        return f"{label('subject', prefix, language)}: {detail_text}"
    key = f"verdict.{group}.{value}"
    return text(key, language) if has(key, language) else value


def _r(key: str, language: str, **fields: Any) -> str:
    return text(f"verdict.reason.{key}", language, **fields)


def _bands(r: dict, language: str) -> str:
    return ", ".join(
        f"{text(f'verdict.band.{key}', language)} {r[key]:g}"
        for key in ("guide", "baseline", "constraint") if not is_nan(r[key]))


def _quota_reason(r: dict, rules: VerdictRules, language: str) -> str:
    """Why a quota verdict is what it is: the band it falls in, or what is missing."""
    subject = label("subject", r["subject"], language)
    if r["n_rows"] == 0:
        return _r("quota_no_row", language)
    if r["n_rows"] > 1:
        return _r("quota_several_rows", language, n=int(r["n_rows"]))
    if is_nan(r["value"]):
        return _r("no_value", language, subject=subject, missing=r["missing"])
    if is_nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return _r("coverage", language, coverage=_pct(r["coverage"], language),
                  min_coverage=r["min_coverage"])
    out = _r("quota_judged", language, subject=subject, value=r["value"], unit=r["unit"],
             table=r["table"], bands=_bands(r, language))
    if r["rebased"]:
        out += _r("quota_rebased", language, delta=r["delta_kgce_per_kwh"], basis=r["tce_basis"])
    if r["subject"] == "non_heating_kgce_per_m2":
        out += _r("quota_non_heating_kgce", language)
    if r["subject"] == "non_heating_kwh_per_m2":
        out += _r("quota_non_heating_kwh", language)
    return out


def _fyp14_reason(r: dict, rules: VerdictRules, language: str) -> str:
    """A 十四五 verdict: the change against the base year, the path and the target."""
    year, base_year, target_year = int(r["year"]), int(r["base_year"]), int(r["target_year"])
    subject = label("subject", r["subject"], language)
    if is_nan(r["base_value"]):
        return _r("fyp14_no_base", language, base_year=base_year, subject=subject)
    if is_nan(r["value"]):
        return _r("no_value", language, subject=subject, missing=r["missing"])
    if r["status"] == "unknown":
        return _r("fyp14_coverage", language, coverage=_pct(r["coverage"], language), year=year,
                  base_coverage=_pct(r["base_coverage"], language), base_year=base_year,
                  min_coverage=r["min_coverage"])
    return _r("fyp14_judged", language, subject=subject, value=r["value"], unit=r["unit"],
              base_year=base_year, base_value=r["base_value"], change=r["change"], year=year,
              path_change=r["path_change"], target_year=target_year,
              target_change=r["target_change"])


def _peer_reason(r: dict, rules: VerdictRules, language: str) -> str:
    """A peer verdict: the ratio to the average, the points and the rank."""
    group = f"{r['category']}/{r['level']}/{r['climate_zone']}"
    subject = label("subject", r["subject"], language)
    if is_nan(r["value"]):
        return _r("no_value", language, subject=subject, missing=r["missing"])
    if is_nan(r["coverage"]) or r["coverage"] < r["min_coverage"]:
        return _r("coverage", language, coverage=_pct(r["coverage"], language),
                  min_coverage=r["min_coverage"])
    if is_nan(r["score"]):
        return _r("peers_few", language, group=group, peers=int(r["peers"]), subject=subject,
                  min_peers=rules.min_peers)
    rank = (_r("peers_rank", language, rank=int(r["rank"]), peers=int(r["peers"]), group=group)
            if not is_nan(r["rank"]) else "")
    source = r["average_source"]
    if source == "peer group mean":
        source = _r("peers_group_mean", language)
    return _r("peers_judged", language, subject=subject, value=r["value"], unit=r["unit"],
              ratio=r["ratio"], average=r["peer_average"], average_source=source,
              score=int(r["score"]), score_max=rules.score_max, rank=rank)


def _certification_reason(r: dict, rules: VerdictRules, language: str) -> str:
    """A certification verdict: the items it rests on."""
    subject, status = r["subject"], r["status"]
    if subject == "conservation_organ":
        if status == "not_applicable":
            return _r("organ_not_applicable", language)
        listing = ", ".join(f"{label('subject', i, language)} "
                            f"{label('status', r[f'fyp14:{i}'], language)}" for i in ORGAN_ITEMS)
        return _r("organ", language, lead=_r(f"organ_{status}", language), listing=listing)
    if subject == "demonstration_unit":
        listing = ", ".join(
            f"{label('subject', i, language)} "
            f"{'?' if is_nan(r[f'score:{i}']) else int(r[f'score:{i}'])}"
            for i in PEER_INDICATORS)
        if status == "not_ready":
            return _r("demo_not_ready", language, limit=rules.score_bands[-1][0],
                      listing=listing)
        if status == "unknown":
            return _r("demo_unknown", language, listing=listing)
        return _r("demo_ready", language, listing=listing, score=int(r["score"]),
                  score_max=rules.score_max * len(PEER_INDICATORS))
    indicator = label("subject", LEADER_INDICATOR, language)
    if status == "not_candidate":
        return _r("leader_not_candidate", language, indicator=indicator,
                  rank="?" if is_nan(r["rank"]) else int(r["rank"]), peers=int(r["peers"]),
                  above_guide=int(r["above_guide"]))
    if status == "unknown":
        return _r("leader_unknown", language)
    return _r("leader_candidate", language, indicator=indicator, peers=int(r["peers"]),
              judged=int(r["judged"]))


def _audit_reason(r: dict, rules: VerdictRules, language: str) -> str:
    """An audit check: the change, the quota band, the bill prices or the bill periods."""
    subject = r["subject"]
    year = int(r["year"])
    if subject.endswith("_change"):
        name = "floor_area_m2" if subject.startswith("floor") else "occupants"
        what = label("subject", name, language)
        if is_nan(r["change"]):
            return _r("change_unknown", language, label=what, previous_year=year - 1, year=year)
        return _r("change", language, label=what, previous=r["previous_value"],
                  value=r["value"], change=r["change"], limit=rules.audit_change_limit)
    if subject.startswith("intensity_band:"):
        indicator = label("subject", subject.split(":", 1)[1], language)
        figure = _r("band_figure", language, indicator=indicator, value=r["value"],
                    unit=r["unit"], table=r["table"], bands=_bands(r, language))
        if r["status"] == "flag" and not is_nan(r["constraint"]) and r["value"] > r["constraint"]:
            return _r("band_above", language, figure=figure)
        if r["status"] == "flag":
            return _r("band_below", language, figure=figure)
        return _r("band_within", language, figure=figure)
    if subject.startswith("bill_unit_price:") and r.get("price_case"):
        carrier = label("subject", subject, language).split(": ", 1)[-1]
        unit = str(r["unit"]).removeprefix("CNY/")
        fields = {"carrier": carrier, "unit": unit, "median": r["price_median"], "year": year,
                  "n": int(r["price_bills"]), "min_bills": int(r["price_min_bills"]),
                  "bills": r["far_bills"], "count": int(r["price_count"]),
                  "low": f"{r['price_low']:g}", "high": f"{r['price_high']:g}"}
        return _r(f"price_{r['price_case']}", language, **fields)
    if subject.startswith("bill_periods:"):
        if r["status"] != "flag":
            return _r("periods_ok", language, year=year)
        first = _r(f"periods_{r['issue']}", language, start=r["issue_start"],
                   end=r["issue_end"], before=r["issue_before"])
        return _r("periods_flag", language, overlap_days=r["overlap_days"],
                  gap_days=r["gap_days"], year=year, first_issue=first)
    return ""


#: Each kind's reason sentence.
_REASONS: dict[str, Callable[[dict, VerdictRules, str], str]] = {
    "quota": _quota_reason, "fyp14": _fyp14_reason, "peers": _peer_reason,
    "certification": _certification_reason, "audit": _audit_reason,
}


def explain(frame: pd.DataFrame, rules: VerdictRules = DEFAULT_RULES,
            language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """A copy of verdict rows with every empty ``reason`` written from the row's figures.

    ``rules`` are the verdict rules the rows were judged with (their limits are quoted); the
    shipped ones by default. ``language``: of the sentences (the message catalog's).
    """
    out = frame.copy()
    if out.empty:
        return out
    out["reason"] = out["reason"].astype(object).fillna("")
    todo = out["reason"].eq("").to_numpy() & out["kind"].isin(list(_REASONS)).to_numpy()
    out.loc[todo, "reason"] = [
        _REASONS[r["kind"]](r, rules, language) for r in _records(out.loc[todo])
    ]
    return out


def _records(frame: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` (of ``columns``), several times faster: each column is
    turned into Python objects once, not cell by cell."""
    names = list(frame.columns) if columns is None else columns
    values = [frame[c].to_numpy(dtype=object) for c in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def verdict_records(frame: pd.DataFrame, rules: VerdictRules = DEFAULT_RULES,
                    language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
    """Verdict rows as JSON-ready dicts: the core fields, and ``figures`` with the numbers.

    The reasons are written by :func:`explain` (with ``rules``, in ``language``); ``kind``,
    ``subject`` and ``status`` stay codes (programs read them), ``reason`` is a sentence.
    """
    frame = explain(frame, rules, language)
    extra = [c for c in frame.columns if c not in VERDICT_COLUMNS and c not in _INTERNAL]
    out: list[dict[str, Any]] = [{} for _ in range(len(frame))]
    kinds = frame["kind"].to_numpy(dtype=object) if len(frame) else np.zeros(0, dtype=object)
    core = ["kind", "subject", "status", "unit", "reason", "missing", "source"]
    # Kind by kind, only the figure columns that kind fills (the others are empty for it).
    for kind in pd.unique(kinds):
        at = np.flatnonzero(kinds == kind)
        rows = frame.iloc[at]
        numbers = [c for c in ["value", "coverage", *extra] if rows[c].notna().any()]
        for i, row in zip(at, _records(rows, core + numbers), strict=True):
            figures = {k: v for k in numbers if (v := _plain(row[k])) is not None}
            out[i] = {
                "kind": row["kind"], "subject": row["subject"], "status": row["status"],
                "unit": row["unit"] or None, "reason": row["reason"],
                "missing": row["missing"] or None, "source": row["source"] or None,
                "figures": figures,
            }
    return out


#: Columns kept for explanations, not shown among a verdict's figures.
_INTERNAL = {"n_rows", "rebased", "min_coverage", "delta_kgce_per_kwh", "category", "level",
             "climate_zone", "tce_basis", "average_source", "price_case", "price_bills",
             "price_count", "price_median", "price_low", "price_high", "price_min_bills",
             "far_bills", "issue", "issue_start", "issue_end", "issue_before"}


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


def _pct(value: float, language: str = DEFAULT_LANGUAGE) -> str:
    """A coverage as a percentage, or "no data" (in ``language``)."""
    return _r("no_data", language) if is_nan(value) else f"{value:.0%}"

