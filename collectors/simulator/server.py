"""The meter simulator: every configured meter served by real pymodbus servers.

Each ``[[gateways]]`` entry becomes one :class:`~collectors.simulator.modbus_server.ThreadedModbusServer`
serving all of its meters (one Modbus device id each): TCP gateways on ``127.0.0.1`` at the
gateway's port, RTU gateways on the gateway's ``serial_port``. Each meter's registers have the real
layout of its model (the register map, with the meter's overrides), encoded with
:func:`collectors.decode.encode_value` from the deterministic profile of
:mod:`collectors.simulator.profile`, secondary side where the map applies CT/PT ratios.
A background thread refreshes the values every ``update_interval_s``.

Unused registers between a meter's points are served as 0 when the gap is at most
:data:`FILL_GAP_REGISTERS` long (a merged read over a small gap is answered, as real meters do);
longer gaps are unmapped and answer "illegal data address".

Faults per meter: ``timeout``, ``exception`` (code 4 "server device failure" unless another code
is given), ``drop``, ``garble``, ``delay`` (injected at the server, see
:class:`~collectors.simulator.modbus_server.FaultPlan`) and ``reset`` (the meter's counters restart
from zero, as after a meter replacement or a reset on site).
"""

from __future__ import annotations

import logging
import math
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimData, SimDevice

from collectors.decode import encode_value, words_from_raw
from collectors.errors import CollectorError
from collectors.registermap import Point, RegisterMap, meter_register_map
from collectors.simulator.modbus_server import FAULT_KINDS, ThreadedModbusServer
from collectors.simulator.profile import point_values
from jieneng.vocabulary import PointKind

__all__ = [
    "FILL_GAP_REGISTERS",
    "SIMULATOR_FAULTS",
    "SimulatedMeter",
    "SimulatorError",
    "SimulatorHandle",
    "SimulatorStartError",
    "run_simulator",
    "start_simulator",
]

log = logging.getLogger(__name__)

FILL_GAP_REGISTERS = 32
SIMULATOR_FAULTS = (*FAULT_KINDS, "reset")


class SimulatorError(CollectorError):
    """The simulator cannot serve the configuration (bad fault, overlapping points, ...)."""


class SimulatorStartError(SimulatorError):
    """A Modbus server of the simulator cannot start (a port in use, no such serial port)."""


@dataclass
class SimulatedMeter:
    """One served meter: its settings, its map, and counter offsets after a ``reset`` fault."""

    meter: Any  #: the meter's ``[[meters]]`` entry (``jieneng.settings.MeterSettings``)
    regmap: RegisterMap
    points: tuple[Point, ...]
    blocks: tuple[tuple[int, int], ...]
    counter_offsets: dict[str, float] = field(default_factory=dict)

    @property
    def device_id(self) -> int:
        """The meter's Modbus device id."""
        return self.meter.device_id


def _register_points(meter, regmap: RegisterMap) -> tuple[Point, ...]:
    points = []
    for p in regmap.points:
        if p.function.is_bit:
            log.warning("simulator: meter %r point %s is a %s; bit points are not served",
                        meter.id, p.name, p.function)
            continue
        points.append(p)
    taken: dict[int, str] = {}
    for p in points:
        for a in range(p.address, p.end + 1):
            if a in taken and taken[a] != p.name:
                raise SimulatorError(
                    f"meter {meter.id!r} ({regmap.model}): points {taken[a]} and {p.name} share "
                    f"register 0x{a:04X} in different tables; the simulator serves holding and "
                    "input registers from one register space"
                )
            taken[a] = p.name
    return tuple(points)


def _blocks(points: Sequence[Point]) -> tuple[tuple[int, int], ...]:
    """Contiguous (first, last) address ranges served, small gaps filled."""
    spans = sorted((p.address, p.end) for p in points)
    out: list[list[int]] = []
    for first, last in spans:
        if out and first - out[-1][1] - 1 <= FILL_GAP_REGISTERS:
            out[-1][1] = max(out[-1][1], last)
        else:
            out.append([first, last])
    return tuple((a, b) for a, b in out)


def _invalid_words(point: Point) -> list[int]:
    if point.data_type.is_float:
        return words_from_raw(math.nan, point.data_type, point.word_order)
    if point.data_type.is_signed:
        return words_from_raw(-(1 << (point.data_type.bits - 1)), point.data_type, point.word_order)
    return [0xFFFF] * point.register_count


