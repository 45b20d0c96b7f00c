"""Reference data: conversion coefficients, emission factors, quotas and targets, read from files.

Nothing here is a literal: every figure comes from a CSV file in ``accounting/reference/<set>/``
(the set is ``[accounting] factor_set``, default ``default``) with its source, year, region and
confidence (V verified, S single secondary source, D derived, U unverified). A deployer overrides
or adds rows with folders listed in ``[accounting] reference_dirs``: a file there with the same
name as a shipped one adds rows, and a row with the same key replaces the shipped row; a quota file
``quotas/<table>.csv`` adds or replaces a whole quota table.

Every file has a ``publication`` column: the standard, the MEE/NBS notice or the plan an officer
cites, with its year; it is what outputs print as a figure's source (``source`` in the tables
below; a deployer's file may still name the column ``source``). The research trail (files, pages,
repositories the figure was found or checked in) is in ``trail``, which no filed output prints.
A project estimate says so in its publication.

Files of a set:

``tce_factors.csv``
    carrier, unit, variant, kgce_per_unit, year, region, source, confidence, note.
    ``variant`` picks between alternatives: electricity ``equivalent`` (当量值) or ``equal_value``
    (等价值), natural gas ``standard`` or ``statistics_platform``; ``default`` otherwise.
``co2_factors.csv``
    carrier, unit, kgco2_per_unit, year, region, source, confidence, note (all but electricity).
``grid_factors.csv``
    region_type (national, regional_grid, province, province_proxy), region, region_zh, year,
    kgco2_per_kwh, source, confidence, note.
``densities.csv``
    fuel, kg_per_l, year, region, source, confidence, note (litres of vehicle fuel → kg).
``quotas/<table>.csv``
    table, standard, province, category, level, area, climate_zone, subtype, indicator, unit,
    constraint (约束值), baseline (基准值), guide (引导值), tce_basis, year, source,
    confidence, note.
``targets.csv``
    plan, scope, kind (baseline, target, outturn), indicator, year, value, change_vs_base, unit,
    source, confidence, note.
``peer_averages.csv``
    published same-type averages: province, year, group, category, level, kgce_per_m2,
    kgce_per_person, water_m3_per_person, source, confidence, note.
``plausibility.csv``
    carrier, unit (the carrier's canonical unit), max_per_month, publication, trail,
    confidence, note: the most a bill or fuel record may hold per month of its period (what the
    largest public institution could use); a row above it is rejected at import, the bound
    named. The shipped bounds are project estimates (confidence U).
``verdict_rules.csv``
    rule, value, unit, year, publication, trail, confidence, note: the rules the verdicts apply
    (示范单位 score bands ``score_band_<n>_ratio`` / ``score_band_<n>_points``, the 十四五 base
    year, peer and audit limits), read by ``accounting.verdicts.rules.VerdictRules``. A rule that
    is a project choice, not a published one, has confidence U; a deployer's row replaces it.

Year rule: a factor published for the year is used; a year without one uses the latest earlier
year, and a year before the first publication uses the earliest one. Either way
:attr:`Factor.note` says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from accounting import units
from accounting.errors import MissingReferenceData, ReferenceDataError, UnitError
from accounting.settings import AccountingSettings
from jieneng.vocabulary import CARRIER_INFO

__all__ = [
    "REFERENCE_ROOT", "Factor", "ReferenceData", "available_factor_sets", "load_reference",
    "read_verdict_rules",
]

log = logging.getLogger(__name__)

#: Folder of the shipped reference-data sets.
REFERENCE_ROOT = Path(__file__).with_name("reference")

CONFIDENCE = ("V", "S", "D", "U")


@dataclass(frozen=True)
class Factor:
    """One factor as used, with where it came from.

    ``value`` is in ``unit`` (e.g. ``kgce/kWh``); ``year`` is the year of the published value
    (None when the value is not year-specific); ``note`` says when a fallback was taken.
    """

    value: float
    unit: str
    source: str
    year: int | None
    region: str
    confidence: str
    note: str = ""


@dataclass(frozen=True)
class _FileSpec:
    name: str
    key: tuple[str, ...]
    numeric: tuple[str, ...]
    required: tuple[str, ...]
    optional_numeric: tuple[str, ...] = ()


_SPECS = {
    "tce": _FileSpec(
        "tce_factors.csv", ("carrier", "unit", "variant", "year"), ("kgce_per_unit",),
        ("carrier", "unit", "variant", "kgce_per_unit", "source", "confidence"), ("year",),
    ),
    "co2": _FileSpec(
        "co2_factors.csv", ("carrier", "unit", "year", "region"), ("kgco2_per_unit",),
        ("carrier", "unit", "kgco2_per_unit", "source", "confidence"), ("year",),
    ),
    "grid": _FileSpec(
        "grid_factors.csv", ("region_type", "region", "year"), ("kgco2_per_kwh", "year"),
        ("region_type", "region", "year", "kgco2_per_kwh", "source", "confidence"),
    ),
    "densities": _FileSpec(
        "densities.csv", ("fuel",), ("kg_per_l",), ("fuel", "kg_per_l", "source", "confidence"),
        ("year",),
    ),
    "targets": _FileSpec(
        "targets.csv", ("plan", "scope", "kind", "indicator", "year"), ("year",),
        ("plan", "scope", "kind", "indicator", "year", "unit", "source", "confidence"),
        ("value", "change_vs_base"),
    ),
    "peers": _FileSpec(
        "peer_averages.csv", ("province", "year", "group"), ("year",),
        ("province", "year", "group", "category", "source", "confidence"),
        ("kgce_per_m2", "kgce_per_person", "water_m3_per_person"),
    ),
    "rules": _FileSpec(
        "verdict_rules.csv", ("rule",), ("value",),
        ("rule", "value", "unit", "source", "confidence"), ("year",),
    ),
    "plausibility": _FileSpec(
        "plausibility.csv", ("carrier", "unit"), ("max_per_month",),
        ("carrier", "unit", "max_per_month", "source", "confidence"),
    ),
    "quota": _FileSpec(
        "", ("table", "province", "category", "level", "area", "climate_zone", "subtype",
             "indicator"), (),
        ("table", "category", "level", "indicator", "unit", "source", "confidence"),
        ("constraint", "baseline", "guide", "year"),
    ),
}

_QUOTA_COLUMNS = [
    "table", "standard", "province", "category", "level", "area", "climate_zone", "subtype",
    "indicator", "unit", "constraint", "baseline", "guide", "tce_basis", "year", "source",
    "confidence", "note",
]

#: Which CO2 scope a carrier's consumption falls in when it is purchased or burnt on site.
_SCOPE = {
    str(carrier): f"scope{int(info.scope)}" if info.scope else "none"
    for carrier, info in CARRIER_INFO.items()
}


def available_factor_sets() -> list[str]:
    """Names of the shipped reference-data sets."""
    return sorted(p.name for p in REFERENCE_ROOT.iterdir() if p.is_dir())


def _read_csv(path: Path, spec: _FileSpec) -> pd.DataFrame:
    """Read one reference file and check its columns, numbers and confidence tags."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ReferenceDataError(f"{path}: cannot read reference file: {exc}") from exc
    _publication_columns(frame)
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise ReferenceDataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(spec.required)}"
        )
    problems = []
    for column in (*spec.numeric, *spec.optional_numeric):
        if column not in frame.columns:
            frame[column] = ""
        text = frame[column].str.strip()
        number = pd.to_numeric(text, errors="coerce")
        bad = number.isna() & ((text != "") | (column in spec.numeric))
        problems += [
            f"{path}, row {i + 2}, column {column} = {text.iloc[i]!r}: expected a number"
            for i in bad.to_numpy().nonzero()[0]
        ]
        frame[column] = number
    for column in spec.required:
        if column in spec.numeric:
            continue
        empty = frame[column].str.strip() == ""
        problems += [
            f"{path}, row {i + 2}, column {column}: empty; a value is required"
            for i in empty.to_numpy().nonzero()[0]
        ]
    bad_conf = ~frame["confidence"].isin(CONFIDENCE)
    problems += [
        f"{path}, row {i + 2}, column confidence = {frame['confidence'].iloc[i]!r}: "
        f"expected one of {', '.join(CONFIDENCE)}"
        for i in bad_conf.to_numpy().nonzero()[0]
    ]
    if problems:
        raise ReferenceDataError("\n".join(problems))
    return frame


