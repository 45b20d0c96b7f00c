"""Ledger import (台账导入) and the SQLite ledger database.

``jieneng import KIND FILE`` reads a CSV (UTF-8, with or without BOM) or the first sheet of an
.xlsx workbook, with English column names or the Chinese headers an officer types (单位编码,
建筑面积, 用能人数, 车牌号, 加油量(升) ...; see :mod:`accounting.ledger_schema`). The file is
validated whole: one bad row imports nothing, and :class:`LedgerImportError` lists every bad cell
(file, row, column, value, reason). A row whose key is already in the ledger replaces it, so
importing the same file twice changes nothing.

Rows that refer to other ledgers are checked against them: a building's institution must already
be imported (or be in the same file for ``institutions``), a fuel record's plate must be a known
vehicle, a compound member's compound must be in the compounds ledger; a bill or facility may
name a 集中办公区 (compound_id) instead of an institution. Import the ledgers in the order of
:data:`KINDS`: institutions, compounds, compound_members, buildings, headcount, vehicles, fuel,
charging, facilities, bills, apportionment.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import logging
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from accounting import units
from accounting.errors import (
    ImportInterrupted,
    LedgerDatabaseError,
    LedgerImportError,
    LedgerLocked,
    LedgerProblem,
    UnitError,
)
from accounting.ledger_schema import (
    IGNORED_HEADERS,
    KINDS,
    SCHEMAS,
    LedgerSchema,
    check_unit,
    header_map,
    normalise_header,
    parse_value,
)
from accounting.reference_data import ReferenceData, load_reference
from accounting.settings import AccountingConfig

__all__ = ["KINDS", "ImportResult", "LedgerStore", "import_ledger", "read_ledger_file"]

log = logging.getLogger(__name__)

_SQL_TYPES = {
    "text": "TEXT", "choice": "TEXT", "province": "TEXT", "date": "TEXT", "number": "REAL",
    "positive": "REAL", "year": "INTEGER", "positive_int": "INTEGER", "bool": "INTEGER",
}

#: Which other ledger a column must refer to: (kind, its key column).
_REFERENCES = {
    "institution_id": ("institutions", "institution_id"),
    "plate": ("vehicles", "plate"),
    "building_id": ("buildings", "building_id"),
    "compound_id": ("compounds", "compound_id"),
}

#: Ledgers whose rows may belong to a 集中办公区 instead of an institution: their institution_id
#: may name a compound of the compounds ledger.
_COMPOUND_OWNED = frozenset({"bills", "facilities"})

#: Tolerance of fixed apportionment shares summing to 1.
SHARE_TOLERANCE = 1e-6

#: How long a write waits for another import's lock on the ledger database. [s]
LOCK_TIMEOUT_S = 30.0

#: Ledgers whose whole-file rules (:func:`file_rules`) need every row at once (small files).
_WHOLE_FILE_KINDS = frozenset({"compound_members", "apportionment"})


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows read, how many were new and how many replaced existing rows."""

    kind: str
    file: Path
    ledger: Path
    rows: int
    added: int
    replaced: int


