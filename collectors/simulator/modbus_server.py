"""Real pymodbus servers in a background thread, with faults injected at the server.

:class:`ThreadedModbusServer` runs a pymodbus 3.16 ``ModbusTcpServer`` (or ``ModbusSerialServer``
for Modbus RTU) built from ``SimDevice``/``SimData`` on its own asyncio loop in a daemon thread, so
synchronous and asynchronous code (tests, the simulator, the demo) can use it alike. Several device
ids share one server, as meters share a gateway or an RS-485 bus.

Faults are switched per device id with :class:`FaultPlan` and take effect on the next request:

``timeout``
    the device does not answer (the client times out);
``exception``
    the device answers a Modbus exception response (``code``, default 2 "illegal data address"),
    optionally only for requests that touch ``addresses``;
``drop``
    the TCP connection is closed instead of answering (on a serial bus: no answer);
``garble``
    the answer is corrupted: on RTU its CRC is wrong, on TCP its protocol identifier is;
``delay``
    the answer comes ``delay_s`` seconds late (a slow device).

A request for a device id that is not served gets no answer, as on a real RS-485 bus.
The server counts the requests it receives per device (``requests``), which benchmarks and tests
use to count Modbus round trips.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimDevice

from collectors.errors import CollectorError

__all__ = ["FAULT_KINDS", "Fault", "FaultPlan", "ServerStartError", "ThreadedModbusServer"]

log = logging.getLogger(__name__)

FAULT_KINDS = ("timeout", "exception", "drop", "garble", "delay")


class ServerStartError(CollectorError):
    """A Modbus server could not be started (port in use, serial port missing, ...)."""


@dataclass
class Fault:
    """One fault switched on for a device."""

    kind: str
    first_address: int | None = None
    last_address: int | None = None
    function_code: int | None = None
    code: int = 2
    delay_s: float = 0.0
    remaining: int | None = None

    def matches(self, function_code: int, address: int, count: int) -> bool:
        """Whether a request (function, first address, count) is hit by this fault."""
        if self.function_code is not None and function_code != self.function_code:
            return False
        if self.first_address is None:
            return True
        last = self.last_address if self.last_address is not None else self.first_address
        return address <= last and self.first_address <= address + max(count, 1) - 1


class FaultPlan:
    """Faults per device id, and a count of the requests each device received (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[int, list[Fault]] = {}
        self.requests: Counter[int] = Counter()
        #: The latest requests (device id, function code, address, count), oldest dropped.
        self.request_log: deque[tuple[int, int, int, int]] = deque(maxlen=10_000)

    def set(
        self,
        device_id: int,
        kind: str,
        *,
        addresses: int | tuple[int, int] | None = None,
        function_code: int | None = None,
        code: int = 2,
        delay_s: float = 1.0,
        times: int | None = None,
    ) -> Fault:
        """Switch on a fault for ``device_id``.

        Parameters
        ----------
        kind
            One of :data:`FAULT_KINDS`.
        addresses
            Only requests touching this address (or inclusive ``(first, last)`` range) are hit.
        function_code
            Only requests with this function code (3 = holding, 4 = input, ...) are hit.
        code
            Exception code for ``exception`` (2 illegal data address, 4 device failure, ...).
        delay_s
            Answer delay for ``delay``. [s]
        times
            Hit only the next ``times`` matching requests; ``None`` = until cleared.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {kind!r}: expected one of {', '.join(FAULT_KINDS)}")
        first = last = None
        if isinstance(addresses, tuple):
            first, last = addresses
        elif addresses is not None:
            first = last = addresses
        fault = Fault(kind, first, last, function_code, code, delay_s, times)
        with self._lock:
            self._faults.setdefault(device_id, []).append(fault)
        return fault

    def clear(self, device_id: int | None = None, kind: str | None = None) -> None:
        """Switch faults off: all, or those of one device, or of one kind."""
        with self._lock:
            ids = list(self._faults) if device_id is None else [device_id]
            for dev in ids:
                kept = [f for f in self._faults.get(dev, []) if kind is not None and f.kind != kind]
                self._faults[dev] = kept

    def active(self, device_id: int) -> list[str]:
        """Kinds of the faults switched on for a device."""
        with self._lock:
            return [f.kind for f in self._faults.get(device_id, [])]

    def hit(self, device_id: int, function_code: int, address: int, count: int) -> Fault | None:
        """Record a request and return the first fault that hits it (consuming one ``times``)."""
        with self._lock:
            self.requests[device_id] += 1
            self.request_log.append((device_id, function_code, address, count))
            for fault in self._faults.get(device_id, []):
                if fault.remaining is not None and fault.remaining <= 0:
                    continue
                if fault.matches(function_code, address, count):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def reset_counts(self) -> None:
        """Forget the request counts."""
        with self._lock:
            self.requests.clear()
            self.request_log.clear()


class _FaultyHandler(ServerRequestHandler):
    """pymodbus's per-connection request handler with the fault plan applied to each request."""

    _pending: Fault | None = None

    async def handle_request(self) -> None:
        pdu = self.last_pdu
        if not pdu:
            return
        plan: FaultPlan = self.server.fault_plan
        if pdu.dev_id not in self.server.device_ids:
            plan.hit(pdu.dev_id, pdu.function_code, 0, 0)
            return  # nobody on the bus answers to this id
        fault = plan.hit(
            pdu.dev_id, pdu.function_code, getattr(pdu, "address", 0), getattr(pdu, "count", 1)
        )
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.delay_s)
            if self.last_pdu is not pdu:  # a newer request arrived meanwhile: it gets the answer
                return
        elif fault is not None and fault.kind == "exception":
            response = ExceptionResponse(pdu.function_code, fault.code)
            response.transaction_id = pdu.transaction_id
            response.dev_id = pdu.dev_id
            self.server_send(response, self.last_addr)
            return
        elif fault is not None:
            self._pending = fault
        await super().handle_request()

    def server_send(self, pdu, addr) -> None:
        fault, self._pending = self._pending, None
        if fault is None or not pdu:
            super().server_send(pdu, addr)
            return
        if fault.kind == "timeout":
            return
        if fault.kind == "drop":
            if self.server.is_serial:
                return
            self.close()
            return
        # garble
        packet = bytearray(self.framer.buildFrame(pdu))
        if self.server.is_serial:
            packet[-1] ^= 0xFF  # CRC low byte wrong
        else:
            packet[2:4] = b"\xde\xad"  # MBAP protocol identifier must be 0
        self.low_level_send(bytes(packet), addr=addr)