def _publication_columns(frame: pd.DataFrame) -> None:
    """Give a reference frame its ``publication`` (what an officer cites: the standard, the
    MEE/NBS notice, the plan, with its year), its ``trail`` (how the figure was found: files,
    pages; never printed in a filed output) and ``source``, which outputs print: the
    publication. A deployer's file with only ``source`` keeps it as its publication."""
    if "publication" in frame.columns:
        frame["source"] = frame["publication"]
    elif "source" in frame.columns:
        frame["publication"] = frame["source"]
    if "trail" not in frame.columns:
        frame["trail"] = ""


def _merge(frames: list[pd.DataFrame], key: tuple[str, ...]) -> pd.DataFrame:
    """Concatenate shipped and user rows; a later row with the same key replaces an earlier one."""
    frame = pd.concat(frames, ignore_index=True)
    present = [k for k in key if k in frame.columns]
    return frame.drop_duplicates(subset=present, keep="last").reset_index(drop=True)


def _year(value: float) -> int | None:
    return None if pd.isna(value) else int(value)


def _pick_year(rows: list[dict], year: int, what: str) -> tuple[dict, str]:
    """The row for ``year`` by the year rule, and a note when a fallback was taken."""
    dated = sorted((r for r in rows if r["year"] is not None), key=lambda r: r["year"])
    undated = [r for r in rows if r["year"] is None]
    exact = [r for r in dated if r["year"] == year]
    if exact:
        return exact[-1], ""
    earlier = [r for r in dated if r["year"] < year]
    if earlier:
        row = earlier[-1]
        return row, f"{year} has no published {what}; used {row['year']}"
    if undated:
        return undated[-1], ""
    if dated:
        row = dated[0]
        return row, (
            f"{year} is before the first published {what}; used the earliest, {row['year']}"
        )
    raise MissingReferenceData(f"no {what} in the reference data, for {year} or any other year")


