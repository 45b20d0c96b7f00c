"""The ``jieneng`` command line: one entry point, one subcommand per job.

The CLI only parses arguments, loads the settings and hands over to the package that owns the job
(``collectors``, ``storage``, ``accounting``, ...). Each handler is ``handler(args, settings) -> int``
and lives in that package's ``cli`` module; a subcommand whose package has not built its handler yet
says so and exits with :data:`EXIT_NOT_BUILT`.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

from jieneng.messages import DEFAULT_LANGUAGE, LANGUAGES
from jieneng.settings import ConfigError, Settings, load_settings, validate_file
from jieneng.vocabulary import ExitCode, LedgerKind

__all__ = ["EXIT_BAD_CONFIG", "EXIT_NOT_BUILT", "main"]

EXIT_BAD_CONFIG = ExitCode.bad_input
EXIT_NOT_BUILT = ExitCode.not_built

#: The years ``--year`` accepts: the project's data and reference tables cover this century only.
YEARS = range(2000, 2101)

log = logging.getLogger(__name__)

#: subcommand → "module:function" of its handler.
HANDLERS: dict[str, str] = {
    "demo": "jieneng.demo:demo_main",
    "simulate": "collectors.cli:simulate_main",
    "collect": "collectors.cli:collect_main",
    "import:readings": "collectors.backfill:import_readings_main",
    "import:ledger": "accounting.cli:import_ledger_main",
    "import:weather": "forecasting.cli:import_weather_main",
    "store:rebuild-rollups": "storage.commands:rebuild_rollups_main",
    "account": "accounting.cli:account_main",
    "report": "accounting.cli:report_main",
    "evaluate": "accounting.cli:evaluate_main",
    "forecast": "forecasting.cli:forecast_main",
    "dashboard": "dashboard.cli:dashboard_main",
    "dashboard:hash-password": "dashboard.cli:hash_password_main",
}


def _config_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument(
        "--config", "-c", type=Path, required=required, metavar="FILE",
        help="settings file (TOML), e.g. config/demo.toml",
    )


def year_arg(text: str) -> int:
    """``--year``: a year from 2000 to 2100 (argparse reports anything else as bad input)."""
    try:
        year = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a year; expected a year from {YEARS.start} to {YEARS.stop - 1}, "
            "e.g. 2025") from None
    if year not in YEARS:
        raise argparse.ArgumentTypeError(
            f"{year} is out of range; expected a year from {YEARS.start} to {YEARS.stop - 1}")
    return year


def _figures_args(p: argparse.ArgumentParser) -> None:
    """``account`` and ``report``: the officer's language and the explicit empty form."""
    p.add_argument("--language", choices=list(LANGUAGES), default=DEFAULT_LANGUAGE,
                   help="language of verdicts, reasons and table headers "
                   f"(default {DEFAULT_LANGUAGE}: 中文)")
    p.add_argument("--allow-empty", action="store_true",
                   help="a year without any meter reading, bill or fuel record gives an empty "
                   f"form (default: says so and exits {int(ExitCode.no_data)})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="jieneng",
        description="Jieneng (节能): energy monitoring and carbon accounting for public institutions.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-v: INFO from every library, -vv: DEBUG)")
    parser.add_argument("-q", "--quiet", action="count", default=0,
                        help="less log output (-q: warnings and errors only, -qq: errors only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("demo", help="simulated meters → collector → store → accounting → dashboard")
    _config_arg(p, required=False)
    p.add_argument("--sample-data", type=Path, default=Path(__file__).resolve().parents[1]
                   / "sample_data", metavar="DIR", help="ledger CSV files to load (default: sample_data/)")
    p.add_argument("--history-days", type=int, default=0,
                   help="backfill this many days of meter history (default: since 1 January last year)")
    p.add_argument("--duration-s", type=float, default=0.0,
                   help="stop after this many seconds (default: run until Ctrl-C)")
    p.add_argument("--refresh-s", type=float, default=30.0,
                   help="print the live readings this often [s]")
    p.add_argument("--port", type=int, help="the dashboard's port (default: the file's, 8050)")
    p.add_argument("--workdir", type=Path, metavar="DIR",
                   help="folder for all the demo's state (default: var/demo)")

    p = sub.add_parser("simulate", help="serve every configured meter from simulated Modbus devices")
    _config_arg(p)
    p.add_argument("--fault", action="append", default=[], metavar="METER:KIND",
                   help="switch on a fault: timeout, exception, drop, garble, delay, reset "
                   "(repeatable)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="simulated seconds per real second for the counters' growth")

    p = sub.add_parser("collect", help="poll the meters and write readings to the store")
    _config_arg(p)
    p.add_argument("--once", action="store_true", help="one poll cycle of every meter, then exit")
    p.add_argument("--format", choices=["json", "table"], default="table",
                   help="with --once: how to print the readings")

    p = sub.add_parser("import", help="import readings (backfill) or a ledger from CSV/Excel")
    p.add_argument("kind", choices=["readings", "weather", *(k.value for k in LedgerKind)],
                   help="what the file holds (weather: CSV time,temperature_c[,station])")
    p.add_argument("file", type=Path, help="CSV (UTF-8) or .xlsx file")
    _config_arg(p)

    p = sub.add_parser("store", help="maintain the store: rebuild-rollups from raw readings")
    p.add_argument("action", choices=["rebuild-rollups"], help="what to do")
    _config_arg(p)
    p.add_argument("--from", dest="from_date", type=date.fromisoformat, metavar="DATE",
                   help="first local day to rebuild (YYYY-MM-DD; default: every day kept raw)")

    p = sub.add_parser("account", help="energy (tce), CO2 and intensities per institution and year")
    _config_arg(p)
    p.add_argument("--year", type=year_arg, required=True)
    p.add_argument("--institution", help="only this institution id")
    p.add_argument("--format", choices=["json", "table"], default="table")
    _figures_args(p)

    p = sub.add_parser("report", help="the annual 公共机构能源资源消费统计 workbook (xlsx/csv/json)")
    _config_arg(p)
    p.add_argument("--year", type=year_arg, required=True)
    p.add_argument("--out", type=Path, required=True, metavar="FILE",
                   help="output file: .xlsx, .csv or .json")
    _figures_args(p)

    p = sub.add_parser("evaluate", help="the counties' performance evaluation (区县绩效评价)")
    _config_arg(p)
    p.add_argument("--year", type=year_arg, required=True)
    p.add_argument("--format", choices=["json", "table"], default="table")

    p = sub.add_parser("forecast", help="project consumption and carbon to year end (Prophet)")
    _config_arg(p)
    p.add_argument("--year", type=year_arg, help="year projected to 31 December (default: this year)")
    p.add_argument("--institution", action="append", metavar="ID", help="only this institution (repeatable)")
    p.add_argument("--carrier", action="append", metavar="C", help="only this carrier (repeatable)")
    p.add_argument("--horizon-days", type=int, metavar="N", help="days of forecast rows shown per series")
    p.add_argument("--format", choices=["json", "table"], default="table")

    p = sub.add_parser("dashboard", help="serve the Dash dashboard (or: dashboard hash-password)")
    p.add_argument("action", nargs="?", choices=["serve", "hash-password"], default="serve",
                   help="serve (default), or hash-password: print an argon2 hash to paste")
    _config_arg(p, required=False)
    p.add_argument("--host", help="listen on this address (default: [dashboard] host)")
    p.add_argument("--port", type=int, help="listen on this port (default: [dashboard] port)")

    p = sub.add_parser("check-config", help="validate a settings file; list every problem")
    p.add_argument("file", type=Path)
    return parser


def _handler(key: str) -> Callable[[argparse.Namespace, Settings], int] | None:
    module_name, func_name = HANDLERS[key].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module_name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, func_name, None)


def check_config(path: Path) -> int:
    """``jieneng check-config FILE``: 0 when valid, 2 with every problem listed otherwise."""
    settings, problems = validate_file(path)
    if problems:
        print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_CONFIG
    assert settings is not None
    print(
        f"{path}: OK — site {settings.site.name!r}, {len(settings.gateways)} gateway(s), "
        f"{len(settings.meters)} meter(s), storage backend {settings.storage.backend}"
    )
    return 0


def configure_logging(verbose: int, quiet: int) -> None:
    """Set the log level from ``-v``/``-q``: INFO by default (for jieneng's own loggers).

    Default: jieneng's INFO and other libraries' WARNING. ``-v``: INFO everywhere; ``-vv``:
    DEBUG everywhere (pymodbus frames included). ``-q``: WARNING; ``-qq``: ERROR only.
    """
    level = {2: logging.DEBUG, 1: logging.INFO}.get(min(verbose, 2), logging.WARNING)
    ours = logging.DEBUG if verbose >= 2 else logging.INFO
    if quiet:
        level = ours = logging.WARNING if quiet == 1 else logging.ERROR
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        force=True)
    for name in ("jieneng", "collectors", "storage", "accounting", "forecasting", "dashboard"):
        logging.getLogger(name).setLevel(ours)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``jieneng`` console script.

    No subcommand prints a traceback: an exception its handler lets through becomes one line
    ("unexpected error") and :attr:`ExitCode.failed`; the traceback is logged at ``-vv``.
    """
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return ExitCode.interrupted
    except Exception as exc:
        command = " ".join(str(getattr(args, k)) for k in ("command", "kind") if hasattr(args, k))
        log.debug("jieneng %s: the unexpected error's traceback", command, exc_info=exc)
        what = " ".join(str(exc).split()) or "(no message)"
        print(f"jieneng {command}: unexpected error: {type(exc).__name__}: {what}; "
              "run with -vv for the traceback", file=sys.stderr)
        return ExitCode.failed


def _dispatch(args: argparse.Namespace) -> int:
    """Run the subcommand ``args`` names; its exit code."""
    if args.command == "check-config":
        return check_config(args.file)

    key = args.command
    if key == "import":
        key = {"readings": "import:readings", "weather": "import:weather"}.get(args.kind, "import:ledger")
    elif key == "store":
        key = f"store:{args.action}"
    elif key == "dashboard" and args.action == "hash-password":
        key = "dashboard:hash-password"
    handler = _handler(key)
    if handler is None:
        print(f"jieneng {args.command}: not built yet (handler {HANDLERS[key]} does not exist)",
              file=sys.stderr)
        return EXIT_NOT_BUILT
    if key == "dashboard:hash-password" and args.config is None:  # needs no settings file
        return int(handler(args, None) or 0)  # type: ignore[arg-type]

    config = args.config if args.config is not None else Path("config/demo.toml")
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_CONFIG
    try:
        return int(handler(args, settings) or 0)
    except KeyboardInterrupt:
        return ExitCode.interrupted


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
