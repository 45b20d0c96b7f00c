"""``jieneng collect`` and ``jieneng simulate``.

``jieneng collect --config FILE`` runs the collector until SIGTERM or Ctrl-C (then flushes and exits
0). With ``--once`` it polls every meter once, writes the readings to the store (through the spool)
and prints them — with ``--format json`` as a JSON list of objects::

    {"meter": "...", "point": "energy_import_kwh", "value": 1234.5, "unit": "kWh",
     "time": "2026-01-05T08:00:00.012345Z", "quality": "good", "kind": "counter",
     "ct_ratio": 40.0, "pt_ratio": 1.0, "ct_pt_applied": true}

``value`` already includes the CT/PT ratios where the point says they apply (``ct_pt_applied``).

Exit status (:class:`jieneng.vocabulary.ExitCode`): 0 (``ok``) when at least one meter was read;
1 (``failed``) when none could be, or when the collector cannot run (an unusable spool); 2
(``bad_input``) when a register map or a point override in the settings does not fit; 4
(``unavailable``) when a gateway cannot be reached outside a poll.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from collectors.errors import CollectorError, DeviceError
from collectors.poller import DevicePoller, PollResult
from collectors.registermap import RegisterMapError
from collectors.service import Collector, ReadingSink, run_collector
from collectors.settings import CollectorConfig
from collectors.simulator.server import SIMULATOR_FAULTS, SimulatorStartError, run_simulator
from jieneng.vocabulary import ExitCode

__all__ = ["collect_main", "reading_records", "simulate_main"]


def reading_records(
    pollers: list[DevicePoller], results: list[PollResult]
) -> list[dict[str, Any]]:
    """One JSON-ready record per reading, with the point's unit and the ratios applied.

    Parameters
    ----------
    pollers
        The pollers that made ``results`` (for each meter's points and CT/PT ratios).
    results
        One poll cycle's results.

    Returns
    -------
    list[dict[str, Any]]
        The records described in this module's docstring, in the order of ``results``.
    """
    by_meter = {p.meter.id: p for p in pollers}
    records = []
    for result in results:
        poller = by_meter[result.meter]
        for r in result.readings:
            point = poller.points[r.point]
            applied = (point.apply_ct and poller.meter.ct_ratio != 1.0) or (
                point.apply_pt and poller.meter.pt_ratio != 1.0
            )
            records.append({
                "meter": r.meter,
                "point": r.point,
                "value": r.value,
                "unit": point.unit,
                "time": r.time.isoformat().replace("+00:00", "Z"),
                "quality": r.quality,
                "kind": point.kind,
                "ct_ratio": poller.meter.ct_ratio if point.apply_ct else 1.0,
                "pt_ratio": poller.meter.pt_ratio if point.apply_pt else 1.0,
                "ct_pt_applied": bool(applied),
            })
    return records


def _print_table(records: list[dict[str, Any]]) -> None:
    columns = ("meter", "point", "value", "unit", "quality", "time")
    rows = [[("" if rec[c] is None else str(rec[c])) for c in columns] for rec in records]
    widths = [max([len(c), *(len(row[i]) for row in rows)]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def collect_once(settings: CollectorConfig, output_format: str = "table") -> ExitCode:
    """One poll cycle of every meter, written to the store; prints the readings.

    Parameters
    ----------
    settings
        The gateways, meters, spool and store.
    output_format
        ``"table"`` (aligned columns) or ``"json"`` (see :func:`reading_records`).

    Returns
    -------
    ExitCode
        ``ok`` when at least one meter was read, ``failed`` when none could be.
    """
    collector = Collector(settings)

    async def poll() -> list[PollResult]:
        try:
            return await collector.poll_once()
        finally:  # inside the loop: pymodbus closes its transports on it
            for client in collector.clients.values():
                client.close()

    results = asyncio.run(poll())
    readings = [r for result in results for r in result.readings]
    sink = ReadingSink(settings)
    try:
        sink.spool.append(readings)
        sink.write_health(collector.health.snapshot())
    finally:
        forwarded = sink.close()
    records = reading_records(collector.pollers, results)
    if output_format == "json":
        json.dump(records, sys.stdout, ensure_ascii=False, indent=1)
        print()
    else:
        _print_table(records)
    for result in results:
        if result.error:
            print(f"meter {result.meter!r}: {result.error}", file=sys.stderr)
    if forwarded.pending:
        print(
            f"the store is unavailable ({forwarded.error}); {forwarded.pending} readings are kept "
            f"in the spool {sink.spool.path} and forwarded by the next run",
            file=sys.stderr,
        )
    read = sum(1 for r in results if r.ok)
    if read == 0:
        print(f"no meter could be read (0 of {len(results)})", file=sys.stderr)
        return ExitCode.failed
    return ExitCode.ok


def _quiet_pymodbus() -> None:
    """Keep pymodbus's own per-request error lines (with hex dumps) out of the collector's log.

    The collector reports each device's failure itself, once, with the gateway, device and
    request; pymodbus would repeat it every cycle. With ``-vv`` (DEBUG) pymodbus logs as usual.
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


def collect_main(args: argparse.Namespace, settings: CollectorConfig) -> int:
    """``jieneng collect``: run until stopped, or ``--once``.

    Parameters
    ----------
    args
        ``once`` (bool) and ``format`` (``"table"`` or ``"json"``).
    settings
        The loaded settings file.

    Returns
    -------
    int
        An :class:`~jieneng.vocabulary.ExitCode` (see this module's docstring).
    """
    _quiet_pymodbus()
    if not settings.meters:
        print(f"{settings.source}: no [[meters]] configured; nothing to collect", file=sys.stderr)
        return ExitCode.failed
    try:
        if getattr(args, "once", False):
            return collect_once(settings, getattr(args, "format", "table"))
        return run_collector(settings)
    except RegisterMapError as exc:  # a map file, or a point override, that does not fit
        print(f"jieneng collect: {exc}", file=sys.stderr)
        return ExitCode.bad_input
    except DeviceError as exc:  # a gateway that cannot be reached outside a poll
        print(f"jieneng collect: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    except CollectorError as exc:  # the spool cannot be used, ...
        print(f"jieneng collect: {exc}", file=sys.stderr)
        return ExitCode.failed


def parse_faults(specs: list[str], settings: CollectorConfig) -> dict[str, list[str]]:
    """``["m1:timeout", "m2:reset"]`` → ``{"m1": ["timeout"], "m2": ["reset"]}``.

    Raises
    ------
    ValueError
        When a spec has no ``:``, names a meter that is not configured or an unknown fault.
    """
    known = {m.id for m in settings.meters}
    faults: dict[str, list[str]] = {}
    for spec in specs:
        meter, sep, kind = spec.rpartition(":")
        if not sep or not meter or not kind:
            raise ValueError(f"--fault {spec!r}: expected METER:KIND, e.g. m1:timeout")
        if meter not in known:
            raise ValueError(
                f"--fault {spec!r}: no meter {meter!r} in {settings.source}; "
                f"configured: {', '.join(sorted(known))}"
            )
        if kind not in SIMULATOR_FAULTS:
            raise ValueError(
                f"--fault {spec!r}: no fault {kind!r}; expected one of {', '.join(SIMULATOR_FAULTS)}"
            )
        faults.setdefault(meter, []).append(kind)
    return faults


def simulate_main(args: argparse.Namespace, settings: CollectorConfig) -> int:
    """``jieneng simulate``: serve every configured meter until SIGTERM or Ctrl-C.

    Parameters
    ----------
    args
        ``fault`` (a list of ``METER:KIND``) and ``speed``.
    settings
        The loaded settings file.

    Returns
    -------
    int
        ``ok`` after SIGTERM or Ctrl-C; ``bad_input`` for a bad ``--fault`` or ``--speed``, a
        register map or override that does not fit, or points the simulator cannot serve;
        ``failed`` when a server cannot start (a port in use, a serial port missing).
    """
    try:
        faults = parse_faults(list(getattr(args, "fault", []) or []), settings)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return ExitCode.bad_input
    try:
        return int(run_simulator(settings, faults, getattr(args, "speed", 1.0)) or 0)
    except SimulatorStartError as exc:  # a port in use, a serial port that does not exist
        print(f"jieneng simulate: {exc}", file=sys.stderr)
        return ExitCode.failed
    except CollectorError as exc:  # the settings describe something the simulator cannot serve
        print(f"jieneng simulate: {exc}", file=sys.stderr)
        return ExitCode.bad_input