@dataclass
class ReferenceData:
    """The reference data of one deployment: factor lookups and the tables behind them.

    Build it with :func:`load_reference`. Lookups are memoised, so calling them once per
    institution is cheap.
    """

    settings: AccountingSettings
    tce: pd.DataFrame
    co2: pd.DataFrame
    grid: pd.DataFrame
    densities: pd.DataFrame
    quota_tables: dict[str, pd.DataFrame]
    target_table: pd.DataFrame
    peer_table: pd.DataFrame
    rule_table: pd.DataFrame
    files: list[Path] = field(default_factory=list)
    #: ``plausibility.csv``: carrier, unit (canonical), max_per_month, source, confidence.
    plausibility: pd.DataFrame | None = None
    _cache: dict = field(default_factory=dict, repr=False)
    #: Each table's rows as dicts grouped by a column's value, made once (a lookup then reads a
    #: short list instead of filtering a DataFrame): table name → (the frame they were made
    #: from, {column: {value: rows}}).
    _records: dict = field(default_factory=dict, repr=False)

    # -- what a ledger may hold ------------------------------------------------------------------

    def provinces(self) -> list[str]:
        """The provinces (pinyin) that have a grid factor: the ones an institution may be in."""
        grid = self.grid
        rows = grid[grid["region_type"].isin(["province", "province_proxy"])]
        return sorted(set(rows["region"].astype(str)))

    def plausibility_bound(self, carrier: str, unit: str) -> Factor | None:
        """The most a carrier's bill or record may hold per month [canonical unit/month], or None
        when ``plausibility.csv`` has no row for the carrier and its canonical unit."""
        table = self.plausibility
        if table is None:
            return None
        rows = table[(table["carrier"] == carrier) & (table["unit"] == unit)]
        if rows.empty:
            return None
        row = rows.iloc[-1]
        return Factor(value=float(row["max_per_month"]), unit=f"{unit}/month",
                      source=str(row["source"]), year=None, region="",
                      confidence=str(row["confidence"]), note=str(row.get("note", "")))

    # -- conversion to standard coal ---------------------------------------------------------

    def tce_variant(self, carrier: str) -> str:
        """The variant of the tce coefficient the settings select for a carrier."""
        if carrier == "electricity":
            return self.settings.electricity_tce_basis
        if carrier == "natural_gas":
            return self.settings.natural_gas_kgce_per_m3
        return "default"

    def kgce_per_unit(
        self, carrier: str, unit: str, year: int, variant: str | None = None
    ) -> Factor:
        """Standard-coal coefficient of a carrier for a year, per ``unit``. [kgce/unit]

        Parameters
        ----------
        carrier, unit, year
            What is converted, in which unit, for which accounting year.
        variant
            The coefficient variant (``variant`` column of ``tce_factors.csv``), e.g.
            ``"equal_value"`` for electricity's 等价值 whatever the settings choose; None → the
            variant the settings select (:meth:`tce_variant`).

        Raises
        ------
        UnitError
            When the unit does not fit the carrier.
        ReferenceDataError
            When the reference data has no coefficient for the carrier (and variant).
        """
        if variant is None:
            variant = self.tce_variant(carrier)
        key = ("tce", carrier, unit, year, variant)
        if key not in self._cache:
            self._cache[key] = self._kgce(carrier, unit, year, variant)
        return self._cache[key]

    def clear_cache(self) -> None:
        """Forget the memoised factor lookups (they are redone on the next call)."""
        self._cache.clear()

    def _kgce(self, carrier: str, unit: str, year: int, variant: str) -> Factor:
        rows = self._rows("tce", carrier=carrier, variant=variant)
        if not rows:
            raise MissingReferenceData(
                f"no standard-coal coefficient for carrier {carrier!r} (variant {variant!r}) in "
                f"{self._file_names('tce_factors.csv')}; expected a row with carrier = "
                f"{carrier}, variant = {variant} (needed for {year})"
            )
        row, note = _pick_year(rows, year, f"{carrier} coefficient ({variant})")
        value, note2 = self._per_unit(carrier, row["unit"], unit, row["kgce_per_unit"])
        return Factor(
            value=value, unit=f"kgce/{unit}", source=row["source"], year=row["year"],
            region=row.get("region", ""), confidence=row["confidence"],
            note=_join(row.get("note", ""), note, note2),
        )

    # -- CO2 -----------------------------------------------------------------------------------

    def kgco2_per_unit(
        self, carrier: str, unit: str, year: int, province: str | None = None
    ) -> Factor:
        """CO2 emission factor of a carrier for a year (and province, for electricity). [kgCO2/unit]

        Electricity: the province's average grid factor when the policy is ``province`` and the
        province has one, else the national average; the year rule applies.
        """
        key = ("co2", carrier, unit, year, province)
        if key not in self._cache:
            if carrier == "electricity":
                self._cache[key] = self._grid_factor(unit, year, province)
            else:
                self._cache[key] = self._kgco2(carrier, unit, year)
        return self._cache[key]

    def _kgco2(self, carrier: str, unit: str, year: int) -> Factor:
        rows = self._rows("co2", carrier=carrier)
        if not rows:
            raise MissingReferenceData(
                f"no CO2 factor for carrier {carrier!r} in {self._file_names('co2_factors.csv')}; "
                f"expected a row with carrier = {carrier} (needed for {year})"
            )
        row, note = _pick_year(rows, year, f"{carrier} CO2 factor")
        value, note2 = self._per_unit(carrier, row["unit"], unit, row["kgco2_per_unit"])
        return Factor(
            value=value, unit=f"kgCO2/{unit}", source=row["source"], year=row["year"],
            region=row.get("region", ""), confidence=row["confidence"],
            note=_join(row.get("note", ""), note, note2),
        )

    def _grid_factor(self, unit: str, year: int, province: str | None) -> Factor:
        scale = units.unit_scale("electricity", unit)  # kWh per unit
        notes = []
        rows: list[dict] = []
        if self.settings.emission_factor_policy == "province" and province:
            rows = self._rows("grid", region=province)
            rows = [r for r in rows if r["region_type"] in ("province", "province_proxy")]
            if not rows:
                notes.append(f"no grid factor for province {province!r}; used the national average")
        elif self.settings.emission_factor_policy == "national":
            notes.append("policy 'national': national average grid factor")
        if rows:
            # A province without a factor for this year or an earlier one falls back to national.
            dated = [r for r in rows if r["year"] <= year]
            if not dated:
                national_has_year = any(
                    r["year"] <= year for r in self._rows("grid", region_type="national")
                )
                if national_has_year:
                    notes.append(
                        f"province {province!r} has no grid factor for {year} or earlier; "
                        "used the national average"
                    )
                    rows = []
        if not rows:
            rows = self._rows("grid", region_type="national")
        row, note = _pick_year(rows, year, "grid factor")
        if row["region_type"] == "province_proxy":
            notes.append(f"{row['region']}: {row.get('note', '')}")
        return Factor(
            value=row["kgco2_per_kwh"] * scale, unit=f"kgCO2/{unit}", source=row["source"],
            year=row["year"], region=row["region"], confidence=row["confidence"],
            note=_join(*notes, note),
        )

    # -- tables --------------------------------------------------------------------------------

    def grid_factors(self) -> pd.DataFrame:
        """Every grid factor: province (the region), year, kgco2_per_kwh, source, confidence, ..."""
        frame = self.grid.rename(columns={"region": "province"}).copy()
        frame["year"] = frame["year"].astype(int)
        first = ["province", "year", "kgco2_per_kwh", "source", "confidence"]
        return frame[first + [c for c in frame.columns if c not in first]]

    def conversion_table(self, year: int | None = None) -> pd.DataFrame:
        """The factors in use, one row per carrier in its canonical unit.

        Columns carrier, unit, kgce_per_unit, kgco2_per_unit, scope, source, confidence, note.
        Electricity's CO2 factor depends on the province: its ``kgco2_per_unit`` is the national
        average for the year (see :meth:`grid_factors` for the provinces).
        """
        if year is None:
            year = int(self.grid["year"].max())
        records = []
        for carrier in units.CARRIERS:
            unit = units.CANONICAL_UNITS[carrier]
            tce = self.kgce_per_unit(carrier, unit, year)
            co2 = self.kgco2_per_unit(carrier, unit, year, None)
            records.append({
                "carrier": carrier, "unit": unit, "kgce_per_unit": tce.value,
                "kgco2_per_unit": co2.value, "scope": _SCOPE[carrier],
                "source": f"tce: {tce.source}; CO2: {co2.source}",
                "confidence": f"tce {tce.confidence}, CO2 {co2.confidence}",
                "note": _join(tce.note, co2.note),
            })
        return pd.DataFrame.from_records(records)

    def quotas(self, tables: list[str] | None = None) -> pd.DataFrame:
        """Quota rows (约束值 constraint / 基准值 baseline / 引导值 guide) of the chosen tables.

        ``tables`` defaults to ``[accounting] quota_tables``. An empty numeric cell is NaN: the
        standard does not give that value.
        """
        names = self.settings.quota_tables if tables is None else tables
        unknown = [t for t in names if t not in self.quota_tables]
        if unknown:
            raise ReferenceDataError(
                f"unknown quota table(s) {', '.join(unknown)}; available: "
                f"{', '.join(sorted(self.quota_tables))} (add your own as quotas/<table>.csv in "
                "a folder of [accounting] reference_dirs)"
            )
        if not names:
            return pd.DataFrame(columns=_QUOTA_COLUMNS)
        return pd.concat([self.quota_tables[t] for t in names], ignore_index=True)

    def available_quota_tables(self) -> list[str]:
        """Names of every quota table found (shipped and the deployer's)."""
        return sorted(self.quota_tables)

    def targets(self) -> pd.DataFrame:
        """十四五 targets, the 2020 national baseline and published outturns."""
        frame = self.target_table.copy()
        frame["year"] = frame["year"].astype(int)
        return frame

    def peer_averages(self) -> pd.DataFrame:
        """Published same-type averages (e.g. for 示范单位 scoring when a city has few peers)."""
        frame = self.peer_table.copy()
        frame["year"] = frame["year"].astype(int)
        return frame

    def verdict_rules(self) -> pd.DataFrame:
        """The verdicts' rules: rule, value, unit, year, source, confidence, ... (one row a rule).

        ``accounting.verdicts.rules.VerdictRules.from_table`` reads them; the shipped rows are in
        ``verdict_rules.csv`` of the set, a deployer's ``reference_dirs`` replace rows by ``rule``.
        """
        return self.rule_table.copy()

    def density_kg_per_l(self, fuel: str) -> Factor:
        """Density of a liquid fuel. [kg/L]"""
        rows = self._rows("densities", fuel=fuel)
        if not rows:
            raise MissingReferenceData(
                f"no density for {fuel!r} in {self._file_names('densities.csv')}; expected a "
                f"row with fuel = {fuel}"
            )
        row = rows[-1]
        return Factor(
            value=row["kg_per_l"], unit="kg/L", source=row["source"], year=row.get("year"),
            region=row.get("region", ""),
            confidence=row["confidence"], note=row.get("note", ""),
        )

    # -- helpers -------------------------------------------------------------------------------

    def _rows(self, table: str, **match: str) -> list[dict]:
        """Copies of the rows of ``table`` ("tce", "co2", "grid", "densities") that match."""
        frame = getattr(self, table)
        made_from, by_value = self._records.get(table, (None, {}))
        if made_from is not frame:  # first lookup, or the table was replaced since
            by_value = {}
            self._records[table] = (frame, by_value)
        (column, value), *others = match.items()
        if column not in by_value:  # the table's rows grouped by this column's value, once
            groups: dict = {}
            for r in frame.to_dict("records"):
                if "year" in r:
                    r["year"] = _year(r["year"])
                groups.setdefault(r[column], []).append(r)
            by_value[column] = groups
        return [dict(r) for r in by_value[column].get(value, [])
                if all(r[c] == v for c, v in others)]

    def _per_unit(
        self, carrier: str, row_unit: str, unit: str, value: float
    ) -> tuple[float, str]:
        """A per-``row_unit`` factor expressed per ``unit``, and a note on any conversion."""
        if unit == row_unit:
            return float(value), ""
        target = units.normalise_unit(carrier, unit)
        try:
            source = units.normalise_unit(carrier, row_unit)
        except UnitError:
            source = None
        if source is not None:
            factor = float(value) * units.unit_scale(carrier, target) / units.unit_scale(
                carrier, source
            )
            return factor, ""
        if row_unit == "kg" and units.CANONICAL_UNITS[carrier] == "L":
            density = self.density_kg_per_l(carrier)
            per_l = float(value) * density.value
            factor = per_l * units.unit_scale(carrier, target)
            return factor, (
                f"per {target} at {density.value} kg/L (density confidence {density.confidence})"
            )
        raise UnitError(f"cannot express a per-{row_unit} factor of {carrier} per {unit}")

    def _file_names(self, name: str) -> str:
        found = [str(p) for p in self.files if p.name == name]
        return ", ".join(found) or name


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n and str(n).strip())


