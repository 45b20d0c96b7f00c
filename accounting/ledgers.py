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
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from accounting.errors import LedgerDatabaseError, LedgerImportError, LedgerLocked, LedgerProblem
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
from accounting.settings import AccountingConfig

__all__ = ["KINDS", "ImportResult", "LedgerStore", "import_ledger", "read_ledger_file"]

log = logging.getLogger(__name__)

#: How long a write waits for another import's lock on the ledger database. [s]
LOCK_TIMEOUT_S = 30.0

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
    problems += file_rules(kind, rows, file)
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


def _row_rules(kind: str, record: dict, file: str, row: int) -> list[LedgerProblem]:
    """Checks across the cells of one row."""
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
                frame = pd.read_sql_query(
                    f'SELECT {", ".join(_q(n) for n in names)} FROM {_q(kind)} ORDER BY rowid',
                    conn,
                )
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
    out = frame.copy()
    for col in schema.columns:
        if col.kind == "date":
            out[col.name] = pd.to_datetime(out[col.name], format="%Y-%m-%d")
        elif col.kind in ("number", "positive"):
            out[col.name] = pd.to_numeric(out[col.name]).astype(float)
        elif col.kind in ("year", "positive_int"):
            values = pd.to_numeric(out[col.name])
            out[col.name] = values.astype("Int64") if values.isna().any() else values.astype(int)
        elif col.kind == "bool":
            out[col.name] = out[col.name].map(lambda v: bool(v) if pd.notna(v) else False)
            out[col.name] = out[col.name].astype(bool)
        else:
            out[col.name] = out[col.name].astype(object)
    if schema.kind == "facilities":
        out["year"] = out["year"].astype("Int64").where(out["year"] != 0)
    if schema.kind == "bills":
        out["use"] = out["use"].where(out["use"].notna(), out["carrier"].map(default_use))
        out.loc[out["green"], "use"] = "green"
    return out


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


def default_use(carrier: str) -> str:
    """How a bill's carrier is used unless the ledger says otherwise."""
    if carrier == "pv":
        return "generation"
    if carrier in ("electricity", "heat", "water"):
        return "purchased"
    return "stationary"


def import_ledger(kind: str, path: str | Path, settings: AccountingConfig) -> ImportResult:
    """Validate a ledger file whole and import it atomically.

    Parameters
    ----------
    kind
        One of institutions, buildings, headcount, vehicles, fuel, facilities, bills.
    path
        The CSV (UTF-8) or .xlsx file.
    settings
        Gives the ledger database: ``settings.resolve(settings.accounting.ledger_path)``.

    Raises
    ------
    LedgerImportError
        Listing every bad row (file, row, column, value, reason); nothing was imported.
    """
    _schema(kind)
    path = Path(path)
    rows, problems = read_ledger_file(kind, path)
    ledger = settings.resolve(settings.accounting.ledger_path)
    store = LedgerStore(ledger)
    problems += store.reference_problems(kind, rows, str(path))
    if kind == "compound_members" and not problems and ledger.exists():
        problems += _stored_member_overlaps(store, rows, str(path))
    if problems:
        raise LedgerImportError(sorted(problems, key=lambda p: p.row))
    added, replaced, problems = store.import_rows(kind, rows, str(path))
    if problems:
        raise LedgerImportError(problems)
    log.info("%s: %d %s row(s) imported (%d new, %d replaced)", path, len(rows), kind, added,
             replaced)
    return ImportResult(kind, path, ledger, len(rows), added, replaced)
