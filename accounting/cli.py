"""``jieneng account``, ``jieneng report`` and ``jieneng import <ledger>``: parse, call, print.

The work is done elsewhere: :func:`accounting.annual.compute_account` accounts a year,
:mod:`accounting.export` renders it, :func:`accounting.report.write_report` writes the report and
:func:`accounting.ledgers.import_ledger` imports a ledger. Each handler returns a
:class:`jieneng.vocabulary.ExitCode`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from accounting.annual import AnnualAccount, compute_account, today
from accounting.errors import AccountingError, ImportInterrupted, LedgerImportError, LedgerLocked
from accounting.evaluation import evaluate_account, evaluation_table
from accounting.export import account_json, account_table, has_data
from accounting.ledgers import import_ledger
from accounting.report import REPORT_SUFFIXES, write_report
from accounting.settings import AccountingConfig
from jieneng.messages import DEFAULT_LANGUAGE, text
from jieneng.vocabulary import ExitCode
from storage.errors import StorageError, StoreUnavailable

__all__ = ["account_main", "evaluate_main", "import_ledger_main", "report_main"]


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _error(message: str) -> None:
    print(message, file=sys.stderr)


def _account_or_exit_code(settings: AccountingConfig, year: int) -> AnnualAccount | ExitCode:
    """The year's account, or the exit code after printing why it could not be computed."""
    try:
        return compute_account(settings, year, progress=_progress)
    except LedgerLocked as exc:
        _error(f"jieneng: accounts for {year} could not be computed: {exc}")
        return ExitCode.unavailable
    except AccountingError as exc:
        _error(f"jieneng: accounts for {year} could not be computed: {exc}")
        return ExitCode.bad_input
    except StoreUnavailable as exc:
        _error(f"jieneng: accounts for {year} could not be computed: {exc}")
        return ExitCode.unavailable
    except StorageError as exc:
        _error(f"jieneng: accounts for {year} could not be computed: {exc}")
        return ExitCode.failed


def _options(args: argparse.Namespace) -> tuple[str, bool]:
    """``--language`` and ``--allow-empty`` (absent from an older parser: the defaults)."""
    return getattr(args, "language", DEFAULT_LANGUAGE), getattr(args, "allow_empty", False)


def _no_data(command: str, account: AnnualAccount, language: str) -> ExitCode:
    """Say that the year has no data at all; :data:`ExitCode.no_data`."""
    _error(f"jieneng {command}: " + text("account.missing.no_data", language, year=account.year,
                                         n=len(account.figures)))
    return ExitCode.no_data


def account_main(args: argparse.Namespace, settings: AccountingConfig) -> ExitCode:
    """``jieneng account --year YYYY [--institution ID] [--format json|table]
    [--language zh|en] [--allow-empty]``; a year without any data exits
    :data:`ExitCode.no_data` unless ``--allow-empty``."""
    language, allow_empty = _options(args)
    account = _account_or_exit_code(settings, args.year)
    if isinstance(account, ExitCode):
        return account
    if not allow_empty and not has_data(account):
        return _no_data("account", account, language)
    if args.institution is not None and args.institution not in set(
            account.figures["institution_id"]):
        known = ", ".join(sorted(account.figures["institution_id"].astype(str)))
        _error(f"jieneng account: no institution {args.institution!r} in the ledgers or meters; "
               f"known: {known}")
        return ExitCode.bad_input
    data = account_json(account, args.institution, language)
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(account_table(data, language))
    return ExitCode.ok


def _out_problem(out: Path) -> str:
    """Why the report cannot be written to ``out`` (checked before the year is accounted)."""
    if out.is_dir():
        return f"is a folder; expected a file name such as {out / 'report.xlsx'}"
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                return f"{parent} is a file, not a folder; choose a file in a folder"
            if not os.access(parent, os.W_OK | os.X_OK):
                return f"this user may not write to {parent}; choose another folder"
            break
    return ""