def meter_image(sim: SimulatedMeter, t: datetime, tz) -> dict[tuple[int, int], list[int]]:
    """Return the register words of every served block of a meter at simulated time ``t``."""
    meter = sim.meter
    values = point_values(meter, sim.regmap, t, tz)
    image: dict[tuple[int, int], list[int]] = {
        (a, b): [0] * (b - a + 1) for a, b in sim.blocks
    }
    for p in sim.points:
        value = values.get(p.name, 0.0)
        if p.kind == PointKind.counter:
            value -= sim.counter_offsets.get(p.name, 0.0)
        try:
            words = encode_value(p, value, meter.ct_ratio, meter.pt_ratio)
        except ValueError as exc:
            log.warning("simulator: meter %r point %s: %s; serving 'not available'",
                        meter.id, p.name, exc)
            words = _invalid_words(p)
        for (a, b), block in image.items():
            if a <= p.address <= b:
                block[p.address - a:p.address - a + len(words)] = words
                break
    return image


class SimulatorHandle:
    """A running simulator: its servers, its meters, faults and the simulated clock.

    Use :func:`start_simulator` to make one and :meth:`stop` to end it.
    """

    def __init__(
        self,
        settings,
        servers: dict[str, ThreadedModbusServer],
        meters: dict[str, SimulatedMeter],
        start: datetime,
        speed: float,
    ) -> None:
        self.settings = settings
        self.servers = servers
        self.meters = meters
        self.speed = speed
        self._start_sim = start
        self._start_real = datetime.now(UTC)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- time and values -------------------------------------------------------------------

    def simulated_time(self) -> datetime:
        """Now, on the simulated clock (``start + speed × elapsed``)."""
        elapsed = (datetime.now(UTC) - self._start_real).total_seconds()
        return self._start_sim + timedelta(seconds=elapsed * self.speed)

    def update(self, t: datetime | None = None) -> datetime:
        """Write every meter's values for simulated time ``t`` (default: now) into the servers."""
        t = t or self.simulated_time()
        tz = self.settings.site.tzinfo
        with self._lock:
            for meter_id, sim in self.meters.items():
                server = self.servers[sim.meter.gateway]
                for (first, _last), words in meter_image(sim, t, tz).items():
                    server.set_registers(sim.device_id, first, words)
                log.debug("simulator: meter %r updated for %s", meter_id, t.isoformat())
        return t

    def _run_updates(self, interval_s: float) -> None:
        while not self._stop.wait(interval_s):
            try:
                self.update()
            except Exception:  # keep serving; the next update may succeed
                log.exception("simulator: updating values failed")

    def start_updates(self, interval_s: float) -> None:
        """Refresh values every ``interval_s`` seconds in a background thread."""
        if interval_s > 0 and self.speed != 0:
            self._thread = threading.Thread(target=self._run_updates, args=(interval_s,),
                                            name="simulator-updates", daemon=True)
            self._thread.start()

    # -- faults ----------------------------------------------------------------------------

    def set_fault(self, meter_id: str, kind: str, **options) -> None:
        """Switch on a fault for one meter (see the module docstring for the kinds).

        ``options`` go to :meth:`FaultPlan.set` (``addresses``, ``code``, ``delay_s``, ``times``).
        """
        sim = self._meter(meter_id)
        if kind not in SIMULATOR_FAULTS:
            raise SimulatorError(
                f"fault {kind!r} for meter {meter_id!r}: expected one of "
                f"{', '.join(SIMULATOR_FAULTS)}"
            )
        if kind == "reset":
            self.reset_counters(meter_id)
            return
        if kind == "exception":
            # 4 "server device failure" by default: a device-wide fault, not a missing register
            # (code 2 would make a poller drop the points as unmapped)
            options.setdefault("code", 4)
        self.servers[sim.meter.gateway].faults.set(sim.device_id, kind, **options)

    def clear_faults(self, meter_id: str | None = None) -> None:
        """Switch off server faults of one meter or of all (counter resets stay)."""
        for sim in ([self._meter(meter_id)] if meter_id else self.meters.values()):
            self.servers[sim.meter.gateway].faults.clear(sim.device_id)

    def reset_counters(self, meter_id: str, t: datetime | None = None) -> None:
        """Make the meter's counters restart from zero at simulated time ``t`` (default now)."""
        sim = self._meter(meter_id)
        t = t or self.simulated_time()
        values = point_values(sim.meter, sim.regmap, t, self.settings.site.tzinfo)
        with self._lock:
            sim.counter_offsets = {p.name: values[p.name] for p in sim.points
                                   if p.kind == PointKind.counter}
        self.update(t)

    def _meter(self, meter_id: str) -> SimulatedMeter:
        if meter_id not in self.meters:
            raise SimulatorError(
                f"no simulated meter {meter_id!r}; serving: {', '.join(sorted(self.meters))}"
            )
        return self.meters[meter_id]

    # -- lifecycle -------------------------------------------------------------------------

    def requests(self, gateway_id: str) -> int:
        """Modbus requests received so far by a gateway's server."""
        return sum(self.servers[gateway_id].faults.requests.values())

    def stop(self) -> None:
        """Stop updating and serving (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    settings,
    faults: Mapping[str, Sequence[str]] | None = None,
    speed: float = 1.0,
    *,
    start: datetime | None = None,
    update_interval_s: float = 1.0,
    meters: Sequence[str] | None = None,
) -> SimulatorHandle:
    """Serve the configured meters in this process; returns when every server listens.

    Parameters
    ----------
    settings
        The composed settings (:class:`collectors.settings.CollectorConfig`) with
        ``[[gateways]]`` and ``[[meters]]``.
    faults
        Meter id → fault kinds to switch on from the start (``timeout``, ``exception``, ``reset``,
        ``drop``, ``garble``, ``delay``).
    speed
        Simulated seconds per real second; 0 freezes the clock at ``start``.
    start
        Simulated time at start (default: now).
    update_interval_s
        How often the served values are refreshed. [s]
    meters
        Serve only these meter ids (default: all).

    Raises
    ------
    SimulatorStartError
        When a server cannot start (a port in use, no such serial port).
    SimulatorError
        When a fault kind or meter is unknown, or the points cannot be served.
    """
    if speed < 0:
        raise SimulatorError(f"speed = {speed}: expected 0 or more simulated seconds per second")
    dirs = [settings.resolve(d) for d in settings.collector.register_map_dirs]
    sims: dict[str, SimulatedMeter] = {}
    by_gateway: dict[str, list[SimulatedMeter]] = {}
    for meter in settings.meters:
        if meters is not None and meter.id not in meters:
            continue
        regmap = meter_register_map(meter, dirs)
        points = _register_points(meter, regmap)
        sim = SimulatedMeter(meter, regmap, points, _blocks(points))
        sims[meter.id] = sim
        by_gateway.setdefault(meter.gateway, []).append(sim)
    t0 = start or datetime.now(UTC)
    tz = settings.site.tzinfo
    servers: dict[str, ThreadedModbusServer] = {}
    try:
        for gateway_id, gw_meters in by_gateway.items():
            gw = settings.gateway(gateway_id)
            devices = []
            for sim in gw_meters:
                image = meter_image(sim, t0, tz)
                simdata = [SimData(address=a, values=words, datatype=SimDataType.REGISTERS)
                           for (a, _b), words in image.items()]
                devices.append(SimDevice(id=sim.device_id, simdata=simdata))
            if gw.protocol == "tcp":
                if gw.host not in ("127.0.0.1", "localhost"):
                    log.info("simulator: gateway %r (%s:%d) is served on 127.0.0.1:%d",
                             gateway_id, gw.host, gw.port, gw.port)
                server = ThreadedModbusServer(devices, host="127.0.0.1", port=gw.port)
            else:
                server = ThreadedModbusServer(
                    devices, serial_port=gw.serial_port, baudrate=gw.baudrate, parity=gw.parity,
                    stopbits=gw.stopbits, bytesize=gw.bytesize,
                )
            servers[gateway_id] = server.start()
            log.info("simulator: gateway %r serves %d meter(s) on %s", gateway_id, len(devices),
                     server.address)
    except Exception as exc:
        for server in servers.values():
            server.stop()
        raise SimulatorStartError(f"cannot start the simulator: {exc}") from exc
    handle = SimulatorHandle(settings, servers, sims, t0, speed)
    try:
        for meter_id, kinds in (faults or {}).items():
            for kind in kinds:
                handle.set_fault(meter_id, kind)
    except Exception:
        handle.stop()
        raise
    handle.start_updates(update_interval_s)
    return handle


def run_simulator(
    settings,
    faults: Mapping[str, Sequence[str]] | None = None,
    speed: float = 1.0,
    *,
    ready: Callable[[SimulatorHandle], None] | None = None,
) -> int:
    """Serve every configured meter until SIGTERM or Ctrl-C; returns the exit code 0.

    ``ready`` is called with the running handle once every server listens.
    """
    stop = threading.Event()
    handle = start_simulator(settings, faults, speed)
    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        count = sum(len(s.devices) for s in handle.servers.values())
        log.info("simulator: %d meter(s) on %d gateway(s); stop with Ctrl-C or SIGTERM",
                 count, len(handle.servers))
        if ready is not None:
            ready(handle)
        while not stop.wait(0.5):
            pass
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        handle.stop()
    return 0
