"""Audit verdicts: the checks a provincial auditor runs on an institution's annual figures.

``floor_area_m2_change``, ``occupants_change``
    建筑面积 or 用能人数 changed by more than ``audit_change_limit`` (10 %) against the previous
    year: ``flag``; ``unknown`` without both years.
``intensity_band:<indicator>``
    a judged quota indicator above 约束值 or below 引导值 (below: is the data complete?).
``bill_periods:<carrier>``
    the bills of one account (without an account: of the institution) and carrier that touch
    the year: ``flag`` when two periods overlap (days counted twice) or, for a carrier billed
    every month (electricity, water, gas), when days between two bills are billed by none;
    ``ok`` otherwise. ``overlap_days`` and ``gap_days`` count the days; ``issue`` (overlap or
    gap), ``issue_start``, ``issue_end`` and ``issue_before`` name the first pair of bills.
``bill_unit_price:<carrier>``
    a bill's unit price (cost_cny ÷ quantity) outside ``price_ratio_low`` … ``price_ratio_high``
    × the median of the year's bills of the same carrier and unit (at least ``min_price_peers``
    bills); the limits are the project's, the check is published.

References
----------
《公共机构能源资源消费统计调查制度》 (国管局; revised 国管节能〔2022〕301号), the statistics
checks as a provincial statistics office applies them (哈密市, 2023): 用能人数 / 建筑面积 change
over 10 % year on year, 单位建筑面积 above 约束值 or below 引导值, unit-price checks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.bills import CONTINUOUS_BILL_CARRIERS
from accounting.verdict_table import constant, is_value, select_text, text, where_text
from accounting.verdicts.figures import Columns, Figures, array, length, table
from accounting.verdicts.rules import DEFAULT_RULES, VerdictRules

__all__ = ["AUDIT_EXTRA", "audit_parts", "audit_verdicts", "bill_period_checks"]

#: What the audit checks rest on, as an officer cites it.
AUDIT_PUBLICATION = ("国管局《公共机构能源资源消费统计调查制度》(国管节能〔2022〕301号) 数据审核, "
                     "如哈密市 (2023) 所用")

#: Audit verdicts' columns after :data:`VERDICT_COLUMNS`: the figures they rest on.
AUDIT_EXTRA = ["previous_value", "change", "ratio", "guide", "baseline", "constraint", "table",
               "year"]


def audit_verdicts(
    figures: pd.DataFrame,
    previous: pd.DataFrame | None,
    quota: pd.DataFrame,
    bills: pd.DataFrame | None,
    year: int,
    rules: VerdictRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """The checks a provincial auditor runs on an institution's annual figures.

    * floor area and occupants changed by more than ``rules.audit_change_limit`` year on year
      (``previous``: last year's figures; ``unknown`` without them);
    * an intensity above 约束值 or below 引导值 (from the quota verdicts);
    * a bill's unit price (cost_cny ÷ quantity) outside ``rules.price_ratio_limits`` × the
      median of the year's bills of the same carrier and unit (``bills``: the bills ledger;
      at least ``rules.min_price_peers`` of them).

    Returns
    -------
    pandas.DataFrame
        :data:`VERDICT_COLUMNS` plus previous_value, change, ratio, guide, baseline, constraint,
        table, year. status ``ok``, ``flag`` or ``unknown``.
    """
    return table(audit_parts(Figures(figures), previous, quota, bills, year, rules), AUDIT_EXTRA)


def audit_parts(f: Figures, previous: pd.DataFrame | None, quota: Any,
                bills: pd.DataFrame | None, year: int, rules: VerdictRules) -> list[Columns]:
    """:func:`audit_verdicts` as columns, one part per check."""
    parts = _change_checks(f, previous, year, rules.audit_change_limit)
    judged = np.flatnonzero(~is_value(quota["status"], "unknown"))
    if len(judged):
        def take(column: str) -> Any:
            return array(quota[column])[judged]

        subject = text(take("subject"))
        status = take("status")
        flagged = is_value(status, "above_constraint") | is_value(status, "below_guide")
        parts.append({
            "institution_id": text(take("institution_id")),
            "subject": pd.Categorical.from_codes(subject.codes, categories=text(np.asarray(
                [f"intensity_band:{s}" for s in subject.categories], dtype=object)).categories),
            "status": where_text(flagged, "flag", "ok"), "value": np.asarray(take("value")),
            "unit": text(take("unit")), "coverage": np.asarray(take("coverage")),
            "source": text(take("source")), "missing": constant("", len(judged)),
            "reason": constant("", len(judged)), "guide": np.asarray(take("guide")),
            "baseline": np.asarray(take("baseline")),
            "constraint": np.asarray(take("constraint")), "table": text(take("table")),
        })
    if bills is not None and len(bills):
        prices = _price_checks(bills, year, rules)
        if len(prices):
            parts.append({c: prices[c].to_numpy() for c in prices.columns})
        periods = bill_period_checks(bills, year)
        if len(periods):
            parts.append({c: periods[c].to_numpy() for c in periods.columns})
    for part in parts:
        rows = length(part)
        part["kind"] = constant("audit", rows)
        part["year"] = np.full(rows, year)
    return parts


def _change_checks(f: Figures, previous: pd.DataFrame | None, year: int,
                   change_limit: float) -> list[Columns]:
    parts = []
    n = f.n
    at = f.rows_in(previous)
    institution_id = f.institutions()
    for column, unit in (("floor_area_m2", "m2"), ("occupants", "persons")):
        value = f.numbers([column])
        before = (f.numbers([column], previous, at) if previous is not None and len(previous)
                  else np.full(n, np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            change = value / np.where(before > 0, before, np.nan) - 1.0
        unknown = np.isnan(change)
        parts.append({
            "institution_id": institution_id, "subject": constant(f"{column}_change", n),
            "status": select_text([unknown, np.abs(change) > change_limit],
                                  ["unknown", "flag"], default="ok"),
            "value": value, "unit": constant(unit, n), "coverage": np.full(n, np.nan),
            "reason": constant("", n),
            "missing": where_text(unknown, f"{column} of {year - 1} and {year}", ""),
            "source": constant(AUDIT_PUBLICATION, n),
            "previous_value": before, "change": change,
        })
    return parts


def _price_checks(bills: pd.DataFrame, year: int, rules: VerdictRules) -> pd.DataFrame:
    b = bills.copy()
    if "cost_cny" not in b.columns:
        return pd.DataFrame()
    start = pd.to_datetime(b["period_start"]).dt.year
    end = pd.to_datetime(b["period_end"]).dt.year
    b = b[(start <= year) & (end >= year)]
    b = b[pd.to_numeric(b["cost_cny"], errors="coerce").notna()
          & (pd.to_numeric(b["quantity"], errors="coerce") > 0)]
    if b.empty:
        return pd.DataFrame()
    b["price"] = b["cost_cny"].astype(float) / b["quantity"].astype(float)
    grouped = b.groupby(["carrier", "unit"])["price"]
    b["median"] = grouped.transform("median")
    b["n"] = grouped.transform("size")
    b["ratio"] = b["price"] / b["median"].where(b["median"] > 0)
    low, high = rules.price_ratio_limits
    min_bills = rules.min_price_peers
    b["far"] = (b["ratio"] < low) | (b["ratio"] > high)
    # Per institution × carrier × unit, vectorised (a province has hundreds of thousands of
    # bills); the reason is written by ``explain`` from price_case and the figures (its
    # catalog). Only the flagged groups' far bills are listed, in Python.
    keys = ["institution_id", "carrier", "unit"]
    b["deviation"] = (b["ratio"] - 1.0).abs().fillna(-1.0)
    b = b.reset_index(drop=True)
    worst = b.loc[b.groupby(keys, sort=True)["deviation"].idxmax()].reset_index(drop=True)
    per = b.groupby(keys, sort=True).agg(count=("price", "size"), far=("far", "any"))
    per = per.reset_index()
    n = worst["n"].to_numpy(dtype=float)
    median = worst["median"].to_numpy(dtype=float)
    enough = n >= min_bills
    case = np.select([enough & ~(median > 0), ~enough, per["far"].to_numpy()],
                     ["no_median", "few", "flag"], default="ok")
    status = np.select([case == "no_median", case == "few", case == "flag"],
                       ["unknown", "unknown", "flag"], default="ok")
    carrier = worst["carrier"].astype(str)
    missing = np.select(
        [case == "no_median", case == "few"],
        [(carrier + " bills with a positive cost_cny").to_numpy(),
         (f"at least {min_bills} " + carrier + " bills with cost_cny").to_numpy()], default="")
    far_bills = np.full(len(worst), "", dtype=object)
    flagged = np.flatnonzero(case == "flag")
    if len(flagged):
        far = b[b["far"]]
        text_of = {}
        for key, g in far.groupby(keys, sort=False):
            text_of[key] = "; ".join(
                f"{pd.Timestamp(s):%Y-%m-%d}…{pd.Timestamp(e):%Y-%m-%d}: {p:.3f} "
                f"CNY/{key[2]} = {r:.2f}×"
                for s, e, p, r in zip(g["period_start"], g["period_end"], g["price"],
                                      g["ratio"], strict=True))
        for i in flagged:
            far_bills[i] = text_of.get(tuple(worst.loc[i, keys]), "")
    return pd.DataFrame({
        "institution_id": worst["institution_id"].to_numpy(),
        "subject": ("bill_unit_price:" + carrier).to_numpy(), "status": status,
        "value": worst["price"].to_numpy(dtype=float),
        "unit": ("CNY/" + worst["unit"].astype(str)).to_numpy(), "coverage": np.nan,
        "reason": "", "missing": missing, "source": AUDIT_PUBLICATION,
        "ratio": worst["ratio"].to_numpy(dtype=float), "price_case": case, "price_bills": n,
        "price_count": per["count"].to_numpy(dtype=float), "price_median": median,
        "price_low": float(low), "price_high": float(high),
        "price_min_bills": float(min_bills), "far_bills": far_bills,
    })


def bill_period_checks(bills: pd.DataFrame, year: int) -> pd.DataFrame:
    """Overlaps and gaps between the bill periods of ``year``, per institution × carrier.

    Bills are compared within one account (without an account: within the institution) and
    carrier, sorted by period_start; a bill overlaps when it starts on or before the latest end
    of the bills before it, and leaves a gap (carriers of ``CONTINUOUS_BILL_CARRIERS`` only)
    when it starts more than a day after. Only days in ``year`` are counted.

    Returns
    -------
    pandas.DataFrame
        Verdict rows (kind set by the caller): institution_id, subject
        ``bill_periods:<carrier>``, status ``flag`` or ``ok``, value (days overlapped + days
        without a bill) [days], overlap_days, gap_days, issue (``overlap`` or ``gap``), issue_start,
        issue_end (the first bill in question), issue_before (the end of the bill before it),
        reason "" (written by ``explain``), source.
    """
    b = bills
    if b.empty:
        return pd.DataFrame()
    start = pd.to_datetime(b["period_start"]).to_numpy()
    end = pd.to_datetime(b["period_end"]).to_numpy()
    first, last = np.datetime64(f"{year}-01-01"), np.datetime64(f"{year}-12-31")
    touch = (start <= last) & (end >= first)
    if not touch.any():
        return pd.DataFrame()
    account = b["account"].fillna("").astype(str) if "account" in b.columns else pd.Series(
        "", index=b.index)
    frame = pd.DataFrame({
        "institution_id": b["institution_id"].astype(str).to_numpy()[touch],
        "carrier": b["carrier"].astype(str).to_numpy()[touch],
        "group": np.where(account.to_numpy()[touch] == "", "",
                          "account " + account.to_numpy()[touch]),
        "start": start[touch].astype("datetime64[D]"), "end": end[touch].astype("datetime64[D]"),
    }).sort_values(["institution_id", "carrier", "group", "start", "end"], kind="stable")
    keys = ["institution_id", "carrier", "group"]
    day = np.timedelta64(1, "D")
    # The latest end before each bill in its group (NaT for the first).
    latest = frame.groupby(keys, sort=False)["end"].cummax()
    before = latest.groupby([frame[k] for k in keys], sort=False).shift(1)
    start_d, end_d = frame["start"].to_numpy(), frame["end"].to_numpy()
    before_d = before.to_numpy(dtype="datetime64[D]")
    has_before = ~np.isnat(before_d)
    lo, hi = np.maximum(start_d, first), np.minimum(np.minimum(end_d, before_d), last)
    overlap = np.where(has_before & (start_d <= before_d),
                       np.maximum((hi - lo) / day + 1, 0), 0).astype(int)
    continuous = frame["carrier"].isin(CONTINUOUS_BILL_CARRIERS).to_numpy()
    gap_lo = np.maximum(before_d + day, first)
    gap_hi = np.minimum(start_d - day, last)
    gap = np.where(has_before & continuous & (start_d > before_d + day),
                   np.maximum((gap_hi - gap_lo) / day + 1, 0), 0).astype(int)
    frame = frame.assign(overlap=overlap, gap=gap, before=before_d)
    issue = frame[(frame["overlap"] > 0) | (frame["gap"] > 0)]
    first_issue: dict[tuple[str, str], tuple[str, str, str, str]] = {}
    for (inst, carrier), g in issue.groupby(["institution_id", "carrier"], sort=False):
        r = g.iloc[0]
        first_issue[(inst, carrier)] = (
            "overlap" if r["overlap"] > 0 else "gap", f"{pd.Timestamp(r['start']):%Y-%m-%d}",
            f"{pd.Timestamp(r['end']):%Y-%m-%d}", f"{pd.Timestamp(r['before']):%Y-%m-%d}")
    sums = frame.groupby(["institution_id", "carrier"], sort=True, as_index=False)[
        ["overlap", "gap"]].sum()
    flagged = (sums["overlap"] > 0) | (sums["gap"] > 0)
    return pd.DataFrame({
        "institution_id": sums["institution_id"],
        "subject": "bill_periods:" + sums["carrier"],
        "status": np.where(flagged, "flag", "ok"),
        "value": (sums["overlap"] + sums["gap"]).astype(float),
        "unit": "days", "coverage": np.nan, "reason": "", "missing": "",
        "source": AUDIT_PUBLICATION,
        "overlap_days": sums["overlap"].astype(float), "gap_days": sums["gap"].astype(float),
        **{name: [first_issue.get((i, c), ("", "", "", ""))[k] for i, c in
                  zip(sums["institution_id"], sums["carrier"], strict=True)]
           for k, name in enumerate(("issue", "issue_start", "issue_end", "issue_before"))},
    })
