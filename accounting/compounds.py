"""集中办公区: energy of a compound that several institutions share, apportioned to its members.

A **compound** (集中办公区, ledger ``compounds``) is a site several institutions share: a main
meter, a canteen, common areas. Its members are in ``compound_members`` (compound_id,
institution_id, from, until). A meter (``[[meters]] institution = "<compound_id>"``), a bill or a
facility may belong to the compound instead of an institution: its consumption rows carry the
compound id in ``institution_id``. :func:`apportion` hands them to the members.

Rules (ledger ``apportionment``, one per compound × carrier; without a row the reference rule
``apportion_default_rule``, area, applies):

``area``
    by the member's floor area in the compound [m2]: its buildings in use tagged with the
    compound (``buildings.compound_id``), inside the statistical boundary; a member without
    tagged buildings counts its whole floor area;
``occupants``
    by the member's 用能人数 of the year [persons];
``fixed``
    by the shares of the ledger's rows (they sum to 1);
``residual``
    the compound's total meter minus the members' own sub-meters inside it (meters and bills on
    buildings tagged with the compound), the rest split by ``residual_rule`` (area, occupants or
    fixed). The members keep their sub-meters; only the rest is added, so nothing is counted
    twice.

Each month's rows are split among the members of that month (a member is in the month when its
``from`` is on or before the month's last day and its ``until`` on or after its first). The
members' rows carry ``source = "apportioned"`` and the compound row's coverage; the shares sum to
the shared quantity exactly (:func:`split_quantity`). A month that cannot be split (no member, a
member's basis unknown, a basis of 0) stays with the compound id, so its energy is never lost:
the account then shows the compound as a unit of its own, and the detail says why.

Pure functions over pandas; the ledgers are read by :mod:`accounting.consumption`.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from accounting.buildings import buildings_in_use

__all__ = [
    "APPORTIONMENT_COLUMNS",
    "COMPOUND_FIGURES",
    "apportion",
    "compound_figures",
    "compound_records",
    "member_basis",
    "members_in_month",
    "split_quantity",
    "sub_metered",
]

#: Columns of the apportionment detail: one row per compound row × member (or one unapportioned
#: row). quantity, compound_quantity, shared_quantity, sub_metered in ``unit``.
APPORTIONMENT_COLUMNS = [
    "compound_id", "carrier", "unit", "use", "source", "month", "institution_id", "rule",
    "basis", "basis_value", "share", "quantity", "compound_quantity", "shared_quantity",
    "sub_metered", "coverage", "note",
]

#: Bases of the rules: rule → (basis column of :func:`member_basis`, unit).
_BASIS = {"area": ("area_m2", "m2"), "occupants": ("occupants", "persons"),
          "fixed": ("share", "share")}
#: Sources whose months are periods (a month without a row was not measured).
_PERIOD_SOURCES = frozenset({"meter"})
_CONTINUOUS_BILLS = frozenset({"electricity", "water", "natural_gas"})


def split_quantity(quantity: float, weights: Iterable[float]) -> np.ndarray:
    """``quantity`` split in proportion to ``weights`` (≥ 0, sum > 0); the parts sum to it exactly.

    The last part is the quantity minus the others, so rounding never loses or adds anything.
    A NaN quantity gives NaN parts.
    """
    w = np.asarray(list(weights), dtype=float)
    parts = quantity * w / w.sum()
    if len(parts) and np.isfinite(quantity):
        parts[-1] = quantity - parts[:-1].sum()
    return parts


def members_in_month(members: pd.DataFrame, compound_id: str, year: int,
                     month: int) -> list[str]:
    """The institutions in ``compound_id`` during ``month`` of ``year``, in ledger order."""
    if members is None or members.empty:
        return []
    first = pd.Timestamp(dt.date(year, month, 1))
    last = pd.Timestamp(dt.date(year, month, calendar.monthrange(year, month)[1]))
    m = members[members["compound_id"] == compound_id]
    start = pd.to_datetime(m["from"])
    end = pd.to_datetime(m["until"])
    inside = (start.isna() | (start <= last)) & (end.isna() | (end >= first))
    return list(dict.fromkeys(m.loc[inside, "institution_id"].astype(str)))


def member_basis(members: pd.DataFrame, buildings: pd.DataFrame, headcount: pd.DataFrame,
                 year: int, as_of: dt.date | None = None) -> pd.DataFrame:
    """Each member's floor area in its compound [m2] and occupants [persons] of ``year``.

    Parameters
    ----------
    members
        The compound_members ledger.
    buildings
        The buildings ledger, inside the statistical boundary (:mod:`accounting.boundary`);
        ``compound_id`` tags the buildings (or areas) in a compound.
    headcount
        The headcount ledger.

    Returns
    -------
    pandas.DataFrame
        compound_id, institution_id, area_m2 (NaN when unknown), area_basis ("compound
        buildings" or "all buildings"), occupants (NaN when unknown).
    """
    cols = ["compound_id", "institution_id", "area_m2", "area_basis", "occupants"]
    if members is None or members.empty:
        return pd.DataFrame(columns=cols)
    pairs = members[["compound_id", "institution_id"]].drop_duplicates().astype(str)
    used = buildings_in_use(buildings, year, as_of) if len(buildings) else buildings
    area = pd.to_numeric(used.get("floor_area_m2"), errors="coerce")
    tag = used["compound_id"] if "compound_id" in used.columns else pd.Series(None, index=used.index)
    frame = pd.DataFrame({"institution_id": used.get("institution_id"), "compound_id": tag,
                          "area": area})
    tagged = frame.dropna(subset=["compound_id"]).groupby(
        ["compound_id", "institution_id"])["area"].sum(min_count=1)
    whole = frame.groupby("institution_id")["area"].sum(min_count=1)
    out = pairs.copy()
    keys = list(zip(out["compound_id"], out["institution_id"], strict=True))
    in_compound = np.array([tagged.get(k, np.nan) for k in keys], dtype=float)
    all_area = out["institution_id"].map(whole).to_numpy(dtype=float)
    out["area_m2"] = np.where(np.isnan(in_compound), all_area, in_compound)
    out["area_basis"] = np.where(np.isnan(in_compound), "all buildings", "compound buildings")
    heads = headcount[pd.to_numeric(headcount.get("year"), errors="coerce") == year] \
        if len(headcount) else headcount
    people = heads.groupby("institution_id")["occupants"].sum() if len(heads) else pd.Series(
        dtype=float)
    out["occupants"] = out["institution_id"].map(people).astype(float)
    return out[cols].reset_index(drop=True)


def sub_metered(metered: pd.DataFrame, billed: pd.DataFrame,
                buildings: pd.DataFrame) -> pd.DataFrame:
    """The members' own sub-meters inside each compound, per compound × carrier × month.

    Parameters
    ----------
    metered
        Metered months per building (``accounting.metered.METERED_COLUMNS``). Within a building
        and carrier its top-level meters are its total, sub-item meters count only without one.
    billed
        Bills spread over months in canonical units (``accounting.bills.spread_bills`` then
        ``accounting.units.to_canonical_frame``), with building_id and month (a timestamp).
    buildings
        The buildings ledger; ``compound_id`` tags the buildings in a compound.

    Returns
    -------
    pandas.DataFrame
        compound_id, carrier, month (1-12), quantity [canonical unit]: what the members' meters
        and bills on the compound's buildings measured (the compound's own rows excluded).
    """
    cols = ["compound_id", "carrier", "month", "quantity"]
    if "compound_id" not in buildings.columns or buildings["compound_id"].isna().all():
        return pd.DataFrame(columns=cols)
    where = buildings.dropna(subset=["compound_id"]).set_index("building_id")["compound_id"]
    parts = []
    if metered is not None and len(metered):
        m = metered[metered["building_id"].isin(where.index)].copy()
        if len(m):
            m["compound_id"] = m["building_id"].map(where)
            m = m[m["institution_id"] != m["compound_id"]]
            top = m["subitem"].astype(str).str.endswith("000")
            has_top = top.groupby([m["building_id"], m["carrier"]]).transform("any")
            m = m[top | ~has_top]
            parts.append(m[["compound_id", "carrier", "month", "quantity"]])
    if billed is not None and len(billed) and "building_id" in billed.columns:
        b = billed[billed["building_id"].isin(where.index)].copy()
        if len(b):
            b["compound_id"] = b["building_id"].map(where)
            b = b[b["institution_id"] != b["compound_id"]]
            b["month"] = pd.to_datetime(b["month"]).dt.month
            parts.append(b[["compound_id", "carrier", "month", "quantity"]])
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out.groupby(["compound_id", "carrier", "month"], as_index=False)["quantity"].sum()


def _rule_of(rules: pd.DataFrame, compound: str, carrier: str,
             default_rule: str) -> tuple[str, str, dict[str, float]]:
    """(rule, rule of the rest, fixed shares) of a compound and carrier."""
    if rules is None or rules.empty:
        return default_rule, "", {}
    r = rules[(rules["compound_id"] == compound) & (rules["carrier"] == carrier)]
    if r.empty:
        return default_rule, "", {}
    rule = str(r["rule"].iloc[0])
    rest = r["residual_rule"].iloc[0]
    rest = "" if rule != "residual" else (default_rule if pd.isna(rest) else str(rest))
    shares = {str(i): float(s) for i, s in zip(r["institution_id"], r["share"], strict=True)
              if pd.notna(i) and pd.notna(s)}
    return rule, rest, shares


def _weights(split: str, active: list[str], basis: pd.DataFrame, compound: str,
             shares: dict[str, float]) -> tuple[np.ndarray, str]:
    """Weights of the active members under ``split``, or an empty array and why not."""
    if not active:
        return np.array([]), "no member in the compound this month"
    if split == "fixed":
        w = np.array([shares.get(m, np.nan) for m in active], dtype=float)
        missing = [m for m, v in zip(active, w, strict=True) if np.isnan(v)]
        if missing:
            return np.array([]), f"no fixed share for member(s) {', '.join(missing)}"
    else:
        column = _BASIS[split][0]
        b = basis[basis["compound_id"] == compound].set_index("institution_id")[column]
        w = np.array([b.get(m, np.nan) for m in active], dtype=float)
        missing = [m for m, v in zip(active, w, strict=True) if np.isnan(v)]
        if missing:
            return np.array([]), f"{column} of member(s) {', '.join(missing)} unknown"
    if not w.sum() > 0:
        return np.array([]), f"the members' {_BASIS[split][0]} sum to 0"
    return w, ""


def _fill_months(rows: pd.DataFrame, year_months: int = 12) -> pd.DataFrame:
    """Add NaN rows (coverage 0) for the months a compound's meter or monthly bill has none."""
    keys = ["institution_id", "carrier", "unit", "use", "source"]
    extra = []
    for key, g in rows.groupby(keys, sort=False):
        source, carrier = key[4], key[1]
        if not (source in _PERIOD_SOURCES or (source == "bill" and carrier in _CONTINUOUS_BILLS)):
            continue
        for month in sorted(set(range(1, year_months + 1)) - set(g["month"].astype(int))):
            extra.append({**dict(zip(keys, key, strict=True)), "month": month,
                          "quantity": np.nan, "coverage": 0.0, "estimated_share": 0.0})
    if not extra:
        return rows
    return pd.concat([rows, pd.DataFrame(extra)], ignore_index=True)