class _FaultInjectingMixin:
    """Create :class:`_FaultyHandler` for every connection."""

    fault_plan: FaultPlan
    device_ids: frozenset[int]
    is_serial: bool
    # set by pymodbus's ModbusBaseServer, which every concrete server below also derives from
    trace_packet: Callable[[bool, bytes], bytes] | None
    trace_pdu: Callable[[bool, ModbusPDU], ModbusPDU] | None
    trace_connect: Callable[[bool], None] | None

    def callback_new_connection(self):
        return _FaultyHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class _TcpServer(_FaultInjectingMixin, ModbusTcpServer):
    is_serial = False


class _SerialServer(_FaultInjectingMixin, ModbusSerialServer):
    is_serial = True


class ThreadedModbusServer:
    """A pymodbus server for ``devices`` on its own loop in a background thread.

    Parameters
    ----------
    devices
        The simulated devices (distinct ``id``; shared register space per device).
    host, port
        TCP: where to listen; port 0 picks a free port (see :attr:`port` after :meth:`start`).
    serial_port
        When given, serve Modbus RTU on this serial device instead of TCP.
    baudrate, parity, stopbits, bytesize
        Serial line settings.
    faults
        A fault plan shared with the caller; a new empty one by default.
    """

    def __init__(
        self,
        devices: Sequence[SimDevice],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        serial_port: str | None = None,
        baudrate: int = 9600,
        parity: str = "N",
        stopbits: int = 1,
        bytesize: int = 8,
        faults: FaultPlan | None = None,
    ) -> None:
        self.devices = list(devices)
        self.host = host
        self.port = port
        self.serial_port = serial_port
        self.serial_settings: dict[str, Any] = {
            "baudrate": baudrate, "parity": parity, "stopbits": stopbits, "bytesize": bytesize,
        }
        self.faults = faults if faults is not None else FaultPlan()
        #: For RTU on a null modem: the serial device a client opens (set by whoever made it).
        self.client_port: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: _TcpServer | _SerialServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> ThreadedModbusServer:
        """Start serving; returns when the server listens. Raises :class:`ServerStartError`."""
        where = self.serial_port or f"{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._run, name=f"modbus-server {where}",
                                        daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout_s):
            raise ServerStartError(f"Modbus server on {where} did not start in {timeout_s} s")
        if self._error is not None:
            self._thread.join(timeout_s)
            raise ServerStartError(f"Modbus server on {where} failed: {self._error}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        try:
            loop.run_until_complete(self._listen())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _listen(self) -> None:
        server: _TcpServer | _SerialServer
        if self.serial_port:
            server = _SerialServer(self.devices, port=self.serial_port, timeout=1,
                                   reconnect_delay=0.5, **self.serial_settings)
        else:
            server = _TcpServer(self.devices, address=(self.host, self.port))
        server.fault_plan = self.faults
        server.device_ids = frozenset(d.id for d in self.devices)
        await server.serve_forever(background=True)
        if not self.serial_port:
            # a listening TCP server's transport is the asyncio.Server from create_server()
            listener = cast(asyncio.Server, server.transport)
            self.port = listener.sockets[0].getsockname()[1]
        self._server = server

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop serving and join the thread (idempotent)."""
        if self._thread is None or self.loop is None or self.loop.is_closed():
            return
        if self._server is not None:
            try:
                asyncio.run_coroutine_threadsafe(self._server.shutdown(), self.loop).result(timeout_s)
            except (RuntimeError, TimeoutError):  # loop already stopping
                pass
            for conn in list(getattr(self._server, "active_connections", {}).values()):
                self.loop.call_soon_threadsafe(conn.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout_s)
        self._thread = None

    def __enter__(self) -> ThreadedModbusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- register access -------------------------------------------------------------------

    def set_registers(self, device_id: int, address: int, words: Sequence[int]) -> None:
        """Write register words into a device's memory (a live update)."""
        self._call(self._running().async_setValues(device_id, 16, address, list(words)))

    def get_registers(self, device_id: int, address: int, count: int) -> list[int]:
        """Read register words from a device's memory (bypassing faults)."""
        return list(self._call(self._running().async_getValues(device_id, 3, address, count)))

    async def async_set_registers(self, device_id: int, address: int, words: Sequence[int]) -> None:
        """:meth:`set_registers` for callers on the server's own loop."""
        await self._running().async_setValues(device_id, 16, address, list(words))

    def _running(self) -> _TcpServer | _SerialServer:
        """Return the pymodbus server; :class:`ServerStartError` when it is not running."""
        if self._server is None:
            raise ServerStartError("the Modbus server is not running")
        return self._server

    def _call(self, coro):
        if self._server is None or self.loop is None:
            coro.close()
            raise ServerStartError("the Modbus server is not running")
        if _running_loop() is self.loop:
            coro.close()
            raise RuntimeError("called from the server's own loop: use the async_* method")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    @property
    def address(self) -> str:
        """``host:port`` or the serial device."""
        return self.serial_port or f"{self.host}:{self.port}"


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
