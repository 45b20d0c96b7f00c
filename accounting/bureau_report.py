"""The bureau's report sheets: 集中办公区, 集中办公区分摊明细, 统计边界, 公务用车, 区县绩效评价.

:func:`bureau_sheets` gives them as frames with the catalog's headers
(``jieneng/locale/<language>/bureau.toml``); :func:`accounting.report.write_report` appends them
to the workbook and :func:`bureau_json` to the JSON report. A sheet with nothing to show is left
out (a deployment without compounds has no 集中办公区 sheet).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from accounting.bureau import excluded_summary
from accounting.evaluation import evaluate_account
from jieneng import messages

__all__ = ["bureau_json", "bureau_sheets"]

_COMPOUND_COLUMNS = ["compound_id", "name", "members", "energy_tce", "co2_t", "floor_area_m2",
                     "occupants", "kgce_per_m2", "kgce_per_person", "kgco2_per_m2", "shared_tce",
                     "sub_metered_tce", "unapportioned_tce", "previous_energy_tce",
                     "energy_change", "member_shares"]
_VEHICLE_COLUMNS = ["plate", "institution_id", "vehicle_type", "fuel", "new_energy",
                    "added_in_year", "litres", "fuel_cost_cny", "kwh", "charging_cost_cny",
                    "kwh_on_site", "km", "l_per_100km", "kwh_per_100km", "cost_cny_per_km", "note"]


def _headers(frame: pd.DataFrame, language: str) -> pd.DataFrame:
    return frame.rename(columns={c: messages.text(f"bureau.column.{c}", language)
                                 for c in frame.columns if messages.has(f"bureau.column.{c}",
                                                                        language)})


def _plain_text(value: Any) -> Any:
    if isinstance(value, dict):
        return "; ".join(f"{k} {v:.3f}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return value


def bureau_sheets(account: Any, settings: Any = None,
                  language: str = messages.DEFAULT_LANGUAGE) -> dict[str, pd.DataFrame]:
    """Sheet name → frame for the account's bureau parts (``account.bureau``).

    ``settings`` (an ``AccountingConfig``) is needed for the 区县绩效评价 sheet (the scoring
    table and the site); without it, or without any region_code, that sheet is left out.
    """
    bureau = getattr(account, "bureau", None)
    if bureau is None:
        return {}
    sheets: dict[str, pd.DataFrame] = {}

    def name(key: str) -> str:
        return messages.text(f"bureau.sheet.{key}", language)

    if len(bureau.compounds):
        c = bureau.compounds[_COMPOUND_COLUMNS].copy()
        for col in ("members", "member_shares"):
            c[col] = c[col].map(_plain_text)
        sheets[name("compounds")] = _headers(c, language)
        sheets[name("apportionment")] = _headers(bureau.detail.apportionment, language)
    summary = excluded_summary(bureau)
    if len(summary) or len(bureau.excluded):
        e = bureau.excluded.copy()
        if len(e):
            e["method"] = e["method"].map(lambda m: messages.text(f"bureau.method.{m}", language))
            e = e.rename(columns={"tce": "excluded_tce"})[
                ["institution_id", "carrier", "unit", "method", "quantity", "excluded_tce",
                 "excluded_m2", "whole_m2", "share", "rule"]]
        area_rows = summary[["institution_id", "excluded_m2", "excluded_uses", "excluded_tce"]]
        sheets[name("boundary")] = _headers(
            pd.concat([area_rows.assign(method=""), e], ignore_index=True), language)
    if len(bureau.vehicles):
        sheets[name("vehicles")] = _headers(bureau.vehicles[_VEHICLE_COLUMNS], language)
    if settings is not None:
        evaluation = evaluate_account(account, settings)
        if not evaluation.scores["is_city"].all():
            sheets[name("evaluation")] = _headers(_evaluation_sheet(evaluation), language)
    return sheets


def _evaluation_sheet(evaluation: Any) -> pd.DataFrame:
    points = evaluation.points.merge(
        evaluation.scores[["region_code", "name", "score", "rank", "institutions"]],
        on="region_code", how="left")
    points = points.sort_values(["rank", "region_code"], na_position="last", kind="stable")
    return points[["rank", "region_code", "name", "institutions", "score", "indicator", "value",
                   "unit", "points", "max_points", "reason"]].reset_index(drop=True)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        (v.item() if isinstance(v, np.generic) else v)) for k, v in row.items()})
    return out


def bureau_json(account: Any, settings: Any = None) -> dict[str, Any]:
    """The bureau's parts for the JSON report: compounds, apportionment, boundary, vehicles,
    fleet and (with settings and region codes) the county evaluation."""
    bureau = getattr(account, "bureau", None)
    if bureau is None:
        return {}
    data: dict[str, Any] = {
        "compounds": _records(bureau.compounds),
        "apportionment": _records(bureau.detail.apportionment),
        "boundary": {"areas": _records(bureau.detail.areas),
                     "excluded": _records(bureau.excluded.drop(
                         columns=[c for c in ("kgce_per_unit", "kgco2_per_unit", "province")
                                  if c in bureau.excluded.columns]))},
        "vehicles": _records(bureau.vehicles),
        "fleet": _records(bureau.fleet),
    }
    if settings is not None:
        evaluation = evaluate_account(account, settings)
        if not evaluation.scores["is_city"].all():
            data["evaluation"] = evaluation.json()
    return data
