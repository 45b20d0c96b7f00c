"""Real pymodbus servers on loopback for tests: Modbus TCP, and Modbus RTU over a pseudo-terminal pair.

The servers are :class:`collectors.simulator.modbus_server.ThreadedModbusServer` instances: a real
pymodbus 3.16 ``ModbusTcpServer`` / ``ModbusSerialServer`` with ``SimDevice``/``SimData`` devices,
running on its own asyncio loop in a background thread, so sync and async tests use them alike.
Every server a test starts is stopped when the test ends.

Fixtures
--------
``modbus_tcp_server`` — a factory::

    def test_reads(modbus_tcp_server):
        server = modbus_tcp_server({1: {0x2006: [0x4366, 0x3333]},      # device id → address → words
                                    2: {0x0000: [1, 2, 3]}})
        client = ModbusTcpClient("127.0.0.1", port=server.port)        # 127.0.0.1 only
        ...
        server.set_registers(1, 0x2006, [0x4367, 0x0000])              # live update
        server.faults.set(1, "timeout")                                # no answer from device 1
        server.faults.set(2, "exception", addresses=0x0001, code=2)    # illegal data address
        server.faults.set(1, "drop", times=1)                          # close the connection once
        server.faults.set(1, "delay", delay_s=2.0)                     # a slow device
        server.faults.clear()                                          # all faults off
        server.faults.requests[1]                                      # requests device 1 received

Each ``address: words`` entry is one block of registers, answered to FC03 and FC04 alike; the
addresses between blocks are not mapped, so a read spanning them gets exception 2 (illegal data
address), as from a meter that rejects reads of unmapped registers. Pass ``SimDevice`` objects
instead of the dict for anything else (coils, several data types).

``modbus_rtu_server`` — the same over Modbus RTU. Two ``os.openpty()`` pairs joined by a copying
thread make a null-modem cable; the server listens on one end, the client opens
``server.client_port``::

    def test_rtu(modbus_rtu_server):
        server = modbus_rtu_server({1: {0x2000: [0x4366, 0x3333]}}, baudrate=9600)
        client = AsyncModbusSerialClient(server.client_port, baudrate=9600, timeout=0.5)
        server.faults.set(1, "garble", times=1)                        # one answer with a bad CRC

Requests for a device id that is not served get no answer (a timeout), as on an RS-485 bus.

``silent_tcp_gateway`` — a gateway that accepts TCP connections and never answers (a hung
serial server)::

    def test_dead(silent_tcp_gateway):
        gateway = silent_tcp_gateway()          # .port, .requests (Modbus TCP frames received)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from pymodbus.simulator import DataType, SimData, SimDevice

from collectors.simulator.modbus_server import ThreadedModbusServer
from collectors.simulator.nullmodem import NullModem

__all__ = [
    "DeviceSpec",
    "SilentGateway",
    "modbus_rtu_server",
    "modbus_tcp_server",
    "register_devices",
    "silent_tcp_gateway",
]

#: device id → {first address: register words}, or ready-made SimDevice objects.
DeviceSpec = Mapping[int, Mapping[int, Sequence[int]]] | Sequence[SimDevice]


def register_devices(spec: DeviceSpec) -> list[SimDevice]:
    """``SimDevice`` objects for a ``{device_id: {address: words}}`` mapping (or the objects)."""
    if not isinstance(spec, Mapping):
        return list(spec)
    devices = []
    for device_id, blocks in spec.items():
        simdata = [
            SimData(address=address, values=[int(w) for w in words], datatype=DataType.REGISTERS)
            for address, words in sorted(blocks.items())
        ]
        devices.append(SimDevice(id=device_id, simdata=simdata))
    return devices


@pytest.fixture
def modbus_tcp_server() -> Iterator[Callable[..., ThreadedModbusServer]]:
    """Factory: ``modbus_tcp_server(devices) -> ThreadedModbusServer`` on 127.0.0.1, free port."""
    started: list[ThreadedModbusServer] = []

    def start(devices: DeviceSpec, **kwargs) -> ThreadedModbusServer:
        server = ThreadedModbusServer(register_devices(devices), host="127.0.0.1", **kwargs)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def modbus_rtu_server() -> Iterator[Callable[..., ThreadedModbusServer]]:
    """Factory: ``modbus_rtu_server(devices, baudrate=…)`` serving RTU on a null-modem pty pair.

    The returned server has ``client_port``, the serial device path the client opens.
    """
    started: list[tuple[ThreadedModbusServer, NullModem]] = []

    def start(devices: DeviceSpec, **serial) -> ThreadedModbusServer:
        modem = NullModem()
        server = ThreadedModbusServer(register_devices(devices), serial_port=modem.server_port,
                                      **serial)
        server.client_port = modem.client_port
        started.append((server, modem))
        try:
            return server.start()
        except Exception:
            modem.close()
            raise

    yield start
    for server, modem in started:
        server.stop()
        modem.close()


class SilentGateway:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte.

    It counts the Modbus TCP request frames it receives (``requests``), read by their MBAP length.
    """

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)  # so that stop() ends the accept loop promptly
        self.port: int = self._server.getsockname()[1]
        self.requests = 0
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._swallow, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _swallow(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            conn.settimeout(0.2)
            while not self._closed.is_set():
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                buffer += data
                while len(buffer) >= 6 and len(buffer) >= 6 + int.from_bytes(buffer[4:6], "big"):
                    buffer = buffer[6 + int.from_bytes(buffer[4:6], "big"):]
                    with self._lock:
                        self.requests += 1

    def stop(self) -> None:
        """Close the listening socket and every connection."""
        self._closed.set()
        self._server.close()
        for thread in self._threads:
            thread.join(timeout=2)


@pytest.fixture
def silent_tcp_gateway() -> Iterator[Callable[[], SilentGateway]]:
    """Factory: ``silent_tcp_gateway()`` -> a :class:`SilentGateway` on a free loopback port."""
    started: list[SilentGateway] = []

    def start() -> SilentGateway:
        gateway = SilentGateway()
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        gateway.stop()