def _cells_csv(path: Path) -> list[list[object]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [list(row) for row in csv.reader(handle)]


def _cells_xlsx(path: Path) -> list[list[object]]:
    from openpyxl import load_workbook  # only needed for Excel files

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_ledger_file(
    kind: str, path: Path
) -> tuple[list[tuple[int, dict[str, object]]], list[LedgerProblem]]:
    """Parse and validate a ledger file on its own (no database).

    Returns
    -------
    rows
        (spreadsheet row number, {column: parsed value}) for every non-empty row.
    problems
        Every problem found; rows are only usable when this is empty.
    """
    schema = SCHEMAS[kind]
    file = str(path)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            cells = _cells_xlsx(path)
        elif path.suffix.lower() in (".csv", ".txt"):
            cells = _cells_csv(path)
        else:
            return [], [LedgerProblem(file, 0, "", path.suffix, "expected a .csv or .xlsx file")]
    except FileNotFoundError:
        return [], [LedgerProblem(file, 0, "", "", "file not found")]
    except UnicodeDecodeError:
        return [], [LedgerProblem(
            file, 0, "", "", "not UTF-8 text; save the sheet as 'CSV UTF-8' or as .xlsx"
        )]
    except Exception as exc:  # openpyxl raises several kinds for a broken workbook
        return [], [LedgerProblem(file, 0, "", "", f"cannot read the file: {exc}")]

    def blank(row: list[object]) -> bool:
        return all(c is None or str(c).strip() == "" for c in row)

    start = next((i for i, row in enumerate(cells) if not blank(row)), None)
    if start is None:
        return [], [LedgerProblem(file, 0, "", "", "the file is empty; expected a header row")]
    columns, problems = _map_header(schema, cells[start], file, start + 1)
    if problems:
        return [], problems

    rows: list[tuple[int, dict[str, object]]] = []
    for offset, raw in enumerate(cells[start + 1:], start=start + 2):
        if blank(raw):
            continue
        record: dict[str, object] = {}
        for index, name in columns.items():
            cell = raw[index] if index < len(raw) else None
            value, reason = parse_value(schema.column(name), cell)
            if reason:
                problems.append(LedgerProblem(file, offset, name, _show(cell), reason))
            record[name] = value
        for col in schema.columns:
            record.setdefault(col.name, None)
        problems += _row_rules(kind, record, file, offset)
        rows.append((offset, record))
    if not rows:
        problems.append(LedgerProblem(file, 0, "", "", "no data rows below the header"))
    problems += _duplicate_keys(schema, rows, file)
    return rows, problems


def _show(cell: object) -> str:
    return "" if cell is None else str(cell)


def _map_header(
    schema: LedgerSchema, header: list[object], file: str, row: int
) -> tuple[dict[int, str], list[LedgerProblem]]:
    """Column index → column name, and problems with the header row."""
    known = header_map(schema)
    columns: dict[int, str] = {}
    problems = []
    for index, cell in enumerate(header):
        text = normalise_header(_show(cell))
        if text == "" or text in IGNORED_HEADERS:
            continue
        name = known.get(text) or known.get(text.split("(")[0])
        if name is None:
            close = difflib.get_close_matches(text, list(known), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            problems.append(LedgerProblem(
                file, row, _show(cell), _show(cell),
                f"unknown column for the {schema.kind} ledger; {hint}expected: "
                f"{', '.join(c.name for c in schema.columns)}",
            ))
        elif name in columns.values():
            problems.append(LedgerProblem(file, row, name, _show(cell), "column given twice"))
        else:
            columns[index] = name
    for col in schema.columns:
        if col.required and col.name not in columns.values():
            aliases = f" (or {' / '.join(col.aliases)})" if col.aliases else ""
            problems.append(LedgerProblem(
                file, row, col.name, "", f"required column missing: {col.name}{aliases}"
            ))
    return columns, problems


def _row_rules(kind: str, record: dict, file: str, row: int,
               checks: RowChecks | None = None) -> list[LedgerProblem]:
    """Checks across the cells of one row (and, with ``checks``, against the reference data)."""
    problems = []
    if kind == "bills":
        unit, reason = check_unit(record["carrier"], record["unit"])
        if reason:
            problems.append(LedgerProblem(file, row, "unit", _show(record["unit"]), reason))
        record["unit"] = unit
        start, end = record["period_start"], record["period_end"]
        if start is not None and end is not None and end < start:
            problems.append(LedgerProblem(
                file, row, "period_end", str(end), f"before period_start {start}"
            ))
        if record["green"] and record["carrier"] not in (None, "electricity"):
            problems.append(LedgerProblem(
                file, row, "green", "yes", "only electricity can be certified green electricity"
            ))
        record["account"] = record["account"] or ""
    if kind == "buildings":
        area, heated = record["floor_area_m2"], record["heated_area_m2"]
        if area is not None and heated is not None and heated > area:
            problems.append(LedgerProblem(
                file, row, "heated_area_m2", str(heated), f"larger than floor_area_m2 {area}"
            ))
        start, end = record["in_use_from"], record["in_use_until"]
        if start is not None and end is not None and end < start:
            problems.append(LedgerProblem(
                file, row, "in_use_until", str(end),
                f"before in_use_from {start}; expected the last day in use, on or after the first",
            ))
    if kind == "vehicles" and record["fuel"] == "electric" and record["new_energy"] is False:
        problems.append(LedgerProblem(
            file, row, "new_energy", "no", "an electric vehicle is a new-energy vehicle"
        ))
    if kind == "facilities":
        if record["kind"] == "data_center":
            for name in ("year", "it_energy_kwh", "total_energy_kwh"):
                if record[name] is None:
                    problems.append(LedgerProblem(
                        file, row, name, "", "required for a data_center (its EUE needs it)"
                    ))
            it, total = record["it_energy_kwh"], record["total_energy_kwh"]
            if it is not None and total is not None and it > total:
                problems.append(LedgerProblem(
                    file, row, "it_energy_kwh", str(it), f"larger than total_energy_kwh {total}"
                ))
        record["year"] = record["year"] if record["year"] is not None else 0
    if kind == "fuel":
        record["record_key"] = record["record_id"] or "|".join(
            _show(record[c]) for c in ("date", "plate", "fuel", "litres", "cost_cny")
        )
    if checks is not None:
        problems += checks.problems(kind, record, file, row)
    problems += bureau_row_rules(kind, record, file, row)
    return problems


def bureau_row_rules(kind: str, record: dict, file: str, row: int,
                     today: dt.date | None = None) -> list[LedgerProblem]:
    """Checks across the cells of one row of the bureau's ledgers (compounds, boundary, vehicles,
    charging, region codes). ``today`` (default: the clock's) dates an odometer from the future."""
    problems = []
    day = dt.date.today() if today is None else today
    if kind == "institutions" and record.get("region_code") is not None:
        code = str(record["region_code"]).strip()
        if code.endswith(".0"):
            code = code[:-2]
        if not (len(code) == 6 and code.isdigit()):
            problems.append(LedgerProblem(
                file, row, "region_code", code, "expected the 6-digit 行政区划代码, e.g. 370102"))
        record["region_code"] = code
    for start_col, end_col in (("from", "until"), ("in_use_from", "in_use_until")):
        if kind in ("compound_members", "vehicles") and start_col in record:
            start, end = record.get(start_col), record.get(end_col)
            if start is not None and end is not None and end < start:
                problems.append(LedgerProblem(
                    file, row, end_col, str(end),
                    f"before {start_col} {start}; expected the last day, on or after the first"))
    if (kind in ("fuel", "charging") and record.get("odometer_km") is not None
            and record.get("date") is not None and record["date"] > day):
        problems.append(LedgerProblem(
            file, row, "odometer_km", _show(record["odometer_km"]),
            f"an odometer reading dated {record['date']}, after today ({day}); expected a "
            "reading already taken"))
    if kind == "charging":
        record["record_key"] = record["record_id"] or "|".join(
            _show(record[c]) for c in ("date", "plate", "kwh", "cost_cny"))
    if kind == "apportionment":
        rule, rest = record["rule"], record["residual_rule"]
        member, share = record["institution_id"], record["share"]
        record["member_key"] = member or "*"
        if rule == "residual" and rest == "residual":
            problems.append(LedgerProblem(
                file, row, "residual_rule", "residual",
                "the rest of a residual is split by area, occupants or fixed"))
        if rule != "residual" and rest is not None:
            problems.append(LedgerProblem(
                file, row, "residual_rule", rest, "only for rule residual; leave it blank"))
        fixed = rule == "fixed" or (rule == "residual" and rest == "fixed")
        if share is not None and not fixed:
            problems.append(LedgerProblem(
                file, row, "share", _show(share), f"a share is only for fixed shares, not {rule}"))
        if fixed and (member is None) != (share is None):
            missing = "share" if share is None else "institution_id"
            problems.append(LedgerProblem(
                file, row, missing, "", "a fixed share names its member and its share"))
        if share is not None and share > 1:
            problems.append(LedgerProblem(
                file, row, "share", _show(share), "expected a share between 0 and 1"))
    return problems


def file_rules(kind: str, rows: list[tuple[int, dict]], file: str) -> list[LedgerProblem]:
    """Checks across the rows of one file: a member in two compounds at once; apportionment
    rules that disagree or fixed shares that do not sum to 1."""
    if kind == "compound_members":
        return member_overlaps(rows, file)
    if kind != "apportionment":
        return []
    problems = []
    groups: dict[tuple, list[tuple[int, dict]]] = {}
    for row, record in rows:
        groups.setdefault((record["compound_id"], record["carrier"]), []).append((row, record))
    for (compound, carrier), members in groups.items():
        rules = {(r["rule"], r["residual_rule"]) for _, r in members}
        if len(rules) > 1:
            for row, record in members[1:]:
                problems.append(LedgerProblem(
                    file, row, "rule", _show(record["rule"]),
                    f"compound {compound} {carrier} has rows with different rules; expected one "
                    "rule per compound and carrier"))
            continue
        rule, rest = next(iter(rules))
        fixed = rule == "fixed" or (rule == "residual" and rest == "fixed")
        shares = [(row, r["share"]) for row, r in members if r["share"] is not None]
        if fixed and shares:
            total = sum(value for _, value in shares)
            if abs(total - 1.0) > SHARE_TOLERANCE:
                for row, value in shares:
                    problems.append(LedgerProblem(
                        file, row, "share", _show(value),
                        f"the fixed shares of compound {compound} {carrier} sum to {total:g}; "
                        "expected 1"))
    return problems


def member_overlaps(rows: list[tuple[int, dict]], file: str) -> list[LedgerProblem]:
    """Rows putting one institution in two compounds (or twice in one) on the same day."""
    problems = []
    lo, hi = dt.date.min, dt.date.max
    by_member: dict[object, list[tuple[int, dict]]] = {}
    for row, record in rows:
        by_member.setdefault(record["institution_id"], []).append((row, record))
    for member, spans in by_member.items():
        for i, (row_a, a) in enumerate(spans):
            for row_b, b in spans[:i]:
                if (a["from"] or lo) <= (b["until"] or hi) and (b["from"] or lo) <= (a["until"] or hi):
                    where = f"row {row_b}" if row_b > 0 else "the compound_members ledger"
                    problems.append(LedgerProblem(
                        file, row_a, "institution_id", str(member),
                        f"in compound {a['compound_id']} while also in compound "
                        f"{b['compound_id']} ({where}); expected one compound at a time"))
    return problems



def _duplicate_keys(
    schema: LedgerSchema, rows: list[tuple[int, dict]], file: str
) -> list[LedgerProblem]:
    seen: dict[tuple, int] = {}
    problems = []
    for row, record in rows:
        key = tuple(record.get(k) for k in schema.key)
        if any(v is None for v in key):
            continue
        if key in seen:
            problems.append(LedgerProblem(
                file, row, ", ".join(schema.key), " | ".join(map(str, key)),
                f"same key as row {seen[key]}; each row must be unique"
                + (" (add a record_id column to tell them apart)" if schema.kind == "fuel" else ""),
            ))
        else:
            seen[key] = row
    return problems


class LedgerStore:
    """The ledgers of one deployment in one SQLite file.

    Parameters
    ----------
    path
        The database file; created (with its folder) on first write.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn SQLite's errors about the database file into :class:`LedgerDatabaseError`."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise LedgerLocked(
                    f"the ledger database {self.path} is locked by another import (waited "
                    f"{LOCK_TIMEOUT_S:g} s); try again when it has finished") from exc
            raise LedgerDatabaseError(
                f"{self.path}: cannot use the ledger database ({exc}); check [accounting] "
                "ledger_path: a database file in a folder this user can write to") from exc
        except sqlite3.DatabaseError as exc:  # "file is not a database"
            raise LedgerDatabaseError(
                f"{self.path}: not a ledger database ({exc}); check [accounting] ledger_path "
                "(a path that does not exist yet is created by the first import)") from exc
        except OSError as exc:  # its folder cannot be made (a file is in the way, no permission)
            raise LedgerDatabaseError(
                f"{self.path}: cannot create the ledger database ({exc.strerror or exc}); check "
                "[accounting] ledger_path") from exc

    def _connect(self) -> sqlite3.Connection:
        with self._errors():
            if self.path.is_dir():
                raise LedgerDatabaseError(
                    f"{self.path}: is a folder; [accounting] ledger_path must name a database "
                    "file, e.g. var/ledgers.sqlite")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=LOCK_TIMEOUT_S)
            try:
                return self._prepare(conn)
            except BaseException:
                conn.close()
                raise

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.execute("PRAGMA journal_mode=WAL")
        for schema in SCHEMAS.values():
            conn.execute(_create_sql(schema))
            _add_missing_columns(conn, schema)
            keys = ", ".join(_q(k) for k in schema.key)
            conn.execute(
                f"CREATE INDEX IF NOT EXISTS {_q(schema.kind + '_key')} ON {_q(schema.kind)} ({keys})"
            )
        return conn

    def table(self, kind: str) -> pd.DataFrame:
        """A ledger as a frame with English column names.

        Dates are ``datetime64`` (midnight), flags are bool, an empty optional cell is NaN/None.
        Bills carry ``use`` ("purchased", "stationary", "generation", "green"), filled from the
        carrier when the file left it empty.
        """
        schema = _schema(kind)
        names = [c.name for c in schema.columns]
        if self.path.exists():
            conn = self._connect()
            try:
                # Fetched in chunks: never the whole ledger as a list of tuples beside its frame.
                cursor = conn.execute(
                    f'SELECT {", ".join(_q(n) for n in names)} FROM {_q(kind)} ORDER BY rowid')
                chunks = []
                while rows := cursor.fetchmany(CHUNK_ROWS):
                    chunks.append(pd.DataFrame.from_records(rows, columns=names))
                frame = (pd.concat(chunks, ignore_index=True) if len(chunks) > 1
                         else chunks[0] if chunks else pd.DataFrame(columns=names))
            finally:
                conn.close()
        else:
            frame = pd.DataFrame(columns=names)
        return _typed(schema, frame)

    def import_rows(
        self, kind: str, rows: list[tuple[int, dict]], file: str
    ) -> tuple[int, int, list[LedgerProblem]]:
        """Write validated rows in one transaction: (added, replaced, reference problems).

        When a row refers to an unknown institution or vehicle nothing is written.
        """
        schema = _schema(kind)
        names = [c.name for c in schema.columns]
        stored = [*names, *(k for k in schema.key if k not in names)]
        conn = self._connect()
        try:
            with self._errors():
                conn.execute("BEGIN IMMEDIATE")
            problems = self._reference_problems(conn, kind, rows, file)
            if problems:
                conn.rollback()
                return 0, 0, problems
            added = replaced = 0
            if kind == "apportionment":  # a file's rule replaces a compound × carrier's rows
                for pair in {(r["compound_id"], r["carrier"]) for _, r in rows}:
                    keep = [r["member_key"] for _, r in rows
                            if (r["compound_id"], r["carrier"]) == pair]
                    conn.execute(
                        'DELETE FROM "apportionment" WHERE "compound_id" = ? AND "carrier" = ? '
                        f'AND "member_key" NOT IN ({", ".join("?" for _ in keep)})',
                        [*pair, *keep])
            where = " AND ".join(f"{_q(k)} IS ?" for k in schema.key)
            for _, record in rows:
                key = [_sql_value(record[k]) for k in schema.key]
                deleted = conn.execute(f"DELETE FROM {_q(kind)} WHERE {where}", key).rowcount
                replaced += 1 if deleted else 0
                added += 0 if deleted else 1
                conn.execute(
                    f"INSERT INTO {_q(kind)} ({', '.join(_q(n) for n in stored)}) "
                    f"VALUES ({', '.join('?' for _ in stored)})",
                    [_sql_value(record.get(n)) for n in stored],
                )
            conn.commit()
            return added, replaced, []
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def reference_problems(
        self, kind: str, rows: list[tuple[int, dict]], file: str
    ) -> list[LedgerProblem]:
        """Rows that name an institution or vehicle the ledgers do not have."""
        if not self.path.exists():
            conn = sqlite3.connect(":memory:")  # no ledgers yet: check against empty ones
            for schema in SCHEMAS.values():
                conn.execute(_create_sql(schema))
        else:
            conn = self._connect()
        try:
            return self._reference_problems(conn, kind, rows, file)
        finally:
            conn.close()

    def _reference_problems(
        self, conn: sqlite3.Connection, kind: str, rows: list[tuple[int, dict]], file: str
    ) -> list[LedgerProblem]:
        problems = []
        for column, (other, other_key) in _REFERENCES.items():
            if kind == other or column not in (c.name for c in SCHEMAS[kind].columns):
                continue
            known = {r[0] for r in conn.execute(f"SELECT {_q(other_key)} FROM {_q(other)}")}
            if column == "institution_id" and kind in _COMPOUND_OWNED:
                known |= {r[0] for r in conn.execute('SELECT "compound_id" FROM "compounds"')}
            for row, record in rows:
                value = record.get(column)
                if value is not None and value not in known:
                    close = difflib.get_close_matches(str(value), sorted(known), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    problems.append(LedgerProblem(
                        file, row, column, str(value),
                        f"not in the {other} ledger{hint}; import {other} first",
                    ))
        return problems


def _schema(kind: str) -> LedgerSchema:
    if kind not in SCHEMAS:
        raise ValueError(f"unknown ledger kind {kind!r}; expected one of {', '.join(KINDS)}")
    return SCHEMAS[kind]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create_sql(schema: LedgerSchema) -> str:
    cols = [f"{_q(c.name)} {_SQL_TYPES[c.kind]}" for c in schema.columns]
    cols += [f"{_q(k)} TEXT" for k in schema.key if k not in {c.name for c in schema.columns}]
    return f"CREATE TABLE IF NOT EXISTS {_q(schema.kind)} ({', '.join(cols)})"


def _add_missing_columns(conn: sqlite3.Connection, schema: LedgerSchema) -> None:
    """Bring a ledger database written by an earlier version up to date: optional columns added
    since (e.g. the buildings' in_use_from / in_use_until) are added, empty."""
    have = {row[1] for row in conn.execute(f"PRAGMA table_info({_q(schema.kind)})")}
    for col in schema.columns:
        if col.name not in have:
            conn.execute(f"ALTER TABLE {_q(schema.kind)} ADD COLUMN {_q(col.name)} "
                         f"{_SQL_TYPES[col.kind]}")


def _sql_value(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _typed(schema: LedgerSchema, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame  # (the caller's own frame, typed in place)
    for col in schema.columns:
        if col.kind == "date":
            out[col.name] = pd.to_datetime(out[col.name], format="%Y-%m-%d")
        elif col.kind in ("number", "positive"):
            out[col.name] = pd.to_numeric(out[col.name]).astype(float)
        elif col.kind in ("year", "positive_int"):
            values = pd.to_numeric(out[col.name])
            out[col.name] = values.astype("Int64") if values.isna().any() else values.astype(int)
        elif col.kind == "bool":
            out[col.name] = pd.to_numeric(out[col.name]).fillna(0).astype(bool)
        else:
            out[col.name] = out[col.name].astype(object)
    if schema.kind == "facilities":
        out["year"] = out["year"].astype("Int64").where(out["year"] != 0)
    if schema.kind == "bills":
        out["use"] = out["use"].where(out["use"].notna(), out["carrier"].map(default_use))
        out.loc[out["green"], "use"] = "green"
    return out


def default_use(carrier: str) -> str:
    """How a bill's carrier is used unless the ledger says otherwise."""
    if carrier == "pv":
        return "generation"
    if carrier in ("electricity", "heat", "water"):
        return "purchased"
    return "stationary"


class RowChecks:
    """Checks of a ledger row against the reference data: the province an institution is in
    must have a grid factor, and a bill or fuel record may not hold more per month than the
    largest public institution could use (``plausibility.csv``).

    Parameters
    ----------
    reference
        The deployment's reference data (``accounting.reference_data.load_reference``).
    """

    def __init__(self, reference: ReferenceData):
        self.provinces = frozenset(reference.provinces())
        self._reference = reference
        self._bounds: dict[str, object] = {}

    def _bound(self, carrier: str) -> object:
        if carrier not in self._bounds:
            self._bounds[carrier] = self._reference.plausibility_bound(
                carrier, units.CANONICAL_UNITS[carrier])
        return self._bounds[carrier]

    def problems(self, kind: str, record: dict, file: str, row: int) -> list[LedgerProblem]:
        """What is wrong with one parsed row (its cells already valid on their own)."""
        if kind == "institutions":
            province = record.get("province")
            if province is not None and province not in self.provinces:
                hint = difflib.get_close_matches(str(province), sorted(self.provinces), n=1)
                national = (" ('national' is not a province: to use the national grid factor "
                            "for every institution set [accounting] emission_factor_policy = "
                            "\"national\")" if province in ("national", "china") else "")
                did = f"did you mean {hint[0]!r}? " if hint else ""
                return [LedgerProblem(
                    file, row, "province", str(province),
                    f"unknown province{national}; {did}expected one of the provinces with a "
                    f"grid factor: {', '.join(sorted(self.provinces))}")]
            return []
        if kind == "bills":
            carrier, unit, quantity = record.get("carrier"), record.get("unit"), record.get(
                "quantity")
            start, end = record.get("period_start"), record.get("period_end")
            if None in (carrier, unit, quantity, start, end) or end < start:  # type: ignore[operator]
                return []
            days = (end - start).days + 1  # type: ignore[operator]
            return self._above_bound(file, row, "quantity", str(carrier), str(unit),
                                     float(quantity), days)  # type: ignore[arg-type]
        if kind == "fuel" and record.get("fuel") is not None and record.get("litres") is not None:
            return self._above_bound(file, row, "litres", str(record["fuel"]), "L",
                                     float(record["litres"]), 1)
        return []

    def _above_bound(self, file: str, row: int, column: str, carrier: str, unit: str,
                     quantity: float, days: int) -> list[LedgerProblem]:
        bound = self._bound(carrier)
        if bound is None:
            return []
        try:
            canonical = quantity * units.unit_scale(carrier, unit)
        except UnitError:
            return []  # reported as a unit problem
        months = max(days / _DAYS_PER_MONTH, 1.0)
        per_month = canonical / months
        limit = bound.value  # type: ignore[attr-defined]
        if per_month <= limit:
            return []
        canon = units.CANONICAL_UNITS[carrier]
        over = "" if months == 1.0 else f" over {days} days = {per_month:,.6g} {canon}/month"
        return [LedgerProblem(
            file, row, column, f"{quantity:g}",
            f"{quantity:,.6g} {unit}{over} is above the plausibility bound of "
            f"{limit:,.0f} {canon} a month for {carrier} (plausibility.csv: "
            f"{bound.source}, confidence {bound.confidence}); "  # type: ignore[attr-defined]
            "check the number and its unit")]


#: Days of an average month, for the plausibility bound of a bill's period. [days]
_DAYS_PER_MONTH = 365.25 / 12

#: Rows parsed and staged at a time: an import holds one chunk in memory, not the file.
CHUNK_ROWS = 20_000

#: Problems listed at most (the rest are counted): a file of bad rows must not fill the memory.
MAX_PROBLEMS = 2_000

#: A bill's overlap group: bills of one account (whatever the institution), or, without an
#: account, of one institution. With the carrier, bills of one group must not overlap.
_GROUP_SQL = ("CASE WHEN {t}.\"account\" IS NULL OR {t}.\"account\" = '' "
              "THEN 'institution ' || {t}.\"institution_id\" ELSE 'account ' || {t}.\"account\" END")


def _iter_cells(path: Path) -> Iterator[list[object]]:
    """The file's rows, one at a time (a CSV or the first sheet of a workbook)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook  # only needed for Excel files

        workbook = load_workbook(path, read_only=True, data_only=True)
        try:
            for row in workbook.worksheets[0].iter_rows(values_only=True):
                yield list(row)
        finally:
            workbook.close()
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                yield list(row)


class _Staging:
    """A ledger file parsed, validated and staged chunk by chunk in a scratch SQLite file, so
    that memory holds one chunk, never the file; what needs the whole file (duplicate keys,
    overlapping bills, references) is checked in SQL."""

    def __init__(self, kind: str, path: Path, checks: RowChecks | None):
        self.kind = kind
        self.schema = SCHEMAS[kind]
        self.path = path
        self.file = str(path)
        self.checks = checks
        self.problems: list[LedgerProblem] = []
        self.more_problems = 0
        self.rows = 0
        #: (row, record) of every row, for the whole-file rules of small ledgers
        self.records: list[tuple[int, dict]] = []
        self.stored = [c.name for c in self.schema.columns] + [
            k for k in self.schema.key if k not in {c.name for c in self.schema.columns}]
        handle, name = tempfile.mkstemp(prefix="jieneng-import-", suffix=".sqlite")
        os.close(handle)
        self.db = Path(name)
        self.conn = sqlite3.connect(self.db)
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        cols = ", ".join(f"{_q(n)}" for n in self.stored)
        self.conn.execute(f"CREATE TABLE rows (__row INTEGER PRIMARY KEY, {cols}, __group TEXT)")

    def close(self) -> None:
        self.conn.close()
        self.db.unlink(missing_ok=True)

    def add(self, problem: LedgerProblem) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        else:
            self.more_problems += 1

    def read(self) -> None:
        """Parse and stage every row of the file; cell and row problems are collected."""
        schema, file = self.schema, self.file
        suffix = self.path.suffix.lower()
        if suffix not in (".xlsx", ".xlsm", ".csv", ".txt"):
            self.add(LedgerProblem(file, 0, "", self.path.suffix, "expected a .csv or .xlsx file"))
            return
        cells = _iter_cells(self.path)
        try:
            header, number = None, 0
            for number, raw in enumerate(cells, start=1):  # noqa: B007 - number is used below
                if not _blank(raw):
                    header = raw
                    break
            if header is None:
                self.add(LedgerProblem(file, 0, "", "", "the file is empty; expected a header row"))
                return
            columns, problems = _map_header(schema, header, file, number)
            if problems:
                for problem in problems:
                    self.add(problem)
                return
            parsers = [(index, schema.column(name)) for index, name in columns.items()]
            chunk: list[tuple] = []
            insert = (f"INSERT INTO rows (__row, {', '.join(_q(n) for n in self.stored)}, "
                      f"__group) VALUES ({', '.join('?' for _ in range(len(self.stored) + 2))})")
            for offset, raw in enumerate(cells, start=number + 1):
                if _blank(raw):
                    continue
                record: dict[str, object] = {}
                width = len(raw)
                for index, column in parsers:
                    cell = raw[index] if index < width else None
                    value, reason = parse_value(column, cell)
                    if reason:
                        self.add(LedgerProblem(file, offset, column.name, _show(cell), reason))
                    record[column.name] = value
                for col in schema.columns:
                    record.setdefault(col.name, None)
                for problem in _row_rules(self.kind, record, file, offset, self.checks):
                    self.add(problem)
                if self.kind in _WHOLE_FILE_KINDS:
                    self.records.append((offset, dict(record)))
                self.rows += 1
                group = None
                if self.kind == "bills":
                    group = (f"account {record['account']}" if record["account"]
                             else f"institution {record['institution_id']}")
                chunk.append((offset, *(_sql_value(record.get(n)) for n in self.stored), group))
                if len(chunk) >= CHUNK_ROWS:
                    self.conn.executemany(insert, chunk)
                    chunk = []
            self.conn.executemany(insert, chunk)
        except UnicodeDecodeError:
            self.problems, self.more_problems = [], 0
            self.add(LedgerProblem(
                file, 0, "", "", "not UTF-8 text; save the sheet as 'CSV UTF-8' or as .xlsx"))
            return
        except FileNotFoundError:
            self.add(LedgerProblem(file, 0, "", "", "file not found"))
            return
        except (csv.Error, OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as exc:
            # openpyxl raises several kinds for a broken workbook (a .xlsx is a zip file)
            self.add(LedgerProblem(file, 0, "", "", f"cannot read the file: {exc}"))
            return
        if self.rows == 0:
            self.add(LedgerProblem(file, 0, "", "", "no data rows below the header"))
        self.conn.commit()
        self._duplicate_keys()
        for problem in file_rules(self.kind, self.records, file):
            self.add(problem)

    def _duplicate_keys(self) -> None:
        key = ", ".join(_q(k) for k in self.schema.key)
        not_null = " AND ".join(f"{_q(k)} IS NOT NULL" for k in self.schema.key)
        self.conn.execute(f"CREATE INDEX rows_key ON rows ({key}, __row)")
        query = (f"SELECT __row, first, {key} FROM (SELECT __row, {key}, MIN(__row) OVER "
                 f"(PARTITION BY {key}) AS first FROM rows WHERE {not_null}) "
                 "WHERE __row <> first ORDER BY __row")
        hint = " (add a record_id column to tell them apart)" if self.kind == "fuel" else ""
        for row, first, *values in self.conn.execute(query):
            self.add(LedgerProblem(
                self.file, row, ", ".join(self.schema.key), " | ".join(map(str, values)),
                f"same key as row {first}; each row must be unique{hint}"))

    def ledger_problems(self, conn: sqlite3.Connection, staged: str, ledger: str) -> None:
        """Problems against the ledger: unknown references and overlapping bills. ``conn`` sees
        the staged rows as ``{staged}.rows`` and the ledger tables as ``{ledger}.<kind>``."""
        kind, file = self.kind, self.file
        for column, (other, other_key) in _REFERENCES.items():
            if kind == other or column not in (c.name for c in self.schema.columns):
                continue
            compounds = (f" AND {_q(column)} NOT IN (SELECT compound_id FROM {ledger}.compounds)"
                         if column == "institution_id" and kind in _COMPOUND_OWNED else "")
            query = (f"SELECT __row, {_q(column)} FROM {staged}.rows WHERE {_q(column)} IS NOT "
                     f"NULL AND {_q(column)} NOT IN (SELECT {_q(other_key)} FROM "
                     f"{ledger}.{_q(other)}){compounds} ORDER BY __row")
            bad = conn.execute(query).fetchmany(MAX_PROBLEMS + 1)
            known: list[str] | None = None
            for row, value in bad:
                if known is None:
                    known = sorted(str(r[0]) for r in conn.execute(
                        f"SELECT {_q(other_key)} FROM {ledger}.{_q(other)}"))
                close = difflib.get_close_matches(str(value), known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(LedgerProblem(file, row, column, str(value),
                                       f"not in the {other} ledger{hint}; import {other} first"))
        if kind == "bills":
            self._overlaps(conn, staged, ledger)

    def _overlaps(self, conn: sqlite3.Connection, staged: str, ledger: str) -> None:
        """Bills of one group and carrier whose periods overlap, in the file or against the
        ledger (a ledger bill with the same key is replaced, one that a correction overlaps is
        replaced too, so neither counts)."""
        group = _GROUP_SQL.format(t="l")
        same_key = " AND ".join(f"r.{_q(k)} IS l.{_q(k)}" for k in self.schema.key)
        conn.execute("DROP TABLE IF EXISTS temp.bill_periods")
        conn.execute(f"""
            CREATE TEMP TABLE bill_periods AS
            SELECT 0 AS in_ledger, __row AS ref, carrier, __group AS grp, institution_id,
                   period_start AS s, period_end AS e
            FROM {staged}.rows
            UNION ALL
            SELECT 1, l.rowid, l.carrier, {group}, l.institution_id, l.period_start,
                   l.period_end
            FROM {ledger}.bills AS l
            WHERE EXISTS (SELECT 1 FROM {staged}.rows AS r
                          WHERE r.carrier = l.carrier AND r.__group = {group})
              AND NOT EXISTS (SELECT 1 FROM {staged}.rows AS r WHERE {same_key})
              AND NOT EXISTS (SELECT 1 FROM {staged}.rows AS r
                              WHERE r.replaces = 1 AND r.carrier = l.carrier
                                AND r.__group = {group}
                                AND r.period_start <= l.period_end
                                AND l.period_start <= r.period_end)""")
        conn.execute("CREATE INDEX temp.bill_periods_at ON bill_periods (carrier, grp, s)")
        flagged = conn.execute("""
            SELECT in_ledger, ref, carrier, grp, s, e FROM (
                SELECT *, MAX(e) OVER (PARTITION BY carrier, grp ORDER BY s, in_ledger, ref
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS before
                FROM bill_periods)
            WHERE before >= s""").fetchmany(MAX_PROBLEMS + 1)
        for in_ledger, ref, carrier, grp, s, e in flagged:
            other = conn.execute("""
                SELECT in_ledger, ref, s, e FROM bill_periods
                WHERE carrier = ? AND grp = ? AND s <= ? AND e >= ?
                  AND (s < ? OR (s = ? AND (in_ledger < ? OR (in_ledger = ? AND ref < ?))))
                ORDER BY s LIMIT 1""", (carrier, grp, e, s, s, s, in_ledger, in_ledger,
                                        ref)).fetchone()
            if other is None or (in_ledger and other[0]):
                continue  # both already in the ledger: not this file's doing
            if in_ledger:  # report it on the file's row
                (in_ledger, ref, s, e), other = other, (in_ledger, ref, s, e)
            where = (f"ledger row id {other[1]} (bills, imported earlier)" if other[0]
                     else f"row {other[1]} of this file")
            self.add(LedgerProblem(
                self.file, ref, "period_start", f"{s}…{e}",
                f"overlaps {where}, {other[2]}…{other[3]}, {carrier} of the same "
                f"{grp}: its days would be counted twice; correct the period, or mark the "
                "bill that corrects the other with replaces = yes (更正)"))
        conn.execute("DROP TABLE temp.bill_periods")


def _blank(row: list[object]) -> bool:
    return all(c is None or str(c).strip() == "" for c in row)


def import_ledger(kind: str, path: str | Path, settings: AccountingConfig) -> ImportResult:
    """Validate a ledger file whole and import it atomically.

    The file is read and checked chunk by chunk (:data:`CHUNK_ROWS` rows) into a scratch
    database, so its size does not bound what memory holds. A bill whose period overlaps another
    of the file or of the ledger (same account; without an account, same institution; same
    carrier) is an error naming both rows, unless it says ``replaces = yes`` (更正): then it
    replaces the ledger's bills it overlaps. Institutions must be in a province with a grid
    factor; bills and fuel records may not exceed the plausibility bounds (``plausibility.csv``).

    Parameters
    ----------
    kind
        One of institutions, buildings, headcount, vehicles, fuel, facilities, bills.
    path
        The CSV (UTF-8) or .xlsx file.
    settings
        Gives the ledger database: ``settings.resolve(settings.accounting.ledger_path)``, and
        the reference data.

    Raises
    ------
    LedgerImportError
        Listing every bad row (file, row, column, value, reason); nothing was imported.
    ImportInterrupted
        Ctrl-C before the import was written; nothing was imported.
    """
    schema = _schema(kind)
    path = Path(path)
    ledger = settings.resolve(settings.accounting.ledger_path)
    store = LedgerStore(ledger)
    stage: _Staging | None = None
    committed = False
    try:
        checks = (RowChecks(load_reference(settings.accounting, settings.base_dir))
                  if kind in ("institutions", "bills", "fuel") else None)
        stage = _Staging(kind, path, checks)
        stage.read()
        readable = not any(p.row == 0 for p in stage.problems)  # a header or file problem
        if readable and (stage.problems or not ledger.exists()):
            # Every problem is listed at once: check the references too, against the ledger as
            # it is (empty ones when there is none yet: the database is not created).
            if ledger.exists():
                stage.conn.execute("ATTACH DATABASE ? AS ledger", (str(ledger),))
            else:
                stage.conn.execute("ATTACH DATABASE ':memory:' AS ledger")
                for other in SCHEMAS.values():
                    stage.conn.execute(_create_sql(other).replace(
                        "CREATE TABLE IF NOT EXISTS ", "CREATE TABLE IF NOT EXISTS ledger."))
            stage.ledger_problems(stage.conn, "main", "ledger")
        if kind == "compound_members" and not stage.problems and ledger.exists():
            for problem in _stored_member_overlaps(store, stage.records, str(path)):
                stage.add(problem)
        _raise_problems(stage)
        stage.conn.close()
        conn = store._connect()
        try:
            conn.execute("ATTACH DATABASE ? AS stage", (str(stage.db),))
            with store._errors():
                conn.execute("BEGIN IMMEDIATE")
            stage.conn = conn  # problems found in the transaction are the stage's
            stage.ledger_problems(conn, "stage", "main")
            if stage.problems:
                conn.rollback()
                _raise_problems(stage)
            key_match = " AND ".join(f"r.{_q(k)} IS {_q(kind)}.{_q(k)}" for k in schema.key)
            replaced = conn.execute(
                f"DELETE FROM main.{_q(kind)} WHERE EXISTS (SELECT 1 FROM stage.rows AS r "
                f"WHERE {key_match})").rowcount
            corrected = 0
            if kind == "bills":
                group = _GROUP_SQL.format(t='"bills"')
                corrected = conn.execute(f"""
                    DELETE FROM main.bills WHERE EXISTS (
                        SELECT 1 FROM stage.rows AS r
                        WHERE r.replaces = 1 AND r.carrier = bills.carrier
                          AND r.__group = {group}
                          AND r.period_start <= bills.period_end
                          AND bills.period_start <= r.period_end)""").rowcount
            if kind == "apportionment":  # a file's rule replaces a compound × carrier's rows
                replaced += conn.execute("""
                    DELETE FROM main.apportionment WHERE EXISTS (
                        SELECT 1 FROM stage.rows AS r WHERE r.compound_id = apportionment.compound_id
                          AND r.carrier = apportionment.carrier)""").rowcount
            names = ", ".join(_q(n) for n in stage.stored)
            conn.execute(f"INSERT INTO main.{_q(kind)} ({names}) SELECT {names} FROM stage.rows "
                         "ORDER BY __row")
            conn.commit()
            committed = True
        except BaseException:
            if not committed:
                conn.rollback()
            raise
        finally:
            conn.close()
    except KeyboardInterrupt:
        if committed:
            raise
        raise ImportInterrupted(f"{path}: interrupted (Ctrl-C) before the import was written; "
                                f"nothing was imported, the {kind} ledger is unchanged") from None
    finally:
        if stage is not None:
            stage.close()
    rows = stage.rows
    replaced = min(replaced + corrected, rows)
    log.info("%s: %d %s row(s) imported (%d new, %d replaced)", path, rows, kind,
             rows - replaced, replaced)
    return ImportResult(kind, path, ledger, rows, rows - replaced, replaced)


def _stored_member_overlaps(store: LedgerStore, rows: list[tuple[int, dict]],
                            file: str) -> list[LedgerProblem]:
    """:func:`member_overlaps` of the file's rows against the stored rows they do not replace."""
    stored = store.table("compound_members")
    keys = {(r["compound_id"], r["institution_id"], r["from"]) for _, r in rows}
    kept = []
    for record in stored.to_dict("records"):
        for name in ("from", "until"):
            record[name] = None if pd.isna(record[name]) else pd.Timestamp(record[name]).date()
        if (record["compound_id"], record["institution_id"], record["from"]) not in keys:
            kept.append((0, record))
    return [p for p in member_overlaps([*kept, *rows], file) if p.row > 0]


def _raise_problems(stage: _Staging) -> None:
    if not stage.problems:
        return
    problems = sorted(stage.problems, key=lambda p: p.row)
    if stage.more_problems:
        problems.append(LedgerProblem(stage.file, 0, "", "",
                                      f"… and {stage.more_problems} more problem(s) not listed"))
    raise LedgerImportError(problems)