def apportion(consumption: pd.DataFrame, compounds: pd.DataFrame, members: pd.DataFrame,
              rules: pd.DataFrame, basis: pd.DataFrame, sub_meters: pd.DataFrame, year: int,
              default_rule: str = "area") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Hand each compound row of the monthly consumption table to the compound's members.

    Parameters
    ----------
    consumption
        The monthly consumption table; rows whose institution_id is a compound id are shared.
    compounds, members, rules
        The compounds, compound_members and apportionment ledgers.
    basis
        :func:`member_basis` of the year.
    sub_meters
        The members' own sub-meters inside a compound: compound_id, carrier, month, quantity
        (in the compound row's unit), for the residual rule.
    year
        The accounting year (for the members of each month).
    default_rule
        Rule of a compound and carrier without apportionment rows.

    Returns
    -------
    consumption
        The table with each shared row replaced by its members' rows (``source =
        "apportioned"``); rows that cannot be split keep the compound id.
    detail
        :data:`APPORTIONMENT_COLUMNS`: rule, basis, share and quantity of every part.
    """
    ids = set(compounds["compound_id"].astype(str)) if compounds is not None and len(
        compounds) else set()
    if not ids or consumption.empty:
        return consumption, pd.DataFrame(columns=APPORTIONMENT_COLUMNS)
    shared_mask = consumption["institution_id"].astype(str).isin(ids).to_numpy()
    if not shared_mask.any():
        return consumption, pd.DataFrame(columns=APPORTIONMENT_COLUMNS)
    own = consumption[~shared_mask]
    shared = _fill_months(consumption[shared_mask].copy())
    subs = (sub_meters.groupby(["compound_id", "carrier", "month"])["quantity"].sum()
            if sub_meters is not None and len(sub_meters) else pd.Series(dtype=float))
    out_rows: list[dict] = []
    detail: list[dict] = []
    for row in shared.to_dict("records"):
        compound, carrier, month = str(row["institution_id"]), row["carrier"], int(row["month"])
        rule, rest, shares = _rule_of(rules, compound, carrier, default_rule)
        total = float(row["quantity"])
        shared_q, sub_q, note = total, np.nan, ""
        if rule == "residual":
            sub_q = float(subs.get((compound, carrier, month), 0.0))
            shared_q = total - sub_q
            if shared_q < 0:
                note = (f"the members' sub-meters ({sub_q:g}) exceed the compound's total "
                        f"({total:g}); nothing left to split")
                shared_q = 0.0
        split = rest if rule == "residual" else rule
        active = members_in_month(members, compound, year, month)
        weights, why = _weights(split, active, basis, compound, shares)
        base = {"compound_id": compound, "carrier": carrier, "unit": row["unit"],
                "use": row["use"], "source": row["source"], "month": month, "rule": rule
                if rule != "residual" else f"residual/{rest}", "basis": _BASIS[split][1],
                "compound_quantity": total, "shared_quantity": shared_q, "sub_metered": sub_q,
                "coverage": row["coverage"]}
        if why:
            out_rows.append(dict(row))
            detail.append({**base, "institution_id": compound, "basis_value": np.nan,
                           "share": np.nan, "quantity": shared_q,
                           "note": f"not apportioned: {why}"})
            continue
        parts = split_quantity(shared_q, weights)
        w_share = weights / weights.sum()
        for member, value, part, share in zip(active, weights, parts, w_share, strict=True):
            out_rows.append({**row, "institution_id": member, "quantity": part,
                             "source": "apportioned"})
            detail.append({**base, "institution_id": member, "basis_value": value,
                           "share": share, "quantity": part, "note": note})
    parts_frame = pd.DataFrame(out_rows, columns=consumption.columns)
    table = pd.concat([own, parts_frame], ignore_index=True) if len(parts_frame) else own
    return table.reset_index(drop=True), pd.DataFrame(detail, columns=APPORTIONMENT_COLUMNS)


#: Columns of :func:`compound_figures`.
COMPOUND_FIGURES = [
    "compound_id", "name", "members", "energy_tce", "co2_t", "floor_area_m2", "occupants",
    "kgce_per_m2", "kgce_per_person", "kgco2_per_m2", "shared_tce", "sub_metered_tce",
    "unapportioned_tce", "previous_energy_tce", "energy_change", "member_shares",
]


def compound_figures(detail: pd.DataFrame, compounds: pd.DataFrame, basis: pd.DataFrame,
                     factors: pd.DataFrame, provinces: pd.Series | None = None,
                     previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """The compound as a unit of its own: total, per m², per person, CO2, members' shares, YoY.

    Parameters
    ----------
    detail
        :func:`apportion`'s detail of the year.
    compounds
        The compounds ledger (compound_id, name, province).
    basis
        :func:`member_basis` of the year (the members' area and occupants in the compound).
    factors
        ``accounting.engine.build_factor_table`` rows covering the detail's carrier × unit ×
        use (province of the compound).
    provinces
        Province per compound id (defaults to the compounds ledger's).
    previous
        This function's result for last year (for ``energy_change``); None: unknown.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPOUND_FIGURES`. energy_tce [tce] = the compound total: the shared quantities
        (members' shares and any unapportioned rest) plus, for residual rules, the members' own
        sub-meters inside it; co2_t [tCO2]; intensities over the members' area [kgce/m2] and
        occupants [kgce/person]; member_shares: {institution: tce apportioned}. NaN when unknown.
    """
    if compounds is None or compounds.empty:
        return pd.DataFrame(columns=COMPOUND_FIGURES)
    d = detail.copy() if detail is not None else pd.DataFrame(columns=APPORTIONMENT_COLUMNS)
    prov = provinces if provinces is not None else compounds.set_index("compound_id")["province"]
    d["province"] = d["compound_id"].map(prov)
    f = factors[["carrier", "unit", "use", "province", "kgce_per_unit", "kgco2_per_unit"]]
    d = d.merge(f.drop_duplicates(["carrier", "unit", "use", "province"]),
                on=["carrier", "unit", "use", "province"], how="left")
    kgce = pd.to_numeric(d["kgce_per_unit"], errors="coerce").fillna(0.0)
    kgco2 = pd.to_numeric(d["kgco2_per_unit"], errors="coerce").fillna(0.0)
    d["tce"] = d["quantity"].astype(float) * kgce / 1000.0
    d["tco2"] = d["quantity"].astype(float) * kgco2 / 1000.0
    # sub-meters once per compound row (they are repeated on each member's part)
    first = ~d.duplicated(["compound_id", "carrier", "unit", "use", "source", "month"])
    d["sub_tce"] = np.where(first, np.nan_to_num(d["sub_metered"].astype(float)) * kgce / 1000, 0)
    d["sub_tco2"] = np.where(first, np.nan_to_num(d["sub_metered"].astype(float)) * kgco2 / 1000,
                             0)
    rows = []
    for c in compounds.to_dict("records"):
        cid = str(c["compound_id"])
        g = d[d["compound_id"] == cid]
        b = basis[basis["compound_id"] == cid] if len(basis) else basis
        members = g.loc[g["institution_id"] != cid, "institution_id"]
        apportioned = g[g["institution_id"] != cid]
        shared = float(g["tce"].sum(min_count=1)) if len(g) else np.nan
        subs = float(g["sub_tce"].sum()) if len(g) else 0.0
        energy = shared + subs if len(g) else np.nan
        co2 = float(g["tco2"].sum() + g["sub_tco2"].sum()) if len(g) else np.nan
        area = float(b["area_m2"].sum(min_count=1)) if len(b) else np.nan
        people = float(b["occupants"].sum(min_count=1)) if len(b) else np.nan
        before = np.nan
        if previous is not None and len(previous) and cid in set(previous["compound_id"]):
            before = float(previous.set_index("compound_id").loc[cid, "energy_tce"])
        rows.append({
            "compound_id": cid, "name": c.get("name"),
            "members": sorted(set(members.astype(str)) | set(b["institution_id"].astype(str))),
            "energy_tce": energy, "co2_t": co2, "floor_area_m2": area, "occupants": people,
            "kgce_per_m2": energy * 1000 / area if area > 0 else np.nan,
            "kgce_per_person": energy * 1000 / people if people > 0 else np.nan,
            "kgco2_per_m2": co2 * 1000 / area if area > 0 else np.nan,
            "shared_tce": shared, "sub_metered_tce": subs,
            "unapportioned_tce": float(g.loc[g["institution_id"] == cid, "tce"].sum()),
            "previous_energy_tce": before,
            "energy_change": energy / before - 1 if before > 0 else np.nan,
            "member_shares": {str(k): float(v) for k, v in
                              apportioned.groupby("institution_id")["tce"].sum().items()},
        })
    return pd.DataFrame(rows, columns=COMPOUND_FIGURES)


def compound_records(figures: pd.DataFrame) -> list[dict]:
    """:func:`compound_figures` as JSON-ready dicts (NaN → None)."""
    out = []
    for row in figures.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and not np.isfinite(v) else
                        (v.item() if isinstance(v, np.generic) else v)) for k, v in row.items()})
    return out