def report_main(args: argparse.Namespace, settings: AccountingConfig) -> ExitCode:
    """``jieneng report --year YYYY --out FILE.xlsx|.csv|.json [--language zh|en]
    [--allow-empty]``; a year without any data exits :data:`ExitCode.no_data` (nothing is
    written) unless ``--allow-empty``."""
    language, allow_empty = _options(args)
    if args.out.suffix.lower() not in REPORT_SUFFIXES:
        _error(f"jieneng report: --out {args.out}: expected a file ending in "
               f"{', '.join(REPORT_SUFFIXES)}")
        return ExitCode.bad_input
    problem = _out_problem(args.out)
    if problem:
        _error(f"jieneng report: --out {args.out}: {problem}")
        return ExitCode.bad_input
    account = _account_or_exit_code(settings, args.year)
    if isinstance(account, ExitCode):
        return account
    if not allow_empty and not has_data(account):
        return _no_data("report", account, language)
    try:
        written = write_report(account, args.out, settings, as_of=today(settings),
                               language=language)
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        _error(f"jieneng report: --out {args.out}: cannot write the report ({where}"
               f"{exc.strerror or exc}); choose a file in a folder this user can write to")
        return ExitCode.bad_input
    except LedgerLocked as exc:
        _error(f"jieneng report: {exc}")
        return ExitCode.unavailable
    except AccountingError as exc:
        _error(f"jieneng report: {exc}")
        return ExitCode.bad_input
    print(f"{written}: 公共机构能源资源消费统计 {args.year}, "
          f"{len(account.figures)} institution(s)")
    return ExitCode.ok


def import_ledger_main(args: argparse.Namespace, settings: AccountingConfig) -> ExitCode:
    """``jieneng import KIND FILE``: import a ledger atomically; every bad row is printed."""
    if not args.file.is_file():
        _error(f"jieneng import {args.kind}: {args.file}: no such file")
        return ExitCode.bad_input
    try:
        result = import_ledger(args.kind, args.file, settings)
    except LedgerLocked as exc:
        _error(f"jieneng import {args.kind}: {args.file}: nothing was imported: {exc}")
        return ExitCode.unavailable
    except LedgerImportError as exc:
        _error(f"jieneng import {args.kind}: {args.file}: {len(exc.problems)} problem(s); "
               "nothing was imported:")
        for problem in exc.problems:
            _error(f"  {problem}")
        return ExitCode.bad_input
    except AccountingError as exc:
        _error(f"jieneng import {args.kind}: {args.file}: {exc}")
        return ExitCode.bad_input
    except ImportInterrupted as exc:
        _error(f"jieneng import {args.kind}: {exc}")
        return ExitCode.interrupted
    except KeyboardInterrupt:  # after the import was written
        _error(f"jieneng import {args.kind}: {args.file}: interrupted (Ctrl-C) after the import "
               "was written")
        return ExitCode.interrupted
    print(f"{result.file}: {result.rows} {result.kind} row(s) imported into {result.ledger} "
          f"({result.added} new, {result.replaced} replaced)")
    return ExitCode.ok


def evaluate_main(args: argparse.Namespace, settings: AccountingConfig) -> ExitCode:
    """``jieneng evaluate --year YYYY [--format json|table]``: the counties' 绩效评价."""
    account = _account_or_exit_code(settings, args.year)
    if isinstance(account, ExitCode):
        return account
    try:
        evaluation = evaluate_account(account, settings)
    except AccountingError as exc:
        _error(f"jieneng evaluate: {exc}")
        return ExitCode.bad_input
    if evaluation.scores["is_city"].all():
        _error(f"jieneng evaluate: no institution has a region_code (行政区划代码) in {args.year}; "
               "add region_code to the institutions ledger")
        return ExitCode.no_data
    if args.format == "json":
        print(json.dumps(evaluation.json(), ensure_ascii=False, indent=2))
    else:
        print(evaluation_table(evaluation))
    return ExitCode.ok