def load_reference(settings: AccountingSettings, base_dir: Path | None = None) -> ReferenceData:
    """Load the reference data the settings choose.

    Parameters
    ----------
    settings
        The ``[accounting]`` section: ``factor_set``, ``reference_dirs`` and the choices.
    base_dir
        Folder that relative ``reference_dirs`` are relative to (the settings file's folder).

    Raises
    ------
    ReferenceDataError
        For an unknown set, a missing folder or a malformed file (naming file, row and column).
    """
    set_dir = REFERENCE_ROOT / settings.factor_set
    if not set_dir.is_dir():
        raise ReferenceDataError(
            f"[accounting] factor_set = {settings.factor_set!r}: no such reference-data set; "
            f"available: {', '.join(available_factor_sets())}"
        )
    base = Path(".") if base_dir is None else Path(base_dir)
    extra = [d if d.is_absolute() else (base / d).resolve() for d in settings.reference_dirs]
    for d in extra:
        if not d.is_dir():
            raise ReferenceDataError(
                f"[accounting] reference_dirs: {d} is not a folder; expected a folder of "
                "reference-data files"
            )
    folders = [set_dir, *extra]
    files: list[Path] = []
    tables: dict[str, pd.DataFrame] = {}
    for kind, spec in _SPECS.items():
        if kind == "quota":
            continue
        frames = []
        for folder in folders:
            path = folder / spec.name
            if path.is_file():
                frames.append(_read_csv(path, spec))
                files.append(path)
        if not frames:
            raise ReferenceDataError(f"{set_dir / spec.name}: reference file missing")
        tables[kind] = _merge(frames, spec.key)

    quota_tables: dict[str, pd.DataFrame] = {}
    for folder in folders:
        for path in sorted((folder / "quotas").glob("*.csv")):
            frame = _read_csv(path, _SPECS["quota"])
            for column in _QUOTA_COLUMNS:
                if column not in frame.columns:
                    frame[column] = ""
            wrong = frame["table"] != path.stem
            if wrong.any():
                i = int(wrong.to_numpy().nonzero()[0][0])
                raise ReferenceDataError(
                    f"{path}, row {i + 2}, column table = {frame['table'].iloc[i]!r}: expected "
                    f"{path.stem!r} (the file name)"
                )
            quota_tables[path.stem] = frame[_QUOTA_COLUMNS]
            files.append(path)
    log.debug("reference data loaded from %s", ", ".join(map(str, folders)))
    return ReferenceData(
        settings=settings, tce=tables["tce"], co2=tables["co2"], grid=tables["grid"],
        densities=tables["densities"], quota_tables=quota_tables,
        target_table=tables["targets"], peer_table=tables["peers"], rule_table=tables["rules"],
        files=files, plausibility=tables["plausibility"],
    )


def read_verdict_rules(folder: Path | None = None) -> pd.DataFrame:
    """The rows of one folder's ``verdict_rules.csv``, checked as :func:`load_reference` does.

    ``folder`` defaults to the shipped ``default`` set: the rules a verdict function applies
    when it is not given a deployment's (``accounting.verdicts.rules.DEFAULT_RULES``).

    Raises
    ------
    ReferenceDataError
        When the file is missing or malformed (naming file, row and column).
    """
    spec = _SPECS["rules"]
    path = (REFERENCE_ROOT / "default" if folder is None else Path(folder)) / spec.name
    if not path.is_file():
        raise ReferenceDataError(f"{path}: reference file missing")
    return _merge([_read_csv(path, spec)], spec.key)
