"""Exceptions of the accounting package: one base class and one subclass per kind of problem."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AccountingError",
    "ImportInterrupted",
    "InputError",
    "LedgerDatabaseError",
    "LedgerImportError",
    "LedgerLocked",
    "LedgerProblem",
    "MissingReferenceData",
    "ReferenceDataError",
    "UnitError",
]


class AccountingError(Exception):
    """Base of every accounting error."""


class ReferenceDataError(AccountingError):
    """A reference-data file is missing or malformed, or a factor was asked for that it lacks."""


class MissingReferenceData(ReferenceDataError):
    """The reference data has no row for what was asked (a carrier's coefficient or factor, a
    fuel's density), or a factor table lacks a carrier row that the consumption table holds."""


class InputError(AccountingError, ValueError):
    """Input the engine cannot account (a consumption table or profile it was handed): what is
    wrong, where it is (institution, carrier, year, column) and what was expected.

    Parameters
    ----------
    problem
        What is wrong, e.g. ``unknown carrier 'steam'``.
    where
        Where it is, e.g. ``the 2025 consumption table, institution gov01``; empty when the whole
        input is concerned.
    expected
        What was expected instead, e.g. ``one of coal, diesel, ...``.
    """

    def __init__(self, problem: str, where: str = "", expected: str = ""):
        self.problem = problem
        self.where = where
        self.expected = expected
        message = f"{where}: {problem}" if where else problem
        super().__init__(f"{message}; expected {expected}" if expected else message)


class UnitError(AccountingError, ValueError):
    """A unit that does not fit its carrier, or an unknown carrier."""


@dataclass(frozen=True)
class LedgerProblem:
    """One bad cell (or row) of a ledger file: where it is, what it holds and why it is wrong.

    ``row`` is the line number a spreadsheet shows (the header is row 1); 0 means the whole file.
    """

    file: str
    row: int
    column: str
    value: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row else self.file
        col = f", column {self.column}" if self.column else ""
        val = f" = {self.value!r}" if self.value != "" else ""
        return f"{where}{col}{val}: {self.reason}"


class LedgerDatabaseError(AccountingError):
    """The ledger database (``[accounting] ledger_path``) cannot be used: it is not a SQLite
    database, or it cannot be opened or created there."""


class LedgerLocked(LedgerDatabaseError):
    """Another process (an import) held the ledger database's write lock for longer than we
    waited; nothing was written. Trying again after it has finished works."""


class LedgerImportError(AccountingError):
    """A ledger file failed validation; nothing was imported. ``problems`` lists every bad row."""

    def __init__(self, problems: list[LedgerProblem]):
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:200])
        more = f"\n  ... and {len(problems) - 200} more" if len(problems) > 200 else ""
        super().__init__(
            f"{len(problems)} problem(s); nothing was imported:\n{shown}{more}"
        )


class ImportInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped an import before it was written: nothing was imported.

    A :class:`KeyboardInterrupt`, so that whatever stops on Ctrl-C still stops; its message says
    which file and that the ledger is unchanged.
    """
